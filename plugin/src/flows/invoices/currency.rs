//! A deal in a foreign currency: whether Salesforce has currencies at all, the exchange rate of
//! the deal's date, and the Account's QBO customer in that currency (QBO fixes a customer's
//! currency when it is created, so an Account that buys in two currencies has two customers).

use crate::clients::json::{decimal, text};
use crate::clients::quickbooks::literal;
use crate::clients::salesforce::soql_literal;
use crate::flows::context::{Abort, Ctx};
use crate::flows::ids::write_request_id;
use crate::flows::invoice_settings::RateSource;
use crate::flows::links;
use crate::flows::report::Failure;
use crate::flows::state::LINKS;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Decimal places an exchange rate is rounded to (half away from zero).
pub const RATE_DECIMALS: u32 = 6;

/// What was found out about the org's currencies, remembered for a day.
#[derive(Serialize, Deserialize)]
struct OrgCurrencies {
    checked: NaiveDate,
    multicurrency: bool,
}

/// True when the org has `CurrencyIsoCode` on Opportunity: the `salesforce-multicurrency`
/// setting when given, else found out by describing Opportunity, once a day.
pub fn salesforce_multicurrency(ctx: &mut Ctx<'_>) -> Result<bool, Abort> {
    if let Some(given) = ctx.settings.salesforce_multicurrency {
        return Ok(given);
    }
    let today = ctx.today();
    if let Some(known) = ctx.state.get::<OrgCurrencies>(LINKS, "org/currencies")? {
        if known.checked == today {
            return Ok(known.multicurrency);
        }
    }
    let multicurrency = ctx
        .sf
        .describe_fields("Opportunity")?
        .iter()
        .any(|f| f == "CurrencyIsoCode");
    // A dry run (a plan, the audit) writes nothing, not even what it found out.
    if !ctx.dry_run() {
        ctx.state.put(
            LINKS,
            "org/currencies",
            &OrgCurrencies {
                checked: today,
                multicurrency,
            },
        )?;
    }
    Ok(multicurrency)
}

/// Home-currency units per unit of `currency` on `date`, rounded to [`RATE_DECIMALS`]; rates
/// already found in this run are reused.
pub fn exchange_rate(
    ctx: &mut Ctx<'_>,
    cache: &mut BTreeMap<(String, NaiveDate), Decimal>,
    currency: &str,
    date: NaiveDate,
) -> Result<Result<Decimal, String>, Abort> {
    if let Some(rate) = cache.get(&(currency.to_string(), date)) {
        return Ok(Ok(*rate));
    }
    let home = ctx.settings.invoice.home_currency.to_uppercase();
    let rate = match ctx.settings.exchange_rate_source {
        RateSource::Quickbooks => ctx.qbo.exchange_rate(currency, date)?,
        RateSource::Salesforce => salesforce_rate(ctx, currency, &home, date)?,
    };
    let Some(rate) = rate
        .filter(|r| *r > Decimal::ZERO)
        .map(|r| r.round_dp_with_strategy(RATE_DECIMALS, RoundingStrategy::MidpointAwayFromZero))
    else {
        return Ok(Err(format!(
            "no {currency} to {home} exchange rate for {date} in {}",
            match ctx.settings.exchange_rate_source {
                RateSource::Quickbooks => "QuickBooks",
                RateSource::Salesforce => "Salesforce",
            }
        )));
    };
    cache.insert((currency.to_string(), date), rate);
    Ok(Ok(rate))
}

/// Salesforce rates are units of a currency per unit of the corporate currency, so home per
/// foreign is `rate(home) / rate(foreign)`: dated rates valid on `date` first, else the
/// `CurrencyType` rates.
fn salesforce_rate(
    ctx: &mut Ctx<'_>,
    currency: &str,
    home: &str,
    date: NaiveDate,
) -> Result<Option<Decimal>, Abort> {
    let codes = format!("({}, {})", soql_literal(currency), soql_literal(home));
    let mut rates: BTreeMap<String, Decimal> = BTreeMap::new();
    let dated = ctx.sf.query(&format!(
        "SELECT IsoCode, ConversionRate FROM DatedConversionRate WHERE IsoCode IN {codes} \
         AND StartDate <= {date} AND NextStartDate > {date}"
    ));
    // An org without advanced currency management has no dated rates to read.
    for row in dated.unwrap_or_default() {
        if let (Some(code), Some(rate)) = (
            text(&row, "IsoCode"),
            row.get("ConversionRate").and_then(decimal),
        ) {
            rates.insert(code.to_uppercase(), rate);
        }
    }
    if rates.len() < 2 {
        for row in ctx.sf.query(&format!(
            "SELECT IsoCode, ConversionRate FROM CurrencyType WHERE IsoCode IN {codes}"
        ))? {
            if let (Some(code), Some(rate)) = (
                text(&row, "IsoCode"),
                row.get("ConversionRate").and_then(decimal),
            ) {
                rates.entry(code.to_uppercase()).or_insert(rate);
            }
        }
    }
    let (Some(home_rate), Some(foreign_rate)) = (rates.get(home), rates.get(currency)) else {
        return Ok(None);
    };
    Ok(home_rate.checked_div(*foreign_rate))
}

/// The longest QBO `DisplayName`.
const DISPLAY_NAME_MAX: usize = 100;

