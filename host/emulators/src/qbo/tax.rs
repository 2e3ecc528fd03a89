//! Invoice sales tax, currency and custom fields, by the company's profile (`profile.rs`). Used
//! by `transactions::invoice_rules`, so create, update and `/batch` share them.
//!
//! | rule | error |
//! |---|---|
//! | US line `TaxCodeRef` is `TAX` or `NON` (absent = `NON`) | 6100 "Invalid Line TaxCode in the request" (IPP error code list) |
//! | US tax: Σ TAX lines × the ship-to state's rate (invoice ShipAddr, else the customer's ShipAddr, BillAddr, else the company address); none for a customer with `Taxable: false` | computed |
//! | US `TxnTaxDetail.TxnTaxCodeRef`: that code's rates instead; only `TotalTax` sent: honoured | computed |
//! | non-US: every sales line names a TaxCode | 6000 "... have a VAT rate before you save." |
//! | non-US `GlobalTaxCalculation` `TaxExcluded` (default), `TaxInclusive`, `NotApplicable` | 2170 otherwise |
//! | multicurrency off: CurrencyRef is the home currency | 6000 (approximation) |
//! | multicurrency on: a customer's currency never changes; an invoice's is its customer's | 6000 (approximation) |
//! | multicurrency on: `ExchangeRate` as sent, else the profile's; `HomeTotalAmt`, `HomeBalance` | computed |
//! | `CustomField`: enabled definitions kept with their names, others dropped; value ≤ 31 chars | 2050 |
//!
//! Tax rounding: each `TaxLine` is rounded on its own, half away from zero, to the currency's
//! minor unit (`profile::round_tax`): 7.25 % of 10.10 is 0.73225 → 0.73; of 10.30 0.74675 → 0.75.
//!
//! `TaxInclusive` (Intuit's Invoice reference: `SalesItemLineDetail.TaxInclusiveAmt`, "the total
//! amount of the line item including tax", locales GB, AU, CA, IN): the gross of a line is its
//! `TaxInclusiveAmt`, else the `Amount` sent. Per tax code the tax is gross × R / (100 + R),
//! rounded; the lines' `Amount` become the net (the last line of a code takes the rounding
//! remainder), `TaxInclusiveAmt` the gross, and `TotalAmt` is the gross total. How QBO spreads a
//! rounding cent over lines is not documented: emulator approximation.

use super::errors::QboError;
use super::fields::{decimal_field, flag, id_text, ref_id, text};
use super::money;
use super::profile::{currency_ref, round_tax};
use super::store::Company;
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Longest `StringValue` of a custom field. QBO's sales-form custom fields hold 31 characters;
/// refusing a longer value (rather than cutting it) is an emulator approximation.
pub(crate) const CUSTOM_FIELD_MAX: usize = 31;

const HUNDRED: Decimal = Decimal::ONE_HUNDRED;

/// 6000 for a currency the company cannot use. Emulator approximation: QBO answers a business
/// validation error here; its exact wording was not found.
fn currency_refused(detail: String) -> QboError {
    QboError::business(detail).element("CurrencyRef")
}

/// Customer and Vendor `CurrencyRef`: the home currency by default; another one only with
/// multicurrency on and a rate for it; a customer's currency cannot change once created.
pub(crate) fn party_currency(
    entity: &str,
    obj: &mut Map<String, Value>,
    company: &Company,
    prior: Option<&Map<String, Value>>,
) -> Result<(), QboError> {
    let profile = &company.profile;
    let home = profile.home_currency.to_ascii_uppercase();
    let prior_code = prior
        .and_then(|p| ref_id(p, "CurrencyRef"))
        .map(|c| c.to_ascii_uppercase());
    let code = ref_id(obj, "CurrencyRef")
        .map(|c| c.to_ascii_uppercase())
        .or_else(|| prior_code.clone())
        .unwrap_or_else(|| home.clone());
    if !profile.multicurrency && code != home {
        return Err(currency_refused(format!(
            "Multicurrency is not enabled for this company: {code} is not the home currency {home}."
        )));
    }
    if profile.rate_to_home(&code).is_none() {
        return Err(currency_refused(format!(
            "The currency {code} is not in the company's currency list."
        )));
    }
    if entity == "Customer" {
        if let Some(before) = prior_code.filter(|before| *before != code) {
            return Err(currency_refused(format!(
                "You can't change the currency of a customer ({before} to {code}) once it is created."
            )));
        }
    }
    obj.insert("CurrencyRef".into(), currency_ref(&code));
    Ok(())
}

/// The invoice's currency (its `CurrencyRef` normalised): the home currency without
/// multicurrency; otherwise the customer's, which a sent `CurrencyRef` must equal.
pub(crate) fn invoice_currency(
    obj: &mut Map<String, Value>,
    company: &Company,
    customer: &str,
) -> Result<String, QboError> {
    let profile = &company.profile;
    let home = profile.home_currency.to_ascii_uppercase();
    let sent = ref_id(obj, "CurrencyRef").map(|c| c.to_ascii_uppercase());
    let code = if profile.multicurrency {
        let of_customer = company
            .get("Customer", customer)
            .and_then(|c| ref_id(&c.value, "CurrencyRef"))
            .map(|c| c.to_ascii_uppercase())
            .unwrap_or_else(|| home.clone());
        let code = sent.unwrap_or_else(|| of_customer.clone());
        if code != of_customer {
            return Err(currency_refused(format!(
                "The transaction currency ({code}) must be the customer's currency ({of_customer})."
            )));
        }
        code
    } else {
        if let Some(code) = sent.filter(|c| *c != home) {
            return Err(currency_refused(format!(
                "Multicurrency is not enabled for this company: {code} is not the home currency {home}."
            )));
        }
        home
    };
    obj.insert("CurrencyRef".into(), currency_ref(&code));
    Ok(code)
}

