//! The default company every realm starts with, shaped by its profile (`profile.rs`): company
//! info (Country), preferences (CurrencyPrefs, TaxPrefs, SalesFormsPrefs.CustomField), a small
//! chart of accounts, tax codes and rates (US: the pseudo codes `TAX` and `NON` plus one per taxed
//! state; elsewhere the locale's VAT / GST codes), with multicurrency the CompanyCurrency and
//! ExchangeRate entities, four terms, and two service items. Their
//! timestamps are 60 days before start, so they never show up in a CDC window of "recent changes".

use super::entities;
use super::money;
use super::operations::Ops;
use super::profile::{currency_name, CompanyProfile};
use super::store::{Company, Record};
use super::timefmt;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Map, Value};

/// Entity order for seeding: what is referenced comes first.
pub(crate) const SEED_ORDER: [&str; 17] = [
    "CompanyInfo",
    "Preferences",
    "TaxCode",
    "Account",
    "Term",
    "Department",
    "Class",
    "Customer",
    "Vendor",
    "Employee",
    "Item",
    "Invoice",
    "CreditMemo",
    "RefundReceipt",
    "Payment",
    "JournalEntry",
    "RecurringTransaction",
];

fn raw(
    company: &mut Company,
    entity: &'static str,
    id: &str,
    mut value: Value,
    at: DateTime<Utc>,
    tz: FixedOffset,
    system_fields: bool,
) {
    let time = timefmt::entity_time(at, tz);
    if let Some(obj) = value.as_object_mut() {
        if system_fields {
            obj.insert("domain".into(), json!("QBO"));
            obj.insert("sparse".into(), json!(false));
            obj.insert("SyncToken".into(), json!("0"));
        }
        obj.insert("Id".into(), json!(id));
        obj.insert(
            "MetaData".into(),
            json!({"CreateTime": time, "LastUpdatedTime": time}),
        );
    }
    let value: Map<String, Value> = value.as_object().cloned().unwrap_or_default();
    company.table(entity).put(
        id.to_string(),
        Record {
            value,
            updated_at: at,
            voided: false,
        },
    );
}

/// The company's address by country (a US address in California by default).
fn company_address(country: &str) -> Value {
    match country.to_ascii_uppercase().as_str() {
        "GB" => {
            json!({"Id": "1", "Line1": "1 Market Street", "City": "London", "PostalCode": "EC1A 1BB", "Country": "GB"})
        }
        "CA" => {
            json!({"Id": "1", "Line1": "100 King Street West", "City": "Toronto", "CountrySubDivisionCode": "ON", "PostalCode": "M5X 1A9", "Country": "CA"})
        }
        "AU" => {
            json!({"Id": "1", "Line1": "1 George Street", "City": "Sydney", "CountrySubDivisionCode": "NSW", "PostalCode": "2000", "Country": "AU"})
        }
        _ => {
            json!({"Id": "1", "Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA", "PostalCode": "87999"})
        }
    }
}

/// `Preferences.SalesFormsPrefs.CustomField` as QBO returns it: two groups of name/type/value
/// triples, the `UseSalesCustomN` switches (BooleanType) and the `SalesCustomNameN` names
/// (StringType) of the enabled ones (the shape of Intuit's Preferences sample).
fn sales_custom_fields(profile: &CompanyProfile) -> Value {
    let defs = profile.custom_field_definitions();
    let switches: Vec<Value> = (1..=3)
        .rev()
        .map(|n| {
            json!({"Name": format!("SalesFormsPrefs.UseSalesCustom{n}"), "Type": "BooleanType",
                   "BooleanValue": n <= defs.len()})
        })
        .collect();
    let names: Vec<Value> = defs
        .iter()
        .map(|(id, name)| {
            json!({"Name": format!("SalesFormsPrefs.SalesCustomName{id}"), "Type": "StringType",
                   "StringValue": name})
        })
        .collect();
    let mut groups = vec![json!({"CustomField": switches})];
    if !names.is_empty() {
        groups.push(json!({"CustomField": names}));
    }
    Value::Array(groups)
}

