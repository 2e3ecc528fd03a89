//! What operators and finance see, as they see it: `ledgerlink run` writes each tenant's
//! reconciliation and aging reports after their scheduled runs and serves `/status` and
//! `/status.json` behind a bearer token; `ledgerlink report` writes a chosen period's report;
//! and the pages, opened in headless Chromium at a phone's width, show the figures with nothing
//! cut off. Screenshots go to `<target tmp>/pages/`.

use ledgerlink::emulated_company::LocalCompany;
use ledgerlink_emulators::seed::SeedSpec;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{listening, money, unthrottled, BIN};

const TENANT: &str = "acme";
const QBO_TOKEN_ENV: &str = "LL_PAGES_QBO_TOKEN";
const SF_TOKEN_ENV: &str = "LL_PAGES_SF_TOKEN";
const STATUS_TOKEN: &str = "status-token-for-the-test";

fn write_config(dir: &Path, c: &LocalCompany) -> PathBuf {
    let path = dir.join("ledgerlink.toml");
    std::fs::write(
        &path,
        format!(
            r#"[store]
path = "ledgerlink.db"

[server]
listen = "127.0.0.1:0"
scheduler-tick-ms = 100
reports-dir = "reports"

[[tenant]]
id = "{TENANT}"

[tenant.settings]
realm-id = "{realm}"
home-currency = "USD"

[tenant.schedules]
sync-invoices = "* * * * * *"
aging = "*/2 * * * * *"
reconcile = "*/3 * * * * *"
poll = "off"
{connections}"#,
            realm = c.realm,
            connections = c.connections_toml(QBO_TOKEN_ENV, SF_TOKEN_ENV),
        ),
    )
    .unwrap();
    path
}

fn with_tokens(cmd: &mut Command, c: &LocalCompany) {
    cmd.env(QBO_TOKEN_ENV, c.qbo.issue_tokens(&c.realm).access_token)
        .env(SF_TOKEN_ENV, c.sf.issue_token());
}

/// `ledgerlink run`, stopped (killed if need be) on drop.
struct Daemon(Child, String);

impl Daemon {
    fn start(config: &Path, c: &LocalCompany) -> Self {
        let mut cmd = Command::new(BIN);
        cmd.args(["run", "--config"])
            .arg(config)
            .env("LEDGERLINK_STATUS_TOKEN", STATUS_TOKEN)
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(config.with_file_name("daemon.log")).unwrap());
        with_tokens(&mut cmd, c);
        let mut child = cmd.spawn().unwrap();
        let (url, _stdout) = listening(&mut child, None);
        Self(child, url)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// What a page shows in Chromium at a phone's width (412 px): the text of each `<b id=..>`
/// figure, the number of chart labels that run past their drawing, how far the page is wider
/// than the screen, its title and table rows. Read by a probe page that loads it in a frame.
fn seen_in_chromium(page: &Path, screenshot: &Path) -> Value {
    let chromium = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("headless Chromium is needed (Debian package `chromium`; .ci/run installs it)");
    let probe = page.with_extension("probe.html");
    std::fs::write(
        &probe,
        format!(
            r#"<!doctype html><html><body style="margin:0">
<iframe id=f src="{}" style="width:412px;height:900px;border:0"></iframe><pre id=result>pending</pre>
<script>
document.getElementById('f').addEventListener('load', () => {{
  const d = document.getElementById('f').contentDocument;
  const figures = {{}};
  d.querySelectorAll('b[id], b[class]').forEach(e => {{ figures[e.id || e.className] = e.textContent; }});
  let clipped = 0;
  d.querySelectorAll('svg').forEach(svg => {{
    const vb = svg.viewBox.baseVal;
    svg.querySelectorAll('text').forEach(t => {{
      const b = t.getBBox();
      if (b.x + b.width > vb.x + vb.width + 0.5) clipped++;
    }});
  }});
  const de = d.documentElement;
  document.getElementById('result').textContent = JSON.stringify({{
    figures, clipped, overflow: de.scrollWidth - de.clientWidth, title: d.title,
    rows: d.querySelectorAll('tr').length, text: d.body.innerText }});
}});
</script></body></html>"#,
            page.file_name().unwrap().to_string_lossy()
        ),
    )
    .unwrap();
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--hide-scrollbars",
        "--allow-file-access-from-files",
    ];
    let profile = tempfile::tempdir().unwrap();
    let dom = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--virtual-time-budget=10000", "--dump-dom"])
        .arg(format!("file://{}", probe.display()))
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    let start = dom.find("<pre id=\"result\">").expect("the probe ran") + 17;
    let end = start + dom[start..].find("</pre>").unwrap();
    let json = dom[start..end]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let seen: Value = serde_json::from_str(&json).unwrap_or_else(|e| panic!("{e}: {json}"));
    let shot = Command::new(chromium)
        .args(common)
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(["--window-size=412,1400", "--virtual-time-budget=5000"])
        .arg(format!("--screenshot={}", screenshot.display()))
        .arg(format!("file://{}", page.display()))
        .output()
        .unwrap();
    assert!(
        std::fs::metadata(screenshot).is_ok_and(|m| m.len() > 1000),
        "no screenshot: {}",
        String::from_utf8_lossy(&shot.stderr)
    );
    seen
}

