//! `hangar-vmm`: runs one virtual machine in its own process.

fn main() {
    eprintln!("error: hangar-vmm cannot run guests yet");
    std::process::exit(1);
}
