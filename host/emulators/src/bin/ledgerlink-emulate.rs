//! `ledgerlink-emulate <service> [options]`: runs one emulator on 127.0.0.1, prints one JSON line
//! describing it (URL, credentials, ready-made tokens) on stdout, then serves until killed.
//!
//! ```text
//! ledgerlink-emulate quickbooks [--port N] [--seed-file F] [--config F]
//!                               [--webhook-url URL] [--webhook-format legacy|cloud_events] [--no-rate-limits]
//! ```

use anyhow::{bail, Context};
use ledgerlink_emulators::qbo::{QboConfig, QboEmulator, WebhookFormat};
use serde_json::{json, Value};
use std::io::Write;
use std::process::ExitCode;

const USAGE: &str = "usage: ledgerlink-emulate quickbooks [--port N] [--seed-file F] [--config F] [--webhook-url URL] [--webhook-format legacy|cloud_events] [--no-rate-limits]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ledgerlink-emulate: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> anyhow::Result<()> {
    let Some(service) = args.first() else {
        bail!("{USAGE}")
    };
    match service.as_str() {
        "quickbooks" | "qbo" => quickbooks(&args[1..]),
        "salesforce" | "sf" => salesforce(&args[1..]),
        "-h" | "--help" | "help" => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown service {other:?}\n{USAGE}"),
    }
}

fn value<'a>(args: &'a [String], i: usize, flag: &str) -> anyhow::Result<&'a str> {
    args.get(i + 1)
        .map(String::as_str)
        .with_context(|| format!("{flag} needs a value"))
}

fn quickbooks(args: &[String]) -> anyhow::Result<()> {
    let mut port: u16 = 0;
    let mut seed_file = None;
    let mut config = QboConfig::default();
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--port" => {
                port = value(args, i, "--port")?
                    .parse()
                    .context("--port must be a number")?
            }
            "--seed-file" => seed_file = Some(value(args, i, "--seed-file")?.to_string()),
            "--config" => {
                let path = value(args, i, "--config")?;
                let text =
                    std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?;
                config = serde_json::from_str(&text)
                    .with_context(|| format!("parsing {path} as a QboConfig JSON object"))?;
            }
            "--webhook-url" => {
                config.webhook_url = Some(value(args, i, "--webhook-url")?.to_string())
            }
            "--webhook-format" => {
                config.webhook_format = match value(args, i, "--webhook-format")? {
                    "legacy" => WebhookFormat::Legacy,
                    "cloud_events" | "cloudevents" => WebhookFormat::CloudEvents,
                    other => bail!("unknown webhook format {other:?}"),
                }
            }
            "--no-rate-limits" => {
                config.rate_limits.enabled = false;
                i += 1;
                continue;
            }
            other => bail!("unknown option {other:?}\n{USAGE}"),
        }
        i += 2;
    }
    let (emulator, server) = QboEmulator::start(config.clone(), port)?;
    let realm = config
        .realms
        .first()
        .cloned()
        .context("at least one realm is needed")?;
    if let Some(path) = seed_file {
        let text = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let seed: Value = serde_json::from_str(&text).with_context(|| format!("parsing {path}"))?;
        let per_realm = seed.as_object().is_some_and(|m| {
            !m.is_empty() && m.keys().all(|k| k.chars().all(|c| c.is_ascii_digit()))
        });
        if per_realm {
            for (r, s) in seed.as_object().into_iter().flatten() {
                emulator
                    .load_seed(r, s)
                    .with_context(|| format!("seeding realm {r}"))?;
            }
        } else {
            for r in &config.realms {
                emulator
                    .load_seed(r, &seed)
                    .with_context(|| format!("seeding realm {r}"))?;
            }
        }
    }
    let tokens = emulator.issue_tokens(&realm);
    let line = json!({
        "service": "quickbooks",
        "url": server.url(),
        "realm_id": realm,
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "verifier_token": config.verifier_token,
        "access_token": tokens.access_token,
        "refresh_token": tokens.refresh_token
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    server.wait();
    Ok(())
}

/// `ledgerlink-emulate salesforce [--port N] [--pubsub-port N] [--pubsub-tls] [--schema F] [--config F] [--page-size N] [--daily-limit N]`
fn salesforce(args: &[String]) -> anyhow::Result<()> {
    use ledgerlink_emulators::salesforce::{SalesforceConfig, SalesforceEmulator};
    let mut port: u16 = 0;
    let mut pubsub_port: u16 = 0;
    let mut pubsub_tls = false;
    let mut config = SalesforceConfig::default();
    let mut overrides: Vec<(String, String)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let flag = args[i].as_str();
        if flag == "--pubsub-tls" {
            pubsub_tls = true;
            i += 1;
            continue;
        }
        let v = value(args, i, flag)?.to_string();
        match flag {
            "--port" => port = v.parse().context("--port must be a number")?,
            "--pubsub-port" => pubsub_port = v.parse().context("--pubsub-port must be a number")?,
            "--config" => {
                let text = std::fs::read_to_string(&v).with_context(|| format!("reading {v}"))?;
                config = serde_json::from_str(&text).with_context(|| format!("parsing {v} as a SalesforceConfig JSON object"))?;
            }
            "--schema" | "--page-size" | "--daily-limit" => overrides.push((flag.to_string(), v)),
            other => bail!("unknown option {other:?}\nusage: ledgerlink-emulate salesforce [--port N] [--pubsub-port N] [--pubsub-tls] [--schema F] [--config F] [--page-size N] [--daily-limit N]"),
        }
        i += 2;
    }
    for (flag, v) in overrides {
        match flag.as_str() {
            "--schema" => config.schema = Some(v.into()),
            "--page-size" => {
                config.page_size = v.parse().context("--page-size must be a number")?
            }
            _ => config.daily_api_limit = v.parse().context("--daily-limit must be a number")?,
        }
    }
    let (emulator, server) = SalesforceEmulator::start(config.clone(), port)?;
    let pubsub = emulator.start_pubsub(
        ledgerlink_emulators::salesforce::pubsub::PubSubConfig {
            tls: pubsub_tls,
            ..Default::default()
        },
        pubsub_port,
    )?;
    let line = json!({
        "service": "salesforce",
        "url": server.url(),
        "pubsub_url": pubsub.url(),
        "pubsub_ca_pem": pubsub.ca_pem(),
        "org_id": emulator.org_id(),
        "client_id": config.client_id,
        "client_secret": config.client_secret,
        "access_token": emulator.issue_token(),
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")?;
    stdout.flush()?;
    drop(stdout);
    server.wait();
    Ok(())
}
