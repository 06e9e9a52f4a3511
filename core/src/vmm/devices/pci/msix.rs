//! MSI-X (PCI Local Bus 3.0, section 6.8.2): the capability, the vector
//! table and the pending-bit array a device keeps in one of its BARs.
//!
//! Each vector owns a GSI and an irqfd for the life of the VM. Its route
//! in KVM is the message the guest programmed, installed while the vector
//! can fire (MSI-X enabled, the function and the vector unmasked) and
//! removed otherwise. A vector fired while masked sets its pending bit and
//! is delivered when the guest unmasks it.

use crate::vmm::vstate::irq_routing::{GsiRouting, MsiMessage, RoutingError};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use vmm_sys_util::eventfd::EventFd;

/// Capability id of MSI-X.
pub const CAPABILITY_ID: u8 = 0x11;
/// Length of the capability in configuration space.
pub const CAPABILITY_LEN: usize = 12;
/// Bytes per table entry.
pub const ENTRY_SIZE: u64 = 16;
/// Message control: MSI-X enabled.
pub const CONTROL_ENABLE: u16 = 1 << 15;
/// Message control: every vector masked.
pub const CONTROL_FUNCTION_MASK: u16 = 1 << 14;
/// Vector control: this vector masked.
const VECTOR_MASKED: u32 = 1;

/// The capability's bytes: `vectors` entries, table and PBA in `bar` at the
/// given offsets (8-byte aligned). The control word (bytes 2..4) is the
/// only part the guest writes, and only its two top bits.
pub fn capability(vectors: u16, bar: u8, table_offset: u32, pba_offset: u32) -> Vec<u8> {
    let mut cap = Vec::with_capacity(CAPABILITY_LEN);
    cap.push(CAPABILITY_ID);
    cap.push(0);
    cap.extend_from_slice(&(vectors.saturating_sub(1) & 0x7ff).to_le_bytes());
    cap.extend_from_slice(&(table_offset | u32::from(bar & 7)).to_le_bytes());
    cap.extend_from_slice(&(pba_offset | u32::from(bar & 7)).to_le_bytes());
    cap
}

/// Writable bits of the capability: (byte offset, mask).
pub const CAPABILITY_WRITABLE: [(usize, u8); 1] = [(3, 0xc0)];

/// One table entry as the guest wrote it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsixEntry {
    /// Message address, low 32 bits.
    pub address_lo: u32,
    /// Message address, high 32 bits.
    pub address_hi: u32,
    /// Message data.
    pub data: u32,
    /// Vector control (bit 0: masked).
    pub control: u32,
}

impl Default for MsixEntry {
    fn default() -> Self {
        // Vectors come out of reset masked.
        MsixEntry {
            address_lo: 0,
            address_hi: 0,
            data: 0,
            control: VECTOR_MASKED,
        }
    }
}

impl MsixEntry {
    fn masked(&self) -> bool {
        self.control & VECTOR_MASKED != 0
    }

    fn message(&self) -> MsiMessage {
        MsiMessage {
            address: u64::from(self.address_hi) << 32 | u64::from(self.address_lo),
            data: self.data,
        }
    }
}

/// The guest-visible MSI-X state, as saved in a snapshot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MsixState {
    /// The vector table.
    pub table: Vec<MsixEntry>,
    /// Pending bits, one per vector.
    pub pending: Vec<bool>,
    /// Message control: enabled.
    pub enabled: bool,
    /// Message control: function mask.
    pub function_masked: bool,
}

/// A device's MSI-X vectors wired to KVM.
pub struct MsixVectors {
    state: MsixState,
    gsis: Vec<u32>,
    irqfds: Vec<EventFd>,
    routing: Arc<GsiRouting>,
}

/// Errors setting up vectors.
#[derive(Debug, thiserror::Error)]
pub enum MsixError {
    /// A GSI could not be allocated or routed.
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// An irqfd could not be created or registered.
    #[error("MSI-X irqfd: {0}")]
    Irqfd(std::io::Error),
}

