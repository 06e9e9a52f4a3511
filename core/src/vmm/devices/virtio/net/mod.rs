//! virtio-net: a network card backed by a host tap device.
//!
//! - [`tap`]: the tap (`/dev/net/tun`, non-blocking, 12-byte virtio-net
//!   header, offloads off).
//! - `rings`: moving one frame between a descriptor chain and a buffer,
//!   with every guest address and length checked.
//! - `worker`: the device's thread, which waits (epoll) on the tap, the
//!   two queue eventfds and a stop eventfd; vCPU threads only signal.
//!
//! The card offers `VERSION_1`, `MAC`, `STATUS` and `MRG_RXBUF`; no
//! checksum or segmentation offloads, so every frame crosses complete.
//! The link state lives in the configuration space (`<link state='down'>`
//! starts it down, and the worker drops traffic while it is down).

mod rings;
pub mod tap;
mod worker;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde::{Deserialize, Serialize};
use vmm_sys_util::eventfd::EventFd;

use super::{
    device_type, features, queues_by_index, Activation, ActiveQueue, InterruptCause, VirtioDevice,
    VirtioError, VirtioInterrupt,
};
use crate::vmm::config::NetConfig;
use crate::xml::MacAddr;
pub use tap::Tap;

/// Feature bits of virtio-net (virtio 1.2, section 5.1.3).
pub mod net_features {
    /// The device has a MAC address in its configuration space.
    pub const MAC: u64 = 1 << 5;
    /// The driver can merge receive buffers.
    pub const MRG_RXBUF: u64 = 1 << 15;
    /// The configuration space has a link status.
    pub const STATUS: u64 = 1 << 16;
}

/// `VIRTIO_NET_S_LINK_UP` in the status field.
const STATUS_LINK_UP: u16 = 1;
/// Ring size offered for both queues.
const QUEUE_SIZE: u16 = 256;

/// Errors of the virtio-net device.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// A name the kernel cannot take.
    #[error("'{0}' is not a valid tap device name")]
    TapName(String),
    /// An operation on the tap failed.
    #[error("tap '{tap}': cannot {op}: {source}")]
    Tap {
        /// The tap's name (or template).
        tap: String,
        /// What was being done.
        op: &'static str,
        /// Why it failed.
        source: std::io::Error,
    },
}

/// What a card keeps across save and restore (queues are the transport's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetState {
    /// The guest's MAC address.
    pub mac: [u8; 6],
    /// Whether the link is up.
    pub link_up: bool,
}

/// A running worker and the way to stop it.
struct Running {
    stop: EventFd,
    thread: JoinHandle<Vec<ActiveQueue>>,
    interrupt: Arc<dyn VirtioInterrupt>,
}

/// A virtio-net card.
pub struct Net {
    mac: MacAddr,
    tap: Arc<Tap>,
    link_up: Arc<AtomicBool>,
    running: Option<Running>,
}

impl Net {
    /// Opens the card's tap and builds the card from its configuration.
    pub fn new(config: &NetConfig) -> Result<Net, NetError> {
        let tap = Tap::open(config.tap.as_deref())?;
        Ok(Net::with_tap(config.mac, tap, config.link_up))
    }

    /// Builds a card on an already open tap.
    pub fn with_tap(mac: MacAddr, tap: Tap, link_up: bool) -> Net {
        Net {
            mac,
            tap: Arc::new(tap),
            link_up: Arc::new(AtomicBool::new(link_up)),
            running: None,
        }
    }

    /// The tap device's name.
    pub fn tap_name(&self) -> &str {
        self.tap.name()
    }

    /// Whether the link is up.
    pub fn link_up(&self) -> bool {
        self.link_up.load(Ordering::Acquire)
    }

    /// Sets the link up or down (`domif-setlink`), telling a running
    /// driver through a configuration interrupt.
    pub fn set_link(&self, up: bool) -> std::io::Result<()> {
        let was = self.link_up.swap(up, Ordering::AcqRel);
        match &self.running {
            Some(running) if was != up => running.interrupt.trigger(InterruptCause::Config),
            _ => Ok(()),
        }
    }

