//! VM NICs in the hangar driver (`hangar:///system`, root, each test in its
//! own network namespace): a persistent tap per bridged interface, plugged
//! into its bridge and named in the live definition handed to the VMM,
//! removed when the VMM ends (here a stand-in VMM that records what it was
//! given and exits), and removed on the next connection when a VMM died
//! unwatched. Real guests use them in the sandbox (`tests/e2e/virtio_net.rs`).

#[path = "network_ns/mod.rs"]
mod ns;

use std::path::Path;

use hangar_core::api::{Command, Driver, EventSink};
use hangar_core::backend::hangar_driver::HangarDriver;
use hangar_core::backend::store::StorePaths;
use hangar_core::network::runtime::{create_tap, TapSpec};
use ns::{in_own_netns, link_exists, run, Scratch};

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
        // SAFETY (edition 2021: not an unsafe fn): this test binary's only
        // test sets it, before any VMM is started.
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
        let vnet0 = links
            .split("\n")
            .skip_while(|l| !l.contains(": vnet0:"))
            .take(4)
            .collect::<Vec<_>>()
            .join("\n");
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
