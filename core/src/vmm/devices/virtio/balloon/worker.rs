//! The balloon's thread: it sleeps in epoll on the three queue eventfds, a
//! stats-refresh eventfd and a stop eventfd, so vCPU threads only signal.
//!
//! Frame numbers on the inflate queue come from the guest and are not
//! trusted: a page is released only when the whole 4 KiB lies inside one
//! guest RAM region, anything else is skipped, and nothing here panics.

use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use virtio_queue::QueueT;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::EventFd;

use super::stats::{GuestStats, STAT_SIZE};
use super::{Shared, PAGE_SIZE, STATS_QUEUE};
use crate::vmm::devices::virtio::{ActiveQueue, InterruptCause, VirtioInterrupt};

const STOP: u64 = 0;
const INFLATE: u64 = 1;
const DEFLATE: u64 = 2;
const STATS: u64 = 3;
const REFRESH: u64 = 4;

/// Most statistics bytes read from one buffer (the driver sends ten).
const MAX_STATS_BYTES: usize = 64 * STAT_SIZE;

/// Everything the worker owns while the balloon is active.
pub(super) struct BalloonWorker {
    pub memory: GuestMemoryMmap,
    pub inflate: ActiveQueue,
    pub deflate: ActiveQueue,
    pub stats: Option<ActiveQueue>,
    /// The driver's stats buffer, kept until fresh figures are wanted.
    pub held_stats: Option<u16>,
    pub interrupt: Arc<dyn VirtioInterrupt>,
    pub shared: Arc<Shared>,
    pub refresh: Arc<EventFd>,
    pub stop: EventFd,
}

impl BalloonWorker {
    /// Serves the queues until stopped; gives them back with their positions.
    pub fn run(mut self) -> Vec<ActiveQueue> {
        if let Err(e) = self.serve() {
            eprintln!("hangar-vmm: virtio-balloon: the worker stopped: {e}");
        }
        // A held stats buffer goes back so a restored device starts clean.
        self.return_stats_buffer();
        let mut queues = vec![self.inflate, self.deflate];
        queues.extend(self.stats);
        queues
    }

