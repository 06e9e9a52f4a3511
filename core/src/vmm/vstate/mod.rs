//! KVM state wrappers: the VM (memory slots, irqchip, PIT), its vCPUs and
//! their run loop, and guest memory.

pub mod memory;
pub mod vcpu;
pub mod vm;
