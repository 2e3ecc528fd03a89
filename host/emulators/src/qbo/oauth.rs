//! Intuit OAuth 2.0 on the emulator (api-facts A11, C2):
//!
//! | method and path | what |
//! |---|---|
//! | `GET /.well-known/openid_configuration` (and `_sandbox_`, with or without `/`) | discovery document pointing at this server |
//! | `GET /connect/oauth2` | authorize: approves at once, 302 to `redirect_uri?code&state&realmId` |
//! | `POST /oauth2/v1/tokens/bearer` | `authorization_code` and `refresh_token` grants |
//! | `POST /v2/oauth2/tokens/revoke` | revokes the grant of a refresh or access token (JSON or form `token`) |
//! | `GET /v1/openid_connect/userinfo` | the user behind an access token |
//! | `GET /op/v1/jwks` | an empty key set (no `id_token` is ever issued) |
//!
//! Access tokens live `access_ttl_secs` (3600) of emulator time. Each refresh returns a new
//! refresh token; the old one stops working `refresh_grace_secs` later (0: at once). Revoking any
//! token of a grant ends the whole grant.

use super::errors::gateway_fault;
use super::{timefmt, QboEmulator};
use axum::{
    body::Bytes,
    extract::{Query, State},
    http::{header, HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};

/// A token pair as issued to a client.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenPair {
    /// Bearer token for the API.
    pub access_token: String,
    /// Token for the refresh grant.
    pub refresh_token: String,
}

/// Refresh tokens live 101 days, like Intuit's `x_refresh_token_expires_in` of 8726400 s.
pub(crate) const REFRESH_TTL_SECS: i64 = 8_726_400;

struct AccessToken {
    realm: String,
    grant: u64,
    expires_at: DateTime<Utc>,
}

struct RefreshToken {
    realm: String,
    grant: u64,
    expires_at: DateTime<Utc>,
    /// When it was exchanged for a newer one.
    superseded_at: Option<DateTime<Utc>>,
}

struct AuthCode {
    realm: String,
    redirect_uri: String,
    expires_at: DateTime<Utc>,
}

/// Why a bearer token was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    /// Not a token this emulator issued.
    Unknown,
    /// Past its expiry.
    Expired,
    /// Its grant was revoked.
    Revoked,
}

/// Every token and code issued.
#[derive(Default)]
pub(crate) struct TokenStore {
    access: HashMap<String, AccessToken>,
    refresh: HashMap<String, RefreshToken>,
    codes: HashMap<String, AuthCode>,
    revoked_grants: HashSet<u64>,
    next_grant: u64,
    /// Every refresh grant presented, in order: the token log a test reads to prove no refresh
    /// token was used twice.
    refresh_uses: Vec<RefreshUse>,
}

/// One refresh grant presented to the token endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RefreshUse {
    /// The refresh token presented.
    pub refresh_token: String,
    /// Its company, when the token is known.
    pub realm: Option<String>,
    /// When (emulator time).
    pub at: DateTime<Utc>,
    /// Whether the token had already been exchanged before (a reuse).
    pub reused: bool,
    /// Whether a new pair was issued.
    pub accepted: bool,
}

