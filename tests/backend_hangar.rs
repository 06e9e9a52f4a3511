//! The hangar driver through a `Connection`: definitions on disk that
//! survive reopening, defaults filled on define, a corrupt definition
//! reported and left untouched, changes by another connection delivered as
//! events, and dir pools with real volumes checked by `qemu-img`.

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use hangar_core::api::{
    ApiError, Command, Connection, Driver, Event, ObjectEvent, ObjectKind, PoolAs, PoolState,
    Reply, Scope, VolumeAs, VolumeRef,
};
use hangar_core::backend::hangar_driver::HangarDriver;
use hangar_core::backend::store::StorePaths;
use tokio::sync::broadcast;

/// A fresh folder for one test, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(tag: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!(
            "hangar-{tag}-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        std::fs::create_dir_all(&dir).expect("scratch dir");
        Scratch(dir)
    }
    fn paths(&self) -> StorePaths {
        StorePaths::under(&self.0)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn open(paths: StorePaths) -> Connection {
    Connection::spawn("hangar:///session", move |events| {
        HangarDriver::open_at("hangar:///session", paths, events)
            .map(|d| Box::new(d) as Box<dyn Driver>)
    })
    .await
    .expect("opens the store")
}

async fn expect_event(rx: &mut broadcast::Receiver<Event>, want: impl Fn(&Event) -> bool) -> Event {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Ok(e)) if want(&e) => return e,
            Ok(Ok(_)) | Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            other => panic!("no matching event: {other:?}"),
        }
    }
}

const DOMAIN: &str = "<domain type='kvm'><name>kvm1</name><memory unit='MiB'>1024</memory>\
    <vcpu>2</vcpu><os><type arch='x86_64'>hvm</type></os>\
    <devices><interface type='network'><source network='nat10'/></interface></devices></domain>";

const NETWORK: &str = "<network><name>nat10</name><forward mode='nat'/>\
    <ip address='192.168.10.1' netmask='255.255.255.0'><dhcp>\
    <range start='192.168.10.2' end='192.168.10.254'/></dhcp></ip></network>";

#[tokio::test]
async fn definitions_survive_reopen() {
    let scratch = Scratch::new("reopen");
    let conn = open(scratch.paths()).await;
    let dom = conn.define_domain(DOMAIN).await.expect("defines");
    assert_eq!(dom.max_memory_kib, 1024 * 1024);
    let file = scratch.paths().data.join("domains/kvm1.xml");
    let text = std::fs::read_to_string(&file).expect("definition file");
    assert!(
        text.contains(&format!("<uuid>{}</uuid>", dom.uuid)),
        "{text}"
    );
    assert!(text.contains("<mac address='52:54:00:"), "{text}");
    let net = conn.define_network(NETWORK).await.expect("defines");
    assert_eq!(net.bridge.as_deref(), Some("virbr0"));
    conn.run(Command::SetDomainAutostart {
        domain: "kvm1".into(),
        enabled: true,
    })
    .await
    .expect("autostart");
    conn.run(Command::SetNetworkAutostart {
        network: "nat10".into(),
        enabled: true,
    })
    .await
    .expect("autostart");
    conn.run(Command::SetDomainMaxMemory {
        domain: "kvm1".into(),
        kib: 2 << 20,
        scope: Scope::CONFIG,
    })
    .await
    .expect("setmaxmem");
    conn.run(Command::SetDomainMemory {
        domain: "kvm1".into(),
        kib: 1536 << 10,
        scope: Scope::CONFIG,
    })
    .await
    .expect("setmem");
    conn.run(Command::SetDomainVcpus {
        domain: "kvm1".into(),
        count: 4,
        maximum: true,
        scope: Scope::CONFIG,
    })
    .await
    .expect("setvcpus --maximum");
    let live = conn
        .run(Command::SetDomainMemory {
            domain: "kvm1".into(),
            kib: 1 << 20,
            scope: Scope {
                live: true,
                config: false,
            },
        })
        .await
        .expect_err("not running");
    assert_eq!(
        live.to_string(),
        "Requested operation is not valid: domain is not running"
    );
    let clash = DOMAIN.replace(
        "<name>kvm1</name>",
        "<name>kvm1</name><uuid>11111111-2222-3333-4444-555555555555</uuid>",
    );
    let err = conn.define_domain(&clash).await.expect_err("uuid clash");
    assert!(matches!(err, ApiError::AlreadyExists { .. }), "{err}");
    drop(conn);

    let conn = open(scratch.paths()).await;
    let info = conn.domain_info("kvm1").await.expect("still there");
    assert_eq!(info.uuid, dom.uuid);
    assert!(info.autostart);
    assert_eq!(
        (info.max_memory_kib, info.memory_kib),
        (2 << 20, 1536 << 10)
    );
    assert_eq!((info.vcpus, info.max_vcpus), (2, 4));
    let by_uuid = conn.domain_info(&dom.uuid).await.expect("by uuid");
    assert_eq!(by_uuid.name, "kvm1");
    let net = conn.network_info("nat10").await.expect("still there");
    assert!(net.autostart && net.persistent && !net.active);
    let err = conn
        .run(Command::StartDomain {
            domain: "kvm1".into(),
            paused: false,
        })
        .await
        .expect_err("its network is not running");
    assert_eq!(
        err.to_string(),
        "Requested operation is not valid: network 'nat10' is not active"
    );
    conn.run(Command::UndefineDomain {
        domain: "kvm1".into(),
        managed_save: false,
    })
    .await
    .expect("undefines");
    assert!(!file.exists());
    assert!(!scratch.paths().data.join("autostart/domains/kvm1").exists());
    let err = conn.domain_info("kvm1").await.expect_err("gone");
    assert_eq!(
        err.to_string(),
        "Domain not found: no domain with matching name 'kvm1'"
    );
}

