//! Attaching and detaching `<disk>` and `<interface>` devices in a domain
//! definition, with libvirt's checks and wording: a disk target or a MAC
//! address may be used once, a disk's image must exist, an interface gets a
//! MAC address in the 52:54:00 range when it has none.

use std::path::Path;

use super::edit::{child_mut, edit_child};
use crate::api::ApiError;
use crate::xml::domain::{Disk, DiskType, Interface};
use crate::xml::tree::Node;
use crate::xml::{Element, MacAddr};

/// Image formats `hangar-vmm` reads.
const SUPPORTED_FORMATS: &[&str] = &["raw", "qcow2"];

/// Why a device cannot be hot-plugged, shared by every driver.
pub const LIVE_UNSUPPORTED: &str = "live hot-plug of devices is not supported yet (the running \
domain keeps its devices); use --config to change the definition for its next boot";

/// A device given to `attach-device` / `detach-device`.
#[derive(Debug, Clone, PartialEq)]
pub enum Device {
    /// A `<disk>`.
    Disk(Box<Disk>),
    /// An `<interface>`.
    Interface(Box<Interface>),
}

impl Device {
    /// Reads a device element; only disks and interfaces can be changed.
    pub fn parse(xml: &str) -> Result<Device, ApiError> {
        let el = Element::parse(xml)?;
        match el.name.as_str() {
            "disk" => Ok(Device::Disk(Box::new(Disk::parse(&el)?))),
            "interface" => Ok(Device::Interface(Box::new(Interface::parse(&el)?))),
            other => Err(ApiError::unsupported(format!(
                "attaching or detaching a <{other}> device is not supported; \
                 only <disk> and <interface> are"
            ))),
        }
    }
}

/// The bus libvirt infers from a disk target's prefix when none is given.
fn bus_for_target(dev: &str) -> Option<&'static str> {
    [
        ("vd", "virtio"),
        ("sd", "scsi"),
        ("hd", "ide"),
        ("fd", "fdc"),
        ("xvd", "xen"),
    ]
    .iter()
    .find(|(prefix, _)| dev.starts_with(prefix))
    .map(|(_, bus)| *bus)
}

fn disks(def: &Element) -> Result<Vec<Disk>, ApiError> {
    def.child("devices")
        .map(|d| d.children_named("disk").map(Disk::parse).collect())
        .unwrap_or(Ok(Vec::new()))
        .map_err(ApiError::from)
}

fn interfaces(def: &Element) -> Result<Vec<Interface>, ApiError> {
    def.child("devices")
        .map(|d| {
            d.children_named("interface")
                .map(Interface::parse)
                .collect()
        })
        .unwrap_or(Ok(Vec::new()))
        .map_err(ApiError::from)
}

/// Inserts `el` after the last device of its kind (or at the end).
fn insert_device(def: &mut Element, el: Element) {
    edit_child(def, "devices", &[], |devices| {
        let at = devices
            .children
            .iter()
            .rposition(|n| matches!(n, Node::Element(e) if e.name == el.name))
            .map_or(devices.children.len(), |i| i + 1);
        devices.children.insert(at, Node::Element(el));
    });
}

/// Adds `device` to the definition `def`. `source_exists` says whether a
/// disk image path exists on the driver's host.
pub fn attach(
    def: &mut Element,
    device: Device,
    source_exists: &dyn Fn(&str) -> bool,
) -> Result<(), ApiError> {
    match device {
        Device::Disk(disk) => attach_disk(def, *disk, source_exists),
        Device::Interface(iface) => attach_interface(def, *iface),
    }
}