    fn serve(&mut self) -> std::io::Result<()> {
        let epoll = Epoll::new()?;
        let watch = |fd: i32, token: u64| {
            epoll.ctl(
                ControlOperation::Add,
                fd,
                EpollEvent::new(EventSet::IN, token),
            )
        };
        watch(self.stop.as_raw_fd(), STOP)?;
        watch(self.inflate.notify.as_raw_fd(), INFLATE)?;
        watch(self.deflate.notify.as_raw_fd(), DEFLATE)?;
        watch(self.refresh.as_raw_fd(), REFRESH)?;
        if let Some(stats) = &self.stats {
            watch(stats.notify.as_raw_fd(), STATS)?;
        }
        // Buffers queued before activation (a restore) are served at once.
        self.inflate_pages();
        self.deflate_pages();
        self.read_stats();
        let mut events = vec![EpollEvent::default(); 8];
        loop {
            let n = match epoll.wait(-1, &mut events) {
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for event in &events[..n] {
                match event.data() {
                    STOP => return Ok(()),
                    INFLATE => {
                        drain(&self.inflate.notify);
                        self.inflate_pages();
                    }
                    DEFLATE => {
                        drain(&self.deflate.notify);
                        self.deflate_pages();
                    }
                    STATS => {
                        if let Some(stats) = &self.stats {
                            drain(&stats.notify);
                        }
                        self.read_stats();
                    }
                    REFRESH => {
                        drain(&self.refresh);
                        self.return_stats_buffer();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Releases every page the driver put on the inflate queue.
    pub(super) fn inflate_pages(&mut self) {
        let mem = &self.memory;
        let mut used = false;
        while let Some(chain) = self.inflate.queue.pop_descriptor_chain(mem) {
            let head = chain.head_index();
            let mut release = Release::new(mem);
            for desc in chain {
                if desc.is_write_only() {
                    continue;
                }
                for i in 0..u64::from(desc.len() / 4) {
                    let Some(at) = desc.addr().0.checked_add(i * 4) else {
                        break;
                    };
                    match mem.read_obj::<u32>(GuestAddress(at)) {
                        Ok(pfn) => release.page(u32::from_le(pfn)),
                        Err(_) => break,
                    }
                }
            }
            release.flush();
            let _ = self.inflate.queue.add_used(mem, head, 0);
            used = true;
        }
        if used {
            notify(&mut self.inflate, mem, &self.interrupt);
        }
    }

    /// Returns the deflate queue's buffers: the pages fault back in when
    /// the guest touches them, so there is nothing to do for them.
    pub(super) fn deflate_pages(&mut self) {
        let mem = &self.memory;
        let mut used = false;
        while let Some(chain) = self.deflate.queue.pop_descriptor_chain(mem) {
            let _ = self.deflate.queue.add_used(mem, chain.head_index(), 0);
            used = true;
        }
        if used {
            notify(&mut self.deflate, mem, &self.interrupt);
        }
    }

    /// Reads the statistics the driver queued and keeps its buffer.
    pub(super) fn read_stats(&mut self) {
        let mem = &self.memory;
        let Some(queue) = self.stats.as_mut() else {
            return;
        };
        while let Some(chain) = queue.queue.pop_descriptor_chain(mem) {
            let head = chain.head_index();
            let mut bytes = Vec::new();
            for desc in chain {
                if desc.is_write_only() {
                    continue;
                }
                let room = MAX_STATS_BYTES.saturating_sub(bytes.len());
                let len = (desc.len() as usize).min(room);
                let mut piece = vec![0u8; len];
                if mem.read_slice(&mut piece, desc.addr()).is_err() {
                    break;
                }
                bytes.extend_from_slice(&piece);
            }
            // Only one buffer circulates; an extra one goes straight back.
            if let Some(old) = self.held_stats.replace(head) {
                let _ = queue.queue.add_used(mem, old, 0);
                notify(queue, mem, &self.interrupt);
            }
            let mut status = self.shared.lock();
            status.stats = Some(GuestStats::parse(&bytes));
            status.stats_generation += 1;
            status.stats_time = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs());
            drop(status);
            self.shared.changed.notify_all();
        }
    }

    /// Gives the held stats buffer back, which asks the driver for fresh figures.
    pub(super) fn return_stats_buffer(&mut self) {
        let (Some(queue), Some(head)) = (self.stats.as_mut(), self.held_stats.take()) else {
            return;
        };
        let _ = queue.queue.add_used(&self.memory, head, 0);
        notify(queue, &self.memory, &self.interrupt);
    }
}

/// Interrupts the guest for `queue` when the driver wants it.
fn notify(queue: &mut ActiveQueue, mem: &GuestMemoryMmap, interrupt: &Arc<dyn VirtioInterrupt>) {
    if queue.queue.needs_notification(mem).unwrap_or(true) {
        let cause = InterruptCause::Queue(queue.index);
        if let Err(e) = interrupt.trigger(cause) {
            let which = if queue.index == STATS_QUEUE {
                "stats"
            } else {
                "page"
            };
            eprintln!("hangar-vmm: virtio-balloon: {which} queue interrupt failed: {e}");
        }
    }
}

fn drain(fd: &EventFd) {
    let _ = fd.read();
}

/// Pages to give back to the host, merged into runs of adjacent host memory.
struct Release<'a> {
    mem: &'a GuestMemoryMmap,
    start: *mut u8,
    len: usize,
}

impl<'a> Release<'a> {
    fn new(mem: &'a GuestMemoryMmap) -> Self {
        Release {
            mem,
            start: std::ptr::null_mut(),
            len: 0,
        }
    }

    /// Adds page frame `pfn` if the whole page lies in one RAM region.
    fn page(&mut self, pfn: u32) {
        let gpa = GuestAddress(u64::from(pfn) * PAGE_SIZE);
        let Ok(slice) = self.mem.get_slice(gpa, PAGE_SIZE as usize) else {
            return;
        };
        let host = slice.ptr_guard_mut().as_ptr();
        if !self.start.is_null() && self.start.wrapping_add(self.len) == host {
            self.len += PAGE_SIZE as usize;
            return;
        }
        self.flush();
        self.start = host;
        self.len = PAGE_SIZE as usize;
    }

    /// Gives the current run back to the host.
    fn flush(&mut self) {
        if self.start.is_null() || self.len == 0 {
            return;
        }
        // SAFETY: [start, start + len) was built only from pages that
        // get_slice found inside guest RAM mappings, which live as long as
        // `mem`; MADV_DONTNEED on private anonymous memory only drops the
        // pages (they read back as zeros), which is what the guest asked.
        let rc = unsafe { libc::madvise(self.start.cast(), self.len, libc::MADV_DONTNEED) };
        if rc != 0 {
            eprintln!(
                "hangar-vmm: virtio-balloon: madvise failed: {}",
                std::io::Error::last_os_error()
            );
        }
        self.start = std::ptr::null_mut();
        self.len = 0;
    }
}
