//! The firewall of a network as an nftables ruleset (`nft -f`), one `inet`
//! table per network so that starting and stopping networks never touch
//! each other's rules.
//!
//! The rules are libvirt's (its `networkxml2firewalldata/*.args`), per
//! address family exactly where libvirt adds them:
//! - input/output: DHCP (67/68, DHCPv6 547/546), DNS (53) and TFTP (69)
//!   between guests and the host's dnsmasq;
//! - forward: guest-to-guest on the bridge accepted; per subnet, outbound
//!   accepted and inbound accepted (routed) or only for established
//!   connections (NAT); everything else to or from the bridge rejected;
//! - postrouting (NAT): no NAT for broadcast/multicast, then masquerade
//!   (or SNAT to `<nat><address>`) with source ports 1024-65535 (or
//!   `<nat><port>`) for TCP and UDP, and plain masquerade for the rest.
//!
//! Open, bridge and macvtap/hostdev networks get no ruleset.

use std::fmt::Write as _;

use super::NetworkError;
use crate::xml::network::{mask_address, ForwardMode, IpDef, Network};

/// A network's generated ruleset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftRuleset {
    /// Name of the `inet` table holding every rule of the network.
    pub table: String,
    /// Script for `nft -f`: atomically replaces the table.
    pub script: String,
}

/// The `inet` table name of a network's bridge: `hangar_` followed by the
/// bridge name, with anything outside `[A-Za-z0-9]` hex-escaped (`_2d` for
/// `-`) so that distinct bridges never share a table.
pub fn nft_table_name(bridge: &str) -> String {
    let mut name = String::from("hangar_");
    for b in bridge.bytes() {
        if b.is_ascii_alphanumeric() {
            name.push(char::from(b));
        } else {
            let _ = write!(name, "_{b:02x}");
        }
    }
    name
}

/// Script for `nft -f` that removes a network's table if it exists.
pub fn nft_delete_script(table: &str) -> String {
    // Declaring the table first makes the delete succeed when it is absent
    // (`destroy` needs nft >= 1.0.8; Debian 12 has 1.0.6).
    format!("table inet {table} {{}}\ndelete table inet {table}\n")
}

/// Quotes an interface name for nft, refusing what would break the script.
fn iface(net: &Network, name: &str) -> Result<String, NetworkError> {
    if name.is_empty()
        || name
            .chars()
            .any(|c| c == '"' || c == '\\' || c.is_control())
    {
        return Err(NetworkError::UnsafeValue {
            network: net.name.clone(),
            what: "interface name".into(),
            value: name.to_string(),
            target: "the nftables ruleset",
            reason: "it is empty or contains a quote, backslash or control character",
        });
    }
    Ok(format!("\"{name}\""))
}

/// `ip` or `ip6`, the nft keyword of an address family.
fn proto(v6: bool) -> &'static str {
    if v6 {
        "ip6"
    } else {
        "ip"
    }
}

/// `meta nfproto ipv4|ipv6`, for rules that only concern one family.
fn nfproto(v6: bool) -> &'static str {
    if v6 {
        "meta nfproto ipv6"
    } else {
        "meta nfproto ipv4"
    }
}

/// The rules of each chain, in evaluation order.
#[derive(Default)]
struct Chains {
    input: Vec<String>,
    output: Vec<String>,
    /// libvirt's three forward chains run in this order: cross, in, out.
    cross: Vec<String>,
    fwd_in: Vec<String>,
    fwd_in_reject: Vec<String>,
    fwd_out: Vec<String>,
    fwd_out_reject: Vec<String>,
    postrouting: Vec<String>,
}