fn attach_disk(
    def: &mut Element,
    mut disk: Disk,
    source_exists: &dyn Fn(&str) -> bool,
) -> Result<(), ApiError> {
    let dst = disk.target.dev.clone();
    if disks(def)?.iter().any(|d| d.target.dev == dst) {
        return Err(ApiError::invalid_op(format!("target {dst} already exists")));
    }
    if let Some(format) = disk.driver.as_ref().and_then(|d| d.format.as_deref()) {
        if !SUPPORTED_FORMATS.contains(&format) {
            return Err(ApiError::unsupported(format!(
                "disk format '{format}' of target {dst}: hangar-vmm reads raw and qcow2 images"
            )));
        }
    }
    if matches!(disk.disk_type, DiskType::File | DiskType::Block) {
        if let Some(path) = disk.source_path() {
            if !Path::new(path).is_absolute() {
                return Err(ApiError::InvalidArg(format!(
                    "disk source path '{path}' must be absolute"
                )));
            }
            if !source_exists(path) {
                return Err(ApiError::Io {
                    op: "Cannot access storage file".into(),
                    path: path.to_string(),
                    message: "No such file or directory".into(),
                });
            }
        }
    }
    if disk.target.bus.is_none() {
        disk.target.bus = bus_for_target(&dst).map(str::to_string);
    }
    insert_device(def, disk.to_element());
    Ok(())
}

fn attach_interface(def: &mut Element, mut iface: Interface) -> Result<(), ApiError> {
    let used: Vec<MacAddr> = interfaces(def)?.iter().filter_map(|i| i.mac).collect();
    match iface.mac {
        Some(mac) if used.contains(&mac) => {
            return Err(ApiError::InvalidArg(format!(
                "network device with mac {mac} already exists"
            )))
        }
        Some(mac) if mac.is_multicast() => {
            return Err(ApiError::InvalidArg(format!(
                "expected unicast mac address, found multicast '{mac}'"
            )))
        }
        Some(_) => {}
        None => {
            let mut mac = MacAddr::random_kvm();
            while used.contains(&mac) {
                mac = MacAddr::random_kvm();
            }
            iface.mac = Some(mac);
        }
    }
    insert_device(def, iface.to_element());
    Ok(())
}

/// Removes the device `device` names from `def`: a disk by its target, an
/// interface by its MAC address (or, without one, the only interface of
/// its type).
pub fn detach(def: &mut Element, device: &Device) -> Result<(), ApiError> {
    let index = match device {
        Device::Disk(disk) => {
            let dst = &disk.target.dev;
            position(def, "disk", |el| Ok(Disk::parse(el)?.target.dev == *dst))?
                .ok_or_else(|| ApiError::DeviceMissing(format!("no target device {dst}")))?
        }
        Device::Interface(iface) => find_interface(def, iface)?,
    };
    if let Some(devices) = child_mut(def, "devices") {
        devices.children.remove(index);
    }
    Ok(())
}

/// Index in `<devices>` children of the one device called `name` that
/// `matches`; `Ok(None)` when none does.
fn position(
    def: &Element,
    name: &str,
    matches: impl Fn(&Element) -> Result<bool, ApiError>,
) -> Result<Option<usize>, ApiError> {
    Ok(all_positions(def, name, matches)?.into_iter().next())
}

fn all_positions(
    def: &Element,
    name: &str,
    matches: impl Fn(&Element) -> Result<bool, ApiError>,
) -> Result<Vec<usize>, ApiError> {
    let Some(devices) = def.child("devices") else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for (i, node) in devices.children.iter().enumerate() {
        if let Node::Element(el) = node {
            if el.name == name && matches(el)? {
                found.push(i);
            }
        }
    }
    Ok(found)
}

