//! QBO Payment -> the Opportunity's payment status through `apply-payment`: partial, full,
//! over-payment; a void or delete reverses it. Each invoice keeps its ledger of applied payments
//! in state, so a duplicate or out-of-order event re-applies to the same result. The credit a
//! payment carries (its CreditMemo lines) is counted as credit, not cash; the record's figures
//! come from `settlement`.

use super::context::{Abort, Ctx, FlowResult};
use super::credits;
use super::links::{self, Owner};
use super::notice_text;
use super::report::Failure;
use super::salesforce_io::notice_opportunities;
use super::settlement::{self, OwnerFigures, Pending};
use super::state::STATE;
use crate::clients::json::display_money;
use crate::clients::notify::Markup;
use crate::clients::quickbooks_json::{invoice_view, payment, payment_credits};
use crate::clients::salesforce::soql_literal;
use crate::clients::salesforce_fields::QBO_INVOICE_ID;
use crate::clients::salesforce_json::NoticeOpportunity;
use crate::mapping::{apply_payment, Adjustment, AdjustmentKind, InvoiceLedger, PaymentInput};
use crate::model::{PaymentState, QboPayment};
use rust_decimal::Decimal;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

fn payment_key(payment_id: &str) -> String {
    format!("payment/{payment_id}")
}

/// Payments by id (`only`), read fresh from QBO; one that no longer exists is a delete.
pub fn run_ids(ctx: &mut Ctx<'_>) -> FlowResult {
    let ids = ctx.args.only.clone().unwrap_or_default();
    apply_ids(ctx, &ids)
}

/// Applies payments `ids`, read in one query; one that no longer exists is a delete.
pub fn apply_ids(ctx: &mut Ctx<'_>, ids: &[String]) -> FlowResult {
    let found = match ctx.qbo.read_many("Payment", ids) {
        Ok(found) => found,
        Err(e) => {
            for id in ids {
                ctx.report.failed("Payment", id, e.clone().into());
            }
            return Ok(());
        }
    };
    for id in ids {
        match found.get(id) {
            Some(v) => apply(ctx, v, false)?,
            None => apply(
                ctx,
                &json!({"Id": id, "TxnDate": ctx.today().to_string()}),
                true,
            )?,
        }
    }
    Ok(())
}

