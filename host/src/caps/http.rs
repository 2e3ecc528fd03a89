//! Outgoing HTTP, limited to the tenant's named connections.
//!
//! The guest never holds a credential and never sees a real host name. It addresses a
//! connection by a fixed authority, and the host rewrites the request, like a Salesforce Named
//! Credential:
//!
//! | guest URL | goes to |
//! |---|---|
//! | `http://quickbooks/v3/company/{realm}/...` | the tenant's QBO base URL + path, with the QBO bearer token |
//! | `http://salesforce/services/data/v61.0/...` | the tenant's Salesforce instance URL + path, with its session |
//! | `http://notify/` | the tenant's Slack-style incoming-webhook URL |
//! | anything else | refused with `HTTP-request-denied` |
//!
//! Any `Authorization` or `Cookie` header the guest set is dropped before the host's own
//! credential is injected. Calls are paced by the connection's [`Pacer`]
//! ([`super::pacing`]); a 401 invalidates the credential and the request is sent once more with
//! a fresh one (its body is kept for that, up to [`MAX_REPLAY_BYTES`]).

use super::pacing::{add_retry_headers, throttled_response, Admission, Pacer};
use super::replay::{ReplayableBody, MAX_REPLAY_BYTES};
use http::header::{HeaderValue, AUTHORIZATION, COOKIE, HOST};
use http::uri::{Authority, PathAndQuery, Scheme, Uri};
use http::StatusCode;
use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use url::Url;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

/// Where a bearer token comes from. The token broker implements this; tests use [`StaticToken`].
pub trait CredentialSource: Send + Sync {
    /// The current bearer token (refreshed by the implementation as needed), if the connection
    /// is authenticated.
    fn bearer(&self) -> Pin<Box<dyn Future<Output = anyhow::Result<Option<String>>> + Send + '_>>;

    /// Reports that `token` (given out by [`CredentialSource::bearer`]) was refused with a 401:
    /// the next `bearer` should renew it. Reporting a token that was already replaced must do
    /// nothing, so that many concurrent 401s cause one renewal.
    fn invalidate(&self, token: &str) {
        let _ = token;
    }
}

/// A fixed token (from an environment variable or a test).
pub struct StaticToken(pub String);

impl CredentialSource for StaticToken {
    fn bearer(&self) -> Pin<Box<dyn Future<Output = anyhow::Result<Option<String>>> + Send + '_>> {
        Box::pin(async move { Ok(Some(self.0.clone())) })
    }
}

/// One named connection.
#[derive(Clone)]
pub struct Connection {
    /// The real base URL, e.g. `https://quickbooks.api.intuit.com` or an emulator's URL.
    pub base_url: Url,
    /// Where its credential comes from (none for `notify`).
    pub credential: Option<Arc<dyn CredentialSource>>,
    /// Its rate budget, shared by every call of the tenant (none: unpaced).
    pub pacer: Option<Arc<Pacer>>,
}

impl Connection {
    /// A connection to `base_url` with an optional credential, unpaced.
    pub fn new(base_url: Url, credential: Option<Arc<dyn CredentialSource>>) -> Self {
        Self {
            base_url,
            credential,
            pacer: None,
        }
    }

    /// Paces the connection with `pacer`.
    pub fn with_pacer(mut self, pacer: Arc<Pacer>) -> Self {
        self.pacer = Some(pacer);
        self
    }
}

/// The connections of one tenant, by name (`quickbooks`, `salesforce`, `notify`).
pub type Connections = Arc<BTreeMap<String, Connection>>;

/// One request the guest made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EgressRecord {
    /// The authority the guest used.
    pub connection: String,
    /// Method.
    pub method: String,
    /// Path and query the guest asked for.
    pub path: String,
    /// True when it was refused by policy.
    pub refused: bool,
}

/// The most recent guest requests an instance keeps in its egress log: a long job makes
/// thousands of calls, and the log is for inspecting what a guest tried, not an archive.
pub const EGRESS_LOG_MAX: usize = 1024;

/// The longest a guest call may wait, whatever the guest asks (`wasi:http` request options):
/// to connect, for the first byte of the answer, between two chunks of it. Without a cap a
/// stalled API would hold the run (and the tenant's lease) for wasmtime's default of ten
/// minutes each.
pub const MAX_CONNECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// See [`MAX_CONNECT_TIMEOUT`]; generous enough for a large SOQL page or QBO batch.
pub const MAX_FIRST_BYTE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
/// See [`MAX_CONNECT_TIMEOUT`].
pub const MAX_BETWEEN_BYTES_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The guest's request options with each timeout capped by the host's.
pub fn capped_options(options: Option<RequestOptions>) -> RequestOptions {
    let cap = |asked: Option<std::time::Duration>, max| Some(asked.map_or(max, |a| a.min(max)));
    let asked = options.unwrap_or_default();
    RequestOptions {
        connect_timeout: cap(asked.connect_timeout, MAX_CONNECT_TIMEOUT),
        first_byte_timeout: cap(asked.first_byte_timeout, MAX_FIRST_BYTE_TIMEOUT),
        between_bytes_timeout: cap(asked.between_bytes_timeout, MAX_BETWEEN_BYTES_TIMEOUT),
    }
}