    /// The configuration space: mac (6 bytes), status (le16),
    /// max_virtqueue_pairs (le16).
    fn config_bytes(&self) -> [u8; 10] {
        let mut config = [0u8; 10];
        config[..6].copy_from_slice(&self.mac.0);
        let status = if self.link_up() { STATUS_LINK_UP } else { 0 };
        config[6..8].copy_from_slice(&status.to_le_bytes());
        config[8..10].copy_from_slice(&1u16.to_le_bytes());
        config
    }
}

impl VirtioDevice for Net {
    fn device_type(&self) -> u32 {
        device_type::NET
    }

    fn name(&self) -> String {
        format!("virtio-net {}", self.mac)
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE, QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        features::VERSION_1
            | features::RING_INDIRECT_DESC
            | net_features::MAC
            | net_features::STATUS
            | net_features::MRG_RXBUF
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let config = self.config_bytes();
        for (i, byte) in data.iter_mut().enumerate() {
            *byte = usize::try_from(offset)
                .ok()
                .and_then(|o| o.checked_add(i))
                .and_then(|at| config.get(at).copied())
                .unwrap_or(0);
        }
    }

    fn activate(&mut self, activation: Activation) -> Result<(), VirtioError> {
        let name = self.name();
        if self.running.is_some() {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "already active".into(),
            });
        }
        // Queue 0 receives, 1 transmits; control or further pairs were not offered.
        let [rx, tx] = queues_by_index::<2>(&name, activation.queues)?;
        let (Some(rx), Some(tx)) = (rx, tx) else {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "the receive and transmit queues must both be enabled".into(),
            });
        };
        let stop = EventFd::new(libc::EFD_NONBLOCK).map_err(|source| VirtioError::Worker {
            device: name.clone(),
            source,
        })?;
        let worker_stop = stop.try_clone().map_err(|source| VirtioError::Worker {
            device: name.clone(),
            source,
        })?;
        let worker = worker::NetWorker {
            memory: activation.memory,
            rx,
            tx,
            mergeable: activation.acked_features & net_features::MRG_RXBUF != 0,
            tap: self.tap.clone(),
            link_up: self.link_up.clone(),
            interrupt: activation.interrupt.clone(),
            stop: worker_stop,
        };
        let thread = std::thread::Builder::new()
            .name(format!("net-{}", self.tap.name()))
            .spawn(move || worker.run())
            .map_err(|source| VirtioError::Worker {
                device: name.clone(),
                source,
            })?;
        self.running = Some(Running {
            stop,
            thread,
            interrupt: activation.interrupt,
        });
        Ok(())
    }

    fn deactivate(&mut self) -> Vec<ActiveQueue> {
        let Some(running) = self.running.take() else {
            return Vec::new();
        };
        if let Err(e) = running.stop.write(1) {
            eprintln!("hangar-vmm: {}: cannot stop the worker: {e}", self.name());
        }
        match running.thread.join() {
            Ok(queues) => queues,
            Err(_) => {
                eprintln!("hangar-vmm: {}: the worker panicked", self.name());
                Vec::new()
            }
        }
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(NetState {
            mac: self.mac.0,
            link_up: self.link_up(),
        })
        .unwrap_or(serde_json::Value::Null)
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<(), VirtioError> {
        let state: NetState =
            serde_json::from_value(state.clone()).map_err(|e| VirtioError::BadState {
                device: self.name(),
                reason: e.to_string(),
            })?;
        if state.mac != self.mac.0 {
            return Err(VirtioError::BadState {
                device: self.name(),
                reason: format!(
                    "saved for MAC {}, the card has {}",
                    MacAddr(state.mac),
                    self.mac
                ),
            });
        }
        self.link_up.store(state.link_up, Ordering::Release);
        Ok(())
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        self.deactivate();
    }
}

#[cfg(test)]
mod tests;