/// Applies one payment (as QBO or CDC sent it).
pub fn apply(ctx: &mut Ctx<'_>, value: &Value, deleted: bool) -> FlowResult {
    let id = value
        .get("Id")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let Some(mut p) = payment(value, deleted) else {
        ctx.report.failed(
            "Payment",
            &id,
            Failure::Invalid(format!("Payment {id}: Id or TxnDate is missing")),
        );
        return Ok(());
    };
    // A deleted payment arrives without lines: reverse it on the invoices it was applied to.
    let previous: Vec<String> = ctx
        .state
        .get(STATE, &payment_key(&p.id))?
        .unwrap_or_default();
    let mut invoice_ids: BTreeSet<String> = p.lines.iter().map(|l| l.invoice_id.clone()).collect();
    invoice_ids.extend(previous.iter().cloned());
    if p.state == PaymentState::Deleted && previous.is_empty() {
        ctx.report
            .skipped("Payment", &p.id, None, "deleted, and never applied here");
        return Ok(());
    }
    let mut ledgers = Vec::new();
    for invoice_id in &invoice_ids {
        let mut ledger = match settlement::ledger(ctx, invoice_id)? {
            Some(l) => l,
            None => match ctx.qbo.read("Invoice", invoice_id) {
                Ok(Some(v)) => {
                    let Some(inv) = invoice_view(&v) else {
                        continue;
                    };
                    InvoiceLedger {
                        invoice_id: invoice_id.clone(),
                        opportunity_id: None,
                        total_amt: inv.total_amt,
                        applied: Vec::new(),
                    }
                }
                Ok(None) => continue,
                Err(e) => {
                    ctx.report.failed("Payment", &p.id, e.into());
                    return Ok(());
                }
            },
        };
        // A ledger saved before its invoice was linked is resolved again, so its payments reach
        // the opportunity as soon as the link exists.
        if ledger.opportunity_id.is_none() {
            match resolve_opportunity(ctx, invoice_id) {
                Ok(found) => ledger.opportunity_id = found,
                Err(failure) => {
                    ctx.report.failed("Payment", &p.id, failure);
                    return Ok(());
                }
            }
        }
        ledgers.push(ledger);
    }
    // The credit a payment carried (its CreditMemo lines), counted against the invoices it paid;
    // QBO's TotalAmt is the cash alone, the lines apply cash and credit together.
    let credits = if p.state == PaymentState::Active {
        payment_credits(value)
    } else {
        Vec::new()
    };
    p.total_amt += credits.iter().map(|(_, a)| *a).sum::<Decimal>();
    // Lines to invoices that are gone are dropped; the mapping reports the rest as unapplied.
    let known: BTreeSet<String> = ledgers.iter().map(|l| l.invoice_id.clone()).collect();
    p.lines.retain(|l| known.contains(&l.invoice_id));
    let output = match apply_payment(&PaymentInput {
        payment: p.clone(),
        invoices: ledgers,
    }) {
        Ok(o) => o,
        Err(e) => {
            ctx.report.failed("Payment", &p.id, Failure::Mapping(e));
            return Ok(());
        }
    };
    let mut pending = Pending::default();
    for l in &output.invoices {
        pending.ledgers.insert(l.invoice_id.clone(), l.clone());
    }
    let mut shares = credit_shares(&p, &credits).into_iter().peekable();
    for invoice_id in &invoice_ids {
        let mut adj = settlement::adjustments(ctx, invoice_id)?;
        let before = adj.clone();
        adj.adjustments
            .retain(|a| a.via_payment.as_deref() != Some(p.id.as_str()));
        while let Some((_, a)) = shares.next_if(|(inv, _)| inv == invoice_id) {
            adj.adjustments.push(a);
        }
        if adj != before {
            pending.adjustments.insert(invoice_id.clone(), adj);
        }
    }
    // A credit memo this payment applies, or applied before an edit or a delete, has a new
    // remainder: its direct count is redone from the memo as QBO now has it.
    let mut memos: BTreeSet<String> = credits.iter().map(|(m, _)| m.clone()).collect();
    for invoice_id in &invoice_ids {
        for a in settlement::adjustments(ctx, invoice_id)?.adjustments {
            if a.via_payment.as_deref() == Some(p.id.as_str()) {
                memos.insert(a.document_id);
            }
        }
    }
    let mut attributions = Vec::new();
    let mut also: Vec<(String, Owner)> = Vec::new();
    if !memos.is_empty() {
        let ids: Vec<String> = memos.into_iter().collect();
        let found = match ctx.qbo.read_many("CreditMemo", &ids) {
            Ok(found) => found,
            Err(e) => {
                ctx.report.failed(
                    "Payment",
                    &p.id,
                    Failure::Related(format!("CreditMemo {}", ids.join(",")), e),
                );
                return Ok(());
            }
        };
        for memo in found.values() {
            match credits::attribute(ctx, AdjustmentKind::CreditMemo, memo, false, &mut pending) {
                Ok((a, touched)) => {
                    attributions.push(a);
                    also.extend(touched);
                }
                Err(failure) => {
                    ctx.report.failed("Payment", &p.id, failure);
                    return Ok(());
                }
            }
        }
    }
    // A replay (a duplicate webhook, a CDC second read twice) changes nothing that was stored,
    // and what is stored was written to Salesforce before it was stored: nothing to write.
    if unchanged(
        ctx,
        &p,
        &invoice_ids,
        &previous,
        &output.invoices,
        &pending,
        &attributions,
    )? {
        ctx.report.skipped(
            "Payment",
            &p.id,
            None,
            "already applied; the figures are unchanged",
        );
        return Ok(());
    }
    let mut figures = Vec::new();
    for u in &output.updates {
        let owner = match links::invoice_owner(ctx, &u.invoice_id)? {
            Some(o) if o.id == u.opportunity_id => o,
            _ => Owner::opportunity(&u.opportunity_id),
        };
        match settlement::figures(ctx, &owner, &u.invoice_id, &pending) {
            Ok(f) => figures.push((u.invoice_id.clone(), u.reversed, f)),
            Err(failure) => {
                ctx.report.failed("Payment", &p.id, failure);
                return Ok(());
            }
        }
    }
    for (invoice_id, owner) in also {
        if figures
            .iter()
            .any(|(_, _, f): &(String, bool, OwnerFigures)| f.owner == owner)
        {
            continue;
        }
        match settlement::figures(ctx, &owner, &invoice_id, &pending) {
            Ok(f) => figures.push((invoice_id, false, f)),
            Err(failure) => {
                ctx.report.failed("Payment", &p.id, failure);
                return Ok(());
            }
        }
    }
    let names = owners(ctx, &figures);
    for (invoice_id, reversed, f) in &figures {
        ctx.notice(payment_notice(ctx, &p.id, invoice_id, *reversed, f, &names));
    }
    if ctx.dry_run() {
        ctx.report.updated(
            "Payment",
            &p.id,
            "",
            format!("would update {} opportunities", figures.len()),
        );
        return Ok(());
    }
    let all: Vec<OwnerFigures> = figures.into_iter().map(|(_, _, f)| f).collect();
    let results = settlement::write(ctx, &all);
    let mut failed = false;
    for (f, r) in all.iter().zip(results) {
        if let Err(e) = r {
            failed = true;
            ctx.report.failed(
                "Payment",
                &p.id,
                Failure::Related(f.owner.to_string(), e.clone()),
            );
        }
    }
    if failed {
        // Ledgers are not stored, so a retry re-applies the payment from the same starting point.
        return Ok(());
    }
    pending.store(ctx)?;
    for a in &attributions {
        a.store(ctx)?;
    }
    for (invoice_id, adj) in &pending.adjustments {
        for a in adj
            .adjustments
            .iter()
            .filter(|a| a.via_payment.as_deref() == Some(p.id.as_str()))
        {
            credits::store_applied(ctx, &a.document_id, invoice_id)?;
        }
    }
    let applied: Vec<String> = invoice_ids.into_iter().collect();
    ctx.state.put(STATE, &payment_key(&p.id), &applied)?;
    let target = all
        .iter()
        .map(|f| f.owner.id.clone())
        .collect::<Vec<_>>()
        .join(",");
    let detail = describe(&p, all.len(), output.unapplied);
    if all.is_empty() {
        ctx.report.skipped("Payment", &p.id, None, detail);
    } else {
        ctx.report.updated("Payment", &p.id, &target, detail);
    }
    Ok(())
}

