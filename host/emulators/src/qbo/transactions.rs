//! Rules and arithmetic of the transactions: Invoice, CreditMemo, RefundReceipt, Payment,
//! JournalEntry (and the Invoice template of a RecurringTransaction, `recurring.rs`).
//!
//! | rule | error |
//! |---|---|
//! | Invoice needs CustomerRef and at least one line | 2020 |
//! | references (customer, items, tax codes, terms, classes, departments, accounts) exist | 2500 |
//! | Invoice.TotalAmt = Σ sales lines − discounts + TxnTaxDetail.TotalTax; a SubTotalLineDetail line is added | computed |
//! | sales tax, currency, ExchangeRate / HomeTotalAmt, CustomField (by the company profile) | see `tax.rs` |
//! | DueDate = TxnDate + the SalesTermRef's DueDays when not sent | computed |
//! | SalesItemLine Amount = UnitPrice × Qty when both are given | 6070 |
//! | Invoice DocNumber unique among invoices unless `include=allowduplicatedocnum` | 6140 |
//! | Invoice.Balance = TotalAmt − payments applied; LinkedTxn lists those payments | computed |
//! | Payment lines apply at most the invoice's open balance, in total at most TotalAmt | 6000 |
//! | Payment lines may use a CreditMemo's credit (LinkedTxn TxnType CreditMemo): at most its remaining credit, same customer | 6000 |
//! | Payment: Σ invoice lines ≤ TotalAmt + Σ credit lines; UnappliedAmt = TotalAmt + credits − invoice lines | 6000 / computed |
//! | CreditMemo.Balance = RemainingCredit = TotalAmt − credit used by payments | computed |
//! | RefundReceipt: DepositToAccountRef required, a Bank or Other Current Asset account; Balance 0 | 2020 / 6000 |
//! | JournalEntry: one debit and one credit at least, debit total = credit total | 6000 |

use super::errors::QboError;
use super::fields::{
    check_ref, decimal_field, default, id_text, normalised_ref, ref_id, require_ref, text,
};
use super::money;
use super::profile::currency_ref;
use super::store::{By, Company};
use super::tax;
use super::timefmt;
use chrono::{Duration, NaiveDate};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;

/// What a transaction write needs besides the object.
pub(crate) struct TxnCtx<'a> {
    /// The transaction's Id (allocated for creates).
    pub id: &'a str,
    /// The stored version, for updates.
    pub prior: Option<&'a Map<String, Value>>,
    /// Today in the company's time zone (default TxnDate).
    pub today: NaiveDate,
    /// `include=allowduplicatedocnum` was given.
    pub allow_duplicate_doc_number: bool,
}

/// Payments applied to one invoice.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Applied {
    /// Total amount applied.
    pub amount: Decimal,
    /// Ids of the payments, in Id order.
    pub payments: BTreeSet<(u64, String)>,
}

/// The invoices a payment's lines link to.
pub(crate) fn linked_invoices(payment: &Map<String, Value>) -> Vec<(String, Decimal)> {
    linked_of(payment, "Invoice")
}

/// The credit memos a payment's lines use.
pub(crate) fn linked_credit_memos(payment: &Map<String, Value>) -> Vec<(String, Decimal)> {
    linked_of(payment, "CreditMemo")
}

/// The transactions of `txn_type` a payment's lines link to, with each line's amount.
fn linked_of(payment: &Map<String, Value>, txn_type: &str) -> Vec<(String, Decimal)> {
    let mut out = Vec::new();
    for line in payment
        .get("Line")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let amount = line
            .get("Amount")
            .and_then(money::parse)
            .unwrap_or_default();
        for linked in line
            .get("LinkedTxn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let matches = linked
                .get("TxnType")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case(txn_type));
            if let (true, Some(id)) = (matches, linked.get("TxnId").and_then(id_text)) {
                out.push((id, amount));
            }
        }
    }
    out
}

