//! The token broker of one tenant connection.
//!
//! [`TokenBroker::access_token`] answers from memory while the cached access token is good for
//! longer than the refresh margin. Otherwise the caller queues on the connection's async refresh
//! lock; the first one through renews, the others find the new token when they get the lock (or
//! the error of the attempt they waited on: a failure is not retried once per waiter).
//!
//! | provider | renews by | renews when |
//! |---|---|---|
//! | QBO | `refresh_token` grant; the rotated refresh token is stored first | `expires_in` minus the margin, or after [`TokenBroker::invalidate`] |
//! | Salesforce | client credentials again | the session is [`BrokerPolicy::salesforce_session_max_age`] old (90 min), or after [`TokenBroker::invalidate`] (401 `INVALID_SESSION_ID`) |
//!
//! A refresh reads the refresh token from the vault, not from memory, so a process that died
//! between storing a rotated token and using it — or a second broker on the same store — starts
//! from the live token. A QBO refresh runs under the vault's refresh lock
//! ([`Vault::refresh_locked`]), shared by every host on a PostgreSQL store: a host that waited
//! for another's refresh finds the rotated pair and uses it without calling the endpoint.
//!
//! A refused grant puts the connection in [`ConnectionState::NeedsReconnect`] in the vault with
//! one alert ([`BrokerHooks::needs_reconnect`] is called once), and from then on calls fail at
//! once without touching the network until someone reconnects
//! ([`TokenBroker::connect_with_code`] / [`TokenBroker::connect`]).

use super::qbo::QboOAuth;
use super::salesforce::SalesforceOAuth;
use super::vault::{ConnectionState, Renewal, StoredTokens, Vault};
use super::{AuthError, Clock, OAuthError, Secret, SystemClock};
use crate::caps::http::CredentialSource;
use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Timing rules.
#[derive(Clone, Debug)]
pub struct BrokerPolicy {
    /// Renew an access token this long before it expires (5 min).
    pub refresh_margin: Duration,
    /// Re-run Salesforce client credentials once a session is this old (90 min), before the
    /// org's idle timeout can end it.
    pub salesforce_session_max_age: Duration,
}

impl Default for BrokerPolicy {
    fn default() -> Self {
        Self {
            refresh_margin: Duration::minutes(5),
            salesforce_session_max_age: Duration::minutes(90),
        }
    }
}

/// What an embedder may observe or change. Every method has a default that does nothing.
pub trait BrokerHooks: Send + Sync {
    /// New tokens from the endpoint are committed to the vault and about to be used. An error
    /// aborts the call right there, as if the process had died (tests simulate a crash so).
    fn tokens_persisted(&self, tenant: &str, connection: &str) -> anyhow::Result<()> {
        let _ = (tenant, connection);
        Ok(())
    }

    /// The connection just entered [`ConnectionState::NeedsReconnect`] (already recorded
    /// durably). Called once per transition: the place to notify a person.
    fn needs_reconnect(&self, tenant: &str, connection: &str, reason: &str) {
        let _ = (tenant, connection, reason);
    }
}

struct NoHooks;
impl BrokerHooks for NoHooks {}

enum Provider {
    Qbo(QboOAuth),
    Salesforce(SalesforceOAuth),
}

impl Provider {
    fn name(&self) -> &'static str {
        match self {
            Provider::Qbo(_) => "qbo",
            Provider::Salesforce(_) => "salesforce",
        }
    }
}

struct Cache {
    tokens: Option<StoredTokens>,
    /// Tokens obtained but not yet stored (the vault write failed): never handed out.
    unsaved: bool,
    /// An access token a caller reported as refused (401).
    invalidated: Option<Secret>,
    state: ConnectionState,
    reason: Option<String>,
    /// Finished renewal attempts, and the error of the latest one if it failed.
    attempts: u64,
    last_failure: Option<String>,
}

