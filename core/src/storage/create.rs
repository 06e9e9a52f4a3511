//! Creating new raw and qcow2 volumes.

use std::fs::File;
use std::path::{Path, PathBuf};

use imago::file::File as ImagoFile;
use imago::qcow2::Qcow2;
use imago::StorageOpenOptions;
use imago::{DenyImplicitOpenGate, FormatAccess, FormatCreateBuilder, FormatDriverBuilder};

use super::error::{Result, StorageError};
use super::fsutil::{self, TempVolume, MAX_FILE_SIZE};
use super::probe::probe_volume;
use super::qcow2::{Header, CLUSTER_BITS, MAX_BACKING_NAME};
use super::{CreateOptions, VolumeFormat};

/// qemu's default qcow2 cluster size.
pub(crate) const DEFAULT_CLUSTER_SIZE: u32 = 64 * 1024;
/// qemu's limit on the L1 table (in bytes), which bounds the virtual size.
const MAX_L1_BYTES: u64 = 32 * 1024 * 1024;

/// Creates a new volume at `path`; fails if anything already exists there.
///
/// raw: sparse, with the first `allocation` bytes preallocated (the whole file
/// when `allocation == capacity`). qcow2: written natively with imago.
pub fn create_volume(path: &Path, opts: &CreateOptions) -> Result<()> {
    fsutil::ensure_absent(path)?;
    match opts.format {
        VolumeFormat::Raw | VolumeFormat::Iso => {
            if opts.backing.is_some() {
                return Err(StorageError::Unsupported {
                    path: path.to_path_buf(),
                    reason: format!("{} volumes cannot have a backing file", opts.format),
                });
            }
            check_capacity(path, opts.capacity, 1)?;
            let temp = TempVolume::beside(path)?;
            if opts.nocow {
                fsutil::set_nocow(temp.file());
            }
            write_raw(temp.file(), temp.path(), opts.capacity, opts.allocation)?;
            temp.commit(path, false)
        }
        VolumeFormat::Qcow2 => {
            let plan = Qcow2Plan::from_options(path, opts)?;
            let temp = TempVolume::beside(path)?;
            if opts.nocow {
                fsutil::set_nocow(temp.file());
            }
            plan.format(temp.file(), temp.path())?;
            plan.finish(temp.file(), temp.path())?;
            temp.commit(path, false)
        }
    }
}

/// Fails unless `capacity` is positive, a multiple of `multiple` and addressable.
pub(crate) fn check_capacity(path: &Path, capacity: u64, multiple: u64) -> Result<()> {
    let invalid = |reason: String| StorageError::InvalidCapacity {
        path: path.to_path_buf(),
        capacity,
        reason,
    };
    if capacity == 0 {
        return Err(invalid(
            "the capacity must be greater than zero".to_string(),
        ));
    }
    if capacity % multiple != 0 {
        return Err(invalid(format!(
            "it must be a multiple of {multiple} bytes"
        )));
    }
    if capacity > MAX_FILE_SIZE {
        return Err(StorageError::SizeOverflow {
            path: path.to_path_buf(),
            what: format!("capacity {capacity} is larger than the largest file ({MAX_FILE_SIZE})"),
        });
    }
    Ok(())
}

/// Sizes a fresh, empty raw file: sparse, with `allocation` bytes preallocated.
pub(crate) fn write_raw(file: &File, path: &Path, capacity: u64, allocation: u64) -> Result<()> {
    file.set_len(capacity)
        .map_err(|e| StorageError::io_raw(path, "cannot set file size", e))?;
    let allocation = allocation.min(capacity);
    if allocation > 0 {
        fsutil::preallocate(file, 0, allocation)
            .map_err(|e| StorageError::io_raw(path, "cannot preallocate", e))?;
    }
    Ok(())
}

/// A validated qcow2 layout, ready to be written on an empty file.
#[derive(Debug, Clone)]
pub(crate) struct Qcow2Plan {
    pub capacity: u64,
    pub cluster_size: u32,
    pub backing: Option<(String, VolumeFormat)>,
    pub lazy_refcounts: bool,
    pub compat_v2: bool,
}

