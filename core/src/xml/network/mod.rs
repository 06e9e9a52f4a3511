//! `<network>`: libvirt's virtual network format, typed.
//!
//! [`Network::parse`] reads and validates a definition the way libvirt's
//! `virNetworkDefParseXML` does (same checks, errors naming the problem);
//! [`Network::to_xml`] writes it in libvirt's canonical inactive form: its
//! element order, the defaults it fills in (`<bridge stp='on' delay='0'/>`
//! for the modes that own a bridge, `mode='nat'` for a bare `<forward/>`,
//! the forward `dev` repeated as `<interface>`), lower-case MACs and
//! canonical IP addresses. `<metadata>` and unknown top-level elements are
//! kept verbatim.
//!
//! The `name` and `uuid` fields are the stable contract other modules use.

mod dns;
mod forward;
mod ip;
mod port;
mod route;
mod update;
mod values;

#[cfg(test)]
mod tests;

pub use dns::{Dns, DnsDomain, DnsForwarder, DnsHost, DnsSrv, DnsTxt};
pub use forward::{
    Forward, ForwardDriver, ForwardMode, Nat, NatAddressRange, NatPortRange, PciAddress,
};
pub use ip::{Bootp, DhcpHost, DhcpRange, IpDef, IpFamily, Lease, LeaseUnit};
pub use port::{
    Bandwidth, NativeMode, PortGroup, Rate, VirtualPort, VirtualPortType, Vlan, VlanTag,
};
pub use route::Route;
pub use update::UpdateCommand;
pub use values::{address_range_size, mask_address, prefix_to_netmask};

use super::{ids, parse_root, tree::Node, Element, MacAddr, XmlError};
use uuid::Uuid;
use values::{tristate, yes_no};

/// XML namespace of `<dnsmasq:options>`.
pub const DNSMASQ_NAMESPACE: &str = "http://libvirt.org/schemas/network/dnsmasq/1.0";

/// Longest interface name Linux accepts (IFNAMSIZ - 1).
const IFNAME_MAX: usize = 15;

/// `<bridge>`: the Linux bridge of the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bridge {
    /// Bridge device name (`virbr0`); chosen by the driver when absent.
    pub name: Option<String>,
    /// firewalld zone for the bridge.
    pub zone: Option<String>,
    /// Spanning tree protocol (on unless `stp='off'`).
    pub stp: bool,
    /// Forward delay in seconds.
    pub delay: u64,
    /// `macTableManager`: who fills the bridge's MAC table.
    pub mac_table_manager: Option<MacTableManager>,
}

impl Default for Bridge {
    fn default() -> Self {
        Bridge {
            name: None,
            zone: None,
            stp: true,
            delay: 0,
            mac_table_manager: None,
        }
    }
}

/// `<bridge macTableManager=...>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MacTableManager {
    /// `kernel`: the bridge learns addresses and floods (Linux default).
    Kernel,
    /// `libvirt`: the manager programs the table, no learning or flooding.
    Libvirt,
}

/// A `<network>` definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Unique name.
    pub name: String,
    /// UUID, if the document has one (the driver assigns one on define).
    pub uuid: Option<Uuid>,
    /// Short title (one line).
    pub title: Option<String>,
    /// Free-form description.
    pub description: Option<String>,
    /// `<metadata>`, kept verbatim.
    pub metadata: Option<Element>,
    /// `ipv6='yes'`: allow guest-to-guest IPv6 without a host IPv6 address.
    pub ipv6_without_gateway: bool,
    /// `trustGuestRxFilters`.
    pub trust_guest_rx_filters: Option<bool>,
    /// Forward mode and devices ([`ForwardMode::Isolated`] without `<forward>`).
    pub forward: Forward,
    /// Bridge settings.
    pub bridge: Bridge,
    /// MTU of the bridge and its taps.
    pub mtu: Option<u32>,
    /// MAC address of the bridge.
    pub mac: Option<MacAddr>,
    /// DNS domain.
    pub domain: Option<DnsDomain>,
    /// DNS service settings.
    pub dns: Dns,
    /// VLAN tagging.
    pub vlan: Option<Vlan>,
    /// Bandwidth limits of the whole network.
    pub bandwidth: Option<Bandwidth>,
    /// Host addresses with their DHCP settings, in order.
    pub ips: Vec<IpDef>,
    /// Static routes.
    pub routes: Vec<Route>,
    /// Virtual port settings (Open vSwitch, 802.1Qbg/Qbh).
    pub virtualport: Option<VirtualPort>,
    /// Port groups.
    pub portgroups: Vec<PortGroup>,
    /// `<port isolated=...>`: guests' ports cannot talk to each other.
    pub port_isolated: Option<bool>,
    /// `<dnsmasq:option value=...>` lines passed to dnsmasq as they are.
    pub dnsmasq_options: Vec<String>,
    /// Top-level elements the model does not know, kept verbatim.
    pub unknown: Vec<Element>,
    /// Namespace declarations of the root other than dnsmasq's (they may be
    /// used by unknown elements).
    pub namespaces: Vec<(String, String)>,
}