struct Inner {
    tenant: String,
    connection: String,
    provider: Provider,
    vault: Vault,
    clock: Arc<dyn Clock>,
    policy: BrokerPolicy,
    hooks: Arc<dyn BrokerHooks>,
    cache: Mutex<Cache>,
    renewing: tokio::sync::Mutex<()>,
    endpoint_calls: AtomicU64,
}

/// The token broker of one tenant connection. Cloning shares it.
#[derive(Clone)]
pub struct TokenBroker {
    inner: Arc<Inner>,
}

/// Builds a [`TokenBroker`]: [`TokenBroker::qbo`] or [`TokenBroker::salesforce`], then options,
/// then [`BrokerBuilder::build`].
pub struct BrokerBuilder {
    tenant: String,
    connection: String,
    provider: Provider,
    vault: Vault,
    clock: Arc<dyn Clock>,
    policy: BrokerPolicy,
    hooks: Arc<dyn BrokerHooks>,
}

impl BrokerBuilder {
    /// Reads time from `clock` (the wall clock by default).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Timing rules.
    pub fn policy(mut self, policy: BrokerPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Hooks.
    pub fn hooks(mut self, hooks: Arc<dyn BrokerHooks>) -> Self {
        self.hooks = hooks;
        self
    }

    /// Loads the connection's tokens and state from the vault.
    pub fn build(self) -> Result<TokenBroker, AuthError> {
        let vault_err = |source| AuthError::Vault {
            tenant: self.tenant.clone(),
            connection: self.connection.clone(),
            source,
        };
        let tokens = self
            .vault
            .load(&self.tenant, &self.connection)
            .map_err(vault_err)?;
        let (state, reason) = match self
            .vault
            .state(&self.tenant, &self.connection)
            .map_err(vault_err)?
        {
            Some((state, reason)) => (state, reason),
            None if tokens.is_some() => (ConnectionState::Connected, None),
            None => (ConnectionState::NotConnected, None),
        };
        Ok(TokenBroker {
            inner: Arc::new(Inner {
                tenant: self.tenant,
                connection: self.connection,
                provider: self.provider,
                vault: self.vault,
                clock: self.clock,
                policy: self.policy,
                hooks: self.hooks,
                cache: Mutex::new(Cache {
                    tokens,
                    unsaved: false,
                    invalidated: None,
                    state,
                    reason,
                    attempts: 0,
                    last_failure: None,
                }),
                renewing: tokio::sync::Mutex::new(()),
                endpoint_calls: AtomicU64::new(0),
            }),
        })
    }
}

impl TokenBroker {
    fn builder(tenant: &str, connection: &str, provider: Provider, vault: Vault) -> BrokerBuilder {
        BrokerBuilder {
            tenant: tenant.to_string(),
            connection: connection.to_string(),
            provider,
            vault,
            clock: Arc::new(SystemClock),
            policy: BrokerPolicy::default(),
            hooks: Arc::new(NoHooks),
        }
    }

    /// A broker for a QuickBooks Online connection.
    pub fn qbo(tenant: &str, connection: &str, oauth: QboOAuth, vault: Vault) -> BrokerBuilder {
        Self::builder(tenant, connection, Provider::Qbo(oauth), vault)
    }

    /// A broker for a Salesforce connection (client credentials).
    pub fn salesforce(
        tenant: &str,
        connection: &str,
        oauth: SalesforceOAuth,
        vault: Vault,
    ) -> BrokerBuilder {
        Self::builder(tenant, connection, Provider::Salesforce(oauth), vault)
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.inner.tenant
    }

    /// The connection name.
    pub fn connection(&self) -> &str {
        &self.inner.connection
    }

    /// Where the connection stands, and why when it needs a reconnect.
    pub fn state(&self) -> (ConnectionState, Option<String>) {
        let cache = self.cache();
        (cache.state, cache.reason.clone())
    }

