//! Virtio devices, independent of how the guest reaches them.
//!
//! A device (block, net, rng, balloon, input) implements [`VirtioDevice`]:
//! it offers features, exposes its configuration space and, once the driver
//! has set it up, is *activated* with its queues, the guest memory and a way
//! to interrupt the guest. The transport (virtio-pci) owns the common
//! registers and hands over the queues; the device's own thread(s) do the
//! I/O so that vCPU threads only signal eventfds (ioeventfd) and never wait
//! on a disk or a tap.
//!
//! For save and restore a device gives its queues back ([`VirtioDevice::deactivate`])
//! and describes its own state as a serde value; the transport records the
//! queue positions and registers next to it.

pub mod balloon;
pub mod block;
pub mod input;
pub mod net;
pub mod pci;
pub mod rng;
pub mod worker;

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

/// Virtio device type ids (virtio 1.2, section 5).
pub mod device_type {
    /// Network card.
    pub const NET: u32 = 1;
    /// Block device.
    pub const BLOCK: u32 = 2;
    /// Entropy source.
    pub const RNG: u32 = 4;
    /// Memory balloon.
    pub const BALLOON: u32 = 5;
    /// Input device (keyboard, tablet).
    pub const INPUT: u32 = 18;
}

/// Feature bits common to every device (virtio 1.2, section 6).
pub mod features {
    /// The driver may use indirect descriptors.
    pub const RING_INDIRECT_DESC: u64 = 1 << 28;
    /// `used_event` / `avail_event` notification suppression.
    pub const RING_EVENT_IDX: u64 = 1 << 29;
    /// A modern (virtio 1.x) device; every device we offer sets it.
    pub const VERSION_1: u64 = 1 << 32;
}

/// Which interrupt a device raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InterruptCause {
    /// Buffers were used on queue `n`.
    Queue(u16),
    /// The configuration space changed.
    Config,
}

/// How a device interrupts the guest; the transport implements it (MSI-X
/// vector through an irqfd, or INTx with the ISR status register).
pub trait VirtioInterrupt: Send + Sync {
    /// Raises the interrupt for `cause`.
    fn trigger(&self, cause: InterruptCause) -> std::io::Result<()>;
}

/// One queue handed to a device: its index, the ring as the driver set it
/// up, and the eventfd the guest's notifications arrive on (ioeventfd).
pub struct ActiveQueue {
    /// Queue index within the device.
    pub index: u16,
    /// The ring.
    pub queue: Queue,
    /// Signalled when the guest notifies this queue.
    pub notify: EventFd,
}

/// What a device receives when the driver sets DRIVER_OK.
pub struct Activation {
    /// Guest memory (cheap to clone: the regions are shared).
    pub memory: GuestMemoryMmap,
    /// Features the driver accepted.
    pub acked_features: u64,
    /// The queues the driver enabled.
    pub queues: Vec<ActiveQueue>,
    /// Interrupts to the guest.
    pub interrupt: Arc<dyn VirtioInterrupt>,
}

/// Errors of virtio devices.
#[derive(Debug, thiserror::Error)]
pub enum VirtioError {
    /// The driver enabled a queue layout the device cannot use.
    #[error("virtio {device}: {reason}")]
    BadActivation {
        /// Device name (e.g. "virtio-blk vda").
        device: String,
        /// What is wrong.
        reason: String,
    },
    /// A worker thread could not be started.
    #[error("virtio {device}: cannot start its worker: {source}")]
    Worker {
        /// Device name.
        device: String,
        /// Why.
        source: std::io::Error,
    },
    /// The device cannot be paused or recorded for a save.
    #[error("virtio {device}: cannot be saved: {reason}")]
    Save {
        /// Device name.
        device: String,
        /// Why.
        reason: String,
    },
    /// Saved state that does not fit the device.
    #[error("virtio {device}: saved state does not fit: {reason}")]
    BadState {
        /// Device name.
        device: String,
        /// What is wrong.
        reason: String,
    },
}

/// Sorts the queues of an activation by index into `N` slots, refusing an
/// index the device does not have; a slot stays `None` when the driver did
/// not enable that queue.
pub fn queues_by_index<const N: usize>(
    device: &str,
    queues: Vec<ActiveQueue>,
) -> Result<[Option<ActiveQueue>; N], VirtioError> {
    let mut slots: [Option<ActiveQueue>; N] = std::array::from_fn(|_| None);
    for queue in queues {
        let index = queue.index;
        match slots.get_mut(usize::from(index)) {
            Some(slot) => *slot = Some(queue),
            None => {
                return Err(VirtioError::BadActivation {
                    device: device.to_string(),
                    reason: format!("queue {index} does not exist"),
                })
            }
        }
    }
    Ok(slots)
}

