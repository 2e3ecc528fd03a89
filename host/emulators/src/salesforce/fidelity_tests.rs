//! Tests of the Ledgerlink custom fields, OpportunityContactRole and the multicurrency org,
//! through the same paths the REST handlers use (`Org::create` / `update`, SOQL, describe).

use super::dml::Origin;
use super::errors::SfError;
use super::http::Ctx;
use super::{query, Currencies, SalesforceConfig, SalesforceEmulator};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn api() -> Origin {
    Origin {
        change_origin: "com/salesforce/api/rest/61.0".into(),
    }
}

fn create(sf: &SalesforceEmulator, sobject: &str, body: Value) -> Result<String, SfError> {
    sf.with_org(|org| org.create(sobject, &body, &api()))
}

fn update(sf: &SalesforceEmulator, sobject: &str, id: &str, body: Value) -> Result<(), SfError> {
    sf.with_org(|org| org.update(sobject, id, &body, &api()))
}

fn soql(sf: &SalesforceEmulator, q: &str) -> Result<Value, SfError> {
    let ctx = Ctx {
        version: "61.0".into(),
        base: "/services/data/v61.0".into(),
        origin: api(),
        page_size: 2000,
        in_composite: false,
    };
    sf.with_org(|org| query::query(org, &ctx, q, false))
}

fn describe(sf: &SalesforceEmulator, sobject: &str) -> Value {
    sf.with_org(|org| {
        org.schema
            .object(sobject)
            .map(|o| o.describe("/services/data/v61.0"))
            .unwrap_or(Value::Null)
    })
}

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn single_currency() -> SalesforceEmulator {
    SalesforceEmulator::new(SalesforceConfig::default())
}

fn multicurrency() -> SalesforceEmulator {
    let currencies = Currencies::new("USD", [("EUR", dec("0.92")), ("CAD", dec("1.36"))])
        .with_inactive("GBP", dec("0.79"))
        .with_dated_rate("EUR", date(2026, 1, 1), dec("0.95"))
        .with_dated_rate("EUR", date(2026, 4, 1), dec("0.97"));
    SalesforceEmulator::new(SalesforceConfig {
        currencies: Some(currencies),
        ..Default::default()
    })
}

/// A product with a standard price in each of `currencies`; returns (product, entries).
fn product(sf: &SalesforceEmulator, currencies: &[&str]) -> (String, Vec<String>) {
    let product = create(sf, "Product2", json!({"Name": "Widget", "IsActive": true})).unwrap();
    let book = sf.standard_pricebook_id();
    let entries = currencies
        .iter()
        .map(|c| {
            create(
                sf,
                "PricebookEntry",
                json!({"Pricebook2Id": book, "Product2Id": product, "UnitPrice": 10, "IsActive": true, "CurrencyIsoCode": c}),
            )
            .unwrap()
        })
        .collect();
    (product, entries)
}