    /// Salesforce's `instance_url` of the current session (the connection's base URL).
    pub fn instance_url(&self) -> Option<String> {
        self.cache()
            .tokens
            .as_ref()
            .and_then(|t| t.instance_url.clone())
    }

    /// The QBO realm id of the grant.
    pub fn realm(&self) -> Option<String> {
        self.cache().tokens.as_ref().and_then(|t| t.realm.clone())
    }

    /// How many times this broker called the token endpoint.
    pub fn endpoint_calls(&self) -> u64 {
        self.inner.endpoint_calls.load(Ordering::Relaxed)
    }

    fn cache(&self) -> MutexGuard<'_, Cache> {
        self.inner
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn needs_reconnect_error(&self, reason: Option<&str>) -> AuthError {
        AuthError::NeedsReconnect {
            tenant: self.inner.tenant.clone(),
            connection: self.inner.connection.clone(),
            reason: reason.unwrap_or("the grant was refused").to_string(),
        }
    }

    fn vault_error(&self, source: anyhow::Error) -> AuthError {
        AuthError::Vault {
            tenant: self.inner.tenant.clone(),
            connection: self.inner.connection.clone(),
            source,
        }
    }

    /// True when `tokens` may be handed out at `now`.
    fn usable(
        &self,
        tokens: &StoredTokens,
        invalidated: Option<&Secret>,
        now: DateTime<Utc>,
    ) -> bool {
        if invalidated == Some(&tokens.access_token) {
            return false;
        }
        let policy = &self.inner.policy;
        if let Some(expires) = tokens.access_expires_at {
            if now >= expires - policy.refresh_margin {
                return false;
            }
        }
        match self.inner.provider {
            Provider::Qbo(_) => tokens.access_expires_at.is_some(),
            Provider::Salesforce(_) => now < tokens.issued_at + policy.salesforce_session_max_age,
        }
    }

    /// The cached token if it is good, else the number of finished attempts so far.
    fn cached(&self) -> Result<Result<Secret, u64>, AuthError> {
        let now = self.inner.clock.now();
        let cache = self.cache();
        if cache.state == ConnectionState::NeedsReconnect {
            return Err(self.needs_reconnect_error(cache.reason.as_deref()));
        }
        match &cache.tokens {
            Some(t) if !cache.unsaved && self.usable(t, cache.invalidated.as_ref(), now) => {
                Ok(Ok(t.access_token.clone()))
            }
            _ => Ok(Err(cache.attempts)),
        }
    }

    /// A bearer token that is good for at least the refresh margin, renewing it (once for all
    /// concurrent callers) when needed.
    pub async fn access_token(&self) -> Result<Secret, AuthError> {
        let seen = match self.cached()? {
            Ok(token) => return Ok(token),
            Err(attempts) => attempts,
        };
        let _turn = self.inner.renewing.lock().await;
        match self.cached()? {
            Ok(token) => return Ok(token),
            Err(attempts) if attempts != seen => {
                // An attempt finished while we waited and it did not leave a usable token:
                // share its failure instead of hitting the endpoint again.
                let failure = self.cache().last_failure.clone();
                if let Some(message) = failure {
                    return Err(AuthError::Transient {
                        tenant: self.inner.tenant.clone(),
                        connection: self.inner.connection.clone(),
                        message,
                    });
                }
            }
            Err(_) => {}
        }
        let result = self.renew().await;
        let mut cache = self.cache();
        cache.attempts += 1;
        cache.last_failure = result.as_ref().err().map(|e| e.to_string());
        result
    }

    /// Reports that `token` was refused (HTTP 401): the next call renews. A token that was
    /// already replaced is ignored, so many 401s of one token cause one renewal.
    pub fn invalidate(&self, token: &str) {
        let mut cache = self.cache();
        let current = cache
            .tokens
            .as_ref()
            .is_some_and(|t| t.access_token.expose() == token);
        if current {
            tracing::info!(tenant = %self.inner.tenant, connection = %self.inner.connection,
                "access token reported as refused; it will be renewed");
            cache.invalidated = Some(Secret::new(token));
        }
    }

