//! `<disk>`: block devices, CD-ROMs and floppies.

use super::super::common::{normalize, xml_enum, DeviceInfo, ElementReader, Extra};
use crate::xml::tree::Node;
use crate::xml::{Element, XmlError};

xml_enum! {
    /// `<disk type>`: where the data comes from.
    DiskType {
        /// An image file (`<source file>`).
        File = "file",
        /// A host block device (`<source dev>`).
        Block = "block",
        /// A host directory exposed as a FAT disk (`<source dir>`).
        Dir = "dir",
        /// A network protocol (`<source protocol name>` with hosts).
        Network = "network",
        /// A storage pool volume (`<source pool volume>`).
        Volume = "volume",
        /// An NVMe namespace on the host.
        Nvme = "nvme",
        /// A vhost-user block backend.
        VhostUser = "vhostuser",
        /// A vhost-vdpa block device.
        VhostVdpa = "vhostvdpa",
    }
}

xml_enum! {
    /// `<disk device>`: what the guest sees.
    DiskDevice {
        /// A hard disk.
        Disk = "disk",
        /// A CD-ROM drive (read-only, removable).
        Cdrom = "cdrom",
        /// A floppy drive.
        Floppy = "floppy",
        /// A SCSI LUN passed through.
        Lun = "lun",
    }
}

/// `<driver name='qemu' type='qcow2' cache='none' io='native' discard='unmap'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskDriver {
    /// Driver name (`qemu`).
    pub name: Option<String>,
    /// Image format (`raw`, `qcow2`, ...), the `type` attribute.
    pub format: Option<String>,
    /// `cache` (`none`, `writeback`, `writethrough`, `directsync`, `unsafe`, `default`).
    pub cache: Option<String>,
    /// `io` (`threads`, `native`, `io_uring`).
    pub io: Option<String>,
    /// `discard` (`unmap`, `ignore`).
    pub discard: Option<String>,
    /// Unknown attributes and children.
    pub extra: Extra,
}

/// `<source>` of a disk; which fields are set depends on [`DiskType`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskSource {
    /// `file` for [`DiskType::File`].
    pub file: Option<String>,
    /// `dev` for [`DiskType::Block`].
    pub dev: Option<String>,
    /// `dir` for [`DiskType::Dir`].
    pub dir: Option<String>,
    /// `pool` for [`DiskType::Volume`].
    pub pool: Option<String>,
    /// `volume` for [`DiskType::Volume`].
    pub volume: Option<String>,
    /// `mode` of a volume source (`host`, `direct`).
    pub mode: Option<String>,
    /// `protocol` for [`DiskType::Network`] (`nbd`, `rbd`, `iscsi`, `http`, ...).
    pub protocol: Option<String>,
    /// `name` of a network source (image or export name).
    pub name: Option<String>,
    /// Unknown attributes (`startupPolicy`, `index`, ...) and children
    /// (`<host>`, `<auth>`, `<seclabel>`, ...).
    pub extra: Extra,
}

/// `<target dev='vda' bus='virtio'>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DiskTarget {
    /// Device name the guest is told about (`vda`, `sda`, `hdc`, ...).
    pub dev: String,
    /// Bus (`virtio`, `sata`, `scsi`, `ide`, `usb`, `fdc`, ...).
    pub bus: Option<String>,
    /// `tray` state of a removable drive (`open`/`closed`).
    pub tray: Option<String>,
    /// Unknown attributes (`removable`, `rotation_rate`, ...).
    pub extra: Vec<(String, String)>,
}

