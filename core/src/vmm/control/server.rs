//! The server side: an accept thread, a thread per client.

use super::{read_message, write_message, Event, Reply, Request, VmStatus};
use crate::vmm::console::ConsoleHub;
use crate::vmm::devices::virtio::balloon::BalloonControl;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// What the server needs from the machine.
pub trait ControlHandler: Send + Sync + 'static {
    /// The current status.
    fn status(&self) -> VmStatus;
    /// Carries out a lifecycle request (shutdown, reboot, reset, destroy,
    /// suspend, resume).
    fn command(&self, request: Request) -> Result<(), String>;
    /// The serial console.
    fn console(&self) -> Arc<ConsoleHub>;
    /// A stream of state changes from now on.
    fn subscribe(&self) -> Receiver<Event>;
    /// The virtio balloon, when the VM has one.
    fn balloon(&self) -> Option<BalloonControl> {
        None
    }
}

/// Why a balloon request cannot be served.
const NO_BALLOON: &str = "the VM has no virtio balloon; add <memballoon model='virtio'/> \
to its definition and start it again";
/// How long `memory-stats` waits for the guest's fresh figures.
const STATS_WAIT: Duration = Duration::from_secs(1);

/// Errors creating the socket.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Another process (a running VMM) answers on the path.
    #[error("control socket {0} is in use by another running VMM")]
    InUse(String),
    /// The path exists and is not a socket.
    #[error("control socket path {0} exists and is not a socket")]
    NotASocket(String),
    /// Binding or setting permissions failed.
    #[error("cannot create control socket {path}: {source}")]
    Io {
        /// The socket path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

/// How often a console's output thread checks whether its client has gone.
const CONSOLE_GONE_POLL: Duration = Duration::from_millis(200);

/// How long the server, when dropped, waits for the answers to lifecycle
/// requests already carried out to reach their clients.
const REPLY_FLUSH_WAIT: Duration = Duration::from_secs(2);

/// Lifecycle requests whose answer is not yet written. A request that ends
/// the VM (save, destroy) is answered from a client thread just as the VMM
/// returns from its run: without this count, the process could exit before
/// the answer leaves, and the client would see the connection close instead.
#[derive(Default)]
struct PendingReplies {
    count: Mutex<usize>,
    written: Condvar,
}

impl PendingReplies {
    fn lock(&self) -> std::sync::MutexGuard<'_, usize> {
        self.count.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn begin(&self) {
        *self.lock() += 1;
    }

    fn end(&self) {
        let mut count = self.lock();
        *count = count.saturating_sub(1);
        self.written.notify_all();
    }

    /// Waits until every answer is written, or `limit` has passed.
    fn wait(&self, limit: Duration) {
        let deadline = Instant::now() + limit;
        let mut count = self.lock();
        while *count > 0 {
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            count = self
                .written
                .wait_timeout(count, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
    }
}

/// A bound control socket; the file is removed when this is dropped.
pub struct ControlServer {
    path: PathBuf,
    pending: Arc<PendingReplies>,
    listener: Option<UnixListener>,
}

impl ControlServer {
    /// Binds `path` with mode 0600. A socket nobody answers on (left by a
    /// VMM that died) is replaced; a live one is refused.
    pub fn bind(path: &Path) -> Result<ControlServer, ServerError> {
        let shown = path.display().to_string();
        let io = |source| ServerError::Io {
            path: shown.clone(),
            source,
        };
        if let Ok(meta) = std::fs::symlink_metadata(path) {
            if !meta.file_type().is_socket() {
                return Err(ServerError::NotASocket(shown));
            }
            if UnixStream::connect(path).is_ok() {
                return Err(ServerError::InUse(shown));
            }
            std::fs::remove_file(path).map_err(io)?;
        }
        let listener = UnixListener::bind(path).map_err(io)?;
        let server = ControlServer {
            path: path.to_path_buf(),
            pending: Arc::default(),
            listener: Some(listener),
        };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        Ok(server)
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts answering clients with `handler`.
    pub fn serve(&mut self, handler: Arc<dyn ControlHandler>) -> Result<(), ServerError> {
        let Some(listener) = self.listener.take() else {
            return Ok(());
        };
        let pending = Arc::clone(&self.pending);
        std::thread::Builder::new()
            .name("control".into())
            .spawn(move || {
                for stream in listener.incoming().flatten() {
                    let handler = Arc::clone(&handler);
                    let pending = Arc::clone(&pending);
                    let _ = std::thread::Builder::new()
                        .name("control-client".into())
                        .spawn(move || serve_client(stream, handler, &pending));
                }
            })
            .map_err(|source| ServerError::Io {
                path: self.path.display().to_string(),
                source,
            })?;
        Ok(())
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.pending.wait(REPLY_FLUSH_WAIT);
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve_client(
    mut stream: UnixStream,
    handler: Arc<dyn ControlHandler>,
    pending: &PendingReplies,
) {
    let request: Request = match read_message(&mut stream) {
        Ok(r) => r,
        Err(e) => {
            let _ = write_message(&mut stream, &Reply::Error(e.to_string()));
            return;
        }
    };
    match request {
        Request::Status => {
            let _ = write_message(&mut stream, &Reply::Status(handler.status()));
        }
        Request::Console => {
            // Subscribe before replying, so no output falls in between.
            let hub = handler.console();
            let (history, output) = hub.subscribe();
            if write_message(&mut stream, &Reply::Ok).is_ok() {
                console_session(stream, hub, history, output);
            }
        }
        Request::Events => {
            let events = handler.subscribe();
            if write_message(&mut stream, &Reply::Ok).is_ok() {
                for event in events {
                    if write_message(&mut stream, &event).is_err() {
                        break;
                    }
                }
            }
        }
        Request::SetMemory { kib } => {
            let reply = match handler.balloon() {
                Some(balloon) => match balloon.set_guest_memory(kib) {
                    Ok(()) => Reply::Ok,
                    Err(e) => Reply::Error(e.to_string()),
                },
                None => Reply::Error(NO_BALLOON.into()),
            };
            let _ = write_message(&mut stream, &reply);
        }
        Request::MemoryStats => {
            let reply = match handler.balloon() {
                Some(balloon) => Reply::Memory(balloon.report(STATS_WAIT)),
                None => Reply::Error(NO_BALLOON.into()),
            };
            let _ = write_message(&mut stream, &reply);
        }
        other => {
            pending.begin();
            let reply = match handler.command(other) {
                Ok(()) => Reply::Ok,
                Err(e) => Reply::Error(e),
            };
            let _ = write_message(&mut stream, &reply);
            pending.end();
        }
    }
}

/// Replays the history, then copies output to the client and its input to
/// the guest until the client leaves.
fn console_session(
    stream: UnixStream,
    hub: Arc<ConsoleHub>,
    history: Vec<u8>,
    output: Receiver<Vec<u8>>,
) {
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    // Set when the client has gone: without it the output thread would
    // only notice at its next failed write, which waits for guest output.
    let gone = Arc::new(AtomicBool::new(false));
    let gone_seen = Arc::clone(&gone);
    let _ = std::thread::Builder::new()
        .name("console-out".into())
        .spawn(move || {
            if writer.write_all(&history).is_err() {
                return;
            }
            loop {
                match output.recv_timeout(CONSOLE_GONE_POLL) {
                    Ok(chunk) => {
                        if writer.write_all(&chunk).is_err() {
                            break;
                        }
                    }
                    Err(RecvTimeoutError::Timeout) if !gone_seen.load(Ordering::Acquire) => {}
                    Err(_) => break,
                }
            }
        });
    let mut reader = stream;
    let mut buf = [0u8; 4096];
    loop {
        match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => hub.input(&buf[..n]),
        }
    }
    gone.store(true, Ordering::Release);
    let _ = reader.shutdown(std::net::Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_live_socket_and_replaces_a_stale_one() {
        let dir = std::env::temp_dir().join(format!("hangar-ctl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("vm.sock");
        let first = ControlServer::bind(&path).expect("bind");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(matches!(
            ControlServer::bind(&path),
            Err(ServerError::InUse(_))
        ));
        drop(first);
        // A socket file nobody listens on any more (its VMM died) is stale.
        let stale = dir.join("stale.sock");
        drop(UnixListener::bind(&stale).expect("listener"));
        assert!(stale.exists());
        ControlServer::bind(&stale).expect("stale socket replaced");
        let other = dir.join("file");
        std::fs::write(&other, b"x").expect("file");
        assert!(matches!(
            ControlServer::bind(&other),
            Err(ServerError::NotASocket(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn answers_in_flight_are_awaited_and_a_stuck_one_is_given_up_on() {
        let pending = Arc::new(PendingReplies::default());
        pending.begin();
        let writer = {
            let pending = Arc::clone(&pending);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(50));
                pending.end();
            })
        };
        pending.wait(Duration::from_secs(30));
        assert_eq!(
            *pending.lock(),
            0,
            "the answer was written before wait returned"
        );
        writer.join().expect("writer");
        // An answer that never comes does not keep the VMM alive.
        pending.begin();
        pending.wait(Duration::from_millis(20));
        assert_eq!(*pending.lock(), 1);
    }

    struct Fake {
        board: crate::vmm::status::StatusBoard,
        hub: Arc<ConsoleHub>,
        commands: std::sync::Mutex<Vec<Request>>,
        balloon: Option<BalloonControl>,
    }

    impl ControlHandler for Fake {
        fn status(&self) -> VmStatus {
            self.board.get()
        }
        fn command(&self, request: Request) -> Result<(), String> {
            self.commands.lock().expect("lock").push(request.clone());
            if request == Request::Resume {
                return Err("the VM is not paused".into());
            }
            Ok(())
        }
        fn console(&self) -> Arc<ConsoleHub> {
            Arc::clone(&self.hub)
        }
        fn subscribe(&self) -> Receiver<Event> {
            self.board.subscribe()
        }
        fn balloon(&self) -> Option<BalloonControl> {
            self.balloon.clone()
        }
    }

    struct Typed(std::sync::Mutex<Vec<u8>>);
    impl crate::vmm::console::ConsoleInput for Typed {
        fn input(&self, bytes: &[u8]) {
            self.0.lock().expect("lock").extend_from_slice(bytes);
        }
    }

    #[test]
    fn serves_status_commands_events_and_console() {
        use crate::vmm::control::{request, VmState};
        let dir = std::env::temp_dir().join(format!("hangar-ctl2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("vm.sock");
        let status = VmStatus {
            name: "t".into(),
            pid: std::process::id(),
            state: VmState::Running,
            reason: None,
            boots: 1,
            vcpus: 2,
            memory_mib: 256,
            vnc: None,
        };
        let fake = Arc::new(Fake {
            board: crate::vmm::status::StatusBoard::new(status.clone(), None),
            hub: ConsoleHub::new(None),
            commands: std::sync::Mutex::new(Vec::new()),
            balloon: None,
        });
        let typed = Arc::new(Typed(std::sync::Mutex::new(Vec::new())));
        let input: Arc<dyn crate::vmm::console::ConsoleInput> = typed.clone();
        fake.hub.set_input(Arc::downgrade(&input));
        fake.hub.output(b"boot messages\n");
        let mut server = ControlServer::bind(&path).expect("bind");
        server.serve(fake.clone()).expect("serve");

        let (reply, _) = request(&path, Request::Status).expect("status");
        assert_eq!(reply, Reply::Status(status));
        let (reply, _) = request(&path, Request::Suspend).expect("suspend");
        assert_eq!(reply, Reply::Ok);
        let (reply, _) = request(&path, Request::Resume).expect("resume");
        assert_eq!(reply, Reply::Error("the VM is not paused".into()));
        assert_eq!(
            *fake.commands.lock().expect("lock"),
            vec![Request::Suspend, Request::Resume]
        );

        let (reply, mut events) = request(&path, Request::Events).expect("events");
        assert_eq!(reply, Reply::Ok);
        // The subscription exists once the reply is sent.
        fake.board
            .set_state(VmState::Paused, Some("suspended".into()));
        let event: Event = read_message(&mut events).expect("event");
        assert_eq!(
            event,
            Event::State {
                state: VmState::Paused,
                reason: Some("suspended".into())
            }
        );

        let (reply, mut console) = request(&path, Request::Console).expect("console");
        assert_eq!(reply, Reply::Ok);
        let mut replay = vec![0u8; 14];
        console.read_exact(&mut replay).expect("history");
        assert_eq!(replay, b"boot messages\n");
        console.write_all(b"ls\n").expect("type");
        fake.hub.output(b"bin\n");
        let mut live = [0u8; 4];
        console.read_exact(&mut live).expect("live output");
        assert_eq!(&live, b"bin\n");
        for _ in 0..200 {
            if typed.0.lock().expect("lock").as_slice() == b"ls\n" {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        assert_eq!(typed.0.lock().expect("lock").as_slice(), b"ls\n");
        drop(server);
        assert!(!path.exists());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn set_memory_and_memory_stats_reach_the_balloon() {
        use crate::vmm::control::{request, VmState};
        use crate::vmm::devices::virtio::balloon::Balloon;
        let dir = std::env::temp_dir().join(format!("hangar-ctl3-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let status = VmStatus {
            name: "t".into(),
            pid: std::process::id(),
            state: VmState::Running,
            reason: None,
            boots: 1,
            vcpus: 1,
            memory_mib: 256,
            vnc: None,
        };
        let balloon = Balloon::new(256 << 20, false).expect("balloon");
        let serve = |name: &str, balloon: Option<BalloonControl>| {
            let path = dir.join(name);
            let mut server = ControlServer::bind(&path).expect("bind");
            let fake = Arc::new(Fake {
                board: crate::vmm::status::StatusBoard::new(status.clone(), None),
                hub: ConsoleHub::new(None),
                commands: std::sync::Mutex::new(Vec::new()),
                balloon,
            });
            server.serve(fake).expect("serve");
            (server, path)
        };
        let (_with, path) = serve("with.sock", Some(balloon.control()));
        let (reply, _) = request(&path, Request::SetMemory { kib: 128 << 10 }).expect("request");
        assert_eq!(reply, Reply::Ok);
        let (reply, _) = request(&path, Request::SetMemory { kib: 1 << 30 }).expect("request");
        assert!(matches!(reply, Reply::Error(e) if e.contains("262144 KiB")));
        let (reply, _) = request(&path, Request::MemoryStats).expect("request");
        match reply {
            Reply::Memory(report) => {
                assert_eq!(report.target_kib, 128 << 10);
                assert_eq!(report.actual_kib, 256 << 10);
            }
            other => panic!("unexpected {other:?}"),
        }
        let (_without, path) = serve("without.sock", None);
        let (reply, _) = request(&path, Request::MemoryStats).expect("request");
        assert!(matches!(reply, Reply::Error(e) if e.contains("memballoon")));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
