//! Per-vCPU CPUID: what KVM supports on this host, with the fields that must
//! differ per vCPU (APIC ids) or describe the VM (topology, hypervisor bit)
//! rewritten. The VM is one socket of `count` single-threaded cores.

use kvm_bindings::CpuId;

const LEAF_FEATURES: u32 = 0x1;
const LEAF_CACHE_PARAMS: u32 = 0x4;
const LEAF_TOPOLOGY: u32 = 0xb;
const LEAF_AMD_SIZES: u32 = 0x8000_0008;
const LEAF_AMD_EXT_APIC_ID: u32 = 0x8000_001e;

const ECX_HYPERVISOR: u32 = 1 << 31;
/// The LAPIC timer's TSC-deadline mode. KVM's in-kernel LAPIC (always
/// created here) implements it, but `KVM_GET_SUPPORTED_CPUID` leaves the
/// bit for the VMM to set. Without it Linux calibrates the LAPIC timer
/// against the PIT; nested under TCG that calibration fails its check,
/// the LAPIC timer is switched off and every CPU then runs on PIT ticks
/// broadcast by IPI: thousands of extra exits during boot.
const ECX_TSC_DEADLINE: u32 = 1 << 24;
const EDX_HTT: u32 = 1 << 28;
/// Level types of leaf 0xB.
const LEVEL_SMT: u32 = 1;
const LEVEL_CORE: u32 = 2;

/// Bits needed to number `count` cores.
fn id_bits(count: u32) -> u32 {
    32 - count.saturating_sub(1).leading_zeros()
}

/// Rewrites `cpuid` (from `KVM_GET_SUPPORTED_CPUID`) for vCPU `index` of
/// `count`. The APIC id of vCPU `index` is `index`.
pub fn normalize_cpuid(cpuid: &mut CpuId, index: u32, count: u32) {
    let apic_id = index;
    for entry in cpuid.as_mut_slice() {
        match entry.function {
            LEAF_FEATURES => {
                entry.ebx = (entry.ebx & 0x0000_ffff) | ((count & 0xff) << 16) | (apic_id << 24);
                entry.ecx |= ECX_HYPERVISOR | ECX_TSC_DEADLINE;
                if count > 1 {
                    entry.edx |= EDX_HTT;
                } else {
                    entry.edx &= !EDX_HTT;
                }
            }
            LEAF_CACHE_PARAMS => {
                let level = (entry.eax >> 5) & 0x7;
                // Cores per package - 1, and who shares this cache: L1/L2 are
                // per core, L3 is shared by the whole socket.
                let sharing = if level >= 3 { count - 1 } else { 0 };
                entry.eax = (entry.eax & 0x3fff) | ((count - 1) << 26) | ((sharing & 0xfff) << 14);
            }
            LEAF_TOPOLOGY => {
                entry.edx = apic_id;
                match entry.index {
                    0 => {
                        entry.eax = 0;
                        entry.ebx = 1;
                        entry.ecx = (LEVEL_SMT << 8) | entry.index;
                    }
                    1 => {
                        entry.eax = id_bits(count);
                        entry.ebx = count;
                        entry.ecx = (LEVEL_CORE << 8) | entry.index;
                    }
                    _ => {
                        entry.eax = 0;
                        entry.ebx = 0;
                        entry.ecx = entry.index;
                    }
                }
            }
            LEAF_AMD_SIZES => {
                // NC (cores - 1) and ApicIdCoreIdSize.
                entry.ecx = (entry.ecx & !0xf0ff) | (count - 1) | (id_bits(count) << 12);
            }
            LEAF_AMD_EXT_APIC_ID => {
                entry.eax = apic_id;
                entry.ebx = apic_id & 0xff;
                entry.ecx = 0;
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvm_bindings::kvm_cpuid_entry2;

    fn leaf(function: u32, index: u32) -> kvm_cpuid_entry2 {
        kvm_cpuid_entry2 {
            function,
            index,
            ..Default::default()
        }
    }

    #[test]
    fn apic_ids_and_topology_follow_the_vcpu() {
        let entries = [leaf(1, 0), leaf(0xb, 0), leaf(0xb, 1), leaf(0xb, 2)];
        let mut cpuid = CpuId::from_entries(&entries).expect("cpuid");
        normalize_cpuid(&mut cpuid, 3, 4);
        let e = cpuid.as_slice();
        assert_eq!(e[0].ebx >> 24, 3);
        assert_eq!((e[0].ebx >> 16) & 0xff, 4);
        assert_ne!(e[0].ecx & ECX_HYPERVISOR, 0);
        assert_ne!(e[0].ecx & ECX_TSC_DEADLINE, 0);
        assert_eq!((e[1].edx, e[1].ebx), (3, 1));
        assert_eq!((e[2].eax, e[2].ebx, e[2].ecx >> 8), (2, 4, LEVEL_CORE));
        assert_eq!(e[3].ebx, 0);
    }

    #[test]
    fn id_bits_rounds_up() {
        assert_eq!(id_bits(1), 0);
        assert_eq!(id_bits(2), 1);
        assert_eq!(id_bits(3), 2);
        assert_eq!(id_bits(8), 3);
    }
}
