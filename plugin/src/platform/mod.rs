//! What the flows need from the world, as traits: outgoing HTTP to the named connections,
//! key-value state, tenant settings and delayed jobs. `lib.rs` implements them over the WIT
//! imports; [`memory`] implements them in memory for native tests of the flows. Nothing else in
//! the flows touches I/O.

#[cfg(not(target_arch = "wasm32"))]
pub mod memory;

/// An HTTP method the clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

/// One outgoing request to `http://quickbooks/...`, `http://salesforce/...` or `http://notify/`.
#[derive(Clone, Debug)]
pub struct HttpRequest {
    /// The method.
    pub method: Method,
    /// The full guest URL (the host rewrites the authority to the tenant's endpoint).
    pub url: String,
    /// Extra headers; names are fixed by the clients.
    pub headers: Vec<(&'static str, String)>,
    /// The body, if any.
    pub body: Option<Vec<u8>>,
}

/// The answer.
#[derive(Clone, Debug)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A header's value by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Outgoing HTTP.
pub trait Http {
    /// Sends one request; `Err` is a transport failure (refused destination, connection reset).
    fn send(&self, request: HttpRequest) -> Result<HttpResponse, String>;

    /// Sends one request without waiting for its answer, which [`Pending::wait`] takes: the
    /// host sends (and paces) it on its own while the run does other work. By default the
    /// answer is there before this returns (the in-memory platform).
    fn start(&self, request: HttpRequest) -> Box<dyn Pending> {
        Box::new(Answered(self.send(request)))
    }
}

/// A request [`Http::start`] sent whose answer was not taken yet.
pub trait Pending {
    /// Waits for the answer.
    fn wait(self: Box<Self>) -> Result<HttpResponse, String>;
}

/// An answer that was there at once.
pub struct Answered(pub Result<HttpResponse, String>);

impl Pending for Answered {
    fn wait(self: Box<Self>) -> Result<HttpResponse, String> {
        self.0
    }
}

/// Durable key-value state, namespaced per tenant by the host.
pub trait KeyValue {
    /// The value of `key` in `bucket`.
    fn get(&self, bucket: &str, key: &str) -> Result<Option<Vec<u8>>, String>;
    /// Stores a value.
    fn set(&self, bucket: &str, key: &str, value: &[u8]) -> Result<(), String>;
    /// Removes a value.
    fn delete(&self, bucket: &str, key: &str) -> Result<(), String>;
    /// Every key of `bucket`.
    fn keys(&self, bucket: &str) -> Result<Vec<String>, String>;
}

/// Tenant settings.
pub trait Settings {
    /// A setting's value.
    fn get(&self, key: &str) -> Option<String>;

    /// A setting's value trimmed; `None` when it is missing or blank (a blank setting means
    /// "use the default", never an empty value).
    fn value(&self, key: &str) -> Option<String> {
        self.get(key)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    }
}

/// Delayed jobs.
pub trait Scheduler {
    /// Runs job `name` with JSON `args` at or after `at` (RFC 3339).
    fn run_later(&self, name: &str, args: &str, at: &str) -> Result<String, String>;
}

/// Everything a flow may reach.
pub struct Platform<'a> {
    /// Outgoing HTTP.
    pub http: &'a dyn Http,
    /// State.
    pub kv: &'a dyn KeyValue,
    /// Settings.
    pub settings: &'a dyn Settings,
    /// Delayed jobs.
    pub schedule: &'a dyn Scheduler,
}
