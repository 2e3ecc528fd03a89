//! The emulated company's profile: its country, home currency, multicurrency switch, sales tax
//! set-up, enabled invoice custom fields and exchange rates. One profile serves every realm
//! (`QboConfig::company`).
//!
//! | country | tax model | seeded tax entities |
//! |---|---|---|
//! | US | automated sales tax: lines say `TAX` / `NON`, QBO picks the ship-to state's rate | `TaxCode` `TAX`, `NON` (pseudo codes) and one `TaxCode` + `TaxRate` per state with a rate |
//! | GB | VAT: every sales line names a `TaxCode` | `20.0% S`, `5.0% R`, `0.0% Z`, `Exempt`, `No VAT` |
//! | CA | GST/HST: every sales line names a `TaxCode` | `GST`, `HST ON`, `Zero-rated`, `Exempt`, `Out of Scope` |
//! | AU | GST: every sales line names a `TaxCode` | `GST`, `GST free`, `Out of Scope` |
//!
//! The UK code names are the ones QBO UK companies carry (a UK sandbox shows "20.0% S" as
//! `TaxCode` Id 6 in public integration notes); the Ids and the Canadian and Australian names are
//! an emulator approximation of the locale's standard list.
//!
//! Money and rates are `Decimal`, never binary floating point.

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The company every realm is. `Default` is a US company in USD without multicurrency.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyProfile {
    /// `CompanyInfo.Country`: "US", "GB", "CA" or "AU".
    pub country: String,
    /// ISO 4217 code of the home currency (`Preferences.CurrencyPrefs.HomeCurrency`).
    pub home_currency: String,
    /// `Preferences.CurrencyPrefs.MultiCurrencyEnabled`.
    pub multicurrency: bool,
    /// US automated sales tax: percent per ship-to state code (e.g. `"CA"` → 7.25). States not
    /// listed have no sales tax.
    #[serde(deserialize_with = "decimal_map")]
    pub state_tax_rates: BTreeMap<String, Decimal>,
    /// Names of the enabled invoice custom fields, definition ids "1", "2", "3" in order (at most
    /// three: more are ignored, as QBO offers three).
    pub custom_fields: Vec<String>,
    /// Units of home currency per one unit of the currency (QBO's convention for
    /// `ExchangeRate`), used when multicurrency is on.
    #[serde(deserialize_with = "decimal_map")]
    pub exchange_rates: BTreeMap<String, Decimal>,
}

impl Default for CompanyProfile {
    fn default() -> Self {
        Self::us()
    }
}

/// A map of decimals written as JSON / TOML numbers (`7.25`) or strings (`"7.25"`). A number is
/// read from its shortest text form, so no binary rounding reaches the `Decimal`.
fn decimal_map<'de, D>(deserializer: D) -> Result<BTreeMap<String, Decimal>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Number {
        Int(i64),
        Float(f64),
        Text(String),
    }
    let raw = BTreeMap::<String, Number>::deserialize(deserializer)?;
    raw.into_iter()
        .map(|(key, value)| {
            let text = match value {
                Number::Int(i) => i.to_string(),
                Number::Float(f) => f.to_string(),
                Number::Text(t) => t,
            };
            text.trim()
                .parse::<Decimal>()
                .map(|d| (key.to_ascii_uppercase(), d))
                .map_err(|_| serde::de::Error::custom(format!("{text} is not a decimal number")))
        })
        .collect()
}

/// One seeded `TaxRate`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TaxRateDef {
    /// Its Id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Percent.
    pub rate: Decimal,
}

/// One seeded `TaxCode` with the sales rates it applies.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TaxCodeDef {
    /// Its Id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Ids of its sales `TaxRate`s.
    pub rates: Vec<String>,
}

fn dec(text: &str) -> Decimal {
    text.parse().unwrap_or_default()
}

fn rates(pairs: &[(&str, &str)]) -> BTreeMap<String, Decimal> {
    pairs.iter().map(|(k, v)| (k.to_string(), dec(v))).collect()
}

impl CompanyProfile {
    /// A US company: USD, automated sales tax (CA 7.25, NY 4, TX 6.25, WA 6.5), no multicurrency.
    pub fn us() -> Self {
        Self {
            country: "US".into(),
            home_currency: "USD".into(),
            multicurrency: false,
            state_tax_rates: rates(&[("CA", "7.25"), ("NY", "4"), ("TX", "6.25"), ("WA", "6.5")]),
            custom_fields: Vec::new(),
            exchange_rates: rates(&[("EUR", "1.08"), ("GBP", "1.27"), ("CAD", "0.73")]),
        }
    }

    /// A UK company: GBP, VAT codes, no multicurrency.
    pub fn uk() -> Self {
        Self {
            country: "GB".into(),
            home_currency: "GBP".into(),
            state_tax_rates: BTreeMap::new(),
            exchange_rates: rates(&[("EUR", "0.85"), ("USD", "0.79")]),
            ..Self::us()
        }
    }

