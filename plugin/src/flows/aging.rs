//! Daily invoice aging: buckets through `age-invoices`, Days Outstanding written to each
//! Opportunity, and a notification only for newly crossed 30/60/90-day thresholds (the
//! previous state is kept, so a rerun on the same day alerts nothing new).

use super::context::{Ctx, FlowResult};
use super::links::opportunity_of;
use super::notice_text;
use super::report::Failure;
use super::salesforce_io::{notice_opportunities, write_back};
use super::state::{REPORTS, STATE};
use super::stored_reports::{aging_key, AGING_LATEST};
use crate::clients::json::number;
use crate::clients::notify::Markup;
use crate::clients::quickbooks_json::invoice_view;
use crate::clients::salesforce_fields::DAYS_OUTSTANDING;
use crate::mapping::{
    age_invoices, alert_wording, AgingAlert, AgingInput, AgingState, OpenInvoice,
};
use serde_json::json;
use std::collections::BTreeMap;

/// Ages every open invoice as of `as-of` (default today).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let as_of = ctx.today();
    let rows = ctx.qbo.query("select * from Invoice where Balance > '0'")?;
    let mut open = Vec::new();
    for row in &rows {
        let Some(inv) = invoice_view(row) else {
            continue;
        };
        let Some(txn_date) = inv.txn_date else {
            ctx.report.failed(
                "Invoice",
                &inv.id,
                Failure::Invalid(format!("Invoice {}: TxnDate is missing", inv.id)),
            );
            continue;
        };
        open.push(OpenInvoice {
            opportunity_id: opportunity_of(ctx, &inv.id)?,
            customer_name: inv.customer.as_ref().and_then(|c| c.name.clone()),
            due_date: inv.due_date.unwrap_or(txn_date),
            doc_number: inv.doc_number.clone(),
            invoice_id: inv.id.clone(),
            txn_date,
            balance: inv.balance,
        });
    }
    let by_id: BTreeMap<String, OpenInvoice> = open
        .iter()
        .map(|i| (i.invoice_id.clone(), i.clone()))
        .collect();
    let previous: Vec<AgingState> = ctx.state.get(STATE, "aging")?.unwrap_or_default();
    let report = match age_invoices(&AgingInput {
        invoices: open,
        as_of,
        previous,
        thresholds: ctx.settings.aging_thresholds.clone(),
    }) {
        Ok(r) => r,
        Err(e) => return Err(super::context::Abort(Failure::Mapping(e))),
    };
    let writes: Vec<_> = report
        .invoices
        .iter()
        .filter_map(|i| {
            i.opportunity_id.as_ref().map(
                |o| json!({"Id": o, DAYS_OUTSTANDING: number(i.days_outstanding.max(0).into())}),
            )
        })
        .collect();
    alert(ctx, &report.alerts, &by_id);
    if ctx.dry_run() {
        ctx.report.skipped(
            "Aging",
            &as_of.to_string(),
            None,
            format!("would update {} opportunities", writes.len()),
        );
        return Ok(());
    }
    write_back(ctx, "Opportunity", &writes);
    ctx.state.put(STATE, "aging", &report.state)?;
    ctx.state.put(REPORTS, &aging_key(as_of), &report)?;
    ctx.state.put(REPORTS, AGING_LATEST, &report)?;
    ctx.report.updated(
        "Aging",
        &as_of.to_string(),
        &format!("{} invoices", report.invoices.len()),
        format!(
            "{} open invoices, {} outstanding, {} new alerts",
            report.invoices.len(),
            report.total_open,
            report.alerts.len()
        ),
    );
    Ok(())
}

/// Notifies each alert: the invoice linked to QBO, and its opportunity linked to Salesforce with
/// its owner mentioned, read in one query per run (names are a courtesy: when they cannot be
/// read, the opportunity is named by id).
fn alert(ctx: &mut Ctx<'_>, alerts: &[AgingAlert], invoices: &BTreeMap<String, OpenInvoice>) {
    let deals: Vec<String> = alerts
        .iter()
        .filter_map(|a| a.opportunity_id.clone())
        .collect();
    let found = if deals.is_empty() || ctx.dry_run() {
        BTreeMap::new()
    } else {
        notice_opportunities(ctx, &deals).unwrap_or_default()
    };
    for a in alerts {
        let Some(invoice) = invoices.get(&a.invoice_id) else {
            ctx.notice(a.message.clone());
            continue;
        };
        let (name, rest) = alert_wording(invoice, a.days_outstanding);
        let mut line = Markup::plain("Invoice ");
        line.push(notice_text::invoice(
            &ctx.settings,
            &a.invoice_id,
            Some(&name),
        ))
        .push_plain(&rest);
        if let Some(deal) = &a.opportunity_id {
            line.push_plain("; ")
                .push(notice_text::opportunity_and_owner(
                    &ctx.settings,
                    deal,
                    found.get(deal),
                ));
        }
        ctx.notice(line);
    }
}

