//! The dnsmasq configuration of a network, generated directive for
//! directive as libvirt's `networkDnsmasqConfContents` does (its expected
//! outputs are the `networkxml2confdata/*.conf` files of the conformance
//! corpus), plus the `dhcp-hostsfile` and `addn-hosts` files it names.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use super::NetworkError;
use crate::xml::network::{prefix_to_netmask, DhcpHost, ForwardMode, IpDef, Network};

/// Where the files of a network's dnsmasq live (chosen by the driver).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsmasqPaths {
    /// `dhcp-hostsfile`: static DHCP hosts, re-read on SIGHUP.
    pub hostsfile: PathBuf,
    /// `addn-hosts`: DNS host records, re-read on SIGHUP.
    pub addnhosts: PathBuf,
    /// `pid-file`, if dnsmasq should write one.
    pub pid_file: Option<PathBuf>,
    /// `dhcp-leasefile`, if leases should be kept in a file Hangar reads
    /// (libvirt uses a lease helper script instead; written last).
    pub lease_file: Option<PathBuf>,
}

impl DnsmasqPaths {
    /// The layout libvirt uses: `<dir>/<network>.hostsfile`, `.addnhosts`.
    pub fn in_dir(dir: &Path, network: &str) -> DnsmasqPaths {
        DnsmasqPaths {
            hostsfile: dir.join(format!("{network}.hostsfile")),
            addnhosts: dir.join(format!("{network}.addnhosts")),
            pid_file: None,
            lease_file: None,
        }
    }
}

/// The generated files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsmasqConfig {
    /// The configuration file (`dnsmasq --conf-file=...`).
    pub conf: String,
    /// Contents of the DHCP hosts file (one reservation a line).
    pub hostsfile: String,
    /// Contents of the additional hosts file (`ip<TAB>name...` lines).
    pub addnhosts: String,
}

/// True when a started network needs a dnsmasq: it owns a bridge, has an
/// address, and serves DHCP or DNS (libvirt's `networkStartDhcpDaemon`).
pub fn needs_dnsmasq(net: &Network) -> bool {
    net.forward.mode.has_managed_bridge()
        && !net.ips.is_empty()
        && (net.ips.iter().any(IpDef::has_dhcp) || net.dns.enabled())
}

/// Rejects values that would break the line-based config file.
fn line_safe(net: &Network, what: &str, value: &str) -> Result<(), NetworkError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(NetworkError::UnsafeValue {
            network: net.name.clone(),
            what: what.to_string(),
            value: value.to_string(),
            target: "the dnsmasq configuration",
            reason: "it contains a line break",
        });
    }
    Ok(())
}

fn prefix_of(net: &Network, ip: &IpDef) -> Result<u8, NetworkError> {
    ip.prefix_len().ok_or_else(|| NetworkError::NoPrefix {
        network: net.name.clone(),
        address: ip.address.to_string(),
    })
}

/// The reverse-lookup zone of a subnet (`122.168.192.in-addr.arpa`), or
/// `None` when the prefix does not end on an octet (IPv4) or nibble (IPv6).
fn ptr_domain(addr: IpAddr, prefix: u8) -> Option<String> {
    match addr {
        IpAddr::V4(a) => {
            if !prefix.is_multiple_of(8) || prefix > 32 {
                return None;
            }
            let octets = a.octets();
            let mut labels: Vec<String> = octets[..usize::from(prefix / 8)]
                .iter()
                .map(u8::to_string)
                .collect();
            labels.reverse();
            labels.push("in-addr.arpa".into());
            Some(labels.join("."))
        }
        IpAddr::V6(a) => {
            if !prefix.is_multiple_of(4) || prefix > 128 {
                return None;
            }
            let value = u128::from(a);
            let nibbles = usize::from(prefix / 4);
            let mut labels: Vec<String> = (0..nibbles)
                .map(|i| format!("{:x}", (value >> (124 - 4 * i)) & 0xf))
                .collect();
            labels.reverse();
            labels.push("ip6.arpa".into());
            Some(labels.join("."))
        }
    }
}

