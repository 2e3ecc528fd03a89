//! One Salesforce Account -> its QBO Customer, for the account flow and for an invoice whose
//! customer is missing. Before any create, the matching ladder: the stored link
//! -> the Account's `QBO_Customer_Id__c` -> the Salesforce Id noted on a QBO customer -> the
//! exact DisplayName across Customer, Vendor and Employee (inactive included) -> the normalized
//! name with the email domain or phone -> else create. A name taken by a vendor, an employee or
//! another account's customer gets a deterministic suffix instead of a 6240 failure.
//!
//! A match the ladder is not sure of (several customers on the rung that hits, or no rung but
//! customers with similar names) is neither linked nor created: the account goes to the
//! [`review_queue`](super::review_queue) and is reported `pending-review` until a person
//! decides (`review-ambiguous` = `first` keeps the ladder as it was: the first hit, no similar
//! names). A decision is applied here: link that customer, create one, or keep the account out.

use super::context::{Ctx, FlowResult};
use super::ids::{batch_request_id, content_hash, request_id};
use super::links::{self, AccountLink};
use super::matching::{self, normalized, same_domain, same_phone, Candidate, Rung};
use super::qbo_lists::QboLists;
use super::report::{Failure, Kind};
use super::review_queue::{self, Decision, Review, PENDING};
use super::settings::ReviewSettings;
use crate::clients::quickbooks::{BatchOp, BATCH_MAX};
use crate::clients::quickbooks_json::{customer, customer_json};
use crate::clients::salesforce::{soql_list, soql_literal};
use crate::clients::salesforce_fields::QBO_CUSTOMER_ID;
use crate::clients::salesforce_json::{account, ACCOUNT_FIELDS};
use crate::clients::ApiError;
use crate::mapping::account::display_name;
use crate::mapping::{map_account, AccountInput, CustomerChange};
use crate::model::{PartyField, PartySnapshot, QboCustomer, SfAccount};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};

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
    /// The account's review entry (a `create` decision), removed once the customer is linked.
    review: Option<Review>,
}

