//! The account flow: Salesforce Accounts changed since the cursor (or `only`, or all with
//! `full`) -> QBO Customers, each through [`customers::sync_one`] (the matching ladder before
//! any create), creates sent in `/batch`, the new ids written back to the Accounts. Accounts in
//! the review queue are read again by id when a decision waits to be applied (and, in a run
//! over every change, while they are pending, so that each such run reports them).

use super::context::{Ctx, FlowResult};
use super::customers::{self, Directory};
use super::salesforce_io::{advance_modstamp, select, write_back};
use crate::clients::salesforce_fields::QBO_CUSTOMER_ID;
use crate::clients::salesforce_json::{account, ACCOUNT_FIELDS};
use serde_json::json;

/// Accounts changed since the cursor (or `only`, or all with `full`).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let selected = select(ctx, "Account", ACCOUNT_FIELDS, "")?;
    // Not part of the cursor: they are older than it.
    let queued = customers::queued_accounts(ctx, &selected)?;
    let rows: Vec<_> = selected.iter().chain(&queued).collect();
    let mut dir = Directory::load(ctx)?;
    dir.batch_creates();
    let mut writebacks = Vec::new();
    ctx.progress("Account", 0, rows.len());
    for (n, row) in rows.iter().enumerate() {
        let Some(a) = account(row) else { continue };
        if let Some(id) = customers::sync_one(ctx, &mut dir, &a)? {
            if a.qbo_customer_id.as_deref() != Some(id.as_str()) {
                writebacks.push(json!({"Id": a.id, QBO_CUSTOMER_ID: id}));
            }
        }
        if dir.batch_full() {
            customers::flush(ctx, &mut dir, &mut writebacks)?;
            ctx.progress("Account", n + 1, rows.len());
        }
    }
    customers::flush(ctx, &mut dir, &mut writebacks)?;
    ctx.progress("Account", rows.len(), rows.len());
    write_back(ctx, "Account", &writebacks);
    advance_modstamp(ctx, "Account", &selected)
}

#[cfg(test)]
mod tests {
    use crate::flows::links::{account_key, AccountLink};
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{
        assert_run, outcomes, qbo_batch_created, qbo_query, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use serde_json::{json, Value};

    fn account(id: &str, name: &str, customer: Option<&str>) -> Value {
        json!({"attributes": {"type": "Account", "url": format!("/services/data/v61.0/sobjects/Account/{id}")},
            "Id": id, "Name": name, "BillingStreet": "1 Market St", "BillingCity": "San Francisco",
            "BillingState": "CA", "BillingPostalCode": "94105", "BillingCountry": "USA",
            "Phone": "(415) 555-0100", "Email__c": "ap@example.com", "QBO_Customer_Id__c": customer,
            "Payment_Terms__c": null, "Tax_Exempt__c": false,
            "SystemModstamp": "2026-03-01T10:00:00.000+0000"})
    }

    #[test]
    fn new_accounts_become_customers_in_one_batch_are_linked_written_back_and_a_rerun_creates_none()
    {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Account", |_| {
                    soql(json!([
                        account("001A000001AcmeAAA", "Acme Widgets", None),
                        account("001A000001BetaAAA", "Beta Labs", None)
                    ]))
                })
                .on(Get, "select * from Customer", |_| {
                    qbo_query("Customer", json!([]))
                })
                .on(Get, "select * from Vendor", |_| {
                    qbo_query("Vendor", json!([]))
                })
                .on(Get, "select * from Employee", |_| {
                    qbo_query("Employee", json!([]))
                })
                .on(Post, "/batch?", |req| {
                    qbo_batch_created(req, "Customer", 58)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Account", "001A000001AcmeAAA", Kind::Created, Some("58")),
                ("Account", "001A000001BetaAAA", Kind::Created, Some("59")),
            ],
        );
        // Both creates in one /batch whose requestid QBO replays if the answer is lost.
        let batches = platform
            .http
            .bodies(Post, "/batch?minorversion=75&requestid=ll-cust-");
        assert_eq!(batches.len(), 1, "{:#?}", platform.http.requests());
        let items = batches[0]["BatchItemRequest"].as_array().unwrap();
        assert_eq!(items.len(), 2);
        assert_eq!(items[0]["operation"], "create");
        assert_eq!(items[0]["Customer"]["DisplayName"], "Acme Widgets");
        assert_eq!(
            items[0]["Customer"]["Notes"],
            "Salesforce Id: 001A000001AcmeAAA"
        );
        assert_eq!(items[1]["Customer"]["DisplayName"], "Beta Labs");
        // The new ids go back to the Accounts in one collection request.
        let writes = platform
            .http
            .bodies(Patch, "/services/data/v61.0/composite/sobjects");
        assert_eq!(writes.len(), 1);
        assert_eq!(
            writes[0]["records"],
            json!([
                {"Id": "001A000001AcmeAAA", "QBO_Customer_Id__c": "58", "attributes": {"type": "Account"}},
                {"Id": "001A000001BetaAAA", "QBO_Customer_Id__c": "59", "attributes": {"type": "Account"}}
            ])
        );
        let link: AccountLink = State::new(&platform.kv)
            .get(LINKS, &account_key("001A000001AcmeAAA"))
            .unwrap()
            .unwrap();
        assert_eq!(link.qbo_id, "58");