/// Writes `el` as an open/close pair even when empty, as libvirt writes
/// `<ip>` and `<portgroup>` (`<ip ...>` newline `</ip>`). Both sit at depth
/// one under `<network>`, so the layout text is the closing tag's indent.
pub(crate) fn open_close(mut el: Element) -> Element {
    if el.children.is_empty() {
        el.children.push(Node::Text("\n  ".to_string()));
    }
    el
}

/// Elements that may appear at most once under `<network>`.
const SINGLE: &[&str] = &[
    "name",
    "uuid",
    "title",
    "description",
    "metadata",
    "forward",
    "bridge",
    "mtu",
    "mac",
    "domain",
    "dns",
    "vlan",
    "bandwidth",
    "virtualport",
    "port",
];

impl Network {
    /// Parses and validates a `<network>` document.
    pub fn parse(xml: &str) -> Result<Self, XmlError> {
        let root = parse_root(xml, "network")?;
        Self::from_element(&root)
    }

    /// Builds the model from a parsed `<network>` element.
    pub fn from_element(root: &Element) -> Result<Self, XmlError> {
        let name = root
            .child_text("name")
            .ok_or_else(|| XmlError::missing("network", "name"))?;
        ids::validate_name("network", &name)?;
        for single in SINGLE {
            if root.children_named(single).nth(1).is_some() {
                return Err(XmlError::Conflict(format!(
                    "network '{name}' has more than one <{single}> element"
                )));
            }
        }
        let uuid = root
            .child_text("uuid")
            .map(|u| ids::parse_uuid(&u))
            .transpose()?;
        let title = root.child("title").map(Element::text);
        if title.as_deref().is_some_and(|t| t.contains('\n')) {
            return Err(XmlError::invalid(
                "network title",
                title.unwrap_or_default(),
                "a title cannot contain newlines",
            ));
        }
        let dnsmasq_prefix = root
            .attrs
            .iter()
            .find(|(k, v)| k.starts_with("xmlns:") && v == DNSMASQ_NAMESPACE)
            .map(|(k, _)| k["xmlns:".len()..].to_string());
        let namespaces = root
            .attrs
            .iter()
            .filter(|(k, v)| k.starts_with("xmlns") && v != DNSMASQ_NAMESPACE)
            .cloned()
            .collect();

        let mut net = Network {
            name: name.clone(),
            uuid,
            title,
            description: root.child("description").map(Element::text),
            metadata: root.child("metadata").cloned(),
            ipv6_without_gateway: tristate(root, "ipv6")? == Some(true),
            trust_guest_rx_filters: tristate(root, "trustGuestRxFilters")?,
            forward: Forward::default(),
            bridge: Bridge::default(),
            mtu: None,
            mac: None,
            domain: None,
            dns: Dns::default(),
            vlan: None,
            bandwidth: None,
            ips: Vec::new(),
            routes: Vec::new(),
            virtualport: None,
            portgroups: Vec::new(),
            port_isolated: None,
            dnsmasq_options: Vec::new(),
            unknown: Vec::new(),
            namespaces,
        };
        let mut bridge_el = None;
        for child in root.elements() {
            match child.name.as_str() {
                "name" | "uuid" | "title" | "description" | "metadata" => {}
                "forward" => net.forward = Forward::parse(child, &name)?,
                "bridge" => {
                    net.bridge = parse_bridge(child, &name)?;
                    bridge_el = Some(child);
                }
                "mtu" => {
                    let size: u32 = values::required_number(child, "size")?;
                    net.mtu = (size > 0).then_some(size);
                }
                "mac" => {
                    let raw = child.req_attr("address")?;
                    let mac = MacAddr::parse(raw)?;
                    if mac.is_multicast() {
                        return Err(XmlError::invalid(
                            "bridge MAC address",
                            raw,
                            format!("a multicast address cannot be used in network '{name}'"),
                        ));
                    }
                    net.mac = Some(mac);
                }
                "domain" => net.domain = DnsDomain::parse(child)?,
                "dns" => net.dns = Dns::parse(child, &name)?,
                "vlan" => net.vlan = Some(Vlan::parse(child)?),
                "bandwidth" => net.bandwidth = Bandwidth::parse(child, false)?,
                "ip" => net.ips.push(IpDef::parse(child, &name)?),
                "route" => net.routes.push(Route::parse(child, &name)?),
                "virtualport" => net.virtualport = Some(VirtualPort::parse(child, true)?),
                "portgroup" => net.portgroups.push(PortGroup::parse(child)?),
                "port" => net.port_isolated = tristate(child, "isolated")?,
                other => match (other.split_once(':'), &dnsmasq_prefix) {
                    (Some((prefix, "options")), Some(ns)) if prefix == ns => {
                        net.dnsmasq_options
                            .extend(parse_dnsmasq_options(child, prefix)?);
                    }
                    _ if is_dnsmasq_options(child) => {
                        let prefix = other.split_once(':').map_or("", |(p, _)| p);
                        net.dnsmasq_options
                            .extend(parse_dnsmasq_options(child, prefix)?);
                    }
                    _ => net.unknown.push(child.clone()),
                },
            }
        }
        net.validate(bridge_el)?;
        Ok(net)
    }

