//! The machine's life: boot, supervise, reboot or end. The main thread owns
//! the running instance and takes every decision; vCPUs, devices and the
//! control socket only send it [`MachineEvent`]s.

use super::builder::{build, BuildError, Instance};
use super::config::{OnReboot, VmConfig};
use super::console::ConsoleHub;
use super::control::{ControlHandler, Event, Request, VmState, VmStatus};
use super::devices::virtio::balloon::BalloonControl;
use super::display::Display;
use super::save_restore::{restore, save, StoppedMachine};
use super::status::StatusBoard;
use super::vstate::vcpu::install_kick_handler;
use super::vstate::vcpu::VcpuSet;
use super::{GuestEvent, MachineEvent, VmmError};
use kvm_ioctls::Kvm;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a control client waits for a save to finish.
pub const SAVE_TIMEOUT: Duration = Duration::from_secs(900);

/// How the VM ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Powered off, destroyed, or rebooted with on_reboot=destroy.
    Shutoff(String),
    /// Triple fault, KVM error, or a reboot that could not be built.
    Crashed(String),
    /// Written to a snapshot file (its path) and ended.
    Saved(PathBuf),
}

/// The reason the state file gives for a VM that ended saved.
pub const SAVED_REASON: &str = "saved";
/// The reason the state file gives for a VM running from a snapshot.
pub const RESTORED_REASON: &str = "restored";

/// What supervising one boot led to.
enum Next {
    Restart,
    End(Outcome),
    /// Save to the path, answering on the channel.
    Save(PathBuf, SyncSender<Result<(), String>>),
}

/// Per-boot state the supervisor keeps across a failed save.
#[derive(Default)]
struct BootFlags {
    reboot_requested: bool,
    paused: bool,
}

/// A VM: its configuration, console and status, across reboots.
pub struct Machine {
    kvm: Kvm,
    config: VmConfig,
    hub: Arc<ConsoleHub>,
    board: Arc<StatusBoard>,
    events_tx: Sender<MachineEvent>,
    events_rx: Receiver<MachineEvent>,
    display: Option<Arc<Display>>,
    /// The virtio balloon's handle, kept across reboots (`setmem`'s target stays).
    balloon: Option<BalloonControl>,
    /// The domain XML, stored in snapshots.
    domain_xml: String,
    /// A snapshot to start from instead of booting.
    restore_from: Option<PathBuf>,
}

impl Machine {
    /// Opens KVM and checks that it can run `config`.
    pub fn new(
        config: VmConfig,
        hub: Arc<ConsoleHub>,
        board: Arc<StatusBoard>,
    ) -> Result<Machine, VmmError> {
        let kvm = Kvm::new().map_err(VmmError::Kvm)?;
        let max = kvm.get_max_vcpus();
        if config.vcpus as usize > max {
            return Err(VmmError::TooManyVcpus {
                wanted: config.vcpus,
                max,
            });
        }
        install_kick_handler().map_err(VmmError::Signal)?;
        let (events_tx, events_rx) = channel();
        let balloon = if config.devices.balloon {
            Some(BalloonControl::new(config.memory_bytes).map_err(VmmError::Balloon)?)
        } else {
            None
        };
        Ok(Machine {
            kvm,
            config,
            hub,
            board,
            events_tx,
            events_rx,
            display: None,
            balloon,
            domain_xml: String::new(),
            restore_from: None,
        })
    }

    /// Gives the guest `display` as its screen and keyboard (every boot).
    pub fn with_display(mut self, display: Arc<Display>) -> Self {
        self.display = Some(display);
        self
    }

    /// The domain XML the VM runs with (stored in snapshots it saves).
    pub fn with_domain_xml(mut self, xml: String) -> Self {
        self.domain_xml = xml;
        self
    }

    /// Starts the VM from the snapshot at `path` instead of booting it.
    pub fn with_restore(mut self, path: PathBuf) -> Self {
        self.restore_from = Some(path);
        self
    }

    /// The control socket's view of this machine.
    pub fn handler(&self) -> Arc<dyn ControlHandler> {
        Arc::new(MachineHandle {
            events: Mutex::new(self.events_tx.clone()),
            board: Arc::clone(&self.board),
            hub: Arc::clone(&self.hub),
            balloon: self.balloon.clone(),
        })
    }

