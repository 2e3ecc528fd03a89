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
//! | `env` | | detail = the environment variable names it sees, as a JSON array |
//! | `fs` | `{"path"}` | lists a directory; detail = `ok <n>` or `err <reason>` |

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
        fn describe() -> Vec<Job> {
            Vec::new()
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

        fn on_webhook(source: String, _body: String) -> Result<RunReport, FlowError> {
            Err(FlowError::NotAvailable(source))
        }
    }

    super::bindings::export!(TestGuest with_types_in super::bindings);
}
