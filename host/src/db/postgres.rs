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
use std::path::Path;
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
    /// and brings the schema up to date. TLS as the URL's `sslmode` asks (`prefer` by default,
    /// `require` to refuse a plain connection), the server's certificate checked against the
    /// web's roots and the PEM certificates in `ca_file` (a private CA).
    pub fn connect(url: &str, password: Option<&str>, ca_file: Option<&Path>) -> Result<Self> {
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
            tls(ca_file)?,
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
                Err(e) => Err(anyhow!(
                    "no connection to the store at {shown}: {}",
                    with_causes(&e)
                )),
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
}

/// The TLS client of the pool: the web's roots, and `ca_file`'s certificates when given.
fn tls(ca_file: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    use rustls::pki_types::{pem::PemObject, CertificateDer};
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let mut added = 0;
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading [store] ca-file {}", path.display()))?
        {
            let cert = cert.with_context(|| format!("[store] ca-file {}", path.display()))?;
            roots
                .add(cert)
                .with_context(|| format!("a certificate of [store] ca-file {}", path.display()))?;
            added += 1;
        }
        if added == 0 {
            anyhow::bail!(
                "[store] ca-file {} holds no PEM certificate",
                path.display()
            );
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .context("TLS for the store")?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// An error and its causes, `: `-separated (the pool's error hides why a connection failed,
/// e.g. a certificate the client does not trust).
fn with_causes(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let part = c.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        cause = c.source();
    }
    text
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
                    Postgres::connect(&url, None, None).map(|db| db.schema_version())
                })
            })
            .collect();
        for h in hosts {
            assert_eq!(
                h.join().unwrap().unwrap().unwrap(),
                super::super::migrations::latest()
            );
        }
        let db = Postgres::connect(&url, None, None).unwrap();
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

    #[test]
    fn tls_is_used_when_asked_and_the_servers_certificate_must_be_trusted() {
        let certified = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let identity = crate::db::throwaway::Identity {
            cert_pem: certified.cert.pem(),
            key_pem: certified.signing_key.serialize_pem(),
        };
        let server = crate::db::throwaway::Cluster::start_with_tls(&identity).unwrap();
        let url = format!("{}?sslmode=require", server.fresh_database("tls"));
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, &identity.cert_pem).unwrap();
        // With the server's CA: a TLS connection.
        let db = Postgres::connect(&url, None, Some(&ca)).unwrap();
        let encrypted: bool = db
            .run(|c| {
                Box::pin(async move {
                    Ok(c.query_one(
                        "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                        &[],
                    )
                    .await?
                    .get(0))
                })
            })
            .unwrap();
        assert!(encrypted);
        // Without it, the certificate is refused rather than trusted.
        let err = Postgres::connect(&url, None, None).err().unwrap();
        assert!(
            format!("{err:#}").to_lowercase().contains("certificate"),
            "{err:#}"
        );
        // A CA file without a certificate is a clear error.
        std::fs::write(&ca, "not a certificate\n").unwrap();
        let err = Postgres::connect(&url, None, Some(&ca)).err().unwrap();
        assert!(format!("{err:#}").contains("ca-file"), "{err:#}");
    }

    #[tokio::test]
    async fn a_query_from_inside_another_runtime_answers_and_the_store_drops_cleanly() {
        let url = crate::db::throwaway::Cluster::shared().fresh_database("nested");
        let db = Postgres::connect(&url, None, None).unwrap();
        let one: i32 = db
            .run(|c| Box::pin(async move { Ok(c.query_one("SELECT 1", &[]).await?.get(0)) }))
            .unwrap();
        assert_eq!(one, 1);
        drop(db);
    }
}
