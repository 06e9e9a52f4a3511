//! Scalar values of the network format: yes/no switches, numbers and IP
//! addresses, read with libvirt's rules and reported with clear errors.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use crate::xml::{Element, XmlError};

/// Names an attribute for error messages: `<bridge delay>`.
pub(crate) fn attr_label(el: &Element, attr: &str) -> String {
    format!("<{} {}>", el.name, attr)
}

/// Reads an optional `yes`/`no` attribute (libvirt's tristate).
pub(crate) fn tristate(el: &Element, attr: &str) -> Result<Option<bool>, XmlError> {
    match el.attr(attr) {
        None => Ok(None),
        Some("yes") => Ok(Some(true)),
        Some("no") => Ok(Some(false)),
        Some(other) => Err(XmlError::invalid(
            attr_label(el, attr),
            other,
            "expected 'yes' or 'no'",
        )),
    }
}

/// Formats a tristate value.
pub(crate) fn yes_no(value: bool) -> &'static str {
    if value {
        "yes"
    } else {
        "no"
    }
}

/// Reads an optional decimal number attribute.
pub(crate) fn number<T: FromStr>(el: &Element, attr: &str) -> Result<Option<T>, XmlError> {
    match el.attr(attr) {
        None => Ok(None),
        Some(raw) => raw.trim().parse::<T>().map(Some).map_err(|_| {
            XmlError::invalid(
                attr_label(el, attr),
                raw,
                "expected a non-negative whole number in range",
            )
        }),
    }
}

/// Reads a required decimal number attribute.
pub(crate) fn required_number<T: FromStr>(el: &Element, attr: &str) -> Result<T, XmlError> {
    el.req_attr(attr)?;
    number(el, attr)?.ok_or_else(|| XmlError::MissingAttribute {
        element: el.name.clone(),
        attribute: attr.to_string(),
    })
}

/// Parses a number the way C's `strtoul(s, NULL, 0)` does: `0x` hex, a
/// leading `0` octal, otherwise decimal (PCI addresses, virtualport ids).
pub(crate) fn number_any_base(what: &str, raw: &str) -> Result<u32, XmlError> {
    let s = raw.trim();
    let parsed = if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(hex, 16)
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8)
    } else {
        s.parse::<u32>()
    };
    parsed
        .map_err(|_| XmlError::invalid(what, raw, "expected a number (decimal, 0x hex or 0 octal)"))
}

/// Parses an IPv4 or IPv6 address.
pub(crate) fn ip_addr(what: &str, raw: &str) -> Result<IpAddr, XmlError> {
    IpAddr::from_str(raw.trim())
        .map_err(|_| XmlError::invalid(what, raw, "not an IPv4 or IPv6 address"))
}

/// Parses an IPv4 netmask and checks that its bits are contiguous.
pub(crate) fn ipv4_netmask(what: &str, raw: &str) -> Result<Ipv4Addr, XmlError> {
    let mask = match ip_addr(what, raw)? {
        IpAddr::V4(m) => m,
        IpAddr::V6(_) => {
            return Err(XmlError::invalid(
                what,
                raw,
                "a netmask must be an IPv4 address",
            ));
        }
    };
    let bits = u32::from(mask);
    if bits.leading_ones() + bits.trailing_zeros() != 32 {
        return Err(XmlError::invalid(
            what,
            raw,
            "netmask bits must be contiguous (e.g. 255.255.255.0)",
        ));
    }
    Ok(mask)
}

/// Number of leading one bits of a valid netmask.
pub(crate) fn netmask_prefix(mask: Ipv4Addr) -> u8 {
    // At most 32, so the narrowing cannot lose anything.
    u32::from(mask).leading_ones() as u8
}

/// The network part of `addr` for a prefix length (bits beyond the family's
/// width are ignored).
pub fn mask_address(addr: IpAddr, prefix: u8) -> IpAddr {
    match addr {
        IpAddr::V4(a) => {
            let p = u32::from(prefix.min(32));
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            IpAddr::V4(Ipv4Addr::from(u32::from(a) & mask))
        }
        IpAddr::V6(a) => {
            let p = u32::from(prefix.min(128));
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            IpAddr::V6(Ipv6Addr::from(u128::from(a) & mask))
        }
    }
}

/// The IPv4 netmask for a prefix length.
pub fn prefix_to_netmask(prefix: u8) -> Ipv4Addr {
    let p = u32::from(prefix.min(32));
    let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
    Ipv4Addr::from(mask)
}

