//! Raw images: a regular file or a host block device, read and written
//! with preadv/pwritev straight into guest memory.

use super::{open_file, write_zero_buffers, BackendCaps, BackendError, DiskBackend, IoBuffers};
use crate::vmm::config::DiskConfig;
use std::fs::File;
use std::io::{self, Seek, SeekFrom};
use std::os::fd::AsRawFd;

/// A raw image.
pub struct RawDisk {
    file: File,
    capacity: u64,
    /// Punch-hole / zero-range failed with "not supported" once: stop trying.
    no_fallocate: bool,
}

impl RawDisk {
    /// Opens the image of `config` (read-only when the disk is).
    pub fn open(config: &DiskConfig) -> Result<RawDisk, BackendError> {
        let mut file =
            open_file(&config.path, config.read_only).map_err(|e| BackendError::open(config, e))?;
        // Seeking to the end gives the size of block devices too.
        let capacity = file
            .seek(SeekFrom::End(0))
            .map_err(|e| BackendError::open(config, e))?;
        Ok(RawDisk::from_file(file, capacity))
    }

    /// A raw disk over an open file of `capacity` bytes.
    pub fn from_file(file: File, capacity: u64) -> RawDisk {
        RawDisk {
            file,
            capacity,
            no_fallocate: false,
        }
    }

    fn fallocate(&mut self, mode: libc::c_int, offset: u64, len: u64) -> io::Result<bool> {
        if self.no_fallocate {
            return Ok(false);
        }
        let (Ok(off), Ok(length)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len))
        else {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        };
        loop {
            // SAFETY: fallocate on a file descriptor we own, with plain
            // integer arguments; it touches no memory of ours.
            let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), mode, off, length) };
            if rc == 0 {
                return Ok(true);
            }
            let err = io::Error::last_os_error();
            match err.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EOPNOTSUPP) | Some(libc::ENOSYS) => {
                    self.no_fallocate = true;
                    return Ok(false);
                }
                _ => return Err(err),
            }
        }
    }
}

/// Skips `n` bytes at the front of `iovecs` (after a short transfer).
fn advance(iovecs: &mut Vec<libc::iovec>, mut n: usize) {
    let mut drop = 0;
    for v in iovecs.iter_mut() {
        if n >= v.iov_len {
            n -= v.iov_len;
            drop += 1;
        } else {
            // SAFETY: n < iov_len, so the new base stays inside the buffer.
            v.iov_base = unsafe { v.iov_base.cast::<u8>().add(n) }.cast();
            v.iov_len -= n;
            break;
        }
    }
    iovecs.drain(..drop);
}

/// Moves the bytes of `iovecs` at `offset` with `op` (preadv or pwritev),
/// retrying short transfers and interruptions. `Ok(false)` when `op` moved
/// nothing (end of file), with `iovecs` left at what remains.
fn transfer(
    fd: libc::c_int,
    iovecs: &mut Vec<libc::iovec>,
    offset: u64,
    op: impl Fn(libc::c_int, *const libc::iovec, libc::c_int, libc::off_t) -> isize,
) -> io::Result<bool> {
    let mut pos = offset;
    while !iovecs.is_empty() {
        let count = iovecs.len().min(1024) as libc::c_int;
        let off = libc::off_t::try_from(pos).map_err(|_| io::ErrorKind::InvalidInput)?;
        let n = op(fd, iovecs.as_ptr(), count, off);
        if n < 0 {
            let err = io::Error::last_os_error();
            if err.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(err);
        }
        if n == 0 {
            return Ok(false);
        }
        pos += n as u64;
        advance(iovecs, n as usize);
    }
    Ok(true)
}

impl DiskBackend for RawDisk {
    fn capacity(&self) -> u64 {
        self.capacity
    }

    fn caps(&self) -> BackendCaps {
        BackendCaps {
            discard: true,
            write_zeroes: true,
        }
    }

