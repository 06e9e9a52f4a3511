//! Payloads of replies and events: states and information records shaped
//! like virsh's `dominfo`, `net-info`, `pool-info` and `vol-info`.

use serde::{Deserialize, Serialize};

/// A domain's run state, numbered as libvirt's `virDomainState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DomainState {
    /// No state known.
    NoState,
    /// Running.
    Running,
    /// Blocked on a resource (virsh says "idle").
    Blocked,
    /// Paused by the user or the hypervisor.
    Paused,
    /// Being shut down.
    Shutdown,
    /// Not running.
    Shutoff,
    /// Crashed.
    Crashed,
    /// Suspended by guest power management.
    PmSuspended,
}

impl DomainState {
    /// The state for libvirt's numeric `virDomainState` (as in `<test:runstate>`).
    pub fn from_libvirt(n: u32) -> Option<DomainState> {
        Some(match n {
            0 => DomainState::NoState,
            1 => DomainState::Running,
            2 => DomainState::Blocked,
            3 => DomainState::Paused,
            4 => DomainState::Shutdown,
            5 => DomainState::Shutoff,
            6 => DomainState::Crashed,
            7 => DomainState::PmSuspended,
            _ => return None,
        })
    }

    /// True when the domain has a running VM behind it (it has an id).
    pub fn is_active(self) -> bool {
        !matches!(
            self,
            DomainState::Shutoff | DomainState::Crashed | DomainState::NoState
        )
    }

    /// The text virsh prints for the state ("running", "shut off", ...).
    pub fn as_virsh(self) -> &'static str {
        match self {
            DomainState::NoState => "no state",
            DomainState::Running => "running",
            DomainState::Blocked => "idle",
            DomainState::Paused => "paused",
            DomainState::Shutdown => "in shutdown",
            DomainState::Shutoff => "shut off",
            DomainState::Crashed => "crashed",
            DomainState::PmSuspended => "pmsuspended",
        }
    }
}

impl std::fmt::Display for DomainState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_virsh())
    }
}

/// What `dominfo` shows; also one row of the domain list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainInfo {
    /// Running id, `None` when not running (virsh prints `-`).
    pub id: Option<u32>,
    /// Name.
    pub name: String,
    /// UUID, lower-case with dashes.
    pub uuid: String,
    /// `<os><type>` (`hvm`).
    pub os_type: String,
    /// Run state.
    pub state: DomainState,
    /// Why it is in that state, in libvirt's words ("booted", "destroyed", ...).
    pub reason: String,
    /// Current vCPU count.
    pub vcpus: u32,
    /// Maximum vCPU count.
    pub max_vcpus: u32,
    /// CPU time used, nanoseconds.
    pub cpu_time_ns: u64,
    /// `<memory>` in KiB.
    pub max_memory_kib: u64,
    /// `<currentMemory>` (or the balloon's size when running) in KiB.
    pub memory_kib: u64,
    /// True when the definition is kept (not a transient domain).
    pub persistent: bool,
    /// Starts with the driver.
    pub autostart: bool,
    /// Has a managed save image.
    pub managed_save: bool,
    /// `<title>`, if any.
    pub title: Option<String>,
}

/// A domain's state and the reason for it (`domstate --reason`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DomainStateInfo {
    /// The state.
    pub state: DomainState,
    /// libvirt's reason word.
    pub reason: String,
}

/// Usage figures of one running domain.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DomainStats {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Cumulative CPU time, nanoseconds.
    pub cpu_time_ns: u64,
    /// vCPU count (to turn CPU time into a percentage).
    pub vcpus: u32,
    /// Memory in use by the guest, KiB.
    pub memory_kib: u64,
    /// Bytes read from all disks.
    pub disk_read_bytes: u64,
    /// Bytes written to all disks.
    pub disk_write_bytes: u64,
    /// Bytes received on all interfaces.
    pub net_rx_bytes: u64,
    /// Bytes sent on all interfaces.
    pub net_tx_bytes: u64,
}

/// One line of `dommemstat`: virsh's name (`actual`, `swap_in`, `unused`,
/// `available`, `usable`, `last_update`, `rss`, ...) and its value (KiB for
/// memory, counts for faults, seconds since the epoch for `last_update`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryStat {
    /// virsh's name.
    pub tag: String,
    /// The value.
    pub value: u64,
}

/// Usage figures of the host.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HostStats {
    /// Host CPU busy time since boot, nanoseconds, all CPUs.
    pub cpu_busy_ns: u64,
    /// Host CPU total time since boot, nanoseconds, all CPUs.
    pub cpu_total_ns: u64,
    /// Memory in use, KiB.
    pub memory_used_kib: u64,
    /// Total memory, KiB.
    pub memory_total_kib: u64,
}

