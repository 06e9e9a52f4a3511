//! Guest RAM in a snapshot: one section per region, zero pages left out.
//!
//! A memory section's payload: region start (guest physical) u64, region
//! size u64, run count u64, then `count` runs of non-zero pages (first
//! page index u64, page count u64, ascending and disjoint), then the data
//! of every run in order. Pages outside the runs are zero: a restored VM
//! starts from fresh (zeroed) memory.

use super::{SectionKind, SnapshotError, SnapshotReader, SnapshotWriter};
use vm_memory::{
    GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap, MemoryRegionAddress,
};

/// Page size of the zero-page map.
pub const PAGE: u64 = 4096;
/// A page of zeroes to compare pages with.
static ZERO_PAGE: [u8; PAGE as usize] = [0; PAGE as usize];

/// A run of non-zero pages in one region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Run {
    /// First page, counted from the region's start.
    pub first: u64,
    /// Pages.
    pub count: u64,
}

fn no_mapping(path: &std::path::Path, start: u64) -> SnapshotError {
    SnapshotError::Io {
        op: "cannot access guest memory for",
        path: path.display().to_string(),
        source: std::io::Error::other(format!("RAM region {start:#x} has no host mapping")),
    }
}

/// The host address of `region`'s first byte.
fn host_address(
    region: &GuestRegionMmap,
    path: &std::path::Path,
) -> Result<*mut u8, SnapshotError> {
    region
        .get_host_address(MemoryRegionAddress(0))
        .map_err(|_| no_mapping(path, region.start_addr().0))
}

/// The non-zero page runs of `bytes`.
fn nonzero_runs(bytes: &[u8]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for (index, page) in bytes.chunks(PAGE as usize).enumerate() {
        // A slice comparison is a memcmp, fast even in debug builds.
        if page == &ZERO_PAGE[..page.len()] {
            continue;
        }
        let index = index as u64;
        match runs.last_mut() {
            Some(run) if run.first + run.count == index => run.count += 1,
            _ => runs.push(Run {
                first: index,
                count: 1,
            }),
        }
    }
    runs
}

/// Writes every RAM region of `memory` as a memory section. Nothing may
/// change guest memory meanwhile (the vCPUs and devices are stopped).
pub fn write_regions(
    writer: &mut SnapshotWriter,
    memory: &GuestMemoryMmap,
) -> Result<(), SnapshotError> {
    let path = writer.path().to_path_buf();
    for region in memory.iter() {
        let start = region.start_addr().0;
        let size = region.len();
        let host = host_address(region, &path)?;
        // SAFETY: the mapping covers `size` bytes at `host` and lives as
        // long as `memory`, borrowed for this whole function; the caller
        // guarantees that no vCPU or device writes to it meanwhile.
        let bytes = unsafe { std::slice::from_raw_parts(host.cast_const(), size as usize) };
        let runs = nonzero_runs(bytes);
        let pages: u64 = runs.iter().map(|r| r.count).sum();
        let len = 24 + 16 * runs.len() as u64 + pages * PAGE;
        writer.begin(SectionKind::Memory, len)?;
        let mut head = Vec::with_capacity(24 + 16 * runs.len());
        head.extend_from_slice(&start.to_le_bytes());
        head.extend_from_slice(&size.to_le_bytes());
        head.extend_from_slice(&(runs.len() as u64).to_le_bytes());
        for run in &runs {
            head.extend_from_slice(&run.first.to_le_bytes());
            head.extend_from_slice(&run.count.to_le_bytes());
        }
        writer.put(&head)?;
        for run in &runs {
            let from = (run.first * PAGE) as usize;
            let to = ((run.first + run.count) * PAGE) as usize;
            writer.put(&bytes[from..to])?;
        }
    }
    Ok(())
}

fn read_u64(reader: &mut SnapshotReader) -> Result<u64, SnapshotError> {
    let mut b = [0u8; 8];
    reader.read(&mut b)?;
    Ok(u64::from_le_bytes(b))
}

/// Reads every memory section into `memory` (fresh, zeroed memory laid out
/// as the saved VM's), then the end record, verifying the checksum. Every
/// region of `memory` must be in the file, with the same start and size.
pub fn read_regions(
    reader: &mut SnapshotReader,
    memory: &GuestMemoryMmap,
) -> Result<(), SnapshotError> {
    let regions: Vec<(u64, u64)> = memory.iter().map(|r| (r.start_addr().0, r.len())).collect();
    let mut seen = vec![false; regions.len()];
    while let Some((kind, len)) = reader.next_section()? {
        if kind != SectionKind::Memory {
            return Err(reader.corrupt(format!("{kind:?} section among the memory")));
        }
        let start = read_u64(reader)?;
        let size = read_u64(reader)?;
        let count = read_u64(reader)?;
        let index = regions
            .iter()
            .position(|r| *r == (start, size))
            .ok_or_else(|| SnapshotError::Mismatch {
                path: reader.path().display().to_string(),
                detail: format!(
                    "saved RAM region {start:#x}+{size:#x} is not in the VM's memory layout"
                ),
            })?;
        if std::mem::replace(&mut seen[index], true) {
            return Err(reader.corrupt(format!("RAM region {start:#x} saved twice")));
        }
        let max_pages = size / PAGE;
        // Each run takes 16 bytes of the section: a huge count is caught
        // by the length check before anything is allocated for it.
        if count.saturating_mul(16).saturating_add(24) > len {
            return Err(reader.corrupt(format!("{count} page runs in a {len}-byte section")));
        }
        let mut runs = Vec::with_capacity(count as usize);
        let mut next_free = 0u64;
        let mut pages = 0u64;
        for _ in 0..count {
            let first = read_u64(reader)?;
            let n = read_u64(reader)?;
            let end = first.checked_add(n).filter(|e| *e <= max_pages && n > 0);
            let Some(end) = end.filter(|_| first >= next_free) else {
                return Err(reader.corrupt(format!(
                    "page run {first}+{n} out of order or outside region {start:#x}"
                )));
            };
            next_free = end;
            pages += n;
            runs.push(Run { first, count: n });
        }
        if 24 + 16 * count + pages * PAGE != len {
            return Err(reader.corrupt(format!(
                "memory section of region {start:#x} is {len} bytes, its runs need {}",
                24 + 16 * count + pages * PAGE
            )));
        }
        let region = memory
            .iter()
            .nth(index)
            .ok_or_else(|| no_mapping(reader.path(), start))?;
        let host = host_address(region, reader.path())?;
        // SAFETY: the mapping covers `size` bytes at `host` and lives as
        // long as `memory`, borrowed for this whole function; the memory is
        // fresh and no vCPU or device exists yet to touch it.
        let bytes = unsafe { std::slice::from_raw_parts_mut(host, size as usize) };
        for run in &runs {
            // The runs were checked to lie within the region.
            let from = (run.first * PAGE) as usize;
            let to = ((run.first + run.count) * PAGE) as usize;
            reader.read(&mut bytes[from..to])?;
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        let (start, size) = regions[missing];
        return Err(SnapshotError::Mismatch {
            path: reader.path().display().to_string(),
            detail: format!("RAM region {start:#x}+{size:#x} is missing from the file"),
        });
    }
    Ok(())
}