/// What the ladder's rungs after the link found for an account.
pub enum Ladder<'a> {
    /// One customer, and the rung it was found on.
    One(&'a QboCustomer, Rung),
    /// Several customers on the rung that hit, or only similar names: a person decides.
    Ambiguous(Vec<Candidate>),
    /// No customer: a new one is created.
    Nothing,
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

    /// Every customer, by id.
    pub fn customers(&self) -> impl Iterator<Item = &QboCustomer> {
        self.customers.values()
    }

    /// The first rung after the link that hits (noted Salesforce Id, exact name, normalized
    /// name + contact), with every customer it hits, by id.
    fn hits(&self, a: &SfAccount) -> Vec<(Rung, &QboCustomer)> {
        let noted: Vec<_> = self
            .customers
            .values()
            .filter(|c| c.salesforce_id.as_deref() == Some(a.id.as_str()))
            .map(|c| (Rung::NotedSalesforceId, c))
            .collect();
        if !noted.is_empty() {
            return noted;
        }
        let free = |c: &&QboCustomer| c.salesforce_id.is_none();
        let name = display_name(&a.name).to_lowercase();
        let exact: Vec<_> = self
            .customers
            .values()
            .filter(free)
            .filter(|c| c.display_name.as_deref().map(str::to_lowercase) == Some(name.clone()))
            .map(|c| (Rung::ExactName, c))
            .collect();
        if !exact.is_empty() {
            return exact;
        }
        let key = normalized(&a.name);
        self.customers
            .values()
            .filter(free)
            .filter(|c| c.display_name.as_deref().map(normalized) == Some(key.clone()))
            .filter_map(|c| {
                if same_domain(c.email.as_deref(), a.email.as_deref()) {
                    Some((Rung::NameAndEmailDomain, c))
                } else if same_phone(c.phone.as_deref(), a.phone.as_deref()) {
                    Some((Rung::NameAndPhone, c))
                } else {
                    None
                }
            })
            .collect()
    }

    /// The ladder after the link as it was before the review queue: the first hit.
    #[cfg(test)]
    fn find(&self, a: &SfAccount) -> Option<&QboCustomer> {
        self.hits(a).first().map(|(_, c)| *c)
    }

    /// The ladder after the link: one customer on the first rung that hits; else, with
    /// `review.queue_ambiguous`, the candidates when that rung hits several, or the free
    /// customers whose names are at least `review.fuzzy_threshold` alike.
    pub fn ladder(&self, a: &SfAccount, review: &ReviewSettings) -> Ladder<'_> {
        if !review.queue_ambiguous {
            return match self.hits(a).first() {
                Some((rung, c)) => Ladder::One(c, *rung),
                None => Ladder::Nothing,
            };
        }
        match self.hits(a).as_slice() {
            [(rung, c)] => return Ladder::One(c, *rung),
            [] => {}
            several => {
                return Ladder::Ambiguous(
                    several
                        .iter()
                        .map(|(rung, c)| candidate(a, c, *rung))
                        .collect(),
                )
            }
        }
        if normalized(&a.name).is_empty() {
            return Ladder::Nothing;
        }
        let mut similar: Vec<Candidate> = self
            .customers
            .values()
            .filter(|c| c.salesforce_id.is_none())
            .filter(|c| {
                c.display_name
                    .as_deref()
                    .is_some_and(|n| !normalized(n).is_empty())
            })
            .map(|c| candidate(a, c, Rung::SimilarName))
            .filter(|c| c.score >= review.fuzzy_threshold)
            .collect();
        if similar.is_empty() {
            return Ladder::Nothing;
        }
        // The likeliest first; equal scores by id, so that the list reads the same every run.
        similar.sort_by(|x, y| y.score.total_cmp(&x.score));
        Ladder::Ambiguous(similar)
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

/// Customer `c` as a candidate for account `a`, found on `rung`.
pub fn candidate(a: &SfAccount, c: &QboCustomer, rung: Rung) -> Candidate {
    let name = c.display_name.clone().unwrap_or_default();
    Candidate {
        customer_id: c.id.clone().unwrap_or_default(),
        score: matching::similarity(&a.name, &name),
        name,
        rung,
    }
}

/// How an account's customer is found, before any mapping.
pub enum Resolution {
    /// Customer `customer_id`, found on `rung`; `customer` is `None` when QBO no longer has
    /// it (a new one is created, as for no match).
    Found {
        /// The QBO Customer Id.
        customer_id: String,
        /// The customer as QBO has it.
        customer: Option<Box<QboCustomer>>,
        /// Where it was found.
        rung: Rung,
    },
    /// No customer: a new one is created (`decided`: by a person, though candidates exist).
    New {
        /// A `review create` decision.
        decided: bool,
    },
    /// Waits for a person: the candidates.
    Review(Vec<Candidate>),
    /// A person decided to keep the account out of sync.
    Skipped,
}

/// Finds account `a`'s customer: a `skip` decision first, then the stored link, a `link` or
/// `create` decision, `QBO_Customer_Id__c`, and the [`Directory::ladder`]. Only reads (a linked
/// customer that is not in `dir` is read from QBO).
pub fn resolve(
    ctx: &Ctx<'_>,
    dir: &Directory,
    a: &SfAccount,
    link: Option<&AccountLink>,
    review: Option<&Review>,
) -> Result<Resolution, ApiError> {
    let decision = review.and_then(|r| r.decision.clone());
    if decision == Some(Decision::Skip) {
        return Ok(Resolution::Skipped);
    }
    let linked = match (link, decision) {
        (Some(l), _) => Some((l.qbo_id.clone(), Rung::StoredLink)),
        (None, Some(Decision::Link { customer })) => Some((customer, Rung::ReviewDecision)),
        (None, Some(Decision::Create)) => return Ok(Resolution::New { decided: true }),
        (None, _) => a
            .qbo_customer_id
            .clone()
            .map(|id| (id, Rung::CustomerIdField)),
    };
    if let Some((customer_id, rung)) = linked {
        let customer = match dir.get(&customer_id) {
            Some(c) => Some(c.clone()),
            None => ctx
                .qbo
                .read("Customer", &customer_id)?
                .map(|v| customer(&v)),
        }
        .map(Box::new);
        return Ok(Resolution::Found {
            customer_id,
            customer,
            rung,
        });
    }
    Ok(match dir.ladder(a, &ctx.settings.review) {
        Ladder::One(c, rung) => Resolution::Found {
            customer_id: c.id.clone().unwrap_or_default(),
            customer: Some(Box::new(c.clone())),
            rung,
        },
        Ladder::Ambiguous(candidates) => Resolution::Review(candidates),
        Ladder::Nothing => Resolution::New { decided: false },
    })
}

/// What syncing one account came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Synced {
    /// Linked to this QBO customer (in a dry run, a placeholder for one to be created).
    Customer(String),
    /// Waits in the review queue for a decision.
    PendingReview,
    /// Kept out of sync by a `skip` decision.
    ReviewSkipped,
    /// Nothing to link yet: failed (reported), or queued for a `/batch` create.
    Nothing,
}

