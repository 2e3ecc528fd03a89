//! `ledgerlink demo`: the product's main job in one command, with no configuration. Starts both
//! emulators in-process with a seeded company, runs every flow through the real component and
//! the real webhook receiver, prints a summary, writes the reconciliation and aging reports, and
//! exits 0 only when the books agree: every Closed Won opportunity has exactly one invoice.
//! Every job and webhook runs through the scheduler's runner, as in the daemon ([`runs`]).

mod runs;
mod tally;

use crate::db::Database;
use crate::emulated_company::{LocalCompany, LocalOptions, TENANT};
use crate::flow_calls;
use crate::metrics::Metrics;
use crate::reports::{self, files::Format};
use crate::runtime::exports::ledgerlink::sync::flows::{Outcome, ReportKind, StoredReport};
use crate::runtime::{Limits, Runtime};
use crate::webhooks::inbox::Inbox;
use crate::webhooks::routing::WebhookTenants;
use crate::webhooks::{self, worker, WebhookConfig, WebhookState};
use anyhow::{Context, Result};
use chrono::Utc;
use indicatif::{ProgressBar, ProgressStyle};
use ledgerlink_emulators::qbo::{CompanyProfile, QboConfig};
use ledgerlink_emulators::salesforce::{Currencies, SalesforceConfig};
use ledgerlink_emulators::seed::SeedSpec;
use runs::DemoRuns;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tally::Tally;

/// Arguments of `ledgerlink demo`.
#[derive(clap::Args)]
pub struct DemoArgs {
    /// Where the store and the reports are written (replaced on each run).
    #[arg(long, default_value = "ledgerlink-demo")]
    out: PathBuf,
    /// Salesforce accounts to generate.
    #[arg(long, default_value_t = 50)]
    accounts: usize,
    /// Products to generate.
    #[arg(long, default_value_t = 20)]
    products: usize,
    /// Opportunities to generate (40 % Closed Won).
    #[arg(long, default_value_t = 100)]
    opportunities: usize,
    /// Orders to generate.
    #[arg(long, default_value_t = 10)]
    orders: usize,
    /// Payments to record in QBO (each sends a signed webhook).
    #[arg(long, default_value_t = 12)]
    payments: usize,
}