    /// Stores tokens obtained elsewhere (first connection by an operator, the emulator's
    /// `issue_tokens`, a migration) and marks the connection connected.
    pub fn install(&self, tokens: StoredTokens) -> Result<(), AuthError> {
        let now = self.inner.clock.now();
        self.inner
            .vault
            .store(&self.inner.tenant, &self.inner.connection, &tokens, now)
            .map_err(|e| self.vault_error(e))?;
        self.set_connected(tokens);
        Ok(())
    }

    /// Finishes the QBO authorization-code flow: exchanges `code` (from the redirect) for the
    /// first token pair of `realm`, stores it and marks the connection connected (also after
    /// `NeedsReconnect`).
    pub async fn connect_with_code(&self, code: &str, realm: &str) -> Result<(), AuthError> {
        let Provider::Qbo(oauth) = &self.inner.provider else {
            return Err(AuthError::Transient {
                tenant: self.inner.tenant.clone(),
                connection: self.inner.connection.clone(),
                message: "the authorization-code flow is for QBO connections".into(),
            });
        };
        let _turn = self.inner.renewing.lock().await;
        let now = self.inner.clock.now();
        self.inner.endpoint_calls.fetch_add(1, Ordering::Relaxed);
        let grant = oauth
            .exchange_code(code)
            .await
            .map_err(|e| self.transient(format!("exchanging the authorization code: {e}")))?;
        let tokens = StoredTokens {
            access_token: grant.access_token,
            issued_at: now,
            access_expires_at: Some(now + Duration::seconds(grant.expires_in)),
            refresh_token: Some(grant.refresh_token),
            refresh_expires_at: grant.refresh_expires_in.map(|s| now + Duration::seconds(s)),
            instance_url: None,
            realm: Some(realm.to_string()),
        };
        self.commit(tokens).map(|_| ())
    }

    /// (Re)connects a Salesforce connection by running client credentials now, also after
    /// `NeedsReconnect` (for example once the connected app's secret was fixed).
    pub async fn connect(&self) -> Result<(), AuthError> {
        let _turn = self.inner.renewing.lock().await;
        {
            let mut cache = self.cache();
            cache.state = ConnectionState::NotConnected;
        }
        self.renew().await.map(|_| ())
    }

    fn transient(&self, message: String) -> AuthError {
        AuthError::Transient {
            tenant: self.inner.tenant.clone(),
            connection: self.inner.connection.clone(),
            message,
        }
    }

    fn set_connected(&self, tokens: StoredTokens) {
        let mut cache = self.cache();
        cache.tokens = Some(tokens);
        cache.unsaved = false;
        cache.invalidated = None;
        cache.state = ConnectionState::Connected;
        cache.reason = None;
    }

    /// Stores tokens just obtained from the endpoint, then (and only then) caches and returns
    /// the access token.
    fn commit(&self, tokens: StoredTokens) -> Result<Secret, AuthError> {
        let (tenant, connection) = (&self.inner.tenant, &self.inner.connection);
        if let Err(e) = self
            .inner
            .vault
            .store(tenant, connection, &tokens, self.inner.clock.now())
        {
            return Err(self.hold_unsaved(tokens, e));
        }
        self.persisted(tokens)
    }

    /// Keeps tokens whose write failed in memory, never handed out: the old refresh token may
    /// be dead already, so the next call retries the write.
    fn hold_unsaved(&self, tokens: StoredTokens, error: anyhow::Error) -> AuthError {
        let (tenant, connection) = (&self.inner.tenant, &self.inner.connection);
        tracing::error!(tenant = %tenant, connection = %connection, error = %error,
            "could not store renewed tokens; holding them until the vault accepts them");
        let mut cache = self.cache();
        cache.tokens = Some(tokens);
        cache.unsaved = true;
        drop(cache);
        self.vault_error(error)
    }