#[cfg(test)]
mod tests {
    use crate::flows::links::invoice_reverse_key;
    use crate::flows::state::{State, LINKS};
    use crate::flows::stored_reports::{read, ReportKind, Stored};
    use crate::flows::test_support::{assert_run, qbo_query, sf_saved, soql, REALM};
    use crate::flows::{run_job, Kind};
    use crate::mapping::AgingBucket::{Days1To30, Over90};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal_macros::dec;
    use serde_json::json;

    const OPP: &str = "006A000001DealAAA";

    fn open_invoices() -> Routes {
        Routes::new().on(Get, "select * from Invoice where Balance > '0'", |_| {
            qbo_query(
                "Invoice",
                json!([
                    {"Id": "130", "SyncToken": "2", "DocNumber": "SF-006A000001DealAAA",
                     "TxnDate": "2026-02-27", "DueDate": "2026-03-29",
                     "CustomerRef": {"value": "58", "name": "Acme Widgets"},
                     "TotalAmt": 1250.50, "Balance": 750.25},
                    // Made in QBO, no opportunity: aged and alerted, nothing to write.
                    {"Id": "131", "SyncToken": "0", "DocNumber": "1042",
                     "TxnDate": "2025-12-11", "DueDate": "2026-01-10",
                     "CustomerRef": {"value": "61", "name": "Cool Cars"},
                     "TotalAmt": 200.00, "Balance": 200.00}
                ]),
            )
        })
    }

    #[test]
    fn open_invoices_are_aged_days_outstanding_written_the_report_stored_and_alerts_sent_once() {
        let platform = MemoryPlatform::routed(
            REALM,
            open_invoices()
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        State::new(&platform.kv)
            .put(LINKS, &invoice_reverse_key("130"), &OPP)
            .unwrap();
        let args = r#"{"as-of": "2026-04-15"}"#;
        let report = run_job(&platform.platform(), "aging", args).unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Aging", "2026-04-15", Kind::Updated, Some("2 invoices"))],
        );
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"],
            json!([{"Id": OPP, "Days_Outstanding__c": 17, "attributes": {"type": "Opportunity"}}])
        );
        let Ok(Some(Stored::Aging(aging))) =
            read(&platform.platform(), ReportKind::Aging, Some("2026-04-15"))
        else {
            panic!("no aging report stored for 2026-04-15");
        };
        assert_eq!(aging.total_open, dec!(950.25));
        let ages: Vec<_> = aging
            .invoices
            .iter()
            .map(|i| {
                (
                    i.invoice_id.as_str(),
                    i.opportunity_id.as_deref(),
                    i.days_outstanding,
                    i.bucket,
                    i.balance,
                )
            })
            .collect();
        assert_eq!(
            ages,
            // Oldest first.
            vec![
                ("131", None, 95, Over90, dec!(200.00)),
                ("130", Some(OPP), 17, Days1To30, dec!(750.25)),
            ]
        );
        let alerts: Vec<_> = aging
            .alerts
            .iter()
            .map(|a| (a.invoice_id.as_str(), a.threshold))
            .collect();
        assert_eq!(alerts, vec![("131", 90)]);
        assert_eq!(platform.http.count(Post, "http://notify/"), 1);

