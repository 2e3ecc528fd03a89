//! `reconcile`: Closed Won vs invoiced for a period -> totals, matches and discrepancies.
//!
//! The period is `[period-start, period-end]`, both days included. Everything is exact to the
//! cent: amounts are summed as decimals and never rounded.
//!
//! - **Salesforce side**: the opportunities whose close date is in the period; others are not
//!   counted (they only explain documents linked to them).
//! - **QuickBooks side**: voided documents are ignored entirely (they neither count nor link
//!   nor match). A document's `signed_amount` is its total for an invoice and minus its total
//!   for a credit memo or a refund receipt; `quickbooks-total` is the signed sum of the documents dated in the
//!   period.
//! - **Linking** (`linked_opportunity`): a document belongs to the opportunity its
//!   `opportunity-id` names; an invoice without one belongs to the opportunity whose
//!   `invoice-id` is that invoice (an opportunity of the period first, then the lowest id).
//!   A credit memo or refund receipt without `opportunity-id` links to nothing.
//! - **Per opportunity of the period**, with `net` = the signed sum of all its linked documents,
//!   whatever their date:
//!   - no linked invoice: `missing-invoice` (difference = amount - net, which is the amount
//!     when nothing is linked);
//!   - otherwise `net != amount`: `amount-differs` (difference = amount - net);
//!   - each linked document dated outside the period: `other-period`, with its id; it is not in
//!     `quickbooks-total`, so its difference is its signed amount;
//!   - none of these: a `matched` pair with the linked document ids and `net`.
//! - **Documents without an opportunity of the period** dated in the period:
//!   `invoice-without-opportunity` (credit memos too: they move the QuickBooks total), the
//!   detail saying whether it has no link at all or which opportunity it names; its difference
//!   is minus its signed amount.
//!
//! With these differences the discrepancies explain the report exactly: their differences
//! add up to `difference` = `salesforce-total - quickbooks-total`.
//!
//! Order: `matched` by opportunity id; discrepancies by kind (in the order of the enum), then
//! opportunity id (none first), then document id. Malformed input (a period that ends before
//! it starts, an id listed twice, a negative document total, amounts beyond 10^15) is refused
//! (`invalid-input`, every problem at once).

use super::text::{clean, format_amount};
use crate::model::money::{out_of_range, MAX_AMOUNT};
use crate::model::{ErrorKind, FieldError, MappingError};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};

/// A Closed Won Opportunity of the period.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct WonOpportunity {
    pub id: String,
    pub name: String,
    pub account_id: Option<String>,
    pub close_date: NaiveDate,
    pub amount: Decimal,
    pub invoice_id: Option<String>,
}

/// What a QBO document is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DocumentKind {
    Invoice,
    CreditMemo,
    RefundReceipt,
}

/// A QBO invoice or credit memo.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct LedgerDocument {
    pub id: String,
    pub doc_number: Option<String>,
    pub kind: DocumentKind,
    pub txn_date: NaiveDate,
    pub total_amt: Decimal,
    pub opportunity_id: Option<String>,
    pub voided: bool,
}

/// Input of `reconcile`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ReconcileInput {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub opportunities: Vec<WonOpportunity>,
    pub documents: Vec<LedgerDocument>,
}

/// A matched Opportunity and its net invoiced amount.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct MatchedPair {
    pub opportunity_id: String,
    pub document_ids: Vec<String>,
    pub amount: Decimal,
}

/// What disagrees.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub enum DiscrepancyKind {
    MissingInvoice,
    AmountDiffers,
    InvoiceWithoutOpportunity,
    OtherPeriod,
}

/// One disagreement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct Discrepancy {
    pub kind: DiscrepancyKind,
    pub opportunity_id: Option<String>,
    pub document_id: Option<String>,
    pub salesforce_amount: Option<Decimal>,
    pub quickbooks_amount: Option<Decimal>,
    pub difference: Decimal,
    pub detail: String,
}

/// One calendar month of the period: Closed Won by close date, documents by their date.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct MonthTotal {
    /// `YYYY-MM`.
    pub month: String,
    pub salesforce_total: Decimal,
    pub quickbooks_total: Decimal,
    pub difference: Decimal,
}

/// A period longer than this lists only its months with activity.
const MONTHS_LISTED_IN_FULL: u32 = 36;

