//! Intuit OAuth 2.0 for QuickBooks Online (api-facts A11).
//!
//! | step | call |
//! |---|---|
//! | find the endpoints | [`QboEndpoints::discover`] (`/.well-known/openid_configuration`) or [`QboEndpoints::production`] |
//! | send a person to approve | [`QboOAuth::authorize_url`]; Intuit redirects back with `code`, `state`, `realmId` |
//! | exchange the code | [`QboOAuth::exchange_code`] (`grant_type=authorization_code`) |
//! | renew | [`QboOAuth::refresh`] (`grant_type=refresh_token`); the answer may carry a **new** refresh token and the old one then stops working |
//!
//! Token requests are form posts with HTTP Basic client authentication and `Accept:
//! application/json`. Access tokens live 3600 s; refresh tokens about 101 days, rolling.

use super::{post_token_form, token_http_client, OAuthError, Secret};
use anyhow::{Context, Result};
use serde_json::Value;
use url::Url;

/// The OAuth scope for the Accounting API.
pub const ACCOUNTING_SCOPE: &str = "com.intuit.quickbooks.accounting";

/// Where Intuit's OAuth endpoints are.
#[derive(Clone, Debug)]
pub struct QboEndpoints {
    /// `authorization_endpoint`.
    pub authorization: Url,
    /// `token_endpoint`.
    pub token: Url,
    /// `revocation_endpoint`.
    pub revocation: Option<Url>,
}

impl QboEndpoints {
    /// Intuit's production endpoints.
    pub fn production() -> Self {
        let parse = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("constant URL"));
        Self {
            authorization: parse("https://appcenter.intuit.com/connect/oauth2"),
            token: parse("https://oauth.platform.intuit.com/oauth2/v1/tokens/bearer"),
            revocation: Some(parse(
                "https://developer.api.intuit.com/v2/oauth2/tokens/revoke",
            )),
        }
    }

    /// Reads a discovery document (`.../.well-known/openid_configuration`).
    pub async fn discover(discovery_url: &Url) -> Result<Self> {
        let http = token_http_client()?;
        let doc: Value = http
            .get(discovery_url.clone())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .with_context(|| format!("fetching the OAuth discovery document {discovery_url}"))?
            .json()
            .await
            .with_context(|| format!("reading the OAuth discovery document {discovery_url}"))?;
        let endpoint = |name: &str| -> Result<Url> {
            let text = doc
                .get(name)
                .and_then(Value::as_str)
                .with_context(|| format!("the discovery document {discovery_url} has no {name}"))?;
            Url::parse(text).with_context(|| format!("{name} in {discovery_url} is not a URL"))
        };
        Ok(Self {
            authorization: endpoint("authorization_endpoint")?,
            token: endpoint("token_endpoint")?,
            revocation: endpoint("revocation_endpoint").ok(),
        })
    }
}

/// What a token endpoint granted. `Debug` redacts the tokens.
#[derive(Clone, Debug)]
pub struct TokenGrant {
    /// Bearer token.
    pub access_token: Secret,
    /// Seconds the access token lives (3600).
    pub expires_in: i64,
    /// The refresh token to store (possibly a new one: rotation).
    pub refresh_token: Secret,
    /// Seconds the refresh token lives (`x_refresh_token_expires_in`).
    pub refresh_expires_in: Option<i64>,
}

/// The longest lifetime believed of an access token (QBO's live an hour): an absurd or hostile
/// `expires_in` can neither overflow the clock arithmetic nor keep a token in use for years.
const MAX_ACCESS_SECONDS: i64 = 24 * 3600;
/// The same for refresh tokens (QBO's live about 100 days).
const MAX_REFRESH_SECONDS: i64 = 366 * 24 * 3600;