impl Qcow2Plan {
    /// Checks `opts` for a qcow2 volume at `path`.
    pub fn from_options(path: &Path, opts: &CreateOptions) -> Result<Self> {
        let cluster_size = opts.cluster_size.unwrap_or(DEFAULT_CLUSTER_SIZE);
        if !cluster_size.is_power_of_two() || !CLUSTER_BITS.contains(&cluster_size.trailing_zeros())
        {
            return Err(StorageError::InvalidClusterSize {
                path: path.to_path_buf(),
                size: cluster_size,
            });
        }
        let compat_v2 = match opts.compat.as_deref() {
            None | Some("1.1") | Some("v3") => false,
            Some("0.10") | Some("v2") => true,
            Some(other) => {
                return Err(StorageError::Unsupported {
                    path: path.to_path_buf(),
                    reason: format!("unknown qcow2 compat level '{other}' (expected 0.10 or 1.1)"),
                })
            }
        };
        if compat_v2 && opts.lazy_refcounts {
            return Err(StorageError::Unsupported {
                path: path.to_path_buf(),
                reason: "lazy refcounts need compat 1.1".to_string(),
            });
        }
        let mut capacity = opts.capacity;
        let backing = match &opts.backing {
            None => None,
            Some((backing, format)) => {
                let backing_size = check_backing(path, backing)?;
                if capacity == 0 {
                    // Like qemu-img: no size given means the backing file's size.
                    capacity = backing_size.div_ceil(512).saturating_mul(512);
                }
                let name = backing.to_str().ok_or_else(|| StorageError::Unsupported {
                    path: path.to_path_buf(),
                    reason: format!("backing file name '{}' is not UTF-8", backing.display()),
                })?;
                if name.len() > MAX_BACKING_NAME {
                    return Err(StorageError::Unsupported {
                        path: path.to_path_buf(),
                        reason: format!(
                            "backing file name is longer than {MAX_BACKING_NAME} bytes"
                        ),
                    });
                }
                let format = match format {
                    VolumeFormat::Qcow2 => VolumeFormat::Qcow2,
                    VolumeFormat::Raw | VolumeFormat::Iso => VolumeFormat::Raw,
                };
                Some((name.to_string(), format))
            }
        };
        check_capacity(path, capacity, 512)?;
        check_qcow2_size(path, capacity, cluster_size)?;
        Ok(Qcow2Plan {
            capacity,
            cluster_size,
            backing,
            lazy_refcounts: opts.lazy_refcounts,
            compat_v2,
        })
    }

    /// Writes an empty image on the empty `file` (a version 3 header; see [`Self::finish`]).
    pub fn format(&self, file: &File, path: &Path) -> Result<()> {
        let storage = imago_storage(file, path)?;
        let mut builder = Qcow2::<ImagoFile>::create_builder(storage)
            .size(self.capacity)
            .cluster_size(self.cluster_size as usize);
        if let Some((name, format)) = &self.backing {
            builder = builder.backing(name.clone(), format.to_string());
        }
        builder
            .create()
            .map_err(|e| StorageError::io_raw(path, "cannot create qcow2 image", e))
    }

    /// Opens the image written by [`Self::format`] for writing guest data,
    /// without its backing file (clones are written standalone).
    pub fn open_writer(&self, file: &File, path: &Path) -> Result<FormatAccess<ImagoFile>> {
        let storage = imago_storage(file, path)?;
        let image = Qcow2::<ImagoFile>::builder(storage)
            .write(true)
            .backing(None)
            .open(DenyImplicitOpenGate::default())
            .map_err(|e| StorageError::io_raw(path, "cannot open new qcow2 image", e))?;
        Ok(FormatAccess::new(image))
    }

    /// Applies what imago does not write itself: lazy refcounts, compat 0.10.
    pub fn finish(&self, file: &File, path: &Path) -> Result<()> {
        if !self.lazy_refcounts && !self.compat_v2 {
            return Ok(());
        }
        let mut header = Header::read(file, path)?;
        if self.lazy_refcounts {
            header.write_lazy_refcounts(file, path)?;
        }
        if self.compat_v2 {
            header.write_as_v2(file, path)?;
        }
        Ok(())
    }
}

/// Wraps our open file descriptor as imago storage.
pub(crate) fn imago_storage(file: &File, path: &Path) -> Result<ImagoFile> {
    let dup = file
        .try_clone()
        .map_err(|e| StorageError::io_raw(path, "cannot duplicate file handle", e))?;
    ImagoFile::from_open_file(dup, StorageOpenOptions::new().write(true).filename(path))
        .map_err(|e| StorageError::io_raw(path, "cannot open image storage", e))
}

/// Fails if the backing file is missing; returns its virtual size.
fn check_backing(path: &Path, backing: &Path) -> Result<u64> {
    // A relative backing name is relative to the image, as qemu reads it.
    let resolved: PathBuf = if backing.is_absolute() {
        backing.to_path_buf()
    } else {
        fsutil::parent_dir(path).join(backing)
    };
    match probe_volume(&resolved) {
        Ok(info) => Ok(info.capacity),
        Err(StorageError::NotFound { .. }) => Err(StorageError::BackingNotFound {
            path: path.to_path_buf(),
            backing: backing.to_path_buf(),
        }),
        Err(e) => Err(e),
    }
}

/// Fails if `capacity` needs a larger L1 table than qemu accepts.
pub(crate) fn check_qcow2_size(path: &Path, capacity: u64, cluster_size: u32) -> Result<()> {
    let cluster = u64::from(cluster_size);
    let max = (MAX_L1_BYTES / 8)
        .checked_mul(cluster / 8)
        .and_then(|n| n.checked_mul(cluster))
        .unwrap_or(u64::MAX);
    if capacity > max {
        return Err(StorageError::SizeOverflow {
            path: path.to_path_buf(),
            what: format!(
                "capacity {capacity} exceeds the qcow2 limit of {max} bytes for {cluster_size}-byte clusters"
            ),
        });
    }
    Ok(())
}
