//! Links between the two systems, in the `links` bucket: each Salesforce record to its QBO
//! record (with what was last synced), and QBO records back to Salesforce. A link and its
//! reverse key are two writes; the reverse key always goes first, so a crash between them leaves
//! a QBO record that still names its Salesforce record (and a Salesforce record the next run
//! links again), never a link whose QBO side cannot find its way back.
//!
//! | key | value |
//! |---|---|
//! | `account/{Account Id}` | [`AccountLink`] |
//! | `customer/{Customer Id}` | the Account Id |
//! | `product/{Product2 Id}` | the Item Id |
//! | `invoice/{Opportunity or invoice record Id}` | [`InvoiceLink`] |
//! | `invoice-opp/{Invoice Id}` | the Opportunity Id |
//! | `invoice-owner/{Invoice Id}` | the [`Owner`] of an invoice not billed from an Opportunity |
//! | `owner-invoices/{object}/{Id}` | every QBO invoice of one Salesforce record, in link order |
//! | `subscription/{Opportunity Id}` | [`SubscriptionLink`]: its QBO recurring template |
//! | `recurring/{RecurringTransaction Id}` | the Opportunity Id |
//! | `subscription-invoice/{Invoice Id}` | [`SubscriptionInvoice`]: an invoice QBO generated from a template |
//! | `order/{Order Id}` | the order's postings (`orders.rs`) |

use super::context::{Ctx, FlowResult};
use super::state::LINKS;
use crate::model::PartySnapshot;
use serde::{Deserialize, Serialize};

/// What is remembered of a linked account.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct AccountLink {
    /// The QBO Customer Id.
    pub qbo_id: String,
    /// The shared fields as last synced.
    pub snapshot: Option<PartySnapshot>,
}

/// The key of an account's link.
pub fn account_key(account_id: &str) -> String {
    format!("account/{account_id}")
}

/// The key from a QBO customer back to its account.
pub fn customer_key(customer_id: &str) -> String {
    format!("customer/{customer_id}")
}

/// The link of account `account_id`.
pub fn account_link(ctx: &Ctx<'_>, account_id: &str) -> Result<Option<AccountLink>, String> {
    ctx.state.get(LINKS, &account_key(account_id))
}

/// The account linked to QBO customer `customer_id`.
pub fn account_of(ctx: &Ctx<'_>, customer_id: &str) -> Result<Option<String>, String> {
    ctx.state.get(LINKS, &customer_key(customer_id))
}

/// Links account `account_id` to `link.qbo_id` (the reverse key first).
pub fn store_account_link(ctx: &Ctx<'_>, account_id: &str, link: &AccountLink) -> FlowResult {
    ctx.state
        .put(LINKS, &customer_key(&link.qbo_id), &account_id)?;
    ctx.state.put(LINKS, &account_key(account_id), link)?;
    Ok(())
}

/// The key of a product's link (value: the QBO Item Id).
pub fn product_key(product_id: &str) -> String {
    format!("product/{product_id}")
}

/// The QBO Item linked to product `product_id`.
pub fn item_of(ctx: &Ctx<'_>, product_id: &str) -> Result<Option<String>, String> {
    ctx.state.get(LINKS, &product_key(product_id))
}

/// Links product `product_id` to item `item_id`.
pub fn store_product_link(ctx: &Ctx<'_>, product_id: &str, item_id: &str) -> FlowResult {
    ctx.state.put(LINKS, &product_key(product_id), &item_id)?;
    Ok(())
}

/// What is remembered of an invoiced opportunity.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct InvoiceLink {
    /// QBO Invoice Id.
    pub qbo_id: String,
    /// Its DocNumber.
    pub doc_number: Option<String>,
    /// Fingerprint of the invoice as last written.
    pub hash: String,
}

/// The link fingerprint of an invoice created in QBO (never updated from Salesforce).
pub const EXTERNAL: &str = "external";

/// The key of an opportunity's invoice link.
pub fn invoice_key(opportunity_id: &str) -> String {
    format!("invoice/{opportunity_id}")
}

/// The key from a QBO invoice back to its opportunity.
pub fn invoice_reverse_key(invoice_id: &str) -> String {
    format!("invoice-opp/{invoice_id}")
}

/// The invoice link of opportunity `opportunity_id`.
pub fn invoice_link(ctx: &Ctx<'_>, opportunity_id: &str) -> Result<Option<InvoiceLink>, String> {
    ctx.state.get(LINKS, &invoice_key(opportunity_id))
}

