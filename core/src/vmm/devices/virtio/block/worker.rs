//! The I/O thread of one disk: waits for the guest's queue notifications
//! (ioeventfd), serves every available request, then publishes the used
//! entries with one interrupt per wakeup (fewer with EVENT_IDX).

use super::backend::DiskBackend;
use super::request::{self, DiskProperties};
use crate::vmm::devices::virtio::{ActiveQueue, InterruptCause, VirtioInterrupt};
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::thread::JoinHandle;
use virtio_queue::QueueT;
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const TOKEN_QUEUE: u64 = 0;
const TOKEN_STOP: u64 = 1;

/// What the thread owns, handed back when it stops.
pub struct WorkerState {
    /// The request queue, with its ring positions.
    pub queue: ActiveQueue,
    /// The image.
    pub backend: Box<dyn DiskBackend>,
}

/// A running I/O thread.
pub struct Worker {
    stop: EventFd,
    thread: JoinHandle<WorkerState>,
}

/// Everything the thread needs.
pub struct WorkerSetup {
    /// For logs.
    pub name: String,
    /// Guest memory.
    pub memory: GuestMemoryMmap,
    /// The queue and its notifications.
    pub state: WorkerState,
    /// What requests may do.
    pub props: DiskProperties,
    /// Interrupts to the guest.
    pub interrupt: Arc<dyn VirtioInterrupt>,
}

impl Worker {
    /// Starts the thread.
    pub fn spawn(setup: WorkerSetup) -> io::Result<Worker> {
        let stop = EventFd::new(EFD_NONBLOCK)?;
        let stop_thread = stop.try_clone()?;
        let epoll = Epoll::new()?;
        epoll.ctl(
            ControlOperation::Add,
            setup.state.queue.notify.as_raw_fd(),
            EpollEvent::new(EventSet::IN, TOKEN_QUEUE),
        )?;
        epoll.ctl(
            ControlOperation::Add,
            stop_thread.as_raw_fd(),
            EpollEvent::new(EventSet::IN, TOKEN_STOP),
        )?;
        let thread = std::thread::Builder::new()
            .name(format!("blk {}", setup.name))
            .spawn(move || run(setup, epoll, stop_thread))?;
        Ok(Worker { stop, thread })
    }

    /// Stops the thread after the request it is serving and takes back the
    /// queue and the image; `None` if the thread died.
    pub fn stop(self) -> Option<WorkerState> {
        // A failed write cannot happen on an eventfd below its limit; the
        // join below would then wait, so report it loudly.
        if let Err(e) = self.stop.write(1) {
            eprintln!("hangar-vmm: cannot stop a disk thread: {e}");
        }
        self.thread.join().ok()
    }
}

fn run(setup: WorkerSetup, epoll: Epoll, _stop: EventFd) -> WorkerState {
    let WorkerSetup {
        name,
        memory,
        mut state,
        props,
        interrupt,
    } = setup;
    // Requests already in the ring (a restored or re-activated queue) are
    // served without waiting for a notification.
    serve(&name, &memory, &mut state, &props, interrupt.as_ref());
    let mut events = [EpollEvent::default(); 2];
    loop {
        let n = match epoll.wait(-1, &mut events) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("hangar-vmm: {name}: epoll failed, disk stopped: {e}");
                break;
            }
        };
        let mut notified = false;
        for event in &events[..n] {
            match event.data() {
                TOKEN_STOP => return state,
                _ => notified = true,
            }
        }
        if notified {
            // Non-blocking: a spurious wakeup reads EAGAIN, harmless.
            let _ = state.queue.notify.read();
            serve(&name, &memory, &mut state, &props, interrupt.as_ref());
        }
    }
    state
}

/// Serves every available request, then interrupts once if the driver wants it.
fn serve(
    name: &str,
    memory: &GuestMemoryMmap,
    state: &mut WorkerState,
    props: &DiskProperties,
    interrupt: &dyn VirtioInterrupt,
) {
    let queue = &mut state.queue.queue;
    let mut added = 0u32;
    let mut empty_passes = 0u32;
    loop {
        // No notifications while we drain the ring: the guest keeps adding
        // without exits.
        if let Err(e) = queue.disable_notification(memory) {
            eprintln!("hangar-vmm: {name}: bad queue: {e}");
            return;
        }
        let mut popped = 0u32;
        while let Some(chain) = queue.pop_descriptor_chain(memory) {
            popped += 1;
            let head = chain.head_index();
            let used = request::serve(memory, chain, state.backend.as_mut(), props, name);
            if let Err(e) = queue.add_used(memory, head, used) {
                eprintln!("hangar-vmm: {name}: cannot complete a request: {e}");
                return;
            }
            added += 1;
        }
        match queue.enable_notification(memory) {
            // More arrived while notifications were off.
            Ok(true) if popped > 0 || empty_passes == 0 => {
                // A pass that finds nothing may have raced the driver's
                // index update: one more look.
                empty_passes += u32::from(popped == 0);
                continue;
            }
            // Entries announced but none can be read: a broken ring the
            // driver must reset; do not spin on it.
            Ok(true) => {
                eprintln!("hangar-vmm: {name}: available ring index out of range");
                break;
            }
            Ok(false) => break,
            Err(e) => {
                eprintln!("hangar-vmm: {name}: bad queue: {e}");
                break;
            }
        }
    }
    if added == 0 {
        return;
    }
    match queue.needs_notification(memory) {
        Ok(true) => {
            if let Err(e) = interrupt.trigger(InterruptCause::Queue(state.queue.index)) {
                eprintln!("hangar-vmm: {name}: cannot interrupt the guest: {e}");
            }
        }
        Ok(false) => {}
        Err(e) => eprintln!("hangar-vmm: {name}: bad queue: {e}"),
    }
}
