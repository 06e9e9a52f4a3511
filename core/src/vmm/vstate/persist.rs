//! Reading and writing KVM's state for a snapshot: each vCPU (registers,
//! FPU/xsave, MSRs, LAPIC, pending events...), and the VM's interrupt
//! controllers, PIT and clock. The order of the restore calls matters and
//! is explained where it happens.

use crate::vmm::snapshot::{KvmPod, MsrEntry, Raw, VcpuState, VmKvmState};
use kvm_bindings::{
    kvm_clock_data, kvm_irqchip, kvm_msr_entry, CpuId, Msrs, KVM_IRQCHIP_IOAPIC,
    KVM_IRQCHIP_PIC_MASTER, KVM_IRQCHIP_PIC_SLAVE, KVM_MAX_CPUID_ENTRIES, KVM_MAX_MSR_ENTRIES,
};
use kvm_ioctls::{Cap, Kvm, VcpuFd, VmFd};

/// MSR_IA32_TSC_DEADLINE: KVM ignores it unless the LAPIC timer is in
/// TSC-deadline mode, so it is written again after the LAPIC.
const MSR_IA32_TSC_DEADLINE: u32 = 0x6e0;
/// Bytes of `kvm_xsave`, the legacy XSAVE area KVM_GET/SET_XSAVE use.
const XSAVE_LEGACY_SIZE: i32 = 4096;

/// Errors saving or restoring KVM state.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// A KVM ioctl failed.
    #[error("{what}: {source}")]
    Kvm {
        /// Which ioctl (and vCPU).
        what: String,
        /// Its error.
        source: kvm_ioctls::Error,
    },
    /// A saved structure has the wrong size (a damaged or foreign file).
    #[error("the saved {0} has the wrong size")]
    BadSize(String),
    /// A KVM array could not be built.
    #[error("cannot build the {0} list")]
    FamList(&'static str),
    /// The host's XSAVE area is larger than what KVM_GET_XSAVE carries.
    #[error("this host's XSAVE area is {0} bytes; saving VMs needs it to fit in 4096")]
    XsaveTooLarge(i32),
}

fn kvm_err(what: impl Into<String>) -> impl FnOnce(kvm_ioctls::Error) -> PersistError {
    let what = what.into();
    move |source| PersistError::Kvm { what, source }
}

fn raw<T: KvmPod>(raw: &Raw, what: &str) -> Result<T, PersistError> {
    raw.to()
        .ok_or_else(|| PersistError::BadSize(what.to_string()))
}

/// Fails when this host's guests could have XSAVE state beyond the 4 KiB
/// that KVM_GET_XSAVE/KVM_SET_XSAVE carry (AMX).
pub fn check_xsave(vm: &VmFd) -> Result<(), PersistError> {
    let size = vm.check_extension_int(Cap::Xsave2);
    if size > XSAVE_LEGACY_SIZE {
        return Err(PersistError::XsaveTooLarge(size));
    }
    Ok(())
}

/// The MSRs to save: KVM's list of MSRs it saves and restores, without the
/// ones this vCPU cannot read.
pub fn msrs_to_save(kvm: &Kvm, vcpu: &VcpuFd) -> Result<Vec<u32>, PersistError> {
    let list = kvm
        .get_msr_index_list()
        .map_err(kvm_err("KVM_GET_MSR_INDEX_LIST"))?;
    let mut readable = Vec::with_capacity(list.as_slice().len());
    for index in list.as_slice() {
        let entry = kvm_msr_entry {
            index: *index,
            ..Default::default()
        };
        let mut msrs = Msrs::from_entries(&[entry]).map_err(|_| PersistError::FamList("MSR"))?;
        if matches!(vcpu.get_msrs(&mut msrs), Ok(1)) {
            readable.push(*index);
        }
    }
    Ok(readable)
}

/// Reads the MSRs `indices` (those KVM stops at are left out).
fn read_msrs(vcpu: &VcpuFd, indices: &[u32], which: usize) -> Result<Vec<MsrEntry>, PersistError> {
    let mut out = Vec::with_capacity(indices.len());
    for batch in indices.chunks(KVM_MAX_MSR_ENTRIES) {
        let entries: Vec<kvm_msr_entry> = batch
            .iter()
            .map(|index| kvm_msr_entry {
                index: *index,
                ..Default::default()
            })
            .collect();
        let mut msrs = Msrs::from_entries(&entries).map_err(|_| PersistError::FamList("MSR"))?;
        let n = vcpu
            .get_msrs(&mut msrs)
            .map_err(kvm_err(format!("vCPU {which}: KVM_GET_MSRS")))?;
        out.extend(msrs.as_slice().iter().take(n).map(|e| MsrEntry {
            index: e.index,
            data: e.data,
        }));
    }
    Ok(out)
}

