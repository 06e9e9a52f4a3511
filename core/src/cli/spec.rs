//! The command table: every command's name, help text and options, in virsh's
//! order (positional arguments fill the value options in the order listed).

/// What kind of value an option takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OptKind {
    /// A flag: `--all`.
    Bool,
    /// A value that must be given, by position or as `--name VALUE`.
    Required,
    /// A value that may be given, by position or as `--name VALUE`.
    Optional,
}

/// One option of a command.
#[derive(Debug, Clone, Copy)]
pub struct OptSpec {
    /// Name without the leading `--`.
    pub name: &'static str,
    /// Flag or value.
    pub kind: OptKind,
    /// One-line help.
    pub help: &'static str,
}

/// Which part of `help` lists a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// Domain management.
    Domain,
    /// Domain monitoring.
    DomainMonitor,
    /// Host and hypervisor.
    Host,
    /// Networking.
    Network,
    /// Storage pools.
    Pool,
    /// Storage volumes.
    Volume,
    /// The shell itself.
    Shell,
}

impl Group {
    /// Every group, in the order `help` prints them.
    pub const ALL: [Group; 7] = [
        Group::Domain,
        Group::DomainMonitor,
        Group::Host,
        Group::Network,
        Group::Pool,
        Group::Volume,
        Group::Shell,
    ];

    /// Title printed by `help`, as virsh words it.
    pub fn title(self) -> &'static str {
        match self {
            Group::Domain => "Domain Management (help keyword 'domain')",
            Group::DomainMonitor => "Domain Monitoring (help keyword 'monitor')",
            Group::Host => "Host and Hypervisor (help keyword 'host')",
            Group::Network => "Networking (help keyword 'network')",
            Group::Pool => "Storage Pool (help keyword 'pool')",
            Group::Volume => "Storage Volume (help keyword 'volume')",
            Group::Shell => "Virsh itself (help keyword 'virsh')",
        }
    }

    /// Keyword accepted by `help KEYWORD`.
    pub fn keyword(self) -> &'static str {
        match self {
            Group::Domain => "domain",
            Group::DomainMonitor => "monitor",
            Group::Host => "host",
            Group::Network => "network",
            Group::Pool => "pool",
            Group::Volume => "volume",
            Group::Shell => "virsh",
        }
    }
}

/// One command of the table.
#[derive(Debug, Clone, Copy)]
pub struct CommandSpec {
    /// Name typed by the user.
    pub name: &'static str,
    /// Group for `help`.
    pub group: Group,
    /// One-line help.
    pub help: &'static str,
    /// Longer description for `help NAME`.
    pub desc: &'static str,
    /// Options, in positional order.
    pub opts: &'static [OptSpec],
}

const fn req(name: &'static str, help: &'static str) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::Required,
        help,
    }
}

const fn opt(name: &'static str, help: &'static str) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::Optional,
        help,
    }
}

const fn flag(name: &'static str, help: &'static str) -> OptSpec {
    OptSpec {
        name,
        kind: OptKind::Bool,
        help,
    }
}

const fn cmd(
    name: &'static str,
    group: Group,
    help: &'static str,
    desc: &'static str,
    opts: &'static [OptSpec],
) -> CommandSpec {
    CommandSpec {
        name,
        group,
        help,
        desc,
        opts,
    }
}

const DOMAIN: OptSpec = req("domain", "domain name, id or uuid");
const NETWORK: OptSpec = req("network", "network name or uuid");
const POOL: OptSpec = req("pool", "pool name or uuid");
const VOL: OptSpec = req("vol", "vol name, key or path");
const POOL_OPTIONAL: OptSpec = opt("pool", "pool name or uuid");
const CONFIG: OptSpec = flag("config", "affect next boot");
const LIVE: OptSpec = flag("live", "affect running domain");
const CURRENT: OptSpec = flag("current", "affect current domain");
const PERSISTENT: OptSpec = flag("persistent", "make live change persistent");

use Group::*;

