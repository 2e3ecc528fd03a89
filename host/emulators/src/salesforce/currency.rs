//! A multicurrency org (opt-in through [`SalesforceConfig::currencies`]); the default org has a
//! single currency and none of this.
//!
//! | what | behaviour | source |
//! |---|---|---|
//! | `CurrencyIsoCode` | a restricted picklist of the active currencies on every object, defaulting to the corporate currency (the users' personal currency is the corporate one) | object reference, e.g. OpportunityContactRole, Pricebook2 ("Available only for orgs with the multicurrency feature enabled") |
//! | who sets it | creatable and updatable; create-only on PricebookEntry; neither on OpportunityLineItem and OrderItem, which take their parent's | PricebookEntry and OpportunityLineItem field properties |
//! | a line's price book entry | must be in the opportunity's (order's) currency: `FIELD_INTEGRITY_EXCEPTION` "field integrity exception: PricebookEntryId (pricebook entry currency code does not match opportunity currency code)" | OpportunityLineItem `CurrencyIsoCode` description; message as quoted in public client code |
//! | a value that is not an active currency | `INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST` "Currency ISO Code: bad value for restricted picklist field: XYZ" | the restricted-picklist error form (approximation for this field) |
//! | `CurrencyType` | one row per currency: `IsoCode`, `ConversionRate` (units of it per 1 unit of the corporate currency; the corporate one is 1), `DecimalPlaces`, `IsActive`, `IsCorporate`; read-only to the integration user | CurrencyType object reference |
//! | `DatedConversionRate` | only with advanced currency management: per currency, periods `[StartDate, NextStartDate)`; the first starts `0001-01-01` at the CurrencyType rate and the last ends `9999-12-31` | DatedConversionRate object reference ("NextStartDate: the day after the end date"); the open ends are [U] |
//! | single-currency org | no `CurrencyIsoCode` field, no `CurrencyType` / `DatedConversionRate`: SOQL naming them is `INVALID_FIELD` / `INVALID_TYPE` | CurrencyType: "not available in single-currency organizations" |
//!
//! Rates are `rust_decimal::Decimal`. In a config file they are strings (`"0.92"`).
//!
//! ```
//! use chrono::NaiveDate;
//! use ledgerlink_emulators::salesforce::{Currencies, SalesforceConfig, SalesforceEmulator};
//! use rust_decimal::Decimal;
//! let eur: Decimal = "0.92".parse().unwrap();
//! let currencies = Currencies::new("USD", [("EUR", eur), ("GBP", "0.79".parse().unwrap())])
//!     .with_dated_rate("EUR", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap(), "0.95".parse().unwrap());
//! let sf = SalesforceEmulator::new(SalesforceConfig {
//!     currencies: Some(currencies),
//!     ..Default::default()
//! });
//! let id = sf.insert("Account", serde_json::json!({"Name": "Acme GmbH", "CurrencyIsoCode": "EUR"})).unwrap();
//! assert_eq!(sf.get("Account", &id).unwrap()["CurrencyIsoCode"], "EUR");
//! ```
//!
//! [`SalesforceConfig::currencies`]: super::SalesforceConfig::currencies

use super::ids::IdGen;
use super::store::{Record, Store};
use super::values::Val;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use serde::Deserialize;
use std::collections::BTreeMap;

/// Key prefix of `CurrencyType` ids [U].
pub(crate) const CURRENCY_TYPE_PREFIX: &str = "2CY";
/// Key prefix of `DatedConversionRate` ids [U].
pub(crate) const DATED_RATE_PREFIX: &str = "04w";

/// The currencies of a multicurrency org.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct Currencies {
    /// The corporate currency (ISO 4217 code); its conversion rate is 1.
    pub corporate: String,
    /// Decimal places of the corporate currency (default 2).
    #[serde(default = "two")]
    pub corporate_decimal_places: u32,
    /// The other currencies.
    #[serde(default)]
    pub others: Vec<CurrencySpec>,
    /// Advanced currency management: `DatedConversionRate` exists.
    #[serde(default)]
    pub advanced: bool,
    /// Dated rates (advanced currency management), any order.
    #[serde(default)]
    pub dated_rates: Vec<DatedRate>,
}

/// One non-corporate currency.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CurrencySpec {
    /// ISO 4217 code.
    pub iso_code: String,
    /// Units of this currency per 1 unit of the corporate currency (EUR 0.92: 1 USD = 0.92 EUR).
    pub conversion_rate: Decimal,
    /// Digits after the decimal point (default 2).
    #[serde(default = "two")]
    pub decimal_places: u32,
    /// Active: usable in `CurrencyIsoCode` (default true).
    #[serde(default = "yes")]
    pub active: bool,
}

/// A conversion rate effective from `start_date` until the next dated rate of the currency.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DatedRate {
    /// ISO 4217 code.
    pub iso_code: String,
    /// First day the rate applies.
    pub start_date: NaiveDate,
    /// Units of this currency per 1 unit of the corporate currency.
    pub conversion_rate: Decimal,
}

fn two() -> u32 {
    2
}

fn yes() -> bool {
    true
}

