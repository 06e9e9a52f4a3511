//! The thread that serves a card's queues: it sleeps in epoll on the tap,
//! the receive and transmit queue eventfds and a stop eventfd, so frames
//! move without ever running on a vCPU thread.

use std::io::ErrorKind;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use virtio_queue::QueueT;
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::EventFd;

use super::rings::{receive_frame, transmit_chain, RxOutcome, MAX_FRAME};
use super::tap::{Tap, VNET_HDR_LEN};
use crate::vmm::devices::virtio::{ActiveQueue, InterruptCause, VirtioInterrupt};

const STOP: u64 = 0;
const TAP: u64 = 1;
const RX_KICK: u64 = 2;
const TX_KICK: u64 = 3;

/// Everything the worker owns while the card is active.
pub(super) struct NetWorker {
    pub memory: GuestMemoryMmap,
    pub rx: ActiveQueue,
    pub tx: ActiveQueue,
    pub mergeable: bool,
    pub tap: Arc<Tap>,
    pub link_up: Arc<AtomicBool>,
    pub interrupt: Arc<dyn VirtioInterrupt>,
    pub stop: EventFd,
}

/// Receive-side state kept between wake-ups.
struct RxState {
    /// A frame read from the tap that waits for guest buffers.
    pending: Option<usize>,
    buf: Vec<u8>,
    /// Whether epoll listens to the tap (off while the guest has no buffers).
    tap_armed: bool,
}

impl NetWorker {
    /// Serves the queues until stopped; gives them back with their positions.
    pub fn run(mut self) -> Vec<ActiveQueue> {
        if let Err(e) = self.serve() {
            eprintln!(
                "hangar-vmm: virtio-net on {}: the worker stopped: {e}",
                self.tap.name()
            );
        }
        vec![self.rx, self.tx]
    }

    fn serve(&mut self) -> std::io::Result<()> {
        let epoll = Epoll::new()?;
        let watch = |fd: i32, token: u64| {
            epoll.ctl(
                ControlOperation::Add,
                fd,
                EpollEvent::new(EventSet::IN, token),
            )
        };
        watch(self.stop.as_raw_fd(), STOP)?;
        watch(self.tap.as_raw_fd(), TAP)?;
        watch(self.rx.notify.as_raw_fd(), RX_KICK)?;
        watch(self.tx.notify.as_raw_fd(), TX_KICK)?;
        let mut rx = RxState {
            pending: None,
            buf: vec![0; MAX_FRAME],
            tap_armed: true,
        };
        let mut tx_buf = vec![0u8; MAX_FRAME];
        // Buffers the driver queued before activation (a restore) are
        // served at once.
        self.transmit(&mut tx_buf);
        self.receive(&epoll, &mut rx)?;
        let mut events = vec![EpollEvent::default(); 8];
        loop {
            let n = match epoll.wait(-1, &mut events) {
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            for event in &events[..n] {
                match event.data() {
                    STOP => return Ok(()),
                    RX_KICK => {
                        drain(&self.rx.notify);
                        self.receive(&epoll, &mut rx)?;
                    }
                    TX_KICK => {
                        drain(&self.tx.notify);
                        self.transmit(&mut tx_buf);
                    }
                    TAP => self.receive(&epoll, &mut rx)?,
                    _ => {}
                }
            }
        }
    }

    /// Moves frames from the tap into the guest until either runs dry.
    fn receive(&mut self, epoll: &Epoll, rx: &mut RxState) -> std::io::Result<()> {
        let mut used = false;
        loop {
            let len = match rx.pending.take() {
                Some(len) => len,
                None => match self.tap.read_frame(&mut rx.buf) {
                    Ok(len) => len,
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                },
            };
            if len < VNET_HDR_LEN || !self.link_up.load(Ordering::Acquire) {
                // A cable pulled out: frames fall on the floor.
                continue;
            }
            let frame = &mut rx.buf[..len];
            match receive_frame(&mut self.rx.queue, &self.memory, frame, self.mergeable) {
                RxOutcome::Delivered(_) => used = true,
                RxOutcome::Dropped(_) => used = true,
                RxOutcome::NoBuffers => {
                    rx.pending = Some(len);
                    break;
                }
            }
        }
        // Stop listening to the tap while a frame waits for buffers (the
        // next receive kick re-arms it), or epoll would spin.
        let want_tap = rx.pending.is_none();
        if want_tap != rx.tap_armed {
            let events = if want_tap {
                EventSet::IN
            } else {
                EventSet::empty()
            };
            epoll.ctl(
                ControlOperation::Modify,
                self.tap.as_raw_fd(),
                EpollEvent::new(events, TAP),
            )?;
            rx.tap_armed = want_tap;
        }
        if used {
            self.notify(true);
        }
        Ok(())
    }

    /// Sends every frame the guest queued.
    fn transmit(&mut self, buf: &mut [u8]) {
        let mut used = false;
        while let Some(chain) = self.tx.queue.pop_descriptor_chain(&self.memory) {
            let head = chain.head_index();
            // A malformed chain or a frame the tap refuses (full, down) is
            // dropped, as a real card drops; the buffer still goes back.
            if let Ok(len) = transmit_chain(&self.memory, chain, buf) {
                if self.link_up.load(Ordering::Acquire) {
                    let _ = self.tap.write_frame(&buf[..len]);
                }
            }
            let _ = self.tx.queue.add_used(&self.memory, head, 0);
            used = true;
        }
        if used {
            self.notify(false);
        }
    }

    /// Interrupts the guest for the receive (or transmit) queue, if it
    /// wants to hear.
    fn notify(&mut self, receive: bool) {
        let queue = if receive { &mut self.rx } else { &mut self.tx };
        if queue.queue.needs_notification(&self.memory).unwrap_or(true) {
            if let Err(e) = self.interrupt.trigger(InterruptCause::Queue(queue.index)) {
                eprintln!("hangar-vmm: virtio-net on {}: {e}", self.tap.name());
            }
        }
    }
}

/// Empties an eventfd (non-blocking or not: it was readable).
fn drain(fd: &EventFd) {
    let _ = fd.read();
}
