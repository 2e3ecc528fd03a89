//! Salesforce emulator (see the crate docs).
