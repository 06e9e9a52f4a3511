//! The Virtual Networks tab: the list with state and autostart, the
//! selected network's details and XML, start / stop / delete, and the
//! create-network assistant.

use std::cell::Cell;
use std::rc::Rc;

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{Command, Connection, Event, NetworkInfo, ObjectKind};
use relm4::prelude::*;

use super::network_assistant::{AssistantOutput, NetworkAssistant};
use super::network_info::NetworkView;
use super::object_list::{ObjectListPane, PaneLabels, PaneMessages};
use super::PageOutput;
use crate::backend::{self, expect_reply, UiError};
use crate::format;
use crate::i18n::gettext_f;
use crate::widgets::{confirm, form::Form, xml_view::XmlView};

/// Messages to the page.
#[derive(Debug)]
pub enum NetworksInput {
    /// A connection event.
    Event(Event),
    /// The selection changed.
    Selected,
    /// Open the create-network assistant.
    Add,
    /// Start the selected network.
    Start,
    /// Stop the selected network.
    Stop,
    /// Delete the selected network (asks first).
    Delete,
    /// Delete, confirmed.
    DeleteConfirmed(String),
    /// The autostart box was toggled by the user.
    Autostart(bool),
    /// Apply the edited XML.
    ApplyXml(String),
    /// The assistant defined a network.
    Created(String),
    /// The assistant failed.
    Failed(String, UiError),
}

/// Backend answers.
#[derive(Debug)]
pub enum NetworksCommand {
    /// The list.
    Listed(Result<Vec<NetworkInfo>, UiError>),
    /// One network's info and XML.
    Loaded(String, Result<(NetworkInfo, String), UiError>),
    /// An operation ended.
    Done(String, Result<(), UiError>),
}

/// The page's state.
pub struct NetworksPage {
    connection: Connection,
    settings: gio::Settings,
    parent: gtk4::Window,
    list: gtk4::ListBox,
    networks: Vec<NetworkInfo>,
    selected: Option<String>,
    fields: Fields,
    autostart: gtk4::CheckButton,
    updating: Rc<Cell<bool>>,
    xml: XmlView,
    start: gtk4::Button,
    stop: gtk4::Button,
    delete: gtk4::Button,
    assistant: Option<Controller<NetworkAssistant>>,
}

struct Fields {
    name: gtk4::Label,
    device: gtk4::Label,
    state: gtk4::Label,
    dns_domain: gtk4::Label,
    ipv4_network: gtk4::Label,
    ipv4_dhcp: gtk4::Label,
    forwarding: gtk4::Label,
    ipv6_network: gtk4::Label,
    ipv6_dhcp: gtk4::Label,
}

