//! The i8042 keyboard controller, as much as Linux needs: its command set
//! (configuration byte, self tests, output port), a keyboard that answers
//! its commands, and the CPU reset line (command 0xFE), which is how the
//! guest reboots. Keys from the graphical console arrive as XT scancodes
//! and reach the guest in set 1 through the controller's translation (what
//! Linux's atkbd expects), or in set 2 when the guest turned it off.

use crate::vmm::devices::BusDevice;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use vm_superio::Trigger;

use super::IrqEvent;
use crate::vmm::display::keymap;

const STATUS_OUTPUT_FULL: u8 = 1;
const STATUS_SYSTEM_FLAG: u8 = 1 << 2;
const STATUS_LAST_WAS_COMMAND: u8 = 1 << 3;
const CTR_KBD_INT: u8 = 1;
const CTR_SYSTEM_FLAG: u8 = 1 << 2;
const CTR_KBD_DISABLE: u8 = 1 << 4;
const CTR_AUX_DISABLE: u8 = 1 << 5;
const CTR_XLATE: u8 = 1 << 6;

const CMD_READ_CTR: u8 = 0x20;
const CMD_WRITE_CTR: u8 = 0x60;
const CMD_SELF_TEST: u8 = 0xaa;
const CMD_KBD_TEST: u8 = 0xab;
const CMD_KBD_DISABLE: u8 = 0xad;
const CMD_KBD_ENABLE: u8 = 0xae;
const CMD_READ_OUTPORT: u8 = 0xd0;
const CMD_WRITE_OUTPORT: u8 = 0xd1;
const CMD_WRITE_KBD_OUTBUF: u8 = 0xd2;
const CMD_RESET_CPU: u8 = 0xfe;

const KBD_ACK: u8 = 0xfa;
const KBD_RESET: u8 = 0xff;
const KBD_SELF_TEST_OK: u8 = 0xaa;
const KBD_GET_ID: u8 = 0xf2;
const KBD_SET_LEDS: u8 = 0xed;
const KBD_SET_RATE: u8 = 0xf3;
const KBD_SCANCODE_SET: u8 = 0xf0;
const KBD_ENABLE: u8 = 0xf4;
const KBD_DISABLE: u8 = 0xf5;
const KBD_SET_DEFAULTS: u8 = 0xf6;
/// Bytes queued for the guest beyond which new keys are dropped (a guest
/// that does not read its keyboard must not make the VMM grow).
const OUTPUT_LIMIT: usize = 256;

/// Saved controller state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct I8042State {
    /// Status register.
    pub status: u8,
    /// Configuration byte.
    pub ctr: u8,
    /// Output port.
    pub outport: u8,
    /// Bytes waiting for the guest.
    pub output: Vec<u8>,
    /// The controller command whose data byte comes next.
    pub pending_command: Option<u8>,
    /// The keyboard command whose parameter comes next.
    pub pending_kbd_command: Option<u8>,
    /// The keyboard stopped scanning (command 0xF5).
    #[serde(default)]
    pub kbd_scanning_off: bool,
}

/// The controller on ports 0x60 and 0x64.
pub struct I8042 {
    status: u8,
    ctr: u8,
    outport: u8,
    output: VecDeque<u8>,
    pending_command: Option<u8>,
    pending_kbd_command: Option<u8>,
    kbd_scanning_off: bool,
    irq: IrqEvent,
    on_reset: Box<dyn Fn() + Send>,
}

impl I8042 {
    /// A controller raising IRQ 1 through `irq`, calling `on_reset` when
    /// the guest pulses the reset line.
    pub fn new(irq: IrqEvent, on_reset: Box<dyn Fn() + Send>) -> Self {
        I8042 {
            status: STATUS_SYSTEM_FLAG,
            ctr: CTR_KBD_INT | CTR_SYSTEM_FLAG | CTR_XLATE | CTR_AUX_DISABLE,
            outport: 0x01, // reset line inactive
            output: VecDeque::new(),
            pending_command: None,
            pending_kbd_command: None,
            kbd_scanning_off: false,
            irq,
            on_reset,
        }
    }

    /// Puts the controller in the saved state `state` (from a snapshot).
    pub fn restore(&mut self, state: &I8042State) {
        self.status = state.status;
        self.ctr = state.ctr;
        self.outport = state.outport;
        self.output = state.output.iter().copied().collect();
        self.pending_command = state.pending_command;
        self.pending_kbd_command = state.pending_kbd_command;
    }

