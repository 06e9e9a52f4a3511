//! The storage engine: volume image files (raw, qcow2, ISO) and directory pools.
//!
//! A plain, synchronous Rust API over real files; the backend calls it from a
//! blocking task. qcow2 images are created and accessed with the `imago` crate,
//! completed here where imago stops (compat 0.10 headers, lazy refcounts). No
//! XML is read here: the backend maps volume XML onto [`CreateOptions`].
//!
//! Every new image is written to a hidden temp file in the destination
//! directory, synced, then renamed into place without replacing anything, so a
//! failed or interrupted operation leaves nothing behind.

mod copy;
mod create;
pub mod dir_pool;
mod error;
mod fsutil;
mod probe;
mod qcow2;
mod volume_ops;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

pub use copy::clone_volume;
pub use create::create_volume;
pub use error::{Result, StorageError};
pub use probe::probe_volume;
pub use volume_ops::{delete_volume, resize_volume, wipe_volume};

/// On-disk format of a volume.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeFormat {
    /// A plain disk image: guest byte N is file byte N.
    Raw,
    /// QEMU copy-on-write v2 (compat 0.10 or 1.1).
    Qcow2,
    /// An ISO 9660 image; stored and copied like raw.
    Iso,
}

impl VolumeFormat {
    /// The name libvirt and qemu use for the format.
    pub fn as_str(self) -> &'static str {
        match self {
            VolumeFormat::Raw => "raw",
            VolumeFormat::Qcow2 => "qcow2",
            VolumeFormat::Iso => "iso",
        }
    }

    /// Whether guest data is stored byte for byte in the file (raw and ISO).
    pub fn is_flat(self) -> bool {
        !matches!(self, VolumeFormat::Qcow2)
    }
}

impl fmt::Display for VolumeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VolumeFormat {
    type Err = StorageError;

    fn from_str(name: &str) -> Result<Self> {
        match name {
            "raw" => Ok(VolumeFormat::Raw),
            "qcow2" => Ok(VolumeFormat::Qcow2),
            "iso" => Ok(VolumeFormat::Iso),
            other => Err(StorageError::UnknownFormat(other.to_string())),
        }
    }
}

/// How to create a new volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateOptions {
    /// Format of the new image.
    pub format: VolumeFormat,
    /// Virtual size in bytes. For qcow2 a multiple of 512; 0 with a backing
    /// file takes the backing file's size.
    pub capacity: u64,
    /// Bytes to allocate up front (raw only): equal to `capacity` preallocates
    /// the whole file, 0 leaves it sparse. Larger than `capacity` is clamped.
    pub allocation: u64,
    /// qcow2 backing file and its format, as it will be written in the header
    /// (a relative path is relative to the new image's directory).
    pub backing: Option<(PathBuf, VolumeFormat)>,
    /// qcow2 cluster size in bytes (power of two, 512 to 2 MiB); default 64 KiB.
    pub cluster_size: Option<u32>,
    /// qcow2: set the lazy refcounts feature (needs compat 1.1).
    pub lazy_refcounts: bool,
    /// qcow2 compatibility level: "0.10" or "1.1" (the default).
    pub compat: Option<String>,
    /// Ask the file system not to copy-on-write the file (btrfs `chattr +C`);
    /// ignored where not supported.
    pub nocow: bool,
}

impl CreateOptions {
    /// Options for a plain image of `format` and `capacity` bytes, sparse, no extras.
    pub fn new(format: VolumeFormat, capacity: u64) -> Self {
        CreateOptions {
            format,
            capacity,
            allocation: 0,
            backing: None,
            cluster_size: None,
            lazy_refcounts: false,
            compat: None,
            nocow: false,
        }
    }
}

/// What [`probe_volume`] reads from an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeInfo {
    /// Format found in the header.
    pub format: VolumeFormat,
    /// Virtual size in bytes (the qcow2 header's size, or the file length).
    pub capacity: u64,
    /// Bytes the file really occupies on disk (st_blocks × 512).
    pub allocation: u64,
    /// Backing file as written in the qcow2 header.
    pub backing: Option<PathBuf>,
    /// Backing file format as written in the qcow2 header (if known to Hangar).
    pub backing_format: Option<VolumeFormat>,
    /// qcow2 cluster size in bytes.
    pub cluster_size: Option<u32>,
    /// qcow2 lazy refcounts feature bit.
    pub lazy_refcounts: bool,
    /// qcow2 compatibility level, "0.10" (version 2) or "1.1" (version 3).
    pub compat: Option<String>,
}
