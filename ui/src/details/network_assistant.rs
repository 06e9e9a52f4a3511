//! The create-network assistant: name and forwarding mode, IPv4, IPv6 and
//! DHCP, DNS domain; Finish defines, starts and autostarts the network.

use gettextrs::gettext;
use gtk4::prelude::*;
use hangar_core::api::{Command, Connection};
use relm4::prelude::*;

use super::network_info::{Mode, NewNetwork};
use crate::backend::{self, UiError};
use crate::widgets::{error_dialog, form::Form};

/// What the assistant tells the networks page.
#[derive(Debug)]
pub enum AssistantOutput {
    /// This network was defined.
    Created(String),
    /// Defining or starting failed.
    Failed(String, UiError),
}

/// Messages to the assistant.
#[derive(Debug)]
pub enum AssistantInput {
    /// Next page.
    Forward,
    /// Previous page.
    Back,
    /// Create the network.
    Finish,
    /// Close without creating.
    Cancel,
    /// Some input changed; update what depends on it.
    Changed,
}

const PAGES: [&str; 3] = ["details", "ipv4", "ipv6"];

/// The assistant's state.
pub struct NetworkAssistant {
    connection: Connection,
    window: gtk4::Window,
    stack: gtk4::Stack,
    page: usize,
    step: gtk4::Label,
    back: gtk4::Button,
    forward: gtk4::Button,
    finish: gtk4::Button,
    name: gtk4::Entry,
    mode: gtk4::DropDown,
    forward_any: gtk4::CheckButton,
    forward_dev: gtk4::Entry,
    dns_domain: gtk4::Entry,
    ipv4_enabled: gtk4::CheckButton,
    ipv4_network: gtk4::Entry,
    dhcp4_enabled: gtk4::CheckButton,
    dhcp4_start: gtk4::Entry,
    dhcp4_end: gtk4::Entry,
    ipv6_enabled: gtk4::CheckButton,
    ipv6_network: gtk4::Entry,
    dhcp6_enabled: gtk4::CheckButton,
    dhcp6_start: gtk4::Entry,
    dhcp6_end: gtk4::Entry,
}

fn entry(text: &str) -> gtk4::Entry {
    gtk4::Entry::builder().text(text).hexpand(true).build()
}

fn check(label: &str, active: bool) -> gtk4::CheckButton {
    let check = gtk4::CheckButton::with_label(label);
    check.set_active(active);
    check
}

impl Component for NetworkAssistant {
    type Init = Connection;
    type Input = AssistantInput;
    type Output = AssistantOutput;
    type CommandOutput = Result<String, (String, UiError)>;
    type Root = gtk4::Window;
    type Widgets = ();

    fn init_root() -> gtk4::Window {
        gtk4::Window::builder()
            .title(gettext("Create a new virtual network"))
            .modal(true)
            .default_width(560)
            .default_height(420)
            .build()
    }