fn find_interface(def: &Element, wanted: &Interface) -> Result<usize, ApiError> {
    let found = all_positions(def, "interface", |el| {
        let iface = Interface::parse(el)?;
        Ok(match wanted.mac {
            Some(mac) => iface.mac == Some(mac),
            None => iface.if_type == wanted.if_type,
        })
    })?;
    match (found.as_slice(), wanted.mac) {
        ([one], _) => Ok(*one),
        ([], Some(mac)) => Err(ApiError::DeviceMissing(format!(
            "no device matching MAC address {mac} found"
        ))),
        ([], None) => Err(ApiError::DeviceMissing(format!(
            "no interface of type '{}' found",
            wanted.if_type
        ))),
        (many, _) => Err(ApiError::invalid_op(format!(
            "multiple devices matching MAC address found ({} interfaces); \
             give the MAC address of the one to detach",
            many.len()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::definition::domain;

    const DOMAIN: &str = "<domain type='kvm'><name>d</name><memory>1024</memory>\
        <os><type>hvm</type></os><devices>\
        <disk type='file' device='disk'><source file='/img/a.qcow2'/><target dev='vda' bus='virtio'/></disk>\
        <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>\
        </devices></domain>";

    fn def() -> Element {
        domain::prepare(DOMAIN).expect("valid").0
    }

    fn exists(path: &str) -> bool {
        path.starts_with("/img/")
    }

    #[test]
    fn disk_attach_checks_target_format_and_source() {
        let mut d = def();
        let disk = |xml: &str| Device::parse(xml).expect("parses");
        let err = attach(
            &mut d,
            disk("<disk type='file'><source file='/img/b.raw'/><target dev='vda'/></disk>"),
            &exists,
        )
        .expect_err("target used");
        assert_eq!(
            err.to_string(),
            "Requested operation is not valid: target vda already exists"
        );
        let err = attach(
            &mut d,
            disk("<disk type='file'><source file='/none/b.raw'/><target dev='vdb'/></disk>"),
            &exists,
        )
        .expect_err("no file");
        assert_eq!(
            err.to_string(),
            "Cannot access storage file '/none/b.raw': No such file or directory"
        );
        let err = attach(
            &mut d,
            disk("<disk type='file'><driver type='vmdk'/><source file='/img/b'/><target dev='vdb'/></disk>"),
            &exists,
        )
        .expect_err("vmdk");
        assert!(err.to_string().contains("raw and qcow2"), "{err}");
        attach(
            &mut d,
            disk("<disk type='file'><source file='/img/b.raw'/><target dev='vdb'/><serial>S1</serial></disk>"),
            &exists,
        )
        .expect("attached");
        let text = domain::canonical(&d).expect("valid");
        assert!(text.contains("<target dev='vdb' bus='virtio'/>"), "{text}");
        assert!(text.contains("<serial>S1</serial>"), "{text}");
        detach(&mut d, &disk("<disk><target dev='vdb'/></disk>")).expect("detached");
        assert!(!domain::canonical(&d).expect("valid").contains("vdb"));
        let err = detach(&mut d, &disk("<disk><target dev='vdb'/></disk>")).expect_err("gone");
        assert_eq!(err.to_string(), "device not found: no target device vdb");
    }

    #[test]
    fn interface_attach_fills_and_checks_macs() {
        let mut d = def();
        let iface = |xml: &str| Device::parse(xml).expect("parses");
        let err = attach(
            &mut d,
            iface("<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>"),
            &exists,
        )
        .expect_err("mac used");
        assert_eq!(
            err.to_string(),
            "invalid argument: network device with mac 52:54:00:00:00:01 already exists"
        );
        attach(
            &mut d,
            iface(
                "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>",
            ),
            &exists,
        )
        .expect("attached");
        let macs: Vec<MacAddr> = interfaces(&d)
            .expect("valid")
            .iter()
            .filter_map(|i| i.mac)
            .collect();
        assert_eq!(macs.len(), 2);
        assert!(macs[1].to_string().starts_with("52:54:00:"), "{}", macs[1]);
        let err = detach(
            &mut d,
            &iface("<interface type='bridge'><mac address='52:54:00:aa:bb:cc'/></interface>"),
        )
        .expect_err("unknown mac");
        assert_eq!(
            err.to_string(),
            "device not found: no device matching MAC address 52:54:00:aa:bb:cc found"
        );
        detach(&mut d, &iface("<interface type='bridge'/>")).expect("only bridge");
        assert_eq!(interfaces(&d).expect("valid").len(), 1);
    }

    #[test]
    fn other_devices_are_refused() {
        let err = Device::parse("<memballoon model='virtio'/>").expect_err("unsupported");
        assert!(err.to_string().contains("<memballoon>"), "{err}");
    }
}
