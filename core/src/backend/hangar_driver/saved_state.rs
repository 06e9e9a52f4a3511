//! Saved domains in the hangar driver: `save` to a file, `restore` from
//! one, and the managed save image (`managedsave`), which the next `start`
//! resumes as virsh does. The VMM writes and reads the files (see
//! [`crate::vmm::snapshot`]); here they are checked, named and tied to
//! domains. No failure here touches a stored definition.

use super::vm_process;
use super::HangarDriver;
use crate::api::{ApiError, ObjectKind, Reply};
use crate::backend::definition::domain;
use crate::vmm::snapshot;
use std::path::{Path, PathBuf};

/// A user-given file path, absolute (the VMM runs in another folder).
fn absolute(path: &str) -> Result<PathBuf, ApiError> {
    if path.is_empty() {
        return Err(ApiError::InvalidArg("empty file name".into()));
    }
    std::path::absolute(path).map_err(|e| ApiError::io("cannot resolve path", Path::new(path), &e))
}

/// The snapshot at `path`, checked completely, and its domain XML.
fn inspect(path: &Path) -> Result<snapshot::SnapshotInfo, ApiError> {
    snapshot::inspect(path).map_err(|e| ApiError::InvalidArg(e.to_string()))
}

impl HangarDriver {
    /// Where the managed save image of `name` lives (kept across reboots,
    /// next to the definitions).
    pub(super) fn managed_save_path(&self, name: &str) -> PathBuf {
        self.store
            .paths
            .data
            .join("save")
            .join(format!("{name}.save"))
    }

    /// Whether `name` has a managed save image.
    pub(super) fn has_managed_save(&self, name: &str) -> bool {
        self.managed_save_path(name).is_file()
    }

    /// `save` (to `path`) or `managedsave` (`path` is `None`): the VMM
    /// writes the running VM to the file and ends; the domain is then shut
    /// off with reason `saved`.
    pub(super) fn save_domain(&mut self, key: &str, path: Option<&str>) -> Result<Reply, ApiError> {
        let name = self.domain_name(key)?;
        let known = self.known_domain(&name)?;
        if !known.run.is_active() {
            return Err(ApiError::invalid_op("domain is not running"));
        }
        let target = match path {
            Some(p) => absolute(p)?,
            None => {
                if !known.persistent {
                    return Err(ApiError::invalid_op(
                        "cannot do managed save for transient domain",
                    ));
                }
                let target = self.managed_save_path(&name);
                if let Some(dir) = target.parent() {
                    std::fs::create_dir_all(dir)
                        .map_err(|e| ApiError::io("cannot create directory", dir, &e))?;
                }
                target
            }
        };
        vm_process::save(&self.vm_files, &name, &target)?;
        self.active_domains.remove(&name);
        Ok(Reply::Done)
    }

    /// `restore FILE`: runs the VM saved in the file, as the stored domain
    /// of that name and UUID if there is one, else as a transient domain.
    pub(super) fn restore_domain(&mut self, path: &str) -> Result<Reply, ApiError> {
        let path = absolute(path)?;
        let saved = inspect(&path)?;
        let (el, uuid) = domain::prepare(&saved.domain_xml)?;
        let name = domain::name(&el);
        super::domains::check_file_name("domain", &name)?;
        let canonical = domain::canonical(&el)?;
        self.locked(|d| {
            if let Ok(known) = d.known_domain(&name) {
                if known.run.is_active() {
                    return Err(ApiError::invalid_op(format!(
                        "domain '{name}' is already active"
                    )));
                }
                if known.uuid != uuid {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name: name.clone(),
                        uuid: Some(known.uuid),
                    });
                }
            }
            if let Some(other) = d.store.domains.name_by_uuid(&uuid) {
                if other != name {
                    return Err(ApiError::AlreadyExists {
                        kind: ObjectKind::Domain,
                        name: other.to_string(),
                        uuid: Some(uuid.clone()),
                    });
                }
            }
            d.launch_restored(&name, &uuid, &canonical, &path)?;
            Ok(Reply::Domain(d.domain_info(&name)?))
        })
    }

    /// `start` of a domain with a managed save image: resumes it, then
    /// removes the image. A restore that fails keeps the image (as
    /// libvirt); `managedsave-remove` discards it.
    pub(super) fn start_from_managed_save(
        &mut self,
        name: &str,
        uuid: &str,
    ) -> Result<(), ApiError> {
        let image = self.managed_save_path(name);
        let saved = inspect(&image)?;
        let (el, saved_uuid) = domain::prepare(&saved.domain_xml)?;
        if saved_uuid != uuid || domain::name(&el) != name {
            return Err(ApiError::InvalidArg(format!(
                "the managed save image {} belongs to another domain",
                image.display()
            )));
        }
        let canonical = domain::canonical(&el)?;
        self.launch_restored(name, uuid, &canonical, &image)?;
        std::fs::remove_file(&image).map_err(|e| ApiError::io("cannot remove file", &image, &e))
    }

    /// `managedsave-remove`: discards the image (nothing to do without one).
    pub(super) fn remove_managed_save(&mut self, key: &str) -> Result<Reply, ApiError> {
        let name = self.domain_name(key)?;
        let image = self.managed_save_path(&name);
        match std::fs::remove_file(&image) {
            Ok(()) => Ok(Reply::Done),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Reply::Done),
            Err(e) => Err(ApiError::io("cannot remove file", &image, &e)),
        }
    }

    /// Starts a VMM that resumes the snapshot `file` as domain `name`.
    fn launch_restored(
        &mut self,
        name: &str,
        uuid: &str,
        canonical_xml: &str,
        file: &Path,
    ) -> Result<(), ApiError> {
        self.launch_vmm(name, uuid, canonical_xml, false, Some(file))
    }
}
