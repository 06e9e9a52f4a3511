//! virtio-input (virtio 1.2, 5.8): the absolute pointer (a tablet) and the
//! keyboard the VNC server types into.
//!
//! - `config`: the select/subsel configuration space that tells the
//!   driver the device's name, ids and which events it sends.
//! - `event`: the 8-byte events and the scancode → Linux key translation.
//! - `worker`: the device's thread. Queue 0 (events) holds empty buffers
//!   the driver posted; each pending event fills one. Queue 1 (status)
//!   carries the driver's LED changes, which are read and dropped (a VNC
//!   client has no LEDs to light).
//!
//! Events come from the display's client threads through an
//! [`InputHandle`]: they are queued in the device (never waiting for the
//! guest) and the worker is woken. While the guest posts no buffers the
//! queue grows to [`MAX_PENDING_EVENTS`]; past that the oldest whole
//! batches (up to their `SYN_REPORT`) are dropped. Events only queue while
//! the driver runs: before that the handle refuses them, so keys can go to
//! the PS/2 keyboard instead. Pending events are not part of a saved VM.

mod config;
pub mod event;
mod worker;

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use vmm_sys_util::eventfd::EventFd;

use super::worker::Worker;
use super::{
    device_type, features, queues_by_index, Activation, ActiveQueue, VirtioDevice, VirtioError,
};
pub use config::{answer as config_answer, select, ConfigSpace, CONFIG_SIZE};
use event::{scale_axis, scancode_to_linux, InputEvent};
use event::{ABS_X, ABS_Y, BTN_LEFT, BTN_MIDDLE, BTN_RIGHT, REL_WHEEL};

/// Ring size of both queues (the driver posts one 8-byte buffer per slot).
const QUEUE_SIZE: u16 = 64;
/// Most events held while the guest posts no buffers.
pub const MAX_PENDING_EVENTS: usize = 1024;

/// Which device it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InputKind {
    /// Absolute pointer: ABS_X/ABS_Y in 0..=32767, three buttons, a wheel.
    Tablet,
    /// A PC keyboard: keys, LEDs, autorepeat done by the guest.
    Keyboard,
}

impl InputKind {
    /// The name the guest shows (`/proc/bus/input/devices`).
    pub fn device_name(self) -> &'static str {
        match self {
            InputKind::Tablet => "Hangar Virtio Tablet",
            InputKind::Keyboard => "Hangar Virtio Keyboard",
        }
    }

    /// Product id in `ID_DEVIDS` (QEMU's numbers for the same devices).
    pub fn product_id(self) -> u16 {
        match self {
            InputKind::Keyboard => 0x0001,
            InputKind::Tablet => 0x0003,
        }
    }

    fn short(self) -> &'static str {
        match self {
            InputKind::Tablet => "tablet",
            InputKind::Keyboard => "keyboard",
        }
    }
}

/// Events waiting for guest buffers, and what the pointer last reported.
#[derive(Debug, Default)]
struct Pending {
    events: VecDeque<InputEvent>,
    /// RFB button mask last seen (bit 0 left, 1 middle, 2 right, 3/4 wheel).
    buttons: u8,
    /// Axis values last sent.
    position: Option<(u32, u32)>,
    /// Events dropped because the guest took none.
    dropped: u64,
}

impl Pending {
    /// Queues one batch and its `SYN_REPORT`, dropping the oldest batches
    /// past the cap.
    fn push_batch(&mut self, batch: &[InputEvent]) {
        if batch.is_empty() {
            return;
        }
        self.events.extend(batch.iter().copied());
        self.events.push_back(InputEvent::SYN_REPORT);
        while self.events.len() > MAX_PENDING_EVENTS {
            while let Some(old) = self.events.pop_front() {
                self.dropped += 1;
                if old == InputEvent::SYN_REPORT {
                    break;
                }
            }
        }
    }
}

