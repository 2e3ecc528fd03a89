//! A clock that tests can move forward, so that a 3600 s token expiry or a one-minute rate window
//! is exercised in milliseconds.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

/// Something to run after the clock moved (e.g. the QBO emulator's recurring-transaction
/// scheduler).
pub type Listener = Arc<dyn Fn() + Send + Sync>;

/// Wall-clock time plus an offset that only ever grows. Cloning shares the offset and the
/// listeners.
#[derive(Clone, Default)]
pub struct Clock {
    offset: Arc<Mutex<Duration>>,
    listeners: Arc<Mutex<Vec<Listener>>>,
}

impl Clock {
    /// A clock at real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// The emulated "now".
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now() + *self.offset.lock().expect("clock lock")
    }

    /// Moves the emulated time forward by `by` (negative values are ignored: time never runs back).
    pub fn advance(&self, by: Duration) {
        if by > Duration::zero() {
            *self.offset.lock().expect("clock lock") += by;
            let listeners = self.listeners.lock().expect("clock lock").clone();
            for listener in listeners {
                listener();
            }
        }
    }

    /// Runs `listener` after every advance (not for the passing of real time).
    pub fn on_advance(&self, listener: Listener) {
        self.listeners.lock().expect("clock lock").push(listener);
    }

    /// How far the clock has been advanced in total.
    pub fn offset(&self) -> Duration {
        *self.offset.lock().expect("clock lock")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_moves_now_forward_and_never_back() {
        let clock = Clock::new();
        let before = clock.now();
        clock.advance(Duration::seconds(3600));
        assert!(clock.now() - before >= Duration::seconds(3600));
        clock.advance(Duration::seconds(-10_000));
        assert_eq!(clock.offset(), Duration::seconds(3600));
    }

    #[test]
    fn listeners_run_after_each_advance() {
        let clock = Clock::new();
        let count = Arc::new(Mutex::new(0));
        let seen = count.clone();
        let reader = clock.clone();
        clock.on_advance(Arc::new(move || {
            let _ = reader.now();
            *seen.lock().unwrap() += 1;
        }));
        clock.advance(Duration::seconds(5));
        clock.advance(Duration::zero());
        assert_eq!(*count.lock().unwrap(), 1);
    }
}