impl Component for NetworksPage {
    type Init = (Connection, gio::Settings, gtk4::Window);
    type Input = NetworksInput;
    type Output = PageOutput;
    type CommandOutput = NetworksCommand;
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
            list,
            start,
            stop,
            delete,
        } = ObjectListPane::attach(
            &root,
            PaneLabels {
                list: &gettext("Virtual Networks"),
                actions: [
                    &gettext("Add Network"),
                    &gettext("Start Network"),
                    &gettext("Stop Network"),
                    &gettext("Delete Network"),
                ],
            },
            260,
            PaneMessages {
                selected: || NetworksInput::Selected,
                actions: [
                    || NetworksInput::Add,
                    || NetworksInput::Start,
                    || NetworksInput::Stop,
                    || NetworksInput::Delete,
                ],
            },
            move |message| input.input(message),
        );

        let mut form = Form::new();
        let name = form.value(&gettext("Name:"));
        let device = form.value(&gettext("Device:"));
        let state = form.value(&gettext("State:"));
        let autostart = gtk4::CheckButton::with_label(&gettext("On Boot"));
        form.field(&gettext("Autostart:"), &autostart);
        let dns_domain = form.value(&gettext("DNS domain:"));
        form.section(&gettext("IPv4 configuration"));
        let ipv4_network = form.value(&gettext("Network:"));
        let ipv4_dhcp = form.value(&gettext("DHCP range:"));
        let forwarding = form.value(&gettext("Forwarding:"));
        form.section(&gettext("IPv6 configuration"));
        let ipv6_network = form.value(&gettext("Network:"));
        let ipv6_dhcp = form.value(&gettext("DHCP range:"));
        let updating = Rc::new(Cell::new(false));
        let toggle_sender = sender.clone();
        let toggle_updating = updating.clone();
        autostart.connect_toggled(move |check| {
            if !toggle_updating.get() {
                toggle_sender.input(NetworksInput::Autostart(check.is_active()));
            }
        });
        let xml_sender = sender.clone();
        let xml = XmlView::new(&gettext("Network XML"), move |text| {
            xml_sender.input(NetworksInput::ApplyXml(text))
        });
        xml.set_editable(settings.boolean("xml-editing"));
        let xml_for_settings = xml.clone();
        settings.connect_changed(Some("xml-editing"), move |settings, key| {
            xml_for_settings.set_editable(settings.boolean(key));
        });
        let tabs = gtk4::Notebook::new();
        let details_scroller = gtk4::ScrolledWindow::builder().child(form.grid()).build();
        tabs.append_page(
            &details_scroller,
            Some(&gtk4::Label::new(Some(&gettext("Details")))),
        );
        tabs.append_page(xml.widget(), Some(&gtk4::Label::new(Some(&gettext("XML")))));
        tabs.set_hexpand(true);
        root.set_end_child(Some(&tabs));

        let model = NetworksPage {
            connection,
            settings,
            parent,
            list,
            networks: Vec::new(),
            selected: None,
            fields: Fields {
                name,
                device,
                state,
                dns_domain,
                ipv4_network,
                ipv4_dhcp,
                forwarding,
                ipv6_network,
                ipv6_dhcp,
            },
            autostart,
            updating,
            xml,
            start,
            stop,
            delete,
            assistant: None,
        };
        model.reload(&sender);
        model.update_buttons();
        ComponentParts { model, widgets: () }
    }

    fn update(
        &mut self,
        message: NetworksInput,
        sender: ComponentSender<Self>,
        _root: &gtk4::Paned,
    ) {
        match message {
            NetworksInput::Event(Event::Object {
                kind: ObjectKind::Network,
                ..
            }) => self.reload(&sender),
            NetworksInput::Event(_) => {}
            NetworksInput::Selected => {
                self.selected = self
                    .list
                    .selected_row()
                    .and_then(|row| self.networks.get(row.index() as usize))
                    .map(|n| n.name.clone());
                self.update_buttons();
                self.load_selected(&sender);
            }
            NetworksInput::Add => {
                let assistant = NetworkAssistant::builder()
                    .transient_for(&self.parent)
                    .launch(self.connection.clone())
                    .forward(sender.input_sender(), |output| match output {
                        AssistantOutput::Created(name) => NetworksInput::Created(name),
                        AssistantOutput::Failed(summary, error) => {
                            NetworksInput::Failed(summary, error)
                        }
                    });
                assistant.widget().present();
                self.assistant = Some(assistant);
            }
            NetworksInput::Start => {
                self.act(&sender, gettext("Cannot start the network"), |network| {
                    Command::StartNetwork { network }
                })
            }
            NetworksInput::Stop => {
                self.act(&sender, gettext("Cannot stop the network"), |network| {
                    Command::DestroyNetwork { network }
                })
            }
            NetworksInput::Delete => {
                let Some(name) = self.selected.clone() else {
                    return;
                };
                let input = sender.input_sender().clone();
                let target = name.clone();
                confirm::ask(
                    &self.parent,
                    &gettext_f("Delete the network “{name}”?", &[("name", &name)]),
                    &gettext("Its definition is removed; running, it is stopped first."),
                    &gettext("_Delete"),
                    move || input.emit(NetworksInput::DeleteConfirmed(target)),
                );
            }
            NetworksInput::DeleteConfirmed(name) => {
                let active = self.networks.iter().any(|n| n.name == name && n.active);
                let mut commands = Vec::new();
                if active {
                    commands.push(Command::DestroyNetwork {
                        network: name.clone(),
                    });
                }
                commands.push(Command::UndefineNetwork { network: name });
                self.run(&sender, gettext("Cannot delete the network"), commands);
            }
            NetworksInput::Autostart(enabled) => self.act(
                &sender,
                gettext("Cannot change autostart"),
                move |network| Command::SetNetworkAutostart { network, enabled },
            ),
            NetworksInput::ApplyXml(xml) => self.run(
                &sender,
                gettext("Cannot apply the network XML"),
                vec![Command::DefineNetwork { xml }],
            ),
            NetworksInput::Created(name) => {
                self.selected = Some(name);
                self.reload(&sender);
            }
            NetworksInput::Failed(summary, error) => {
                let _ = sender.output(PageOutput::Error(summary, error));
            }
        }
    }

    fn update_cmd(
        &mut self,
        message: NetworksCommand,
        sender: ComponentSender<Self>,
        _root: &gtk4::Paned,
    ) {
        match message {
            NetworksCommand::Listed(Ok(networks)) => self.show_list(networks),
            NetworksCommand::Loaded(name, Ok((info, xml))) => {
                if self.selected.as_deref() == Some(name.as_str()) {
                    self.show_network(&info, &xml);
                }
            }
            NetworksCommand::Done(_, Ok(())) => self.reload(&sender),
            NetworksCommand::Listed(Err(error)) => {
                let _ = sender.output(PageOutput::Error(
                    gettext("Cannot list the networks"),
                    error,
                ));
            }
            NetworksCommand::Loaded(_, Err(error)) => {
                let _ = sender.output(PageOutput::Error(gettext("Cannot read the network"), error));
            }
            NetworksCommand::Done(summary, Err(error)) => {
                let _ = sender.output(PageOutput::Error(summary, error));
                self.reload(&sender);
            }
        }
    }
}