impl Synced {
    fn customer(self) -> Option<String> {
        match self {
            Synced::Customer(id) => Some(id),
            _ => None,
        }
    }
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
                store_and_return(ctx, &p.account, id.clone(), p.snapshot, p.review)?;
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
    Ok(sync_attempt(ctx, dir, a, STALE_RETRIES)?.customer())
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
) -> Result<Synced, super::context::Abort> {
    let link = links::account_link(ctx, &a.id)?;
    let review = review_queue::entry(ctx, &a.id)?;
    let existing = match resolve(ctx, dir, a, link.as_ref(), review.as_ref()) {
        Ok(Resolution::Found { customer, .. }) => customer.map(|c| *c),
        Ok(Resolution::New { .. }) => None,
        Ok(Resolution::Review(candidates)) => {
            hold(ctx, a, review, candidates)?;
            return Ok(Synced::PendingReview);
        }
        Ok(Resolution::Skipped) => {
            review_queue::report_skipped(ctx, &a.id);
            return Ok(Synced::ReviewSkipped);
        }
        Err(e) => {
            ctx.report.failed("Account", &a.id, e.into());
            return Ok(Synced::Nothing);
        }
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
            return Ok(Synced::Nothing);
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
                return Ok(Synced::Customer(format!("(new customer {free})")));
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
                    review,
                });
                return Ok(Synced::Nothing);
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
                    return Ok(Synced::Nothing);
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
                return Ok(Synced::from(store_and_return(
                    ctx,
                    a,
                    u.id.clone(),
                    output.snapshot,
                    review,
                )?));
            }
            if ctx.dry_run() {
                ctx.report.updated(
                    "Account",
                    &a.id,
                    &u.id,
                    format!("would update {:?}", u.fields),
                );
                return Ok(Synced::Nothing);
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
                    return Ok(Synced::Nothing);
                }
            }
        }
    };
    if ctx.dry_run() || id.is_empty() {
        return Ok(Synced::from(Some(id).filter(|i| !i.is_empty())));
    }
    if let Some(c) = c {
        dir.add(c);
    }
    Ok(Synced::from(store_and_return(
        ctx,
        a,
        id,
        output.snapshot,
        review,
    )?))
}

impl From<Option<String>> for Synced {
    fn from(id: Option<String>) -> Self {
        id.map_or(Synced::Nothing, Synced::Customer)
    }
}

/// Queues account `a` for review with its current candidates (or keeps it queued) and reports
/// it pending.
fn hold(
    ctx: &mut Ctx<'_>,
    a: &SfAccount,
    review: Option<Review>,
    candidates: Vec<Candidate>,
) -> FlowResult {
    let mut entry = review.clone().unwrap_or_default();
    entry.account_name = a.name.clone();
    entry.candidates = candidates;
    if Some(&entry) != review.as_ref() {
        review_queue::put(ctx, &a.id, &entry)?;
    }
    ctx.report.coded(
        Kind::Skipped,
        "Account",
        &a.id,
        None,
        PENDING,
        entry.describe(),
    );
    Ok(())
}

