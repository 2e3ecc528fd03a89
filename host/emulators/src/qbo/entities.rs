//! The entities the emulator serves and the rules for name-list entities (Customer, Vendor,
//! Employee, Item, Account, Department, Class, Term). Transaction rules are in `transactions.rs`.
//!
//! | rule | error |
//! |---|---|
//! | DisplayName unique across Customer, Vendor and Employee, inactive ones included (case-insensitive) | 6240 |
//! | DisplayName / Name may not contain `:` | 6000 |
//! | Name unique within Item, Account, Department, Class, Term | 6240 |
//! | Account.AccountType and Item.Type from their enumerations | 2170 |
//! | required fields (Name, AccountType, Item accounts for Inventory) | 2020 |
//! | references exist (2500) and are active (610) | 2500 / 610 |
//! | Customer / Vendor CurrencyRef: home currency unless multicurrency; a customer's never changes | 6000 (see `tax.rs`) |

use super::errors::QboError;
use super::fields::{check_ref, default, flag, text};
use super::store::{By, Company};
use serde_json::{json, Map, Value};

/// How an entity may be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Created and updated; never deleted, only made inactive.
    NameList,
    /// Created, updated, deleted (and voided for some).
    Transaction,
    /// Read and queried only.
    ReadOnly,
    /// One object per company, read and updated.
    Singleton,
}

/// One entity type.
#[derive(Debug)]
pub(crate) struct EntityDef {
    /// Canonical name, e.g. "JournalEntry".
    pub name: &'static str,
    /// How it may be written.
    pub kind: Kind,
}

/// Every entity the emulator knows.
pub(crate) const ENTITIES: &[EntityDef] = &[
    EntityDef {
        name: "Customer",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Vendor",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Employee",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Item",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Account",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Department",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Class",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Term",
        kind: Kind::NameList,
    },
    EntityDef {
        name: "Invoice",
        kind: Kind::Transaction,
    },
    EntityDef {
        name: "Payment",
        kind: Kind::Transaction,
    },
    EntityDef {
        name: "JournalEntry",
        kind: Kind::Transaction,
    },
    EntityDef {
        name: "CreditMemo",
        kind: Kind::Transaction,
    },
    EntityDef {
        name: "RefundReceipt",
        kind: Kind::Transaction,
    },
    // Read and written wrapped: `{"Invoice": {...template..., "RecurringInfo": {...}}}`
    // (`recurring.rs`).
    EntityDef {
        name: "RecurringTransaction",
        kind: Kind::Transaction,
    },
    EntityDef {
        name: "TaxCode",
        kind: Kind::ReadOnly,
    },
    EntityDef {
        name: "TaxRate",
        kind: Kind::ReadOnly,
    },
    // Emulator approximation: QBO lets apps create and update CompanyCurrency and ExchangeRate;
    // the emulator seeds them from the profile and serves them read-only.
    EntityDef {
        name: "CompanyCurrency",
        kind: Kind::ReadOnly,
    },
    EntityDef {
        name: "ExchangeRate",
        kind: Kind::ReadOnly,
    },
    EntityDef {
        name: "CompanyInfo",
        kind: Kind::Singleton,
    },
    EntityDef {
        name: "Preferences",
        kind: Kind::Singleton,
    },
];

/// The entity called `name`, case-insensitively (`invoice`, `Invoice`, `INVOICE`).
pub(crate) fn lookup(name: &str) -> Option<&'static EntityDef> {
    ENTITIES.iter().find(|e| e.name.eq_ignore_ascii_case(name))
}

/// Entities whose DisplayName shares one namespace.
pub(crate) const PEOPLE: [&str; 3] = ["Customer", "Vendor", "Employee"];

/// What a write needs besides the object.
pub(crate) struct WriteCtx<'a> {
    /// The object's Id (already allocated for creates).
    pub id: &'a str,
    /// The stored version, for updates.
    pub prior: Option<&'a Map<String, Value>>,
    /// Rename a Customer to "<name> (deleted)" when it is made inactive.
    pub rename_on_deactivate: bool,
}

