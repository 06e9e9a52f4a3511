//! A type 0 PCI configuration space (PCI Local Bus 3.0, chapter 6): the
//! 256 bytes the guest reads and writes, which bits of them it may change,
//! the BARs and the capability list.
//!
//! Writes go through a per-byte mask so the guest can only change what real
//! hardware lets it change; everything else (ids, class, capability
//! headers) reads back unchanged whatever it writes. A BAR's mask clears
//! the bits below its size, which is how the guest sizes it: it writes all
//! ones and reads back `!(size - 1)` plus the type bits.

use serde::{Deserialize, Serialize};

/// Bytes of a conventional PCI configuration space.
pub const CONFIG_SPACE_SIZE: usize = 256;
/// Number of BARs in a type 0 header.
pub const BAR_COUNT: usize = 6;

/// Register offsets in the header.
pub mod reg {
    /// Vendor id (16 bits).
    pub const VENDOR_ID: usize = 0x00;
    /// Device id (16 bits).
    pub const DEVICE_ID: usize = 0x02;
    /// Command register (16 bits).
    pub const COMMAND: usize = 0x04;
    /// Status register (16 bits).
    pub const STATUS: usize = 0x06;
    /// Revision id (8 bits), then the class code (24 bits).
    pub const REVISION: usize = 0x08;
    /// Cache line size (8 bits).
    pub const CACHE_LINE: usize = 0x0c;
    /// Latency timer (8 bits).
    pub const LATENCY: usize = 0x0d;
    /// Header type (8 bits).
    pub const HEADER_TYPE: usize = 0x0e;
    /// BAR 0; BAR n is at `BAR0 + 4 * n`.
    pub const BAR0: usize = 0x10;
    /// Subsystem vendor id (16 bits).
    pub const SUBSYSTEM_VENDOR: usize = 0x2c;
    /// Subsystem id (16 bits).
    pub const SUBSYSTEM_ID: usize = 0x2e;
    /// Pointer to the first capability (8 bits).
    pub const CAPABILITIES: usize = 0x34;
    /// Interrupt line (8 bits, written by the OS for itself).
    pub const INTERRUPT_LINE: usize = 0x3c;
    /// Interrupt pin (8 bits, 1 = INTA#).
    pub const INTERRUPT_PIN: usize = 0x3d;
}

/// Command register bits.
pub mod command {
    /// Responds to I/O space accesses.
    pub const IO: u16 = 1 << 0;
    /// Responds to memory space accesses (the BARs decode).
    pub const MEMORY: u16 = 1 << 1;
    /// May master the bus (DMA, MSI).
    pub const BUS_MASTER: u16 = 1 << 2;
    /// Parity error response.
    pub const PARITY: u16 = 1 << 6;
    /// SERR# enable.
    pub const SERR: u16 = 1 << 8;
    /// INTx assertion disabled.
    pub const INTX_DISABLE: u16 = 1 << 10;
}

/// Status register bit: the capability list at 0x34 is valid.
const STATUS_CAPABILITIES: u16 = 1 << 4;
/// First byte after the standard header: where capabilities start.
const FIRST_CAPABILITY: usize = 0x40;

/// Errors building a configuration space (programming errors of a device
/// model, never caused by the guest).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A BAR size that is not a power of two of at least 16 bytes.
    #[error("BAR {index} size {size:#x} is not a power of two >= 16")]
    BadBarSize {
        /// Which BAR.
        index: usize,
        /// The size asked for.
        size: u64,
    },
    /// A BAR index past 5 or one already in use.
    #[error("BAR {0} does not exist or is taken")]
    BadBar(usize),
    /// The capabilities do not fit in the 256 bytes.
    #[error("capability of {0} bytes does not fit in the configuration space")]
    NoRoom(usize),
}

/// What identifies a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciIds {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Revision.
    pub revision: u8,
    /// Class code: base class, subclass, programming interface.
    pub class: u32,
    /// Subsystem vendor id.
    pub subsystem_vendor: u16,
    /// Subsystem id.
    pub subsystem: u16,
}

/// What a write to the configuration space changed that the bus or the
/// device must act on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ConfigChange {
    /// A BAR address or the memory-decode bit changed: the BAR mappings
    /// (and anything registered at their addresses) must move.
    pub mappings: bool,
    /// The INTx-disable bit changed.
    pub intx_disable: bool,
}

