//! The Storage tab: pools with state, autostart, usage and location; the
//! selected pool's volumes (name, size, format, used by); create pool and
//! create volume dialogs; delete, refresh, start / stop, autostart; XML.

use std::cell::Cell;
use std::rc::Rc;

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{
    Command, Connection, Event, ObjectKind, PoolAs, PoolInfo, PoolState, VolumeAs, VolumeInfo,
    VolumeRef,
};
use relm4::prelude::*;

use super::object_list::{tool_button, ObjectListPane, PaneLabels, PaneMessages};
use super::pool_contents::{load_pool, PoolContents};
use super::{pool_dialog, volume_dialog, PageOutput};
use crate::backend::{self, expect_reply, UiError};
use crate::format;
use crate::i18n::gettext_f;
use crate::widgets::{confirm, form::Form, xml_view::XmlView};

/// Messages to the page.
#[derive(Debug)]
pub enum StorageInput {
    /// A connection event.
    Event(Event),
    /// The pool selection changed.
    PoolSelected,
    /// The volume selection changed.
    VolumeSelected,
    /// Show the create-pool dialog.
    AddPool,
    /// Create a dir pool.
    CreatePool {
        /// Its name.
        name: String,
        /// Its directory.
        path: String,
    },
    /// Start the selected pool.
    StartPool,
    /// Stop the selected pool.
    StopPool,
    /// Delete the selected pool (asks first).
    DeletePool,
    /// Delete, confirmed.
    DeletePoolConfirmed(String),
    /// Rescan the selected pool.
    Refresh,
    /// The autostart box was toggled by the user.
    Autostart(bool),
    /// Show the create-volume dialog.
    AddVolume,
    /// Create a volume.
    CreateVolume {
        /// In this pool.
        pool: String,
        /// What to create.
        args: VolumeAs,
    },
    /// Delete the selected volume (asks first).
    DeleteVolume,
    /// Delete, confirmed.
    DeleteVolumeConfirmed(String, String),
    /// Apply the edited pool XML.
    ApplyXml(String),
}

/// Backend answers.
#[derive(Debug)]
pub enum StorageCommand {
    /// The pools.
    Listed(Result<Vec<PoolInfo>, UiError>),
    /// One pool with its volumes.
    Loaded(String, Result<PoolContents, UiError>),
    /// An operation ended.
    Done(String, Result<(), UiError>),
}

/// The page's state.
pub struct StoragePage {
    connection: Connection,
    settings: gio::Settings,
    parent: gtk4::Window,
    pool_list: gtk4::ListBox,
    pools: Vec<PoolInfo>,
    selected: Option<String>,
    name: gtk4::Label,
    size: gtk4::Label,
    location: gtk4::Label,
    state: gtk4::Label,
    autostart: gtk4::CheckButton,
    updating: Rc<Cell<bool>>,
    volume_list: gtk4::ListBox,
    volumes: Vec<VolumeInfo>,
    xml: XmlView,
    start: gtk4::Button,
    stop: gtk4::Button,
    delete: gtk4::Button,
    add_volume: gtk4::Button,
    delete_volume: gtk4::Button,
}

fn cell(text: &str, width: i32, xalign: f32) -> gtk4::Label {
    gtk4::Label::builder()
        .label(text)
        .width_request(width)
        .xalign(xalign)
        .ellipsize(gtk4::pango::EllipsizeMode::End)
        .build()
}

impl Component for StoragePage {
    type Init = (Connection, gio::Settings, gtk4::Window);
    type Input = StorageInput;
    type Output = PageOutput;
    type CommandOutput = StorageCommand;
    type Root = gtk4::Paned;
    type Widgets = ();

    fn init_root() -> gtk4::Paned {
        gtk4::Paned::new(gtk4::Orientation::Horizontal)
    }