/// `<disk>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disk {
    /// Where the data comes from.
    pub disk_type: DiskType,
    /// What the guest sees.
    pub device: DiskDevice,
    /// `<driver>`.
    pub driver: Option<DiskDriver>,
    /// `<source>`; absent for an empty CD-ROM drive.
    pub source: Option<DiskSource>,
    /// `<backingStore>` chain, verbatim.
    pub backing_store: Option<Element>,
    /// `<target>`.
    pub target: DiskTarget,
    /// `<readonly/>`.
    pub readonly: bool,
    /// `<shareable/>`.
    pub shareable: bool,
    /// `<serial>` the guest sees.
    pub serial: Option<String>,
    /// Alias, boot order and address.
    pub info: DeviceInfo,
    /// Unknown attributes (`model`, `rawio`, `sgio`, `snapshot`) and
    /// children (`<iotune>`, `<blockio>`, `<geometry>`, `<encryption>`, ...).
    pub extra: Extra,
}

// The enums come from `xml_enum!`, which cannot take `#[default]`.
#[allow(clippy::derivable_impls)]
impl Default for DiskType {
    fn default() -> Self {
        DiskType::File
    }
}

#[allow(clippy::derivable_impls)]
impl Default for DiskDevice {
    fn default() -> Self {
        DiskDevice::Disk
    }
}

/// Verbatim children libvirt writes between `<backingStore>` and `<target>`.
const BEFORE_TARGET: &[&str] = &["backenddomain", "mirror"];
/// Verbatim children libvirt writes between `<target>` and `<readonly>`.
const BEFORE_READONLY: &[&str] = &["blockio", "geometry", "iotune", "throttlefilters"];

impl Disk {
    /// Reads `<disk>`.
    pub fn parse(el: &Element) -> Result<Disk, XmlError> {
        let mut r = ElementReader::new(el);
        let disk_type = match r.attr("type") {
            Some(t) => t.parse::<DiskType>().map_err(|_| {
                XmlError::invalid(
                    "<disk type>",
                    t,
                    "expected file, block, dir, network, volume, nvme, vhostuser or vhostvdpa",
                )
            })?,
            None => DiskType::File,
        };
        let device = match r.attr("device") {
            Some(d) => d.parse::<DiskDevice>().map_err(|_| {
                XmlError::invalid("<disk device>", d, "expected disk, cdrom, floppy or lun")
            })?,
            None => DiskDevice::Disk,
        };
        if device == DiskDevice::Lun && !matches!(disk_type, DiskType::Block | DiskType::Network) {
            return Err(XmlError::invalid(
                "<disk device>",
                "lun",
                "disk device='lun' is only valid for block or network disk sources",
            ));
        }
        let driver = match r.child("driver")? {
            Some(d) => {
                let mut dr = ElementReader::new(d);
                Some(DiskDriver {
                    name: dr.attr_string("name"),
                    format: dr.attr_string("type"),
                    cache: dr.attr_string("cache"),
                    io: dr.attr_string("io"),
                    discard: dr.attr_string("discard"),
                    extra: dr.finish(),
                })
            }
            None => None,
        };
        let source = r.child("source")?.map(parse_source);
        let backing_store = r.child_verbatim("backingStore")?;
        let target = match r.child("target")? {
            Some(t) => {
                let mut tr = ElementReader::new(t);
                let dev = tr.req_attr("dev")?.to_string();
                if dev.is_empty() {
                    return Err(XmlError::invalid(
                        "<disk><target dev>",
                        "",
                        "must not be empty",
                    ));
                }
                let bus = tr.attr_string("bus");
                let tray = tr.attr_string("tray");
                let rest = tr.finish();
                if !rest.children.is_empty() || rest.text.is_some() {
                    return Err(XmlError::Unsupported(
                        "unknown content in <disk><target>".to_string(),
                    ));
                }
                DiskTarget {
                    dev,
                    bus,
                    tray,
                    extra: rest.attrs,
                }
            }
            None => {
                return Err(XmlError::missing("disk", "target"));
            }
        };
        let readonly = r.child("readonly")?.is_some();
        let shareable = r.child("shareable")?.is_some();
        let serial = r.child_text("serial")?;
        let info = DeviceInfo::parse(&mut r)?;
        Ok(Disk {
            disk_type,
            device,
            driver,
            source,
            backing_store,
            target,
            readonly,
            shareable,
            serial,
            info,
            extra: {
                let mut extra = r.finish();
                extra.sort_children_by_key(|n| {
                    if BEFORE_TARGET.contains(&n) {
                        0
                    } else if BEFORE_READONLY.contains(&n) {
                        1
                    } else {
                        2
                    }
                });
                extra
            },
        })
    }

