//! `age-invoices`: open invoices -> aging buckets and newly crossed thresholds.
//!
//! The rules, each a named function below:
//!
//! - **Days outstanding** (`days_outstanding`): `as-of - due-date` in days; 0 or negative when
//!   the invoice is not yet due. A due date before the transaction date is unusual but allowed:
//!   only the due date counts.
//! - **Bucket** (`bucket_for`): `current` up to 0 days, then 1-30, 31-60, 61-90, over 90. The
//!   report always lists all five buckets in that order, with their count and balance.
//! - **Open** (`is_open`): only invoices with a balance above 0 are aged; a paid invoice (0) or
//!   a credit (negative) is left out of the invoices, the buckets, the totals and the state.
//! - **Thresholds** (`alert_thresholds`): days past due, sorted and deduplicated; none given
//!   means 30, 60 and 90; 0 is refused (an invoice is not past due on its due date).
//! - **Crossed threshold** (`crossed_threshold`): the highest threshold `t` with
//!   `days-outstanding >= t` (so "30 days past due" alerts on day 30 itself), 0 when none.
//! - **Alert** (`newly_crossed`): one alert per invoice whose crossed threshold is higher than
//!   the one in `previous` (0 when it has none there), for the highest threshold only. An
//!   invoice whose threshold went down (its due date moved) gets no alert; its state is lowered.
//! - **State**: the crossed threshold (0 included) of every open invoice, to pass back as
//!   `previous`; invoices no longer open drop out. When `previous` names an invoice twice the
//!   highest threshold counts.
//! - **Message**: "Invoice 1042 (Acme Corp) is 61 days past due: 1,234.50 open", the invoice
//!   named by its doc number (its id when it has none), the customer when known.
//! - **Order**: invoices, alerts and state by days outstanding (most overdue first), then
//!   invoice id.
//!
//! An invoice listed twice, an empty invoice id, or a balance beyond 10^15 is refused
//! (`invalid-input`, every problem at once).

use super::text::{clean, format_amount};
use crate::model::money::MAX_AMOUNT;
use crate::model::{ErrorKind, FieldError, MappingError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// An open invoice to age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct OpenInvoice {
    pub invoice_id: String,
    pub doc_number: Option<String>,
    pub opportunity_id: Option<String>,
    pub customer_name: Option<String>,
    pub txn_date: NaiveDate,
    pub due_date: NaiveDate,
    pub balance: Decimal,
}

/// The highest threshold an invoice had crossed at the last run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingState {
    pub invoice_id: String,
    pub threshold: u32,
}

/// Input of `age-invoices`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingInput {
    pub invoices: Vec<OpenInvoice>,
    pub as_of: NaiveDate,
    pub previous: Vec<AgingState>,
    pub thresholds: Vec<u32>,
}

/// Aging buckets by days past due.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum AgingBucket {
    Current,
    Days1To30,
    Days31To60,
    Days61To90,
    Over90,
}

/// One bucket's totals.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct BucketTotal {
    pub bucket: AgingBucket,
    pub count: u32,
    pub balance: Decimal,
}

/// One invoice's age.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct InvoiceAge {
    pub invoice_id: String,
    pub opportunity_id: Option<String>,
    pub days_outstanding: i32,
    pub bucket: AgingBucket,
    pub balance: Decimal,
}

/// A threshold newly crossed since the last run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingAlert {
    pub invoice_id: String,
    pub opportunity_id: Option<String>,
    pub threshold: u32,
    pub days_outstanding: i32,
    pub balance: Decimal,
    pub message: String,
}

/// Output of `age-invoices`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AgingReport {
    pub as_of: NaiveDate,
    pub buckets: Vec<BucketTotal>,
    pub invoices: Vec<InvoiceAge>,
    pub alerts: Vec<AgingAlert>,
    pub total_open: Decimal,
    pub state: Vec<AgingState>,
}

/// The alert thresholds when none are configured.
const DEFAULT_THRESHOLDS: [u32; 3] = [30, 60, 90];
/// The buckets, in report order.
const BUCKETS: [AgingBucket; 5] = [
    AgingBucket::Current,
    AgingBucket::Days1To30,
    AgingBucket::Days31To60,
    AgingBucket::Days61To90,
    AgingBucket::Over90,
];

