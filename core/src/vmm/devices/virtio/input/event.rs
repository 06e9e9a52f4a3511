//! Linux input events as virtio-input carries them (virtio 1.2, 5.8.6):
//! 8 bytes each, `le16 type`, `le16 code`, `le32 value`, the same numbers
//! as the kernel's `linux/input-event-codes.h`; and the translation of
//! the display's XT scancodes to Linux key codes.

/// Event types (`EV_*`).
pub mod ev {
    /// Marks the end of a batch (`SYN_REPORT` code 0).
    pub const SYN: u16 = 0x00;
    /// Keys and buttons.
    pub const KEY: u16 = 0x01;
    /// Relative axes (the wheel).
    pub const REL: u16 = 0x02;
    /// Absolute axes.
    pub const ABS: u16 = 0x03;
    /// Keyboard LEDs (driver → device on the status queue).
    pub const LED: u16 = 0x11;
    /// Autorepeat: the guest's input core repeats held keys itself.
    pub const REP: u16 = 0x14;
}

/// `BTN_LEFT`.
pub const BTN_LEFT: u16 = 0x110;
/// `BTN_RIGHT`.
pub const BTN_RIGHT: u16 = 0x111;
/// `BTN_MIDDLE`.
pub const BTN_MIDDLE: u16 = 0x112;
/// `REL_WHEEL`.
pub const REL_WHEEL: u16 = 0x08;
/// `ABS_X`.
pub const ABS_X: u16 = 0x00;
/// `ABS_Y`.
pub const ABS_Y: u16 = 0x01;
/// `LED_NUML`, `LED_CAPSL`, `LED_SCROLLL`: the LEDs a PC keyboard has.
pub const KEYBOARD_LEDS: [u16; 3] = [0, 1, 2];
/// Largest value of the tablet's axes (both start at 0), as QEMU's tablet.
pub const ABS_MAX: u32 = 32767;

/// One input event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputEvent {
    /// `EV_*`.
    pub kind: u16,
    /// Key, button or axis code.
    pub code: u16,
    /// 1 press / 0 release, an axis position or a relative step.
    pub value: u32,
}

impl InputEvent {
    /// The `SYN_REPORT` that ends a batch.
    pub const SYN_REPORT: InputEvent = InputEvent {
        kind: ev::SYN,
        code: 0,
        value: 0,
    };

    /// A key or button press (`down`) or release.
    pub fn key(code: u16, down: bool) -> InputEvent {
        InputEvent {
            kind: ev::KEY,
            code,
            value: u32::from(down),
        }
    }

    /// The event as the driver reads it (`struct virtio_input_event`).
    pub fn to_bytes(self) -> [u8; 8] {
        let mut out = [0u8; 8];
        out[..2].copy_from_slice(&self.kind.to_le_bytes());
        out[2..4].copy_from_slice(&self.code.to_le_bytes());
        out[4..].copy_from_slice(&self.value.to_le_bytes());
        out
    }
}

/// Scales `position` on a screen `size` pixels wide to 0..=[`ABS_MAX`]:
/// the first pixel is 0, the last is `ABS_MAX` (positions past the edge
/// count as the edge).
pub fn scale_axis(position: u32, size: u32) -> u32 {
    let last = size.saturating_sub(1);
    if last == 0 {
        return 0;
    }
    let position = u64::from(position.min(last));
    (position * u64::from(ABS_MAX) / u64::from(last)) as u32
}

/// Extended scancodes (0xe0 prefix) and the Linux key each one is.
const EXTENDED_KEYS: [(u8, u16); 24] = [
    (0x1c, 96),  // KEY_KPENTER
    (0x1d, 97),  // KEY_RIGHTCTRL
    (0x20, 113), // KEY_MUTE
    (0x2e, 114), // KEY_VOLUMEDOWN
    (0x30, 115), // KEY_VOLUMEUP
    (0x35, 98),  // KEY_KPSLASH
    (0x37, 99),  // KEY_SYSRQ (PrintScreen)
    (0x38, 100), // KEY_RIGHTALT
    (0x46, 119), // KEY_PAUSE (Ctrl+Break)
    (0x47, 102), // KEY_HOME
    (0x48, 103), // KEY_UP
    (0x49, 104), // KEY_PAGEUP
    (0x4b, 105), // KEY_LEFT
    (0x4d, 106), // KEY_RIGHT
    (0x4f, 107), // KEY_END
    (0x50, 108), // KEY_DOWN
    (0x51, 109), // KEY_PAGEDOWN
    (0x52, 110), // KEY_INSERT
    (0x53, 111), // KEY_DELETE
    (0x5b, 125), // KEY_LEFTMETA
    (0x5c, 126), // KEY_RIGHTMETA
    (0x5d, 127), // KEY_COMPOSE (Menu)
    (0x5e, 116), // KEY_POWER
    (0x5f, 142), // KEY_SLEEP
];

/// Plain scancodes past the ones equal to their Linux code.
const OTHER_KEYS: [(u8, u16); 8] = [
    (0x54, 99), // Alt+SysRq → KEY_SYSRQ
    (0x56, 86), // KEY_102ND
    (0x57, 87), // KEY_F11
    (0x58, 88), // KEY_F12
    (0x70, 93), // KEY_KATAKANAHIRAGANA
    (0x73, 89), // KEY_RO
    (0x79, 92), // KEY_HENKAN
    (0x7b, 94), // KEY_MUHENKAN
];

/// The Linux key code of an XT (set 1) scancode as the display passes it
/// (0xe0 in the high byte for extended keys); None for keys a virtio
/// keyboard does not have.
pub fn scancode_to_linux(scancode: u16) -> Option<u16> {
    let low = (scancode & 0xff) as u8;
    match scancode >> 8 {
        // Set 1 numbers the main block and keypad as Linux does (1..=83).
        0 if (0x01..=0x53).contains(&low) => Some(u16::from(low)),
        0 => OTHER_KEYS
            .iter()
            .find(|(sc, _)| *sc == low)
            .map(|(_, k)| *k),
        0xe0 => EXTENDED_KEYS
            .iter()
            .find(|(sc, _)| *sc == low)
            .map(|(_, k)| *k),
        _ => None,
    }
}

/// Every Linux key code [`scancode_to_linux`] can give (the keyboard's
/// EV_KEY bitmap).
pub fn keyboard_keys() -> impl Iterator<Item = u16> {
    (1u16..=0x53)
        .chain(OTHER_KEYS.iter().map(|(_, k)| *k))
        .chain(EXTENDED_KEYS.iter().map(|(_, k)| *k))
}
