use super::event::{ev, scale_axis, scancode_to_linux, ABS_MAX};
use super::*;
use crate::vmm::devices::virtio::{InterruptCause, VirtioInterrupt};
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// The answer to `select`/`subsel` as the driver reads it: `size`, then
/// that many bytes of the union.
fn ask(device: &mut Input, select: u8, subsel: u8) -> Vec<u8> {
    device.write_config(0, &[select]);
    device.write_config(1, &[subsel]);
    let mut size = [0u8];
    device.read_config(2, &mut size);
    let mut answer = vec![0u8; usize::from(size[0])];
    device.read_config(8, &mut answer);
    answer
}

fn has_bit(bitmap: &[u8], code: u16) -> bool {
    bitmap
        .get(usize::from(code / 8))
        .is_some_and(|b| b & (1 << (code % 8)) != 0)
}

#[test]
fn tablet_config_space_describes_an_absolute_pointer() {
    let mut tablet = Input::new(InputKind::Tablet, 0).expect("tablet");
    assert_eq!(
        ask(&mut tablet, select::ID_NAME, 0),
        b"Hangar Virtio Tablet"
    );
    assert_eq!(ask(&mut tablet, select::ID_SERIAL, 0), b"hangar-tablet-0");
    // bustype BUS_VIRTUAL, vendor, product, version (le16 each).
    assert_eq!(
        ask(&mut tablet, select::ID_DEVIDS, 0),
        [0x06, 0, 0x27, 0x06, 0x03, 0, 0x01, 0]
    );
    assert!(ask(&mut tablet, select::PROP_BITS, 0).is_empty());
    let keys = ask(&mut tablet, select::EV_BITS, ev::KEY as u8);
    assert_eq!(keys.len(), 0x112 / 8 + 1);
    for code in [0x110, 0x111, 0x112] {
        assert!(has_bit(&keys, code), "button {code:#x}");
    }
    assert_eq!(keys.iter().map(|b| b.count_ones()).sum::<u32>(), 3);
    assert_eq!(ask(&mut tablet, select::EV_BITS, ev::ABS as u8), [0b11]);
    assert_eq!(ask(&mut tablet, select::EV_BITS, ev::REL as u8), [0, 1]);
    assert!(ask(&mut tablet, select::EV_BITS, ev::REP as u8).is_empty());
    assert!(ask(&mut tablet, select::EV_BITS, ev::LED as u8).is_empty());
    let x = ask(&mut tablet, select::ABS_INFO, 0);
    assert_eq!(x.len(), 20, "min, max, fuzz, flat, res");
    assert_eq!(&x[..8], [0, 0, 0, 0, 0xff, 0x7f, 0, 0]);
    assert_eq!(ask(&mut tablet, select::ABS_INFO, 1), x);
    assert!(ask(&mut tablet, select::ABS_INFO, 2).is_empty());
    assert!(ask(&mut tablet, select::UNSET, 0).is_empty());
    assert!(ask(&mut tablet, 0x7f, 0).is_empty());
    // Reads past the space are zeros; select and subsel read back.
    let mut tail = [0xaau8; 4];
    tablet.read_config(CONFIG_SIZE as u64 - 2, &mut tail);
    assert_eq!(tail, [0; 4]);
    let mut head = [0u8; 2];
    tablet.read_config(0, &mut head);
    assert_eq!(head, [0x7f, 0], "the last selection");
}

