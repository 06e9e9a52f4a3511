//! Guest memory: anonymous mappings laid out by the architecture, checked
//! against what the host can give before anything is mapped.

use crate::vmm::arch::layout;
use vm_memory::{GuestAddress, GuestMemoryMmap, GuestRegionMmap, MmapRegion};

/// Errors creating guest memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// More memory than the host has.
    #[error(
        "the VM wants {wanted_mib} MiB of memory but this host has only {host_mib} MiB \
         (RAM and swap)"
    )]
    TooLarge {
        /// Requested MiB.
        wanted_mib: u64,
        /// Host RAM + swap in MiB.
        host_mib: u64,
    },
    /// Memory size zero or not page-aligned.
    #[error("guest memory must be a non-zero multiple of 4 KiB, not {0} bytes")]
    BadSize(u64),
    /// The mapping failed.
    #[error("cannot map {size} bytes of guest memory: {reason}")]
    Map {
        /// Bytes asked for.
        size: u64,
        /// What vm-memory said.
        reason: String,
    },
}

/// Host RAM plus swap, in bytes, from `/proc/meminfo`.
pub fn host_memory_bytes() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let field = |name: &str| -> Option<u64> {
        let line = info.lines().find(|l| l.starts_with(name))?;
        line.split_whitespace().nth(1)?.parse::<u64>().ok()
    };
    Some((field("MemTotal:")? + field("SwapTotal:").unwrap_or(0)) * 1024)
}

/// Checks `size` against the host, then maps it.
pub fn create_guest_memory(size: u64) -> Result<GuestMemoryMmap, MemoryError> {
    if size == 0 || size % 4096 != 0 {
        return Err(MemoryError::BadSize(size));
    }
    if let Some(host) = host_memory_bytes() {
        if size > host {
            return Err(MemoryError::TooLarge {
                wanted_mib: size >> 20,
                host_mib: host >> 20,
            });
        }
    }
    let map_error = |reason: String| MemoryError::Map { size, reason };
    let mut regions = Vec::new();
    for (start, len) in layout::ram_ranges(size) {
        let len = len as usize;
        let hole = HugePageHole::prepare(len);
        let mapping = MmapRegion::new(len).map_err(|e| map_error(e.to_string()))?;
        drop(hole);
        let region = GuestRegionMmap::new(mapping, GuestAddress(start))
            .ok_or_else(|| map_error("region wraps around the address space".into()))?;
        regions.push(region);
    }
    GuestMemoryMmap::from_regions(regions).map_err(|e| map_error(e.to_string()))
}

/// Size of a transparent huge page on x86-64.
const HUGE_PAGE: usize = 2 << 20;

/// A best-effort nudge that makes the next anonymous mapping of `len`
/// bytes start on a 2 MiB boundary.
///
/// KVM maps guest memory with 2 MiB pages only where the host address and
/// the guest address agree modulo 2 MiB, and the host backs 2 MiB-aligned
/// anonymous memory with transparent huge pages. An unaligned mapping
/// (the usual case: mmap returns page-aligned addresses) gives the guest
/// one 4 KiB stage-2 fault per page it touches, tens of thousands during
/// a boot, each a VM exit; nested, each is very expensive. QEMU aligns its
/// RAM the same way.
///
/// vm-memory maps the region itself, so this reserves `len` + 2 MiB,
/// keeps the part above the first aligned `len` bytes reserved and frees
/// the rest: the kernel's top-down search puts the next mapping of `len`
/// bytes right under the kept part, at the aligned address. Dropping the
/// value frees the kept part. Should another thread map memory in
/// between, the region is merely unaligned and works as before.
struct HugePageHole {
    guard: Option<(*mut libc::c_void, usize)>,
}

impl HugePageHole {
    fn prepare(len: usize) -> Self {
        let total = len + HUGE_PAGE;
        // SAFETY: a fresh PROT_NONE reservation at an address the kernel
        // picks; nothing else refers to it.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                total,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return HugePageHole { guard: None };
        }
        let start = base as usize;
        let aligned = (start + HUGE_PAGE - 1) & !(HUGE_PAGE - 1);
        let guard_start = aligned + len;
        let guard_len = start + total - guard_start;
        // SAFETY: both ranges lie inside the reservation made above.
        unsafe {
            libc::munmap(base, guard_start - start);
        }
        // `aligned - start` < 2 MiB, so the guard is never empty.
        HugePageHole {
            guard: Some((guard_start as *mut libc::c_void, guard_len)),
        }
    }
}

impl Drop for HugePageHole {
    fn drop(&mut self) {
        if let Some((addr, len)) = self.guard.take() {
            // SAFETY: the guard is the PROT_NONE remainder of our own
            // reservation, which nothing else uses.
            unsafe {
                libc::munmap(addr, len);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_more_than_the_host_has() {
        let host = host_memory_bytes().expect("meminfo");
        let too_much = (host + (1 << 30)) & !0xfff;
        assert!(matches!(
            create_guest_memory(too_much),
            Err(MemoryError::TooLarge { .. })
        ));
        assert!(matches!(
            create_guest_memory(0),
            Err(MemoryError::BadSize(0))
        ));
    }

    #[test]
    fn guest_memory_starts_on_a_huge_page_boundary() {
        let mem = create_guest_memory(64 << 20).expect("64 MiB");
        use vm_memory::{GuestMemoryBackend, GuestMemoryRegion, MemoryRegionAddress};
        let region = mem.iter().next().expect("one region");
        let host = region
            .get_host_address(MemoryRegionAddress(0))
            .expect("host address");
        assert_eq!(host as usize % HUGE_PAGE, 0);
    }

    #[test]
    fn maps_small_memory() {
        let mem = create_guest_memory(16 << 20).expect("16 MiB");
        assert_eq!(vm_memory::GuestMemoryBackend::num_regions(&mem), 1);
    }
}
