//! The boot GDT: flat 64-bit code and data segments and a TSS, encoded both
//! as descriptor table entries (written to guest memory) and as the
//! `kvm_segment` values loaded into the vCPU, which must agree.

use kvm_bindings::kvm_segment;

/// Selector index of the code segment.
pub const CODE_INDEX: u16 = 1;
/// Selector index of the data segment.
pub const DATA_INDEX: u16 = 2;
/// Selector index of the TSS.
pub const TSS_INDEX: u16 = 3;

/// The boot GDT's entries: null, code, data, TSS.
pub fn boot_gdt() -> [u64; 4] {
    [
        0,
        gdt_entry(0xa09b, 0, 0xfffff), // code: present, exec/read, long mode, 4 KiB granular
        gdt_entry(0xc093, 0, 0xfffff), // data: present, read/write, 32-bit, 4 KiB granular
        gdt_entry(0x808b, 0, 0xfffff), // TSS: present, busy 64-bit TSS
    ]
}

/// The GDT of a PVH entry: as [`boot_gdt`] but with a 32-bit code segment,
/// since the kernel starts in 32-bit protected mode with paging off.
pub fn pvh_gdt() -> [u64; 4] {
    [
        0,
        gdt_entry(0xc09b, 0, 0xfffff), // code: present, exec/read, 32-bit, 4 KiB granular
        gdt_entry(0xc093, 0, 0xfffff), // data: present, read/write, 32-bit, 4 KiB granular
        gdt_entry(0x808b, 0, 0xfffff), // TSS: present, busy
    ]
}

/// Encodes a descriptor from its flags (access byte in the low 8 bits, the
/// G/DB/L/AVL nibble in bits 12..16), base and 20-bit limit.
pub const fn gdt_entry(flags: u16, base: u32, limit: u32) -> u64 {
    ((base as u64 & 0xff00_0000) << (56 - 24))
        | ((flags as u64 & 0xf0ff) << 40)
        | ((limit as u64 & 0x000f_0000) << (48 - 16))
        | ((base as u64 & 0x00ff_ffff) << 16)
        | (limit as u64 & 0x0000_ffff)
}

/// The `kvm_segment` matching descriptor `entry` at GDT index `index`.
pub fn segment_from_entry(entry: u64, index: u16) -> kvm_segment {
    let g = ((entry >> 55) & 1) as u8;
    let limit = ((entry & 0xffff) | ((entry >> 32) & 0xf_0000)) as u32;
    kvm_segment {
        base: ((entry >> 16) & 0xff_ffff) | (((entry >> 56) & 0xff) << 24),
        // With 4 KiB granularity the limit counts pages.
        limit: if g == 1 { (limit << 12) | 0xfff } else { limit },
        selector: index * 8,
        type_: ((entry >> 40) & 0xf) as u8,
        present: ((entry >> 47) & 1) as u8,
        dpl: ((entry >> 45) & 3) as u8,
        db: ((entry >> 54) & 1) as u8,
        s: ((entry >> 44) & 1) as u8,
        l: ((entry >> 53) & 1) as u8,
        g,
        avl: ((entry >> 52) & 1) as u8,
        // A null or not-present descriptor makes the register unusable.
        unusable: if (entry >> 47) & 1 == 1 { 0 } else { 1 },
        padding: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_segment_is_64_bit_flat() {
        let seg = segment_from_entry(boot_gdt()[CODE_INDEX as usize], CODE_INDEX);
        assert_eq!(seg.selector, 8);
        assert_eq!((seg.l, seg.db, seg.present, seg.s, seg.g), (1, 0, 1, 1, 1));
        assert_eq!(seg.type_, 0xb);
        assert_eq!(seg.limit, 0xffff_ffff);
        assert_eq!(seg.base, 0);
    }

    #[test]
    fn pvh_code_segment_is_32_bit_flat() {
        let seg = segment_from_entry(pvh_gdt()[CODE_INDEX as usize], CODE_INDEX);
        assert_eq!((seg.l, seg.db, seg.present, seg.g), (0, 1, 1, 1));
        assert_eq!((seg.type_, seg.base, seg.limit), (0xb, 0, 0xffff_ffff));
    }

    #[test]
    fn data_segment_is_writable_and_big() {
        let seg = segment_from_entry(boot_gdt()[DATA_INDEX as usize], DATA_INDEX);
        assert_eq!((seg.db, seg.l, seg.type_), (1, 0, 3));
    }
}
