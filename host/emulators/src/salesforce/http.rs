//! The REST surface under `/services/data/`: version parsing, body size limit, session check,
//! the daily limit and its header, then dispatch by path to the resource handlers. Every
//! resource is a plain function over the locked org, so that `composite` can run subrequests
//! through the same dispatch.

use super::dml::Origin;
use super::errors::SfError;
use super::limits;
use super::oauth;
use super::org::Org;
use super::values::parse_body;
use super::{composite, query, replication, sobjects, SalesforceEmulator};
use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderMap, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
};
use serde_json::{json, Value};

/// Per-request context.
#[derive(Clone, Debug)]
pub(crate) struct Ctx {
    /// `61.0`.
    pub version: String,
    /// `/services/data/v61.0`.
    pub base: String,
    /// Change origin of writes.
    pub origin: Origin,
    /// Records per query page.
    pub page_size: usize,
    /// Inside a composite request (no nesting).
    pub in_composite: bool,
}

/// A resource's answer.
#[derive(Clone, Debug)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Self {
            status,
            body: Some(body),
            headers: Vec::new(),
        }
    }

    pub fn empty(status: u16) -> Self {
        Self {
            status,
            body: None,
            headers: Vec::new(),
        }
    }

    pub fn error(e: &SfError) -> Self {
        Self::json(e.status, e.body())
    }
}

impl From<Result<Reply, SfError>> for Reply {
    fn from(r: Result<Reply, SfError>) -> Self {
        r.unwrap_or_else(|e| Reply::error(&e))
    }
}