    /// A Canadian company: CAD, GST/HST codes, no multicurrency.
    pub fn canada() -> Self {
        Self {
            country: "CA".into(),
            home_currency: "CAD".into(),
            state_tax_rates: BTreeMap::new(),
            exchange_rates: rates(&[("EUR", "1.48"), ("USD", "1.37")]),
            ..Self::us()
        }
    }

    /// A US company (automated sales tax, `TAX`/`NON` line codes).
    pub fn is_us(&self) -> bool {
        self.country.eq_ignore_ascii_case("US")
    }

    /// The US sales-tax percent of a ship-to state (0 when the state has none).
    pub(crate) fn state_rate(&self, state: &str) -> Decimal {
        self.state_tax_rates
            .get(&state.trim().to_ascii_uppercase())
            .copied()
            .unwrap_or_default()
    }

    /// Units of home currency per unit of `currency`: 1 for the home currency, the profile's rate
    /// otherwise (`None` for a currency the company does not have).
    pub(crate) fn rate_to_home(&self, currency: &str) -> Option<Decimal> {
        if currency.eq_ignore_ascii_case(&self.home_currency) {
            return Some(Decimal::ONE);
        }
        self.exchange_rates
            .get(&currency.to_ascii_uppercase())
            .copied()
    }

    /// The enabled custom field definitions: `("1", name)`, `("2", name)`, `("3", name)`.
    pub(crate) fn custom_field_definitions(&self) -> Vec<(String, String)> {
        self.custom_fields
            .iter()
            .take(3)
            .enumerate()
            .map(|(i, name)| ((i + 1).to_string(), name.clone()))
            .collect()
    }

    /// The detail of QBO's refusal of a sales line without a tax code, in the locale's words:
    /// "Make sure all your transactions have a VAT rate before you save." (GB, seen in public
    /// integration logs), "... a GST/HST rate ..." (CA, quoted in activepieces issue #8539);
    /// AU's "GST rate" is an emulator approximation.
    pub(crate) fn missing_tax_rate_detail(&self) -> String {
        let tax = match self.country.to_ascii_uppercase().as_str() {
            "CA" => "GST/HST",
            "AU" => "GST",
            _ => "VAT",
        };
        format!("Make sure all your transactions have a {tax} rate before you save.")
    }

    /// The `TaxRate` and `TaxCode` entities of the company. US: one rate and one code per state
    /// with a non-zero rate (Ids from 2; the line codes `TAX`/`NON` are separate pseudo codes).
    pub(crate) fn tax_table(&self) -> (Vec<TaxRateDef>, Vec<TaxCodeDef>) {
        let list: Vec<(&str, Vec<(&str, Decimal)>)> =
            match self.country.to_ascii_uppercase().as_str() {
                "US" => {
                    let mut rates = Vec::new();
                    let mut codes = Vec::new();
                    for (i, (state, rate)) in self
                        .state_tax_rates
                        .iter()
                        .filter(|(_, r)| !r.is_zero())
                        .enumerate()
                    {
                        let id = (i + 2).to_string();
                        rates.push(TaxRateDef {
                            id: id.clone(),
                            name: state.clone(),
                            rate: *rate,
                        });
                        codes.push(TaxCodeDef {
                            id: id.clone(),
                            name: state.clone(),
                            rates: vec![id],
                        });
                    }
                    return (rates, codes);
                }
                "CA" => vec![
                    ("GST", vec![("GST", dec("5"))]),
                    ("HST ON", vec![("HST ON", dec("13"))]),
                    ("Zero-rated", vec![("Zero-rated", Decimal::ZERO)]),
                    ("Exempt", vec![("Exempt", Decimal::ZERO)]),
                    ("Out of Scope", vec![("Out of Scope", Decimal::ZERO)]),
                ],
                "AU" => vec![
                    ("GST", vec![("GST (sales)", dec("10"))]),
                    ("GST free", vec![("GST free (sales)", Decimal::ZERO)]),
                    ("Out of Scope", vec![("Out of Scope", Decimal::ZERO)]),
                ],
                _ => vec![
                    ("20.0% S", vec![("20.0% S", dec("20"))]),
                    ("5.0% R", vec![("5.0% R", dec("5"))]),
                    ("0.0% Z", vec![("0.0% Z", Decimal::ZERO)]),
                    ("Exempt", vec![("Exempt", Decimal::ZERO)]),
                    ("No VAT", vec![("No VAT", Decimal::ZERO)]),
                ],
            };
        let mut rates = Vec::new();
        let mut codes = Vec::new();
        for (code, code_rates) in list {
            let mut ids = Vec::new();
            for (name, rate) in code_rates {
                let id = (rates.len() + 2).to_string();
                rates.push(TaxRateDef {
                    id: id.clone(),
                    name: name.to_string(),
                    rate,
                });
                ids.push(id);
            }
            codes.push(TaxCodeDef {
                id: (codes.len() + 2).to_string(),
                name: code.to_string(),
                rates: ids,
            });
        }
        (rates, codes)
    }
}

