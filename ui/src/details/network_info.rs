//! What the Virtual Networks tab shows of a `<network>` definition, and the
//! definition the create-network assistant writes.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use gettextrs::gettext;
use hangar_core::xml::Element;

use crate::backend::UiError;

/// One `<ip>` of a network.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IpView {
    /// "192.168.122.0/24".
    pub network: String,
    /// "192.168.122.2 – 192.168.122.254", empty without DHCP.
    pub dhcp: String,
}

/// The fields of the details pane.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkView {
    /// `<bridge name>`.
    pub device: String,
    /// `<domain name>`.
    pub dns_domain: String,
    /// `<forward mode>`, or "isolated" without `<forward>`.
    pub mode: String,
    /// `<forward dev>`, empty for any device.
    pub forward_dev: String,
    /// The IPv4 network.
    pub ipv4: Option<IpView>,
    /// The IPv6 network.
    pub ipv6: Option<IpView>,
}

impl NetworkView {
    /// Reads a `<network>` definition.
    pub fn parse(xml: &str) -> Result<Self, UiError> {
        let root = Element::parse(xml).map_err(|err| UiError::Input(err.to_string()))?;
        let forward = root.child("forward");
        let mut view = NetworkView {
            device: root
                .child("bridge")
                .and_then(|b| b.attr("name"))
                .unwrap_or_default()
                .to_string(),
            dns_domain: root
                .child("domain")
                .and_then(|d| d.attr("name"))
                .unwrap_or_default()
                .to_string(),
            mode: forward
                .map(|f| f.attr("mode").unwrap_or("nat").to_string())
                .unwrap_or_else(|| "isolated".to_string()),
            forward_dev: forward
                .and_then(|f| f.attr("dev"))
                .unwrap_or_default()
                .to_string(),
            ipv4: None,
            ipv6: None,
        };
        for ip in root.children_named("ip") {
            let Some(address) = ip.attr("address").and_then(|a| a.parse::<IpAddr>().ok()) else {
                continue;
            };
            let prefix = ip
                .attr("prefix")
                .and_then(|p| p.parse::<u8>().ok())
                .or_else(|| ip.attr("netmask").and_then(netmask_prefix));
            let dhcp = ip
                .child("dhcp")
                .and_then(|d| d.child("range"))
                .and_then(|r| Some(format!("{} – {}", r.attr("start")?, r.attr("end")?)))
                .unwrap_or_default();
            match address {
                IpAddr::V4(v4) => {
                    let prefix = prefix.unwrap_or(24);
                    view.ipv4 = Some(IpView {
                        network: format!("{}/{prefix}", network_v4(v4, prefix)),
                        dhcp,
                    });
                }
                IpAddr::V6(v6) => {
                    let prefix = prefix.unwrap_or(64);
                    view.ipv6 = Some(IpView {
                        network: format!("{}/{prefix}", network_v6(v6, prefix)),
                        dhcp,
                    });
                }
            }
        }
        Ok(view)
    }

    /// The forwarding mode as the UI words it.
    pub fn mode_text(&self) -> String {
        let mode = match self.mode.as_str() {
            "nat" => gettext("NAT"),
            "route" => gettext("Routed"),
            "open" => gettext("Open"),
            "isolated" => gettext("Isolated"),
            "bridge" => gettext("Bridge"),
            other => other.to_string(),
        };
        if self.forward_dev.is_empty() {
            if matches!(self.mode.as_str(), "nat" | "route") {
                format!("{mode} ({})", gettext("any physical device"))
            } else {
                mode
            }
        } else {
            format!("{mode} → {}", self.forward_dev)
        }
    }
}

fn netmask_prefix(mask: &str) -> Option<u8> {
    let mask: Ipv4Addr = mask.parse().ok()?;
    let bits = u32::from(mask);
    let prefix = bits.leading_ones();
    (bits.checked_shl(prefix).unwrap_or(0) == 0).then_some(prefix as u8)
}

fn network_v4(address: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let mask = u32::MAX
        .checked_shl(32 - u32::from(prefix.min(32)))
        .unwrap_or(0);
    Ipv4Addr::from(u32::from(address) & mask)
}

fn network_v6(address: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let mask = u128::MAX
        .checked_shl(128 - u32::from(prefix.min(128)))
        .unwrap_or(0);
    Ipv6Addr::from(u128::from(address) & mask)
}

/// Forwarding modes the assistant offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// NAT to the outside.
    Nat,
    /// Routed without NAT.
    Routed,
    /// No forwarding.
    Isolated,
    /// Routed, with no firewall rules added.
    Open,
}

/// What the create-network assistant collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNetwork {
    /// Name.
    pub name: String,
    /// Forwarding mode.
    pub mode: Mode,
    /// Physical device to forward to; `None` for any.
    pub forward_dev: Option<String>,
    /// DNS domain name.
    pub dns_domain: Option<String>,
    /// IPv4 network ("192.168.100.0/24") and optional DHCP range.
    pub ipv4: Option<(String, Option<(String, String)>)>,
    /// IPv6 network ("fd00:1::/64") and optional DHCPv6 range.
    pub ipv6: Option<(String, Option<(String, String)>)>,
}