    /// Cross-element checks that depend on the forward mode, the routes'
    /// gateways and the port groups (libvirt's parse-time validation).
    pub(crate) fn validate(&self, bridge_el: Option<&Element>) -> Result<(), XmlError> {
        let name = &self.name;
        let mode = self.forward.mode;
        let label = mode.label();
        match mode {
            ForwardMode::Isolated => {}
            ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open => {
                if self.ips.is_empty() {
                    return Err(XmlError::Conflict(format!(
                        "{label} forwarding requested, but no IP address provided for network '{name}'"
                    )));
                }
                if self.forward.interfaces.len() > 1 {
                    return Err(XmlError::Conflict(format!(
                        "multiple forwarding interfaces specified for network '{name}', only one is supported"
                    )));
                }
                if mode == ForwardMode::Open && !self.forward.interfaces.is_empty() {
                    return Err(XmlError::Conflict(format!(
                        "forward dev not allowed for network '{name}' with forward mode='open'"
                    )));
                }
            }
            ForwardMode::Bridge
            | ForwardMode::Private
            | ForwardMode::Vepa
            | ForwardMode::Passthrough
            | ForwardMode::Hostdev => {
                if mode != ForwardMode::Bridge {
                    let what = if self.bridge.name.is_some() {
                        Some("bridge name")
                    } else if self.bridge.zone.is_some() {
                        Some("bridge zone")
                    } else if self.bridge.mac_table_manager.is_some() {
                        Some("bridge macTableManager setting")
                    } else {
                        None
                    };
                    if let Some(what) = what {
                        return Err(XmlError::Conflict(format!(
                            "{what} not allowed in {label} mode (network '{name}')"
                        )));
                    }
                }
                let has_stp = bridge_el.is_some_and(|b| b.attr("stp").is_some());
                if self.bridge.delay != 0 || has_stp || self.bridge.zone.is_some() {
                    return Err(XmlError::Conflict(format!(
                        "bridge delay/stp/zone options only allowed in route, nat, and isolated mode, \
                         not in {label} (network '{name}')"
                    )));
                }
                if self.bridge.name.is_some()
                    && (!self.forward.interfaces.is_empty() || self.forward.pf.is_some())
                {
                    return Err(XmlError::Conflict(format!(
                        "a network with forward mode='{label}' can specify a bridge name or a \
                         forward dev, but not both (network '{name}')"
                    )));
                }
                if self.mtu.is_some() {
                    return Err(XmlError::Conflict(format!(
                        "mtu size only allowed in open, route, nat, and isolated mode, not in \
                         {label} (network '{name}')"
                    )));
                }
            }
        }
        for route in &self.routes {
            let reachable = self.ips.iter().any(|ip| {
                ip.address.is_ipv4() == route.gateway.is_ipv4()
                    && ip.prefix_len().is_some_and(|p| {
                        mask_address(ip.address, p) == mask_address(route.gateway, p)
                    })
            });
            if !reachable {
                return Err(XmlError::invalid(
                    "route gateway",
                    route.gateway.to_string(),
                    format!("unreachable static route gateway for network '{name}' (not in any of its subnets)"),
                ));
            }
        }
        let mut default_group: Option<&str> = None;
        for (i, pg) in self.portgroups.iter().enumerate() {
            if self.portgroups[..i].iter().any(|o| o.name == pg.name) {
                return Err(XmlError::Conflict(format!(
                    "network '{name}' has more than one <portgroup> named '{}'",
                    pg.name
                )));
            }
            if pg.default {
                if let Some(first) = default_group {
                    return Err(XmlError::Conflict(format!(
                        "network '{name}' has multiple default <portgroup> elements ({first} and {}), \
                         but only one default is allowed",
                        pg.name
                    )));
                }
                default_group = Some(&pg.name);
            }
        }
        for v6 in [false, true] {
            let with_dhcp = self
                .ips
                .iter()
                .filter(|ip| ip.is_ipv6() == v6 && ip.has_dhcp())
                .count();
            if with_dhcp > 1 {
                return Err(XmlError::Conflict(format!(
                    "network '{name}' has DHCP on more than one {} address; \
                     DHCP is supported on only one per family",
                    if v6 { "IPv6" } else { "IPv4" }
                )));
            }
        }
        Ok(())
    }

