//! Domain definitions in the hangar driver. Nothing runs until the VMM is
//! wired in: every domain is shut off and starting one says so.

use super::HangarDriver;
use crate::api::{
    ApiError, Command, DomainInfo, DomainState, DomainStateInfo, LookupKey, ObjectEvent,
    ObjectKind, Reply, Scope,
};
use crate::backend::definition::domain;
use crate::backend::store::Entry;
use crate::xml::{ids, Element};

/// What starting commands answer until the VMM exists.
const CANNOT_START: &str = "the hangar driver cannot start domains yet";

fn info(name: &str, entry: &Entry, autostart: bool) -> DomainInfo {
    let def = &entry.xml;
    let (vcpus, max_vcpus) = domain::vcpus(def);
    DomainInfo {
        id: None,
        name: name.to_string(),
        uuid: entry.uuid.clone(),
        os_type: domain::os_type(def),
        state: DomainState::Shutoff,
        reason: "unknown".to_string(),
        vcpus,
        max_vcpus,
        cpu_time_ns: 0,
        max_memory_kib: domain::max_memory_kib(def),
        memory_kib: domain::memory_kib(def),
        persistent: true,
        autostart,
        managed_save: false,
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
    fn domain_name(&self, key: &str) -> Result<String, ApiError> {
        if self.store.domains.get(key).is_some() {
            return Ok(key.to_string());
        }
        if let Ok(uuid) = ids::parse_uuid(key) {
            if let Some(n) = self
                .store
                .domains
                .name_by_uuid(&uuid.hyphenated().to_string())
            {
                return Ok(n.to_string());
            }
        }
        Err(ApiError::NotFound {
            kind: ObjectKind::Domain,
            by: LookupKey::Name,
            name: key.to_string(),
        })
    }

    fn domain_info(&self, name: &str) -> Result<DomainInfo, ApiError> {
        let entry = self
            .store
            .domains
            .get(name)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Domain, name))?;
        Ok(info(name, entry, self.store.domains.autostart(name)))
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
    fn edit_domain(
        &mut self,
        key: &str,
        scope: Scope,
        edit: impl FnOnce(&mut Element) -> Result<(), ApiError>,
    ) -> Result<Reply, ApiError> {
        if scope.live {
            self.domain_name(key)?;
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
                self.store
                    .domains
                    .entries()
                    .iter()
                    .map(|(n, e)| info(n, e, self.store.domains.autostart(n)))
                    .collect(),
            )),
            Command::LookupDomain { domain } | Command::DomainInfo { domain } => {
                let name = self.domain_name(&domain)?;
                Ok(Reply::Domain(self.domain_info(&name)?))
            }
            Command::DefineDomain { xml } => self.define_domain(&xml),
            Command::CreateDomain { xml } => {
                domain::prepare(&xml)?;
                Err(ApiError::unsupported(CANNOT_START))
            }
            Command::UndefineDomain { domain, .. } => self.locked(|d| {
                let name = d.domain_name(&domain)?;
                d.store.domains.remove(&name)?;
                d.emit(ObjectKind::Domain, &name, None, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }),
            Command::DomainXml { domain, .. } => {
                let name = self.domain_name(&domain)?;
                let entry = self
                    .store
                    .domains
                    .get(&name)
                    .ok_or_else(|| ApiError::not_found(ObjectKind::Domain, &name))?;
                Ok(Reply::Xml(domain::canonical(&entry.xml)?))
            }
            Command::DomainState { domain } => {
                self.domain_name(&domain)?;
                Ok(Reply::DomainState(DomainStateInfo {
                    state: DomainState::Shutoff,
                    reason: "unknown".to_string(),
                }))
            }
            Command::SetDomainAutostart { domain, enabled } => self.locked(|d| {
                let name = d.domain_name(&domain)?;
                d.store.domains.set_autostart(&name, enabled)?;
                d.emit(ObjectKind::Domain, &name, None, ObjectEvent::Changed);
                Ok(Reply::Done)
            }),
            Command::SetDomainMemory { domain, kib, scope } => {
                self.edit_domain(&domain, scope, |el| domain::set_memory(el, kib))
            }
            Command::SetDomainMaxMemory { domain, kib, scope } => {
                self.edit_domain(&domain, scope, |el| domain::set_max_memory(el, kib))
            }
            Command::SetDomainVcpus {
                domain,
                count,
                maximum,
                scope,
            } => self.edit_domain(&domain, scope, |el| domain::set_vcpus(el, count, maximum)),
            Command::StartDomain { domain, .. } => {
                self.domain_name(&domain)?;
                Err(ApiError::unsupported(CANNOT_START))
            }
            Command::RestoreDomain { .. } => Err(ApiError::unsupported(CANNOT_START)),
            Command::ManagedSaveRemove { domain } => {
                self.domain_name(&domain)?;
                Ok(Reply::Done)
            }
            Command::DomainStats { domain }
            | Command::ShutdownDomain { domain }
            | Command::RebootDomain { domain }
            | Command::ResetDomain { domain }
            | Command::DestroyDomain { domain }
            | Command::SuspendDomain { domain }
            | Command::ResumeDomain { domain }
            | Command::SaveDomain { domain, .. }
            | Command::ManagedSave { domain } => {
                self.domain_name(&domain)?;
                Err(ApiError::invalid_op("domain is not running"))
            }
            other => Err(ApiError::Internal(format!(
                "not a domain command: {other:?}"
            ))),
        }
    }
}
