//! `Command`: one variant per operation a driver performs.
//!
//! Domains are named by name, UUID or running id (as virsh accepts);
//! networks and pools by name or UUID; volumes by [`VolumeRef`].

use serde::{Deserialize, Serialize};

/// Where a change applies, as virsh's `--live` / `--config` (neither = current).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Change the running domain.
    pub live: bool,
    /// Change the persistent definition.
    pub config: bool,
}

impl Scope {
    /// Only the persistent definition (`--config`).
    pub const CONFIG: Scope = Scope {
        live: false,
        config: true,
    };
    /// The running domain if it runs, else the definition (no flag).
    pub const CURRENT: Scope = Scope {
        live: false,
        config: false,
    };
}

/// A volume named by `volume` inside `pool`, or by path or key when `pool` is `None`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeRef {
    /// The pool, if the caller gave one.
    pub pool: Option<String>,
    /// Name (with a pool), path or key.
    pub volume: String,
}

impl VolumeRef {
    /// A volume by name in a pool.
    pub fn in_pool(pool: impl Into<String>, name: impl Into<String>) -> Self {
        VolumeRef {
            pool: Some(pool.into()),
            volume: name.into(),
        }
    }

    /// A volume by path or key.
    pub fn by_path(path: impl Into<String>) -> Self {
        VolumeRef {
            pool: None,
            volume: path.into(),
        }
    }
}

/// Arguments of `pool-define-as` / `pool-create-as`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoolAs {
    /// Pool name.
    pub name: String,
    /// Pool type ("dir", ...).
    pub pool_type: String,
    /// `--source-host`.
    pub source_host: Option<String>,
    /// `--source-path`.
    pub source_path: Option<String>,
    /// `--source-dev`.
    pub source_dev: Option<String>,
    /// `--source-name`.
    pub source_name: Option<String>,
    /// `--source-format`.
    pub source_format: Option<String>,
    /// `--target`.
    pub target: Option<String>,
}

/// Arguments of `vol-create-as`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeAs {
    /// Volume name.
    pub name: String,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Allocation in bytes (`None` = sparse, as virsh).
    pub allocation: Option<u64>,
    /// Format ("raw", "qcow2"); `None` = raw.
    pub format: Option<String>,
    /// Backing volume (name in the same pool, path or key).
    pub backing_vol: Option<String>,
    /// Backing volume format.
    pub backing_format: Option<String>,
    /// Preallocate metadata only (qcow2).
    pub prealloc_metadata: bool,
}

/// How `net-update` changes a section.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum NetworkUpdateOp {
    /// Replace the matching element.
    Modify,
    /// Remove the matching element.
    Delete,
    /// Add as the last element.
    AddLast,
    /// Add as the first element.
    AddFirst,
}