impl NewNetwork {
    /// Checks the input and writes the `<network>` definition.
    pub fn to_xml(&self) -> Result<String, UiError> {
        let invalid = |message: String| UiError::Input(message);
        if self.name.trim().is_empty() || self.name.contains('/') {
            return Err(invalid(gettext("The network needs a name without “/”.")));
        }
        let mut root =
            Element::new("network").with_child(Element::new("name").with_text(self.name.trim()));
        let mode = match self.mode {
            Mode::Nat => Some("nat"),
            Mode::Routed => Some("route"),
            Mode::Open => Some("open"),
            Mode::Isolated => None,
        };
        if let Some(mode) = mode {
            let dev = self
                .forward_dev
                .as_deref()
                .filter(|d| !d.trim().is_empty() && mode != "open");
            root.push(
                Element::new("forward")
                    .with_attr("mode", mode)
                    .with_opt_attr("dev", dev),
            );
        }
        if let Some(domain) = self.dns_domain.as_deref().filter(|d| !d.trim().is_empty()) {
            root.push(Element::new("domain").with_attr("name", domain.trim()));
        }
        if let Some((network, dhcp)) = &self.ipv4 {
            let (address, prefix) = parse_cidr(network)?;
            let IpAddr::V4(address) = address else {
                return Err(invalid(gettext(
                    "The IPv4 network must be an IPv4 address.",
                )));
            };
            if prefix > 30 {
                return Err(invalid(gettext("The IPv4 network is too small.")));
            }
            let base = network_v4(address, prefix);
            let gateway = Ipv4Addr::from(u32::from(base) + 1);
            let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0));
            let mut ip = Element::new("ip")
                .with_attr("address", gateway.to_string())
                .with_attr("netmask", mask.to_string());
            if let Some((start, end)) = dhcp {
                let start_ip: Ipv4Addr = start
                    .trim()
                    .parse()
                    .map_err(|_| invalid(gettext("The DHCP start address is not valid.")))?;
                let end_ip: Ipv4Addr = end
                    .trim()
                    .parse()
                    .map_err(|_| invalid(gettext("The DHCP end address is not valid.")))?;
                if network_v4(start_ip, prefix) != base || network_v4(end_ip, prefix) != base {
                    return Err(invalid(gettext(
                        "The DHCP range must lie inside the IPv4 network.",
                    )));
                }
                if u32::from(start_ip) > u32::from(end_ip) {
                    return Err(invalid(gettext("The DHCP range starts after it ends.")));
                }
                ip.push(
                    Element::new("dhcp").with_child(
                        Element::new("range")
                            .with_attr("start", start_ip.to_string())
                            .with_attr("end", end_ip.to_string()),
                    ),
                );
            }
            root.push(ip);
        }
        if let Some((network, dhcp)) = &self.ipv6 {
            let (address, prefix) = parse_cidr(network)?;
            let IpAddr::V6(address) = address else {
                return Err(invalid(gettext(
                    "The IPv6 network must be an IPv6 address.",
                )));
            };
            if prefix > 126 {
                return Err(invalid(gettext("The IPv6 network is too small.")));
            }
            let base = network_v6(address, prefix);
            let gateway = Ipv6Addr::from(u128::from(base) + 1);
            let mut ip = Element::new("ip")
                .with_attr("family", "ipv6")
                .with_attr("address", gateway.to_string())
                .with_attr("prefix", prefix.to_string());
            if let Some((start, end)) = dhcp {
                let start_ip: Ipv6Addr = start
                    .trim()
                    .parse()
                    .map_err(|_| invalid(gettext("The DHCPv6 start address is not valid.")))?;
                let end_ip: Ipv6Addr = end
                    .trim()
                    .parse()
                    .map_err(|_| invalid(gettext("The DHCPv6 end address is not valid.")))?;
                if network_v6(start_ip, prefix) != base || network_v6(end_ip, prefix) != base {
                    return Err(invalid(gettext(
                        "The DHCPv6 range must lie inside the IPv6 network.",
                    )));
                }
                ip.push(
                    Element::new("dhcp").with_child(
                        Element::new("range")
                            .with_attr("start", start_ip.to_string())
                            .with_attr("end", end_ip.to_string()),
                    ),
                );
            }
            root.push(ip);
        }
        if self.ipv4.is_none() && self.ipv6.is_none() && self.mode != Mode::Isolated {
            return Err(invalid(gettext(
                "A forwarding network needs an IPv4 or IPv6 network.",
            )));
        }
        Ok(root.to_xml())
    }
}

/// "192.168.100.0/24" → (address, prefix).
fn parse_cidr(text: &str) -> Result<(IpAddr, u8), UiError> {
    let bad = || {
        UiError::Input(format!(
            "{} {text}",
            gettext("Not a network address with a prefix length:")
        ))
    };
    let (address, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let prefix: u8 = prefix.parse().map_err(|_| bad())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    if prefix > max {
        return Err(bad());
    }
    Ok((address, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nat_network_with_dhcp_round_trips() {
        let new = NewNetwork {
            name: "lab".into(),
            mode: Mode::Nat,
            forward_dev: None,
            dns_domain: Some("lab.test".into()),
            ipv4: Some((
                "192.168.100.0/24".into(),
                Some(("192.168.100.128".into(), "192.168.100.254".into())),
            )),
            ipv6: None,
        };
        let xml = new.to_xml().expect("valid network");
        let view = NetworkView::parse(&xml).expect("parses");
        assert_eq!(view.mode, "nat");
        assert_eq!(view.dns_domain, "lab.test");
        let ipv4 = view.ipv4.expect("ipv4");
        assert_eq!(ipv4.network, "192.168.100.0/24");
        assert_eq!(ipv4.dhcp, "192.168.100.128 – 192.168.100.254");
    }

    #[test]
    fn dhcp_range_outside_the_subnet_is_refused() {
        let new = NewNetwork {
            name: "lab".into(),
            mode: Mode::Isolated,
            forward_dev: None,
            dns_domain: None,
            ipv4: Some((
                "10.0.0.0/24".into(),
                Some(("10.0.1.2".into(), "10.0.1.9".into())),
            )),
            ipv6: None,
        };
        assert!(new.to_xml().is_err());
    }
}
