//! `<route>`: static routes to subnets behind a host on the network.

use std::net::{IpAddr, Ipv4Addr};

use super::ip::IpFamily;
use super::values::{self, mask_address};
use crate::xml::{Element, XmlError};

/// `<route>`: a static route through a host on the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// `family` as written.
    pub family: Option<IpFamily>,
    /// Destination network address.
    pub address: IpAddr,
    /// IPv4 netmask, when written as one.
    pub netmask: Option<Ipv4Addr>,
    /// Prefix length, when written as one.
    pub prefix: Option<u8>,
    /// Next hop; must be inside one of the network's subnets.
    pub gateway: IpAddr,
    /// Route metric (> 0).
    pub metric: Option<u32>,
}

impl Route {
    /// The destination's prefix length.
    pub fn prefix_len(&self) -> u8 {
        self.prefix
            .or_else(|| self.netmask.map(values::netmask_prefix))
            .unwrap_or(0)
    }

    /// Parses `<route>`.
    pub fn parse(el: &Element, network: &str) -> Result<Route, XmlError> {
        let family = IpFamily::parse(el.attr("family"), "<route family>")?;
        let address = values::ip_addr("<route address>", el.req_attr("address")?)?;
        let gateway = values::ip_addr("<route gateway>", el.req_attr("gateway")?)?;
        let prefix: Option<u32> = values::number(el, "prefix")?;
        let metric: Option<u32> = values::number(el, "metric")?;
        if metric == Some(0) {
            return Err(XmlError::invalid(
                "<route metric>",
                "0",
                "the metric must be > 0",
            ));
        }
        let want_v6 = family == Some(IpFamily::V6);
        if address.is_ipv6() != want_v6 || gateway.is_ipv6() != want_v6 {
            return Err(XmlError::invalid(
                "<route>",
                format!("{address} via {gateway}"),
                format!(
                    "address and gateway must both be {} (family {}) in network '{network}'",
                    if want_v6 { "IPv6" } else { "IPv4" },
                    family.map_or("not given", IpFamily::as_str)
                ),
            ));
        }
        let max = if want_v6 { 128 } else { 32 };
        let prefix = match prefix {
            Some(p) if p > max => {
                return Err(XmlError::invalid(
                    "<route prefix>",
                    p.to_string(),
                    format!("must be 0 - {max}"),
                ))
            }
            // Bounded by 128 above.
            p => p.map(|p| p as u8),
        };
        let netmask = match el.attr("netmask") {
            None => None,
            Some(_) if want_v6 => {
                return Err(XmlError::invalid(
                    "<route netmask>",
                    el.attr("netmask").unwrap_or_default(),
                    "netmask is invalid for an IPv6 route, use prefix",
                ))
            }
            Some(raw) => {
                if prefix.is_some() {
                    return Err(XmlError::Conflict(format!(
                        "a route of network '{network}' cannot have both a prefix and a netmask"
                    )));
                }
                Some(values::ipv4_netmask("<route netmask>", raw)?)
            }
        };
        let route = Route {
            family,
            address,
            netmask,
            prefix,
            gateway,
            metric,
        };
        if mask_address(address, route.prefix_len()) != address {
            return Err(XmlError::invalid(
                "<route address>",
                address.to_string(),
                format!("not a network address for prefix {}", route.prefix_len()),
            ));
        }
        Ok(route)
    }

    /// Formats `<route>`.
    pub fn to_element(&self) -> Element {
        Element::new("route")
            .with_opt_attr("family", self.family.map(IpFamily::as_str))
            .with_attr("address", self.address.to_string())
            .with_opt_attr("netmask", self.netmask.map(|m| m.to_string()))
            .with_opt_attr("prefix", self.prefix.map(|p| p.to_string()))
            .with_attr("gateway", self.gateway.to_string())
            .with_opt_attr("metric", self.metric.map(|m| m.to_string()))
    }
}
