//! The transport driven the way the kernel's virtio_pci driver drives it,
//! against a real KVM VM (irqfds, ioeventfds and GSI routes are real
//! ioctls) with virtio-rng behind it.

use super::common_cfg::{status, NO_VECTOR};
use super::*;
use crate::vmm::config::RngConfig;
use crate::vmm::devices::pci::config::{command, reg};
use crate::vmm::devices::virtio::rng::Rng;
use crate::vmm::vstate::memory::create_guest_memory;
use crate::vmm::vstate::vm::Vm;
use vm_memory::{Bytes, GuestAddress};

const BAR: u32 = 0xc000_0000;
const DESC: u64 = 0x10_0000;
const AVAIL: u64 = 0x11_0000;
const USED: u64 = 0x12_0000;
const BUF: u64 = 0x20_0000;

fn setup() -> (Vm, GuestMemoryMmap, VirtioPciDevice) {
    let kvm = kvm_ioctls::Kvm::new().expect("/dev/kvm (the VMM's unit tests need KVM)");
    let memory = create_guest_memory(64 << 20).expect("memory");
    let vm = Vm::new(&kvm, &memory).expect("vm");
    let rng = Rng::new(&RngConfig {
        source: "/dev/urandom".into(),
    })
    .expect("rng");
    let dev = VirtioPciDevice::new(
        Box::new(rng),
        PciPlacement {
            bar0: BAR,
            intx_gsi: 17,
            intx: vm.level_irq(17),
            routing: vm.routing(),
            vm: vm.shared_fd(),
            memory: memory.clone(),
        },
    )
    .expect("transport");
    (vm, memory, dev)
}

fn cfg_u8(d: &mut VirtioPciDevice, at: usize) -> u8 {
    let mut b = [0u8];
    d.config_read(at, &mut b);
    b[0]
}

fn cfg_u32(d: &mut VirtioPciDevice, at: usize) -> u32 {
    let mut b = [0u8; 4];
    d.config_read(at, &mut b);
    u32::from_le_bytes(b)
}

fn w16(d: &mut VirtioPciDevice, at: u64, v: u16) {
    d.bar_write(0, at, &v.to_le_bytes());
}

fn w32(d: &mut VirtioPciDevice, at: u64, v: u32) {
    d.bar_write(0, at, &v.to_le_bytes());
}

fn r8(d: &mut VirtioPciDevice, at: u64) -> u8 {
    let mut b = [0u8];
    d.bar_read(0, at, &mut b);
    b[0]
}

fn r16(d: &mut VirtioPciDevice, at: u64) -> u16 {
    let mut b = [0u8; 2];
    d.bar_read(0, at, &mut b);
    u16::from_le_bytes(b)
}

/// The vendor capabilities by cfg_type: (bar, offset, length).
fn virtio_caps(d: &mut VirtioPciDevice) -> Vec<(u8, u8, u32, u32)> {
    let mut caps = Vec::new();
    let mut at = cfg_u8(d, reg::CAPABILITIES) as usize;
    let mut guard = 0;
    while at != 0 && guard < 48 {
        if cfg_u8(d, at) == CAP_VENDOR {
            caps.push((
                cfg_u8(d, at + 3),
                cfg_u8(d, at + 4),
                cfg_u32(d, at + 8),
                cfg_u32(d, at + 12),
            ));
        }
        at = cfg_u8(d, at + 1) as usize;
        guard += 1;
    }
    caps
}

