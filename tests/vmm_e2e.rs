//! End-to-end tests of `hangar-vmm`: real Debian guests under KVM, in one
//! boot of the nested sandbox (or directly with `HANGAR_DIRECT_KVM=1`).
//!
//! Each scenario is a shell script run next to `hangar-vmm`; it prints what
//! it observed (`FACT name=value` lines, the guest's serial log, exit codes)
//! and the assertions below check those facts.

#[path = "e2e/balloon.rs"]
mod balloon;
#[path = "e2e/boot_path.rs"]
mod boot_path;
#[path = "e2e/input.rs"]
mod input;
#[path = "sandbox/mod.rs"]
mod sandbox;
#[path = "e2e/snapshot.rs"]
mod snapshot;
#[path = "e2e/virtio_blk.rs"]
mod virtio_blk;
#[path = "e2e/virtio_net.rs"]
mod virtio_net;
#[path = "e2e/virtio_pci.rs"]
mod virtio_pci;
#[path = "e2e/vnc.rs"]
mod vnc;
#[path = "e2e/vnc_console.rs"]
mod vnc_console;
/// VNC client helpers shared by the display, console and input scenarios.
#[path = "vnc_tools.rs"]
mod vnc_tools;

use sandbox::{Options, Report, Sandbox, Scenario, ScenarioOutput};
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

/// The scenarios, all run in the same sandbox boot.
fn scenarios() -> Vec<Scenario> {
    let mut all = base_scenarios();
    all.extend(virtio_pci::scenarios());
    all.extend(virtio_blk::scenarios());
    all.extend(virtio_net::scenarios());
    all.extend(balloon::scenarios());
    all.extend(vnc::scenarios());
    all.extend(input::scenarios());
    all.extend(snapshot::scenarios());
    all.extend(boot_path::scenarios());
    all
}

