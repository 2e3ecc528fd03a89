//! The review job: the accounts in the review queue, and a person's decision about one of them.
//! `{"action": "list"}` reports each entry; `link`, `create` and `skip` record a decision in
//! the queue, which the account flow applies on its next run (asked for here, for `link` and
//! `create`).
//!
//! | action | report, per record (entity `Account`, record-id the Account Id) |
//! |---|---|
//! | `list` | skipped; code `pending-review`, detail `candidates for "<account>": <qbo id> "<name>" (score 0.87, <rung>); ...`; or, once decided, code `review-link` (target-id the customer), `review-create` or `review-skip` |
//! | `link`, `create`, `skip` | updated; the decision's code and target-id as in `list` |
//!
//! An account Salesforce does not have, a customer QBO does not have, and a decision the
//! links contradict are refused as invalid arguments naming the id.

use super::context::{Abort, Ctx};
use super::links;
use super::report::Kind;
use super::review_queue::{self, Decision, PENDING};
use crate::clients::salesforce::soql_literal;
use crate::clients::salesforce_json::{account, ACCOUNT_FIELDS};
use crate::clients::ApiError;
use crate::model::SfAccount;
use serde::Deserialize;
use serde_json::json;

/// What the job is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Report every entry (a variant with fields, so that extra ones are refused too).
    List {},
    /// Link `account` to QBO customer `customer`.
    Link {
        /// The Account Id.
        account: String,
        /// The QBO Customer Id.
        customer: String,
    },
    /// Create a new customer for `account`, though candidates exist.
    Create {
        /// The Account Id.
        account: String,
    },
    /// Keep `account` out of sync until a new decision.
    Skip {
        /// The Account Id.
        account: String,
    },
}

impl Action {
    /// Parses the job's arguments.
    pub fn parse(args: &str) -> Result<Self, String> {
        serde_json::from_str(args).map_err(|e| {
            format!(
                "arguments: {e}; review takes {{\"action\": \"list\"}}, \
                 {{\"action\": \"link\", \"account\": ..., \"customer\": ...}}, \
                 {{\"action\": \"create\", \"account\": ...}} or {{\"action\": \"skip\", \"account\": ...}}"
            )
        })
    }
}

/// Why the job did not do what it was asked.
#[derive(Debug)]
pub enum Refusal {
    /// The arguments name something that does not exist or contradicts the links.
    InvalidArgs(String),
    /// A read or the state failed.
    Abort(Abort),
}

impl From<ApiError> for Refusal {
    fn from(e: ApiError) -> Self {
        Refusal::Abort(e.into())
    }
}

impl From<String> for Refusal {
    fn from(e: String) -> Self {
        Refusal::Abort(e.into())
    }
}

impl From<Abort> for Refusal {
    fn from(e: Abort) -> Self {
        Refusal::Abort(e)
    }
}

/// The job that applies a decision.
const ACCOUNT_JOB: &str = "sync-accounts";

/// Runs `action`.
pub fn run(ctx: &mut Ctx<'_>, action: &Action) -> Result<(), Refusal> {
    let (account_id, decision) = match action {
        Action::List {} => return list(ctx),
        Action::Link { account, customer } => (
            account,
            Decision::Link {
                customer: customer.clone(),
            },
        ),
        Action::Create { account } => (account, Decision::Create),
        Action::Skip { account } => (account, Decision::Skip),
    };
    let a = salesforce_account(ctx, account_id)?;
    let link = links::account_link(ctx, &a.id)?;
    match (&decision, &link) {
        (Decision::Link { customer }, _) => check_customer(ctx, &a, customer)?,
        (Decision::Create, Some(l)) => {
            return Err(Refusal::InvalidArgs(format!(
                "account {} is already linked to customer {}",
                a.id, l.qbo_id
            )))
        }
        _ => {}
    }
    let mut entry = review_queue::entry(ctx, &a.id)?.unwrap_or_default();
    entry.account_name = a.name.clone();
    entry.decision = Some(decision.clone());
    review_queue::put(ctx, &a.id, &entry)?;
    let target = match &decision {
        Decision::Link { customer } => Some(customer.as_str()),
        _ => None,
    };
    ctx.report.coded(
        Kind::Updated,
        "Account",
        &a.id,
        target,
        decision.code(),
        entry.describe(),
    );
    if decision != Decision::Skip {
        ask_for_account_sync(ctx, &a.id);
    }
    Ok(())
}

