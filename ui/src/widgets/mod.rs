//! Small reusable widgets: the CPU sparkline, the error dialog and
//! helpers for labelled form rows.

pub mod confirm;
pub mod error_dialog;
pub mod form;
pub mod sparkline;
pub mod xml_view;

use gtk4::prelude::*;

/// A button with a mnemonic label ("_Delete") whose accessible name is the
/// plain text ("Delete"); GTK 4.8 would otherwise read both forms.
pub fn button(label: &str) -> gtk4::Button {
    let button = gtk4::Button::with_mnemonic(label);
    set_plain_name(button.upcast_ref(), label);
    button
}

/// Gives `widget` the mnemonic `label` without its underscores as its name.
pub fn set_plain_name(widget: &gtk4::Widget, label: &str) {
    let plain = label.replace('_', "");
    // The mnemonic label also names the button through "labelled by"; GTK
    // 4.8 joins both, so only the plain label is kept.
    widget.reset_relation(gtk4::AccessibleRelation::LabelledBy);
    widget.update_property(&[gtk4::accessible::Property::Label(&plain)]);
}
