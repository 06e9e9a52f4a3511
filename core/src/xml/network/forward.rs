//! `<forward>`: how a network reaches the outside (NAT, routed, open, host
//! bridge, macvtap modes, SR-IOV hostdev) and the devices it uses.

use std::net::{IpAddr, Ipv4Addr};

use super::values::{self, tristate, yes_no};
use crate::xml::{Element, XmlError};

/// The forwarding mode of a network (`<forward mode=...>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ForwardMode {
    /// No `<forward>` element: an isolated network (guests and host only).
    #[default]
    Isolated,
    /// `nat`: guests reach out through the host's address (the default mode
    /// of a `<forward/>` without `mode`).
    Nat,
    /// `route`: the guests' subnet is routed by the host, without NAT.
    Route,
    /// `open`: like route, but Hangar installs no firewall rules at all.
    Open,
    /// `bridge`: guests join an existing host bridge (or macvtap on `dev`).
    Bridge,
    /// `private`: macvtap private mode on the forward interfaces.
    Private,
    /// `vepa`: macvtap VEPA mode on the forward interfaces.
    Vepa,
    /// `passthrough`: macvtap passthrough of one forward interface per guest.
    Passthrough,
    /// `hostdev`: SR-IOV virtual functions assigned to guests as PCI devices.
    Hostdev,
}

impl ForwardMode {
    /// The `mode` attribute value; `None` for an isolated network.
    pub fn as_str(self) -> Option<&'static str> {
        Some(match self {
            ForwardMode::Isolated => return None,
            ForwardMode::Nat => "nat",
            ForwardMode::Route => "route",
            ForwardMode::Open => "open",
            ForwardMode::Bridge => "bridge",
            ForwardMode::Private => "private",
            ForwardMode::Vepa => "vepa",
            ForwardMode::Passthrough => "passthrough",
            ForwardMode::Hostdev => "hostdev",
        })
    }

    /// Parses a `mode` attribute value.
    pub fn from_mode(mode: &str) -> Option<ForwardMode> {
        Some(match mode {
            "nat" => ForwardMode::Nat,
            "route" => ForwardMode::Route,
            "open" => ForwardMode::Open,
            "bridge" => ForwardMode::Bridge,
            "private" => ForwardMode::Private,
            "vepa" => ForwardMode::Vepa,
            "passthrough" => ForwardMode::Passthrough,
            "hostdev" => ForwardMode::Hostdev,
            _ => return None,
        })
    }

    /// True for the modes where Hangar creates and owns a bridge with the
    /// network's addresses (isolated, nat, route, open).
    pub fn has_managed_bridge(self) -> bool {
        matches!(
            self,
            ForwardMode::Isolated | ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open
        )
    }

    /// A name for messages ("isolated" for no forward mode).
    pub fn label(self) -> &'static str {
        self.as_str().unwrap_or("isolated")
    }
}

/// `<forward><driver name=...>`: how hostdev functions are assigned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ForwardDriver {
    /// Legacy KVM device assignment.
    Kvm,
    /// VFIO device assignment.
    Vfio,
}

impl ForwardDriver {
    fn as_str(self) -> &'static str {
        match self {
            ForwardDriver::Kvm => "kvm",
            ForwardDriver::Vfio => "vfio",
        }
    }
}

/// A PCI address (`<address type='pci' domain= bus= slot= function=/>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PciAddress {
    /// PCI domain (0..=0xffff).
    pub domain: u16,
    /// Bus (0..=0xff).
    pub bus: u8,
    /// Slot (0..=0x1f).
    pub slot: u8,
    /// Function (0..=7).
    pub function: u8,
}

impl PciAddress {
    /// Parses an `<address type='pci' .../>` element.
    pub fn from_element(el: &Element) -> Result<PciAddress, XmlError> {
        let field = |name: &str, max: u32| -> Result<u32, XmlError> {
            let Some(raw) = el.attr(name) else {
                return Ok(0);
            };
            let value = values::number_any_base(&values::attr_label(el, name), raw)?;
            if value > max {
                return Err(XmlError::invalid(
                    format!("PCI address {name}"),
                    raw,
                    format!("must be <= {max:#x}"),
                ));
            }
            Ok(value)
        };
        // The range checks above make each narrowing lossless.
        let addr = PciAddress {
            domain: field("domain", 0xffff)? as u16,
            bus: field("bus", 0xff)? as u8,
            slot: field("slot", 0x1f)? as u8,
            function: field("function", 7)? as u8,
        };
        if addr.domain == 0 && addr.bus == 0 && addr.slot == 0 && addr.function != 0 {
            return Err(XmlError::invalid(
                "PCI address",
                addr.to_string(),
                "at least one of domain, bus, or slot must be > 0",
            ));
        }
        Ok(addr)
    }

    /// Formats as libvirt does, with `type='pci'`.
    pub fn to_element(&self) -> Element {
        Element::new("address")
            .with_attr("type", "pci")
            .with_attr("domain", format!("{:#06x}", self.domain))
            .with_attr("bus", format!("{:#04x}", self.bus))
            .with_attr("slot", format!("{:#04x}", self.slot))
            .with_attr("function", format!("{:#x}", self.function))
    }
}