    fn init(
        connection: Connection,
        root: gtk4::Window,
        sender: ComponentSender<Self>,
    ) -> ComponentParts<Self> {
        let changed = {
            let sender = sender.clone();
            move || sender.input(AssistantInput::Changed)
        };
        let name = entry("network");
        let modes = [
            gettext("NAT"),
            gettext("Routed"),
            gettext("Isolated"),
            gettext("Open"),
        ];
        let mode_refs: Vec<&str> = modes.iter().map(String::as_str).collect();
        let mode = gtk4::DropDown::from_strings(&mode_refs);
        let forward_any = check(&gettext("Any physical device"), true);
        let forward_dev = gtk4::Entry::builder().placeholder_text("eth0").build();
        let dns_domain = gtk4::Entry::builder()
            .placeholder_text(gettext("Same as the network name"))
            .build();

        let mut details = Form::new();
        details.section(&gettext("Step 1 of 3: name and forwarding"));
        details.field(&gettext("Network name:"), &name);
        details.field(&gettext("Mode:"), &mode);
        details.field(&gettext("Forward to:"), &forward_any);
        details.field(&gettext("Device:"), &forward_dev);
        details.field(&gettext("DNS domain name:"), &dns_domain);

        let ipv4_enabled = check(&gettext("Enable IPv4"), true);
        let ipv4_network = entry("192.168.100.0/24");
        let dhcp4_enabled = check(&gettext("Enable DHCPv4"), true);
        let dhcp4_start = entry("192.168.100.128");
        let dhcp4_end = entry("192.168.100.254");
        let mut ipv4 = Form::new();
        ipv4.section(&gettext("Step 2 of 3: IPv4 configuration"));
        ipv4.wide(&ipv4_enabled);
        ipv4.field(&gettext("IPv4 network:"), &ipv4_network);
        ipv4.wide(&dhcp4_enabled);
        ipv4.field(&gettext("DHCPv4 start:"), &dhcp4_start);
        ipv4.field(&gettext("DHCPv4 end:"), &dhcp4_end);

        let ipv6_enabled = check(&gettext("Enable IPv6"), false);
        let ipv6_network = entry("fd00:100::/64");
        let dhcp6_enabled = check(&gettext("Enable DHCPv6"), true);
        let dhcp6_start = entry("fd00:100::100");
        let dhcp6_end = entry("fd00:100::1ff");
        let mut ipv6 = Form::new();
        ipv6.section(&gettext("Step 3 of 3: IPv6 configuration"));
        ipv6.wide(&ipv6_enabled);
        ipv6.field(&gettext("IPv6 network:"), &ipv6_network);
        ipv6.wide(&dhcp6_enabled);
        ipv6.field(&gettext("DHCPv6 start:"), &dhcp6_start);
        ipv6.field(&gettext("DHCPv6 end:"), &dhcp6_end);

        for check in [
            &forward_any,
            &ipv4_enabled,
            &dhcp4_enabled,
            &ipv6_enabled,
            &dhcp6_enabled,
        ] {
            let changed = changed.clone();
            check.connect_toggled(move |_| changed());
        }
        let mode_changed = changed.clone();
        mode.connect_selected_notify(move |_| mode_changed());

        let stack = gtk4::Stack::builder()
            .transition_type(gtk4::StackTransitionType::SlideLeftRight)
            .vexpand(true)
            .build();
        for (page, form) in PAGES.iter().zip([&details, &ipv4, &ipv6]) {
            form.grid().add_css_class("assistant-page");
            stack.add_named(form.grid(), Some(page));
        }

        let step = gtk4::Label::builder()
            .xalign(0.0)
            .hexpand(true)
            .css_classes(["dim-label"])
            .build();
        let cancel = crate::widgets::button(&gettext("_Cancel"));
        let back = crate::widgets::button(&gettext("_Back"));
        let forward = crate::widgets::button(&gettext("_Forward"));
        let finish = crate::widgets::button(&gettext("_Finish"));
        let buttons = gtk4::Box::new(gtk4::Orientation::Horizontal, 6);
        buttons.set_margin_top(6);
        buttons.set_margin_bottom(12);
        buttons.set_margin_start(18);
        buttons.set_margin_end(12);
        buttons.append(&step);
        for (button, message) in [
            (
                &cancel,
                (|| AssistantInput::Cancel) as fn() -> AssistantInput,
            ),
            (&back, || AssistantInput::Back),
            (&forward, || AssistantInput::Forward),
            (&finish, || AssistantInput::Finish),
        ] {
            let sender = sender.clone();
            button.connect_clicked(move |_| sender.input(message()));
            buttons.append(button);
        }
        let content = gtk4::Box::new(gtk4::Orientation::Vertical, 0);
        content.append(&stack);
        content.append(&buttons);
        root.set_child(Some(&content));

        let model = NetworkAssistant {
            connection,
            window: root.clone(),
            stack,
            page: 0,
            step,
            back,
            forward,
            finish,
            name,
            mode,
            forward_any,
            forward_dev,
            dns_domain,
            ipv4_enabled,
            ipv4_network,
            dhcp4_enabled,
            dhcp4_start,
            dhcp4_end,
            ipv6_enabled,
            ipv6_network,
            dhcp6_enabled,
            dhcp6_start,
            dhcp6_end,
        };
        model.refresh();
        ComponentParts { model, widgets: () }
    }

