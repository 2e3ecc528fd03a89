//! QBO Payment -> Opportunity payment status through webhooks: partial, duplicate and stale
//! deliveries, full payment, and a delete that reverses it.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_emulators::{FaultKind, FaultRule};
use ledgerlink_tests::{
    company, invoiced_opportunity, lines, money, on_webhook, pay, report, small, webhook,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn opportunity(c: &ledgerlink::emulated_company::LocalCompany, id: &str) -> Value {
    c.sf.get("Opportunity", id).expect("opportunity")
}

#[test]
fn payments_move_the_opportunity_through_partial_paid_and_reversed() {
    let (c, _db) = company(small());
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let (opp, invoice) = invoiced_opportunity(&c);
    let opp_id = opp["Id"].as_str().unwrap().to_string();
    let total = money(&invoice["TotalAmt"]);
    let pay = |amount: Decimal| pay(&c, &invoice, amount);
    let first = pay(Decimal::new(1000, 2));
    let first_id = first["Id"].as_str().unwrap().to_string();
    // The opportunity's owner is named in the payment notice.
    let owner =
        c.sf.insert(
            "User",
            json!({"Username": "jane.doe@acme.example", "FirstName": "Jane", "LastName": "Doe",
                   "Email": "jane.doe@acme.example", "Alias": "jdoe"}),
        )
        .unwrap();
    c.sf.update("Opportunity", &opp_id, json!({"OwnerId": owner}))
        .unwrap();
    let body = webhook(&c.realm, "Payment", &first_id, "Create");
    let r = on_webhook(&c, &body);
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let o = opportunity(&c, &opp_id);
    assert_eq!(o["Payment_Status__c"], "Partially Paid");
    assert_eq!(money(&o["Amount_Paid__c"]), Decimal::new(1000, 2));
    assert_eq!(money(&o["Open_Balance__c"]), total - Decimal::new(1000, 2));

    // The same delivery twice, and a stale "Update" for it: nothing changes.
    on_webhook(&c, &body);
    on_webhook(&c, &webhook(&c.realm, "Payment", &first_id, "Update"));
    let o = opportunity(&c, &opp_id);
    assert_eq!(money(&o["Amount_Paid__c"]), Decimal::new(1000, 2));

    let rest = pay(total - Decimal::new(1000, 2));
    let rest_id = rest["Id"].as_str().unwrap().to_string();
    on_webhook(&c, &webhook(&c.realm, "Payment", &rest_id, "Create"));
    let o = opportunity(&c, &opp_id);
    assert_eq!(o["Payment_Status__c"], "Paid");
    assert_eq!(money(&o["Open_Balance__c"]), Decimal::ZERO);
    assert!(o["Paid_Date__c"].is_string());

    // Delete the second payment in QBO: the opportunity goes back to partially paid.
    let url = format!(
        "{}/v3/company/{}/payment?operation=delete",
        c.qbo_url(),
        c.realm
    );
    let token = c.qbo.issue_tokens(&c.realm).access_token;
    let status = reqwest::blocking::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&json!({"Id": rest_id, "SyncToken": rest["SyncToken"]}))
        .send()
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
    let r = on_webhook(&c, &webhook(&c.realm, "Payment", &rest_id, "Delete"));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let o = opportunity(&c, &opp_id);
    assert_eq!(o["Payment_Status__c"], "Partially Paid");
    assert_eq!(money(&o["Amount_Paid__c"]), Decimal::new(1000, 2));
    let name = opportunity(&c, &opp_id)["Name"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        c.notify.messages().iter().any(|m| m.contains("Paid")
            && m.contains(&format!("Opportunity {name} ({opp_id}), owner Jane Doe"))),
        "{:#?}",
        c.notify.messages()
    );
}