    fn init(
        (connection, settings, parent): Self::Init,
        root: gtk4::Paned,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let input = sender.clone();
        let ObjectListPane {
            list: pool_list,
            start,
            stop,
            delete,
        } = ObjectListPane::attach(
            &root,
            PaneLabels {
                list: &gettext("Storage Pools"),
                actions: [
                    &gettext("Add Pool"),
                    &gettext("Start Pool"),
                    &gettext("Stop Pool"),
                    &gettext("Delete Pool"),
                ],
            },
            280,
            PaneMessages {
                selected: || StorageInput::PoolSelected,
                actions: [
                    || StorageInput::AddPool,
                    || StorageInput::StartPool,
                    || StorageInput::StopPool,
                    || StorageInput::DeletePool,
                ],
            },
            move |message| input.input(message),
        );

        let mut form = Form::new();
        let name = form.value(&gettext("Name:"));
        let size = form.value(&gettext("Size:"));
        let location = form.value(&gettext("Location:"));
        let state = form.value(&gettext("State:"));
        let autostart = gtk4::CheckButton::with_label(&gettext("On Boot"));
        form.field(&gettext("Autostart:"), &autostart);
        let updating = Rc::new(Cell::new(false));
        let (s, u) = (sender.clone(), updating.clone());
        autostart.connect_toggled(move |check| {
            if !u.get() {
                s.input(StorageInput::Autostart(check.is_active()));
            }
        });

        let volume_list = gtk4::ListBox::new();
        volume_list.update_property(&[gtk4::accessible::Property::Label(&gettext("Volumes"))]);
        let s = sender.clone();
        volume_list.connect_row_selected(move |_, _| s.input(StorageInput::VolumeSelected));
        let header = gtk4::Box::new(gtk4::Orientation::Horizontal, 8);
        header.set_margin_start(6);
        header.set_margin_end(6);
        for (title, width, xalign) in [
            (gettext("Volumes"), 180, 0.0),
            (gettext("Size"), 90, 1.0),
            (gettext("Format"), 60, 0.0),
            (gettext("Used By"), 120, 0.0),
        ] {
            let label = cell(&title, width, xalign);
            label.add_css_class("dim-label");
            if width == 180 {
                label.set_hexpand(true);
            }
            header.append(&label);
        }
        let volume_scroller = gtk4::ScrolledWindow::builder()
            .child(&volume_list)
            .vexpand(true)
            .min_content_height(160)
            .build();
        let add_volume = tool_button("list-add-symbolic", &gettext("Add Volume"));
        let delete_volume = tool_button("user-trash-symbolic", &gettext("Delete Volume"));
        let refresh = tool_button("view-refresh-symbolic", &gettext("Refresh Volumes"));
        let volume_buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 4);
        for (button, message) in [
            (
                &add_volume,
                (|| StorageInput::AddVolume) as fn() -> StorageInput,
            ),
            (&delete_volume, || StorageInput::DeleteVolume),
            (&refresh, || StorageInput::Refresh),
        ] {
            let sender = sender.clone();
            button.connect_clicked(move |_| sender.input(message()));
            volume_buttons.append(button);
        }
        let details = gtk4::Box::new(gtk4::Orientation::Vertical, 6);
        details.append(form.grid());
        let volumes_box = gtk4::Box::new(gtk4::Orientation::Vertical, 4);
        volumes_box.set_margin_start(12);
        volumes_box.set_margin_end(12);
        volumes_box.set_margin_bottom(6);
        volumes_box.append(&volume_buttons);
        volumes_box.append(&header);
        let frame = gtk4::Frame::builder().child(&volume_scroller).build();
        volumes_box.append(&frame);
        details.append(&volumes_box);

        let s = sender.clone();
        let xml = XmlView::new(&gettext("Pool XML"), move |text| {
            s.input(StorageInput::ApplyXml(text))
        });
        let xml_for_settings = xml.clone();
        settings.connect_changed(Some("xml-editing"), move |settings, key| {
            xml_for_settings.set_editable(settings.boolean(key));
        });
        xml.set_editable(settings.boolean("xml-editing"));
        let tabs = gtk4::Notebook::new();
        tabs.append_page(&details, Some(&gtk4::Label::new(Some(&gettext("Details")))));
        tabs.append_page(xml.widget(), Some(&gtk4::Label::new(Some(&gettext("XML")))));
        tabs.set_hexpand(true);
        root.set_end_child(Some(&tabs));

