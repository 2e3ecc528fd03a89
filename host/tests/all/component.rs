//! The real component, built for `wasm32-wasip2` and embedded by `build.rs`, called through
//! wasmtime: every mapping fixture must give the same JSON in the component as natively.

use ledgerlink::runtime::{Limits, Runtime};
use ledgerlink::tenant::TenantCaps;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| Runtime::embedded(Limits::default()).expect("load the embedded component"))
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn call(function: &str, input: &Value) -> anyhow::Result<Value> {
    block_on(runtime().call_json(&TenantCaps::ephemeral("test").unwrap(), function, input))
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/mapping")
}

fn fixtures() -> Vec<(String, PathBuf, Value)> {
    let mut all = Vec::new();
    for function in runtime().mapping_functions() {
        let dir = fixtures_dir().join(&function);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let text = std::fs::read_to_string(&path).unwrap();
            let value: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            all.push((function.clone(), path, value));
        }
    }
    all
}

#[test]
fn every_fixture_gives_the_same_json_in_the_component_as_natively() {
    let fixtures = fixtures();
    assert!(
        fixtures.len() >= 8,
        "expected fixtures for every mapping function, found {}",
        fixtures.len()
    );
    for (function, path, fixture) in fixtures {
        let input = &fixture["input"];
        let wasm = call(&function, input).unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
        let native = ledgerlink_plugin::native::call_json(&function, input)
            .unwrap_or_else(|e| panic!("{}: native {e}", path.display()));
        assert_eq!(
            wasm,
            native,
            "{}: component and native disagree",
            path.display()
        );
        match fixture.get("expect").and_then(Value::as_str) {
            Some("ok") => assert!(
                wasm.get("ok").is_some(),
                "{}: expected ok, got {wasm}",
                path.display()
            ),
            Some("error") => assert!(
                wasm.get("err").is_some(),
                "{}: expected an error, got {wasm}",
                path.display()
            ),
            _ => {}
        }
    }
}

fn an_invoice_input() -> Value {
    let path = fixtures_dir().join("build-invoice/lines-1.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["input"].clone()
}

#[test]
fn an_invalid_decimal_is_a_typed_error_naming_the_record_and_field() {
    let mut input = an_invoice_input();
    input["opportunity"]["line-items"][0]["quantity"] = json!("12,5");
    input["opportunity"]["close-date"] = json!("31/01/2024");
    let out = call("build-invoice", &input).unwrap();
    let err = &out["err"];
    assert_eq!(err["kind"], "invalid-input", "{out}");
    let fields: Vec<&str> = err["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.iter().any(|f| f.ends_with("line-items[0].quantity")),
        "{fields:?}"
    );
    assert!(
        fields.iter().any(|f| f.ends_with("close-date")),
        "{fields:?}"
    );
    let record = err["errors"][0]["record-id"].as_str().unwrap();
    assert!(record.starts_with("Opportunity "), "{record}");
}

#[test]
fn an_unknown_function_is_refused_with_the_list_of_functions() {
    let err = call("make-coffee", &json!({})).unwrap_err().to_string();
    assert!(
        err.contains("unknown function") && err.contains("build-invoice"),
        "{err}"
    );
}

#[test]
fn ill_typed_json_names_the_path() {
    let mut input = an_invoice_input();
    input["opportunity"]["is-won"] = json!("yes");
    let err = format!("{:#}", call("build-invoice", &input).unwrap_err());
    assert!(
        err.contains("opportunity.is-won") && err.contains("boolean"),
        "{err}"
    );
    let mut input = an_invoice_input();
    input["opportunity"]
        .as_object_mut()
        .unwrap()
        .remove("stage-name");
    let err = format!("{:#}", call("build-invoice", &input).unwrap_err());
    assert!(
        err.contains("opportunity.stage-name") && err.contains("missing"),
        "{err}"
    );
}

#[test]
fn flows_describe_their_jobs_and_refuse_bad_calls_by_name() {
    use ledgerlink::runtime::exports::ledgerlink::sync::flows::FlowError;
    block_on(async {
        let rt = runtime();
        let tenant = TenantCaps::ephemeral("t").unwrap();
        let jobs = ledgerlink::flow_calls::describe(rt, &tenant).await.unwrap();
        let poll = jobs.iter().find(|j| j.name == "poll").expect("a poll job");
        assert_eq!(poll.default_schedule.as_deref(), Some("0 */5 * * * *"));
        assert!(jobs
            .iter()
            .any(|j| j.name == "reconcile" && j.default_schedule.is_some()));

        let run = |name: &'static str, args: &'static str| {
            let (rt, tenant) = (rt.clone(), tenant.clone());
            async move {
                ledgerlink::flow_calls::run_job(&rt, &tenant, name, args)
                    .await
                    .unwrap()
            }
        };
        match run("no-such-job", "{}").await {
            Err(FlowError::NotAvailable(m)) => assert!(m.contains("backfill"), "{m}"),
            other => panic!("{other:?}"),
        }
        match run("backfill", "{\"olny\": []}").await {
            Err(FlowError::InvalidArgs(m)) => assert!(m.contains("olny"), "{m}"),
            other => panic!("{other:?}"),
        }
        // No realm configured: the job says which setting is missing.
        match run("backfill", "{}").await {
            Err(FlowError::Failed(m)) => assert!(m.contains("realm-id"), "{m}"),
            other => panic!("{other:?}"),
        }
        let hook = ledgerlink::flow_calls::on_webhook(rt, &tenant, "quickbooks", "{not json")
            .await
            .unwrap();
        assert!(
            matches!(hook, Err(FlowError::InvalidArgs(ref m)) if m.contains("not JSON")),
            "{hook:?}"
        );
    });
}

#[test]
fn the_cli_calls_a_function_and_exits_by_outcome() {
    let bin = crate::support::BIN;
    let fixture = fixtures_dir().join("build-invoice/lines-20.json");
    let ok = std::process::Command::new(bin)
        .args(["call", "build-invoice", "--compact", "--input"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let out: Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(out["ok"]["lines"].as_array().unwrap().len(), 20);

    let unknown = std::process::Command::new(bin)
        .args(["call", "nope", "--input"])
        .arg(&fixture)
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("unknown function"));

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let invalid = std::process::Command::new(bin)
        .args(["call", "build-invoice", "--input"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(invalid.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("not valid JSON"));
}

/// The function names of `interface mapping` in the WIT text, in declaration order.
fn wit_mapping_functions() -> Vec<String> {
    let wit = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../wit/ledgerlink.wit"),
    )
    .expect("read the WIT");
    let start = wit.find("interface mapping {").expect("interface mapping");
    let body = &wit[start..];
    let body = &body[..body.find("\n}").expect("the interface's end")];
    body.lines()
        .filter_map(|l| l.trim().split_once(": func("))
        .map(|(name, _)| name.to_string())
        .collect()
}

#[test]
fn the_mapping_functions_are_one_list_in_the_wit_the_component_native_code_and_fixtures() {
    let wit = wit_mapping_functions();
    assert_eq!(wit.len(), 8, "{wit:?}");
    // The host reads the list from the component; the native table and the fixtures (which
    // the n8n node's operations are checked against) must name the same functions.
    assert_eq!(runtime().mapping_functions(), wit);
    assert_eq!(ledgerlink_plugin::native::FUNCTIONS.to_vec(), wit);
    let mut dirs: Vec<String> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    let mut sorted = wit.clone();
    sorted.sort();
    assert_eq!(dirs, sorted, "one fixture folder per mapping function");
}
