//! Domain definitions in the hangar driver, and the view of each domain
//! that joins its stored definition with its running VMM (see
//! [`super::vm_process`]): a running domain shows its live definition, its
//! id and state; a running domain without a stored definition is transient.

use super::vm_process::{self, RunState};
use super::HangarDriver;
use crate::api::{
    ApiError, Command, DomainInfo, DomainStateInfo, LookupKey, ObjectEvent, ObjectKind, Reply,
    Scope,
};
use crate::backend::definition::domain;
use crate::xml::{ids, Element};

/// One domain as the driver sees it.
pub(super) struct Known {
    /// The definition shown: the live one while running, else the stored one.
    pub xml: Element,
    /// UUID, lower-case with dashes.
    pub uuid: String,
    /// Whether a stored definition exists.
    pub persistent: bool,
    /// What its VMM's files say.
    pub run: RunState,
}

fn info(name: &str, known: &Known, autostart: bool, managed_save: bool) -> DomainInfo {
    let def = &known.xml;
    let (vcpus, max_vcpus) = domain::vcpus(def);
    let cpu_time_ns = match (&known.run.status, known.run.is_active()) {
        (Some(status), true) => vm_process::cpu_time_ns(status.pid),
        _ => 0,
    };
    DomainInfo {
        id: known.run.id,
        name: name.to_string(),
        uuid: known.uuid.clone(),
        os_type: domain::os_type(def),
        state: known.run.state,
        reason: known.run.reason.clone(),
        vcpus,
        max_vcpus,
        cpu_time_ns,
        max_memory_kib: domain::max_memory_kib(def),
        memory_kib: domain::memory_kib(def),
        persistent: known.persistent,
        autostart,
        managed_save,
        title: domain::title(def),
    }
}

/// Rejects names the store cannot hold as a file.
pub(super) fn check_file_name(kind: &str, name: &str) -> Result<(), ApiError> {
    ids::validate_name(kind, name)?;
    if name.starts_with('.') {
        return Err(ApiError::InvalidArg(format!(
            "{kind} name '{name}' cannot start with '.'"
        )));
    }
    Ok(())
}

impl HangarDriver {
    /// The name of the domain called (or with the UUID) `key`.
    pub(super) fn domain_name(&self, key: &str) -> Result<String, ApiError> {
        if self.store.domains.get(key).is_some() {
            return Ok(key.to_string());
        }
        if let Ok(uuid) = ids::parse_uuid(key) {
            let uuid = uuid.hyphenated().to_string();
            if let Some(n) = self.store.domains.name_by_uuid(&uuid) {
                return Ok(n.to_string());
            }
            if let Some(n) = self
                .transient_domains()
                .into_iter()
                .find(|(_, k)| k.uuid == uuid)
            {
                return Ok(n.0);
            }
        }
        if let Some((name, _)) = self.transient_domains().into_iter().find(|(n, _)| n == key) {
            return Ok(name);
        }
        if let Ok(id) = key.parse::<u32>() {
            let by_id = self
                .known_domains()
                .into_iter()
                .find(|(_, k)| k.run.id == Some(id));
            if let Some((name, _)) = by_id {
                return Ok(name);
            }
        }
        Err(ApiError::NotFound {
            kind: ObjectKind::Domain,
            by: LookupKey::Name,
            name: key.to_string(),
        })
    }

    /// Running domains that have no stored definition.
    pub(super) fn transient_domains(&self) -> Vec<(String, Known)> {
        self.vm_files
            .names()
            .into_iter()
            .filter(|n| self.store.domains.get(n).is_none())
            .filter_map(|n| {
                let run = vm_process::run_state(&self.vm_files, &n);
                if !run.is_active() {
                    return None;
                }
                let text = std::fs::read_to_string(self.vm_files.xml(&n)).ok()?;
                let (xml, uuid) = domain::prepare(&text).ok()?;
                Some((
                    n,
                    Known {
                        xml,
                        uuid,
                        persistent: false,
                        run,
                    },
                ))
            })
            .collect()
    }

