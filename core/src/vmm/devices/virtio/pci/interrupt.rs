//! How a virtio-pci device interrupts the guest: the MSI-X vector the
//! driver chose for the queue or for configuration changes, or, when the
//! driver did not enable MSI-X, the function's INTx line with the ISR
//! status register telling the driver why.
//!
//! Device workers call [`VirtioInterrupt::trigger`] from their own threads;
//! the vCPU threads change the vector table and the vector choices through
//! the transport. Both go through the one mutex here, never through the
//! transport's own lock, so a transport stopping a worker (which waits for
//! it) cannot deadlock with that worker raising an interrupt.

use super::common_cfg::NO_VECTOR;
use crate::vmm::devices::pci::msix::{MsixState, MsixVectors};
use crate::vmm::devices::virtio::{InterruptCause, VirtioInterrupt};
use crate::vmm::vstate::irq_routing::RoutingError;
use crate::vmm::vstate::vm::LevelIrq;
use std::sync::Mutex;

/// ISR bit: a queue has used buffers.
pub const ISR_QUEUE: u8 = 1;
/// ISR bit: the configuration changed.
pub const ISR_CONFIG: u8 = 2;

struct State {
    msix: MsixVectors,
    isr: u8,
    config_vector: u16,
    queue_vectors: Vec<u16>,
    intx_disabled: bool,
}

/// The interrupt side of one virtio-pci function.
pub struct VirtioPciInterrupt {
    state: Mutex<State>,
    intx: LevelIrq,
}

impl VirtioPciInterrupt {
    /// Interrupts through `msix`, falling back to `intx`.
    pub fn new(msix: MsixVectors, intx: LevelIrq, queues: usize) -> Self {
        VirtioPciInterrupt {
            state: Mutex::new(State {
                msix,
                isr: 0,
                config_vector: NO_VECTOR,
                queue_vectors: vec![NO_VECTOR; queues],
                intx_disabled: false,
            }),
            intx,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the vectors the driver chose in the common configuration.
    pub fn set_vectors(&self, config_vector: u16, queue_vectors: impl Iterator<Item = u16>) {
        let mut st = self.lock();
        st.config_vector = config_vector;
        st.queue_vectors.clear();
        st.queue_vectors.extend(queue_vectors);
    }

    /// The guest read the ISR register: returns it and clears it, which
    /// lowers the INTx line.
    pub fn read_isr(&self) -> u8 {
        let mut st = self.lock();
        let isr = std::mem::take(&mut st.isr);
        if isr != 0 {
            self.lower();
        }
        isr
    }

    fn lower(&self) {
        if let Err(e) = self.intx.set(false) {
            eprintln!("hangar-vmm: virtio-pci INTx: {e}");
        }
    }

    /// Device reset: no cause pending, line low.
    pub fn reset(&self) {
        let mut st = self.lock();
        st.isr = 0;
        st.config_vector = NO_VECTOR;
        st.queue_vectors.iter_mut().for_each(|v| *v = NO_VECTOR);
        self.lower();
    }

    /// The command register's INTx-disable bit changed.
    pub fn set_intx_disabled(&self, disabled: bool) {
        let mut st = self.lock();
        st.intx_disabled = disabled;
        let level = !disabled && st.isr != 0 && !st.msix.enabled();
        if let Err(e) = self.intx.set(level) {
            eprintln!("hangar-vmm: virtio-pci INTx: {e}");
        }
    }

    /// The guest wrote the MSI-X message control bits.
    pub fn set_msix_control(&self, control: u16) -> Result<(), RoutingError> {
        self.lock().msix.set_control(control)
    }

    /// The message control bits in effect.
    pub fn msix_control(&self) -> u16 {
        self.lock().msix.control_bits()
    }

    /// Number of MSI-X vectors.
    pub fn msix_count(&self) -> u16 {
        self.lock().msix.count()
    }

    /// A read of the MSI-X table.
    pub fn read_msix_table(&self, offset: u64, data: &mut [u8]) {
        self.lock().msix.read_table(offset, data);
    }

    /// A write to the MSI-X table.
    pub fn write_msix_table(&self, offset: u64, data: &[u8]) -> Result<(), RoutingError> {
        self.lock().msix.write_table(offset, data)
    }

    /// A read of the pending-bit array.
    pub fn read_msix_pba(&self, offset: u64, data: &mut [u8]) {
        self.lock().msix.read_pba(offset, data);
    }

    /// Saved MSI-X state and the ISR.
    pub fn save(&self) -> (MsixState, u8) {
        let st = self.lock();
        (st.msix.state(), st.isr)
    }

    /// Puts back a saved MSI-X state (routes included) and ISR (the INTx
    /// line follows it).
    pub fn restore(
        &self,
        msix: MsixState,
        isr: u8,
        intx_disabled: bool,
    ) -> Result<(), RoutingError> {
        let mut st = self.lock();
        st.msix.restore(msix)?;
        st.isr = isr;
        st.intx_disabled = intx_disabled;
        let level = !intx_disabled && isr != 0 && !st.msix.enabled();
        if let Err(e) = self.intx.set(level) {
            eprintln!("hangar-vmm: virtio-pci INTx: {e}");
        }
        Ok(())
    }
}

impl VirtioInterrupt for VirtioPciInterrupt {
    fn trigger(&self, cause: InterruptCause) -> std::io::Result<()> {
        let mut st = self.lock();
        if st.msix.enabled() {
            let vector = match cause {
                InterruptCause::Queue(q) => st
                    .queue_vectors
                    .get(q as usize)
                    .copied()
                    .unwrap_or(NO_VECTOR),
                InterruptCause::Config => st.config_vector,
            };
            if vector == NO_VECTOR {
                return Ok(());
            }
            return st.msix.fire(vector);
        }
        st.isr |= match cause {
            InterruptCause::Queue(_) => ISR_QUEUE,
            InterruptCause::Config => ISR_CONFIG,
        };
        if st.intx_disabled {
            return Ok(());
        }
        self.intx
            .set(true)
            .map_err(|e| std::io::Error::other(e.to_string()))
    }
}
