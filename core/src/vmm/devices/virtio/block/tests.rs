//! virtio-blk against mock rings (virtio-queue's test utilities): request
//! parsing and bounds checks, every request type, the I/O thread and the
//! queue positions handed back on deactivation.

use super::backend::test_files::TempDir;
use super::backend::{BackendCaps, DiskBackend, IoBuffers, RawDisk};
use super::request::{request_type, status};
use super::*;
use crate::vmm::config::DiskFormat;
use crate::vmm::devices::virtio::{InterruptCause, VirtioInterrupt};
use std::io;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::Queue;
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;
const HEADER: u64 = 0x10_0000;
const DATA: u64 = 0x20_0000;
const STATUS: u64 = 0x30_0000;

/// An in-memory disk that records calls.
#[derive(Clone)]
struct MemDisk {
    bytes: Arc<Mutex<Vec<u8>>>,
    flushes: Arc<AtomicU32>,
    discards: Arc<Mutex<Vec<(u64, u64)>>>,
}

impl MemDisk {
    fn new(len: usize) -> MemDisk {
        MemDisk {
            bytes: Arc::new(Mutex::new((0..len).map(|i| (i / 512) as u8).collect())),
            flushes: Arc::new(AtomicU32::new(0)),
            discards: Arc::new(Mutex::new(Vec::new())),
        }
    }

    fn byte(&self, at: usize) -> u8 {
        self.bytes.lock().expect("lock")[at]
    }
}

impl DiskBackend for MemDisk {
    fn capacity(&self) -> u64 {
        self.bytes.lock().expect("lock").len() as u64
    }
    fn caps(&self) -> BackendCaps {
        BackendCaps {
            discard: true,
            write_zeroes: true,
        }
    }
    fn read(&mut self, offset: u64, bufs: &mut IoBuffers<'_>) -> io::Result<()> {
        let bytes = self.bytes.lock().expect("lock");
        let mut at = offset as usize;
        for s in bufs.as_slices_mut() {
            let n = s.len();
            let mut s = s;
            s.copy_from_slice(&bytes[at..at + n]);
            at += n;
        }
        Ok(())
    }
    fn write(&mut self, offset: u64, bufs: &IoBuffers<'_>) -> io::Result<()> {
        let mut bytes = self.bytes.lock().expect("lock");
        let mut at = offset as usize;
        for s in bufs.as_slices() {
            bytes[at..at + s.len()].copy_from_slice(&s);
            at += s.len();
        }
        Ok(())
    }
    fn flush(&mut self) -> io::Result<()> {
        self.flushes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
    fn discard(&mut self, offset: u64, len: u64) -> io::Result<()> {
        self.discards.lock().expect("lock").push((offset, len));
        Ok(())
    }
    fn write_zeroes(&mut self, offset: u64, len: u64, _unmap: bool) -> io::Result<()> {
        let mut bytes = self.bytes.lock().expect("lock");
        bytes[offset as usize..(offset + len) as usize].fill(0);
        Ok(())
    }
}

fn disk_config(read_only: bool, serial: Option<&str>) -> DiskConfig {
    DiskConfig {
        target: "vda".into(),
        path: "/nonexistent".into(),
        format: DiskFormat::Raw,
        read_only,
        cdrom: false,
        serial: serial.map(str::to_string),
        discard: true,
    }
}

fn memory() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x100_0000)]).expect("guest memory")
}

fn desc(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
    RawDescriptor::from(SplitDescriptor::new(addr, len, flags, next))
}

fn write_header(mem: &GuestMemoryMmap, kind: u32, sector: u64) {
    let mut h = [0u8; 16];
    h[..4].copy_from_slice(&kind.to_le_bytes());
    h[8..].copy_from_slice(&sector.to_le_bytes());
    mem.write_slice(&h, GuestAddress(HEADER)).expect("header");
}

/// Header, one data descriptor (device-writable for reads), status.
fn three_part(data_len: u32, data_writable: bool) -> Vec<RawDescriptor> {
    vec![
        desc(HEADER, 16, F_NEXT, 1),
        desc(
            DATA,
            data_len,
            F_NEXT | if data_writable { F_WRITE } else { 0 },
            2,
        ),
        desc(STATUS, 1, F_WRITE, 0),
    ]
}