    /// The bridge device name, if set.
    pub fn bridge_name(&self) -> Option<&str> {
        self.bridge.name.as_deref()
    }

    /// The first IPv4 `<ip>`.
    pub fn ipv4(&self) -> Option<&IpDef> {
        self.ips.iter().find(|ip| !ip.is_ipv6())
    }

    /// The `<ip>` elements of one family.
    pub fn ips_of(&self, ipv6: bool) -> impl Iterator<Item = &IpDef> {
        self.ips.iter().filter(move |ip| ip.is_ipv6() == ipv6)
    }

    /// Builds the canonical `<network>` element.
    pub fn to_element(&self) -> Element {
        let mut root = Element::new("network");
        if !self.dnsmasq_options.is_empty() {
            root.set_attr("xmlns:dnsmasq", DNSMASQ_NAMESPACE);
        }
        for (k, v) in &self.namespaces {
            root.set_attr(k, v.as_str());
        }
        if self.ipv6_without_gateway {
            root.set_attr("ipv6", "yes");
        }
        if let Some(t) = self.trust_guest_rx_filters {
            root.set_attr("trustGuestRxFilters", yes_no(t));
        }
        root.push(Element::new("name").with_text(self.name.as_str()));
        if let Some(u) = self.uuid {
            root.push(Element::new("uuid").with_text(u.to_string()));
        }
        if let Some(t) = &self.title {
            root.push(Element::new("title").with_text(t.as_str()));
        }
        if let Some(d) = &self.description {
            root.push(Element::new("description").with_text(d.as_str()));
        }
        root.push_opt(self.metadata.clone());
        root.push_opt(self.forward.to_element());
        let mode = self.forward.mode;
        if mode.has_managed_bridge()
            || self.bridge.name.is_some()
            || self.bridge.mac_table_manager.is_some()
        {
            let mut b = Element::new("bridge")
                .with_opt_attr("name", self.bridge.name.as_deref())
                .with_opt_attr("zone", self.bridge.zone.as_deref());
            if mode.has_managed_bridge() {
                b = b
                    .with_attr("stp", if self.bridge.stp { "on" } else { "off" })
                    .with_attr("delay", self.bridge.delay.to_string());
            }
            b = b.with_opt_attr(
                "macTableManager",
                self.bridge.mac_table_manager.map(|m| match m {
                    MacTableManager::Kernel => "kernel",
                    MacTableManager::Libvirt => "libvirt",
                }),
            );
            root.push(b);
        }
        if let Some(mtu) = self.mtu.filter(|m| *m > 0) {
            root.push(Element::new("mtu").with_attr("size", mtu.to_string()));
        }
        if let Some(mac) = self.mac {
            root.push(Element::new("mac").with_attr("address", mac.to_string()));
        }
        root.push_opt(self.domain.as_ref().map(DnsDomain::to_element));
        root.push_opt(self.dns.to_element());
        root.push_opt(self.vlan.as_ref().map(Vlan::to_element));
        root.push_opt(self.bandwidth.as_ref().map(Bandwidth::to_element));
        for ip in &self.ips {
            root.push(ip.to_element());
        }
        for r in &self.routes {
            root.push(r.to_element());
        }
        root.push_opt(self.virtualport.as_ref().and_then(VirtualPort::to_element));
        for pg in &self.portgroups {
            root.push(pg.to_element());
        }
        if let Some(iso) = self.port_isolated {
            root.push(Element::new("port").with_attr("isolated", yes_no(iso)));
        }
        if !self.dnsmasq_options.is_empty() {
            let mut opts = Element::new("dnsmasq:options");
            for o in &self.dnsmasq_options {
                opts.push(Element::new("dnsmasq:option").with_attr("value", o.as_str()));
            }
            root.push(opts);
        }
        for u in &self.unknown {
            root.push(u.clone());
        }
        root
    }

