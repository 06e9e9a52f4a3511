//! Save and restore of a virtio-pci function: everything the guest can
//! observe (configuration space with the BARs, MSI-X table, common
//! configuration, ISR) plus the queues' ring positions and the device's
//! own state.
//!
//! Saving goes in two steps. [`VirtioPciDevice::pause`] quiesces the
//! device before anything of the VM is recorded: its worker finishes the
//! requests it is serving, takes no new ones and ends, handing back the
//! queues, which the function holds; the used index each queue published
//! is written to guest memory once more, so the saved memory and the saved
//! ring positions agree; the device's host side is made durable (a disk's
//! caches written back). While paused nothing touches guest memory, raises
//! an interrupt or moves a ring. [`VirtioPciDevice::save_state`] then
//! records the held queues, and [`VirtioPciDevice::resume`] starts the
//! device again on them when the save failed and the VM goes on (a save
//! that ends the VM just drops the function). Restoring happens on a
//! function freshly built from the same domain configuration, before the
//! vCPUs run.

use super::common_cfg::{status, CommonCfg};
use super::{bar0, VirtioPciDevice};
use crate::vmm::devices::pci::config::{command, PciConfigSpace};
use crate::vmm::devices::pci::msix::MsixState;
use crate::vmm::devices::virtio::{
    ActiveQueue, InterruptCause, QueueSnapshot, VirtioError, VirtioInterrupt,
};
use serde::{Deserialize, Serialize};
use std::sync::atomic::Ordering;
use virtio_queue::QueueT;
use vm_memory::{Bytes, GuestAddress};

/// The saved state of one virtio-pci function.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VirtioPciState {
    /// Virtio device type (checked on restore).
    pub device_type: u32,
    /// The configuration space, BAR addresses and capability bytes included.
    pub config: PciConfigSpace,
    /// The MSI-X table, pending bits and control bits.
    pub msix: MsixState,
    /// The common configuration registers (features, status, queue registers).
    pub common: CommonCfg,
    /// The ISR status register.
    pub isr: u8,
    /// Whether the device was running.
    pub active: bool,
    /// Ring positions of the queues the running device had, by index.
    pub queues: Vec<(u16, QueueSnapshot)>,
    /// The device's own state ([`crate::vmm::devices::virtio::VirtioDevice::save_state`]).
    pub device: serde_json::Value,
}

impl VirtioPciDevice {
    /// Quiesces a running device for a save (see the module comment); the
    /// vCPUs must be stopped. A device that is not running only has its
    /// host side synced. An error leaves the device paused: the caller
    /// resumes it.
    pub fn pause(&mut self) -> Result<(), VirtioError> {
        if self.active {
            let queues = self.device.deactivate();
            self.active = false;
            for q in &queues {
                self.publish_used_index(q)?;
            }
            self.paused = Some(queues);
        }
        self.device.sync()
    }

    /// Starts a paused device again on the queues it held; nothing to do
    /// for a device that was not paused. On failure the driver is told the
    /// device needs a reset.
    pub fn resume(&mut self) -> Result<(), VirtioError> {
        let Some(queues) = self.paused.take() else {
            return Ok(());
        };
        self.activate_with(queues).inspect_err(|_| {
            self.common.device_status |= status::DEVICE_NEEDS_RESET;
            let _ = self.interrupt.trigger(InterruptCause::Config);
        })
    }

    /// Whether the device is paused for a save.
    pub fn is_paused(&self) -> bool {
        self.paused.is_some()
    }

    /// Writes `queue`'s used index (the device's count of used entries) to
    /// the used ring in guest memory, where the driver reads it.
    fn publish_used_index(&self, queue: &ActiveQueue) -> Result<(), VirtioError> {
        let q = &queue.queue;
        if !q.ready() {
            return Ok(());
        }
        let at = q.used_ring().checked_add(2).map(GuestAddress);
        at.and_then(|at| {
            self.memory
                .store(u16::to_le(q.next_used()), at, Ordering::Release)
                .ok()
        })
        .ok_or_else(|| VirtioError::Save {
            device: self.name.clone(),
            reason: format!(
                "queue {}: the used ring at {:#x} is outside guest memory",
                queue.index,
                q.used_ring()
            ),
        })
    }

