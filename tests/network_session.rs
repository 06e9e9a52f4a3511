//! Rootless networks: `hangarctl -c hangar:///session` run as an
//! unprivileged user starts a NAT network in the user's own namespace with
//! a pasta uplink; a guest gets a lease from its dnsmasq and reaches the
//! upstream namespace, which sees the host's address. The test itself is
//! root (to make namespaces and plug the guest in); skipped otherwise.

#[path = "network_ns/mod.rs"]
mod ns;

use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use hangar_core::network::runtime::SessionNamespace;
use ns::{dhcp, in_own_netns, output, run, Netns, Scratch};

/// The unprivileged user the session runs as.
const USER: &str = "65534";

const NET_XML: &str = "<network><name>sesnet</name><forward mode='nat'/>\
    <bridge name='hgses0' stp='off'/>\
    <ip address='10.219.0.1' prefix='24'><dhcp>\
    <range start='10.219.0.100' end='10.219.0.150'/></dhcp></ip></network>";

/// `hangarctl -c hangar:///session ARGS` as the unprivileged user.
fn hangarctl(home: &Path, args: &[&str]) -> Output {
    Command::new("setpriv")
        .args([
            &format!("--reuid={USER}"),
            &format!("--regid={USER}"),
            "--clear-groups",
            "--",
            env!("CARGO_BIN_EXE_hangarctl"),
            "-c",
            "hangar:///session",
        ])
        .args(args)
        .env("HOME", home)
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_RUNTIME_DIR", home.join("run"))
        .env("HANGAR_NET_HELPER", env!("CARGO_BIN_EXE_hangar-net-helper"))
        .output()
        .expect("runs hangarctl")
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "hangarctl failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Ends the user's namespace (pasta, holder, any dnsmasq left) and puts
/// `/dev/net/tun`'s mode back, even when the test fails.
struct SessionCleanup {
    runtime: PathBuf,
    tun_mode: Option<u32>,
}

impl Drop for SessionCleanup {
    fn drop(&mut self) {
        if let Ok(dir) = std::fs::read_dir(self.runtime.join("network")) {
            for entry in dir.flatten() {
                let path = entry.path();
                if path.extension().is_some_and(|e| e == "pid") {
                    if let Some(pid) = std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|t| t.trim().parse::<i32>().ok())
                    {
                        // SAFETY: kill(2) on the test session's own dnsmasq.
                        unsafe { libc::kill(pid, libc::SIGTERM) };
                    }
                }
            }
        }
        SessionNamespace::new(self.runtime.join("netns")).shut_down();
        if let Some(mode) = self.tun_mode {
            let _ = std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(mode));
        }
    }
}

#[test]
fn rootless_nat_network_reaches_upstream() {
    in_own_netns(|| {
        for tool in ["pasta", "setpriv", "nsenter", "unshare"] {
            if !output(&["sh", "-c", &format!("command -v {tool}")])
                .status
                .success()
            {
                eprintln!("skipped: {tool} is not installed");
                return;
            }
        }
        let scratch = Scratch::new("session");
        run(&[
            "chown",
            "-R",
            &format!("{USER}:{USER}"),
            &scratch.0.display().to_string(),
        ]);
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        // pasta opens /dev/net/tun as the user (Debian's udev makes it 0666;
        // some containers leave it 0600).
        let tun_mode = std::fs::metadata("/dev/net/tun")
            .map(|m| m.permissions().mode() & 0o7777)
            .ok()
            .filter(|m| m & 0o006 != 0o006);
        let _cleanup = SessionCleanup {
            runtime: scratch.0.join("run/hangar"),
            tun_mode,
        };
        if tun_mode.is_some() {
            std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666))
                .expect("chmod /dev/net/tun");
        }

        // The outside world, and a default route pasta can copy.
        let up = Netns::new("up");
        let outer = up.plug(Some("198.51.100.2/24"), None);
        run(&["ip", "addr", "add", "198.51.100.1/24", "dev", &outer]);
        run(&["ip", "route", "add", "default", "via", "198.51.100.2"]);

        let xml = scratch.0.join("sesnet.xml");
        std::fs::write(&xml, NET_XML).expect("xml");
        ok(hangarctl(
            &scratch.0,
            &["net-define", &xml.display().to_string()],
        ));
        ok(hangarctl(&scratch.0, &["net-start", "sesnet"]));
        let list = ok(hangarctl(&scratch.0, &["net-list", "--all"]));
        assert!(list.contains("sesnet") && list.contains("active"), "{list}");
        let holder = SessionNamespace::new(scratch.0.join("run/hangar/netns"))
            .holder()
            .expect("the user's namespace runs");
        let holder = holder.to_string();
        let inside = |args: &[&str]| {
            let mut all = vec!["nsenter", "-t", &holder, "-n"];
            all.extend_from_slice(args);
            output(&all)
        };
        assert!(inside(&["ip", "link", "show", "hgses0"]).status.success());
        assert!(
            !output(&["ip", "link", "show", "hgses0"]).status.success(),
            "nothing is made in the host's namespace"
        );

        // A guest plugged into the bridge inside the user's namespace.
        let guest = Netns::new("g");
        let port = guest.plug(None, Some("52:54:00:bb:00:01"));
        run(&["ip", "link", "set", &port, "netns", &holder]);
        assert!(
            inside(&["ip", "link", "set", &port, "master", "hgses0", "up"])
                .status
                .success()
        );
        let leased = dhcp(&guest, &scratch, "rootless").expect("a DHCP lease");
        assert!(leased.starts_with("10.219.0."), "{leased}");
        let leases = ok(hangarctl(&scratch.0, &["net-dhcp-leases", "sesnet"]));
        assert!(leases.contains(&leased), "{leases}");

        let target: SocketAddr = "198.51.100.2:8080".parse().expect("addr");
        let seen = up.listen(target, Duration::from_secs(5));
        assert!(guest.connects(target), "the guest reaches upstream");
        let peer = seen.join().expect("listener").expect("a connection");
        assert_eq!(
            peer.ip().to_string(),
            "198.51.100.1",
            "upstream sees the host"
        );

        ok(hangarctl(&scratch.0, &["net-destroy", "sesnet"]));
        assert!(!inside(&["ip", "link", "show", "hgses0"]).status.success());
        assert!(!inside(&["nft", "list", "tables"])
            .stdout
            .windows(7)
            .any(|w| w == b"hangar_"));
    });
}
