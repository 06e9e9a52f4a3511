//! `hangar-vmm`: runs one virtual machine in its own process, and talks to
//! a running one.
//!
//! ```text
//! hangar-vmm run (--domain VM.xml | --restore FILE [--domain VM.xml]) \
//!     --socket RUNDIR/VM.sock [--state-file RUNDIR/VM.json] [--serial-log FILE]
//! hangar-vmm ctl --socket RUNDIR/VM.sock [--state-file RUNDIR/VM.json] \
//!     status|shutdown|reboot|reset|destroy|suspend|resume|console|events|save FILE
//! ```
//!
//! `run` exits 0 when the VM ends as shut off (guest power-off, destroy,
//! reboot with `<on_reboot>destroy`, saved to a file), 2 when it crashed
//! (reason on stderr and in the state file), 1 when it could not start
//! (nothing is left behind: no socket, no state file, no process).

use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use hangar_core::vmm::builder::check_boot_files;
use hangar_core::vmm::console::ConsoleHub;
use hangar_core::vmm::control::{
    read_message, request, ControlServer, Event, Reply, Request, VmState, VmStatus,
};
use hangar_core::vmm::display::framebuffer::VideoMode;
use hangar_core::vmm::display::vnc::VncServer;
use hangar_core::vmm::display::Display;
use hangar_core::vmm::status::{process_alive, read_state_file, StatusBoard};
use hangar_core::vmm::vstate::memory::host_memory_bytes;
use hangar_core::vmm::{snapshot, Machine, Outcome, VmConfig};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Exit code of a VM that crashed.
const EXIT_CRASHED: i32 = 2;

