//! The serial console's fan-out: guest output goes to an optional log file,
//! a 64 KiB history replayed to each new client, and every attached client;
//! client input goes to whichever serial device is current (the device is
//! rebuilt when the guest reboots, the hub stays).

use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex, Weak};

/// Bytes of output kept for clients that attach later.
pub const HISTORY_BYTES: usize = 64 * 1024;
/// Chunks queued per client before a slow client is dropped, so that it can
/// never stall the guest.
const CLIENT_QUEUE: usize = 1024;

/// Where typed console input goes.
pub trait ConsoleInput: Send + Sync {
    /// Queues `bytes` for the guest.
    fn input(&self, bytes: &[u8]);
}

struct HubInner {
    history: VecDeque<u8>,
    clients: Vec<SyncSender<Vec<u8>>>,
    log: Option<File>,
    input: Option<Weak<dyn ConsoleInput>>,
}

/// The console of one VM, shared by its serial device and control clients.
pub struct ConsoleHub {
    inner: Mutex<HubInner>,
}

impl ConsoleHub {
    /// A hub that also appends all output to `log`.
    pub fn new(log: Option<File>) -> Arc<ConsoleHub> {
        Arc::new(ConsoleHub {
            inner: Mutex::new(HubInner {
                history: VecDeque::with_capacity(HISTORY_BYTES),
                clients: Vec::new(),
                log,
                input: None,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubInner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Guest output.
    pub fn output(&self, bytes: &[u8]) {
        let mut inner = self.lock();
        if let Some(log) = inner.log.as_mut() {
            // A full disk must not stop the guest: the log is best effort.
            let _ = log.write_all(bytes);
        }
        let overflow = (inner.history.len() + bytes.len()).saturating_sub(HISTORY_BYTES);
        let drop_len = overflow.min(inner.history.len());
        inner.history.drain(..drop_len);
        let keep = bytes.len().min(HISTORY_BYTES);
        inner.history.extend(&bytes[bytes.len() - keep..]);
        inner.clients.retain(|c| match c.try_send(bytes.to_vec()) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => false,
        });
    }

    /// Attaches a client: the history so far and a stream of what follows.
    pub fn subscribe(&self) -> (Vec<u8>, Receiver<Vec<u8>>) {
        let mut inner = self.lock();
        let (tx, rx) = sync_channel(CLIENT_QUEUE);
        inner.clients.push(tx);
        (inner.history.iter().copied().collect(), rx)
    }

    /// Typed input from a client.
    pub fn input(&self, bytes: &[u8]) {
        let target = self.lock().input.as_ref().and_then(|w| w.upgrade());
        if let Some(target) = target {
            target.input(bytes);
        }
    }

    /// Sets the device that receives input.
    pub fn set_input(&self, target: Weak<dyn ConsoleInput>) {
        self.lock().input = Some(target);
    }
}

/// `Write` adapter handing serial output to the hub.
pub struct ConsoleWriter(pub Arc<ConsoleHub>);

impl Write for ConsoleWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.output(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_64k_and_clients_get_the_rest() {
        let hub = ConsoleHub::new(None);
        let big = vec![b'a'; HISTORY_BYTES];
        hub.output(&big);
        hub.output(b"tail");
        let (history, rx) = hub.subscribe();
        assert_eq!(history.len(), HISTORY_BYTES);
        assert!(history.ends_with(b"aatail"));
        hub.output(b"next");
        assert_eq!(rx.recv().expect("chunk"), b"next");
        let (_, rx2) = hub.subscribe();
        hub.output(b"both");
        assert_eq!(rx.recv().expect("chunk"), b"both");
        assert_eq!(rx2.recv().expect("chunk"), b"both");
    }
}
