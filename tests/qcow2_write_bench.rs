//! Host-side write throughput of the qcow2 backend on a fresh image, the
//! pattern of the guest's `dd oflag=direct bs=1M conv=fsync` in the
//! virtio-blk benchmark: 64 MiB in 1 MiB writes to clusters not yet
//! allocated, one at a time, then one flush. Against `qemu-img bench -w`
//! (queue depth 1, 1 MiB, QEMU's default write-back cache, as the sandbox
//! benchmark's QEMU uses) on an identical fresh image in the same run, and
//! against the same writes through our raw backend to a sparse file (what
//! the writes cost without any qcow2 work).
//! Images live on tmpfs (/dev/shm) when there is one, as in the sandbox.
//! Prints MB/s and the ratio; `make bench-qcow2`. Each of our images is
//! checked with `qemu-img check` afterwards.

use hangar_core::vmm::config::{DiskConfig, DiskFormat};
use hangar_core::vmm::devices::virtio::block::backend::{
    DiskBackend, IoBuffers, Qcow2Disk, RawDisk,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

const MIB: usize = 1 << 20;
const TOTAL_MIB: usize = 64;
const ROUNDS: usize = 9;

fn qemu_img(args: &[&str]) -> String {
    let out = Command::new("qemu-img")
        .args(args)
        .output()
        .expect("qemu-img (package qemu-utils) runs");
    assert!(
        out.status.success(),
        "qemu-img {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn fresh_image(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let _ = std::fs::remove_file(&path);
    qemu_img(&[
        "create",
        "-q",
        "-f",
        "qcow2",
        path.to_str().expect("utf-8 path"),
        &format!("{}M", TOTAL_MIB * 2),
    ]);
    path
}

/// 1 MiB of write source in a 2 MiB-aligned, huge-page-advised mapping:
/// guest RAM is backed by huge pages (hangar-vmm aligns it, and the
/// sandbox's kernel has THP always on) and so is qemu-img's buffer; a
/// small-page buffer would make the kernel's copies slower for us alone.
struct HugeBuffer {
    base: *mut libc::c_void,
    len: usize,
}

impl HugeBuffer {
    const HUGE: usize = 2 * MIB;

    fn new() -> HugeBuffer {
        let len = 2 * Self::HUGE;
        // SAFETY: a fresh private anonymous mapping the kernel places;
        // nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert!(base != libc::MAP_FAILED, "mmap of the write buffer");
        let buffer = HugeBuffer { base, len };
        // SAFETY: the aligned 2 MiB lies inside the mapping (it is 4 MiB).
        // madvise is a hint; failing leaves small pages.
        unsafe {
            libc::madvise(buffer.aligned().cast(), Self::HUGE, libc::MADV_HUGEPAGE);
        }
        buffer
    }

    fn aligned(&self) -> *mut u8 {
        let start = self.base as usize;
        ((start + Self::HUGE - 1) & !(Self::HUGE - 1)) as *mut u8
    }

    fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: MIB bytes from the aligned start lie inside the mapping,
        // which lives as long as `self`, borrowed mutably here.
        unsafe { std::slice::from_raw_parts_mut(self.aligned(), MIB) }
    }
}

impl Drop for HugeBuffer {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping made in `new`.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

/// Seconds for our backend to write the image full and flush it.
fn ours(path: &Path, format: DiskFormat) -> f64 {
    let config = DiskConfig {
        target: "vda".into(),
        path: path.to_path_buf(),
        format,
        read_only: false,
        cdrom: false,
        serial: None,
        discard: false,
    };
    let mut disk: Box<dyn DiskBackend> = match format {
        DiskFormat::Qcow2 => Box::new(Qcow2Disk::open(&config).expect("open the fresh image")),
        DiskFormat::Raw => Box::new(RawDisk::open(&config).expect("open the raw file")),
    };
    let mut huge = HugeBuffer::new();
    let buf = huge.bytes();
    for (i, b) in buf.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    let t0 = Instant::now();
    for i in 0..TOTAL_MIB {
        buf[0] = i as u8;
        let bufs = IoBuffers::from_slice(buf);
        disk.write((i * MIB) as u64, &bufs).expect("write");
    }
    disk.flush().expect("flush");
    let seconds = t0.elapsed().as_secs_f64();
    drop(disk);
    seconds
}

/// Seconds for `qemu-img bench` to do the same, as it reports them (the
/// requests and the flush, without opening and closing the image).
fn qemu(path: &Path) -> f64 {
    let out = qemu_img(&[
        "bench",
        "-w",
        "-f",
        "qcow2",
        "-t",
        "writeback",
        "-d",
        "1",
        "-s",
        "1M",
        "-c",
        &TOTAL_MIB.to_string(),
        "--flush-interval",
        &TOTAL_MIB.to_string(),
        path.to_str().expect("utf-8 path"),
    ]);
    out.lines()
        .find_map(|l| l.strip_prefix("Run completed in "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no time in qemu-img bench's output:\n{out}"))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    // tmpfs when there is one, as in the sandbox: the figures are then the
    // CPU and page-cache cost of each path, not the host disk's speed.
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let dir = base.join(format!("hangar-qcow2-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch folder");
    let (mut ours_s, mut raw_s, mut qemu_s) = (Vec::new(), Vec::new(), Vec::new());
    // The three take turns going first, so none always finds the page
    // cache as another left it.
    for round in 0..ROUNDS {
        for turn in 0..3 {
            match (round + turn) % 3 {
                0 => {
                    let a = fresh_image(&dir, "ours.qcow2");
                    ours_s.push(ours(&a, DiskFormat::Qcow2));
                    qemu_img(&["check", "-q", a.to_str().expect("utf-8 path")]);
                    let _ = std::fs::remove_file(&a);
                }
                1 => {
                    let r = dir.join("floor.raw");
                    std::fs::File::create(&r)
                        .and_then(|f| f.set_len((TOTAL_MIB * MIB) as u64))
                        .expect("sparse raw file");
                    raw_s.push(ours(&r, DiskFormat::Raw));
                    let _ = std::fs::remove_file(&r);
                }
                _ => {
                    let b = fresh_image(&dir, "qemu.qcow2");
                    qemu_s.push(qemu(&b));
                    let _ = std::fs::remove_file(&b);
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    let mb = (TOTAL_MIB * MIB) as f64 / 1e6;
    let (o, r, q) = (mb / median(ours_s), mb / median(raw_s), mb / median(qemu_s));
    println!(
        "qcow2 fresh-image write, {TOTAL_MIB} x 1 MiB then flush, median of {ROUNDS}, MB/s:\n\
         hangar qcow2 {o:.0}, qemu-img bench qcow2 {q:.0}: ratio {:.2}\n\
         the same writes to a sparse raw file (the floor, no qcow2 at all) {r:.0}: \
         hangar qcow2 / raw {:.2}",
        o / q,
        o / r
    );
}
