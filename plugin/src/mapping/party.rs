//! The three-way, per-field merge shared by `map-account` and `map-customer`.
//!
//! Both directions look at the same three versions of the eight shared party fields: the
//! Salesforce Account, the QBO Customer and the snapshot of the last sync (the base). Each field
//! is decided on its own:
//!
//! | situation (compared as [`comparison_key`]s)        | winner                                   |
//! |----------------------------------------------------|------------------------------------------|
//! | Salesforce and QBO agree                           | nobody writes ([`Winner::Agreed`])       |
//! | owner `salesforce`                                 | Salesforce                               |
//! | owner `quickbooks`                                 | QuickBooks                               |
//! | owner `both`, only Salesforce changed since base   | Salesforce                               |
//! | owner `both`, only QuickBooks changed since base   | QuickBooks                               |
//! | owner `both`, both changed (differently)           | Salesforce, and a [`FieldConflict`]      |
//!
//! Then the rule [`blank_never_erases`]: a winner whose value is empty does not clear the other
//! side unless it held a value at the last sync (it was cleared on purpose). Without it, linking
//! an existing QBO customer would wipe every field the Account happens to leave blank.
//!
//! `map-account` writes only when Salesforce wins, `map-customer` only when QuickBooks wins; the
//! same decision is taken from both sides, so the two flows never fight over a field.
//!
//! **Comparing values.** Values are compared by [`comparison_key`]: the value as it would look
//! after a round trip through both systems' limits (QBO name rules, 5 address lines, Salesforce
//! field lengths), then with cosmetic differences removed (surrounding and repeated whitespace,
//! email and website case, a website's trailing `/`, phone punctuation, blank address lines).
//! So a value one side had to shorten or clean never looks like a change, and our own write
//! coming back (QBO == snapshot == Salesforce) is recognised as an echo.
//!
//! **The snapshot** a mapping returns holds, per field, the value both sides hold once the
//! change is written; a field that still disagrees (the other direction has to write it) keeps
//! its previous base value, so the other direction still sees that side's change.

use crate::mapping::text::{collapse_whitespace, limited, qbo_name, truncate_for_display};
use crate::model::{
    FieldConflict, FieldOwner, FieldRule, PartyField, PartySnapshot, PostalAddress, QboCustomer,
    SfAccount,
};

// ----------------------------------------------------------------- limits

/// QBO `DisplayName`: at most 500 characters.
pub(crate) const QBO_DISPLAY_NAME_MAX: usize = 500;
/// QBO `CompanyName`: at most 100 characters.
pub(crate) const QBO_COMPANY_NAME_MAX: usize = 100;
/// QBO `Notes`: at most 4000 characters.
pub(crate) const QBO_NOTES_MAX: usize = 4000;
/// QBO `BillAddr`/`ShipAddr` hold `Line1`..`Line5`.
pub(crate) const QBO_ADDRESS_LINES: usize = 5;

/// Salesforce `Account.Name`.
pub(crate) const SF_NAME_MAX: usize = 255;
/// Salesforce `BillingStreet`/`ShippingStreet` (all lines joined by newlines).
pub(crate) const SF_STREET_MAX: usize = 255;
/// Salesforce `BillingCity`.
pub(crate) const SF_CITY_MAX: usize = 40;
/// Salesforce `BillingState`.
pub(crate) const SF_STATE_MAX: usize = 80;
/// Salesforce `BillingPostalCode`.
pub(crate) const SF_POSTAL_CODE_MAX: usize = 20;
/// Salesforce `BillingCountry`.
pub(crate) const SF_COUNTRY_MAX: usize = 80;
/// Salesforce `Phone`.
pub(crate) const SF_PHONE_MAX: usize = 40;
/// Salesforce `Website`.
pub(crate) const SF_WEBSITE_MAX: usize = 255;
/// Salesforce `Description` (long text area).
pub(crate) const SF_DESCRIPTION_MAX: usize = 32000;
/// Salesforce Email fields.
pub(crate) const SF_EMAIL_MAX: usize = 80;

// ----------------------------------------------------------------- values

/// One party field's value: text, or an address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum PartyValue {
    Text(String),
    Address(PostalAddress),
}

