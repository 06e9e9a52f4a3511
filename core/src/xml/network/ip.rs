//! `<ip>`: the host's addresses on the network, with DHCP ranges and
//! static hosts, BOOTP and TFTP.

use std::net::{IpAddr, Ipv4Addr};

use super::values::{self, family_name, mask_address, tristate, yes_no};
use crate::xml::ids::MacAddr;
use crate::xml::{Element, XmlError};

/// The `family` attribute of `<ip>` and `<route>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpFamily {
    /// `ipv4`
    V4,
    /// `ipv6`
    V6,
}

impl IpFamily {
    pub(crate) fn parse(raw: Option<&str>, what: &str) -> Result<Option<IpFamily>, XmlError> {
        match raw {
            None => Ok(None),
            Some("ipv4") => Ok(Some(IpFamily::V4)),
            Some("ipv6") => Ok(Some(IpFamily::V6)),
            Some(other) => Err(XmlError::invalid(what, other, "expected 'ipv4' or 'ipv6'")),
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            IpFamily::V4 => "ipv4",
            IpFamily::V6 => "ipv6",
        }
    }
}

/// Unit of a DHCP lease time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseUnit {
    /// `seconds`
    Seconds,
    /// `minutes` (the default)
    Minutes,
    /// `hours`
    Hours,
}

impl LeaseUnit {
    /// The XML name of the unit.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaseUnit::Seconds => "seconds",
            LeaseUnit::Minutes => "minutes",
            LeaseUnit::Hours => "hours",
        }
    }
}

/// `<lease expiry= unit=/>`: a DHCP lease time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Lease {
    /// Length in `unit`s; 0 means the lease never expires.
    pub expiry: u64,
    /// Unit of `expiry`.
    pub unit: LeaseUnit,
}

impl Lease {
    /// Parses `<lease>`; `None` when it has no `expiry` (libvirt ignores it).
    fn parse(el: &Element) -> Result<Option<Lease>, XmlError> {
        let Some(expiry) = values::number::<u64>(el, "expiry")? else {
            return Ok(None);
        };
        let unit = match el.attr("unit") {
            None | Some("minutes") => LeaseUnit::Minutes,
            Some("seconds") => LeaseUnit::Seconds,
            Some("hours") => LeaseUnit::Hours,
            Some(other) => {
                return Err(XmlError::invalid(
                    "<lease unit>",
                    other,
                    "expected seconds, minutes or hours",
                ))
            }
        };
        // dnsmasq's minimum lease time is two minutes.
        let too_short = match unit {
            LeaseUnit::Seconds => expiry < 120,
            LeaseUnit::Minutes => expiry < 2,
            LeaseUnit::Hours => false,
        };
        if expiry > 0 && too_short {
            return Err(XmlError::invalid(
                "<lease expiry>",
                format!("{expiry} {}", unit.as_str()),
                "the minimum lease time is 2 minutes",
            ));
        }
        // An infinite lease is written without a unit.
        let unit = if expiry == 0 {
            LeaseUnit::Minutes
        } else {
            unit
        };
        Ok(Some(Lease { expiry, unit }))
    }

    fn parse_child(el: &Element) -> Result<Option<Lease>, XmlError> {
        let mut lease = None;
        for l in el.children_named("lease") {
            if let Some(parsed) = Lease::parse(l)? {
                lease = Some(parsed);
            }
        }
        Ok(lease)
    }

    fn to_element(self) -> Element {
        let el = Element::new("lease").with_attr("expiry", self.expiry.to_string());
        if self.expiry == 0 {
            el
        } else {
            el.with_attr("unit", self.unit.as_str())
        }
    }

    /// The lease time as dnsmasq writes it: `infinite`, `200s`, `10m`, `1h`.
    pub fn to_dnsmasq(self) -> String {
        if self.expiry == 0 {
            return "infinite".to_string();
        }
        let suffix = match self.unit {
            LeaseUnit::Seconds => 's',
            LeaseUnit::Minutes => 'm',
            LeaseUnit::Hours => 'h',
        };
        format!("{}{suffix}", self.expiry)
    }
}

/// `<dhcp><range start= end=>`: a dynamic address pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpRange {
    /// First address handed out.
    pub start: IpAddr,
    /// Last address handed out.
    pub end: IpAddr,
    /// Lease time for this range, if not dnsmasq's default.
    pub lease: Option<Lease>,
}

