//! VM NICs in the hangar driver (`hangar:///system`, root, each test in its
//! own network namespace): a persistent tap per bridged interface, plugged
//! into its bridge and named in the live definition handed to the VMM,
//! removed when the VMM ends (here a stand-in VMM that records what it was
//! given and exits), and removed on the next connection when a VMM died
//! unwatched. Real guests use them in the sandbox (`tests/e2e/virtio_net.rs`).

#[path = "network_ns/mod.rs"]
mod ns;

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;

use hangar_core::api::{Command, Driver, EventSink};
use hangar_core::backend::hangar_driver::HangarDriver;
use hangar_core::backend::store::StorePaths;
use hangar_core::network::runtime::{create_tap, SessionNamespace, TapSpec};
use ns::{in_own_netns, link_exists, output, run, Netns, Scratch};

fn domain(name: &str, interfaces: &str) -> String {
    format!(
        "<domain type='kvm'><name>{name}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu>\
         <os><type arch='x86_64'>hvm</type><kernel>/nonexistent</kernel></os>\
         <devices>{interfaces}</devices></domain>"
    )
}

/// A stand-in for hangar-vmm that keeps the live definition and the links
/// it saw, then fails the start.
fn fake_vmm(dir: &Path) -> std::path::PathBuf {
    let script = dir.join("fake-vmm");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ncp \"$3\" {out}/live.xml\nip -d link show > {out}/links\n\
             echo 'fake vmm: no guest here' >&2\nexit 1\n",
            out = dir.display()
        ),
    )
    .expect("script");
    run(&["chmod", "755", &script.display().to_string()]);
    script
}

/// The part of `ip -d link show` output about `dev`.
fn link_details(links: &str, dev: &str) -> String {
    links
        .split('\n')
        .skip_while(|l| !l.contains(&format!(": {dev}:")))
        .take(4)
        .collect::<Vec<_>>()
        .join("\n")
}

fn vnet_links() -> Vec<String> {
    run(&["ip", "-o", "link", "show"])
        .lines()
        .filter_map(|l| l.split(": ").nth(1).map(|n| n.to_string()))
        .filter(|n| n.starts_with("vnet"))
        .collect()
}

#[test]
fn bridged_nics_get_taps_that_go_when_the_vmm_ends() {
    in_own_netns(|| {
        let scratch = Scratch::new("nics");
        let paths = StorePaths {
            data: scratch.0.join("data"),
            runtime: scratch.0.join("run"),
        };
        // The in-process driver finds the VMM through the environment; the
        // other test hands it to its hangarctl explicitly, and std
        // serializes environment writes with process spawns.
        std::env::set_var("HANGAR_VMM", fake_vmm(&scratch.0));
        let open = || {
            HangarDriver::open_at("hangar:///system", paths.clone(), EventSink::detached().0)
                .expect("driver opens")
        };
        let mut driver = open();
        run(&["ip", "link", "add", "hgbr1", "type", "bridge"]);

        // type='bridge', MAC filled in at define time.
        let xml = domain(
            "d1",
            "<interface type='bridge'><source bridge='hgbr1'/><model type='virtio'/></interface>",
        );
        driver.call(Command::DefineDomain { xml }).expect("defines");
        let stored = std::fs::read_to_string(paths.data.join("domains/d1.xml")).expect("stored");
        let mac = stored
            .split("<mac address='")
            .nth(1)
            .and_then(|r| r.get(..17))
            .expect("a stored MAC")
            .to_string();
        assert!(mac.starts_with("52:54:00:"), "{mac}");
        let err = driver
            .call(Command::StartDomain {
                domain: "d1".into(),
                paused: false,
            })
            .expect_err("the stand-in VMM fails");
        assert!(err.to_string().contains("fake vmm"), "{err}");
        let live = std::fs::read_to_string(scratch.0.join("live.xml")).expect("live xml");
        assert!(live.contains("<target dev='vnet0'/>"), "{live}");
        assert!(live.contains(&mac), "{live}");
        let links = std::fs::read_to_string(scratch.0.join("links")).expect("links");
        let vnet0 = link_details(&links, "vnet0");
        assert!(vnet0.contains("master hgbr1"), "{links}");
        assert!(vnet0.contains(&format!("fe{}", &mac[2..])), "{links}");
        assert!(
            vnet0.contains("tun type tap") && vnet0.contains("persist on"),
            "{links}"
        );
        assert!(vnet_links().is_empty(), "tap left: {:?}", vnet_links());
        assert!(!paths.runtime.join("domains/d1.taps").exists());

        // type='network' needs a running network; type='user' is refused.
        let xml = domain(
            "d2",
            "<interface type='network'><source network='nonet'/></interface>",
        );
        driver.call(Command::DefineDomain { xml }).expect("defines");
        let err = driver
            .call(Command::StartDomain {
                domain: "d2".into(),
                paused: false,
            })
            .expect_err("network not running");
        assert_eq!(
            err.to_string(),
            "Requested operation is not valid: network 'nonet' is not active"
        );
        let xml = domain("d3", "<interface type='user'/>");
        driver.call(Command::DefineDomain { xml }).expect("defines");
        let err = driver
            .call(Command::StartDomain {
                domain: "d3".into(),
                paused: false,
            })
            .expect_err("user networking");
        assert!(err.to_string().contains("type='user'"), "{err}");

        // A VMM that died while nobody watched: its taps go on the next connect.
        let tap = create_tap(&TapSpec {
            name: "vnet5".into(),
            bridge: "hgbr1".into(),
            guest_mac: None,
            mtu: None,
            vnet_hdr: true,
            persistent: true,
        })
        .expect("tap");
        drop(tap);
        std::fs::write(paths.runtime.join("domains/gone.taps"), "vnet5\neth0\n").expect("record");
        assert!(link_exists("vnet5"));
        drop(driver);
        let _driver = open();
        assert!(!link_exists("vnet5"), "stale tap removed");
        assert!(link_exists("hgbr1"), "names the driver never makes stay");
        assert!(!paths.runtime.join("domains/gone.taps").exists());
    });
}

