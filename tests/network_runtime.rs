//! Virtual networks carrying real traffic, each test in network namespaces
//! of its own (see `network_ns`): veth pairs stand for guests, an
//! "upstream" namespace for the outside world. Needs root; skipped otherwise.

#[path = "network_ns/mod.rs"]
mod ns;

use std::net::SocketAddr;
use std::time::Duration;

use hangar_core::api::{Command, Driver, EventSink, NetworkUpdateOp, Reply, Scope};
use hangar_core::backend::hangar_driver::HangarDriver;
use hangar_core::backend::store::StorePaths;
use hangar_core::network::runtime::{create_tap, remove_tap, NetworkRuntime, TapSpec};
use hangar_core::xml::Network;
use ns::{dhcp, in_own_netns, link_exists, nft_tables, process_alive, run, Netns, Scratch};

const UPSTREAM: &str = "198.51.100.2:8080";

/// The outside world: a namespace at 198.51.100.2 reached from the host
/// namespace through 198.51.100.1.
fn upstream() -> Netns {
    let up = Netns::new("up");
    let outer = up.plug(Some("198.51.100.2/24"), None);
    run(&["ip", "addr", "add", "198.51.100.1/24", "dev", &outer]);
    up
}

fn upstream_addr() -> SocketAddr {
    UPSTREAM.parse().expect("address")
}

/// A guest on `bridge` with a fixed address and default route through `gw`.
fn static_guest(bridge: &str, addr: &str, gw: &str) -> Netns {
    let g = Netns::new("g");
    let outer = g.plug(Some(addr), None);
    run(&["ip", "link", "set", &outer, "master", bridge]);
    g.exec(&["ip", "route", "add", "default", "via", gw]);
    g
}

/// Stops the networks of a runtime even when the test fails half way.
struct Running<'a> {
    runtime: &'a NetworkRuntime,
    names: Vec<String>,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = self.runtime.stop(n);
        }
    }
}

fn net(xml: &str) -> Network {
    Network::parse(xml).expect("valid network")
}

fn call(driver: &mut HangarDriver, command: Command) -> Reply {
    let what = format!("{command:?}");
    driver
        .call(command)
        .unwrap_or_else(|e| panic!("{what}: {e}"))
}

const NAT_XML: &str = "<network><name>natnet</name><forward mode='nat'/>\
    <bridge name='hgnat0' stp='on' delay='0'/><mac address='52:54:00:12:34:56'/>\
    <domain name='nat.test' localOnly='yes'/>\
    <dns><host ip='10.213.0.7'><hostname>static</hostname></host></dns>\
    <ip address='10.213.0.1' netmask='255.255.255.0'><dhcp>\
    <range start='10.213.0.100' end='10.213.0.150'/></dhcp></ip></network>";