    /// Formats the definition as libvirt would (inactive config).
    pub fn to_xml(&self) -> String {
        self.to_element().to_xml()
    }

    /// Formats the definition of a running network as `virsh net-dumpxml`
    /// shows it: `connections='N'` on the root when guests are attached, and
    /// for NAT the source port range in use (`<nat><port start='1024'
    /// end='65535'/>` unless configured otherwise).
    pub fn to_live_xml(&self, connections: u32) -> String {
        let mut live = self.clone();
        if live.forward.mode == ForwardMode::Nat {
            live.forward.nat.ports = Some(live.forward.nat.effective_ports());
        }
        let mut root = live.to_element();
        if connections > 0 {
            root.attrs
                .insert(0, ("connections".to_string(), connections.to_string()));
        }
        root.to_xml()
    }
}

fn parse_bridge(el: &Element, network: &str) -> Result<Bridge, XmlError> {
    let name = el.attr("name").map(str::to_string);
    if let Some(n) = &name {
        if n.is_empty() || n.len() > IFNAME_MAX || n.contains(['/', ' ', '\t', '\n', ':']) {
            return Err(XmlError::invalid(
                "<bridge name>",
                n.as_str(),
                format!(
                    "not a valid interface name for network '{network}' \
                     (1-{IFNAME_MAX} bytes, no '/', ':' or whitespace)"
                ),
            ));
        }
    }
    let delay = match el.attr("delay") {
        None => 0,
        Some(raw) => raw.trim().parse::<u64>().map_err(|_| {
            XmlError::invalid(
                "<bridge delay>",
                raw,
                format!("invalid delay value in network '{network}'"),
            )
        })?,
    };
    let mac_table_manager = match el.attr("macTableManager") {
        None => None,
        Some("kernel") => Some(MacTableManager::Kernel),
        Some("libvirt") => Some(MacTableManager::Libvirt),
        Some(other) => {
            return Err(XmlError::invalid(
                "<bridge macTableManager>",
                other,
                format!(
                    "invalid macTableManager setting in network '{network}' (kernel or libvirt)"
                ),
            ))
        }
    };
    Ok(Bridge {
        name,
        zone: el.attr("zone").map(str::to_string),
        stp: el.attr("stp") != Some("off"),
        delay,
        mac_table_manager,
    })
}

fn is_dnsmasq_options(el: &Element) -> bool {
    let local = el.name.split_once(':').map_or(el.name.as_str(), |(_, l)| l);
    local == "options"
        && el
            .attrs
            .iter()
            .any(|(k, v)| k.starts_with("xmlns") && v == DNSMASQ_NAMESPACE)
}

fn parse_dnsmasq_options(el: &Element, prefix: &str) -> Result<Vec<String>, XmlError> {
    let option_name = if prefix.is_empty() {
        "option".to_string()
    } else {
        format!("{prefix}:option")
    };
    let mut out = Vec::new();
    for o in el.children_named(&option_name) {
        let value = o.attr("value").ok_or_else(|| {
            XmlError::Conflict("no dnsmasq options value specified in <dnsmasq:option>".into())
        })?;
        out.push(value.to_string());
    }
    Ok(out)
}