#[derive(Parser)]
#[command(name = "hangar-vmm", version, about = "Hangar's per-VM KVM engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the VM of a domain definition and run it until it ends.
    Run {
        /// The libvirt domain XML (memory, vcpu, os kernel/initrd/cmdline, on_reboot).
        /// With --restore it defaults to the XML saved in the snapshot.
        #[arg(long, required_unless_present = "restore")]
        domain: Option<PathBuf>,
        /// Start from this snapshot (written by `ctl save`) instead of booting.
        #[arg(long)]
        restore: Option<PathBuf>,
        /// The control socket to create (mode 0600); refused if a VMM answers there.
        #[arg(long)]
        socket: PathBuf,
        /// A JSON file kept up to date with the VM's state and this process's pid.
        #[arg(long)]
        state_file: Option<PathBuf>,
        /// Append everything the guest writes to its serial console to this file.
        #[arg(long)]
        serial_log: Option<PathBuf>,
    },
    /// Send a request to a running VM.
    Ctl {
        /// The VM's control socket.
        #[arg(long)]
        socket: PathBuf,
        /// The VM's state file, to tell a dead VMM from a VM that ended.
        #[arg(long)]
        state_file: Option<PathBuf>,
        /// What to ask.
        action: Action,
        /// For `set-memory`: the memory the guest should keep, KiB.
        #[arg(long)]
        kib: Option<u64>,
        /// The snapshot file to write (`save` only).
        file: Option<PathBuf>,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Action {
    Status,
    Shutdown,
    Reboot,
    Reset,
    Destroy,
    Suspend,
    Resume,
    Console,
    Events,
    /// Resize the guest through its virtio balloon (with `--kib`).
    SetMemory,
    /// The balloon's size and the guest's memory statistics, as JSON.
    MemoryStats,
    /// Write the VM to a snapshot file and end it.
    Save,
}

impl Action {
    fn request(self, kib: Option<u64>, file: Option<&Path>) -> Result<Request> {
        let request = match self {
            Action::Status => Request::Status,
            Action::Shutdown => Request::Shutdown,
            Action::Reboot => Request::Reboot,
            Action::Reset => Request::Reset,
            Action::Destroy => Request::Destroy,
            Action::Suspend => Request::Suspend,
            Action::Resume => Request::Resume,
            Action::Console => Request::Console,
            Action::Events => Request::Events,
            Action::SetMemory => Request::SetMemory {
                kib: kib.ok_or_else(|| anyhow!("set-memory needs --kib"))?,
            },
            Action::MemoryStats => Request::MemoryStats,
            Action::Save => {
                let file = file.context("save needs the snapshot file to write")?;
                return Ok(Request::Save {
                    path: absolute(file)?,
                });
            }
        };
        if file.is_some() {
            bail!("only save takes a file");
        }
        Ok(request)
    }
}

/// `path` made absolute against the current folder (the VMM has its own).
fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).with_context(|| format!("bad path {}", path.display()))
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Run {
            domain,
            restore,
            socket,
            state_file,
            serial_log,
        } => run(
            domain.as_deref(),
            restore.as_deref(),
            &socket,
            state_file,
            serial_log,
        ),
        Command::Ctl {
            socket,
            state_file,
            action,
            kib,
            file,
        } => ctl(&socket, state_file.as_deref(), action, kib, file.as_deref()),
    };
    match code {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("hangar-vmm: error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(
    domain: Option<&Path>,
    restore: Option<&Path>,
    socket: &Path,
    state_file: Option<PathBuf>,
    serial_log: Option<PathBuf>,
) -> Result<i32> {
    // Before any thread exists, so that every thread inherits the mask.
    let termination = block_termination_signals()?;
    // Everything that can be checked is checked before anything is created:
    // a snapshot completely (checksum included), a kernel by its header.
    let saved = match restore {
        Some(path) => Some(snapshot::inspect(path)?),
        None => None,
    };
    let xml = match (domain, &saved) {
        (Some(domain), _) => std::fs::read_to_string(domain)
            .with_context(|| format!("cannot read domain definition {}", domain.display()))?,
        (None, Some(info)) => info.domain_xml.clone(),
        (None, None) => bail!("--domain or --restore is needed"),
    };
    let config = VmConfig::from_domain_xml(&xml)?;
    if saved.is_none() {
        check_boot_files(&config)?;
    }
    if let Some(host) = host_memory_bytes() {
        if config.memory_bytes > host {
            bail!(
                "the VM wants {} MiB of memory but this host has only {} MiB (RAM and swap)",
                config.memory_bytes >> 20,
                host >> 20
            );
        }
    }
    let log = match &serial_log {
        Some(path) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open serial log {}", path.display()))?,
        ),
        None => None,
    };
    let hub = ConsoleHub::new(log);
    let display = match &config.devices.display {
        Some(d) => Some(
            Display::start(VideoMode {
                width: d.width,
                height: d.height,
            })
            .context("cannot create the display")?,
        ),
        None => None,
    };
    let vnc = match (
        &display,
        config.devices.display.as_ref().and_then(|d| d.vnc.as_ref()),
    ) {
        (Some(display), Some(vnc)) => Some(
            VncServer::start(vnc, Arc::clone(display), config.name.clone())
                .context("cannot start the VNC server")?,
        ),
        _ => None,
    };
    let status = VmStatus {
        name: config.name.clone(),
        pid: std::process::id(),
        state: VmState::Starting,
        reason: None,
        boots: 0,
        vcpus: config.vcpus,
        memory_mib: config.memory_bytes >> 20,
        vnc: vnc.as_ref().map(|v| v.endpoint().clone()),
    };
    let mut server = ControlServer::bind(socket)?;
    let board = Arc::new(StatusBoard::new(status, state_file.clone()));
    let started = Machine::new(config, Arc::clone(&hub), Arc::clone(&board))
        .map(|machine| match &display {
            Some(display) => machine.with_display(Arc::clone(display)),
            None => machine,
        })
        .map_err(anyhow::Error::from)
        .map(|machine| {
            let machine = machine.with_domain_xml(xml);
            match restore {
                Some(path) => machine.with_restore(path.to_path_buf()),
                None => machine,
            }
        })
        .and_then(|machine| {
            let handler = machine.handler();
            server.serve(Arc::clone(&handler))?;
            destroy_on_termination(handler, termination)?;
            Ok(machine)
        });
    let outcome = started.and_then(|machine| machine.run().map_err(anyhow::Error::from));
    let outcome = match outcome {
        Ok(o) => o,
        Err(e) => {
            // Nothing ran: leave nothing behind.
            if let Some(path) = &state_file {
                let _ = std::fs::remove_file(path);
            }
            drop(server);
            return Err(e);
        }
    };
    drop(server);
    Ok(match outcome {
        Outcome::Shutoff(reason) => {
            eprintln!("hangar-vmm: VM shut off: {reason}");
            0
        }
        Outcome::Crashed(reason) => {
            eprintln!("hangar-vmm: VM crashed: {reason}");
            EXIT_CRASHED
        }
        Outcome::Saved(path) => {
            eprintln!("hangar-vmm: VM saved to {}", path.display());
            0
        }
    })
}

