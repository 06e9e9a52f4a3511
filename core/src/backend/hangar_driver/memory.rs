//! `setmem` on a running domain and `dommemstat`, through the VMM's
//! virtio balloon (its `set-memory` and `memory-stats` control requests).

use super::HangarDriver;
use crate::api::{ApiError, MemoryStat, Reply, Scope};
use crate::backend::definition::domain;
use crate::backend::store::atomic::write_atomic;
use crate::vmm::control::{self, GuestStats, Reply as VmmReply, Request};

/// The `dommemstat` lines in virsh's order: `actual`, the guest's figures
/// with `last_update` after `usable`, then `rss`.
pub(crate) fn memory_lines(
    actual_kib: u64,
    stats: Option<&GuestStats>,
    last_update: Option<u64>,
    rss_kib: Option<u64>,
) -> Vec<MemoryStat> {
    let mut lines = vec![("actual", actual_kib)];
    let guest = stats.map(GuestStats::virsh_lines).unwrap_or_default();
    let split = guest
        .iter()
        .position(|(tag, _)| *tag == "disk_caches" || tag.starts_with("hugetlb"))
        .unwrap_or(guest.len());
    lines.extend_from_slice(&guest[..split]);
    if let Some(t) = last_update {
        lines.push(("last_update", t));
    }
    lines.extend_from_slice(&guest[split..]);
    if let Some(rss) = rss_kib {
        lines.push(("rss", rss));
    }
    lines
        .into_iter()
        .map(|(tag, value)| MemoryStat {
            tag: tag.to_string(),
            value,
        })
        .collect()
}

/// Resident memory of a process in KiB (`VmRSS` in `/proc/PID/status`).
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

impl HangarDriver {
    /// `setmem`: the live scope asks the running guest's balloon; the
    /// config scope changes the stored definition.
    pub(super) fn set_memory(
        &mut self,
        key: &str,
        kib: u64,
        scope: Scope,
    ) -> Result<Reply, ApiError> {
        let name = self.domain_name(key)?;
        let running = self.known_domain(&name)?.run.is_active();
        let live = scope.live || (!scope.config && running);
        if live {
            let (name, known) = self.running_domain(key)?;
            let mut xml = known.xml;
            // Checks the size against <memory> before the guest is asked.
            domain::set_memory(&mut xml, kib)?;
            match control::request(&self.vm_files.socket(&name), Request::SetMemory { kib }) {
                Ok((VmmReply::Ok, _)) => {}
                Ok((VmmReply::Error(message), _)) => {
                    return Err(ApiError::OperationInvalid(message))
                }
                Ok((other, _)) => {
                    return Err(ApiError::Internal(format!(
                        "the VMM of domain '{name}' answered {other:?} to set-memory"
                    )))
                }
                Err(e) => {
                    return Err(ApiError::Internal(format!(
                        "cannot reach the VMM of domain '{name}': {e}"
                    )))
                }
            }
            // The live definition shows the new size, as libvirt's does.
            let path = self.vm_files.xml(&name);
            write_atomic(&path, domain::canonical(&xml)?.as_bytes(), 0o600)
                .map_err(|e| ApiError::io("cannot write file", &path, &e))?;
        }
        if scope.config || !live {
            return self.edit_domain(key, Scope::CONFIG, |el| domain::set_memory(el, kib));
        }
        Ok(Reply::Done)
    }

    /// `dommemstat`: the balloon's figures when the VM has one, else the
    /// domain's current memory; the VMM's resident memory as `rss`.
    pub(super) fn memory_stats(&mut self, key: &str) -> Result<Reply, ApiError> {
        let (name, known) = self.running_domain(key)?;
        let rss = known.run.status.as_ref().and_then(|s| rss_kib(s.pid));
        let lines = match control::request(&self.vm_files.socket(&name), Request::MemoryStats) {
            Ok((VmmReply::Memory(report), _)) => memory_lines(
                report.actual_kib,
                report.stats.as_ref(),
                report.last_update,
                rss,
            ),
            // No balloon: the guest has all of its memory.
            Ok((VmmReply::Error(_), _)) => {
                memory_lines(domain::memory_kib(&known.xml), None, None, rss)
            }
            Ok((other, _)) => {
                return Err(ApiError::Internal(format!(
                    "the VMM of domain '{name}' answered {other:?} to memory-stats"
                )))
            }
            Err(e) => {
                return Err(ApiError::Internal(format!(
                    "cannot reach the VMM of domain '{name}': {e}"
                )))
            }
        };
        Ok(Reply::MemoryStats(lines))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_follow_virsh_order() {
        let stats = GuestStats {
            swap_in: Some(0),
            free: Some(100 << 20),
            available: Some(200 << 20),
            disk_caches: Some(10 << 20),
            ..GuestStats::default()
        };
        let tags: Vec<String> = memory_lines(524288, Some(&stats), Some(1_700_000_000), Some(4096))
            .into_iter()
            .map(|l| format!("{} {}", l.tag, l.value))
            .collect();
        assert_eq!(
            tags,
            [
                "actual 524288",
                "swap_in 0",
                "unused 102400",
                "usable 204800",
                "last_update 1700000000",
                "disk_caches 10240",
                "rss 4096"
            ]
        );
        assert!(rss_kib(std::process::id()).is_some_and(|k| k > 0));
    }
}
