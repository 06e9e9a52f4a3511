//! Per-port settings shared by networks and their port groups: `<vlan>`,
//! `<virtualport>`, `<bandwidth>`, and `<portgroup>` itself.

use uuid::Uuid;

use super::values::{self, tristate, yes_no};
use crate::xml::{ids, Element, XmlError};

/// How a native VLAN is carried on a trunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NativeMode {
    /// `tagged`
    Tagged,
    /// `untagged`
    Untagged,
}

/// One `<tag id=... nativeMode=...>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VlanTag {
    /// VLAN id (0-4095).
    pub id: u16,
    /// Set on the native VLAN of a trunk.
    pub native_mode: Option<NativeMode>,
}

/// `<vlan trunk=...>`: VLAN tagging of guest ports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vlan {
    /// True for a trunk (always when more than one tag).
    pub trunk: bool,
    /// The tags (at least one).
    pub tags: Vec<VlanTag>,
}

impl Vlan {
    /// Parses `<vlan>`.
    pub fn parse(el: &Element) -> Result<Vlan, XmlError> {
        let mut tags = Vec::new();
        let mut has_native = false;
        for t in el.children_named("tag") {
            let raw = t.req_attr("id")?;
            let id: u32 = values::number(t, "id")?.unwrap_or_default();
            if id > 4095 {
                return Err(XmlError::invalid(
                    "<vlan><tag id>",
                    raw,
                    "vlan tag id too large (maximum 4095)",
                ));
            }
            let native_mode = match t.attr("nativeMode") {
                None => None,
                Some("tagged") => Some(NativeMode::Tagged),
                Some("untagged") => Some(NativeMode::Untagged),
                Some(other) => {
                    return Err(XmlError::invalid(
                        "<tag nativeMode>",
                        other,
                        "expected 'tagged' or 'untagged'",
                    ))
                }
            };
            if native_mode.is_some() {
                if has_native {
                    return Err(XmlError::Conflict(
                        "duplicate native vlan setting in <vlan>".into(),
                    ));
                }
                has_native = true;
            }
            tags.push(VlanTag {
                // At most 4095 after the check above.
                id: id as u16,
                native_mode,
            });
        }
        if tags.is_empty() {
            return Err(XmlError::missing("vlan", "tag"));
        }
        let mut trunk = tags.len() > 1;
        if let Some(raw) = el.attr("trunk") {
            if raw.eq_ignore_ascii_case("yes") {
                trunk = true;
            } else if !raw.eq_ignore_ascii_case("no") {
                return Err(XmlError::invalid("<vlan trunk>", raw, "must be yes or no"));
            } else if tags.len() > 1 {
                return Err(XmlError::Conflict(
                    "trunk='yes' is required in <vlan> for more than one vlan tag".into(),
                ));
            } else if has_native {
                return Err(XmlError::Conflict(
                    "trunk='no' is not allowed in <vlan> with a native vlan id".into(),
                ));
            }
        }
        Ok(Vlan { trunk, tags })
    }

    /// Formats `<vlan>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("vlan").with_opt_attr("trunk", self.trunk.then_some("yes"));
        for t in &self.tags {
            el.push(
                Element::new("tag")
                    .with_attr("id", t.id.to_string())
                    .with_opt_attr(
                        "nativeMode",
                        t.native_mode.map(|m| match m {
                            NativeMode::Tagged => "tagged",
                            NativeMode::Untagged => "untagged",
                        }),
                    ),
            );
        }
        el
    }
}

/// The `type` of a `<virtualport>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VirtualPortType {
    /// `802.1Qbg` (VEPA with a switch manager).
    Qbg,
    /// `802.1Qbh` (port profiles).
    Qbh,
    /// `openvswitch`
    OpenVSwitch,
    /// `midonet`
    Midonet,
}

impl VirtualPortType {
    fn as_str(self) -> &'static str {
        match self {
            VirtualPortType::Qbg => "802.1Qbg",
            VirtualPortType::Qbh => "802.1Qbh",
            VirtualPortType::OpenVSwitch => "openvswitch",
            VirtualPortType::Midonet => "midonet",
        }
    }
}

/// `<virtualport type=...><parameters .../></virtualport>`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VirtualPort {
    /// Port type; may be absent inside a port group.
    pub kind: Option<VirtualPortType>,
    /// 802.1Qbg manager id (0-255).
    pub manager_id: Option<u8>,
    /// 802.1Qbg type id (24 bits).
    pub type_id: Option<u32>,
    /// 802.1Qbg type id version (0-255).
    pub type_id_version: Option<u8>,
    /// 802.1Qbg instance UUID.
    pub instance_id: Option<Uuid>,
    /// Open vSwitch / MidoNet interface UUID.
    pub interface_id: Option<Uuid>,
    /// 802.1Qbh / Open vSwitch profile id (at most 39 bytes).
    pub profile_id: Option<String>,
}

