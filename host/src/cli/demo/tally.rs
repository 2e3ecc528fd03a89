//! What a demo step did, one outcome per record: a later attempt's outcome replaces an earlier
//! one, except that finding a record unchanged does not undo a create or an update.

use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use std::collections::BTreeMap;

/// One step's outcome per record: the last attempt counts (a throttled record retried and
/// created is "created").
#[derive(Default)]
pub struct Tally {
    records: BTreeMap<(String, String), (Outcome, String)>,
}

impl Tally {
    pub fn add(&mut self, r: &RunReport) {
        // "(run)" marks an attempt that stopped early; its records carry the outcome.
        for o in r.records.iter().filter(|o| o.record_id != "(run)") {
            let key = (o.entity.clone(), o.record_id.clone());
            // A rerun that finds a record unchanged does not undo what an earlier attempt did.
            let keep = matches!(
                (self.records.get(&key).map(|(k, _)| *k), o.outcome),
                (Some(Outcome::Created | Outcome::Updated), Outcome::Skipped)
            );
            if !keep {
                self.records.insert(key, (o.outcome, o.detail.clone()));
            }
        }
    }

    pub fn count(&self, kind: Outcome) -> usize {
        self.records.values().filter(|(o, _)| *o == kind).count()
    }

    pub fn failures(&self) -> Vec<String> {
        self.records
            .iter()
            .filter(|(_, (o, _))| *o == Outcome::Failed)
            .map(|((e, id), (_, d))| format!("{e} {id}: {d}"))
            .collect()
    }
}
