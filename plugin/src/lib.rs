//! Ledgerlink's sync logic, built as a WASI component (`wasm32-wasip2`) and as an rlib for
//! native tests.
//!
//! - `model`: the records in exact types (money is `Decimal`).
//! - `mapping`: the pure per-flow functions.
//! - `boundary`: the translation between the WIT bindings and `model` (parsing money and dates,
//!   naming the record and field of every bad value).
//!
//! The generated bindings live in this file and are used only here, in `boundary` and in
//! `outgoing` (HTTP over `wasi:http`).

pub mod boundary;
pub mod clients;
pub mod flows;
pub mod mapping;
pub mod model;
pub mod native;
#[cfg(target_arch = "wasm32")]
mod outgoing;
pub mod platform;

// The contract, so that a change to it alone rebuilds this guest (the macro reads it unseen).
const _: &str = include_str!("../../wit/ledgerlink.wit");

#[allow(warnings)]
#[rustfmt::skip]
mod bindings {
    wit_bindgen::generate!({ path: "../wit", world: "ledgerlink:sync/plugin", generate_all });
}

#[cfg(target_arch = "wasm32")]
use bindings::exports::ledgerlink::sync::flows::{
    self as flows_api, FlowError, FlowStatus, Job, Outcome, RecordOutcome, ReportKind, RunReport,
    StoredReport,
};
use bindings::exports::ledgerlink::sync::mapping as mapping_api;
use bindings::ledgerlink::sync::types as wit;

/// The component: each export converts its input through `boundary`, calls the pure function in
/// `mapping` and converts the answer back.
struct Component;

impl mapping_api::Guest for Component {
    fn map_account(input: wit::AccountInput) -> Result<wit::AccountOutput, wit::MappingError> {
        boundary::call("map-account", input, mapping::map_account)
    }

    fn map_customer(input: wit::CustomerInput) -> Result<wit::CustomerOutput, wit::MappingError> {
        boundary::call("map-customer", input, mapping::map_customer)
    }

    fn map_product(input: wit::ProductInput) -> Result<wit::ItemChange, wit::MappingError> {
        boundary::call("map-product", input, mapping::map_product)
    }

    fn build_invoice(input: wit::InvoiceInput) -> Result<wit::QboInvoice, wit::MappingError> {
        boundary::call("build-invoice", input, mapping::build_invoice)
    }

    fn apply_payment(input: wit::PaymentInput) -> Result<wit::PaymentOutput, wit::MappingError> {
        boundary::call("apply-payment", input, mapping::apply_payment)
    }

    fn build_journal_entry(
        input: wit::JournalInput,
    ) -> Result<wit::QboJournalEntry, wit::MappingError> {
        boundary::call("build-journal-entry", input, mapping::build_journal_entry)
    }

    fn age_invoices(input: wit::AgingInput) -> Result<wit::AgingReport, wit::MappingError> {
        boundary::call("age-invoices", input, mapping::age_invoices)
    }

    fn reconcile(input: wit::ReconcileInput) -> Result<wit::ReconcileReport, wit::MappingError> {
        boundary::call("reconcile", input, mapping::reconcile)
    }
}

#[cfg(target_arch = "wasm32")]
impl flows_api::Guest for Component {
    fn describe() -> Vec<Job> {
        flows::JOBS
            .iter()
            .map(|j| Job {
                name: j.name.into(),
                description: j.description.into(),
                default_schedule: j.default_schedule.map(str::to_string),
            })
            .collect()
    }

    fn status() -> FlowStatus {
        let platform = imports::platform();
        let status = flows::status::read(&platform.as_platform());
        FlowStatus {
            progress: status.progress.map(|p| flows_api::Progress {
                step: p.step,
                done: p.done,
                total: p.total,
            }),
            cursors: status.cursors,
        }
    }

    fn report(kind: ReportKind, period: Option<String>) -> Result<Option<StoredReport>, String> {
        use flows::stored_reports::{self, Stored};
        let platform = imports::platform();
        let kind = match kind {
            ReportKind::Reconcile => stored_reports::ReportKind::Reconcile,
            ReportKind::Aging => stored_reports::ReportKind::Aging,
        };
        let stored = stored_reports::read(&platform.as_platform(), kind, period.as_deref())?;
        Ok(stored.map(|s| match s {
            Stored::Reconcile(r) => StoredReport::Reconcile(r.into()),
            Stored::Aging(r) => StoredReport::Aging(r.into()),
        }))
    }

    fn run_job(name: String, args: String) -> Result<RunReport, FlowError> {
        let platform = imports::platform();
        flows::run_job(&platform.as_platform(), &name, &args)
            .map(|r| run_report(&name, r))
            .map_err(flow_error)
    }

    fn on_webhook(source: String, body: String) -> Result<RunReport, FlowError> {
        let platform = imports::platform();
        flows::on_webhook(&platform.as_platform(), &source, &body)
            .map(|r| run_report(flows::webhook_report_job(&source), r))
            .map_err(flow_error)
    }
}

