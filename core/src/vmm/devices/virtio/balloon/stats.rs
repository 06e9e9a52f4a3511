//! The guest's memory statistics (virtio 1.2, section 5.5.6.3) and the
//! names virsh's `dommemstat` gives them.

use serde::{Deserialize, Serialize};

/// Size of one `struct virtio_balloon_stat { le16 tag; le64 val; }` (packed).
pub const STAT_SIZE: usize = 10;

/// What the guest last reported; memory figures in bytes as the guest sends them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct GuestStats {
    /// Bytes swapped in (tag 0).
    pub swap_in: Option<u64>,
    /// Bytes swapped out (tag 1).
    pub swap_out: Option<u64>,
    /// Major page faults (tag 2).
    pub major_faults: Option<u64>,
    /// Minor page faults (tag 3).
    pub minor_faults: Option<u64>,
    /// Free memory in bytes (tag 4).
    pub free: Option<u64>,
    /// Total memory the guest sees, bytes (tag 5).
    pub total: Option<u64>,
    /// Memory available for new programs, bytes (tag 6).
    pub available: Option<u64>,
    /// Disk caches, bytes (tag 7).
    pub disk_caches: Option<u64>,
    /// Huge page allocations (tag 8).
    pub hugetlb_allocations: Option<u64>,
    /// Failed huge page allocations (tag 9).
    pub hugetlb_failures: Option<u64>,
}

impl GuestStats {
    /// Reads the packed `(tag, value)` array of a stats buffer; unknown tags
    /// are skipped, a trailing partial entry is ignored.
    pub fn parse(bytes: &[u8]) -> GuestStats {
        let mut stats = GuestStats::default();
        for entry in bytes.chunks_exact(STAT_SIZE) {
            let tag = u16::from_le_bytes([entry[0], entry[1]]);
            let mut value = [0u8; 8];
            value.copy_from_slice(&entry[2..10]);
            let value = Some(u64::from_le_bytes(value));
            match tag {
                0 => stats.swap_in = value,
                1 => stats.swap_out = value,
                2 => stats.major_faults = value,
                3 => stats.minor_faults = value,
                4 => stats.free = value,
                5 => stats.total = value,
                6 => stats.available = value,
                7 => stats.disk_caches = value,
                8 => stats.hugetlb_allocations = value,
                9 => stats.hugetlb_failures = value,
                _ => {}
            }
        }
        stats
    }

    /// The `dommemstat` lines the guest's figures give, in virsh's order
    /// and units (memory in KiB, faults as counts): `swap_in`, `swap_out`,
    /// `major_fault`, `minor_fault`, `unused`, `available`, `usable`,
    /// `disk_caches`, `hugetlb_pgalloc`, `hugetlb_pgfail`.
    pub fn virsh_lines(&self) -> Vec<(&'static str, u64)> {
        let kib = |v: Option<u64>| v.map(|b| b / 1024);
        [
            ("swap_in", kib(self.swap_in)),
            ("swap_out", kib(self.swap_out)),
            ("major_fault", self.major_faults),
            ("minor_fault", self.minor_faults),
            ("unused", kib(self.free)),
            ("available", kib(self.total)),
            ("usable", kib(self.available)),
            ("disk_caches", kib(self.disk_caches)),
            ("hugetlb_pgalloc", self.hugetlb_allocations),
            ("hugetlb_pgfail", self.hugetlb_failures),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.map(|v| (k, v)))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(tag: u16, value: u64) -> Vec<u8> {
        let mut e = tag.to_le_bytes().to_vec();
        e.extend_from_slice(&value.to_le_bytes());
        e
    }

    #[test]
    fn parses_tags_and_names_them_as_virsh() {
        let mut bytes = Vec::new();
        for (tag, value) in [
            (0, 8192),
            (2, 7),
            (4, 100 << 20),
            (5, 512 << 20),
            (6, 300 << 20),
            (42, 1),
        ] {
            bytes.extend(entry(tag, value));
        }
        bytes.extend_from_slice(&[1, 2, 3]);
        let stats = GuestStats::parse(&bytes);
        assert_eq!(stats.swap_in, Some(8192));
        assert_eq!(stats.swap_out, None);
        assert_eq!(
            stats.virsh_lines(),
            vec![
                ("swap_in", 8),
                ("major_fault", 7),
                ("unused", 102400),
                ("available", 524288),
                ("usable", 307200),
            ]
        );
    }
}
