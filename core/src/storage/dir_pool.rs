//! Directory pools: a folder whose regular files are the volumes.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use super::error::{Result, StorageError};
use super::probe::probe_volume;
use super::VolumeInfo;

/// Space figures of the file system holding a pool, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Size of the file system.
    pub capacity: u64,
    /// Bytes in use on it (by anything, as libvirt reports).
    pub allocation: u64,
    /// Bytes an unprivileged user can still write.
    pub available: u64,
}

/// Creates the pool directory (and missing parents) and sets its permission bits.
/// An existing directory is kept and only gets `mode`.
pub fn build(path: &Path, mode: u32) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.is_dir() => {
            return Err(StorageError::Unsupported {
                path: path.to_path_buf(),
                reason: "exists and is not a directory".to_string(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::create_dir_all(path)
                .map_err(|e| StorageError::io_raw(path, "cannot create pool directory", e))?;
        }
        Err(e) => return Err(StorageError::io_raw(path, "cannot stat pool directory", e)),
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
        .map_err(|e| StorageError::io_raw(path, "cannot set pool directory permissions", e))
}

/// Removes the pool directory, which must be empty.
pub fn delete(path: &Path) -> Result<()> {
    std::fs::remove_dir(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ENOTEMPTY) | Some(libc::EEXIST) => StorageError::PoolNotEmpty {
            path: path.to_path_buf(),
        },
        _ => StorageError::io(path, "cannot remove pool directory", e),
    })
}

/// What [`scan_report`] found in a pool directory.
#[derive(Debug, Default)]
pub struct ScanReport {
    /// Volumes by file name, sorted by name.
    pub volumes: Vec<(String, PathBuf, VolumeInfo)>,
    /// Files that could not be probed (unreadable, corrupt header), with why.
    pub skipped: Vec<(PathBuf, StorageError)>,
}

/// The volumes in a pool directory, sorted by name: every regular file (or
/// link to one) except hidden ones, with its format probed from its header.
/// Files that cannot be probed are left out; see [`scan_report`] for them.
pub fn scan(path: &Path) -> Result<Vec<(String, PathBuf, VolumeInfo)>> {
    scan_report(path).map(|report| report.volumes)
}

/// [`scan`], also listing the files that were left out and why.
pub fn scan_report(path: &Path) -> Result<ScanReport> {
    let entries = std::fs::read_dir(path)
        .map_err(|e| StorageError::io(path, "cannot read pool directory", e))?;
    let mut report = ScanReport::default();
    for entry in entries {
        let entry =
            entry.map_err(|e| StorageError::io_raw(path, "cannot read pool directory", e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        // Hidden files include the temp files of volumes being written.
        if name.starts_with('.') {
            continue;
        }
        let file_path = entry.path();
        match std::fs::metadata(&file_path) {
            Ok(meta) if meta.is_file() => {}
            _ => continue,
        }
        match probe_volume(&file_path) {
            Ok(info) => report.volumes.push((name, file_path, info)),
            // Deleted between listing and probing: not a volume any more.
            Err(StorageError::NotFound { .. }) => {}
            Err(e) => report.skipped.push((file_path, e)),
        }
    }
    report.volumes.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(report)
}

/// Size, use and free space of the file system holding the pool (statvfs).
pub fn stats(path: &Path) -> Result<PoolStats> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).map_err(|_| {
        StorageError::Unsupported {
            path: path.to_path_buf(),
            reason: "path contains a NUL byte".to_string(),
        }
    })?;
    // SAFETY: statvfs is plain old data; all-zero bytes are a valid value.
    let mut vfs: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c_path` is NUL-terminated and `vfs` is a valid, writable statvfs.
    let rc = unsafe { libc::statvfs(c_path.as_ptr(), &mut vfs) };
    if rc != 0 {
        return Err(StorageError::io(
            path,
            "cannot read file system statistics",
            io::Error::last_os_error(),
        ));
    }
    let frsize = vfs.f_frsize as u64;
    let blocks = vfs.f_blocks as u64;
    let free = vfs.f_bfree as u64;
    Ok(PoolStats {
        capacity: blocks.saturating_mul(frsize),
        allocation: blocks.saturating_sub(free).saturating_mul(frsize),
        available: (vfs.f_bavail as u64).saturating_mul(frsize),
    })
}
