//! QBO's name lists an invoice or a customer refers to (terms, classes, locations), read once
//! per run when first needed and matched by Id, else by name.

use super::context::{Abort, Ctx};
use crate::clients::json::text;
use crate::model::Reference;
use serde_json::Value;

/// QBO's terms, classes and departments, read once per run when first needed.
#[derive(Default)]
pub struct QboLists {
    terms: Option<Vec<Named>>,
    classes: Option<Vec<Named>>,
    departments: Option<Vec<Named>>,
}

/// One entry of a QBO list.
#[derive(Clone, Debug)]
struct Named {
    id: String,
    name: String,
    due_days: Option<u32>,
}

impl Named {
    fn reference(&self) -> Reference {
        Reference::named(self.id.clone(), self.name.clone())
    }
}

fn load_list(ctx: &mut Ctx<'_>, entity: &str) -> Result<Vec<Named>, Abort> {
    Ok(ctx
        .qbo
        .query(&format!("select * from {entity} where Active = true"))?
        .iter()
        .filter_map(|v| {
            Some(Named {
                id: text(v, "Id")?,
                name: text(v, "FullyQualifiedName").or_else(|| text(v, "Name"))?,
                due_days: v
                    .get("DueDays")
                    .and_then(Value::as_u64)
                    .and_then(|d| u32::try_from(d).ok()),
            })
        })
        .collect())
}

/// Finds `wanted` by Id, else by name (case-insensitive; a sub-list entry by its last part too).
fn find<'a>(list: &'a [Named], wanted: &str) -> Option<&'a Named> {
    let wanted = wanted.trim();
    list.iter().find(|n| n.id == wanted).or_else(|| {
        list.iter().find(|n| {
            n.name.eq_ignore_ascii_case(wanted)
                || n.name
                    .rsplit(':')
                    .next()
                    .is_some_and(|last| last.eq_ignore_ascii_case(wanted))
        })
    })
}

impl QboLists {
    /// The QBO term for the Salesforce terms `terms` (through `terms-map`), with its days.
    pub fn term(
        &mut self,
        ctx: &mut Ctx<'_>,
        terms: &str,
    ) -> Result<Option<(Reference, Option<u32>)>, Abort> {
        let wanted = ctx
            .settings
            .invoice_details
            .terms_map
            .get(terms)
            .cloned()
            .unwrap_or_else(|| terms.to_string());
        Ok(find(self.list(ctx, "Term")?, &wanted).map(|t| (t.reference(), t.due_days)))
    }

    /// The QBO class named (or with the Id) `name`.
    pub fn class(&mut self, ctx: &mut Ctx<'_>, name: &str) -> Result<Option<Reference>, Abort> {
        Ok(find(self.list(ctx, "Class")?, name).map(Named::reference))
    }

    /// The QBO location (Department) named (or with the Id) `name`.
    pub fn department(
        &mut self,
        ctx: &mut Ctx<'_>,
        name: &str,
    ) -> Result<Option<Reference>, Abort> {
        Ok(find(self.list(ctx, "Department")?, name).map(Named::reference))
    }

    fn list(&mut self, ctx: &mut Ctx<'_>, entity: &str) -> Result<&[Named], Abort> {
        let slot = match entity {
            "Term" => &mut self.terms,
            "Class" => &mut self.classes,
            _ => &mut self.departments,
        };
        if slot.is_none() {
            *slot = Some(load_list(ctx, entity)?);
        }
        Ok(slot.as_deref().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_found_by_id_then_name_then_last_part() {
        let list = vec![
            Named {
                id: "3".into(),
                name: "Net 30".into(),
                due_days: Some(30),
            },
            Named {
                id: "7".into(),
                name: "Region:West".into(),
                due_days: None,
            },
        ];
        assert_eq!(find(&list, "3").unwrap().name, "Net 30");
        assert_eq!(find(&list, "net 30").unwrap().id, "3");
        assert_eq!(find(&list, "west").unwrap().id, "7");
        assert!(find(&list, "Net 45").is_none());
    }
}
