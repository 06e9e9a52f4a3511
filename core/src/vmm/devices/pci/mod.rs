//! The PCI bus: one root bus (bus 0) behind a host bridge at 00:00.0, with
//! endpoint functions on the other slots.
//!
//! The guest reaches configuration space through mechanism #1 (the address
//! register at 0xCF8 and the data window at 0xCFC, [`PciConfigIo`]) and the
//! functions' memory BARs through [`PciMmioWindow`], one entry on the MMIO
//! bus covering the 32-bit PCI window. The window looks up the BAR that
//! decodes an address in a map the bus rebuilds whenever the guest moves a
//! BAR or toggles memory decoding, so BARs can move while the vCPUs run
//! even though the MMIO bus itself is fixed once built.

pub mod config;
pub mod msix;

use crate::vmm::devices::BusDevice;
use config::{BarRegion, ConfigChange, PciConfigSpace, PciIds};
use std::sync::{Arc, Mutex, RwLock};

/// Slots on bus 0 (slot 0 is the host bridge).
pub const SLOTS: usize = 32;
/// Size of the mechanism #1 port range (0xCF8..0xD00).
pub const CONFIG_IO_LEN: u64 = 8;
/// Vendor and device id of the host bridge (Red Hat's generic PCIe host).
const HOST_BRIDGE_IDS: PciIds = PciIds {
    vendor: 0x1b36,
    device: 0x0008,
    revision: 0,
    class: 0x06_00_00,
    subsystem_vendor: 0x1b36,
    subsystem: 0x0008,
};

/// A PCI function on the bus.
pub trait PciDevice: Send {
    /// Reads `data.len()` bytes of configuration space at `offset` (< 256).
    fn config_read(&mut self, offset: usize, data: &mut [u8]);
    /// Writes configuration space; reports whether BAR mappings changed.
    fn config_write(&mut self, offset: usize, data: &[u8]) -> ConfigChange;
    /// The BARs that decode now.
    fn bar_regions(&self) -> Vec<BarRegion>;
    /// A read at `offset` within BAR `bar`.
    fn bar_read(&mut self, bar: usize, offset: u64, data: &mut [u8]);
    /// A write at `offset` within BAR `bar`.
    fn bar_write(&mut self, bar: usize, offset: u64, data: &[u8]);
}

/// Errors putting functions on the bus.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PciError {
    /// Every slot is taken.
    #[error("no free PCI slot on bus 0 (at most {} devices)", SLOTS - 1)]
    Full,
    /// The 32-bit window has no room left for a BAR.
    #[error("no room for a {size:#x}-byte BAR in the 32-bit PCI window")]
    NoBarSpace {
        /// Size asked for.
        size: u64,
    },
}

/// The host bridge at 00:00.0: ids and class only.
struct HostBridge {
    config: PciConfigSpace,
}

impl PciDevice for HostBridge {
    fn config_read(&mut self, offset: usize, data: &mut [u8]) {
        self.config.read(offset, data);
    }
    fn config_write(&mut self, offset: usize, data: &[u8]) -> ConfigChange {
        self.config.write(offset, data);
        ConfigChange::default()
    }
    fn bar_regions(&self) -> Vec<BarRegion> {
        Vec::new()
    }
    fn bar_read(&mut self, _: usize, _: u64, data: &mut [u8]) {
        data.fill(0xff);
    }
    fn bar_write(&mut self, _: usize, _: u64, _: &[u8]) {}
}

/// A decoding BAR: `[address, address + size)` → BAR `bar` of `slot`.
#[derive(Debug, Clone, Copy)]
struct Mapping {
    address: u64,
    size: u64,
    slot: usize,
    bar: usize,
}

/// Bus 0: the functions by slot and where their BARs decode.
pub struct PciBus {
    slots: Vec<Option<Arc<Mutex<dyn PciDevice>>>>,
    mappings: RwLock<Vec<Mapping>>,
    /// Next free address of the 32-bit window, for [`PciBus::allocate_bar`].
    next_bar: u64,
    window_end: u64,
}

