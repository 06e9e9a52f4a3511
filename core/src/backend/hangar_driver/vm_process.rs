//! Running domains: one detached `hangar-vmm` process per VM.
//!
//! Everything about a running domain lives in the driver's runtime dir under
//! `domains/`: `NAME.xml` (the live definition the VMM was started with),
//! `NAME.sock` (its control socket), `NAME.json` (the state file the VMM
//! keeps), `NAME.log` (its output) and `NAME.id` (the virsh-style id). The
//! VMM runs in its own session, so it outlives the app or `hangarctl` that
//! started it; a later connection finds it again through these files.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::api::{ApiError, DomainEvent, DomainState, Event, EventSink};
use crate::backend::store::atomic::{remove_durable, write_atomic};
use crate::vmm::control::{self, Reply, Request, VmState, VmStatus};
use crate::vmm::machine::{RESTORED_REASON, SAVED_REASON};
use crate::vmm::status::{process_alive, read_state_file};

/// How long a new VMM may take to build its VM before start gives up.
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a VMM may take to load a snapshot (all of guest memory).
const RESTORE_TIMEOUT: Duration = Duration::from_secs(300);
/// How long `destroy` waits for the VMM to end.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(20);
/// How much of the VMM's log a failed start quotes.
const LOG_TAIL: usize = 2000;

/// The files of running domains, under `<runtime>/domains`.
#[derive(Debug, Clone)]
pub struct VmFiles {
    pub(super) dir: PathBuf,
}

impl VmFiles {
    /// The folder for the driver whose runtime dir is `runtime`.
    pub fn new(runtime: &Path) -> Self {
        VmFiles {
            dir: runtime.join("domains"),
        }
    }

    fn file(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{name}.{ext}"))
    }

    /// The live definition.
    pub fn xml(&self, name: &str) -> PathBuf {
        self.file(name, "xml")
    }

    /// The control socket.
    pub fn socket(&self, name: &str) -> PathBuf {
        self.file(name, "sock")
    }

    /// The VMM's state file.
    pub fn state(&self, name: &str) -> PathBuf {
        self.file(name, "json")
    }

    /// The VMM's output.
    pub fn log(&self, name: &str) -> PathBuf {
        self.file(name, "log")
    }

    fn id(&self, name: &str) -> PathBuf {
        self.file(name, "id")
    }

    /// The taps made for the domain's NICs (one name a line).
    pub fn taps(&self, name: &str) -> PathBuf {
        self.file(name, "taps")
    }

    /// Names of domains with a tap record (running, or stopped with taps
    /// still to remove).
    pub fn names_with_taps(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                let name = file.strip_suffix(".taps")?;
                (!name.starts_with('.')).then(|| name.to_string())
            })
            .collect()
    }

    /// Names of domains that have a live definition here (running, or
    /// ended but not cleaned up).
    pub fn names(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| {
                let file = e.file_name().to_string_lossy().into_owned();
                let name = file.strip_suffix(".xml")?;
                (!name.starts_with('.')).then(|| name.to_string())
            })
            .collect();
        names.sort();
        names
    }
}

/// What the runtime files say about one domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunState {
    /// virsh's state.
    pub state: DomainState,
    /// virsh's reason word (`domstate --reason`).
    pub reason: String,
    /// The running id, while active.
    pub id: Option<u32>,
    /// The VMM's status when a state file exists.
    pub status: Option<VmStatus>,
}

impl RunState {
    /// Whether a VMM is running this domain.
    pub fn is_active(&self) -> bool {
        self.state.is_active()
    }
}

/// Whether `pid` is the VMM serving `socket` (not a reused pid).
fn is_our_vmm(pid: u32, socket: &Path) -> bool {
    if !process_alive(pid) {
        return false;
    }
    match std::fs::read(format!("/proc/{pid}/cmdline")) {
        Ok(cmdline) => {
            let want = socket.as_os_str().as_encoded_bytes();
            cmdline.split(|b| *b == 0).any(|arg| arg == want)
        }
        // Without /proc the pid check alone has to do.
        Err(_) => true,
    }
}