#[tokio::test]
async fn corrupt_definition_is_reported_and_left_untouched() {
    let scratch = Scratch::new("corrupt");
    let paths = scratch.paths();
    let domains = paths.data.join("domains");
    std::fs::create_dir_all(&domains).expect("dir");
    let broken = domains.join("broken.xml");
    let garbage = b"<domain type='kvm'><name>broken</name><memory>1024";
    std::fs::write(&broken, garbage).expect("writes");
    let misnamed = domains.join("other.xml");
    let misnamed_text = DOMAIN.replace("kvm1", "notother");
    std::fs::write(&misnamed, &misnamed_text).expect("writes");

    let conn = open(paths.clone()).await;
    let mut rx = conn.subscribe();
    assert!(conn.list_domains().await.expect("lists").is_empty());
    let problems = match conn.call(Command::StoreProblems).await {
        Ok(Reply::Problems(p)) => p,
        other => panic!("{other:?}"),
    };
    assert_eq!(problems.len(), 2, "{problems:?}");
    assert!(problems.iter().any(|p| p.path.ends_with("broken.xml")));
    assert!(problems
        .iter()
        .any(|p| p.path.ends_with("other.xml") && p.message.contains("notother")));
    conn.define_domain(DOMAIN).await.expect("others still work");
    assert_eq!(conn.list_domains().await.expect("lists").len(), 1);
    // A broken file appearing later is reported as an event.
    std::fs::write(domains.join("late.xml"), b"not xml").expect("writes");
    expect_event(
        &mut rx,
        |e| matches!(e, Event::StoreProblem(p) if p.path.ends_with("late.xml")),
    )
    .await;
    drop(conn);
    let _ = open(paths).await;
    assert_eq!(std::fs::read(&broken).expect("still there"), garbage);
    assert_eq!(
        std::fs::read_to_string(&misnamed).expect("still there"),
        misnamed_text
    );
}

#[tokio::test]
async fn another_connections_changes_arrive_as_events() {
    let scratch = Scratch::new("events");
    let writer = open(scratch.paths()).await;
    let watcher = open(scratch.paths()).await;
    let mut rx = watcher.subscribe();
    writer.define_domain(DOMAIN).await.expect("defines");
    expect_event(&mut rx, |e| {
        matches!(e, Event::Object { kind: ObjectKind::Domain, name, event: ObjectEvent::Defined, .. } if name == "kvm1")
    })
    .await;
    writer
        .run(Command::SetDomainAutostart {
            domain: "kvm1".into(),
            enabled: true,
        })
        .await
        .expect("autostart");
    expect_event(&mut rx, |e| {
        matches!(
            e,
            Event::Object {
                kind: ObjectKind::Domain,
                event: ObjectEvent::Changed,
                ..
            }
        )
    })
    .await;
    assert!(
        watcher
            .domain_info("kvm1")
            .await
            .expect("sees it")
            .autostart
    );
    writer
        .run(Command::UndefineDomain {
            domain: "kvm1".into(),
            managed_save: false,
        })
        .await
        .expect("undefines");
    expect_event(&mut rx, |e| {
        matches!(
            e,
            Event::Object {
                kind: ObjectKind::Domain,
                event: ObjectEvent::Undefined,
                ..
            }
        )
    })
    .await;
    // Host usage figures arrive on their own for the Overview graphs.
    expect_event(&mut rx, |e| {
        matches!(e, Event::Stats { host, .. } if host.memory_total_kib > 0 && host.cpu_total_ns > 0)
    })
    .await;
    // The writer's own changes come as events on its own connection too.
    let mut own = writer.subscribe();
    writer.define_network(NETWORK).await.expect("defines");
    expect_event(&mut own, |e| {
        matches!(
            e,
            Event::Object {
                kind: ObjectKind::Network,
                event: ObjectEvent::Defined,
                ..
            }
        )
    })
    .await;
}

