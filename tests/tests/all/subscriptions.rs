//! A 12-month subscription end to end: the Closed Won deal becomes one QBO recurring template;
//! three months of the emulator's clock give exactly three invoices, each linked to the deal with
//! its period record, and their payments roll up; an amendment changes only later invoices; a
//! cancellation stops them; nothing is ever made twice.

use chrono::{Duration, Months, NaiveDate, Utc};
use ledgerlink::emulated_company::LocalCompany;
use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, on_webhook, pay, report, small, webhook};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};

fn template_invoices(c: &LocalCompany, template: &str) -> Vec<Value> {
    let mut found: Vec<Value> = c
        .qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .filter(|i| i["RecurDataRef"]["value"] == json!(template))
        .collect();
    found.sort_by_key(|i| i["TxnDate"].as_str().unwrap_or_default().to_string());
    found
}

/// QBO tells Ledgerlink about each invoice it generated, as its webhooks do.
fn deliver(c: &LocalCompany, invoices: &[Value]) {
    for i in invoices {
        let r = on_webhook(
            c,
            &webhook(&c.realm, "Invoice", i["Id"].as_str().unwrap(), "Create"),
        );
        assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    }
}

/// Moves QBO's clock to two days past `day` (slack for the company's time zone, far from the
/// next occurrence); the access tokens issued before have expired by then, so fresh ones are
/// issued as the host's broker would refresh them.
fn advance_to(c: &mut LocalCompany, day: NaiveDate) {
    let days = (day - Utc::now().date_naive()).num_days() + 2;
    let already = c.qbo.clock().offset().num_days();
    c.qbo.clock().advance(Duration::days(days - already));
    c.reissue_tokens();
}

