//! Hangar's core: the libvirt-compatible XML model, the async API and its
//! drivers, storage, virtual networks and the embedded KVM engine.
//!
//! Nothing here depends on GTK: the `hangar` app and `hangarctl` both drive
//! the backend through [`api`] messages.

pub mod api;
pub mod backend;
pub mod cli;
pub mod network;
pub mod storage;
pub mod vmm;
pub mod xml;
