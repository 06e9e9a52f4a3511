//! Helpers for the two-column "label: value" grids of the details pages
//! and dialogs, keeping every field's accessible name equal to its label.

use gtk4::prelude::*;

/// A grid being filled row by row.
pub struct Form {
    grid: gtk4::Grid,
    row: i32,
}

impl Form {
    /// An empty form.
    pub fn new() -> Self {
        let grid = gtk4::Grid::builder()
            .row_spacing(6)
            .column_spacing(12)
            .css_classes(["details-grid"])
            .build();
        Self { grid, row: 0 }
    }

    /// The grid to pack.
    pub fn grid(&self) -> &gtk4::Grid {
        &self.grid
    }

    /// Adds a bold section title spanning both columns.
    pub fn section(&mut self, title: &str) {
        let label = gtk4::Label::builder()
            .label(title)
            .xalign(0.0)
            .css_classes(["section-title"])
            .build();
        self.grid.attach(&label, 0, self.row, 2, 1);
        self.row += 1;
    }

    /// Adds `label` beside `widget`; the widget is labelled by it for
    /// assistive technologies.
    pub fn field(&mut self, label: &str, widget: &impl IsA<gtk4::Widget>) {
        let widget: &gtk4::Widget = widget.upcast_ref();
        widget.update_property(&[gtk4::accessible::Property::Label(
            label.trim_end_matches(':'),
        )]);
        self.attach(label, widget);
    }

    fn attach(&mut self, label: &str, widget: &impl IsA<gtk4::Widget>) {
        let title = gtk4::Label::builder()
            .label(label)
            .xalign(1.0)
            .css_classes(["field"])
            .build();
        // No "labelled by" relation: GTK 4.8 would join it to the name
        // set in `field`, and a value label must keep its text as its name.
        self.grid.attach(&title, 0, self.row, 1, 1);
        self.grid.attach(widget, 1, self.row, 1, 1);
        self.row += 1;
    }

    /// Adds a read-only value and returns the label showing it.
    pub fn value(&mut self, label: &str) -> gtk4::Label {
        let value = gtk4::Label::builder()
            .xalign(0.0)
            .selectable(true)
            .hexpand(true)
            .wrap(true)
            .build();
        // A value label keeps its own text as its accessible name, so
        // assistive technologies read the value.
        self.attach(label, &value);
        value
    }

    /// Adds a widget spanning both columns.
    pub fn wide(&mut self, widget: &impl IsA<gtk4::Widget>) {
        self.grid.attach(widget, 0, self.row, 2, 1);
        self.row += 1;
    }
}
