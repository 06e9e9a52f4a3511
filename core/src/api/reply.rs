//! `Reply`: the typed result of a [`super::Command`].

use serde::{Deserialize, Serialize};

use super::endpoint::ConsoleEndpoint;
use super::error::ApiError;
use super::types::{
    DhcpLease, DomainInfo, DomainStateInfo, DomainStats, HostInfo, MemoryStat, NetworkInfo,
    PoolInfo, StoreProblem, VolumeInfo,
};

/// What a command returns when it succeeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reply", content = "value", rename_all = "kebab-case")]
pub enum Reply {
    /// The command was carried out and has nothing to return.
    Done,
    /// An XML document.
    Xml(String),
    /// A single line of text (a path).
    Text(String),
    /// The host.
    Host(HostInfo),
    /// Definitions the store could not read.
    Problems(Vec<StoreProblem>),
    /// All domains.
    Domains(Vec<DomainInfo>),
    /// One domain.
    Domain(DomainInfo),
    /// A domain's state.
    DomainState(DomainStateInfo),
    /// A domain's usage figures.
    DomainStats(DomainStats),
    /// `dommemstat` lines, in virsh's order.
    MemoryStats(Vec<MemoryStat>),
    /// All networks.
    Networks(Vec<NetworkInfo>),
    /// One network.
    Network(NetworkInfo),
    /// DHCP leases.
    Leases(Vec<DhcpLease>),
    /// All pools.
    Pools(Vec<PoolInfo>),
    /// One pool.
    Pool(PoolInfo),
    /// Volumes of a pool.
    Volumes(Vec<VolumeInfo>),
    /// One volume.
    Volume(VolumeInfo),
    /// Where a domain's serial console is reached.
    Console(ConsoleEndpoint),
}

impl Reply {
    /// The variant's name, for "unexpected reply" errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Reply::Done => "done",
            Reply::Xml(_) => "xml",
            Reply::Text(_) => "text",
            Reply::Host(_) => "host",
            Reply::Problems(_) => "problems",
            Reply::Domains(_) => "domains",
            Reply::Domain(_) => "domain",
            Reply::DomainState(_) => "domain-state",
            Reply::DomainStats(_) => "domain-stats",
            Reply::MemoryStats(_) => "memory-stats",
            Reply::Networks(_) => "networks",
            Reply::Network(_) => "network",
            Reply::Leases(_) => "leases",
            Reply::Pools(_) => "pools",
            Reply::Pool(_) => "pool",
            Reply::Volumes(_) => "volumes",
            Reply::Volume(_) => "volume",
            Reply::Console(_) => "console",
        }
    }

    pub(crate) fn unexpected(self, wanted: &str) -> ApiError {
        ApiError::Internal(format!(
            "the driver answered '{}' where '{wanted}' was expected",
            self.kind()
        ))
    }
}
