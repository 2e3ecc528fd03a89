//! The bar `ledgerlink job` and `plan` show while the component's job call runs. The call is one
//! blocking export, so a polling thread asks another instance of the component for its progress
//! (the `status` export: step, done, total, recorded by the flows after every batch). indicatif
//! hides the bar when stderr is not a terminal.

use crate::flow_calls;
use crate::runtime::exports::ledgerlink::sync::flows::Progress;
use crate::runtime::Runtime;
use crate::tenant::TenantCaps;
use indicatif::{ProgressBar, ProgressStyle};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const POLL: Duration = Duration::from_millis(200);

/// A running bar; [`ProgressWatch::finish`] clears it.
pub struct ProgressWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    bar: ProgressBar,
}

impl ProgressWatch {
    /// Starts following `tenant`'s progress on `bar`.
    pub fn start(runtime: Runtime, tenant: TenantCaps, bar: ProgressBar) -> Self {
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} {bar:30.cyan/blue} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, bar) = (stop.clone(), bar.clone());
            std::thread::spawn(move || {
                // Its own small runtime: the job's call holds the caller's.
                let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(status) = rt.block_on(flow_calls::status(&runtime, &tenant)) {
                        if let Some(p) = status.progress {
                            show(&bar, &p);
                        }
                    }
                    std::thread::sleep(POLL);
                }
            })
        };
        Self {
            stop,
            thread: Some(thread),
            bar,
        }
    }

    /// Stops following and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.bar.finish_and_clear();
    }
}

/// Moves `bar` to `p`; a new step restarts it.
fn show(bar: &ProgressBar, p: &Progress) {
    if bar.message() != p.step {
        bar.set_message(p.step.clone());
        bar.reset();
    }
    bar.set_length(p.total);
    bar.set_position(p.done);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caps::schedule::StoreSchedule;
    use crate::caps::storage::memory::MemoryBackend;
    use crate::caps::storage::KeyValueBackend;
    use crate::db::Database;
    use crate::runtime::Limits;

    #[test]
    fn the_bar_follows_the_progress_the_component_reports() {
        let storage = Arc::new(MemoryBackend::default());
        let tenant = TenantCaps {
            id: "t".into(),
            settings: Arc::new([("realm-id".to_string(), "1".to_string())].into()),
            connections: Arc::default(),
            storage: storage.clone(),
            schedule: Arc::new(StoreSchedule::new(Database::in_memory().unwrap())),
        };
        let runtime = Runtime::embedded(Limits::default()).unwrap();
        let bar = ProgressBar::hidden();
        let watch = ProgressWatch::start(runtime, tenant, bar.clone());
        // What the flows record after a batch (the component's own state).
        storage
            .set(
                "t",
                "state",
                "progress",
                br#"{"step":"Opportunity","done":60,"total":200}"#,
            )
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while bar.position() != 60 {
            assert!(std::time::Instant::now() < deadline, "the bar never moved");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(bar.length(), Some(200));
        assert_eq!(bar.message(), "Opportunity");
        watch.finish();
    }
}
