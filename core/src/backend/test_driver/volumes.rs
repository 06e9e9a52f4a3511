//! Storage volume commands of the test driver: volumes are sizes in memory.

use super::state::TestVolume;
use super::TestDriver;
use crate::api::{
    ApiError, Command, LookupKey, ObjectEvent, ObjectKind, Reply, VolumeAs, VolumeKind, VolumeRef,
};
use crate::backend::definition::volume::{self, VolumeExtras, VolumeRequest};

impl TestDriver {
    /// `(pool index, volume index)` of a volume.
    fn find_volume(&self, r: &VolumeRef) -> Result<(usize, usize), ApiError> {
        if let Some(pool) = &r.pool {
            let p = self.find_pool(pool)?;
            self.require_pool_active(p)?;
            if let Some(v) = self.pools[p]
                .volumes
                .iter()
                .position(|v| v.name == r.volume || v.path == r.volume || v.key == r.volume)
            {
                return Ok((p, v));
            }
            return Err(ApiError::not_found(ObjectKind::Volume, &r.volume));
        }
        for (p, pool) in self.pools.iter().enumerate().filter(|(_, p)| p.active) {
            if let Some(v) = pool
                .volumes
                .iter()
                .position(|v| v.path == r.volume || v.key == r.volume)
            {
                return Ok((p, v));
            }
        }
        Err(ApiError::NotFound {
            kind: ObjectKind::Volume,
            by: if r.volume.starts_with('/') {
                LookupKey::Path
            } else {
                LookupKey::Key
            },
            name: r.volume.clone(),
        })
    }

    fn volume_event(&self, pool: usize, name: &str, event: ObjectEvent) {
        let pool_name = self.pools[pool].name.clone();
        self.emit_object(ObjectKind::Volume, name, Some(&pool_name), event);
    }

    /// Adds a volume to an active pool after the same checks libvirt makes.
    fn add_volume(&mut self, p: usize, request: VolumeRequest) -> Result<Reply, ApiError> {
        self.require_pool_active(p)?;
        crate::xml::ids::validate_name("volume", &request.name)?;
        let pool = &self.pools[p];
        if pool.volumes.iter().any(|v| v.name == request.name) {
            return Err(ApiError::AlreadyExists {
                kind: ObjectKind::Volume,
                name: request.name,
                uuid: None,
            });
        }
        let backing = match &request.backing {
            Some(b) => Some(self.resolve_backing(p, b)?),
            None => None,
        };
        let capacity = match (request.capacity, &backing) {
            (Some(c), _) => c,
            (None, Some(b)) => b.capacity,
            (None, None) => return Err(ApiError::Invalid("missing capacity element".into())),
        };
        let allocation = request.allocation.unwrap_or(0).min(capacity);
        let pool = &self.pools[p];
        if allocation > pool.available() {
            return Err(ApiError::Storage(format!(
                "Not enough free space in pool for volume '{}'",
                request.name
            )));
        }
        let path = format!("{}/{}", pool.target().trim_end_matches('/'), request.name);
        let vol = TestVolume {
            name: request.name.clone(),
            key: path.clone(),
            path,
            kind: VolumeKind::File,
            format: request.format.unwrap_or_else(|| "raw".to_string()),
            capacity,
            allocation,
            backing_format: request
                .backing_format
                .or_else(|| backing.as_ref().map(|b| b.format.clone())),
            backing: backing.map(|b| b.path),
        };
        let info = vol.info(&pool.name);
        let pool = &mut self.pools[p];
        let at = pool
            .volumes
            .iter()
            .position(|v| v.name > vol.name)
            .unwrap_or(pool.volumes.len());
        pool.volumes.insert(at, vol);
        self.volume_event(p, &info.name, ObjectEvent::Defined);
        Ok(Reply::Volume(info))
    }

    fn resolve_backing(&self, p: usize, backing: &str) -> Result<TestVolume, ApiError> {
        let in_pool = VolumeRef::in_pool(self.pools[p].name.clone(), backing);
        let found = self
            .find_volume(&in_pool)
            .or_else(|_| self.find_volume(&VolumeRef::by_path(backing)))?;
        Ok(self.pools[found.0].volumes[found.1].clone())
    }

    fn request_from_args(args: VolumeAs) -> VolumeRequest {
        VolumeRequest {
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
        }
    }

