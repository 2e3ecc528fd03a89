//! Opportunity Closed Won -> QBO Invoice, and the invoice Id, DocNumber and link written back.
//!
//! Never a second invoice: the stored link is checked first; an opportunity without a link is
//! looked up in QBO by its deterministic DocNumber (a crash after the create but before the link
//! was stored is recovered here); creates go in `/batch` requests whose `requestid` is derived
//! from the opportunities and their content, each sent before the one before it is landed
//! (`creates.rs`). A change after invoicing updates the invoice
//! (a sparse update with the SyncToken; on 5010 re-read and retry, so fields others set in QBO
//! survive) unless it is paid or voided, which is reported. An opportunity whose write-back was
//! lost (a crash after the link was stored) gets it again on the next run.
//!
//! Subscription lines go to a QBO recurring template instead (`recurring.rs`); the invoices QBO
//! generates from it come back through [`from_template`].
//! With `invoice-source` = `invoice-object` or `billing`, the records invoiced are posted
//! Salesforce invoice records instead (`records.rs` adapts them to the opportunity shape), with
//! the same guarantees; Closed Won opportunities are then not invoiced (the run says so).

mod creates;
mod currency;
mod details;
mod plan;
mod records;
mod recurring;
mod updates;

use records::Source;
pub use recurring::from_template;

use plan::{invoice_fields, Planned};
use updates::Change;

use super::context::{Abort, Ctx, FlowResult};
use super::customers::{self, Directory, Synced};
use super::ids::{content_hash, write_request_id};
use super::invoice_settings::DetailSettings;
use super::items::{self, Catalog};
use super::links::{self, InvoiceLink, EXTERNAL};
use super::notice_text;
use super::qbo_lists::QboLists;
use super::report::{Failure, Kind};
use super::review_queue::{self, Decision, PENDING};
use super::salesforce_io::{select_pages, write_back};
use crate::clients::notify::Markup;
use crate::clients::quickbooks::{literal_list, BATCH_MAX};
use crate::clients::quickbooks_json::{invoice_json, invoice_view, InvoiceView};
use crate::clients::salesforce_fields::EMAIL;
use crate::clients::salesforce_json::{opportunity, opportunity_select};
use crate::clients::ApiError;
use crate::mapping::invoice::doc_number;
use crate::mapping::{build_invoice, InvoiceInput};
use crate::model::{Reference, SfOpportunity};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// The invoice source's records changed since the cursor (or `only`, or all with `full`):
/// Closed Won opportunities, or posted invoice records (`invoice-source`, `records.rs`).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let source = Source::of(ctx.settings.invoice_source);
    let mut resolvers = Resolvers {
        details: ctx.settings.invoice_details.clone(),
        source,
        ..Resolvers::default()
    };
    let currency = currency::salesforce_multicurrency(ctx)?;
    let details = &resolvers.details;
    let fields = if source.is_record() {
        ctx.report.skipped(
            "Opportunity",
            "(Closed Won)",
            None,
            format!(
                "not invoiced: invoice-source takes posted {} records instead",
                source.object
            ),
        );
        source.select(details, currency)
    } else {
        let subscriptions = &ctx.settings.subscriptions;
        opportunity_select(
            &[
                details.opportunity_fields(currency),
                recurring::opportunity_fields(subscriptions),
            ]
            .concat(),
            &[
                details.line_fields(currency),
                recurring::line_fields(subscriptions),
            ]
            .concat(),
            &details.subqueries(),
        )
    };
    select_pages(
        ctx,
        source.object,
        &fields,
        &source.condition(),
        |ctx, rows, window| {
            let mut opportunities = Vec::new();
            let mut read = Vec::new();
            for row in rows {
                match source.adapt(row).and_then(|adapted| {
                    let o = opportunity(&adapted)?;
                    Ok((o, adapted))
                }) {
                    Ok((o, adapted)) => {
                        opportunities.push(o);
                        read.push(adapted);
                    }
                    Err(e) => {
                        let id = row.get("Id").and_then(Value::as_str).unwrap_or("?");
                        ctx.report.failed(source.object, id, Failure::Invalid(e));
                    }
                }
            }
            let read: Vec<&Value> = read.iter().collect();
            // Subscription lines go to a recurring template; the rest is invoiced below.
            let (opportunities, read) = if source.is_record() {
                (opportunities, read)
            } else {
                recurring::subscriptions(ctx, &mut resolvers, opportunities, read)?
            };
            let (links, found) = links_of(ctx, &opportunities)?;
            let mut done = window.offset + rows.len() - opportunities.len();
            // Each chunk's batch is sent before the one before it is landed (`creates.rs`).
            let mut batches = creates::OneAhead::default();
            let mut outcome = Ok(());
            for ((chunk, links), read) in opportunities
                .chunks(BATCH_MAX)
                .zip(links.chunks(BATCH_MAX))
                .zip(read.chunks(BATCH_MAX))
            {
                outcome = match invoice_chunk(ctx, &mut resolvers, chunk, read, links, &found) {
                    Ok(planned) => batches.push(ctx, source, planned),
                    Err(abort) => Err(abort),
                };
                if outcome.is_err() {
                    break;
                }
                ctx.progress(source.object, done, window.total);
                done += chunk.len();
            }
            // Whatever stopped the page, a batch sent is landed: QBO may have created it.
            let landed = batches.finish(ctx, source);
            ctx.progress(source.object, done, window.total);
            outcome.and(landed)
        },
    )
}

