//! Tenant settings the flows read (through `wasi:config`), with their defaults. A malformed
//! setting is an error naming the key, not a silent default.

use super::invoice_settings::{DetailSettings, RateSource};
use crate::clients::salesforce_fields::{
    BILLING_FREQUENCY, SUBSCRIPTION_CANCELLED, SUBSCRIPTION_TERM,
};
use crate::clients::salesforce_fields::{BLNG_INVOICE, BLNG_INVOICE_LINE};
use crate::mapping::{AllocationRule, DocNumberRule, InvoiceSettings, ItemSettings};
use crate::model::{FieldOwner, FieldRule, GlobalTaxCalculation, ItemType, PartyField, Reference};
use crate::platform::Settings;
use rust_decimal::Decimal;
use std::collections::BTreeMap;
use std::str::FromStr;

/// Everything the flows need to know about the tenant.
#[derive(Clone, Debug)]
pub struct FlowSettings {
    /// QBO company id.
    pub realm_id: String,
    /// Invoice shaping.
    pub invoice: InvoiceSettings,
    /// Where each invoice's tax, terms, email, class, location and custom fields come from.
    pub invoice_details: DetailSettings,
    /// The Salesforce org has multiple currencies (`CurrencyIsoCode` is read); `None` (`auto`):
    /// found out by describing Opportunity.
    pub salesforce_multicurrency: Option<bool>,
    /// Where a foreign-currency invoice's exchange rate comes from.
    pub exchange_rate_source: RateSource,
    /// Item shaping.
    pub item: ItemSettings,
    /// Per-field owners of the shared customer fields.
    pub field_rules: Vec<FieldRule>,
    /// Journal-entry allocation rules.
    pub journal_rules: Vec<AllocationRule>,
    /// A/R account for journal entries.
    pub receivable_account: Reference,
    /// Stage an Opportunity moves to when fully paid (none: stage unchanged).
    pub paid_stage: Option<String>,
    /// Email invoices after creating them.
    pub send_invoices: bool,
    /// What QBO invoices are made from (`invoice-source`).
    pub invoice_source: InvoiceSource,
    /// Aging thresholds in days.
    pub aging_thresholds: Vec<u32>,
    /// Where a QBO invoice is shown; the invoice Id is appended.
    pub invoice_link_base: String,
    /// Salesforce Order statuses that mean "post it".
    pub posted_order_status: String,
    /// The Salesforce integration user's id (`salesforce-user-id`), whose own changes are not
    /// echoed back; when unset it is read from UserInfo.
    pub salesforce_user_id: Option<String>,
    /// Who and what a notification names.
    pub notify: NotifySettings,
    /// What the matching ladder does with a match it is not sure of.
    pub review: ReviewSettings,
    /// Where subscription lines say how often they bill, and for how long.
    pub subscriptions: SubscriptionSettings,
}

/// Subscriptions (QBO recurring templates): the fields that mark a line as a subscription.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubscriptionSettings {
    /// `subscription-frequency-field`: the line's (else its Product2's) billing frequency; a
    /// line with one set is a subscription line. None (the default, or `none`) turns
    /// subscriptions off: none of these fields is read. `subscriptions = on` sets it to
    /// `Billing_Frequency__c`.
    pub frequency_field: Option<String>,
    /// `subscription-term-field`: the line's (else its Product2's) term in months; none given
    /// means no end.
    pub term_field: String,
    /// `subscription-cancel-field`: the Opportunity checkbox that cancels the subscription.
    pub cancel_field: String,
    /// `subscription-days-before`: how many days before each date QBO creates the invoice.
    pub days_before: u32,
}

impl Default for SubscriptionSettings {
    fn default() -> Self {
        Self {
            frequency_field: None,
            term_field: SUBSCRIPTION_TERM.into(),
            cancel_field: SUBSCRIPTION_CANCELLED.into(),
            days_before: 0,
        }
    }
}