/// Runs the demo; returns the exit code.
pub async fn run(plugin: Option<&Path>, args: DemoArgs) -> Result<i32> {
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let store = args.out.join("ledgerlink.db");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", store.display()));
    }
    let db = Database::open(&store)?;
    let limits = Limits {
        cpu_deadline: Duration::from_secs(600),
        wall_clock: Duration::from_secs(600),
        ..Limits::default()
    };
    let runtime = match plugin {
        Some(path) => Runtime::from_file(path, limits)?,
        None => Runtime::embedded(limits)?,
    };

    // The webhook receiver first, so that QBO can be told where to send.
    let inbox = Inbox::new(db.clone())?;
    let tenants = WebhookTenants::new();
    let metrics = Metrics::new();
    let state = WebhookState::new(
        inbox.clone(),
        tenants.clone(),
        metrics.clone(),
        WebhookConfig::default(),
    );
    let receiver = webhooks::serve("127.0.0.1:0".parse()?, state).await?;
    let qbo_config = QboConfig {
        webhook_url: Some(format!("{}/webhooks/quickbooks", receiver.url())),
        webhook_delay_ms: 100,
        // Multicurrency (a few deals are in euros) and two custom fields on sales forms.
        company: CompanyProfile {
            multicurrency: true,
            custom_fields: vec!["Sales Rep".into(), "Industry".into()],
            ..CompanyProfile::default()
        },
        ..QboConfig::default()
    };
    let options = LocalOptions {
        seed: SeedSpec {
            accounts: args.accounts,
            products: args.products,
            opportunities: args.opportunities,
            closed_won_fraction: 0.4,
            lines_per_opportunity: 3,
            orders: args.orders,
            seed: 42,
        },
        qbo: qbo_config.clone(),
        salesforce: SalesforceConfig {
            currencies: Some(Currencies::new("USD", [("EUR", Decimal::new(92, 2))])),
            ..SalesforceConfig::default()
        },
        settings: demo_settings(),
        pacing: true,
    };
    let company = {
        let db = db.clone();
        tokio::task::spawn_blocking(move || LocalCompany::start(options, &db)).await??
    };
    tenants.insert(&company.realm, TENANT, &qbo_config.verifier_token);
    seed_quickbooks_side(&company)?;
    seed_invoice_details(&company)?;
    let subscription = seed_subscription(&company)?;
    let runs = DemoRuns::new(
        runtime.clone(),
        company.tenant.clone(),
        &db,
        metrics.clone(),
    )
    .await?;

    println!("Ledgerlink demo");
    println!(
        "  Salesforce emulator {}  QuickBooks emulator {}  webhooks {}",
        company.sf_url(),
        company.qbo_url(),
        receiver.url()
    );
    let won = closed_won(&company);
    println!(
        "  seeded: {} accounts, {} products, {} opportunities ({} Closed Won), {} orders\n",
        company.sf.records("Account").len(),
        company.sf.records("Product2").len(),
        company.sf.records("Opportunity").len(),
        won.len(),
        company.sf.records("Order").len()
    );

    let steps: [(&str, &str, Value); 5] = [
        (
            "Accounts -> QBO customers",
            "sync-accounts",
            json!({"full": true}),
        ),
        (
            "Products -> QBO items",
            "sync-products",
            json!({"full": true}),
        ),
        (
            "Closed Won -> QBO invoices",
            "sync-invoices",
            json!({"full": true}),
        ),
        (
            "Activated orders -> journal entries",
            "sync-orders",
            json!({"full": true}),
        ),
        (
            "QBO customers and invoices -> Salesforce",
            "poll-quickbooks",
            json!({}),
        ),
    ];
    let bar = ProgressBar::new(steps.len() as u64 + 4);
    bar.set_style(
        ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut tallies: Vec<(String, Tally)> = Vec::new();
    for (label, job, job_args) in &steps {
        bar.set_message(label.to_string());
        let tally = runs.step(job, job_args.clone()).await?;
        tallies.push((label.to_string(), tally));
        bar.inc(1);
    }

    // Payments recorded in QBO reach Salesforce through signed webhooks and the inbox.
    bar.set_message("QBO payments -> opportunity payment status (webhooks)");
    let paid = record_payments(&company, args.payments)?;
    let tally = drain_webhooks(&runs, &company, &inbox, receiver.url()).await?;
    tallies.push(("Payments via webhooks".into(), tally));
    bar.inc(1);

    // After the invoice: a credit memo and a refund on a paid invoice, through webhooks too.
    bar.set_message("QBO credit memo and refund -> opportunity (webhooks)");
    let credited = record_credit_and_refund(&company).await?;
    let tally = drain_webhooks(&runs, &company, &inbox, receiver.url()).await?;
    tallies.push(("Credit memo and refund via webhooks".into(), tally));

    bar.inc(1);

    bar.set_message("Invoice aging");
    let today = Utc::now().date_naive();
    let aging = runs.step("aging", json!({"as-of": today})).await?;
    tallies.push(("Invoice aging".into(), aging));
    bar.inc(1);

    bar.set_message("Reconciliation");
    let (start, end) = seeded_year(&won);
    let rec = runs
        .step(
            "reconcile",
            json!({"period-start": start, "period-end": end}),
        )
        .await?;
    tallies.push(("Reconciliation".into(), rec));
    bar.finish_and_clear();

    // Reports.
    let Some(StoredReport::Reconcile(reconcile)) =
        flow_calls::report(&runtime, &company.tenant, ReportKind::Reconcile, None).await?
    else {
        anyhow::bail!("the component stored no reconciliation");
    };
    let Some(StoredReport::Aging(aging)) =
        flow_calls::report(&runtime, &company.tenant, ReportKind::Aging, None).await?
    else {
        anyhow::bail!("the component stored no aging report");
    };
    // Every format of both reports, named by their period, as `ledgerlink report` writes them.
    let mut files = Vec::new();
    for report in [
        StoredReport::Reconcile(reconcile.clone()),
        StoredReport::Aging(aging.clone()),
    ] {
        files.extend(reports::files::write(
            &args.out,
            &report,
            &Format::ALL,
            "USD",
        )?);
    }
    let notifications = args.out.join("notifications.txt");
    std::fs::write(&notifications, company.notify.messages().join("\n\n"))?;
    files.push(notifications);

    println!(
        "{:<44} {:>8} {:>8} {:>8} {:>7}",
        "step", "created", "updated", "skipped", "failed"
    );
    for (label, t) in &tallies {
        println!(
            "{label:<44} {:>8} {:>8} {:>8} {:>7}",
            t.count(Outcome::Created),
            t.count(Outcome::Updated),
            t.count(Outcome::Skipped),
            t.count(Outcome::Failed)
        );
    }
    let failures: Vec<String> = tallies.iter().flat_map(|(_, t)| t.failures()).collect();
    for f in failures.iter().take(10) {
        println!("  failed: {f}");
    }

    // The books: one invoice per Closed Won opportunity, written back, and totals that agree.
    let invoices = company.qbo.entities(&company.realm, "Invoice");
    let won: Vec<Value> = closed_won(&company)
        .into_iter()
        .filter(|o| o["Id"].as_str() != Some(subscription.as_str()))
        .collect();
    let ours: Vec<&Value> = invoices
        .iter()
        .filter(|i| {
            i["DocNumber"]
                .as_str()
                .is_some_and(|d| d.starts_with("SF-"))
        })
        .collect();
    let written_back = won
        .iter()
        .filter(|o| o["QBO_Invoice_Id__c"].is_string())
        .count();
    let per_opportunity_ok = won.iter().all(|o| {
        let id = o["Id"].as_str().unwrap_or_default();
        o["QBO_Invoice_Id__c"].is_string()
            && ours
                .iter()
                .filter(|i| i["DocNumber"] == json!(format!("SF-{id}")))
                .count()
                == 1
    });
    println!();
    println!(
        "QuickBooks: {} customers, {} items, {} invoices ({} from Closed Won), {} journal entries, {} payments ({paid} recorded in this demo)",
        company.qbo.entities(&company.realm, "Customer").len(),
        company.qbo.entities(&company.realm, "Item").len(),
        invoices.len(),
        ours.len(),
        company.qbo.entities(&company.realm, "JournalEntry").len(),
        company.qbo.entities(&company.realm, "Payment").len(),
    );
    let taxed: Vec<&&Value> = ours
        .iter()
        .filter(|i| {
            i["TxnTaxDetail"]["TotalTax"]
                .to_string()
                .parse::<Decimal>()
                .is_ok_and(|t| t > Decimal::ZERO)
        })
        .collect();
    let count = |f: &dyn Fn(&Value) -> bool| ours.iter().filter(|i| f(i)).count();
    println!(
        "Invoice details: {} with sales tax, {} emailed, {} in EUR (with an exchange rate), {} with a location, {} with a class on every line, {} with terms from the Account, {} with the sales rep",
        taxed.len(),
        count(&|i| i["EmailStatus"] == json!("EmailSent")),
        count(&|i| i["CurrencyRef"]["value"] == json!("EUR") && i["ExchangeRate"].is_number()),
        count(&|i| i["DepartmentRef"].is_object()),
        count(&|i| {
            i["Line"].as_array().is_some_and(|lines| {
                lines
                    .iter()
                    .filter(|l| l["DetailType"] == json!("SalesItemLineDetail"))
                    .all(|l| l["SalesItemLineDetail"]["ClassRef"].is_object())
            })
        }),
        count(&|i| i["SalesTermRef"].is_object()),
        count(&|i| {
            i["CustomField"].as_array().is_some_and(|f| {
                f.iter()
                    .any(|c| c["Name"] == json!("Sales Rep") && c["StringValue"].is_string())
            })
        }),
    );
    let log = company.qbo.log();
    let sf_log = company.sf.log();
    println!(
        "API calls: QuickBooks {} ({} answered 429), Salesforce {}; {:.2} QuickBooks calls per invoice",
        log.len(),
        log.count(|r| r.status == 429),
        sf_log.len(),
        log.len() as f64 / ours.len().max(1) as f64
    );
    println!(
        "Salesforce: {} of {} Closed Won opportunities carry their invoice; {} marked paid or partially paid",
        written_back,
        won.len(),
        company
            .sf
            .records("Opportunity")
            .iter()
            .filter(|o| o["Payment_Status__c"].is_string())
            .count()
    );
    let deal = company
        .sf
        .get("Opportunity", &subscription)
        .context("the subscription opportunity")?;
    let template = deal["QBO_Recurring_Id__c"].as_str().unwrap_or_default();
    let generated = invoices
        .iter()
        .filter(|i| !template.is_empty() && i["RecurDataRef"]["value"] == json!(template))
        .count();
    let periods = company
        .sf
        .records("Ledgerlink_Subscription_Invoice__c")
        .iter()
        .filter(|p| p["Opportunity__c"] == json!(subscription))
        .count();
    println!(
        "Subscription: {} recurring template(s), {generated} invoices QBO generated from it, {periods} linked to the deal as period records; invoiced {}, status {}",
        company.qbo.entities(&company.realm, "RecurringTransaction").len(),
        cents(&deal["Amount_Invoiced__c"]),
        deal["Payment_Status__c"].as_str().unwrap_or("none"),
    );
    let credited_deal = company
        .sf
        .get("Opportunity", &credited)
        .context("the credited opportunity")?;
    println!(
        "Credit memo and refund on a paid invoice: Opportunity {credited} is {} (paid {}, credited {}, refunded {}, open {})",
        credited_deal["Payment_Status__c"].as_str().unwrap_or("none"),
        cents(&credited_deal["Amount_Paid__c"]),
        cents(&credited_deal["Amount_Credited__c"]),
        cents(&credited_deal["Amount_Refunded__c"]),
        cents(&credited_deal["Open_Balance__c"]),
    );
    println!(
        "Reconciliation {} to {}: Salesforce {} vs QuickBooks {}, difference {}, {} discrepancies",
        reconcile.period_start,
        reconcile.period_end,
        reconcile.salesforce_total,
        reconcile.quickbooks_total,
        reconcile.difference,
        reconcile.discrepancies.len()
    );
    println!(
        "Aging as of {}: {} open invoices, {} outstanding; {} notifications sent",
        aging.as_of,
        aging.invoices.len(),
        aging.total_open,
        company.notify.messages().len()
    );
    println!("Reports written to {}:", args.out.display());
    for path in &files {
        println!("  {}", path.display());
    }
    if std::env::var_os("LEDGERLINK_DEMO_CALLS").is_some() {
        let mut by_path: BTreeMap<String, usize> = BTreeMap::new();
        for r in log.entries() {
            let path: String = r.path.split('/').skip(4).take(1).collect();
            let q = r.query.clone().unwrap_or_default();
            let kind = if path == "query" {
                q.chars().skip(6).take(30).collect::<String>()
            } else {
                String::new()
            };
            *by_path
                .entry(format!("{} {path} {kind} {}", r.method, r.status))
                .or_default() += 1;
        }
        for (k, n) in by_path {
            eprintln!("{n:>5} {k}");
        }
    }
    receiver.shutdown().await?;
    let subscription_ok = generated > 0 && periods == generated;
    if per_opportunity_ok && ours.len() == won.len() && subscription_ok {
        println!("\nEvery Closed Won opportunity has exactly one invoice.");
        println!("The subscription has one template, and each invoice QBO made from it is linked.");
        Ok(0)
    } else {
        println!("\nThe books do not agree: see the failures above.");
        Ok(1)
    }
}