fn percent_decode(seg: &str) -> String {
    let bytes = seg.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits a path below the version into decoded segments, without empty trailing ones.
pub(crate) fn segments(path: &str) -> Vec<String> {
    let mut segs: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(percent_decode)
        .collect();
    while segs.last().is_some_and(|s| s.is_empty()) {
        segs.pop();
    }
    segs
}

/// `vNN.N` → `NN.N`.
pub(crate) fn parse_version(seg: &str) -> Option<String> {
    let v = seg.strip_prefix('v')?;
    let (major, minor) = v.split_once('.')?;
    (!major.is_empty()
        && !minor.is_empty()
        && major.bytes().all(|b| b.is_ascii_digit())
        && minor.bytes().all(|b| b.is_ascii_digit()))
    .then(|| v.to_string())
}

fn param<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Routes one API request (already authenticated and counted).
pub(crate) fn dispatch(
    org: &mut Org,
    ctx: &Ctx,
    method: &str,
    segs: &[String],
    query: &[(String, String)],
    body: Option<&Value>,
) -> Reply {
    let s: Vec<&str> = segs.iter().map(String::as_str).collect();
    let need_body =
        || body.ok_or_else(|| SfError::json_parser("No content to map due to end-of-input"));
    let result: Result<Reply, SfError> = match (method, s.as_slice()) {
        ("GET", []) => Ok(Reply::json(200, resources(ctx))),
        ("GET", ["sobjects"]) => Ok(sobjects::describe_global(org, ctx)),
        ("GET", ["sobjects", t]) => sobjects::basic_info(org, ctx, t),
        ("POST", ["sobjects", t]) => need_body().and_then(|b| sobjects::create(org, ctx, t, b)),
        ("GET", ["sobjects", t, "describe"]) => sobjects::describe(org, ctx, t),
        ("GET", ["sobjects", t, "updated"]) => {
            replication::updated(org, t, query).map(|v| Reply::json(200, v))
        }
        ("GET", ["sobjects", t, "deleted"]) => {
            replication::deleted(org, t, query).map(|v| Reply::json(200, v))
        }
        ("GET", ["sobjects", t, id]) => sobjects::get(org, ctx, t, id, param(query, "fields")),
        ("PATCH", ["sobjects", t, id]) => {
            need_body().and_then(|b| sobjects::update(org, ctx, t, id, b))
        }
        ("DELETE", ["sobjects", t, id]) => sobjects::delete(org, ctx, t, id),
        ("GET", ["sobjects", t, field, value]) => {
            sobjects::get_by_external(org, ctx, t, field, value, param(query, "fields"))
        }
        ("PATCH", ["sobjects", t, field, value]) => {
            let update_only =
                param(query, "updateOnly").is_some_and(|v| v.eq_ignore_ascii_case("true"));
            need_body().and_then(|b| sobjects::upsert(org, ctx, t, field, value, b, update_only))
        }
        ("DELETE", ["sobjects", t, field, value]) => {
            sobjects::delete_by_external(org, ctx, t, field, value)
        }
        ("GET", ["query" | "queryAll"]) => match param(query, "q") {
            Some(q) => query::query(org, ctx, q, s[0] == "queryAll").map(|v| Reply::json(200, v)),
            None => Err(SfError::malformed_query(
                "A query string has to be specified",
            )),
        },
        ("GET", ["query" | "queryAll", locator]) => {
            query::next_page(org, ctx, locator).map(|v| Reply::json(200, v))
        }
        ("GET", ["limits"]) => {
            let used = org.usage.used(org.now);
            Ok(Reply::json(
                200,
                limits::limits_json(used, org.config.daily_api_limit),
            ))
        }
        ("POST", ["composite"]) if !ctx.in_composite => need_body()
            .map(|b| composite::composite(org, ctx, b))
            .and_then(|r| r),
        ("POST", ["composite", "batch"]) if !ctx.in_composite => {
            need_body().and_then(|b| composite::batch(org, ctx, b))
        }
        ("POST", ["composite", "sobjects"]) => {
            need_body().and_then(|b| composite::create_many(org, ctx, b))
        }
        ("PATCH", ["composite", "sobjects"]) => {
            need_body().and_then(|b| composite::update_many(org, ctx, b))
        }
        ("DELETE", ["composite", "sobjects"]) => composite::delete_many(org, ctx, query),
        ("GET", ["composite", "sobjects", t]) => composite::retrieve_many(org, ctx, t, query),
        ("PATCH", ["composite", "sobjects", t, field]) => {
            need_body().and_then(|b| composite::upsert_many(org, ctx, t, field, b))
        }
        (
            m,
            ["sobjects", ..] | ["query" | "queryAll", ..] | ["composite", ..] | ["limits"] | [],
        ) => {
            if known_path(&s) {
                Err(SfError::method_not_allowed(m))
            } else {
                Err(SfError::not_found())
            }
        }
        _ => Err(SfError::not_found()),
    };
    result.into()
}

fn known_path(s: &[&str]) -> bool {
    matches!(
        s,
        [] | ["sobjects", ..]
            | ["query" | "queryAll"]
            | ["limits"]
            | ["composite"]
            | ["composite", "batch"]
            | ["composite", "sobjects", ..]
    )
}

fn resources(ctx: &Ctx) -> Value {
    let b = &ctx.base;
    json!({
        "sobjects": format!("{b}/sobjects"),
        "query": format!("{b}/query"),
        "queryAll": format!("{b}/queryAll"),
        "limits": format!("{b}/limits"),
        "composite": format!("{b}/composite"),
    })
}

fn versions() -> Value {
    let list: Vec<Value> = (55..=62)
        .map(|v| json!({"label": format!("v{v}.0"), "url": format!("/services/data/v{v}.0"), "version": format!("{v}.0")}))
        .collect();
    Value::Array(list)
}

/// Builds the HTTP response.
pub(crate) fn respond(reply: Reply, limit_header: Option<String>) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match reply.body {
        Some(body) => {
            let mut r = Response::new(Body::from(body.to_string()));
            r.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json;charset=UTF-8"),
            );
            r
        }
        None => Response::new(Body::empty()),
    };
    *response.status_mut() = status;
    for (k, v) in reply.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(&v),
        ) {
            response.headers_mut().insert(name, value);
        }
    }
    if let Some(h) = limit_header.and_then(|h| HeaderValue::from_str(&h).ok()) {
        response.headers_mut().insert(limits::HEADER, h);
    }
    response
}

fn call_options_client(headers: &HeaderMap) -> Option<String> {
    let v = headers.get("sforce-call-options")?.to_str().ok()?;
    v.split(',').find_map(|part| {
        part.trim()
            .strip_prefix("client=")
            .map(|c| c.trim().to_string())
    })
}

fn batch_size(headers: &HeaderMap) -> Option<usize> {
    let v = headers.get("sforce-query-options")?.to_str().ok()?;
    v.split(',').find_map(|part| {
        part.trim()
            .strip_prefix("batchSize=")
            .and_then(|n| n.trim().parse().ok())
    })
}