impl NetworksPage {
    fn reload(&self, sender: &ComponentSender<Self>) {
        let conn = self.connection.clone();
        sender.oneshot_command(async move {
            let result = match backend::call(conn, Command::ListNetworks).await {
                Ok(reply) => expect_reply!(reply, Networks),
                Err(error) => Err(error),
            };
            NetworksCommand::Listed(result)
        });
    }

    fn load_selected(&self, sender: &ComponentSender<Self>) {
        let Some(name) = self.selected.clone() else {
            return;
        };
        let conn = self.connection.clone();
        sender.oneshot_command(async move {
            let result = async {
                let info = expect_reply!(
                    backend::call(
                        conn.clone(),
                        Command::NetworkInfo {
                            network: name.clone()
                        }
                    )
                    .await?,
                    Network
                )?;
                let xml = expect_reply!(
                    backend::call(
                        conn,
                        Command::NetworkXml {
                            network: name.clone(),
                            inactive: false
                        }
                    )
                    .await?,
                    Xml
                )?;
                Ok((info, xml))
            }
            .await;
            NetworksCommand::Loaded(name, result)
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
            NetworksCommand::Done(summary, backend::call_all(conn, commands).await.map(drop))
        });
    }

    fn show_list(&mut self, networks: Vec<NetworkInfo>) {
        while let Some(child) = self.list.first_child() {
            self.list.remove(&child);
        }
        for network in &networks {
            let row = gtk4::ListBoxRow::new();
            let layout = gtk4::Box::new(gtk4::Orientation::Horizontal, 8);
            layout.set_margin_top(4);
            layout.set_margin_bottom(4);
            layout.set_margin_start(6);
            layout.set_margin_end(6);
            let icon = gtk4::Image::from_icon_name(if network.active {
                "network-wired-symbolic"
            } else {
                "network-wired-disconnected-symbolic"
            });
            layout.append(&icon);
            let name = gtk4::Label::builder()
                .label(&network.name)
                .xalign(0.0)
                .hexpand(true)
                .build();
            layout.append(&name);
            let state = gtk4::Label::builder()
                .label(format::active(network.active))
                .css_classes(["dim-label"])
                .build();
            layout.append(&state);
            row.set_child(Some(&layout));
            row.update_property(&[
                gtk4::accessible::Property::Label(&network.name),
                gtk4::accessible::Property::Description(&format::active(network.active)),
            ]);
            self.list.append(&row);
        }
        self.networks = networks;
        let index = self
            .selected
            .as_ref()
            .and_then(|name| self.networks.iter().position(|n| &n.name == name))
            .unwrap_or(0);
        match self.list.row_at_index(index as i32) {
            Some(row) => self.list.select_row(Some(&row)),
            None => self.list.select_row(None::<&gtk4::ListBoxRow>),
        }
    }

    fn show_network(&self, info: &NetworkInfo, xml: &str) {
        let view = NetworkView::parse(xml).unwrap_or_default();
        let f = &self.fields;
        f.name.set_label(&info.name);
        f.device
            .set_label(info.bridge.as_deref().unwrap_or(&view.device));
        f.state.set_label(&format::active(info.active));
        self.updating.set(true);
        self.autostart.set_active(info.autostart);
        self.updating.set(false);
        let none = gettext("None");
        f.dns_domain.set_label(if view.dns_domain.is_empty() {
            &none
        } else {
            &view.dns_domain
        });
        let disabled = gettext("Disabled");
        match &view.ipv4 {
            Some(ip) => {
                f.ipv4_network.set_label(&ip.network);
                f.ipv4_dhcp.set_label(if ip.dhcp.is_empty() {
                    &disabled
                } else {
                    &ip.dhcp
                });
            }
            None => {
                f.ipv4_network.set_label(&disabled);
                f.ipv4_dhcp.set_label(&disabled);
            }
        }
        f.forwarding.set_label(&view.mode_text());
        match &view.ipv6 {
            Some(ip) => {
                f.ipv6_network.set_label(&ip.network);
                f.ipv6_dhcp.set_label(if ip.dhcp.is_empty() {
                    &disabled
                } else {
                    &ip.dhcp
                });
            }
            None => {
                f.ipv6_network.set_label(&disabled);
                f.ipv6_dhcp.set_label(&disabled);
            }
        }
        self.xml.set_xml(xml);
        self.xml.set_editable(self.settings.boolean("xml-editing"));
    }

    fn update_buttons(&self) {
        let selected = self
            .selected
            .as_ref()
            .and_then(|name| self.networks.iter().find(|n| &n.name == name));
        self.start
            .set_sensitive(selected.is_some_and(|n| !n.active));
        self.stop.set_sensitive(selected.is_some_and(|n| n.active));
        self.delete.set_sensitive(selected.is_some());
        self.autostart.set_sensitive(selected.is_some());
    }
}
