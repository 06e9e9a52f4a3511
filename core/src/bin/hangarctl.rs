//! `hangarctl`: a virsh-compatible command line over Hangar's backend.

fn main() {
    eprintln!("error: hangarctl has no commands yet");
    std::process::exit(1);
}
