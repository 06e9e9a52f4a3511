//! `<volume>`: a storage volume definition in libvirt's format.
//!
//! A volume is always read in the context of the pool that holds it: the
//! pool type decides which `<format>` names exist (image formats in file
//! pools, partition types in disk pools, none in logical or iSCSI pools)
//! and which one is filled in by default.

pub mod encryption;

pub use encryption::{Cipher, Encryption, EncryptionFormat, Ivgen};

use super::pool::common::{
    parse_size, single, single_text, size_element, text_element, unknown_children, MAX_SIZE,
};
use super::pool::{Permissions, PoolType};
use super::{ids, parse_root, Element, XmlError};

/// The `type` attribute of `<volume>`: what kind of object backs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VolumeType {
    /// A regular file (the default).
    #[default]
    File,
    /// A block device.
    Block,
    /// A directory.
    Dir,
    /// A network volume (RBD, iSCSI LUN).
    Network,
    /// A network directory (Gluster).
    Netdir,
    /// A Virtuozzo ploop image.
    Ploop,
}

impl VolumeType {
    /// The name used in the `type` attribute.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeType::File => "file",
            VolumeType::Block => "block",
            VolumeType::Dir => "dir",
            VolumeType::Network => "network",
            VolumeType::Netdir => "netdir",
            VolumeType::Ploop => "ploop",
        }
    }

    fn from_name(name: &str) -> Result<VolumeType, XmlError> {
        Ok(match name {
            "file" => VolumeType::File,
            "block" => VolumeType::Block,
            "dir" => VolumeType::Dir,
            "network" => VolumeType::Network,
            "netdir" => VolumeType::Netdir,
            "ploop" => VolumeType::Ploop,
            other => {
                return Err(XmlError::invalid(
                    "volume type",
                    other,
                    "expected file, block, dir, network, netdir or ploop",
                ))
            }
        })
    }
}

/// When `<capacity>` may be left out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CapacityRule {
    /// Always required (creating a volume from scratch).
    #[default]
    Required,
    /// Never required (creating from another volume, whose size is used).
    Optional,
    /// Required unless the volume has a backing store, whose size is used.
    OptionalWithBacking,
}

/// The context a volume document is read in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParseOptions {
    /// Type of the pool the volume belongs to.
    pub pool_type: PoolType,
    /// Whether capacity may be absent.
    pub capacity: CapacityRule,
}

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            pool_type: PoolType::Dir,
            capacity: CapacityRule::Required,
        }
    }
}

/// A file time, seconds and nanoseconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timestamp {
    /// Whole seconds.
    pub seconds: u64,
    /// Nanoseconds (below 1e9).
    pub nanos: u32,
}

/// `<timestamps>` of a volume's file: state the backend reports, never read
/// from a definition (libvirt ignores them too).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Timestamps {
    /// Last access.
    pub atime: Option<Timestamp>,
    /// Last modification.
    pub mtime: Option<Timestamp>,
    /// Last status change.
    pub ctime: Option<Timestamp>,
    /// Creation.
    pub btime: Option<Timestamp>,
}

/// The image a copy-on-write volume is layered on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingStore {
    /// Path of the backing image.
    pub path: String,
    /// Its format, when the pool type has formats (default raw).
    pub format: Option<String>,
    /// Its permissions.
    pub permissions: Permissions,
    extra: Vec<Element>,
}

impl BackingStore {
    /// A backing store at `path` in `format`.
    pub fn new(path: impl Into<String>, format: Option<String>) -> Self {
        BackingStore {
            path: path.into(),
            format,
            permissions: Permissions::default(),
            extra: Vec::new(),
        }
    }
}

