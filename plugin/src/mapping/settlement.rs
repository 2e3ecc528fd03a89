//! What a Salesforce record's QBO invoices come to once payments, credits and refunds are
//! counted: the figures written to its Opportunity (or Invoice record). Pure; the flows gather
//! the inputs.
//!
//! The rules:
//!
//! 1. **Live invoices only.** A voided or deleted invoice bills nothing, and nothing applied to
//!    it counts (QBO unlinks a voided invoice's payments, which become the customer's credit).
//!    With no live invoice left the status is `voided` (some voided) or `invoice-deleted`, every
//!    amount 0.
//! 2. **Invoiced** is the sum of the live invoices' totals.
//! 3. **Credited** is every credit memo amount counted against the invoices: the part a payment
//!    applied (QBO's way of applying a credit) and the part attributed directly.
//! 4. **Paid** is cash kept: the payments' applications minus the credit they carried, minus
//!    refunds. A refund is money given back, so it lowers what was paid, never what was billed.
//! 5. **Open balance** = invoiced - credited - paid; negative when the customer is in credit.
//! 6. **Status:** open < 0 `overpaid`; open = 0 `paid`, or `credited` when nothing was paid and
//!    a credit settled it; open > 0 `unpaid` when nothing was paid, else `partially-paid`.
//! 7. **Paid date:** the date of the event (payment, credit, refund, in date then id order)
//!    after which the balance last fell to 0 or below; none unless paid or overpaid.
//!
//! Amounts are exact decimals, rounded to cents only at the end ([`in_cents`]).

use super::payment::AppliedPayment;
use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

/// What a credit or a refund is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AdjustmentKind {
    /// A QBO CreditMemo (applied through a payment, or attributed directly).
    CreditMemo,
    /// A QBO RefundReceipt.
    Refund,
}

/// A credit or a refund counted against one invoice.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Adjustment {
    /// Credit memo or refund.
    pub kind: AdjustmentKind,
    /// The QBO document's id.
    pub document_id: String,
    /// The payment that applied the credit, when a payment did; its application of the invoice
    /// then includes this amount.
    pub via_payment: Option<String>,
    /// Positive amount.
    pub amount: Decimal,
    /// The document's (or the applying payment's) date.
    pub txn_date: NaiveDate,
}

/// Whether an invoice still bills.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum InvoiceState {
    /// Live.
    #[default]
    Open,
    /// Voided in QBO.
    Voided,
    /// Deleted in QBO.
    Deleted,
}

/// One invoice and what is counted against it.
#[derive(Clone, Debug, PartialEq)]
pub struct InvoiceMoney {
    /// QBO Invoice Id.
    pub invoice_id: String,
    /// Its total.
    pub total_amt: Decimal,
    /// Live, voided or deleted.
    pub state: InvoiceState,
    /// Payment applications (cash and the credit a payment carried).
    pub applied: Vec<AppliedPayment>,
    /// Credits and refunds.
    pub adjustments: Vec<Adjustment>,
}

/// The payment status written to Salesforce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SettlementStatus {
    /// Nothing paid.
    Unpaid,
    /// Some paid, some open.
    PartiallyPaid,
    /// Nothing open.
    Paid,
    /// Settled by credit alone.
    Credited,
    /// The customer is in credit.
    Overpaid,
    /// Every invoice voided.
    Voided,
    /// Every invoice deleted (or voided and deleted).
    InvoiceDeleted,
}

impl SettlementStatus {
    /// The picklist value of `Payment_Status__c`.
    pub fn label(self) -> &'static str {
        match self {
            Self::Unpaid => "Unpaid",
            Self::PartiallyPaid => "Partially Paid",
            Self::Paid => "Paid",
            Self::Credited => "Credited",
            Self::Overpaid => "Overpaid",
            Self::Voided => "Voided",
            Self::InvoiceDeleted => "Invoice Deleted",
        }
    }
}

/// The figures of one Salesforce record.
#[derive(Clone, Debug, PartialEq)]
pub struct Settlement {
    /// Sum of the live invoices' totals.
    pub invoiced: Decimal,
    /// Cash kept (payments less their credit, less refunds).
    pub paid: Decimal,
    /// Credit memos counted.
    pub credited: Decimal,
    /// Refunds counted.
    pub refunded: Decimal,
    /// invoiced - credited - paid.
    pub open_balance: Decimal,
    /// Rule 6.
    pub status: SettlementStatus,
    /// Rule 7.
    pub paid_date: Option<NaiveDate>,
}