/// The engine's own scenarios (boot, console, lifecycle, bad input).
fn base_scenarios() -> Vec<Scenario> {
    vec![
        // A 2-vCPU guest with a shell on its console: markers, vCPUs and
        // memory, console both ways with history replay, a socket already in
        // use, reboot through the control socket, ACPI shutdown.
        Scenario::new(
            "shell",
            r#"
start_vm vm1 256 2 shell restart
wait_for "$WORK/vm1.log" HANGAR-L2-READY 240 || { show vm1; exit 1; }
ctl vm1 status
(sleep 2; printf 'echo CALC=$((6*7))\n'; sleep 4) | "$HV" ctl --socket "$WORK/vm1.sock" console >"$WORK/console1.out"
echo "FACT console_answer=$(grep -c 'CALC=42' "$WORK/console1.out")"
# A second client attaching later gets the history first.
(sleep 3) | "$HV" ctl --socket "$WORK/vm1.sock" console >"$WORK/console2.out"
echo "FACT replay_has_init=$(grep -c 'HANGAR-L2-INIT' "$WORK/console2.out")"
# The socket is in use: a second VMM on it must refuse and leave it alone.
domain_xml other 64 1 shell >"$WORK/other.xml"
"$HV" run --domain "$WORK/other.xml" --socket "$WORK/vm1.sock" >"$WORK/other.out" 2>&1
echo "FACT in_use_rc=$?"
cat "$WORK/other.out"
ctl vm1 status | sed 's/^/AFTER-IN-USE /'
ctl vm1 reboot
wait_for "$WORK/vm1.log" HANGAR-L2-POWER-BUTTON 120
n=0
while [ "$(count_lines "$WORK/vm1.log" HANGAR-L2-READY)" -lt 2 ] && [ $n -lt 2400 ]; do sleep 0.1; n=$((n+1)); done
echo "FACT inits_after_reboot=$(count_lines "$WORK/vm1.log" HANGAR-L2-INIT)"
ctl vm1 status | sed 's/^/AFTER-REBOOT /'
ctl vm1 shutdown
wait_exit vm1 120
echo "FACT power_button_seen=$(count_lines "$WORK/vm1.log" HANGAR-L2-POWER-BUTTON)"
"$HV" ctl --socket "$WORK/vm1.sock" --state-file "$WORK/vm1.state" status | sed 's/^/FINAL /'
echo "FACT socket_left=$(test -e "$WORK/vm1.sock" && echo yes || echo no)"
show vm1
"#,
        ),
        // hangarctl on hangar:///session drives a real guest through the
        // hangar driver: define, start (twice), list, domstate, dominfo,
        // console (through a pty from util-linux's script), suspend, resume,
        // ACPI shutdown, destroy.
        Scenario::new(
            "hangarctl",
            r#"
hc_t0=$(date +%s)
export XDG_DATA_HOME="$WORK/data" XDG_RUNTIME_DIR="$WORK/run" HOME="$WORK"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
[ -e /dev/pts/ptmx ] || { mkdir -p /dev/pts; mount -t devpts devpts /dev/pts; }
hc() { "$HCTL" -c hangar:///session "$@" 2>&1; }
sock="$XDG_RUNTIME_DIR/hangar/domains/vmc.sock"
domain_xml vmc 128 1 shell >"$WORK/vmc.xml"
hc define "$WORK/vmc.xml" | sed 's/^/DEFINE /'
hc start vmc | sed 's/^/START /'
hc start vmc | sed 's/^/START2 /'
hc list | sed 's/^/LIST /'
hc domstate vmc --reason | sed 's/^/STATE-RUN /'
hc dominfo vmc | sed 's/^/INFO /'
n=0
until (sleep 1) | "$HV" ctl --socket "$sock" console 2>/dev/null | grep -q HANGAR-L2-READY; do
    n=$((n + 1))
    [ $n -gt 240 ] && { echo "TIMEOUT waiting for the guest"; break; }
done
(sleep 1; printf 'echo CALC=$((6*7))\n'; sleep 3; printf '\035') |
    script -q -c "$HCTL -c hangar:///session console vmc" /dev/null >"$WORK/console.out" 2>&1
echo "FACT hc_console_rc=$?"
echo "FACT hc_console_answer=$(grep -c 'CALC=42' "$WORK/console.out")"
echo "FACT hc_console_marker=$(grep -c 'HANGAR-L2-INIT' "$WORK/console.out")"
tr -d '\r' <"$WORK/console.out" | grep -e '^Connected to domain' -e '^Escape character' | sed 's/^/CONSOLE /'
hc suspend vmc | sed 's/^/SUSPEND /'
hc domstate vmc --reason | sed 's/^/STATE-PAUSED /'
hc list | sed 's/^/LIST-PAUSED /'
hc resume vmc | sed 's/^/RESUME /'
hc domstate vmc | sed 's/^/STATE-RESUMED /'
hc shutdown vmc | sed 's/^/SHUTDOWN /'
n=0
while [ "$(hc domstate vmc)" != "shut off" ] && [ $n -lt 600 ]; do sleep 0.1; n=$((n + 1)); done
hc domstate vmc --reason | sed 's/^/STATE-DOWN /'
hc list --all | sed 's/^/LIST-ALL /'
hc start vmc | sed 's/^/RESTART /'
hc destroy vmc | sed 's/^/DESTROY /'
hc domstate vmc --reason | sed 's/^/STATE-DESTROYED /'
hc shutdown vmc | sed 's/^/SHUTDOWN-OFF /'
echo "FACT hc_vmm_processes=$(ps | grep -c '[h]angar-vmm run')"
echo "FACT hc_seconds=$(( $(date +%s) - hc_t0 ))"
"#,
        ),
        // The guest powers itself off.
        Scenario::new(
            "poweroff",
            r#"
start_vm vm2 128 1 poweroff
wait_exit vm2 240
"$HV" ctl --socket "$WORK/vm2.sock" --state-file "$WORK/vm2.state" status | sed 's/^/FINAL /'
show vm2
"#,
        ),
        // The guest reboots (i8042 reset line) with on_reboot=destroy.
        Scenario::new(
            "guest-reboot",
            r#"
start_vm vm3 128 1 reboot destroy
wait_exit vm3 240
"$HV" ctl --socket "$WORK/vm3.sock" --state-file "$WORK/vm3.state" status | sed 's/^/FINAL /'
show vm3
"#,
        ),
        // reboot=t makes the kernel reboot by triple fault: a crash to us.
        Scenario::new(
            "triple-fault",
            r#"
EXTRA_CMDLINE=reboot=t start_vm vm4 128 1 reboot restart
wait_exit vm4 240
"$HV" ctl --socket "$WORK/vm4.sock" --state-file "$WORK/vm4.state" status | sed 's/^/FINAL /'
show vm4
"#,
        ),
        // Suspend stops the guest's counter, resume lets it go on, destroy
        // ends the VM at once.
        Scenario::new(
            "suspend",
            r#"
start_vm vm5 128 1 counter
wait_for "$WORK/vm5.log" 'HANGAR-L2-COUNT 5' 240 || { show vm5; exit 1; }
ctl vm5 suspend
ctl vm5 status | sed 's/^/PAUSED /'
sleep 1
a=$(count_lines "$WORK/vm5.log" HANGAR-L2-COUNT)
sleep 4
b=$(count_lines "$WORK/vm5.log" HANGAR-L2-COUNT)
echo "FACT paused_progress=$((b - a))"
ctl vm5 resume
sleep 4
c=$(count_lines "$WORK/vm5.log" HANGAR-L2-COUNT)
echo "FACT resumed_progress=$((c - b))"
t0=$(date +%s)
ctl vm5 destroy
wait_exit vm5 30
echo "FACT destroy_seconds=$(( $(date +%s) - t0 ))"
"$HV" ctl --socket "$WORK/vm5.sock" --state-file "$WORK/vm5.state" status | sed 's/^/FINAL /'
"#,
        ),
        // A VMM killed with SIGKILL is reported as crashed.
        Scenario::new(
            "sigkill",
            r#"
start_vm vm6 128 1 shell
wait_for "$WORK/vm6.log" HANGAR-L2-READY 240 || { show vm6; exit 1; }
pid=$(ctl vm6 status | sed -n 's/^pid=//p')
kill -9 "$pid"
wait_exit vm6 30
"$HV" ctl --socket "$WORK/vm6.sock" --state-file "$WORK/vm6.state" status | sed 's/^/FINAL /'
echo "FACT vmm_alive=$(kill -0 "$pid" 2>/dev/null && echo yes || echo no)"
# SIGTERM, on the other hand, ends the VM cleanly.
start_vm vm7 128 1 shell
wait_for "$WORK/vm7.state" running 60
sleep 2
pid=$(ctl vm7 status | sed -n 's/^pid=//p')
kill -TERM "$pid"
wait_exit vm7 30
"$HV" ctl --socket "$WORK/vm7.sock" --state-file "$WORK/vm7.state" status | sed 's/^/TERM /'
echo "FACT term_socket_left=$(test -e "$WORK/vm7.sock" && echo yes || echo no)"
"#,
        ),
        // Bad input: each a clear error with nothing left behind.
        Scenario::new(
            "bad-input",
            r#"
try() {
    name=$1
    shift
    "$HV" run --domain "$WORK/$name.xml" --socket "$WORK/$name.sock" --state-file "$WORK/$name.state" >"$WORK/$name.err" 2>&1
    echo "FACT ${name}_rc=$?"
    echo "FACT ${name}_left=$(ls "$WORK/$name.sock" "$WORK/$name.state" 2>/dev/null | wc -l)"
    sed "s/^/ERR-$name /" "$WORK/$name.err"
}
KERNEL=/nonexistent/vmlinuz domain_xml missing 128 1 shell >"$WORK/missing.xml"
try missing
KERNEL=$INITRD domain_xml notbz 128 1 shell >"$WORK/notbz.xml"
try notbz
domain_xml huge 1073741824 1 shell >"$WORK/huge.xml"
try huge
domain_xml novcpu 128 0 shell >"$WORK/novcpu.xml"
try novcpu
echo "FACT vmm_processes=$(ps | grep -c '[h]angar-vmm run')"
"#,
        ),
    ]
}

fn report() -> &'static Report {
    static REPORT: OnceLock<Report> = OnceLock::new();
    REPORT.get_or_init(|| {
        let sb = Sandbox::prepare(
            Path::new(env!("CARGO_BIN_EXE_hangar-vmm")),
            Options::default(),
        )
        .unwrap_or_else(|e| panic!("sandbox: {e}"));
        // HANGAR_E2E_ONLY=a,b runs only those scenarios (while developing one
        // device: tests of the others then fail for want of their output).
        let only = std::env::var("HANGAR_E2E_ONLY").unwrap_or_default();
        let wanted: Vec<&str> = only.split(',').filter(|s| !s.is_empty()).collect();
        let all: Vec<Scenario> = scenarios()
            .into_iter()
            .filter(|s| wanted.is_empty() || wanted.contains(&s.name.as_str()))
            .collect();
        let mut actions = vnc::host_actions();
        actions.extend(vnc_console::host_actions());
        actions.extend(input::host_actions());
        let report = sb
            .run_with_host(
                &all,
                Duration::from_secs(600),
                Duration::from_secs(3600),
                &actions,
            )
            .unwrap_or_else(|e| panic!("sandbox run: {e}"));
        println!("sandbox run took {:.0} s", report.elapsed.as_secs_f64());
        report
    })
}