/// Ages open invoices as of a date.
pub fn age_invoices(input: &AgingInput) -> Result<AgingReport, MappingError> {
    let record = format!("Aging as of {}", input.as_of);
    let mut problems = Vec::new();
    let thresholds = match alert_thresholds(&input.thresholds) {
        Ok(thresholds) => thresholds,
        Err(zeros) => {
            problems.extend(zeros.into_iter().map(|i| {
                FieldError::new(
                    &record,
                    format!("thresholds[{i}]"),
                    "is 0; a threshold is a number of days past due, at least 1",
                )
            }));
            Vec::new()
        }
    };
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, invoice) in input.invoices.iter().enumerate() {
        let invoice_record = format!("Invoice {}", invoice.invoice_id);
        let id = invoice.invoice_id.trim();
        if id.is_empty() {
            problems.push(FieldError::new(
                &invoice_record,
                format!("invoices[{i}].invoice-id"),
                "the invoice id is empty",
            ));
        } else if !seen.insert(id) {
            problems.push(FieldError::new(
                &invoice_record,
                format!("invoices[{i}].invoice-id"),
                "the invoice is listed twice; its balance would be counted twice",
            ));
        }
        if invoice.balance.abs() > MAX_AMOUNT {
            problems.push(FieldError::new(
                &invoice_record,
                format!("invoices[{i}].balance"),
                format!(
                    "is {}; amounts beyond {MAX_AMOUNT} in absolute value are refused",
                    invoice.balance
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(MappingError::new(ErrorKind::InvalidInput, problems));
    }

    let mut open: Vec<(&OpenInvoice, i32)> = input
        .invoices
        .iter()
        .filter(|invoice| is_open(invoice))
        .map(|invoice| (invoice, days_outstanding(invoice.due_date, input.as_of)))
        .collect();
    open.sort_by(|(a, a_days), (b, b_days)| {
        b_days
            .cmp(a_days)
            .then_with(|| a.invoice_id.cmp(&b.invoice_id))
    });

    let mut buckets: Vec<BucketTotal> = BUCKETS
        .iter()
        .map(|&bucket| BucketTotal {
            bucket,
            count: 0,
            balance: Decimal::ZERO,
        })
        .collect();
    let previous = previous_thresholds(&input.previous);
    let mut invoices = Vec::with_capacity(open.len());
    let mut alerts = Vec::new();
    let mut state = Vec::with_capacity(open.len());
    for (invoice, days) in open {
        let bucket = bucket_for(days);
        if let Some(total) = buckets.iter_mut().find(|total| total.bucket == bucket) {
            total.count = total.count.saturating_add(1);
            total.balance += invoice.balance;
        }
        invoices.push(InvoiceAge {
            invoice_id: invoice.invoice_id.clone(),
            opportunity_id: invoice.opportunity_id.clone(),
            days_outstanding: days,
            bucket,
            balance: invoice.balance,
        });
        let crossed = crossed_threshold(days, &thresholds);
        let before = previous
            .get(invoice.invoice_id.trim())
            .copied()
            .unwrap_or(0);
        if let Some(threshold) = newly_crossed(crossed, before) {
            alerts.push(AgingAlert {
                invoice_id: invoice.invoice_id.clone(),
                opportunity_id: invoice.opportunity_id.clone(),
                threshold,
                days_outstanding: days,
                balance: invoice.balance,
                message: alert_message(invoice, days),
            });
        }
        state.push(AgingState {
            invoice_id: invoice.invoice_id.clone(),
            threshold: crossed,
        });
    }
    let total_open = in_cents(buckets.iter().map(|total| total.balance).sum());
    for total in &mut buckets {
        total.balance = in_cents(total.balance);
    }

    Ok(AgingReport {
        as_of: input.as_of,
        buckets,
        invoices,
        alerts,
        total_open,
        state,
    })
}

/// Rule "days outstanding": `as_of - due_date` in days, 0 or negative when not yet due.
fn days_outstanding(due_date: NaiveDate, as_of: NaiveDate) -> i32 {
    let days = (as_of - due_date).num_days();
    // Any two NaiveDates are less than 2^31 days apart; saturate rather than trust that.
    i32::try_from(days).unwrap_or(if days < 0 { i32::MIN } else { i32::MAX })
}

/// Rule "bucket": current up to 0 days past due, then 1-30, 31-60, 61-90, over 90.
fn bucket_for(days: i32) -> AgingBucket {
    match days {
        i32::MIN..=0 => AgingBucket::Current,
        1..=30 => AgingBucket::Days1To30,
        31..=60 => AgingBucket::Days31To60,
        61..=90 => AgingBucket::Days61To90,
        _ => AgingBucket::Over90,
    }
}

/// Rule "open": an invoice is aged only while something is owed on it.
fn is_open(invoice: &OpenInvoice) -> bool {
    invoice.balance > Decimal::ZERO
}

/// Rule "thresholds": sorted and deduplicated, 30/60/90 when none are given. Returns the
/// positions of zero thresholds when there are any.
fn alert_thresholds(configured: &[u32]) -> Result<Vec<u32>, Vec<usize>> {
    let zeros: Vec<usize> = configured
        .iter()
        .enumerate()
        .filter(|(_, t)| **t == 0)
        .map(|(i, _)| i)
        .collect();
    if !zeros.is_empty() {
        return Err(zeros);
    }
    let mut thresholds = if configured.is_empty() {
        DEFAULT_THRESHOLDS.to_vec()
    } else {
        configured.to_vec()
    };
    thresholds.sort_unstable();
    thresholds.dedup();
    Ok(thresholds)
}

/// Rule "crossed threshold": the highest threshold `t` with `days >= t`; 0 when none.
fn crossed_threshold(days: i32, thresholds: &[u32]) -> u32 {
    thresholds
        .iter()
        .copied()
        .filter(|&t| i64::from(days) >= i64::from(t))
        .max()
        .unwrap_or(0)
}

/// Rule "alert": the threshold to alert on when `crossed` is higher than the one `before`.
fn newly_crossed(crossed: u32, before: u32) -> Option<u32> {
    (crossed > before).then_some(crossed)
}

/// The threshold recorded for each invoice at the last run (the highest when listed twice).
fn previous_thresholds(previous: &[AgingState]) -> HashMap<&str, u32> {
    let mut thresholds: HashMap<&str, u32> = HashMap::new();
    for state in previous {
        let recorded = thresholds.entry(state.invoice_id.trim()).or_insert(0);
        *recorded = (*recorded).max(state.threshold);
    }
    thresholds
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

/// "Invoice 1042 (Acme Corp) is 61 days past due: 1,234.50 open".
fn alert_message(invoice: &OpenInvoice, days: i32) -> String {
    let (name, rest) = alert_wording(invoice, days);
    format!("Invoice {name}{rest}")
}

/// An alert's message in two parts, for a notification that links the invoice's name: the name
/// (its DocNumber, else its Id: "1042") and what follows "Invoice <name>" (" (Acme Corp) is 61
/// days past due: 1,234.50 open").
pub fn alert_wording(invoice: &OpenInvoice, days: i32) -> (String, String) {
    let name = clean(invoice.doc_number.as_deref()).unwrap_or_else(|| invoice.invoice_id.clone());
    let customer = clean(invoice.customer_name.as_deref())
        .map(|c| format!(" ({c})"))
        .unwrap_or_default();
    let unit = if days == 1 { "day" } else { "days" };
    let rest = format!(
        "{customer} is {days} {unit} past due: {} open",
        format_amount(invoice.balance)
    );
    (name, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    const AS_OF: &str = "2024-06-30";

    /// An invoice `days` past due as of `AS_OF`.
    fn invoice(id: &str, days: i64, balance: Decimal) -> OpenInvoice {
        let due = date(AS_OF) - chrono::Duration::days(days);
        OpenInvoice {
            invoice_id: id.into(),
            doc_number: Some(format!("D{id}")),
            opportunity_id: Some(format!("006{id}")),
            customer_name: Some("Acme Corp".into()),
            txn_date: due - chrono::Duration::days(30),
            due_date: due,
            balance,
        }
    }

    fn input(invoices: Vec<OpenInvoice>, previous: &[(&str, u32)]) -> AgingInput {
        AgingInput {
            invoices,
            as_of: date(AS_OF),
            previous: previous
                .iter()
                .map(|(id, t)| AgingState {
                    invoice_id: (*id).into(),
                    threshold: *t,
                })
                .collect(),
            thresholds: vec![],
        }
    }

    #[test]
    fn days_outstanding_counts_from_the_due_date() {
        assert_eq!(days_outstanding(date("2024-06-30"), date("2024-06-30")), 0);
        assert_eq!(days_outstanding(date("2024-06-29"), date("2024-06-30")), 1);
        assert_eq!(
            days_outstanding(date("2024-07-10"), date("2024-06-30")),
            -10
        );
        assert_eq!(
            days_outstanding(date("2024-02-28"), date("2024-03-01")),
            2,
            "leap year"
        );
    }

    #[test]
    fn bucket_boundaries_are_0_30_60_90() {
        let cases = [
            (-5, AgingBucket::Current),
            (0, AgingBucket::Current),
            (1, AgingBucket::Days1To30),
            (30, AgingBucket::Days1To30),
            (31, AgingBucket::Days31To60),
            (60, AgingBucket::Days31To60),
            (61, AgingBucket::Days61To90),
            (90, AgingBucket::Days61To90),
            (91, AgingBucket::Over90),
        ];
        for (days, bucket) in cases {
            assert_eq!(bucket_for(days), bucket, "{days} days");
        }
    }

    #[test]
    fn buckets_always_list_all_five_in_order_with_totals() {
        let report = age_invoices(&input(
            vec![
                invoice("1", 0, dec!(10.00)),
                invoice("2", 31, dec!(20.50)),
                invoice("3", 60, dec!(1.25)),
                invoice("4", 91, dec!(100)),
            ],
            &[],
        ))
        .unwrap();
        let totals: Vec<_> = report
            .buckets
            .iter()
            .map(|b| (b.bucket, b.count, b.balance))
            .collect();
        assert_eq!(
            totals,
            [
                (AgingBucket::Current, 1, dec!(10.00)),
                (AgingBucket::Days1To30, 0, dec!(0)),
                (AgingBucket::Days31To60, 2, dec!(21.75)),
                (AgingBucket::Days61To90, 0, dec!(0)),
                (AgingBucket::Over90, 1, dec!(100)),
            ]
        );
        assert_eq!(report.total_open, dec!(131.75));
        assert_eq!(report.as_of, date(AS_OF));
    }

    #[test]
    fn paid_and_credit_invoices_are_left_out() {
        let report = age_invoices(&input(
            vec![
                invoice("1", 45, dec!(0.00)),
                invoice("2", 45, dec!(-5.00)),
                invoice("3", 45, dec!(7.00)),
            ],
            &[("1", 30), ("2", 30)],
        ))
        .unwrap();
        let ids: Vec<_> = report
            .invoices
            .iter()
            .map(|i| i.invoice_id.as_str())
            .collect();
        assert_eq!(ids, ["3"]);
        assert_eq!(report.total_open, dec!(7.00));
        let state: Vec<_> = report.state.iter().map(|s| s.invoice_id.as_str()).collect();
        assert_eq!(
            state,
            ["3"],
            "invoices no longer open drop out of the state"
        );
    }

    #[test]
    fn threshold_is_crossed_on_the_day_itself() {
        let thresholds = [30, 60, 90];
        let cases = [
            (0, 0),
            (1, 0),
            (29, 0),
            (30, 30),
            (31, 30),
            (60, 60),
            (61, 60),
            (90, 90),
            (91, 90),
            (-3, 0),
        ];
        for (days, crossed) in cases {
            assert_eq!(crossed_threshold(days, &thresholds), crossed, "{days} days");
        }
    }

    #[test]
    fn alert_only_for_newly_crossed_threshold() {
        let report = age_invoices(&input(
            vec![
                invoice("1", 30, dec!(100)), // crosses 30 now
                invoice("2", 45, dec!(100)), // already alerted at 30
                invoice("3", 61, dec!(100)), // alerted at 30, crosses 60 now
                invoice("4", 10, dec!(100)), // nothing crossed
            ],
            &[("2", 30), ("3", 30)],
        ))
        .unwrap();
        let alerts: Vec<_> = report
            .alerts
            .iter()
            .map(|a| (a.invoice_id.as_str(), a.threshold))
            .collect();
        assert_eq!(alerts, [("3", 60), ("1", 30)]);
    }

    #[test]
    fn one_alert_for_the_highest_of_several_newly_crossed_thresholds() {
        let report = age_invoices(&input(vec![invoice("1", 95, dec!(100))], &[])).unwrap();
        assert_eq!(report.alerts.len(), 1);
        assert_eq!(report.alerts[0].threshold, 90);
        assert_eq!(
            report.state,
            [AgingState {
                invoice_id: "1".into(),
                threshold: 90
            }]
        );
    }

    #[test]
    fn lowered_threshold_gives_no_alert_and_lowers_the_state() {
        // The due date moved: 61 days became 35.
        let report = age_invoices(&input(vec![invoice("1", 35, dec!(100))], &[("1", 60)])).unwrap();
        assert!(report.alerts.is_empty());
        assert_eq!(
            report.state,
            [AgingState {
                invoice_id: "1".into(),
                threshold: 30
            }]
        );
    }

    #[test]
    fn state_holds_every_open_invoice_even_below_the_first_threshold() {
        let report = age_invoices(&input(
            vec![invoice("1", -5, dec!(100)), invoice("2", 5, dec!(1))],
            &[],
        ))
        .unwrap();
        let state: Vec<_> = report
            .state
            .iter()
            .map(|s| (s.invoice_id.as_str(), s.threshold))
            .collect();
        assert_eq!(state, [("2", 0), ("1", 0)]);
        assert!(report.alerts.is_empty());
    }

    #[test]
    fn alert_message_names_invoice_customer_days_and_balance() {
        let report = age_invoices(&input(vec![invoice("1042", 61, dec!(1234.5))], &[])).unwrap();
        let alert = &report.alerts[0];
        assert_eq!(
            alert.message,
            "Invoice D1042 (Acme Corp) is 61 days past due: 1,234.50 open"
        );
        assert_eq!(alert.opportunity_id.as_deref(), Some("0061042"));
        assert_eq!(alert.days_outstanding, 61);
        assert_eq!(alert.balance, dec!(1234.5));
        let mut bare = invoice("7", 1, dec!(1234567.891));
        bare.doc_number = None;
        bare.customer_name = Some("  ".into());
        let mut custom = input(vec![bare], &[]);
        custom.thresholds = vec![1];
        let report = age_invoices(&custom).unwrap();
        assert_eq!(
            report.alerts[0].message,
            "Invoice 7 is 1 day past due: 1,234,567.891 open"
        );
    }

    #[test]
    fn invoices_are_ordered_most_overdue_first_then_by_id() {
        let report = age_invoices(&input(
            vec![
                invoice("b", 10, dec!(1)),
                invoice("c", 40, dec!(1)),
                invoice("a", 10, dec!(1)),
            ],
            &[],
        ))
        .unwrap();
        let ids: Vec<_> = report
            .invoices
            .iter()
            .map(|i| i.invoice_id.as_str())
            .collect();
        assert_eq!(ids, ["c", "a", "b"]);
    }

    #[test]
    fn thresholds_default_to_30_60_90_and_are_sorted_and_deduplicated() {
        assert_eq!(alert_thresholds(&[]), Ok(vec![30, 60, 90]));
        assert_eq!(alert_thresholds(&[45, 15, 45]), Ok(vec![15, 45]));
        let mut custom = input(vec![invoice("1", 20, dec!(5))], &[]);
        custom.thresholds = vec![45, 15, 45];
        let report = age_invoices(&custom).unwrap();
        assert_eq!(report.alerts[0].threshold, 15);
    }

    #[test]
    fn zero_threshold_is_refused() {
        let mut bad = input(vec![], &[]);
        bad.thresholds = vec![30, 0];
        let err = age_invoices(&bad).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].record_id, "Aging as of 2024-06-30");
        assert_eq!(err.errors[0].field, "thresholds[1]");
    }

    #[test]
    fn invoice_listed_twice_is_refused_naming_it() {
        let err = age_invoices(&input(
            vec![invoice("1", 5, dec!(1)), invoice("1", 5, dec!(1))],
            &[],
        ))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].record_id, "Invoice 1");
        assert_eq!(err.errors[0].field, "invoices[1].invoice-id");
    }

    #[test]
    fn due_date_before_txn_date_is_aged_from_the_due_date() {
        let mut odd = invoice("1", 40, dec!(5));
        odd.txn_date = odd.due_date + chrono::Duration::days(10);
        let report = age_invoices(&input(vec![odd], &[])).unwrap();
        assert_eq!(report.invoices[0].days_outstanding, 40);
    }

    #[test]
    fn empty_buckets_show_zero_cents() {
        let report = age_invoices(&input(vec![], &[])).unwrap();
        assert!(report
            .buckets
            .iter()
            .all(|b| b.balance.to_string() == "0.00"));
        assert_eq!(report.total_open.to_string(), "0.00");
    }

    #[test]
    fn amounts_in_messages_have_cents_and_thousands_separators() {
        assert_eq!(format_amount(dec!(0)), "0.00");
        assert_eq!(format_amount(dec!(999.5)), "999.50");
        assert_eq!(format_amount(dec!(1000)), "1,000.00");
        assert_eq!(format_amount(dec!(-1234567.1)), "-1,234,567.10");
        assert_eq!(
            format_amount(dec!(0.125)),
            "0.125",
            "sub-cent digits are never hidden"
        );
        assert_eq!(format_amount(-dec!(0.00)), "0.00");
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<AgingInput, _>(
            "age-invoices",
            age_invoices,
        );
    }
}