    /// Tokens from the endpoint are committed to the vault: tells the hooks, then caches and
    /// returns the access token.
    fn persisted(&self, tokens: StoredTokens) -> Result<Secret, AuthError> {
        let (tenant, connection) = (&self.inner.tenant, &self.inner.connection);
        self.inner
            .hooks
            .tokens_persisted(tenant, connection)
            .map_err(|source| AuthError::Aborted {
                tenant: tenant.clone(),
                connection: connection.clone(),
                source,
            })?;
        let access = tokens.access_token.clone();
        self.set_connected(tokens);
        tracing::debug!(tenant = %tenant, connection = %connection, "tokens renewed and stored");
        Ok(access)
    }

    /// Records `NeedsReconnect` (once) and fails.
    fn enter_needs_reconnect(&self, error: &OAuthError) -> AuthError {
        let (tenant, connection) = (&self.inner.tenant, &self.inner.connection);
        let reason = error.to_string();
        let transitioned = self.inner.vault.mark_needs_reconnect(
            tenant,
            connection,
            &reason,
            self.inner.clock.now(),
        );
        {
            let mut cache = self.cache();
            cache.state = ConnectionState::NeedsReconnect;
            cache.reason = Some(reason.clone());
        }
        match transitioned {
            Ok(true) => {
                tracing::error!(tenant = %tenant, connection = %connection, provider = self.inner.provider.name(),
                    reason = %reason, "connection needs to be reconnected");
                self.inner
                    .hooks
                    .needs_reconnect(tenant, connection, &reason);
            }
            Ok(false) => {}
            Err(e) => {
                tracing::error!(tenant = %tenant, connection = %connection, error = %e,
                    "could not record that the connection needs to be reconnected");
            }
        }
        self.needs_reconnect_error(Some(&reason))
    }

    /// Renews the access token. The caller holds the renewal lock.
    async fn renew(&self) -> Result<Secret, AuthError> {
        let (tenant, connection) = (&self.inner.tenant, &self.inner.connection);
        // Tokens obtained earlier whose write failed: store them first.
        let unsaved = {
            let cache = self.cache();
            cache.unsaved.then(|| cache.tokens.clone()).flatten()
        };
        if let Some(tokens) = unsaved {
            return self.commit(tokens);
        }
        match &self.inner.provider {
            Provider::Qbo(_) => self.renew_qbo().await,
            Provider::Salesforce(oauth) => {
                let now = self.inner.clock.now();
                self.inner.endpoint_calls.fetch_add(1, Ordering::Relaxed);
                match oauth.client_credentials().await {
                    Ok(session) => self.commit(StoredTokens {
                        access_token: session.access_token,
                        issued_at: now,
                        access_expires_at: None,
                        refresh_token: None,
                        refresh_expires_at: None,
                        instance_url: Some(session.instance_url),
                        realm: None,
                    }),
                    Err(e) if e.is_permanent() => Err(self.enter_needs_reconnect(&e)),
                    Err(e) => {
                        tracing::warn!(tenant = %tenant, connection = %connection, error = %e,
                            "Salesforce client-credentials request failed");
                        Err(self.transient(e.to_string()))
                    }
                }
            }
        }
    }