impl DhcpRange {
    /// Number of addresses in the range.
    pub fn size(&self) -> u64 {
        values::address_range_size(self.start, self.end, None).unwrap_or(0)
    }
}

/// `<dhcp><host .../>`: a static DHCP reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpHost {
    /// Guest MAC address (IPv4 only).
    pub mac: Option<MacAddr>,
    /// DHCPv6 client DUID (`id`), hex digits and colons.
    pub id: Option<String>,
    /// Host name given to the guest.
    pub name: Option<String>,
    /// The reserved address.
    pub ip: Option<IpAddr>,
    /// Lease time for this host.
    pub lease: Option<Lease>,
}

/// `<bootp file= server=/>`: PXE boot file (IPv4 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bootp {
    /// Boot file name.
    pub file: String,
    /// TFTP server, when not this host.
    pub server: Option<IpAddr>,
}

/// One `<ip>` of a network: the host's address on the bridge and its DHCP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpDef {
    /// `family` as written; the address decides the real family.
    pub family: Option<IpFamily>,
    /// The host's address on the network.
    pub address: IpAddr,
    /// IPv4 netmask, when written as a netmask.
    pub netmask: Option<Ipv4Addr>,
    /// Prefix length, when written as a prefix.
    pub prefix: Option<u8>,
    /// `localPtr`: answer reverse lookups for this subnet locally.
    pub local_ptr: Option<bool>,
    /// `<tftp root=...>`: directory served by the built-in TFTP server.
    pub tftp_root: Option<String>,
    /// DHCP address pools.
    pub dhcp_ranges: Vec<DhcpRange>,
    /// Static DHCP reservations.
    pub dhcp_hosts: Vec<DhcpHost>,
    /// PXE boot settings (IPv4).
    pub bootp: Option<Bootp>,
}

impl IpDef {
    /// True for an IPv6 address.
    pub fn is_ipv6(&self) -> bool {
        self.address.is_ipv6()
    }

    /// The effective prefix length: the prefix, the netmask's length, the
    /// classful default for IPv4 (A /8, B /16, C /24) or 64 for IPv6.
    /// `None` for an IPv4 class D/E address with neither.
    pub fn prefix_len(&self) -> Option<u8> {
        if let Some(p) = self.prefix.filter(|p| *p > 0) {
            return Some(p);
        }
        if let Some(m) = self.netmask {
            return Some(values::netmask_prefix(m));
        }
        match self.address {
            IpAddr::V4(a) => {
                let first = a.octets()[0];
                if a.is_unspecified() {
                    Some(0)
                } else if first & 0x80 == 0 {
                    Some(8)
                } else if first & 0xc0 == 0x80 {
                    Some(16)
                } else if first & 0xe0 == 0xc0 {
                    Some(24)
                } else {
                    None
                }
            }
            IpAddr::V6(a) => Some(if a.is_unspecified() { 0 } else { 64 }),
        }
    }

    /// The subnet's network address.
    pub fn network_address(&self) -> Option<IpAddr> {
        self.prefix_len().map(|p| mask_address(self.address, p))
    }

    /// True when this `<ip>` serves DHCP (has ranges or static hosts).
    pub fn has_dhcp(&self) -> bool {
        !self.dhcp_ranges.is_empty() || !self.dhcp_hosts.is_empty()
    }

