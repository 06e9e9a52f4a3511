//! Network commands of the test driver.

use super::state::TestNetwork;
use super::TestDriver;
use crate::api::{ApiError, Command, LookupKey, ObjectEvent, ObjectKind, Reply, Scope};
use crate::backend::definition::network;
use crate::xml::{ids, Element};

impl TestDriver {
    fn find_network(&self, key: &str) -> Result<usize, ApiError> {
        if let Ok(uuid) = ids::parse_uuid(key) {
            let uuid = uuid.hyphenated().to_string();
            if let Some(i) = self.networks.iter().position(|n| n.uuid == uuid) {
                return Ok(i);
            }
        }
        self.networks
            .iter()
            .position(|n| n.name == key)
            .ok_or_else(|| ApiError::NotFound {
                kind: ObjectKind::Network,
                by: LookupKey::Name,
                name: key.to_string(),
            })
    }

    fn network_event(&self, name: &str, event: ObjectEvent) {
        self.emit_object(ObjectKind::Network, name, None, event);
    }

    fn used_bridges(&self, except: Option<&str>) -> Vec<String> {
        self.networks
            .iter()
            .filter(|n| Some(n.name.as_str()) != except)
            .filter_map(|n| network::bridge(&n.config))
            .collect()
    }

    /// Adds or replaces a network definition; returns its index.
    fn put_network(&mut self, xml: &str, start: bool) -> Result<usize, ApiError> {
        let name = crate::xml::Network::parse(xml)?.name;
        let (config, uuid) = network::prepare(xml, &self.used_bridges(Some(&name)))?;
        let by_name = self.networks.iter().position(|n| n.name == name);
        let by_uuid = self.networks.iter().position(|n| n.uuid == uuid);
        match (by_name, by_uuid) {
            (Some(i), Some(j)) if i == j => {
                if start {
                    if self.networks[i].live.is_some() {
                        return Err(ApiError::invalid_op(format!(
                            "network '{name}' is already active"
                        )));
                    }
                    self.networks[i].live = Some(config);
                    self.network_event(&name, ObjectEvent::Started);
                } else {
                    self.networks[i].config = config;
                    self.networks[i].persistent = true;
                    self.network_event(&name, ObjectEvent::Changed);
                }
                Ok(i)
            }
            (Some(i), _) => Err(ApiError::AlreadyExists {
                kind: ObjectKind::Network,
                name,
                uuid: Some(self.networks[i].uuid.clone()),
            }),
            (None, Some(j)) => Err(ApiError::AlreadyExists {
                kind: ObjectKind::Network,
                name: self.networks[j].name.clone(),
                uuid: Some(uuid),
            }),
            (None, None) => {
                self.networks.push(TestNetwork {
                    name: name.clone(),
                    uuid,
                    live: start.then(|| config.clone()),
                    config,
                    persistent: !start,
                    autostart: false,
                });
                let event = if start {
                    ObjectEvent::Started
                } else {
                    ObjectEvent::Defined
                };
                self.network_event(&name, event);
                Ok(self.networks.len() - 1)
            }
        }
    }

    fn update_network(
        &mut self,
        index: usize,
        scope: Scope,
        edit: impl Fn(&mut Element) -> Result<(), ApiError>,
    ) -> Result<(), ApiError> {
        let n = &self.networks[index];
        let active = n.live.is_some();
        let (live, config) = if !scope.live && !scope.config {
            (active, !active || n.persistent)
        } else {
            (scope.live, scope.config)
        };
        if live && !active {
            return Err(ApiError::invalid_op("network is not running"));
        }
        let mut new_live = n.live.clone();
        let mut new_config = n.config.clone();
        if let (true, Some(l)) = (live, new_live.as_mut()) {
            edit(l)?;
            network::canonical(l)?;
        }
        if config {
            edit(&mut new_config)?;
            network::canonical(&new_config)?;
        }
        let n = &mut self.networks[index];
        n.live = new_live;
        n.config = new_config;
        let name = n.name.clone();
        self.network_event(&name, ObjectEvent::Changed);
        Ok(())
    }