impl PartyValue {
    /// The value in words, for a conflict report.
    pub(crate) fn describe(&self) -> String {
        match self {
            PartyValue::Text(text) => text.clone(),
            PartyValue::Address(address) => describe_address(address),
        }
    }

    fn text(&self) -> Option<&str> {
        match self {
            PartyValue::Text(text) => Some(text),
            PartyValue::Address(_) => None,
        }
    }

    fn address(&self) -> Option<&PostalAddress> {
        match self {
            PartyValue::Address(address) => Some(address),
            PartyValue::Text(_) => None,
        }
    }
}

/// The field's name as the WIT spells it (`display-name`, `billing-address`, ...).
pub(crate) fn field_name(field: PartyField) -> &'static str {
    match field {
        PartyField::DisplayName => "display-name",
        PartyField::CompanyName => "company-name",
        PartyField::BillingAddress => "billing-address",
        PartyField::ShippingAddress => "shipping-address",
        PartyField::Email => "email",
        PartyField::Phone => "phone",
        PartyField::Website => "website",
        PartyField::Notes => "notes",
    }
}

/// Reads one field of a set of party values.
pub(crate) fn get(values: &PartySnapshot, field: PartyField) -> Option<PartyValue> {
    let text = |v: &Option<String>| v.clone().map(PartyValue::Text);
    let address = |v: &Option<PostalAddress>| v.clone().map(PartyValue::Address);
    match field {
        PartyField::DisplayName => text(&values.display_name),
        PartyField::CompanyName => text(&values.company_name),
        PartyField::BillingAddress => address(&values.billing_address),
        PartyField::ShippingAddress => address(&values.shipping_address),
        PartyField::Email => text(&values.email),
        PartyField::Phone => text(&values.phone),
        PartyField::Website => text(&values.website),
        PartyField::Notes => text(&values.notes),
    }
}

/// Writes one field of a set of party values.
pub(crate) fn set(values: &mut PartySnapshot, field: PartyField, value: Option<PartyValue>) {
    let text = value
        .as_ref()
        .and_then(PartyValue::text)
        .map(str::to_string);
    let address = value.as_ref().and_then(PartyValue::address).cloned();
    match field {
        PartyField::DisplayName => values.display_name = text,
        PartyField::CompanyName => values.company_name = text,
        PartyField::BillingAddress => values.billing_address = address,
        PartyField::ShippingAddress => values.shipping_address = address,
        PartyField::Email => values.email = text,
        PartyField::Phone => values.phone = text,
        PartyField::Website => values.website = text,
        PartyField::Notes => values.notes = text,
    }
}

/// The party fields as a Salesforce Account holds them: `Name` feeds both DisplayName and
/// CompanyName, `Description` feeds Notes.
pub(crate) fn from_account(account: &SfAccount) -> PartySnapshot {
    PartySnapshot {
        display_name: Some(account.name.clone()),
        company_name: Some(account.name.clone()),
        billing_address: account.billing_address.clone(),
        shipping_address: account.shipping_address.clone(),
        email: account.email.clone(),
        phone: account.phone.clone(),
        website: account.website.clone(),
        notes: account.description.clone(),
    }
}

/// The party fields as a QBO Customer holds them.
pub(crate) fn from_customer(customer: &QboCustomer) -> PartySnapshot {
    PartySnapshot {
        display_name: customer.display_name.clone(),
        company_name: customer.company_name.clone(),
        billing_address: customer.bill_addr.clone(),
        shipping_address: customer.ship_addr.clone(),
        email: customer.email.clone(),
        phone: customer.phone.clone(),
        website: customer.website.clone(),
        notes: customer.notes.clone(),
    }
}

// ----------------------------------------------------------------- owners

/// The owner of `field`: the last rule naming it, else the default ([`default_owner`]).
pub(crate) fn owner_of(rules: &[FieldRule], field: PartyField) -> FieldOwner {
    rules
        .iter()
        .rev()
        .find(|rule| rule.field == field)
        .map_or_else(|| default_owner(field), |rule| rule.owner)
}

