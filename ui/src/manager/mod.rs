//! The manager window: connections as groups, each with its virtual
//! machines, a toolbar, menus, shortcuts and a context menu.
//!
//! Domains change on screen when the backend's events say so; the window
//! only asks the backend again for the object an event names.

mod actions;
mod add_connection;
mod connections;
mod delete_dialog;
mod domain_ops;
mod domain_row;
mod host;
mod windows;

use std::collections::HashMap;

use gettextrs::gettext;
use gtk4::prelude::*;
use gtk4::{gio, glib};
use hangar_core::api::{Connection, DomainInfo, Event};
use relm4::prelude::*;

use crate::backend::UiError;
use crate::cli::LaunchRequest;
use crate::details::ConnectionDetails;
use crate::domain::{DomainPage, DomainWindow};
use crate::new_vm::NewVmDialog;
use crate::preferences::PreferencesWindow;
use crate::widgets::error_dialog;
use actions::DomainActions;
use delete_dialog::DiskChoice;
use domain_row::Columns;
use host::{Host, HostStatus};

/// What the manager window starts with.
pub struct ManagerInit {
    /// The app's settings.
    pub settings: gio::Settings,
}

/// An operation on one domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainAction {
    /// Start it.
    Run,
    /// Suspend it.
    Pause,
    /// Resume it.
    Resume,
    /// Ask the guest to shut down.
    Shutdown,
    /// Ask the guest to reboot.
    Reboot,
    /// Hard reset.
    Reset,
    /// Power off at once.
    ForceOff,
    /// Save its state and stop it (managed save).
    Save,
}

/// Something to show once a connection is open.
#[derive(Debug, Clone)]
enum Pending {
    HostSummary,
    Domain(String, DomainPage),
}

/// Messages to the manager window.
#[derive(Debug)]
pub enum ManagerInput {
    /// A `hangar` invocation (the first or a later one) asked for this.
    Launch(LaunchRequest),
    /// Add (and open) a connection.
    AddConnection {
        /// Its URI.
        uri: String,
        /// Open it whenever the app starts.
        autoconnect: bool,
    },
    /// Show the add-connection dialog.
    ShowAddConnection,
    /// A header row was activated: open or close that connection.
    ToggleConnection(String),
    /// The selection changed.
    SelectionChanged,
    /// Act on the selected domain (after confirming where asked).
    Domain(DomainAction),
    /// Act on a named domain, confirmed.
    DomainConfirmed(String, String, DomainAction),
    /// Delete the selected domain (asks first).
    Delete,
    /// Delete a domain and the chosen storage.
    DeleteConfirmed {
        /// Its connection.
        uri: String,
        /// The domain.
        name: String,
        /// Paths of the volumes to delete with it.
        storage: Vec<String>,
    },
    /// Open the selected domain's window.
    Open,
    /// Show the new-VM dialog.
    NewVm,
    /// Show the connection details window.
    ConnectionDetails,
    /// Show the preferences window.
    Preferences,
    /// Show the about dialog.
    About,
    /// Settings changed which columns show.
    ColumnsChanged,
}

/// Answers from the backend.
#[derive(Debug)]
pub enum ManagerCommand {
    /// A connection opened (with its domains) or failed to.
    Opened(String, Result<(Connection, Vec<DomainInfo>), UiError>),
    /// A connection's event.
    Event(String, Event),
    /// A connection's event stream ended.
    Closed(String),
    /// One domain, refreshed after an event; `None` when it is gone.
    DomainRefreshed(String, String, Result<Option<DomainInfo>, UiError>),
    /// An operation ended; the summary titles its error dialog.
    Done(String, Result<(), UiError>),
    /// The disks of a domain about to be deleted.
    DeleteChoices(String, String, Result<Vec<DiskChoice>, UiError>),
}

