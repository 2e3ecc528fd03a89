//! A deterministic generator of Salesforce data for the demo and the benchmarks: accounts with
//! billing addresses, emails and phones; products with standard price book entries;
//! opportunities with line items (a chosen fraction "Closed Won"); orders with items.
//!
//! The same [`SeedSpec`] (seed included) always gives the same [`SeedData`]. Records are JSON
//! objects per sObject, shaped like an sObject Tree request: each has
//! `attributes: {type, referenceId}` and refers to others with `@{referenceId}` (the standard
//! price book is `@{StandardPricebook}`). [`SeedData::load_into`] inserts them into a
//! [`SalesforceEmulator`] in dependency order and activates the orders meant to be activated.
//!
//! Money is generated as `Decimal` with two places and written as JSON numbers; no float
//! arithmetic is involved.

use crate::salesforce::SalesforceEmulator;
use chrono::{Duration, NaiveDate};
use rand::{rngs::StdRng, seq::SliceRandom, Rng, SeedableRng};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// What to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedSpec {
    /// Accounts.
    pub accounts: usize,
    /// Products (each with a standard price book entry).
    pub products: usize,
    /// Opportunities.
    pub opportunities: usize,
    /// Share of opportunities at "Closed Won" (0.0 to 1.0; a ratio, not money).
    pub closed_won_fraction: f64,
    /// Line items per opportunity (0: the opportunity carries an `Amount` instead).
    pub lines_per_opportunity: usize,
    /// Orders (1 to 3 items each).
    pub orders: usize,
    /// Random seed.
    pub seed: u64,
}

impl Default for SeedSpec {
    fn default() -> Self {
        Self {
            accounts: 20,
            products: 10,
            opportunities: 40,
            closed_won_fraction: 0.5,
            lines_per_opportunity: 3,
            orders: 10,
            seed: 42,
        }
    }
}

/// The sObjects in the order they must be inserted.
pub const LOAD_ORDER: [&str; 7] = [
    "Account",
    "Product2",
    "PricebookEntry",
    "Opportunity",
    "OpportunityLineItem",
    "Order",
    "OrderItem",
];

/// Generated records per sObject.
#[derive(Clone, Debug, PartialEq)]
pub struct SeedData {
    /// Records by sObject name (see [`LOAD_ORDER`]).
    pub records: BTreeMap<String, Vec<Value>>,
}

const ADJECTIVES: &[&str] = &[
    "Acme",
    "Blue",
    "Summit",
    "Northwind",
    "Granite",
    "Pioneer",
    "Silver",
    "Harbor",
    "Evergreen",
    "Cedar",
    "Atlas",
    "Beacon",
    "Crescent",
    "Falcon",
    "Golden",
    "Iron",
    "Maple",
    "Orion",
    "Redwood",
    "Sterling",
];
const NOUNS: &[&str] = &[
    "Traders",
    "Logistics",
    "Foods",
    "Analytics",
    "Outfitters",
    "Robotics",
    "Pharma",
    "Builders",
    "Media",
    "Energy",
    "Textiles",
    "Marine",
    "Labs",
    "Studios",
    "Motors",
    "Farms",
];
const SUFFIXES: &[&str] = &["Inc.", "LLC", "Ltd", "Co.", "Group", "Corp."];
const STREETS: &[&str] = &[
    "Main", "Oak", "Pine", "Market", "Mission", "Broadway", "Elm", "Lake", "Hill", "Park",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("San Francisco", "CA", "94105"),
    ("Austin", "TX", "73301"),
    ("Seattle", "WA", "98101"),
    ("Denver", "CO", "80202"),
    ("Boston", "MA", "02108"),
    ("Chicago", "IL", "60601"),
    ("Atlanta", "GA", "30303"),
    ("Portland", "OR", "97201"),
];
const TERMS: &[&str] = &["Net 30", "Net 15", "Net 60", "Due on receipt"];
const INDUSTRIES: &[&str] = &[
    "Technology",
    "Manufacturing",
    "Retail",
    "Healthcare",
    "Energy",
    "Media",
];
const FAMILIES: &[&str] = &["Hardware", "Software", "Services", "Support"];
const PRODUCT_WORDS: &[&str] = &[
    "Sensor",
    "Gateway",
    "License",
    "Installation",
    "Training",
    "Controller",
    "Module",
    "Subscription",
    "Audit",
    "Kit",
];
const OPEN_STAGES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Needs Analysis",
    "Value Proposition",
    "Proposal/Price Quote",
    "Negotiation/Review",
];
const DEPARTMENTS: &[&str] = &["East", "West", "Central"];
const CLASSES: &[&str] = &["Product", "Services"];

fn money(rng: &mut StdRng, min_cents: i64, max_cents: i64) -> Decimal {
    Decimal::new(rng.gen_range(min_cents..=max_cents), 2)
}

/// A decimal as a JSON number, from its text (not through float arithmetic).
fn number(d: Decimal) -> Value {
    serde_json::from_str::<serde_json::Number>(&d.to_string())
        .map(Value::Number)
        .unwrap_or_else(|_| json!(d.to_string()))
}