struct Harness {
    mem: GuestMemoryMmap,
    disk: MemDisk,
    props: DiskProperties,
}

impl Harness {
    fn new(read_only: bool) -> Harness {
        let disk = MemDisk::new(64 * 1024);
        let block = Block::with_backend(
            &disk_config(read_only, Some("SN-1")),
            Box::new(disk.clone()),
        );
        Harness {
            mem: memory(),
            disk,
            props: block.props.clone(),
        }
    }

    /// Runs one chain through `request::serve`; returns (status, used len).
    fn run(&mut self, descs: &[RawDescriptor]) -> (u8, u32) {
        self.mem
            .write_obj(0xffu8, GuestAddress(STATUS))
            .expect("status");
        let mock = MockSplitQueue::new(&self.mem, 16);
        mock.add_desc_chains(descs, 0).expect("chain");
        let mut queue: Queue = mock.create_queue().expect("queue");
        let chain = queue.pop_descriptor_chain(&self.mem).expect("a chain");
        let mut backend = self.disk.clone();
        let used = request::serve(&self.mem, chain, &mut backend, &self.props, "test");
        let st: u8 = self.mem.read_obj(GuestAddress(STATUS)).expect("status");
        (st, used)
    }
}

#[test]
fn config_space_and_features_describe_the_disk() {
    let block = Block::with_backend(&disk_config(false, None), Box::new(MemDisk::new(1 << 20)));
    assert_eq!(block.device_type(), device_type::BLOCK);
    assert_eq!(block.queue_max_sizes(), vec![QUEUE_SIZE]);
    let f = block.features();
    assert_ne!(f & features::VERSION_1, 0);
    assert_ne!(f & blk_features::FLUSH, 0);
    assert_ne!(f & blk_features::DISCARD, 0);
    assert_ne!(f & blk_features::WRITE_ZEROES, 0);
    assert_eq!(f & blk_features::RO, 0);
    let mut cap = [0u8; 8];
    block.read_config(0, &mut cap);
    assert_eq!(u64::from_le_bytes(cap), 2048, "capacity in sectors");
    let mut seg = [0u8; 4];
    block.read_config(12, &mut seg);
    assert_eq!(u32::from_le_bytes(seg), u32::from(QUEUE_SIZE - 2));
    let mut past = [0xaau8; 8];
    block.read_config(58, &mut past);
    assert_eq!(past, [0u8; 8], "reads past the end see zeroes");
    block.read_config(u64::MAX, &mut past);

    let ro = Block::with_backend(&disk_config(true, None), Box::new(MemDisk::new(4096)));
    let f = ro.features();
    assert_ne!(f & blk_features::RO, 0);
    assert_eq!(f & (blk_features::DISCARD | blk_features::WRITE_ZEROES), 0);
}

#[test]
fn reads_and_writes_whole_sectors() {
    let mut h = Harness::new(false);
    write_header(&h.mem, request_type::IN, 2);
    assert_eq!(h.run(&three_part(1024, true)), (status::OK, 1025));
    let mut got = [0u8; 1024];
    h.mem
        .read_slice(&mut got, GuestAddress(DATA))
        .expect("data");
    assert!(got[..512].iter().all(|&b| b == 2) && got[512..].iter().all(|&b| b == 3));

    h.mem
        .write_slice(&[0x5a; 512], GuestAddress(DATA))
        .expect("data");
    write_header(&h.mem, request_type::OUT, 5);
    assert_eq!(h.run(&three_part(512, false)), (status::OK, 1));
    assert_eq!(h.disk.byte(5 * 512), 0x5a);
    assert_eq!(h.disk.byte(6 * 512), 6);
}

