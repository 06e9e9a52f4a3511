//! Domain commands of the test driver.

use super::state::TestDomain;
use super::{SavedImage, TestDriver};
use crate::api::ConsoleEndpoint;
use crate::api::{
    ApiError, Command, DomainEvent, DomainState, DomainStateInfo, DomainStats, Event, LookupKey,
    ObjectEvent, ObjectKind, Reply, Scope,
};
use crate::backend::definition::{display, domain};
use crate::xml::{ids, Element};

/// Which definitions a change touches.
pub(super) struct Targets {
    pub live: bool,
    pub config: bool,
}

impl TestDriver {
    /// Finds a domain by id, UUID or name, as virsh looks them up.
    pub(super) fn find_domain(&self, key: &str) -> Result<usize, ApiError> {
        if let Ok(id) = key.parse::<u32>() {
            if let Some(i) = self.domains.iter().position(|d| d.id == Some(id)) {
                return Ok(i);
            }
        }
        if let Ok(uuid) = ids::parse_uuid(key) {
            let uuid = uuid.hyphenated().to_string();
            if let Some(i) = self.domains.iter().position(|d| d.uuid == uuid) {
                return Ok(i);
            }
        }
        self.domains
            .iter()
            .position(|d| d.name == key)
            .ok_or_else(|| ApiError::NotFound {
                kind: ObjectKind::Domain,
                by: LookupKey::Name,
                name: key.to_string(),
            })
    }

    fn lifecycle(&self, index: usize, event: DomainEvent) {
        let d = &self.domains[index];
        self.events.emit(Event::DomainLifecycle {
            name: d.name.clone(),
            uuid: d.uuid.clone(),
            event,
        });
    }

    pub(super) fn changed(&self, name: &str, event: ObjectEvent) {
        self.emit_object(ObjectKind::Domain, name, None, event);
    }

    fn require_active(&self, index: usize) -> Result<(), ApiError> {
        if self.domains[index].id.is_none() {
            return Err(ApiError::invalid_op("domain is not running"));
        }
        Ok(())
    }

    fn start_at(&mut self, index: usize, paused: bool) {
        let id = self.next_id;
        self.next_id += 1;
        let d = &mut self.domains[index];
        d.live = Some(d.config.clone());
        d.id = Some(id);
        d.state = if paused {
            DomainState::Paused
        } else {
            DomainState::Running
        };
        d.reason = if paused { "user" } else { "booted" };
        d.cpu_time_ns = 0;
    }

    /// Stops a domain; a transient one disappears.
    fn stop_at(
        &mut self,
        index: usize,
        state: DomainState,
        reason: &'static str,
        event: DomainEvent,
    ) {
        self.lifecycle(index, event);
        let d = &mut self.domains[index];
        d.live = None;
        d.id = None;
        d.state = state;
        d.reason = reason;
        if !d.persistent {
            self.domains.remove(index);
        }
    }

    fn define_domain(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let (config, uuid) = domain::prepare(xml)?;
        let name = domain::name(&config);
        let by_name = self.domains.iter().position(|d| d.name == name);
        let by_uuid = self.domains.iter().position(|d| d.uuid == uuid);
        match (by_name, by_uuid) {
            (Some(i), Some(j)) if i == j => {
                let d = &mut self.domains[i];
                d.config = config;
                d.persistent = true;
                self.changed(&name, ObjectEvent::Changed);
                Ok(Reply::Domain(self.domains[i].info()))
            }
            (Some(i), _) => Err(ApiError::AlreadyExists {
                kind: ObjectKind::Domain,
                name,
                uuid: Some(self.domains[i].uuid.clone()),
            }),
            (None, Some(j)) => Err(ApiError::AlreadyExists {
                kind: ObjectKind::Domain,
                name: self.domains[j].name.clone(),
                uuid: Some(uuid),
            }),
            (None, None) => {
                self.domains.push(TestDomain {
                    name: name.clone(),
                    uuid,
                    config,
                    live: None,
                    persistent: true,
                    state: DomainState::Shutoff,
                    reason: "unknown",
                    id: None,
                    autostart: false,
                    managed_save: false,
                    cpu_time_ns: 0,
                });
                self.changed(&name, ObjectEvent::Defined);
                Ok(Reply::Domain(self.domains[self.domains.len() - 1].info()))
            }
        }
    }

