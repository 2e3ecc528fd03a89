//! The shared backend: one PostgreSQL database, used by every host of a deployment through a
//! connection pool (`deadpool-postgres` over `tokio-postgres`).
//!
//! The host's storage interfaces are synchronous (the guest's `wasi:keyvalue` calls, the inbox
//! writes before a webhook's 200), so the pool lives on a runtime of its own: [`Postgres::run`]
//! hands it a query and blocks the calling thread until the answer, as a SQLite call blocks on
//! its file. The calling thread may belong to another tokio runtime; this one never waits on it.

use anyhow::{anyhow, Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

/// Connections one host keeps open at most.
pub const POOL_SIZE: usize = 16;

/// How long a query waits for a free connection before it fails.
const POOL_WAIT: Duration = Duration::from_secs(30);

/// A boxed future of the pool's runtime.
pub type Query<T> = Pin<Box<dyn Future<Output = Result<T>> + Send>>;

/// A shared handle to the PostgreSQL store. Cloning shares the pool.
#[derive(Clone)]
pub struct Postgres {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    runtime: Option<tokio::runtime::Runtime>,
    /// The URL without its password, for messages.
    shown: String,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which tokio forbids inside another runtime's task.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl Postgres {
    /// Connects to `url` (`password`, when given, replaces the URL's), checks the connection
    /// and brings the schema up to date.
    pub fn connect(url: &str, password: Option<&str>) -> Result<Self> {
        let mut config = tokio_postgres::Config::from_str(url)
            .map_err(|e| anyhow!("[store] url is not a PostgreSQL URL: {e}"))?;
        if let Some(password) = password {
            config.password(password);
        }
        if config.get_application_name().is_none() {
            config.application_name("ledgerlink");
        }
        config.connect_timeout(Duration::from_secs(10));
        let shown = shown(url);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("ledgerlink-postgres")
            .enable_all()
            .build()
            .context("starting the PostgreSQL client's runtime")?;
        let manager = Manager::from_config(
            config,
            tokio_postgres::NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = {
            let _entered = runtime.enter();
            Pool::builder(manager)
                .max_size(POOL_SIZE)
                .wait_timeout(Some(POOL_WAIT))
                .create_timeout(Some(Duration::from_secs(10)))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .context("building the PostgreSQL pool")?
        };
        let db = Self {
            inner: Arc::new(Inner {
                pool,
                runtime: Some(runtime),
                shown,
            }),
        };
        let applied = db
            .run(|mut client| {
                Box::pin(async move { super::migrations::apply_postgres(&mut client).await })
            })
            .with_context(|| format!("preparing the store at {}", db.inner.shown))?;
        if !applied.is_empty() {
            tracing::info!(store = %db.inner.shown, ?applied, "schema migrations applied");
        }
        Ok(db)
    }

    /// Runs `query` with a pooled connection on the pool's runtime and waits for its answer.
    pub fn run<T: Send + 'static>(
        &self,
        query: impl FnOnce(Object) -> Query<T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let pool = self.inner.pool.clone();
        let shown = self.inner.shown.clone();
        let runtime = self
            .inner
            .runtime
            .as_ref()
            .ok_or_else(|| anyhow!("the PostgreSQL store is closed"))?;
        let task = async move {
            let answer = match pool.get().await {
                Ok(client) => query(client).await,
                Err(e) => Err(anyhow!("no connection to the store at {shown}: {e}")),
            };
            let _ = tx.send(answer);
        };
        runtime.spawn(task);
        rx.recv()
            .map_err(|_| anyhow!("the PostgreSQL query was dropped before it answered"))?
    }

    /// The schema version the store is at.
    pub fn schema_version(&self) -> Result<u32> {
        self.run(|client| {
            Box::pin(async move { super::migrations::postgres_version(&**client).await })
        })
    }

    /// The store's URL without its password.
    pub fn shown(&self) -> &str {
        &self.inner.shown
    }
}

/// `url` with any password replaced by `***`, for logs and messages.
pub fn shown(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut u) if u.password().is_some() => {
            let _ = u.set_password(Some("***"));
            u.to_string()
        }
        Ok(u) => u.to_string(),
        Err(_) => "(an unparsable URL)".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_in_the_url_is_never_shown() {
        assert_eq!(
            shown("postgres://ledgerlink:s3cret@db.internal:5432/ledgerlink"),
            "postgres://ledgerlink:***@db.internal:5432/ledgerlink"
        );
        assert_eq!(
            shown("postgres://ledgerlink@127.0.0.1/ll"),
            "postgres://ledgerlink@127.0.0.1/ll"
        );
    }

    #[test]
    fn a_store_is_migrated_once_even_when_hosts_connect_together() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("migrate");
        let hosts: Vec<_> = (0..3)
            .map(|_| {
                let url = url.clone();
                std::thread::spawn(move || {
                    Postgres::connect(&url, None).map(|db| db.schema_version())
                })
            })
            .collect();
        for h in hosts {
            assert_eq!(
                h.join().unwrap().unwrap().unwrap(),
                super::super::migrations::latest()
            );
        }
        let db = Postgres::connect(&url, None).unwrap();
        let rows: i64 = db
            .run(|c| {
                Box::pin(async move {
                    Ok(c.query_one("SELECT COUNT(*) FROM schema_migrations", &[])
                        .await?
                        .get(0))
                })
            })
            .unwrap();
        assert_eq!(rows, super::super::migrations::latest() as i64);
    }

    #[tokio::test]
    async fn a_query_from_inside_another_runtime_answers_and_the_store_drops_cleanly() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("nested");
        let db = Postgres::connect(&url, None).unwrap();
        let one: i32 = db
            .run(|c| Box::pin(async move { Ok(c.query_one("SELECT 1", &[]).await?.get(0)) }))
            .unwrap();
        assert_eq!(one, 1);
        drop(db);
    }
}