fn random_token(prefix: &str) -> String {
    format!(
        "{prefix}{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

impl TokenStore {
    /// Issues a pair for a new grant (or for `grant` when refreshing).
    pub fn issue(
        &mut self,
        realm: &str,
        grant: Option<u64>,
        now: DateTime<Utc>,
        access_ttl_secs: i64,
    ) -> TokenPair {
        let grant = grant.unwrap_or_else(|| {
            self.next_grant += 1;
            self.next_grant
        });
        let pair = TokenPair {
            access_token: random_token("eyJlbmMiOi."),
            refresh_token: random_token("AB11"),
        };
        self.access.insert(
            pair.access_token.clone(),
            AccessToken {
                realm: realm.into(),
                grant,
                expires_at: now + timefmt::bounded_secs(access_ttl_secs),
            },
        );
        self.refresh.insert(
            pair.refresh_token.clone(),
            RefreshToken {
                realm: realm.into(),
                grant,
                expires_at: now + Duration::seconds(REFRESH_TTL_SECS),
                superseded_at: None,
            },
        );
        pair
    }

    /// The realm an access token is good for.
    pub fn check_access(&self, token: &str, now: DateTime<Utc>) -> Result<String, TokenProblem> {
        let t = self.access.get(token).ok_or(TokenProblem::Unknown)?;
        if self.revoked_grants.contains(&t.grant) {
            return Err(TokenProblem::Revoked);
        }
        if now >= t.expires_at {
            return Err(TokenProblem::Expired);
        }
        Ok(t.realm.clone())
    }

    /// Exchanges a refresh token for a new pair.
    pub fn refresh(
        &mut self,
        token: &str,
        now: DateTime<Utc>,
        access_ttl_secs: i64,
        grace_secs: u64,
    ) -> Result<(String, TokenPair), &'static str> {
        let known = self.refresh.get(token);
        let mut used = RefreshUse {
            refresh_token: token.to_string(),
            realm: known.map(|t| t.realm.clone()),
            at: now,
            reused: known.is_some_and(|t| t.superseded_at.is_some()),
            accepted: false,
        };
        let answer = self.exchange(token, now, access_ttl_secs, grace_secs);
        used.accepted = answer.is_ok();
        self.refresh_uses.push(used);
        answer
    }

    /// Every refresh grant presented so far, in order.
    pub fn refresh_uses(&self) -> Vec<RefreshUse> {
        self.refresh_uses.clone()
    }

    fn exchange(
        &mut self,
        token: &str,
        now: DateTime<Utc>,
        access_ttl_secs: i64,
        grace_secs: u64,
    ) -> Result<(String, TokenPair), &'static str> {
        let t = self.refresh.get(token).ok_or("Token invalid")?;
        if self.revoked_grants.contains(&t.grant) || now >= t.expires_at {
            return Err("Token has been expired or revoked.");
        }
        if let Some(at) = t.superseded_at {
            if now >= at + timefmt::bounded_secs(i64::try_from(grace_secs).unwrap_or(i64::MAX)) {
                return Err("Token invalid");
            }
        }
        let (realm, grant) = (t.realm.clone(), t.grant);
        if let Some(t) = self.refresh.get_mut(token) {
            t.superseded_at.get_or_insert(now);
        }
        let pair = self.issue(&realm, Some(grant), now, access_ttl_secs);
        Ok((realm, pair))
    }

    /// Records an authorization code.
    pub fn new_code(&mut self, realm: &str, redirect_uri: &str, now: DateTime<Utc>) -> String {
        let code = random_token("AB1");
        self.codes.insert(
            code.clone(),
            AuthCode {
                realm: realm.into(),
                redirect_uri: redirect_uri.into(),
                expires_at: now + Duration::minutes(10),
            },
        );
        code
    }

    /// Uses up a code.
    pub fn redeem_code(
        &mut self,
        code: &str,
        redirect_uri: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<String, &'static str> {
        let c = self
            .codes
            .remove(code)
            .ok_or("Authorization code is invalid or was already used")?;
        if now >= c.expires_at {
            return Err("Authorization code has expired");
        }
        if redirect_uri.is_some_and(|r| r != c.redirect_uri) {
            return Err("redirect_uri does not match the one used to get the code");
        }
        Ok(c.realm)
    }

    /// Revokes the grant of a token (either kind). Unknown tokens are ignored (RFC 7009).
    pub fn revoke(&mut self, token: &str) {
        let grant = self
            .refresh
            .get(token)
            .map(|t| t.grant)
            .or_else(|| self.access.get(token).map(|t| t.grant));
        if let Some(g) = grant {
            self.revoked_grants.insert(g);
        }
    }
}

fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    format!("http://{host}")
}

