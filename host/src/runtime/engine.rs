//! Engine construction: async support for wasi-http, epoch interruption for deadlines, and the
//! pooling allocator where the OS allows it (with a fallback to on-demand allocation).

use super::limits::{Limits, EPOCH_TICK};
use anyhow::Result;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

fn base_config() -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    config
}

/// Builds the engine; falls back to on-demand allocation when the pool cannot be reserved
/// (small `ulimit -v`, some containers).
pub fn build(limits: &Limits) -> Result<Engine> {
    if limits.pooling {
        let mut pool = PoolingAllocationConfig::default();
        pool.total_component_instances(limits.pool_instances)
            .total_core_instances(limits.pool_instances * 8)
            .total_memories(limits.pool_instances * 2)
            .total_tables(limits.pool_instances * 8)
            .max_memory_size(limits.memory_bytes)
            .linear_memory_keep_resident(limits.keep_resident_bytes)
            .table_keep_resident(limits.keep_resident_bytes)
            .pagemap_scan(wasmtime::Enabled::Auto);
        let mut config = base_config();
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
        match Engine::new(&config) {
            Ok(engine) => return Ok(engine),
            Err(e) => {
                tracing::warn!("pooling allocator unavailable ({e:#}); using on-demand allocation")
            }
        }
    }
    Ok(Engine::new(&base_config())?)
}

/// A thread that advances the engine's epoch every [`EPOCH_TICK`]; stops when dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
}

impl EpochTicker {
    /// Starts ticking `engine`.
    pub fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::Builder::new()
            .name("ledgerlink-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(EPOCH_TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawn epoch thread");
        Self { stop }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}
