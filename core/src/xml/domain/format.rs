//! Writing a [`Domain`] back as libvirt does: its element order, the
//! defaults it always writes, sizes in KiB.

use super::common::{kib_element, on_off};
use super::Domain;
use crate::xml::Element;

/// libvirt's order of the top-level elements of `<domain>`. Typed fields are
/// written at their slot; verbatim elements ([`Domain::other`]) at the slot
/// of their name, unknown names at the end (namespaced extensions).
const TOP_LEVEL_ORDER: &[&str] = &[
    "name",
    "uuid",
    "genid",
    "title",
    "description",
    "metadata",
    "maxMemory",
    "memory",
    "currentMemory",
    "blkiotune",
    "memtune",
    "memoryBacking",
    "vcpu",
    "vcpus",
    "iothreads",
    "iothreadids",
    "defaultiothread",
    "cputune",
    "numatune",
    "resource",
    "sysinfo",
    "bootloader",
    "bootloader_args",
    "os",
    "idmap",
    "features",
    "cpu",
    "clock",
    "on_poweroff",
    "on_reboot",
    "on_crash",
    "on_lockfailure",
    "pm",
    "perf",
    "devices",
    "seclabel",
    "keywrap",
    "launchSecurity",
];

pub(super) fn rank(name: &str) -> usize {
    TOP_LEVEL_ORDER
        .iter()
        .position(|n| *n == name)
        .unwrap_or(TOP_LEVEL_ORDER.len())
}

pub(super) fn domain_to_element(d: &Domain) -> Element {
    let mut typed: Vec<Element> = Vec::new();
    typed.push(Element::new("name").with_text(d.name.clone()));
    if let Some(u) = d.uuid {
        typed.push(Element::new("uuid").with_text(u.hyphenated().to_string()));
    }
    if let Some(t) = &d.title {
        typed.push(Element::new("title").with_text(t.clone()));
    }
    if let Some(t) = &d.description {
        typed.push(Element::new("description").with_text(t.clone()));
    }
    if let Some(m) = &d.metadata {
        typed.push(m.clone());
    }
    if let Some(m) = &d.max_memory {
        let mut e =
            Element::new("maxMemory").with_opt_attr("slots", m.slots.map(|s| s.to_string()));
        e.attrs.extend(m.extra.iter().cloned());
        typed.push(e.with_attr("unit", "KiB").with_text(m.kib.to_string()));
    }
    let mut mem = Element::new("memory");
    if let Some(dc) = d.memory_dump_core {
        mem = mem.with_attr("dumpCore", on_off(dc));
    }
    typed.push(
        mem.with_attr("unit", "KiB")
            .with_text(d.memory_kib.to_string()),
    );
    if let Some(c) = d.current_memory_kib {
        typed.push(kib_element("currentMemory", c));
    }
    typed.push(
        Element::new("vcpu")
            .with_attr("placement", d.vcpu_placement.as_str())
            .with_opt_attr("cpuset", d.vcpu_cpuset.clone())
            .with_opt_attr("current", d.vcpus_current.map(|c| c.to_string()))
            .with_text(d.vcpus.to_string()),
    );
    typed.push(d.os.to_element());
    if let Some(f) = &d.features {
        typed.push(f.to_element());
    }
    if let Some(c) = &d.cpu {
        typed.push(c.to_element());
    }
    if let Some(c) = &d.clock {
        typed.push(c.to_element());
    }
    typed.push(Element::new("on_poweroff").with_text(d.on_poweroff.as_str()));
    typed.push(Element::new("on_reboot").with_text(d.on_reboot.as_str()));
    typed.push(Element::new("on_crash").with_text(d.on_crash.as_str()));
    if let Some(p) = &d.pm {
        typed.push(p.to_element());
    }
    typed.push(d.devices.to_element());

    let mut all: Vec<(usize, Element)> = typed.into_iter().map(|e| (rank(&e.name), e)).collect();
    all.extend(d.other.iter().map(|e| (rank(&e.name), e.clone())));
    // Stable: typed elements come before verbatim ones of the same slot, and
    // verbatim ones keep their document order.
    all.sort_by_key(|(r, _)| *r);

    let mut root = Element::new("domain").with_attr("type", d.domain_type.clone());
    if let Some(id) = d.id {
        root = root.with_attr("id", id.to_string());
    }
    root.attrs.extend(d.extra_attrs.iter().cloned());
    for (_, e) in all {
        root.push(e);
    }
    root
}
