//! The virtio-input thread: fills the driver's event buffers from the
//! pending events and empties the status queue. It wakes on the guest's
//! kicks of either queue and on the handles' "events queued" eventfd.

use std::sync::Arc;

use virtio_queue::QueueT;
use vm_memory::{Bytes, GuestMemoryMmap};
use vmm_sys_util::eventfd::EventFd;

use super::Shared;
use crate::vmm::devices::virtio::{ActiveQueue, InterruptCause, VirtioInterrupt};

/// Size of one event in a guest buffer.
const EVENT_SIZE: u32 = 8;

/// Everything the worker owns while the device is active.
pub(super) struct InputWorker {
    pub memory: GuestMemoryMmap,
    pub events: ActiveQueue,
    pub status: Option<ActiveQueue>,
    pub interrupt: Arc<dyn VirtioInterrupt>,
    pub shared: Arc<Shared>,
    pub wake: EventFd,
}

impl InputWorker {
    /// The eventfds the worker waits on.
    pub fn notifiers(&self) -> Vec<&EventFd> {
        let mut fds = vec![&self.events.notify, &self.wake];
        fds.extend(self.status.as_ref().map(|s| &s.notify));
        fds
    }

    /// The queues, with their ring positions, for the transport.
    pub fn into_queues(self) -> Vec<ActiveQueue> {
        let mut queues = vec![self.events];
        queues.extend(self.status);
        queues
    }

    /// Does whatever can be done now (any kick may follow any other).
    pub fn serve(&mut self) {
        self.deliver();
        self.drain_status();
    }

    /// Moves pending events into the driver's buffers, one event each.
    pub fn deliver(&mut self) {
        let mut used = false;
        let mut pending = self.shared.lock();
        while let Some(event) = pending.events.front().copied() {
            let Some(chain) = self.events.queue.pop_descriptor_chain(&self.memory) else {
                break;
            };
            let head = chain.head_index();
            let bytes = event.to_bytes();
            let target = chain
                .writable()
                .find(|d| d.len() >= EVENT_SIZE)
                .map(|d| d.addr());
            let written = target.is_some_and(|addr| self.memory.write_slice(&bytes, addr).is_ok());
            let len = if written { EVENT_SIZE } else { 0 };
            if self.events.queue.add_used(&self.memory, head, len).is_err() {
                break;
            }
            used = true;
            // A buffer the event does not fit is returned empty; the event
            // waits for the next one.
            if written {
                pending.events.pop_front();
            }
        }
        drop(pending);
        if used {
            notify(&mut self.events, &self.memory, &*self.interrupt);
        }
    }

    /// Hands the driver's status buffers (LED changes) back unread.
    fn drain_status(&mut self) {
        let Some(status) = self.status.as_mut() else {
            return;
        };
        let mut used = false;
        while let Some(chain) = status.queue.pop_descriptor_chain(&self.memory) {
            // LED changes have nowhere to go: a VNC client shows none.
            let head = chain.head_index();
            if status.queue.add_used(&self.memory, head, 0).is_err() {
                break;
            }
            used = true;
        }
        if used {
            notify(status, &self.memory, &*self.interrupt);
        }
    }
}

fn notify(queue: &mut ActiveQueue, memory: &GuestMemoryMmap, interrupt: &dyn VirtioInterrupt) {
    if queue.queue.needs_notification(memory).unwrap_or(true) {
        if let Err(e) = interrupt.trigger(InterruptCause::Queue(queue.index)) {
            eprintln!("hangar-vmm: virtio-input: interrupt: {e}");
        }
    }
}
