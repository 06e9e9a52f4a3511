//! The `hangar` driver: definitions in the on-disk [`Store`], dir pools and
//! volumes through the storage engine.
//!
//! Every command first re-syncs the store, so it sees what other processes
//! (the GUI, other `hangarctl`s) changed; every change goes through the
//! store's lock and is re-checked under it. Changes made elsewhere become
//! events on the next poll. Networks run through
//! [`crate::network::runtime`] (root only); domains run as detached
//! `hangar-vmm` processes ([`vm_process`]).

mod devices;
mod domain_run;
mod domains;
mod live_display;
mod memory;
mod network_run;
mod networks;
mod pools;
mod saved_state;
mod vm_nics;
mod vm_process;
mod volumes;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::api::{
    ApiError, Command, CommandFamily, Driver, Event, EventSink, HostInfo, ObjectEvent, ObjectKind,
    Reply, StoreProblem,
};
use crate::backend::definition::{capabilities, host};
use crate::backend::store::{Change, Store, StorePaths};
use crate::backend::DriverUri;
use crate::network::runtime::{NetworkRuntime, SessionNamespace};

/// How often the store is checked for changes made by other processes.
const WATCH_PERIOD: Duration = Duration::from_millis(500);
/// Host usage figures are broadcast every this many watch periods (2 s).
const STATS_EVERY: u32 = 4;

/// The hangar driver of one connection.
pub struct HangarDriver {
    store: Store,
    events: EventSink,
    host: HostInfo,
    reported: BTreeSet<String>,
    polls: u32,
    /// Modification times of started pools' folders, to notice volumes
    /// added or removed by other processes or by hand.
    pool_folders: BTreeMap<String, i128>,
    /// Running networks' bridges, firewall and dnsmasq (`<runtime>/network`).
    net_runtime: NetworkRuntime,
    /// Networks seen running at the last poll, to report starts and stops
    /// made by other processes.
    running_networks: BTreeSet<String>,
    /// Running domains' VMM files (`<runtime>/domains`).
    vm_files: vm_process::VmFiles,
    /// Domains whose VMM events a watcher thread follows.
    watched: vm_process::Watched,
    /// Domains seen running at the last poll, to report starts made by
    /// other processes.
    active_domains: BTreeSet<String>,
}

impl HangarDriver {
    /// Opens `hangar:///session` or `hangar:///system`.
    pub fn open(uri: &DriverUri, events: EventSink) -> Result<Self, ApiError> {
        let paths = match uri {
            DriverUri::HangarSession => StorePaths::session()?,
            DriverUri::HangarSystem => {
                // SAFETY: geteuid has no preconditions and cannot fail.
                check_system_access(unsafe { libc::geteuid() })?;
                StorePaths::system()
            }
            other => {
                return Err(ApiError::NoDriver {
                    uri: other.canonical(),
                })
            }
        };
        HangarDriver::open_at(&uri.canonical(), paths, events)
    }

    /// Opens a store at explicit folders (tests, custom setups).
    pub fn open_at(uri: &str, paths: StorePaths, events: EventSink) -> Result<Self, ApiError> {
        let first_use = !paths.data.join("pools").exists();
        let store = Store::open(paths).map_err(name_permission_problem)?;
        let (cpu_model, mhz) = host::cpu_model();
        let cpus = host::cpu_count();
        let host = HostInfo {
            uri: uri.to_string(),
            hostname: host::hostname(),
            hypervisor: "Hangar".to_string(),
            hypervisor_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_model,
            cpus,
            mhz,
            nodes: 1,
            sockets: 1,
            cores: cpus,
            threads: 1,
            memory_kib: host::memory_kib().0,
        };
        let system = uri == DriverUri::HangarSystem.canonical();
        let net_dir = store.paths.runtime.join("network");
        let net_runtime = if system {
            NetworkRuntime::new(net_dir)
        } else {
            // Rootless: networks live in the user's own namespace.
            NetworkRuntime::session(
                net_dir,
                SessionNamespace::new(store.paths.runtime.join("netns")),
            )
        };
        let vm_files = vm_process::VmFiles::new(&store.paths.runtime);
        let mut driver = HangarDriver {
            store,
            events,
            host,
            reported: BTreeSet::new(),
            polls: 0,
            pool_folders: BTreeMap::new(),
            net_runtime,
            running_networks: BTreeSet::new(),
            vm_files,
            watched: Default::default(),
            active_domains: BTreeSet::new(),
        };
        {
            let _lock = driver.store.lock()?;
            driver.store.remove_stale_temps()?;
            driver.refresh()?;
            if first_use {
                driver.create_default_pool()?;
            }
            driver.adopt_networks();
            driver.unplug_stopped();
            driver.autostart_once()?;
            // Domains already running are known; only later starts are news.
            driver.active_domains = driver
                .known_domains()
                .into_iter()
                .filter(|(_, k)| k.run.is_active())
                .map(|(n, _)| n)
                .collect();
        }
        driver.watch_pool_folders();
        Ok(driver)
    }

    /// Re-reads the store and broadcasts what other processes changed.
    fn refresh(&mut self) -> Result<(), ApiError> {
        let domains = self.store.domains.sync()?;
        let networks = self.store.networks.sync()?;
        let pools = self.store.pools.sync()?;
        for (kind, changes) in [
            (ObjectKind::Domain, domains),
            (ObjectKind::Network, networks),
            (ObjectKind::Pool, pools),
        ] {
            for change in changes {
                self.announce(kind, change);
            }
        }
        Ok(())
    }