impl SubscriptionSettings {
    fn load(s: &dyn Settings) -> Result<Self, String> {
        let defaults = Self::default();
        let field = |key: &str, default: &str| -> Result<String, String> {
            match s.value(key) {
                None => Ok(default.to_string()),
                Some(v) if is_field_name(v.trim()) => Ok(v.trim().to_string()),
                Some(v) => Err(format!(
                    "setting {key}: {v:?} is not a Salesforce field name"
                )),
            }
        };
        // Off unless asked for: an org without the subscription fields would refuse the
        // invoice flow's query that reads them.
        let on = match s.value("subscriptions").as_deref().map(str::trim) {
            None | Some("off") | Some("false") => false,
            Some("on") | Some("true") => true,
            Some(v) => {
                return Err(format!(
                    "setting subscriptions: {v:?} is neither on nor off"
                ))
            }
        };
        let frequency_field = match s.value("subscription-frequency-field").as_deref() {
            Some(v) if v.trim().eq_ignore_ascii_case("none") => None,
            Some(_) => Some(field("subscription-frequency-field", BILLING_FREQUENCY)?),
            None if on => Some(BILLING_FREQUENCY.to_string()),
            None => None,
        };
        let days_before = match s.value("subscription-days-before") {
            None => defaults.days_before,
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                format!("setting subscription-days-before: {v:?} is not a number of days")
            })?,
        };
        Ok(Self {
            frequency_field,
            term_field: field("subscription-term-field", SUBSCRIPTION_TERM)?,
            cancel_field: field("subscription-cancel-field", SUBSCRIPTION_CANCELLED)?,
            days_before,
        })
    }
}

/// A Salesforce field API name: a letter, then letters, digits and underscores (only such text
/// is put into SOQL).
fn is_field_name(text: &str) -> bool {
    text.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// What QBO invoices are made from (`invoice-source`): Closed Won opportunities (the
/// default), posted Salesforce `Invoice` records (`invoice-object`), or posted Salesforce
/// Billing `blng__Invoice__c` records (`billing`). With an invoice object, opportunities are
/// not invoiced.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum InvoiceSource {
    /// Closed Won opportunities with their line items.
    #[default]
    Opportunity,
    /// Posted `Invoice` records with their `InvoiceLine`s.
    InvoiceObject,
    /// Posted Salesforce Billing invoices with their invoice lines.
    Billing,
}

impl InvoiceSource {
    /// Reads `invoice-source`; anything else than its three values is an error naming it.
    pub fn load(s: &dyn Settings) -> Result<Self, String> {
        match s.value("invoice-source").as_deref().map(str::trim) {
            None | Some("") | Some("opportunity") => Ok(Self::Opportunity),
            Some("invoice-object") => Ok(Self::InvoiceObject),
            Some("billing") => Ok(Self::Billing),
            Some(v) => Err(format!(
                "setting invoice-source: {v:?} is not opportunity, invoice-object or billing"
            )),
        }
    }

    /// The sObject invoices are made from, and its line object (none for opportunities, whose
    /// lines are polled through the opportunity).
    pub fn objects(self) -> (&'static str, Option<&'static str>) {
        match self {
            Self::Opportunity => ("Opportunity", None),
            Self::InvoiceObject => ("Invoice", Some("InvoiceLine")),
            Self::Billing => (BLNG_INVOICE, Some(BLNG_INVOICE_LINE)),
        }
    }
}

/// How notifications name people and records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotifySettings {
    /// The org's address (`salesforce-url`, e.g. `https://acme.my.salesforce.com`, no trailing
    /// `/`): records are linked under it; none: named by id only.
    pub salesforce_url: Option<String>,
    /// Salesforce user emails, lowercased, to chat users (`notify-mentions`).
    pub mentions: BTreeMap<String, String>,
    /// A mention, with `{user}` for the chat user (`notify-mention-format`, default `<@{user}>`).
    pub mention_format: String,
}

impl Default for NotifySettings {
    fn default() -> Self {
        Self {
            salesforce_url: None,
            mentions: BTreeMap::new(),
            mention_format: "<@{user}>".into(),
        }
    }
}

