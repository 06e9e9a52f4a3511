//! The virtio devices of one boot: created from the domain's `<devices>`,
//! each behind a virtio-pci function on bus 0, in a stable slot order so
//! the guest names them the same way every boot (disks in `<target dev>`
//! order first, then NICs, the entropy source, the balloon, input).
//!
//! To add a device kind: create it in [`devices_from_config`] at its place
//! in that order (a `Box<dyn VirtioDevice>`), and give its constructor's
//! error a variant in [`VirtioSetupError`]. Slots, BARs, ioeventfds,
//! interrupts, reset and save/restore come from the transport.

use crate::vmm::arch::layout;
use crate::vmm::config::DeviceConfig;
use crate::vmm::devices::pci::{
    PciBus, PciConfigIo, PciDevice, PciError, PciMmioWindow, CONFIG_IO_LEN,
};
use crate::vmm::devices::virtio::balloon::{Balloon, BalloonControl};
use crate::vmm::devices::virtio::block::backend::BackendError;
use crate::vmm::devices::virtio::block::Block;
use crate::vmm::devices::virtio::input::{Input, InputHandle};
use crate::vmm::devices::virtio::net::{Net, NetError};
use crate::vmm::devices::virtio::pci::state::VirtioPciState;
use crate::vmm::devices::virtio::pci::{PciPlacement, TransportError, VirtioPciDevice, BAR0_SIZE};
use crate::vmm::devices::virtio::rng::{Rng, RngError};
use crate::vmm::devices::virtio::{VirtioDevice, VirtioError};
use crate::vmm::devices::{Bus, BusError};
use crate::vmm::vstate::vm::Vm;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use vm_memory::GuestMemoryMmap;

