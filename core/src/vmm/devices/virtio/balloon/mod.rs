//! virtio-balloon: gives guest memory back to the host and reports the
//! guest's memory statistics (`setmem` and `dommemstat` on a running VM).
//!
//! - The configuration space holds `num_pages` (how many 4 KiB pages the
//!   host wants in the balloon) and `actual` (how many the driver has put
//!   there); [`BalloonControl::set_guest_memory`] changes the first and
//!   raises a configuration interrupt.
//! - `worker`: the device's thread. Pages the driver puts on the inflate
//!   queue are released with `madvise(MADV_DONTNEED)` after every frame
//!   number is checked against guest RAM; the deflate queue needs no work
//!   (a page faults back in when the guest touches it).
//! - The stats queue (VIRTIO_BALLOON_F_STATS_VQ): the device keeps the
//!   driver's buffer and returns it when it wants fresh figures; the driver
//!   fills it and queues it again ([`BalloonControl::stats`]).
//! - VIRTIO_BALLOON_F_DEFLATE_ON_OOM is offered for `autodeflate='on'`.

mod stats;
mod worker;

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use vmm_sys_util::eventfd::EventFd;

use super::{
    device_type, features, queues_by_index, Activation, ActiveQueue, InterruptCause, VirtioDevice,
    VirtioError, VirtioInterrupt,
};
pub use stats::GuestStats;

/// Feature bits of virtio-balloon (virtio 1.2, section 5.5.3).
pub mod balloon_features {
    /// The device has a statistics queue.
    pub const STATS_VQ: u64 = 1 << 1;
    /// The driver deflates the balloon when the guest runs out of memory.
    pub const DEFLATE_ON_OOM: u64 = 1 << 2;
}

/// Balloon page size: the protocol's frame numbers count 4 KiB pages.
pub const PAGE_SIZE: u64 = 4096;
/// Index of the stats queue (after inflate 0 and deflate 1).
const STATS_QUEUE: u16 = 2;
/// Ring size offered for every queue.
const QUEUE_SIZE: u16 = 256;

/// Errors of balloon requests.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BalloonError {
    /// A size the guest cannot have.
    #[error("cannot set guest memory to {wanted_kib} KiB: it must be between 4 KiB and the {max_kib} KiB the VM was started with")]
    OutOfRange {
        /// Requested size.
        wanted_kib: u64,
        /// The VM's memory.
        max_kib: u64,
    },
}

/// What the balloon keeps across save and restore (queues are the transport's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalloonState {
    /// Pages the host asked for.
    pub target_pages: u32,
    /// Pages the driver reported in the balloon.
    pub actual_pages: u32,
}

/// State shared by the device, its worker and the control handle.
#[derive(Debug, Default)]
struct Status {
    target_pages: u32,
    actual_pages: u32,
    stats: Option<GuestStats>,
    /// Bumped each time the guest reports statistics.
    stats_generation: u64,
    /// When the guest last reported, seconds since the epoch.
    stats_time: Option<u64>,
    /// Whether the driver negotiated the stats queue and the device serves it.
    stats_queue: bool,
}

#[derive(Debug, Default)]
struct Shared {
    status: Mutex<Status>,
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Status> {
        // A worker that panicked leaves plain numbers behind: still usable.
        self.status.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A handle to the balloon for the control socket: set the guest's size,
/// read its statistics. Cheap to clone.
#[derive(Clone)]
pub struct BalloonControl {
    shared: Arc<Shared>,
    memory_bytes: u64,
    interrupt: Arc<Mutex<Option<Arc<dyn VirtioInterrupt>>>>,
    /// Asks the worker to hand the stats buffer back to the guest.
    refresh: Arc<EventFd>,
}

/// What `dommemstat` shows about the balloon and the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct BalloonReport {
    /// Memory the guest has now (VM memory minus the balloon), KiB.
    pub actual_kib: u64,
    /// Memory the host asked the guest to keep, KiB.
    pub target_kib: u64,
    /// The guest's last figures, if it sends any.
    pub stats: Option<GuestStats>,
    /// When the guest sent them, seconds since the epoch.
    pub last_update: Option<u64>,
}

impl BalloonControl {
    /// The handle of a balloon for a VM with `memory_bytes` of RAM.
    pub fn new(memory_bytes: u64) -> std::io::Result<BalloonControl> {
        Ok(BalloonControl {
            shared: Arc::default(),
            memory_bytes,
            interrupt: Arc::default(),
            refresh: Arc::new(EventFd::new(libc::EFD_NONBLOCK)?),
        })
    }

