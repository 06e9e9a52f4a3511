//! One virtio-blk request: parsed from a descriptor chain the guest wrote
//! (untrusted: every length and address is checked), executed against the
//! disk image, answered with a status byte.
//!
//! The chain's layout is free (virtio 1.x): the device-readable bytes are
//! the 16-byte header then the request's data, the device-writable bytes
//! are the data the device returns then the one status byte.

use super::backend::{DiskBackend, IoBuffers};
use std::io;
use virtio_queue::DescriptorChain;
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

/// Bytes in a sector, the unit of virtio-blk offsets.
pub const SECTOR_SIZE: u64 = 512;
/// Length of the id GET_ID returns.
pub const ID_BYTES: usize = 20;
/// Largest number of ranges in one DISCARD or WRITE_ZEROES request.
pub const MAX_RANGES: u32 = 32;
/// Largest range, in sectors, of one DISCARD or WRITE_ZEROES range (1 GiB).
pub const MAX_RANGE_SECTORS: u32 = 1 << 21;

/// Request types (virtio 1.2, 5.2.6).
pub mod request_type {
    /// Read.
    pub const IN: u32 = 0;
    /// Write.
    pub const OUT: u32 = 1;
    /// Flush the write cache.
    pub const FLUSH: u32 = 4;
    /// Read the device id (serial).
    pub const GET_ID: u32 = 8;
    /// Deallocate ranges.
    pub const DISCARD: u32 = 11;
    /// Zero ranges.
    pub const WRITE_ZEROES: u32 = 13;
}

/// Request status byte values.
pub mod status {
    /// Success.
    pub const OK: u8 = 0;
    /// Failure (I/O error, out of range, malformed, read-only).
    pub const IOERR: u8 = 1;
    /// Request type not supported.
    pub const UNSUPP: u8 = 2;
}

/// `flags` of a DISCARD / WRITE_ZEROES range: the device may deallocate.
const RANGE_FLAG_UNMAP: u32 = 1;

/// What a request may do on this disk.
#[derive(Debug, Clone)]
pub struct DiskProperties {
    /// Size in sectors.
    pub sectors: u64,
    /// Writes are refused.
    pub read_only: bool,
    /// DISCARD was offered.
    pub discard: bool,
    /// Discards reach the image (`discard='unmap'`); otherwise they are
    /// accepted and ignored, like QEMU's `discard='ignore'`.
    pub discard_unmap: bool,
    /// WRITE_ZEROES was offered.
    pub write_zeroes: bool,
    /// The id GET_ID returns (zero-padded `<serial>`).
    pub id: [u8; ID_BYTES],
}

/// Device-readable or device-writable guest memory of one chain, in order.
#[derive(Debug, Default)]
struct Segments {
    parts: Vec<(GuestAddress, u64)>,
    len: u64,
}

impl Segments {
    fn push(&mut self, addr: GuestAddress, len: u64) {
        if len > 0 {
            self.parts.push((addr, len));
            self.len += len;
        }
    }

    /// Removes and returns the first `n` bytes.
    fn take_front(&mut self, mut n: u64) -> Segments {
        let mut front = Segments::default();
        while n > 0 {
            let Some(&(addr, len)) = self.parts.first() else {
                break;
            };
            if len <= n {
                front.push(addr, len);
                self.parts.remove(0);
                self.len -= len;
                n -= len;
            } else {
                front.push(addr, n);
                self.parts[0] = (GuestAddress(addr.0.wrapping_add(n)), len - n);
                self.len -= n;
                n = 0;
            }
        }
        front
    }

    /// Removes the last byte and returns its address.
    fn take_last_byte(&mut self) -> Option<GuestAddress> {
        let (addr, len) = self.parts.pop()?;
        self.len -= 1;
        if len > 1 {
            self.parts.push((addr, len - 1));
        }
        addr.0.checked_add(len - 1).map(GuestAddress)
    }

    /// Copies the bytes into `buf` (which must be `self.len` long).
    fn read_into(&self, mem: &GuestMemoryMmap, buf: &mut [u8]) -> Result<(), Invalid> {
        let mut at = 0usize;
        for &(addr, len) in &self.parts {
            let len = usize::try_from(len).map_err(|_| Invalid)?;
            let end = at.checked_add(len).ok_or(Invalid)?;
            let dst = buf.get_mut(at..end).ok_or(Invalid)?;
            mem.read_slice(dst, addr).map_err(|_| Invalid)?;
            at = end;
        }
        Ok(())
    }

