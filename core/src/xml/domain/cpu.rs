//! `<cpu>`, `<features>`, `<clock>` and `<pm>`: what the guest's platform
//! looks like.

use super::common::{normalize, parse_kib, xml_enum, yes_no, ElementReader, Extra};
use crate::xml::{Element, XmlError};

xml_enum! {
    /// `<cpu mode>`.
    CpuMode {
        /// A named model plus features.
        Custom = "custom",
        /// The host's model, expanded by libvirt.
        HostModel = "host-model",
        /// Everything the host CPU has.
        HostPassthrough = "host-passthrough",
        /// The hypervisor's maximum CPU.
        Maximum = "maximum",
    }
}

xml_enum! {
    /// `<feature policy>` inside `<cpu>`.
    CpuFeaturePolicy {
        /// Enabled even if the host lacks it.
        Force = "force",
        /// Enabled; the guest fails to start if the host lacks it.
        Require = "require",
        /// Enabled when the host has it.
        Optional = "optional",
        /// Disabled.
        Disable = "disable",
        /// The guest fails to start if the host has it.
        Forbid = "forbid",
    }
}

/// `<topology sockets dies cores threads>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CpuTopology {
    /// Sockets.
    pub sockets: u32,
    /// Dies per socket (libvirt writes it; default 1).
    pub dies: u32,
    /// Cores per die.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Unknown attributes (e.g. `clusters`).
    pub extra: Vec<(String, String)>,
}

/// One `<feature policy name>` of `<cpu>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuFeature {
    /// Policy; absent means `require` in custom mode.
    pub policy: Option<CpuFeaturePolicy>,
    /// CPUID feature name (e.g. `vmx`, `x2apic`).
    pub name: String,
}

/// `<cpu>`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Cpu {
    /// `mode`.
    pub mode: Option<CpuMode>,
    /// `match` (`minimum`, `exact`, `strict`).
    pub match_: Option<String>,
    /// `check` (`none`, `partial`, `full`).
    pub check: Option<String>,
    /// `migratable` (`on`/`off`).
    pub migratable: Option<String>,
    /// `<model>` text (e.g. `Skylake-Client`).
    pub model: Option<String>,
    /// `<model fallback>` (`allow`/`forbid`).
    pub model_fallback: Option<String>,
    /// `<model vendor_id>`.
    pub model_vendor_id: Option<String>,
    /// `<vendor>`.
    pub vendor: Option<String>,
    /// `<topology>`.
    pub topology: Option<CpuTopology>,
    /// `<feature>` elements in document order.
    pub features: Vec<CpuFeature>,
    /// `<numa>`, verbatim (cells with cpus, memory, distances).
    pub numa: Option<Element>,
    /// Unknown attributes and children (`<cache>`, `<maxphysaddr>`, ...).
    pub extra: Extra,
}

impl Cpu {
    /// Reads `<cpu>`.
    pub fn parse(el: &Element) -> Result<Cpu, XmlError> {
        let mut r = ElementReader::new(el);
        let mode = match r.attr("mode") {
            Some(m) => Some(m.parse::<CpuMode>().map_err(|_| {
                XmlError::invalid(
                    "<cpu mode>",
                    m,
                    "expected custom, host-model, host-passthrough or maximum",
                )
            })?),
            None => None,
        };
        let match_ = r.attr_string("match");
        let check = r.attr_string("check");
        let migratable = r.attr_string("migratable");
        let (model, model_fallback, model_vendor_id) = match r.child("model")? {
            Some(m) => {
                let mut mr = ElementReader::new(m);
                let fallback = mr.attr_string("fallback");
                let vendor_id = mr.attr_string("vendor_id");
                let text = mr.text();
                let rest = mr.finish();
                if !rest.is_empty() {
                    return Err(XmlError::Unsupported(
                        "unknown content in <cpu><model>".to_string(),
                    ));
                }
                ((!text.is_empty()).then_some(text), fallback, vendor_id)
            }
            None => (None, None, None),
        };
        let vendor = r.child_text("vendor")?;
        let topology = r.child("topology")?.map(parse_topology).transpose()?;
        let mut features = Vec::new();
        for f in r.children("feature") {
            let mut fr = ElementReader::new(f);
            let name = fr.req_attr("name")?.to_string();
            let policy = match fr.attr("policy") {
                Some(p) => Some(p.parse::<CpuFeaturePolicy>().map_err(|_| {
                    XmlError::invalid(
                        "<cpu><feature policy>",
                        p,
                        "expected force, require, optional, disable or forbid",
                    )
                })?),
                None => None,
            };
            if !fr.finish().is_empty() {
                return Err(XmlError::Unsupported(format!(
                    "unknown content in <cpu><feature name='{name}'>"
                )));
            }
            if features.iter().any(|x: &CpuFeature| x.name == name) {
                return Err(XmlError::Conflict(format!(
                    "CPU feature '{name}' specified more than once"
                )));
            }
            features.push(CpuFeature { policy, name });
        }
        let numa = r.child_verbatim("numa")?;
        Ok(Cpu {
            mode,
            match_,
            check,
            migratable,
            model,
            model_fallback,
            model_vendor_id,
            vendor,
            topology,
            features,
            numa,
            extra: r.finish(),
        })
    }

