//! One Salesforce Account -> its QBO Customer, for the account flow and for an invoice whose
//! customer is missing. Before any create, the matching ladder: the stored link
//! -> the Account's `QBO_Customer_Id__c` -> the Salesforce Id noted on a QBO customer -> the
//! exact DisplayName across Customer, Vendor and Employee (inactive included) -> the normalized
//! name with the email domain or phone -> else create. A name taken by a vendor, an employee or
//! another account's customer gets a deterministic suffix instead of a 6240 failure.

use super::context::{Ctx, FlowResult};
use super::ids::{batch_request_id, content_hash, request_id};
use super::links::{self, AccountLink};
use super::qbo_lists::QboLists;
use super::report::Failure;
use crate::clients::quickbooks::{BatchOp, BATCH_MAX};
use crate::clients::quickbooks_json::{customer, customer_json};
use crate::clients::salesforce::soql_literal;
use crate::clients::salesforce_fields::QBO_CUSTOMER_ID;
use crate::clients::salesforce_json::{account, ACCOUNT_FIELDS};
use crate::clients::ApiError;
use crate::mapping::account::display_name;
use crate::mapping::{map_account, AccountInput, CustomerChange};
use crate::model::{PartyField, PartySnapshot, QboCustomer, SfAccount};
use serde_json::json;
use std::collections::BTreeMap;

/// The QBO names and customers of the realm, loaded once per run.
#[derive(Default)]
pub struct Directory {
    customers: BTreeMap<String, QboCustomer>,
    /// Lower-cased DisplayNames of customers, vendors and employees.
    taken: BTreeMap<String, String>,
    /// When set, creates are queued here and sent in `/batch` requests by [`flush`].
    queue: Option<Vec<PendingCreate>>,
    /// QBO's terms, for a new customer's `SalesTermRef`.
    lists: QboLists,
}

/// A customer create waiting for its batch.
pub struct PendingCreate {
    account: SfAccount,
    body: serde_json::Value,
    snapshot: PartySnapshot,
    note: String,
}

impl Directory {
    /// Loads customers (inactive included), vendor and employee names.
    pub fn load(ctx: &Ctx<'_>) -> Result<Self, ApiError> {
        let mut dir = Directory::default();
        for row in ctx
            .qbo
            .query("select * from Customer where Active in (true, false)")?
        {
            dir.add(customer(&row));
        }
        for entity in ["Vendor", "Employee"] {
            for row in ctx.qbo.query(&format!(
                "select * from {entity} where Active in (true, false)"
            ))? {
                if let Some(name) = row.get("DisplayName").and_then(|v| v.as_str()) {
                    dir.taken
                        .insert(name.to_lowercase(), format!("{entity} {}", name));
                }
            }
        }
        Ok(dir)
    }

    /// Queues creates from now on, to be sent in `/batch` requests by [`flush`].
    pub fn batch_creates(&mut self) {
        self.queue = Some(Vec::new());
    }

    /// True when a full `/batch` of creates is waiting.
    pub fn batch_full(&self) -> bool {
        self.queue.as_ref().is_some_and(|q| q.len() >= BATCH_MAX)
    }

    /// Records a customer.
    pub fn add(&mut self, c: QboCustomer) {
        if let (Some(id), Some(name)) = (&c.id, &c.display_name) {
            self.taken
                .insert(name.to_lowercase(), format!("Customer {id}"));
            self.customers.insert(id.clone(), c);
        }
    }

    /// A customer by id.
    pub fn get(&self, id: &str) -> Option<&QboCustomer> {
        self.customers.get(id)
    }

    /// The ladder after the link: noted Salesforce Id, exact name, normalized name + contact.
    fn find(&self, a: &SfAccount) -> Option<&QboCustomer> {
        if let Some(c) = self
            .customers
            .values()
            .find(|c| c.salesforce_id.as_deref() == Some(a.id.as_str()))
        {
            return Some(c);
        }
        let free = |c: &&QboCustomer| c.salesforce_id.is_none();
        let name = display_name(&a.name).to_lowercase();
        if let Some(c) = self
            .customers
            .values()
            .filter(free)
            .find(|c| c.display_name.as_deref().map(str::to_lowercase) == Some(name.clone()))
        {
            return Some(c);
        }
        let key = normalized(&a.name);
        self.customers.values().filter(free).find(|c| {
            c.display_name.as_deref().map(normalized) == Some(key.clone())
                && (same_domain(c.email.as_deref(), a.email.as_deref())
                    || same_phone(c.phone.as_deref(), a.phone.as_deref()))
        })
    }