    fn announce(&mut self, kind: ObjectKind, change: Change) {
        let (name, event) = match change {
            Change::Defined(n) => (n, ObjectEvent::Defined),
            Change::Changed(n) => (n, ObjectEvent::Changed),
            Change::Undefined(n) => (n, ObjectEvent::Undefined),
            Change::Problem(problem) => {
                self.report(problem);
                return;
            }
        };
        self.emit(kind, &name, None, event);
    }

    /// Logs a definition that cannot be loaded (once per process) and broadcasts it.
    fn report(&mut self, problem: StoreProblem) {
        let line = format!("{}: {}", problem.path, problem.message);
        if self.reported.insert(line.clone()) {
            eprintln!("warning: ignoring a definition that cannot be loaded: {line}");
        }
        self.events.emit(Event::StoreProblem(problem));
    }

    fn emit(&self, kind: ObjectKind, name: &str, pool: Option<&str>, event: ObjectEvent) {
        self.events.emit(Event::Object {
            kind,
            name: name.to_string(),
            pool: pool.map(str::to_string),
            event,
        });
    }

    /// Runs a change under the store lock, after re-reading the store.
    fn locked<T>(
        &mut self,
        change: impl FnOnce(&mut Self) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let lock = self.store.lock()?;
        self.refresh()?;
        let result = change(self);
        drop(lock);
        result
    }

    fn problems(&self) -> Vec<StoreProblem> {
        let mut all = self.store.domains.problems();
        all.extend(self.store.networks.problems());
        all.extend(self.store.pools.problems());
        all
    }
}

impl HangarDriver {
    /// Emits `Refreshed` for a started pool whose folder changed since the last poll.
    fn watch_pool_folders(&mut self) {
        let mut now = BTreeMap::new();
        let names: Vec<String> = self.store.pools.entries().keys().cloned().collect();
        for name in names {
            if !self.pool_active(&name) {
                continue;
            }
            let Ok(target) = self.pool_target(&name) else {
                continue;
            };
            if let Ok(meta) = std::fs::metadata(&target) {
                let mtime =
                    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
                now.insert(name, mtime);
            }
        }
        for (name, mtime) in &now {
            if self.pool_folders.get(name).is_some_and(|old| old != mtime) {
                self.emit(ObjectKind::Pool, name, None, ObjectEvent::Refreshed);
            }
        }
        self.pool_folders = now;
    }
}

/// `hangar:///system` needs root: say which folders and why.
fn check_system_access(euid: u32) -> Result<(), ApiError> {
    if euid == 0 {
        return Ok(());
    }
    let paths = StorePaths::system();
    Err(ApiError::AccessDenied(format!(
        "hangar:///system keeps its VMs in {} and {}, which only root may change; \
         run as root or use hangar:///session",
        paths.data.display(),
        paths.runtime.display()
    )))
}

/// Turns "Permission denied" on the store's folders into an access error naming them.
fn name_permission_problem(err: ApiError) -> ApiError {
    match err {
        ApiError::Io { op, path, message } if message.contains("Permission denied") => {
            ApiError::AccessDenied(format!("{op} '{path}': {message}"))
        }
        other => other,
    }
}

impl Driver for HangarDriver {
    fn call(&mut self, command: Command) -> Result<Reply, ApiError> {
        self.refresh()?;
        match command {
            Command::HostInfo => Ok(Reply::Host(self.host.clone())),
            Command::Capabilities => Ok(Reply::Xml(capabilities::document(
                &self.host,
                &host_uuid(),
                "kvm",
                &[std::env::consts::ARCH],
            ))),
            Command::StoreProblems => Ok(Reply::Problems(self.problems())),
            c => match c.family() {
                CommandFamily::Domain => self.domain_command(c),
                CommandFamily::Network => self.network_command(c),
                CommandFamily::Pool => self.pool_command(c),
                CommandFamily::Volume => self.volume_command(c),
                // The host commands are all matched above.
                CommandFamily::Host => Err(ApiError::Internal(format!(
                    "host command {c:?} reached the object dispatcher"
                ))),
            },
        }
    }

    fn poll_interval(&self) -> Option<Duration> {
        Some(WATCH_PERIOD)
    }

    fn poll(&mut self) {
        if let Err(e) = self.refresh() {
            self.report(StoreProblem {
                path: self.store.paths.data.display().to_string(),
                message: e.to_string(),
            });
        }
        self.watch_pool_folders();
        self.watch_networks();
        self.unplug_stopped();
        let domains = self.watch_domains();
        self.polls = self.polls.wrapping_add(1);
        if self.polls % STATS_EVERY == 0 {
            self.events.emit(Event::Stats {
                host: host::stats(),
                domains,
            });
        }
    }
}

/// The machine's id as a UUID (systemd's `/etc/machine-id`), for capabilities.
fn host_uuid() -> String {
    std::fs::read_to_string("/etc/machine-id")
        .ok()
        .and_then(|id| uuid::Uuid::parse_str(id.trim()).ok())
        .unwrap_or_default()
        .hyphenated()
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_uri_needs_root() {
        assert!(check_system_access(0).is_ok());
        let err = check_system_access(1000).expect_err("not root");
        let text = err.to_string();
        assert!(text.starts_with("access denied: "), "{text}");
        assert!(text.contains("/var/lib/hangar"), "{text}");
    }
}
