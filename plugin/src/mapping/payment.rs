//! `apply-payment`: QBO Payment + the invoices it links -> Opportunity payment-status updates.
//!
//! The rules, in the order they apply:
//!
//! 1. **Replace, never add.** Every prior application of this payment id is first removed from
//!    every ledger, then (if the payment is active) one [`AppliedPayment`] per payment line is
//!    added, dated the payment's `txn-date`. Replaying a payment, or receiving an edited one,
//!    therefore replaces what was recorded: nothing is counted twice.
//! 2. **Order independence.** A ledger's applications are kept sorted by `txn-date`, then
//!    `payment-id` (lines of one payment keep their order), so the stored ledger is the same
//!    whatever order payments arrive in.
//! 3. **Reversal.** A voided or deleted payment applies nothing: its applications are taken back
//!    and the update of each invoice it had paid says `reversed`. QBO zeroes a voided payment's
//!    amounts and a deleted one arrives as a stub, so such a payment's lines and total are not
//!    validated and `unapplied` is 0.
//! 4. **Validation** (active payments): a line amount must be positive, the lines may not add
//!    up to more than `total-amt`, and every line must name an invoice in `invoices`
//!    (`unresolved-reference` otherwise). A ledger's own figures must be well formed too
//!    (non-negative total, positive applications, no invoice listed twice). Malformed input is
//!    reported first (`invalid-input`, every problem at once); unresolved invoices after that.
//! 5. **Status** (`payment_status`): nothing paid is `unpaid`, less than the total
//!    `partially-paid`, exactly the total `paid`, more `overpaid`. An invoice of total 0 with
//!    nothing paid owes nothing and is `paid` (QBO shows such invoices as paid), without a
//!    paid date.
//! 6. **Paid date** (`paid_date`): the date of the application that brought the cumulative
//!    amount paid (applications in `txn-date`, then `payment-id` order) to the total or beyond;
//!    none unless paid or overpaid.
//! 7. **Output.** Every touched ledger (it had or has this payment), sorted by invoice id; one
//!    update per touched ledger that has an Opportunity, in the same order. `open-balance` is
//!    `total-amt - amount-paid` and is negative when the invoice is overpaid. `unapplied` is
//!    `total-amt - sum(lines)` of an active payment: a customer credit.
//!
//! Amounts beyond 10^15 are refused so that exact arithmetic can never overflow.

use super::text::clean;
use crate::model::money::{out_of_range, MAX_AMOUNT};
use crate::model::{ErrorKind, FieldError, MappingError, PaymentState, PaymentStatus, QboPayment};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A payment already applied to an invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AppliedPayment {
    pub payment_id: String,
    pub amount: Decimal,
    pub txn_date: NaiveDate,
}

/// An invoice with what Ledgerlink knows of the payments applied to it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceLedger {
    pub invoice_id: String,
    pub opportunity_id: Option<String>,
    pub total_amt: Decimal,
    pub applied: Vec<AppliedPayment>,
}

/// Input of `apply-payment`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct PaymentInput {
    pub payment: QboPayment,
    pub invoices: Vec<InvoiceLedger>,
}

/// The payment fields to write on one Opportunity.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct OpportunityPaymentUpdate {
    pub opportunity_id: String,
    pub invoice_id: String,
    pub amount_paid: Decimal,
    pub open_balance: Decimal,
    pub status: PaymentStatus,
    pub paid_date: Option<NaiveDate>,
    pub reversed: bool,
}

/// Output of `apply-payment`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct PaymentOutput {
    pub invoices: Vec<InvoiceLedger>,
    pub updates: Vec<OpportunityPaymentUpdate>,
    pub unapplied: Decimal,
}

