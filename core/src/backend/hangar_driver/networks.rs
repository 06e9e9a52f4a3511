//! Network definitions in the hangar driver. Networks are not started until
//! the virtual network work lands; those commands say so.

use super::domains::check_file_name;
use super::HangarDriver;
use crate::api::{ApiError, Command, LookupKey, NetworkInfo, ObjectEvent, ObjectKind, Reply};
use crate::backend::definition::network;
use crate::xml::ids;

/// What starting commands answer until virtual networks exist.
const CANNOT_START: &str = "the hangar driver cannot start networks yet";

impl HangarDriver {
    fn network_name(&self, key: &str) -> Result<String, ApiError> {
        if self.store.networks.get(key).is_some() {
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
        let entry = self
            .store
            .networks
            .get(name)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Network, name))?;
        Ok(NetworkInfo {
            name: name.to_string(),
            uuid: entry.uuid.clone(),
            active: false,
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
                let names: Vec<String> = self.store.networks.entries().keys().cloned().collect();
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
            Command::CreateNetwork { xml } => {
                crate::xml::Network::parse(&xml)?;
                Err(ApiError::unsupported(CANNOT_START))
            }
            Command::UndefineNetwork { network } => self.locked(|d| {
                let name = d.network_name(&network)?;
                d.store.networks.remove(&name)?;
                d.emit(ObjectKind::Network, &name, None, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }),
            Command::NetworkXml { network, .. } => {
                let name = self.network_name(&network)?;
                let entry = self
                    .store
                    .networks
                    .get(&name)
                    .ok_or_else(|| ApiError::not_found(ObjectKind::Network, &name))?;
                Ok(Reply::Xml(network::canonical(&entry.xml)?))
            }
            Command::StartNetwork { network } => {
                self.network_name(&network)?;
                Err(ApiError::unsupported(CANNOT_START))
            }
            Command::DestroyNetwork { network } | Command::NetworkDhcpLeases { network, .. } => {
                self.network_name(&network)?;
                Err(ApiError::invalid_op("network is not active"))
            }
            Command::SetNetworkAutostart { network, enabled } => self.locked(|d| {
                let name = d.network_name(&network)?;
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
            } => {
                if scope.live {
                    self.network_name(&network)?;
                    return Err(ApiError::invalid_op("network is not active"));
                }
                self.locked(|d| {
                    let name = d.network_name(&network)?;
                    let mut el = d
                        .store
                        .networks
                        .get(&name)
                        .map(|e| e.xml.clone())
                        .ok_or_else(|| ApiError::not_found(ObjectKind::Network, &name))?;
                    network::update(&mut el, op, &section, &xml, parent_index)?;
                    let canonical = network::canonical(&el)?;
                    d.store.networks.put(&name, &canonical)?;
                    d.emit(ObjectKind::Network, &name, None, ObjectEvent::Changed);
                    Ok(Reply::Done)
                })
            }
            other => Err(ApiError::Internal(format!(
                "not a network command: {other:?}"
            ))),
        }
    }
}
