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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A worker whose kick handler takes `handler_time`, counting the
    /// kicks it finished; `started` hears each kick as it begins.
    fn slow_worker(
        handler_time: Duration,
    ) -> (Worker<(EventFd, u32)>, EventFd, mpsc::Receiver<()>) {
        let kick = EventFd::new(libc::EFD_NONBLOCK).expect("eventfd");
        let theirs = kick.try_clone().expect("clone");
        let (started_tx, started) = mpsc::channel();
        let worker = Worker::spawn(
            "test".into(),
            (theirs, 0u32),
            |(fd, _)| vec![fd],
            move |(_, done), _| {
                let _ = started_tx.send(());
                std::thread::sleep(handler_time);
                *done += 1;
            },
        )
        .expect("worker");
        (worker, kick, started)
    }

    #[test]
    fn stopping_lets_the_request_in_flight_finish_and_takes_no_new_one() {
        let (worker, kick, started) = slow_worker(Duration::from_millis(200));
        // The pass over the queues at start.
        started
            .recv_timeout(Duration::from_secs(5))
            .expect("first pass");
        // A kick arrives while that pass is still running, then the stop.
        kick.write(1).expect("kick");
        let (_, done) = worker.stop().expect("the thread hands its state back");
        // The pass in flight completed; the kick queued behind the stop
        // request may or may not have been taken, but never half-done.
        assert!(done >= 1, "the request in flight finished");
        assert!(done <= 2);
        // Nothing runs after the stop.
        kick.write(1).expect("kick after stop");
        std::thread::sleep(Duration::from_millis(50));
        let mut seen = 0;
        while started.try_recv().is_ok() {
            seen += 1;
        }
        assert_eq!(seen, done - 1, "every handler that began also finished");
    }

    #[test]
    fn a_worker_serves_kicks_until_stopped_and_then_is_gone() {
        let (worker, kick, started) = slow_worker(Duration::ZERO);
        started.recv_timeout(Duration::from_secs(5)).expect("start");
        for _ in 0..3 {
            kick.write(1).expect("kick");
            started
                .recv_timeout(Duration::from_secs(5))
                .expect("kick served");
        }
        let (_, done) = worker.stop().expect("state");
        assert_eq!(done, 4, "the start pass and three kicks");
        kick.write(1).expect("kick");
        assert!(started.recv_timeout(Duration::from_millis(50)).is_err());
    }
}
