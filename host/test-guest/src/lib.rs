//! A test guest: the `ledgerlink:sync/plugin` world with `run-job` jobs that misbehave or probe
//! a capability, so the host's sandbox and capability tests run a real component (as wasmtime's
//! test programs do). Its mapping functions answer `not-available`.
//!
//! | job | args | does |
//! |---|---|---|
//! | `spin` | | loops forever (the epoch deadline must stop it) |
//! | `allocate` | | allocates until memory runs out (the memory limit must stop it) |
//! | `fetch` | `{"url", "method", "headers": {..}, "body"}` | one HTTP request; detail = `status body` |
//! | `kv-set` / `kv-get` | `{"bucket", "key", "value"}` | key-value storage |
//! | `config` | `{"key"}` | reads a setting |
//! | `schedule` | `{"job", "args", "at"}` | asks for a run later |
//! | `fetch-many` | `{"url", "count"}` | `count` GETs in a row; detail = JSON `[{status, retry-at, retry-after, ms}]` |
//! | `tick` | `{"sleep-ms"}` | counts its runs in kv `test/ticks` (after sleeping); `describe` schedules it every second |
//! | `flaky` | `{"only"?}` | one outcome per key of bucket `flaky` (value `ok`, `retryable` or `permanent`), only the `only` ids when given; counts attempts in bucket `flaky-runs` |
//! | `throttle` | `{"at"}` | answers `throttled(at)` |
//! | `env` | | detail = the environment variable names it sees, as a JSON array |
//! | `fs` | `{"path"}` | lists a directory; detail = `ok <n>` or `err <reason>` |
//!
//! `on-webhook` from source `test` with `{"failed": "<id>"}` reports that record of job `flaky`
//! as failed and retryable, and with `{"throttle": "<RFC 3339>"}` answers `throttled`; other
//! sources answer `not-available`.

// The contract, so that a change to it alone rebuilds this guest (the macro reads it unseen).
const _: &str = include_str!("../../../wit/ledgerlink.wit");

#[allow(warnings)]
#[rustfmt::skip]
mod bindings {
    wit_bindgen::generate!({ path: "../../wit", world: "ledgerlink:sync/plugin", generate_all });
}

#[cfg(target_arch = "wasm32")]
mod guest {
    use super::bindings::exports::ledgerlink::sync::flows::{
        self, FlowError, Job, Outcome, RecordOutcome, RunReport,
    };
    use super::bindings::exports::ledgerlink::sync::mapping as mapping_api;
    use super::bindings::ledgerlink::sync::schedule;
    use super::bindings::ledgerlink::sync::types as wit;
    use super::bindings::wasi::config::store as config;
    use super::bindings::wasi::keyvalue::store as kv;
    use serde_json::Value;

    struct TestGuest;

    fn not_available<T>(name: &str) -> Result<T, wit::MappingError> {
        Err(wit::MappingError {
            kind: wit::ErrorKind::NotAvailable,
            errors: vec![wit::FieldError {
                record_id: name.into(),
                field: String::new(),
                reason: "test guest".into(),
            }],
        })
    }

    impl mapping_api::Guest for TestGuest {
        fn map_account(_: wit::AccountInput) -> Result<wit::AccountOutput, wit::MappingError> {
            not_available("map-account")
        }
        fn map_customer(_: wit::CustomerInput) -> Result<wit::CustomerOutput, wit::MappingError> {
            not_available("map-customer")
        }
        fn map_product(_: wit::ProductInput) -> Result<wit::ItemChange, wit::MappingError> {
            not_available("map-product")
        }
        fn build_invoice(_: wit::InvoiceInput) -> Result<wit::QboInvoice, wit::MappingError> {
            not_available("build-invoice")
        }
        fn apply_payment(_: wit::PaymentInput) -> Result<wit::PaymentOutput, wit::MappingError> {
            not_available("apply-payment")
        }
        fn build_journal_entry(
            _: wit::JournalInput,
        ) -> Result<wit::QboJournalEntry, wit::MappingError> {
            not_available("build-journal-entry")
        }
        fn age_invoices(_: wit::AgingInput) -> Result<wit::AgingReport, wit::MappingError> {
            not_available("age-invoices")
        }
        fn reconcile(_: wit::ReconcileInput) -> Result<wit::ReconcileReport, wit::MappingError> {
            not_available("reconcile")
        }
    }

    fn report(job: &str, detail: String) -> RunReport {
        RunReport {
            job: job.into(),
            records: vec![RecordOutcome {
                entity: "test".into(),
                record_id: String::new(),
                outcome: Outcome::Skipped,
                target_id: None,
                detail,
                code: None,
                retryable: false,
            }],
            created: 0,
            updated: 0,
            skipped: 1,
            failed: 0,
        }
    }

