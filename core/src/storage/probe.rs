//! Finding a volume's format and sizes from its contents.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::error::{Result, StorageError};
use super::fsutil::{allocated_bytes, open_volume};
use super::qcow2::{Header, MAGIC};
use super::{VolumeFormat, VolumeInfo};

/// Where ISO 9660's first volume descriptor puts its "CD001" identifier.
const ISO9660_ID_OFFSET: u64 = 0x8001;

/// Reads the format from the image header (never from the file name), the
/// capacity from the header, and the allocation from the blocks the file uses.
pub fn probe_volume(path: &Path) -> Result<VolumeInfo> {
    let file = open_volume(path, false)?;
    probe_open(&file, path)
}

/// [`probe_volume`] on an already open file.
pub(crate) fn probe_open(file: &File, path: &Path) -> Result<VolumeInfo> {
    let meta = file
        .metadata()
        .map_err(|e| StorageError::io(path, "cannot stat volume", e))?;
    let allocation = allocated_bytes(&meta);
    match detect_format(file, path)? {
        VolumeFormat::Qcow2 => {
            let header = Header::read(file, path)?;
            Ok(info_from_header(&header, allocation))
        }
        format => Ok(VolumeInfo {
            format,
            capacity: meta.len(),
            allocation,
            backing: None,
            backing_format: None,
            cluster_size: None,
            lazy_refcounts: false,
            compat: None,
        }),
    }
}

/// The [`VolumeInfo`] a qcow2 header describes.
pub(crate) fn info_from_header(header: &Header, allocation: u64) -> VolumeInfo {
    VolumeInfo {
        format: VolumeFormat::Qcow2,
        capacity: header.size,
        allocation,
        backing: header.backing_file.as_ref().map(PathBuf::from),
        backing_format: header
            .backing_format
            .as_deref()
            .and_then(|name| name.parse().ok()),
        cluster_size: Some(header.cluster_size()),
        lazy_refcounts: header.lazy_refcounts(),
        compat: Some(header.compat().to_string()),
    }
}

/// qcow2 by its magic, ISO by its volume descriptor, raw otherwise.
pub(crate) fn detect_format(file: &File, path: &Path) -> Result<VolumeFormat> {
    let read = |buf: &mut [u8], offset: u64| -> Result<bool> {
        match file.read_exact_at(buf, offset) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(false),
            Err(e) => Err(StorageError::io(path, "cannot read volume", e)),
        }
    };
    let mut magic = [0u8; 4];
    if read(&mut magic, 0)? && magic == MAGIC {
        return Ok(VolumeFormat::Qcow2);
    }
    let mut iso_id = [0u8; 5];
    if read(&mut iso_id, ISO9660_ID_OFFSET)? && &iso_id == b"CD001" {
        return Ok(VolumeFormat::Iso);
    }
    Ok(VolumeFormat::Raw)
}
