//! The virtio-input configuration space (virtio 1.2, 5.8.4): the driver
//! writes `select` and `subsel`, then reads `size` and the answer in the
//! 128-byte union that follows. Layout: `u8 select` at 0, `u8 subsel` at
//! 1, `u8 size` at 2, 5 reserved bytes, the union at 8.

use super::event::{ev, ABS_MAX, ABS_X, ABS_Y, BTN_LEFT, BTN_MIDDLE, BTN_RIGHT, REL_WHEEL};
use super::event::{keyboard_keys, KEYBOARD_LEDS};
use super::InputKind;

/// What the driver asks for (`select`).
pub mod select {
    /// Nothing: size 0.
    pub const UNSET: u8 = 0x00;
    /// The device's name (a string).
    pub const ID_NAME: u8 = 0x01;
    /// Its serial number (a string).
    pub const ID_SERIAL: u8 = 0x02;
    /// Bus type, vendor, product and version (`virtio_input_devids`).
    pub const ID_DEVIDS: u8 = 0x03;
    /// Input properties (`INPUT_PROP_*` bitmap).
    pub const PROP_BITS: u8 = 0x10;
    /// Codes of event type `subsel` the device sends (a bitmap).
    pub const EV_BITS: u8 = 0x11;
    /// Range of absolute axis `subsel` (`virtio_input_absinfo`).
    pub const ABS_INFO: u8 = 0x12;
}

/// Offset of the answer.
const UNION_OFFSET: usize = 8;
/// Largest answer.
const UNION_SIZE: usize = 128;
/// Size of the whole configuration space.
pub const CONFIG_SIZE: usize = UNION_OFFSET + UNION_SIZE;
/// `BUS_VIRTUAL` of `linux/input.h`.
const BUS_VIRTUAL: u16 = 0x06;
/// Vendor id in `ID_DEVIDS`: QEMU's, so the guest's quirk tables treat
/// the devices as the virtio-input devices they already know.
const VENDOR: u16 = 0x0627;

/// The driver's `select`/`subsel` and the device's answers to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConfigSpace {
    /// Last `select` written.
    pub select: u8,
    /// Last `subsel` written.
    pub subsel: u8,
}

impl ConfigSpace {
    /// Takes a driver write at `offset` (only `select` and `subsel` are
    /// writable; the rest is ignored).
    pub fn write(&mut self, offset: u64, data: &[u8]) {
        for (i, byte) in data.iter().enumerate() {
            match offset.checked_add(i as u64) {
                Some(0) => self.select = *byte,
                Some(1) => self.subsel = *byte,
                _ => {}
            }
        }
    }

    /// Fills `data` with the bytes at `offset` of the space as seen by a
    /// `kind` device (zeros past its end).
    pub fn read(&self, kind: InputKind, serial: &str, offset: u64, data: &mut [u8]) {
        let space = self.bytes(kind, serial);
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = usize::try_from(offset)
                .ok()
                .and_then(|o| o.checked_add(i))
                .and_then(|at| space.get(at).copied())
                .unwrap_or(0);
        }
    }

    /// The whole space for the current selection.
    pub fn bytes(&self, kind: InputKind, serial: &str) -> [u8; CONFIG_SIZE] {
        let answer = answer(kind, serial, self.select, self.subsel);
        let len = answer.len().min(UNION_SIZE);
        let mut space = [0u8; CONFIG_SIZE];
        space[0] = self.select;
        space[1] = self.subsel;
        space[2] = len as u8;
        space[UNION_OFFSET..UNION_OFFSET + len].copy_from_slice(&answer[..len]);
        space
    }
}

/// The answer to `select`/`subsel` for a `kind` device; empty (size 0)
/// for what it does not have.
pub fn answer(kind: InputKind, serial: &str, select: u8, subsel: u8) -> Vec<u8> {
    match (select, subsel) {
        (select::ID_NAME, 0) => kind.device_name().as_bytes().to_vec(),
        (select::ID_SERIAL, 0) => serial.as_bytes().to_vec(),
        (select::ID_DEVIDS, 0) => [BUS_VIRTUAL, VENDOR, kind.product_id(), 1]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect(),
        // No INPUT_PROP_* property (a tablet is not INPUT_PROP_DIRECT: the
        // guest moves its own pointer to where the client's is).
        (select::PROP_BITS, 0) => Vec::new(),
        (select::EV_BITS, event_type) => bitmap(&event_codes(kind, u16::from(event_type))),
        (select::ABS_INFO, axis) if kind == InputKind::Tablet && is_tablet_axis(axis) => {
            // min, max, fuzz, flat, resolution.
            [0, ABS_MAX, 0, 0, 0]
                .iter()
                .flat_map(|v: &u32| v.to_le_bytes())
                .collect()
        }
        _ => Vec::new(),
    }
}

fn is_tablet_axis(axis: u8) -> bool {
    u16::from(axis) == ABS_X || u16::from(axis) == ABS_Y
}

/// The codes of `event_type` a `kind` device sends. EV_REP answers with
/// an empty-but-present bitmap: the driver only checks that it is there.
fn event_codes(kind: InputKind, event_type: u16) -> Vec<u16> {
    match (kind, event_type) {
        (InputKind::Tablet, ev::KEY) => vec![BTN_LEFT, BTN_RIGHT, BTN_MIDDLE],
        (InputKind::Tablet, ev::REL) => vec![REL_WHEEL],
        (InputKind::Tablet, ev::ABS) => vec![ABS_X, ABS_Y],
        (InputKind::Keyboard, ev::KEY) => keyboard_keys().collect(),
        (InputKind::Keyboard, ev::LED) => KEYBOARD_LEDS.to_vec(),
        (InputKind::Keyboard, ev::REP) => vec![u16::MAX],
        _ => Vec::new(),
    }
}

/// A bitmap with bit `code` set for each code (little-endian bytes, as
/// long as the highest code needs). `u16::MAX` alone stands for "present
/// but empty": one zero byte.
fn bitmap(codes: &[u16]) -> Vec<u8> {
    if codes == [u16::MAX] {
        return vec![0];
    }
    let Some(highest) = codes.iter().max() else {
        return Vec::new();
    };
    let mut bits = vec![0u8; usize::from(*highest) / 8 + 1];
    for code in codes {
        bits[usize::from(*code) / 8] |= 1 << (code % 8);
    }
    bits
}
