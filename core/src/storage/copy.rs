//! Cloning volumes: sparse raw copies, qcow2 copies and conversions between them.
//!
//! Only ranges that may hold data are read (SEEK_DATA/SEEK_HOLE for raw, the
//! cluster mappings for qcow2), and blocks that turn out to be all zero are
//! never written, so a clone is as sparse as its source or sparser.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;

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
/// Chunks read ahead of the writer.
const PIPELINE_DEPTH: usize = 3;
/// Bytes written between two requests to start write-back.
const WRITEBACK_EVERY: u64 = 32 * 1024 * 1024;

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
        copy_extents(
            &source,
            &extents,
            &mut sink,
            RAW_BLOCK,
            temp.file(),
            temp.path(),
        )?;
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
                temp.file(),
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
        header.check_backing_chain(path)?;
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

/// One piece of source data on its way to the sink.
struct Chunk {
    /// Guest offset of `buf[0]`.
    offset: u64,
    /// The data; only the first `len` bytes are valid.
    buf: Vec<u8>,
    len: usize,
    /// Byte ranges of `buf` that are not all zero, in order.
    runs: Vec<(usize, usize)>,
}

/// Copies the data ranges of `source` to `sink`, skipping all-zero blocks of
/// `block` bytes (the target's allocation unit) and writing runs of non-zero
/// blocks in one call.
///
/// A reader thread reads and scans for zeroes while this thread writes, and
/// write-back of the target `out` is started as data arrives so the final
/// fsync has little left to do.
fn copy_extents(
    source: &Source<'_>,
    extents: &[(u64, u64)],
    sink: &mut dyn Sink,
    block: u64,
    out: &File,
    target: &Path,
) -> Result<()> {
    let chunk = CHUNK.max(block);
    let pieces = chunk_plan(extents, block, chunk, source.capacity());
    let (full_tx, full_rx) = mpsc::sync_channel::<Chunk>(PIPELINE_DEPTH);
    let (free_tx, free_rx) = mpsc::channel::<Vec<u8>>();
    for _ in 0..=PIPELINE_DEPTH {
        // The receiver is alive right here, so sending cannot fail.
        let _ = free_tx.send(vec![0u8; chunk as usize]);
    }
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || -> Result<()> {
            for (offset, len) in pieces {
                // A closed channel means the writer stopped on an error it reports itself.
                let Ok(mut buf) = free_rx.recv() else {
                    return Ok(());
                };
                let len = len as usize;
                source.read(&mut buf[..len], offset)?;
                let runs = nonzero_runs(&buf[..len], block as usize);
                if full_tx
                    .send(Chunk {
                        offset,
                        buf,
                        len,
                        runs,
                    })
                    .is_err()
                {
                    return Ok(());
                }
            }
            Ok(())
        });
        let written = write_chunks(&full_rx, &free_tx, sink, out, target);
        // Unblock the reader if the writer gave up early.
        drop(full_rx);
        drop(free_tx);
        let read = reader.join().unwrap_or_else(|_| {
            Err(StorageError::io_raw(
                target,
                "cannot copy volume",
                std::io::Error::other("the reader thread panicked"),
            ))
        });
        read.and(written)
    })
}

/// Block-aligned `(offset, length)` pieces of at most `chunk` bytes covering
/// `extents`, in order, never covering a block twice.
fn chunk_plan(extents: &[(u64, u64)], block: u64, chunk: u64, capacity: u64) -> Vec<(u64, u64)> {
    let mut pieces = Vec::new();
    let mut next_free = 0;
    for &(start, len) in extents {
        let mut offset = (start / block * block).max(next_free);
        let end = start
            .saturating_add(len)
            .div_ceil(block)
            .saturating_mul(block)
            .min(capacity);
        while offset < end {
            let n = (end - offset).min(chunk);
            pieces.push((offset, n));
            offset += n;
        }
        next_free = next_free.max(end);
    }
    pieces
}

/// Ranges of `data` made of blocks that are not all zero, merged when adjacent.
fn nonzero_runs(data: &[u8], block: usize) -> Vec<(usize, usize)> {
    let mut runs: Vec<(usize, usize)> = Vec::new();
    for (index, piece) in data.chunks(block).enumerate() {
        if fsutil::is_zero(piece) {
            continue;
        }
        let start = index * block;
        let end = start + piece.len();
        match runs.last_mut() {
            Some((_, run_end)) if *run_end == start => *run_end = end,
            _ => runs.push((start, end)),
        }
    }
    runs
}

fn write_chunks(
    full: &mpsc::Receiver<Chunk>,
    free: &mpsc::Sender<Vec<u8>>,
    sink: &mut dyn Sink,
    out: &File,
    target: &Path,
) -> Result<()> {
    let mut unflushed = 0u64;
    for chunk in full.iter() {
        for &(start, end) in &chunk.runs {
            let data = &chunk.buf[start..end.min(chunk.len)];
            write_run(sink, data, chunk.offset + start as u64, target)?;
            unflushed += data.len() as u64;
        }
        if unflushed >= WRITEBACK_EVERY {
            fsutil::start_writeback(out);
            unflushed = 0;
        }
        // The reader may have finished and left; then the buffer is simply dropped.
        let _ = free.send(chunk.buf);
    }
    Ok(())
}

fn write_run(sink: &mut dyn Sink, data: &[u8], offset: u64, target: &Path) -> Result<()> {
    sink.write(data, offset)
        .map_err(|e| StorageError::io_raw(target, "cannot write volume data", e))
}
