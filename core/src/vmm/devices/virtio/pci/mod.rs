//! virtio-pci, the modern (virtio 1.x) transport: a PCI function with
//! vendor 0x1af4 and device id 0x1040 + the virtio type, whose single
//! 32-bit memory BAR holds the common configuration, the ISR, the
//! device-specific configuration, the queue notification area and the
//! MSI-X table, each announced by a vendor capability (virtio 1.2, 4.1).
//!
//! BAR 0 layout (32 KiB):
//!
//! | offset   | what                                      |
//! |----------|-------------------------------------------|
//! | 0x0000   | common configuration ([`common_cfg`])     |
//! | 0x1000   | ISR status                                |
//! | 0x2000   | device configuration (the device's own)   |
//! | 0x3000   | notifications, 4 bytes per queue          |
//! | 0x4000   | MSI-X table                               |
//! | 0x5000   | MSI-X pending bits                        |
//!
//! Queue notifications never reach this code while the BAR decodes: each
//! queue's 4 bytes carry a KVM ioeventfd, which the device's worker waits
//! on. The transport re-registers them when the guest moves the BAR or
//! turns memory decoding off and on.

pub mod common_cfg;
pub mod interrupt;
pub mod state;

use super::{
    device_type, features, Activation, ActiveQueue, InterruptCause, VirtioDevice, VirtioError,
    VirtioInterrupt,
};
use crate::vmm::devices::pci::config::{self, BarRegion, ConfigChange, PciConfigSpace, PciIds};
use crate::vmm::devices::pci::msix::{self, MsixError, MsixVectors};
use crate::vmm::devices::pci::PciDevice;
use crate::vmm::vstate::irq_routing::GsiRouting;
use crate::vmm::vstate::vm::LevelIrq;
use common_cfg::{status, CommonCfg, CommonEvent, COMMON_CFG_LEN};
use interrupt::VirtioPciInterrupt;
use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use std::sync::Arc;
use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

/// PCI vendor id of virtio devices.
pub const VIRTIO_VENDOR: u16 = 0x1af4;
/// Modern device ids are this plus the virtio device type.
pub const MODERN_DEVICE_BASE: u16 = 0x1040;
/// Size of BAR 0.
pub const BAR0_SIZE: u64 = 0x8000;
/// Where each structure lives in BAR 0.
pub mod bar0 {
    /// Common configuration.
    pub const COMMON: u64 = 0x0000;
    /// ISR status.
    pub const ISR: u64 = 0x1000;
    /// Device-specific configuration.
    pub const DEVICE: u64 = 0x2000;
    /// Size of the device configuration window.
    pub const DEVICE_LEN: u64 = 0x1000;
    /// Queue notifications.
    pub const NOTIFY: u64 = 0x3000;
    /// Bytes between two queues' notification addresses.
    pub const NOTIFY_MULTIPLIER: u32 = 4;
    /// MSI-X table.
    pub const MSIX_TABLE: u64 = 0x4000;
    /// MSI-X pending-bit array.
    pub const MSIX_PBA: u64 = 0x5000;
}
/// Most queues a device may have (one MSI-X vector each plus config must
/// fit in the 4 KiB table).
pub const MAX_QUEUES: usize = 255;

/// Vendor capability types (virtio 1.2, 4.1.4).
mod cap_type {
    pub const COMMON: u8 = 1;
    pub const NOTIFY: u8 = 2;
    pub const ISR: u8 = 3;
    pub const DEVICE: u8 = 4;
    pub const PCI_CFG: u8 = 5;
}
/// Vendor-specific capability id.
const CAP_VENDOR: u8 = 0x09;