/// `GET /.well-known/openid_configuration`.
pub(crate) async fn discovery(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({
        "issuer": format!("{base}/op/v1"),
        "authorization_endpoint": format!("{base}/connect/oauth2"),
        "token_endpoint": format!("{base}/oauth2/v1/tokens/bearer"),
        "userinfo_endpoint": format!("{base}/v1/openid_connect/userinfo"),
        "revocation_endpoint": format!("{base}/v2/oauth2/tokens/revoke"),
        "jwks_uri": format!("{base}/op/v1/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "scopes_supported": ["openid", "email", "profile", "address", "phone"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "claims_supported": ["aud", "exp", "iat", "iss", "realmid", "sub"]
    }))
}

/// `GET /op/v1/jwks`.
pub(crate) async fn jwks() -> Json<Value> {
    Json(json!({"keys": []}))
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

/// `GET /connect/oauth2`: approves at once.
pub(crate) async fn authorize(
    State(emu): State<QboEmulator>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let inner = &emu.inner;
    if params.get("client_id") != Some(&inner.config.client_id) {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_client",
            "Unknown client_id",
        );
    }
    if params.get("response_type").is_some_and(|r| r != "code") {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_response_type",
            "Only response_type=code is supported",
        );
    }
    let Some(redirect_uri) = params.get("redirect_uri").filter(|r| !r.is_empty()) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is required",
        );
    };
    let Ok(mut target) = url::Url::parse(redirect_uri) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "redirect_uri is not a URL",
        );
    };
    let realm = match params.get("realmId") {
        Some(r) if inner.config.realms.contains(r) => r.clone(),
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "Unknown realmId",
            )
        }
        None => inner.config.realms.first().cloned().unwrap_or_default(),
    };
    let now = inner.clock.now();
    let code = inner.lock().tokens.new_code(&realm, redirect_uri, now);
    {
        let mut query = target.query_pairs_mut();
        query.append_pair("code", &code);
        if let Some(state) = params.get("state") {
            query.append_pair("state", state);
        }
        query.append_pair("realmId", &realm);
    }
    (StatusCode::FOUND, [(header::LOCATION, target.to_string())]).into_response()
}

fn form(body: &[u8]) -> HashMap<String, String> {
    serde_urlencoded::from_bytes(body).unwrap_or_default()
}

/// Client credentials from HTTP Basic, or else from the form.
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|h| h.to_str().ok())
        .and_then(|h| {
            h.strip_prefix("Basic ")
                .or_else(|| h.strip_prefix("basic "))
        })
    {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(basic.trim())
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        return Some((id.to_string(), secret.to_string()));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}

fn client_ok(emu: &QboEmulator, headers: &HeaderMap, form: &HashMap<String, String>) -> bool {
    let config = &emu.inner.config;
    client_credentials(headers, form)
        .is_some_and(|(id, secret)| id == config.client_id && secret == config.client_secret)
}

/// `POST /oauth2/v1/tokens/bearer`.
pub(crate) async fn token(
    State(emu): State<QboEmulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = form(&body);
    if !client_ok(&emu, &headers, &form) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let inner = &emu.inner;
    let now = inner.clock.now();
    let ttl = inner.config.access_ttl_secs;
    let mut state = inner.lock();
    let pair = match form.get("grant_type").map(String::as_str) {
        Some("authorization_code") => {
            let Some(code) = form.get("code") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "code is required",
                );
            };
            match state
                .tokens
                .redeem_code(code, form.get("redirect_uri").map(String::as_str), now)
            {
                Ok(realm) => state.tokens.issue(&realm, None, now, ttl),
                Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why),
            }
        }
        Some("refresh_token") => {
            let Some(refresh) = form.get("refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            match state
                .tokens
                .refresh(refresh, now, ttl, inner.config.refresh_grace_secs)
            {
                Ok((_, pair)) => pair,
                Err(why) => return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant", why),
            }
        }
        _ => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )
        }
    };
    drop(state);
    let body = json!({
        "token_type": "bearer",
        "expires_in": ttl,
        "refresh_token": pair.refresh_token,
        "x_refresh_token_expires_in": REFRESH_TTL_SECS,
        "access_token": pair.access_token
    });
    (
        StatusCode::OK,
        [(header::CACHE_CONTROL, "no-store")],
        Json(body),
    )
        .into_response()
}