/// Output of `reconcile`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct ReconcileReport {
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub salesforce_total: Decimal,
    pub quickbooks_total: Decimal,
    pub difference: Decimal,
    pub matched: Vec<MatchedPair>,
    pub discrepancies: Vec<Discrepancy>,
    /// Reports stored before the breakdown have none.
    #[serde(default)]
    pub months: Vec<MonthTotal>,
}

/// Reconciles a period.
pub fn reconcile(input: &ReconcileInput) -> Result<ReconcileReport, MappingError> {
    let problems = invalid_input(input);
    if !problems.is_empty() {
        return Err(MappingError::new(ErrorKind::InvalidInput, problems));
    }
    let period = Period {
        start: input.period_start,
        end: input.period_end,
    };

    let mut won: Vec<&WonOpportunity> = input
        .opportunities
        .iter()
        .filter(|o| period.contains(o.close_date))
        .collect();
    won.sort_by(|a, b| a.id.cmp(&b.id));
    let won_ids: HashSet<&str> = won.iter().map(|o| o.id.trim()).collect();
    let by_id: HashMap<&str, &WonOpportunity> = input
        .opportunities
        .iter()
        .map(|o| (o.id.trim(), o))
        .collect();
    let by_invoice = opportunities_by_invoice(&input.opportunities, &period);

    // Each document with the opportunity it belongs to, if any; live and voided apart.
    let mut sorted: Vec<&LedgerDocument> = input.documents.iter().collect();
    sorted.sort_by(|a, b| (&a.id, kind_rank_doc(a.kind)).cmp(&(&b.id, kind_rank_doc(b.kind))));
    let mut documents: Vec<(&LedgerDocument, Option<String>)> = Vec::new();
    let mut linked_live: HashMap<String, Vec<&LedgerDocument>> = HashMap::new();
    let mut linked_voided: HashMap<String, Vec<&LedgerDocument>> = HashMap::new();
    for document in sorted {
        let link = linked_opportunity(document, &by_invoice);
        if let Some(id) = &link {
            let group = if document.voided {
                &mut linked_voided
            } else {
                &mut linked_live
            };
            group.entry(id.clone()).or_default().push(document);
        }
        if !document.voided {
            documents.push((document, link));
        }
    }

    let mut matched = Vec::new();
    let mut discrepancies = Vec::new();
    for opportunity in &won {
        let linked: &[&LedgerDocument] = linked_live
            .get(opportunity.id.trim())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let voided: &[&LedgerDocument] = linked_voided
            .get(opportunity.id.trim())
            .map(Vec::as_slice)
            .unwrap_or_default();
        let net: Decimal = linked.iter().map(|d| signed_amount(d)).sum();
        let has_invoice = linked.iter().any(|d| d.kind == DocumentKind::Invoice);
        let elsewhere: Vec<&LedgerDocument> = linked
            .iter()
            .filter(|d| !period.contains(d.txn_date))
            .copied()
            .collect();

        if !has_invoice {
            discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::MissingInvoice,
                opportunity_id: Some(opportunity.id.clone()),
                document_id: None,
                salesforce_amount: Some(opportunity.amount),
                quickbooks_amount: (!linked.is_empty()).then_some(in_cents(net)),
                difference: in_cents(opportunity.amount - net),
                detail: missing_invoice_detail(opportunity, linked, voided),
            });
        } else if net != opportunity.amount {
            discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::AmountDiffers,
                opportunity_id: Some(opportunity.id.clone()),
                document_id: None,
                salesforce_amount: Some(opportunity.amount),
                quickbooks_amount: Some(in_cents(net)),
                difference: in_cents(opportunity.amount - net),
                detail: format!(
                    "{} is {} in Salesforce but its QuickBooks documents net {} ({}); the \
                     difference is {}",
                    describe_opportunity(opportunity),
                    format_amount(opportunity.amount),
                    format_amount(net),
                    list_documents(linked),
                    format_amount(opportunity.amount - net)
                ),
            });
        }
        for document in &elsewhere {
            discrepancies.push(Discrepancy {
                kind: DiscrepancyKind::OtherPeriod,
                opportunity_id: Some(opportunity.id.clone()),
                document_id: Some(document.id.clone()),
                salesforce_amount: None,
                quickbooks_amount: Some(signed_amount(document)),
                difference: signed_amount(document),
                detail: format!(
                    "{} of {} is dated {}, outside {}; it is not counted in this period's \
                     QuickBooks total",
                    describe_document(document),
                    describe_opportunity(opportunity),
                    document.txn_date,
                    period
                ),
            });
        }
        if has_invoice && net == opportunity.amount && elsewhere.is_empty() {
            let mut document_ids: Vec<String> = linked.iter().map(|d| d.id.clone()).collect();
            document_ids.sort();
            matched.push(MatchedPair {
                opportunity_id: opportunity.id.clone(),
                document_ids,
                amount: in_cents(net),
            });
        }
    }

    for (document, link) in &documents {
        if !period.contains(document.txn_date) {
            continue;
        }
        let detail = match link {
            Some(id) if won_ids.contains(id.as_str()) => continue,
            Some(id) => {
                let why = match by_id.get(id.as_str()) {
                    Some(o) => format!("which closed on {}, outside {}", o.close_date, period),
                    None => format!("which is not among the opportunities won in {period}"),
                };
                format!(
                    "{} dated {} is linked to Opportunity {id}, {why}",
                    describe_document(document),
                    document.txn_date
                )
            }
            None => format!(
                "{} dated {} is linked to no Salesforce Opportunity",
                describe_document(document),
                document.txn_date
            ),
        };
        discrepancies.push(Discrepancy {
            kind: DiscrepancyKind::InvoiceWithoutOpportunity,
            opportunity_id: link.clone(),
            document_id: Some(document.id.clone()),
            salesforce_amount: None,
            quickbooks_amount: Some(signed_amount(document)),
            difference: in_cents(-signed_amount(document)),
            detail,
        });
    }
    discrepancies.sort_by(|a, b| {
        (kind_rank(a.kind), &a.opportunity_id, &a.document_id).cmp(&(
            kind_rank(b.kind),
            &b.opportunity_id,
            &b.document_id,
        ))
    });

    let salesforce_total: Decimal = won.iter().map(|o| o.amount).sum();
    let quickbooks_total: Decimal = documents
        .iter()
        .filter(|(d, _)| period.contains(d.txn_date))
        .map(|(d, _)| signed_amount(d))
        .sum();
    let months = months(
        &period,
        won.iter().map(|o| (o.close_date, o.amount)),
        documents
            .iter()
            .filter(|(d, _)| period.contains(d.txn_date))
            .map(|(d, _)| (d.txn_date, signed_amount(d))),
    );
    Ok(ReconcileReport {
        period_start: input.period_start,
        period_end: input.period_end,
        salesforce_total: in_cents(salesforce_total),
        quickbooks_total: in_cents(quickbooks_total),
        difference: in_cents(salesforce_total - quickbooks_total),
        matched,
        discrepancies,
        months,
    })
}

