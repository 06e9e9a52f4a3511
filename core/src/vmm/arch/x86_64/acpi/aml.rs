//! The little AML our DSDT needs: named objects holding integers,
//! packages and buffers, devices and scopes (ACPI 6.5, chapter 20).

const NAME_OP: u8 = 0x08;
const SCOPE_OP: u8 = 0x10;
const BUFFER_OP: u8 = 0x11;
const EXT_OP_PREFIX: u8 = 0x5b;
const DEVICE_OP: u8 = 0x82;
const ROOT_CHAR: u8 = 0x5c;
const PACKAGE_OP: u8 = 0x12;
const BYTE_PREFIX: u8 = 0x0a;
const DWORD_PREFIX: u8 = 0x0c;
const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;

/// A 4-character name segment, padded with `_`.
fn name_seg(name: &str) -> [u8; 4] {
    let mut seg = [b'_'; 4];
    for (dst, src) in seg.iter_mut().zip(name.bytes()) {
        *dst = src;
    }
    seg
}

/// PkgLength encoding of `len` bytes of content (the encoding's own bytes
/// are counted too).
fn pkg_length(content: usize) -> Vec<u8> {
    if content + 1 < 0x40 {
        return vec![(content + 1) as u8];
    }
    let total = content + 2;
    if total < 0x1000 {
        return vec![0x40 | (total & 0xf) as u8, (total >> 4) as u8];
    }
    let total = content + 3;
    vec![
        0x80 | (total & 0xf) as u8,
        (total >> 4) as u8,
        (total >> 12) as u8,
    ]
}

/// An integer in its shortest encoding.
pub fn integer(v: u32) -> Vec<u8> {
    match v {
        0 => vec![ZERO_OP],
        1 => vec![ONE_OP],
        2..=0xff => vec![BYTE_PREFIX, v as u8],
        _ => {
            let mut out = vec![DWORD_PREFIX];
            out.extend_from_slice(&v.to_le_bytes());
            out
        }
    }
}

/// A package of already-encoded elements.
pub fn package(elements: &[Vec<u8>]) -> Vec<u8> {
    let mut content = vec![elements.len() as u8];
    for e in elements {
        content.extend_from_slice(e);
    }
    let mut out = vec![PACKAGE_OP];
    out.extend(pkg_length(content.len()));
    out.extend(content);
    out
}

/// `Name(name, value)`.
pub fn name(name: &str, value: Vec<u8>) -> Vec<u8> {
    let mut out = vec![NAME_OP];
    out.extend_from_slice(&name_seg(name));
    out.extend(value);
    out
}

/// A buffer holding `bytes` (a resource template, for instance).
pub fn buffer(bytes: &[u8]) -> Vec<u8> {
    let mut content = integer(bytes.len() as u32);
    content.extend_from_slice(bytes);
    let mut out = vec![BUFFER_OP];
    out.extend(pkg_length(content.len()));
    out.extend(content);
    out
}

/// `Device(name) { body }`.
pub fn device(name: &str, body: &[Vec<u8>]) -> Vec<u8> {
    let mut content = name_seg(name).to_vec();
    body.iter().for_each(|b| content.extend_from_slice(b));
    let mut out = vec![EXT_OP_PREFIX, DEVICE_OP];
    out.extend(pkg_length(content.len()));
    out.extend(content);
    out
}

/// `Scope(\name) { body }` for a name segment under the root (`_SB_`).
pub fn root_scope(name: &str, body: &[Vec<u8>]) -> Vec<u8> {
    let mut content = vec![ROOT_CHAR];
    content.extend_from_slice(&name_seg(name));
    body.iter().for_each(|b| content.extend_from_slice(b));
    let mut out = vec![SCOPE_OP];
    out.extend(pkg_length(content.len()));
    out.extend(content);
    out
}

/// `EisaId("PNP0A03")`: a compressed 7-character PnP id as an integer.
pub fn eisa_id(id: &str) -> Vec<u8> {
    let b = id.as_bytes();
    let letter = |i: usize| u16::from(b.get(i).copied().unwrap_or(b'@').wrapping_sub(0x40) & 0x1f);
    let vendor = (letter(0) << 10) | (letter(1) << 5) | letter(2);
    let product = u16::from_str_radix(id.get(3..7).unwrap_or("0000"), 16).unwrap_or(0);
    let [v0, v1] = vendor.to_be_bytes();
    let [p0, p1] = product.to_be_bytes();
    integer(u32::from_le_bytes([v0, v1, p0, p1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s5_package_encodes_as_iasl_does() {
        let s5 = name(
            "_S5",
            package(&[integer(5), integer(5), integer(0), integer(0)]),
        );
        assert_eq!(
            s5,
            [0x08, b'_', b'S', b'5', b'_', 0x12, 0x08, 0x04, 0x0a, 0x05, 0x0a, 0x05, 0x00, 0x00]
        );
    }

    #[test]
    fn eisa_ids_compress_as_iasl_does() {
        assert_eq!(eisa_id("PNP0A03"), vec![0x0c, 0x41, 0xd0, 0x0a, 0x03]);
        assert_eq!(eisa_id("PNP0A08"), vec![0x0c, 0x41, 0xd0, 0x0a, 0x08]);
    }

    #[test]
    fn devices_scopes_and_buffers() {
        let dev = device("PCI0", &[name("_UID", integer(0))]);
        assert_eq!(&dev[..3], &[0x5b, 0x82, 11]);
        assert_eq!(&dev[3..7], b"PCI0");
        let scope = root_scope("_SB", &[dev.clone()]);
        assert_eq!(
            &scope[..7],
            &[0x10, 6 + dev.len() as u8, 0x5c, b'_', b'S', b'B', b'_']
        );
        assert_eq!(buffer(&[0x79, 0]), vec![0x11, 5, 0x0a, 2, 0x79, 0]);
    }

    #[test]
    fn long_packages_use_two_byte_lengths() {
        assert_eq!(pkg_length(62), vec![63]);
        assert_eq!(pkg_length(63), vec![0x41, 0x04]);
    }
}
