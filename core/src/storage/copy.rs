//! Cloning volumes: sparse raw copies, qcow2 copies and conversions between them.
//!
//! Only ranges that may hold data are read (SEEK_DATA/SEEK_HOLE for raw, the
//! cluster mappings for qcow2), and blocks that turn out to be all zero are
//! never written, so a clone is as sparse as its source or sparser.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;

use imago::file::File as ImagoFile;
use imago::qcow2::Qcow2;
use imago::StorageOpenOptions;
use imago::{FormatAccess, FormatDriverBuilder, Mapping, PermissiveImplicitOpenGate};

use super::create::{Qcow2Plan, DEFAULT_CLUSTER_SIZE};
use super::error::{Result, StorageError};
use super::fsutil::{self, open_volume, TempVolume};
use super::probe::probe_open;
use super::qcow2::Header;
use super::VolumeFormat;

/// Bytes read from the source at a time.
const CHUNK: u64 = 4 * 1024 * 1024;
/// Zero detection granularity for raw targets (a file system block).
const RAW_BLOCK: u64 = 4096;

/// Copies `src` to the new volume `dst`, converting to `dst_format` if given
/// (the source's format otherwise). A qcow2 source is read through its backing
/// chain, so the clone stands alone. The clone appears at `dst` complete or not
/// at all; an existing `dst` is never overwritten.
pub fn clone_volume(src: &Path, dst: &Path, dst_format: Option<VolumeFormat>) -> Result<()> {
    let src_file = open_volume(src, false)?;
    let src_info = probe_open(&src_file, src)?;
    fsutil::ensure_absent(dst)?;
    let source = Source::open(src_file, src, src_info.format, src_info.capacity)?;
    let extents = source.data_extents()?;
    let target_format = dst_format.unwrap_or(src_info.format);

    let temp = TempVolume::beside(dst)?;
    if target_format.is_flat() {
        temp.file()
            .set_len(src_info.capacity)
            .map_err(|e| StorageError::io_raw(temp.path(), "cannot set file size", e))?;
        let mut sink = RawSink(temp.file());
        copy_extents(&source, &extents, &mut sink, RAW_BLOCK, temp.path())?;
    } else {
        let (cluster_size, lazy_refcounts, compat_v2) = match &source {
            Source::Qcow2 { header, .. } => (
                header.cluster_size(),
                header.lazy_refcounts(),
                header.version == 2,
            ),
            Source::Raw { .. } => (DEFAULT_CLUSTER_SIZE, false, false),
        };
        let plan = Qcow2Plan {
            // qcow2 sizes are whole sectors; qemu-img convert rounds up the same way.
            capacity: src_info.capacity.div_ceil(512) * 512,
            cluster_size,
            backing: None,
            lazy_refcounts,
            compat_v2,
        };
        if plan.capacity == 0 {
            return Err(StorageError::InvalidCapacity {
                path: src.to_path_buf(),
                capacity: 0,
                reason: "an empty volume cannot be converted to qcow2".to_string(),
            });
        }
        plan.format(temp.file(), temp.path())?;
        {
            let writer = plan.open_writer(temp.file(), temp.path())?;
            let mut sink = Qcow2Sink(&writer);
            copy_extents(
                &source,
                &extents,
                &mut sink,
                u64::from(cluster_size),
                temp.path(),
            )?;
            writer
                .flush()
                .map_err(|e| StorageError::io_raw(temp.path(), "cannot flush qcow2 image", e))?;
        }
        plan.finish(temp.file(), temp.path())?;
    }
    temp.commit(dst, false)
}

/// Where guest data is read from.
enum Source<'a> {
    Raw {
        file: File,
        path: &'a Path,
        len: u64,
    },
    Qcow2 {
        image: Box<FormatAccess<ImagoFile>>,
        header: Header,
        path: &'a Path,
    },
}

impl<'a> Source<'a> {
    fn open(file: File, path: &'a Path, format: VolumeFormat, len: u64) -> Result<Self> {
        if format.is_flat() {
            return Ok(Source::Raw { file, path, len });
        }
        let header = Header::read(&file, path)?;
        header.check_backing_present(path)?;
        let storage =
            ImagoFile::from_open_file(file, StorageOpenOptions::new().write(false).filename(path))
                .map_err(|e| StorageError::io_raw(path, "cannot open image storage", e))?;
        // The backing chain is opened as the header names it, read-only.
        let image = Qcow2::<ImagoFile>::builder(storage)
            .write(false)
            .open(PermissiveImplicitOpenGate::default())
            .map_err(|e| StorageError::io_raw(path, "cannot open qcow2 image", e))?;
        Ok(Source::Qcow2 {
            image: Box::new(FormatAccess::new(image)),
            header,
            path,
        })
    }