/// Every operation a driver performs, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    // ----- host -----
    /// `nodeinfo`, `hostname`, `uri` → [`super::Reply::Host`].
    HostInfo,
    /// `capabilities` → [`super::Reply::Xml`].
    Capabilities,
    /// Definitions the store could not load → [`super::Reply::Problems`].
    StoreProblems,

    // ----- domains -----
    /// `list --all` → [`super::Reply::Domains`].
    ListDomains,
    /// Look a domain up by name, UUID or id → [`super::Reply::Domain`].
    LookupDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `define` (replaces a definition with the same name and UUID) → [`super::Reply::Domain`].
    DefineDomain {
        /// `<domain>` XML.
        xml: String,
    },
    /// `create`: start a transient domain → [`super::Reply::Domain`].
    CreateDomain {
        /// `<domain>` XML.
        xml: String,
    },
    /// `undefine` → [`super::Reply::Done`].
    UndefineDomain {
        /// Name, UUID or id.
        domain: String,
        /// Also remove a managed save image (`--managed-save`).
        managed_save: bool,
    },
    /// `dumpxml` → [`super::Reply::Xml`].
    DomainXml {
        /// Name, UUID or id.
        domain: String,
        /// The persistent definition even when running (`--inactive`).
        inactive: bool,
    },
    /// `dominfo` → [`super::Reply::Domain`].
    DomainInfo {
        /// Name, UUID or id.
        domain: String,
    },
    /// `domstate --reason` → [`super::Reply::DomainState`].
    DomainState {
        /// Name, UUID or id.
        domain: String,
    },
    /// Usage figures of a running domain → [`super::Reply::DomainStats`].
    DomainStats {
        /// Name, UUID or id.
        domain: String,
    },
    /// `autostart [--disable]` → [`super::Reply::Done`].
    SetDomainAutostart {
        /// Name, UUID or id.
        domain: String,
        /// On or off.
        enabled: bool,
    },
    /// `setmem` → [`super::Reply::Done`].
    SetDomainMemory {
        /// Name, UUID or id.
        domain: String,
        /// New size in KiB.
        kib: u64,
        /// Where it applies.
        scope: Scope,
    },
    /// `setmaxmem` → [`super::Reply::Done`].
    SetDomainMaxMemory {
        /// Name, UUID or id.
        domain: String,
        /// New size in KiB.
        kib: u64,
        /// Where it applies.
        scope: Scope,
    },
    /// `setvcpus [--maximum]` → [`super::Reply::Done`].
    SetDomainVcpus {
        /// Name, UUID or id.
        domain: String,
        /// New count.
        count: u32,
        /// Change the maximum (`<vcpu>`) rather than the current count.
        maximum: bool,
        /// Where it applies.
        scope: Scope,
    },
    /// `start [--paused]` → [`super::Reply::Done`].
    StartDomain {
        /// Name or UUID.
        domain: String,
        /// Leave it paused.
        paused: bool,
    },
    /// `shutdown` (ask the guest) → [`super::Reply::Done`].
    ShutdownDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `reboot` (ask the guest) → [`super::Reply::Done`].
    RebootDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `reset` (hard reset) → [`super::Reply::Done`].
    ResetDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `destroy` (power off at once) → [`super::Reply::Done`].
    DestroyDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `suspend` → [`super::Reply::Done`].
    SuspendDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `resume` → [`super::Reply::Done`].
    ResumeDomain {
        /// Name, UUID or id.
        domain: String,
    },
    /// `save DOMAIN FILE` → [`super::Reply::Done`].
    SaveDomain {
        /// Name, UUID or id.
        domain: String,
        /// State file to write.
        path: String,
    },
    /// `restore FILE` → [`super::Reply::Domain`].
    RestoreDomain {
        /// State file to read.
        path: String,
    },
    /// `managedsave` → [`super::Reply::Done`].
    ManagedSave {
        /// Name, UUID or id.
        domain: String,
    },
    /// `managedsave-remove` → [`super::Reply::Done`].
    ManagedSaveRemove {
        /// Name, UUID or id.
        domain: String,
    },
    /// `dommemstat`: the balloon's size and the guest's memory statistics
    /// → [`super::Reply::MemoryStats`].
    DomainMemoryStats {
        /// Name, UUID or id.
        domain: String,
    },
    /// `attach-device`, `attach-disk`, `attach-interface`: adds a `<disk>`
    /// or `<interface>` → [`super::Reply::Done`].
    AttachDevice {
        /// Name, UUID or id.
        domain: String,
        /// The device element.
        xml: String,
        /// Where it applies (only the definition: hot-plug is not supported yet).
        scope: Scope,
    },
    /// `detach-device`, `detach-disk`, `detach-interface`: removes the disk
    /// with the same target, or the interface with the same MAC address →
    /// [`super::Reply::Done`].
    DetachDevice {
        /// Name, UUID or id.
        domain: String,
        /// The device element.
        xml: String,
        /// Where it applies (only the definition: hot-plug is not supported yet).
        scope: Scope,
    },
    /// `console`: the path of the running domain's VMM control socket, on
    /// which the caller sends the VMM's `console` request itself →
    /// [`super::Reply::Text`].
    DomainConsoleSocket {
        /// Name, UUID or id.
        domain: String,
    },
    /// `domdisplay`: the running domain's VNC server as a URI
    /// ([`super::DisplayEndpoint::to_uri`]) → [`super::Reply::Text`].
    DomainDisplay {
        /// Name, UUID or id.
        domain: String,
    },
    /// The running domain's serial console, for any driver →
    /// [`super::Reply::Console`].
    DomainConsole {
        /// Name, UUID or id.
        domain: String,
    },

    // ----- networks -----
    /// `net-list --all` → [`super::Reply::Networks`].
    ListNetworks,
    /// Look a network up by name or UUID → [`super::Reply::Network`].
    LookupNetwork {
        /// Name or UUID.
        network: String,
    },
    /// `net-define` (replaces a definition with the same name and UUID) → [`super::Reply::Network`].
    DefineNetwork {
        /// `<network>` XML.
        xml: String,
    },
    /// `net-create`: start a transient network → [`super::Reply::Network`].
    CreateNetwork {
        /// `<network>` XML.
        xml: String,
    },
    /// `net-undefine` → [`super::Reply::Done`].
    UndefineNetwork {
        /// Name or UUID.
        network: String,
    },
    /// `net-dumpxml [--inactive]` → [`super::Reply::Xml`].
    NetworkXml {
        /// Name or UUID.
        network: String,
        /// The persistent definition even when running.
        inactive: bool,
    },
    /// `net-info` → [`super::Reply::Network`].
    NetworkInfo {
        /// Name or UUID.
        network: String,
    },
    /// `net-start` → [`super::Reply::Done`].
    StartNetwork {
        /// Name or UUID.
        network: String,
    },
    /// `net-destroy` → [`super::Reply::Done`].
    DestroyNetwork {
        /// Name or UUID.
        network: String,
    },
    /// `net-autostart [--disable]` → [`super::Reply::Done`].
    SetNetworkAutostart {
        /// Name or UUID.
        network: String,
        /// On or off.
        enabled: bool,
    },
    /// `net-update NETWORK OP SECTION XML` → [`super::Reply::Done`].
    UpdateNetwork {
        /// Name or UUID.
        network: String,
        /// What to do.
        op: NetworkUpdateOp,
        /// Section name as virsh's ("ip-dhcp-host", "ip-dhcp-range", "dns-host", ...).
        section: String,
        /// The element to add, change or remove.
        xml: String,
        /// Index of the `<ip>` element the section lives in (`--parent-index`).
        parent_index: Option<usize>,
        /// Where it applies.
        scope: Scope,
    },
    /// `net-dhcp-leases [--mac]` → [`super::Reply::Leases`].
    NetworkDhcpLeases {
        /// Name or UUID.
        network: String,
        /// Only leases of this MAC address.
        mac: Option<String>,
    },

    // ----- storage pools -----
    /// `pool-list --all --details` → [`super::Reply::Pools`].
    ListPools,
    /// Look a pool up by name or UUID → [`super::Reply::Pool`].
    LookupPool {
        /// Name or UUID.
        pool: String,
    },
    /// `pool-define` → [`super::Reply::Pool`].
    DefinePool {
        /// `<pool>` XML.
        xml: String,
    },
    /// `pool-define-as` → [`super::Reply::Pool`].
    DefinePoolAs(PoolAs),
    /// `pool-build [--overwrite|--no-overwrite]` → [`super::Reply::Done`].
    BuildPool {
        /// Name or UUID.
        pool: String,
        /// Overwrite existing data.
        overwrite: bool,
        /// Refuse to touch existing data.
        no_overwrite: bool,
    },
    /// `pool-start [--build]` → [`super::Reply::Done`].
    StartPool {
        /// Name or UUID.
        pool: String,
        /// Build it first.
        build: bool,
    },
    /// `pool-destroy` → [`super::Reply::Done`].
    DestroyPool {
        /// Name or UUID.
        pool: String,
    },
    /// `pool-autostart [--disable]` → [`super::Reply::Done`].
    SetPoolAutostart {
        /// Name or UUID.
        pool: String,
        /// On or off.
        enabled: bool,
    },
    /// `pool-refresh` → [`super::Reply::Done`].
    RefreshPool {
        /// Name or UUID.
        pool: String,
    },
    /// `pool-info` → [`super::Reply::Pool`].
    PoolInfo {
        /// Name or UUID.
        pool: String,
    },
    /// `pool-dumpxml [--inactive]` → [`super::Reply::Xml`].
    PoolXml {
        /// Name or UUID.
        pool: String,
        /// The persistent definition only.
        inactive: bool,
    },
    /// `pool-undefine` → [`super::Reply::Done`].
    UndefinePool {
        /// Name or UUID.
        pool: String,
    },
    /// `pool-delete` (removes the pool's storage) → [`super::Reply::Done`].
    DeletePool {
        /// Name or UUID.
        pool: String,
    },

    // ----- storage volumes -----
    /// `vol-list --details POOL` → [`super::Reply::Volumes`].
    ListVolumes {
        /// Name or UUID.
        pool: String,
    },
    /// Look a volume up → [`super::Reply::Volume`].
    LookupVolume {
        /// The volume.
        volume: VolumeRef,
    },
    /// `vol-create-as` → [`super::Reply::Volume`].
    CreateVolumeAs {
        /// Name or UUID of the pool.
        pool: String,
        /// What to create.
        args: VolumeAs,
    },
    /// `vol-create POOL FILE` → [`super::Reply::Volume`].
    CreateVolumeXml {
        /// Name or UUID of the pool.
        pool: String,
        /// `<volume>` XML.
        xml: String,
    },
    /// `vol-create-from POOL FILE VOL` → [`super::Reply::Volume`].
    CreateVolumeXmlFrom {
        /// Name or UUID of the pool.
        pool: String,
        /// `<volume>` XML of the new volume.
        xml: String,
        /// Volume whose data is copied.
        source: VolumeRef,
    },
    /// `vol-clone VOL NEWNAME` (in the source's pool) → [`super::Reply::Volume`].
    CloneVolume {
        /// Source volume.
        volume: VolumeRef,
        /// Name of the copy.
        new_name: String,
    },
    /// `vol-resize [--delta] [--shrink] [--allocate]` → [`super::Reply::Done`].
    ResizeVolume {
        /// The volume.
        volume: VolumeRef,
        /// New capacity in bytes, or the change with `delta`.
        capacity: u64,
        /// `capacity` is added (or with `shrink`, subtracted).
        delta: bool,
        /// Allow the volume to get smaller.
        shrink: bool,
        /// Allocate the new space.
        allocate: bool,
    },
    /// `vol-delete` → [`super::Reply::Done`].
    DeleteVolume {
        /// The volume.
        volume: VolumeRef,
    },
    /// `vol-wipe [--algorithm zero]` → [`super::Reply::Done`].
    WipeVolume {
        /// The volume.
        volume: VolumeRef,
        /// Algorithm; only "zero" (the default) is supported.
        algorithm: Option<String>,
    },
    /// `vol-info` → [`super::Reply::Volume`].
    VolumeInfo {
        /// The volume.
        volume: VolumeRef,
    },
    /// `vol-dumpxml` → [`super::Reply::Xml`].
    VolumeXml {
        /// The volume.
        volume: VolumeRef,
    },
    /// `vol-path` → [`super::Reply::Text`].
    VolumePath {
        /// The volume.
        volume: VolumeRef,
    },
}

