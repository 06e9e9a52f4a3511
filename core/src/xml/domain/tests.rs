//! Unit tests of the domain model: the seed's example, virt-install's
//! output, defaults, and validation errors.

use super::*;

/// The domain from the seed notes (`/work/shared/seeds`), as written there.
const SEED_KVM1: &str = r#"<domain type='kvm' id='1'>
<name>kvm1</name>
<memory unit='KiB'>1048576</memory>
<vcpu placement='static'>1</vcpu>
<os>
    <type arch='x86_64' machine='pc-i440fx-trusty'>hvm</type>
    <boot dev='hd'/>
</os>
<on_poweroff>destroy</on_poweroff>
<on_reboot>restart</on_reboot>
<on_crash>restart</on_crash>
<devices>
<emulator>/usr/bin/qemu-system-x86_64</emulator>
<disk type='file' device='disk'>
    <driver name='qemu' type='raw'/>
    <source file='/tmp/debian.img'/>
    <target dev='hda' bus='ide'/>
    <alias name='ide0-0-0'/>
    <address type='drive' controller='0' bus='0' target='0' unit='0'/>
</disk>
<interface type='network'>
    <source network='default'/>
    <target dev='vnet0'/>
    <model type='rtl8139'/>
    <alias name='net0'/>
    <address type='pci' domain='0x0000' bus='0x00' slot='0x03'
function='0x0'/>
    </interface>
    <graphics type='vnc' port='5900' autoport='yes'
listen='146.20.141.158'>
        <listen type='address' address='146.20.141.158'/>
    </graphics>
    </devices>
    <seclabel type='none'/>
</domain>"#;

/// What virt-install 4.1 writes for a q35 UEFI guest with direct kernel boot.
const VIRT_INSTALL: &str = r#"<domain type="kvm">
  <name>debian12</name>
  <uuid>0b7a3d27-7d8c-4a3e-9b8e-6d0f2c1f7a11</uuid>
  <metadata>
    <libosinfo:libosinfo xmlns:libosinfo="http://libosinfo.org/xmlns/libvirt/domain/1.0">
      <libosinfo:os id="http://debian.org/debian/12"/>
    </libosinfo:libosinfo>
  </metadata>
  <memory>2097152</memory>
  <currentMemory>2097152</currentMemory>
  <vcpu>2</vcpu>
  <os firmware="efi">
    <type arch="x86_64" machine="q35">hvm</type>
    <kernel>/var/lib/hangar/boot/vmlinuz</kernel>
    <initrd>/var/lib/hangar/boot/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
    <boot dev="hd"/>
  </os>
  <features>
    <acpi/>
    <apic/>
    <vmport state="off"/>
  </features>
  <cpu mode="host-passthrough"/>
  <clock offset="utc">
    <timer name="rtc" tickpolicy="catchup"/>
    <timer name="pit" tickpolicy="delay"/>
    <timer name="hpet" present="no"/>
  </clock>
  <pm>
    <suspend-to-mem enabled="no"/>
    <suspend-to-disk enabled="no"/>
  </pm>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type="file" device="disk">
      <driver name="qemu" type="qcow2" discard="unmap"/>
      <source file="/var/lib/libvirt/images/debian12.qcow2"/>
      <target dev="vda" bus="virtio"/>
    </disk>
    <disk type="file" device="cdrom">
      <driver name="qemu" type="raw"/>
      <source file="/srv/iso/debian-12.iso"/>
      <target dev="sda" bus="sata"/>
      <readonly/>
    </disk>
    <controller type="usb" model="qemu-xhci" ports="15"/>
    <controller type="pci" model="pcie-root"/>
    <interface type="network">
      <source network="default"/>
      <mac address="52:54:00:6b:3c:58"/>
      <model type="virtio"/>
    </interface>
    <console type="pty"/>
    <channel type="unix">
      <source mode="bind"/>
      <target type="virtio" name="org.qemu.guest_agent.0"/>
    </channel>
    <channel type="spicevmc">
      <target type="virtio" name="com.redhat.spice.0"/>
    </channel>
    <input type="tablet" bus="usb"/>
    <graphics type="spice" port="-1" tlsPort="-1" autoport="yes">
      <image compression="off"/>
    </graphics>
    <sound model="ich9"/>
    <video>
      <model type="virtio"/>
    </video>
    <redirdev bus="usb" type="spicevmc"/>
    <memballoon model="virtio"/>
    <rng model="virtio">
      <backend model="random">/dev/urandom</backend>
    </rng>
  </devices>
</domain>"#;

