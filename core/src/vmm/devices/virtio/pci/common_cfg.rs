//! The virtio-pci common configuration structure (virtio 1.2, 4.1.4.3):
//! feature negotiation, the device status, and the per-queue registers
//! selected by `queue_select`.
//!
//! Reads and writes may have any width and alignment (the kernel writes
//! 64-bit addresses as two 32-bit halves): each access is split over the
//! fields it overlaps and every field is read, patched and written back.
//! Nothing the guest writes can panic: unknown offsets read zero and
//! ignore writes, an out-of-range `queue_select` selects nothing.

use crate::vmm::devices::virtio::features::VERSION_1;
use serde::{Deserialize, Serialize};

/// Device status bits (virtio 1.2, 2.1).
pub mod status {
    /// The guest noticed the device.
    pub const ACKNOWLEDGE: u8 = 1;
    /// The guest has a driver for it.
    pub const DRIVER: u8 = 2;
    /// The driver is set up: the device may run.
    pub const DRIVER_OK: u8 = 4;
    /// Feature negotiation is complete.
    pub const FEATURES_OK: u8 = 8;
    /// The device hit an error and needs a reset.
    pub const DEVICE_NEEDS_RESET: u8 = 0x40;
    /// The driver gave up.
    pub const FAILED: u8 = 0x80;
}

/// "No MSI-X vector" for `config_msix_vector` / `queue_msix_vector`.
pub const NO_VECTOR: u16 = 0xffff;
/// Length of the structure we expose (through `queue_reset`).
pub const COMMON_CFG_LEN: u64 = 0x3c;

/// One queue's registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueRegs {
    /// Largest size the device accepts.
    pub max_size: u16,
    /// Size the driver chose (starts at the maximum).
    pub size: u16,
    /// MSI-X vector of the queue.
    pub msix_vector: u16,
    /// Whether the driver enabled the queue.
    pub enabled: bool,
    /// Descriptor table address.
    pub desc: u64,
    /// Driver (available) ring address.
    pub driver: u64,
    /// Device (used) ring address.
    pub device: u64,
}

impl QueueRegs {
    /// A queue out of reset.
    pub fn new(max_size: u16) -> Self {
        QueueRegs {
            max_size,
            size: max_size,
            msix_vector: NO_VECTOR,
            enabled: false,
            desc: 0,
            driver: 0,
            device: 0,
        }
    }
}

/// What a write asks the transport to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommonEvent {
    /// Status 0 was written: reset the device.
    Reset,
    /// DRIVER_OK was set after a successful negotiation: activate.
    DriverOk,
}

/// The registers, as saved in a snapshot too.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonCfg {
    /// Features the device offers.
    pub device_features: u64,
    /// Which half of the device features the driver reads.
    pub device_feature_select: u32,
    /// Which half of the driver features the driver writes.
    pub driver_feature_select: u32,
    /// Features the driver accepted.
    pub driver_features: u64,
    /// MSI-X vector for configuration changes.
    pub config_msix_vector: u16,
    /// Device status.
    pub device_status: u8,
    /// Configuration generation.
    pub config_generation: u8,
    /// The selected queue.
    pub queue_select: u16,
    /// Every queue's registers.
    pub queues: Vec<QueueRegs>,
    /// Number of MSI-X vectors (valid vectors are below it).
    pub msix_vectors: u16,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    DeviceFeatureSelect,
    DeviceFeature,
    DriverFeatureSelect,
    DriverFeature,
    ConfigMsixVector,
    NumQueues,
    DeviceStatus,
    ConfigGeneration,
    QueueSelect,
    QueueSize,
    QueueMsixVector,
    QueueEnable,
    QueueNotifyOff,
    QueueDesc,
    QueueDriver,
    QueueDevice,
    QueueNotifyData,
    QueueReset,
}

