//! The little AML our DSDT needs: named objects holding integers and
//! packages (ACPI 6.5, chapter 20).

const NAME_OP: u8 = 0x08;
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
    fn long_packages_use_two_byte_lengths() {
        assert_eq!(pkg_length(62), vec![63]);
        assert_eq!(pkg_length(63), vec![0x41, 0x04]);
    }
}
