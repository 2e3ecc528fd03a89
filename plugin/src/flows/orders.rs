//! Activated Salesforce Order -> QBO JournalEntry through `build-journal-entry`. Posted entries
//! are never edited: a change or a cancellation posts a reversing entry (and, for a change, the
//! new entry), each with its own `requestid`.

use super::context::{Abort, Ctx, FlowResult};
use super::ids::{content_hash, write_request_id};
use super::links;
use super::report::Failure;
use super::salesforce_io::{advance_modstamp, select, write_back};
use super::state::LINKS;
use crate::clients::json::text;
use crate::clients::quickbooks_json::journal_json;
use crate::clients::salesforce_fields::QBO_JOURNAL_ENTRY_ID;
use crate::clients::salesforce_json::{order, ORDER_FIELDS};
use crate::clients::ApiError;
use crate::mapping::{build_journal_entry, JournalInput};
use crate::model::{Reference, SfOrder};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// What is remembered of an order: the entry that stands for it, and how many postings were
/// asked for. One record, written in one store call, so a crash never leaves half of it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "StoredOrderLink")]
pub struct OrderLink {
    /// The posting that stands for the order; `None` when nothing does (never posted, or
    /// reversed).
    pub current: Option<Posting>,
    /// Postings asked for so far. Each posting's `requestid` carries its number, so posting the
    /// same content again (Activated -> Draft -> Activated) is a new write, never a replay of
    /// the entry that was reversed.
    pub postings: u32,
}

/// One posting of an order.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Posting {
    /// Its number (0 for entries posted before postings were numbered).
    pub number: u32,
    /// The JournalEntry; `None` while the create's answer is unknown (a crash or a lost
    /// response after it was sent): the next run replays it by its `requestid`.
    pub entry_id: Option<String>,
    /// Fingerprint of the order as posted.
    pub hash: String,
    /// The order as posted (to replay the posting or build its reversal).
    pub order: SfOrder,
}

impl Posting {
    fn request_id(&self) -> String {
        write_request_id(
            "je",
            &[&self.order.id, &self.number.to_string(), &self.hash],
        )
    }
}

/// The stored forms: the current one, and the link of earlier versions (one posted entry).
#[derive(Deserialize)]
#[serde(untagged)]
enum StoredOrderLink {
    Current {
        current: Option<Posting>,
        postings: u32,
    },
    Posted {
        entry_id: String,
        hash: String,
        order: SfOrder,
    },
}

impl From<StoredOrderLink> for OrderLink {
    fn from(stored: StoredOrderLink) -> Self {
        match stored {
            StoredOrderLink::Current { current, postings } => Self { current, postings },
            StoredOrderLink::Posted {
                entry_id,
                hash,
                order,
            } => Self {
                current: Some(Posting {
                    number: 0,
                    entry_id: Some(entry_id),
                    hash,
                    order,
                }),
                postings: 0,
            },
        }
    }
}

fn link_key(order_id: &str) -> String {
    format!("order/{order_id}")
}

/// Orders changed since the cursor (or `only`, or all with `full`). An `only` id that is not
/// found any more is a deleted order: its entry is reversed.
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let rows = select(ctx, "Order", ORDER_FIELDS, "")?;
    let mut seen = Vec::new();
    for (n, row) in rows.iter().enumerate() {
        if n % 25 == 0 {
            ctx.progress("Order", n, rows.len());
        }
        match order(row) {
            Ok(o) => {
                seen.push(o.id.clone());
                let written_back = text(row, QBO_JOURNAL_ENTRY_ID);
                sync_one(ctx, Some((&o, written_back.as_deref())), &o.id)?;
            }
            Err(e) => {
                let id = row.get("Id").and_then(Value::as_str).unwrap_or("?");
                ctx.report.failed("Order", id, Failure::Invalid(e));
            }
        }
    }
    for id in ctx.args.only.clone().unwrap_or_default() {
        let standing = ctx
            .state
            .get::<OrderLink>(LINKS, &link_key(&id))?
            .is_some_and(|l| l.current.is_some());
        if !seen.contains(&id) && standing {
            sync_one(ctx, None, &id)?;
        }
    }
    ctx.progress("Order", rows.len(), rows.len());
    advance_modstamp(ctx, "Order", &rows)
}

