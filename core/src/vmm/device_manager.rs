//! Creates the devices of one boot and places them on the I/O and MMIO
//! buses with their interrupt lines. The virtio devices have their own
//! manager ([`virtio`]) on the PCI bus, which shares these buses.

pub mod virtio;

use super::arch::layout;
use super::console::{ConsoleHub, ConsoleInput};
use super::devices::legacy::{AcpiPm, IrqEvent, SerialDevice, I8042};
use super::devices::virtio::input::{InputHandle, InputKind};
use super::devices::{Bus, BusError};
use super::display::InputSink;
use super::snapshot::{DeviceStates, SerialRegs};
use super::vstate::vm::{Vm, VmError};
use super::GuestEvent;
use std::sync::{Arc, Mutex, Weak};

/// Errors creating devices.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    /// An interrupt line could not be set up.
    #[error("device interrupt: {0}")]
    Irq(#[from] VmError),
    /// Two devices claim the same addresses.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// The virtio devices.
    #[error(transparent)]
    Virtio(#[from] virtio::VirtioSetupError),
    /// A saved device state cannot be applied.
    #[error("cannot restore the {0}")]
    Restore(String),
}

/// Reports guest-initiated machine events (power-off, reset).
pub type GuestEventSink = Arc<dyn Fn(GuestEvent) + Send + Sync>;

/// The i8042's keyboard as the display's key input.
pub struct I8042Keyboard(pub Arc<Mutex<I8042>>);

impl InputSink for I8042Keyboard {
    fn key(&self, scancode: u16, down: bool) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .key(scancode, down);
    }
}

/// The guest's keyboards and pointer as the display's input.
///
/// Keys go to the last virtio keyboard (document order) whose driver is
/// running, else to the i8042: QEMU likewise gives keys to the keyboard
/// activated most recently, which is the virtio one once its driver has
/// loaded, and to the PS/2 keyboard before (in the firmware, the boot
/// loader, an initramfs without virtio_input). The pointer goes to the
/// last running virtio tablet; without one it is dropped (there is no
/// PS/2 mouse).
pub struct GuestInput {
    /// The PS/2 keyboard every machine has.
    pub i8042: I8042Keyboard,
    /// The virtio-input devices, in document order.
    pub virtio: Vec<InputHandle>,
}

impl InputSink for GuestInput {
    fn key(&self, scancode: u16, down: bool) {
        let to_virtio = self
            .virtio
            .iter()
            .rev()
            .filter(|h| h.kind() == InputKind::Keyboard && h.is_active())
            .any(|h| h.key(scancode, down));
        if !to_virtio {
            self.i8042.key(scancode, down);
        }
    }

    fn pointer(&self, x: u16, y: u16, buttons: u8, width: u32, height: u32) {
        // The first running tablet from the end takes it.
        let _ = self
            .virtio
            .iter()
            .rev()
            .filter(|h| h.kind() == InputKind::Tablet)
            .any(|h| h.pointer(x, y, buttons, width, height));
    }

    fn absolute_pointer(&self) -> bool {
        self.virtio.iter().any(|h| h.kind() == InputKind::Tablet)
    }
}

/// The PC legacy devices of one boot and the buses they sit on.
pub struct LegacyDevices {
    /// Port I/O bus.
    pub io_bus: Arc<Bus>,
    /// MMIO bus (the PCI BAR window).
    pub mmio_bus: Arc<Bus>,
    /// COM1.
    pub serial: Arc<Mutex<SerialDevice>>,
    /// The ACPI PM registers and power button.
    pub pm: Arc<Mutex<AcpiPm>>,
    /// The keyboard controller.
    pub i8042: Arc<Mutex<I8042>>,
}

