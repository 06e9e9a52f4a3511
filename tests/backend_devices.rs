//! `AttachDevice` / `DetachDevice` on both drivers: the test driver in
//! memory and the hangar driver on its store (the change survives
//! reopening the store), with libvirt's errors for a used target, a used or
//! unknown MAC address, a missing image, and a running domain's live
//! devices (no hot-plug yet).

use std::path::PathBuf;

use hangar_core::api::{ApiError, Command, Connection, Driver, Scope};
use hangar_core::backend::hangar_driver::HangarDriver;
use hangar_core::backend::store::StorePaths;

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
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DOMAIN: &str = "<domain type='kvm'><name>dev1</name><memory unit='MiB'>256</memory>\
    <os><type>hvm</type></os><devices>\
    <interface type='network'><mac address='52:54:00:00:00:01'/><source network='default'/></interface>\
    </devices></domain>";

async fn open_hangar(root: &std::path::Path) -> Connection {
    let paths = StorePaths::under(root);
    Connection::spawn("hangar:///session", move |events| {
        HangarDriver::open_at("hangar:///session", paths, events)
            .map(|d| Box::new(d) as Box<dyn Driver>)
    })
    .await
    .expect("opens the store")
}

async fn xml(c: &Connection, inactive: bool) -> String {
    c.text(Command::DomainXml {
        domain: "dev1".into(),
        inactive,
    })
    .await
    .expect("dumpxml")
}

async fn attach(c: &Connection, xml: &str, scope: Scope) -> Result<(), ApiError> {
    c.run(Command::AttachDevice {
        domain: "dev1".into(),
        xml: xml.into(),
        scope,
    })
    .await
}

async fn detach(c: &Connection, xml: &str, scope: Scope) -> Result<(), ApiError> {
    c.run(Command::DetachDevice {
        domain: "dev1".into(),
        xml: xml.into(),
        scope,
    })
    .await
}

/// The same changes and refusals on a shut-off domain, whichever the driver.
async fn config_changes(c: &Connection, image: &str) {
    c.define_domain(DOMAIN).await.expect("defines");
    let disk = format!(
        "<disk type='file' device='disk'><driver type='qcow2'/><source file='{image}'/>\
         <target dev='vdb'/><serial>SER1</serial></disk>"
    );
    attach(c, &disk, Scope::CURRENT).await.expect("attaches");
    let after = xml(c, false).await;
    assert!(
        after.contains(&format!("<source file='{image}'/>")),
        "{after}"
    );
    assert!(
        after.contains("<target dev='vdb' bus='virtio'/>"),
        "{after}"
    );
    assert!(after.contains("<serial>SER1</serial>"), "{after}");

    let err = attach(c, &disk, Scope::CONFIG)
        .await
        .expect_err("used target");
    assert_eq!(
        err.to_string(),
        "Requested operation is not valid: target vdb already exists"
    );
    let missing = "<disk type='file'><source file='/nonexistent/x.img'/><target dev='vdc'/></disk>";
    let err = attach(c, missing, Scope::CONFIG)
        .await
        .expect_err("no image");
    assert_eq!(
        err.to_string(),
        "Cannot access storage file '/nonexistent/x.img': No such file or directory"
    );
    let err = attach(
        c,
        "<interface type='bridge'><mac address='52:54:00:00:00:01'/><source bridge='br0'/></interface>",
        Scope::CONFIG,
    )
    .await
    .expect_err("used MAC");
    assert_eq!(
        err.to_string(),
        "invalid argument: network device with mac 52:54:00:00:00:01 already exists"
    );
    attach(
        c,
        "<interface type='bridge'><source bridge='br0'/><model type='virtio'/></interface>",
        Scope::CONFIG,
    )
    .await
    .expect("attaches a NIC");
    let after = xml(c, true).await;
    let bridge = after
        .split("<interface type='bridge'>")
        .nth(1)
        .expect("bridge interface present");
    assert!(bridge.contains("<mac address='52:54:00:"), "{after}");
    let err = attach(c, DOMAIN, Scope::CONFIG)
        .await
        .expect_err("not a device");
    assert!(err.to_string().contains("<domain>"), "{err}");
    let err = attach(
        c,
        &disk,
        Scope {
            live: true,
            config: false,
        },
    )
    .await
    .expect_err("not running");
    assert_eq!(
        err.to_string(),
        "Requested operation is not valid: domain is not running"
    );

    let err = detach(
        c,
        "<interface type='bridge'><mac address='52:54:00:aa:bb:cc'/></interface>",
        Scope::CONFIG,
    )
    .await
    .expect_err("unknown MAC");
    assert_eq!(
        err.to_string(),
        "device not found: no device matching MAC address 52:54:00:aa:bb:cc found"
    );
    detach(c, "<interface type='bridge'/>", Scope::CONFIG)
        .await
        .expect("detaches the only bridge NIC");
    detach(c, "<disk><target dev='vdb'/></disk>", Scope::CONFIG)
        .await
        .expect("detaches");
    let err = detach(c, "<disk><target dev='vdb'/></disk>", Scope::CONFIG)
        .await
        .expect_err("gone");
    assert_eq!(err.to_string(), "device not found: no target device vdb");
    let after = xml(c, true).await;
    assert!(
        !after.contains("vdb") && !after.contains("bridge"),
        "{after}"
    );
}

