//! [`NetworkRuntime`]: starts and stops networks, and remembers what it made.
//!
//! A started network leaves, in the runtime folder, its live definition
//! (`NAME.xml`), what was made for it (`NAME.state.json`) and dnsmasq's
//! files (`NAME.conf`, `.hostsfile`, `.addnhosts`, `.pid`, `.leases`).
//! Starting undoes every step already taken when a later one fails; stopping
//! removes the dnsmasq, the nftables table and the bridge it made.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::{Deserialize, Serialize};

use super::netlink::{link_index, BridgeSpec, Rtnl};
use super::session::SessionNamespace;
use super::{checks, dnsmasq_run, RuntimeError};
use crate::api::DhcpLease;
use crate::backend::store::atomic::{remove_durable, write_atomic};
use crate::network::{dnsmasq_config, needs_dnsmasq, nft_delete_script, nft_ruleset, DnsmasqPaths};
use crate::xml::network::{mask_address, ForwardMode, Network};

/// What a running network is made of, as persisted in `NAME.state.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActiveNetwork {
    /// Network name.
    pub name: String,
    /// The bridge guests attach to.
    pub bridge: String,
    /// Hangar created the bridge (and removes it on stop).
    pub created_bridge: bool,
    /// The nftables table installed, if any.
    pub nft_table: Option<String>,
    /// A dnsmasq serves the network.
    pub dnsmasq: bool,
}

/// Starts and stops networks whose state lives in one folder.
#[derive(Debug, Clone)]
pub struct NetworkRuntime {
    dir: PathBuf,
    /// For `hangar:///session`: the user's namespace every change is made in.
    session: Option<SessionNamespace>,
    /// dnsmasq's `--user` (root inside a user namespace, where its own
    /// user does not exist).
    dnsmasq_user: Option<String>,
}

/// Steps already taken by a start, undone in reverse if a later one fails.
enum Undo {
    Bridge(u32),
    Table(String),
    Dnsmasq,
}

