//! What an invoice carries besides its lines' amounts, read with the Opportunity (parent fields
//! and the primary contact role in the same query) and resolved against QBO's lists by name:
//! each line's tax treatment, the bill-to email, terms and due date, class and location, the
//! sales rep and the mapped custom fields. Every choice is a setting (`DetailSettings`); an
//! opportunity whose data names something QBO does not have is refused, naming the field.

use crate::clients::json::{non_empty, text};
use crate::clients::salesforce_json::{at_path, child_records};
use crate::flows::context::{Abort, Ctx};
use crate::flows::invoice_settings::{
    DetailSettings, SalesRepFormat, ACCOUNT_EMAIL, ACCOUNT_TAX_EXEMPT, ACCOUNT_TERMS, OWNER_NAME,
};
use crate::flows::qbo_lists::QboLists;
use crate::mapping::{InvoiceSettings, LineResolution};
use crate::model::{GlobalTaxCalculation, QboCustomField, Reference};
use serde_json::Value;
use std::collections::BTreeMap;

/// The details of one opportunity, resolved: what goes into `build-invoice` besides the
/// opportunity itself.
#[derive(Clone, Debug)]
pub struct Details {
    /// Per-invoice settings: the tenant's, with the Account's terms and the deal's class and
    /// location where they have them.
    pub settings: InvoiceSettings,
    pub email: Option<String>,
    pub email_cc: Option<String>,
    pub custom_fields: Vec<QboCustomField>,
    /// Tax treatment and class per line id.
    pub lines: BTreeMap<String, LineDetail>,
}

/// A line's tax treatment and class.
#[derive(Clone, Debug, Default)]
pub struct LineDetail {
    pub taxable: bool,
    pub tax_code: Option<Reference>,
    pub class: Option<Reference>,
}

impl Details {
    /// The line resolution of `line_id` with its QBO item.
    pub fn resolution(&self, line_id: &str, item: Reference) -> LineResolution {
        let d = self.lines.get(line_id).cloned().unwrap_or_default();
        LineResolution {
            line_id: line_id.to_string(),
            item,
            taxable: d.taxable,
            tax_code: d.tax_code,
            class: d.class,
        }
    }
}

/// A detail that names what QBO does not have: `(field, reason)`.
pub type Refusal = (String, String);

/// The non-blank text at a dotted path (`Account.Email__c`): its parent record's field.
fn path_text(row: &Value, path: &str) -> Option<String> {
    match path.rsplit_once('.') {
        Some((parent, field)) => at_path(row, parent).and_then(|p| non_empty(p, field)),
        None => non_empty(row, path),
    }
}

