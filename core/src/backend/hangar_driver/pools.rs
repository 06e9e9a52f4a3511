//! Directory pools in the hangar driver: definitions in the store, the
//! started state as a marker under the runtime folder (gone after a reboot,
//! when autostart pools start again on the first connection).

use std::path::{Path, PathBuf};

use super::domains::check_file_name;
use super::HangarDriver;
use crate::api::{
    ApiError, Command, LookupKey, ObjectEvent, ObjectKind, PoolInfo, PoolState, Reply,
};
use crate::backend::definition::pool;
use crate::backend::store::atomic::{remove_durable, write_atomic};
use crate::storage::{dir_pool, StorageError};
use crate::xml::{ids, Element};

/// Mode of a pool folder built without `<permissions><mode>`.
const DEFAULT_POOL_MODE: u32 = 0o755;

/// Maps a storage engine error to the API's.
pub(super) fn storage_error(err: StorageError) -> ApiError {
    match err {
        StorageError::Io {
            path,
            action,
            source,
        } => ApiError::io(action, &path, &source),
        other => ApiError::Storage(other.to_string()),
    }
}

impl HangarDriver {
    pub(super) fn pool_name(&self, key: &str) -> Result<String, ApiError> {
        if self.store.pools.get(key).is_some() {
            return Ok(key.to_string());
        }
        if let Ok(uuid) = ids::parse_uuid(key) {
            if let Some(n) = self
                .store
                .pools
                .name_by_uuid(&uuid.hyphenated().to_string())
            {
                return Ok(n.to_string());
            }
        }
        Err(ApiError::NotFound {
            kind: ObjectKind::Pool,
            by: LookupKey::Name,
            name: key.to_string(),
        })
    }

    fn active_marker(&self, name: &str) -> PathBuf {
        self.store.paths.runtime.join("pools").join(name)
    }

    pub(super) fn pool_active(&self, name: &str) -> bool {
        self.active_marker(name).exists()
    }

