//! A virtual machine's window (Open, `--show-domain-editor`,
//! `--show-domain-console`): its consoles (graphical and serial), its
//! overview and its XML.

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{Command, Connection, DomainEvent, DomainInfo, Event, ObjectKind};
use relm4::prelude::*;

use crate::backend::{self, expect_reply, UiError};
use crate::console::{ConsoleInit, ConsoleInput, ConsoleOutput, ConsoleView};
use crate::format;
use crate::i18n::gettext_f;
use crate::widgets::{error_dialog, form::Form, xml_view::XmlView};

/// The window's pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainPage {
    /// The guest's display.
    Console,
    /// Overview and XML.
    Details,
}

/// What the window starts with.
pub struct DomainWindowInit {
    /// The connection the domain lives on.
    pub connection: Connection,
    /// The domain's name.
    pub name: String,
    /// The app's settings.
    pub settings: gio::Settings,
}

/// Messages to the window.
#[derive(Debug)]
pub enum DomainWindowInput {
    /// Bring this page to the front.
    ShowPage(DomainPage),
    /// Apply the edited XML.
    ApplyXml(String),
    /// Start the domain (the console's Run button).
    Run,
    /// The console's keyboard grab hint for the title.
    GrabHint(Option<String>),
}

/// Backend answers and events.
#[derive(Debug)]
pub enum DomainWindowCommand {
    /// The domain's info and XML.
    Loaded(Result<(DomainInfo, String), UiError>),
    /// An event of the connection.
    Event(Event),
    /// Applying XML ended.
    Applied(Result<(), UiError>),
    /// Starting the domain ended.
    Started(Result<(), UiError>),
}

/// The window's state.
pub struct DomainWindow {
    connection: Connection,
    name: String,
    window: gtk4::Window,
    notebook: gtk4::Notebook,
    title: String,
    fields: [gtk4::Label; 8],
    console: Controller<ConsoleView>,
    xml: XmlView,
}

impl Component for DomainWindow {
    type Init = DomainWindowInit;
    type Input = DomainWindowInput;
    type Output = ();
    type CommandOutput = DomainWindowCommand;
    type Root = gtk4::Window;
    type Widgets = ();

    fn init_root() -> gtk4::Window {
        gtk4::Window::builder()
            .default_width(640)
            .default_height(480)
            .build()
    }

    fn init(
        init: DomainWindowInit,
        root: gtk4::Window,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let title = gettext_f(
            "{name} on {uri}",
            &[("name", &init.name), ("uri", init.connection.uri())],
        );
        root.set_title(Some(&title));
        let console = ConsoleView::builder()
            .launch(ConsoleInit {
                connection: init.connection.clone(),
                name: init.name.clone(),
                settings: init.settings.clone(),
            })
            .forward(sender.input_sender(), |output| match output {
                ConsoleOutput::Run => DomainWindowInput::Run,
                ConsoleOutput::GrabHint(hint) => DomainWindowInput::GrabHint(hint),
            });
        let mut form = Form::new();
        let fields = [
            form.value(&gettext("Name:")),
            form.value(&gettext("UUID:")),
            form.value(&gettext("State:")),
            form.value(&gettext("Title:")),
            form.value(&gettext("vCPUs:")),
            form.value(&gettext("Memory:")),
            form.value(&gettext("Autostart:")),
            form.value(&gettext("Persistent:")),
        ];
        let s = sender.clone();
        let xml = XmlView::new(&gettext("Domain XML"), move |text| {
            s.input(DomainWindowInput::ApplyXml(text))
        });
        xml.set_editable(init.settings.boolean("xml-editing"));
        let xml_for_settings = xml.clone();
        init.settings
            .connect_changed(Some("xml-editing"), move |settings, key| {
                xml_for_settings.set_editable(settings.boolean(key));
            });
        let notebook = gtk4::Notebook::new();
        notebook.append_page(
            console.widget(),
            Some(&gtk4::Label::new(Some(&gettext("Console")))),
        );
        notebook.append_page(
            form.grid(),
            Some(&gtk4::Label::new(Some(&gettext("Overview")))),
        );
        notebook.append_page(xml.widget(), Some(&gtk4::Label::new(Some(&gettext("XML")))));
        root.set_child(Some(&notebook));

        let mut events = init.connection.subscribe();
        sender.command(move |out, shutdown| {
            shutdown
                .register(async move {
                    while let Some(event) = backend::next_event(&mut events).await {
                        if out.send(DomainWindowCommand::Event(event)).is_err() {
                            return;
                        }
                    }
                })
                .drop_on_shutdown()
        });
        let model = DomainWindow {
            connection: init.connection,
            name: init.name,
            window: root.clone(),
            title,
            notebook,
            fields,
            console,
            xml,
        };
        model.load(&sender);
        ComponentParts { model, widgets: () }
    }

