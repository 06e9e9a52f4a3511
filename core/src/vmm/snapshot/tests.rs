use super::*;
use std::path::PathBuf;
use vm_memory::{Bytes, GuestAddress};

fn dir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "hangar-snap-{tag}-{}-{:?}",
        std::process::id(),
        std::thread::current().id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("dir");
    d
}

fn sample_state() -> MachineState {
    let regs = kvm_bindings::kvm_regs {
        rip: 0xffff_ffff_8100_0000,
        rax: 42,
        ..Default::default()
    };
    let vcpu = VcpuState {
        cpuid: vec![Raw::of(&kvm_bindings::kvm_cpuid_entry2::default())],
        mp_state: Raw::of(&kvm_bindings::kvm_mp_state::default()),
        regs: Raw::of(&regs),
        sregs: Raw::of(&kvm_bindings::kvm_sregs::default()),
        xsave: Raw::of(&kvm_bindings::kvm_xsave::default()),
        xcrs: Raw::of(&kvm_bindings::kvm_xcrs::default()),
        debugregs: Raw::of(&kvm_bindings::kvm_debugregs::default()),
        lapic: Raw::of(&kvm_bindings::kvm_lapic_state::default()),
        msrs: vec![MsrEntry {
            index: 0x10,
            data: 12345,
        }],
        events: Raw::of(&kvm_bindings::kvm_vcpu_events::default()),
        tsc_khz: Some(2_000_000),
    };
    MachineState {
        vcpus: vec![vcpu.clone(), vcpu],
        vm: VmKvmState {
            pic_master: Raw::of(&kvm_bindings::kvm_irqchip::default()),
            pic_slave: Raw::of(&kvm_bindings::kvm_irqchip::default()),
            ioapic: Raw::of(&kvm_bindings::kvm_irqchip::default()),
            pit: Raw::of(&kvm_bindings::kvm_pit_state2::default()),
            clock: Raw::of(&kvm_bindings::kvm_clock_data::default()),
        },
        devices: DeviceStates::default(),
    }
}

fn sample_memory() -> GuestMemoryMmap {
    let mem = crate::vmm::vstate::memory::create_guest_memory(4 << 20).expect("memory");
    mem.write_slice(b"first page", GuestAddress(0))
        .expect("write");
    mem.write_slice(&[7u8; 9000], GuestAddress(0x10_0000))
        .expect("write");
    mem.write_slice(b"last", GuestAddress((4 << 20) - 4))
        .expect("write");
    mem
}

fn saved(d: &std::path::Path) -> PathBuf {
    let path = d.join("vm.save");
    write(&path, "<domain/>", &sample_state(), &sample_memory()).expect("write");
    path
}