/// The `wasi:http` hooks that enforce the connection policy.
pub struct ConnectionHooks {
    connections: Connections,
    log: Arc<Mutex<std::collections::VecDeque<EgressRecord>>>,
}

impl ConnectionHooks {
    /// Hooks for a tenant's connections.
    pub fn new(connections: Connections) -> Self {
        Self {
            connections,
            log: Arc::default(),
        }
    }

    /// What the guest asked for so far (the latest [`EGRESS_LOG_MAX`] requests).
    pub fn log(&self) -> Vec<EgressRecord> {
        self.log
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

/// Rewrites a guest URI onto a connection's base URL: base path + guest path and query.
pub fn rewrite_uri(base: &Url, guest: &Uri) -> Result<Uri, HttpError> {
    let scheme = match base.scheme() {
        "https" => Scheme::HTTPS,
        "http" => Scheme::HTTP,
        _ => return Err(HttpError::HttpRequestUriInvalid),
    };
    let host = base.host_str().ok_or(HttpError::HttpRequestUriInvalid)?;
    let authority = match base.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    };
    let base_path = base.path().trim_end_matches('/');
    let guest_pq = guest
        .path_and_query()
        .map(PathAndQuery::as_str)
        .unwrap_or("/");
    let joined = if guest_pq == "/" && !base_path.is_empty() {
        base_path.to_string()
    } else {
        format!("{base_path}{guest_pq}")
    };
    Uri::builder()
        .scheme(scheme)
        .authority(Authority::try_from(authority).map_err(|_| HttpError::HttpRequestUriInvalid)?)
        .path_and_query(joined)
        .build()
        .map_err(|_| HttpError::HttpRequestUriInvalid)
}

type SendResult = Result<
    (
        http::Response<WasiBody>,
        Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ),
    HttpError,
>;

impl WasiHttpHooks for ConnectionHooks {
    fn is_supported_scheme(&mut self, scheme: &Scheme) -> bool {
        // Connections are addressed as plain `http://name/`; TLS is the host's business.
        *scheme == Scheme::HTTP || *scheme == Scheme::HTTPS
    }

    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> Box<dyn Future<Output = SendResult> + Send> {
        drop(fut);
        let name = request
            .uri()
            .host()
            .unwrap_or_default()
            .to_ascii_lowercase();
        let connection = self.connections.get(&name).cloned();
        let record = EgressRecord {
            connection: name.clone(),
            method: request.method().to_string(),
            path: request
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default(),
            refused: connection.is_none(),
        };
        if let Ok(mut log) = self.log.lock() {
            if log.len() == EGRESS_LOG_MAX {
                log.pop_front();
            }
            log.push_back(record);
        }
        Box::new(async move {
            let Some(connection) = connection else {
                tracing::warn!(destination = %name, "guest egress refused: not a connection");
                return Err(HttpError::HttpRequestDenied);
            };
            send_on(&name, &connection, request, options).await
        })
    }
}

/// Sends a guest request on `connection`: paced, with the host's credential, and once more
/// with a fresh credential after a 401 when the body could be kept for it.
async fn send_on(
    name: &str,
    connection: &Connection,
    request: http::Request<WasiBody>,
    options: Option<RequestOptions>,
) -> SendResult {
    let guest_path = request
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".into());
    let uri = rewrite_uri(&connection.base_url, request.uri())?;
    let (parts, body) = request.into_parts();
    let mut headers = parts.headers;
    headers.remove(AUTHORIZATION);
    headers.remove(COOKIE);
    if let Some(authority) = uri.authority() {
        headers.insert(
            HOST,
            HeaderValue::from_str(authority.as_str())
                .map_err(|_| HttpError::HttpRequestUriInvalid)?,
        );
    }
    let mut body = ReplayableBody::read(body, MAX_REPLAY_BYTES).await?;
    let (lane, batch) = match &connection.pacer {
        Some(p) => (p.lane_of(&guest_path), p.is_batch(&guest_path)),
        None => (String::new(), false),
    };
    let mut fresh_token: Option<String> = None;
    for attempt in 0..2 {
        if let Some(pacer) = &connection.pacer {
            if let Admission::Throttled(throttle) = pacer.admit(&lane, batch).await {
                tracing::info!(connection = %name, lane = %lane, reason = throttle.reason.as_str(),
                    retry_at = %throttle.retry_at_header(), "guest call throttled by the host");
                return Ok((
                    throttled_response(&throttle, name),
                    Box::new(async { Ok(()) }) as Box<dyn Future<Output = _> + Send>,
                ));
            }
        }
        let mut headers = headers.clone();
        let token = match (fresh_token.take(), &connection.credential) {
            (Some(token), _) => Some(token),
            (None, Some(source)) => source.bearer().await.map_err(|e| {
                HttpError::InternalError(Some(format!("credential for {name}: {e:#}")))
            })?,
            (None, None) => None,
        };
        if let Some(token) = &token {
            let value = HeaderValue::from_str(&format!("Bearer {token}")).map_err(|_| {
                HttpError::InternalError(Some("token is not a valid header".into()))
            })?;
            headers.insert(AUTHORIZATION, value);
        }
        let Some(this_body) = body.take_attempt() else {
            return Err(HttpError::InternalError(Some(
                "the request body was already sent".into(),
            )));
        };
        let mut outgoing = http::Request::new(this_body);
        *outgoing.method_mut() = parts.method.clone();
        *outgoing.uri_mut() = uri.clone();
        *outgoing.version_mut() = parts.version;
        *outgoing.headers_mut() = headers;
        let (mut response, io) =
            wasmtime_wasi_http::default_send_request(outgoing, Some(capped_options(options)))
                .await?;
        if response.status() == StatusCode::UNAUTHORIZED {
            if let (Some(source), Some(sent)) = (&connection.credential, &token) {
                source.invalidate(sent);
                if attempt == 0 && body.replayable() {
                    // Resend only with a token other than the refused one.
                    if let Ok(Some(fresh)) = source.bearer().await {
                        if &fresh != sent {
                            tracing::info!(connection = %name,
                                "401 from the API; resending once with a renewed credential");
                            drop((response, io));
                            fresh_token = Some(fresh);
                            continue;
                        }
                    }
                }
            }
        }
        if let Some(pacer) = &connection.pacer {
            if let Some(throttle) = pacer.observe(&lane, response.status(), response.headers()) {
                if matches!(
                    response.status(),
                    StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                ) {
                    tracing::info!(connection = %name, lane = %lane, status = response.status().as_u16(),
                        retry_at = %throttle.retry_at_header(), "API throttled the call");
                    add_retry_headers(response.headers_mut(), &throttle);
                }
            }
        }
        use http_body_util::BodyExt;
        return Ok((
            response.map(BodyExt::boxed_unsync),
            Box::new(io) as Box<dyn Future<Output = _> + Send>,
        ));
    }
    Err(HttpError::InternalError(Some(format!(
        "{name}: the credential was refused twice"
    ))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(base: &str, guest: &str) -> String {
        rewrite_uri(&Url::parse(base).unwrap(), &guest.parse().unwrap())
            .unwrap()
            .to_string()
    }

    #[test]
    fn the_guest_may_shorten_timeouts_but_never_lengthen_them() {
        let none = capped_options(None);
        assert_eq!(none.connect_timeout, Some(MAX_CONNECT_TIMEOUT));
        assert_eq!(none.first_byte_timeout, Some(MAX_FIRST_BYTE_TIMEOUT));
        assert_eq!(none.between_bytes_timeout, Some(MAX_BETWEEN_BYTES_TIMEOUT));
        let asked = capped_options(Some(RequestOptions {
            connect_timeout: Some(std::time::Duration::from_secs(3600)),
            first_byte_timeout: Some(std::time::Duration::from_secs(2)),
            between_bytes_timeout: None,
        }));
        assert_eq!(asked.connect_timeout, Some(MAX_CONNECT_TIMEOUT));
        assert_eq!(
            asked.first_byte_timeout,
            Some(std::time::Duration::from_secs(2))
        );
        assert_eq!(asked.between_bytes_timeout, Some(MAX_BETWEEN_BYTES_TIMEOUT));
    }

    #[test]
    fn the_egress_log_keeps_the_latest_requests() {
        let hooks = ConnectionHooks::new(Arc::default());
        let mut hooks = hooks;
        for i in 0..(EGRESS_LOG_MAX + 10) {
            let request = http::Request::builder()
                .uri(format!("http://nowhere/{i}"))
                .body(WasiBody::default())
                .unwrap();
            drop(hooks.send_request(request, None, Box::new(async { Ok(()) })));
        }
        let log = hooks.log();
        assert_eq!(log.len(), EGRESS_LOG_MAX);
        assert_eq!(log[0].path, "/10");
        assert!(log.iter().all(|r| r.refused));
    }

    #[test]
    fn guest_path_is_appended_to_the_connection_base() {
        assert_eq!(
            rewrite(
                "http://127.0.0.1:8080",
                "http://quickbooks/v3/company/1/invoice?requestid=a"
            ),
            "http://127.0.0.1:8080/v3/company/1/invoice?requestid=a"
        );
        assert_eq!(
            rewrite(
                "https://example.my.salesforce.com/",
                "http://salesforce/services/data/v61.0/query?q=x"
            ),
            "https://example.my.salesforce.com/services/data/v61.0/query?q=x"
        );
    }

    #[test]
    fn notify_root_goes_to_the_full_webhook_url() {
        assert_eq!(
            rewrite("https://hooks.example.com/services/T/B/X", "http://notify/"),
            "https://hooks.example.com/services/T/B/X"
        );
    }
}
