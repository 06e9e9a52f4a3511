//! The XML tab of the details pages: the definition in a monospace text
//! view, editable when the preferences allow, with an Apply button.

use gettextrs::gettext;
use gtk4::prelude::*;

/// The XML editor and its Apply button.
#[derive(Clone)]
pub struct XmlView {
    root: gtk4::Box,
    buffer: gtk4::TextBuffer,
    view: gtk4::TextView,
    apply: gtk4::Button,
    hint: gtk4::Label,
}

impl XmlView {
    /// An empty view; `on_apply` gets the edited text.
    pub fn new(accessible_name: &str, on_apply: impl Fn(String) + 'static) -> Self {
        let buffer = gtk4::TextBuffer::new(None);
        let view = gtk4::TextView::builder()
            .buffer(&buffer)
            .monospace(true)
            .css_classes(["xml-view"])
            .build();
        view.update_property(&[gtk4::accessible::Property::Label(accessible_name)]);
        let scroller = gtk4::ScrolledWindow::builder()
            .child(&view)
            .vexpand(true)
            .build();
        let hint = gtk4::Label::builder()
            .label(gettext(
                "XML editing is off. Turn it on in Preferences to change the definition here.",
            ))
            .wrap(true)
            .xalign(0.0)
            .css_classes(["dim-label"])
            .build();
        let apply = crate::widgets::button(&gettext("_Apply"));
        apply.update_property(&[gtk4::accessible::Property::Label(&gettext("Apply XML"))]);
        apply.set_halign(gtk4::Align::End);
        let apply_buffer = buffer.clone();
        apply.connect_clicked(move |_| {
            let (start, end) = apply_buffer.bounds();
            on_apply(apply_buffer.text(&start, &end, false).to_string());
        });
        let root = gtk4::Box::new(gtk4::Orientation::Vertical, 6);
        root.set_margin_top(6);
        root.set_margin_bottom(6);
        root.set_margin_start(6);
        root.set_margin_end(6);
        root.append(&scroller);
        root.append(&hint);
        root.append(&apply);
        let this = Self {
            root,
            buffer,
            view,
            apply,
            hint,
        };
        this.set_editable(false);
        this
    }

    /// The widget to pack.
    pub fn widget(&self) -> &gtk4::Box {
        &self.root
    }

    /// Shows a definition.
    pub fn set_xml(&self, xml: &str) {
        self.buffer.set_text(xml);
    }

    /// Allows or forbids editing.
    pub fn set_editable(&self, editable: bool) {
        self.view.set_editable(editable);
        self.view.set_cursor_visible(editable);
        self.apply.set_visible(editable);
        self.hint.set_visible(!editable);
    }
}
