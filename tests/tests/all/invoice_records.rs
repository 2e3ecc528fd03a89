//! An org that bills from Salesforce `Invoice` records (`invoice-source = invoice-object`): a
//! posted invoice record becomes one QBO invoice, written back on the record, with no
//! Opportunity involved; Closed Won opportunities are not invoiced; a payment rolls up onto the
//! record.

use ledgerlink::runtime::exports::ledgerlink::sync::flows::Outcome;
use ledgerlink_tests::{
    company, lines, money, on_webhook, pay, qbo_invoice, report, small, webhook,
};
use rust_decimal_macros::dec;
use serde_json::json;

#[test]
fn a_posted_invoice_record_is_invoiced_once_written_back_and_paid_with_no_opportunity_involved() {
    let mut options = small();
    options
        .settings
        .insert("invoice-source".into(), "invoice-object".into());
    let (c, _db) = company(options);
    let r = report(&c, "backfill", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    // Closed Won opportunities exist, but this org bills from its invoice records.
    assert!(c
        .sf
        .records("Opportunity")
        .iter()
        .any(|o| o["IsWon"] == json!(true)));
    assert!(c
        .qbo
        .entities(&c.realm, "Invoice")
        .iter()
        .all(|i| !i["DocNumber"]
            .as_str()
            .is_some_and(|d| d.starts_with("SF-006"))));

    let account =
        c.sf.records("Account")
            .into_iter()
            .find(|a| a["QBO_Customer_Id__c"].is_string())
            .expect("a synced account");
    let products: Vec<String> =
        c.sf.records("Product2")
            .into_iter()
            .filter(|p| p["QBO_Item_Id__c"].is_string())
            .map(|p| p["Id"].as_str().unwrap().to_string())
            .collect();
    let record =
        c.sf.insert(
            "Invoice",
            json!({"BillingAccountId": account["Id"], "InvoiceDate": "2026-11-30",
                   "DueDate": "2026-12-30", "Status": "Posted", "TotalAmount": 1051.25}),
        )
        .unwrap();
    for (n, (qty, price)) in [(3, 250.25), (1, 300.50)].iter().enumerate() {
        c.sf.insert(
            "InvoiceLine",
            json!({"InvoiceId": record, "Product2Id": products[n], "Name": format!("line {n}"),
                   "Quantity": qty, "UnitPrice": price, "Type": "Charge"}),
        )
        .unwrap();
    }
    let before = c.qbo.entities(&c.realm, "Invoice").len();
    let r = report(&c, "sync-invoices", json!({}));
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), before + 1);
    let written = c.sf.get("Invoice", &record).unwrap();
    let invoice = qbo_invoice(
        &c,
        written["QBO_Invoice_Id__c"].as_str().expect("written back"),
    );
    assert_eq!(invoice["DocNumber"], json!(format!("SF-{record}")));
    assert_eq!(written["QBO_Invoice_Number__c"], invoice["DocNumber"]);
    assert!(written["QBO_Invoice_Link__c"].is_string());
    assert_eq!(invoice["DueDate"], json!("2026-12-30"));
    let subtotal: rust_decimal::Decimal = invoice["Line"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["DetailType"] == "SalesItemLineDetail")
        .map(|l| money(&l["Amount"]))
        .sum();
    assert_eq!(subtotal, dec!(1051.25));

    // A rerun (and a full one) makes nothing new.
    report(&c, "sync-invoices", json!({}));
    report(&c, "sync-invoices", json!({"full": true}));
    assert_eq!(c.qbo.entities(&c.realm, "Invoice").len(), before + 1);

    // A payment rolls up onto the invoice record.
    let p = pay(&c, &invoice, dec!(51.25));
    let r = on_webhook(
        &c,
        &webhook(&c.realm, "Payment", p["Id"].as_str().unwrap(), "Create"),
    );
    assert_eq!(r.failed, 0, "{:#?}", lines(&r, Outcome::Failed));
    let written = c.sf.get("Invoice", &record).unwrap();
    assert_eq!(written["Payment_Status__c"], "Partially Paid");
    assert_eq!(money(&written["Amount_Paid__c"]), dec!(51.25));
    assert_eq!(
        money(&written["Open_Balance__c"]),
        money(&invoice["TotalAmt"]) - dec!(51.25)
    );
}