/// Writes `entries`; an MSR KVM refuses is reported on stderr and skipped
/// (the rest are still written).
fn write_msrs(vcpu: &VcpuFd, entries: &[MsrEntry], which: usize) -> Result<(), PersistError> {
    let mut rest: Vec<kvm_msr_entry> = entries
        .iter()
        .map(|e| kvm_msr_entry {
            index: e.index,
            data: e.data,
            ..Default::default()
        })
        .collect();
    while !rest.is_empty() {
        let take = rest.len().min(KVM_MAX_MSR_ENTRIES);
        let msrs = Msrs::from_entries(&rest[..take]).map_err(|_| PersistError::FamList("MSR"))?;
        let n = vcpu
            .set_msrs(&msrs)
            .map_err(kvm_err(format!("vCPU {which}: KVM_SET_MSRS")))?;
        let skip = if n < take {
            eprintln!(
                "hangar-vmm: vCPU {which}: MSR {:#x} could not be restored",
                rest[n].index
            );
            n + 1
        } else {
            n
        };
        rest.drain(..skip);
    }
    Ok(())
}

/// Lets a vCPU finish the instruction whose port or MMIO access the VMM
/// just answered: KVM completes it on the next KVM_RUN, which with
/// `immediate_exit` returns at once. Without this the answer would be lost
/// from the saved registers.
pub fn complete_pending_io(vcpu: &mut VcpuFd) {
    vcpu.set_kvm_immediate_exit(1);
    // EINTR is the expected result.
    let _ = vcpu.run();
    vcpu.set_kvm_immediate_exit(0);
}

/// Saves vCPU `which`, which must not be running (its thread has stopped).
pub fn save_vcpu(
    vcpu: &mut VcpuFd,
    which: usize,
    msr_indices: &[u32],
) -> Result<VcpuState, PersistError> {
    complete_pending_io(vcpu);
    let w = |what: &str| format!("vCPU {which}: {what}");
    // The MP state first: reading it moves pending interrupts into the LAPIC.
    let mp_state = vcpu
        .get_mp_state()
        .map_err(kvm_err(w("KVM_GET_MP_STATE")))?;
    let regs = vcpu.get_regs().map_err(kvm_err(w("KVM_GET_REGS")))?;
    let sregs = vcpu.get_sregs().map_err(kvm_err(w("KVM_GET_SREGS")))?;
    let xsave = vcpu.get_xsave().map_err(kvm_err(w("KVM_GET_XSAVE")))?;
    let xcrs = vcpu.get_xcrs().map_err(kvm_err(w("KVM_GET_XCRS")))?;
    let debugregs = vcpu
        .get_debug_regs()
        .map_err(kvm_err(w("KVM_GET_DEBUGREGS")))?;
    let lapic = vcpu.get_lapic().map_err(kvm_err(w("KVM_GET_LAPIC")))?;
    let cpuid = vcpu
        .get_cpuid2(KVM_MAX_CPUID_ENTRIES)
        .map_err(kvm_err(w("KVM_GET_CPUID2")))?;
    let msrs = read_msrs(vcpu, msr_indices, which)?;
    let events = vcpu
        .get_vcpu_events()
        .map_err(kvm_err(w("KVM_GET_VCPU_EVENTS")))?;
    Ok(VcpuState {
        cpuid: cpuid.as_slice().iter().map(Raw::of).collect(),
        mp_state: Raw::of(&mp_state),
        regs: Raw::of(&regs),
        sregs: Raw::of(&sregs),
        xsave: Raw::of(&xsave),
        xcrs: Raw::of(&xcrs),
        debugregs: Raw::of(&debugregs),
        lapic: Raw::of(&lapic),
        msrs,
        events: Raw::of(&events),
        tsc_khz: vcpu.get_tsc_khz().ok(),
    })
}

