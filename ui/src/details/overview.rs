//! The Overview tab: the host's URI, name, hypervisor, memory and CPUs,
//! live CPU and memory graphs, and the autoconnect switch.

use gettextrs::gettext;
use gtk4::gio;
use gtk4::prelude::*;
use hangar_core::api::{Command, Connection, Event, HostInfo, HostStats};
use relm4::prelude::*;

use super::PageOutput;
use crate::backend::{self, expect_reply, UiError};
use crate::format;
use crate::widgets::form::Form;
use crate::widgets::sparkline::Sparkline;

/// Messages to the page.
#[derive(Debug)]
pub enum OverviewInput {
    /// A connection event.
    Event(Event),
    /// The autoconnect box was toggled.
    Autoconnect(bool),
}

/// The page's state.
pub struct OverviewPage {
    connection: Connection,
    settings: gio::Settings,
    uri: gtk4::Label,
    hostname: gtk4::Label,
    hypervisor: gtk4::Label,
    memory: gtk4::Label,
    cpus: gtk4::Label,
    cpu_model: gtk4::Label,
    cpu_graph: Sparkline,
    cpu_text: gtk4::Label,
    memory_graph: Sparkline,
    memory_text: gtk4::Label,
    last_host: Option<HostStats>,
}

impl Component for OverviewPage {
    type Init = (Connection, gio::Settings);
    type Input = OverviewInput;
    type Output = PageOutput;
    type CommandOutput = Result<HostInfo, UiError>;
    type Root = gtk4::Box;
    type Widgets = ();

    fn init_root() -> gtk4::Box {
        gtk4::Box::new(gtk4::Orientation::Vertical, 0)
    }

    fn init(
        (connection, settings): Self::Init,
        root: gtk4::Box,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let mut form = Form::new();
        form.section(&gettext("Basic details"));
        let uri = form.value(&gettext("URI:"));
        let hostname = form.value(&gettext("Hostname:"));
        let hypervisor = form.value(&gettext("Hypervisor:"));
        let memory = form.value(&gettext("Memory:"));
        let cpus = form.value(&gettext("Logical CPUs:"));
        let cpu_model = form.value(&gettext("CPU model:"));
        let autoconnect = gtk4::CheckButton::new();
        let autoconnect_on = settings
            .strv("autoconnect")
            .iter()
            .any(|u| u.as_str() == connection.uri());
        autoconnect.set_active(autoconnect_on);
        let toggle_sender = sender.clone();
        autoconnect.connect_toggled(move |check| {
            toggle_sender.input(OverviewInput::Autoconnect(check.is_active()))
        });
        form.field(&gettext("Autoconnect:"), &autoconnect);

        form.section(&gettext("Performance"));
        let cpu_graph = Sparkline::new(260, 48);
        let cpu_text = gtk4::Label::builder().xalign(0.0).build();
        let cpu_box = gtk4::Box::new(gtk4::Orientation::Horizontal, 12);
        cpu_box.append(cpu_graph.widget());
        cpu_box.append(&cpu_text);
        form.field(&gettext("CPU usage:"), &cpu_box);
        let memory_graph = Sparkline::new(260, 48);
        let memory_text = gtk4::Label::builder().xalign(0.0).build();
        let memory_box = gtk4::Box::new(gtk4::Orientation::Horizontal, 12);
        memory_box.append(memory_graph.widget());
        memory_box.append(&memory_text);
        form.field(&gettext("Memory usage:"), &memory_box);
        root.append(form.grid());

        uri.set_label(connection.uri());
        let conn = connection.clone();
        sender.oneshot_command(async move {
            expect_reply!(backend::call(conn, Command::HostInfo).await?, Host)
        });
        let model = OverviewPage {
            connection,
            settings,
            uri,
            hostname,
            hypervisor,
            memory,
            cpus,
            cpu_model,
            cpu_graph,
            cpu_text,
            memory_graph,
            memory_text,
            last_host: None,
        };
        ComponentParts { model, widgets: () }
    }

    fn update(&mut self, message: OverviewInput, sender: ComponentSender<Self>, _root: &gtk4::Box) {
        match message {
            OverviewInput::Event(Event::Stats { host, .. }) => self.add_stats(host),
            OverviewInput::Event(_) => {}
            OverviewInput::Autoconnect(on) => {
                let uri = self.connection.uri();
                let mut list: Vec<String> = self
                    .settings
                    .strv("autoconnect")
                    .iter()
                    .map(|u| u.to_string())
                    .filter(|u| u != uri)
                    .collect();
                if on {
                    list.push(uri.to_string());
                }
                let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                if let Err(err) = self.settings.set_strv("autoconnect", refs.as_slice()) {
                    let _ = sender.output(PageOutput::Error(
                        gettext("Cannot change autoconnect"),
                        UiError::Input(err.to_string()),
                    ));
                }
            }
        }
    }

    fn update_cmd(
        &mut self,
        message: Result<HostInfo, UiError>,
        sender: ComponentSender<Self>,
        _root: &gtk4::Box,
    ) {
        match message {
            Ok(host) => {
                self.uri.set_label(&host.uri);
                self.hostname.set_label(&host.hostname);
                self.hypervisor
                    .set_label(&format!("{} {}", host.hypervisor, host.hypervisor_version));
                self.memory.set_label(&format::kib(host.memory_kib));
                self.cpus.set_label(&host.cpus.to_string());
                self.cpu_model.set_label(&host.cpu_model);
            }
            Err(error) => {
                let _ = sender.output(PageOutput::Error(
                    gettext("Cannot read the host's details"),
                    error,
                ));
            }
        }
    }
}

impl OverviewPage {
    fn add_stats(&mut self, host: HostStats) {
        if let Some(previous) = &self.last_host {
            let total = host.cpu_total_ns.saturating_sub(previous.cpu_total_ns);
            if total > 0 {
                let busy = host.cpu_busy_ns.saturating_sub(previous.cpu_busy_ns);
                let fraction = busy as f64 / total as f64;
                self.cpu_graph.push(fraction);
                self.cpu_text.set_label(&format::percent(fraction));
            }
        }
        if host.memory_total_kib > 0 {
            let fraction = host.memory_used_kib as f64 / host.memory_total_kib as f64;
            self.memory_graph.push(fraction);
            self.memory_text.set_label(&format!(
                "{} / {}",
                format::kib(host.memory_used_kib),
                format::kib(host.memory_total_kib)
            ));
        }
        self.last_host = Some(host);
    }
}