    /// Total memory of the `<numa>` cells in KiB, if there are cells.
    pub fn numa_memory_kib(&self) -> Result<Option<u64>, XmlError> {
        let Some(numa) = &self.numa else {
            return Ok(None);
        };
        let mut total: u64 = 0;
        let mut any = false;
        for cell in numa.children_named("cell") {
            let mem = cell.req_attr("memory")?;
            let kib = parse_kib("cell memory", mem, cell.attr("unit"))?;
            total = total
                .checked_add(kib)
                .ok_or_else(|| XmlError::invalid("NUMA memory", mem, "total overflows"))?;
            any = true;
        }
        Ok(any.then_some(total))
    }

    /// Formats `<cpu>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("cpu")
            .with_opt_attr("mode", self.mode.map(|m| m.as_str()))
            .with_opt_attr("match", self.match_.clone())
            .with_opt_attr("check", self.check.clone())
            .with_opt_attr("migratable", self.migratable.clone());
        self.extra.apply_attrs(&mut el);
        if self.model.is_some() || self.model_fallback.is_some() || self.model_vendor_id.is_some() {
            let mut m = Element::new("model")
                .with_opt_attr("fallback", self.model_fallback.clone())
                .with_opt_attr("vendor_id", self.model_vendor_id.clone());
            if let Some(t) = &self.model {
                m = m.with_text(t.clone());
            }
            el.push(m);
        }
        if let Some(v) = &self.vendor {
            el.push(Element::new("vendor").with_text(v.clone()));
        }
        if let Some(t) = &self.topology {
            let mut te = Element::new("topology")
                .with_attr("sockets", t.sockets.to_string())
                .with_attr("dies", t.dies.to_string())
                .with_attr("cores", t.cores.to_string())
                .with_attr("threads", t.threads.to_string());
            te.attrs.extend(t.extra.iter().cloned());
            el.push(te);
        }
        for c in &self.extra.children {
            el.push(c.clone());
        }
        for f in &self.features {
            el.push(
                Element::new("feature")
                    .with_opt_attr("policy", f.policy.map(|p| p.as_str()))
                    .with_attr("name", f.name.clone()),
            );
        }
        el.push_opt(self.numa.clone());
        if let Some(t) = &self.extra.text {
            el.children.push(crate::xml::tree::Node::Text(t.clone()));
        }
        el
    }
}

