//! The audit before a launch (`ledgerlink audit`): reads every Account, Product2 and Closed Won
//! Opportunity and the QBO customers and items, writes nothing anywhere (no QBO or Salesforce
//! write, no link, no review entry, no cursor, no notification; it runs as a dry run), and
//! reports one outcome per finding. A record may have several findings. The codes, for a
//! client to group them:
//!
//! | code | outcome | entity, record-id | target-id | detail |
//! |---|---|---|---|---|
//! | `duplicate-qbo-customer` | failed | `Customer`, a QBO id | - | `duplicates <id> "<name>" (same <what>); ...` |
//! | `duplicate-salesforce-account` | failed | `Account`, an Account Id | - | as above, with Account Ids |
//! | `would-link` | skipped | `Account` | the QBO customer | `<id> "<name>" (score 0.93, <rung>)` |
//! | `would-create` | skipped | `Account` | - | `would create customer "<name>"`, and why when not for want of a match |
//! | `ambiguous` | failed | `Account` | - | `candidates for "<account>": <id> "<name>" (score 0.87, <rung>); ...` |
//! | `review-skip` | skipped | `Account` | - | kept out of sync by a review decision |
//! | `product-without-item` | skipped | `Product2` | - | no QBO item has its Sku or name; the sync would create one |
//! | `would-refuse` | failed | `Opportunity` (or the `Account` it needs) | - | the reason the sync would refuse it |
//!
//! Failed marks what a person should fix before the launch: merge or retire a duplicate, decide
//! an ambiguous match (`review link|create|skip`), fix a record the sync would refuse. Skipped
//! is information: what the first sync will do. Duplicates share a normalized name or a phone
//! number (seven digits or more); `<what>` also names a shared email domain. Inactive QBO
//! customers are left out of the duplicates. `<rung>` is one of: stored link, review decision,
//! `QBO_Customer_Id__c`, noted Salesforce Id, exact name, normalized name and email domain,
//! normalized name and phone, similar name. Any other code is a read that failed (retryable or
//! not, as in every job): the audit is incomplete there.

use super::context::{Ctx, FlowResult};
use super::customers::{self, Directory, Resolution};
use super::items::Catalog;
use super::links;
use super::matching::{self, normalized, phone_digits};
use super::report::{Failure, Kind};
use super::review_queue;
use super::salesforce_io::select;
use crate::clients::salesforce_json::{account, product, ACCOUNT_FIELDS, PRODUCT_FIELDS};
use crate::mapping::account::display_name;
use crate::mapping::{map_account, AccountInput};
use crate::model::{QboCustomer, SfAccount};
use std::collections::{BTreeMap, BTreeSet};

/// A QBO customer of the same party as another.
pub const DUPLICATE_QBO_CUSTOMER: &str = "duplicate-qbo-customer";
/// A Salesforce Account of the same party as another.
pub const DUPLICATE_SALESFORCE_ACCOUNT: &str = "duplicate-salesforce-account";
/// An account the ladder would link, and on which rung.
pub const WOULD_LINK: &str = "would-link";
/// An account the sync would make a new customer for.
pub const WOULD_CREATE: &str = "would-create";
/// An account the ladder would queue for review.
pub const AMBIGUOUS: &str = "ambiguous";
/// A product no QBO item matches.
pub const PRODUCT_WITHOUT_ITEM: &str = "product-without-item";
/// A record the sync would refuse.
pub const WOULD_REFUSE: &str = "would-refuse";

/// Plans the invoices as a dry run (the invoice flow, passed in by the job's front door: no
/// flow uses another).
pub type PlanInvoices = fn(&mut Ctx<'_>) -> FlowResult;

/// The audit; `ctx` must be a dry run over every record.
pub fn run(ctx: &mut Ctx<'_>, plan_invoices: PlanInvoices) -> FlowResult {
    if !ctx.dry_run() {
        return Err(String::from("the audit runs only as a dry run").into());
    }
    let rows = select(ctx, "Account", ACCOUNT_FIELDS, "")?;
    let accounts: Vec<SfAccount> = rows.iter().filter_map(account).collect();
    let dir = Directory::load(ctx)?;
    duplicate_customers(ctx, &dir);
    duplicate_accounts(ctx, &accounts);
    for a in &accounts {
        account_findings(ctx, &dir, a)?;
    }
    products_without_items(ctx)?;
    refusals(ctx, plan_invoices)
}

/// A party as the duplicate check sees it.
struct Party<'a> {
    id: &'a str,
    name: &'a str,
    email: Option<&'a str>,
    phone: Option<&'a str>,
}