/// The manager window's state.
pub struct ManagerWindow {
    settings: gio::Settings,
    window: gtk4::ApplicationWindow,
    list: gtk4::ListBox,
    column_titles: [gtk4::Label; 4],
    hosts: Vec<Host>,
    actions: DomainActions,
    pending: Vec<(String, Pending)>,
    launched: bool,
    details: HashMap<String, Controller<ConnectionDetails>>,
    domain_windows: HashMap<(String, String), Controller<DomainWindow>>,
    preferences: Option<Controller<PreferencesWindow>>,
    new_vm: Option<Controller<NewVmDialog>>,
}

#[relm4::component(pub)]
impl Component for ManagerWindow {
    type Init = ManagerInit;
    type Input = ManagerInput;
    type Output = ();
    type CommandOutput = ManagerCommand;

    view! {
        #[name = "window"]
        gtk4::ApplicationWindow {
            set_title: Some(&gettext("Virtual Machine Manager")),
            set_default_width: init.settings.int("window-width"),
            set_default_height: init.settings.int("window-height"),
            set_show_menubar: true,

            gtk4::Box {
                set_orientation: gtk4::Orientation::Vertical,

                gtk4::Box {
                    set_orientation: gtk4::Orientation::Horizontal,
                    set_spacing: 4,
                    set_margin_all: 6,
                    add_css_class: "toolbar",

                    #[name = "new_button"]
                    gtk4::Button {
                        set_action_name: Some("win.new-vm"),
                        set_tooltip_text: Some(&gettext("Create a new virtual machine")),
                        #[wrap(Some)]
                        set_child = &gtk4::Box {
                            set_spacing: 6,
                            gtk4::Image { set_icon_name: Some("list-add-symbolic") },
                            gtk4::Label { set_label: &gettext("New") },
                        },
                    },
                    #[name = "open_button"]
                    gtk4::Button {
                        set_action_name: Some("win.open"),
                        set_tooltip_text: Some(&gettext("Show the virtual machine's details")),
                        #[wrap(Some)]
                        set_child = &gtk4::Box {
                            set_spacing: 6,
                            gtk4::Image { set_icon_name: Some("document-open-symbolic") },
                            gtk4::Label { set_label: &gettext("Open") },
                        },
                    },
                    gtk4::Separator { set_orientation: gtk4::Orientation::Vertical },
                    #[name = "run_button"]
                    gtk4::Button {
                        set_icon_name: "media-playback-start-symbolic",
                        set_action_name: Some("win.run"),
                        set_tooltip_text: Some(&gettext("Run the virtual machine")),
                    },
                    #[name = "pause_button"]
                    gtk4::Button {
                        set_icon_name: "media-playback-pause-symbolic",
                        set_action_name: Some("win.pause"),
                        set_tooltip_text: Some(&gettext("Pause the virtual machine")),
                    },
                    #[name = "resume_button"]
                    gtk4::Button {
                        set_icon_name: "media-seek-forward-symbolic",
                        set_action_name: Some("win.resume"),
                        set_tooltip_text: Some(&gettext("Resume the virtual machine")),
                    },
                    gtk4::Box {
                        add_css_class: "linked",
                        #[name = "shutdown_button"]
                        gtk4::Button {
                            set_icon_name: "system-shutdown-symbolic",
                            set_action_name: Some("win.shutdown"),
                            set_tooltip_text: Some(&gettext("Shut down the virtual machine")),
                        },
                        #[name = "shutdown_menu_button"]
                        gtk4::MenuButton {
                            set_tooltip_text: Some(&gettext("More ways to shut down")),
                        },
                    },
                },

                gtk4::Box {
                    set_orientation: gtk4::Orientation::Horizontal,
                    set_spacing: 10,
                    set_margin_start: 48,
                    set_margin_end: 12,
                    gtk4::Label {
                        set_label: &gettext("Name"),
                        set_hexpand: true,
                        set_xalign: 0.0,
                        add_css_class: "dim-label",
                    },
                    #[name = "cpu_title"]
                    gtk4::Label {
                        set_label: &gettext("CPU usage"),
                        set_width_request: domain_row::COLUMN_WIDTH,
                        add_css_class: "dim-label",
                    },
                    #[name = "memory_title"]
                    gtk4::Label {
                        set_label: &gettext("Memory"),
                        set_width_request: domain_row::COLUMN_WIDTH,
                        set_xalign: 1.0,
                        add_css_class: "dim-label",
                    },
                    #[name = "disk_title"]
                    gtk4::Label {
                        set_label: &gettext("Disk I/O"),
                        set_width_request: domain_row::COLUMN_WIDTH,
                        set_xalign: 1.0,
                        add_css_class: "dim-label",
                    },
                    #[name = "network_title"]
                    gtk4::Label {
                        set_label: &gettext("Network I/O"),
                        set_width_request: domain_row::COLUMN_WIDTH,
                        set_xalign: 1.0,
                        add_css_class: "dim-label",
                    },
                },

                gtk4::ScrolledWindow {
                    set_vexpand: true,
                    set_hscrollbar_policy: gtk4::PolicyType::Never,
                    #[name = "list"]
                    gtk4::ListBox {
                        set_selection_mode: gtk4::SelectionMode::Single,
                        connect_row_selected[sender] => move |_, _| {
                            sender.input(ManagerInput::SelectionChanged);
                        },
                    },
                },
            },
        }
    }