        // The same day again: the same figures, no alert crossed anew, so no notification.
        let platform =
            platform.rerouted(open_invoices().on(Patch, "/composite/sobjects", sf_saved));
        run_job(&platform.platform(), "aging", args).unwrap();
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        let Ok(Some(Stored::Aging(again))) = read(&platform.platform(), ReportKind::Aging, None)
        else {
            panic!("no latest aging report");
        };
        assert_eq!((again.total_open, again.alerts.len()), (dec!(950.25), 0));
    }

    #[test]
    fn alerts_link_the_invoice_and_deal_and_mention_the_owner_read_in_one_query_per_run() {
        let routes = Routes::new()
            .on(Get, "select * from Invoice where Balance > '0'", |_| {
                qbo_query(
                    "Invoice",
                    json!([
                        {"Id": "130", "SyncToken": "2", "DocNumber": "SF-006A000001DealAAA",
                         "TxnDate": "2026-02-27", "DueDate": "2026-03-29",
                         "CustomerRef": {"value": "58", "name": "Acme Widgets"},
                         "TotalAmt": 1250.50, "Balance": 750.25},
                        {"Id": "131", "SyncToken": "0", "DocNumber": "1042",
                         "TxnDate": "2025-12-11", "DueDate": "2026-01-10",
                         "CustomerRef": {"value": "61", "name": "Cool Cars"},
                         "TotalAmt": 200.00, "Balance": 200.00},
                        {"Id": "132", "SyncToken": "0", "DocNumber": "SF-006B",
                         "TxnDate": "2026-01-28", "DueDate": "2026-02-27",
                         "CustomerRef": {"value": "62", "name": "Bits <&> Bobs"},
                         "TotalAmt": 1234.50, "Balance": 1234.50},
                        {"Id": "133", "SyncToken": "0",
                         "TxnDate": "2026-02-13", "DueDate": "2026-03-15",
                         "CustomerRef": {"value": "63"}, "TotalAmt": 10, "Balance": 10}
                    ]),
                )
            })
            // One query for every alerted deal; 006C is gone from Salesforce.
            .on(
                Get,
                "SELECT Id, Name, Owner.Name, Owner.Email, QBO_Invoice_Id__c, \
                 QBO_Invoice_Number__c FROM Opportunity \
                 WHERE Id IN ('006A000001DealAAA', '006B', '006C')",
                |_| {
                    soql(json!([
                        {"Id": OPP, "Name": "Acme - 4 seats",
                         "Owner": {"Name": "Ada Lovelace", "Email": "ADA@acme.example"}},
                        {"Id": "006B", "Name": "Bits <b>",
                         "Owner": {"Name": "Bob <@U024BE7LH>", "Email": "bob@acme.example"}}
                    ]))
                },
            )
            .on(Patch, "/composite/sobjects", sf_saved)
            .json(Post, "http://notify/", 200, json!({"ok": true}));
        let mut platform = MemoryPlatform::routed(REALM, routes);
        for (key, value) in [
            ("salesforce-url", "https://acme.my.salesforce.com/"),
            ("notify-mentions", "ada@acme.example=U024BE7LH"),
        ] {
            platform.settings.0.insert(key.into(), value.into());
        }
        let state = State::new(&platform.kv);
        for (invoice, deal) in [("130", OPP), ("132", "006B"), ("133", "006C")] {
            state
                .put(LINKS, &invoice_reverse_key(invoice), &deal)
                .unwrap();
        }
        run_job(&platform.platform(), "aging", r#"{"as-of": "2026-04-30"}"#).unwrap();
        assert_eq!(
            platform.http.unscripted(),
            Vec::<String>::new(),
            "{:#?}",
            platform.http.requests()
        );
        assert_eq!(platform.http.count(Get, "FROM Opportunity"), 1);
        let posted = platform.http.bodies(Post, "http://notify/");
        assert_eq!(posted.len(), 1, "{posted:?}");
        let sf = "https://acme.my.salesforce.com/lightning/r/Opportunity";
        let qbo = "https://app.qbo.intuit.com/app/invoice?txnId=";
        assert_eq!(
            posted[0]["text"].as_str().unwrap(),
            format!(
                "Ledgerlink aging:\n\
                 Invoice <{qbo}131|1042> (Cool Cars) is 110 days past due: 200.00 open\n\
                 Invoice <{qbo}132|SF-006B> (Bits &lt;&amp;&gt; Bobs) is 62 days past due: \
                 1,234.50 open; Opportunity <{sf}/006B/view|Bits &lt;b&gt;> (006B), \
                 owner Bob &lt;@U024BE7LH&gt;\n\
                 Invoice <{qbo}133|133> is 46 days past due: 10.00 open; \
                 Opportunity <{sf}/006C/view|006C>\n\
                 Invoice <{qbo}130|SF-006A000001DealAAA> (Acme Widgets) is 32 days past due: \
                 750.25 open; Opportunity <{sf}/{OPP}/view|Acme - 4 seats> ({OPP}), \
                 owner <@U024BE7LH>"
            )
        );
    }
}
