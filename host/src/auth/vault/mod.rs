//! Tokens encrypted at rest, in the host's store (the SQLite file or the shared PostgreSQL
//! database).
//!
//! | table | row |
//! |---|---|
//! | `tokens(tenant, connection, nonce, ciphertext, updated)` | one [`StoredTokens`] per connection, as ChaCha20-Poly1305 ciphertext of its JSON; the associated data binds it to its tenant and connection, so a row copied elsewhere does not decrypt |
//! | `auth_connections(tenant, connection, state, reason, updated)` | [`ConnectionState`] of each connection |
//! | `auth_events(id, tenant, connection, kind, detail, at)` | alerts for people, e.g. one `needs_reconnect` when a grant dies |
//! | `auth_key_check(id, nonce, ciphertext)` | a known plaintext under the key, so a wrong key is reported when the vault opens rather than on first use |
//!
//! The key is 32 bytes: base64 in the environment variable `LEDGERLINK_KEY`, or else a key file
//! created on first use with mode 0600 ([`VaultKey::from_env_or_file`]). Encryption happens
//! here, in [`Vault`]: the backends (`sqlite.rs`, `postgres.rs`, behind the `VaultStore`
//! interface) only ever see nonces and ciphertext.
//!
//! [`Vault::store`] writes the tokens and marks the connection connected in one transaction: a
//! rotated refresh token is stored before anyone can use the access token that came with it.
//!
//! [`Vault::refresh_locked`] runs a refresh of rotating tokens under the connection's refresh
//! lock, so that hosts sharing a store never spend the same refresh token twice (Intuit would
//! answer the second with `invalid_grant`, and the tenant would be locked out): on PostgreSQL a
//! row lock on the connection's `tokens` row, held from reading the live refresh token until the
//! new pair is committed; on SQLite (one process) the broker's own lock is enough.

mod postgres;
mod sqlite;

use super::Secret;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::{DateTime, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::db::{Backend, Database};

/// Where a connection stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnectionState {
    /// No tokens yet.
    NotConnected,
    /// Tokens work (as far as we know).
    Connected,
    /// The grant was refused; a person must reconnect. Calls fail fast.
    NeedsReconnect,
}

impl ConnectionState {
    /// The name stored in `auth_connections.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::NotConnected => "not_connected",
            ConnectionState::Connected => "connected",
            ConnectionState::NeedsReconnect => "needs_reconnect",
        }
    }

    /// The state named `s` (unknown names read as not connected).
    pub fn parse(s: &str) -> Self {
        match s {
            "connected" => ConnectionState::Connected,
            "needs_reconnect" => ConnectionState::NeedsReconnect,
            _ => ConnectionState::NotConnected,
        }
    }
}

/// The environment variable holding the base64 vault key.
pub const KEY_ENV: &str = "LEDGERLINK_KEY";

const KEY_CHECK_PLAINTEXT: &[u8] = b"ledgerlink vault key check v1";
const KEY_CHECK_AAD: &[u8] = b"ledgerlink-key-check";

/// The 32-byte vault key. `Debug` never shows it.
#[derive(Clone)]
pub struct VaultKey([u8; 32]);

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey([redacted])")
    }
}

