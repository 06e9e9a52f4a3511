//! `<source>` of a pool: where its storage comes from (hosts, devices, a
//! directory, a SCSI adapter, a name, credentials).

use super::auth::Auth;
use super::common::{
    attr_string, parse_c_uint, sanitize_path, single, single_text, text_element, unknown_children,
    yes_no, yes_no_str,
};
use super::types::PoolType;
use crate::xml::tree::Node;
use crate::xml::{Element, XmlError};

/// A server of a network pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceHost {
    /// Host name or address.
    pub name: String,
    /// Port, when not the protocol's default.
    pub port: Option<u16>,
}

/// A byte range on a device (`start` inclusive, `end` exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// First byte.
    pub start: u64,
    /// One past the last byte.
    pub end: u64,
}

/// A block device or iSCSI target of a pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceDevice {
    /// Device path (or IQN for iSCSI).
    pub path: String,
    /// For disk pools on multipath devices: whether partition names take a
    /// `p` separator.
    pub part_separator: Option<bool>,
    /// Free space found by the backend (state, never read from a definition).
    pub free_extents: Vec<Extent>,
}

/// The PCI address of the parent of a `scsi_host` adapter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciAddress {
    /// PCI domain (at most 0xffff).
    pub domain: u32,
    /// Bus (at most 0xff).
    pub bus: u32,
    /// Slot (at most 0x1f).
    pub slot: u32,
    /// Function (at most 7).
    pub function: u32,
}

/// How a `scsi_host` adapter is found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScsiHost {
    /// By name, e.g. `host0`.
    Name(String),
    /// By its parent PCI device and unique id, stable across reboots.
    ParentAddr {
        /// The `unique_id` of the host.
        unique_id: u32,
        /// PCI address of the HBA.
        address: PciAddress,
    },
}

/// An FC host (vHBA) of a scsi pool.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FcHost {
    /// Parent HBA by name (`scsi_host5`).
    pub parent: Option<String>,
    /// Parent HBA by world wide node name.
    pub parent_wwnn: Option<String>,
    /// Parent HBA by world wide port name.
    pub parent_wwpn: Option<String>,
    /// Parent HBA by fabric name.
    pub parent_fabric_wwn: Option<String>,
    /// Whether libvirt created the vHBA and must delete it.
    pub managed: Option<bool>,
    /// World wide node name of the vHBA.
    pub wwnn: String,
    /// World wide port name of the vHBA.
    pub wwpn: String,
}

/// `<adapter>` of a scsi pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Adapter {
    /// A SCSI host adapter.
    ScsiHost(ScsiHost),
    /// A Fibre Channel host.
    FcHost(FcHost),
}

/// The `<source>` of a pool. Which parts are written depends on the pool
/// type (see [`PoolType::source_parts`]), as in libvirt.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PoolSource {
    /// Servers (netfs, iscsi, rbd, gluster).
    pub hosts: Vec<SourceHost>,
    /// Devices (fs, disk, logical, iscsi, zfs).
    pub devices: Vec<SourceDevice>,
    /// Exported directory (netfs, gluster), cleaned of extra slashes.
    pub dir: Option<String>,
    /// SCSI adapter (scsi).
    pub adapter: Option<Adapter>,
    /// Source name: volume group, RBD pool, Gluster volume, ZFS pool.
    pub name: Option<String>,
    /// iSCSI initiator IQN.
    pub initiator_iqn: Option<String>,
    /// Format (file system, partition table, LVM); filled with the pool
    /// type's default when it has formats.
    pub format: Option<String>,
    /// Credentials.
    pub auth: Option<Auth>,
    /// NFS protocol version (`3`, `4.1`).
    pub protocol_ver: Option<String>,
    /// SCSI vendor to match.
    pub vendor: Option<String>,
    /// SCSI product to match.
    pub product: Option<String>,
    /// Elements the model does not know, kept verbatim.
    pub extra: Vec<Element>,
}

const KNOWN: &[&str] = &[
    "host",
    "device",
    "dir",
    "adapter",
    "name",
    "initiator",
    "format",
    "auth",
    "protocol",
    "vendor",
    "product",
];