/// Brings order `id` to its state in QBO: `current` is the order as Salesforce has it now, with
/// the entry id written back on it (none when the order is gone).
fn sync_one(ctx: &mut Ctx<'_>, current: Option<(&SfOrder, Option<&str>)>, id: &str) -> FlowResult {
    let (current, written_back) = match current {
        Some((o, w)) => (Some(o), w),
        None => (None, None),
    };
    let mut link: OrderLink = ctx.state.get(LINKS, &link_key(id))?.unwrap_or_default();
    let active = current.is_some_and(|o| o.status == ctx.settings.posted_order_status);
    let hash = current
        .map(|o| content_hash(&serde_json::to_value(o).unwrap_or(Value::Null)))
        .unwrap_or_default();
    if let Some(pending) = link.current.clone().filter(|p| p.entry_id.is_none()) {
        if active && pending.hash == hash {
            // The same posting again: the same requestid, so QBO answers with the entry it
            // made, if it made one.
            return send_posting(ctx, &mut link, pending, None);
        }
        // The order changed since: learn what the lost posting made before reversing it.
        match post(ctx, &pending.order, false, &pending.request_id())? {
            Sent::Entry(entry) => {
                link.current = Some(Posting {
                    entry_id: Some(entry),
                    ..pending
                });
                save(ctx, id, &link)?;
            }
            Sent::Refused => {
                link.current = None;
                save(ctx, id, &link)?;
            }
            Sent::Previewed | Sent::Failed => return Ok(()),
        }
    }
    let posted = link.current.clone();
    match (&posted, active) {
        (Some(p), true) if p.hash == hash => {
            let entry = p.entry_id.clone().unwrap_or_default();
            // A write-back lost after the entry was stored (a crash, a failed Salesforce
            // call): written again, whatever else is unchanged.
            if written_back != Some(entry.as_str()) && !ctx.dry_run() {
                let record = json!({"Id": id, QBO_JOURNAL_ENTRY_ID: entry});
                if write_back(ctx, "Order", &[record]) == 0 {
                    ctx.report.updated(
                        "Order",
                        id,
                        &entry,
                        "journal entry id written back (missing in Salesforce)",
                    );
                }
                return Ok(());
            }
            ctx.report
                .skipped("Order", id, Some(&entry), "already posted; unchanged");
            return Ok(());
        }
        (None, false) => {
            // Nothing stands for the order, but Salesforce still names an entry (its reversal's
            // write-back was lost, or it was reversed before the field was cleared): clear it.
            if let (Some(o), Some(stale)) = (current, written_back) {
                if !ctx.dry_run() && clear_entry_id(ctx, &o.id) {
                    ctx.report.updated(
                        "Order",
                        id,
                        stale,
                        format!("journal entry id {stale} cleared (the entry was reversed)"),
                    );
                }
                return Ok(());
            }
            let status = current.map(|o| o.status.as_str()).unwrap_or("deleted");
            ctx.report
                .skipped("Order", id, None, format!("not posted: status {status}"));
            return Ok(());
        }
        _ => {}
    }
    let mut reversed = None;
    if let Some(p) = &posted {
        // Changed or cancelled after posting: reverse what was posted. Each entry is reversed
        // once, so its full id names the reversal.
        let entry_id = p.entry_id.clone().unwrap_or_default();
        let key = write_request_id("jer", &[id, &entry_id]);
        let Sent::Entry(reversal) = post(ctx, &p.order, true, &key)? else {
            return Ok(());
        };
        link.current = None;
        save(ctx, id, &link)?;
        if !active {
            // The Order no longer names an entry that stands (it stays in Salesforce when it
            // was cancelled rather than deleted).
            if let Some(o) = current.filter(|_| written_back.is_some()) {
                clear_entry_id(ctx, &o.id);
            }
            ctx.report.updated(
                "Order",
                id,
                &reversal,
                format!("cancelled: entry {entry_id} reversed by {reversal}"),
            );
            ctx.notice(format!(
                "Order {id} cancelled: journal entry {entry_id} reversed"
            ));
            return Ok(());
        }
        reversed = Some(entry_id);
    }
    let Some(o) = current else { return Ok(()) };
    let posting = Posting {
        number: link.postings + 1,
        entry_id: None,
        hash,
        order: o.clone(),
    };
    send_posting(ctx, &mut link, posting, reversed)
}