/// What the company's live (not voided) payments apply to `invoice`, leaving out `exclude` (the
/// payment being rewritten). Payments are added up in Id order.
pub(crate) fn payments_applied(company: &Company, invoice: &str, exclude: Option<&str>) -> Applied {
    let mut applied = Applied::default();
    for (pid, payment) in company.find("Payment", By::PaidInvoice, invoice) {
        if payment.voided || Some(pid.as_str()) == exclude {
            continue;
        }
        for (linked, amount) in linked_invoices(&payment.value) {
            if linked == invoice {
                applied.amount += amount;
                applied
                    .payments
                    .insert((pid.parse().unwrap_or(u64::MAX), pid.clone()));
            }
        }
    }
    applied
}

/// What the company's live (not voided) payments use of `credit_memo`'s credit, leaving out
/// `exclude` (the payment being rewritten).
pub(crate) fn credits_used(company: &Company, credit_memo: &str, exclude: Option<&str>) -> Applied {
    let mut used = Applied::default();
    for (pid, payment) in company.find("Payment", By::UsedCredit, credit_memo) {
        if payment.voided || Some(pid.as_str()) == exclude {
            continue;
        }
        for (linked, amount) in linked_credit_memos(&payment.value) {
            if linked == credit_memo {
                used.amount += amount;
                used.payments
                    .insert((pid.parse().unwrap_or(u64::MAX), pid.clone()));
            }
        }
    }
    used
}

pub(crate) fn txn_date(
    obj: &mut Map<String, Value>,
    today: NaiveDate,
) -> Result<NaiveDate, QboError> {
    match text(obj, "TxnDate") {
        Some(t) => timefmt::parse_date(&t)
            .ok_or_else(|| QboError::invalid_property(format!("TxnDate ({t})")).element("TxnDate")),
        None => {
            obj.insert(
                "TxnDate".into(),
                json!(today.format("%Y-%m-%d").to_string()),
            );
            Ok(today)
        }
    }
}

fn lines(obj: &Map<String, Value>) -> Vec<Map<String, Value>> {
    obj.get("Line")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| l.as_object().cloned())
        .collect()
}

fn next_line_id(lines: &[Map<String, Value>], first: u64) -> u64 {
    lines
        .iter()
        .filter_map(|l| l.get("Id").and_then(id_text))
        .filter_map(|id| id.parse::<u64>().ok())
        .map(|n| n.saturating_add(1))
        .max()
        .unwrap_or(first)
        .max(first)
}

/// The sales forms that share the invoice's line, tax and currency rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SalesForm {
    /// An Invoice.
    Invoice,
    /// A CreditMemo: Balance and RemainingCredit are what payments have not used of it.
    CreditMemo,
    /// A RefundReceipt: paid out at once (Balance 0), DepositToAccountRef required.
    RefundReceipt,
    /// The Invoice template of a RecurringTransaction: no DocNumber, TxnDate, DueDate or Balance.
    Template,
}

impl SalesForm {
    fn entity(self) -> &'static str {
        match self {
            SalesForm::Invoice | SalesForm::Template => "Invoice",
            SalesForm::CreditMemo => "CreditMemo",
            SalesForm::RefundReceipt => "RefundReceipt",
        }
    }

    fn invoice_like(self) -> bool {
        matches!(self, SalesForm::Invoice | SalesForm::Template)
    }
}

/// Invoice rules. `applied` is what payments have applied to this invoice.
pub(crate) fn invoice_rules(
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &TxnCtx,
    applied: &Applied,
) -> Result<(), QboError> {
    sales_rules(SalesForm::Invoice, obj, company, ctx, applied)
}

/// The account types a RefundReceipt may be paid from.
const REFUND_ACCOUNT_TYPES: [&str; 2] = ["Bank", "Other Current Asset"];