impl VaultKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let mut key = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut key);
        Self(key)
    }

    /// A key from its base64 form (standard alphabet, padding optional).
    pub fn from_base64(text: &str) -> Result<Self> {
        let text = text.trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| anyhow!("the vault key is not valid base64"))?;
        let key: [u8; 32] = bytes.as_slice().try_into().map_err(|_| {
            anyhow!(
                "the vault key must be 32 bytes once base64-decoded, got {}",
                bytes.len()
            )
        })?;
        Ok(Self(key))
    }

    /// The base64 form (what the key file and `LEDGERLINK_KEY` hold).
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    /// The key in the file at `path`, or a new one written there with mode 0600 when the file
    /// does not exist.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                refuse_if_open_to_others(path)?;
                return Self::from_base64(&text)
                    .with_context(|| format!("reading the vault key file {}", path.display()));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("reading the vault key file {}", path.display()))
            }
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory of {}", path.display()))?;
        }
        let key = Self::generate();
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = match options.open(path) {
            Ok(file) => file,
            // Another process created it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Self::load_or_create(path)
            }
            Err(e) => {
                return Err(e)
                    .with_context(|| format!("creating the vault key file {}", path.display()))
            }
        };
        use std::io::Write;
        file.write_all(format!("{}\n", key.to_base64()).as_bytes())
            .and_then(|()| file.sync_all())
            .with_context(|| format!("writing the vault key file {}", path.display()))?;
        tracing::info!(path = %path.display(), "created a new vault key file (mode 0600)");
        Ok(key)
    }

    /// The key from `LEDGERLINK_KEY` when it is set, else from (or created in) `key_file`.
    pub fn from_env_or_file(key_file: &Path) -> Result<Self> {
        match std::env::var(KEY_ENV) {
            Ok(value) => Self::from_base64(&value).with_context(|| format!("reading {KEY_ENV}")),
            Err(std::env::VarError::NotPresent) => Self::load_or_create(key_file),
            Err(std::env::VarError::NotUnicode(_)) => bail!("{KEY_ENV} is not valid UTF-8"),
        }
    }
}