    /// Renews a QBO access token under the vault's refresh lock, shared by every host on the
    /// store: the refresh token is read once the lock is held and the rotated pair is committed
    /// before the lock is released, so no two refreshes ever spend the same refresh token.
    async fn renew_qbo(&self) -> Result<Secret, AuthError> {
        let (tenant, connection) = (&self.inner.tenant, &self.inner.connection);
        // At most two rounds: the second only when the stored refresh token changed under us
        // (on a SQLite store, whose lock does not span brokers on other connections, another
        // broker rotated it).
        let mut used: Option<Secret> = None;
        for _ in 0..2 {
            let broker = self.clone();
            let spent = used.clone();
            let renewal = self
                .inner
                .vault
                .refresh_locked(tenant, connection, move |stored| async move {
                    broker.refresh_qbo_locked(stored, spent).await
                })
                .await;
            let outcome = match renewal {
                Ok(Renewal::Store(tokens, _)) => return self.persisted(tokens),
                Ok(Renewal::Keep(outcome)) => outcome,
                Err(e) => {
                    if let Some(tokens) = e.unsaved {
                        return Err(self.hold_unsaved(tokens, e.source));
                    }
                    return Err(self.vault_error(e.source));
                }
            };
            match outcome {
                Locked::Current(stored) => {
                    let access = stored.access_token.clone();
                    self.set_connected(stored);
                    return Ok(access);
                }
                Locked::NotConnected => {
                    return Err(AuthError::NotConnected {
                        tenant: tenant.clone(),
                        connection: connection.clone(),
                    })
                }
                Locked::AlreadySpent => break,
                Locked::Refused(e, refresh) if e.is_permanent() => {
                    let current = self
                        .inner
                        .vault
                        .load(tenant, connection)
                        .map_err(|e| self.vault_error(e))?
                        .and_then(|t| t.refresh_token);
                    if current.is_some() && current.as_ref() != Some(&refresh) {
                        tracing::info!(tenant = %tenant, connection = %connection,
                            "refresh token was rotated by another broker; retrying with the stored one");
                        used = Some(refresh);
                        continue;
                    }
                    return Err(self.enter_needs_reconnect(&e));
                }
                Locked::Refused(e, _) => {
                    tracing::warn!(tenant = %tenant, connection = %connection, error = %e,
                        "QBO token refresh failed");
                    return Err(self.transient(e.to_string()));
                }
            }
        }
        Err(self.transient("the stored refresh token kept changing during the refresh".into()))
    }

    /// The QBO refresh proper, run under the refresh lock with the tokens as stored: uses them
    /// when they are good (another host or broker just renewed them), else spends the stored
    /// refresh token (unless it is `spent`, already refused). It must not touch the vault: on
    /// PostgreSQL it runs inside the transaction that holds the lock.
    async fn refresh_qbo_locked(
        self,
        stored: Option<StoredTokens>,
        spent: Option<Secret>,
    ) -> Renewal<Locked> {
        let Provider::Qbo(oauth) = &self.inner.provider else {
            return Renewal::Keep(Locked::NotConnected);
        };
        let Some(stored) = stored else {
            return Renewal::Keep(Locked::NotConnected);
        };
        // The vault may hold a newer pair than memory (a restart after a crash, another host):
        // use it if it is good.
        let now = self.inner.clock.now();
        let invalidated = self.cache().invalidated.clone();
        if self.usable(&stored, invalidated.as_ref(), now) {
            return Renewal::Keep(Locked::Current(stored));
        }
        let Some(refresh) = stored.refresh_token.clone() else {
            return Renewal::Keep(Locked::NotConnected);
        };
        if spent.as_ref() == Some(&refresh) {
            return Renewal::Keep(Locked::AlreadySpent);
        }
        self.inner.endpoint_calls.fetch_add(1, Ordering::Relaxed);
        match oauth.refresh(&refresh).await {
            Ok(grant) => Renewal::Store(
                StoredTokens {
                    access_token: grant.access_token,
                    issued_at: now,
                    access_expires_at: Some(now + Duration::seconds(grant.expires_in)),
                    refresh_token: Some(grant.refresh_token),
                    refresh_expires_at: grant
                        .refresh_expires_in
                        .map(|s| now + Duration::seconds(s))
                        .or(stored.refresh_expires_at),
                    instance_url: stored.instance_url,
                    realm: stored.realm,
                },
                now,
            ),
            Err(e) => Renewal::Keep(Locked::Refused(e, refresh)),
        }
    }
}

/// What a QBO refresh under the lock found, when it stored nothing.
enum Locked {
    /// The stored pair is good.
    Current(StoredTokens),
    /// No tokens, or no refresh token.
    NotConnected,
    /// The stored refresh token is the one already refused in an earlier round.
    AlreadySpent,
    /// The token endpoint failed; the refresh token that was sent.
    Refused(OAuthError, Secret),
}

impl CredentialSource for TokenBroker {
    fn bearer(&self) -> Pin<Box<dyn Future<Output = anyhow::Result<Option<String>>> + Send + '_>> {
        Box::pin(async move {
            let token = self.access_token().await?;
            Ok(Some(token.expose().to_string()))
        })
    }

