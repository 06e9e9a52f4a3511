//! Volumes of directory pools, made and changed by the storage engine.
//! A volume is a file in the pool's folder; what it is (format, sizes,
//! backing file) is always read from the file itself.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::pools::storage_error;
use super::HangarDriver;
use crate::api::{
    ApiError, Command, LookupKey, ObjectEvent, ObjectKind, Reply, VolumeInfo, VolumeKind, VolumeRef,
};
use crate::backend::definition::volume::{self, VolumeExtras, VolumeRequest};
use crate::storage::{self, CreateOptions, StorageError, VolumeFormat};

fn parse_format(name: &str) -> Result<VolumeFormat, ApiError> {
    name.parse::<VolumeFormat>().map_err(|_| {
        ApiError::unsupported(format!(
            "unknown volume format '{name}' (use raw, qcow2 or iso)"
        ))
    })
}

/// A located volume: its pool and file.
struct Located {
    pool: String,
    name: String,
    path: PathBuf,
}

impl HangarDriver {
    fn active_pool_target(&self, key: &str) -> Result<(String, PathBuf), ApiError> {
        let name = self.pool_name(key)?;
        self.require_pool_active(&name)?;
        let target = self.pool_target(&name)?;
        Ok((name, target))
    }

    fn locate(&self, r: &VolumeRef) -> Result<Located, ApiError> {
        let not_found = |by| ApiError::NotFound {
            kind: ObjectKind::Volume,
            by,
            name: r.volume.clone(),
        };
        if let Some(pool) = &r.pool {
            let (pool, target) = self.active_pool_target(pool)?;
            let given = Path::new(&r.volume);
            let path = if given.is_absolute() {
                given.to_path_buf()
            } else {
                target.join(&r.volume)
            };
            let in_pool = path.parent() == Some(target.as_path());
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if !in_pool || name.is_empty() || name.starts_with('.') || !path.is_file() {
                return Err(not_found(LookupKey::Name));
            }
            return Ok(Located { pool, name, path });
        }
        let path = PathBuf::from(&r.volume);
        if path.is_absolute() && path.is_file() {
            let names: Vec<String> = self.store.pools.entries().keys().cloned().collect();
            for pool in names {
                if !self.pool_active(&pool) {
                    continue;
                }
                let Ok(target) = self.pool_target(&pool) else {
                    continue;
                };
                if path.parent() == Some(target.as_path()) {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    return Ok(Located { pool, name, path });
                }
            }
        }
        Err(not_found(if path.is_absolute() {
            LookupKey::Path
        } else {
            LookupKey::Key
        }))
    }

    fn volume_info(&self, at: &Located) -> Result<(VolumeInfo, storage::VolumeInfo), ApiError> {
        let probed = storage::probe_volume(&at.path).map_err(storage_error)?;
        let path = at.path.display().to_string();
        Ok((
            VolumeInfo {
                name: at.name.clone(),
                pool: at.pool.clone(),
                key: path.clone(),
                path,
                kind: VolumeKind::File,
                format: probed.format.as_str().to_string(),
                capacity: probed.capacity,
                allocation: probed.allocation,
                backing: probed.backing.as_ref().map(|b| b.display().to_string()),
            },
            probed,
        ))
    }

    fn volume_event(&self, pool: &str, name: &str, event: ObjectEvent) {
        self.emit(ObjectKind::Volume, name, Some(pool), event);
    }

    /// The new volume's path in the pool, checked to be a free, plain file name.
    fn new_volume_path(&self, target: &Path, name: &str) -> Result<PathBuf, ApiError> {
        super::domains::check_file_name("volume", name)?;
        let path = target.join(name);
        if path.symlink_metadata().is_ok() {
            return Err(ApiError::AlreadyExists {
                kind: ObjectKind::Volume,
                name: name.to_string(),
                uuid: None,
            });
        }
        Ok(path)
    }