/// Digits after the decimal point of `currency` (ISO 4217 minor unit): 0 for JPY, KRW and the
/// like, 2 otherwise.
pub(crate) fn minor_unit(currency: &str) -> u32 {
    match currency.to_ascii_uppercase().as_str() {
        "JPY" | "KRW" | "CLP" | "ISK" | "VND" | "HUF" => 0,
        _ => 2,
    }
}

/// The tax rounding rule: each tax line is rounded on its own, half away from zero (half-up for
/// the positive amounts of a sale), to the currency's minor unit. 7.25 % of 10.10 = 0.73225 →
/// 0.73; 7.25 % of 10.30 = 0.74675 → 0.75; in JPY 10 % of 1,005 = 100.5 → 101.
pub(crate) fn round_tax(amount: Decimal, currency: &str) -> Decimal {
    amount.round_dp_with_strategy(minor_unit(currency), RoundingStrategy::MidpointAwayFromZero)
}

/// The display name QBO gives a currency in a `CurrencyRef` (`"USD"` → "United States Dollar").
pub(crate) fn currency_name(code: &str) -> Option<&'static str> {
    Some(match code.to_ascii_uppercase().as_str() {
        "USD" => "United States Dollar",
        "GBP" => "British Pound Sterling",
        "CAD" => "Canadian Dollar",
        "EUR" => "Euro",
        "AUD" => "Australian Dollar",
        "JPY" => "Japanese Yen",
        "INR" => "Indian Rupee",
        "MXN" => "Mexican Peso",
        _ => return None,
    })
}

/// `{"value": code, "name": ...}`.
pub(crate) fn currency_ref(code: &str) -> serde_json::Value {
    let code = code.to_ascii_uppercase();
    match currency_name(&code) {
        Some(name) => serde_json::json!({"value": code, "name": name}),
        None => serde_json::json!({"value": code}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_a_us_company_in_usd_without_multicurrency() {
        let p = CompanyProfile::default();
        assert_eq!(
            (p.country.as_str(), p.home_currency.as_str()),
            ("US", "USD")
        );
        assert!(!p.multicurrency && p.is_us());
        assert_eq!(p.state_rate("ca"), dec("7.25"));
        assert_eq!(p.state_rate("OR"), Decimal::ZERO);
        assert_eq!(p.rate_to_home("USD"), Some(Decimal::ONE));
        assert_eq!(p.rate_to_home("eur"), Some(dec("1.08")));
        assert_eq!(p.rate_to_home("CHF"), None);
    }

    #[test]
    fn tax_is_rounded_per_line_half_up_to_the_minor_unit() {
        let rate = dec("7.25") / Decimal::from(100);
        assert_eq!(round_tax(dec("10.10") * rate, "USD"), dec("0.73"));
        assert_eq!(round_tax(dec("10.30") * rate, "USD"), dec("0.75"));
        assert_eq!(round_tax(dec("100.5"), "JPY"), dec("101"));
        assert_eq!(round_tax(dec("0.005"), "GBP"), dec("0.01"));
    }

    #[test]
    fn uk_codes_carry_their_vat_rates() {
        let (rates, codes) = CompanyProfile::uk().tax_table();
        let standard = codes.iter().find(|c| c.name == "20.0% S").unwrap();
        let rate = rates.iter().find(|r| r.id == standard.rates[0]).unwrap();
        assert_eq!(rate.rate, dec("20"));
        assert!(codes.iter().all(|c| c.name != "TAX" && c.name != "NON"));
    }

    #[test]
    fn custom_fields_are_numbered_from_one_and_at_most_three() {
        let p = CompanyProfile {
            custom_fields: vec![
                "P.O. Number".into(),
                "Sales Rep".into(),
                "Crew #".into(),
                "X".into(),
            ],
            ..CompanyProfile::us()
        };
        let defs = p.custom_field_definitions();
        assert_eq!(defs.len(), 3);
        assert_eq!(defs[0], ("1".to_string(), "P.O. Number".to_string()));
    }

    #[test]
    fn a_profile_reads_from_json_with_numbers_or_strings() {
        let p: CompanyProfile = serde_json::from_str(
            r#"{"country": "GB", "home_currency": "GBP", "multicurrency": true,
                "exchange_rates": {"EUR": "0.85", "USD": 0.79}}"#,
        )
        .unwrap();
        assert_eq!(p.rate_to_home("USD"), Some(dec("0.79")));
        assert_eq!(p.rate_to_home("EUR"), Some(dec("0.85")));
        assert!(p.multicurrency && !p.is_us());
        let config: super::super::QboConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(config.company, CompanyProfile::us());
    }
}