/// The rules of a sales form (Invoice, CreditMemo, RefundReceipt, recurring Invoice template).
/// `applied` is what payments have applied to an invoice, or used of a credit memo.
pub(crate) fn sales_rules(
    form: SalesForm,
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &TxnCtx,
    applied: &Applied,
) -> Result<(), QboError> {
    for computed in [
        "TotalAmt",
        "Balance",
        "HomeBalance",
        "HomeTotalAmt",
        "InvoiceLink",
        "DeliveryInfo",
        "RemainingCredit",
        "RecurDataRef",
    ] {
        obj.remove(computed);
    }
    if form.invoice_like() {
        // An invoice's LinkedTxn lists the payments applied to it; credit memos and refund
        // receipts keep theirs as sent.
        obj.remove("LinkedTxn");
    }
    if let Some(prior) = ctx.prior {
        if let Some(delivery) = prior.get("DeliveryInfo") {
            obj.insert("DeliveryInfo".into(), delivery.clone());
        }
        // Read-only: the template a generated invoice came from.
        if let (SalesForm::Invoice, Some(recur)) = (form, prior.get("RecurDataRef")) {
            obj.insert("RecurDataRef".into(), recur.clone());
        }
    }
    let customer = if form == SalesForm::RefundReceipt {
        check_ref(company, obj, "CustomerRef", "Customer")?.unwrap_or_default()
    } else {
        require_ref(company, obj, "CustomerRef", "Customer")?
    };
    let currency = tax::invoice_currency(obj, company, &customer)?;
    tax::custom_fields(obj, company)?;
    tax::email_addresses(obj);
    for (key, entity) in [
        ("SalesTermRef", "Term"),
        ("DepartmentRef", "Department"),
        ("ClassRef", "Class"),
    ] {
        check_ref(company, obj, key, entity)?;
    }
    // Emulator approximation: there is no PaymentMethod list, so PaymentMethodRef is kept as sent.
    if form == SalesForm::RefundReceipt {
        let account = require_ref(company, obj, "DepositToAccountRef", "Account")?;
        let account_type = company
            .get("Account", &account)
            .and_then(|a| a.str("AccountType"))
            .unwrap_or_default()
            .to_string();
        if !REFUND_ACCOUNT_TYPES.contains(&account_type.as_str()) {
            return Err(QboError::business(format!(
                "The account to refund from (Id={account}, AccountType {account_type}) must be a Bank or Other Current Asset account."
            ))
            .element("DepositToAccountRef"));
        }
    } else {
        check_ref(company, obj, "DepositToAccountRef", "Account")?;
    }
    let input_lines: Vec<Map<String, Value>> = lines(obj)
        .into_iter()
        .filter(|l| l.get("DetailType").and_then(Value::as_str) != Some("SubTotalLineDetail"))
        .collect();
    if input_lines.is_empty() {
        return Err(QboError::required("Line"));
    }
    let mut next_id = next_line_id(&input_lines, 1);
    let mut subtotal = Decimal::ZERO;
    let mut discount = Decimal::ZERO;
    let mut out_lines = Vec::new();
    let mut line_num = 0u64;
    for mut line in input_lines {
        let detail_type =
            text(&line, "DetailType").ok_or_else(|| QboError::required("Line.DetailType"))?;
        if !line.contains_key("Id") {
            line.insert("Id".into(), json!(next_id.to_string()));
            next_id = next_id.saturating_add(1);
        } else if let Some(id) = line.get("Id").and_then(id_text) {
            line.insert("Id".into(), json!(id));
        }
        match detail_type.as_str() {
            "SalesItemLineDetail" | "GroupLineDetail" => {
                line_num += 1;
                line.insert("LineNum".into(), json!(line_num));
                let amount = sales_line(&mut line, company)?;
                subtotal += amount;
            }
            "DiscountLineDetail" => {
                let amount = decimal_field(&line, "Amount")?;
                let percent = line
                    .get("DiscountLineDetail")
                    .and_then(Value::as_object)
                    .and_then(|d| d.get("DiscountPercent"))
                    .and_then(money::parse_bounded);
                let is_percent = line
                    .get("DiscountLineDetail")
                    .and_then(Value::as_object)
                    .and_then(|d| d.get("PercentBased"))
                    .and_then(Value::as_bool)
                    .unwrap_or(false);
                let amount = match (is_percent, percent, amount) {
                    (true, Some(p), _) => money::cents(subtotal * p / Decimal::from(100)),
                    (_, _, Some(a)) => money::cents(a),
                    _ => return Err(QboError::required("Line.Amount")),
                };
                line.insert("Amount".into(), money::to_json(amount));
                discount += amount;
            }
            "DescriptionOnly" => {
                line_num += 1;
                line.insert("LineNum".into(), json!(line_num));
                default(&mut line, "DescriptionLineDetail", json!({}));
            }
            other => return Err(QboError::invalid_enum("Line.DetailType", other)),
        }
        out_lines.push(Value::Object(line));
    }
    let taxed = tax::apply(obj, company, &customer, &mut out_lines, &currency)?;
    let subtotal = money::cents(taxed.subtotal);
    let tax = taxed.tax;
    out_lines.push(json!({"Amount": money::to_json(subtotal), "DetailType": "SubTotalLineDetail", "SubTotalLineDetail": {}}));
    obj.insert("Line".into(), Value::Array(out_lines));

    let total = money::cents(subtotal - discount + tax);
    if total < Decimal::ZERO {
        return Err(QboError::business(
            "Transaction amount must be positive or zero.",
        ));
    }
    if applied.amount > total {
        let what = if form == SalesForm::CreditMemo {
            "credit memo total"
        } else {
            "invoice total"
        };
        return Err(QboError::business(format!(
            "The {what} ({total}) cannot be less than the payments applied to it ({}).",
            applied.amount
        )));
    }
    obj.insert("TotalAmt".into(), money::to_json(total));
    let balance = match form {
        SalesForm::RefundReceipt => Decimal::ZERO,
        _ => money::cents(total - applied.amount),
    };
    if form != SalesForm::Template {
        obj.insert("Balance".into(), money::to_json(balance));
    }
    if form == SalesForm::CreditMemo {
        obj.insert("RemainingCredit".into(), money::to_json(balance));
    }
    tax::home_amounts(obj, company, &currency, total, balance)?;
    if form == SalesForm::Invoice {
        set_payment_links(obj, applied);
    }
    if form == SalesForm::Template {
        obj.remove("HomeBalance");
        // A template's dates come from its schedule.
        obj.remove("DueDate");
        obj.remove("TxnDate");
    } else {
        doc_number(form.entity(), obj, company, ctx)?;
        let date = txn_date(obj, ctx.today)?;
        if form == SalesForm::Invoice && text(obj, "DueDate").is_none() {
            let due_days = ref_id(obj, "SalesTermRef")
                .and_then(|t| {
                    company
                        .get("Term", &t)
                        .and_then(|r| r.value.get("DueDays"))
                        .and_then(Value::as_i64)
                })
                .unwrap_or(0);
            obj.insert(
                "DueDate".into(),
                json!(Duration::try_days(due_days)
                    .and_then(|d| date.checked_add_signed(d))
                    .unwrap_or(date)
                    .format("%Y-%m-%d")
                    .to_string()),
            );
        }
    }
    let statuses: &[(&str, [&str; 3])] = if form == SalesForm::RefundReceipt {
        &[("PrintStatus", ["NotSet", "NeedToPrint", "PrintComplete"])]
    } else {
        &[
            ("EmailStatus", ["NotSet", "NeedToSend", "EmailSent"]),
            ("PrintStatus", ["NotSet", "NeedToPrint", "PrintComplete"]),
        ]
    };
    for (key, allowed) in statuses {
        let value = text(obj, key).unwrap_or_else(|| "NotSet".into());
        if !allowed.contains(&value.as_str()) {
            return Err(QboError::invalid_enum(key, &value));
        }
        obj.insert((*key).into(), json!(value));
    }
    default(obj, "ApplyTaxAfterDiscount", json!(false));
    if form.invoice_like() {
        default(obj, "Deposit", json!(0));
        for key in [
            "AllowIPNPayment",
            "AllowOnlinePayment",
            "AllowOnlineCreditCardPayment",
            "AllowOnlineACHPayment",
        ] {
            default(obj, key, json!(false));
        }
    }
    Ok(())
}

