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

#[cfg(test)]
mod tests {
    use crate::clients::json::decimal;
    use crate::flows::links::product_key;
    use crate::flows::state::{State, LINKS};
    use crate::flows::test_support::{
        assert_run, body, qbo_entity, qbo_query, sf_saved, soql, REALM,
    };
    use crate::flows::{run_job, Kind};
    use crate::platform::memory::{MemoryPlatform, Routes};
    use crate::platform::Method::{Get, Patch, Post};
    use rust_decimal_macros::dec;
    use serde_json::{json, Value};

    fn product(id: &str, name: &str, code: &str, price: &str) -> Value {
        json!({"attributes": {"type": "Product2"}, "Id": id, "Name": name, "ProductCode": code,
            "Description": null, "Family": null, "IsActive": true, "QBO_Item_Id__c": null,
            "SystemModstamp": "2026-03-01T10:00:00.000+0000",
            "PricebookEntries": {"totalSize": 1, "done": true, "records": [
                {"attributes": {"type": "PricebookEntry"}, "Id": format!("01u{id}"),
                 "UnitPrice": serde_json::from_str::<Value>(price).unwrap(), "IsActive": true}]}})
    }

    #[test]
    fn a_new_product_becomes_an_item_and_one_whose_sku_is_in_qbo_is_linked_and_renamed_not_created()
    {
        let platform = MemoryPlatform::routed(
            REALM,
            Routes::new()
                .on(Get, "FROM Product2", |_| {
                    soql(json!([
                        product("01tA00000WidgetP", "Widget Pro", "WP-1", "120.50"),
                        product("01tA00000GadgetX", "Gadget", "GAD-9", "25")
                    ]))
                })
                .on(Get, "select * from Item", |_| {
                    qbo_query(
                        "Item",
                        json!([{"Id": "12", "SyncToken": "4", "Name": "Gadget 9000", "Sku": "GAD-9",
                            "Type": "Service", "UnitPrice": 25.00, "Active": true,
                            "IncomeAccountRef": {"value": "1", "name": "Services"}}]),
                    )
                })
                // A batch of one create goes as a plain create with the same requestid; an
                // update is a create with Id and SyncToken.
                .on(Post, "/item?", |req| {
                    let mut item = body(req);
                    if item["Id"].is_null() {
                        item["Id"] = json!("31");
                    }
                    item["SyncToken"] = json!("0");
                    qbo_entity("Item", item)
                })
                .on(Patch, "/composite/sobjects", sf_saved),
        );
        let report = run_job(&platform.platform(), "sync-products", "").unwrap();
        assert_run(
            &report,
            &platform,
            vec![
                ("Product2", "01tA00000GadgetX", Kind::Updated, Some("12")),
                ("Product2", "01tA00000WidgetP", Kind::Created, Some("31")),
            ],
        );
        let creates = platform
            .http
            .bodies(Post, "/item?minorversion=75&requestid=ll-item-");
        assert_eq!(creates.len(), 1, "{:#?}", platform.http.requests());
        let item = &creates[0];
        assert_eq!(
            (&item["Name"], &item["Sku"], &item["Type"]),
            (&json!("Widget Pro"), &json!("WP-1"), &json!("Service"))
        );
        assert_eq!(decimal(&item["UnitPrice"]), Some(dec!(120.50)));
        assert_eq!(item["IncomeAccountRef"]["value"], "1");
        // Found by its Sku under another name: Salesforce owns the name, nothing else changed.
        let updates = platform
            .http
            .bodies(Post, "/item?minorversion=75&requestid=ll-itemu-");
        assert_eq!(
            updates,
            vec![json!({"Id": "12", "SyncToken": "4", "sparse": true, "Name": "Gadget"})]
        );
        let links = State::new(&platform.kv);
        for (product, item) in [("01tA00000GadgetX", "12"), ("01tA00000WidgetP", "31")] {
            let linked: Option<String> = links.get(LINKS, &product_key(product)).unwrap();
            assert_eq!(linked.as_deref(), Some(item), "{product}");
        }
        let writes = platform.http.bodies(Patch, "/composite/sobjects");
        assert_eq!(
            writes[0]["records"],
            json!([
                {"Id": "01tA00000GadgetX", "QBO_Item_Id__c": "12", "attributes": {"type": "Product2"}},
                {"Id": "01tA00000WidgetP", "QBO_Item_Id__c": "31", "attributes": {"type": "Product2"}}
            ])
        );
    }
}
