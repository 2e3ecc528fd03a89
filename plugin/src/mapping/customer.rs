//! `map-customer`: QBO Customer -> Salesforce Account fields, including the QBO-owned ones.
//!
//! The reverse of `map-account`, deciding each shared field by the same three-way merge
//! ([`super::party`]): a field is written only when QuickBooks wins it (owner `quickbooks` and
//! the values differ, or owner `both` and only QuickBooks changed since the last sync).
//!
//! **Fields** (Salesforce API names; longer values are truncated on a character boundary to the
//! Salesforce length): `DisplayName` -> `Name` (255); `BillAddr`/`ShipAddr` -> `BillingStreet`
//! (lines joined by `"\n"`, 255), `BillingCity` (40), `BillingState` (80), `BillingPostalCode`
//! (20), `BillingCountry` (80), and `Shipping*` likewise, all five written together when the
//! address changes; `PrimaryPhone` -> `Phone` (40); `WebAddr` -> `Website` (255); `Notes` ->
//! `Description` (32000); `PrimaryEmailAddr` -> the field named by `email-field` (none: email
//! is not synced). `CompanyName` has no Salesforce field of its own (`Name` receives
//! `DisplayName`), so it is never written here. `Name` is required, so it is never cleared; any
//! other value QuickBooks cleared on purpose is written as `null`.
//!
//! **QBO-owned fields**, always from QuickBooks, each only when its target field is configured
//! and only when it differs from what the Account holds (no echo writes):
//! - payment terms: the `SalesTermRef` name as text; `null` when QuickBooks has no terms but
//!   the Account does; a reference without a name is skipped (the name is unknown);
//! - tax exempt: `Taxable = false` -> `true`, `Taxable = true` -> `false`, unknown -> skipped;
//! - department and class: the names the flow resolved (from the customer's latest invoice), as
//!   text; none -> no write; the same as the Account's current value -> no write.
//!
//! **Create** (no `existing`): `Name` (from `DisplayName`, else `CompanyName`) and every mapped
//! field that has a value. **Update**: `(Account Id, fields)`; nothing to write -> `Unchanged`.
//!
//! **Refusals** (all collected, `invalid-input`, record `Customer <Id>`): no usable name on
//! create (`display-name`), an email that would be written but is not an address (`email`), an
//! existing Account without an Id (`existing.id`).

use crate::mapping::party::{
    self, from_account, from_customer, get, merge_all, set, to_sf, PartyValue, Versions, Winner,
};
use crate::mapping::text::{clean, is_valid_email};
use crate::model::{
    ErrorKind, FieldConflict, FieldError, FieldRule, MappingError, PartyField, PartySnapshot,
    PostalAddress, QboCustomer, SfAccount, SfField, SfValue,
};
use serde::{Deserialize, Serialize};

/// Which Salesforce fields receive the QBO-owned values (API names; none = not synced).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct QboOwnedFields {
    pub payment_terms: Option<String>,
    pub tax_exempt: Option<String>,
    pub department: Option<String>,
    pub class: Option<String>,
}

/// Input of `map-customer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct CustomerInput {
    pub customer: QboCustomer,
    pub existing: Option<SfAccount>,
    pub last_synced: Option<PartySnapshot>,
    pub rules: Vec<FieldRule>,
    pub targets: QboOwnedFields,
    pub department_name: Option<String>,
    pub class_name: Option<String>,
    pub email_field: Option<String>,
}

/// What to do on the Salesforce side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum AccountChange {
    Create(Vec<SfField>),
    Update((String, Vec<SfField>)),
    Unchanged,
}

/// Output of `map-customer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct CustomerOutput {
    pub change: AccountChange,
    pub snapshot: PartySnapshot,
    pub conflicts: Vec<FieldConflict>,
}

/// Maps a QBO Customer to Salesforce Account field writes.
pub fn map_customer(input: &CustomerInput) -> Result<CustomerOutput, MappingError> {
    let customer = &input.customer;
    let record = record_id(customer);
    let mut errors = Vec::new();
    let quickbooks = from_customer(customer);
    let output = match &input.existing {
        None => create(input, &quickbooks, &record, &mut errors),
        Some(existing) => update(input, existing, &quickbooks, &record, &mut errors),
    };
    if errors.is_empty() {
        Ok(output)
    } else {
        Err(MappingError::new(ErrorKind::InvalidInput, errors))
    }
}