/// Reads the state of domain `name` from its runtime files.
pub fn run_state(files: &VmFiles, name: &str) -> RunState {
    let shutoff = |reason: &str, status| RunState {
        state: DomainState::Shutoff,
        reason: reason.to_string(),
        id: None,
        status,
    };
    let Some(status) = read_state_file(&files.state(name)) else {
        return shutoff("unknown", None);
    };
    let alive = is_our_vmm(status.pid, &files.socket(name));
    let id = || {
        std::fs::read_to_string(files.id(name))
            .ok()
            .and_then(|s| s.trim().parse().ok())
    };
    match status.state {
        VmState::Starting | VmState::Running if alive => RunState {
            state: DomainState::Running,
            reason: match status.reason.as_deref() {
                Some(RESTORED_REASON) => "restored",
                _ => "booted",
            }
            .to_string(),
            id: id(),
            status: Some(status),
        },
        VmState::Paused if alive => RunState {
            state: DomainState::Paused,
            reason: "user".to_string(),
            id: id(),
            status: Some(status),
        },
        // Still "running" in the file but the process is gone: it died.
        VmState::Starting | VmState::Running | VmState::Paused | VmState::Crashed => RunState {
            state: DomainState::Crashed,
            reason: "unknown".to_string(),
            id: None,
            status: Some(status),
        },
        VmState::Shutoff => {
            let reason = match status.reason.as_deref() {
                Some("destroyed") => "destroyed",
                Some(SAVED_REASON) => "saved",
                Some(r)
                    if r.starts_with("guest powered off") || r.starts_with("guest rebooted") =>
                {
                    "shutdown"
                }
                _ => "unknown",
            };
            shutoff(reason, Some(status))
        }
    }
}

/// The `hangar-vmm` to run: `HANGAR_VMM`, else the one next to this program.
pub fn vmm_binary() -> Result<PathBuf, ApiError> {
    if let Some(path) = std::env::var_os("HANGAR_VMM") {
        return Ok(PathBuf::from(path));
    }
    let exe = std::env::current_exe()
        .map_err(|e| ApiError::Internal(format!("cannot find the running program: {e}")))?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    // Test binaries live in target/*/deps, one level below hangar-vmm.
    if !dir.join("hangar-vmm").exists() && dir.ends_with("deps") {
        dir.pop();
    }
    let vmm = dir.join("hangar-vmm");
    if !vmm.exists() {
        return Err(ApiError::Internal(format!(
            "cannot find hangar-vmm next to {} (set HANGAR_VMM to its path)",
            exe.display()
        )));
    }
    Ok(vmm)
}

fn io_err<'a>(op: &str, path: &'a Path) -> impl Fn(std::io::Error) -> ApiError + 'a {
    let op = op.to_string();
    move |e| ApiError::io(op.clone(), path, &e)
}

/// Removes what a domain's earlier run left (never a live VMM's files).
pub fn clear_leftovers(files: &VmFiles, name: &str) -> Result<(), ApiError> {
    for path in [files.state(name), files.id(name), files.xml(name)] {
        remove_durable(&path).map_err(io_err("cannot remove file", &path))?;
    }
    Ok(())
}

/// The next virsh-style id (1, 2, ... for the runtime dir's lifetime).
fn allocate_id(files: &VmFiles) -> Result<u32, ApiError> {
    let counter = files.dir.join(".next-id");
    let id = std::fs::read_to_string(&counter)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1);
    write_atomic(&counter, format!("{}\n", id + 1).as_bytes(), 0o600)
        .map_err(io_err("cannot write file", &counter))?;
    Ok(id)
}

/// Starts `hangar-vmm` for domain `name` with the canonical definition
/// `xml` and waits until its VM runs; with `netns`, inside the user and
/// network namespace of that holder pid (session networks' taps live
/// there). On failure nothing is left running and the error quotes the
/// VMM's message.
pub fn start(
    files: &VmFiles,
    name: &str,
    xml: &str,
    vmm: &Path,
    netns: Option<u32>,
) -> Result<u32, ApiError> {
    start_vmm(files, name, xml, vmm, netns, None)
}

/// Like [`start`], but the VMM resumes the VM saved in `snapshot` (whose
/// domain XML is `xml`) instead of booting it.
pub fn start_restored(
    files: &VmFiles,
    name: &str,
    xml: &str,
    vmm: &Path,
    netns: Option<u32>,
    snapshot: &Path,
) -> Result<u32, ApiError> {
    start_vmm(files, name, xml, vmm, netns, Some(snapshot))
}