/// The QBO customer of the Account whose home-currency customer is `main_id`, in `currency`:
/// the main customer when it is in that currency, else the one linked before, else the customer
/// named `<main name> (<currency>)`, else that customer created as a copy of the main one in
/// `currency`. `Err` is why it cannot be (reported by the caller as this deal's failure).
pub fn customer_in_currency(
    ctx: &mut Ctx<'_>,
    account_id: &str,
    main_id: &str,
    currency: &str,
) -> Result<Result<String, Failure>, Abort> {
    let key = format!("customer-currency/{account_id}/{currency}");
    if let Some(id) = ctx.state.get::<String>(LINKS, &key)? {
        return Ok(Ok(id));
    }
    let link = |ctx: &mut Ctx<'_>, id: &str| -> Result<(), Abort> {
        if !ctx.dry_run() {
            // The reverse key first: the inbound flow must never take this customer for a new
            // Account, even after a crash between the two writes.
            links::store_currency_customer(ctx, id, account_id)?;
            ctx.state.put(LINKS, &key, &id.to_string())?;
        }
        Ok(())
    };
    let Some(main) = ctx.qbo.read("Customer", main_id)? else {
        return Ok(Err(Failure::Invalid(format!(
            "customer {main_id} is no longer in QBO"
        ))));
    };
    let currency_of = |c: &Value| {
        c.get("CurrencyRef")
            .and_then(|r| text(r, "value"))
            .map(|v| v.to_uppercase())
    };
    let home = ctx.settings.invoice.home_currency.to_uppercase();
    if currency_of(&main).unwrap_or(home) == currency {
        if !ctx.dry_run() {
            ctx.state.put(LINKS, &key, &main_id.to_string())?;
        }
        return Ok(Ok(main_id.to_string()));
    }
    let base = text(&main, "DisplayName").unwrap_or_else(|| account_id.to_string());
    let suffix = format!(" ({currency})");
    let room = DISPLAY_NAME_MAX.saturating_sub(suffix.chars().count());
    let name: String = base.chars().take(room).collect::<String>() + &suffix;
    let found = ctx.qbo.query(&format!(
        "select * from Customer where DisplayName = {} and Active in (true, false)",
        literal(&name)
    ))?;
    let id = match found.first() {
        Some(c) if currency_of(c).as_deref() == Some(currency) => text(c, "Id"),
        Some(_) => {
            return Ok(Err(Failure::Invalid(format!(
                "QBO customer {name:?} exists in another currency; rename it or link the Account \
                 by hand"
            ))))
        }
        None if ctx.dry_run() => Some("(new)".to_string()),
        None => {
            let body = currency_copy(&main, &name, currency);
            let request_id = write_request_id("custcur", &[account_id, currency]);
            match ctx.qbo.create("Customer", &body, &request_id) {
                Ok(created) => text(&created, "Id"),
                // A failed create is this deal's failure (retried by the ledger), not the run's.
                Err(e) => return Ok(Err(Failure::Api(e))),
            }
        }
    };
    let Some(id) = id else {
        return Ok(Err(Failure::Invalid(format!(
            "QBO answered no Id for customer {name:?}"
        ))));
    };
    link(ctx, &id)?;
    Ok(Ok(id))
}

/// The main customer's name and contact fields under a new `DisplayName`, in `currency`.
fn currency_copy(main: &Value, name: &str, currency: &str) -> Value {
    // Not `AcctNum`: it names the Account of the main customer, which is what matches an Account
    // to its customer.
    const COPIED: [&str; 8] = [
        "CompanyName",
        "BillAddr",
        "ShipAddr",
        "PrimaryEmailAddr",
        "PrimaryPhone",
        "WebAddr",
        "Taxable",
        "SalesTermRef",
    ];
    let mut body = Map::new();
    for field in COPIED {
        if let Some(v) = main.get(field) {
            let mut v = v.clone();
            if let Some(obj) = v.as_object_mut() {
                obj.remove("Id");
            }
            body.insert(field.into(), v);
        }
    }
    body.insert("DisplayName".into(), Value::from(name));
    body.insert(
        "CurrencyRef".into(),
        serde_json::json!({ "value": currency }),
    );
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_currency_copy_keeps_contact_fields_and_drops_ids_and_balances() {
        let main = json!({"Id": "58", "SyncToken": "3", "DisplayName": "Acme", "Balance": 10,
            "BillAddr": {"Id": "9", "City": "Berlin"}, "PrimaryEmailAddr": {"Address": "ap@acme.example"},
            "CurrencyRef": {"value": "USD"}, "AcctNum": "001A"});
        let copy = currency_copy(&main, "Acme (EUR)", "EUR");
        assert_eq!(copy["DisplayName"], "Acme (EUR)");
        assert_eq!(copy["CurrencyRef"]["value"], "EUR");
        assert_eq!(copy["BillAddr"], json!({"City": "Berlin"}));
        for gone in ["Id", "SyncToken", "Balance", "AcctNum"] {
            assert!(copy.get(gone).is_none(), "{gone}");
        }
    }

    #[test]
    fn rate_sources_are_named() {
        assert_eq!(
            RateSource::parse("salesforce"),
            Some(RateSource::Salesforce)
        );
        assert_eq!(
            RateSource::parse(" quickbooks "),
            Some(RateSource::Quickbooks)
        );
        assert_eq!(RateSource::parse("ecb"), None);
    }
}