/// Owners when no rule names a field: names, addresses and website belong to Salesforce (the
/// CRM is where accounts are kept), email and phone to both (either team corrects them), notes
/// to QuickBooks (they are the bookkeeper's).
pub(crate) fn default_owner(field: PartyField) -> FieldOwner {
    match field {
        PartyField::DisplayName
        | PartyField::CompanyName
        | PartyField::BillingAddress
        | PartyField::ShippingAddress
        | PartyField::Website => FieldOwner::Salesforce,
        PartyField::Email | PartyField::Phone => FieldOwner::Both,
        PartyField::Notes => FieldOwner::Quickbooks,
    }
}

// ----------------------------------------------------------------- the two systems' forms

/// The value as QBO holds it: DisplayName by the QBO name rules (500 characters, no `:`),
/// CompanyName whitespace-collapsed to 100 characters, addresses folded to 5 lines, Notes to
/// 4000 characters, everything trimmed; `None` when nothing is left.
pub(crate) fn to_qbo(field: PartyField, value: &PartyValue) -> Option<PartyValue> {
    match value {
        PartyValue::Address(address) => qbo_address(address).map(PartyValue::Address),
        PartyValue::Text(text) => {
            let text = match field {
                PartyField::DisplayName => Some(qbo_name(text, QBO_DISPLAY_NAME_MAX)),
                PartyField::CompanyName => Some(truncate_for_display(
                    &collapse_whitespace(text),
                    QBO_COMPANY_NAME_MAX,
                )),
                PartyField::Notes => limited(Some(text), QBO_NOTES_MAX),
                _ => limited(Some(text), usize::MAX),
            };
            text.filter(|t| !t.is_empty()).map(PartyValue::Text)
        }
    }
}

/// The value as Salesforce holds it: `Name` 255 characters, addresses within the `Billing*`
/// lengths, `Phone` 40, `Website` 255, `Description` 32000, email 80, everything trimmed.
pub(crate) fn to_sf(field: PartyField, value: &PartyValue) -> Option<PartyValue> {
    match value {
        PartyValue::Address(address) => sf_address(address).map(PartyValue::Address),
        PartyValue::Text(text) => {
            let max = match field {
                PartyField::DisplayName | PartyField::CompanyName => SF_NAME_MAX,
                PartyField::Email => SF_EMAIL_MAX,
                PartyField::Phone => SF_PHONE_MAX,
                PartyField::Website => SF_WEBSITE_MAX,
                PartyField::Notes => SF_DESCRIPTION_MAX,
                PartyField::BillingAddress | PartyField::ShippingAddress => usize::MAX,
            };
            limited(Some(text), max).map(PartyValue::Text)
        }
    }
}

/// Trims every part of an address and drops blank street lines; `None` when nothing is left.
pub(crate) fn tidy_address(address: &PostalAddress) -> Option<PostalAddress> {
    let tidy = PostalAddress {
        lines: address
            .lines
            .iter()
            .map(|line| line.trim())
            .filter(|line| !line.is_empty())
            .map(str::to_string)
            .collect(),
        city: limited(address.city.as_deref(), usize::MAX),
        region: limited(address.region.as_deref(), usize::MAX),
        postal_code: limited(address.postal_code.as_deref(), usize::MAX),
        country: limited(address.country.as_deref(), usize::MAX),
    };
    (tidy != PostalAddress::default()).then_some(tidy)
}

/// QBO holds at most five street lines: lines beyond the fifth are joined into the fifth with
/// `", "`, so no part of the street is lost.
pub(crate) fn qbo_address(address: &PostalAddress) -> Option<PostalAddress> {
    let mut tidy = tidy_address(address)?;
    if tidy.lines.len() > QBO_ADDRESS_LINES {
        let extra = tidy.lines.split_off(QBO_ADDRESS_LINES - 1);
        tidy.lines.push(extra.join(", "));
    }
    Some(tidy)
}

/// Salesforce holds the street as one text of at most 255 characters (lines joined by `"\n"`)
/// and city, state, postal code and country within their lengths; longer values are truncated.
pub(crate) fn sf_address(address: &PostalAddress) -> Option<PostalAddress> {
    let tidy = tidy_address(address)?;
    let street = truncate_for_display(&tidy.lines.join("\n"), SF_STREET_MAX);
    let shortened = PostalAddress {
        lines: street.split('\n').map(str::to_string).collect(),
        city: limited(tidy.city.as_deref(), SF_CITY_MAX),
        region: limited(tidy.region.as_deref(), SF_STATE_MAX),
        postal_code: limited(tidy.postal_code.as_deref(), SF_POSTAL_CODE_MAX),
        country: limited(tidy.country.as_deref(), SF_COUNTRY_MAX),
    };
    tidy_address(&shortened)
}

