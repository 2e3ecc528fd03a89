//! Versioned schema migrations, one list with each step in both dialects, applied in order
//! when a store is opened.
//! A store records the versions it has in `schema_migrations`; a version is applied at most
//! once, in the same transaction that records it. A store at a version this build does not know
//! (written by a newer Ledgerlink) is refused rather than written with an older schema.
//!
//! Hosts sharing one PostgreSQL database may start together: the migration runs under a
//! transaction-scoped advisory lock, so one of them applies it and the others find it applied.

use anyhow::{bail, Context, Result};

/// One step of the schema, in each backend's dialect.
pub struct Migration {
    /// Its number; the list is in increasing order from 1.
    pub version: u32,
    /// What it does, as recorded in `schema_migrations`.
    pub name: &'static str,
    /// SQLite's SQL, a batch of statements.
    pub sqlite: &'static str,
    /// PostgreSQL's SQL for the same step.
    pub postgres: &'static str,
}

/// Both backends' migrations: one version, one name, two dialects.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sqlite: include_str!("migrations/sqlite/0001_initial.sql"),
        postgres: include_str!("migrations/postgres/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "tenant owners",
        sqlite: include_str!("migrations/sqlite/0002_tenant_owners.sql"),
        postgres: include_str!("migrations/postgres/0002_tenant_owners.sql"),
    },
    Migration {
        version: 3,
        name: "pacing spent",
        sqlite: include_str!("migrations/sqlite/0003_pacing_spent.sql"),
        postgres: include_str!("migrations/postgres/0003_pacing_spent.sql"),
    },
];

/// The newest version this build knows.
pub fn latest() -> u32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

const SQLITE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name    TEXT NOT NULL,
    applied TEXT NOT NULL
)";

/// The version a SQLite store is at (0 before any migration).
pub fn sqlite_version(conn: &rusqlite::Connection) -> Result<u32> {
    conn.execute_batch(SQLITE_TABLE)
        .context("creating schema_migrations")?;
    Ok(conn
        .query_row(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            [],
            |r| r.get::<_, i64>(0),
        )
        .context("reading the schema version")? as u32)
}

/// Brings a SQLite store up to [`latest`].
pub fn apply_sqlite(conn: &mut rusqlite::Connection) -> Result<()> {
    let tx = conn
        .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
        .context("starting the schema migration")?;
    let at = sqlite_version(&tx)?;
    refuse_newer(at)?;
    for m in MIGRATIONS.iter().filter(|m| m.version > at) {
        tx.execute_batch(m.sqlite)
            .with_context(|| format!("applying migration {} ({})", m.version, m.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, ?2, ?3)",
            rusqlite::params![m.version, m.name, chrono::Utc::now().to_rfc3339()],
        )?;
    }
    tx.commit().context("committing the schema migration")
}

const POSTGRES_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY,
    name    TEXT NOT NULL,
    applied TEXT NOT NULL
)";

/// The advisory lock key that serialises migrations across hosts ("ledgerlk" in ASCII).
const POSTGRES_LOCK: i64 = 0x6c65_6467_6572_6c6b;

/// The version a PostgreSQL store is at (0 before any migration).
pub async fn postgres_version(client: &impl tokio_postgres::GenericClient) -> Result<u32> {
    let exists: bool = client
        .query_one("SELECT to_regclass('schema_migrations') IS NOT NULL", &[])
        .await?
        .get(0);
    if !exists {
        return Ok(0);
    }
    let v: i64 = client
        .query_one(
            "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
            &[],
        )
        .await
        .context("reading the schema version")?
        .get(0);
    Ok(v as u32)
}

/// Brings a PostgreSQL store up to [`latest`]; returns the versions it applied.
pub async fn apply_postgres(client: &mut tokio_postgres::Client) -> Result<Vec<u32>> {
    let tx = client
        .transaction()
        .await
        .context("starting the schema migration")?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&POSTGRES_LOCK])
        .await
        .context("waiting for the migration lock")?;
    tx.batch_execute(POSTGRES_TABLE)
        .await
        .context("creating schema_migrations")?;
    let at = postgres_version(&tx).await?;
    refuse_newer(at)?;
    let mut applied = Vec::new();
    for m in MIGRATIONS.iter().filter(|m| m.version > at) {
        tx.batch_execute(m.postgres)
            .await
            .with_context(|| format!("applying migration {} ({})", m.version, m.name))?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied) VALUES ($1, $2, $3)",
            &[
                &(m.version as i64),
                &m.name,
                &chrono::Utc::now().to_rfc3339(),
            ],
        )
        .await?;
        applied.push(m.version);
    }
    tx.commit()
        .await
        .context("committing the schema migration")?;
    Ok(applied)
}

fn refuse_newer(at: u32) -> Result<()> {
    if at > latest() {
        bail!(
            "the store is at schema version {at}, newer than this Ledgerlink knows ({}); \
             run a newer Ledgerlink",
            latest()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_backends_list_the_same_versions_in_order() {
        // One list holds both dialects, so the versions and names agree by construction; the
        // versions run from 1 without a gap and every step has SQL for both backends.
        let versions: Vec<u32> = MIGRATIONS.iter().map(|m| m.version).collect();
        assert_eq!(versions, (1..=latest()).collect::<Vec<_>>());
        for m in MIGRATIONS {
            assert!(
                !m.sqlite.trim().is_empty(),
                "version {}: no SQLite SQL",
                m.version
            );
            assert!(
                !m.postgres.trim().is_empty(),
                "version {}: no PostgreSQL SQL",
                m.version
            );
        }
    }

    #[test]
    fn a_sqlite_store_is_migrated_once_and_a_newer_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledgerlink.db");
        let db = super::super::Sqlite::open(&path).unwrap();
        assert_eq!(db.schema_version().unwrap(), latest());
        drop(db);
        // Opening again applies nothing and keeps one row per version.
        let db = super::super::Sqlite::open(&path).unwrap();
        let rows: i64 = db
            .lock()
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, latest() as i64);
        db.lock()
            .execute(
                "INSERT INTO schema_migrations (version, name, applied) VALUES (?1, 'future', '')",
                [latest() + 1],
            )
            .unwrap();
        drop(db);
        let err = super::super::Sqlite::open(&path).err().unwrap();
        assert!(
            format!("{err:#}").contains("newer than this Ledgerlink knows"),
            "{err:#}"
        );
    }
}
