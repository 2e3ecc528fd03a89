//! QBO credit memos and refund receipts, and voided, deleted or edited invoices -> the payment
//! figures of the Salesforce record whose invoice they touch (`settlement` holds the figures,
//! `credits` which invoice a document counts against). Defined outcomes:
//!
//! | QBO event | the record (Opportunity or Invoice record) |
//! |---|---|
//! | credit memo attributed to its invoice | `Amount_Credited__c` up, open balance down; `Credited` when credit alone settled it |
//! | refund receipt attributed to its invoice | `Amount_Refunded__c` up, `Amount_Paid__c` down, open balance up (`Partially Paid` again) |
//! | credit memo or refund edited, voided or deleted | recounted from what QBO now says (a voided one counts 0) |
//! | credit memo or refund naming no invoice | customer-level credit: reported as skipped, counted by the reconciliation |
//! | invoice voided | `Voided`, amounts 0 |
//! | invoice deleted | `Invoice Deleted`, amounts 0, the QBO invoice fields cleared; it is not invoiced again |
//! | invoice total edited in QBO | open balance recounted |
//!
//! Nothing is stored until Salesforce took the figures, so a retry starts from the same point.

use super::classification;
use super::context::{Ctx, FlowResult};
use super::credits::{self, Attribution};
use super::links::{self, Owner};
use super::report::Failure;
use super::settlement::{self, OwnerFigures, Pending};
use crate::clients::json::{display_money, text};
use crate::clients::notify::Markup;
use crate::clients::quickbooks_json::invoice_view;
use crate::mapping::{AdjustmentKind, InvoiceLedger, InvoiceState};
use serde_json::Value;

/// A credit memo or refund receipt (as QBO or CDC sent it; `deleted` when it is gone).
pub fn document(
    ctx: &mut Ctx<'_>,
    kind: AdjustmentKind,
    value: &Value,
    deleted: bool,
) -> FlowResult {
    let entity = credits::entity(kind);
    let Some(id) = text(value, "Id") else {
        ctx.report.failed(
            entity,
            "?",
            Failure::Invalid(format!("{entity}: Id is missing")),
        );
        return Ok(());
    };
    let mut pending = Pending::default();
    let (attribution, touched) = match credits::attribute(ctx, kind, value, deleted, &mut pending) {
        Ok(found) => found,
        Err(failure) => {
            ctx.report.failed(entity, &id, failure);
            return Ok(());
        }
    };
    if touched.is_empty() {
        let why = if attribution.invoice_id.is_none() && !attribution.amount.is_zero() {
            "customer-level credit: it names no linked invoice (LinkedTxn, or the invoice number in its memo) and the customer's invoices belong to more than one record, or to none; counted by the reconciliation only"
        } else {
            "changes no linked invoice's figures"
        };
        ctx.report.skipped(entity, &id, None, why);
        if !ctx.dry_run() {
            attribution.store(ctx)?;
        }
        return Ok(());
    }
    let what = match kind {
        AdjustmentKind::CreditMemo => "Credit memo",
        AdjustmentKind::Refund => "Refund",
    };
    let detail = match &attribution.invoice_id {
        Some(invoice) if !attribution.amount.is_zero() => {
            format!("{} counted against invoice {invoice}", attribution.amount)
        }
        _ => "no longer counted".to_string(),
    };
    write_touched(
        ctx,
        (entity, &id),
        &format!("{what} {id}"),
        &touched,
        &pending,
        &[attribution],
        detail,
    )
}

