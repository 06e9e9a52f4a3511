//! The test driver's in-memory objects.

use crate::api::{
    DomainInfo, DomainState, NetworkInfo, PoolInfo, PoolState, VolumeInfo, VolumeKind,
};
use crate::backend::definition::{domain, network, pool};
use crate::xml::Element;

/// A domain: its definition, and the running copy while it runs.
#[derive(Debug, Clone)]
pub(super) struct TestDomain {
    pub name: String,
    pub uuid: String,
    pub config: Element,
    pub live: Option<Element>,
    pub persistent: bool,
    pub state: DomainState,
    pub reason: &'static str,
    pub id: Option<u32>,
    pub autostart: bool,
    pub managed_save: bool,
    pub cpu_time_ns: u64,
}

impl TestDomain {
    /// The definition in force: the running copy if there is one.
    pub fn current(&self) -> &Element {
        self.live.as_ref().unwrap_or(&self.config)
    }

    pub fn info(&self) -> DomainInfo {
        let def = self.current();
        let (vcpus, max_vcpus) = domain::vcpus(def);
        DomainInfo {
            id: self.id,
            name: self.name.clone(),
            uuid: self.uuid.clone(),
            os_type: domain::os_type(def),
            state: self.state,
            reason: self.reason.to_string(),
            vcpus,
            max_vcpus,
            cpu_time_ns: self.cpu_time_ns,
            max_memory_kib: domain::max_memory_kib(def),
            memory_kib: domain::memory_kib(def),
            persistent: self.persistent,
            autostart: self.autostart,
            managed_save: self.managed_save,
            title: domain::title(def),
        }
    }
}

/// A network: its definition, and the running copy while active.
#[derive(Debug, Clone)]
pub(super) struct TestNetwork {
    pub name: String,
    pub uuid: String,
    pub config: Element,
    pub live: Option<Element>,
    pub persistent: bool,
    pub autostart: bool,
}

impl TestNetwork {
    pub fn current(&self) -> &Element {
        self.live.as_ref().unwrap_or(&self.config)
    }

    pub fn info(&self) -> NetworkInfo {
        NetworkInfo {
            name: self.name.clone(),
            uuid: self.uuid.clone(),
            active: self.live.is_some(),
            persistent: self.persistent,
            autostart: self.autostart,
            bridge: network::bridge(self.current()),
        }
    }
}

/// A volume of a test pool.
#[derive(Debug, Clone)]
pub(super) struct TestVolume {
    pub name: String,
    pub path: String,
    pub key: String,
    pub kind: VolumeKind,
    pub format: String,
    pub capacity: u64,
    pub allocation: u64,
    pub backing: Option<String>,
    pub backing_format: Option<String>,
}

impl TestVolume {
    pub fn info(&self, pool: &str) -> VolumeInfo {
        VolumeInfo {
            name: self.name.clone(),
            pool: pool.to_string(),
            path: self.path.clone(),
            key: self.key.clone(),
            kind: self.kind,
            format: self.format.clone(),
            capacity: self.capacity,
            allocation: self.allocation,
            backing: self.backing.clone(),
        }
    }
}

/// A pool and its volumes.
#[derive(Debug, Clone)]
pub(super) struct TestPool {
    pub name: String,
    pub uuid: String,
    pub config: Element,
    pub active: bool,
    pub persistent: bool,
    pub autostart: bool,
    pub capacity: u64,
    pub base_allocation: u64,
    pub volumes: Vec<TestVolume>,
}

impl TestPool {
    pub fn allocation(&self) -> u64 {
        self.volumes.iter().fold(self.base_allocation, |sum, v| {
            sum.saturating_add(v.allocation)
        })
    }

    pub fn available(&self) -> u64 {
        self.capacity.saturating_sub(self.allocation())
    }

    /// Folder volumes live in (`<target><path>`, or `/NAME`).
    pub fn target(&self) -> String {
        pool::target_path(&self.config).unwrap_or_else(|| format!("/{}", self.name))
    }

    pub fn info(&self) -> PoolInfo {
        let (capacity, allocation, available) = if self.active {
            (self.capacity, self.allocation(), self.available())
        } else {
            (0, 0, 0)
        };
        PoolInfo {
            name: self.name.clone(),
            uuid: self.uuid.clone(),
            pool_type: pool::pool_type(&self.config),
            state: if self.active {
                PoolState::Running
            } else {
                PoolState::Inactive
            },
            persistent: self.persistent,
            autostart: self.autostart,
            capacity,
            allocation,
            available,
            target_path: pool::target_path(&self.config),
        }
    }
}
