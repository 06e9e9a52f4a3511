//! The delete dialog: deletes a domain and, for each disk, optionally the
//! storage behind it.

use gettextrs::gettext;
use gtk4::prelude::*;
use hangar_core::xml::Element;
use relm4::Sender;

use super::ManagerInput;
use crate::backend::UiError;
use crate::i18n::gettext_f;

/// One disk of the domain and whether its storage is offered for deletion.
#[derive(Debug, Clone)]
pub struct DiskChoice {
    /// The guest device ("vda", "hdc").
    pub target: String,
    /// The file or volume behind it.
    pub path: String,
    /// Ticked at first: writable disks, not CD-ROMs or shared ones.
    pub default_delete: bool,
}

/// The disks of a `<domain>` definition that have storage behind them.
pub fn disks_of(xml: &str) -> Result<Vec<DiskChoice>, UiError> {
    let root = Element::parse(xml).map_err(|err| UiError::Input(err.to_string()))?;
    let Some(devices) = root.child("devices") else {
        return Ok(Vec::new());
    };
    let mut disks = Vec::new();
    for disk in devices.children_named("disk") {
        let Some(source) = disk.child("source") else {
            continue;
        };
        let path = source
            .attr("file")
            .or_else(|| source.attr("dev"))
            .map(str::to_string)
            .or_else(|| {
                let pool = source.attr("pool")?;
                let volume = source.attr("volume")?;
                Some(format!("{pool}/{volume}"))
            });
        let Some(path) = path else {
            continue;
        };
        let device = disk.attr("device").unwrap_or("disk");
        let read_only = disk.child("readonly").is_some() || disk.child("shareable").is_some();
        disks.push(DiskChoice {
            target: disk
                .child("target")
                .and_then(|t| t.attr("dev"))
                .unwrap_or_default()
                .to_string(),
            path,
            default_delete: device == "disk" && !read_only,
        });
    }
    Ok(disks)
}

/// Shows the dialog; "Delete" sends [`ManagerInput::DeleteConfirmed`].
pub fn show(
    parent: &gtk4::ApplicationWindow,
    uri: String,
    name: String,
    disks: Vec<DiskChoice>,
    sender: Sender<ManagerInput>,
) {
    let title = gettext_f("Delete “{name}”", &[("name", &name)]);
    let dialog = gtk4::Window::builder()
        .title(&title)
        .transient_for(parent)
        .modal(true)
        .default_width(480)
        .build();
    let content = gtk4::Box::new(gtk4::Orientation::Vertical, 12);
    content.set_margin_top(18);
    content.set_margin_bottom(18);
    content.set_margin_start(18);
    content.set_margin_end(18);
    let question = gtk4::Label::builder()
        .label(gettext_f(
            "Delete the virtual machine “{name}”? Its definition is removed; the storage ticked below is deleted too.",
            &[("name", &name)],
        ))
        .wrap(true)
        .xalign(0.0)
        .build();
    content.append(&question);

    let storage_label = gettext("Delete associated storage");
    let delete_storage = gtk4::CheckButton::with_label(&storage_label);
    delete_storage.set_active(!disks.is_empty());
    delete_storage.set_sensitive(!disks.is_empty());
    content.append(&delete_storage);

    let mut checks = Vec::new();
    let disk_box = gtk4::Box::new(gtk4::Orientation::Vertical, 4);
    disk_box.set_margin_start(24);
    for disk in &disks {
        let label = format!("{} ({})", disk.path, disk.target);
        let check = gtk4::CheckButton::with_label(&label);
        check.set_active(disk.default_delete);
        disk_box.append(&check);
        checks.push((check, disk.path.clone()));
    }
    if disks.is_empty() {
        let none = gtk4::Label::builder()
            .label(gettext("This virtual machine has no storage."))
            .xalign(0.0)
            .css_classes(["dim-label"])
            .build();
        disk_box.append(&none);
    }
    delete_storage
        .bind_property("active", &disk_box, "sensitive")
        .sync_create()
        .build();
    content.append(&disk_box);

    let buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
    buttons.set_halign(gtk4::Align::End);
    let cancel = crate::widgets::button(&gettext("_Cancel"));
    let delete = crate::widgets::button(&gettext("_Delete"));
    delete.add_css_class("destructive-action");
    buttons.append(&cancel);
    buttons.append(&delete);
    content.append(&buttons);
    dialog.set_child(Some(&content));

    let weak = dialog.downgrade();
    cancel.connect_clicked(move |_| {
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    let weak = dialog.downgrade();
    delete.connect_clicked(move |_| {
        let storage = if delete_storage.is_active() {
            checks
                .iter()
                .filter(|(check, _)| check.is_active())
                .map(|(_, path)| path.clone())
                .collect()
        } else {
            Vec::new()
        };
        sender.emit(ManagerInput::DeleteConfirmed {
            uri: uri.clone(),
            name: name.clone(),
            storage,
        });
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    dialog.present();
}