/// A Salesforce currency field as an amount with cents ("none" when empty).
fn cents(v: &Value) -> String {
    match v.to_string().trim_matches('"').parse::<Decimal>() {
        Ok(d) => format!("{:.2}", d.round_dp(2)),
        Err(_) => "none".into(),
    }
}

fn closed_won(company: &LocalCompany) -> Vec<Value> {
    company
        .sf
        .records("Opportunity")
        .into_iter()
        .filter(|o| o["IsWon"] == json!(true) && o["AccountId"].is_string())
        .filter(|o| {
            !o["Name"]
                .as_str()
                .unwrap_or_default()
                .starts_with("QBO invoice")
        })
        .collect()
}

/// The first and last day of the year most Closed Won opportunities closed in.
fn seeded_year(won: &[Value]) -> (String, String) {
    let mut years: BTreeMap<String, usize> = BTreeMap::new();
    for o in won {
        if let Some(d) = o["CloseDate"].as_str() {
            *years.entry(d.chars().take(4).collect()).or_default() += 1;
        }
    }
    let year = years
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(y, _)| y)
        .unwrap_or_else(|| "2025".into());
    (format!("{year}-01-01"), format!("{year}-12-31"))
}

/// The invoice settings a finance team would choose (README, "Invoices a bookkeeper can send as
/// they are"): hardware and software taxable, a class per product family, the deal's location,
/// the owner as sales rep, the Account's industry in a custom field, invoices emailed.
fn demo_settings() -> BTreeMap<String, String> {
    [
        ("taxable-families", "Hardware, Software"),
        (
            "family-classes",
            "Hardware=Hardware, Software=Software, Services=Services, Support=Support",
        ),
        ("opportunity-location-field", "QBO_Location__c"),
        ("sales-rep-field-id", "1"),
        ("custom-fields", "2=Account.Industry"),
        ("multicurrency", "true"),
        ("send-invoices", "true"),
        ("subscriptions", "on"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// What the invoice settings refer to: a QBO class per product family and two locations; every
/// other Closed Won deal in a location; and three deals in euros (price book entries in EUR for
/// the first products).
fn seed_invoice_details(company: &LocalCompany) -> Result<()> {
    for class in ["Hardware", "Software", "Services", "Support"] {
        company
            .qbo
            .insert(&company.realm, "Class", json!({"Name": class}))?;
    }
    for location in ["West", "East"] {
        company
            .qbo
            .insert(&company.realm, "Department", json!({"Name": location}))?;
    }
    for (i, o) in closed_won(company)
        .iter()
        .enumerate()
        .filter(|(i, _)| i % 2 == 0)
    {
        let location = if i % 4 == 0 { "West" } else { "East" };
        if let Some(id) = o["Id"].as_str() {
            company
                .sf
                .update("Opportunity", id, json!({"QBO_Location__c": location}))?;
        }
    }
    let pricebook = company.sf.standard_pricebook_id();
    let products = company.sf.records("Product2");
    let accounts = company.sf.records("Account");
    let mut entries = Vec::new();
    for p in products.iter().take(2) {
        entries.push(company.sf.insert(
            "PricebookEntry",
            json!({"Pricebook2Id": pricebook, "Product2Id": p["Id"], "CurrencyIsoCode": "EUR",
                   "UnitPrice": 950.0, "IsActive": true}),
        )?);
    }
    for (n, account) in accounts.iter().take(3).enumerate() {
        let opp = company.sf.insert(
            "Opportunity",
            json!({"Name": format!("{} - EUR deal", account["Name"].as_str().unwrap_or("Account")),
                   "AccountId": account["Id"], "StageName": "Closed Won", "CloseDate": "2026-06-15",
                   "Pricebook2Id": pricebook, "CurrencyIsoCode": "EUR"}),
        )?;
        for (l, entry) in entries.iter().enumerate() {
            company.sf.insert(
                "OpportunityLineItem",
                json!({"OpportunityId": opp, "PricebookEntryId": entry, "Quantity": n + l + 1,
                       "UnitPrice": 950.0, "SortOrder": l + 1}),
            )?;
        }
    }
    Ok(())
}

/// What exists in QBO before the first sync: a vendor whose name collides with an account (the
/// customer gets a suffix, not a 6240), and a walk-in customer invoiced directly in QBO.
fn seed_quickbooks_side(company: &LocalCompany) -> Result<()> {
    if let Some(account) = company.sf.records("Account").first() {
        company.qbo.insert(
            &company.realm,
            "Vendor",
            json!({"DisplayName": account["Name"]}),
        )?;
    }
    let walk_in = company.qbo.insert(
        &company.realm,
        "Customer",
        json!({"DisplayName": "Walk-in Client", "PrimaryEmailAddr": {"Address": "ap@walkin.example"}}),
    )?;
    company.qbo.insert(
        &company.realm,
        "Invoice",
        json!({"CustomerRef": {"value": walk_in["Id"]}, "DocNumber": "Q-1001",
               "Line": [{"Amount": 480.0, "DetailType": "SalesItemLineDetail",
                         "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 4, "UnitPrice": 120.0}}]}),
    )?;
    Ok(())
}

/// A Closed Won subscription: two seats of the first product at 99.00 a month for 12 months,
/// started two months ago, so QBO's template has made three invoices by today. Returns its Id.
fn seed_subscription(company: &LocalCompany) -> Result<String> {
    let account = company
        .sf
        .records("Account")
        .into_iter()
        .last()
        .context("the demo seeds accounts")?;
    let entry = company
        .sf
        .records("PricebookEntry")
        .into_iter()
        .find(|e| e["IsActive"] == json!(true) && e["CurrencyIsoCode"] != json!("EUR"))
        .context("the demo seeds price book entries")?;
    let start = Utc::now().date_naive() - chrono::Months::new(2);
    let opp = company.sf.insert(
        "Opportunity",
        json!({"Name": format!("{} - support subscription", account["Name"].as_str().unwrap_or("Account")),
               "AccountId": account["Id"], "StageName": "Closed Won", "CloseDate": start.to_string(),
               "Pricebook2Id": company.sf.standard_pricebook_id()}),
    )?;
    company.sf.insert(
        "OpportunityLineItem",
        json!({"OpportunityId": opp, "PricebookEntryId": entry["Id"], "Quantity": 2,
               "UnitPrice": 99.0, "ServiceDate": start.to_string(),
               "Billing_Frequency__c": "Monthly", "Subscription_Term__c": 12}),
    )?;
    Ok(opp)
}

/// A goodwill credit memo naming the first fully paid invoice in its memo, and a refund linked
/// to it, entered through QBO's API as an app (or QBO's own screens) enters them, so QBO sends
/// its webhooks. Returns the opportunity they concern.
async fn record_credit_and_refund(company: &LocalCompany) -> Result<String> {
    let invoice = company
        .qbo
        .entities(&company.realm, "Invoice")
        .into_iter()
        .find(|i| {
            i["DocNumber"]
                .as_str()
                .is_some_and(|d| d.starts_with("SF-"))
                && i["CurrencyRef"]["value"] != json!("EUR")
                && i["Balance"]
                    .to_string()
                    .parse::<Decimal>()
                    .is_ok_and(|b| b.is_zero())
        })
        .context("a paid invoice")?;
    let doc = invoice["DocNumber"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let item = invoice["Line"]
        .as_array()
        .and_then(|lines| {
            lines
                .iter()
                .find(|l| l["DetailType"] == "SalesItemLineDetail")
        })
        .map(|l| l["SalesItemLineDetail"]["ItemRef"].clone())
        .context("an invoice line")?;
    // The emulator takes JSON numbers; this is its input, not our arithmetic.
    let line = |amount: f64| {
        json!({"Amount": amount, "DetailType": "SalesItemLineDetail",
               "SalesItemLineDetail": {"ItemRef": item, "Qty": 1, "UnitPrice": amount,
                                       "TaxCodeRef": {"value": "NON"}}})
    };
    let token = company.qbo.issue_tokens(&company.realm).access_token;
    let client = reqwest::Client::new();
    for (entity, body) in [
        (
            "creditmemo",
            json!({"CustomerRef": invoice["CustomerRef"], "Line": [line(50.0)],
                   "PrivateNote": format!("Goodwill credit for invoice {doc}")}),
        ),
        (
            "refundreceipt",
            json!({"CustomerRef": invoice["CustomerRef"], "Line": [line(120.0)],
                   "DepositToAccountRef": {"value": "5"},
                   "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}),
        ),
    ] {
        let url = format!(
            "{}/v3/company/{}/{entity}?minorversion=75",
            company.qbo_url(),
            company.realm
        );
        let answer = client
            .post(url)
            .bearer_auth(&token)
            .header("accept", "application/json")
            .json(&body)
            .send()
            .await?;
        anyhow::ensure!(
            answer.status().is_success(),
            "QBO refused the demo's {entity}: {}",
            answer.text().await.unwrap_or_default()
        );
    }
    Ok(doc.trim_start_matches("SF-").to_string())
}

/// Records payments against the first `n` invoices Ledgerlink created: every other one in full,
/// the rest in part. Returns how many.
fn record_payments(company: &LocalCompany, n: usize) -> Result<usize> {
    let invoices: Vec<Value> = company
        .qbo
        .entities(&company.realm, "Invoice")
        .into_iter()
        .filter(|i| {
            i["DocNumber"]
                .as_str()
                .is_some_and(|d| d.starts_with("SF-"))
        })
        .take(n)
        .collect();
    for (i, inv) in invoices.iter().enumerate() {
        let total: rust_decimal::Decimal = inv["TotalAmt"].to_string().parse()?;
        let amount = if i % 2 == 0 {
            total
        } else {
            (total / rust_decimal::Decimal::from(3)).round_dp(2)
        };
        // The emulator takes JSON numbers; this is its input, not our arithmetic.
        let number: Value = serde_json::from_str(&amount.to_string())?;
        company.qbo.insert(
            &company.realm,
            "Payment",
            json!({"CustomerRef": inv["CustomerRef"], "TotalAmt": number,
                   "Line": [{"Amount": number, "LinkedTxn": [{"TxnId": inv["Id"], "TxnType": "Invoice"}]}]}),
        )?;
    }
    Ok(invoices.len())
}

/// Drains the inbox the way the daemon's worker does (the daemon's handler, through the
/// runner), replaying one delivery as Intuit may, until it stays empty; then the retries.
async fn drain_webhooks(
    runs: &DemoRuns,
    company: &LocalCompany,
    inbox: &Inbox,
    receiver_url: String,
) -> Result<Tally> {
    let handler = runs.webhook_handler();
    let mut replayed = false;
    let mut quiet = 0;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !replayed {
            if let Some(first) = company.qbo.webhook_deliveries().first() {
                replay(&receiver_url, first).await;
                replayed = true;
            }
        }
        let report = worker::drain_once(inbox, handler.clone()).await?;
        if report.claimed == 0 {
            quiet += 1;
            if quiet >= 5 {
                break;
            }
        } else {
            quiet = 0;
        }
    }
    runs.finish_webhooks().await
}

/// Sends a delivery to the receiver again, as Intuit may.
async fn replay(receiver_url: &str, delivery: &ledgerlink_emulators::qbo::Delivery) {
    let _ = reqwest::Client::new()
        .post(format!("{receiver_url}/webhooks/quickbooks"))
        .header("intuit-signature", &delivery.signature)
        .header("content-type", "application/json")
        .body(delivery.body.clone())
        .send()
        .await;
}
