//! KVM state wrappers: the VM (memory slots, irqchip, PIT, GSI routing), its
//! vCPUs and their run loop, and guest memory.

pub mod irq_routing;
pub mod memory;
pub mod persist;
pub mod vcpu;
pub mod vm;