impl LegacyDevices {
    /// Creates COM1, the i8042 and the ACPI PM block for `vm`; `attach`
    /// puts other device families (the PCI bus) on the I/O and MMIO buses
    /// before they are frozen.
    pub fn create(
        vm: &Vm,
        hub: &Arc<ConsoleHub>,
        guest_events: GuestEventSink,
        attach: impl FnOnce(&mut Bus, &mut Bus) -> Result<(), BusError>,
    ) -> Result<Self, DeviceError> {
        Self::build(vm, hub, guest_events, None, attach)
    }

    /// Creates the devices in the states saved in a snapshot.
    pub fn restore(
        vm: &Vm,
        hub: &Arc<ConsoleHub>,
        guest_events: GuestEventSink,
        saved: &DeviceStates,
        attach: impl FnOnce(&mut Bus, &mut Bus) -> Result<(), BusError>,
    ) -> Result<Self, DeviceError> {
        Self::build(vm, hub, guest_events, Some(saved), attach)
    }

    /// The devices' states, for a snapshot (virtio devices are added by
    /// their own manager).
    pub fn save_state(&self) -> DeviceStates {
        let serial = self
            .serial
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .state();
        DeviceStates {
            serial: SerialRegs::from(&serial),
            i8042: self.i8042.lock().unwrap_or_else(|e| e.into_inner()).state(),
            acpi_pm: self.pm.lock().unwrap_or_else(|e| e.into_inner()).state(),
            virtio: Vec::new(),
        }
    }

    fn build(
        vm: &Vm,
        hub: &Arc<ConsoleHub>,
        guest_events: GuestEventSink,
        saved: Option<&DeviceStates>,
        attach: impl FnOnce(&mut Bus, &mut Bus) -> Result<(), BusError>,
    ) -> Result<Self, DeviceError> {
        let serial_irq = IrqEvent(vm.irq_eventfd(layout::COM1_IRQ)?);
        let serial = match saved {
            Some(s) => SerialDevice::from_state(
                serial_irq,
                Arc::clone(hub),
                &vm_superio::serial::SerialState::from(&s.serial),
            )
            .map_err(DeviceError::Restore)?,
            None => SerialDevice::new(serial_irq, Arc::clone(hub)),
        };
        let serial = Arc::new(Mutex::new(serial));
        let input: Arc<dyn ConsoleInput> = serial.clone();
        let weak: Weak<dyn ConsoleInput> = Arc::downgrade(&input);
        hub.set_input(weak);

        let reset = Arc::clone(&guest_events);
        let i8042 = Arc::new(Mutex::new(I8042::new(
            IrqEvent(vm.irq_eventfd(1)?),
            Box::new(move || reset(GuestEvent::Reset)),
        )));
        let power_off = Arc::clone(&guest_events);
        let pm = Arc::new(Mutex::new(AcpiPm::new(
            vm.level_irq(layout::SCI_IRQ),
            Box::new(move || power_off(GuestEvent::PowerOff)),
        )));

        if let Some(s) = saved {
            i8042
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .restore(&s.i8042);
            pm.lock()
                .unwrap_or_else(|e| e.into_inner())
                .restore(s.acpi_pm);
        }

        let mut io_bus = Bus::new();
        io_bus.insert(serial.clone(), u64::from(layout::COM1_PORT), 8)?;
        io_bus.insert(i8042.clone(), u64::from(layout::I8042_DATA_PORT), 1)?;
        io_bus.insert(i8042.clone(), u64::from(layout::I8042_COMMAND_PORT), 1)?;
        io_bus.insert(pm.clone(), u64::from(AcpiPm::BASE), u64::from(AcpiPm::LEN))?;
        let mut mmio_bus = Bus::new();
        attach(&mut io_bus, &mut mmio_bus)?;
        Ok(LegacyDevices {
            io_bus: Arc::new(io_bus),
            mmio_bus: Arc::new(mmio_bus),
            serial,
            pm,
            i8042,
        })
    }

    /// Presses the ACPI power button.
    pub fn press_power_button(&self) {
        self.pm
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .press_power_button();
    }
}
