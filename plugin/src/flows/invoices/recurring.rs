//! Subscriptions: a Closed Won opportunity's subscription lines (a line whose billing frequency
//! is set, on the line or its product) go to a QBO RecurringTransaction holding an Invoice
//! template; its one-time lines are invoiced as usual (by the rest of this flow). The template
//! is planned exactly as the invoice would be (customer, items, currency, terms, class, tax),
//! each line at its price per billing period, without a DocNumber or dates of its own (each
//! generated invoice has its own).
//!
//! Never a second template: the link (`subscription/{Opportunity Id}`) is checked first; an
//! opportunity without one is looked up in QBO by the template's Name, which ends with the
//! Opportunity Id (a crash after the create but before the link was stored is recovered here);
//! the create carries a `requestid` derived from the opportunity and the template's content.
//! A change of the subscription lines replaces the template's lines (a sparse update after
//! reading its SyncToken); invoices QBO already generated are not touched. A cancelled
//! subscription's template is deactivated, once.
//!
//! The invoices QBO generates from a template (`RecurDataRef`) come back through the QBO poll
//! and webhooks to [`from_template`]: each is linked to the opportunity, gets a period record
//! (one per invoice, upserted by its invoice id) and the opportunity's summed figures are
//! written through `settlement`.

use super::plan::Planned;
use super::{plan, Resolvers};
use crate::clients::json::{decimal, display_money, number, text};
use crate::clients::quickbooks_json::{
    invoice_view, recurring_source, recurring_view, RecurringView,
};
use crate::clients::salesforce_fields::{
    INVOICE_AMOUNT, INVOICE_DATE, QBO_INVOICE_ID, QBO_INVOICE_NUMBER, QBO_RECURRING_ID,
    SUBSCRIPTION_INVOICE,
};
use crate::clients::salesforce_json::{at_path, child_records};
use crate::clients::ApiError;
use crate::flows::context::{Abort, Ctx};
use crate::flows::ids::{content_hash, write_request_id};
use crate::flows::links::{self, Owner, SubscriptionInvoice, SubscriptionLink};
use crate::flows::report::Failure;
use crate::flows::salesforce_io::write_back;
use crate::flows::settings::SubscriptionSettings;
use crate::flows::settlement::{self, period_fields, Pending};
use crate::model::SfOpportunity;
use chrono::NaiveDate;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// The most characters of a template's `RecurringInfo.Name` (QBO's limit).
const NAME_MAX: usize = 100;

/// The Opportunity fields the subscriptions read besides the invoice's.
pub(super) fn opportunity_fields(s: &SubscriptionSettings) -> Vec<String> {
    match &s.frequency_field {
        Some(_) => vec![s.cancel_field.clone(), QBO_RECURRING_ID.to_string()],
        None => Vec::new(),
    }
}

/// The line item fields the subscriptions read: frequency and term, the line's and its
/// product's.
pub(super) fn line_fields(s: &SubscriptionSettings) -> Vec<String> {
    let Some(frequency) = &s.frequency_field else {
        return Vec::new();
    };
    vec![
        frequency.clone(),
        s.term_field.clone(),
        format!("Product2.{frequency}"),
        format!("Product2.{}", s.term_field),
    ]
}

/// QBO's `ScheduleInfo.IntervalType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Interval {
    Weekly,
    Monthly,
    Yearly,
}

impl Interval {
    fn qbo(self) -> &'static str {
        match self {
            Self::Weekly => "Weekly",
            Self::Monthly => "Monthly",
            Self::Yearly => "Yearly",
        }
    }
}

/// A billing frequency's interval: `Quarterly` is every 3 months.
fn frequency(value: &str) -> Option<(Interval, u32)> {
    let v: String = value
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '_'))
        .collect::<String>()
        .to_ascii_lowercase();
    Some(match v.as_str() {
        "monthly" => (Interval::Monthly, 1),
        "quarterly" => (Interval::Monthly, 3),
        "semiannual" => (Interval::Monthly, 6),
        "annual" | "yearly" => (Interval::Yearly, 1),
        "weekly" => (Interval::Weekly, 1),
        _ => return None,
    })
}

/// How often a template makes an invoice, from when, and how many times.
#[derive(Clone, Debug, PartialEq)]
struct Schedule {
    interval: Interval,
    every: u32,
    start: NaiveDate,
    max_occurrences: Option<u32>,
}

/// Invoices in a term of `months`: the months over the interval's months, rounded up; weekly,
/// the term's weeks (52 a year), rounded up.
fn occurrences(interval: Interval, every: u32, months: Decimal) -> Option<u32> {
    let per_month = match interval {
        Interval::Monthly => Decimal::from(every),
        Interval::Yearly => Decimal::from(12 * every),
        Interval::Weekly => Decimal::from(12 * every) / Decimal::from(52),
    };
    (months / per_month).ceil().to_u32()
}

/// A line's value of `field`: the line's own, else its product's.
fn line_value<'a>(line: &'a Value, field: &str) -> Option<&'a Value> {
    at_path(line, field)
        .filter(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()))
        .or_else(|| at_path(line, &format!("Product2.{field}")))
        .filter(|v| v.as_str().is_none_or(|s| !s.trim().is_empty()))
}

/// An opportunity's subscription: its subscription lines as an opportunity of their own, and
/// their schedule.
struct Subscription {
    opportunity: SfOpportunity,
    schedule: Schedule,
}