#[test]
fn ids_capabilities_and_msix_table_as_a_driver_sees_them() {
    let (_vm, _mem, mut d) = setup();
    assert_eq!(cfg_u32(&mut d, 0), 0x1044_1af4, "virtio-rng, modern id");
    assert_eq!(cfg_u8(&mut d, reg::REVISION), 1);
    assert_eq!(cfg_u8(&mut d, reg::INTERRUPT_PIN), 1);
    assert_eq!(cfg_u8(&mut d, reg::INTERRUPT_LINE), 17);
    let caps = virtio_caps(&mut d);
    let types: Vec<u8> = caps.iter().map(|c| c.0).collect();
    assert_eq!(types, [1, 2, 3, 4, 5]);
    assert_eq!(caps[0], (1, 0, 0, 0x3c));
    assert_eq!(caps[1].2, 0x3000);
    // BAR sizing.
    d.config_write(reg::BAR0, &[0xff; 4]);
    assert_eq!(cfg_u32(&mut d, reg::BAR0), !(BAR0_SIZE as u32 - 1));
    d.config_write(reg::BAR0, &BAR.to_le_bytes());
    // The MSI-X capability: 2 vectors (one queue + config), table in BAR 0.
    let mut at = cfg_u8(&mut d, reg::CAPABILITIES) as usize;
    while cfg_u8(&mut d, at) != msix::CAPABILITY_ID {
        at = cfg_u8(&mut d, at + 1) as usize;
    }
    assert_eq!(cfg_u32(&mut d, at) >> 16, 1, "table size - 1");
    assert_eq!(cfg_u32(&mut d, at + 4), bar0::MSIX_TABLE as u32);
    // Vectors start masked; the guest programs one and unmasks it.
    assert_eq!(r8(&mut d, bar0::MSIX_TABLE + 12) & 1, 1);
    w32(&mut d, bar0::MSIX_TABLE, 0xfee0_0000);
    w32(&mut d, bar0::MSIX_TABLE + 8, 0x41);
    w32(&mut d, bar0::MSIX_TABLE + 12, 0);
    let mut entry = [0u8; 16];
    d.bar_read(0, bar0::MSIX_TABLE, &mut entry);
    assert_eq!(&entry[..4], &0xfee0_0000u32.to_le_bytes());
    assert_eq!(&entry[8..12], &0x41u32.to_le_bytes());
    // Enable MSI-X: the control bits read back.
    d.config_write(at + 2, &msix::CONTROL_ENABLE.to_le_bytes());
    assert_eq!(
        cfg_u32(&mut d, at) >> 16,
        u32::from(msix::CONTROL_ENABLE | 1)
    );
    // Junk everywhere must not panic.
    for off in (0..BAR0_SIZE + 16).step_by(3) {
        d.bar_write(0, off, &[0xff, 0xff, 0xff]);
        d.bar_read(0, off, &mut [0u8; 8]);
    }
    for off in 0..260 {
        d.config_write(off, &[0xa5]);
        d.config_read(off, &mut [0u8; 4]);
    }
}