    /// Copies `data` to the start of the segments.
    fn write_from(&self, mem: &GuestMemoryMmap, mut data: &[u8]) -> Result<(), Invalid> {
        for &(addr, len) in &self.parts {
            if data.is_empty() {
                break;
            }
            let n = data.len().min(usize::try_from(len).unwrap_or(usize::MAX));
            mem.write_slice(&data[..n], addr).map_err(|_| Invalid)?;
            data = &data[n..];
        }
        Ok(())
    }

    /// The segments as host buffers over guest memory.
    fn buffers<'m>(&self, mem: &'m GuestMemoryMmap) -> Result<IoBuffers<'m>, Invalid> {
        let mut bufs = IoBuffers::new();
        for &(addr, len) in &self.parts {
            let len = usize::try_from(len).map_err(|_| Invalid)?;
            for slice in GuestMemoryBackend::get_slices(mem, addr, len) {
                bufs.push_guest(&slice.map_err(|_| Invalid)?);
            }
        }
        Ok(bufs)
    }
}

/// The guest handed us something malformed (bad address, bad layout).
#[derive(Debug)]
struct Invalid;

/// How a request ended.
enum Outcome {
    Done(u8),
    /// Success, with this many data bytes written for the guest.
    Returned(u32),
}

impl From<Invalid> for Outcome {
    fn from(_: Invalid) -> Outcome {
        Outcome::Done(status::IOERR)
    }
}

fn io_status(result: io::Result<()>, what: &str, disk_name: &str) -> Outcome {
    match result {
        Ok(()) => Outcome::Done(status::OK),
        Err(e) => {
            eprintln!("hangar-vmm: {disk_name}: {what} failed: {e}");
            Outcome::Done(status::IOERR)
        }
    }
}

/// Serves one chain; returns the number of bytes written into the guest's
/// writable buffers (the used length, status byte included).
pub fn serve(
    mem: &GuestMemoryMmap,
    chain: DescriptorChain<&GuestMemoryMmap>,
    disk: &mut dyn DiskBackend,
    props: &DiskProperties,
    disk_name: &str,
) -> u32 {
    let mut readable = Segments::default();
    let mut writable = Segments::default();
    let mut layout_ok = true;
    for desc in chain {
        if desc.is_write_only() {
            writable.push(desc.addr(), u64::from(desc.len()));
        } else {
            // Device-readable after device-writable breaks the layout rule.
            layout_ok &= writable.parts.is_empty();
            readable.push(desc.addr(), u64::from(desc.len()));
        }
    }
    let Some(status_addr) = writable.take_last_byte() else {
        // Nowhere to put a status: nothing can be answered.
        return 0;
    };
    let outcome = if layout_ok {
        execute(mem, readable, &writable, disk, props, disk_name)
    } else {
        Outcome::Done(status::IOERR)
    };
    let (code, data_len) = match outcome {
        Outcome::Done(code) => (code, 0),
        Outcome::Returned(n) => (status::OK, n),
    };
    if mem.write_obj(code, status_addr).is_err() {
        return 0;
    }
    data_len.saturating_add(1)
}