/// Errors creating a virtio-pci function.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The device has no queues or too many.
    #[error("{device}: {queues} queues (1..={MAX_QUEUES} supported)")]
    Queues {
        /// Device name.
        device: String,
        /// How many it asked for.
        queues: usize,
    },
    /// MSI-X vectors could not be set up.
    #[error("{device}: {source}")]
    Msix {
        /// Device name.
        device: String,
        /// Why.
        source: MsixError,
    },
    /// An eventfd could not be created.
    #[error("{device}: cannot create an eventfd: {source}")]
    EventFd {
        /// Device name.
        device: String,
        /// Why.
        source: std::io::Error,
    },
    /// The configuration space could not be built.
    #[error("{device}: {source}")]
    Config {
        /// Device name.
        device: String,
        /// Why.
        source: config::ConfigError,
    },
}

/// Where a function sits and what it is wired to.
pub struct PciPlacement {
    /// Address of BAR 0 (as firmware placed it).
    pub bar0: u32,
    /// The INTx line's GSI (also written to the interrupt line register).
    pub intx_gsi: u32,
    /// The INTx line.
    pub intx: LevelIrq,
    /// The VM's GSI routing (MSI-X).
    pub routing: Arc<GsiRouting>,
    /// The VM fd (ioeventfds, irqfds).
    pub vm: Arc<VmFd>,
    /// Guest memory.
    pub memory: GuestMemoryMmap,
}

/// A virtio device behind the PCI transport.
pub struct VirtioPciDevice {
    name: String,
    device: Box<dyn VirtioDevice>,
    config: PciConfigSpace,
    common: CommonCfg,
    interrupt: Arc<VirtioPciInterrupt>,
    /// One ioeventfd per queue.
    notify: Vec<EventFd>,
    /// BAR 0 address the ioeventfds are registered at.
    ioevents_at: Option<u64>,
    msix_cap: usize,
    pci_cfg_cap: usize,
    active: bool,
    /// The queues of a device paused for a save ([`VirtioPciDevice::pause`]):
    /// its worker has ended and they wait here to be saved or resumed.
    paused: Option<Vec<ActiveQueue>>,
    vm: Arc<VmFd>,
    memory: GuestMemoryMmap,
}

/// PCI class code of each device type.
fn class_of(device_type: u32) -> u32 {
    match device_type {
        device_type::NET => 0x02_00_00,
        device_type::BLOCK => 0x01_00_00,
        device_type::INPUT => 0x09_80_00,
        _ => 0x00_ff_00,
    }
}

fn virtio_cap(cfg_type: u8, offset: u64, length: u64, extra: &[u8]) -> Vec<u8> {
    let mut cap = vec![
        CAP_VENDOR,
        0,
        (16 + extra.len()) as u8,
        cfg_type,
        0,
        0,
        0,
        0,
    ];
    cap.extend_from_slice(&(offset as u32).to_le_bytes());
    cap.extend_from_slice(&(length as u32).to_le_bytes());
    cap.extend_from_slice(extra);
    cap
}

