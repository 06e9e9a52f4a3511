//! `<devices>`: typed lists per device family, in libvirt's order, plus the
//! device kinds the model keeps verbatim.

mod chardev;
mod controller;
mod disk;
mod graphics;
mod hostdev;
mod interface;
mod misc;

pub use chardev::{CharDevice, CharSource, CharTarget};
pub use controller::{Controller, Filesystem, Input, Video, VideoModel};
pub use disk::{Disk, DiskDevice, DiskDriver, DiskSource, DiskTarget, DiskType};
pub use graphics::{Graphics, GraphicsListen};
pub use hostdev::Hostdev;
pub use interface::{Interface, InterfaceSource};
pub use misc::{
    Hub, Iommu, Memballoon, Panic, Redirdev, Rng, Shmem, Smartcard, Sound, Tpm, Vsock, Watchdog,
};

use std::collections::HashSet;

use super::common::{normalize, ElementReader};
use crate::xml::{Element, XmlError};

/// `<devices>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Devices {
    /// `<emulator>`: path of the device model binary.
    pub emulator: Option<String>,
    /// `<disk>` elements.
    pub disks: Vec<Disk>,
    /// `<controller>` elements.
    pub controllers: Vec<Controller>,
    /// `<filesystem>` elements (shared host folders).
    pub filesystems: Vec<Filesystem>,
    /// `<interface>` elements (NICs).
    pub interfaces: Vec<Interface>,
    /// `<smartcard>` elements.
    pub smartcards: Vec<Smartcard>,
    /// `<serial>` ports.
    pub serials: Vec<CharDevice>,
    /// `<parallel>` ports.
    pub parallels: Vec<CharDevice>,
    /// `<console>` devices.
    pub consoles: Vec<CharDevice>,
    /// `<channel>` devices (guest agent, spice vdagent).
    pub channels: Vec<CharDevice>,
    /// `<input>` devices.
    pub inputs: Vec<Input>,
    /// `<tpm>` devices.
    pub tpms: Vec<Tpm>,
    /// `<graphics>` (VNC, SPICE, ...).
    pub graphics: Vec<Graphics>,
    /// `<sound>` cards.
    pub sounds: Vec<Sound>,
    /// `<video>` adapters.
    pub videos: Vec<Video>,
    /// `<hostdev>` (host PCI/USB/SCSI/mdev pass-through).
    pub hostdevs: Vec<Hostdev>,
    /// `<redirdev>` (USB redirection).
    pub redirdevs: Vec<Redirdev>,
    /// `<hub>` devices.
    pub hubs: Vec<Hub>,
    /// `<watchdog>` devices.
    pub watchdogs: Vec<Watchdog>,
    /// `<memballoon>`.
    pub memballoon: Option<Memballoon>,
    /// `<rng>` devices.
    pub rngs: Vec<Rng>,
    /// `<panic>` devices.
    pub panics: Vec<Panic>,
    /// `<shmem>` devices.
    pub shmems: Vec<Shmem>,
    /// `<iommu>`.
    pub iommu: Option<Iommu>,
    /// `<vsock>`.
    pub vsock: Option<Vsock>,
    /// Devices kept verbatim (`<audio>`, `<memory>`, `<lease>`, `<nvram>`,
    /// `<redirfilter>`, `<crypto>`, unknown kinds); written back at
    /// libvirt's position for their name.
    pub other: Vec<Element>,
}

/// Verbatim device kinds and the typed group they follow (libvirt's order).
const OTHER_AFTER: &[(&str, &str)] = &[
    ("lease", "controller"),
    ("audio", "sound"),
    ("redirfilter", "redirdev"),
    ("nvram", "rng"),
    ("memory", "shmem"),
];

impl Devices {
    /// Reads `<devices>`.
    pub fn parse(el: &Element) -> Result<Devices, XmlError> {
        let mut r = ElementReader::new(el);
        let mut d = Devices {
            emulator: r.child_text("emulator")?,
            ..Devices::default()
        };
        r.each_unused(|e| {
            match e.name.as_str() {
                "disk" => d.disks.push(Disk::parse(e)?),
                "controller" => d.controllers.push(Controller::parse(e)?),
                "filesystem" => d.filesystems.push(Filesystem::parse(e)?),
                "interface" => d.interfaces.push(Interface::parse(e)?),
                "smartcard" => d.smartcards.push(Smartcard::parse(e)?),
                "serial" => d.serials.push(CharDevice::parse(e)?),
                "parallel" => d.parallels.push(CharDevice::parse(e)?),
                "console" => d.consoles.push(CharDevice::parse(e)?),
                "channel" => d.channels.push(CharDevice::parse(e)?),
                "input" => d.inputs.push(Input::parse(e)?),
                "tpm" => d.tpms.push(Tpm::parse(e)?),
                "graphics" => d.graphics.push(Graphics::parse(e)?),
                "sound" => d.sounds.push(Sound::parse(e)?),
                "video" => d.videos.push(Video::parse(e)?),
                "hostdev" => d.hostdevs.push(Hostdev::parse(e)?),
                "redirdev" => d.redirdevs.push(Redirdev::parse(e)?),
                "hub" => d.hubs.push(Hub::parse(e)?),
                "watchdog" => d.watchdogs.push(Watchdog::parse(e)?),
                "memballoon" => {
                    if d.memballoon.is_some() {
                        return Err(XmlError::Conflict(
                            "only one <memballoon> device is supported".to_string(),
                        ));
                    }
                    d.memballoon = Some(Memballoon::parse(e)?);
                }
                "rng" => d.rngs.push(Rng::parse(e)?),
                "panic" => d.panics.push(Panic::parse(e)?),
                "shmem" => d.shmems.push(Shmem::parse(e)?),
                "iommu" => {
                    if d.iommu.is_some() {
                        return Err(XmlError::Conflict(
                            "only one <iommu> device is supported".to_string(),
                        ));
                    }
                    d.iommu = Some(Iommu::parse(e)?);
                }
                "vsock" => {
                    if d.vsock.is_some() {
                        return Err(XmlError::Conflict(
                            "only one <vsock> device is supported".to_string(),
                        ));
                    }
                    d.vsock = Some(Vsock::parse(e)?);
                }
                _ => d.other.push(normalize(e.clone())),
            }
            Ok(true)
        })?;
        d.other.sort_by_key(|o| other_rank(&o.name));
        let rest = r.finish();
        if let Some(t) = rest.text {
            return Err(XmlError::invalid(
                "<devices> content",
                t,
                "text is not allowed directly inside <devices>",
            ));
        }
        d.check()?;
        Ok(d)
    }

