//! QBO Payment -> Opportunity payment status through webhooks: partial, duplicate and stale
//! deliveries, full payment, and a delete that reverses it.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{company, lines, money, on_webhook, report, small, webhook};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn opportunity(c: &ledgerlink::local::LocalCompany, id: &str) -> Value {
    c.sf.get("Opportunity", id).expect("opportunity")
}

#[test]
fn payments_move_the_opportunity_through_partial_paid_and_reversed() {
    let (c, _db) = company(small());
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let opp =
        c.sf.records("Opportunity")
            .into_iter()
            .find(|o| o["IsWon"] == json!(true))
            .unwrap();
    let opp_id = opp["Id"].as_str().unwrap().to_string();
    let invoice_id = opp["QBO_Invoice_Id__c"].as_str().unwrap().to_string();
    let invoice = c
        .qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .find(|i| i["Id"] == json!(invoice_id))
        .unwrap();
    let total = money(&invoice["TotalAmt"]);
    let pay = |amount: Decimal| {
        c.qbo
            .insert(
                &c.realm,
                "Payment",
                json!({"CustomerRef": invoice["CustomerRef"], "TotalAmt": amount.to_string().parse::<f64>().unwrap(),
                       "Line": [{"Amount": amount.to_string().parse::<f64>().unwrap(),
                                 "LinkedTxn": [{"TxnId": invoice_id, "TxnType": "Invoice"}]}]}),
            )
            .unwrap()
    };
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