    fn read(&mut self, offset: u64, bufs: &mut IoBuffers<'_>) -> io::Result<()> {
        let mut iovecs = bufs.iovecs().to_vec();
        // SAFETY: `transfer` only passes pointers into `iovecs`, which
        // describe memory IoBuffers keeps mapped and writable for this call.
        let op =
            |fd, iov: *const libc::iovec, count, off| unsafe { libc::preadv(fd, iov, count, off) };
        let done = transfer(self.file.as_raw_fd(), &mut iovecs, offset, op)?;
        if !done {
            // Past the end of a file that shrank under us: zeroes.
            for v in &iovecs {
                // SAFETY: as above, each iovec is valid writable memory.
                unsafe { std::ptr::write_bytes(v.iov_base.cast::<u8>(), 0, v.iov_len) };
            }
        }
        Ok(())
    }

    fn write(&mut self, offset: u64, bufs: &IoBuffers<'_>) -> io::Result<()> {
        let mut iovecs = bufs.iovecs().to_vec();
        // SAFETY: `transfer` only passes pointers into `iovecs`, which
        // describe mapped memory (IoBuffers); pwritev only reads it.
        let op =
            |fd, iov: *const libc::iovec, count, off| unsafe { libc::pwritev(fd, iov, count, off) };
        if transfer(self.file.as_raw_fd(), &mut iovecs, offset, op)? {
            Ok(())
        } else {
            Err(io::ErrorKind::WriteZero.into())
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }

    fn discard(&mut self, offset: u64, len: u64) -> io::Result<()> {
        // Discard is a hint: when the file system cannot punch holes, the
        // data simply stays.
        self.fallocate(
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE,
            offset,
            len,
        )
        .map(|_| ())
    }

    fn write_zeroes(&mut self, offset: u64, len: u64, unmap: bool) -> io::Result<()> {
        let mode = if unmap {
            libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE
        } else {
            libc::FALLOC_FL_ZERO_RANGE | libc::FALLOC_FL_KEEP_SIZE
        };
        if self.fallocate(mode, offset, len)? {
            return Ok(());
        }
        write_zero_buffers(self, offset, len)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_files::TempDir;
    use super::*;
    use std::io::{Read, Write};

    fn temp_disk(content: &[u8]) -> (TempDir, std::path::PathBuf, RawDisk) {
        let dir = TempDir::new("raw");
        let path = dir.path().join("disk.img");
        let mut f = File::create(&path).expect("create");
        f.write_all(content).expect("write");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
            .expect("open");
        let len = content.len() as u64;
        (dir, path, RawDisk::from_file(file, len))
    }

    #[test]
    fn reads_and_writes_across_several_buffers() {
        let (_dir, path, mut disk) = temp_disk(&[7u8; 8192]);
        let mut data = vec![0u8; 1024];
        for (i, b) in data.iter_mut().enumerate() {
            *b = i as u8;
        }
        disk.write(512, &IoBuffers::from_slice(&mut data))
            .expect("write");
        let mut back = vec![0u8; 2048];
        disk.read(0, &mut IoBuffers::from_slice(&mut back))
            .expect("read");
        assert_eq!(&back[..512], &[7u8; 512][..]);
        assert_eq!(&back[512..1536], &data[..]);
        disk.flush().expect("flush");
        disk.write_zeroes(0, 4096, false).expect("zeroes");
        let mut f = File::open(&path).expect("open");
        let mut all = Vec::new();
        f.read_to_end(&mut all).expect("read back");
        assert_eq!(all.len(), 8192, "zeroing keeps the size");
        assert!(all[..4096].iter().all(|&b| b == 0));
        assert!(all[4096..].iter().all(|&b| b == 7));
        disk.discard(4096, 4096).expect("discard");
    }

    #[test]
    fn advance_skips_whole_and_partial_buffers() {
        let mut a = [0u8; 4];
        let mut b = [0u8; 4];
        let mut v = vec![
            libc::iovec {
                iov_base: a.as_mut_ptr().cast(),
                iov_len: 4,
            },
            libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: 4,
            },
        ];
        advance(&mut v, 5);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].iov_len, 3);
        assert_eq!(v[0].iov_base as usize, b.as_ptr() as usize + 1);
    }
}
