//! The payment figures of one Salesforce record (an Opportunity, or an Invoice record) from all
//! of its QBO invoices: their payment ledgers, the credits and refunds counted against them and
//! whether they were voided or deleted (`mapping::settlement` holds the rules). Every flow that
//! moves money on an invoice (payments, credit memos, refunds, voids, deletes, subscriptions)
//! writes the record through here, so the figures never depend on which event came last.
//!
//! An invoice QBO generated from a subscription's template also has its own period record
//! (`Ledgerlink_Subscription_Invoice__c`, by its invoice id): [`write`] keeps that record's paid
//! figures current with the record's, whichever flow moved the money.
//!
//! State (bucket `state`): `ledger/{Invoice Id}` is the payment ledger (`payments.rs`);
//! `adjustments/{Invoice Id}` is [`InvoiceAdjustments`].

use super::context::{Ctx, FlowResult};
use super::links::{self, Owner};
use super::report::Failure;
use super::state::STATE;
use crate::clients::json::number;
use crate::clients::quickbooks_json::invoice_view;
use crate::clients::salesforce_fields::{
    AMOUNT_CREDITED, AMOUNT_INVOICED, AMOUNT_PAID, AMOUNT_REFUNDED, OPEN_BALANCE, OPPORTUNITY_REF,
    PAID_DATE, PAYMENT_STATUS, QBO_INVOICE_ID, QBO_INVOICE_LINK, QBO_INVOICE_NUMBER,
    SUBSCRIPTION_INVOICE,
};
use crate::mapping::{
    settle, Adjustment, AdjustmentKind, InvoiceLedger, InvoiceMoney, InvoiceState, Settlement,
    SettlementStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// What is counted against one invoice besides its payments.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct InvoiceAdjustments {
    /// Live, voided or deleted.
    #[serde(default)]
    pub state: InvoiceState,
    /// Credits and refunds, each replaced whole when its document changes.
    #[serde(default)]
    pub adjustments: Vec<Adjustment>,
}

impl InvoiceAdjustments {
    /// Replaces what document `document_id` (through `via_payment`, if any) counts here.
    pub fn replace(
        &mut self,
        kind: AdjustmentKind,
        document_id: &str,
        via_payment: Option<&str>,
        with: Option<Adjustment>,
    ) {
        self.adjustments.retain(|a| {
            !(a.kind == kind
                && a.document_id == document_id
                && a.via_payment.as_deref() == via_payment)
        });
        self.adjustments.extend(with);
        self.adjustments
            .sort_by(|a, b| (a.txn_date, &a.document_id).cmp(&(b.txn_date, &b.document_id)));
    }
}

fn adjustments_key(invoice_id: &str) -> String {
    format!("adjustments/{invoice_id}")
}

fn ledger_key(invoice_id: &str) -> String {
    format!("ledger/{invoice_id}")
}

/// The payment ledger of invoice `invoice_id`, if one was stored.
pub fn ledger(ctx: &Ctx<'_>, invoice_id: &str) -> Result<Option<InvoiceLedger>, String> {
    ctx.state.get(STATE, &ledger_key(invoice_id))
}

/// Stores the payment ledger of its invoice.
pub fn store_ledger(ctx: &Ctx<'_>, ledger: &InvoiceLedger) -> FlowResult {
    ctx.state
        .put(STATE, &ledger_key(&ledger.invoice_id), ledger)?;
    Ok(())
}

/// The adjustments of invoice `invoice_id` (none yet: an empty record).
pub fn adjustments(ctx: &Ctx<'_>, invoice_id: &str) -> Result<InvoiceAdjustments, String> {
    Ok(ctx
        .state
        .get(STATE, &adjustments_key(invoice_id))?
        .unwrap_or_default())
}

/// Stores the adjustments of invoice `invoice_id`.
pub fn store_adjustments(ctx: &Ctx<'_>, invoice_id: &str, a: &InvoiceAdjustments) -> FlowResult {
    ctx.state.put(STATE, &adjustments_key(invoice_id), a)?;
    Ok(())
}