    fn update(
        &mut self,
        message: AssistantInput,
        sender: ComponentSender<Self>,
        _root: &gtk4::Window,
    ) {
        match message {
            AssistantInput::Forward => self.page = (self.page + 1).min(PAGES.len() - 1),
            AssistantInput::Back => self.page = self.page.saturating_sub(1),
            AssistantInput::Changed => {}
            AssistantInput::Cancel => {
                self.window.close();
                return;
            }
            AssistantInput::Finish => {
                let new = self.collect();
                match new.to_xml() {
                    Ok(xml) => {
                        self.finish.set_sensitive(false);
                        let conn = self.connection.clone();
                        let name = new.name.trim().to_string();
                        sender.oneshot_command(async move {
                            backend::call(conn.clone(), Command::DefineNetwork { xml })
                                .await
                                .map_err(|e| (gettext("Cannot define the network"), e))?;
                            backend::call_all(
                                conn,
                                vec![
                                    Command::SetNetworkAutostart {
                                        network: name.clone(),
                                        enabled: true,
                                    },
                                    Command::StartNetwork {
                                        network: name.clone(),
                                    },
                                ],
                            )
                            .await
                            .map_err(|e| {
                                (gettext("The network was defined but cannot start"), e)
                            })?;
                            Ok(name)
                        });
                    }
                    Err(error) => error_dialog::show(
                        Some(&self.window),
                        &gettext("The network settings are not valid"),
                        &error.details(),
                    ),
                }
                return;
            }
        }
        self.refresh();
    }

    fn update_cmd(
        &mut self,
        message: Result<String, (String, UiError)>,
        sender: ComponentSender<Self>,
        _root: &gtk4::Window,
    ) {
        match message {
            Ok(name) => {
                let _ = sender.output(AssistantOutput::Created(name));
            }
            Err((summary, error)) => {
                let defined = self.name.text().trim().to_string();
                let _ = sender.output(AssistantOutput::Failed(summary, error));
                let _ = sender.output(AssistantOutput::Created(defined));
            }
        }
        self.window.close();
    }
}

impl NetworkAssistant {
    /// Shows the current page and what its inputs allow.
    fn refresh(&self) {
        self.stack.set_visible_child_name(PAGES[self.page]);
        self.step
            .set_label(&format!("{} / {}", self.page + 1, PAGES.len()));
        self.back.set_sensitive(self.page > 0);
        let last = self.page + 1 == PAGES.len();
        self.forward.set_visible(!last);
        // The button that moves on is the highlighted one.
        for (button, highlighted) in [(&self.forward, !last), (&self.finish, last)] {
            if highlighted {
                button.add_css_class("suggested-action");
            } else {
                button.remove_css_class("suggested-action");
            }
        }
        let mode = self.mode();
        let forwards = matches!(mode, Mode::Nat | Mode::Routed);
        self.forward_any.set_sensitive(forwards);
        self.forward_dev
            .set_sensitive(forwards && !self.forward_any.is_active());
        let v4 = self.ipv4_enabled.is_active();
        self.ipv4_network.set_sensitive(v4);
        self.dhcp4_enabled.set_sensitive(v4);
        self.dhcp4_start
            .set_sensitive(v4 && self.dhcp4_enabled.is_active());
        self.dhcp4_end
            .set_sensitive(v4 && self.dhcp4_enabled.is_active());
        let v6 = self.ipv6_enabled.is_active();
        self.ipv6_network.set_sensitive(v6);
        self.dhcp6_enabled.set_sensitive(v6);
        self.dhcp6_start
            .set_sensitive(v6 && self.dhcp6_enabled.is_active());
        self.dhcp6_end
            .set_sensitive(v6 && self.dhcp6_enabled.is_active());
    }

    fn mode(&self) -> Mode {
        match self.mode.selected() {
            1 => Mode::Routed,
            2 => Mode::Isolated,
            3 => Mode::Open,
            _ => Mode::Nat,
        }
    }

    fn collect(&self) -> NewNetwork {
        let text = |entry: &gtk4::Entry| entry.text().trim().to_string();
        let range = |enabled: &gtk4::CheckButton, start: &gtk4::Entry, end: &gtk4::Entry| {
            enabled.is_active().then(|| (text(start), text(end)))
        };
        let dns = text(&self.dns_domain);
        NewNetwork {
            name: text(&self.name),
            mode: self.mode(),
            forward_dev: (!self.forward_any.is_active()).then(|| text(&self.forward_dev)),
            dns_domain: (!dns.is_empty()).then_some(dns),
            ipv4: self.ipv4_enabled.is_active().then(|| {
                (
                    text(&self.ipv4_network),
                    range(&self.dhcp4_enabled, &self.dhcp4_start, &self.dhcp4_end),
                )
            }),
            ipv6: self.ipv6_enabled.is_active().then(|| {
                (
                    text(&self.ipv6_network),
                    range(&self.dhcp6_enabled, &self.dhcp6_start, &self.dhcp6_end),
                )
            }),
        }
    }
}