/// Each party that shares a normalized name or a phone with others, with those others and what
/// they share.
fn duplicates<'a>(parties: &[Party<'a>]) -> Vec<(&'a str, String)> {
    let mut by_name: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut by_phone: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, p) in parties.iter().enumerate() {
        let name = normalized(p.name);
        if !name.is_empty() {
            by_name.entry(name).or_default().push(i);
        }
        if let Some(phone) = phone_digits(p.phone) {
            by_phone.entry(phone).or_default().push(i);
        }
    }
    let mut others: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
    for group in by_name.values().chain(by_phone.values()) {
        for &i in group {
            for &j in group.iter().filter(|&&j| j != i) {
                others.entry(i).or_default().insert(j);
            }
        }
    }
    others
        .into_iter()
        .map(|(i, js)| {
            let p = &parties[i];
            let listed: Vec<String> = js
                .into_iter()
                .map(|j| {
                    let q = &parties[j];
                    let mut shared = Vec::new();
                    if normalized(p.name) == normalized(q.name) {
                        shared.push("normalized name");
                    }
                    if matching::same_domain(p.email, q.email) {
                        shared.push("email domain");
                    }
                    if matching::same_phone(p.phone, q.phone) {
                        shared.push("phone");
                    }
                    format!("{} {:?} (same {})", q.id, q.name, shared.join(" and "))
                })
                .collect();
            (p.id, format!("duplicates {}", listed.join("; ")))
        })
        .collect()
}

fn duplicate_customers(ctx: &mut Ctx<'_>, dir: &Directory) {
    let active: Vec<&QboCustomer> = dir
        .customers()
        .filter(|c| c.active != Some(false))
        .collect();
    let parties: Vec<Party<'_>> = active
        .iter()
        .filter_map(|c| {
            Some(Party {
                id: c.id.as_deref()?,
                name: c.display_name.as_deref()?,
                email: c.email.as_deref(),
                phone: c.phone.as_deref(),
            })
        })
        .collect();
    for (id, detail) in duplicates(&parties) {
        ctx.report.coded(
            Kind::Failed,
            "Customer",
            id,
            None,
            DUPLICATE_QBO_CUSTOMER,
            detail,
        );
    }
}

fn duplicate_accounts(ctx: &mut Ctx<'_>, accounts: &[SfAccount]) {
    let parties: Vec<Party<'_>> = accounts
        .iter()
        .map(|a| Party {
            id: &a.id,
            name: &a.name,
            email: a.email.as_deref(),
            phone: a.phone.as_deref(),
        })
        .collect();
    for (id, detail) in duplicates(&parties) {
        ctx.report.coded(
            Kind::Failed,
            "Account",
            id,
            None,
            DUPLICATE_SALESFORCE_ACCOUNT,
            detail,
        );
    }
}

/// What the account sync would do with account `a`, by the same [`customers::resolve`].
fn account_findings(ctx: &mut Ctx<'_>, dir: &Directory, a: &SfAccount) -> FlowResult {
    let link = links::account_link(ctx, &a.id)?;
    let review = review_queue::entry(ctx, &a.id)?;
    let new_name = || dir.free_name(&display_name(&a.name), &a.id);
    let (existing, kind, target, code, detail) =
        match customers::resolve(ctx, dir, a, link.as_ref(), review.as_ref()) {
            Err(e) => {
                ctx.report.failed("Account", &a.id, e.into());
                return Ok(());
            }
            Ok(Resolution::Found {
                customer_id,
                customer: Some(c),
                rung,
            }) => (
                Some(*c.clone()),
                Kind::Skipped,
                Some(customer_id),
                WOULD_LINK,
                customers::candidate(a, &c, rung).to_string(),
            ),
            Ok(Resolution::Found {
                customer_id,
                customer: None,
                rung,
            }) => (
                None,
                Kind::Skipped,
                None,
                WOULD_CREATE,
                format!(
                    "would create customer {:?}: customer {customer_id} ({rung}) is not in QBO",
                    new_name()
                ),
            ),
            Ok(Resolution::New { decided }) => (
                None,
                Kind::Skipped,
                None,
                WOULD_CREATE,
                format!(
                    "would create customer {:?}{}",
                    new_name(),
                    if decided { " (review decision)" } else { "" }
                ),
            ),
            Ok(Resolution::Review(candidates)) => {
                let detail = format!(
                    "candidates for {:?}: {}",
                    a.name,
                    matching::list(&candidates)
                );
                ctx.report
                    .coded(Kind::Failed, "Account", &a.id, None, AMBIGUOUS, detail);
                return Ok(());
            }
            Ok(Resolution::Skipped) => {
                review_queue::report_skipped(ctx, &a.id);
                return Ok(());
            }
        };
    ctx.report
        .coded(kind, "Account", &a.id, target.as_deref(), code, detail);
    // The mapping's own refusals (an account the sync would fail).
    let input = AccountInput {
        account: a.clone(),
        existing,
        last_synced: link.and_then(|l| l.snapshot),
        rules: ctx.settings.field_rules.clone(),
    };
    if let Err(e) = map_account(&input) {
        let detail = Failure::Mapping(e).to_string();
        ctx.report
            .coded(Kind::Failed, "Account", &a.id, None, WOULD_REFUSE, detail);
    }
    Ok(())
}