/// The Salesforce street text of an address: its lines joined by newlines.
pub(crate) fn sf_street(address: &PostalAddress) -> Option<String> {
    let street = address.lines.join("\n");
    (!street.is_empty()).then_some(street)
}

fn describe_address(address: &PostalAddress) -> String {
    let region_postal = [address.region.as_deref(), address.postal_code.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    address
        .lines
        .iter()
        .map(String::as_str)
        .chain(address.city.as_deref())
        .chain((!region_postal.is_empty()).then_some(region_postal.as_str()))
        .chain(address.country.as_deref())
        .collect::<Vec<_>>()
        .join(", ")
}

// ----------------------------------------------------------------- comparing

/// What two values are compared by (see the module docs): the round trip through both systems'
/// forms, then cosmetic differences removed. `None` for an empty value.
pub(crate) fn comparison_key(field: PartyField, value: Option<&PartyValue>) -> Option<PartyValue> {
    let round_trip = to_sf(field, &to_qbo(field, value?)?)?;
    Some(match round_trip {
        PartyValue::Address(address) => PartyValue::Address(address),
        PartyValue::Text(text) => PartyValue::Text(match field {
            PartyField::Email => text.to_lowercase(),
            PartyField::Website => text.trim_end_matches('/').to_lowercase(),
            PartyField::Phone => phone_key(&text),
            PartyField::Notes => text.replace("\r\n", "\n"),
            _ => collapse_whitespace(&text),
        }),
    })
}

/// Phone numbers are compared by their digits and letters only (`+1 (555) 010-9999` equals
/// `1-555-010-9999`), so re-punctuating a number is not a change.
fn phone_key(phone: &str) -> String {
    phone
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// True when two values are the same once cosmetic differences are removed.
pub(crate) fn same_value(
    field: PartyField,
    a: Option<&PartyValue>,
    b: Option<&PartyValue>,
) -> bool {
    comparison_key(field, a) == comparison_key(field, b)
}

// ----------------------------------------------------------------- merging

/// Who wins one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Winner {
    /// Both sides already hold the same value.
    Agreed,
    /// Salesforce's value goes to QBO.
    Salesforce,
    /// QBO's value goes to Salesforce.
    Quickbooks,
    /// The sides differ but nobody writes ([`blank_never_erases`]).
    Neither,
}

/// The decision for one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct FieldMerge {
    pub field: PartyField,
    pub winner: Winner,
    pub conflict: Option<FieldConflict>,
}

/// The three versions of the party fields.
pub(crate) struct Versions<'a> {
    pub salesforce: &'a PartySnapshot,
    pub quickbooks: &'a PartySnapshot,
    pub base: &'a PartySnapshot,
}

/// Decides one field by its owner (see the table in the module docs).
pub(crate) fn merge_field(field: PartyField, owner: FieldOwner, versions: &Versions) -> FieldMerge {
    let sf = get(versions.salesforce, field);
    let qbo = get(versions.quickbooks, field);
    let base = get(versions.base, field);
    let (sf_key, qbo_key, base_key) = (
        comparison_key(field, sf.as_ref()),
        comparison_key(field, qbo.as_ref()),
        comparison_key(field, base.as_ref()),
    );
    let mut conflict = None;
    if sf_key == qbo_key {
        return FieldMerge {
            field,
            winner: Winner::Agreed,
            conflict,
        };
    }
    let winner = match owner {
        FieldOwner::Salesforce => Winner::Salesforce,
        FieldOwner::Quickbooks => Winner::Quickbooks,
        FieldOwner::Both => match (sf_key != base_key, qbo_key != base_key) {
            (true, false) => Winner::Salesforce,
            (false, true) => Winner::Quickbooks,
            _ => {
                conflict = Some(both_changed_conflict(field, sf.as_ref(), qbo.as_ref()));
                Winner::Salesforce
            }
        },
    };
    let winner_key = match winner {
        Winner::Salesforce => &sf_key,
        _ => &qbo_key,
    };
    let winner = if blank_never_erases(winner_key.as_ref(), base_key.as_ref()) {
        Winner::Neither
    } else {
        winner
    };
    FieldMerge {
        field,
        winner,
        conflict,
    }
}