/// What one run resolves once and reuses: QBO customers, items and lists, and where the
/// invoice details come from (the settings, copied once per run, not per opportunity).
#[derive(Default)]
struct Resolvers {
    details: DetailSettings,
    source: Source,
    dir: Option<Directory>,
    catalog: Option<Catalog>,
    lists: QboLists,
    rates: BTreeMap<(String, NaiveDate), Decimal>,
}

/// DocNumbers per look-up query (keeps the query's URL a few kilobytes long).
const LOOKUP_MAX: usize = 100;

/// The stored link of each opportunity (each read once: planning resolves customers and items,
/// never invoice links), and the QBO invoices of those without one whose DocNumber exists: a
/// crash after a create but before its link was stored. One look-up per [`LOOKUP_MAX`]
/// opportunities of a SOQL page, not per batch.
fn links_of(
    ctx: &mut Ctx<'_>,
    opportunities: &[SfOpportunity],
) -> Result<(Vec<Option<InvoiceLink>>, Vec<InvoiceView>), Abort> {
    let links = opportunities
        .iter()
        .map(|o| links::invoice_link(ctx, &o.id))
        .collect::<Result<Vec<_>, _>>()?;
    let unlinked: Vec<String> = opportunities
        .iter()
        .zip(&links)
        .filter(|(_, link)| link.is_none())
        .filter_map(|(o, _)| doc_number(&ctx.settings.invoice.doc_number, &o.id).ok()?)
        .collect();
    let mut found = Vec::new();
    for docs in unlinked.chunks(LOOKUP_MAX) {
        let docs: BTreeSet<String> = docs.iter().cloned().collect();
        found.extend(
            ctx.qbo
                .query(&format!(
                    "select * from Invoice where DocNumber in ({})",
                    literal_list(&docs)
                ))?
                .iter()
                .filter_map(invoice_view),
        );
    }
    Ok((links, found))
}