/// Posts `posting` (recorded as sent before the create, so a lost answer is replayed by the same
/// `requestid`), stores its entry and writes it back.
fn send_posting(
    ctx: &mut Ctx<'_>,
    link: &mut OrderLink,
    mut posting: Posting,
    reversed: Option<String>,
) -> FlowResult {
    let id = posting.order.id.clone();
    if !ctx.dry_run() {
        link.postings = link.postings.max(posting.number);
        link.current = Some(posting.clone());
        save(ctx, &id, link)?;
    }
    let entry = match post(ctx, &posting.order, false, &posting.request_id())? {
        Sent::Entry(entry) => entry,
        Sent::Refused => {
            // QBO refused it: nothing was written, so nothing stands for the order.
            link.current = None;
            return save(ctx, &id, link);
        }
        Sent::Previewed | Sent::Failed => return Ok(()),
    };
    posting.entry_id = Some(entry.clone());
    link.current = Some(posting);
    save(ctx, &id, link)?;
    write_back(
        ctx,
        "Order",
        &[json!({"Id": id, QBO_JOURNAL_ENTRY_ID: entry})],
    );
    match reversed {
        Some(old) => ctx.report.updated(
            "Order",
            &id,
            &entry,
            format!("changed: entry {old} reversed, entry {entry} posted"),
        ),
        None => ctx.report.created(
            "Order",
            &id,
            &entry,
            format!("journal entry {entry} posted"),
        ),
    }
    Ok(())
}

fn save(ctx: &Ctx<'_>, order_id: &str, link: &OrderLink) -> FlowResult {
    if !ctx.dry_run() {
        ctx.state.put(LINKS, &link_key(order_id), link)?;
    }
    Ok(())
}

/// What became of a create.
enum Sent {
    /// QBO answered with this entry.
    Entry(String),
    /// A dry run: described, not sent.
    Previewed,
    /// Refused before or by QBO (mapping, validation): certainly not written. Reported.
    Refused,
    /// May or may not have been written (5xx, transport, throttle): retried later. Reported.
    Failed,
}

/// Clears the Order's journal entry id in Salesforce; false when Salesforce refused (reported).
fn clear_entry_id(ctx: &mut Ctx<'_>, order_id: &str) -> bool {
    let record = json!({"Id": order_id, QBO_JOURNAL_ENTRY_ID: Value::Null});
    write_back(ctx, "Order", &[record]) == 0
}

