//! The ACPI PM1a event and control registers (fixed hardware): the power
//! button's status/enable bits, which drive the SCI, and SLP_TYP/SLP_EN,
//! through which the guest powers off.

use crate::vmm::arch::layout::{PM1A_CNT_PORT, PM1A_EVT_PORT};
use crate::vmm::devices::BusDevice;
use crate::vmm::vstate::vm::LevelIrq;
use serde::{Deserialize, Serialize};

/// PM1 status/enable: power button.
const PWRBTN: u16 = 1 << 8;
/// PM1 control: SCI enabled (always: there is no legacy mode).
const SCI_EN: u16 = 1;
/// PM1 control: sleep enable (write-only).
const SLP_EN: u16 = 1 << 13;
const SLP_TYP_SHIFT: u16 = 10;
const SLP_TYP_MASK: u16 = 0x7;
/// The sleep type `\_S5` names.
const S5: u16 = 5;

/// Saved registers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AcpiPmState {
    /// PM1 status.
    pub status: u16,
    /// PM1 enable.
    pub enable: u16,
    /// PM1 control (without SLP_EN).
    pub control: u16,
}

/// The PM1a registers, spanning the event and control blocks.
pub struct AcpiPm {
    state: AcpiPmState,
    sci: LevelIrq,
    on_power_off: Box<dyn Fn() + Send>,
}

impl AcpiPm {
    /// First port of the device on the I/O bus.
    pub const BASE: u16 = PM1A_EVT_PORT;
    /// Ports covered (event block + control block).
    pub const LEN: u16 = PM1A_CNT_PORT + 2 - PM1A_EVT_PORT;

    /// PM registers raising `sci`, calling `on_power_off` when the guest
    /// enters S5.
    pub fn new(sci: LevelIrq, on_power_off: Box<dyn Fn() + Send>) -> Self {
        AcpiPm {
            state: AcpiPmState::default(),
            sci,
            on_power_off,
        }
    }

    /// The registers, for saving.
    pub fn state(&self) -> AcpiPmState {
        self.state
    }

    /// Puts the registers in the saved state `state` (from a snapshot); the
    /// SCI line follows them.
    pub fn restore(&mut self, state: AcpiPmState) {
        self.state = state;
        self.update_sci();
    }

    /// Presses the power button: the guest sees it if it enabled the event.
    pub fn press_power_button(&mut self) {
        self.state.status |= PWRBTN;
        self.update_sci();
    }

    /// Whether the guest has enabled the power button event (an OS that
    /// listens to ACPI).
    pub fn power_button_enabled(&self) -> bool {
        self.state.enable & PWRBTN != 0
    }

    fn update_sci(&self) {
        let level = self.state.status & self.state.enable != 0;
        // The line is level-triggered: a failed ioctl is retried by the
        // next register access.
        let _ = self.sci.set(level);
    }

    fn register(&self, offset: u64) -> u16 {
        match offset / 2 {
            0 => self.state.status,
            1 => self.state.enable,
            _ => self.state.control | SCI_EN,
        }
    }

    fn write_register(&mut self, index: u64, value: u16, mask: u16) {
        match index {
            // Status bits are cleared by writing ones.
            0 => self.state.status &= !(value & mask),
            1 => self.state.enable = (self.state.enable & !mask) | (value & mask),
            _ => {
                let value = (self.state.control & !mask) | (value & mask);
                self.state.control = value & !SLP_EN;
                if value & SLP_EN != 0 && (value >> SLP_TYP_SHIFT) & SLP_TYP_MASK == S5 {
                    (self.on_power_off)();
                }
            }
        }
        self.update_sci();
    }
}

impl BusDevice for AcpiPm {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        for (i, byte) in data.iter_mut().enumerate() {
            let at = offset + i as u64;
            let reg = self.register(at);
            *byte = if at % 2 == 0 {
                reg as u8
            } else {
                (reg >> 8) as u8
            };
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) {
        // Gather the bytes per 16-bit register so SLP_TYP and SLP_EN written
        // together act together.
        let mut at = offset;
        let mut rest = data;
        while let Some((&first, tail)) = rest.split_first() {
            let index = at / 2;
            if at % 2 == 0 {
                if let Some((&second, tail2)) = tail.split_first() {
                    self.write_register(index, u16::from_le_bytes([first, second]), 0xffff);
                    rest = tail2;
                    at += 2;
                    continue;
                }
                self.write_register(index, u16::from(first), 0x00ff);
            } else {
                self.write_register(index, u16::from(first) << 8, 0xff00);
            }
            rest = tail;
            at += 1;
        }
    }
}