/// One chunk (up to [`BATCH_MAX`] records): what is linked already is skipped, repaired or
/// updated here; the invoices to create are returned, for [`creates::OneAhead`] to send (a dry
/// run reports them and returns none).
fn invoice_chunk(
    ctx: &mut Ctx<'_>,
    resolvers: &mut Resolvers,
    chunk: &[SfOpportunity],
    rows: &[&Value],
    links: &[Option<InvoiceLink>],
    found: &[InvoiceView],
) -> Result<Vec<Planned>, Abort> {
    let source = resolvers.source;
    let object = source.object;
    let mut creates: Vec<Planned> = Vec::new();
    let mut repairs = Vec::new();
    let mut changes = Vec::new();
    for ((o, link), row) in chunk.iter().zip(links.iter().cloned()).zip(rows) {
        if let Some(link) = &link {
            if link.hash == EXTERNAL {
                ctx.report.skipped(
                    object,
                    &o.id,
                    Some(&link.qbo_id),
                    "its invoice was created in QBO; QBO owns it",
                );
                continue;
            }
            if updates::deleted_in_quickbooks(ctx, &o.id, &link.qbo_id) {
                continue;
            }
        }
        let Some(planned) = plan(ctx, resolvers, o, row)? else {
            continue;
        };
        let recovered = found
            .iter()
            .find(|f| f.doc_number.is_some() && f.doc_number == planned.doc_number);
        match (link, recovered) {
            (Some(link), _) if link.hash == planned.hash => {
                // A crash between storing the link and the write-back leaves the opportunity
                // without its invoice fields: write them again, whatever else is unchanged.
                if o.qbo_invoice_id.as_deref() != Some(link.qbo_id.as_str()) {
                    repairs.push(invoice_fields(
                        ctx,
                        &o.id,
                        &link.qbo_id,
                        link.doc_number.as_deref(),
                    ));
                    ctx.report.updated(
                        object,
                        &o.id,
                        &link.qbo_id,
                        "invoice fields written back (missing in Salesforce)",
                    );
                } else {
                    match send_if_due(ctx, object, &o.id, &link.qbo_id, &planned.body)? {
                        Send::NotDue => ctx.report.skipped(
                            object,
                            &o.id,
                            Some(&link.qbo_id),
                            "already invoiced; unchanged",
                        ),
                        Send::Sent(email) => ctx.report.updated(
                            object,
                            &o.id,
                            &link.qbo_id,
                            format!("invoice emailed to {email}"),
                        ),
                        Send::Failed => {}
                    }
                }
            }
            (Some(link), _) => changes.push(Change {
                planned,
                invoice_id: link.qbo_id,
                current: None,
            }),
            (None, Some(existing)) if existing.voided || existing.balance < existing.total_amt => {
                // Created before a crash and paid (or voided) since: QBO's invoice stands as
                // it is. It is this opportunity's invoice: link it as current and write its
                // fields back (an update would be refused, and so would the write-back with it).
                let existing = existing.clone();
                links::store_owned_invoice_link(
                    ctx,
                    &source.owner(&o.id),
                    &existing.id,
                    existing.doc_number.clone(),
                    &planned.hash,
                )?;
                if !ctx.dry_run() {
                    repairs.push(invoice_fields(
                        ctx,
                        &o.id,
                        &existing.id,
                        existing.doc_number.as_deref(),
                    ));
                }
                ctx.report.updated(
                    object,
                    &o.id,
                    &existing.id,
                    "invoice created before an interruption adopted as it is (already paid or voided) and written back",
                );
            }
            (None, Some(existing)) => {
                // Created before a crash: adopt it, then bring it up to date.
                let existing = existing.clone();
                links::store_owned_invoice_link(
                    ctx,
                    &source.owner(&o.id),
                    &existing.id,
                    existing.doc_number.clone(),
                    "",
                )?;
                changes.push(Change {
                    planned,
                    invoice_id: existing.id.clone(),
                    current: Some(existing),
                });
            }
            (None, None) => creates.push(planned),
        }
    }
    write_back(ctx, object, &repairs);
    updates::update_all(ctx, changes)?;
    if ctx.dry_run() {
        for p in &creates {
            ctx.report.created(
                object,
                &p.opportunity.id,
                "(new)",
                format!(
                    "would create invoice {}",
                    p.doc_number.clone().unwrap_or_default()
                ),
            );
        }
        return Ok(Vec::new());
    }
    Ok(creates)
}

/// Resolves the customer and items and builds the invoice; `None` when the record failed
/// (reported).
fn plan(
    ctx: &mut Ctx<'_>,
    resolvers: &mut Resolvers,
    o: &SfOpportunity,
    row: &Value,
) -> Result<Option<Planned>, Abort> {
    if !ctx.wanted(&o.id) {
        return Ok(None);
    }
    let source = resolvers.source;
    let object = source.object;
    let Some(account_id) = o.account_id.clone() else {
        ctx.report.failed(
            object,
            &o.id,
            Failure::Invalid(format!(
                "{object} {}: {} is empty; an invoice needs a customer",
                o.id, source.account
            )),
        );
        return Ok(None);
    };
    let customer_id = match customers::customer_for(ctx, &mut resolvers.dir, &account_id)? {
        Synced::Customer(id) => id,
        held @ (Synced::PendingReview | Synced::ReviewSkipped) => {
            // Not a failure: the deal is invoiced once a person decides about its account.
            review_queue::wait_for(ctx, &account_id, &o.id)?;
            let (code, why) = match held {
                Synced::PendingReview => (PENDING, "is pending review"),
                _ => (
                    Decision::Skip.code(),
                    "is kept out of sync by a review decision",
                ),
            };
            ctx.report.coded(
                Kind::Skipped,
                object,
                &o.id,
                None,
                code,
                format!("{object} {}: account {account_id} {why}", o.id),
            );
            return Ok(None);
        }
        Synced::Nothing => {
            ctx.report.failed(
                object,
                &o.id,
                Failure::Invalid(format!(
                    "{object} {}: account {account_id} could not be matched or created in QBO",
                    o.id
                )),
            );
            return Ok(None);
        }
    };
    let details = match details::resolve(ctx, &mut resolvers.lists, &resolvers.details, row)? {
        Ok(details) => details,
        Err((field, reason)) => {
            ctx.report.failed(
                object,
                &o.id,
                Failure::Invalid(format!("{object} {}: {field}: {reason}", o.id)),
            );
            return Ok(None);
        }
    };
    let (customer_id, exchange_rate) =
        match in_currency(ctx, resolvers, o, &account_id, customer_id)? {
            Ok(found) => found,
            Err(failure) => {
                ctx.report.failed(object, &o.id, failure);
                return Ok(None);
            }
        };
    let mut lines = Vec::new();
    for (i, line) in o.line_items.iter().enumerate() {
        let Some(product_id) = line.product_id.clone() else {
            ctx.report.failed(
                object,
                &o.id,
                Failure::Invalid(format!(
                    "{object} {}: {} is empty",
                    o.id,
                    source.line_path(i)
                )),
            );
            return Ok(None);
        };
        let Some(item_id) = items::item_for(ctx, &mut resolvers.catalog, &product_id)? else {
            ctx.report.failed(
                object,
                &o.id,
                Failure::Invalid(format!(
                    "{object} {}: {} {product_id} has no QBO item",
                    o.id,
                    source.line_path(i)
                )),
            );
            return Ok(None);
        };
        lines.push(details.resolution(&line.id, Reference::id(item_id)));
    }
    let input = InvoiceInput {
        opportunity: o.clone(),
        customer: Some(Reference::id(customer_id)),
        customer_email: details.email,
        customer_email_cc: details.email_cc,
        lines,
        settings: details.settings,
        exchange_rate,
        custom_fields: details.custom_fields,
    };
    match build_invoice(&input) {
        Ok(invoice) => {
            let mut body = invoice_json(&invoice);
            source.finish(row, &mut body);
            Ok(Some(Planned {
                owner: source.owner(&o.id),
                hash: content_hash(&body),
                doc_number: invoice.doc_number.clone(),
                opportunity: o.clone(),
                body,
            }))
        }
        Err(e) => {
            ctx.report
                .failed(object, &o.id, Failure::Mapping(source.refusal(e)));
            Ok(None)
        }
    }
}