/// Tax entities: US `TAX` / `NON` pseudo codes plus one TaxRate and TaxCode per taxed state;
/// elsewhere the locale's VAT / GST codes (`profile.rs`).
fn tax_entities(ops: &mut Ops, profile: &CompanyProfile) {
    let (at, tz) = (ops.now, ops.tz);
    if profile.is_us() {
        for code in ["TAX", "NON"] {
            raw(
                ops.company,
                "TaxCode",
                code,
                json!({"Name": code, "Description": code, "Taxable": code == "TAX", "TaxGroup": false}),
                at,
                tz,
                false,
            );
        }
    }
    let (rates, codes) = profile.tax_table();
    for rate in &rates {
        raw(
            ops.company,
            "TaxRate",
            &rate.id,
            json!({"Name": rate.name, "Description": rate.name, "Active": true,
                   "RateValue": money::to_json(rate.rate.normalize()), "SpecialTaxType": "NONE",
                   "DisplayType": "ReadOnly"}),
            at,
            tz,
            true,
        );
    }
    for code in &codes {
        let details: Vec<Value> = code
            .rates
            .iter()
            .map(|id| {
                let name = rates.iter().find(|r| &r.id == id).map(|r| r.name.clone());
                json!({"TaxRateRef": {"value": id, "name": name}, "TaxTypeApplicable": "TaxOnAmount", "TaxOrder": 0})
            })
            .collect();
        let taxable = code
            .rates
            .iter()
            .any(|id| rates.iter().any(|r| &r.id == id && !r.rate.is_zero()));
        raw(
            ops.company,
            "TaxCode",
            &code.id,
            json!({"Name": code.name, "Description": code.name, "Active": true, "Hidden": false,
                   "Taxable": taxable, "TaxGroup": code.rates.len() > 1,
                   "SalesTaxRateList": {"TaxRateDetail": details},
                   "PurchaseTaxRateList": {"TaxRateDetail": []}}),
            at,
            tz,
            true,
        );
    }
}

/// With multicurrency on: a CompanyCurrency per currency of `exchange_rates` (Code, Name, Active)
/// and the ExchangeRate of each against the home currency, as of the seed date.
fn currencies(ops: &mut Ops, profile: &CompanyProfile) {
    if !profile.multicurrency {
        return;
    }
    let (at, tz) = (ops.now, ops.tz);
    let as_of = timefmt::local_date(at, tz).format("%Y-%m-%d").to_string();
    for (n, (code, rate)) in profile.exchange_rates.iter().enumerate() {
        let name = currency_name(code).unwrap_or(code.as_str());
        raw(
            ops.company,
            "CompanyCurrency",
            &(n + 1).to_string(),
            json!({"Code": code, "Name": name, "Active": true}),
            at,
            tz,
            true,
        );
        raw(
            ops.company,
            "ExchangeRate",
            code,
            json!({"SourceCurrencyCode": code, "TargetCurrencyCode": profile.home_currency,
                   "Rate": money::to_json(rate.normalize()), "AsOfDate": as_of}),
            at,
            tz,
            true,
        );
    }
}

