//! Each mapping output and `mapping-error`, `mapping` -> WIT: infallible. Money is written with
//! `Decimal::to_string` (exact, keeping its scale: `1234.50` stays `1234.50`), dates as
//! `YYYY-MM-DD`.

use super::convert::convert_all;
use super::text::{date_text, money_text};
use crate::bindings::ledgerlink::sync::types as wit;
use crate::mapping::{
    AccountChange, AccountOutput, AgingAlert, AgingBucket, AgingReport, AgingState, AppliedPayment,
    BucketTotal, CustomerChange, CustomerOutput, CustomerUpdate, Discrepancy, DiscrepancyKind,
    InvoiceAge, InvoiceLedger, ItemChange, ItemUpdate, MatchedPair, OpportunityPaymentUpdate,
    PaymentOutput, ReconcileReport,
};
use crate::model::{ErrorKind, FieldError, MappingError};

// ------------------------------------------------------------------------ mapping-error

impl From<ErrorKind> for wit::ErrorKind {
    fn from(m: ErrorKind) -> Self {
        match m {
            ErrorKind::InvalidInput => Self::InvalidInput,
            ErrorKind::UnresolvedReference => Self::UnresolvedReference,
            ErrorKind::RuleViolation => Self::RuleViolation,
            ErrorKind::NotAvailable => Self::NotAvailable,
        }
    }
}

impl From<FieldError> for wit::FieldError {
    fn from(m: FieldError) -> Self {
        let FieldError {
            record_id,
            field,
            reason,
        } = m;
        Self {
            record_id,
            field,
            reason,
        }
    }
}

impl From<MappingError> for wit::MappingError {
    fn from(m: MappingError) -> Self {
        let MappingError { kind, errors } = m;
        Self {
            kind: kind.into(),
            errors: convert_all(errors),
        }
    }
}

// ------------------------------------------------------------------------ map-account

impl From<CustomerUpdate> for wit::CustomerUpdate {
    fn from(m: CustomerUpdate) -> Self {
        let CustomerUpdate {
            id,
            sync_token,
            fields,
            customer,
        } = m;
        Self {
            id,
            sync_token,
            fields: convert_all(fields),
            customer: customer.into(),
        }
    }
}

impl From<CustomerChange> for wit::CustomerChange {
    fn from(m: CustomerChange) -> Self {
        match m {
            CustomerChange::Create(customer) => Self::Create(customer.into()),
            CustomerChange::Update(update) => Self::Update(update.into()),
            CustomerChange::Unchanged => Self::Unchanged,
        }
    }
}

impl From<AccountOutput> for wit::AccountOutput {
    fn from(m: AccountOutput) -> Self {
        let AccountOutput {
            change,
            snapshot,
            conflicts,
        } = m;
        Self {
            change: change.into(),
            snapshot: snapshot.into(),
            conflicts: convert_all(conflicts),
        }
    }
}

// ------------------------------------------------------------------------ map-customer

impl From<AccountChange> for wit::AccountChange {
    fn from(m: AccountChange) -> Self {
        match m {
            AccountChange::Create(fields) => Self::Create(convert_all(fields)),
            AccountChange::Update((id, fields)) => Self::Update((id, convert_all(fields))),
            AccountChange::Unchanged => Self::Unchanged,
        }
    }
}

impl From<CustomerOutput> for wit::CustomerOutput {
    fn from(m: CustomerOutput) -> Self {
        let CustomerOutput {
            change,
            snapshot,
            conflicts,
        } = m;
        Self {
            change: change.into(),
            snapshot: snapshot.into(),
            conflicts: convert_all(conflicts),
        }
    }
}

// ------------------------------------------------------------------------ map-product

impl From<ItemUpdate> for wit::ItemUpdate {
    fn from(m: ItemUpdate) -> Self {
        let ItemUpdate {
            id,
            sync_token,
            fields,
            item,
        } = m;
        Self {
            id,
            sync_token,
            fields,
            item: item.into(),
        }
    }
}

impl From<ItemChange> for wit::ItemChange {
    fn from(m: ItemChange) -> Self {
        match m {
            ItemChange::Create(item) => Self::Create(item.into()),
            ItemChange::Update(update) => Self::Update(update.into()),
            ItemChange::Unchanged => Self::Unchanged,
        }
    }
}

// ------------------------------------------------------------------------ apply-payment

impl From<AppliedPayment> for wit::AppliedPayment {
    fn from(m: AppliedPayment) -> Self {
        let AppliedPayment {
            payment_id,
            amount,
            txn_date,
        } = m;
        Self {
            payment_id,
            amount: money_text(amount),
            txn_date: date_text(txn_date),
        }
    }
}

impl From<InvoiceLedger> for wit::InvoiceLedger {
    fn from(m: InvoiceLedger) -> Self {
        let InvoiceLedger {
            invoice_id,
            opportunity_id,
            total_amt,
            applied,
        } = m;
        Self {
            invoice_id,
            opportunity_id,
            total_amt: money_text(total_amt),
            applied: convert_all(applied),
        }
    }
}