fn start_vmm(
    files: &VmFiles,
    name: &str,
    xml: &str,
    vmm: &Path,
    netns: Option<u32>,
    snapshot: Option<&Path>,
) -> Result<u32, ApiError> {
    std::fs::create_dir_all(&files.dir).map_err(io_err("cannot create directory", &files.dir))?;
    clear_leftovers(files, name)?;
    let xml_path = files.xml(name);
    write_atomic(&xml_path, xml.as_bytes(), 0o600)
        .map_err(io_err("cannot write file", &xml_path))?;
    let result = spawn_and_wait(files, name, vmm, netns, snapshot);
    if result.is_err() {
        let _ = clear_leftovers(files, name);
    }
    result
}

fn spawn_and_wait(
    files: &VmFiles,
    name: &str,
    vmm: &Path,
    netns: Option<u32>,
    snapshot: Option<&Path>,
) -> Result<u32, ApiError> {
    let log_path = files.log(name);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(io_err("cannot open file", &log_path))?;
    let log_start = log.metadata().map(|m| m.len()).unwrap_or(0);
    let log_err = log
        .try_clone()
        .map_err(io_err("cannot open file", &log_path))?;
    // nsenter execs the VMM in place (no fork: no pid namespace is
    // entered), so the pid we wait for is the VMM's; keeping our
    // credentials makes us the namespace's root (mapped to the user).
    let mut command = match netns {
        Some(pid) => {
            let mut c = std::process::Command::new("nsenter");
            c.arg(format!("--target={pid}"))
                .args(["--user", "--net", "--preserve-credentials", "--"])
                .arg(vmm);
            c
        }
        None => std::process::Command::new(vmm),
    };
    command
        .arg("run")
        .arg("--domain")
        .arg(files.xml(name))
        .arg("--socket")
        .arg(files.socket(name))
        .arg("--state-file")
        .arg(files.state(name));
    if let Some(snapshot) = snapshot {
        command.arg("--restore").arg(snapshot);
    }
    command.stdin(Stdio::null()).stdout(log).stderr(log_err);
    // SAFETY: setsid is async-signal-safe and touches no memory of the
    // parent; it puts the VMM in its own session so it outlives us.
    unsafe {
        command.pre_exec(|| {
            if libc::setsid() == -1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command
        .spawn()
        .map_err(|e| ApiError::Internal(format!("cannot run {}: {e}", vmm.display())))?;
    let began = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(_)) => {
                let tail = log_tail(&log_path, log_start);
                return Err(ApiError::Internal(format!(
                    "hangar-vmm exited while starting the domain: {tail}"
                )));
            }
            Ok(None) => {}
            Err(e) => {
                return Err(ApiError::Internal(format!(
                    "cannot wait for hangar-vmm: {e}"
                )))
            }
        }
        if let Some(status) = read_state_file(&files.state(name)) {
            let ready = matches!(status.state, VmState::Running | VmState::Paused)
                && status.pid == child.id()
                && files.socket(name).exists();
            if ready {
                if let Some(vnc) = &status.vnc {
                    let xml_path = files.xml(name);
                    let live = std::fs::read_to_string(&xml_path)
                        .ok()
                        .and_then(|xml| super::live_display::with_vnc_port(&xml, vnc));
                    if let Some(live) = live {
                        write_atomic(&xml_path, live.as_bytes(), 0o600)
                            .map_err(io_err("cannot write file", &xml_path))?;
                    }
                }
                let id = allocate_id(files)?;
                let id_path = files.id(name);
                write_atomic(&id_path, format!("{id}\n").as_bytes(), 0o600)
                    .map_err(io_err("cannot write file", &id_path))?;
                reap_in_background(child);
                return Ok(id);
            }
        }
        let timeout = if snapshot.is_some() {
            RESTORE_TIMEOUT
        } else {
            START_TIMEOUT
        };
        if began.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            return Err(ApiError::Internal(format!(
                "hangar-vmm did not start the domain within {} s: {}",
                timeout.as_secs(),
                log_tail(&log_path, log_start)
            )));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the VMM in a thread so a long-lived app leaves no zombie; a
/// short-lived `hangarctl` simply leaves it to init.
fn reap_in_background(mut child: Child) {
    let _ = std::thread::Builder::new()
        .name("vmm-reaper".into())
        .spawn(move || {
            let _ = child.wait();
        });
}

/// The VMM's output since `from`, trimmed to its last lines.
fn log_tail(path: &Path, from: u64) -> String {
    let mut text = String::new();
    if let Ok(mut file) = std::fs::File::open(path) {
        if file.seek(SeekFrom::Start(from)).is_ok() {
            let _ = file.read_to_string(&mut text);
        }
    }
    let text = text.trim();
    let start = text.len().saturating_sub(LOG_TAIL);
    let start = (start..text.len())
        .find(|i| text.is_char_boundary(*i))
        .unwrap_or(text.len());
    let lines: Vec<&str> = text[start..]
        .lines()
        .map(|l| l.trim().trim_start_matches("hangar-vmm: error: "))
        .filter(|l| !l.is_empty())
        .collect();
    if lines.is_empty() {
        "no output".to_string()
    } else {
        lines.join("; ")
    }
}

/// CPU time the VMM process `pid` used so far (its vCPU threads included).
pub fn cpu_time_ns(pid: u32) -> u64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return 0;
    };
    // The command name may hold spaces; the fields start after its ')'.
    let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line.
    let ticks: u64 = fields
        .get(11..13)
        .map(|f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum())
        .unwrap_or(0);
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let hz = u64::try_from(hz).ok().filter(|h| *h > 0).unwrap_or(100);
    ticks.saturating_mul(1_000_000_000 / hz)
}

