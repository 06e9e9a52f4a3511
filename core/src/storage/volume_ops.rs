//! Resizing, wiping and deleting existing volumes.

use std::path::Path;

use imago::file::File as ImagoFile;
use imago::format::PreallocateMode;
use imago::qcow2::Qcow2;
use imago::{FormatAccess, FormatDriverBuilder, PermissiveImplicitOpenGate};

use super::create::{check_capacity, check_qcow2_size, imago_storage, Qcow2Plan};
use super::error::{Result, StorageError};
use super::fsutil::{self, open_volume, TempVolume};
use super::probe::{detect_format, probe_volume};
use super::qcow2::Header;
use super::VolumeFormat;

/// Sets the virtual size of a volume. Growing is always allowed; shrinking
/// (which loses the data past the new end) only with `allow_shrink`.
pub fn resize_volume(path: &Path, new_capacity: u64, allow_shrink: bool) -> Result<()> {
    let file = open_volume(path, true)?;
    let format = detect_format(&file, path)?;
    if format.is_flat() {
        check_capacity(path, new_capacity, 1)?;
        let current = file
            .metadata()
            .map_err(|e| StorageError::io(path, "cannot stat volume", e))?
            .len();
        check_shrink(path, current, new_capacity, allow_shrink)?;
        file.set_len(new_capacity)
            .map_err(|e| StorageError::io_raw(path, "cannot resize volume", e))?;
    } else {
        let header = Header::read(&file, path)?;
        check_capacity(path, new_capacity, 512)?;
        check_qcow2_size(path, new_capacity, header.cluster_size())?;
        check_shrink(path, header.size, new_capacity, allow_shrink)?;
        if new_capacity == header.size {
            return Ok(());
        }
        header.check_backing_chain(path)?;
        let storage = imago_storage(&file, path)?;
        let image = Qcow2::<ImagoFile>::builder(storage)
            .write(true)
            .open(PermissiveImplicitOpenGate::default())
            .map_err(|e| StorageError::io_raw(path, "cannot open qcow2 image", e))?;
        let mut image = FormatAccess::new(image);
        let result = if new_capacity > header.size {
            grow_qcow2(&image, &header, path, new_capacity)
        } else {
            image.resize_shrink(new_capacity)
        };
        result
            .and_then(|()| image.flush())
            .map_err(|e| StorageError::io_raw(path, "cannot resize qcow2 image", e))?;
    }
    file.sync_all()
        .map_err(|e| StorageError::io_raw(path, "cannot sync volume", e))
}

/// Grows a qcow2 image. The new range must read as zeroes, not as whatever a
/// larger backing file holds there: version 3 marks it as zero clusters,
/// version 2 (which has no zero clusters) gets explicit zero data where the
/// backing file reaches.
fn grow_qcow2(
    image: &FormatAccess<ImagoFile>,
    header: &Header,
    path: &Path,
    new_capacity: u64,
) -> std::io::Result<()> {
    let Some(backing) = header.backing_path(path) else {
        return image.resize_grow(new_capacity, PreallocateMode::None);
    };
    if header.version >= 3 {
        return image.resize_grow(new_capacity, PreallocateMode::Zero);
    }
    let backing_size = probe_volume(&backing)
        .map_err(std::io::Error::other)?
        .capacity;
    image.resize_grow(new_capacity, PreallocateMode::None)?;
    let zeroes = vec![0u8; 1 << 20];
    let mut offset = header.size;
    let end = new_capacity.min(backing_size);
    while offset < end {
        let n = (end - offset).min(zeroes.len() as u64);
        image.write(&zeroes[..n as usize], offset)?;
        offset += n;
    }
    Ok(())
}

fn check_shrink(path: &Path, current: u64, requested: u64, allow_shrink: bool) -> Result<()> {
    if requested < current && !allow_shrink {
        return Err(StorageError::ShrinkNotAllowed {
            path: path.to_path_buf(),
            current,
            requested,
        });
    }
    Ok(())
}

/// Erases a volume's data, keeping its format, size and options: raw data
/// ranges are zeroed in place (preallocated blocks stay allocated); a qcow2
/// image is replaced by an empty one with the same header options.
pub fn wipe_volume(path: &Path) -> Result<()> {
    let file = open_volume(path, true)?;
    let format = detect_format(&file, path)?;
    if format.is_flat() {
        let len = file
            .metadata()
            .map_err(|e| StorageError::io(path, "cannot stat volume", e))?
            .len();
        let extents = fsutil::data_extents(&file, len)
            .map_err(|e| StorageError::io_raw(path, "cannot find data extents", e))?;
        for (offset, length) in extents {
            fsutil::zero_range(&file, offset, length, true)
                .map_err(|e| StorageError::io_raw(path, "cannot zero volume data", e))?;
        }
        return file
            .sync_all()
            .map_err(|e| StorageError::io_raw(path, "cannot sync volume", e));
    }

    let header = Header::read(&file, path)?;
    let meta = file
        .metadata()
        .map_err(|e| StorageError::io(path, "cannot stat volume", e))?;
    let backing = match &header.backing_file {
        None => None,
        Some(name) => {
            let format = match header.backing_format.as_deref() {
                Some("qcow2") => VolumeFormat::Qcow2,
                _ => VolumeFormat::Raw,
            };
            Some((name.clone(), format))
        }
    };
    let plan = Qcow2Plan {
        capacity: header.size,
        cluster_size: header.cluster_size(),
        backing,
        lazy_refcounts: header.lazy_refcounts(),
        compat_v2: header.version == 2,
    };
    drop(file);
    let temp = TempVolume::beside(path)?;
    fsutil::copy_mode(&meta, temp.file(), temp.path())?;
    plan.format(temp.file(), temp.path())?;
    plan.finish(temp.file(), temp.path())?;
    temp.commit(path, true)
}

/// Removes a volume file.
pub fn delete_volume(path: &Path) -> Result<()> {
    let meta = std::fs::symlink_metadata(path)
        .map_err(|e| StorageError::io(path, "cannot stat volume", e))?;
    if meta.is_dir() {
        return Err(StorageError::NotAFile {
            path: path.to_path_buf(),
        });
    }
    std::fs::remove_file(path).map_err(|e| StorageError::io(path, "cannot delete volume", e))?;
    fsutil::sync_dir(&fsutil::parent_dir(path))
}