    fn invalidate(&self, token: &str) {
        TokenBroker::invalidate(self, token);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::qbo::QboEndpoints;
    use crate::auth::vault::VaultKey;
    use crate::db::Database;

    fn broker_at(now: DateTime<Utc>) -> (TokenBroker, Arc<Mutex<DateTime<Utc>>>) {
        let vault = Vault::open(Database::in_memory().unwrap(), &VaultKey::generate()).unwrap();
        // A token endpoint nobody listens on: any network call fails.
        let endpoints = QboEndpoints {
            authorization: url::Url::parse("http://127.0.0.1:9/connect").unwrap(),
            token: url::Url::parse("http://127.0.0.1:9/token").unwrap(),
            revocation: None,
        };
        let oauth = QboOAuth::new(endpoints, "id", Secret::new("s"), "http://cb").unwrap();
        let clock = Arc::new(Mutex::new(now));
        let c = clock.clone();
        let broker = TokenBroker::qbo("t", "quickbooks", oauth, vault)
            .clock(Arc::new(move || *c.lock().unwrap()))
            .build()
            .unwrap();
        (broker, clock)
    }

    fn pair(now: DateTime<Utc>, access: &str) -> StoredTokens {
        StoredTokens {
            access_token: Secret::new(access),
            issued_at: now,
            access_expires_at: Some(now + Duration::seconds(3600)),
            refresh_token: Some(Secret::new("r")),
            refresh_expires_at: None,
            instance_url: None,
            realm: Some("1".into()),
        }
    }

    #[tokio::test]
    async fn a_fresh_token_is_served_from_memory() {
        let now = Utc::now();
        let (broker, _) = broker_at(now);
        broker.install(pair(now, "a1")).unwrap();
        assert_eq!(broker.access_token().await.unwrap().expose(), "a1");
        assert_eq!(broker.endpoint_calls(), 0);
    }

    #[tokio::test]
    async fn a_token_inside_the_margin_is_renewed() {
        let now = Utc::now();
        let (broker, clock) = broker_at(now);
        broker.install(pair(now, "a1")).unwrap();
        *clock.lock().unwrap() = now + Duration::seconds(3600 - 299);
        // The endpoint is unreachable: a transient error naming tenant and connection.
        let err = broker.access_token().await.unwrap_err().to_string();
        assert!(err.contains("tenant t connection quickbooks"), "{err}");
        assert_eq!(broker.endpoint_calls(), 1);
        assert_eq!(broker.state().0, ConnectionState::Connected);
    }

    #[tokio::test]
    async fn invalidating_an_old_token_does_nothing() {
        let now = Utc::now();
        let (broker, _) = broker_at(now);
        broker.install(pair(now, "a2")).unwrap();
        broker.invalidate("a1");
        assert_eq!(broker.access_token().await.unwrap().expose(), "a2");
        broker.invalidate("a2");
        assert!(broker.access_token().await.is_err());
    }

    #[test]
    fn states_round_trip_through_their_names() {
        for s in [
            ConnectionState::NotConnected,
            ConnectionState::Connected,
            ConnectionState::NeedsReconnect,
        ] {
            assert_eq!(ConnectionState::parse(s.as_str()), s);
        }
    }
}