    /// `name`, or `name (suffix)` when taken; the suffix is the end of the Salesforce Id.
    pub fn free_name(&self, name: &str, account_id: &str) -> String {
        self.free_name_for(name, account_id, None)
    }

    /// [`Self::free_name`], where a name held by customer `own` (the account's own) is free.
    pub fn free_name_for(&self, name: &str, account_id: &str, own: Option<&str>) -> String {
        let own = own.map(|id| format!("Customer {id}"));
        let free = |n: &str| match self.taken.get(&n.to_lowercase()) {
            None => true,
            Some(holder) => Some(holder) == own.as_ref(),
        };
        if free(name) {
            return name.to_string();
        }
        for len in [4, 6, 8, 18] {
            let tail: String = account_id
                .chars()
                .skip(account_id.len().saturating_sub(len))
                .collect();
            let candidate = format!("{name} ({tail})");
            if free(&candidate) {
                return candidate;
            }
        }
        format!("{name} ({account_id})")
    }
}

/// A name without case, punctuation or company suffixes.
pub fn normalized(name: &str) -> String {
    const SUFFIXES: [&str; 8] = [
        "inc",
        "llc",
        "ltd",
        "co",
        "corp",
        "corporation",
        "gmbh",
        "plc",
    ];
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !SUFFIXES.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

fn same_domain(a: Option<&str>, b: Option<&str>) -> bool {
    let domain = |e: &str| e.rsplit_once('@').map(|(_, d)| d.to_lowercase());
    matches!((a.and_then(domain), b.and_then(domain)), (Some(x), Some(y)) if x == y)
}

fn same_phone(a: Option<&str>, b: Option<&str>) -> bool {
    let digits = |p: &str| p.chars().filter(char::is_ascii_digit).collect::<String>();
    matches!((a.map(digits), b.map(digits)), (Some(x), Some(y)) if x.len() >= 7 && x == y)
}

/// Sends the queued creates in one `/batch` (its `requestid` derived from the accounts and
/// their content), links what was created and reports each result.
pub fn flush(
    ctx: &mut Ctx<'_>,
    dir: &mut Directory,
    writebacks: &mut Vec<serde_json::Value>,
) -> FlowResult {
    let pending = dir.queue.replace(Vec::new()).unwrap_or_default();
    if pending.is_empty() {
        return Ok(());
    }
    let ops: Vec<BatchOp> = pending
        .iter()
        .map(|p| BatchOp::Create("Customer", p.body.clone()))
        .collect();
    let keys: Vec<String> = pending
        .iter()
        .map(|p| format!("{}:{}", p.account.id, content_hash(&p.body)))
        .collect();
    let results = match ctx.qbo.batch(&ops, Some(&batch_request_id("cust", &keys))) {
        Ok(r) => r,
        Err(e) => {
            for p in &pending {
                ctx.report
                    .failed("Account", &p.account.id, e.clone().into());
            }
            return match e {
                ApiError::Throttled { .. } => Err(Failure::Api(e).into()),
                _ => Ok(()),
            };
        }
    };
    for (p, result) in pending.into_iter().zip(results) {
        match result {
            Ok(v) => {
                let created = customer(&v);
                let id = created.id.clone().unwrap_or_default();
                ctx.report.created("Account", &p.account.id, &id, p.note);
                dir.add(created);
                store_and_return(ctx, &p.account, id.clone(), p.snapshot)?;
                writebacks.push(json!({"Id": p.account.id, QBO_CUSTOMER_ID: id}));
            }
            Err(e) => ctx.report.failed("Account", &p.account.id, e.into()),
        }
    }
    Ok(())
}

/// Syncs one account; returns the linked QBO Customer Id when there is one. Only a failure to
/// store state aborts; API and mapping failures are reported per record.
pub fn sync_one(
    ctx: &mut Ctx<'_>,
    dir: &mut Directory,
    a: &SfAccount,
) -> Result<Option<String>, super::context::Abort> {
    sync_attempt(ctx, dir, a, STALE_RETRIES)
}

/// How many times an update that meets a 5010 (someone saved the customer in between) is
/// re-read and tried again before it is reported as retryable: a customer edited on every try
/// must not keep the run (or the stack) busy forever.
const STALE_RETRIES: u32 = 2;

fn sync_attempt(
    ctx: &mut Ctx<'_>,
    dir: &mut Directory,
    a: &SfAccount,
    stale_retries: u32,
) -> Result<Option<String>, super::context::Abort> {
    let link = links::account_link(ctx, &a.id)?;
    let linked_id = link
        .as_ref()
        .map(|l| l.qbo_id.clone())
        .or_else(|| a.qbo_customer_id.clone());
    let existing = match &linked_id {
        Some(id) => match dir.get(id) {
            Some(c) => Some(c.clone()),
            None => match ctx.qbo.read("Customer", id) {
                Ok(Some(v)) => Some(customer(&v)),
                Ok(None) => None,
                Err(e) => {
                    ctx.report.failed("Account", &a.id, e.into());
                    return Ok(None);
                }
            },
        },
        None => dir.find(a).cloned(),
    };
    let input = AccountInput {
        account: a.clone(),
        existing: existing.clone(),
        last_synced: link.as_ref().and_then(|l| l.snapshot.clone()),
        rules: ctx.settings.field_rules.clone(),
    };
    let output = match map_account(&input) {
        Ok(o) => o,
        Err(e) => {
            ctx.report.failed("Account", &a.id, Failure::Mapping(e));
            return Ok(None);
        }
    };
    for conflict in &output.conflicts {
        ctx.notice(format!("Account {}: {}", a.id, conflict.describe()));
    }
    let (id, c) = match output.change {
        CustomerChange::Unchanged => {
            let id = existing.and_then(|c| c.id).unwrap_or_default();
            ctx.report
                .skipped("Account", &a.id, Some(&id), "unchanged since the last sync");
            (id, None)
        }
        CustomerChange::Create(mut c) => {
            let name = c.display_name.clone().unwrap_or_default();
            let free = dir.free_name(&name, &a.id);
            if free != name {
                c.display_name = Some(free.clone());
            }
            c.salesforce_id = Some(a.id.clone());
            // The Account's terms and tax exemption seed the new customer; QBO owns them
            // afterwards (and the invoice flow reads the Account's, so the two agree).
            if c.taxable.is_none() {
                c.taxable = a.tax_exempt.map(|exempt| !exempt);
            }
            if let (None, Some(terms)) = (&c.sales_term, &a.payment_terms) {
                c.sales_term = dir.lists.term(ctx, terms)?.map(|(term, _)| term);
            }
            if ctx.dry_run() {
                ctx.report.created(
                    "Account",
                    &a.id,
                    "(new)",
                    format!("would create customer {free:?}"),
                );
                // A placeholder id lets a dry run plan the invoices that need this customer.
                return Ok(Some(format!("(new customer {free})")));
            }
            let body = customer_json(&c, false);
            let note = if free != name {
                format!("created customer {free:?} (the name {name:?} is taken in QBO)")
            } else {
                format!("created customer {free:?}")
            };
            if let Some(queue) = dir.queue.as_mut() {
                // Reserve the name so that a later account in the same batch does not take it.
                dir.taken
                    .insert(free.to_lowercase(), format!("Account {}", a.id));
                queue.push(PendingCreate {
                    account: a.clone(),
                    body,
                    snapshot: output.snapshot,
                    note,
                });
                return Ok(None);
            }
            let rid = request_id("cust", &a.id, &content_hash(&body));
            match ctx.qbo.create("Customer", &body, &rid) {
                Ok(v) => {
                    let created = customer(&v);
                    let id = created.id.clone().unwrap_or_default();
                    ctx.report.created("Account", &a.id, &id, note);
                    (id, Some(created))
                }
                Err(e) => {
                    ctx.report.failed("Account", &a.id, e.into());
                    return Ok(None);
                }
            }
        }
        CustomerChange::Update(mut u) => {
            // A name taken by someone else keeps its suffix; renaming to what it already is
            // is no change.
            if let Some(name) = u.customer.display_name.clone() {
                let free = dir.free_name_for(&name, &a.id, Some(&u.id));
                let current = existing.as_ref().and_then(|c| c.display_name.clone());
                if Some(&free) == current.as_ref() {
                    u.customer.display_name = None;
                    u.fields.retain(|f| *f != PartyField::DisplayName);
                } else {
                    u.customer.display_name = Some(free);
                }
            }
            if u.fields.is_empty() {
                ctx.report.skipped(
                    "Account",
                    &a.id,
                    Some(&u.id),
                    "unchanged (its QBO name carries a suffix)",
                );
                return store_and_return(ctx, a, u.id.clone(), output.snapshot);
            }
            if ctx.dry_run() {
                ctx.report.updated(
                    "Account",
                    &a.id,
                    &u.id,
                    format!("would update {:?}", u.fields),
                );
                return Ok(None);
            }
            let mut c = u.customer.clone();
            c.id = Some(u.id.clone());
            c.sync_token = Some(u.sync_token.clone());
            let body = customer_json(&c, true);
            let rid = request_id("custu", &a.id, &content_hash(&body));
            let result = match ctx.qbo.update("Customer", &body, &rid) {
                Err(e) if e.is_stale() && stale_retries > 0 => {
                    // Someone else saved it first: re-read, re-map, retry.
                    match ctx.qbo.read("Customer", &u.id) {
                        Ok(Some(fresh)) => {
                            dir.add(customer(&fresh));
                            return sync_attempt(ctx, dir, a, stale_retries - 1);
                        }
                        Ok(None) => Err(e),
                        Err(e2) => Err(e2),
                    }
                }
                other => other,
            };
            match result {
                Ok(v) => {
                    let updated = customer(&v);
                    ctx.report
                        .updated("Account", &a.id, &u.id, format!("updated {:?}", u.fields));
                    (u.id.clone(), Some(updated))
                }
                Err(e) => {
                    ctx.report.failed("Account", &a.id, e.into());
                    return Ok(None);
                }
            }
        }
    };
    if ctx.dry_run() || id.is_empty() {
        return Ok(Some(id).filter(|i| !i.is_empty()));
    }
    if let Some(c) = c {
        dir.add(c);
    }
    store_and_return(ctx, a, id, output.snapshot)
}

fn store_and_return(
    ctx: &Ctx<'_>,
    a: &SfAccount,
    id: String,
    snapshot: PartySnapshot,
) -> Result<Option<String>, super::context::Abort> {
    if ctx.dry_run() {
        return Ok(Some(id));
    }
    let link = AccountLink {
        qbo_id: id.clone(),
        snapshot: Some(snapshot),
    };
    links::store_account_link(ctx, &a.id, &link)?;
    Ok(Some(id))
}

/// The QBO Customer Id of account `account_id`, syncing the account first when it has none.
pub fn customer_for(
    ctx: &mut Ctx<'_>,
    dir: &mut Option<Directory>,
    account_id: &str,
) -> Result<Option<String>, super::context::Abort> {
    if let Some(link) = links::account_link(ctx, account_id)? {
        return Ok(Some(link.qbo_id));
    }
    let rows = ctx.sf.query(&format!(
        "SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id = {}",
        soql_literal(account_id)
    ))?;
    let Some(a) = rows.first().and_then(account) else {
        return Ok(None);
    };
    if dir.is_none() {
        *dir = Some(Directory::load(ctx)?);
    }
    let Some(d) = dir.as_mut() else {
        return Ok(None);
    };
    let id = sync_one(ctx, d, &a)?;
    if let Some(id) = &id {
        if !ctx.dry_run() && a.qbo_customer_id.as_deref() != Some(id.as_str()) {
            let _ = ctx
                .sf
                .update("Account", &a.id, &json!({QBO_CUSTOMER_ID: id}));
        }
    }
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(names: &[(&str, &str, Option<&str>)]) -> Directory {
        let mut d = Directory::default();
        for (id, name, sf) in names {
            d.add(QboCustomer {
                id: Some(id.to_string()),
                display_name: Some(name.to_string()),
                salesforce_id: sf.map(str::to_string),
                ..Default::default()
            });
        }
        d
    }

    fn sf(id: &str, name: &str) -> SfAccount {
        SfAccount {
            id: id.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    #[test]
    fn a_customer_saved_by_someone_else_on_every_try_is_retried_a_bounded_number_of_times() {
        use crate::flows::{Args, Kind};
        use crate::platform::memory::{json, MemoryPlatform};
        use crate::platform::Method;
        // QBO answers every update of customer 7 with a 5010 (another user saved it first)
        // and every read with the customer as that user left it.
        let stored = serde_json::json!({"Id": "7", "SyncToken": "3", "DisplayName": "Acme",
            "PrimaryPhone": {"FreeFormNumber": "555-0100"}, "Active": true});
        let answer = stored.clone();
        let platform = MemoryPlatform::new("9130355377151526", move |req| match req.method {
            Method::Get if req.url.contains("/customer/7") => {
                json(200, serde_json::json!({"Customer": answer}))
            }
            Method::Post if req.url.contains("/customer") => json(
                400,
                serde_json::json!({"Fault": {"Error": [{"Message": "Stale Object Error",
                        "Detail": "You and someone else are editing this", "code": "5010"}],
                        "type": "ValidationFault"}}),
            ),
            _ => json(404, serde_json::json!({})),
        });
        let mut ctx = Ctx::new(&platform.platform(), Args::default()).unwrap();
        let mut d = Directory::default();
        d.add(customer(&stored));
        let account = SfAccount {
            phone: Some("555-0199".into()),
            qbo_customer_id: Some("7".into()),
            ..sf("001A", "Acme")
        };
        let id = sync_one(&mut ctx, &mut d, &account).unwrap();
        assert_eq!(id, None, "{:#?}", ctx.report.records);
        assert_eq!(
            platform.http.count(Method::Post, "/customer"),
            1 + STALE_RETRIES as usize,
            "{:#?}",
            platform.http.requests()
        );
        let last = ctx.report.records.last().unwrap();
        assert_eq!(
            (last.kind, last.code.as_deref(), last.retryable),
            (Kind::Failed, Some("5010"), true),
            "{last:?}"
        );
    }

    #[test]
    fn the_ladder_prefers_the_noted_salesforce_id_then_the_exact_name() {
        let d = dir(&[("1", "Acme", None), ("2", "Acme Two", Some("001B"))]);
        assert_eq!(
            d.find(&sf("001B", "Acme")).unwrap().id.as_deref(),
            Some("2")
        );
        assert_eq!(
            d.find(&sf("001C", "ACME")).unwrap().id.as_deref(),
            Some("1")
        );
        assert!(d.find(&sf("001D", "Other")).is_none());
    }

    #[test]
    fn a_normalized_name_matches_only_with_the_same_email_domain_or_phone() {
        let mut d = Directory::default();
        d.add(QboCustomer {
            id: Some("7".into()),
            display_name: Some("Granite Co.".into()),
            email: Some("ap@granite.example".into()),
            ..Default::default()
        });
        let mut a = sf("001E", "Granite, Inc");
        assert!(d.find(&a).is_none());
        a.email = Some("bob@granite.example".into());
        assert_eq!(d.find(&a).unwrap().id.as_deref(), Some("7"));
    }

    #[test]
    fn a_taken_name_gets_a_deterministic_suffix() {
        let mut d = dir(&[("1", "Acme", Some("001X"))]);
        d.taken.insert("acme (aaav)".into(), "Vendor".into());
        assert_eq!(d.free_name("Acme", "0015e00000ZzZzAAAV"), "Acme (ZzAAAV)");
        assert_eq!(d.free_name("Fresh", "001"), "Fresh");
    }
}