fn record(sobject: &str, reference: String, fields: Value) -> Value {
    let mut m = Map::new();
    m.insert(
        "attributes".into(),
        json!({"type": sobject, "referenceId": reference}),
    );
    if let Value::Object(f) = fields {
        m.extend(f);
    }
    Value::Object(m)
}

fn reference(sobject: &str, i: usize) -> String {
    format!("{sobject}-{}", i + 1)
}

fn at(r: &str) -> String {
    format!("@{{{r}}}")
}

/// Generates the data for `spec`.
pub fn generate(spec: &SeedSpec) -> SeedData {
    let mut rng = StdRng::seed_from_u64(spec.seed);
    let anchor = NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default();
    let mut records: BTreeMap<String, Vec<Value>> = LOAD_ORDER
        .iter()
        .map(|s| (s.to_string(), Vec::new()))
        .collect();
    let mut push =
        |sobject: &str, v: Value| records.entry(sobject.to_string()).or_default().push(v);

    let mut account_names = Vec::new();
    for i in 0..spec.accounts {
        let base = format!(
            "{} {} {}",
            ADJECTIVES[rng.gen_range(0..ADJECTIVES.len())],
            NOUNS[rng.gen_range(0..NOUNS.len())],
            SUFFIXES[rng.gen_range(0..SUFFIXES.len())]
        );
        let name = if account_names.contains(&base) {
            format!("{base} {}", i + 1)
        } else {
            base
        };
        let slug: String = name
            .to_lowercase()
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        let (city, state, zip) = CITIES[rng.gen_range(0..CITIES.len())];
        let fields = json!({
            "Name": name,
            "Type": "Customer",
            "Industry": INDUSTRIES[rng.gen_range(0..INDUSTRIES.len())],
            "Phone": format!("(555) {:03}-{:04}", rng.gen_range(100..1000), rng.gen_range(0..10000)),
            "Website": format!("https://www.{slug}.example.com"),
            "Email__c": format!("billing@{slug}.example.com"),
            "BillingStreet": format!("{} {} St", rng.gen_range(1..2000), STREETS[rng.gen_range(0..STREETS.len())]),
            "BillingCity": city,
            "BillingState": state,
            "BillingPostalCode": zip,
            "BillingCountry": "USA",
            "Payment_Terms__c": TERMS[rng.gen_range(0..TERMS.len())],
            "Tax_Exempt__c": rng.gen_bool(0.1),
        });
        account_names.push(name);
        push(
            "Account",
            record("Account", reference("Account", i), fields),
        );
    }

    let mut prices = Vec::new();
    for i in 0..spec.products {
        let family = FAMILIES[rng.gen_range(0..FAMILIES.len())];
        let word = PRODUCT_WORDS[rng.gen_range(0..PRODUCT_WORDS.len())];
        let price = money(&mut rng, 500, 200_000);
        prices.push(price);
        push(
            "Product2",
            record(
                "Product2",
                reference("Product2", i),
                json!({
                    "Name": format!("{family} {word} {}", i + 1),
                    "ProductCode": format!("SKU-{:04}", i + 1),
                    "Family": family,
                    "Description": format!("{word} ({family})"),
                    "IsActive": true,
                }),
            ),
        );
        push(
            "PricebookEntry",
            record(
                "PricebookEntry",
                reference("PricebookEntry", i),
                json!({
                    "Pricebook2Id": "@{StandardPricebook}",
                    "Product2Id": at(&reference("Product2", i)),
                    "UnitPrice": number(price),
                    "IsActive": true,
                }),
            ),
        );
    }

    let won_count =
        ((spec.opportunities as f64) * spec.closed_won_fraction.clamp(0.0, 1.0)).round() as usize;
    let mut won: Vec<bool> = (0..spec.opportunities).map(|i| i < won_count).collect();
    won.shuffle(&mut rng);
    for (i, is_won) in won.iter().enumerate() {
        if spec.accounts == 0 {
            break;
        }
        let account = rng.gen_range(0..spec.accounts);
        let stage = if *is_won {
            "Closed Won"
        } else {
            OPEN_STAGES[rng.gen_range(0..OPEN_STAGES.len())]
        };
        let close = anchor + Duration::days(rng.gen_range(0..365));
        let mut fields = json!({
            "Name": format!("{} - Deal {}", account_names[account], i + 1),
            "AccountId": at(&reference("Account", account)),
            "StageName": stage,
            "CloseDate": close.format("%Y-%m-%d").to_string(),
            "Pricebook2Id": "@{StandardPricebook}",
        });
        let lines = if spec.products == 0 {
            0
        } else {
            spec.lines_per_opportunity
        };
        if lines == 0 {
            fields["Amount"] = number(money(&mut rng, 10_000, 5_000_000));
        }
        push(
            "Opportunity",
            record("Opportunity", reference("Opportunity", i), fields),
        );
        let mut products: Vec<usize> = (0..spec.products).collect();
        products.shuffle(&mut rng);
        for l in 0..lines {
            let p = products[l % products.len().max(1)];
            let quantity = Decimal::from(rng.gen_range(1..=20));
            push(
                "OpportunityLineItem",
                record(
                    "OpportunityLineItem",
                    format!("OpportunityLineItem-{}-{}", i + 1, l + 1),
                    json!({
                        "OpportunityId": at(&reference("Opportunity", i)),
                        "PricebookEntryId": at(&reference("PricebookEntry", p)),
                        "Quantity": number(quantity),
                        "UnitPrice": number(prices[p]),
                        "SortOrder": l + 1,
                    }),
                ),
            );
        }
    }

    for i in 0..spec.orders {
        if spec.accounts == 0 || spec.products == 0 {
            break;
        }
        let account = rng.gen_range(0..spec.accounts);
        let activated = rng.gen_bool(0.7);
        let effective = anchor + Duration::days(rng.gen_range(0..365));
        let fields = json!({
            "AccountId": at(&reference("Account", account)),
            "EffectiveDate": effective.format("%Y-%m-%d").to_string(),
            "Status": if activated { "Activated" } else { "Draft" },
            "Pricebook2Id": "@{StandardPricebook}",
            "Department__c": DEPARTMENTS[rng.gen_range(0..DEPARTMENTS.len())],
            "Class__c": CLASSES[rng.gen_range(0..CLASSES.len())],
        });
        push("Order", record("Order", reference("Order", i), fields));
        for k in 0..rng.gen_range(1..=3) {
            let p = rng.gen_range(0..spec.products);
            push(
                "OrderItem",
                record(
                    "OrderItem",
                    format!("OrderItem-{}-{}", i + 1, k + 1),
                    json!({
                        "OrderId": at(&reference("Order", i)),
                        "PricebookEntryId": at(&reference("PricebookEntry", p)),
                        "Quantity": number(Decimal::from(rng.gen_range(1..=10))),
                        "UnitPrice": number(prices[p]),
                    }),
                ),
            );
        }
    }
    SeedData { records }
}