/// Generates the ruleset of `net`; `None` for modes without firewall rules.
pub fn nft_ruleset(net: &Network) -> Result<Option<NftRuleset>, NetworkError> {
    let mode = net.forward.mode;
    if !matches!(
        mode,
        ForwardMode::Isolated | ForwardMode::Nat | ForwardMode::Route
    ) {
        return Ok(None);
    }
    let bridge_name = net.bridge_name().ok_or_else(|| NetworkError::NoBridge {
        network: net.name.clone(),
    })?;
    let br = iface(net, bridge_name)?;
    let dev = net.forward.dev().map(|d| iface(net, d)).transpose()?;
    let mut ch = Chains::default();

    // General IPv4 rules: always, like libvirt.
    let tftp = net.ips_of(false).any(|ip| ip.tftp_root.is_some());
    let v4 = nfproto(false);
    let in_udp = if tftp { "{ 53, 67, 69 }" } else { "{ 53, 67 }" };
    let out_udp = if tftp { "{ 53, 68, 69 }" } else { "{ 53, 68 }" };
    ch.input
        .push(format!("iifname {br} {v4} tcp dport {{ 53, 67 }} accept"));
    ch.input
        .push(format!("iifname {br} {v4} udp dport {in_udp} accept"));
    ch.output
        .push(format!("oifname {br} {v4} tcp dport {{ 53, 68 }} accept"));
    ch.output
        .push(format!("oifname {br} {v4} udp dport {out_udp} accept"));
    ch.cross
        .push(format!("iifname {br} oifname {br} {v4} accept"));
    ch.fwd_in_reject.push(format!("oifname {br} {v4} reject"));
    ch.fwd_out_reject.push(format!("iifname {br} {v4} reject"));

    // General IPv6 rules: when the network has IPv6 or allows it between guests.
    let has_v6 = net.ips_of(true).next().is_some();
    if has_v6 || net.ipv6_without_gateway {
        let v6 = nfproto(true);
        ch.cross
            .push(format!("iifname {br} oifname {br} {v6} accept"));
        ch.fwd_in_reject.push(format!("oifname {br} {v6} reject"));
        ch.fwd_out_reject.push(format!("iifname {br} {v6} reject"));
        if has_v6 {
            ch.input
                .push(format!("iifname {br} {v6} tcp dport 53 accept"));
            ch.input
                .push(format!("iifname {br} {v6} udp dport {{ 53, 547 }} accept"));
            ch.output
                .push(format!("oifname {br} {v6} tcp dport 53 accept"));
            ch.output
                .push(format!("oifname {br} {v6} udp dport {{ 53, 546 }} accept"));
        }
    }

    for ip in &net.ips {
        let masquerade =
            mode == ForwardMode::Nat && (!ip.is_ipv6() || net.forward.nat.ipv6 == Some(true));
        let routed = mode == ForwardMode::Route || (mode == ForwardMode::Nat && !masquerade);
        if masquerade || routed {
            subnet_rules(net, ip, &br, dev.as_deref(), masquerade, &mut ch)?;
        }
    }

    Ok(Some(NftRuleset {
        table: nft_table_name(bridge_name),
        script: render(&nft_table_name(bridge_name), &net.name, &ch),
    }))
}

/// Forwarding (and for NAT, masquerading) rules for one subnet.
fn subnet_rules(
    net: &Network,
    ip: &IpDef,
    br: &str,
    dev: Option<&str>,
    masquerade: bool,
    ch: &mut Chains,
) -> Result<(), NetworkError> {
    let prefix = ip.prefix_len().ok_or_else(|| NetworkError::NoPrefix {
        network: net.name.clone(),
        address: ip.address.to_string(),
    })?;
    let subnet = format!("{}/{prefix}", mask_address(ip.address, prefix));
    let v6 = ip.is_ipv6();
    let p = proto(v6);
    let out_dev = dev.map(|d| format!(" oifname {d}")).unwrap_or_default();
    let in_dev = dev.map(|d| format!(" iifname {d}")).unwrap_or_default();
    let established = if masquerade {
        " ct state established,related"
    } else {
        ""
    };
    ch.fwd_out
        .push(format!("iifname {br}{out_dev} {p} saddr {subnet} accept"));
    ch.fwd_in.push(format!(
        "oifname {br}{in_dev} {p} daddr {subnet}{established} accept"
    ));
    if !masquerade {
        return Ok(());
    }
    let from = format!("{p} saddr {subnet}");
    if v6 {
        ch.postrouting
            .push(format!("{from} {p} daddr ff02::/16 return"));
    } else {
        ch.postrouting
            .push(format!("{from} {p} daddr 224.0.0.0/24 return"));
        ch.postrouting
            .push(format!("{from} {p} daddr 255.255.255.255 return"));
    }
    let nat = &net.forward.nat;
    let ports = nat.effective_ports();
    let port_range = format!("{}-{}", ports.start, ports.end);
    // An SNAT address range applies to IPv4 only, as in libvirt.
    let snat_to = nat.addresses.filter(|_| !v6).map(|a| {
        if a.start == a.end {
            a.start.to_string()
        } else {
            format!("{}-{}", a.start, a.end)
        }
    });
    let matched = format!("{from} {p} daddr != {subnet}{out_dev}");
    for l4 in ["tcp", "udp"] {
        let action = match &snat_to {
            Some(to) => format!("snat {p} to {to}:{port_range}"),
            None => format!("masquerade to :{port_range}"),
        };
        ch.postrouting
            .push(format!("{matched} meta l4proto {l4} {action}"));
    }
    let action = match &snat_to {
        Some(to) => format!("snat {p} to {to}"),
        None => "masquerade".to_string(),
    };
    ch.postrouting.push(format!("{matched} {action}"));
    Ok(())
}