/// Splits `o` (read as `row`) into its subscription lines and the rest: `Ok(None)` without
/// subscription lines, `Err` naming the line and field that says something else.
fn split(
    s: &SubscriptionSettings,
    o: &SfOpportunity,
    row: &Value,
) -> Result<Option<(Subscription, SfOpportunity)>, String> {
    let Some(field) = &s.frequency_field else {
        return Ok(None);
    };
    let mut sub_lines = Vec::new();
    let mut rest = Vec::new();
    let mut schedule: Option<(Interval, u32, Option<Decimal>, String)> = None;
    for line in &o.line_items {
        let raw = child_records(row, "OpportunityLineItems")
            .find(|l| text(l, "Id").as_deref() == Some(line.id.as_str()));
        let Some(value) = raw.and_then(|r| line_value(r, field)) else {
            rest.push(line.clone());
            continue;
        };
        let named = value
            .as_str()
            .map(str::to_string)
            .unwrap_or(value.to_string());
        let Some((interval, every)) = frequency(&named) else {
            return Err(format!(
                "Opportunity {}: line {}: {field} {named:?} is not a billing frequency \
                 (Monthly, Quarterly, Semiannual, Annual or Weekly)",
                o.id, line.id
            ));
        };
        let term_field = &s.term_field;
        let term = match raw.and_then(|r| line_value(r, term_field)) {
            None => None,
            Some(v) => match decimal(v).filter(|t| *t > Decimal::ZERO) {
                Some(t) => Some(t),
                None => {
                    return Err(format!(
                        "Opportunity {}: line {}: {term_field} {v} is not a number of months",
                        o.id, line.id
                    ))
                }
            },
        };
        match &schedule {
            None => schedule = Some((interval, every, term, named)),
            Some((i, e, _, first)) if (*i, *e) != (interval, every) => {
                return Err(format!(
                    "Opportunity {}: line {}: {field} {named:?} differs from the other \
                     subscription lines' {first:?}; one template bills at one frequency",
                    o.id, line.id
                ))
            }
            Some((_, _, t, _)) if *t != term => {
                return Err(format!(
                    "Opportunity {}: line {}: {term_field} differs from the other subscription \
                     lines'; one template has one term",
                    o.id, line.id
                ))
            }
            Some(_) => {}
        }
        sub_lines.push(line.clone());
    }
    let Some((interval, every, term, _)) = schedule else {
        return Ok(None);
    };
    let start = sub_lines
        .iter()
        .filter_map(|l| l.service_date)
        .min()
        .unwrap_or(o.close_date);
    let subscription = Subscription {
        opportunity: SfOpportunity {
            line_items: sub_lines,
            // The Amount covers the deal, not one period of its subscription lines.
            amount: None,
            ..o.clone()
        },
        schedule: Schedule {
            interval,
            every,
            start,
            max_occurrences: term.and_then(|t| occurrences(interval, every, t)),
        },
    };
    let one_time = SfOpportunity {
        line_items: rest,
        amount: None,
        ..o.clone()
    };
    Ok(Some((subscription, one_time)))
}

/// The subscriptions of a page of opportunities: each opportunity with subscription lines gets
/// (or keeps) its template; what is returned is what is left to invoice (the one-time lines of
/// those with some, every other opportunity as it is).
pub(super) fn subscriptions<'a>(
    ctx: &mut Ctx<'_>,
    resolvers: &mut Resolvers,
    opportunities: Vec<SfOpportunity>,
    rows: Vec<&'a Value>,
) -> Result<(Vec<SfOpportunity>, Vec<&'a Value>), Abort> {
    let settings = ctx.settings.subscriptions.clone();
    let mut kept = (Vec::new(), Vec::new());
    let mut templates: Option<Vec<RecurringView>> = None;
    for (o, row) in opportunities.into_iter().zip(rows) {
        if !ctx.wanted(&o.id) {
            kept.0.push(o);
            kept.1.push(row);
            continue;
        }
        let (subscription, one_time) = match split(&settings, &o, row) {
            Ok(Some(found)) => found,
            Ok(None) => {
                kept.0.push(o);
                kept.1.push(row);
                continue;
            }
            Err(why) => {
                ctx.report
                    .failed("Opportunity", &o.id, Failure::Invalid(why));
                continue;
            }
        };
        let cancelled = at_path(row, &settings.cancel_field).and_then(Value::as_bool) == Some(true);
        let planned = template(
            ctx,
            resolvers,
            &subscription,
            row,
            cancelled,
            &mut templates,
        )?;
        // A template that could not be planned failed the opportunity (reported once); its
        // one-time lines wait for the same fix.
        if planned && !one_time.line_items.is_empty() {
            kept.0.push(one_time);
            kept.1.push(row);
        }
    }
    Ok(kept)
}

/// The template's `RecurringInfo.Name`: the opportunity's name and Id, at most [`NAME_MAX`]
/// characters (the Id is always whole: it makes the name unique and finds it again).
fn template_name(o: &SfOpportunity) -> String {
    let tail = format!(" ({})", o.id);
    let room = NAME_MAX.saturating_sub(tail.chars().count());
    let name: String = o.name.trim().chars().take(room).collect();
    format!("{}{tail}", name.trim_end())
}

/// The template's invoice and `RecurringInfo` from the planned invoice.
fn template_body(planned: &Planned, name: &str, schedule: &Schedule, days_before: u32) -> Value {
    let mut body = planned.body.clone();
    if let Some(obj) = body.as_object_mut() {
        // Each generated invoice gets its own number and dates.
        for key in ["DocNumber", "TxnDate", "DueDate"] {
            obj.remove(key);
        }
        let mut info = json!({
            "IntervalType": schedule.interval.qbo(),
            "NumInterval": schedule.every,
            "StartDate": schedule.start.to_string(),
            "DaysBefore": days_before,
        });
        if let Some(max) = schedule.max_occurrences {
            info["MaxOccurrences"] = json!(max);
        }
        obj.insert(
            "RecurringInfo".into(),
            json!({"Name": name, "RecurType": "Automated", "Active": true, "ScheduleInfo": info}),
        );
    }
    body
}

