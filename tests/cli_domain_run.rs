//! Running domains on `hangar:///session` without a bootable guest: the real
//! `hangarctl` and `hangar-vmm` binaries, a failed start, state files left
//! by VMMs that died or ended cleanly, and a second start refused. (Real
//! guests run in the sandbox: `tests/vmm_e2e.rs`.)

mod cli_common;

use cli_common::Sandbox;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};

fn domain(name: &str, kernel: &str) -> String {
    format!(
        "<domain type='kvm'>
  <name>{name}</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
    <kernel>{kernel}</kernel>
    <cmdline>console=ttyS0</cmdline>
  </os>
</domain>
"
    )
}

/// The runtime folder of running domains in this sandbox.
fn domains_dir(sb: &Sandbox) -> PathBuf {
    sb.data()
        .parent()
        .expect("sandbox root")
        .join("run/hangar/domains")
}

/// Processes whose command line names `needle`.
fn processes_naming(needle: &Path) -> usize {
    let want = needle.as_os_str().as_encoded_bytes();
    std::fs::read_dir("/proc")
        .expect("/proc")
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .filter(|c| c.split(|b| *b == 0).any(|a| a == want))
        .count()
}

fn write_state(sb: &Sandbox, name: &str, pid: u32, state: &str, reason: Option<&str>) {
    let dir = domains_dir(sb);
    std::fs::create_dir_all(&dir).expect("runtime dir");
    let reason = reason.map_or("null".to_string(), |r| format!("\"{r}\""));
    std::fs::write(
        dir.join(format!("{name}.json")),
        format!(
            "{{\"name\":\"{name}\",\"pid\":{pid},\"state\":\"{state}\",\"reason\":{reason},\
             \"boots\":1,\"vcpus\":1,\"memory_mib\":64}}"
        ),
    )
    .expect("state file");
}

fn define(sb: &Sandbox, name: &str, kernel: &str) {
    let file = sb.write(&format!("{name}.xml"), &domain(name, kernel));
    let file = file.to_string_lossy().into_owned();
    sb.run(&["define", &file])
        .ok(&format!("Domain '{name}' defined from {file}\n\n"));
}

#[test]
fn a_bad_kernel_is_a_clear_error_and_leaves_nothing_running() {
    let sb = Sandbox::new("run-badkernel");
    define(&sb, "vm", "/nonexistent/vmlinuz");
    let start = sb.run(&["start", "vm"]);
    start.fails(
        "error: Failed to start domain 'vm'
error: internal error: hangar-vmm exited while starting the domain: cannot read kernel /nonexistent/vmlinuz: No such file or directory (os error 2): No such file or directory (os error 2)
",
    );
    sb.run(&["domstate", "vm"]).ok("shut off\n\n");
    let dir = domains_dir(&sb);
    let left: Vec<String> = std::fs::read_dir(&dir)
        .expect("runtime dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with('.') && !n.ends_with(".log"))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    assert_eq!(processes_naming(&dir.join("vm.sock")), 0);
    // The VMM's output is kept for the user, as libvirt keeps qemu's log.
    let log = std::fs::read_to_string(dir.join("vm.log")).expect("log");
    assert!(log.contains("cannot read kernel"), "{log}");
}

#[test]
fn a_vmm_that_died_is_crashed_and_a_clean_exit_is_shut_off() {
    let sb = Sandbox::new("run-states");
    define(&sb, "dead", "/boot/none");
    define(&sb, "clean", "/boot/none");
    define(&sb, "gone", "/boot/none");
    // No process can have this pid: the VMM died while the VM ran.
    write_state(&sb, "dead", i32::MAX as u32, "running", None);
    write_state(
        &sb,
        "clean",
        i32::MAX as u32,
        "shutoff",
        Some("guest powered off"),
    );
    write_state(&sb, "gone", i32::MAX as u32, "shutoff", Some("destroyed"));
    sb.run(&["domstate", "dead", "--reason"])
        .ok("crashed (unknown)\n\n");
    sb.run(&["domstate", "clean", "--reason"])
        .ok("shut off (shutdown)\n\n");
    sb.run(&["domstate", "gone", "--reason"])
        .ok("shut off (destroyed)\n\n");
    sb.run(&["list", "--all"]).ok(" Id   Name    State
------------------------
 -    clean   shut off
 -    dead    crashed
 -    gone    shut off

");
    sb.run(&["list"]).ok(" Id   Name   State
--------------------

");
    sb.run(&["destroy", "dead"]).fails(
        "error: Failed to destroy domain 'dead'
error: Requested operation is not valid: domain is not running
",
    );
}

/// Kills the stand-in VMM when the test ends, whatever happens.
struct Reap(Child);

impl Drop for Reap {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_domain_has_an_id_and_a_second_start_is_refused() {
    let sb = Sandbox::new("run-twice");
    define(&sb, "vm", "/boot/none");
    let dir = domains_dir(&sb);
    std::fs::create_dir_all(&dir).expect("runtime dir");
    // A live process whose command line names the domain's socket stands in
    // for its VMM (no guest can boot on this host's KVM).
    let sock = dir.join("vm.sock");
    let stand_in = Reap(
        Command::new("sh")
            .arg("-c")
            .arg("sleep 60")
            .arg(&sock)
            .spawn()
            .expect("sleep"),
    );
    write_state(&sb, "vm", stand_in.0.id(), "running", None);
    std::fs::write(dir.join("vm.id"), "7\n").expect("id");
    sb.run(&["domstate", "vm", "--reason"])
        .ok("running (booted)\n\n");
    sb.run(&["list"]).ok(" Id   Name   State
----------------------
 7    vm     running

");
    sb.run(&["start", "vm"])
        .fails("error: Domain is already active\n");
    sb.run(&["dominfo", "7"])
        .field("State:")
        .contains("running");
    write_state(&sb, "vm", stand_in.0.id(), "paused", None);
    sb.run(&["domstate", "vm", "--reason"])
        .ok("paused (user)\n\n");
}

#[test]
fn an_autostart_domain_that_cannot_start_is_reported_on_first_connect() {
    let sb = Sandbox::new("run-autostart");
    define(&sb, "auto", "/nonexistent/vmlinuz");
    sb.run(&["autostart", "auto"])
        .ok("Domain 'auto' marked as autostarted\n\n");
    // A new runtime-dir lifetime (as after a reboot): autostart runs again.
    let marker = domains_dir(&sb).with_file_name(".autostarted");
    std::fs::remove_file(&marker).expect("autostart marker");
    let list = sb.run(&["list", "--all"]);
    assert_eq!(list.code, 0, "{}", list.stderr);
    assert!(
        list.stderr.contains("cannot autostart domain 'auto'")
            && list
                .stderr
                .contains("cannot read kernel /nonexistent/vmlinuz"),
        "{}",
        list.stderr
    );
    assert!(
        list.stdout.contains(" -    auto   shut off"),
        "{}",
        list.stdout
    );
    // Once per runtime-dir lifetime: the next connection does not retry.
    let again = sb.run(&["list", "--all"]);
    assert!(!again.stderr.contains("autostart"), "{}", again.stderr);
}
