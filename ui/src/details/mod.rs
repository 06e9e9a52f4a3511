//! The Connection Details window (Edit > Connection Details): Overview,
//! Virtual Networks and Storage tabs, each its own component, all
//! following the connection's events.

mod network_assistant;
mod network_info;
mod networks;
mod object_list;
mod overview;
mod pool_contents;
mod pool_dialog;
mod storage;
mod volume_dialog;

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{Connection, Event};
use relm4::prelude::*;

use crate::backend::{self, UiError};
use crate::i18n::gettext_f;
use crate::widgets::error_dialog;
use networks::{NetworksInput, NetworksPage};
use overview::{OverviewInput, OverviewPage};
use storage::{StorageInput, StoragePage};

/// What the window starts with.
pub struct DetailsInit {
    /// The open connection.
    pub connection: Connection,
    /// The app's settings.
    pub settings: gio::Settings,
}

/// Messages to the window.
#[derive(Debug)]
pub enum DetailsInput {
    /// A page failed; show the error.
    Error(String, UiError),
}

/// Events from the connection.
#[derive(Debug)]
pub enum DetailsCommand {
    /// One event.
    Event(Event),
}

/// What a page tells its window.
#[derive(Debug)]
pub enum PageOutput {
    /// Show an error dialog with this summary.
    Error(String, UiError),
}

/// The window's state.
pub struct ConnectionDetails {
    window: gtk4::Window,
    overview: Controller<OverviewPage>,
    networks: Controller<NetworksPage>,
    storage: Controller<StoragePage>,
}

#[relm4::component(pub)]
impl Component for ConnectionDetails {
    type Init = DetailsInit;
    type Input = DetailsInput;
    type Output = ();
    type CommandOutput = DetailsCommand;

    view! {
        gtk4::Window {
            set_title: Some(&gettext_f("{uri} – Connection Details", &[("uri", init.connection.uri())])),
            set_default_width: 820,
            set_default_height: 560,

            #[name = "notebook"]
            gtk4::Notebook {},
        }
    }

    fn init(
        init: DetailsInit,
        root: Self::Root,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let widgets = view_output!();
        let forward = |output: PageOutput| match output {
            PageOutput::Error(summary, error) => DetailsInput::Error(summary, error),
        };
        let overview = OverviewPage::builder()
            .launch((init.connection.clone(), init.settings.clone()))
            .forward(sender.input_sender(), forward);
        let networks = NetworksPage::builder()
            .launch((init.connection.clone(), init.settings.clone(), root.clone()))
            .forward(sender.input_sender(), forward);
        let storage = StoragePage::builder()
            .launch((init.connection.clone(), init.settings.clone(), root.clone()))
            .forward(sender.input_sender(), forward);
        for (page, title) in [
            (
                overview.widget().clone().upcast::<gtk4::Widget>(),
                gettext("Overview"),
            ),
            (
                networks.widget().clone().upcast(),
                gettext("Virtual Networks"),
            ),
            (storage.widget().clone().upcast(), gettext("Storage")),
        ] {
            let label = gtk4::Label::new(Some(&title));
            widgets.notebook.append_page(&page, Some(&label));
        }

        let mut events = init.connection.subscribe();
        sender.command(move |out, shutdown| {
            shutdown
                .register(async move {
                    while let Some(event) = backend::next_event(&mut events).await {
                        if out.send(DetailsCommand::Event(event)).is_err() {
                            return;
                        }
                    }
                })
                .drop_on_shutdown()
        });

        let model = ConnectionDetails {
            window: root.clone(),
            overview,
            networks,
            storage,
        };
        ComponentParts { model, widgets }
    }

    fn update(
        &mut self,
        message: DetailsInput,
        _sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match message {
            DetailsInput::Error(summary, error) => {
                error_dialog::show(Some(&self.window), &summary, &error.details())
            }
        }
    }

    fn update_cmd(
        &mut self,
        message: DetailsCommand,
        _sender: ComponentSender<Self>,
        _root: &Self::Root,
    ) {
        match message {
            DetailsCommand::Event(event) => {
                self.overview.emit(OverviewInput::Event(event.clone()));
                self.networks.emit(NetworksInput::Event(event.clone()));
                self.storage.emit(StorageInput::Event(event));
            }
        }
    }
}