impl std::fmt::Display for PciAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04x}:{:02x}:{:02x}.{:x}",
            self.domain, self.bus, self.slot, self.function
        )
    }
}

/// `<nat><address start= end=/>`: the public IPv4 range to SNAT to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatAddressRange {
    /// First address.
    pub start: Ipv4Addr,
    /// Last address (not before `start`).
    pub end: Ipv4Addr,
}

/// `<nat><port start= end=/>`: the source port range for masquerading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct NatPortRange {
    /// First port.
    pub start: u16,
    /// Last port (not before `start`).
    pub end: u16,
}

/// `<nat>`: the details of NAT mode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Nat {
    /// `ipv6='yes'`: masquerade IPv6 too.
    pub ipv6: Option<bool>,
    /// SNAT address range, if given.
    pub addresses: Option<NatAddressRange>,
    /// Source port range, if given.
    pub ports: Option<NatPortRange>,
}

impl Nat {
    /// The source port range masquerading uses: the one given, or libvirt's
    /// default 1024-65535 (not written in the XML).
    pub fn effective_ports(&self) -> NatPortRange {
        match self.ports {
            Some(p) if p.start != 0 || p.end != 0 => p,
            _ => NatPortRange {
                start: 1024,
                end: 65535,
            },
        }
    }

    fn parse(el: &Element, network: &str) -> Result<Nat, XmlError> {
        let mut nat = Nat {
            ipv6: tristate(el, "ipv6")?,
            ..Nat::default()
        };
        let addresses: Vec<&Element> = el.children_named("address").collect();
        if addresses.len() > 1 {
            return Err(XmlError::Conflict(format!(
                "only one <address> element is allowed in <nat> in <forward> of network '{network}'"
            )));
        }
        if let Some(a) = addresses.first() {
            let start = a.req_attr("start")?;
            let end = a.req_attr("end")?;
            let v4 = |what: &str, raw: &str| match values::ip_addr(what, raw)? {
                IpAddr::V4(v) => Ok(v),
                IpAddr::V6(_) => Err(XmlError::invalid(what, raw, "NAT addresses must be IPv4")),
            };
            let start = v4("<nat><address start>", start)?;
            let end = v4("<nat><address end>", end)?;
            values::address_range_size(start.into(), end.into(), None).map_err(|reason| {
                XmlError::invalid("<nat> address range", format!("{start}-{end}"), reason)
            })?;
            nat.addresses = Some(NatAddressRange { start, end });
        }
        let ports: Vec<&Element> = el.children_named("port").collect();
        if ports.len() > 1 {
            return Err(XmlError::Conflict(format!(
                "only one <port> element is allowed in <nat> in <forward> of network '{network}'"
            )));
        }
        if let Some(p) = ports.first() {
            let start: u16 = values::required_number(p, "start")?;
            let end: u16 = values::required_number(p, "end")?;
            if end < start {
                return Err(XmlError::invalid(
                    "<nat><port> range",
                    format!("{start}-{end}"),
                    "end is before start",
                ));
            }
            // 0-0 means "unset" to libvirt, which then writes no <port>.
            nat.ports = (end != 0).then_some(NatPortRange { start, end });
        }
        Ok(nat)
    }

    fn to_element(&self) -> Option<Element> {
        let ports = self.ports.filter(|p| p.start != 0 || p.end != 0);
        if self.ipv6.is_none() && self.addresses.is_none() && ports.is_none() {
            return None;
        }
        let mut el = Element::new("nat").with_opt_attr("ipv6", self.ipv6.map(yes_no));
        if let Some(a) = self.addresses {
            el.push(
                Element::new("address")
                    .with_attr("start", a.start.to_string())
                    .with_attr("end", a.end.to_string()),
            );
        }
        if let Some(p) = ports {
            el.push(
                Element::new("port")
                    .with_attr("start", p.start.to_string())
                    .with_opt_attr("end", (p.end != 0).then(|| p.end.to_string())),
            );
        }
        Some(el)
    }
}

/// `<forward>`: mode and devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Forward {
    /// The mode; [`ForwardMode::Isolated`] when there is no `<forward>`.
    pub mode: ForwardMode,
    /// `managed='yes'` (hostdev mode): detach functions from host drivers.
    pub managed: bool,
    /// `<driver name=...>` for hostdev mode.
    pub driver: Option<ForwardDriver>,
    /// NAT details (nat mode only).
    pub nat: Nat,
    /// Host interfaces, in order; the first is the `dev` attribute (the
    /// uplink of nat/route modes).
    pub interfaces: Vec<String>,
    /// PCI functions of hostdev/passthrough pools given as `<address>`.
    pub pci_addresses: Vec<PciAddress>,
    /// `<pf dev=...>`: the SR-IOV physical function whose virtual functions
    /// form the pool (resolved when the network starts).
    pub pf: Option<String>,
}

impl Forward {
    /// The uplink device (`<forward dev=...>`), if any.
    pub fn dev(&self) -> Option<&str> {
        if self.pf.is_some() {
            return None;
        }
        self.interfaces.first().map(String::as_str)
    }