    fn init(
        init: ManagerInit,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let widgets = view_output!();
        let settings = init.settings;

        for (button, name) in [
            (
                widgets.new_button.upcast_ref::<gtk4::Widget>(),
                gettext("New"),
            ),
            (widgets.open_button.upcast_ref(), gettext("Open")),
            (widgets.run_button.upcast_ref(), gettext("Run")),
            (widgets.pause_button.upcast_ref(), gettext("Pause")),
            (widgets.resume_button.upcast_ref(), gettext("Resume")),
            (widgets.shutdown_button.upcast_ref(), gettext("Shut Down")),
            (
                widgets.shutdown_menu_button.upcast_ref(),
                gettext("Shut Down Menu"),
            ),
        ] {
            button.update_property(&[gtk4::accessible::Property::Label(&name)]);
        }
        let menus =
            gtk4::Builder::from_resource(&format!("{}/ui/menus.ui", crate::config::RESOURCE_BASE));
        widgets
            .shutdown_menu_button
            .set_menu_model(menus.object::<gio::MenuModel>("shutdown-menu").as_ref());
        widgets
            .list
            .update_property(&[gtk4::accessible::Property::Label(&gettext(
                "Virtual Machines",
            ))]);

        let list = widgets.list.clone();
        let activate_sender = sender.clone();
        let hosts_list = list.clone();
        list.connect_row_activated(move |_, row| {
            if row.is_selectable() {
                activate_sender.input(ManagerInput::Open);
            } else if let Some(uri) = row.tooltip_text() {
                activate_sender.input(ManagerInput::ToggleConnection(uri.to_string()));
            }
        });
        let right_click = gtk4::GestureClick::builder().button(3).build();
        right_click.connect_pressed(move |gesture, _, x, y| {
            if let Some(row) = hosts_list.row_at_y(y as i32) {
                if row.is_selectable() {
                    hosts_list.select_row(Some(&row));
                    actions::popup_context_menu(&hosts_list, x, y);
                    gesture.set_state(gtk4::EventSequenceState::Claimed);
                }
            }
        });
        list.add_controller(right_click);

        if let Some(app) = relm4::main_application().downcast_ref::<gtk4::Application>() {
            actions::install_app_actions(app, &settings, &sender);
        }
        let window_actions = DomainActions::install(&widgets.window, &sender);
        for key in [
            "show-cpu-column",
            "show-memory-column",
            "show-disk-column",
            "show-network-column",
        ] {
            let sender = sender.clone();
            settings.connect_changed(Some(key), move |_, _| {
                sender.input(ManagerInput::ColumnsChanged)
            });
        }
        let save_settings = settings.clone();
        widgets.window.connect_close_request(move |window| {
            let (width, height) = window.default_size();
            // Remembering the size is a convenience; a read-only settings
            // backend must not keep the window open.
            let _ = save_settings.set_int("window-width", width);
            let _ = save_settings.set_int("window-height", height);
            glib::Propagation::Proceed
        });

        let hosts = settings
            .strv("connections")
            .iter()
            .map(|uri| Host::new(uri.to_string()))
            .collect();
        let model = ManagerWindow {
            settings,
            window: widgets.window.clone(),
            list,
            column_titles: [
                widgets.cpu_title.clone(),
                widgets.memory_title.clone(),
                widgets.disk_title.clone(),
                widgets.network_title.clone(),
            ],
            hosts,
            actions: window_actions,
            pending: Vec::new(),
            launched: false,
            details: HashMap::new(),
            domain_windows: HashMap::new(),
            preferences: None,
            new_vm: None,
        };
        model.show_columns();
        model.rebuild_list();
        model.update_actions();
        ComponentParts { model, widgets }
    }