/// Which kind of object a [`Command`] acts on: drivers route commands by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandFamily {
    /// The host and the connection itself.
    Host,
    /// Domains (VMs).
    Domain,
    /// Virtual networks.
    Network,
    /// Storage pools.
    Pool,
    /// Storage volumes.
    Volume,
}

impl Command {
    /// The kind of object this command acts on. The match is exhaustive, so a
    /// new command is classified here once instead of in every driver.
    pub fn family(&self) -> CommandFamily {
        match self {
            Command::HostInfo | Command::Capabilities | Command::StoreProblems => {
                CommandFamily::Host
            }
            Command::ListDomains
            | Command::LookupDomain { .. }
            | Command::DefineDomain { .. }
            | Command::CreateDomain { .. }
            | Command::UndefineDomain { .. }
            | Command::DomainXml { .. }
            | Command::DomainInfo { .. }
            | Command::DomainState { .. }
            | Command::DomainStats { .. }
            | Command::SetDomainAutostart { .. }
            | Command::SetDomainMemory { .. }
            | Command::SetDomainMaxMemory { .. }
            | Command::SetDomainVcpus { .. }
            | Command::StartDomain { .. }
            | Command::ShutdownDomain { .. }
            | Command::RebootDomain { .. }
            | Command::ResetDomain { .. }
            | Command::DestroyDomain { .. }
            | Command::SuspendDomain { .. }
            | Command::ResumeDomain { .. }
            | Command::SaveDomain { .. }
            | Command::RestoreDomain { .. }
            | Command::ManagedSave { .. }
            | Command::ManagedSaveRemove { .. }
            | Command::DomainConsoleSocket { .. }
            | Command::DomainDisplay { .. }
            | Command::DomainConsole { .. }
            | Command::AttachDevice { .. }
            | Command::DetachDevice { .. }
            | Command::DomainMemoryStats { .. } => CommandFamily::Domain,
            Command::ListNetworks
            | Command::LookupNetwork { .. }
            | Command::DefineNetwork { .. }
            | Command::CreateNetwork { .. }
            | Command::UndefineNetwork { .. }
            | Command::NetworkXml { .. }
            | Command::NetworkInfo { .. }
            | Command::StartNetwork { .. }
            | Command::DestroyNetwork { .. }
            | Command::SetNetworkAutostart { .. }
            | Command::UpdateNetwork { .. }
            | Command::NetworkDhcpLeases { .. } => CommandFamily::Network,
            Command::ListPools
            | Command::LookupPool { .. }
            | Command::DefinePool { .. }
            | Command::DefinePoolAs(_)
            | Command::BuildPool { .. }
            | Command::StartPool { .. }
            | Command::DestroyPool { .. }
            | Command::SetPoolAutostart { .. }
            | Command::RefreshPool { .. }
            | Command::PoolInfo { .. }
            | Command::PoolXml { .. }
            | Command::UndefinePool { .. }
            | Command::DeletePool { .. } => CommandFamily::Pool,
            Command::ListVolumes { .. }
            | Command::LookupVolume { .. }
            | Command::CreateVolumeAs { .. }
            | Command::CreateVolumeXml { .. }
            | Command::CreateVolumeXmlFrom { .. }
            | Command::CloneVolume { .. }
            | Command::ResizeVolume { .. }
            | Command::DeleteVolume { .. }
            | Command::WipeVolume { .. }
            | Command::VolumeInfo { .. }
            | Command::VolumeXml { .. }
            | Command::VolumePath { .. } => CommandFamily::Volume,
        }
    }

    /// True for commands that change nothing, which a caller may retry freely.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Command::HostInfo
                | Command::Capabilities
                | Command::StoreProblems
                | Command::ListDomains
                | Command::LookupDomain { .. }
                | Command::DomainXml { .. }
                | Command::DomainInfo { .. }
                | Command::DomainState { .. }
                | Command::DomainStats { .. }
                | Command::DomainConsoleSocket { .. }
                | Command::DomainDisplay { .. }
                | Command::DomainConsole { .. }
                | Command::DomainMemoryStats { .. }
                | Command::ListNetworks
                | Command::LookupNetwork { .. }
                | Command::NetworkXml { .. }
                | Command::NetworkInfo { .. }
                | Command::NetworkDhcpLeases { .. }
                | Command::ListPools
                | Command::LookupPool { .. }
                | Command::PoolInfo { .. }
                | Command::PoolXml { .. }
                | Command::ListVolumes { .. }
                | Command::LookupVolume { .. }
                | Command::VolumeInfo { .. }
                | Command::VolumeXml { .. }
                | Command::VolumePath { .. }
        )
    }
}
