//! File > Add Connection: session, system, a test-driver file or any URI.

use gettextrs::gettext;
use gtk4::prelude::*;
use relm4::Sender;

use super::ManagerInput;
use crate::widgets::form::Form;

/// Shows the dialog; "Connect" sends [`ManagerInput::AddConnection`].
pub fn show(parent: &gtk4::ApplicationWindow, sender: Sender<ManagerInput>) {
    let dialog = gtk4::Window::builder()
        .title(gettext("Add Connection"))
        .transient_for(parent)
        .modal(true)
        .default_width(460)
        .build();
    let content = gtk4::Box::new(gtk4::Orientation::Vertical, 12);
    content.set_margin_top(12);
    content.set_margin_bottom(18);
    content.set_margin_start(12);
    content.set_margin_end(18);

    let kinds = [
        gettext("Hangar User session"),
        gettext("Hangar System"),
        gettext("Test driver file"),
        gettext("Custom URI"),
    ];
    let kind_refs: Vec<&str> = kinds.iter().map(String::as_str).collect();
    let kind = gtk4::DropDown::from_strings(&kind_refs);
    let file = gtk4::Entry::builder()
        .placeholder_text("/path/to/testdriver.xml")
        .hexpand(true)
        .build();
    let custom = gtk4::Entry::builder()
        .placeholder_text("test:///default")
        .build();
    let autoconnect = gtk4::CheckButton::with_label(&gettext("Autoconnect"));
    let uri_label = gtk4::Label::builder().xalign(0.0).selectable(true).build();

    let mut form = Form::new();
    form.field(&gettext("Hypervisor:"), &kind);
    form.field(&gettext("Test driver file:"), &file);
    form.field(&gettext("Custom URI:"), &custom);
    form.wide(&autoconnect);
    form.field(&gettext("Generated URI:"), &uri_label);
    content.append(form.grid());

    let compute = {
        let (kind, file, custom) = (kind.clone(), file.clone(), custom.clone());
        move || -> String {
            match kind.selected() {
                0 => "hangar:///session".to_string(),
                1 => "hangar:///system".to_string(),
                2 => format!("test://{}", file.text().trim()),
                _ => custom.text().trim().to_string(),
            }
        }
    };
    let refresh = {
        let (kind, file, custom, uri_label, compute) = (
            kind.clone(),
            file.clone(),
            custom.clone(),
            uri_label.clone(),
            compute.clone(),
        );
        move || {
            file.set_sensitive(kind.selected() == 2);
            custom.set_sensitive(kind.selected() == 3);
            uri_label.set_label(&compute());
        }
    };
    refresh();
    let r = refresh.clone();
    kind.connect_selected_notify(move |_| r());
    let r = refresh.clone();
    file.connect_changed(move |_| r());
    custom.connect_changed(move |_| refresh());

    let buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
    buttons.set_halign(gtk4::Align::End);
    let cancel = crate::widgets::button(&gettext("_Cancel"));
    let connect = crate::widgets::button(&gettext("C_onnect"));
    connect.add_css_class("suggested-action");
    buttons.append(&cancel);
    buttons.append(&connect);
    content.append(&buttons);
    dialog.set_child(Some(&content));

    let weak = dialog.downgrade();
    cancel.connect_clicked(move |_| {
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    let weak = dialog.downgrade();
    connect.connect_clicked(move |_| {
        let uri = compute();
        if uri.is_empty() || uri == "test://" {
            return;
        }
        sender.emit(ManagerInput::AddConnection {
            uri,
            autoconnect: autoconnect.is_active(),
        });
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    dialog.present();
}