    /// Boots the guest and runs it until it ends. An error means the first
    /// boot could not be built (nothing ran).
    pub fn run(mut self) -> Result<Outcome, BuildError> {
        let mut generation = 0u64;
        let mut restore_from = self.restore_from.take();
        let restored = restore_from.is_some();
        loop {
            generation += 1;
            self.board.boot_started();
            let built = match restore_from.take() {
                Some(path) => restore(
                    &self.kvm,
                    &self.config,
                    &self.hub,
                    &self.events_tx,
                    generation,
                    &path,
                    self.display.as_ref(),
                    self.balloon.as_ref(),
                ),
                None => build(
                    &self.kvm,
                    &self.config,
                    &self.hub,
                    &self.events_tx,
                    generation,
                    self.display.as_ref(),
                    self.balloon.as_ref(),
                ),
            };
            let mut instance = match built {
                Ok(i) => i,
                Err(e) if generation == 1 => return Err(e),
                Err(e) => return Ok(self.finish(Outcome::Crashed(format!("cannot reboot: {e}")))),
            };
            let reason = (restored && generation == 1).then(|| RESTORED_REASON.to_string());
            self.board.set_state(VmState::Running, reason);
            let mut flags = BootFlags::default();
            loop {
                match self.supervise(&instance, generation, &mut flags) {
                    Next::Save(path, reply) => match self.save(instance, generation, &path) {
                        Ok(()) => {
                            self.detach_display();
                            let _ = reply.send(Ok(()));
                            return Ok(self.finish(Outcome::Saved(path)));
                        }
                        Err((e, back)) => {
                            eprintln!("hangar-vmm: save failed: {e}");
                            let _ = reply.send(Err(e));
                            match back {
                                Some(i) => instance = i,
                                None => {
                                    self.detach_display();
                                    return Ok(self.finish(Outcome::Crashed(
                                        "the vCPUs could not be restarted after a failed save"
                                            .into(),
                                    )));
                                }
                            }
                            if flags.paused {
                                instance.vcpus.pause();
                            }
                        }
                    },
                    Next::Restart => {
                        instance.stop();
                        self.detach_display();
                        self.board
                            .set_state(VmState::Starting, Some("reboot".into()));
                        break;
                    }
                    Next::End(outcome) => {
                        instance.stop();
                        self.detach_display();
                        return Ok(self.finish(outcome));
                    }
                }
            }
        }
    }

    fn detach_display(&self) {
        if let Some(display) = &self.display {
            display.detach();
        }
    }

    /// Stops the vCPUs and writes the machine to `path`. On failure the
    /// vCPUs run again (the instance is handed back, if it could be).
    #[allow(clippy::result_large_err)]
    fn save(
        &self,
        instance: Instance,
        generation: u64,
        path: &Path,
    ) -> Result<(), (String, Option<Instance>)> {
        let was = self.board.get();
        self.board.set_state(VmState::Paused, Some("saving".into()));
        let Instance {
            vcpus,
            devices,
            virtio,
            vm,
            memory,
        } = instance;
        let mut fds = vcpus.stop_and_take();
        let result = save(
            StoppedMachine {
                kvm: &self.kvm,
                domain_xml: &self.domain_xml,
                vcpus: &mut fds,
                vcpu_count: self.config.vcpus as usize,
                vm: &vm,
                devices: &devices,
                virtio: &virtio,
                memory: &memory,
            },
            path,
        );
        let error = match result {
            Ok(size) => {
                eprintln!("hangar-vmm: VM saved to {} ({size} bytes)", path.display());
                return Ok(());
            }
            Err(e) => e.to_string(),
        };
        let restarted = VcpuSet::start(
            fds,
            Arc::clone(&devices.io_bus),
            Arc::clone(&devices.mmio_bus),
            self.events_tx.clone(),
            generation,
        );
        self.board.set_state(was.state, was.reason);
        match restarted {
            Ok(vcpus) => Err((
                error,
                Some(Instance {
                    vcpus,
                    devices,
                    virtio,
                    vm,
                    memory,
                }),
            )),
            Err(_) => Err((error, None)),
        }
    }

    fn finish(&self, outcome: Outcome) -> Outcome {
        if let Some(display) = &self.display {
            display.shutdown();
        }
        match &outcome {
            Outcome::Shutoff(r) => self.board.set_state(VmState::Shutoff, Some(r.clone())),
            Outcome::Crashed(r) => self.board.set_state(VmState::Crashed, Some(r.clone())),
            Outcome::Saved(_) => self
                .board
                .set_state(VmState::Shutoff, Some(SAVED_REASON.into())),
        }
        outcome
    }

