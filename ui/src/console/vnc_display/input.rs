//! Keyboard and pointer from the widget to the guest: keys with their
//! scancodes, absolute pointer positions in screen pixels, buttons and
//! wheel, and the keyboard grab with its release keys.

use std::cell::{Cell, RefCell};

use gtk4::glib::translate::IntoGlib;
use gtk4::prelude::*;
use gtk4::subclass::prelude::*;
use gtk4::{gdk, glib};

use super::{DisplayEvent, VncDisplay};
use crate::console::keymap;

/// The input side of the widget's state.
#[derive(Default)]
pub struct InputState {
    /// Keys sent down and not yet up: (keysym, scancode).
    pressed: RefCell<Vec<(u32, u16)>>,
    /// VNC button mask (bit 0 = left, 1 = middle, 2 = right).
    buttons: Cell<u8>,
    /// The last pointer position in the widget.
    pointer: Cell<(f64, f64)>,
    /// The keys that release the grab (keysyms).
    grab_keys: RefCell<Vec<u32>>,
    /// Whether the keyboard is grabbed.
    grabbed: Cell<bool>,
}

/// Installs the event controllers.
pub fn attach(display: &VncDisplay) {
    let keys = gtk4::EventControllerKey::new();
    let weak = display.downgrade();
    keys.connect_key_pressed(move |_, keyval, keycode, _| {
        let Some(display) = weak.upgrade() else {
            return glib::Propagation::Proceed;
        };
        key(&display, true, keyval, keycode);
        glib::Propagation::Stop
    });
    let weak = display.downgrade();
    keys.connect_key_released(move |_, keyval, keycode, _| {
        if let Some(display) = weak.upgrade() {
            key(&display, false, keyval, keycode);
        }
    });
    display.add_controller(keys);

    let focus = gtk4::EventControllerFocus::new();
    let weak = display.downgrade();
    focus.connect_leave(move |_| {
        if let Some(display) = weak.upgrade() {
            release_all(&display);
            set_grab(&display, false);
        }
    });
    display.add_controller(focus);

    let motion = gtk4::EventControllerMotion::new();
    let weak = display.downgrade();
    motion.connect_motion(move |_, x, y| {
        if let Some(display) = weak.upgrade() {
            display.imp().input.pointer.set((x, y));
            pointer(&display);
        }
    });
    display.add_controller(motion);

    let click = gtk4::GestureClick::new();
    click.set_button(0);
    let weak = display.downgrade();
    click.connect_pressed(move |gesture, _, x, y| {
        let Some(display) = weak.upgrade() else {
            return;
        };
        display.grab_focus();
        if !display.imp().input.grabbed.get() && display.is_open() {
            set_grab(&display, true);
        }
        display.imp().input.pointer.set((x, y));
        button(&display, gesture.current_button(), true);
    });
    let weak = display.downgrade();
    click.connect_released(move |gesture, _, x, y| {
        if let Some(display) = weak.upgrade() {
            display.imp().input.pointer.set((x, y));
            button(&display, gesture.current_button(), false);
        }
    });
    display.add_controller(click);

    let scroll = gtk4::EventControllerScroll::new(gtk4::EventControllerScrollFlags::VERTICAL);
    let weak = display.downgrade();
    scroll.connect_scroll(move |_, _, dy| {
        let Some(display) = weak.upgrade() else {
            return glib::Propagation::Proceed;
        };
        // VNC buttons 4 and 5 are the wheel, pressed and released at once.
        let wheel = if dy < 0.0 { 4 } else { 5 };
        button(&display, wheel, true);
        button(&display, wheel, false);
        glib::Propagation::Stop
    });
    display.add_controller(scroll);
}

fn key(display: &VncDisplay, down: bool, keyval: gdk::Key, keycode: u32) {
    let input = &display.imp().input;
    let keysym = keyval.into_glib();
    let scancode = keymap::scancode(keycode);
    {
        let mut pressed = input.pressed.borrow_mut();
        if down {
            if !pressed.contains(&(keysym, scancode)) {
                pressed.push((keysym, scancode));
            }
        } else {
            pressed.retain(|(k, s)| !(*k == keysym || (*s != 0 && *s == scancode)));
        }
    }
    if let Some(conn) = display.connection() {
        let _ = conn.key_event(down, keysym, scancode);
    }
    // The release keys end the grab once all of them are down together;
    // the guest saw them pressed, so they are let go there too.
    if down && input.grabbed.get() {
        let wanted = input.grab_keys.borrow().clone();
        let held: Vec<u32> = input.pressed.borrow().iter().map(|(k, _)| *k).collect();
        if !wanted.is_empty() && wanted.iter().all(|k| held.contains(k)) {
            release_all(display);
            set_grab(display, false);
        }
    }
}

fn release_all(display: &VncDisplay) {
    let pressed = display.imp().input.pressed.take();
    if let Some(conn) = display.connection() {
        for (keysym, scancode) in pressed.into_iter().rev() {
            let _ = conn.key_event(false, keysym, scancode);
        }
    }
}

fn button(display: &VncDisplay, gdk_button: u32, down: bool) {
    // GDK numbers middle 2 and right 3; VNC's mask bits are in that order.
    let bit = match gdk_button {
        1..=5 => 1u8 << (gdk_button - 1),
        _ => return,
    };
    let input = &display.imp().input;
    let mask = if down {
        input.buttons.get() | bit
    } else {
        input.buttons.get() & !bit
    };
    input.buttons.set(mask);
    pointer(display);
}

fn pointer(display: &VncDisplay) {
    let Some(conn) = display.connection() else {
        return;
    };
    let Some((width, height)) = display.guest_size() else {
        return;
    };
    let (x, y) = display.imp().input.pointer.get();
    let (ox, oy, scale) = display.placement();
    let clamp = |v: f64, max: i32| (v.max(0.0) as i32).min(max - 1).max(0) as u16;
    let gx = clamp((x - ox) / scale, width);
    let gy = clamp((y - oy) / scale, height);
    let _ = conn.pointer_event(display.imp().input.buttons.get(), gx, gy);
}

/// Forgets held keys and buttons (the connection is gone).
pub fn reset(display: &VncDisplay) {
    let input = &display.imp().input;
    input.pressed.borrow_mut().clear();
    input.buttons.set(0);
    set_grab(display, false);
}

/// Parses "Control_L+Alt_L" into keysyms.
pub fn set_grab_keys(display: &VncDisplay, spec: &str) {
    let keys = spec
        .split('+')
        .filter_map(|name| gdk::Key::from_name(name.trim()))
        .map(|key| key.into_glib())
        .collect();
    display.imp().input.grab_keys.replace(keys);
}

/// Takes or releases the keyboard grab: while it is held, the window's
/// system shortcuts go to the guest too.
pub fn set_grab(display: &VncDisplay, grab: bool) {
    let input = &display.imp().input;
    if input.grabbed.replace(grab) == grab {
        return;
    }
    if let Some(toplevel) = display
        .native()
        .and_then(|native| native.surface())
        .and_then(|surface| surface.downcast::<gdk::Toplevel>().ok())
    {
        if grab {
            toplevel.inhibit_system_shortcuts(None::<&gdk::Event>);
        } else {
            toplevel.restore_system_shortcuts();
        }
    }
    display.emit(DisplayEvent::Grab(grab));
}
