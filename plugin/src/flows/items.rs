//! One Product2 / PricebookEntry -> its QBO Item, for the product flow and for an invoice whose
//! item is missing: matched by the stored link, then Sku (the Product
//! Code), then Name; created on the fly when an invoice needs an item that is not there yet.

use super::context::{Abort, Ctx, FlowResult};
use super::ids::{batch_request_id, content_hash, request_id};
use super::links;
use super::report::Failure;
use crate::clients::quickbooks::{BatchOp, BATCH_MAX};
use crate::clients::quickbooks_json::{item, item_json};
use crate::clients::salesforce::soql_literal;
use crate::clients::salesforce_fields::QBO_ITEM_ID;
use crate::clients::salesforce_json::{product, PRODUCT_FIELDS};
use crate::clients::ApiError;
use crate::mapping::{map_product, ItemChange, ProductInput};
use crate::model::{QboItem, SfPricebookEntry, SfProduct};
use serde_json::{json, Value};
use std::collections::BTreeMap;

/// The realm's items by id, Sku and name, loaded once per run.
#[derive(Default)]
pub struct Catalog {
    items: BTreeMap<String, QboItem>,
    /// When set, creates are queued here (product, body) and sent in `/batch` by [`flush`].
    queue: Option<Vec<(SfProduct, Value)>>,
}

impl Catalog {
    /// Loads every item, inactive included.
    pub fn load(ctx: &Ctx<'_>) -> Result<Self, crate::clients::ApiError> {
        let mut c = Catalog::default();
        for row in ctx
            .qbo
            .query("select * from Item where Active in (true, false)")?
        {
            c.add(item(&row));
        }
        Ok(c)
    }

    /// Queues creates from now on, to be sent in `/batch` requests by [`flush`].
    pub fn batch_creates(&mut self) {
        self.queue = Some(Vec::new());
    }

    /// True when a full `/batch` of creates is waiting.
    pub fn batch_full(&self) -> bool {
        self.queue.as_ref().is_some_and(|q| q.len() >= BATCH_MAX)
    }

    fn add(&mut self, i: QboItem) {
        if let Some(id) = i.id.clone() {
            self.items.insert(id, i);
        }
    }

    /// The item product `p` matches by Sku, else by name (any case).
    pub fn find(&self, p: &SfProduct) -> Option<&QboItem> {
        if let Some(code) = &p.product_code {
            if let Some(i) = self
                .items
                .values()
                .find(|i| i.sku.as_deref() == Some(code.as_str()))
            {
                return Some(i);
            }
        }
        let name = crate::mapping::product::item_name(&p.name).to_lowercase();
        self.items
            .values()
            .find(|i| i.name.as_deref().map(str::to_lowercase) == Some(name.clone()))
    }
}

/// Reports and catalogs an item QBO created for product `p`; returns its Id.
fn record_created(ctx: &mut Ctx<'_>, catalog: &mut Catalog, p: &SfProduct, v: &Value) -> String {
    let created = item(v);
    let id = created.id.clone().unwrap_or_default();
    ctx.report.created(
        "Product2",
        &p.id,
        &id,
        format!("created item {:?}", created.name),
    );
    catalog.add(created);
    id
}

/// Sends the queued item creates in one `/batch` and links what was created.
pub fn flush(ctx: &mut Ctx<'_>, catalog: &mut Catalog, writebacks: &mut Vec<Value>) -> FlowResult {
    let pending = catalog.queue.replace(Vec::new()).unwrap_or_default();
    if pending.is_empty() {
        return Ok(());
    }
    let ops: Vec<BatchOp> = pending
        .iter()
        .map(|(_, body)| BatchOp::Create("Item", body.clone()))
        .collect();
    let keys: Vec<String> = pending
        .iter()
        .map(|(p, body)| format!("{}:{}", p.id, content_hash(body)))
        .collect();
    let results = match ctx.qbo.batch(&ops, Some(&batch_request_id("item", &keys))) {
        Ok(r) => r,
        Err(e) => {
            for (p, _) in &pending {
                ctx.report.failed("Product2", &p.id, e.clone().into());
            }
            return match e {
                ApiError::Throttled { .. } => Err(Abort(Failure::Api(e))),
                _ => Ok(()),
            };
        }
    };
    for ((p, _), result) in pending.into_iter().zip(results) {
        match result {
            Ok(v) => {
                let id = record_created(ctx, catalog, &p, &v);
                links::store_product_link(ctx, &p.id, &id)?;
                writebacks.push(json!({"Id": p.id, QBO_ITEM_ID: id}));
            }
            Err(e) => ctx.report.failed("Product2", &p.id, e.into()),
        }
    }
    Ok(())
}

