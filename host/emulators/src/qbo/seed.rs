//! The default company every realm starts with: company info, preferences, a small chart of
//! accounts, the US pseudo tax codes `TAX` and `NON`, four terms, and two service items. Their
//! timestamps are 60 days before start, so they never show up in a CDC window of "recent changes".

use super::entities;
use super::operations::Ops;
use super::store::{Company, Record};
use super::timefmt;
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{json, Map, Value};

/// Entity order for seeding: what is referenced comes first.
pub(crate) const SEED_ORDER: [&str; 14] = [
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
    "Payment",
    "JournalEntry",
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

/// Fills a new company with the defaults.
pub(crate) fn default_company(realm: &str, ops: &mut Ops) -> anyhow::Result<()> {
    let (at, tz) = (ops.now, ops.tz);
    raw(
        ops.company,
        "CompanyInfo",
        "1",
        json!({
            "CompanyName": format!("Sandbox Company_US_{realm}"),
            "LegalName": "Ledgerlink Emulated Company",
            "CompanyAddr": {"Id": "1", "Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA", "PostalCode": "87999"},
            "CustomerCommunicationAddr": {"Id": "1", "Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA", "PostalCode": "87999"},
            "LegalAddr": {"Id": "1", "Line1": "123 Sierra Way", "City": "San Pablo", "CountrySubDivisionCode": "CA", "PostalCode": "87999"},
            "PrimaryPhone": {}, "CompanyStartDate": "2015-06-05", "FiscalYearStartMonth": "January", "Country": "US",
            "Email": {"Address": "noreply@example.com"}, "WebAddr": {}, "SupportedLanguages": "en",
            "NameValue": [{"Name": "NeoEnabled", "Value": "true"}, {"Name": "IndustryType", "Value": "Software"}, {"Name": "SubscriptionStatus", "Value": "PAID"}]
        }),
        at,
        tz,
        true,
    );
    raw(
        ops.company,
        "Preferences",
        "1",
        json!({
            "AccountingInfoPrefs": {"TrackDepartments": true, "DepartmentTerminology": "Department", "ClassTrackingPerTxn": false, "ClassTrackingPerTxnLine": true, "CustomerTerminology": "Customers"},
            "SalesFormsPrefs": {"CustomTxnNumbers": false, "AllowDeposit": true, "AllowDiscount": true, "AllowShipping": false, "DefaultTerms": {"value": "3"}, "ETransactionEnabledStatus": "NotApplicable"},
            "CurrencyPrefs": {"MultiCurrencyEnabled": false, "HomeCurrency": {"value": "USD"}},
            "TaxPrefs": {"UsingSalesTax": true, "PartnerTaxEnabled": false},
            "OtherPrefs": {"NameValue": [{"Name": "SalesFormsPrefs.DefaultCustomerMessage", "Value": "Thank you for your business."}]}
        }),
        at,
        tz,
        true,
    );
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
