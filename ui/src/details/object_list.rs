//! The left side shared by the Virtual Networks and Storage pages: a named list
//! of objects above a row of Add / Start / Stop / Delete buttons.

use gtk4::prelude::*;

/// An icon button whose tooltip is also its accessible name.
pub(super) fn tool_button(icon: &str, name: &str) -> gtk4::Button {
    let button = gtk4::Button::from_icon_name(icon);
    button.set_tooltip_text(Some(name));
    button.update_property(&[gtk4::accessible::Property::Label(name)]);
    button
}

/// What the pane's list and buttons send to their page.
pub(super) struct PaneMessages<M> {
    /// A row was selected.
    pub selected: fn() -> M,
    /// Add, Start, Stop and Delete, in that order.
    pub actions: [fn() -> M; 4],
}

/// Accessible names of the pane's widgets, already translated.
pub(super) struct PaneLabels<'a> {
    /// Name of the list (e.g. "Virtual Networks").
    pub list: &'a str,
    /// Add, Start, Stop and Delete, in that order.
    pub actions: [&'a str; 4],
}

/// The widgets a page keeps to update the pane later (Add is always enabled).
pub(super) struct ObjectListPane {
    /// The list of objects.
    pub list: gtk4::ListBox,
    /// Start the selected object.
    pub start: gtk4::Button,
    /// Stop the selected object.
    pub stop: gtk4::Button,
    /// Delete the selected object.
    pub delete: gtk4::Button,
}

impl ObjectListPane {
    /// Builds the pane as the start child of `root`, `width` pixels wide, and
    /// sends the page's messages through `send`.
    pub(super) fn attach<M: 'static>(
        root: &gtk4::Paned,
        labels: PaneLabels<'_>,
        width: i32,
        messages: PaneMessages<M>,
        send: impl Fn(M) + Clone + 'static,
    ) -> ObjectListPane {
        let list = gtk4::ListBox::new();
        list.update_property(&[gtk4::accessible::Property::Label(labels.list)]);
        let on_select = send.clone();
        let selected = messages.selected;
        list.connect_row_selected(move |_, _| on_select(selected()));
        let scroller = gtk4::ScrolledWindow::builder()
            .child(&list)
            .vexpand(true)
            .min_content_width(width - 20)
            .hscrollbar_policy(gtk4::PolicyType::Never)
            .build();
        let buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 4);
        buttons.set_margin_top(4);
        buttons.set_margin_bottom(4);
        buttons.set_margin_start(4);
        let make = |icon: &str, label: &str, message: fn() -> M| {
            let button = tool_button(icon, label);
            let send = send.clone();
            button.connect_clicked(move |_| send(message()));
            buttons.append(&button);
            button
        };
        let [add_label, start_label, stop_label, delete_label] = labels.actions;
        let [add_message, start_message, stop_message, delete_message] = messages.actions;
        make("list-add-symbolic", add_label, add_message);
        let start = make("media-playback-start-symbolic", start_label, start_message);
        let stop = make("media-playback-stop-symbolic", stop_label, stop_message);
        let delete = make("user-trash-symbolic", delete_label, delete_message);
        let left = gtk4::Box::new(gtk4::Orientation::Vertical, 0);
        left.append(&scroller);
        left.append(&buttons);
        root.set_start_child(Some(&left));
        root.set_shrink_start_child(false);
        root.set_position(width);
        root.set_resize_start_child(false);
        ObjectListPane {
            list,
            start,
            stop,
            delete,
        }
    }
}
