//! The bar `ledgerlink job` and `plan` show while the component's job call runs. The call is one
//! blocking export, so the bar follows the progress record the flows store after every batch
//! (`state/progress`: step, done, total), read from the tenant's store by a polling thread.
//! indicatif hides it when stderr is not a terminal.

use crate::caps::storage::KeyValueBackend;
use indicatif::{ProgressBar, ProgressStyle};
use serde::Deserialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const BUCKET: &str = "state";
const KEY: &str = "progress";
const POLL: Duration = Duration::from_millis(200);

/// The record the flows store (`ledgerlink_plugin::flows::context::Progress`).
#[derive(Debug, Deserialize, PartialEq, Eq)]
pub struct Progress {
    pub step: String,
    pub done: u64,
    pub total: u64,
}

/// A running bar; [`ProgressWatch::finish`] clears it.
pub struct ProgressWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    bar: ProgressBar,
}

impl ProgressWatch {
    /// Starts following `tenant`'s progress record on `bar` (a stale record from an earlier
    /// run is removed first).
    pub fn start(storage: Arc<dyn KeyValueBackend>, tenant: &str, bar: ProgressBar) -> Self {
        let _ = storage.delete(tenant, BUCKET, KEY);
        bar.set_style(
            ProgressStyle::with_template("{msg:>12} {bar:30.cyan/blue} {pos}/{len} ({eta})")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (stop, bar, tenant) = (stop.clone(), bar.clone(), tenant.to_string());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    if let Some(p) = read(storage.as_ref(), &tenant) {
                        show(&bar, &p);
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

/// The tenant's progress record, if there is a readable one.
pub fn read(storage: &dyn KeyValueBackend, tenant: &str) -> Option<Progress> {
    let bytes = storage.get(tenant, BUCKET, KEY).ok()??;
    serde_json::from_slice(&bytes).ok()
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
    use crate::caps::storage::memory::MemoryBackend;

    #[test]
    fn the_bar_follows_the_stored_record_and_a_stale_one_is_dropped() {
        let storage: Arc<dyn KeyValueBackend> = Arc::new(MemoryBackend::default());
        storage
            .set(
                "t",
                BUCKET,
                KEY,
                br#"{"step":"Account","done":9,"total":9}"#,
            )
            .unwrap();
        let bar = ProgressBar::hidden();
        let watch = ProgressWatch::start(storage.clone(), "t", bar.clone());
        assert_eq!(read(storage.as_ref(), "t"), None, "stale record removed");
        storage
            .set(
                "t",
                BUCKET,
                KEY,
                br#"{"step":"Opportunity","done":60,"total":200}"#,
            )
            .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while bar.position() != 60 {
            assert!(std::time::Instant::now() < deadline, "the bar never moved");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(bar.length(), Some(200));
        assert_eq!(bar.message(), "Opportunity");
        watch.finish();
    }

    #[test]
    fn an_unreadable_record_shows_nothing() {
        let storage = MemoryBackend::default();
        storage.set("t", BUCKET, KEY, b"not json").unwrap();
        assert_eq!(read(&storage, "t"), None);
    }
}
