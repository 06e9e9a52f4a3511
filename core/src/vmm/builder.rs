//! Building one boot of the machine: guest memory, the KVM VM, devices on
//! the buses, the kernel and initrd loaded, boot tables written, vCPUs set
//! up and started. A reboot builds a new instance from scratch.

use super::arch::{
    self, initrd_address, layout, AcpiConfig, ArchError, BootEntry, BootImage, PvhBoot,
};
use super::config::VmConfig;
use super::console::ConsoleHub;
use super::device_manager::virtio::{devices_and_inputs_from_config, VirtioDevices};
use super::device_manager::{
    DeviceError, GuestEventSink, GuestInput, I8042Keyboard, LegacyDevices,
};
use super::devices::virtio::balloon::BalloonControl;
use super::devices::virtio::input::InputHandle;
use super::display::framebuffer::LinearFramebufferInfo;
use super::display::{Display, InputSink};
use super::kernel::{load_kernel, KernelEntry, KernelError};
use super::vstate::memory::{create_guest_memory, MemoryError};
use super::vstate::vcpu::VcpuSet;
use super::vstate::vm::{Vm, VmError};
use super::{GuestEvent, MachineEvent};
use kvm_ioctls::Kvm;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;
use std::sync::mpsc::Sender;
use std::sync::Arc;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Errors building a machine.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A boot file cannot be read.
    #[error("cannot read {what} {path}: {source}")]
    File {
        /// "kernel" or "initrd".
        what: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The kernel cannot be loaded.
    #[error(transparent)]
    Kernel(#[from] KernelError),
    /// Guest memory.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// The KVM VM.
    #[error(transparent)]
    Vm(#[from] VmError),
    /// Boot structures and vCPU setup.
    #[error(transparent)]
    Arch(#[from] ArchError),
    /// Devices.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// The snapshot to restore cannot be used.
    #[error(transparent)]
    Snapshot(#[from] crate::vmm::snapshot::SnapshotError),
    /// KVM refused the saved state.
    #[error("cannot restore the saved VM: {0}")]
    Persist(#[from] crate::vmm::vstate::persist::PersistError),
    /// A vCPU could not be created or started.
    #[error("vCPU {index}: {reason}")]
    Vcpu {
        /// Which vCPU.
        index: u32,
        /// Why.
        reason: String,
    },
}

fn open(what: &'static str, path: &Path) -> Result<File, BuildError> {
    File::open(path).map_err(|source| BuildError::File {
        what,
        path: path.display().to_string(),
        source,
    })
}

/// Checks, before anything is created, that the kernel is a bzImage and the
/// initrd is readable.
pub fn check_boot_files(config: &VmConfig) -> Result<(), BuildError> {
    let mut kernel = open("kernel", &config.kernel)?;
    let mut header = [0u8; 0x206];
    let ok = kernel.seek(SeekFrom::Start(0)).is_ok() && kernel.read_exact(&mut header).is_ok();
    if !ok || &header[0x202..0x206] != b"HdrS" {
        return Err(BuildError::Kernel(KernelError::NotBzImage {
            path: config.kernel.display().to_string(),
            reason: "no \"HdrS\" setup header at offset 0x202".into(),
        }));
    }
    if let Some(initrd) = &config.initrd {
        open("initrd", initrd)?;
    }
    Ok(())
}

/// One running boot of the machine. Dropping it without [`Instance::stop`]
/// leaves vCPU threads running: always stop it.
pub struct Instance {
    /// vCPU threads.
    pub vcpus: VcpuSet,
    /// The legacy devices (the power button lives there).
    pub devices: LegacyDevices,
    /// The virtio devices on the PCI bus.
    pub virtio: VirtioDevices,
    /// The KVM VM; declared after the vCPUs so that it is dropped after them.
    pub vm: Vm,
    /// Guest memory, dropped last.
    pub memory: GuestMemoryMmap,
}

impl Instance {
    /// Starts the vCPU threads of `fds` (already set up, for a fresh boot or
    /// from a snapshot) over the devices' buses.
    pub fn start(
        fds: Vec<kvm_ioctls::VcpuFd>,
        devices: LegacyDevices,
        virtio: VirtioDevices,
        vm: Vm,
        memory: GuestMemoryMmap,
        events: &Sender<MachineEvent>,
        generation: u64,
    ) -> Result<Instance, BuildError> {
        let vcpus = VcpuSet::start(
            fds,
            Arc::clone(&devices.io_bus),
            Arc::clone(&devices.mmio_bus),
            events.clone(),
            generation,
        )
        .map_err(|e| BuildError::Vcpu {
            index: 0,
            reason: format!("cannot start thread: {e}"),
        })?;
        Ok(Instance {
            vcpus,
            devices,
            virtio,
            vm,
            memory,
        })
    }

    /// Stops the vCPUs and releases the VM and its memory.
    pub fn stop(self) {
        self.vcpus.stop();
        // Device workers end before the VM and its memory go away.
        self.virtio.stop();
    }
}

/// Where the devices of boot `generation` report power-off and reset.
pub fn guest_event_sink(events: &Sender<MachineEvent>, generation: u64) -> GuestEventSink {
    let events = events.clone();
    Arc::new(move |event: GuestEvent| {
        let _ = events.send(MachineEvent::Guest { generation, event });
    })
}

/// Maps `display`'s framebuffer into `vm` and gives it the keyboards and
/// the pointer (the i8042 and the virtio-input devices `inputs`).
pub fn attach_display(
    vm: &mut Vm,
    devices: &LegacyDevices,
    display: Option<&Arc<Display>>,
    inputs: Vec<InputHandle>,
) -> Result<Option<LinearFramebufferInfo>, BuildError> {
    let Some(display) = display else {
        return Ok(None);
    };
    let dirty_log = vm.add_framebuffer(display.memory(), layout::FRAMEBUFFER_START)?;
    let input: Arc<dyn InputSink> = Arc::new(GuestInput {
        i8042: I8042Keyboard(Arc::clone(&devices.i8042)),
        virtio: inputs,
    });
    display.attach(Some(dirty_log), Some(input));
    Ok(Some(LinearFramebufferInfo {
        base: layout::FRAMEBUFFER_START,
        size: display.memory().len() as u64,
        mode: display.mode(),
    }))
}

/// Builds and starts boot number `generation` of the machine, with its
/// screen on `display` when it has one.
pub fn build(
    kvm: &Kvm,
    config: &VmConfig,
    hub: &Arc<ConsoleHub>,
    events: &Sender<MachineEvent>,
    generation: u64,
    display: Option<&Arc<Display>>,
    balloon: Option<&BalloonControl>,
) -> Result<Instance, BuildError> {
    let memory = create_guest_memory(config.memory_bytes)?;
    let mut vm = Vm::new(kvm, &memory)?;
    let (virtio_devices, inputs) =
        devices_and_inputs_from_config(&config.devices, balloon).map_err(DeviceError::from)?;
    let virtio = VirtioDevices::create(&vm, &memory, virtio_devices).map_err(DeviceError::from)?;
    let devices = LegacyDevices::create(
        &vm,
        hub,
        guest_event_sink(events, generation),
        |io, mmio| virtio.attach(io, mmio),
    )?;
    let framebuffer = attach_display(&mut vm, &devices, display, inputs)?;

    // Kernel, initrd, command line, zero page or PVH start info, ACPI.
    let loaded = load_kernel(&memory, &config.kernel, framebuffer.is_none())?;
    eprintln!("hangar-vmm: boot path: {}", loaded.describe());
    let header = loaded.header;
    let initrd = match &config.initrd {
        Some(path) => Some(load_initrd(
            &memory,
            path,
            &header,
            config,
            loaded.kernel_end,
        )?),
        None => None,
    };
    let rsdp = arch::write_acpi_tables(
        &memory,
        &AcpiConfig {
            vcpus: config.vcpus,
        },
    )?;
    let boot_entry = match loaded.entry {
        KernelEntry::Pvh { entry } => BootEntry::Pvh {
            entry,
            start_info: arch::configure_pvh_boot(
                &memory,
                &PvhBoot {
                    header,
                    cmdline: &config.cmdline,
                    initrd,
                    mem_size: config.memory_bytes,
                    rsdp,
                },
            )?,
        },
        KernelEntry::Linux64 { entry, .. } => {
            arch::configure_boot(
                &memory,
                &BootImage {
                    header,
                    cmdline: &config.cmdline,
                    initrd,
                    mem_size: config.memory_bytes,
                    rsdp,
                    framebuffer,
                },
            )?;
            BootEntry::Linux64 { entry }
        }
    };

    // vCPUs: the boot vCPU enters the kernel, the others wait for INIT/SIPI.
    let supported = kvm
        .get_supported_cpuid(kvm_bindings::KVM_MAX_CPUID_ENTRIES)
        .map_err(|e| BuildError::Vcpu {
            index: 0,
            reason: format!("KVM_GET_SUPPORTED_CPUID: {e}"),
        })?;
    let mut fds = Vec::with_capacity(config.vcpus as usize);
    for index in 0..config.vcpus {
        let fd = vm
            .fd()
            .create_vcpu(u64::from(index))
            .map_err(|e| BuildError::Vcpu {
                index,
                reason: format!("KVM_CREATE_VCPU: {e}"),
            })?;
        let mut cpuid = supported.clone();
        arch::normalize_cpuid(&mut cpuid, index, config.vcpus);
        let boot = (index == 0).then_some(boot_entry);
        arch::configure_vcpu(&fd, &memory, &cpuid, boot)?;
        fds.push(fd);
    }
    Instance::start(fds, devices, virtio, vm, memory, events, generation)
}

fn load_initrd(
    memory: &GuestMemoryMmap,
    path: &Path,
    header: &linux_loader::bootparam::setup_header,
    config: &VmConfig,
    kernel_end: u64,
) -> Result<(u64, u64), BuildError> {
    let mut file = open("initrd", path)?;
    let size = file
        .seek(SeekFrom::End(0))
        .and_then(|s| file.seek(SeekFrom::Start(0)).map(|_| s))
        .map_err(|source| BuildError::File {
            what: "initrd",
            path: path.display().to_string(),
            source,
        })?;
    let addr = initrd_address(header, config.memory_bytes, kernel_end, size)?;
    memory
        .read_exact_volatile_from(GuestAddress(addr), &mut file, size as usize)
        .map_err(|e| BuildError::File {
            what: "initrd",
            path: path.display().to_string(),
            source: std::io::Error::other(e.to_string()),
        })?;
    Ok((addr, size))
}