    /// The host path of a file or block disk (the image the VMM opens).
    pub fn source_path(&self) -> Option<&str> {
        let s = self.source.as_ref()?;
        s.file.as_deref().or(s.dev.as_deref())
    }

    /// Formats `<disk>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("disk")
            .with_attr("type", self.disk_type.as_str())
            .with_attr("device", self.device.as_str());
        self.extra.apply_attrs(&mut el);
        if let Some(d) = &self.driver {
            let mut de = Element::new("driver")
                .with_opt_attr("name", d.name.clone())
                .with_opt_attr("type", d.format.clone())
                .with_opt_attr("cache", d.cache.clone())
                .with_opt_attr("io", d.io.clone())
                .with_opt_attr("discard", d.discard.clone());
            d.extra.apply(&mut de);
            el.push(de);
        }
        if let Some(s) = &self.source {
            let mut se = Element::new("source")
                .with_opt_attr("file", s.file.clone())
                .with_opt_attr("dev", s.dev.clone())
                .with_opt_attr("dir", s.dir.clone())
                .with_opt_attr("protocol", s.protocol.clone())
                .with_opt_attr("name", s.name.clone())
                .with_opt_attr("pool", s.pool.clone())
                .with_opt_attr("volume", s.volume.clone())
                .with_opt_attr("mode", s.mode.clone());
            s.extra.apply(&mut se);
            el.push(se);
        }
        el.push_opt(self.backing_store.clone());
        let extra_named = |names: &[&str]| -> Vec<Element> {
            self.extra
                .children
                .iter()
                .filter(|c| names.contains(&c.name.as_str()))
                .cloned()
                .collect()
        };
        for c in extra_named(BEFORE_TARGET) {
            el.push(c);
        }
        let mut te = Element::new("target")
            .with_attr("dev", self.target.dev.clone())
            .with_opt_attr("bus", self.target.bus.clone())
            .with_opt_attr("tray", self.target.tray.clone());
        te.attrs.extend(self.target.extra.iter().cloned());
        el.push(te);
        for c in extra_named(BEFORE_READONLY) {
            el.push(c);
        }
        if self.readonly {
            el.push(Element::new("readonly"));
        }
        if self.shareable {
            el.push(Element::new("shareable"));
        }
        if let Some(s) = &self.serial {
            el.push(Element::new("serial").with_text(s.clone()));
        }
        for c in &self.extra.children {
            if !BEFORE_TARGET.contains(&c.name.as_str())
                && !BEFORE_READONLY.contains(&c.name.as_str())
            {
                el.push(c.clone());
            }
        }
        if let Some(t) = &self.extra.text {
            el.children.push(Node::Text(t.clone()));
        }
        self.info.push_boot(&mut el);
        self.info.push_alias_address(&mut el);
        el
    }
}

fn parse_source(el: &Element) -> DiskSource {
    let mut r = ElementReader::new(el);
    let mut s = DiskSource {
        file: r.attr_string("file"),
        dev: r.attr_string("dev"),
        dir: r.attr_string("dir"),
        pool: r.attr_string("pool"),
        volume: r.attr_string("volume"),
        mode: r.attr_string("mode"),
        protocol: r.attr_string("protocol"),
        name: r.attr_string("name"),
        extra: Extra::default(),
    };
    let mut extra = r.finish();
    extra.children = extra.children.into_iter().map(normalize).collect();
    s.extra = extra;
    s
}