/// Creates, recovers, amends or deactivates the template of one subscription; false when it
/// could not be planned (the failure is reported).
fn template(
    ctx: &mut Ctx<'_>,
    resolvers: &mut Resolvers,
    sub: &Subscription,
    row: &Value,
    cancelled: bool,
    templates: &mut Option<Vec<RecurringView>>,
) -> Result<bool, Abort> {
    let o = &sub.opportunity;
    let link = links::subscription_link(ctx, &o.id)?;
    let written = text(row, QBO_RECURRING_ID);
    if cancelled {
        match link {
            Some(l) if l.cancelled => ctx.report.skipped(
                "Opportunity",
                &o.id,
                Some(&l.template_id),
                "subscription cancelled; its recurring template is inactive",
            ),
            Some(l) => deactivate(ctx, o, l)?,
            None => ctx.report.skipped(
                "Opportunity",
                &o.id,
                None,
                "subscription cancelled before its recurring template was made; none made",
            ),
        }
        return Ok(true);
    }
    if let Some(l) = link.as_ref().filter(|l| l.cancelled) {
        ctx.report.skipped(
            "Opportunity",
            &o.id,
            Some(&l.template_id),
            "subscription cancelled; its recurring template stays inactive",
        );
        return Ok(true);
    }
    let Some(planned) = plan(ctx, resolvers, o, row)? else {
        return Ok(false);
    };
    let name = link
        .as_ref()
        .map(|l| l.name.clone())
        .unwrap_or_else(|| template_name(o));
    let body = template_body(
        &planned,
        &name,
        &sub.schedule,
        ctx.settings.subscriptions.days_before,
    );
    let hash = content_hash(&body);
    match link {
        Some(l) if l.hash == hash => {
            if written.as_deref() != Some(l.template_id.as_str()) {
                write_back(
                    ctx,
                    "Opportunity",
                    &[recurring_field(&o.id, &l.template_id)],
                );
                ctx.report.updated(
                    "Opportunity",
                    &o.id,
                    &l.template_id,
                    "recurring template id written back (missing in Salesforce)",
                );
            } else {
                ctx.report.skipped(
                    "Opportunity",
                    &o.id,
                    Some(&l.template_id),
                    "subscription unchanged",
                );
            }
        }
        Some(l) => amend(ctx, o, l, None, body, hash, written.as_deref())?,
        None => {
            if templates.is_none() {
                let found = match ctx.qbo.query("select * from RecurringTransaction") {
                    Ok(rows) => rows.iter().filter_map(recurring_view).collect(),
                    Err(e) => return fail(ctx, &o.id, e).map(|()| true),
                };
                *templates = Some(found);
            }
            let tail = format!("({})", o.id);
            let existing = templates.iter().flatten().find(|t| {
                t.kind == "Invoice" && t.name.as_deref().is_some_and(|n| n.ends_with(&tail))
            });
            match existing.cloned() {
                Some(existing) => {
                    // Made before a crash: adopt it, then bring it up to date.
                    let l = SubscriptionLink {
                        template_id: existing.id.clone(),
                        name: existing.name.clone().unwrap_or(name),
                        hash: String::new(),
                        cancelled: false,
                    };
                    links::store_subscription_link(ctx, &o.id, &l)?;
                    let body = template_body(
                        &planned,
                        &l.name,
                        &sub.schedule,
                        ctx.settings.subscriptions.days_before,
                    );
                    let hash = content_hash(&body);
                    amend(ctx, o, l, Some(existing), body, hash, written.as_deref())?;
                }
                None => create(ctx, o, &name, body, hash)?,
            }
        }
    }
    Ok(true)
}

/// The Opportunity's recurring template id, as one sObject Collections record.
fn recurring_field(opportunity_id: &str, template_id: &str) -> Value {
    json!({"Id": opportunity_id, QBO_RECURRING_ID: template_id})
}

/// Reports a failed request on the opportunity; a throttle ends the run (it is rescheduled).
fn fail(ctx: &mut Ctx<'_>, opportunity_id: &str, e: ApiError) -> Result<(), Abort> {
    ctx.report
        .failed("Opportunity", opportunity_id, e.clone().into());
    match e {
        ApiError::Throttled { .. } => Err(Abort(Failure::Api(e))),
        _ => Ok(()),
    }
}

/// The per-period total of a template.
fn period_total(body: &Value) -> Decimal {
    body.get("Line")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.get("Amount").and_then(decimal))
        .sum()
}

fn create(
    ctx: &mut Ctx<'_>,
    o: &SfOpportunity,
    name: &str,
    body: Value,
    hash: String,
) -> Result<(), Abort> {
    let total = display_money(period_total(&body));
    if ctx.dry_run() {
        ctx.report.created(
            "Opportunity",
            &o.id,
            "(new)",
            format!("would create recurring template {name:?} of {total} a period"),
        );
        return Ok(());
    }
    let request_id = write_request_id("rec", &[&o.id, &hash]);
    let answer = match ctx.qbo.create(
        "RecurringTransaction",
        &json!({"Invoice": body}),
        &request_id,
    ) {
        Ok(answer) => answer,
        Err(e) => return fail(ctx, &o.id, e),
    };
    let Some(made) = recurring_view(&answer) else {
        ctx.report.failed(
            "Opportunity",
            &o.id,
            Failure::Api(ApiError::Decode(
                "the created recurring template has no Id".into(),
            )),
        );
        return Ok(());
    };
    links::store_subscription_link(
        ctx,
        &o.id,
        &SubscriptionLink {
            template_id: made.id.clone(),
            name: name.to_string(),
            hash,
            cancelled: false,
        },
    )?;
    ctx.report.created(
        "Opportunity",
        &o.id,
        &made.id,
        format!("recurring template {name:?} of {total} a period"),
    );
    write_back(ctx, "Opportunity", &[recurring_field(&o.id, &made.id)]);
    Ok(())
}

/// Reads template `id` (for its SyncToken); `None` when it failed or is gone (reported).
fn read_template(
    ctx: &mut Ctx<'_>,
    opportunity_id: &str,
    id: &str,
) -> Result<Option<RecurringView>, Abort> {
    match ctx.qbo.read("RecurringTransaction", id) {
        Ok(Some(v)) => {
            if let Some(view) = recurring_view(&v) {
                return Ok(Some(view));
            }
        }
        Ok(None) => {}
        Err(e) => {
            fail(ctx, opportunity_id, e)?;
            return Ok(None);
        }
    }
    ctx.report.failed(
        "Opportunity",
        opportunity_id,
        Failure::Invalid(format!(
            "linked recurring template {id} no longer exists in QBO"
        )),
    );
    Ok(None)
}

