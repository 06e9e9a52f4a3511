//! ACPI tables: RSDP → XSDT → FADT (→ FACS, DSDT) and MADT.
//!
//! The FADT describes a PC with the fixed-feature power button and a PM1
//! event/control block in I/O space (served by `devices::legacy::AcpiPm`):
//! pressing the button raises the SCI, and the guest powers off by writing
//! S5 (declared by `\_S5` in the DSDT) to PM1a control. The DSDT also
//! describes the PCI root bridge (`\_SB.PCI0`, see `pci`). The MADT lists one
//! local APIC per vCPU, the IOAPIC and the SCI's interrupt override.

mod aml;
mod pci;
mod sdt;
mod tables;

use super::layout::{ACPI_SIZE, ACPI_START};
use super::ArchError;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// What the tables describe.
#[derive(Debug, Clone, Copy)]
pub struct AcpiConfig {
    /// Number of vCPUs (APIC ids 0..vcpus).
    pub vcpus: u32,
}

/// Alignment of each table in the ACPI area.
const TABLE_ALIGN: u64 = 64;

/// Writes every table into the ACPI area; returns the RSDP's address.
pub fn write_tables(mem: &GuestMemoryMmap, config: &AcpiConfig) -> Result<u64, ArchError> {
    let mut next = ACPI_START + TABLE_ALIGN; // the RSDP comes first
    let mut place = |len: usize| {
        let at = next;
        next = (next + len as u64).div_ceil(TABLE_ALIGN) * TABLE_ALIGN;
        at
    };
    let dsdt = tables::dsdt();
    let dsdt_at = place(dsdt.len());
    let facs = tables::facs();
    let facs_at = place(facs.len());
    let fadt = tables::fadt(facs_at, dsdt_at);
    let fadt_at = place(fadt.len());
    let madt = tables::madt(config.vcpus);
    let madt_at = place(madt.len());
    let xsdt = tables::xsdt(&[fadt_at, madt_at]);
    let xsdt_at = place(xsdt.len());
    let rsdp = tables::rsdp(xsdt_at);
    let end = place(0);
    if end > ACPI_START + ACPI_SIZE {
        return Err(ArchError::FamList("ACPI table"));
    }
    let gm = |source| ArchError::GuestMemory {
        what: "ACPI tables",
        source,
    };
    for (at, bytes) in [
        (ACPI_START, &rsdp),
        (dsdt_at, &dsdt),
        (facs_at, &facs),
        (fadt_at, &fadt),
        (madt_at, &madt),
        (xsdt_at, &xsdt),
    ] {
        mem.write_slice(bytes, GuestAddress(at)).map_err(gm)?;
    }
    Ok(ACPI_START)
}
