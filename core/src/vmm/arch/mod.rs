//! Architecture-specific parts of the VM: memory layout, vCPU registers,
//! CPUID, boot parameters and firmware tables. The rest of the VMM uses the
//! names re-exported here and never mentions x86 itself.

#[cfg(target_arch = "x86_64")]
pub mod x86_64;

#[cfg(target_arch = "x86_64")]
pub use self::x86_64::{
    acpi::{write_tables as write_acpi_tables, AcpiConfig},
    boot_params::{configure_boot, initrd_address, BootImage},
    cpuid::normalize_cpuid,
    kernel_image, layout,
    pvh::{configure_pvh_boot, PvhBoot},
    regs::{configure_vcpu, BootEntry},
    ArchError,
};
