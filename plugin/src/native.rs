//! The mapping functions by their WIT names with WIT-shaped JSON in and out, for native callers:
//! the benchmarks' native baseline and the tests that compare the component with native code.
//! The JSON is the same the host's dynamic calls produce: `{"ok": ..}` or `{"err": ..}`.

use crate::mapping;
use serde::{de::DeserializeOwned, Serialize};
use serde_json::{json, Value};

fn run<I: DeserializeOwned, O: Serialize>(
    input: &Value,
    f: impl Fn(&I) -> Result<O, crate::model::MappingError>,
) -> Result<Value, String> {
    let input: I = serde_json::from_value(input.clone()).map_err(|e| format!("input: {e}"))?;
    let out = match f(&input) {
        Ok(ok) => json!({ "ok": ok }),
        Err(err) => json!({ "err": err }),
    };
    Ok(out)
}

/// The mapping functions [`call_json`] takes, by their WIT names.
pub const FUNCTIONS: [&str; 8] = [
    "map-account",
    "map-customer",
    "map-product",
    "build-invoice",
    "apply-payment",
    "build-journal-entry",
    "age-invoices",
    "reconcile",
];

/// Calls the mapping function named `function` (e.g. `build-invoice`) on `input`.
pub fn call_json(function: &str, input: &Value) -> Result<Value, String> {
    match function {
        "map-account" => run(input, mapping::map_account),
        "map-customer" => run(input, mapping::map_customer),
        "map-product" => run(input, mapping::map_product),
        "build-invoice" => run(input, mapping::build_invoice),
        "apply-payment" => run(input, mapping::apply_payment),
        "build-journal-entry" => run(input, mapping::build_journal_entry),
        "age-invoices" => run(input, mapping::age_invoices),
        "reconcile" => run(input, mapping::reconcile),
        other => Err(format!("unknown function {other:?}")),
    }
}