#[test]
fn keyboard_config_space_has_keys_leds_and_autorepeat() {
    let mut keyboard = Input::new(InputKind::Keyboard, 1).expect("keyboard");
    assert_eq!(
        ask(&mut keyboard, select::ID_NAME, 0),
        b"Hangar Virtio Keyboard"
    );
    // Both bytes in one write, as a 16-bit access would do it.
    keyboard.write_config(0, &[select::EV_BITS, ev::KEY as u8]);
    let mut size = [0u8];
    keyboard.read_config(2, &mut size);
    let mut keys = vec![0u8; usize::from(size[0])];
    keyboard.read_config(8, &mut keys);
    // Esc, A, Enter, F12, the arrows, Right Ctrl, Delete, Super.
    for code in [1, 30, 28, 88, 103, 105, 106, 108, 97, 111, 125] {
        assert!(has_bit(&keys, code), "key {code}");
    }
    assert!(!has_bit(&keys, 0), "KEY_RESERVED");
    assert_eq!(ask(&mut keyboard, select::EV_BITS, ev::REP as u8), [0]);
    assert_eq!(ask(&mut keyboard, select::EV_BITS, ev::LED as u8), [0b111]);
    assert!(ask(&mut keyboard, select::EV_BITS, ev::ABS as u8).is_empty());
    assert!(ask(&mut keyboard, select::ABS_INFO, 0).is_empty());
}

#[test]
fn events_are_eight_little_endian_bytes() {
    let e = InputEvent {
        kind: ev::ABS,
        code: 1,
        value: 0x0102_0304,
    };
    assert_eq!(e.to_bytes(), [3, 0, 1, 0, 4, 3, 2, 1]);
    assert_eq!(
        InputEvent::key(0x110, true).to_bytes(),
        [1, 0, 0x10, 1, 1, 0, 0, 0]
    );
    assert_eq!(InputEvent::SYN_REPORT.to_bytes(), [0; 8]);
}

#[test]
fn axes_scale_the_screen_onto_0_to_32767() {
    assert_eq!(scale_axis(0, 1024), 0);
    assert_eq!(scale_axis(1023, 1024), ABS_MAX);
    assert_eq!(scale_axis(5000, 1024), ABS_MAX);
    assert_eq!(scale_axis(512, 1024), 512 * 32767 / 1023);
    assert_eq!(scale_axis(3, 1), 0);
}

#[test]
fn scancodes_become_linux_keys() {
    assert_eq!(scancode_to_linux(0x1e), Some(30)); // A
    assert_eq!(scancode_to_linux(0x58), Some(88)); // F12
    assert_eq!(scancode_to_linux(0xe048), Some(103)); // Up
    assert_eq!(scancode_to_linux(0xe01d), Some(97)); // Right Ctrl
    assert_eq!(scancode_to_linux(0x00), None);
    assert_eq!(scancode_to_linux(0xe0ff), None);
}

#[derive(Default)]
struct Recorder(std::sync::Mutex<Vec<InterruptCause>>);
impl VirtioInterrupt for Recorder {
    fn trigger(&self, cause: InterruptCause) -> std::io::Result<()> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).push(cause);
        Ok(())
    }
}

/// `device` activated with an event queue of `buffers` 8-byte buffers at
/// 0x8000, 0x8100, …
fn activate(device: &mut Input, mem: &GuestMemoryMmap, buffers: u16) -> Arc<Recorder> {
    let mock = MockSplitQueue::new(mem, 64);
    let descs: Vec<RawDescriptor> = (0..buffers)
        .map(|i| {
            RawDescriptor::from(SplitDescriptor::new(
                0x8000 + 0x100 * u64::from(i),
                8,
                2, /* WRITE */
                0,
            ))
        })
        .collect();
    if !descs.is_empty() {
        mock.build_multiple_desc_chains(&descs).expect("chains");
    }
    let queue: Queue = mock.create_queue().expect("queue");
    let recorder = Arc::new(Recorder::default());
    device
        .activate(Activation {
            memory: mem.clone(),
            acked_features: features::VERSION_1,
            queues: vec![ActiveQueue {
                index: 0,
                queue,
                notify: EventFd::new(libc::EFD_NONBLOCK).expect("eventfd"),
            }],
            interrupt: recorder.clone(),
        })
        .expect("activate");
    recorder
}

fn read_events(mem: &GuestMemoryMmap, count: u16) -> Vec<(u16, u16, u32)> {
    (0..count)
        .map(|i| {
            let mut b = [0u8; 8];
            mem.read_slice(&mut b, GuestAddress(0x8000 + 0x100 * u64::from(i)))
                .expect("read");
            (
                u16::from_le_bytes([b[0], b[1]]),
                u16::from_le_bytes([b[2], b[3]]),
                u32::from_le_bytes([b[4], b[5], b[6], b[7]]),
            )
        })
        .collect()
}