    fn after_reboot(&self, why: &str) -> Next {
        match self.config.on_reboot {
            OnReboot::Restart => Next::Restart,
            OnReboot::Destroy => {
                Next::End(Outcome::Shutoff(format!("{why}; on_reboot is destroy")))
            }
        }
    }

    fn supervise(&self, instance: &Instance, generation: u64, flags: &mut BootFlags) -> Next {
        loop {
            let Ok(event) = self.events_rx.recv() else {
                return Next::End(Outcome::Crashed("event channel closed".into()));
            };
            match event {
                MachineEvent::Guest { generation: g, .. } if g != generation => {}
                MachineEvent::Guest { event, .. } => match event {
                    GuestEvent::PowerOff if flags.reboot_requested => {
                        return self.after_reboot("guest rebooted on request")
                    }
                    GuestEvent::PowerOff => {
                        return Next::End(Outcome::Shutoff("guest powered off".into()))
                    }
                    GuestEvent::Reset => return self.after_reboot("guest rebooted"),
                    GuestEvent::Crash(reason) => {
                        eprintln!("hangar-vmm: guest crashed: {reason}");
                        return Next::End(Outcome::Crashed(reason));
                    }
                },
                MachineEvent::Control { request, reply } => {
                    let (result, next) = match request {
                        Request::Shutdown | Request::Reboot if flags.paused => {
                            (Err("the VM is paused; resume it first".to_string()), None)
                        }
                        Request::Shutdown => {
                            instance.devices.press_power_button();
                            (Ok(()), None)
                        }
                        Request::Reboot => {
                            flags.reboot_requested = true;
                            instance.devices.press_power_button();
                            (Ok(()), None)
                        }
                        Request::Reset => (Ok(()), Some(Next::Restart)),
                        Request::Destroy => {
                            instance.vcpus.pause();
                            (
                                Ok(()),
                                Some(Next::End(Outcome::Shutoff("destroyed".into()))),
                            )
                        }
                        Request::Suspend if flags.paused => {
                            (Err("the VM is already paused".into()), None)
                        }
                        Request::Suspend => {
                            instance.vcpus.pause();
                            flags.paused = true;
                            self.board
                                .set_state(VmState::Paused, Some("suspended".into()));
                            (Ok(()), None)
                        }
                        Request::Resume if !flags.paused => {
                            (Err("the VM is not paused".into()), None)
                        }
                        Request::Resume => {
                            instance.vcpus.resume();
                            flags.paused = false;
                            self.board.set_state(VmState::Running, None);
                            (Ok(()), None)
                        }
                        Request::Save { path } => {
                            // Answered once the file is written (or not).
                            instance.vcpus.pause();
                            return Next::Save(path, reply);
                        }
                        Request::Status
                        | Request::Console
                        | Request::Events
                        | Request::SetMemory { .. }
                        | Request::MemoryStats => (Err("not a lifecycle request".into()), None),
                    };
                    let _ = reply.send(result);
                    if let Some(next) = next {
                        return next;
                    }
                }
            }
        }
    }
}

/// The control server's handle on a machine.
struct MachineHandle {
    events: Mutex<Sender<MachineEvent>>,
    board: Arc<StatusBoard>,
    hub: Arc<ConsoleHub>,
    balloon: Option<BalloonControl>,
}

impl ControlHandler for MachineHandle {
    fn balloon(&self) -> Option<BalloonControl> {
        self.balloon.clone()
    }

    fn status(&self) -> VmStatus {
        self.board.get()
    }

    fn command(&self, request: Request) -> Result<(), String> {
        if self.board.get().state.is_final() {
            return Err("the VM is not running".into());
        }
        let (tx, rx) = sync_channel(1);
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .send(MachineEvent::Control {
                request: request.clone(),
                reply: tx,
            })
            .map_err(|_| "the VM is not running".to_string())?;
        // Saving writes all of guest memory: give it time.
        let wait = if matches!(request, Request::Save { .. }) {
            SAVE_TIMEOUT
        } else {
            Duration::from_secs(30)
        };
        rx.recv_timeout(wait)
            .map_err(|_| "the VM did not answer".to_string())?
    }

    fn console(&self) -> Arc<ConsoleHub> {
        Arc::clone(&self.hub)
    }

    fn subscribe(&self) -> Receiver<Event> {
        self.board.subscribe()
    }
}