fn round_trip(xml: &str) -> Domain {
    let d = Domain::parse(xml).expect("parses");
    let text = d.to_xml();
    let again = Domain::parse(&text).expect("formatted XML parses");
    assert_eq!(d, again, "model changed through format:\n{text}");
    assert_eq!(text, again.to_xml(), "formatting is not a fixed point");
    d
}

#[test]
fn seed_domain_reads_and_round_trips() {
    let d = round_trip(SEED_KVM1);
    assert_eq!(d.name, "kvm1");
    assert_eq!(d.domain_type, "kvm");
    assert_eq!(d.id, Some(1));
    assert_eq!(d.memory_kib, 1_048_576);
    assert_eq!(d.vcpus, 1);
    assert_eq!(d.os.boot, vec![BootDevice::HardDisk]);
    assert_eq!(d.os.machine.as_deref(), Some("pc-i440fx-trusty"));
    assert_eq!(d.on_crash, LifecycleAction::Restart);
    let disk = &d.devices.disks[0];
    assert_eq!(disk.source_path(), Some("/tmp/debian.img"));
    assert_eq!(disk.target.dev, "hda");
    assert_eq!(
        disk.driver.as_ref().and_then(|d| d.format.as_deref()),
        Some("raw")
    );
    assert_eq!(disk.info.alias.as_deref(), Some("ide0-0-0"));
    let nic = &d.devices.interfaces[0];
    assert_eq!(nic.if_type, "network");
    assert_eq!(
        nic.source.as_ref().and_then(|s| s.network.as_deref()),
        Some("default")
    );
    assert_eq!(nic.model.as_deref(), Some("rtl8139"));
    assert_eq!(
        nic.info.address.as_ref().and_then(Address::pci),
        Some((0, 0, 3, 0))
    );
    let g = &d.devices.graphics[0];
    assert_eq!(
        (g.graphics_type.as_str(), g.port, g.autoport),
        ("vnc", Some(5900), Some(true))
    );
    assert_eq!(g.listens[0].address.as_deref(), Some("146.20.141.158"));
    // <seclabel> is not modelled but is kept, after <devices>.
    let text = d.to_xml();
    assert!(text.contains("<seclabel type='none'/>"), "{text}");
    assert!(text.find("</devices>") < text.find("<seclabel"));
}

#[test]
fn virt_install_domain_reads_and_round_trips() {
    let d = round_trip(VIRT_INSTALL);
    assert_eq!(d.vcpus, 2);
    assert_eq!(d.vcpu_placement, VcpuPlacement::Static);
    assert_eq!(d.current_memory_kib, Some(2_097_152));
    assert_eq!(d.os.kernel.as_deref(), Some("/var/lib/hangar/boot/vmlinuz"));
    assert_eq!(
        d.os.initrd.as_deref(),
        Some("/var/lib/hangar/boot/initrd.gz")
    );
    assert_eq!(d.os.cmdline.as_deref(), Some("console=ttyS0 quiet"));
    assert_eq!(d.os.firmware.as_deref(), Some("efi"));
    assert!(d.features.as_ref().is_some_and(|f| f.enabled("acpi")));
    assert!(!d.features.as_ref().is_some_and(|f| f.enabled("vmport")));
    assert_eq!(
        d.cpu.as_ref().and_then(|c| c.mode),
        Some(CpuMode::HostPassthrough)
    );
    assert_eq!(d.devices.disks.len(), 2);
    assert_eq!(d.devices.disks[1].device, DiskDevice::Cdrom);
    assert!(d.devices.disks[1].readonly);
    assert_eq!(
        d.devices.interfaces[0]
            .mac
            .map(|m| m.to_string())
            .as_deref(),
        Some("52:54:00:6b:3c:58")
    );
    assert_eq!(
        d.devices.rngs[0].backend_path.as_deref(),
        Some("/dev/urandom")
    );
    assert_eq!(
        d.devices
            .memballoon
            .as_ref()
            .and_then(|m| m.model.as_deref()),
        Some("virtio")
    );
    assert_eq!(d.devices.channels.len(), 2);
    assert_eq!(d.devices.consoles[0].char_type, "pty");
    // Defaults libvirt always writes are filled in, metadata kept verbatim.
    let text = d.to_xml();
    assert!(text.contains("<vcpu placement='static'>2</vcpu>"), "{text}");
    assert!(
        text.contains("<memory unit='KiB'>2097152</memory>"),
        "{text}"
    );
    assert!(
        text.contains("<libosinfo:os id='http://debian.org/debian/12'/>"),
        "{text}"
    );
    // Canonical order: <mac> before <source> regardless of input order.
    assert!(text.find("<mac address") < text.find("<source network"));
}

