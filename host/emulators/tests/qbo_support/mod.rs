//! Shared helpers of the QBO emulator integration tests: start an emulator, call it with a bearer
//! token, read the shared fixtures.
#![allow(dead_code)]

use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use ledgerlink_emulators::RunningServer;
use serde_json::Value;
use std::path::PathBuf;

/// A running emulator plus a client holding a valid token for its first realm.
pub struct Qbo {
    pub emu: QboEmulator,
    pub server: RunningServer,
    pub realm: String,
    pub token: String,
    pub refresh_token: String,
    pub http: reqwest::blocking::Client,
}

/// The default config with throttling off (tests make many calls a second).
pub fn config() -> QboConfig {
    let mut config = QboConfig::default();
    config.rate_limits.enabled = false;
    config
}

impl Qbo {
    pub fn start() -> Self {
        Self::start_with(config())
    }

    pub fn start_with(config: QboConfig) -> Self {
        let realm = config.realms[0].clone();
        let (emu, server) = QboEmulator::start(config, 0).expect("emulator starts");
        let tokens = emu.issue_tokens(&realm);
        let http = reqwest::blocking::Client::builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            emu,
            server,
            realm,
            token: tokens.access_token,
            refresh_token: tokens.refresh_token,
            http,
        }
    }

    pub fn base(&self) -> String {
        self.server.url()
    }

    /// `{url}/v3/company/{realm}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/v3/company/{}/{}", self.server.url(), self.realm, path)
    }

    fn finish(resp: reqwest::blocking::Response) -> (u16, Value) {
        let status = resp.status().as_u16();
        let text = resp.text().expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, value)
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .expect("request");
        Self::finish(resp)
    }

    pub fn post_raw(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::blocking::Body>,
    ) -> (u16, Value) {
        let resp = self
            .http
            .post(self.url(path))
            .bearer_auth(&self.token)
            .header("Content-Type", content_type)
            .body(body)
            .send()
            .expect("request");
        Self::finish(resp)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url(path))
            .bearer_auth(&self.token)
            .header("Accept", "application/json")
            .send()
            .expect("request");
        Self::finish(resp)
    }

    /// A GET query; the answer's QueryResponse.
    pub fn query(&self, sql: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.url("query"))
            .query(&[("query", sql), ("minorversion", "75")])
            .bearer_auth(&self.token)
            .send()
            .expect("request");
        Self::finish(resp)
    }

    /// Creates an object and returns it (panics on a Fault).
    pub fn create(&self, entity: &str, body: Value) -> Value {
        let (status, resp) = self.post(&entity.to_ascii_lowercase(), &body);
        assert_eq!(status, 200, "create {entity}: {resp}");
        resp[entity].clone()
    }

    pub fn customer(&self, name: &str) -> Value {
        self.create("Customer", serde_json::json!({"DisplayName": name}))
    }

    /// An invoice for `customer` with one line per amount.
    pub fn invoice(&self, customer: &Value, amounts: &[&str]) -> Value {
        let lines: Vec<Value> = amounts
            .iter()
            .map(|a| serde_json::json!({"Amount": a.parse::<f64>().unwrap(), "DetailType": "SalesItemLineDetail",
                                         "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}))
            .collect();
        self.create(
            "Invoice",
            serde_json::json!({"CustomerRef": {"value": customer["Id"]}, "Line": lines}),
        )
    }
}

/// A file under `/work/shared/fixtures` (found from the crate directory).
pub fn fixture_path(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/fixtures")
        .join(rel)
}

pub fn fixture(rel: &str) -> Value {
    let path = fixture_path(rel);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).expect("fixture JSON")
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.') {
        cur = match part.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(part)?,
        };
    }
    Some(cur)
}

/// Each dotted path exists in both documents with the same JSON kind.
pub fn assert_same_shape(actual: &Value, fixture: &Value, paths: &[&str]) {
    for path in paths {
        let f = at(fixture, path).unwrap_or_else(|| panic!("fixture lacks {path}"));
        let a = at(actual, path).unwrap_or_else(|| panic!("response lacks {path}: {actual}"));
        assert_eq!(kind(a), kind(f), "{path}: response {a} vs fixture {f}");
    }
}

/// The keys of an object, sorted.
pub fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}
