//! `ledgerlink connect quickbooks --config FILE --tenant ID`: the OAuth authorization-code
//! flow. Prints the authorize URL, catches the redirect on the redirect URI's 127.0.0.1 port,
//! checks `state`, exchanges the code and stores the tokens and realm in the vault.

use crate::config::{AuthKind, HostConfig, DEFAULT_REDIRECT_URI};
use anyhow::{bail, Context, Result};
use axum::extract::{Query, State};
use axum::response::Html;
use axum::routing::get;
use rand::RngCore;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// Which service to connect.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Service {
    /// QuickBooks Online (authorization code).
    Quickbooks,
}

/// Arguments of `ledgerlink connect`.
#[derive(clap::Args)]
pub struct ConnectArgs {
    /// The service.
    #[arg(value_enum)]
    service: Service,
    /// The config file.
    #[arg(long, short, value_name = "FILE", default_value = "ledgerlink.toml")]
    config: PathBuf,
    /// The tenant to connect.
    #[arg(long)]
    tenant: String,
    /// How long to wait for the redirect, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout_secs: u64,
}

type Callback = HashMap<String, String>;
type Slot = Arc<Mutex<Option<oneshot::Sender<Callback>>>>;

async fn callback(State(slot): State<Slot>, Query(params): Query<Callback>) -> Html<&'static str> {
    let tx = slot.lock().unwrap_or_else(|p| p.into_inner()).take();
    match tx {
        Some(tx) => {
            let _ = tx.send(params);
            Html("<p>Ledgerlink received the authorization. You can close this window and return to the terminal.</p>")
        }
        None => Html("<p>This authorization was already received.</p>"),
    }
}

/// Runs the flow.
pub async fn run(args: ConnectArgs) -> Result<i32> {
    let Service::Quickbooks = args.service;
    let name = "quickbooks";
    let config = HostConfig::load(&args.config)?;
    let tenant = config.tenant(&args.tenant)?;
    let conn = tenant
        .connections
        .get(name)
        .with_context(|| format!("tenant {} has no quickbooks connection", tenant.id))?;
    if conn.auth != Some(AuthKind::QuickbooksOauth) {
        bail!(
            "tenant {}: the quickbooks connection must say auth = \"quickbooks-oauth\" to be connected",
            tenant.id
        );
    }
    let redirect = conn.redirect_uri.clone().unwrap_or_else(|| {
        url::Url::parse(DEFAULT_REDIRECT_URI).unwrap_or_else(|_| unreachable!())
    });
    let host = redirect.host_str().unwrap_or_default();
    if redirect.scheme() != "http" || !matches!(host, "127.0.0.1" | "localhost") {
        bail!(
            "redirect-uri {redirect} must be http://127.0.0.1:PORT/... (the command listens there)"
        );
    }
    let port = redirect
        .port()
        .with_context(|| format!("redirect-uri {redirect} needs an explicit port"))?;
    let db = config.store.open()?;
    let vault = config.open_vault(&db)?;
    let broker = config.broker(&tenant.id, name, vault)?;
    let oauth = config.qbo_oauth(&tenant.id)?;

    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("listening on 127.0.0.1:{port} for the redirect"))?;
    let mut state_bytes = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut state_bytes);
    let state: String = state_bytes.iter().map(|b| format!("{b:02x}")).collect();
    let (tx, rx) = oneshot::channel();
    let slot: Slot = Arc::new(Mutex::new(Some(tx)));
    let app = axum::Router::new()
        .route(redirect.path(), get(callback))
        .with_state(slot);
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });

    println!("Open this URL in a browser and approve access to the QuickBooks company:");
    println!("{}", oauth.authorize_url(&state));
    println!("Waiting for the redirect to {redirect} ...");
    let _ = std::io::stdout().flush();

    let params = tokio::time::timeout(Duration::from_secs(args.timeout_secs), rx).await;
    let _ = stop_tx.send(());
    let _ = server.await;
    let params = match params {
        Ok(Ok(p)) => p,
        Ok(Err(_)) => bail!("the redirect listener stopped"),
        Err(_) => bail!("no redirect within {} s", args.timeout_secs),
    };
    if let Some(error) = params.get("error") {
        bail!(
            "authorization was refused: {error}{}",
            params
                .get("error_description")
                .map(|d| format!(": {d}"))
                .unwrap_or_default()
        );
    }
    let returned = params.get("state").map(String::as_str).unwrap_or_default();
    if !bool::from(subtle::ConstantTimeEq::ct_eq(
        returned.as_bytes(),
        state.as_bytes(),
    )) {
        bail!("the redirect's state does not match: not our authorization request (possible CSRF); nothing was stored");
    }
    let code = params
        .get("code")
        .filter(|c| !c.is_empty())
        .context("the redirect has no code")?;
    let realm = params
        .get("realmId")
        .filter(|r| !r.is_empty())
        .context("the redirect has no realmId")?;
    if let Some(expected) = tenant.settings.get("realm-id") {
        if expected != realm {
            bail!("the approved company is realm {realm}, but tenant {} is configured for realm {expected}; nothing was stored", tenant.id);
        }
    }
    broker
        .connect_with_code(code, realm)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    println!(
        "Connected tenant {} to QuickBooks realm {realm}.",
        tenant.id
    );
    Ok(0)
}
