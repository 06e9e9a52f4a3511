//! The machine state section: serde structs for every vCPU, KVM's VM-wide
//! state and the devices. KVM's own structures are kept as their raw bytes
//! (hex in the JSON), checked for size when read back.

use crate::vmm::devices::legacy::{AcpiPmState, I8042State};
use serde::{Deserialize, Serialize};

/// A KVM structure as its bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Raw(pub Vec<u8>);

impl Serialize for Raw {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = String::with_capacity(self.0.len() * 2);
        for b in &self.0 {
            text.push(char::from(HEX[usize::from(b >> 4)]));
            text.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        s.serialize_str(&text)
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let digit = |c: u8| -> Result<u8, D::Error> {
            (c as char)
                .to_digit(16)
                .map(|v| v as u8)
                .ok_or_else(|| serde::de::Error::custom("not a hex digit"))
        };
        let bytes = text.as_bytes();
        if bytes.len() % 2 != 0 {
            return Err(serde::de::Error::custom("odd number of hex digits"));
        }
        bytes
            .chunks(2)
            .map(|p| Ok(digit(p[0])? << 4 | digit(p[1])?))
            .collect::<Result<Vec<u8>, D::Error>>()
            .map(Raw)
    }
}

/// KVM structures that are plain data: any byte pattern of their size is a
/// value of the type (integers, arrays and unions of integers).
///
/// # Safety
/// Implement only for `repr(C)` types without pointers, references or
/// enums whose every bit pattern is valid.
pub unsafe trait KvmPod: Sized {}

// SAFETY: bindgen-generated repr(C) structs of integers, integer arrays
// and unions of those; every bit pattern is a valid value.
unsafe impl KvmPod for kvm_bindings::kvm_regs {}
// SAFETY: as above (segments and descriptor tables are integers).
unsafe impl KvmPod for kvm_bindings::kvm_sregs {}
// SAFETY: as above (a 4 KiB array of u32; the flexible tail is zero-sized).
unsafe impl KvmPod for kvm_bindings::kvm_xsave {}
// SAFETY: as above.
unsafe impl KvmPod for kvm_bindings::kvm_xcrs {}
// SAFETY: as above.
unsafe impl KvmPod for kvm_bindings::kvm_debugregs {}
// SAFETY: as above (an array of c_char).
unsafe impl KvmPod for kvm_bindings::kvm_lapic_state {}
// SAFETY: as above (integers and padding arrays).
unsafe impl KvmPod for kvm_bindings::kvm_vcpu_events {}
// SAFETY: as above.
unsafe impl KvmPod for kvm_bindings::kvm_mp_state {}
// SAFETY: as above (a union of integer arrays).
unsafe impl KvmPod for kvm_bindings::kvm_irqchip {}
// SAFETY: as above.
unsafe impl KvmPod for kvm_bindings::kvm_pit_state2 {}
// SAFETY: as above.
unsafe impl KvmPod for kvm_bindings::kvm_clock_data {}
// SAFETY: as above.
unsafe impl KvmPod for kvm_bindings::kvm_cpuid_entry2 {}

impl Raw {
    /// The bytes of `value`.
    pub fn of<T: KvmPod>(value: &T) -> Raw {
        let len = std::mem::size_of::<T>();
        // SAFETY: `value` is a live T of `len` bytes; KvmPod types are plain
        // data whose bytes were all written (by KVM or zero-initialised).
        let bytes = unsafe { std::slice::from_raw_parts((value as *const T).cast::<u8>(), len) };
        Raw(bytes.to_vec())
    }

    /// The value these bytes hold, if they have the size of a `T`.
    pub fn to<T: KvmPod>(&self) -> Option<T> {
        if self.0.len() != std::mem::size_of::<T>() {
            return None;
        }
        // SAFETY: the buffer holds exactly size_of::<T>() bytes, read
        // unaligned; every bit pattern is a valid T (KvmPod).
        Some(unsafe { std::ptr::read_unaligned(self.0.as_ptr().cast::<T>()) })
    }
}

/// One MSR.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsrEntry {
    /// Its index.
    pub index: u32,
    /// Its value.
    pub data: u64,
}

