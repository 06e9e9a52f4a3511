//! virtio-balloon with mock rings: pages released from real anonymous
//! guest memory, frame numbers outside RAM ignored, the stats buffer kept
//! and handed back, the configuration space and the control handle.

use super::worker::BalloonWorker;
use super::*;
use std::sync::Mutex as StdMutex;
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::Queue;
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryMmap};

const MEM_SIZE: u64 = 0x20_0000;

fn memory() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), MEM_SIZE as usize)]).expect("guest memory")
}

fn desc(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
    RawDescriptor::from(SplitDescriptor::new(addr, len, flags, next))
}

fn used(mem: &GuestMemoryMmap, mock: &MockSplitQueue<GuestMemoryMmap>) -> Vec<(u32, u32)> {
    let base = mock.used_addr();
    let idx: u16 = mem.read_obj(base.unchecked_add(2)).expect("used idx");
    (0..idx)
        .map(|i| {
            let at = base.unchecked_add(4 + 8 * u64::from(i % 16));
            let id: u32 = mem.read_obj(at).expect("id");
            let len: u32 = mem.read_obj(at.unchecked_add(4)).expect("len");
            (id, len)
        })
        .collect()
}

#[derive(Default)]
struct Interrupts(StdMutex<Vec<InterruptCause>>);

impl VirtioInterrupt for Interrupts {
    fn trigger(&self, cause: InterruptCause) -> std::io::Result<()> {
        self.0.lock().expect("lock").push(cause);
        Ok(())
    }
}

fn active(index: u16, queue: Queue) -> ActiveQueue {
    ActiveQueue {
        index,
        queue,
        notify: EventFd::new(libc::EFD_NONBLOCK).expect("eventfd"),
    }
}

fn empty_queue(mem: &GuestMemoryMmap, at: u64) -> Queue {
    MockSplitQueue::create(mem, GuestAddress(at), 16)
        .create_queue()
        .expect("queue")
}

fn worker(
    mem: &GuestMemoryMmap,
    inflate: Queue,
    stats: Option<Queue>,
) -> (BalloonWorker, Arc<Interrupts>, Arc<Shared>) {
    let interrupts = Arc::new(Interrupts::default());
    let shared = Arc::new(Shared::default());
    let worker = BalloonWorker {
        memory: mem.clone(),
        inflate: active(0, inflate),
        deflate: active(1, empty_queue(mem, 0x18_0000)),
        stats: stats.map(|q| active(2, q)),
        held_stats: None,
        interrupt: interrupts.clone(),
        shared: shared.clone(),
        refresh: Arc::new(EventFd::new(libc::EFD_NONBLOCK).expect("eventfd")),
        stop: EventFd::new(libc::EFD_NONBLOCK).expect("eventfd"),
    };
    (worker, interrupts, shared)
}

#[test]
fn inflated_pages_are_given_back_and_bad_frames_ignored() {
    let mem = memory();
    // Three pages of guest data: 0x100 and 0x101 go into the balloon, 0x102 stays.
    for pfn in [0x100u64, 0x101, 0x102] {
        mem.write_slice(&[0xab; 4096], GuestAddress(pfn * PAGE_SIZE))
            .expect("fill");
    }
    // Frame numbers: two adjacent pages, one far outside RAM, one straddling nothing.
    let pfns: [u32; 3] = [0x100, 0x101, 0xfff_ffff];
    for (i, pfn) in pfns.iter().enumerate() {
        mem.write_obj(pfn.to_le(), GuestAddress(0x1_0000 + 4 * i as u64))
            .expect("pfn");
    }
    let mock = MockSplitQueue::create(&mem, GuestAddress(0x19_0000), 16);
    mock.add_desc_chains(&[desc(0x1_0000, 12, 0, 0)], 0)
        .expect("chain");
    let (mut w, interrupts, _) = worker(&mem, mock.create_queue().expect("queue"), None);
    w.inflate_pages();
    assert_eq!(used(&mem, &mock), [(0, 0)]);
    assert_eq!(
        *interrupts.0.lock().expect("lock"),
        [InterruptCause::Queue(0)]
    );
    let mut page = [0u8; 4096];
    for (pfn, expected) in [(0x100u64, 0u8), (0x101, 0), (0x102, 0xab)] {
        mem.read_slice(&mut page, GuestAddress(pfn * PAGE_SIZE))
            .expect("read");
        assert!(page.iter().all(|b| *b == expected), "page {pfn:#x}");
    }
}

#[test]
fn a_chain_pointing_outside_memory_is_returned_without_harm() {
    let mem = memory();
    let mock = MockSplitQueue::create(&mem, GuestAddress(0x19_0000), 16);
    // The PFN array itself lies beyond guest memory.
    mock.add_desc_chains(&[desc(MEM_SIZE + 0x1000, 4096, 0, 0)], 0)
        .expect("chain");
    let (mut w, _, _) = worker(&mem, mock.create_queue().expect("queue"), None);
    w.inflate_pages();
    assert_eq!(used(&mem, &mock).len(), 1);
}

fn stat(tag: u16, value: u64) -> Vec<u8> {
    let mut e = tag.to_le_bytes().to_vec();
    e.extend_from_slice(&value.to_le_bytes());
    e
}