#[test]
fn round_trip_restores_state_and_memory_and_skips_zero_pages() {
    let d = dir("rt");
    let path = saved(&d);
    // 1 + 3 + 1 non-zero pages of 1024: the file holds those, not 4 MiB.
    let size = std::fs::metadata(&path).expect("meta").len();
    assert!(size < 64 * 1024, "file is {size} bytes");
    assert!(!std::fs::read_dir(&d)
        .expect("dir")
        .flatten()
        .any(|e| e.file_name().to_string_lossy().ends_with(".tmp")));
    let info = inspect(&path).expect("inspect");
    assert_eq!(info.domain_xml, "<domain/>");
    assert_eq!(info.size, size);

    let mut reader = SnapshotReader::open(&path).expect("open");
    assert_eq!(reader.domain_xml().expect("xml"), "<domain/>");
    let state = reader.machine_state().expect("state");
    assert_eq!(state, sample_state());
    let regs: kvm_bindings::kvm_regs = state.vcpus[0].regs.to().expect("regs");
    assert_eq!((regs.rip, regs.rax), (0xffff_ffff_8100_0000, 42));
    assert!(state.vcpus[0]
        .sregs
        .to::<kvm_bindings::kvm_regs>()
        .is_none());
    let fresh = crate::vmm::vstate::memory::create_guest_memory(4 << 20).expect("memory");
    memory::read_regions(&mut reader, &fresh).expect("memory");
    let original = sample_memory();
    let mut a = vec![0u8; 4 << 20];
    let mut b = vec![0u8; 4 << 20];
    original.read_slice(&mut a, GuestAddress(0)).expect("read");
    fresh.read_slice(&mut b, GuestAddress(0)).expect("read");
    assert!(a == b, "restored memory differs");

    // A VM of another size does not take this memory.
    let mut reader = SnapshotReader::open(&path).expect("open");
    reader.domain_xml().expect("xml");
    reader.machine_state().expect("state");
    let bigger = crate::vmm::vstate::memory::create_guest_memory(8 << 20).expect("memory");
    let err = memory::read_regions(&mut reader, &bigger).expect_err("mismatch");
    assert!(matches!(err, SnapshotError::Mismatch { .. }), "{err}");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn truncated_files_are_refused_naming_the_file() {
    let d = dir("trunc");
    let path = saved(&d);
    let bytes = std::fs::read(&path).expect("read");
    for cut in [0, 7, 8, 16, 40, bytes.len() / 2, bytes.len() - 1] {
        let short = d.join(format!("cut{cut}.save"));
        std::fs::write(&short, &bytes[..cut]).expect("write");
        let err = inspect(&short).expect_err("truncated file accepted");
        let text = err.to_string();
        assert!(text.contains(&short.display().to_string()), "{text}");
        if cut >= 8 {
            assert!(
                matches!(err, SnapshotError::Truncated { .. }),
                "cut at {cut}: {text}"
            );
            assert!(text.contains("truncated"), "{text}");
        }
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn foreign_files_and_other_versions_are_refused() {
    let d = dir("foreign");
    let path = saved(&d);
    let mut bytes = std::fs::read(&path).expect("read");
    let foreign = d.join("foreign.save");
    std::fs::write(&foreign, b"QFI\xfb this is a qcow2 image, not a snapshot").expect("write");
    let err = inspect(&foreign).expect_err("foreign");
    assert!(matches!(err, SnapshotError::NotASnapshot { .. }), "{err}");
    assert!(err.to_string().contains("is not a Hangar snapshot"));

    bytes[8] = 9;
    let newer = d.join("newer.save");
    std::fs::write(&newer, &bytes).expect("write");
    let err = inspect(&newer).expect_err("version");
    assert!(
        matches!(err, SnapshotError::Version { found: 9, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("format version 9"));

    let missing = inspect(&d.join("absent.save")).expect_err("missing");
    assert!(matches!(missing, SnapshotError::Io { .. }), "{missing}");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn flipped_bits_fail_the_checksum() {
    let d = dir("crc");
    let path = saved(&d);
    let bytes = std::fs::read(&path).expect("read");
    // A byte of memory data, of the state JSON's hex, and of the XML.
    let xml_at = 16 + 16;
    let hex_at = bytes
        .windows(4)
        .position(|w| w == b"0000")
        .expect("hex digits");
    for at in [bytes.len() - 100, hex_at, xml_at] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x01;
        let bad = d.join("bad.save");
        std::fs::write(&bad, &damaged).expect("write");
        let err = inspect(&bad).expect_err("damaged file accepted");
        assert!(
            matches!(err, SnapshotError::Checksum { .. }),
            "byte {at}: {err}"
        );
        assert!(err.to_string().contains("checksum"), "{err}");
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn hostile_lengths_never_panic_or_allocate_wildly() {
    let d = dir("hostile");
    let path = saved(&d);
    let bytes = std::fs::read(&path).expect("read");
    let total = bytes.len();
    // Overwrite every 8-byte field in the first KiB with huge values and
    // keep a valid end record: each must be a clean error.
    for at in (16..1024.min(total - 32)).step_by(8) {
        let mut evil = bytes.clone();
        evil[at..at + 8].copy_from_slice(&u64::MAX.to_le_bytes());
        let p = d.join("evil.save");
        std::fs::write(&p, &evil).expect("write");
        assert!(inspect(&p).is_err(), "offset {at} accepted");
    }
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn failed_write_leaves_no_file() {
    let d = dir("fail");
    let path = d.join("no-such-dir").join("vm.save");
    let err = write(&path, "<domain/>", &sample_state(), &sample_memory()).expect_err("write");
    assert!(err.to_string().contains("no-such-dir"), "{err}");
    // A writer dropped before finish removes its temporary file.
    let target = d.join("vm.save");
    let w = SnapshotWriter::create(&target).expect("create");
    drop(w);
    assert_eq!(std::fs::read_dir(&d).expect("dir").count(), 0);
    let _ = std::fs::remove_dir_all(d);
}