impl MsixVectors {
    /// `count` vectors, each with a GSI and an irqfd registered on it.
    pub fn new(
        count: u16,
        routing: Arc<GsiRouting>,
        vm: &kvm_ioctls::VmFd,
    ) -> Result<Self, MsixError> {
        let mut gsis = Vec::with_capacity(count as usize);
        let mut irqfds = Vec::with_capacity(count as usize);
        for _ in 0..count {
            let gsi = routing.allocate_gsi()?;
            let fd = EventFd::new(libc::EFD_NONBLOCK).map_err(MsixError::Irqfd)?;
            vm.register_irqfd(&fd, gsi)
                .map_err(|e| MsixError::Irqfd(std::io::Error::from_raw_os_error(e.errno())))?;
            gsis.push(gsi);
            irqfds.push(fd);
        }
        Ok(MsixVectors {
            state: MsixState {
                table: vec![MsixEntry::default(); count as usize],
                pending: vec![false; count as usize],
                enabled: false,
                function_masked: false,
            },
            gsis,
            irqfds,
            routing,
        })
    }

    /// Number of vectors.
    pub fn count(&self) -> u16 {
        self.state.table.len() as u16
    }

    /// Whether MSI-X is enabled (INTx is not used then).
    pub fn enabled(&self) -> bool {
        self.state.enabled
    }

    /// The message control bits the guest set.
    pub fn control_bits(&self) -> u16 {
        let mut bits = 0;
        if self.state.enabled {
            bits |= CONTROL_ENABLE;
        }
        if self.state.function_masked {
            bits |= CONTROL_FUNCTION_MASK;
        }
        bits
    }

    fn live(&self, vector: usize) -> bool {
        self.state.enabled
            && !self.state.function_masked
            && self.state.table.get(vector).is_some_and(|e| !e.masked())
    }

    /// Installs or removes the route of `vector` to match its state, and
    /// delivers a pending interrupt once it can fire.
    fn sync(&mut self, vector: usize) -> Result<(), RoutingError> {
        let (Some(entry), Some(&gsi)) = (self.state.table.get(vector), self.gsis.get(vector))
        else {
            return Ok(());
        };
        if self.live(vector) {
            self.routing.set_msi(gsi, Some(entry.message()))?;
            if self.state.pending[vector] {
                self.state.pending[vector] = false;
                let _ = self.irqfds[vector].write(1);
            }
        } else {
            self.routing.set_msi(gsi, None)?;
        }
        Ok(())
    }

    fn sync_all(&mut self) -> Result<(), RoutingError> {
        for v in 0..self.state.table.len() {
            self.sync(v)?;
        }
        Ok(())
    }

    /// The guest wrote the message control word.
    pub fn set_control(&mut self, control: u16) -> Result<(), RoutingError> {
        let enabled = control & CONTROL_ENABLE != 0;
        let masked = control & CONTROL_FUNCTION_MASK != 0;
        if (enabled, masked) == (self.state.enabled, self.state.function_masked) {
            return Ok(());
        }
        self.state.enabled = enabled;
        self.state.function_masked = masked;
        self.sync_all()
    }

    /// Raises `vector` (or marks it pending while masked). Unknown vectors
    /// are ignored: the driver chose them and gets no interrupt.
    pub fn fire(&mut self, vector: u16) -> std::io::Result<()> {
        let v = vector as usize;
        if v >= self.state.table.len() {
            return Ok(());
        }
        if self.live(v) {
            self.irqfds[v].write(1)
        } else {
            self.state.pending[v] = true;
            Ok(())
        }
    }

    /// A read in the table (`offset` from its start); junk offsets read 0.
    pub fn read_table(&self, offset: u64, data: &mut [u8]) {
        read_dwords(data, offset, |index, field| {
            self.state.table.get(index).map(|e| match field {
                0 => e.address_lo,
                1 => e.address_hi,
                2 => e.data,
                _ => e.control,
            })
        });
    }