/// Sends a lifecycle request to a running domain's VMM.
pub fn request(files: &VmFiles, name: &str, req: Request) -> Result<(), ApiError> {
    match control::request(&files.socket(name), req) {
        Ok((Reply::Ok, _)) | Ok((Reply::Status(_), _)) | Ok((Reply::Memory(_), _)) => Ok(()),
        Ok((Reply::Error(message), _)) => Err(ApiError::OperationInvalid(message)),
        Err(e) => Err(ApiError::Internal(format!(
            "cannot reach the VMM of domain '{name}': {e}"
        ))),
    }
}

/// Destroys a running domain and waits for its VMM to end.
pub fn destroy(files: &VmFiles, name: &str) -> Result<(), ApiError> {
    let pid = read_state_file(&files.state(name)).map(|s| s.pid);
    request(files, name, Request::Destroy)?;
    wait_for_end(files, name, pid)
}

/// Asks a running domain's VMM to save the VM to `path` (absolute) and
/// waits for it to end. A failed save leaves the domain running.
pub fn save(files: &VmFiles, name: &str, path: &Path) -> Result<(), ApiError> {
    let pid = read_state_file(&files.state(name)).map(|s| s.pid);
    let save = Request::Save {
        path: path.to_path_buf(),
    };
    match control::request(&files.socket(name), save) {
        Ok((Reply::Error(message), _)) => return Err(ApiError::Internal(message)),
        Ok(_) => {}
        Err(e) => {
            return Err(ApiError::Internal(format!(
                "cannot reach the VMM of domain '{name}': {e}"
            )))
        }
    }
    wait_for_end(files, name, pid)
}

/// Waits until the VMM `pid` of `name` has ended.
fn wait_for_end(files: &VmFiles, name: &str, pid: Option<u32>) -> Result<(), ApiError> {
    let began = Instant::now();
    while began.elapsed() < DESTROY_TIMEOUT {
        if !run_state(files, name).is_active() && pid.is_none_or(|p| !process_alive(p)) {
            super::vm_nics::unplug_nics(files, name);
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(ApiError::Internal(format!(
        "domain '{name}' did not stop within {} s",
        DESTROY_TIMEOUT.as_secs()
    )))
}

/// Domains whose VMM events are being followed.
pub type Watched = Arc<Mutex<BTreeSet<String>>>;

/// Follows a running domain's VMM events and republishes them as domain
/// lifecycle events until the VMM ends; does nothing if already followed.
pub fn watch(files: &VmFiles, name: &str, uuid: &str, sink: EventSink, watched: &Watched) {
    {
        let mut set = watched.lock().unwrap_or_else(|e| e.into_inner());
        if !set.insert(name.to_string()) {
            return;
        }
    }
    let files = files.clone();
    let name = name.to_string();
    let uuid = uuid.to_string();
    let watched = Arc::clone(watched);
    let spawned = std::thread::Builder::new().name("vm-watch".into()).spawn({
        let name = name.clone();
        let watched = Arc::clone(&watched);
        move || {
            follow(&files, &name, &uuid, &sink);
            watched
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&name);
        }
    });
    if spawned.is_err() {
        watched
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&name);
    }
}