impl PciBus {
    /// A bus with the host bridge; BARs are placed in `[window, window + size)`.
    pub fn new(window: u64, size: u64) -> Self {
        let mut slots: Vec<Option<Arc<Mutex<dyn PciDevice>>>> = vec![None; SLOTS];
        slots[0] = Some(Arc::new(Mutex::new(HostBridge {
            config: PciConfigSpace::without_interrupt(HOST_BRIDGE_IDS),
        })));
        PciBus {
            slots,
            mappings: RwLock::new(Vec::new()),
            next_bar: window,
            window_end: window + size,
        }
    }

    /// The first free slot.
    pub fn free_slot(&self) -> Result<usize, PciError> {
        self.slots
            .iter()
            .position(Option::is_none)
            .ok_or(PciError::Full)
    }

    /// Firmware-style placement: a naturally aligned range of `size` bytes.
    pub fn allocate_bar(&mut self, size: u64) -> Result<u64, PciError> {
        let at = self.next_bar.div_ceil(size) * size;
        if at + size > self.window_end {
            return Err(PciError::NoBarSpace { size });
        }
        self.next_bar = at + size;
        Ok(at)
    }

    /// Puts `device` in `slot` (from [`PciBus::free_slot`]).
    pub fn insert(
        &mut self,
        slot: usize,
        device: Arc<Mutex<dyn PciDevice>>,
    ) -> Result<(), PciError> {
        match self.slots.get_mut(slot) {
            Some(s @ None) => {
                *s = Some(device);
                self.refresh_mappings(slot);
                Ok(())
            }
            _ => Err(PciError::Full),
        }
    }

    fn device(&self, slot: usize) -> Option<&Arc<Mutex<dyn PciDevice>>> {
        self.slots.get(slot).and_then(Option::as_ref)
    }

    /// Rebuilds the mappings of `slot` from its BARs (after a restore put
    /// back a configuration space).
    pub fn refresh_mappings(&self, slot: usize) {
        let regions = match self.device(slot) {
            Some(d) => d.lock().unwrap_or_else(|e| e.into_inner()).bar_regions(),
            None => Vec::new(),
        };
        let mut maps = self.mappings.write().unwrap_or_else(|e| e.into_inner());
        maps.retain(|m| m.slot != slot);
        maps.extend(regions.into_iter().map(|r| Mapping {
            address: r.address,
            size: r.size,
            slot,
            bar: r.index,
        }));
    }

    /// A configuration read of bus 0, `slot`, `function`, register `offset`.
    pub fn config_read(&self, bus: u8, slot: usize, function: u8, offset: usize, data: &mut [u8]) {
        match self.device(slot) {
            Some(d) if bus == 0 && function == 0 => d
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .config_read(offset, data),
            _ => data.fill(0xff),
        }
    }

    /// A configuration write; moves the function's BAR mappings if needed.
    pub fn config_write(&self, bus: u8, slot: usize, function: u8, offset: usize, data: &[u8]) {
        let Some(d) = self.device(slot).filter(|_| bus == 0 && function == 0) else {
            return;
        };
        let change = d
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .config_write(offset, data);
        if change.mappings {
            self.refresh_mappings(slot);
        }
    }

    fn find(&self, addr: u64) -> Option<(Mapping, Arc<Mutex<dyn PciDevice>>)> {
        let maps = self.mappings.read().unwrap_or_else(|e| e.into_inner());
        let m = *maps
            .iter()
            .find(|m| addr >= m.address && addr - m.address < m.size)?;
        Some((m, Arc::clone(self.device(m.slot)?)))
    }

    /// A memory read at guest address `addr`; false when no BAR decodes it.
    pub fn mmio_read(&self, addr: u64, data: &mut [u8]) -> bool {
        match self.find(addr) {
            Some((m, d)) => {
                d.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .bar_read(m.bar, addr - m.address, data);
                true
            }
            None => {
                data.fill(0xff);
                false
            }
        }
    }

