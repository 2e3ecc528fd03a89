//! What several of these tests share: the `ledgerlink` binary, amounts read and written exactly,
//! the connection sections of a tenant's config, and `ledgerlink status --json`.

use ledgerlink::db::Database;
use ledgerlink::emulated_company::{LocalCompany, LocalOptions};
use ledgerlink_emulators::qbo::{QboConfig, RateLimits};
use ledgerlink_emulators::seed::SeedSpec;
use rust_decimal::Decimal;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Command;

/// The URL `ledgerlink run` announces on its first line (`ledgerlink listening on <url>`), and
/// its stdout (keep it to keep the pipe open). Any other first line kills the child and fails
/// the test with the line and the end of `log`, when given.
pub fn listening(
    child: &mut std::process::Child,
    log: Option<&Path>,
) -> (String, BufReader<std::process::ChildStdout>) {
    let mut stdout = BufReader::new(child.stdout.take().expect("a piped stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    match line.trim().strip_prefix("ledgerlink listening on ") {
        Some(url) => (url.to_string(), stdout),
        None => {
            let _ = child.kill();
            let _ = child.wait();
            let log = log
                .map(|l| std::fs::read_to_string(l).unwrap_or_default())
                .unwrap_or_default();
            panic!("unexpected first line {line:?}; log:\n{log}")
        }
    }
}

/// The `ledgerlink` binary cargo built for these tests.
pub const BIN: &str = env!("CARGO_BIN_EXE_ledgerlink");

/// `ledgerlink --plugin <test guest> ARGS --config CONFIG`: its exit code and its stdout then
/// stderr.
pub fn test_guest_cli(args: &[&str], config: &Path) -> (Option<i32>, String) {
    let out = std::process::Command::new(BIN)
        .args(["--plugin", ledgerlink::TEST_GUEST_PATH])
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .unwrap();
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text)
}

/// Emulators seeded with `seed`, QBO's rate limits off (pacing has tests of its own).
pub fn unthrottled(seed: SeedSpec) -> LocalOptions {
    LocalOptions {
        seed,
        qbo: QboConfig {
            rate_limits: RateLimits {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        },
        ..LocalOptions::default()
    }
}

/// A company on in-process emulators. Its own tenant (unused by the tests that run `ledgerlink`
/// as a process, whose store comes from their config) keeps its state in a scratch store.
pub fn company(options: LocalOptions) -> LocalCompany {
    let scratch = Database::in_memory().unwrap();
    LocalCompany::start(options, &scratch).unwrap()
}

/// A decimal from a JSON number or string.
pub fn money(v: &Value) -> Decimal {
    let text = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    text.parse()
        .unwrap_or_else(|_| panic!("{v} is not an amount"))
}

/// A JSON number written from the decimal's text, never through f64 arithmetic.
pub fn number(d: Decimal) -> Value {
    serde_json::from_str(&d.to_string()).unwrap()
}

/// `ledgerlink status --json` for `config`: one object per tenant.
pub fn status_json(config: &Path) -> Value {
    let out = Command::new(BIN)
        .args(["status", "--json", "--config"])
        .arg(config)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A tenant's last run of `job` in its status.
pub fn last_run<'a>(tenant: &'a Value, job: &str) -> Option<&'a Value> {
    tenant["last_runs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["job"] == job)
}