/// Replaces the template's lines (and what else of the invoice changed) by a sparse update;
/// the schedule's start stays as QBO has it.
fn amend(
    ctx: &mut Ctx<'_>,
    o: &SfOpportunity,
    link: SubscriptionLink,
    current: Option<RecurringView>,
    body: Value,
    hash: String,
    written: Option<&str>,
) -> Result<(), Abort> {
    if ctx.dry_run() {
        ctx.report.updated(
            "Opportunity",
            &o.id,
            &link.template_id,
            "would replace the recurring template's lines",
        );
        return Ok(());
    }
    let current = match current {
        Some(c) => c,
        None => match read_template(ctx, &o.id, &link.template_id)? {
            Some(c) => c,
            None => return Ok(()),
        },
    };
    let mut update = body;
    if let Some(obj) = update.as_object_mut() {
        obj.insert("Id".into(), json!(current.id));
        obj.insert("SyncToken".into(), json!(current.sync_token));
        obj.insert("sparse".into(), json!(true));
        if let Some(start) = current
            .recurring_info
            .get("ScheduleInfo")
            .and_then(|s| s.get("StartDate"))
        {
            obj["RecurringInfo"]["ScheduleInfo"]["StartDate"] = start.clone();
        }
    }
    let request_id = write_request_id("recu", &[&o.id, &content_hash(&update)]);
    let answer = match ctx.qbo.update(
        "RecurringTransaction",
        &json!({"Invoice": update}),
        &request_id,
    ) {
        Ok(answer) => answer,
        Err(e) => return fail(ctx, &o.id, e),
    };
    let id = recurring_view(&answer).map_or(current.id, |v| v.id);
    let total = display_money(period_total(&update));
    links::store_subscription_link(
        ctx,
        &o.id,
        &SubscriptionLink {
            template_id: id.clone(),
            hash,
            ..link.clone()
        },
    )?;
    ctx.report.updated(
        "Opportunity",
        &o.id,
        &id,
        format!(
            "recurring template {:?} updated: its lines now bill {total} a period",
            link.name
        ),
    );
    if written != Some(id.as_str()) {
        write_back(ctx, "Opportunity", &[recurring_field(&o.id, &id)]);
    }
    Ok(())
}

/// Deactivates the template of a cancelled subscription (a sparse update of its
/// `RecurringInfo`).
fn deactivate(ctx: &mut Ctx<'_>, o: &SfOpportunity, link: SubscriptionLink) -> Result<(), Abort> {
    if ctx.dry_run() {
        ctx.report.updated(
            "Opportunity",
            &o.id,
            &link.template_id,
            "would deactivate the recurring template (subscription cancelled)",
        );
        return Ok(());
    }
    let Some(current) = read_template(ctx, &o.id, &link.template_id)? else {
        return Ok(());
    };
    if current.active {
        let mut info = current.recurring_info.clone();
        info["Active"] = json!(false);
        let update = json!({"Invoice": {"Id": current.id, "SyncToken": current.sync_token,
            "sparse": true, "RecurringInfo": info}});
        let request_id = write_request_id("recx", &[&o.id, &link.template_id]);
        if let Err(e) = ctx.qbo.update("RecurringTransaction", &update, &request_id) {
            return fail(ctx, &o.id, e);
        }
    }
    links::store_subscription_link(
        ctx,
        &o.id,
        &SubscriptionLink {
            cancelled: true,
            ..link.clone()
        },
    )?;
    ctx.report.updated(
        "Opportunity",
        &o.id,
        &link.template_id,
        format!(
            "subscription cancelled: recurring template {:?} deactivated (invoices already made stand)",
            link.name
        ),
    );
    Ok(())
}

