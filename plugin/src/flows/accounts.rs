//! The account flow: Salesforce Accounts changed since the cursor (or `only`, or all with
//! `full`) -> QBO Customers, each through [`customers::sync_one`] (the matching ladder before
//! any create), creates sent in `/batch`, the new ids written back to the Accounts.

use super::context::{Ctx, FlowResult};
use super::customers::{self, Directory};
use super::salesforce_io::{advance_modstamp, select, write_back};
use crate::clients::salesforce_fields::QBO_CUSTOMER_ID;
use crate::clients::salesforce_json::{account, ACCOUNT_FIELDS};
use serde_json::json;

/// Accounts changed since the cursor (or `only`, or all with `full`).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let rows = select(ctx, "Account", ACCOUNT_FIELDS, "")?;
    let mut dir = Directory::load(ctx)?;
    dir.batch_creates();
    let mut writebacks = Vec::new();
    ctx.progress("Account", 0, rows.len());
    for (n, row) in rows.iter().enumerate() {
        let Some(a) = account(row) else { continue };
        if let Some(id) = customers::sync_one(ctx, &mut dir, &a)? {
            if a.qbo_customer_id.as_deref() != Some(id.as_str()) {
                writebacks.push(json!({"Id": a.id, QBO_CUSTOMER_ID: id}));
            }
        }
        if dir.batch_full() {
            customers::flush(ctx, &mut dir, &mut writebacks)?;
            ctx.progress("Account", n + 1, rows.len());
        }
    }
    customers::flush(ctx, &mut dir, &mut writebacks)?;
    ctx.progress("Account", rows.len(), rows.len());
    write_back(ctx, "Account", &writebacks);
    advance_modstamp(ctx, "Account", &rows)
}
