//! Typed shortcuts on [`Connection`] for the commands callers use most.

use super::command::{Command, VolumeRef};
use super::connection::Connection;
use super::error::ApiError;
use super::reply::Reply;
use super::types::{DomainInfo, HostInfo, NetworkInfo, PoolInfo, VolumeInfo};

impl Connection {
    /// Sends a command that answers [`Reply::Done`].
    pub async fn run(&self, command: Command) -> Result<(), ApiError> {
        match self.call(command).await? {
            Reply::Done => Ok(()),
            other => Err(other.unexpected("done")),
        }
    }

    /// Sends a command that answers an XML document or a line of text.
    pub async fn text(&self, command: Command) -> Result<String, ApiError> {
        match self.call(command).await? {
            Reply::Xml(s) | Reply::Text(s) => Ok(s),
            other => Err(other.unexpected("xml")),
        }
    }

    /// The host's information.
    pub async fn host_info(&self) -> Result<HostInfo, ApiError> {
        match self.call(Command::HostInfo).await? {
            Reply::Host(h) => Ok(h),
            other => Err(other.unexpected("host")),
        }
    }

    /// All domains, running or not.
    pub async fn list_domains(&self) -> Result<Vec<DomainInfo>, ApiError> {
        match self.call(Command::ListDomains).await? {
            Reply::Domains(v) => Ok(v),
            other => Err(other.unexpected("domains")),
        }
    }

    /// One domain's information (`dominfo`).
    pub async fn domain_info(&self, domain: &str) -> Result<DomainInfo, ApiError> {
        let command = Command::DomainInfo {
            domain: domain.to_string(),
        };
        match self.call(command).await? {
            Reply::Domain(d) => Ok(d),
            other => Err(other.unexpected("domain")),
        }
    }

    /// Defines (or redefines) a domain from XML.
    pub async fn define_domain(&self, xml: &str) -> Result<DomainInfo, ApiError> {
        let command = Command::DefineDomain {
            xml: xml.to_string(),
        };
        match self.call(command).await? {
            Reply::Domain(d) => Ok(d),
            other => Err(other.unexpected("domain")),
        }
    }

    /// All networks.
    pub async fn list_networks(&self) -> Result<Vec<NetworkInfo>, ApiError> {
        match self.call(Command::ListNetworks).await? {
            Reply::Networks(v) => Ok(v),
            other => Err(other.unexpected("networks")),
        }
    }

    /// One network's information (`net-info`).
    pub async fn network_info(&self, network: &str) -> Result<NetworkInfo, ApiError> {
        let command = Command::NetworkInfo {
            network: network.to_string(),
        };
        match self.call(command).await? {
            Reply::Network(n) => Ok(n),
            other => Err(other.unexpected("network")),
        }
    }

    /// Defines (or redefines) a network from XML.
    pub async fn define_network(&self, xml: &str) -> Result<NetworkInfo, ApiError> {
        let command = Command::DefineNetwork {
            xml: xml.to_string(),
        };
        match self.call(command).await? {
            Reply::Network(n) => Ok(n),
            other => Err(other.unexpected("network")),
        }
    }

    /// All storage pools.
    pub async fn list_pools(&self) -> Result<Vec<PoolInfo>, ApiError> {
        match self.call(Command::ListPools).await? {
            Reply::Pools(v) => Ok(v),
            other => Err(other.unexpected("pools")),
        }
    }

    /// One pool's information (`pool-info`).
    pub async fn pool_info(&self, pool: &str) -> Result<PoolInfo, ApiError> {
        let command = Command::PoolInfo {
            pool: pool.to_string(),
        };
        match self.call(command).await? {
            Reply::Pool(p) => Ok(p),
            other => Err(other.unexpected("pool")),
        }
    }

    /// The volumes of a pool.
    pub async fn list_volumes(&self, pool: &str) -> Result<Vec<VolumeInfo>, ApiError> {
        let command = Command::ListVolumes {
            pool: pool.to_string(),
        };
        match self.call(command).await? {
            Reply::Volumes(v) => Ok(v),
            other => Err(other.unexpected("volumes")),
        }
    }

    /// One volume's information (`vol-info`).
    pub async fn volume_info(&self, volume: VolumeRef) -> Result<VolumeInfo, ApiError> {
        match self.call(Command::VolumeInfo { volume }).await? {
            Reply::Volume(v) => Ok(v),
            other => Err(other.unexpected("volume")),
        }
    }
}
