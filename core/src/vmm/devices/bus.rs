//! A bus maps address ranges (I/O ports or MMIO) to devices. vCPU threads
//! look devices up here on every exit, so lookups take no lock on the map
//! itself: the map is built before the vCPUs start and then only read.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A device on a bus. `offset` is relative to the base of the range the
/// device was inserted at.
pub trait BusDevice: Send {
    /// A guest read of `data.len()` bytes.
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]);
    /// A guest write.
    fn write(&mut self, base: u64, offset: u64, data: &[u8]);
}

/// Errors building a bus.
#[derive(Debug, thiserror::Error)]
pub enum BusError {
    /// The new range overlaps one already taken.
    #[error("bus range {base:#x}+{len:#x} overlaps another device")]
    Overlap {
        /// Start of the new range.
        base: u64,
        /// Its length.
        len: u64,
    },
    /// A zero-length range.
    #[error("bus range at {0:#x} has zero length")]
    Empty(u64),
}

struct Entry {
    len: u64,
    device: Arc<Mutex<dyn BusDevice>>,
}

/// An address space of devices.
#[derive(Default)]
pub struct Bus {
    ranges: BTreeMap<u64, Entry>,
}

impl Bus {
    /// An empty bus.
    pub fn new() -> Self {
        Bus::default()
    }

    /// Puts `device` at `[base, base + len)`.
    pub fn insert(
        &mut self,
        device: Arc<Mutex<dyn BusDevice>>,
        base: u64,
        len: u64,
    ) -> Result<(), BusError> {
        if len == 0 {
            return Err(BusError::Empty(base));
        }
        let end = base.saturating_add(len);
        let before = self.ranges.range(..end).next_back();
        if let Some((start, e)) = before {
            if start.saturating_add(e.len) > base {
                return Err(BusError::Overlap { base, len });
            }
        }
        self.ranges.insert(base, Entry { len, device });
        Ok(())
    }

    fn find(&self, addr: u64) -> Option<(u64, &Entry)> {
        let (base, e) = self.ranges.range(..=addr).next_back()?;
        (addr - base < e.len).then_some((*base, e))
    }

    /// A read at `addr`; returns false (and all-ones data) if nothing is there.
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.find(addr) {
            Some((base, e)) => {
                let mut dev = e.device.lock().unwrap_or_else(|p| p.into_inner());
                dev.read(base, addr - base, data);
                true
            }
            None => {
                data.fill(0xff);
                false
            }
        }
    }

    /// A write at `addr`; returns false if nothing is there.
    pub fn write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr) {
            Some((base, e)) => {
                let mut dev = e.device.lock().unwrap_or_else(|p| p.into_inner());
                dev.write(base, addr - base, data);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo(Vec<(u64, u8)>);
    impl BusDevice for Echo {
        fn read(&mut self, _: u64, offset: u64, data: &mut [u8]) {
            data.fill(offset as u8);
        }
        fn write(&mut self, _: u64, offset: u64, data: &[u8]) {
            self.0.push((offset, data[0]));
        }
    }

    #[test]
    fn routes_by_range_and_refuses_overlaps() {
        let dev = Arc::new(Mutex::new(Echo(vec![])));
        let mut bus = Bus::new();
        bus.insert(dev.clone(), 0x3f8, 8).expect("insert");
        assert!(bus.insert(dev.clone(), 0x3fc, 8).is_err());
        assert!(bus.insert(dev.clone(), 0x3f0, 9).is_err());
        bus.insert(dev.clone(), 0x400, 1).expect("adjacent");
        let mut b = [0u8; 1];
        assert!(bus.read(0x3fa, &mut b));
        assert_eq!(b[0], 2);
        assert!(!bus.read(0x3f7, &mut b));
        assert_eq!(b[0], 0xff);
        assert!(bus.write(0x3f9, &[7]));
        assert_eq!(dev.lock().expect("lock").0, vec![(1, 7)]);
    }
}