/// With multicurrency on: `ExchangeRate` (as sent, else the profile's; 1 for the home currency),
/// `HomeTotalAmt` and `HomeBalance` (amount × rate, to cents). Without it none of them is kept.
pub(crate) fn home_amounts(
    obj: &mut Map<String, Value>,
    company: &Company,
    currency: &str,
    total: Decimal,
    balance: Decimal,
) -> Result<(), QboError> {
    let profile = &company.profile;
    if !profile.multicurrency {
        obj.remove("ExchangeRate");
        return Ok(());
    }
    let rate = if currency.eq_ignore_ascii_case(&profile.home_currency) {
        Decimal::ONE
    } else {
        match decimal_field(obj, "ExchangeRate")?.filter(|r| *r > Decimal::ZERO) {
            Some(rate) => rate,
            None => profile.rate_to_home(currency).ok_or_else(|| {
                currency_refused(format!(
                    "There is no exchange rate for {currency} in this company."
                ))
            })?,
        }
    };
    obj.insert("ExchangeRate".into(), money::to_json(rate.normalize()));
    obj.insert(
        "HomeTotalAmt".into(),
        money::to_json(money::cents(total * rate)),
    );
    obj.insert(
        "HomeBalance".into(),
        money::to_json(money::cents(balance * rate)),
    );
    Ok(())
}

/// `HomeBalance` after payments changed `Balance` (no-op without an `ExchangeRate`).
pub(crate) fn refresh_home_balance(obj: &mut Map<String, Value>, balance: Decimal) {
    if let Some(rate) = obj.get("ExchangeRate").and_then(money::parse) {
        obj.insert(
            "HomeBalance".into(),
            money::to_json(money::cents(balance * rate)),
        );
    }
}

/// The invoice's custom fields: entries naming an enabled definition are kept with the
/// definition's name and `Type: StringType`; others are dropped. Every enabled definition is
/// listed, with a `StringValue` only when one was given.
pub(crate) fn custom_fields(
    obj: &mut Map<String, Value>,
    company: &Company,
) -> Result<(), QboError> {
    let defs = company.profile.custom_field_definitions();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for entry in obj
        .get("CustomField")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
    {
        let Some(id) = entry.get("DefinitionId").and_then(id_text) else {
            continue;
        };
        if !defs.iter().any(|(d, _)| *d == id) {
            continue;
        }
        if let Some(value) = entry.get("StringValue").and_then(Value::as_str) {
            let length = value.chars().count();
            if length > CUSTOM_FIELD_MAX {
                return Err(QboError::validation(
                    "2050",
                    "String length is either shorter or longer than supported by specification",
                    format!("String length specified does not match the supported length. Min:0 Max:{CUSTOM_FIELD_MAX} supported. Supplied length:{length}"),
                )
                .element("CustomField.StringValue"));
            }
            values.insert(id, value.to_string());
        }
    }
    if defs.is_empty() {
        obj.remove("CustomField");
        return Ok(());
    }
    let out: Vec<Value> = defs
        .into_iter()
        .map(|(id, name)| {
            let mut field = json!({"DefinitionId": id, "Name": name, "Type": "StringType"});
            if let Some(value) = values.get(&id) {
                field["StringValue"] = json!(value);
            }
            field
        })
        .collect();
    obj.insert("CustomField".into(), Value::Array(out));
    Ok(())
}

/// `BillEmail`, `BillEmailCc`, `BillEmailBcc` in the EmailAddress shape (`{"Address": ...}`),
/// addresses kept as sent.
pub(crate) fn email_addresses(obj: &mut Map<String, Value>) {
    for key in ["BillEmail", "BillEmailCc", "BillEmailBcc"] {
        if let Some(Value::String(address)) = obj.get(key) {
            let address = address.clone();
            obj.insert(key.into(), json!({"Address": address}));
        }
    }
}

/// `GET /exchangerate?sourcecurrencycode=EUR[&asofdate=YYYY-MM-DD]`: the `ExchangeRate` entity
/// (Intuit's Exchangerate reference: SyncToken, domain, AsOfDate, SourceCurrencyCode, Rate,
/// sparse, TargetCurrencyCode = the home currency, MetaData.LastUpdatedTime). The emulator's
/// rates do not vary by date: `AsOfDate` echoes the date asked for (today by default).
/// Emulator approximation: the refusals (no multicurrency, a currency the company does not have)
/// are 6000 business validation errors; QBO's exact wording was not found.
pub(crate) fn exchange_rate(
    company: &Company,
    source: Option<&str>,
    as_of: Option<&str>,
    today: chrono::NaiveDate,
) -> Result<Value, QboError> {
    let source = source
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| QboError::required("sourcecurrencycode"))?
        .to_ascii_uppercase();
    let date = match as_of.map(str::trim).filter(|d| !d.is_empty()) {
        Some(d) => super::timefmt::parse_date(d)
            .ok_or_else(|| QboError::invalid_property(format!("asofdate ({d})")))?,
        None => today,
    };
    let profile = &company.profile;
    if !profile.multicurrency {
        return Err(QboError::business(
            "Multicurrency is not enabled for this company.",
        ));
    }
    let rate = profile.rate_to_home(&source).ok_or_else(|| {
        QboError::business(format!(
            "The currency code {source} is not valid or not in the company's currency list."
        ))
        .element("sourcecurrencycode")
    })?;
    let updated = company
        .get("ExchangeRate", &source)
        .and_then(|r| r.value.get("MetaData"))
        .and_then(|m| m.get("LastUpdatedTime"))
        .cloned()
        .unwrap_or(Value::Null);
    Ok(json!({
        "SyncToken": "0",
        "domain": "QBO",
        "AsOfDate": date.format("%Y-%m-%d").to_string(),
        "SourceCurrencyCode": source,
        "Rate": money::to_json(rate.normalize()),
        "sparse": false,
        "TargetCurrencyCode": profile.home_currency.to_ascii_uppercase(),
        "MetaData": {"LastUpdatedTime": updated},
    }))
}

