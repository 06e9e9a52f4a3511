//! `<pool>`: a storage pool definition in libvirt's format, for every pool
//! type libvirt 9.0 knows, with the defaults and validation libvirt applies.

pub mod auth;
pub mod common;
pub mod perms;
pub mod source;
pub mod types;

pub use auth::{Auth, AuthType, SecretLookup};
pub use perms::Permissions;
pub use source::{
    Adapter, Extent, FcHost, PciAddress, PoolSource, ScsiHost, SourceDevice, SourceHost,
};
pub use types::{FormatChoice, PoolType, SourceParts};

use common::{
    attr_string, parse_size, sanitize_path, single, single_text, size_element, text_element,
    unknown_children, yes_no, yes_no_str, MAX_SIZE,
};
use uuid::Uuid;

use super::tree::Node;
use super::volume::{CapacityRule, ParseOptions, StorageVolume};
use super::{ids, parse_root, Element, XmlError};

/// Namespace of `<fs:mount_opts>` (fs and netfs pools).
pub const FS_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/fs/1.0";
/// Namespace of `<rbd:config_opts>` (rbd pools).
pub const RBD_NAMESPACE: &str = "http://libvirt.org/schemas/storagepool/rbd/1.0";

/// What the backend reports for a volume's allocation when refreshing
/// (`<refresh><volume allocation=.../></refresh>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshAllocation {
    /// Ask the storage (libvirt's default).
    Default,
    /// Report the capacity (cheap for RBD, whose allocation is slow to compute).
    Capacity,
}

impl RefreshAllocation {
    fn as_str(self) -> &'static str {
        match self {
            RefreshAllocation::Default => "default",
            RefreshAllocation::Capacity => "capacity",
        }
    }
}

/// A `<pool>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoragePool {
    /// The backend type (`type` attribute).
    pub pool_type: PoolType,
    /// Unique name. Pools whose source has a name (logical, rbd, gluster,
    /// zfs, vstorage) default to it.
    pub name: String,
    /// UUID, if the document has one (the backend assigns one on define).
    pub uuid: Option<Uuid>,
    /// Total size in bytes. State the backend fills in: a definition's
    /// value is ignored (as libvirt does) except by [`StoragePool::parse_state`].
    pub capacity: Option<u64>,
    /// Bytes in use (state, see `capacity`).
    pub allocation: Option<u64>,
    /// Bytes free (state, see `capacity`).
    pub available: Option<u64>,
    /// `<features><cow state=...>`: copy-on-write of the target directory
    /// (btrfs), for dir and fs pools.
    pub cow: Option<bool>,
    /// Where the storage comes from.
    pub source: PoolSource,
    /// Local path of the pool (a directory, `/dev/VG`, ...), cleaned of
    /// duplicate and trailing slashes; `None` for network pools (rbd,
    /// gluster, iscsi-direct), which have no target.
    pub target_path: Option<String>,
    /// Ownership and mode of the target.
    pub target_permissions: Permissions,
    /// How volume allocation is reported on refresh.
    pub refresh_volume_allocation: Option<RefreshAllocation>,
    /// `<fs:mount_opts>` options passed to mount (fs and netfs pools).
    pub mount_opts: Vec<String>,
    /// `<rbd:config_opts>` name/value pairs passed to librados (rbd pools).
    pub rbd_config_opts: Vec<(String, String)>,
    /// Namespace declarations on `<pool>` other than the fs/rbd ones.
    namespaces: Vec<(String, String)>,
    /// Unknown children of `<features>`, `<target>` and `<pool>`, kept verbatim.
    features_extra: Vec<Element>,
    target_extra: Vec<Element>,
    extra: Vec<Element>,
}

const KNOWN: &[&str] = &[
    "name",
    "uuid",
    "capacity",
    "allocation",
    "available",
    "features",
    "source",
    "target",
    "refresh",
];