fn parse_topology(el: &Element) -> Result<CpuTopology, XmlError> {
    let mut r = ElementReader::new(el);
    let mut get = |name: &str, default: Option<u32>| -> Result<u32, XmlError> {
        let v = match r.attr(name) {
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                XmlError::invalid(
                    format!("<topology {name}>"),
                    v,
                    "expected a positive integer",
                )
            })?,
            None => default.ok_or_else(|| XmlError::MissingAttribute {
                element: "topology".to_string(),
                attribute: name.to_string(),
            })?,
        };
        if v == 0 {
            return Err(XmlError::invalid(
                format!("<topology {name}>"),
                "0",
                "CPU topology values must be at least 1",
            ));
        }
        Ok(v)
    };
    let sockets = get("sockets", None)?;
    let dies = get("dies", Some(1))?;
    let cores = get("cores", None)?;
    let threads = get("threads", None)?;
    let rest = r.finish();
    Ok(CpuTopology {
        sockets,
        dies,
        cores,
        threads,
        extra: rest.attrs,
    })
}

/// libvirt's order for `<features>` children; unknown ones go last.
const FEATURE_ORDER: &[&str] = &[
    "pae",
    "acpi",
    "apic",
    "hap",
    "viridian",
    "privnet",
    "hyperv",
    "kvm",
    "pvspinlock",
    "capabilities",
    "pmu",
    "vmport",
    "gic",
    "smm",
    "ioapic",
    "hpt",
    "vmcoreinfo",
    "htm",
    "nested-hv",
    "msrs",
    "ccf-assist",
    "xen",
    "cfpc",
    "sbbc",
    "ibs",
    "tcg",
    "async-teardown",
];

/// `<features>`: hypervisor features, each kept as its element (`<acpi/>`,
/// `<apic eoi='on'/>`, `<hyperv mode='custom'>...</hyperv>`, ...).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Features {
    /// The feature elements, in libvirt's order.
    pub entries: Vec<Element>,
}

impl Features {
    /// Reads `<features>`; a feature named twice is an error.
    pub fn parse(el: &Element) -> Result<Features, XmlError> {
        let mut entries: Vec<Element> = Vec::new();
        for f in el.elements() {
            if entries.iter().any(|e| e.name == f.name) {
                return Err(XmlError::Conflict(format!(
                    "feature <{}> specified more than once",
                    f.name
                )));
            }
            if let Some(state) = f.attr("state") {
                if !matches!(state, "on" | "off") {
                    return Err(XmlError::invalid(
                        format!("<features><{} state>", f.name),
                        state,
                        "expected 'on' or 'off'",
                    ));
                }
            }
            entries.push(normalize(f.clone()));
        }
        if !el.text().trim().is_empty() {
            return Err(XmlError::invalid(
                "<features>",
                el.text().trim(),
                "text is not allowed in <features>",
            ));
        }
        entries.sort_by_key(|e| feature_rank(&e.name));
        Ok(Features { entries })
    }

    /// The feature element called `name`.
    pub fn get(&self, name: &str) -> Option<&Element> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// True when feature `name` is present and not `state='off'`.
    pub fn enabled(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|e| e.attr("state") != Some("off"))
    }

    /// Formats `<features>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("features");
        let mut entries = self.entries.clone();
        entries.sort_by_key(|e| feature_rank(&e.name));
        for e in entries {
            el.push(e);
        }
        el
    }
}

fn feature_rank(name: &str) -> usize {
    FEATURE_ORDER
        .iter()
        .position(|n| *n == name)
        .unwrap_or(FEATURE_ORDER.len())
}

xml_enum! {
    /// `<clock offset>`.
    ClockOffset {
        /// The guest clock runs in UTC.
        Utc = "utc",
        /// The guest clock runs in the host's local time.
        Localtime = "localtime",
        /// The guest clock runs in the time zone `timezone`.
        Timezone = "timezone",
        /// An arbitrary offset (`adjustment`, `basis`).
        Variable = "variable",
        /// The guest decides (e.g. Windows' RTC).
        Absolute = "absolute",
    }
}

/// One `<timer>` of `<clock>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timer {
    /// Timer name (`rtc`, `pit`, `hpet`, `kvmclock`, `hypervclock`, `tsc`, ...).
    pub name: String,
    /// `present='yes|no'`.
    pub present: Option<bool>,
    /// `tickpolicy` (`delay`, `catchup`, `merge`, `discard`).
    pub tickpolicy: Option<String>,
    /// Unknown attributes (`track`, `frequency`, `mode`) and children (`<catchup>`).
    pub extra: Extra,
}

