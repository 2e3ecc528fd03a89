//! End-to-end tests: the real component in the real host against the emulators. Shared here:
//! starting a local company and running a job on it.

use ledgerlink::db::Database;
use ledgerlink::jobs::{self, FlowResult};
use ledgerlink::local::{LocalCompany, LocalOptions};
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use ledgerlink::runtime::{Limits, Runtime};
use serde_json::Value;
use std::sync::OnceLock;

/// The embedded component, compiled once per test binary.
pub fn runtime() -> Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        Runtime::embedded(Limits {
            wall_clock: std::time::Duration::from_secs(300),
            cpu_deadline: std::time::Duration::from_secs(120),
            ..Limits::default()
        })
        .expect("load the component")
    })
    .clone()
}

/// A tokio runtime for one test.
pub fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio")
        .block_on(f)
}

/// A company with its own in-memory store.
pub fn company(options: LocalOptions) -> (LocalCompany, Database) {
    let db = Database::in_memory().expect("db");
    let c = LocalCompany::start(options, &db).expect("start the local company");
    (c, db)
}

/// Runs a job and returns the guest's answer.
pub fn run(c: &LocalCompany, job: &str, args: Value) -> FlowResult {
    block_on(jobs::run_job(&runtime(), &c.tenant, job, &args.to_string())).expect("the call traps")
}

/// Runs a job that must answer with a report.
pub fn report(c: &LocalCompany, job: &str, args: Value) -> RunReport {
    match run(c, job, args) {
        Ok(r) => r,
        Err(e) => panic!("{job} failed as a whole: {e:?}"),
    }
}

/// The outcomes of one kind, as `entity record: detail` lines (for assertion messages).
pub fn lines(r: &RunReport, kind: Outcome) -> Vec<String> {
    r.records
        .iter()
        .filter(|o| o.outcome == kind)
        .map(|o| format!("{} {}: {}", o.entity, o.record_id, o.detail))
        .collect()
}
