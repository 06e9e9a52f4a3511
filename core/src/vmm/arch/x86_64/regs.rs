//! vCPU state at power-on: registers and segments for the 64-bit Linux boot
//! protocol or the PVH entry (boot vCPU only), FPU, boot MSRs, LAPIC interrupt lines, and the
//! identity-mapped page tables the kernel starts on.

use super::gdt::{self, CODE_INDEX, DATA_INDEX, TSS_INDEX};
use super::layout::*;
use super::ArchError;
use kvm_bindings::{kvm_fpu, kvm_msr_entry, kvm_regs, kvm_sregs, CpuId, Msrs};
use kvm_ioctls::VcpuFd;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const CR0_PE: u64 = 1;
const CR0_ET: u64 = 1 << 4;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

const MSR_IA32_TSC: u32 = 0x10;
const MSR_IA32_SYSENTER_CS: u32 = 0x174;
const MSR_IA32_SYSENTER_ESP: u32 = 0x175;
const MSR_IA32_SYSENTER_EIP: u32 = 0x176;
const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
const MSR_MTRR_DEF_TYPE: u32 = 0x2ff;
const MSR_STAR: u32 = 0xc000_0081;
const MSR_LSTAR: u32 = 0xc000_0082;
const MSR_CSTAR: u32 = 0xc000_0083;
const MSR_SYSCALL_MASK: u32 = 0xc000_0084;
const MSR_KERNEL_GS_BASE: u32 = 0xc000_0102;
const MISC_ENABLE_FAST_STRING: u64 = 1;
/// MTRRs enabled, default type write-back.
const MTRR_ENABLE_WRITEBACK: u64 = (1 << 11) | 6;

const APIC_LVT_LINT0: usize = 0x350;
const APIC_LVT_LINT1: usize = 0x360;
const APIC_MODE_NMI: u32 = 0x4;
const APIC_MODE_EXTINT: u32 = 0x7;

/// Where and how the boot vCPU enters the kernel.
#[derive(Debug, Clone, Copy)]
pub enum BootEntry {
    /// The 64-bit Linux boot protocol: long mode on identity-mapped page
    /// tables, RSI pointing at the zero page.
    Linux64 {
        /// Address of `startup_64`.
        entry: u64,
    },
    /// The PVH boot protocol: 32-bit protected mode, paging off, flat
    /// segments, EBX pointing at the `hvm_start_info`.
    Pvh {
        /// The `XEN_ELFNOTE_PHYS32_ENTRY` address.
        entry: u64,
        /// Guest address of the `hvm_start_info`.
        start_info: u64,
    },
}

fn kvm(what: &'static str) -> impl FnOnce(kvm_ioctls::Error) -> ArchError {
    move |source| ArchError::Kvm { what, source }
}

/// Sets up vCPU `vcpu` for power-on: CPUID, MSRs, FPU, LAPIC and, for the
/// boot vCPU (`boot` is `Some`), registers and segments for the kernel entry.
/// Other vCPUs wait for the kernel's INIT/SIPI.
pub fn configure_vcpu(
    vcpu: &VcpuFd,
    mem: &GuestMemoryMmap,
    cpuid: &CpuId,
    boot: Option<BootEntry>,
) -> Result<(), ArchError> {
    vcpu.set_cpuid2(cpuid).map_err(kvm("KVM_SET_CPUID2"))?;
    set_boot_msrs(vcpu)?;
    let fpu = kvm_fpu {
        fcw: 0x37f,
        mxcsr: 0x1f80,
        ..Default::default()
    };
    vcpu.set_fpu(&fpu).map_err(kvm("KVM_SET_FPU"))?;
    set_lint(vcpu)?;
    let regs = match boot {
        None => return Ok(()),
        Some(BootEntry::Linux64 { entry }) => {
            write_boot_tables(mem)?;
            set_sregs(vcpu)?;
            kvm_regs {
                rflags: 0x2,
                rip: entry,
                rsp: BOOT_STACK_POINTER,
                rbp: BOOT_STACK_POINTER,
                rsi: ZERO_PAGE_START,
                ..Default::default()
            }
        }
        Some(BootEntry::Pvh { entry, start_info }) => {
            write_gdt(mem, &gdt::pvh_gdt())?;
            set_pvh_sregs(vcpu)?;
            kvm_regs {
                rflags: 0x2,
                rip: entry,
                rbx: start_info,
                ..Default::default()
            }
        }
    };
    vcpu.set_regs(&regs).map_err(kvm("KVM_SET_REGS"))?;
    Ok(())
}

fn set_boot_msrs(vcpu: &VcpuFd) -> Result<(), ArchError> {
    let entry = |index, data| kvm_msr_entry {
        index,
        data,
        ..Default::default()
    };
    let entries = [
        entry(MSR_IA32_SYSENTER_CS, 0),
        entry(MSR_IA32_SYSENTER_ESP, 0),
        entry(MSR_IA32_SYSENTER_EIP, 0),
        entry(MSR_STAR, 0),
        entry(MSR_CSTAR, 0),
        entry(MSR_KERNEL_GS_BASE, 0),
        entry(MSR_SYSCALL_MASK, 0),
        entry(MSR_LSTAR, 0),
        entry(MSR_IA32_TSC, 0),
        entry(MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING),
        entry(MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WRITEBACK),
    ];
    let msrs = Msrs::from_entries(&entries).map_err(|_| ArchError::FamList("MSR"))?;
    vcpu.set_msrs(&msrs).map_err(kvm("KVM_SET_MSRS"))?;
    Ok(())
}

