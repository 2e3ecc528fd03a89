//! Pieces both emulators share.

pub mod clock;
pub mod control;
pub mod faults;
pub mod request_log;
pub mod server;
