//! The storage engine against real files: every qcow2 it writes is checked by
//! `qemu-img check`, and `qemu-img info` must agree with `probe_volume`.

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use hangar_core::storage::{
    create_volume, probe_volume, CreateOptions, StorageError, VolumeFormat, VolumeInfo,
};
use serde_json::Value;

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

/// A scratch directory removed at the end of the test.
struct Scratch(PathBuf);

impl Scratch {
    fn new(name: &str) -> Scratch {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "hangar-storage-{name}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Names in the directory, to show nothing (no temp file) is left behind.
    fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read scratch dir")
            .map(|e| {
                e.expect("dir entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn tool(name: &str) -> Command {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{name} is not installed: run `make test`, which installs qemu-utils"
    );
    Command::new(name)
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `qemu-img check` must find no errors and no leaks.
fn qemu_check(path: &Path) {
    let out = run(tool("qemu-img").args(["check", "--output=json"]).arg(path));
    let report: Value = serde_json::from_str(&out).expect("check json");
    for key in ["corruptions", "leaks", "check-errors"] {
        let n = report.get(key).and_then(Value::as_u64).unwrap_or(0);
        assert_eq!(
            n,
            0,
            "qemu-img check {}: {key} = {n}: {out}",
            path.display()
        );
    }
}

fn qemu_info(path: &Path) -> Value {
    let out = run(tool("qemu-img")
        .args(["info", "--output=json", "-U"])
        .arg(path));
    serde_json::from_str(&out).expect("info json")
}

/// `qemu-img info` and `probe_volume` agree on everything both report.
fn assert_agrees(path: &Path) -> VolumeInfo {
    let info = probe_volume(path).expect("probe");
    let q = qemu_info(path);
    let qformat = q["format"].as_str().expect("format");
    let expected_format = match info.format {
        VolumeFormat::Qcow2 => "qcow2",
        VolumeFormat::Raw | VolumeFormat::Iso => "raw",
    };
    assert_eq!(qformat, expected_format, "format of {}", path.display());
    assert_eq!(q["virtual-size"].as_u64(), Some(info.capacity), "capacity");
    assert_eq!(
        q["actual-size"].as_u64(),
        Some(info.allocation),
        "allocation"
    );
    if info.format == VolumeFormat::Qcow2 {
        qemu_check(path);
        assert_eq!(q["cluster-size"].as_u64(), info.cluster_size.map(u64::from));
        assert_eq!(
            q["backing-filename"].as_str().map(PathBuf::from),
            info.backing,
            "backing file"
        );
        assert_eq!(
            q["backing-filename-format"].as_str(),
            info.backing_format.map(|f| f.as_str()),
            "backing format"
        );
        let data = &q["format-specific"]["data"];
        assert_eq!(data["compat"].as_str(), info.compat.as_deref(), "compat");
        if info.compat.as_deref() == Some("1.1") {
            assert_eq!(data["lazy-refcounts"].as_bool(), Some(info.lazy_refcounts));
        }
    }
    info
}

fn qcow2(capacity: u64) -> CreateOptions {
    CreateOptions::new(VolumeFormat::Qcow2, capacity)
}

fn blocks(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").blocks() * 512
}

#[test]
fn qcow2_create_defaults_match_qemu() {
    let dir = Scratch::new("create");
    let path = dir.path("kvm1.qcow2");
    create_volume(&path, &qcow2(10 * GIB)).expect("create");
    let info = assert_agrees(&path);
    assert_eq!(info.format, VolumeFormat::Qcow2);
    assert_eq!(info.capacity, 10 * GIB);
    assert_eq!(info.cluster_size, Some(65536));
    assert_eq!(info.compat.as_deref(), Some("1.1"));
    assert!(!info.lazy_refcounts);
    assert!(
        info.allocation < MIB,
        "a new qcow2 is small: {}",
        info.allocation
    );
    assert_eq!(dir.names(), ["kvm1.qcow2"], "no temp file left");
}

#[test]
fn qcow2_create_options() {
    let dir = Scratch::new("options");
    for (name, cluster, lazy, compat) in [
        ("c512.qcow2", 512, false, None),
        ("c2m.qcow2", 2 * 1024 * 1024, true, Some("1.1")),
        ("lazy.qcow2", 65536, true, None),
        ("v2.qcow2", 65536, false, Some("0.10")),
        ("v2small.qcow2", 4096, false, Some("0.10")),
    ] {
        let path = dir.path(name);
        let mut opts = qcow2(3 * GIB + 512);
        opts.cluster_size = Some(cluster);
        opts.lazy_refcounts = lazy;
        opts.compat = compat.map(str::to_string);
        create_volume(&path, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
        let info = assert_agrees(&path);
        assert_eq!(info.cluster_size, Some(cluster), "{name}");
        assert_eq!(info.lazy_refcounts, lazy, "{name}");
        assert_eq!(
            info.compat.as_deref(),
            Some(compat.unwrap_or("1.1")),
            "{name}"
        );
        assert_eq!(info.capacity, 3 * GIB + 512, "{name}");
    }
}

#[test]
fn qcow2_with_backing_file() {
    let dir = Scratch::new("backing");
    let base = dir.path("base.qcow2");
    create_volume(&base, &qcow2(GIB)).expect("base");
    let raw_base = dir.path("base.img");
    create_volume(&raw_base, &CreateOptions::new(VolumeFormat::Raw, 512 * MIB)).expect("raw");

    let overlay = dir.path("overlay.qcow2");
    let mut opts = qcow2(2 * GIB);
    opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
    create_volume(&overlay, &opts).expect("overlay");
    let info = assert_agrees(&overlay);
    assert_eq!(info.backing, Some(base.clone()));
    assert_eq!(info.backing_format, Some(VolumeFormat::Qcow2));

    // No capacity: the backing file's, like qemu-img. Relative names are relative to the image.
    let rel = dir.path("rel.qcow2");
    let mut opts = qcow2(0);
    opts.backing = Some((PathBuf::from("base.img"), VolumeFormat::Raw));
    create_volume(&rel, &opts).expect("relative overlay");
    let info = assert_agrees(&rel);
    assert_eq!(info.capacity, 512 * MIB);
    assert_eq!(info.backing, Some(PathBuf::from("base.img")));
    assert_eq!(info.backing_format, Some(VolumeFormat::Raw));

    // A version 2 header keeps the backing file and its format.
    let v2 = dir.path("v2.qcow2");
    let mut opts = qcow2(GIB);
    opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
    opts.compat = Some("0.10".to_string());
    create_volume(&v2, &opts).expect("v2 overlay");
    let info = assert_agrees(&v2);
    assert_eq!(info.backing, Some(base));
    assert_eq!(info.compat.as_deref(), Some("0.10"));

    let missing = dir.path("missing.qcow2");
    let mut opts = qcow2(GIB);
    opts.backing = Some((dir.path("nope.qcow2"), VolumeFormat::Qcow2));
    let err = create_volume(&missing, &opts).expect_err("missing backing");
    assert!(matches!(err, StorageError::BackingNotFound { .. }), "{err}");
    assert!(err.to_string().contains("nope.qcow2"), "{err}");
    assert!(!missing.exists());
}

#[test]
fn raw_create_sparse_and_preallocated() {
    let dir = Scratch::new("raw");
    let sparse = dir.path("sparse.img");
    create_volume(&sparse, &CreateOptions::new(VolumeFormat::Raw, GIB)).expect("sparse");
    let info = assert_agrees(&sparse);
    assert_eq!(info.format, VolumeFormat::Raw);
    assert_eq!(info.capacity, GIB);
    assert_eq!(blocks(&sparse), 0, "a sparse raw file uses no blocks");

    let full = dir.path("full.img");
    let mut opts = CreateOptions::new(VolumeFormat::Raw, 64 * MIB);
    opts.allocation = 64 * MIB;
    create_volume(&full, &opts).expect("preallocated");
    assert!(blocks(&full) >= 64 * MIB, "preallocated: {}", blocks(&full));
    assert_eq!(assert_agrees(&full).allocation, blocks(&full));

    let part = dir.path("part.img");
    let mut opts = CreateOptions::new(VolumeFormat::Raw, 64 * MIB);
    opts.allocation = 16 * MIB;
    create_volume(&part, &opts).expect("partly preallocated");
    let used = blocks(&part);
    assert!(
        (16 * MIB..32 * MIB).contains(&used),
        "partly allocated: {used}"
    );
}

#[test]
fn create_errors_name_the_path_and_problem() {
    let dir = Scratch::new("errors");
    let path = dir.path("v.qcow2");
    create_volume(&path, &qcow2(MIB)).expect("create");
    let err = create_volume(&path, &qcow2(MIB)).expect_err("exists");
    assert!(matches!(err, StorageError::AlreadyExists { .. }));
    assert!(err.to_string().contains("volume already exists"), "{err}");
    assert!(err.to_string().contains("v.qcow2"), "{err}");

    let cases: Vec<(CreateOptions, &str)> = vec![
        (qcow2(0), "greater than zero"),
        (
            CreateOptions::new(VolumeFormat::Raw, 0),
            "greater than zero",
        ),
        (qcow2(1000), "multiple of 512"),
        (qcow2(u64::MAX - 511), "overflow"),
        (CreateOptions::new(VolumeFormat::Raw, u64::MAX), "overflow"),
        (
            CreateOptions {
                cluster_size: Some(1000),
                ..qcow2(MIB)
            },
            "power of two",
        ),
        (
            CreateOptions {
                cluster_size: Some(256),
                ..qcow2(MIB)
            },
            "power of two between 512 and 2 MiB",
        ),
        (
            CreateOptions {
                cluster_size: Some(4 * 1024 * 1024),
                ..qcow2(MIB)
            },
            "2 MiB",
        ),
        (
            CreateOptions {
                lazy_refcounts: true,
                compat: Some("0.10".into()),
                ..qcow2(MIB)
            },
            "compat 1.1",
        ),
        (
            CreateOptions {
                compat: Some("2.0".into()),
                ..qcow2(MIB)
            },
            "compat level",
        ),
    ];
    let target = dir.path("bad.qcow2");
    for (opts, text) in cases {
        let err = create_volume(&target, &opts).expect_err(text);
        let msg = err.to_string();
        assert!(msg.contains(text), "expected '{text}' in: {msg}");
        assert!(msg.contains("bad.qcow2"), "path missing in: {msg}");
    }
    assert_eq!(dir.names(), ["v.qcow2"], "failed creates leave nothing");

    let err = probe_volume(&dir.path("absent.img")).expect_err("missing");
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("absent.img"), "{err}");
}

#[test]
fn probe_reads_headers_not_extensions() {
    let dir = Scratch::new("probe");
    // A qcow2 named .iso, an ISO named .qcow2, and raw data named .qcow2.
    let q = dir.path("disk.iso");
    create_volume(&q, &qcow2(GIB)).expect("qcow2");
    assert_eq!(probe_volume(&q).expect("probe").format, VolumeFormat::Qcow2);

    let iso = dir.path("cd.qcow2");
    let f = std::fs::File::create(&iso).expect("iso");
    f.set_len(64 * 2048).expect("size");
    f.write_all_at(b"\x01CD001\x01", 0x8000)
        .expect("descriptor");
    drop(f);
    let info = probe_volume(&iso).expect("probe iso");
    assert_eq!(info.format, VolumeFormat::Iso);
    assert_eq!(info.capacity, 64 * 2048);

    let raw = dir.path("data.qcow2");
    std::fs::write(&raw, b"not an image header at all").expect("raw");
    assert_eq!(
        probe_volume(&raw).expect("probe raw").format,
        VolumeFormat::Raw
    );

    let tiny = dir.path("empty");
    std::fs::write(&tiny, b"").expect("empty");
    assert_eq!(probe_volume(&tiny).expect("probe empty").capacity, 0);

    // A truncated qcow2 header is reported, not misread.
    let broken = dir.path("broken.qcow2");
    std::fs::write(&broken, b"QFI\xfb\x00\x00\x00\x03").expect("broken");
    let err = probe_volume(&broken).expect_err("truncated");
    assert!(err.to_string().contains("broken.qcow2"), "{err}");
}