/// A BAR as seen by the bus: where the guest put it and how big it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BarRegion {
    /// BAR index.
    pub index: usize,
    /// Guest physical address.
    pub address: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A type 0 configuration space.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PciConfigSpace {
    /// The registers as the guest reads them.
    #[serde(with = "bytes256")]
    bytes: [u8; CONFIG_SPACE_SIZE],
    /// Per byte, the bits the guest may write.
    #[serde(with = "bytes256")]
    writable: [u8; CONFIG_SPACE_SIZE],
    /// Size of each 32-bit memory BAR (0: unused).
    bar_sizes: [u64; BAR_COUNT],
    /// Where the last capability starts (to chain the next one).
    last_capability: Option<usize>,
    /// Where the next capability goes.
    next_capability: usize,
}

impl PciConfigSpace {
    /// A header with `ids`, INTA# as its interrupt pin (line `irq_line`),
    /// and no BARs or capabilities yet.
    pub fn new(ids: PciIds, irq_line: u8) -> Self {
        let mut s = PciConfigSpace {
            bytes: [0; CONFIG_SPACE_SIZE],
            writable: [0; CONFIG_SPACE_SIZE],
            bar_sizes: [0; BAR_COUNT],
            last_capability: None,
            next_capability: FIRST_CAPABILITY,
        };
        s.set_u16(reg::VENDOR_ID, ids.vendor);
        s.set_u16(reg::DEVICE_ID, ids.device);
        s.set_u32(reg::REVISION, (ids.class << 8) | u32::from(ids.revision));
        s.set_u16(reg::SUBSYSTEM_VENDOR, ids.subsystem_vendor);
        s.set_u16(reg::SUBSYSTEM_ID, ids.subsystem);
        let cmd = command::IO
            | command::MEMORY
            | command::BUS_MASTER
            | command::PARITY
            | command::SERR
            | command::INTX_DISABLE;
        s.writable[reg::COMMAND..reg::COMMAND + 2].copy_from_slice(&cmd.to_le_bytes());
        s.writable[reg::CACHE_LINE] = 0xff;
        s.writable[reg::LATENCY] = 0xff;
        s.writable[reg::INTERRUPT_LINE] = 0xff;
        s.bytes[reg::INTERRUPT_LINE] = irq_line;
        s.bytes[reg::INTERRUPT_PIN] = 1;
        s
    }

    /// A header for a function without interrupts (the host bridge).
    pub fn without_interrupt(ids: PciIds) -> Self {
        let mut s = Self::new(ids, 0);
        s.bytes[reg::INTERRUPT_PIN] = 0;
        s.writable[reg::INTERRUPT_LINE] = 0;
        s
    }

    fn set_u16(&mut self, at: usize, v: u16) {
        self.bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
    }

    fn set_u32(&mut self, at: usize, v: u32) {
        self.bytes[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// A 16-bit register.
    pub fn u16_at(&self, at: usize) -> u16 {
        match self.bytes.get(at..at + 2) {
            Some(b) => u16::from_le_bytes([b[0], b[1]]),
            None => 0xffff,
        }
    }

    /// A 32-bit register.
    pub fn u32_at(&self, at: usize) -> u32 {
        match self.bytes.get(at..at + 4) {
            Some(b) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]),
            None => 0xffff_ffff,
        }
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        self.u16_at(reg::COMMAND)
    }

    /// Declares BAR `index` as a 32-bit, non-prefetchable memory BAR of
    /// `size` bytes placed at `address` (as firmware would have).
    pub fn add_mem32_bar(
        &mut self,
        index: usize,
        size: u64,
        address: u32,
    ) -> Result<(), ConfigError> {
        if index >= BAR_COUNT || self.bar_sizes[index] != 0 {
            return Err(ConfigError::BadBar(index));
        }
        if size < 16 || !size.is_power_of_two() || size > 1 << 31 {
            return Err(ConfigError::BadBarSize { index, size });
        }
        self.bar_sizes[index] = size;
        let at = reg::BAR0 + 4 * index;
        // Bits 3..0 (memory, 32-bit, not prefetchable) are zero and read-only.
        let mask = !((size - 1) as u32) & 0xffff_fff0;
        self.writable[at..at + 4].copy_from_slice(&mask.to_le_bytes());
        self.set_u32(at, address & mask);
        Ok(())
    }

