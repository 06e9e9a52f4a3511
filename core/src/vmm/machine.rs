//! The machine's life: boot, supervise, reboot or end. The main thread owns
//! the running instance and takes every decision; vCPUs, devices and the
//! control socket only send it [`MachineEvent`]s.

use super::builder::{build, BuildError, Instance};
use super::config::{OnReboot, VmConfig};
use super::console::ConsoleHub;
use super::control::{ControlHandler, Event, Request, VmState, VmStatus};
use super::devices::virtio::balloon::BalloonControl;
use super::display::Display;
use super::status::StatusBoard;
use super::vstate::vcpu::install_kick_handler;
use super::{GuestEvent, MachineEvent, VmmError};
use kvm_ioctls::Kvm;
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How the VM ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Powered off, destroyed, or rebooted with on_reboot=destroy.
    Shutoff(String),
    /// Triple fault, KVM error, or a reboot that could not be built.
    Crashed(String),
}

/// What supervising one boot led to.
enum Next {
    Restart,
    End(Outcome),
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
        })
    }

    /// Gives the guest `display` as its screen and keyboard (every boot).
    pub fn with_display(mut self, display: Arc<Display>) -> Self {
        self.display = Some(display);
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
    pub fn run(self) -> Result<Outcome, BuildError> {
        let mut generation = 0u64;
        loop {
            generation += 1;
            self.board.boot_started();
            let instance = match build(
                &self.kvm,
                &self.config,
                &self.hub,
                &self.events_tx,
                generation,
                self.display.as_ref(),
                self.balloon.as_ref(),
            ) {
                Ok(i) => i,
                Err(e) if generation == 1 => return Err(e),
                Err(e) => return Ok(self.finish(Outcome::Crashed(format!("cannot reboot: {e}")))),
            };
            self.board.set_state(VmState::Running, None);
            let next = self.supervise(&instance, generation);
            instance.stop();
            if let Some(display) = &self.display {
                display.detach();
            }
            match next {
                Next::Restart => self
                    .board
                    .set_state(VmState::Starting, Some("reboot".into())),
                Next::End(outcome) => return Ok(self.finish(outcome)),
            }
        }
    }

    fn finish(&self, outcome: Outcome) -> Outcome {
        if let Some(display) = &self.display {
            display.shutdown();
        }
        match &outcome {
            Outcome::Shutoff(r) => self.board.set_state(VmState::Shutoff, Some(r.clone())),
            Outcome::Crashed(r) => self.board.set_state(VmState::Crashed, Some(r.clone())),
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

    fn supervise(&self, instance: &Instance, generation: u64) -> Next {
        let mut reboot_requested = false;
        let mut paused = false;
        loop {
            let Ok(event) = self.events_rx.recv() else {
                return Next::End(Outcome::Crashed("event channel closed".into()));
            };
            match event {
                MachineEvent::Guest { generation: g, .. } if g != generation => {}
                MachineEvent::Guest { event, .. } => match event {
                    GuestEvent::PowerOff if reboot_requested => {
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
                        Request::Shutdown | Request::Reboot if paused => {
                            (Err("the VM is paused; resume it first".to_string()), None)
                        }
                        Request::Shutdown => {
                            instance.devices.press_power_button();
                            (Ok(()), None)
                        }
                        Request::Reboot => {
                            reboot_requested = true;
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
                        Request::Suspend if paused => {
                            (Err("the VM is already paused".into()), None)
                        }
                        Request::Suspend => {
                            instance.vcpus.pause();
                            paused = true;
                            self.board
                                .set_state(VmState::Paused, Some("suspended".into()));
                            (Ok(()), None)
                        }
                        Request::Resume if !paused => (Err("the VM is not paused".into()), None),
                        Request::Resume => {
                            instance.vcpus.resume();
                            paused = false;
                            self.board.set_state(VmState::Running, None);
                            (Ok(()), None)
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
            .send(MachineEvent::Control { request, reply: tx })
            .map_err(|_| "the VM is not running".to_string())?;
        rx.recv_timeout(Duration::from_secs(30))
            .map_err(|_| "the VM did not answer".to_string())?
    }

    fn console(&self) -> Arc<ConsoleHub> {
        Arc::clone(&self.hub)
    }

    fn subscribe(&self) -> Receiver<Event> {
        self.board.subscribe()
    }
}