fn nft(script: &str) -> Result<(), RuntimeError> {
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| RuntimeError::io("cannot run nft", &e))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(script.as_bytes())
            .map_err(|e| RuntimeError::io("cannot feed nft", &e))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| RuntimeError::io("cannot run nft", &e))?;
    if !out.status.success() {
        return Err(RuntimeError::Tool {
            tool: "nft",
            message: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

/// Turns IPv4 or IPv6 forwarding on in the current network namespace.
fn enable_forwarding(v6: bool) -> Result<(), RuntimeError> {
    let path = if v6 {
        "/proc/sys/net/ipv6/conf/all/forwarding"
    } else {
        "/proc/sys/net/ipv4/ip_forward"
    };
    std::fs::write(path, "1\n").map_err(|e| RuntimeError::io(format!("cannot write {path}"), &e))
}

fn io(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let op = op.into();
    move |e| RuntimeError::io(op, &e)
}

impl NetworkRuntime {
    /// Networks in the calling thread's namespace, state kept in `dir`
    /// (`<runtime>/network`), created when needed.
    pub fn new(dir: impl Into<PathBuf>) -> NetworkRuntime {
        NetworkRuntime {
            dir: dir.into(),
            session: None,
            dnsmasq_user: None,
        }
    }

    /// Rootless networks made inside the user's namespace `ns`.
    pub fn session(dir: impl Into<PathBuf>, ns: SessionNamespace) -> NetworkRuntime {
        NetworkRuntime {
            session: Some(ns),
            ..NetworkRuntime::new(dir)
        }
    }

    /// Runs dnsmasq as `user` instead of its compiled-in default.
    pub fn with_dnsmasq_user(mut self, user: &str) -> NetworkRuntime {
        self.dnsmasq_user = Some(user.to_string());
        self
    }

    fn dir_arg(&self) -> String {
        self.dir.display().to_string()
    }

    fn start_dnsmasq(&self, name: &str) -> Result<u32, RuntimeError> {
        dnsmasq_run::start(
            &self.file(name, "conf"),
            &self.file(name, "pid"),
            self.dnsmasq_user.as_deref(),
        )
    }

    fn file(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{name}.{ext}"))
    }

    fn dnsmasq_paths(&self, name: &str) -> DnsmasqPaths {
        let mut paths = DnsmasqPaths::in_dir(&self.dir, name);
        paths.pid_file = Some(self.file(name, "pid"));
        paths.lease_file = Some(self.file(name, "leases"));
        paths
    }

    /// The state of a running network, `None` if it is not running.
    pub fn active(&self, name: &str) -> Option<ActiveNetwork> {
        let text = std::fs::read_to_string(self.file(name, "state.json")).ok()?;
        let state: ActiveNetwork = serde_json::from_str(&text).ok()?;
        match &self.session {
            // The bridge lives in the user's namespace: it runs while that does.
            Some(ns) => ns.holder().map(|_| state),
            // A bridge that vanished (reboot, someone removed it) means stopped.
            None => link_index(&state.bridge).map(|_| state),
        }
    }

    /// The names of the networks with recorded state (running or not).
    pub fn running_names(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.dir)
            .map(|d| {
                d.flatten()
                    .filter_map(|e| {
                        e.file_name()
                            .to_str()
                            .and_then(|f| f.strip_suffix(".state.json"))
                            .map(str::to_string)
                    })
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The definition the running network was started with.
    pub fn live_definition(&self, name: &str) -> Option<Network> {
        let text = std::fs::read_to_string(self.file(name, "xml")).ok()?;
        Network::parse(&text).ok()
    }

    /// Starts `net`: checks first, then bridge, addresses, routes, firewall,
    /// forwarding and dnsmasq; on failure everything made is removed.
    pub fn start(&self, net: &Network) -> Result<ActiveNetwork, RuntimeError> {
        if self.active(&net.name).is_some() {
            return Err(RuntimeError::State(format!(
                "network '{}' is already active",
                net.name
            )));
        }
        if let Some(ns) = &self.session {
            let pid = ns.ensure()?;
            let out = ns.helper(pid, &["start", &self.dir_arg()], Some(&net.to_xml()))?;
            return serde_json::from_str(&out).map_err(|e| RuntimeError::Io {
                op: "cannot read hangar-net-helper's answer".into(),
                message: e.to_string(),
            });
        }
        let mode = net.forward.mode;
        if mode == ForwardMode::Bridge {
            return self.start_on_host_bridge(net);
        }
        if !mode.has_managed_bridge() {
            return Err(RuntimeError::Config(format!(
                "network '{}': forward mode '{}' is not supported by Hangar",
                net.name,
                mode.label()
            )));
        }
        let bridge = net
            .bridge_name()
            .ok_or_else(|| RuntimeError::Config(format!("network '{}' has no bridge", net.name)))?
            .to_string();
        checks::check_bridge_free(net, &bridge)?;
        checks::check_dhcp_ranges(net)?;
        checks::check_route_collisions(net, &checks::host_routes())?;
        // Generate everything before making anything.
        let ruleset = nft_ruleset(net)?;
        let paths = self.dnsmasq_paths(&net.name);
        let dnsmasq = if needs_dnsmasq(net) {
            Some(dnsmasq_config(net, &paths)?)
        } else {
            None
        };
        std::fs::create_dir_all(&self.dir)
            .map_err(io(format!("cannot create {}", self.dir.display())))?;

        let mut undo = Vec::new();
        let result = (|| {
            let mut rtnl = Rtnl::open().map_err(io("cannot open rtnetlink"))?;
            rtnl.create_bridge(&BridgeSpec {
                name: bridge.clone(),
                mtu: net.mtu,
                mac: net.mac.map(|m| m.0),
                stp: net.bridge.stp,
                delay: net.bridge.delay,
            })
            .map_err(io(format!("cannot create bridge '{bridge}'")))?;
            let index = link_index(&bridge)
                .ok_or_else(|| RuntimeError::State(format!("bridge '{bridge}' vanished")))?;
            undo.push(Undo::Bridge(index));
            for ip in &net.ips {
                let prefix = ip.prefix_len().ok_or_else(|| {
                    RuntimeError::Config(format!("{} has no valid prefix", ip.address))
                })?;
                rtnl.add_address(index, ip.address, prefix)
                    .map_err(io(format!(
                        "cannot add {}/{prefix} to '{bridge}'",
                        ip.address
                    )))?;
            }
            rtnl.set_up(index, true)
                .map_err(io(format!("cannot bring '{bridge}' up")))?;
            for route in &net.routes {
                let prefix = route.prefix_len();
                let dest = mask_address(route.address, prefix);
                rtnl.add_route(dest, prefix, route.gateway, route.metric)
                    .map_err(io(format!(
                        "cannot add route {dest}/{prefix} via {}",
                        route.gateway
                    )))?;
            }
            if let Some(rules) = &ruleset {
                nft(&rules.script)?;
                undo.push(Undo::Table(rules.table.clone()));
            }
            if matches!(
                mode,
                ForwardMode::Nat | ForwardMode::Route | ForwardMode::Open
            ) {
                if net.ips_of(false).next().is_some() {
                    enable_forwarding(false)?;
                }
                if net.ips_of(true).next().is_some() {
                    enable_forwarding(true)?;
                }
            }
            if let Some(cfg) = &dnsmasq {
                let conf = self.file(&net.name, "conf");
                write_atomic(&paths.hostsfile, cfg.hostsfile.as_bytes(), 0o644)
                    .map_err(io("cannot write the DHCP hosts file"))?;
                write_atomic(&paths.addnhosts, cfg.addnhosts.as_bytes(), 0o644)
                    .map_err(io("cannot write the DNS hosts file"))?;
                write_atomic(&conf, cfg.conf.as_bytes(), 0o644)
                    .map_err(io("cannot write the dnsmasq configuration"))?;
                undo.push(Undo::Dnsmasq);
                self.start_dnsmasq(&net.name)?;
            }
            let state = ActiveNetwork {
                name: net.name.clone(),
                bridge: bridge.clone(),
                created_bridge: true,
                nft_table: ruleset.as_ref().map(|r| r.table.clone()),
                dnsmasq: dnsmasq.is_some(),
            };
            self.save(net, &state)?;
            Ok(state)
        })();
        if result.is_err() {
            for step in undo.into_iter().rev() {
                let _ = self.undo(&net.name, step);
            }
            self.remove_files(&net.name);
        }
        result
    }

    /// `forward mode='bridge'`: guests join an existing bridge; nothing is made.
    fn start_on_host_bridge(&self, net: &Network) -> Result<ActiveNetwork, RuntimeError> {
        let bridge = net
            .bridge_name()
            .ok_or_else(|| {
                RuntimeError::Config(format!(
                    "network '{}': forward mode 'bridge' needs <bridge name=...>",
                    net.name
                ))
            })?
            .to_string();
        if link_index(&bridge).is_none() {
            return Err(RuntimeError::Config(format!(
                "network '{}': the host bridge '{bridge}' does not exist",
                net.name
            )));
        }
        std::fs::create_dir_all(&self.dir)
            .map_err(io(format!("cannot create {}", self.dir.display())))?;
        let state = ActiveNetwork {
            name: net.name.clone(),
            bridge,
            created_bridge: false,
            nft_table: None,
            dnsmasq: false,
        };
        self.save(net, &state)?;
        Ok(state)
    }

    fn save(&self, net: &Network, state: &ActiveNetwork) -> Result<(), RuntimeError> {
        write_atomic(&self.file(&net.name, "xml"), net.to_xml().as_bytes(), 0o644)
            .map_err(io("cannot write the live definition"))?;
        let json = serde_json::to_vec_pretty(state).map_err(|e| RuntimeError::Io {
            op: "cannot encode the network state".into(),
            message: e.to_string(),
        })?;
        write_atomic(&self.file(&net.name, "state.json"), &json, 0o644)
            .map_err(io("cannot write the network state"))
    }

    fn undo(&self, name: &str, step: Undo) -> Result<(), RuntimeError> {
        match step {
            Undo::Dnsmasq => dnsmasq_run::stop(&self.file(name, "pid"), &self.file(name, "conf")),
            Undo::Table(table) => nft(&nft_delete_script(&table)),
            Undo::Bridge(index) => match Rtnl::open().and_then(|mut r| r.delete_link(index)) {
                Ok(()) => Ok(()),
                Err(e) if e.raw_os_error() == Some(libc::ENODEV) => Ok(()),
                Err(e) => Err(RuntimeError::io("cannot remove the bridge", &e)),
            },
        }
    }

    fn remove_files(&self, name: &str) {
        for ext in [
            "state.json",
            "xml",
            "conf",
            "hostsfile",
            "addnhosts",
            "pid",
            "leases",
        ] {
            let _ = remove_durable(&self.file(name, ext));
        }
    }

    /// Stops a running network, removing its dnsmasq, firewall table and bridge.
    pub fn stop(&self, name: &str) -> Result<(), RuntimeError> {
        if let Some(ns) = &self.session {
            match ns.holder() {
                Some(pid) => {
                    ns.helper(pid, &["stop", &self.dir_arg(), name], None)?;
                }
                // The namespace is gone, and all it held with it.
                None => self.remove_files(name),
            }
            return Ok(());
        }
        let text = std::fs::read_to_string(self.file(name, "state.json"))
            .map_err(|_| RuntimeError::State(format!("network '{name}' is not active")))?;
        let state: ActiveNetwork = serde_json::from_str(&text).map_err(|e| RuntimeError::Io {
            op: format!("cannot read the state of network '{name}'"),
            message: e.to_string(),
        })?;
        if state.dnsmasq {
            self.undo(name, Undo::Dnsmasq)?;
        }
        if let Some(table) = state.nft_table {
            self.undo(name, Undo::Table(table))?;
        }
        if state.created_bridge {
            if let Some(index) = link_index(&state.bridge) {
                self.undo(name, Undo::Bridge(index))?;
            }
        }
        self.remove_files(name);
        Ok(())
    }

    /// Makes sure a running network's dnsmasq runs: an existing one (found
    /// through its pid file) is kept, a missing one is started again.
    pub fn adopt(&self, name: &str) -> Result<(), RuntimeError> {
        let Some(state) = self.active(name) else {
            return Ok(());
        };
        let conf = self.file(name, "conf");
        let pid = self.file(name, "pid");
        if state.dnsmasq && dnsmasq_run::running_pid(&pid, &conf).is_none() {
            if let Some(ns) = &self.session {
                let holder = ns.ensure()?;
                ns.helper(holder, &["adopt", &self.dir_arg(), name], None)?;
            } else {
                self.start_dnsmasq(name)?;
            }
        }
        Ok(())
    }

    /// The pid of a running network's dnsmasq.
    pub fn dnsmasq_pid(&self, name: &str) -> Option<u32> {
        dnsmasq_run::running_pid(&self.file(name, "pid"), &self.file(name, "conf"))
    }

    /// Applies a changed definition to a running network's DHCP and DNS
    /// hosts: rewrites dnsmasq's hosts files, has it re-read them (SIGHUP)
    /// and keeps the new live definition.
    pub fn update_hosts(&self, net: &Network) -> Result<(), RuntimeError> {
        let state = self
            .active(&net.name)
            .ok_or_else(|| RuntimeError::State(format!("network '{}' is not active", net.name)))?;
        if state.dnsmasq {
            checks::check_dhcp_ranges(net)?;
            let paths = self.dnsmasq_paths(&net.name);
            let cfg = dnsmasq_config(net, &paths)?;
            write_atomic(&paths.hostsfile, cfg.hostsfile.as_bytes(), 0o644)
                .map_err(io("cannot write the DHCP hosts file"))?;
            write_atomic(&paths.addnhosts, cfg.addnhosts.as_bytes(), 0o644)
                .map_err(io("cannot write the DNS hosts file"))?;
            if let Some(pid) = self.dnsmasq_pid(&net.name) {
                dnsmasq_run::reload(pid)?;
            }
        }
        self.save(net, &state)
    }

    /// Applies a changed running definition: only the hosts files when
    /// nothing else dnsmasq reads changed, else dnsmasq is restarted with
    /// the new configuration. Bridge, addresses and firewall stay as they are.
    pub fn update_live(&self, net: &Network) -> Result<(), RuntimeError> {
        if let Some(ns) = &self.session {
            let pid = ns.holder().ok_or_else(|| {
                RuntimeError::State(format!("network '{}' is not active", net.name))
            })?;
            ns.helper(pid, &["update", &self.dir_arg()], Some(&net.to_xml()))?;
            return Ok(());
        }
        let state = self
            .active(&net.name)
            .ok_or_else(|| RuntimeError::State(format!("network '{}' is not active", net.name)))?;
        if !state.dnsmasq {
            return self.save(net, &state);
        }
        let paths = self.dnsmasq_paths(&net.name);
        let conf = self.file(&net.name, "conf");
        let cfg = dnsmasq_config(net, &paths)?;
        let old = std::fs::read_to_string(&conf).unwrap_or_default();
        if old == cfg.conf {
            return self.update_hosts(net);
        }
        checks::check_dhcp_ranges(net)?;
        let pid = self.file(&net.name, "pid");
        dnsmasq_run::stop(&pid, &conf)?;
        write_atomic(&paths.hostsfile, cfg.hostsfile.as_bytes(), 0o644)
            .map_err(io("cannot write the DHCP hosts file"))?;
        write_atomic(&paths.addnhosts, cfg.addnhosts.as_bytes(), 0o644)
            .map_err(io("cannot write the DNS hosts file"))?;
        write_atomic(&conf, cfg.conf.as_bytes(), 0o644)
            .map_err(io("cannot write the dnsmasq configuration"))?;
        self.start_dnsmasq(&net.name)?;
        self.save(net, &state)
    }

    /// The DHCP leases dnsmasq handed out on a running network.
    pub fn leases(&self, name: &str) -> Result<Vec<DhcpLease>, RuntimeError> {
        let net = self
            .live_definition(name)
            .ok_or_else(|| RuntimeError::State(format!("network '{name}' is not active")))?;
        let text = std::fs::read_to_string(self.file(name, "leases")).unwrap_or_default();
        Ok(dnsmasq_run::parse_leases(&text, &net))
    }

    /// The bridge a VM NIC on network `name` attaches to.
    pub fn bridge_of(&self, name: &str) -> Result<String, RuntimeError> {
        self.active(name)
            .map(|s| s.bridge)
            .ok_or_else(|| RuntimeError::State(format!("network '{name}' is not active")))
    }

    /// The folder holding the state of running networks.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// For `hangar:///session`: the user's namespace the networks live in.
    pub fn session_namespace(&self) -> Option<&SessionNamespace> {
        self.session.as_ref()
    }
}

impl NetworkRuntime {
    /// The bridge a domain's `<interface>` plugs its tap into:
    /// `type='network'` → the running network's bridge, `type='bridge'` →
    /// its `<source bridge>` (which must exist).
    pub fn interface_bridge(&self, iface: &crate::xml::Element) -> Result<String, RuntimeError> {
        let source = iface.child("source");
        match iface.attr("type") {
            Some("network") => {
                let name = source.and_then(|s| s.attr("network")).ok_or_else(|| {
                    RuntimeError::Config("<interface type='network'> has no source network".into())
                })?;
                self.bridge_of(name)
            }
            Some("bridge") => {
                let bridge = source.and_then(|s| s.attr("bridge")).ok_or_else(|| {
                    RuntimeError::Config("<interface type='bridge'> has no source bridge".into())
                })?;
                if self.session.is_none() && link_index(bridge).is_none() {
                    return Err(RuntimeError::Config(format!(
                        "the bridge '{bridge}' does not exist"
                    )));
                }
                Ok(bridge.to_string())
            }
            other => Err(RuntimeError::Config(format!(
                "interfaces of type '{}' are not connected to a bridge",
                other.unwrap_or("")
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xml::Element;

    #[test]
    fn interface_bridges() {
        let dir = std::env::temp_dir().join(format!("hangar-ifb-{}", std::process::id()));
        let rt = NetworkRuntime::new(&dir);
        let net = Element::parse("<interface type='network'><source network='nope'/></interface>")
            .expect("xml");
        let err = rt.interface_bridge(&net).expect_err("not running");
        assert!(err.to_string().contains("is not active"), "{err}");
        let user = Element::parse("<interface type='user'/>").expect("xml");
        assert!(rt.interface_bridge(&user).is_err());
        let bridge = Element::parse("<interface type='bridge'><source bridge='lo'/></interface>")
            .expect("xml");
        assert_eq!(rt.interface_bridge(&bridge).expect("exists"), "lo");
    }
}