    /// The BARs that decode now: memory decoding on and a BAR programmed.
    pub fn bar_regions(&self) -> Vec<BarRegion> {
        if self.command() & command::MEMORY == 0 {
            return Vec::new();
        }
        (0..BAR_COUNT)
            .filter(|&i| self.bar_sizes[i] != 0)
            .map(|i| BarRegion {
                index: i,
                address: u64::from(self.u32_at(reg::BAR0 + 4 * i) & 0xffff_fff0),
                size: self.bar_sizes[i],
            })
            .filter(|r| r.address != 0)
            .collect()
    }

    /// The address of BAR `index` (whether or not it decodes).
    pub fn bar_address(&self, index: usize) -> Option<u64> {
        (index < BAR_COUNT && self.bar_sizes[index] != 0)
            .then(|| u64::from(self.u32_at(reg::BAR0 + 4 * index) & 0xffff_fff0))
    }

    /// Appends a capability (`body` starts with its id; its next pointer,
    /// byte 1, is filled in here); returns its offset. Bytes of the body
    /// listed in `writable` (offset within the body, mask) may be written.
    pub fn add_capability(
        &mut self,
        body: &[u8],
        writable: &[(usize, u8)],
    ) -> Result<usize, ConfigError> {
        let at = self.next_capability;
        if body.len() < 2 || at + body.len() > CONFIG_SPACE_SIZE {
            return Err(ConfigError::NoRoom(body.len()));
        }
        self.bytes[at..at + body.len()].copy_from_slice(body);
        self.bytes[at + 1] = 0;
        for &(offset, mask) in writable {
            if let Some(w) = self.writable.get_mut(at + offset) {
                *w = mask;
            }
        }
        match self.last_capability {
            Some(prev) => self.bytes[prev + 1] = at as u8,
            None => {
                self.bytes[reg::CAPABILITIES] = at as u8;
                let status = self.u16_at(reg::STATUS) | STATUS_CAPABILITIES;
                self.set_u16(reg::STATUS, status);
            }
        }
        self.last_capability = Some(at);
        self.next_capability = (at + body.len()).div_ceil(4) * 4;
        Ok(at)
    }

    /// Reads `data.len()` bytes at `offset`; bytes past the end read as ones.
    pub fn read(&self, offset: usize, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            *b = self.bytes.get(offset + i).copied().unwrap_or(0xff);
        }
    }

    /// Raw bytes of the space (for capabilities the device itself serves).
    pub fn bytes(&self) -> &[u8; CONFIG_SPACE_SIZE] {
        &self.bytes
    }

    /// Sets bytes the guest cannot write (a capability's state kept by the
    /// device, such as the MSI-X control bits it accepted).
    pub fn set_bytes(&mut self, offset: usize, data: &[u8]) {
        if let Some(dst) = self.bytes.get_mut(offset..offset + data.len()) {
            dst.copy_from_slice(data);
        }
    }

    /// A guest write: only writable bits change. Reports what moved.
    pub fn write(&mut self, offset: usize, data: &[u8]) -> ConfigChange {
        let before_cmd = self.command();
        let before_bars: Vec<Option<u64>> = (0..BAR_COUNT).map(|i| self.bar_address(i)).collect();
        for (i, &v) in data.iter().enumerate() {
            let at = offset + i;
            let Some(mask) = self.writable.get(at).copied() else {
                break;
            };
            self.bytes[at] = (self.bytes[at] & !mask) | (v & mask);
        }
        let cmd = self.command();
        let bars_moved = (0..BAR_COUNT).any(|i| self.bar_address(i) != before_bars[i]);
        ConfigChange {
            mappings: bars_moved || (cmd ^ before_cmd) & command::MEMORY != 0,
            intx_disable: (cmd ^ before_cmd) & command::INTX_DISABLE != 0,
        }
    }
}

