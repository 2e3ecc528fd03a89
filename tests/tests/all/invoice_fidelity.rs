//! Invoices a bookkeeper can send as they are (issue 11), end to end on the emulators, each
//! checked field by field on the invoice as QBO stored it: US sales tax (taxable and
//! non-taxable products, a tax-exempt Account), VAT codes in a UK company (tax excluded and
//! included, a line with no code refused), a EUR deal in a USD company with multicurrency on
//! (and refused with it off), the bill-to email from the primary contact and the send, terms
//! from the Account, class per line, location per deal, the sales rep and two custom fields,
//! and the latest invoice's location and class back on the Account.

use ledgerlink::emulated_company::LocalOptions;
use ledgerlink::runtime::exports::ledgerlink::sync::flows::{Outcome, RunReport};
use ledgerlink_emulators::qbo::{CompanyProfile, QboConfig, QboEmulator, RateLimits};
use ledgerlink_emulators::salesforce::{Currencies, SalesforceConfig};
use ledgerlink_emulators::seed::SeedSpec;
use ledgerlink_tests::{company, lines, money, report, Company};
use rust_decimal::Decimal;
use rust_decimal_macros::dec;
use serde_json::{json, Value};

/// A company with no generated data (each test makes its own), QBO as `profile`, Salesforce
/// with `currencies`, and these tenant settings.
fn bare(
    profile: CompanyProfile,
    currencies: Option<Currencies>,
    settings: &[(&str, &str)],
) -> (Company, ledgerlink::db::Database) {
    company(LocalOptions {
        seed: SeedSpec {
            accounts: 0,
            products: 0,
            opportunities: 0,
            orders: 0,
            ..SeedSpec::default()
        },
        qbo: QboConfig {
            company: profile,
            rate_limits: RateLimits {
                enabled: false,
                ..Default::default()
            },
            ..Default::default()
        },
        salesforce: SalesforceConfig {
            currencies,
            ..Default::default()
        },
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..LocalOptions::default()
    })
}

/// The id of the QBO list entry (`TaxCode`, `Term`, ...) named `name` in a fresh company of
/// `profile` (seeded ids are the same in every company of a profile).
fn seeded_id(profile: &CompanyProfile, entity: &str, name: &str) -> String {
    let qbo = QboEmulator::new(QboConfig {
        company: profile.clone(),
        ..Default::default()
    });
    let realm = qbo.config().realms[0].clone();
    qbo.entities(&realm, entity)
        .into_iter()
        .find(|e| e["Name"] == json!(name))
        .and_then(|e| e["Id"].as_str().map(str::to_string))
        .unwrap_or_else(|| panic!("no {entity} named {name}"))
}

fn account(c: &Company, fields: Value) -> String {
    let mut body = json!({"Name": "Acme Corp", "BillingStreet": "1 Market St",
        "BillingCity": "San Francisco", "BillingState": "CA", "BillingPostalCode": "94105",
        "BillingCountry": "USA"});
    merge(&mut body, fields);
    c.sf.insert("Account", body).unwrap()
}

/// A product with a standard price book entry at `price`; returns the entry's id.
fn product(c: &Company, name: &str, family: &str, price: Decimal, fields: Value) -> String {
    let mut body = json!({"Name": name, "ProductCode": name.to_uppercase(), "Family": family, "IsActive": true});
    merge(&mut body, fields.clone());
    let id = c.sf.insert("Product2", body).unwrap();
    let mut entry = json!({"Pricebook2Id": c.sf.standard_pricebook_id(), "Product2Id": id,
        "UnitPrice": ledgerlink_tests::number(price), "IsActive": true});
    if let Some(cur) = fields.get("CurrencyIsoCode") {
        entry["CurrencyIsoCode"] = cur.clone();
    }
    c.sf.insert("PricebookEntry", entry).unwrap()
}

