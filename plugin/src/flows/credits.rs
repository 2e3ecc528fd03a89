//! Which invoice a QBO credit memo or refund receipt counts against, and how much of it.
//!
//! QBO links a credit memo to an invoice only when a payment applies it (the payment flow
//! counts that part). A refund receipt, and the part of a credit memo no payment applied
//! (`RemainingCredit`), name no invoice in QBO's data model, so they are attributed by these
//! rules, first match wins:
//!
//! 1. a `LinkedTxn` of type `Invoice` that Ledgerlink links to a Salesforce record;
//! 2. the `DocNumber` of one of the customer's linked invoices written in the document's memo
//!    (`PrivateNote` or `CustomerMemo`), as a whole word (e.g. "refund for invoice 1042");
//! 3. the customer's linked invoices all belong to one Salesforce record: its latest invoice
//!    dated on or before the document (else its latest).
//!
//! Otherwise the document is a customer-level credit: reported, counted by the reconciliation
//! in its period, and written to no record.
//!
//! State (bucket `state`): `credited/{CreditMemo|RefundReceipt}/{Id}` is the invoice a
//! document was last counted against, so an edit or a delete moves or removes it;
//! `credit-applied/{CreditMemo Id}` the invoice a payment applied a credit memo to.

use super::context::Ctx;
use super::links::{self, Owner};
use super::report::Failure;
use super::settlement::{adjustments, Pending};
use super::state::STATE;
use crate::clients::json::{date, money, text};
use crate::clients::quickbooks::literal;
use crate::clients::quickbooks_json::reference;
use crate::mapping::{Adjustment, AdjustmentKind};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde_json::Value;

/// The QBO entity of a kind.
pub fn entity(kind: AdjustmentKind) -> &'static str {
    match kind {
        AdjustmentKind::CreditMemo => "CreditMemo",
        AdjustmentKind::Refund => "RefundReceipt",
    }
}

fn credited_key(kind: AdjustmentKind, id: &str) -> String {
    format!("credited/{}/{id}", entity(kind))
}

fn applied_key(memo_id: &str) -> String {
    format!("credit-applied/{memo_id}")
}

/// The invoice a document counts against: where it was attributed, else (a credit memo) the
/// invoice a payment applied it to.
pub fn invoice_of(ctx: &Ctx<'_>, kind: AdjustmentKind, id: &str) -> Result<Option<String>, String> {
    if let Some(invoice) = ctx.state.get(STATE, &credited_key(kind, id))? {
        return Ok(Some(invoice));
    }
    match kind {
        AdjustmentKind::CreditMemo => ctx.state.get(STATE, &applied_key(id)),
        AdjustmentKind::Refund => Ok(None),
    }
}

/// Notes that a payment applied credit memo `memo_id` to invoice `invoice_id`.
pub fn store_applied(ctx: &Ctx<'_>, memo_id: &str, invoice_id: &str) -> Result<(), String> {
    ctx.state.put(STATE, &applied_key(memo_id), &invoice_id)
}

/// A document's attribution, to be stored once Salesforce took the figures.
pub struct Attribution {
    /// The kind.
    pub kind: AdjustmentKind,
    /// The document's id.
    pub id: String,
    /// The invoice it now counts against (none: it counts against none).
    pub invoice_id: Option<String>,
    /// The amount counted.
    pub amount: Decimal,
}

impl Attribution {
    /// Stores where the document now counts.
    pub fn store(&self, ctx: &Ctx<'_>) -> Result<(), String> {
        match &self.invoice_id {
            Some(invoice) => ctx
                .state
                .put(STATE, &credited_key(self.kind, &self.id), invoice),
            None => ctx.state.delete(STATE, &credited_key(self.kind, &self.id)),
        }
    }
}