impl Currencies {
    /// An org whose corporate currency is `corporate`, with `others` active at the given rates
    /// (units per 1 corporate unit) and 2 decimal places.
    pub fn new<'a>(corporate: &str, others: impl IntoIterator<Item = (&'a str, Decimal)>) -> Self {
        Self {
            corporate: corporate.to_string(),
            corporate_decimal_places: 2,
            others: others
                .into_iter()
                .map(|(code, rate)| CurrencySpec {
                    iso_code: code.to_string(),
                    conversion_rate: rate,
                    decimal_places: 2,
                    active: true,
                })
                .collect(),
            advanced: false,
            dated_rates: Vec::new(),
        }
    }

    /// Adds a currency that exists but is inactive (refused in `CurrencyIsoCode`).
    pub fn with_inactive(mut self, code: &str, rate: Decimal) -> Self {
        self.others.push(CurrencySpec {
            iso_code: code.to_string(),
            conversion_rate: rate,
            decimal_places: 2,
            active: false,
        });
        self
    }

    /// Sets a currency's decimal places (0 for JPY).
    pub fn with_decimal_places(mut self, code: &str, places: u32) -> Self {
        if code == self.corporate {
            self.corporate_decimal_places = places;
        }
        for c in self.others.iter_mut().filter(|c| c.iso_code == code) {
            c.decimal_places = places;
        }
        self
    }

    /// Turns on advanced currency management (`DatedConversionRate`).
    pub fn with_advanced_currency_management(mut self) -> Self {
        self.advanced = true;
        self
    }

    /// Adds a dated rate for `code` from `start` (and turns on advanced currency management).
    pub fn with_dated_rate(mut self, code: &str, start: NaiveDate, rate: Decimal) -> Self {
        self.advanced = true;
        self.dated_rates.push(DatedRate {
            iso_code: code.to_string(),
            start_date: start,
            conversion_rate: rate,
        });
        self
    }

    /// The active currency codes, corporate first.
    pub fn active_codes(&self) -> Vec<String> {
        std::iter::once(self.corporate.clone())
            .chain(
                self.others
                    .iter()
                    .filter(|c| c.active)
                    .map(|c| c.iso_code.clone()),
            )
            .collect()
    }

    /// Checks codes (three uppercase letters, each once), rates (positive) and dated rates (of a
    /// known currency).
    pub fn validate(&self) -> anyhow::Result<()> {
        let valid = |c: &str| c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase());
        let mut seen = vec![self.corporate.as_str()];
        if !valid(&self.corporate) {
            anyhow::bail!(
                "currencies: corporate {:?} is not an ISO code",
                self.corporate
            );
        }
        for c in &self.others {
            if !valid(&c.iso_code) || seen.contains(&c.iso_code.as_str()) {
                anyhow::bail!("currencies: {:?} is not a new ISO code", c.iso_code);
            }
            if c.conversion_rate <= Decimal::ZERO {
                anyhow::bail!("currencies: {} rate must be positive", c.iso_code);
            }
            seen.push(&c.iso_code);
        }
        for d in &self.dated_rates {
            if !seen.contains(&d.iso_code.as_str()) || d.conversion_rate <= Decimal::ZERO {
                anyhow::bail!(
                    "currencies: dated rate for {} needs a known currency and a positive rate",
                    d.iso_code
                );
            }
        }
        Ok(())
    }

    /// (code, rate, decimal places, active, corporate) of every currency, corporate first.
    fn types(&self) -> Vec<(String, Decimal, u32, bool, bool)> {
        std::iter::once((
            self.corporate.clone(),
            Decimal::ONE,
            self.corporate_decimal_places,
            true,
            true,
        ))
        .chain(self.others.iter().map(|c| {
            (
                c.iso_code.clone(),
                c.conversion_rate,
                c.decimal_places,
                c.active,
                false,
            )
        }))
        .collect()
    }

    /// Puts the `CurrencyType` rows (and `DatedConversionRate` rows with advanced currency
    /// management) in `store`, with ids of their own generator so that no other id shifts.
    pub(crate) fn seed(&self, store: &mut Store, seed: u64, user: &str, now: DateTime<Utc>) {
        let mut ids = IdGen::new(seed.wrapping_add(2));
        let mut put = |store: &mut Store, sobject: &str, prefix: &str, fields| {
            store.put(Record {
                id: ids.next(prefix),
                sobject: sobject.into(),
                fields,
                created: now,
                modified: now,
                modstamp: now,
                user: user.to_string(),
                deleted_at: None,
            });
        };
        let first = NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or(NaiveDate::MIN);
        let last = NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX);
        for (code, rate, places, active, corporate) in self.types() {
            let mut f = BTreeMap::new();
            f.insert("IsoCode".to_string(), Val::Text(code.clone()));
            f.insert("ConversionRate".into(), Val::Num(rate));
            f.insert("DecimalPlaces".into(), Val::Num(Decimal::from(places)));
            f.insert("IsActive".into(), Val::Bool(active));
            f.insert("IsCorporate".into(), Val::Bool(corporate));
            put(store, "CurrencyType", CURRENCY_TYPE_PREFIX, f);
            if !self.advanced {
                continue;
            }
            // Periods: the base rate from the beginning of time, then the dated rates.
            let mut periods: BTreeMap<NaiveDate, Decimal> = BTreeMap::new();
            periods.insert(first, rate);
            if !corporate {
                for d in self.dated_rates.iter().filter(|d| d.iso_code == code) {
                    periods.insert(d.start_date, d.conversion_rate);
                }
            }
            let starts: Vec<(NaiveDate, Decimal)> = periods.into_iter().collect();
            for (i, (start, rate)) in starts.iter().enumerate() {
                let next = starts.get(i + 1).map(|(s, _)| *s).unwrap_or(last);
                let mut f = BTreeMap::new();
                f.insert("IsoCode".to_string(), Val::Text(code.clone()));
                f.insert("ConversionRate".into(), Val::Num(*rate));
                f.insert("StartDate".into(), Val::Date(*start));
                f.insert("NextStartDate".into(), Val::Date(next));
                put(store, "DatedConversionRate", DATED_RATE_PREFIX, f);
            }
        }
    }
}