#[tokio::test]
async fn test_driver_changes_definitions_and_refuses_hot_plug() {
    let scratch = Scratch::new("dev-test");
    let image = scratch.0.join("disk.qcow2");
    std::fs::write(&image, b"").expect("image file");
    let c = Connection::open("test:///default").await.expect("opens");
    config_changes(&c, &image.display().to_string()).await;

    // A running domain: its live devices cannot change, its definition can.
    c.run(Command::StartDomain {
        domain: "dev1".into(),
        paused: false,
    })
    .await
    .expect("starts");
    let disk = format!(
        "<disk type='file'><source file='{}'/><target dev='vdc'/></disk>",
        image.display()
    );
    for scope in [
        Scope::CURRENT,
        Scope {
            live: true,
            config: false,
        },
        Scope {
            live: true,
            config: true,
        },
    ] {
        let err = attach(&c, &disk, scope).await.expect_err("no hot-plug");
        assert!(matches!(err, ApiError::Unsupported(_)), "{err}");
        assert!(err.to_string().contains("use --config"), "{err}");
    }
    attach(&c, &disk, Scope::CONFIG).await.expect("next boot");
    assert!(!xml(&c, false).await.contains("vdc"));
    assert!(xml(&c, true)
        .await
        .contains("<target dev='vdc' bus='virtio'/>"));
}

#[tokio::test]
async fn hangar_driver_writes_the_change_to_its_store() {
    let scratch = Scratch::new("dev-hangar");
    let image = scratch.0.join("disk.qcow2");
    std::fs::write(&image, b"").expect("image file");
    let store = scratch.0.join("store");
    let c = open_hangar(&store).await;
    config_changes(&c, &image.display().to_string()).await;
    let disk = format!(
        "<disk type='file'><source file='{}'/><target dev='vdc'/></disk>",
        image.display()
    );
    attach(&c, &disk, Scope::CONFIG).await.expect("attaches");
    drop(c);

    // The definition on disk has the disk; a new connection reads it back.
    let file = StorePaths::under(&store).data.join("domains/dev1.xml");
    let stored = std::fs::read_to_string(&file).expect("stored definition");
    assert!(
        stored.contains("<target dev='vdc' bus='virtio'/>"),
        "{stored}"
    );
    let c = open_hangar(&store).await;
    assert!(xml(&c, true)
        .await
        .contains("<target dev='vdc' bus='virtio'/>"));
    detach(&c, "<disk><target dev='vdc'/></disk>", Scope::CURRENT)
        .await
        .expect("detaches from a shut-off domain");
    assert!(!std::fs::read_to_string(&file)
        .expect("stored")
        .contains("vdc"));
}
