//! Domain commands, the shell, help and error reporting of the real
//! `hangarctl` binary, in virsh 9.0's words and layouts.

mod cli_common;

use cli_common::{assert_lines, Sandbox};

/// The seed's `kvm1.xml` (`../shared/seeds/001_*.txt`), without the runtime-only
/// parts (`id`, `<alias>`, addresses, a VNC listen address of the author's host).
const KVM1: &str = "<domain type='kvm'>
  <name>kvm1</name>
  <memory unit='KiB'>1048576</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <boot dev='hd'/>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>restart</on_crash>
  <devices>
    <disk type='file' device='disk'>
      <driver name='qemu' type='raw'/>
      <source file='/tmp/debian.img'/>
      <target dev='hda' bus='ide'/>
    </disk>
    <interface type='network'>
      <source network='default'/>
      <model type='rtl8139'/>
    </interface>
  </devices>
</domain>
";

fn dominfo(uuid: &str, cpus: u32, max_kib: u64, used_kib: u64, autostart: &str) -> String {
    format!(
        "Id:             -
Name:           kvm1
UUID:           {uuid}
OS Type:        hvm
State:          shut off
CPU(s):         {cpus}
Max memory:     {max_kib} KiB
Used memory:    {used_kib} KiB
Persistent:     yes
Autostart:      {autostart}
Managed save:   no
"
    )
}

/// The seed's domain commands (001: list, define, start, autostart, reboot,
/// destroy, console) in one shell session on `test:///default`.
#[test]
fn domain_life_on_the_test_driver() {
    let sb = Sandbox::new("dom-test");
    sb.write("kvm1.xml", KVM1);
    let input = "list
define kvm1.xml
list --all
dominfo kvm1
autostart kvm1
autostart kvm1 --disable
setmem kvm1 512M --config
setmaxmem kvm1 2G --config
setvcpus kvm1 2 --config --maximum
setvcpus kvm1 2 --config
dominfo kvm1
start kvm1
list
start kvm1
suspend kvm1
domstate kvm1 --reason
resume kvm1
reboot kvm1
reset kvm1
shutdown kvm1
domstate kvm1
console kvm1
undefine kvm1
dominfo kvm1
";
    let run = sb.shell(&["-c", "test:///default"], input, &[]);
    let uuid = run.field("UUID:");
    let expected = format!(
        " Id   Name   State
----------------------
 1    test   running

Domain 'kvm1' defined from kvm1.xml

 Id   Name   State
-----------------------
 1    test   running
 -    kvm1   shut off

{}
Domain 'kvm1' marked as autostarted

Domain 'kvm1' unmarked as autostarted





{}
Domain 'kvm1' started

 Id   Name   State
----------------------
 1    test   running
 2    kvm1   running


Domain 'kvm1' suspended

paused (user)

Domain 'kvm1' resumed

Domain 'kvm1' is being rebooted

Domain 'kvm1' was reset

Domain 'kvm1' is being shutdown

shut off


Domain 'kvm1' has been undefined


",
        dominfo(&uuid, 1, 1_048_576, 1_048_576, "disable"),
        dominfo(&uuid, 2, 2_097_152, 524_288, "disable"),
    );
    assert_lines(&run.stdout, &expected);
    run.fails(
        "error: Domain is already active
error: The domain is not running
error: failed to get domain 'kvm1'
error: Domain not found: no domain with matching name 'kvm1'
",
    );
}

