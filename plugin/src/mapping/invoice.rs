//! `build-invoice`: Closed Won Opportunity + lines + resolved references -> QBO Invoice.
//!
//! **Header.** `TxnDate` = `CloseDate`; `DueDate` = `TxnDate` + the terms' days (none without
//! them); `SalesTermRef`, `DepartmentRef` and `ClassRef` from the settings; `CustomerRef` as
//! resolved; `BillEmail` from the customer email; `PrivateNote` = `Salesforce Opportunity <Id>:
//! <Name>` (4000 characters); the Opportunity Id in the configured custom field (named
//! `Salesforce Opportunity`). `DocNumber` by [`doc_number`]: empty when QBO numbers invoices,
//! else the prefix and as much of the end of the Opportunity Id as fits in QBO's 21 characters
//! (deterministic: the same Opportunity always gets the same number).
//!
//! **Currency.** The Opportunity's `CurrencyIsoCode`, else the home currency. `CurrencyRef` is
//! set only in a multicurrency company, and then always. A currency other than the home currency
//! without multicurrency is refused: QBO would book it as home-currency money.
//!
//! **Lines**, one `SalesItemLineDetail` per Opportunity line, by [`invoice_line_order`], `LineNum`
//! from 1:
//! - `Qty` = `Quantity`; `UnitPrice` = [`effective_unit_price`]: the sales price less the line
//!   discount, `UnitPrice x (100 - Discount) / 100`, exact (a division by 100 always terminates,
//!   so nothing is rounded; trailing zeros beyond the currency's minor unit are dropped);
//! - `Amount` = [`line_amount`]: `Qty x UnitPrice` rounded half up to the currency's minor unit
//!   (2 decimals; 0 for JPY; 3 for KWD), once, on the line;
//! - `ItemRef` and line `ClassRef` from the line's resolution (matched by line Id);
//! - `TaxCodeRef` by [`line_tax_code`]: `TAX`/`NON` in a US company; elsewhere the item's tax
//!   code, else for a taxable line the default tax code;
//! - `Description` = the line description, else its name (4000 characters); `ServiceDate` as
//!   given. Salesforce's `TotalPrice` is not used: the amount is recomputed by the rule above.
//!
//! `TotalAmt` is the sum of the line amounts (before any tax QBO adds). When the Opportunity has
//! an `Amount`, [`within_tolerance`] must hold: `|TotalAmt - Amount| <= amount-tolerance`
//! (exactly at the tolerance passes). The check is skipped when a line's numbers are refused.
//!
//! **Refusals**, all collected, record `Opportunity <Id>`, line paths by the line's position in
//! the input (`line-items[0]` is the first):
//! - `unresolved-reference`: no customer (`account-id`, saying when the Opportunity has no
//!   Account at all), a line without a resolution (`line-items[i].product-id`), a non-US line
//!   with no tax code (`line-items[i].tax-code`);
//! - `rule-violation`: not won (`stage-name`), foreign currency without multicurrency
//!   (`currency-code`), lines not adding up to the Amount (`amount`, stating both figures);
//! - `invalid-input`: no lines (`line-items`), quantity not above zero
//!   (`line-items[i].quantity`), negative price (`line-items[i].unit-price`), discount outside
//!   0..=100 (`line-items[i].discount-percent`), an amount too large to compute, a bad customer
//!   email (`customer-email`), settings that cannot work (`settings.*`).
//!
//! The error's kind is the most basic one found: invalid input first (fix the data), then an
//! unresolved reference, then a rule violation.

use crate::mapping::text::{clean, is_valid_email, truncate_for_display};
use crate::model::money::{currency_exponent, rounded_product};
use crate::model::{
    ErrorKind, FieldError, GlobalTaxCalculation, MappingError, QboCustomField, QboInvoice,
    QboInvoiceLine, Reference, SfOpportunity, SfOpportunityLine,
};
use chrono::{Days, NaiveDate};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// QBO `DocNumber`: at most 21 characters.
pub const DOC_NUMBER_MAX: usize = 21;
/// QBO `PrivateNote` and line `Description`: at most 4000 characters.
const NOTE_MAX: usize = 4000;
/// The name of the custom field that carries the Opportunity Id.
const OPPORTUNITY_FIELD_NAME: &str = "Salesforce Opportunity";
/// QBO keeps at most three custom field definitions on sales forms.
pub const CUSTOM_FIELDS_MAX: usize = 3;
/// A custom field's value: at most 31 characters (QBO cuts longer text; Ledgerlink cuts it
/// first, so what is sent is what is stored).
pub const CUSTOM_FIELD_VALUE_MAX: usize = 31;

/// How `DocNumber` is chosen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DocNumberRule {
    QboAssigns,
    Prefix(String),
}

/// Company settings that shape an invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceSettings {
    pub us_company: bool,
    pub home_currency: String,
    pub multicurrency: bool,
    pub terms: Option<Reference>,
    pub terms_days: Option<u32>,
    pub doc_number: DocNumberRule,
    pub default_tax_code: Option<Reference>,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
    pub amount_tolerance: Decimal,
    pub opportunity_field_id: Option<String>,
    #[serde(default)]
    pub global_tax_calculation: Option<GlobalTaxCalculation>,
}

/// The QBO item and tax treatment resolved for one Opportunity line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct LineResolution {
    pub line_id: String,
    pub item: Reference,
    pub taxable: bool,
    pub tax_code: Option<Reference>,
    pub class: Option<Reference>,
}

/// Input of `build-invoice`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceInput {
    pub opportunity: SfOpportunity,
    pub customer: Option<Reference>,
    pub customer_email: Option<String>,
    #[serde(default)]
    pub customer_email_cc: Option<String>,
    pub lines: Vec<LineResolution>,
    pub settings: InvoiceSettings,
    #[serde(default)]
    pub exchange_rate: Option<Decimal>,
    #[serde(default)]
    pub custom_fields: Vec<QboCustomField>,
}

