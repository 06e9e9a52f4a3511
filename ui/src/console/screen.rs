//! The console's window-level actions: its `console.*` action group,
//! screenshots, fullscreen scaling, sizing the window to the guest, and the
//! grab keys as shown to users.

use std::path::Path;

use gettextrs::gettext;
use gtk4::prelude::*;
use gtk4::{gio, glib};
use relm4::prelude::*;

use super::{window_of, ConsoleInput, ConsoleKind, ConsoleView};
use crate::i18n::gettext_f;
use crate::widgets::{self, error_dialog};

/// The console's actions (`console.*`), used by its menus and buttons.
pub(super) fn actions(sender: &ComponentSender<ConsoleView>) -> gio::SimpleActionGroup {
    let group = gio::SimpleActionGroup::new();
    let simple = |name: &str, message: fn() -> ConsoleInput| {
        let action = gio::SimpleAction::new(name, None);
        let s = sender.clone();
        action.connect_activate(move |_, _| s.input(message()));
        group.add_action(&action);
    };
    simple("screenshot", || ConsoleInput::Screenshot);
    simple("fullscreen", || ConsoleInput::ToggleFullscreen);
    simple("resize-to-vm", || ConsoleInput::ResizeToGuest);
    simple("copy", || ConsoleInput::Copy);
    simple("paste", || ConsoleInput::Paste);
    let send_key = gio::SimpleAction::new("send-key", Some(glib::VariantTy::STRING));
    let s = sender.clone();
    send_key.connect_activate(move |_, target| {
        if let Some(name) = target.and_then(|t| t.get::<String>()) {
            s.input(ConsoleInput::SendKey(name));
        }
    });
    group.add_action(&send_key);
    let kind = gio::SimpleAction::new_stateful(
        "kind",
        Some(glib::VariantTy::STRING),
        &"graphical".to_variant(),
    );
    let s = sender.clone();
    kind.connect_activate(move |action, target| {
        let Some(name) = target.and_then(|t| t.get::<String>()) else {
            return;
        };
        let kind = if name == "serial" {
            ConsoleKind::Serial
        } else {
            ConsoleKind::Graphical
        };
        action.set_state(&name.to_variant());
        s.input(ConsoleInput::Show(kind));
    });
    group.add_action(&kind);
    group
}

/// "Control_L+Alt_L" as users read it: "Ctrl+Alt".
pub(super) fn grab_keys_label(spec: &str) -> String {
    spec.split('+')
        .map(|name| {
            let name = name.trim();
            let base = name
                .strip_suffix("_L")
                .or_else(|| name.strip_suffix("_R"))
                .unwrap_or(name);
            match base {
                "Control" => "Ctrl".to_string(),
                "Super" => "Super".to_string(),
                other => other.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("+")
}

impl ConsoleView {
    /// Scales the screen per the `console-scaling` preference.
    pub(super) fn apply_scaling(&self) {
        let fullscreen = window_of(&self.pages.root).is_some_and(|w| w.is_fullscreen());
        let scaling = match self.settings.string("console-scaling").as_str() {
            "always" => true,
            "never" => false,
            _ => fullscreen,
        };
        self.pages.display.set_scaling(scaling);
        let policy = if scaling {
            gtk4::PolicyType::Never
        } else {
            gtk4::PolicyType::Automatic
        };
        self.pages.display_scroller.set_policy(policy, policy);
    }

    /// Grows or shrinks the window so the guest's screen fits unscaled.
    pub(super) fn resize_to_guest(&self, root: &gtk4::Box) {
        let (Some(window), Some((width, height))) =
            (window_of(root), self.pages.display.guest_size())
        else {
            return;
        };
        if window.is_fullscreen() || window.is_maximized() {
            return;
        }
        let area = &self.pages.display_scroller;
        let chrome_w = (window.width() - area.width()).max(0);
        let chrome_h = (window.height() - area.height()).max(0);
        window.set_default_size(width + chrome_w, height + chrome_h);
    }

    /// Opens a file chooser for the screenshot's PNG.
    pub(super) fn ask_screenshot_path(&self, root: &gtk4::Box, sender: &ComponentSender<Self>) {
        if self.pages.display.texture().is_none() {
            error_dialog::show(
                window_of(root).as_ref(),
                &gettext("Cannot take a screenshot"),
                &gettext("The graphical console is not connected."),
            );
            return;
        }
        let dialog = gtk4::FileChooserDialog::new(
            Some(&gettext("Save Screenshot")),
            window_of(root).as_ref(),
            gtk4::FileChooserAction::Save,
            &[
                (&gettext("_Cancel"), gtk4::ResponseType::Cancel),
                (&gettext("_Save"), gtk4::ResponseType::Accept),
            ],
        );
        dialog.set_modal(true);
        for (response, label) in [
            (gtk4::ResponseType::Cancel, gettext("_Cancel")),
            (gtk4::ResponseType::Accept, gettext("_Save")),
        ] {
            if let Some(button) = dialog.widget_for_response(response) {
                widgets::set_plain_name(&button, &label);
            }
        }
        let stamp = glib::DateTime::now_local()
            .and_then(|now| now.format("%Y-%m-%d-%H%M%S"))
            .map(|s| s.to_string())
            .unwrap_or_default();
        dialog.set_current_name(&format!("{}-{stamp}.png", self.name));
        let filter = gtk4::FileFilter::new();
        filter.set_name(Some(&gettext("PNG images")));
        filter.add_mime_type("image/png");
        dialog.add_filter(&filter);
        let s = sender.clone();
        dialog.connect_response(move |dialog, response| {
            if response == gtk4::ResponseType::Accept {
                if let Some(path) = dialog.file().and_then(|f| f.path()) {
                    s.input(ConsoleInput::SaveScreenshot(path));
                }
            }
            dialog.destroy();
        });
        dialog.present();
    }

    /// Writes the screen as a PNG at `path`.
    pub(super) fn save_screenshot(&self, root: &gtk4::Box, path: &Path) {
        let result = match self.pages.display.texture() {
            Some(texture) => texture.save_to_png(path).map_err(|err| err.to_string()),
            None => Err(gettext("The graphical console is not connected.")),
        };
        if let Err(details) = result {
            error_dialog::show(
                window_of(root).as_ref(),
                &gettext_f(
                    "Cannot save the screenshot to {path}",
                    &[("path", &path.display().to_string())],
                ),
                &details,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::grab_keys_label;

    #[test]
    fn grab_keys_read_as_users_say_them() {
        assert_eq!(grab_keys_label("Control_L+Alt_L"), "Ctrl+Alt");
        assert_eq!(grab_keys_label("Shift_R+F12"), "Shift+F12");
    }
}