impl VirtualPort {
    /// Parses `<virtualport>`; `require_type` at the network level.
    pub fn parse(el: &Element, require_type: bool) -> Result<VirtualPort, XmlError> {
        let kind = match el.attr("type") {
            None => None,
            Some("802.1Qbg") => Some(VirtualPortType::Qbg),
            Some("802.1Qbh") => Some(VirtualPortType::Qbh),
            Some("openvswitch") => Some(VirtualPortType::OpenVSwitch),
            Some("midonet") => Some(VirtualPortType::Midonet),
            Some(other) => {
                return Err(XmlError::invalid(
                    "<virtualport type>",
                    other,
                    "unknown virtualport type",
                ))
            }
        };
        if kind.is_none() && require_type {
            return Err(XmlError::MissingAttribute {
                element: "virtualport".into(),
                attribute: "type".into(),
            });
        }
        let mut vp = VirtualPort {
            kind,
            ..VirtualPort::default()
        };
        let Some(p) = el.child("parameters") else {
            return Ok(vp);
        };
        let bounded = |name: &str, max: u32| -> Result<Option<u32>, XmlError> {
            let Some(raw) = p.attr(name) else {
                return Ok(None);
            };
            let v = values::number_any_base(&format!("<parameters {name}>"), raw)?;
            if v > max {
                return Err(XmlError::invalid(
                    format!("<parameters {name}>"),
                    raw,
                    format!("out of range (maximum {max})"),
                ));
            }
            Ok(Some(v))
        };
        // Each value is range-checked by `bounded`.
        vp.manager_id = bounded("managerid", 0xff)?.map(|v| v as u8);
        vp.type_id = bounded("typeid", 0xff_ffff)?;
        vp.type_id_version = bounded("typeidversion", 0xff)?.map(|v| v as u8);
        vp.instance_id = p.attr("instanceid").map(ids::parse_uuid).transpose()?;
        vp.interface_id = p.attr("interfaceid").map(ids::parse_uuid).transpose()?;
        if let Some(profile) = p.attr("profileid") {
            if profile.len() >= 40 {
                return Err(XmlError::invalid(
                    "<parameters profileid>",
                    profile,
                    "profileid parameter too long (maximum 39 bytes)",
                ));
            }
            vp.profile_id = Some(profile.to_string());
        }
        vp.check_no_extras()?;
        Ok(vp)
    }

    fn check_no_extras(&self) -> Result<(), XmlError> {
        let Some(kind) = self.kind else {
            return Ok(());
        };
        let present = [
            ("managerid", self.manager_id.is_some()),
            ("typeid", self.type_id.is_some()),
            ("typeidversion", self.type_id_version.is_some()),
            ("instanceid", self.instance_id.is_some()),
            ("interfaceid", self.interface_id.is_some()),
            ("profileid", self.profile_id.is_some()),
        ];
        let allowed: &[&str] = match kind {
            VirtualPortType::Qbg => &["managerid", "typeid", "typeidversion", "instanceid"],
            VirtualPortType::Qbh => &["profileid"],
            VirtualPortType::OpenVSwitch => &["interfaceid", "profileid"],
            VirtualPortType::Midonet => &["interfaceid"],
        };
        for (name, set) in present {
            if set && !allowed.contains(&name) {
                return Err(XmlError::Conflict(format!(
                    "extra {name} specified for a {} virtualport",
                    kind.as_str()
                )));
            }
        }
        Ok(())
    }

    /// Formats `<virtualport>`; `None` when it would be empty.
    pub fn to_element(&self) -> Option<Element> {
        let any_typed = |types: &[VirtualPortType]| self.kind.is_none_or(|k| types.contains(&k));
        let qbg = any_typed(&[VirtualPortType::Qbg]);
        let mut params = Element::new("parameters");
        if qbg {
            params = params
                .with_opt_attr("managerid", self.manager_id.map(|v| v.to_string()))
                .with_opt_attr("typeid", self.type_id.map(|v| v.to_string()))
                .with_opt_attr("typeidversion", self.type_id_version.map(|v| v.to_string()))
                .with_opt_attr("instanceid", self.instance_id.map(|v| v.to_string()));
        }
        if any_typed(&[VirtualPortType::OpenVSwitch, VirtualPortType::Midonet]) {
            params = params.with_opt_attr("interfaceid", self.interface_id.map(|v| v.to_string()));
        }
        if any_typed(&[VirtualPortType::OpenVSwitch, VirtualPortType::Qbh]) {
            params = params.with_opt_attr("profileid", self.profile_id.as_deref());
        }
        let el = Element::new("virtualport").with_opt_attr("type", self.kind.map(|k| k.as_str()));
        if params.attrs.is_empty() {
            return self.kind.map(|_| el);
        }
        Some(el.with_child(params))
    }
}

/// One direction of `<bandwidth>` (rates in kilobytes per second).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rate {
    /// Average rate.
    pub average: Option<u64>,
    /// Peak rate.
    pub peak: Option<u64>,
    /// Burst size in kilobytes.
    pub burst: Option<u64>,
    /// Guaranteed minimum (only on interfaces' inbound traffic).
    pub floor: Option<u64>,
}