impl From<OpportunityPaymentUpdate> for wit::OpportunityPaymentUpdate {
    fn from(m: OpportunityPaymentUpdate) -> Self {
        let OpportunityPaymentUpdate {
            opportunity_id,
            invoice_id,
            amount_paid,
            open_balance,
            status,
            paid_date,
            reversed,
        } = m;
        Self {
            opportunity_id,
            invoice_id,
            amount_paid: money_text(amount_paid),
            open_balance: money_text(open_balance),
            status: status.into(),
            paid_date: paid_date.map(date_text),
            reversed,
        }
    }
}

impl From<PaymentOutput> for wit::PaymentOutput {
    fn from(m: PaymentOutput) -> Self {
        let PaymentOutput {
            invoices,
            updates,
            unapplied,
        } = m;
        Self {
            invoices: convert_all(invoices),
            updates: convert_all(updates),
            unapplied: money_text(unapplied),
        }
    }
}

// ------------------------------------------------------------------------ age-invoices

impl From<AgingBucket> for wit::AgingBucket {
    fn from(m: AgingBucket) -> Self {
        match m {
            AgingBucket::Current => Self::Current,
            AgingBucket::Days1To30 => Self::Days1To30,
            AgingBucket::Days31To60 => Self::Days31To60,
            AgingBucket::Days61To90 => Self::Days61To90,
            AgingBucket::Over90 => Self::Over90,
        }
    }
}

impl From<BucketTotal> for wit::BucketTotal {
    fn from(m: BucketTotal) -> Self {
        let BucketTotal {
            bucket,
            count,
            balance,
        } = m;
        Self {
            bucket: bucket.into(),
            count,
            balance: money_text(balance),
        }
    }
}

impl From<InvoiceAge> for wit::InvoiceAge {
    fn from(m: InvoiceAge) -> Self {
        let InvoiceAge {
            invoice_id,
            opportunity_id,
            days_outstanding,
            bucket,
            balance,
        } = m;
        Self {
            invoice_id,
            opportunity_id,
            days_outstanding,
            bucket: bucket.into(),
            balance: money_text(balance),
        }
    }
}

impl From<AgingAlert> for wit::AgingAlert {
    fn from(m: AgingAlert) -> Self {
        let AgingAlert {
            invoice_id,
            opportunity_id,
            threshold,
            days_outstanding,
            balance,
            message,
        } = m;
        Self {
            invoice_id,
            opportunity_id,
            threshold,
            days_outstanding,
            balance: money_text(balance),
            message,
        }
    }
}

impl From<AgingState> for wit::AgingState {
    fn from(m: AgingState) -> Self {
        let AgingState {
            invoice_id,
            threshold,
        } = m;
        Self {
            invoice_id,
            threshold,
        }
    }
}

impl From<AgingReport> for wit::AgingReport {
    fn from(m: AgingReport) -> Self {
        let AgingReport {
            as_of,
            buckets,
            invoices,
            alerts,
            total_open,
            state,
        } = m;
        Self {
            as_of: date_text(as_of),
            buckets: convert_all(buckets),
            invoices: convert_all(invoices),
            alerts: convert_all(alerts),
            total_open: money_text(total_open),
            state: convert_all(state),
        }
    }
}

// ------------------------------------------------------------------------ reconcile

impl From<MatchedPair> for wit::MatchedPair {
    fn from(m: MatchedPair) -> Self {
        let MatchedPair {
            opportunity_id,
            document_ids,
            amount,
        } = m;
        Self {
            opportunity_id,
            document_ids,
            amount: money_text(amount),
        }
    }
}

impl From<DiscrepancyKind> for wit::DiscrepancyKind {
    fn from(m: DiscrepancyKind) -> Self {
        match m {
            DiscrepancyKind::MissingInvoice => Self::MissingInvoice,
            DiscrepancyKind::AmountDiffers => Self::AmountDiffers,
            DiscrepancyKind::InvoiceWithoutOpportunity => Self::InvoiceWithoutOpportunity,
            DiscrepancyKind::OtherPeriod => Self::OtherPeriod,
        }
    }
}

impl From<Discrepancy> for wit::Discrepancy {
    fn from(m: Discrepancy) -> Self {
        let Discrepancy {
            kind,
            opportunity_id,
            document_id,
            salesforce_amount,
            quickbooks_amount,
            difference,
            detail,
        } = m;
        Self {
            kind: kind.into(),
            opportunity_id,
            document_id,
            salesforce_amount: salesforce_amount.map(money_text),
            quickbooks_amount: quickbooks_amount.map(money_text),
            difference: money_text(difference),
            detail,
        }
    }
}