/// A key file other users can read or write is refused: whoever reads it decrypts every stored
/// token, whoever writes it can swap the key.
fn refuse_if_open_to_others(path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(path)
            .with_context(|| format!("reading the vault key file {}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            bail!(
                "the vault key file {} is open to other users (mode {mode:o}); chmod 600 it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// What the vault keeps for one connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredTokens {
    /// The bearer token.
    pub access_token: Secret,
    /// When the access token was obtained (host clock).
    pub issued_at: DateTime<Utc>,
    /// When the access token stops working, as the provider told us (`expires_in`); none when
    /// the provider does not say (Salesforce).
    pub access_expires_at: Option<DateTime<Utc>>,
    /// The refresh token (QBO); none for client credentials.
    pub refresh_token: Option<Secret>,
    /// When the refresh token expires (`x_refresh_token_expires_in`).
    pub refresh_expires_at: Option<DateTime<Utc>>,
    /// Salesforce `instance_url`.
    pub instance_url: Option<String>,
    /// QBO realm id the grant is for.
    pub realm: Option<String>,
}

/// One alert for people.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthEvent {
    /// Tenant.
    pub tenant: String,
    /// Connection.
    pub connection: String,
    /// `needs_reconnect`, `reconnected`.
    pub kind: String,
    /// Human-readable detail (never a token).
    pub detail: String,
    /// When.
    pub at: DateTime<Utc>,
}

/// A nonce and the ciphertext sealed with it: all the store ever holds of a secret.
pub(crate) struct Sealed {
    nonce: Vec<u8>,
    ciphertext: Vec<u8>,
}

/// New tokens to write under the refresh lock, sealed, with the time to record.
pub(crate) struct SealedWrite {
    sealed: Sealed,
    updated: String,
}

/// One `auth_events` row as stored.
pub(crate) struct EventRow {
    tenant: String,
    connection: String,
    kind: String,
    detail: String,
    at: String,
}

/// A future of a store method that outlives the call.
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// What runs under the refresh lock: given the connection's sealed row (read under the lock),
/// the sealed tokens to commit before the lock is released, if any.
pub(crate) type RenewUnderLock =
    Box<dyn FnOnce(Option<Sealed>) -> BoxFuture<Option<SealedWrite>> + Send>;

/// The vault's rows in one backend.
pub(crate) trait VaultStore: Send + Sync {
    /// The key check row, if one was written.
    fn key_check(&self) -> Result<Option<Sealed>>;
    /// Writes the key check row unless one exists; true when this call wrote it.
    fn add_key_check(&self, check: &Sealed) -> Result<bool>;
    /// The sealed tokens of a connection.
    fn tokens(&self, tenant: &str, connection: &str) -> Result<Option<Sealed>>;
    /// Writes the sealed tokens of a connection and marks it connected, in one durable
    /// transaction.
    fn put_tokens(&self, tenant: &str, connection: &str, sealed: &Sealed, now: &str) -> Result<()>;
    /// The state name and reason of a connection.
    fn state(&self, tenant: &str, connection: &str) -> Result<Option<(String, Option<String>)>>;
    /// Marks a connection `needs_reconnect` with one event, in one transaction, unless it
    /// already is; true when this call did.
    fn mark_needs_reconnect(
        &self,
        tenant: &str,
        connection: &str,
        reason: &str,
        now: &str,
    ) -> Result<bool>;
    /// The events, oldest first; only `tenant`'s when given.
    fn events(&self, tenant: Option<&str>) -> Result<Vec<EventRow>>;
    /// Runs `renew` under the connection's refresh lock and commits what it returns (tokens and
    /// the connected state, as [`VaultStore::put_tokens`]) before releasing the lock.
    fn renew_locked(
        &self,
        tenant: &str,
        connection: &str,
        renew: RenewUnderLock,
    ) -> BoxFuture<Result<()>>;
}

/// What a refresh under the lock decided ([`Vault::refresh_locked`]).
#[derive(Debug)]
pub enum Renewal<T> {
    /// Nothing to write: the stored tokens are fresh (another host renewed them), or the
    /// token endpoint failed. `T` tells the caller which.
    Keep(T),
    /// New tokens from the endpoint, recorded as updated at the given time. Returned by
    /// [`Vault::refresh_locked`] only once they are committed.
    Store(StoredTokens, DateTime<Utc>),
}

/// A refresh under the lock that did not finish.
#[derive(Debug, thiserror::Error)]
#[error("{source:#}")]
pub struct RenewalError {
    /// Tokens the endpoint issued that could not be stored. The refresh token they replace
    /// may already be dead, so the caller keeps them to retry the write.
    pub unsaved: Option<StoredTokens>,
    /// What failed.
    pub source: anyhow::Error,
}

/// The encrypted token store. Cloning shares the store and key.
#[derive(Clone)]
pub struct Vault {
    store: Arc<dyn VaultStore>,
    cipher: ChaCha20Poly1305,
}

fn aad(tenant: &str, connection: &str) -> Vec<u8> {
    format!("ledgerlink-tokens\0{tenant}\0{connection}").into_bytes()
}

fn new_nonce() -> [u8; 12] {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    nonce
}

impl Vault {
    /// Opens the vault in `db` with `key`. Fails with a clear error when the store already
    /// holds tokens encrypted under another key.
    pub fn open(db: Database, key: &VaultKey) -> Result<Self> {
        let store: Arc<dyn VaultStore> = match db.backend() {
            Backend::Sqlite(db) => Arc::new(sqlite::SqliteVault::new(db.clone())),
            Backend::Postgres(db) => Arc::new(postgres::PostgresVault::new(db.clone())),
        };
        let vault = Self {
            store,
            cipher: ChaCha20Poly1305::new(Key::from_slice(&key.0)),
        };
        vault.check_key()?;
        Ok(vault)
    }

    /// Verifies the key against the key check row, writing the row when the store has none.
    fn check_key(&self) -> Result<()> {
        let existing = self
            .store
            .key_check()
            .context("reading the vault key check")?;
        let check = match existing {
            Some(check) => check,
            None => {
                let check = self
                    .seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_AAD)
                    .ok_or_else(|| anyhow!("encrypting the vault key check"))?;
                if self
                    .store
                    .add_key_check(&check)
                    .context("writing the vault key check")?
                {
                    return Ok(());
                }
                // Another host wrote it first: it must be under this key too.
                self.store
                    .key_check()
                    .context("reading the vault key check")?
                    .ok_or_else(|| anyhow!("the vault key check row vanished"))?
            }
        };
        let ok = self
            .unseal(&check, KEY_CHECK_AAD)
            .is_some_and(|p| p == KEY_CHECK_PLAINTEXT);
        if !ok {
            bail!(
                "the vault key does not match the key the stored tokens were encrypted with \
                 (check {KEY_ENV} or the key file)"
            );
        }
        Ok(())
    }

    fn seal(&self, plain: &[u8], aad: &[u8]) -> Option<Sealed> {
        let nonce = new_nonce();
        let ciphertext = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), Payload { msg: plain, aad })
            .ok()?;
        Some(Sealed {
            nonce: nonce.to_vec(),
            ciphertext,
        })
    }

    /// The plaintext, or none when the nonce is malformed or the ciphertext does not open
    /// under this key and `aad`.
    fn unseal(&self, sealed: &Sealed, aad: &[u8]) -> Option<Vec<u8>> {
        if sealed.nonce.len() != 12 {
            return None;
        }
        self.cipher
            .decrypt(
                Nonce::from_slice(&sealed.nonce),
                Payload {
                    msg: &sealed.ciphertext,
                    aad,
                },
            )
            .ok()
    }

    fn seal_tokens(&self, tenant: &str, connection: &str, tokens: &StoredTokens) -> Result<Sealed> {
        let plain = serde_json::to_vec(tokens).context("serialising tokens")?;
        self.seal(&plain, &aad(tenant, connection))
            .ok_or_else(|| anyhow!("encrypting tokens of tenant {tenant} connection {connection}"))
    }

    fn unseal_tokens(
        &self,
        tenant: &str,
        connection: &str,
        sealed: &Sealed,
    ) -> Result<StoredTokens> {
        if sealed.nonce.len() != 12 {
            bail!("tokens of tenant {tenant} connection {connection}: the stored nonce is not 12 bytes");
        }
        let plain = self
            .unseal(sealed, &aad(tenant, connection))
            .ok_or_else(|| {
                anyhow!(
                    "cannot decrypt the tokens of tenant {tenant} connection {connection}: \
                 wrong vault key ({KEY_ENV} or key file) or a corrupted row"
                )
            })?;
        serde_json::from_slice(&plain).map_err(|e| {
            anyhow!("tokens of tenant {tenant} connection {connection} are not readable: {e}")
        })
    }

    /// The tokens of a connection, if any were stored.
    pub fn load(&self, tenant: &str, connection: &str) -> Result<Option<StoredTokens>> {
        let sealed = self.store.tokens(tenant, connection).with_context(|| {
            format!("reading tokens of tenant {tenant} connection {connection}")
        })?;
        sealed
            .map(|sealed| self.unseal_tokens(tenant, connection, &sealed))
            .transpose()
    }

    /// Stores the tokens of a connection and marks it connected, in one transaction.
    pub fn store(
        &self,
        tenant: &str,
        connection: &str,
        tokens: &StoredTokens,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let sealed = self.seal_tokens(tenant, connection, tokens)?;
        self.store
            .put_tokens(tenant, connection, &sealed, &now.to_rfc3339())
            .with_context(|| format!("storing tokens of tenant {tenant} connection {connection}"))
    }

    /// Refreshes a connection's tokens under its refresh lock, shared by every host on the
    /// store. `renew` gets the tokens as stored once the lock is held (the live refresh token,
    /// or the fresh pair another host just stored) and answers [`Renewal::Store`] with the
    /// new tokens, which are committed before the lock is released and before this returns,
    /// or [`Renewal::Keep`] to write nothing.
    ///
    /// On PostgreSQL `renew` runs on the store's runtime, inside the transaction holding the
    /// row lock (so it must not call the vault or the store itself); the calling task awaits
    /// it without blocking its thread. On SQLite it runs in place: a SQLite store has one
    /// process, whose brokers refresh a connection one at a time.
    pub async fn refresh_locked<T, F, Fut>(
        &self,
        tenant: &str,
        connection: &str,
        renew: F,
    ) -> Result<Renewal<T>, RenewalError>
    where
        T: Send + 'static,
        F: FnOnce(Option<StoredTokens>) -> Fut + Send + 'static,
        Fut: Future<Output = Renewal<T>> + Send + 'static,
    {
        type Slot<T> = Arc<Mutex<Option<Result<Renewal<T>, RenewalError>>>>;
        fn decide<T>(slot: &Slot<T>, outcome: Result<Renewal<T>, RenewalError>) {
            *slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        }
        let slot: Slot<T> = Arc::new(Mutex::new(None));
        let under_lock: RenewUnderLock = {
            let (vault, slot) = (self.clone(), slot.clone());
            let (tenant, connection) = (tenant.to_string(), connection.to_string());
            Box::new(move |current| {
                Box::pin(async move {
                    let current = match current
                        .map(|sealed| vault.unseal_tokens(&tenant, &connection, &sealed))
                        .transpose()
                    {
                        Ok(current) => current,
                        Err(source) => {
                            decide(
                                &slot,
                                Err(RenewalError {
                                    unsaved: None,
                                    source,
                                }),
                            );
                            return None;
                        }
                    };
                    let renewal = renew(current).await;
                    let write = match &renewal {
                        Renewal::Keep(_) => None,
                        Renewal::Store(tokens, at) => {
                            match vault.seal_tokens(&tenant, &connection, tokens) {
                                Ok(sealed) => Some(SealedWrite {
                                    sealed,
                                    updated: at.to_rfc3339(),
                                }),
                                Err(source) => {
                                    let unsaved = Some(tokens.clone());
                                    decide(&slot, Err(RenewalError { unsaved, source }));
                                    return None;
                                }
                            }
                        }
                    };
                    decide(&slot, Ok(renewal));
                    write
                })
            })
        };
        let locked = self
            .store
            .renew_locked(tenant, connection, under_lock)
            .await;
        let decided = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
        match (locked, decided) {
            (Ok(()), Some(outcome)) => outcome,
            (Ok(()), None) => Err(RenewalError {
                unsaved: None,
                source: anyhow!(
                    "the refresh of tenant {tenant} connection {connection} ended without an answer"
                ),
            }),
            (Err(source), Some(Ok(Renewal::Store(tokens, _)))) => Err(RenewalError {
                unsaved: Some(tokens),
                source: source.context(format!(
                    "storing the renewed tokens of tenant {tenant} connection {connection}"
                )),
            }),
            (Err(_), Some(Err(earlier))) => Err(earlier),
            (Err(source), _) => Err(RenewalError {
                unsaved: None,
                source: source.context(format!(
                    "refreshing the tokens of tenant {tenant} connection {connection}"
                )),
            }),
        }
    }

    /// The recorded state of a connection and its reason.
    pub fn state(
        &self,
        tenant: &str,
        connection: &str,
    ) -> Result<Option<(ConnectionState, Option<String>)>> {
        let row = self.store.state(tenant, connection).with_context(|| {
            format!("reading the state of tenant {tenant} connection {connection}")
        })?;
        Ok(row.map(|(state, reason)| (ConnectionState::parse(&state), reason)))
    }

    /// Records that a connection needs a person to reconnect it, with one `needs_reconnect`
    /// event, in one transaction. Returns false (and records nothing) when it was already so.
    pub fn mark_needs_reconnect(
        &self,
        tenant: &str,
        connection: &str,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<bool> {
        self.store
            .mark_needs_reconnect(tenant, connection, reason, &now.to_rfc3339())
            .with_context(|| {
                format!("recording needs-reconnect of tenant {tenant} connection {connection}")
            })
    }

    /// The alerts recorded, oldest first; only `tenant`'s when given.
    pub fn events(&self, tenant: Option<&str>) -> Result<Vec<AuthEvent>> {
        let rows = self
            .store
            .events(tenant)
            .context("reading the auth events")?;
        rows.into_iter()
            .map(|row| {
                let at = DateTime::parse_from_rfc3339(&row.at)
                    .map(|t| t.with_timezone(&Utc))
                    .with_context(|| format!("auth event time {:?}", row.at))?;
                Ok(AuthEvent {
                    tenant: row.tenant,
                    connection: row.connection,
                    kind: row.kind,
                    detail: row.detail,
                    at,
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::testing::each_backend;

    fn tokens(access: &str) -> StoredTokens {
        StoredTokens {
            access_token: Secret::new(access),
            issued_at: Utc::now(),
            access_expires_at: None,
            refresh_token: Some(Secret::new("refresh-secret")),
            refresh_expires_at: None,
            instance_url: None,
            realm: Some("1".into()),
        }
    }

    /// Runs one SQL statement (no parameters) on either backend.
    fn execute(db: &Database, sql: &'static str) {
        match db.backend() {
            Backend::Sqlite(db) => {
                db.lock().execute(sql, []).unwrap();
            }
            Backend::Postgres(db) => {
                db.run(move |c| Box::pin(async move { Ok(c.execute(sql, &[]).await?) }))
                    .unwrap();
            }
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_key_file_open_to_other_users_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledgerlink.key");
        let key = VaultKey::load_or_create(&path).unwrap();
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            VaultKey::load_or_create(&path).unwrap().to_base64(),
            key.to_base64()
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = format!("{:#}", VaultKey::load_or_create(&path).err().unwrap());
        assert!(err.contains("open to other users (mode 644)"), "{err}");
        assert!(err.contains("chmod 600"), "{err}");
    }

    #[test]
    fn tokens_round_trip_and_are_bound_to_their_row() {
        each_backend("vault_round_trip", |db| {
            let vault = Vault::open(db.clone(), &VaultKey::generate()).unwrap();
            vault
                .store("t1", "quickbooks", &tokens("a1"), Utc::now())
                .unwrap();
            assert_eq!(
                vault
                    .load("t1", "quickbooks")
                    .unwrap()
                    .unwrap()
                    .access_token,
                Secret::new("a1")
            );
            assert!(vault.load("t2", "quickbooks").unwrap().is_none());
            // A row moved to another tenant does not decrypt.
            execute(&db, "UPDATE tokens SET tenant = 't2'");
            let err = vault.load("t2", "quickbooks").unwrap_err().to_string();
            assert!(err.contains("tenant t2 connection quickbooks"), "{err}");
        });
    }

    #[test]
    fn a_wrong_key_is_refused_when_the_vault_opens() {
        each_backend("vault_wrong_key", |db| {
            let key = VaultKey::generate();
            Vault::open(db.clone(), &key).unwrap();
            Vault::open(db.clone(), &key).unwrap();
            let err = Vault::open(db, &VaultKey::generate())
                .err()
                .unwrap()
                .to_string();
            assert!(err.contains("vault key does not match"), "{err}");
        });
    }

    #[test]
    fn keys_must_be_32_bytes_of_base64() {
        assert!(VaultKey::from_base64("not base64!").is_err());
        let short = base64::engine::general_purpose::STANDARD.encode([0u8; 16]);
        let err = VaultKey::from_base64(&short).unwrap_err().to_string();
        assert!(err.contains("32 bytes"), "{err}");
        let key = VaultKey::generate();
        assert_eq!(VaultKey::from_base64(&key.to_base64()).unwrap().0, key.0);
        assert_eq!(format!("{key:?}"), "VaultKey([redacted])");
    }

    #[test]
    fn needs_reconnect_is_recorded_once() {
        each_backend("vault_needs_reconnect", |db| {
            let vault = Vault::open(db, &VaultKey::generate()).unwrap();
            assert!(vault
                .mark_needs_reconnect("t", "quickbooks", "revoked", Utc::now())
                .unwrap());
            assert!(!vault
                .mark_needs_reconnect("t", "quickbooks", "revoked", Utc::now())
                .unwrap());
            let events = vault.events(Some("t")).unwrap();
            assert_eq!(events.len(), 1);
            assert_eq!(
                (events[0].kind.as_str(), events[0].detail.as_str()),
                ("needs_reconnect", "revoked")
            );
            assert!(vault.events(Some("other")).unwrap().is_empty());
            assert_eq!(vault.events(None).unwrap().len(), 1);
            assert_eq!(
                vault.state("t", "quickbooks").unwrap(),
                Some((ConnectionState::NeedsReconnect, Some("revoked".into())))
            );
            vault
                .store("t", "quickbooks", &tokens("a"), Utc::now())
                .unwrap();
            assert_eq!(
                vault.state("t", "quickbooks").unwrap(),
                Some((ConnectionState::Connected, None))
            );
        });
    }

    #[test]
    fn a_locked_refresh_commits_what_it_stores_and_nothing_else() {
        let rt = tokio::runtime::Runtime::new().unwrap();
        each_backend("vault_refresh_locked", |db| {
            let vault = Vault::open(db, &VaultKey::generate()).unwrap();
            rt.block_on(async {
                // No tokens: the renewal sees none.
                let seen = vault
                    .refresh_locked("t", "quickbooks", |current| async move {
                        Renewal::Keep(current.is_none())
                    })
                    .await
                    .unwrap();
                assert!(matches!(seen, Renewal::Keep(true)));
                vault
                    .store("t", "quickbooks", &tokens("a1"), Utc::now())
                    .unwrap();
                vault
                    .mark_needs_reconnect("t", "quickbooks", "revoked", Utc::now())
                    .unwrap();
                // Keep writes nothing.
                let kept = vault
                    .refresh_locked("t", "quickbooks", |current| async move {
                        Renewal::Keep(current.map(|t| t.access_token))
                    })
                    .await
                    .unwrap();
                assert!(matches!(kept, Renewal::Keep(Some(a)) if a == Secret::new("a1")));
                assert_eq!(
                    vault.state("t", "quickbooks").unwrap().unwrap().0,
                    ConnectionState::NeedsReconnect
                );
                // Store commits the tokens and the connected state before returning.
                let stored = vault
                    .refresh_locked("t", "quickbooks", |_| async move {
                        Renewal::<()>::Store(tokens("a2"), Utc::now())
                    })
                    .await
                    .unwrap();
                assert!(
                    matches!(stored, Renewal::Store(t, _) if t.access_token == Secret::new("a2"))
                );
            });
            assert_eq!(
                vault.load("t", "quickbooks").unwrap().unwrap().access_token,
                Secret::new("a2")
            );
            assert_eq!(
                vault.state("t", "quickbooks").unwrap().unwrap().0,
                ConnectionState::Connected
            );
        });
    }

    /// Two hosts on one PostgreSQL store refresh the same connection at once: the second waits
    /// for the first's commit and sees the rotated pair, so the old refresh token is spent once.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn hosts_sharing_a_store_refresh_one_at_a_time() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("vault_two_hosts");
        let key = VaultKey::generate();
        let hosts: Vec<Vault> = (0..2)
            .map(|_| Vault::open(Database::connect(&url, None).unwrap(), &key).unwrap())
            .collect();
        let mut first = tokens("a0");
        first.refresh_token = Some(Secret::new("r0"));
        hosts[0]
            .store("t", "quickbooks", &first, Utc::now())
            .unwrap();
        let spent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let refreshes: Vec<_> = hosts
            .iter()
            .map(|vault| {
                let (vault, spent) = (vault.clone(), spent.clone());
                tokio::spawn(async move {
                    vault
                        .refresh_locked("t", "quickbooks", move |current| async move {
                            let current = current.expect("stored tokens");
                            if current.refresh_token != Some(Secret::new("r0")) {
                                return Renewal::Keep(current.access_token);
                            }
                            spent.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                            // A slow token endpoint: the other host is waiting meanwhile.
                            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                            let mut next = tokens("a1");
                            next.refresh_token = Some(Secret::new("r1"));
                            Renewal::Store(next, Utc::now())
                        })
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut access = Vec::new();
        for refresh in refreshes {
            access.push(match refresh.await.unwrap() {
                Renewal::Keep(a) => a,
                Renewal::Store(t, _) => t.access_token,
            });
        }
        assert_eq!(spent.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(access, vec![Secret::new("a1"), Secret::new("a1")]);
        let stored = hosts[1].load("t", "quickbooks").unwrap().unwrap();
        assert_eq!(stored.refresh_token, Some(Secret::new("r1")));
    }
}
