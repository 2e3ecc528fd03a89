//! Salesforce OAuth 2.0 client-credentials flow (api-facts B2).
//!
//! `POST https://<MyDomain>.my.salesforce.com/services/oauth2/token` with
//! `grant_type=client_credentials` and the connected app's id and secret (HTTP Basic). The answer
//! has `access_token`, `instance_url` and `issued_at` (epoch ms as a string) and **no** refresh
//! token and no `expires_in`: the session ends after the org's idle timeout (about 2 h). So the
//! broker simply runs the flow again, when a call comes back 401 `INVALID_SESSION_ID` and
//! proactively once a session is 90 min old.

use super::{post_token_form, token_http_client, OAuthError, Secret};
use anyhow::{bail, Result};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use url::Url;

/// The path of the token endpoint under the My Domain host.
pub const TOKEN_PATH: &str = "/services/oauth2/token";

/// A session from the token endpoint. `Debug` redacts the token.
#[derive(Clone, Debug)]
pub struct SalesforceSession {
    /// Bearer token.
    pub access_token: Secret,
    /// Where the org's API lives.
    pub instance_url: String,
    /// When Salesforce issued it, if it said.
    pub issued_at: Option<DateTime<Utc>>,
}

impl SalesforceSession {
    fn from_json(json: &Value) -> Result<Self, OAuthError> {
        let text = |name: &str| {
            json.get(name)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| OAuthError::Transient(format!("the token answer has no {name}")))
        };
        let issued_at = json
            .get("issued_at")
            .and_then(Value::as_str)
            .and_then(|ms| ms.parse::<i64>().ok())
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single());
        Ok(Self {
            access_token: Secret::new(text("access_token")?),
            instance_url: text("instance_url")?.trim_end_matches('/').to_string(),
            issued_at,
        })
    }
}

/// A client-credentials client for one connected app and org.
#[derive(Clone)]
pub struct SalesforceOAuth {
    http: reqwest::Client,
    token_url: Url,
    client_id: String,
    client_secret: Secret,
}

impl SalesforceOAuth {
    /// A client for the org at `my_domain` (`https://<MyDomain>.my.salesforce.com` or an
    /// emulator's URL). The generic `login`/`test` hosts are refused: client credentials need My
    /// Domain.
    pub fn new(
        my_domain: &Url,
        client_id: impl Into<String>,
        client_secret: Secret,
    ) -> Result<Self> {
        if matches!(
            my_domain.host_str(),
            Some("login.salesforce.com" | "test.salesforce.com")
        ) {
            bail!("the client-credentials flow needs the org's My Domain host, not {my_domain}");
        }
        Ok(Self {
            http: token_http_client()?,
            token_url: my_domain.join(TOKEN_PATH)?,
            client_id: client_id.into(),
            client_secret,
        })
    }

    /// Runs the flow: a new session.
    pub async fn client_credentials(&self) -> Result<SalesforceSession, OAuthError> {
        let json = post_token_form(
            &self.http,
            &self.token_url,
            &self.client_id,
            &self.client_secret,
            &[("grant_type", "client_credentials")],
        )
        .await?;
        SalesforceSession::from_json(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_session_answer_is_read() {
        let s = SalesforceSession::from_json(&json!({
            "access_token": "00D!x", "instance_url": "https://acme.my.salesforce.com/",
            "issued_at": "1700000000000", "token_type": "Bearer"
        }))
        .unwrap();
        assert_eq!(s.instance_url, "https://acme.my.salesforce.com");
        assert_eq!(s.issued_at.unwrap().timestamp(), 1_700_000_000);
        assert!(!format!("{s:?}").contains("00D!x"));
    }

    #[test]
    fn login_hosts_are_refused() {
        let url = Url::parse("https://login.salesforce.com").unwrap();
        assert!(SalesforceOAuth::new(&url, "id", Secret::new("s")).is_err());
    }
}
