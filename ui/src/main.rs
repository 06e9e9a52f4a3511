//! `hangar`: the desktop virtual machine manager.
//!
//! One GtkApplication per user session: a second `hangar` invocation hands
//! its command line to the running instance. The windows are relm4
//! components; every action on a host goes through the backend's async
//! `Connection`, run on its own tokio runtime (see [`backend`]).

mod app;
mod backend;
mod cli;
mod config;
mod console;
mod details;
mod domain;
mod format;
mod i18n;
mod manager;
mod new_vm;
mod preferences;
mod settings;
mod widgets;

use gtk4::{gio, glib};

fn main() -> glib::ExitCode {
    i18n::init();
    glib::set_application_name("Hangar");
    if let Err(err) = gio::resources_register_include!("hangar.gresource") {
        eprintln!("hangar: cannot load the bundled resources: {err}");
        return glib::ExitCode::FAILURE;
    }
    app::run()
}
