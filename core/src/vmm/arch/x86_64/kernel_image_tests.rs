use super::*;
use xz2::stream::{Action, Check, Filters, LzmaOptions, Status, Stream};

/// Compresses `data` as the kernel's build does: an .xz stream with the x86
/// BCJ filter before LZMA2 and CRC32 checks, then the size as 4 bytes.
fn kernel_xz(data: &[u8]) -> Vec<u8> {
    let mut filters = Filters::new();
    let options = LzmaOptions::new_preset(6).expect("preset");
    filters.x86().lzma2(&options);
    let mut encoder = Stream::new_stream_encoder(&filters, Check::Crc32).expect("encoder");
    let mut out = Vec::with_capacity(data.len() + 4096);
    let mut input = data;
    loop {
        let before = encoder.total_in();
        let status = encoder
            .process_vec(input, &mut out, Action::Finish)
            .expect("encode");
        input = &input[(encoder.total_in() - before) as usize..];
        if status == Status::StreamEnd {
            break;
        }
        out.reserve(4096);
    }
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// A bzImage-shaped file: `setup_sects` = 3, protocol 2.15, the payload at
/// `payload_offset` = 0x100 in the protected-mode part.
fn bzimage_with(payload: &[u8]) -> Vec<u8> {
    let mut image = vec![0u8; 4 * 512 + 0x100];
    image[SETUP_SECTS] = 3;
    image[HEADER_MAGIC..HEADER_MAGIC + 4].copy_from_slice(b"HdrS");
    image[PROTOCOL_VERSION..PROTOCOL_VERSION + 2].copy_from_slice(&0x020fu16.to_le_bytes());
    image[PAYLOAD_OFFSET..PAYLOAD_OFFSET + 4].copy_from_slice(&0x100u32.to_le_bytes());
    image[PAYLOAD_LENGTH..PAYLOAD_LENGTH + 4]
        .copy_from_slice(&(payload.len() as u32).to_le_bytes());
    image.extend_from_slice(payload);
    image.extend_from_slice(&[0u8; 64]);
    image
}

fn note(name: &[u8], kind: u32, desc: &[u8]) -> Vec<u8> {
    let mut n = Vec::new();
    n.extend_from_slice(&(name.len() as u32).to_le_bytes());
    n.extend_from_slice(&(desc.len() as u32).to_le_bytes());
    n.extend_from_slice(&kind.to_le_bytes());
    n.extend_from_slice(name);
    n.resize(n.len().div_ceil(4) * 4, 0);
    n.extend_from_slice(desc);
    n.resize(n.len().div_ceil(4) * 4, 0);
    n
}

/// An ELF64 x86-64 file with a PT_LOAD header and one PT_NOTE segment
/// holding `notes`.
fn elf_with_notes(notes: &[u8]) -> Vec<u8> {
    let mut elf = vec![0u8; 64 + 2 * 56];
    elf[0..6].copy_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1]);
    elf[0x12..0x14].copy_from_slice(&62u16.to_le_bytes());
    elf[0x20..0x28].copy_from_slice(&64u64.to_le_bytes());
    elf[0x36..0x38].copy_from_slice(&56u16.to_le_bytes());
    elf[0x38..0x3a].copy_from_slice(&2u16.to_le_bytes());
    elf[64..68].copy_from_slice(&1u32.to_le_bytes());
    let note_ph = 64 + 56;
    let offset = elf.len() as u64;
    elf[note_ph..note_ph + 4].copy_from_slice(&PT_NOTE.to_le_bytes());
    elf[note_ph + 8..note_ph + 16].copy_from_slice(&offset.to_le_bytes());
    elf[note_ph + 32..note_ph + 40].copy_from_slice(&(notes.len() as u64).to_le_bytes());
    elf.extend_from_slice(notes);
    elf
}

#[test]
fn xz_payload_is_found_and_decompressed() {
    let vmlinux: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 251).to_le_bytes())
        .collect();
    let image = bzimage_with(&kernel_xz(&vmlinux));
    let range = payload_range(&image).expect("payload");
    assert_eq!(range.start, 4 * 512 + 0x100);
    let payload = &image[range];
    assert_eq!(payload_format(payload), PayloadFormat::Xz);
    assert_eq!(decompress_xz(payload).expect("decompressed"), vmlinux);
}