    fn resize_volume(
        &mut self,
        r: &VolumeRef,
        capacity: u64,
        delta: bool,
        shrink: bool,
        allocate: bool,
    ) -> Result<Reply, ApiError> {
        let (p, v) = self.find_volume(r)?;
        let current = self.pools[p].volumes[v].capacity;
        let wanted = match (delta, shrink) {
            (true, true) => current
                .checked_sub(capacity)
                .ok_or_else(|| ApiError::InvalidArg("can't shrink capacity below 0".into()))?,
            (true, false) => current
                .checked_add(capacity)
                .ok_or_else(|| ApiError::InvalidArg("capacity too large".into()))?,
            (false, _) => capacity,
        };
        if wanted < current && !shrink {
            return Err(ApiError::InvalidArg(
                "Can't shrink capacity below current capacity unless shrink flag explicitly specified"
                    .into(),
            ));
        }
        if wanted == 0 {
            return Err(ApiError::InvalidArg(
                "capacity must be greater than zero".into(),
            ));
        }
        let vol = &self.pools[p].volumes[v];
        let new_allocation = if allocate {
            wanted
        } else {
            vol.allocation.min(wanted)
        };
        let growth = new_allocation.saturating_sub(vol.allocation);
        if growth > self.pools[p].available() {
            return Err(ApiError::Storage(format!(
                "Not enough space left in storage pool for volume '{}'",
                vol.name
            )));
        }
        let vol = &mut self.pools[p].volumes[v];
        vol.capacity = wanted;
        vol.allocation = new_allocation;
        let name = vol.name.clone();
        self.volume_event(p, &name, ObjectEvent::Changed);
        Ok(Reply::Done)
    }

    pub(super) fn volume_command(&mut self, command: Command) -> Result<Reply, ApiError> {
        match command {
            Command::ListVolumes { pool } => {
                let p = self.find_pool(&pool)?;
                self.require_pool_active(p)?;
                let pool = &self.pools[p];
                Ok(Reply::Volumes(
                    pool.volumes.iter().map(|v| v.info(&pool.name)).collect(),
                ))
            }
            Command::LookupVolume { volume } | Command::VolumeInfo { volume } => {
                let (p, v) = self.find_volume(&volume)?;
                Ok(Reply::Volume(
                    self.pools[p].volumes[v].info(&self.pools[p].name),
                ))
            }
            Command::CreateVolumeAs { pool, args } => {
                let p = self.find_pool(&pool)?;
                self.add_volume(p, Self::request_from_args(args))
            }
            Command::CreateVolumeXml { pool, xml } => {
                let p = self.find_pool(&pool)?;
                self.add_volume(p, volume::parse_request(&xml)?)
            }
            Command::CreateVolumeXmlFrom { pool, xml, source } => {
                let p = self.find_pool(&pool)?;
                let (sp, sv) = self.find_volume(&source)?;
                let src = self.pools[sp].volumes[sv].clone();
                let mut request = volume::parse_request_lenient(&xml)?;
                request.capacity = Some(request.capacity.unwrap_or(src.capacity).max(src.capacity));
                if request.format.is_none() {
                    request.format = Some(src.format.clone());
                }
                request.allocation = Some(request.allocation.unwrap_or(src.allocation));
                self.add_volume(p, request)
            }
            Command::CloneVolume { volume, new_name } => {
                let (p, v) = self.find_volume(&volume)?;
                let src = self.pools[p].volumes[v].clone();
                let request = VolumeRequest {
                    name: new_name,
                    capacity: Some(src.capacity),
                    allocation: Some(src.allocation),
                    format: Some(src.format),
                    backing: src.backing,
                    backing_format: src.backing_format,
                    compat: None,
                    cluster_size: None,
                    lazy_refcounts: false,
                    nocow: false,
                };
                self.add_volume(p, request)
            }
            Command::ResizeVolume {
                volume,
                capacity,
                delta,
                shrink,
                allocate,
            } => self.resize_volume(&volume, capacity, delta, shrink, allocate),
            Command::DeleteVolume { volume } => {
                let (p, v) = self.find_volume(&volume)?;
                let removed = self.pools[p].volumes.remove(v);
                self.volume_event(p, &removed.name, ObjectEvent::Undefined);
                Ok(Reply::Done)
            }
            Command::WipeVolume { volume, algorithm } => {
                if let Some(a) = algorithm.filter(|a| a != "zero") {
                    return Err(ApiError::unsupported(format!(
                        "wiping algorithm '{a}' is not supported, only 'zero' is"
                    )));
                }
                let (p, v) = self.find_volume(&volume)?;
                let name = self.pools[p].volumes[v].name.clone();
                self.volume_event(p, &name, ObjectEvent::Changed);
                Ok(Reply::Done)
            }
            Command::VolumeXml { volume } => {
                let (p, v) = self.find_volume(&volume)?;
                let vol = &self.pools[p].volumes[v];
                let extras = VolumeExtras {
                    physical: Some(vol.allocation),
                    backing_format: vol.backing_format.clone(),
                    ..VolumeExtras::default()
                };
                Ok(Reply::Xml(volume::document(
                    &vol.info(&self.pools[p].name),
                    &extras,
                )))
            }
            Command::VolumePath { volume } => {
                let (p, v) = self.find_volume(&volume)?;
                Ok(Reply::Text(self.pools[p].volumes[v].path.clone()))
            }
            other => Err(ApiError::Internal(format!(
                "not a volume command: {other:?}"
            ))),
        }
    }
}
