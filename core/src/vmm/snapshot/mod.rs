//! Saved VMs: a versioned, checksummed file holding the domain definition
//! the VM was started from, the state of every vCPU, of KVM's interrupt
//! controllers, PIT and clock, of every device, and guest memory.
//!
//! The layout (all integers little-endian):
//!
//! ```text
//! header   "HANGARVM" (8 bytes), format version u32, flags u32 (0)
//! section  tag u32, reserved u32 (0), payload length u64, payload
//!          1 = domain XML (UTF-8), always first
//!          2 = machine state (JSON, see [`MachineState`]), always second
//!          3 = one RAM region (see [`memory`]), one section per region
//! end      tag 0xffffffff, 0, length 16, then: file length u64,
//!          Adler-32 u32 of every byte before this payload, reserved u32
//! ```
//!
//! A file that is shorter than its end record says, lacks the end record,
//! has another magic or version, or whose checksum differs is refused
//! with an error naming the file and what is wrong. Files are written to
//! a temporary name, synced and renamed, so a failed save leaves no file.

mod checksum;
mod file;
pub mod memory;
mod state;

pub use checksum::Checksum;
pub use file::{SectionKind, SnapshotReader, SnapshotWriter, FORMAT_VERSION, MAGIC};
pub use state::{
    DeviceStates, KvmPod, MachineState, MsrEntry, Raw, SerialRegs, VcpuState, VmKvmState,
};

use std::path::Path;
use vm_memory::GuestMemoryMmap;

/// Errors reading or writing a snapshot file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The file could not be read or written.
    #[error("{op} snapshot {path}: {source}")]
    Io {
        /// "cannot read", "cannot write", ...
        op: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not a Hangar snapshot at all.
    #[error("{path} is not a Hangar snapshot (it does not start with \"HANGARVM\")")]
    NotASnapshot {
        /// The file.
        path: String,
    },
    /// A snapshot of another format version.
    #[error("{path} is a Hangar snapshot of format version {found}; this version reads version {supported}")]
    Version {
        /// The file.
        path: String,
        /// The file's version.
        found: u32,
        /// The version this code reads.
        supported: u32,
    },
    /// The file ends early or has no end record.
    #[error("snapshot {path} is truncated: {detail}")]
    Truncated {
        /// The file.
        path: String,
        /// What is missing.
        detail: String,
    },
    /// The checksum does not match the contents.
    #[error("snapshot {path} is damaged: checksum {computed:#010x} does not match the stored {stored:#010x}")]
    Checksum {
        /// The file.
        path: String,
        /// Stored in the file.
        stored: u32,
        /// Computed from its contents.
        computed: u32,
    },
    /// The contents do not make sense (a section out of place, bad JSON,
    /// a memory run outside its region...).
    #[error("snapshot {path} is damaged: {detail}")]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong.
        detail: String,
    },
    /// The saved memory does not fit the VM being restored.
    #[error("snapshot {path} does not fit this VM: {detail}")]
    Mismatch {
        /// The file.
        path: String,
        /// What differs.
        detail: String,
    },
}

/// What a snapshot holds, without its memory.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    /// The domain XML the VM was running with.
    pub domain_xml: String,
    /// The file's size in bytes.
    pub size: u64,
}

/// Checks a snapshot completely (header, end record, checksum over every
/// byte, section layout) and returns its domain definition. Reads the
/// whole file but allocates only its small sections.
pub fn inspect(path: &Path) -> Result<SnapshotInfo, SnapshotError> {
    let mut reader = SnapshotReader::open(path)?;
    let domain_xml = reader.domain_xml()?;
    let _state = reader.machine_state()?;
    reader.skip_memory()?;
    Ok(SnapshotInfo {
        domain_xml,
        size: reader.file_len(),
    })
}

/// Writes a complete snapshot to `path` (atomically); returns its size.
pub fn write(
    path: &Path,
    domain_xml: &str,
    state: &MachineState,
    guest_memory: &GuestMemoryMmap,
) -> Result<u64, SnapshotError> {
    let mut writer = SnapshotWriter::create(path)?;
    writer.section(SectionKind::Domain, domain_xml.as_bytes())?;
    let json = serde_json::to_vec(state).map_err(|e| SnapshotError::Io {
        op: "cannot encode",
        path: path.display().to_string(),
        source: std::io::Error::other(e),
    })?;
    writer.section(SectionKind::State, &json)?;
    memory::write_regions(&mut writer, guest_memory)?;
    writer.finish()
}

#[cfg(test)]
mod tests;