/// What the tax left: the sales subtotal (net of tax) and the total tax.
#[derive(Debug, PartialEq)]
pub(crate) struct Taxed {
    /// Σ sales line `Amount` after the tax (net lines for `TaxInclusive`).
    pub subtotal: Decimal,
    /// `TxnTaxDetail.TotalTax`.
    pub tax: Decimal,
}

/// One rate of a tax code: the TaxRate's Id and percent.
#[derive(Clone, Debug)]
struct Rate {
    id: String,
    percent: Decimal,
}

fn is_sales(line: &Value) -> bool {
    line.get("DetailType").and_then(Value::as_str) == Some("SalesItemLineDetail")
}

fn line_amount(line: &Value) -> Decimal {
    line.get("Amount")
        .and_then(money::parse)
        .unwrap_or_default()
}

fn line_code(line: &Value) -> Option<String> {
    line.get("SalesItemLineDetail")
        .and_then(Value::as_object)
        .and_then(|d| ref_id(d, "TaxCodeRef"))
}

fn subtotal(lines: &[Value]) -> Decimal {
    lines
        .iter()
        .filter(|l| {
            matches!(
                l.get("DetailType").and_then(Value::as_str),
                Some("SalesItemLineDetail" | "GroupLineDetail")
            )
        })
        .map(line_amount)
        .sum()
}

