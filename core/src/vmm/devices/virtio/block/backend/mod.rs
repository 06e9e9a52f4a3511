//! Disk images behind a virtio-blk device: raw files (and host block
//! devices) and qcow2 images with their backing chains.
//!
//! A backend is owned by the device's I/O thread and used from that thread
//! only; it reads into and writes from guest memory directly ([`IoBuffers`]),
//! without an intermediate copy.

use crate::vmm::config::{DiskConfig, DiskFormat};
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

mod qcow2;
mod raw;

pub use qcow2::Qcow2Disk;
pub use raw::RawDisk;

/// Errors opening a disk image.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The image file cannot be opened.
    #[error("disk {target}: cannot open {path}: {error}")]
    Open {
        /// `<target dev>`.
        target: String,
        /// The image.
        path: PathBuf,
        /// Why (in the message: the chain would repeat it).
        error: io::Error,
    },
    /// The qcow2 image (or one of its backing files) cannot be used.
    #[error("disk {target}: {path} is not a usable qcow2 image: {error}")]
    Qcow2 {
        /// `<target dev>`.
        target: String,
        /// The image.
        path: PathBuf,
        /// What imago reported.
        error: io::Error,
    },
}

impl BackendError {
    fn open(config: &DiskConfig, error: io::Error) -> BackendError {
        BackendError::Open {
            target: config.target.clone(),
            path: config.path.clone(),
            error,
        }
    }
}

/// Guest memory (or, in tests and fallbacks, host memory) a request reads
/// into or writes from, as an I/O vector.
///
/// Only constructed from memory that stays mapped for `'m`: guest memory
/// through [`IoBuffers::from_guest`], or a borrowed host buffer.
pub struct IoBuffers<'m> {
    iovecs: Vec<libc::iovec>,
    len: u64,
    _memory: PhantomData<&'m mut [u8]>,
}

impl<'m> IoBuffers<'m> {
    /// No buffers.
    pub fn new() -> IoBuffers<'m> {
        IoBuffers {
            iovecs: Vec::new(),
            len: 0,
            _memory: PhantomData,
        }
    }

    /// Adds the guest memory behind `slice`.
    pub fn push_guest<B: vm_memory::bitmap::BitmapSlice>(
        &mut self,
        slice: &vm_memory::VolatileSlice<'m, B>,
    ) {
        if slice.is_empty() {
            return;
        }
        let guard = slice.ptr_guard_mut();
        self.iovecs.push(libc::iovec {
            iov_base: guard.as_ptr().cast(),
            iov_len: guard.len(),
        });
        self.len += guard.len() as u64;
    }

    /// Buffers over a host slice.
    pub fn from_slice(buf: &'m mut [u8]) -> IoBuffers<'m> {
        let len = buf.len() as u64;
        IoBuffers {
            iovecs: vec![libc::iovec {
                iov_base: buf.as_mut_ptr().cast(),
                iov_len: buf.len(),
            }],
            len,
            _memory: PhantomData,
        }
    }

    /// Total length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether there are no bytes at all.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The vector, for preadv/pwritev.
    pub(super) fn iovecs(&self) -> &[libc::iovec] {
        &self.iovecs
    }

    /// The buffers as mutable byte slices (for imago).
    ///
    /// The guest may change its memory at any time; what it sees in a buffer
    /// it handed to the device while the request is in flight is undefined
    /// by virtio, and the bytes are only moved, never interpreted.
    pub(super) fn as_slices_mut(&mut self) -> Vec<io::IoSliceMut<'_>> {
        self.iovecs
            .iter()
            .map(|v| {
                // SAFETY: every iovec was built from a VolatileSlice or a
                // `&'m mut [u8]` of exactly this base and length, which stays
                // mapped for 'm, longer than the returned borrow of `self`.
                let bytes = unsafe { std::slice::from_raw_parts_mut(v.iov_base.cast(), v.iov_len) };
                io::IoSliceMut::new(bytes)
            })
            .collect()
    }

    /// The buffers as byte slices (for imago).
    pub(super) fn as_slices(&self) -> Vec<io::IoSlice<'_>> {
        self.iovecs
            .iter()
            .map(|v| {
                // SAFETY: as in `as_slices_mut`: the memory stays mapped for 'm.
                let bytes = unsafe { std::slice::from_raw_parts(v.iov_base.cast(), v.iov_len) };
                io::IoSlice::new(bytes)
            })
            .collect()
    }
}

impl Default for IoBuffers<'_> {
    fn default() -> Self {
        IoBuffers::new()
    }
}

/// What a backend can do besides reading and writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendCaps {
    /// Ranges can be deallocated (punch hole, qcow2 discard).
    pub discard: bool,
    /// Ranges can be zeroed without writing buffers (zero range, zero clusters).
    pub write_zeroes: bool,
}

/// A disk image as the device sees it: a flat array of bytes.
pub trait DiskBackend: Send {
    /// Size in bytes.
    fn capacity(&self) -> u64;

    /// What it supports.
    fn caps(&self) -> BackendCaps;

    /// Reads `bufs.len()` bytes at `offset` (inside the capacity).
    fn read(&mut self, offset: u64, bufs: &mut IoBuffers<'_>) -> io::Result<()>;

    /// Writes `bufs` at `offset` (inside the capacity).
    fn write(&mut self, offset: u64, bufs: &IoBuffers<'_>) -> io::Result<()>;

    /// Makes every completed write durable.
    fn flush(&mut self) -> io::Result<()>;

    /// Deallocates a range; what it reads afterwards is unspecified.
    fn discard(&mut self, offset: u64, len: u64) -> io::Result<()>;

    /// Makes a range read as zeroes; `unmap` allows deallocating it.
    fn write_zeroes(&mut self, offset: u64, len: u64, unmap: bool) -> io::Result<()>;
}

/// Opens the image of `config`, read-only when the disk is.
pub fn open_disk(config: &DiskConfig) -> Result<Box<dyn DiskBackend>, BackendError> {
    match config.format {
        DiskFormat::Raw => Ok(Box::new(RawDisk::open(config)?)),
        DiskFormat::Qcow2 => Ok(Box::new(Qcow2Disk::open(config)?)),
    }
}

/// Opens `path` for reading, and for writing unless `read_only`.
fn open_file(path: &Path, read_only: bool) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .write(!read_only)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Writes zeroes over a range through `write`, 1 MiB at a time: the
/// fallback when the image cannot zero a range itself.
fn write_zero_buffers(disk: &mut dyn DiskBackend, mut offset: u64, len: u64) -> io::Result<()> {
    const CHUNK: u64 = 1 << 20;
    let mut zeroes = vec![0u8; CHUNK.min(len) as usize];
    let end = offset.saturating_add(len);
    while offset < end {
        let n = (end - offset).min(CHUNK) as usize;
        let bufs = IoBuffers::from_slice(&mut zeroes[..n]);
        disk.write(offset, &bufs)?;
        offset += n as u64;
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_files {
    //! Scratch folders for backend and device tests.
    use std::path::{Path, PathBuf};

    /// A folder removed with its content on drop.
    pub struct TempDir(PathBuf);

    impl TempDir {
        /// A new empty folder named after `tag`.
        pub fn new(tag: &str) -> TempDir {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let n = N.fetch_add(1, Ordering::Relaxed);
            let dir =
                std::env::temp_dir().join(format!("hangar-blk-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("scratch folder");
            TempDir(dir)
        }

        /// Its path.
        pub fn path(&self) -> &Path {
            &self.0
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}