    /// Records the function's state: registers, the device's own state and
    /// the ring positions of the queues it holds. A running device must be
    /// paused first ([`VirtioPciDevice::pause`]).
    pub fn save_state(&self) -> Result<VirtioPciState, VirtioError> {
        if self.active {
            return Err(VirtioError::Save {
                device: self.name.clone(),
                reason: "it is running; pause it before saving".into(),
            });
        }
        let (msix, isr) = self.interrupt.save();
        let queues = self
            .paused
            .iter()
            .flatten()
            .map(|q| (q.index, QueueSnapshot::of(&q.queue)))
            .collect();
        Ok(VirtioPciState {
            device_type: self.device.device_type(),
            config: self.config.clone(),
            msix,
            common: self.common.clone(),
            isr,
            active: self.paused.is_some(),
            queues,
            device: self.device.save_state(),
        })
    }

    /// Puts `state` back into a function built from the same configuration
    /// that has not run yet, re-registers its ioeventfds and MSI routes,
    /// and restarts the device on the saved queue positions. The caller
    /// (the device manager) then refreshes the bus's BAR mappings.
    pub fn restore_state(&mut self, state: &VirtioPciState) -> Result<(), VirtioError> {
        let name = self.name.clone();
        let bad = |reason: String| VirtioError::BadState {
            device: name.clone(),
            reason,
        };
        if state.device_type != self.device.device_type() {
            return Err(bad(format!(
                "saved device type {} is not {}",
                state.device_type,
                self.device.device_type()
            )));
        }
        if state.common.queues.len() != self.common.queues.len()
            || state.common.msix_vectors != self.common.msix_vectors
            || state.msix.table.len() != usize::from(self.common.msix_vectors)
        {
            return Err(bad("queue or MSI-X vector count differs".into()));
        }
        if self.active || self.paused.is_some() {
            return Err(bad("the device is already running".into()));
        }
        self.device.restore_state(&state.device)?;
        self.config = state.config.clone();
        self.common = state.common.clone();
        self.sync_vectors();
        let intx_disabled = self.config.command() & command::INTX_DISABLE != 0;
        self.interrupt
            .restore(state.msix.clone(), state.isr, intx_disabled)
            .map_err(|e| bad(e.to_string()))?;
        self.place_ioevents();
        if state.active {
            let mut queues = Vec::with_capacity(state.queues.len());
            for (index, snap) in &state.queues {
                let fd = self
                    .notify
                    .get(usize::from(*index))
                    .ok_or_else(|| bad(format!("queue {index} does not exist")))?;
                let notify = fd.try_clone().map_err(|source| VirtioError::Worker {
                    device: self.name.clone(),
                    source,
                })?;
                let queue = snap
                    .to_queue()
                    .map_err(|e| bad(format!("queue {index}: {e:?}")))?;
                // Buffers made available while the VM was stopped are seen
                // once the worker polls; a kick makes sure it does.
                let _ = notify.write(1);
                queues.push(ActiveQueue {
                    index: *index,
                    queue,
                    notify,
                });
            }
            self.activate_with(queues)?;
        }
        Ok(())
    }

    /// Where BAR 0 is now (for the device manager's checks and logs).
    pub fn bar0_address(&self) -> Option<u64> {
        self.config.bar_address(0)
    }

    /// Offset of queue `index`'s notification address within BAR 0.
    pub fn notify_offset(index: u16) -> u64 {
        bar0::NOTIFY + u64::from(index) * u64::from(bar0::NOTIFY_MULTIPLIER)
    }
}
