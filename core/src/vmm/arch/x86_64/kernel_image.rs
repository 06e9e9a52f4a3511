//! Reading a bzImage without running its decompressor: the setup header's
//! payload (Documentation/arch/x86/boot.rst, `payload_offset` and
//! `payload_length`), its xz stream decompressed here with liblzma, and the
//! PVH entry point (`XEN_ELFNOTE_PHYS32_ENTRY`) of the resulting vmlinux.
//!
//! Everything here reads bytes from a file the user named, so every offset
//! is checked and every failure is an error, never a panic.

use linux_loader::bootparam::setup_header;
use std::ops::Range;

/// Offset of `setup_sects` in the bzImage.
const SETUP_SECTS: usize = 0x1f1;
/// Offset of the "HdrS" magic.
const HEADER_MAGIC: usize = 0x202;
/// Offset of the boot protocol version.
const PROTOCOL_VERSION: usize = 0x206;
/// Offset of `payload_offset` (boot protocol 2.08 and later).
const PAYLOAD_OFFSET: usize = 0x248;
/// Offset of `payload_length`.
const PAYLOAD_LENGTH: usize = 0x24c;
/// The first boot protocol version that describes its payload.
const PAYLOAD_PROTOCOL: u16 = 0x0208;
/// The magic bytes that open an .xz stream.
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0];
/// Largest vmlinux we accept from a payload: a kernel this size would not
/// leave room for anything in a guest anyway, and it bounds the memory a
/// corrupt size field can make us reserve.
const MAX_VMLINUX_SIZE: usize = 512 << 20;
/// Memory liblzma may use to decode (the kernel's streams use a 32 MiB
/// dictionary at most).
const XZ_MEMLIMIT: u64 = 256 << 20;

/// The ELF note owner of Xen's notes, NUL-terminated.
const XEN_NOTE_NAME: &[u8] = b"Xen\0";
/// `XEN_ELFNOTE_PHYS32_ENTRY`: the 32-bit PVH entry point.
const XEN_ELFNOTE_PHYS32_ENTRY: u32 = 18;
const PT_NOTE: u32 = 4;

/// Errors reading a bzImage's payload.
#[derive(Debug, thiserror::Error)]
pub enum KernelImageError {
    /// The file has no setup header or one too old to locate its payload.
    #[error("{0}")]
    NoPayload(String),
    /// The payload is an xz stream that cannot be decoded.
    #[error("the kernel's xz payload is corrupt: {0}")]
    CorruptXz(String),
    /// The decoded payload is not a usable ELF file.
    #[error("the kernel's decompressed payload is not a usable ELF file: {0}")]
    BadElf(String),
}

/// How the payload of a bzImage is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// An .xz stream (CONFIG_KERNEL_XZ), which we can decompress.
    Xz,
    /// Anything else (gzip, zstd, lz4, ...): left to the kernel's decompressor.
    Other,
}

fn u16_at(bytes: &[u8], offset: usize) -> Option<u16> {
    let b = bytes.get(offset..offset.checked_add(2)?)?;
    Some(u16::from_le_bytes([b[0], b[1]]))
}