#[test]
fn a_free_layout_header_data_and_status_in_one_buffer_each_side_works() {
    let mut h = Harness::new(false);
    // Header and data in one readable descriptor, data and status in one
    // writable descriptor: virtio 1.x allows any framing.
    let mut out = vec![0u8; 16 + 512];
    out[..4].copy_from_slice(&request_type::OUT.to_le_bytes());
    out[8..16].copy_from_slice(&7u64.to_le_bytes());
    out[16..].fill(0x77);
    h.mem.write_slice(&out, GuestAddress(HEADER)).expect("out");
    let (st, used) = h.run(&[
        desc(HEADER, 16 + 512, F_NEXT, 1),
        desc(STATUS, 1, F_WRITE, 0),
    ]);
    assert_eq!((st, used), (status::OK, 1));
    assert_eq!(h.disk.byte(7 * 512 + 100), 0x77);

    write_header(&h.mem, request_type::IN, 7);
    let chain = [desc(HEADER, 16, F_NEXT, 1), desc(DATA, 513, F_WRITE, 0)];
    h.mem
        .write_obj(0xffu8, GuestAddress(DATA + 512))
        .expect("poison");
    let mock = MockSplitQueue::new(&h.mem, 16);
    mock.add_desc_chains(&chain, 0).expect("chain");
    let mut queue: Queue = mock.create_queue().expect("queue");
    let c = queue.pop_descriptor_chain(&h.mem).expect("chain");
    let mut backend = h.disk.clone();
    assert_eq!(request::serve(&h.mem, c, &mut backend, &h.props, "t"), 513);
    let st: u8 = h.mem.read_obj(GuestAddress(DATA + 512)).expect("status");
    assert_eq!(st, status::OK);
    let b: u8 = h.mem.read_obj(GuestAddress(DATA + 3)).expect("data");
    assert_eq!(b, 0x77);
}

#[test]
fn malformed_and_out_of_range_requests_fail_without_touching_the_disk() {
    let mut h = Harness::new(false);
    let sectors = 64 * 1024 / 512;
    // Past the end, straddling the end, a partial sector, a huge sector.
    for (sector, len) in [
        (sectors, 512),
        (sectors - 1, 1024),
        (0, 100),
        (u64::MAX, 512),
    ] {
        write_header(&h.mem, request_type::OUT, sector);
        assert_eq!(
            h.run(&three_part(len, false)).0,
            status::IOERR,
            "{sector}+{len}"
        );
        write_header(&h.mem, request_type::IN, sector);
        assert_eq!(
            h.run(&three_part(len, true)).0,
            status::IOERR,
            "{sector}+{len}"
        );
    }
    // A short header.
    let (st, _) = h.run(&[desc(HEADER, 8, F_NEXT, 1), desc(STATUS, 1, F_WRITE, 0)]);
    assert_eq!(st, status::IOERR);
    // Data outside guest memory.
    write_header(&h.mem, request_type::IN, 0);
    let (st, used) = h.run(&[
        desc(HEADER, 16, F_NEXT, 1),
        desc(0x4000_0000, 512, F_NEXT | F_WRITE, 2),
        desc(STATUS, 1, F_WRITE, 0),
    ]);
    assert_eq!((st, used), (status::IOERR, 1));
    // Readable after writable.
    write_header(&h.mem, request_type::OUT, 0);
    let (st, _) = h.run(&[
        desc(HEADER, 16, F_NEXT, 1),
        desc(STATUS, 1, F_NEXT | F_WRITE, 2),
        desc(DATA, 512, 0, 0),
    ]);
    assert_eq!(st, status::IOERR);
    assert_eq!(h.disk.byte(0), 0, "nothing was written");
    // No writable byte at all: no status can be written, used length 0.
    let (st, used) = h.run(&[desc(HEADER, 16, 0, 0)]);
    assert_eq!((st, used), (0xff, 0));
    // Status byte outside guest memory.
    let mock = MockSplitQueue::new(&h.mem, 16);
    mock.add_desc_chains(
        &[
            desc(HEADER, 16, F_NEXT, 1),
            desc(0x4000_0000, 1, F_WRITE, 0),
        ],
        0,
    )
    .expect("chain");
    let mut queue: Queue = mock.create_queue().expect("queue");
    let c = queue.pop_descriptor_chain(&h.mem).expect("chain");
    let mut backend = h.disk.clone();
    assert_eq!(request::serve(&h.mem, c, &mut backend, &h.props, "t"), 0);
}

