//! vCPU threads: each runs `KVM_RUN` in a loop, sends port and MMIO accesses
//! to the device buses, and reports the exits that end the machine. A
//! [`RunControl`] shared by all vCPUs pauses, resumes and stops them; a
//! real-time signal kicks a vCPU out of `KVM_RUN` so it sees the request.

use crate::vmm::devices::Bus;
use crate::vmm::{GuestEvent, MachineEvent};
use kvm_ioctls::{VcpuExit, VcpuFd};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use vmm_sys_util::signal::{register_signal_handler, Killable, SIGRTMIN};

/// What the vCPUs are asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    Run,
    Pause,
    Exit,
}

#[derive(Debug)]
struct RunState {
    wanted: Wanted,
    /// vCPU threads currently parked in [`RunControl::checkpoint`].
    parked: usize,
}

/// Pause / resume / exit requests shared by a machine's vCPU threads.
#[derive(Debug)]
pub struct RunControl {
    state: Mutex<RunState>,
    cond: Condvar,
}

impl Default for RunControl {
    fn default() -> Self {
        RunControl {
            state: Mutex::new(RunState {
                wanted: Wanted::Run,
                parked: 0,
            }),
            cond: Condvar::new(),
        }
    }
}

impl RunControl {
    fn lock(&self) -> std::sync::MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Called by a vCPU before each `KVM_RUN`: waits while paused; returns
    /// false when the vCPU must exit.
    fn checkpoint(&self) -> bool {
        let mut st = self.lock();
        while st.wanted == Wanted::Pause {
            st.parked += 1;
            self.cond.notify_all();
            st = self.cond.wait(st).unwrap_or_else(|e| e.into_inner());
            st.parked -= 1;
        }
        st.wanted == Wanted::Run
    }

    fn set(&self, wanted: Wanted) {
        self.lock().wanted = wanted;
        self.cond.notify_all();
    }
}

/// The signal that interrupts `KVM_RUN`; its handler does nothing.
fn kick_signal() -> i32 {
    SIGRTMIN()
}

extern "C" fn noop_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

/// Installs the kick signal's handler (once per process).
pub fn install_kick_handler() -> Result<(), std::io::Error> {
    register_signal_handler(kick_signal(), noop_handler)
        .map_err(|e| std::io::Error::from_raw_os_error(e.errno()))
}

/// The running vCPU threads of one machine.
pub struct VcpuSet {
    control: Arc<RunControl>,
    threads: Vec<JoinHandle<VcpuFd>>,
}

impl VcpuSet {
    /// Starts one thread per vCPU.
    pub fn start(
        vcpus: Vec<VcpuFd>,
        io_bus: Arc<Bus>,
        mmio_bus: Arc<Bus>,
        events: Sender<MachineEvent>,
        generation: u64,
    ) -> Result<VcpuSet, std::io::Error> {
        let control = Arc::new(RunControl::default());
        let mut threads = Vec::with_capacity(vcpus.len());
        for (index, fd) in vcpus.into_iter().enumerate() {
            let runner = VcpuRunner {
                index,
                fd,
                io_bus: Arc::clone(&io_bus),
                mmio_bus: Arc::clone(&mmio_bus),
                events: events.clone(),
                control: Arc::clone(&control),
                generation,
            };
            let handle = std::thread::Builder::new()
                .name(format!("vcpu{index}"))
                .spawn(move || runner.run())?;
            threads.push(handle);
        }
        Ok(VcpuSet { control, threads })
    }

    fn kick_all(&self) {
        for t in &self.threads {
            if !t.is_finished() {
                let _ = t.kill(kick_signal());
            }
        }
    }

    /// Stops every vCPU between two guest instructions; returns once all
    /// are parked (or have ended).
    pub fn pause(&self) {
        self.control.set(Wanted::Pause);
        loop {
            let running = self.threads.iter().filter(|t| !t.is_finished()).count();
            let st = self.control.lock();
            if st.parked >= running {
                return;
            }
            drop(st);
            // Kicks repeat: a signal that lands just before KVM_RUN is lost.
            self.kick_all();
            let st = self.control.lock();
            let _ = self
                .control
                .cond
                .wait_timeout(st, Duration::from_millis(5))
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Lets paused vCPUs run again.
    pub fn resume(&self) {
        self.control.set(Wanted::Run);
    }

    /// Ends every vCPU thread and waits for them.
    pub fn stop(self) {
        drop(self.stop_and_take());
    }

    /// Ends every vCPU thread and returns the vCPUs, in index order (for
    /// saving their state, or starting them again). A vCPU whose thread
    /// panicked is missing from the list.
    pub fn stop_and_take(self) -> Vec<VcpuFd> {
        self.control.set(Wanted::Exit);
        while self.threads.iter().any(|t| !t.is_finished()) {
            self.kick_all();
            std::thread::sleep(Duration::from_millis(2));
        }
        self.threads
            .into_iter()
            .filter_map(|t| t.join().ok())
            .collect()
    }
}

struct VcpuRunner {
    index: usize,
    fd: VcpuFd,
    io_bus: Arc<Bus>,
    mmio_bus: Arc<Bus>,
    events: Sender<MachineEvent>,
    control: Arc<RunControl>,
    generation: u64,
}

impl VcpuRunner {
    fn run(mut self) -> VcpuFd {
        while self.control.checkpoint() {
            let event = match self.fd.run() {
                Ok(exit) => match exit {
                    VcpuExit::IoIn(port, data) => {
                        self.io_bus.read(u64::from(port), data);
                        None
                    }
                    VcpuExit::IoOut(port, data) => {
                        self.io_bus.write(u64::from(port), data);
                        None
                    }
                    VcpuExit::MmioRead(addr, data) => {
                        self.mmio_bus.read(addr, data);
                        None
                    }
                    VcpuExit::MmioWrite(addr, data) => {
                        self.mmio_bus.write(addr, data);
                        None
                    }
                    VcpuExit::Hlt | VcpuExit::IrqWindowOpen | VcpuExit::Intr => None,
                    VcpuExit::Shutdown => Some(format!(
                        "vCPU {} triple fault (KVM_EXIT_SHUTDOWN)",
                        self.index
                    )),
                    VcpuExit::FailEntry(reason, cpu) => Some(format!(
                        "vCPU {} failed to enter the guest: hardware reason {reason:#x} on cpu {cpu}",
                        self.index
                    )),
                    VcpuExit::InternalError => Some(format!(
                        "vCPU {}: KVM internal error",
                        self.index
                    )),
                    VcpuExit::SystemEvent(kind, _) => Some(format!(
                        "vCPU {}: unexpected system event {kind}",
                        self.index
                    )),
                    other => Some(format!(
                        "vCPU {}: unhandled exit {other:?}",
                        self.index
                    )),
                },
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => None,
                Err(e) => Some(format!(
                    "vCPU {}: KVM_RUN failed: {e}",
                    self.index
                )),
            };
            if let Some(reason) = event {
                let _ = self.events.send(MachineEvent::Guest {
                    generation: self.generation,
                    event: GuestEvent::Crash(reason),
                });
                // The machine tears the vCPUs down; wait for that.
                self.control.set_parked_until_exit();
                break;
            }
        }
        self.fd
    }
}

impl RunControl {
    /// Parks the calling vCPU until the machine asks every vCPU to exit.
    fn set_parked_until_exit(&self) {
        let mut st = self.lock();
        st.parked += 1;
        self.cond.notify_all();
        while st.wanted != Wanted::Exit {
            st = self.cond.wait(st).unwrap_or_else(|e| e.into_inner());
        }
        st.parked -= 1;
    }
}