impl PoolSource {
    /// Reads `<source>` of a pool of type `pool_type`.
    pub fn from_element(el: &Element, pool_type: PoolType) -> Result<PoolSource, XmlError> {
        for name in [
            "dir",
            "adapter",
            "name",
            "initiator",
            "format",
            "auth",
            "protocol",
            "vendor",
            "product",
        ] {
            single(el, name)?;
        }
        let name = single_text(el, "name")?;
        if pool_type == PoolType::Rbd && name.is_none() {
            return Err(XmlError::missing("source", "name"));
        }
        let format = match pool_type.source_formats() {
            None => None,
            Some(choice) => match single(el, "format")?.and_then(|f| f.attr("type")) {
                None => Some(choice.default.to_string()),
                Some(t) => Some(choice.check("pool <format type>", t)?),
            },
        };
        let hosts = el
            .children_named("host")
            .map(parse_host)
            .collect::<Result<Vec<_>, _>>()?;
        let devices = el
            .children_named("device")
            .map(parse_device)
            .collect::<Result<Vec<_>, _>>()?;
        let mut dir = single(el, "dir")?
            .and_then(|d| attr_string(d, "path"))
            .map(|p| sanitize_path(&p));
        if dir.is_none() && pool_type == PoolType::Gluster {
            dir = Some("/".to_string());
        }
        let adapter = single(el, "adapter")?.map(parse_adapter).transpose()?;
        let initiator_iqn = match single(el, "initiator")? {
            None => None,
            Some(i) => single(i, "iqn")?.and_then(|q| attr_string(q, "name")),
        };
        let auth = single(el, "auth")?.map(Auth::from_element).transpose()?;
        let protocol_ver = single(el, "protocol")?.and_then(|p| attr_string(p, "ver"));
        if let Some(ver) = &protocol_ver {
            check_protocol_ver(ver, pool_type, format.as_deref())?;
        }
        Ok(PoolSource {
            hosts,
            devices,
            dir,
            adapter,
            name,
            initiator_iqn,
            format,
            auth,
            protocol_ver,
            vendor: single(el, "vendor")?.and_then(|v| attr_string(v, "name")),
            product: single(el, "product")?.and_then(|p| attr_string(p, "name")),
            extra: unknown_children(el, KNOWN),
        })
    }

    /// The `<source>` element in libvirt's order, with only the parts the
    /// pool type uses.
    pub fn to_element(&self, pool_type: PoolType) -> Element {
        let parts = pool_type.source_parts();
        let mut el = Element::new("source");
        if parts.host {
            for host in &self.hosts {
                el.push(
                    Element::new("host")
                        .with_attr("name", host.name.clone())
                        .with_opt_attr("port", host.port.map(|p| p.to_string())),
                );
            }
        }
        if parts.device {
            for dev in &self.devices {
                let mut d = Element::new("device")
                    .with_attr("path", dev.path.clone())
                    .with_opt_attr("part_separator", dev.part_separator.map(yes_no_str));
                for ext in &dev.free_extents {
                    d.push(
                        Element::new("freeExtent")
                            .with_attr("start", ext.start.to_string())
                            .with_attr("end", ext.end.to_string()),
                    );
                }
                el.push(d);
            }
        }
        if parts.dir {
            if let Some(dir) = &self.dir {
                el.push(Element::new("dir").with_attr("path", dir.clone()));
            }
        }
        if parts.adapter {
            el.push_opt(self.adapter.as_ref().map(adapter_element));
        }
        if parts.name {
            el.push_opt(self.name.as_ref().map(|n| text_element("name", n.clone())));
        }
        if parts.initiator_iqn {
            if let Some(iqn) = &self.initiator_iqn {
                el.push(
                    Element::new("initiator")
                        .with_child(Element::new("iqn").with_attr("name", iqn.clone())),
                );
            }
        }
        if pool_type.source_formats().is_some() {
            if let Some(format) = &self.format {
                el.push(Element::new("format").with_attr("type", format.clone()));
            }
        }
        el.push_opt(self.auth.as_ref().map(Auth::to_element));
        if let Some(ver) = &self.protocol_ver {
            el.push(Element::new("protocol").with_attr("ver", ver.clone()));
        }
        if let Some(vendor) = &self.vendor {
            el.push(Element::new("vendor").with_attr("name", vendor.clone()));
        }
        if let Some(product) = &self.product {
            el.push(Element::new("product").with_attr("name", product.clone()));
        }
        for extra in &self.extra {
            el.push(extra.clone());
        }
        if el.children.is_empty() {
            // libvirt always writes an open and a close tag here, the close
            // one on its own line at <pool>'s child depth: keep dumpxml
            // output identical to virsh's.
            el.children.push(Node::Text("\n  ".to_string()));
        }
        el
    }
}