/// The totals month by month: every month of the period when it spans at most
/// [`MONTHS_LISTED_IN_FULL`], else the months with activity. Each side is summed exactly and
/// the months add up to the period's totals.
fn months(
    period: &Period,
    salesforce: impl Iterator<Item = (NaiveDate, Decimal)>,
    quickbooks: impl Iterator<Item = (NaiveDate, Decimal)>,
) -> Vec<MonthTotal> {
    use chrono::Datelike;
    let key = |d: NaiveDate| format!("{:04}-{:02}", d.year(), d.month());
    let mut by_month: std::collections::BTreeMap<String, (Decimal, Decimal)> =
        std::collections::BTreeMap::new();
    let span = (period.end.year() - period.start.year()) * 12 + period.end.month() as i32
        - period.start.month() as i32
        + 1;
    if span <= MONTHS_LISTED_IN_FULL as i32 {
        let mut d = period.start.with_day(1).unwrap_or(period.start);
        while d <= period.end {
            by_month.entry(key(d)).or_default();
            match d.checked_add_months(chrono::Months::new(1)) {
                Some(next) => d = next,
                None => break,
            }
        }
    }
    for (date, amount) in salesforce {
        by_month.entry(key(date)).or_default().0 += amount;
    }
    for (date, amount) in quickbooks {
        by_month.entry(key(date)).or_default().1 += amount;
    }
    by_month
        .into_iter()
        .map(|(month, (sf, qb))| MonthTotal {
            month,
            salesforce_total: in_cents(sf),
            quickbooks_total: in_cents(qb),
            difference: in_cents(sf - qb),
        })
        .collect()
}

/// The reconciled period, both days included.
struct Period {
    start: NaiveDate,
    end: NaiveDate,
}

impl Period {
    /// Rule "period": `start <= date <= end`.
    fn contains(&self, date: NaiveDate) -> bool {
        self.start <= date && date <= self.end
    }
}

impl std::fmt::Display for Period {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the period {} to {}", self.start, self.end)
    }
}

