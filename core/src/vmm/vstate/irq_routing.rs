//! The VM's GSI routing table: the in-kernel PIC and IOAPIC pins plus one
//! MSI route per MSI-X vector a device has set up.
//!
//! `KVM_SET_GSI_ROUTING` replaces the whole table, so every update writes
//! the irqchip routes again (the ones KVM installs by default when the
//! irqchip is created) next to the current MSI routes. Each MSI-X vector
//! owns a GSI for the life of the VM and an irqfd on it; the route behind
//! the GSI changes when the guest reprograms the vector.

use kvm_bindings::{
    kvm_irq_routing_entry, KvmIrqRouting, KVM_IRQCHIP_IOAPIC, KVM_IRQCHIP_PIC_MASTER,
    KVM_IRQCHIP_PIC_SLAVE, KVM_IRQ_ROUTING_IRQCHIP, KVM_IRQ_ROUTING_MSI,
};
use kvm_ioctls::VmFd;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// Pins of KVM's in-kernel IOAPIC; GSIs from here on are free for MSI.
pub const IOAPIC_PINS: u32 = 24;
/// ISA interrupts also wired to the two 8259 PICs.
const PIC_PINS: u32 = 16;
/// KVM's limit on the routing table (KVM_MAX_IRQ_ROUTES on x86).
const MAX_ROUTES: usize = 4096;

/// An MSI message as the guest programs it into an MSI-X table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct MsiMessage {
    /// Message address (the LAPIC window plus destination bits).
    pub address: u64,
    /// Message data (vector, delivery mode).
    pub data: u32,
}

/// Errors changing the routing table.
#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    /// Every GSI KVM allows is taken.
    #[error("no free GSI for another MSI vector (KVM allows {MAX_ROUTES} routes)")]
    Exhausted,
    /// `KVM_SET_GSI_ROUTING` failed.
    #[error("KVM_SET_GSI_ROUTING: {0}")]
    Kvm(kvm_ioctls::Error),
    /// The routing table could not be built.
    #[error("cannot build the GSI routing table")]
    Table,
}

#[derive(Default)]
struct Table {
    next_gsi: u32,
    msi: BTreeMap<u32, MsiMessage>,
}

/// The routing table of one VM, shared by every device with MSI-X.
pub struct GsiRouting {
    fd: Arc<VmFd>,
    table: Mutex<Table>,
}

impl GsiRouting {
    /// The routing of the VM behind `fd` (whose irqchip exists already).
    pub fn new(fd: Arc<VmFd>) -> Self {
        GsiRouting {
            fd,
            table: Mutex::new(Table {
                next_gsi: IOAPIC_PINS,
                msi: BTreeMap::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A GSI of its own for one MSI vector (no route until [`Self::set_msi`]).
    pub fn allocate_gsi(&self) -> Result<u32, RoutingError> {
        let mut table = self.lock();
        let gsi = table.next_gsi;
        if gsi as usize >= MAX_ROUTES {
            return Err(RoutingError::Exhausted);
        }
        table.next_gsi += 1;
        Ok(gsi)
    }

    /// Routes `gsi` to `message`, or removes its route with `None` (a masked
    /// or disabled vector). Does nothing when the route is already so.
    pub fn set_msi(&self, gsi: u32, message: Option<MsiMessage>) -> Result<(), RoutingError> {
        let mut table = self.lock();
        let changed = match message {
            Some(m) => table.msi.insert(gsi, m) != Some(m),
            None => table.msi.remove(&gsi).is_some(),
        };
        if !changed {
            return Ok(());
        }
        let entries = routing_entries(&table.msi);
        let routing = KvmIrqRouting::from_entries(&entries).map_err(|_| RoutingError::Table)?;
        self.fd.set_gsi_routing(&routing).map_err(RoutingError::Kvm)
    }
}

fn irqchip_entry(gsi: u32, irqchip: u32, pin: u32) -> kvm_irq_routing_entry {
    let mut e = kvm_irq_routing_entry {
        gsi,
        type_: KVM_IRQ_ROUTING_IRQCHIP,
        ..Default::default()
    };
    e.u.irqchip.irqchip = irqchip;
    e.u.irqchip.pin = pin;
    e
}

/// KVM's default irqchip routes (ISA IRQs on both PICs and the IOAPIC,
/// pins 16..23 on the IOAPIC only) followed by the MSI routes.
fn routing_entries(msi: &BTreeMap<u32, MsiMessage>) -> Vec<kvm_irq_routing_entry> {
    let mut entries = Vec::with_capacity((PIC_PINS + IOAPIC_PINS) as usize + msi.len());
    for gsi in 0..IOAPIC_PINS {
        if gsi < PIC_PINS {
            let chip = if gsi < 8 {
                KVM_IRQCHIP_PIC_MASTER
            } else {
                KVM_IRQCHIP_PIC_SLAVE
            };
            entries.push(irqchip_entry(gsi, chip, gsi % 8));
        }
        entries.push(irqchip_entry(gsi, KVM_IRQCHIP_IOAPIC, gsi));
    }
    for (gsi, m) in msi {
        let mut e = kvm_irq_routing_entry {
            gsi: *gsi,
            type_: KVM_IRQ_ROUTING_MSI,
            ..Default::default()
        };
        e.u.msi.address_lo = m.address as u32;
        e.u.msi.address_hi = (m.address >> 32) as u32;
        e.u.msi.data = m.data;
        entries.push(e);
    }
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_keeps_the_irqchip_routes_next_to_msi() {
        let mut msi = BTreeMap::new();
        msi.insert(
            24,
            MsiMessage {
                address: 0x1_fee0_0000,
                data: 0x4041,
            },
        );
        let entries = routing_entries(&msi);
        // 16 PIC routes + 24 IOAPIC routes + 1 MSI.
        assert_eq!(entries.len(), 41);
        let ioapic: Vec<u32> = entries
            .iter()
            .filter(|e| e.type_ == KVM_IRQ_ROUTING_IRQCHIP)
            // SAFETY: irqchip entries carry the irqchip member of the union.
            .filter(|e| unsafe { e.u.irqchip.irqchip } == KVM_IRQCHIP_IOAPIC)
            .map(|e| e.gsi)
            .collect();
        assert_eq!(ioapic, (0..24).collect::<Vec<_>>());
        let last = entries.last().expect("msi entry");
        assert_eq!(last.type_, KVM_IRQ_ROUTING_MSI);
        // SAFETY: MSI entries carry the msi member of the union.
        let (lo, hi, data) = unsafe {
            (
                last.u.msi.address_lo,
                last.u.msi.address_hi,
                last.u.msi.data,
            )
        };
        assert_eq!((lo, hi, data), (0xfee0_0000, 1, 0x4041));
    }
}