/// (offset, width, field) of every register.
const FIELDS: [(u64, u64, Field); 18] = [
    (0x00, 4, Field::DeviceFeatureSelect),
    (0x04, 4, Field::DeviceFeature),
    (0x08, 4, Field::DriverFeatureSelect),
    (0x0c, 4, Field::DriverFeature),
    (0x10, 2, Field::ConfigMsixVector),
    (0x12, 2, Field::NumQueues),
    (0x14, 1, Field::DeviceStatus),
    (0x15, 1, Field::ConfigGeneration),
    (0x16, 2, Field::QueueSelect),
    (0x18, 2, Field::QueueSize),
    (0x1a, 2, Field::QueueMsixVector),
    (0x1c, 2, Field::QueueEnable),
    (0x1e, 2, Field::QueueNotifyOff),
    (0x20, 8, Field::QueueDesc),
    (0x28, 8, Field::QueueDriver),
    (0x30, 8, Field::QueueDevice),
    (0x38, 2, Field::QueueNotifyData),
    (0x3a, 2, Field::QueueReset),
];

impl CommonCfg {
    /// Registers out of reset for a device offering `features` with queues
    /// of the given maximum sizes and `msix_vectors` vectors.
    pub fn new(features: u64, queue_max_sizes: &[u16], msix_vectors: u16) -> Self {
        CommonCfg {
            device_features: features,
            device_feature_select: 0,
            driver_feature_select: 0,
            driver_features: 0,
            config_msix_vector: NO_VECTOR,
            device_status: 0,
            config_generation: 0,
            queue_select: 0,
            queues: queue_max_sizes.iter().map(|&m| QueueRegs::new(m)).collect(),
            msix_vectors,
        }
    }

    /// Back to the state after power-on (virtio reset).
    pub fn reset(&mut self) {
        let sizes: Vec<u16> = self.queues.iter().map(|q| q.max_size).collect();
        let generation = self.config_generation;
        *self = CommonCfg::new(self.device_features, &sizes, self.msix_vectors);
        self.config_generation = generation;
    }

    /// Whether the driver has set DRIVER_OK.
    pub fn driver_ok(&self) -> bool {
        self.device_status & status::DRIVER_OK != 0
    }

    fn selected(&self) -> Option<&QueueRegs> {
        self.queues.get(self.queue_select as usize)
    }

    fn get(&self, field: Field) -> u64 {
        let q = self.selected();
        match field {
            Field::DeviceFeatureSelect => u64::from(self.device_feature_select),
            Field::DeviceFeature => match self.device_feature_select {
                0 => self.device_features & 0xffff_ffff,
                1 => self.device_features >> 32,
                _ => 0,
            },
            Field::DriverFeatureSelect => u64::from(self.driver_feature_select),
            Field::DriverFeature => match self.driver_feature_select {
                0 => self.driver_features & 0xffff_ffff,
                1 => self.driver_features >> 32,
                _ => 0,
            },
            Field::ConfigMsixVector => u64::from(self.config_msix_vector),
            Field::NumQueues => self.queues.len() as u64,
            Field::DeviceStatus => u64::from(self.device_status),
            Field::ConfigGeneration => u64::from(self.config_generation),
            Field::QueueSelect => u64::from(self.queue_select),
            Field::QueueSize => q.map_or(0, |q| u64::from(q.size)),
            Field::QueueMsixVector => q.map_or(u64::from(NO_VECTOR), |q| u64::from(q.msix_vector)),
            Field::QueueEnable => q.map_or(0, |q| u64::from(q.enabled)),
            // Each queue notifies at its own index times the multiplier.
            Field::QueueNotifyOff | Field::QueueNotifyData => {
                q.map_or(0, |_| u64::from(self.queue_select))
            }
            Field::QueueDesc => q.map_or(0, |q| q.desc),
            Field::QueueDriver => q.map_or(0, |q| q.driver),
            Field::QueueDevice => q.map_or(0, |q| q.device),
            Field::QueueReset => 0,
        }
    }

