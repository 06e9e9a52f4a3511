//! Building ACPI tables: a System Description Table is a 36-byte header and a
//! body; [`Sdt`] appends fields in order and fixes length and checksum last.

/// OEM id written in every table.
pub const OEM_ID: &[u8; 6] = b"HANGAR";
/// OEM table id written in every table.
pub const OEM_TABLE_ID: &[u8; 8] = b"HANGARVM";
/// Creator id written in every table.
pub const CREATOR_ID: &[u8; 4] = b"HNGR";

/// Length of the common header.
pub const HEADER_LEN: usize = 36;

/// A table under construction.
pub struct Sdt {
    bytes: Vec<u8>,
}

impl Sdt {
    /// A table with `signature` and `revision`, header only.
    pub fn new(signature: &[u8; 4], revision: u8) -> Self {
        let mut bytes = Vec::with_capacity(256);
        bytes.extend_from_slice(signature);
        bytes.extend_from_slice(&0u32.to_le_bytes()); // length, fixed in finish()
        bytes.push(revision);
        bytes.push(0); // checksum, fixed in finish()
        bytes.extend_from_slice(OEM_ID);
        bytes.extend_from_slice(OEM_TABLE_ID);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        bytes.extend_from_slice(CREATOR_ID);
        bytes.extend_from_slice(&1u32.to_le_bytes());
        Sdt { bytes }
    }

    /// Appends a byte.
    pub fn u8(&mut self, v: u8) -> &mut Self {
        self.bytes.push(v);
        self
    }

    /// Appends a little-endian 16-bit value.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a little-endian 32-bit value.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends a little-endian 64-bit value.
    pub fn u64(&mut self, v: u64) -> &mut Self {
        self.bytes.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// Appends raw bytes.
    pub fn bytes(&mut self, v: &[u8]) -> &mut Self {
        self.bytes.extend_from_slice(v);
        self
    }

    /// Appends a Generic Address Structure for an I/O port block.
    pub fn io_gas(&mut self, port: u16, bits: u8) -> &mut Self {
        if port == 0 {
            return self.bytes(&[0; 12]);
        }
        let access = match bits {
            8 => 1,
            16 => 2,
            _ => 3,
        };
        self.u8(1).u8(bits).u8(0).u8(access).u64(u64::from(port))
    }

    /// The finished table: length and checksum filled in.
    pub fn finish(mut self) -> Vec<u8> {
        debug_assert!(self.bytes.len() >= HEADER_LEN);
        let len = self.bytes.len() as u32;
        self.bytes[4..8].copy_from_slice(&len.to_le_bytes());
        self.bytes[9] = 0;
        self.bytes[9] = checksum(&self.bytes);
        self.bytes
    }
}

/// The byte that makes `bytes` sum to zero.
pub fn checksum(bytes: &[u8]) -> u8 {
    let sum = bytes.iter().fold(0u8, |acc, b| acc.wrapping_add(*b));
    0u8.wrapping_sub(sum)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finished_tables_sum_to_zero() {
        let mut t = Sdt::new(b"TEST", 1);
        t.u32(0xdead_beef).u8(7);
        let bytes = t.finish();
        assert_eq!(bytes.len(), HEADER_LEN + 5);
        assert_eq!(
            u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
            41
        );
        assert_eq!(bytes.iter().fold(0u8, |a, b| a.wrapping_add(*b)), 0);
    }
}
