//! QBO -> Salesforce: a customer and an invoice created in QBO become an Account and a Closed
//! Won Opportunity, once; the opportunity is not invoiced back. A name taken by a QBO vendor
//! gets a deterministic suffix instead of a 6240 failure.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, report, small};
use rust_decimal::Decimal;
use serde_json::json;

#[test]
fn qbo_customers_and_invoices_reach_salesforce_once_and_are_not_echoed_back() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let customer = c
        .qbo
        .insert(&c.realm, "Customer", json!({"DisplayName": "Walk-in Client", "PrimaryEmailAddr": {"Address": "a@walkin.example"}}))
        .unwrap();
    let invoice = c
        .qbo
        .insert(&c.realm, "Invoice", json!({"CustomerRef": {"value": customer["Id"]}, "DocNumber": "Q-1001",
            "Line": [{"Amount": 250.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 250.0}}]}))
        .unwrap();
    let r = report(&c, "poll-quickbooks", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let accounts: Vec<_> =
        c.sf.records("Account")
            .into_iter()
            .filter(|a| a["QBO_Customer_Id__c"] == customer["Id"])
            .collect();
    assert_eq!(accounts.len(), 1, "one account for the QBO customer");
    let opps: Vec<_> =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["QBO_Invoice_Id__c"] == invoice["Id"])
            .collect();
    assert_eq!(opps.len(), 1);
    assert_eq!(opps[0]["AccountId"], accounts[0]["Id"]);
    assert_eq!(opps[0]["StageName"], "Closed Won");

    // Polling again and syncing Salesforce: no second account, no invoice created back.
    let invoices_before = c.qbo.entities(&c.realm, "Invoice").len();
    report(&c, "poll-quickbooks", json!({}));
    let r = report(&c, "sync-invoices", json!({"full": true}));
    assert_eq!(r.created, 0, "{:#?}", lines(&r, Outcome::Created));
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), invoices_before);
    assert_eq!(
        c.sf.records("Account")
            .into_iter()
            .filter(|a| a["QBO_Customer_Id__c"] == customer["Id"])
            .count(),
        1
    );
}

#[test]
fn a_name_taken_by_a_vendor_gets_a_deterministic_suffix() {
    let (c, _db) = company(small());
    let account = c.sf.records("Account").into_iter().next().unwrap();
    let name = account["Name"].as_str().unwrap().to_string();
    c.qbo
        .insert(&c.realm, "Vendor", json!({"DisplayName": name}))
        .unwrap();
    let r = report(&c, "sync-accounts", json!({"full": true}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let id = account["Id"].as_str().unwrap();
    let tail = &id[id.len() - 4..];
    let customers = c.qbo.entities(&c.realm, "Customer");
    assert!(
        customers
            .iter()
            .any(|cu| cu["DisplayName"] == json!(format!("{name} ({tail})"))),
        "{customers:#?}"
    );
    // Later runs keep the suffix: no rename back into the vendor's name, no 6240.
    for _ in 0..2 {
        let again = report(&c, "sync-accounts", json!({"full": true}));
        assert_eq!(
            (again.updated, again.failed),
            (0, 0),
            "{:#?}",
            again.records
        );
    }
}

/// The opportunity's amount paid after a poll (a payment of 10.00 on its invoice was recorded).
fn paid_after_poll(
    c: &ledgerlink::emulated_company::LocalCompany,
    opp_id: &str,
) -> Option<Decimal> {
    let r = report(c, "poll-quickbooks", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let paid = &c.sf.get("Opportunity", opp_id).unwrap()["Amount_Paid__c"];
    (!paid.is_null()).then(|| money(paid))
}

#[test]
fn a_cdc_cursor_older_than_30_days_reads_the_changes_by_query_instead_of_failing() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let (opp, invoice) = ledgerlink_tests::invoiced_opportunity(&c);
    let opp_id = opp["Id"].as_str().unwrap();
    // The host was off for six weeks: the cursor is beyond CDC's look-back.
    let old = (chrono::Utc::now() - chrono::Duration::days(42))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    c.tenant
        .storage
        .set(
            &c.tenant.id,
            "cursors",
            "qbo-cdc",
            &serde_json::to_vec(&old).unwrap(),
        )
        .unwrap();
    ledgerlink_tests::pay(&c, &invoice, Decimal::new(1000, 2));
    assert_eq!(paid_after_poll(&c, opp_id), Some(Decimal::new(1000, 2)));
    let cursor = ledgerlink_tests::stored(&c, "cursors", "qbo-cdc").unwrap();
    assert_ne!(cursor, json!(old), "the cursor moved on");
}

#[test]
fn a_cdc_answer_at_its_1000_object_cap_misses_nothing() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let (opp, invoice) = ledgerlink_tests::invoiced_opportunity(&c);
    let opp_id = opp["Id"].as_str().unwrap();
    // 1,000 customers changed in QBO, then a payment: CDC's answer (oldest first, at most
    // 1,000 objects) holds the customers and not the payment.
    for n in 0..1000 {
        c.qbo
            .insert(
                &c.realm,
                "Customer",
                json!({"DisplayName": format!("Cap customer {n:04}")}),
            )
            .unwrap();
    }
    ledgerlink_tests::pay(&c, &invoice, Decimal::new(1000, 2));
    assert_eq!(
        paid_after_poll(&c, opp_id),
        Some(Decimal::new(1000, 2)),
        "in the same poll"
    );
}

#[test]
fn a_backlog_past_cdcs_cap_is_read_in_windows_each_record_once() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    // 700 customers changed within one second (more than a window holds), then 700 more, 50
    // per second: the catch-up reads both by query, window by window.
    let clock = c.qbo.clock();
    let mut names = Vec::new();
    for n in 0..1400 {
        if n >= 700 && n % 50 == 0 {
            clock.advance(chrono::Duration::seconds(1));
        }
        let name = format!("Backlog customer {n:04}");
        c.qbo
            .insert(&c.realm, "Customer", json!({"DisplayName": name}))
            .unwrap();
        names.push(name);
    }
    let r = report(&c, "poll-quickbooks", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let accounts = c.sf.records("Account");
    for name in &names {
        let n = accounts.iter().filter(|a| a["Name"] == json!(name)).count();
        assert_eq!(n, 1, "{name}: one Account");
    }
    // The cursor reached the newest change, so the next poll has nothing left to read.
    let newest = c
        .qbo
        .entities(&c.realm, "Customer")
        .iter()
        .filter_map(|cu| cu["MetaData"]["LastUpdatedTime"].as_str().map(String::from))
        .max()
        .unwrap();
    let cursor = ledgerlink_tests::stored(&c, "cursors", "qbo-cdc").unwrap();
    assert_eq!(cursor, json!(newest));
    let again = report(&c, "poll-quickbooks", json!({}));
    assert_eq!((again.created, again.updated, again.failed), (0, 0, 0));
}
