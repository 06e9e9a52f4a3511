//! One connection in the manager's list: its header row, its state and
//! the rows of its domains.

use std::collections::BTreeMap;

use gettextrs::gettext;
use gtk4::prelude::*;
use hangar_core::api::{Connection, DomainInfo};

use super::domain_row::{Columns, DomainRow};

/// Where a connection stands.
#[derive(Debug, Clone)]
pub enum HostStatus {
    /// Not opened.
    Disconnected,
    /// Opening.
    Connecting,
    /// Open.
    Connected(Connection),
    /// Opening failed with this message.
    Failed(String),
}

/// A connection and its domains.
pub struct Host {
    /// The URI it was opened with.
    pub uri: String,
    /// Its state.
    pub status: HostStatus,
    /// Its domains, by name.
    pub domains: BTreeMap<String, DomainRow>,
    header: gtk4::ListBoxRow,
    title: gtk4::Label,
    subtitle: gtk4::Label,
}

impl Host {
    /// A disconnected host for `uri`.
    pub fn new(uri: String) -> Self {
        let header = gtk4::ListBoxRow::builder()
            .selectable(false)
            .activatable(true)
            .css_classes(["connection-header"])
            .build();
        let layout = gtk4::Box::new(gtk4::Orientation::Horizontal, 8);
        let icon = gtk4::Image::from_icon_name("computer-symbolic");
        layout.append(&icon);
        let title = gtk4::Label::builder().xalign(0.0).build();
        let subtitle = gtk4::Label::builder()
            .xalign(0.0)
            .hexpand(true)
            .ellipsize(gtk4::pango::EllipsizeMode::End)
            .css_classes(["dim-label"])
            .build();
        layout.append(&title);
        layout.append(&subtitle);
        header.set_child(Some(&layout));
        let mut host = Self {
            uri,
            status: HostStatus::Disconnected,
            domains: BTreeMap::new(),
            header,
            title,
            subtitle,
        };
        host.set_status(HostStatus::Disconnected);
        host
    }

    /// The header row.
    pub fn header(&self) -> &gtk4::ListBoxRow {
        &self.header
    }

    /// The open connection, if any.
    pub fn connection(&self) -> Option<&Connection> {
        match &self.status {
            HostStatus::Connected(conn) => Some(conn),
            _ => None,
        }
    }

    /// Changes the state and the header's text.
    pub fn set_status(&mut self, status: HostStatus) {
        let label = display_name(&self.uri);
        let state = match &status {
            HostStatus::Disconnected => gettext("Not Connected"),
            HostStatus::Connecting => gettext("Connecting…"),
            HostStatus::Connected(_) => String::new(),
            HostStatus::Failed(message) => format!("{} {message}", gettext("Error:")),
        };
        self.title.set_label(&label);
        self.subtitle.set_label(&state);
        self.header.set_tooltip_text(Some(&self.uri));
        let accessible = if state.is_empty() {
            label
        } else {
            format!("{label} – {state}")
        };
        self.header
            .update_property(&[gtk4::accessible::Property::Label(&accessible)]);
        if !matches!(status, HostStatus::Connected(_)) {
            self.domains.clear();
        }
        self.status = status;
    }

    /// Replaces the domain list; rows of domains still present are kept.
    pub fn set_domains(&mut self, domains: Vec<DomainInfo>, columns: Columns) {
        let mut kept = BTreeMap::new();
        for info in domains {
            let name = info.name.clone();
            let row = match self.domains.remove(&name) {
                Some(mut row) => {
                    row.update(info);
                    row
                }
                None => DomainRow::new(info, columns),
            };
            kept.insert(name, row);
        }
        self.domains = kept;
    }

    /// Adds or refreshes one domain.
    pub fn upsert_domain(&mut self, info: DomainInfo, columns: Columns) {
        match self.domains.get_mut(&info.name) {
            Some(row) => row.update(info),
            None => {
                self.domains
                    .insert(info.name.clone(), DomainRow::new(info, columns));
            }
        }
    }
}

/// How a URI reads in the list, virt-manager's style: "QEMU/KVM User
/// session", "Test", ...
pub fn display_name(uri: &str) -> String {
    match uri {
        "hangar:///session" => gettext("Hangar User session"),
        "hangar:///system" => gettext("Hangar System"),
        "test:///default" => gettext("Test"),
        _ if uri.starts_with("test:///") => {
            let file = uri.rsplit('/').next().unwrap_or(uri);
            format!("{} – {file}", gettext("Test"))
        }
        _ => uri.to_string(),
    }
}
