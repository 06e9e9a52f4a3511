//! Errors of the storage engine.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

/// Why a volume or pool operation failed; every message names the path involved.
#[derive(Debug, Error)]
pub enum StorageError {
    /// The target of a create, clone or build already exists.
    #[error("volume already exists: '{}'", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// The volume (or pool directory) does not exist.
    #[error("no such volume: '{}'", path.display())]
    NotFound {
        /// The missing file.
        path: PathBuf,
    },
    /// The path exists but is not a regular file.
    #[error("'{}' is not a regular file", path.display())]
    NotAFile {
        /// The offending path.
        path: PathBuf,
    },
    /// The backing file of a new qcow2 volume does not exist.
    #[error("backing file '{}' of '{}' does not exist", backing.display(), path.display())]
    BackingNotFound {
        /// The volume being created.
        path: PathBuf,
        /// The backing file as given.
        backing: PathBuf,
    },
    /// A capacity that the format cannot take.
    #[error("'{}': invalid capacity {capacity}: {reason}", path.display())]
    InvalidCapacity {
        /// The volume.
        path: PathBuf,
        /// The requested capacity in bytes.
        capacity: u64,
        /// Why it is refused.
        reason: String,
    },
    /// A qcow2 cluster size outside what the format allows.
    #[error(
        "'{}': invalid cluster size {size}: it must be a power of two between 512 and 2 MiB",
        path.display()
    )]
    InvalidClusterSize {
        /// The volume.
        path: PathBuf,
        /// The requested cluster size in bytes.
        size: u32,
    },
    /// A size computation would overflow what files or the format can address.
    #[error("'{}': size overflow: {what}", path.display())]
    SizeOverflow {
        /// The volume.
        path: PathBuf,
        /// Which size overflowed.
        what: String,
    },
    /// Shrinking was requested without permission to lose data.
    #[error(
        "'{}': new capacity {requested} is smaller than the current {current}; shrinking needs --shrink",
        path.display()
    )]
    ShrinkNotAllowed {
        /// The volume.
        path: PathBuf,
        /// Current capacity in bytes.
        current: u64,
        /// Requested capacity in bytes.
        requested: u64,
    },
    /// The image header is not a qcow2 header Hangar can read.
    #[error("'{}': corrupt or unsupported qcow2 image: {reason}", path.display())]
    BadImage {
        /// The image.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A valid request that this engine or format cannot carry out.
    #[error("'{}': {reason}", path.display())]
    Unsupported {
        /// The volume.
        path: PathBuf,
        /// What cannot be done, and why.
        reason: String,
    },
    /// A pool directory still holds files.
    #[error("pool directory '{}' is not empty", path.display())]
    PoolNotEmpty {
        /// The pool directory.
        path: PathBuf,
    },
    /// A volume format name that is not raw, qcow2 or iso.
    #[error("unknown volume format '{0}' (expected raw, qcow2 or iso)")]
    UnknownFormat(String),
    /// A system call failed.
    #[error("'{}': {action}: {source}", path.display())]
    Io {
        /// The file or directory acted on.
        path: PathBuf,
        /// What was being done, e.g. "cannot create file".
        action: &'static str,
        /// The system error.
        #[source]
        source: io::Error,
    },
}

impl StorageError {
    /// An [`StorageError::Io`] for `path`, turning "not found" into [`StorageError::NotFound`].
    pub(crate) fn io(path: &Path, action: &'static str, source: io::Error) -> Self {
        if source.kind() == io::ErrorKind::NotFound {
            StorageError::NotFound {
                path: path.to_path_buf(),
            }
        } else {
            StorageError::Io {
                path: path.to_path_buf(),
                action,
                source,
            }
        }
    }

    /// An [`StorageError::Io`] kept as is, even for "not found".
    pub(crate) fn io_raw(path: &Path, action: &'static str, source: io::Error) -> Self {
        StorageError::Io {
            path: path.to_path_buf(),
            action,
            source,
        }
    }
}

/// Shorthand used throughout the engine.
pub type Result<T> = std::result::Result<T, StorageError>;