/// An invoice QBO generated from one of the subscriptions' templates: linked to its
/// opportunity, its period record upserted and the opportunity's figures (over all of its
/// invoices) written. False when `value` is not such an invoice (another flow handles it).
pub fn from_template(ctx: &mut Ctx<'_>, value: &Value) -> Result<bool, Abort> {
    let Some(template_id) = recurring_source(value) else {
        return Ok(false);
    };
    let Some(inv) = invoice_view(value) else {
        return Ok(false);
    };
    let Some(opportunity_id) = links::opportunity_of_template(ctx, &template_id)? else {
        // A template made in QBO, not from a subscription.
        return Ok(false);
    };
    let owner = Owner::opportunity(&opportunity_id);
    let mut figures = match settlement::figures(ctx, &owner, &inv.id, &Pending::default()) {
        Ok(f) => f,
        Err(failure) => {
            ctx.report.failed("Invoice", &inv.id, failure);
            return Ok(true);
        }
    };
    let Some(period) = figures.invoice(&inv.id) else {
        return Ok(true);
    };
    let mut record = period_fields(&inv.id, &opportunity_id, &period);
    record["Name"] = json!(inv.doc_number.clone().unwrap_or(inv.id.clone()));
    record[QBO_INVOICE_NUMBER] = json!(inv.doc_number);
    record[INVOICE_DATE] = json!(inv.txn_date.map(|d| d.to_string()));
    record[INVOICE_AMOUNT] = number(inv.total_amt);
    let hash = content_hash(&record);
    let known = links::subscription_invoice(ctx, &inv.id)?;
    let owned = links::invoice_owner(ctx, &inv.id)?.as_ref() == Some(&owner);
    if owned && known.as_ref().is_some_and(|k| k.hash == hash) {
        ctx.report.skipped(
            "Invoice",
            &inv.id,
            Some(&opportunity_id),
            "subscription invoice unchanged",
        );
        return Ok(true);
    }
    if ctx.dry_run() {
        ctx.report.updated(
            "Invoice",
            &inv.id,
            &opportunity_id,
            "would write the subscription invoice's period record and the opportunity's figures",
        );
        return Ok(true);
    }
    if let Some(fields) = record.as_object_mut() {
        fields.remove(QBO_INVOICE_ID);
    }
    let (period_id, created) =
        match ctx
            .sf
            .upsert(SUBSCRIPTION_INVOICE, QBO_INVOICE_ID, &inv.id, &record)
        {
            Ok(done) => done,
            Err(e) => {
                ctx.report.failed(
                    "Invoice",
                    &inv.id,
                    Failure::Related(format!("{SUBSCRIPTION_INVOICE} of invoice {}", inv.id), e),
                );
                return Ok(true);
            }
        };
    // The period record was written whole just now.
    figures.periods.clear();
    if let Some(Err(e)) = settlement::write(ctx, std::slice::from_ref(&figures)).pop() {
        ctx.report
            .failed("Invoice", &inv.id, Failure::Related(owner.to_string(), e));
        return Ok(true);
    }
    links::store_invoice_owner(ctx, &inv.id, &owner)?;
    links::store_subscription_invoice(
        ctx,
        &inv.id,
        &SubscriptionInvoice {
            opportunity_id: opportunity_id.clone(),
            hash,
        },
    )?;
    let detail = format!(
        "invoice {} ({}) generated from recurring template {template_id}: period record {period_id} {}, the opportunity's invoices now total {}",
        inv.doc_number.clone().unwrap_or(inv.id.clone()),
        display_money(inv.total_amt),
        if created { "created" } else { "updated" },
        display_money(figures.settlement.invoiced),
    );
    if known.is_none() {
        ctx.report
            .created("Invoice", &inv.id, &opportunity_id, detail);
    } else {
        ctx.report
            .updated("Invoice", &inv.id, &opportunity_id, detail);
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    #[test]
    fn frequencies_are_read_without_case_or_dashes() {
        assert_eq!(frequency("Monthly"), Some((Interval::Monthly, 1)));
        assert_eq!(frequency("quarterly"), Some((Interval::Monthly, 3)));
        assert_eq!(frequency("Semi-Annual"), Some((Interval::Monthly, 6)));
        assert_eq!(frequency("Semiannual"), Some((Interval::Monthly, 6)));
        assert_eq!(frequency("Annual"), Some((Interval::Yearly, 1)));
        assert_eq!(frequency("Yearly"), Some((Interval::Yearly, 1)));
        assert_eq!(frequency("Weekly"), Some((Interval::Weekly, 1)));
        assert_eq!(frequency("Fortnightly"), None);
    }

    #[test]
    fn occurrences_cover_the_term_rounded_up() {
        assert_eq!(occurrences(Interval::Monthly, 1, dec!(12)), Some(12));
        assert_eq!(occurrences(Interval::Monthly, 3, dec!(12)), Some(4));
        assert_eq!(occurrences(Interval::Monthly, 3, dec!(13)), Some(5));
        assert_eq!(occurrences(Interval::Monthly, 6, dec!(12.5)), Some(3));
        assert_eq!(occurrences(Interval::Yearly, 1, dec!(36)), Some(3));
        assert_eq!(occurrences(Interval::Yearly, 1, dec!(18)), Some(2));
        assert_eq!(occurrences(Interval::Weekly, 1, dec!(12)), Some(52));
        assert_eq!(occurrences(Interval::Weekly, 1, dec!(1)), Some(5));
    }

    #[test]
    fn a_template_name_keeps_the_whole_id_within_100_characters() {
        let o = SfOpportunity {
            id: "006A000001DealAAA".into(),
            name: "x".repeat(200),
            account_id: None,
            stage_name: "Closed Won".into(),
            close_date: NaiveDate::from_ymd_opt(2026, 3, 1).unwrap(),
            amount: None,
            is_won: true,
            is_closed: true,
            currency_code: None,
            description: None,
            qbo_invoice_id: None,
            system_modstamp: None,
            line_items: Vec::new(),
        };
        let name = template_name(&o);
        assert_eq!(name.chars().count(), 100);
        assert!(name.ends_with(" (006A000001DealAAA)"));
        let short = SfOpportunity {
            name: "Acme - support".into(),
            ..o
        };
        assert_eq!(template_name(&short), "Acme - support (006A000001DealAAA)");
    }
}

/// The flow over the in-memory platform: what is sent to QBO and Salesforce.
#[cfg(test)]
mod flow_tests {
    use crate::clients::json::decimal;
    use crate::flows::links::{account_key, product_key, AccountLink, SubscriptionLink};
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{
        assert_run, body, qbo_entity, qbo_query, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{json as answer, MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const OPP: &str = "006A000001SubsAAA";
    const NAME: &str = "Acme - support (006A000001SubsAAA)";

    /// A line as the REST API nests it; `frequency` and `term` on the line, the product's
    /// `product_frequency`.
    fn line(
        id: &str,
        product: &str,
        qty: u32,
        price: f64,
        frequency: Option<&str>,
        term: Option<u32>,
        product_frequency: Option<&str>,
    ) -> Value {
        json!({"attributes": {"type": "OpportunityLineItem"}, "Id": id, "Product2Id": product,
            "ProductCode": null, "Name": "line", "Description": null, "Quantity": qty,
            "UnitPrice": price, "TotalPrice": f64::from(qty) * price, "Discount": null,
            "ServiceDate": if frequency.is_some() || product_frequency.is_some() { json!("2026-03-01") } else { Value::Null },
            "SortOrder": null, "Billing_Frequency__c": frequency, "Subscription_Term__c": term,
            "Product2": {"Family": null, "Billing_Frequency__c": product_frequency,
                "Subscription_Term__c": null}})
    }

    /// A Closed Won deal with `lines`.
    fn deal(lines: Vec<Value>, cancelled: bool, recurring: Option<&str>) -> Value {
        json!({"attributes": {"type": "Opportunity"}, "Id": OPP, "Name": "Acme - support",
            "AccountId": "001A000001AcmeAAA", "StageName": "Closed Won", "CloseDate": "2026-02-27",
            "Amount": 4552.20, "IsWon": true, "IsClosed": true, "Description": null,
            "QBO_Invoice_Id__c": null, "QBO_Invoice_Number__c": null,
            "Payment_Status__c": null, "SystemModstamp": "2026-02-27T18:00:00.000+0000",
            "Subscription_Cancelled__c": cancelled, "QBO_Recurring_Id__c": recurring,
            "Account": {"Email__c": "ap@acme.example", "Payment_Terms__c": null, "Tax_Exempt__c": false},
            "Owner": {"Name": "Ada Lovelace"}, "OpportunityContactRoles": null,
            "OpportunityLineItems": {"totalSize": lines.len(), "done": true, "records": lines}})
    }

    /// 2 seats of support at 150.25 a quarter, for a year.
    fn support(qty: u32) -> Value {
        line(
            "00kA0000001LineS",
            "01tA00000WidgetP",
            qty,
            150.25,
            Some("Quarterly"),
            Some(12),
            None,
        )
    }

    fn won(opportunity: Value) -> Routes {
        Routes::new()
            .json(
                Get,
                "/sobjects/Opportunity/describe",
                200,
                json!({"name": "Opportunity", "fields": [{"name": "Id"}]}),
            )
            .on(Get, "FROM Opportunity WHERE IsWon = true", move |_| {
                soql(json!([opportunity]))
            })
    }

    /// QBO's answer holding a recurring invoice template.
    fn recurring(template: Value) -> crate::platform::HttpResponse {
        qbo_entity("RecurringTransaction", json!({"Invoice": template}))
    }

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

    /// Each line as (item, qty, unit price, amount).
    fn lines(invoice: &Value) -> Vec<(String, Decimal, Decimal, Decimal)> {
        invoice["Line"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let d = &l["SalesItemLineDetail"];
                (
                    d["ItemRef"]["value"].as_str().unwrap().to_string(),
                    decimal(&d["Qty"]).unwrap(),
                    decimal(&d["UnitPrice"]).unwrap(),
                    decimal(&l["Amount"]).unwrap(),
                )
            })
            .collect()
    }

    /// A subscription's template as QBO made it from `sent` (Id T9).
    fn made(sent: &Value, sync_token: &str) -> Value {
        let mut t = sent["Invoice"].clone();
        t["Id"] = json!("T9");
        t["SyncToken"] = json!(sync_token);
        t["RecurringInfo"]["ScheduleInfo"]["NextDate"] = json!("2026-03-01");
        t
    }

    /// A tenant with subscriptions on (they are off unless asked for).
    fn subscribed(mut platform: MemoryPlatform) -> MemoryPlatform {
        platform
            .settings
            .0
            .insert("subscriptions".into(), "on".into());
        platform
    }

    /// The first run: the template is created; returns the platform and what was sent.
    fn created() -> (MemoryPlatform, Value) {
        let platform = subscribed(MemoryPlatform::routed(
            REALM,
            won(deal(vec![support(2)], false, None))
                .on(Get, "select * from RecurringTransaction", |_| {
                    qbo_query("RecurringTransaction", json!([]))
                })
                .on(Post, "/recurringtransaction?", |req| {
                    recurring(made(&body(req), "0"))
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        ));
        synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Created, Some("T9"))],
        );
        let sent = platform.http.bodies(
            Post,
            "/recurringtransaction?minorversion=75&requestid=ll-rec-",
        );
        assert_eq!(sent.len(), 1, "{:#?}", platform.http.requests());
        let sent = sent[0].clone();
        (platform, sent)
    }

    #[test]
    fn a_subscription_becomes_one_recurring_template_written_back_and_a_rerun_creates_none() {
        let (platform, sent) = created();
        let template = &sent["Invoice"];
        assert_eq!(
            template["RecurringInfo"],
            json!({"Name": NAME, "RecurType": "Automated", "Active": true,
                "ScheduleInfo": {"IntervalType": "Monthly", "NumInterval": 3,
                    "StartDate": "2026-03-01", "MaxOccurrences": 4, "DaysBefore": 0}})
        );
        assert_eq!(template["CustomerRef"]["value"], "58");
        assert_eq!(template["BillEmail"]["Address"], "ap@acme.example");
        for own in ["DocNumber", "TxnDate", "DueDate"] {
            assert!(template.get(own).is_none(), "{own} in {template}");
        }
        assert_eq!(
            lines(template),
            vec![("31".into(), dec!(2), dec!(150.25), dec!(300.50))],
            "the price of one quarter"
        );
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"],
            json!([{"Id": OPP, "QBO_Recurring_Id__c": "T9",
                "attributes": {"type": "Opportunity"}}])
        );
        let state = State::new(&platform.kv);
        let link: SubscriptionLink = state
            .get(LINKS, "subscription/006A000001SubsAAA")
            .unwrap()
            .unwrap();
        assert_eq!(
            (link.template_id.as_str(), link.name.as_str()),
            ("T9", NAME)
        );
        assert_eq!(
            state
                .get::<String>(LINKS, "recurring/T9")
                .unwrap()
                .as_deref(),
            Some(OPP)
        );

        // Written back and unchanged: only the query is scripted.
        let platform = platform.rerouted(Routes::new().on(
            Get,
            "FROM Opportunity WHERE IsWon = true",
            |_| soql(json!([deal(vec![support(2)], false, Some("T9"))])),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Skipped, Some("T9"))],
        );
    }

    #[test]
    fn a_template_created_before_a_crash_is_found_by_its_name_not_created_again() {
        // QBO made the template, but the run stopped before the link was stored.
        let existing = json!({"Invoice": {"Id": "T9", "SyncToken": "2",
            "CustomerRef": {"value": "58"}, "Line": [],
            "RecurringInfo": {"Name": NAME, "RecurType": "Automated", "Active": true,
                "ScheduleInfo": {"IntervalType": "Monthly", "NumInterval": 3,
                    "StartDate": "2026-03-01", "MaxOccurrences": 4, "NextDate": "2026-03-01"}}}});
        let other = json!({"Invoice": {"Id": "T3", "SyncToken": "0",
            "RecurringInfo": {"Name": "Rent (006A000001OtherAA)", "Active": true}}});
        let platform = subscribed(MemoryPlatform::routed(
            REALM,
            won(deal(vec![support(2)], false, None))
                .on(Get, "select * from RecurringTransaction", move |_| {
                    qbo_query("RecurringTransaction", json!([other, existing]))
                })
                .on(Post, "/recurringtransaction?", |req| {
                    recurring(made(&body(req), "3"))
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        ));
        let state = synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Updated, Some("T9"))],
        );
        assert_eq!(
            platform.http.count(Post, "requestid=ll-rec-"),
            0,
            "no create"
        );
        let updates = platform.http.bodies(Post, "requestid=ll-recu-");
        assert_eq!(updates.len(), 1, "{:#?}", platform.http.requests());
        let update = &updates[0]["Invoice"];
        assert_eq!(
            (&update["Id"], &update["SyncToken"], &update["sparse"]),
            (&json!("T9"), &json!("2"), &json!(true))
        );
        let link = subscription_link_of(&state);
        assert_eq!(link.template_id, "T9");
        assert!(!link.hash.is_empty());
    }

    fn subscription_link_of(state: &State<'_>) -> SubscriptionLink {
        state
            .get(LINKS, "subscription/006A000001SubsAAA")
            .unwrap()
            .unwrap()
    }

    #[test]
    fn a_deal_with_one_time_and_subscription_lines_gets_one_invoice_and_one_template() {
        let gadget = line(
            "00kA0000001LineB",
            "01tA00000GadgetX",
            1,
            950.20,
            None,
            None,
            None,
        );
        let platform = subscribed(MemoryPlatform::routed(
            REALM,
            won(deal(vec![support(2), gadget], false, None))
                .on(Get, "select * from RecurringTransaction", |_| {
                    qbo_query("RecurringTransaction", json!([]))
                })
                .on(Post, "/recurringtransaction?", |req| {
                    recurring(made(&body(req), "0"))
                })
                .on(
                    Get,
                    "select * from Invoice where DocNumber in ('SF-006A000001SubsAAA')",
                    |_| qbo_query("Invoice", json!([])),
                )
                .on(Post, "/invoice?", |req| {
                    let mut invoice = body(req);
                    invoice["Id"] = json!("130");
                    invoice["SyncToken"] = json!("0");
                    invoice["TotalAmt"] = json!(950.20);
                    invoice["Balance"] = json!(950.20);
                    qbo_entity("Invoice", invoice)
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        ));
        synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Opportunity", OPP, Kind::Created, Some("T9")),
                ("Opportunity", OPP, Kind::Created, Some("130")),
            ],
        );
        let invoices = platform
            .http
            .bodies(Post, "/invoice?minorversion=75&requestid=");
        assert_eq!(invoices.len(), 1);
        assert_eq!(invoices[0]["DocNumber"], "SF-006A000001SubsAAA");
        assert_eq!(
            lines(&invoices[0]),
            vec![("12".into(), dec!(1), dec!(950.20), dec!(950.20))]
        );
        let templates = platform.http.bodies(Post, "/recurringtransaction?");
        assert_eq!(templates.len(), 1);
        assert_eq!(
            lines(&templates[0]["Invoice"]),
            vec![("31".into(), dec!(2), dec!(150.25), dec!(300.50))]
        );
    }

    #[test]
    fn a_changed_subscription_replaces_the_templates_lines_once() {
        let (platform, sent) = created();
        let current = made(&sent, "4");
        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "FROM Opportunity WHERE IsWon = true", |_| {
                    soql(json!([deal(vec![support(3)], false, Some("T9"))]))
                })
                .on(Get, "/recurringtransaction/T9?", move |_| {
                    recurring(current.clone())
                })
                .on(Post, "/recurringtransaction?", |req| {
                    recurring(made(&body(req), "5"))
                }),
        );
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Updated, Some("T9"))],
        );
        let updates = platform.http.bodies(Post, "/recurringtransaction?");
        assert_eq!(updates.len(), 1, "{:#?}", platform.http.requests());
        let update = &updates[0]["Invoice"];
        assert_eq!(
            (&update["Id"], &update["SyncToken"], &update["sparse"]),
            (&json!("T9"), &json!("4"), &json!(true))
        );
        assert_eq!(
            lines(update),
            vec![("31".into(), dec!(3), dec!(150.25), dec!(450.75))]
        );
        assert_eq!(
            update["RecurringInfo"]["ScheduleInfo"]["StartDate"],
            "2026-03-01"
        );
        assert_eq!(
            platform.http.count(Patch, ""),
            0,
            "the id was written back before"
        );

        // The same content again: nothing is sent.
        let platform = platform.rerouted(Routes::new().on(
            Get,
            "FROM Opportunity WHERE IsWon = true",
            |_| soql(json!([deal(vec![support(3)], false, Some("T9"))])),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Skipped, Some("T9"))],
        );
    }

    #[test]
    fn a_cancelled_subscription_deactivates_its_template_once() {
        let (platform, sent) = created();
        let current = made(&sent, "1");
        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "FROM Opportunity WHERE IsWon = true", |_| {
                    soql(json!([deal(vec![support(2)], true, Some("T9"))]))
                })
                .on(Get, "/recurringtransaction/T9?", move |_| {
                    recurring(current.clone())
                })
                .on(Post, "/recurringtransaction?", |req| {
                    let mut t = body(req)["Invoice"].clone();
                    t["SyncToken"] = json!("2");
                    recurring(t)
                }),
        );
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Updated, Some("T9"))],
        );
        let updates = platform.http.bodies(Post, "/recurringtransaction?");
        assert_eq!(updates.len(), 1);
        let update = &updates[0]["Invoice"];
        assert_eq!(
            (&update["Id"], &update["SyncToken"], &update["sparse"]),
            (&json!("T9"), &json!("1"), &json!(true))
        );
        assert_eq!(update["RecurringInfo"]["Active"], false);
        assert_eq!(update["RecurringInfo"]["Name"], NAME);
        assert!(update.get("Line").is_none(), "only RecurringInfo: {update}");
        assert!(subscription_link_of(&State::new(&platform.kv)).cancelled);

        // Cancelled already: nothing is read or sent.
        let platform = platform.rerouted(Routes::new().on(
            Get,
            "FROM Opportunity WHERE IsWon = true",
            |_| soql(json!([deal(vec![support(2)], true, Some("T9"))])),
        ));
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Skipped, Some("T9"))],
        );
    }

    #[test]
    fn an_unknown_frequency_fails_the_deal_naming_the_line_and_field() {
        let odd = line(
            "00kA0000001LineS",
            "01tA00000WidgetP",
            2,
            150.25,
            None,
            None,
            Some("Fortnightly"),
        );
        let platform = subscribed(MemoryPlatform::routed(
            REALM,
            won(deal(vec![odd], false, None)).json(
                Post,
                "http://notify/",
                200,
                json!({"ok": true}),
            ),
        ));
        synced_before(&platform);
        let report = run_job(&platform.platform(), "sync-invoices", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Opportunity", OPP, Kind::Failed, None)],
        );
        let detail = &report.records[0].detail;
        for named in [
            OPP,
            "00kA0000001LineS",
            "Billing_Frequency__c",
            "Fortnightly",
        ] {
            assert!(detail.contains(named), "{named} not in {detail}");
        }
        assert_eq!(platform.http.count(Post, "http://quickbooks/"), 0);
        assert_eq!(platform.http.count(Patch, ""), 0);
    }

    /// An invoice QBO generated from template T9.
    fn generated(id: &str, doc: &str, date: &str) -> Value {
        json!({"Id": id, "SyncToken": "0", "DocNumber": doc, "TxnDate": date,
            "CustomerRef": {"value": "58"}, "TotalAmt": 300.50, "Balance": 300.50,
            "RecurDataRef": {"value": "T9"}, "Line": []})
    }

    /// The subscription's template is linked and its first invoice (1041) was linked before;
    /// QBO generated the second (1042). Returns the platform after the second is linked.
    fn second_invoice_linked() -> MemoryPlatform {
        let invoices = || {
            qbo_query(
                "Invoice",
                json!([
                    generated("200", "1041", "2026-03-01"),
                    generated("201", "1042", "2026-06-01")
                ]),
            )
        };
        let platform = subscribed(MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "select * from Invoice where Id in", move |_| {
                    invoices()
                })
                .on(
                    Patch,
                    "/sobjects/Ledgerlink_Subscription_Invoice__c/QBO_Invoice_Id__c/201",
                    |_| {
                        answer(
                            201,
                            json!({"id": "a0SA0000000P2AAA", "success": true, "created": true}),
                        )
                    },
                )
                .on(Patch, "/composite/sobjects", sf_saved),
        ));
        let state = State::new(&platform.kv);
        state.put(LINKS, "recurring/T9", &OPP).unwrap();
        state.put(LINKS, "invoice-opp/200", &OPP).unwrap();
        state
            .put(
                LINKS,
                "owner-invoices/Opportunity/006A000001SubsAAA",
                &vec!["200"],
            )
            .unwrap();
        state
            .put(
                LINKS,
                "subscription-invoice/200",
                &json!({"opportunity_id": OPP, "hash": "x"}),
            )
            .unwrap();
        let report = run_job(
            &platform.platform(),
            "sync-quickbooks",
            r#"{"only": ["Invoice:201"]}"#,
        )
        .unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Invoice", "201", Kind::Created, Some(OPP))],
        );
        let period = platform.http.bodies(
            Patch,
            "/sobjects/Ledgerlink_Subscription_Invoice__c/QBO_Invoice_Id__c/201",
        );
        assert_eq!(period.len(), 1);
        assert_eq!(
            period[0],
            json!({"Name": "1042", "Opportunity__c": OPP, "QBO_Invoice_Number__c": "1042",
                "Invoice_Date__c": "2026-06-01", "Amount__c": 300.5, "Amount_Paid__c": 0,
                "Open_Balance__c": 300.5, "Payment_Status__c": "Unpaid"})
        );
        let opp = &platform.http.bodies(Patch, "/composite/sobjects")[0]["records"][0];
        assert_eq!(opp["Id"], OPP);
        assert_eq!(decimal(&opp["Amount_Invoiced__c"]), Some(dec!(601.00)));
        assert_eq!(decimal(&opp["Open_Balance__c"]), Some(dec!(601.00)));
        assert_eq!(opp["Payment_Status__c"], "Unpaid");
        let state = State::new(&platform.kv);
        assert_eq!(
            state
                .get::<String>(LINKS, "invoice-opp/201")
                .unwrap()
                .as_deref(),
            Some(OPP)
        );
        assert_eq!(
            state
                .get::<Vec<String>>(LINKS, "owner-invoices/Opportunity/006A000001SubsAAA")
                .unwrap(),
            Some(vec!["200".to_string(), "201".to_string()])
        );
        platform
    }

    #[test]
    fn a_generated_invoice_is_linked_gets_its_period_record_and_a_replay_writes_nothing() {
        let platform = second_invoice_linked();
        let platform =
            platform.rerouted(
                Routes::new().on(Get, "select * from Invoice where Id in", |_| {
                    qbo_query(
                        "Invoice",
                        json!([
                            generated("200", "1041", "2026-03-01"),
                            generated("201", "1042", "2026-06-01")
                        ]),
                    )
                }),
            );
        let report = run_job(
            &platform.platform(),
            "sync-quickbooks",
            r#"{"only": ["Invoice:201"]}"#,
        )
        .unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Invoice", "201", Kind::Skipped, Some(OPP))],
        );
        assert_eq!(platform.http.count(Patch, ""), 0);
    }

    #[test]
    fn a_payment_on_a_generated_invoice_updates_the_opportunity_and_that_periods_record() {
        let platform = second_invoice_linked();
        let payment = json!({"Id": "77", "SyncToken": "0", "TxnDate": "2026-06-10",
            "TotalAmt": 300.50, "CustomerRef": {"value": "58"}, "UnappliedAmt": 0,
            "Line": [{"Amount": 300.50, "LinkedTxn": [{"TxnId": "201", "TxnType": "Invoice"}]}]});
        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "select * from Payment where Id in", move |_| {
                    qbo_query("Payment", json!([payment]))
                })
                .on(Get, "/invoice/201?", |_| {
                    qbo_entity("Invoice", generated("201", "1042", "2026-06-01"))
                })
                .on(Get, "select * from Invoice where Id in", |_| {
                    qbo_query("Invoice", json!([generated("200", "1041", "2026-03-01")]))
                })
                .on(Get, "SELECT Id, Name, Owner.Name, Owner.Email", |_| {
                    soql(json!([{"Id": OPP, "Name": "Acme - support", "Owner": {"Name": "Ada Lovelace"}}]))
                })
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
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
        let written = platform.http.bodies(Patch, "/composite/sobjects");
        let opp = written
            .iter()
            .flat_map(|b| b["records"].as_array().cloned().unwrap_or_default())
            .find(|r| r["attributes"]["type"] == "Opportunity")
            .unwrap();
        assert_eq!(
            (
                decimal(&opp["Amount_Paid__c"]),
                decimal(&opp["Open_Balance__c"]),
                decimal(&opp["Amount_Invoiced__c"]),
                &opp["Payment_Status__c"]
            ),
            (
                Some(dec!(300.50)),
                Some(dec!(300.50)),
                Some(dec!(601.00)),
                &json!("Partially Paid")
            )
        );
        let periods = platform.http.bodies(
            Patch,
            "/composite/sobjects/Ledgerlink_Subscription_Invoice__c/QBO_Invoice_Id__c",
        );
        assert_eq!(periods.len(), 1, "{:#?}", platform.http.requests());
        assert_eq!(
            periods[0]["records"],
            json!([{"QBO_Invoice_Id__c": "201", "Opportunity__c": OPP,
                "Amount_Paid__c": 300.5, "Open_Balance__c": 0, "Payment_Status__c": "Paid",
                "attributes": {"type": "Ledgerlink_Subscription_Invoice__c"}}])
        );
    }
}