/// `Ada Lovelace` -> `AL`.
pub fn initials(name: &str) -> String {
    name.split_whitespace()
        .filter_map(|w| w.chars().next())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Reads and resolves the details of the opportunity `row` (as the Opportunity query returned
/// it); `Err` names the first field whose value QBO does not know.
pub fn resolve(
    ctx: &mut Ctx<'_>,
    lists: &mut QboLists,
    ds: &DetailSettings,
    row: &Value,
) -> Result<Result<Details, Refusal>, Abort> {
    let mut settings = ctx.settings.invoice.clone();
    let exempt = at_path(row, ACCOUNT_TAX_EXEMPT)
        .and_then(Value::as_bool)
        .unwrap_or(false);

    // Terms: the Account's, by name (through `terms-map`); the tenant's only when it has none.
    if let Some(terms) = path_text(row, ACCOUNT_TERMS) {
        let Some((term, due_days)) = lists.term(ctx, &terms)? else {
            return Ok(Err((
                ACCOUNT_TERMS.into(),
                format!("the Account's payment terms {terms:?} are not a QBO term (map them with the terms-map setting)"),
            )));
        };
        settings.terms = Some(term);
        settings.terms_days = due_days;
    }

    // Class and location of the deal.
    if let Some(field) = &ds.opportunity_class_field {
        if let Some(name) = path_text(row, field) {
            match lists.class(ctx, &name)? {
                Some(c) => settings.class = Some(c),
                None => return Ok(Err((field.clone(), format!("{name:?} is not a QBO class")))),
            }
        }
    }
    if let Some(field) = &ds.opportunity_location_field {
        if let Some(name) = path_text(row, field) {
            match lists.department(ctx, &name)? {
                Some(d) => settings.department = Some(d),
                None => {
                    return Ok(Err((
                        field.clone(),
                        format!("{name:?} is not a QBO location (Department)"),
                    )))
                }
            }
        }
    }

    // The price book says whether its prices include tax (non-US companies).
    if let Some(field) = &ds.pricebook_tax_inclusive_field {
        if let Some(inclusive) =
            at_path(row, &format!("Pricebook2.{field}")).and_then(Value::as_bool)
        {
            settings.global_tax_calculation = Some(if inclusive {
                GlobalTaxCalculation::TaxInclusive
            } else {
                GlobalTaxCalculation::TaxExcluded
            });
        }
    }

    // Lines: tax treatment and class.
    let mut lines = BTreeMap::new();
    for (i, line) in child_records(row, "OpportunityLineItems").enumerate() {
        let Some(id) = text(line, "Id") else { continue };
        let family = path_text(line, "Product2.Family");
        let path = |f: &str| format!("OpportunityLineItems[{i}].Product2.{f}");
        let mut detail = LineDetail {
            class: settings.class.clone(),
            ..LineDetail::default()
        };
        let product_taxable = ds
            .product_taxable_field
            .as_ref()
            .and_then(|f| at_path(line, &format!("Product2.{f}")))
            .and_then(Value::as_bool);
        let family_taxable = ds.taxable_families.iter().any(|f| {
            f == "*"
                || family
                    .as_deref()
                    .is_some_and(|fam| fam.eq_ignore_ascii_case(f))
        });
        if settings.us_company {
            detail.taxable = !exempt && product_taxable.unwrap_or(family_taxable);
        } else if exempt {
            detail.taxable = false;
            detail.tax_code = ds.exempt_tax_code.clone().map(Reference::id);
        } else {
            detail.taxable = true;
            detail.tax_code = ds
                .product_tax_code_field
                .as_ref()
                .and_then(|f| path_text(line, &format!("Product2.{f}")))
                .or_else(|| {
                    family
                        .as_ref()
                        .and_then(|fam| ds.family_tax_codes.get(fam).cloned())
                })
                .map(Reference::id);
        }
        let class_name = ds
            .product_class_field
            .as_ref()
            .and_then(|f| path_text(line, &format!("Product2.{f}")).map(|n| (path(f), n)))
            .or_else(|| {
                family.as_ref().and_then(|fam| {
                    ds.family_classes
                        .get(fam)
                        .map(|n| (format!("family-classes[{fam}]"), n.clone()))
                })
            });
        if let Some((field, name)) = class_name {
            match lists.class(ctx, &name)? {
                Some(c) => detail.class = Some(c),
                None => return Ok(Err((field, format!("{name:?} is not a QBO class")))),
            }
        }
        lines.insert(id, detail);
    }

    // Bill-to email: the Account's billing email, else the primary contact's.
    let email = path_text(row, ACCOUNT_EMAIL).or_else(|| {
        child_records(row, "OpportunityContactRoles").find_map(|r| path_text(r, "Contact.Email"))
    });
    let email_cc = ds
        .account_email_cc_field
        .as_ref()
        .and_then(|f| path_text(row, &format!("Account.{f}")));

    // Custom fields: the sales rep, then the mapped fields.
    let mut custom_fields = Vec::new();
    if let (Some(id), Some(owner)) = (&ds.sales_rep_field_id, path_text(row, OWNER_NAME)) {
        let value = match ds.sales_rep_format.unwrap_or(SalesRepFormat::Name) {
            SalesRepFormat::Name => owner,
            SalesRepFormat::Initials => initials(&owner),
        };
        custom_fields.push(QboCustomField {
            definition_id: id.clone(),
            name: Some("Sales Rep".into()),
            value,
        });
    }
    for (id, field) in &ds.custom_fields {
        if let Some(value) = path_text(row, field) {
            custom_fields.push(QboCustomField {
                definition_id: id.clone(),
                name: None,
                value,
            });
        }
    }
    Ok(Ok(Details {
        settings,
        email,
        email_cc,
        custom_fields,
        lines,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_take_the_first_letter_of_each_name() {
        assert_eq!(initials("Ada  Lovelace"), "AL");
        assert_eq!(initials("jean-luc picard"), "JP");
        assert_eq!(initials(""), "");
    }

    #[test]
    fn paths_read_parent_fields_and_skip_nulls() {
        let row = serde_json::json!({"Account": {"Email__c": " ap@x.example ", "Tax_Exempt__c": null}, "Owner": null});
        assert_eq!(
            path_text(&row, ACCOUNT_EMAIL).as_deref(),
            Some("ap@x.example")
        );
        assert!(at_path(&row, ACCOUNT_TAX_EXEMPT).is_none());
        assert!(path_text(&row, OWNER_NAME).is_none());
    }
}