/// State shared by the device, its worker and the handles.
struct Shared {
    kind: InputKind,
    pending: Mutex<Pending>,
    /// Wakes the worker when events are queued.
    wake: EventFd,
    /// The driver has started the device (DRIVER_OK) and not reset it.
    active: AtomicBool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        // Plain data: still consistent after a panic elsewhere.
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Sends events to one virtio-input device from other threads (the VNC
/// clients). Cheap to clone; never blocks on the guest.
#[derive(Clone)]
pub struct InputHandle {
    shared: Arc<Shared>,
}

impl InputHandle {
    /// Which device this is.
    pub fn kind(&self) -> InputKind {
        self.shared.kind
    }

    /// Whether the guest's driver has started the device.
    pub fn is_active(&self) -> bool {
        self.shared.active.load(Ordering::SeqCst)
    }

    /// Events dropped so far because the guest took none.
    pub fn dropped(&self) -> u64 {
        self.shared.lock().dropped
    }

    /// A key as an XT scancode (0xe0 in the high byte for extended keys).
    /// False when this is not a running keyboard or it has no such key:
    /// the caller then gives the key to another keyboard.
    pub fn key(&self, scancode: u16, down: bool) -> bool {
        if self.kind() != InputKind::Keyboard || !self.is_active() {
            return false;
        }
        let Some(code) = scancode_to_linux(scancode) else {
            return false;
        };
        self.queue(&[InputEvent::key(code, down)]);
        true
    }

    /// The VNC pointer at pixel (`x`, `y`) of a `width` x `height` screen
    /// with RFB button mask `buttons`: the position scaled to the tablet's
    /// axes, a press or release for each button that changed (bit 0 left,
    /// 1 middle, 2 right) and a wheel step for bits 3 (up) and 4 (down)
    /// going down. False when this is not a running tablet.
    pub fn pointer(&self, x: u16, y: u16, buttons: u8, width: u32, height: u32) -> bool {
        if self.kind() != InputKind::Tablet || !self.is_active() {
            return false;
        }
        let position = (
            scale_axis(u32::from(x), width),
            scale_axis(u32::from(y), height),
        );
        let mut pending = self.shared.lock();
        let mut batch = Vec::with_capacity(6);
        if pending.position != Some(position) {
            batch.push(InputEvent {
                kind: event::ev::ABS,
                code: ABS_X,
                value: position.0,
            });
            batch.push(InputEvent {
                kind: event::ev::ABS,
                code: ABS_Y,
                value: position.1,
            });
            pending.position = Some(position);
        }
        let changed = pending.buttons ^ buttons;
        for (bit, code) in [(0, BTN_LEFT), (1, BTN_MIDDLE), (2, BTN_RIGHT)] {
            if changed & (1 << bit) != 0 {
                batch.push(InputEvent::key(code, buttons & (1 << bit) != 0));
            }
        }
        let pressed = changed & buttons;
        for (bit, step) in [(3, 1i32), (4, -1i32)] {
            if pressed & (1 << bit) != 0 {
                batch.push(InputEvent {
                    kind: event::ev::REL,
                    code: REL_WHEEL,
                    value: step as u32,
                });
            }
        }
        pending.buttons = buttons;
        pending.push_batch(&batch);
        drop(pending);
        if !batch.is_empty() {
            self.wake_worker();
        }
        true
    }

    fn queue(&self, batch: &[InputEvent]) {
        self.shared.lock().push_batch(batch);
        self.wake_worker();
    }

    fn wake_worker(&self) {
        if let Err(e) = self.shared.wake.write(1) {
            eprintln!("hangar-vmm: virtio-input: cannot wake the worker: {e}");
        }
    }
}

/// What a virtio-input device keeps across save and restore.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputState {
    /// The driver's last `select`.
    pub select: u8,
    /// The driver's last `subsel`.
    pub subsel: u8,
}

/// A virtio-input device (`<input type='tablet|keyboard' bus='virtio'>`).
pub struct Input {
    shared: Arc<Shared>,
    config: ConfigSpace,
    serial: String,
    worker: Option<Worker<worker::InputWorker>>,
}

impl Input {
    /// A `kind` device; `index` tells devices of the same kind apart in
    /// their serial number.
    pub fn new(kind: InputKind, index: usize) -> std::io::Result<Input> {
        Ok(Input {
            shared: Arc::new(Shared {
                kind,
                pending: Mutex::new(Pending::default()),
                wake: EventFd::new(libc::EFD_NONBLOCK)?,
                active: AtomicBool::new(false),
            }),
            config: ConfigSpace::default(),
            serial: format!("hangar-{}-{index}", kind.short()),
            worker: None,
        })
    }

    /// The handle the display sends events through.
    pub fn handle(&self) -> InputHandle {
        InputHandle {
            shared: Arc::clone(&self.shared),
        }
    }

    fn worker_error(&self, source: std::io::Error) -> VirtioError {
        VirtioError::Worker {
            device: self.name(),
            source,
        }
    }
}

impl VirtioDevice for Input {
    fn device_type(&self) -> u32 {
        device_type::INPUT
    }

    fn name(&self) -> String {
        format!("virtio-input {}", self.serial)
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE; 2]
    }

    fn features(&self) -> u64 {
        features::VERSION_1
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        self.config
            .read(self.shared.kind, &self.serial, offset, data);
    }

    fn write_config(&mut self, offset: u64, data: &[u8]) {
        self.config.write(offset, data);
    }

    fn activate(&mut self, activation: Activation) -> Result<(), VirtioError> {
        let name = self.name();
        if self.worker.is_some() {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "already active".into(),
            });
        }
        let [events, status] = queues_by_index::<2>(&name, activation.queues)?;
        let Some(events) = events else {
            return Err(VirtioError::BadActivation {
                device: name,
                reason: "the event queue must be enabled".into(),
            });
        };
        {
            // A new driver starts from a quiet device.
            let mut pending = self.shared.lock();
            pending.events.clear();
            pending.buttons = 0;
            pending.position = None;
        }
        let running = worker::InputWorker {
            memory: activation.memory,
            events,
            status,
            interrupt: activation.interrupt,
            shared: Arc::clone(&self.shared),
            wake: self
                .shared
                .wake
                .try_clone()
                .map_err(|e| self.worker_error(e))?,
        };
        let worker = Worker::spawn(
            format!("virtio-input-{}", self.shared.kind.short()),
            running,
            worker::InputWorker::notifiers,
            |w, _| w.serve(),
        )
        .map_err(|e| self.worker_error(e))?;
        self.worker = Some(worker);
        self.shared.active.store(true, Ordering::SeqCst);
        Ok(())
    }

    fn deactivate(&mut self) -> Vec<ActiveQueue> {
        self.shared.active.store(false, Ordering::SeqCst);
        self.shared.lock().events.clear();
        self.worker
            .take()
            .and_then(Worker::stop)
            .map(worker::InputWorker::into_queues)
            .unwrap_or_default()
    }

    fn save_state(&self) -> serde_json::Value {
        serde_json::to_value(InputState {
            select: self.config.select,
            subsel: self.config.subsel,
        })
        .unwrap_or(serde_json::Value::Null)
    }

    fn restore_state(&mut self, state: &serde_json::Value) -> Result<(), VirtioError> {
        let state: InputState =
            serde_json::from_value(state.clone()).map_err(|e| VirtioError::BadState {
                device: self.name(),
                reason: e.to_string(),
            })?;
        self.config.select = state.select;
        self.config.subsel = state.subsel;
        Ok(())
    }
}

impl Drop for Input {
    fn drop(&mut self) {
        self.deactivate();
    }
}

#[cfg(test)]
mod tests;
