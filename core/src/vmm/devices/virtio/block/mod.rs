//! virtio-blk: a `<disk>` (raw or qcow2 image, CD-ROM as read-only media)
//! as a virtio block device with one request queue served by its own
//! I/O thread.
//!
//! Offered: FLUSH, SEG_MAX, BLK_SIZE, RO (read-only disks and CD-ROMs),
//! DISCARD and WRITE_ZEROES (writable disks), indirect descriptors and
//! EVENT_IDX. GET_ID answers the disk's `<serial>`.

pub mod backend;
pub mod request;
mod worker;

use super::{device_type, features, Activation, ActiveQueue, VirtioDevice, VirtioError};
use crate::vmm::config::DiskConfig;
use backend::{open_disk, BackendError, DiskBackend};
use request::{DiskProperties, ID_BYTES, MAX_RANGES, MAX_RANGE_SECTORS, SECTOR_SIZE};
use virtio_queue::QueueT;
use worker::{Worker, WorkerSetup, WorkerState};

/// Size of the request queue.
pub const QUEUE_SIZE: u16 = 256;

/// virtio-blk feature bits (virtio 1.2, 5.2.3).
pub mod blk_features {
    /// `seg_max` is valid.
    pub const SEG_MAX: u64 = 1 << 2;
    /// The device is read-only.
    pub const RO: u64 = 1 << 5;
    /// `blk_size` is valid.
    pub const BLK_SIZE: u64 = 1 << 6;
    /// FLUSH requests are supported (a write-back cache).
    pub const FLUSH: u64 = 1 << 9;
    /// DISCARD requests are supported.
    pub const DISCARD: u64 = 1 << 13;
    /// WRITE_ZEROES requests are supported.
    pub const WRITE_ZEROES: u64 = 1 << 14;
}

/// Length of the configuration space we expose (through `write_zeroes_may_unmap`).
const CONFIG_LEN: usize = 60;

/// A virtio block device.
pub struct Block {
    name: String,
    features: u64,
    config: [u8; CONFIG_LEN],
    props: DiskProperties,
    /// The image while no thread owns it.
    backend: Option<Box<dyn DiskBackend>>,
    worker: Option<Worker>,
}

impl Block {
    /// Opens the disk's image (read-only for read-only disks and CD-ROMs)
    /// and prepares the device.
    pub fn new(disk: &DiskConfig) -> Result<Block, BackendError> {
        let backend = open_disk(disk)?;
        Ok(Block::with_backend(disk, backend))
    }

    /// A device over an already open image.
    pub fn with_backend(disk: &DiskConfig, backend: Box<dyn DiskBackend>) -> Block {
        let read_only = disk.read_only || disk.cdrom;
        let caps = backend.caps();
        let discard = !read_only && caps.discard;
        let write_zeroes = !read_only && caps.write_zeroes;
        let mut id = [0u8; ID_BYTES];
        if let Some(serial) = &disk.serial {
            let bytes = serial.as_bytes();
            let n = bytes.len().min(ID_BYTES);
            id[..n].copy_from_slice(&bytes[..n]);
        }
        let props = DiskProperties {
            sectors: backend.capacity() / SECTOR_SIZE,
            read_only,
            discard,
            discard_unmap: disk.discard,
            write_zeroes,
            id,
        };
        let mut features = features::VERSION_1
            | features::RING_EVENT_IDX
            | features::RING_INDIRECT_DESC
            | blk_features::SEG_MAX
            | blk_features::BLK_SIZE
            | blk_features::FLUSH;
        if read_only {
            features |= blk_features::RO;
        }
        if discard {
            features |= blk_features::DISCARD;
        }
        if write_zeroes {
            features |= blk_features::WRITE_ZEROES;
        }
        Block {
            name: format!("virtio-blk {}", disk.target),
            features,
            config: config_space(&props),
            props,
            backend: Some(backend),
            worker: None,
        }
    }

    /// The disk's size in bytes, as the guest sees it.
    pub fn capacity(&self) -> u64 {
        self.props.sectors * SECTOR_SIZE
    }
}