/// A Closed Won opportunity of `account` with `lines` (price book entry, quantity, price).
fn won(c: &Company, account: &str, lines: &[(&str, u32, Decimal)], fields: Value) -> String {
    let mut body = json!({"Name": "Deal", "AccountId": account, "StageName": "Closed Won",
        "CloseDate": "2026-11-02", "Pricebook2Id": c.sf.standard_pricebook_id()});
    merge(&mut body, fields);
    let id = c.sf.insert("Opportunity", body).unwrap();
    for (n, (entry, qty, price)) in lines.iter().enumerate() {
        c.sf.insert(
            "OpportunityLineItem",
            json!({"OpportunityId": id, "PricebookEntryId": entry, "Quantity": qty,
                "UnitPrice": ledgerlink_tests::number(*price), "SortOrder": n + 1}),
        )
        .unwrap();
    }
    id
}

fn merge(body: &mut Value, extra: Value) {
    if let (Some(b), Value::Object(e)) = (body.as_object_mut(), extra) {
        b.extend(e);
    }
}

fn invoice_opportunity(c: &Company, opp: &str) -> RunReport {
    report(c, "sync-invoices", json!({"only": [opp]}))
}

/// The QBO invoice of opportunity `opp`, as the emulator stores it.
fn invoice_of(c: &Company, opp: &str) -> Value {
    c.qbo
        .entities(&c.realm, "Invoice")
        .into_iter()
        .find(|i| i["DocNumber"] == json!(format!("SF-{opp}")))
        .unwrap_or_else(|| panic!("no invoice for {opp}"))
}

fn no_invoice_for(c: &Company, opp: &str) -> bool {
    !c.qbo
        .entities(&c.realm, "Invoice")
        .iter()
        .any(|i| i["DocNumber"] == json!(format!("SF-{opp}")))
}

fn line_codes(inv: &Value) -> Vec<String> {
    sales_lines(inv)
        .map(|l| {
            l["SalesItemLineDetail"]["TaxCodeRef"]["value"]
                .as_str()
                .unwrap_or("")
                .to_string()
        })
        .collect()
}

fn sales_lines(inv: &Value) -> impl Iterator<Item = &Value> {
    inv["Line"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["DetailType"] == json!("SalesItemLineDetail"))
}

fn ok(r: &RunReport) {
    assert_eq!(r.failed, 0, "{:#?}", lines(r, Outcome::Failed));
}

fn failure(r: &RunReport) -> String {
    let failed = lines(r, Outcome::Failed);
    assert_eq!(failed.len(), 1, "{failed:#?}");
    failed[0].clone()
}

#[test]
fn us_sales_tax_follows_the_product_and_the_accounts_exemption_and_qbo_computes_it() {
    let (c, _db) = bare(
        CompanyProfile::default(),
        None,
        &[("product-taxable-field", "Taxable__c")],
    );
    let widget = product(
        &c,
        "Widget",
        "Hardware",
        dec!(100.00),
        json!({"Taxable__c": true}),
    );
    let support = product(
        &c,
        "Support",
        "Services",
        dec!(50.00),
        json!({"Taxable__c": false}),
    );
    let lines = [
        (widget.as_str(), 2, dec!(100.00)),
        (support.as_str(), 1, dec!(50.00)),
    ];

    let buyer = account(&c, json!({"Name": "Bay Area Buyer"}));
    let opp = won(&c, &buyer, &lines, json!({}));
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(line_codes(&inv), ["TAX", "NON"]);
    // California 7.25 % of the taxable 200.00.
    assert_eq!(money(&inv["TxnTaxDetail"]["TotalTax"]), dec!(14.50));
    assert_eq!(money(&inv["TotalAmt"]), dec!(264.50));

    let exempt = account(
        &c,
        json!({"Name": "Exempt School District", "Tax_Exempt__c": true}),
    );
    let opp = won(&c, &exempt, &lines, json!({}));
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(line_codes(&inv), ["NON", "NON"]);
    assert_eq!(money(&inv["TotalAmt"]), dec!(250.00));
    let tax = &inv["TxnTaxDetail"]["TotalTax"];
    assert!(tax.is_null() || money(tax).is_zero(), "{inv:#}");
}

