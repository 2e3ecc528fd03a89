//! The platform in memory, for native tests of the flows without a host or a network: state in a
//! map, settings from pairs, a scheduler that records what it is asked, and HTTP answered by a
//! function of the request (a scripted QBO or Salesforce), every request kept in order.
//! [`Routes`] scripts such a function by method and URL fragment, answering anything else with
//! [`UNSCRIPTED`], so that a test names every call its flow makes.

use super::{Http, HttpRequest, HttpResponse, KeyValue, Method, Platform, Scheduler, Settings};
use std::cell::RefCell;
use std::collections::BTreeMap;

/// Key-value state in a map.
#[derive(Default)]
pub struct MemoryKv(RefCell<BTreeMap<(String, String), Vec<u8>>>);

impl KeyValue for MemoryKv {
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, String> {
        Ok(self
            .0
            .borrow()
            .get(&(bucket.to_string(), key.to_string()))
            .cloned())
    }

    fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), String> {
        self.0
            .borrow_mut()
            .insert((bucket.to_string(), key.to_string()), value.to_vec());
        Ok(())
    }

    fn delete(&self, bucket: &str, key: &str) -> Result<(), String> {
        self.0
            .borrow_mut()
            .remove(&(bucket.to_string(), key.to_string()));
        Ok(())
    }

    fn keys(&self, bucket: &str) -> Result<Vec<String>, String> {
        Ok(self
            .0
            .borrow()
            .keys()
            .filter(|(b, _)| b == bucket)
            .map(|(_, k)| k.clone())
            .collect())
    }
}

/// Settings from pairs.
#[derive(Default)]
pub struct MemorySettings(pub BTreeMap<String, String>);

impl Settings for MemorySettings {
    fn get(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }
}

/// A scheduler that records each `run_later` as (job, args, at).
#[derive(Default)]
pub struct RecordingScheduler(pub RefCell<Vec<(String, String, String)>>);

impl Scheduler for RecordingScheduler {
    fn run_later(&self, name: &str, args: &str, at: &str) -> Result<String, String> {
        let mut runs = self.0.borrow_mut();
        runs.push((name.to_string(), args.to_string(), at.to_string()));
        Ok(runs.len().to_string())
    }
}

/// What a scripted server answers to one request.
pub type Answer = Box<dyn Fn(&HttpRequest) -> HttpResponse>;

/// HTTP answered by a function; every request is kept, with the status it was answered with.
pub struct ScriptedHttp {
    answer: Answer,
    requests: RefCell<Vec<(HttpRequest, u16)>>,
}

impl ScriptedHttp {
    /// A server answering with `answer`.
    pub fn new(answer: impl Fn(&HttpRequest) -> HttpResponse + 'static) -> Self {
        Self {
            answer: Box::new(answer),
            requests: RefCell::default(),
        }
    }

    /// The requests so far, as `METHOD url` lines (the URL percent-decoded, so that SOQL and
    /// QBO queries read as written).
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .borrow()
            .iter()
            .map(|(r, _)| format!("{:?} {}", r.method, decoded(&r.url)))
            .collect()
    }

    /// How many requests of `method` went to a URL containing `path` (percent-decoded).
    pub fn count(&self, method: Method, path: &str) -> usize {
        self.bodies(method, path).len()
    }

    /// The JSON bodies (`Null` when none) of the requests of `method` whose percent-decoded URL
    /// contains `fragment`, in order: what a flow wrote.
    pub fn bodies(&self, method: Method, fragment: &str) -> Vec<serde_json::Value> {
        self.requests
            .borrow()
            .iter()
            .filter(|(r, _)| r.method == method && decoded(&r.url).contains(fragment))
            .map(|(r, _)| {
                r.body
                    .as_deref()
                    .and_then(|b| serde_json::from_slice(b).ok())
                    .unwrap_or_default()
            })
            .collect()
    }

    /// The requests answered with [`UNSCRIPTED`], as [`Self::requests`] lines: calls the test
    /// did not expect.
    pub fn unscripted(&self) -> Vec<String> {
        self.requests
            .borrow()
            .iter()
            .filter(|(_, status)| *status == UNSCRIPTED)
            .map(|(r, _)| format!("{:?} {}", r.method, decoded(&r.url)))
            .collect()
    }
}

impl Http for ScriptedHttp {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let response = (self.answer)(&request);
        self.requests.borrow_mut().push((request, response.status));
        Ok(response)
    }
}