/// An invoice Ledgerlink links to a Salesforce record, changed or deleted in QBO. False when
/// the invoice is not linked (the caller treats it as an invoice made in QBO).
pub fn invoice_changed(
    ctx: &mut Ctx<'_>,
    value: &Value,
    deleted: bool,
) -> Result<bool, super::context::Abort> {
    let Some(id) = text(value, "Id") else {
        return Ok(false);
    };
    let Some(owner) = links::invoice_owner(ctx, &id)? else {
        return Ok(false);
    };
    let view = if deleted { None } else { invoice_view(value) };
    if view.is_some() {
        classification::note_invoice(ctx, value)?;
    }
    let state = match &view {
        None => InvoiceState::Deleted,
        Some(v) if v.voided => InvoiceState::Voided,
        Some(_) => InvoiceState::Open,
    };
    let mut pending = Pending::default();
    let mut adj = settlement::adjustments(ctx, &id)?;
    let adjusted = !adj.adjustments.is_empty();
    if adj.state != state {
        adj.state = state;
        pending.adjustments.insert(id.clone(), adj);
    }
    if let Some(v) = view.as_ref().filter(|v| !v.voided) {
        match settlement::ledger(ctx, &id)? {
            // Nothing was applied to it yet: no figures were written, so none change; the
            // ledger keeps the new total for the first payment.
            Some(mut l) if l.total_amt != v.total_amt && l.applied.is_empty() && !adjusted => {
                l.total_amt = v.total_amt;
                if !ctx.dry_run() {
                    settlement::store_ledger(ctx, &l)?;
                }
            }
            Some(mut l) if l.total_amt != v.total_amt => {
                l.total_amt = v.total_amt;
                pending.ledgers.insert(id.clone(), l);
            }
            Some(_) => {}
            // A payment changes its invoice too, and CDC brings both: the ledger starts from
            // the invoice in hand, so the payment that follows reads nothing more from QBO.
            None if !ctx.dry_run() => settlement::store_ledger(
                ctx,
                &InvoiceLedger {
                    invoice_id: id.clone(),
                    // Resolved by the payment, as for a ledger read from QBO.
                    opportunity_id: None,
                    total_amt: v.total_amt,
                    applied: Vec::new(),
                },
            )?,
            None => {}
        }
    }
    if pending.adjustments.is_empty() && pending.ledgers.is_empty() {
        ctx.report.skipped(
            "Invoice",
            &id,
            Some(&owner.id),
            format!("created from this {}", owner.object),
        );
        return Ok(true);
    }
    let detail = match state {
        InvoiceState::Deleted => "deleted in QBO",
        InvoiceState::Voided => "voided in QBO",
        InvoiceState::Open => "changed in QBO",
    };
    write_touched(
        ctx,
        ("Invoice", &id),
        &format!("Invoice {id} {detail}"),
        &[(id.clone(), owner)],
        &pending,
        &[],
        detail.to_string(),
    )?;
    Ok(true)
}