impl TokenGrant {
    fn from_json(json: &Value) -> Result<Self, OAuthError> {
        let text = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(Secret::new)
                .ok_or_else(|| OAuthError::Transient(format!("the token answer has no {name}")))
        };
        let seconds = |name: &str| {
            json.get(name).and_then(|v| {
                v.as_i64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
        };
        Ok(Self {
            access_token: text("access_token")?,
            refresh_token: text("refresh_token")?,
            expires_in: seconds("expires_in")
                .unwrap_or(3600)
                .clamp(0, MAX_ACCESS_SECONDS),
            refresh_expires_in: seconds("x_refresh_token_expires_in")
                .map(|s| s.clamp(0, MAX_REFRESH_SECONDS)),
        })
    }
}

/// An Intuit OAuth client (one app: client id, secret and redirect URI).
#[derive(Clone)]
pub struct QboOAuth {
    http: reqwest::Client,
    endpoints: QboEndpoints,
    client_id: String,
    client_secret: Secret,
    redirect_uri: String,
}

impl QboOAuth {
    /// A client for the app `client_id`.
    pub fn new(
        endpoints: QboEndpoints,
        client_id: impl Into<String>,
        client_secret: Secret,
        redirect_uri: impl Into<String>,
    ) -> Result<Self> {
        Ok(Self {
            http: token_http_client()?,
            endpoints,
            client_id: client_id.into(),
            client_secret,
            redirect_uri: redirect_uri.into(),
        })
    }

    /// The endpoints in use.
    pub fn endpoints(&self) -> &QboEndpoints {
        &self.endpoints
    }

    /// Where to send a person to approve access to a company; `state` comes back on the
    /// redirect and must be checked by the caller.
    pub fn authorize_url(&self, state: &str) -> Url {
        let mut url = self.endpoints.authorization.clone();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client_id)
            .append_pair("response_type", "code")
            .append_pair("scope", ACCOUNTING_SCOPE)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("state", state);
        url
    }

    /// Exchanges an authorization code for the first token pair.
    pub async fn exchange_code(&self, code: &str) -> Result<TokenGrant, OAuthError> {
        let json = post_token_form(
            &self.http,
            &self.endpoints.token,
            &self.client_id,
            &self.client_secret,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", &self.redirect_uri),
            ],
        )
        .await?;
        TokenGrant::from_json(&json)
    }

    /// Exchanges a refresh token for a new pair. Store the returned refresh token before using
    /// the access token: the old one may already be dead.
    pub async fn refresh(&self, refresh_token: &Secret) -> Result<TokenGrant, OAuthError> {
        let json = post_token_form(
            &self.http,
            &self.endpoints.token,
            &self.client_id,
            &self.client_secret,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token.expose()),
            ],
        )
        .await?;
        TokenGrant::from_json(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_token_answer_is_read_and_redacted() {
        let grant = TokenGrant::from_json(&json!({
            "token_type": "bearer", "expires_in": 3600, "refresh_token": "AB11x",
            "x_refresh_token_expires_in": 8726400, "access_token": "eyJx"
        }))
        .unwrap();
        assert_eq!(grant.expires_in, 3600);
        assert_eq!(grant.refresh_expires_in, Some(8_726_400));
        assert_eq!(grant.refresh_token.expose(), "AB11x");
        let debug = format!("{grant:?}");
        assert!(
            !debug.contains("AB11x") && !debug.contains("eyJx"),
            "{debug}"
        );
    }

    #[test]
    fn absurd_lifetimes_are_bounded_not_trusted() {
        for (expires, refresh) in [
            (json!(i64::MAX), json!(i64::MAX)),
            (json!(i64::MIN), json!("-5")),
            (json!("99999999999999999"), json!(u64::MAX)),
        ] {
            let grant = TokenGrant::from_json(&json!({
                "access_token": "a", "refresh_token": "r",
                "expires_in": expires, "x_refresh_token_expires_in": refresh
            }))
            .unwrap();
            assert!(
                (0..=MAX_ACCESS_SECONDS).contains(&grant.expires_in),
                "{grant:?}"
            );
            assert!(grant
                .refresh_expires_in
                .is_none_or(|s| (0..=MAX_REFRESH_SECONDS).contains(&s)));
            // What the broker computes from them cannot overflow.
            let now = chrono::Utc::now();
            let _ = now + chrono::Duration::seconds(grant.expires_in);
        }
    }

    #[test]
    fn an_answer_without_a_refresh_token_is_an_error() {
        let err = TokenGrant::from_json(&json!({"access_token": "x"})).unwrap_err();
        assert!(!err.is_permanent());
    }

    #[test]
    fn the_authorize_url_carries_the_app_and_state() {
        let oauth = QboOAuth::new(
            QboEndpoints::production(),
            "cid",
            Secret::new("s"),
            "https://host/cb",
        )
        .unwrap();
        let url = oauth.authorize_url("st8");
        let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
        assert_eq!(q["client_id"], "cid");
        assert_eq!(q["state"], "st8");
        assert_eq!(q["scope"], ACCOUNTING_SCOPE);
        assert!(!q.contains_key("client_secret"));
    }
}
