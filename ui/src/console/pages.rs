//! The widgets of the console: a toolbar, the graphical display with its
//! fullscreen toolbar, the serial terminal, and the pages shown instead of
//! a screen ("not running", "password", "disconnected", "no display").
//! Only construction lives here; the component decides what shows.

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;

use super::serial::SerialTerminal;
use super::vnc_display::VncDisplay;
use crate::config;
use crate::widgets;

/// Names of the stack's pages.
pub mod page {
    /// The guest's screen.
    pub const DISPLAY: &str = "display";
    /// The serial terminal.
    pub const SERIAL: &str = "serial";
    /// A message, with an optional action button.
    pub const MESSAGE: &str = "message";
    /// The VNC password prompt.
    pub const PASSWORD: &str = "password";
}

/// Every widget the component changes.
pub struct Pages {
    /// The console's root.
    pub root: gtk4::Box,
    /// The pages.
    pub stack: gtk4::Stack,
    /// The VNC client widget.
    pub display: VncDisplay,
    /// Scrolls the display when it is not scaled.
    pub display_scroller: gtk4::ScrolledWindow,
    /// The toolbar shown over the display in fullscreen.
    pub fullscreen_bar: gtk4::Revealer,
    /// The window's own console toolbar.
    pub toolbar: gtk4::Box,
    /// The serial terminal.
    pub serial: SerialTerminal,
    /// The message page's text.
    pub message: gtk4::Label,
    /// The message page's button (Run, Reconnect, ...).
    pub message_button: gtk4::Button,
    /// The password prompt's explanation.
    pub password_reason: gtk4::Label,
    /// The password entry.
    pub password: gtk4::PasswordEntry,
    /// Sends the password.
    pub password_button: gtk4::Button,
}

fn menu(id: &str) -> Option<gio::MenuModel> {
    let builder =
        gtk4::Builder::from_resource(&format!("{}/ui/console-menus.ui", config::RESOURCE_BASE));
    builder.object::<gio::MenuModel>(id)
}

fn menu_button(label: &str, menu_id: &str) -> gtk4::MenuButton {
    let button = gtk4::MenuButton::builder()
        .label(label)
        .use_underline(true)
        .build();
    button.set_menu_model(menu(menu_id).as_ref());
    widgets::set_plain_name(button.upcast_ref(), label);
    button
}

fn action_button(label: &str, action: &str) -> gtk4::Button {
    let button = widgets::button(label);
    button.set_action_name(Some(action));
    button
}

/// A toolbar with the console's menus and buttons.
fn toolbar() -> gtk4::Box {
    let bar = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
    bar.add_css_class("console-toolbar");
    bar.append(&menu_button(&gettext("_View"), "console-view"));
    bar.append(&menu_button(&gettext("Send _Key"), "console-send-key"));
    bar.append(&action_button(
        &gettext("_Screenshot"),
        "console.screenshot",
    ));
    bar.append(&action_button(
        &gettext("_Fullscreen"),
        "console.fullscreen",
    ));
    bar
}

impl Pages {
    /// Builds the widgets; `on_serial_closed` runs when the serial stream ends.
    pub fn new(on_serial_closed: impl Fn() + 'static) -> Pages {
        let display = VncDisplay::default();
        display.update_property(&[gtk4::accessible::Property::Label(&gettext(
            "Graphical console",
        ))]);
        let display_scroller = gtk4::ScrolledWindow::builder()
            .child(&display)
            .hexpand(true)
            .vexpand(true)
            .build();

        let fullscreen_bar_box = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
        fullscreen_bar_box.add_css_class("console-fullscreen-bar");
        fullscreen_bar_box.append(&menu_button(&gettext("Send _Key"), "console-send-key"));
        fullscreen_bar_box.append(&action_button(
            &gettext("_Screenshot"),
            "console.screenshot",
        ));
        fullscreen_bar_box.append(&action_button(
            &gettext("_Leave Fullscreen"),
            "console.fullscreen",
        ));
        let fullscreen_bar = gtk4::Revealer::builder()
            .child(&fullscreen_bar_box)
            .halign(gtk4::Align::Center)
            .valign(gtk4::Align::Start)
            .reveal_child(false)
            .build();
        let overlay = gtk4::Overlay::builder().child(&display_scroller).build();
        overlay.add_overlay(&fullscreen_bar);

        let serial = SerialTerminal::new(on_serial_closed);
        let serial_box = gtk4::Box::new(gtk4::Orientation::Horizontal, 0);
        serial_box.append(serial.widget());
        let scrollbar = gtk4::Scrollbar::new(
            gtk4::Orientation::Vertical,
            serial.widget().vadjustment().as_ref(),
        );
        serial_box.append(&scrollbar);

        let message = gtk4::Label::builder()
            .wrap(true)
            .justify(gtk4::Justification::Center)
            .build();
        let message_button = widgets::button(&gettext("_Run"));
        message_button.set_halign(gtk4::Align::Center);
        let message_page = gtk4::Box::builder()
            .orientation(gtk4::Orientation::Vertical)
            .spacing(12)
            .valign(gtk4::Align::Center)
            .halign(gtk4::Align::Center)
            .build();
        message_page.append(&message);
        message_page.append(&message_button);

        let password_reason = gtk4::Label::builder()
            .wrap(true)
            .justify(gtk4::Justification::Center)
            .build();
        let password = gtk4::PasswordEntry::builder()
            .show_peek_icon(true)
            .activates_default(true)
            .width_chars(24)
            .build();
        password.update_property(&[gtk4::accessible::Property::Label(&gettext("Password"))]);
        let password_button = widgets::button(&gettext("_Connect"));
        password_button.set_halign(gtk4::Align::Center);
        let password_page = gtk4::Box::builder()
            .orientation(gtk4::Orientation::Vertical)
            .spacing(12)
            .valign(gtk4::Align::Center)
            .halign(gtk4::Align::Center)
            .build();
        password_page.append(&password_reason);
        password_page.append(&password);
        password_page.append(&password_button);

        let stack = gtk4::Stack::builder().hexpand(true).vexpand(true).build();
        stack.add_named(&overlay, Some(page::DISPLAY));
        stack.add_named(&serial_box, Some(page::SERIAL));
        stack.add_named(&message_page, Some(page::MESSAGE));
        stack.add_named(&password_page, Some(page::PASSWORD));

        let toolbar = toolbar();
        let root = gtk4::Box::new(gtk4::Orientation::Vertical, 0);
        root.append(&toolbar);
        root.append(&stack);
        Pages {
            root,
            stack,
            display,
            display_scroller,
            fullscreen_bar,
            toolbar,
            serial,
            message,
            message_button,
            password_reason,
            password,
            password_button,
        }
    }

    /// Shows a message page with `button` (its label) or none.
    pub fn show_message(&self, text: &str, button: Option<&str>) {
        self.message.set_label(text);
        match button {
            Some(label) => {
                self.message_button.set_label(label);
                widgets::set_plain_name(self.message_button.upcast_ref(), label);
                self.message_button.set_visible(true);
            }
            None => self.message_button.set_visible(false),
        }
        self.stack.set_visible_child_name(page::MESSAGE);
    }
}