/// Pending changes not stored yet (a flow stores them only once Salesforce took the figures,
/// so that a retry starts from the same point).
#[derive(Default)]
pub struct Pending {
    /// Payment ledgers by invoice id.
    pub ledgers: BTreeMap<String, InvoiceLedger>,
    /// Adjustments by invoice id.
    pub adjustments: BTreeMap<String, InvoiceAdjustments>,
}

impl Pending {
    /// Stores everything pending.
    pub fn store(&self, ctx: &Ctx<'_>) -> FlowResult {
        for l in self.ledgers.values() {
            store_ledger(ctx, l)?;
        }
        for (id, a) in &self.adjustments {
            store_adjustments(ctx, id, a)?;
        }
        Ok(())
    }
}

/// One record's figures, ready to write.
pub struct OwnerFigures {
    /// The record.
    pub owner: Owner,
    /// Its figures.
    pub settlement: Settlement,
    /// Credits or refunds were ever counted: the credit and refund fields are written (an org
    /// that never issues them needs no such fields).
    pub adjusted: bool,
    /// It has more than one invoice: the invoiced total is written.
    pub several: bool,
    /// Each of its invoices and what is counted against it.
    pub invoices: Vec<InvoiceMoney>,
    /// The subscription invoices among those this change touched (the invoice asked about and
    /// those with pending changes): their period records are written with the record.
    pub periods: Vec<String>,
}

impl OwnerFigures {
    /// The figures of invoice `invoice_id` alone (none when it is not one of the record's).
    pub fn invoice(&self, invoice_id: &str) -> Option<Settlement> {
        self.invoices
            .iter()
            .find(|m| m.invoice_id == invoice_id)
            .map(|m| settle(std::slice::from_ref(m)))
    }
}

/// The figures of `owner`, whose invoices include `invoice_id`, with `pending` changes applied.
pub fn figures(
    ctx: &Ctx<'_>,
    owner: &Owner,
    invoice_id: &str,
    pending: &Pending,
) -> Result<OwnerFigures, Failure> {
    let ids = links::owner_invoices(ctx, owner, invoice_id).map_err(Failure::Invalid)?;
    let mut ledgers = BTreeMap::new();
    let mut missing = Vec::new();
    for id in &ids {
        let ledger = match pending.ledgers.get(id) {
            Some(l) => Some(l.clone()),
            None => ledger(ctx, id).map_err(Failure::Invalid)?,
        };
        match ledger {
            Some(l) => {
                ledgers.insert(id.clone(), l);
            }
            None => missing.push(id.clone()),
        }
    }
    let mut totals: BTreeMap<String, (rust_decimal::Decimal, bool)> = BTreeMap::new();
    if !missing.is_empty() {
        // An invoice nothing was applied to yet: its total is read from QBO.
        let found = ctx
            .qbo
            .read_many("Invoice", &missing)
            .map_err(|e| Failure::Related(format!("Invoice {}", missing.join(",")), e))?;
        for (id, v) in found {
            if let Some(view) = invoice_view(&v) {
                totals.insert(id, (view.total_amt, view.voided));
            }
        }
    }
    let mut adjusted = false;
    let mut money = Vec::new();
    for id in &ids {
        let adj = match pending.adjustments.get(id) {
            Some(a) => a.clone(),
            None => adjustments(ctx, id).map_err(Failure::Invalid)?,
        };
        adjusted |= !adj.adjustments.is_empty();
        let (total_amt, applied, voided) = match ledgers.get(id) {
            Some(l) => (l.total_amt, l.applied.clone(), false),
            None => match totals.get(id) {
                Some((total, voided)) => (*total, Vec::new(), *voided),
                // Gone from QBO without a delete reaching us yet: counted as deleted.
                None => (rust_decimal::Decimal::ZERO, Vec::new(), false),
            },
        };
        let state = match (
            adj.state,
            voided,
            ledgers.contains_key(id) || totals.contains_key(id),
        ) {
            (InvoiceState::Open, true, _) => InvoiceState::Voided,
            (InvoiceState::Open, _, false) => InvoiceState::Deleted,
            (s, _, _) => s,
        };
        money.push(InvoiceMoney {
            invoice_id: id.clone(),
            total_amt,
            state,
            applied,
            adjustments: adj.adjustments,
        });
    }
    let mut periods = Vec::new();
    for id in &ids {
        let touched = id == invoice_id
            || pending.ledgers.contains_key(id)
            || pending.adjustments.contains_key(id);
        if touched
            && links::subscription_invoice(ctx, id)
                .map_err(Failure::Invalid)?
                .is_some()
        {
            periods.push(id.clone());
        }
    }
    Ok(OwnerFigures {
        owner: owner.clone(),
        settlement: settle(&money),
        adjusted,
        several: ids.len() > 1,
        invoices: money,
        periods,
    })
}