#[tokio::test]
async fn stale_temp_files_are_never_listed_and_are_cleaned() {
    let scratch = Scratch::new("temps");
    let paths = scratch.paths();
    let conn = open(paths.clone()).await;
    for i in 0..20 {
        conn.define_domain(&DOMAIN.replace("kvm1", &format!("vm{i}")))
            .await
            .expect("defines");
    }
    let domains = paths.data.join("domains");
    let names: Vec<String> = std::fs::read_dir(&domains)
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 20, "only definitions remain: {names:?}");
    assert!(names.iter().all(|n| n.ends_with(".xml")));
    // What a writer killed mid-write leaves behind: a hidden, partial temp file.
    let stale = domains.join(".tmp-999-0-vm0.xml");
    std::fs::write(&stale, b"<domain><na").expect("writes");
    assert_eq!(conn.list_domains().await.expect("lists").len(), 20);
    drop(conn);
    let conn = open(paths).await;
    assert!(!stale.exists(), "cleaned under the lock on open");
    assert_eq!(conn.list_domains().await.expect("lists").len(), 20);
}

fn qemu_img(args: &[&str]) -> String {
    let out = Process::new("qemu-img")
        .args(args)
        .output()
        .expect("runs qemu-img");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn qemu_info(path: &Path) -> serde_json::Value {
    let text = qemu_img(&["info", "--output=json", &path.display().to_string()]);
    serde_json::from_str(&text).expect("qemu-img json")
}

#[tokio::test]
async fn default_pool_and_volumes() {
    let scratch = Scratch::new("pools");
    let paths = scratch.paths();
    let conn = open(paths.clone()).await;
    let default = conn
        .pool_info("default")
        .await
        .expect("default pool exists");
    assert_eq!(default.state, PoolState::Running);
    assert!(default.autostart);
    assert!(default.capacity > 0);
    let images = paths.images();
    assert_eq!(default.target_path.as_deref(), images.to_str());

    let create = VolumeAs {
        name: "kvm1.qcow2".into(),
        capacity: 10 << 30,
        format: Some("qcow2".into()),
        ..VolumeAs::default()
    };
    let vol = match conn
        .call(Command::CreateVolumeAs {
            pool: "default".into(),
            args: create.clone(),
        })
        .await
    {
        Ok(Reply::Volume(v)) => v,
        other => panic!("{other:?}"),
    };
    assert_eq!((vol.format.as_str(), vol.capacity), ("qcow2", 10 << 30));
    let path = images.join("kvm1.qcow2");
    qemu_img(&["check", &path.display().to_string()]);
    let info = qemu_info(&path);
    assert_eq!(info["format"], "qcow2");
    assert_eq!(info["virtual-size"], 10u64 << 30);
    let again = conn
        .call(Command::CreateVolumeAs {
            pool: "default".into(),
            args: create,
        })
        .await
        .expect_err("exists");
    assert!(matches!(again, ApiError::AlreadyExists { .. }), "{again}");

    conn.call(Command::CloneVolume {
        volume: VolumeRef::in_pool("default", "kvm1.qcow2"),
        new_name: "kvm2.qcow2".into(),
    })
    .await
    .expect("clones");
    conn.run(Command::ResizeVolume {
        volume: VolumeRef::by_path(images.join("kvm2.qcow2").display().to_string()),
        capacity: 12 << 30,
        delta: false,
        shrink: false,
        allocate: false,
    })
    .await
    .expect("resizes");
    let clone = images.join("kvm2.qcow2");
    qemu_img(&["check", &clone.display().to_string()]);
    assert_eq!(qemu_info(&clone)["virtual-size"], 12u64 << 30);
    let info = conn
        .volume_info(VolumeRef::in_pool("default", "kvm2.qcow2"))
        .await
        .expect("vol-info");
    assert_eq!(info.capacity, 12 << 30);
    let xml = conn
        .text(Command::VolumeXml {
            volume: VolumeRef::in_pool("default", "kvm2.qcow2"),
        })
        .await
        .expect("dumpxml");
    assert!(xml.contains("<format type='qcow2'/>"), "{xml}");
    assert!(
        xml.contains(&format!("<path>{}</path>", clone.display())),
        "{xml}"
    );
    let p = conn
        .text(Command::VolumePath {
            volume: VolumeRef::in_pool("default", "kvm2.qcow2"),
        })
        .await
        .expect("vol-path");
    assert_eq!(p, clone.display().to_string());

    // A file dropped in the folder shows up, its format read from its header,
    // and the pool says it changed without being asked to refresh.
    let mut rx = conn.subscribe();
    let dropped = images.join("disk.img");
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        &dropped.display().to_string(),
        "1M",
    ]);
    expect_event(&mut rx, |e| {
        matches!(e, Event::Object { kind: ObjectKind::Pool, name, event: ObjectEvent::Refreshed, .. } if name == "default")
    })
    .await;
    conn.run(Command::RefreshPool {
        pool: "default".into(),
    })
    .await
    .expect("refresh");
    let vols = conn.list_volumes("default").await.expect("lists");
    let names: Vec<(&str, &str)> = vols
        .iter()
        .map(|v| (v.name.as_str(), v.format.as_str()))
        .collect();
    assert_eq!(
        names,
        vec![
            ("disk.img", "qcow2"),
            ("kvm1.qcow2", "qcow2"),
            ("kvm2.qcow2", "qcow2")
        ]
    );
    conn.run(Command::DeleteVolume {
        volume: VolumeRef::in_pool("default", "kvm1.qcow2"),
    })
    .await
    .expect("deletes");
    assert!(!path.exists());
    let err = conn
        .volume_info(VolumeRef::in_pool("default", "kvm1.qcow2"))
        .await
        .expect_err("gone");
    assert_eq!(
        err.to_string(),
        "Storage volume not found: no storage vol with matching name 'kvm1.qcow2'"
    );
}