/// Reports every entry, pending or decided.
fn list(ctx: &mut Ctx<'_>) -> Result<(), Refusal> {
    for (account_id, entry) in review_queue::all(ctx)? {
        let (code, target) = match &entry.decision {
            None => (PENDING, None),
            Some(d @ Decision::Link { customer }) => (d.code(), Some(customer.clone())),
            Some(d) => (d.code(), None),
        };
        ctx.report.coded(
            Kind::Skipped,
            "Account",
            &account_id,
            target.as_deref(),
            code,
            entry.describe(),
        );
    }
    Ok(())
}

/// Account `id` as Salesforce has it.
fn salesforce_account(ctx: &Ctx<'_>, id: &str) -> Result<SfAccount, Refusal> {
    let rows = ctx.sf.query(&format!(
        "SELECT {ACCOUNT_FIELDS} FROM Account WHERE Id = {}",
        soql_literal(id)
    ))?;
    rows.first()
        .and_then(account)
        .ok_or_else(|| Refusal::InvalidArgs(format!("account {id} is not in Salesforce")))
}

/// Refuses linking account `a` to `customer_id` when QBO has no such customer, or when the
/// account is linked to another customer, or the customer to (or noted for) another account.
fn check_customer(ctx: &Ctx<'_>, a: &SfAccount, customer_id: &str) -> Result<(), Refusal> {
    let refuse = |why: String| Err(Refusal::InvalidArgs(why));
    if let Some(l) = links::account_link(ctx, &a.id)? {
        if l.qbo_id != customer_id {
            return refuse(format!(
                "account {} is already linked to customer {}",
                a.id, l.qbo_id
            ));
        }
    }
    let Some(found) = ctx.qbo.read("Customer", customer_id)? else {
        return refuse(format!("customer {customer_id} is not in QBO"));
    };
    let noted = crate::clients::quickbooks_json::customer(&found).salesforce_id;
    let linked = links::account_of(ctx, customer_id)?;
    match (linked, noted) {
        (Some(other), _) | (None, Some(other)) if other != a.id => refuse(format!(
            "customer {customer_id} is already linked to account {other}"
        )),
        _ => Ok(()),
    }
}

/// Asks the host for an account run over account `id`, which applies the decision now rather
/// than at the account's next change.
fn ask_for_account_sync(ctx: &mut Ctx<'_>, id: &str) {
    let args = json!({ "only": [format!("Account:{id}")] }).to_string();
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    if let Err(e) = ctx.schedule.run_later(ACCOUNT_JOB, &args, &now) {
        ctx.report.skipped(
            "Schedule",
            ACCOUNT_JOB,
            None,
            format!("could not ask for an account sync of {id}: {e}; it applies on the next one"),
        );
    }
}

#[cfg(test)]
mod tests {
    use crate::flows::links::{account_key, AccountLink};
    use crate::flows::review_queue::{Decision, Review, PENDING};
    use crate::flows::state::{State, LINKS, REVIEW};
    use crate::flows::test_support::{
        assert_run, body, codes, outcomes, qbo_customer, qbo_entity, qbo_not_found, qbo_query,
        sf_account, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, JobError, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Delete, Get, Patch, Post};
    use serde_json::{json, Value};

    const ACME: &str = "001A000001AcmeAAA";

    /// Acme's Account: its normalized name and email domain fit two QBO customers.
    fn acme() -> Value {
        sf_account(ACME, "Acme, Inc.", Some("ops@acme.example"), None)
    }

    /// QBO's customers, vendors and employees.
    fn directory(routes: Routes) -> Routes {
        routes
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
    }

    /// A first account run has queued Acme for review.
    fn queued() -> MemoryPlatform {
        let platform = MemoryPlatform::routed(
            REALM,
            directory(Routes::new().on(Get, "FROM Account", |_| soql(json!([acme()])))),
        );
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_eq!(
            codes(&report),
            vec![(PENDING, "Account", ACME, Kind::Skipped)],
            "{:#?}",
            report.records
        );
        platform
    }

    /// The routes a decision about Acme reads: the Account, and customer 61.
    fn decision_reads() -> Routes {
        Routes::new()
            .on(Get, "FROM Account WHERE Id = '001A000001AcmeAAA'", |_| {
                soql(json!([acme()]))
            })
            .on(Get, "/customer/61", |_| {
                qbo_entity(
                    "Customer",
                    qbo_customer("61", "Acme LLC", Some("billing@acme.example")),
                )
            })
    }

    /// The next account run: Acme has not changed since the last one (its cursor is past
    /// it), so only its review entry brings it back, by id.
    fn next_account_run(routes: Routes) -> Routes {
        directory(
            routes
                .on(
                    Get,
                    "FROM Account WHERE Id IN ('001A000001AcmeAAA')",
                    |_| soql(json!([acme()])),
                )
                .on(Get, "FROM Account WHERE (SystemModstamp", |_| {
                    soql(json!([]))
                }),
        )
    }