#[test]
fn a_uk_company_gets_vat_codes_per_line_and_refuses_a_line_without_one() {
    let uk = CompanyProfile::uk();
    let standard = seeded_id(&uk, "TaxCode", "20.0% S");
    let zero = seeded_id(&uk, "TaxCode", "0.0% Z");
    let families = format!("Books={zero}");
    let settings = [
        ("us-company", "false"),
        ("home-currency", "GBP"),
        ("tax-code", standard.as_str()),
        ("family-tax-codes", families.as_str()),
    ];
    let (c, _db) = bare(uk.clone(), None, &settings);
    let laptop = product(&c, "Laptop", "Hardware", dec!(500.00), json!({}));
    let manual = product(&c, "Manual", "Books", dec!(20.00), json!({}));
    let buyer = account(
        &c,
        json!({"Name": "London Buyer", "BillingCountry": "GB", "BillingState": null}),
    );
    let opp = won(
        &c,
        &buyer,
        &[
            (laptop.as_str(), 1, dec!(500.00)),
            (manual.as_str(), 2, dec!(20.00)),
        ],
        json!({}),
    );
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(line_codes(&inv), [standard.clone(), zero.clone()]);
    // Tax excluded (QBO's default): 20 % of the laptop is added.
    assert_eq!(money(&inv["TxnTaxDetail"]["TotalTax"]), dec!(100.00));
    assert_eq!(money(&inv["TotalAmt"]), dec!(640.00));

    // A price book whose prices include VAT: the total is the sum of the lines.
    let inclusive = [
        ("us-company", "false"),
        ("home-currency", "GBP"),
        ("tax-code", standard.as_str()),
        ("pricebook-tax-inclusive-field", "Prices_Include_Tax__c"),
    ];
    let (c, _db) = bare(uk.clone(), None, &inclusive);
    c.sf.update(
        "Pricebook2",
        &c.sf.standard_pricebook_id(),
        json!({"Prices_Include_Tax__c": true}),
    )
    .unwrap();
    let laptop = product(&c, "Laptop", "Hardware", dec!(600.00), json!({}));
    let buyer = account(&c, json!({"Name": "London Buyer"}));
    let opp = won(&c, &buyer, &[(laptop.as_str(), 1, dec!(600.00))], json!({}));
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(inv["GlobalTaxCalculation"], "TaxInclusive");
    assert_eq!(money(&inv["TotalAmt"]), dec!(600.00));
    assert_eq!(money(&inv["TxnTaxDetail"]["TotalTax"]), dec!(100.00));

    // No default code and a family with none: refused, naming the line; nothing sent.
    let (c, _db) = bare(
        uk,
        None,
        &[
            ("us-company", "false"),
            ("home-currency", "GBP"),
            ("family-tax-codes", families.as_str()),
        ],
    );
    let laptop = product(&c, "Laptop", "Hardware", dec!(500.00), json!({}));
    let buyer = account(&c, json!({"Name": "London Buyer"}));
    let opp = won(&c, &buyer, &[(laptop.as_str(), 1, dec!(500.00))], json!({}));
    let why = failure(&invoice_opportunity(&c, &opp));
    assert!(why.contains("line-items[0].tax-code"), "{why}");
    assert!(no_invoice_for(&c, &opp));
}