fn opportunity(sf: &SalesforceEmulator, extra: Value) -> String {
    let mut body = json!({"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-03-01"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    create(sf, "Opportunity", body).unwrap()
}

#[test]
fn ledgerlink_fields_exist_and_checkboxes_default_to_false() {
    let sf = single_currency();
    let p = create(
        &sf,
        "Product2",
        json!({"Name": "Widget", "QBO_Tax_Code__c": "TAX", "QBO_Class__c": "Hardware"}),
    )
    .unwrap();
    let rec = sf.get("Product2", &p).unwrap();
    assert_eq!(rec["Taxable__c"], json!(false));
    assert_eq!(rec["QBO_Tax_Code__c"], "TAX");
    update(&sf, "Product2", &p, json!({"Taxable__c": true})).unwrap();
    assert_eq!(sf.get("Product2", &p).unwrap()["Taxable__c"], json!(true));
    // A checkbox set to null is unchecked, never null.
    update(&sf, "Product2", &p, json!({"Taxable__c": null})).unwrap();
    assert_eq!(sf.get("Product2", &p).unwrap()["Taxable__c"], json!(false));
    let too_long = create(
        &sf,
        "Product2",
        json!({"Name": "X", "QBO_Tax_Code__c": "T".repeat(41)}),
    )
    .unwrap_err();
    assert_eq!(too_long.code, "STRING_TOO_LONG");

    let o = opportunity(
        &sf,
        json!({"QBO_Class__c": "Services", "QBO_Location__c": "Berlin"}),
    );
    let rec = sf.get("Opportunity", &o).unwrap();
    assert_eq!(
        (&rec["QBO_Class__c"], &rec["QBO_Location__c"]),
        (&json!("Services"), &json!("Berlin"))
    );

    let a = create(
        &sf,
        "Account",
        json!({"Name": "Acme", "Billing_Email_Cc__c": "ap@acme.example"}),
    )
    .unwrap();
    assert_eq!(
        sf.get("Account", &a).unwrap()["Billing_Email_Cc__c"],
        "ap@acme.example"
    );
    let bad = create(
        &sf,
        "Account",
        json!({"Name": "Acme", "Billing_Email_Cc__c": "not an email"}),
    )
    .unwrap_err();
    assert_eq!(bad.code, "INVALID_EMAIL_ADDRESS");
    let d = describe(&sf, "Product2");
    let taxable = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "Taxable__c")
        .unwrap();
    assert_eq!(
        (&taxable["nillable"], &taxable["defaultedOnCreate"]),
        (&json!(false), &json!(true))
    );
}

#[test]
fn contact_roles_are_queried_both_ways_and_one_is_primary() {
    let sf = single_currency();
    let opp = opportunity(&sf, json!({}));
    let other_opp = opportunity(&sf, json!({}));
    let ann = create(
        &sf,
        "Contact",
        json!({"LastName": "Ann", "Email": "ann@x.example"}),
    )
    .unwrap();
    let bob = create(
        &sf,
        "Contact",
        json!({"LastName": "Bob", "Email": "bob@x.example"}),
    )
    .unwrap();
    let first = create(
        &sf,
        "OpportunityContactRole",
        json!({"OpportunityId": opp, "ContactId": ann, "Role": "Decision Maker", "IsPrimary": true}),
    )
    .unwrap();
    assert!(first.starts_with("00K"));
    let plain = create(
        &sf,
        "OpportunityContactRole",
        json!({"OpportunityId": other_opp, "ContactId": ann, "IsPrimary": true}),
    )
    .unwrap();
    assert_eq!(
        sf.get("OpportunityContactRole", &plain).unwrap()["IsPrimary"],
        json!(true)
    );
    let second = create(
        &sf,
        "OpportunityContactRole",
        json!({"OpportunityId": opp, "ContactId": bob}),
    )
    .unwrap();
    assert_eq!(
        sf.get("OpportunityContactRole", &second).unwrap()["IsPrimary"],
        json!(false)
    );
    // Making Bob primary unsets Ann on this opportunity, not on the other one.
    update(
        &sf,
        "OpportunityContactRole",
        &second,
        json!({"IsPrimary": true}),
    )
    .unwrap();
    assert_eq!(
        sf.get("OpportunityContactRole", &first).unwrap()["IsPrimary"],
        json!(false)
    );
    assert_eq!(
        sf.get("OpportunityContactRole", &plain).unwrap()["IsPrimary"],
        json!(true)
    );

    let q = format!(
        "SELECT OpportunityId, Contact.Email, IsPrimary FROM OpportunityContactRole \
         WHERE OpportunityId IN ('{}') AND IsPrimary = true",
        &opp[..15]
    );
    let v = soql(&sf, &q).unwrap();
    assert_eq!(v["totalSize"], 1);
    assert_eq!(v["records"][0]["Contact"]["Email"], "bob@x.example");
    assert_eq!(v["records"][0]["OpportunityId"], json!(opp));

    let q = format!(
        "SELECT Id, (SELECT Contact.Email, IsPrimary FROM OpportunityContactRoles) \
         FROM Opportunity WHERE Id = '{opp}'"
    );
    let v = soql(&sf, &q).unwrap();
    let roles = &v["records"][0]["OpportunityContactRoles"];
    assert_eq!(roles["totalSize"], 2);
    assert_eq!(roles["records"][0]["Contact"]["Email"], "ann@x.example");
    assert_eq!(roles["records"][1]["IsPrimary"], json!(true));

    // OpportunityId is create-only; both references are required.
    let moved = update(
        &sf,
        "OpportunityContactRole",
        &first,
        json!({"OpportunityId": other_opp}),
    )
    .unwrap_err();
    assert_eq!(moved.code, "INVALID_FIELD_FOR_INSERT_UPDATE");
    let missing = create(&sf, "OpportunityContactRole", json!({"OpportunityId": opp})).unwrap_err();
    assert_eq!(missing.code, "REQUIRED_FIELD_MISSING");

    // The roles go with their opportunity.
    sf.delete("Opportunity", &opp).unwrap();
    let left: Vec<Value> = sf.records("OpportunityContactRole");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0]["Id"], json!(plain));
}

