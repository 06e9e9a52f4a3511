//! X keysyms (what VNC key events carry) to XT scancodes (PC keyboard
//! set 1) for a US layout, and XT scancodes to set 2 for a keyboard whose
//! controller does not translate.
//!
//! A keysym names a symbol, not a key: 'A' and 'a' are the same key, the
//! client sends Shift on its own. Clients that know the physical key send
//! QEMU extended key events with the scancode instead.

/// Prefix byte of extended scancodes (kept in the high byte of a code).
pub const EXTENDED: u16 = 0xe000;

/// Keys of the US layout's main block, in keysym order from 0x20 (space)
/// to 0x7e (~): the XT scancode of the key that types each symbol.
const PRINTABLE: [u8; 95] = [
    0x39, 0x02, 0x28, 0x04, 0x05, 0x06, 0x08, 0x28, // space ! " # $ % & '
    0x0a, 0x0b, 0x09, 0x0d, 0x33, 0x0c, 0x34, 0x35, // ( ) * + , - . /
    0x0b, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, // 0-7
    0x09, 0x0a, 0x27, 0x27, 0x33, 0x0d, 0x34, 0x35, // 8 9 : ; < = > ?
    0x03, 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, // @ A-G
    0x23, 0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18, // H-O
    0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, // P-W
    0x2d, 0x15, 0x2c, 0x1a, 0x2b, 0x1b, 0x07, 0x0c, // X Y Z [ \ ] ^ _
    0x29, 0x1e, 0x30, 0x2e, 0x20, 0x12, 0x21, 0x22, // ` a-g
    0x23, 0x17, 0x24, 0x25, 0x26, 0x32, 0x31, 0x18, // h-o
    0x19, 0x10, 0x13, 0x1f, 0x14, 0x16, 0x2f, 0x11, // p-w
    0x2d, 0x15, 0x2c, 0x1a, 0x2b, 0x1b, 0x29, // x y z { | } ~
];

/// The XT scancode for `keysym`, if the US keyboard has such a key.
pub fn keysym_to_scancode(keysym: u32) -> Option<u16> {
    if (0x20..=0x7e).contains(&keysym) {
        return Some(u16::from(PRINTABLE[(keysym - 0x20) as usize]));
    }
    let code = match keysym {
        0xff08 => 0x0e,                                     // BackSpace
        0xff09 => 0x0f,                                     // Tab
        0xfe20 => 0x0f,                                     // ISO_Left_Tab (Shift+Tab)
        0xff0d => 0x1c,                                     // Return
        0xff14 => 0x46,                                     // Scroll_Lock
        0xff15 => 0x54,                                     // Sys_Req
        0xff1b => 0x01,                                     // Escape
        0xff50 => EXTENDED | 0x47,                          // Home
        0xff51 => EXTENDED | 0x4b,                          // Left
        0xff52 => EXTENDED | 0x48,                          // Up
        0xff53 => EXTENDED | 0x4d,                          // Right
        0xff54 => EXTENDED | 0x50,                          // Down
        0xff55 => EXTENDED | 0x49,                          // Prior
        0xff56 => EXTENDED | 0x51,                          // Next
        0xff57 => EXTENDED | 0x4f,                          // End
        0xff61 => EXTENDED | 0x37,                          // Print
        0xff63 => EXTENDED | 0x52,                          // Insert
        0xff67 => EXTENDED | 0x5d,                          // Menu
        0xff7f => 0x45,                                     // Num_Lock
        0xff8d => EXTENDED | 0x1c,                          // KP_Enter
        0xff95 | 0xffb7 => 0x47,                            // KP_Home, KP_7
        0xff96 | 0xffb4 => 0x4b,                            // KP_Left, KP_4
        0xff97 | 0xffb8 => 0x48,                            // KP_Up, KP_8
        0xff98 | 0xffb6 => 0x4d,                            // KP_Right, KP_6
        0xff99 | 0xffb2 => 0x50,                            // KP_Down, KP_2
        0xff9a | 0xffb9 => 0x49,                            // KP_Prior, KP_9
        0xff9b | 0xffb3 => 0x51,                            // KP_Next, KP_3
        0xff9c | 0xffb1 => 0x4f,                            // KP_End, KP_1
        0xff9d | 0xffb5 => 0x4c,                            // KP_Begin, KP_5
        0xff9e | 0xffb0 => 0x52,                            // KP_Insert, KP_0
        0xff9f | 0xffae => 0x53,                            // KP_Delete, KP_Decimal
        0xffaa => 0x37,                                     // KP_Multiply
        0xffab => 0x4e,                                     // KP_Add
        0xffad => 0x4a,                                     // KP_Subtract
        0xffaf => EXTENDED | 0x35,                          // KP_Divide
        0xffbe..=0xffc7 => 0x3b + (keysym - 0xffbe) as u16, // F1-F10
        0xffc8 => 0x57,                                     // F11
        0xffc9 => 0x58,                                     // F12
        0xffe1 => 0x2a,                                     // Shift_L
        0xffe2 => 0x36,                                     // Shift_R
        0xffe3 => 0x1d,                                     // Control_L
        0xffe4 => EXTENDED | 0x1d,                          // Control_R
        0xffe5 => 0x3a,                                     // Caps_Lock
        0xffe7 | 0xffe9 => 0x38,                            // Meta_L, Alt_L
        0xffe8 | 0xffea | 0xfe03 => EXTENDED | 0x38,        // Meta_R, Alt_R, AltGr
        0xffeb => EXTENDED | 0x5b,                          // Super_L
        0xffec => EXTENDED | 0x5c,                          // Super_R
        0xffff => EXTENDED | 0x53,                          // Delete
        _ => return None,
    };
    Some(code)
}