    /// The controller's state, for saving.
    pub fn state(&self) -> I8042State {
        I8042State {
            status: self.status,
            ctr: self.ctr,
            outport: self.outport,
            output: self.output.iter().copied().collect(),
            pending_command: self.pending_command,
            pending_kbd_command: self.pending_kbd_command,
            kbd_scanning_off: self.kbd_scanning_off,
        }
    }

    /// A key pressed (`down`) or released on the keyboard, as an XT
    /// scancode (0xe0xx for extended keys). Dropped while the guest has
    /// the keyboard disabled or has not read what came before.
    pub fn key(&mut self, scancode: u16, down: bool) {
        if self.kbd_scanning_off || self.ctr & CTR_KBD_DISABLE != 0 {
            return;
        }
        let bytes = if self.ctr & CTR_XLATE != 0 {
            keymap::set1_bytes(scancode, down)
        } else {
            keymap::set2_bytes(scancode, down)
        };
        if self.output.len() + bytes.len() > OUTPUT_LIMIT {
            return;
        }
        for byte in bytes {
            self.push(byte);
        }
    }

    fn push(&mut self, byte: u8) {
        self.output.push_back(byte);
        self.raise();
    }

    fn raise(&mut self) {
        if self.output.is_empty() {
            self.status &= !STATUS_OUTPUT_FULL;
            return;
        }
        self.status |= STATUS_OUTPUT_FULL;
        if self.ctr & CTR_KBD_INT != 0 {
            // A lost interrupt only delays the guest's poll of the buffer.
            let _ = self.irq.trigger();
        }
    }

    fn command(&mut self, cmd: u8) {
        self.status |= STATUS_LAST_WAS_COMMAND;
        match cmd {
            CMD_READ_CTR => self.push(self.ctr),
            CMD_WRITE_CTR | CMD_WRITE_OUTPORT | CMD_WRITE_KBD_OUTBUF => {
                self.pending_command = Some(cmd)
            }
            CMD_SELF_TEST => self.push(0x55),
            CMD_KBD_TEST => self.push(0x00),
            CMD_KBD_DISABLE => self.ctr |= CTR_KBD_DISABLE,
            CMD_KBD_ENABLE => self.ctr &= !CTR_KBD_DISABLE,
            CMD_READ_OUTPORT => self.push(self.outport),
            // 0xF0-0xFF pulse output port lines; bit 0 low is the CPU reset.
            CMD_RESET_CPU => (self.on_reset)(),
            c if c >= 0xf0 && c & 1 == 0 => (self.on_reset)(),
            // No auxiliary (mouse) port: its commands get no answer.
            _ => {}
        }
    }

    fn data(&mut self, byte: u8) {
        self.status &= !STATUS_LAST_WAS_COMMAND;
        match self.pending_command.take() {
            Some(CMD_WRITE_CTR) => self.ctr = byte,
            Some(CMD_WRITE_OUTPORT) => {
                self.outport = byte;
                if byte & 1 == 0 {
                    (self.on_reset)();
                }
            }
            Some(CMD_WRITE_KBD_OUTBUF) => self.push(byte),
            _ => self.keyboard(byte),
        }
    }

    /// A byte sent to the keyboard itself.
    fn keyboard(&mut self, byte: u8) {
        if let Some(command) = self.pending_kbd_command.take() {
            self.push(KBD_ACK);
            // "Get scancode set": we answer set 2, the keyboard's native set.
            if command == KBD_SCANCODE_SET && byte == 0 {
                self.push(0x02);
            }
            return;
        }
        match byte {
            KBD_RESET => {
                self.kbd_scanning_off = false;
                self.push(KBD_ACK);
                self.push(KBD_SELF_TEST_OK);
            }
            KBD_GET_ID => {
                self.push(KBD_ACK);
                self.push(0xab);
                self.push(0x83);
            }
            KBD_ENABLE => {
                self.kbd_scanning_off = false;
                self.push(KBD_ACK);
            }
            KBD_DISABLE => {
                self.kbd_scanning_off = true;
                self.push(KBD_ACK);
            }
            KBD_SET_DEFAULTS => {
                self.kbd_scanning_off = false;
                self.push(KBD_ACK);
            }
            KBD_SET_LEDS | KBD_SET_RATE | KBD_SCANCODE_SET => {
                self.pending_kbd_command = Some(byte);
                self.push(KBD_ACK);
            }
            _ => self.push(KBD_ACK),
        }
    }
}