/// One line of the DHCP hosts file, as libvirt's `dnsmasqDhcpHostsAdd`.
fn hostsfile_line(host: &DhcpHost, ipv6: bool) -> Option<String> {
    let ip = host.ip?;
    let mut line = if ipv6 {
        match (&host.name, &host.id) {
            (Some(name), Some(id)) => format!("id:{id},{name},[{ip}]"),
            (Some(name), None) => format!("{name},[{ip}]"),
            (None, Some(id)) => format!("id:{id},[{ip}]"),
            (None, None) => return None,
        }
    } else {
        match (&host.name, host.mac) {
            (Some(name), Some(mac)) => format!("{mac},{ip},{name}"),
            (Some(name), None) => format!("{name},{ip}"),
            (None, Some(mac)) => format!("{mac},{ip}"),
            (None, None) => return None,
        }
    };
    if let Some(lease) = host.lease {
        line.push(',');
        line.push_str(&lease.to_dnsmasq());
    }
    Some(line)
}

/// Generates the dnsmasq configuration of `net`.
pub fn dnsmasq_config(net: &Network, paths: &DnsmasqPaths) -> Result<DnsmasqConfig, NetworkError> {
    let bridge = net.bridge_name().ok_or_else(|| NetworkError::NoBridge {
        network: net.name.clone(),
    })?;
    let want_dns = net.dns.enabled();
    let mut c = String::new();
    let _ = write!(
        c,
        "##WARNING:  THIS IS AN AUTO-GENERATED FILE. CHANGES TO IT ARE LIKELY TO BE\n\
         ##OVERWRITTEN AND LOST.  Changes to this configuration should be made using:\n\
         ##    hangarctl net-edit {}\n\
         ## or other application using the libvirt API.\n\
         ##\n\
         ## dnsmasq conf file created by hangar\n",
        net.name
    );
    c.push_str("strict-order\n");
    if !want_dns {
        // Port 0 turns dnsmasq's DNS server off.
        c.push_str("port=0\n");
    }
    if want_dns && !net.dns.forwarders.is_empty() {
        // An address without a domain takes over all unclaimed queries, so
        // the host's resolv.conf is no longer needed.
        let mut no_resolv = false;
        for f in &net.dns.forwarders {
            c.push_str("server=");
            if let Some(d) = &f.domain {
                line_safe(net, "forwarder domain", d)?;
                let _ = write!(c, "/{d}/");
            }
            match f.addr {
                Some(a) => {
                    let _ = writeln!(c, "{a}");
                    no_resolv |= f.domain.is_none();
                }
                // "#": resolve this domain locally, never forward it.
                None => c.push_str("#\n"),
            }
        }
        if no_resolv {
            c.push_str("no-resolv\n");
        }
    }
    if let Some(domain) = &net.domain {
        line_safe(net, "domain name", &domain.name)?;
        if domain.local_only == Some(true) {
            let _ = writeln!(c, "local=/{}/", domain.name);
        }
        let _ = write!(c, "domain={}\nexpand-hosts\n", domain.name);
    }
    if want_dns {
        for ip in net.ips.iter().filter(|ip| ip.local_ptr == Some(true)) {
            let prefix = prefix_of(net, ip)?;
            let zone = ptr_domain(ip.address, prefix).ok_or_else(|| NetworkError::Unsupported {
                network: net.name.clone(),
                reason: format!(
                    "PTR domain for {} network with prefix {prefix} cannot be automatically created",
                    if ip.is_ipv6() { "IPv6" } else { "IPv4" }
                ),
            })?;
            let _ = writeln!(c, "local=/{zone}/");
        }
        if net.dns.forward_plain_names == Some(false) {
            // Never forward names without a dot, whether or not a domain is set.
            c.push_str("domain-needed\nlocal=//\n");
        }
    }
    if let Some(pid) = &paths.pid_file {
        let _ = writeln!(c, "pid-file={}", pid.display());
    }
    // Listen on the bridge only (bind-dynamic + interface, CVE-2012-3411).
    let _ = write!(c, "except-interface=lo\nbind-dynamic\ninterface={bridge}\n");
    if net.forward.mode == ForwardMode::Isolated {
        // No default route and no upstream DNS for isolated guests, and a
        // zero lifetime for the default route that IPv6 RAs imply.
        c.push_str("dhcp-option=3\nno-resolv\nra-param=*,0,0\n");
    }
    if want_dns {
        for t in &net.dns.txts {
            line_safe(net, "TXT record", &t.value)?;
            let _ = writeln!(c, "txt-record={},{}", t.name, t.value);
        }
        for s in &net.dns.srvs {
            let _ = write!(c, "srv-host=_{}._{}", s.service, s.protocol);
            if let Some(d) = &s.domain {
                line_safe(net, "SRV domain", d)?;
                let _ = write!(c, ".{d}");
            }
            // An empty target or "." means "not available here" (RFC 2782).
            if let Some(target) = s.target.as_deref().filter(|t| !t.is_empty() && *t != ".") {
                line_safe(net, "SRV target", target)?;
                let _ = write!(c, ",{target}");
                let priority = s.priority.unwrap_or(0);
                let weight = s.weight.unwrap_or(0);
                if s.port.is_some() || priority != 0 || weight != 0 {
                    // dnsmasq needs a port before priority and weight.
                    let _ = write!(c, ",{}", s.port.unwrap_or(1));
                }
                if priority != 0 || weight != 0 {
                    let _ = write!(c, ",{priority}");
                }
                if weight != 0 {
                    let _ = write!(c, ",{weight}");
                }
            }
            c.push('\n');
        }
    }
    if let Some(root) = net.ips_of(false).find_map(|ip| ip.tftp_root.as_deref()) {
        line_safe(net, "TFTP root", root)?;
        let _ = write!(c, "enable-tftp\ntftp-root={root}\n");
    }

    // DHCP is served on the first IPv4 and the first IPv6 <ip> that have it.
    let ipv4 = net.ips_of(false).find(|ip| ip.has_dhcp());
    let ipv6 = net.ips_of(true).find(|ip| ip.has_dhcp());
    let mut hostsfile = String::new();
    let mut lease_max: u64 = 0;
    for ip in [ipv4, ipv6].into_iter().flatten() {
        let prefix = prefix_of(net, ip)?;
        for r in &ip.dhcp_ranges {
            if ip.is_ipv6() {
                let _ = write!(c, "dhcp-range={},{},{prefix}", r.start, r.end);
            } else {
                let mask = prefix_to_netmask(prefix);
                let _ = write!(c, "dhcp-range={},{},{mask}", r.start, r.end);
            }
            if let Some(lease) = r.lease {
                let _ = write!(c, ",{}", lease.to_dnsmasq());
            }
            c.push('\n');
            lease_max += r.size();
        }
        if ip.dhcp_ranges.is_empty() && !ip.dhcp_hosts.is_empty() {
            // Static-only DHCP still needs a range to switch the service on.
            let _ = write!(c, "dhcp-range={},static", ip.address);
            if ip.is_ipv6() {
                let _ = write!(c, ",{prefix}");
            }
            c.push('\n');
        }
        for host in &ip.dhcp_hosts {
            if let Some(line) = hostsfile_line(host, ip.is_ipv6()) {
                hostsfile.push_str(&line);
                hostsfile.push('\n');
            }
        }
        if !ip.is_ipv6() {
            c.push_str("dhcp-no-override\ndhcp-authoritative\n");
            if let Some(b) = &ip.bootp {
                line_safe(net, "boot file", &b.file)?;
                match b.server {
                    Some(server) => {
                        let _ = writeln!(c, "dhcp-boot={},,{server}", b.file);
                    }
                    None => {
                        let _ = writeln!(c, "dhcp-boot={}", b.file);
                    }
                }
            }
        }
    }
    if lease_max > 0 {
        let _ = writeln!(c, "dhcp-lease-max={lease_max}");
    }
    if ipv4.is_some() || ipv6.is_some() {
        // Written even when empty, so hosts can be added at run time.
        let _ = writeln!(c, "dhcp-hostsfile={}", paths.hostsfile.display());
    }
    if want_dns {
        let _ = writeln!(c, "addn-hosts={}", paths.addnhosts.display());
    }
    if let Some(mtu) = net.mtu {
        let _ = writeln!(c, "dhcp-option=option:mtu,{mtu}");
    }
    if ipv6.is_some() {
        c.push_str("enable-ra\n");
    } else {
        for ip in net.ips_of(true) {
            let _ = writeln!(c, "dhcp-range={},ra-only", ip.address);
        }
    }
    for option in &net.dnsmasq_options {
        line_safe(net, "dnsmasq option", option)?;
        c.push_str(option);
        c.push('\n');
    }
    if let Some(leases) = &paths.lease_file {
        let _ = writeln!(c, "dhcp-leasefile={}", leases.display());
    }
    Ok(DnsmasqConfig {
        conf: c,
        hostsfile,
        addnhosts: addn_hosts(net)?,
    })
}

