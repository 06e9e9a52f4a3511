//! The storage engine against real files: every qcow2 it writes is checked by
//! `qemu-img check`, and `qemu-img info` must agree with `probe_volume`.

use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

use hangar_core::storage::{
    clone_volume, create_volume, delete_volume, dir_pool, probe_volume, resize_volume, wipe_volume,
    CreateOptions, StorageError, VolumeFormat, VolumeInfo,
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

/// Runs `qemu-io` commands (e.g. "write -P 0xab 0 1M") on an image.
fn qemu_io(path: &Path, format: &str, commands: &[&str]) {
    let mut cmd = tool("qemu-io");
    cmd.args(["-f", format]);
    for c in commands {
        cmd.args(["-c", c]);
    }
    let out = run(cmd.arg(path));
    assert!(
        !out.contains("Pattern verification failed") && !out.contains("failed"),
        "qemu-io {commands:?} on {}: {out}",
        path.display()
    );
}

/// Same virtual size, and `qemu-img compare` finds the same guest data.
fn assert_same_data(a: &Path, b: &Path) {
    let size = |p: &Path| qemu_info(p)["virtual-size"].as_u64();
    assert_eq!(
        size(a),
        size(b),
        "sizes of {} and {}",
        a.display(),
        b.display()
    );
    run(tool("qemu-img").args(["compare", "-U"]).arg(a).arg(b));
}

fn raw_with_pattern(path: &Path, size: u64) {
    create_volume(path, &CreateOptions::new(VolumeFormat::Raw, size)).expect("raw");
    let f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open raw");
    // Data at the start, in the middle, at the very end, and a range of explicit zeroes.
    f.write_all_at(&vec![0xa5; 3 * MIB as usize], 0)
        .expect("write");
    f.write_all_at(&vec![0x5a; 100_000], size / 2 + 12_345)
        .expect("write");
    f.write_all_at(&vec![0x33; 4096], size - 4096)
        .expect("write");
    f.write_all_at(&vec![0; 8 * MIB as usize], 40 * MIB)
        .expect("write zeroes");
    f.sync_all().expect("sync");
}

#[test]
fn clone_raw_is_sparse_and_exact() {
    let dir = Scratch::new("clone-raw");
    let src = dir.path("src.img");
    raw_with_pattern(&src, 256 * MIB);
    let dst = dir.path("dst.img");
    clone_volume(&src, &dst, None).expect("clone");
    assert_same_data(&src, &dst);
    let info = assert_agrees(&dst);
    assert_eq!(info.format, VolumeFormat::Raw);
    assert_eq!(info.capacity, 256 * MIB);
    // The 8 MiB of zeroes written in the source are not written in the clone.
    assert!(
        blocks(&dst) + 8 * MIB <= blocks(&src),
        "clone {} vs source {}",
        blocks(&dst),
        blocks(&src)
    );
    assert!(blocks(&dst) < 4 * MIB, "clone uses {} bytes", blocks(&dst));

    // An existing destination is never overwritten.
    let before = std::fs::read(&dst).expect("read");
    let other = dir.path("other.img");
    create_volume(&other, &CreateOptions::new(VolumeFormat::Raw, MIB)).expect("other");
    let err = clone_volume(&other, &dst, None).expect_err("exists");
    assert!(err.to_string().contains("volume already exists"), "{err}");
    assert!(
        std::fs::read(&dst).expect("read") == before,
        "destination untouched"
    );
    assert_eq!(dir.names(), ["dst.img", "other.img", "src.img"]);
}

#[test]
fn clone_qcow2_copies_only_allocated_clusters() {
    let dir = Scratch::new("clone-qcow2");
    for (name, cluster, lazy, compat) in [
        ("default.qcow2", 65536, false, None),
        ("small.qcow2", 4096, true, None),
        ("v2.qcow2", 65536, false, Some("0.10")),
    ] {
        let src = dir.path(name);
        let mut opts = qcow2(512 * MIB);
        opts.cluster_size = Some(cluster);
        opts.lazy_refcounts = lazy;
        opts.compat = compat.map(str::to_string);
        create_volume(&src, &opts).expect("create");
        qemu_io(
            &src,
            "qcow2",
            &[
                "write -P 0xab 0 2M",
                "write -P 0xcd 300M 65537",
                "write -P 0 100M 16M",
                "write -P 0xef 511M 1M",
                "write -c -P 0x12 64M 64k",
            ],
        );
        let dst = dir.path(&format!("clone-{name}"));
        clone_volume(&src, &dst, None).expect("clone");
        let info = assert_agrees(&dst);
        assert_eq!(info.cluster_size, Some(cluster), "{name}");
        assert_eq!(info.lazy_refcounts, lazy, "{name}");
        assert_eq!(
            info.compat.as_deref(),
            Some(compat.unwrap_or("1.1")),
            "{name}"
        );
        assert_same_data(&src, &dst);
        qemu_io(
            &dst,
            "qcow2",
            &[
                "read -P 0xab 0 2M",
                "read -P 0xef 511M 1M",
                "read -P 0x12 64M 64k",
            ],
        );
        // The 16 MiB written as zero data in the source are not copied.
        assert!(
            blocks(&dst) + 15 * MIB < blocks(&src),
            "{name}: clone {} vs source {}",
            blocks(&dst),
            blocks(&src)
        );
    }
}

#[test]
fn clone_flattens_a_backing_chain() {
    let dir = Scratch::new("clone-chain");
    let base = dir.path("base.img");
    raw_with_pattern(&base, 64 * MIB);
    let overlay = dir.path("overlay.qcow2");
    let mut opts = qcow2(128 * MIB);
    opts.backing = Some((PathBuf::from("base.img"), VolumeFormat::Raw));
    create_volume(&overlay, &opts).expect("overlay");
    qemu_io(
        &overlay,
        "qcow2",
        &["write -P 0x77 1M 1M", "write -P 0x66 100M 1M"],
    );

    let flat = dir.path("flat.qcow2");
    clone_volume(&overlay, &flat, None).expect("clone");
    let info = assert_agrees(&flat);
    assert_eq!(info.backing, None, "the clone stands alone");
    assert_same_data(&overlay, &flat);

    let flat_raw = dir.path("flat.img");
    clone_volume(&overlay, &flat_raw, Some(VolumeFormat::Raw)).expect("to raw");
    assert_same_data(&overlay, &flat_raw);
}

#[test]
fn conversion_round_trips() {
    let dir = Scratch::new("convert");
    let raw = dir.path("a.img");
    raw_with_pattern(&raw, 200 * MIB + 4096);
    let q = dir.path("b.qcow2");
    clone_volume(&raw, &q, Some(VolumeFormat::Qcow2)).expect("raw to qcow2");
    let info = assert_agrees(&q);
    assert_eq!(info.format, VolumeFormat::Qcow2);
    assert_eq!(info.capacity, 200 * MIB + 4096);
    assert_same_data(&raw, &q);
    assert!(
        blocks(&q) < 6 * MIB,
        "qcow2 holds only data: {}",
        blocks(&q)
    );

    let back = dir.path("c.img");
    clone_volume(&q, &back, Some(VolumeFormat::Raw)).expect("qcow2 to raw");
    assert_agrees(&back);
    assert_same_data(&raw, &back);
    assert!(
        blocks(&back) < 6 * MIB,
        "raw clone is sparse: {}",
        blocks(&back)
    );

    // An ISO stays byte for byte when converted.
    let iso = dir.path("cd.iso");
    let f = std::fs::File::create(&iso).expect("iso");
    f.set_len(2 * MIB).expect("size");
    f.write_all_at(b"\x01CD001\x01", 0x8000)
        .expect("descriptor");
    drop(f);
    let iso_copy = dir.path("cd-copy.iso");
    clone_volume(&iso, &iso_copy, None).expect("iso clone");
    assert_eq!(
        probe_volume(&iso_copy).expect("probe").format,
        VolumeFormat::Iso
    );
    assert_same_data(&iso, &iso_copy);
}

#[test]
fn failed_clone_leaves_nothing() {
    let dir = Scratch::new("clone-fail");
    let err = clone_volume(&dir.path("none.img"), &dir.path("x.img"), None).expect_err("missing");
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("none.img"), "{err}");

    // A qcow2 whose backing file has vanished cannot be read.
    let base = dir.path("base.qcow2");
    create_volume(&base, &qcow2(MIB)).expect("base");
    let overlay = dir.path("overlay.qcow2");
    let mut opts = qcow2(MIB);
    opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
    create_volume(&overlay, &opts).expect("overlay");
    std::fs::remove_file(&base).expect("remove base");
    let err = clone_volume(&overlay, &dir.path("x.qcow2"), None).expect_err("no backing");
    assert!(matches!(err, StorageError::BackingNotFound { .. }), "{err}");
    assert!(err.to_string().contains("overlay.qcow2"), "{err}");
    assert!(err.to_string().contains("base.qcow2"), "{err}");
    assert_eq!(dir.names(), ["overlay.qcow2"], "nothing left behind");
    let err = resize_volume(&overlay, 2 * MIB, false).expect_err("no backing");
    assert!(matches!(err, StorageError::BackingNotFound { .. }), "{err}");

    let good = dir.path("good.qcow2");
    create_volume(&good, &qcow2(MIB)).expect("good");
    let err = clone_volume(&good, &dir.path("no/such/dir.img"), None).expect_err("no dir");
    assert!(err.to_string().contains("no/such"), "{err}");
    assert_eq!(dir.names(), ["good.qcow2", "overlay.qcow2"]);
}

