//! The Salesforce Pub/Sub API (gRPC, service `eventbus.v1.PubSub`) over the org's change event
//! log, on its own port as on a real org (`api.pubsub.salesforce.com:7443`).
//!
//! | file | holds |
//! |---|---|
//! | `service.rs` | the RPCs: `GetTopic`, `GetSchema`, `Subscribe`; `Publish*` and `ManagedSubscribe` answer UNIMPLEMENTED |
//! | `subscription.rs` | one `Subscribe` stream: replay presets, flow control (`num_requested`), keepalives |
//! | `avro.rs` | the `<Object>ChangeEvent` Avro schemas and the events encoded with them (bitmap field lists) |
//! | `auth.rs` | the `accesstoken` / `instanceurl` / `tenantid` metadata every call carries |
//! | `errors.rs` | statuses with `rpcId` and the `error-code` trailer |
//!
//! Replay ids are 8 bytes (the log position, big-endian); clients must treat them as opaque.
//! Events are kept [`RETENTION_HOURS`](super::CHANGE_EVENT_RETENTION_HOURS) on the emulator
//! clock; an older replay id is refused with the documented error.

mod auth;
mod avro;
mod errors;
mod service;
mod subscription;

/// The Pub/Sub API messages and server, generated from `host/proto/pubsub_api.proto`.
#[allow(clippy::all, missing_docs)]
pub(crate) mod proto {
    tonic::include_proto!("eventbus.v1");
}

use super::SalesforceEmulator;
use proto::pub_sub_server::PubSubServer as GrpcService;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::sync::oneshot;

pub use errors::{AUTH_ERROR, REPLAY_ID_CORRUPTED};

/// How the Pub/Sub server behaves.
#[derive(Clone, Debug)]
pub struct PubSubConfig {
    /// A subscription with requested events still pending and nothing to send gets an empty
    /// response (with the latest replay id) this often. Salesforce sends one about every
    /// 270 seconds; tests shorten it.
    pub keepalive: Duration,
    /// Serve TLS with a self-signed certificate made at start (for `localhost` and 127.0.0.1),
    /// for clients that speak only TLS; the certificate is [`PubSubServer::ca_pem`].
    pub tls: bool,
}

impl Default for PubSubConfig {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(270),
            tls: false,
        }
    }
}

/// A running Pub/Sub server (its own thread and runtime, as the HTTP emulators). Dropping it
/// stops it.
pub struct PubSubServer {
    addr: SocketAddr,
    ca_pem: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl PubSubServer {
    /// Serves `emu`'s change events on `127.0.0.1:port` (0 picks a free port): plaintext HTTP/2,
    /// or TLS when `config.tls`.
    pub fn start(
        emu: &SalesforceEmulator,
        config: PubSubConfig,
        port: u16,
    ) -> anyhow::Result<Self> {
        let mut builder = tonic::transport::Server::builder();
        let mut ca_pem = None;
        if config.tls {
            let certified = rcgen::generate_simple_self_signed(vec![
                "localhost".to_string(),
                "127.0.0.1".to_string(),
            ])?;
            let cert = certified.cert.pem();
            let key = certified.signing_key.serialize_pem();
            let identity = tonic::transport::Identity::from_pem(&cert, key);
            builder =
                builder.tls_config(tonic::transport::ServerTlsConfig::new().identity(identity))?;
            ca_pem = Some(cert);
        }
        let service = service::Service::new(emu.clone(), config);
        let (addr, tx, thread) =
            crate::common::server::serve_on_thread("pubsub", port, |listener, stop| async move {
                let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
                let served = builder
                    .add_service(GrpcService::new(service))
                    .serve_with_incoming_shutdown(incoming, async {
                        let _ = stop.await;
                    })
                    .await;
                if let Err(e) = served {
                    tracing::error!("pubsub server: {e}");
                }
            })?;
        Ok(Self {
            addr,
            ca_pem,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, or `https://` with TLS.
    pub fn url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The self-signed certificate (PEM) a TLS server presents, for clients to trust.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Blocks until the server stops.
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for PubSubServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A replay id on the wire.
fn replay_bytes(position: u64) -> Vec<u8> {
    position.to_be_bytes().to_vec()
}

/// A replay id from the wire; `None` when it is not one this server issues.
fn replay_position(bytes: &[u8]) -> Option<u64> {
    <[u8; 8]>::try_from(bytes).ok().map(u64::from_be_bytes)
}