#[test]
fn flush_get_id_and_unknown_types() {
    let mut h = Harness::new(false);
    write_header(&h.mem, request_type::FLUSH, 0);
    let (st, used) = h.run(&[desc(HEADER, 16, F_NEXT, 1), desc(STATUS, 1, F_WRITE, 0)]);
    assert_eq!((st, used), (status::OK, 1));
    assert_eq!(h.disk.flushes.load(Ordering::SeqCst), 1);

    write_header(&h.mem, request_type::GET_ID, 0);
    h.mem
        .write_slice(&[0xee; 20], GuestAddress(DATA))
        .expect("poison");
    assert_eq!(h.run(&three_part(20, true)), (status::OK, 21));
    let mut id = [0u8; 20];
    h.mem.read_slice(&mut id, GuestAddress(DATA)).expect("id");
    assert_eq!(&id[..4], b"SN-1");
    assert!(id[4..].iter().all(|&b| b == 0), "zero-padded");

    write_header(&h.mem, 99, 0);
    assert_eq!(h.run(&three_part(512, true)).0, status::UNSUPP);
}

fn range(sector: u64, sectors: u32, flags: u32) -> [u8; 16] {
    let mut r = [0u8; 16];
    r[..8].copy_from_slice(&sector.to_le_bytes());
    r[8..12].copy_from_slice(&sectors.to_le_bytes());
    r[12..].copy_from_slice(&flags.to_le_bytes());
    r
}

#[test]
fn discard_and_write_zeroes_check_every_range_first() {
    let mut h = Harness::new(false);
    let mut two = range(8, 8, 0).to_vec();
    two.extend_from_slice(&range(32, 8, 0));
    h.mem.write_slice(&two, GuestAddress(DATA)).expect("ranges");
    write_header(&h.mem, request_type::DISCARD, 0);
    assert_eq!(h.run(&three_part(32, false)).0, status::OK);
    assert_eq!(
        *h.disk.discards.lock().expect("lock"),
        vec![(8 * 512, 4096), (32 * 512, 4096)]
    );

    h.mem
        .write_slice(&range(2, 1, 1), GuestAddress(DATA))
        .expect("range");
    write_header(&h.mem, request_type::WRITE_ZEROES, 0);
    assert_eq!(h.run(&three_part(16, false)).0, status::OK);
    assert_eq!(h.disk.byte(2 * 512), 0);
    assert_eq!(h.disk.byte(3 * 512), 3);

    // One bad range in the list: nothing happens.
    let mut bad = range(4, 1, 0).to_vec();
    bad.extend_from_slice(&range(1 << 40, 1, 0));
    h.mem.write_slice(&bad, GuestAddress(DATA)).expect("ranges");
    write_header(&h.mem, request_type::WRITE_ZEROES, 0);
    assert_eq!(h.run(&three_part(32, false)).0, status::IOERR);
    assert_eq!(h.disk.byte(4 * 512), 4);
    // Unknown flags, a length not a multiple of 16.
    h.mem
        .write_slice(&range(4, 1, 1), GuestAddress(DATA))
        .expect("range");
    write_header(&h.mem, request_type::DISCARD, 0);
    assert_eq!(h.run(&three_part(16, false)).0, status::UNSUPP);
    write_header(&h.mem, request_type::DISCARD, 0);
    assert_eq!(h.run(&three_part(15, false)).0, status::IOERR);
}

#[test]
fn a_read_only_disk_refuses_changes_and_still_reads() {
    let mut h = Harness::new(true);
    write_header(&h.mem, request_type::OUT, 0);
    assert_eq!(h.run(&three_part(512, false)).0, status::IOERR);
    write_header(&h.mem, request_type::DISCARD, 0);
    assert_eq!(h.run(&three_part(16, false)).0, status::UNSUPP);
    write_header(&h.mem, request_type::IN, 1);
    assert_eq!(h.run(&three_part(512, true)), (status::OK, 513));
    write_header(&h.mem, request_type::FLUSH, 0);
    assert_eq!(h.run(&three_part(0, false)).0, status::OK);
}

struct CountingInterrupt(AtomicU32);