/// Blocks SIGTERM, SIGINT and SIGHUP in this thread (and the threads it
/// will start), so that one thread can wait for them with `sigwait`.
fn block_termination_signals() -> Result<libc::sigset_t> {
    // SAFETY: sigset_t is plain data, initialised by sigemptyset before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t; the signal numbers are valid.
    let rc = unsafe {
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGTERM);
        libc::sigaddset(&mut set, libc::SIGINT);
        libc::sigaddset(&mut set, libc::SIGHUP);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut())
    };
    if rc != 0 {
        bail!("cannot block termination signals: error {rc}");
    }
    Ok(set)
}

/// A thread that turns SIGTERM/SIGINT/SIGHUP into `destroy`, so that a
/// terminated VMM still ends cleanly (state file written, socket removed).
fn destroy_on_termination(
    handler: Arc<dyn hangar_core::vmm::control::ControlHandler>,
    set: libc::sigset_t,
) -> Result<()> {
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || loop {
            let mut signal = 0;
            // SAFETY: `set` is a valid signal set and `signal` a valid out pointer.
            if unsafe { libc::sigwait(&set, &mut signal) } == 0 {
                eprintln!("hangar-vmm: signal {signal}: destroying the VM");
                let _ = handler.command(Request::Destroy);
            }
        })
        .context("cannot start the signal thread")?;
    Ok(())
}

fn print_status(s: &VmStatus) {
    println!("name={}", s.name);
    println!("state={}", s.state.as_str());
    println!("reason={}", s.reason.as_deref().unwrap_or(""));
    println!("pid={}", s.pid);
    println!("boots={}", s.boots);
    println!("vcpus={}", s.vcpus);
    println!("memory_mib={}", s.memory_mib);
    if let Some(vnc) = &s.vnc {
        println!("vnc={}", vnc.uri());
    }
}

fn ctl(
    socket: &Path,
    state_file: Option<&Path>,
    action: Action,
    kib: Option<u64>,
    file: Option<&Path>,
) -> Result<i32> {
    let (reply, stream) = match request(socket, action.request(kib, file)?) {
        Ok(r) => r,
        Err(e) => {
            // No VMM answers: the state file says how it ended, or that it died.
            let Some(mut last) = state_file.and_then(read_state_file) else {
                return Err(e.into());
            };
            if !last.state.is_final() && !process_alive(last.pid) {
                last.reason = Some(format!("hangar-vmm (pid {}) is gone", last.pid));
                last.state = VmState::Crashed;
            }
            if matches!(action, Action::Status) {
                print_status(&last);
                return Ok(0);
            }
            bail!("the VM is not running (state: {})", last.state.as_str());
        }
    };
    match reply {
        Reply::Status(s) => {
            print_status(&s);
            Ok(0)
        }
        Reply::Error(e) => Err(anyhow!(e)),
        Reply::Memory(report) => {
            println!("{}", serde_json::to_string(&report)?);
            Ok(0)
        }
        Reply::Ok => match action {
            Action::Console => console(stream),
            Action::Events => {
                let mut stream = stream;
                while let Ok(event) = read_message::<Event>(&mut stream) {
                    println!("{}", serde_json::to_string(&event)?);
                }
                Ok(0)
            }
            _ => {
                println!("ok");
                Ok(0)
            }
        },
    }
}

/// Copies stdin to the guest's console and its output to stdout until the
/// VM goes away or the user types the escape character (Ctrl+]).
fn console(stream: std::os::unix::net::UnixStream) -> Result<i32> {
    const ESCAPE: u8 = 0x1d;
    let mut to_guest = stream.try_clone().context("console socket")?;
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    let chunk = &buf[..n];
                    let end = chunk.iter().position(|b| *b == ESCAPE);
                    let send = &chunk[..end.unwrap_or(n)];
                    if to_guest.write_all(send).is_err() || end.is_some() {
                        break;
                    }
                }
            }
        }
        let _ = to_guest.shutdown(std::net::Shutdown::Both);
    });
    let mut from_guest = stream;
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 4096];
    loop {
        match from_guest.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                stdout.write_all(&buf[..n])?;
                stdout.flush()?;
            }
        }
    }
    Ok(0)
}
