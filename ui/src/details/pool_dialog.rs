//! The create-pool dialog: a directory pool with its target path.

use gettextrs::gettext;
use gtk4::prelude::*;
use relm4::Sender;

use super::storage::StorageInput;
use crate::widgets::form::Form;

/// Shows the dialog; "Finish" sends [`StorageInput::CreatePool`].
pub fn show(parent: &gtk4::Window, base_dir: String, sender: Sender<StorageInput>) {
    let dialog = gtk4::Window::builder()
        .title(gettext("Add a New Storage Pool"))
        .transient_for(parent)
        .modal(true)
        .default_width(480)
        .build();
    let name = gtk4::Entry::builder().text("pool").hexpand(true).build();
    let types = [gettext("dir: Filesystem Directory")];
    let type_refs: Vec<&str> = types.iter().map(String::as_str).collect();
    let pool_type = gtk4::DropDown::from_strings(&type_refs);
    let path = gtk4::Entry::builder()
        .text(format!("{base_dir}/pool"))
        .build();
    let mut form = Form::new();
    form.field(&gettext("Name:"), &name);
    form.field(&gettext("Type:"), &pool_type);
    form.field(&gettext("Target Path:"), &path);

    // The path follows the name until the user edits it.
    let path_follows = std::rc::Rc::new(std::cell::Cell::new(true));
    let follow = path_follows.clone();
    let follow_path = path.clone();
    name.connect_changed(move |name| {
        if follow.get() {
            follow_path.set_text(&format!("{base_dir}/{}", name.text().trim()));
            follow.set(true);
        }
    });
    let edited = path_follows.clone();
    let path_for_focus = path.clone();
    let key = gtk4::EventControllerKey::new();
    key.connect_key_pressed(move |_, _, _, _| {
        edited.set(false);
        gtk4::glib::Propagation::Proceed
    });
    path_for_focus.add_controller(key);

    let content = gtk4::Box::new(gtk4::Orientation::Vertical, 12);
    content.set_margin_top(12);
    content.set_margin_bottom(18);
    content.set_margin_start(12);
    content.set_margin_end(18);
    content.append(form.grid());
    let buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
    buttons.set_halign(gtk4::Align::End);
    let cancel = crate::widgets::button(&gettext("_Cancel"));
    let finish = crate::widgets::button(&gettext("_Finish"));
    finish.add_css_class("suggested-action");
    buttons.append(&cancel);
    buttons.append(&finish);
    content.append(&buttons);
    dialog.set_child(Some(&content));

    let weak = dialog.downgrade();
    cancel.connect_clicked(move |_| {
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    let weak = dialog.downgrade();
    finish.connect_clicked(move |_| {
        let name = name.text().trim().to_string();
        let path = path.text().trim().to_string();
        if name.is_empty() || path.is_empty() {
            return;
        }
        sender.emit(StorageInput::CreatePool { name, path });
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    dialog.present();
}