    pub(super) fn pool_xml(&self, name: &str) -> Result<&Element, ApiError> {
        self.store
            .pools
            .get(name)
            .map(|e| &e.xml)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Pool, name))
    }

    /// The pool's folder.
    pub(super) fn pool_target(&self, name: &str) -> Result<PathBuf, ApiError> {
        pool::target_path(self.pool_xml(name)?)
            .map(PathBuf::from)
            .ok_or_else(|| ApiError::Invalid(format!("pool '{name}' has no target path")))
    }

    pub(super) fn require_pool_active(&self, name: &str) -> Result<(), ApiError> {
        if !self.pool_active(name) {
            return Err(ApiError::invalid_op(format!(
                "storage pool '{name}' is not active"
            )));
        }
        Ok(())
    }

    fn require_pool_inactive(&self, name: &str) -> Result<(), ApiError> {
        if self.pool_active(name) {
            return Err(ApiError::invalid_op(format!(
                "storage pool '{name}' is still active"
            )));
        }
        Ok(())
    }

    fn pool_info(&self, name: &str) -> Result<PoolInfo, ApiError> {
        let entry = self
            .store
            .pools
            .get(name)
            .ok_or_else(|| ApiError::not_found(ObjectKind::Pool, name))?;
        let active = self.pool_active(name);
        let target = pool::target_path(&entry.xml);
        let (state, stats) = match (&target, active) {
            (Some(t), true) => match dir_pool::stats(Path::new(t)) {
                Ok(s) => (PoolState::Running, Some(s)),
                // Started, but its folder is gone or unreadable.
                Err(_) => (PoolState::Inaccessible, None),
            },
            _ => (PoolState::Inactive, None),
        };
        Ok(PoolInfo {
            name: name.to_string(),
            uuid: entry.uuid.clone(),
            pool_type: pool::pool_type(&entry.xml),
            state,
            persistent: true,
            autostart: self.store.pools.autostart(name),
            capacity: stats.map_or(0, |s| s.capacity),
            allocation: stats.map_or(0, |s| s.allocation),
            available: stats.map_or(0, |s| s.available),
            target_path: target,
        })
    }

    fn define_pool(&mut self, xml: &str) -> Result<Reply, ApiError> {
        let (el, uuid) = pool::prepare(xml)?;
        let name = el.child_text("name").unwrap_or_default();
        check_file_name("pool", &name)?;
        let kind = pool::pool_type(&el);
        if kind != "dir" {
            return Err(ApiError::unsupported(format!(
                "the hangar driver supports only 'dir' pools, not '{kind}'"
            )));
        }
        if pool::target_path(&el).is_none() {
            return Err(ApiError::Invalid("missing storage pool target path".into()));
        }
        let canonical = pool::canonical(&el)?;
        self.locked(|d| {
            let same_name = d.store.pools.get(&name).map(|e| e.uuid.clone());
            let same_uuid = d.store.pools.name_by_uuid(&uuid).map(str::to_string);
            match (&same_name, &same_uuid) {
                (Some(existing), _) if *existing != uuid => {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Pool,
                        name: name.clone(),
                        uuid: Some(existing.clone()),
                    })
                }
                (_, Some(other)) if *other != name => {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Pool,
                        name: other.clone(),
                        uuid: Some(uuid.clone()),
                    })
                }
                _ => {}
            }
            d.store.pools.put(&name, &canonical)?;
            let event = if same_name.is_some() {
                ObjectEvent::Changed
            } else {
                ObjectEvent::Defined
            };
            d.emit(ObjectKind::Pool, &name, None, event);
            Ok(Reply::Pool(d.pool_info(&name)?))
        })
    }

    fn build_pool(&self, name: &str) -> Result<(), ApiError> {
        let el = self.pool_xml(name)?;
        let mode = el
            .child("target")
            .and_then(|t| t.child("permissions"))
            .and_then(|p| p.child_text("mode"))
            .and_then(|m| u32::from_str_radix(m.trim(), 8).ok())
            .unwrap_or(DEFAULT_POOL_MODE);
        let target = self.pool_target(name)?;
        dir_pool::build(&target, mode).map_err(storage_error)
    }

    fn start_pool(&mut self, name: &str, build: bool) -> Result<(), ApiError> {
        if self.pool_active(name) {
            return Err(ApiError::invalid_op(format!(
                "storage pool '{name}' is already active"
            )));
        }
        if build {
            self.build_pool(name)?;
        }
        let target = self.pool_target(name)?;
        if !target.is_dir() {
            return Err(ApiError::Io {
                op: "cannot open directory".into(),
                path: target.display().to_string(),
                message: "No such file or directory".into(),
            });
        }
        let marker = self.active_marker(name);
        if let Some(dir) = marker.parent() {
            std::fs::create_dir_all(dir)
                .map_err(|e| ApiError::io("cannot create directory", dir, &e))?;
        }
        write_atomic(&marker, b"", 0o644)
            .map_err(|e| ApiError::io("cannot write file", &marker, &e))?;
        self.emit(ObjectKind::Pool, name, None, ObjectEvent::Started);
        Ok(())
    }

    fn stop_pool(&mut self, name: &str) -> Result<(), ApiError> {
        let marker = self.active_marker(name);
        remove_durable(&marker).map_err(|e| ApiError::io("cannot remove file", &marker, &e))?;
        self.emit(ObjectKind::Pool, name, None, ObjectEvent::Stopped);
        Ok(())
    }

    /// The `default` pool (`DATA/images`), made on the store's first use.
    pub(super) fn create_default_pool(&mut self) -> Result<(), ApiError> {
        if self.store.pools.get("default").is_some() {
            return Ok(());
        }
        let images = self.store.paths.images();
        let xml = Element::new("pool")
            .with_attr("type", "dir")
            .with_child(Element::new("name").with_text("default"))
            .with_child(
                Element::new("target")
                    .with_child(Element::new("path").with_text(images.display().to_string())),
            )
            .to_xml();
        let (el, _) = pool::prepare(&xml)?;
        self.store.pools.put("default", &pool::canonical(&el)?)?;
        self.store.pools.set_autostart("default", true)?;
        self.emit(ObjectKind::Pool, "default", None, ObjectEvent::Defined);
        self.build_pool("default")?;
        self.start_pool("default", false)
    }

    /// Starts autostart pools once per boot (the runtime folder is new after one).
    pub(super) fn autostart_once(&mut self) -> Result<(), ApiError> {
        let marker = self.store.paths.runtime.join(".autostarted");
        if marker.exists() {
            return Ok(());
        }
        self.autostart_networks();
        self.autostart_domains();
        let names: Vec<String> = self.store.pools.entries().keys().cloned().collect();
        for name in names {
            if self.store.pools.autostart(&name) && !self.pool_active(&name) {
                if let Err(e) = self.start_pool(&name, false) {
                    self.report(crate::api::StoreProblem {
                        path: self
                            .store
                            .pools
                            .dir()
                            .join(format!("{name}.xml"))
                            .display()
                            .to_string(),
                        message: format!("cannot autostart pool '{name}': {e}"),
                    });
                }
            }
        }
        write_atomic(&marker, b"", 0o644)
            .map_err(|e| ApiError::io("cannot write file", &marker, &e))
    }

    pub(super) fn pool_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListPools => {
                let names: Vec<String> = self.store.pools.entries().keys().cloned().collect();
                let list = names
                    .iter()
                    .map(|n| self.pool_info(n))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Reply::Pools(list))
            }
            Command::LookupPool { pool } | Command::PoolInfo { pool } => {
                let name = self.pool_name(&pool)?;
                Ok(Reply::Pool(self.pool_info(&name)?))
            }
            Command::DefinePool { xml } => self.define_pool(&xml),
            Command::DefinePoolAs(args) => self.define_pool(&pool::define_as_xml(&args)?),
            Command::BuildPool { pool, .. } => self.locked(|d| {
                let name = d.pool_name(&pool)?;
                if d.pool_active(&name) {
                    return Err(ApiError::invalid_op(format!(
                        "storage pool '{name}' is already active"
                    )));
                }
                d.build_pool(&name)?;
                Ok(Reply::Done)
            }),
            Command::StartPool { pool, build } => self.locked(|d| {
                let name = d.pool_name(&pool)?;
                d.start_pool(&name, build)?;
                Ok(Reply::Done)
            }),
            Command::DestroyPool { pool } => self.locked(|d| {
                let name = d.pool_name(&pool)?;
                d.require_pool_active(&name)?;
                d.stop_pool(&name)?;
                Ok(Reply::Done)
            }),
            Command::SetPoolAutostart { pool, enabled } => self.locked(|d| {
                let name = d.pool_name(&pool)?;
                d.store.pools.set_autostart(&name, enabled)?;
                d.emit(ObjectKind::Pool, &name, None, ObjectEvent::Changed);
                Ok(Reply::Done)
            }),
            Command::RefreshPool { pool } => {
                let name = self.pool_name(&pool)?;
                self.require_pool_active(&name)?;
                let target = self.pool_target(&name)?;
                let report = dir_pool::scan_report(&target).map_err(storage_error)?;
                for (path, err) in report.skipped {
                    self.report(crate::api::StoreProblem {
                        path: path.display().to_string(),
                        message: err.to_string(),
                    });
                }
                self.emit(ObjectKind::Pool, &name, None, ObjectEvent::Refreshed);
                Ok(Reply::Done)
            }
            Command::PoolXml { pool, inactive } => {
                let name = self.pool_name(&pool)?;
                let mut el = self.pool_xml(&name)?.clone();
                let info = self.pool_info(&name)?;
                if !inactive {
                    pool::set_sizes(&mut el, info.capacity, info.allocation, info.available);
                }
                Ok(Reply::Xml(pool::canonical(&el)?))
            }
            Command::UndefinePool { pool } => self.locked(|d| {
                let name = d.pool_name(&pool)?;
                d.require_pool_inactive(&name)?;
                d.store.pools.remove(&name)?;
                d.emit(ObjectKind::Pool, &name, None, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }),
            Command::DeletePool { pool } => self.locked(|d| {
                let name = d.pool_name(&pool)?;
                d.require_pool_inactive(&name)?;
                let target = d.pool_target(&name)?;
                dir_pool::delete(&target).map_err(storage_error)?;
                d.emit(ObjectKind::Pool, &name, None, ObjectEvent::Changed);
                Ok(Reply::Done)
            }),
            other => Err(ApiError::Internal(format!("not a pool command: {other:?}"))),
        }
    }
}