    fn entry(platform: &MemoryPlatform) -> Option<Review> {
        State::new(&platform.kv).get(REVIEW, ACME).unwrap()
    }

    fn writes(platform: &MemoryPlatform) -> usize {
        [Post, Patch, Delete]
            .into_iter()
            .map(|m| platform.http.count(m, ""))
            .sum()
    }

    #[test]
    fn the_arguments_are_an_action_and_its_ids_and_nothing_else() {
        use super::Action;
        assert_eq!(Action::parse(r#"{"action": "list"}"#), Ok(Action::List {}));
        assert_eq!(
            Action::parse(r#"{"action": "skip", "account": "001A"}"#),
            Ok(Action::Skip {
                account: "001A".into()
            })
        );
        for wrong in [
            "",
            r#"{"action": "list", "account": "001A"}"#,
            r#"{"action": "create", "account": "001A", "customer": "58"}"#,
            r#"{"account": "001A"}"#,
        ] {
            assert!(Action::parse(wrong).is_err(), "{wrong}");
        }
    }

    #[test]
    fn the_list_shows_each_pending_account_with_its_candidates_and_each_decision() {
        let platform = queued().rerouted(decision_reads());
        let report = run_job(&platform.platform(), "review", r#"{"action": "list"}"#).unwrap();
        assert_eq!(
            codes(&report),
            vec![(PENDING, "Account", ACME, Kind::Skipped)]
        );
        assert_eq!(
            report.records[0].detail,
            r#"candidates for "Acme, Inc.": 58 "Acme Inc" (score 1.00, normalized name and email domain); 61 "Acme LLC" (score 1.00, normalized name and email domain)"#
        );
        run_job(
            &platform.platform(),
            "review",
            r#"{"action": "link", "account": "001A000001AcmeAAA", "customer": "61"}"#,
        )
        .unwrap();
        let report = run_job(&platform.platform(), "review", r#"{"action": "list"}"#).unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Account", ACME, Kind::Skipped, Some("61"))]
        );
        assert_eq!(report.records[0].code.as_deref(), Some("review-link"));
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
    }

    #[test]
    fn a_link_decision_is_applied_by_the_next_account_run_as_the_ladder_links() {
        let platform = queued().rerouted(decision_reads());
        let report = run_job(
            &platform.platform(),
            "review",
            r#"{"action": "link", "account": "001A000001AcmeAAA", "customer": "61"}"#,
        )
        .unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Account", ACME, Kind::Updated, Some("61"))]
        );
        assert_eq!(report.records[0].code.as_deref(), Some("review-link"));
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(writes(&platform), 0, "a decision only reads");
        assert_eq!(
            entry(&platform).unwrap().decision,
            Some(Decision::Link {
                customer: "61".into()
            })
        );
        // The host is asked for an account run over Acme now.
        let asked = platform.schedule.0.borrow().clone();
        assert_eq!(asked.len(), 1);
        assert_eq!(
            (asked[0].0.as_str(), asked[0].1.as_str()),
            ("sync-accounts", r#"{"only":["Account:001A000001AcmeAAA"]}"#)
        );

        let platform = platform.rerouted(next_account_run(
            Routes::new()
                .on(Post, "/customer?", |req| {
                    let mut c = body(req);
                    c["SyncToken"] = json!("1");
                    qbo_entity("Customer", c)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        ));
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Account", ACME, Kind::Updated, Some("61"))],
        );
        assert_eq!(
            platform.http.count(Post, "requestid=ll-cust-"),
            0,
            "no create"
        );
        let updates = platform
            .http
            .bodies(Post, "/customer?minorversion=75&requestid=ll-custu-");
        assert_eq!(updates.len(), 1);
        assert_eq!(
            (&updates[0]["Id"], &updates[0]["sparse"]),
            (&json!("61"), &json!(true))
        );
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"],
            json!([{"Id": ACME, "QBO_Customer_Id__c": "61", "attributes": {"type": "Account"}}])
        );
        let link: AccountLink = State::new(&platform.kv)
            .get(LINKS, &account_key(ACME))
            .unwrap()
            .unwrap();
        assert_eq!(link.qbo_id, "61");
        assert_eq!(
            entry(&platform),
            None,
            "decided and applied: out of the queue"
        );
    }

    #[test]
    fn a_create_decision_makes_a_new_customer_though_candidates_exist() {
        let platform = queued().rerouted(decision_reads());
        let report = run_job(
            &platform.platform(),
            "review",
            r#"{"action": "create", "account": "001A000001AcmeAAA"}"#,
        )
        .unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Account", ACME, Kind::Updated, None)]
        );
        assert_eq!(report.records[0].code.as_deref(), Some("review-create"));

        let platform = platform.rerouted(next_account_run(
            Routes::new()
                // A batch of one create goes as a plain create.
                .on(Post, "/customer?", |req| {
                    let mut c = body(req);
                    c["Id"] = json!("62");
                    c["SyncToken"] = json!("0");
                    qbo_entity("Customer", c)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        ));
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![("Account", ACME, Kind::Created, Some("62"))],
        );
        let created = platform.http.bodies(Post, "requestid=ll-cust-");
        assert_eq!(created.len(), 1);
        assert_eq!(created[0]["DisplayName"], "Acme, Inc.");
        assert_eq!(
            platform.http.bodies(Patch, "/composite/sobjects")[0]["records"][0]
                ["QBO_Customer_Id__c"],
            "62"
        );
        assert_eq!(entry(&platform), None);
    }

    #[test]
    fn a_skip_decision_keeps_the_account_out_of_every_run_until_a_new_decision() {
        let platform = queued().rerouted(decision_reads());
        let report = run_job(
            &platform.platform(),
            "review",
            r#"{"action": "skip", "account": "001A000001AcmeAAA"}"#,
        )
        .unwrap();
        assert_eq!(
            codes(&report),
            vec![("review-skip", "Account", ACME, Kind::Updated)]
        );
        assert!(platform.schedule.0.borrow().is_empty(), "nothing to apply");

        // Acme changes in Salesforce: read, and still kept out.
        let platform = platform.rerouted(directory(
            Routes::new().on(Get, "FROM Account", |_| soql(json!([acme()]))),
        ));
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_eq!(
            codes(&report),
            vec![("review-skip", "Account", ACME, Kind::Skipped)],
            "{:#?}",
            report.records
        );
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(writes(&platform), 0);
        assert!(State::new(&platform.kv)
            .get::<AccountLink>(LINKS, &account_key(ACME))
            .unwrap()
            .is_none());
    }

    #[test]
    fn a_decision_naming_an_unknown_or_taken_record_is_refused_naming_it() {
        let platform = queued().rerouted(
            decision_reads()
                .on(Get, "FROM Account WHERE Id = '001A00000NobodyAA'", |_| {
                    soql(json!([]))
                })
                .on(Get, "/customer/99", |_| qbo_not_found())
                .on(Get, "/customer/70", |_| {
                    let mut c = qbo_customer("70", "Acme Holdings", None);
                    c["Notes"] = json!("Salesforce Id: 001A000001OtherAAA");
                    qbo_entity("Customer", c)
                }),
        );
        let refused = |args: &str| match run_job(&platform.platform(), "review", args) {
            Err(JobError::InvalidArgs(why)) => why,
            other => panic!("{args}: {other:?}"),
        };
        let why =
            refused(r#"{"action": "link", "account": "001A00000NobodyAA", "customer": "61"}"#);
        assert!(why.contains("account 001A00000NobodyAA"), "{why}");
        let why = refused(r#"{"action": "skip", "account": "001A00000NobodyAA"}"#);
        assert!(why.contains("001A00000NobodyAA"), "{why}");
        let why =
            refused(r#"{"action": "link", "account": "001A000001AcmeAAA", "customer": "99"}"#);
        assert!(why.contains("customer 99"), "{why}");
        let why =
            refused(r#"{"action": "link", "account": "001A000001AcmeAAA", "customer": "70"}"#);
        assert!(
            why.contains("customer 70") && why.contains("001A000001OtherAAA"),
            "{why}"
        );
        let why = refused(r#"{"action": "link", "account": "001A000001AcmeAAA"}"#);
        assert!(why.contains("customer"), "{why}");
        let why = refused(r#"{"action": "merge", "account": "001A000001AcmeAAA"}"#);
        assert!(why.contains("merge"), "{why}");
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(entry(&platform).unwrap().decision, None, "still pending");

        // An account linked already takes no create and no link to another customer.
        State::new(&platform.kv)
            .put(
                LINKS,
                &account_key(ACME),
                &AccountLink {
                    qbo_id: "58".into(),
                    snapshot: None,
                },
            )
            .unwrap();
        let why = refused(r#"{"action": "create", "account": "001A000001AcmeAAA"}"#);
        assert!(why.contains("already linked to customer 58"), "{why}");
        let why =
            refused(r#"{"action": "link", "account": "001A000001AcmeAAA", "customer": "61"}"#);
        assert!(why.contains("already linked to customer 58"), "{why}");
    }
}
