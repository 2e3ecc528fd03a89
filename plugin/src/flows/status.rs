//! What the component tells a host about its own position (the `status` export): the progress
//! of a running job and the trigger cursors, read from its state. The host never reads the
//! component's buckets itself; their names and formats stay the component's business.

use super::context::{Progress, PROGRESS_KEY};
use super::state::{State, CURSORS, STATE};
use crate::platform::Platform;

/// The component's position.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowStatus {
    /// The progress last recorded.
    pub progress: Option<Progress>,
    /// Trigger positions by name, sorted.
    pub cursors: Vec<(String, String)>,
}

/// Reads the position; a value that cannot be read is left out (a status never fails).
pub fn read(platform: &Platform<'_>) -> FlowStatus {
    let state = State::new(platform.kv);
    let progress = state.get::<Progress>(STATE, PROGRESS_KEY).ok().flatten();
    let mut cursors: Vec<(String, String)> = state
        .keys(CURSORS, "")
        .unwrap_or_default()
        .into_iter()
        .filter_map(|key| {
            let value = state.get::<serde_json::Value>(CURSORS, &key).ok()??;
            let text = match value {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            };
            Some((key, text))
        })
        .collect();
    cursors.sort();
    FlowStatus { progress, cursors }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::{json, MemoryPlatform};

    #[test]
    fn the_status_holds_the_progress_and_every_cursor_as_text() {
        let platform = MemoryPlatform::new("1", |_| json(404, serde_json::json!({})));
        assert_eq!(read(&platform.platform()), FlowStatus::default());
        // An unreadable record is left out, never an error.
        use crate::platform::KeyValue;
        platform.kv.set(STATE, PROGRESS_KEY, b"not json").unwrap();
        assert_eq!(read(&platform.platform()).progress, None);
        let state = State::new(&platform.kv);
        state
            .put(CURSORS, "qbo-cdc", &"2026-12-01T00:00:00Z")
            .unwrap();
        state.put(CURSORS, "sf-replay", &"42").unwrap();
        let p = Progress {
            step: "Opportunity".into(),
            done: 30,
            total: 100,
        };
        state.put(STATE, PROGRESS_KEY, &p).unwrap();
        let status = read(&platform.platform());
        assert_eq!(status.progress, Some(p));
        assert_eq!(
            status.cursors,
            vec![
                ("qbo-cdc".to_string(), "2026-12-01T00:00:00Z".to_string()),
                ("sf-replay".to_string(), "42".to_string()),
            ]
        );
    }
}