/// Rewrites an invoice's LinkedTxn from the payments applied to it.
pub(crate) fn set_payment_links(obj: &mut Map<String, Value>, applied: &Applied) {
    if applied.payments.is_empty() {
        obj.remove("LinkedTxn");
    } else {
        let links: Vec<Value> = applied
            .payments
            .iter()
            .map(|(_, id)| json!({"TxnId": id, "TxnType": "Payment"}))
            .collect();
        obj.insert("LinkedTxn".into(), Value::Array(links));
    }
}

fn sales_line(line: &mut Map<String, Value>, company: &Company) -> Result<Decimal, QboError> {
    let detail_key = if line.get("DetailType").and_then(Value::as_str) == Some("GroupLineDetail") {
        "GroupLineDetail"
    } else {
        "SalesItemLineDetail"
    };
    let mut detail = line
        .get(detail_key)
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if detail_key == "SalesItemLineDetail" {
        if !detail.contains_key("ItemRef") {
            if company.get("Item", "1").is_some() {
                detail.insert("ItemRef".into(), json!({"value": "1"}));
            } else {
                return Err(QboError::required("Line.SalesItemLineDetail.ItemRef"));
            }
        }
        check_ref(company, &mut detail, "ItemRef", "Item")?;
        check_ref(company, &mut detail, "ClassRef", "Class")?;
        check_ref(company, &mut detail, "TaxCodeRef", "TaxCode")?;
        check_ref(company, &mut detail, "ItemAccountRef", "Account")?;
    }
    let qty = decimal_field(&detail, "Qty")?;
    let unit_price = decimal_field(&detail, "UnitPrice")?;
    let amount = decimal_field(line, "Amount")?;
    let amount = match (amount, unit_price, qty) {
        // python-quickbooks sends UnitPrice 0 and Qty 0 when unset: only a real pair is checked.
        (Some(a), Some(p), Some(q)) if !p.is_zero() && !q.is_zero() => {
            let expected = money::cents(p * q);
            if money::cents(a) != expected {
                return Err(QboError::validation(
                    "6070",
                    "A business validation error has occurred while processing your request",
                    format!("Business Validation Error: Amount is not equal to UnitPrice * Qty. Supplied value:{a}"),
                )
                .element("Line.Amount"));
            }
            money::cents(a)
        }
        (Some(a), _, _) => money::cents(a),
        (None, Some(p), Some(q)) => money::cents(p * q),
        _ => return Err(QboError::required("Line.Amount")),
    };
    if let Some(q) = qty {
        detail.insert("Qty".into(), money::to_json(q));
    }
    if let Some(p) = unit_price {
        detail.insert("UnitPrice".into(), money::to_json(p));
    }
    line.insert(detail_key.into(), Value::Object(detail));
    line.insert("Amount".into(), money::to_json(amount));
    Ok(amount)
}