    fn update(
        &mut self,
        message: DomainWindowInput,
        sender: ComponentSender<Self>,
        _root: &gtk4::Window,
    ) {
        match message {
            DomainWindowInput::ShowPage(page) => self.notebook.set_current_page(Some(match page {
                DomainPage::Console => 0,
                DomainPage::Details => 1,
            })),
            DomainWindowInput::ApplyXml(xml) => {
                let conn = self.connection.clone();
                sender.oneshot_command(async move {
                    DomainWindowCommand::Applied(
                        backend::call(conn, Command::DefineDomain { xml })
                            .await
                            .map(drop),
                    )
                });
            }
            DomainWindowInput::Run => {
                let conn = self.connection.clone();
                let domain = self.name.clone();
                sender.oneshot_command(async move {
                    DomainWindowCommand::Started(
                        backend::call(
                            conn,
                            Command::StartDomain {
                                domain,
                                paused: false,
                            },
                        )
                        .await
                        .map(drop),
                    )
                });
            }
            DomainWindowInput::GrabHint(hint) => {
                let title = match hint {
                    Some(hint) => format!("{} – {hint}", self.title),
                    None => self.title.clone(),
                };
                self.window.set_title(Some(&title));
            }
        }
    }

    fn update_cmd(
        &mut self,
        message: DomainWindowCommand,
        sender: ComponentSender<Self>,
        _root: &gtk4::Window,
    ) {
        match message {
            DomainWindowCommand::Loaded(Ok((info, xml))) => self.show(&info, &xml),
            DomainWindowCommand::Loaded(Err(error)) => error_dialog::show(
                Some(&self.window),
                &gettext("Cannot read the virtual machine"),
                &error.details(),
            ),
            DomainWindowCommand::Applied(Ok(())) => self.load(&sender),
            DomainWindowCommand::Applied(Err(error)) => error_dialog::show(
                Some(&self.window),
                &gettext("Cannot apply the XML"),
                &error.details(),
            ),
            DomainWindowCommand::Started(Ok(())) => self.load(&sender),
            DomainWindowCommand::Started(Err(error)) => error_dialog::show(
                Some(&self.window),
                &gettext("Cannot start the virtual machine"),
                &error.details(),
            ),
            DomainWindowCommand::Event(Event::DomainLifecycle {
                name,
                event: DomainEvent::Started | DomainEvent::Restored,
                ..
            }) if name == self.name => {
                self.console.emit(ConsoleInput::Restarted);
                self.load(&sender);
            }
            DomainWindowCommand::Event(Event::DomainLifecycle { name, .. })
            | DomainWindowCommand::Event(Event::Object {
                kind: ObjectKind::Domain,
                name,
                ..
            }) if name == self.name => self.load(&sender),
            DomainWindowCommand::Event(_) => {}
        }
    }
}

impl DomainWindow {
    fn load(&self, sender: &ComponentSender<Self>) {
        let conn = self.connection.clone();
        let name = self.name.clone();
        sender.oneshot_command(async move {
            let result = async {
                let info = expect_reply!(
                    backend::call(
                        conn.clone(),
                        Command::DomainInfo {
                            domain: name.clone()
                        }
                    )
                    .await?,
                    Domain
                )?;
                let xml = expect_reply!(
                    backend::call(
                        conn,
                        Command::DomainXml {
                            domain: name,
                            inactive: false
                        }
                    )
                    .await?,
                    Xml
                )?;
                Ok((info, xml))
            }
            .await;
            DomainWindowCommand::Loaded(result)
        });
    }

    fn show(&self, info: &DomainInfo, xml: &str) {
        let yes_no = |b: bool| if b { gettext("Yes") } else { gettext("No") };
        let values = [
            info.name.clone(),
            info.uuid.clone(),
            format::domain_state(info.state),
            info.title
                .clone()
                .filter(|t| !t.is_empty())
                .unwrap_or_else(|| gettext("None")),
            info.vcpus.to_string(),
            format!(
                "{} / {}",
                format::kib(info.memory_kib),
                format::kib(info.max_memory_kib)
            ),
            format::on_boot(info.autostart),
            yes_no(info.persistent),
        ];
        for (label, value) in self.fields.iter().zip(values) {
            label.set_label(&value);
        }
        self.xml.set_xml(xml);
        self.console
            .emit(ConsoleInput::Running(info.state.is_active()));
    }
}