/// Products neither linked nor matched by Sku or name to a QBO item.
fn products_without_items(ctx: &mut Ctx<'_>) -> FlowResult {
    let rows = select(ctx, "Product2", PRODUCT_FIELDS, "")?;
    let catalog = Catalog::load(ctx)?;
    for (p, _) in rows.iter().filter_map(product) {
        if links::item_of(ctx, &p.id)?.is_some() || catalog.find(&p).is_some() {
            continue;
        }
        let sku = p
            .product_code
            .as_deref()
            .map(|code| format!("its Sku {code:?} or "))
            .unwrap_or_default();
        ctx.report.coded(
            Kind::Skipped,
            "Product2",
            &p.id,
            None,
            PRODUCT_WITHOUT_ITEM,
            format!(
                "no QBO item has {sku}its name {:?}; the sync would create one",
                p.name
            ),
        );
    }
    Ok(())
}

/// The invoice flow's plan, as a dry run: what it would refuse becomes a `would-refuse`
/// finding (once per record and reason); a read that failed is kept as it is; the rest (what
/// it would create or update) is not a finding.
fn refusals(ctx: &mut Ctx<'_>, plan_invoices: PlanInvoices) -> FlowResult {
    let findings = std::mem::take(&mut ctx.report);
    let outcome = plan_invoices(ctx);
    let planned = std::mem::replace(&mut ctx.report, findings);
    if ctx.report.throttled_until.is_none() {
        ctx.report.throttled_until = planned.throttled_until;
    }
    for r in planned.records {
        if r.kind != Kind::Failed {
            continue;
        }
        if r.retryable {
            ctx.report.records.push(r);
            continue;
        }
        let known = ctx.report.records.iter().any(|f| {
            f.entity == r.entity
                && f.record_id == r.record_id
                && f.code.as_deref() == Some(WOULD_REFUSE)
                && f.detail == r.detail
        });
        if !known {
            ctx.report.coded(
                Kind::Failed,
                &r.entity,
                &r.record_id,
                None,
                WOULD_REFUSE,
                r.detail,
            );
        }
    }
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_share_a_normalized_name_or_a_phone_and_name_a_shared_domain_too() {
        let party = |id, name, email, phone| Party {
            id,
            name,
            email,
            phone,
        };
        let parties = [
            party("1", "Acme, Inc.", Some("ap@acme.example"), None),
            party("2", "ACME LLC", Some("bob@acme.example"), None),
            party("3", "Beta Labs", None, Some("(415) 555-0100")),
            party("4", "Gamma", None, Some("415 555 0100")),
            party("5", "Delta", Some("x@acme.example"), None),
        ];
        assert_eq!(
            duplicates(&parties),
            vec![
                (
                    "1",
                    r#"duplicates 2 "ACME LLC" (same normalized name and email domain)"#.into()
                ),
                (
                    "2",
                    r#"duplicates 1 "Acme, Inc." (same normalized name and email domain)"#.into()
                ),
                ("3", r#"duplicates 4 "Gamma" (same phone)"#.into()),
                ("4", r#"duplicates 3 "Beta Labs" (same phone)"#.into()),
            ]
        );
    }

    use crate::flows::state::{State, CURSORS, LINKS, REVIEW};
    use crate::flows::test_support::{codes, qbo_customer, qbo_query, sf_account, soql, REALM};
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Delete, Get, Patch, Post};
    use serde_json::{json, Value};

    const ACME: &str = "001A000001AcmeAAA";
    const BETA: &str = "001A000001BetaAAA";
    const DELTA: &str = "001A00000DeltaAAA";
    const GAMMA: &str = "001A00000GammaAAA";
    const GAMMA_TOO: &str = "001A00000GammaBBB";
    const WIDGET: &str = "01tA00000WidgetP";
    const GADGET: &str = "01tA00000GadgetX";
    const NO_ACCOUNT: &str = "006A000001LostAAA";
    const ACME_DEAL: &str = "006A000001AcmeAAA";

    fn product(id: &str, name: &str, code: &str) -> Value {
        json!({"attributes": {"type": "Product2"}, "Id": id, "Name": name, "ProductCode": code,
            "Description": null, "Family": null, "IsActive": true, "QBO_Item_Id__c": null,
            "SystemModstamp": "2026-03-01T10:00:00.000+0000",
            "PricebookEntries": {"totalSize": 1, "done": true, "records": [
                {"attributes": {"type": "PricebookEntry"}, "Id": format!("01u{id}"),
                 "UnitPrice": 25, "IsActive": true}]}})
    }

    fn deal(id: &str, account: Option<&str>) -> Value {
        json!({"attributes": {"type": "Opportunity"}, "Id": id, "Name": "4 seats",
            "AccountId": account, "StageName": "Closed Won", "CloseDate": "2026-02-27",
            "Amount": 25, "IsWon": true, "IsClosed": true, "Description": null,
            "QBO_Invoice_Id__c": null, "QBO_Invoice_Number__c": null,
            "Payment_Status__c": null, "SystemModstamp": "2026-02-27T18:00:00.000+0000",
            "Account": {"Email__c": null, "Payment_Terms__c": null, "Tax_Exempt__c": false},
            "Owner": {"Name": "Ada Lovelace"}, "OpportunityContactRoles": null,
            "OpportunityLineItems": {"totalSize": 1, "done": true, "records": [
                {"attributes": {"type": "OpportunityLineItem"}, "Id": format!("00k{id}"),
                 "Product2Id": GADGET, "ProductCode": "GAD-9", "Name": "line", "Description": null,
                 "Quantity": 1, "UnitPrice": 25, "TotalPrice": 25, "Discount": null,
                 "ServiceDate": null, "SortOrder": null, "Product2": {"Family": null}}]}})
    }

    /// Both systems before a launch: QBO has two customers for Acme, Beta Labs under its
    /// exact name, Delta Works (which its Account names) and the Gadget item; Salesforce has
    /// Gamma twice, a product QBO has no item for, a deal without an account and one of Acme.
    fn before_launch() -> Routes {
        let acme = sf_account(ACME, "Acme, Inc.", Some("ops@acme.example"), None);
        let acme_again = acme.clone();
        Routes::new()
            .on(
                Get,
                "FROM Account WHERE Id = '001A000001AcmeAAA'",
                move |_| soql(json!([acme_again])),
            )
            .on(Get, "FROM Account", move |_| {
                soql(json!([
                    acme,
                    sf_account(BETA, "Beta Labs", None, None),
                    sf_account(DELTA, "Delta Works", None, Some("80")),
                    sf_account(GAMMA, "Gamma Corp", Some("ap@gamma.example"), None),
                    sf_account(GAMMA_TOO, "Gamma Corporation", None, None),
                ]))
            })
            .on(Get, "select * from Customer", |_| {
                qbo_query(
                    "Customer",
                    json!([
                        qbo_customer("58", "Acme Inc", Some("ap@acme.example")),
                        qbo_customer("61", "Acme LLC", Some("billing@acme.example")),
                        qbo_customer("70", "Beta Labs", None),
                        qbo_customer("80", "Delta Works", None),
                    ]),
                )
            })
            .on(Get, "select * from Vendor", |_| {
                qbo_query("Vendor", json!([]))
            })
            .on(Get, "select * from Employee", |_| {
                qbo_query("Employee", json!([]))
            })
            .on(Get, "FROM Product2", |_| {
                soql(json!([
                    product(WIDGET, "Widget Pro", "WP-1"),
                    product(GADGET, "Gadget", "GAD-9")
                ]))
            })
            .on(Get, "select * from Item", |_| {
                qbo_query(
                    "Item",
                    json!([{"Id": "12", "SyncToken": "4", "Name": "Gadget 9000", "Sku": "GAD-9",
                        "Type": "Service", "UnitPrice": 25.00, "Active": true,
                        "IncomeAccountRef": {"value": "1", "name": "Services"}}]),
                )
            })
            .json(
                Get,
                "/sobjects/Opportunity/describe",
                200,
                json!({"name": "Opportunity", "fields": [{"name": "Id"}, {"name": "Amount"}]}),
            )
            .on(Get, "FROM Opportunity WHERE IsWon = true", |_| {
                soql(json!([deal(NO_ACCOUNT, None), deal(ACME_DEAL, Some(ACME))]))
            })
            .on(Get, "select * from Invoice where DocNumber in", |_| {
                qbo_query("Invoice", json!([]))
            })
    }

    #[test]
    fn the_audit_lists_duplicates_matches_ambiguities_products_and_refusals_and_writes_nothing() {
        let platform = MemoryPlatform::routed(REALM, before_launch());
        let report = run_job(&platform.platform(), "audit", "").unwrap();
        let found = codes(&report);
        assert_eq!(
            found,
            vec![
                (DUPLICATE_QBO_CUSTOMER, "Customer", "58", Kind::Failed),
                (DUPLICATE_QBO_CUSTOMER, "Customer", "61", Kind::Failed),
                (DUPLICATE_SALESFORCE_ACCOUNT, "Account", GAMMA, Kind::Failed),
                (
                    DUPLICATE_SALESFORCE_ACCOUNT,
                    "Account",
                    GAMMA_TOO,
                    Kind::Failed
                ),
                (AMBIGUOUS, "Account", ACME, Kind::Failed),
                (WOULD_LINK, "Account", BETA, Kind::Skipped),
                (WOULD_LINK, "Account", DELTA, Kind::Skipped),
                (WOULD_CREATE, "Account", GAMMA, Kind::Skipped),
                (WOULD_CREATE, "Account", GAMMA_TOO, Kind::Skipped),
                (PRODUCT_WITHOUT_ITEM, "Product2", WIDGET, Kind::Skipped),
                (WOULD_REFUSE, "Opportunity", NO_ACCOUNT, Kind::Failed),
            ],
            "{:#?}\n{:#?}",
            report.records,
            platform.http.requests()
        );
        let detail = |code: &str, id: &str| {
            report
                .records
                .iter()
                .find(|r| r.code.as_deref() == Some(code) && r.record_id == id)
                .map(|r| (r.detail.clone(), r.target_id.clone()))
                .unwrap()
        };
        assert_eq!(
            detail(DUPLICATE_QBO_CUSTOMER, "58").0,
            r#"duplicates 61 "Acme LLC" (same normalized name and email domain)"#
        );
        assert_eq!(
            detail(DUPLICATE_SALESFORCE_ACCOUNT, GAMMA).0,
            format!(r#"duplicates {GAMMA_TOO} "Gamma Corporation" (same normalized name)"#)
        );
        assert_eq!(
            detail(AMBIGUOUS, ACME).0,
            r#"candidates for "Acme, Inc.": 58 "Acme Inc" (score 1.00, normalized name and email domain); 61 "Acme LLC" (score 1.00, normalized name and email domain)"#
        );
        assert_eq!(
            detail(WOULD_LINK, BETA),
            (
                r#"70 "Beta Labs" (score 1.00, exact name)"#.to_string(),
                Some("70".to_string())
            )
        );
        assert_eq!(
            detail(WOULD_LINK, DELTA),
            (
                r#"80 "Delta Works" (score 1.00, QBO_Customer_Id__c)"#.to_string(),
                Some("80".to_string())
            )
        );
        assert_eq!(
            detail(WOULD_CREATE, GAMMA).0,
            r#"would create customer "Gamma Corp""#
        );
        assert!(detail(PRODUCT_WITHOUT_ITEM, WIDGET)
            .0
            .contains(r#"Sku "WP-1""#));
        assert!(
            detail(WOULD_REFUSE, NO_ACCOUNT)
                .0
                .contains("AccountId is empty"),
            "{:?}",
            detail(WOULD_REFUSE, NO_ACCOUNT)
        );
        // Acme's deal was planned: its account is ambiguous, which is no refusal of the deal.
        assert_eq!(
            platform
                .http
                .count(Get, "FROM Account WHERE Id = '001A000001AcmeAAA'"),
            1
        );
        // Only reads: every request scripted, none of them a write, nothing stored.
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        for method in [Post, Patch, Delete] {
            assert_eq!(platform.http.count(method, ""), 0, "{method:?}");
        }
        let state = State::new(&platform.kv);
        for bucket in [LINKS, REVIEW, CURSORS] {
            assert_eq!(
                state.keys(bucket, "").unwrap(),
                Vec::<String>::new(),
                "{bucket}"
            );
        }
        assert!(platform.schedule.0.borrow().is_empty());
    }

    #[test]
    fn the_audit_is_a_dry_run_whatever_it_is_passed() {
        let platform = MemoryPlatform::routed(REALM, before_launch());
        let report = run_job(
            &platform.platform(),
            "audit",
            r#"{"dry-run": false, "only": ["001A000001AcmeAAA"]}"#,
        )
        .unwrap();
        assert_eq!(report.records.len(), 11, "{:#?}", report.records);
        for method in [Post, Patch, Delete] {
            assert_eq!(platform.http.count(method, ""), 0, "{method:?}");
        }
    }
}