#[test]
fn defaults_and_units() {
    let d = round_trip(
        "<domain type='kvm'><name>a</name><memory unit='GiB'>1</memory><currentMemory unit='b'>1000</currentMemory><os><type>hvm</type></os></domain>",
    );
    assert_eq!(d.memory_kib, 1 << 20);
    assert_eq!(d.current_memory_kib, Some(1), "bytes round up to a KiB");
    assert_eq!(d.vcpus, 1);
    assert_eq!(d.on_poweroff, LifecycleAction::Destroy);
    assert_eq!(d.on_reboot, LifecycleAction::Restart);
    assert!(d.to_xml().contains("<on_reboot>restart</on_reboot>"));
}

fn err(xml: &str) -> String {
    match Domain::parse(xml) {
        Ok(_) => panic!("accepted invalid XML: {xml}"),
        Err(e) => e.to_string(),
    }
}

fn with(body: &str) -> String {
    format!("<domain type='kvm'><name>a</name><memory>1024</memory><os><type>hvm</type></os>{body}</domain>")
}

#[test]
fn rejects_invalid_definitions_with_clear_errors() {
    assert!(err(
        "<domain type='kvm'><name>a/b</name><memory>1</memory><os><type>hvm</type></os></domain>"
    )
    .contains("'/'"));
    assert!(err("<domain type='kvm'><name>a</name><uuid>123</uuid><memory>1</memory><os><type>hvm</type></os></domain>").contains("UUID"));
    assert!(err("<domain type='kvm'><name>a</name><memory unit='XB'>1</memory><os><type>hvm</type></os></domain>").contains("unit"));
    assert!(err("<domain type='kvm'><name>a</name><memory unit='EiB'>100</memory><os><type>hvm</type></os></domain>").contains("memory"));
    assert!(err("<domain type='kvm'><name>a</name><memory>1</memory><vcpu>0</vcpu><os><type>hvm</type></os></domain>").contains("vCPU"));
    assert!(err("<domain type='kvm'><name>a</name><name>b</name><memory>1</memory><os><type>hvm</type></os></domain>").contains("<name>"));
    assert!(
        err("<domain type='kvm'><name>a</name><os><type>hvm</type></os></domain>")
            .contains("memory")
    );
    assert!(err(&with("<devices><interface type='network'><mac address='01:00:5e:00:00:01'/></interface></devices>")).contains("multicast"));
    assert!(err(&with("<devices><interface type='network'><mac address='zz:00:5e:00:00:01'/></interface></devices>")).contains("MAC"));
    assert!(err(&with(
        "<devices><disk type='file'><source file='/a'/></disk></devices>"
    ))
    .contains("target"));
    assert!(err(&with("<devices><disk type='file'><target dev='vda'/></disk><disk type='file'><target dev='vda'/></disk></devices>")).contains("vda"));
    assert!(err(&with(
        "<devices><controller type='pci' index='-1'/></devices>"
    ))
    .contains("index"));
    assert!(err(&with("<devices><disk type='file'><target dev='vda'/><address type='pci' slot='0x20'/></disk></devices>")).contains("slot"));
    assert!(err(&with("<metadata/><metadata/>")).contains("metadata"));
    assert!(err(&with("<on_reboot>coredump-restart</on_reboot>")).contains("on_crash"));
    assert!(err("<network/>").contains("domain"));
    assert!(err("<domain").contains("line"));
}

#[test]
fn keeps_unknown_content_verbatim() {
    let d = round_trip(&with(
        "<memoryBacking><hugepages/></memoryBacking><devices><disk type='file' device='disk' snapshot='no'><target dev='vda'/><iotune><total_bytes_sec>1</total_bytes_sec></iotune></disk><crypto model='virtio'/><audio id='1' type='none'/></devices><qemu:commandline xmlns:qemu='http://libvirt.org/schemas/domain/qemu/1.0'><qemu:arg value='-x'/></qemu:commandline>",
    ));
    let text = d.to_xml();
    for needle in [
        "<hugepages/>",
        "snapshot='no'",
        "<total_bytes_sec>1</total_bytes_sec>",
        "<crypto model='virtio'/>",
        "<audio id='1' type='none'/>",
        "<qemu:arg value='-x'/>",
    ] {
        assert!(text.contains(needle), "{needle} lost:\n{text}");
    }
    // memoryBacking goes before <vcpu>, as libvirt writes it.
    assert!(text.find("<memoryBacking>") < text.find("<vcpu"));
}
