//! Save and restore of a virtio-pci function: everything the guest can
//! observe (configuration space with the BARs, MSI-X table, common
//! configuration, ISR) plus the queues' ring positions and the device's
//! own state.
//!
//! Saving needs the vCPUs paused: the device is deactivated to get its
//! queues back with exact positions, recorded, and activated again with the
//! same queues so the VM can go on (a save that ends the VM just drops it
//! afterwards). Restoring happens on a function freshly built from the same
//! domain configuration, before the vCPUs run.

use super::common_cfg::CommonCfg;
use super::{bar0, VirtioPciDevice};
use crate::vmm::devices::pci::config::{command, PciConfigSpace};
use crate::vmm::devices::pci::msix::MsixState;
use crate::vmm::devices::virtio::{ActiveQueue, QueueSnapshot, VirtioError};
use serde::{Deserialize, Serialize};

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
    /// Records the function's state. The vCPUs must be paused. A running
    /// device is stopped to read its queue positions and started again on
    /// the same queues, so the VM can continue after the save.
    pub fn save_state(&mut self) -> Result<VirtioPciState, VirtioError> {
        let (msix, isr) = self.interrupt.save();
        let mut queues = Vec::new();
        if self.active {
            let active = self.device.deactivate();
            self.active = false;
            queues = active
                .iter()
                .map(|q| (q.index, QueueSnapshot::of(&q.queue)))
                .collect();
            self.activate_with(active)?;
        }
        Ok(VirtioPciState {
            device_type: self.device.device_type(),
            config: self.config.clone(),
            msix,
            common: self.common.clone(),
            isr,
            active: self.active,
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
        if self.active {
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