#[tokio::test]
async fn dir_pool_lifecycle() {
    let scratch = Scratch::new("dirpool");
    let conn = open(scratch.paths()).await;
    let target = scratch.0.join("virtimages");
    let args = PoolAs {
        name: "file_virtimages".into(),
        pool_type: "dir".into(),
        target: Some(target.display().to_string()),
        ..PoolAs::default()
    };
    conn.call(Command::DefinePoolAs(args))
        .await
        .expect("defines");
    let info = conn.pool_info("file_virtimages").await.expect("info");
    assert_eq!(info.state, PoolState::Inactive);
    let err = conn
        .run(Command::StartPool {
            pool: "file_virtimages".into(),
            build: false,
        })
        .await
        .expect_err("folder missing");
    assert!(
        err.to_string().contains(&target.display().to_string()),
        "{err}"
    );
    conn.run(Command::BuildPool {
        pool: "file_virtimages".into(),
        overwrite: false,
        no_overwrite: false,
    })
    .await
    .expect("builds");
    assert!(target.is_dir());
    conn.run(Command::StartPool {
        pool: "file_virtimages".into(),
        build: false,
    })
    .await
    .expect("starts");
    conn.run(Command::SetPoolAutostart {
        pool: "file_virtimages".into(),
        enabled: true,
    })
    .await
    .expect("autostart");
    let info = conn.pool_info("file_virtimages").await.expect("info");
    assert_eq!(info.state, PoolState::Running);
    assert!(info.autostart && info.capacity > 0);
    let xml = conn
        .text(Command::PoolXml {
            pool: "file_virtimages".into(),
            inactive: false,
        })
        .await
        .expect("dumpxml");
    assert!(
        xml.contains(&format!("<path>{}</path>", target.display())),
        "{xml}"
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
    conn.run(Command::DeletePool {
        pool: "file_virtimages".into(),
    })
    .await
    .expect("deletes the folder");
    assert!(!target.exists());
    conn.run(Command::UndefinePool {
        pool: "file_virtimages".into(),
    })
    .await
    .expect("undefines");
    let logical =
        "<pool type='logical'><name>vg</name><target><path>/dev/vg</path></target></pool>";
    let err = conn
        .call(Command::DefinePool {
            xml: logical.into(),
        })
        .await
        .expect_err("dir only");
    assert!(err.to_string().contains("only 'dir' pools"), "{err}");
}