    fn create_domain(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let (config, uuid) = domain::prepare(xml)?;
        let name = domain::name(&config);
        let existing = self
            .domains
            .iter()
            .position(|d| d.name == name || d.uuid == uuid);
        let index = match existing {
            Some(i) if self.domains[i].id.is_some() => {
                return Err(ApiError::invalid_op(format!(
                    "domain '{}' is already active",
                    self.domains[i].name
                )))
            }
            Some(i) if self.domains[i].uuid != uuid || self.domains[i].name != name => {
                return Err(ApiError::AlreadyExists {
                    kind: ObjectKind::Domain,
                    name: self.domains[i].name.clone(),
                    uuid: Some(self.domains[i].uuid.clone()),
                })
            }
            Some(i) => i,
            None => {
                self.domains.push(TestDomain {
                    name,
                    uuid,
                    config: config.clone(),
                    live: None,
                    persistent: false,
                    state: DomainState::Shutoff,
                    reason: "unknown",
                    id: None,
                    autostart: false,
                    managed_save: false,
                    cpu_time_ns: 0,
                });
                self.domains.len() - 1
            }
        };
        self.start_at(index, false);
        self.domains[index].live = Some(config);
        self.lifecycle(index, DomainEvent::Started);
        Ok(Reply::Domain(self.domains[index].info()))
    }

    pub(super) fn targets(&self, index: usize, scope: Scope) -> Result<Targets, ApiError> {
        let d = &self.domains[index];
        let active = d.id.is_some();
        let t = if !scope.live && !scope.config {
            Targets {
                live: active,
                config: !active,
            }
        } else {
            Targets {
                live: scope.live,
                config: scope.config,
            }
        };
        if t.live && !active {
            return Err(ApiError::invalid_op("domain is not running"));
        }
        if t.config && !d.persistent {
            return Err(ApiError::invalid_op(
                "cannot change persistent config of a transient domain",
            ));
        }
        Ok(t)
    }

    fn edit_domain(
        &mut self,
        key: &str,
        scope: Scope,
        live_allowed: Option<&str>,
        edit: impl Fn(&mut Element) -> Result<(), ApiError>,
    ) -> Result<Reply, ApiError> {
        let index = self.find_domain(key)?;
        let t = self.targets(index, scope)?;
        if let (true, Some(refusal)) = (t.live, live_allowed) {
            return Err(ApiError::invalid_op(refusal));
        }
        let d = &mut self.domains[index];
        // Edit copies first so a failure leaves both definitions as they were.
        let mut live = d.live.clone();
        let mut config = d.config.clone();
        if t.live {
            if let Some(l) = live.as_mut() {
                edit(l)?;
                domain::canonical(l)?;
            }
        }
        if t.config {
            edit(&mut config)?;
            domain::canonical(&config)?;
        }
        d.live = live;
        d.config = config;
        let name = d.name.clone();
        self.changed(&name, ObjectEvent::Changed);
        Ok(Reply::Done)
    }

    fn dumpxml(&self, index: usize, inactive: bool) -> Result<String, ApiError> {
        let d = &self.domains[index];
        let mut el = match (&d.live, inactive) {
            (Some(live), false) => live.clone(),
            _ => d.config.clone(),
        };
        if let (Some(id), false) = (d.id, inactive) {
            el.set_attr("id", id.to_string());
        }
        domain::canonical(&el)
    }

    fn save_image(&mut self, index: usize, path: &str) {
        let d = &self.domains[index];
        self.saved.insert(
            path.to_string(),
            SavedImage {
                definition: d.current().clone(),
                uuid: d.uuid.clone(),
            },
        );
    }