#[test]
fn single_currency_org_has_no_currency_iso_code() {
    let sf = single_currency();
    let e = soql(&sf, "SELECT Id, CurrencyIsoCode FROM Account").unwrap_err();
    assert_eq!(e.code, "INVALID_FIELD");
    assert!(
        e.message
            .starts_with("No such column 'CurrencyIsoCode' on entity 'Account'."),
        "{}",
        e.message
    );
    let e = create(
        &sf,
        "Account",
        json!({"Name": "Acme", "CurrencyIsoCode": "USD"}),
    )
    .unwrap_err();
    assert_eq!(e.code, "INVALID_FIELD");
    assert_eq!(
        soql(&sf, "SELECT IsoCode FROM CurrencyType")
            .unwrap_err()
            .code,
        "INVALID_TYPE"
    );
    let fields = describe(&sf, "Opportunity")["fields"].clone();
    assert!(!fields
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["name"] == "CurrencyIsoCode"));
}

#[test]
fn multicurrency_defaults_to_the_corporate_currency_and_refuses_other_codes() {
    let sf = multicurrency();
    let a = create(&sf, "Account", json!({"Name": "Acme"})).unwrap();
    assert_eq!(sf.get("Account", &a).unwrap()["CurrencyIsoCode"], "USD");
    let b = create(
        &sf,
        "Account",
        json!({"Name": "Acme GmbH", "CurrencyIsoCode": "EUR"}),
    )
    .unwrap();
    assert_eq!(sf.get("Account", &b).unwrap()["CurrencyIsoCode"], "EUR");
    for bad in ["XYZ", "GBP"] {
        let e = create(
            &sf,
            "Account",
            json!({"Name": "Acme", "CurrencyIsoCode": bad}),
        )
        .unwrap_err();
        assert_eq!(e.code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
        assert_eq!(
            e.message,
            format!("Currency ISO Code: bad value for restricted picklist field: {bad}")
        );
        assert_eq!(e.fields, vec!["CurrencyIsoCode".to_string()]);
    }
    let e = update(&sf, "Account", &a, json!({"CurrencyIsoCode": "GBP"})).unwrap_err();
    assert_eq!(e.code, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST");
    update(&sf, "Account", &a, json!({"CurrencyIsoCode": "CAD"})).unwrap();

    let v = soql(
        &sf,
        "SELECT Name FROM Account WHERE CurrencyIsoCode = 'EUR'",
    )
    .unwrap();
    assert_eq!(v["totalSize"], 1);
    let d = describe(&sf, "Opportunity");
    let field = d["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "CurrencyIsoCode")
        .unwrap()
        .clone();
    assert_eq!(field["restrictedPicklist"], json!(true));
    assert_eq!(field["defaultValue"], "USD");
    let values: Vec<&str> = field["picklistValues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, ["USD", "EUR", "CAD"]);
}

#[test]
fn lines_take_their_parents_currency_and_cannot_differ() {
    let sf = multicurrency();
    let (product, entries) = product(&sf, &["USD", "EUR"]);
    let (usd, eur) = (&entries[0], &entries[1]);
    // One standard price per product and currency.
    let dup = create(
        &sf,
        "PricebookEntry",
        json!({"Pricebook2Id": sf.standard_pricebook_id(), "Product2Id": product, "UnitPrice": 11, "IsActive": true, "CurrencyIsoCode": "EUR"}),
    )
    .unwrap_err();
    assert_eq!(dup.code, "DUPLICATE_VALUE");

    let opp = opportunity(&sf, json!({"CurrencyIsoCode": "EUR"}));
    let wrong = create(
        &sf,
        "OpportunityLineItem",
        json!({"OpportunityId": opp, "PricebookEntryId": usd, "Quantity": 1, "UnitPrice": 5}),
    )
    .unwrap_err();
    assert_eq!(wrong.code, "FIELD_INTEGRITY_EXCEPTION");
    assert_eq!(
        wrong.message,
        "field integrity exception: PricebookEntryId (pricebook entry currency code does not match opportunity currency code)"
    );
    assert_eq!(wrong.fields, vec!["PricebookEntryId".to_string()]);

    let given = create(
        &sf,
        "OpportunityLineItem",
        json!({"OpportunityId": opp, "PricebookEntryId": eur, "Quantity": 1, "UnitPrice": 5, "CurrencyIsoCode": "EUR"}),
    )
    .unwrap_err();
    assert_eq!(given.code, "INVALID_FIELD_FOR_INSERT_UPDATE");

    let line = create(
        &sf,
        "OpportunityLineItem",
        json!({"OpportunityId": opp, "PricebookEntryId": eur, "Quantity": 2, "UnitPrice": 5}),
    )
    .unwrap();
    assert_eq!(
        sf.get("OpportunityLineItem", &line).unwrap()["CurrencyIsoCode"],
        "EUR"
    );
    // Product2Id alone picks the entry in the opportunity's currency.
    let by_product = create(
        &sf,
        "OpportunityLineItem",
        json!({"OpportunityId": opp, "Product2Id": product, "Quantity": 1, "UnitPrice": 5}),
    )
    .unwrap();
    assert_eq!(
        sf.get("OpportunityLineItem", &by_product).unwrap()["PricebookEntryId"],
        json!(eur)
    );
    let frozen = update(&sf, "Opportunity", &opp, json!({"CurrencyIsoCode": "USD"})).unwrap_err();
    assert_eq!(frozen.code, "FIELD_INTEGRITY_EXCEPTION");

    let account = create(&sf, "Account", json!({"Name": "Acme"})).unwrap();
    let order = create(
        &sf,
        "Order",
        json!({"AccountId": account, "EffectiveDate": "2026-03-01", "Pricebook2Id": sf.standard_pricebook_id()}),
    )
    .unwrap();
    let wrong = create(
        &sf,
        "OrderItem",
        json!({"OrderId": order, "PricebookEntryId": eur, "Quantity": 1, "UnitPrice": 5}),
    )
    .unwrap_err();
    assert_eq!(wrong.code, "FIELD_INTEGRITY_EXCEPTION");
    let item = create(
        &sf,
        "OrderItem",
        json!({"OrderId": order, "PricebookEntryId": usd, "Quantity": 1, "UnitPrice": 5}),
    )
    .unwrap();
    assert_eq!(
        sf.get("OrderItem", &item).unwrap()["CurrencyIsoCode"],
        "USD"
    );
}

#[test]
fn currency_types_and_dated_rates_answer_for_a_date() {
    let sf = multicurrency();
    let v = soql(
        &sf,
        "SELECT IsoCode, ConversionRate, DecimalPlaces, IsCorporate FROM CurrencyType \
         WHERE IsActive = true ORDER BY IsoCode",
    )
    .unwrap();
    let rows: Vec<(String, Value, bool)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["IsoCode"].as_str().unwrap().to_string(),
                r["ConversionRate"].clone(),
                r["IsCorporate"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            ("CAD".to_string(), json!(1.36), false),
            ("EUR".to_string(), json!(0.92), false),
            ("USD".to_string(), json!(1.0), true),
        ]
    );
    assert_eq!(v["records"][0]["DecimalPlaces"], json!(2));

    let on = |day: &str| {
        soql(
            &sf,
            &format!(
                "SELECT IsoCode, ConversionRate, StartDate, NextStartDate FROM DatedConversionRate \
                 WHERE IsoCode = 'EUR' AND StartDate <= {day} AND NextStartDate > {day}"
            ),
        )
        .unwrap()
    };
    let v = on("2026-03-01");
    assert_eq!(v["totalSize"], 1);
    let r = &v["records"][0];
    assert_eq!(
        (&r["ConversionRate"], &r["StartDate"], &r["NextStartDate"]),
        (&json!(0.95), &json!("2026-01-01"), &json!("2026-04-01"))
    );
    let r = on("2025-06-30")["records"][0].clone();
    assert_eq!(
        (&r["ConversionRate"], &r["StartDate"], &r["NextStartDate"]),
        (&json!(0.92), &json!("0001-01-01"), &json!("2026-01-01"))
    );
    let r = on("2026-04-01")["records"][0].clone();
    assert_eq!(
        (&r["ConversionRate"], &r["NextStartDate"]),
        (&json!(0.97), &json!("9999-12-31"))
    );

    // The integration user cannot change the currencies.
    let e = create(
        &sf,
        "CurrencyType",
        json!({"IsoCode": "JPY", "ConversionRate": 150}),
    )
    .unwrap_err();
    assert_eq!(e.code, "INVALID_FIELD_FOR_INSERT_UPDATE");
    let id = soql(&sf, "SELECT Id FROM CurrencyType WHERE IsoCode = 'EUR'").unwrap()["records"][0]
        ["Id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = sf
        .with_org(|org| org.delete("CurrencyType", &id, &api()))
        .unwrap_err();
    assert_eq!(e.code, "INSUFFICIENT_ACCESS_OR_READONLY");
}

#[test]
fn dated_rates_exist_only_with_advanced_currency_management() {
    let sf = SalesforceEmulator::new(SalesforceConfig {
        currencies: Some(Currencies::new("EUR", [("USD", dec("1.08"))])),
        ..Default::default()
    });
    assert_eq!(
        soql(&sf, "SELECT IsoCode FROM DatedConversionRate")
            .unwrap_err()
            .code,
        "INVALID_TYPE"
    );
    let v = soql(
        &sf,
        "SELECT IsoCode FROM CurrencyType WHERE IsCorporate = true",
    )
    .unwrap();
    assert_eq!(v["records"][0]["IsoCode"], "EUR");
    let bad = SalesforceConfig {
        currencies: Some(Currencies::new("usd", [])),
        ..Default::default()
    };
    assert!(SalesforceEmulator::try_new(bad).is_err());
}