#[test]
fn resize_raw() {
    let dir = Scratch::new("resize-raw");
    let path = dir.path("r.img");
    raw_with_pattern(&path, 64 * MIB);
    resize_volume(&path, 128 * MIB, false).expect("grow");
    assert_eq!(probe_volume(&path).expect("probe").capacity, 128 * MIB);
    let err = resize_volume(&path, 32 * MIB, false).expect_err("shrink refused");
    assert!(
        matches!(err, StorageError::ShrinkNotAllowed { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("r.img"), "{err}");
    assert_eq!(probe_volume(&path).expect("probe").capacity, 128 * MIB);
    resize_volume(&path, 32 * MIB, true).expect("shrink");
    assert_eq!(assert_agrees(&path).capacity, 32 * MIB);
    let err = resize_volume(&path, 0, true).expect_err("zero");
    assert!(err.to_string().contains("greater than zero"), "{err}");
    let err = resize_volume(&dir.path("gone.img"), MIB, false).expect_err("missing");
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
}

#[test]
fn resize_qcow2_grows_l1_and_keeps_data() {
    let dir = Scratch::new("resize-qcow2");
    // 512-byte clusters: one L1 entry maps 32 KiB, so growing 1 MiB to 1 GiB
    // takes the L1 table from 256 bytes to 256 KiB, which must move.
    let path = dir.path("small.qcow2");
    let mut opts = qcow2(MIB);
    opts.cluster_size = Some(512);
    opts.lazy_refcounts = true;
    create_volume(&path, &opts).expect("create");
    qemu_io(&path, "qcow2", &["write -P 0x42 0 1M"]);
    resize_volume(&path, GIB, false).expect("grow");
    let info = assert_agrees(&path);
    assert_eq!(info.capacity, GIB);
    assert!(info.lazy_refcounts, "header options survive a resize");
    qemu_io(
        &path,
        "qcow2",
        &[
            "read -P 0x42 0 1M",
            "read -P 0 1M 1M",
            "write -P 0x43 1000M 1M",
        ],
    );
    qemu_check(&path);

    let err = resize_volume(&path, MIB, false).expect_err("shrink refused");
    assert!(
        matches!(err, StorageError::ShrinkNotAllowed { .. }),
        "{err}"
    );
    let err = resize_volume(&path, GIB + 100, false).expect_err("unaligned");
    assert!(err.to_string().contains("multiple of 512"), "{err}");

    let v2 = dir.path("v2.qcow2");
    let mut opts = qcow2(10 * MIB);
    opts.compat = Some("0.10".into());
    create_volume(&v2, &opts).expect("v2");
    qemu_io(&v2, "qcow2", &["write -P 0x11 0 10M"]);
    resize_volume(&v2, 20 * GIB, false).expect("grow v2");
    let info = assert_agrees(&v2);
    assert_eq!(
        (info.capacity, info.compat.as_deref()),
        (20 * GIB, Some("0.10"))
    );
    qemu_io(&v2, "qcow2", &["read -P 0x11 0 10M"]);
}

#[test]
fn resize_qcow2_shrink_when_allowed() {
    let dir = Scratch::new("shrink-qcow2");
    let path = dir.path("s.qcow2");
    create_volume(&path, &qcow2(256 * MIB)).expect("create");
    qemu_io(
        &path,
        "qcow2",
        &["write -P 0x21 0 8M", "write -P 0x22 200M 8M"],
    );
    resize_volume(&path, 64 * MIB, true).expect("shrink");
    let info = assert_agrees(&path);
    assert_eq!(info.capacity, 64 * MIB);
    qemu_io(&path, "qcow2", &["read -P 0x21 0 8M"]);
    // Growing again shows zeroes, not the old data.
    resize_volume(&path, 256 * MIB, false).expect("grow back");
    assert_agrees(&path);
    qemu_io(&path, "qcow2", &["read -P 0 200M 8M"]);
}

#[test]
fn resize_overlay_hides_backing_data_past_old_end() {
    let dir = Scratch::new("resize-overlay");
    let base = dir.path("base.qcow2");
    create_volume(&base, &qcow2(4 * MIB)).expect("base");
    qemu_io(&base, "qcow2", &["write -P 0x99 0 4M"]);
    let overlay = dir.path("overlay.qcow2");
    let mut opts = qcow2(2 * MIB);
    opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
    create_volume(&overlay, &opts).expect("overlay");
    resize_volume(&overlay, 4 * MIB, false).expect("grow");
    assert_agrees(&overlay);
    qemu_io(&overlay, "qcow2", &["read -P 0x99 0 2M", "read -P 0 2M 2M"]);
}

#[test]
fn wipe_zeroes_data_and_keeps_options() {
    let dir = Scratch::new("wipe");
    let raw = dir.path("r.img");
    let mut opts = CreateOptions::new(VolumeFormat::Raw, 32 * MIB);
    opts.allocation = 32 * MIB;
    create_volume(&raw, &opts).expect("raw");
    qemu_io(&raw, "raw", &["write -P 0x55 0 32M"]);
    wipe_volume(&raw).expect("wipe raw");
    qemu_io(&raw, "raw", &["read -P 0 0 32M"]);
    assert!(
        blocks(&raw) >= 32 * MIB,
        "preallocation kept: {}",
        blocks(&raw)
    );
    assert_eq!(assert_agrees(&raw).capacity, 32 * MIB);

    let base = dir.path("base.qcow2");
    create_volume(&base, &qcow2(64 * MIB)).expect("base");
    let q = dir.path("q.qcow2");
    let mut opts = qcow2(64 * MIB);
    opts.cluster_size = Some(4096);
    opts.lazy_refcounts = true;
    opts.backing = Some((base.clone(), VolumeFormat::Qcow2));
    create_volume(&q, &opts).expect("qcow2");
    qemu_io(&q, "qcow2", &["write -P 0x66 0 8M"]);
    std::fs::set_permissions(&q, std::os::unix::fs::PermissionsExt::from_mode(0o640))
        .expect("chmod");
    let before = probe_volume(&q).expect("probe");
    wipe_volume(&q).expect("wipe qcow2");
    let after = assert_agrees(&q);
    assert_eq!(
        (
            after.capacity,
            after.cluster_size,
            after.lazy_refcounts,
            &after.backing
        ),
        (
            before.capacity,
            before.cluster_size,
            before.lazy_refcounts,
            &before.backing
        )
    );
    assert!(after.allocation < before.allocation, "data gone");
    qemu_io(&q, "qcow2", &["read -P 0 0 8M"]);
    let mode = std::fs::metadata(&q).expect("stat").mode() & 0o777;
    assert_eq!(mode, 0o640, "permissions kept");
    assert_eq!(dir.names(), ["base.qcow2", "q.qcow2", "r.img"]);
}

#[test]
fn delete_volumes() {
    let dir = Scratch::new("delete");
    let path = dir.path("d.img");
    create_volume(&path, &CreateOptions::new(VolumeFormat::Raw, MIB)).expect("create");
    delete_volume(&path).expect("delete");
    assert!(!path.exists());
    let err = delete_volume(&path).expect_err("again");
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("d.img"), "{err}");
    std::fs::create_dir(dir.path("sub")).expect("mkdir");
    let err = delete_volume(&dir.path("sub")).expect_err("directory");
    assert!(matches!(err, StorageError::NotAFile { .. }), "{err}");
}

#[test]
fn dir_pool_lifecycle() {
    let dir = Scratch::new("pool");
    let pool = dir.path("images");
    dir_pool::build(&pool, 0o711).expect("build");
    assert_eq!(
        std::fs::metadata(&pool).expect("stat").mode() & 0o777,
        0o711
    );
    dir_pool::build(&pool, 0o755).expect("build again keeps the directory");
    assert_eq!(
        std::fs::metadata(&pool).expect("stat").mode() & 0o777,
        0o755
    );

    // Files users drop in: formats come from headers, never names.
    create_volume(&pool.join("vm.img"), &qcow2(GIB)).expect("qcow2");
    create_volume(
        &pool.join("data.qcow2"),
        &CreateOptions::new(VolumeFormat::Raw, MIB),
    )
    .expect("raw");
    let iso = pool.join("install.bin");
    let f = std::fs::File::create(&iso).expect("iso");
    f.set_len(MIB).expect("size");
    f.write_all_at(b"\x01CD001\x01", 0x8000)
        .expect("descriptor");
    drop(f);
    std::fs::write(pool.join(".hidden"), b"x").expect("hidden");
    std::fs::create_dir(pool.join("subdir")).expect("subdir");
    std::fs::write(pool.join("broken.qcow2"), b"QFI\xfb\x00\x00\x00\x07rest").expect("broken");

    let report = dir_pool::scan_report(&pool).expect("scan");
    let found: Vec<(&str, VolumeFormat, u64)> = report
        .volumes
        .iter()
        .map(|(name, _, info)| (name.as_str(), info.format, info.capacity))
        .collect();
    assert_eq!(
        found,
        [
            ("data.qcow2", VolumeFormat::Raw, MIB),
            ("install.bin", VolumeFormat::Iso, MIB),
            ("vm.img", VolumeFormat::Qcow2, GIB),
        ]
    );
    assert_eq!(report.skipped.len(), 1);
    assert!(report.skipped[0].1.to_string().contains("broken.qcow2"));
    assert_eq!(dir_pool::scan(&pool).expect("scan").len(), 3);

    let stats = dir_pool::stats(&pool).expect("stats");
    assert!(stats.capacity > 0 && stats.allocation <= stats.capacity);
    assert!(stats.available <= stats.capacity - stats.allocation);

    let err = dir_pool::delete(&pool).expect_err("not empty");
    assert!(matches!(err, StorageError::PoolNotEmpty { .. }), "{err}");
    assert!(err.to_string().contains("images"), "{err}");
    std::fs::remove_dir_all(&pool).expect("empty it");
    std::fs::create_dir(&pool).expect("recreate");
    dir_pool::delete(&pool).expect("delete");
    assert!(!pool.exists());
    let err = dir_pool::scan(&pool).expect_err("gone");
    assert!(matches!(err, StorageError::NotFound { .. }), "{err}");

    let file = dir.path("plain");
    std::fs::write(&file, b"x").expect("file");
    assert!(dir_pool::build(&file, 0o755).is_err());
}

#[test]
fn version2_overlay_resize_and_clone() {
    let dir = Scratch::new("v2-overlay");
    let base = dir.path("base.img");
    raw_with_pattern(&base, 8 * MIB);
    let overlay = dir.path("overlay.qcow2");
    let mut opts = qcow2(4 * MIB);
    opts.compat = Some("0.10".into());
    opts.backing = Some((PathBuf::from("base.img"), VolumeFormat::Raw));
    create_volume(&overlay, &opts).expect("overlay");
    qemu_io(&overlay, "qcow2", &["write -P 0x31 1M 64k"]);
    resize_volume(&overlay, 8 * MIB, false).expect("grow v2 overlay");
    let info = assert_agrees(&overlay);
    assert_eq!(
        (info.capacity, info.compat.as_deref()),
        (8 * MIB, Some("0.10"))
    );
    qemu_io(
        &overlay,
        "qcow2",
        &[
            "read -P 0xa5 0 1M",
            "read -P 0x31 1M 64k",
            "read -P 0 4M 4M",
        ],
    );
    let flat = dir.path("flat.qcow2");
    clone_volume(&overlay, &flat, None).expect("clone");
    let info = assert_agrees(&flat);
    assert_eq!((info.backing, info.compat.as_deref()), (None, Some("0.10")));
    assert_same_data(&overlay, &flat);
}

#[test]
fn clone_with_tiny_clusters_grows_refcount_structures() {
    // 512-byte clusters: one refcount block covers 128 KiB and the first
    // refcount table only 8 MiB, so 12 MiB of data makes both grow.
    let dir = Scratch::new("tiny-clusters");
    let raw = dir.path("data.img");
    create_volume(&raw, &CreateOptions::new(VolumeFormat::Raw, 64 * MIB)).expect("raw");
    qemu_io(
        &raw,
        "raw",
        &["write -P 0x17 0 12M", "write -P 0x18 60M 1M"],
    );
    let src = dir.path("src.qcow2");
    let mut opts = qcow2(64 * MIB);
    opts.cluster_size = Some(512);
    opts.nocow = true; // ignored where the file system has no such attribute
    create_volume(&src, &opts).expect("create");
    run(tool("qemu-img")
        .args(["convert", "-n", "-f", "raw", "-O", "qcow2"])
        .arg(&raw)
        .arg(&src));
    let dst = dir.path("dst.qcow2");
    clone_volume(&src, &dst, None).expect("clone");
    let info = assert_agrees(&dst);
    assert_eq!(info.cluster_size, Some(512));
    assert_same_data(&raw, &dst);
    let from_raw = dir.path("from-raw.qcow2");
    clone_volume(&raw, &from_raw, Some(VolumeFormat::Qcow2)).expect("convert");
    assert_agrees(&from_raw);
    assert_same_data(&raw, &from_raw);
}

#[test]
fn looping_backing_chain_is_refused() {
    let dir = Scratch::new("loop");
    let a = dir.path("a.qcow2");
    let b = dir.path("b.qcow2");
    create_volume(&b, &qcow2(MIB)).expect("b");
    let mut opts = qcow2(MIB);
    opts.backing = Some((PathBuf::from("b.qcow2"), VolumeFormat::Qcow2));
    create_volume(&a, &opts).expect("a on b");
    std::fs::remove_file(&b).expect("remove b");
    let mut opts = qcow2(MIB);
    opts.backing = Some((PathBuf::from("a.qcow2"), VolumeFormat::Qcow2));
    create_volume(&b, &opts).expect("b on a");
    for err in [
        clone_volume(&a, &dir.path("c.qcow2"), None).expect_err("clone"),
        resize_volume(&a, 2 * MIB, false).expect_err("resize"),
    ] {
        assert!(err.to_string().contains("loops back"), "{err}");
    }
    assert_eq!(dir.names(), ["a.qcow2", "b.qcow2"]);
}

#[test]
fn damaged_headers_are_refused_not_followed() {
    let dir = Scratch::new("damaged");
    let path = dir.path("d.qcow2");
    create_volume(&path, &qcow2(64 * MIB)).expect("create");
    let good = std::fs::read(&path).expect("read");
    // Refcount table offset far past the end, L1 offset unaligned, L1 too small.
    for (at, bytes, reason) in [
        (48usize, 0xa001_0000u64.to_be_bytes(), "refcount table"),
        (40, 0x1234u64.to_be_bytes(), "L1 table"),
    ] {
        let mut data = good.clone();
        data[at..at + 8].copy_from_slice(&bytes);
        std::fs::write(&path, &data).expect("write");
        let err = probe_volume(&path).expect_err(reason);
        assert!(err.to_string().contains(reason), "{err}");
        let err = resize_volume(&path, 128 * MIB, false).expect_err(reason);
        assert!(err.to_string().contains("d.qcow2"), "{err}");
        assert_eq!(std::fs::read(&path).expect("read"), data, "left untouched");
    }
    let mut data = good.clone();
    data[36..40].copy_from_slice(&0u32.to_be_bytes());
    data[24..32].copy_from_slice(&(64 * GIB).to_be_bytes());
    std::fs::write(&path, &data).expect("write");
    let err = probe_volume(&path).expect_err("small L1");
    assert!(err.to_string().contains("too small"), "{err}");
}