    fn restore(&mut self, path: &str) -> Result<Reply, ApiError> {
        let image = self.saved.get(path).cloned().ok_or_else(|| ApiError::Io {
            op: "cannot read domain image".into(),
            path: path.to_string(),
            message: "No such file or directory".into(),
        })?;
        let name = domain::name(&image.definition);
        let index = match self.domains.iter().position(|d| d.uuid == image.uuid) {
            Some(i) if self.domains[i].id.is_some() => {
                return Err(ApiError::invalid_op(format!(
                    "domain '{name}' is already active"
                )))
            }
            Some(i) => i,
            None => {
                if self.domains.iter().any(|d| d.name == name) {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name,
                        uuid: None,
                    });
                }
                self.domains.push(TestDomain {
                    name,
                    uuid: image.uuid.clone(),
                    config: image.definition.clone(),
                    live: None,
                    persistent: false,
                    state: DomainState::Shutoff,
                    reason: "unknown",
                    id: None,
                    autostart: false,
                    managed_save: false,
                    cpu_time_ns: 0,
                });
                self.domains.len() - 1
            }
        };
        self.start_at(index, false);
        self.domains[index].live = Some(image.definition);
        self.domains[index].reason = "restored";
        self.lifecycle(index, DomainEvent::Restored);
        Ok(Reply::Domain(self.domains[index].info()))
    }

    pub(super) fn domain_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListDomains => Ok(Reply::Domains(
                self.domains.iter().map(TestDomain::info).collect(),
            )),
            Command::LookupDomain { domain } | Command::DomainInfo { domain } => {
                let i = self.find_domain(&domain)?;
                Ok(Reply::Domain(self.domains[i].info()))
            }
            Command::DefineDomain { xml } => self.define_domain(&xml),
            Command::CreateDomain { xml } => self.create_domain(&xml),
            Command::UndefineDomain {
                domain,
                managed_save,
            } => {
                let i = self.find_domain(&domain)?;
                let d = &mut self.domains[i];
                if !d.persistent {
                    return Err(ApiError::invalid_op("cannot undefine transient domain"));
                }
                if d.managed_save && !managed_save {
                    return Err(ApiError::invalid_op(
                        "Refusing to undefine while domain managed save image exists",
                    ));
                }
                let name = d.name.clone();
                if d.id.is_some() {
                    d.persistent = false;
                    d.autostart = false;
                    d.managed_save = false;
                } else {
                    self.domains.remove(i);
                }
                self.changed(&name, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }
            Command::DomainXml { domain, inactive } => {
                let i = self.find_domain(&domain)?;
                Ok(Reply::Xml(self.dumpxml(i, inactive)?))
            }
            Command::DomainState { domain } => {
                let i = self.find_domain(&domain)?;
                let d = &self.domains[i];
                Ok(Reply::DomainState(DomainStateInfo {
                    state: d.state,
                    reason: d.reason.to_string(),
                }))
            }
            Command::DomainStats { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                let info = self.domains[i].info();
                Ok(Reply::DomainStats(DomainStats {
                    name: info.name,
                    uuid: info.uuid,
                    cpu_time_ns: info.cpu_time_ns,
                    vcpus: info.vcpus,
                    memory_kib: info.memory_kib,
                    disk_read_bytes: 0,
                    disk_write_bytes: 0,
                    net_rx_bytes: 0,
                    net_tx_bytes: 0,
                }))
            }
            Command::SetDomainAutostart { domain, enabled } => {
                let i = self.find_domain(&domain)?;
                let d = &mut self.domains[i];
                if !d.persistent {
                    return Err(ApiError::invalid_op(
                        "cannot set autostart for transient domain",
                    ));
                }
                d.autostart = enabled;
                let name = d.name.clone();
                self.changed(&name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            Command::SetDomainMemory { domain, kib, scope } => {
                self.edit_domain(&domain, scope, None, |el| domain::set_memory(el, kib))
            }
            Command::SetDomainMaxMemory { domain, kib, scope } => self.edit_domain(
                &domain,
                scope,
                Some("cannot resize the maximum memory on an active domain"),
                |el| domain::set_max_memory(el, kib),
            ),
            Command::SetDomainVcpus {
                domain,
                count,
                maximum,
                scope,
            } => {
                let refusal =
                    maximum.then_some("maximum vcpu count of a live domain can't be modified");
                self.edit_domain(&domain, scope, refusal, |el| {
                    domain::set_vcpus(el, count, maximum)
                })
            }
            Command::StartDomain { domain, paused } => {
                let i = self.find_domain(&domain)?;
                if self.domains[i].id.is_some() {
                    return Err(ApiError::invalid_op("domain is already running"));
                }
                let restored = std::mem::take(&mut self.domains[i].managed_save);
                self.start_at(i, paused);
                if restored {
                    self.domains[i].reason = "restored";
                }
                self.lifecycle(i, DomainEvent::Started);
                if paused {
                    self.lifecycle(i, DomainEvent::Suspended);
                }
                Ok(Reply::Done)
            }
            Command::ShutdownDomain { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                self.stop_at(i, DomainState::Shutoff, "shutdown", DomainEvent::Shutdown);
                Ok(Reply::Done)
            }
            Command::RebootDomain { domain } | Command::ResetDomain { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                Ok(Reply::Done)
            }
            Command::DestroyDomain { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                self.stop_at(i, DomainState::Shutoff, "destroyed", DomainEvent::Stopped);
                Ok(Reply::Done)
            }
            Command::SuspendDomain { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                let d = &mut self.domains[i];
                match d.state {
                    DomainState::Paused => {
                        return Err(ApiError::invalid_op("domain is already paused"))
                    }
                    DomainState::PmSuspended => {
                        return Err(ApiError::invalid_op("domain is pmsuspended"))
                    }
                    _ => {}
                }
                d.state = DomainState::Paused;
                d.reason = "user";
                self.lifecycle(i, DomainEvent::Suspended);
                Ok(Reply::Done)
            }
            Command::ResumeDomain { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                let d = &mut self.domains[i];
                if d.state != DomainState::Paused {
                    return Err(ApiError::invalid_op("domain is not paused"));
                }
                d.state = DomainState::Running;
                d.reason = "unpaused";
                self.lifecycle(i, DomainEvent::Resumed);
                Ok(Reply::Done)
            }
            Command::SaveDomain { domain, path } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                self.save_image(i, &path);
                self.stop_at(i, DomainState::Shutoff, "saved", DomainEvent::Saved);
                Ok(Reply::Done)
            }
            Command::RestoreDomain { path } => self.restore(&path),
            Command::ManagedSave { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                if !self.domains[i].persistent {
                    return Err(ApiError::invalid_op(
                        "cannot do managed save for transient domain",
                    ));
                }
                self.domains[i].managed_save = true;
                self.stop_at(i, DomainState::Shutoff, "saved", DomainEvent::Saved);
                Ok(Reply::Done)
            }
            Command::ManagedSaveRemove { domain } => {
                let i = self.find_domain(&domain)?;
                self.domains[i].managed_save = false;
                let name = self.domains[i].name.clone();
                self.changed(&name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            Command::DomainConsoleSocket { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                Err(ApiError::unsupported(
                    "the test driver's domains have no serial console",
                ))
            }
            Command::DomainDisplay { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                let endpoint = display::vnc_display(self.domains[i].current())?;
                Ok(Reply::Text(endpoint.to_uri()))
            }
            Command::DomainConsole { domain } => {
                let i = self.find_domain(&domain)?;
                self.require_active(i)?;
                // A test host file may point a domain's serial port at a real
                // socket (a QEMU guest's), which is then its console.
                match display::serial_socket(self.domains[i].current())? {
                    Some(path) => Ok(Reply::Console(ConsoleEndpoint::Socket(path))),
                    None => Err(ApiError::unsupported(
                        "the test driver's domains have no serial console",
                    )),
                }
            }
            Command::DomainMemoryStats { domain } => self.memory_stats(&domain),
            Command::AttachDevice { domain, xml, scope } => {
                self.change_devices(&domain, &xml, scope, true)
            }
            Command::DetachDevice { domain, xml, scope } => {
                self.change_devices(&domain, &xml, scope, false)
            }
            other => Err(ApiError::Internal(format!(
                "not a domain command: {other:?}"
            ))),
        }
    }
}