/// What `net-info` shows; also one row of `net-list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// Started.
    pub active: bool,
    /// Definition kept.
    pub persistent: bool,
    /// Starts with the driver.
    pub autostart: bool,
    /// Bridge device name, if the network has one.
    pub bridge: Option<String>,
}

/// One DHCP lease of a network (`net-dhcp-leases`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DhcpLease {
    /// Expiry, seconds since the epoch (0 = never).
    pub expiry_time: i64,
    /// Client MAC address.
    pub mac: String,
    /// "ipv4" or "ipv6".
    pub protocol: String,
    /// Leased address.
    pub ip: String,
    /// Prefix length.
    pub prefix: u32,
    /// Client host name, if it gave one.
    pub hostname: Option<String>,
    /// Client id, if any.
    pub client_id: Option<String>,
}

/// A pool's state, as libvirt's `virStoragePoolState`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PoolState {
    /// Not started.
    Inactive,
    /// Being built.
    Building,
    /// Started and usable.
    Running,
    /// Started but degraded.
    Degraded,
    /// Started but the storage cannot be reached.
    Inaccessible,
}

impl PoolState {
    /// The word virsh prints ("running", "inactive", ...).
    pub fn as_virsh(self) -> &'static str {
        match self {
            PoolState::Inactive => "inactive",
            PoolState::Building => "building",
            PoolState::Running => "running",
            PoolState::Degraded => "degraded",
            PoolState::Inaccessible => "inaccessible",
        }
    }
}

impl std::fmt::Display for PoolState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_virsh())
    }
}

/// What `pool-info` shows; also one row of `pool-list --details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolInfo {
    /// Name.
    pub name: String,
    /// UUID.
    pub uuid: String,
    /// `<pool type=...>` ("dir", "logical", ...).
    pub pool_type: String,
    /// State.
    pub state: PoolState,
    /// Definition kept.
    pub persistent: bool,
    /// Starts with the driver.
    pub autostart: bool,
    /// Total size in bytes (0 when inactive).
    pub capacity: u64,
    /// Bytes used.
    pub allocation: u64,
    /// Bytes free.
    pub available: u64,
    /// `<target><path>`, if the pool has one.
    pub target_path: Option<String>,
}

/// A volume's type, as libvirt's `virStorageVolType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VolumeKind {
    /// A regular file.
    File,
    /// A block device.
    Block,
    /// A directory.
    Dir,
    /// A network volume.
    Network,
    /// A network block device.
    NetDir,
    /// A ploop image.
    Ploop,
}

impl VolumeKind {
    /// The word virsh prints ("file", "block", ...).
    pub fn as_virsh(self) -> &'static str {
        match self {
            VolumeKind::File => "file",
            VolumeKind::Block => "block",
            VolumeKind::Dir => "dir",
            VolumeKind::Network => "network",
            VolumeKind::NetDir => "netdir",
            VolumeKind::Ploop => "ploop",
        }
    }

    /// Parses libvirt's `<volume type=...>` word.
    pub fn from_libvirt(s: &str) -> Option<VolumeKind> {
        Some(match s {
            "file" => VolumeKind::File,
            "block" => VolumeKind::Block,
            "dir" => VolumeKind::Dir,
            "network" => VolumeKind::Network,
            "netdir" => VolumeKind::NetDir,
            "ploop" => VolumeKind::Ploop,
            _ => return None,
        })
    }
}

impl std::fmt::Display for VolumeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_virsh())
    }
}

/// What `vol-info` shows; also one row of `vol-list --details`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    /// Name inside its pool.
    pub name: String,
    /// Pool holding it.
    pub pool: String,
    /// Full path.
    pub path: String,
    /// Unique key (the path for file volumes).
    pub key: String,
    /// Type.
    pub kind: VolumeKind,
    /// Image format ("raw", "qcow2", "iso", ...).
    pub format: String,
    /// Virtual size in bytes.
    pub capacity: u64,
    /// Bytes really used on the host.
    pub allocation: u64,
    /// Backing store path, if any.
    pub backing: Option<String>,
}

/// What `nodeinfo`, `hostname` and `uri` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostInfo {
    /// Canonical URI of the connection.
    pub uri: String,
    /// Host name.
    pub hostname: String,
    /// Hypervisor name ("Hangar", "Test").
    pub hypervisor: String,
    /// Hypervisor version, e.g. "0.1.0".
    pub hypervisor_version: String,
    /// CPU model.
    pub cpu_model: String,
    /// Logical CPU count.
    pub cpus: u32,
    /// CPU frequency in MHz.
    pub mhz: u32,
    /// NUMA nodes.
    pub nodes: u32,
    /// Sockets per node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Memory in KiB.
    pub memory_kib: u64,
}

/// A definition the store could not read; it is left untouched on disk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreProblem {
    /// The file.
    pub path: String,
    /// Why it was not loaded.
    pub message: String,
}
