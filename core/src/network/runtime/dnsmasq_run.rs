//! Running a network's dnsmasq: start it with its generated configuration,
//! find it again from its pid file (so a restarted Hangar adopts it rather
//! than starting a second one), tell it to re-read its hosts files, stop it,
//! and read its lease file.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::RuntimeError;
use crate::api::DhcpLease;
use crate::xml::network::{mask_address, Network};

/// Where Debian's `dnsmasq-base` installs dnsmasq.
pub const DNSMASQ: &str = "/usr/sbin/dnsmasq";

/// The dnsmasq program to run: `HANGAR_DNSMASQ` if set, else Debian's path.
pub fn dnsmasq_program() -> PathBuf {
    std::env::var_os("HANGAR_DNSMASQ")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DNSMASQ))
}

/// Starts dnsmasq on `conf` and waits until it has daemonised: by then it
/// has bound its sockets and written `pid_file`, or it has said why not.
/// `user` overrides the user dnsmasq drops to.
pub fn start(conf: &Path, pid_file: &Path, user: Option<&str>) -> Result<u32, RuntimeError> {
    let program = dnsmasq_program();
    let mut cmd = Command::new(&program);
    cmd.arg(format!("--conf-file={}", conf.display()));
    if let Some(user) = user {
        // An empty group keeps dnsmasq from calling setgroups(2), which a
        // user namespace mapped by an unprivileged user forbids.
        cmd.arg(format!("--user={user}")).arg("--group=");
    }
    let output = cmd.output().map_err(|e| RuntimeError::Io {
        op: format!("cannot run {}", program.display()),
        message: e.to_string(),
    })?;
    if !output.status.success() {
        return Err(RuntimeError::Tool {
            tool: "dnsmasq",
            message: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        });
    }
    // The parent exits after the child wrote its pid file; allow for a slow disk.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(pid) = running_pid(pid_file, conf) {
            return Ok(pid);
        }
        if Instant::now() > deadline {
            return Err(RuntimeError::Tool {
                tool: "dnsmasq",
                message: format!("started but no running process in {}", pid_file.display()),
            });
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The pid in `pid_file` if that process is a dnsmasq running `conf`.
pub fn running_pid(pid_file: &Path, conf: &Path) -> Option<u32> {
    let pid: u32 = std::fs::read_to_string(pid_file)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let wanted = format!("--conf-file={}", conf.display());
    let ours = cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == wanted.as_bytes());
    // A zombie still has its cmdline cleared; an empty one means gone.
    ours.then_some(pid)
}

fn signal(pid: u32, sig: libc::c_int) -> Result<(), RuntimeError> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| RuntimeError::Io {
        op: "signal dnsmasq".into(),
        message: format!("pid {pid} out of range"),
    })?;
    // SAFETY: kill(2) with a pid we read from our own pid file after
    // checking its command line; no memory is involved.
    if unsafe { libc::kill(pid, sig) } != 0 {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ESRCH) {
            return Err(RuntimeError::Io {
                op: format!("cannot signal dnsmasq (pid {pid})"),
                message: err.to_string(),
            });
        }
    }
    Ok(())
}

/// Makes dnsmasq re-read its hosts files (`dhcp-hostsfile`, `addn-hosts`).
pub fn reload(pid: u32) -> Result<(), RuntimeError> {
    signal(pid, libc::SIGHUP)
}