#[test]
fn a_twelve_month_subscription_is_invoiced_monthly_linked_paid_amended_and_cancelled() {
    let mut options = small();
    options.settings.insert("subscriptions".into(), "on".into());
    let (mut c, _db) = company(options);
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));

    // A Closed Won deal of an account already in QBO: 2 seats at 150.25 a month for 12 months,
    // starting next month.
    let account =
        c.sf.records("Account")
            .into_iter()
            .find(|a| a["QBO_Customer_Id__c"].is_string())
            .expect("a synced account");
    let entry =
        c.sf.records("PricebookEntry")
            .into_iter()
            .find(|e| e["IsActive"] == json!(true))
            .expect("a price book entry");
    let start = Utc::now().date_naive() + Months::new(1);
    let opp =
        c.sf.insert(
            "Opportunity",
            json!({"Name": "Acme - support plan", "AccountId": account["Id"],
                   "StageName": "Closed Won", "CloseDate": Utc::now().date_naive().to_string(),
                   "Pricebook2Id": c.sf.standard_pricebook_id()}),
        )
        .unwrap();
    let line =
        c.sf.insert(
            "OpportunityLineItem",
            json!({"OpportunityId": opp, "PricebookEntryId": entry["Id"], "Quantity": 2,
                   "UnitPrice": 150.25, "ServiceDate": start.to_string(),
                   "Billing_Frequency__c": "Monthly", "Subscription_Term__c": 12}),
        )
        .unwrap();
    let r = report(&c, "sync-invoices", json!({"only": [opp]}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let templates = c.qbo.entities(&c.realm, "RecurringTransaction");
    assert_eq!(templates.len(), 1, "{templates:#?}");
    let template = &templates[0]["Invoice"];
    let template_id = template["Id"].as_str().unwrap().to_string();
    let schedule = &template["RecurringInfo"]["ScheduleInfo"];
    assert_eq!(
        (
            &schedule["IntervalType"],
            &schedule["NumInterval"],
            &schedule["MaxOccurrences"],
            &schedule["StartDate"]
        ),
        (
            &json!("Monthly"),
            &json!(1),
            &json!(12),
            &json!(start.to_string())
        )
    );
    assert_eq!(money(&template["TotalAmt"]), dec!(300.50));
    assert_eq!(
        c.sf.get("Opportunity", &opp).unwrap()["QBO_Recurring_Id__c"],
        json!(template_id)
    );
    // The deal has no one-time line: no ordinary invoice.
    assert!(c.sf.get("Opportunity", &opp).unwrap()["QBO_Invoice_Id__c"].is_null());
    // A rerun makes nothing.
    report(&c, "sync-invoices", json!({"only": [opp]}));
    assert_eq!(c.qbo.entities(&c.realm, "RecurringTransaction").len(), 1);

    // Three months of the emulator's clock: exactly three invoices.
    advance_to(&mut c, start + Months::new(2));
    let generated = template_invoices(&c, &template_id);
    assert_eq!(generated.len(), 3, "{generated:#?}");
    assert!(generated
        .iter()
        .all(|i| money(&i["TotalAmt"]) == dec!(300.50)));
    deliver(&c, &generated);
    deliver(&c, &generated[..1]); // a duplicate delivery
    let periods = c.sf.records("Ledgerlink_Subscription_Invoice__c");
    assert_eq!(periods.len(), 3, "{periods:#?}");
    assert!(periods.iter().all(|p| p["Opportunity__c"] == json!(opp)));
    let o = c.sf.get("Opportunity", &opp).unwrap();
    assert_eq!(money(&o["Amount_Invoiced__c"]), dec!(901.50));
    assert_eq!(o["Payment_Status__c"], "Unpaid");

    // Two invoices paid in full and the third in part.
    for (i, amount) in [dec!(300.50), dec!(300.50), dec!(100.00)]
        .iter()
        .enumerate()
    {
        let p = pay(&c, &generated[i], *amount);
        let r = on_webhook(
            &c,
            &webhook(&c.realm, "Payment", p["Id"].as_str().unwrap(), "Create"),
        );
        assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    }
    let o = c.sf.get("Opportunity", &opp).unwrap();
    assert_eq!(
        (
            o["Payment_Status__c"].as_str().unwrap(),
            money(&o["Amount_Paid__c"]),
            money(&o["Open_Balance__c"])
        ),
        ("Partially Paid", dec!(701.00), dec!(200.50))
    );
    let status_of = |invoice: &Value| -> (String, Decimal) {
        let p =
            c.sf.records("Ledgerlink_Subscription_Invoice__c")
                .into_iter()
                .find(|p| p["QBO_Invoice_Id__c"] == invoice["Id"])
                .unwrap();
        (
            p["Payment_Status__c"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
            money(&p["Open_Balance__c"]),
        )
    };
    assert_eq!(status_of(&generated[0]), ("Paid".into(), dec!(0)));
    assert_eq!(
        status_of(&generated[2]),
        ("Partially Paid".into(), dec!(200.50))
    );

    // An amendment: three seats from now on. Only the next invoice changes.
    c.sf.update("OpportunityLineItem", &line, json!({"Quantity": 3}))
        .unwrap();
    let r = report(&c, "sync-invoices", json!({"only": [opp]}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    advance_to(&mut c, start + Months::new(3));
    let after = template_invoices(&c, &template_id);
    assert_eq!(after.len(), 4, "{after:#?}");
    assert_eq!(
        after
            .iter()
            .map(|i| money(&i["TotalAmt"]))
            .collect::<Vec<_>>(),
        vec![dec!(300.50), dec!(300.50), dec!(300.50), dec!(450.75)]
    );
    deliver(&c, &after[3..]);
    let o = c.sf.get("Opportunity", &opp).unwrap();
    assert_eq!(money(&o["Amount_Invoiced__c"]), dec!(1352.25));

    // A cancellation: the template is deactivated once, and nothing more is generated.
    c.sf.update(
        "Opportunity",
        &opp,
        json!({"Subscription_Cancelled__c": true}),
    )
    .unwrap();
    let r = report(&c, "sync-invoices", json!({"only": [opp]}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let template = &c.qbo.entities(&c.realm, "RecurringTransaction")[0]["Invoice"];
    assert_eq!(template["RecurringInfo"]["Active"], json!(false));
    advance_to(&mut c, start + Months::new(6));
    assert_eq!(template_invoices(&c, &template_id).len(), 4);
    assert_eq!(c.qbo.entities(&c.realm, "RecurringTransaction").len(), 1);
}
