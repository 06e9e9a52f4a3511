//! The dnsmasq configuration generated for each network libvirt's
//! `networkxml2confdata` tests (listed in the conformance README) has the
//! same directives, in the same order, as libvirt's `X.conf` (paths of the
//! generated files may differ), and the same DHCP hosts file `X.hostsfile`.
//! When dnsmasq is installed, `dnsmasq --test` accepts every generated file.

use std::path::{Path, PathBuf};

use hangar_core::network::{dnsmasq_config, DnsmasqPaths};
use hangar_core::xml::Network;

/// The networks whose dnsmasq config libvirt tests (conformance README).
const TESTED: &[&str] = &[
    "isolated-network",
    "netboot-network",
    "netboot-proxy-network",
    "netboot-tftp",
    "nat-network-dns-srv-record-minimal",
    "nat-network-name-with-quotes",
    "routed-network",
    "routed-network-no-dns",
    "open-network",
    "nat-network",
    "nat-network-dns-txt-record",
    "nat-network-dns-srv-record",
    "nat-network-dns-hosts",
    "nat-network-dns-forward-plain",
    "nat-network-dns-forwarders",
    "nat-network-dns-forwarder-no-resolv",
    "nat-network-dns-local-domain",
    "nat-network-mtu",
    "dhcp6-network",
    "dhcp6-nat-network",
    "dhcp6host-routed-network",
    "ptr-domains-auto",
    "dnsmasq-options",
    "leasetime-seconds",
    "leasetime-minutes",
    "leasetime-hours",
    "leasetime-infinite",
];

/// Directives whose value is a path chosen by the driver.
const PATH_DIRECTIVES: &[&str] = &["dhcp-hostsfile", "addn-hosts", "pid-file", "dhcp-leasefile"];

fn confdata() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/conformance/libvirt-9.0.0/networkxml2confdata"))
        .find(|dir| dir.is_dir())
        .unwrap_or_else(|| {
            manifest.join("../../shared/conformance/libvirt-9.0.0/networkxml2confdata")
        })
}

/// The directives of a config: comments and blank lines dropped, path
/// values replaced by a marker.
fn directives(conf: &str) -> Vec<String> {
    conf.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('=') {
            Some((key, _)) if PATH_DIRECTIVES.contains(&key) => format!("{key}=<path>"),
            _ => l.to_string(),
        })
        .collect()
}

#[test]
fn dnsmasq_conf() {
    let dir = confdata();
    let mut passed = 0;
    let mut hosts_checked = 0;
    let mut hosts_passed = 0;
    let mut failures = Vec::new();
    let dnsmasq = ["/usr/sbin/dnsmasq", "/sbin/dnsmasq"]
        .into_iter()
        .find(|p| Path::new(p).exists());
    let scratch = std::env::temp_dir().join(format!("hangar-dnsmasq-test-{}", std::process::id()));
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let mut syntax_checked = 0;
    for (index, name) in TESTED.iter().enumerate() {
        let xml = std::fs::read_to_string(dir.join(format!("{name}.xml")))
            .unwrap_or_else(|e| panic!("{name}.xml: {e}"));
        let expected = std::fs::read_to_string(dir.join(format!("{name}.conf")))
            .unwrap_or_else(|e| panic!("{name}.conf: {e}"));
        let net = match Network::parse(&xml) {
            Ok(n) => n,
            Err(e) => {
                failures.push(format!("{name}: parse: {e}"));
                continue;
            }
        };
        // Real files in a scratch dir, so that dnsmasq can read them back.
        let paths = DnsmasqPaths::in_dir(&scratch, &format!("net{index}"));
        let generated = match dnsmasq_config(&net, &paths) {
            Ok(g) => g,
            Err(e) => {
                failures.push(format!("{name}: generate: {e}"));
                continue;
            }
        };
        let (got, want) = (directives(&generated.conf), directives(&expected));
        if got == want {
            passed += 1;
        } else {
            failures.push(format!(
                "{name}: directives differ\n--- libvirt\n{}\n--- hangar\n{}",
                want.join("\n"),
                got.join("\n")
            ));
        }
        // dnsmasq-options passes "foo=bar", which is deliberately not an option.
        if let (Some(dnsmasq), false) = (dnsmasq, *name == "dnsmasq-options") {
            let conf_path = scratch.join(format!("{name}.conf"));
            std::fs::write(&conf_path, &generated.conf).expect("write conf");
            std::fs::write(&paths.hostsfile, &generated.hostsfile).expect("write hosts");
            std::fs::write(&paths.addnhosts, &generated.addnhosts).expect("write addnhosts");
            let out = std::process::Command::new(dnsmasq)
                .arg("--test")
                .arg(format!("--conf-file={}", conf_path.display()))
                .output()
                .expect("dnsmasq runs");
            if out.status.success() {
                syntax_checked += 1;
            } else {
                failures.push(format!(
                    "{name}: dnsmasq --test rejects the config: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
        }
        if let Ok(hosts) = std::fs::read_to_string(dir.join(format!("{name}.hostsfile"))) {
            hosts_checked += 1;
            if generated.hostsfile == hosts {
                hosts_passed += 1;
            } else {
                failures.push(format!(
                    "{name}: hostsfile differs\n--- libvirt\n{hosts}--- hangar\n{}",
                    generated.hostsfile
                ));
            }
        }
    }
    println!("dnsmasq conf: {passed}/{}", TESTED.len());
    println!("dnsmasq hostsfile: {hosts_passed}/{hosts_checked}");
    match dnsmasq {
        Some(_) => println!(
            "dnsmasq --test accepts: {syntax_checked}/{}",
            TESTED.len() - 1
        ),
        None => println!("dnsmasq --test skipped: dnsmasq not installed (Debian dnsmasq-base)"),
    }
    let _ = std::fs::remove_dir_all(&scratch);
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n\n"));
}