        let model = StoragePage {
            connection,
            settings,
            parent,
            pool_list,
            pools: Vec::new(),
            selected: None,
            name,
            size,
            location,
            state,
            autostart,
            updating,
            volume_list,
            volumes: Vec::new(),
            xml,
            start,
            stop,
            delete,
            add_volume,
            delete_volume,
        };
        model.reload(&sender);
        model.update_buttons();
        ComponentParts { model, widgets: () }
    }

    fn update(
        &mut self,
        message: StorageInput,
        sender: ComponentSender<Self>,
        _root: &gtk4::Paned,
    ) {
        match message {
            StorageInput::Event(Event::Object { kind, .. })
                if matches!(kind, ObjectKind::Pool | ObjectKind::Volume) =>
            {
                self.reload(&sender)
            }
            StorageInput::Event(_) => {}
            StorageInput::PoolSelected => {
                self.selected = self
                    .pool_list
                    .selected_row()
                    .and_then(|row| self.pools.get(row.index() as usize))
                    .map(|p| p.name.clone());
                self.update_buttons();
                self.load_selected(&sender);
            }
            StorageInput::VolumeSelected => self.update_buttons(),
            StorageInput::AddPool => {
                let base = self
                    .pools
                    .iter()
                    .filter_map(|p| p.target_path.as_deref())
                    .find_map(|path| {
                        std::path::Path::new(path)
                            .parent()
                            .map(|p| p.display().to_string())
                    })
                    .unwrap_or_else(|| "/var/lib/hangar/images".to_string());
                pool_dialog::show(&self.parent, base, sender.input_sender().clone());
            }
            StorageInput::CreatePool { name, path } => {
                self.selected = Some(name.clone());
                self.run(
                    &sender,
                    gettext("Cannot create the storage pool"),
                    vec![
                        Command::DefinePoolAs(PoolAs {
                            name: name.clone(),
                            pool_type: "dir".to_string(),
                            target: Some(path),
                            ..PoolAs::default()
                        }),
                        Command::BuildPool {
                            pool: name.clone(),
                            overwrite: false,
                            no_overwrite: false,
                        },
                        Command::StartPool {
                            pool: name.clone(),
                            build: false,
                        },
                        Command::SetPoolAutostart {
                            pool: name,
                            enabled: true,
                        },
                    ],
                );
            }
            StorageInput::StartPool => {
                self.act(&sender, gettext("Cannot start the pool"), |pool| {
                    Command::StartPool { pool, build: false }
                })
            }
            StorageInput::StopPool => self.act(&sender, gettext("Cannot stop the pool"), |pool| {
                Command::DestroyPool { pool }
            }),
            StorageInput::Refresh => {
                self.act(&sender, gettext("Cannot refresh the pool"), |pool| {
                    Command::RefreshPool { pool }
                })
            }
            StorageInput::Autostart(enabled) => {
                self.act(&sender, gettext("Cannot change autostart"), move |pool| {
                    Command::SetPoolAutostart { pool, enabled }
                })
            }
            StorageInput::DeletePool => {
                let Some(name) = self.selected.clone() else {
                    return;
                };
                let input = sender.input_sender().clone();
                let target = name.clone();
                confirm::ask(
                    &self.parent,
                    &gettext_f("Delete the pool “{name}”?", &[("name", &name)]),
                    &gettext("Its definition is removed; its volumes stay on disk."),
                    &gettext("_Delete"),
                    move || input.emit(StorageInput::DeletePoolConfirmed(target)),
                );
            }
            StorageInput::DeletePoolConfirmed(name) => {
                let active = self
                    .pools
                    .iter()
                    .any(|p| p.name == name && p.state != PoolState::Inactive);
                let mut commands = Vec::new();
                if active {
                    commands.push(Command::DestroyPool { pool: name.clone() });
                }
                commands.push(Command::UndefinePool { pool: name });
                self.selected = None;
                self.run(&sender, gettext("Cannot delete the pool"), commands);
            }
            StorageInput::AddVolume => {
                if let Some(pool) = self.selected.clone() {
                    let format = self.settings.string("new-vm-storage-format");
                    volume_dialog::show(&self.parent, pool, &format, sender.input_sender().clone());
                }
            }
            StorageInput::CreateVolume { pool, args } => self.run(
                &sender,
                gettext("Cannot create the volume"),
                vec![Command::CreateVolumeAs { pool, args }],
            ),
            StorageInput::DeleteVolume => {
                let (Some(pool), Some(volume)) = (self.selected.clone(), self.selected_volume())
                else {
                    return;
                };
                let name = volume.name.clone();
                let input = sender.input_sender().clone();
                let ask = self.settings.boolean("confirm-delete-storage");
                if !ask {
                    sender.input(StorageInput::DeleteVolumeConfirmed(pool, name));
                    return;
                }
                confirm::ask(
                    &self.parent,
                    &gettext_f("Delete the volume “{name}”?", &[("name", &name)]),
                    &gettext("Its data is lost for good."),
                    &gettext("_Delete"),
                    move || input.emit(StorageInput::DeleteVolumeConfirmed(pool, name)),
                );
            }
            StorageInput::DeleteVolumeConfirmed(pool, name) => self.run(
                &sender,
                gettext("Cannot delete the volume"),
                vec![Command::DeleteVolume {
                    volume: VolumeRef::in_pool(pool, name),
                }],
            ),
            StorageInput::ApplyXml(xml) => self.run(
                &sender,
                gettext("Cannot apply the pool XML"),
                vec![Command::DefinePool { xml }],
            ),
        }
    }

    fn update_cmd(
        &mut self,
        message: StorageCommand,
        sender: ComponentSender<Self>,
        _root: &gtk4::Paned,
    ) {
        match message {
            StorageCommand::Listed(Ok(pools)) => self.show_pools(pools),
            StorageCommand::Loaded(name, Ok(contents)) => {
                if self.selected.as_deref() == Some(name.as_str()) {
                    self.show_pool(contents);
                }
            }
            StorageCommand::Done(_, Ok(())) => self.reload(&sender),
            StorageCommand::Listed(Err(error)) => {
                let _ = sender.output(PageOutput::Error(
                    gettext("Cannot list the storage pools"),
                    error,
                ));
            }
            StorageCommand::Loaded(_, Err(error)) => {
                let _ = sender.output(PageOutput::Error(
                    gettext("Cannot read the storage pool"),
                    error,
                ));
            }
            StorageCommand::Done(summary, Err(error)) => {
                let _ = sender.output(PageOutput::Error(summary, error));
                self.reload(&sender);
            }
        }
    }
}

