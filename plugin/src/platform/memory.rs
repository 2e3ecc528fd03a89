//! The platform in memory, for native tests of the flows without a host or a network: state in a
//! map, settings from pairs, a scheduler that records what it is asked, and HTTP answered by a
//! function of the request (a scripted QBO or Salesforce), every request kept in order.

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

/// HTTP answered by a function; every request is kept.
pub struct ScriptedHttp {
    answer: Answer,
    requests: RefCell<Vec<HttpRequest>>,
}

impl ScriptedHttp {
    /// A server answering with `answer`.
    pub fn new(answer: impl Fn(&HttpRequest) -> HttpResponse + 'static) -> Self {
        Self {
            answer: Box::new(answer),
            requests: RefCell::default(),
        }
    }

    /// The requests so far, as `METHOD url` lines.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .borrow()
            .iter()
            .map(|r| format!("{:?} {}", r.method, r.url))
            .collect()
    }

    /// How many requests of `method` went to a URL containing `path`.
    pub fn count(&self, method: Method, path: &str) -> usize {
        self.requests
            .borrow()
            .iter()
            .filter(|r| r.method == method && r.url.contains(path))
            .count()
    }
}

impl Http for ScriptedHttp {
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String> {
        let response = (self.answer)(&request);
        self.requests.borrow_mut().push(request);
        Ok(response)
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
