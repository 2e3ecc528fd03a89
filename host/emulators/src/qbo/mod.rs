//! QuickBooks Online emulator (see the crate docs).