fn store_and_return(
    ctx: &mut Ctx<'_>,
    a: &SfAccount,
    id: String,
    snapshot: PartySnapshot,
    review: Option<Review>,
) -> Result<Option<String>, super::context::Abort> {
    if ctx.dry_run() {
        return Ok(Some(id));
    }
    let link = AccountLink {
        qbo_id: id.clone(),
        snapshot: Some(snapshot),
    };
    links::store_account_link(ctx, &a.id, &link)?;
    if let Some(review) = review {
        reviewed(ctx, &a.id, &review)?;
    }
    Ok(Some(id))
}

/// Account `account_id` is linked now: its review entry goes, and the opportunities that
/// waited for it are invoiced by a run of their own.
fn reviewed(ctx: &mut Ctx<'_>, account_id: &str, review: &Review) -> FlowResult {
    review_queue::remove(ctx, account_id)?;
    if review.waiting.is_empty() {
        return Ok(());
    }
    let only: Vec<String> = review
        .waiting
        .iter()
        .map(|id| format!("Opportunity:{id}"))
        .collect();
    let args = json!({ "only": only }).to_string();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Err(e) = ctx.schedule.run_later(INVOICE_JOB, &args, &now) {
        ctx.report.skipped(
            "Schedule",
            INVOICE_JOB,
            None,
            format!("could not ask for the opportunities waiting for account {account_id}: {e}"),
        );
    }
    Ok(())
}

/// The job that invoices opportunities, asked to run for those that waited for a review.
const INVOICE_JOB: &str = "sync-invoices";

/// Rows of the accounts in the review queue that a run over `selected` should see again
/// although they have not changed: those with a `link` or `create` decision to apply, and, in a
/// run over every changed account (no `only`), those still pending, so that each such run
/// reports them.
pub fn queued_accounts(
    ctx: &Ctx<'_>,
    selected: &[Value],
) -> Result<Vec<Value>, super::context::Abort> {
    let seen: BTreeSet<&str> = selected
        .iter()
        .filter_map(|r| r.get("Id").and_then(Value::as_str))
        .collect();
    let ids: Vec<String> = review_queue::all(ctx)?
        .into_iter()
        .filter(|(id, _)| !seen.contains(id.as_str()))
        .filter(|(_, r)| match &r.decision {
            None => ctx.args.only.is_none(),
            Some(Decision::Skip) => false,
            Some(_) => true,
        })
        .map(|(id, _)| id)
        .collect();
    let mut rows = Vec::new();
    for chunk in ids.chunks(200) {
        rows.extend(ctx.sf.query(&format!(
            "SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id IN ({}) ORDER BY Id",
            soql_list(chunk)
        ))?);
    }
    Ok(rows)
}

