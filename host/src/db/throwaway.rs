//! A throwaway PostgreSQL server for tests and benchmarks: `initdb` into a temporary directory,
//! the server on 127.0.0.1 at a free port, trust authentication for its one user. A watchdog
//! shell stops it and removes its directory when the process that started it is gone, so a
//! test binary killed halfway leaves nothing running.
//!
//! `LEDGERLINK_TEST_POSTGRES` (a URL with the right to create databases) uses that server
//! instead. Without it, the server binaries come from `PATH` or Debian's
//! `/usr/lib/postgresql/<version>/bin` (package `postgresql`); as root, the server runs as the
//! `postgres` user, which PostgreSQL requires.

use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// A running server, and the URL to reach it as its superuser.
pub struct Cluster {
    admin: url::Url,
    created: Mutex<u32>,
}

static SHARED: OnceLock<Cluster> = OnceLock::new();

/// A server's TLS identity: its certificate (its own CA) and key, PEM.
pub struct Identity {
    /// The certificate, also the CA a client trusts.
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

impl Cluster {
    /// The process's server, started on first use. Panics (a test's failure) naming what is
    /// missing when no server can be started.
    pub fn shared() -> &'static Cluster {
        SHARED.get_or_init(|| match Self::start() {
            Ok(cluster) => cluster,
            Err(e) => panic!(
                "no PostgreSQL for the tests: {e:#}\n(install Debian's `postgresql` package, \
                 or set LEDGERLINK_TEST_POSTGRES to a server's URL)"
            ),
        })
    }

    fn start() -> Result<Self> {
        if let Ok(url) = std::env::var("LEDGERLINK_TEST_POSTGRES") {
            let admin = url::Url::parse(&url).context("LEDGERLINK_TEST_POSTGRES")?;
            return Ok(Self {
                admin,
                created: Mutex::new(0),
            });
        }
        Self::start_with(None)
    }

    /// A server of its own that also speaks TLS with `identity` (it still accepts plain
    /// connections, so a client's `sslmode` decides).
    pub fn start_with_tls(identity: &Identity) -> Result<Self> {
        Self::start_with(Some(identity))
    }

    fn start_with(tls: Option<&Identity>) -> Result<Self> {
        let bin = server_binaries()?;
        let run_as = run_as()?;
        let dir = std::env::temp_dir().join(format!(
            "ledgerlink-pg-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        if let Some((uid, gid)) = run_as {
            std::os::unix::fs::chown(&dir, Some(uid), Some(gid))
                .with_context(|| format!("giving {} to the postgres user", dir.display()))?;
        }
        let data = dir.join("data");
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .args([
                "--auth=trust",
                "--username=ledgerlink",
                "--encoding=UTF8",
                "--locale=C",
            ])
            .arg("-D")
            .arg(&data)
            .stdout(Stdio::null());
        as_user(&mut initdb, run_as);
        let out = initdb.output().context("running initdb")?;
        if !out.status.success() {
            bail!("initdb failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let mut ssl = String::new();
        if let Some(identity) = tls {
            use std::os::unix::fs::PermissionsExt;
            let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
            std::fs::write(&cert, &identity.cert_pem)?;
            std::fs::write(&key, &identity.key_pem)?;
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))?;
            for file in [&cert, &key] {
                if let Some((uid, gid)) = run_as {
                    std::os::unix::fs::chown(file, Some(uid), Some(gid))?;
                }
            }
            ssl = format!(
                "-c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                quoted(&cert),
                quoted(&key)
            );
        }
        let port = free_port()?;
        // The watchdog: the server runs while this process lives, then stops and its directory
        // goes.
        let script = format!(
            "{server} -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 \
             -c max_connections=400 -c fsync=off -c synchronous_commit=off \
             -c full_page_writes=off -c shared_buffers=32MB {ssl} >{dir}/server.log 2>&1 &
             pg=$!
             while [ -d /proc/{parent} ] && kill -0 $pg 2>/dev/null; do sleep 0.5; done
             kill -QUIT $pg 2>/dev/null; wait $pg; rm -rf {dir}",
            server = quoted(&bin.join("postgres")),
            data = quoted(&data),
            dir = quoted(&dir),
            parent = std::process::id(),
        );
        let mut watchdog = Command::new("sh");
        watchdog
            .arg("-c")
            .arg(script)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        as_user(&mut watchdog, run_as);
        watchdog.spawn().context("starting postgres")?;
        let admin = url::Url::parse(&format!("postgres://ledgerlink@127.0.0.1:{port}/postgres"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match admin_query(&admin, "SELECT 1") {
                Ok(()) => break,
                Err(e) if Instant::now() > deadline => {
                    let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
                    bail!("postgres did not answer on port {port}: {e:#}\n{log}");
                }
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        }
        Ok(Self {
            admin,
            created: Mutex::new(0),
        })
    }

    /// A new, empty database on the server, and its URL. `name` says which test it is for.
    pub fn fresh_database(&self, name: &str) -> String {
        let mut n = self.created.lock().unwrap_or_else(|p| p.into_inner());
        *n += 1;
        let db: String = format!("{name}_{}_{}", std::process::id(), *n)
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .collect();
        admin_query(&self.admin, &format!("CREATE DATABASE \"{db}\""))
            .unwrap_or_else(|e| panic!("creating database {db}: {e:#}"));
        let mut url = self.admin.clone();
        url.set_path(&format!("/{db}"));
        url.to_string()
    }
}

/// Runs one statement as the superuser, on a thread and runtime of its own (callers may be
/// inside a runtime).
fn admin_query(admin: &url::Url, sql: &str) -> Result<()> {
    let (admin, sql) = (admin.to_string(), sql.to_string());
    std::thread::spawn(move || -> Result<()> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        rt.block_on(async move {
            let (client, conn) = tokio_postgres::connect(&admin, tokio_postgres::NoTls).await?;
            let driver = tokio::spawn(conn);
            client.batch_execute(&sql).await?;
            drop(client);
            let _ = driver.await;
            Ok(())
        })
    })
    .join()
    .map_err(|_| anyhow!("the admin query's thread panicked"))?
}

fn server_binaries() -> Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
    if let Some(dir) = on_path {
        return Ok(dir);
    }
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    debian.retain(|d| d.join("initdb").is_file() && d.join("postgres").is_file());
    // The newest version.
    debian.sort_by_key(|d| {
        d.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    debian
        .pop()
        .ok_or_else(|| anyhow!("no initdb and postgres on PATH nor in /usr/lib/postgresql/*/bin"))
}

/// The `postgres` user's ids when running as root (the server refuses to run as root).
fn run_as() -> Result<Option<(u32, u32)>> {
    let me = Command::new("id")
        .arg("-u")
        .output()
        .context("running id -u")?;
    if String::from_utf8_lossy(&me.stdout).trim() != "0" {
        return Ok(None);
    }
    let id = |flag: &str| -> Result<u32> {
        let out = Command::new("id").args([flag, "postgres"]).output()?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .map_err(|_| anyhow!("running as root and there is no postgres user"))
    };
    Ok(Some((id("-u")?, id("-g")?)))
}

fn as_user(cmd: &mut Command, ids: Option<(u32, u32)>) {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
}

fn free_port() -> Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

fn quoted(path: &Path) -> String {
    format!("'{}'", path.display().to_string().replace('\'', "'\\''"))
}