/// With `send-invoices` on, emails invoice `invoice_id` once: it needs a `BillEmail` (the
/// Account's billing email or the primary contact's), and the send counts only when QBO answers
/// `EmailStatus` = `EmailSent`. A send that fails is reported as a failure of the opportunity, so
/// the error ledger retries it (the request id follows the address, so a retry after the address
/// was fixed is a new send, not QBO's replay of the refusal).
fn send_if_due(
    ctx: &mut Ctx<'_>,
    object: &str,
    opportunity_id: &str,
    invoice_id: &str,
    body: &Value,
) -> Result<Send, Abort> {
    if !ctx.settings.send_invoices || ctx.dry_run() || links::invoice_sent(ctx, invoice_id)? {
        return Ok(Send::NotDue);
    }
    let Some(email) = body
        .get("BillEmail")
        .and_then(|e| e.get("Address"))
        .and_then(Value::as_str)
    else {
        ctx.report.failed(
            object,
            opportunity_id,
            Failure::Invalid(format!(
                "{object} {opportunity_id}: invoice {invoice_id} not sent: no billing email \
                 (the Account's {EMAIL} or the primary contact's email)"
            )),
        );
        return Ok(Send::Failed);
    };
    let request_id = write_request_id("send", &[invoice_id, &content_hash(&Value::from(email))]);
    match ctx.qbo.send_invoice(invoice_id, &request_id) {
        Ok(answer) => match answer.get("EmailStatus").and_then(Value::as_str) {
            Some("EmailSent") => {
                links::store_invoice_sent(ctx, invoice_id)?;
                let line = Markup::plain("Invoice ")
                    .then(notice_text::invoice(
                        &ctx.settings,
                        invoice_id,
                        body.get("DocNumber").and_then(Value::as_str),
                    ))
                    .then(format!(" emailed to {email}"));
                ctx.notice(line);
                return Ok(Send::Sent(email.to_string()));
            }
            status => ctx.report.failed(
                object,
                opportunity_id,
                Failure::Api(ApiError::Decode(format!(
                    "invoice {invoice_id} was sent but QBO's EmailStatus is {}",
                    status.unwrap_or("missing")
                ))),
            ),
        },
        Err(e) => ctx.report.failed(object, opportunity_id, e.into()),
    }
    Ok(Send::Failed)
}

/// What [`send_if_due`] did.
enum Send {
    /// Nothing: sending is off, or the invoice was sent before.
    NotDue,
    /// Emailed to this address.
    Sent(String),
    /// Refused or failed (reported).
    Failed,
}