        // The write-back moves SystemModstamp, so the next run reads both accounts again.
        let created = batches[0]["BatchItemRequest"].clone();
        let platform = platform.rerouted(
            Routes::new()
                .on(Get, "FROM Account", |_| {
                    soql(json!([
                        account("001A000001AcmeAAA", "Acme Widgets", Some("58")),
                        account("001A000001BetaAAA", "Beta Labs", Some("59"))
                    ]))
                })
                .on(Get, "select * from Customer", move |_| {
                    let rows: Vec<Value> = created
                        .as_array()
                        .unwrap()
                        .iter()
                        .zip(58..)
                        .map(|(item, id)| {
                            let mut c = item["Customer"].clone();
                            c["Id"] = json!(id.to_string());
                            c["SyncToken"] = json!("0");
                            c["Active"] = json!(true);
                            c
                        })
                        .collect();
                    qbo_query("Customer", Value::Array(rows))
                })
                .on(Get, "select * from Vendor", |_| {
                    qbo_query("Vendor", json!([]))
                })
                .on(Get, "select * from Employee", |_| {
                    qbo_query("Employee", json!([]))
                }),
        );
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Account", "001A000001AcmeAAA", Kind::Skipped, Some("58")),
                ("Account", "001A000001BetaAAA", Kind::Skipped, Some("59")),
            ],
        );
    }

    fn directory(routes: Routes, customers: Value) -> Routes {
        routes
            .on(Get, "select * from Customer", move |_| {
                qbo_query("Customer", customers.clone())
            })
            .on(Get, "select * from Vendor", |_| {
                qbo_query("Vendor", json!([]))
            })
            .on(Get, "select * from Employee", |_| {
                qbo_query("Employee", json!([]))
            })
    }

    #[test]
    fn an_ambiguous_account_is_queued_neither_created_nor_linked_and_pending_on_the_next_run_too() {
        use crate::flows::review_queue::{Review, PENDING};
        use crate::flows::state::REVIEW;
        use crate::flows::test_support::{codes, qbo_customer, sf_account};
        const ACME: &str = "001A000001AcmeAAA";
        let acme = || sf_account(ACME, "Acme, Inc.", Some("ops@acme.example"), None);
        let customers = json!([
            qbo_customer("58", "Acme Inc", Some("ap@acme.example")),
            qbo_customer("61", "Acme LLC", Some("billing@acme.example")),
        ]);
        let platform = MemoryPlatform::routed(
            REALM,
            directory(
                Routes::new().on(Get, "FROM Account", move |_| soql(json!([acme()]))),
                customers.clone(),
            ),
        );
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        let pending = vec![(PENDING, "Account", ACME, Kind::Skipped)];
        assert_eq!(codes(&report), pending, "{:#?}", report.records);
        let candidates = r#"candidates for "Acme, Inc.": 58 "Acme Inc" (score 1.00, normalized name and email domain); 61 "Acme LLC" (score 1.00, normalized name and email domain)"#;
        assert_eq!(report.records[0].detail, candidates);
        // Only reads: every request scripted, no create, no update, no write-back.
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(platform.http.count(Post, ""), 0);
        assert_eq!(platform.http.count(Patch, ""), 0);
        let state = State::new(&platform.kv);
        assert!(state
            .get::<AccountLink>(LINKS, &account_key(ACME))
            .unwrap()
            .is_none());
        let queued: Review = state.get(REVIEW, ACME).unwrap().unwrap();
        assert_eq!(queued.candidates.len(), 2);
        assert_eq!(queued.decision, None);

        // Acme has not changed since: its cursor is past it, and the queue brings it back.
        let platform = platform.rerouted(directory(
            Routes::new()
                .on(
                    Get,
                    "FROM Account WHERE Id IN ('001A000001AcmeAAA')",
                    move |_| soql(json!([acme()])),
                )
                .on(Get, "FROM Account WHERE (SystemModstamp", |_| {
                    soql(json!([]))
                }),
            customers,
        ));
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_eq!(codes(&report), pending, "{:#?}", report.records);
        assert_eq!(report.records[0].detail, candidates);
        assert_eq!(platform.http.unscripted(), Vec::<String>::new());
        assert_eq!(platform.http.count(Post, ""), 0);
    }

    #[test]
    fn similar_names_wait_for_review_above_the_thresholds_setting_and_are_created_below_it() {
        use crate::flows::test_support::{codes, qbo_customer, sf_account};
        use crate::flows::JobError;
        const NORTHWIND: &str = "001A00000NorthAAA";
        // "Northwind Traders" and "Northwind Trading" are 0.93 alike.
        let routes = || {
            directory(
                Routes::new()
                    .on(Get, "FROM Account", |_| {
                        soql(json!([sf_account(
                            NORTHWIND,
                            "Northwind Traders",
                            None,
                            None
                        )]))
                    })
                    .on(Post, "/customer?", |req| {
                        let mut c = crate::flows::test_support::body(req);
                        c["Id"] = json!("90");
                        c["SyncToken"] = json!("0");
                        crate::flows::test_support::qbo_entity("Customer", c)
                    })
                    .on(Patch, "/composite/sobjects", sf_saved),
                json!([qbo_customer("33", "Northwind Trading", None)]),
            )
        };
        let platform = MemoryPlatform::routed(REALM, routes());
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_eq!(
            codes(&report),
            vec![("pending-review", "Account", NORTHWIND, Kind::Skipped)]
        );
        assert!(report.records[0]
            .detail
            .contains(r#"33 "Northwind Trading" (score 0.93, similar name)"#));
        assert_eq!(platform.http.count(Post, ""), 0);

        let mut platform = MemoryPlatform::routed(REALM, routes());
        platform
            .settings
            .0
            .insert("review-fuzzy-threshold".into(), "0.95".into());
        let report = run_job(&platform.platform(), "sync-accounts", "").unwrap();
        assert_eq!(
            outcomes(&report),
            vec![("Account", NORTHWIND, Kind::Created, Some("90"))],
            "{:#?}",
            report.records
        );

        let mut platform = MemoryPlatform::routed(REALM, routes());
        platform
            .settings
            .0
            .insert("review-fuzzy-threshold".into(), "93%".into());
        match run_job(&platform.platform(), "sync-accounts", "") {
            Err(JobError::Failed(why)) => {
                assert!(why.starts_with("setting review-fuzzy-threshold: "), "{why}")
            }
            other => panic!("{other:?}"),
        }
        assert!(platform.http.requests().is_empty());
    }
}
