//! Each mapping output and `mapping-error`, `mapping` -> WIT: infallible. Money is written with
//! `Decimal::to_string` (exact, keeping its scale: `1234.50` stays `1234.50`), dates as
//! `YYYY-MM-DD`.

use super::convert::{convert_all, convert_enum, convert_record};
use crate::bindings::ledgerlink::sync::types as wit;
use crate::mapping::{
    AccountChange, AccountOutput, AgingAlert, AgingBucket, AgingReport, AgingState, AppliedPayment,
    BucketTotal, CustomerChange, CustomerOutput, CustomerUpdate, Discrepancy, DiscrepancyKind,
    InvoiceAge, InvoiceLedger, ItemChange, ItemUpdate, MatchedPair, MonthTotal,
    OpportunityPaymentUpdate, PaymentOutput, ReconcileReport,
};
use crate::model::{ErrorKind, FieldError, MappingError};

// ------------------------------------------------------------------------ mapping-error

convert_enum! {
    ErrorKind => wit::ErrorKind { InvalidInput, UnresolvedReference, RuleViolation, NotAvailable }
}

convert_record! {
    FieldError => wit::FieldError { record_id, field, reason }
}

convert_record! {
    MappingError => wit::MappingError { kind: into, errors: all_into }
}

// ------------------------------------------------------------------------ map-account

convert_record! {
    CustomerUpdate => wit::CustomerUpdate {
        id,
        sync_token,
        fields: all_into,
        customer: into,
    }
}

convert_enum! {
    CustomerChange => wit::CustomerChange {
        Create(customer: into),
        Update(update: into),
        Unchanged,
    }
}

convert_record! {
    AccountOutput => wit::AccountOutput {
        change: into,
        snapshot: into,
        conflicts: all_into,
    }
}

// ------------------------------------------------------------------------ map-customer

/// Written out: an update's payload is a pair (the Account id, its fields), not one value.
impl From<AccountChange> for wit::AccountChange {
    fn from(m: AccountChange) -> Self {
        match m {
            AccountChange::Create(fields) => Self::Create(convert_all(fields)),
            AccountChange::Update((id, fields)) => Self::Update((id, convert_all(fields))),
            AccountChange::Unchanged => Self::Unchanged,
        }
    }
}

convert_record! {
    CustomerOutput => wit::CustomerOutput {
        change: into,
        snapshot: into,
        conflicts: all_into,
    }
}

// ------------------------------------------------------------------------ map-product

convert_record! {
    ItemUpdate => wit::ItemUpdate { id, sync_token, fields, item: into }
}

convert_enum! {
    ItemChange => wit::ItemChange {
        Create(item: into),
        Update(update: into),
        Unchanged,
    }
}

// ------------------------------------------------------------------------ apply-payment

convert_record! {
    AppliedPayment => wit::AppliedPayment { payment_id, amount: money, txn_date: date }
}

convert_record! {
    InvoiceLedger => wit::InvoiceLedger {
        invoice_id,
        opportunity_id,
        total_amt: money,
        applied: all_into,
    }
}

convert_record! {
    OpportunityPaymentUpdate => wit::OpportunityPaymentUpdate {
        opportunity_id,
        invoice_id,
        amount_paid: money,
        open_balance: money,
        status: into,
        paid_date: opt_date,
        reversed,
    }
}

convert_record! {
    PaymentOutput => wit::PaymentOutput {
        invoices: all_into,
        updates: all_into,
        unapplied: money,
    }
}

// ------------------------------------------------------------------------ age-invoices

convert_enum! {
    AgingBucket => wit::AgingBucket { Current, Days1To30, Days31To60, Days61To90, Over90 }
}

convert_record! {
    BucketTotal => wit::BucketTotal { bucket: into, count, balance: money }
}

convert_record! {
    InvoiceAge => wit::InvoiceAge {
        invoice_id,
        opportunity_id,
        days_outstanding,
        bucket: into,
        balance: money,
    }
}

convert_record! {
    AgingAlert => wit::AgingAlert {
        invoice_id,
        opportunity_id,
        threshold,
        days_outstanding,
        balance: money,
        message,
    }
}

convert_record! {
    AgingState => wit::AgingState { invoice_id, threshold }
}

convert_record! {
    AgingReport => wit::AgingReport {
        as_of: date,
        buckets: all_into,
        invoices: all_into,
        alerts: all_into,
        total_open: money,
        state: all_into,
    }
}

// ------------------------------------------------------------------------ reconcile

convert_record! {
    MatchedPair => wit::MatchedPair { opportunity_id, document_ids, amount: money }
}

convert_enum! {
    DiscrepancyKind => wit::DiscrepancyKind {
        MissingInvoice,
        AmountDiffers,
        InvoiceWithoutOpportunity,
        OtherPeriod,
    }
}

convert_record! {
    Discrepancy => wit::Discrepancy {
        kind: into,
        opportunity_id,
        document_id,
        salesforce_amount: opt_money,
        quickbooks_amount: opt_money,
        difference: money,
        detail,
    }
}

convert_record! {
    MonthTotal => wit::MonthTotal {
        month,
        salesforce_total: money,
        quickbooks_total: money,
        difference: money,
    }
}

convert_record! {
    ReconcileReport => wit::ReconcileReport {
        period_start: date,
        period_end: date,
        salesforce_total: money,
        quickbooks_total: money,
        difference: money,
        matched: all_into,
        discrepancies: all_into,
        months: all_into,
    }
}

// The tests below reach these through `super::*`; the macros name them by full path.
#[cfg(test)]
use super::text::{date_text, money_text};

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
            months: vec![MonthTotal {
                month: "2024-01".into(),
                salesforce_total: dec!(1000.00),
                quickbooks_total: dec!(1010.00),
                difference: dec!(-10.00),
            }],
        });
        assert_eq!(report.months[0].month, "2024-01");
        assert_eq!(report.months[0].difference, "-10.00");
        assert_eq!(report.period_end, "2024-01-31");
        assert_eq!(report.difference, "-10.00");
        let d = &report.discrepancies[0];
        assert_eq!(d.kind, wit::DiscrepancyKind::AmountDiffers);
        assert_eq!(d.quickbooks_amount.as_deref(), Some("1010.00"));
    }
}