#[cfg(target_arch = "wasm32")]
fn run_report(job: &str, report: flows::Report) -> RunReport {
    use flows::Kind;
    RunReport {
        job: job.into(),
        created: report.count(Kind::Created),
        updated: report.count(Kind::Updated),
        skipped: report.count(Kind::Skipped),
        failed: report.count(Kind::Failed),
        records: report
            .records
            .into_iter()
            .map(|r| RecordOutcome {
                entity: r.entity,
                record_id: r.record_id,
                outcome: match r.kind {
                    Kind::Created => Outcome::Created,
                    Kind::Updated => Outcome::Updated,
                    Kind::Skipped => Outcome::Skipped,
                    Kind::Failed => Outcome::Failed,
                },
                target_id: r.target_id,
                detail: r.detail,
                code: r.code,
                retryable: r.retryable,
            })
            .collect(),
    }
}

#[cfg(target_arch = "wasm32")]
fn flow_error(e: flows::JobError) -> FlowError {
    match e {
        flows::JobError::NotAvailable(m) => FlowError::NotAvailable(m),
        flows::JobError::InvalidArgs(m) => FlowError::InvalidArgs(m),
        flows::JobError::Throttled(at) => FlowError::Throttled(at),
        flows::JobError::Failed(m) => FlowError::Failed(m),
    }
}

/// The platform over the component's imports: waki for HTTP (and `wasi:http` directly,
/// [`outgoing`], for a request started now and answered later), `wasi:keyvalue`, `wasi:config`
/// and `ledgerlink:sync/schedule`.
#[cfg(target_arch = "wasm32")]
mod imports {
    use super::bindings::ledgerlink::sync::schedule;
    use super::bindings::wasi::config::store as config;
    use super::bindings::wasi::keyvalue::store as kv;
    use crate::platform::{
        Answered, Http, HttpRequest, HttpResponse, KeyValue, Method, Pending, Platform, Scheduler,
        Settings,
    };
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::time::Duration;

    pub struct Imports {
        buckets: RefCell<BTreeMap<String, std::rc::Rc<kv::Bucket>>>,
    }

    pub fn platform() -> Imports {
        Imports {
            buckets: RefCell::default(),
        }
    }

    impl Imports {
        pub fn as_platform(&self) -> Platform<'_> {
            Platform {
                http: self,
                kv: self,
                settings: self,
                schedule: self,
            }
        }

        fn bucket(&self, name: &str) -> Result<std::rc::Rc<kv::Bucket>, String> {
            if let Some(b) = self.buckets.borrow().get(name) {
                return Ok(b.clone());
            }
            let b = std::rc::Rc::new(kv::open(name).map_err(|e| format!("{e:?}"))?);
            self.buckets.borrow_mut().insert(name.into(), b.clone());
            Ok(b)
        }
    }

    impl Http for Imports {
        fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
            let client = waki::Client::new();
            let mut builder = match request.method {
                Method::Get => client.get(&request.url),
                Method::Post => client.post(&request.url),
                Method::Patch => client.patch(&request.url),
                Method::Delete => client.delete(&request.url),
            };
            builder = builder.connect_timeout(Duration::from_secs(30));
            for (name, value) in request.headers {
                builder = builder.header(name, value);
            }
            if let Some(body) = request.body {
                builder = builder.body(body);
            }
            let response = builder.send().map_err(|e| e.to_string())?;
            let status = response.status_code();
            let headers = response
                .headers()
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or_default().to_string(),
                    )
                })
                .collect();
            let body = response.body().map_err(|e| e.to_string())?;
            Ok(HttpResponse {
                status,
                headers,
                body,
            })
        }

        /// waki only sends and waits; a request answered later goes over `wasi:http` directly.
        fn start(&self, request: HttpRequest) -> Box<dyn Pending> {
            match crate::outgoing::start(request) {
                Ok(started) => Box::new(started),
                Err(e) => Box::new(Answered(Err(e))),
            }
        }
    }

    impl KeyValue for Imports {
        fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
            self.bucket(bucket)?.get(key).map_err(|e| format!("{e:?}"))
        }
        fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), String> {
            self.bucket(bucket)?
                .set(key, value)
                .map_err(|e| format!("{e:?}"))
        }
        fn delete(&self, bucket: &str, key: &str) -> Result<(), String> {
            self.bucket(bucket)?
                .delete(key)
                .map_err(|e| format!("{e:?}"))
        }
        fn keys(&self, bucket: &str) -> Result<Vec<String>, String> {
            let b = self.bucket(bucket)?;
            let mut keys = Vec::new();
            let mut cursor = None;
            loop {
                let page = b.list_keys(cursor).map_err(|e| format!("{e:?}"))?;
                keys.extend(page.keys);
                match page.cursor {
                    Some(c) => cursor = Some(c),
                    None => return Ok(keys),
                }
            }
        }
    }

    impl Settings for Imports {
        fn get(&self, key: &str) -> Option<String> {
            config::get(key).ok().flatten()
        }
    }

    impl Scheduler for Imports {
        fn run_later(&self, name: &str, args: &str, at: &str) -> Result<String, String> {
            schedule::run_later(name, args, at)
        }
    }
}

// Exported symbols only in the component: a native cdylib would choke on their `:` and `/`.
#[cfg(target_arch = "wasm32")]
bindings::export!(Component with_types_in bindings);