/// Rule "credit memo reduces": an invoice counts its total, a credit memo or a refund receipt
/// minus its total.
fn signed_amount(document: &LedgerDocument) -> Decimal {
    match document.kind {
        DocumentKind::Invoice => document.total_amt,
        DocumentKind::CreditMemo | DocumentKind::RefundReceipt => -document.total_amt,
    }
}

/// Rule "linking": the document's own `opportunity-id`, else (invoices only) the opportunity
/// naming it as its invoice.
fn linked_opportunity(
    document: &LedgerDocument,
    by_invoice: &HashMap<&str, &WonOpportunity>,
) -> Option<String> {
    if let Some(id) = clean(document.opportunity_id.as_deref()) {
        return Some(id);
    }
    if document.kind != DocumentKind::Invoice {
        return None;
    }
    by_invoice
        .get(document.id.trim())
        .map(|o| o.id.trim().to_string())
}

/// The opportunity each invoice id belongs to by the opportunity's `invoice-id`; when several
/// name the same invoice, one of the period first, then the lowest id.
fn opportunities_by_invoice<'o>(
    opportunities: &'o [WonOpportunity],
    period: &Period,
) -> HashMap<&'o str, &'o WonOpportunity> {
    let rank = |o: &'o WonOpportunity| (!period.contains(o.close_date), o.id.trim());
    let mut by_invoice: HashMap<&str, &WonOpportunity> = HashMap::new();
    for opportunity in opportunities {
        let Some(invoice_id) = opportunity.invoice_id.as_deref().map(str::trim) else {
            continue;
        };
        if invoice_id.is_empty() {
            continue;
        }
        let best = by_invoice.entry(invoice_id).or_insert(opportunity);
        if rank(opportunity) < rank(best) {
            *best = opportunity;
        }
    }
    by_invoice
}