fn doc_number(
    entity: &str,
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &TxnCtx,
) -> Result<(), QboError> {
    let doc = match text(obj, "DocNumber") {
        Some(doc) => doc,
        None => {
            let next = company
                .get_table(entity)
                .and_then(|t| t.largest_key(By::NumericDocNumber, ctx.id))
                .and_then(|n| n.parse::<u64>().ok())
                .map_or(1001, |n| n.saturating_add(1));
            next.to_string()
        }
    };
    if doc.chars().count() > 21 {
        return Err(QboError::too_long("DocNumber", 21));
    }
    if !ctx.allow_duplicate_doc_number {
        if let Some((id, _)) = company
            .find(entity, By::DocNumber, &doc.to_lowercase())
            .find(|(id, r)| id.as_str() != ctx.id && r.str("DocNumber") == Some(doc.as_str()))
        {
            return Err(QboError::duplicate_doc_number(&doc, entity, id));
        }
    }
    obj.insert("DocNumber".into(), json!(doc));
    Ok(())
}

/// Payment rules.
pub(crate) fn payment_rules(
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &TxnCtx,
) -> Result<(), QboError> {
    obj.remove("UnappliedAmt");
    let customer = require_ref(company, obj, "CustomerRef", "Customer")?;
    check_ref(company, obj, "ARAccountRef", "Account")?;
    if !obj.contains_key("DepositToAccountRef") {
        if let Some((id, _)) = company
            .list("Account")
            .into_iter()
            .find(|(_, a)| a.str("AccountSubType") == Some("UndepositedFunds"))
        {
            obj.insert("DepositToAccountRef".into(), json!({"value": id}));
        }
    }
    check_ref(company, obj, "DepositToAccountRef", "Account")?;
    let total = decimal_field(obj, "TotalAmt")?.ok_or_else(|| QboError::required("TotalAmt"))?;
    let total = money::cents(total);
    if total < Decimal::ZERO {
        return Err(QboError::business(
            "Transaction amount must be positive or zero.",
        ));
    }
    // Lines applying to invoices (or to nothing), and lines using a credit memo's credit.
    let mut applied_total = Decimal::ZERO;
    let mut credit_total = Decimal::ZERO;
    let mut out_lines = Vec::new();
    for mut line in lines(obj) {
        let amount = money::cents(
            decimal_field(&line, "Amount")?.ok_or_else(|| QboError::required("Line.Amount"))?,
        );
        if amount < Decimal::ZERO {
            return Err(QboError::business("Line amounts must be positive or zero."));
        }
        let mut links = Vec::new();
        let mut uses_credit = false;
        for linked in line
            .get("LinkedTxn")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(linked) = linked.as_object() else {
                continue;
            };
            let txn_id = linked
                .get("TxnId")
                .and_then(id_text)
                .ok_or_else(|| QboError::required("Line.LinkedTxn.TxnId"))?;
            let txn_type = text(linked, "TxnType")
                .ok_or_else(|| QboError::required("Line.LinkedTxn.TxnType"))?;
            let canonical = if txn_type.eq_ignore_ascii_case("Invoice") {
                "Invoice"
            } else if txn_type.eq_ignore_ascii_case("CreditMemo") {
                "CreditMemo"
            } else {
                return Err(QboError::invalid_reference(format!(
                    "{txn_type} (Id={txn_id}) cannot be linked by this emulator"
                )));
            };
            let linked_txn = company
                .get(canonical, &txn_id)
                .filter(|i| !i.voided)
                .ok_or_else(|| {
                    QboError::invalid_reference(format!(
                        "{canonical} (Id={txn_id}) does not exist or was voided"
                    ))
                    .element("Line.LinkedTxn")
                })?;
            if ref_id(&linked_txn.value, "CustomerRef").as_deref() != Some(customer.as_str()) {
                let what = if canonical == "Invoice" {
                    "Invoice"
                } else {
                    "Credit memo"
                };
                return Err(QboError::business(format!(
                    "{what} {txn_id} belongs to another customer than this payment."
                )));
            }
            let linked_total = linked_txn
                .value
                .get("TotalAmt")
                .and_then(money::parse)
                .unwrap_or_default();
            if canonical == "Invoice" {
                // What the other payments apply to it.
                let open = linked_total - payments_applied(company, &txn_id, Some(ctx.id)).amount;
                if amount > open {
                    return Err(QboError::business(format!(
                        "The amount applied to Invoice {txn_id} ({amount}) exceeds its open balance ({open})."
                    )));
                }
            } else {
                uses_credit = true;
                // What the other payments use of it.
                let remaining = linked_total - credits_used(company, &txn_id, Some(ctx.id)).amount;
                if amount > remaining {
                    return Err(QboError::business(format!(
                        "The amount used of CreditMemo {txn_id} ({amount}) exceeds its remaining credit ({remaining})."
                    )));
                }
            }
            let mut link = json!({"TxnId": txn_id, "TxnType": canonical});
            if let Some(line_id) = linked
                .get("TxnLineId")
                .and_then(id_text)
                .filter(|l| l != "0")
            {
                link["TxnLineId"] = json!(line_id);
            }
            links.push(link);
        }
        if uses_credit {
            if links.iter().any(|l| l["TxnType"] == "Invoice") {
                return Err(QboError::business(
                    "A payment line links either invoices or credit memos, not both.",
                ));
            }
            credit_total += amount;
        } else {
            applied_total += amount;
        }
        line.insert("Amount".into(), money::to_json(amount));
        if links.is_empty() {
            line.remove("LinkedTxn");
        } else {
            line.insert("LinkedTxn".into(), Value::Array(links));
        }
        out_lines.push(Value::Object(line));
    }
    // The invoice lines are paid by the payment's amount plus the credit used.
    let available = total + credit_total;
    if applied_total > available {
        return Err(QboError::business(format!(
            "The total amount applied ({applied_total}) exceeds the payment amount ({total}) plus the credit used ({credit_total})."
        )));
    }
    obj.insert("Line".into(), Value::Array(out_lines));
    obj.insert("TotalAmt".into(), money::to_json(total));
    obj.insert(
        "UnappliedAmt".into(),
        money::to_json(available - applied_total),
    );
    txn_date(obj, ctx.today)?;
    default(obj, "ProcessPayment", json!(false));
    default(
        obj,
        "CurrencyRef",
        currency_ref(&company.profile.home_currency),
    );
    Ok(())
}

