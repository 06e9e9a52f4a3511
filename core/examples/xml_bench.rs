//! Benchmark: parse and format libvirt's whole XML corpus (networks, pools,
//! volumes, domains) with Hangar's model, one core, release build.
//!
//! Run with `make bench-xml` (or `cargo run --release -p hangar-core
//! --example xml_bench`). Prints, per family, the best of several passes and
//! the time per file; the target is all ~1,070 domain files in under 1 s.
//! As a peer measured in the same run, Python's C ElementTree (expat) parses
//! and serialises the same files when `/usr/bin/python3` exists; its figures
//! and the ratio are printed beside ours. Nothing is asserted: it prints.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hangar_core::xml::{Domain, Network, StoragePool, StorageVolume};

/// Passes per family; the best one is reported (the machine is shared).
const PASSES: usize = 5;

fn shared() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let direct = manifest.join("../../shared");
    if direct.join("conformance").is_dir() {
        return direct;
    }
    manifest
        .ancestors()
        .map(|a| a.join("shared"))
        .find(|s| s.join("conformance").is_dir())
        .unwrap_or(direct)
}

fn xml_files(dirs: &[PathBuf]) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in dirs {
        if let Ok(rd) = std::fs::read_dir(dir) {
            files.extend(
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.extension().is_some_and(|x| x == "xml")),
            );
        }
    }
    files.sort();
    files
}

/// One family: its files, and a function that parses, formats and re-parses
/// a document, returning whether the first parse succeeded.
struct Family {
    name: &'static str,
    files: Vec<PathBuf>,
    run: fn(&str) -> bool,
}

fn run_domain(xml: &str) -> bool {
    match Domain::parse(xml) {
        Ok(d) => {
            std::hint::black_box(d.to_xml());
            true
        }
        Err(_) => false,
    }
}

fn run_network(xml: &str) -> bool {
    match Network::parse(xml) {
        Ok(d) => {
            std::hint::black_box(d.to_xml());
            true
        }
        Err(_) => false,
    }
}

fn run_pool(xml: &str) -> bool {
    match StoragePool::parse(xml) {
        Ok(d) => {
            std::hint::black_box(d.to_xml());
            true
        }
        Err(_) => false,
    }
}

fn run_volume(xml: &str) -> bool {
    match StorageVolume::parse(xml) {
        Ok(d) => {
            std::hint::black_box(d.to_xml());
            true
        }
        Err(_) => false,
    }
}

/// Python's ElementTree over the same files: best pass in seconds, or `None`.
fn python_peer(files: &[PathBuf]) -> Option<f64> {
    let python = Path::new("/usr/bin/python3");
    if !python.exists() || files.is_empty() {
        return None;
    }
    let script = format!(
        r#"
import sys, time, xml.etree.ElementTree as ET
docs = [open(p, encoding='utf-8').read() for p in sys.argv[1:]]
best = None
for _ in range({PASSES}):
    t = time.perf_counter()
    for d in docs:
        try:
            ET.tostring(ET.fromstring(d))
        except ET.ParseError:
            pass
    e = time.perf_counter() - t
    best = e if best is None or e < best else best
print(best)
"#
    );
    let out = Command::new(python)
        .arg("-c")
        .arg(script)
        .args(files)
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

fn main() {
    let conf = shared().join("conformance/libvirt-9.0.0");
    let families = [
        Family {
            name: "network",
            files: xml_files(&[
                conf.join("networkxml2xmlin"),
                conf.join("networkxml2xmlout"),
            ]),
            run: run_network,
        },
        Family {
            name: "pool",
            files: xml_files(&[
                conf.join("storagepoolxml2xmlin"),
                conf.join("storagepoolxml2xmlout"),
            ]),
            run: run_pool,
        },
        Family {
            name: "volume",
            files: xml_files(&[
                conf.join("storagevolxml2xmlin"),
                conf.join("storagevolxml2xmlout"),
            ]),
            run: run_volume,
        },
        Family {
            name: "domain",
            files: xml_files(&[conf.join("domain-xml")]),
            run: run_domain,
        },
    ];
    if families.iter().all(|f| f.files.is_empty()) {
        eprintln!("xml_bench: no corpus under {}", conf.display());
        std::process::exit(1);
    }
    println!("xml_bench: parse + format, best of {PASSES} passes, one thread");
    let mut total = Duration::ZERO;
    let mut total_files = 0usize;
    let mut all_files = Vec::new();
    for fam in &families {
        let docs: Vec<String> = fam
            .files
            .iter()
            .filter_map(|p| std::fs::read_to_string(p).ok())
            .collect();
        let mut best = Duration::MAX;
        let mut ok = 0usize;
        for _ in 0..PASSES {
            let start = Instant::now();
            ok = docs.iter().filter(|d| (fam.run)(d)).count();
            best = best.min(start.elapsed());
        }
        let per_file = best.as_secs_f64() * 1e6 / docs.len().max(1) as f64;
        let peer = python_peer(&fam.files);
        let peer_text = match peer {
            Some(p) if best.as_secs_f64() > 0.0 => format!(
                "; python ElementTree {:.1} ms (hangar/python = {:.2})",
                p * 1e3,
                best.as_secs_f64() / p
            ),
            _ => String::new(),
        };
        println!(
            "  {:8} {:5} files ({:5} parsed) {:9.1} ms  {:7.1} µs/file{peer_text}",
            fam.name,
            docs.len(),
            ok,
            best.as_secs_f64() * 1e3,
            per_file
        );
        total += best;
        total_files += docs.len();
        all_files.extend(fam.files.iter().cloned());
    }
    let peer_total = python_peer(&all_files);
    let peer_text = match peer_total {
        Some(p) => format!(
            "; python ElementTree {:.1} ms (hangar/python = {:.2})",
            p * 1e3,
            total.as_secs_f64() / p
        ),
        None => String::new(),
    };
    println!(
        "  {:8} {:5} files               {:9.1} ms{peer_text}",
        "total",
        total_files,
        total.as_secs_f64() * 1e3
    );
}