/// LINT0 delivers the legacy PIC's interrupts (ExtINT), LINT1 NMIs, as a
/// BIOS leaves them.
fn set_lint(vcpu: &VcpuFd) -> Result<(), ArchError> {
    let mut lapic = vcpu.get_lapic().map_err(kvm("KVM_GET_LAPIC"))?;
    let mut update = |offset: usize, mode: u32| {
        let reg = &mut lapic.regs[offset..offset + 4];
        let bytes: Vec<u8> = reg.iter().map(|b| *b as u8).collect();
        let value = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        let value = (value & !0x700) | (mode << 8);
        for (dst, src) in reg.iter_mut().zip(value.to_le_bytes()) {
            *dst = src as _;
        }
    };
    update(APIC_LVT_LINT0, APIC_MODE_EXTINT);
    update(APIC_LVT_LINT1, APIC_MODE_NMI);
    vcpu.set_lapic(&lapic).map_err(kvm("KVM_SET_LAPIC"))?;
    Ok(())
}

/// Writes `table` as the GDT and an empty IDT.
fn write_gdt(mem: &GuestMemoryMmap, table: &[u64]) -> Result<(), ArchError> {
    let gm = |what| move |source| ArchError::GuestMemory { what, source };
    for (i, entry) in table.iter().enumerate() {
        mem.write_obj(*entry, GuestAddress(BOOT_GDT_START + i as u64 * 8))
            .map_err(gm("GDT"))?;
    }
    mem.write_obj(0u64, GuestAddress(BOOT_IDT_START))
        .map_err(gm("IDT"))
}

fn write_boot_tables(mem: &GuestMemoryMmap) -> Result<(), ArchError> {
    let gm = |what| move |source| ArchError::GuestMemory { what, source };
    write_gdt(mem, &gdt::boot_gdt())?;
    // Identity map of the first 4 GiB with 2 MiB pages: the 64-bit boot
    // protocol needs the kernel, zero page, command line and initrd mapped.
    mem.write_obj(PDPT_START | 0x3, GuestAddress(PML4_START))
        .map_err(gm("PML4"))?;
    for pd in 0..PD_COUNT {
        let pd_addr = PD_START + pd * 0x1000;
        mem.write_obj(pd_addr | 0x3, GuestAddress(PDPT_START + pd * 8))
            .map_err(gm("PDPT"))?;
        for i in 0..512u64 {
            let page = ((pd << 30) | (i << 21)) | 0x83;
            mem.write_obj(page, GuestAddress(pd_addr + i * 8))
                .map_err(gm("page directory"))?;
        }
    }
    Ok(())
}

/// Points GDTR at `table` (written at `BOOT_GDT_START`), gives the IDT an
/// empty limit, and loads CS, the data segments and TR from its entries.
fn load_flat_segments(sregs: &mut kvm_sregs, table: &[u64]) {
    sregs.gdt.base = BOOT_GDT_START;
    sregs.gdt.limit = (table.len() * 8 - 1) as u16;
    sregs.idt.base = BOOT_IDT_START;
    sregs.idt.limit = 7;
    let code = gdt::segment_from_entry(table[CODE_INDEX as usize], CODE_INDEX);
    let data = gdt::segment_from_entry(table[DATA_INDEX as usize], DATA_INDEX);
    let tss = gdt::segment_from_entry(table[TSS_INDEX as usize], TSS_INDEX);
    sregs.cs = code;
    sregs.ds = data;
    sregs.es = data;
    sregs.fs = data;
    sregs.gs = data;
    sregs.ss = data;
    sregs.tr = tss;
}

fn set_sregs(vcpu: &VcpuFd) -> Result<(), ArchError> {
    let mut sregs = vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
    load_flat_segments(&mut sregs, &gdt::boot_gdt());
    sregs.cr0 |= CR0_PE | CR0_ET | CR0_PG;
    sregs.cr3 = PML4_START;
    sregs.cr4 |= CR4_PAE;
    sregs.efer |= EFER_LME | EFER_LMA;
    vcpu.set_sregs(&sregs).map_err(kvm("KVM_SET_SREGS"))?;
    Ok(())
}

/// Segments and control registers of a PVH entry: flat 32-bit segments from
/// [`gdt::pvh_gdt`], protection on, paging, PAE and long mode off.
fn set_pvh_sregs(vcpu: &VcpuFd) -> Result<(), ArchError> {
    let mut sregs = vcpu.get_sregs().map_err(kvm("KVM_GET_SREGS"))?;
    load_flat_segments(&mut sregs, &gdt::pvh_gdt());
    sregs.cr0 = (sregs.cr0 | CR0_PE | CR0_ET) & !CR0_PG;
    sregs.cr3 = 0;
    sregs.cr4 &= !CR4_PAE;
    sregs.efer &= !(EFER_LME | EFER_LMA);
    vcpu.set_sregs(&sregs).map_err(kvm("KVM_SET_SREGS"))?;
    Ok(())
}