fn assert_readable_on_a_phone(seen: &Value, what: &str) {
    assert_eq!(
        seen["clipped"], 0,
        "{what}: a chart figure is cut off: {seen:#}"
    );
    assert_eq!(seen["overflow"], 0, "{what}: wider than a phone: {seen:#}");
}

#[test]
fn the_daemon_writes_reports_serves_its_status_and_the_pages_read_well_on_a_phone() {
    let c = crate::support::company(unthrottled(SeedSpec {
        accounts: 5,
        products: 4,
        opportunities: 10,
        closed_won_fraction: 0.6,
        lines_per_opportunity: 2,
        orders: 0,
        seed: 11,
    }));
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &c);
    let reports = dir.path().join("reports").join(TENANT);
    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pages");
    std::fs::create_dir_all(&shots).unwrap();

    let status_page;
    {
        let daemon = Daemon::start(&config, &c);
        // After their scheduled runs, both reports are in the tenant's folder in every format,
        // the aging one (rewritten at each run) from a run after the invoices were made.
        wait_for("the daemon's reports", || {
            let names = files_in(&reports);
            let all_formats = ["html", "csv", "json"].iter().all(|ext| {
                names
                    .iter()
                    .any(|n| n.starts_with("aging-") && n.ends_with(ext))
                    && names
                        .iter()
                        .any(|n| n.starts_with("reconciliation-") && n.ends_with(ext))
            });
            let aged = names
                .iter()
                .filter(|n| n.starts_with("aging-") && n.ends_with(".json"))
                .filter_map(|n| std::fs::read_to_string(reports.join(n)).ok())
                .filter_map(|t| serde_json::from_str::<Value>(&t).ok())
                .any(|v| v["invoices"].as_array().is_some_and(|i| !i.is_empty()));
            all_formats && aged
        });

        let http = reqwest::blocking::Client::new();
        for path in ["/status", "/status.json"] {
            let denied = http.get(format!("{}{path}", daemon.1)).send().unwrap();
            assert_eq!(denied.status(), 401, "{path} without the token");
            let wrong = http
                .get(format!("{}{path}", daemon.1))
                .bearer_auth("not-the-token")
                .send()
                .unwrap();
            assert_eq!(wrong.status(), 401, "{path} with a wrong token");
        }
        wait_for("sync-invoices in the status", || {
            let v: Value = http
                .get(format!("{}/status.json", daemon.1))
                .bearer_auth(STATUS_TOKEN)
                .send()
                .unwrap()
                .json()
                .unwrap();
            v[0]["last_runs"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|r| r["job"] == "sync-invoices" && r["status"] == "ok")
            })
        });
        let status: Value = http
            .get(format!("{}/status.json", daemon.1))
            .bearer_auth(STATUS_TOKEN)
            .send()
            .unwrap()
            .json()
            .unwrap();
        let tenant = &status[0];
        assert_eq!(tenant["tenant"], TENANT);
        let next: Vec<&str> = tenant["next_runs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["job"].as_str().unwrap())
            .collect();
        for job in ["sync-invoices", "aging", "reconcile"] {
            assert!(
                next.contains(&job),
                "{job} not among the next runs {next:?}"
            );
        }
        assert!(!next.contains(&"poll"), "poll is off: {next:?}");
        let html = http
            .get(format!("{}/status", daemon.1))
            .bearer_auth(STATUS_TOKEN)
            .send()
            .unwrap();
        assert_eq!(html.status(), 200);
        status_page = html.text().unwrap();
        assert!(!status_page.contains(STATUS_TOKEN));
        assert!(!status_page.contains(&c.sf.issue_token()));
    }

    // A chosen period, on demand: every Closed Won opportunity of the seed, to the cent.
    let mut job = Command::new(BIN);
    job.args(["job", "reconcile", "--config"])
        .arg(&config)
        .args([
            "--args",
            r#"{"period-start":"2000-01-01","period-end":"2099-12-31"}"#,
        ]);
    with_tokens(&mut job, &c);
    let ran = job.output().unwrap();
    assert!(
        ran.status.success(),
        "{}",
        String::from_utf8_lossy(&ran.stderr)
    );
    let out = dir.path().join("out");
    let report = Command::new(BIN)
        .args(["report", "reconcile", "--config"])
        .arg(&config)
        .args(["--period", "2000-01-01/2099-12-31", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(
        report.status.success(),
        "{}",
        String::from_utf8_lossy(&report.stderr)
    );
    let stem = "reconciliation-2000-01-01_2099-12-31";
    assert_eq!(
        files_in(&out),
        ["csv", "html", "json"]
            .map(|e| format!("{stem}.{e}"))
            .to_vec()
    );
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join(format!("{stem}.json"))).unwrap())
            .unwrap();
    let won: rust_decimal::Decimal =
        c.sf.records("Opportunity")
            .iter()
            .filter(|o| o["IsWon"] == true)
            .map(|o| money(&o["Amount"]))
            .sum();
    assert_eq!(money(&json["salesforce-total"]), won);
    assert_eq!(money(&json["quickbooks-total"]), won);
    // Month by month, adding up to the period's totals.
    let months = json["months"].as_array().unwrap();
    assert!(!months.is_empty(), "{json:#}");
    let by_month: rust_decimal::Decimal =
        months.iter().map(|m| money(&m["salesforce-total"])).sum();
    assert_eq!(by_month, won);
    let none = Command::new(BIN)
        .args(["report", "reconcile", "--config"])
        .arg(&config)
        .args(["--period", "2001-02", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(none.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&none.stderr).contains("no reconcile report is stored"));

    // As a person sees them.
    let seen = seen_in_chromium(
        &out.join(format!("{stem}.html")),
        &shots.join("reconciliation.png"),
    );
    assert_readable_on_a_phone(&seen, "reconciliation");
    let shown_total = seen["figures"]["salesforce-total"].as_str().unwrap();
    assert!(shown_total.starts_with("USD "), "{shown_total}");
    assert_eq!(money(&Value::from(shown_total[4..].replace(',', ""))), won);
    assert!(seen["text"]
        .as_str()
        .unwrap()
        .contains("Matched opportunities"));

    let aging = files_in(&reports)
        .into_iter()
        .find(|n| n.starts_with("aging-") && n.ends_with(".html"))
        .unwrap();
    let seen = seen_in_chromium(&reports.join(&aging), &shots.join("aging.png"));
    assert_readable_on_a_phone(&seen, "aging");
    assert!(seen["figures"]["total-open"]
        .as_str()
        .unwrap()
        .starts_with("USD "));
    let open_invoices: usize = seen["figures"]["open-count"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(open_invoices > 0, "{seen:#}");

    let status_file = dir.path().join("status.html");
    std::fs::write(&status_file, &status_page).unwrap();
    let seen = seen_in_chromium(&status_file, &shots.join("status.png"));
    assert_readable_on_a_phone(&seen, "status");
    assert_eq!(seen["title"], "Ledgerlink status");
    let text = seen["text"].as_str().unwrap();
    for expected in [
        "Tenant acme",
        "Last run of each job",
        "sync-invoices",
        "Next scheduled runs",
    ] {
        assert!(
            text.contains(expected),
            "{expected} not on the status page:\n{text}"
        );
    }
}
