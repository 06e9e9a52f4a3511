//! The VM's status as the outside sees it: answered on the control socket,
//! broadcast as events, and written to the state file (atomically) so a
//! driver can tell a VMM that died (state still "running", pid gone).

use super::control::{Event, VmState, VmStatus};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

/// Shared status of one VM.
pub struct StatusBoard {
    status: Mutex<VmStatus>,
    subscribers: Mutex<Vec<Sender<Event>>>,
    state_file: Option<PathBuf>,
}

impl StatusBoard {
    /// A board for a VM that is starting.
    pub fn new(status: VmStatus, state_file: Option<PathBuf>) -> Self {
        let board = StatusBoard {
            status: Mutex::new(status),
            subscribers: Mutex::new(Vec::new()),
            state_file,
        };
        board.persist();
        board
    }

    /// The current status.
    pub fn get(&self) -> VmStatus {
        self.status
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records a new state, tells subscribers and rewrites the state file.
    pub fn set_state(&self, state: VmState, reason: Option<String>) {
        {
            let mut st = self.status.lock().unwrap_or_else(|e| e.into_inner());
            if st.state == state && st.reason == reason {
                return;
            }
            st.state = state;
            st.reason = reason.clone();
        }
        self.persist();
        let event = Event::State { state, reason };
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|s| s.send(event.clone()).is_ok());
    }

    /// Counts a new boot of the guest.
    pub fn boot_started(&self) {
        self.status.lock().unwrap_or_else(|e| e.into_inner()).boots += 1;
    }

    /// Events from now on.
    pub fn subscribe(&self) -> Receiver<Event> {
        let (tx, rx) = channel();
        self.subscribers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(tx);
        rx
    }

    fn persist(&self) {
        if let Some(path) = &self.state_file {
            let status = self.get();
            if let Ok(json) = serde_json::to_vec_pretty(&status) {
                // The state file is advisory: the socket is authoritative.
                let _ = write_atomic(path, &json);
            }
        }
    }
}

/// Writes `data` to `path` through a temporary file, fsync and rename.
pub fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let tmp = dir.join(format!(".{}.tmp", name.unwrap_or_default()));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(data)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    std::fs::File::open(dir)?.sync_all()
}

/// Reads a state file.
pub fn read_state_file(path: &Path) -> Option<VmStatus> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

/// Whether process `pid` exists.
pub fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: kill with signal 0 only checks whether the process exists.
    let ret = unsafe { libc::kill(pid, 0) };
    ret == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}
