//! The product flow: Product2 records changed since the cursor (or `only`, or all with `full`)
//! -> QBO Items, each through [`items::sync_one`], creates sent in `/batch`, the new ids written
//! back to the products.

use super::context::{Ctx, FlowResult};
use super::items::{self, Catalog};
use super::salesforce_io::{advance_modstamp, select, write_back};
use crate::clients::salesforce_fields::QBO_ITEM_ID;
use crate::clients::salesforce_json::{product, PRODUCT_FIELDS};
use serde_json::json;

/// Products changed since the cursor (or `only`, or all with `full`).
pub fn run(ctx: &mut Ctx<'_>) -> FlowResult {
    let rows = select(ctx, "Product2", PRODUCT_FIELDS, "")?;
    let mut catalog = Catalog::load(ctx)?;
    catalog.batch_creates();
    let mut writebacks = Vec::new();
    ctx.progress("Product2", 0, rows.len());
    for (n, row) in rows.iter().enumerate() {
        let Some((p, price)) = product(row) else {
            continue;
        };
        let before = row
            .get(QBO_ITEM_ID)
            .and_then(|v| v.as_str())
            .map(str::to_string);
        if let Some(id) = items::sync_one(ctx, &mut catalog, &p, price)? {
            if before.as_deref() != Some(id.as_str()) {
                writebacks.push(json!({"Id": p.id, QBO_ITEM_ID: id}));
            }
        }
        if catalog.batch_full() {
            items::flush(ctx, &mut catalog, &mut writebacks)?;
            ctx.progress("Product2", n + 1, rows.len());
        }
    }
    items::flush(ctx, &mut catalog, &mut writebacks)?;
    ctx.progress("Product2", rows.len(), rows.len());
    write_back(ctx, "Product2", &writebacks);
    advance_modstamp(ctx, "Product2", &rows)
}
