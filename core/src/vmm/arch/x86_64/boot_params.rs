//! The zero page of the 64-bit Linux boot protocol: the kernel's setup
//! header with our fields filled in, the command line, the initrd and the
//! e820 memory map (Documentation/arch/x86/boot.rst).

use super::layout::*;
use super::ArchError;
use crate::vmm::display::framebuffer::{fill_screen_info, LinearFramebufferInfo};
use linux_loader::bootparam::{boot_e820_entry, boot_params, setup_header};
use vm_memory::{ByteValued, Bytes, GuestAddress, GuestMemoryMmap};

const E820_RAM: u32 = 1;
const E820_RESERVED: u32 = 2;
/// "Undefined" boot loader id: we are not one of the registered loaders.
const LOADER_UNDEFINED: u8 = 0xff;
const KERNEL_BOOT_FLAG_MAGIC: u16 = 0xaa55;
const KERNEL_HDR_MAGIC: u32 = 0x5372_6448;
const PAGE_SIZE: u64 = 4096;

/// `boot_params` as plain bytes for guest memory.
#[derive(Clone, Copy, Default)]
#[repr(transparent)]
struct ZeroPage(boot_params);

// SAFETY: boot_params is a packed C struct of integers and arrays of
// integers (bindgen output): no padding, every bit pattern is valid.
unsafe impl ByteValued for ZeroPage {}

/// What the loaders produced that the zero page describes.
pub struct BootImage<'a> {
    /// The kernel's setup header, as read from the bzImage.
    pub header: setup_header,
    /// The command line, without terminating NUL.
    pub cmdline: &'a str,
    /// The initrd's guest address and size, if any.
    pub initrd: Option<(u64, u64)>,
    /// Guest RAM size in bytes.
    pub mem_size: u64,
    /// Where the RSDP is, for kernels that read it from the zero page.
    pub rsdp: u64,
    /// The linear framebuffer, if the VM has a display.
    pub framebuffer: Option<LinearFramebufferInfo>,
}

/// Where an initrd of `size` bytes goes: page-aligned, as high as the kernel
/// (`header.initrd_addr_max`) and low memory allow, above `kernel_end`.
pub fn initrd_address(
    header: &setup_header,
    mem_size: u64,
    kernel_end: u64,
    size: u64,
) -> Result<u64, ArchError> {
    let max = if header.initrd_addr_max == 0 {
        0x37ff_ffff
    } else {
        u64::from(header.initrd_addr_max)
    };
    let top = (mem_size.min(MMIO_GAP_START)).min(max + 1);
    let start = top.checked_sub(size).map(|a| a & !(PAGE_SIZE - 1));
    match start {
        Some(start) if start >= kernel_end => Ok(start),
        _ => Err(ArchError::InitrdTooLarge { size, limit: top }),
    }
}

/// Writes the command line and the zero page.
pub fn configure_boot(mem: &GuestMemoryMmap, image: &BootImage) -> Result<(), ArchError> {
    let gm = |what| move |source| ArchError::GuestMemory { what, source };
    let cmdline_len = write_cmdline(mem, image.cmdline, &image.header)?;

    let mut params = ZeroPage::default();
    let p = &mut params.0;
    p.hdr = image.header;
    p.hdr.type_of_loader = LOADER_UNDEFINED;
    p.hdr.boot_flag = KERNEL_BOOT_FLAG_MAGIC;
    p.hdr.header = KERNEL_HDR_MAGIC;
    p.hdr.cmd_line_ptr = CMDLINE_START as u32;
    p.hdr.cmdline_size = cmdline_len as u32;
    if let Some((addr, size)) = image.initrd {
        p.hdr.ramdisk_image = addr as u32;
        p.hdr.ramdisk_size = size as u32;
    }
    p.acpi_rsdp_addr = image.rsdp;
    if let Some(fb) = &image.framebuffer {
        fill_screen_info(&mut p.screen_info, fb);
    }
    let entries = e820_map(image.mem_size);
    for (slot, (addr, size, kind)) in p.e820_table.iter_mut().zip(entries.iter()) {
        *slot = boot_e820_entry {
            addr: *addr,
            size: *size,
            r#type: *kind,
        };
    }
    p.e820_entries = entries.len() as u8;
    mem.write_obj(params, GuestAddress(ZERO_PAGE_START))
        .map_err(gm("zero page"))?;
    Ok(())
}

/// Writes `cmdline` NUL-terminated at [`CMDLINE_START`], if the kernel
/// (`header.cmdline_size`) accepts that long a line; returns its length
/// with the NUL.
pub fn write_cmdline(
    mem: &GuestMemoryMmap,
    cmdline: &str,
    header: &setup_header,
) -> Result<usize, ArchError> {
    let max = match header.cmdline_size {
        0 => 256,
        n => n as usize,
    }
    .min(CMDLINE_MAX_SIZE);
    let len = cmdline.len() + 1;
    if len > max {
        return Err(ArchError::CmdlineTooLong { len, max });
    }
    let mut bytes = cmdline.as_bytes().to_vec();
    bytes.push(0);
    mem.write_slice(&bytes, GuestAddress(CMDLINE_START))
        .map_err(|source| ArchError::GuestMemory {
            what: "command line",
            source,
        })?;
    Ok(len)
}

/// The e820 map `(start, size, type)` for `mem_size` bytes of RAM.
pub fn e820_map(mem_size: u64) -> Vec<(u64, u64, u32)> {
    let mut map = vec![
        (0, EBDA_START, E820_RAM),
        (EBDA_START, HIMEM_START - EBDA_START, E820_RESERVED),
    ];
    for (start, size) in ram_ranges(mem_size) {
        // The first range starts at 0; below 1 MiB is described above.
        if start == 0 {
            map.push((HIMEM_START, size.saturating_sub(HIMEM_START), E820_RAM));
        } else {
            map.push((start, size, E820_RAM));
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn e820_covers_ram_around_the_gap() {
        let map = e820_map(256 << 20);
        assert_eq!(map[0], (0, EBDA_START, E820_RAM));
        assert_eq!(map[2], (HIMEM_START, (256 << 20) - HIMEM_START, E820_RAM));
        let map = e820_map(4 << 30);
        assert_eq!(
            map[2],
            (HIMEM_START, MMIO_GAP_START - HIMEM_START, E820_RAM)
        );
        assert_eq!(map[3], (MMIO_GAP_END, (4 << 30) - MMIO_GAP_START, E820_RAM));
    }

    #[test]
    fn initrd_goes_high_and_page_aligned() {
        let header = setup_header {
            initrd_addr_max: 0x7fff_ffff,
            ..Default::default()
        };
        let at = initrd_address(&header, 256 << 20, 0x100_0000, 5000).expect("fits");
        assert_eq!(at % PAGE_SIZE, 0);
        assert!(at + 5000 <= 256 << 20);
        assert!(initrd_address(&header, 32 << 20, 0x100_0000, 64 << 20).is_err());
    }
}