fn follow(files: &VmFiles, name: &str, uuid: &str, sink: &EventSink) {
    let emit = |event| {
        sink.emit(Event::DomainLifecycle {
            name: name.to_string(),
            uuid: uuid.to_string(),
            event,
        })
    };
    let mut last = run_state(files, name).state;
    if let Ok((Reply::Ok, mut stream)) = control::request(&files.socket(name), Request::Events) {
        while let Ok(control::Event::State { state, reason }) =
            control::read_message::<control::Event>(&mut stream)
        {
            let event = match (last, state) {
                (DomainState::Paused, VmState::Running) => Some(DomainEvent::Resumed),
                (_, VmState::Paused) => Some(DomainEvent::Suspended),
                (_, VmState::Shutoff) if reason.as_deref() == Some(SAVED_REASON) => {
                    Some(DomainEvent::Saved)
                }
                (_, VmState::Shutoff) => Some(DomainEvent::Stopped),
                (_, VmState::Crashed) => Some(DomainEvent::Crashed),
                _ => None,
            };
            last = match state {
                VmState::Paused => DomainState::Paused,
                VmState::Shutoff => DomainState::Shutoff,
                VmState::Crashed => DomainState::Crashed,
                VmState::Starting | VmState::Running => DomainState::Running,
            };
            if let Some(event) = event {
                emit(event);
            }
        }
    }
    // The stream ended: the VMM is gone. Report how, unless already said.
    let now = run_state(files, name).state;
    if !now.is_active() {
        super::vm_nics::unplug_nics(files, name);
    }
    if last.is_active() {
        emit(if now == DomainState::Crashed {
            DomainEvent::Crashed
        } else {
            DomainEvent::Stopped
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> (VmFiles, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "hangar-vmproc-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let files = VmFiles::new(&dir);
        std::fs::create_dir_all(&files.dir).expect("dir");
        (files, dir)
    }

    fn write_status(files: &VmFiles, name: &str, pid: u32, state: VmState, reason: Option<&str>) {
        let status = VmStatus {
            name: name.to_string(),
            pid,
            state,
            reason: reason.map(str::to_string),
            boots: 1,
            vcpus: 1,
            memory_mib: 64,
            vnc: None,
        };
        let json = serde_json::to_vec(&status).expect("json");
        std::fs::write(files.state(name), json).expect("state file");
    }

    #[test]
    fn state_files_map_to_virsh_states() {
        let (files, dir) = files();
        assert_eq!(run_state(&files, "none").state, DomainState::Shutoff);
        // A pid that cannot exist: the VMM died while running.
        write_status(&files, "dead", i32::MAX as u32, VmState::Running, None);
        let st = run_state(&files, "dead");
        assert_eq!((st.state, st.id), (DomainState::Crashed, None));
        write_status(
            &files,
            "clean",
            i32::MAX as u32,
            VmState::Shutoff,
            Some("guest powered off"),
        );
        let st = run_state(&files, "clean");
        assert_eq!(
            (st.state, st.reason.as_str()),
            (DomainState::Shutoff, "shutdown")
        );
        write_status(
            &files,
            "gone",
            i32::MAX as u32,
            VmState::Shutoff,
            Some("destroyed"),
        );
        assert_eq!(run_state(&files, "gone").reason, "destroyed");
        // Our own pid is alive but is not a VMM serving that socket.
        write_status(&files, "reused", std::process::id(), VmState::Running, None);
        assert_eq!(run_state(&files, "reused").state, DomainState::Crashed);
        let _ = std::fs::remove_dir_all(dir);
    }
}
