//! Random input (issue 13): every parser of the component that reads outside input runs under
//! generated input, seeded from the real payloads in `../shared/fixtures` and the mapping
//! fixtures, then mutated (values replaced, keys dropped, text cut or corrupted): QBO and
//! Salesforce answers, QBO webhook bodies (both formats), decoded Salesforce change events, and
//! the mapping functions' JSON input (`ledgerlink call`). None may panic, and a refusal is an
//! error that says something. The budget is fixed (`PROPTEST_CASES`, 256 cases a property by
//! default) and seeded, so a CI run is bounded and repeatable.

use ledgerlink_plugin::clients::{quickbooks_json as qbo, salesforce_json as sf};
use ledgerlink_plugin::flows::{change_events, triggers};
use ledgerlink_plugin::native;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Field names the parsers look for, so generated objects hit their paths.
const KEYS: [&str; 40] = [
    "Id",
    "Name",
    "Line",
    "Amount",
    "TotalAmt",
    "Balance",
    "CustomerRef",
    "ItemRef",
    "value",
    "name",
    "SalesItemLineDetail",
    "Qty",
    "UnitPrice",
    "DetailType",
    "LinkedTxn",
    "TxnId",
    "TxnType",
    "DocNumber",
    "SyncToken",
    "MetaData",
    "attributes",
    "records",
    "totalSize",
    "done",
    "AccountId",
    "StageName",
    "CloseDate",
    "OpportunityLineItems",
    "Quantity",
    "ChangeEventHeader",
    "recordIds",
    "changeType",
    "entityName",
    "commitUser",
    "eventNotifications",
    "dataChangeEvent",
    "entities",
    "realmId",
    "operation",
    "data",
];

fn fixtures() -> &'static Vec<Value> {
    static ALL: OnceLock<Vec<Value>> = OnceLock::new();
    ALL.get_or_init(|| {
        let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        for dir in [
            crate_dir.join("../../shared/fixtures"),
            crate_dir.join("../tests/fixtures/mapping"),
        ] {
            collect(&dir, &mut files);
        }
        let values: Vec<Value> = files
            .iter()
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .filter_map(|t| serde_json::from_str(&t).ok())
            .collect();
        assert!(
            values.len() > 20,
            "the fixtures were not found ({} files)",
            files.len()
        );
        values
    })
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "json") {
            out.push(path);
        }
    }
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        (-1e12f64..1e12).prop_map(Value::from),
        prop_oneof![
            Just("".to_string()),
            Just("1e400".to_string()),
            Just("-0.000000000000000000000000000001".to_string()),
            Just("79228162514264337593543950336".to_string()),
            Just("2026-02-30".to_string()),
            Just("NaN".to_string()),
            Just("0015e00000AbCdEAAV".to_string()),
            "\\PC{0,24}",
        ]
        .prop_map(Value::String),
    ]
}

fn json() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((prop::sample::select(KEYS.to_vec()), inner), 0..8).prop_map(
                |pairs| Value::Object(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect::<Map<_, _>>()
                )
            ),
        ]
    })
}

/// One change to a document: a value somewhere replaced, a key dropped, an array emptied.
#[derive(Clone, Debug)]
enum Mutation {
    Replace(usize, Value),
    Drop(usize),
    Empty(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), json()).prop_map(|(at, v)| Mutation::Replace(at, v)),
        any::<usize>().prop_map(Mutation::Drop),
        any::<usize>().prop_map(Mutation::Empty),
    ]
}

