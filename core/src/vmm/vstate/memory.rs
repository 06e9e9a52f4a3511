//! Guest memory: anonymous mappings laid out by the architecture, checked
//! against what the host can give before anything is mapped.

use crate::vmm::arch::layout;
use vm_memory::{GuestAddress, GuestMemoryMmap};

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
    let ranges: Vec<(GuestAddress, usize)> = layout::ram_ranges(size)
        .into_iter()
        .map(|(start, len)| (GuestAddress(start), len as usize))
        .collect();
    GuestMemoryMmap::from_ranges(&ranges).map_err(|e| MemoryError::Map {
        size,
        reason: e.to_string(),
    })
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
    fn maps_small_memory() {
        let mem = create_guest_memory(16 << 20).expect("16 MiB");
        assert_eq!(vm_memory::GuestMemoryBackend::num_regions(&mem), 1);
    }
}