fn resolve(v: &Value, ids: &BTreeMap<String, String>) -> anyhow::Result<Value> {
    Ok(match v {
        Value::String(s) => match s.strip_prefix("@{").and_then(|r| r.strip_suffix('}')) {
            Some(r) => Value::String(
                ids.get(r)
                    .cloned()
                    .ok_or_else(|| anyhow::anyhow!("unknown seed reference {r}"))?,
            ),
            None => v.clone(),
        },
        other => other.clone(),
    })
}

impl SeedData {
    /// Number of records of `sobject`.
    pub fn count(&self, sobject: &str) -> usize {
        self.records.get(sobject).map_or(0, Vec::len)
    }

    /// Inserts everything into `sf` (as UI-made data: change events with an empty origin) and
    /// activates the orders generated as `Activated`. Returns referenceId → record id.
    pub fn load_into(&self, sf: &SalesforceEmulator) -> anyhow::Result<BTreeMap<String, String>> {
        let mut ids = BTreeMap::new();
        ids.insert("StandardPricebook".to_string(), sf.standard_pricebook_id());
        let mut to_activate = Vec::new();
        for sobject in LOAD_ORDER {
            for rec in self.records.get(sobject).into_iter().flatten() {
                let reference = rec["attributes"]["referenceId"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                let mut fields = Map::new();
                for (k, v) in rec.as_object().into_iter().flatten() {
                    if k != "attributes" {
                        fields.insert(k.clone(), resolve(v, &ids)?);
                    }
                }
                let activate = sobject == "Order"
                    && fields.get("Status").and_then(Value::as_str) == Some("Activated");
                if activate {
                    fields.insert("Status".into(), json!("Draft"));
                }
                let id = sf.insert(sobject, Value::Object(fields))?;
                if activate {
                    to_activate.push(id.clone());
                }
                ids.insert(reference, id);
            }
        }
        for id in to_activate {
            sf.update("Order", &id, json!({"Status": "Activated"}))?;
        }
        Ok(ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data_and_counts_follow_the_spec() {
        let spec = SeedSpec {
            accounts: 5,
            products: 4,
            opportunities: 10,
            closed_won_fraction: 0.3,
            lines_per_opportunity: 2,
            orders: 3,
            seed: 9,
        };
        let a = generate(&spec);
        assert_eq!(a, generate(&spec));
        assert_ne!(
            a,
            generate(&SeedSpec {
                seed: 10,
                ..spec.clone()
            })
        );
        assert_eq!(a.count("Account"), 5);
        assert_eq!(a.count("PricebookEntry"), 4);
        assert_eq!(a.count("OpportunityLineItem"), 20);
        let won = a.records["Opportunity"]
            .iter()
            .filter(|o| o["StageName"] == "Closed Won")
            .count();
        assert_eq!(won, 3);
        for pbe in &a.records["PricebookEntry"] {
            let text = pbe["UnitPrice"].to_string();
            let decimals = text.split('.').nth(1).map_or(0, str::len);
            assert!(decimals <= 2, "{text}");
        }
    }
}