impl VirtioPciDevice {
    /// Wraps `device` in a PCI function placed as `at` says.
    pub fn new(device: Box<dyn VirtioDevice>, at: PciPlacement) -> Result<Self, TransportError> {
        let name = device.name();
        let sizes = device.queue_max_sizes();
        if sizes.is_empty() || sizes.len() > MAX_QUEUES {
            return Err(TransportError::Queues {
                device: name,
                queues: sizes.len(),
            });
        }
        let vectors = sizes.len() as u16 + 1;
        let msix = MsixVectors::new(vectors, at.routing, &at.vm).map_err(|source| {
            TransportError::Msix {
                device: name.clone(),
                source,
            }
        })?;
        let notify = (0..sizes.len())
            .map(|_| EventFd::new(libc::EFD_NONBLOCK))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|source| TransportError::EventFd {
                device: name.clone(),
                source,
            })?;
        let kind = device.device_type();
        let ids = PciIds {
            vendor: VIRTIO_VENDOR,
            device: MODERN_DEVICE_BASE + kind as u16,
            revision: 1,
            class: class_of(kind),
            subsystem_vendor: VIRTIO_VENDOR,
            subsystem: 0x40,
        };
        let cfg_err = |source| TransportError::Config {
            device: name.clone(),
            source,
        };
        let mut config = PciConfigSpace::new(ids, at.intx_gsi as u8);
        config
            .add_mem32_bar(0, BAR0_SIZE, at.bar0)
            .map_err(cfg_err)?;
        let caps = [
            virtio_cap(cap_type::COMMON, bar0::COMMON, COMMON_CFG_LEN, &[]),
            virtio_cap(
                cap_type::NOTIFY,
                bar0::NOTIFY,
                sizes.len() as u64 * u64::from(bar0::NOTIFY_MULTIPLIER),
                &bar0::NOTIFY_MULTIPLIER.to_le_bytes(),
            ),
            virtio_cap(cap_type::ISR, bar0::ISR, 1, &[]),
            virtio_cap(cap_type::DEVICE, bar0::DEVICE, bar0::DEVICE_LEN, &[]),
        ];
        for cap in &caps {
            config.add_capability(cap, &[]).map_err(cfg_err)?;
        }
        // VIRTIO_PCI_CAP_PCI_CFG: a window onto the BAR through config space.
        let pci_cfg_writable: Vec<(usize, u8)> = std::iter::once((4, 0xff))
            .chain((8..20).map(|i| (i, 0xff)))
            .collect();
        let pci_cfg_cap = config
            .add_capability(
                &virtio_cap(cap_type::PCI_CFG, 0, 0, &[0; 4]),
                &pci_cfg_writable,
            )
            .map_err(cfg_err)?;
        let msix_cap = config
            .add_capability(
                &msix::capability(vectors, 0, bar0::MSIX_TABLE as u32, bar0::MSIX_PBA as u32),
                &msix::CAPABILITY_WRITABLE,
            )
            .map_err(cfg_err)?;
        let common = CommonCfg::new(device.features() | features::VERSION_1, &sizes, vectors);
        Ok(VirtioPciDevice {
            name,
            interrupt: Arc::new(VirtioPciInterrupt::new(msix, at.intx, sizes.len())),
            device,
            config,
            common,
            notify,
            ioevents_at: None,
            msix_cap,
            pci_cfg_cap,
            active: false,
            paused: None,
            vm: at.vm,
            memory: at.memory,
        })
    }

    /// The device's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the device is running (DRIVER_OK and activated).
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Stops the device (its worker ends); used on reset and at teardown.
    pub fn stop(&mut self) {
        if self.active {
            self.device.deactivate();
            self.active = false;
        }
        self.paused = None;
    }

    /// Builds the queues the driver enabled, in index order.
    fn enabled_queues(&self) -> Result<Vec<ActiveQueue>, VirtioError> {
        let bad = |reason: String| VirtioError::BadActivation {
            device: self.name.clone(),
            reason,
        };
        let event_idx = self.common.driver_features & features::RING_EVENT_IDX != 0;
        let mut queues = Vec::new();
        for (index, regs) in self.common.queues.iter().enumerate() {
            if !regs.enabled {
                continue;
            }
            let mut queue =
                Queue::new(regs.max_size).map_err(|e| bad(format!("queue {index}: {e:?}")))?;
            if regs.size == 0 || !regs.size.is_power_of_two() || regs.size > regs.max_size {
                return Err(bad(format!(
                    "queue {index}: size {} is not usable",
                    regs.size
                )));
            }
            queue.set_size(regs.size);
            queue.set_desc_table_address(Some(regs.desc as u32), Some((regs.desc >> 32) as u32));
            queue
                .set_avail_ring_address(Some(regs.driver as u32), Some((regs.driver >> 32) as u32));
            queue.set_used_ring_address(Some(regs.device as u32), Some((regs.device >> 32) as u32));
            queue.set_event_idx(event_idx);
            queue.set_ready(true);
            if !queue.is_valid(&self.memory) {
                return Err(bad(format!("queue {index}: rings outside guest memory")));
            }
            let notify = self.notify[index]
                .try_clone()
                .map_err(|source| VirtioError::Worker {
                    device: self.name.clone(),
                    source,
                })?;
            queues.push(ActiveQueue {
                index: index as u16,
                queue,
                notify,
            });
        }
        Ok(queues)
    }

    fn activate_with(&mut self, queues: Vec<ActiveQueue>) -> Result<(), VirtioError> {
        let interrupt: Arc<dyn VirtioInterrupt> = self.interrupt.clone();
        self.device.activate(Activation {
            memory: self.memory.clone(),
            acked_features: self.common.driver_features,
            queues,
            interrupt,
        })?;
        self.active = true;
        Ok(())
    }

    fn activate(&mut self) {
        let result = self.enabled_queues().and_then(|q| self.activate_with(q));
        if let Err(e) = result {
            eprintln!("hangar-vmm: {e}");
            self.common.device_status |= status::DEVICE_NEEDS_RESET;
            let _ = self.interrupt.trigger(InterruptCause::Config);
        }
    }

    fn reset(&mut self) {
        self.stop();
        self.common.reset();
        self.interrupt.reset();
    }

    fn sync_vectors(&self) {
        self.interrupt.set_vectors(
            self.common.config_msix_vector,
            self.common.queues.iter().map(|q| q.msix_vector),
        );
    }

    /// Registers the queues' ioeventfds where BAR 0 decodes now (and
    /// removes them from where it did).
    fn place_ioevents(&mut self) {
        let target = self
            .config
            .bar_regions()
            .into_iter()
            .find(|r| r.index == 0)
            .map(|r| r.address);
        if target == self.ioevents_at {
            return;
        }
        let addr = |base: u64, q: usize| {
            IoEventAddress::Mmio(
                base + bar0::NOTIFY + q as u64 * u64::from(bar0::NOTIFY_MULTIPLIER),
            )
        };
        if let Some(old) = self.ioevents_at.take() {
            for (q, fd) in self.notify.iter().enumerate() {
                if let Err(e) = self.vm.unregister_ioevent(fd, &addr(old, q), NoDatamatch) {
                    eprintln!("hangar-vmm: {}: KVM_IOEVENTFD (remove): {e}", self.name);
                }
            }
        }
        if let Some(new) = target {
            for (q, fd) in self.notify.iter().enumerate() {
                // A failure leaves notifications to the slow path below.
                if let Err(e) = self.vm.register_ioevent(fd, &addr(new, q), NoDatamatch) {
                    eprintln!("hangar-vmm: {}: KVM_IOEVENTFD: {e}", self.name);
                }
            }
            self.ioevents_at = Some(new);
        }
    }

    /// The PCI configuration access window: (bar, offset, length) when set.
    fn pci_cfg_window(&self) -> Option<(usize, u64, usize)> {
        let b = self.config.bytes();
        let at = self.pci_cfg_cap;
        let bar = b[at + 4] as usize;
        let offset = u32::from_le_bytes([b[at + 8], b[at + 9], b[at + 10], b[at + 11]]);
        let len = u32::from_le_bytes([b[at + 12], b[at + 13], b[at + 14], b[at + 15]]) as usize;
        (bar == 0 && matches!(len, 1 | 2 | 4)).then_some((bar, u64::from(offset), len))
    }

    fn overlaps(offset: usize, len: usize, start: usize, end: usize) -> bool {
        offset < end && offset + len > start
    }
}