/// A used range of a device (state the backend reports for logical and
/// disk volumes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeExtent {
    /// The device holding the range.
    pub device: String,
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// A `<volume>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageVolume {
    /// Type of the pool the volume was read for; decides formats.
    pub pool_type: PoolType,
    /// The `type` attribute.
    pub vol_type: VolumeType,
    /// Name, unique in its pool (no `/`).
    pub name: String,
    /// Key, unique on the host (normally the path; set by the backend).
    pub key: Option<String>,
    /// Device ranges (state, never read from a definition).
    pub extents: Vec<VolumeExtent>,
    /// Size the guest sees, in bytes; `None` only where the parse options
    /// allow it to be left out.
    pub capacity: Option<u64>,
    /// Bytes allocated on the host; `None` when not given, which means
    /// "as much as the capacity" (fully allocated).
    pub allocation: Option<u64>,
    /// Size of the file or device on the host (state, display only).
    pub physical: Option<u64>,
    /// Path of the volume (set by the backend for new volumes).
    pub target_path: Option<String>,
    /// Image format (`raw`, `qcow2`, ...) or partition type; filled with the
    /// pool type's default and `None` for pool types without formats.
    pub format: Option<String>,
    /// Ownership and mode.
    pub permissions: Permissions,
    /// File times (state).
    pub timestamps: Option<Timestamps>,
    /// Encryption.
    pub encryption: Option<Encryption>,
    /// qcow2 compatibility level (`0.10` or `1.1`); `1.1` when features are listed.
    pub compat: Option<String>,
    /// Create the file with copy-on-write disabled (btrfs). Only acted on at
    /// creation; like libvirt, never written back.
    pub nocow: bool,
    /// qcow2 cluster size in bytes.
    pub cluster_size: Option<u64>,
    /// qcow2 lazy refcounts.
    pub lazy_refcounts: bool,
    /// qcow2 extended L2 entries (subclusters).
    pub extended_l2: bool,
    /// The image this one is layered on.
    pub backing_store: Option<BackingStore>,
    /// An empty `<features/>` was given (it still implies compat 1.1 and is
    /// written back).
    empty_features: bool,
    target_extra: Vec<Element>,
    extra: Vec<Element>,
}

const KNOWN: &[&str] = &[
    "name",
    "key",
    "source",
    "capacity",
    "allocation",
    "physical",
    "target",
    "backingStore",
];
const TARGET_KNOWN: &[&str] = &[
    "path",
    "format",
    "permissions",
    "timestamps",
    "encryption",
    "compat",
    "nocow",
    "clusterSize",
    "features",
];