fn parse_host(el: &Element) -> Result<SourceHost, XmlError> {
    let name = attr_string(el, "name").ok_or_else(|| XmlError::MissingAttribute {
        element: "host".into(),
        attribute: "name".into(),
    })?;
    let port = match el.attr("port") {
        None => None,
        Some(p) => {
            let port: u16 = p.trim().parse().map_err(|_| {
                XmlError::invalid("<host port>", p, "expected a port number 0-65535")
            })?;
            // libvirt treats port 0 as "not given".
            (port != 0).then_some(port)
        }
    };
    Ok(SourceHost { name, port })
}

fn parse_device(el: &Element) -> Result<SourceDevice, XmlError> {
    let path = attr_string(el, "path").ok_or_else(|| XmlError::MissingAttribute {
        element: "device".into(),
        attribute: "path".into(),
    })?;
    // <freeExtent> children are state the backend computes: libvirt ignores
    // them in a definition, and so does this model.
    Ok(SourceDevice {
        path,
        part_separator: yes_no(el, "part_separator")?,
        free_extents: Vec::new(),
    })
}

fn check_protocol_ver(
    ver: &str,
    pool_type: PoolType,
    format: Option<&str>,
) -> Result<(), XmlError> {
    let numeric = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let well_formed = match ver.split_once('.') {
        Some((major, minor)) => numeric(major) && numeric(minor),
        None => numeric(ver),
    };
    if !well_formed {
        return Err(XmlError::invalid(
            "<protocol ver>",
            ver,
            "expected a version such as 3, 4 or 4.1",
        ));
    }
    let nfs_capable = match pool_type {
        PoolType::Netfs => matches!(format, Some("nfs") | Some("auto") | None),
        other => other.source_formats().is_none(),
    };
    if !nfs_capable {
        return Err(XmlError::Unsupported(format!(
            "storage pool protocol ver unsupported for pool format '{}'",
            format.unwrap_or(pool_type.as_str())
        )));
    }
    Ok(())
}

/// Checks a world wide name: 16 hex digits, optionally after `0x`.
fn check_wwn(what: &str, value: &str) -> Result<(), XmlError> {
    let digits = value
        .strip_prefix("0x")
        .or_else(|| value.strip_prefix("0X"))
        .unwrap_or(value);
    if digits.len() != 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(XmlError::invalid(
            format!("<adapter {what}>"),
            value,
            "a WWN is 16 hexadecimal digits",
        ));
    }
    Ok(())
}

fn parse_adapter(el: &Element) -> Result<Adapter, XmlError> {
    match el.attr("type") {
        None => {
            // Before 'type' existed an adapter was a scsi_host named by 'name'.
            if el.attr("wwnn").is_some() || el.attr("wwpn").is_some() || el.attr("parent").is_some()
            {
                return Err(XmlError::Conflict(
                    "use of 'wwnn', 'wwpn' and 'parent' on <adapter> requires its 'type'".into(),
                ));
            }
            if el.child("parentaddr").is_some() {
                return Err(XmlError::Conflict(
                    "use of <parentaddr> requires the adapter 'type'".into(),
                ));
            }
            let name =
                attr_string(el, "name").ok_or_else(|| XmlError::missing("source", "adapter"))?;
            Ok(Adapter::ScsiHost(ScsiHost::Name(name)))
        }
        Some("scsi_host") => parse_scsi_host(el).map(Adapter::ScsiHost),
        Some("fc_host") => parse_fc_host(el).map(Adapter::FcHost),
        Some(other) => Err(XmlError::invalid(
            "<adapter type>",
            other,
            "expected 'scsi_host' or 'fc_host'",
        )),
    }
}

