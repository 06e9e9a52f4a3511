//! x86-64: the 64-bit Linux and PVH boot protocols, CPUID, MSRs, LAPIC and ACPI.

pub mod acpi;
pub mod boot_params;
pub mod cpuid;
pub mod gdt;
pub mod kernel_image;
pub mod layout;
pub mod pvh;
pub mod regs;

/// Errors setting up the x86-64 machine.
#[derive(Debug, thiserror::Error)]
pub enum ArchError {
    /// A KVM ioctl on a vCPU failed.
    #[error("{what}: {source}")]
    Kvm {
        /// What was being set up.
        what: &'static str,
        /// The ioctl's error.
        source: kvm_ioctls::Error,
    },
    /// Writing a boot structure into guest memory failed.
    #[error("cannot write the {what} into guest memory: {source}")]
    GuestMemory {
        /// Which structure.
        what: &'static str,
        /// The memory error.
        source: vm_memory::GuestMemoryError,
    },
    /// The initrd does not fit below the kernel's limit.
    #[error("the initrd ({size} bytes) does not fit in guest memory below {limit:#x}")]
    InitrdTooLarge {
        /// Size of the initrd.
        size: u64,
        /// Highest address the kernel accepts.
        limit: u64,
    },
    /// The kernel's command line is too long for its boot protocol.
    #[error("the kernel command line is {len} bytes; this kernel accepts at most {max}")]
    CmdlineTooLong {
        /// Length with the terminating NUL.
        len: usize,
        /// The kernel's `cmdline_size`.
        max: usize,
    },
    /// A KVM array (MSRs, CPUID) could not be built.
    #[error("cannot build the {0} list")]
    FamList(&'static str),
}
