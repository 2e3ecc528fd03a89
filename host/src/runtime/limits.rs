//! The limits every guest call runs under.

use std::time::Duration;

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Per-call sandbox limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum linear memory of the guest, in bytes.
    pub memory_bytes: usize,
    /// CPU time before the epoch deadline traps a spinning guest.
    pub cpu_deadline: Duration,
    /// Wall-clock time for a whole call, including time blocked on HTTP.
    pub wall_clock: Duration,
    /// Use the pooling allocator when the OS allows it.
    pub pooling: bool,
    /// Instances the pool keeps ready (concurrent calls).
    pub pool_instances: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 << 20,
            cpu_deadline: Duration::from_secs(10),
            wall_clock: Duration::from_secs(120),
            pooling: true,
            pool_instances: 16,
        }
    }
}

impl Limits {
    /// The epoch deadline in ticks.
    pub fn deadline_ticks(&self) -> u64 {
        (self.cpu_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