    /// Asks the guest to keep `kib` KiB: the balloon grows or shrinks by
    /// the difference with the VM's memory.
    pub fn set_guest_memory(&self, kib: u64) -> Result<(), BalloonError> {
        let max_kib = self.memory_bytes / 1024;
        if kib < PAGE_SIZE / 1024 || kib > max_kib {
            return Err(BalloonError::OutOfRange {
                wanted_kib: kib,
                max_kib,
            });
        }
        let pages = (max_kib - kib) / (PAGE_SIZE / 1024);
        self.shared.lock().target_pages = u32::try_from(pages).unwrap_or(u32::MAX);
        self.notify_config();
        Ok(())
    }

    fn notify_config(&self) {
        let interrupt = self.interrupt.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = interrupt.as_ref() {
            if let Err(e) = i.trigger(InterruptCause::Config) {
                eprintln!("hangar-vmm: virtio-balloon: configuration interrupt failed: {e}");
            }
        }
    }

    /// The balloon's size and the guest's statistics; when the guest has a
    /// stats queue, fresh figures are asked for and awaited up to `wait`.
    pub fn report(&self, wait: Duration) -> BalloonReport {
        let generation = {
            let status = self.shared.lock();
            status.stats_queue.then_some(status.stats_generation)
        };
        if let Some(generation) = generation {
            if self.refresh.write(1).is_ok() {
                let deadline = Instant::now() + wait;
                let mut status = self.shared.lock();
                while status.stats_generation == generation {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    status = match self.shared.changed.wait_timeout(status, left) {
                        Ok((s, _)) => s,
                        Err(p) => p.into_inner().0,
                    };
                }
            }
        }
        let status = self.shared.lock();
        let kib_of = |pages: u32| u64::from(pages) * (PAGE_SIZE / 1024);
        let max_kib = self.memory_bytes / 1024;
        BalloonReport {
            actual_kib: max_kib.saturating_sub(kib_of(status.actual_pages)),
            target_kib: max_kib.saturating_sub(kib_of(status.target_pages)),
            stats: status.stats,
            last_update: status.stats_time,
        }
    }
}

struct Running {
    stop: EventFd,
    thread: JoinHandle<Vec<ActiveQueue>>,
}

/// A virtio-balloon device.
pub struct Balloon {
    control: BalloonControl,
    deflate_on_oom: bool,
    running: Option<Running>,
}

impl Balloon {
    /// A balloon for a VM with `memory_bytes` of RAM.
    pub fn new(memory_bytes: u64, deflate_on_oom: bool) -> std::io::Result<Balloon> {
        Ok(Balloon::with_control(
            BalloonControl::new(memory_bytes)?,
            deflate_on_oom,
        ))
    }

    /// A balloon for one boot served through `control`, which outlives
    /// boots: the host's target stays, the guest starts with its balloon
    /// empty and reports afresh.
    pub fn with_control(control: BalloonControl, deflate_on_oom: bool) -> Balloon {
        {
            let mut status = control.shared.lock();
            status.actual_pages = 0;
            status.stats = None;
            status.stats_time = None;
            status.stats_queue = false;
        }
        Balloon {
            control,
            deflate_on_oom,
            running: None,
        }
    }

    /// The handle the control socket uses.
    pub fn control(&self) -> BalloonControl {
        self.control.clone()
    }

    fn config_bytes(&self) -> [u8; 8] {
        let status = self.control.shared.lock();
        let mut config = [0u8; 8];
        config[..4].copy_from_slice(&status.target_pages.to_le_bytes());
        config[4..].copy_from_slice(&status.actual_pages.to_le_bytes());
        config
    }