/// An empty winning value clears the other side only when the field held a value at the last
/// sync, i.e. when someone cleared it on purpose. A blank that was always blank says nothing.
pub(crate) fn blank_never_erases(winner: Option<&PartyValue>, base: Option<&PartyValue>) -> bool {
    winner.is_none() && base.is_none()
}

/// Both sides changed the field differently since the last sync: Salesforce wins, and the
/// conflict is reported with both values.
fn both_changed_conflict(
    field: PartyField,
    sf: Option<&PartyValue>,
    qbo: Option<&PartyValue>,
) -> FieldConflict {
    FieldConflict {
        field,
        salesforce_value: sf.map(PartyValue::describe),
        quickbooks_value: qbo.map(PartyValue::describe),
        resolution: format!(
            "both Salesforce and QuickBooks changed {} since the last sync; the Salesforce \
             value is kept (Salesforce wins conflicts) and written to QuickBooks",
            field_name(field)
        ),
    }
}

/// Merges every field in [`PartyField::ALL`] order.
pub(crate) fn merge_all(rules: &[FieldRule], versions: &Versions) -> Vec<FieldMerge> {
    PartyField::ALL
        .iter()
        .map(|&field| merge_field(field, owner_of(rules, field), versions))
        .collect()
}

/// The address value of a field, if it is one (for callers that know the field is an address).
pub(crate) fn as_address(value: Option<&PartyValue>) -> Option<&PostalAddress> {
    value.and_then(PartyValue::address)
}