/// Waits until the worker has handed out every pending event.
fn wait_drained(handle: &InputHandle) {
    for _ in 0..1000 {
        if handle.shared.lock().events.is_empty() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    panic!("events still pending");
}

#[test]
fn pointer_moves_and_clicks_reach_the_event_queue_in_batches() {
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10_0000)]).expect("memory");
    let mut tablet = Input::new(InputKind::Tablet, 0).expect("tablet");
    let handle = tablet.handle();
    assert!(!handle.pointer(1, 1, 0, 1024, 768), "no driver yet");
    let recorder = activate(&mut tablet, &mem, 16);
    assert!(handle.is_active());
    // Move, left click, right click, wheel up: RFB masks 0, 1, 4, 8.
    for buttons in [0, 1, 0, 0b100, 0, 0b1000, 0] {
        assert!(handle.pointer(300, 200, buttons, 1024, 768));
    }
    assert!(!handle.key(0x1e, true), "a tablet has no keys");
    wait_drained(&handle);
    let queues = tablet.deactivate();
    assert_eq!(queues[0].queue.next_used(), 13, "one buffer per event");
    assert!(!recorder.0.lock().expect("lock").is_empty(), "interrupted");
    let (x, y) = (300 * 32767 / 1023, 200 * 32767 / 767);
    let syn = (0, 0, 0);
    assert_eq!(
        read_events(&mem, 13),
        [
            (3, 0, x),
            (3, 1, y),
            syn,
            (1, 0x110, 1),
            syn,
            (1, 0x110, 0),
            syn,
            (1, 0x111, 1),
            syn,
            (1, 0x111, 0),
            syn,
            (2, 8, 1),
            syn,
        ]
    );
    assert!(!handle.is_active(), "deactivated");
    assert!(!handle.pointer(5, 5, 0, 1024, 768));
}

#[test]
fn a_guest_that_takes_nothing_loses_the_oldest_batches_only() {
    let mem = GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x10_0000)]).expect("memory");
    let mut keyboard = Input::new(InputKind::Keyboard, 0).expect("keyboard");
    let handle = keyboard.handle();
    assert!(
        !handle.key(0x1e, true),
        "before the driver, keys go elsewhere"
    );
    let _recorder = activate(&mut keyboard, &mem, 0);
    assert!(
        !handle.pointer(1, 1, 1, 1024, 768),
        "a keyboard has no pointer"
    );
    // Each key is a two-event batch (key, SYN_REPORT).
    for i in 0..MAX_PENDING_EVENTS {
        assert!(handle.key(0x10 + (i % 2) as u16, true));
    }
    let pending = handle.shared.lock().events.clone();
    assert_eq!(pending.len(), MAX_PENDING_EVENTS);
    assert_eq!(handle.dropped(), MAX_PENDING_EVENTS as u64);
    // The newest batches stay, whole: key then SYN_REPORT.
    assert_eq!(pending[0], InputEvent::key(0x10, true));
    assert_eq!(pending[1], InputEvent::SYN_REPORT);
    assert_eq!(pending[pending.len() - 2], InputEvent::key(0x11, true));
    assert!(!handle.key(0x00, true), "no such key");
    keyboard.deactivate();
    assert!(
        handle.shared.lock().events.is_empty(),
        "a reset forgets them"
    );
}

#[test]
fn select_and_subsel_survive_save_and_restore() {
    let mut tablet = Input::new(InputKind::Tablet, 0).expect("tablet");
    tablet.write_config(0, &[select::ABS_INFO, 1]);
    let saved = tablet.save_state();
    let mut fresh = Input::new(InputKind::Tablet, 0).expect("tablet");
    fresh.restore_state(&saved).expect("restore");
    let mut size = [0u8];
    fresh.read_config(2, &mut size);
    assert_eq!(size, [20]);
    assert!(fresh
        .restore_state(&serde_json::json!({"select": "x"}))
        .is_err());
}