    fn set(&mut self, field: Field, value: u64) -> Option<CommonEvent> {
        let vectors = self.msix_vectors;
        let valid_vector = |v: u64| {
            let v = v as u16;
            if v < vectors {
                v
            } else {
                NO_VECTOR
            }
        };
        let negotiating = self.device_status & status::FEATURES_OK == 0;
        let driver_ok = self.driver_ok();
        let select = self.queue_select as usize;
        let editable = !driver_ok && self.queues.get(select).is_some_and(|q| !q.enabled);
        let queue = if editable {
            self.queues.get_mut(select)
        } else {
            None
        };
        // Queue layout fields first (they borrow `self.queues`).
        if let Some(q) = queue {
            match field {
                Field::QueueSize => q.size = value as u16,
                // Writing 0 is not allowed to the driver; a queue is
                // disabled only by a reset.
                Field::QueueEnable => q.enabled = value & 1 == 1,
                Field::QueueDesc => q.desc = value,
                Field::QueueDriver => q.driver = value,
                Field::QueueDevice => q.device = value,
                _ => {}
            }
        }
        match field {
            Field::DeviceFeatureSelect => self.device_feature_select = value as u32,
            Field::DriverFeatureSelect => self.driver_feature_select = value as u32,
            Field::DriverFeature if negotiating => match self.driver_feature_select {
                0 => {
                    self.driver_features =
                        (self.driver_features & !0xffff_ffff) | (value & 0xffff_ffff)
                }
                1 => self.driver_features = (self.driver_features & 0xffff_ffff) | (value << 32),
                _ => {}
            },
            Field::ConfigMsixVector => self.config_msix_vector = valid_vector(value),
            Field::DeviceStatus => return self.write_status(value as u8),
            Field::QueueSelect => self.queue_select = value as u16,
            Field::QueueMsixVector => {
                if let Some(q) = self.queues.get_mut(select) {
                    q.msix_vector = valid_vector(value);
                }
            }
            _ => {}
        }
        None
    }

    fn write_status(&mut self, value: u8) -> Option<CommonEvent> {
        if value == 0 {
            return Some(CommonEvent::Reset);
        }
        let old = self.device_status;
        let mut new = value | (old & status::DEVICE_NEEDS_RESET);
        if new & status::FEATURES_OK != 0 && old & status::FEATURES_OK == 0 {
            let unknown = self.driver_features & !self.device_features;
            if unknown != 0 || self.driver_features & VERSION_1 == 0 {
                // Refused: the driver reads FEATURES_OK back as clear.
                new &= !status::FEATURES_OK;
            }
        }
        self.device_status = new;
        let newly_ok = new & status::DRIVER_OK != 0 && old & status::DRIVER_OK == 0;
        if newly_ok {
            if new & status::FEATURES_OK == 0 {
                self.device_status |= status::DEVICE_NEEDS_RESET;
                return None;
            }
            return Some(CommonEvent::DriverOk);
        }
        None
    }

