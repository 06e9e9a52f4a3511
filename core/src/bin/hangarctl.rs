//! `hangarctl`: a virsh-compatible command line over Hangar's backend.

fn main() {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(hangar_core::cli::main(argv));
}