impl Rate {
    fn parse(el: &Element, allow_floor: bool) -> Result<Rate, XmlError> {
        let read = |name: &str| values::number::<u64>(el, name);
        let rate = Rate {
            average: read("average")?,
            peak: read("peak")?,
            burst: read("burst")?,
            floor: read("floor")?,
        };
        if rate.average.is_none() && rate.floor.is_none() {
            return Err(XmlError::Conflict(format!(
                "missing mandatory average or floor attributes in <{}>",
                el.name
            )));
        }
        if (rate.peak.is_some() || rate.burst.is_some()) && rate.average.is_none() {
            return Err(XmlError::Conflict(format!(
                "'peak' and 'burst' require the 'average' attribute in <{}>",
                el.name
            )));
        }
        if rate.floor.is_some() && !allow_floor {
            return Err(XmlError::Unsupported(format!(
                "the floor attribute of <{}> is not supported here",
                el.name
            )));
        }
        // Zero is libvirt's "unset": it is not written back.
        let nonzero = |v: Option<u64>| v.filter(|v| *v != 0);
        Ok(Rate {
            average: nonzero(rate.average),
            peak: nonzero(rate.peak),
            burst: nonzero(rate.burst),
            floor: nonzero(rate.floor),
        })
    }

    fn is_set(&self) -> bool {
        self.average.is_some() || self.floor.is_some()
    }

    fn to_element(self, name: &str) -> Option<Element> {
        let nonzero = |v: Option<u64>| v.filter(|v| *v != 0).map(|v| v.to_string());
        if nonzero(self.average).is_none() && nonzero(self.floor).is_none() {
            return None;
        }
        Some(
            Element::new(name)
                .with_opt_attr("average", nonzero(self.average))
                .with_opt_attr("peak", nonzero(self.peak))
                .with_opt_attr("floor", nonzero(self.floor))
                .with_opt_attr("burst", nonzero(self.burst)),
        )
    }
}

/// `<bandwidth>`: traffic shaping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bandwidth {
    /// Traffic towards the guests.
    pub inbound: Option<Rate>,
    /// Traffic from the guests.
    pub outbound: Option<Rate>,
}

impl Bandwidth {
    /// Parses `<bandwidth>`; `None` when it has neither direction.
    pub fn parse(el: &Element, allow_floor: bool) -> Result<Option<Bandwidth>, XmlError> {
        let mut bw = Bandwidth::default();
        for (name, slot, floor) in [
            ("inbound", &mut bw.inbound, allow_floor),
            ("outbound", &mut bw.outbound, false),
        ] {
            let mut it = el.children_named(name);
            if let Some(first) = it.next() {
                if it.next().is_some() {
                    return Err(XmlError::Conflict(format!(
                        "only one child <{name}> element allowed in <bandwidth>"
                    )));
                }
                *slot = Some(Rate::parse(first, floor)?).filter(Rate::is_set);
            }
        }
        Ok((bw.inbound.is_some() || bw.outbound.is_some()).then_some(bw))
    }

    /// Formats `<bandwidth>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("bandwidth");
        el.push_opt(self.inbound.and_then(|r| r.to_element("inbound")));
        el.push_opt(self.outbound.and_then(|r| r.to_element("outbound")));
        el
    }
}

/// `<portgroup>`: a named set of port settings guests can pick.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortGroup {
    /// Name guests refer to.
    pub name: String,
    /// `default='yes'`: used by guests that name no port group.
    pub default: bool,
    /// `trustGuestRxFilters`.
    pub trust_guest_rx_filters: Option<bool>,
    /// VLAN settings.
    pub vlan: Option<Vlan>,
    /// Virtual port settings.
    pub virtualport: Option<VirtualPort>,
    /// Bandwidth limits.
    pub bandwidth: Option<Bandwidth>,
}

impl PortGroup {
    /// Parses `<portgroup>`.
    pub fn parse(el: &Element) -> Result<PortGroup, XmlError> {
        Ok(PortGroup {
            name: el.req_attr("name")?.to_string(),
            default: el
                .attr("default")
                .is_some_and(|d| d.eq_ignore_ascii_case("yes")),
            trust_guest_rx_filters: tristate(el, "trustGuestRxFilters")?,
            vlan: el.child("vlan").map(Vlan::parse).transpose()?,
            virtualport: el
                .child("virtualport")
                .map(|v| VirtualPort::parse(v, false))
                .transpose()?
                .filter(|v| v.to_element().is_some()),
            bandwidth: match el.child("bandwidth") {
                Some(b) => Bandwidth::parse(b, false)?,
                None => None,
            },
        })
    }

    /// Formats `<portgroup>`.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("portgroup")
            .with_attr("name", self.name.as_str())
            .with_opt_attr("default", self.default.then_some("yes"))
            .with_opt_attr(
                "trustGuestRxFilters",
                self.trust_guest_rx_filters.map(yes_no),
            );
        el.push_opt(self.vlan.as_ref().map(Vlan::to_element));
        el.push_opt(self.virtualport.as_ref().and_then(VirtualPort::to_element));
        el.push_opt(self.bandwidth.as_ref().map(Bandwidth::to_element));
        super::open_close(el)
    }
}
