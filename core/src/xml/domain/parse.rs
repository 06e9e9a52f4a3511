//! Reading a `<domain>` element into the typed model, with libvirt's checks.

use std::collections::HashSet;

use super::common::{normalize, parse_kib, parse_value, ElementReader};
use super::cpu::{Clock, Cpu, Features, Pm};
use super::devices::Devices;
use super::os::Os;
use super::{Domain, LifecycleAction, MaxMemory, VcpuPlacement};
use crate::xml::{ids, Element, XmlError};

/// Upper bound on memory sizes, as libvirt's `VIR_DOMAIN_MEMORY_PARSE_MAX`
/// (KiB that still fit in a signed 64-bit byte count).
const MAX_MEMORY_KIB: u64 = (i64::MAX as u64) / 1024;

/// Upper bound on vCPUs; libvirt's own limit for any driver is far below it.
const MAX_VCPUS: u32 = 16384;

pub(super) fn domain_from_element(root: &Element) -> Result<Domain, XmlError> {
    let mut r = ElementReader::new(root);
    let domain_type = r.req_attr("type")?.to_string();
    if domain_type.is_empty() {
        return Err(XmlError::invalid("<domain type>", "", "must not be empty"));
    }
    let id = r.attr_parse::<i64>("id")?;

    let name = r
        .child_text("name")?
        .ok_or_else(|| XmlError::missing("domain", "name"))?;
    ids::validate_name("domain", &name)?;
    let uuid = r
        .child_text("uuid")?
        .map(|u| ids::parse_uuid(&u))
        .transpose()?;
    let title = r.child("title")?.map(|t| t.text());
    if let Some(t) = &title {
        if t.contains('\n') {
            return Err(XmlError::invalid(
                "<title>",
                t.clone(),
                "a title cannot contain newlines",
            ));
        }
    }
    let description = r.child("description")?.map(|d| d.text());
    let metadata = r.child_verbatim("metadata")?;

    let max_memory = r.child("maxMemory")?.map(parse_max_memory).transpose()?;
    let (memory, memory_dump_core) = match r.child("memory")? {
        Some(m) => {
            let mut mr = ElementReader::new(m);
            let unit = mr.attr("unit");
            let dump = mr.attr_switch("dumpCore")?;
            let kib = checked_memory("memory", parse_kib("memory", &mr.text(), unit)?)?;
            let rest = mr.finish();
            if !rest.is_empty() {
                return Err(unsupported_in("memory", &rest));
            }
            (Some(kib), dump)
        }
        None => (None, None),
    };
    let current_memory_kib = r
        .child("currentMemory")?
        .map(|m| {
            checked_memory(
                "currentMemory",
                parse_kib("currentMemory", &m.text(), m.attr("unit"))?,
            )
        })
        .transpose()?;

    let (vcpus, vcpus_current, vcpu_placement, vcpu_cpuset) = match r.child("vcpu")? {
        Some(v) => parse_vcpu(v)?,
        None => (1, None, VcpuPlacement::Static, None),
    };

    // Without <os>, a domain started by a <bootloader> is a Xen PV guest
    // (libvirt's rule); anything else needs <os><type>.
    let os = match r.child("os")? {
        Some(os) => Os::parse(os)?,
        None if root.child("bootloader").is_some() => Os {
            os_type: "xen".to_string(),
            ..Os::default()
        },
        None => return Err(XmlError::missing("domain", "os")),
    };
    let features = r.child("features")?.map(Features::parse).transpose()?;
    let cpu = r.child("cpu")?.map(Cpu::parse).transpose()?;
    let clock = r.child("clock")?.map(Clock::parse).transpose()?;
    let on_poweroff = lifecycle(&mut r, "on_poweroff", LifecycleAction::Destroy)?;
    let on_reboot = lifecycle(&mut r, "on_reboot", LifecycleAction::Restart)?;
    let on_crash = lifecycle(&mut r, "on_crash", LifecycleAction::Destroy)?;
    for (what, action) in [("on_poweroff", on_poweroff), ("on_reboot", on_reboot)] {
        if matches!(
            action,
            LifecycleAction::CoredumpDestroy | LifecycleAction::CoredumpRestart
        ) {
            return Err(XmlError::invalid(
                format!("<{what}>"),
                action.as_str(),
                "coredump actions are only valid for <on_crash>",
            ));
        }
    }
    let pm = r.child("pm")?.map(Pm::parse).transpose()?;
    let devices = match r.child("devices")? {
        Some(d) => Devices::parse(d)?,
        None => Devices::default(),
    };

    // libvirt computes the memory size from the NUMA cells when <memory> is absent.
    let memory_kib = match memory {
        Some(m) => m,
        None => match cpu
            .as_ref()
            .map(Cpu::numa_memory_kib)
            .transpose()?
            .flatten()
        {
            Some(m) => checked_memory("memory", m)?,
            None => return Err(XmlError::missing("domain", "memory")),
        },
    };
    if let Some(cur) = current_memory_kib {
        if cur > memory_kib {
            return Err(XmlError::Conflict(format!(
                "<currentMemory> ({cur} KiB) is larger than <memory> ({memory_kib} KiB)"
            )));
        }
    }
    if let Some(max) = &max_memory {
        if max.kib < memory_kib {
            return Err(XmlError::Conflict(format!(
                "<maxMemory> ({} KiB) is smaller than <memory> ({memory_kib} KiB)",
                max.kib
            )));
        }
    }

    let rest = r.finish();
    if let Some(text) = rest.text {
        return Err(XmlError::invalid(
            "<domain> content",
            text,
            "text is not allowed directly inside <domain>",
        ));
    }
    let dom = Domain {
        domain_type,
        id,
        name,
        uuid,
        title,
        description,
        metadata,
        max_memory,
        memory_kib,
        memory_dump_core,
        current_memory_kib,
        vcpus,
        vcpus_current,
        vcpu_placement,
        vcpu_cpuset,
        os,
        features,
        cpu,
        clock,
        on_poweroff,
        on_reboot,
        on_crash,
        pm,
        devices,
        other: {
            let mut other: Vec<Element> = rest.children.into_iter().map(normalize).collect();
            other.sort_by_key(|e| super::format::rank(&e.name));
            other
        },
        extra_attrs: rest.attrs,
    };
    check_boot_order(&dom)?;
    Ok(dom)
}

