//! Running domains in the hangar driver: start, the lifecycle requests sent
//! to each domain's `hangar-vmm`, autostart, and following VMs started or
//! stopped by other processes so their changes become events.

use super::vm_process;
use super::HangarDriver;
use crate::api::ConsoleEndpoint;
use crate::api::{
    ApiError, Command, DomainEvent, DomainStats, Event, ObjectKind, Reply, StoreProblem,
};
use crate::backend::definition::{display, domain};
use crate::vmm::control::Request;

impl HangarDriver {
    fn lifecycle_event(&self, name: &str, uuid: &str, event: DomainEvent) {
        self.events.emit(Event::DomainLifecycle {
            name: name.to_string(),
            uuid: uuid.to_string(),
            event,
        });
    }

    /// Starts a VMM for `name` with the definition `canonical_xml`.
    fn launch(
        &mut self,
        name: &str,
        uuid: &str,
        canonical_xml: &str,
        paused: bool,
    ) -> Result<(), ApiError> {
        self.launch_vmm(name, uuid, canonical_xml, paused, None)
    }

    /// Starts a VMM for `name` that boots `canonical_xml`, or resumes the VM
    /// saved in `snapshot` (whose definition `canonical_xml` is).
    pub(super) fn launch_vmm(
        &mut self,
        name: &str,
        uuid: &str,
        canonical_xml: &str,
        paused: bool,
        snapshot: Option<&std::path::Path>,
    ) -> Result<(), ApiError> {
        let vmm = vm_process::vmm_binary()?;
        let mut live = crate::xml::parse_root(canonical_xml, "domain")?;
        let netns = self.plug_nics(name, &mut live)?;
        let started = domain::canonical(&live).and_then(|xml| match snapshot {
            Some(file) => vm_process::start_restored(&self.vm_files, name, &xml, &vmm, netns, file),
            None => vm_process::start(&self.vm_files, name, &xml, &vmm, netns),
        });
        if let Err(e) = started {
            super::vm_nics::unplug_nics(&self.vm_files, name);
            return Err(e);
        }
        let event = match snapshot {
            Some(_) => DomainEvent::Restored,
            None => DomainEvent::Started,
        };
        self.lifecycle_event(name, uuid, event);
        if paused {
            vm_process::request(&self.vm_files, name, Request::Suspend)?;
            self.lifecycle_event(name, uuid, DomainEvent::Suspended);
        }
        self.active_domains.insert(name.to_string());
        vm_process::watch(
            &self.vm_files,
            name,
            uuid,
            self.events.clone(),
            &self.watched,
        );
        Ok(())
    }

    fn start_domain(&mut self, key: &str, paused: bool) -> Result<(), ApiError> {
        self.locked(|d| d.start_domain_locked(key, paused))
    }