/// The text value of a field, if it is one.
pub(crate) fn as_text(value: Option<&PartyValue>) -> Option<&str> {
    value.and_then(PartyValue::text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(v: &str) -> Option<PartyValue> {
        Some(PartyValue::Text(v.to_string()))
    }

    fn snapshot_with_email(email: Option<&str>) -> PartySnapshot {
        PartySnapshot {
            email: email.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn truncation_counts_characters_and_never_cuts_inside_one() {
        use crate::mapping::text::truncate_for_display;
        assert_eq!(truncate_for_display("héllo", 3), "hél");
        assert_eq!(truncate_for_display("漢字かな", 2), "漢字");
        // Skin tone, keycap and flag sequences are kept whole or dropped whole.
        assert_eq!(truncate_for_display("ab👍🏽", 3), "ab");
        assert_eq!(truncate_for_display("a1\u{FE0F}\u{20E3}", 2), "a");
        assert_eq!(truncate_for_display("🇯🇵🇫🇷", 3), "🇯🇵");
        assert_eq!(truncate_for_display("ab cd", 3), "ab");
        assert_eq!(truncate_for_display("short", 500), "short");
    }

    #[test]
    fn qbo_names_have_no_colon_and_single_spaces() {
        use crate::mapping::text::qbo_name;
        assert_eq!(qbo_name(" Parent:Child \t Co ", 500), "Parent-Child Co");
        assert_eq!(
            qbo_name(&qbo_name("a:b  c", 500), 500),
            qbo_name("a:b  c", 500)
        );
    }

    #[test]
    fn email_shape_is_checked_loosely() {
        use crate::mapping::text::is_valid_email;
        for good in ["a@b.co", " ann.lee+ap@example.co.uk ", "ü@bücher.de"] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "",
            "a",
            "a@b",
            "a@@b.co",
            "a@b.co@c.de",
            "a b@c.de",
            "@b.co",
            "a@.co",
            "a@b.",
            "a@b..co",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn default_owners_follow_the_documented_table() {
        assert_eq!(
            owner_of(&[], PartyField::DisplayName),
            FieldOwner::Salesforce
        );
        assert_eq!(owner_of(&[], PartyField::Website), FieldOwner::Salesforce);
        assert_eq!(owner_of(&[], PartyField::Email), FieldOwner::Both);
        assert_eq!(owner_of(&[], PartyField::Phone), FieldOwner::Both);
        assert_eq!(owner_of(&[], PartyField::Notes), FieldOwner::Quickbooks);
        let rules = [FieldRule {
            field: PartyField::Notes,
            owner: FieldOwner::Salesforce,
        }];
        assert_eq!(owner_of(&rules, PartyField::Notes), FieldOwner::Salesforce);
    }

    #[test]
    fn cosmetic_differences_compare_equal() {
        assert!(same_value(
            PartyField::Email,
            text(" Ann@Example.COM ").as_ref(),
            text("ann@example.com").as_ref()
        ));
        assert!(same_value(
            PartyField::Phone,
            text("+1 (555) 010-9999").as_ref(),
            text("1-555-010-9999").as_ref()
        ));
        assert!(same_value(
            PartyField::Website,
            text("https://Acme.com/").as_ref(),
            text("https://acme.com").as_ref()
        ));
        assert!(same_value(
            PartyField::DisplayName,
            text("Acme:  Corp").as_ref(),
            text("Acme- Corp").as_ref()
        ));
        assert!(same_value(PartyField::Phone, text("   ").as_ref(), None));
        let a = PartyValue::Address(PostalAddress {
            lines: vec![" 1 Main St ".into(), "".into()],
            city: Some(" Springfield".into()),
            ..Default::default()
        });
        let b = PartyValue::Address(PostalAddress {
            lines: vec!["1 Main St".into()],
            city: Some("Springfield".into()),
            region: Some(" ".into()),
            ..Default::default()
        });
        assert!(same_value(PartyField::BillingAddress, Some(&a), Some(&b)));
    }

    #[test]
    fn address_with_more_than_five_lines_folds_extras_into_the_fifth() {
        let address = PostalAddress {
            lines: (1..=7).map(|i| format!("line {i}")).collect(),
            ..Default::default()
        };
        let folded = qbo_address(&address).unwrap_or_default();
        assert_eq!(folded.lines.len(), 5);
        assert_eq!(
            folded.lines.get(4).map(String::as_str),
            Some("line 5, line 6, line 7")
        );
    }

    #[test]
    fn both_changed_salesforce_wins_and_conflict_is_reported() {
        let versions = Versions {
            salesforce: &snapshot_with_email(Some("sf@example.com")),
            quickbooks: &snapshot_with_email(Some("qbo@example.com")),
            base: &snapshot_with_email(Some("old@example.com")),
        };
        let merge = merge_field(PartyField::Email, FieldOwner::Both, &versions);
        assert_eq!(merge.winner, Winner::Salesforce);
        let conflict = merge
            .conflict
            .unwrap_or_else(|| panic!("conflict expected"));
        assert_eq!(conflict.salesforce_value.as_deref(), Some("sf@example.com"));
        assert_eq!(
            conflict.quickbooks_value.as_deref(),
            Some("qbo@example.com")
        );
        assert!(conflict.resolution.contains("Salesforce"));
    }

    #[test]
    fn both_owned_field_goes_to_the_side_that_changed() {
        let base = snapshot_with_email(Some("old@example.com"));
        let changed = snapshot_with_email(Some("new@example.com"));
        let sf_changed = Versions {
            salesforce: &changed,
            quickbooks: &base,
            base: &base,
        };
        assert_eq!(
            merge_field(PartyField::Email, FieldOwner::Both, &sf_changed).winner,
            Winner::Salesforce
        );
        let qbo_changed = Versions {
            salesforce: &base,
            quickbooks: &changed,
            base: &base,
        };
        assert_eq!(
            merge_field(PartyField::Email, FieldOwner::Both, &qbo_changed).winner,
            Winner::Quickbooks
        );
    }

    #[test]
    fn blank_never_erases_a_value_that_was_never_synced() {
        let empty = PartySnapshot::default();
        let filled = snapshot_with_email(Some("qbo@example.com"));
        let versions = Versions {
            salesforce: &empty,
            quickbooks: &filled,
            base: &empty,
        };
        let merge = merge_field(PartyField::Email, FieldOwner::Salesforce, &versions);
        assert_eq!(merge.winner, Winner::Neither);
        // Cleared on purpose (it was synced before): the blank wins.
        let versions = Versions {
            salesforce: &empty,
            quickbooks: &filled,
            base: &filled,
        };
        let merge = merge_field(PartyField::Email, FieldOwner::Salesforce, &versions);
        assert_eq!(merge.winner, Winner::Salesforce);
    }
}