#[test]
fn driver_ok_starts_the_device_and_a_kick_fills_the_guest_buffer() {
    let (_vm, mem, mut d) = setup();
    d.config_write(
        reg::COMMAND,
        &(command::MEMORY | command::BUS_MASTER).to_le_bytes(),
    );
    assert_eq!(d.bar_regions().len(), 1);
    w16(
        &mut d,
        0x14,
        u16::from(status::ACKNOWLEDGE | status::DRIVER),
    );
    w32(&mut d, 0x08, 1);
    w32(&mut d, 0x0c, 1); // VERSION_1
    w16(
        &mut d,
        0x14,
        u16::from(status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK),
    );
    assert_ne!(r8(&mut d, 0x14) & status::FEATURES_OK, 0);
    // Queue 0: 4 entries, one 64-byte device-writable buffer made available.
    w16(&mut d, 0x16, 0);
    w16(&mut d, 0x18, 4);
    d.bar_write(0, 0x20, &DESC.to_le_bytes());
    d.bar_write(0, 0x28, &AVAIL.to_le_bytes());
    d.bar_write(0, 0x30, &USED.to_le_bytes());
    w16(&mut d, 0x1a, 0);
    assert_eq!(r16(&mut d, 0x1a), 0, "vector 0 accepted");
    w16(&mut d, 0x1c, 1);
    let mut desc = Vec::new();
    desc.extend_from_slice(&BUF.to_le_bytes());
    desc.extend_from_slice(&64u32.to_le_bytes());
    desc.extend_from_slice(&2u16.to_le_bytes()); // VIRTQ_DESC_F_WRITE
    desc.extend_from_slice(&0u16.to_le_bytes());
    mem.write_slice(&desc, GuestAddress(DESC)).expect("desc");
    mem.write_obj(0u16, GuestAddress(AVAIL + 4))
        .expect("ring[0]");
    mem.write_obj(1u16, GuestAddress(AVAIL + 2))
        .expect("avail idx");
    w16(
        &mut d,
        0x14,
        u16::from(status::ACKNOWLEDGE | status::DRIVER | status::FEATURES_OK | status::DRIVER_OK),
    );
    assert!(d.is_active());
    w16(&mut d, VirtioPciDevice::notify_offset(0), 0);
    let mut used_idx = 0u16;
    for _ in 0..500 {
        used_idx = mem.read_obj(GuestAddress(USED + 2)).expect("used idx");
        if used_idx == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(used_idx, 1, "the request was answered");
    let len: u32 = mem.read_obj(GuestAddress(USED + 8)).expect("used len");
    assert_eq!(len, 64);
    // Saving needs the device paused.
    let err = d.save_state().err().expect("a running device is not saved");
    assert!(err.to_string().contains("pause it"), "{err}");
    // The guest scribbles over the used index; pausing writes the device's
    // count back, so saved memory and saved ring positions agree.
    mem.write_obj(7u16, GuestAddress(USED + 2))
        .expect("used idx");
    d.pause().expect("pause");
    assert!(d.is_paused() && !d.is_active());
    let published: u16 = mem.read_obj(GuestAddress(USED + 2)).expect("used idx");
    assert_eq!(published, 1, "the used index the device wrote");
    // While paused a new buffer and a kick are left alone.
    mem.write_obj(0u16, GuestAddress(AVAIL + 6))
        .expect("ring[1]");
    mem.write_obj(2u16, GuestAddress(AVAIL + 2))
        .expect("avail idx");
    w16(&mut d, VirtioPciDevice::notify_offset(0), 0);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut used_idx: u16 = mem.read_obj(GuestAddress(USED + 2)).expect("used idx");
    assert_eq!(used_idx, 1, "nothing served while paused");
    let saved = d.save_state().expect("save");
    assert!(saved.active);
    assert_eq!(saved.queues[0].1.next_used, 1);
    assert_eq!(
        saved.queues[0].1.next_avail, 1,
        "the new buffer is not taken"
    );
    // Resumed (a failed save): the device serves what came meanwhile.
    d.resume().expect("resume");
    assert!(d.is_active() && !d.is_paused());
    for _ in 0..500 {
        used_idx = mem.read_obj(GuestAddress(USED + 2)).expect("used idx");
        if used_idx == 2 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert_eq!(used_idx, 2, "the buffer queued while paused was answered");
    d.resume().expect("resuming a running device does nothing");
    assert!(d.is_active());
    // Reset: the device stops and the queue registers return to defaults.
    w16(&mut d, 0x14, 0);
    assert!(!d.is_active());
    assert_eq!(r8(&mut d, 0x14), 0);
    assert_eq!(r16(&mut d, 0x18), 256);
    assert_eq!(r16(&mut d, 0x1a), NO_VECTOR);
    // The saved state goes back into a fresh function and runs again.
    let (_vm2, _mem2, mut fresh) = setup();
    fresh.restore_state(&saved).expect("restore");
    assert!(fresh.is_active());
    assert_eq!(fresh.bar_regions().len(), 1);
    let json = serde_json::to_string(&saved).expect("serialize");
    let back: state::VirtioPciState = serde_json::from_str(&json).expect("deserialize");
    assert_eq!(back, saved);
}

#[test]
fn without_msix_interrupts_set_the_isr_which_reads_clear() {
    let (_vm, _mem, mut d) = setup();
    d.config_write(reg::COMMAND, &command::MEMORY.to_le_bytes());
    d.interrupt.trigger(InterruptCause::Queue(0)).expect("intx");
    d.interrupt.trigger(InterruptCause::Config).expect("intx");
    assert_eq!(r8(&mut d, bar0::ISR), 3);
    assert_eq!(r8(&mut d, bar0::ISR), 0, "read clears");
    // With MSI-X on, a queue without a vector raises nothing and the ISR stays clear.
    let mut at = cfg_u8(&mut d, reg::CAPABILITIES) as usize;
    while cfg_u8(&mut d, at) != msix::CAPABILITY_ID {
        at = cfg_u8(&mut d, at + 1) as usize;
    }
    d.config_write(at + 2, &msix::CONTROL_ENABLE.to_le_bytes());
    d.interrupt.trigger(InterruptCause::Queue(0)).expect("msix");
    assert_eq!(r8(&mut d, bar0::ISR), 0);
    // A masked vector keeps its interrupt pending until unmasked.
    w16(&mut d, 0x16, 0);
    w16(&mut d, 0x1a, 1);
    d.interrupt.trigger(InterruptCause::Queue(0)).expect("msix");
    assert_eq!(r8(&mut d, bar0::MSIX_PBA), 0b10);
    w32(&mut d, bar0::MSIX_TABLE + 16, 0xfee0_0000);
    w32(&mut d, bar0::MSIX_TABLE + 24, 0x42);
    w32(&mut d, bar0::MSIX_TABLE + 28, 0);
    assert_eq!(r8(&mut d, bar0::MSIX_PBA), 0, "delivered on unmask");
}
