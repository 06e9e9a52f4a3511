//! Storage engine benchmark against qemu-img on this machine.
//!
//! Prints times and ratios (ours / qemu-img; target ≤ 1.0) for creating a 10 GiB
//! qcow2 image and cloning a 1 GiB volume holding ~30% data, qcow2→qcow2 and
//! raw→raw. Our clones fsync the result (they are atomic), so qemu-img convert
//! is timed together with an fsync of its output as well as alone. The
//! machine may be busy: runs alternate between us and qemu-img and the best
//! of each is kept.
//!
//! Run with `make bench-storage` (a release build).

use std::fs::OpenOptions;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use hangar_core::storage::{clone_volume, create_volume, CreateOptions, VolumeFormat};

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;
/// Repetitions of each clone measurement; the best is reported.
const RUNS: usize = 4;
/// Repetitions of the (very short) create measurement.
const CREATE_RUNS: usize = 15;

fn main() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("hangar-storage-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let result = run_all(&dir);
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn run_all(dir: &Path) -> Result<()> {
    qemu_img(&["--version"]).context("qemu-img is needed: run `make test`, which installs it")?;
    println!(
        "storage benchmark: best of {RUNS} interleaved runs (create: {CREATE_RUNS}); \
         ratio = ours / qemu-img, target <= 1.0"
    );

    let mut create = Pair::default();
    for i in 0..CREATE_RUNS {
        let ours = dir.join(format!("ours-{i}.qcow2"));
        let start = Instant::now();
        create_volume(&ours, &CreateOptions::new(VolumeFormat::Qcow2, 10 * GIB))?;
        create.ours.push(start.elapsed());
        let theirs = dir.join(format!("qemu-{i}.qcow2"));
        let start = Instant::now();
        qemu_img(&["create", "-q", "-f", "qcow2", path_str(&theirs)?, "10G"])?;
        create.theirs.push(start.elapsed());
        std::fs::remove_file(&ours)?;
        std::fs::remove_file(&theirs)?;
    }
    create.report("create qcow2 10G", "qemu-img create");

    let raw_src = dir.join("source.img");
    make_source(&raw_src)?;
    let qcow2_src = dir.join("source.qcow2");
    qemu_img(&[
        "convert",
        "-f",
        "raw",
        "-O",
        "qcow2",
        path_str(&raw_src)?,
        path_str(&qcow2_src)?,
    ])?;

    for (label, src, format) in [
        ("clone 1G qcow2->qcow2 (30% data)", &qcow2_src, "qcow2"),
        ("clone 1G raw->raw (30% data)", &raw_src, "raw"),
    ] {
        let mut synced = Pair::default();
        let mut unsynced = Vec::new();
        for i in 0..RUNS {
            let ours = dir.join(format!("ours-clone-{i}"));
            let start = Instant::now();
            clone_volume(src, &ours, None)?;
            synced.ours.push(start.elapsed());
            std::fs::remove_file(&ours)?;

            let theirs = dir.join(format!("qemu-clone-{i}"));
            let start = Instant::now();
            qemu_img(&[
                "convert",
                "-f",
                format,
                "-O",
                format,
                path_str(src)?,
                path_str(&theirs)?,
            ])?;
            unsynced.push(start.elapsed());
            // Our clones are durable when they return; make qemu-img's output durable too.
            OpenOptions::new().write(true).open(&theirs)?.sync_all()?;
            synced.theirs.push(start.elapsed());
            std::fs::remove_file(&theirs)?;
        }
        synced.report(label, "qemu-img convert+fsync");
        let plain = Pair {
            ours: synced.ours.clone(),
            theirs: unsynced,
        };
        plain.report("", "  (qemu-img convert, no fsync)");
    }
    Ok(())
}

/// Times of the same operation done by us and by qemu-img.
#[derive(Default)]
struct Pair {
    ours: Vec<Duration>,
    theirs: Vec<Duration>,
}

impl Pair {
    fn report(&self, label: &str, peer: &str) {
        let best = |times: &[Duration]| times.iter().min().copied().unwrap_or_default();
        let (ours, theirs) = (best(&self.ours), best(&self.theirs));
        let ratio = ours.as_secs_f64() / theirs.as_secs_f64();
        println!(
            "{label:<34} ours {:>8.1} ms | {peer} {:>8.1} ms | ratio {ratio:.2}",
            ms(ours),
            ms(theirs)
        );
    }
}

/// A sparse 1 GiB raw image with non-zero data in 30% of its MiBs.
fn make_source(path: &Path) -> Result<()> {
    create_volume(path, &CreateOptions::new(VolumeFormat::Raw, GIB))?;
    let file = OpenOptions::new().write(true).open(path)?;
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; MIB as usize];
    for mib in 0..GIB / MIB {
        if mib * 7 % 10 >= 3 {
            continue;
        }
        for word in buf.chunks_exact_mut(8) {
            // xorshift64: cheap bytes that are neither zero nor trivially compressible.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_ne_bytes());
        }
        file.write_all_at(&buf, mib * MIB)?;
    }
    file.sync_all()?;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn path_str(path: &Path) -> Result<&str> {
    path.to_str()
        .with_context(|| format!("non-UTF-8 path {}", path.display()))
}

fn qemu_img(args: &[&str]) -> Result<()> {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .with_context(|| format!("running qemu-img {}", args.join(" ")))?;
    if !out.status.success() {
        bail!(
            "qemu-img {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}