fn missing_invoice_detail(
    opportunity: &WonOpportunity,
    linked: &[&LedgerDocument],
    voided: &[&LedgerDocument],
) -> String {
    let mut detail = format!(
        "{} was won on {} for {} but has no QuickBooks invoice",
        describe_opportunity(opportunity),
        opportunity.close_date,
        format_amount(opportunity.amount)
    );
    if !linked.is_empty() {
        detail.push_str(&format!("; it has {}", list_documents(linked)));
    }
    if !voided.is_empty() {
        detail.push_str(&format!(
            "; voided, so not counted: {}",
            list_documents(voided)
        ));
    }
    detail
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

fn describe_opportunity(opportunity: &WonOpportunity) -> String {
    match clean(Some(&opportunity.name)) {
        Some(name) => format!("Opportunity {} ({name})", opportunity.id),
        None => format!("Opportunity {}", opportunity.id),
    }
}

fn describe_document(document: &LedgerDocument) -> String {
    let kind = match document.kind {
        DocumentKind::Invoice => "Invoice",
        DocumentKind::CreditMemo => "Credit memo",
        DocumentKind::RefundReceipt => "Refund receipt",
    };
    match clean(document.doc_number.as_deref()) {
        Some(number) if number != document.id => {
            format!(
                "{kind} {} (No. {number}, {})",
                document.id,
                format_amount(document.total_amt)
            )
        }
        _ => format!(
            "{kind} {} ({})",
            document.id,
            format_amount(document.total_amt)
        ),
    }
}

fn list_documents(documents: &[&LedgerDocument]) -> String {
    documents
        .iter()
        .map(|d| lowercase_first(&describe_document(d)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// "Invoice 1" -> "invoice 1", inside a sentence.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Discrepancies sort in the order of the enum.
fn kind_rank(kind: DiscrepancyKind) -> u8 {
    match kind {
        DiscrepancyKind::MissingInvoice => 0,
        DiscrepancyKind::AmountDiffers => 1,
        DiscrepancyKind::InvoiceWithoutOpportunity => 2,
        DiscrepancyKind::OtherPeriod => 3,
    }
}

fn kind_rank_doc(kind: DocumentKind) -> u8 {
    match kind {
        DocumentKind::Invoice => 0,
        DocumentKind::CreditMemo => 1,
        DocumentKind::RefundReceipt => 2,
    }
}

/// Every malformed field of the input.
fn invalid_input(input: &ReconcileInput) -> Vec<FieldError> {
    let record = format!(
        "Reconciliation {} to {}",
        input.period_start, input.period_end
    );
    let mut problems = Vec::new();
    if input.period_start > input.period_end {
        problems.push(FieldError::new(
            &record,
            "period-start",
            format!(
                "{} is after period-end {}; the period must start on or before its end",
                input.period_start, input.period_end
            ),
        ));
    }
    let mut seen: HashSet<&str> = HashSet::new();
    for (i, opportunity) in input.opportunities.iter().enumerate() {
        let who = format!("Opportunity {}", opportunity.id);
        let id = opportunity.id.trim();
        if id.is_empty() {
            problems.push(FieldError::new(
                &who,
                format!("opportunities[{i}].id"),
                "the id is empty",
            ));
        } else if !seen.insert(id) {
            problems.push(FieldError::new(
                &who,
                format!("opportunities[{i}].id"),
                "the opportunity is listed twice; its amount would be counted twice",
            ));
        }
        if opportunity.amount.abs() > MAX_AMOUNT {
            problems.push(out_of_range(
                &who,
                &format!("opportunities[{i}].amount"),
                opportunity.amount,
            ));
        }
    }
    let mut seen: HashSet<(&str, u8)> = HashSet::new();
    for (i, document) in input.documents.iter().enumerate() {
        let who = describe_kind_and_id(document);
        let id = (document.id.trim(), kind_rank_doc(document.kind));
        if id.0.is_empty() {
            problems.push(FieldError::new(
                &who,
                format!("documents[{i}].id"),
                "the id is empty",
            ));
        } else if !seen.insert(id) {
            problems.push(FieldError::new(
                &who,
                format!("documents[{i}].id"),
                "the document is listed twice; its amount would be counted twice",
            ));
        }
        if document.total_amt.abs() > MAX_AMOUNT {
            problems.push(out_of_range(
                &who,
                &format!("documents[{i}].total-amt"),
                document.total_amt,
            ));
        } else if document.total_amt < Decimal::ZERO {
            problems.push(FieldError::new(
                &who,
                format!("documents[{i}].total-amt"),
                format!(
                    "is {}; a document total is not negative (a credit memo is subtracted by its kind)",
                    document.total_amt
                ),
            ));
        }
    }
    problems
}

fn describe_kind_and_id(document: &LedgerDocument) -> String {
    match document.kind {
        DocumentKind::Invoice => format!("Invoice {}", document.id),
        DocumentKind::CreditMemo => format!("Credit memo {}", document.id),
        DocumentKind::RefundReceipt => format!("Refund receipt {}", document.id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn won(id: &str, closed: &str, amount: Decimal) -> WonOpportunity {
        WonOpportunity {
            id: id.into(),
            name: format!("Deal {id}"),
            account_id: None,
            close_date: date(closed),
            amount,
            invoice_id: None,
        }
    }

    fn doc(
        id: &str,
        kind: DocumentKind,
        dated: &str,
        total: Decimal,
        opportunity: Option<&str>,
    ) -> LedgerDocument {
        LedgerDocument {
            id: id.into(),
            doc_number: Some(format!("N{id}")),
            kind,
            txn_date: date(dated),
            total_amt: total,
            opportunity_id: opportunity.map(Into::into),
            voided: false,
        }
    }

    fn invoice(id: &str, dated: &str, total: Decimal, opportunity: Option<&str>) -> LedgerDocument {
        doc(id, DocumentKind::Invoice, dated, total, opportunity)
    }

    fn credit(id: &str, dated: &str, total: Decimal, opportunity: Option<&str>) -> LedgerDocument {
        doc(id, DocumentKind::CreditMemo, dated, total, opportunity)
    }

    fn march(
        opportunities: Vec<WonOpportunity>,
        documents: Vec<LedgerDocument>,
    ) -> ReconcileReport {
        reconcile(&ReconcileInput {
            period_start: date("2024-03-01"),
            period_end: date("2024-03-31"),
            opportunities,
            documents,
        })
        .unwrap()
    }

    fn kinds(
        report: &ReconcileReport,
    ) -> Vec<(DiscrepancyKind, Option<&str>, Option<&str>, Decimal)> {
        report
            .discrepancies
            .iter()
            .map(|d| {
                (
                    d.kind,
                    d.opportunity_id.as_deref(),
                    d.document_id.as_deref(),
                    d.difference,
                )
            })
            .collect()
    }

    /// The discrepancies explain the whole difference, whatever the case.
    fn assert_explained(report: &ReconcileReport) {
        let explained: Decimal = report.discrepancies.iter().map(|d| d.difference).sum();
        assert_eq!(explained, report.difference, "{report:#?}");
        assert_eq!(
            report.difference,
            report.salesforce_total - report.quickbooks_total
        );
    }

    #[test]
    fn the_months_of_a_period_add_up_to_its_totals() {
        let period = Period {
            start: NaiveDate::from_ymd_opt(2025, 1, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2025, 3, 31).unwrap(),
        };
        let d = |m, day| NaiveDate::from_ymd_opt(2025, m, day).unwrap();
        let months = months(
            &period,
            [
                (d(1, 31), dec!(100.10)),
                (d(3, 1), dec!(50)),
                (d(3, 31), dec!(0.05)),
            ]
            .into_iter(),
            [(d(1, 2), dec!(100.10)), (d(2, 28), dec!(-20.00))].into_iter(),
        );
        let names: Vec<&str> = months.iter().map(|m| m.month.as_str()).collect();
        assert_eq!(
            names,
            ["2025-01", "2025-02", "2025-03"],
            "every month, even a quiet one"
        );
        assert_eq!(
            (
                months[1].salesforce_total,
                months[1].quickbooks_total,
                months[1].difference
            ),
            (dec!(0.00), dec!(-20.00), dec!(20.00))
        );
        assert_eq!(months[2].salesforce_total, dec!(50.05));
        let sf: Decimal = months.iter().map(|m| m.salesforce_total).sum();
        let qb: Decimal = months.iter().map(|m| m.quickbooks_total).sum();
        assert_eq!((sf, qb), (dec!(150.15), dec!(80.10)));
        // A long period lists only the months with activity.
        let long = Period {
            start: NaiveDate::from_ymd_opt(2000, 1, 1).unwrap(),
            end: NaiveDate::from_ymd_opt(2099, 12, 31).unwrap(),
        };
        let sparse = months_of(&long, d(3, 1));
        assert_eq!(sparse.len(), 1);
    }

    fn months_of(period: &Period, day: NaiveDate) -> Vec<MonthTotal> {
        months(period, [(day, dec!(1))].into_iter(), std::iter::empty())
    }

    #[test]
    fn exact_match_is_a_matched_pair() {
        let report = march(
            vec![won("006A", "2024-03-10", dec!(1000.00))],
            vec![invoice("1042", "2024-03-11", dec!(1000.00), Some("006A"))],
        );
        assert_eq!(
            report.matched,
            [MatchedPair {
                opportunity_id: "006A".into(),
                document_ids: vec!["1042".into()],
                amount: dec!(1000.00)
            }]
        );
        assert!(report.discrepancies.is_empty());
        assert_eq!(report.difference, dec!(0));
        assert_eq!(
            (report.salesforce_total, report.quickbooks_total),
            (dec!(1000.00), dec!(1000.00))
        );
    }

    #[test]
    fn period_includes_both_end_days() {
        let report = march(
            vec![
                won("006A", "2024-03-01", dec!(1)),
                won("006B", "2024-03-31", dec!(2)),
                won("006C", "2024-04-01", dec!(4)),
            ],
            vec![
                invoice("1", "2024-03-01", dec!(1), Some("006A")),
                invoice("2", "2024-03-31", dec!(2), Some("006B")),
            ],
        );
        assert_eq!(report.salesforce_total, dec!(3));
        assert_eq!(report.matched.len(), 2);
        assert!(report.discrepancies.is_empty());
    }

    #[test]
    fn invoice_links_by_the_opportunity_invoice_id_when_it_names_no_opportunity() {
        let mut opportunity = won("006A", "2024-03-10", dec!(500));
        opportunity.invoice_id = Some("1042".into());
        let report = march(
            vec![opportunity],
            vec![invoice("1042", "2024-03-11", dec!(500), None)],
        );
        assert_eq!(report.matched.len(), 1);
        assert!(report.discrepancies.is_empty());
    }

    #[test]
    fn credit_memo_reduces_invoiced_amount() {
        let report = march(
            vec![won("006A", "2024-03-10", dec!(900.00))],
            vec![
                invoice("1042", "2024-03-11", dec!(1000.00), Some("006A")),
                credit("77", "2024-03-20", dec!(100.00), Some("006A")),
            ],
        );
        assert_eq!(report.matched[0].amount, dec!(900.00));
        assert_eq!(report.matched[0].document_ids, ["1042", "77"]);
        assert_eq!(report.quickbooks_total, dec!(900.00));
        assert!(report.discrepancies.is_empty());
    }

    #[test]
    fn won_opportunity_without_invoice_is_missing_invoice() {
        let mut voided = invoice("1042", "2024-03-11", dec!(250), Some("006A"));
        voided.voided = true;
        let report = march(vec![won("006A", "2024-03-10", dec!(250.00))], vec![voided]);
        assert_eq!(
            kinds(&report),
            [(
                DiscrepancyKind::MissingInvoice,
                Some("006A"),
                None,
                dec!(250.00)
            )]
        );
        let d = &report.discrepancies[0];
        assert_eq!(d.salesforce_amount, Some(dec!(250.00)));
        assert_eq!(d.quickbooks_amount, None);
        assert!(d.detail.contains("voided"), "{}", d.detail);
        assert_eq!(
            report.quickbooks_total,
            dec!(0),
            "voided documents are ignored entirely"
        );
        assert_explained(&report);
    }

    #[test]
    fn amount_differs_by_a_single_cent_is_reported() {
        let report = march(
            vec![won("006A", "2024-03-10", dec!(1000.00))],
            vec![invoice("1042", "2024-03-11", dec!(999.99), Some("006A"))],
        );
        assert_eq!(
            kinds(&report),
            [(
                DiscrepancyKind::AmountDiffers,
                Some("006A"),
                None,
                dec!(0.01)
            )]
        );
        let d = &report.discrepancies[0];
        assert_eq!(
            (d.salesforce_amount, d.quickbooks_amount),
            (Some(dec!(1000.00)), Some(dec!(999.99)))
        );
        assert!(
            d.detail.contains("1,000.00") && d.detail.contains("999.99"),
            "{}",
            d.detail
        );
        assert!(report.matched.is_empty());
        assert_explained(&report);
    }

    #[test]
    fn invoice_dated_in_another_period_is_reported_and_not_counted() {
        let report = march(
            vec![won("006A", "2024-03-30", dec!(400))],
            vec![invoice("1042", "2024-04-02", dec!(400), Some("006A"))],
        );
        assert_eq!(
            kinds(&report),
            [(
                DiscrepancyKind::OtherPeriod,
                Some("006A"),
                Some("1042"),
                dec!(400)
            )]
        );
        assert_eq!(report.quickbooks_total, dec!(0));
        assert!(report.matched.is_empty());
        assert!(report.discrepancies[0].detail.contains("2024-04-02"));
        assert_explained(&report);
    }

    #[test]
    fn later_credit_memo_shows_as_amount_differs_and_other_period() {
        let report = march(
            vec![won("006A", "2024-03-10", dec!(1000))],
            vec![
                invoice("1042", "2024-03-11", dec!(1000), Some("006A")),
                credit("77", "2024-04-15", dec!(100), Some("006A")),
            ],
        );
        assert_eq!(
            kinds(&report),
            [
                (
                    DiscrepancyKind::AmountDiffers,
                    Some("006A"),
                    None,
                    dec!(100)
                ),
                (
                    DiscrepancyKind::OtherPeriod,
                    Some("006A"),
                    Some("77"),
                    dec!(-100)
                ),
            ]
        );
        assert_eq!(report.difference, dec!(0));
        assert_explained(&report);
    }

    #[test]
    fn invoice_without_opportunity_is_reported_saying_why() {
        let report = march(
            vec![
                won("006A", "2024-03-10", dec!(100)),
                won("006OLD", "2024-02-20", dec!(50)),
            ],
            vec![
                invoice("1", "2024-03-11", dec!(100), Some("006A")),
                invoice("2", "2024-03-12", dec!(75.25), None),
                invoice("3", "2024-03-13", dec!(50), Some("006OLD")),
                invoice("4", "2024-03-14", dec!(10), Some("006LOST")),
                credit("5", "2024-03-15", dec!(5), None),
                invoice("6", "2024-02-14", dec!(10), None),
            ],
        );
        assert_eq!(
            kinds(&report),
            [
                (
                    DiscrepancyKind::InvoiceWithoutOpportunity,
                    None,
                    Some("2"),
                    dec!(-75.25)
                ),
                (
                    DiscrepancyKind::InvoiceWithoutOpportunity,
                    None,
                    Some("5"),
                    dec!(5)
                ),
                (
                    DiscrepancyKind::InvoiceWithoutOpportunity,
                    Some("006LOST"),
                    Some("4"),
                    dec!(-10)
                ),
                (
                    DiscrepancyKind::InvoiceWithoutOpportunity,
                    Some("006OLD"),
                    Some("3"),
                    dec!(-50)
                ),
            ]
        );
        let details: Vec<_> = report
            .discrepancies
            .iter()
            .map(|d| d.detail.as_str())
            .collect();
        assert!(
            details[0].contains("no Salesforce Opportunity"),
            "{}",
            details[0]
        );
        assert!(
            details[2].contains("not among the opportunities won"),
            "{}",
            details[2]
        );
        assert!(
            details[3].contains("closed on 2024-02-20"),
            "{}",
            details[3]
        );
        assert_eq!(report.salesforce_total, dec!(100));
        assert_eq!(report.quickbooks_total, dec!(230.25));
        assert_explained(&report);
    }

    #[test]
    fn totals_are_exact_to_the_cent() {
        let opportunities: Vec<_> = (1..=300)
            .map(|n| {
                won(
                    &format!("006{n:03}"),
                    "2024-03-15",
                    Decimal::new(n * 101 + 1, 2),
                )
            })
            .collect();
        let documents: Vec<_> = (1..=300)
            .map(|n| {
                let off_by_a_cent = if n == 150 { 1 } else { 0 };
                invoice(
                    &format!("{n}"),
                    "2024-03-16",
                    Decimal::new(n * 101 + 1 - off_by_a_cent, 2),
                    Some(&format!("006{n:03}")),
                )
            })
            .collect();
        let report = march(opportunities, documents);
        let expected: Decimal = (1..=300).map(|n| Decimal::new(n * 101 + 1, 2)).sum();
        assert_eq!(report.salesforce_total, expected);
        assert_eq!(report.quickbooks_total, expected - dec!(0.01));
        assert_eq!(report.difference, dec!(0.01));
        assert_eq!(report.matched.len(), 299);
        assert_eq!(
            kinds(&report),
            [(
                DiscrepancyKind::AmountDiffers,
                Some("006150"),
                None,
                dec!(0.01)
            )]
        );
    }

    #[test]
    fn discrepancies_explain_the_whole_difference() {
        let mut by_invoice_id = won("006E", "2024-03-05", dec!(70));
        by_invoice_id.invoice_id = Some("60".into());
        let report = march(
            vec![
                won("006A", "2024-03-10", dec!(100)),
                won("006B", "2024-03-10", dec!(200)),
                won("006C", "2024-03-10", dec!(300)),
                won("006D", "2024-03-10", dec!(40)),
                by_invoice_id,
            ],
            vec![
                invoice("10", "2024-03-11", dec!(100), Some("006A")),
                invoice("20", "2024-03-11", dec!(150), Some("006B")),
                credit("21", "2024-03-12", dec!(10), Some("006B")),
                invoice("30", "2024-02-27", dec!(120), Some("006C")),
                invoice("31", "2024-03-02", dec!(180), Some("006C")),
                credit("40", "2024-03-20", dec!(5), Some("006D")),
                invoice("60", "2024-03-06", dec!(69.99), None),
                invoice("90", "2024-03-25", dec!(12.34), None),
            ],
        );
        assert_explained(&report);
        assert_eq!(report.matched.len(), 1);
        assert_eq!(
            kinds(&report).iter().map(|k| k.0).collect::<Vec<_>>(),
            [
                DiscrepancyKind::MissingInvoice,
                DiscrepancyKind::AmountDiffers,
                DiscrepancyKind::AmountDiffers,
                DiscrepancyKind::InvoiceWithoutOpportunity,
                DiscrepancyKind::OtherPeriod,
            ]
        );
    }

    #[test]
    fn period_that_ends_before_it_starts_is_refused() {
        let err = reconcile(&ReconcileInput {
            period_start: date("2024-04-01"),
            period_end: date("2024-03-31"),
            opportunities: vec![],
            documents: vec![],
        })
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(
            err.errors[0].record_id,
            "Reconciliation 2024-04-01 to 2024-03-31"
        );
        assert_eq!(err.errors[0].field, "period-start");
    }

    #[test]
    fn duplicates_and_negative_totals_are_refused_naming_the_record() {
        let err = reconcile(&ReconcileInput {
            period_start: date("2024-03-01"),
            period_end: date("2024-03-31"),
            opportunities: vec![
                won("006A", "2024-03-10", dec!(1)),
                won("006A", "2024-03-10", dec!(1)),
            ],
            documents: vec![credit("7", "2024-03-10", dec!(-5), None)],
        })
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let found: Vec<_> = err
            .errors
            .iter()
            .map(|e| (e.record_id.as_str(), e.field.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("Opportunity 006A", "opportunities[1].id"),
                ("Credit memo 7", "documents[0].total-amt")
            ]
        );
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<ReconcileInput, _>(
            "reconcile",
            reconcile,
        );
    }
}
