//! The embedded KVM engine behind `hangar-vmm`: one process per VM.
//!
//! Laid out like Firecracker's VMM:
//! - [`arch`]: memory layout, vCPU registers, CPUID, boot parameters, ACPI;
//! - [`vstate`]: KVM wrappers for the VM, its vCPUs and guest memory;
//! - [`devices`]: the buses and the legacy devices (serial, i8042, ACPI PM);
//! - [`device_manager`]: creates devices and wires them to buses and IRQs;
//! - [`builder`]: one boot of the machine; [`machine`]: its life cycle;
//! - [`control`]: the control socket protocol, server and client;
//! - [`console`], [`status`]: the serial fan-out and the published state.

pub mod arch;
pub mod builder;
pub mod config;
pub mod console;
pub mod control;
pub mod device_manager;
pub mod devices;
pub mod display;
pub mod kernel;
pub mod kernel_cache;
pub mod machine;
pub mod save_restore;
pub mod snapshot;
pub mod status;
pub mod vstate;

pub use config::{OnReboot, VmConfig};
pub use machine::{Machine, Outcome};

use control::Request;
use std::sync::mpsc::SyncSender;

/// Something the guest did that the machine must act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GuestEvent {
    /// ACPI S5.
    PowerOff,
    /// Reset line (i8042) pulled.
    Reset,
    /// The guest cannot go on (triple fault, KVM error), with the reason.
    Crash(String),
}

/// Messages to the machine's main thread.
#[derive(Debug)]
pub enum MachineEvent {
    /// From boot number `generation` of the guest (stale ones are ignored).
    Guest {
        /// Which boot.
        generation: u64,
        /// What happened.
        event: GuestEvent,
    },
    /// A lifecycle request from the control socket, and where to answer.
    Control {
        /// The request.
        request: Request,
        /// The answer channel.
        reply: SyncSender<Result<(), String>>,
    },
}

/// Errors setting up the engine.
#[derive(Debug, thiserror::Error)]
pub enum VmmError {
    /// `/dev/kvm` cannot be used.
    #[error("cannot open /dev/kvm: {0}")]
    Kvm(kvm_ioctls::Error),
    /// More vCPUs than KVM allows.
    #[error("{wanted} vCPUs requested but KVM allows at most {max}")]
    TooManyVcpus {
        /// Requested.
        wanted: u32,
        /// KVM's limit.
        max: usize,
    },
    /// The vCPU kick signal handler could not be installed.
    #[error("cannot install the vCPU signal handler: {0}")]
    Signal(std::io::Error),
    /// The virtio balloon's control handle could not be made.
    #[error("cannot set up the memory balloon: {0}")]
    Balloon(std::io::Error),
}