/// `POST /v2/oauth2/tokens/revoke`.
pub(crate) async fn revoke(
    State(emu): State<QboEmulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut fields = form(&body);
    if let Ok(Value::Object(map)) = serde_json::from_slice::<Value>(&body) {
        for (k, v) in map {
            if let Value::String(s) = v {
                fields.insert(k, s);
            }
        }
    }
    if !client_ok(&emu, &headers, &fields) {
        return oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let Some(token) = fields.get("token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    emu.inner.lock().tokens.revoke(token);
    StatusCode::OK.into_response()
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

/// `GET /v1/openid_connect/userinfo`.
pub(crate) async fn userinfo(State(emu): State<QboEmulator>, headers: HeaderMap) -> Response {
    let now = emu.inner.clock.now();
    let realm = bearer(&headers).map(|t| emu.inner.lock().tokens.check_access(t, now));
    match realm {
        Some(Ok(realm)) => Json(json!({
            "sub": uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, realm.as_bytes()).to_string(),
            "email": "emulator@example.com",
            "emailVerified": true,
            "givenName": "Emulated",
            "familyName": "User",
            "realmid": realm
        }))
        .into_response(),
        _ => (
            StatusCode::UNAUTHORIZED,
            Json(gateway_fault(
                StatusCode::UNAUTHORIZED,
                "Token invalid",
                now.timestamp_millis(),
            )),
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refresh_rotates_and_the_old_token_dies() {
        let mut store = TokenStore::default();
        let now = Utc::now();
        let first = store.issue("r", None, now, 3600);
        let (_, second) = store.refresh(&first.refresh_token, now, 3600, 0).unwrap();
        assert_ne!(first.refresh_token, second.refresh_token);
        assert!(store.refresh(&first.refresh_token, now, 3600, 0).is_err());
        assert!(store.refresh(&second.refresh_token, now, 3600, 0).is_ok());
        // The token log: the first token twice (the second time a refused reuse), then the
        // second once.
        let log: Vec<(bool, bool)> = store
            .refresh_uses()
            .iter()
            .map(|u| (u.reused, u.accepted))
            .collect();
        assert_eq!(log, vec![(false, true), (true, false), (false, true)]);
        assert!(store
            .refresh_uses()
            .iter()
            .all(|u| u.realm.as_deref() == Some("r")));
    }

    #[test]
    fn grace_keeps_the_old_refresh_token_alive_for_a_while() {
        let mut store = TokenStore::default();
        let now = Utc::now();
        let first = store.issue("r", None, now, 3600);
        store.refresh(&first.refresh_token, now, 3600, 60).unwrap();
        assert!(store
            .refresh(&first.refresh_token, now + Duration::seconds(30), 3600, 60)
            .is_ok());
        assert!(store
            .refresh(&first.refresh_token, now + Duration::seconds(61), 3600, 60)
            .is_err());
    }

    #[test]
    fn access_tokens_expire_and_revocation_ends_the_grant() {
        let mut store = TokenStore::default();
        let now = Utc::now();
        let pair = store.issue("r", None, now, 3600);
        assert_eq!(store.check_access(&pair.access_token, now).unwrap(), "r");
        assert_eq!(
            store.check_access(&pair.access_token, now + Duration::seconds(3601)),
            Err(TokenProblem::Expired)
        );
        store.revoke(&pair.refresh_token);
        assert_eq!(
            store.check_access(&pair.access_token, now),
            Err(TokenProblem::Revoked)
        );
        assert!(store.refresh(&pair.refresh_token, now, 3600, 0).is_err());
    }
}
