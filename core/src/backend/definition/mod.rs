//! Reading and adjusting libvirt definitions at the element level, shared by
//! every driver: defaults filled on define (UUID, MAC addresses, bridge
//! names), sizes and counts read and changed in place, volume and
//! capabilities documents built.

pub mod capabilities;
pub mod devices;
pub mod display;
pub mod domain;
pub mod edit;
pub mod host;
pub mod network;
pub mod pool;
pub mod volume;