fn parse_scsi_host(el: &Element) -> Result<ScsiHost, XmlError> {
    let name = attr_string(el, "name");
    let parent = single(el, "parentaddr")?;
    match (name, parent) {
        (Some(name), None) => Ok(ScsiHost::Name(name)),
        (Some(_), Some(_)) => Err(XmlError::Conflict(
            "a 'scsi_host' adapter takes either 'name' or <parentaddr>, not both".into(),
        )),
        (None, None) => Err(XmlError::MissingAttribute {
            element: "adapter".into(),
            attribute: "name".into(),
        }),
        (None, Some(parent)) => {
            let addr = single(parent, "address")?
                .ok_or_else(|| XmlError::missing("parentaddr", "address"))?;
            let unique_id = parent
                .attr("unique_id")
                .ok_or_else(|| XmlError::MissingAttribute {
                    element: "parentaddr".into(),
                    attribute: "unique_id".into(),
                })?;
            let unique_id = unique_id
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|v| i32::try_from(*v).is_ok())
                .ok_or_else(|| {
                    XmlError::invalid(
                        "<parentaddr unique_id>",
                        unique_id,
                        "expected a non-negative integer",
                    )
                })?;
            Ok(ScsiHost::ParentAddr {
                unique_id,
                address: parse_pci_address(addr)?,
            })
        }
    }
}

fn parse_pci_address(el: &Element) -> Result<PciAddress, XmlError> {
    let field = |name: &str, max: u64| -> Result<u32, XmlError> {
        match el.attr(name) {
            None => Ok(0),
            Some(v) => parse_c_uint(v)
                .filter(|n| *n <= max)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    XmlError::invalid(
                        format!("PCI address {name}"),
                        v,
                        format!("expected a number up to {max:#x}"),
                    )
                }),
        }
    };
    Ok(PciAddress {
        domain: field("domain", 0xffff)?,
        bus: field("bus", 0xff)?,
        slot: field("slot", 0x1f)?,
        function: field("function", 7)?,
    })
}

fn parse_fc_host(el: &Element) -> Result<FcHost, XmlError> {
    let required = |name: &str| {
        attr_string(el, name).ok_or_else(|| XmlError::MissingAttribute {
            element: "adapter".into(),
            attribute: name.into(),
        })
    };
    let host = FcHost {
        parent: attr_string(el, "parent"),
        parent_wwnn: attr_string(el, "parent_wwnn"),
        parent_wwpn: attr_string(el, "parent_wwpn"),
        parent_fabric_wwn: attr_string(el, "parent_fabric_wwn"),
        managed: yes_no(el, "managed")?,
        wwnn: required("wwnn")?,
        wwpn: required("wwpn")?,
    };
    check_wwn("wwnn", &host.wwnn)?;
    check_wwn("wwpn", &host.wwpn)?;
    match (&host.parent_wwnn, &host.parent_wwpn) {
        (Some(n), Some(p)) => {
            check_wwn("parent_wwnn", n)?;
            check_wwn("parent_wwpn", p)?;
        }
        (None, None) => {}
        _ => {
            return Err(XmlError::Conflict(
                "'parent_wwnn' and 'parent_wwpn' must be given together".into(),
            ))
        }
    }
    if let Some(f) = &host.parent_fabric_wwn {
        check_wwn("parent_fabric_wwn", f)?;
    }
    Ok(host)
}

fn adapter_element(adapter: &Adapter) -> Element {
    match adapter {
        Adapter::ScsiHost(ScsiHost::Name(name)) => Element::new("adapter")
            .with_attr("type", "scsi_host")
            .with_attr("name", name.clone()),
        Adapter::ScsiHost(ScsiHost::ParentAddr { unique_id, address }) => {
            let addr = Element::new("address")
                .with_attr("domain", format!("0x{:04x}", address.domain))
                .with_attr("bus", format!("0x{:02x}", address.bus))
                .with_attr("slot", format!("0x{:02x}", address.slot))
                .with_attr("function", format!("0x{}", address.function));
            Element::new("adapter")
                .with_attr("type", "scsi_host")
                .with_child(
                    Element::new("parentaddr")
                        .with_attr("unique_id", unique_id.to_string())
                        .with_child(addr),
                )
        }
        Adapter::FcHost(fc) => Element::new("adapter")
            .with_attr("type", "fc_host")
            .with_opt_attr("parent", fc.parent.clone())
            .with_opt_attr("parent_wwnn", fc.parent_wwnn.clone())
            .with_opt_attr("parent_wwpn", fc.parent_wwpn.clone())
            .with_opt_attr("parent_fabric_wwn", fc.parent_fabric_wwn.clone())
            .with_opt_attr("managed", fc.managed.map(yes_no_str))
            .with_attr("wwnn", fc.wwnn.clone())
            .with_attr("wwpn", fc.wwpn.clone()),
    }
}