/// Builds the QBO Invoice for a Closed Won Opportunity.
pub fn build_invoice(input: &InvoiceInput) -> Result<QboInvoice, MappingError> {
    let opportunity = &input.opportunity;
    let settings = &input.settings;
    let mut problems = Problems::new(format!("Opportunity {}", opportunity.id));

    let customer = input
        .customer
        .clone()
        .filter(|c| !c.value.trim().is_empty());
    if customer.is_none() {
        let reason = match clean(opportunity.account_id.as_deref()) {
            Some(account) => format!(
                "no QuickBooks customer is linked to Account {account}; sync the Account first"
            ),
            None => "the Opportunity has no Account (AccountId is empty), so there is no \
                     customer to bill"
                .to_string(),
        };
        problems.unresolved("account-id", reason);
    }
    if !opportunity.is_won {
        problems.rule(
            "stage-name",
            format!(
                "the Opportunity is at stage \"{}\", not Closed Won; only won Opportunities are \
                 invoiced",
                opportunity.stage_name
            ),
        );
    }
    let currency = invoice_currency(opportunity, settings, &mut problems);
    if settings.amount_tolerance < Decimal::ZERO {
        problems.invalid(
            "settings.amount-tolerance",
            format!("the tolerance {} is negative", settings.amount_tolerance),
        );
    }
    let doc_number = doc_number(&settings.doc_number, &opportunity.id).unwrap_or_else(|reason| {
        problems.invalid("settings.doc-number", reason);
        None
    });
    let due_date = settings.terms_days.and_then(|days| {
        let due = due_date(opportunity.close_date, days);
        if due.is_none() {
            problems.invalid(
                "settings.terms-days",
                format!("{} + {days} days is not a date", opportunity.close_date),
            );
        }
        due
    });
    let bill_email = clean(input.customer_email.as_deref());
    let bill_email_cc = clean(input.customer_email_cc.as_deref());
    for (field, email) in [
        ("customer-email", &bill_email),
        ("customer-email-cc", &bill_email_cc),
    ] {
        if let Some(email) = email.as_deref().filter(|e| !is_valid_email_list(e)) {
            problems.invalid(
                field,
                format!("\"{email}\" is not an email address (or a comma-separated list of them)"),
            );
        }
    }
    let exchange_rate = exchange_rate(input, &currency, &mut problems);
    let custom_fields = custom_fields(input, &mut problems);

    let (lines, total) = invoice_lines(input, &currency, &mut problems);
    if let (Some(total), Some(amount)) = (total, opportunity.amount) {
        if !within_tolerance(total, amount, settings.amount_tolerance) {
            let difference = total.checked_sub(amount).unwrap_or_default().abs();
            problems.rule(
                "amount",
                format!(
                    "the lines add up to {total} {currency} but the Opportunity Amount is \
                     {amount}: a difference of {difference}, more than the allowed {}",
                    settings.amount_tolerance
                ),
            );
        }
    }
    problems.into_result()?;

    Ok(QboInvoice {
        id: None,
        sync_token: None,
        doc_number,
        txn_date: opportunity.close_date,
        due_date,
        customer: customer.unwrap_or_default(),
        lines,
        currency: settings
            .multicurrency
            .then(|| Reference::id(currency.clone())),
        department: settings.department.clone(),
        class: settings.class.clone(),
        sales_term: settings.terms.clone(),
        bill_email,
        bill_email_cc,
        private_note: Some(private_note(opportunity)),
        custom_fields,
        exchange_rate,
        // US companies have no GlobalTaxCalculation; elsewhere QBO's default (TaxExcluded) is
        // left implicit unless the setup chose one.
        global_tax_calculation: settings
            .global_tax_calculation
            .filter(|_| !settings.us_company),
        // US: an explicit tax code replaces automated sales tax; elsewhere codes are per line.
        txn_tax_code: settings
            .default_tax_code
            .clone()
            .filter(|_| settings.us_company),
        total_amt: total.unwrap_or_default(),
        balance: None,
    })
}

/// The invoice lines and their total; the total is `None` when a line's numbers were refused.
fn invoice_lines(
    input: &InvoiceInput,
    currency: &str,
    problems: &mut Problems,
) -> (Vec<QboInvoiceLine>, Option<Decimal>) {
    let opportunity = &input.opportunity;
    if opportunity.line_items.is_empty() {
        problems.invalid(
            "line-items",
            "the Opportunity has no products; an invoice needs at least one line",
        );
        return (Vec::new(), None);
    }
    let mut resolutions: HashMap<&str, &LineResolution> = HashMap::new();
    for resolution in &input.lines {
        resolutions
            .entry(resolution.line_id.as_str())
            .or_insert(resolution);
    }
    let mut lines = Vec::with_capacity(opportunity.line_items.len());
    let mut total = Some(Decimal::new(0, currency_exponent(currency)));
    for (line_num, (index, line)) in (1u32..).zip(invoice_line_order(&opportunity.line_items)) {
        // Only a problem needs the path: built then, not for every line.
        let path = || format!("line-items[{index}]");
        let amounts = line_amounts(line, currency, path, problems);
        total = match (total, &amounts) {
            (Some(total), Some((_, amount))) => total.checked_add(*amount).or_else(|| {
                problems.invalid(path(), "the invoice total is too large to compute");
                None
            }),
            _ => None,
        };
        let Some(resolution) = resolutions.get(line.id.as_str()) else {
            problems.unresolved(
                format!("{}.product-id", path()),
                format!(
                    "no QuickBooks item was resolved for line {} (product {})",
                    line.id,
                    line.product_id.as_deref().unwrap_or("none")
                ),
            );
            continue;
        };
        let tax_code = line_tax_code(&input.settings, resolution);
        if tax_code.is_none() {
            problems.unresolved(
                format!("{}.tax-code", path()),
                format!(
                    "line {} has no tax code: its item {} names none{}",
                    line.id,
                    resolution.item.value,
                    if resolution.taxable {
                        " and no default tax code is configured"
                    } else {
                        " and a non-taxable line needs its own (exempt or zero-rated) code"
                    }
                ),
            );
        }
        if let Some((unit_price, amount)) = amounts {
            lines.push(QboInvoiceLine {
                line_num,
                description: clean(line.description.as_deref())
                    .or_else(|| clean(line.name.as_deref()))
                    .map(|d| truncate_for_display(&d, NOTE_MAX)),
                amount,
                item: resolution.item.clone(),
                qty: line.quantity,
                unit_price,
                tax_code,
                class: resolution.class.clone(),
                service_date: line.service_date,
            });
        }
    }
    (lines, total)
}

