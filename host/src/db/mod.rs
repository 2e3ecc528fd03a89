//! The host's durable store, behind one handle with two backends:
//!
//! - [`sqlite`]: one SQLite file in WAL mode, the embedded default (a single host, the demo);
//! - [`postgres`]: one PostgreSQL database shared by many `ledgerlink run` hosts
//!   (`[store] url = "postgres://..."`).
//!
//! Each part of the host that keeps state (the guests' key-value buckets, the webhook inbox, the
//! error ledger, job runs, schedules, the token vault, ...) has its own storage interface with an
//! implementation per backend, chosen from [`Database::backend`]. Both backends get their schema
//! from the same versioned [`migrations`], run when the store is opened.

pub mod migrations;
pub mod postgres;
pub mod sqlite;
#[cfg(any(test, feature = "emulators"))]
pub mod testing;
#[cfg(any(test, feature = "emulators"))]
pub mod throwaway;

use anyhow::Result;
use std::path::Path;

pub use self::postgres::Postgres;
pub use self::sqlite::{DurableConnection, Sqlite};

/// A shared handle to the store. Cloning shares the connection (SQLite) or the pool (PostgreSQL).
#[derive(Clone)]
pub struct Database {
    backend: Backend,
}

/// The store behind a [`Database`].
#[derive(Clone)]
pub enum Backend {
    /// The embedded SQLite file.
    Sqlite(Sqlite),
    /// A PostgreSQL database, possibly shared with other hosts.
    Postgres(Postgres),
}

impl Database {
    /// Opens (creating if needed) the SQLite store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        Ok(Self::from(Sqlite::open(path)?))
    }

    /// A private in-memory SQLite store (tests, `ledgerlink call`).
    pub fn in_memory() -> Result<Self> {
        Ok(Self::from(Sqlite::in_memory()?))
    }

    /// Connects to the PostgreSQL database at `url` (`password`, when given, overrides the
    /// URL's) and brings its schema up to date.
    pub fn connect(url: &str, password: Option<&str>) -> Result<Self> {
        Self::connect_with(url, password, None)
    }

    /// [`Self::connect`], the server's certificate also checked against the PEM certificates
    /// in `ca_file` (a private CA).
    pub fn connect_with(
        url: &str,
        password: Option<&str>,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Self> {
        Ok(Self::from(Postgres::connect(url, password, ca_file)?))
    }

    /// The backend, for the storage interfaces to pick their implementation.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// The SQLite backend, when the store is one (tools and tests that read the file itself).
    pub fn sqlite(&self) -> Option<&Sqlite> {
        match &self.backend {
            Backend::Sqlite(db) => Some(db),
            Backend::Postgres(_) => None,
        }
    }

    /// `sqlite` or `postgres`.
    pub fn kind(&self) -> &'static str {
        match self.backend {
            Backend::Sqlite(_) => "sqlite",
            Backend::Postgres(_) => "postgres",
        }
    }
}

impl From<Sqlite> for Database {
    fn from(db: Sqlite) -> Self {
        Self {
            backend: Backend::Sqlite(db),
        }
    }
}

impl From<Postgres> for Database {
    fn from(db: Postgres) -> Self {
        Self {
            backend: Backend::Postgres(db),
        }
    }
}
