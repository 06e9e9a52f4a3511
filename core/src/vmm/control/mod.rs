//! The control socket: a unix socket (mode 0600) speaking length-prefixed
//! JSON. A client sends one [`Request`] and reads one [`Reply`]; after
//! `console` the connection carries the raw serial stream both ways (the
//! last 64 KiB of output first), after `events` a stream of [`Event`]s.

mod client;
mod server;
mod wire;

pub use client::{request, ClientError};
pub use server::{ControlHandler, ControlServer, ServerError};
pub use wire::{read_message, write_message, WireError, MAX_MESSAGE};

use serde::{Deserialize, Serialize};

pub use crate::vmm::devices::virtio::balloon::{BalloonReport, GuestStats};

/// One request to the VMM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// The VM's status.
    Status,
    /// Press the ACPI power button.
    Shutdown,
    /// Ask the guest to shut down, then start it again.
    Reboot,
    /// Hard reset (like the reset button).
    Reset,
    /// Power off at once.
    Destroy,
    /// Stop the vCPUs.
    Suspend,
    /// Run the vCPUs again.
    Resume,
    /// Attach to the serial console.
    Console,
    /// Subscribe to state changes.
    Events,
    /// Ask the guest, through its virtio balloon, to keep this much memory.
    SetMemory {
        /// Memory the guest should keep, KiB.
        kib: u64,
    },
    /// The balloon's size and the guest's memory statistics
    /// (answered with [`Reply::Memory`]).
    MemoryStats,
    /// Pause the VM, write it to a snapshot file at `path` (absolute), and
    /// end it as shut off with reason `saved`. On failure the VM goes on
    /// as it was.
    Save {
        /// Where to write the snapshot.
        path: std::path::PathBuf,
    },
}

/// The state of the VM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VmState {
    /// Being built.
    Starting,
    /// vCPUs running.
    Running,
    /// vCPUs stopped by `suspend`.
    Paused,
    /// Ended: guest power-off, destroy, or reboot with on_reboot=destroy.
    Shutoff,
    /// Ended by a guest crash (triple fault, KVM error) or a VMM failure.
    Crashed,
}

impl VmState {
    /// The name virsh would print.
    pub fn as_str(&self) -> &'static str {
        match self {
            VmState::Starting => "starting",
            VmState::Running => "running",
            VmState::Paused => "paused",
            VmState::Shutoff => "shut off",
            VmState::Crashed => "crashed",
        }
    }

    /// Whether the VM has ended.
    pub fn is_final(&self) -> bool {
        matches!(self, VmState::Shutoff | VmState::Crashed)
    }
}

/// What `status` returns, also kept in the state file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmStatus {
    /// Domain name.
    pub name: String,
    /// The VMM's process id.
    pub pid: u32,
    /// Current state.
    pub state: VmState,
    /// Why the VM is in this state (for shutoff/crashed), if known.
    pub reason: Option<String>,
    /// Guest boots so far (1 after the first start, +1 per reboot).
    pub boots: u32,
    /// vCPUs.
    pub vcpus: u32,
    /// Guest memory in MiB.
    pub memory_mib: u64,
    /// Where the VNC server listens, when the VM has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vnc: Option<crate::vmm::display::vnc::VncEndpoint>,
}

/// The answer to a [`Request`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    /// The request was carried out.
    Ok,
    /// The status.
    Status(VmStatus),
    /// The request failed.
    Error(String),
    /// The balloon's size and the guest's memory statistics.
    Memory(BalloonReport),
}

/// Something that happened to the VM.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// The state changed.
    State {
        /// New state.
        state: VmState,
        /// Why, if known.
        reason: Option<String>,
    },
}