fn u32_at(bytes: &[u8], offset: usize) -> Option<u32> {
    let b = bytes.get(offset..offset.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn u64_at(bytes: &[u8], offset: usize) -> Option<u64> {
    let b = bytes.get(offset..offset.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(b);
    Some(u64::from_le_bytes(a))
}

/// Where the compressed payload lies in the bzImage `image`: after the
/// real-mode setup (`setup_sects` + 1 sectors), at `payload_offset`, for
/// `payload_length` bytes.
pub fn payload_range(image: &[u8]) -> Result<Range<usize>, KernelImageError> {
    let none = |what: &str| KernelImageError::NoPayload(what.to_string());
    if image.get(HEADER_MAGIC..HEADER_MAGIC + 4) != Some(b"HdrS".as_slice()) {
        return Err(none("no \"HdrS\" setup header at offset 0x202"));
    }
    let version = u16_at(image, PROTOCOL_VERSION).ok_or_else(|| none("truncated setup header"))?;
    if version < PAYLOAD_PROTOCOL {
        return Err(KernelImageError::NoPayload(format!(
            "boot protocol {}.{:02} does not describe its payload",
            version >> 8,
            version & 0xff
        )));
    }
    let sects = match image.get(SETUP_SECTS) {
        Some(0) => 4,
        Some(n) => usize::from(*n),
        None => return Err(none("truncated setup header")),
    };
    let offset = u32_at(image, PAYLOAD_OFFSET).ok_or_else(|| none("truncated setup header"))?;
    let length = u32_at(image, PAYLOAD_LENGTH).ok_or_else(|| none("truncated setup header"))?;
    let start = (sects + 1) * 512 + offset as usize;
    let end = start + length as usize;
    if length == 0 || end > image.len() {
        return Err(KernelImageError::NoPayload(format!(
            "the payload ({length} bytes at {start:#x}) lies outside the {} byte file: truncated",
            image.len()
        )));
    }
    Ok(start..end)
}

/// Offset of `initrd_addr_max`.
const INITRD_ADDR_MAX: usize = 0x22c;
/// Offset of `cmdline_size`.
const CMDLINE_SIZE: usize = 0x238;

/// The limits a boot without the kernel's setup code still has to honour:
/// the highest initrd address and the longest command line, as a setup
/// header with only those fields set (0 where the file is too short).
pub fn boot_limits(image: &[u8]) -> setup_header {
    setup_header {
        initrd_addr_max: u32_at(image, INITRD_ADDR_MAX).unwrap_or(0),
        cmdline_size: u32_at(image, CMDLINE_SIZE).unwrap_or(0),
        ..Default::default()
    }
}

/// What the payload's first bytes say it is.
pub fn payload_format(payload: &[u8]) -> PayloadFormat {
    if payload.starts_with(XZ_MAGIC) {
        PayloadFormat::Xz
    } else {
        PayloadFormat::Other
    }
}

/// Decompresses the kernel's xz payload into the vmlinux ELF file. The
/// kernel's build appends the decompressed size (32-bit little endian) to
/// the stream; the output must have exactly that size.
pub fn decompress_xz(payload: &[u8]) -> Result<Vec<u8>, KernelImageError> {
    use xz2::stream::{Action, Status, Stream};
    let corrupt = |what: String| KernelImageError::CorruptXz(what);
    let (stream_bytes, size_trailer) = match payload.len().checked_sub(4) {
        Some(split) if split > 0 => payload.split_at(split),
        _ => return Err(corrupt("shorter than its size trailer".into())),
    };
    let expected = u32_at(size_trailer, 0).unwrap_or(0) as usize;
    if expected == 0 || expected > MAX_VMLINUX_SIZE {
        return Err(corrupt(format!(
            "its size trailer says {expected} bytes (at most {MAX_VMLINUX_SIZE})"
        )));
    }
    let mut decoder =
        Stream::new_stream_decoder(XZ_MEMLIMIT, 0).map_err(|e| corrupt(format!("liblzma: {e}")))?;
    // One byte of slack lets an oversized stream show itself.
    let mut out = Vec::with_capacity(expected + 1);
    let mut input = stream_bytes;
    loop {
        let before_in = decoder.total_in();
        let before_out = out.len();
        let status = decoder
            .process_vec(input, &mut out, Action::Finish)
            .map_err(|e| corrupt(e.to_string()))?;
        let consumed = (decoder.total_in() - before_in) as usize;
        let progressed = consumed > 0 || out.len() > before_out;
        input = input.get(consumed..).unwrap_or_default();
        match status {
            Status::StreamEnd => break,
            _ if out.len() > expected => {
                return Err(corrupt(format!(
                    "it decodes to more than the {expected} bytes its trailer announces"
                )))
            }
            _ if out.len() == out.capacity() => out.reserve(1),
            _ if !progressed => {
                return Err(corrupt(format!(
                    "the stream ends early, after {} of {expected} bytes: truncated",
                    out.len()
                )))
            }
            _ => {}
        }
    }
    if out.len() != expected {
        return Err(corrupt(format!(
            "it decodes to {} bytes, its trailer announces {expected}",
            out.len()
        )));
    }
    Ok(out)
}

/// The PVH entry point of the vmlinux ELF file `elf`: the 32-bit address in
/// its `XEN_ELFNOTE_PHYS32_ENTRY` note, or `None` when it has none.
pub fn pvh_entry(elf: &[u8]) -> Result<Option<u32>, KernelImageError> {
    let bad = |what: &str| KernelImageError::BadElf(what.to_string());
    // ELF64, little endian, x86-64.
    if elf.get(0..6) != Some([0x7f, b'E', b'L', b'F', 2, 1].as_slice()) {
        return Err(bad("not a 64-bit little-endian ELF file"));
    }
    if u16_at(elf, 0x12) != Some(62) {
        return Err(bad("not an x86-64 ELF file"));
    }
    let phoff = u64_at(elf, 0x20).ok_or_else(|| bad("truncated ELF header"))? as usize;
    let phentsize = usize::from(u16_at(elf, 0x36).ok_or_else(|| bad("truncated ELF header"))?);
    let phnum = usize::from(u16_at(elf, 0x38).ok_or_else(|| bad("truncated ELF header"))?);
    if phentsize < 56 {
        return Err(bad("program header entries too small"));
    }
    for index in 0..phnum {
        let ph = phoff
            .checked_add(index * phentsize)
            .ok_or_else(|| bad("program header table out of range"))?;
        let p_type = u32_at(elf, ph).ok_or_else(|| bad("truncated program header table"))?;
        if p_type != PT_NOTE {
            continue;
        }
        let offset = u64_at(elf, ph + 8).ok_or_else(|| bad("truncated program header"))?;
        let size = u64_at(elf, ph + 32).ok_or_else(|| bad("truncated program header"))?;
        let notes = usize::try_from(offset)
            .ok()
            .zip(usize::try_from(size).ok())
            .and_then(|(o, s)| elf.get(o..o.checked_add(s)?))
            .ok_or_else(|| bad("note segment lies outside the file"))?;
        if let Some(entry) = find_phys32_entry(notes)? {
            return Ok(Some(entry));
        }
    }
    Ok(None)
}

/// Walks the notes of one PT_NOTE segment (4-byte aligned name and
/// descriptor, as the kernel's notes are).
fn find_phys32_entry(mut notes: &[u8]) -> Result<Option<u32>, KernelImageError> {
    let align = |n: usize| n.checked_add(3).map(|n| n & !3);
    while notes.len() >= 12 {
        let namesz = u32_at(notes, 0).unwrap_or(0) as usize;
        let descsz = u32_at(notes, 4).unwrap_or(0) as usize;
        let kind = u32_at(notes, 8).unwrap_or(0);
        let name_end = align(namesz).and_then(|n| n.checked_add(12));
        let desc_end = name_end
            .zip(align(descsz))
            .and_then(|(n, d)| n.checked_add(d));
        let (Some(name_end), Some(desc_end)) = (name_end, desc_end) else {
            break;
        };
        let (Some(name), Some(desc)) = (
            notes.get(12..12 + namesz),
            notes.get(name_end..name_end + descsz),
        ) else {
            return Err(KernelImageError::BadElf(
                "a note runs past its segment".into(),
            ));
        };
        if name == XEN_NOTE_NAME && kind == XEN_ELFNOTE_PHYS32_ENTRY {
            return match u32_at(desc, 0) {
                Some(entry) => Ok(Some(entry)),
                None => Err(KernelImageError::BadElf(
                    "the PVH entry note is shorter than 4 bytes".into(),
                )),
            };
        }
        notes = notes.get(desc_end..).unwrap_or_default();
    }
    Ok(None)
}

#[cfg(test)]
#[path = "kernel_image_tests.rs"]
mod tests;