/// Checks one line's numbers and computes `(effective unit price, amount)`.
fn line_amounts(
    line: &SfOpportunityLine,
    currency: &str,
    path: impl Fn() -> String,
    problems: &mut Problems,
) -> Option<(Decimal, Decimal)> {
    let mut valid = true;
    if line.quantity <= Decimal::ZERO {
        problems.invalid(
            format!("{}.quantity", path()),
            format!(
                "line {}: the quantity {} is not above zero",
                line.id, line.quantity
            ),
        );
        valid = false;
    }
    if line.unit_price < Decimal::ZERO {
        problems.invalid(
            format!("{}.unit-price", path()),
            format!(
                "line {}: the sales price {} is negative (credit with a credit memo instead)",
                line.id, line.unit_price
            ),
        );
        valid = false;
    }
    if let Some(discount) = line.discount_percent {
        if discount < Decimal::ZERO || discount > Decimal::ONE_HUNDRED {
            problems.invalid(
                format!("{}.discount-percent", path()),
                format!(
                    "line {}: the discount {discount} % is outside 0 to 100",
                    line.id
                ),
            );
            valid = false;
        }
    }
    if !valid {
        return None;
    }
    let amounts = effective_unit_price(line.unit_price, line.discount_percent, currency)
        .and_then(|unit| Some((unit, line_amount(line.quantity, unit, currency)?)));
    if amounts.is_none() {
        problems.invalid(
            format!("{}.quantity", path()),
            format!(
                "line {}: {} x {} is too large to compute",
                line.id, line.quantity, line.unit_price
            ),
        );
    }
    amounts
}

/// Lines go in `SortOrder`, then in the order given; lines without a `SortOrder` come after
/// those with one. Yields `(position in the input, line)`.
pub fn invoice_line_order(
    lines: &[SfOpportunityLine],
) -> impl Iterator<Item = (usize, &SfOpportunityLine)> {
    let mut ordered: Vec<_> = lines.iter().enumerate().collect();
    ordered.sort_by_key(|(index, line)| (line.sort_order.is_none(), line.sort_order, *index));
    ordered.into_iter()
}

/// The unit price after the line discount: `unit x (100 - discount) / 100`, exact. Without a
/// discount (or at 0 %) the sales price is kept as given; with one, trailing zeros beyond the
/// currency's minor unit are dropped (`90.0000` -> `90.00`). `None` when too large to compute.
pub fn effective_unit_price(
    unit_price: Decimal,
    discount_percent: Option<Decimal>,
    currency: &str,
) -> Option<Decimal> {
    let Some(discount) = discount_percent.filter(|d| !d.is_zero()) else {
        return Some(unit_price);
    };
    let mut effective = unit_price
        .checked_mul(Decimal::ONE_HUNDRED.checked_sub(discount)?)?
        .checked_div(Decimal::ONE_HUNDRED)?
        .normalize();
    let exponent = currency_exponent(currency);
    if effective.scale() < exponent {
        effective.rescale(exponent);
    }
    Some(effective)
}

/// A line amount is `Qty x UnitPrice` rounded half up to the currency's minor unit
/// (`3 x 0.165 = 0.495` -> `0.50`). `None` when too large to compute.
pub fn line_amount(quantity: Decimal, unit_price: Decimal, currency: &str) -> Option<Decimal> {
    rounded_product(quantity, unit_price, currency_exponent(currency))
}

/// The lines may differ from the Opportunity Amount by at most the tolerance, inclusive.
pub fn within_tolerance(total: Decimal, amount: Decimal, tolerance: Decimal) -> bool {
    total
        .checked_sub(amount)
        .is_some_and(|difference| difference.abs() <= tolerance)
}

/// US companies mark lines `TAX` or `NON` (QBO applies the rate); other companies name a tax
/// code per line: the item's, else for a taxable line the default. `None`: no code is known.
pub fn line_tax_code(settings: &InvoiceSettings, resolution: &LineResolution) -> Option<Reference> {
    if settings.us_company {
        return Some(Reference::id(if resolution.taxable {
            "TAX"
        } else {
            "NON"
        }));
    }
    resolution.tax_code.clone().or_else(|| {
        settings
            .default_tax_code
            .clone()
            .filter(|_| resolution.taxable)
    })
}

/// `DocNumber`: none when QBO assigns it; else the prefix and the end of the Opportunity Id,
/// together at most 21 characters. A prefix that leaves no room for the Id is refused.
pub fn doc_number(rule: &DocNumberRule, opportunity_id: &str) -> Result<Option<String>, String> {
    let DocNumberRule::Prefix(prefix) = rule else {
        return Ok(None);
    };
    let room = DOC_NUMBER_MAX.saturating_sub(prefix.chars().count());
    if room == 0 {
        return Err(format!(
            "the DocNumber prefix \"{prefix}\" leaves no room for the Opportunity Id in QBO's \
             {DOC_NUMBER_MAX} characters"
        ));
    }
    let id: Vec<char> = opportunity_id.trim().chars().collect();
    let tail: String = id.iter().skip(id.len().saturating_sub(room)).collect();
    Ok(Some(format!("{prefix}{tail}")))
}