/// `url` with its `%XX` escapes decoded (the clients encode query values and ids that way).
pub fn decoded(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The status [`Routes`] answers a request no route matches with. No API answers it, so the
/// flow reports the call as failed and [`ScriptedHttp::unscripted`] lists it.
pub const UNSCRIPTED: u16 = 599;

/// A scripted server as routes: a request is answered by the first route whose method is the
/// request's and whose fragment is in its percent-decoded URL (`"FROM Account"`, `"select *
/// from Item"`, `"/batch"`); any other request gets [`UNSCRIPTED`], with the request named in
/// the error shape of the API it was meant for, so the report says what was not scripted.
#[derive(Default)]
pub struct Routes(Vec<(Method, String, Answer)>);

impl Routes {
    /// No routes yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Answers requests of `method` whose decoded URL contains `fragment` with `answer`.
    pub fn on(
        mut self,
        method: Method,
        fragment: &str,
        answer: impl Fn(&HttpRequest) -> HttpResponse + 'static,
    ) -> Self {
        self.0
            .push((method, fragment.to_string(), Box::new(answer)));
        self
    }

    /// Answers requests of `method` whose decoded URL contains `fragment` with `body`, always.
    pub fn json(
        self,
        method: Method,
        fragment: &str,
        status: u16,
        body: serde_json::Value,
    ) -> Self {
        self.on(method, fragment, move |_| json(status, body.clone()))
    }

    /// The answer to `request`.
    pub fn answer(&self, request: &HttpRequest) -> HttpResponse {
        let url = decoded(&request.url);
        if let Some((_, _, answer)) = self
            .0
            .iter()
            .find(|(method, fragment, _)| *method == request.method && url.contains(fragment))
        {
            return answer(request);
        }
        let what = format!("unscripted request: {:?} {url}", request.method);
        // QBO's fault shape, Salesforce's error list: both clients then report the request.
        let body = if url.starts_with("http://quickbooks/") {
            serde_json::json!({"Fault": {"Error": [{"Message": what, "code": "unscripted"}],
                "type": "ValidationFault"}})
        } else {
            serde_json::json!([{"message": what, "errorCode": "UNSCRIPTED"}])
        };
        json(UNSCRIPTED, body)
    }
}

/// A JSON answer.
pub fn json(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.to_string().into_bytes(),
    }
}

/// Everything a flow reaches, in memory.
pub struct MemoryPlatform {
    /// HTTP.
    pub http: ScriptedHttp,
    /// State.
    pub kv: MemoryKv,
    /// Settings.
    pub settings: MemorySettings,
    /// Delayed jobs.
    pub schedule: RecordingScheduler,
}

impl MemoryPlatform {
    /// A tenant of realm `realm` whose APIs answer with `answer`.
    pub fn new(realm: &str, answer: impl Fn(&HttpRequest) -> HttpResponse + 'static) -> Self {
        Self {
            http: ScriptedHttp::new(answer),
            kv: MemoryKv::default(),
            settings: MemorySettings(BTreeMap::from([(
                "realm-id".to_string(),
                realm.to_string(),
            )])),
            schedule: RecordingScheduler::default(),
        }
    }

    /// A tenant of realm `realm` whose APIs answer by `routes`.
    pub fn routed(realm: &str, routes: Routes) -> Self {
        Self::new(realm, move |request| routes.answer(request))
    }

    /// The same tenant (state, settings, delayed jobs) whose APIs now answer by `routes`, with
    /// no request recorded yet: the next run, against the APIs as the last one left them.
    pub fn rerouted(self, routes: Routes) -> Self {
        Self {
            http: ScriptedHttp::new(move |request| routes.answer(request)),
            ..self
        }
    }

    /// The platform the flows take.
    pub fn platform(&self) -> Platform<'_> {
        Platform {
            http: &self.http,
            kv: &self.kv,
            settings: &self.settings,
            schedule: &self.schedule,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clients::{Quickbooks, Salesforce};

    #[test]
    fn routes_match_decoded_urls_and_name_every_unscripted_request_in_the_apis_error_shape() {
        let platform = MemoryPlatform::routed(
            "1",
            Routes::new().json(
                Method::Get,
                "select * from Item",
                200,
                serde_json::json!({"QueryResponse": {}}),
            ),
        );
        let qbo = Quickbooks::new(&platform.http, "1");
        assert!(qbo.query("select * from Item").unwrap().is_empty());
        let e = qbo.query("select * from Vendor").unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().contains("from Vendor")),
            ("unscripted".into(), true)
        );
        let e = Salesforce::new(&platform.http)
            .query("SELECT Id FROM Account")
            .unwrap_err();
        assert_eq!(e.code(), "UNSCRIPTED");
        assert!(e.to_string().contains("SELECT Id FROM Account"), "{e}");
        let unscripted = platform.http.unscripted();
        assert_eq!(unscripted.len(), 2, "{unscripted:?}");
        assert!(unscripted[1].starts_with(
            "Get http://salesforce/services/data/v61.0/query?q=SELECT Id FROM Account"
        ));
        assert_eq!(platform.http.count(Method::Get, "select * from"), 2);
    }
}
