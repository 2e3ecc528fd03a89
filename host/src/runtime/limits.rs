//! The limits every guest call runs under.

use std::time::Duration;

/// How often the engine's epoch advances; deadlines are counted in these ticks.
pub const EPOCH_TICK: Duration = Duration::from_millis(5);

/// Per-call sandbox limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Maximum linear memory of the guest, in bytes.
    pub memory_bytes: usize,
    /// Guest execution time (in epoch ticks during which it ran; time blocked in host calls
    /// does not count) before a spinning guest is trapped.
    pub cpu_deadline: Duration,
    /// Wall-clock time for a whole call, including time blocked on HTTP.
    pub wall_clock: Duration,
    /// Use the pooling allocator when the OS allows it.
    pub pooling: bool,
    /// Instances the pool keeps ready (concurrent calls).
    pub pool_instances: u32,
    /// Bytes of each pooled linear memory kept mapped when an instance ends, reset in place
    /// (only the pages it wrote, where the kernel offers `PAGEMAP_SCAN`) instead of being
    /// returned to the kernel: the next instance in the slot then takes no page faults on
    /// them, which were most of a fresh instance's first call (BENCHMARKS.md).
    pub keep_resident_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 128 << 20,
            cpu_deadline: Duration::from_secs(30),
            // A backfill waits on the APIs (and their rate limits) for most of its time.
            wall_clock: Duration::from_secs(30 * 60),
            pooling: true,
            pool_instances: 16,
            keep_resident_bytes: 1 << 20,
        }
    }
}

impl Limits {
    /// The epoch deadline in ticks.
    pub fn deadline_ticks(&self) -> u64 {
        (self.cpu_deadline.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64
    }
}