/// The Account whose customer in a foreign currency `customer_id` is (not its main customer).
pub fn currency_customer_of(ctx: &Ctx<'_>, customer_id: &str) -> Result<Option<String>, String> {
    ctx.state
        .get(LINKS, &format!("currency-customer-of/{customer_id}"))
}

/// Notes that `customer_id` is account `account_id`'s customer in a foreign currency.
pub fn store_currency_customer(ctx: &Ctx<'_>, customer_id: &str, account_id: &str) -> FlowResult {
    ctx.state.put(
        LINKS,
        &format!("currency-customer-of/{customer_id}"),
        &account_id,
    )?;
    Ok(())
}

/// True once invoice `invoice_id` was emailed (QBO answered `EmailSent`).
pub fn invoice_sent(ctx: &Ctx<'_>, invoice_id: &str) -> Result<bool, String> {
    Ok(ctx
        .state
        .get::<String>(LINKS, &format!("invoice-sent/{invoice_id}"))?
        .is_some())
}

/// Notes that invoice `invoice_id` was emailed.
pub fn store_invoice_sent(ctx: &Ctx<'_>, invoice_id: &str) -> FlowResult {
    ctx.state.put(
        LINKS,
        &format!("invoice-sent/{invoice_id}"),
        &ctx.today().to_string(),
    )?;
    Ok(())
}

/// The opportunity linked to QBO invoice `invoice_id`.
pub fn opportunity_of(ctx: &Ctx<'_>, invoice_id: &str) -> Result<Option<String>, String> {
    ctx.state.get(LINKS, &invoice_reverse_key(invoice_id))
}

/// Notes that invoice `invoice_id` bills opportunity `opportunity_id` (found in Salesforce when
/// the reverse key was missing).
pub fn store_opportunity_of(ctx: &Ctx<'_>, invoice_id: &str, opportunity_id: &str) -> FlowResult {
    ctx.state
        .put(LINKS, &invoice_reverse_key(invoice_id), &opportunity_id)?;
    add_owner_invoice(ctx, &Owner::opportunity(opportunity_id), invoice_id)
}

/// The Salesforce record a QBO invoice bills: an Opportunity, a Salesforce `Invoice`, or a
/// Salesforce Billing `blng__Invoice__c`. Its payment figures are written there.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Owner {
    /// The sObject name.
    pub object: String,
    /// The record Id.
    pub id: String,
}

impl Owner {
    /// An opportunity.
    pub fn opportunity(id: &str) -> Self {
        Self {
            object: "Opportunity".into(),
            id: id.into(),
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.object, self.id)
    }
}

fn owner_key(invoice_id: &str) -> String {
    format!("invoice-owner/{invoice_id}")
}

fn owner_invoices_key(owner: &Owner) -> String {
    format!("owner-invoices/{}/{}", owner.object, owner.id)
}

/// The record QBO invoice `invoice_id` bills, as far as the links know.
pub fn invoice_owner(ctx: &Ctx<'_>, invoice_id: &str) -> Result<Option<Owner>, String> {
    if let Some(owner) = ctx.state.get::<Owner>(LINKS, &owner_key(invoice_id))? {
        return Ok(Some(owner));
    }
    Ok(opportunity_of(ctx, invoice_id)?.map(|id| Owner::opportunity(&id)))
}

/// Notes that invoice `invoice_id` bills `owner` (an opportunity's through
/// [`store_opportunity_of`]).
pub fn store_invoice_owner(ctx: &Ctx<'_>, invoice_id: &str, owner: &Owner) -> FlowResult {
    if owner.object == "Opportunity" {
        return store_opportunity_of(ctx, invoice_id, &owner.id);
    }
    ctx.state.put(LINKS, &owner_key(invoice_id), owner)?;
    add_owner_invoice(ctx, owner, invoice_id)
}

fn add_owner_invoice(ctx: &Ctx<'_>, owner: &Owner, invoice_id: &str) -> FlowResult {
    let key = owner_invoices_key(owner);
    let mut ids: Vec<String> = ctx.state.get(LINKS, &key)?.unwrap_or_default();
    if !ids.iter().any(|i| i == invoice_id) {
        ids.push(invoice_id.to_string());
        ctx.state.put(LINKS, &key, &ids)?;
    }
    Ok(())
}