/// What the matching ladder does with a match it is not sure of.
#[derive(Clone, Debug, PartialEq)]
pub struct ReviewSettings {
    /// `review-ambiguous`: `queue` (the default) sends an account with several plausible
    /// customers on one rung, or with only similar names, to the review queue; `first` links the
    /// first customer of the first rung that hits and never looks at similar names (the
    /// behaviour before the queue).
    pub queue_ambiguous: bool,
    /// `review-fuzzy-threshold`, 0 to 1 (default 0.9): a customer whose normalized name is at
    /// least this similar to the account's (Jaro-Winkler) is a candidate for review. 0.9 keeps
    /// typos and word endings ("Traders"/"Trading", 0.93) and leaves out names that only share
    /// a first word ("United Parcel"/"United Airlines", 0.90 is the edge; "Acme"/"Acme
    /// Widgets", 0.87).
    pub fuzzy_threshold: f64,
}

impl Default for ReviewSettings {
    fn default() -> Self {
        Self {
            queue_ambiguous: true,
            fuzzy_threshold: 0.9,
        }
    }
}

impl NotifySettings {
    /// Reads `salesforce-url`, `notify-mentions` and `notify-mention-format`.
    pub fn load(s: &dyn Settings) -> Result<Self, String> {
        let mut out = Self::default();
        if let Some(v) = s.value("salesforce-url") {
            out.salesforce_url = Some(salesforce_url(&v).ok_or_else(|| {
                format!(
                    "setting salesforce-url: {v:?} is not an https:// or http:// address without \
                     a path, such as https://acme.my.salesforce.com"
                )
            })?);
        }
        if let Some(v) = s.value("notify-mentions") {
            out.mentions = mentions(&v)?;
        }
        if let Some(v) = s.value("notify-mention-format") {
            if !v.contains("{user}") {
                return Err(format!(
                    "setting notify-mention-format: {v:?} has no {{user}} for the chat user, \
                     as in <@{{user}}>"
                ));
            }
            out.mention_format = v;
        }
        Ok(out)
    }
}

/// `value` as the org's address without a trailing `/`, when it is `http(s)://host[:port][/]`.
fn salesforce_url(value: &str) -> Option<String> {
    let value = value.trim();
    let (scheme, rest) = ["https://", "http://"]
        .into_iter()
        .find_map(|scheme| Some((scheme, value.strip_prefix(scheme)?)))?;
    let host_port = rest.strip_suffix('/').unwrap_or(rest);
    let (host, port) = match host_port.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (host_port, None),
    };
    let host_ok = !host.is_empty()
        && !host.starts_with(['.', '-'])
        && !host.ends_with(['.', '-'])
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.');
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()));
    (host_ok && port_ok).then(|| format!("{scheme}{host_port}"))
}

/// `notify-mentions`: `<email>=<chat user>` entries separated by `;` (or new lines); emails
/// compared without case. An empty entry (a trailing `;`) is ignored.
fn mentions(value: &str) -> Result<BTreeMap<String, String>, String> {
    let mut out = BTreeMap::new();
    for entry in value.split([';', '\n']).map(str::trim) {
        if entry.is_empty() {
            continue;
        }
        let refused = |why: &str| format!("setting notify-mentions: entry {entry:?} {why}");
        let Some((email, user)) = entry.split_once('=') else {
            return Err(refused("is not <email>=<chat user>"));
        };
        let (email, user) = (email.trim().to_lowercase(), user.trim());
        let valid_email = email
            .split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
            && !email
                .chars()
                .any(|c| c.is_whitespace() || "<>&|=".contains(c));
        if !valid_email {
            return Err(refused("does not start with an email address"));
        }
        if user.is_empty()
            || user
                .chars()
                .any(|c| c.is_whitespace() || "<>&|=".contains(c))
        {
            return Err(refused(
                "does not end with a chat user id (no spaces, no <, >, &, | or =)",
            ));
        }
        if let Some(before) = out.insert(email, user.to_string()) {
            if before != user {
                return Err(refused("maps an email already mapped to another user"));
            }
        }
    }
    Ok(out)
}

