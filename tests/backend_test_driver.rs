//! The API round trip through a `Connection` on the test driver: every kind
//! of object, virsh-worded errors, and events delivered to subscribers.

use std::path::PathBuf;
use std::time::Duration;

use hangar_core::api::{
    ApiError, Command, Connection, DomainEvent, DomainState, Event, ObjectEvent, ObjectKind,
    PoolAs, PoolState, Reply, Scope, VolumeAs, VolumeRef,
};
use tokio::sync::broadcast;

fn testdriver_uri() -> String {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let file = manifest
        .ancestors()
        .map(|a| a.join("shared/conformance/virt-manager/testdriver.xml"))
        .find(|c| c.is_file())
        .unwrap_or_else(|| manifest.join("../../shared/conformance/virt-manager/testdriver.xml"));
    format!("test://{}", file.display())
}

/// Waits for the first event matching `want`, skipping others (stats, ...).
async fn expect_event(rx: &mut broadcast::Receiver<Event>, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(e)) if want(&e) => return e,
            Ok(Ok(_)) => continue,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            other => panic!("no matching event: {other:?}"),
        }
    }
}

#[tokio::test]
async fn default_host_has_libvirts_objects() {
    let conn = Connection::open("test:///default").await.expect("opens");
    let domains = conn.list_domains().await.expect("lists");
    assert_eq!(domains.len(), 1);
    assert_eq!(domains[0].name, "test");
    assert_eq!(domains[0].state, DomainState::Running);
    assert_eq!(domains[0].id, Some(1));
    assert_eq!(domains[0].max_memory_kib, 8_388_608);
    assert_eq!(domains[0].memory_kib, 2_097_152);
    let nets = conn.list_networks().await.expect("lists");
    assert_eq!(nets.len(), 1);
    assert!(nets[0].active);
    assert_eq!(nets[0].bridge.as_deref(), Some("virbr0"));
    let pools = conn.list_pools().await.expect("lists");
    assert_eq!(pools[0].name, "default-pool");
    assert_eq!(pools[0].state, PoolState::Running);
    let host = conn.host_info().await.expect("host");
    assert_eq!(host.cpus, 16);
    assert_eq!(host.hypervisor, "Test");
    let caps = conn.text(Command::Capabilities).await.expect("caps");
    assert!(caps.contains("<domain type='test'/>"), "{caps}");
    assert!(caps.contains("<arch name='x86_64'>"), "{caps}");
    assert!(caps.contains("<arch name='i686'>"), "{caps}");
}

#[tokio::test]
async fn testdriver_file_loads_with_states() {
    let conn = Connection::open(&testdriver_uri()).await.expect("opens");
    let domains = conn.list_domains().await.expect("lists");
    assert_eq!(domains.len(), 14);
    let state = |n: &str| domains.iter().find(|d| d.name == n).map(|d| d.state);
    assert_eq!(state("test"), Some(DomainState::Running));
    assert_eq!(state("test-state-shutoff"), Some(DomainState::Shutoff));
    assert_eq!(state("test-state-paused"), Some(DomainState::Paused));
    assert_eq!(state("test-state-crashed"), Some(DomainState::Crashed));
    assert_eq!(
        state("test-state-pmsuspended"),
        Some(DomainState::PmSuspended)
    );
    let transient = domains.iter().find(|d| d.name == "test-state-transient");
    assert_eq!(transient.map(|d| d.persistent), Some(false));
    let saved = domains.iter().find(|d| d.name == "test-state-managedsave");
    assert_eq!(saved.map(|d| d.managed_save), Some(true));
    assert_eq!(conn.list_networks().await.expect("lists").len(), 16);
    let pools = conn.list_pools().await.expect("lists");
    // The file has 16 pools; `pool-sheepdog` is a type libvirt 9 dropped, so
    // it is left out and reported, the other 15 load.
    assert_eq!(pools.len(), 15);
    assert!(pools.iter().all(|p| p.state == PoolState::Running));
    match conn.call(Command::StoreProblems).await {
        Ok(Reply::Problems(p)) => {
            assert_eq!(p.len(), 1, "{p:?}");
            assert!(p[0].path.contains("pool-sheepdog"), "{p:?}");
        }
        other => panic!("{other:?}"),
    }
    let vols = conn.list_volumes("pool-dir").await.expect("lists");
    assert_eq!(vols.len(), 19);
    let vol = conn
        .volume_info(VolumeRef::in_pool("pool-dir", "default-vol"))
        .await
        .expect("info");
    assert_eq!((vol.capacity, vol.allocation), (1_000_000, 50_000));
    assert_eq!(vol.path, "/pool-dir/default-vol");
    assert_eq!(vol.format, "qcow2");
}

