//! Where things live in guest physical memory, and the fixed I/O ports.
//!
//! Low memory (below 1 MiB) holds the boot structures; the kernel is loaded
//! at 1 MiB; RAM above [`MMIO_GAP_START`] continues at 4 GiB so the top of
//! the 32-bit space stays free for the LAPIC, IOAPIC and device windows.

/// GDT used while entering the kernel.
pub const BOOT_GDT_START: u64 = 0x500;
/// IDT (empty: the kernel installs its own before enabling interrupts).
pub const BOOT_IDT_START: u64 = 0x520;
/// The PVH boot's `hvm_start_info`, then its module list and memory map.
pub const PVH_INFO_START: u64 = 0x6000;
/// The PVH module list (one entry: the initrd).
pub const PVH_MODLIST_START: u64 = 0x6040;
/// The PVH memory map (`hvm_memmap_table_entry` array), up to the zero page.
pub const PVH_MEMMAP_START: u64 = 0x6080;
/// The zero page (`struct boot_params`).
pub const ZERO_PAGE_START: u64 = 0x7000;
/// Initial stack pointer for the boot vCPU.
pub const BOOT_STACK_POINTER: u64 = 0x8ff0;
/// PML4 of the identity-mapped boot page tables.
pub const PML4_START: u64 = 0x9000;
/// The single PDPT.
pub const PDPT_START: u64 = 0xa000;
/// Four page directories of 2 MiB pages: the first 4 GiB identity-mapped.
pub const PD_START: u64 = 0xb000;
/// Number of page directories after [`PD_START`].
pub const PD_COUNT: u64 = 4;
/// The kernel command line.
pub const CMDLINE_START: u64 = 0x20000;
/// Most bytes of command line we place (the kernel may accept fewer).
pub const CMDLINE_MAX_SIZE: usize = 0x10000;
/// Start of the area below 1 MiB that the e820 map marks reserved.
pub const EBDA_START: u64 = 0x9fc00;
/// ACPI tables: the RSDP first, where the kernel also scans for it.
pub const ACPI_START: u64 = 0xe0000;
/// Size of the ACPI area.
pub const ACPI_SIZE: u64 = 0x20000;
/// Where the kernel is loaded (the bzImage's default `code32_start`).
pub const HIMEM_START: u64 = 0x10_0000;
/// Start of the 32-bit device window; RAM above this moves to 4 GiB.
pub const MMIO_GAP_START: u64 = 0xc000_0000;
/// First address above the 32-bit device window.
pub const MMIO_GAP_END: u64 = 0x1_0000_0000;
/// 32-bit window for PCI BARs (virtio-pci devices), inside the MMIO gap.
pub const PCI_MMIO32_START: u64 = 0xc000_0000;
/// Size of the 32-bit PCI BAR window.
pub const PCI_MMIO32_SIZE: u64 = 0x2000_0000;
/// The guest's linear framebuffer (VESA/simple framebuffer), after the PCI
/// window; large enough for 2560x1600 at 32 bpp.
pub const FRAMEBUFFER_START: u64 = 0xe000_0000;
/// Largest framebuffer the guest can be given.
pub const FRAMEBUFFER_MAX_SIZE: u64 = 0x0200_0000;
/// PCI Express enhanced configuration space (ECAM, MCFG table), bus 0..15.
pub const PCI_ECAM_START: u64 = 0xe800_0000;
/// Size of the ECAM window (1 MiB per bus).
pub const PCI_ECAM_SIZE: u64 = 0x0100_0000;
/// Legacy PCI configuration mechanism #1 ports (CONFIG_ADDRESS, CONFIG_DATA).
pub const PCI_CONFIG_PORT: u16 = 0xcf8;
/// IOAPIC pins 16..23 carry PCI INTx lines (pins 0..15 are ISA IRQs).
pub const PCI_INTX_GSI_BASE: u32 = 16;
/// IOAPIC registers.
pub const IOAPIC_START: u64 = 0xfec0_0000;
/// LAPIC registers.
pub const LAPIC_START: u64 = 0xfee0_0000;
/// Identity map page for Intel's real-mode emulation (`KVM_SET_IDENTITY_MAP_ADDR`).
pub const KVM_IDENTITY_MAP_START: u64 = 0xfeff_c000;
/// Three pages for Intel's TSS (`KVM_SET_TSS_ADDR`).
pub const KVM_TSS_START: u64 = 0xfeff_d000;

/// COM1 base port and IRQ.
pub const COM1_PORT: u16 = 0x3f8;
/// COM1's legacy IRQ line.
pub const COM1_IRQ: u32 = 4;
/// i8042 data and command ports.
pub const I8042_DATA_PORT: u16 = 0x60;
/// i8042 command/status port.
pub const I8042_COMMAND_PORT: u16 = 0x64;
/// ACPI PM1a event block (status + enable, 2 bytes each).
pub const PM1A_EVT_PORT: u16 = 0x600;
/// Length of the PM1a event block.
pub const PM1A_EVT_LEN: u8 = 4;
/// ACPI PM1a control block.
pub const PM1A_CNT_PORT: u16 = 0x604;
/// Length of the PM1a control block.
pub const PM1A_CNT_LEN: u8 = 2;
/// The ACPI SCI's legacy IRQ (level-triggered, active high).
pub const SCI_IRQ: u32 = 9;

/// The guest's RAM ranges `(start, size)` for `mem_size` bytes of memory.
pub fn ram_ranges(mem_size: u64) -> Vec<(u64, u64)> {
    if mem_size <= MMIO_GAP_START {
        vec![(0, mem_size)]
    } else {
        vec![
            (0, MMIO_GAP_START),
            (MMIO_GAP_END, mem_size - MMIO_GAP_START),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_above_the_gap_moves_to_4g() {
        assert_eq!(ram_ranges(256 << 20), vec![(0, 256 << 20)]);
        assert_eq!(
            ram_ranges(4 << 30),
            vec![
                (0, MMIO_GAP_START),
                (MMIO_GAP_END, (4 << 30) - MMIO_GAP_START)
            ]
        );
    }
}
