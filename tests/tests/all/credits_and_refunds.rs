//! After the invoice, end to end through QBO's CDC: a credit memo and a refund against a paid
//! invoice, a credit memo applied by a payment, a voided and a deleted invoice, an over-payment
//! and its void, and the reconciliation with credits and refunds, all to the cent.

use ledgerlink::emulated_company::LocalCompany;
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use ledgerlink_tests::{company, lines, money, number, pay, qbo_invoice, report, small};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};

fn opportunity(c: &LocalCompany, id: &str) -> Value {
    c.sf.get("Opportunity", id).expect("opportunity")
}

/// Every invoiced Closed Won opportunity with its invoice, in a stable order.
fn invoiced(c: &LocalCompany) -> Vec<(String, Value)> {
    let mut found: Vec<(String, Value)> =
        c.sf.records("Opportunity")
            .into_iter()
            .filter(|o| o["IsWon"] == json!(true) && o["QBO_Invoice_Id__c"].is_string())
            .map(|o| {
                let invoice = qbo_invoice(c, o["QBO_Invoice_Id__c"].as_str().unwrap());
                (o["Id"].as_str().unwrap().to_string(), invoice)
            })
            .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
}

/// A line of `amount` for the first item of `invoice`, untaxed.
fn line(invoice: &Value, amount: Decimal) -> Value {
    let item = invoice["Line"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["DetailType"] == "SalesItemLineDetail")
        .unwrap()["SalesItemLineDetail"]["ItemRef"]
        .clone();
    json!({"Amount": number(amount), "DetailType": "SalesItemLineDetail",
           "SalesItemLineDetail": {"ItemRef": item, "Qty": 1, "UnitPrice": number(amount),
                                   "TaxCodeRef": {"value": "NON"}}})
}

/// A QBO API call as an app makes it (for operations the emulator's direct API does not offer).
fn qbo_post(c: &LocalCompany, path_and_query: &str, body: Value) -> Value {
    let url = format!("{}/v3/company/{}/{path_and_query}", c.qbo_url(), c.realm);
    let token = c.qbo.issue_tokens(&c.realm).access_token;
    let answer = reqwest::blocking::Client::new()
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&body)
        .send()
        .unwrap();
    assert!(answer.status().is_success(), "{}", answer.status());
    answer.json().unwrap()
}