impl PciDevice for VirtioPciDevice {
    fn config_read(&mut self, offset: usize, data: &mut [u8]) {
        self.config.read(offset, data);
        let window = self.pci_cfg_cap + 16;
        if Self::overlaps(offset, data.len(), window, window + 4) {
            if let Some((bar, at, len)) = self.pci_cfg_window() {
                let mut value = [0u8; 4];
                self.bar_read(bar, at, &mut value[..len]);
                for (i, b) in data.iter_mut().enumerate() {
                    if let Some(v) = (offset + i).checked_sub(window).and_then(|k| value.get(k)) {
                        *b = *v;
                    }
                }
            }
        }
    }

    fn config_write(&mut self, offset: usize, data: &[u8]) -> ConfigChange {
        let change = self.config.write(offset, data);
        let control = self.msix_cap + 2;
        if Self::overlaps(offset, data.len(), control, control + 2) {
            let b = self.config.bytes();
            let bits = u16::from_le_bytes([b[control], b[control + 1]]);
            if let Err(e) = self.interrupt.set_msix_control(bits) {
                eprintln!("hangar-vmm: {}: MSI-X: {e}", self.name);
            }
        }
        let window = self.pci_cfg_cap + 16;
        if Self::overlaps(offset, data.len(), window, window + 4) {
            if let Some((bar, at, len)) = self.pci_cfg_window() {
                let value = self.config.bytes()[window..window + 4].to_vec();
                self.bar_write(bar, at, &value[..len]);
            }
        }
        if change.intx_disable {
            let disabled = self.config.command() & config::command::INTX_DISABLE != 0;
            self.interrupt.set_intx_disabled(disabled);
        }
        if change.mappings {
            self.place_ioevents();
        }
        change
    }