/// Every command `hangarctl` knows, in `help` order within each group.
pub const COMMANDS: &[CommandSpec] = &[
    // Domain management.
    cmd("attach-device", Domain, "attach device from an XML file", "Attach device from an XML <file>.", &[
        DOMAIN,
        req("file", "XML file"),
        PERSISTENT,
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("attach-disk", Domain, "attach disk device", "Attach new disk device.", &[
        DOMAIN,
        req("source", "source of disk device or name of network disk"),
        req("target", "target of disk device"),
        opt("targetbus", "target bus of disk device"),
        opt("driver", "driver of disk device"),
        opt("subdriver", "subdriver of disk device"),
        opt("type", "target device type"),
        opt("mode", "mode of device reading and writing"),
        opt("sourcetype", "type of source (block|file)"),
        opt("serial", "serial of disk device"),
        flag("print-xml", "print XML document rather than attach the disk"),
        PERSISTENT,
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("attach-interface", Domain, "attach network interface", "Attach new network interface.", &[
        DOMAIN,
        req("type", "network interface type"),
        opt("source", "source of network interface"),
        opt("target", "target network name"),
        opt("mac", "MAC address"),
        opt("model", "model type"),
        PERSISTENT,
        CONFIG,
        LIVE,
        CURRENT,
        flag("print-xml", "print XML document rather than attach the interface"),
    ]),
    cmd("autostart", Domain, "autostart a domain", "Configure a domain to be automatically started at boot.", &[
        DOMAIN,
        flag("disable", "disable autostarting"),
    ]),
    cmd("domdisplay", Domain, "domain display connection URI", "Output the IP address and port number for the graphical display.", &[
        DOMAIN,
    ]),
    cmd("vncdisplay", Domain, "vnc display", "Output the IP address and port number for the VNC display.", &[
        DOMAIN,
    ]),
    cmd("console", Domain, "connect to the guest console", "Connect the virtual serial console for the guest", &[
        DOMAIN,
    ]),
    cmd("create", Domain, "create a domain from an XML file", "Create a domain.", &[
        req("file", "file containing an XML domain description"),
        flag("paused", "leave the guest paused after creation"),
    ]),
    cmd("define", Domain, "define (but don't start) a domain from an XML file", "Define a domain.", &[
        req("file", "file containing an XML domain description"),
    ]),
    cmd("destroy", Domain, "destroy (stop) a domain", "Forcefully stop a given domain, but leave its resources intact.", &[
        DOMAIN,
    ]),
    cmd("detach-device", Domain, "detach device from an XML file", "Detach device from an XML <file>", &[
        DOMAIN,
        req("file", "XML file"),
        PERSISTENT,
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("detach-disk", Domain, "detach disk device", "Detach disk device.", &[
        DOMAIN,
        req("target", "target of disk device"),
        PERSISTENT,
        CONFIG,
        LIVE,
        CURRENT,
        flag("print-xml", "print XML document rather than detach the disk"),
    ]),
    cmd("detach-interface", Domain, "detach network interface", "Detach network interface.", &[
        DOMAIN,
        req("type", "network interface type"),
        opt("mac", "MAC address"),
        PERSISTENT,
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("dumpxml", Domain, "domain information in XML", "Output the domain information as an XML dump to stdout.", &[
        DOMAIN,
        flag("inactive", "show inactive defined XML"),
    ]),
    cmd("edit", Domain, "edit XML configuration for a domain", "Edit the XML configuration for a domain.", &[
        DOMAIN,
    ]),
    cmd("managedsave", Domain, "managed save of a domain state", "Save and destroy a running domain, so it can be restarted from\n    the same state at a later time.  When the virsh 'start'\n    command is next run for the domain, it will automatically\n    be started from this saved state.", &[
        DOMAIN,
    ]),
    cmd("managedsave-remove", Domain, "Remove managed save of a domain", "Remove an existing managed save state file from a domain", &[DOMAIN]),
    cmd("reboot", Domain, "reboot a domain", "Run a reboot command in the target domain.", &[
        DOMAIN,
    ]),
    cmd("reset", Domain, "reset a domain", "Reset the target domain as if by power button", &[DOMAIN]),
    cmd("restore", Domain, "restore a domain from a saved state in a file", "Restore a domain.", &[
        req("file", "the state to restore"),
    ]),
    cmd("resume", Domain, "resume a domain", "Resume a previously suspended domain.", &[DOMAIN]),
    cmd("save", Domain, "save a domain state to a file", "Save the RAM state of a running domain.", &[
        DOMAIN,
        req("file", "where to save the data"),
    ]),
    cmd("setmaxmem", Domain, "change maximum memory limit", "Change the maximum memory allocation limit in the guest domain.", &[
        DOMAIN,
        req("size", "new maximum memory size, as scaled integer (default KiB)"),
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("setmem", Domain, "change memory allocation", "Change the current memory allocation in the guest domain.", &[
        DOMAIN,
        req("size", "new memory size, as scaled integer (default KiB)"),
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("setvcpus", Domain, "change number of virtual CPUs", "Change the number of virtual CPUs in the guest domain.", &[
        DOMAIN,
        req("count", "number of virtual CPUs"),
        flag("maximum", "set maximum limit on next boot"),
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("shutdown", Domain, "gracefully shutdown a domain", "Run shutdown in the target domain.", &[
        DOMAIN,
    ]),
    cmd("start", Domain, "start a (previously defined) inactive domain", "Start a domain, either from the last managedsave\n    state, or via a fresh boot if no managedsave state\n    is present.", &[
        DOMAIN,
        flag("paused", "leave the guest paused after creation"),
    ]),
    cmd("suspend", Domain, "suspend a domain", "Suspend a running domain.", &[DOMAIN]),
    cmd("undefine", Domain, "undefine a domain", "Undefine an inactive domain, or convert persistent to transient.", &[
        DOMAIN,
        flag("managed-save", "remove domain managed state file"),
    ]),
    // Domain monitoring.
    cmd("dommemstat", DomainMonitor, "get memory statistics for a domain", "Get memory statistics for a running domain.", &[DOMAIN]),
    cmd("dominfo", DomainMonitor, "domain information", "Returns basic information about the domain.", &[DOMAIN]),
    cmd("domstate", DomainMonitor, "domain state", "Returns state about a domain.", &[
        DOMAIN,
        flag("reason", "also print reason for the state"),
    ]),
    cmd("list", DomainMonitor, "list domains", "Returns list of domains.", &[
        flag("inactive", "list inactive domains"),
        flag("all", "list inactive & active domains"),
        flag("transient", "list transient domains"),
        flag("persistent", "list persistent domains"),
        flag("autostart", "list domains with autostart enabled"),
        flag("no-autostart", "list domains with autostart disabled"),
        flag("state-running", "list domains in running state"),
        flag("state-paused", "list domains in paused state"),
        flag("state-shutoff", "list domains in shutoff state"),
        flag("state-other", "list domains in other states"),
        flag("uuid", "list uuid's only"),
        flag("name", "list domain names only"),
        flag("id", "list domain IDs only"),
        flag("table", "list table (default)"),
    ]),
    // Host and hypervisor.
    cmd("capabilities", Host, "capabilities", "Returns capabilities of hypervisor/driver.", &[]),
    cmd("hostname", Host, "print the hypervisor hostname", "", &[]),
    cmd("nodeinfo", Host, "node information", "Returns basic information about the node.", &[]),
    cmd("uri", Host, "print the hypervisor canonical URI", "", &[]),
    cmd("version", Host, "show version", "Display the system version information.", &[]),
    // Networking.
    cmd("net-autostart", Network, "autostart a network", "Configure a network to be automatically started at boot.", &[
        NETWORK,
        flag("disable", "disable autostarting"),
    ]),
    cmd("net-create", Network, "create a network from an XML file", "Create a network.", &[
        req("file", "file containing an XML network description"),
    ]),
    cmd("net-define", Network, "define an inactive persistent virtual network or modify an existing persistent one from an XML file", "Define or modify a persistent virtual network.", &[
        req("file", "file containing an XML network description"),
    ]),
    cmd("net-dhcp-leases", Network, "print lease info for a given network", "Print lease info for a given network", &[
        NETWORK,
        opt("mac", "MAC address"),
    ]),
    cmd("net-destroy", Network, "destroy (stop) a network", "Forcefully stop a given network.", &[NETWORK]),
    cmd("net-dumpxml", Network, "network information in XML", "Output the network information as an XML dump to stdout.", &[
        NETWORK,
        flag("inactive", "show inactive defined XML"),
    ]),
    cmd("net-edit", Network, "edit XML configuration for a network", "Edit the XML configuration for a network.", &[NETWORK]),
    cmd("net-info", Network, "network information", "Returns basic information about the network", &[NETWORK]),
    cmd("net-list", Network, "list networks", "Returns list of networks.", &[
        flag("inactive", "list inactive networks"),
        flag("all", "list inactive & active networks"),
        flag("persistent", "list persistent networks"),
        flag("transient", "list transient networks"),
        flag("autostart", "list networks with autostart enabled"),
        flag("no-autostart", "list networks with autostart disabled"),
        flag("uuid", "list uuid's only"),
        flag("name", "list network names only"),
        flag("table", "list table (default)"),
    ]),
    cmd("net-start", Network, "start a (previously defined) inactive network", "Start a network.", &[NETWORK]),
    cmd("net-update", Network, "update parts of an existing network's configuration", "", &[
        NETWORK,
        req("command", "type of update (add-first, add-last (add), delete, or modify)"),
        req("section", "which section of network configuration to update"),
        req("xml", "name of file containing xml (or, if it starts with '<', the complete xml element itself) to add/modify, or to be matched for search"),
        opt("parent-index", "which parent object to search through"),
        CONFIG,
        LIVE,
        CURRENT,
    ]),
    cmd("net-undefine", Network, "undefine a persistent network", "Undefine the configuration for a persistent network.", &[NETWORK]),
    // Storage pools.
    cmd("pool-autostart", Pool, "autostart a pool", "Configure a pool to be automatically started at boot.", &[
        POOL,
        flag("disable", "disable autostarting"),
    ]),
    cmd("pool-build", Pool, "build a pool", "Build a given pool.", &[
        POOL,
        flag("no-overwrite", "do not overwrite any existing data"),
        flag("overwrite", "overwrite any existing data"),
    ]),
    cmd("pool-define", Pool, "define an inactive persistent storage pool or modify an existing persistent one from an XML file", "Define or modify a persistent storage pool.", &[
        req("file", "file containing an XML pool description"),
    ]),
    cmd("pool-define-as", Pool, "define a pool from a set of args", "Define a pool.", &[
        req("name", "name of the pool"),
        req("type", "type of the pool"),
        flag("print-xml", "print XML document, but don't define/create"),
        opt("source-host", "source-host for underlying storage"),
        opt("source-path", "source path for underlying storage"),
        opt("source-dev", "source device for underlying storage"),
        opt("source-name", "source name for underlying storage"),
        opt("target", "target for underlying storage"),
        opt("source-format", "format for underlying storage"),
    ]),
    cmd("pool-delete", Pool, "delete a pool", "Delete a given pool.", &[POOL]),
    cmd("pool-destroy", Pool, "destroy (stop) a pool", "Forcefully stop a given pool. Raw data in the pool is untouched", &[POOL]),
    cmd("pool-dumpxml", Pool, "pool information in XML", "Output the pool information as an XML dump to stdout.", &[
        POOL,
        flag("inactive", "show inactive defined XML"),
    ]),
    cmd("pool-edit", Pool, "edit XML configuration for a storage pool", "Edit the XML configuration for a storage pool.", &[POOL]),
    cmd("pool-info", Pool, "storage pool information", "Returns basic information about the storage pool.", &[
        POOL,
        flag("bytes", "Return pool info in bytes"),
    ]),
    cmd("pool-list", Pool, "list pools", "Returns list of pools.", &[
        flag("inactive", "list inactive pools"),
        flag("all", "list inactive & active pools"),
        flag("transient", "list transient pools"),
        flag("persistent", "list persistent pools"),
        flag("autostart", "list pools with autostart enabled"),
        flag("no-autostart", "list pools with autostart disabled"),
        opt("type", "only list pool of specified type(s) (if supported)"),
        flag("details", "display extended details for pools"),
        flag("uuid", "list UUID of active pools only"),
        flag("name", "list name of active pools only"),
    ]),
    cmd("pool-refresh", Pool, "refresh a pool", "Refresh a given pool.", &[POOL]),
    cmd("pool-start", Pool, "start a (previously defined) inactive pool", "Start a pool.", &[
        POOL,
        flag("build", "build the pool as normal"),
    ]),
    cmd("pool-undefine", Pool, "undefine an inactive pool", "Undefine the configuration for an inactive pool.", &[POOL]),
    // Storage volumes.
    cmd("vol-clone", Volume, "clone a volume.", "Clone an existing volume within the parent pool.", &[
        VOL,
        req("newname", "clone name"),
        POOL_OPTIONAL,
        flag("print-xml", "print XML document rather than clone the volume"),
    ]),
    cmd("vol-create", Volume, "create a vol from an XML file", "Create a vol.", &[
        req("pool", "pool name"),
        req("file", "file containing an XML vol description"),
    ]),
    cmd("vol-create-as", Volume, "create a volume from a set of args", "Create a vol.", &[
        req("pool", "pool name"),
        req("name", "name of the volume"),
        req("capacity", "size of the vol, as scaled integer (default bytes)"),
        opt("allocation", "initial allocation size, as scaled integer (default bytes)"),
        opt("format", "file format type raw,bochs,qcow,qcow2,qed,vmdk"),
        opt("backing-vol", "the backing volume if taking a snapshot"),
        opt("backing-vol-format", "format of backing volume if taking a snapshot"),
        flag("prealloc-metadata", "preallocate metadata (for qcow2 instead of full allocation)"),
        flag("print-xml", "print XML document, but don't define/create"),
    ]),
    cmd("vol-delete", Volume, "delete a vol", "Delete a given vol.", &[VOL, POOL_OPTIONAL]),
    cmd("vol-dumpxml", Volume, "vol information in XML", "Output the vol information as an XML dump to stdout.", &[
        VOL,
        POOL_OPTIONAL,
    ]),
    cmd("vol-info", Volume, "storage vol information", "Returns basic information about the storage vol.", &[
        VOL,
        POOL_OPTIONAL,
        flag("bytes", "sizes are represented in bytes rather than pretty units"),
    ]),
    cmd("vol-list", Volume, "list vols", "Returns list of vols by pool.", &[
        req("pool", "pool name or uuid"),
        flag("details", "display extended details for volumes"),
    ]),
    cmd("vol-path", Volume, "returns the volume path for a given volume name or key", "", &[
        req("vol", "volume name or key"),
        POOL_OPTIONAL,
    ]),
    cmd("vol-resize", Volume, "resize a vol", "Resizes a storage volume. This is safe only for storage volumes not in use by an active guest.\n    See blockresize for live resizing.", &[
        VOL,
        req("capacity", "new capacity for the vol, as scaled integer (default bytes)"),
        POOL_OPTIONAL,
        flag("allocate", "allocate the new capacity, rather than leaving it sparse"),
        flag("delta", "use capacity as a delta to current size, rather than the new size"),
        flag("shrink", "allow the resize to shrink the volume"),
    ]),
    cmd("vol-wipe", Volume, "wipe a vol", "Ensure data previously on a volume is not accessible to future reads", &[
        VOL,
        POOL_OPTIONAL,
        opt("algorithm", "perform selected wiping algorithm"),
    ]),
    // The shell.
    cmd("connect", Shell, "(re)connect to hypervisor", "Connect to local hypervisor. This is built-in command after shell start up.", &[
        opt("name", "hypervisor connection URI"),
    ]),
    cmd("exit", Shell, "quit this interactive terminal", "", &[]),
    cmd("help", Shell, "print help", "Prints global help, command specific help, or help for a\n    group of related commands", &[
        opt("command", "Prints global help, command specific help, or help for a group of related commands"),
    ]),
    cmd("quit", Shell, "quit this interactive terminal", "", &[]),
];

/// Looks a command up by name.
pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_options_too() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert!(
                COMMANDS[i + 1..].iter().all(|o| o.name != c.name),
                "{} twice",
                c.name
            );
            for (j, o) in c.opts.iter().enumerate() {
                assert!(
                    c.opts[j + 1..].iter().all(|p| p.name != o.name),
                    "{} --{} twice",
                    c.name,
                    o.name
                );
            }
        }
    }
}