/// The fields written to the record.
pub fn fields(ctx: &Ctx<'_>, f: &OwnerFigures) -> Value {
    let s = &f.settlement;
    let mut fields = json!({
        "Id": f.owner.id,
        AMOUNT_PAID: number(s.paid),
        OPEN_BALANCE: number(s.open_balance),
        PAYMENT_STATUS: s.status.label(),
        PAID_DATE: s.paid_date.map(|d| d.to_string()),
    });
    if f.adjusted {
        fields[AMOUNT_CREDITED] = json!(number(s.credited));
        fields[AMOUNT_REFUNDED] = json!(number(s.refunded));
    }
    if f.several {
        fields[AMOUNT_INVOICED] = json!(number(s.invoiced));
    }
    if s.status == SettlementStatus::InvoiceDeleted {
        // Nobody follows a link to an invoice that is gone; the record keeps its status.
        for field in [QBO_INVOICE_ID, QBO_INVOICE_NUMBER, QBO_INVOICE_LINK] {
            fields[field] = Value::Null;
        }
    }
    if let ("Opportunity", SettlementStatus::Paid | SettlementStatus::Overpaid, Some(stage)) =
        (f.owner.object.as_str(), s.status, &ctx.settings.paid_stage)
    {
        fields["StageName"] = json!(stage);
    }
    fields
}

/// The paid figures of one subscription invoice's period record (upserted by its invoice id).
pub fn period_fields(invoice_id: &str, opportunity_id: &str, s: &Settlement) -> Value {
    json!({
        QBO_INVOICE_ID: invoice_id,
        OPPORTUNITY_REF: opportunity_id,
        AMOUNT_PAID: number(s.paid),
        OPEN_BALANCE: number(s.open_balance),
        PAYMENT_STATUS: s.status.label(),
    })
}

/// Writes each record's figures, grouped by object, and the period records of the subscription
/// invoices they touched; the result per record, in order (a period record that fails fails its
/// record, so the change is retried whole).
pub fn write(ctx: &mut Ctx<'_>, all: &[OwnerFigures]) -> Vec<Result<(), crate::clients::ApiError>> {
    let mut results: Vec<Option<Result<(), crate::clients::ApiError>>> = vec![None; all.len()];
    let mut by_object: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, f) in all.iter().enumerate() {
        by_object
            .entry(f.owner.object.as_str())
            .or_default()
            .push(i);
    }
    for (object, indexes) in by_object {
        let writes: Vec<Value> = indexes.iter().map(|&i| fields(ctx, &all[i])).collect();
        for (&i, r) in indexes.iter().zip(ctx.sf.update_many(object, &writes)) {
            results[i] = Some(r.map(|_| ()));
        }
    }
    let mut periods = Vec::new();
    let mut period_owner = Vec::new();
    for (i, f) in all.iter().enumerate() {
        for id in &f.periods {
            if let Some(s) = f.invoice(id) {
                periods.push(period_fields(id, &f.owner.id, &s));
                period_owner.push(i);
            }
        }
    }
    if !periods.is_empty() {
        let written = ctx
            .sf
            .upsert_many(SUBSCRIPTION_INVOICE, QBO_INVOICE_ID, &periods);
        for (i, r) in period_owner.into_iter().zip(written) {
            if let (Some(Ok(())), Err(e)) = (&results[i], r) {
                results[i] = Some(Err(e));
            }
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("every record written"))
        .collect()
}