#[test]
fn other_payloads_are_left_to_the_kernel() {
    let gzip = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0];
    let image = bzimage_with(&gzip);
    let range = payload_range(&image).expect("payload");
    assert_eq!(payload_format(&image[range]), PayloadFormat::Other);
}

#[test]
fn missing_or_old_headers_have_no_payload() {
    assert!(matches!(
        payload_range(&[0u8; 100]),
        Err(KernelImageError::NoPayload(_))
    ));
    let mut image = bzimage_with(&[1, 2, 3, 4]);
    image[PROTOCOL_VERSION..PROTOCOL_VERSION + 2].copy_from_slice(&0x0206u16.to_le_bytes());
    let err = payload_range(&image).expect_err("old protocol");
    assert!(err.to_string().contains("2.06"), "{err}");
}

#[test]
fn truncated_file_is_refused() {
    let payload = kernel_xz(&[7u8; 50_000]);
    let image = bzimage_with(&payload);
    let cut = &image[..4 * 512 + 0x100 + payload.len() / 2];
    let err = payload_range(cut).expect_err("truncated file");
    assert!(err.to_string().contains("truncated"), "{err}");
}

#[test]
fn truncated_or_corrupt_streams_are_errors() {
    let vmlinux: Vec<u8> = (0..100_000u32)
        .flat_map(|i| (i * 7).to_le_bytes())
        .collect();
    let payload = kernel_xz(&vmlinux);
    // The stream cut in half, with a size trailer still at its end.
    let mut cut = payload[..payload.len() / 2].to_vec();
    cut.extend_from_slice(&payload[payload.len() - 4..]);
    assert!(matches!(
        decompress_xz(&cut),
        Err(KernelImageError::CorruptXz(_))
    ));
    // A flipped byte in the middle of the compressed data.
    let mut flipped = payload.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    assert!(matches!(
        decompress_xz(&flipped),
        Err(KernelImageError::CorruptXz(_))
    ));
    // A trailer that disagrees with the stream.
    let mut wrong_size = payload.clone();
    let at = wrong_size.len() - 4;
    wrong_size[at..].copy_from_slice(&((vmlinux.len() - 1) as u32).to_le_bytes());
    assert!(decompress_xz(&wrong_size).is_err());
    assert!(decompress_xz(&payload[..3]).is_err());
    assert!(decompress_xz(XZ_MAGIC).is_err());
}

#[test]
fn pvh_entry_comes_from_the_xen_note() {
    let mut notes = note(b"Xen\0", 6, b"linux\0");
    notes.extend(note(b"GNU\0", XEN_ELFNOTE_PHYS32_ENTRY, &[9, 9, 9, 9]));
    notes.extend(note(
        b"Xen\0",
        XEN_ELFNOTE_PHYS32_ENTRY,
        &0x0100_0500u32.to_le_bytes(),
    ));
    assert_eq!(
        pvh_entry(&elf_with_notes(&notes)).expect("parsed"),
        Some(0x0100_0500)
    );
    let without = note(b"Xen\0", 6, b"linux\0");
    assert_eq!(pvh_entry(&elf_with_notes(&without)).expect("parsed"), None);
}

#[test]
fn malformed_elf_files_are_errors() {
    assert!(pvh_entry(b"not an elf").is_err());
    let notes = note(b"Xen\0", XEN_ELFNOTE_PHYS32_ENTRY, &[1, 2]);
    assert!(pvh_entry(&elf_with_notes(&notes)).is_err());
    // The note segment reaches past the end of the file.
    let notes = note(b"Xen\0", XEN_ELFNOTE_PHYS32_ENTRY, &[1, 2, 3, 4]);
    let elf = elf_with_notes(&notes);
    assert!(pvh_entry(&elf[..elf.len() - 2]).is_err());
    // A note whose sizes run past its segment.
    let mut bad = notes.clone();
    bad[4..8].copy_from_slice(&4096u32.to_le_bytes());
    assert!(pvh_entry(&elf_with_notes(&bad)).is_err());
}
