//! What is checked before anything of a network is made, so that a start
//! that cannot succeed fails with a clear message and leaves nothing behind:
//! the bridge name is free, no existing route already covers a subnet, and
//! every DHCP range lies inside its subnet.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::netlink::link_exists;
use super::RuntimeError;
use crate::xml::network::{mask_address, Network};

/// One route of the main table: destination, prefix length, device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    /// Destination network.
    pub dest: IpAddr,
    /// Prefix length.
    pub prefix: u8,
    /// Device name.
    pub device: String,
}

/// Parses `/proc/net/route` (IPv4, addresses as little-endian hex).
pub fn parse_ipv4_routes(text: &str) -> Vec<HostRoute> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 8 {
                return None;
            }
            let dest = u32::from_str_radix(f[1], 16).ok()?;
            let mask = u32::from_str_radix(f[7], 16).ok()?;
            Some(HostRoute {
                dest: IpAddr::V4(Ipv4Addr::from(u32::from_be(dest))),
                prefix: u8::try_from(mask.count_ones()).ok()?,
                device: f[0].to_string(),
            })
        })
        .collect()
}

/// Parses `/proc/net/ipv6_route` (32 hex digits, prefix in hex, device last).
pub fn parse_ipv6_routes(text: &str) -> Vec<HostRoute> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let dest = u128::from_str_radix(f[0], 16).ok()?;
            let prefix = u8::from_str_radix(f[1], 16).ok()?;
            Some(HostRoute {
                dest: IpAddr::V6(Ipv6Addr::from(dest)),
                prefix,
                device: f[9].to_string(),
            })
        })
        .collect()
}

/// The routes of the calling thread's network namespace (`thread-self`,
/// because a thread may have moved to a namespace of its own).
pub fn host_routes() -> Vec<HostRoute> {
    let read = |name: &str| {
        std::fs::read_to_string(format!("/proc/thread-self/net/{name}")).unwrap_or_default()
    };
    let mut routes = parse_ipv4_routes(&read("route"));
    routes.extend(parse_ipv6_routes(&read("ipv6_route")));
    routes
}

/// True when `addr` lies in `net/prefix`.
fn contains(net: IpAddr, prefix: u8, addr: IpAddr) -> bool {
    net.is_ipv4() == addr.is_ipv4() && mask_address(addr, prefix) == mask_address(net, prefix)
}

/// Refuses a subnet an existing route already uses: the same subnet, or a
/// more specific route inside it (the default route does not count).
pub fn check_route_collisions(net: &Network, routes: &[HostRoute]) -> Result<(), RuntimeError> {
    for ip in &net.ips {
        let Some(prefix) = ip.prefix_len() else {
            continue;
        };
        let subnet = mask_address(ip.address, prefix);
        let clash = routes.iter().find(|r| {
            r.prefix > 0
                && r.device != "lo"
                && !(r.dest.is_ipv6() && r.prefix == 128)
                && r.prefix >= prefix
                && contains(subnet, prefix, r.dest)
                && !(r.dest.is_ipv6() && r.dest.to_string().starts_with("fe80"))
        });
        if let Some(r) = clash {
            return Err(RuntimeError::InUse(format!(
                "network '{}': the subnet {subnet}/{prefix} is already in use by interface {} \
                 (route {}/{})",
                net.name, r.device, r.dest, r.prefix
            )));
        }
    }
    Ok(())
}

/// Refuses DHCP ranges and static hosts outside their `<ip>`'s subnet.
pub fn check_dhcp_ranges(net: &Network) -> Result<(), RuntimeError> {
    for ip in &net.ips {
        let Some(prefix) = ip.prefix_len() else {
            continue;
        };
        for r in &ip.dhcp_ranges {
            if !contains(ip.address, prefix, r.start) || !contains(ip.address, prefix, r.end) {
                return Err(RuntimeError::Config(format!(
                    "network '{}': DHCP range {} - {} is not entirely within the network {}/{prefix}",
                    net.name,
                    r.start,
                    r.end,
                    mask_address(ip.address, prefix)
                )));
            }
        }
        for h in &ip.dhcp_hosts {
            if let Some(addr) = h.ip.filter(|a| !contains(ip.address, prefix, *a)) {
                return Err(RuntimeError::Config(format!(
                    "network '{}': DHCP host address {addr} is not within the network {}/{prefix}",
                    net.name,
                    mask_address(ip.address, prefix)
                )));
            }
        }
    }
    Ok(())
}

/// Refuses a bridge name that a device already has.
pub fn check_bridge_free(net: &Network, bridge: &str) -> Result<(), RuntimeError> {
    if link_exists(bridge) {
        return Err(RuntimeError::InUse(format!(
            "network '{}': the bridge name '{bridge}' is already in use by another device",
            net.name
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: &str =
        "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t0000A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n";

    fn net(xml: &str) -> Network {
        Network::parse(xml).expect("valid network")
    }

    #[test]
    fn reads_proc_routes() {
        let routes = parse_ipv4_routes(ROUTE);
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[1].dest, "192.168.0.0".parse::<IpAddr>().expect("ip"));
        assert_eq!(routes[1].prefix, 24);
        let v6 = parse_ipv6_routes(
            "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 \
             00000000000000000000000000000000 00000100 00000001 00000000 00000001 br0\n",
        );
        assert_eq!(v6[0].prefix, 64);
        assert_eq!(v6[0].device, "br0");
    }

    #[test]
    fn same_subnet_collides_default_route_does_not() {
        let routes = parse_ipv4_routes(ROUTE);
        let clash = net("<network><name>n</name><ip address='192.168.0.1' prefix='24'/></network>");
        let err = check_route_collisions(&clash, &routes).expect_err("collides");
        assert!(
            err.to_string().contains("in use by interface eth0"),
            "{err}"
        );
        let free = net("<network><name>n</name><ip address='10.9.0.1' prefix='24'/></network>");
        check_route_collisions(&free, &routes).expect("default route is no collision");
    }

    #[test]
    fn dhcp_range_outside_subnet_is_refused() {
        // The XML model refuses this on define; the runtime check guards
        // definitions changed behind its back.
        let mut bad = net(
            "<network><name>n</name><ip address='10.9.0.1' prefix='24'><dhcp>\
             <range start='10.9.0.10' end='10.9.0.20'/></dhcp></ip></network>",
        );
        bad.ips[0].dhcp_ranges[0].end = "10.9.1.20".parse().expect("ip");
        let err = check_dhcp_ranges(&bad).expect_err("outside");
        assert!(err.to_string().contains("not entirely within"), "{err}");
    }
}