    /// A memory write at guest address `addr`.
    pub fn mmio_write(&self, addr: u64, data: &[u8]) -> bool {
        match self.find(addr) {
            Some((m, d)) => {
                d.lock().unwrap_or_else(|e| e.into_inner()).bar_write(
                    m.bar,
                    addr - m.address,
                    data,
                );
                true
            }
            None => false,
        }
    }
}

/// Configuration mechanism #1 on ports 0xCF8..0xCFF.
pub struct PciConfigIo {
    bus: Arc<PciBus>,
    address: u32,
}

impl PciConfigIo {
    /// The port device of `bus`.
    pub fn new(bus: Arc<PciBus>) -> Self {
        PciConfigIo { bus, address: 0 }
    }

    /// Decodes the address register: (bus, slot, function, register) when
    /// the enable bit is set.
    fn target(&self) -> Option<(u8, usize, u8, usize)> {
        let a = self.address;
        (a & 0x8000_0000 != 0).then_some((
            (a >> 16) as u8,
            ((a >> 11) & 0x1f) as usize,
            ((a >> 8) & 0x7) as u8,
            (a & 0xfc) as usize,
        ))
    }
}

impl BusDevice for PciConfigIo {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        match offset {
            0 if data.len() == 4 => data.copy_from_slice(&self.address.to_le_bytes()),
            4..=7 => match self.target() {
                Some((bus, slot, func, reg)) => {
                    let at = reg + (offset as usize - 4);
                    let len = data.len().min(8 - offset as usize);
                    self.bus.config_read(bus, slot, func, at, &mut data[..len]);
                    data[len..].fill(0xff);
                }
                None => data.fill(0xff),
            },
            _ => data.fill(0xff),
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) {
        match offset {
            // Only dword accesses reach the address register; byte writes
            // to 0xCFB are the kernel's mechanism #2 probe.
            0 if data.len() == 4 => {
                self.address =
                    u32::from_le_bytes([data[0], data[1], data[2], data[3]]) & 0x80ff_fffc
            }
            4..=7 => {
                if let Some((bus, slot, func, reg)) = self.target() {
                    let at = reg + (offset as usize - 4);
                    let len = data.len().min(8 - offset as usize);
                    self.bus.config_write(bus, slot, func, at, &data[..len]);
                }
            }
            _ => {}
        }
    }
}

/// The 32-bit PCI window on the MMIO bus, dispatching to decoding BARs.
pub struct PciMmioWindow {
    bus: Arc<PciBus>,
}

impl PciMmioWindow {
    /// The window of `bus`.
    pub fn new(bus: Arc<PciBus>) -> Self {
        PciMmioWindow { bus }
    }
}

impl BusDevice for PciMmioWindow {
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) {
        self.bus.mmio_read(base + offset, data);
    }

    fn write(&mut self, base: u64, offset: u64, data: &[u8]) {
        self.bus.mmio_write(base + offset, data);
    }
}

#[cfg(test)]
mod tests {
    use super::config::{command, reg};
    use super::*;

    struct Dummy {
        config: PciConfigSpace,
        last_write: Option<(usize, u64, Vec<u8>)>,
    }

    impl PciDevice for Dummy {
        fn config_read(&mut self, offset: usize, data: &mut [u8]) {
            self.config.read(offset, data);
        }
        fn config_write(&mut self, offset: usize, data: &[u8]) -> ConfigChange {
            self.config.write(offset, data)
        }
        fn bar_regions(&self) -> Vec<BarRegion> {
            self.config.bar_regions()
        }
        fn bar_read(&mut self, bar: usize, offset: u64, data: &mut [u8]) {
            data.fill(bar as u8 + offset as u8);
        }
        fn bar_write(&mut self, bar: usize, offset: u64, data: &[u8]) {
            self.last_write = Some((bar, offset, data.to_vec()));
        }
    }

    fn cf8(io: &mut PciConfigIo, slot: u32, reg: u32) {
        io.write(0, 0, &(0x8000_0000 | slot << 11 | reg).to_le_bytes());
    }