impl StorageVolume {
    /// A new volume called `name` for a pool of type `pool_type`, with the
    /// pool type's default format and nothing else set.
    pub fn new(name: impl Into<String>, pool_type: PoolType) -> Self {
        StorageVolume {
            pool_type,
            vol_type: VolumeType::File,
            name: name.into(),
            key: None,
            extents: Vec::new(),
            capacity: None,
            allocation: None,
            physical: None,
            target_path: None,
            format: pool_type.volume_formats().map(|f| f.default.to_string()),
            permissions: Permissions::default(),
            timestamps: None,
            encryption: None,
            compat: None,
            nocow: false,
            cluster_size: None,
            lazy_refcounts: false,
            extended_l2: false,
            backing_store: None,
            empty_features: false,
            target_extra: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Parses a `<volume>` for a `dir` pool; capacity is required.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        StorageVolume::parse_with(xml, ParseOptions::default())
    }

    /// Parses a `<volume>` for a pool of type `pool_type`; capacity is required.
    pub fn parse_in_pool(xml: &str, pool_type: PoolType) -> Result<Self, XmlError> {
        StorageVolume::parse_with(
            xml,
            ParseOptions {
                pool_type,
                capacity: CapacityRule::Required,
            },
        )
    }

    /// Parses a `<volume>` with explicit options.
    pub fn parse_with(xml: &str, options: ParseOptions) -> Result<Self, XmlError> {
        StorageVolume::from_element(&parse_root(xml, "volume")?, options)
    }

    /// Builds the model from a `<volume>` element (e.g. inside a `<node>` file).
    pub fn from_element(root: &Element, options: ParseOptions) -> Result<Self, XmlError> {
        if root.name != "volume" {
            return Err(XmlError::WrongRoot {
                expected: "volume".into(),
                found: root.name.clone(),
            });
        }
        for name in KNOWN {
            single(root, name)?;
        }
        let pool_type = options.pool_type;
        let formats = pool_type.volume_formats();
        let name = single_text(root, "name")?.ok_or_else(|| XmlError::missing("volume", "name"))?;
        ids::validate_name("volume", &name)?;
        let vol_type = match root.attr("type") {
            Some(t) => VolumeType::from_name(t)?,
            None => VolumeType::File,
        };

        let backing_store = match single(root, "backingStore")? {
            None => None,
            Some(bs) => {
                for name in ["path", "format"] {
                    single(bs, name)?;
                }
                match single_text(bs, "path")? {
                    None => None,
                    Some(path) => Some(BackingStore {
                        path,
                        format: read_format(bs, formats.as_ref(), "backingStore <format type>")?,
                        permissions: Permissions::from_parent(bs)?,
                        extra: unknown_children(bs, TARGET_KNOWN),
                    }),
                }
            }
        };

        let capacity = single(root, "capacity")?
            .filter(|c| !c.text().trim().is_empty())
            .map(|c| parse_size(c, MAX_SIZE))
            .transpose()?;
        let capacity_optional = match options.capacity {
            CapacityRule::Required => false,
            CapacityRule::Optional => true,
            CapacityRule::OptionalWithBacking => backing_store.is_some(),
        };
        if capacity.is_none() && !capacity_optional {
            return Err(XmlError::missing("volume", "capacity"));
        }
        let allocation = single(root, "allocation")?
            .filter(|a| !a.text().trim().is_empty())
            .map(|a| parse_size(a, MAX_SIZE))
            .transpose()?;

        let mut vol = StorageVolume::new(name, pool_type);
        vol.vol_type = vol_type;
        vol.key = single_text(root, "key")?;
        vol.capacity = capacity;
        vol.allocation = allocation;
        vol.backing_store = backing_store;
        vol.extra = unknown_children(root, KNOWN);
        if let Some(target) = single(root, "target")? {
            vol.read_target(target)?;
        }
        Ok(vol)
    }

    fn read_target(&mut self, target: &Element) -> Result<(), XmlError> {
        for name in TARGET_KNOWN {
            if *name != "nocow" {
                single(target, name)?;
            }
        }
        self.target_path = single_text(target, "path")?;
        self.format = read_format(
            target,
            self.pool_type.volume_formats().as_ref(),
            "volume <format type>",
        )?;
        self.permissions = Permissions::from_parent(target)?;
        self.encryption = single(target, "encryption")?
            .map(Encryption::from_element)
            .transpose()?;
        self.compat = single_text(target, "compat")?;
        if let Some(compat) = &self.compat {
            check_compat(compat)?;
        }
        self.nocow = target.child("nocow").is_some();
        self.cluster_size = single(target, "clusterSize")?
            .filter(|c| !c.text().trim().is_empty())
            .map(|c| parse_size(c, u64::MAX))
            .transpose()?
            .filter(|size| *size > 0);
        if let Some(features) = single(target, "features")? {
            if self.compat.is_none() {
                self.compat = Some("1.1".to_string());
            }
            for feature in features.elements() {
                match feature.name.as_str() {
                    "lazy_refcounts" => self.lazy_refcounts = true,
                    "extended_l2" => self.extended_l2 = true,
                    other => {
                        return Err(XmlError::Unsupported(format!(
                            "unsupported volume feature <{other}>"
                        )))
                    }
                }
            }
            self.empty_features = !(self.lazy_refcounts || self.extended_l2);
        }
        self.target_extra = unknown_children(target, TARGET_KNOWN);
        Ok(())
    }

    /// The allocation libvirt reports: the given one, or the capacity.
    pub fn effective_allocation(&self) -> u64 {
        self.allocation.or(self.capacity).unwrap_or(0)
    }

    /// Formats the definition as libvirt does: sizes in bytes, the default
    /// format filled in, state only where the backend set it.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// The definition as an element tree.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("volume").with_attr("type", self.vol_type.as_str());
        root.push(text_element("name", self.name.clone()));
        if let Some(key) = &self.key {
            root.push(text_element("key", key.clone()));
        }
        if !self.extents.is_empty() {
            root.push(extents_element(&self.extents));
        }
        root.push(size_element("capacity", self.capacity.unwrap_or(0)));
        root.push(size_element("allocation", self.effective_allocation()));
        if let Some(physical) = self.physical.filter(|p| *p > 0) {
            root.push(size_element("physical", physical));
        }
        root.push(self.target_element());
        if let Some(bs) = &self.backing_store {
            let mut el = Element::new("backingStore");
            el.push(text_element("path", bs.path.clone()));
            if self.pool_type.volume_formats().is_some() {
                if let Some(format) = &bs.format {
                    el.push(Element::new("format").with_attr("type", format.clone()));
                }
            }
            el.push_opt(bs.permissions.to_element());
            for extra in &bs.extra {
                el.push(extra.clone());
            }
            root.push(el);
        }
        for extra in &self.extra {
            root.push(extra.clone());
        }
        root
    }

