//! The manager window: connections and their virtual machines.

use gettextrs::gettext;
use gtk4::prelude::*;
use gtk4::{gio, glib};
use relm4::prelude::*;

use crate::cli::LaunchRequest;

/// What the manager window starts with.
pub struct ManagerInit {
    /// The app's settings.
    pub settings: gio::Settings,
}

/// Messages to the manager window.
#[derive(Debug)]
pub enum ManagerInput {
    /// A `hangar` invocation (the first or a later one) asked for this.
    Launch(LaunchRequest),
}

/// The manager window's state.
pub struct ManagerWindow {
    settings: gio::Settings,
}

#[relm4::component(pub)]
impl SimpleComponent for ManagerWindow {
    type Init = ManagerInit;
    type Input = ManagerInput;
    type Output = ();

    view! {
        gtk4::ApplicationWindow {
            set_title: Some(&gettext("Virtual Machine Manager")),
            set_default_width: model.settings.int("window-width"),
            set_default_height: model.settings.int("window-height"),
            set_show_menubar: true,

            gtk4::Label {
                set_label: &gettext("No connection"),
            }
        }
    }

    fn init(
        init: ManagerInit,
        root: Self::Root,
        _sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let model = ManagerWindow {
            settings: init.settings,
        };
        let widgets = view_output!();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, message: ManagerInput, _sender: ComponentSender<Self>) {
        match message {
            ManagerInput::Launch(request) => glib::g_debug!("hangar", "launch {request:?}"),
        }
    }
}
