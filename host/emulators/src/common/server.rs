//! Starting an emulator in-process on an ephemeral loopback port.

use axum::Router;
use std::net::SocketAddr;
use tokio::sync::oneshot;

/// Binds `127.0.0.1:port` and runs `serve(listener, stop)` on a thread of its own with its own
/// tokio runtime; sending on the returned sender asks it to stop.
pub(crate) fn serve_on_thread<F, Fut>(
    name: &str,
    port: u16,
    serve: F,
) -> anyhow::Result<(SocketAddr, oneshot::Sender<()>, std::thread::JoinHandle<()>)>
where
    F: FnOnce(tokio::net::TcpListener, oneshot::Receiver<()>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()>,
{
    let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let addr = listener.local_addr()?;
    let (tx, rx) = oneshot::channel::<()>();
    let thread = std::thread::Builder::new()
        .name(format!("{name}-{addr}"))
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("emulator runtime");
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                serve(listener, rx).await;
            });
        })?;
    Ok((addr, tx, thread))
}

/// A server running on its own thread with its own tokio runtime, so that it serves even while
/// the caller blocks (a synchronous guest HTTP call, a blocking test). Dropping it stops it.
pub struct RunningServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl RunningServer {
    /// Serves `router` on `127.0.0.1:port` (0 picks a free port).
    pub fn start(router: Router, port: u16) -> anyhow::Result<Self> {
        let (addr, shutdown, thread) = serve_on_thread("emulator", port, |listener, stop| async {
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await;
        })?;
        Ok(Self {
            addr,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Blocks until the server stops (used by `ledgerlink emulate`).
    pub fn wait(mut self) {
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
