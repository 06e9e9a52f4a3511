//! `<volume>` requests (what `vol-create` asks for) and the documents
//! `vol-dumpxml` shows.

use super::edit::scaled;
use crate::api::{ApiError, VolumeInfo};
use crate::xml::volume::{CapacityRule, ParseOptions};
use crate::xml::{Element, StorageVolume};

/// What a `<volume>` document asks to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeRequest {
    /// Name.
    pub name: String,
    /// Capacity in bytes (`None` when the document leaves it to a backing file).
    pub capacity: Option<u64>,
    /// Allocation in bytes, if given.
    pub allocation: Option<u64>,
    /// Format, if given.
    pub format: Option<String>,
    /// Backing store path.
    pub backing: Option<String>,
    /// Backing store format.
    pub backing_format: Option<String>,
    /// qcow2 `<compat>`.
    pub compat: Option<String>,
    /// qcow2 `<clusterSize>` in bytes.
    pub cluster_size: Option<u64>,
    /// qcow2 `<features><lazy_refcounts/>`.
    pub lazy_refcounts: bool,
    /// `<target><nocow/>`.
    pub nocow: bool,
}

/// Reads a `<volume>` document checked by the model.
pub fn parse_request(xml: &str) -> Result<VolumeRequest, ApiError> {
    let request = parse_request_lenient(xml)?;
    if request.capacity.is_none() && request.backing.is_none() {
        return Err(ApiError::Invalid("missing capacity element".to_string()));
    }
    Ok(request)
}

/// Reads a `<volume>` document whose capacity may be left to a source
/// volume (`vol-create-from`).
pub fn parse_request_lenient(xml: &str) -> Result<VolumeRequest, ApiError> {
    // Capacity is checked by the callers (a backing file or a source volume
    // may give it), so the model is asked to let it be absent.
    StorageVolume::parse_with(
        xml,
        ParseOptions {
            capacity: CapacityRule::Optional,
            ..ParseOptions::default()
        },
    )?;
    let el = crate::xml::parse_root(xml, "volume")?;
    let name = el.child_text("name").unwrap_or_default();
    let capacity = el
        .child("capacity")
        .map(|c| scaled(c, "bytes"))
        .transpose()?;
    let allocation = el
        .child("allocation")
        .map(|c| scaled(c, "bytes"))
        .transpose()?;
    let target = el.child("target");
    let format = target
        .and_then(|t| t.child("format"))
        .and_then(|f| f.attr("type"))
        .map(str::to_string);
    let backing_el = el.child("backingStore");
    let backing = backing_el.and_then(|b| b.child_text("path"));
    let backing_format = backing_el
        .and_then(|b| b.child("format"))
        .and_then(|f| f.attr("type"))
        .map(str::to_string);
    let compat = target.and_then(|t| t.child_text("compat"));
    let cluster_size = target
        .and_then(|t| t.child("clusterSize"))
        .map(|c| scaled(c, "bytes"))
        .transpose()?;
    let lazy_refcounts = target
        .and_then(|t| t.child("features"))
        .is_some_and(|f| f.child("lazy_refcounts").is_some());
    let nocow = target.is_some_and(|t| t.child("nocow").is_some());
    Ok(VolumeRequest {
        name,
        capacity,
        allocation,
        format,
        backing,
        backing_format,
        compat,
        cluster_size,
        lazy_refcounts,
        nocow,
    })
}

/// Extra facts shown by `vol-dumpxml` beside [`VolumeInfo`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeExtras {
    /// Bytes the file occupies (its length).
    pub physical: Option<u64>,
    /// Permissions: mode, owner, group.
    pub permissions: Option<(u32, u32, u32)>,
    /// Backing store format.
    pub backing_format: Option<String>,
    /// qcow2 compat level.
    pub compat: Option<String>,
    /// qcow2 cluster size.
    pub cluster_size: Option<u64>,
    /// qcow2 lazy refcounts.
    pub lazy_refcounts: bool,
}

fn bytes(name: &str, value: u64) -> Element {
    Element::new(name)
        .with_attr("unit", "bytes")
        .with_text(value.to_string())
}

/// The `<volume>` document for a volume, in libvirt's layout.
pub fn document(info: &VolumeInfo, extras: &VolumeExtras) -> String {
    let mut vol = Element::new("volume")
        .with_attr("type", info.kind.as_virsh())
        .with_child(Element::new("name").with_text(info.name.clone()))
        .with_child(Element::new("key").with_text(info.key.clone()))
        .with_child(bytes("capacity", info.capacity))
        .with_child(bytes("allocation", info.allocation));
    if let Some(p) = extras.physical {
        vol.push(bytes("physical", p));
    }
    let mut target = Element::new("target")
        .with_child(Element::new("path").with_text(info.path.clone()))
        .with_child(Element::new("format").with_attr("type", info.format.clone()));
    if let Some((mode, owner, group)) = extras.permissions {
        target.push(
            Element::new("permissions")
                .with_child(Element::new("mode").with_text(format!("{mode:04o}")))
                .with_child(Element::new("owner").with_text(owner.to_string()))
                .with_child(Element::new("group").with_text(group.to_string())),
        );
    }
    if let Some(compat) = &extras.compat {
        target.push(Element::new("compat").with_text(compat.clone()));
    }
    if let Some(cluster) = extras.cluster_size {
        target.push(
            Element::new("clusterSize")
                .with_attr("unit", "B")
                .with_text(cluster.to_string()),
        );
    }
    if extras.lazy_refcounts {
        target.push(Element::new("features").with_child(Element::new("lazy_refcounts")));
    }
    vol.push(target);
    if let Some(backing) = &info.backing {
        let mut store = Element::new("backingStore")
            .with_child(Element::new("path").with_text(backing.clone()));
        if let Some(fmt) = &extras.backing_format {
            store.push(Element::new("format").with_attr("type", fmt.clone()));
        }
        vol.push(store);
    }
    vol.to_xml()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_qcow2_request() {
        let xml = "<volume><name>a.qcow2</name><capacity unit='G'>1</capacity>\
            <target><format type='qcow2'/><compat>1.1</compat><clusterSize unit='KiB'>64</clusterSize>\
            <features><lazy_refcounts/></features></target></volume>";
        let r = parse_request(xml).expect("valid");
        assert_eq!(r.capacity, Some(1 << 30));
        assert_eq!(r.format.as_deref(), Some("qcow2"));
        assert_eq!(r.cluster_size, Some(65536));
        assert!(r.lazy_refcounts);
        assert!(parse_request("<volume><name>x</name></volume>").is_err());
    }

    #[test]
    fn capacity_may_come_from_a_backing_file_or_a_source_volume() {
        let backed = "<volume><name>b.qcow2</name><target><format type='qcow2'/></target>\
            <backingStore><path>/base.qcow2</path><format type='qcow2'/></backingStore></volume>";
        let r = parse_request(backed).expect("backing gives the size");
        assert_eq!(r.capacity, None);
        assert_eq!(r.backing.as_deref(), Some("/base.qcow2"));
        let copy = parse_request_lenient("<volume><name>copy.img</name></volume>")
            .expect("vol-create-from takes the source's size");
        assert_eq!(copy.capacity, None);
        assert!(parse_request_lenient("<volume><name>a/b</name></volume>").is_err());
    }
}