fn execute(
    mem: &GuestMemoryMmap,
    mut readable: Segments,
    writable: &Segments,
    disk: &mut dyn DiskBackend,
    props: &DiskProperties,
    disk_name: &str,
) -> Outcome {
    let header = readable.take_front(16);
    if header.len < 16 {
        return Outcome::Done(status::IOERR);
    }
    let mut raw = [0u8; 16];
    if header.read_into(mem, &mut raw).is_err() {
        return Outcome::Done(status::IOERR);
    }
    let kind = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    let sector = u64::from_le_bytes([
        raw[8], raw[9], raw[10], raw[11], raw[12], raw[13], raw[14], raw[15],
    ]);
    match kind {
        request_type::IN => {
            let Some(offset) = data_range(sector, writable.len, props) else {
                return Outcome::Done(status::IOERR);
            };
            let mut bufs = match writable.buffers(mem) {
                Ok(b) => b,
                Err(e) => return e.into(),
            };
            match io_status(disk.read(offset, &mut bufs), "read", disk_name) {
                Outcome::Done(status::OK) => {
                    Outcome::Returned(u32::try_from(writable.len).unwrap_or(u32::MAX))
                }
                other => other,
            }
        }
        request_type::OUT => {
            if props.read_only {
                return Outcome::Done(status::IOERR);
            }
            let Some(offset) = data_range(sector, readable.len, props) else {
                return Outcome::Done(status::IOERR);
            };
            match readable.buffers(mem) {
                Ok(bufs) => io_status(disk.write(offset, &bufs), "write", disk_name),
                Err(e) => e.into(),
            }
        }
        request_type::FLUSH => {
            if props.read_only {
                return Outcome::Done(status::OK);
            }
            io_status(disk.flush(), "flush", disk_name)
        }
        request_type::GET_ID => {
            let n = usize::try_from(writable.len)
                .unwrap_or(usize::MAX)
                .min(ID_BYTES);
            match writable.write_from(mem, &props.id[..n]) {
                Ok(()) => Outcome::Returned(n as u32),
                Err(e) => e.into(),
            }
        }
        request_type::DISCARD if props.discard => {
            ranges(mem, &readable, props, false, disk, disk_name)
        }
        request_type::WRITE_ZEROES if props.write_zeroes => {
            ranges(mem, &readable, props, true, disk, disk_name)
        }
        _ => Outcome::Done(status::UNSUPP),
    }
}

/// The byte offset of `len` bytes at `sector`, if they are whole sectors
/// inside the disk.
fn data_range(sector: u64, len: u64, props: &DiskProperties) -> Option<u64> {
    if len % SECTOR_SIZE != 0 {
        return None;
    }
    let end = sector.checked_add(len / SECTOR_SIZE)?;
    if end > props.sectors {
        return None;
    }
    sector.checked_mul(SECTOR_SIZE)
}

/// DISCARD (`zeroes` false) or WRITE_ZEROES: a list of 16-byte ranges.
fn ranges(
    mem: &GuestMemoryMmap,
    data: &Segments,
    props: &DiskProperties,
    zeroes: bool,
    disk: &mut dyn DiskBackend,
    disk_name: &str,
) -> Outcome {
    if props.read_only {
        return Outcome::Done(status::IOERR);
    }
    let count = data.len / 16;
    if data.len % 16 != 0 || count == 0 || count > u64::from(MAX_RANGES) {
        return Outcome::Done(status::IOERR);
    }
    let mut raw = vec![0u8; data.len as usize];
    if let Err(e) = data.read_into(mem, &mut raw) {
        return e.into();
    }
    // Check every range before touching the image.
    let mut todo = Vec::with_capacity(count as usize);
    for r in raw.chunks_exact(16) {
        let sector = u64::from_le_bytes([r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]]);
        let sectors = u32::from_le_bytes([r[8], r[9], r[10], r[11]]);
        let flags = u32::from_le_bytes([r[12], r[13], r[14], r[15]]);
        let allowed = if zeroes { RANGE_FLAG_UNMAP } else { 0 };
        if flags & !allowed != 0 {
            return Outcome::Done(status::UNSUPP);
        }
        if sectors > MAX_RANGE_SECTORS {
            return Outcome::Done(status::IOERR);
        }
        let len = u64::from(sectors) * SECTOR_SIZE;
        let Some(offset) = data_range(sector, len, props) else {
            return Outcome::Done(status::IOERR);
        };
        todo.push((offset, len, flags & RANGE_FLAG_UNMAP != 0));
    }
    for (offset, len, unmap) in todo {
        let result = if zeroes {
            disk.write_zeroes(offset, len, unmap && props.discard_unmap)
        } else if props.discard_unmap {
            disk.discard(offset, len)
        } else {
            Ok(())
        };
        if let Outcome::Done(code) = io_status(
            result,
            if zeroes { "write-zeroes" } else { "discard" },
            disk_name,
        ) {
            if code != status::OK {
                return Outcome::Done(code);
            }
        }
    }
    Outcome::Done(status::OK)
}