/// Restores vCPU `which` (created, not yet run) from `state`.
pub fn restore_vcpu(vcpu: &VcpuFd, which: usize, state: &VcpuState) -> Result<(), PersistError> {
    let w = |what: &str| format!("vCPU {which}: {what}");
    let entries = state
        .cpuid
        .iter()
        .map(|e| raw(e, "CPUID entry"))
        .collect::<Result<Vec<kvm_bindings::kvm_cpuid_entry2>, _>>()?;
    let cpuid = CpuId::from_entries(&entries).map_err(|_| PersistError::FamList("CPUID"))?;
    // CPUID first: which MSRs and XSAVE features exist depends on it.
    vcpu.set_cpuid2(&cpuid)
        .map_err(kvm_err(w("KVM_SET_CPUID2")))?;
    if let Some(khz) = state.tsc_khz {
        if vcpu.get_tsc_khz().ok() != Some(khz) {
            // Hosts without TSC scaling keep their own rate; the guest's
            // clock then drifts but runs.
            if let Err(e) = vcpu.set_tsc_khz(khz) {
                eprintln!("hangar-vmm: vCPU {which}: cannot set the TSC to {khz} kHz: {e}");
            }
        }
    }
    vcpu.set_regs(&raw(&state.regs, "registers")?)
        .map_err(kvm_err(w("KVM_SET_REGS")))?;
    // SREGS before the LAPIC: they carry the APIC base (and x2APIC mode).
    vcpu.set_sregs(&raw(&state.sregs, "segment registers")?)
        .map_err(kvm_err(w("KVM_SET_SREGS")))?;
    let xsave: kvm_bindings::kvm_xsave = raw(&state.xsave, "XSAVE area")?;
    // SAFETY: the VM was checked with `check_xsave`: this host's XSAVE
    // area fits in the 4096 bytes of `kvm_xsave`, so KVM reads no further.
    unsafe { vcpu.set_xsave(&xsave) }.map_err(kvm_err(w("KVM_SET_XSAVE")))?;
    let xcrs: kvm_bindings::kvm_xcrs = raw(&state.xcrs, "XCRs")?;
    // A host without XSAVE reports no XCRs and refuses to set any.
    if xcrs.nr_xcrs > 0 {
        vcpu.set_xcrs(&xcrs).map_err(kvm_err(w("KVM_SET_XCRS")))?;
    }
    vcpu.set_debug_regs(&raw(&state.debugregs, "debug registers")?)
        .map_err(kvm_err(w("KVM_SET_DEBUGREGS")))?;
    write_msrs(vcpu, &state.msrs, which)?;
    vcpu.set_lapic(&raw(&state.lapic, "LAPIC")?)
        .map_err(kvm_err(w("KVM_SET_LAPIC")))?;
    // The TSC deadline only sticks once the LAPIC timer is in that mode.
    let deadline: Vec<MsrEntry> = state
        .msrs
        .iter()
        .filter(|e| e.index == MSR_IA32_TSC_DEADLINE)
        .copied()
        .collect();
    write_msrs(vcpu, &deadline, which)?;
    vcpu.set_mp_state(raw(&state.mp_state, "MP state")?)
        .map_err(kvm_err(w("KVM_SET_MP_STATE")))?;
    // Pending exceptions and interrupts last, over everything else.
    vcpu.set_vcpu_events(&raw(&state.events, "vCPU events")?)
        .map_err(kvm_err(w("KVM_SET_VCPU_EVENTS")))?;
    // Tells a guest using kvmclock that it was paused (no soft-lockup
    // warnings); fails harmlessly when the guest does not use kvmclock.
    let _ = vcpu.kvmclock_ctrl();
    Ok(())
}

fn irqchip(vm: &VmFd, chip_id: u32, what: &str) -> Result<Raw, PersistError> {
    let mut chip = kvm_irqchip {
        chip_id,
        ..Default::default()
    };
    vm.get_irqchip(&mut chip)
        .map_err(kvm_err(format!("KVM_GET_IRQCHIP ({what})")))?;
    Ok(Raw::of(&chip))
}

/// Saves the PICs, IOAPIC, PIT and clock.
pub fn save_vm(vm: &VmFd) -> Result<VmKvmState, PersistError> {
    let pit = vm.get_pit2().map_err(kvm_err("KVM_GET_PIT2"))?;
    let clock = vm.get_clock().map_err(kvm_err("KVM_GET_CLOCK"))?;
    Ok(VmKvmState {
        pic_master: irqchip(vm, KVM_IRQCHIP_PIC_MASTER, "master PIC")?,
        pic_slave: irqchip(vm, KVM_IRQCHIP_PIC_SLAVE, "slave PIC")?,
        ioapic: irqchip(vm, KVM_IRQCHIP_IOAPIC, "IOAPIC")?,
        pit: Raw::of(&pit),
        clock: Raw::of(&clock),
    })
}

/// Restores the PICs, IOAPIC, PIT and clock (before any vCPU runs).
pub fn restore_vm(vm: &VmFd, state: &VmKvmState) -> Result<(), PersistError> {
    for (chip, id, what) in [
        (&state.pic_master, KVM_IRQCHIP_PIC_MASTER, "master PIC"),
        (&state.pic_slave, KVM_IRQCHIP_PIC_SLAVE, "slave PIC"),
        (&state.ioapic, KVM_IRQCHIP_IOAPIC, "IOAPIC"),
    ] {
        let value: kvm_irqchip = raw(chip, what)?;
        if value.chip_id != id {
            return Err(PersistError::BadSize(format!(
                "{what} (chip id {})",
                value.chip_id
            )));
        }
        vm.set_irqchip(&value)
            .map_err(kvm_err(format!("KVM_SET_IRQCHIP ({what})")))?;
    }
    vm.set_pit2(&raw(&state.pit, "PIT")?)
        .map_err(kvm_err("KVM_SET_PIT2"))?;
    let saved: kvm_clock_data = raw(&state.clock, "clock")?;
    // Only the clock value is restored: the guest's kvmclock goes on from
    // where it was saved (the flags describe the old host).
    let clock = kvm_clock_data {
        clock: saved.clock,
        ..Default::default()
    };
    vm.set_clock(&clock).map_err(kvm_err("KVM_SET_CLOCK"))?;
    Ok(())
}
