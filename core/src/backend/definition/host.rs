//! Facts about the real host: name, processors, memory, usage.

use crate::api::HostStats;

/// The host's name (`hostname`), "localhost" if it cannot be read.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_string())
}

/// `(total, available)` memory in KiB from `/proc/meminfo`.
pub fn memory_kib() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|rest| {
                rest.trim()
                    .trim_end_matches("kB")
                    .trim()
                    .parse::<u64>()
                    .ok()
            })
            .unwrap_or(0)
    };
    (field("MemTotal:"), field("MemAvailable:"))
}

/// `(model name, MHz)` of the first processor in `/proc/cpuinfo`.
pub fn cpu_model() -> (String, u32) {
    let text = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_string())
    };
    let model = field("model name").unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let mhz = field("cpu MHz")
        .and_then(|m| m.parse::<f64>().ok())
        .map_or(0, |m| m.round() as u32);
    (model, mhz)
}

/// Logical processors online.
pub fn cpu_count() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

/// Host CPU and memory usage now (CPU times are cumulative).
pub fn stats() -> HostStats {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    // USER_HZ is 100 on every Linux architecture Hangar runs on.
    const NS_PER_TICK: u64 = 10_000_000;
    let ticks: Vec<u64> = stat
        .lines()
        .next()
        .filter(|l| l.starts_with("cpu "))
        .map(|l| {
            l.split_whitespace()
                .skip(1)
                .filter_map(|v| v.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let total: u64 = ticks.iter().take(8).sum();
    // idle + iowait are not busy.
    let idle = ticks.get(3).copied().unwrap_or(0) + ticks.get(4).copied().unwrap_or(0);
    let (mem_total, mem_available) = memory_kib();
    HostStats {
        cpu_busy_ns: total.saturating_sub(idle) * NS_PER_TICK,
        cpu_total_ns: total * NS_PER_TICK,
        memory_used_kib: mem_total.saturating_sub(mem_available),
        memory_total_kib: mem_total,
    }
}
