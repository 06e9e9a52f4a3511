//! The PCI root bridge in the DSDT: `\_SB.PCI0`, a PNP0A03 host bridge on
//! segment 0, bus 0, whose `_CRS` gives the kernel the bus range, the
//! configuration ports, an I/O window and the 32-bit memory window the
//! BARs live in, and whose `_PRT` maps each slot's INTA#..INTD# to IOAPIC
//! pins 16..23 (the usual swizzle: slot + pin, modulo 8).
//!
//! Without this the kernel never scans the bus (ACPI machines find their
//! root bridges only here).

use super::aml;
use crate::vmm::arch::x86_64::layout::{
    PCI_CONFIG_PORT, PCI_INTX_GSI_BASE, PCI_MMIO32_SIZE, PCI_MMIO32_START,
};

/// Slots on bus 0.
const SLOTS: u32 = 32;

/// Address space descriptor general flags: a bridge window (producer)
/// with fixed minimum and maximum.
const WINDOW_FLAGS: u8 = 0x0c;

/// Word Address Space Descriptor (bus numbers, I/O ranges).
fn word_space(kind: u8, type_flags: u8, min: u16, max: u16) -> Vec<u8> {
    let mut d = vec![0x88, 0x0d, 0x00, kind, WINDOW_FLAGS, type_flags];
    for v in [0u16, min, max, 0, max.wrapping_sub(min).wrapping_add(1)] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

/// DWord Address Space Descriptor for a memory window.
fn dword_memory(min: u32, max: u32) -> Vec<u8> {
    // Type flags: read-write, non-cacheable.
    let mut d = vec![0x87, 0x17, 0x00, 0x00, WINDOW_FLAGS, 0x01];
    for v in [0u32, min, max, 0, max.wrapping_sub(min).wrapping_add(1)] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

/// I/O Port Descriptor, 16-bit decode.
fn io_ports(base: u16, len: u8) -> Vec<u8> {
    let mut d = vec![0x47, 0x01];
    d.extend_from_slice(&base.to_le_bytes());
    d.extend_from_slice(&base.to_le_bytes());
    d.push(1);
    d.push(len);
    d
}

/// The root bridge's resources.
fn crs() -> Vec<u8> {
    let mut r = word_space(2, 0, 0, 0); // bus 0
    r.extend(io_ports(PCI_CONFIG_PORT, 8));
    // I/O windows around the configuration ports (ISA and non-ISA ranges).
    r.extend(word_space(1, 0x03, 0x0000, PCI_CONFIG_PORT - 1));
    r.extend(word_space(1, 0x03, PCI_CONFIG_PORT + 8, 0xffff));
    r.extend(dword_memory(
        PCI_MMIO32_START as u32,
        (PCI_MMIO32_START + PCI_MMIO32_SIZE - 1) as u32,
    ));
    r.extend([0x79, 0x00]); // end tag, checksum 0 (ignored)
    r
}

/// The interrupt routing table.
fn prt() -> Vec<u8> {
    let entries: Vec<Vec<u8>> = (1..SLOTS)
        .flat_map(|slot| {
            (0..4u32).map(move |pin| {
                aml::package(&[
                    aml::integer(slot << 16 | 0xffff),
                    aml::integer(pin),
                    aml::integer(0),
                    aml::integer(PCI_INTX_GSI_BASE + (slot + pin) % 8),
                ])
            })
        })
        .collect();
    aml::package(&entries)
}

/// `Scope(\_SB) { Device(PCI0) { … } }`.
pub fn root_bridge() -> Vec<u8> {
    let pci0 = aml::device(
        "PCI0",
        &[
            aml::name("_HID", aml::eisa_id("PNP0A03")),
            aml::name("_UID", aml::integer(0)),
            aml::name("_SEG", aml::integer(0)),
            aml::name("_BBN", aml::integer(0)),
            aml::name("_ADR", aml::integer(0)),
            aml::name("_CRS", aml::buffer(&crs())),
            aml::name("_PRT", prt()),
        ],
    );
    aml::root_scope("_SB", &[pci0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_describe_the_bus_the_ports_and_the_windows() {
        let r = crs();
        // Bus 0..0 (length 1), the 8 configuration ports, two I/O windows,
        // the memory window, the end tag.
        assert_eq!(r.len(), 16 + 8 + 16 + 16 + 26 + 2);
        assert_eq!(&r[16..24], &[0x47, 1, 0xf8, 0x0c, 0xf8, 0x0c, 1, 8]);
        let mem = &r[56..82];
        assert_eq!(mem[0], 0x87);
        assert_eq!(&mem[10..14], &0xc000_0000u32.to_le_bytes());
        assert_eq!(&mem[14..18], &0xdfff_ffffu32.to_le_bytes());
        assert_eq!(&mem[22..26], &0x2000_0000u32.to_le_bytes());
        assert_eq!(&r[r.len() - 2..], &[0x79, 0]);
    }

    #[test]
    fn prt_swizzles_pins_over_gsi_16_to_23() {
        let p = prt();
        assert_eq!(p[0], 0x12);
        // 31 slots of 4 pins.
        let count_at = if p[1] & 0xc0 == 0x40 { 3 } else { 4 };
        assert_eq!(p[count_at], 124);
        // Slot 1 INTA# → GSI 17: Package(4) { 0x0001FFFF, Zero, Zero, 17 }.
        let first = &p[count_at + 1..count_at + 1 + 12];
        assert_eq!(
            first,
            &[0x12, 0x0b, 4, 0x0c, 0xff, 0xff, 1, 0, 0, 0, 0x0a, 17]
        );
    }
}
