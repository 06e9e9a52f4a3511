//! virtio-net: rings with mock queues, and the whole card on a real tap
//! in a private network namespace.

use super::rings::{receive_frame, transmit_chain, ChainError, DropReason, RxOutcome, MAX_FRAME};
use super::*;
use crate::vmm::devices::virtio::{Activation, ActiveQueue, InterruptCause, VirtioInterrupt};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use virtio_queue::desc::{split::Descriptor as SplitDescriptor, RawDescriptor};
use virtio_queue::mock::MockSplitQueue;
use virtio_queue::{Queue, QueueT};
use vm_memory::{Address, Bytes, GuestAddress, GuestMemoryMmap};

const F_NEXT: u16 = 1;
const F_WRITE: u16 = 2;

fn memory() -> GuestMemoryMmap {
    GuestMemoryMmap::from_ranges(&[(GuestAddress(0), 0x20_0000)]).expect("guest memory")
}

fn desc(addr: u64, len: u32, flags: u16, next: u16) -> RawDescriptor {
    RawDescriptor::from(SplitDescriptor::new(addr, len, flags, next))
}

/// The used ring's entries (head, length) so far.
fn used(mem: &GuestMemoryMmap, mock: &MockSplitQueue<GuestMemoryMmap>) -> Vec<(u32, u32)> {
    let base = mock.used_addr();
    let idx: u16 = mem.read_obj(base.unchecked_add(2)).expect("used idx");
    (0..idx)
        .map(|i| {
            let at = base.unchecked_add(4 + 8 * u64::from(i % 256));
            let id: u32 = mem.read_obj(at).expect("id");
            let len: u32 = mem.read_obj(at.unchecked_add(4)).expect("len");
            (id, len)
        })
        .collect()
}

fn frame(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0xaa; VNET_HDR];
    f.extend_from_slice(payload);
    f
}

const VNET_HDR: usize = tap::VNET_HDR_LEN;

#[test]
fn a_frame_fills_one_chain_with_num_buffers_one() {
    let mem = memory();
    let mock = MockSplitQueue::new(&mem, 16);
    mock.add_desc_chains(&[desc(0x10000, 2048, F_WRITE, 0)], 0)
        .expect("chain");
    let mut q: Queue = mock.create_queue().expect("queue");
    let mut f = frame(&[7u8; 100]);
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, false),
        RxOutcome::Delivered(1)
    );
    assert_eq!(used(&mem, &mock), [(0, 112)]);
    let mut hdr = [0u8; VNET_HDR];
    mem.read_slice(&mut hdr, GuestAddress(0x10000))
        .expect("read");
    assert_eq!(hdr, [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]);
    let mut body = [0u8; 100];
    mem.read_slice(&mut body, GuestAddress(0x10000 + 12))
        .expect("read");
    assert_eq!(body, [7u8; 100]);
}

#[test]
fn mergeable_buffers_span_chains_and_count_them() {
    let mem = memory();
    let mock = MockSplitQueue::new(&mem, 16);
    mock.add_desc_chains(
        &[
            desc(0x10000, 64, F_WRITE, 0),
            // A chain of two pieces.
            desc(0x11000, 32, F_WRITE | F_NEXT, 2),
            desc(0x12000, 64, F_WRITE, 0),
        ],
        0,
    )
    .expect("chains");
    let mut q: Queue = mock.create_queue().expect("queue");
    let payload: Vec<u8> = (0..120u8).collect();
    let mut f = frame(&payload);
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, true),
        RxOutcome::Delivered(2)
    );
    assert_eq!(used(&mem, &mock), [(0, 64), (1, 68)]);
    let mut num_buffers = [0u8; 2];
    mem.read_slice(&mut num_buffers, GuestAddress(0x10000 + 10))
        .expect("read");
    assert_eq!(u16::from_le_bytes(num_buffers), 2);
    let mut tail = [0u8; 36];
    mem.read_slice(&mut tail, GuestAddress(0x12000))
        .expect("read");
    assert_eq!(tail.to_vec(), payload[84..]);
}

#[test]
fn too_few_buffers_keep_the_frame_and_the_ring_untouched() {
    let mem = memory();
    let mock = MockSplitQueue::new(&mem, 16);
    mock.add_desc_chains(&[desc(0x10000, 64, F_WRITE, 0)], 0)
        .expect("chain");
    let mut q: Queue = mock.create_queue().expect("queue");
    let mut f = frame(&[1u8; 200]);
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, true),
        RxOutcome::NoBuffers
    );
    assert_eq!(q.next_avail(), 0);
    assert!(used(&mem, &mock).is_empty());
    // Without mergeable buffers a frame larger than a chain cannot go in.
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, false),
        RxOutcome::Dropped(DropReason::TooBig)
    );
    assert_eq!(q.next_avail(), 0);
    // An empty ring.
    let mock = MockSplitQueue::new(&mem, 16);
    let mut q: Queue = mock.create_queue().expect("queue");
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, true),
        RxOutcome::NoBuffers
    );
}

