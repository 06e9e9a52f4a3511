//! Storage pool commands of the test driver.

use super::state::TestPool;
use super::TestDriver;
use crate::api::{ApiError, Command, LookupKey, ObjectEvent, ObjectKind, Reply};
use crate::backend::definition::pool;
use crate::xml::ids;

/// Size of a pool defined without one (as libvirt's test driver: 100 GiB).
const NEW_POOL_CAPACITY: u64 = 100 << 30;

impl TestDriver {
    pub(super) fn find_pool(&self, key: &str) -> Result<usize, ApiError> {
        if let Ok(uuid) = ids::parse_uuid(key) {
            let uuid = uuid.hyphenated().to_string();
            if let Some(i) = self.pools.iter().position(|p| p.uuid == uuid) {
                return Ok(i);
            }
        }
        self.pools
            .iter()
            .position(|p| p.name == key)
            .ok_or_else(|| ApiError::NotFound {
                kind: ObjectKind::Pool,
                by: LookupKey::Name,
                name: key.to_string(),
            })
    }

    pub(super) fn pool_event(&self, name: &str, event: ObjectEvent) {
        self.emit_object(ObjectKind::Pool, name, None, event);
    }

    pub(super) fn require_pool_active(&self, index: usize) -> Result<(), ApiError> {
        if !self.pools[index].active {
            return Err(ApiError::invalid_op(format!(
                "storage pool '{}' is not active",
                self.pools[index].name
            )));
        }
        Ok(())
    }

    fn require_pool_inactive(&self, index: usize) -> Result<(), ApiError> {
        if self.pools[index].active {
            return Err(ApiError::invalid_op(format!(
                "storage pool '{}' is still active",
                self.pools[index].name
            )));
        }
        Ok(())
    }

    fn define_pool(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let (config, uuid) = pool::prepare(xml)?;
        let name = config.child_text("name").unwrap_or_default();
        let by_name = self.pools.iter().position(|p| p.name == name);
        let by_uuid = self.pools.iter().position(|p| p.uuid == uuid);
        match (by_name, by_uuid) {
            (Some(i), Some(j)) if i == j => {
                self.pools[i].config = config;
                self.pools[i].persistent = true;
                self.pool_event(&name, ObjectEvent::Changed);
                Ok(Reply::Pool(self.pools[i].info()))
            }
            (Some(i), _) => Err(ApiError::AlreadyExists {
                kind: ObjectKind::Pool,
                name,
                uuid: Some(self.pools[i].uuid.clone()),
            }),
            (None, Some(j)) => Err(ApiError::AlreadyExists {
                kind: ObjectKind::Pool,
                name: self.pools[j].name.clone(),
                uuid: Some(uuid),
            }),
            (None, None) => {
                self.pools.push(TestPool {
                    name: name.clone(),
                    uuid,
                    config,
                    active: false,
                    persistent: true,
                    autostart: false,
                    capacity: NEW_POOL_CAPACITY,
                    base_allocation: 0,
                    volumes: Vec::new(),
                });
                self.pool_event(&name, ObjectEvent::Defined);
                Ok(Reply::Pool(self.pools[self.pools.len() - 1].info()))
            }
        }
    }

    pub(super) fn pool_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListPools => Ok(Reply::Pools(
                self.pools.iter().map(TestPool::info).collect(),
            )),
            Command::LookupPool { pool } | Command::PoolInfo { pool } => {
                let i = self.find_pool(&pool)?;
                Ok(Reply::Pool(self.pools[i].info()))
            }
            Command::DefinePool { xml } => self.define_pool(&xml),
            Command::DefinePoolAs(args) => self.define_pool(&pool::define_as_xml(&args)?),
            Command::BuildPool { pool, .. } => {
                let i = self.find_pool(&pool)?;
                self.require_pool_inactive(i)?;
                Ok(Reply::Done)
            }
            Command::StartPool { pool, .. } => {
                let i = self.find_pool(&pool)?;
                if self.pools[i].active {
                    return Err(ApiError::invalid_op(format!(
                        "storage pool '{}' is already active",
                        self.pools[i].name
                    )));
                }
                self.pools[i].active = true;
                let name = self.pools[i].name.clone();
                self.pool_event(&name, ObjectEvent::Started);
                Ok(Reply::Done)
            }
            Command::DestroyPool { pool } => {
                let i = self.find_pool(&pool)?;
                self.require_pool_active(i)?;
                self.pools[i].active = false;
                let name = self.pools[i].name.clone();
                if !self.pools[i].persistent {
                    self.pools.remove(i);
                }
                self.pool_event(&name, ObjectEvent::Stopped);
                Ok(Reply::Done)
            }
            Command::SetPoolAutostart { pool, enabled } => {
                let i = self.find_pool(&pool)?;
                if !self.pools[i].persistent {
                    return Err(ApiError::invalid_op(
                        "cannot set autostart for transient pool",
                    ));
                }
                self.pools[i].autostart = enabled;
                let name = self.pools[i].name.clone();
                self.pool_event(&name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            Command::RefreshPool { pool } => {
                let i = self.find_pool(&pool)?;
                self.require_pool_active(i)?;
                let name = self.pools[i].name.clone();
                self.pool_event(&name, ObjectEvent::Refreshed);
                Ok(Reply::Done)
            }
            Command::PoolXml { pool, .. } => {
                let i = self.find_pool(&pool)?;
                let p = &self.pools[i];
                let mut el = p.config.clone();
                let info = p.info();
                pool::set_sizes(&mut el, info.capacity, info.allocation, info.available);
                Ok(Reply::Xml(pool::canonical(&el)?))
            }
            Command::UndefinePool { pool } => {
                let i = self.find_pool(&pool)?;
                self.require_pool_inactive(i)?;
                let name = self.pools.remove(i).name;
                self.pool_event(&name, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }
            Command::DeletePool { pool } => {
                let i = self.find_pool(&pool)?;
                self.require_pool_inactive(i)?;
                self.pools[i].volumes.clear();
                let name = self.pools[i].name.clone();
                self.pool_event(&name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            other => Err(ApiError::Internal(format!("not a pool command: {other:?}"))),
        }
    }
}
