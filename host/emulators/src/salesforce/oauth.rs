//! `POST /services/oauth2/token` (api-facts B2) and session checking.
//!
//! - `grant_type=client_credentials`: client id and secret in the form body or as HTTP Basic.
//! - `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`: the JWT's
//!   signature is **not verified** (any `alg`, unsigned accepted); `iss` must be the client id,
//!   `sub` present and `exp` in the future on the emulator clock.
//!
//! The answer has `access_token` (`<orgId>!<random>`), `signature`
//! (base64 HMAC-SHA256 of `id + issued_at` keyed with the client secret, as Salesforce computes
//! it), `scope`, `instance_url` (this server, from the `Host` header), `id`, `token_type` and
//! `issued_at` (epoch ms as a string); there is no `refresh_token`. Sessions expire
//! `session_ttl_secs` after their last use, on the emulator clock.

use super::errors::SfError;
use super::SalesforceEmulator;
use axum::{
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use rand::{rngs::StdRng, Rng, SeedableRng};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;

/// One session.
#[derive(Clone, Debug)]
pub struct Session {
    /// Connected app that obtained it (used as `client=` in change origins).
    pub client_id: String,
    /// Last time it was used.
    pub last_used: DateTime<Utc>,
}

/// Active sessions by access token.
#[derive(Debug)]
pub struct Sessions {
    map: HashMap<String, Session>,
    rng: StdRng,
}

impl Sessions {
    /// No sessions; tokens drawn from a generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            map: HashMap::new(),
            rng: StdRng::seed_from_u64(seed ^ 0x5f5f_5346),
        }
    }

    /// A new session token for `client_id`.
    pub fn issue(&mut self, org_id: &str, client_id: &str, now: DateTime<Utc>) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._";
        let org15 = org_id.get(..15).unwrap_or(org_id);
        let random: String = (0..96)
            .map(|_| ALPHABET[self.rng.gen_range(0..ALPHABET.len())] as char)
            .collect();
        let token = format!("{org15}!{random}");
        self.map.insert(
            token.clone(),
            Session {
                client_id: client_id.to_string(),
                last_used: now,
            },
        );
        token
    }

    /// The session for `token`, refreshed, or INVALID_SESSION_ID when unknown or idle for longer
    /// than `ttl_secs`.
    pub fn check(
        &mut self,
        token: &str,
        now: DateTime<Utc>,
        ttl_secs: i64,
    ) -> Result<Session, SfError> {
        let Some(session) = self.map.get_mut(token) else {
            return Err(SfError::invalid_session());
        };
        if now - session.last_used > Duration::try_seconds(ttl_secs).unwrap_or(Duration::MAX) {
            self.map.remove(token);
            return Err(SfError::invalid_session());
        }
        session.last_used = now;
        Ok(session.clone())
    }
}

/// The bearer token of a request (`Authorization: Bearer X` or `OAuth X`).
pub fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("oauth"))
        .then(|| token.trim().to_string())
}

fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response()
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(http::header::AUTHORIZATION)?.to_str().ok()?;
    let encoded = value
        .strip_prefix("Basic ")
        .or_else(|| value.strip_prefix("basic "))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    let dec = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((dec(id)?, dec(secret)?))
}

/// The claims of a JWT, without checking its signature.
fn jwt_claims(assertion: &str) -> Option<Value> {
    let payload = assertion.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// `https?://host[:port]` of this server as the client addressed it.
pub fn instance_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// `POST /services/oauth2/token`.
pub async fn token(
    State(emu): State<SalesforceEmulator>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let config = emu.config();
    let now = emu.clock().now();
    let grant = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    let client_id = match grant {
        "client_credentials" => {
            let (id, secret) = match (form.get("client_id"), form.get("client_secret")) {
                (Some(id), Some(secret)) => (id.clone(), secret.clone()),
                _ => match basic_credentials(&headers) {
                    Some(pair) => pair,
                    None => return oauth_error("invalid_client", "client credentials are missing"),
                },
            };
            if id != config.client_id {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            if secret != config.client_secret {
                return oauth_error("invalid_client", "invalid client credentials");
            }
            id
        }
        "urn:ietf:params:oauth:grant-type:jwt-bearer" => {
            let Some(claims) = form.get("assertion").and_then(|a| jwt_claims(a)) else {
                return oauth_error("invalid_grant", "invalid assertion");
            };
            let iss = claims
                .get("iss")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if iss != config.client_id {
                return oauth_error("invalid_client_id", "client identifier invalid");
            }
            if claims
                .get("sub")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
            {
                return oauth_error("invalid_grant", "invalid assertion: sub is missing");
            }
            let exp = claims.get("exp").and_then(Value::as_i64).unwrap_or(0);
            if exp < now.timestamp() - 180 {
                return oauth_error("invalid_grant", "expired authorization code");
            }
            iss.to_string()
        }
        _ => return oauth_error("unsupported_grant_type", "grant type not supported"),
    };
    let (token, org_id, user_id) = emu.with_org(|org| {
        let token = org.sessions.issue(&org.org_id, &client_id, now);
        (token, org.org_id.clone(), org.user_id.clone())
    });
    let instance = instance_url(&headers);
    let id = format!("{instance}/id/{org_id}/{user_id}");
    let issued_at = now.timestamp_millis().to_string();
    let signature = match Hmac::<Sha256>::new_from_slice(config.client_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(id.as_bytes());
            mac.update(issued_at.as_bytes());
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    };
    Json(json!({
        "access_token": token,
        "signature": signature,
        "scope": "api",
        "instance_url": instance,
        "id": id,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }))
    .into_response()
}

/// `GET /services/oauth2/userinfo` (OpenID Connect UserInfo): the user a session runs as. An
/// unknown or expired token answers 403 `Bad_OAuth_Token`, as Salesforce does.
pub async fn userinfo(State(emu): State<SalesforceEmulator>, headers: HeaderMap) -> Response {
    let now = emu.clock().now();
    let Some(token) = bearer(&headers) else {
        return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
    };
    let instance = instance_url(&headers);
    emu.with_org(|org| {
        let ttl = org.config.session_ttl_secs;
        if org.sessions.check(&token, now, ttl).is_err() {
            return (StatusCode::FORBIDDEN, "Bad_OAuth_Token").into_response();
        }
        let user = org.store.get("User", &org.user_id);
        let field = |name: &str| {
            user.and_then(|u| u.fields.get(name))
                .and_then(|v| v.as_text())
                .map_or(Value::Null, |v| json!(v))
        };
        Json(json!({
            "sub": format!("{instance}/id/{}/{}", org.org_id, org.user_id),
            "user_id": org.user_id,
            "organization_id": org.org_id,
            "preferred_username": field("Username"),
            "name": field("Name"),
            "given_name": field("FirstName"),
            "family_name": field("LastName"),
            "email": field("Email"),
            "email_verified": true,
            "active": true,
            "user_type": "STANDARD",
            "updated_at": now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        }))
        .into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_expire_after_idle_time_and_refresh_on_use() {
        let mut s = Sessions::new(1);
        let t0 = Utc::now();
        let tok = s.issue("00D000000000001AAA", "app", t0);
        assert!(tok.starts_with("00D000000000001!"));
        assert!(s.check(&tok, t0 + Duration::seconds(7000), 7200).is_ok());
        assert!(s.check(&tok, t0 + Duration::seconds(14000), 7200).is_ok());
        assert_eq!(
            s.check(&tok, t0 + Duration::seconds(21300), 7200)
                .unwrap_err()
                .code,
            "INVALID_SESSION_ID"
        );
        assert!(s.check("nope", t0, 7200).is_err());
    }
}