/// The `addn-hosts` file: the `<dns><host>` records, names grouped by address.
fn addn_hosts(net: &Network) -> Result<String, NetworkError> {
    let mut groups: Vec<(IpAddr, Vec<&str>)> = Vec::new();
    for h in &net.dns.hosts {
        for name in &h.hostnames {
            line_safe(net, "DNS host name", name)?;
        }
        let names = h.hostnames.iter().map(String::as_str);
        match groups.iter_mut().find(|(ip, _)| *ip == h.ip) {
            Some((_, existing)) => existing.extend(names),
            None => groups.push((h.ip, names.collect())),
        }
    }
    let mut out = String::new();
    for (ip, names) in groups {
        let _ = writeln!(out, "{ip}\t{}", names.join("\t"));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conf(xml: &str) -> DnsmasqConfig {
        let net = Network::parse(xml).expect("valid network");
        dnsmasq_config(&net, &DnsmasqPaths::in_dir(Path::new("/run/h"), &net.name))
            .expect("generates")
    }

    #[test]
    fn reverse_zones() {
        let v4: IpAddr = "192.168.122.1".parse().expect("ip");
        assert_eq!(
            ptr_domain(v4, 24).as_deref(),
            Some("122.168.192.in-addr.arpa")
        );
        assert_eq!(ptr_domain(v4, 20), None);
        let v6: IpAddr = "2001:db8:ac10:fe01::1".parse().expect("ip");
        assert_eq!(
            ptr_domain(v6, 64).as_deref(),
            Some("1.0.e.f.0.1.c.a.8.b.d.0.1.0.0.2.ip6.arpa")
        );
    }

    #[test]
    fn dns_hosts_are_grouped_by_address() {
        let c = conf(
            "<network><name>n</name><bridge name='br9'/><dns>\
             <host ip='10.0.0.5'><hostname>a</hostname></host>\
             <host ip='10.0.0.5'><hostname>b</hostname><hostname>c</hostname></host>\
             <host ip='fd00::5'><hostname>a</hostname></host></dns>\
             <ip address='10.0.0.1' prefix='24'/></network>",
        );
        assert_eq!(c.addnhosts, "10.0.0.5\ta\tb\tc\nfd00::5\ta\n");
        assert!(c.conf.contains("addn-hosts=/run/h/n.addnhosts\n"));
    }

    #[test]
    fn refuses_values_that_would_inject_directives() {
        let net = Network::parse(
            "<network><name>n</name><bridge name='br9'/><ip address='10.0.0.1' prefix='24'>\
             <tftp root='/srv&#10;dhcp-script=/tmp/x'/></ip></network>",
        )
        .expect("valid XML");
        let err = dnsmasq_config(&net, &DnsmasqPaths::in_dir(Path::new("/r"), "n"))
            .expect_err("line break refused");
        assert!(err.to_string().contains("line break"), "{err}");
    }

    #[test]
    fn needs_a_bridge_and_knows_when_it_is_needed() {
        let no_bridge =
            Network::parse("<network><name>n</name><ip address='10.0.0.1' prefix='24'/></network>")
                .expect("valid");
        assert!(matches!(
            dnsmasq_config(&no_bridge, &DnsmasqPaths::in_dir(Path::new("/r"), "n")),
            Err(NetworkError::NoBridge { .. })
        ));
        assert!(needs_dnsmasq(&no_bridge));
        let no_ip = Network::parse("<network><name>n</name></network>").expect("valid");
        assert!(!needs_dnsmasq(&no_ip));
        let quiet = Network::parse(
            "<network><name>n</name><dns enable='no'/><ip address='10.0.0.1' prefix='24'/></network>",
        )
        .expect("valid");
        assert!(!needs_dnsmasq(&quiet));
    }
}
