//! `<domain>` facts and edits: memory, vCPUs, defaults filled on define.

use super::edit::{child_mut, edit_child, ensure_uuid, scaled, set_text};
use crate::api::ApiError;
use crate::xml::tree::Node;
use crate::xml::{Domain, Element, MacAddr};

/// Elements that come before `<memory>` in libvirt's layout.
const BEFORE_MEMORY: &[&str] = &[
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
];

/// A domain definition checked by the model, with its UUID and the MAC
/// addresses of its interfaces filled in as libvirt does on define.
pub fn prepare(xml: &str) -> Result<(Element, String), ApiError> {
    Domain::parse(xml)?;
    let mut el = crate::xml::parse_root(xml, "domain")?;
    let uuid = ensure_uuid(&mut el)?;
    fill_macs(&mut el);
    Ok((el, uuid))
}

/// Re-checks an edited definition with the model and formats it canonically.
pub fn canonical(el: &Element) -> Result<String, ApiError> {
    Ok(Domain::parse(&el.to_xml())?.to_xml())
}

fn fill_macs(el: &mut Element) {
    let Some(devices) = child_mut(el, "devices") else {
        return;
    };
    for node in devices.children.iter_mut() {
        if let Node::Element(iface) = node {
            if iface.name == "interface" && iface.child("mac").is_none() {
                let mac =
                    Element::new("mac").with_attr("address", MacAddr::random_kvm().to_string());
                iface.children.insert(0, Node::Element(mac));
            }
        }
    }
}

/// The domain's name (validated by [`prepare`]).
pub fn name(el: &Element) -> String {
    el.child_text("name").unwrap_or_default()
}

/// `<os><type>`, `hvm` when absent.
pub fn os_type(el: &Element) -> String {
    el.child("os")
        .and_then(|os| os.child_text("type"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| "hvm".to_string())
}

/// `<title>`, if any.
pub fn title(el: &Element) -> Option<String> {
    el.child_text("title").filter(|t| !t.is_empty())
}

/// `<memory>` in KiB (0 when absent or unreadable).
pub fn max_memory_kib(el: &Element) -> u64 {
    el.child("memory")
        .and_then(|m| scaled(m, "KiB").ok())
        .map_or(0, |b| b / 1024)
}

/// `<currentMemory>` in KiB, `<memory>` when absent.
pub fn memory_kib(el: &Element) -> u64 {
    el.child("currentMemory")
        .and_then(|m| scaled(m, "KiB").ok())
        .map_or_else(|| max_memory_kib(el), |b| b / 1024)
}

/// `(current, maximum)` vCPU counts from `<vcpu current='N'>MAX</vcpu>`.
pub fn vcpus(el: &Element) -> (u32, u32) {
    let Some(v) = el.child("vcpu") else {
        return (1, 1);
    };
    let max = v.text().trim().parse::<u32>().unwrap_or(1).max(1);
    let current = v
        .attr("current")
        .and_then(|c| c.trim().parse::<u32>().ok())
        .unwrap_or(max)
        .min(max);
    (current, max)
}

fn set_size(el: &mut Element, name: &str, after: &[&str], kib: u64) {
    edit_child(el, name, after, |m| {
        m.attrs.retain(|(k, _)| k != "unit");
        m.set_attr("unit", "KiB");
        set_text(m, kib.to_string());
    });
}

/// `setmaxmem`: sets `<memory>`, lowering `<currentMemory>` to fit.
pub fn set_max_memory(el: &mut Element, kib: u64) -> Result<(), ApiError> {
    if kib == 0 {
        return Err(ApiError::InvalidArg(
            "memory size must be greater than zero".into(),
        ));
    }
    let current = memory_kib(el);
    set_size(el, "memory", BEFORE_MEMORY, kib);
    if current > kib || el.child("currentMemory").is_some() {
        set_size(el, "currentMemory", &["memory"], current.min(kib));
    }
    Ok(())
}

/// `setmem`: sets `<currentMemory>`, which may not exceed `<memory>`.
pub fn set_memory(el: &mut Element, kib: u64) -> Result<(), ApiError> {
    if kib == 0 {
        return Err(ApiError::InvalidArg(
            "memory size must be greater than zero".into(),
        ));
    }
    let max = max_memory_kib(el);
    if kib > max {
        return Err(ApiError::InvalidArg(
            "cannot set memory higher than max memory".into(),
        ));
    }
    set_size(el, "currentMemory", &["memory"], kib);
    Ok(())
}

/// `setvcpus`: the current count (`maximum` false) or the maximum.
pub fn set_vcpus(el: &mut Element, count: u32, maximum: bool) -> Result<(), ApiError> {
    if count == 0 {
        return Err(ApiError::InvalidArg(
            "vcpus count must be greater than zero".into(),
        ));
    }
    let (current, max) = vcpus(el);
    let (new_current, new_max) = if maximum {
        (current.min(count), count)
    } else {
        if count > max {
            return Err(ApiError::InvalidArg(format!(
                "requested vcpus is greater than max allowable vcpus for the domain: {count} > {max}"
            )));
        }
        (count, max)
    };
    edit_child(
        el,
        "vcpu",
        &[
            "memory",
            "currentMemory",
            "blkiotune",
            "memtune",
            "memoryBacking",
        ],
        |v| {
            v.attrs.retain(|(k, _)| k != "current");
            if new_current != new_max {
                v.set_attr("current", new_current.to_string());
            }
            set_text(v, new_max.to_string());
        },
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dom(body: &str) -> Element {
        let xml =
            format!("<domain type='kvm'><name>d</name><os><type>hvm</type></os>{body}</domain>");
        prepare(&xml).expect("valid domain").0
    }

    #[test]
    fn fills_uuid_and_macs() {
        let el = dom(
            "<memory>1024</memory><devices><interface type='network'><source network='default'/></interface></devices>",
        );
        assert!(el.child("uuid").is_some());
        let mac = el
            .child("devices")
            .and_then(|d| d.child("interface"))
            .and_then(|i| i.child("mac"))
            .and_then(|m| m.attr("address"))
            .unwrap_or("");
        assert!(mac.starts_with("52:54:00:"), "{mac}");
    }

    #[test]
    fn memory_and_vcpus_edits() {
        let mut el = dom("<memory unit='MiB'>1024</memory><vcpu current='1'>4</vcpu>");
        assert_eq!(max_memory_kib(&el), 1024 * 1024);
        assert_eq!(memory_kib(&el), 1024 * 1024);
        assert_eq!(vcpus(&el), (1, 4));
        assert!(set_memory(&mut el, 2 * 1024 * 1024).is_err());
        set_memory(&mut el, 512 * 1024).expect("fits");
        assert_eq!(memory_kib(&el), 512 * 1024);
        set_max_memory(&mut el, 256 * 1024).expect("valid");
        assert_eq!(memory_kib(&el), 256 * 1024);
        set_vcpus(&mut el, 3, false).expect("under max");
        assert_eq!(vcpus(&el), (3, 4));
        assert!(set_vcpus(&mut el, 8, false).is_err());
        set_vcpus(&mut el, 2, true).expect("valid");
        assert_eq!(vcpus(&el), (2, 2));
        assert!(canonical(&el).is_ok());
    }
}
