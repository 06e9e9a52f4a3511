//! `save`, `restore`, `managedsave`, `managedsave-remove` and `start` from a
//! managed save image on `hangar:///session`, as far as this host allows
//! without a bootable guest: every refusal is virsh's wording, damaged or
//! foreign files are named with what is wrong, and no failure touches the
//! stored definition. (A real guest is saved and restored in the sandbox:
//! `tests/e2e/snapshot.rs`.)

mod cli_common;

use cli_common::Sandbox;
use hangar_core::vmm::snapshot::{self, DeviceStates, MachineState, Raw, VmKvmState};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

const UUID: &str = "3b0d8fd8-5c9e-4c2e-9a43-6f1a1d1b2c3d";

fn domain(name: &str) -> String {
    format!(
        "<domain type='kvm'>
  <name>{name}</name>
  <uuid>{UUID}</uuid>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>/boot/none</kernel>
    <cmdline>console=ttyS0</cmdline>
  </os>
</domain>
"
    )
}

fn define(sb: &Sandbox, name: &str) -> String {
    let file = sb.write(&format!("{name}.xml"), &domain(name));
    let file = file.to_string_lossy().into_owned();
    sb.run(&["define", &file])
        .ok(&format!("Domain '{name}' defined from {file}\n\n"));
    sb.run(&["dumpxml", "--inactive", name]).stdout
}

/// A well-formed snapshot of domain `name` (a tiny VM: it is never run).
fn write_snapshot(path: &Path, name: &str) {
    let state = MachineState {
        vcpus: Vec::new(),
        vm: VmKvmState {
            pic_master: Raw::default(),
            pic_slave: Raw::default(),
            ioapic: Raw::default(),
            pit: Raw::default(),
            clock: Raw::default(),
        },
        devices: DeviceStates::default(),
    };
    let memory =
        hangar_core::vmm::vstate::memory::create_guest_memory(1 << 20).expect("guest memory");
    snapshot::write(path, &domain(name), &state, &memory).expect("snapshot");
}

fn managed_save_image(sb: &Sandbox, name: &str) -> PathBuf {
    sb.data().join("hangar/save").join(format!("{name}.save"))
}

/// Kills the stand-in VMM when the test ends.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn saving_a_domain_that_is_not_running_is_refused() {
    let sb = Sandbox::new("snap-off");
    define(&sb, "vm");
    sb.run(&["save", "vm", "vm.save"]).fails(
        "error: Failed to save domain 'vm' to vm.save
error: Requested operation is not valid: domain is not running
",
    );
    sb.run(&["managedsave", "vm"]).fails(
        "error: Failed to save domain 'vm' state
error: Requested operation is not valid: domain is not running
",
    );
    sb.run(&["managedsave-remove", "vm"])
        .ok("Domain 'vm' has no manage save image; removal skipped\n\n");
    sb.run(&["dominfo", "vm"])
        .field("Managed save:")
        .contains("no");
    assert!(!sb.work().join("vm.save").exists());
}