/// Applies (or reverses) a payment against the invoices it links.
pub fn apply_payment(input: &PaymentInput) -> Result<PaymentOutput, MappingError> {
    let payment = &input.payment;
    let record = format!("Payment {}", payment.id);
    let active = payment.state == PaymentState::Active;

    let problems = invalid_input(input, &record, active);
    if !problems.is_empty() {
        return Err(MappingError::new(ErrorKind::InvalidInput, problems));
    }
    if active {
        let unresolved = unresolved_invoices(input, &record);
        if !unresolved.is_empty() {
            return Err(MappingError::new(
                ErrorKind::UnresolvedReference,
                unresolved,
            ));
        }
    }

    let mut ledgers: Vec<&InvoiceLedger> = input.invoices.iter().collect();
    ledgers.sort_by(|a, b| a.invoice_id.cmp(&b.invoice_id));

    let mut invoices = Vec::new();
    let mut updates = Vec::new();
    for ledger in ledgers {
        let had = ledger.applied.iter().any(|a| a.payment_id == payment.id);
        let applied = reapply(&ledger.applied, payment, &ledger.invoice_id);
        let has = applied.iter().any(|a| a.payment_id == payment.id);
        if !had && !has {
            continue;
        }
        let updated = InvoiceLedger {
            applied,
            ..ledger.clone()
        };
        if let Some(opportunity_id) = clean(ledger.opportunity_id.as_deref()) {
            updates.push(opportunity_update(&updated, opportunity_id, had && !active));
        }
        invoices.push(updated);
    }

    Ok(PaymentOutput {
        invoices,
        updates,
        unapplied: in_cents(unapplied_amount(payment)),
    })
}

/// Rule 1 and 2: removes every application of `payment` from a ledger, adds one per line of an
/// active payment naming `invoice_id`, and keeps the applications in `txn-date`, `payment-id`
/// order.
fn reapply(
    applied: &[AppliedPayment],
    payment: &QboPayment,
    invoice_id: &str,
) -> Vec<AppliedPayment> {
    let mut kept: Vec<AppliedPayment> = applied
        .iter()
        .filter(|a| a.payment_id != payment.id)
        .cloned()
        .collect();
    if payment.state == PaymentState::Active {
        kept.extend(
            payment
                .lines
                .iter()
                .filter(|line| line.invoice_id.trim() == invoice_id.trim())
                .map(|line| AppliedPayment {
                    payment_id: payment.id.clone(),
                    amount: line.amount,
                    txn_date: payment.txn_date,
                }),
        );
    }
    // A stable sort: the lines of one payment keep their order.
    kept.sort_by(|a, b| (a.txn_date, &a.payment_id).cmp(&(b.txn_date, &b.payment_id)));
    kept
}

/// The Opportunity fields after this payment, for one ledger.
fn opportunity_update(
    ledger: &InvoiceLedger,
    opportunity_id: String,
    reversed: bool,
) -> OpportunityPaymentUpdate {
    let amount_paid: Decimal = ledger.applied.iter().map(|a| a.amount).sum();
    let status = payment_status(amount_paid, ledger.total_amt);
    let paid_date = match status {
        PaymentStatus::Paid | PaymentStatus::Overpaid => {
            paid_date(&ledger.applied, ledger.total_amt)
        }
        PaymentStatus::Unpaid | PaymentStatus::PartiallyPaid => None,
    };
    OpportunityPaymentUpdate {
        opportunity_id,
        invoice_id: ledger.invoice_id.clone(),
        amount_paid: in_cents(amount_paid),
        open_balance: in_cents(ledger.total_amt - amount_paid),
        status,
        paid_date,
        reversed,
    }
}

/// Rule 5: the payment status of an invoice of `total` with `paid` applied to it.
fn payment_status(paid: Decimal, total: Decimal) -> PaymentStatus {
    if paid > total {
        PaymentStatus::Overpaid
    } else if paid == total {
        PaymentStatus::Paid
    } else if paid.is_zero() {
        PaymentStatus::Unpaid
    } else {
        PaymentStatus::PartiallyPaid
    }
}

