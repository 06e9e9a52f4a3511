//! The manager's connections: the command line, opening URIs, and the
//! events each open connection sends.

use gtk4::glib;
use gtk4::prelude::*;
use hangar_core::api::{ApiError, Command, Connection, DomainInfo, Event, ObjectEvent, ObjectKind};
use relm4::prelude::*;

use super::host::{Host, HostStatus};
use super::{ManagerCommand, ManagerWindow, Pending};
use crate::backend::{self, expect_reply, UiError};
use crate::cli::LaunchRequest;
use crate::domain::DomainPage;
use crate::i18n::gettext_f;

impl ManagerWindow {
    /// Handles one invocation's command line.
    pub(super) fn launch(&mut self, request: LaunchRequest, sender: &ComponentSender<Self>) {
        let first = !self.launched;
        self.launched = true;
        let target = match &request.connect {
            Some(uri) => {
                self.remember_connection(uri, false);
                Some(uri.clone())
            }
            None if request.needs_connection() => self
                .hosts
                .iter()
                .find(|h| h.connection().is_some())
                .map(|h| h.uri.clone())
                .or_else(|| self.hosts.first().map(|h| h.uri.clone())),
            None => None,
        };
        if let Some(uri) = &target {
            if request.show_host_summary {
                self.pending.push((uri.clone(), Pending::HostSummary));
            }
            if let Some(name) = &request.show_domain_editor {
                self.pending.push((
                    uri.clone(),
                    Pending::Domain(name.clone(), DomainPage::Details),
                ));
            }
            if let Some(name) = &request.show_domain_console {
                self.pending.push((
                    uri.clone(),
                    Pending::Domain(name.clone(), DomainPage::Console),
                ));
            }
            self.connect(uri, sender);
        }
        // As virt-manager: a URI on the command line replaces autoconnect.
        if first && request.connect.is_none() {
            for uri in self.settings.strv("autoconnect") {
                self.connect(uri.as_str(), sender);
            }
        }
        // The manager first, so that a window asked for comes out on top.
        self.window.present();
        if first && crate::startup_trace::enabled() {
            crate::startup_trace::mark("window presented");
            trace_next_frame(&self.window, "first frame");
        }
        self.run_pending();
    }

    /// Adds `uri` to the list (and the settings) if it is not there yet.
    pub(super) fn remember_connection(&mut self, uri: &str, autoconnect: bool) {
        if self.host(uri).is_none() {
            self.hosts.push(Host::new(uri.to_string()));
            self.rebuild_list();
        }
        let add = |key: &str| {
            let mut list: Vec<String> = self
                .settings
                .strv(key)
                .iter()
                .map(|s| s.to_string())
                .collect();
            if !list.iter().any(|u| u == uri) {
                list.push(uri.to_string());
                let refs: Vec<&str> = list.iter().map(String::as_str).collect();
                // Losing this only means the connection is not remembered.
                let _ = self.settings.set_strv(key, refs.as_slice());
            }
        };
        add("connections");
        if autoconnect {
            add("autoconnect");
        }
    }

    /// Opens `uri` unless it is open or opening.
    pub(super) fn connect(&mut self, uri: &str, sender: &ComponentSender<Self>) {
        if self.host(uri).is_none() {
            self.hosts.push(Host::new(uri.to_string()));
        }
        let Some(host) = self.host_mut(uri) else {
            return;
        };
        if matches!(
            host.status,
            HostStatus::Connected(_) | HostStatus::Connecting
        ) {
            return;
        }
        host.set_status(HostStatus::Connecting);
        self.rebuild_list();
        let uri = uri.to_string();
        crate::startup_trace::mark("connecting");
        sender.oneshot_command(async move {
            let result = async {
                let conn = backend::open(uri.clone()).await?;
                crate::startup_trace::mark("connection open");
                let domains = expect_reply!(
                    backend::call(conn.clone(), Command::ListDomains).await?,
                    Domains
                )?;
                crate::startup_trace::mark("domains received");
                Ok((conn, domains))
            }
            .await;
            ManagerCommand::Opened(uri, result)
        });
    }

