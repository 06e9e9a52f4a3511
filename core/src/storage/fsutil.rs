//! File-system helpers: atomic temp files, preallocation, holes, data extents.

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{Result, StorageError};

/// Largest offset a file can have (`off_t` is signed).
pub(crate) const MAX_FILE_SIZE: u64 = i64::MAX as u64;

/// Mode of new volume files (libvirt's default for volumes).
const VOLUME_MODE: u32 = 0o600;

/// Directory holding `path` ("." for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Fails with [`StorageError::AlreadyExists`] if anything (even a dangling link) is at `path`.
pub(crate) fn ensure_absent(path: &Path) -> Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => Err(StorageError::AlreadyExists {
            path: path.to_path_buf(),
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(StorageError::io_raw(
            path,
            "cannot check for an existing file",
            e,
        )),
    }
}

/// Opens an existing volume, failing clearly if it is missing or not a regular file.
pub(crate) fn open_volume(path: &Path, writable: bool) -> Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(writable)
        .open(path)
        .map_err(|e| StorageError::io(path, "cannot open volume", e))?;
    let meta = file
        .metadata()
        .map_err(|e| StorageError::io(path, "cannot stat volume", e))?;
    if !meta.is_file() {
        return Err(StorageError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    Ok(file)
}

/// Syncs a directory so that a rename or unlink in it is durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| StorageError::io_raw(dir, "cannot sync directory", e))
}

/// A new image being written beside its final path; removed on drop unless committed.
pub(crate) struct TempVolume {
    file: File,
    temp_path: PathBuf,
    committed: bool,
}

impl TempVolume {
    /// Creates an empty hidden file in the directory of `target`.
    pub(crate) fn beside(target: &Path) -> Result<Self> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = parent_dir(target);
        let stem = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "volume".to_string());
        loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let temp_path = dir.join(format!(".{stem}.hangar-tmp-{}-{n}", std::process::id()));
            match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(VOLUME_MODE)
                .open(&temp_path)
            {
                Ok(file) => {
                    return Ok(TempVolume {
                        file,
                        temp_path,
                        committed: false,
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(StorageError::io(&dir, "cannot create file in", e)),
            }
        }
    }

    /// The open temp file.
    pub(crate) fn file(&self) -> &File {
        &self.file
    }

    /// Where the temp file is, for error messages.
    pub(crate) fn path(&self) -> &Path {
        &self.temp_path
    }

    /// Syncs the data, moves the file to `target` and syncs the directory.
    /// With `replace` false an existing `target` is never overwritten.
    pub(crate) fn commit(mut self, target: &Path, replace: bool) -> Result<()> {
        self.file
            .sync_all()
            .map_err(|e| StorageError::io_raw(&self.temp_path, "cannot sync file", e))?;
        if replace {
            std::fs::rename(&self.temp_path, target)
                .map_err(|e| StorageError::io_raw(target, "cannot rename into place", e))?;
        } else {
            rename_noreplace(&self.temp_path, target)?;
        }
        self.committed = true;
        sync_dir(&parent_dir(target))
    }
}

impl Drop for TempVolume {
    fn drop(&mut self) {
        if !self.committed {
            // Best effort: the error that made us give up matters more than this one.
            let _ = std::fs::remove_file(&self.temp_path);
        }
    }
}

fn c_path(path: &Path) -> Result<CString> {
    CString::new(path.as_os_str().as_bytes()).map_err(|_| StorageError::Unsupported {
        path: path.to_path_buf(),
        reason: "path contains a NUL byte".to_string(),
    })
}

/// Renames `from` to `to`, failing with [`StorageError::AlreadyExists`] if `to` exists.
fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    let c_from = c_path(from)?;
    let c_to = c_path(to)?;
    // SAFETY: both arguments are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            c_from.as_ptr(),
            libc::AT_FDCWD,
            c_to.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    if rc == 0 {
        return Ok(());
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::EEXIST) => Err(StorageError::AlreadyExists {
            path: to.to_path_buf(),
        }),
        // File systems without RENAME_NOREPLACE: link() never replaces either.
        Some(libc::EINVAL) | Some(libc::ENOSYS) => match std::fs::hard_link(from, to) {
            Ok(()) => std::fs::remove_file(from)
                .map_err(|e| StorageError::io_raw(from, "cannot remove temp file", e)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Err(StorageError::AlreadyExists {
                    path: to.to_path_buf(),
                })
            }
            Err(e) => Err(StorageError::io_raw(to, "cannot move into place", e)),
        },
        _ => Err(StorageError::io_raw(to, "cannot rename into place", err)),
    }
}

/// Copies the permission bits of `from` onto `file` (used when an image is recreated).
pub(crate) fn copy_mode(from: &std::fs::Metadata, file: &File, path: &Path) -> Result<()> {
    let mode = from.permissions().mode() & 0o7777;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(|e| StorageError::io_raw(path, "cannot set permissions", e))
}

