//! Tokens encrypted at rest, in the host's SQLite store.
//!
//! | table | row |
//! |---|---|
//! | `tokens(tenant, connection, nonce, ciphertext, updated)` | one [`StoredTokens`] per connection, as ChaCha20-Poly1305 ciphertext of its JSON; the associated data binds it to its tenant and connection, so a row copied elsewhere does not decrypt |
//! | `auth_connections(tenant, connection, state, reason, updated)` | [`ConnectionState`] of each connection |
//! | `auth_events(id, tenant, connection, kind, detail, at)` | alerts for people, e.g. one `needs_reconnect` when a grant dies |
//! | `auth_key_check(id, nonce, ciphertext)` | a known plaintext under the key, so a wrong key is reported when the vault opens rather than on first use |
//!
//! The key is 32 bytes: base64 in the environment variable `LEDGERLINK_KEY`, or else a key file
//! created on first use with mode 0600 ([`VaultKey::from_env_or_file`]).
//!
//! [`Vault::store`] writes the tokens and marks the connection connected in one transaction: a
//! rotated refresh token is on disk before anyone can use the access token that came with it.

use super::Secret;
use anyhow::{anyhow, bail, Context, Result};
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::{DateTime, Utc};
use rand::RngCore;
use rusqlite::{params, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::path::Path;

use crate::db::Database;

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

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS tokens (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL,
    updated    TEXT NOT NULL,
    PRIMARY KEY (tenant, connection)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS auth_connections (
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    state      TEXT NOT NULL,
    reason     TEXT,
    updated    TEXT NOT NULL,
    PRIMARY KEY (tenant, connection)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS auth_events (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant     TEXT NOT NULL,
    connection TEXT NOT NULL,
    kind       TEXT NOT NULL,
    detail     TEXT NOT NULL,
    at         TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS auth_key_check (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    nonce      BLOB NOT NULL,
    ciphertext BLOB NOT NULL
);
";

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

/// The encrypted token store. Cloning shares the database and key.
#[derive(Clone)]
pub struct Vault {
    db: Database,
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
    /// Opens the vault in `db` (creating its tables) with `key`. Fails with a clear error when
    /// the database already holds tokens encrypted under another key.
    pub fn open(db: Database, key: &VaultKey) -> Result<Self> {
        let cipher = ChaCha20Poly1305::new(Key::from_slice(&key.0));
        {
            let conn = db.lock();
            conn.execute_batch(SCHEMA)
                .context("creating the token vault tables")?;
            let existing: Option<(Vec<u8>, Vec<u8>)> = conn
                .query_row(
                    "SELECT nonce, ciphertext FROM auth_key_check WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .optional()
                .context("reading the vault key check")?;
            match existing {
                Some((nonce, ciphertext)) => {
                    let ok = nonce.len() == 12
                        && cipher
                            .decrypt(
                                Nonce::from_slice(&nonce),
                                Payload {
                                    msg: &ciphertext,
                                    aad: KEY_CHECK_AAD,
                                },
                            )
                            .is_ok_and(|p| p == KEY_CHECK_PLAINTEXT);
                    if !ok {
                        bail!(
                            "the vault key does not match the key the stored tokens were \
                             encrypted with (check {KEY_ENV} or the key file)"
                        );
                    }
                }
                None => {
                    let nonce = new_nonce();
                    let ciphertext = cipher
                        .encrypt(
                            Nonce::from_slice(&nonce),
                            Payload {
                                msg: KEY_CHECK_PLAINTEXT,
                                aad: KEY_CHECK_AAD,
                            },
                        )
                        .map_err(|_| anyhow!("encrypting the vault key check"))?;
                    conn.execute(
                        "INSERT OR IGNORE INTO auth_key_check (id, nonce, ciphertext) VALUES (1, ?1, ?2)",
                        params![nonce.as_slice(), ciphertext],
                    )
                    .context("writing the vault key check")?;
                }
            }
        }
        Ok(Self { db, cipher })
    }

    /// The tokens of a connection, if any were stored.
    pub fn load(&self, tenant: &str, connection: &str) -> Result<Option<StoredTokens>> {
        let row: Option<(Vec<u8>, Vec<u8>)> = self
            .db
            .lock()
            .query_row(
                "SELECT nonce, ciphertext FROM tokens WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .with_context(|| {
                format!("reading tokens of tenant {tenant} connection {connection}")
            })?;
        let Some((nonce, ciphertext)) = row else {
            return Ok(None);
        };
        if nonce.len() != 12 {
            bail!("tokens of tenant {tenant} connection {connection}: the stored nonce is not 12 bytes");
        }
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: &aad(tenant, connection),
                },
            )
            .map_err(|_| {
                anyhow!(
                    "cannot decrypt the tokens of tenant {tenant} connection {connection}: \
                     wrong vault key ({KEY_ENV} or key file) or a corrupted row"
                )
            })?;
        let tokens = serde_json::from_slice(&plain).map_err(|e| {
            anyhow!("tokens of tenant {tenant} connection {connection} are not readable: {e}")
        })?;
        Ok(Some(tokens))
    }

    /// Stores the tokens of a connection and marks it connected, in one transaction.
    pub fn store(
        &self,
        tenant: &str,
        connection: &str,
        tokens: &StoredTokens,
        now: DateTime<Utc>,
    ) -> Result<()> {
        let plain = serde_json::to_vec(tokens).context("serialising tokens")?;
        let nonce = new_nonce();
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: &aad(tenant, connection),
                },
            )
            .map_err(|_| anyhow!("encrypting tokens of tenant {tenant} connection {connection}"))?;
        let now = now.to_rfc3339();
        // A rotated refresh token replaces the old one at Intuit: losing it to a power cut
        // would lock the tenant out until someone reconnects.
        let mut conn = self.db.lock_durable()?;
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO tokens (tenant, connection, nonce, ciphertext, updated)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, connection) DO UPDATE
             SET nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated = excluded.updated",
            params![tenant, connection, nonce.as_slice(), ciphertext, now],
        )?;
        tx.execute(
            "INSERT INTO auth_connections (tenant, connection, state, reason, updated)
             VALUES (?1, ?2, ?3, NULL, ?4)
             ON CONFLICT (tenant, connection) DO UPDATE
             SET state = excluded.state, reason = NULL, updated = excluded.updated",
            params![tenant, connection, ConnectionState::Connected.as_str(), now],
        )?;
        tx.commit()
            .with_context(|| format!("storing tokens of tenant {tenant} connection {connection}"))
    }

    /// The recorded state of a connection and its reason.
    pub fn state(
        &self,
        tenant: &str,
        connection: &str,
    ) -> Result<Option<(ConnectionState, Option<String>)>> {
        let row: Option<(String, Option<String>)> = self
            .db
            .lock()
            .query_row(
                "SELECT state, reason FROM auth_connections WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .with_context(|| {
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
        let now = now.to_rfc3339();
        let mut conn = self.db.lock();
        let tx = conn.transaction()?;
        let current: Option<String> = tx
            .query_row(
                "SELECT state FROM auth_connections WHERE tenant = ?1 AND connection = ?2",
                params![tenant, connection],
                |r| r.get(0),
            )
            .optional()?;
        if current.as_deref() == Some(ConnectionState::NeedsReconnect.as_str()) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO auth_connections (tenant, connection, state, reason, updated)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, connection) DO UPDATE
             SET state = excluded.state, reason = excluded.reason, updated = excluded.updated",
            params![
                tenant,
                connection,
                ConnectionState::NeedsReconnect.as_str(),
                reason,
                now
            ],
        )?;
        tx.execute(
            "INSERT INTO auth_events (tenant, connection, kind, detail, at)
             VALUES (?1, ?2, 'needs_reconnect', ?3, ?4)",
            params![tenant, connection, reason, now],
        )?;
        tx.commit().with_context(|| {
            format!("recording needs-reconnect of tenant {tenant} connection {connection}")
        })?;
        Ok(true)
    }

    /// The alerts recorded, oldest first; only `tenant`'s when given.
    pub fn events(&self, tenant: Option<&str>) -> Result<Vec<AuthEvent>> {
        let conn = self.db.lock();
        let mut stmt = conn.prepare(
            "SELECT tenant, connection, kind, detail, at FROM auth_events
             WHERE ?1 IS NULL OR tenant = ?1 ORDER BY id",
        )?;
        let rows = stmt.query_map(params![tenant], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, String>(4)?,
            ))
        })?;
        let mut events = Vec::new();
        for row in rows {
            let (tenant, connection, kind, detail, at) = row?;
            let at = DateTime::parse_from_rfc3339(&at)
                .map(|t| t.with_timezone(&Utc))
                .with_context(|| format!("auth event time {at:?}"))?;
            events.push(AuthEvent {
                tenant,
                connection,
                kind,
                detail,
                at,
            });
        }
        Ok(events)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let db = Database::in_memory().unwrap();
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
        db.lock()
            .execute("UPDATE tokens SET tenant = 't2'", [])
            .unwrap();
        let err = vault.load("t2", "quickbooks").unwrap_err().to_string();
        assert!(err.contains("tenant t2 connection quickbooks"), "{err}");
    }

    #[test]
    fn a_wrong_key_is_refused_when_the_vault_opens() {
        let db = Database::in_memory().unwrap();
        Vault::open(db.clone(), &VaultKey::generate()).unwrap();
        let err = Vault::open(db, &VaultKey::generate())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("vault key does not match"), "{err}");
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
        let vault = Vault::open(Database::in_memory().unwrap(), &VaultKey::generate()).unwrap();
        assert!(vault
            .mark_needs_reconnect("t", "quickbooks", "revoked", Utc::now())
            .unwrap());
        assert!(!vault
            .mark_needs_reconnect("t", "quickbooks", "revoked", Utc::now())
            .unwrap());
        assert_eq!(vault.events(Some("t")).unwrap().len(), 1);
        vault
            .store("t", "quickbooks", &tokens("a"), Utc::now())
            .unwrap();
        assert_eq!(
            vault.state("t", "quickbooks").unwrap().unwrap().0,
            ConnectionState::Connected
        );
    }
}