#[test]
fn the_stats_buffer_is_read_kept_and_handed_back() {
    let mem = memory();
    let mut bytes = stat(4, 100 << 20);
    bytes.extend(stat(5, 512 << 20));
    mem.write_slice(&bytes, GuestAddress(0x2_0000))
        .expect("stats");
    let mock = MockSplitQueue::create(&mem, GuestAddress(0x1a_0000), 16);
    mock.add_desc_chains(&[desc(0x2_0000, bytes.len() as u32, 0, 0)], 0)
        .expect("chain");
    let (mut w, interrupts, shared) = worker(
        &mem,
        empty_queue(&mem, 0x19_0000),
        Some(mock.create_queue().expect("queue")),
    );
    w.read_stats();
    let stats = shared.lock().stats.expect("stats read");
    assert_eq!(stats.free, Some(100 << 20));
    assert_eq!(stats.total, Some(512 << 20));
    assert!(used(&mem, &mock).is_empty(), "the buffer is kept");
    w.return_stats_buffer();
    assert_eq!(used(&mem, &mock), [(0, 0)]);
    assert_eq!(
        *interrupts.0.lock().expect("lock"),
        [InterruptCause::Queue(2)]
    );
}

#[test]
fn config_space_and_control_handle() {
    let mut balloon = Balloon::new(512 << 20, true).expect("balloon");
    assert_ne!(balloon.features() & balloon_features::DEFLATE_ON_OOM, 0);
    assert_ne!(balloon.features() & balloon_features::STATS_VQ, 0);
    assert_eq!(
        Balloon::new(512 << 20, false).expect("balloon").features()
            & balloon_features::DEFLATE_ON_OOM,
        0
    );
    let control = balloon.control();
    assert!(control.set_guest_memory(1 << 30).is_err());
    control.set_guest_memory(384 << 10).expect("fits");
    let mut config = [0u8; 8];
    balloon.read_config(0, &mut config);
    assert_eq!(
        u32::from_le_bytes([config[0], config[1], config[2], config[3]]),
        32768
    );
    // The driver may write `actual` only.
    balloon.write_config(0, &[0xff; 4]);
    balloon.write_config(4, &16384u32.to_le_bytes());
    balloon.read_config(0, &mut config);
    assert_eq!(
        u32::from_le_bytes([config[0], config[1], config[2], config[3]]),
        32768
    );
    assert_eq!(
        u32::from_le_bytes([config[4], config[5], config[6], config[7]]),
        16384
    );
    let report = control.report(Duration::ZERO);
    assert_eq!(report.actual_kib, 448 << 10);
    assert_eq!(report.target_kib, 384 << 10);
    assert_eq!(report.stats, None);
}

#[test]
fn an_active_balloon_asks_for_stats_and_interrupts_on_resize() {
    let mem = memory();
    let bytes = stat(6, 300 << 20);
    mem.write_slice(&bytes, GuestAddress(0x2_0000))
        .expect("stats");
    let stats_mock = MockSplitQueue::create(&mem, GuestAddress(0x1a_0000), 16);
    stats_mock
        .add_desc_chains(&[desc(0x2_0000, bytes.len() as u32, 0, 0)], 0)
        .expect("chain");
    let mut balloon = Balloon::new(MEM_SIZE, false).expect("balloon");
    let interrupts = Arc::new(Interrupts::default());
    balloon
        .activate(Activation {
            memory: mem.clone(),
            acked_features: features::VERSION_1 | balloon_features::STATS_VQ,
            queues: vec![
                active(0, empty_queue(&mem, 0x18_0000)),
                active(1, empty_queue(&mem, 0x19_0000)),
                active(2, stats_mock.create_queue().expect("queue")),
            ],
            interrupt: interrupts.clone(),
        })
        .expect("activates");
    let control = balloon.control();
    // The worker reads the buffer queued at activation, then hands it back
    // when asked; the mock driver does not refill it, so the wait ends.
    // Let it read that first buffer, so that the request below is the one
    // that hands it back (not one racing the first read).
    let start = std::time::Instant::now();
    while control.report(Duration::ZERO).stats.is_none() && start.elapsed() < Duration::from_secs(5)
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = control.report(Duration::from_millis(300));
    assert_eq!(report.stats.and_then(|s| s.available), Some(300 << 20));
    assert!(report.last_update.is_some());
    assert_eq!(used(&mem, &stats_mock), [(0, 0)]);
    control.set_guest_memory(1024).expect("fits");
    let causes = interrupts.0.lock().expect("lock").clone();
    assert!(causes.contains(&InterruptCause::Queue(2)), "{causes:?}");
    assert!(causes.contains(&InterruptCause::Config), "{causes:?}");
    assert_eq!(balloon.deactivate().len(), 3);
}

#[test]
fn state_round_trips() {
    let balloon = Balloon::new(MEM_SIZE, false).expect("balloon");
    balloon.control().set_guest_memory(1024).expect("fits");
    let saved = balloon.save_state();
    let mut other = Balloon::new(MEM_SIZE, false).expect("balloon");
    other.restore_state(&saved).expect("restores");
    assert_eq!(other.save_state(), saved);
}