/// Rule 6: the date of the application that brought the cumulative amount paid to `total` or
/// beyond, applications taken in `txn-date`, then `payment-id` order.
fn paid_date(applied: &[AppliedPayment], total: Decimal) -> Option<NaiveDate> {
    let mut ordered: Vec<&AppliedPayment> = applied.iter().collect();
    ordered.sort_by(|a, b| (a.txn_date, &a.payment_id).cmp(&(b.txn_date, &b.payment_id)));
    let mut paid = Decimal::ZERO;
    for application in ordered {
        paid += application.amount;
        if paid >= total {
            return Some(application.txn_date);
        }
    }
    None
}

/// Rule 7: the part of an active payment not applied to any invoice; 0 for a voided or
/// deleted payment.
fn unapplied_amount(payment: &QboPayment) -> Decimal {
    match payment.state {
        PaymentState::Active => {
            payment.total_amt - payment.lines.iter().map(|l| l.amount).sum::<Decimal>()
        }
        PaymentState::Voided | PaymentState::Deleted => Decimal::ZERO,
    }
}

/// Rule 4: every malformed field of the payment and the ledgers.
fn invalid_input(input: &PaymentInput, record: &str, active: bool) -> Vec<FieldError> {
    let payment = &input.payment;
    let mut problems = Vec::new();
    if payment.id.trim().is_empty() {
        problems.push(FieldError::new(record, "id", "the payment id is empty"));
    }
    if active {
        let mut amounts_in_range = true;
        if payment.total_amt < Decimal::ZERO {
            problems.push(FieldError::new(
                record,
                "total-amt",
                format!(
                    "is {}; a payment total cannot be negative",
                    payment.total_amt
                ),
            ));
        }
        if payment.total_amt.abs() > MAX_AMOUNT {
            amounts_in_range = false;
            problems.push(out_of_range(record, "total-amt", payment.total_amt));
        }
        for (i, line) in payment.lines.iter().enumerate() {
            if line.invoice_id.trim().is_empty() {
                problems.push(FieldError::new(
                    record,
                    format!("lines[{i}].invoice-id"),
                    "names no invoice",
                ));
            }
            if line.amount.abs() > MAX_AMOUNT {
                amounts_in_range = false;
                problems.push(out_of_range(
                    record,
                    &format!("lines[{i}].amount"),
                    line.amount,
                ));
            } else if line.amount <= Decimal::ZERO {
                problems.push(FieldError::new(
                    record,
                    format!("lines[{i}].amount"),
                    format!(
                        "is {}; an amount applied to invoice {} must be positive",
                        line.amount, line.invoice_id
                    ),
                ));
            }
        }
        if amounts_in_range {
            let applied: Decimal = payment.lines.iter().map(|l| l.amount).sum();
            if applied > payment.total_amt {
                problems.push(FieldError::new(
                    record,
                    "total-amt",
                    format!(
                        "is {} but the lines apply {}; a payment cannot apply more than its total",
                        payment.total_amt, applied
                    ),
                ));
            }
        }
    }

    let mut seen: Vec<&str> = Vec::new();
    for (j, ledger) in input.invoices.iter().enumerate() {
        let invoice = format!("Invoice {}", ledger.invoice_id);
        let id = ledger.invoice_id.trim();
        if id.is_empty() {
            problems.push(FieldError::new(
                &invoice,
                format!("invoices[{j}].invoice-id"),
                "the invoice id is empty",
            ));
        } else if seen.contains(&id) {
            problems.push(FieldError::new(
                &invoice,
                format!("invoices[{j}].invoice-id"),
                "the invoice is listed twice; each invoice needs exactly one ledger",
            ));
        } else {
            seen.push(id);
        }
        if ledger.total_amt.abs() > MAX_AMOUNT {
            problems.push(out_of_range(
                &invoice,
                &format!("invoices[{j}].total-amt"),
                ledger.total_amt,
            ));
        } else if ledger.total_amt < Decimal::ZERO {
            problems.push(FieldError::new(
                &invoice,
                format!("invoices[{j}].total-amt"),
                format!(
                    "is {}; an invoice total cannot be negative",
                    ledger.total_amt
                ),
            ));
        }
        for (k, application) in ledger.applied.iter().enumerate() {
            let field = format!("invoices[{j}].applied[{k}].amount");
            if application.amount.abs() > MAX_AMOUNT {
                problems.push(out_of_range(&invoice, &field, application.amount));
            } else if application.amount <= Decimal::ZERO {
                problems.push(FieldError::new(
                    &invoice,
                    field,
                    format!(
                        "is {}; payment {} must have applied a positive amount",
                        application.amount, application.payment_id
                    ),
                ));
            }
        }
    }
    problems
}