fn poll(c: &LocalCompany) -> RunReport {
    let r = report(c, "poll-quickbooks", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    r
}

fn figures(o: &Value) -> (String, Decimal, Decimal, Decimal, Decimal) {
    let m = |f: &str| {
        if o[f].is_null() {
            Decimal::ZERO
        } else {
            money(&o[f])
        }
    };
    (
        o["Payment_Status__c"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
        m("Amount_Paid__c"),
        m("Amount_Credited__c"),
        m("Amount_Refunded__c"),
        m("Open_Balance__c"),
    )
}

#[test]
fn credits_refunds_voids_deletes_and_overpayments_reach_their_opportunities_to_the_cent() {
    let (c, _db) = company(small());
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let deals = invoiced(&c);
    assert!(deals.len() >= 5, "{} invoiced deals", deals.len());
    let bank = json!({"value": "5"});

    // 1. Paid in full, then a credit memo naming the invoice in its memo, then a refund linked
    //    to it: back to partially paid.
    let (opp1, inv1) = &deals[0];
    let total1 = money(&inv1["TotalAmt"]);
    pay(&c, inv1, total1);
    poll(&c);
    assert_eq!(figures(&opportunity(&c, opp1)).0, "Paid");
    let doc1 = inv1["DocNumber"].as_str().unwrap();
    c.qbo
        .insert(
            &c.realm,
            "CreditMemo",
            json!({"CustomerRef": inv1["CustomerRef"], "Line": [line(inv1, dec!(100.10))],
                   "PrivateNote": format!("Goodwill credit for invoice {doc1}")}),
        )
        .unwrap();
    poll(&c);
    assert_eq!(
        figures(&opportunity(&c, opp1)),
        (
            "Overpaid".into(),
            total1,
            dec!(100.10),
            dec!(0),
            dec!(-100.10)
        )
    );
    c.qbo
        .insert(
            &c.realm,
            "RefundReceipt",
            json!({"CustomerRef": inv1["CustomerRef"], "DepositToAccountRef": bank,
                   "Line": [line(inv1, dec!(250.35))],
                   "LinkedTxn": [{"TxnId": inv1["Id"], "TxnType": "Invoice"}]}),
        )
        .unwrap();
    poll(&c);
    assert_eq!(
        figures(&opportunity(&c, opp1)),
        (
            "Partially Paid".into(),
            total1 - dec!(250.35),
            dec!(100.10),
            dec!(250.35),
            dec!(150.25)
        )
    );

    // 2. Part paid in cash, the rest by a credit memo a payment applies: paid, and the credit
    //    counts as credit, not cash.
    let (opp2, inv2) = &deals[1];
    let total2 = money(&inv2["TotalAmt"]);
    pay(&c, inv2, dec!(40.00));
    let rest = total2 - dec!(40.00);
    let memo = c
        .qbo
        .insert(
            &c.realm,
            "CreditMemo",
            json!({"CustomerRef": inv2["CustomerRef"], "Line": [line(inv2, rest)]}),
        )
        .unwrap();
    c.qbo
        .insert(
            &c.realm,
            "Payment",
            json!({"CustomerRef": inv2["CustomerRef"], "TotalAmt": 0, "Line": [
                {"Amount": number(rest), "LinkedTxn": [{"TxnId": inv2["Id"], "TxnType": "Invoice"}]},
                {"Amount": number(rest), "LinkedTxn": [{"TxnId": memo["Id"], "TxnType": "CreditMemo"}]}]}),
        )
        .unwrap();
    poll(&c);
    assert_eq!(
        figures(&opportunity(&c, opp2)),
        ("Paid".into(), dec!(40.00), rest, dec!(0), dec!(0))
    );

    // 3. A voided invoice.
    let (opp3, inv3) = &deals[2];
    qbo_post(
        &c,
        "invoice?operation=void",
        json!({"Id": inv3["Id"], "SyncToken": inv3["SyncToken"]}),
    );
    poll(&c);
    let o3 = opportunity(&c, opp3);
    assert_eq!(figures(&o3).0, "Voided");
    assert_eq!(
        o3["QBO_Invoice_Id__c"], inv3["Id"],
        "a voided invoice stays linked"
    );

    // 4. A deleted invoice: the opportunity says so, its invoice fields are cleared, and a
    //    full sync does not invoice it again.
    let (opp4, inv4) = &deals[3];
    qbo_post(
        &c,
        "invoice?operation=delete",
        json!({"Id": inv4["Id"], "SyncToken": inv4["SyncToken"]}),
    );
    poll(&c);
    let o4 = opportunity(&c, opp4);
    assert_eq!(figures(&o4).0, "Invoice Deleted");
    assert!(o4["QBO_Invoice_Id__c"].is_null(), "{o4}");
    let before = c.qbo.entities(&c.realm, "Invoice").len();
    let r = report(&c, "sync-invoices", json!({"full": true}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), before);
    assert!(
        r.records
            .iter()
            .any(|o| o.record_id == *opp4 && o.outcome == Outcome::Skipped),
        "{:#?}",
        r.records
    );

    // 5. An over-payment: the invoice is paid, the rest is the customer's unapplied credit.
    let (opp5, inv5) = &deals[4];
    let total5 = money(&inv5["TotalAmt"]);
    let over = c
        .qbo
        .insert(
            &c.realm,
            "Payment",
            json!({"CustomerRef": inv5["CustomerRef"], "TotalAmt": number(total5 + dec!(50)),
                   "Line": [{"Amount": number(total5),
                             "LinkedTxn": [{"TxnId": inv5["Id"], "TxnType": "Invoice"}]}]}),
        )
        .unwrap();
    let r = poll(&c);
    assert_eq!(
        figures(&opportunity(&c, opp5)),
        ("Paid".into(), total5, dec!(0), dec!(0), dec!(0))
    );
    assert!(
        r.records
            .iter()
            .any(|o| o.entity == "Payment" && o.detail.contains("50.00 unapplied")),
        "{:#?}",
        r.records
    );

    // 6. The over-payment voided in QBO (zero amounts, a "Voided" note): taken back.
    qbo_post(
        &c,
        "payment?operation=update&include=void",
        json!({"Id": over["Id"], "SyncToken": over["SyncToken"], "sparse": true}),
    );
    poll(&c);
    assert_eq!(
        figures(&opportunity(&c, opp5)),
        ("Unpaid".into(), dec!(0), dec!(0), dec!(0), total5)
    );

    // A duplicate pass changes nothing.
    let snapshot: Vec<Value> = deals.iter().map(|(id, _)| opportunity(&c, id)).collect();
    let r = report(
        &c,
        "sync-quickbooks",
        json!({"only": [format!("Invoice:{}", inv1["Id"].as_str().unwrap())]}),
    );
    assert_eq!(r.failed, 0);
    let after: Vec<Value> = deals.iter().map(|(id, _)| opportunity(&c, id)).collect();
    assert_eq!(
        snapshot.iter().map(figures).collect::<Vec<_>>(),
        after.iter().map(figures).collect::<Vec<_>>()
    );

    // The reconciliation of the whole span: credits and refunds lower QuickBooks' side, each
    // with its deal, and the discrepancies add up to the difference exactly.
    let r = report(
        &c,
        "reconcile",
        json!({"period-start": "2000-01-01", "period-end": "2099-12-31"}),
    );
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let stored = ledgerlink_tests::stored(&c, "reports", "reconcile/latest").expect("stored");
    let difference = money(&stored["difference"]);
    let explained: Decimal = stored["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| money(&d["difference"]))
        .sum();
    assert_eq!(explained, difference, "{stored:#}");
    let credited_deal = stored["discrepancies"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["opportunity-id"] == json!(opp1))
        .unwrap_or_else(|| panic!("deal 1 differs by its credit and refund: {stored:#}"));
    assert_eq!(money(&credited_deal["difference"]), dec!(350.45));
}