/// Applies the name-list rules to `obj` (already cleaned and merged) in place.
pub(crate) fn name_list_rules(
    entity: &str,
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &WriteCtx,
) -> Result<(), QboError> {
    default(obj, "Active", json!(true));
    match entity {
        "Customer" | "Vendor" | "Employee" => person(entity, obj, company, ctx),
        "Item" => item(obj, company, ctx),
        "Account" => account(obj, company, ctx),
        "Department" | "Class" => grouping(entity, obj, company, ctx),
        "Term" => term(obj, company, ctx),
        _ => Ok(()),
    }
}

fn person(
    entity: &str,
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &WriteCtx,
) -> Result<(), QboError> {
    let mut display = match text(obj, "DisplayName") {
        Some(name) => name,
        None => {
            let parts: Vec<String> = ["Title", "GivenName", "MiddleName", "FamilyName", "Suffix"]
                .iter()
                .filter_map(|k| text(obj, k))
                .collect();
            if !parts.is_empty() {
                parts.join(" ")
            } else if let Some(company_name) = text(obj, "CompanyName") {
                company_name
            } else {
                return Err(QboError::required("DisplayName"));
            }
        }
    };
    if display.chars().count() > 500 {
        return Err(QboError::too_long("DisplayName", 500));
    }
    if display.contains(':') {
        return Err(
            QboError::business("The DisplayName cannot contain a colon (:).")
                .element("DisplayName"),
        );
    }
    let active = flag(obj, "Active").unwrap_or(true);
    let was_active = ctx.prior.and_then(|p| flag(p, "Active")).unwrap_or(true);
    if entity == "Customer" && ctx.rename_on_deactivate {
        if !active && was_active && !display.ends_with(" (deleted)") {
            display = format!("{display} (deleted)");
        } else if active && !was_active {
            if let Some(stripped) = display.strip_suffix(" (deleted)") {
                display = stripped.to_string();
            }
        }
    }
    let key = display.to_ascii_lowercase();
    for other in PEOPLE {
        if company
            .find(other, By::DisplayName, &key)
            .any(|(id, _)| other != entity || id != ctx.id)
        {
            return Err(QboError::duplicate_name(&other.to_ascii_lowercase()));
        }
    }
    obj.insert("DisplayName".into(), json!(display));
    if entity != "Employee" {
        default(
            obj,
            "PrintOnCheckName",
            json!(text(obj, "CompanyName").unwrap_or_else(|| display.clone())),
        );
        super::tax::party_currency(entity, obj, company, ctx.prior)?;
    }
    if entity == "Customer" {
        let parent = check_ref(company, obj, "ParentRef", "Customer")?;
        let fqn = match &parent {
            Some(pid) => {
                let prefix = company
                    .get("Customer", pid)
                    .and_then(|p| p.str("FullyQualifiedName"))
                    .unwrap_or_default()
                    .to_string();
                let level = company
                    .get("Customer", pid)
                    .and_then(|p| p.value.get("Level"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
                    .saturating_add(1);
                obj.insert("Job".into(), json!(true));
                obj.insert("Level".into(), json!(level));
                default(obj, "BillWithParent", json!(false));
                format!("{prefix}:{display}")
            }
            None => {
                obj.insert("Job".into(), json!(false));
                obj.remove("Level");
                default(obj, "BillWithParent", json!(false));
                display.clone()
            }
        };
        obj.insert("FullyQualifiedName".into(), json!(fqn));
        // Intuit's Customer reference (minor version 10 and above): Taxable is true when a
        // DefaultTaxCodeRef is given and false when a TaxExemptionReasonId is. It names no
        // default for neither; the emulator takes taxable (as a customer added in the QBO UI of
        // a company with automated sales tax is): emulator approximation.
        let taxable = !obj.contains_key("TaxExemptionReasonId");
        default(obj, "Taxable", json!(taxable));
        default(obj, "IsProject", json!(false));
        check_ref(company, obj, "SalesTermRef", "Term")?;
        check_ref(company, obj, "DefaultTaxCodeRef", "TaxCode")?;
        check_ref(company, obj, "ARAccountRef", "Account")?;
        // Balances are derived from open invoices when rendered.
        obj.remove("Balance");
        obj.remove("BalanceWithJobs");
    } else if entity == "Vendor" {
        check_ref(company, obj, "TermRef", "Term")?;
        default(obj, "Balance", json!(0));
        default(obj, "Vendor1099", json!(false));
    } else {
        default(obj, "BillableTime", json!(false));
    }
    Ok(())
}

fn unique_name(
    entity: &str,
    what: &str,
    name: &str,
    obj_id: &str,
    company: &Company,
) -> Result<(), QboError> {
    if company
        .find(entity, By::Name, &name.to_ascii_lowercase())
        .any(|(id, _)| id != obj_id)
    {
        return Err(QboError::duplicate_name(what));
    }
    Ok(())
}

fn required_name(obj: &Map<String, Value>) -> Result<String, QboError> {
    let name = text(obj, "Name").ok_or_else(|| QboError::required("Name"))?;
    if name.contains(':') {
        return Err(QboError::business("The Name cannot contain a colon (:).").element("Name"));
    }
    if name.chars().count() > 100 {
        return Err(QboError::too_long("Name", 100));
    }
    Ok(name)
}

/// Sets FullyQualifiedName from ParentRef (`Parent:Child`) and the Sub* flag.
fn hierarchy(
    entity: &str,
    sub_flag: &str,
    name: &str,
    obj: &mut Map<String, Value>,
    company: &Company,
) -> Result<(), QboError> {
    let parent = check_ref(company, obj, "ParentRef", entity)?;
    let fqn = match parent {
        Some(pid) => {
            obj.insert(sub_flag.into(), json!(true));
            let prefix = company
                .get(entity, &pid)
                .and_then(|p| p.str("FullyQualifiedName"))
                .unwrap_or_default()
                .to_string();
            format!("{prefix}:{name}")
        }
        None => {
            obj.insert(sub_flag.into(), json!(false));
            name.to_string()
        }
    };
    obj.insert("Name".into(), json!(name));
    obj.insert("FullyQualifiedName".into(), json!(fqn));
    Ok(())
}

const ITEM_TYPES: [&str; 14] = [
    "Inventory",
    "NonInventory",
    "Service",
    "Assembly",
    "Category",
    "Fixed Asset",
    "Group",
    "Other Charge",
    "Payment",
    "Subtotal",
    "Discount",
    "Tax",
    "Tax Group",
    "Bundle",
];

fn item(obj: &mut Map<String, Value>, company: &Company, ctx: &WriteCtx) -> Result<(), QboError> {
    let name = required_name(obj)?;
    unique_name("Item", "product or service", &name, ctx.id, company)?;
    let item_type = text(obj, "Type").unwrap_or_else(|| "Service".into());
    if !ITEM_TYPES.contains(&item_type.as_str()) {
        return Err(QboError::invalid_enum("Type", &item_type));
    }
    obj.insert("Type".into(), json!(item_type));
    if item_type == "Inventory" {
        for key in [
            "IncomeAccountRef",
            "ExpenseAccountRef",
            "AssetAccountRef",
            "QtyOnHand",
            "InvStartDate",
        ] {
            if !obj.contains_key(key) {
                return Err(QboError::required(key));
            }
        }
        obj.insert("TrackQtyOnHand".into(), json!(true));
    } else {
        default(obj, "TrackQtyOnHand", json!(false));
    }
    for key in ["IncomeAccountRef", "ExpenseAccountRef", "AssetAccountRef"] {
        check_ref(company, obj, key, "Account")?;
    }
    check_ref(company, obj, "SalesTaxCodeRef", "TaxCode")?;
    check_ref(company, obj, "PurchaseTaxCodeRef", "TaxCode")?;
    check_ref(company, obj, "ClassRef", "Class")?;
    hierarchy("Item", "SubItem", &name, obj, company)?;
    default(obj, "Taxable", json!(false));
    default(obj, "UnitPrice", json!(0));
    default(obj, "PurchaseCost", json!(0));
    Ok(())
}

/// The Classification QBO derives from an AccountType, and a default AccountSubType.
pub(crate) fn account_classification(account_type: &str) -> Option<(&'static str, &'static str)> {
    Some(match account_type {
        "Bank" => ("Asset", "Checking"),
        "Accounts Receivable" => ("Asset", "AccountsReceivable"),
        "Other Current Asset" => ("Asset", "OtherCurrentAssets"),
        "Fixed Asset" => ("Asset", "OtherFixedAssets"),
        "Other Asset" => ("Asset", "OtherLongTermAssets"),
        "Accounts Payable" => ("Liability", "AccountsPayable"),
        "Credit Card" => ("Liability", "CreditCard"),
        "Other Current Liability" => ("Liability", "OtherCurrentLiabilities"),
        "Long Term Liability" => ("Liability", "OtherLongTermLiabilities"),
        "Equity" => ("Equity", "OpeningBalanceEquity"),
        "Income" => ("Revenue", "ServiceFeeIncome"),
        "Other Income" => ("Revenue", "OtherMiscellaneousIncome"),
        "Cost of Goods Sold" => ("Expense", "SuppliesMaterialsCogs"),
        "Expense" => ("Expense", "OtherMiscellaneousServiceCost"),
        "Other Expense" => ("Expense", "OtherMiscellaneousExpense"),
        "Non-Posting" => ("Expense", "OtherMiscellaneousExpense"),
        _ => return None,
    })
}

fn account(
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &WriteCtx,
) -> Result<(), QboError> {
    let name = required_name(obj)?;
    unique_name("Account", "account", &name, ctx.id, company)?;
    let account_type = text(obj, "AccountType").ok_or_else(|| QboError::required("AccountType"))?;
    let (classification, sub_type) = account_classification(&account_type)
        .ok_or_else(|| QboError::invalid_enum("AccountType", &account_type))?;
    obj.insert("Classification".into(), json!(classification));
    default(obj, "AccountSubType", json!(sub_type));
    hierarchy("Account", "SubAccount", &name, obj, company)?;
    default(obj, "CurrentBalance", json!(0));
    default(obj, "CurrentBalanceWithSubAccounts", json!(0));
    default(
        obj,
        "CurrencyRef",
        json!({"value": "USD", "name": "United States Dollar"}),
    );
    Ok(())
}

fn grouping(
    entity: &str,
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &WriteCtx,
) -> Result<(), QboError> {
    let name = required_name(obj)?;
    unique_name(entity, &entity.to_ascii_lowercase(), &name, ctx.id, company)?;
    let sub_flag = if entity == "Class" {
        "SubClass"
    } else {
        "SubDepartment"
    };
    hierarchy(entity, sub_flag, &name, obj, company)
}

fn term(obj: &mut Map<String, Value>, company: &Company, ctx: &WriteCtx) -> Result<(), QboError> {
    let name = required_name(obj)?;
    unique_name("Term", "term", &name, ctx.id, company)?;
    obj.insert("Name".into(), json!(name));
    let term_type = text(obj, "Type").unwrap_or_else(|| "STANDARD".into());
    if term_type != "STANDARD" && term_type != "DATE_DRIVEN" {
        return Err(QboError::invalid_enum("Type", &term_type));
    }
    obj.insert("Type".into(), json!(term_type));
    if obj.get("Type") == Some(&json!("STANDARD")) {
        default(obj, "DueDays", json!(0));
    }
    default(obj, "DiscountPercent", json!(0));
    default(obj, "DiscountDays", json!(0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_is_case_insensitive() {
        assert_eq!(lookup("journalentry").map(|e| e.name), Some("JournalEntry"));
        assert_eq!(lookup("CLASS").map(|e| e.name), Some("Class"));
        assert!(lookup("widget").is_none());
    }

    #[test]
    fn account_types_map_to_classifications() {
        assert_eq!(
            account_classification("Income").map(|c| c.0),
            Some("Revenue")
        );
        assert_eq!(
            account_classification("Accounts Receivable").map(|c| c.0),
            Some("Asset")
        );
        assert!(account_classification("Cash").is_none());
    }
}