impl ReviewSettings {
    fn load(s: &dyn Settings) -> Result<Self, String> {
        let defaults = Self::default();
        let queue_ambiguous = match s.value("review-ambiguous").as_deref() {
            None | Some("queue") => true,
            Some("first") => false,
            Some(v) => {
                return Err(format!(
                    "setting review-ambiguous: {v:?} is not queue or first"
                ))
            }
        };
        let fuzzy_threshold = match s.value("review-fuzzy-threshold") {
            None => defaults.fuzzy_threshold,
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|t| (0.0..=1.0).contains(t))
                .ok_or_else(|| {
                    format!("setting review-fuzzy-threshold: {v:?} is not a number from 0 to 1")
                })?,
        };
        Ok(Self {
            queue_ambiguous,
            fuzzy_threshold,
        })
    }
}

fn flag(s: &dyn Settings, key: &str, default: bool) -> Result<bool, String> {
    match s.value(key) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| format!("setting {key}: {v:?} is not true or false")),
    }
}

impl FlowSettings {
    /// Reads the settings.
    pub fn load(s: &dyn Settings) -> Result<Self, String> {
        let realm_id = s.value("realm-id").ok_or("setting realm-id is missing")?;
        let income = Reference::id(s.value("income-account").unwrap_or_else(|| "1".into()));
        let terms = s.value("terms-id").map(Reference::id);
        let terms_days = match s.value("terms-days") {
            None => None,
            Some(v) => Some(
                v.parse()
                    .map_err(|_| format!("setting terms-days: {v:?} is not a number of days"))?,
            ),
        };
        let tolerance = match s.value("amount-tolerance") {
            None => Decimal::new(1, 2),
            Some(v) => Decimal::from_str(&v)
                .map_err(|_| format!("setting amount-tolerance: {v:?} is not a decimal"))?,
        };
        let field_rules = match s.value("field-rules") {
            None => PartyField::ALL
                .iter()
                .map(|f| FieldRule {
                    field: *f,
                    owner: FieldOwner::Salesforce,
                })
                .collect(),
            Some(v) => serde_json::from_str(&v).map_err(|e| format!("setting field-rules: {e}"))?,
        };
        let journal_rules = match s.value("journal-rules") {
            None => vec![AllocationRule {
                product_code: None,
                product_family: None,
                account: income.clone(),
                department: s.value("department-id").map(Reference::id),
                class: s.value("class-id").map(Reference::id),
                splits: Vec::new(),
            }],
            Some(v) => {
                serde_json::from_str(&v).map_err(|e| format!("setting journal-rules: {e}"))?
            }
        };
        let thresholds = match s.value("aging-thresholds") {
            None => vec![30, 60, 90],
            Some(v) => v
                .split(',')
                .map(|t| t.trim().parse::<u32>())
                .collect::<Result<_, _>>()
                .map_err(|_| format!("setting aging-thresholds: {v:?} is not a list of days"))?,
        };
        Ok(Self {
            subscriptions: SubscriptionSettings::load(s)?,
            review: ReviewSettings::load(s)?,
            salesforce_user_id: s.value("salesforce-user-id"),
            notify: NotifySettings::load(s)?,
            invoice_details: DetailSettings::load(s)?,
            salesforce_multicurrency: match s.value("salesforce-multicurrency").as_deref() {
                None | Some("auto") => None,
                Some(_) => Some(flag(s, "salesforce-multicurrency", false)?),
            },
            exchange_rate_source: match s.value("exchange-rate-source") {
                None => RateSource::default(),
                Some(v) => RateSource::parse(&v).ok_or_else(|| {
                    format!("setting exchange-rate-source: {v:?} is not quickbooks or salesforce")
                })?,
            },
            invoice: InvoiceSettings {
                us_company: flag(s, "us-company", true)?,
                home_currency: s.value("home-currency").unwrap_or_else(|| "USD".into()),
                multicurrency: flag(s, "multicurrency", false)?,
                terms,
                terms_days,
                doc_number: DocNumberRule::Prefix(
                    s.value("doc-number-prefix").unwrap_or_else(|| "SF-".into()),
                ),
                default_tax_code: s.value("tax-code").map(Reference::id),
                department: s.value("department-id").map(Reference::id),
                class: s.value("class-id").map(Reference::id),
                amount_tolerance: tolerance,
                opportunity_field_id: s.value("opportunity-custom-field-id"),
                global_tax_calculation: match s.value("global-tax-calculation") {
                    None => None,
                    Some(v) => Some(GlobalTaxCalculation::parse(&v).ok_or_else(|| {
                        format!(
                            "setting global-tax-calculation: {v:?} is not TaxExcluded, \
                             TaxInclusive or NotApplicable"
                        )
                    })?),
                },
            },
            item: ItemSettings {
                income_account: income,
                default_type: ItemType::Service,
                non_inventory_families: s
                    .value("non-inventory-families")
                    .map(|v| v.split(',').map(|f| f.trim().to_string()).collect())
                    .unwrap_or_default(),
            },
            field_rules,
            journal_rules,
            receivable_account: Reference::id(
                s.value("receivable-account").unwrap_or_else(|| "3".into()),
            ),
            paid_stage: s.value("paid-stage"),
            send_invoices: flag(s, "send-invoices", false)?,
            invoice_source: InvoiceSource::load(s)?,
            aging_thresholds: thresholds,
            invoice_link_base: s
                .value("invoice-link-base")
                .unwrap_or_else(|| "https://app.qbo.intuit.com/app/invoice?txnId=".into()),
            posted_order_status: s
                .value("posted-order-status")
                .unwrap_or_else(|| "Activated".into()),
            realm_id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::MemorySettings;

    fn load(pairs: &[(&str, &str)]) -> Result<FlowSettings, String> {
        let mut all: std::collections::BTreeMap<String, String> =
            [("realm-id".to_string(), "1".to_string())].into();
        all.extend(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        FlowSettings::load(&MemorySettings(all))
    }

    #[test]
    fn the_invoice_currency_and_tax_settings_are_read_or_refused_by_name() {
        let s = load(&[
            ("global-tax-calculation", "taxinclusive"),
            ("exchange-rate-source", "salesforce"),
            ("salesforce-multicurrency", "true"),
        ])
        .unwrap();
        assert_eq!(
            s.invoice.global_tax_calculation,
            Some(GlobalTaxCalculation::TaxInclusive)
        );
        assert_eq!(s.exchange_rate_source, RateSource::Salesforce);
        assert_eq!(s.salesforce_multicurrency, Some(true));
        let auto = load(&[("salesforce-multicurrency", "auto")]).unwrap();
        assert_eq!(auto.salesforce_multicurrency, None);
        assert_eq!(auto.exchange_rate_source, RateSource::Quickbooks);
        for (key, value) in [
            ("global-tax-calculation", "VAT"),
            ("exchange-rate-source", "ecb"),
            ("salesforce-multicurrency", "maybe"),
        ] {
            let err = load(&[(key, value)]).err().unwrap_or_default();
            assert!(err.starts_with(&format!("setting {key}")), "{err}");
        }
    }

    #[test]
    fn the_notification_settings_are_read_or_refused_naming_the_key_and_entry() {
        let s = load(&[]).unwrap();
        assert_eq!(s.notify, NotifySettings::default());
        assert_eq!(s.notify.mention_format, "<@{user}>");
        let s = load(&[
            ("salesforce-url", " https://acme.my.salesforce.com/ "),
            (
                "notify-mentions",
                "Ada@Acme.example=U024BE7LH; bob@acme.example = U0G9QF9C6;\nada@acme.EXAMPLE=U024BE7LH;",
            ),
            ("notify-mention-format", "@{user}"),
        ])
        .unwrap();
        assert_eq!(
            s.notify.salesforce_url.as_deref(),
            Some("https://acme.my.salesforce.com")
        );
        assert_eq!(
            s.notify.mentions,
            BTreeMap::from([
                ("ada@acme.example".to_string(), "U024BE7LH".to_string()),
                ("bob@acme.example".to_string(), "U0G9QF9C6".to_string()),
            ])
        );
        assert_eq!(s.notify.mention_format, "@{user}");
        for url in [
            "http://localhost:8443",
            "https://acme--dev.sandbox.my.salesforce.com",
        ] {
            assert_eq!(
                load(&[("salesforce-url", url)])
                    .unwrap()
                    .notify
                    .salesforce_url
                    .as_deref(),
                Some(url)
            );
        }

        for (key, value, named) in [
            (
                "salesforce-url",
                "acme.my.salesforce.com",
                "\"acme.my.salesforce.com\"",
            ),
            (
                "salesforce-url",
                "https://acme.my.salesforce.com/lightning",
                "/lightning",
            ),
            (
                "salesforce-url",
                "https://acme.my.salesforce.com?x=1",
                "?x=1",
            ),
            ("salesforce-url", "ftp://acme.example", "ftp://"),
            ("salesforce-url", "https://", "https://"),
            ("salesforce-url", "https://acme.example:", "acme.example:"),
            (
                "notify-mentions",
                "ada@acme.example=U1; bob",
                "entry \"bob\"",
            ),
            ("notify-mentions", "ada=U1", "entry \"ada=U1\""),
            (
                "notify-mentions",
                "ada@acme.example=",
                "entry \"ada@acme.example=\"",
            ),
            (
                "notify-mentions",
                "a@b.example=<!here>",
                "entry \"a@b.example=<!here>\"",
            ),
            (
                "notify-mentions",
                "a@b.example=U 1",
                "entry \"a@b.example=U 1\"",
            ),
            (
                "notify-mentions",
                "a@b.example=U1;A@b.example=U2",
                "entry \"A@b.example=U2\"",
            ),
            ("notify-mention-format", "<@user>", "{user}"),
        ] {
            let err = load(&[(key, value)]).err().unwrap_or_default();
            assert!(err.starts_with(&format!("setting {key}: ")), "{err}");
            assert!(err.contains(named), "{value}: {err}");
        }
    }

    #[test]
    fn the_subscription_settings_have_defaults_and_are_refused_by_name() {
        let d = load(&[]).unwrap().subscriptions;
        assert_eq!(d, SubscriptionSettings::default());
        assert_eq!(d.frequency_field, None, "off unless asked for");
        let on = load(&[("subscriptions", "on")]).unwrap().subscriptions;
        assert_eq!(on.frequency_field.as_deref(), Some("Billing_Frequency__c"));
        assert_eq!(d.term_field, "Subscription_Term__c");
        assert_eq!(d.cancel_field, "Subscription_Cancelled__c");
        let s = load(&[
            ("subscription-frequency-field", "Frequency__c"),
            ("subscription-term-field", "Months__c"),
            ("subscription-cancel-field", "Cancelled__c"),
            ("subscription-days-before", "5"),
        ])
        .unwrap()
        .subscriptions;
        assert_eq!(
            (
                s.frequency_field.as_deref(),
                s.term_field.as_str(),
                s.cancel_field.as_str(),
                s.days_before
            ),
            (Some("Frequency__c"), "Months__c", "Cancelled__c", 5)
        );
        let off = load(&[("subscription-frequency-field", "none")]).unwrap();
        assert_eq!(off.subscriptions.frequency_field, None);
        for (key, value) in [
            ("subscription-frequency-field", "Freq; DELETE"),
            ("subscription-term-field", "Product2.Term__c"),
            ("subscription-days-before", "-1"),
            ("subscriptions", "sometimes"),
        ] {
            let err = load(&[(key, value)]).err().unwrap_or_default();
            assert!(err.starts_with(&format!("setting {key}: ")), "{err}");
        }
    }

    #[test]
    fn the_review_settings_are_read_or_refused_by_name() {
        let defaults = load(&[]).unwrap().review;
        assert_eq!(defaults, ReviewSettings::default());
        assert!(defaults.queue_ambiguous);
        let s = load(&[
            ("review-fuzzy-threshold", " 0.75 "),
            ("review-ambiguous", "first"),
        ])
        .unwrap();
        assert_eq!(s.review.fuzzy_threshold, 0.75);
        assert!(!s.review.queue_ambiguous);
        for (key, value) in [
            ("review-fuzzy-threshold", "high"),
            ("review-fuzzy-threshold", "1.5"),
            ("review-fuzzy-threshold", "-0.1"),
            ("review-fuzzy-threshold", "NaN"),
            ("review-ambiguous", "ask"),
        ] {
            let err = load(&[(key, value)]).err().unwrap_or_default();
            assert!(err.starts_with(&format!("setting {key}: ")), "{err}");
            assert!(err.contains(value), "{err}");
        }
    }
}
