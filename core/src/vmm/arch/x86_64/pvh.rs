//! The PVH boot protocol's start of day (xen/include/public/arch-x86/hvm/
//! start_info.h): the `hvm_start_info` the kernel finds through EBX, with the
//! command line, the initrd as module 0, the RSDP of our ACPI tables and the
//! same e820 memory map the 64-bit boot protocol's zero page carries.

use super::boot_params::{e820_map, write_cmdline};
use super::layout::*;
use super::ArchError;
use linux_loader::bootparam::setup_header;
use linux_loader::loader::elf::start_info::{
    hvm_memmap_table_entry, hvm_modlist_entry, hvm_start_info,
};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// `XEN_HVM_START_MAGIC_VALUE`.
pub const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Version 1 of the structure carries the memory map.
const START_INFO_VERSION: u32 = 1;
/// Most memory map entries that fit between the map and the zero page.
const MEMMAP_MAX_ENTRIES: usize =
    ((ZERO_PAGE_START - PVH_MEMMAP_START) as usize) / std::mem::size_of::<hvm_memmap_table_entry>();

/// What a PVH boot tells the kernel.
pub struct PvhBoot<'a> {
    /// The bzImage's setup header, for the longest command line it accepts.
    pub header: setup_header,
    /// The command line, without terminating NUL.
    pub cmdline: &'a str,
    /// The initrd's guest address and size, if any.
    pub initrd: Option<(u64, u64)>,
    /// Guest RAM size in bytes.
    pub mem_size: u64,
    /// Guest address of the ACPI RSDP.
    pub rsdp: u64,
}

/// The start info, module list and memory map of `boot`, as they go into
/// guest memory at [`PVH_INFO_START`], [`PVH_MODLIST_START`] and
/// [`PVH_MEMMAP_START`].
pub fn start_info(
    boot: &PvhBoot,
) -> (
    hvm_start_info,
    Vec<hvm_modlist_entry>,
    Vec<hvm_memmap_table_entry>,
) {
    let modules: Vec<hvm_modlist_entry> = boot
        .initrd
        .iter()
        .map(|&(paddr, size)| hvm_modlist_entry {
            paddr,
            size,
            ..Default::default()
        })
        .collect();
    let memmap: Vec<hvm_memmap_table_entry> = e820_map(boot.mem_size)
        .into_iter()
        .map(|(addr, size, type_)| hvm_memmap_table_entry {
            addr,
            size,
            type_,
            reserved: 0,
        })
        .collect();
    let info = hvm_start_info {
        magic: START_INFO_MAGIC,
        version: START_INFO_VERSION,
        flags: 0,
        nr_modules: modules.len() as u32,
        modlist_paddr: if modules.is_empty() {
            0
        } else {
            PVH_MODLIST_START
        },
        cmdline_paddr: CMDLINE_START,
        rsdp_paddr: boot.rsdp,
        memmap_paddr: PVH_MEMMAP_START,
        memmap_entries: memmap.len() as u32,
        reserved: 0,
    };
    (info, modules, memmap)
}

/// Writes the command line and the start info of `boot`; returns the
/// start info's guest address, for EBX.
pub fn configure_pvh_boot(mem: &GuestMemoryMmap, boot: &PvhBoot) -> Result<u64, ArchError> {
    let gm = |what| move |source| ArchError::GuestMemory { what, source };
    write_cmdline(mem, boot.cmdline, &boot.header)?;
    let (info, modules, memmap) = start_info(boot);
    if memmap.len() > MEMMAP_MAX_ENTRIES {
        return Err(ArchError::FamList("PVH memory map"));
    }
    let modlist_size = std::mem::size_of::<hvm_modlist_entry>() as u64;
    for (i, module) in modules.iter().enumerate() {
        mem.write_obj(
            *module,
            GuestAddress(PVH_MODLIST_START + i as u64 * modlist_size),
        )
        .map_err(gm("PVH module list"))?;
    }
    let entry_size = std::mem::size_of::<hvm_memmap_table_entry>() as u64;
    for (i, entry) in memmap.iter().enumerate() {
        mem.write_obj(
            *entry,
            GuestAddress(PVH_MEMMAP_START + i as u64 * entry_size),
        )
        .map_err(gm("PVH memory map"))?;
    }
    mem.write_obj(info, GuestAddress(PVH_INFO_START))
        .map_err(gm("PVH start info"))?;
    Ok(PVH_INFO_START)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    fn boot(initrd: Option<(u64, u64)>) -> PvhBoot<'static> {
        PvhBoot {
            header: setup_header {
                cmdline_size: 2048,
                ..Default::default()
            },
            cmdline: "console=ttyS0 hangar_mode=shell",
            initrd,
            mem_size: 256 << 20,
            rsdp: ACPI_START,
        }
    }

    #[test]
    fn structures_have_the_abi_sizes() {
        assert_eq!(size_of::<hvm_start_info>(), 56);
        assert_eq!(size_of::<hvm_modlist_entry>(), 32);
        assert_eq!(size_of::<hvm_memmap_table_entry>(), 24);
        // The three areas do not overlap each other or the zero page.
        assert!(PVH_INFO_START + 56 <= PVH_MODLIST_START);
        assert!(PVH_MODLIST_START + 32 <= PVH_MEMMAP_START);
        assert!(MEMMAP_MAX_ENTRIES >= 8);
    }

    #[test]
    fn start_info_in_guest_memory_has_the_abi_layout() {
        let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 1 << 20)]).expect("mem");
        let initrd = (0x0f00_0000, 0x12_3000);
        let at = configure_pvh_boot(&mem, &boot(Some(initrd))).expect("written");
        let mut raw = [0u8; 56];
        mem.read_slice(&mut raw, GuestAddress(at)).expect("read");
        let u32_at = |o: usize| u32::from_le_bytes(raw[o..o + 4].try_into().expect("4"));
        let u64_at = |o: usize| u64::from_le_bytes(raw[o..o + 8].try_into().expect("8"));
        assert_eq!(u32_at(0), 0x336e_c578);
        assert_eq!(u32_at(4), 1);
        assert_eq!(u32_at(12), 1, "nr_modules");
        assert_eq!(u64_at(16), PVH_MODLIST_START);
        assert_eq!(u64_at(24), CMDLINE_START);
        assert_eq!(u64_at(32), ACPI_START, "rsdp_paddr");
        assert_eq!(u64_at(40), PVH_MEMMAP_START);
        let map = e820_map(256 << 20);
        assert_eq!(u32_at(48) as usize, map.len());

        let module: hvm_modlist_entry = mem.read_obj(GuestAddress(u64_at(16))).expect("module");
        assert_eq!((module.paddr, module.size), initrd);
        for (i, (addr, size, kind)) in map.iter().enumerate() {
            let entry: hvm_memmap_table_entry = mem
                .read_obj(GuestAddress(PVH_MEMMAP_START + i as u64 * 24))
                .expect("entry");
            assert_eq!((entry.addr, entry.size, entry.type_), (*addr, *size, *kind));
        }
        let mut line = vec![0u8; 32];
        mem.read_slice(&mut line, GuestAddress(CMDLINE_START))
            .expect("cmdline");
        assert_eq!(&line, b"console=ttyS0 hangar_mode=shell\0");
    }

    #[test]
    fn no_initrd_means_no_modules() {
        let (info, modules, _) = start_info(&boot(None));
        assert_eq!((info.nr_modules, info.modlist_paddr), (0, 0));
        assert!(modules.is_empty());
    }
}