impl StoragePool {
    /// A new pool called `name` of type `pool_type` with nothing else set
    /// but the type's default source format (the caller adds the source
    /// and target path the type needs, e.g. for `pool-define-as`).
    pub fn new(name: impl Into<String>, pool_type: PoolType) -> Self {
        StoragePool {
            pool_type,
            name: name.into(),
            uuid: None,
            capacity: None,
            allocation: None,
            available: None,
            cow: None,
            source: PoolSource {
                format: pool_type.source_formats().map(|f| f.default.to_string()),
                ..PoolSource::default()
            },
            target_path: None,
            target_permissions: Permissions::default(),
            refresh_volume_allocation: None,
            mount_opts: Vec::new(),
            rbd_config_opts: Vec::new(),
            namespaces: Vec::new(),
            features_extra: Vec::new(),
            target_extra: Vec::new(),
            extra: Vec::new(),
        }
    }

    /// Parses a `<pool>` definition. Capacity, allocation and available are
    /// state, so their values are ignored, as libvirt does.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        StoragePool::from_element(&parse_root(xml, "pool")?)
    }

    /// Parses a `<pool>` as a status or test-driver node file holds it:
    /// like [`StoragePool::parse`], but capacity, allocation and available
    /// are read (with units) too.
    pub fn parse_state(xml: &str) -> Result<Self, XmlError> {
        StoragePool::from_element_state(&parse_root(xml, "pool")?)
    }

    /// Builds the model from a `<pool>` element (e.g. one inside a `<node>` file).
    pub fn from_element(root: &Element) -> Result<Self, XmlError> {
        if root.name != "pool" {
            return Err(XmlError::WrongRoot {
                expected: "pool".into(),
                found: root.name.clone(),
            });
        }
        for name in KNOWN {
            single(root, name)?;
        }
        let pool_type = PoolType::from_name(root.req_attr("type")?)?;
        let parts = pool_type.source_parts();
        let mut source = match single(root, "source")? {
            Some(el) => PoolSource::from_element(el, pool_type)?,
            None => PoolSource {
                format: pool_type.source_formats().map(|f| f.default.to_string()),
                ..PoolSource::default()
            },
        };
        if pool_type == PoolType::Rbd && source.name.is_none() {
            return Err(XmlError::missing("source", "name"));
        }
        let name = match single_text(root, "name")? {
            Some(name) => name,
            None if parts.name => source
                .name
                .clone()
                .ok_or_else(|| XmlError::missing("pool", "name"))?,
            None => return Err(XmlError::missing("pool", "name")),
        };
        ids::validate_name("pool", &name)?;
        let uuid = single_text(root, "uuid")?
            .map(|u| ids::parse_uuid(&u))
            .transpose()?;

        let features = single(root, "features")?;
        let cow = match features.map(|f| single(f, "cow")).transpose()?.flatten() {
            Some(el) => yes_no(el, "state")?,
            None => None,
        };
        if cow.is_some() && !matches!(pool_type, PoolType::Dir | PoolType::Fs) {
            return Err(XmlError::Unsupported(
                "the cow feature may only be used for 'fs' and 'dir' pools".into(),
            ));
        }
        let features_extra = features
            .map(|f| unknown_children(f, &["cow"]))
            .unwrap_or_default();

        if parts.host && source.hosts.is_empty() {
            return Err(XmlError::missing("source", "host"));
        }
        if parts.dir && source.dir.is_none() {
            return Err(XmlError::missing("source", "dir"));
        }
        if parts.name && source.name.is_none() {
            source.name = Some(name.clone());
        }
        if parts.adapter && source.adapter.is_none() {
            return Err(XmlError::missing("source", "adapter"));
        }
        // A device is required when it is the only thing a source can name.
        if parts
            == (SourceParts {
                device: true,
                ..SourceParts::default()
            })
            && source.devices.is_empty()
        {
            return Err(XmlError::missing("source", "device"));
        }
        if pool_type == PoolType::IscsiDirect && source.initiator_iqn.is_none() {
            return Err(XmlError::missing("initiator", "iqn"));
        }

        let target = single(root, "target")?;
        let (target_path, target_permissions, target_extra) = if parts.network {
            (None, Permissions::default(), Vec::new())
        } else {
            let source_name = source.name.clone().unwrap_or_default();
            let path = match pool_type {
                PoolType::Logical => format!("/dev/{source_name}"),
                PoolType::Zfs => format!("/dev/zvol/{source_name}"),
                _ => target
                    .map(|t| single_text(t, "path"))
                    .transpose()?
                    .flatten()
                    .ok_or_else(|| XmlError::missing("target", "path"))?,
            };
            let perms = match target {
                Some(t) => {
                    single(t, "path")?;
                    Permissions::from_parent(t)?
                }
                None => Permissions::default(),
            };
            let extra = target
                .map(|t| unknown_children(t, &["path", "permissions"]))
                .unwrap_or_default();
            (Some(sanitize_path(&path)), perms, extra)
        };

        let refresh_volume_allocation = match single(root, "refresh")? {
            None => None,
            Some(r) => match single(r, "volume")?.and_then(|v| v.attr("allocation")) {
                None => None,
                Some("default") => Some(RefreshAllocation::Default),
                Some("capacity") => Some(RefreshAllocation::Capacity),
                Some(other) => {
                    return Err(XmlError::invalid(
                        "<refresh><volume allocation>",
                        other,
                        "expected 'default' or 'capacity'",
                    ))
                }
            },
        };

        let mut pool = StoragePool {
            uuid,
            cow,
            source,
            target_path,
            target_permissions,
            refresh_volume_allocation,
            features_extra,
            target_extra,
            ..StoragePool::new(name, pool_type)
        };
        pool.read_namespaces(root)?;
        Ok(pool)
    }

    /// Like [`StoragePool::from_element`], also reading the sizes.
    pub fn from_element_state(root: &Element) -> Result<Self, XmlError> {
        let mut pool = StoragePool::from_element(root)?;
        let size = |name: &str| -> Result<Option<u64>, XmlError> {
            single(root, name)?
                .map(|el| parse_size(el, MAX_SIZE))
                .transpose()
        };
        pool.capacity = size("capacity")?;
        pool.allocation = size("allocation")?;
        pool.available = size("available")?;
        Ok(pool)
    }

    /// Reads a pool as libvirt's test-driver `<node>` file holds it: the
    /// pool with its sizes, and the `<volume>` elements nested in it, each
    /// read in the pool's context.
    pub fn from_node_element(el: &Element) -> Result<(StoragePool, Vec<StorageVolume>), XmlError> {
        let mut pool_el = el.clone();
        pool_el
            .children
            .retain(|n| !matches!(n, Node::Element(e) if e.name == "volume"));
        let pool = StoragePool::from_element_state(&pool_el)?;
        let options = ParseOptions {
            pool_type: pool.pool_type,
            capacity: CapacityRule::Required,
        };
        let volumes = el
            .children_named("volume")
            .map(|v| StorageVolume::from_element(v, options))
            .collect::<Result<Vec<_>, _>>()?;
        Ok((pool, volumes))
    }

    /// Reads the fs/rbd namespace options and keeps every other unknown
    /// child (and the namespace declarations it needs) verbatim.
    fn read_namespaces(&mut self, root: &Element) -> Result<(), XmlError> {
        let declared = |el: &Element, prefix: &str| -> Option<String> {
            let key = format!("xmlns:{prefix}");
            el.attr(&key)
                .or_else(|| root.attr(&key))
                .map(str::to_string)
        };
        for (key, value) in &root.attrs {
            if key.starts_with("xmlns:") && value != FS_NAMESPACE && value != RBD_NAMESPACE {
                self.namespaces.push((key.clone(), value.clone()));
            }
        }
        for el in root.elements() {
            if KNOWN.contains(&el.name.as_str()) {
                continue;
            }
            let (prefix, local) = el.name.split_once(':').unwrap_or(("", &el.name));
            let uri = declared(el, prefix);
            let fs_pool = matches!(self.pool_type, PoolType::Fs | PoolType::Netfs);
            match (uri.as_deref(), local) {
                (Some(FS_NAMESPACE), "mount_opts") if fs_pool => {
                    for opt in el.elements() {
                        let name =
                            attr_string(opt, "name").ok_or_else(|| XmlError::MissingAttribute {
                                element: opt.name.clone(),
                                attribute: "name".into(),
                            })?;
                        self.mount_opts.push(name);
                    }
                }
                (Some(RBD_NAMESPACE), "config_opts") if self.pool_type == PoolType::Rbd => {
                    for opt in el.elements() {
                        let attr = |a: &str| {
                            attr_string(opt, a).ok_or_else(|| XmlError::MissingAttribute {
                                element: opt.name.clone(),
                                attribute: a.into(),
                            })
                        };
                        self.rbd_config_opts.push((attr("name")?, attr("value")?));
                    }
                }
                (Some(ns @ (FS_NAMESPACE | RBD_NAMESPACE)), _) => {
                    // Not this pool type's namespace: kept verbatim, so its
                    // declaration on <pool> has to be kept too.
                    let key = format!("xmlns:{prefix}");
                    if el.attr(&key).is_none() && !self.namespaces.iter().any(|(k, _)| *k == key) {
                        self.namespaces.push((key, ns.to_string()));
                    }
                    self.extra.push(el.clone());
                }
                _ => self.extra.push(el.clone()),
            }
        }
        Ok(())
    }

    /// Formats the definition as libvirt does: sizes in bytes, the source
    /// parts the pool type uses in libvirt's order, the cleaned target path
    /// and the namespace options last.
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// The definition as an element tree.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("pool").with_attr("type", self.pool_type.as_str());
        if !self.mount_opts.is_empty() {
            root.set_attr("xmlns:fs", FS_NAMESPACE);
        }
        if !self.rbd_config_opts.is_empty() {
            root.set_attr("xmlns:rbd", RBD_NAMESPACE);
        }
        for (key, value) in &self.namespaces {
            if root.attr(key).is_none() {
                root.set_attr(key, value.clone());
            }
        }
        root.push(text_element("name", self.name.clone()));
        if let Some(uuid) = self.uuid {
            root.push(text_element("uuid", uuid.to_string()));
        }
        root.push(size_element("capacity", self.capacity.unwrap_or(0)));
        root.push(size_element("allocation", self.allocation.unwrap_or(0)));
        root.push(size_element("available", self.available.unwrap_or(0)));
        if self.cow.is_some() || !self.features_extra.is_empty() {
            let mut features = Element::new("features");
            if let Some(cow) = self.cow {
                features.push(Element::new("cow").with_attr("state", yes_no_str(cow)));
            }
            for extra in &self.features_extra {
                features.push(extra.clone());
            }
            root.push(features);
        }
        root.push(self.source.to_element(self.pool_type));
        if self.pool_type.has_target() {
            let mut target = Element::new("target");
            if let Some(path) = &self.target_path {
                target.push(text_element("path", path.clone()));
            }
            target.push_opt(self.target_permissions.to_element());
            for extra in &self.target_extra {
                target.push(extra.clone());
            }
            root.push(target);
        }
        if let Some(refresh) = self.refresh_volume_allocation {
            root.push(
                Element::new("refresh")
                    .with_child(Element::new("volume").with_attr("allocation", refresh.as_str())),
            );
        }
        if !self.mount_opts.is_empty() {
            let mut opts = Element::new("fs:mount_opts");
            for name in &self.mount_opts {
                opts.push(Element::new("fs:option").with_attr("name", name.clone()));
            }
            root.push(opts);
        }
        if !self.rbd_config_opts.is_empty() {
            let mut opts = Element::new("rbd:config_opts");
            for (name, value) in &self.rbd_config_opts {
                opts.push(
                    Element::new("rbd:option")
                        .with_attr("name", name.clone())
                        .with_attr("value", value.clone()),
                );
            }
            root.push(opts);
        }
        for extra in &self.extra {
            root.push(extra.clone());
        }
        root
    }
}

#[cfg(test)]
mod tests;