/// "IPv4" or "IPv6", for messages.
pub(crate) fn family_name(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

/// Number of addresses from `start` to `end` inclusive, checked as libvirt's
/// `virSocketAddrGetRange` does: same family, not reversed, and when a
/// network is given, inside it and (IPv4) not its network or broadcast
/// address. IPv6 ranges may only differ in their last 32 bits.
pub fn address_range_size(
    start: IpAddr,
    end: IpAddr,
    network: Option<(IpAddr, u8)>,
) -> Result<u64, String> {
    if start.is_ipv4() != end.is_ipv4() {
        return Err(format!(
            "mismatch of address family in range {start} - {end}"
        ));
    }
    if let Some((net, prefix)) = network {
        if start.is_ipv4() != net.is_ipv4() {
            return Err(format!(
                "mismatch of address family in range {start} - {end} for network {net}"
            ));
        }
        let base = mask_address(net, prefix);
        if mask_address(start, prefix) != base || mask_address(end, prefix) != base {
            return Err(format!(
                "range {start} - {end} is not entirely within network {base}/{prefix}"
            ));
        }
        if let (IpAddr::V4(s), IpAddr::V4(e), IpAddr::V4(b)) = (start, end, base) {
            let host_bits = 32 - u32::from(prefix.min(32));
            let broadcast = if host_bits == 32 {
                u32::MAX
            } else {
                u32::from(b) | ((1u32 << host_bits) - 1)
            };
            if prefix < 31 && s == b {
                return Err(format!(
                    "start of range {start} - {end} in network {base}/{prefix} is the network address"
                ));
            }
            if prefix < 31 && u32::from(e) == broadcast {
                return Err(format!(
                    "end of range {start} - {end} in network {base}/{prefix} is the broadcast address"
                ));
            }
        }
    }
    match (start, end) {
        (IpAddr::V4(s), IpAddr::V4(e)) => {
            let (s, e) = (u32::from(s), u32::from(e));
            if s > e {
                return Err(format!("range {start} - {end} is reversed"));
            }
            Ok(u64::from(e - s) + 1)
        }
        (IpAddr::V6(s), IpAddr::V6(e)) => {
            let (s, e) = (u128::from(s), u128::from(e));
            if s >> 32 != e >> 32 {
                return Err(format!("range {start} - {end} is too large"));
            }
            if s > e {
                return Err(format!("range {start} - {end} is reversed"));
            }
            // Both share their upper 96 bits, so the difference fits in 32 bits.
            Ok(((e - s) as u64) + 1)
        }
        _ => Err(format!(
            "mismatch of address family in range {start} - {end}"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    #[test]
    fn range_sizes_and_errors() {
        let net = Some((ip("192.168.122.1"), 24));
        assert_eq!(
            address_range_size(ip("192.168.122.2"), ip("192.168.122.254"), net),
            Ok(253)
        );
        assert!(
            address_range_size(ip("192.168.122.9"), ip("192.168.122.2"), net)
                .expect_err("rejected")
                .contains("reversed")
        );
        assert!(
            address_range_size(ip("192.168.122.2"), ip("192.168.123.2"), net)
                .expect_err("rejected")
                .contains("not entirely within")
        );
        assert!(
            address_range_size(ip("192.168.122.0"), ip("192.168.122.9"), net)
                .expect_err("rejected")
                .contains("network address")
        );
        assert!(
            address_range_size(ip("192.168.122.2"), ip("192.168.122.255"), net)
                .expect_err("rejected")
                .contains("broadcast")
        );
        let net6 = Some((ip("2001:db8:ac10:fd01::1"), 64));
        assert_eq!(
            address_range_size(
                ip("2001:db8:ac10:fd01::1:10"),
                ip("2001:db8:ac10:fd01::1:ff"),
                net6
            ),
            Ok(240)
        );
        assert!(address_range_size(
            ip("2001:db8:ac10:fd01::1"),
            ip("2001:db8:ac10:fd01:1::1"),
            net6
        )
        .expect_err("rejected")
        .contains("too large"));
    }

    #[test]
    fn netmasks() {
        assert!(ipv4_netmask("netmask", "255.255.255.0").is_ok());
        assert!(ipv4_netmask("netmask", "255.0.255.0").is_err());
        assert!(ipv4_netmask("netmask", "::1").is_err());
        assert_eq!(netmask_prefix("255.255.240.0".parse().expect("mask")), 20);
        assert_eq!(prefix_to_netmask(24), Ipv4Addr::new(255, 255, 255, 0));
    }

    #[test]
    fn numbers_in_any_base() {
        assert_eq!(number_any_base("x", "0x1f").ok(), Some(31));
        assert_eq!(number_any_base("x", "010").ok(), Some(8));
        assert_eq!(number_any_base("x", "0").ok(), Some(0));
        assert!(number_any_base("x", "0xzz").is_err());
    }
}
