//! `net-update`: changing parts of a network definition in place, as
//! libvirt's `virNetworkDefUpdateSection` does (the DHCP static hosts a
//! running dnsmasq re-reads on SIGHUP).

use super::{IpDef, Network};
use crate::xml::{parse_root, Element, XmlError};

/// What `net-update` does with the given element.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UpdateCommand {
    /// `modify`: replace the entry that matches it.
    Modify,
    /// `delete`: remove the entry that matches it.
    Delete,
    /// `add-first`: insert before the existing entries.
    AddFirst,
    /// `add-last` (or `add`): append after the existing entries.
    AddLast,
}

impl UpdateCommand {
    /// Parses virsh's command word (`add`, `add-first`, `add-last`,
    /// `delete`, `modify`).
    pub fn from_virsh(word: &str) -> Option<UpdateCommand> {
        Some(match word {
            "modify" => UpdateCommand::Modify,
            "delete" => UpdateCommand::Delete,
            "add-first" => UpdateCommand::AddFirst,
            "add" | "add-last" => UpdateCommand::AddLast,
            _ => return None,
        })
    }
}

impl Network {
    /// `net-update NAME COMMAND ip-dhcp-host XML [--parent-index N]`.
    ///
    /// The `<host>` goes to the `<ip>` at `parent_index`, or without one to
    /// the first `<ip>` serving DHCP (else the first IPv4, else IPv6). Adding
    /// refuses a host whose mac, name or ip is already used; modify replaces
    /// the host matching its mac, ip or name; delete removes the first host
    /// matching every attribute given.
    pub fn update_dhcp_host(
        &mut self,
        command: UpdateCommand,
        parent_index: Option<usize>,
        xml: &str,
    ) -> Result<(), XmlError> {
        // Work on a copy so that a refused update leaves nothing changed.
        let mut updated = self.clone();
        updated.apply_dhcp_host(command, parent_index, xml)?;
        updated.validate(None)?;
        *self = updated;
        Ok(())
    }

    fn apply_dhcp_host(
        &mut self,
        command: UpdateCommand,
        parent_index: Option<usize>,
        xml: &str,
    ) -> Result<(), XmlError> {
        let el = parse_root(xml, "host")?;
        let name = self.name.clone();
        let ip = self.dhcp_parent(parent_index)?;
        let partial = command == UpdateCommand::Delete;
        let host = ip.parse_host(&el, &name, partial)?;
        let described = || describe(&el);
        let hosts = &mut ip.dhcp_hosts;
        match command {
            UpdateCommand::Modify => {
                let found = hosts.iter().position(|h| {
                    (host.mac.is_some() && h.mac == host.mac)
                        || (host.ip.is_some() && h.ip == host.ip)
                        || (host.name.is_some() && h.name == host.name)
                });
                let Some(i) = found else {
                    return Err(XmlError::Conflict(format!(
                        "couldn't locate an existing dhcp host entry matching {} in network '{name}'",
                        described()
                    )));
                };
                hosts[i] = host;
            }
            UpdateCommand::AddFirst | UpdateCommand::AddLast => {
                let clash = hosts.iter().any(|h| {
                    (host.mac.is_some() && h.mac == host.mac)
                        || (host.name.is_some() && h.name == host.name)
                        || (host.ip.is_some() && h.ip == host.ip)
                });
                if clash {
                    return Err(XmlError::Conflict(format!(
                        "there is an existing dhcp host entry in network '{name}' that matches {}",
                        described()
                    )));
                }
                if command == UpdateCommand::AddFirst {
                    hosts.insert(0, host);
                } else {
                    hosts.push(host);
                }
            }
            UpdateCommand::Delete => {
                let found = hosts.iter().position(|h| {
                    (host.mac.is_none() || h.mac.is_none() || h.mac == host.mac)
                        && (host.name.is_none() || h.name == host.name)
                        && (host.ip.is_none() || h.ip == host.ip)
                });
                let Some(i) = found else {
                    return Err(XmlError::Conflict(format!(
                        "couldn't locate a matching dhcp host entry {} in network '{name}'",
                        described()
                    )));
                };
                hosts.remove(i);
            }
        }
        Ok(())
    }

    /// The `<ip>` whose DHCP a `net-update` changes.
    fn dhcp_parent(&mut self, parent_index: Option<usize>) -> Result<&mut IpDef, XmlError> {
        let name = self.name.clone();
        let index = match parent_index {
            Some(i) if i < self.ips.len() => Some(i),
            Some(i) => {
                return Err(XmlError::Conflict(format!(
                    "couldn't update dhcp host entry - no <ip> element found at index {i} in network '{name}'"
                )))
            }
            None => self
                .ips
                .iter()
                .position(IpDef::has_dhcp)
                .or_else(|| self.ips.iter().position(|ip| !ip.is_ipv6()))
                .or_else(|| self.ips.iter().position(IpDef::is_ipv6)),
        };
        match index.and_then(|i| self.ips.get_mut(i)) {
            Some(ip) => Ok(ip),
            None => Err(XmlError::Conflict(format!(
                "couldn't update dhcp host entry - no <ip> element found in network '{name}'"
            ))),
        }
    }
}