/// True when applying the payment again would store exactly what is stored: the same ledgers
/// (read fresh, with their records resolved), the same invoices, no credit or refund moved.
fn unchanged(
    ctx: &Ctx<'_>,
    p: &QboPayment,
    invoice_ids: &BTreeSet<String>,
    previous: &[String],
    ledgers: &[InvoiceLedger],
    pending: &Pending,
    attributions: &[credits::Attribution],
) -> Result<bool, Abort> {
    if ledgers.is_empty() || !pending.adjustments.is_empty() || !attributions.is_empty() {
        return Ok(false);
    }
    let applied: Vec<String> = invoice_ids.iter().cloned().collect();
    if applied != previous || p.state != PaymentState::Active {
        return Ok(false);
    }
    for l in ledgers {
        if settlement::ledger(ctx, &l.invoice_id)?.as_ref() != Some(l) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The credit memo amounts of a payment, spread over the invoices it paid in line order: each
/// invoice line takes credit up to its amount (QBO does not say which invoice a credit went to;
/// with one invoice, which is the usual case, the split is exact).
fn credit_shares(p: &QboPayment, credits: &[(String, Decimal)]) -> Vec<(String, Adjustment)> {
    let mut credits: Vec<(String, Decimal)> = credits.to_vec();
    let mut shares = Vec::new();
    for line in &p.lines {
        let mut room = line.amount;
        for (memo, left) in credits.iter_mut() {
            let take = room.min(*left);
            if take <= Decimal::ZERO {
                continue;
            }
            room -= take;
            *left -= take;
            shares.push((
                line.invoice_id.clone(),
                Adjustment {
                    kind: AdjustmentKind::CreditMemo,
                    document_id: memo.clone(),
                    via_payment: Some(p.id.clone()),
                    amount: take,
                    txn_date: p.txn_date,
                },
            ));
        }
    }
    // Grouped by invoice, in the order the invoices are visited.
    shares.sort_by(|a, b| a.0.cmp(&b.0));
    shares
}

/// The notification line of one record's new figures.
fn payment_notice(
    ctx: &Ctx<'_>,
    payment_id: &str,
    invoice_id: &str,
    reversed: bool,
    f: &OwnerFigures,
    names: &BTreeMap<String, NoticeOpportunity>,
) -> Markup {
    let s = &f.settlement;
    let found = names.get(&f.owner.id);
    // The invoice's number when the opportunity's own invoice is the one paid.
    let number = found
        .filter(|o| o.invoice_id.as_deref() == Some(invoice_id))
        .and_then(|o| o.invoice_number.as_deref());
    let mut line = Markup::plain(&format!("Payment {payment_id} on invoice "));
    line.push(notice_text::invoice(&ctx.settings, invoice_id, number))
        .push_plain(": ");
    if f.owner.object == "Opportunity" {
        line.push(notice_text::named_opportunity(
            &ctx.settings,
            &f.owner.id,
            found,
        ));
    } else {
        line.push_plain(&f.owner.to_string());
    }
    let owner = notice_text::owner_suffix(&ctx.settings, found);
    if !owner.is_empty() {
        line.push(owner).push_plain(",");
    }
    line.push_plain(&format!(
        " is {} (paid {}, open {}){}",
        s.status.label(),
        display_money(s.paid),
        display_money(s.open_balance),
        if reversed { ", reversed" } else { "" }
    ));
    line
}

/// The record invoice `invoice_id` bills (an opportunity or an invoice record, by Id): the
/// stored link, else the record whose `QBO_Invoice_Id__c` names it (a link lost to a crash, or
/// written by an earlier version without its reverse key), whose owner key is then stored. With
/// an invoice object as the invoice source (`invoice-source`), its records are looked at first,
/// then opportunities (invoiced before the source changed).
fn resolve_opportunity(ctx: &Ctx<'_>, invoice_id: &str) -> Result<Option<String>, Failure> {
    if let Some(owner) = links::invoice_owner(ctx, invoice_id).map_err(Failure::Invalid)? {
        return Ok(Some(owner.id));
    }
    let (source, _) = ctx.settings.invoice_source.objects();
    let mut objects = vec![source];
    if source != "Opportunity" {
        objects.push("Opportunity");
    }
    for object in objects {
        let rows = ctx
            .sf
            .query(&format!(
                "SELECT Id FROM {object} WHERE {QBO_INVOICE_ID} = {} LIMIT 2",
                soql_literal(invoice_id)
            ))
            .map_err(|e| Failure::Related(format!("{object} of invoice {invoice_id}"), e))?;
        let [row] = rows.as_slice() else {
            // None, or several claiming one invoice: no record is guessed.
            continue;
        };
        let Some(id) = row.get("Id").and_then(Value::as_str) else {
            continue;
        };
        if !ctx.dry_run() {
            let owner = Owner {
                object: object.to_string(),
                id: id.to_string(),
            };
            links::store_invoice_owner(ctx, invoice_id, &owner).map_err(|Abort(f)| f)?;
        }
        return Ok(Some(id.to_string()));
    }
    Ok(None)
}

/// Each opportunity's name, owner and invoice, for the notice that tells the owner their deal
/// was paid; one query per payment. Names are a courtesy: when they cannot be read the notice
/// names the opportunity by id and the payment still applies.
fn owners(
    ctx: &mut Ctx<'_>,
    figures: &[(String, bool, OwnerFigures)],
) -> BTreeMap<String, NoticeOpportunity> {
    let ids: Vec<String> = figures
        .iter()
        .filter(|(_, _, f)| f.owner.object == "Opportunity")
        .map(|(_, _, f)| f.owner.id.clone())
        .collect();
    if ids.is_empty() || ctx.dry_run() {
        return BTreeMap::new();
    }
    notice_opportunities(ctx, &ids).unwrap_or_default()
}

fn describe(p: &QboPayment, n: usize, unapplied: rust_decimal::Decimal) -> String {
    let state = match p.state {
        PaymentState::Active => "applied",
        PaymentState::Voided => "voided: reversed",
        PaymentState::Deleted => "deleted: reversed",
    };
    let mut d = format!(
        "{} {state} on {n} opportunit{}",
        p.total_amt,
        if n == 1 { "y" } else { "ies" }
    );
    if !unapplied.is_zero() {
        d.push_str(&format!(", {unapplied} unapplied"));
    }
    d
}

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::invoice_reverse_key;
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{assert_run, qbo_entity, qbo_query, sf_saved, soql, REALM};
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const OPP: &str = "006A000001DealAAA";

    fn payment(id: &str, date: &str, amount: f64) -> Value {
        json!({"Id": id, "SyncToken": "0", "TxnDate": date, "TotalAmt": amount,
            "CustomerRef": {"value": "58", "name": "Acme Widgets"}, "UnappliedAmt": 0,
            "Line": [{"Amount": amount, "LinkedTxn": [{"TxnId": "130", "TxnType": "Invoice"}]}]})
    }

    /// The payment fields written to the Opportunity, money read exactly.
    fn written(platform: &MemoryPlatform) -> Vec<(String, Decimal, Decimal, Value)> {
        platform
            .http
            .bodies(Patch, "/composite/sobjects")
            .iter()
            .flat_map(|b| b["records"].as_array().cloned().unwrap_or_default())
            .map(|r| {
                assert_eq!(r["Id"], OPP, "{r}");
                (
                    r["Payment_Status__c"].as_str().unwrap().to_string(),
                    decimal(&r["Amount_Paid__c"]).unwrap(),
                    decimal(&r["Open_Balance__c"]).unwrap(),
                    r["Paid_Date__c"].clone(),
                )
            })
            .collect()
    }

    /// QBO holding `payments`, the opportunity's owner, and the writes.
    fn routes(payments: Value) -> Routes {
        routes_with_deal(
            payments,
            json!({"Id": OPP, "Name": "Acme - 4 seats", "Owner": {"Name": "Ada Lovelace"}}),
        )
    }

    /// [`routes`] with the opportunity as Salesforce answers the notice's query.
    fn routes_with_deal(payments: Value, deal: Value) -> Routes {
        Routes::new()
            .on(Get, "select * from Payment where Id in", move |_| {
                qbo_query("Payment", payments.clone())
            })
            .on(Get, "SELECT Id, Name, Owner.Name, Owner.Email", move |_| {
                soql(json!([deal.clone()]))
            })
            .on(Patch, "/composite/sobjects", sf_saved)
            .json(Post, "http://notify/", 200, json!({"ok": true}))
    }

    /// Invoice 130 (1250.50), read once for its total.
    fn invoice_130() -> crate::platform::HttpResponse {
        qbo_entity(
            "Invoice",
            json!({"Id": "130", "SyncToken": "1",
            "DocNumber": "SF-006A000001DealAAA", "TxnDate": "2026-02-27",
            "CustomerRef": {"value": "58"}, "TotalAmt": 1250.50, "Balance": 750.25}),
        )
    }

    /// Payment 77 (500.25) applied to invoice 130 (1250.50) of the opportunity.
    fn first_payment_applied() -> (MemoryPlatform, crate::flows::Report) {
        let platform = MemoryPlatform::routed(
            REALM,
            routes(json!([payment("77", "2026-03-05", 500.25)]))
                // Read once, for its total: the invoice's ledger is kept from then on.
                .on(Get, "/invoice/130?", |_| invoice_130()),
        );
        // The invoice was created from the opportunity.
        State::new(&platform.kv)
            .put(LINKS, &invoice_reverse_key("130"), &OPP)
            .unwrap();
        let report = run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:77"]}"#,
        )
        .unwrap();
        (platform, report)
    }

    #[test]
    fn a_partial_then_a_final_payment_write_exact_amounts_to_the_linked_opportunity_and_a_replay_counts_once(
    ) {
        let (platform, report) = first_payment_applied();
        assert_run(
            &report,
            &platform,
            vec![("Payment", "77", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![(
                "Partially Paid".into(),
                dec!(500.25),
                dec!(750.25),
                Value::Null
            )]
        );
        let notice = &platform.http.bodies(Post, "http://notify/")[0]["text"];
        assert!(
            notice.as_str().unwrap().contains("owner Ada Lovelace"),
            "{notice}"
        );

        let platform = platform.rerouted(routes(json!([payment("78", "2026-03-20", 750.25)])));
        let report = run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:78"]}"#,
        )
        .unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Payment", "78", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![("Paid".into(), dec!(1250.50), dec!(0), json!("2026-03-20"))]
        );

        // A replay of the first payment (a duplicate webhook) counts it once: the stored
        // figures are those already written, so nothing is written again.
        let platform = platform.rerouted(routes(json!([payment("77", "2026-03-05", 500.25)])));
        let report = run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:77"]}"#,
        )
        .unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Payment", "77", Kind::Skipped, None)],
        );
        assert_eq!(written(&platform), vec![]);
        let ledger: crate::mapping::InvoiceLedger = State::new(&platform.kv)
            .get(crate::flows::state::STATE, "ledger/130")
            .unwrap()
            .unwrap();
        let paid: Decimal = ledger.applied.iter().map(|a| a.amount).sum();
        assert_eq!(paid, dec!(1250.50), "77 counted once");
    }

    #[test]
    fn a_payment_deleted_in_qbo_is_reversed_on_its_opportunity() {
        let (platform, _) = first_payment_applied();
        // QBO no longer has payment 77: the ledger of invoice 130 takes it back.
        let platform = platform.rerouted(routes(json!([])));
        let report = run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:77"]}"#,
        )
        .unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Payment", "77", Kind::Updated, Some(OPP))],
        );
        assert_eq!(
            written(&platform),
            vec![("Unpaid".into(), dec!(0), dec!(1250.50), Value::Null)]
        );
    }

    /// The text of the one notification posted.
    fn notification(platform: &MemoryPlatform) -> String {
        let posted = platform.http.bodies(Post, "http://notify/");
        assert_eq!(posted.len(), 1, "{posted:?}");
        posted[0]["text"].as_str().unwrap().to_string()
    }

    /// A tenant with the org's address and `mentions`, and invoice 130 of the opportunity.
    fn tenant_with(routes: Routes, mentions: &str) -> MemoryPlatform {
        let mut platform = MemoryPlatform::routed(REALM, routes);
        for (key, value) in [
            ("salesforce-url", "https://acme.my.salesforce.com"),
            ("notify-mentions", mentions),
        ] {
            platform.settings.0.insert(key.into(), value.into());
        }
        State::new(&platform.kv)
            .put(LINKS, &invoice_reverse_key("130"), &OPP)
            .unwrap();
        platform
    }

    #[test]
    fn a_payment_notice_mentions_the_mapped_owner_and_links_the_deal_and_invoice_with_the_name_escaped(
    ) {
        let deal = json!({"Id": OPP, "Name": "Acme <b>& Co</b> <@U0G9QF9C6>",
            "Owner": {"Name": "Ada Lovelace", "Email": "Ada@Acme.example"},
            "QBO_Invoice_Id__c": "130", "QBO_Invoice_Number__c": "SF-006A000001DealAAA"});
        let platform = tenant_with(
            routes_with_deal(json!([payment("77", "2026-03-05", 500.25)]), deal).on(
                Get,
                "/invoice/130?",
                |_| invoice_130(),
            ),
            "ada@acme.example=U024BE7LH; bob@acme.example=U0G9QF9C6",
        );
        run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:77"]}"#,
        )
        .unwrap();
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        // One query names the deal, its owner and its invoice.
        assert_eq!(
            platform.http.count(Get, "FROM Opportunity"),
            1,
            "{:#?}",
            platform.http.requests()
        );
        assert_eq!(
            notification(&platform),
            "Ledgerlink sync-payments:\n\
             Payment 77 on invoice \
             <https://app.qbo.intuit.com/app/invoice?txnId=130|SF-006A000001DealAAA>: \
             Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A000001DealAAA/view|\
             Acme &lt;b&gt;&amp; Co&lt;/b&gt; &lt;@U0G9QF9C6&gt;> (006A000001DealAAA), \
             owner <@U024BE7LH>, is Partially Paid (paid 500.25, open 750.25)"
        );
    }

    #[test]
    fn a_payment_notice_names_an_unmapped_owner_escaped_and_none_without_an_owner() {
        // Bob's email is not mapped: named, his hostile name escaped; the invoice paid is not
        // the one the deal names, so it is shown by Id.
        let deal = json!({"Id": OPP, "Name": "Acme - 4 seats",
            "Owner": {"Name": "Bob <!channel> & Sons", "Email": "bob@acme.example"},
            "QBO_Invoice_Id__c": "129", "QBO_Invoice_Number__c": "SF-OLD"});
        let platform = tenant_with(
            routes_with_deal(json!([payment("77", "2026-03-05", 500.25)]), deal).on(
                Get,
                "/invoice/130?",
                |_| invoice_130(),
            ),
            "ada@acme.example=U024BE7LH",
        );
        run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:77"]}"#,
        )
        .unwrap();
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(
            notification(&platform),
            "Ledgerlink sync-payments:\n\
             Payment 77 on invoice <https://app.qbo.intuit.com/app/invoice?txnId=130|130>: \
             Opportunity <https://acme.my.salesforce.com/lightning/r/Opportunity/006A000001DealAAA/view|\
             Acme - 4 seats> (006A000001DealAAA), owner Bob &lt;!channel&gt; &amp; Sons, \
             is Partially Paid (paid 500.25, open 750.25)"
        );

        // No owner readable (and no org address): no mention, no name, no Salesforce link.
        let mut platform = platform.rerouted(routes_with_deal(
            json!([payment("78", "2026-03-20", 750.25)]),
            json!({"Id": OPP, "Name": "Acme - 4 seats", "Owner": null}),
        ));
        platform.settings.0.remove("salesforce-url");
        run_job(
            &platform.platform(),
            "sync-payments",
            r#"{"only": ["Payment:78"]}"#,
        )
        .unwrap();
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(
            notification(&platform),
            "Ledgerlink sync-payments:\n\
             Payment 78 on invoice <https://app.qbo.intuit.com/app/invoice?txnId=130|130>: \
             Opportunity Acme - 4 seats (006A000001DealAAA) is Paid (paid 1250.50, open 0.00)"
        );
    }
}