#[tokio::test]
async fn domain_lifecycle_and_events() {
    let conn = Connection::open("test:///default").await.expect("opens");
    let mut rx = conn.subscribe();
    conn.run(Command::DestroyDomain {
        domain: "test".into(),
    })
    .await
    .expect("destroys");
    expect_event(&mut rx, |e| {
        matches!(e, Event::DomainLifecycle { name, event: DomainEvent::Stopped, .. } if name == "test")
    })
    .await;
    let err = conn
        .run(Command::ShutdownDomain {
            domain: "test".into(),
        })
        .await
        .expect_err("not running");
    assert_eq!(
        err.to_string(),
        "Requested operation is not valid: domain is not running"
    );
    conn.run(Command::StartDomain {
        domain: "test".into(),
        paused: false,
    })
    .await
    .expect("starts");
    conn.run(Command::SuspendDomain {
        domain: "test".into(),
    })
    .await
    .expect("suspends");
    let info = conn.domain_info("test").await.expect("info");
    assert_eq!(info.state, DomainState::Paused);
    assert_eq!(info.id, Some(2));
    conn.run(Command::ResumeDomain { domain: "2".into() })
        .await
        .expect("resumes by id");
    expect_event(&mut rx, |e| {
        matches!(
            e,
            Event::DomainLifecycle {
                event: DomainEvent::Resumed,
                ..
            }
        )
    })
    .await;
    // Stats arrive on their own while a domain runs.
    expect_event(
        &mut rx,
        |e| matches!(e, Event::Stats { domains, .. } if !domains.is_empty()),
    )
    .await;

    let xml = "<domain type='test'><name>vm1</name><memory unit='MiB'>512</memory><vcpu>2</vcpu>\
        <os><type>hvm</type></os><devices><interface type='network'><source network='default'/></interface></devices></domain>";
    let vm = conn.define_domain(xml).await.expect("defines");
    assert_eq!(vm.state, DomainState::Shutoff);
    assert_eq!(vm.max_memory_kib, 512 * 1024);
    expect_event(&mut rx, |e| {
        matches!(e, Event::Object { kind: ObjectKind::Domain, name, event: ObjectEvent::Defined, .. } if name == "vm1")
    })
    .await;
    let dumped = conn
        .text(Command::DomainXml {
            domain: "vm1".into(),
            inactive: false,
        })
        .await
        .expect("dumps");
    assert!(
        dumped.contains(&format!("<uuid>{}</uuid>", vm.uuid)),
        "{dumped}"
    );
    assert!(dumped.contains("<mac address='52:54:00:"), "{dumped}");
    // A different UUID under the same name is refused.
    let clash = xml.replace(
        "<name>vm1</name>",
        "<name>vm1</name><uuid>00000000-0000-0000-0000-000000000001</uuid>",
    );
    assert!(matches!(
        conn.define_domain(&clash).await,
        Err(ApiError::AlreadyExists { .. })
    ));
    conn.run(Command::SetDomainMemory {
        domain: "vm1".into(),
        kib: 256 * 1024,
        scope: Scope::CONFIG,
    })
    .await
    .expect("setmem");
    conn.run(Command::SetDomainVcpus {
        domain: "vm1".into(),
        count: 1,
        maximum: false,
        scope: Scope::CONFIG,
    })
    .await
    .expect("setvcpus");
    let info = conn.domain_info("vm1").await.expect("info");
    assert_eq!(
        (info.memory_kib, info.vcpus, info.max_vcpus),
        (256 * 1024, 1, 2)
    );
    assert!(conn
        .run(Command::SetDomainMemory {
            domain: "vm1".into(),
            kib: 4 << 20,
            scope: Scope::CONFIG,
        })
        .await
        .is_err());
    conn.run(Command::UndefineDomain {
        domain: "vm1".into(),
        managed_save: false,
    })
    .await
    .expect("undefines");
    let err = conn.domain_info("vm1").await.expect_err("gone");
    assert_eq!(
        err.to_string(),
        "Domain not found: no domain with matching name 'vm1'"
    );
}

#[tokio::test]
async fn networks_round_trip() {
    let conn = Connection::open("test:///default").await.expect("opens");
    let mut rx = conn.subscribe();
    let xml = "<network><name>net10</name><forward mode='nat'/>\
        <ip address='192.168.10.1' netmask='255.255.255.0'><dhcp><range start='192.168.10.2' end='192.168.10.254'/></dhcp></ip></network>";
    let net = conn.define_network(xml).await.expect("defines");
    assert!(!net.active);
    assert_eq!(net.bridge.as_deref(), Some("virbr1"));
    conn.run(Command::StartNetwork {
        network: "net10".into(),
    })
    .await
    .expect("starts");
    conn.run(Command::SetNetworkAutostart {
        network: "net10".into(),
        enabled: true,
    })
    .await
    .expect("autostart");
    let info = conn.network_info("net10").await.expect("info");
    assert!(info.active && info.autostart && info.persistent);
    let live = conn
        .text(Command::NetworkXml {
            network: "net10".into(),
            inactive: false,
        })
        .await
        .expect("dumps");
    assert!(live.contains("<port start='1024' end='65535'/>"), "{live}");
    expect_event(&mut rx, |e| {
        matches!(
            e,
            Event::Object {
                kind: ObjectKind::Network,
                event: ObjectEvent::Started,
                ..
            }
        )
    })
    .await;
    conn.run(Command::UpdateNetwork {
        network: "net10".into(),
        op: hangar_core::api::NetworkUpdateOp::AddLast,
        section: "ip-dhcp-host".into(),
        xml: "<host mac='52:54:00:aa:bb:cc' name='web' ip='192.168.10.5'/>".into(),
        parent_index: None,
        scope: Scope::CURRENT,
    })
    .await
    .expect("net-update");
    match conn
        .call(Command::NetworkDhcpLeases {
            network: "net10".into(),
            mac: None,
        })
        .await
    {
        Ok(Reply::Leases(l)) => assert_eq!(l.len(), 1),
        other => panic!("{other:?}"),
    }
    conn.run(Command::DestroyNetwork {
        network: "net10".into(),
    })
    .await
    .expect("stops");
    conn.run(Command::UndefineNetwork {
        network: "net10".into(),
    })
    .await
    .expect("undefines");
    let err = conn.network_info("net10").await.expect_err("gone");
    assert_eq!(
        err.to_string(),
        "Network not found: no network with matching name 'net10'"
    );
}

