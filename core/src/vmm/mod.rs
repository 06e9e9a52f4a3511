//! vmm layer (see docs/ARCHITECTURE.md).