/// `<clock>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// How the guest clock relates to the host's.
    pub offset: ClockOffset,
    /// `timezone` for [`ClockOffset::Timezone`].
    pub timezone: Option<String>,
    /// `adjustment` in seconds (or `reset`) for variable/utc offsets.
    pub adjustment: Option<String>,
    /// `basis` (`utc`/`localtime`) for a variable offset.
    pub basis: Option<String>,
    /// `<timer>` elements.
    pub timers: Vec<Timer>,
    /// Unknown attributes and children.
    pub extra: Extra,
}

impl Clock {
    /// Reads `<clock>`.
    pub fn parse(el: &Element) -> Result<Clock, XmlError> {
        let mut r = ElementReader::new(el);
        let offset = match r.attr("offset") {
            Some(o) => o.parse::<ClockOffset>().map_err(|_| {
                XmlError::invalid(
                    "<clock offset>",
                    o,
                    "expected utc, localtime, timezone, variable or absolute",
                )
            })?,
            None => ClockOffset::Utc,
        };
        let timezone = r.attr_string("timezone");
        if offset == ClockOffset::Timezone && timezone.is_none() {
            return Err(XmlError::MissingAttribute {
                element: "clock".to_string(),
                attribute: "timezone".to_string(),
            });
        }
        let adjustment = r.attr_string("adjustment");
        let basis = r.attr_string("basis");
        let mut timers = Vec::new();
        for t in r.children("timer") {
            let mut tr = ElementReader::new(t);
            let name = tr.req_attr("name")?.to_string();
            let present = tr.attr_switch("present")?;
            let tickpolicy = tr.attr_string("tickpolicy");
            timers.push(Timer {
                name,
                present,
                tickpolicy,
                extra: tr.finish(),
            });
        }
        Ok(Clock {
            offset,
            timezone,
            adjustment,
            basis,
            timers,
            extra: r.finish(),
        })
    }

    /// Formats `<clock>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("clock")
            .with_attr("offset", self.offset.as_str())
            .with_opt_attr("timezone", self.timezone.clone())
            .with_opt_attr("adjustment", self.adjustment.clone())
            .with_opt_attr("basis", self.basis.clone());
        self.extra.apply_attrs(&mut el);
        for t in &self.timers {
            let mut te = Element::new("timer")
                .with_attr("name", t.name.clone())
                .with_opt_attr("present", t.present.map(yes_no))
                .with_opt_attr("tickpolicy", t.tickpolicy.clone());
            t.extra.apply(&mut te);
            el.push(te);
        }
        self.extra.apply_children(&mut el);
        el
    }
}

/// `<pm>`: guest-initiated power management.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pm {
    /// `<suspend-to-mem enabled>` (S3).
    pub suspend_to_mem: Option<bool>,
    /// `<suspend-to-disk enabled>` (S4).
    pub suspend_to_disk: Option<bool>,
    /// Unknown content.
    pub extra: Extra,
}

impl Pm {
    /// Reads `<pm>`.
    pub fn parse(el: &Element) -> Result<Pm, XmlError> {
        let mut r = ElementReader::new(el);
        let mut read = |name: &str| -> Result<Option<bool>, XmlError> {
            match r.child(name)? {
                Some(e) => ElementReader::new(e).attr_switch("enabled"),
                None => Ok(None),
            }
        };
        let suspend_to_mem = read("suspend-to-mem")?;
        let suspend_to_disk = read("suspend-to-disk")?;
        Ok(Pm {
            suspend_to_mem,
            suspend_to_disk,
            extra: r.finish(),
        })
    }

    /// Formats `<pm>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("pm");
        self.extra.apply_attrs(&mut el);
        for (name, v) in [
            ("suspend-to-mem", self.suspend_to_mem),
            ("suspend-to-disk", self.suspend_to_disk),
        ] {
            if let Some(v) = v {
                el.push(Element::new(name).with_attr("enabled", yes_no(v)));
            }
        }
        self.extra.apply_children(&mut el);
        el
    }
}
