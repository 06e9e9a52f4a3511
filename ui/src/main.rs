//! `hangar`: the desktop virtual machine manager.

use gtk4::prelude::*;

const APP_ID: &str = "org.hangar.Hangar";

fn main() -> gtk4::glib::ExitCode {
    let app = gtk4::Application::builder().application_id(APP_ID).build();
    app.connect_activate(|app| {
        let window = gtk4::ApplicationWindow::builder()
            .application(app)
            .title("Hangar")
            .default_width(800)
            .default_height(600)
            .build();
        window.set_child(Some(&gtk4::Label::new(Some("Hangar"))));
        window.present();
    });
    app.run()
}
