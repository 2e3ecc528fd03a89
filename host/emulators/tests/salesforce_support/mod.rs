//! Shared helpers for the Salesforce emulator integration tests: start an emulator on an
//! ephemeral port, call it with a blocking reqwest client, read the shared fixtures.
#![allow(dead_code)]

use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
use ledgerlink_emulators::RunningServer;
use reqwest::blocking::Client;
use reqwest::Method;
use serde_json::Value;
use std::collections::BTreeSet;

pub const V: &str = "/services/data/v61.0";

pub struct Sf {
    pub emu: SalesforceEmulator,
    pub server: RunningServer,
    pub token: String,
    pub client: Client,
}

pub struct Resp {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    }

    pub fn error_code(&self) -> String {
        self.body[0]["errorCode"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }
}

impl Sf {
    pub fn start() -> Self {
        Self::with(SalesforceConfig::default())
    }

    pub fn with(config: SalesforceConfig) -> Self {
        let (emu, server) = SalesforceEmulator::start(config, 0).expect("start emulator");
        let token = emu.issue_token();
        Sf {
            emu,
            server,
            token,
            client: Client::new(),
        }
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with('/') {
            format!("{}{path}", self.server.url())
        } else {
            format!("{}{V}/{path}", self.server.url())
        }
    }

    pub fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Resp {
        let mut req = self
            .client
            .request(method, self.url(path))
            .bearer_auth(&self.token);
        if let Some(b) = body {
            req = req
                .header("Content-Type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().expect("request");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            body,
            headers,
        }
    }

    pub fn get(&self, path: &str) -> Resp {
        self.call(Method::GET, path, None)
    }

    pub fn post(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::POST, path, Some(body))
    }

    pub fn patch(&self, path: &str, body: &Value) -> Resp {
        self.call(Method::PATCH, path, Some(body))
    }

    pub fn delete(&self, path: &str) -> Resp {
        self.call(Method::DELETE, path, None)
    }

    pub fn query(&self, soql: &str) -> Resp {
        let url = format!(
            "query?q={}",
            url::form_urlencoded::byte_serialize(soql.as_bytes()).collect::<String>()
        );
        self.get(&url)
    }

    /// Creates a record over the API and returns its id.
    pub fn create(&self, sobject: &str, body: Value) -> String {
        let r = self.post(&format!("sobjects/{sobject}/"), &body);
        assert_eq!(r.status, 201, "{sobject} create: {}", r.body);
        r.body["id"].as_str().unwrap().to_string()
    }

    /// A product with an active standard price; returns (product id, pricebook entry id).
    pub fn product(&self, name: &str, price: f64) -> (String, String) {
        let product = self.create("Product2", serde_json::json!({"Name": name, "ProductCode": format!("{name}-code"), "IsActive": true}));
        let pbe = self.create(
            "PricebookEntry",
            serde_json::json!({"Pricebook2Id": self.emu.standard_pricebook_id(), "Product2Id": product, "UnitPrice": price, "IsActive": true}),
        );
        (product, pbe)
    }
}

pub fn fixture(name: &str) -> Value {
    let path = format!(
        "{}/../../../shared/fixtures/salesforce/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

pub fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default()
}