/// Everything KVM keeps about one vCPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VcpuState {
    /// CPUID entries (`kvm_cpuid_entry2` each) the vCPU was given.
    pub cpuid: Vec<Raw>,
    /// `kvm_mp_state` (saved first: reading it flushes pending interrupts
    /// into the LAPIC).
    pub mp_state: Raw,
    /// `kvm_regs`.
    pub regs: Raw,
    /// `kvm_sregs`.
    pub sregs: Raw,
    /// `kvm_xsave` (FPU, SSE, AVX...).
    pub xsave: Raw,
    /// `kvm_xcrs`.
    pub xcrs: Raw,
    /// `kvm_debugregs`.
    pub debugregs: Raw,
    /// `kvm_lapic_state`.
    pub lapic: Raw,
    /// Every MSR from KVM's list that this vCPU could read.
    pub msrs: Vec<MsrEntry>,
    /// `kvm_vcpu_events` (pending exceptions, interrupts, NMIs).
    pub events: Raw,
    /// The vCPU's TSC frequency, when KVM reports one.
    pub tsc_khz: Option<u32>,
}

/// KVM's VM-wide state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VmKvmState {
    /// `kvm_irqchip` of the master PIC.
    pub pic_master: Raw,
    /// `kvm_irqchip` of the slave PIC.
    pub pic_slave: Raw,
    /// `kvm_irqchip` of the IOAPIC.
    pub ioapic: Raw,
    /// `kvm_pit_state2`.
    pub pit: Raw,
    /// `kvm_clock_data`.
    pub clock: Raw,
}

/// The 16550's registers (vm-superio's `SerialState`, which has no serde).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SerialRegs {
    /// DLL.
    pub baud_divisor_low: u8,
    /// DLM.
    pub baud_divisor_high: u8,
    /// IER.
    pub interrupt_enable: u8,
    /// IIR.
    pub interrupt_identification: u8,
    /// LCR.
    pub line_control: u8,
    /// LSR.
    pub line_status: u8,
    /// MCR.
    pub modem_control: u8,
    /// MSR.
    pub modem_status: u8,
    /// SCR.
    pub scratch: u8,
    /// Received bytes the guest has not read yet.
    pub in_buffer: Vec<u8>,
}

impl From<&vm_superio::serial::SerialState> for SerialRegs {
    fn from(s: &vm_superio::serial::SerialState) -> Self {
        SerialRegs {
            baud_divisor_low: s.baud_divisor_low,
            baud_divisor_high: s.baud_divisor_high,
            interrupt_enable: s.interrupt_enable,
            interrupt_identification: s.interrupt_identification,
            line_control: s.line_control,
            line_status: s.line_status,
            modem_control: s.modem_control,
            modem_status: s.modem_status,
            scratch: s.scratch,
            in_buffer: s.in_buffer.clone(),
        }
    }
}

impl From<&SerialRegs> for vm_superio::serial::SerialState {
    fn from(s: &SerialRegs) -> Self {
        vm_superio::serial::SerialState {
            baud_divisor_low: s.baud_divisor_low,
            baud_divisor_high: s.baud_divisor_high,
            interrupt_enable: s.interrupt_enable,
            interrupt_identification: s.interrupt_identification,
            line_control: s.line_control,
            line_status: s.line_status,
            modem_control: s.modem_control,
            modem_status: s.modem_status,
            scratch: s.scratch,
            in_buffer: s.in_buffer.clone(),
        }
    }
}

/// Every device's state.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceStates {
    /// COM1.
    pub serial: SerialRegs,
    /// The keyboard controller.
    pub i8042: I8042State,
    /// The ACPI PM registers.
    pub acpi_pm: AcpiPmState,
    /// virtio devices in their PCI slot order (each device's own state).
    #[serde(default)]
    pub virtio: Vec<serde_json::Value>,
}

/// The machine state section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MachineState {
    /// Per vCPU, in index order.
    pub vcpus: Vec<VcpuState>,
    /// Interrupt controllers, PIT, clock.
    pub vm: VmKvmState,
    /// Devices.
    pub devices: DeviceStates,
}