impl StoragePage {
    fn reload(&self, sender: &ComponentSender<Self>) {
        let conn = self.connection.clone();
        sender.oneshot_command(async move {
            let result = match backend::call(conn, Command::ListPools).await {
                Ok(reply) => expect_reply!(reply, Pools),
                Err(error) => Err(error),
            };
            StorageCommand::Listed(result)
        });
    }

    fn load_selected(&self, sender: &ComponentSender<Self>) {
        let Some(name) = self.selected.clone() else {
            return;
        };
        let conn = self.connection.clone();
        sender.oneshot_command(async move {
            let result = load_pool(conn, name.clone()).await;
            StorageCommand::Loaded(name, result)
        });
    }

    fn act(
        &self,
        sender: &ComponentSender<Self>,
        summary: String,
        command: impl FnOnce(String) -> Command,
    ) {
        if let Some(name) = self.selected.clone() {
            self.run(sender, summary, vec![command(name)]);
        }
    }

    fn run(&self, sender: &ComponentSender<Self>, summary: String, commands: Vec<Command>) {
        let conn = self.connection.clone();
        sender.oneshot_command(async move {
            StorageCommand::Done(summary, backend::call_all(conn, commands).await.map(drop))
        });
    }

    fn selected_volume(&self) -> Option<&VolumeInfo> {
        let row = self.volume_list.selected_row()?;
        self.volumes.get(row.index() as usize)
    }