/// Counts document `value` (deleted: nothing) against the invoice the rules find, moving it
/// from where it counted before; the changed adjustments go to `pending`, and the invoices whose
/// figures changed (old and new) are returned with their records.
pub fn attribute(
    ctx: &Ctx<'_>,
    kind: AdjustmentKind,
    value: &Value,
    deleted: bool,
    pending: &mut Pending,
) -> Result<(Attribution, Vec<(String, Owner)>), Failure> {
    let id = text(value, "Id").unwrap_or_default();
    let amount = if deleted || is_voided(value) {
        Decimal::ZERO
    } else {
        match kind {
            // The part a payment applied is counted through that payment.
            AdjustmentKind::CreditMemo => money(value, "RemainingCredit")
                .or_else(|| money(value, "Balance"))
                .or_else(|| money(value, "TotalAmt"))
                .unwrap_or_default(),
            AdjustmentKind::Refund => money(value, "TotalAmt").unwrap_or_default(),
        }
    };
    let before: Option<String> = ctx
        .state
        .get(STATE, &credited_key(kind, &id))
        .map_err(Failure::Invalid)?;
    let target = if amount > Decimal::ZERO {
        target_invoice(ctx, kind, &id, value)?
    } else {
        None
    };
    let mut touched = Vec::new();
    let txn_date = date(value, "TxnDate").unwrap_or_else(|| ctx.today());
    for invoice in before.iter().chain(target.iter()) {
        if touched.iter().any(|(i, _): &(String, Owner)| i == invoice) {
            continue;
        }
        let mut adj = match pending.adjustments.get(invoice) {
            Some(a) => a.clone(),
            None => adjustments(ctx, invoice).map_err(Failure::Invalid)?,
        };
        let with = (target.as_deref() == Some(invoice.as_str())).then(|| Adjustment {
            kind,
            document_id: id.clone(),
            via_payment: None,
            amount,
            txn_date,
        });
        let was = adj.clone();
        adj.replace(kind, &id, None, with);
        if adj == was {
            continue;
        }
        pending.adjustments.insert(invoice.clone(), adj);
        if let Some(owner) = links::invoice_owner(ctx, invoice).map_err(Failure::Invalid)? {
            touched.push((invoice.clone(), owner));
        }
    }
    Ok((
        Attribution {
            kind,
            id,
            invoice_id: target,
            amount,
        },
        touched,
    ))
}

/// QBO zeroes a voided transaction and notes it.
fn is_voided(value: &Value) -> bool {
    text(value, "PrivateNote").is_some_and(|n| n.starts_with("Voided"))
}

/// Rules 1 to 3.
fn target_invoice(
    ctx: &Ctx<'_>,
    kind: AdjustmentKind,
    id: &str,
    value: &Value,
) -> Result<Option<String>, Failure> {
    for linked in value
        .get("LinkedTxn")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if linked.get("TxnType").and_then(Value::as_str) == Some("Invoice") {
            if let Some(invoice) = text(linked, "TxnId") {
                if links::invoice_owner(ctx, &invoice)
                    .map_err(Failure::Invalid)?
                    .is_some()
                {
                    return Ok(Some(invoice));
                }
            }
        }
    }
    let Some(customer) = reference(value, "CustomerRef") else {
        return Ok(None);
    };
    let rows = ctx
        .qbo
        .query(&format!(
            "select Id, DocNumber, TxnDate from Invoice where CustomerRef = {}",
            literal(&customer.value)
        ))
        .map_err(|e| {
            Failure::Related(format!("{} {id}: the customer's invoices", entity(kind)), e)
        })?;
    let mut owned: Vec<(String, Option<String>, Option<NaiveDate>, Owner)> = Vec::new();
    for row in rows {
        let Some(invoice) = text(&row, "Id") else {
            continue;
        };
        if let Some(owner) = links::invoice_owner(ctx, &invoice).map_err(Failure::Invalid)? {
            owned.push((
                invoice,
                text(&row, "DocNumber"),
                date(&row, "TxnDate"),
                owner,
            ));
        }
    }
    let memo = [
        text(value, "PrivateNote"),
        value.get("CustomerMemo").and_then(|m| text(m, "value")),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let named: Vec<&String> = owned
        .iter()
        .filter(|(_, doc, _, _)| doc.as_deref().is_some_and(|d| names_word(&memo, d)))
        .map(|(invoice, _, _, _)| invoice)
        .collect();
    if let [one] = named.as_slice() {
        return Ok(Some((*one).clone()));
    }
    let first_owner = owned.first().map(|o| &o.3);
    if first_owner.is_none() || owned.iter().any(|o| Some(&o.3) != first_owner) {
        return Ok(None);
    }
    let dated = date(value, "TxnDate");
    let pick = owned
        .iter()
        .filter(|o| dated.is_none() || o.2 <= dated)
        .max_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0)))
        .or_else(|| owned.iter().max_by(|a, b| (a.2, &a.0).cmp(&(b.2, &b.0))));
    Ok(pick.map(|o| o.0.clone()))
}

/// True when `word` appears in `text` with no letter or digit on either side.
fn names_word(text: &str, word: &str) -> bool {
    let word = word.trim();
    if word.is_empty() {
        return false;
    }
    let hay = text.to_lowercase();
    let needle = word.to_lowercase();
    let mut from = 0;
    while let Some(at) = hay[from..].find(&needle) {
        let start = from + at;
        let end = start + needle.len();
        let before = hay[..start].chars().next_back();
        let after = hay[end..].chars().next();
        if !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric) {
            return true;
        }
        from = start + needle.len().max(1);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::names_word;

    #[test]
    fn an_invoice_number_is_named_only_as_a_whole_word() {
        assert!(names_word("Refund for invoice 1042.", "1042"));
        assert!(names_word("re: SF-1042", "sf-1042"));
        assert!(!names_word("Refund for invoice 10421", "1042"));
        assert!(!names_word("order A1042", "1042"));
        assert!(!names_word("anything", ""));
    }
}