/// The axum handler for everything under `/services/data`.
pub(crate) async fn api(State(emu): State<SalesforceEmulator>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let method = parts.method.as_str().to_ascii_uppercase();
    let query: Vec<(String, String)> = parts
        .uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .into_owned()
                .collect()
        })
        .unwrap_or_default();
    let Some(rest) = path.strip_prefix("/services/data") else {
        return respond(Reply::error(&SfError::not_found()), None);
    };
    let rest = rest.trim_matches('/');
    if rest.is_empty() {
        // The versions list: no session needed and no limit header.
        return respond(Reply::json(200, versions()), None);
    }
    let (version_seg, below) = rest.split_once('/').unwrap_or((rest, ""));
    let Some(version) = parse_version(version_seg) else {
        return respond(Reply::error(&SfError::not_found()), None);
    };
    let config = emu.config();
    let max = config.max_body_bytes;
    let too_large = || {
        respond(
            Reply::error(&SfError::new(
                413,
                "REQUEST_ENTITY_TOO_LARGE",
                format!("Request body exceeds the maximum of {max} bytes"),
            )),
            None,
        )
    };
    let declared = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > max) {
        return too_large();
    }
    let Ok(bytes) = axum::body::to_bytes(body, max).await else {
        return too_large();
    };

    let Some(token) = oauth::bearer(&parts.headers) else {
        return respond(Reply::error(&SfError::invalid_session()), None);
    };
    let now = emu.clock().now();
    let checked = emu.with_org(|org| {
        let session = org
            .sessions
            .check(&token, now, org.config.session_ttl_secs)?;
        let used = org.usage.count(now, org.config.daily_api_limit);
        Ok::<_, SfError>((session, used))
    });
    let (session, used) = match checked {
        Ok(pair) => pair,
        Err(e) => return respond(Reply::error(&e), None),
    };
    let limit = config.daily_api_limit;
    let used = match used {
        Ok(n) => n,
        Err(e) => {
            return respond(
                Reply::error(&e),
                Some(limits::header_value(limit + 1, limit)),
            )
        }
    };
    let header = Some(limits::header_value(used, limit));
    let client = call_options_client(&parts.headers).unwrap_or(session.client_id);
    let page_size = match batch_size(&parts.headers) {
        Some(n) => n.clamp(200, 2000).min(config.page_size.max(1)),
        None => config.page_size.max(1),
    };
    let ctx = Ctx {
        base: format!("/services/data/v{version}"),
        origin: Origin {
            change_origin: format!("com/salesforce/api/rest/{version};client={client}"),
        },
        version,
        page_size,
        in_composite: false,
    };
    let segs = segments(below);

    let body_value = if matches!(method.as_str(), "POST" | "PATCH" | "PUT")
        && !bytes.iter().all(u8::is_ascii_whitespace)
    {
        match parse_body(&bytes) {
            Ok(v) => Some(v),
            Err(e) => return respond(Reply::error(&e), header),
        }
    } else {
        None
    };
    let reply =
        emu.with_org(|org| dispatch(org, &ctx, &method, &segs, &query, body_value.as_ref()));
    if method != "GET" {
        emu.notify_events();
    }
    respond(reply, header)
}

/// Renders injected faults in Salesforce's error shape.
pub(crate) fn render_fault(kind: &crate::FaultKind) -> Response {
    let (status, e) = match kind {
        crate::FaultKind::ExpiredToken => (401, SfError::invalid_session()),
        crate::FaultKind::Status { status } => match *status {
            401 => (401, SfError::invalid_session()),
            403 => (
                403,
                SfError::new(
                    403,
                    "REQUEST_LIMIT_EXCEEDED",
                    "TotalRequests Limit exceeded.",
                ),
            ),
            404 => (404, SfError::not_found()),
            s if s >= 500 => (
                s,
                SfError::new(
                    s,
                    "SERVER_UNAVAILABLE",
                    "Server temporarily unavailable. Please try again later.",
                ),
            ),
            s => (
                s,
                SfError::new(s, "UNKNOWN_EXCEPTION", "An unexpected error occurred."),
            ),
        },
        _ => (
            500,
            SfError::new(500, "UNKNOWN_EXCEPTION", "An unexpected error occurred."),
        ),
    };
    let mut r = respond(Reply::json(status, e.body()), None);
    if StatusCode::from_u16(status).is_err() {
        *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    }
    r.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_decode_plus_and_percent() {
        assert_eq!(
            segments("sobjects/Account/Ext__c/A+B%2FC%26d/"),
            vec!["sobjects", "Account", "Ext__c", "A B/C&d"]
        );
        assert_eq!(segments("sobjects/Account/"), vec!["sobjects", "Account"]);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn versions_parse() {
        assert_eq!(parse_version("v59.0").as_deref(), Some("59.0"));
        assert_eq!(parse_version("59.0"), None);
        assert_eq!(parse_version("vX.0"), None);
    }
}