    /// The domain called `name`, stored or transient.
    pub(super) fn known_domain(&self, name: &str) -> Result<Known, ApiError> {
        let Some(entry) = self.store.domains.get(name) else {
            return self
                .transient_domains()
                .into_iter()
                .find(|(n, _)| n == name)
                .map(|(_, k)| k)
                .ok_or_else(|| ApiError::not_found(ObjectKind::Domain, name));
        };
        let run = vm_process::run_state(&self.vm_files, name);
        let live = if run.is_active() {
            std::fs::read_to_string(self.vm_files.xml(name))
                .ok()
                .and_then(|t| domain::prepare(&t).ok())
                .map(|(el, _)| el)
        } else {
            None
        };
        Ok(Known {
            xml: live.unwrap_or_else(|| entry.xml.clone()),
            uuid: entry.uuid.clone(),
            persistent: true,
            run,
        })
    }

    /// Every domain, stored and transient, by name.
    pub(super) fn known_domains(&self) -> Vec<(String, Known)> {
        let names: Vec<String> = self.store.domains.entries().keys().cloned().collect();
        let mut all: Vec<(String, Known)> = names
            .into_iter()
            .filter_map(|n| self.known_domain(&n).ok().map(|k| (n, k)))
            .collect();
        all.extend(self.transient_domains());
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    pub(super) fn domain_info(&self, name: &str) -> Result<DomainInfo, ApiError> {
        let known = self.known_domain(name)?;
        Ok(info(
            name,
            &known,
            self.store.domains.autostart(name),
            self.has_managed_save(name),
        ))
    }

    fn define_domain(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let (el, uuid) = domain::prepare(xml)?;
        let name = domain::name(&el);
        check_file_name("domain", &name)?;
        let canonical = domain::canonical(&el)?;
        self.locked(|d| {
            let same_name = d.store.domains.get(&name).map(|e| e.uuid.clone());
            let same_uuid = d.store.domains.name_by_uuid(&uuid).map(str::to_string);
            match (&same_name, &same_uuid) {
                (Some(existing), _) if *existing != uuid => {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name: name.clone(),
                        uuid: Some(existing.clone()),
                    })
                }
                (_, Some(other)) if *other != name => {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name: other.clone(),
                        uuid: Some(uuid.clone()),
                    })
                }
                _ => {}
            }
            d.store.domains.put(&name, &canonical)?;
            let event = if same_name.is_some() {
                ObjectEvent::Changed
            } else {
                ObjectEvent::Defined
            };
            d.emit(ObjectKind::Domain, &name, None, event);
            Ok(Reply::Domain(d.domain_info(&name)?))
        })
    }

    /// Changes the stored definition of `key`; the live scope needs a running VM.
    pub(super) fn edit_domain(
        &mut self,
        key: &str,
        scope: Scope,
        edit: impl FnOnce(&mut Element) -> Result<(), ApiError>,
    ) -> Result<Reply, ApiError> {
        if scope.live {
            let name = self.domain_name(key)?;
            if self.known_domain(&name)?.run.is_active() {
                return Err(ApiError::unsupported(
                    "hangar-vmm cannot change a running domain's memory or vCPUs; use --config",
                ));
            }
            return Err(ApiError::invalid_op("domain is not running"));
        }
        self.locked(|d| {
            let name = d.domain_name(key)?;
            let mut el = d
                .store
                .domains
                .get(&name)
                .map(|e| e.xml.clone())
                .ok_or_else(|| ApiError::not_found(ObjectKind::Domain, &name))?;
            edit(&mut el)?;
            let canonical = domain::canonical(&el)?;
            d.store.domains.put(&name, &canonical)?;
            d.emit(ObjectKind::Domain, &name, None, ObjectEvent::Changed);
            Ok(Reply::Done)
        })
    }

    pub(super) fn domain_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListDomains => Ok(Reply::Domains(
                self.known_domains()
                    .iter()
                    .map(|(n, k)| {
                        info(
                            n,
                            k,
                            self.store.domains.autostart(n),
                            self.has_managed_save(n),
                        )
                    })
                    .collect(),
            )),
            Command::LookupDomain { domain } | Command::DomainInfo { domain } => {
                let name = self.domain_name(&domain)?;
                Ok(Reply::Domain(self.domain_info(&name)?))
            }
            Command::DefineDomain { xml } => self.define_domain(&xml),
            Command::CreateDomain { xml } => self.create_domain(&xml),
            Command::UndefineDomain {
                domain,
                managed_save,
            } => self.locked(|d| {
                let name = d.domain_name(&domain)?;
                if d.store.domains.get(&name).is_none() {
                    return Err(ApiError::invalid_op("cannot undefine transient domain"));
                }
                if d.has_managed_save(&name) {
                    if !managed_save {
                        return Err(ApiError::invalid_op(
                            "Refusing to undefine while domain managed save image exists",
                        ));
                    }
                    d.remove_managed_save(&name)?;
                }
                let running = d.known_domain(&name)?.run.is_active();
                d.store.domains.remove(&name)?;
                if !running {
                    // A running one stays as a transient domain until it stops.
                    vm_process::clear_leftovers(&d.vm_files, &name)?;
                }
                d.emit(ObjectKind::Domain, &name, None, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }),
            Command::DomainXml { domain, inactive } => {
                let name = self.domain_name(&domain)?;
                let known = self.known_domain(&name)?;
                let xml = match (inactive, self.store.domains.get(&name)) {
                    (true, Some(entry)) => &entry.xml,
                    _ => &known.xml,
                };
                Ok(Reply::Xml(domain::canonical(xml)?))
            }
            Command::DomainState { domain } => {
                let name = self.domain_name(&domain)?;
                let run = self.known_domain(&name)?.run;
                Ok(Reply::DomainState(DomainStateInfo {
                    state: run.state,
                    reason: run.reason,
                }))
            }
            Command::SetDomainAutostart { domain, enabled } => self.locked(|d| {
                let name = d.domain_name(&domain)?;
                d.store.domains.set_autostart(&name, enabled)?;
                d.emit(ObjectKind::Domain, &name, None, ObjectEvent::Changed);
                Ok(Reply::Done)
            }),
            Command::SetDomainMemory { domain, kib, scope } => self.set_memory(&domain, kib, scope),
            Command::DomainMemoryStats { domain } => self.memory_stats(&domain),
            Command::SetDomainMaxMemory { domain, kib, scope } => {
                self.edit_domain(&domain, scope, |el| domain::set_max_memory(el, kib))
            }
            Command::SetDomainVcpus {
                domain,
                count,
                maximum,
                scope,
            } => self.edit_domain(&domain, scope, |el| domain::set_vcpus(el, count, maximum)),
            Command::ManagedSaveRemove { domain } => self.remove_managed_save(&domain),
            Command::AttachDevice { domain, xml, scope } => {
                self.change_devices(&domain, &xml, scope, true)
            }
            Command::DetachDevice { domain, xml, scope } => {
                self.change_devices(&domain, &xml, scope, false)
            }
            c @ (Command::StartDomain { .. }
            | Command::RestoreDomain { .. }
            | Command::DomainStats { .. }
            | Command::DomainConsoleSocket { .. }
            | Command::DomainConsole { .. }
            | Command::DomainDisplay { .. }
            | Command::ShutdownDomain { .. }
            | Command::RebootDomain { .. }
            | Command::ResetDomain { .. }
            | Command::DestroyDomain { .. }
            | Command::SuspendDomain { .. }
            | Command::ResumeDomain { .. }
            | Command::SaveDomain { .. }
            | Command::ManagedSave { .. }) => self.domain_run_command(c),
            other => Err(ApiError::Internal(format!(
                "not a domain command: {other:?}"
            ))),
        }
    }
}
