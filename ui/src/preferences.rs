//! The Preferences window: every field is bound to GSettings, so changes
//! apply at once and other windows follow them.

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use relm4::prelude::*;

use crate::widgets::form::Form;

/// The window's state; everything lives in GSettings.
pub struct PreferencesWindow;

fn check(settings: &gio::Settings, key: &str, label: &str) -> gtk4::CheckButton {
    let check = gtk4::CheckButton::with_label(label);
    settings.bind(key, &check, "active").build();
    check
}

/// A drop-down bound to an enum key by its nicks.
fn choice(
    settings: &gio::Settings,
    key: &'static str,
    nicks: &'static [&'static str],
    labels: &[String],
) -> gtk4::DropDown {
    let refs: Vec<&str> = labels.iter().map(String::as_str).collect();
    let dropdown = gtk4::DropDown::from_strings(&refs);
    let current = settings.string(key);
    dropdown.set_selected(
        nicks
            .iter()
            .position(|n| *n == current.as_str())
            .unwrap_or(0) as u32,
    );
    let settings = settings.clone();
    dropdown.connect_selected_notify(move |dropdown| {
        if let Some(nick) = nicks.get(dropdown.selected() as usize) {
            // A read-only key leaves the old value; the drop-down shows the
            // new one until the window reopens, which is harmless.
            let _ = settings.set_string(key, nick);
        }
    });
    dropdown
}

impl SimpleComponent for PreferencesWindow {
    type Init = gio::Settings;
    type Input = ();
    type Output = ();
    type Root = gtk4::Window;
    type Widgets = ();

    fn init_root() -> gtk4::Window {
        gtk4::Window::builder()
            .title(gettext("Preferences"))
            .default_width(520)
            .hide_on_close(true)
            .build()
    }

    fn init(
        settings: gio::Settings,
        root: gtk4::Window,
        _sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let notebook = gtk4::Notebook::new();

        let mut general = Form::new();
        general.wide(&check(
            &settings,
            "xml-editing",
            &gettext("Enable XML editing"),
        ));
        notebook.append_page(
            general.grid(),
            Some(&gtk4::Label::new(Some(&gettext("General")))),
        );

        let mut polling = Form::new();
        let interval = gtk4::SpinButton::with_range(1.0, 60.0, 1.0);
        settings
            .bind("stats-interval", &interval.adjustment(), "value")
            .build();
        polling.field(&gettext("Update interval (seconds):"), &interval);
        polling.wide(&check(
            &settings,
            "show-cpu-column",
            &gettext("Show CPU usage"),
        ));
        polling.wide(&check(
            &settings,
            "show-memory-column",
            &gettext("Show memory usage"),
        ));
        polling.wide(&check(
            &settings,
            "show-disk-column",
            &gettext("Show disk I/O"),
        ));
        polling.wide(&check(
            &settings,
            "show-network-column",
            &gettext("Show network I/O"),
        ));
        notebook.append_page(
            polling.grid(),
            Some(&gtk4::Label::new(Some(&gettext("Polling")))),
        );

        let mut new_vm = Form::new();
        let format = choice(
            &settings,
            "new-vm-storage-format",
            &["qcow2", "raw"],
            &[gettext("QCOW2"), gettext("Raw")],
        );
        new_vm.field(&gettext("Storage format:"), &format);
        notebook.append_page(
            new_vm.grid(),
            Some(&gtk4::Label::new(Some(&gettext("New VM")))),
        );

        let mut console = Form::new();
        let scaling = choice(
            &settings,
            "console-scaling",
            &["never", "fullscreen", "always"],
            &[
                gettext("Never"),
                gettext("Fullscreen only"),
                gettext("Always"),
            ],
        );
        console.field(&gettext("Graphical console scaling:"), &scaling);
        let grab_keys = gtk4::Entry::new();
        settings
            .bind("console-grab-keys", &grab_keys, "text")
            .build();
        console.field(&gettext("Grab keys:"), &grab_keys);
        notebook.append_page(
            console.grid(),
            Some(&gtk4::Label::new(Some(&gettext("Console")))),
        );

        let mut confirm = Form::new();
        confirm.section(&gettext("Ask before"));
        confirm.wide(&check(
            &settings,
            "confirm-force-off",
            &gettext("Force off or reset"),
        ));
        confirm.wide(&check(
            &settings,
            "confirm-poweroff",
            &gettext("Shut down or reboot"),
        ));
        confirm.wide(&check(&settings, "confirm-pause", &gettext("Pause")));
        confirm.wide(&check(
            &settings,
            "confirm-delete-storage",
            &gettext("Deleting storage"),
        ));
        confirm.wide(&check(
            &settings,
            "confirm-unapplied-changes",
            &gettext("Leaving unapplied changes"),
        ));
        notebook.append_page(
            confirm.grid(),
            Some(&gtk4::Label::new(Some(&gettext("Feedback")))),
        );

        root.set_child(Some(&notebook));
        ComponentParts {
            model: PreferencesWindow,
            widgets: (),
        }
    }

    fn update(&mut self, _message: (), _sender: ComponentSender<Self>) {}
}