fn scenario(name: &str) -> &'static ScenarioOutput {
    let s = report().scenario(name);
    println!("===== {name} =====\n{}", s.text);
    s
}

fn fact(s: &ScenarioOutput, name: &str) -> String {
    s.value(&format!("FACT {name}="))
        .unwrap_or_else(|| panic!("no fact {name} in:\n{}", s.text))
}

#[test]
fn guest_boots_with_two_vcpus_and_its_memory_and_shuts_down_by_acpi() {
    let s = scenario("shell");
    assert!(s.has("HANGAR-L2-INIT mode=shell"));
    assert_eq!(s.value("HANGAR-L2-NPROC").as_deref(), Some("2"));
    let mem: u64 = s
        .value("HANGAR-L2-MEMTOTAL-KIB")
        .and_then(|v| v.parse().ok())
        .expect("MemTotal");
    // 256 MiB minus what the kernel keeps for itself.
    assert!(mem > 180 * 1024 && mem <= 256 * 1024, "MemTotal {mem} KiB");
    assert!(s.has("state=running"));
    // Once for the reboot request, once for the shutdown.
    assert_eq!(fact(s, "power_button_seen"), "2");
    assert!(s.has("EXIT vm1 rc=0"));
    assert!(s.has("FINAL state=shut off"));
    assert!(s.has("FINAL reason=guest powered off"));
    assert_eq!(fact(s, "socket_left"), "no");
}