    fn read32(io: &mut PciConfigIo, slot: u32, reg: u32) -> u32 {
        cf8(io, slot, reg);
        let mut b = [0u8; 4];
        io.read(0, 4, &mut b);
        u32::from_le_bytes(b)
    }

    #[test]
    fn mechanism_1_finds_the_host_bridge_and_devices_and_bar_moves_follow() {
        let mut bus = PciBus::new(0xc000_0000, 0x2000_0000);
        let slot = bus.free_slot().expect("slot");
        assert_eq!(slot, 1);
        let addr = bus.allocate_bar(0x4000).expect("bar");
        let mut config = PciConfigSpace::new(
            PciIds {
                vendor: 0x1af4,
                device: 0x1044,
                revision: 1,
                class: 0xff00,
                subsystem_vendor: 0x1af4,
                subsystem: 0x40,
            },
            17,
        );
        config.add_mem32_bar(0, 0x4000, addr as u32).expect("bar");
        let dev = Arc::new(Mutex::new(Dummy {
            config,
            last_write: None,
        }));
        bus.insert(slot, dev.clone()).expect("insert");
        let bus = Arc::new(bus);
        let mut io = PciConfigIo::new(Arc::clone(&bus));

        // The kernel's probe: the address register reads back.
        io.write(0, 0, &0x8000_0000u32.to_le_bytes());
        let mut b = [0u8; 4];
        io.read(0, 0, &mut b);
        assert_eq!(u32::from_le_bytes(b), 0x8000_0000);

        assert_eq!(read32(&mut io, 0, 0), 0x0008_1b36);
        assert_eq!(read32(&mut io, 0, 8) >> 8, 0x06_00_00);
        assert_eq!(read32(&mut io, 1, 0), 0x1044_1af4);
        assert_eq!(read32(&mut io, 2, 0), 0xffff_ffff, "empty slot");
        // A 16-bit read at 0xCFE reads the upper half.
        cf8(&mut io, 1, 0);
        let mut w = [0u8; 2];
        io.read(0, 6, &mut w);
        assert_eq!(u16::from_le_bytes(w), 0x1044);

        // No decoding before the memory bit is on.
        assert!(!bus.mmio_read(addr, &mut [0u8; 4]));
        cf8(&mut io, 1, reg::COMMAND as u32);
        io.write(0, 4, &command::MEMORY.to_le_bytes());
        let mut d = [0u8; 1];
        assert!(bus.mmio_read(addr + 3, &mut d));
        assert_eq!(d[0], 3);

        // Sizing, then a move.
        cf8(&mut io, 1, reg::BAR0 as u32);
        io.write(0, 4, &0xffff_ffffu32.to_le_bytes());
        assert_eq!(read32(&mut io, 1, reg::BAR0 as u32), 0xffff_c000);
        cf8(&mut io, 1, reg::BAR0 as u32);
        io.write(0, 4, &0xd000_0000u32.to_le_bytes());
        assert!(!bus.mmio_read(addr, &mut d));
        assert!(bus.mmio_write(0xd000_0010, &[9]));
        assert_eq!(
            dev.lock().expect("lock").last_write,
            Some((0, 0x10, vec![9]))
        );
        // Other functions of the slot do not exist.
        io.write(0, 0, &(0x8000_0000u32 | 1 << 11 | 1 << 8).to_le_bytes());
        io.read(0, 4, &mut b);
        assert_eq!(b, [0xff; 4]);
    }

    #[test]
    fn bar_allocation_is_aligned_and_bounded() {
        let mut bus = PciBus::new(0xc000_0000, 0x3_0000);
        assert_eq!(bus.allocate_bar(0x1000), Ok(0xc000_0000));
        assert_eq!(bus.allocate_bar(0x1_0000), Ok(0xc001_0000));
        assert_eq!(bus.allocate_bar(0x1000), Ok(0xc002_0000));
        assert_eq!(
            bus.allocate_bar(0x1_0000),
            Err(PciError::NoBarSpace { size: 0x1_0000 })
        );
    }
}