    fn update(&mut self, message: ManagerInput, sender: ComponentSender<Self>, _root: &Self::Root) {
        match message {
            ManagerInput::Launch(request) => self.launch(request, &sender),
            ManagerInput::AddConnection { uri, autoconnect } => {
                self.remember_connection(&uri, autoconnect);
                self.connect(&uri, &sender);
            }
            ManagerInput::ShowAddConnection => {
                add_connection::show(&self.window, sender.input_sender().clone())
            }
            ManagerInput::ToggleConnection(uri) => {
                let connected = self.host(&uri).is_some_and(|h| h.connection().is_some());
                if connected {
                    if let Some(host) = self.host_mut(&uri) {
                        host.set_status(HostStatus::Disconnected);
                    }
                    self.details.remove(&uri);
                    self.rebuild_list();
                } else {
                    self.connect(&uri, &sender);
                }
            }
            ManagerInput::SelectionChanged => self.update_actions(),
            ManagerInput::Domain(action) => {
                if let Some((uri, name)) = self.selected() {
                    self.confirm_domain_action(uri, name, action, &sender);
                }
            }
            ManagerInput::DomainConfirmed(uri, name, action) => {
                self.run_domain_action(&uri, &name, action, &sender)
            }
            ManagerInput::Delete => self.start_delete(&sender),
            ManagerInput::DeleteConfirmed { uri, name, storage } => {
                self.delete_domain(uri, name, storage, &sender)
            }
            ManagerInput::Open => {
                if let Some((uri, name)) = self.selected() {
                    self.show_domain(&uri, &name, DomainPage::Details);
                }
            }
            ManagerInput::NewVm => self.show_new_vm(),
            ManagerInput::ConnectionDetails => {
                if let Some(uri) = self.current_uri() {
                    self.show_details(&uri);
                }
            }
            ManagerInput::Preferences => {
                let controller = self.preferences.get_or_insert_with(|| {
                    PreferencesWindow::builder()
                        .transient_for(&self.window)
                        .launch(self.settings.clone())
                        .detach()
                });
                controller.widget().present();
            }
            ManagerInput::About => self.show_about(),
            ManagerInput::ColumnsChanged => {
                self.show_columns();
            }
        }
    }