#[test]
fn malformed_receive_chains_are_returned_empty() {
    let mem = memory();
    let mock = MockSplitQueue::new(&mem, 16);
    mock.add_desc_chains(
        &[
            desc(0x10000, 64, 0, 0),
            desc(0xffff_0000, 64, F_WRITE, 0),
            desc(0x1f_fff0, 64, F_WRITE, 0),
        ],
        0,
    )
    .expect("chains");
    let mut q: Queue = mock.create_queue().expect("queue");
    let mut f = frame(&[1u8; 20]);
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, true),
        RxOutcome::Dropped(DropReason::BadChain(ChainError::Direction))
    );
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, true),
        RxOutcome::Dropped(DropReason::BadChain(ChainError::OutOfMemory))
    );
    // Straddling the end of guest memory.
    assert_eq!(
        receive_frame(&mut q, &mem, &mut f, true),
        RxOutcome::Dropped(DropReason::BadChain(ChainError::OutOfMemory))
    );
    assert_eq!(used(&mem, &mock), [(0, 0), (1, 0), (2, 0)]);
}

#[test]
fn transmit_chains_are_gathered_with_a_blank_header() {
    let mem = memory();
    let mock = MockSplitQueue::new(&mem, 16);
    let mut hdr = [0u8; VNET_HDR];
    hdr[0] = 1; // NEEDS_CSUM, never negotiated
    mem.write_slice(&hdr, GuestAddress(0x10000)).expect("write");
    mem.write_slice(&[5u8; 60], GuestAddress(0x11000))
        .expect("write");
    mock.add_desc_chains(
        &[
            desc(0x10000, 12, F_NEXT, 1),
            desc(0x11000, 60, 0, 0),
            desc(0x11000, 60, F_WRITE, 0),
            desc(0x11000, 4, 0, 0),
            desc(0x1f_ffff, 16, 0, 0),
        ],
        0,
    )
    .expect("chains");
    let mut q: Queue = mock.create_queue().expect("queue");
    let mut buf = vec![0u8; MAX_FRAME];
    let chain = q.pop_descriptor_chain(&mem).expect("chain");
    assert_eq!(transmit_chain(&mem, chain, &mut buf), Ok(72));
    assert_eq!(buf[..12], [0u8; 12]);
    assert_eq!(buf[12..72], [5u8; 60]);
    let chain = q.pop_descriptor_chain(&mem).expect("chain");
    assert_eq!(
        transmit_chain(&mem, chain, &mut buf),
        Err(ChainError::Direction)
    );
    let chain = q.pop_descriptor_chain(&mem).expect("chain");
    assert_eq!(
        transmit_chain(&mem, chain, &mut buf),
        Err(ChainError::TooShort)
    );
    let chain = q.pop_descriptor_chain(&mem).expect("chain");
    assert_eq!(
        transmit_chain(&mem, chain, &mut buf),
        Err(ChainError::OutOfMemory)
    );
    let chain_len = 0x1_0000;
    let mock = MockSplitQueue::new(&mem, 16);
    mock.add_desc_chains(
        &[
            desc(0x10000, chain_len, F_NEXT, 1),
            desc(0x10000, chain_len, 0, 0),
        ],
        0,
    )
    .expect("chain");
    let mut q: Queue = mock.create_queue().expect("queue");
    let chain = q.pop_descriptor_chain(&mem).expect("chain");
    assert_eq!(
        transmit_chain(&mem, chain, &mut buf),
        Err(ChainError::TooLong)
    );
}

/// Records the interrupts a card raises.
#[derive(Default)]
struct Interrupts(Mutex<Vec<InterruptCause>>);

impl VirtioInterrupt for Interrupts {
    fn trigger(&self, cause: InterruptCause) -> std::io::Result<()> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .push(cause);
        Ok(())
    }
}

fn open_tap_in_private_namespace() -> Option<Tap> {
    // SAFETY: unshare only changes this thread's network namespace.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        eprintln!(
            "skipping: no private network namespace ({})",
            std::io::Error::last_os_error()
        );
        return None;
    }
    match Tap::open(Some("hgtest%d")) {
        Ok(tap) => Some(tap),
        Err(e) => {
            eprintln!("skipping: {e}");
            None
        }
    }
}

#[test]
fn the_card_config_space_has_mac_and_link_state() {
    std::thread::spawn(|| {
        let Some(tap) = open_tap_in_private_namespace() else {
            return;
        };
        let mac = MacAddr([0x52, 0x54, 0, 1, 2, 3]);
        let net = Net::with_tap(mac, tap, false);
        let mut cfg = [0xffu8; 12];
        net.read_config(0, &mut cfg);
        assert_eq!(cfg, [0x52, 0x54, 0, 1, 2, 3, 0, 0, 1, 0, 0, 0]);
        net.set_link(true).expect("link");
        let mut status = [0u8; 2];
        net.read_config(6, &mut status);
        assert_eq!(status, [1, 0]);
        net.read_config(u64::MAX, &mut status);
        assert_eq!(status, [0, 0]);
        assert_ne!(net.features() & net_features::MAC, 0);
        let state = net.save_state();
        let mut other = Net::with_tap(mac, Tap::open(None).expect("tap"), false);
        other.restore_state(&state).expect("restore");
        assert!(other.link_up());
        let mut stranger = Net::with_tap(MacAddr([2; 6]), Tap::open(None).expect("tap"), true);
        assert!(stranger.restore_state(&state).is_err());
    })
    .join()
    .expect("thread");
}