/// Every QBO invoice of `owner`: those noted, and `known` (an invoice linked by a version that
/// did not note them).
pub fn owner_invoices(ctx: &Ctx<'_>, owner: &Owner, known: &str) -> Result<Vec<String>, String> {
    let mut ids: Vec<String> = ctx
        .state
        .get(LINKS, &owner_invoices_key(owner))?
        .unwrap_or_default();
    if !ids.iter().any(|i| i == known) {
        ids.push(known.to_string());
    }
    Ok(ids)
}

/// Links opportunity `opportunity_id` to its invoice (the reverse key first); nothing in a dry
/// run.
pub fn store_invoice_link(
    ctx: &Ctx<'_>,
    opportunity_id: &str,
    invoice_id: &str,
    doc_number: Option<String>,
    hash: &str,
) -> FlowResult {
    store_owned_invoice_link(
        ctx,
        &Owner::opportunity(opportunity_id),
        invoice_id,
        doc_number,
        hash,
    )
}

/// Links `owner` (an opportunity or an invoice record, `invoice/{Id}`) to its invoice, the
/// invoice's owner first; nothing in a dry run.
pub fn store_owned_invoice_link(
    ctx: &Ctx<'_>,
    owner: &Owner,
    invoice_id: &str,
    doc_number: Option<String>,
    hash: &str,
) -> FlowResult {
    if ctx.dry_run() {
        return Ok(());
    }
    store_invoice_owner(ctx, invoice_id, owner)?;
    ctx.state.put(
        LINKS,
        &invoice_key(&owner.id),
        &InvoiceLink {
            qbo_id: invoice_id.to_string(),
            doc_number,
            hash: hash.to_string(),
        },
    )?;
    Ok(())
}

/// What is remembered of a subscription's QBO recurring template.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionLink {
    /// The RecurringTransaction Id.
    pub template_id: String,
    /// Its `RecurringInfo.Name`.
    pub name: String,
    /// Fingerprint of the template as last written.
    pub hash: String,
    /// Deactivated on the subscription's cancellation.
    #[serde(default)]
    pub cancelled: bool,
}

fn subscription_key(opportunity_id: &str) -> String {
    format!("subscription/{opportunity_id}")
}

fn recurring_key(template_id: &str) -> String {
    format!("recurring/{template_id}")
}

/// The recurring template of opportunity `opportunity_id`.
pub fn subscription_link(
    ctx: &Ctx<'_>,
    opportunity_id: &str,
) -> Result<Option<SubscriptionLink>, String> {
    ctx.state.get(LINKS, &subscription_key(opportunity_id))
}

/// The opportunity whose subscription recurring template `template_id` bills.
pub fn opportunity_of_template(ctx: &Ctx<'_>, template_id: &str) -> Result<Option<String>, String> {
    ctx.state.get(LINKS, &recurring_key(template_id))
}

/// Links opportunity `opportunity_id` to its recurring template (the reverse key first);
/// nothing in a dry run.
pub fn store_subscription_link(
    ctx: &Ctx<'_>,
    opportunity_id: &str,
    link: &SubscriptionLink,
) -> FlowResult {
    if ctx.dry_run() {
        return Ok(());
    }
    ctx.state
        .put(LINKS, &recurring_key(&link.template_id), &opportunity_id)?;
    ctx.state
        .put(LINKS, &subscription_key(opportunity_id), link)?;
    Ok(())
}

/// An invoice QBO generated from a subscription's template: its opportunity, and the
/// fingerprint of its period record as last written.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionInvoice {
    /// The Opportunity Id.
    pub opportunity_id: String,
    /// Fingerprint of the period record as last written.
    pub hash: String,
}

fn subscription_invoice_key(invoice_id: &str) -> String {
    format!("subscription-invoice/{invoice_id}")
}

/// The subscription invoice `invoice_id` is, if it is one.
pub fn subscription_invoice(
    ctx: &Ctx<'_>,
    invoice_id: &str,
) -> Result<Option<SubscriptionInvoice>, String> {
    ctx.state.get(LINKS, &subscription_invoice_key(invoice_id))
}

/// Notes that invoice `invoice_id` was generated from a subscription's template.
pub fn store_subscription_invoice(
    ctx: &Ctx<'_>,
    invoice_id: &str,
    link: &SubscriptionInvoice,
) -> FlowResult {
    ctx.state
        .put(LINKS, &subscription_invoice_key(invoice_id), link)?;
    Ok(())
}