/// `hangarctl -c hangar:///session ARGS` as user 65534, with the stand-in VMM.
fn session_ctl(home: &Path, vmm: &Path, args: &[&str]) -> Output {
    std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
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
        .env("HANGAR_VMM", vmm)
        .output()
        .expect("runs hangarctl")
}

/// Rootless: the tap is made in the user's namespace, on the session
/// network's bridge, and the VMM is started inside that namespace.
#[test]
fn session_taps_live_in_the_users_namespace_with_the_vmm() {
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
        let scratch = Scratch::new("vmnics-session");
        let vmm = fake_vmm(&scratch.0);
        run(&[
            "chown",
            "-R",
            "65534:65534",
            &scratch.0.display().to_string(),
        ]);
        std::fs::set_permissions(&scratch.0, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let tun_mode = std::fs::metadata("/dev/net/tun")
            .map(|m| m.permissions().mode() & 0o7777)
            .ok()
            .filter(|m| m & 0o006 != 0o006);
        let runtime = scratch.0.join("run/hangar");
        let _cleanup = Cleanup {
            runtime: runtime.clone(),
            tun_mode,
        };
        if tun_mode.is_some() {
            std::fs::set_permissions("/dev/net/tun", std::fs::Permissions::from_mode(0o666))
                .expect("chmod /dev/net/tun");
        }
        // pasta needs a default route to copy.
        let up = Netns::new("up");
        let outer = up.plug(Some("198.51.100.2/24"), None);
        run(&["ip", "addr", "add", "198.51.100.1/24", "dev", &outer]);
        run(&["ip", "route", "add", "default", "via", "198.51.100.2"]);

        let ctl = |args: &[&str]| {
            let out = session_ctl(&scratch.0, &vmm, args);
            (
                out.status.success(),
                format!(
                    "{}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            )
        };
        let net = scratch.0.join("net.xml");
        std::fs::write(
            &net,
            "<network><name>sesnics</name><forward mode='nat'/><bridge name='hgses1' stp='off'/>\
             <ip address='10.218.0.1' prefix='24'/></network>",
        )
        .expect("xml");
        let dom = scratch.0.join("dom.xml");
        std::fs::write(
            &dom,
            domain(
                "s1",
                "<interface type='network'><source network='sesnics'/></interface>",
            ),
        )
        .expect("xml");
        for args in [
            vec!["net-define", net.to_str().expect("utf-8")],
            vec!["net-start", "sesnics"],
            vec!["define", dom.to_str().expect("utf-8")],
        ] {
            let (ok, text) = ctl(&args);
            assert!(ok, "{args:?}: {text}");
        }
        let (ok, text) = ctl(&["start", "s1"]);
        assert!(!ok && text.contains("fake vmm"), "{text}");
        let live = std::fs::read_to_string(scratch.0.join("live.xml")).expect("live xml");
        assert!(live.contains("<target dev='vnet0'/>"), "{live}");
        // The stand-in saw the tap on the bridge: it ran in the namespace.
        let links = std::fs::read_to_string(scratch.0.join("links")).expect("links");
        assert!(link_details(&links, "hgses1").contains("bridge"), "{links}");
        assert!(
            link_details(&links, "vnet0").contains("master hgses1"),
            "{links}"
        );
        assert!(!link_exists("vnet0"), "nothing in the host's namespace");
        let holder = SessionNamespace::new(runtime.join("netns"))
            .holder()
            .expect("the user's namespace runs")
            .to_string();
        let inside = output(&["nsenter", "-t", &holder, "-n", "ip", "-o", "link", "show"]);
        let inside = String::from_utf8_lossy(&inside.stdout).into_owned();
        assert!(
            !inside.contains("vnet0"),
            "the tap went with the failed start: {inside}"
        );
        assert!(!runtime.join("domains/s1.taps").exists());
        let (ok, text) = ctl(&["net-destroy", "sesnics"]);
        assert!(ok, "{text}");
    });
}

/// Ends the user's namespace and puts `/dev/net/tun`'s mode back.
struct Cleanup {
    runtime: std::path::PathBuf,
    tun_mode: Option<u32>,
}

impl Drop for Cleanup {
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