#[tokio::test]
async fn pools_and_volumes_round_trip() {
    let conn = Connection::open("test:///default").await.expect("opens");
    let pool = PoolAs {
        name: "file_virtimages".into(),
        pool_type: "dir".into(),
        target: Some("/var/lib/virt/images".into()),
        ..PoolAs::default()
    };
    conn.call(Command::DefinePoolAs(pool))
        .await
        .expect("defines");
    let err = conn
        .list_volumes("file_virtimages")
        .await
        .expect_err("inactive");
    assert!(err.to_string().contains("is not active"), "{err}");
    conn.run(Command::StartPool {
        pool: "file_virtimages".into(),
        build: true,
    })
    .await
    .expect("starts");
    let create = VolumeAs {
        name: "kvm1.qcow2".into(),
        capacity: 10 << 30,
        format: Some("qcow2".into()),
        ..VolumeAs::default()
    };
    conn.call(Command::CreateVolumeAs {
        pool: "file_virtimages".into(),
        args: create,
    })
    .await
    .expect("creates");
    conn.call(Command::CloneVolume {
        volume: VolumeRef::in_pool("file_virtimages", "kvm1.qcow2"),
        new_name: "kvm2.qcow2".into(),
    })
    .await
    .expect("clones");
    conn.run(Command::ResizeVolume {
        volume: VolumeRef::by_path("/var/lib/virt/images/kvm2.qcow2"),
        capacity: 20 << 30,
        delta: false,
        shrink: false,
        allocate: false,
    })
    .await
    .expect("resizes");
    let vols = conn.list_volumes("file_virtimages").await.expect("lists");
    let caps: Vec<(String, u64)> = vols.iter().map(|v| (v.name.clone(), v.capacity)).collect();
    assert_eq!(
        caps,
        vec![
            ("kvm1.qcow2".to_string(), 10 << 30),
            ("kvm2.qcow2".to_string(), 20 << 30)
        ]
    );
    let shrink = conn
        .run(Command::ResizeVolume {
            volume: VolumeRef::in_pool("file_virtimages", "kvm2.qcow2"),
            capacity: 1 << 30,
            delta: false,
            shrink: false,
            allocate: false,
        })
        .await;
    assert!(shrink.is_err());
    let xml = conn
        .text(Command::VolumeXml {
            volume: VolumeRef::in_pool("file_virtimages", "kvm1.qcow2"),
        })
        .await
        .expect("dumpxml");
    assert!(xml.contains("<format type='qcow2'/>"), "{xml}");
    conn.run(Command::DeleteVolume {
        volume: VolumeRef::in_pool("file_virtimages", "kvm1.qcow2"),
    })
    .await
    .expect("deletes");
    let err = conn
        .volume_info(VolumeRef::in_pool("file_virtimages", "kvm1.qcow2"))
        .await
        .expect_err("gone");
    assert_eq!(
        err.to_string(),
        "Storage volume not found: no storage vol with matching name 'kvm1.qcow2'"
    );
    assert!(conn
        .run(Command::UndefinePool {
            pool: "file_virtimages".into()
        })
        .await
        .is_err());
    conn.run(Command::DestroyPool {
        pool: "file_virtimages".into(),
    })
    .await
    .expect("stops");
    conn.run(Command::UndefinePool {
        pool: "file_virtimages".into(),
    })
    .await
    .expect("undefines");
}

#[tokio::test]
async fn unknown_uri_is_a_clear_error() {
    let err = Connection::open("qemu:///system")
        .await
        .expect_err("no driver");
    assert_eq!(
        err.to_string(),
        "no connection driver available for qemu:///system"
    );
    let err = Connection::open("test:///nonexistent/host.xml")
        .await
        .expect_err("no file");
    assert!(err.to_string().contains("/nonexistent/host.xml"), "{err}");
}

#[test]
fn blocking_calls_work_without_a_runtime() {
    let conn = Connection::open_blocking("test:///default").expect("opens");
    match conn.call_blocking(Command::ListDomains) {
        Ok(Reply::Domains(d)) => assert_eq!(d.len(), 1),
        other => panic!("{other:?}"),
    }
}
