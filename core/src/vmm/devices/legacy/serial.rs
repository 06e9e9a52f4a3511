//! COM1: vm-superio's 16550 with its interrupt on an irqfd, output to the
//! console hub and input queued until the guest's receive FIFO has room.

use crate::vmm::console::{ConsoleHub, ConsoleInput, ConsoleWriter};
use crate::vmm::devices::BusDevice;
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use vm_superio::serial::{NoEvents, SerialState};
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

/// Offset of the receive buffer register.
const RBR: u64 = 0;
/// Most input bytes held back while the guest is not reading.
const MAX_PENDING: usize = 64 * 1024;

/// An interrupt raised by writing to an irqfd.
pub struct IrqEvent(pub EventFd);

impl Trigger for IrqEvent {
    type E = std::io::Error;

    fn trigger(&self) -> Result<(), Self::E> {
        self.0.write(1)
    }
}

/// The serial port on the I/O bus.
pub struct SerialDevice {
    serial: Serial<IrqEvent, NoEvents, ConsoleWriter>,
    pending: VecDeque<u8>,
}

impl SerialDevice {
    /// A UART in its power-on state writing to `hub`, interrupting via `irq`.
    pub fn new(irq: IrqEvent, hub: Arc<ConsoleHub>) -> Self {
        SerialDevice {
            serial: Serial::new(irq, ConsoleWriter(hub)),
            pending: VecDeque::new(),
        }
    }

    /// A UART in the saved state `state` (from a snapshot).
    pub fn from_state(
        irq: IrqEvent,
        hub: Arc<ConsoleHub>,
        state: &SerialState,
    ) -> Result<Self, String> {
        let serial = Serial::from_state(state, irq, NoEvents, ConsoleWriter(hub))
            .map_err(|e| format!("serial port: {e:?}"))?;
        Ok(SerialDevice {
            serial,
            pending: VecDeque::new(),
        })
    }

    /// The UART's registers, for saving.
    pub fn state(&self) -> SerialState {
        self.serial.state()
    }

    fn fill_fifo(&mut self) {
        while !self.pending.is_empty() && self.serial.fifo_capacity() > 0 {
            let n = self.serial.fifo_capacity().min(self.pending.len());
            let chunk: Vec<u8> = self.pending.drain(..n).collect();
            if self.serial.enqueue_raw_bytes(&chunk).is_err() {
                break;
            }
        }
    }
}

impl BusDevice for SerialDevice {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        if let Some(first) = data.first_mut() {
            *first = self.serial.read(offset as u8);
        }
        if offset == RBR {
            self.fill_fifo();
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) {
        if let Some(value) = data.first() {
            // Errors here are a failed interrupt or console write: the guest
            // carries on, as with a disconnected cable.
            let _ = self.serial.write(offset as u8, *value);
        }
    }
}

impl ConsoleInput for Mutex<SerialDevice> {
    fn input(&self, bytes: &[u8]) {
        let mut dev = self.lock().unwrap_or_else(|e| e.into_inner());
        let room = MAX_PENDING.saturating_sub(dev.pending.len());
        dev.pending.extend(&bytes[..bytes.len().min(room)]);
        dev.fill_fifo();
    }
}