/// Serde for the 256-byte arrays (serde derives arrays only up to 32).
mod bytes256 {
    use super::CONFIG_SPACE_SIZE;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; CONFIG_SPACE_SIZE], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<[u8; CONFIG_SPACE_SIZE], D::Error> {
        let v: Vec<u8> = Deserialize::deserialize(d)?;
        v.try_into()
            .map_err(|v: Vec<u8>| serde::de::Error::invalid_length(v.len(), &"256 bytes"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids() -> PciIds {
        PciIds {
            vendor: 0x1af4,
            device: 0x1044,
            revision: 1,
            class: 0x00ff00,
            subsystem_vendor: 0x1af4,
            subsystem: 0x40,
        }
    }

    #[test]
    fn ids_and_class_read_back_and_cannot_be_written() {
        let mut c = PciConfigSpace::new(ids(), 17);
        c.write(0, &[0, 0, 0, 0]);
        c.write(8, &[0xff; 4]);
        assert_eq!(c.u32_at(0), 0x1044_1af4);
        assert_eq!(c.u32_at(8), 0x00ff_0001);
        assert_eq!(c.u16_at(reg::SUBSYSTEM_ID), 0x40);
        assert_eq!(c.bytes()[reg::INTERRUPT_PIN], 1);
        assert_eq!(c.bytes()[reg::INTERRUPT_LINE], 17);
        let mut out = [0u8; 4];
        c.read(254, &mut out);
        assert_eq!(out[2..], [0xff, 0xff]);
    }

    #[test]
    fn bar_sizing_reads_back_the_size_and_restores() {
        let mut c = PciConfigSpace::new(ids(), 0);
        c.add_mem32_bar(0, 0x1_0000, 0xc000_0000).expect("bar");
        assert_eq!(c.u32_at(reg::BAR0), 0xc000_0000);
        c.write(reg::BAR0, &0xffff_ffffu32.to_le_bytes());
        assert_eq!(c.u32_at(reg::BAR0), 0xffff_0000);
        // An unused BAR reads zero whatever is written.
        c.write(reg::BAR0 + 4, &0xffff_ffffu32.to_le_bytes());
        assert_eq!(c.u32_at(reg::BAR0 + 4), 0);
        c.write(reg::BAR0, &0xc123_4567u32.to_le_bytes());
        assert_eq!(c.u32_at(reg::BAR0), 0xc123_0000);
        assert_eq!(c.add_mem32_bar(0, 0x1000, 0), Err(ConfigError::BadBar(0)));
        assert!(matches!(
            c.add_mem32_bar(1, 0x1800, 0),
            Err(ConfigError::BadBarSize { .. })
        ));
    }

    #[test]
    fn bars_decode_only_with_memory_enabled_and_moves_are_reported() {
        let mut c = PciConfigSpace::new(ids(), 0);
        c.add_mem32_bar(0, 0x4000, 0xc000_0000).expect("bar");
        assert!(c.bar_regions().is_empty());
        let ch = c.write(reg::COMMAND, &command::MEMORY.to_le_bytes());
        assert!(ch.mappings);
        assert_eq!(
            c.bar_regions(),
            vec![BarRegion {
                index: 0,
                address: 0xc000_0000,
                size: 0x4000
            }]
        );
        let ch = c.write(reg::BAR0 + 1, &[0x80]);
        assert!(ch.mappings);
        assert_eq!(c.bar_address(0), Some(0xc000_8000));
        let ch = c.write(reg::CACHE_LINE, &[0x10]);
        assert_eq!(ch, ConfigChange::default());
    }

    #[test]
    fn capabilities_chain_from_0x34() {
        let mut c = PciConfigSpace::new(ids(), 0);
        let a = c
            .add_capability(&[0x09, 0xaa, 16, 1, 0, 0, 0, 0], &[])
            .expect("cap");
        let b = c
            .add_capability(&[0x11, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], &[(3, 0xc0)])
            .expect("cap");
        assert_eq!(a, 0x40);
        assert_eq!(b, 0x48);
        assert_ne!(c.u16_at(reg::STATUS) & STATUS_CAPABILITIES, 0);
        // Walk the list as a driver does.
        let mut found = Vec::new();
        let mut at = c.bytes()[reg::CAPABILITIES] as usize;
        while at != 0 {
            found.push((at, c.bytes()[at]));
            at = c.bytes()[at + 1] as usize;
        }
        assert_eq!(found, vec![(0x40, 0x09), (0x48, 0x11)]);
        // Only the declared bits of a capability are writable.
        c.write(b, &[0xff; 4]);
        assert_eq!(&c.bytes()[b..b + 4], &[0x11, 0, 0, 0xc0]);
        assert!(c.add_capability(&[0; 200], &[]).is_err());
    }

    #[test]
    fn state_round_trips_through_serde() {
        let mut c = PciConfigSpace::new(ids(), 3);
        c.add_mem32_bar(0, 0x4000, 0xc000_4000).expect("bar");
        let json = serde_json::to_string(&c).expect("ser");
        let back: PciConfigSpace = serde_json::from_str(&json).expect("de");
        assert_eq!(back, c);
    }
}
