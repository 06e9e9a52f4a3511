//! Several processes sharing one store, as the GUI and `hangarctl`s do:
//! two processes defining 50 domains each at the same time leave 100
//! definitions, and a writer killed with SIGKILL at random moments never
//! leaves a truncated or empty definition file.
//!
//! The writer processes are this test binary itself, started again with
//! `HANGAR_CHILD_*` variables naming what to do; run normally, the child
//! entry points see no such variable and return at once.

use std::path::{Path, PathBuf};
use std::process::{Child, Command as Process, Stdio};
use std::time::{Duration, Instant};

use hangar_core::api::{Command, Connection, Driver, EventSink, Reply};
use hangar_core::backend::hangar_driver::HangarDriver;
use hangar_core::backend::store::StorePaths;
use hangar_core::xml::Domain;

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

fn domain_xml(name: &str, filler: usize) -> String {
    // A long description makes each write take long enough to be interrupted.
    let description = "x".repeat(filler);
    format!(
        "<domain type='kvm'><name>{name}</name><description>{description}</description>\
         <memory unit='MiB'>256</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
    )
}

/// Starts this test binary running only `test_name`, as a separate writer
/// whose `hangar:///session` store is under `root`.
fn spawn_child(test_name: &str, root: &Path, vars: &[(&str, String)]) -> Child {
    let exe = std::env::current_exe().expect("test binary path");
    let mut cmd = Process::new(exe);
    cmd.args([test_name, "--exact", "--nocapture", "--test-threads=1"])
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_RUNTIME_DIR", root.join("run"))
        .env("HANGAR_CHILD_ROOT", root)
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for (k, v) in vars {
        cmd.env(k, v);
    }
    cmd.spawn().expect("spawns a writer process")
}

/// The store a child sees (`hangar:///session` with the variables above).
fn child_paths(root: &Path) -> StorePaths {
    StorePaths {
        data: root.join("data/hangar"),
        runtime: root.join("run/hangar"),
    }
}

/// Child: waits for the start signal, then defines `count` domains `PREFIX-N`.
#[test]
fn child_defines_domains() {
    let Some(root) = std::env::var_os("HANGAR_CHILD_ROOT").map(PathBuf::from) else {
        return;
    };
    let (Ok(prefix), Ok(count)) = (
        std::env::var("HANGAR_CHILD_PREFIX"),
        std::env::var("HANGAR_CHILD_COUNT"),
    ) else {
        return;
    };
    let count: usize = count.parse().expect("a count");
    let conn = Connection::open_blocking("hangar:///session").expect("opens the store");
    let go = root.join("go");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !go.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    for i in 0..count {
        let xml = domain_xml(&format!("{prefix}-{i}"), 64);
        conn.call_blocking(Command::DefineDomain { xml })
            .expect("defines a domain");
    }
}

/// Child: rewrites the same domains with changing contents until killed.
#[test]
fn child_rewrites_domains() {
    if std::env::var_os("HANGAR_CHILD_REWRITE").is_none() {
        return;
    }
    let conn = Connection::open_blocking("hangar:///session").expect("opens the store");
    for round in 0u64.. {
        let name = format!("busy-{}", round % 4);
        let xml = domain_xml(&name, 16 * 1024 + (round as usize % 7) * 4096);
        // Redefinition keeps the UUID the store gave the domain.
        let xml = match conn.call_blocking(Command::LookupDomain {
            domain: name.clone(),
        }) {
            Ok(Reply::Domain(d)) => {
                xml.replace("</name>", &format!("</name><uuid>{}</uuid>", d.uuid))
            }
            _ => xml,
        };
        conn.call_blocking(Command::DefineDomain { xml })
            .expect("defines a domain");
    }
}

fn open_driver(paths: StorePaths) -> HangarDriver {
    let (events, _rx) = EventSink::detached();
    HangarDriver::open_at("hangar:///session", paths, events).expect("opens the store")
}

/// Every definition file is complete: non-empty and valid.
fn check_definitions(dir: &Path) -> usize {
    let mut count = 0;
    for entry in std::fs::read_dir(dir).expect("lists definitions") {
        let entry = entry.expect("entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let text = std::fs::read_to_string(entry.path()).expect("reads a definition");
        assert!(!text.is_empty(), "{name} is empty");
        Domain::parse(&text).unwrap_or_else(|e| panic!("{name} is broken: {e}"));
        count += 1;
    }
    count
}

#[test]
fn two_processes_define_50_domains_each() {
    let scratch = Scratch::new("concurrent");
    // Create the store (and its default pool) before the race starts.
    drop(open_driver(child_paths(&scratch.0)));
    let children: Vec<Child> = ["a", "b"]
        .iter()
        .map(|prefix| {
            spawn_child(
                "child_defines_domains",
                &scratch.0,
                &[
                    ("HANGAR_CHILD_PREFIX", prefix.to_string()),
                    ("HANGAR_CHILD_COUNT", "50".to_string()),
                ],
            )
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(scratch.0.join("go"), b"").expect("start signal");
    for mut child in children {
        let status = child.wait().expect("waits");
        assert!(status.success(), "a writer failed: {status}");
    }
    let paths = child_paths(&scratch.0);
    assert_eq!(check_definitions(&paths.data.join("domains")), 100);
    let mut driver = open_driver(paths);
    match driver.call(Command::ListDomains) {
        Ok(Reply::Domains(d)) => {
            assert_eq!(d.len(), 100);
            let mut uuids: Vec<&str> = d.iter().map(|x| x.uuid.as_str()).collect();
            uuids.sort_unstable();
            uuids.dedup();
            assert_eq!(uuids.len(), 100, "every domain has its own UUID");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn killed_writers_never_leave_broken_definitions() {
    let scratch = Scratch::new("sigkill");
    drop(open_driver(child_paths(&scratch.0)));
    let domains = child_paths(&scratch.0).data.join("domains");
    let mut seen_files = 0;
    let mut mid_write = 0;
    for round in 0..12u64 {
        let mut child = spawn_child(
            "child_rewrites_domains",
            &scratch.0,
            &[("HANGAR_CHILD_REWRITE", "1".to_string())],
        );
        // A different moment each round, spread over the writer's start-up and its writes.
        let jitter = uuid::Uuid::new_v4().as_u128() as u64 % 97;
        std::thread::sleep(Duration::from_millis(150 + round * 20 + jitter));
        child.kill().expect("SIGKILL");
        child.wait().expect("reaps");
        let temps = std::fs::read_dir(&domains)
            .expect("lists")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
            })
            .count();
        if temps > 0 {
            mid_write += 1;
        }
        seen_files = seen_files.max(check_definitions(&domains));
    }
    println!("SIGKILL landed during a definition write in {mid_write} of 12 rounds");
    assert!(seen_files > 0, "the writers wrote something");
    // A new process cleans up what killed writers left and sees every domain.
    let mut driver = open_driver(child_paths(&scratch.0));
    let leftovers: Vec<String> = std::fs::read_dir(&domains)
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    match driver.call(Command::ListDomains) {
        Ok(Reply::Domains(d)) => assert_eq!(d.len(), check_definitions(&domains)),
        other => panic!("{other:?}"),
    }
    match driver.call(Command::StoreProblems) {
        Ok(Reply::Problems(p)) => assert!(p.is_empty(), "{p:?}"),
        other => panic!("{other:?}"),
    }
}
