//! Keys as the guest's keyboard sees them: the XT (set 1) scancodes that
//! QEMU's extended key event carries, found from the X server's hardware
//! keycode (Linux evdev code + 8), and the key combinations of the Send Key
//! menu.

/// X11 hardware keycodes are the Linux evdev codes offset by this.
const X11_KEYCODE_OFFSET: u32 = 8;

/// Linux evdev codes above 88 and their XT scancodes (0xE0-prefixed keys
/// as 0x80 | code, QEMU's "qnum" numbering). Codes 1..=88 are equal to
/// their scancodes.
const EVDEV_TO_XT: &[(u32, u16)] = &[
    (96, 0x9c),  // KP Enter
    (97, 0x9d),  // Right Ctrl
    (98, 0xb5),  // KP /
    (99, 0xb7),  // SysRq / Print
    (100, 0xb8), // Right Alt
    (102, 0xc7), // Home
    (103, 0xc8), // Up
    (104, 0xc9), // Page Up
    (105, 0xcb), // Left
    (106, 0xcd), // Right
    (107, 0xcf), // End
    (108, 0xd0), // Down
    (109, 0xd1), // Page Down
    (110, 0xd2), // Insert
    (111, 0xd3), // Delete
    (113, 0xa0), // Mute
    (114, 0xae), // Volume Down
    (115, 0xb0), // Volume Up
    (116, 0xde), // Power
    (117, 0x59), // KP =
    (119, 0xc6), // Pause
    (121, 0x7e), // KP ,
    (125, 0xdb), // Left Meta
    (126, 0xdc), // Right Meta
    (127, 0xdd), // Menu
];

/// The XT scancode of the key with X11 hardware keycode `keycode`, or 0
/// (which VNC servers read as "use the keysym") for keys without one.
pub fn scancode(keycode: u32) -> u16 {
    let Some(evdev) = keycode.checked_sub(X11_KEYCODE_OFFSET) else {
        return 0;
    };
    if (1..=88).contains(&evdev) {
        return evdev as u16;
    }
    EVDEV_TO_XT
        .iter()
        .find(|(code, _)| *code == evdev)
        .map(|(_, xt)| *xt)
        .unwrap_or(0)
}

/// One key of a combination: its X keysym and XT scancode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    /// The X keysym (GDK keyval).
    pub keysym: u32,
    /// The XT scancode.
    pub scancode: u16,
}

const CONTROL_L: Key = Key {
    keysym: 0xffe3,
    scancode: 0x1d,
};
const ALT_L: Key = Key {
    keysym: 0xffe9,
    scancode: 0x38,
};

/// The combinations of the Send Key menu, by action target name.
pub fn combination(name: &str) -> Option<Vec<Key>> {
    let key = |keysym, scancode| Key { keysym, scancode };
    Some(match name {
        "ctrl-alt-delete" => vec![CONTROL_L, ALT_L, key(0xffff, 0xd3)],
        "ctrl-alt-backspace" => vec![CONTROL_L, ALT_L, key(0xff08, 0x0e)],
        "print" => vec![key(0xff61, 0xb7)],
        other => {
            let number: u16 = other.strip_prefix("ctrl-alt-f")?.parse().ok()?;
            // F1..F10 are 0x3b..0x44, F11 and F12 0x57 and 0x58.
            let scancode = match number {
                1..=10 => 0x3a + number,
                11 | 12 => 0x4c + number,
                _ => return None,
            };
            vec![CONTROL_L, ALT_L, key(0xffbd + u32::from(number), scancode)]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keycodes_become_xt_scancodes() {
        // Escape, A, Left Ctrl, F12, Up, Delete, Right Alt on an evdev X server.
        assert_eq!(scancode(9), 0x01);
        assert_eq!(scancode(38), 0x1e);
        assert_eq!(scancode(37), 0x1d);
        assert_eq!(scancode(96), 0x58);
        assert_eq!(scancode(111), 0xc8);
        assert_eq!(scancode(119), 0xd3);
        assert_eq!(scancode(108), 0xb8);
        assert_eq!(scancode(3), 0);
        assert_eq!(scancode(255), 0);
    }

    #[test]
    fn send_key_combinations() {
        let f1 = combination("ctrl-alt-f1").expect("F1");
        assert_eq!(
            f1[2],
            Key {
                keysym: 0xffbe,
                scancode: 0x3b
            }
        );
        let f12 = combination("ctrl-alt-f12").expect("F12");
        assert_eq!(
            f12[2],
            Key {
                keysym: 0xffc9,
                scancode: 0x58
            }
        );
        assert_eq!(combination("ctrl-alt-delete").map(|k| k.len()), Some(3));
        assert!(combination("ctrl-alt-f13").is_none());
        assert!(combination("bogus").is_none());
    }
}
