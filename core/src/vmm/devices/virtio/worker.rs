//! A device worker thread: waits on its queues' notification eventfds
//! (the guest's kicks, delivered by KVM ioeventfds) and calls the device's
//! handler for each kick, until it is asked to stop; then it hands its
//! state (queues included) back so the device can be deactivated, reset
//! or saved without losing ring positions.

use std::io;
use std::os::fd::AsRawFd;
use std::thread::JoinHandle;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::EventFd;

/// Token of the stop eventfd in the epoll set (queues use their position).
const STOP: u64 = u64::MAX;

/// A running worker owning a `T`.
pub struct Worker<T: Send + 'static> {
    stop: EventFd,
    handle: Option<JoinHandle<T>>,
}

impl<T: Send + 'static> Worker<T> {
    /// Starts thread `name`. `notify(state)` lists the eventfds to wait on
    /// (read once at start); `on_kick(state, i)` runs after the `i`-th of
    /// them was signalled (and drained).
    pub fn spawn(
        name: String,
        mut state: T,
        notify: impl Fn(&T) -> Vec<&EventFd>,
        mut on_kick: impl FnMut(&mut T, usize) + Send + 'static,
    ) -> io::Result<Self> {
        let stop = EventFd::new(libc::EFD_NONBLOCK)?;
        let epoll = Epoll::new()?;
        epoll.ctl(
            ControlOperation::Add,
            stop.as_raw_fd(),
            EpollEvent::new(EventSet::IN, STOP),
        )?;
        let fds: Vec<EventFd> = notify(&state)
            .into_iter()
            .map(EventFd::try_clone)
            .collect::<io::Result<_>>()?;
        for (i, fd) in fds.iter().enumerate() {
            epoll.ctl(
                ControlOperation::Add,
                fd.as_raw_fd(),
                EpollEvent::new(EventSet::IN, i as u64),
            )?;
        }
        let stop_for_thread = stop.try_clone()?;
        let handle = std::thread::Builder::new().name(name).spawn(move || {
            // Kicks that came before the thread started are in the rings.
            for i in 0..fds.len() {
                on_kick(&mut state, i);
            }
            let mut events = vec![EpollEvent::default(); fds.len() + 1];
            loop {
                let n = match epoll.wait(-1, &mut events) {
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        eprintln!("hangar-vmm: virtio worker: epoll: {e}");
                        // Without epoll the worker can only wait to be stopped.
                        let _ = stop_for_thread.read();
                        return state;
                    }
                };
                for ev in &events[..n] {
                    let token = ev.data();
                    if token == STOP {
                        return state;
                    }
                    if let Some(fd) = fds.get(token as usize) {
                        let _ = fd.read();
                        on_kick(&mut state, token as usize);
                    }
                }
            }
        })?;
        Ok(Worker {
            stop,
            handle: Some(handle),
        })
    }

    /// Stops the thread and returns its state (None if it panicked).
    pub fn stop(mut self) -> Option<T> {
        let _ = self.stop.write(1);
        self.handle.take().and_then(|h| h.join().ok())
    }
}

impl<T: Send + 'static> Drop for Worker<T> {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = self.stop.write(1);
            let _ = h.join();
        }
    }
}