/// Visits nodes in a fixed order; the `n`-th (modulo the count) gets the mutation.
fn apply(doc: &mut Value, m: &Mutation) {
    fn count(v: &Value) -> usize {
        1 + match v {
            Value::Array(a) => a.iter().map(count).sum(),
            Value::Object(o) => o.values().map(count).sum(),
            _ => 0,
        }
    }
    fn visit(v: &mut Value, target: usize, seen: &mut usize, m: &Mutation) -> bool {
        if *seen == target {
            match m {
                Mutation::Replace(_, new) => *v = new.clone(),
                Mutation::Drop(_) => {
                    if let Value::Object(o) = v {
                        let first = o.keys().next().cloned();
                        if let Some(k) = first {
                            o.remove(&k);
                        }
                    }
                }
                Mutation::Empty(_) => match v {
                    Value::Array(a) => a.clear(),
                    Value::Object(o) => o.clear(),
                    other => *other = Value::Null,
                },
            }
            return true;
        }
        *seen += 1;
        match v {
            Value::Array(a) => a.iter_mut().any(|c| visit(c, target, seen, m)),
            Value::Object(o) => o.values_mut().any(|c| visit(c, target, seen, m)),
            _ => false,
        }
    }
    let at = match m {
        Mutation::Replace(at, _) | Mutation::Drop(at) | Mutation::Empty(at) => *at,
    };
    let target = at % count(doc);
    visit(doc, target, &mut 0, m);
}

/// A fixture changed by up to four mutations, or a generated document.
fn document() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (any::<usize>(), prop::collection::vec(mutation(), 0..4)).prop_map(|(i, ms)| {
            let all = fixtures();
            let mut doc = all[i % all.len()].clone();
            for m in &ms {
                apply(&mut doc, m);
            }
            doc
        }),
        1 => json(),
    ]
}

/// A document as text, sometimes cut short or with a byte changed.
fn text() -> impl Strategy<Value = String> {
    (document(), any::<usize>(), any::<u8>(), 0..3u8).prop_map(|(doc, at, byte, how)| {
        let mut bytes = doc.to_string().into_bytes();
        let at = at % (bytes.len() + 1);
        match how {
            0 => {}
            1 => bytes.truncate(at),
            _ => {
                if at < bytes.len() {
                    bytes[at] = byte;
                }
            }
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    )
}

/// Every element of `v` and `v` itself: the parsers take a record or a page of them.
fn with_children(v: &Value) -> Vec<&Value> {
    let mut out = vec![v];
    match v {
        Value::Array(a) => out.extend(a.iter()),
        Value::Object(o) => out.extend(o.values()),
        _ => {}
    }
    out
}

#[test]
fn api_answers_never_panic_the_record_parsers() {
    runner()
        .run(&document(), |doc| {
            for v in with_children(&doc) {
                let _ = qbo::customer(v);
                let _ = qbo::item(v);
                let _ = qbo::invoice_view(v);
                let _ = qbo::payment(v, false);
                let _ = qbo::payment(v, true);
                let _ = qbo::amount(v);
                let _ = qbo::reference(v, "CustomerRef");
                let _ = sf::account(v);
                let _ = sf::product(v);
                if let Err(e) = sf::opportunity(v) {
                    prop_assert!(!e.trim().is_empty());
                }
                if let Err(e) = sf::order(v) {
                    prop_assert!(!e.trim().is_empty());
                }
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn webhook_and_change_event_bodies_are_parsed_or_refused_with_a_reason() {
    runner()
        .run(&text(), |body| {
            if let Err(e) = triggers::parse_webhook(&body) {
                prop_assert!(!e.trim().is_empty());
            }
            if let Err(e) = change_events::parse_events(&body) {
                prop_assert!(!e.trim().is_empty());
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn the_mapping_functions_refuse_bad_input_with_a_reason() {
    runner()
        .run(
            &(prop::sample::select(native::FUNCTIONS.to_vec()), document()),
            |(function, input)| {
                match native::call_json(function, &input) {
                    // A refusal from the function itself names what is wrong.
                    Ok(answer) => {
                        if let Some(err) = answer.get("err") {
                            prop_assert!(!err.to_string().trim().is_empty());
                        }
                    }
                    Err(e) => prop_assert!(!e.trim().is_empty(), "{function}: empty error"),
                }
                Ok(())
            },
        )
        .unwrap();
}