/// JournalEntry rules.
pub(crate) fn journal_entry_rules(
    obj: &mut Map<String, Value>,
    company: &Company,
    ctx: &TxnCtx,
) -> Result<(), QboError> {
    obj.remove("TotalAmt");
    let input = lines(obj);
    if input.is_empty() {
        return Err(QboError::required("Line"));
    }
    let mut next_id = next_line_id(&input, 0);
    let (mut debits, mut credits) = (Decimal::ZERO, Decimal::ZERO);
    let (mut debit_lines, mut credit_lines) = (0, 0);
    let mut out = Vec::new();
    for mut line in input {
        let detail_type =
            text(&line, "DetailType").unwrap_or_else(|| "JournalEntryLineDetail".into());
        if detail_type != "JournalEntryLineDetail" {
            return Err(QboError::invalid_enum("Line.DetailType", &detail_type));
        }
        line.insert("DetailType".into(), json!(detail_type));
        if let Some(id) = line.get("Id").and_then(id_text) {
            line.insert("Id".into(), json!(id));
        } else {
            line.insert("Id".into(), json!(next_id.to_string()));
            next_id = next_id.saturating_add(1);
        }
        let amount = money::cents(
            decimal_field(&line, "Amount")?.ok_or_else(|| QboError::required("Line.Amount"))?,
        );
        if amount < Decimal::ZERO {
            return Err(QboError::business(
                "Journal entry line amounts must be positive; use PostingType for the side.",
            ));
        }
        line.insert("Amount".into(), money::to_json(amount));
        let mut detail = line
            .get("JournalEntryLineDetail")
            .and_then(Value::as_object)
            .cloned()
            .ok_or_else(|| QboError::required("Line.JournalEntryLineDetail"))?;
        let posting = text(&detail, "PostingType")
            .ok_or_else(|| QboError::required("Line.JournalEntryLineDetail.PostingType"))?;
        match posting.as_str() {
            "Debit" => {
                debits += amount;
                debit_lines += 1;
            }
            "Credit" => {
                credits += amount;
                credit_lines += 1;
            }
            other => return Err(QboError::invalid_enum("PostingType", other)),
        }
        require_ref(company, &mut detail, "AccountRef", "Account")?;
        check_ref(company, &mut detail, "ClassRef", "Class")?;
        check_ref(company, &mut detail, "DepartmentRef", "Department")?;
        check_ref(company, &mut detail, "TaxCodeRef", "TaxCode")?;
        if let Some(mut entity) = detail.get("Entity").and_then(Value::as_object).cloned() {
            let kind = text(&entity, "Type").unwrap_or_else(|| "Customer".into());
            if !["Customer", "Vendor", "Employee"].contains(&kind.as_str()) {
                return Err(QboError::invalid_enum("Entity.Type", &kind));
            }
            if let Some(id) = ref_id(&entity, "EntityRef") {
                entity.insert(
                    "EntityRef".into(),
                    normalised_ref(company, &kind, &id, "EntityRef")?,
                );
            }
            detail.insert("Entity".into(), Value::Object(entity));
        }
        line.insert("JournalEntryLineDetail".into(), Value::Object(detail));
        out.push(Value::Object(line));
    }
    if debit_lines == 0 || credit_lines == 0 {
        return Err(QboError::business(
            "A journal entry needs at least one debit line and one credit line.",
        ));
    }
    if debits != credits {
        return Err(QboError::business(format!(
            "You can't save this journal entry because debits ({debits:.2}) and credits ({credits:.2}) are not equal; the difference is {:.2}.",
            (debits - credits).abs()
        ))
        .element("Line"));
    }
    obj.insert("Line".into(), Value::Array(out));
    obj.insert("TotalAmt".into(), money::to_json(debits));
    txn_date(obj, ctx.today)?;
    default(obj, "Adjustment", json!(false));
    default(
        obj,
        "CurrencyRef",
        currency_ref(&company.profile.home_currency),
    );
    let _ = ctx.id;
    Ok(())
}

