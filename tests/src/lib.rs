//! End-to-end tests: the real component in the real host against the emulators. Shared here:
//! starting a local company and running a job on it.

use ledgerlink::db::Database;
use ledgerlink::emulated_company::{LocalCompany, LocalOptions};
use ledgerlink::flow_calls::{self, FlowResult};
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink_emulators::qbo::{QboConfig, RateLimits};
use ledgerlink_emulators::seed::SeedSpec;
use serde_json::Value;
use std::ops::{Deref, DerefMut};
use std::sync::OnceLock;

pub mod documented_paths;

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
pub fn company(options: LocalOptions) -> (Company, Database) {
    let db = Database::in_memory().expect("db");
    let c = LocalCompany::start(options, &db).expect("start the local company");
    (Company(c), db)
}

/// A local company whose emulators' request logs are checked, when the test is done with it,
/// for any path the real APIs do not have ([`documented_paths`]).
pub struct Company(pub LocalCompany);

impl Deref for Company {
    type Target = LocalCompany;
    fn deref(&self) -> &LocalCompany {
        &self.0
    }
}

impl DerefMut for Company {
    fn deref_mut(&mut self) -> &mut LocalCompany {
        &mut self.0
    }
}

impl Drop for Company {
    fn drop(&mut self) {
        if std::thread::panicking() {
            return;
        }
        let undocumented =
            documented_paths::undocumented(&self.0.sf.log().entries(), &self.0.qbo.log().entries());
        assert!(
            undocumented.is_empty(),
            "the component called paths the real APIs do not have: {undocumented:#?}"
        );
    }
}

/// Runs a job and returns the guest's answer.
pub fn run(c: &LocalCompany, job: &str, args: Value) -> FlowResult {
    block_on(flow_calls::run_job(
        &runtime(),
        &c.tenant,
        job,
        &args.to_string(),
    ))
    .expect("the call traps")
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

/// A small seeded company with QBO throttling off (pacing is tested on its own).
pub fn small() -> LocalOptions {
    LocalOptions {
        seed: SeedSpec {
            accounts: 6,
            products: 5,
            opportunities: 12,
            closed_won_fraction: 0.5,
            lines_per_opportunity: 2,
            orders: 4,
            seed: 7,
        },
        qbo: QboConfig {
            rate_limits: RateLimits {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        },
        ..LocalOptions::default()
    }
}

/// A decimal from a JSON number or string.
pub fn money(v: &Value) -> rust_decimal::Decimal {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.parse()
        .unwrap_or_else(|_| panic!("{v} is not an amount"))
}

/// A legacy QBO webhook body naming one entity.
pub fn webhook(realm: &str, entity: &str, id: &str, operation: &str) -> String {
    serde_json::json!({"eventNotifications": [{"realmId": realm, "dataChangeEvent": {"entities": [
        {"name": entity, "id": id, "operation": operation, "lastUpdated": "2026-01-01T00:00:00.000Z"}]}}]})
    .to_string()
}

/// Hands a webhook body to the component.
pub fn on_webhook(c: &LocalCompany, body: &str) -> RunReport {
    match block_on(flow_calls::on_webhook(
        &runtime(),
        &c.tenant,
        "quickbooks",
        body,
    ))
    .expect("trap")
    {
        Ok(r) => r,
        Err(e) => panic!("on-webhook failed as a whole: {e:?}"),
    }
}

/// Hands decoded Salesforce change events (a JSON array) to the component.
pub fn on_change_events(c: &LocalCompany, events: &Value) -> FlowResult {
    block_on(flow_calls::on_webhook(
        &runtime(),
        &c.tenant,
        "salesforce",
        &events.to_string(),
    ))
    .expect("trap")
}

/// A JSON value the component stored in the tenant's key-value state.
pub fn stored(c: &LocalCompany, bucket: &str, key: &str) -> Option<Value> {
    c.tenant
        .storage
        .get(&c.tenant.id, bucket, key)
        .expect("storage")
        .map(|b| serde_json::from_slice(&b).expect("stored JSON"))
}

/// A JSON number from a decimal's text, never through a float.
pub fn number(d: rust_decimal::Decimal) -> Value {
    serde_json::from_str(&d.to_string()).expect("a decimal is a JSON number")
}

/// The first Closed Won opportunity that was invoiced, and its QBO invoice.
pub fn invoiced_opportunity(c: &LocalCompany) -> (Value, Value) {
    let opp =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == serde_json::json!(true) && o["QBO_Invoice_Id__c"].is_string())
            .expect("an invoiced opportunity");
    let invoice = qbo_invoice(c, opp["QBO_Invoice_Id__c"].as_str().unwrap_or_default());
    (opp, invoice)
}

/// The QBO invoice with Id `id`.
pub fn qbo_invoice(c: &LocalCompany, id: &str) -> Value {
    c.qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .find(|i| i["Id"] == serde_json::json!(id))
        .unwrap_or_else(|| panic!("no invoice {id}"))
}

/// Records in QBO a payment of `amount` on `invoice` (no webhook is sent); returns it.
pub fn pay(c: &LocalCompany, invoice: &Value, amount: rust_decimal::Decimal) -> Value {
    c.qbo
        .insert(
            &c.realm,
            "Payment",
            serde_json::json!({"CustomerRef": invoice["CustomerRef"], "TotalAmt": number(amount),
                   "Line": [{"Amount": number(amount),
                             "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}]}),
        )
        .expect("payment recorded")
}