    pub(super) fn network_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListNetworks => Ok(Reply::Networks(
                self.networks.iter().map(TestNetwork::info).collect(),
            )),
            Command::LookupNetwork { network } | Command::NetworkInfo { network } => {
                let i = self.find_network(&network)?;
                Ok(Reply::Network(self.networks[i].info()))
            }
            Command::DefineNetwork { xml } => {
                let i = self.put_network(&xml, false)?;
                Ok(Reply::Network(self.networks[i].info()))
            }
            Command::CreateNetwork { xml } => {
                let i = self.put_network(&xml, true)?;
                Ok(Reply::Network(self.networks[i].info()))
            }
            Command::UndefineNetwork { network } => {
                let i = self.find_network(&network)?;
                let n = &mut self.networks[i];
                if !n.persistent {
                    return Err(ApiError::invalid_op("network is not persistent"));
                }
                let name = n.name.clone();
                if n.live.is_some() {
                    n.persistent = false;
                    n.autostart = false;
                } else {
                    self.networks.remove(i);
                }
                self.network_event(&name, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }
            Command::NetworkXml { network, inactive } => {
                let i = self.find_network(&network)?;
                let n = &self.networks[i];
                match (&n.live, inactive) {
                    (Some(live), false) => {
                        let connections = self
                            .domains
                            .iter()
                            .filter_map(|d| d.live.as_ref())
                            .map(|d| network::connections_of(d, &n.name))
                            .sum();
                        Ok(Reply::Xml(network::live_document(live, connections)?))
                    }
                    _ => Ok(Reply::Xml(network::canonical(&n.config)?)),
                }
            }
            Command::StartNetwork { network } => {
                let i = self.find_network(&network)?;
                let n = &mut self.networks[i];
                if n.live.is_some() {
                    return Err(ApiError::invalid_op("network is already active"));
                }
                n.live = Some(n.config.clone());
                let name = n.name.clone();
                self.network_event(&name, ObjectEvent::Started);
                Ok(Reply::Done)
            }
            Command::DestroyNetwork { network } => {
                let i = self.find_network(&network)?;
                let n = &mut self.networks[i];
                if n.live.is_none() {
                    return Err(ApiError::invalid_op("network is not active"));
                }
                n.live = None;
                let name = n.name.clone();
                if !n.persistent {
                    self.networks.remove(i);
                }
                self.network_event(&name, ObjectEvent::Stopped);
                Ok(Reply::Done)
            }
            Command::SetNetworkAutostart { network, enabled } => {
                let i = self.find_network(&network)?;
                let n = &mut self.networks[i];
                if !n.persistent {
                    return Err(ApiError::invalid_op(
                        "cannot set autostart for transient network",
                    ));
                }
                n.autostart = enabled;
                let name = n.name.clone();
                self.network_event(&name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            Command::UpdateNetwork {
                network,
                op,
                section,
                xml,
                parent_index,
                scope,
            } => {
                let i = self.find_network(&network)?;
                self.update_network(i, scope, |el| {
                    network::update(el, op, &section, &xml, parent_index)
                })?;
                Ok(Reply::Done)
            }
            Command::NetworkDhcpLeases { network, mac } => {
                let i = self.find_network(&network)?;
                let n = &self.networks[i];
                let Some(live) = &n.live else {
                    return Err(ApiError::invalid_op("network is not active"));
                };
                let wanted = mac.map(|m| m.to_ascii_lowercase());
                let leases = network::static_leases(live)
                    .into_iter()
                    .filter(|l| match &wanted {
                        Some(m) => &l.mac == m,
                        None => true,
                    })
                    .collect();
                Ok(Reply::Leases(leases))
            }
            other => Err(ApiError::Internal(format!(
                "not a network command: {other:?}"
            ))),
        }
    }
}
