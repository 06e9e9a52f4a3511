//! `<network>` facts and the defaults libvirt fills on define.

use super::edit::{edit_child, ensure_uuid};
use crate::api::{ApiError, DhcpLease};
use crate::xml::tree::Node;
use crate::xml::{Element, MacAddr, Network};

/// The `<forward mode>` (`None` for an isolated network).
pub fn forward_mode(el: &Element) -> Option<String> {
    el.child("forward")
        .map(|f| f.attr("mode").unwrap_or("nat").to_string())
}

/// True for modes where libvirt creates its own bridge (NAT, routed, open, isolated).
fn has_own_bridge(el: &Element) -> bool {
    matches!(
        forward_mode(el).as_deref(),
        None | Some("nat") | Some("route") | Some("open")
    )
}

/// The bridge device name, if any.
pub fn bridge(el: &Element) -> Option<String> {
    el.child("bridge")
        .and_then(|b| b.attr("name"))
        .filter(|n| !n.is_empty())
        .map(str::to_string)
}

/// A network definition checked by the model, with its UUID, and for networks
/// with their own bridge a `virbrN` name not in `used_bridges` and a MAC.
pub fn prepare(xml: &str, used_bridges: &[String]) -> Result<(Element, String), ApiError> {
    Network::parse(xml)?;
    let mut el = crate::xml::parse_root(xml, "network")?;
    let uuid = ensure_uuid(&mut el)?;
    if has_own_bridge(&el) {
        if bridge(&el).is_none() {
            let name = (0..)
                .map(|n| format!("virbr{n}"))
                .find(|b| !used_bridges.contains(b))
                .unwrap_or_else(|| "virbr0".to_string());
            edit_child(
                &mut el,
                "bridge",
                &["name", "uuid", "metadata", "forward"],
                |b| {
                    b.set_attr("name", name);
                    if b.attr("stp").is_none() {
                        b.set_attr("stp", "on");
                    }
                    if b.attr("delay").is_none() {
                        b.set_attr("delay", "0");
                    }
                },
            );
        }
        if el.child("mac").is_none() {
            edit_child(
                &mut el,
                "mac",
                &["name", "uuid", "metadata", "forward", "bridge"],
                |m| {
                    m.set_attr("address", MacAddr::random_kvm().to_string());
                },
            );
        }
    }
    Ok((el, uuid))
}

/// Re-checks an edited definition with the model and formats it canonically.
pub fn canonical(el: &Element) -> Result<String, ApiError> {
    Ok(Network::parse(&el.to_xml())?.to_xml())
}

/// The document `net-dumpxml` shows for a running network with
/// `connections` guests attached.
pub fn live_document(el: &Element, connections: u32) -> Result<String, ApiError> {
    Ok(Network::parse(&el.to_xml())?.to_live_xml(connections))
}

/// How many `<interface type='network'>` of `domain` use the network `name`.
pub fn connections_of(domain: &Element, name: &str) -> u32 {
    domain
        .child("devices")
        .map(|d| {
            d.children_named("interface")
                .filter(|i| i.attr("type") == Some("network"))
                .filter(|i| i.child("source").and_then(|s| s.attr("network")) == Some(name))
                .count() as u32
        })
        .unwrap_or(0)
}

/// Static DHCP hosts of the network's IPv4 ranges, as leases that never expire
/// (what a network with no running DHCP server can promise).
pub fn static_leases(el: &Element) -> Vec<DhcpLease> {
    let mut leases = Vec::new();
    for ip in el.children_named("ip") {
        let v6 = ip.attr("family") == Some("ipv6");
        let prefix = ip
            .attr("prefix")
            .and_then(|p| p.parse().ok())
            .or_else(|| ip.attr("netmask").map(netmask_prefix))
            .unwrap_or(if v6 { 64 } else { 24 });
        let Some(dhcp) = ip.child("dhcp") else {
            continue;
        };
        for host in dhcp.children_named("host") {
            let (Some(mac), Some(addr)) = (host.attr("mac"), host.attr("ip")) else {
                continue;
            };
            leases.push(DhcpLease {
                expiry_time: 0,
                mac: mac.to_ascii_lowercase(),
                protocol: if v6 { "ipv6" } else { "ipv4" }.to_string(),
                ip: addr.to_string(),
                prefix,
                hostname: host.attr("name").map(str::to_string),
                client_id: None,
            });
        }
    }
    leases
}

fn netmask_prefix(mask: &str) -> u32 {
    mask.parse::<std::net::Ipv4Addr>()
        .map(|m| u32::from(m).count_ones())
        .unwrap_or(24)
}