/// `DueDate` = `TxnDate` + the terms' days; `None` past the end of the calendar.
pub fn due_date(txn_date: NaiveDate, terms_days: u32) -> Option<NaiveDate> {
    txn_date.checked_add_days(Days::new(u64::from(terms_days)))
}

/// `Salesforce Opportunity <Id>: <Name>`, at most 4000 characters.
fn private_note(opportunity: &SfOpportunity) -> String {
    truncate_for_display(
        &format!(
            "Salesforce Opportunity {}: {}",
            opportunity.id,
            opportunity.name.trim()
        ),
        NOTE_MAX,
    )
}

/// The invoice currency: the Opportunity's, else the home currency (upper case). A currency
/// other than the home currency needs a multicurrency company.
fn invoice_currency(
    opportunity: &SfOpportunity,
    settings: &InvoiceSettings,
    problems: &mut Problems,
) -> String {
    let home = settings.home_currency.trim().to_uppercase();
    if home.is_empty() {
        problems.invalid("settings.home-currency", "the home currency is empty");
    }
    let currency = clean(opportunity.currency_code.as_deref())
        .map(|c| c.to_uppercase())
        .unwrap_or_else(|| home.clone());
    if currency != home && !settings.multicurrency && !home.is_empty() {
        problems.rule(
            "currency-code",
            format!(
                "the Opportunity is in {currency} but the company's home currency is {home} and \
                 multicurrency is off; QuickBooks can only invoice in {home}"
            ),
        );
    }
    currency
}

/// The exchange rate sent with a foreign-currency invoice: none for the home currency (whose
/// rate is one) or when none was given (QBO then applies its own rate for the date). A rate
/// must be above zero.
fn exchange_rate(input: &InvoiceInput, currency: &str, problems: &mut Problems) -> Option<Decimal> {
    let rate = input.exchange_rate?;
    if rate <= Decimal::ZERO {
        problems.invalid(
            "exchange-rate",
            format!("the exchange rate {rate} is not above zero"),
        );
        return None;
    }
    let home = input.settings.home_currency.trim();
    (input.settings.multicurrency && !currency.eq_ignore_ascii_case(home)).then_some(rate)
}

/// The Opportunity Id's field (when configured) and the given values: one per definition, at
/// most [`CUSTOM_FIELDS_MAX`], blank values left out, each cut to [`CUSTOM_FIELD_VALUE_MAX`]
/// characters.
fn custom_fields(input: &InvoiceInput, problems: &mut Problems) -> Vec<QboCustomField> {
    let opportunity =
        clean(input.settings.opportunity_field_id.as_deref()).map(|definition_id| QboCustomField {
            definition_id,
            name: Some(OPPORTUNITY_FIELD_NAME.to_string()),
            value: input.opportunity.id.clone(),
        });
    let mut fields: Vec<QboCustomField> = Vec::new();
    for (i, f) in opportunity.into_iter().map(|f| (None, f)).chain(
        input
            .custom_fields
            .iter()
            .cloned()
            .enumerate()
            .map(|(i, f)| (Some(i), f)),
    ) {
        let path = i.map_or("settings.opportunity-field-id".to_string(), |i| {
            format!("custom-fields[{i}]")
        });
        let Some(definition_id) = clean(Some(f.definition_id.as_str())) else {
            problems.invalid(
                format!("{path}.definition-id"),
                "the definition id is empty",
            );
            continue;
        };
        if fields.iter().any(|g| g.definition_id == definition_id) {
            problems.invalid(
                format!("{path}.definition-id"),
                format!("custom field definition {definition_id} is given twice"),
            );
            continue;
        }
        let Some(value) = clean(Some(f.value.as_str())) else {
            continue;
        };
        fields.push(QboCustomField {
            definition_id,
            name: f.name.clone(),
            value: truncate_for_display(&value, CUSTOM_FIELD_VALUE_MAX),
        });
    }
    if fields.len() > CUSTOM_FIELDS_MAX {
        problems.invalid(
            "custom-fields",
            format!(
                "{} custom fields, but QBO keeps {CUSTOM_FIELDS_MAX} on an invoice",
                fields.len()
            ),
        );
    }
    fields
}

/// `BillEmail` may list several addresses separated by commas; each must be one.
fn is_valid_email_list(emails: &str) -> bool {
    emails.split(',').all(is_valid_email)
}

/// Every refusal found, with its kind.
struct Problems {
    record: String,
    found: Vec<(ErrorKind, FieldError)>,
}

impl Problems {
    fn new(record: String) -> Self {
        Self {
            record,
            found: Vec::new(),
        }
    }

    fn push(&mut self, kind: ErrorKind, field: impl Into<String>, reason: impl Into<String>) {
        self.found
            .push((kind, FieldError::new(&self.record, field, reason)));
    }

    fn invalid(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(ErrorKind::InvalidInput, field, reason);
    }

    fn unresolved(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(ErrorKind::UnresolvedReference, field, reason);
    }

    fn rule(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.push(ErrorKind::RuleViolation, field, reason);
    }

