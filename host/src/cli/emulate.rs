//! `ledgerlink emulate quickbooks|salesforce|all`: runs the API emulators on 127.0.0.1 (with
//! Salesforce's Pub/Sub API on its own port) and prints their URLs and test credentials, until
//! Ctrl-C.

use anyhow::Result;
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator};
use ledgerlink_emulators::salesforce::pubsub::PubSubConfig;
use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
use ledgerlink_emulators::seed::{generate, SeedSpec};
use serde_json::{json, Value};

/// Which emulators to run.
#[derive(Clone, Copy, clap::ValueEnum)]
pub enum Service {
    /// QuickBooks Online.
    Quickbooks,
    /// Salesforce.
    Salesforce,
    /// Both.
    All,
}

/// Arguments of `ledgerlink emulate`.
#[derive(clap::Args)]
pub struct EmulateArgs {
    /// Which emulator(s) to run.
    #[arg(value_enum, default_value = "all")]
    service: Service,
    /// QBO port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    qbo_port: u16,
    /// Salesforce port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    sf_port: u16,
    /// Salesforce Pub/Sub API (gRPC) port (0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pubsub_port: u16,
    /// Serve the Pub/Sub API over TLS with a self-signed certificate (printed), for clients
    /// that speak only TLS.
    #[arg(long)]
    pubsub_tls: bool,
    /// Turn QBO's rate limits off.
    #[arg(long)]
    no_rate_limits: bool,
    /// POST QBO webhooks (signed with the printed verifier token) to this URL.
    #[arg(long)]
    webhook_url: Option<String>,
    /// Seed Salesforce with a generated company of this many accounts (products, opportunities
    /// and orders scale with it).
    #[arg(long, default_value_t = 0)]
    seed_accounts: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    json: bool,
}

/// Starts the emulators, prints how to reach them and serves until interrupted.
pub async fn run(args: EmulateArgs) -> Result<i32> {
    let mut described = serde_json::Map::new();
    let mut servers = Vec::new();
    let mut pubsubs = Vec::new();
    if matches!(args.service, Service::Quickbooks | Service::All) {
        let mut config = QboConfig {
            webhook_url: args.webhook_url.clone(),
            ..QboConfig::default()
        };
        config.rate_limits.enabled = !args.no_rate_limits;
        let (emulator, server) = QboEmulator::start(config.clone(), args.qbo_port)?;
        let realm = config.realms.first().cloned().unwrap_or_default();
        let tokens = emulator.issue_tokens(&realm);
        described.insert(
            "quickbooks".into(),
            json!({
                "url": server.url(),
                "api_base": format!("{}/v3/company/{realm}", server.url()),
                "discovery": format!("{}/.well-known/openid_configuration", server.url()),
                "realm_id": realm,
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "verifier_token": config.verifier_token,
                "access_token": tokens.access_token,
                "refresh_token": tokens.refresh_token,
            }),
        );
        servers.push(server);
    }
    if matches!(args.service, Service::Salesforce | Service::All) {
        let config = SalesforceConfig::default();
        let (emulator, server) = SalesforceEmulator::start(config.clone(), args.sf_port)?;
        let pubsub = emulator.start_pubsub(
            PubSubConfig {
                tls: args.pubsub_tls,
                ..PubSubConfig::default()
            },
            args.pubsub_port,
        )?;
        if args.seed_accounts > 0 {
            let n = args.seed_accounts;
            let spec = SeedSpec {
                accounts: n,
                products: (n / 2).max(1),
                opportunities: n * 2,
                orders: n / 2,
                ..SeedSpec::default()
            };
            generate(&spec).load_into(&emulator)?;
        }
        described.insert(
            "salesforce".into(),
            json!({
                "url": server.url(),
                "token_endpoint": format!("{}/services/oauth2/token", server.url()),
                "pubsub_url": pubsub.url(),
                "pubsub_ca_pem": pubsub.ca_pem(),
                "org_id": emulator.org_id(),
                "client_id": config.client_id,
                "client_secret": config.client_secret,
                "access_token": emulator.issue_token(),
            }),
        );
        servers.push(server);
        pubsubs.push(pubsub);
    }
    let described = Value::Object(described);
    if args.json {
        println!("{described}");
    } else {
        print_text(&described);
    }
    tokio::signal::ctrl_c().await?;
    drop(servers);
    drop(pubsubs);
    Ok(0)
}

fn print_text(described: &Value) {
    for (service, fields) in described.as_object().into_iter().flatten() {
        println!("{service}:");
        for (key, value) in fields.as_object().into_iter().flatten() {
            println!("  {key:<15} {}", value.as_str().unwrap_or_default());
        }
    }
    println!("Control API: <url>/_emulator/{{clock,clock/advance,faults,log}}. Ctrl-C stops.");
}
