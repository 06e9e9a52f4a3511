//! Running networks in the hangar driver: start, destroy, live updates,
//! leases, autostart, adopting networks a previous process started, and
//! noticing starts and stops made by other processes.

use super::HangarDriver;
use crate::api::{ApiError, DhcpLease, ObjectEvent, ObjectKind, StoreProblem};
use crate::network::runtime::RuntimeError;
use crate::xml::Network;

impl From<RuntimeError> for ApiError {
    fn from(err: RuntimeError) -> Self {
        match err {
            RuntimeError::State(m) | RuntimeError::Config(m) => ApiError::OperationInvalid(m),
            RuntimeError::Generate(e) => ApiError::Unsupported(e.to_string()),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl HangarDriver {
    /// True when the network runs (its state is recorded and its bridge exists).
    pub(super) fn network_active(&self, name: &str) -> bool {
        self.net_runtime.active(name).is_some()
    }

    fn stored_network(&self, name: &str) -> Result<Network, ApiError> {
        let entry = self
            .store
            .networks
            .get(name)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Network, name))?;
        Ok(Network::parse(&entry.xml.to_xml())?)
    }

    /// `net-start` of a defined network.
    pub(super) fn start_network(&mut self, name: &str) -> Result<(), ApiError> {
        if self.network_active(name) {
            return Err(ApiError::invalid_op("network is already active"));
        }
        let net = self.stored_network(name)?;
        self.net_runtime.start(&net)?;
        self.running_networks.insert(name.to_string());
        self.emit(ObjectKind::Network, name, None, ObjectEvent::Started);
        Ok(())
    }

    /// A running network with no stored definition (`net-create`).
    pub(super) fn transient_network(&self, name: &str) -> Option<Network> {
        if self.store.networks.get(name).is_some() {
            return None;
        }
        self.live_network(name)
    }

    /// The names of running transient networks.
    pub(super) fn transient_names(&self) -> Vec<String> {
        self.net_runtime
            .running_names()
            .into_iter()
            .filter(|n| self.transient_network(n).is_some())
            .collect()
    }

    /// `net-create`: starts a network without keeping its definition.
    pub(super) fn create_network(&mut self, xml: &str) -> Result<String, ApiError> {
        let name = Network::parse(xml)?.name;
        super::domains::check_file_name("network", &name)?;
        if self.store.networks.get(&name).is_some() || self.network_active(&name) {
            return Err(ApiError::AlreadyExists {
                kind: ObjectKind::Network,
                name,
                uuid: None,
            });
        }
        let mut used: Vec<String> = self
            .store
            .networks
            .entries()
            .values()
            .filter_map(|e| crate::backend::definition::network::bridge(&e.xml))
            .collect();
        used.extend(
            self.net_runtime
                .running_names()
                .iter()
                .filter_map(|n| self.net_runtime.active(n).map(|s| s.bridge)),
        );
        let (el, _) = crate::backend::definition::network::prepare(xml, &used)?;
        let net = Network::parse(&crate::backend::definition::network::canonical(&el)?)?;
        self.net_runtime.start(&net)?;
        self.running_networks.insert(name.clone());
        self.emit(ObjectKind::Network, &name, None, ObjectEvent::Started);
        Ok(name)
    }

    /// `net-destroy`.
    pub(super) fn destroy_network(&mut self, name: &str) -> Result<(), ApiError> {
        if !self.network_active(name) {
            return Err(ApiError::invalid_op("network is not active"));
        }
        self.net_runtime.stop(name)?;
        self.running_networks.remove(name);
        self.emit(ObjectKind::Network, name, None, ObjectEvent::Stopped);
        Ok(())
    }

    /// The running definition, for `net-dumpxml` and live updates.
    pub(super) fn live_network(&self, name: &str) -> Option<Network> {
        self.network_active(name)
            .then(|| self.net_runtime.live_definition(name))
            .flatten()
    }

    /// Applies an edited running definition: hosts files re-read, or
    /// dnsmasq restarted when its configuration changed.
    pub(super) fn apply_live_network(&mut self, net: &Network) -> Result<(), ApiError> {
        self.net_runtime.update_live(net)?;
        Ok(())
    }

    /// `net-dhcp-leases [--mac]`.
    pub(super) fn network_leases(
        &self,
        name: &str,
        mac: Option<String>,
    ) -> Result<Vec<DhcpLease>, ApiError> {
        if !self.network_active(name) {
            return Err(ApiError::invalid_op("network is not active"));
        }
        let wanted = mac.map(|m| m.to_ascii_lowercase());
        Ok(self
            .net_runtime
            .leases(name)?
            .into_iter()
            .filter(|l| wanted.as_ref().is_none_or(|m| &l.mac == m))
            .collect())
    }

    /// Keeps the networks a previous process started: their dnsmasq is
    /// adopted through its pid file, or started again if it died.
    pub(super) fn adopt_networks(&mut self) {
        let names: Vec<String> = self.store.networks.entries().keys().cloned().collect();
        for name in names {
            if !self.network_active(&name) {
                continue;
            }
            self.running_networks.insert(name.clone());
            if let Err(e) = self.net_runtime.adopt(&name) {
                self.network_problem(&name, format!("cannot adopt network '{name}': {e}"));
            }
        }
    }

    /// Starts the autostart networks (once per boot, with the pools).
    pub(super) fn autostart_networks(&mut self) {
        let names: Vec<String> = self.store.networks.entries().keys().cloned().collect();
        for name in names {
            if self.store.networks.autostart(&name) && !self.network_active(&name) {
                if let Err(e) = self.start_network(&name) {
                    self.network_problem(&name, format!("cannot autostart network '{name}': {e}"));
                }
            }
        }
    }

    /// Reports networks started or stopped by another process since the last poll.
    pub(super) fn watch_networks(&mut self) {
        let mut names: Vec<String> = self.store.networks.entries().keys().cloned().collect();
        names.extend(self.running_networks.iter().cloned());
        names.extend(self.transient_names());
        names.sort();
        names.dedup();
        for name in names {
            let now = self.network_active(&name);
            let before = self.running_networks.contains(&name);
            if now && !before {
                self.running_networks.insert(name.clone());
                self.emit(ObjectKind::Network, &name, None, ObjectEvent::Started);
            } else if !now && before {
                self.running_networks.remove(&name);
                self.emit(ObjectKind::Network, &name, None, ObjectEvent::Stopped);
            }
        }
    }

    fn network_problem(&mut self, name: &str, message: String) {
        let path = self
            .store
            .networks
            .dir()
            .join(format!("{name}.xml"))
            .display()
            .to_string();
        self.report(StoreProblem { path, message });
    }
}