    /// A write in the table (4- or 8-byte aligned accesses, as the spec
    /// allows); updates the vector's route.
    pub fn write_table(&mut self, offset: u64, data: &[u8]) -> Result<(), RoutingError> {
        if !matches!(data.len(), 4 | 8) || offset % 4 != 0 {
            return Ok(());
        }
        let mut touched = None;
        for (i, chunk) in data.chunks_exact(4).enumerate() {
            let at = offset + 4 * i as u64;
            let index = (at / ENTRY_SIZE) as usize;
            let value = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
            let Some(entry) = self.state.table.get_mut(index) else {
                continue;
            };
            match (at % ENTRY_SIZE) / 4 {
                0 => entry.address_lo = value & !3,
                1 => entry.address_hi = value,
                2 => entry.data = value,
                _ => entry.control = value & VECTOR_MASKED,
            }
            touched = Some(index);
        }
        match touched {
            Some(index) => self.sync(index),
            None => Ok(()),
        }
    }

    /// A read of the pending-bit array.
    pub fn read_pba(&self, offset: u64, data: &mut [u8]) {
        for (i, b) in data.iter_mut().enumerate() {
            let first = (offset as usize + i) * 8;
            *b = (0..8).fold(0u8, |acc, bit| {
                let set = self
                    .state
                    .pending
                    .get(first + bit)
                    .copied()
                    .unwrap_or(false);
                acc | (u8::from(set) << bit)
            });
        }
    }

    /// The guest-visible state.
    pub fn state(&self) -> MsixState {
        self.state.clone()
    }

    /// Puts back a saved state and the routes it implies. Extra or missing
    /// vectors in `state` are refused by the caller (the counts are fixed).
    pub fn restore(&mut self, state: MsixState) -> Result<(), RoutingError> {
        if state.table.len() == self.state.table.len()
            && state.pending.len() == self.state.pending.len()
        {
            self.state = state;
        }
        self.sync_all()
    }
}

/// Serves a read of 32-bit fields (`field` 0..3 of entry `index`),
/// whatever the access size and alignment.
fn read_dwords(data: &mut [u8], offset: u64, get: impl Fn(usize, u64) -> Option<u32>) {
    for (i, b) in data.iter_mut().enumerate() {
        let at = offset + i as u64;
        let index = (at / ENTRY_SIZE) as usize;
        let field = (at % ENTRY_SIZE) / 4;
        let value = get(index, field).unwrap_or(0);
        *b = value.to_le_bytes()[(at % 4) as usize];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capability_layout() {
        let cap = capability(3, 0, 0x8000, 0xc000);
        assert_eq!(cap.len(), CAPABILITY_LEN);
        assert_eq!(cap[0], CAPABILITY_ID);
        assert_eq!(u16::from_le_bytes([cap[2], cap[3]]), 2);
        assert_eq!(u32::from_le_bytes([cap[4], cap[5], cap[6], cap[7]]), 0x8000);
        assert_eq!(
            u32::from_le_bytes([cap[8], cap[9], cap[10], cap[11]]),
            0xc000
        );
    }

    #[test]
    fn table_reads_fields_at_any_width() {
        let state = MsixState {
            table: vec![
                MsixEntry::default(),
                MsixEntry {
                    address_lo: 0xfee0_1000,
                    address_hi: 0,
                    data: 0x41,
                    control: 0,
                },
            ],
            pending: vec![true, false],
            enabled: true,
            function_masked: false,
        };
        let mut out = [0u8; 8];
        read_dwords(&mut out, 16, |i, f| {
            state.table.get(i).map(|e| match f {
                0 => e.address_lo,
                1 => e.address_hi,
                2 => e.data,
                _ => e.control,
            })
        });
        assert_eq!(u64::from_le_bytes(out), 0xfee0_1000);
        let mut ctl = [0u8; 4];
        read_dwords(&mut ctl, 12, |i, f| {
            state
                .table
                .get(i)
                .map(|e| if f == 3 { e.control } else { 0 })
        });
        assert_eq!(u32::from_le_bytes(ctl), 1, "vectors start masked");
        // Past the table: zeros, no panic.
        let mut junk = [0xaau8; 4];
        read_dwords(&mut junk, 0x1000, |i, _| state.table.get(i).map(|e| e.data));
        assert_eq!(junk, [0; 4]);
    }
}