    /// Parses `<forward>`.
    pub fn parse(el: &Element, network: &str) -> Result<Forward, XmlError> {
        let mode = match el.attr("mode") {
            None => ForwardMode::Nat,
            Some(m) => ForwardMode::from_mode(m).ok_or_else(|| {
                XmlError::invalid(
                    "<forward mode>",
                    m,
                    "expected nat, route, open, bridge, private, vepa, passthrough or hostdev",
                )
            })?,
        };
        let mut fwd = Forward {
            mode,
            // Only hostdev mode has (and writes) a managed setting.
            managed: mode == ForwardMode::Hostdev
                && el
                    .attr("managed")
                    .is_some_and(|m| m.eq_ignore_ascii_case("yes")),
            ..Forward::default()
        };
        if let Some(name) = el.child("driver").and_then(|d| d.attr("name")) {
            fwd.driver = Some(match name {
                "kvm" => ForwardDriver::Kvm,
                "vfio" => ForwardDriver::Vfio,
                other => {
                    return Err(XmlError::invalid(
                        "<forward><driver name>",
                        other,
                        format!("unknown forward driver in network '{network}' (kvm or vfio)"),
                    ))
                }
            });
        }
        let nats: Vec<&Element> = el.children_named("nat").collect();
        if nats.len() > 1 {
            return Err(XmlError::Conflict(format!(
                "only one <nat> element is allowed in <forward> of network '{network}'"
            )));
        }
        if let Some(nat) = nats.first() {
            if mode != ForwardMode::Nat {
                return Err(XmlError::Conflict(format!(
                    "the <nat> element can only be used when <forward> mode is 'nat' in network '{network}'"
                )));
            }
            fwd.nat = Nat::parse(nat, network)?;
        }

        let ifaces: Vec<&Element> = el.children_named("interface").collect();
        let addrs: Vec<&Element> = el.children_named("address").collect();
        let pfs: Vec<&Element> = el.children_named("pf").collect();
        let dev = el.attr("dev");
        if dev.is_some() && (!addrs.is_empty() || !pfs.is_empty()) {
            return Err(XmlError::Conflict(format!(
                "the <forward> 'dev' attribute cannot be used when <address> or <pf> \
                 sub-elements are present in network '{network}'"
            )));
        }
        if pfs.len() > 1 {
            return Err(XmlError::Conflict(format!(
                "only one <pf> element is allowed in <forward> of network '{network}'"
            )));
        }
        if let Some(pf) = pfs.first() {
            fwd.pf = Some(pf.req_attr("dev")?.to_string());
            // With a <pf>, any <interface> list is the runtime pool of its
            // virtual functions (live XML), not configuration: libvirt's
            // inactive format drops it too.
            return Ok(fwd);
        }
        if let Some(dev) = dev {
            fwd.interfaces.push(dev.to_string());
        }
        for (i, iface) in ifaces.iter().enumerate() {
            let name = iface.req_attr("dev")?;
            if i == 0 && dev.is_some() {
                if dev != Some(name) {
                    return Err(XmlError::Conflict(format!(
                        "<forward dev='{}'> must match the first <interface dev='{name}'/> \
                         in network '{network}'",
                        dev.unwrap_or_default()
                    )));
                }
                continue;
            }
            if fwd.interfaces.iter().any(|d| d == name) {
                return Err(XmlError::Conflict(format!(
                    "interface '{name}' can only be listed once in network '{network}'"
                )));
            }
            fwd.interfaces.push(name.to_string());
        }
        if fwd.interfaces.is_empty() {
            for a in addrs {
                let kind = a.req_attr("type")?;
                if kind != "pci" {
                    return Err(XmlError::invalid(
                        "<forward><address type>",
                        kind,
                        format!("unsupported address type in network '{network}' (only pci)"),
                    ));
                }
                let pci = PciAddress::from_element(a)?;
                if fwd.pci_addresses.contains(&pci) {
                    return Err(XmlError::Conflict(format!(
                        "PCI device '{pci}' can only be listed once in network '{network}'"
                    )));
                }
                fwd.pci_addresses.push(pci);
            }
        }
        Ok(fwd)
    }

    /// Formats `<forward>` (inactive config); `None` for an isolated network.
    pub fn to_element(&self) -> Option<Element> {
        let mode = self.mode.as_str()?;
        let mut el = Element::new("forward")
            .with_opt_attr("dev", self.dev())
            .with_attr("mode", mode);
        if self.mode == ForwardMode::Hostdev {
            el.set_attr("managed", yes_no(self.managed));
        }
        if let Some(d) = self.driver {
            el.push(Element::new("driver").with_attr("name", d.as_str()));
        }
        if self.mode == ForwardMode::Nat {
            el.push_opt(self.nat.to_element());
        }
        if let Some(pf) = &self.pf {
            el.push(Element::new("pf").with_attr("dev", pf.as_str()));
        } else {
            for dev in &self.interfaces {
                el.push(Element::new("interface").with_attr("dev", dev.as_str()));
            }
            for pci in &self.pci_addresses {
                el.push(pci.to_element());
            }
        }
        Some(el)
    }
}