    fn update_cmd(
        &mut self,
        message: ManagerCommand,
        sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match message {
            ManagerCommand::Opened(uri, result) => self.opened(uri, result, &sender),
            ManagerCommand::Event(uri, event) => self.handle_event(&uri, event, &sender),
            ManagerCommand::Closed(uri) => {
                if let Some(host) = self.host_mut(&uri) {
                    host.set_status(HostStatus::Disconnected);
                }
                self.rebuild_list();
            }
            ManagerCommand::DomainRefreshed(uri, name, result) => match result {
                Ok(Some(info)) => {
                    let columns = self.columns();
                    let is_new = self
                        .host(&uri)
                        .is_some_and(|h| !h.domains.contains_key(&name));
                    if let Some(host) = self.host_mut(&uri) {
                        host.upsert_domain(info, columns);
                    }
                    if is_new {
                        self.rebuild_list();
                    }
                    self.update_actions();
                }
                Ok(None) => {
                    if let Some(host) = self.host_mut(&uri) {
                        host.domains.remove(&name);
                    }
                    self.domain_windows.remove(&(uri, name));
                    self.rebuild_list();
                }
                Err(error) => {
                    self.show_error(&gettext("Cannot refresh the virtual machine"), &error)
                }
            },
            ManagerCommand::Done(summary, result) => {
                if let Err(error) = result {
                    self.show_error(&summary, &error);
                }
            }
            ManagerCommand::DeleteChoices(uri, name, result) => match result {
                Ok(disks) => delete_dialog::show(
                    &self.window,
                    uri,
                    name,
                    disks,
                    sender.input_sender().clone(),
                ),
                Err(error) => {
                    self.show_error(&gettext("Cannot read the virtual machine's disks"), &error)
                }
            },
        }
    }
}

impl ManagerWindow {
    fn host(&self, uri: &str) -> Option<&Host> {
        self.hosts.iter().find(|h| h.uri == uri)
    }

    fn host_mut(&mut self, uri: &str) -> Option<&mut Host> {
        self.hosts.iter_mut().find(|h| h.uri == uri)
    }

    fn columns(&self) -> Columns {
        Columns {
            cpu: self.settings.boolean("show-cpu-column"),
            memory: self.settings.boolean("show-memory-column"),
            disk: self.settings.boolean("show-disk-column"),
            network: self.settings.boolean("show-network-column"),
        }
    }

    fn show_columns(&self) {
        let columns = self.columns();
        let [cpu, memory, disk, network] = &self.column_titles;
        cpu.set_visible(columns.cpu);
        memory.set_visible(columns.memory);
        disk.set_visible(columns.disk);
        network.set_visible(columns.network);
        for host in &self.hosts {
            for row in host.domains.values() {
                row.show_columns(columns);
            }
        }
    }

    fn show_error(&self, summary: &str, error: &UiError) {
        error_dialog::show(Some(self.window.upcast_ref()), summary, &error.details());
    }

    /// Puts header and domain rows in the list, keeping the selection.
    fn rebuild_list(&self) {
        let selected = self.selected();
        while let Some(child) = self.list.first_child() {
            self.list.remove(&child);
        }
        for host in &self.hosts {
            self.list.append(host.header());
            for row in host.domains.values() {
                self.list.append(row.widget());
            }
        }
        if let Some((uri, name)) = selected {
            if let Some(row) = self.host(&uri).and_then(|h| h.domains.get(&name)) {
                self.list.select_row(Some(row.widget()));
            }
        }
    }

    fn select_first_domain(&self) {
        if self.list.selected_row().is_some() {
            return;
        }
        if let Some(row) = self.hosts.iter().flat_map(|h| h.domains.values()).next() {
            self.list.select_row(Some(row.widget()));
        }
    }

    /// The selected domain as (uri, name).
    fn selected(&self) -> Option<(String, String)> {
        let selected = self.list.selected_row()?;
        self.hosts.iter().find_map(|host| {
            host.domains
                .iter()
                .find(|(_, row)| row.widget() == &selected)
                .map(|(name, _)| (host.uri.clone(), name.clone()))
        })
    }

    fn selected_info(&self) -> Option<&DomainInfo> {
        let (uri, name) = self.selected()?;
        self.host(&uri)?.domains.get(&name).map(|row| &row.info)
    }

    /// The connection the selection belongs to, or the first open one.
    fn current_uri(&self) -> Option<String> {
        self.selected().map(|(uri, _)| uri).or_else(|| {
            self.hosts
                .iter()
                .find(|h| h.connection().is_some())
                .map(|h| h.uri.clone())
        })
    }

    fn update_actions(&self) {
        let connected = self.hosts.iter().any(|h| h.connection().is_some());
        self.actions
            .update(self.selected_info().map(|info| info.state), connected);
    }
}