/// Errors creating the virtio devices.
#[derive(Debug, thiserror::Error)]
pub enum VirtioSetupError {
    /// A disk's image cannot be opened.
    #[error(transparent)]
    Block(#[from] BackendError),
    /// virtio-net (its tap).
    #[error(transparent)]
    Net(#[from] NetError),
    /// virtio-rng.
    #[error(transparent)]
    Rng(#[from] RngError),
    /// virtio-input (its eventfd).
    #[error("virtio-input: cannot create the device: {0}")]
    Input(std::io::Error),
    /// The PCI transport of a device.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// No slot or BAR space left.
    #[error(transparent)]
    Pci(#[from] PciError),
    /// Saved state that does not fit the devices built from the domain.
    #[error(transparent)]
    State(#[from] VirtioError),
    /// Saved state for a slot that has no device.
    #[error("saved state names PCI slot {0}, which has no virtio device")]
    NoSuchSlot(usize),
}

/// The virtio devices of one boot, in guest order.
pub type DeviceList = Vec<Box<dyn VirtioDevice>>;

/// Creates the domain's virtio devices, in guest order; see
/// [`devices_and_inputs_from_config`] (this drops the input handles).
pub fn devices_from_config(
    config: &DeviceConfig,
    balloon: Option<&BalloonControl>,
) -> Result<Vec<Box<dyn VirtioDevice>>, VirtioSetupError> {
    devices_and_inputs_from_config(config, balloon).map(|(devices, _)| devices)
}

/// Creates the domain's virtio devices, in guest order, and the handles
/// the display sends input through. Each kind is added at its place
/// below. `balloon` is the machine's balloon handle, which outlives boots
/// (present when `config.balloon`).
pub fn devices_and_inputs_from_config(
    config: &DeviceConfig,
    balloon: Option<&BalloonControl>,
) -> Result<(DeviceList, Vec<InputHandle>), VirtioSetupError> {
    let mut devices: Vec<Box<dyn VirtioDevice>> = Vec::new();
    // 1. Disks, in <target dev> order (config.disks is sorted so).
    for disk in &config.disks {
        devices.push(Box::new(Block::new(disk)?));
    }
    // 2. NICs, in document order (config.nets).
    for net in &config.nets {
        devices.push(Box::new(Net::new(net)?));
    }
    // 3. The entropy source.
    if let Some(rng) = &config.rng {
        devices.push(Box::new(Rng::new(rng)?));
    }
    // 4. The balloon.
    if let (true, Some(control)) = (config.balloon, balloon) {
        devices.push(Box::new(Balloon::with_control(
            control.clone(),
            config.balloon_autodeflate,
        )));
    }
    // 5. Input devices, in document order.
    let mut inputs = Vec::with_capacity(config.inputs.len());
    for (index, kind) in config.inputs.iter().enumerate() {
        let input = Input::new(*kind, index).map_err(VirtioSetupError::Input)?;
        inputs.push(input.handle());
        devices.push(Box::new(input));
    }
    Ok((devices, inputs))
}

/// The saved state of one virtio device and where it sat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SavedVirtioDevice {
    /// PCI slot on bus 0.
    pub slot: usize,
    /// The transport's and device's state.
    pub state: VirtioPciState,
}

/// The PCI bus and the virtio functions on it.
pub struct VirtioDevices {
    bus: Arc<PciBus>,
    functions: Vec<(usize, Arc<Mutex<VirtioPciDevice>>)>,
}

impl VirtioDevices {
    /// Builds the PCI bus (host bridge) and puts `devices` on slots 1, 2, …
    /// with their BARs in the 32-bit window and INTx on IOAPIC pins 16..23.
    pub fn create(
        vm: &Vm,
        memory: &GuestMemoryMmap,
        devices: Vec<Box<dyn VirtioDevice>>,
    ) -> Result<Self, VirtioSetupError> {
        let mut bus = PciBus::new(layout::PCI_MMIO32_START, layout::PCI_MMIO32_SIZE);
        let mut functions = Vec::with_capacity(devices.len());
        for device in devices {
            let slot = bus.free_slot()?;
            let bar0 = bus.allocate_bar(BAR0_SIZE)?;
            let intx_gsi = intx_gsi(slot);
            let function = VirtioPciDevice::new(
                device,
                PciPlacement {
                    bar0: bar0 as u32,
                    intx_gsi,
                    intx: vm.level_irq(intx_gsi),
                    routing: vm.routing(),
                    vm: vm.shared_fd(),
                    memory: memory.clone(),
                },
            )?;
            let function = Arc::new(Mutex::new(function));
            let as_pci: Arc<Mutex<dyn PciDevice>> = function.clone();
            bus.insert(slot, as_pci)?;
            functions.push((slot, function));
        }
        Ok(VirtioDevices {
            bus: Arc::new(bus),
            functions,
        })
    }

    /// Puts the configuration ports on `io_bus` and the BAR window on `mmio_bus`.
    pub fn attach(&self, io_bus: &mut Bus, mmio_bus: &mut Bus) -> Result<(), BusError> {
        let config_io = Arc::new(Mutex::new(PciConfigIo::new(Arc::clone(&self.bus))));
        io_bus.insert(config_io, u64::from(layout::PCI_CONFIG_PORT), CONFIG_IO_LEN)?;
        let window = Arc::new(Mutex::new(PciMmioWindow::new(Arc::clone(&self.bus))));
        mmio_bus.insert(window, layout::PCI_MMIO32_START, layout::PCI_MMIO32_SIZE)
    }

    /// Names of the devices and their slots, for logs.
    pub fn describe(&self) -> Vec<(usize, String)> {
        self.functions
            .iter()
            .map(|(slot, f)| (*slot, lock(f).name().to_string()))
            .collect()
    }

    /// Stops every device's worker (before the VM goes away).
    pub fn stop(&self) {
        for (_, f) in &self.functions {
            lock(f).stop();
        }
    }

    /// Quiesces every device for a save (the vCPUs must be stopped): from
    /// when this returns until [`VirtioDevices::resume`] no device touches
    /// guest memory, a ring or an interrupt. On error some devices may be
    /// paused: resume them.
    pub fn pause(&self) -> Result<(), VirtioError> {
        self.functions.iter().try_for_each(|(_, f)| lock(f).pause())
    }

    /// Starts every paused device again (after a failed save); returns the
    /// first error, having tried them all.
    pub fn resume(&self) -> Result<(), VirtioError> {
        let mut first = Ok(());
        for (_, f) in &self.functions {
            let result = lock(f).resume();
            if first.is_ok() {
                first = result;
            }
        }
        first
    }

    /// Records every device's state; the devices must be paused
    /// ([`VirtioDevices::pause`]).
    pub fn save_state(&self) -> Result<Vec<SavedVirtioDevice>, VirtioError> {
        self.functions
            .iter()
            .map(|(slot, f)| {
                Ok(SavedVirtioDevice {
                    slot: *slot,
                    state: lock(f).save_state()?,
                })
            })
            .collect()
    }

    /// Puts saved states back into the devices of a fresh boot built from
    /// the same domain (before its vCPUs run), and moves the BAR mappings to
    /// where the saved configuration spaces put them.
    pub fn restore_state(&self, saved: &[SavedVirtioDevice]) -> Result<(), VirtioSetupError> {
        for s in saved {
            let (_, f) = self
                .functions
                .iter()
                .find(|(slot, _)| *slot == s.slot)
                .ok_or(VirtioSetupError::NoSuchSlot(s.slot))?;
            lock(f).restore_state(&s.state)?;
            self.bus.refresh_mappings(s.slot);
        }
        Ok(())
    }
}

impl Drop for VirtioDevices {
    fn drop(&mut self) {
        self.stop();
    }
}

fn lock(f: &Mutex<VirtioPciDevice>) -> std::sync::MutexGuard<'_, VirtioPciDevice> {
    f.lock().unwrap_or_else(|e| e.into_inner())
}

/// The IOAPIC pin of `slot`'s INTA#, as the DSDT's `_PRT` says.
pub fn intx_gsi(slot: usize) -> u32 {
    layout::PCI_INTX_GSI_BASE + (slot % 8) as u32
}