/// The whole hangar driver on a NAT network: start, a guest's DHCP lease
/// and DNS name, NAT to upstream, a live DHCP host, restart adoption,
/// autostart, and destroy leaving nothing.
#[test]
fn nat_network_through_the_driver() {
    in_own_netns(|| {
        let scratch = Scratch::new("nat");
        let paths = StorePaths {
            data: scratch.0.join("data"),
            runtime: scratch.0.join("run"),
        };
        let open = || {
            HangarDriver::open_at("hangar:///system", paths.clone(), EventSink::detached().0)
                .expect("driver opens")
        };
        let mut driver = open();
        let runtime = NetworkRuntime::new(paths.runtime.join("network"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["natnet".into()],
        };
        let up = upstream();
        call(
            &mut driver,
            Command::DefineNetwork {
                xml: NAT_XML.into(),
            },
        );
        call(
            &mut driver,
            Command::StartNetwork {
                network: "natnet".into(),
            },
        );
        assert!(link_exists("hgnat0"));
        let shown = run(&["ip", "-d", "link", "show", "hgnat0"]);
        assert!(shown.contains("52:54:00:12:34:56"), "{shown}");
        assert!(shown.contains("stp_state 1"), "{shown}");
        assert!(nft_tables().contains("hangar_hgnat0"), "{}", nft_tables());
        let pid = runtime.dnsmasq_pid("natnet").expect("dnsmasq runs");

        // A guest gets a lease and its name resolves.
        let guest = Netns::new("g");
        let outer = guest.plug(None, Some("52:54:00:aa:00:01"));
        run(&["ip", "link", "set", &outer, "master", "hgnat0"]);
        let leased = dhcp(&guest, &scratch, "guest1").expect("a DHCP lease");
        assert!(leased.starts_with("10.213.0."), "{leased}");
        let Reply::Leases(leases) = call(
            &mut driver,
            Command::NetworkDhcpLeases {
                network: "natnet".into(),
                mac: Some("52:54:00:AA:00:01".into()),
            },
        ) else {
            panic!("leases reply")
        };
        assert_eq!(leases.len(), 1, "{leases:?}");
        assert_eq!(leases[0].ip, leased);
        assert_eq!(leases[0].hostname.as_deref(), Some("guest1"));
        let lookup = guest.exec(&["busybox", "nslookup", "guest1.nat.test", "10.213.0.1"]);
        assert!(lookup.contains(&leased), "{lookup}");
        let lookup = guest.exec(&["busybox", "nslookup", "static.nat.test", "10.213.0.1"]);
        assert!(lookup.contains("10.213.0.7"), "{lookup}");

        // NAT: upstream sees the host's address, not the guest's.
        let seen = up.listen(upstream_addr(), Duration::from_secs(4));
        assert!(guest.connects(upstream_addr()), "guest reaches upstream");
        let peer = seen.join().expect("listener").expect("a connection");
        assert_eq!(peer.ip().to_string(), "198.51.100.1");

        // A DHCP host added live lands in dnsmasq's hosts file.
        call(
            &mut driver,
            Command::UpdateNetwork {
                network: "natnet".into(),
                op: NetworkUpdateOp::AddLast,
                section: "ip-dhcp-host".into(),
                xml: "<host mac='52:54:00:aa:00:02' name='fixed' ip='10.213.0.20'/>".into(),
                parent_index: None,
                scope: Scope::CURRENT,
            },
        );
        let hosts = std::fs::read_to_string(paths.runtime.join("network/natnet.hostsfile"))
            .expect("hosts file");
        assert!(
            hosts.contains("52:54:00:aa:00:02,10.213.0.20,fixed"),
            "{hosts}"
        );
        assert_eq!(
            runtime.dnsmasq_pid("natnet"),
            Some(pid),
            "SIGHUP, no restart"
        );

        // A new driver (an app restart) adopts the running network.
        drop(driver);
        let mut driver = open();
        let Reply::Network(info) = call(
            &mut driver,
            Command::NetworkInfo {
                network: "natnet".into(),
            },
        ) else {
            panic!("info reply")
        };
        assert!(info.active);
        assert_eq!(
            runtime.dnsmasq_pid("natnet"),
            Some(pid),
            "adopted, not duplicated"
        );
        let live = match call(
            &mut driver,
            Command::NetworkXml {
                network: "natnet".into(),
                inactive: false,
            },
        ) {
            Reply::Xml(x) => x,
            other => panic!("{other:?}"),
        };
        assert!(live.contains("10.213.0.20"), "{live}");

        // Destroy leaves no bridge, rule or process.
        call(
            &mut driver,
            Command::DestroyNetwork {
                network: "natnet".into(),
            },
        );
        assert!(!link_exists("hgnat0"));
        assert!(!nft_tables().contains("hangar_hgnat0"));
        assert!(!process_alive(pid), "dnsmasq {pid} is gone");
        assert!(driver
            .call(Command::DestroyNetwork {
                network: "natnet".into()
            })
            .is_err());

        // Autostart: honoured when the driver first connects after a boot.
        call(
            &mut driver,
            Command::SetNetworkAutostart {
                network: "natnet".into(),
                enabled: true,
            },
        );
        drop(driver);
        std::fs::remove_file(paths.runtime.join(".autostarted")).expect("boot marker");
        let mut driver = open();
        assert!(link_exists("hgnat0"), "autostarted");
        call(
            &mut driver,
            Command::DestroyNetwork {
                network: "natnet".into(),
            },
        );
        assert!(!link_exists("hgnat0"));
    });
}

/// Isolated: guests reach each other and the host, never upstream.
#[test]
fn isolated_network_stays_inside() {
    in_own_netns(|| {
        let scratch = Scratch::new("iso");
        let runtime = NetworkRuntime::new(scratch.0.join("run"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["iso".into()],
        };
        let up = upstream();
        runtime
            .start(&net(
                "<network><name>iso</name><bridge name='hgiso0' stp='off'/>\
                 <ip address='10.214.0.1' prefix='24'/></network>",
            ))
            .expect("starts");
        let g1 = static_guest("hgiso0", "10.214.0.11/24", "10.214.0.1");
        let g2 = static_guest("hgiso0", "10.214.0.12/24", "10.214.0.1");
        let to_g2: SocketAddr = "10.214.0.12:7000".parse().expect("addr");
        let seen = g2.listen(to_g2, Duration::from_secs(3));
        assert!(g1.connects(to_g2), "guest reaches guest");
        assert!(seen.join().expect("listener").is_some());
        let to_host: SocketAddr = "10.214.0.1:7001".parse().expect("addr");
        let listener = std::net::TcpListener::bind(to_host).expect("host listens");
        assert!(g1.connects(to_host), "guest reaches the host");
        drop(listener);
        let seen = up.listen(upstream_addr(), Duration::from_secs(3));
        assert!(
            !g1.connects(upstream_addr()),
            "isolated guest must not reach upstream"
        );
        assert!(seen.join().expect("listener").is_none());
        runtime.stop("iso").expect("stops");
        assert!(!link_exists("hgiso0"));
        assert!(!nft_tables().contains("hangar_hgiso0"));
    });
}

/// Routed: upstream sees the guest's own address.
#[test]
fn routed_network_keeps_guest_addresses() {
    in_own_netns(|| {
        let scratch = Scratch::new("route");
        let runtime = NetworkRuntime::new(scratch.0.join("run"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["routed".into()],
        };
        let up = upstream();
        up.exec(&["ip", "route", "add", "10.215.0.0/24", "via", "198.51.100.1"]);
        runtime
            .start(&net(
                "<network><name>routed</name><forward mode='route'/><bridge name='hgrt0' stp='off'/>\
                 <ip address='10.215.0.1' prefix='24'/></network>",
            ))
            .expect("starts");
        let g = static_guest("hgrt0", "10.215.0.10/24", "10.215.0.1");
        let seen = up.listen(upstream_addr(), Duration::from_secs(4));
        assert!(g.connects(upstream_addr()), "routed guest reaches upstream");
        let peer = seen.join().expect("listener").expect("a connection");
        assert_eq!(peer.ip().to_string(), "10.215.0.10");
        runtime.stop("routed").expect("stops");
        assert!(!nft_tables().contains("hangar_"));
    });
}

/// Open: traffic is routed and not a single rule is installed.
#[test]
fn open_network_installs_no_rules() {
    in_own_netns(|| {
        let scratch = Scratch::new("open");
        let runtime = NetworkRuntime::new(scratch.0.join("run"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["open".into()],
        };
        let up = upstream();
        up.exec(&["ip", "route", "add", "10.216.0.0/24", "via", "198.51.100.1"]);
        let state = runtime
            .start(&net(
                "<network><name>open</name><forward mode='open'/><bridge name='hgop0' stp='off'/>\
                 <ip address='10.216.0.1' prefix='24'/></network>",
            ))
            .expect("starts");
        assert_eq!(state.nft_table, None);
        assert_eq!(run(&["nft", "list", "ruleset"]).trim(), "");
        let g = static_guest("hgop0", "10.216.0.10/24", "10.216.0.1");
        let seen = up.listen(upstream_addr(), Duration::from_secs(4));
        assert!(g.connects(upstream_addr()));
        assert!(seen.join().expect("listener").is_some());
        runtime.stop("open").expect("stops");
        assert!(!link_exists("hgop0"));
    });
}

/// A taken bridge name or a subnet in use fails clearly and makes nothing.
#[test]
fn refused_starts_leave_nothing() {
    in_own_netns(|| {
        let scratch = Scratch::new("refuse");
        let runtime = NetworkRuntime::new(scratch.0.join("run"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["taken".into(), "clash".into()],
        };
        run(&["ip", "link", "add", "hgtaken0", "type", "bridge"]);
        let err = runtime
            .start(&net(
                "<network><name>taken</name><forward mode='nat'/><bridge name='hgtaken0'/>\
                 <ip address='10.217.0.1' prefix='24'><dhcp>\
                 <range start='10.217.0.10' end='10.217.0.20'/></dhcp></ip></network>",
            ))
            .expect_err("bridge name taken");
        assert!(err.to_string().contains("already in use"), "{err}");
        run(&[
            "ip", "link", "add", "hgother0", "type", "veth", "peer", "name", "hgother1",
        ]);
        run(&["ip", "addr", "add", "10.218.0.5/24", "dev", "hgother0"]);
        run(&["ip", "link", "set", "hgother0", "up"]);
        run(&["ip", "link", "set", "hgother1", "up"]);
        let err = runtime
            .start(&net(
                "<network><name>clash</name><forward mode='nat'/><bridge name='hgclash0'/>\
                 <ip address='10.218.0.1' prefix='24'><dhcp>\
                 <range start='10.218.0.10' end='10.218.0.20'/></dhcp></ip></network>",
            ))
            .expect_err("subnet in use");
        assert!(
            err.to_string().contains("in use by interface hgother0"),
            "{err}"
        );
        assert!(!link_exists("hgclash0"));
        assert!(!nft_tables().contains("hangar_"), "{}", nft_tables());
        assert!(runtime.active("clash").is_none() && runtime.active("taken").is_none());
        let left: Vec<_> = std::fs::read_dir(runtime.dir())
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "files left: {left:?}");
        let procs = run(&["ps", "-eo", "args"]);
        assert!(
            !procs.contains(&runtime.dir().display().to_string()),
            "{procs}"
        );
    });
}

/// VM NICs: a tap on the bridge, gone with its descriptor; a persistent one
/// is removed by name; `forward mode='bridge'` makes and removes nothing.
#[test]
fn taps_join_bridges_and_host_bridges_are_left_alone() {
    in_own_netns(|| {
        let scratch = Scratch::new("tap");
        let runtime = NetworkRuntime::new(scratch.0.join("run"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["hostbr".into()],
        };
        run(&["ip", "link", "add", "hgbr0", "type", "bridge"]);
        let state = runtime
            .start(&net("<network><name>hostbr</name><forward mode='bridge'/>\
                 <bridge name='hgbr0'/></network>"))
            .expect("starts on the host bridge");
        assert!(!state.created_bridge);
        let bridge = runtime.bridge_of("hostbr").expect("bridge");
        let spec = TapSpec {
            name: "hgvnet%d".into(),
            bridge,
            guest_mac: Some([0x52, 0x54, 0, 1, 2, 3]),
            mtu: Some(1400),
            vnet_hdr: true,
            persistent: false,
        };
        let tap = create_tap(&spec).expect("tap");
        let shown = run(&["ip", "-d", "link", "show", &tap.name]);
        assert!(shown.contains("master hgbr0"), "{shown}");
        assert!(shown.contains("fe:54:00:01:02:03"), "{shown}");
        assert!(shown.contains("mtu 1400"), "{shown}");
        let name = tap.name.clone();
        drop(tap);
        assert!(!link_exists(&name), "the tap goes with its descriptor");
        let persistent = create_tap(&TapSpec {
            persistent: true,
            ..spec
        })
        .expect("persistent tap");
        let name = persistent.name.clone();
        drop(persistent);
        assert!(link_exists(&name));
        remove_tap(&name).expect("removed");
        assert!(!link_exists(&name));
        runtime.stop("hostbr").expect("stops");
        assert!(link_exists("hgbr0"), "the host's bridge stays");
    });
}

/// `net-create`: a transient network runs, is listed as not persistent,
/// and disappears entirely with `net-destroy`.
#[test]
fn transient_network_through_the_driver() {
    in_own_netns(|| {
        let scratch = Scratch::new("transient");
        let paths = StorePaths {
            data: scratch.0.join("data"),
            runtime: scratch.0.join("run"),
        };
        let mut driver =
            HangarDriver::open_at("hangar:///system", paths.clone(), EventSink::detached().0)
                .expect("driver opens");
        let runtime = NetworkRuntime::new(paths.runtime.join("network"));
        let _cleanup = Running {
            runtime: &runtime,
            names: vec!["temp".into()],
        };
        let xml = "<network><name>temp</name><bridge name='hgtmp0' stp='off'/>\
                   <ip address='10.220.0.1' prefix='24'><dhcp>\
                   <range start='10.220.0.10' end='10.220.0.20'/></dhcp></ip></network>";
        let Reply::Network(info) = call(&mut driver, Command::CreateNetwork { xml: xml.into() })
        else {
            panic!("network reply")
        };
        assert!(info.active && !info.persistent);
        assert!(link_exists("hgtmp0"));
        let Reply::Networks(list) = call(&mut driver, Command::ListNetworks) else {
            panic!("list reply")
        };
        assert!(list.iter().any(|n| n.name == "temp" && !n.persistent));
        assert!(driver
            .call(Command::UndefineNetwork {
                network: "temp".into()
            })
            .is_err());
        call(
            &mut driver,
            Command::DestroyNetwork {
                network: "temp".into(),
            },
        );
        assert!(!link_exists("hgtmp0"));
        let Reply::Networks(list) = call(&mut driver, Command::ListNetworks) else {
            panic!("list reply")
        };
        assert!(list.is_empty(), "{list:?}");
    });
}