/// The element as written in an error message (`<host mac='...' .../>`).
fn describe(el: &Element) -> String {
    el.to_xml().trim_end().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network() -> Network {
        Network::parse(
            "<network><name>n</name><bridge name='virbr9'/>\
             <ip address='192.168.10.1' netmask='255.255.255.0'><dhcp>\
             <range start='192.168.10.100' end='192.168.10.200'/>\
             <host mac='52:54:00:00:00:01' name='a' ip='192.168.10.11'/></dhcp></ip>\
             <ip family='ipv6' address='fd00::1' prefix='64'/></network>",
        )
        .expect("valid")
    }

    fn names(n: &Network) -> Vec<String> {
        n.ips[0]
            .dhcp_hosts
            .iter()
            .filter_map(|h| h.name.clone())
            .collect()
    }

    #[test]
    fn adds_modifies_and_deletes_hosts() {
        let mut n = network();
        n.update_dhcp_host(
            UpdateCommand::AddLast,
            None,
            "<host mac='52:54:00:00:00:02' name='b' ip='192.168.10.12'/>",
        )
        .expect("added");
        n.update_dhcp_host(
            UpdateCommand::AddFirst,
            None,
            "<host mac='52:54:00:00:00:03' name='c' ip='192.168.10.13'/>",
        )
        .expect("added");
        assert_eq!(names(&n), ["c", "a", "b"]);
        n.update_dhcp_host(
            UpdateCommand::Modify,
            None,
            "<host mac='52:54:00:00:00:02' name='b2' ip='192.168.10.22'/>",
        )
        .expect("modified");
        assert_eq!(names(&n), ["c", "a", "b2"]);
        n.update_dhcp_host(
            UpdateCommand::Delete,
            None,
            "<host mac='52:54:00:00:00:01'/>",
        )
        .expect("deleted");
        assert_eq!(names(&n), ["c", "b2"]);
        // The result is still a valid definition.
        assert_eq!(Network::parse(&n.to_xml()).expect("reparses"), n);
    }

    #[test]
    fn refuses_clashes_and_missing_entries() {
        let mut n = network();
        let clash = n
            .update_dhcp_host(
                UpdateCommand::AddLast,
                None,
                "<host mac='52:54:00:00:00:09' name='z' ip='192.168.10.11'/>",
            )
            .expect_err("ip in use");
        assert!(clash.to_string().contains("existing dhcp host"), "{clash}");
        let missing = n
            .update_dhcp_host(UpdateCommand::Delete, None, "<host name='nobody'/>")
            .expect_err("no such host");
        assert!(missing.to_string().contains("couldn't locate"), "{missing}");
        let incomplete = n
            .update_dhcp_host(UpdateCommand::AddLast, None, "<host name='d'/>")
            .expect_err("an added host needs an ip");
        assert!(incomplete.to_string().contains("ip"), "{incomplete}");
        assert!(n
            .update_dhcp_host(
                UpdateCommand::AddLast,
                Some(7),
                "<host name='d' ip='192.168.10.5'/>"
            )
            .is_err());
        assert!(n
            .update_dhcp_host(UpdateCommand::AddLast, None, "<range start='1' end='2'/>")
            .is_err());
    }

    #[test]
    fn parent_index_picks_the_ipv6_element() {
        let mut n = network();
        n.update_dhcp_host(
            UpdateCommand::AddLast,
            Some(1),
            "<host id='0:3:0:1:0:16:3e:11:22:33' name='six' ip='fd00::20'/>",
        )
        .expect("added to the IPv6 <ip>");
        assert_eq!(n.ips[1].dhcp_hosts.len(), 1);
        let wrong_family = n
            .update_dhcp_host(
                UpdateCommand::AddLast,
                Some(1),
                "<host name='x' ip='192.168.10.9'/>",
            )
            .expect_err("IPv4 host in IPv6 <ip>");
        assert!(wrong_family.to_string().contains("IPv6"), "{wrong_family}");
        assert_eq!(
            UpdateCommand::from_virsh("add"),
            Some(UpdateCommand::AddLast)
        );
        assert_eq!(UpdateCommand::from_virsh("replace"), None);
    }

    #[test]
    fn a_refused_update_changes_nothing() {
        let mut n = Network::parse(
            "<network><name>n</name><bridge name='virbr9'/>\
             <ip address='192.168.10.1' prefix='24'><dhcp>\
             <range start='192.168.10.100' end='192.168.10.200'/></dhcp></ip>\
             <ip address='192.168.20.1' prefix='24'/></network>",
        )
        .expect("valid");
        let before = n.clone();
        let err = n
            .update_dhcp_host(
                UpdateCommand::AddLast,
                Some(1),
                "<host name='x' ip='192.168.20.9'/>",
            )
            .expect_err("DHCP on a second IPv4 address");
        assert!(err.to_string().contains("more than one IPv4"), "{err}");
        assert_eq!(n, before);
    }
}
