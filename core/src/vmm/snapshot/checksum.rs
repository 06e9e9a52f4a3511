//! The snapshot's checksum: Adler-32 (zlib's), computed while the file is
//! written and read. The `adler2` crate is built optimised even in debug
//! builds (see the workspace's profile), so checking gigabytes of guest
//! memory stays fast where a checksum loop of our own would not be.

/// A running checksum.
#[derive(Debug, Clone, Default)]
pub struct Checksum {
    inner: adler2::Adler32,
}

impl Checksum {
    /// A checksum of nothing yet.
    pub fn new() -> Self {
        Checksum::default()
    }

    /// Adds `data`.
    pub fn update(&mut self, data: &[u8]) {
        self.inner.write_slice(data);
    }

    /// The checksum of everything added.
    pub fn value(&self) -> u32 {
        self.inner.checksum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_values_and_split_updates() {
        let mut c = Checksum::new();
        c.update(b"Wikipedia");
        assert_eq!(c.value(), 0x11e6_0398);
        let data: Vec<u8> = (0..100_000u32).map(|i| (i * 7 + 3) as u8).collect();
        let mut whole = Checksum::new();
        whole.update(&data);
        let mut parts = Checksum::new();
        for piece in data.chunks(4099) {
            parts.update(piece);
        }
        assert_eq!(whole.value(), parts.value());
        assert_eq!(Checksum::new().value(), 1);
    }
}