    /// Parses one `<ip>`.
    pub fn parse(el: &Element, network: &str) -> Result<IpDef, XmlError> {
        let family = IpFamily::parse(el.attr("family"), "<ip family>")?;
        let raw_addr = el.req_attr("address")?;
        let address = values::ip_addr("<ip address>", raw_addr)?;
        let netmask_raw = el.attr("netmask");
        let prefix: Option<u8> = values::number::<u32>(el, "prefix")?
            .map(|p| {
                u8::try_from(p).map_err(|_| {
                    XmlError::invalid("<ip prefix>", p.to_string(), "prefix is too large")
                })
            })
            .transpose()?
            .filter(|p| *p > 0);
        let mut ip = IpDef {
            family,
            address,
            netmask: None,
            prefix,
            local_ptr: tristate(el, "localPtr")?,
            tftp_root: None,
            dhcp_ranges: Vec::new(),
            dhcp_hosts: Vec::new(),
            bootp: None,
        };
        match family {
            None | Some(IpFamily::V4) => {
                if !address.is_ipv4() {
                    return Err(XmlError::invalid(
                        "<ip address>",
                        raw_addr,
                        format!(
                            "{} family specified for a non-IPv4 address in network '{network}'",
                            if family.is_none() { "no" } else { "ipv4" }
                        ),
                    ));
                }
                if let Some(m) = netmask_raw {
                    ip.netmask = Some(values::ipv4_netmask("<ip netmask>", m)?);
                    if prefix.is_some() {
                        return Err(XmlError::Conflict(format!(
                            "IP address {address} of network '{network}' cannot have both a prefix and a netmask"
                        )));
                    }
                }
                if let Some(p) = prefix.filter(|p| *p > 32) {
                    return Err(XmlError::invalid(
                        "<ip prefix>",
                        p.to_string(),
                        "an IPv4 prefix must be 0-32",
                    ));
                }
            }
            Some(IpFamily::V6) => {
                if !address.is_ipv6() {
                    return Err(XmlError::invalid(
                        "<ip address>",
                        raw_addr,
                        format!(
                            "family 'ipv6' specified for a non-IPv6 address in network '{network}'"
                        ),
                    ));
                }
                if let Some(m) = netmask_raw {
                    return Err(XmlError::invalid(
                        "<ip netmask>",
                        m,
                        "netmask not allowed for an IPv6 address, use prefix",
                    ));
                }
                if let Some(p) = prefix.filter(|p| *p > 128) {
                    return Err(XmlError::invalid(
                        "<ip prefix>",
                        p.to_string(),
                        "an IPv6 prefix must be 0-128",
                    ));
                }
            }
        }

        let mut dhcp = None;
        for child in el.elements() {
            match child.name.as_str() {
                "dhcp" => {
                    if dhcp.is_some() {
                        return Err(XmlError::Conflict(format!(
                            "multiple <dhcp> elements found in <ip> {address} of network '{network}'"
                        )));
                    }
                    dhcp = Some(child);
                }
                "tftp" => {
                    if !address.is_ipv4() {
                        return Err(XmlError::Unsupported(format!(
                            "<tftp> in an IPv6 <ip> of network '{network}'"
                        )));
                    }
                    ip.tftp_root = Some(child.req_attr("root")?.to_string());
                }
                _ => {}
            }
        }
        if let Some(dhcp) = dhcp {
            ip.parse_dhcp(dhcp, network)?;
        }
        Ok(ip)
    }