impl From<ReconcileReport> for wit::ReconcileReport {
    fn from(m: ReconcileReport) -> Self {
        let ReconcileReport {
            period_start,
            period_end,
            salesforce_total,
            quickbooks_total,
            difference,
            matched,
            discrepancies,
        } = m;
        Self {
            period_start: date_text(period_start),
            period_end: date_text(period_end),
            salesforce_total: money_text(salesforce_total),
            quickbooks_total: money_text(quickbooks_total),
            difference: money_text(difference),
            matched: convert_all(matched),
            discrepancies: convert_all(discrepancies),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::boundary::Parse;
    use crate::model::PaymentStatus;
    use chrono::NaiveDate;
    use rust_decimal_macros::dec;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    fn ledger() -> InvoiceLedger {
        InvoiceLedger {
            invoice_id: "130".into(),
            opportunity_id: Some("006A".into()),
            total_amt: dec!(1234.50),
            applied: vec![
                AppliedPayment {
                    payment_id: "145".into(),
                    amount: dec!(1000),
                    txn_date: date(2024, 2, 29),
                },
                AppliedPayment {
                    payment_id: "146".into(),
                    amount: dec!(234.500),
                    txn_date: date(2024, 3, 1),
                },
            ],
        }
    }

    #[test]
    fn money_keeps_its_scale_and_dates_their_padding() {
        assert_eq!(money_text(dec!(1234.50)), "1234.50");
        assert_eq!(money_text(dec!(-10.00)), "-10.00");
        assert_eq!(money_text(dec!(0.005)), "0.005");
        assert_eq!(money_text(dec!(1000)), "1000");
        assert_eq!(date_text(date(2024, 1, 5)), "2024-01-05");
    }

    #[test]
    fn invoice_ledger_round_trip_keeps_values() {
        let model = ledger();
        let wit_ledger = wit::InvoiceLedger::from(model.clone());
        assert_eq!(wit_ledger.total_amt, "1234.50");
        assert_eq!(wit_ledger.applied[1].amount, "234.500");
        assert_eq!(wit_ledger.applied[0].txn_date, "2024-02-29");
        let back = Parse::input::<_, InvoiceLedger>("apply-payment", wit_ledger);
        assert_eq!(back.as_ref().ok(), Some(&model));
        let scale = back.ok().map(|l| l.total_amt.to_string());
        assert_eq!(scale.as_deref(), Some("1234.50"));
    }

    #[test]
    fn payment_output_writes_every_amount_and_date() {
        let output = wit::PaymentOutput::from(PaymentOutput {
            invoices: vec![ledger()],
            updates: vec![OpportunityPaymentUpdate {
                opportunity_id: "006A".into(),
                invoice_id: "130".into(),
                amount_paid: dec!(1234.50),
                open_balance: dec!(0.00),
                status: PaymentStatus::Paid,
                paid_date: Some(date(2024, 3, 1)),
                reversed: false,
            }],
            unapplied: dec!(5.25),
        });
        assert_eq!(output.unapplied, "5.25");
        assert_eq!(output.updates[0].amount_paid, "1234.50");
        assert_eq!(output.updates[0].open_balance, "0.00");
        assert_eq!(output.updates[0].paid_date.as_deref(), Some("2024-03-01"));
        assert_eq!(output.updates[0].status, wit::PaymentStatus::Paid);
        assert_eq!(output.invoices[0].applied.len(), 2);
    }

    #[test]
    fn mapping_error_keeps_kind_and_every_reason() {
        let error = wit::MappingError::from(MappingError::new(
            ErrorKind::RuleViolation,
            vec![
                FieldError::new("Order 801A", "rules[0].splits", "add up to 90, not 100"),
                FieldError::new("Order 801A", "items[2].product-code", "no rule matches"),
            ],
        ));
        assert_eq!(error.kind, wit::ErrorKind::RuleViolation);
        assert_eq!(error.errors.len(), 2);
        assert_eq!(error.errors[1].record_id, "Order 801A");
        assert_eq!(error.errors[1].field, "items[2].product-code");
        assert_eq!(error.errors[1].reason, "no rule matches");
    }

    #[test]
    fn reconcile_report_writes_signed_differences() {
        let report = wit::ReconcileReport::from(ReconcileReport {
            period_start: date(2024, 1, 1),
            period_end: date(2024, 1, 31),
            salesforce_total: dec!(1000.00),
            quickbooks_total: dec!(1010.00),
            difference: dec!(-10.00),
            matched: vec![],
            discrepancies: vec![Discrepancy {
                kind: DiscrepancyKind::AmountDiffers,
                opportunity_id: Some("006A".into()),
                document_id: Some("130".into()),
                salesforce_amount: Some(dec!(1000.00)),
                quickbooks_amount: Some(dec!(1010.00)),
                difference: dec!(-10.00),
                detail: "differs".into(),
            }],
        });
        assert_eq!(report.period_end, "2024-01-31");
        assert_eq!(report.difference, "-10.00");
        let d = &report.discrepancies[0];
        assert_eq!(d.kind, wit::DiscrepancyKind::AmountDiffers);
        assert_eq!(d.quickbooks_amount.as_deref(), Some("1010.00"));
    }
}