    fn worker_error(&self, source: std::io::Error) -> VirtioError {
        VirtioError::Worker {
            device: self.name(),
            source,
        }
    }
}

impl VirtioDevice for Balloon {
    fn device_type(&self) -> u32 {
        device_type::BALLOON
    }

    fn name(&self) -> String {
        "virtio-balloon".to_string()
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE; 3]
    }

    fn features(&self) -> u64 {
        let oom = if self.deflate_on_oom {
            balloon_features::DEFLATE_ON_OOM
        } else {
            0
        };
        features::VERSION_1 | balloon_features::STATS_VQ | oom
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let config = self.config_bytes();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = usize::try_from(offset)
                .ok()
                .and_then(|o| o.checked_add(i))
                .and_then(|at| config.get(at).copied())
                .unwrap_or(0);
        }
    }

    /// Only `actual` (bytes 4..8) is the driver's to write.
    fn write_config(&mut self, offset: u64, data: &[u8]) {
        let mut config = self.config_bytes();
        let Some(end) = usize::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(data.len()))
        else {
            return;
        };
        if offset < 4 || end > config.len() {
            return;
        }
        config[offset as usize..end].copy_from_slice(data);
        let actual = u32::from_le_bytes([config[4], config[5], config[6], config[7]]);
        self.control.shared.lock().actual_pages = actual;
        self.control.shared.changed.notify_all();
    }

    fn activate(&mut self, activation: Activation) -> Result<(), VirtioError> {
        let name = self.name();
        if self.running.is_some() {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "already active".into(),
            });
        }
        let [inflate, deflate, stats] = queues_by_index::<3>(&name, activation.queues)?;
        let (Some(inflate), Some(deflate)) = (inflate, deflate) else {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "the inflate and deflate queues must both be enabled".into(),
            });
        };
        let stats = stats.filter(|_| activation.acked_features & balloon_features::STATS_VQ != 0);
        let stop = EventFd::new(libc::EFD_NONBLOCK).map_err(|e| self.worker_error(e))?;
        let worker = worker::BalloonWorker {
            memory: activation.memory,
            inflate,
            deflate,
            stats,
            held_stats: None,
            interrupt: activation.interrupt.clone(),
            shared: self.control.shared.clone(),
            refresh: self.control.refresh.clone(),
            stop: stop.try_clone().map_err(|e| self.worker_error(e))?,
        };
        self.control.shared.lock().stats_queue = worker.stats.is_some();
        let thread = std::thread::Builder::new()
            .name("balloon".into())
            .spawn(move || worker.run())
            .map_err(|e| self.worker_error(e))?;
        *self
            .control
            .interrupt
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = Some(activation.interrupt);
        self.running = Some(Running { stop, thread });
        Ok(())
    }

    fn deactivate(&mut self) -> Vec<ActiveQueue> {
        let Some(running) = self.running.take() else {
            return Vec::new();
        };
        *self
            .control
            .interrupt
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = None;
        self.control.shared.lock().stats_queue = false;
        if let Err(e) = running.stop.write(1) {
            eprintln!("hangar-vmm: virtio-balloon: cannot stop the worker: {e}");
        }
        running.thread.join().unwrap_or_else(|_| {
            eprintln!("hangar-vmm: virtio-balloon: the worker panicked");
            Vec::new()
        })
    }

    fn save_state(&self) -> serde_json::Value {
        let status = self.control.shared.lock();
        serde_json::to_value(BalloonState {
            target_pages: status.target_pages,
            actual_pages: status.actual_pages,
        })
        .unwrap_or(serde_json::Value::Null)
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<(), VirtioError> {
        let state: BalloonState =
            serde_json::from_value(state.clone()).map_err(|e| VirtioError::BadState {
                device: self.name(),
                reason: e.to_string(),
            })?;
        let mut status = self.control.shared.lock();
        status.target_pages = state.target_pages;
        status.actual_pages = state.actual_pages;
        Ok(())
    }
}

impl Drop for Balloon {
    fn drop(&mut self) {
        self.deactivate();
    }
}

#[cfg(test)]
mod tests;