    fn create_volume(&mut self, pool: &str, request: VolumeRequest) -> Result<Reply, ApiError> {
        let (pool, target) = self.active_pool_target(pool)?;
        let path = self.new_volume_path(&target, &request.name)?;
        let format = parse_format(request.format.as_deref().unwrap_or("raw"))?;
        let backing = match &request.backing {
            Some(b) => {
                let located = self
                    .locate(&VolumeRef::in_pool(pool.clone(), b.clone()))
                    .or_else(|_| self.locate(&VolumeRef::by_path(b.clone())));
                let backing_path = match located {
                    Ok(l) => l.path,
                    Err(_) => PathBuf::from(b),
                };
                let backing_format = match &request.backing_format {
                    Some(f) => parse_format(f)?,
                    None => {
                        storage::probe_volume(&backing_path)
                            .map_err(storage_error)?
                            .format
                    }
                };
                Some((backing_path, backing_format))
            }
            None => None,
        };
        let capacity = match (request.capacity, &backing) {
            (Some(c), _) => c,
            (None, Some(_)) => 0,
            (None, None) => return Err(ApiError::Invalid("missing capacity element".into())),
        };
        let options = CreateOptions {
            format,
            capacity,
            allocation: request.allocation.unwrap_or(0),
            backing,
            cluster_size: request
                .cluster_size
                .map(|c| {
                    u32::try_from(c)
                        .map_err(|_| ApiError::InvalidArg(format!("cluster size {c} is too large")))
                })
                .transpose()?,
            lazy_refcounts: request.lazy_refcounts,
            compat: request.compat.clone(),
            nocow: request.nocow,
        };
        storage::create_volume(&path, &options).map_err(|e| self.volume_error(e, &request.name))?;
        self.finish_new_volume(pool, request.name, path)
    }

    fn finish_new_volume(
        &mut self,
        pool: String,
        name: String,
        path: PathBuf,
    ) -> Result<Reply, ApiError> {
        let located = Located { pool, name, path };
        let (info, _) = self.volume_info(&located)?;
        self.volume_event(&located.pool, &located.name, ObjectEvent::Defined);
        Ok(Reply::Volume(info))
    }

    fn volume_error(&self, err: StorageError, name: &str) -> ApiError {
        match err {
            StorageError::AlreadyExists { .. } => ApiError::AlreadyExists {
                kind: ObjectKind::Volume,
                name: name.to_string(),
                uuid: None,
            },
            other => storage_error(other),
        }
    }

    fn resize(
        &mut self,
        r: &VolumeRef,
        capacity: u64,
        delta: bool,
        shrink: bool,
        allocate: bool,
    ) -> Result<Reply, ApiError> {
        let at = self.locate(r)?;
        let (info, _) = self.volume_info(&at)?;
        let wanted = match (delta, shrink) {
            (true, true) => info
                .capacity
                .checked_sub(capacity)
                .ok_or_else(|| ApiError::InvalidArg("can't shrink capacity below 0".into()))?,
            (true, false) => info
                .capacity
                .checked_add(capacity)
                .ok_or_else(|| ApiError::InvalidArg("capacity too large".into()))?,
            (false, _) => capacity,
        };
        if wanted < info.capacity && !shrink {
            return Err(ApiError::InvalidArg(
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified"
                    .into(),
            ));
        }
        if allocate {
            return Err(ApiError::unsupported(
                "preallocating the new space of a resized volume is not supported",
            ));
        }
        storage::resize_volume(&at.path, wanted, shrink).map_err(storage_error)?;
        self.volume_event(&at.pool, &at.name, ObjectEvent::Changed);
        Ok(Reply::Done)
    }

    fn volume_document(&self, at: &Located) -> Result<String, ApiError> {
        let (info, probed) = self.volume_info(at)?;
        let meta = std::fs::metadata(&at.path)
            .map_err(|e| ApiError::io("cannot stat file", &at.path, &e))?;
        let extras = VolumeExtras {
            physical: Some(meta.len()),
            permissions: Some((meta.mode() & 0o7777, meta.uid(), meta.gid())),
            backing_format: probed.backing_format.map(|f| f.as_str().to_string()),
            compat: probed.compat.clone(),
            cluster_size: probed.cluster_size.map(u64::from),
            lazy_refcounts: probed.lazy_refcounts,
        };
        Ok(volume::document(&info, &extras))
    }