fn unsupported_in(element: &str, rest: &super::Extra) -> XmlError {
    let what = rest
        .attrs
        .first()
        .map(|(k, _)| format!("attribute '{k}'"))
        .or_else(|| {
            rest.children
                .first()
                .map(|c| format!("element <{}>", c.name))
        })
        .unwrap_or_else(|| "text".to_string());
    XmlError::Unsupported(format!("{what} in <{element}>"))
}

fn checked_memory(what: &str, kib: u64) -> Result<u64, XmlError> {
    if kib > MAX_MEMORY_KIB {
        return Err(XmlError::invalid(
            format!("<{what}>"),
            format!("{kib} KiB"),
            "memory size is too large",
        ));
    }
    Ok(kib)
}

fn parse_max_memory(el: &Element) -> Result<MaxMemory, XmlError> {
    let mut r = ElementReader::new(el);
    let unit = r.attr("unit");
    let slots = r.attr_parse::<u32>("slots")?;
    let kib = checked_memory("maxMemory", parse_kib("maxMemory", &r.text(), unit)?)?;
    let rest = r.finish();
    if !rest.children.is_empty() {
        return Err(unsupported_in("maxMemory", &rest));
    }
    Ok(MaxMemory {
        kib,
        slots,
        extra: rest.attrs,
    })
}

type VcpuParts = (u32, Option<u32>, VcpuPlacement, Option<String>);

fn parse_vcpu(el: &Element) -> Result<VcpuParts, XmlError> {
    let mut r = ElementReader::new(el);
    let placement = r
        .attr_enum::<VcpuPlacement>("placement")?
        .unwrap_or(VcpuPlacement::Static);
    let cpuset = r.attr_string("cpuset");
    if let Some(set) = &cpuset {
        check_cpuset(set)?;
    }
    let current = r.attr_parse::<u32>("current")?;
    let text = r.text();
    let count: u32 = parse_value("vcpu", "count", &text)
        .map_err(|_| XmlError::invalid("<vcpu>", text.clone(), "expected a positive integer"))?;
    if count == 0 {
        return Err(XmlError::invalid(
            "<vcpu>",
            "0",
            "a domain needs at least one vCPU",
        ));
    }
    if count > MAX_VCPUS {
        return Err(XmlError::invalid(
            "<vcpu>",
            text,
            format!("at most {MAX_VCPUS} vCPUs are supported"),
        ));
    }
    if let Some(cur) = current {
        if cur == 0 || cur > count {
            return Err(XmlError::invalid(
                "<vcpu current>",
                cur.to_string(),
                "must be between 1 and the number of vCPUs",
            ));
        }
    }
    let rest = r.finish();
    if !rest.is_empty() {
        return Err(unsupported_in("vcpu", &rest));
    }
    Ok((count, current, placement, cpuset))
}

/// Checks a CPU set such as `0-3,^2,8` as libvirt's `virBitmapParse` does.
pub(super) fn check_cpuset(set: &str) -> Result<(), XmlError> {
    let bad = |why: &str| XmlError::invalid("cpuset", set, why.to_string());
    if set.trim().is_empty() {
        return Err(bad("empty CPU set"));
    }
    for part in set.split(',') {
        let part = part.trim();
        let part = part.strip_prefix('^').unwrap_or(part);
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a, b),
            None => (part, part),
        };
        let a: u32 = a.trim().parse().map_err(|_| bad("not a CPU number"))?;
        let b: u32 = b.trim().parse().map_err(|_| bad("not a CPU number"))?;
        if a > b {
            return Err(bad("range end is below its start"));
        }
    }
    Ok(())
}

fn lifecycle(
    r: &mut ElementReader<'_>,
    name: &str,
    default: LifecycleAction,
) -> Result<LifecycleAction, XmlError> {
    match r.child_text(name)? {
        Some(t) => t.parse().map_err(|_| {
            XmlError::invalid(
                format!("<{name}>"),
                t,
                "expected destroy, restart, preserve, rename-restart, coredump-destroy or coredump-restart",
            )
        }),
        None => Ok(default),
    }
}

/// Per-device `<boot order>` excludes `<os><boot dev>`, and each order is
/// used once (libvirt's rules).
fn check_boot_order(dom: &Domain) -> Result<(), XmlError> {
    let orders = dom.devices.boot_orders();
    if !orders.is_empty() && !dom.os.boot.is_empty() {
        return Err(XmlError::Conflict(
            "per-device <boot order> elements cannot be used together with <os><boot dev>"
                .to_string(),
        ));
    }
    let mut seen: HashSet<u32> = HashSet::new();
    for o in orders {
        if !seen.insert(o) {
            return Err(XmlError::Conflict(format!(
                "boot order {o} is already used by another device"
            )));
        }
    }
    Ok(())
}