    fn bar_regions(&self) -> Vec<BarRegion> {
        self.config.bar_regions()
    }

    fn bar_read(&mut self, bar: usize, offset: u64, data: &mut [u8]) {
        data.fill(0);
        if bar != 0 {
            return;
        }
        let len = data.len() as u64;
        match offset {
            o if o + len <= bar0::ISR => self.common.read(o - bar0::COMMON, data),
            bar0::ISR => {
                if let Some(isr) = data.first_mut() {
                    *isr = self.interrupt.read_isr();
                }
            }
            o if (bar0::DEVICE..bar0::DEVICE + bar0::DEVICE_LEN).contains(&o) => {
                self.device.read_config(o - bar0::DEVICE, data)
            }
            o if (bar0::MSIX_TABLE..bar0::MSIX_PBA).contains(&o) => {
                self.interrupt.read_msix_table(o - bar0::MSIX_TABLE, data)
            }
            o if (bar0::MSIX_PBA..BAR0_SIZE).contains(&o) => {
                self.interrupt.read_msix_pba(o - bar0::MSIX_PBA, data)
            }
            _ => {}
        }
    }

    fn bar_write(&mut self, bar: usize, offset: u64, data: &[u8]) {
        if bar != 0 {
            return;
        }
        let len = data.len() as u64;
        match offset {
            o if o + len <= bar0::ISR => {
                let event = self.common.write(o - bar0::COMMON, data);
                self.sync_vectors();
                match event {
                    Some(CommonEvent::Reset) => self.reset(),
                    Some(CommonEvent::DriverOk) if !self.active => self.activate(),
                    _ => {}
                }
            }
            o if (bar0::DEVICE..bar0::DEVICE + bar0::DEVICE_LEN).contains(&o) => {
                self.device.write_config(o - bar0::DEVICE, data)
            }
            // Only reached when the ioeventfd is missing: do its job.
            o if (bar0::NOTIFY..bar0::MSIX_TABLE).contains(&o) => {
                let q = ((o - bar0::NOTIFY) / u64::from(bar0::NOTIFY_MULTIPLIER)) as usize;
                if let Some(fd) = self.notify.get(q) {
                    let _ = fd.write(1);
                }
            }
            o if (bar0::MSIX_TABLE..bar0::MSIX_PBA).contains(&o) => {
                if let Err(e) = self.interrupt.write_msix_table(o - bar0::MSIX_TABLE, data) {
                    eprintln!("hangar-vmm: {}: MSI-X: {e}", self.name);
                }
            }
            _ => {}
        }
    }
}

impl Drop for VirtioPciDevice {
    fn drop(&mut self) {
        // Joins the device's worker so no thread outlives the machine.
        self.stop();
    }
}

#[cfg(test)]
mod tests;
