//! The KVM VM: memory slots, the in-kernel irqchip (PIC + IOAPIC), the PIT,
//! and interrupt lines for devices.

use super::irq_routing::GsiRouting;
use crate::vmm::arch::layout;
use crate::vmm::display::framebuffer::FramebufferMemory;
use crate::vmm::display::DirtyLog;
use kvm_bindings::{
    kvm_pit_config, kvm_userspace_memory_region, KVM_MEM_LOG_DIRTY_PAGES, KVM_PIT_SPEAKER_DUMMY,
};
use kvm_ioctls::{Kvm, VmFd};
use std::sync::Arc;
use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};
use vmm_sys_util::eventfd::EventFd;

/// Errors creating or wiring the VM.
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// A KVM ioctl failed.
    #[error("{what}: {source}")]
    Kvm {
        /// What was being done.
        what: &'static str,
        /// The ioctl's error.
        source: kvm_ioctls::Error,
    },
    /// An eventfd could not be created.
    #[error("cannot create an eventfd: {0}")]
    EventFd(std::io::Error),
    /// Guest memory has no host address (cannot happen with mmap regions).
    #[error("guest memory region has no host mapping")]
    NoHostAddress,
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> VmError {
    move |source| VmError::Kvm { what, source }
}

/// A VM with its memory registered and its interrupt controllers created.
pub struct Vm {
    fd: Arc<VmFd>,
    /// Memory slots in use (RAM regions first).
    slots: u32,
    routing: Arc<GsiRouting>,
}

impl Vm {
    /// Creates the VM, the irqchip and PIT, and registers `memory`.
    pub fn new(kvm_sys: &Kvm, memory: &GuestMemoryMmap) -> Result<Vm, VmError> {
        let fd = kvm_sys.create_vm().map_err(kvm("KVM_CREATE_VM"))?;
        fd.set_tss_address(layout::KVM_TSS_START as usize)
            .map_err(kvm("KVM_SET_TSS_ADDR"))?;
        fd.set_identity_map_address(layout::KVM_IDENTITY_MAP_START)
            .map_err(kvm("KVM_SET_IDENTITY_MAP_ADDR"))?;
        fd.create_irq_chip().map_err(kvm("KVM_CREATE_IRQCHIP"))?;
        let pit = kvm_pit_config {
            flags: KVM_PIT_SPEAKER_DUMMY,
            ..Default::default()
        };
        fd.create_pit2(pit).map_err(kvm("KVM_CREATE_PIT2"))?;
        for (slot, region) in memory.iter().enumerate() {
            let host = region
                .get_host_address(vm_memory::MemoryRegionAddress(0))
                .map_err(|_| VmError::NoHostAddress)?;
            let mr = kvm_userspace_memory_region {
                slot: slot as u32,
                flags: 0,
                guest_phys_addr: region.start_addr().0,
                memory_size: region.len(),
                userspace_addr: host as u64,
            };
            // SAFETY: the region is a live mapping owned by `memory`, which the
            // caller keeps alive for as long as this VM runs (the machine
            // holds both and drops the VM's vCPUs and fd first).
            unsafe { fd.set_user_memory_region(mr) }.map_err(kvm("KVM_SET_USER_MEMORY_REGION"))?;
        }
        let fd = Arc::new(fd);
        let routing = Arc::new(GsiRouting::new(Arc::clone(&fd)));
        Ok(Vm {
            fd,
            slots: memory.num_regions() as u32,
            routing,
        })
    }

    /// Maps `framebuffer` at `guest_address` as its own memory slot with
    /// dirty page logging, and returns the reader of its dirty log.
    pub fn add_framebuffer(
        &mut self,
        framebuffer: &Arc<FramebufferMemory>,
        guest_address: u64,
    ) -> Result<DirtyLog, VmError> {
        let slot = self.slots;
        let size = framebuffer.len();
        let mr = kvm_userspace_memory_region {
            slot,
            flags: KVM_MEM_LOG_DIRTY_PAGES,
            guest_phys_addr: guest_address,
            memory_size: size as u64,
            userspace_addr: framebuffer.host_address(),
        };
        // SAFETY: the mapping belongs to `framebuffer`; the returned reader
        // holds an Arc on it, and the display that owns it outlives every
        // boot's VM (the machine drops the VM before the display).
        unsafe { self.fd.set_user_memory_region(mr) }
            .map_err(kvm("KVM_SET_USER_MEMORY_REGION (framebuffer)"))?;
        self.slots += 1;
        let fd = Arc::clone(&self.fd);
        let keep = Arc::clone(framebuffer);
        Ok(Box::new(move || {
            let _ = &keep;
            fd.get_dirty_log(slot, size).ok()
        }))
    }

    /// The KVM VM file descriptor.
    pub fn fd(&self) -> &VmFd {
        &self.fd
    }

    /// The VM fd for devices that register ioeventfds or irqfds while the
    /// guest runs (virtio-pci when the guest moves a BAR).
    pub fn shared_fd(&self) -> Arc<VmFd> {
        Arc::clone(&self.fd)
    }

    /// The GSI routing table (MSI routes next to the irqchip pins).
    pub fn routing(&self) -> Arc<GsiRouting> {
        Arc::clone(&self.routing)
    }

    /// An edge-triggered interrupt line: writing to the returned eventfd
    /// raises `gsi` (KVM irqfd).
    pub fn irq_eventfd(&self, gsi: u32) -> Result<EventFd, VmError> {
        let evt = EventFd::new(libc::EFD_NONBLOCK).map_err(VmError::EventFd)?;
        self.fd
            .register_irqfd(&evt, gsi)
            .map_err(kvm("KVM_IRQFD"))?;
        Ok(evt)
    }

    /// A level-triggered interrupt line on `gsi`, driven with KVM_IRQ_LINE.
    pub fn level_irq(&self, gsi: u32) -> LevelIrq {
        LevelIrq {
            fd: Arc::clone(&self.fd),
            gsi,
        }
    }
}

/// A level-triggered interrupt line whose level a device sets.
#[derive(Clone)]
pub struct LevelIrq {
    fd: Arc<VmFd>,
    gsi: u32,
}

impl LevelIrq {
    /// Drives the line high (`true`) or low.
    pub fn set(&self, level: bool) -> Result<(), VmError> {
        self.fd
            .set_irq_line(self.gsi, level)
            .map_err(kvm("KVM_IRQ_LINE"))
    }
}
