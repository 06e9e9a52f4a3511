//! Moving frames between the tap and the guest's descriptor chains.
//!
//! Descriptors come from the guest and are not trusted: every address and
//! length is checked against guest memory before a byte moves, a chain that
//! breaks the rules is returned unused or with nothing written, and no
//! failure here panics or stops the card.

use virtio_queue::{DescriptorChain, Queue, QueueOwnedT, QueueT};
use vm_memory::{Bytes, GuestAddress, GuestMemoryBackend, GuestMemoryMmap};

use super::tap::VNET_HDR_LEN;

/// Largest frame (header included) either way: an Ethernet frame of up to
/// 64 KiB, more than any MTU without segmentation offloads.
pub const MAX_FRAME: usize = VNET_HDR_LEN + 65550;

/// Smallest transmit frame worth sending: the header and an Ethernet header.
const MIN_TX_FRAME: usize = VNET_HDR_LEN + 14;

/// Where `num_buffers` sits in the header.
const NUM_BUFFERS_AT: usize = 10;

/// A chain the guest should not have made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// A receive chain with a device-readable descriptor, or a transmit
    /// chain with a device-writable one.
    #[error("descriptor in the wrong direction")]
    Direction,
    /// A descriptor outside guest memory.
    #[error("descriptor outside guest memory")]
    OutOfMemory,
    /// A transmit frame longer than the card accepts.
    #[error("frame longer than {MAX_FRAME} bytes")]
    TooLong,
    /// A transmit frame without room for its headers.
    #[error("frame shorter than its headers")]
    TooShort,
}

/// What became of one received frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RxOutcome {
    /// In the guest's buffers, in this many chains.
    Delivered(u16),
    /// The guest has not given enough buffers yet: keep the frame.
    NoBuffers,
    /// Thrown away (its chains, if any, were returned empty).
    Dropped(DropReason),
}

/// Why a received frame was thrown away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Larger than a buffer and the driver did not accept MRG_RXBUF, or
    /// larger than the whole ring.
    TooBig,
    /// The guest's chain was malformed.
    BadChain(ChainError),
}

/// One writable piece of a chain, already checked against guest memory.
#[derive(Debug, Clone, Copy)]
struct Segment {
    addr: GuestAddress,
    len: usize,
}

/// A popped receive chain: its head and its writable segments.
struct RxChain {
    head: u16,
    segments: Vec<Segment>,
}

/// Checks a receive chain: writable descriptors only, all in guest memory.
fn rx_segments(
    mem: &GuestMemoryMmap,
    chain: DescriptorChain<&GuestMemoryMmap>,
) -> Result<(Vec<Segment>, usize), ChainError> {
    let mut segments = Vec::new();
    let mut capacity = 0usize;
    for desc in chain {
        if !desc.is_write_only() {
            return Err(ChainError::Direction);
        }
        let len = desc.len() as usize;
        if len == 0 {
            continue;
        }
        if !mem.check_range(desc.addr(), len) {
            return Err(ChainError::OutOfMemory);
        }
        capacity = capacity.saturating_add(len);
        segments.push(Segment {
            addr: desc.addr(),
            len,
        });
    }
    Ok((segments, capacity))
}

/// Puts `frame` (header first) into the receive queue. With `mergeable`
/// the frame may span chains and `num_buffers` says how many; without, it
/// must fit one chain. Chains are only consumed when the frame goes in
/// (or when they are malformed).
pub fn receive_frame(
    queue: &mut Queue,
    mem: &GuestMemoryMmap,
    frame: &mut [u8],
    mergeable: bool,
) -> RxOutcome {
    let mut chains: Vec<RxChain> = Vec::new();
    let mut capacity = 0usize;
    while capacity < frame.len() {
        let Some(chain) = queue.pop_descriptor_chain(mem) else {
            // Give the buffers back until enough are there, unless the
            // whole ring cannot hold the frame.
            let whole_ring = chains.len() >= usize::from(queue.size());
            for _ in &chains {
                queue.go_to_previous_position();
            }
            return if whole_ring {
                RxOutcome::Dropped(DropReason::TooBig)
            } else {
                RxOutcome::NoBuffers
            };
        };
        let head = chain.head_index();
        match rx_segments(mem, chain) {
            Ok((segments, len)) => {
                if !mergeable && len < frame.len() {
                    queue.go_to_previous_position();
                    return RxOutcome::Dropped(DropReason::TooBig);
                }
                capacity = capacity.saturating_add(len);
                chains.push(RxChain { head, segments });
            }
            Err(e) => {
                // A bad chain poisons the frame: every chain taken for it
                // goes back empty, so the driver sees errors, not garbage.
                let _ = queue.add_used(mem, head, 0);
                for taken in &chains {
                    let _ = queue.add_used(mem, taken.head, 0);
                }
                return RxOutcome::Dropped(DropReason::BadChain(e));
            }
        }
    }
    let count = chains.len() as u16;
    if frame.len() >= VNET_HDR_LEN {
        // No offloads were negotiated: no flags, no GSO, whatever the tap
        // said (it may mark checksums as verified).
        frame[..NUM_BUFFERS_AT].fill(0);
        frame[NUM_BUFFERS_AT..VNET_HDR_LEN].copy_from_slice(&count.to_le_bytes());
    }
    let mut pos = 0usize;
    for chain in &chains {
        let mut written = 0usize;
        for segment in &chain.segments {
            if pos >= frame.len() {
                break;
            }
            let take = segment.len.min(frame.len() - pos);
            // The range was checked when the chain was popped; a failure
            // now can only mean a racing guest, and costs it this frame.
            if mem
                .write_slice(&frame[pos..pos + take], segment.addr)
                .is_err()
            {
                break;
            }
            pos += take;
            written += take;
        }
        let _ = queue.add_used(mem, chain.head, written as u32);
    }
    RxOutcome::Delivered(count)
}

/// Copies the frame of a transmit chain into `buf`; returns its length
/// (header included).
pub fn transmit_chain(
    mem: &GuestMemoryMmap,
    chain: DescriptorChain<&GuestMemoryMmap>,
    buf: &mut [u8],
) -> Result<usize, ChainError> {
    let mut pos = 0usize;
    for desc in chain {
        if desc.is_write_only() {
            return Err(ChainError::Direction);
        }
        let len = desc.len() as usize;
        let end = pos.checked_add(len).ok_or(ChainError::TooLong)?;
        let dst = buf.get_mut(pos..end).ok_or(ChainError::TooLong)?;
        mem.read_slice(dst, desc.addr())
            .map_err(|_| ChainError::OutOfMemory)?;
        pos = end;
    }
    if pos < MIN_TX_FRAME {
        return Err(ChainError::TooShort);
    }
    // The driver may not ask for checksum or GSO help it did not
    // negotiate; the tap would act on it, so the header goes out blank.
    buf[..VNET_HDR_LEN].fill(0);
    Ok(pos)
}
