//! `attach-disk`, `detach-disk`, `attach-interface`, `detach-interface` of
//! the real `hangarctl` binary, in virsh 9.0's words: the definition's XML
//! before and after each change (`dumpxml`), the errors, and a running
//! domain whose live devices cannot be hot-plugged yet.

mod cli_common;

use cli_common::{assert_lines, Sandbox};

const DOM: &str = "<domain type='kvm'>
  <name>kvm1</name>
  <uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>
  <memory unit='KiB'>262144</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>
";

/// `dumpxml` of [`DOM`] with `devices` inside `<devices>`.
fn dumped(devices: &str) -> String {
    format!(
        "<domain type='kvm'>
  <name>kvm1</name>
  <uuid>1b4e28ba-2fa1-11d2-883f-0016d3cca427</uuid>
  <memory unit='KiB'>262144</memory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='x86_64'>hvm</type>
  </os>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
{devices}    <interface type='network'>
      <mac address='52:54:00:00:00:01'/>
      <source network='default'/>
      <model type='virtio'/>
    </interface>
{{nics}}  </devices>
</domain>

"
    )
}

fn expected(disks: &str, nics: &str) -> String {
    dumped(disks).replace("{nics}", nics)
}

/// The whole round on `hangar:///session`: the definition on disk changes.
#[test]
fn attach_and_detach_disks_and_interfaces() {
    let sb = Sandbox::new("dom-devices");
    sb.write("kvm1.xml", DOM);
    let image = sb.write("data.qcow2", "");
    let image = image.display().to_string();
    sb.run(&["define", "kvm1.xml"])
        .ok("Domain 'kvm1' defined from kvm1.xml\n\n");
    let before = sb.run(&["dumpxml", "kvm1"]);
    let first = before.stdout.clone();
    assert!(!first.contains("<disk"), "{first}");

    sb.run(&[
        "attach-disk",
        "kvm1",
        &image,
        "vdb",
        "--subdriver",
        "qcow2",
        "--serial",
        "DATA1",
        "--config",
    ])
    .ok("Disk attached successfully\n\n");
    sb.run(&[
        "attach-interface",
        "kvm1",
        "bridge",
        "br0",
        "--model",
        "virtio",
        "--mac",
        "52:54:00:12:34:56",
        "--config",
    ])
    .ok("Interface attached successfully\n\n");
    let disk = format!(
        "    <disk type='file' device='disk'>
      <driver type='qcow2'/>
      <source file='{image}'/>
      <target dev='vdb' bus='virtio'/>
      <serial>DATA1</serial>
    </disk>
"
    );
    let bridge = "    <interface type='bridge'>
      <mac address='52:54:00:12:34:56'/>
      <source bridge='br0'/>
      <model type='virtio'/>
    </interface>
";
    let after = sb.run(&["dumpxml", "kvm1"]);
    after.ok(&expected(&disk, bridge));
    assert_ne!(after.stdout, first);

    // A NIC without --mac gets one in 52:54:00.
    sb.run(&["attach-interface", "kvm1", "network", "default"])
        .ok("Interface attached successfully\n\n");
    let xml = sb.run(&["dumpxml", "kvm1"]).stdout;
    let generated = xml
        .split("<interface type='network'>")
        .nth(2)
        .and_then(|rest| rest.split("<mac address='").nth(1))
        .map(|rest| rest[..17].to_string())
        .expect("a third interface with a MAC");
    assert!(generated.starts_with("52:54:00:"), "{generated}");

    sb.run(&["attach-disk", "kvm1", &image, "vdb"]).fails(
        "error: Failed to attach disk
error: Requested operation is not valid: target vdb already exists
",
    );
    sb.run(&["attach-disk", "kvm1", "/nonexistent/disk.img", "vdc"])
        .fails(
            "error: Failed to attach disk
error: Cannot access storage file '/nonexistent/disk.img': No such file or directory
",
        );
    sb.run(&["attach-disk", "kvm1", &image, "vdc", "--mode", "rw"])
        .fails("error: No support for rw in command 'attach-disk'\n");
    sb.run(&[
        "attach-interface",
        "kvm1",
        "bridge",
        "br1",
        "--mac",
        "52:54:00:12:34:56",
    ])
    .fails(
        "error: Failed to attach interface
error: invalid argument: network device with mac 52:54:00:12:34:56 already exists
",
    );
    sb.run(&["detach-interface", "kvm1", "network"]).fails(
        "error: Domain has 2 interfaces. Please specify which one to detach using --mac
error: Failed to detach interface
",
    );
    sb.run(&[
        "detach-interface",
        "kvm1",
        "bridge",
        "--mac",
        "52:54:00:aa:bb:cc",
    ])
    .fails(
        "error: No interface with MAC address 52:54:00:aa:bb:cc was found
error: Failed to detach interface
",
    );
    sb.run(&["detach-interface", "kvm1", "direct"]).fails(
        "error: No interface found whose type is direct
error: Failed to detach interface
",
    );
    sb.run(&["detach-disk", "kvm1", "vdz"])
        .fails("error: No disk found whose source path or target is vdz\n");
    sb.run(&["attach-disk", "nosuch", &image, "vdc"]).fails(
        "error: failed to get domain 'nosuch'
error: Domain not found: no domain with matching name 'nosuch'
",
    );

    sb.run(&[
        "detach-interface",
        "kvm1",
        "network",
        "--mac",
        &generated,
        "--config",
    ])
    .ok("Interface detached successfully\n\n");
    sb.run(&["detach-interface", "kvm1", "bridge"])
        .ok("Interface detached successfully\n\n");
    sb.run(&["detach-disk", "kvm1", "vdb", "--config"])
        .ok("Disk detached successfully\n\n");
    let last = sb.run(&["dumpxml", "kvm1"]);
    last.ok(&expected("", ""));
    assert_lines(&last.stdout, &first);
}