    fn arg<'a>(args: &'a Value, key: &str) -> &'a str {
        args.get(key).and_then(Value::as_str).unwrap_or_default()
    }

    fn failed(e: impl std::fmt::Debug) -> FlowError {
        FlowError::Failed(format!("{e:?}"))
    }

    impl flows::Guest for TestGuest {
        /// Nothing to report: the test guest keeps no cursors.
        fn status() -> flows::FlowStatus {
            flows::FlowStatus {
                progress: None,
                cursors: Vec::new(),
            }
        }

        /// Nothing stored: the test guest keeps no reports.
        fn report(
            _kind: flows::ReportKind,
            _period: Option<String>,
        ) -> Result<Option<flows::StoredReport>, String> {
            Ok(None)
        }

        fn describe() -> Vec<Job> {
            vec![
                Job {
                    name: "tick".into(),
                    description: "counts its runs".into(),
                    default_schedule: Some("* * * * * *".into()),
                },
                Job {
                    name: "flaky".into(),
                    description: "outcomes chosen by the test".into(),
                    default_schedule: None,
                },
            ]
        }

        fn run_job(name: String, args: String) -> Result<RunReport, FlowError> {
            let args: Value =
                serde_json::from_str(&args).map_err(|e| FlowError::InvalidArgs(e.to_string()))?;
            match name.as_str() {
                "spin" => {
                    let mut n: u64 = 0;
                    loop {
                        n = std::hint::black_box(n.wrapping_add(1));
                    }
                }
                "allocate" => {
                    let mut hoard: Vec<Vec<u8>> = Vec::new();
                    loop {
                        hoard.push(vec![1u8; 1 << 20]);
                        std::hint::black_box(&hoard);
                    }
                }
                "fetch" => {
                    let url = arg(&args, "url");
                    let client = waki::Client::new();
                    let mut request = match arg(&args, "method") {
                        "POST" => client.post(url),
                        _ => client.get(url),
                    };
                    if let Some(headers) = args.get("headers").and_then(Value::as_object) {
                        // waki takes static header names; these are the ones the tests send.
                        for name in ["authorization", "cookie", "content-type", "x-probe"] {
                            if let Some(v) = headers.get(name).and_then(Value::as_str) {
                                request = request.header(name, v.to_string());
                            }
                        }
                    }
                    if let Some(body) = args.get("body").and_then(Value::as_str) {
                        request = request.body(body.as_bytes().to_vec());
                    }
                    let response = request.send().map_err(failed)?;
                    let status = response.status_code();
                    let body = response.body().map_err(failed)?;
                    Ok(report(
                        &name,
                        format!("{status} {}", String::from_utf8_lossy(&body)),
                    ))
                }
                "kv-set" => {
                    let bucket = kv::open(arg(&args, "bucket")).map_err(failed)?;
                    bucket
                        .set(arg(&args, "key"), arg(&args, "value").as_bytes())
                        .map_err(failed)?;
                    Ok(report(&name, "ok".into()))
                }
                "kv-get" => {
                    let bucket = kv::open(arg(&args, "bucket")).map_err(failed)?;
                    let value = bucket.get(arg(&args, "key")).map_err(failed)?;
                    Ok(report(
                        &name,
                        value
                            .map(|v| String::from_utf8_lossy(&v).into_owned())
                            .unwrap_or_else(|| "<none>".into()),
                    ))
                }
                "config" => {
                    let value = config::get(arg(&args, "key")).map_err(failed)?;
                    Ok(report(&name, value.unwrap_or_else(|| "<none>".into())))
                }
                "schedule" => {
                    let id = schedule::run_later(
                        arg(&args, "job"),
                        arg(&args, "args"),
                        arg(&args, "at"),
                    )
                    .map_err(FlowError::Failed)?;
                    Ok(report(&name, id))
                }
                "fetch-many" => {
                    let url = arg(&args, "url");
                    let count = args.get("count").and_then(Value::as_u64).unwrap_or(1);
                    let client = waki::Client::new();
                    let mut seen = Vec::new();
                    for _ in 0..count {
                        let started = std::time::Instant::now();
                        let response = client.get(url).send().map_err(failed)?;
                        let header = |name: &str| {
                            response
                                .header(name)
                                .and_then(|v| v.to_str().ok())
                                .map(str::to_string)
                        };
                        let entry = serde_json::json!({
                            "status": response.status_code(),
                            "retry-at": header("x-ledgerlink-retry-at"),
                            "retry-after": header("retry-after"),
                            "ms": started.elapsed().as_millis() as u64,
                        });
                        let _ = response.body();
                        seen.push(entry);
                    }
                    Ok(report(&name, Value::Array(seen).to_string()))
                }
                "tick" => {
                    if let Some(ms) = args.get("sleep-ms").and_then(Value::as_u64) {
                        std::thread::sleep(std::time::Duration::from_millis(ms));
                    }
                    let bucket = kv::open("test").map_err(failed)?;
                    let n = bucket
                        .get("ticks")
                        .map_err(failed)?
                        .and_then(|v| String::from_utf8(v).ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                    bucket
                        .set("ticks", (n + 1).to_string().as_bytes())
                        .map_err(failed)?;
                    Ok(report(&name, (n + 1).to_string()))
                }
                "flaky" => {
                    let bucket = kv::open("flaky").map_err(failed)?;
                    let runs = kv::open("flaky-runs").map_err(failed)?;
                    let ids: Vec<String> = match args.get("only").and_then(Value::as_array) {
                        // The ledger names records `<entity>:<id>`.
                        Some(only) => only
                            .iter()
                            .filter_map(Value::as_str)
                            .map(|o| o.split_once(':').map_or(o, |(_, id)| id).to_string())
                            .collect(),
                        None => bucket.list_keys(None).map_err(failed)?.keys,
                    };
                    let mut records = Vec::new();
                    let (mut updated, mut failed_n) = (0, 0);
                    for id in ids {
                        let n = runs
                            .get(&id)
                            .map_err(failed)?
                            .and_then(|v| String::from_utf8(v).ok())
                            .and_then(|v| v.parse::<u64>().ok())
                            .unwrap_or(0);
                        runs.set(&id, (n + 1).to_string().as_bytes())
                            .map_err(failed)?;
                        let mode = bucket
                            .get(&id)
                            .map_err(failed)?
                            .map(|v| String::from_utf8_lossy(&v).into_owned())
                            .unwrap_or_default();
                        let (outcome, code, retryable) = match mode.as_str() {
                            "ok" => (Outcome::Updated, None, false),
                            "retryable" => (Outcome::Failed, Some("http-503".to_string()), true),
                            _ => (Outcome::Failed, Some("mapping".to_string()), false),
                        };
                        if matches!(outcome, Outcome::Failed) {
                            failed_n += 1;
                        } else {
                            updated += 1;
                        }
                        records.push(RecordOutcome {
                            entity: "Opportunity".into(),
                            record_id: id.clone(),
                            outcome,
                            target_id: None,
                            detail: format!("{mode} attempt {}", n + 1),
                            code,
                            retryable,
                        });
                    }
                    Ok(RunReport {
                        job: name.clone(),
                        records,
                        created: 0,
                        updated,
                        skipped: 0,
                        failed: failed_n,
                    })
                }
                "throttle" => Err(FlowError::Throttled(arg(&args, "at").to_string())),
                "env" => {
                    let names: Vec<String> = std::env::vars().map(|(k, _)| k).collect();
                    Ok(report(&name, Value::from(names).to_string()))
                }
                "fs" => Ok(report(
                    &name,
                    match std::fs::read_dir(arg(&args, "path")) {
                        Ok(entries) => format!("ok {}", entries.count()),
                        Err(e) => format!("err {e}"),
                    },
                )),
                other => Err(FlowError::NotAvailable(other.into())),
            }
        }

        fn on_webhook(source: String, body: String) -> Result<RunReport, FlowError> {
            // Source `test`: `{"failed": "<id>"}` reports that record of job `flaky` as failed
            // (retryable), as a plugin handling a webhook with a record-level job would.
            if source != "test" {
                return Err(FlowError::NotAvailable(source));
            }
            let body: Value =
                serde_json::from_str(&body).map_err(|e| FlowError::InvalidArgs(e.to_string()))?;
            if body.get("throttle").is_some() {
                return Err(FlowError::Throttled(arg(&body, "throttle").to_string()));
            }
            Ok(RunReport {
                job: "flaky".into(),
                records: vec![RecordOutcome {
                    entity: "Opportunity".into(),
                    record_id: arg(&body, "failed").to_string(),
                    outcome: Outcome::Failed,
                    target_id: None,
                    detail: "from a webhook".into(),
                    code: Some("http-503".into()),
                    retryable: true,
                }],
                created: 0,
                updated: 0,
                skipped: 0,
                failed: 1,
            })
        }
    }

    super::bindings::export!(TestGuest with_types_in super::bindings);
}