/// Fills a new company with the defaults of its profile.
pub(crate) fn default_company(realm: &str, ops: &mut Ops) -> anyhow::Result<()> {
    let (at, tz) = (ops.now, ops.tz);
    let profile = (*ops.company.profile).clone();
    let country = profile.country.to_ascii_uppercase();
    let address = company_address(&country);
    raw(
        ops.company,
        "CompanyInfo",
        "1",
        json!({
            "CompanyName": format!("Sandbox Company_{country}_{realm}"),
            "LegalName": "Ledgerlink Emulated Company",
            "CompanyAddr": address, "CustomerCommunicationAddr": address, "LegalAddr": address,
            "PrimaryPhone": {}, "CompanyStartDate": "2015-06-05", "FiscalYearStartMonth": "January", "Country": country,
            "Email": {"Address": "noreply@example.com"}, "WebAddr": {}, "SupportedLanguages": "en",
            "NameValue": [{"Name": "NeoEnabled", "Value": "true"}, {"Name": "IndustryType", "Value": "Software"}, {"Name": "SubscriptionStatus", "Value": "PAID"}]
        }),
        at,
        tz,
        true,
    );
    let tax_prefs = if profile.is_us() {
        json!({"UsingSalesTax": true, "PartnerTaxEnabled": false})
    } else {
        json!({"UsingSalesTax": true})
    };
    raw(
        ops.company,
        "Preferences",
        "1",
        json!({
            "AccountingInfoPrefs": {"TrackDepartments": true, "DepartmentTerminology": "Department", "ClassTrackingPerTxn": false, "ClassTrackingPerTxnLine": true, "CustomerTerminology": "Customers"},
            "SalesFormsPrefs": {"CustomField": sales_custom_fields(&profile), "CustomTxnNumbers": false, "AllowDeposit": true, "AllowDiscount": true, "AllowShipping": false, "DefaultTerms": {"value": "3"}, "ETransactionEnabledStatus": "NotApplicable"},
            "CurrencyPrefs": {"MultiCurrencyEnabled": profile.multicurrency, "HomeCurrency": {"value": profile.home_currency.to_ascii_uppercase()}},
            "TaxPrefs": tax_prefs,
            "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": "Thank you for your business."}]}
        }),
        at,
        tz,
        true,
    );
    tax_entities(ops, &profile);
    currencies(ops, &profile);
    let accounts = [
        ("1", "Services", "Income", "ServiceFeeIncome"),
        (
            "2",
            "Sales of Product Income",
            "Income",
            "SalesOfProductIncome",
        ),
        (
            "3",
            "Accounts Receivable (A/R)",
            "Accounts Receivable",
            "AccountsReceivable",
        ),
        (
            "4",
            "Undeposited Funds",
            "Other Current Asset",
            "UndepositedFunds",
        ),
        ("5", "Checking", "Bank", "Checking"),
        (
            "6",
            "Accounts Payable (A/P)",
            "Accounts Payable",
            "AccountsPayable",
        ),
        (
            "7",
            "Opening Balance Equity",
            "Equity",
            "OpeningBalanceEquity",
        ),
        ("8", "Retained Earnings", "Equity", "RetainedEarnings"),
        (
            "9",
            "Cost of Goods Sold",
            "Cost of Goods Sold",
            "SuppliesMaterialsCogs",
        ),
        ("10", "Inventory Asset", "Other Current Asset", "Inventory"),
        ("11", "Uncategorized Income", "Income", "ServiceFeeIncome"),
        (
            "12",
            "Uncategorized Expense",
            "Expense",
            "OtherMiscellaneousServiceCost",
        ),
        (
            "13",
            "Uncategorized Asset",
            "Other Current Asset",
            "OtherCurrentAssets",
        ),
        (
            "14",
            "Sales Tax Payable",
            "Other Current Liability",
            "SalesTaxPayable",
        ),
    ];
    let account =
        entities::lookup("Account").ok_or_else(|| anyhow::anyhow!("no Account entity"))?;
    for (id, name, account_type, sub_type) in accounts {
        let body = json!({"Name": name, "AccountType": account_type, "AccountSubType": sub_type});
        ops.create(
            account,
            body.as_object().cloned().unwrap_or_default(),
            Some(id.into()),
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let term = entities::lookup("Term").ok_or_else(|| anyhow::anyhow!("no Term entity"))?;
    for (id, name, days) in [
        ("1", "Due on receipt", 0),
        ("2", "Net 15", 15),
        ("3", "Net 30", 30),
        ("4", "Net 60", 60),
    ] {
        let body = json!({"Name": name, "Type": "STANDARD", "DueDays": days});
        ops.create(
            term,
            body.as_object().cloned().unwrap_or_default(),
            Some(id.into()),
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    let item = entities::lookup("Item").ok_or_else(|| anyhow::anyhow!("no Item entity"))?;
    for (id, name, price) in [("1", "Services", 0), ("2", "Hours", 0)] {
        let body = json!({"Name": name, "Type": "Service", "UnitPrice": price, "IncomeAccountRef": {"value": "1"}});
        ops.create(
            item,
            body.as_object().cloned().unwrap_or_default(),
            Some(id.into()),
        )
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    }
    // Seeding is not a change anyone should be notified of.
    ops.events.clear();
    Ok(())
}

/// A company of `profile`, seeded as every realm is, with `f` run on it (the tests' setup).
#[cfg(test)]
pub(crate) fn seeded<R>(
    profile: super::CompanyProfile,
    f: impl FnOnce(&mut Ops) -> R,
) -> (Company, R) {
    let mut company = Company::with_profile(profile);
    let mut events = Vec::new();
    let mut ops = Ops {
        company: &mut company,
        realm: "1",
        now: Utc::now(),
        tz: timefmt::offset(-480),
        events: &mut events,
        options: super::operations::Options::default(),
    };
    default_company("1", &mut ops).expect("seeding");
    let out = f(&mut ops);
    (company, out)
}