/// Rounds half away from zero to cents (QBO's rounding of amounts).
pub fn in_cents(d: Decimal) -> Decimal {
    d.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Rules 1 to 7 over a record's invoices.
pub fn settle(invoices: &[InvoiceMoney]) -> Settlement {
    let live: Vec<&InvoiceMoney> = invoices
        .iter()
        .filter(|i| i.state == InvoiceState::Open)
        .collect();
    if live.is_empty() && !invoices.is_empty() {
        let status = if invoices.iter().any(|i| i.state == InvoiceState::Voided) {
            SettlementStatus::Voided
        } else {
            SettlementStatus::InvoiceDeleted
        };
        return Settlement {
            invoiced: Decimal::ZERO,
            paid: Decimal::ZERO,
            credited: Decimal::ZERO,
            refunded: Decimal::ZERO,
            open_balance: Decimal::ZERO,
            status,
            paid_date: None,
        };
    }
    let invoiced: Decimal = live.iter().map(|i| i.total_amt).sum();
    let mut credited = Decimal::ZERO;
    let mut refunded = Decimal::ZERO;
    let mut applied = Decimal::ZERO;
    let mut credit_in_payments = Decimal::ZERO;
    // (date, id, change of the open balance)
    let mut events: Vec<(NaiveDate, String, Decimal)> = Vec::new();
    for invoice in &live {
        for a in &invoice.applied {
            applied += a.amount;
            events.push((a.txn_date, a.payment_id.clone(), -a.amount));
        }
        for adj in &invoice.adjustments {
            match (adj.kind, &adj.via_payment) {
                (AdjustmentKind::CreditMemo, Some(_)) => {
                    // Already in the payment's application: it moves credit, not the balance.
                    credited += adj.amount;
                    credit_in_payments += adj.amount;
                }
                (AdjustmentKind::CreditMemo, None) => {
                    credited += adj.amount;
                    events.push((adj.txn_date, adj.document_id.clone(), -adj.amount));
                }
                (AdjustmentKind::Refund, _) => {
                    refunded += adj.amount;
                    events.push((adj.txn_date, adj.document_id.clone(), adj.amount));
                }
            }
        }
    }
    let paid = applied - credit_in_payments - refunded;
    let open = invoiced - credited - paid;
    let status = if open < Decimal::ZERO {
        SettlementStatus::Overpaid
    } else if open.is_zero() {
        if paid.is_zero() && !credited.is_zero() {
            SettlementStatus::Credited
        } else {
            SettlementStatus::Paid
        }
    } else if paid <= Decimal::ZERO {
        SettlementStatus::Unpaid
    } else {
        SettlementStatus::PartiallyPaid
    };
    let paid_date = match status {
        SettlementStatus::Paid | SettlementStatus::Overpaid => settled_on(invoiced, events),
        _ => None,
    };
    Settlement {
        invoiced: in_cents(invoiced),
        paid: in_cents(paid),
        credited: in_cents(credited),
        refunded: in_cents(refunded),
        open_balance: in_cents(open),
        status,
        paid_date,
    }
}

/// Rule 7: the date after which the balance last fell to 0 or below.
fn settled_on(
    invoiced: Decimal,
    mut events: Vec<(NaiveDate, String, Decimal)>,
) -> Option<NaiveDate> {
    events.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
    let mut open = invoiced;
    let mut settled = None;
    for (date, _, change) in events {
        let was_open = open > Decimal::ZERO;
        open += change;
        if open <= Decimal::ZERO && was_open {
            settled = Some(date);
        } else if open > Decimal::ZERO {
            settled = None;
        }
    }
    settled
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
    }

    fn paid(id: &str, amount: Decimal, d: u32) -> AppliedPayment {
        AppliedPayment {
            payment_id: id.into(),
            amount,
            txn_date: day(d),
        }
    }

    fn adj(
        kind: AdjustmentKind,
        id: &str,
        via: Option<&str>,
        amount: Decimal,
        d: u32,
    ) -> Adjustment {
        Adjustment {
            kind,
            document_id: id.into(),
            via_payment: via.map(str::to_string),
            amount,
            txn_date: day(d),
        }
    }

    fn invoice(
        total: Decimal,
        applied: Vec<AppliedPayment>,
        adjustments: Vec<Adjustment>,
    ) -> InvoiceMoney {
        InvoiceMoney {
            invoice_id: "130".into(),
            total_amt: total,
            state: InvoiceState::Open,
            applied,
            adjustments,
        }
    }

    #[test]
    fn payments_alone_give_the_figures_apply_payment_gave() {
        let s = settle(&[invoice(
            dec!(1250.50),
            vec![paid("77", dec!(500.25), 5)],
            vec![],
        )]);
        assert_eq!(
            (s.paid, s.open_balance, s.status),
            (dec!(500.25), dec!(750.25), SettlementStatus::PartiallyPaid)
        );
        let s = settle(&[invoice(
            dec!(1250.50),
            vec![paid("77", dec!(500.25), 5), paid("78", dec!(750.25), 20)],
            vec![],
        )]);
        assert_eq!(
            (s.status, s.paid_date),
            (SettlementStatus::Paid, Some(day(20)))
        );
        let s = settle(&[invoice(dec!(0), vec![], vec![])]);
        assert_eq!((s.status, s.paid_date), (SettlementStatus::Paid, None));
    }

    #[test]
    fn a_credit_applied_through_a_payment_settles_without_counting_as_cash() {
        // 1000 invoiced, 600 paid in cash, then a payment of 0 carrying credit memo 9's 400.
        let s = settle(&[invoice(
            dec!(1000),
            vec![paid("40", dec!(600), 3), paid("41", dec!(400), 9)],
            vec![adj(
                AdjustmentKind::CreditMemo,
                "9",
                Some("41"),
                dec!(400),
                9,
            )],
        )]);
        assert_eq!(
            (s.paid, s.credited, s.open_balance, s.status, s.paid_date),
            (
                dec!(600),
                dec!(400),
                dec!(0),
                SettlementStatus::Paid,
                Some(day(9))
            )
        );
    }

    #[test]
    fn a_credit_and_a_refund_against_a_paid_invoice_leave_it_partially_paid() {
        let s = settle(&[invoice(
            dec!(1000),
            vec![paid("40", dec!(1000), 3)],
            vec![
                adj(AdjustmentKind::CreditMemo, "9", None, dec!(100), 10),
                adj(AdjustmentKind::Refund, "12", None, dec!(400.10), 12),
            ],
        )]);
        assert_eq!(
            (
                s.paid,
                s.credited,
                s.refunded,
                s.open_balance,
                s.status,
                s.paid_date
            ),
            (
                dec!(599.90),
                dec!(100),
                dec!(400.10),
                dec!(300.10),
                SettlementStatus::PartiallyPaid,
                None
            )
        );
    }

    #[test]
    fn a_refund_of_a_credit_balance_returns_the_deal_to_paid_on_the_refund_date() {
        let s = settle(&[invoice(
            dec!(1000),
            vec![paid("40", dec!(1000), 3)],
            vec![
                adj(AdjustmentKind::CreditMemo, "9", None, dec!(100), 10),
                adj(AdjustmentKind::Refund, "12", None, dec!(100), 12),
            ],
        )]);
        assert_eq!(
            (s.paid, s.open_balance, s.status),
            (dec!(900), dec!(0), SettlementStatus::Paid)
        );
        // Overpaid (in credit) from the 10th, back to exactly 0 on the 12th: settled on the 3rd.
        assert_eq!(s.paid_date, Some(day(3)));
    }

    #[test]
    fn a_credit_alone_settles_as_credited_and_more_than_owed_is_overpaid() {
        let s = settle(&[invoice(
            dec!(250),
            vec![],
            vec![adj(AdjustmentKind::CreditMemo, "9", None, dec!(250), 4)],
        )]);
        assert_eq!((s.status, s.paid_date), (SettlementStatus::Credited, None));
        let s = settle(&[invoice(dec!(250), vec![paid("40", dec!(300), 3)], vec![])]);
        assert_eq!(
            (s.status, s.open_balance),
            (SettlementStatus::Overpaid, dec!(-50))
        );
    }

    #[test]
    fn voided_and_deleted_invoices_bill_nothing() {
        let mut voided = invoice(dec!(500), vec![paid("40", dec!(500), 3)], vec![]);
        voided.state = InvoiceState::Voided;
        let s = settle(std::slice::from_ref(&voided));
        assert_eq!(
            (s.status, s.paid, s.open_balance),
            (SettlementStatus::Voided, dec!(0), dec!(0))
        );
        let mut deleted = voided.clone();
        deleted.state = InvoiceState::Deleted;
        assert_eq!(
            settle(&[deleted.clone()]).status,
            SettlementStatus::InvoiceDeleted
        );
        // One live invoice of two: the live one alone counts.
        let live = invoice(dec!(100), vec![paid("41", dec!(40), 4)], vec![]);
        let s = settle(&[deleted, live]);
        assert_eq!(
            (s.invoiced, s.open_balance, s.status),
            (dec!(100), dec!(60), SettlementStatus::PartiallyPaid)
        );
    }

    #[test]
    fn several_invoices_of_a_subscription_add_up() {
        let mut second = invoice(dec!(99.99), vec![paid("51", dec!(99.99), 28)], vec![]);
        second.invoice_id = "131".into();
        let first = invoice(dec!(99.99), vec![paid("50", dec!(99.99), 2)], vec![]);
        let mut third = invoice(dec!(99.99), vec![], vec![]);
        third.invoice_id = "132".into();
        let s = settle(&[first, second, third]);
        assert_eq!(
            (s.invoiced, s.paid, s.open_balance, s.status),
            (
                dec!(299.97),
                dec!(199.98),
                dec!(99.99),
                SettlementStatus::PartiallyPaid
            )
        );
    }

    #[test]
    fn amounts_round_to_cents_half_away_from_zero_only_at_the_end() {
        let s = settle(&[invoice(
            dec!(10.005),
            vec![paid("40", dec!(3.3333), 3)],
            vec![],
        )]);
        assert_eq!(
            (s.invoiced, s.paid, s.open_balance),
            (dec!(10.01), dec!(3.33), dec!(6.67))
        );
    }
}