    pub(super) fn opened(
        &mut self,
        uri: String,
        result: Result<(Connection, Vec<DomainInfo>), UiError>,
        sender: &ComponentSender<Self>,
    ) {
        let columns = self.columns();
        match result {
            Ok((conn, domains)) => {
                let mut events = conn.subscribe();
                let event_uri = uri.clone();
                sender.command(move |out, shutdown| {
                    shutdown
                        .register(async move {
                            while let Some(event) = backend::next_event(&mut events).await {
                                if out
                                    .send(ManagerCommand::Event(event_uri.clone(), event))
                                    .is_err()
                                {
                                    return;
                                }
                            }
                            // The window may be gone already; nothing to tell then.
                            let _ = out.send(ManagerCommand::Closed(event_uri));
                        })
                        .drop_on_shutdown()
                });
                if let Some(host) = self.host_mut(&uri) {
                    host.set_status(HostStatus::Connected(conn));
                    host.set_domains(domains, columns);
                }
            }
            Err(error) => {
                if let Some(host) = self.host_mut(&uri) {
                    host.set_status(HostStatus::Failed(error.to_string()));
                }
                self.pending.retain(|(pending_uri, _)| pending_uri != &uri);
                self.show_error(
                    &gettext_f("Cannot connect to {uri}", &[("uri", &uri)]),
                    &error,
                );
            }
        }
        self.rebuild_list();
        self.select_first_domain();
        self.update_actions();
        self.run_pending();
        if crate::startup_trace::enabled() {
            crate::startup_trace::mark("list filled");
            trace_next_frame(&self.window, "first frame with the list");
        }
    }

    /// Shows what the command line asked for on connections now open.
    pub(super) fn run_pending(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for (uri, what) in pending {
            if self.host(&uri).and_then(Host::connection).is_none() {
                self.pending.push((uri, what));
                continue;
            }
            match what {
                Pending::HostSummary => self.show_details(&uri),
                Pending::Domain(name, page) => self.show_domain(&uri, &name, page),
            }
        }
    }

    pub(super) fn handle_event(&mut self, uri: &str, event: Event, sender: &ComponentSender<Self>) {
        match event {
            Event::DomainLifecycle { name, .. } => self.refresh_domain(uri, name, sender),
            Event::Object {
                kind: ObjectKind::Domain,
                name,
                event,
                ..
            } => match event {
                ObjectEvent::Undefined => {
                    let still_running = self
                        .host(uri)
                        .and_then(|h| h.domains.get(&name))
                        .is_some_and(|row| row.info.state.is_active());
                    if still_running {
                        // A running domain whose definition went away stays
                        // listed as transient; ask the driver.
                        self.refresh_domain(uri, name, sender);
                    } else {
                        if let Some(host) = self.host_mut(uri) {
                            host.domains.remove(&name);
                        }
                        self.domain_windows.remove(&(uri.to_string(), name));
                        self.rebuild_list();
                    }
                }
                _ => self.refresh_domain(uri, name, sender),
            },
            Event::Stats { domains, .. } => {
                let interval = std::time::Duration::from_secs(u64::from(
                    self.settings.uint("stats-interval").max(1),
                ));
                if let Some(host) = self.host_mut(uri) {
                    for stats in domains {
                        if let Some(row) = host.domains.get_mut(&stats.name) {
                            let due = row.last_sample().is_none_or(|at| {
                                at.elapsed() + std::time::Duration::from_millis(200) >= interval
                            });
                            if due {
                                row.add_stats(stats);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }

    pub(super) fn refresh_domain(&self, uri: &str, name: String, sender: &ComponentSender<Self>) {
        let Some(conn) = self.host(uri).and_then(Host::connection).cloned() else {
            return;
        };
        let uri = uri.to_string();
        sender.oneshot_command(async move {
            let result = match backend::call(
                conn,
                Command::DomainInfo {
                    domain: name.clone(),
                },
            )
            .await
            {
                Ok(reply) => expect_reply!(reply, Domain).map(Some),
                Err(UiError::Api(ApiError::NotFound { .. })) => Ok(None),
                Err(error) => Err(error),
            };
            ManagerCommand::DomainRefreshed(uri, name, result)
        });
    }
}

/// Marks the end of the next frame `window` paints, for the startup trace.
fn trace_next_frame(window: &gtk4::ApplicationWindow, phase: &'static str) {
    // A tick callback runs at the start of the window's next frame (its
    // frame clock exists once the window is mapped); the paint that ends
    // that frame is the one measured.
    window.add_tick_callback(move |_, clock| {
        let slot = std::rc::Rc::new(std::cell::Cell::new(None));
        let paint_slot = slot.clone();
        let paint = clock.connect_after_paint(move |clock| {
            crate::startup_trace::mark(phase);
            if let Some(id) = paint_slot.take() {
                clock.disconnect(id);
            }
        });
        slot.set(Some(paint));
        glib::ControlFlow::Break
    });
    window.queue_draw();
}
