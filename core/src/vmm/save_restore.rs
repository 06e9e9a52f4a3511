//! Saving a running machine to a snapshot file and building a machine from
//! one. Saving happens with every vCPU thread stopped and every virtio
//! device paused; restoring builds the VM without loading a kernel: memory,
//! devices, interrupt controllers, PIT and clock, then each vCPU, and only
//! then starts the vCPU threads.

use super::builder::{attach_display, guest_event_sink, BuildError, Instance};
use super::config::VmConfig;
use super::console::ConsoleHub;
use super::device_manager::virtio::{
    devices_and_inputs_from_config, SavedVirtioDevice, VirtioDevices,
};
use super::device_manager::{DeviceError, LegacyDevices};
use super::devices::virtio::balloon::BalloonControl;
use super::display::Display;
use super::snapshot::{self, memory, MachineState, SnapshotError, SnapshotReader};
use super::vstate::memory::create_guest_memory;
use super::vstate::persist::{self, PersistError};
use super::vstate::vm::Vm;
use super::MachineEvent;
use kvm_ioctls::{Kvm, VcpuFd};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use vm_memory::GuestMemoryMmap;

/// Errors saving a machine.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// KVM state could not be read.
    #[error("cannot read the VM's state: {0}")]
    Persist(#[from] PersistError),
    /// The file could not be written.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// A virtio device could not report its state.
    #[error("cannot read the state of a virtio device: {0}")]
    Virtio(String),
    /// A vCPU thread was lost (it panicked).
    #[error("vCPU {0} is gone; the VM cannot be saved")]
    VcpuLost(usize),
}

/// What a save needs from a stopped instance.
pub struct StoppedMachine<'a> {
    /// The KVM system handle (its MSR list).
    pub kvm: &'a Kvm,
    /// The domain XML the VM runs with, stored in the file.
    pub domain_xml: &'a str,
    /// The vCPUs, their threads ended.
    pub vcpus: &'a mut [VcpuFd],
    /// How many vCPUs the VM has.
    pub vcpu_count: usize,
    /// The VM.
    pub vm: &'a Vm,
    /// Its legacy devices.
    pub devices: &'a LegacyDevices,
    /// Its virtio devices.
    pub virtio: &'a VirtioDevices,
    /// Its memory.
    pub memory: &'a GuestMemoryMmap,
}

/// Writes the machine to `path`; returns the file's size.
///
/// The virtio devices are paused first, before any vCPU, interrupt
/// controller, device or memory state is read, so none of it changes while
/// it is recorded (a disk request completing mid-save would otherwise land
/// in memory after its ring was saved, and its interrupt after the LAPIC
/// was). After a successful save they stay paused: the VM ends. After a
/// failed one they run again, as the VM goes on.
pub fn save(machine: StoppedMachine<'_>, path: &Path) -> Result<u64, SaveError> {
    if machine.vcpus.len() != machine.vcpu_count {
        return Err(SaveError::VcpuLost(machine.vcpus.len()));
    }
    let virtio = machine.virtio;
    let result = virtio
        .pause()
        .map_err(|e| SaveError::Virtio(e.to_string()))
        .and_then(|()| save_paused(machine, path));
    if result.is_err() {
        if let Err(e) = virtio.resume() {
            eprintln!("hangar-vmm: after the failed save: {e}");
        }
    }
    result
}

/// [`save`] once the virtio devices are paused.
fn save_paused(machine: StoppedMachine<'_>, path: &Path) -> Result<u64, SaveError> {
    persist::check_xsave(machine.vm.fd())?;
    let msr_indices = match machine.vcpus.first() {
        Some(first) => persist::msrs_to_save(machine.kvm, first)?,
        None => Vec::new(),
    };
    let vcpus = machine
        .vcpus
        .iter_mut()
        .enumerate()
        .map(|(i, fd)| persist::save_vcpu(fd, i, &msr_indices))
        .collect::<Result<Vec<_>, _>>()?;
    let mut devices = machine.devices.save_state();
    let virtio = machine
        .virtio
        .save_state()
        .map_err(|e| SaveError::Virtio(e.to_string()))?;
    devices.virtio = virtio
        .iter()
        .map(serde_json::to_value)
        .collect::<Result<_, _>>()
        .map_err(|e| SaveError::Virtio(e.to_string()))?;
    let state = MachineState {
        vcpus,
        vm: persist::save_vm(machine.vm.fd())?,
        devices,
    };
    Ok(snapshot::write(
        path,
        machine.domain_xml,
        &state,
        machine.memory,
    )?)
}

/// Builds the machine saved in `path` as boot number `generation` and
/// starts its vCPUs where they stopped. `config` comes from the file's (or
/// a given) domain XML; its vCPUs and memory must match the saved VM.
#[allow(clippy::too_many_arguments)]
pub fn restore(
    kvm: &Kvm,
    config: &VmConfig,
    hub: &Arc<ConsoleHub>,
    events: &Sender<MachineEvent>,
    generation: u64,
    path: &Path,
    display: Option<&Arc<Display>>,
    balloon: Option<&BalloonControl>,
) -> Result<Instance, BuildError> {
    let mut reader = SnapshotReader::open(path)?;
    reader.domain_xml()?;
    let state = reader.machine_state()?;
    if state.vcpus.len() != config.vcpus as usize {
        return Err(SnapshotError::Mismatch {
            path: path.display().to_string(),
            detail: format!(
                "it holds {} vCPUs, the domain has {}",
                state.vcpus.len(),
                config.vcpus
            ),
        }
        .into());
    }
    // Memory first, in full: the end record's checksum is verified before
    // anything runs.
    let guest_memory = create_guest_memory(config.memory_bytes)?;
    memory::read_regions(&mut reader, &guest_memory)?;
    let mut vm = Vm::new(kvm, &guest_memory)?;
    persist::check_xsave(vm.fd())?;
    let saved_virtio: Vec<SavedVirtioDevice> = state
        .devices
        .virtio
        .iter()
        .map(|v| serde_json::from_value(v.clone()))
        .collect::<Result<_, _>>()
        .map_err(|e| SnapshotError::Corrupt {
            path: path.display().to_string(),
            detail: format!("a virtio device's state cannot be decoded: {e}"),
        })?;
    let (virtio_devices, inputs) =
        devices_and_inputs_from_config(&config.devices, balloon).map_err(DeviceError::from)?;
    let virtio =
        VirtioDevices::create(&vm, &guest_memory, virtio_devices).map_err(DeviceError::from)?;
    let devices = LegacyDevices::restore(
        &vm,
        hub,
        guest_event_sink(events, generation),
        &state.devices,
        |io, mmio| virtio.attach(io, mmio),
    )?;
    virtio
        .restore_state(&saved_virtio)
        .map_err(DeviceError::from)?;
    // The screen's memory is not in the file: the guest repaints it.
    attach_display(&mut vm, &devices, display, inputs)?;
    // The interrupt controllers after the devices wired their lines, so
    // the saved pin states win; the clock before any vCPU runs.
    persist::restore_vm(vm.fd(), &state.vm)?;
    let mut fds = Vec::with_capacity(state.vcpus.len());
    for (index, saved) in state.vcpus.iter().enumerate() {
        let fd = vm
            .fd()
            .create_vcpu(index as u64)
            .map_err(|e| BuildError::Vcpu {
                index: index as u32,
                reason: format!("KVM_CREATE_VCPU: {e}"),
            })?;
        persist::restore_vcpu(&fd, index, saved)?;
        fds.push(fd);
    }
    Instance::start(fds, devices, virtio, vm, guest_memory, events, generation)
}
