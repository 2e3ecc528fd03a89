//! `map-account`: Salesforce Account -> QBO Customer create or sparse update.
//!
//! **Fields.** `Name` -> `DisplayName` (QBO name rules: trimmed, whitespace runs collapsed, `:`
//! replaced by `-` because QBO reserves it for `Parent:Child` names, at most 500 characters) and
//! `CompanyName` (whitespace collapsed, at most 100 characters); billing/shipping address ->
//! `BillAddr`/`ShipAddr` (lines trimmed, blank lines dropped, lines beyond the fifth joined into
//! `Line5` with `", "`); email -> `PrimaryEmailAddr`; `Phone` -> `PrimaryPhone`; `Website` ->
//! `WebAddr`; `Description` -> `Notes` (at most 4000 characters). Lengths count characters, not
//! bytes, and a cut never splits a character, an accent from its letter or an emoji sequence.
//!
//! **Create** (no `existing`): every field that has a value, `Active = true`, and the Account Id
//! in `AcctNum` (`salesforce-id`). QuickBooks-owned fields are seeded from Salesforce here, the
//! only time Salesforce writes them.
//!
//! **Update**: the three-way merge of [`super::party`] decides each field; only the fields
//! Salesforce wins are set in the sparse `customer` and listed in `fields` (in
//! [`PartyField::ALL`] order), with `Id` and `SyncToken` from `existing`. A value Salesforce
//! cleared on purpose is sent as the empty string (an empty address for addresses), which a
//! sparse update writes as blank. `AcctNum` is filled when the customer has none, but never
//! overwritten: a different value may be the bookkeeper's own account number. Nothing to
//! write -> `Unchanged`; a missing `AcctNum` alone is an update with an empty `fields` list.
//!
//! **Refusals** (all collected, `invalid-input`, record `Account <Id>`): a `Name` that is empty
//! once cleaned (`name`); an email that would be written but is not an address (`email`: one
//! `@`, a dot in the domain, no spaces); an `existing` customer without `Id` or `SyncToken`
//! (`existing.id`, `existing.sync-token`). An invalid email that is not written (QuickBooks owns
//! it, or it already agrees) does not block the sync.

use crate::mapping::party::{
    self, from_account, from_customer, get, merge_all, set, to_qbo, PartyValue, Versions, Winner,
    QBO_DISPLAY_NAME_MAX,
};
use crate::mapping::text::{is_valid_email, qbo_name};
use crate::model::{
    ErrorKind, FieldConflict, FieldError, FieldRule, MappingError, PartyField, PartySnapshot,
    QboCustomer, SfAccount,
};
use serde::{Deserialize, Serialize};

/// Input of `map-account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AccountInput {
    pub account: SfAccount,
    pub existing: Option<QboCustomer>,
    pub last_synced: Option<PartySnapshot>,
    pub rules: Vec<FieldRule>,
}

/// A sparse customer update: only `fields` changed, and only they are set in `customer`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct CustomerUpdate {
    pub id: String,
    pub sync_token: String,
    pub fields: Vec<PartyField>,
    pub customer: QboCustomer,
}

/// What to do on the QBO side.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum CustomerChange {
    Create(QboCustomer),
    Update(CustomerUpdate),
    Unchanged,
}

/// Output of `map-account`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AccountOutput {
    pub change: CustomerChange,
    pub snapshot: PartySnapshot,
    pub conflicts: Vec<FieldConflict>,
}

/// Maps a Salesforce Account to a QBO Customer change.
pub fn map_account(input: &AccountInput) -> Result<AccountOutput, MappingError> {
    let account = &input.account;
    let record = format!("Account {}", account.id);
    let mut errors = Vec::new();
    if display_name(&account.name).is_empty() {
        errors.push(FieldError::new(
            &record,
            "name",
            "the Account Name is empty once cleaned; QuickBooks needs a DisplayName",
        ));
    }
    let salesforce = from_account(account);
    let output = match &input.existing {
        None => create(account, &salesforce, &record, &mut errors),
        Some(existing) => update(input, existing, &salesforce, &record, &mut errors),
    };
    if errors.is_empty() {
        Ok(output)
    } else {
        Err(MappingError::new(ErrorKind::InvalidInput, errors))
    }
}