impl VirtioInterrupt for CountingInterrupt {
    fn trigger(&self, cause: InterruptCause) -> io::Result<()> {
        assert_eq!(cause, InterruptCause::Queue(0));
        self.0.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

#[test]
fn the_io_thread_serves_a_batch_with_one_interrupt_and_hands_the_queue_back() {
    let dir = TempDir::new("blk-thread");
    let path = dir.path().join("disk.raw");
    std::fs::write(&path, vec![0x11u8; 1 << 20]).expect("image");
    let mut config = disk_config(false, None);
    config.path = path.clone();
    let mut block = Block::new(&config).expect("open");
    assert_eq!(block.capacity(), 1 << 20);

    let mem = memory();
    let mock = MockSplitQueue::new(&mem, 16);
    // Four writes of one sector each, queued before the thread starts.
    let mut descs = Vec::new();
    for i in 0..4u16 {
        let base = i * 3;
        let header = HEADER + u64::from(i) * 16;
        let mut h = [0u8; 16];
        h[..4].copy_from_slice(&request_type::OUT.to_le_bytes());
        h[8..].copy_from_slice(&u64::from(i).to_le_bytes());
        mem.write_slice(&h, GuestAddress(header)).expect("header");
        let data = DATA + u64::from(i) * 512;
        mem.write_slice(&[0x40 + i as u8; 512], GuestAddress(data))
            .expect("data");
        descs.push(desc(header, 16, F_NEXT, base + 1));
        descs.push(desc(data, 512, F_NEXT, base + 2));
        descs.push(desc(STATUS + u64::from(i), 1, F_WRITE, 0));
    }
    mock.add_desc_chains(&descs, 0).expect("chains");
    let queue: Queue = mock.create_queue().expect("queue");
    let notify = EventFd::new(EFD_NONBLOCK).expect("eventfd");
    let kick = notify.try_clone().expect("clone");
    let interrupt = Arc::new(CountingInterrupt(AtomicU32::new(0)));
    block
        .activate(Activation {
            memory: mem.clone(),
            acked_features: block.features(),
            queues: vec![ActiveQueue {
                index: 0,
                queue,
                notify,
            }],
            interrupt: interrupt.clone(),
        })
        .expect("activate");
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.used().idx().load() < 4 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(mock.used().idx().load(), 4, "all four served");
    assert_eq!(
        interrupt.0.load(Ordering::SeqCst),
        1,
        "one interrupt for the batch"
    );

    // A flush after a kick.
    let mut h = [0u8; 16];
    h[..4].copy_from_slice(&request_type::FLUSH.to_le_bytes());
    mem.write_slice(&h, GuestAddress(HEADER + 0x1000))
        .expect("header");
    mock.add_desc_chains(
        &[
            desc(HEADER + 0x1000, 16, F_NEXT, 13),
            desc(STATUS + 8, 1, F_WRITE, 0),
        ],
        12,
    )
    .expect("flush chain");
    kick.write(1).expect("kick");
    let deadline = Instant::now() + Duration::from_secs(10);
    while mock.used().idx().load() < 5 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(mock.used().idx().load(), 5);

    let queues = block.deactivate();
    assert_eq!(queues.len(), 1);
    assert_eq!(queues[0].queue.next_avail(), 5);
    assert_eq!(queues[0].queue.next_used(), 5);
    for i in 0..4 {
        let st: u8 = mem.read_obj(GuestAddress(STATUS + i)).expect("status");
        assert_eq!(st, status::OK);
    }
    drop(block);
    let on_disk = std::fs::read(&path).expect("read image");
    for i in 0..4usize {
        assert!(on_disk[i * 512..(i + 1) * 512]
            .iter()
            .all(|&b| b == 0x40 + i as u8));
    }
    assert!(on_disk[4 * 512..].iter().all(|&b| b == 0x11));
    // Activating with two queues is refused.
    let mut again = Block::with_backend(&config, Box::new(RawDisk::open(&config).expect("open")));
    let err = again
        .activate(Activation {
            memory: mem.clone(),
            acked_features: 0,
            queues: Vec::new(),
            interrupt,
        })
        .err()
        .expect("refused");
    assert!(err.to_string().contains("one queue"), "{err}");
}

#[test]
fn a_missing_image_is_an_error_naming_the_file() {
    let mut config = disk_config(false, None);
    config.path = "/nonexistent/disk-xyz.img".into();
    let err = Block::new(&config).err().expect("fails").to_string();
    assert!(
        err.contains("/nonexistent/disk-xyz.img") && err.contains("vda"),
        "{err}"
    );
}