/// Stops the dnsmasq of `pid_file`/`conf` if it runs, waiting until it is gone.
pub fn stop(pid_file: &Path, conf: &Path) -> Result<(), RuntimeError> {
    let Some(pid) = running_pid(pid_file, conf) else {
        return Ok(());
    };
    signal(pid, libc::SIGTERM)?;
    let deadline = Instant::now() + Duration::from_secs(5);
    while running_pid(pid_file, conf).is_some() {
        if Instant::now() > deadline {
            signal(pid, libc::SIGKILL)?;
            std::thread::sleep(Duration::from_millis(50));
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(())
}

/// Reads dnsmasq's lease file. IPv4 leases are `expiry mac ip hostname
/// client-id` lines; after the `duid SERVER-DUID` line come the DHCPv6
/// leases, `expiry iaid ip hostname client-duid` (`T` before the IAID of a
/// temporary address). A DHCPv6 lease names no MAC address: it is read from
/// a client DUID of the link-layer kinds (DUID-LLT, DUID-LL on Ethernet),
/// which is what Linux clients send, and left empty otherwise.
pub fn parse_leases(text: &str, net: &Network) -> Vec<DhcpLease> {
    let mut leases = Vec::new();
    let mut v6_section = false;
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.first() == Some(&"duid") {
            v6_section = true;
            continue;
        }
        if f.len() < 4 {
            continue;
        }
        let (Ok(expiry), Ok(ip)) = (f[0].parse::<i64>(), f[2].parse::<IpAddr>()) else {
            continue;
        };
        let optional = |s: Option<&&str>| s.filter(|v| **v != "*").map(|v| v.to_string());
        let client_id = optional(f.get(4));
        let mac = if v6_section || ip.is_ipv6() {
            client_id
                .as_deref()
                .and_then(mac_from_duid)
                .unwrap_or_default()
        } else {
            f[1].to_ascii_lowercase()
        };
        leases.push(DhcpLease {
            expiry_time: expiry,
            mac,
            protocol: if ip.is_ipv4() { "ipv4" } else { "ipv6" }.to_string(),
            ip: ip.to_string(),
            prefix: lease_prefix(net, ip),
            hostname: optional(f.get(3)),
            client_id,
        });
    }
    leases
}

/// The prefix length of the network's `<ip>` that holds `ip`.
fn lease_prefix(net: &Network, ip: IpAddr) -> u32 {
    net.ips
        .iter()
        .filter_map(|d| d.prefix_len().map(|p| (d.address, p)))
        .find(|(a, p)| a.is_ipv4() == ip.is_ipv4() && mask_address(*a, *p) == mask_address(ip, *p))
        .map_or(if ip.is_ipv4() { 24 } else { 64 }, |(_, p)| u32::from(p))
}

/// The Ethernet address inside a DUID-LLT (`00:01`, hardware type, time,
/// address) or DUID-LL (`00:03`, hardware type, address), as RFC 8415 lays
/// them out; `None` for other DUIDs.
fn mac_from_duid(duid: &str) -> Option<String> {
    let bytes: Vec<u8> = duid
        .split(':')
        .map(|b| u8::from_str_radix(b, 16))
        .collect::<Result<_, _>>()
        .ok()?;
    let mac = match bytes.as_slice() {
        [0, 1, 0, 1, _, _, _, _, mac @ ..] | [0, 3, 0, 1, mac @ ..] if mac.len() == 6 => mac,
        _ => return None,
    };
    Some(
        mac.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(":"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_lease_file() {
        let net =
            Network::parse("<network><name>n</name><ip address='10.9.0.1' prefix='24'/></network>")
                .expect("valid");
        let text = "1700000000 52:54:00:AA:bb:01 10.9.0.50 guest1 01:52:54:00:aa:bb:01\n\
                    1700000100 52:54:00:aa:bb:02 10.9.0.51 * *\n\
                    duid 00:01:00:01:2c:00:00:00:52:54:00:00:00:01\n\
                    1700000200 1234 fd00::5 g6 00:02\n";
        let leases = parse_leases(text, &net);
        assert_eq!(leases.len(), 3);
        assert_eq!(leases[0].mac, "52:54:00:aa:bb:01");
        assert_eq!(leases[0].hostname.as_deref(), Some("guest1"));
        assert_eq!(leases[0].prefix, 24);
        assert_eq!(leases[1].hostname, None);
        assert_eq!(leases[1].client_id, None);
        // DUID `00:02` (enterprise number) names no MAC address.
        assert_eq!(leases[2].mac, "");
        assert_eq!(leases[2].protocol, "ipv6");
    }

    /// A lease file as dnsmasq 2.89 writes it for a dual-stack network:
    /// IPv4 leases, the server's DUID, then DHCPv6 leases of a DUID-LLT
    /// client, a DUID-LL client with a temporary address, and a client
    /// with an enterprise DUID and no host name.
    #[test]
    fn reads_dhcpv6_leases_after_the_server_duid() {
        let net = Network::parse(
            "<network><name>n</name><ip address='192.168.122.1' prefix='24'/>\
             <ip family='ipv6' address='2001:db8:ca2:2::1' prefix='64'/></network>",
        )
        .expect("valid");
        let text = "1763800000 52:54:00:3b:20:11 192.168.122.45 vm1 01:52:54:00:3b:20:11
duid 00:01:00:01:2e:c4:1a:7f:52:54:00:9a:2c:01
1763803600 1007305 2001:db8:ca2:2::a5 vm1 00:01:00:01:2e:c4:1b:02:52:54:00:3b:20:11
1763803600 T55304 2001:db8:ca2:2::1c7 vm2 00:03:00:01:52:54:00:7e:4f:c2
1763803600 22 2001:db8:ca2:2::3e * 00:02:00:00:ab:11:01:02:03:04
";
        let leases = parse_leases(text, &net);
        assert_eq!(leases.len(), 4);
        assert_eq!(leases[0].protocol, "ipv4");
        let v6: Vec<(&str, &str, u32, Option<&str>)> = leases[1..]
            .iter()
            .map(|l| {
                (
                    l.mac.as_str(),
                    l.ip.as_str(),
                    l.prefix,
                    l.hostname.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            v6,
            vec![
                ("52:54:00:3b:20:11", "2001:db8:ca2:2::a5", 64, Some("vm1")),
                ("52:54:00:7e:4f:c2", "2001:db8:ca2:2::1c7", 64, Some("vm2")),
                ("", "2001:db8:ca2:2::3e", 64, None),
            ]
        );
        assert!(leases[1..].iter().all(|l| l.protocol == "ipv6"));
        assert_eq!(
            leases[1].client_id.as_deref(),
            Some("00:01:00:01:2e:c4:1b:02:52:54:00:3b:20:11")
        );
    }
}