    /// Checks rules that span devices: unique disk targets, controller
    /// indexes, host devices and serial/parallel ports.
    fn check(&self) -> Result<(), XmlError> {
        let mut targets = HashSet::new();
        for disk in &self.disks {
            if !targets.insert(disk.target.dev.as_str()) {
                return Err(XmlError::Conflict(format!(
                    "target '{}' duplicated for disk sources",
                    disk.target.dev
                )));
            }
        }
        let mut controllers = HashSet::new();
        for c in &self.controllers {
            // USB companion controllers (EHCI + UHCI) share an index.
            if let (Some(index), false) = (c.index, c.controller_type == "usb") {
                if !controllers.insert((c.controller_type.as_str(), index)) {
                    return Err(XmlError::Conflict(format!(
                        "multiple '{}' controllers with index '{index}'",
                        c.controller_type
                    )));
                }
            }
        }
        for (i, h) in self.hostdevs.iter().enumerate() {
            if h.source.is_some()
                && self.hostdevs[..i]
                    .iter()
                    .any(|o| o.hostdev_type == h.hostdev_type && o.source == h.source)
            {
                return Err(XmlError::Conflict(format!(
                    "<hostdev type='{}'> with this <source> already exists in the domain configuration",
                    h.hostdev_type.as_deref().unwrap_or("")
                )));
            }
        }
        Ok(())
    }

    /// Every per-device `<boot order>` in the definition.
    pub fn boot_orders(&self) -> Vec<u32> {
        let mut v: Vec<u32> = Vec::new();
        v.extend(self.disks.iter().filter_map(|d| d.info.boot_order));
        v.extend(self.interfaces.iter().filter_map(|d| d.info.boot_order));
        v.extend(self.hostdevs.iter().filter_map(|d| d.info.boot_order));
        v.extend(self.redirdevs.iter().filter_map(|d| d.info.boot_order));
        v.extend(self.filesystems.iter().filter_map(|d| d.info.boot_order));
        v
    }

    /// Formats `<devices>` in libvirt's order.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("devices");
        if let Some(e) = &self.emulator {
            el.push(Element::new("emulator").with_text(e.clone()));
        }
        let others = |el: &mut Element, after: &str| {
            for (name, group) in OTHER_AFTER {
                if *group == after {
                    for o in self.other.iter().filter(|o| o.name == *name) {
                        el.push(o.clone());
                    }
                }
            }
        };
        push_all(&mut el, &self.disks, Disk::to_element);
        push_all(&mut el, &self.controllers, Controller::to_element);
        others(&mut el, "controller");
        push_all(&mut el, &self.filesystems, Filesystem::to_element);
        push_all(&mut el, &self.interfaces, Interface::to_element);
        push_all(&mut el, &self.smartcards, Smartcard::to_element);
        push_all(&mut el, &self.serials, |c| c.to_element("serial"));
        push_all(&mut el, &self.parallels, |c| c.to_element("parallel"));
        push_all(&mut el, &self.consoles, |c| c.to_element("console"));
        push_all(&mut el, &self.channels, |c| c.to_element("channel"));
        push_all(&mut el, &self.inputs, Input::to_element);
        push_all(&mut el, &self.tpms, Tpm::to_element);
        push_all(&mut el, &self.graphics, Graphics::to_element);
        push_all(&mut el, &self.sounds, Sound::to_element);
        others(&mut el, "sound");
        push_all(&mut el, &self.videos, Video::to_element);
        push_all(&mut el, &self.hostdevs, Hostdev::to_element);
        push_all(&mut el, &self.redirdevs, Redirdev::to_element);
        others(&mut el, "redirdev");
        push_all(&mut el, &self.hubs, Hub::to_element);
        push_all(&mut el, &self.watchdogs, Watchdog::to_element);
        el.push_opt(self.memballoon.as_ref().map(Memballoon::to_element));
        push_all(&mut el, &self.rngs, Rng::to_element);
        others(&mut el, "rng");
        push_all(&mut el, &self.panics, Panic::to_element);
        push_all(&mut el, &self.shmems, Shmem::to_element);
        others(&mut el, "shmem");
        el.push_opt(self.iommu.as_ref().map(Iommu::to_element));
        el.push_opt(self.vsock.as_ref().map(Vsock::to_element));
        for o in &self.other {
            if !OTHER_AFTER.iter().any(|(name, _)| *name == o.name) {
                el.push(o.clone());
            }
        }
        el
    }
}

fn other_rank(name: &str) -> usize {
    OTHER_AFTER
        .iter()
        .position(|(n, _)| *n == name)
        .unwrap_or(OTHER_AFTER.len())
}

fn push_all<T>(el: &mut Element, items: &[T], f: impl Fn(&T) -> Element) {
    for i in items {
        el.push(f(i));
    }
}
