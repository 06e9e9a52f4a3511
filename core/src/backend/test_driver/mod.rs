//! The `test` driver: a fake host held in memory, like libvirt's test
//! driver. Every command works (starting a domain only changes its state,
//! volumes only get sizes), nothing touches the disk, and every change is
//! broadcast as an event, so the GUI and `hangarctl` can be tested on it.

mod default_host;
mod devices;
mod domains;
mod load;
mod networks;
mod pools;
mod state;
mod volumes;

use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::api::{
    ApiError, Command, CommandFamily, Driver, Event, EventSink, HostInfo, HostStats, ObjectEvent,
    ObjectKind, Reply, StoreProblem,
};
use crate::backend::definition::{capabilities, host};
use crate::xml::{Element, NodeFile};
use state::{TestDomain, TestNetwork, TestPool};

/// How often usage figures are emitted.
const STATS_PERIOD: Duration = Duration::from_secs(1);

/// A domain image written by `save`, kept in memory by path.
#[derive(Debug, Clone)]
struct SavedImage {
    definition: Element,
    uuid: String,
}

/// The in-memory fake host.
pub struct TestDriver {
    host: HostInfo,
    domains: Vec<TestDomain>,
    networks: Vec<TestNetwork>,
    pools: Vec<TestPool>,
    next_id: u32,
    saved: HashMap<String, SavedImage>,
    problems: Vec<StoreProblem>,
    events: EventSink,
    started: Instant,
    ticks: u64,
}

impl TestDriver {
    /// `test:///default`: one running domain `test`, the `default` network, `default-pool`.
    pub fn open_default(events: EventSink) -> Result<Self, ApiError> {
        let node = NodeFile::parse(default_host::DEFAULT_HOST)?;
        TestDriver::from_node("test:///default", &node, events)
    }

    /// `test:///PATH`: the host described by a libvirt `<node>` file.
    pub fn open_file(path: &Path, events: EventSink) -> Result<Self, ApiError> {
        if !path.is_absolute() {
            return Err(ApiError::InvalidArg(format!(
                "the test driver needs an absolute path, got '{}'",
                path.display()
            )));
        }
        let node = NodeFile::load(path).map_err(|e| {
            ApiError::Invalid(format!(
                "cannot load test host file '{}': {e}",
                path.display()
            ))
        })?;
        TestDriver::from_node(&format!("test://{}", path.display()), &node, events)
    }

    /// A fake host from an already parsed node file.
    pub fn from_node(uri: &str, node: &NodeFile, events: EventSink) -> Result<Self, ApiError> {
        let mut next_id = 1;
        let loaded = load::from_node(uri, node, &mut next_id)?;
        let cpus = node.cpu.active;
        let host = HostInfo {
            uri: uri.to_string(),
            hostname: host::hostname(),
            hypervisor: "Test".to_string(),
            hypervisor_version: env!("CARGO_PKG_VERSION").to_string(),
            cpu_model: node.cpu.model.clone(),
            cpus,
            mhz: node.cpu.mhz,
            nodes: node.cpu.nodes,
            sockets: node.cpu.sockets,
            cores: node.cpu.cores,
            threads: node.cpu.threads,
            memory_kib: node.memory_kib,
        };
        Ok(TestDriver {
            host,
            domains: loaded.domains,
            networks: loaded.networks,
            pools: loaded.pools,
            next_id,
            saved: HashMap::new(),
            problems: loaded.problems,
            events,
            started: Instant::now(),
            ticks: 0,
        })
    }

    fn emit_object(&self, kind: ObjectKind, name: &str, pool: Option<&str>, event: ObjectEvent) {
        self.events.emit(Event::Object {
            kind,
            name: name.to_string(),
            pool: pool.map(str::to_string),
            event,
        });
    }

    fn capabilities(&self) -> String {
        capabilities::document(
            &self.host,
            "6695eb01-f6a4-8304-79aa-97f2502e193f",
            "test",
            &["i686", "x86_64"],
        )
    }

    /// Advances the running domains' CPU time and broadcasts usage figures.
    fn emit_stats(&mut self) {
        self.ticks += 1;
        let period_ns = STATS_PERIOD.as_nanos() as u64;
        let mut domains = Vec::new();
        let mut busy = 0u64;
        let mut used_kib = 0u64;
        for (i, d) in self.domains.iter_mut().enumerate() {
            if d.state == crate::api::DomainState::Running {
                // A varying, repeatable load so graphs have something to show.
                let percent = 5 + ((self.ticks + i as u64 * 7) % 10) * 4;
                let vcpus = d.info().vcpus.max(1) as u64;
                d.cpu_time_ns += period_ns * vcpus * percent / 100;
            }
            if d.id.is_some() {
                let info = d.info();
                busy += info.cpu_time_ns;
                used_kib += info.memory_kib;
                domains.push(crate::api::DomainStats {
                    name: info.name,
                    uuid: info.uuid,
                    cpu_time_ns: info.cpu_time_ns,
                    vcpus: info.vcpus,
                    memory_kib: info.memory_kib,
                    disk_read_bytes: self.ticks * 4096 * (i as u64 + 1),
                    disk_write_bytes: self.ticks * 2048 * (i as u64 + 1),
                    net_rx_bytes: self.ticks * 1500 * (i as u64 + 1),
                    net_tx_bytes: self.ticks * 600 * (i as u64 + 1),
                });
            }
        }
        let elapsed = self.started.elapsed().as_nanos() as u64;
        let host = HostStats {
            cpu_busy_ns: busy,
            cpu_total_ns: elapsed.saturating_mul(u64::from(self.host.cpus.max(1))),
            memory_used_kib: used_kib.min(self.host.memory_kib),
            memory_total_kib: self.host.memory_kib,
        };
        self.events.emit(Event::Stats { host, domains });
    }
}

impl Driver for TestDriver {
    fn call(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::HostInfo => Ok(Reply::Host(self.host.clone())),
            Command::Capabilities => Ok(Reply::Xml(self.capabilities())),
            Command::StoreProblems => Ok(Reply::Problems(self.problems.clone())),
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
        Some(STATS_PERIOD)
    }

    fn poll(&mut self) {
        self.emit_stats();
    }
}
