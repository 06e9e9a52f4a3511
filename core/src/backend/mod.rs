//! backend layer (see docs/ARCHITECTURE.md).