fn render(table: &str, network: &str, ch: &Chains) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "# Firewall of Hangar network {:?}, generated; replaced as a whole.",
        network.replace(['\n', '\r'], " ")
    );
    s.push_str(&nft_delete_script(table));
    let _ = writeln!(s, "table inet {table} {{");
    let mut chain = |name: &str, hook: &str, rules: &[&Vec<String>]| {
        let _ = writeln!(s, "  chain {name} {{");
        let _ = writeln!(s, "    {hook}; policy accept;");
        for rule in rules.iter().flat_map(|r| r.iter()) {
            let _ = writeln!(s, "    {rule}");
        }
        s.push_str("  }\n");
    };
    chain(
        "input",
        "type filter hook input priority filter",
        &[&ch.input],
    );
    chain(
        "output",
        "type filter hook output priority filter",
        &[&ch.output],
    );
    chain(
        "forward",
        "type filter hook forward priority filter",
        &[
            &ch.cross,
            &ch.fwd_in,
            &ch.fwd_in_reject,
            &ch.fwd_out,
            &ch.fwd_out_reject,
        ],
    );
    if !ch.postrouting.is_empty() {
        chain(
            "postrouting",
            "type nat hook postrouting priority srcnat",
            &[&ch.postrouting],
        );
    }
    s.push_str("}\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(xml: &str) -> Option<String> {
        let net = Network::parse(xml).expect("valid network");
        nft_ruleset(&net).expect("generates").map(|r| r.script)
    }

    fn net(forward: &str, ips: &str) -> String {
        format!("<network><name>t</name><bridge name='virbr9'/>{forward}{ips}</network>")
    }

    const V4: &str = "<ip address='192.168.122.1' netmask='255.255.255.0'><dhcp>\
                      <range start='192.168.122.2' end='192.168.122.254'/></dhcp></ip>";
    const V6: &str = "<ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'/>";

    /// Index of the line containing `needle`, failing the test if absent.
    fn line_of(script: &str, needle: &str) -> usize {
        script
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no rule with {needle:?} in:\n{script}"))
    }

    #[test]
    fn nat_masquerades_with_libvirt_port_range() {
        let s = rules(&net("<forward/>", V4)).expect("nat has rules");
        let ret_mc = line_of(&s, "ip saddr 192.168.122.0/24 ip daddr 224.0.0.0/24 return");
        let ret_bc = line_of(
            &s,
            "ip saddr 192.168.122.0/24 ip daddr 255.255.255.255 return",
        );
        let tcp = line_of(
            &s,
            "ip saddr 192.168.122.0/24 ip daddr != 192.168.122.0/24 meta l4proto tcp masquerade to :1024-65535",
        );
        let udp = line_of(&s, "meta l4proto udp masquerade to :1024-65535");
        let all = line_of(&s, "ip daddr != 192.168.122.0/24 masquerade");
        assert!(
            ret_mc < tcp && ret_bc < tcp && tcp < udp && udp < all,
            "{s}"
        );
        assert!(s.contains("type nat hook postrouting priority srcnat"));
        // Inbound only for established connections; outbound from the subnet.
        let cross = line_of(
            &s,
            "iifname \"virbr9\" oifname \"virbr9\" meta nfproto ipv4 accept",
        );
        let fwi = line_of(
            &s,
            "oifname \"virbr9\" ip daddr 192.168.122.0/24 ct state established,related accept",
        );
        let fwi_reject = line_of(&s, "oifname \"virbr9\" meta nfproto ipv4 reject");
        let fwo = line_of(&s, "iifname \"virbr9\" ip saddr 192.168.122.0/24 accept");
        let fwo_reject = line_of(&s, "iifname \"virbr9\" meta nfproto ipv4 reject");
        assert!(cross < fwi && fwi < fwi_reject && fwi_reject < fwo && fwo < fwo_reject);
        // DHCP and DNS to the host's dnsmasq; no IPv6 rules without IPv6.
        line_of(
            &s,
            "iifname \"virbr9\" meta nfproto ipv4 udp dport { 53, 67 } accept",
        );
        line_of(
            &s,
            "oifname \"virbr9\" meta nfproto ipv4 udp dport { 53, 68 } accept",
        );
        assert!(!s.contains("ipv6"), "{s}");
    }

    #[test]
    fn nat_address_and_port_ranges_use_snat_on_the_uplink() {
        let s = rules(&net(
            "<forward mode='nat' dev='eth1'><nat><address start='10.20.30.40' end='10.20.30.44'/>\
             <port start='60000' end='65432'/></nat></forward>",
            V4,
        ))
        .expect("rules");
        line_of(
            &s,
            "ip daddr != 192.168.122.0/24 oifname \"eth1\" meta l4proto tcp snat ip to 10.20.30.40-10.20.30.44:60000-65432",
        );
        line_of(&s, "oifname \"eth1\" snat ip to 10.20.30.40-10.20.30.44");
        line_of(
            &s,
            "iifname \"virbr9\" oifname \"eth1\" ip saddr 192.168.122.0/24 accept",
        );
        assert!(!s.contains("masquerade"), "{s}");
    }

    #[test]
    fn routed_accepts_both_ways_without_nat() {
        let s = rules(&net("<forward mode='route'/>", V4)).expect("rules");
        line_of(&s, "iifname \"virbr9\" ip saddr 192.168.122.0/24 accept");
        line_of(&s, "oifname \"virbr9\" ip daddr 192.168.122.0/24 accept");
        assert!(!s.contains("ct state"), "{s}");
        assert!(!s.contains("postrouting"), "{s}");
    }

    #[test]
    fn isolated_rejects_all_forwarding_but_guest_to_guest() {
        let s = rules(&net("", V4)).expect("rules");
        line_of(
            &s,
            "iifname \"virbr9\" oifname \"virbr9\" meta nfproto ipv4 accept",
        );
        line_of(&s, "iifname \"virbr9\" meta nfproto ipv4 reject");
        line_of(&s, "oifname \"virbr9\" meta nfproto ipv4 reject");
        assert!(!s.contains("saddr"), "{s}");
        assert!(!s.contains("postrouting"), "{s}");
    }

    #[test]
    fn ipv6_is_routed_unless_nat_ipv6_is_asked() {
        let routed = rules(&net("<forward/>", &format!("{V4}{V6}"))).expect("rules");
        line_of(
            &routed,
            "oifname \"virbr9\" ip6 daddr 2001:db8:ca2:2::/64 accept",
        );
        line_of(
            &routed,
            "iifname \"virbr9\" meta nfproto ipv6 udp dport { 53, 547 } accept",
        );
        assert!(
            !routed.contains("ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr"),
            "{routed}"
        );
        let nat6 = rules(&net(
            "<forward><nat ipv6='yes'/></forward>",
            &format!("{V4}{V6}"),
        ))
        .expect("rules");
        line_of(
            &nat6,
            "ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr ff02::/16 return",
        );
        line_of(
            &nat6,
            "ip6 saddr 2001:db8:ca2:2::/64 ip6 daddr != 2001:db8:ca2:2::/64 masquerade",
        );
        line_of(
            &nat6,
            "oifname \"virbr9\" ip6 daddr 2001:db8:ca2:2::/64 ct state established,related accept",
        );
    }

    #[test]
    fn tftp_and_guest_ipv6_switches() {
        let s = rules(&net(
            "<forward/>",
            "<ip address='192.168.122.1' prefix='24'><tftp root='/srv/tftp'/></ip>",
        ))
        .expect("rules");
        line_of(&s, "udp dport { 53, 67, 69 } accept");
        let s = rules("<network ipv6='yes'><name>t</name><bridge name='virbr9'/></network>")
            .expect("rules");
        line_of(
            &s,
            "iifname \"virbr9\" oifname \"virbr9\" meta nfproto ipv6 accept",
        );
    }

    #[test]
    fn open_and_host_bridge_networks_have_no_rules() {
        assert!(rules(&net("<forward mode='open'/>", V4)).is_none());
        assert!(rules(
            "<network><name>b</name><forward mode='bridge'/><bridge name='br0'/></network>"
        )
        .is_none());
    }

    #[test]
    fn table_names_are_unique_and_safe() {
        assert_eq!(nft_table_name("virbr0"), "hangar_virbr0");
        assert_ne!(nft_table_name("vir-br0"), nft_table_name("vir_br0"));
        assert!(nft_table_name("a.b-c")
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_'));
        let bad = Network::parse(
            "<network><name>t</name><forward dev='eth\"0'/><bridge name='virbr9'/>\
             <ip address='10.0.0.1' prefix='24'/></network>",
        )
        .expect("valid XML");
        assert!(matches!(
            nft_ruleset(&bad),
            Err(NetworkError::UnsafeValue { .. })
        ));
        assert!(nft_delete_script("hangar_x").contains("delete table inet hangar_x"));
    }

    /// `nft -c -f` (check only, nothing applied) accepts every ruleset,
    /// and the kernel loads it in a private network namespace, when nft is
    /// installed and we are root.
    #[test]
    fn nft_accepts_the_rulesets() {
        // SAFETY: geteuid has no preconditions and cannot fail.
        let root = unsafe { libc::geteuid() } == 0;
        let nft = ["/usr/sbin/nft", "/sbin/nft"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists());
        let (true, Some(nft)) = (root, nft) else {
            println!("nft check skipped: needs root and nft (Debian package nftables)");
            return;
        };
        let cases = [
            net("<forward/>", V4),
            net("<forward mode='route'/>", &format!("{V4}{V6}")),
            net("", V4),
            net("<forward><nat ipv6='yes'/></forward>", &format!("{V4}{V6}")),
            net(
                "<forward mode='nat' dev='eth1'><nat><address start='10.20.30.40' end='10.20.30.44'/>\
                 <port start='60000' end='65432'/></nat></forward>",
                V4,
            ),
        ];
        for xml in &cases {
            let script = rules(xml).expect("rules");
            let mut child = std::process::Command::new(nft)
                .args(["-c", "-f", "-"])
                .stdin(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("nft runs");
            if let Some(mut stdin) = child.stdin.take() {
                use std::io::Write as _;
                stdin.write_all(script.as_bytes()).expect("script written");
            }
            let out = child.wait_with_output().expect("nft finishes");
            assert!(
                out.status.success(),
                "nft -c rejected:\n{script}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // Beyond the syntax check: load each ruleset for real into a
        // throwaway network namespace (the kernel rejects what `-c` lets
        // through, e.g. NAT in a filter chain), load it again (atomic
        // replacement), then delete it and expect an empty ruleset.
        // Skipped where namespaces cannot be created (some containers).
        let unshare = ["/usr/bin/unshare", "/bin/unshare"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .filter(|u| {
                std::process::Command::new(u)
                    .args(["-n", "true"])
                    .status()
                    .is_ok_and(|s| s.success())
            });
        if unshare.is_none() {
            println!("kernel load check skipped: cannot create a network namespace");
        }
        if let Some(unshare) = unshare {
            let dir = std::env::temp_dir().join(format!("hangar-nft-test-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("temp dir");
            for (i, xml) in cases.iter().enumerate() {
                let ruleset = Network::parse(xml)
                    .ok()
                    .and_then(|n| nft_ruleset(&n).ok().flatten())
                    .expect("rules");
                let load = dir.join(format!("{i}.nft"));
                let del = dir.join(format!("{i}-delete.nft"));
                std::fs::write(&load, &ruleset.script).expect("write script");
                std::fs::write(&del, nft_delete_script(&ruleset.table)).expect("write script");
                let out = std::process::Command::new(unshare)
                    .args([
                        "-n",
                        "sh",
                        "-c",
                        "$0 -f \"$1\" && $0 -f \"$1\" && $0 -f \"$2\" && $0 list ruleset",
                    ])
                    .arg(nft)
                    .arg(&load)
                    .arg(&del)
                    .output()
                    .expect("unshare runs");
                assert!(
                    out.status.success(),
                    "kernel rejected:\n{}\n{}",
                    ruleset.script,
                    String::from_utf8_lossy(&out.stderr)
                );
                assert!(
                    String::from_utf8_lossy(&out.stdout).trim().is_empty(),
                    "rules left behind after delete: {}",
                    String::from_utf8_lossy(&out.stdout)
                );
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
        let delete = nft_delete_script("hangar_never_created");
        let status = std::process::Command::new(nft)
            .args(["-c", "-e", &delete.replace('\n', ";")])
            .status()
            .expect("nft runs");
        assert!(status.success(), "deleting an absent table must not fail");
    }
}