#[test]
fn a_payment_that_failed_in_a_webhook_run_is_redone_by_the_job_its_report_names() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    let (opp, invoice) = invoiced_opportunity(&c);
    let opp_id = opp["Id"].as_str().unwrap().to_string();
    let part = Decimal::new(2500, 2);
    let payment = pay(&c, &invoice, part);
    let payment_id = payment["Id"].as_str().unwrap().to_string();
    // Salesforce is down for the opportunity update.
    c.sf.faults().push(FaultRule {
        method: Some("PATCH".into()),
        path_contains: Some("composite/sobjects".into()),
        fault: FaultKind::Status { status: 503 },
        probability: 1.0,
        times: None,
    });
    let r = on_webhook(&c, &webhook(&c.realm, "Payment", &payment_id, "Create"));
    c.sf.faults().clear();
    assert_eq!(r.job, "sync-quickbooks");
    let failed = r
        .records
        .iter()
        .find(|o| o.outcome == Outcome::Failed)
        .expect("the payment failed");
    assert_eq!(
        (
            failed.entity.as_str(),
            failed.record_id.as_str(),
            failed.retryable
        ),
        ("Payment", payment_id.as_str(), true)
    );
    assert!(opportunity(&c, &opp_id)["Payment_Status__c"].is_null());

    // What the error ledger's retry runs: the report's job, `only` <entity>:<id>, once the
    // host's 5 s backoff after the 503 has passed (a throttled attempt is tried again).
    let only = format!("{}:{}", failed.entity, failed.record_id);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let retry = loop {
        let retry = report(&c, &r.job, json!({ "only": [only] }));
        let throttled = retry
            .records
            .iter()
            .any(|o| o.code.as_deref() == Some("throttled"));
        if !throttled || std::time::Instant::now() > deadline {
            break retry;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(retry.failed, 0, "{:#?}", lines(&retry, Outcome::Failed));
    let o = opportunity(&c, &opp_id);
    assert_eq!(o["Payment_Status__c"], "Partially Paid");
    assert_eq!(money(&o["Amount_Paid__c"]), part);
}

#[test]
fn a_payment_ledger_saved_before_its_invoice_was_linked_finds_the_opportunity_later() {
    let (c, _db) = company(small());
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let (opp, invoice) = invoiced_opportunity(&c);
    let opp_id = opp["Id"].as_str().unwrap().to_string();
    let invoice_id = invoice["Id"].as_str().unwrap().to_string();
    let reverse = format!("invoice-opp/{invoice_id}");
    let store = &c.tenant.storage;

    // The invoice's reverse key is missing (a crash between the link's two writes, as an
    // earlier version wrote them) and Salesforce does not name the invoice yet: the payment is
    // recorded against the invoice with no opportunity.
    store.delete(&c.tenant.id, "links", &reverse).unwrap();
    c.sf.update("Opportunity", &opp_id, json!({"QBO_Invoice_Id__c": null}))
        .unwrap();
    let first = pay(&c, &invoice, Decimal::new(1000, 2));
    let r = report(&c, "sync-payments", json!({"only": [first["Id"]]}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert!(opportunity(&c, &opp_id)["Amount_Paid__c"].is_null());
    let ledger = ledgerlink_tests::stored(&c, "state", &format!("ledger/{invoice_id}"))
        .expect("the invoice's ledger");
    assert!(ledger["opportunity-id"].is_null(), "{ledger}");

    // The link is completed; the next payment resolves the ledger again and the opportunity
    // shows both payments.
    store
        .set(
            &c.tenant.id,
            "links",
            &reverse,
            &serde_json::to_vec(&opp_id).unwrap(),
        )
        .unwrap();
    let second = pay(&c, &invoice, Decimal::new(500, 2));
    let r = report(&c, "sync-payments", json!({"only": [second["Id"]]}));
    assert_eq!(r.updated, 1, "{:#?}", r.records);
    let o = opportunity(&c, &opp_id);
    assert_eq!(o["Payment_Status__c"], "Partially Paid");
    assert_eq!(money(&o["Amount_Paid__c"]), Decimal::new(1500, 2));

    // With no reverse key at all, the opportunity that names the invoice is found in
    // Salesforce, and the key is stored for next time.
    store.delete(&c.tenant.id, "links", &reverse).unwrap();
    store
        .delete(&c.tenant.id, "state", &format!("ledger/{invoice_id}"))
        .unwrap();
    c.sf.update(
        "Opportunity",
        &opp_id,
        json!({"QBO_Invoice_Id__c": invoice_id}),
    )
    .unwrap();
    let third = pay(&c, &invoice, Decimal::new(250, 2));
    let r = report(
        &c,
        "sync-payments",
        json!({"only": [first["Id"], second["Id"], third["Id"]]}),
    );
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert_eq!(
        money(&opportunity(&c, &opp_id)["Amount_Paid__c"]),
        Decimal::new(1750, 2)
    );
    assert_eq!(
        ledgerlink_tests::stored(&c, "links", &reverse),
        Some(json!(opp_id))
    );
}