/// The QBO customer of account `account_id`, syncing the account first when it has none:
/// [`Synced::Customer`], or why there is none (pending review, skipped, failed).
pub fn customer_for(
    ctx: &mut Ctx<'_>,
    dir: &mut Option<Directory>,
    account_id: &str,
) -> Result<Synced, super::context::Abort> {
    if let Some(link) = links::account_link(ctx, account_id)? {
        return Ok(Synced::Customer(link.qbo_id));
    }
    let rows = ctx.sf.query(&format!(
        "SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id = {}",
        soql_literal(account_id)
    ))?;
    let Some(a) = rows.first().and_then(account) else {
        return Ok(Synced::Nothing);
    };
    if dir.is_none() {
        *dir = Some(Directory::load(ctx)?);
    }
    let Some(d) = dir.as_mut() else {
        return Ok(Synced::Nothing);
    };
    let synced = sync_attempt(ctx, d, &a, STALE_RETRIES)?;
    if let Synced::Customer(id) = &synced {
        if !ctx.dry_run() && a.qbo_customer_id.as_deref() != Some(id.as_str()) {
            let _ = ctx
                .sf
                .update("Account", &a.id, &json!({QBO_CUSTOMER_ID: id}));
        }
    }
    Ok(synced)
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

    fn qbo(id: &str, name: &str, email: Option<&str>) -> QboCustomer {
        QboCustomer {
            id: Some(id.into()),
            display_name: Some(name.into()),
            email: email.map(str::to_string),
            ..Default::default()
        }
    }

    fn ids(ladder: Ladder<'_>) -> Vec<(String, Rung)> {
        match ladder {
            Ladder::One(c, rung) => vec![(c.id.clone().unwrap_or_default(), rung)],
            Ladder::Ambiguous(candidates) => candidates
                .into_iter()
                .map(|c| (c.customer_id, c.rung))
                .collect(),
            Ladder::Nothing => Vec::new(),
        }
    }

    #[test]
    fn several_customers_on_the_rung_that_hits_are_ambiguous_unless_the_first_is_wanted() {
        let mut d = Directory::default();
        d.add(qbo("7", "Granite Co.", Some("ap@granite.example")));
        d.add(qbo("9", "Granite LLC", Some("ar@granite.example")));
        d.add(qbo("12", "Granite Works", None));
        let a = SfAccount {
            email: Some("bob@granite.example".into()),
            ..sf("001E", "Granite, Inc")
        };
        let queue = ReviewSettings::default();
        assert_eq!(
            ids(d.ladder(&a, &queue)),
            vec![
                ("7".into(), Rung::NameAndEmailDomain),
                ("9".into(), Rung::NameAndEmailDomain)
            ]
        );
        let first = ReviewSettings {
            queue_ambiguous: false,
            ..queue.clone()
        };
        assert_eq!(
            ids(d.ladder(&a, &first)),
            vec![("7".into(), Rung::NameAndEmailDomain)]
        );
        // One hit on a rung is a match, whatever the similar names below it.
        let exact = sf("001F", "Granite Works");
        assert_eq!(
            ids(d.ladder(&exact, &queue)),
            vec![("12".into(), Rung::ExactName)]
        );
    }

    #[test]
    fn only_similar_names_are_candidates_above_the_threshold_the_likeliest_first() {
        let mut d = Directory::default();
        d.add(qbo("3", "Northwind Trading", None));
        d.add(qbo("4", "Northwind Traders Inc", None));
        d.add(qbo("5", "Southwind Traders", None));
        d.add(QboCustomer {
            salesforce_id: Some("001Z".into()),
            ..qbo("6", "Northwind Traders Ltd", None)
        });
        let a = sf("001N", "Northwind Traders");
        let queue = ReviewSettings::default();
        let Ladder::Ambiguous(candidates) = d.ladder(&a, &queue) else {
            panic!("not ambiguous");
        };
        // "Northwind Traders Inc" normalizes to the same name, but without a shared email
        // domain or phone it is only a similar name; customer 6 is another account's.
        assert_eq!(
            matching::list(&candidates),
            r#"4 "Northwind Traders Inc" (score 1.00, similar name); 3 "Northwind Trading" (score 0.93, similar name)"#
        );
        let strict = ReviewSettings {
            fuzzy_threshold: 0.95,
            ..queue.clone()
        };
        assert_eq!(
            ids(d.ladder(&a, &strict)),
            vec![("4".into(), Rung::SimilarName)]
        );
        let first = ReviewSettings {
            queue_ambiguous: false,
            ..queue
        };
        assert!(matches!(d.ladder(&a, &first), Ladder::Nothing));
    }

    #[test]
    fn a_taken_name_gets_a_deterministic_suffix() {
        let mut d = dir(&[("1", "Acme", Some("001X"))]);
        d.taken.insert("acme (aaav)".into(), "Vendor".into());
        assert_eq!(d.free_name("Acme", "0015e00000ZzZzAAAV"), "Acme (ZzAAAV)");
        assert_eq!(d.free_name("Fresh", "001"), "Fresh");
    }
}
