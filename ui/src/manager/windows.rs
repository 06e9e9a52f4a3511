//! The windows the manager opens: Connection Details, a domain's window,
//! New VM and About.

use gettextrs::gettext;
use gtk4::prelude::*;
use relm4::prelude::*;

use super::host::Host;
use super::ManagerWindow;
use crate::details::{ConnectionDetails, DetailsInit};
use crate::domain::{DomainPage, DomainWindow, DomainWindowInit, DomainWindowInput};
use crate::new_vm::{NewVmDialog, NewVmInit};

impl ManagerWindow {
    pub(super) fn show_details(&mut self, uri: &str) {
        let Some(conn) = self.host(uri).and_then(Host::connection).cloned() else {
            return;
        };
        let settings = self.settings.clone();
        let controller = self.details.entry(uri.to_string()).or_insert_with(|| {
            ConnectionDetails::builder()
                .launch(DetailsInit {
                    connection: conn,
                    settings,
                })
                .detach()
        });
        controller.widget().present();
    }

    pub(super) fn show_domain(&mut self, uri: &str, name: &str, page: DomainPage) {
        let Some(conn) = self.host(uri).and_then(Host::connection).cloned() else {
            return;
        };
        let key = (uri.to_string(), name.to_string());
        let settings = self.settings.clone();
        let controller = self.domain_windows.entry(key).or_insert_with(|| {
            DomainWindow::builder()
                .launch(DomainWindowInit {
                    connection: conn,
                    name: name.to_string(),
                    settings,
                })
                .detach()
        });
        controller.emit(DomainWindowInput::ShowPage(page));
        controller.widget().present();
    }

    pub(super) fn show_new_vm(&mut self) {
        let Some(uri) = self.current_uri() else {
            return;
        };
        let Some(conn) = self.host(&uri).and_then(Host::connection).cloned() else {
            return;
        };
        let dialog = NewVmDialog::builder()
            .transient_for(&self.window)
            .launch(NewVmInit {
                connection: conn,
                settings: self.settings.clone(),
            })
            .detach();
        dialog.widget().present();
        self.new_vm = Some(dialog);
    }

    pub(super) fn show_about(&self) {
        let about = gtk4::AboutDialog::builder()
            .transient_for(&self.window)
            .modal(true)
            .program_name("Hangar")
            .logo_icon_name(crate::config::APP_ID)
            .version(env!("CARGO_PKG_VERSION"))
            .comments(gettext("Create, run and manage virtual machines"))
            .license_type(gtk4::License::Gpl20)
            .translator_credits(gettext("translator-credits"))
            .build();
        about.present();
    }
}
