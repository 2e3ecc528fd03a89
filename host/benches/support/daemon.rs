//! The `ledgerlink run` child process of a benchmark.

use std::process::Child;

/// The daemon process; killed and reaped if the bench stops early.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