/// `net-update`: applies `op` with `xml` to `section` of a network definition.
pub fn update(
    el: &mut Element,
    op: crate::api::NetworkUpdateOp,
    section: &str,
    xml: &str,
    parent_index: Option<usize>,
) -> Result<(), ApiError> {
    use crate::api::NetworkUpdateOp as Op;
    if section == "ip-dhcp-host" {
        // The model knows libvirt's rules for DHCP hosts (which <ip>, which
        // entries clash, which one a modify or delete matches).
        use crate::xml::network::UpdateCommand;
        let command = match op {
            Op::Modify => UpdateCommand::Modify,
            Op::Delete => UpdateCommand::Delete,
            Op::AddFirst => UpdateCommand::AddFirst,
            Op::AddLast => UpdateCommand::AddLast,
        };
        let mut model = Network::parse(&el.to_xml())?;
        model
            .update_dhcp_host(command, parent_index, xml)
            .map_err(|e| ApiError::invalid_op(e.to_string()))?;
        *el = Element::parse(&model.to_xml())?;
        return Ok(());
    }
    let item = Element::parse(xml)?;
    let (path, child, key): (&[&str], &str, &[&str]) = match section {
        "ip-dhcp-range" => (&["ip", "dhcp"], "range", &["start"]),
        "dns-host" => (&["dns"], "host", &["ip"]),
        "dns-txt" => (&["dns"], "txt", &["name"]),
        "dns-srv" => (&["dns"], "srv", &["service"]),
        "forward-interface" => (&["forward"], "interface", &["dev"]),
        "portgroup" => (&[], "portgroup", &["name"]),
        _ => {
            return Err(ApiError::unsupported(format!(
                "can't update '{section}' section of network"
            )))
        }
    };
    if item.name != child {
        return Err(ApiError::InvalidArg(format!(
            "the XML for section '{section}' must be a <{child}> element, not <{}>",
            item.name
        )));
    }
    let parent = descend(el, path, parent_index)?;
    let matches = |e: &Element| {
        e.name == child
            && key
                .iter()
                .any(|k| item.attr(k).is_some() && e.attr(k) == item.attr(k))
    };
    let position = parent
        .children
        .iter()
        .position(|n| matches!(n, Node::Element(e) if matches(e)));
    match (op, position) {
        (Op::Modify, Some(i)) => parent.children[i] = Node::Element(item),
        (Op::Delete, Some(i)) => {
            parent.children.remove(i);
        }
        (Op::Modify | Op::Delete, None) => {
            return Err(ApiError::invalid_op(format!(
                "couldn't locate a matching {child} element in network"
            )))
        }
        (Op::AddFirst | Op::AddLast, Some(_)) => {
            return Err(ApiError::invalid_op(format!(
                "there is already a {child} element matching it in network"
            )))
        }
        (Op::AddFirst, None) => {
            let at = parent
                .children
                .iter()
                .position(|n| matches!(n, Node::Element(e) if e.name == child))
                .unwrap_or(parent.children.len());
            parent.children.insert(at, Node::Element(item));
        }
        (Op::AddLast, None) => {
            let at = parent
                .children
                .iter()
                .rposition(|n| matches!(n, Node::Element(e) if e.name == child))
                .map_or(parent.children.len(), |i| i + 1);
            parent.children.insert(at, Node::Element(item));
        }
    }
    Ok(())
}

/// Walks down `path` (the first `ip` chosen by `parent_index`), creating missing levels.
fn descend<'a>(
    el: &'a mut Element,
    path: &[&str],
    parent_index: Option<usize>,
) -> Result<&'a mut Element, ApiError> {
    let Some((first, rest)) = path.split_first() else {
        return Ok(el);
    };
    let wanted = if *first == "ip" {
        parent_index.unwrap_or(0)
    } else {
        0
    };
    let count = el.children_named(first).count();
    if count == 0 && *first != "ip" {
        el.push(Element::new(*first));
    } else if wanted >= count {
        return Err(ApiError::invalid_op(format!(
            "couldn't update network: there is no <{first}> element number {wanted}"
        )));
    }
    let next = el
        .children
        .iter_mut()
        .filter_map(|n| match n {
            Node::Element(e) if e.name == *first => Some(e),
            _ => None,
        })
        .nth(wanted)
        .ok_or_else(|| ApiError::Internal(format!("<{first}> vanished while updating")))?;
    descend(next, rest, parent_index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::NetworkUpdateOp;

    #[test]
    fn fills_bridge_uuid_and_mac() {
        let xml = "<network><name>n</name><forward mode='nat'/><ip address='10.0.0.1' netmask='255.255.255.0'/></network>";
        let (el, _) = prepare(xml, &["virbr0".to_string()]).expect("valid");
        assert_eq!(bridge(&el).as_deref(), Some("virbr1"));
        assert!(el.child("mac").is_some());
        let (el, _) = prepare(
            "<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>",
            &[],
        )
        .expect("valid");
        assert!(el.child("mac").is_none());
    }

    #[test]
    fn updates_dhcp_hosts() {
        let xml = "<network><name>n</name><ip address='10.0.0.1' netmask='255.255.255.0'><dhcp><range start='10.0.0.2' end='10.0.0.9'/></dhcp></ip></network>";
        let (mut el, _) = prepare(xml, &[]).expect("valid");
        let host = "<host mac='52:54:00:00:00:01' name='a' ip='10.0.0.5'/>";
        update(
            &mut el,
            NetworkUpdateOp::AddLast,
            "ip-dhcp-host",
            host,
            None,
        )
        .expect("added");
        assert_eq!(static_leases(&el).len(), 1);
        assert!(update(
            &mut el,
            NetworkUpdateOp::AddLast,
            "ip-dhcp-host",
            host,
            None
        )
        .is_err());
        update(&mut el, NetworkUpdateOp::Delete, "ip-dhcp-host", host, None).expect("deleted");
        assert!(static_leases(&el).is_empty());
    }
}