#[test]
fn a_eur_deal_goes_to_the_accounts_eur_customer_at_the_rate_of_its_date() {
    let multicurrency = CompanyProfile {
        multicurrency: true,
        ..CompanyProfile::default()
    };
    let currencies = || Some(Currencies::new("USD", [("EUR", dec!(0.92))]));
    let (c, _db) = bare(
        multicurrency.clone(),
        currencies(),
        &[("multicurrency", "true")],
    );
    let (buyer, consulting, opp) = eur_deal(&c, 3);
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(inv["CurrencyRef"]["value"], "EUR");
    // QBO's rate for EUR (the default source).
    assert_eq!(money(&inv["ExchangeRate"]), dec!(1.08));
    assert_eq!(money(&inv["TotalAmt"]), dec!(3000.00));
    assert_eq!(money(&inv["HomeTotalAmt"]), dec!(3240.00));
    let customer = c
        .qbo
        .entities(&c.realm, "Customer")
        .into_iter()
        .find(|cu| cu["Id"] == inv["CustomerRef"]["value"])
        .unwrap();
    assert_eq!(customer["DisplayName"], "Berlin Buyer (EUR)");
    assert_eq!(customer["CurrencyRef"]["value"], "EUR");
    // The Account keeps its home-currency customer, and no Account is made for the EUR one.
    ok(&report(&c, "poll-quickbooks", json!({})));
    let berlin =
        c.sf.records("Account")
            .iter()
            .filter(|a| {
                a["Name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("Berlin Buyer"))
            })
            .count();
    assert_eq!(berlin, 1);
    // A second EUR deal reuses that customer.
    let opp2 = won(
        &c,
        &buyer,
        &[(consulting.as_str(), 1, dec!(1000.00))],
        json!({"CurrencyIsoCode": "EUR"}),
    );
    ok(&invoice_opportunity(&c, &opp2));
    assert_eq!(invoice_of(&c, &opp2)["CustomerRef"], inv["CustomerRef"]);

    // Salesforce's rates instead: USD per EUR = 1 / 0.92, to six places.
    let (c, _db) = bare(
        multicurrency,
        currencies(),
        &[
            ("multicurrency", "true"),
            ("exchange-rate-source", "salesforce"),
        ],
    );
    let (_, _, opp) = eur_deal(&c, 1);
    ok(&invoice_opportunity(&c, &opp));
    assert_eq!(money(&invoice_of(&c, &opp)["ExchangeRate"]), dec!(1.086957));

    // Multicurrency off in QBO: refused, saying why; nothing is booked in dollars.
    let (c, _db) = bare(CompanyProfile::default(), currencies(), &[]);
    let (_, _, opp) = eur_deal(&c, 1);
    let why = failure(&invoice_opportunity(&c, &opp));
    assert!(
        why.contains("EUR") && why.contains("multicurrency is off"),
        "{why}"
    );
    assert!(no_invoice_for(&c, &opp));
}

/// A EUR price book entry, an Account (in the corporate currency) and a EUR deal of `qty` at
/// 1,000.00: `(account, entry, opportunity)`.
fn eur_deal(c: &Company, qty: u32) -> (String, String, String) {
    let consulting = product(
        c,
        "Consulting",
        "Services",
        dec!(1000.00),
        json!({"CurrencyIsoCode": "EUR"}),
    );
    let buyer = account(c, json!({"Name": "Berlin Buyer"}));
    let opp = won(
        c,
        &buyer,
        &[(consulting.as_str(), qty, dec!(1000.00))],
        json!({"CurrencyIsoCode": "EUR"}),
    );
    (buyer, consulting, opp)
}

#[test]
fn the_invoice_is_emailed_to_the_primary_contact_once_and_a_missing_address_is_a_failure() {
    let (c, _db) = bare(
        CompanyProfile::default(),
        None,
        &[("send-invoices", "true")],
    );
    let widget = product(&c, "Widget", "Hardware", dec!(100.00), json!({}));
    let buyer = account(&c, json!({"Name": "No Email Inc"}));
    let opp = won(&c, &buyer, &[(widget.as_str(), 1, dec!(100.00))], json!({}));
    // No billing email and no contact: the invoice is created, the send fails, saying why.
    let r = invoice_opportunity(&c, &opp);
    assert!(failure(&r).contains("no billing email"));
    assert_ne!(invoice_of(&c, &opp)["EmailStatus"], "EmailSent");

    // The primary contact's email is used; the retry updates the invoice, then sends it.
    let other =
        c.sf.insert(
            "Contact",
            json!({"LastName": "Other", "Email": "other@buyer.example", "AccountId": buyer}),
        )
        .unwrap();
    let ap =
        c.sf.insert(
            "Contact",
            json!({"LastName": "Payables", "Email": "ap@buyer.example", "AccountId": buyer}),
        )
        .unwrap();
    c.sf.insert(
        "OpportunityContactRole",
        json!({"OpportunityId": opp, "ContactId": other, "IsPrimary": false}),
    )
    .unwrap();
    c.sf.insert(
        "OpportunityContactRole",
        json!({"OpportunityId": opp, "ContactId": ap, "IsPrimary": true}),
    )
    .unwrap();
    ok(&invoice_opportunity(&c, &opp));
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(inv["BillEmail"]["Address"], "ap@buyer.example");
    assert_eq!(inv["EmailStatus"], "EmailSent");
    assert_eq!(inv["DeliveryInfo"]["DeliveryType"], "Email");
    let sends = || {
        c.qbo
            .log()
            .count(|r| r.method == "POST" && r.path.ends_with("/send") && r.status == 200)
    };
    assert_eq!(sends(), 1);
    ok(&invoice_opportunity(&c, &opp));
    assert_eq!(sends(), 1, "sent once");
}

#[test]
fn terms_come_from_the_account_by_name_and_an_unknown_term_is_refused() {
    let (c, _db) = bare(
        CompanyProfile::default(),
        None,
        &[
            ("terms-id", "2"),
            ("terms-days", "15"),
            ("terms-map", "Net Sixty=Net 60"),
        ],
    );
    let widget = product(&c, "Widget", "Hardware", dec!(100.00), json!({}));
    let lines = [(widget.as_str(), 1, dec!(100.00))];
    let sixty = account(
        &c,
        json!({"Name": "Slow Payer", "Payment_Terms__c": "Net 60"}),
    );
    let opp = won(&c, &sixty, &lines, json!({}));
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(inv["SalesTermRef"]["value"], "4");
    assert_eq!(inv["DueDate"], "2027-01-01");

    // Mapped by the setting; the tenant's terms only when the Account has none.
    let mapped = account(
        &c,
        json!({"Name": "Mapped Payer", "Payment_Terms__c": "Net Sixty"}),
    );
    let opp = won(&c, &mapped, &lines, json!({}));
    ok(&invoice_opportunity(&c, &opp));
    assert_eq!(invoice_of(&c, &opp)["SalesTermRef"]["value"], "4");
    let none = account(&c, json!({"Name": "Default Payer"}));
    let opp = won(&c, &none, &lines, json!({}));
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    assert_eq!(inv["SalesTermRef"]["value"], "2");
    assert_eq!(inv["DueDate"], "2026-11-17");

    let unknown = account(
        &c,
        json!({"Name": "Odd Payer", "Payment_Terms__c": "Net 90"}),
    );
    let opp = won(&c, &unknown, &lines, json!({}));
    let why = failure(&invoice_opportunity(&c, &opp));
    assert!(
        why.contains("Payment_Terms__c") && why.contains("Net 90"),
        "{why}"
    );
    assert!(no_invoice_for(&c, &opp));
}

#[test]
fn class_per_line_location_per_deal_sales_rep_and_custom_fields_reach_the_invoice() {
    let profile = CompanyProfile {
        custom_fields: vec!["Sales Rep".into(), "Next Step".into(), "Industry".into()],
        ..CompanyProfile::default()
    };
    let (c, _db) = bare(
        profile,
        None,
        &[
            ("product-class-field", "QBO_Class__c"),
            ("family-classes", "Services=Services"),
            ("opportunity-location-field", "QBO_Location__c"),
            ("sales-rep-field-id", "1"),
            ("sales-rep-format", "initials"),
            ("custom-fields", "2=NextStep, 3=Account.Industry"),
        ],
    );
    for class in ["Hardware", "Services"] {
        c.qbo
            .insert(&c.realm, "Class", json!({"Name": class}))
            .unwrap();
    }
    c.qbo
        .insert(&c.realm, "Department", json!({"Name": "West"}))
        .unwrap();
    let widget = product(
        &c,
        "Widget",
        "Devices",
        dec!(100.00),
        json!({"QBO_Class__c": "Hardware"}),
    );
    let setup = product(&c, "Setup", "Services", dec!(40.00), json!({}));
    let owner = c.sf.insert("User", json!({"Username": "ada@ledgerlink.example", "FirstName": "Ada", "LastName": "Lovelace", "Email": "ada@ledgerlink.example"})).unwrap();
    let buyer = account(&c, json!({"Name": "Classy Buyer", "Industry": "Education"}));
    let opp = won(
        &c,
        &buyer,
        &[
            (widget.as_str(), 1, dec!(100.00)),
            (setup.as_str(), 1, dec!(40.00)),
        ],
        json!({"OwnerId": owner, "QBO_Location__c": "West", "NextStep": "Kick-off on Monday"}),
    );
    ok(&invoice_opportunity(&c, &opp));
    let inv = invoice_of(&c, &opp);
    let classes: Vec<&Value> = sales_lines(&inv)
        .map(|l| &l["SalesItemLineDetail"]["ClassRef"]["name"])
        .collect();
    assert_eq!(classes, [&json!("Hardware"), &json!("Services")]);
    assert_eq!(inv["DepartmentRef"]["name"], "West");
    let fields: Vec<(String, String)> = inv["CustomField"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| {
            Some((
                f["DefinitionId"].as_str()?.to_string(),
                f["StringValue"].as_str()?.to_string(),
            ))
        })
        .collect();
    assert_eq!(
        fields,
        [
            ("1".to_string(), "AL".to_string()),
            ("2".to_string(), "Kick-off on Monday".to_string()),
            ("3".to_string(), "Education".to_string())
        ]
    );

    // A class QBO does not have: refused, naming the field.
    let odd = product(
        &c,
        "Odd",
        "Devices",
        dec!(1.00),
        json!({"QBO_Class__c": "Nonexistent"}),
    );
    let opp = won(&c, &buyer, &[(odd.as_str(), 1, dec!(1.00))], json!({}));
    let why = failure(&invoice_opportunity(&c, &opp));
    assert!(
        why.contains("QBO_Class__c") && why.contains("Nonexistent"),
        "{why}"
    );
}

#[test]
fn the_latest_invoices_location_and_class_reach_the_account_once() {
    let (c, _db) = bare(CompanyProfile::default(), None, &[]);
    let west = c
        .qbo
        .insert(&c.realm, "Department", json!({"Name": "West"}))
        .unwrap();
    let retail = c
        .qbo
        .insert(&c.realm, "Class", json!({"Name": "Retail"}))
        .unwrap();
    let wholesale = c
        .qbo
        .insert(&c.realm, "Class", json!({"Name": "Wholesale"}))
        .unwrap();
    let buyer = account(&c, json!({"Name": "Linked Buyer"}));
    ok(&report(&c, "sync-accounts", json!({"full": true})));
    report(&c, "poll-quickbooks", json!({}));
    let customer = c.sf.get("Account", &buyer).unwrap()["QBO_Customer_Id__c"].clone();
    c.qbo
        .insert(&c.realm, "Invoice", json!({"CustomerRef": {"value": customer}, "TxnDate": "2026-11-20",
            "DepartmentRef": {"value": west["Id"], "name": "West"},
            "ClassRef": {"value": retail["Id"], "name": "Retail"},
            "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 10.0}}]}))
        .unwrap();
    ok(&report(&c, "poll-quickbooks", json!({})));
    let a = c.sf.get("Account", &buyer).unwrap();
    assert_eq!(a["QBO_Department__c"], "West");
    assert_eq!(a["QBO_Class__c"], "Retail");
    // An older invoice with another class changes nothing, and nothing is written again.
    let stamp = a["SystemModstamp"].clone();
    c.qbo
        .insert(&c.realm, "Invoice", json!({"CustomerRef": {"value": customer}, "TxnDate": "2026-01-05",
            "ClassRef": {"value": wholesale["Id"], "name": "Wholesale"},
            "Line": [{"Amount": 10.0, "DetailType": "SalesItemLineDetail",
                      "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "Qty": 1, "UnitPrice": 10.0}}]}))
        .unwrap();
    ok(&report(&c, "poll-quickbooks", json!({})));
    ok(&report(&c, "sync-accounts", json!({"full": true})));
    let a = c.sf.get("Account", &buyer).unwrap();
    assert_eq!(a["QBO_Class__c"], "Retail");
    assert_eq!(
        a["SystemModstamp"], stamp,
        "the Account was not written again"
    );
}

#[test]
fn the_accounts_terms_and_exemption_survive_the_round_trip_through_qbo() {
    // A new customer carries the Account's terms and exemption, so the QBO-owned fields that
    // come back (the backfill polls QBO) agree with what the invoices were built from, and the
    // next run changes nothing.
    let (c, _db) = company(ledgerlink_tests::small());
    let before: Vec<Value> = c.sf.records("Account");
    ok(&report(&c, "backfill", json!({})));
    for a in &before {
        let now = c.sf.get("Account", a["Id"].as_str().unwrap()).unwrap();
        assert_eq!(
            now["Payment_Terms__c"], a["Payment_Terms__c"],
            "{}",
            a["Name"]
        );
        assert_eq!(now["Tax_Exempt__c"], a["Tax_Exempt__c"], "{}", a["Name"]);
    }
    let again = report(&c, "sync-invoices", json!({"full": true}));
    assert_eq!(
        (again.created, again.updated, again.failed),
        (0, 0, 0),
        "{:#?}",
        lines(&again, Outcome::Updated)
    );
}

#[test]
fn a_failed_create_of_the_currency_customer_fails_that_deal_only_and_the_retry_invoices_it() {
    let multicurrency = CompanyProfile {
        multicurrency: true,
        ..CompanyProfile::default()
    };
    let currencies = Some(Currencies::new("USD", [("EUR", dec!(0.92))]));
    let (c, _db) = bare(multicurrency, currencies, &[("multicurrency", "true")]);
    let (_, _, eur) = eur_deal(&c, 1);
    let widget = product(&c, "Widget", "Hardware", dec!(100.00), json!({}));
    let local = account(&c, json!({"Name": "Local Buyer"}));
    let usd = won(&c, &local, &[(widget.as_str(), 1, dec!(100.00))], json!({}));
    ok(&report(&c, "sync-accounts", json!({"full": true})));
    // The one customer create left is the EUR copy: its connection drops.
    c.qbo.faults().push(ledgerlink_emulators::FaultRule {
        method: Some("POST".into()),
        path_contains: Some("/customer".into()),
        fault: ledgerlink_emulators::FaultKind::Reset,
        probability: 1.0,
        times: Some(1),
    });
    let r = report(&c, "sync-invoices", json!({"only": [eur, usd]}));
    let failed = r
        .records
        .iter()
        .filter(|o| o.outcome == Outcome::Failed)
        .collect::<Vec<_>>();
    assert_eq!(failed.len(), 1, "{:#?}", r.records);
    assert_eq!(failed[0].record_id, eur);
    assert!(failed[0].retryable, "{:?}", failed[0]);
    assert!(no_invoice_for(&c, &eur));
    invoice_of(&c, &usd);
    ok(&invoice_opportunity(&c, &eur));
    assert_eq!(invoice_of(&c, &eur)["CurrencyRef"]["value"], "EUR");
}