    /// The most basic kind found: invalid input, then unresolved reference, then rule violation.
    fn into_result(self) -> Result<(), MappingError> {
        let rank = |kind: &ErrorKind| match kind {
            ErrorKind::InvalidInput => 0,
            ErrorKind::UnresolvedReference => 1,
            ErrorKind::RuleViolation => 2,
            ErrorKind::NotAvailable => 3,
        };
        let Some(kind) = self.found.iter().map(|(kind, _)| *kind).min_by_key(rank) else {
            return Ok(());
        };
        Err(MappingError::new(
            kind,
            self.found.into_iter().map(|(_, error)| error).collect(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::money::round_to_currency;
    use rust_decimal_macros::dec;

    const OPP: &str = "0065e00000AbCdEAAV";

    fn line(id: &str, quantity: Decimal, unit_price: Decimal) -> SfOpportunityLine {
        SfOpportunityLine {
            id: id.into(),
            product_id: Some(format!("01t-{id}")),
            product_code: None,
            name: Some(format!("Product {id}")),
            description: None,
            quantity,
            unit_price,
            total_price: None,
            discount_percent: None,
            service_date: None,
            sort_order: None,
        }
    }

    fn resolution(line_id: &str) -> LineResolution {
        LineResolution {
            line_id: line_id.into(),
            item: Reference::named("7", "Consulting"),
            taxable: true,
            tax_code: None,
            class: None,
        }
    }

    fn settings() -> InvoiceSettings {
        InvoiceSettings {
            us_company: true,
            home_currency: "USD".into(),
            multicurrency: false,
            terms: Some(Reference::named("3", "Net 30")),
            terms_days: Some(30),
            doc_number: DocNumberRule::QboAssigns,
            default_tax_code: None,
            department: Some(Reference::named("2", "West")),
            class: Some(Reference::named("5", "Services")),
            amount_tolerance: dec!(0.01),
            opportunity_field_id: Some("1".into()),
            global_tax_calculation: None,
        }
    }

    fn input(lines: Vec<SfOpportunityLine>) -> InvoiceInput {
        let amount = lines.iter().fold(Decimal::ZERO, |sum, l| {
            l.quantity
                .checked_mul(l.unit_price)
                .and_then(|a| a.checked_add(sum))
                .unwrap_or_default()
        });
        let resolutions = lines.iter().map(|l| resolution(&l.id)).collect();
        InvoiceInput {
            opportunity: SfOpportunity {
                id: OPP.into(),
                name: "Acme - 2024 renewal".into(),
                account_id: Some("001A000001XyZaBIAV".into()),
                stage_name: "Closed Won".into(),
                close_date: NaiveDate::from_ymd_opt(2024, 3, 31).unwrap(),
                amount: Some(round_to_currency(amount, "USD")),
                is_won: true,
                is_closed: true,
                currency_code: None,
                description: None,
                qbo_invoice_id: None,
                system_modstamp: None,
                line_items: lines,
            },
            customer: Some(Reference::named("58", "Acme Corporation")),
            customer_email: Some("ap@acme.example".into()),
            customer_email_cc: None,
            lines: resolutions,
            settings: settings(),
            exchange_rate: None,
            custom_fields: Vec::new(),
        }
    }

    fn one_line(quantity: Decimal, unit_price: Decimal) -> InvoiceInput {
        input(vec![line("00k1", quantity, unit_price)])
    }

    fn built(input: &InvoiceInput) -> QboInvoice {
        build_invoice(input).unwrap()
    }

    fn refused(input: &InvoiceInput) -> MappingError {
        build_invoice(input).unwrap_err()
    }

    fn fields(err: &MappingError) -> Vec<&str> {
        err.errors.iter().map(|e| e.field.as_str()).collect()
    }

    #[test]
    fn header_comes_from_the_opportunity_and_settings() {
        let inv = built(&one_line(dec!(2), dec!(50.00)));
        assert_eq!(inv.txn_date.to_string(), "2024-03-31");
        assert_eq!(
            inv.due_date.map(|d| d.to_string()).as_deref(),
            Some("2024-04-30")
        );
        assert_eq!(inv.customer, Reference::named("58", "Acme Corporation"));
        assert_eq!(inv.sales_term, Some(Reference::named("3", "Net 30")));
        assert_eq!(inv.department, Some(Reference::named("2", "West")));
        assert_eq!(inv.class, Some(Reference::named("5", "Services")));
        assert_eq!(inv.bill_email.as_deref(), Some("ap@acme.example"));
        assert_eq!(
            inv.private_note.as_deref(),
            Some("Salesforce Opportunity 0065e00000AbCdEAAV: Acme - 2024 renewal")
        );
        assert_eq!(
            inv.custom_fields,
            [QboCustomField {
                definition_id: "1".into(),
                name: Some("Salesforce Opportunity".into()),
                value: OPP.into()
            }]
        );
        assert_eq!((inv.doc_number, inv.currency, inv.id), (None, None, None));
        assert_eq!(inv.total_amt.to_string(), "100.00");
        let l = &inv.lines[0];
        assert_eq!(
            (l.line_num, l.qty, l.unit_price, l.amount),
            (1, dec!(2), dec!(50.00), dec!(100.00))
        );
        assert_eq!(l.description.as_deref(), Some("Product 00k1"));
        assert_eq!(l.item, Reference::named("7", "Consulting"));
    }

    #[test]
    fn missing_optional_settings_leave_the_header_fields_empty() {
        let mut i = one_line(dec!(1), dec!(10));
        i.settings.terms = None;
        i.settings.terms_days = None;
        i.settings.department = None;
        i.settings.class = None;
        i.settings.opportunity_field_id = None;
        i.customer_email = None;
        i.opportunity.amount = None;
        let inv = built(&i);
        assert_eq!(
            (inv.due_date, inv.sales_term, inv.bill_email),
            (None, None, None)
        );
        assert!(inv.custom_fields.is_empty());
    }

    #[test]
    fn half_cent_line_amount_rounds_up() {
        assert_eq!(line_amount(dec!(3), dec!(0.165), "USD"), Some(dec!(0.50)));
        assert_eq!(line_amount(dec!(1), dec!(1.005), "USD"), Some(dec!(1.01)));
        assert_eq!(line_amount(dec!(1), dec!(1.0049), "USD"), Some(dec!(1.00)));
        assert_eq!(line_amount(dec!(7), dec!(0.0035), "USD"), Some(dec!(0.02)));
        let inv = built(&one_line(dec!(3), dec!(0.165)));
        assert_eq!(inv.lines[0].amount.to_string(), "0.50");
        assert_eq!(inv.lines[0].unit_price, dec!(0.165));
    }

    #[test]
    fn line_amounts_are_rounded_once_per_line_then_summed() {
        // Three lines of 0.005: each rounds to 0.01; the total is 0.03, not round(0.015).
        let lines = (0..3)
            .map(|n| line(&format!("00k{n}"), dec!(1), dec!(0.005)))
            .collect();
        let mut i = input(lines);
        i.opportunity.amount = Some(dec!(0.03));
        assert_eq!(built(&i).total_amt.to_string(), "0.03");
    }

    #[test]
    fn discount_reduces_the_unit_price_exactly_and_the_amount_rounds_half_up() {
        assert_eq!(
            effective_unit_price(dec!(19.99), Some(dec!(10)), "USD"),
            Some(dec!(17.991))
        );
        assert_eq!(line_amount(dec!(3), dec!(17.991), "USD"), Some(dec!(53.97)));
        // 50 % of one cent is half a cent: the amount rounds up to a cent.
        let mut i = one_line(dec!(1), dec!(0.01));
        i.opportunity.line_items[0].discount_percent = Some(dec!(50));
        i.opportunity.amount = Some(dec!(0.01));
        let inv = built(&i);
        assert_eq!(
            (inv.lines[0].unit_price, inv.lines[0].amount),
            (dec!(0.005), dec!(0.01))
        );
    }

    #[test]
    fn discounted_unit_price_keeps_the_minor_unit_without_trailing_zeros() {
        let price = effective_unit_price(dec!(100.00), Some(dec!(10)), "USD");
        assert_eq!(price.map(|p| p.to_string()).as_deref(), Some("90.00"));
        let price = effective_unit_price(dec!(100), Some(dec!(12.5)), "JPY");
        assert_eq!(price.map(|p| p.to_string()).as_deref(), Some("87.5"));
        assert_eq!(
            effective_unit_price(dec!(5.50), Some(dec!(0)), "USD"),
            Some(dec!(5.50))
        );
        assert_eq!(
            effective_unit_price(dec!(5.50), Some(dec!(100)), "USD"),
            Some(dec!(0.00))
        );
    }

    #[test]
    fn jpy_amounts_have_no_decimals() {
        let mut i = one_line(dec!(3), dec!(333.5));
        i.opportunity.currency_code = Some("jpy".into());
        i.opportunity.amount = Some(dec!(1001));
        i.settings.home_currency = "JPY".into();
        i.settings.amount_tolerance = dec!(0);
        let inv = built(&i);
        assert_eq!(inv.lines[0].amount.to_string(), "1001");
        assert_eq!(inv.total_amt.to_string(), "1001");
    }

    #[test]
    fn three_decimal_currencies_round_to_the_fils() {
        assert_eq!(
            line_amount(dec!(1), dec!(1.0005), "KWD")
                .map(|a| a.to_string())
                .as_deref(),
            Some("1.001")
        );
    }

    #[test]
    fn lines_follow_sort_order_then_input_order() {
        let mut lines: Vec<_> = ["a", "b", "c", "d", "e"]
            .iter()
            .map(|id| line(id, dec!(1), dec!(1)))
            .collect();
        lines[0].sort_order = Some(3);
        lines[1].sort_order = None;
        lines[2].sort_order = Some(1);
        lines[3].sort_order = Some(3);
        lines[4].sort_order = Some(2);
        let inv = built(&input(lines));
        let order: Vec<_> = inv
            .lines
            .iter()
            .map(|l| l.description.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            order,
            [
                "Product c",
                "Product e",
                "Product a",
                "Product d",
                "Product b"
            ]
        );
        let nums: Vec<_> = inv.lines.iter().map(|l| l.line_num).collect();
        assert_eq!(nums, [1, 2, 3, 4, 5]);
    }

    #[test]
    fn line_description_falls_back_to_the_name() {
        let mut i = one_line(dec!(1), dec!(1));
        i.opportunity.line_items[0].description = Some("  Onboarding 🚀 über 研修 ".into());
        assert_eq!(
            built(&i).lines[0].description.as_deref(),
            Some("Onboarding 🚀 über 研修")
        );
        i.opportunity.line_items[0].description = None;
        i.opportunity.line_items[0].name = None;
        assert_eq!(built(&i).lines[0].description, None);
    }

    #[test]
    fn us_company_lines_are_tax_or_non() {
        let mut i = input(vec![
            line("a", dec!(1), dec!(1)),
            line("b", dec!(1), dec!(1)),
        ]);
        i.lines[1].taxable = false;
        i.lines[1].tax_code = Some(Reference::id("ignored in the US"));
        let inv = built(&i);
        assert_eq!(inv.lines[0].tax_code, Some(Reference::id("TAX")));
        assert_eq!(inv.lines[1].tax_code, Some(Reference::id("NON")));
    }

    #[test]
    fn non_us_lines_use_the_item_code_then_the_default_for_taxable_lines() {
        let mut i = input(vec![
            line("a", dec!(1), dec!(1)),
            line("b", dec!(1), dec!(1)),
        ]);
        i.settings.us_company = false;
        i.settings.default_tax_code = Some(Reference::named("4", "GST"));
        i.lines[1].tax_code = Some(Reference::named("9", "Zero-rated"));
        i.lines[1].taxable = false;
        let inv = built(&i);
        assert_eq!(inv.lines[0].tax_code, Some(Reference::named("4", "GST")));
        assert_eq!(
            inv.lines[1].tax_code,
            Some(Reference::named("9", "Zero-rated"))
        );
    }

    #[test]
    fn non_us_line_without_any_tax_code_is_refused() {
        let mut i = input(vec![
            line("a", dec!(1), dec!(1)),
            line("b", dec!(1), dec!(1)),
        ]);
        i.settings.us_company = false;
        i.lines[1].taxable = false;
        let err = refused(&i);
        assert_eq!(err.kind, ErrorKind::UnresolvedReference);
        assert_eq!(
            fields(&err),
            ["line-items[0].tax-code", "line-items[1].tax-code"]
        );
    }

    #[test]
    fn line_class_comes_from_its_resolution() {
        let mut i = one_line(dec!(1), dec!(1));
        i.lines[0].class = Some(Reference::id("11"));
        assert_eq!(built(&i).lines[0].class, Some(Reference::id("11")));
    }

    #[test]
    fn doc_number_prefix_and_id_tail_fit_21_characters() {
        assert_eq!(doc_number(&DocNumberRule::QboAssigns, OPP), Ok(None));
        let n = doc_number(&DocNumberRule::Prefix("SF-".into()), OPP);
        assert_eq!(n, Ok(Some("SF-0065e00000AbCdEAAV".into())));
        let n = doc_number(&DocNumberRule::Prefix("INV-2024-Q1-".into()), OPP);
        assert_eq!(n, Ok(Some("INV-2024-Q1-0AbCdEAAV".into())));
        assert_eq!(n.ok().flatten().map(|n| n.chars().count()), Some(21));
        assert!(doc_number(&DocNumberRule::Prefix("X".repeat(21)), OPP).is_err());
        let mut i = one_line(dec!(1), dec!(1));
        i.settings.doc_number = DocNumberRule::Prefix("SF".into());
        assert_eq!(built(&i).doc_number, built(&i).doc_number);
        i.settings.doc_number = DocNumberRule::Prefix("P".repeat(30));
        assert_eq!(fields(&refused(&i)), ["settings.doc-number"]);
    }

    #[test]
    fn multicurrency_always_sets_the_currency() {
        let mut i = one_line(dec!(1), dec!(1));
        i.settings.multicurrency = true;
        assert_eq!(built(&i).currency, Some(Reference::id("USD")));
        i.opportunity.currency_code = Some("EUR".into());
        assert_eq!(built(&i).currency, Some(Reference::id("EUR")));
    }

    #[test]
    fn a_foreign_deal_carries_its_exchange_rate_and_the_home_currency_none() {
        let mut i = one_line(dec!(1), dec!(1));
        i.settings.multicurrency = true;
        i.exchange_rate = Some(dec!(1.086957));
        assert_eq!(built(&i).exchange_rate, None, "a home-currency deal");
        i.opportunity.currency_code = Some("EUR".into());
        assert_eq!(built(&i).exchange_rate, Some(dec!(1.086957)));
        i.exchange_rate = Some(dec!(0));
        assert_eq!(fields(&refused(&i)), ["exchange-rate"]);
    }

    #[test]
    fn us_tax_is_left_to_qbo_unless_a_code_is_chosen() {
        let mut i = one_line(dec!(1), dec!(1));
        i.settings.global_tax_calculation = Some(GlobalTaxCalculation::TaxInclusive);
        let inv = built(&i);
        assert_eq!(inv.txn_tax_code, None);
        assert_eq!(inv.global_tax_calculation, None, "US companies have none");
        assert_eq!(inv.lines[0].tax_code, Some(Reference::id("TAX")));
        i.settings.default_tax_code = Some(Reference::id("5"));
        assert_eq!(built(&i).txn_tax_code, Some(Reference::id("5")));
    }

    #[test]
    fn non_us_invoices_carry_the_global_tax_calculation_and_no_txn_code() {
        let mut i = one_line(dec!(1), dec!(1));
        i.settings.us_company = false;
        i.settings.default_tax_code = Some(Reference::id("4"));
        i.settings.global_tax_calculation = Some(GlobalTaxCalculation::TaxInclusive);
        let inv = built(&i);
        assert_eq!(
            inv.global_tax_calculation,
            Some(GlobalTaxCalculation::TaxInclusive)
        );
        assert_eq!(inv.txn_tax_code, None);
    }

    #[test]
    fn custom_fields_are_cut_to_31_characters_one_per_definition_three_at_most() {
        let field = |id: &str, value: &str| QboCustomField {
            definition_id: id.into(),
            name: None,
            value: value.into(),
        };
        let mut i = one_line(dec!(1), dec!(1));
        i.custom_fields = vec![
            field("2", "Grace Brewster Murray Hopper of the Navy"),
            field("3", "  "),
        ];
        let inv = built(&i);
        assert_eq!(
            inv.custom_fields
                .iter()
                .map(|f| (f.definition_id.as_str(), f.value.as_str()))
                .collect::<Vec<_>>(),
            [("1", OPP), ("2", "Grace Brewster Murray Hopper of")]
        );
        i.custom_fields = vec![field("1", "x")];
        assert_eq!(fields(&refused(&i)), ["custom-fields[0].definition-id"]);
        i.custom_fields = vec![field("2", "a"), field("3", "b"), field("4", "c")];
        assert_eq!(fields(&refused(&i)), ["custom-fields"]);
    }

    #[test]
    fn a_bad_cc_address_is_refused_by_its_field() {
        let mut i = one_line(dec!(1), dec!(1));
        i.customer_email_cc = Some("ap@acme.example, not an address".into());
        assert_eq!(fields(&refused(&i)), ["customer-email-cc"]);
        i.customer_email_cc = Some("ap@acme.example,cfo@acme.example".into());
        assert_eq!(
            built(&i).bill_email_cc.as_deref(),
            Some("ap@acme.example,cfo@acme.example")
        );
    }

    #[test]
    fn foreign_currency_without_multicurrency_is_refused() {
        let mut i = one_line(dec!(1), dec!(1));
        i.opportunity.currency_code = Some("EUR".into());
        let err = refused(&i);
        assert_eq!(err.kind, ErrorKind::RuleViolation);
        assert_eq!(fields(&err), ["currency-code"]);
        assert!(err.errors[0].reason.contains("EUR") && err.errors[0].reason.contains("USD"));
        i.opportunity.currency_code = Some("usd".into());
        assert_eq!(built(&i).currency, None);
    }

    #[test]
    fn amount_exactly_at_tolerance_passes() {
        let mut i = one_line(dec!(1), dec!(100.00));
        i.opportunity.amount = Some(dec!(100.01));
        assert!(build_invoice(&i).is_ok());
        i.opportunity.amount = Some(dec!(99.99));
        assert!(build_invoice(&i).is_ok());
        assert!(within_tolerance(dec!(10), dec!(10.5), dec!(0.5)));
        assert!(!within_tolerance(dec!(10), dec!(10.51), dec!(0.5)));
    }

    #[test]
    fn amount_beyond_tolerance_is_refused_stating_both_figures() {
        let mut i = one_line(dec!(1), dec!(100.00));
        i.opportunity.amount = Some(dec!(100.02));
        let err = refused(&i);
        assert_eq!(err.kind, ErrorKind::RuleViolation);
        assert_eq!(fields(&err), ["amount"]);
        let reason = &err.errors[0].reason;
        assert!(
            reason.contains("100.00") && reason.contains("100.02") && reason.contains("0.01"),
            "{reason}"
        );
    }

    #[test]
    fn missing_customer_is_an_unresolved_account_id() {
        let mut i = one_line(dec!(1), dec!(1));
        i.customer = None;
        let err = refused(&i);
        assert_eq!(err.kind, ErrorKind::UnresolvedReference);
        assert_eq!(fields(&err), ["account-id"]);
        assert!(err.errors[0].reason.contains("001A000001XyZaBIAV"));
        i.opportunity.account_id = None;
        assert!(refused(&i).errors[0].reason.contains("no Account"));
    }

    #[test]
    fn opportunity_not_won_is_refused_on_stage_name() {
        let mut i = one_line(dec!(1), dec!(1));
        i.opportunity.is_won = false;
        i.opportunity.stage_name = "Negotiation".into();
        let err = refused(&i);
        assert_eq!(
            (err.kind, fields(&err)),
            (ErrorKind::RuleViolation, vec!["stage-name"])
        );
        assert!(err.errors[0].reason.contains("Negotiation"));
    }

    #[test]
    fn opportunity_without_lines_is_refused() {
        let mut i = input(Vec::new());
        i.opportunity.amount = Some(dec!(10));
        let err = refused(&i);
        assert_eq!(
            (err.kind, fields(&err)),
            (ErrorKind::InvalidInput, vec!["line-items"])
        );
    }

    #[test]
    fn every_line_problem_is_named_by_its_path() {
        let mut lines: Vec<_> = (0..5)
            .map(|n| line(&format!("00k{n}"), dec!(1), dec!(1)))
            .collect();
        lines[0].quantity = dec!(0);
        lines[1].unit_price = dec!(-1);
        lines[2].discount_percent = Some(dec!(100.01));
        lines[3].discount_percent = Some(dec!(-1));
        lines[4].quantity = dec!(-2);
        let mut i = input(lines);
        i.lines.push(resolution("unused"));
        i.lines.retain(|r| r.line_id != "00k2");
        let err = refused(&i);
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(
            fields(&err),
            [
                "line-items[0].quantity",
                "line-items[1].unit-price",
                "line-items[2].discount-percent",
                "line-items[2].product-id",
                "line-items[3].discount-percent",
                "line-items[4].quantity"
            ]
        );
        assert!(err
            .errors
            .iter()
            .all(|e| e.record_id == "Opportunity 0065e00000AbCdEAAV"));
        assert!(err.errors[3].reason.contains("00k2") && err.errors[3].reason.contains("01t-00k2"));
    }

    #[test]
    fn all_problems_are_collected_and_the_kind_is_the_most_basic() {
        let mut i = one_line(dec!(0), dec!(1));
        i.customer = None;
        i.opportunity.is_won = false;
        i.customer_email = Some("not-an-email".into());
        let err = refused(&i);
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(
            fields(&err),
            [
                "account-id",
                "stage-name",
                "customer-email",
                "line-items[0].quantity"
            ]
        );
    }

    #[test]
    fn several_bill_emails_separated_by_commas_are_accepted() {
        let mut i = one_line(dec!(1), dec!(1));
        i.customer_email = Some("ap@acme.example,cfo@acme.example".into());
        assert!(build_invoice(&i).is_ok());
    }

    #[test]
    fn huge_numbers_are_refused_without_panicking() {
        let mut i = one_line(Decimal::MAX, dec!(10));
        i.opportunity.amount = None;
        assert_eq!(fields(&refused(&i)), ["line-items[0].quantity"]);
        let mut i = input(vec![
            line("a", Decimal::MAX, dec!(1)),
            line("b", Decimal::MAX, dec!(1)),
        ]);
        i.opportunity.amount = None;
        assert!(build_invoice(&i).is_err());
        let mut i = one_line(dec!(1), dec!(1));
        i.opportunity.close_date = NaiveDate::MAX;
        assert_eq!(fields(&refused(&i)), ["settings.terms-days"]);
    }

    #[test]
    fn private_note_is_limited_to_4000_characters() {
        let mut i = one_line(dec!(1), dec!(1));
        i.opportunity.name = "ß".repeat(5000);
        let note = built(&i).private_note.unwrap_or_default();
        assert_eq!(note.chars().count(), 4000);
    }

    #[test]
    fn five_hundred_line_invoice_is_built_quickly() {
        let lines: Vec<_> = (0..500)
            .map(|n| {
                let mut l = line(&format!("00k{n:04}"), Decimal::from(n % 7 + 1), dec!(0.165));
                l.sort_order = Some(500 - n);
                l.discount_percent = (n % 3 == 0).then_some(dec!(12.5));
                l
            })
            .collect();
        let mut i = input(lines);
        i.opportunity.amount = None;
        let started = std::time::Instant::now();
        let inv = built(&i);
        assert!(started.elapsed() < std::time::Duration::from_millis(500));
        assert_eq!(inv.lines.len(), 500);
        let sum: Decimal = inv.lines.iter().map(|l| l.amount).sum();
        assert_eq!(inv.total_amt, sum);
        assert_eq!(inv.lines[0].description.as_deref(), Some("Product 00k0499"));
        assert_eq!(inv.lines[499].line_num, 500);
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<InvoiceInput, _>(
            "build-invoice",
            build_invoice,
        );
    }
}