    /// Starts `key`; the caller holds the store lock (it is not reentrant).
    fn start_domain_locked(&mut self, key: &str, paused: bool) -> Result<(), ApiError> {
        let name = self.domain_name(key)?;
        let known = self.known_domain(&name)?;
        if known.run.is_active() {
            return Err(ApiError::invalid_op("domain is already running"));
        }
        let entry = self
            .store
            .domains
            .get(&name)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Domain, &name))?;
        let xml = domain::canonical(&entry.xml)?;
        let uuid = entry.uuid.clone();
        if self.has_managed_save(&name) {
            self.start_from_managed_save(&name, &uuid)?;
            if paused {
                vm_process::request(&self.vm_files, &name, Request::Suspend)?;
                self.lifecycle_event(&name, &uuid, DomainEvent::Suspended);
            }
            return Ok(());
        }
        self.launch(&name, &uuid, &xml, paused)
    }

    /// `create`: runs a definition without storing it (a transient domain),
    /// or with the stored domain of that name if there is one.
    pub(super) fn create_domain(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let (el, uuid) = domain::prepare(xml)?;
        let name = domain::name(&el);
        super::domains::check_file_name("domain", &name)?;
        let canonical = domain::canonical(&el)?;
        self.locked(|d| {
            if let Ok(known) = d.known_domain(&name) {
                if known.run.is_active() {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name: name.clone(),
                        uuid: Some(known.uuid),
                    });
                }
                if known.uuid != uuid {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name: name.clone(),
                        uuid: Some(known.uuid),
                    });
                }
            }
            d.launch(&name, &uuid, &canonical, false)?;
            Ok(Reply::Domain(d.domain_info(&name)?))
        })
    }

    /// The name of `key` if its VMM runs, else "domain is not running".
    pub(super) fn running_domain(
        &self,
        key: &str,
    ) -> Result<(String, super::domains::Known), ApiError> {
        let name = self.domain_name(key)?;
        let known = self.known_domain(&name)?;
        if !known.run.is_active() {
            return Err(ApiError::invalid_op("domain is not running"));
        }
        Ok((name, known))
    }

    pub(super) fn domain_run_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        use crate::api::DomainState;
        match command {
            Command::StartDomain { domain, paused } => {
                self.start_domain(&domain, paused)?;
                Ok(Reply::Done)
            }
            Command::RestoreDomain { path } => self.restore_domain(&path),
            Command::DomainConsoleSocket { domain } => {
                let (name, _) = self.running_domain(&domain)?;
                Ok(Reply::Text(
                    self.vm_files.socket(&name).display().to_string(),
                ))
            }
            Command::DomainConsole { domain } => {
                let (name, _) = self.running_domain(&domain)?;
                Ok(Reply::Console(ConsoleEndpoint::Vmm(
                    self.vm_files.socket(&name).display().to_string(),
                )))
            }
            Command::DomainDisplay { domain } => {
                let (_, known) = self.running_domain(&domain)?;
                // The VMM reports where it listens (an autoport's choice);
                // a VMM without that report leaves the definition's word.
                let endpoint = match known.run.status.as_ref().and_then(|s| s.vnc.as_ref()) {
                    Some(live) => display::vmm_display(live),
                    None => display::vnc_display(&known.xml)?,
                };
                Ok(Reply::Text(endpoint.to_uri()))
            }
            Command::DomainStats { domain } => {
                let (name, known) = self.running_domain(&domain)?;
                let info = self.domain_info(&name)?;
                Ok(Reply::DomainStats(DomainStats {
                    name,
                    uuid: known.uuid,
                    cpu_time_ns: info.cpu_time_ns,
                    vcpus: info.vcpus,
                    memory_kib: info.memory_kib,
                    disk_read_bytes: 0,
                    disk_write_bytes: 0,
                    net_rx_bytes: 0,
                    net_tx_bytes: 0,
                }))
            }
            Command::DestroyDomain { domain } => {
                let (name, _) = self.running_domain(&domain)?;
                vm_process::destroy(&self.vm_files, &name)?;
                Ok(Reply::Done)
            }
            Command::SuspendDomain { domain } => {
                let (name, known) = self.running_domain(&domain)?;
                // As libvirt: suspending a paused domain changes nothing.
                if known.run.state != DomainState::Paused {
                    vm_process::request(&self.vm_files, &name, Request::Suspend)?;
                }
                Ok(Reply::Done)
            }
            Command::ResumeDomain { domain } => {
                let (name, known) = self.running_domain(&domain)?;
                if known.run.state == DomainState::Paused {
                    vm_process::request(&self.vm_files, &name, Request::Resume)?;
                }
                Ok(Reply::Done)
            }
            Command::ShutdownDomain { domain } => self.request(&domain, Request::Shutdown),
            Command::RebootDomain { domain } => self.request(&domain, Request::Reboot),
            Command::ResetDomain { domain } => self.request(&domain, Request::Reset),
            Command::SaveDomain { domain, path } => self.save_domain(&domain, Some(&path)),
            Command::ManagedSave { domain } => self.save_domain(&domain, None),
            other => Err(ApiError::Internal(format!(
                "not a domain lifecycle command: {other:?}"
            ))),
        }
    }

    fn request(&mut self, key: &str, request: Request) -> Result<Reply, ApiError> {
        let (name, _) = self.running_domain(key)?;
        vm_process::request(&self.vm_files, &name, request)?;
        Ok(Reply::Done)
    }

    /// Starts the `autostart` domains that are not running (under the
    /// store lock the caller holds).
    pub(super) fn autostart_domains(&mut self) {
        let names: Vec<String> = self.store.domains.entries().keys().cloned().collect();
        for name in names {
            if !self.store.domains.autostart(&name) {
                continue;
            }
            if let Err(e) = self.start_domain_locked(&name, false) {
                if matches!(e, ApiError::OperationInvalid(_)) {
                    continue;
                }
                self.report(StoreProblem {
                    path: self
                        .store
                        .domains
                        .dir()
                        .join(format!("{name}.xml"))
                        .display()
                        .to_string(),
                    message: format!("cannot autostart domain '{name}': {e}"),
                });
            }
        }
    }

    /// Follows every running domain (also those started by other
    /// processes) and reports starts seen since the last poll. Returns the
    /// running domains' usage figures.
    pub(super) fn watch_domains(&mut self) -> Vec<DomainStats> {
        let mut now = std::collections::BTreeSet::new();
        let mut stats = Vec::new();
        for (name, known) in self.known_domains() {
            if !known.run.is_active() {
                continue;
            }
            if !self.active_domains.contains(&name) {
                self.lifecycle_event(&name, &known.uuid, DomainEvent::Started);
            }
            vm_process::watch(
                &self.vm_files,
                &name,
                &known.uuid,
                self.events.clone(),
                &self.watched,
            );
            let (vcpus, _) = domain::vcpus(&known.xml);
            stats.push(DomainStats {
                name: name.clone(),
                uuid: known.uuid.clone(),
                cpu_time_ns: known
                    .run
                    .status
                    .as_ref()
                    .map(|s| vm_process::cpu_time_ns(s.pid))
                    .unwrap_or(0),
                vcpus,
                memory_kib: domain::memory_kib(&known.xml),
                disk_read_bytes: 0,
                disk_write_bytes: 0,
                net_rx_bytes: 0,
                net_tx_bytes: 0,
            });
            now.insert(name);
        }
        self.active_domains = now;
        stats
    }
}
