//! The token broker: OAuth for QuickBooks Online and Salesforce, owned by the host only.
//!
//! The guest never sees a credential. Each tenant connection (`quickbooks`, `salesforce`) gets a
//! [`TokenBroker`]; [`crate::caps::http`] asks it for a bearer token through
//! [`CredentialSource`](crate::caps::http::CredentialSource) and reports a 401 back with
//! [`TokenBroker::invalidate`].
//!
//! | file | holds |
//! |---|---|
//! | [`vault`] | tokens encrypted at rest (ChaCha20-Poly1305, key from `LEDGERLINK_KEY` or a 0600 key file), connection state and the alert ledger |
//! | [`qbo`] | Intuit OAuth 2.0: discovery, authorize URL, authorization-code exchange, refresh with rotation (api-facts A11) |
//! | [`salesforce`] | Salesforce client-credentials flow (api-facts B2) |
//! | [`broker`] | per connection: cached access token, refresh before expiry, single-flight refresh, `NeedsReconnect` |
//!
//! The rules the broker keeps:
//!
//! | rule | how |
//! |---|---|
//! | refresh before expiry | an access token is renewed once `now >= expires_at - margin` (5 min by default) |
//! | one refresh per expiry | callers queue on one async lock per connection and re-check the cache once they hold it; a failed attempt is shared with every caller that waited on it |
//! | one refresh across hosts | a QBO refresh holds the vault's refresh lock (on PostgreSQL a row lock on the connection's tokens) from reading the refresh token until the rotated pair is committed; a host that waited finds the new pair and uses it |
//! | rotation survives a crash | the rotated refresh token is written (one store transaction) before the access token is handed out; a refresh always starts from the stored refresh token |
//! | no retry loop on a dead grant | `invalid_grant` / `invalid_client` set the connection to [`ConnectionState::NeedsReconnect`] durably, record one alert, and every later call fails fast without network |
//! | Salesforce sessions | client credentials again on a 401 (`INVALID_SESSION_ID`, via `invalidate`) and proactively every 90 min |
//! | secrets stay in the host | tokens and client secrets are [`Secret`]s: `Debug` and `Display` print `[redacted]`; nothing is logged but tenant, connection and outcome |

pub mod broker;
pub mod qbo;
pub mod salesforce;
pub mod vault;

pub use broker::{BrokerHooks, BrokerPolicy, TokenBroker};
pub use vault::{AuthEvent, ConnectionState, Renewal, RenewalError, StoredTokens, Vault, VaultKey};

use chrono::{DateTime, Utc};
use std::fmt;

/// Where the broker reads the time. Tests hand it the emulator's clock.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

impl<F: Fn() -> DateTime<Utc> + Send + Sync> Clock for F {
    fn now(&self) -> DateTime<Utc> {
        self()
    }
}

/// A token or client secret. It never prints: `Debug` and `Display` show `[redacted]`.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// What an OAuth token endpoint said, reduced to what the broker acts on.
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    /// The grant is dead (`invalid_grant`): revoked, expired, or a rotated-out refresh token.
    /// Only a person reconnecting can fix it.
    #[error("the grant was refused (invalid_grant): {description}")]
    InvalidGrant {
        /// `error_description`, which never contains a token.
        description: String,
    },
    /// The client id or secret is wrong (`invalid_client`, `invalid_client_id`).
    #[error("the client credentials were refused ({error}): {description}")]
    InvalidClient {
        /// The OAuth `error` code.
        error: String,
        /// `error_description`.
        description: String,
    },
    /// Anything else: network failure, 5xx, unexpected body. Worth retrying later.
    #[error("token endpoint failed: {0}")]
    Transient(String),
}

impl OAuthError {
    /// True when retrying cannot help and the connection needs a person.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            OAuthError::InvalidGrant { .. } | OAuthError::InvalidClient { .. }
        )
    }
}

/// Why the broker could not give out a token. Every variant names the tenant and connection.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The grant is dead; the connection waits for a person to reconnect it. No network call
    /// was made.
    #[error("tenant {tenant} connection {connection} needs to be reconnected: {reason}")]
    NeedsReconnect {
        /// Tenant.
        tenant: String,
        /// Connection name.
        connection: String,
        /// Why (the token endpoint's description).
        reason: String,
    },
    /// No tokens were ever stored for this connection.
    #[error("tenant {tenant} connection {connection} is not connected yet")]
    NotConnected {
        /// Tenant.
        tenant: String,
        /// Connection name.
        connection: String,
    },
    /// The token endpoint failed in a way worth retrying later.
    #[error("tenant {tenant} connection {connection}: {message}")]
    Transient {
        /// Tenant.
        tenant: String,
        /// Connection name.
        connection: String,
        /// What went wrong (no secrets).
        message: String,
    },
    /// The vault failed (the store, wrong key, corrupted row).
    #[error("tenant {tenant} connection {connection}: token vault: {source:#}")]
    Vault {
        /// Tenant.
        tenant: String,
        /// Connection name.
        connection: String,
        /// The cause.
        source: anyhow::Error,
    },
    /// A [`BrokerHooks`] hook aborted the call (tests simulate a crash this way).
    #[error("tenant {tenant} connection {connection}: aborted by hook: {source:#}")]
    Aborted {
        /// Tenant.
        tenant: String,
        /// Connection name.
        connection: String,
        /// What the hook returned.
        source: anyhow::Error,
    },
}

/// The HTTP client for token endpoints: 30 s timeout, no redirects.
pub(crate) fn token_http_client() -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| anyhow::anyhow!("building the token endpoint HTTP client: {e}"))
}

/// POSTs a form to a token endpoint with HTTP Basic client authentication and returns the JSON
/// answer, or the OAuth error it carried. Nothing here logs or returns a secret.
pub(crate) async fn post_token_form(
    http: &reqwest::Client,
    url: &url::Url,
    client_id: &str,
    client_secret: &Secret,
    form: &[(&str, &str)],
) -> Result<serde_json::Value, OAuthError> {
    let response = http
        .post(url.clone())
        .basic_auth(client_id, Some(client_secret.expose()))
        .header(reqwest::header::ACCEPT, "application/json")
        .form(form)
        .send()
        .await
        // Display of a reqwest error names the URL, never the body or headers.
        .map_err(|e| OAuthError::Transient(format!("POST {url}: {}", e.without_url())))?;
    let status = response.status();
    let body = response
        .bytes()
        .await
        .map_err(|e| OAuthError::Transient(format!("reading the answer of {url}: {e}")))?;
    let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status.is_success() {
        return json.ok_or_else(|| {
            OAuthError::Transient(format!(
                "{url} answered {status} with a body that is not JSON"
            ))
        });
    }
    let field = |name: &str| {
        json.as_ref()
            .and_then(|j| j.get(name))
            .and_then(serde_json::Value::as_str)
            .map(str::to_string)
    };
    let error = field("error").unwrap_or_default();
    let description = field("error_description").unwrap_or_else(|| error.clone());
    match error.as_str() {
        "invalid_grant" => Err(OAuthError::InvalidGrant { description }),
        "invalid_client" | "invalid_client_id" | "unauthorized_client" => {
            Err(OAuthError::InvalidClient { error, description })
        }
        "" => Err(OAuthError::Transient(format!("{url} answered {status}"))),
        _ => Err(OAuthError::Transient(format!(
            "{url} answered {status} ({error}: {description})"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("AB11-very-secret");
        assert_eq!(format!("{s:?} {s}"), "[redacted] [redacted]");
        assert_eq!(s.expose(), "AB11-very-secret");
    }
}
