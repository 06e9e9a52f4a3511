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
mod startup_trace;
mod widgets;

use gtk4::{gio, glib};

fn main() -> glib::ExitCode {
    startup_trace::mark("main");
    skip_gl_for_cairo_renderer();
    i18n::init();
    glib::set_application_name("Hangar");
    if let Err(err) = gio::resources_register_include!("hangar.gresource") {
        eprintln!("hangar: cannot load the bundled resources: {err}");
        return glib::ExitCode::FAILURE;
    }
    startup_trace::mark("resources registered");
    app::run()
}

/// With `GSK_RENDERER=cairo` GTK draws without OpenGL, yet GDK 4.8 on X11
/// still loads the GL driver when it opens the display, to pick a visual:
/// with Mesa that maps LLVM and starts its threads, ~50 MiB and ~0.1 s of
/// start for nothing the app then uses (it has no GL widgets). GDK's own
/// `gl-disable` debug flag tells it not to; any other GDK_DEBUG flags are
/// kept.
fn skip_gl_for_cairo_renderer() {
    let cairo = std::env::var("GSK_RENDERER").is_ok_and(|renderer| renderer.trim() == "cairo");
    if !cairo {
        return;
    }
    let flags = std::env::var("GDK_DEBUG").unwrap_or_default();
    if flags
        .split([',', ':', ' '])
        .any(|flag| flag == "gl-disable")
    {
        return;
    }
    let flags = if flags.trim().is_empty() {
        "gl-disable".to_string()
    } else {
        format!("{flags},gl-disable")
    };
    // Called first thing in `main`, before GTK or anything else has started
    // a thread that could read the environment concurrently.
    std::env::set_var("GDK_DEBUG", flags);
}
