//! Network commands in the hangar driver: definitions here, running
//! networks in `network_run`.

use super::domains::check_file_name;
use super::HangarDriver;
use crate::api::{ApiError, Command, LookupKey, NetworkInfo, ObjectEvent, ObjectKind, Reply};
use crate::backend::definition::network;
use crate::xml::ids;

/// What transient networks cannot do.
const TRANSIENT: &str = "network is not persistent";

impl HangarDriver {
    fn network_name(&self, key: &str) -> Result<String, ApiError> {
        if self.store.networks.get(key).is_some() || self.transient_network(key).is_some() {
            return Ok(key.to_string());
        }
        if let Ok(uuid) = ids::parse_uuid(key) {
            if let Some(n) = self
                .store
                .networks
                .name_by_uuid(&uuid.hyphenated().to_string())
            {
                return Ok(n.to_string());
            }
        }
        Err(ApiError::NotFound {
            kind: ObjectKind::Network,
            by: LookupKey::Name,
            name: key.to_string(),
        })
    }

    fn network_info(&self, name: &str) -> Result<NetworkInfo, ApiError> {
        if let Some(live) = self.transient_network(name) {
            return Ok(NetworkInfo {
                name: name.to_string(),
                uuid: live
                    .uuid
                    .map(|u| u.hyphenated().to_string())
                    .unwrap_or_default(),
                active: true,
                persistent: false,
                autostart: false,
                bridge: live.bridge.name.clone(),
            });
        }
        let entry = self
            .store
            .networks
            .get(name)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Network, name))?;
        Ok(NetworkInfo {
            name: name.to_string(),
            uuid: entry.uuid.clone(),
            active: self.network_active(name),
            persistent: true,
            autostart: self.store.networks.autostart(name),
            bridge: network::bridge(&entry.xml),
        })
    }

    fn define_network(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let name = crate::xml::Network::parse(xml)?.name;
        check_file_name("network", &name)?;
        self.locked(|d| {
            let used: Vec<String> = d
                .store
                .networks
                .entries()
                .iter()
                .filter(|(n, _)| **n != name)
                .filter_map(|(_, e)| network::bridge(&e.xml))
                .collect();
            let (el, uuid) = network::prepare(xml, &used)?;
            let same_name = d.store.networks.get(&name).map(|e| e.uuid.clone());
            let same_uuid = d.store.networks.name_by_uuid(&uuid).map(str::to_string);
            match (&same_name, &same_uuid) {
                (Some(existing), _) if *existing != uuid => {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Network,
                        name: name.clone(),
                        uuid: Some(existing.clone()),
                    })
                }
                (_, Some(other)) if *other != name => {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Network,
                        name: other.clone(),
                        uuid: Some(uuid.clone()),
                    })
                }
                _ => {}
            }
            let canonical = network::canonical(&el)?;
            d.store.networks.put(&name, &canonical)?;
            let event = if same_name.is_some() {
                ObjectEvent::Changed
            } else {
                ObjectEvent::Defined
            };
            d.emit(ObjectKind::Network, &name, None, event);
            Ok(Reply::Network(d.network_info(&name)?))
        })
    }

    pub(super) fn network_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListNetworks => {
                let mut names: Vec<String> =
                    self.store.networks.entries().keys().cloned().collect();
                names.extend(self.transient_names());
                let list = names
                    .iter()
                    .map(|n| self.network_info(n))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Reply::Networks(list))
            }
            Command::LookupNetwork { network } | Command::NetworkInfo { network } => {
                let name = self.network_name(&network)?;
                Ok(Reply::Network(self.network_info(&name)?))
            }
            Command::DefineNetwork { xml } => self.define_network(&xml),
            Command::CreateNetwork { xml } => self.locked(|d| {
                let name = d.create_network(&xml)?;
                Ok(Reply::Network(d.network_info(&name)?))
            }),
            Command::UndefineNetwork { network } => self.locked(|d| {
                let name = d.network_name(&network)?;
                if d.transient_network(&name).is_some() {
                    return Err(ApiError::invalid_op(TRANSIENT));
                }
                if d.network_active(&name) {
                    return Err(ApiError::invalid_op(format!(
                        "network '{name}' is active; net-destroy it first"
                    )));
                }
                d.store.networks.remove(&name)?;
                d.emit(ObjectKind::Network, &name, None, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }),
            Command::NetworkXml { network, inactive } => {
                let name = self.network_name(&network)?;
                if let Some(live) = self.live_network(&name).filter(|_| !inactive) {
                    return Ok(Reply::Xml(live.to_live_xml(0)));
                }
                let entry = self
                    .store
                    .networks
                    .get(&name)
                    .ok_or_else(|| ApiError::not_found(ObjectKind::Network, &name))?;
                Ok(Reply::Xml(network::canonical(&entry.xml)?))
            }
            Command::StartNetwork { network } => self.locked(|d| {
                let name = d.network_name(&network)?;
                d.start_network(&name)?;
                Ok(Reply::Done)
            }),
            Command::DestroyNetwork { network } => self.locked(|d| {
                let name = d.network_name(&network)?;
                d.destroy_network(&name)?;
                Ok(Reply::Done)
            }),
            Command::NetworkDhcpLeases { network, mac } => {
                let name = self.network_name(&network)?;
                Ok(Reply::Leases(self.network_leases(&name, mac)?))
            }
            Command::SetNetworkAutostart { network, enabled } => self.locked(|d| {
                let name = d.network_name(&network)?;
                if d.transient_network(&name).is_some() {
                    return Err(ApiError::invalid_op(
                        "cannot set autostart for transient network",
                    ));
                }
                d.store.networks.set_autostart(&name, enabled)?;
                d.emit(ObjectKind::Network, &name, None, ObjectEvent::Changed);
                Ok(Reply::Done)
            }),
            Command::UpdateNetwork {
                network,
                op,
                section,
                xml,
                parent_index,
                scope,
            } => self.locked(|d| {
                let name = d.network_name(&network)?;
                let live = d.live_network(&name);
                let persistent = d.transient_network(&name).is_none();
                if scope.config && !persistent {
                    return Err(ApiError::invalid_op(TRANSIENT));
                }
                // No flag: the running network if it runs, and the definition.
                let (change_live, change_config) = if !scope.live && !scope.config {
                    (live.is_some(), persistent)
                } else {
                    (scope.live, scope.config)
                };
                if change_live && live.is_none() {
                    return Err(ApiError::invalid_op("network is not active"));
                }
                let mut el = match d.store.networks.get(&name) {
                    Some(e) => e.xml.clone(),
                    None => crate::xml::Element::new("network"),
                };
                let new_live = match (change_live, live) {
                    (true, Some(running)) => {
                        let mut live_el = crate::xml::parse_root(&running.to_xml(), "network")?;
                        network::update(&mut live_el, op, &section, &xml, parent_index)?;
                        Some(crate::xml::Network::parse(&live_el.to_xml())?)
                    }
                    _ => None,
                };
                if change_config {
                    network::update(&mut el, op, &section, &xml, parent_index)?;
                    network::canonical(&el)?;
                }
                if let Some(net) = &new_live {
                    d.apply_live_network(net)?;
                }
                if change_config {
                    d.store.networks.put(&name, &network::canonical(&el)?)?;
                }
                d.emit(ObjectKind::Network, &name, None, ObjectEvent::Changed);
                Ok(Reply::Done)
            }),
            other => Err(ApiError::Internal(format!(
                "not a network command: {other:?}"
            ))),
        }
    }
}