/// Syncs one product; returns its QBO Item Id when there is one.
pub fn sync_one(
    ctx: &mut Ctx<'_>,
    catalog: &mut Catalog,
    p: &SfProduct,
    price: Option<SfPricebookEntry>,
) -> Result<Option<String>, Abort> {
    let linked = links::item_of(ctx, &p.id)?;
    let existing = match &linked {
        Some(id) => catalog.items.get(id).cloned(),
        None => catalog.find(p).cloned(),
    };
    let input = ProductInput {
        product: p.clone(),
        price,
        existing: existing.clone(),
        settings: ctx.settings.item.clone(),
    };
    let change = match map_product(&input) {
        Ok(c) => c,
        Err(e) => {
            ctx.report.failed("Product2", &p.id, Failure::Mapping(e));
            return Ok(None);
        }
    };
    let id = match change {
        ItemChange::Unchanged => {
            let id = existing.and_then(|i| i.id).unwrap_or_default();
            ctx.report.skipped(
                "Product2",
                &p.id,
                Some(&id),
                "unchanged since the last sync",
            );
            id
        }
        ItemChange::Create(i) => {
            if ctx.dry_run() {
                ctx.report.created(
                    "Product2",
                    &p.id,
                    "(new)",
                    format!("would create item {:?}", i.name),
                );
                return Ok(Some(format!("(new item {})", p.id)));
            }
            let body = item_json(&i, false);
            if let Some(queue) = catalog.queue.as_mut() {
                queue.push((p.clone(), body));
                return Ok(None);
            }
            match ctx.qbo.create(
                "Item",
                &body,
                &request_id("item", &p.id, &content_hash(&body)),
            ) {
                Ok(v) => record_created(ctx, catalog, p, &v),
                Err(e) => {
                    ctx.report.failed("Product2", &p.id, e.into());
                    return Ok(None);
                }
            }
        }
        ItemChange::Update(u) => {
            if ctx.dry_run() {
                ctx.report.updated(
                    "Product2",
                    &p.id,
                    &u.id,
                    format!("would update {:?}", u.fields),
                );
                return Ok(None);
            }
            let mut i = u.item.clone();
            i.id = Some(u.id.clone());
            i.sync_token = Some(u.sync_token.clone());
            let body = item_json(&i, true);
            match ctx.qbo.update(
                "Item",
                &body,
                &request_id("itemu", &p.id, &content_hash(&body)),
            ) {
                Ok(v) => {
                    ctx.report
                        .updated("Product2", &p.id, &u.id, format!("updated {:?}", u.fields));
                    catalog.add(item(&v));
                    u.id.clone()
                }
                Err(e) => {
                    ctx.report.failed("Product2", &p.id, e.into());
                    return Ok(None);
                }
            }
        }
    };
    if id.is_empty() || ctx.dry_run() {
        return Ok(Some(id).filter(|i| !i.is_empty()));
    }
    links::store_product_link(ctx, &p.id, &id)?;
    Ok(Some(id))
}

/// The QBO Item Id of product `product_id`, syncing the product first when it has none.
pub fn item_for(
    ctx: &mut Ctx<'_>,
    catalog: &mut Option<Catalog>,
    product_id: &str,
) -> Result<Option<String>, Abort> {
    if let Some(id) = links::item_of(ctx, product_id)? {
        return Ok(Some(id));
    }
    let rows = ctx.sf.query(&format!(
        "SELECT {PRODUCT_FIELDS} FROM Product2 WHERE Id = {}",
        soql_literal(product_id)
    ))?;
    let Some((p, price)) = rows.first().and_then(product) else {
        return Ok(None);
    };
    if catalog.is_none() {
        *catalog = Some(Catalog::load(ctx)?);
    }
    let Some(c) = catalog.as_mut() else {
        return Ok(None);
    };
    sync_one(ctx, c, &p, price)
}