    /// A read of `data.len()` bytes at `offset`.
    pub fn read(&self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            let at = offset + i as u64;
            *b = FIELDS
                .iter()
                .find(|(o, w, _)| at >= *o && at < o + w)
                .map_or(0, |(o, _, f)| self.get(*f).to_le_bytes()[(at - o) as usize]);
        }
    }

    /// A write of `data` at `offset`; the event the transport must handle.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Option<CommonEvent> {
        let end = offset + data.len() as u64;
        let mut event = None;
        for (o, w, f) in FIELDS {
            if end <= o || offset >= o + w {
                continue;
            }
            let mut bytes = self.get(f).to_le_bytes();
            for at in offset.max(o)..end.min(o + w) {
                bytes[(at - o) as usize] = data[(at - offset) as usize];
            }
            if let Some(e) = self.set(f, u64::from_le_bytes(bytes)) {
                event = Some(e);
            }
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> CommonCfg {
        CommonCfg::new(VERSION_1 | 1 << 5, &[256, 128], 3)
    }

    fn read32(c: &CommonCfg, at: u64) -> u32 {
        let mut b = [0u8; 4];
        c.read(at, &mut b);
        u32::from_le_bytes(b)
    }

    fn read16(c: &CommonCfg, at: u64) -> u16 {
        let mut b = [0u8; 2];
        c.read(at, &mut b);
        u16::from_le_bytes(b)
    }

    #[test]
    fn feature_negotiation_accepts_a_subset_with_version_1() {
        let mut c = cfg();
        c.write(0x00, &1u32.to_le_bytes());
        assert_eq!(read32(&c, 0x04), 1, "VERSION_1 is bit 32");
        c.write(0x00, &0u32.to_le_bytes());
        assert_eq!(read32(&c, 0x04), 1 << 5);
        c.write(0x00, &7u32.to_le_bytes());
        assert_eq!(read32(&c, 0x04), 0);
        c.write(0x08, &1u32.to_le_bytes());
        c.write(0x0c, &1u32.to_le_bytes());
        c.write(
            0x14,
            &[status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK],
        );
        assert_ne!(c.device_status & status::FEATURES_OK, 0);
        assert_eq!(c.driver_features, VERSION_1);
        // Features are frozen once accepted.
        c.write(0x0c, &0u32.to_le_bytes());
        assert_eq!(c.driver_features, VERSION_1);
        let ev = c.write(
            0x14,
            &[status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK],
        );
        assert_eq!(ev, Some(CommonEvent::DriverOk));
        assert_eq!(c.write(0x14, &[0]), Some(CommonEvent::Reset));
    }

    #[test]
    fn unknown_features_or_legacy_drivers_are_refused() {
        let mut c = cfg();
        c.write(0x08, &0u32.to_le_bytes());
        c.write(0x0c, &(1u32 << 5).to_le_bytes());
        c.write(0x14, &[status::FEATURES_OK]);
        assert_eq!(c.device_status & status::FEATURES_OK, 0, "no VERSION_1");
        let mut c = cfg();
        c.write(0x08, &0u32.to_le_bytes());
        c.write(0x0c, &(1u32 << 6).to_le_bytes());
        c.write(0x08, &1u32.to_le_bytes());
        c.write(0x0c, &1u32.to_le_bytes());
        c.write(0x14, &[status::FEATURES_OK]);
        assert_eq!(
            c.device_status & status::FEATURES_OK,
            0,
            "bit 6 not offered"
        );
        // DRIVER_OK without negotiation asks for a reset, never activates.
        assert_eq!(c.write(0x14, &[status::DRIVER_OK]), None);
        assert_ne!(c.device_status & status::DEVICE_NEEDS_RESET, 0);
    }

    #[test]
    fn queue_registers_follow_queue_select_and_split_writes() {
        let mut c = cfg();
        assert_eq!(read16(&c, 0x12), 2);
        c.write(0x16, &1u16.to_le_bytes());
        assert_eq!(read16(&c, 0x18), 128);
        assert_eq!(read16(&c, 0x1e), 1);
        c.write(0x18, &64u16.to_le_bytes());
        c.write(0x20, &0x1000u32.to_le_bytes());
        c.write(0x24, &0x2u32.to_le_bytes());
        c.write(0x28, &0x3000u64.to_le_bytes());
        c.write(0x1a, &2u16.to_le_bytes());
        c.write(0x10, &9u16.to_le_bytes());
        c.write(0x1c, &1u16.to_le_bytes());
        let q = c.queues[1];
        assert_eq!(
            (q.size, q.desc, q.driver, q.msix_vector, q.enabled),
            (64, 0x2_0000_1000, 0x3000, 2, true)
        );
        assert_eq!(c.config_msix_vector, NO_VECTOR, "vector 9 does not exist");
        // An enabled queue's layout is fixed.
        c.write(0x18, &32u16.to_le_bytes());
        assert_eq!(c.queues[1].size, 64);
        // Out-of-range selection reads zero and writes nothing.
        c.write(0x16, &40u16.to_le_bytes());
        assert_eq!(read16(&c, 0x18), 0);
        assert_eq!(read16(&c, 0x1a), NO_VECTOR);
        c.write(0x18, &8u16.to_le_bytes());
        c.write(0x100, &[1, 2, 3]);
        let mut junk = [0xffu8; 8];
        c.read(0x3c, &mut junk);
        assert_eq!(junk, [0; 8]);
        c.reset();
        assert_eq!(c.queues[1], QueueRegs::new(128));
        assert_eq!(c.device_status, 0);
    }
}