/// The sales rates of TaxCode `code` (its `SalesTaxRateList`).
fn code_rates(company: &Company, code: &str) -> Vec<Rate> {
    let Some(record) = company.get("TaxCode", code) else {
        return Vec::new();
    };
    record
        .value
        .get("SalesTaxRateList")
        .and_then(|l| l.get("TaxRateDetail"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.as_object().and_then(|d| ref_id(d, "TaxRateRef")))
        .filter_map(|id| {
            let percent = company
                .get("TaxRate", &id)?
                .value
                .get("RateValue")
                .and_then(money::parse)?;
            Some(Rate { id, percent })
        })
        .collect()
}

fn tax_line(rate: &Rate, amount: Decimal, base: Decimal) -> Value {
    json!({
        "Amount": money::to_json(amount),
        "DetailType": "TaxLineDetail",
        "TaxLineDetail": {
            "TaxRateRef": {"value": rate.id},
            "PercentBased": true,
            "TaxPercent": money::to_json(rate.percent.normalize()),
            "NetAmountTaxable": money::to_json(base),
        }
    })
}

/// Computes the invoice's tax into `TxnTaxDetail` (and, for `TaxInclusive`, the net line
/// amounts into `lines`).
pub(crate) fn apply(
    obj: &mut Map<String, Value>,
    company: &Company,
    customer: &str,
    lines: &mut [Value],
    currency: &str,
) -> Result<Taxed, QboError> {
    if company.profile.is_us() {
        us_tax(obj, company, customer, lines, currency)
    } else {
        global_tax(obj, company, lines, currency)
    }
}

/// The ship-to state: the invoice's ShipAddr, else the customer's ShipAddr, BillAddr, else the
/// company's address.
fn ship_to_state(obj: &Map<String, Value>, company: &Company, customer: &str) -> Option<String> {
    let state = |v: Option<&Value>| {
        v.and_then(Value::as_object)
            .and_then(|a| text(a, "CountrySubDivisionCode"))
    };
    let customer = company.get("Customer", customer).map(|c| &c.value);
    state(obj.get("ShipAddr"))
        .or_else(|| customer.and_then(|c| state(c.get("ShipAddr"))))
        .or_else(|| customer.and_then(|c| state(c.get("BillAddr"))))
        .or_else(|| {
            company
                .get("CompanyInfo", "1")
                .and_then(|i| state(i.value.get("CompanyAddr")))
        })
}

fn us_tax(
    obj: &mut Map<String, Value>,
    company: &Company,
    customer: &str,
    lines: &[Value],
    currency: &str,
) -> Result<Taxed, QboError> {
    let mut base = Decimal::ZERO;
    for line in lines.iter().filter(|l| is_sales(l)) {
        match line_code(line).as_deref() {
            None | Some("NON") => {}
            Some("TAX") => base += line_amount(line),
            Some(other) => {
                return Err(QboError::validation(
                    "6100",
                    "Invalid Line TaxCode in the request",
                    format!(
                        "Valid Line TaxCodes for US should be TAX or NON. Supplied value:{other}"
                    ),
                )
                .element("Line.SalesItemLineDetail.TaxCodeRef"))
            }
        }
    }
    let subtotal = subtotal(lines);
    let mut detail = obj
        .get("TxnTaxDetail")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let explicit = ref_id(&detail, "TxnTaxCodeRef");
    if explicit.is_none() && !detail.contains_key("TaxLine") {
        if let Some(sent) = detail.get("TotalTax") {
            // Only a total was sent: QBO takes it as the tax.
            let tax = money::parse_bounded(sent).ok_or_else(|| {
                QboError::illegal_number("TxnTaxDetail.TotalTax", &sent.to_string())
            })?;
            let tax = money::cents(tax);
            detail.insert("TotalTax".into(), money::to_json(tax));
            obj.insert("TxnTaxDetail".into(), Value::Object(detail));
            return Ok(Taxed { subtotal, tax });
        }
    }
    let (code, rates) = match explicit {
        Some(code) => {
            let rates = code_rates(company, &code);
            if rates.is_empty() && code != "NON" && code != "TAX" {
                return Err(QboError::invalid_reference(format!(
                    "TaxCode (Id={code}) does not exist or has no sales rate"
                ))
                .element("TxnTaxDetail.TxnTaxCodeRef"));
            }
            (Some(code), rates)
        }
        None => {
            let state = ship_to_state(obj, company, customer).unwrap_or_default();
            let percent = company.profile.state_rate(&state);
            // The state's seeded TaxCode / TaxRate carry its name.
            let code = company
                .list("TaxCode")
                .find(|(_, r)| r.str("Name") == Some(state.to_ascii_uppercase().as_str()))
                .map(|(id, _)| id.clone());
            let rates = match &code {
                Some(code) if !percent.is_zero() => code_rates(company, code),
                _ => Vec::new(),
            };
            (code, rates)
        }
    };
    let taxable = company
        .get("Customer", customer)
        .and_then(|c| flag(&c.value, "Taxable"))
        .unwrap_or(true);
    let mut out = Map::new();
    let mut total = Decimal::ZERO;
    if taxable && !base.is_zero() && !rates.is_empty() {
        let base = money::cents(base);
        let mut tax_lines = Vec::new();
        for rate in &rates {
            let amount = round_tax(base * rate.percent / HUNDRED, currency);
            total += amount;
            tax_lines.push(tax_line(rate, amount, base));
        }
        if let Some(code) = code {
            out.insert("TxnTaxCodeRef".into(), json!({"value": code}));
        }
        out.insert("TotalTax".into(), money::to_json(total));
        out.insert("TaxLine".into(), Value::Array(tax_lines));
    } else {
        out.insert("TotalTax".into(), json!(0));
    }
    obj.insert("TxnTaxDetail".into(), Value::Object(out));
    Ok(Taxed {
        subtotal,
        tax: total,
    })
}

fn global_tax(
    obj: &mut Map<String, Value>,
    company: &Company,
    lines: &mut [Value],
    currency: &str,
) -> Result<Taxed, QboError> {
    let mode = text(obj, "GlobalTaxCalculation").unwrap_or_else(|| "TaxExcluded".into());
    if !["TaxExcluded", "TaxInclusive", "NotApplicable"].contains(&mode.as_str()) {
        return Err(QboError::invalid_enum("GlobalTaxCalculation", &mode));
    }
    obj.insert("GlobalTaxCalculation".into(), json!(mode));
    if mode == "NotApplicable" {
        obj.insert("TxnTaxDetail".into(), json!({"TotalTax": 0}));
        return Ok(Taxed {
            subtotal: subtotal(lines),
            tax: Decimal::ZERO,
        });
    }
    // Lines by tax code, in order.
    let mut by_code: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate().filter(|(_, l)| is_sales(l)) {
        let code = line_code(line)
            .ok_or_else(|| QboError::business(company.profile.missing_tax_rate_detail()))?;
        by_code.entry(code).or_default().push(i);
    }
    // Per TaxRate Id: (rate, tax, taxable base).
    let mut per_rate: BTreeMap<String, (Rate, Decimal, Decimal)> = BTreeMap::new();
    let mut add = |rate: &Rate, tax: Decimal, base: Decimal| {
        let entry = per_rate
            .entry(rate.id.clone())
            .or_insert_with(|| (rate.clone(), Decimal::ZERO, Decimal::ZERO));
        entry.1 += tax;
        entry.2 += base;
    };
    for (code, indices) in &by_code {
        let rates = code_rates(company, code);
        if mode == "TaxExcluded" {
            let base: Decimal = indices.iter().map(|&i| line_amount(&lines[i])).sum();
            for rate in &rates {
                add(rate, Decimal::ZERO, base);
            }
            continue;
        }
        // TaxInclusive: the gross of each line, then net lines and the code's tax.
        let percent: Decimal = rates.iter().map(|r| r.percent).sum();
        let gross: Vec<Decimal> = indices
            .iter()
            .map(|&i| {
                lines[i]
                    .get("SalesItemLineDetail")
                    .and_then(|d| d.get("TaxInclusiveAmt"))
                    .and_then(money::parse_bounded)
                    .map(money::cents)
                    .unwrap_or_else(|| line_amount(&lines[i]))
            })
            .collect();
        let gross_total: Decimal = gross.iter().sum();
        let tax_total = round_tax(gross_total * percent / (HUNDRED + percent), currency);
        let net_total = gross_total - tax_total;
        let mut net_left = net_total;
        for (n, (&i, g)) in indices.iter().zip(&gross).enumerate() {
            let net = if n + 1 == indices.len() {
                net_left
            } else {
                money::cents(*g * HUNDRED / (HUNDRED + percent))
            };
            net_left -= net;
            set_inclusive_line(&mut lines[i], net, *g);
        }
        let mut tax_left = tax_total;
        for (n, rate) in rates.iter().enumerate() {
            let tax = if n + 1 == rates.len() {
                tax_left
            } else {
                round_tax(net_total * rate.percent / HUNDRED, currency)
            };
            tax_left -= tax;
            add(rate, tax, net_total);
        }
    }
    let mut total = Decimal::ZERO;
    let mut tax_lines = Vec::new();
    for (rate, tax, base) in per_rate.values() {
        let tax = if mode == "TaxExcluded" {
            round_tax(*base * rate.percent / HUNDRED, currency)
        } else {
            *tax
        };
        total += tax;
        tax_lines.push(tax_line(rate, tax, *base));
    }
    let mut detail = Map::new();
    detail.insert("TotalTax".into(), money::to_json(total));
    if !tax_lines.is_empty() {
        detail.insert("TaxLine".into(), Value::Array(tax_lines));
    }
    obj.insert("TxnTaxDetail".into(), Value::Object(detail));
    Ok(Taxed {
        subtotal: subtotal(lines),
        tax: total,
    })
}

/// A TaxInclusive line: `Amount` net, `TaxInclusiveAmt` gross, `UnitPrice` the net per unit.
fn set_inclusive_line(line: &mut Value, net: Decimal, gross: Decimal) {
    line["Amount"] = money::to_json(net);
    if let Some(detail) = line
        .get_mut("SalesItemLineDetail")
        .and_then(Value::as_object_mut)
    {
        detail.insert("TaxInclusiveAmt".into(), money::to_json(gross));
        let qty = detail
            .get("Qty")
            .and_then(money::parse)
            .filter(|q| !q.is_zero());
        if let (Some(qty), true) = (qty, detail.contains_key("UnitPrice")) {
            detail.insert(
                "UnitPrice".into(),
                money::to_json((net / qty).round_dp(10).normalize()),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::entities::lookup;
    use super::super::operations::Ops;
    use super::super::profile::CompanyProfile;
    use super::super::seed;
    use super::*;

    fn with_company<R>(profile: CompanyProfile, f: impl FnOnce(&mut Ops) -> R) -> R {
        seed::seeded(profile, f).1
    }

    fn create(ops: &mut Ops, entity: &str, body: Value) -> Result<Value, QboError> {
        let def = lookup(entity).unwrap();
        ops.create(def, body.as_object().unwrap().clone(), None)
    }

    fn update(ops: &mut Ops, entity: &str, body: Value) -> Result<Value, QboError> {
        let def = lookup(entity).unwrap();
        ops.update(def, body.as_object().unwrap().clone())
    }

    fn count(ops: &Ops, entity: &str) -> usize {
        ops.company.list(entity).count()
    }

    fn dec(text: &str) -> Decimal {
        text.parse().unwrap()
    }

    fn amount(v: &Value) -> Decimal {
        money::parse(v).unwrap_or_else(|| panic!("not an amount: {v}"))
    }

    fn customer(ops: &mut Ops, body: Value) -> String {
        create(ops, "Customer", body).unwrap()["Id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    fn line(amount: &str, code: &str) -> Value {
        json!({"Amount": amount, "DetailType": "SalesItemLineDetail",
               "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": code}}})
    }

    fn assert_fault(result: Result<Value, QboError>, code: &str, detail: &str) {
        let e = result.expect_err("the write should be refused");
        assert_eq!(e.errors[0].code, code, "{e:?}");
        assert!(e.errors[0].detail.contains(detail), "{e:?}");
    }

    fn multicurrency() -> CompanyProfile {
        CompanyProfile {
            multicurrency: true,
            ..CompanyProfile::us()
        }
    }

    #[test]
    fn us_tax_is_the_ship_to_state_rate_on_tax_lines_rounded_per_line() {
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(
                ops,
                json!({"DisplayName": "A", "Taxable": true,
                                         "ShipAddr": {"CountrySubDivisionCode": "CA"}}),
            );
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "Line": [line("10.10", "TAX"), line("5", "NON")]}),
            )
            .unwrap();
            let tax = &inv["TxnTaxDetail"];
            assert_eq!(amount(&tax["TotalTax"]), dec("0.73"));
            let detail = &tax["TaxLine"][0];
            assert_eq!(detail["DetailType"], "TaxLineDetail");
            assert_eq!(amount(&detail["Amount"]), dec("0.73"));
            assert_eq!(detail["TaxLineDetail"]["PercentBased"], true);
            assert_eq!(amount(&detail["TaxLineDetail"]["TaxPercent"]), dec("7.25"));
            assert_eq!(
                amount(&detail["TaxLineDetail"]["NetAmountTaxable"]),
                dec("10.10")
            );
            assert!(detail["TaxLineDetail"]["TaxRateRef"]["value"].is_string());
            assert!(tax["TxnTaxCodeRef"]["value"].is_string());
            assert_eq!(amount(&inv["TotalAmt"]), dec("15.83"));
            assert_eq!(amount(&inv["Balance"]), dec("15.83"));

            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "Line": [line("10.30", "TAX")]}),
            )
            .unwrap();
            assert_eq!(amount(&inv["TxnTaxDetail"]["TotalTax"]), dec("0.75"));
            assert_eq!(amount(&inv["TotalAmt"]), dec("11.05"));
        });
    }

    #[test]
    fn us_ship_to_state_falls_back_from_invoice_to_customer_to_company() {
        with_company(CompanyProfile::us(), |ops| {
            let texan = customer(
                ops,
                json!({"DisplayName": "T", "Taxable": true,
                                             "BillAddr": {"CountrySubDivisionCode": "TX"}}),
            );
            let plain = customer(ops, json!({"DisplayName": "P", "Taxable": true}));
            let tax = |ops: &mut Ops, body: Value| {
                amount(&create(ops, "Invoice", body).unwrap()["TxnTaxDetail"]["TotalTax"])
            };
            // Invoice ShipAddr NY (4 %) beats the customer's TX.
            let t = tax(
                ops,
                json!({"CustomerRef": {"value": texan}, "ShipAddr": {"CountrySubDivisionCode": "NY"},
                                    "Line": [line("100", "TAX")]}),
            );
            assert_eq!(t, dec("4.00"));
            // Customer BillAddr TX (6.25 %).
            let t = tax(
                ops,
                json!({"CustomerRef": {"value": texan}, "Line": [line("100", "TAX")]}),
            );
            assert_eq!(t, dec("6.25"));
            // The company's address, CA (7.25 %).
            let t = tax(
                ops,
                json!({"CustomerRef": {"value": plain}, "Line": [line("100", "TAX")]}),
            );
            assert_eq!(t, dec("7.25"));
            // An explicit TxnTaxCodeRef: that code's rate (WA, 6.5 %).
            let wa = ops
                .company
                .list("TaxCode")
                .find(|(_, r)| r.str("Name") == Some("WA"))
                .map(|(id, _)| id.clone())
                .unwrap();
            let t = tax(
                ops,
                json!({"CustomerRef": {"value": plain}, "Line": [line("100", "TAX")],
                                    "TxnTaxDetail": {"TxnTaxCodeRef": {"value": wa}}}),
            );
            assert_eq!(t, dec("6.50"));
        });
    }

    #[test]
    fn us_non_taxable_customer_and_non_lines_pay_no_tax() {
        with_company(CompanyProfile::us(), |ops| {
            let exempt = customer(ops, json!({"DisplayName": "E", "Taxable": false}));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": exempt},
                "Line": [line("100", "TAX")]}),
            )
            .unwrap();
            assert_eq!(inv["TxnTaxDetail"], json!({"TotalTax": 0}));
            assert_eq!(amount(&inv["TotalAmt"]), dec("100"));
            // Only NON lines: no tax, the same TotalAmt as before the tax rules.
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": exempt},
                "Line": [line("50", "NON"), {"Amount": 25, "DetailType": "SalesItemLineDetail",
                          "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}),
            )
            .unwrap();
            assert_eq!(inv["TxnTaxDetail"], json!({"TotalTax": 0}));
            assert_eq!(amount(&inv["TotalAmt"]), dec("75"));
        });
    }

    #[test]
    fn us_total_tax_alone_is_honoured() {
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A", "Taxable": true}));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "Line": [line("50", "NON")], "TxnTaxDetail": {"TotalTax": 1.10}}),
            )
            .unwrap();
            assert_eq!(amount(&inv["TxnTaxDetail"]["TotalTax"]), dec("1.10"));
            assert_eq!(amount(&inv["TotalAmt"]), dec("51.10"));
        });
    }

    #[test]
    fn us_line_tax_code_must_be_tax_or_non() {
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let before = count(ops, "Invoice");
            let r = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("5", "2")]}),
            );
            let e = r.clone().unwrap_err();
            assert_eq!(e.errors[0].message, "Invalid Line TaxCode in the request");
            assert_fault(
                r,
                "6100",
                "Valid Line TaxCodes for US should be TAX or NON. Supplied value:2",
            );
            assert_eq!(count(ops, "Invoice"), before);
        });
    }

    #[test]
    fn uk_lines_need_a_tax_code_and_tax_and_non_do_not_exist() {
        with_company(CompanyProfile::uk(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let r = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail",
                          "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}),
            );
            let e = r.clone().unwrap_err();
            assert_eq!(
                e.errors[0].message,
                "A business validation error has occurred while processing your request"
            );
            assert_fault(
                r,
                "6000",
                "Business Validation Error: Make sure all your transactions have a VAT rate before you save.",
            );
            assert_fault(
                create(
                    ops,
                    "Invoice",
                    json!({"CustomerRef": {"value": c}, "Line": [line("10", "TAX")]}),
                ),
                "2500",
                "TaxCode",
            );
            assert_eq!(count(ops, "Invoice"), 0);
            assert!(ops.company.get("TaxCode", "TAX").is_none());
        });
    }

    fn uk_code(ops: &Ops, name: &str) -> String {
        ops.company
            .list("TaxCode")
            .find(|(_, r)| r.str("Name") == Some(name))
            .map(|(id, _)| id.clone())
            .unwrap()
    }

    #[test]
    fn uk_tax_excluded_adds_base_times_rate_per_rate() {
        with_company(CompanyProfile::uk(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let (s, r, z) = (
                uk_code(ops, "20.0% S"),
                uk_code(ops, "5.0% R"),
                uk_code(ops, "0.0% Z"),
            );
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "Line": [line("100", &s), line("50.10", &r), line("7", &z)]}),
            )
            .unwrap();
            assert_eq!(inv["GlobalTaxCalculation"], "TaxExcluded");
            assert_eq!(inv["CurrencyRef"]["value"], "GBP");
            // 20 % of 100 = 20; 5 % of 50.10 = 2.505 → 2.51; 0 % of 7 = 0.
            assert_eq!(amount(&inv["TxnTaxDetail"]["TotalTax"]), dec("22.51"));
            assert_eq!(inv["TxnTaxDetail"]["TaxLine"].as_array().unwrap().len(), 3);
            assert_eq!(amount(&inv["TotalAmt"]), dec("179.61"));
        });
    }

    #[test]
    fn uk_tax_inclusive_lines_are_net_and_total_is_gross() {
        with_company(CompanyProfile::uk(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let s = uk_code(ops, "20.0% S");
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "GlobalTaxCalculation": "TaxInclusive",
                "Line": [line("120", &s), {"Amount": 100, "DetailType": "SalesItemLineDetail",
                    "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "TaxCodeRef": {"value": s},
                                            "TaxInclusiveAmt": 10.01}}]}),
            )
            .unwrap();
            let lines = inv["Line"].as_array().unwrap();
            // Gross 130.01 at 20 %: tax 21.668… → 21.67, net 108.34 (100 + 8.34).
            assert_eq!(amount(&lines[0]["Amount"]), dec("100"));
            assert_eq!(
                amount(&lines[0]["SalesItemLineDetail"]["TaxInclusiveAmt"]),
                dec("120")
            );
            assert_eq!(amount(&lines[1]["Amount"]), dec("8.34"));
            assert_eq!(amount(&inv["TxnTaxDetail"]["TotalTax"]), dec("21.67"));
            assert_eq!(amount(&inv["TotalAmt"]), dec("130.01"));
            assert_fault(
                create(
                    ops,
                    "Invoice",
                    json!({"CustomerRef": {"value": c},
                    "GlobalTaxCalculation": "Gross", "Line": [line("1", &s)]}),
                ),
                "2170",
                "Gross",
            );
        });
    }

    #[test]
    fn canada_asks_for_a_gst_hst_rate() {
        with_company(CompanyProfile::canada(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            assert_fault(
                create(
                    ops,
                    "Invoice",
                    json!({"CustomerRef": {"value": c},
                    "Line": [{"Amount": 10, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {}}]}),
                ),
                "6000",
                "Make sure all your transactions have a GST/HST rate before you save.",
            );
            let hst = uk_code(ops, "HST ON");
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("100", &hst)]}),
            )
            .unwrap();
            assert_eq!(amount(&inv["TotalAmt"]), dec("113"));
        });
    }

    #[test]
    fn without_multicurrency_only_the_home_currency_is_accepted() {
        with_company(CompanyProfile::us(), |ops| {
            assert_fault(
                create(
                    ops,
                    "Customer",
                    json!({"DisplayName": "Euro", "CurrencyRef": {"value": "EUR"}}),
                ),
                "6000",
                "Multicurrency is not enabled",
            );
            assert_eq!(count(ops, "Customer"), 0);
            let c = customer(ops, json!({"DisplayName": "A"}));
            assert_fault(
                create(
                    ops,
                    "Invoice",
                    json!({"CustomerRef": {"value": c}, "CurrencyRef": {"value": "EUR"},
                    "Line": [line("5", "NON")]}),
                ),
                "6000",
                "Multicurrency is not enabled",
            );
            assert_eq!(count(ops, "Invoice"), 0);
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("5", "NON")]}),
            )
            .unwrap();
            assert_eq!(
                inv["CurrencyRef"],
                json!({"value": "USD", "name": "United States Dollar"})
            );
            assert!(inv.get("HomeTotalAmt").is_none() && inv.get("ExchangeRate").is_none());
        });
    }

    #[test]
    fn with_multicurrency_invoices_take_the_customers_currency_and_home_amounts() {
        with_company(multicurrency(), |ops| {
            let eur = customer(
                ops,
                json!({"DisplayName": "Euro", "CurrencyRef": {"value": "EUR"}}),
            );
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": eur},
                "Line": [line("100.01", "NON")]}),
            )
            .unwrap();
            assert_eq!(inv["CurrencyRef"]["value"], "EUR");
            assert_eq!(amount(&inv["ExchangeRate"]), dec("1.08"));
            // 100.01 × 1.08 = 108.0108 → 108.01.
            assert_eq!(amount(&inv["HomeTotalAmt"]), dec("108.01"));
            assert_eq!(amount(&inv["HomeBalance"]), dec("108.01"));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": eur}, "ExchangeRate": 1.1,
                "Line": [line("10", "NON")]}),
            )
            .unwrap();
            assert_eq!(amount(&inv["HomeTotalAmt"]), dec("11"));
            let before = count(ops, "Invoice");
            assert_fault(
                create(
                    ops,
                    "Invoice",
                    json!({"CustomerRef": {"value": eur}, "CurrencyRef": {"value": "USD"},
                    "Line": [line("10", "NON")]}),
                ),
                "6000",
                "must be the customer's currency",
            );
            assert_eq!(count(ops, "Invoice"), before);
            let usd = customer(ops, json!({"DisplayName": "Dollar"}));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": usd}, "Line": [line("10", "NON")]}),
            )
            .unwrap();
            assert_eq!(amount(&inv["ExchangeRate"]), dec("1"));
            assert_eq!(amount(&inv["HomeTotalAmt"]), dec("10"));
        });
    }

    #[test]
    fn a_customers_currency_cannot_change() {
        with_company(multicurrency(), |ops| {
            let id = customer(
                ops,
                json!({"DisplayName": "Euro", "CurrencyRef": {"value": "EUR"}}),
            );
            assert_fault(
                update(
                    ops,
                    "Customer",
                    json!({"Id": id, "SyncToken": "0", "sparse": true,
                                               "CurrencyRef": {"value": "GBP"}}),
                ),
                "6000",
                "currency of a customer",
            );
            let stored = ops.company.get("Customer", &id).unwrap();
            assert_eq!(stored.sync_token(), 0);
            assert_eq!(ref_id(&stored.value, "CurrencyRef").as_deref(), Some("EUR"));
            // A full update that leaves CurrencyRef out keeps it.
            let out = update(
                ops,
                "Customer",
                json!({"Id": id, "SyncToken": "0", "DisplayName": "Euro"}),
            )
            .unwrap();
            assert_eq!(out["CurrencyRef"]["value"], "EUR");
        });
    }

    #[test]
    fn exchange_rates_are_answered_for_known_currencies_only() {
        with_company(multicurrency(), |ops| {
            let today = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
            let r = exchange_rate(ops.company, Some("eur"), Some("2025-02-03"), today).unwrap();
            assert_eq!(r["SourceCurrencyCode"], "EUR");
            assert_eq!(r["TargetCurrencyCode"], "USD");
            assert_eq!(amount(&r["Rate"]), dec("1.08"));
            assert_eq!(r["AsOfDate"], "2025-02-03");
            let e = exchange_rate(ops.company, Some("CHF"), None, today).unwrap_err();
            assert_eq!(e.errors[0].code, "6000");
            let e = exchange_rate(ops.company, None, None, today).unwrap_err();
            assert_eq!(e.errors[0].code, "2020");
            assert_eq!(count(ops, "CompanyCurrency"), 3);
        });
        with_company(CompanyProfile::us(), |ops| {
            let today = chrono::NaiveDate::from_ymd_opt(2025, 3, 1).unwrap();
            let e = exchange_rate(ops.company, Some("EUR"), None, today).unwrap_err();
            assert_eq!(e.errors[0].code, "6000");
            assert_eq!(count(ops, "CompanyCurrency"), 0);
        });
    }

    #[test]
    fn custom_fields_keep_enabled_definitions_and_refuse_long_values() {
        let profile = CompanyProfile {
            custom_fields: vec!["P.O. Number".into(), "Sales Rep".into()],
            ..CompanyProfile::us()
        };
        with_company(profile, |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let inv = create(ops, "Invoice", json!({"CustomerRef": {"value": c}, "Line": [line("1", "NON")],
                "CustomField": [{"DefinitionId": "1", "Type": "StringType", "StringValue": "PO-17"},
                                {"DefinitionId": "3", "Type": "StringType", "StringValue": "dropped"}]}))
            .unwrap();
            assert_eq!(
                inv["CustomField"],
                json!([{"DefinitionId": "1", "Name": "P.O. Number", "Type": "StringType", "StringValue": "PO-17"},
                       {"DefinitionId": "2", "Name": "Sales Rep", "Type": "StringType"}])
            );
            let before = count(ops, "Invoice");
            let long = "x".repeat(32);
            let r = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("1", "NON")],
                "CustomField": [{"DefinitionId": "2", "StringValue": long}]}),
            );
            assert_fault(r, "2050", "Max:31 supported. Supplied length:32");
            assert_eq!(count(ops, "Invoice"), before);
            let ok = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("1", "NON")],
                "CustomField": [{"DefinitionId": "2", "StringValue": "x".repeat(31)}]}),
            );
            assert!(ok.is_ok());
        });
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("1", "NON")],
                "CustomField": [{"DefinitionId": "1", "StringValue": "PO-17"}]}),
            )
            .unwrap();
            assert!(inv.get("CustomField").is_none());
        });
    }

    #[test]
    fn send_needs_an_address_then_marks_the_invoice_sent() {
        with_company(CompanyProfile::us(), |ops| {
            let def = lookup("Invoice").unwrap();
            let c = customer(ops, json!({"DisplayName": "A"}));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "Line": [line("1", "NON")],
                "BillEmailCc": {"Address": "cc@example.com"}, "BillEmailBcc": "bcc@example.com"}),
            )
            .unwrap();
            let id = inv["Id"].as_str().unwrap().to_string();
            assert_eq!(inv["BillEmailCc"], json!({"Address": "cc@example.com"}));
            assert_eq!(inv["BillEmailBcc"], json!({"Address": "bcc@example.com"}));
            let e = ops.send(def, &id, None).unwrap_err();
            assert_eq!(e.errors[0].code, "2020");
            let stored = ops.company.get("Invoice", &id).unwrap();
            assert_eq!(stored.str("EmailStatus"), Some("NotSet"));
            assert_eq!(stored.sync_token(), 0);
            let sent = ops.send(def, &id, Some("to@example.com".into())).unwrap();
            assert_eq!(sent["EmailStatus"], "EmailSent");
            assert_eq!(sent["DeliveryInfo"]["DeliveryType"], "Email");
            assert!(sent["DeliveryInfo"]["DeliveryTime"].is_string());
            assert_eq!(sent["BillEmail"]["Address"], "to@example.com");
        });
    }

    #[test]
    fn due_date_is_txn_date_plus_the_terms_days() {
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A"}));
            let inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c}, "TxnDate": "2025-01-15",
                "SalesTermRef": {"value": "3"}, "Line": [line("1", "NON")]}),
            )
            .unwrap();
            assert_eq!(inv["DueDate"], "2025-02-14");
        });
    }

    #[test]
    fn preferences_and_tax_entities_follow_the_profile() {
        let profile = CompanyProfile {
            custom_fields: vec!["Crew #".into()],
            ..CompanyProfile::uk()
        };
        with_company(profile, |ops| {
            let prefs = &ops.company.get("Preferences", "1").unwrap().value;
            let groups = prefs["SalesFormsPrefs"]["CustomField"].as_array().unwrap();
            assert!(groups[0]["CustomField"].as_array().unwrap().iter().any(|f| f
                == &json!({"Name": "SalesFormsPrefs.UseSalesCustom1", "Type": "BooleanType", "BooleanValue": true})));
            assert_eq!(
                groups[1]["CustomField"][0],
                json!({"Name": "SalesFormsPrefs.SalesCustomName1", "Type": "StringType", "StringValue": "Crew #"})
            );
            assert_eq!(prefs["CurrencyPrefs"]["HomeCurrency"]["value"], "GBP");
            let info = &ops.company.get("CompanyInfo", "1").unwrap().value;
            assert_eq!(info["Country"], "GB");
            let standard = uk_code(ops, "20.0% S");
            let code = &ops.company.get("TaxCode", &standard).unwrap().value;
            let rate_id = code["SalesTaxRateList"]["TaxRateDetail"][0]["TaxRateRef"]["value"]
                .as_str()
                .unwrap();
            let rate = &ops.company.get("TaxRate", rate_id).unwrap().value;
            assert_eq!(amount(&rate["RateValue"]), dec("20"));
        });
    }

    #[test]
    fn batch_creates_get_the_same_tax() {
        use super::super::batch::{run, BatchLimits};
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A", "Taxable": true}));
            let limits = BatchLimits {
                max_items: 30,
                has_request_id: false,
                cdc_max_days: 30,
            };
            let items = run(
                ops,
                json!({"BatchItemRequest": [
                    {"bId": "1", "operation": "create", "Invoice": {"CustomerRef": {"value": c},
                        "Line": [line("10.10", "TAX")]}},
                    {"bId": "2", "operation": "create", "Invoice": {"CustomerRef": {"value": c},
                        "Line": [line("1", "2")]}}
                ]}),
                &limits,
            )
            .unwrap();
            assert_eq!(
                amount(&items[0]["Invoice"]["TxnTaxDetail"]["TotalTax"]),
                dec("0.73")
            );
            assert_eq!(amount(&items[0]["Invoice"]["TotalAmt"]), dec("10.83"));
            assert_eq!(items[1]["Fault"]["Error"][0]["code"], "6100");
        });
    }

    #[test]
    fn a_full_update_recomputes_the_tax() {
        with_company(CompanyProfile::us(), |ops| {
            let c = customer(ops, json!({"DisplayName": "A", "Taxable": true}));
            let mut inv = create(
                ops,
                "Invoice",
                json!({"CustomerRef": {"value": c},
                "Line": [line("10.10", "TAX")]}),
            )
            .unwrap();
            // Send back what was read, with a new amount: the echoed TaxLine is recomputed.
            inv["Line"] = json!([line("10.30", "TAX")]);
            let out = update(ops, "Invoice", inv).unwrap();
            assert_eq!(amount(&out["TxnTaxDetail"]["TotalTax"]), dec("0.75"));
            assert_eq!(amount(&out["TotalAmt"]), dec("11.05"));
        });
    }
}