/// QBO `DisplayName` from the Account `Name`: trimmed, whitespace collapsed, `:` -> `-`, at
/// most 500 characters.
pub fn display_name(name: &str) -> String {
    qbo_name(name, QBO_DISPLAY_NAME_MAX)
}

/// A new customer: every Salesforce value in its QBO form, active, linked by `AcctNum`.
fn create(
    account: &SfAccount,
    salesforce: &PartySnapshot,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> AccountOutput {
    let mut customer = QboCustomer {
        active: Some(true),
        salesforce_id: Some(account.id.clone()),
        ..Default::default()
    };
    let mut snapshot = PartySnapshot::default();
    for field in PartyField::ALL {
        let value = get(salesforce, field).and_then(|v| to_qbo(field, &v));
        check_email(field, value.as_ref(), record, errors);
        if value.is_some() {
            write_field(&mut customer, field, value.clone());
        }
        set(&mut snapshot, field, value);
    }
    AccountOutput {
        change: CustomerChange::Create(customer),
        snapshot,
        conflicts: Vec::new(),
    }
}

/// A sparse update of the fields Salesforce wins.
fn update(
    input: &AccountInput,
    existing: &QboCustomer,
    salesforce: &PartySnapshot,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> AccountOutput {
    let id = required(existing.id.as_deref(), "existing.id", "Id", record, errors);
    let sync_token = required(
        existing.sync_token.as_deref(),
        "existing.sync-token",
        "SyncToken",
        record,
        errors,
    );
    let quickbooks = from_customer(existing);
    let base = input.last_synced.clone().unwrap_or_default();
    let versions = Versions {
        salesforce,
        quickbooks: &quickbooks,
        base: &base,
    };
    let mut customer = QboCustomer {
        id: Some(id.clone()),
        sync_token: Some(sync_token.clone()),
        ..Default::default()
    };
    let mut fields = Vec::new();
    let mut conflicts = Vec::new();
    let mut snapshot = PartySnapshot::default();
    for merge in merge_all(&input.rules, &versions) {
        let field = merge.field;
        conflicts.extend(merge.conflict);
        let agreed = match merge.winner {
            Winner::Agreed => get(&quickbooks, field),
            Winner::Salesforce => {
                let value = get(salesforce, field).and_then(|v| to_qbo(field, &v));
                check_email(field, value.as_ref(), record, errors);
                write_field(&mut customer, field, value.clone());
                fields.push(field);
                value
            }
            // Not agreed yet: keep the base so `map-customer` still sees QuickBooks' change.
            Winner::Quickbooks | Winner::Neither => get(&base, field),
        };
        set(&mut snapshot, field, agreed);
    }
    let link_missing = existing
        .salesforce_id
        .as_deref()
        .is_none_or(|v| v.trim().is_empty());
    if link_missing {
        customer.salesforce_id = Some(input.account.id.clone());
    }
    let change = if fields.is_empty() && !link_missing {
        CustomerChange::Unchanged
    } else {
        CustomerChange::Update(CustomerUpdate {
            id,
            sync_token,
            fields,
            customer,
        })
    };
    AccountOutput {
        change,
        snapshot,
        conflicts,
    }
}

/// An `Id` or `SyncToken` a sparse update cannot do without.
fn required(
    value: Option<&str>,
    field: &str,
    qbo_name: &str,
    record: &str,
    errors: &mut Vec<FieldError>,
) -> String {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => v.to_string(),
        None => {
            errors.push(FieldError::new(
                record,
                field,
                format!("the linked QuickBooks customer has no {qbo_name}; read it again before updating"),
            ));
            String::new()
        }
    }
}

/// An email is only written to QBO when it has the shape of an address.
fn check_email(
    field: PartyField,
    value: Option<&PartyValue>,
    record: &str,
    errors: &mut Vec<FieldError>,
) {
    if field != PartyField::Email {
        return;
    }
    if let Some(email) = party::as_text(value) {
        if !is_valid_email(email) {
            errors.push(FieldError::new(
                record,
                "email",
                format!(
                    "\"{email}\" is not an email address (expected one '@', a dot in the \
                     domain and no spaces)"
                ),
            ));
        }
    }
}

/// Sets one field of a QBO customer; `None` clears it (the empty string, or an empty address).
fn write_field(customer: &mut QboCustomer, field: PartyField, value: Option<PartyValue>) {
    let text = || {
        party::as_text(value.as_ref())
            .unwrap_or_default()
            .to_string()
    };
    let address = || {
        party::as_address(value.as_ref())
            .cloned()
            .unwrap_or_default()
    };
    match field {
        PartyField::DisplayName => customer.display_name = Some(text()),
        PartyField::CompanyName => customer.company_name = Some(text()),
        PartyField::BillingAddress => customer.bill_addr = Some(address()),
        PartyField::ShippingAddress => customer.ship_addr = Some(address()),
        PartyField::Email => customer.email = Some(text()),
        PartyField::Phone => customer.phone = Some(text()),
        PartyField::Website => customer.website = Some(text()),
        PartyField::Notes => customer.notes = Some(text()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{FieldOwner, PostalAddress};

    fn account() -> SfAccount {
        SfAccount {
            id: "001A000001XyZaBIAV".into(),
            name: "Acme Corporation".into(),
            billing_address: Some(PostalAddress {
                lines: vec!["1 Main St".into(), "Suite 200".into()],
                city: Some("Springfield".into()),
                region: Some("IL".into()),
                postal_code: Some("62701".into()),
                country: Some("US".into()),
            }),
            email: Some("billing@acme.example".into()),
            phone: Some("+1 555 010 9999".into()),
            website: Some("https://acme.example".into()),
            description: Some("Key account".into()),
            ..Default::default()
        }
    }

    fn create_input(account: SfAccount) -> AccountInput {
        AccountInput {
            account,
            existing: None,
            last_synced: None,
            rules: Vec::new(),
        }
    }

    /// The customer QBO holds after our create, and the snapshot stored with it.
    fn synced() -> (QboCustomer, PartySnapshot) {
        let out = map_account(&create_input(account())).unwrap();
        let CustomerChange::Create(mut customer) = out.change else {
            panic!("create expected")
        };
        customer.id = Some("58".into());
        customer.sync_token = Some("3".into());
        (customer, out.snapshot)
    }

    fn update_input(
        account: SfAccount,
        existing: QboCustomer,
        last: PartySnapshot,
    ) -> AccountInput {
        AccountInput {
            account,
            existing: Some(existing),
            last_synced: Some(last),
            rules: Vec::new(),
        }
    }

    fn created(input: &AccountInput) -> QboCustomer {
        match map_account(input).unwrap().change {
            CustomerChange::Create(customer) => customer,
            other => panic!("create expected, got {other:?}"),
        }
    }

    fn updated(input: &AccountInput) -> CustomerUpdate {
        match map_account(input).unwrap().change {
            CustomerChange::Update(update) => update,
            other => panic!("update expected, got {other:?}"),
        }
    }

    fn refusal(input: &AccountInput) -> MappingError {
        map_account(input).unwrap_err()
    }

    #[test]
    fn create_sets_every_field_active_and_the_salesforce_link() {
        let out = map_account(&create_input(account())).unwrap();
        let CustomerChange::Create(c) = &out.change else {
            panic!("create expected")
        };
        assert_eq!(c.display_name.as_deref(), Some("Acme Corporation"));
        assert_eq!(c.company_name.as_deref(), Some("Acme Corporation"));
        assert_eq!(c.email.as_deref(), Some("billing@acme.example"));
        assert_eq!(c.phone.as_deref(), Some("+1 555 010 9999"));
        assert_eq!(c.website.as_deref(), Some("https://acme.example"));
        assert_eq!(c.notes.as_deref(), Some("Key account"));
        assert_eq!(c.bill_addr.as_ref().map(|a| a.lines.len()), Some(2));
        assert_eq!(c.ship_addr, None);
        assert_eq!(c.active, Some(true));
        assert_eq!(c.salesforce_id.as_deref(), Some("001A000001XyZaBIAV"));
        assert_eq!(c.id, None);
        assert_eq!(
            out.snapshot.display_name.as_deref(),
            Some("Acme Corporation")
        );
        assert_eq!(out.snapshot.notes.as_deref(), Some("Key account"));
        assert!(out.conflicts.is_empty());
    }

    #[test]
    fn missing_optional_fields_are_left_unset() {
        let bare = SfAccount {
            id: "001".into(),
            name: "Bare".into(),
            ..Default::default()
        };
        let c = created(&create_input(bare));
        assert_eq!(c.display_name.as_deref(), Some("Bare"));
        assert_eq!(
            (c.email, c.phone, c.website, c.notes),
            (None, None, None, None)
        );
        assert_eq!((c.bill_addr, c.ship_addr), (None, None));
    }

    #[test]
    fn display_name_colon_is_replaced() {
        let mut a = account();
        a.name = "Acme: East:West".into();
        let c = created(&create_input(a));
        assert_eq!(c.display_name.as_deref(), Some("Acme- East-West"));
    }

    #[test]
    fn display_name_whitespace_is_trimmed_and_collapsed() {
        let mut a = account();
        a.name = "  Acme \t\n  Corp  ".into();
        assert_eq!(
            created(&create_input(a)).display_name.as_deref(),
            Some("Acme Corp")
        );
    }

    #[test]
    fn display_name_is_at_most_500_characters_never_splitting_one() {
        // 600 characters of 4-byte emoji and 3-byte CJK: 500 characters, not 500 bytes.
        let mut a = account();
        a.name = "😀漢".repeat(300);
        let c = created(&create_input(a));
        let name = c.display_name.unwrap_or_default();
        assert_eq!(name.chars().count(), 500);
        assert!(name.starts_with("😀漢") && name.ends_with('漢'));
        assert_eq!(c.company_name.map(|n| n.chars().count()), Some(100));
    }

    #[test]
    fn display_name_truncation_keeps_combining_marks_with_their_letter() {
        // 499 'a' then "é" written as e + U+0301: cutting at 500 would strip the accent.
        let mut a = account();
        a.name = format!("{}e\u{301}xyz", "a".repeat(499));
        let name = created(&create_input(a)).display_name.unwrap_or_default();
        assert_eq!(name, "a".repeat(499));
    }

    #[test]
    fn display_name_truncation_keeps_emoji_sequences_whole() {
        let family = "👨\u{200D}👩\u{200D}👧";
        let mut a = account();
        a.name = format!("{}{family}", "b".repeat(498));
        let name = created(&create_input(a)).display_name.unwrap_or_default();
        assert_eq!(name, "b".repeat(498));
        let mut a = account();
        a.name = format!("{}🇯🇵🇫🇷", "c".repeat(497));
        let name = created(&create_input(a)).display_name.unwrap_or_default();
        assert_eq!(name, format!("{}🇯🇵", "c".repeat(497)));
    }

    #[test]
    fn empty_name_after_cleaning_is_refused_on_field_name() {
        let mut a = account();
        a.name = " \t ".into();
        let err = refusal(&create_input(a));
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.errors[0].record_id, "Account 001A000001XyZaBIAV");
        assert_eq!(err.errors[0].field, "name");
    }

    #[test]
    fn invalid_email_is_refused_on_field_email() {
        for bad in [
            "billing.acme.example",
            "a@b@c.com",
            "a b@c.com",
            "a@localhost",
            "@x.com",
        ] {
            let mut a = account();
            a.email = Some(bad.into());
            let err = refusal(&create_input(a));
            assert_eq!(err.errors.len(), 1, "{bad}");
            assert_eq!(err.errors[0].field, "email", "{bad}");
            assert!(err.errors[0].reason.contains(bad));
        }
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let mut a = account();
        a.name = ":".repeat(0);
        a.email = Some("nope".into());
        let err = refusal(&create_input(a));
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["name", "email"]);
    }

    #[test]
    fn address_with_more_than_five_lines_joins_extras_into_line5() {
        let mut a = account();
        a.billing_address = Some(PostalAddress {
            lines: vec![
                " a ".into(),
                "".into(),
                "b".into(),
                "c".into(),
                "d".into(),
                "e".into(),
                "f".into(),
            ],
            ..Default::default()
        });
        let c = created(&create_input(a));
        assert_eq!(
            c.bill_addr.unwrap_or_default().lines,
            ["a", "b", "c", "d", "e, f"]
        );
    }

    #[test]
    fn echo_of_our_own_write_is_unchanged() {
        let (customer, snapshot) = synced();
        let out = map_account(&update_input(account(), customer, snapshot.clone())).unwrap();
        assert_eq!(out.change, CustomerChange::Unchanged);
        assert_eq!(out.snapshot, snapshot);
        assert!(out.conflicts.is_empty());
    }

    #[test]
    fn cosmetic_differences_do_not_cause_writes() {
        let (mut customer, snapshot) = synced();
        customer.email = Some("Billing@ACME.example ".into());
        customer.phone = Some("(1) 555-010-9999".into());
        customer.website = Some("https://ACME.example/".into());
        let mut a = account();
        a.name = " Acme   Corporation ".into();
        if let Some(b) = a.billing_address.as_mut() {
            b.lines.push("   ".into());
        }
        let out = map_account(&update_input(a, customer, snapshot)).unwrap();
        assert_eq!(out.change, CustomerChange::Unchanged);
    }

    #[test]
    fn salesforce_owned_field_is_pushed_when_it_differs() {
        let (mut customer, snapshot) = synced();
        customer.website = Some("https://edited-in-qbo.example".into());
        let u = updated(&update_input(account(), customer, snapshot));
        assert_eq!(u.fields, [PartyField::Website]);
        assert_eq!(u.customer.website.as_deref(), Some("https://acme.example"));
        assert_eq!((u.id.as_str(), u.sync_token.as_str()), ("58", "3"));
    }

    #[test]
    fn sparse_update_sets_only_the_changed_fields_in_party_field_order() {
        let (customer, snapshot) = synced();
        let mut a = account();
        a.website = Some("https://new.example".into());
        a.name = "Acme Holdings".into();
        a.phone = Some("+1 555 010 0000".into());
        let u = updated(&update_input(a, customer, snapshot));
        assert_eq!(
            u.fields,
            [
                PartyField::DisplayName,
                PartyField::CompanyName,
                PartyField::Phone,
                PartyField::Website
            ]
        );
        let expected = QboCustomer {
            id: Some("58".into()),
            sync_token: Some("3".into()),
            display_name: Some("Acme Holdings".into()),
            company_name: Some("Acme Holdings".into()),
            phone: Some("+1 555 010 0000".into()),
            website: Some("https://new.example".into()),
            ..Default::default()
        };
        assert_eq!(u.customer, expected);
    }

    #[test]
    fn quickbooks_owned_field_is_not_pushed_after_create() {
        let (customer, snapshot) = synced();
        let mut a = account();
        a.description = Some("Changed in Salesforce".into());
        let out = map_account(&update_input(a, customer, snapshot.clone())).unwrap();
        assert_eq!(out.change, CustomerChange::Unchanged);
        // The notes still disagree: the base is kept for map-customer to settle.
        assert_eq!(out.snapshot.notes, snapshot.notes);
    }

    #[test]
    fn quickbooks_owned_field_seeds_the_customer_on_create() {
        let c = created(&create_input(account()));
        assert_eq!(c.notes.as_deref(), Some("Key account"));
    }

    #[test]
    fn both_changed_salesforce_wins_and_conflict_is_reported() {
        let (mut customer, snapshot) = synced();
        customer.email = Some("ap@acme.example".into());
        let mut a = account();
        a.email = Some("finance@acme.example".into());
        let out = map_account(&update_input(a, customer, snapshot)).unwrap();
        let CustomerChange::Update(u) = &out.change else {
            panic!("update expected")
        };
        assert_eq!(u.fields, [PartyField::Email]);
        assert_eq!(u.customer.email.as_deref(), Some("finance@acme.example"));
        assert_eq!(out.conflicts.len(), 1);
        let c = &out.conflicts[0];
        assert_eq!(c.field, PartyField::Email);
        assert_eq!(c.salesforce_value.as_deref(), Some("finance@acme.example"));
        assert_eq!(c.quickbooks_value.as_deref(), Some("ap@acme.example"));
        assert!(c.resolution.contains("Salesforce value is kept"));
        assert_eq!(out.snapshot.email.as_deref(), Some("finance@acme.example"));
    }

    #[test]
    fn both_owned_field_changed_only_in_quickbooks_is_not_pushed() {
        let (mut customer, snapshot) = synced();
        customer.phone = Some("+1 555 010 1234".into());
        let out = map_account(&update_input(account(), customer, snapshot.clone())).unwrap();
        assert_eq!(out.change, CustomerChange::Unchanged);
        assert_eq!(out.snapshot.phone, snapshot.phone);
        assert!(out.conflicts.is_empty());
    }

    #[test]
    fn rules_override_default_owners() {
        let (mut customer, snapshot) = synced();
        customer.website = Some("https://qbo.example".into());
        let mut input = update_input(account(), customer, snapshot);
        input.rules = vec![FieldRule {
            field: PartyField::Website,
            owner: FieldOwner::Quickbooks,
        }];
        assert_eq!(
            map_account(&input).unwrap().change,
            CustomerChange::Unchanged
        );
    }

    #[test]
    fn blank_salesforce_value_does_not_erase_an_unsynced_quickbooks_value() {
        // A matched customer, never synced: the Account has no website, QBO has one.
        let (mut customer, _) = synced();
        let mut a = account();
        a.website = None;
        customer.website = Some("https://qbo.example".into());
        let mut input = update_input(a, customer, PartySnapshot::default());
        input.last_synced = None;
        let out = map_account(&input).unwrap();
        if let CustomerChange::Update(u) = &out.change {
            assert!(!u.fields.contains(&PartyField::Website));
        }
    }

    #[test]
    fn value_cleared_in_salesforce_is_sent_blank() {
        let (customer, snapshot) = synced();
        let mut a = account();
        a.website = None;
        let u = updated(&update_input(a, customer, snapshot));
        assert_eq!(u.fields, [PartyField::Website]);
        assert_eq!(u.customer.website.as_deref(), Some(""));
    }

    #[test]
    fn first_sync_of_a_matched_customer_reports_differing_both_owned_fields() {
        let (mut customer, _) = synced();
        customer.email = Some("other@acme.example".into());
        let mut input = update_input(account(), customer, PartySnapshot::default());
        input.last_synced = None;
        let out = map_account(&input).unwrap();
        assert_eq!(out.conflicts.len(), 1);
        assert_eq!(out.conflicts[0].field, PartyField::Email);
    }

    #[test]
    fn update_without_id_or_sync_token_is_refused() {
        let (mut customer, snapshot) = synced();
        customer.id = None;
        customer.sync_token = Some(" ".into());
        let err = refusal(&update_input(account(), customer, snapshot));
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["existing.id", "existing.sync-token"]);
        assert!(err
            .errors
            .iter()
            .all(|e| e.record_id == "Account 001A000001XyZaBIAV"));
    }

    #[test]
    fn invalid_email_that_is_not_written_does_not_block_the_sync() {
        let (mut customer, snapshot) = synced();
        let mut a = account();
        a.email = Some("not an email".into());
        customer.email = Some("not an email".into());
        let out = map_account(&update_input(a, customer, snapshot)).unwrap();
        assert_eq!(out.change, CustomerChange::Unchanged);
    }

    #[test]
    fn missing_acct_num_link_is_filled_but_never_overwritten() {
        let (mut customer, snapshot) = synced();
        customer.salesforce_id = None;
        let u = updated(&update_input(account(), customer.clone(), snapshot.clone()));
        assert!(u.fields.is_empty());
        assert_eq!(
            u.customer.salesforce_id.as_deref(),
            Some("001A000001XyZaBIAV")
        );
        customer.salesforce_id = Some("BOOKKEEPER-17".into());
        let out = map_account(&update_input(account(), customer, snapshot)).unwrap();
        assert_eq!(out.change, CustomerChange::Unchanged);
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<AccountInput, _>(
            "map-account",
            map_account,
        );
    }
}