#[test]
fn serial_console_carries_input_and_output_and_replays_history() {
    let s = scenario("shell");
    assert_ne!(fact(s, "console_answer"), "0");
    assert_ne!(fact(s, "replay_has_init"), "0");
}

#[test]
fn socket_in_use_is_refused_and_the_running_vm_is_unharmed() {
    let s = scenario("shell");
    assert_eq!(fact(s, "in_use_rc"), "1");
    assert!(s.has("is in use by another running VMM"), "{}", s.text);
    assert!(s.has("AFTER-IN-USE state=running"));
}

#[test]
fn reboot_request_brings_the_guest_back_to_init() {
    let s = scenario("shell");
    assert_eq!(fact(s, "inits_after_reboot"), "2");
    assert!(s.has("AFTER-REBOOT boots=2"));
    assert!(s.has("AFTER-REBOOT state=running"));
}

/// Lines of `s` that start with `tag ` (the tag removed), `\r` dropped.
fn tagged(s: &ScenarioOutput, tag: &str) -> String {
    let prefix = format!("{tag} ");
    s.text
        .lines()
        .filter_map(|l| l.strip_prefix(&prefix).or((l == tag).then_some("")))
        .map(|l| l.trim_end_matches('\r'))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn hangarctl_drives_a_real_guest_as_virsh() {
    let s = scenario("hangarctl");
    assert!(tagged(s, "DEFINE").starts_with("Domain 'vmc' defined from "));
    assert_eq!(tagged(s, "START"), "Domain 'vmc' started\n");
    assert_eq!(tagged(s, "START2"), "error: Domain is already active\n");
    assert_eq!(
        tagged(s, "LIST"),
        " Id   Name   State\n----------------------\n 1    vmc    running\n"
    );
    assert_eq!(tagged(s, "STATE-RUN"), "running (booted)\n");
    assert!(
        tagged(s, "INFO").contains("State:          running"),
        "{}",
        s.text
    );
    assert!(
        tagged(s, "INFO").contains("Id:             1"),
        "{}",
        s.text
    );
    assert_eq!(fact(s, "hc_console_rc"), "0");
    assert_ne!(
        fact(s, "hc_console_marker"),
        "0",
        "guest marker via console"
    );
    assert_ne!(
        fact(s, "hc_console_answer"),
        "0",
        "console input reaches the guest"
    );
    assert_eq!(
        tagged(s, "CONSOLE"),
        "Connected to domain 'vmc'\nEscape character is ^] (Ctrl + ])"
    );
    assert_eq!(tagged(s, "SUSPEND"), "Domain 'vmc' suspended\n");
    assert_eq!(tagged(s, "STATE-PAUSED"), "paused (user)\n");
    assert!(tagged(s, "LIST-PAUSED").contains(" 1    vmc    paused"));
    assert_eq!(tagged(s, "RESUME"), "Domain 'vmc' resumed\n");
    assert_eq!(tagged(s, "STATE-RESUMED"), "running\n");
    assert_eq!(tagged(s, "SHUTDOWN"), "Domain 'vmc' is being shutdown\n");
    assert_eq!(tagged(s, "STATE-DOWN"), "shut off (shutdown)\n");
    assert!(tagged(s, "LIST-ALL").contains(" -    vmc    shut off"));
    assert_eq!(tagged(s, "RESTART"), "Domain 'vmc' started\n");
    assert_eq!(tagged(s, "DESTROY"), "Domain 'vmc' destroyed\n");
    assert_eq!(tagged(s, "STATE-DESTROYED"), "shut off (destroyed)\n");
    assert_eq!(
        tagged(s, "SHUTDOWN-OFF"),
        "error: Failed to shutdown domain 'vmc'\nerror: Requested operation is not valid: domain is not running\n"
    );
    assert_eq!(fact(s, "hc_vmm_processes"), "0");
    println!("hangarctl scenario: {} s", fact(s, "hc_seconds"));
}

#[test]
fn guest_power_off_ends_the_vm_as_shutoff() {
    let s = scenario("poweroff");
    assert!(s.has("HANGAR-L2-POWEROFF"));
    assert!(s.has("EXIT vm2 rc=0"));
    assert!(s.has("FINAL state=shut off"));
    assert!(s.has("FINAL reason=guest powered off"));
}

#[test]
fn guest_reboot_follows_on_reboot_destroy() {
    let s = scenario("guest-reboot");
    assert!(s.has("HANGAR-L2-REBOOT"));
    assert!(s.has("EXIT vm3 rc=0"));
    assert!(s.has("FINAL state=shut off"));
    assert!(s.has("FINAL reason=guest rebooted; on_reboot is destroy"));
}

#[test]
fn triple_fault_ends_the_vm_as_crashed_with_the_reason() {
    let s = scenario("triple-fault");
    assert!(s.has("EXIT vm4 rc=2"), "{}", s.text);
    assert!(s.has("FINAL state=crashed"));
    assert!(s.has("triple fault"));
}

#[test]
fn suspend_stops_the_guest_resume_continues_destroy_is_immediate() {
    let s = scenario("suspend");
    assert!(s.has("PAUSED state=paused"));
    assert_eq!(fact(s, "paused_progress"), "0");
    let resumed: i64 = fact(s, "resumed_progress").parse().expect("number");
    assert!(resumed > 0, "no progress after resume");
    assert!(s.has("EXIT vm5 rc=0"));
    assert!(s.has("FINAL reason=destroyed"));
    let secs: u64 = fact(s, "destroy_seconds").parse().expect("number");
    assert!(secs <= 10, "destroy took {secs} s");
}

#[test]
fn killed_vmm_is_reported_as_crashed() {
    let s = scenario("sigkill");
    assert_eq!(fact(s, "vmm_alive"), "no");
    assert!(s.has("FINAL state=crashed"));
    assert!(s.has("is gone"));
}

#[test]
fn terminated_vmm_ends_the_vm_cleanly() {
    let s = scenario("sigkill");
    assert!(s.has("EXIT vm7 rc=0"), "{}", s.text);
    assert!(s.has("TERM state=shut off"));
    assert!(s.has("TERM reason=destroyed"));
    assert_eq!(fact(s, "term_socket_left"), "no");
}

#[test]
fn bad_input_is_a_clear_error_and_leaves_nothing_behind() {
    let s = scenario("bad-input");
    for (name, message) in [
        ("missing", "cannot read kernel /nonexistent/vmlinuz"),
        ("notbz", "is not a bzImage"),
        ("huge", "of memory but this host has only"),
        ("novcpu", "at least one vCPU"),
    ] {
        assert_eq!(fact(s, &format!("{name}_rc")), "1", "{name}");
        assert_eq!(fact(s, &format!("{name}_left")), "0", "{name} left files");
        assert!(
            s.text
                .lines()
                .any(|l| l.starts_with(&format!("ERR-{name} ")) && l.contains(message)),
            "{name}: no '{message}' in\n{}",
            s.text
        );
    }
    assert_eq!(fact(s, "vmm_processes"), "0");
}