/// Builds and posts an entry (or its reversal) with `request_id`; failures are reported.
fn post(ctx: &mut Ctx<'_>, o: &SfOrder, reversal: bool, request_id: &str) -> Result<Sent, Abort> {
    let customer = match &o.account_id {
        Some(a) => links::account_link(ctx, a)?.map(|l| Reference::id(l.qbo_id)),
        None => None,
    };
    let input = JournalInput {
        order: o.clone(),
        rules: ctx.settings.journal_rules.clone(),
        receivable_account: ctx.settings.receivable_account.clone(),
        customer,
        reversal,
        reversal_date: reversal.then(|| ctx.today()),
    };
    let entry = match build_journal_entry(&input) {
        Ok(e) => e,
        Err(e) => {
            ctx.report.failed("Order", &o.id, Failure::Mapping(e));
            return Ok(Sent::Refused);
        }
    };
    if ctx.dry_run() {
        let what = if reversal { "reverse" } else { "post" };
        ctx.report.created(
            "Order",
            &o.id,
            "(new)",
            format!("would {what} a journal entry of {}", entry.total),
        );
        return Ok(Sent::Previewed);
    }
    let body = journal_json(&entry);
    match ctx.qbo.create("JournalEntry", &body, request_id) {
        Ok(v) => match v.get("Id").and_then(Value::as_str) {
            Some(entry) => Ok(Sent::Entry(entry.to_string())),
            None => {
                let e = ApiError::Decode("JournalEntry create answered without an Id".into());
                ctx.report.failed("Order", &o.id, e.into());
                Ok(Sent::Failed)
            }
        },
        Err(e) => {
            let refused = matches!(&e, ApiError::Api { status, .. } if (400..500).contains(status))
                && !e.retryable();
            ctx.report.failed("Order", &o.id, e.into());
            Ok(if refused { Sent::Refused } else { Sent::Failed })
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::{account_key, AccountLink};
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{
        assert_run, body, outcomes, qbo_entity, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal::Decimal;
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    const ORDER: &str = "801A000001OrdrAAA";

    fn order(entry: Option<&str>) -> Value {
        let item = |id: &str, qty: u32, price: f64, total: f64| {
            json!({"attributes": {"type": "OrderItem"}, "Id": id, "Product2Id": "01tA00000WidgetP",
                "Product2": {"ProductCode": "WP-1", "Family": "Hardware"}, "Description": null,
                "Quantity": qty, "UnitPrice": price, "TotalPrice": total})
        };
        json!({"attributes": {"type": "Order"}, "Id": ORDER, "OrderNumber": "00000107",
            "AccountId": "001A000001AcmeAAA", "EffectiveDate": "2026-03-02", "Status": "Activated",
            "TotalAmount": 1250.50, "QBO_Journal_Entry_Id__c": entry,
            "SystemModstamp": "2026-03-02T12:00:00.000+0000",
            "OrderItems": {"totalSize": 2, "done": true, "records": [
                item("802A0000001ItemA", 3, 100.10, 300.30),
                item("802A0000001ItemB", 1, 950.20, 950.20)]}})
    }

    #[test]
    fn an_activated_order_posts_one_balanced_journal_entry_and_a_rerun_posts_none() {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Order", |_| soql(json!([order(None)])))
                .on(Post, "/journalentry?", |req| {
                    let mut entry = body(req);
                    entry["Id"] = json!("245");
                    entry["SyncToken"] = json!("0");
                    qbo_entity("JournalEntry", entry)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let customer = AccountLink {
            qbo_id: "58".into(),
            snapshot: None,
        };
        State::new(&platform.kv)
            .put(LINKS, &account_key("001A000001AcmeAAA"), &customer)
            .unwrap();

        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Order", ORDER, Kind::Created, Some("245"))],
        );
        // The first posting of the order: its requestid names the order and the posting.
        let entries = platform.http.bodies(
            Post,
            &format!("/journalentry?minorversion=75&requestid=ll-je-{ORDER}-1-"),
        );
        assert_eq!(entries.len(), 1, "{:#?}", platform.http.requests());
        let mut totals = (Decimal::ZERO, Decimal::ZERO);
        let mut accounts = Vec::new();
        for line in entries[0]["Line"].as_array().unwrap() {
            let detail = &line["JournalEntryLineDetail"];
            let amount = decimal(&line["Amount"]).unwrap();
            match detail["PostingType"].as_str().unwrap() {
                "Debit" => totals.0 += amount,
                _ => totals.1 += amount,
            }
            accounts.push((
                detail["PostingType"].as_str().unwrap().to_string(),
                detail["AccountRef"]["value"].as_str().unwrap().to_string(),
                detail["Entity"]["EntityRef"]["value"]
                    .as_str()
                    .map(str::to_string),
            ));
        }
        assert_eq!(
            totals,
            (dec!(1250.50), dec!(1250.50)),
            "balanced: {accounts:?}"
        );
        // Receivable (3) debited for the customer, income (1) credited: the default rules.
        assert!(
            accounts.contains(&("Debit".into(), "3".into(), Some("58".into()))),
            "{accounts:?}"
        );
        assert!(
            accounts.iter().any(|(t, a, _)| t == "Credit" && a == "1"),
            "{accounts:?}"
        );
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"],
            json!([{"Id": ORDER, "QBO_Journal_Entry_Id__c": "245", "attributes": {"type": "Order"}}])
        );

        // Read again after the write-back: posted, unchanged, nothing sent.
        let platform = platform
            .rerouted(Routes::new().on(Get, "FROM Order", |_| soql(json!([order(Some("245"))]))));
        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Order", ORDER, Kind::Skipped, Some("245"))],
        );
    }

    /// (posting type, account, amount) of each line of the journal entry `entry`.
    fn postings(entry: &Value) -> Vec<(String, String, Decimal)> {
        entry["Line"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let d = &l["JournalEntryLineDetail"];
                (
                    d["PostingType"].as_str().unwrap().to_string(),
                    d["AccountRef"]["value"].as_str().unwrap().to_string(),
                    decimal(&l["Amount"]).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_cancelled_order_still_naming_its_reversed_entry_is_cleared_once() {
        // Reversed in an earlier run whose write-back was lost: no posting stands, yet the
        // Order still names entry 245.
        let mut cancelled = order(Some("245"));
        cancelled["Status"] = json!("Cancelled");
        let stale = cancelled.clone();
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Order", move |_| soql(json!([stale])))
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Order", ORDER, Kind::Updated, Some("245"))],
        );
        assert_eq!(
            platform.http.count(Post, "/journalentry"),
            0,
            "nothing posted"
        );
        // Cleared, Salesforce names nothing: the next run has nothing to do.
        cancelled["QBO_Journal_Entry_Id__c"] = Value::Null;
        let platform = platform
            .rerouted(Routes::new().on(Get, "FROM Order", move |_| soql(json!([cancelled]))));
        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Order", ORDER, Kind::Skipped, None)],
        );
    }

    #[test]
    fn a_posting_whose_answer_was_lost_is_replayed_by_its_requestid_and_a_cancellation_reverses_it()
    {
        let entry = |id: &'static str| {
            move |req: &crate::platform::HttpRequest| {
                let mut entry = body(req);
                entry["Id"] = json!(id);
                qbo_entity("JournalEntry", entry)
            }
        };
        // QBO fails after (perhaps) posting: the run cannot know whether it did.
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Order", |_| soql(json!([order(None)])))
                .json(
                    Post,
                    "/journalentry?",
                    500,
                    json!({"Fault": {"Error": [
                    {"Message": "An application error has occurred", "code": "10000"}],
                    "type": "SystemFault"}}),
                ),
        );
        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Order", ORDER, Kind::Failed, None)]
        );
        assert!(report.records[0].retryable, "{:?}", report.records[0]);
        let first = platform.http.requests().pop().unwrap();

        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "FROM Order", |_| soql(json!([order(None)])))
                .on(Post, "/journalentry?", entry("245"))
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Order", ORDER, Kind::Created, Some("245"))]
        );
        // The same requestid: had QBO posted it, it answers with that entry, not a second one.
        let posted = platform.http.bodies(Post, "/journalentry?").pop().unwrap();
        assert!(platform.http.requests().contains(&first), "{first}");

        let mut cancelled = order(Some("245"));
        cancelled["Status"] = json!("Cancelled");
        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "FROM Order", move |_| soql(json!([cancelled])))
                .on(
                    Post,
                    &format!("/journalentry?minorversion=75&requestid=ll-jer-{ORDER}-245"),
                    entry("246"),
                )
                .on(Patch, "/composite/sobjects", sf_saved)
                .json(Post, "http://notify/", 200, json!({"ok": true})),
        );
        let report = run_job(&platform.platform(), "sync-orders", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Order", ORDER, Kind::Updated, Some("246"))],
        );
        // The cancelled Order no longer names the reversed entry.
        let cleared = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(cleared.len(), 1, "{:#?}", platform.http.requests());
        assert_eq!(cleared[0]["records"][0]["Id"], ORDER);
        assert!(cleared[0]["records"][0]
            .as_object()
            .unwrap()
            .get("QBO_Journal_Entry_Id__c")
            .is_some_and(Value::is_null));
        // The reversal: every line of the posted entry with debit and credit swapped.
        let reversal = platform.http.bodies(Post, "/journalentry?").pop().unwrap();
        let swapped: Vec<_> = postings(&posted)
            .into_iter()
            .map(|(t, a, m)| {
                (
                    if t == "Debit" { "Credit" } else { "Debit" }.to_string(),
                    a,
                    m,
                )
            })
            .collect();
        let mut reversed = postings(&reversal);
        reversed.sort();
        let mut expected = swapped;
        expected.sort();
        assert_eq!(reversed, expected);
    }
}