/// Writes the figures of every record in `touched`, then stores what is pending.
fn write_touched(
    ctx: &mut Ctx<'_>,
    (entity, id): (&str, &str),
    cause: &str,
    touched: &[(String, Owner)],
    pending: &Pending,
    attributions: &[Attribution],
    detail: String,
) -> FlowResult {
    let mut all: Vec<OwnerFigures> = Vec::new();
    for (invoice, owner) in touched {
        if all.iter().any(|f| &f.owner == owner) {
            continue;
        }
        match settlement::figures(ctx, owner, invoice, pending) {
            Ok(f) => all.push(f),
            Err(failure) => {
                ctx.report.failed(entity, id, failure);
                return Ok(());
            }
        }
    }
    let target = all
        .iter()
        .map(|f| f.owner.id.clone())
        .collect::<Vec<_>>()
        .join(",");
    if ctx.dry_run() {
        ctx.report
            .updated(entity, id, &target, format!("would write: {detail}"));
        return Ok(());
    }
    let mut failed = false;
    for (f, r) in all.iter().zip(settlement::write(ctx, &all)) {
        if let Err(e) = r {
            failed = true;
            ctx.report
                .failed(entity, id, Failure::Related(f.owner.to_string(), e));
        }
    }
    if failed {
        return Ok(());
    }
    pending.store(ctx)?;
    for a in attributions {
        a.store(ctx)?;
    }
    for f in &all {
        let s = &f.settlement;
        ctx.notice(Markup::plain(&format!(
            "{cause}: {} is {} (paid {}, credited {}, refunded {}, open {})",
            f.owner,
            s.status.label(),
            display_money(s.paid),
            display_money(s.credited),
            display_money(s.refunded),
            display_money(s.open_balance),
        )));
    }
    ctx.report.updated(entity, id, &target, detail);
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::invoice_reverse_key;
    use crate::flows::state::{State, LINKS, STATE};
    use crate::flows::test_support::{assert_run, qbo_query, sf_saved, REALM};
    use crate::flows::{run_job, Kind};
    use crate::mapping::{AppliedPayment, InvoiceLedger};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use chrono::NaiveDate;
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const OPP: &str = "006A000001DealAAA";
    const OTHER: &str = "006A000001DealBBB";

    /// Each record written: (Id, status, paid, credited, refunded, open), money read exactly.
    fn written(
        platform: &MemoryPlatform,
    ) -> Vec<(String, String, Decimal, Decimal, Decimal, Decimal)> {
        platform
            .http
            .bodies(Patch, "/composite/sobjects")
            .iter()
            .flat_map(|b| b["records"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                let money = |f: &str| decimal(&r[f]).unwrap_or_else(|| panic!("{f} in {r}"));
                (
                    r["Id"].as_str().unwrap().to_string(),
                    r["Payment_Status__c"].as_str().unwrap().to_string(),
                    money("Amount_Paid__c"),
                    money("Amount_Credited__c"),
                    money("Amount_Refunded__c"),
                    money("Open_Balance__c"),
                )
            })
            .collect()
    }

    /// Invoice 130 (1000.00, DocNumber SF-1042) of OPP, paid in full by payment 40; invoice 131
    /// (SF-1043) of another deal of the same customer.
    fn paid_deal(routes: Routes) -> MemoryPlatform {
        let platform = MemoryPlatform::routed(REALM, routes);
        let state = State::new(&platform.kv);
        state.put(LINKS, &invoice_reverse_key("130"), &OPP).unwrap();
        state
            .put(LINKS, &invoice_reverse_key("131"), &OTHER)
            .unwrap();
        let ledger = InvoiceLedger {
            invoice_id: "130".into(),
            opportunity_id: Some(OPP.into()),
            total_amt: dec!(1000.00),
            applied: vec![AppliedPayment {
                payment_id: "40".into(),
                amount: dec!(1000.00),
                txn_date: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
            }],
        };
        state.put(STATE, "ledger/130", &ledger).unwrap();
        platform
    }

    fn customer_invoices() -> crate::platform::HttpResponse {
        qbo_query(
            "Invoice",
            json!([{"Id": "130", "DocNumber": "SF-1042", "TxnDate": "2026-03-01"},
                   {"Id": "131", "DocNumber": "SF-1043", "TxnDate": "2026-03-02"}]),
        )
    }

    fn routes(entity: &'static str, rows: Value) -> Routes {
        Routes::new()
            .on(
                Get,
                &format!("select * from {entity} where Id in"),
                move |_| qbo_query(entity, rows.clone()),
            )
            .on(
                Get,
                "select Id, DocNumber, TxnDate from Invoice where CustomerRef",
                |_| customer_invoices(),
            )
            .on(Patch, "/composite/sobjects", sf_saved)
            .json(Post, "http://notify/", 200, json!({"ok": true}))
    }

    fn run(platform: &MemoryPlatform, only: &str) -> crate::flows::Report {
        run_job(
            &platform.platform(),
            "sync-quickbooks",
            &json!({"only": [only]}).to_string(),
        )
        .unwrap()
    }

    #[test]
    fn a_credit_memo_and_a_refund_against_a_paid_invoice_leave_the_deal_partially_paid_to_the_cent()
    {
        // Credit memo 9 names invoice SF-1042 in its memo: counted against invoice 130.
        let memo = json!({"Id": "9", "TxnDate": "2026-03-10", "TotalAmt": 100.00,
            "RemainingCredit": 100.00, "Balance": 100.00, "CustomerRef": {"value": "58"},
            "PrivateNote": "Goodwill credit on invoice SF-1042"});
        let platform = paid_deal(routes("CreditMemo", json!([memo])));
        let report = run(&platform, "CreditMemo:9");
        assert_run(
            &report,
            &platform,
            vec![("CreditMemo", "9", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![(
                OPP.into(),
                "Overpaid".into(),
                dec!(1000),
                dec!(100),
                dec!(0),
                dec!(-100)
            )]
        );

        // Refund receipt 12 links the invoice: money back, the deal is partially paid again.
        let refund = json!({"Id": "12", "TxnDate": "2026-03-12", "TotalAmt": 400.10,
            "CustomerRef": {"value": "58"}, "DepositToAccountRef": {"value": "35"},
            "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]});
        let platform = platform.rerouted(routes("RefundReceipt", json!([refund.clone()])));
        let report = run(&platform, "RefundReceipt:12");
        assert_run(
            &report,
            &platform,
            vec![("RefundReceipt", "12", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![(
                OPP.into(),
                "Partially Paid".into(),
                dec!(599.90),
                dec!(100),
                dec!(400.10),
                dec!(300.10)
            )]
        );
        let notice = platform.http.bodies(Post, "http://notify/");
        assert!(
            notice[0]["text"].as_str().unwrap().contains(
                "Refund 12: Opportunity 006A000001DealAAA is Partially Paid (paid 599.90, credited 100.00, refunded 400.10, open 300.10)"
            ),
            "{notice:?}"
        );

        // The same refund again (a duplicate webhook) writes nothing.
        let platform = platform.rerouted(routes("RefundReceipt", json!([refund])));
        let report = run(&platform, "RefundReceipt:12");
        assert_run(
            &report,
            &platform,
            vec![("RefundReceipt", "12", Kind::Skipped, None)],
        );
        assert!(written(&platform).is_empty());

        // Deleted in QBO: no longer counted.
        let platform = platform.rerouted(routes("RefundReceipt", json!([])));
        let report = run(&platform, "RefundReceipt:12");
        assert_run(
            &report,
            &platform,
            vec![("RefundReceipt", "12", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![(
                OPP.into(),
                "Overpaid".into(),
                dec!(1000),
                dec!(100),
                dec!(0),
                dec!(-100)
            )]
        );
    }

    #[test]
    fn a_credit_naming_no_invoice_of_a_customer_with_two_deals_is_a_customer_level_credit() {
        let memo = json!({"Id": "9", "TxnDate": "2026-03-10", "TotalAmt": 50,
            "RemainingCredit": 50, "CustomerRef": {"value": "58"}, "PrivateNote": "loyalty"});
        let platform = paid_deal(routes("CreditMemo", json!([memo])));
        let report = run(&platform, "CreditMemo:9");
        assert_run(
            &report,
            &platform,
            vec![("CreditMemo", "9", Kind::Skipped, None)],
        );
        assert!(
            report.records[0].detail.contains("customer-level credit"),
            "{:?}",
            report.records
        );
        assert!(written(&platform).is_empty());
    }

    #[test]
    fn a_payment_applying_a_credit_memo_counts_it_as_credit_not_cash() {
        // 1000.00 invoiced, 600.00 paid; payment 41 of 0.00 applies credit memo 9's 400.00.
        let platform = paid_deal(
            Routes::new()
                .on(Get, "select * from Payment where Id in", |_| {
                    qbo_query("Payment", json!([{"Id": "41", "TxnDate": "2026-03-09", "TotalAmt": 0,
                        "CustomerRef": {"value": "58"}, "UnappliedAmt": 0, "Line": [
                        {"Amount": 400.00, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]},
                        {"Amount": 400.00, "LinkedTxn": [{"TxnId": "9", "TxnType": "CreditMemo"}]}]}]))
                })
                .on(Get, "select * from CreditMemo where Id in", |_| {
                    // Fully used by the payment: nothing left to count directly.
                    qbo_query("CreditMemo", json!([{"Id": "9", "TxnDate": "2026-03-08",
                        "TotalAmt": 400.00, "RemainingCredit": 0, "Balance": 0,
                        "CustomerRef": {"value": "58"}}]))
                })
                .on(Get, "SELECT Id, Name, Owner.Name", |_| {
                    crate::flows::test_support::soql(json!([]))
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        let state = State::new(&platform.kv);
        let mut ledger: InvoiceLedger = state.get(STATE, "ledger/130").unwrap().unwrap();
        ledger.applied[0].amount = dec!(600.00);
        state.put(STATE, "ledger/130", &ledger).unwrap();
        let report = run(&platform, "Payment:41");
        assert_run(
            &report,
            &platform,
            vec![("Payment", "41", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![(
                OPP.into(),
                "Paid".into(),
                dec!(600),
                dec!(400),
                dec!(0),
                dec!(0)
            )]
        );
    }

    #[test]
    fn a_voided_then_deleted_invoice_reaches_its_deal_and_clears_its_invoice_fields() {
        let voided = json!({"Id": "130", "SyncToken": "3", "TxnDate": "2026-03-01",
            "CustomerRef": {"value": "58"}, "TotalAmt": 0, "Balance": 0,
            "PrivateNote": "Voided", "DocNumber": "SF-1042"});
        let routes = |rows: Value| {
            Routes::new()
                .on(Get, "select * from Invoice where Id in", move |_| {
                    qbo_query("Invoice", rows.clone())
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true}))
        };
        let platform = paid_deal(routes(json!([voided])));
        let report = run(&platform, "Invoice:130");
        assert_run(
            &report,
            &platform,
            vec![("Invoice", "130", Kind::Updated, Some(OPP))],
        );
        let records = platform.http.bodies(Patch, "/composite/sobjects");
        let r = &records[0]["records"][0];
        assert_eq!(
            (
                &r["Payment_Status__c"],
                &r["Open_Balance__c"],
                &r["Amount_Paid__c"]
            ),
            (&json!("Voided"), &json!(0), &json!(0)),
            "{r}"
        );
        assert!(
            r.get("QBO_Invoice_Id__c").is_none(),
            "a voided invoice stays linked: {r}"
        );

        let platform = platform.rerouted(routes(json!([])));
        let report = run(&platform, "Invoice:130");
        assert_run(
            &report,
            &platform,
            vec![("Invoice", "130", Kind::Updated, Some(OPP))],
        );
        let records = platform.http.bodies(Patch, "/composite/sobjects");
        let r = &records[0]["records"][0];
        assert_eq!(r["Payment_Status__c"], "Invoice Deleted", "{r}");
        for field in [
            "QBO_Invoice_Id__c",
            "QBO_Invoice_Number__c",
            "QBO_Invoice_Link__c",
        ] {
            assert_eq!(r[field], Value::Null, "{field} in {r}");
            assert!(
                r.get(field).is_some(),
                "{field} is cleared, not left out: {r}"
            );
        }
    }

    #[test]
    fn a_payment_in_the_same_cdc_answer_as_its_invoice_reads_nothing_more_from_qbo() {
        // QBO's CDC answer holds the payment and the invoice it changed (its Balance).
        let changes = json!({"CDCResponse": [{"QueryResponse": [
            {"Invoice": [{"Id": "132", "SyncToken": "1", "TxnDate": "2026-03-01",
                "CustomerRef": {"value": "58"}, "TotalAmt": 800.00, "Balance": 300.00,
                "MetaData": {"LastUpdatedTime": "2026-03-05T10:00:00-08:00"}}]},
            {"Payment": [{"Id": "90", "SyncToken": "0", "TxnDate": "2026-03-05", "TotalAmt": 500.00,
                "CustomerRef": {"value": "58"},
                "Line": [{"Amount": 500.00, "LinkedTxn": [{"TxnId": "132", "TxnType": "Invoice"}]}],
                "MetaData": {"LastUpdatedTime": "2026-03-05T10:00:01-08:00"}}]}
        ]}], "time": "2026-03-05T10:00:02-08:00"});
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "/cdc?", move |_| {
                    crate::platform::memory::json(200, changes.clone())
                })
                .on(Get, "SELECT Id, Name, Owner.Name", |_| {
                    crate::flows::test_support::soql(json!([]))
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        State::new(&platform.kv)
            .put(LINKS, &invoice_reverse_key("132"), &OPP)
            .unwrap();
        let report = run_job(&platform.platform(), "poll-quickbooks", "").unwrap();
        // No `/invoice/132` read was scripted: none was made.
        assert_run(
            &report,
            &platform,
            vec![
                ("Invoice", "132", Kind::Skipped, Some(OPP)),
                ("Payment", "90", Kind::Updated, Some(OPP)),
            ],
        );
        assert_eq!(
            platform.http.count(Get, "http://quickbooks/"),
            1,
            "the CDC call alone"
        );
        let written = platform.http.bodies(Patch, "/composite/sobjects");
        let r = &written[0]["records"][0];
        assert_eq!(
            (
                r["Payment_Status__c"].as_str(),
                decimal(&r["Open_Balance__c"])
            ),
            (Some("Partially Paid"), Some(dec!(300)))
        );
    }
}