impl BusDevice for I8042 {
    fn read(&mut self, base: u64, _offset: u64, data: &mut [u8]) {
        let value = if base == 0x64 {
            self.status
        } else {
            let byte = self.output.pop_front().unwrap_or(0);
            self.raise();
            byte
        };
        data.fill(0);
        if let Some(first) = data.first_mut() {
            *first = value;
        }
    }

    fn write(&mut self, base: u64, _offset: u64, data: &[u8]) {
        let Some(&value) = data.first() else { return };
        if base == 0x64 {
            self.command(value);
        } else {
            self.data(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use vmm_sys_util::eventfd::EventFd;

    fn controller() -> (I8042, Arc<AtomicBool>) {
        let reset = Arc::new(AtomicBool::new(false));
        let flag = reset.clone();
        let evt = EventFd::new(libc::EFD_NONBLOCK).expect("eventfd");
        let dev = I8042::new(
            IrqEvent(evt),
            Box::new(move || flag.store(true, Ordering::SeqCst)),
        );
        (dev, reset)
    }

    #[test]
    fn reset_command_pulls_the_reset_line() {
        let (mut dev, reset) = controller();
        dev.write(0x64, 0, &[CMD_RESET_CPU]);
        assert!(reset.load(Ordering::SeqCst));
    }

    #[test]
    fn configuration_byte_round_trips() {
        let (mut dev, _) = controller();
        dev.write(0x64, 0, &[CMD_WRITE_CTR]);
        dev.write(0x60, 0, &[0x47]);
        dev.write(0x64, 0, &[CMD_READ_CTR]);
        let mut b = [0u8];
        dev.read(0x64, 0, &mut b);
        assert_eq!(b[0] & STATUS_OUTPUT_FULL, 1);
        dev.read(0x60, 0, &mut b);
        assert_eq!(b[0], 0x47);
        dev.read(0x64, 0, &mut b);
        assert_eq!(b[0] & STATUS_OUTPUT_FULL, 0);
    }

    fn drain(dev: &mut I8042) -> Vec<u8> {
        let mut out = Vec::new();
        let mut b = [0u8];
        loop {
            dev.read(0x64, 0, &mut b);
            if b[0] & STATUS_OUTPUT_FULL == 0 {
                return out;
            }
            dev.read(0x60, 0, &mut b);
            out.push(b[0]);
        }
    }

    #[test]
    fn keys_arrive_translated_to_set_1_or_raw_in_set_2() {
        let (mut dev, _) = controller();
        dev.key(0x1e, true);
        dev.key(0xe01d, false);
        assert_eq!(drain(&mut dev), vec![0x1e, 0xe0, 0x9d]);
        // The guest turns translation off: set 2 bytes.
        dev.write(0x64, 0, &[CMD_WRITE_CTR]);
        dev.write(0x60, 0, &[CTR_KBD_INT | CTR_SYSTEM_FLAG]);
        dev.key(0x1e, false);
        assert_eq!(drain(&mut dev), vec![0xf0, 0x1c]);
        // Scanning disabled: keys are dropped.
        dev.write(0x60, 0, &[KBD_DISABLE]);
        assert_eq!(drain(&mut dev), vec![KBD_ACK]);
        dev.key(0x1e, true);
        assert!(drain(&mut dev).is_empty());
        dev.write(0x60, 0, &[KBD_ENABLE]);
        dev.key(0x1e, true);
        assert_eq!(drain(&mut dev), vec![KBD_ACK, 0x1c]);
    }

    #[test]
    fn an_unread_keyboard_does_not_grow_without_bound() {
        let (mut dev, _) = controller();
        for _ in 0..10_000 {
            dev.key(0x1e, true);
        }
        assert_eq!(drain(&mut dev).len(), OUTPUT_LIMIT);
    }

    #[test]
    fn keyboard_answers_reset_with_ack_and_self_test() {
        let (mut dev, _) = controller();
        dev.write(0x60, 0, &[KBD_RESET]);
        let mut b = [0u8];
        dev.read(0x60, 0, &mut b);
        assert_eq!(b[0], KBD_ACK);
        dev.read(0x60, 0, &mut b);
        assert_eq!(b[0], KBD_SELF_TEST_OK);
    }
}