fn fallocate_mode(file: &File, mode: libc::c_int, offset: u64, len: u64) -> io::Result<()> {
    if len == 0 {
        return Ok(());
    }
    let (Ok(off), Ok(length)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    };
    loop {
        // SAFETY: the descriptor is owned by `file` and stays open during the call.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), mode, off, length) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Allocates `len` bytes from `offset`, growing the file if needed.
pub(crate) fn preallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    fallocate_mode(file, 0, offset, len)
}

/// Makes a range read as zeroes: keeps its blocks allocated when `keep_allocated`
/// (ZERO_RANGE), frees them otherwise (PUNCH_HOLE). Falls back to writing zeroes.
pub(crate) fn zero_range(
    file: &File,
    offset: u64,
    len: u64,
    keep_allocated: bool,
) -> io::Result<()> {
    let mode = if keep_allocated {
        libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE
    } else {
        libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE
    };
    match fallocate_mode(file, mode, offset, len) {
        Ok(()) => Ok(()),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS)
            ) =>
        {
            write_zeroes(file, offset, len)
        }
        Err(e) => Err(e),
    }
}

fn write_zeroes(file: &File, mut offset: u64, len: u64) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let zeroes = vec![0u8; 1 << 20];
    let end = offset + len;
    while offset < end {
        let n = usize::try_from((end - offset).min(zeroes.len() as u64)).unwrap_or(zeroes.len());
        file.write_all_at(&zeroes[..n], offset)?;
        offset += n as u64;
    }
    Ok(())
}

/// Sets the btrfs no-copy-on-write attribute on an empty file; quietly does
/// nothing on file systems that do not have it, as qemu-img does.
pub(crate) fn set_nocow(file: &File) {
    const FS_NOCOW_FL: libc::c_long = 0x0080_0000;
    let mut flags: libc::c_long = 0;
    // SAFETY: FS_IOC_GETFLAGS writes one `long` into `flags`, which outlives the call.
    let rc = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_GETFLAGS, &mut flags) };
    if rc != 0 {
        return;
    }
    flags |= FS_NOCOW_FL;
    // SAFETY: FS_IOC_SETFLAGS reads one `long` from `flags`, which outlives the call.
    let _ = unsafe { libc::ioctl(file.as_raw_fd(), libc::FS_IOC_SETFLAGS, &flags) };
}

/// Ranges `(offset, length)` of `file` (first `len` bytes) that may hold data,
/// found with SEEK_DATA/SEEK_HOLE; the whole file if the system cannot tell.
pub(crate) fn data_extents(file: &File, len: u64) -> io::Result<Vec<(u64, u64)>> {
    let fd = file.as_raw_fd();
    let seek = |offset: u64, whence: libc::c_int| -> io::Result<Option<u64>> {
        let Ok(off) = libc::off_t::try_from(offset) else {
            return Ok(None);
        };
        // SAFETY: lseek on a descriptor owned by `file`; no memory is passed.
        let rc = unsafe { libc::lseek(fd, off, whence) };
        if rc >= 0 {
            return Ok(Some(rc as u64));
        }
        let err = io::Error::last_os_error();
        if err.raw_os_error() == Some(libc::ENXIO) {
            Ok(None)
        } else {
            Err(err)
        }
    };
    let mut extents = Vec::new();
    let mut offset = 0;
    while offset < len {
        let data = match seek(offset, libc::SEEK_DATA) {
            Ok(Some(d)) => d,
            Ok(None) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) && offset == 0 => {
                return Ok(vec![(0, len)]);
            }
            Err(e) => return Err(e),
        };
        if data >= len {
            break;
        }
        let hole = seek(data, libc::SEEK_HOLE)?.unwrap_or(len).min(len);
        if hole <= data {
            break;
        }
        extents.push((data, hole - data));
        offset = hole;
    }
    Ok(extents)
}

/// Asks the kernel to start writing the file's dirty pages to disk without
/// waiting, so a later fsync finds most of the work done. Only a hint: errors
/// surface at that fsync.
pub(crate) fn start_writeback(file: &File) {
    // SAFETY: sync_file_range on a descriptor owned by `file`; no memory is passed.
    let _ = unsafe { libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE) };
}

/// Whether every byte of `buf` is zero.
pub(crate) fn is_zero(buf: &[u8]) -> bool {
    // Folding 16-byte words lets the compiler use vector instructions.
    let mut words = buf.chunks_exact(16);
    let mut acc = 0u128;
    for w in &mut words {
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(w);
        acc |= u128::from_ne_bytes(bytes);
    }
    acc == 0 && words.remainder().iter().all(|&b| b == 0)
}

/// Bytes a file occupies on disk.
pub(crate) fn allocated_bytes(meta: &std::fs::Metadata) -> u64 {
    use std::os::unix::fs::MetadataExt;
    meta.blocks().saturating_mul(512)
}
