//! The GtkApplication: single instance, command line, app-wide actions,
//! stylesheet and icon; the manager window is its root component.

use gtk4::prelude::*;
use gtk4::{gdk, gio, glib};
use relm4::prelude::*;
use relm4::MessageBroker;

use crate::cli::{self, LaunchRequest};
use crate::config;
use crate::manager::{ManagerInit, ManagerInput, ManagerWindow};

/// Lets the command-line handler reach the manager window.
static MANAGER_BROKER: MessageBroker<ManagerInput> = MessageBroker::new();

/// Runs the app until its last window closes.
pub fn run() -> glib::ExitCode {
    let settings = match crate::settings::open() {
        Ok(settings) => settings,
        Err(err) => {
            eprintln!("hangar: {err}");
            return glib::ExitCode::FAILURE;
        }
    };
    let app = gtk4::Application::builder()
        .application_id(config::APP_ID)
        .resource_base_path(config::RESOURCE_BASE)
        .flags(gio::ApplicationFlags::HANDLES_COMMAND_LINE)
        .build();
    cli::register(&app);

    // Registers `app` as relm4's main application (relm4's own runner is not
    // used: in a second, remote invocation it would wait forever).
    drop(relm4::RelmApp::<ManagerInput>::from_app(app.clone()));
    let init = std::cell::Cell::new(Some(ManagerInit { settings }));
    app.connect_startup(move |app| {
        crate::startup_trace::mark("gtk initialised");
        install_style();
        crate::startup_trace::mark("style installed");
        gtk4::Window::set_default_icon_name(config::APP_ID);
        let menus = gtk4::Builder::from_resource(&format!("{}/ui/menus.ui", config::RESOURCE_BASE));
        app.set_menubar(menus.object::<gio::MenuModel>("menubar").as_ref());
        if let Some(init) = init.take() {
            let mut controller = ManagerWindow::builder()
                .launch_with_broker(init, &MANAGER_BROKER)
                .detach();
            app.add_window(controller.widget().upcast_ref::<gtk4::Window>());
            controller.detach_runtime();
        }
        crate::startup_trace::mark("manager window built");
    });
    app.connect_activate(|app| {
        if let Some(window) = app.active_window() {
            window.present();
        }
    });
    app.connect_command_line(|_, command_line| {
        crate::startup_trace::mark("command line");
        let request = LaunchRequest::from_options(&command_line.options_dict());
        // The manager presents its window itself once it has asked for the
        // connections, so the backend loads them while GTK maps the window.
        MANAGER_BROKER.send(ManagerInput::Launch(request));
        glib::ExitCode::SUCCESS
    });

    // A second invocation only forwards its command line to the running
    // instance (GApplication does that inside `run`).
    app.run()
}

/// Loads the bundled stylesheet and icons for every window.
fn install_style() {
    let Some(display) = gdk::Display::default() else {
        return;
    };
    let provider = gtk4::CssProvider::new();
    provider.load_from_resource(&format!("{}/style.css", config::RESOURCE_BASE));
    gtk4::style_context_add_provider_for_display(
        &display,
        &provider,
        gtk4::STYLE_PROVIDER_PRIORITY_APPLICATION,
    );
    gtk4::IconTheme::for_display(&display)
        .add_resource_path(&format!("{}/icons", config::RESOURCE_BASE));
}