    pub(super) fn volume_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListVolumes { pool } => {
                let (pool, target) = self.active_pool_target(&pool)?;
                let scanned = storage::dir_pool::scan(&target).map_err(storage_error)?;
                let list = scanned
                    .into_iter()
                    .map(|(name, path, probed)| {
                        let path_text = path.display().to_string();
                        VolumeInfo {
                            name,
                            pool: pool.clone(),
                            key: path_text.clone(),
                            path: path_text,
                            kind: VolumeKind::File,
                            format: probed.format.as_str().to_string(),
                            capacity: probed.capacity,
                            allocation: probed.allocation,
                            backing: probed.backing.map(|b| b.display().to_string()),
                        }
                    })
                    .collect();
                Ok(Reply::Volumes(list))
            }
            Command::LookupVolume { volume } | Command::VolumeInfo { volume } => {
                let at = self.locate(&volume)?;
                Ok(Reply::Volume(self.volume_info(&at)?.0))
            }
            Command::CreateVolumeAs { pool, args } => {
                if args.prealloc_metadata {
                    return Err(ApiError::unsupported(
                        "metadata preallocation is not supported",
                    ));
                }
                let request = VolumeRequest {
                    name: args.name,
                    capacity: Some(args.capacity),
                    allocation: args.allocation,
                    format: args.format,
                    backing: args.backing_vol,
                    backing_format: args.backing_format,
                    compat: None,
                    cluster_size: None,
                    lazy_refcounts: false,
                    nocow: false,
                };
                self.create_volume(&pool, request)
            }
            Command::CreateVolumeXml { pool, xml } => {
                let request = volume::parse_request(&xml)?;
                self.create_volume(&pool, request)
            }
            Command::CreateVolumeXmlFrom { pool, xml, source } => {
                let request = volume::parse_request_lenient(&xml)?;
                let src = self.locate(&source)?;
                let (pool, target) = self.active_pool_target(&pool)?;
                let path = self.new_volume_path(&target, &request.name)?;
                let format = request.format.as_deref().map(parse_format).transpose()?;
                storage::clone_volume(&src.path, &path, format)
                    .map_err(|e| self.volume_error(e, &request.name))?;
                if let Some(capacity) = request.capacity {
                    let current = storage::probe_volume(&path)
                        .map_err(storage_error)?
                        .capacity;
                    if capacity > current {
                        storage::resize_volume(&path, capacity, false).map_err(storage_error)?;
                    }
                }
                self.finish_new_volume(pool, request.name, path)
            }
            Command::CloneVolume { volume, new_name } => {
                let src = self.locate(&volume)?;
                let target = self.pool_target(&src.pool)?;
                let path = self.new_volume_path(&target, &new_name)?;
                storage::clone_volume(&src.path, &path, None)
                    .map_err(|e| self.volume_error(e, &new_name))?;
                self.finish_new_volume(src.pool, new_name, path)
            }
            Command::ResizeVolume {
                volume,
                capacity,
                delta,
                shrink,
                allocate,
            } => self.resize(&volume, capacity, delta, shrink, allocate),
            Command::DeleteVolume { volume } => {
                let at = self.locate(&volume)?;
                storage::delete_volume(&at.path).map_err(storage_error)?;
                self.volume_event(&at.pool, &at.name, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }
            Command::WipeVolume { volume, algorithm } => {
                if let Some(a) = algorithm.filter(|a| a != "zero") {
                    return Err(ApiError::unsupported(format!(
                        "wiping algorithm '{a}' is not supported, only 'zero' is"
                    )));
                }
                let at = self.locate(&volume)?;
                storage::wipe_volume(&at.path).map_err(storage_error)?;
                self.volume_event(&at.pool, &at.name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            Command::VolumeXml { volume } => {
                let at = self.locate(&volume)?;
                Ok(Reply::Xml(self.volume_document(&at)?))
            }
            Command::VolumePath { volume } => {
                let at = self.locate(&volume)?;
                Ok(Reply::Text(at.path.display().to_string()))
            }
            other => Err(ApiError::Internal(format!(
                "not a volume command: {other:?}"
            ))),
        }
    }
}