/// An ARP request for 10.99.0.1 from the guest's MAC, with its header.
fn arp_request(mac: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; VNET_HDR];
    f.extend_from_slice(&[0xff; 6]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[10, 99, 0, 2]);
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&[10, 99, 0, 1]);
    f
}

#[test]
fn the_host_answers_the_guest_arp_through_the_tap() {
    std::thread::spawn(|| {
        let Some(tap) = open_tap_in_private_namespace() else {
            return;
        };
        use crate::network::runtime::netlink::{link_index, Rtnl};
        let index = link_index(tap.name()).expect("tap index");
        let mut rtnl = Rtnl::open().expect("rtnetlink");
        rtnl.add_address(index, "10.99.0.1".parse().expect("ip"), 24)
            .expect("address");
        rtnl.set_up(index, true).expect("up");

        let mem = memory();
        let rx_mock = MockSplitQueue::create(&mem, GuestAddress(0), 16);
        let tx_mock = MockSplitQueue::create(&mem, GuestAddress(0x8000), 16);
        let rx_chains: Vec<RawDescriptor> = (0..16)
            .map(|i| desc(0x10_0000 + i * 0x1000, 2048, F_WRITE, 0))
            .collect();
        rx_mock.add_desc_chains(&rx_chains, 0).expect("rx chains");
        let mac = [0x52, 0x54, 0, 0x12, 0x34, 0x56];
        let request = arp_request(mac);
        mem.write_slice(&request, GuestAddress(0x4_0000))
            .expect("frame");
        let rx_kick = EventFd::new(libc::EFD_NONBLOCK).expect("eventfd");
        let tx_kick = EventFd::new(libc::EFD_NONBLOCK).expect("eventfd");
        let tx_kick_guest = tx_kick.try_clone().expect("clone");
        let interrupts = Arc::new(Interrupts::default());
        let mut net = Net::with_tap(MacAddr(mac), tap, true);
        net.activate(Activation {
            memory: mem.clone(),
            acked_features: net.features(),
            queues: vec![
                ActiveQueue {
                    index: 0,
                    queue: rx_mock.create_queue().expect("rx"),
                    notify: rx_kick,
                },
                ActiveQueue {
                    index: 1,
                    queue: tx_mock.create_queue().expect("tx"),
                    notify: tx_kick,
                },
            ],
            interrupt: interrupts.clone(),
        })
        .expect("activate");
        tx_mock
            .add_desc_chains(&[desc(0x4_0000, request.len() as u32, 0, 0)], 0)
            .expect("tx chain");
        tx_kick_guest.write(1).expect("kick");

        let deadline = Instant::now() + Duration::from_secs(5);
        let reply = loop {
            let found = used(&mem, &rx_mock).into_iter().find_map(|(head, len)| {
                let mut buf = vec![0u8; len as usize];
                mem.read_slice(&mut buf, GuestAddress(0x10_0000 + u64::from(head) * 0x1000))
                    .ok()?;
                // An ARP reply (0x0806, op 2) to the guest's MAC.
                (buf.len() >= VNET_HDR + 22
                    && buf[VNET_HDR..VNET_HDR + 6] == mac
                    && buf[VNET_HDR + 12..VNET_HDR + 14] == [0x08, 0x06]
                    && buf[VNET_HDR + 20..VNET_HDR + 22] == [0, 2])
                .then_some(buf)
            });
            if let Some(reply) = found {
                break reply;
            }
            assert!(Instant::now() < deadline, "no ARP reply on the rx queue");
            std::thread::sleep(Duration::from_millis(10));
        };
        // The sender's protocol address is the host's.
        assert_eq!(reply[VNET_HDR + 28..VNET_HDR + 32], [10, 99, 0, 1]);
        assert_eq!(reply[10..12], [1, 0], "num_buffers");
        let queues = net.deactivate();
        assert_eq!(queues.len(), 2);
        assert_eq!(queues[1].queue.next_used(), 1, "the tx chain was used");
        assert!(queues[0].queue.next_used() >= 1);
        let causes = interrupts.0.lock().expect("lock").clone();
        assert!(causes.contains(&InterruptCause::Queue(0)), "{causes:?}");
        assert!(causes.contains(&InterruptCause::Queue(1)), "{causes:?}");
        assert!(net.deactivate().is_empty());
    })
    .join()
    .expect("thread");
}