/// The customer and exchange rate of a deal in a foreign currency (a multicurrency company):
/// the Account's customer in that currency and the rate of the close date. A deal in the home
/// currency, or in a company without multicurrency (which `build-invoice` refuses, saying why),
/// keeps the Account's customer and no rate.
fn in_currency(
    ctx: &mut Ctx<'_>,
    resolvers: &mut Resolvers,
    o: &SfOpportunity,
    account_id: &str,
    customer_id: String,
) -> Result<Result<(String, Option<Decimal>), Failure>, Abort> {
    let home = ctx.settings.invoice.home_currency.trim().to_uppercase();
    let Some(currency) = o
        .currency_code
        .as_deref()
        .map(|c| c.trim().to_uppercase())
        .filter(|c| !c.is_empty() && *c != home && ctx.settings.invoice.multicurrency)
    else {
        return Ok(Ok((customer_id, None)));
    };
    let invalid = |reason: String| {
        Failure::Invalid(format!(
            "{} {}: currency-code: {reason}",
            resolvers.source.object, o.id
        ))
    };
    let customer = match currency::customer_in_currency(ctx, account_id, &customer_id, &currency)? {
        Ok(id) => id,
        Err(Failure::Invalid(reason)) => return Ok(Err(invalid(reason))),
        Err(other) => return Ok(Err(other)),
    };
    match currency::exchange_rate(ctx, &mut resolvers.rates, &currency, o.close_date)? {
        Ok(rate) => Ok(Ok((customer, Some(rate)))),
        Err(reason) => Ok(Err(invalid(reason))),
    }
}

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::{account_key, invoice_key, product_key, AccountLink, InvoiceLink};
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{
        assert_run, body, outcomes, qbo_batch_created, qbo_entity, qbo_query, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const OPP: &str = "006A000001DealAAA";

    /// A Closed Won deal of 3 x 100.10 and 1 x 950.20, as the REST API nests it.
    fn opportunity(invoice: Option<(&str, &str)>) -> Value {
        let line = |id: &str, product: &str, qty: u32, price: f64, total: f64| {
            json!({"attributes": {"type": "OpportunityLineItem"}, "Id": id, "Product2Id": product,
                "ProductCode": null, "Name": "line", "Description": null, "Quantity": qty,
                "UnitPrice": price, "TotalPrice": total, "Discount": null, "ServiceDate": null,
                "SortOrder": null, "Product2": {"Family": null}})
        };
        json!({"attributes": {"type": "Opportunity"}, "Id": OPP, "Name": "Acme - 4 seats",
            "AccountId": "001A000001AcmeAAA", "StageName": "Closed Won", "CloseDate": "2026-02-27",
            "Amount": 1250.50, "IsWon": true, "IsClosed": true, "Description": null,
            "QBO_Invoice_Id__c": invoice.map(|i| i.0), "QBO_Invoice_Number__c": invoice.map(|i| i.1),
            "Payment_Status__c": null, "SystemModstamp": "2026-02-27T18:00:00.000+0000",
            "Account": {"Email__c": "ap@acme.example", "Payment_Terms__c": null, "Tax_Exempt__c": false},
            "Owner": {"Name": "Ada Lovelace"}, "OpportunityContactRoles": null,
            "OpportunityLineItems": {"totalSize": 2, "done": true, "records": [
                line("00kA0000001LineA", "01tA00000WidgetP", 3, 100.10, 300.30),
                line("00kA0000001LineB", "01tA00000GadgetX", 1, 950.20, 950.20)]}})
    }

    /// The routes every run of a deal takes: whether the org has currencies (described once a
    /// day) and the won deals.
    fn won_deal(opportunity: Value) -> Routes {
        Routes::new()
            .json(
                Get,
                "/sobjects/Opportunity/describe",
                200,
                json!({"name": "Opportunity",
                    "fields": [{"name": "Id"}, {"name": "Amount"}, {"name": "StageName"}]}),
            )
            .on(Get, "FROM Opportunity WHERE IsWon = true", move |_| {
                soql(json!([opportunity]))
            })
    }

    /// The account and the products were synced before: their links are stored.
    fn synced_before(platform: &MemoryPlatform) -> State<'_> {
        let state = State::new(&platform.kv);
        let customer = AccountLink {
            qbo_id: "58".into(),
            snapshot: None,
        };
        state
            .put(LINKS, &account_key("001A000001AcmeAAA"), &customer)
            .unwrap();
        for (product, item) in [("01tA00000WidgetP", "31"), ("01tA00000GadgetX", "12")] {
            state.put(LINKS, &product_key(product), &item).unwrap();
        }
        state
    }

    #[test]
    fn a_closed_won_opportunity_becomes_one_invoice_written_back_and_a_rerun_creates_none() {
        let platform = MemoryPlatform::routed(
            REALM,
            won_deal(opportunity(None))
                // No invoice with the deal's DocNumber: no create was lost before a crash.
                .on(
                    Get,
                    "select * from Invoice where DocNumber in ('SF-006A000001DealAAA')",
                    |_| qbo_query("Invoice", json!([])),
                )
                .on(Post, "/invoice?", |req| {
                    let mut invoice = body(req);
                    invoice["Id"] = json!("130");
                    invoice["SyncToken"] = json!("0");
                    invoice["TotalAmt"] = json!(1250.50);
                    invoice["Balance"] = json!(1250.50);
                    qbo_entity("Invoice", invoice)
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        let state = synced_before(&platform);

        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Created, Some("130"))],
        );
        let creates = platform
            .http
            .bodies(Post, "/invoice?minorversion=75&requestid=ll-inv-");
        assert_eq!(creates.len(), 1, "{:#?}", platform.http.requests());
        let invoice = &creates[0];
        assert_eq!(invoice["DocNumber"], "SF-006A000001DealAAA");
        assert_eq!(invoice["CustomerRef"]["value"], "58");
        assert_eq!(invoice["BillEmail"]["Address"], "ap@acme.example");
        let lines: Vec<_> = invoice["Line"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let d = &l["SalesItemLineDetail"];
                (
                    d["ItemRef"]["value"].as_str().unwrap(),
                    decimal(&d["Qty"]).unwrap(),
                    decimal(&d["UnitPrice"]).unwrap(),
                    decimal(&l["Amount"]).unwrap(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![
                ("31", dec!(3), dec!(100.10), dec!(300.30)),
                ("12", dec!(1), dec!(950.20), dec!(950.20)),
            ]
        );
        let total: rust_decimal::Decimal = lines.iter().map(|l| l.3).sum();
        assert_eq!(
            total,
            dec!(1250.50),
            "the lines add up to the deal's Amount"
        );
        let writes = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(
            writes[0]["records"],
            json!([{"Id": OPP, "QBO_Invoice_Id__c": "130",
                "QBO_Invoice_Number__c": "SF-006A000001DealAAA",
                "QBO_Invoice_Link__c": "https://app.qbo.intuit.com/app/invoice?txnId=130",
                "attributes": {"type": "Opportunity"}}])
        );
        let link: InvoiceLink = state.get(LINKS, &invoice_key(OPP)).unwrap().unwrap();
        assert_eq!(link.qbo_id, "130");
        let notices = platform.http.bodies(Post, "http://notify/");
        assert!(
            notices[0]["text"].as_str().unwrap().contains(
                "Invoice <https://app.qbo.intuit.com/app/invoice?txnId=130|SF-006A000001DealAAA> \
                     (1250.50) created for Opportunity Acme - 4 seats (006A000001DealAAA)"
            ),
            "{notices:?}"
        );

        // The write-back moves SystemModstamp: the deal is read again, invoiced and unchanged.
        // Only the query is scripted: no look-up, no write, no second describe the same day.
        let platform = platform.rerouted(Routes::new().on(
            Get,
            "FROM Opportunity WHERE IsWon = true",
            |_| soql(json!([opportunity(Some(("130", "SF-006A000001DealAAA")))])),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Skipped, Some("130"))],
        );
    }

    #[test]
    fn the_next_batch_is_sent_before_the_last_is_written_back_and_each_write_back_follows_its_batch(
    ) {
        // 31 deals: a batch of 30, then a lone create (a plain request with its requestid).
        let deals: Vec<Value> = (0..31)
            .map(|n| {
                let mut o = opportunity(None);
                o["Id"] = json!(format!("006A000001Deal{n:03}"));
                o
            })
            .collect();
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .json(
                    Get,
                    "/sobjects/Opportunity/describe",
                    200,
                    json!({"name": "Opportunity", "fields": [{"name": "Id"}]}),
                )
                .on(Get, "FROM Opportunity WHERE IsWon = true", move |_| {
                    soql(Value::Array(deals.clone()))
                })
                .on(Get, "select * from Invoice where DocNumber in (", |_| {
                    qbo_query("Invoice", json!([]))
                })
                .on(Post, "/batch?", |req| {
                    qbo_batch_created(req, "Invoice", 200)
                })
                .on(Post, "/invoice?", |req| {
                    let mut invoice = body(req);
                    invoice["Id"] = json!("300");
                    qbo_entity("Invoice", invoice)
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        let state = synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_eq!(report.records.len(), 31, "{:#?}", report.records);
        assert!(report.records.iter().all(|r| r.kind == Kind::Created));
        let writes: Vec<String> = platform
            .http
            .requests()
            .into_iter()
            .filter(|r| r.contains("/batch?") || r.contains("/invoice?") || r.contains("composite"))
            .map(|r| r.split('?').next().unwrap_or_default().to_string())
            .collect();
        let (batch, lone, write_back) = (
            format!("Post http://quickbooks/v3/company/{REALM}/batch"),
            format!("Post http://quickbooks/v3/company/{REALM}/invoice"),
            "Patch http://salesforce/services/data/v61.0/composite/sobjects".to_string(),
        );
        assert_eq!(writes, vec![batch, lone, write_back.clone(), write_back]);
        let written = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(written[0]["records"].as_array().unwrap().len(), 30);
        assert_eq!(written[1]["records"][0]["QBO_Invoice_Id__c"], "300");
        for n in [0, 30] {
            let link: InvoiceLink = state
                .get(LINKS, &invoice_key(&format!("006A000001Deal{n:03}")))
                .unwrap()
                .unwrap();
            assert!(!link.qbo_id.is_empty());
        }
    }

    #[test]
    fn an_invoice_created_before_a_crash_is_found_by_its_doc_number_and_updated_not_created_again()
    {
        // QBO made the invoice, but the run stopped before the link was stored.
        let made = json!({"Id": "130", "SyncToken": "0", "DocNumber": "SF-006A000001DealAAA",
            "TxnDate": "2026-02-27", "CustomerRef": {"value": "58"}, "TotalAmt": 1250.50,
            "Balance": 1250.50, "Line": []});
        let answer = made.clone();
        let platform = MemoryPlatform::routed(
            REALM,
            won_deal(opportunity(None))
                .on(
                    Get,
                    "select * from Invoice where DocNumber in ('SF-006A000001DealAAA')",
                    move |_| qbo_query("Invoice", json!([answer])),
                )
                .on(Post, "/invoice?", move |req| {
                    let mut invoice = made.clone();
                    invoice["SyncToken"] = json!("1");
                    invoice["Line"] = body(req)["Line"].clone();
                    qbo_entity("Invoice", invoice)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let state = synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Updated, Some("130"))],
        );
        assert_eq!(
            platform.http.count(Post, "requestid=ll-inv-"),
            0,
            "no create"
        );
        let updates = platform
            .http
            .bodies(Post, "/invoice?minorversion=75&requestid=ll-invu-");
        assert_eq!(updates.len(), 1, "{:#?}", platform.http.requests());
        assert_eq!(
            (
                &updates[0]["Id"],
                &updates[0]["SyncToken"],
                &updates[0]["sparse"]
            ),
            (&json!("130"), &json!("0"), &json!(true))
        );
        let link: InvoiceLink = state.get(LINKS, &invoice_key(OPP)).unwrap().unwrap();
        assert_eq!(link.qbo_id, "130");
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"][0]
                ["QBO_Invoice_Id__c"],
            "130"
        );
    }

    #[test]
    fn an_invoice_created_before_a_crash_and_paid_since_is_adopted_and_written_back_as_it_is() {
        // QBO made the invoice, the run stopped before the link was stored, and the customer
        // paid part of it before the next run.
        let paid = json!({"Id": "130", "SyncToken": "2", "DocNumber": "SF-006A000001DealAAA",
            "TxnDate": "2026-02-27", "CustomerRef": {"value": "58"}, "TotalAmt": 1250.50,
            "Balance": 250.50, "Line": []});
        let platform = MemoryPlatform::routed(
            REALM,
            won_deal(opportunity(None))
                .on(
                    Get,
                    "select * from Invoice where DocNumber in ('SF-006A000001DealAAA')",
                    move |_| qbo_query("Invoice", json!([paid])),
                )
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let state = synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Updated, Some("130"))],
        );
        assert_eq!(
            platform.http.count(Post, "/invoice?"),
            0,
            "no create, no update"
        );
        let written = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(written[0]["records"][0]["QBO_Invoice_Id__c"], "130");
        assert_eq!(
            written[0]["records"][0]["QBO_Invoice_Number__c"],
            "SF-006A000001DealAAA"
        );
        // Linked as current: the next run finds nothing to do, instead of failing for good.
        let link: InvoiceLink = state.get(LINKS, &invoice_key(OPP)).unwrap().unwrap();
        assert_eq!(link.qbo_id, "130");
        assert!(!link.hash.is_empty());
    }

    #[test]
    fn a_dry_run_plans_the_invoice_and_writes_nothing_anywhere() {
        let platform = MemoryPlatform::routed(
            REALM,
            won_deal(opportunity(None)).on(
                Get,
                "select * from Invoice where DocNumber in ('SF-006A000001DealAAA')",
                |_| qbo_query("Invoice", json!([])),
            ),
        );
        let state = synced_before(&platform);
        let report = run_job(
            &platform.platform(),
            "sync-invoices",
            r#"{"dry-run": true}"#,
        )
        .unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Opportunity", OPP, Kind::Created, Some("(new)"))],
            "{:#?}\n{:#?}",
            report.records,
            platform.http.requests()
        );
        // Only reads were scripted: a write (or a notification) would be listed here.
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert!(state
            .get::<InvoiceLink>(LINKS, &invoice_key(OPP))
            .unwrap()
            .is_none());
        assert_eq!(
            state.keys(crate::flows::state::CURSORS, "").unwrap(),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_deal_whose_account_waits_for_review_is_skipped_and_asked_for_again_once_it_is_linked() {
        use crate::flows::review_queue::{Review, PENDING};
        use crate::flows::state::REVIEW;
        use crate::flows::test_support::{codes, qbo_customer, sf_account};
        const ACME: &str = "001A000001AcmeAAA";
        // Acme's name and email domain fit two QBO customers; its products are linked.
        let directory = |routes: Routes| {
            routes
                .on(Get, "FROM Account WHERE Id", |_| {
                    soql(json!([sf_account(
                        ACME,
                        "Acme, Inc.",
                        Some("ops@acme.example"),
                        None
                    )]))
                })
                .on(Get, "select * from Customer", |_| {
                    qbo_query(
                        "Customer",
                        json!([
                            qbo_customer("58", "Acme Inc", Some("ap@acme.example")),
                            qbo_customer("61", "Acme LLC", Some("billing@acme.example")),
                        ]),
                    )
                })
                .on(Get, "select * from Vendor", |_| {
                    qbo_query("Vendor", json!([]))
                })
                .on(Get, "select * from Employee", |_| {
                    qbo_query("Employee", json!([]))
                })
        };
        let platform = MemoryPlatform::routed(
            REALM,
            directory(won_deal(opportunity(None)).on(
                Get,
                "select * from Invoice where DocNumber in ('SF-006A000001DealAAA')",
                |_| qbo_query("Invoice", json!([])),
            )),
        );
        let state = State::new(&platform.kv);
        for (product, item) in [("01tA00000WidgetP", "31"), ("01tA00000GadgetX", "12")] {
            state.put(LINKS, &product_key(product), &item).unwrap();
        }
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_eq!(
            codes(&report),
            vec![
                (PENDING, "Account", ACME, Kind::Skipped),
                (PENDING, "Opportunity", OPP, Kind::Skipped)
            ],
            "{:#?}\n{:#?}",
            report.records,
            platform.http.requests()
        );
        assert!(report.records[1]
            .detail
            .contains("account 001A000001AcmeAAA is pending review"));
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(platform.http.count(Post, ""), 0, "no customer, no invoice");
        assert_eq!(platform.http.count(Patch, ""), 0);
        let queued: Review = state.get(REVIEW, ACME).unwrap().unwrap();
        assert_eq!(queued.waiting.iter().collect::<Vec<_>>(), vec![OPP]);

        // Linked to 61 by a person, then by the account run: the deal is asked for again.
        let platform = platform.rerouted(directory(
            Routes::new()
                .on(Get, "/customer/61", |_| {
                    qbo_entity(
                        "Customer",
                        qbo_customer("61", "Acme LLC", Some("billing@acme.example")),
                    )
                })
                .on(Get, "FROM Account ORDER BY", |_| soql(json!([])))
                .on(Post, "/customer?", |req| {
                    let mut c = body(req);
                    c["SyncToken"] = json!("1");
                    qbo_entity("Customer", c)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        ));
        let decision = r#"{"action": "link", "account": "001A000001AcmeAAA", "customer": "61"}"#;
        run_job(&platform.platform(), "review", decision).unwrap();
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Account", ACME, Kind::Updated, Some("61"))],
        );
        let asked: Vec<(String, String)> = platform
            .schedule
            .0
            .borrow()
            .iter()
            .map(|(job, args, _)| (job.clone(), args.clone()))
            .collect();
        assert_eq!(
            asked,
            vec![
                (
                    "sync-accounts".to_string(),
                    r#"{"only":["Account:001A000001AcmeAAA"]}"#.to_string()
                ),
                (
                    "sync-invoices".to_string(),
                    r#"{"only":["Opportunity:006A000001DealAAA"]}"#.to_string()
                ),
            ]
        );
    }
}