    fn parse_dhcp(&mut self, dhcp: &Element, network: &str) -> Result<(), XmlError> {
        let prefix = self.prefix_len();
        for child in dhcp.elements() {
            match child.name.as_str() {
                "range" => {
                    let start = values::ip_addr("<range start>", child.req_attr("start")?)?;
                    let end = values::ip_addr("<range end>", child.req_attr("end")?)?;
                    let Some(prefix) = prefix else {
                        return Err(XmlError::invalid(
                            "<ip address>",
                            self.address.to_string(),
                            format!("no netmask or prefix to check DHCP ranges of network '{network}' against"),
                        ));
                    };
                    values::address_range_size(start, end, Some((self.address, prefix))).map_err(
                        |reason| {
                            XmlError::invalid(
                                "DHCP range",
                                format!("{start} - {end}"),
                                format!("{reason} (network '{network}')"),
                            )
                        },
                    )?;
                    self.dhcp_ranges.push(DhcpRange {
                        start,
                        end,
                        lease: Lease::parse_child(child)?,
                    });
                }
                "host" => {
                    let host = self.parse_host(child, network, false)?;
                    self.dhcp_hosts.push(host);
                }
                "bootp" if self.address.is_ipv4() => {
                    let Some(file) = child.attr("file") else {
                        continue;
                    };
                    let server = child
                        .attr("server")
                        .map(|s| values::ip_addr("<bootp server>", s))
                        .transpose()?;
                    self.bootp = Some(Bootp {
                        file: file.to_string(),
                        server,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Parses a `<host>` of this `<ip>`'s DHCP. `partial` accepts what
    /// `net-update ... delete` matches on: any one of mac, name or ip.
    pub(crate) fn parse_host(
        &self,
        el: &Element,
        network: &str,
        partial: bool,
    ) -> Result<DhcpHost, XmlError> {
        let v6 = self.address.is_ipv6();
        let mac = match el.attr("mac") {
            None => None,
            Some(raw) => {
                if v6 {
                    return Err(XmlError::invalid(
                        "<host mac>",
                        raw,
                        format!("a MAC address cannot be used in an IPv6 static host of network '{network}'"),
                    ));
                }
                let mac = MacAddr::parse(raw)?;
                if mac.is_multicast() {
                    return Err(XmlError::invalid(
                        "<host mac>",
                        raw,
                        "expected a unicast MAC address, found a multicast one",
                    ));
                }
                Some(mac)
            }
        };
        let id = el.attr("id").map(str::to_string);
        if let Some(id) = &id {
            if let Some(bad) = id.chars().find(|c| !(c.is_ascii_hexdigit() || *c == ':')) {
                return Err(XmlError::invalid(
                    "<host id>",
                    id.as_str(),
                    format!("invalid character '{bad}' (hex digits and ':' only)"),
                ));
            }
        }
        let name = el.attr("name").map(str::to_string);
        if let Some(name) = &name {
            if !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
                return Err(XmlError::invalid(
                    "<host name>",
                    name.as_str(),
                    "a host name must start with a letter",
                ));
            }
        }
        let ip = el
            .attr("ip")
            .map(|s| values::ip_addr("<host ip>", s))
            .transpose()?;
        if partial {
            if mac.is_none() && name.is_none() && ip.is_none() {
                return Err(XmlError::Conflict(format!(
                    "at least one of name, mac, or ip must be given to match a static host of network '{network}'"
                )));
            }
            return Ok(DhcpHost {
                mac,
                id,
                name,
                ip,
                lease: Lease::parse_child(el)?,
            });
        }
        if v6 && id.is_none() && name.is_none() {
            return Err(XmlError::Conflict(format!(
                "a static host in IPv6 network '{network}' must have an id or name attribute"
            )));
        }
        if !v6 && mac.is_none() && name.is_none() {
            return Err(XmlError::Conflict(format!(
                "a static host in IPv4 network '{network}' must have a mac or name attribute"
            )));
        }
        let Some(ip) = ip else {
            return Err(XmlError::MissingAttribute {
                element: "host".into(),
                attribute: "ip".into(),
            });
        };
        if ip.is_ipv6() != v6 {
            return Err(XmlError::invalid(
                "<host ip>",
                ip.to_string(),
                format!(
                    "static host of network '{network}' is not {} like its <ip>",
                    family_name(&self.address)
                ),
            ));
        }
        Ok(DhcpHost {
            mac,
            id,
            name,
            ip: Some(ip),
            lease: Lease::parse_child(el)?,
        })
    }

    /// Formats `<ip>` as libvirt does.
    pub fn to_element(&self) -> Element {
        let mut el = Element::new("ip")
            .with_opt_attr("family", self.family.map(IpFamily::as_str))
            .with_attr("address", self.address.to_string())
            .with_opt_attr("netmask", self.netmask.map(|m| m.to_string()))
            .with_opt_attr(
                "prefix",
                self.prefix.filter(|p| *p > 0).map(|p| p.to_string()),
            )
            .with_opt_attr("localPtr", self.local_ptr.map(yes_no));
        if let Some(root) = &self.tftp_root {
            el.push(Element::new("tftp").with_attr("root", root.as_str()));
        }
        if self.has_dhcp() {
            let mut dhcp = Element::new("dhcp");
            for r in &self.dhcp_ranges {
                let mut range = Element::new("range")
                    .with_attr("start", r.start.to_string())
                    .with_attr("end", r.end.to_string());
                if let Some(l) = r.lease {
                    range.push(l.to_element());
                }
                dhcp.push(range);
            }
            for h in &self.dhcp_hosts {
                let mut host = Element::new("host")
                    .with_opt_attr("mac", h.mac.map(|m| m.to_string()))
                    .with_opt_attr("id", h.id.as_deref())
                    .with_opt_attr("name", h.name.as_deref())
                    .with_opt_attr("ip", h.ip.map(|i| i.to_string()));
                if let Some(l) = h.lease {
                    host.push(l.to_element());
                }
                dhcp.push(host);
            }
            if let Some(b) = &self.bootp {
                dhcp.push(
                    Element::new("bootp")
                        .with_attr("file", b.file.as_str())
                        .with_opt_attr("server", b.server.map(|s| s.to_string())),
                );
            }
            el.push(dhcp);
        }
        super::open_close(el)
    }
}