/// `struct virtio_blk_config` (virtio 1.2, 5.2.4), little-endian.
fn config_space(props: &DiskProperties) -> [u8; CONFIG_LEN] {
    let mut c = [0u8; CONFIG_LEN];
    let mut put = |offset: usize, bytes: &[u8]| {
        c[offset..offset + bytes.len()].copy_from_slice(bytes);
    };
    put(0, &props.sectors.to_le_bytes()); // capacity
    put(12, &u32::from(QUEUE_SIZE - 2).to_le_bytes()); // seg_max
    put(20, &(SECTOR_SIZE as u32).to_le_bytes()); // blk_size
    put(34, &1u16.to_le_bytes()); // num_queues
    if props.discard {
        put(36, &MAX_RANGE_SECTORS.to_le_bytes()); // max_discard_sectors
        put(40, &MAX_RANGES.to_le_bytes()); // max_discard_seg
        put(44, &8u32.to_le_bytes()); // discard_sector_alignment (4 KiB)
    }
    if props.write_zeroes {
        put(48, &MAX_RANGE_SECTORS.to_le_bytes()); // max_write_zeroes_sectors
        put(52, &MAX_RANGES.to_le_bytes()); // max_write_zeroes_seg
        put(56, &[u8::from(props.discard_unmap)]); // write_zeroes_may_unmap
    }
    c
}

impl VirtioDevice for Block {
    fn device_type(&self) -> u32 {
        device_type::BLOCK
    }

    fn name(&self) -> String {
        self.name.clone()
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        self.features
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // Out-of-range reads see zeroes, as for reserved fields.
        data.fill(0);
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        if start >= CONFIG_LEN {
            return;
        }
        let end = start.saturating_add(data.len()).min(CONFIG_LEN);
        data[..end - start].copy_from_slice(&self.config[start..end]);
    }

    fn activate(&mut self, activation: Activation) -> Result<(), VirtioError> {
        let bad = |reason: String| VirtioError::BadActivation {
            device: self.name.clone(),
            reason,
        };
        if self.worker.is_some() {
            return Err(bad("already active".into()));
        }
        let Activation {
            memory,
            acked_features,
            queues,
            interrupt,
        } = activation;
        let count = queues.len();
        let Some(mut queue) = queues.into_iter().next().filter(|_| count == 1) else {
            return Err(bad(format!(
                "expects one queue, the driver enabled {count}"
            )));
        };
        queue
            .queue
            .set_event_idx(acked_features & features::RING_EVENT_IDX != 0);
        let Some(backend) = self.backend.take() else {
            return Err(bad("its image was lost by a failed I/O thread".into()));
        };
        let setup = WorkerSetup {
            name: self.name.clone(),
            memory,
            state: WorkerState { queue, backend },
            props: self.props.clone(),
            interrupt,
        };
        match Worker::spawn(setup) {
            Ok(worker) => {
                self.worker = Some(worker);
                Ok(())
            }
            Err(source) => Err(VirtioError::Worker {
                device: self.name.clone(),
                source,
            }),
        }
    }

    fn sync(&mut self) -> Result<(), VirtioError> {
        // While the I/O thread runs it owns the image and flushes on FLUSH.
        match self.backend.as_mut() {
            Some(backend) => backend.flush().map_err(|e| VirtioError::Save {
                device: self.name.clone(),
                reason: format!("cannot flush the image: {e}"),
            }),
            None => Ok(()),
        }
    }

    fn deactivate(&mut self) -> Vec<ActiveQueue> {
        let Some(worker) = self.worker.take() else {
            return Vec::new();
        };
        match worker.stop() {
            Some(state) => {
                self.backend = Some(state.backend);
                vec![state.queue]
            }
            None => {
                eprintln!("hangar-vmm: {}: the I/O thread failed", self.name);
                Vec::new()
            }
        }
    }
}

impl Drop for Block {
    fn drop(&mut self) {
        // The thread owns the image: stop it so the image is flushed and
        // closed before the process goes on.
        drop(self.deactivate());
    }
}

#[cfg(test)]
mod tests;