/// Rule 4: the lines of an active payment naming an invoice that is not in `invoices`.
fn unresolved_invoices(input: &PaymentInput, record: &str) -> Vec<FieldError> {
    input
        .payment
        .lines
        .iter()
        .enumerate()
        .filter(|(_, line)| {
            !input
                .invoices
                .iter()
                .any(|ledger| ledger.invoice_id.trim() == line.invoice_id.trim())
        })
        .map(|(i, line)| {
            FieldError::new(
                record,
                format!("lines[{i}].invoice-id"),
                format!(
                    "invoice {} was not supplied with the payment; its ledger is needed to apply {}",
                    line.invoice_id, line.amount
                ),
            )
        })
        .collect()
}

/// Output money shows at least cents ("0.00", not "0") and never a negative zero.
fn in_cents(amount: Decimal) -> Decimal {
    let mut shown = amount;
    if shown.scale() < 2 {
        shown.rescale(2);
    }
    if shown.is_zero() {
        shown.set_sign_positive(true);
    }
    shown
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::PaymentLine;
    use rust_decimal_macros::dec;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn payment(id: &str, on: &str, total: Decimal, lines: &[(&str, Decimal)]) -> QboPayment {
        QboPayment {
            id: id.into(),
            txn_date: date(on),
            customer: None,
            total_amt: total,
            lines: lines
                .iter()
                .map(|(invoice, amount)| PaymentLine {
                    invoice_id: (*invoice).into(),
                    amount: *amount,
                })
                .collect(),
            state: PaymentState::Active,
        }
    }

    fn ledger(id: &str, total: Decimal) -> InvoiceLedger {
        InvoiceLedger {
            invoice_id: id.into(),
            opportunity_id: Some(format!("006{id}")),
            total_amt: total,
            applied: vec![],
        }
    }

    fn applied(payment_id: &str, amount: Decimal, on: &str) -> AppliedPayment {
        AppliedPayment {
            payment_id: payment_id.into(),
            amount,
            txn_date: date(on),
        }
    }

    fn apply(payment: QboPayment, invoices: Vec<InvoiceLedger>) -> PaymentOutput {
        apply_payment(&PaymentInput { payment, invoices }).unwrap()
    }

    fn refuse(payment: QboPayment, invoices: Vec<InvoiceLedger>) -> MappingError {
        apply_payment(&PaymentInput { payment, invoices }).unwrap_err()
    }

    #[test]
    fn full_payment_marks_the_invoice_paid_on_the_payment_date() {
        let out = apply(
            payment("P1", "2024-03-10", dec!(100.00), &[("42", dec!(100.00))]),
            vec![ledger("42", dec!(100.00))],
        );
        let update = &out.updates[0];
        assert_eq!(update.opportunity_id, "00642");
        assert_eq!(update.amount_paid, dec!(100.00));
        assert_eq!(update.open_balance, dec!(0));
        assert_eq!(update.status, PaymentStatus::Paid);
        assert_eq!(update.paid_date, Some(date("2024-03-10")));
        assert!(!update.reversed);
        assert_eq!(
            out.invoices[0].applied,
            vec![applied("P1", dec!(100.00), "2024-03-10")]
        );
        assert_eq!(out.unapplied, dec!(0));
    }

    #[test]
    fn one_payment_applies_to_several_invoices_sorted_by_invoice_id() {
        let out = apply(
            payment(
                "P1",
                "2024-03-10",
                dec!(350.00),
                &[("43", dec!(250.00)), ("42", dec!(100.00))],
            ),
            vec![ledger("43", dec!(250.00)), ledger("42", dec!(100.00))],
        );
        let ids: Vec<_> = out.invoices.iter().map(|l| l.invoice_id.as_str()).collect();
        assert_eq!(ids, ["42", "43"]);
        let ids: Vec<_> = out.updates.iter().map(|u| u.invoice_id.as_str()).collect();
        assert_eq!(ids, ["42", "43"]);
        assert!(out.updates.iter().all(|u| u.status == PaymentStatus::Paid));
    }

    #[test]
    fn partial_payment_is_partially_paid_without_paid_date() {
        let out = apply(
            payment("P1", "2024-03-10", dec!(40.00), &[("42", dec!(40.00))]),
            vec![ledger("42", dec!(100.00))],
        );
        let update = &out.updates[0];
        assert_eq!(update.status, PaymentStatus::PartiallyPaid);
        assert_eq!(update.open_balance, dec!(60.00));
        assert_eq!(update.paid_date, None);
    }

    #[test]
    fn paid_date_is_when_the_cumulative_payments_reach_the_total() {
        let mut invoice = ledger("42", dec!(100.00));
        invoice.applied = vec![
            applied("P9", dec!(30.00), "2024-03-20"),
            applied("P1", dec!(40.00), "2024-03-01"),
        ];
        let out = apply(
            payment("P5", "2024-03-25", dec!(50.00), &[("42", dec!(50.00))]),
            vec![invoice],
        );
        let update = &out.updates[0];
        assert_eq!(update.amount_paid, dec!(120.00));
        assert_eq!(update.status, PaymentStatus::Overpaid);
        assert_eq!(update.open_balance, dec!(-20.00));
        assert_eq!(update.paid_date, Some(date("2024-03-25")));
        // The stored ledger is in date order whatever order it arrived in.
        let ids: Vec<_> = out.invoices[0]
            .applied
            .iter()
            .map(|a| a.payment_id.as_str())
            .collect();
        assert_eq!(ids, ["P1", "P9", "P5"]);
    }

    #[test]
    fn multiple_payments_per_invoice_add_up() {
        let first = apply(
            payment("P1", "2024-03-01", dec!(60.00), &[("42", dec!(60.00))]),
            vec![ledger("42", dec!(100.00))],
        );
        let second = apply(
            payment("P2", "2024-03-05", dec!(40.00), &[("42", dec!(40.00))]),
            first.invoices,
        );
        assert_eq!(second.updates[0].amount_paid, dec!(100.00));
        assert_eq!(second.updates[0].status, PaymentStatus::Paid);
        assert_eq!(second.updates[0].paid_date, Some(date("2024-03-05")));
    }

    #[test]
    fn payments_in_any_order_give_the_same_ledger() {
        let p1 = payment("P1", "2024-03-01", dec!(60.00), &[("42", dec!(60.00))]);
        let p2 = payment("P2", "2024-03-05", dec!(40.00), &[("42", dec!(40.00))]);
        let a = apply(
            p2.clone(),
            apply(p1.clone(), vec![ledger("42", dec!(100))]).invoices,
        );
        let b = apply(p1, apply(p2, vec![ledger("42", dec!(100))]).invoices);
        assert_eq!(a.invoices, b.invoices);
        assert_eq!(a.updates[0].paid_date, b.updates[0].paid_date);
    }

    #[test]
    fn replayed_payment_is_not_counted_twice() {
        let p = payment("P1", "2024-03-10", dec!(40.00), &[("42", dec!(40.00))]);
        let once = apply(p.clone(), vec![ledger("42", dec!(100.00))]);
        let twice = apply(p, once.invoices.clone());
        assert_eq!(twice.invoices, once.invoices);
        assert_eq!(twice.updates, once.updates);
        assert_eq!(twice.updates[0].amount_paid, dec!(40.00));
    }

    #[test]
    fn edited_payment_replaces_its_old_application() {
        let before = apply(
            payment(
                "P1",
                "2024-03-10",
                dec!(40.01),
                &[("42", dec!(40.00)), ("43", dec!(0.01))],
            ),
            vec![ledger("42", dec!(100.00)), ledger("43", dec!(50.00))],
        );
        // The payment is edited: more on 42, nothing on 43 any more.
        let after = apply(
            payment("P1", "2024-03-11", dec!(100.00), &[("42", dec!(100.00))]),
            before.invoices,
        );
        assert_eq!(
            after.invoices.len(),
            2,
            "43 had the payment, so it is touched"
        );
        assert_eq!(
            after.invoices[0].applied,
            vec![applied("P1", dec!(100.00), "2024-03-11")]
        );
        assert!(after.invoices[1].applied.is_empty());
        assert_eq!(after.updates[0].status, PaymentStatus::Paid);
        assert_eq!(after.updates[1].status, PaymentStatus::Unpaid);
        assert_eq!(after.updates[1].open_balance, dec!(50.00));
        assert!(!after.updates[1].reversed, "an edit is not a reversal");
    }

    #[test]
    fn voided_payment_is_reversed() {
        let mut invoice = ledger("42", dec!(100.00));
        invoice.applied = vec![
            applied("P0", dec!(20.00), "2024-02-01"),
            applied("P1", dec!(80.00), "2024-03-10"),
        ];
        let mut voided = payment("P1", "2024-03-10", dec!(0), &[]);
        voided.state = PaymentState::Voided;
        let out = apply(voided, vec![invoice]);
        let update = &out.updates[0];
        assert!(update.reversed);
        assert_eq!(update.amount_paid, dec!(20.00));
        assert_eq!(update.open_balance, dec!(80.00));
        assert_eq!(update.status, PaymentStatus::PartiallyPaid);
        assert_eq!(update.paid_date, None);
        assert_eq!(
            out.invoices[0].applied,
            vec![applied("P0", dec!(20.00), "2024-02-01")]
        );
        assert_eq!(out.unapplied, dec!(0));
    }

    #[test]
    fn deleted_payment_is_reversed_and_its_stub_lines_are_not_validated() {
        let mut invoice = ledger("42", dec!(100.00));
        invoice.applied = vec![applied("P1", dec!(100.00), "2024-03-10")];
        // A deleted payment arrives as a stub: whatever its lines say is ignored.
        let mut deleted = payment("P1", "2024-03-10", dec!(0), &[("99", dec!(0))]);
        deleted.state = PaymentState::Deleted;
        let out = apply(deleted, vec![invoice]);
        assert!(out.updates[0].reversed);
        assert_eq!(out.updates[0].status, PaymentStatus::Unpaid);
        assert_eq!(out.updates[0].amount_paid, dec!(0));
    }

    #[test]
    fn voided_payment_not_applied_to_an_invoice_does_not_touch_it() {
        let mut voided = payment("P1", "2024-03-10", dec!(0), &[]);
        voided.state = PaymentState::Voided;
        let out = apply(voided, vec![ledger("42", dec!(100.00))]);
        assert!(out.invoices.is_empty());
        assert!(out.updates.is_empty());
    }

    #[test]
    fn unapplied_amount_is_a_customer_credit() {
        let out = apply(
            payment("P1", "2024-03-10", dec!(150.00), &[("42", dec!(100.00))]),
            vec![ledger("42", dec!(100.00))],
        );
        assert_eq!(out.unapplied, dec!(50.00));
    }

    #[test]
    fn payment_status_follows_amount_paid_against_total() {
        assert_eq!(payment_status(dec!(0), dec!(10)), PaymentStatus::Unpaid);
        assert_eq!(
            payment_status(dec!(0.01), dec!(10)),
            PaymentStatus::PartiallyPaid
        );
        assert_eq!(payment_status(dec!(10.00), dec!(10)), PaymentStatus::Paid);
        assert_eq!(
            payment_status(dec!(10.01), dec!(10)),
            PaymentStatus::Overpaid
        );
    }

    #[test]
    fn zero_total_invoice_owes_nothing() {
        assert_eq!(payment_status(dec!(0), dec!(0)), PaymentStatus::Paid);
        let out = apply(
            payment("P1", "2024-03-10", dec!(5.00), &[("42", dec!(5.00))]),
            vec![ledger("42", dec!(0.00))],
        );
        assert_eq!(out.updates[0].status, PaymentStatus::Overpaid);
        assert_eq!(out.updates[0].open_balance, dec!(-5.00));
        assert_eq!(out.updates[0].paid_date, Some(date("2024-03-10")));
    }

    #[test]
    fn invoice_without_opportunity_has_a_ledger_but_no_update() {
        let mut invoice = ledger("42", dec!(100.00));
        invoice.opportunity_id = None;
        let out = apply(
            payment("P1", "2024-03-10", dec!(100.00), &[("42", dec!(100.00))]),
            vec![invoice],
        );
        assert_eq!(out.invoices.len(), 1);
        assert!(out.updates.is_empty());
    }

    #[test]
    fn line_naming_an_unknown_invoice_is_unresolved() {
        let err = refuse(
            payment(
                "P1",
                "2024-03-10",
                dec!(100.00),
                &[("42", dec!(60)), ("77", dec!(40))],
            ),
            vec![ledger("42", dec!(100.00))],
        );
        assert_eq!(err.kind, ErrorKind::UnresolvedReference);
        assert_eq!(err.errors.len(), 1);
        assert_eq!(err.errors[0].record_id, "Payment P1");
        assert_eq!(err.errors[0].field, "lines[1].invoice-id");
        assert!(err.errors[0].reason.contains("77"));
    }

    #[test]
    fn line_amount_must_be_positive_and_every_problem_is_reported() {
        let err = refuse(
            payment(
                "P1",
                "2024-03-10",
                dec!(100.00),
                &[("42", dec!(0)), ("43", dec!(-5))],
            ),
            vec![ledger("42", dec!(100.00)), ledger("43", dec!(100.00))],
        );
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["lines[0].amount", "lines[1].amount"]);
        assert!(err.errors.iter().all(|e| e.record_id == "Payment P1"));
    }

    #[test]
    fn lines_may_not_apply_more_than_the_payment_total() {
        let err = refuse(
            payment(
                "P1",
                "2024-03-10",
                dec!(100.00),
                &[("42", dec!(60)), ("43", dec!(40.01))],
            ),
            vec![ledger("42", dec!(100.00)), ledger("43", dec!(100.00))],
        );
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].field, "total-amt");
        assert!(err.errors[0].reason.contains("100.01"));
    }

    #[test]
    fn malformed_ledgers_are_refused_naming_the_invoice() {
        let mut bad = ledger("43", dec!(-1));
        bad.applied = vec![applied("P0", dec!(0), "2024-01-01")];
        let err = refuse(
            payment("P1", "2024-03-10", dec!(10.00), &[("42", dec!(10))]),
            vec![ledger("42", dec!(100.00)), bad, ledger("42", dec!(100.00))],
        );
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let found: Vec<_> = err
            .errors
            .iter()
            .map(|e| (e.record_id.as_str(), e.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("Invoice 43", "invoices[1].total-amt"),
                ("Invoice 43", "invoices[1].applied[0].amount"),
                ("Invoice 42", "invoices[2].invoice-id"),
            ]
        );
    }

    #[test]
    fn absurd_amounts_are_refused_not_overflowed() {
        let err = refuse(
            payment(
                "P1",
                "2024-03-10",
                Decimal::MAX,
                &[("42", Decimal::MAX), ("42", Decimal::MAX)],
            ),
            vec![ledger("42", Decimal::MAX)],
        );
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_i64));
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<PaymentInput, _>(
            "apply-payment",
            apply_payment,
        );
    }
}