    fn show_pools(&mut self, pools: Vec<PoolInfo>) {
        while let Some(child) = self.pool_list.first_child() {
            self.pool_list.remove(&child);
        }
        for pool in &pools {
            let row = gtk4::ListBoxRow::new();
            let layout = gtk4::Box::new(gtk4::Orientation::Vertical, 2);
            layout.set_margin_top(4);
            layout.set_margin_bottom(4);
            layout.set_margin_start(6);
            layout.set_margin_end(6);
            let top = gtk4::Box::new(gtk4::Orientation::Horizontal, 8);
            top.append(&gtk4::Image::from_icon_name("drive-harddisk-symbolic"));
            top.append(
                &gtk4::Label::builder()
                    .label(&pool.name)
                    .xalign(0.0)
                    .hexpand(true)
                    .ellipsize(gtk4::pango::EllipsizeMode::End)
                    .build(),
            );
            let used = if pool.capacity > 0 {
                pool.allocation as f64 / pool.capacity as f64
            } else {
                0.0
            };
            let usage = if pool.state == PoolState::Inactive {
                format::pool_state(pool.state)
            } else {
                gettext_f("{percent} used", &[("percent", &format::percent(used))])
            };
            top.append(
                &gtk4::Label::builder()
                    .label(&usage)
                    .css_classes(["dim-label"])
                    .build(),
            );
            layout.append(&top);
            let bar = gtk4::LevelBar::builder()
                .value(used)
                .css_classes(["usage-bar"])
                .build();
            bar.set_visible(pool.state != PoolState::Inactive);
            layout.append(&bar);
            row.set_child(Some(&layout));
            row.update_property(&[
                gtk4::accessible::Property::Label(&pool.name),
                gtk4::accessible::Property::Description(&usage),
            ]);
            self.pool_list.append(&row);
        }
        self.pools = pools;
        let index = self
            .selected
            .as_ref()
            .and_then(|name| self.pools.iter().position(|p| &p.name == name))
            .unwrap_or(0);
        match self.pool_list.row_at_index(index as i32) {
            Some(row) => self.pool_list.select_row(Some(&row)),
            None => self.pool_list.select_row(None::<&gtk4::ListBoxRow>),
        }
        self.update_buttons();
    }

    fn show_pool(&mut self, contents: PoolContents) {
        let info = &contents.info;
        self.name.set_label(&info.name);
        self.size.set_label(&gettext_f(
            "{free} Free / {used} In Use",
            &[
                ("free", &format::bytes(info.available)),
                ("used", &format::bytes(info.allocation)),
            ],
        ));
        self.location
            .set_label(info.target_path.as_deref().unwrap_or(""));
        self.state.set_label(&format::pool_state(info.state));
        self.updating.set(true);
        self.autostart.set_active(info.autostart);
        self.updating.set(false);
        self.xml.set_xml(&contents.xml);
        self.xml.set_editable(self.settings.boolean("xml-editing"));

        while let Some(child) = self.volume_list.first_child() {
            self.volume_list.remove(&child);
        }
        for volume in &contents.volumes {
            let row = gtk4::ListBoxRow::new();
            let layout = gtk4::Box::new(gtk4::Orientation::Horizontal, 8);
            layout.set_margin_top(3);
            layout.set_margin_bottom(3);
            layout.set_margin_start(6);
            layout.set_margin_end(6);
            let used_by = contents
                .used_by
                .get(&volume.path)
                .map(|names| names.join(", "))
                .unwrap_or_default();
            let name = cell(&volume.name, 180, 0.0);
            name.set_hexpand(true);
            layout.append(&name);
            layout.append(&cell(&format::bytes(volume.capacity), 90, 1.0));
            layout.append(&cell(&volume.format, 60, 0.0));
            layout.append(&cell(&used_by, 120, 0.0));
            row.set_child(Some(&layout));
            row.set_tooltip_text(Some(&volume.path));
            row.update_property(&[
                gtk4::accessible::Property::Label(&volume.name),
                gtk4::accessible::Property::Description(&format!(
                    "{} {}",
                    format::bytes(volume.capacity),
                    volume.format
                )),
            ]);
            self.volume_list.append(&row);
        }
        self.volumes = contents.volumes;
        self.update_buttons();
    }

    fn update_buttons(&self) {
        let pool = self
            .selected
            .as_ref()
            .and_then(|name| self.pools.iter().find(|p| &p.name == name));
        let active = pool.is_some_and(|p| p.state != PoolState::Inactive);
        self.start.set_sensitive(pool.is_some() && !active);
        self.stop.set_sensitive(active);
        self.delete.set_sensitive(pool.is_some());
        self.autostart.set_sensitive(pool.is_some());
        self.add_volume.set_sensitive(active);
        self.delete_volume
            .set_sensitive(active && self.volume_list.selected_row().is_some());
    }
}