    fn capacity(&self) -> u64 {
        match self {
            Source::Raw { len, .. } => *len,
            Source::Qcow2 { image, .. } => image.size(),
        }
    }

    /// Guest ranges `(offset, length)` that may hold non-zero data, in order.
    fn data_extents(&self) -> Result<Vec<(u64, u64)>> {
        match self {
            Source::Raw { file, path, len } => fsutil::data_extents(file, *len)
                .map_err(|e| StorageError::io_raw(path, "cannot find data extents", e)),
            Source::Qcow2 { image, path, .. } => {
                let size = image.size();
                let mut extents: Vec<(u64, u64)> = Vec::new();
                let mut offset = 0;
                while offset < size {
                    let (mapping, len) = image
                        .get_mapping(offset, size - offset)
                        .map_err(|e| StorageError::io_raw(path, "cannot read qcow2 mapping", e))?;
                    let has_data = match mapping {
                        Mapping::Eof { .. } => break,
                        Mapping::Zero { .. } => false,
                        _ => true,
                    };
                    if len == 0 {
                        return Err(StorageError::BadImage {
                            path: path.to_path_buf(),
                            reason: format!("empty mapping at offset {offset}"),
                        });
                    }
                    if has_data {
                        match extents.last_mut() {
                            Some((start, l)) if *start + *l == offset => *l += len,
                            _ => extents.push((offset, len)),
                        }
                    }
                    offset += len;
                }
                Ok(extents)
            }
        }
    }

    fn read(&self, buf: &mut [u8], offset: u64) -> Result<()> {
        match self {
            Source::Raw { file, path, .. } => file
                .read_exact_at(buf, offset)
                .map_err(|e| StorageError::io_raw(path, "cannot read volume", e)),
            Source::Qcow2 { image, path, .. } => image
                .read(buf, offset)
                .map_err(|e| StorageError::io_raw(path, "cannot read qcow2 data", e)),
        }
    }
}

/// Where guest data is written.
trait Sink {
    fn write(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()>;
}

struct RawSink<'a>(&'a File);

impl Sink for RawSink<'_> {
    fn write(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.0.write_all_at(buf, offset)
    }
}

struct Qcow2Sink<'a>(&'a FormatAccess<ImagoFile>);

impl Sink for Qcow2Sink<'_> {
    fn write(&mut self, buf: &[u8], offset: u64) -> std::io::Result<()> {
        self.0.write(buf, offset)
    }
}

/// Copies the data ranges of `source` to `sink`, skipping all-zero blocks of
/// `block` bytes (the target's allocation unit) and writing runs of non-zero
/// blocks in one call.
fn copy_extents(
    source: &Source<'_>,
    extents: &[(u64, u64)],
    sink: &mut dyn Sink,
    block: u64,
    target: &Path,
) -> Result<()> {
    let capacity = source.capacity();
    let chunk = CHUNK.max(block);
    let mut buf = vec![0u8; chunk as usize];
    let mut next_free = 0; // extents may share a block once aligned: never copy one twice
    for &(start, len) in extents {
        let mut offset = (start / block * block).max(next_free);
        let end = (start + len)
            .div_ceil(block)
            .saturating_mul(block)
            .min(capacity);
        while offset < end {
            let n = (end - offset).min(chunk);
            let data = &mut buf[..n as usize];
            source.read(data, offset)?;
            let mut run: Option<usize> = None; // start of the current non-zero run
            let mut at = 0usize;
            while at < data.len() {
                let piece = (data.len() - at).min(block as usize);
                let zero = fsutil::is_zero(&data[at..at + piece]);
                match (zero, run) {
                    (false, None) => run = Some(at),
                    (true, Some(s)) => {
                        write_run(sink, &data[s..at], offset + s as u64, target)?;
                        run = None;
                    }
                    _ => {}
                }
                at += piece;
            }
            if let Some(s) = run {
                write_run(sink, &data[s..], offset + s as u64, target)?;
            }
            offset += n;
        }
        next_free = next_free.max(end);
    }
    Ok(())
}

fn write_run(sink: &mut dyn Sink, data: &[u8], offset: u64, target: &Path) -> Result<()> {
    sink.write(data, offset)
        .map_err(|e| StorageError::io_raw(target, "cannot write volume data", e))
}