#[test]
fn damaged_missing_and_foreign_files_are_refused_and_the_definition_is_unharmed() {
    let sb = Sandbox::new("snap-bad");
    let before = define(&sb, "vm");
    let good = sb.work().join("good.save");
    write_snapshot(&good, "vm");
    let bytes = std::fs::read(&good).expect("snapshot");
    std::fs::write(sb.work().join("cut.save"), &bytes[..bytes.len() / 2]).expect("cut");
    let mut flipped = bytes.clone();
    flipped[40] ^= 0x20;
    std::fs::write(sb.work().join("flip.save"), &flipped).expect("flip");
    sb.write("foreign.save", "QFI\u{fb} a disk image");
    let work = sb.work();
    let shown = |f: &str| work.join(f).display().to_string();

    let cut = sb.run(&["restore", "cut.save"]);
    assert_eq!(cut.code, 1, "{cut:?}");
    assert!(
        cut.stderr
            .starts_with("error: Failed to restore domain from cut.save\n"),
        "{}",
        cut.stderr
    );
    assert!(
        cut.stderr
            .contains(&format!("snapshot {} is truncated", shown("cut.save"))),
        "{}",
        cut.stderr
    );
    let flip = sb.run(&["restore", "flip.save"]);
    assert!(
        flip.stderr.contains(&format!(
            "snapshot {} is damaged: checksum",
            shown("flip.save")
        )),
        "{}",
        flip.stderr
    );
    let foreign = sb.run(&["restore", "foreign.save"]);
    assert!(
        foreign.stderr.contains(&format!(
            "{} is not a Hangar snapshot",
            shown("foreign.save")
        )),
        "{}",
        foreign.stderr
    );
    let missing = sb.run(&["restore", "absent.save"]);
    assert!(
        missing.stderr.contains("absent.save") && missing.stderr.contains("No such file"),
        "{}",
        missing.stderr
    );
    assert_eq!(sb.run(&["dumpxml", "--inactive", "vm"]).stdout, before);
    sb.run(&["list", "--all"]).ok(" Id   Name   State
-----------------------
 -    vm     shut off

");
}

#[test]
fn restoring_a_domain_that_is_running_is_refused() {
    let sb = Sandbox::new("snap-running");
    let before = define(&sb, "vm");
    let dir = sb.data().parent().expect("root").join("run/hangar/domains");
    std::fs::create_dir_all(&dir).expect("runtime dir");
    // A live process naming the domain's socket stands in for its VMM.
    let sock = dir.join("vm.sock");
    let stand_in = Reap(
        Command::new("sh")
            .arg("-c")
            .arg("sleep 60")
            .arg(&sock)
            .spawn()
            .expect("sleep"),
    );
    std::fs::write(
        dir.join("vm.json"),
        format!(
            "{{\"name\":\"vm\",\"pid\":{},\"state\":\"running\",\"reason\":null,\
             \"boots\":1,\"vcpus\":1,\"memory_mib\":64}}",
            stand_in.0.id()
        ),
    )
    .expect("state file");
    write_snapshot(&sb.work().join("vm.save"), "vm");
    sb.run(&["restore", "vm.save"]).fails(
        "error: Failed to restore domain from vm.save
error: Requested operation is not valid: domain 'vm' is already active
",
    );
    assert_eq!(sb.run(&["dumpxml", "--inactive", "vm"]).stdout, before);
}

#[test]
fn a_managed_save_image_shows_in_dominfo_blocks_undefine_and_can_be_removed() {
    let sb = Sandbox::new("snap-managed");
    let before = define(&sb, "vm");
    let image = managed_save_image(&sb, "vm");
    std::fs::create_dir_all(image.parent().expect("dir")).expect("save dir");
    write_snapshot(&image, "vm");
    sb.run(&["dominfo", "vm"])
        .field("Managed save:")
        .contains("yes");
    sb.run(&["list", "--all"]).ok(" Id   Name   State
-----------------------
 -    vm     shut off

");
    sb.run(&["undefine", "vm"]).fails(
        "error: Failed to undefine domain 'vm'
error: Requested operation is not valid: Refusing to undefine while domain managed save image exists
",
    );
    // A damaged image: start says so and keeps it (as libvirt), the
    // definition stays as it was.
    let bytes = std::fs::read(&image).expect("image");
    std::fs::write(&image, &bytes[..bytes.len() - 10]).expect("cut image");
    let start = sb.run(&["start", "vm"]);
    assert_eq!(start.code, 1, "{start:?}");
    assert!(
        start
            .stderr
            .starts_with("error: Failed to start domain 'vm'\n")
            && start
                .stderr
                .contains(&format!("snapshot {} is truncated", image.display())),
        "{}",
        start.stderr
    );
    assert!(image.exists());
    sb.run(&["domstate", "vm"]).ok("shut off\n\n");
    assert_eq!(sb.run(&["dumpxml", "--inactive", "vm"]).stdout, before);
    sb.run(&["managedsave-remove", "vm"])
        .ok("Removed managedsave image for domain 'vm'\n\n");
    assert!(!image.exists());
    sb.run(&["dominfo", "vm"])
        .field("Managed save:")
        .contains("no");
    // With an image again, undefine --managed-save removes both.
    write_snapshot(&image, "vm");
    sb.run(&["undefine", "vm", "--managed-save"])
        .ok("Domain 'vm' has been undefined\n\n");
    assert!(!image.exists());
}