/// A running domain (test driver): the default `--current` and `--live`
/// are refused with a pointer to `--config`, which changes the definition
/// for the next boot only.
#[test]
fn running_domains_take_config_changes_only() {
    let sb = Sandbox::new("dom-devices-live");
    sb.write("kvm1.xml", DOM);
    let image = sb.write("data.raw", "").display().to_string();
    let input = format!(
        "define kvm1.xml
start kvm1
attach-disk kvm1 {image} vdb
attach-disk kvm1 {image} vdb --live
attach-disk kvm1 {image} vdb --persistent
detach-interface kvm1 network
attach-disk kvm1 {image} vdb --config
dumpxml kvm1 --inactive
"
    );
    let run = sb.shell(&["-c", "test:///default"], &input, &[]);
    let refusal = "error: Operation not supported: live hot-plug of devices is not supported yet \
(the running domain keeps its devices); use --config to change the definition for its next boot";
    assert_lines(
        &run.stderr,
        &format!(
            "error: Failed to attach disk\n{refusal}\nerror: Failed to attach disk\n{refusal}\n\
error: Failed to attach disk\n{refusal}\nerror: Failed to detach interface\n{refusal}\n"
        ),
    );
    let disk = format!(
        "    <disk type='file' device='disk'>
      <source file='{image}'/>
      <target dev='vdb' bus='virtio'/>
    </disk>
"
    );
    let tail = format!("Disk attached successfully\n\n{}", expected(&disk, ""));
    assert!(run.stdout.ends_with(&tail), "{}", run.stdout);
}

/// `setmem` on a running test domain and `dommemstat` (the test driver has
/// no guest reporting statistics: `actual` only), and a shut-off domain.
#[test]
fn dommemstat_follows_setmem() {
    let sb = Sandbox::new("dom-memstat");
    sb.write("kvm1.xml", DOM);
    let run = sb.shell(
        &["-c", "test:///default"],
        "dommemstat test
setmem test 1G
dommemstat test
define kvm1.xml
dommemstat kvm1
",
        &[],
    );
    assert_lines(
        &run.stdout,
        "actual 2097152


actual 1048576

Domain 'kvm1' defined from kvm1.xml


",
    );
    assert_lines(
        &run.stderr,
        "error: Failed to get memory statistics for domain
error: Requested operation is not valid: domain is not running
",
    );
}

/// `<input>` devices come back from `dumpxml` as defined, in order (the
/// engine builds the tablet and keyboard as virtio-input devices).
#[test]
fn input_devices_survive_define_and_dumpxml() {
    let sb = Sandbox::new("dom-inputs");
    let inputs = "    <input type='tablet' bus='usb'/>
    <input type='keyboard' bus='virtio' model='virtio-non-transitional'/>
    <input type='mouse' bus='ps2'/>
";
    let xml = DOM.replace("  </devices>", &format!("{inputs}  </devices>"));
    sb.write("kvm1.xml", &xml);
    sb.run(&["define", "kvm1.xml"])
        .ok("Domain 'kvm1' defined from kvm1.xml\n\n");
    let dump = sb.run(&["dumpxml", "kvm1"]).stdout;
    assert!(dump.contains(inputs), "{dump}");
    sb.run(&["dumpxml", "kvm1", "--inactive"]).ok(&dump);
}