    fn target_element(&self) -> Element {
        let mut target = Element::new("target");
        if let Some(path) = &self.target_path {
            target.push(text_element("path", path.clone()));
        }
        if self.pool_type.volume_formats().is_some() {
            if let Some(format) = &self.format {
                target.push(Element::new("format").with_attr("type", format.clone()));
            }
        }
        target.push_opt(self.permissions.to_element());
        if let Some(ts) = &self.timestamps {
            let mut el = Element::new("timestamps");
            for (name, time) in [
                ("atime", ts.atime),
                ("mtime", ts.mtime),
                ("ctime", ts.ctime),
                ("btime", ts.btime),
            ] {
                if let Some(t) = time {
                    let text = if t.nanos == 0 {
                        t.seconds.to_string()
                    } else {
                        format!("{}.{:09}", t.seconds, t.nanos)
                    };
                    el.push(text_element(name, text));
                }
            }
            target.push(el);
        }
        target.push_opt(self.encryption.as_ref().map(Encryption::to_element));
        if let Some(compat) = &self.compat {
            target.push(text_element("compat", compat.clone()));
        }
        if let Some(size) = self.cluster_size.filter(|s| *s > 0) {
            target.push(
                Element::new("clusterSize")
                    .with_attr("unit", "B")
                    .with_text(size.to_string()),
            );
        }
        if self.empty_features || self.lazy_refcounts || self.extended_l2 {
            let mut features = Element::new("features");
            if self.lazy_refcounts {
                features.push(Element::new("lazy_refcounts"));
            }
            if self.extended_l2 {
                features.push(Element::new("extended_l2"));
            }
            target.push(features);
        }
        for extra in &self.target_extra {
            target.push(extra.clone());
        }
        target
    }
}

fn read_format(
    parent: &Element,
    formats: Option<&super::pool::FormatChoice>,
    what: &str,
) -> Result<Option<String>, XmlError> {
    let Some(choice) = formats else {
        return Ok(None);
    };
    match single(parent, "format")?.and_then(|f| f.attr("type")) {
        None => Ok(Some(choice.default.to_string())),
        Some(t) => choice.check(what, t).map(Some),
    }
}

/// `compat` is `MAJOR.MINOR`, both numbers.
fn check_compat(compat: &str) -> Result<(), XmlError> {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match compat.split_once('.') {
        Some((major, minor)) if numeric(major) && numeric(minor) => Ok(()),
        _ => Err(XmlError::invalid(
            "<compat>",
            compat,
            "expected a version such as 0.10 or 1.1",
        )),
    }
}

/// Groups consecutive extents of the same device under one `<device>`.
fn extents_element(extents: &[VolumeExtent]) -> Element {
    let mut source = Element::new("source");
    let mut current: Option<Element> = None;
    for ext in extents {
        if current.as_ref().and_then(|d| d.attr("path")) != Some(ext.device.as_str()) {
            source.push_opt(current.take());
            current = Some(Element::new("device").with_attr("path", ext.device.clone()));
        }
        if let Some(dev) = current.as_mut() {
            dev.push(
                Element::new("extent")
                    .with_attr("start", ext.start.to_string())
                    .with_attr("end", ext.end.to_string()),
            );
        }
    }
    source.push_opt(current);
    source
}

#[cfg(test)]
mod tests;
