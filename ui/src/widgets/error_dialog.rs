//! The dialog every failure ends in: a summary, the error, and its
//! details in an expander.

use gettextrs::gettext;
use gtk4::prelude::*;

/// Shows a modal error dialog over `parent` (if any).
pub fn show(parent: Option<&gtk4::Window>, summary: &str, details: &str) {
    let dialog = gtk4::Window::builder()
        .title(gettext("Error"))
        .modal(true)
        .resizable(true)
        .default_width(460)
        .build();
    if let Some(parent) = parent {
        dialog.set_transient_for(Some(parent));
    }
    let content = gtk4::Box::new(gtk4::Orientation::Vertical, 12);
    content.set_margin_top(18);
    content.set_margin_bottom(18);
    content.set_margin_start(18);
    content.set_margin_end(18);

    let header = gtk4::Box::new(gtk4::Orientation::Horizontal, 12);
    let icon = gtk4::Image::from_icon_name("dialog-error-symbolic");
    icon.set_pixel_size(32);
    icon.set_valign(gtk4::Align::Start);
    header.append(&icon);
    let summary_label = gtk4::Label::builder()
        .label(summary)
        .wrap(true)
        .xalign(0.0)
        .hexpand(true)
        .css_classes(["title-4"])
        .build();
    header.append(&summary_label);
    content.append(&header);

    let first_line = details.lines().next().unwrap_or_default();
    let message = gtk4::Label::builder()
        .label(first_line)
        .wrap(true)
        .selectable(true)
        .xalign(0.0)
        .build();
    content.append(&message);

    let buffer = gtk4::TextBuffer::new(None);
    buffer.set_text(details);
    let view = gtk4::TextView::builder()
        .buffer(&buffer)
        .editable(false)
        .wrap_mode(gtk4::WrapMode::WordChar)
        .css_classes(["error-details"])
        .build();
    let scroller = gtk4::ScrolledWindow::builder()
        .child(&view)
        .min_content_height(120)
        .vexpand(true)
        .build();
    let expander = gtk4::Expander::builder()
        .label(gettext("Details"))
        .child(&scroller)
        .build();
    content.append(&expander);

    let close = crate::widgets::button(&gettext("_Close"));
    close.set_halign(gtk4::Align::End);
    let weak = dialog.downgrade();
    close.connect_clicked(move |_| {
        if let Some(dialog) = weak.upgrade() {
            dialog.close();
        }
    });
    content.append(&close);
    dialog.set_child(Some(&content));
    dialog.set_default_widget(Some(&close));
    dialog.present();
}
