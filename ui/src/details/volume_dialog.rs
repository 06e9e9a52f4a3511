//! The create-volume dialog: name, format (raw or qcow2), capacity,
//! allocate now, backing store.

use gettextrs::gettext;
use gtk4::prelude::*;
use hangar_core::api::VolumeAs;
use relm4::Sender;

use super::storage::StorageInput;
use crate::widgets::form::Form;

const GIB: f64 = 1024.0 * 1024.0 * 1024.0;

/// Shows the dialog for `pool`; "Finish" sends [`StorageInput::CreateVolume`].
pub fn show(
    parent: &gtk4::Window,
    pool: String,
    default_format: &str,
    sender: Sender<StorageInput>,
) {
    let dialog = gtk4::Window::builder()
        .title(gettext("Add a Storage Volume"))
        .transient_for(parent)
        .modal(true)
        .default_width(480)
        .build();
    let formats = ["qcow2", "raw"];
    let format = gtk4::DropDown::from_strings(&formats);
    format.set_selected(if default_format == "raw" { 1 } else { 0 });
    let name = gtk4::Entry::builder().text("volume").hexpand(true).build();
    let capacity = gtk4::SpinButton::with_range(0.1, 65536.0, 0.1);
    capacity.set_digits(1);
    capacity.set_value(20.0);
    let allocate = gtk4::CheckButton::with_label(&gettext("Allocate entire volume now"));
    let backing = gtk4::Entry::builder()
        .placeholder_text(gettext("Name or path of a volume (optional)"))
        .build();

    let mut form = Form::new();
    form.field(&gettext("Name:"), &name);
    form.field(&gettext("Format:"), &format);
    form.field(&gettext("Capacity (GiB):"), &capacity);
    form.wide(&allocate);
    form.field(&gettext("Backing store:"), &backing);

    let refresh = {
        let (format, allocate, backing) = (format.clone(), allocate.clone(), backing.clone());
        move || {
            let qcow2 = format.selected() == 0;
            backing.set_sensitive(qcow2);
            if !qcow2 {
                backing.set_text("");
            }
            allocate.set_sensitive(backing.text().trim().is_empty());
        }
    };
    refresh();
    let r = refresh.clone();
    format.connect_selected_notify(move |_| r());
    backing.connect_changed(move |_| refresh());

    let content = gtk4::Box::new(gtk4::Orientation::Vertical, 12);
    content.set_margin_top(12);
    content.set_margin_bottom(18);
    content.set_margin_start(12);
    content.set_margin_end(18);
    let intro = gtk4::Label::builder()
        .label(crate::i18n::gettext_f(
            "Create a storage unit in the pool “{pool}”.",
            &[("pool", &pool)],
        ))
        .xalign(0.0)
        .wrap(true)
        .build();
    content.append(&intro);
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
        let format_name = formats[format.selected().min(1) as usize];
        let mut volume_name = name.text().trim().to_string();
        if volume_name.is_empty() {
            return;
        }
        if format_name == "qcow2" && !volume_name.contains('.') {
            volume_name.push_str(".qcow2");
        } else if format_name == "raw" && !volume_name.contains('.') {
            volume_name.push_str(".img");
        }
        // Take text typed without leaving the field.
        capacity.update();
        let bytes = (capacity.value() * GIB).round() as u64;
        let backing_vol = Some(backing.text().trim().to_string()).filter(|b| !b.is_empty());
        let args = VolumeAs {
            name: volume_name,
            capacity: bytes,
            allocation: (allocate.is_active() && backing_vol.is_none()).then_some(bytes),
            format: Some(format_name.to_string()),
            backing_format: backing_vol.as_ref().map(|_| "qcow2".to_string()),
            backing_vol,
            prealloc_metadata: false,
        };
        sender.emit(StorageInput::CreateVolume {
            pool: pool.clone(),
            args,
        });
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    dialog.present();
}
