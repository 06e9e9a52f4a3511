//! Operations on domains: confirmation where the preferences ask for it,
//! the backend command, and deletion with the chosen storage.

use gettextrs::gettext;
use gtk4::prelude::*;
use hangar_core::api::{ApiError, Command, VolumeRef};
use relm4::prelude::*;

use super::host::Host;
use super::{delete_dialog, DomainAction, ManagerCommand, ManagerInput, ManagerWindow};
use crate::backend::{self, expect_reply, UiError};
use crate::i18n::gettext_f;
use crate::widgets::confirm;

impl ManagerWindow {
    pub(super) fn confirm_domain_action(
        &self,
        uri: String,
        name: String,
        action: DomainAction,
        sender: &ComponentSender<Self>,
    ) {
        let question = match action {
            DomainAction::ForceOff if self.settings.boolean("confirm-force-off") => Some((
                gettext_f("Force off “{name}”?", &[("name", &name)]),
                gettext("The virtual machine stops at once, as if its power cord were pulled. Unsaved data in the guest is lost."),
                gettext("_Force Off"),
            )),
            DomainAction::Reset if self.settings.boolean("confirm-force-off") => Some((
                gettext_f("Force reset “{name}”?", &[("name", &name)]),
                gettext("The virtual machine restarts at once. Unsaved data in the guest is lost."),
                gettext("F_orce Reset"),
            )),
            DomainAction::Shutdown | DomainAction::Reboot if self.settings.boolean("confirm-poweroff") => Some((
                if action == DomainAction::Shutdown {
                    gettext_f("Shut down “{name}”?", &[("name", &name)])
                } else {
                    gettext_f("Reboot “{name}”?", &[("name", &name)])
                },
                gettext("The guest operating system is asked to do it."),
                if action == DomainAction::Shutdown {
                    gettext("_Shut Down")
                } else {
                    gettext("_Reboot")
                },
            )),
            DomainAction::Pause if self.settings.boolean("confirm-pause") => Some((
                gettext_f("Pause “{name}”?", &[("name", &name)]),
                gettext("The virtual machine stops running until it is resumed."),
                gettext("_Pause"),
            )),
            _ => None,
        };
        match question {
            Some((question, detail, accept)) => {
                let sender = sender.input_sender().clone();
                confirm::ask(&self.window, &question, &detail, &accept, move || {
                    sender.emit(ManagerInput::DomainConfirmed(uri, name, action));
                });
            }
            None => sender.input(ManagerInput::DomainConfirmed(uri, name, action)),
        }
    }

    pub(super) fn run_domain_action(
        &self,
        uri: &str,
        name: &str,
        action: DomainAction,
        sender: &ComponentSender<Self>,
    ) {
        let Some(conn) = self.host(uri).and_then(Host::connection).cloned() else {
            return;
        };
        let domain = name.to_string();
        let (command, summary) = match action {
            DomainAction::Run => (
                Command::StartDomain {
                    domain,
                    paused: false,
                },
                gettext("Cannot start the virtual machine"),
            ),
            DomainAction::Pause => (
                Command::SuspendDomain { domain },
                gettext("Cannot pause the virtual machine"),
            ),
            DomainAction::Resume => (
                Command::ResumeDomain { domain },
                gettext("Cannot resume the virtual machine"),
            ),
            DomainAction::Shutdown => (
                Command::ShutdownDomain { domain },
                gettext("Cannot shut down the virtual machine"),
            ),
            DomainAction::Reboot => (
                Command::RebootDomain { domain },
                gettext("Cannot reboot the virtual machine"),
            ),
            DomainAction::Reset => (
                Command::ResetDomain { domain },
                gettext("Cannot reset the virtual machine"),
            ),
            DomainAction::ForceOff => (
                Command::DestroyDomain { domain },
                gettext("Cannot force off the virtual machine"),
            ),
            DomainAction::Save => (
                Command::ManagedSave { domain },
                gettext("Cannot save the virtual machine"),
            ),
        };
        let uri = uri.to_string();
        let name = name.to_string();
        let refresh_name = name.clone();
        let refresh_conn = conn.clone();
        sender.oneshot_command(async move {
            match backend::call(conn, command).await {
                Ok(_) => {
                    // Events bring the new state too; asking once more
                    // keeps the row right with drivers that send none.
                    let result = match backend::call(
                        refresh_conn,
                        Command::DomainInfo {
                            domain: refresh_name,
                        },
                    )
                    .await
                    {
                        Ok(reply) => expect_reply!(reply, Domain).map(Some),
                        Err(UiError::Api(ApiError::NotFound { .. })) => Ok(None),
                        Err(error) => Err(error),
                    };
                    ManagerCommand::DomainRefreshed(uri, name, result)
                }
                Err(error) => ManagerCommand::Done(summary, Err(error)),
            }
        });
    }

    pub(super) fn start_delete(&self, sender: &ComponentSender<Self>) {
        let Some((uri, name)) = self.selected() else {
            return;
        };
        let Some(conn) = self.host(&uri).and_then(Host::connection).cloned() else {
            return;
        };
        sender.oneshot_command(async move {
            let result = async {
                let xml = expect_reply!(
                    backend::call(
                        conn,
                        Command::DomainXml {
                            domain: name.clone(),
                            inactive: true
                        }
                    )
                    .await?,
                    Xml
                )?;
                delete_dialog::disks_of(&xml)
            }
            .await;
            ManagerCommand::DeleteChoices(uri, name, result)
        });
    }

    pub(super) fn delete_domain(
        &self,
        uri: String,
        name: String,
        storage: Vec<String>,
        sender: &ComponentSender<Self>,
    ) {
        let Some(conn) = self.host(&uri).and_then(Host::connection).cloned() else {
            return;
        };
        let active = self
            .host(&uri)
            .and_then(|h| h.domains.get(&name))
            .is_some_and(|row| row.info.state.is_active());
        let mut commands = Vec::new();
        if active {
            commands.push(Command::DestroyDomain {
                domain: name.clone(),
            });
        }
        for path in storage {
            commands.push(Command::DeleteVolume {
                volume: VolumeRef::by_path(path),
            });
        }
        commands.push(Command::UndefineDomain {
            domain: name.clone(),
            managed_save: true,
        });
        let summary = gettext_f("Cannot delete “{name}”", &[("name", &name)]);
        sender.oneshot_command(async move {
            let result = backend::call_all(conn.clone(), commands).await.map(drop);
            match result {
                Ok(()) => {
                    let refreshed = match backend::call(
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
                    ManagerCommand::DomainRefreshed(uri, name, refreshed)
                }
                Err(error) => ManagerCommand::Done(summary, Err(error)),
            }
        });
    }
}