/// The scancode in a QEMU extended key event: an XT code, extended keys
/// numbered 0x80 | code (QEMU's numbering) or 0xe0xx (both accepted).
pub fn qemu_keycode_to_scancode(keycode: u32) -> Option<u16> {
    match keycode {
        0x01..=0x7f => Some(keycode as u16),
        // QEMU's numbering puts 0xe0-prefixed keys at 0x80 | code.
        0x80..=0xff => Some(EXTENDED | (keycode as u16 & 0x7f)),
        0xe001..=0xe07f => Some(keycode as u16),
        _ => None,
    }
}

/// Set 2 make codes of XT (set 1) codes 0x00..=0x5d; 0 where none.
const SET1_TO_SET2: [u8; 0x5e] = [
    0x00, 0x76, 0x16, 0x1e, 0x26, 0x25, 0x2e, 0x36, // 00-07
    0x3d, 0x3e, 0x46, 0x45, 0x4e, 0x55, 0x66, 0x0d, // 08-0f
    0x15, 0x1d, 0x24, 0x2d, 0x2c, 0x35, 0x3c, 0x43, // 10-17
    0x44, 0x4d, 0x54, 0x5b, 0x5a, 0x14, 0x1c, 0x1b, // 18-1f
    0x23, 0x2b, 0x34, 0x33, 0x3b, 0x42, 0x4b, 0x4c, // 20-27
    0x52, 0x0e, 0x12, 0x5d, 0x1a, 0x22, 0x21, 0x2a, // 28-2f
    0x32, 0x31, 0x3a, 0x41, 0x49, 0x4a, 0x59, 0x7c, // 30-37
    0x11, 0x29, 0x58, 0x05, 0x06, 0x04, 0x0c, 0x03, // 38-3f
    0x0b, 0x83, 0x0a, 0x01, 0x09, 0x77, 0x7e, 0x6c, // 40-47
    0x75, 0x7d, 0x7b, 0x6b, 0x73, 0x74, 0x79, 0x69, // 48-4f
    0x72, 0x7a, 0x70, 0x71, 0x84, 0x00, 0x61, 0x78, // 50-57
    0x07, 0x00, 0x00, 0x1f, 0x27, 0x2f, // 58-5d
];

/// The bytes a set 2 keyboard sends for XT `scancode` pressed or released.
pub fn set2_bytes(scancode: u16, down: bool) -> Vec<u8> {
    let extended = scancode & 0xff00 == EXTENDED;
    let Some(&code) = SET1_TO_SET2.get((scancode & 0x7f) as usize) else {
        return Vec::new();
    };
    if code == 0 {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(3);
    if extended {
        out.push(0xe0);
    }
    if !down {
        out.push(0xf0);
    }
    out.push(code);
    out
}

/// The bytes the guest reads for XT `scancode` through a translating
/// controller (set 2 translated to set 1, what Linux's atkbd expects).
pub fn set1_bytes(scancode: u16, down: bool) -> Vec<u8> {
    let code = (scancode & 0x7f) as u8;
    let mut out = Vec::with_capacity(2);
    if scancode >> 8 != 0 {
        out.push((scancode >> 8) as u8);
    }
    out.push(if down { code } else { code | 0x80 });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_digits_and_shifted_symbols_map_to_their_keys() {
        assert_eq!(keysym_to_scancode(u32::from(b'a')), Some(0x1e));
        assert_eq!(keysym_to_scancode(u32::from(b'A')), Some(0x1e));
        assert_eq!(keysym_to_scancode(u32::from(b'1')), Some(0x02));
        assert_eq!(keysym_to_scancode(u32::from(b'!')), Some(0x02));
        assert_eq!(keysym_to_scancode(u32::from(b'0')), Some(0x0b));
        assert_eq!(keysym_to_scancode(u32::from(b'z')), Some(0x2c));
        assert_eq!(keysym_to_scancode(u32::from(b' ')), Some(0x39));
        assert_eq!(keysym_to_scancode(u32::from(b'|')), Some(0x2b));
        assert_eq!(keysym_to_scancode(0xff0d), Some(0x1c));
        assert_eq!(keysym_to_scancode(0xffe4), Some(0xe01d));
        assert_eq!(keysym_to_scancode(0xffc9), Some(0x58));
        assert_eq!(keysym_to_scancode(0x12345), None);
    }

    #[test]
    fn set1_and_set2_bytes() {
        assert_eq!(set1_bytes(0x1e, true), vec![0x1e]);
        assert_eq!(set1_bytes(0x1e, false), vec![0x9e]);
        assert_eq!(set1_bytes(0xe01d, false), vec![0xe0, 0x9d]);
        assert_eq!(set2_bytes(0x1e, true), vec![0x1c]);
        assert_eq!(set2_bytes(0x1e, false), vec![0xf0, 0x1c]);
        assert_eq!(set2_bytes(0xe048, true), vec![0xe0, 0x75]);
        assert_eq!(set2_bytes(0xe048, false), vec![0xe0, 0xf0, 0x75]);
    }

    #[test]
    fn qemu_keycodes() {
        assert_eq!(qemu_keycode_to_scancode(0x1e), Some(0x1e));
        assert_eq!(qemu_keycode_to_scancode(0x9d), Some(0xe01d));
        assert_eq!(qemu_keycode_to_scancode(0), None);
        assert_eq!(qemu_keycode_to_scancode(0x1_0000), None);
    }
}