/// `Customer <Id>`, or the display name of a customer not yet saved.
fn record_id(customer: &QboCustomer) -> String {
    match (
        clean(customer.id.as_deref()),
        clean(customer.display_name.as_deref()),
    ) {
        (Some(id), _) => format!("Customer {id}"),
        (None, Some(name)) => format!("Customer \"{name}\""),
        (None, None) => "Customer (no id)".to_string(),
    }
}

/// A new Account: `Name` and every mapped field that has a value.
fn create(
    input: &CustomerInput,
    quickbooks: &PartySnapshot,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> CustomerOutput {
    let mut fields = Vec::new();
    let name = [PartyField::DisplayName, PartyField::CompanyName]
        .into_iter()
        .find_map(|field| get(quickbooks, field).and_then(|v| to_sf(field, &v)));
    match &name {
        Some(name) => fields.push(SfField::new("Name", SfValue::Text(name.describe()))),
        None => errors.push(FieldError::new(
            record,
            "display-name",
            "the customer has neither a DisplayName nor a CompanyName; a Salesforce Account needs a Name",
        )),
    }
    // What the Account will hold once created, to know which fields are then agreed.
    let mut salesforce = PartySnapshot {
        display_name: name.as_ref().map(PartyValue::describe),
        company_name: name.as_ref().map(PartyValue::describe),
        ..Default::default()
    };
    for field in [
        PartyField::BillingAddress,
        PartyField::ShippingAddress,
        PartyField::Email,
        PartyField::Phone,
        PartyField::Website,
        PartyField::Notes,
    ] {
        let value = get(quickbooks, field).and_then(|v| to_sf(field, &v));
        if value.is_some() && write_field(&mut fields, input, field, value.as_ref(), record, errors)
        {
            set(&mut salesforce, field, value);
        }
    }
    fields.extend(qbo_owned_fields(input, None));
    // A new Account starts blank: only values are written, never `null`.
    fields.retain(|f| f.value != SfValue::Null);
    let snapshot = agreed_snapshot(quickbooks, &salesforce, &PartySnapshot::default());
    CustomerOutput {
        change: AccountChange::Create(fields),
        snapshot,
        conflicts: Vec::new(),
    }
}

/// The fields QuickBooks wins, plus the QBO-owned fields that differ.
fn update(
    input: &CustomerInput,
    existing: &SfAccount,
    quickbooks: &PartySnapshot,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> CustomerOutput {
    let account_id = existing.id.trim().to_string();
    if account_id.is_empty() {
        errors.push(FieldError::new(
            record,
            "existing.id",
            "the linked Salesforce Account has no Id; read it again before updating",
        ));
    }
    let salesforce = from_account(existing);
    let base = input.last_synced.clone().unwrap_or_default();
    let versions = Versions {
        salesforce: &salesforce,
        quickbooks,
        base: &base,
    };
    let mut fields = Vec::new();
    let mut conflicts = Vec::new();
    let mut snapshot = PartySnapshot::default();
    for merge in merge_all(&input.rules, &versions) {
        let field = merge.field;
        conflicts.extend(merge.conflict);
        let agreed = match merge.winner {
            Winner::Agreed => get(quickbooks, field),
            Winner::Quickbooks => {
                let value = get(quickbooks, field);
                let sf_value = value.as_ref().and_then(|v| to_sf(field, v));
                if write_field(&mut fields, input, field, sf_value.as_ref(), record, errors) {
                    value
                } else {
                    get(&base, field)
                }
            }
            // Not agreed yet: keep the base so `map-account` still sees Salesforce's change.
            Winner::Salesforce | Winner::Neither => get(&base, field),
        };
        set(&mut snapshot, field, agreed);
    }
    fields.extend(qbo_owned_fields(input, Some(existing)));
    let change = if fields.is_empty() {
        AccountChange::Unchanged
    } else {
        AccountChange::Update((account_id, fields))
    };
    CustomerOutput {
        change,
        snapshot,
        conflicts,
    }
}

/// Per field, the QuickBooks value when both sides hold it, else the base.
fn agreed_snapshot(
    quickbooks: &PartySnapshot,
    salesforce: &PartySnapshot,
    base: &PartySnapshot,
) -> PartySnapshot {
    let mut snapshot = PartySnapshot::default();
    for field in PartyField::ALL {
        let (qbo, sf) = (get(quickbooks, field), get(salesforce, field));
        let agreed = if party::same_value(field, qbo.as_ref(), sf.as_ref()) {
            qbo
        } else {
            get(base, field)
        };
        set(&mut snapshot, field, agreed);
    }
    snapshot
}

/// Appends the Salesforce writes of one party field (`value` in its Salesforce form, `None` to
/// clear). Returns false when the field has no Salesforce target and nothing was written.
fn write_field(
    fields: &mut Vec<SfField>,
    input: &CustomerInput,
    field: PartyField,
    value: Option<&PartyValue>,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> bool {
    let text = |v: Option<&PartyValue>| {
        party::as_text(v).map_or(SfValue::Null, |t| SfValue::Text(t.to_string()))
    };
    match field {
        // `Name` is required: never cleared.
        PartyField::DisplayName if value.is_some() => {
            fields.push(SfField::new("Name", text(value)))
        }
        PartyField::DisplayName | PartyField::CompanyName => return false,
        PartyField::BillingAddress => address_fields(fields, "Billing", party::as_address(value)),
        PartyField::ShippingAddress => address_fields(fields, "Shipping", party::as_address(value)),
        PartyField::Email => {
            let Some(target) = clean(input.email_field.as_deref()) else {
                return false;
            };
            if let Some(email) = party::as_text(value) {
                if !is_valid_email(email) {
                    errors.push(FieldError::new(
                        record,
                        "email",
                        format!(
                            "\"{email}\" is not one email address (expected one '@', a dot in \
                             the domain and no spaces); Salesforce would refuse it"
                        ),
                    ));
                }
            }
            fields.push(SfField::new(target, text(value)));
        }
        PartyField::Phone => fields.push(SfField::new("Phone", text(value))),
        PartyField::Website => fields.push(SfField::new("Website", text(value))),
        PartyField::Notes => fields.push(SfField::new("Description", text(value))),
    }
    true
}

/// `<prefix>Street` (lines joined by newlines), `City`, `State`, `PostalCode`, `Country`, all
/// five: a missing part (or a cleared address) is written as `null`.
fn address_fields(fields: &mut Vec<SfField>, prefix: &str, address: Option<&PostalAddress>) {
    let empty = PostalAddress::default();
    let address = address.unwrap_or(&empty);
    let text = |v: Option<String>| v.map_or(SfValue::Null, SfValue::Text);
    let street = party::sf_street(address);
    for (suffix, value) in [
        ("Street", street),
        ("City", address.city.clone()),
        ("State", address.region.clone()),
        ("PostalCode", address.postal_code.clone()),
        ("Country", address.country.clone()),
    ] {
        fields.push(SfField::new(format!("{prefix}{suffix}"), text(value)));
    }
}

/// The QBO-owned values for their configured target fields, each only when it differs from the
/// Account (`existing`; none on create).
fn qbo_owned_fields(input: &CustomerInput, existing: Option<&SfAccount>) -> Vec<SfField> {
    let targets = &input.targets;
    let mut fields = Vec::new();
    if let Some(target) = clean(targets.payment_terms.as_deref()) {
        let current = existing.and_then(|a| clean(a.payment_terms.as_deref()));
        if let Some(terms) = payment_terms(&input.customer) {
            if terms != current {
                fields.push(SfField::new(
                    target,
                    terms.map_or(SfValue::Null, SfValue::Text),
                ));
            }
        }
    }
    if let Some(target) = clean(targets.tax_exempt.as_deref()) {
        let current = existing.and_then(|a| a.tax_exempt);
        if let Some(exempt) = tax_exempt(input.customer.taxable) {
            if current != Some(exempt) {
                fields.push(SfField::new(target, SfValue::Boolean(exempt)));
            }
        }
    }
    for (target, name, current) in [
        (
            &targets.department,
            &input.department_name,
            existing.and_then(|a| a.department.as_deref()),
        ),
        (
            &targets.class,
            &input.class_name,
            existing.and_then(|a| a.class.as_deref()),
        ),
    ] {
        if let (Some(target), Some(name)) = (clean(target.as_deref()), clean(name.as_deref())) {
            if clean(current).as_deref() != Some(name.as_str()) {
                fields.push(SfField::new(target, SfValue::Text(name)));
            }
        }
    }
    fields
}

/// The payment terms to hold in Salesforce: `Some(Some(name))`, `Some(None)` when the customer
/// has no terms (clear them), `None` when the terms are referenced without a name (unknown:
/// leave Salesforce alone).
fn payment_terms(customer: &QboCustomer) -> Option<Option<String>> {
    match &customer.sales_term {
        None => Some(None),
        Some(term) => clean(term.name.as_deref()).map(Some),
    }
}

/// Tax exempt is the opposite of QBO's `Taxable`; unknown stays unknown.
pub fn tax_exempt(taxable: Option<bool>) -> Option<bool> {
    taxable.map(|taxable| !taxable)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldOwner, Reference};

    fn customer() -> QboCustomer {
        QboCustomer {
            id: Some("58".into()),
            sync_token: Some("4".into()),
            display_name: Some("Acme Corporation".into()),
            company_name: Some("Acme Corporation".into()),
            bill_addr: Some(PostalAddress {
                lines: vec!["1 Main St".into(), "Suite 200".into()],
                city: Some("Springfield".into()),
                region: Some("IL".into()),
                postal_code: Some("62701".into()),
                country: None,
            }),
            email: Some("billing@acme.example".into()),
            phone: Some("+1 555 010 9999".into()),
            website: Some("https://acme.example".into()),
            notes: Some("Pays late in December".into()),
            sales_term: Some(Reference::named("3", "Net 30")),
            taxable: Some(false),
            ..Default::default()
        }
    }

    fn account() -> SfAccount {
        SfAccount {
            id: "001A000001XyZaBIAV".into(),
            name: "Acme Corporation".into(),
            billing_address: customer().bill_addr,
            email: Some("billing@acme.example".into()),
            phone: Some("+1 555 010 9999".into()),
            website: Some("https://acme.example".into()),
            description: Some("Pays late in December".into()),
            qbo_customer_id: Some("58".into()),
            payment_terms: Some("Net 30".into()),
            tax_exempt: Some(true),
            ..Default::default()
        }
    }

    fn targets() -> QboOwnedFields {
        QboOwnedFields {
            payment_terms: Some("Payment_Terms__c".into()),
            tax_exempt: Some("Tax_Exempt__c".into()),
            department: None,
            class: None,
        }
    }

    fn input(customer: QboCustomer, existing: Option<SfAccount>) -> CustomerInput {
        let last_synced = existing.as_ref().map(from_account);
        CustomerInput {
            customer,
            existing,
            last_synced,
            rules: Vec::new(),
            targets: targets(),
            department_name: None,
            class_name: None,
            email_field: Some("Billing_Email__c".into()),
        }
    }

    fn writes(input: &CustomerInput) -> Vec<SfField> {
        match map_customer(input).unwrap().change {
            AccountChange::Update((id, fields)) => {
                assert_eq!(id, "001A000001XyZaBIAV");
                fields
            }
            AccountChange::Create(fields) => fields,
            AccountChange::Unchanged => Vec::new(),
        }
    }

    fn names(fields: &[SfField]) -> Vec<&str> {
        fields.iter().map(|f| f.name.as_str()).collect()
    }

    fn text(v: &str) -> SfValue {
        SfValue::Text(v.into())
    }

    #[test]
    fn create_writes_name_every_mapped_field_and_the_qbo_owned_targets() {
        let out = map_customer(&input(customer(), None)).unwrap();
        let AccountChange::Create(fields) = &out.change else {
            panic!("create expected")
        };
        assert_eq!(
            names(fields),
            [
                "Name",
                "BillingStreet",
                "BillingCity",
                "BillingState",
                "BillingPostalCode",
                "Billing_Email__c",
                "Phone",
                "Website",
                "Description",
                "Payment_Terms__c",
                "Tax_Exempt__c"
            ]
        );
        assert_eq!(fields[0].value, text("Acme Corporation"));
        assert_eq!(fields[1].value, text("1 Main St\nSuite 200"));
        assert_eq!(fields[9].value, text("Net 30"));
        assert_eq!(fields[10].value, SfValue::Boolean(true));
        assert_eq!(
            out.snapshot.display_name.as_deref(),
            Some("Acme Corporation")
        );
        assert_eq!(out.snapshot.notes.as_deref(), Some("Pays late in December"));
    }

    #[test]
    fn create_without_any_name_is_refused_on_display_name() {
        let mut c = customer();
        c.display_name = Some("  ".into());
        c.company_name = None;
        let err = map_customer(&input(c, None)).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].record_id, "Customer 58");
        assert_eq!(err.errors[0].field, "display-name");
    }

    #[test]
    fn create_falls_back_to_company_name() {
        let mut c = customer();
        c.display_name = None;
        c.company_name = Some("Acme Co".into());
        assert_eq!(
            writes(&input(c, None))[0],
            SfField::new("Name", text("Acme Co"))
        );
    }

    #[test]
    fn echo_of_our_own_write_is_unchanged() {
        let out = map_customer(&input(customer(), Some(account()))).unwrap();
        assert_eq!(out.change, AccountChange::Unchanged);
        assert!(out.conflicts.is_empty());
    }

    #[test]
    fn quickbooks_owned_notes_are_written_when_they_differ() {
        let mut c = customer();
        c.notes = Some("Now pays on time".into());
        let fields = writes(&input(c, Some(account())));
        assert_eq!(
            fields,
            [SfField::new("Description", text("Now pays on time"))]
        );
    }

    #[test]
    fn salesforce_owned_fields_are_never_written_back() {
        let mut c = customer();
        c.display_name = Some("Acme (QBO edit)".into());
        c.website = Some("https://qbo-edit.example".into());
        let out = map_customer(&input(c, Some(account()))).unwrap();
        assert_eq!(out.change, AccountChange::Unchanged);
        // Still disagreeing: the snapshot keeps the base for map-account to settle.
        assert_eq!(
            out.snapshot.website.as_deref(),
            Some("https://acme.example")
        );
    }

    #[test]
    fn both_owned_field_changed_only_in_quickbooks_is_written() {
        let mut c = customer();
        c.phone = Some("+1 555 010 1234".into());
        let out = map_customer(&input(c, Some(account()))).unwrap();
        let AccountChange::Update((_, fields)) = &out.change else {
            panic!("update expected")
        };
        assert_eq!(fields, &[SfField::new("Phone", text("+1 555 010 1234"))]);
        assert_eq!(out.snapshot.phone.as_deref(), Some("+1 555 010 1234"));
    }

    #[test]
    fn both_changed_salesforce_wins_and_conflict_is_reported() {
        let mut c = customer();
        c.email = Some("ap@acme.example".into());
        let mut a = account();
        a.email = Some("finance@acme.example".into());
        let mut i = input(c, Some(a));
        i.last_synced = Some(from_account(&account()));
        let out = map_customer(&i).unwrap();
        assert_eq!(out.change, AccountChange::Unchanged);
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(
            out.conflicts[0].quickbooks_value.as_deref(),
            Some("ap@acme.example")
        );
    }

    #[test]
    fn cosmetic_differences_do_not_cause_writes() {
        let mut c = customer();
        c.notes = Some("  Pays late in December\r\n".into());
        c.email = Some("BILLING@acme.example".into());
        c.display_name = Some("Acme  Corporation".into());
        assert_eq!(
            map_customer(&input(c, Some(account()))).unwrap().change,
            AccountChange::Unchanged
        );
    }

    #[test]
    fn email_is_written_only_to_the_configured_field() {
        let mut c = customer();
        c.email = Some("ap@acme.example".into());
        let mut i = input(c, Some(account()));
        i.rules = vec![FieldRule {
            field: PartyField::Email,
            owner: FieldOwner::Quickbooks,
        }];
        assert_eq!(
            writes(&i),
            [SfField::new("Billing_Email__c", text("ap@acme.example"))]
        );
        i.email_field = None;
        let out = map_customer(&i).unwrap();
        assert_eq!(out.change, AccountChange::Unchanged);
        assert_eq!(out.snapshot.email.as_deref(), Some("billing@acme.example"));
    }

    #[test]
    fn invalid_email_is_refused_on_field_email() {
        let mut c = customer();
        c.email = Some("a@x.com, b@y.com".into());
        let err = map_customer(&input(c, None)).unwrap_err();
        assert_eq!(err.errors[0].field, "email");
        assert_eq!(err.errors[0].record_id, "Customer 58");
    }

    #[test]
    fn changed_address_writes_all_five_parts() {
        let mut c = customer();
        let mut i = input(c.clone(), Some(account()));
        i.rules = vec![FieldRule {
            field: PartyField::BillingAddress,
            owner: FieldOwner::Quickbooks,
        }];
        c.bill_addr = Some(PostalAddress {
            lines: vec!["9 Elm Rd".into()],
            city: Some("Shelbyville".into()),
            ..Default::default()
        });
        i.customer = c;
        assert_eq!(
            writes(&i),
            [
                SfField::new("BillingStreet", text("9 Elm Rd")),
                SfField::new("BillingCity", text("Shelbyville")),
                SfField::new("BillingState", SfValue::Null),
                SfField::new("BillingPostalCode", SfValue::Null),
                SfField::new("BillingCountry", SfValue::Null),
            ]
        );
    }

    #[test]
    fn long_values_are_truncated_to_salesforce_lengths() {
        let mut c = customer();
        c.display_name = Some("名".repeat(400));
        c.bill_addr = Some(PostalAddress {
            lines: vec!["x".repeat(300)],
            city: Some("y".repeat(50)),
            postal_code: Some("1".repeat(30)),
            ..Default::default()
        });
        let fields = writes(&input(c, None));
        let value = |name: &str| {
            fields
                .iter()
                .find(|f| f.name == name)
                .map(|f| match &f.value {
                    SfValue::Text(t) => t.chars().count(),
                    _ => 0,
                })
        };
        assert_eq!(value("Name"), Some(255));
        assert_eq!(value("BillingStreet"), Some(255));
        assert_eq!(value("BillingCity"), Some(40));
        assert_eq!(value("BillingPostalCode"), Some(20));
    }

    #[test]
    fn truncated_name_coming_back_is_not_a_change() {
        let long = "Z".repeat(400);
        let mut c = customer();
        c.display_name = Some(long.clone());
        let mut a = account();
        a.name = "Z".repeat(255);
        let mut i = input(c, Some(a));
        if let Some(s) = i.last_synced.as_mut() {
            s.display_name = Some(long);
        }
        assert_eq!(map_customer(&i).unwrap().change, AccountChange::Unchanged);
    }

    #[test]
    fn tax_exempt_is_the_opposite_of_taxable() {
        assert_eq!(tax_exempt(Some(false)), Some(true));
        assert_eq!(tax_exempt(Some(true)), Some(false));
        assert_eq!(tax_exempt(None), None);
        let mut c = customer();
        c.taxable = Some(true);
        assert_eq!(
            writes(&input(c.clone(), Some(account()))),
            [SfField::new("Tax_Exempt__c", SfValue::Boolean(false))]
        );
        c.taxable = None;
        assert!(writes(&input(c, Some(account()))).is_empty());
    }

    #[test]
    fn payment_terms_are_written_only_when_they_differ() {
        let mut c = customer();
        c.sales_term = Some(Reference::named("4", "Net 60"));
        assert_eq!(
            writes(&input(c.clone(), Some(account()))),
            [SfField::new("Payment_Terms__c", text("Net 60"))]
        );
        c.sales_term = None;
        assert_eq!(
            writes(&input(c.clone(), Some(account()))),
            [SfField::new("Payment_Terms__c", SfValue::Null)]
        );
        c.sales_term = Some(Reference::id("4"));
        assert!(writes(&input(c, Some(account()))).is_empty());
    }

    #[test]
    fn qbo_owned_fields_need_a_configured_target() {
        let mut c = customer();
        c.sales_term = Some(Reference::named("4", "Net 60"));
        c.taxable = Some(true);
        let mut i = input(c, Some(account()));
        i.targets = QboOwnedFields::default();
        i.department_name = Some("West".into());
        assert_eq!(map_customer(&i).unwrap().change, AccountChange::Unchanged);
    }

    #[test]
    fn department_and_class_names_are_written_to_their_targets() {
        let mut i = input(customer(), Some(account()));
        i.targets.department = Some("QBO_Department__c".into());
        i.targets.class = Some("QBO_Class__c".into());
        i.department_name = Some("West".into());
        assert_eq!(
            writes(&i),
            [SfField::new("QBO_Department__c", text("West"))]
        );
    }

    #[test]
    fn department_and_class_the_account_already_holds_are_not_written_again() {
        let mut a = account();
        a.department = Some("West".into());
        a.class = Some("Hardware".into());
        let mut i = input(customer(), Some(a));
        i.targets.department = Some("QBO_Department__c".into());
        i.targets.class = Some("QBO_Class__c".into());
        i.department_name = Some("West".into());
        i.class_name = Some("Services".into());
        assert_eq!(writes(&i), [SfField::new("QBO_Class__c", text("Services"))]);
    }

    #[test]
    fn update_of_an_account_without_id_is_refused() {
        let mut a = account();
        a.id = " ".into();
        let mut c = customer();
        c.notes = Some("changed".into());
        let err = map_customer(&input(c, Some(a))).unwrap_err();
        assert_eq!(err.errors[0].field, "existing.id");
    }

    #[test]
    fn notes_cleared_in_quickbooks_are_cleared_in_salesforce() {
        let mut c = customer();
        c.notes = None;
        assert_eq!(
            writes(&input(c, Some(account()))),
            [SfField::new("Description", SfValue::Null)]
        );
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<CustomerInput, _>(
            "map-customer",
            map_customer,
        );
    }
}