/// Zeroes a voided invoice: line amounts, totals, balance; PrivateNote "Voided".
pub(crate) fn void_invoice(obj: &mut Map<String, Value>) {
    if let Some(Value::Array(lines)) = obj.get_mut("Line") {
        for line in lines.iter_mut() {
            if let Some(line) = line.as_object_mut() {
                line.insert("Amount".into(), json!(0));
                if let Some(Value::Object(detail)) = line.get_mut("SalesItemLineDetail") {
                    detail.insert("Qty".into(), json!(0));
                }
            }
        }
    }
    if let Some(Value::Object(tax)) = obj.get_mut("TxnTaxDetail") {
        tax.insert("TotalTax".into(), json!(0));
        tax.remove("TaxLine");
    }
    obj.insert("TotalAmt".into(), json!(0));
    obj.insert("Balance".into(), json!(0));
    obj.insert("PrivateNote".into(), json!("Voided"));
    for home in ["HomeTotalAmt", "HomeBalance"] {
        if obj.contains_key(home) {
            obj.insert(home.into(), json!(0));
        }
    }
    obj.remove("LinkedTxn");
}

/// Zeroes a voided payment (fixture `payment_void_response.json`).
pub(crate) fn void_payment(obj: &mut Map<String, Value>) {
    obj.insert("TotalAmt".into(), json!(0));
    obj.insert("UnappliedAmt".into(), json!(0));
    obj.insert("PrivateNote".into(), json!("Voided"));
    if let Some(Value::Array(lines)) = obj.get_mut("Line") {
        for line in lines.iter_mut() {
            if let Some(line) = line.as_object_mut() {
                line.insert("Amount".into(), json!(0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_invoices_reads_each_line() {
        let payment = json!({"Line": [
            {"Amount": 10.5, "LinkedTxn": [{"TxnId": "3", "TxnType": "Invoice"}]},
            {"Amount": "4", "LinkedTxn": [{"TxnId": 4, "TxnType": "Invoice"}]},
            {"Amount": 1, "LinkedTxn": [{"TxnId": "9", "TxnType": "CreditMemo"}]}
        ]});
        let links = linked_invoices(payment.as_object().unwrap());
        assert_eq!(
            links,
            vec![
                ("3".to_string(), Decimal::new(105, 1)),
                ("4".to_string(), Decimal::from(4))
            ]
        );
    }
}
