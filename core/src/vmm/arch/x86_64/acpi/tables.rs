//! The individual ACPI tables.

use super::aml;
use super::sdt::{checksum, Sdt, OEM_ID};
use crate::vmm::arch::x86_64::layout::*;

/// FADT flags: WBINVD works, C1 supported, no fixed sleep button. The
/// power button is the fixed-feature one (PWR_BUTTON flag clear).
const FADT_FLAGS: u32 = 1 | (1 << 2) | (1 << 5);
/// IA-PC boot flags: 8042 present, no VGA, no CMOS RTC.
const IAPC_BOOT_ARCH: u16 = (1 << 1) | (1 << 2) | (1 << 5);
/// MADT interrupt override flags: active high, level triggered.
const MPS_ACTIVE_HIGH_LEVEL: u16 = 0x1 | (0x3 << 2);
/// `\_S5` SLP_TYP value the guest writes to PM1a control to power off.
pub const S5_SLP_TYP: u32 = 5;

/// The RSDP (ACPI 2.0+) pointing at the XSDT.
pub fn rsdp(xsdt: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(36);
    b.extend_from_slice(b"RSD PTR ");
    b.push(0); // checksum of the first 20 bytes
    b.extend_from_slice(OEM_ID);
    b.push(2); // revision
    b.extend_from_slice(&0u32.to_le_bytes()); // no RSDT
    b.extend_from_slice(&36u32.to_le_bytes());
    b.extend_from_slice(&xsdt.to_le_bytes());
    b.push(0); // extended checksum
    b.extend_from_slice(&[0; 3]);
    b[8] = checksum(&b[..20]);
    b[32] = checksum(&b);
    b
}

/// The XSDT listing `tables`.
pub fn xsdt(tables: &[u64]) -> Vec<u8> {
    let mut t = Sdt::new(b"XSDT", 1);
    for addr in tables {
        t.u64(*addr);
    }
    t.finish()
}

/// The FACS (no checksum, 64 bytes).
pub fn facs() -> Vec<u8> {
    let mut b = vec![0u8; 64];
    b[0..4].copy_from_slice(b"FACS");
    b[4..8].copy_from_slice(&64u32.to_le_bytes());
    b[32] = 2; // version
    b
}

/// The FADT, revision 6.
pub fn fadt(facs: u64, dsdt: u64) -> Vec<u8> {
    let mut t = Sdt::new(b"FACP", 6);
    t.u32(facs as u32)
        .u32(dsdt as u32)
        .u8(0)
        .u8(0) // preferred PM profile: unspecified
        .u16(SCI_IRQ as u16)
        .u32(0) // SMI_CMD: none, the machine is always in ACPI mode
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u32(u32::from(PM1A_EVT_PORT))
        .u32(0)
        .u32(u32::from(PM1A_CNT_PORT))
        .u32(0)
        .u32(0) // PM2 control
        .u32(0) // PM timer
        .u32(0) // GPE0
        .u32(0) // GPE1
        .u8(PM1A_EVT_LEN)
        .u8(PM1A_CNT_LEN)
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u16(101) // C2 latency > 100: no C2
        .u16(1001) // C3 latency > 1000: no C3
        .u16(0)
        .u16(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u8(0)
        .u16(IAPC_BOOT_ARCH)
        .u8(0)
        .u32(FADT_FLAGS)
        .io_gas(0, 0) // reset register: none (the i8042 resets)
        .u8(0)
        .u16(0) // ARM boot flags
        .u8(5) // minor version: 6.5
        .u64(facs)
        .u64(dsdt)
        .io_gas(PM1A_EVT_PORT, PM1A_EVT_LEN * 8)
        .io_gas(0, 0)
        .io_gas(PM1A_CNT_PORT, PM1A_CNT_LEN * 8)
        .io_gas(0, 0)
        .io_gas(0, 0) // PM2
        .io_gas(0, 0) // PM timer
        .io_gas(0, 0) // GPE0
        .io_gas(0, 0) // GPE1
        .io_gas(0, 0) // sleep control
        .io_gas(0, 0) // sleep status
        .bytes(b"HANGARVM"); // hypervisor vendor identity
    t.finish()
}

/// The MADT: a local APIC per vCPU, the IOAPIC, the SCI override and LINT1
/// as NMI on every processor.
pub fn madt(vcpus: u32) -> Vec<u8> {
    let mut t = Sdt::new(b"APIC", 5);
    t.u32(LAPIC_START as u32).u32(1); // PCAT_COMPAT: there are 8259s too
    for id in 0..vcpus {
        // Processor Local APIC: uid, APIC id, enabled.
        t.u8(0).u8(8).u8(id as u8).u8(id as u8).u32(1);
    }
    // IOAPIC 0 at its MMIO address, GSIs from 0.
    t.u8(1).u8(12).u8(0).u8(0).u32(IOAPIC_START as u32).u32(0);
    // ISA IRQ 9 (the SCI) is GSI 9, level triggered, active high.
    t.u8(2)
        .u8(10)
        .u8(0)
        .u8(SCI_IRQ as u8)
        .u32(SCI_IRQ)
        .u16(MPS_ACTIVE_HIGH_LEVEL);
    // Local APIC NMI on LINT1 for all processors.
    t.u8(4).u8(6).u8(0xff).u16(0).u8(1);
    t.finish()
}

/// The DSDT: the PCI root bridge and the S5 sleep type the guest uses to
/// power off.
pub fn dsdt() -> Vec<u8> {
    let mut t = Sdt::new(b"DSDT", 2);
    t.bytes(&super::pci::root_bridge());
    t.bytes(&aml::name(
        "_S5",
        aml::package(&[
            aml::integer(S5_SLP_TYP),
            aml::integer(S5_SLP_TYP),
            aml::integer(0),
            aml::integer(0),
        ]),
    ));
    t.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sums_to_zero(b: &[u8]) -> bool {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x)) == 0
    }

    #[test]
    fn fadt_has_revision_6_length() {
        let f = fadt(0x1000, 0x2000);
        assert_eq!(f.len(), 276);
        assert!(sums_to_zero(&f));
        // X_DSDT at offset 140.
        assert_eq!(&f[140..148], &0x2000u64.to_le_bytes());
        assert_eq!(&f[46..48], &9u16.to_le_bytes());
    }

    #[test]
    fn madt_lists_every_vcpu() {
        let m = madt(3);
        assert!(sums_to_zero(&m));
        let lapics = m[44..]
            .chunks(8)
            .take(3)
            .filter(|c| c[0] == 0 && c[1] == 8)
            .count();
        assert_eq!(lapics, 3);
    }

    #[test]
    fn rsdp_checksums() {
        let r = rsdp(0xe0100);
        assert_eq!(r.len(), 36);
        assert!(sums_to_zero(&r[..20]));
        assert!(sums_to_zero(&r));
    }
}