/// The seed's `save` / `restore` (001), and `managedsave`, on `test:///default`.
#[test]
fn save_restore_and_managedsave_on_the_test_driver() {
    let sb = Sandbox::new("dom-save");
    let input = "save test test.state
list --all
restore test.state
managedsave test
dominfo test
start test
list
";
    let run = sb.shell(&["-c", "test:///default"], input, &[]);
    run.ok("
Domain 'test' saved to test.state

 Id   Name   State
-----------------------
 -    test   shut off

Domain restored from test.state


Domain 'test' state saved by libvirt

Id:             -
Name:           test
UUID:           6695eb01-f6a4-8304-79aa-97f2502e193f
OS Type:        hvm
State:          shut off
CPU(s):         2
Max memory:     8388608 KiB
Used memory:    2097152 KiB
Persistent:     yes
Autostart:      disable
Managed save:   yes

Domain 'test' started

 Id   Name   State
----------------------
 3    test   running

");
}

/// Definitions on `hangar:///session` persist between `hangarctl` runs.
#[test]
fn domain_definition_on_the_session_driver() {
    let sb = Sandbox::new("dom-session");
    sb.write("kvm1.xml", KVM1);
    sb.run(&["list", "--all"])
        .ok(" Id   Name   State\n--------------------\n\n");
    sb.run(&["define", "kvm1.xml"])
        .ok("Domain 'kvm1' defined from kvm1.xml\n\n");
    sb.run(&["list", "--all"])
        .ok(" Id   Name   State\n-----------------------\n -    kvm1   shut off\n\n");
    sb.run(&["list"])
        .ok(" Id   Name   State\n--------------------\n\n");
    let info = sb.run(&["dominfo", "kvm1"]);
    let uuid = info.field("UUID:");
    info.ok(&format!(
        "{}\n",
        dominfo(&uuid, 1, 1_048_576, 1_048_576, "disable")
    ));
    sb.run(&["domstate", "kvm1"]).ok("shut off\n\n");

    sb.run(&["autostart", "kvm1"])
        .ok("Domain 'kvm1' marked as autostarted\n\n");
    sb.run(&["setmaxmem", "kvm1", "--size", "2G", "--config"])
        .ok("\n");
    sb.run(&["setmem", "kvm1", "--size", "524288", "--config"])
        .ok("\n");
    sb.run(&["setvcpus", "kvm1", "2", "--maximum", "--config"])
        .ok("\n");
    sb.run(&["setvcpus", "kvm1", "2", "--config"]).ok("\n");
    sb.run(&["dominfo", &uuid]).ok(&format!(
        "{}\n",
        dominfo(&uuid, 2, 2_097_152, 524_288, "enable")
    ));

    // `edit` with an $EDITOR that changes the vCPU count.
    let editor = sb.script("vcpus.sh", "sed -i \"s/>2<\\/vcpu>/>4<\\/vcpu>/\" \"$1\"");
    sb.run_env(&["edit", "kvm1"], &[("EDITOR", &editor)])
        .ok("Domain 'kvm1' XML configuration edited.\n\n");
    let dump = sb.run(&["dumpxml", "kvm1"]);
    assert!(dump.stdout.contains(">4</vcpu>"), "{}", dump.stdout);
    assert!(
        dump.stdout.contains(&format!("<uuid>{uuid}</uuid>")),
        "{}",
        dump.stdout
    );
    let unchanged = sb.script("keep.sh", "true");
    sb.run_env(&["edit", "kvm1"], &[("EDITOR", &unchanged)])
        .ok("Domain 'kvm1' XML configuration not changed.\n\n");

    // Running belongs to the VMM: whatever the driver answers, a failed start is worded as virsh.
    let start = sb.run(&["start", "kvm1"]);
    if start.code != 0 {
        assert!(
            start
                .stderr
                .starts_with("error: Failed to start domain 'kvm1'\nerror: "),
            "{}",
            start.stderr
        );
    } else {
        sb.run(&["destroy", "kvm1"])
            .ok("Domain 'kvm1' destroyed\n\n");
    }
    sb.run(&["undefine", "kvm1"])
        .ok("Domain 'kvm1' has been undefined\n\n");
    sb.run(&["dominfo", "kvm1"]).fails(
        "error: failed to get domain 'kvm1'
error: Domain not found: no domain with matching name 'kvm1'
",
    );
}

#[test]
fn command_line_errors_exit_1_with_virsh_wording() {
    let sb = Sandbox::new("errors");
    sb.run(&["frobnicate"])
        .fails("error: unknown command: 'frobnicate'\n");
    sb.run(&["net-info"])
        .fails("error: command 'net-info' requires <network> option\n");
    sb.run(&["net-list", "--bogus"])
        .fails("error: command 'net-list' doesn't support option --bogus\n");
    sb.run(&["net-info", "a", "b"])
        .fails("error: unexpected data 'b'\n");
    sb.run(&[
        "-c",
        "test:///default",
        "vol-create-as",
        "default-pool",
        "x",
        "ten",
    ])
    .fails("error: Malformed size ten\n");
    let vol = sb.run(&["-c", "test:///default", "vol-info", "nope"]);
    assert_eq!(vol.code, 1);
    assert!(
        vol.stderr.starts_with(
            "error: failed to get vol 'nope', specifying --pool might help\nerror: Storage volume not found: "
        ),
        "{}",
        vol.stderr
    );
    sb.run(&["-c", "test:///default", "net-define", "missing.xml"])
        .fails("error: Failed to open file 'missing.xml': No such file or directory\n");
    let bad = sb.run(&["-c", "bogus:///nowhere", "list"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr
            .starts_with("error: failed to connect to the hypervisor\nerror: "),
        "{}",
        bad.stderr
    );
    let bad = sb.run(&["--frob"]);
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.starts_with("error: unsupported option '--frob'"),
        "{}",
        bad.stderr
    );
}

#[test]
fn global_options_help_and_quiet_mode() {
    let sb = Sandbox::new("globals");
    sb.run(&["--version"])
        .ok(&format!("{}\n", env!("CARGO_PKG_VERSION")));
    let help = sb.run(&["help", "vol-create-as"]);
    assert_eq!(help.code, 0);
    assert!(help.stdout.starts_with(
        "  NAME\n    vol-create-as - create a volume from a set of args\n\n  SYNOPSIS\n    vol-create-as <pool> <name> <capacity> [--allocation <string>] [--format <string>]"
    ));
    let all = sb.run(&["help"]);
    assert!(
        all.stdout
            .contains("\n Networking (help keyword 'network'):\n"),
        "{}",
        all.stdout
    );
    assert!(sb.run(&["--help"]).stdout.contains("-c | --connect=URI"));

    // -q drops table headers and informational messages, and virsh's blank line.
    sb.run(&["-q", "-c", "test:///default", "net-list", "--all"])
        .ok(" default   active   no   yes\n");
    sb.run(&["-c", "test:///default", "-q", "net-autostart", "default"])
        .ok("");
    sb.run(&["-c", "test:///default", "uri"])
        .ok("test:///default\n\n");
    let test_uri = std::path::Path::new("test:///default");
    sb.run_env(&["uri"], &[("HANGAR_DEFAULT_URI", test_uri)])
        .ok("test:///default\n\n");
    let named = sb.run(&["--connect=test:///default", "list", "--name", "--all"]);
    named.ok("test\n\n");
}

#[test]
fn shell_reads_piped_commands_until_quit() {
    let sb = Sandbox::new("shell");
    let run = sb.shell(
        &["-c", "test:///default"],
        "# a comment line\nnet-list --name; list --uuid\n  \nnet-info \"default\" # trailing\nquit\nnet-list\n",
        &[],
    );
    run.ok("default

6695eb01-f6a4-8304-79aa-97f2502e193f

Name:           default
UUID:           dd8fe884-6c02-601e-7551-cca97df1c5df
Active:         yes
Persistent:     yes
Autostart:      no
Bridge:         virbr0

");
    // The exit status is the last command's.
    let failed = sb.shell(
        &["-c", "test:///default"],
        "dominfo nope\nlist --name\n",
        &[],
    );
    assert_eq!(failed.code, 0, "{failed:?}");
    let failed = sb.shell(
        &["-c", "test:///default"],
        "list --name\ndominfo nope\n",
        &[],
    );
    assert_eq!(failed.code, 1, "{failed:?}");
}