/// A virtio device behind any transport.
pub trait VirtioDevice: Send {
    /// The virtio device type ([`device_type`]).
    fn device_type(&self) -> u32;

    /// A name for logs and errors ("virtio-blk vda", "virtio-net 52:54:00:…").
    fn name(&self) -> String;

    /// Maximum size of each queue; the length is the number of queues.
    fn queue_max_sizes(&self) -> Vec<u16>;

    /// Features the device offers (include [`features::VERSION_1`]).
    fn features(&self) -> u64;

    /// Reads the device-specific configuration space.
    fn read_config(&self, offset: u64, data: &mut [u8]);

    /// Writes the device-specific configuration space (most devices ignore it).
    fn write_config(&mut self, _offset: u64, _data: &[u8]) {}

    /// Starts the device: from now on it serves its queues.
    fn activate(&mut self, activation: Activation) -> Result<(), VirtioError>;

    /// Stops the device's worker and gives the queues back with their ring
    /// positions (for a reset, or to save them). Empty when not active.
    fn deactivate(&mut self) -> Vec<ActiveQueue>;

    /// Makes what the device did on the host durable (a disk's write-back
    /// caches reach the image). Called while the device is paused for a
    /// save, so the snapshot and the host side agree; a failure fails the
    /// save.
    fn sync(&mut self) -> Result<(), VirtioError> {
        Ok(())
    }

    /// The device's own state for save/restore (not the queues: the
    /// transport saves those); `Null` when it has none.
    fn save_state(&self) -> serde_json::Value {
        serde_json::Value::Null
    }

    /// Puts back what [`VirtioDevice::save_state`] returned, before activation.
    fn restore_state(&mut self, _state: &serde_json::Value) -> Result<(), VirtioError> {
        Ok(())
    }
}

/// A queue's registers and ring positions, as saved in a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueSnapshot {
    /// Largest size the device allows.
    pub max_size: u16,
    /// Size the driver chose.
    pub size: u16,
    /// Whether the driver enabled it.
    pub ready: bool,
    /// Descriptor table address.
    pub desc_table: u64,
    /// Available ring address.
    pub avail_ring: u64,
    /// Used ring address.
    pub used_ring: u64,
    /// Next available index the device will read.
    pub next_avail: u16,
    /// Next used index the device will write.
    pub next_used: u16,
    /// Whether VIRTIO_F_RING_EVENT_IDX is in use.
    pub event_idx: bool,
}

impl QueueSnapshot {
    /// Records `queue`'s registers and positions.
    pub fn of(queue: &Queue) -> QueueSnapshot {
        QueueSnapshot {
            max_size: queue.max_size(),
            size: queue.size(),
            ready: queue.ready(),
            desc_table: queue.desc_table(),
            avail_ring: queue.avail_ring(),
            used_ring: queue.used_ring(),
            next_avail: queue.next_avail(),
            next_used: queue.next_used(),
            event_idx: queue.event_idx_enabled(),
        }
    }

    /// Builds a queue back from the snapshot.
    pub fn to_queue(&self) -> Result<Queue, virtio_queue::Error> {
        let mut queue = Queue::new(self.max_size)?;
        queue.set_size(self.size);
        queue.set_desc_table_address(
            Some(self.desc_table as u32),
            Some((self.desc_table >> 32) as u32),
        );
        queue.set_avail_ring_address(
            Some(self.avail_ring as u32),
            Some((self.avail_ring >> 32) as u32),
        );
        queue.set_used_ring_address(
            Some(self.used_ring as u32),
            Some((self.used_ring >> 32) as u32),
        );
        queue.set_next_avail(self.next_avail);
        queue.set_next_used(self.next_used);
        queue.set_event_idx(self.event_idx);
        queue.set_ready(self.ready);
        Ok(queue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queue_snapshot_round_trips() {
        let mut queue = Queue::new(256).expect("queue");
        queue.set_size(128);
        queue.set_desc_table_address(Some(0x1000), Some(0x1));
        queue.set_avail_ring_address(Some(0x2000), None);
        queue.set_used_ring_address(Some(0x3000), None);
        queue.set_next_avail(7);
        queue.set_next_used(5);
        queue.set_ready(true);
        let snap = QueueSnapshot::of(&queue);
        assert_eq!(snap.desc_table, 0x1_0000_1000);
        let back = snap.to_queue().expect("rebuilds");
        assert_eq!(QueueSnapshot::of(&back), snap);
    }
}
