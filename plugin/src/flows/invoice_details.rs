//! What an invoice carries besides its lines' amounts, read with the Opportunity (parent fields
//! and the primary contact role in the same query) and resolved against QBO's lists by name:
//! each line's tax treatment, the bill-to email, terms and due date, class and location, the
//! sales rep and the mapped custom fields. Every choice is a setting (`DetailSettings`); an
//! opportunity whose data names something QBO does not have is refused, naming the field.

use super::context::{Abort, Ctx};
use crate::clients::json::text;
use crate::clients::salesforce_json::{at_path, child_records};
use crate::mapping::{InvoiceSettings, LineResolution};
use crate::model::{QboCustomField, Reference};
use crate::platform::Settings;
use serde_json::Value;
use std::collections::BTreeMap;

/// The Account fields of Ledgerlink's setup that shape an invoice.
const ACCOUNT_EMAIL: &str = "Account.Email__c";
const ACCOUNT_TERMS: &str = "Account.Payment_Terms__c";
const ACCOUNT_TAX_EXEMPT: &str = "Account.Tax_Exempt__c";
/// The opportunity owner, the sales rep.
const OWNER_NAME: &str = "Owner.Name";
/// The primary contact's email (the bill-to address when the Account has none).
const PRIMARY_CONTACT: &str =
    "SELECT Contact.Email FROM OpportunityContactRoles WHERE IsPrimary = true";

/// How the sales rep is written into the custom field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SalesRepFormat {
    /// The owner's full name.
    Name,
    /// The initials of the owner's name (`Ada Lovelace` -> `AL`).
    Initials,
}

/// Where each invoice detail comes from (tenant settings).
#[derive(Clone, Debug, Default)]
pub struct DetailSettings {
    /// Account field with the `BillEmailCc` address (`account-email-cc-field`).
    pub account_email_cc_field: Option<String>,
    /// Product2 checkbox saying the product is taxable (`product-taxable-field`).
    pub product_taxable_field: Option<String>,
    /// Families taxable when the product does not say (`taxable-families`; `*` is all).
    pub taxable_families: Vec<String>,
    /// Product2 field naming a QBO tax code, non-US (`product-tax-code-field`).
    pub product_tax_code_field: Option<String>,
    /// Non-US: QBO tax code id per product family (`family-tax-codes`).
    pub family_tax_codes: BTreeMap<String, String>,
    /// Non-US: the tax code of a tax-exempt Account's lines (`exempt-tax-code`).
    pub exempt_tax_code: Option<String>,
    /// Product2 field naming a QBO class (`product-class-field`).
    pub product_class_field: Option<String>,
    /// QBO class name per product family (`family-classes`).
    pub family_classes: BTreeMap<String, String>,
    /// Opportunity field naming the deal's QBO class (`opportunity-class-field`).
    pub opportunity_class_field: Option<String>,
    /// Opportunity field naming the deal's QBO location, a Department (`opportunity-location-field`).
    pub opportunity_location_field: Option<String>,
    /// Salesforce payment terms -> QBO Term name, where they differ (`terms-map`).
    pub terms_map: BTreeMap<String, String>,
    /// Custom field definition that receives the sales rep (`sales-rep-field-id`).
    pub sales_rep_field_id: Option<String>,
    /// `sales-rep-format`: `name` (default) or `initials`.
    pub sales_rep_format: Option<SalesRepFormat>,
    /// Up to three `(definition id, Opportunity field path)` (`custom-fields`).
    pub custom_fields: Vec<(String, String)>,
}

fn get(s: &dyn Settings, key: &str) -> Option<String> {
    s.get(key)
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// `a=b, c=d` -> `{a: b, c: d}`; an entry without `=` is an error naming the key.
fn pairs(s: &dyn Settings, key: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for entry in get(s, key).unwrap_or_default().split(',') {
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        let (k, v) = entry
            .split_once('=')
            .ok_or_else(|| format!("setting {key}: {entry:?} is not name=value"))?;
        map.insert(k.trim().to_string(), v.trim().to_string());
    }
    Ok(map)
}

/// A Salesforce field API name or a dotted path of them: what may be put into SOQL.
fn field_name(s: &dyn Settings, key: &str) -> Result<Option<String>, String> {
    let Some(v) = get(s, key) else {
        return Ok(None);
    };
    let valid = v.split('.').all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    });
    if valid {
        Ok(Some(v))
    } else {
        Err(format!(
            "setting {key}: {v:?} is not a Salesforce field name"
        ))
    }
}

impl DetailSettings {
    /// Reads the settings; a malformed one is an error naming its key.
    pub fn load(s: &dyn Settings) -> Result<Self, String> {
        let custom_fields: Vec<(String, String)> = pairs(s, "custom-fields")?
            .into_iter()
            .map(|(id, field)| {
                let ok = field.split('.').all(|p| {
                    !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                });
                ok.then_some((id, field.clone())).ok_or(format!(
                    "setting custom-fields: {field:?} is not a Salesforce field name"
                ))
            })
            .collect::<Result<_, _>>()?;
        if custom_fields.len() > crate::mapping::invoice::CUSTOM_FIELDS_MAX {
            return Err(format!(
                "setting custom-fields: {} fields, but QBO keeps {} custom fields on an invoice",
                custom_fields.len(),
                crate::mapping::invoice::CUSTOM_FIELDS_MAX
            ));
        }
        let sales_rep_format = match get(s, "sales-rep-format").as_deref() {
            None => None,
            Some("name") => Some(SalesRepFormat::Name),
            Some("initials") => Some(SalesRepFormat::Initials),
            Some(v) => {
                return Err(format!(
                    "setting sales-rep-format: {v:?} is not name or initials"
                ))
            }
        };
        Ok(Self {
            account_email_cc_field: field_name(s, "account-email-cc-field")?,
            product_taxable_field: field_name(s, "product-taxable-field")?,
            taxable_families: get(s, "taxable-families")
                .map(|v| {
                    v.split(',')
                        .map(|f| f.trim().to_string())
                        .filter(|f| !f.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            product_tax_code_field: field_name(s, "product-tax-code-field")?,
            family_tax_codes: pairs(s, "family-tax-codes")?,
            exempt_tax_code: get(s, "exempt-tax-code"),
            product_class_field: field_name(s, "product-class-field")?,
            family_classes: pairs(s, "family-classes")?,
            opportunity_class_field: field_name(s, "opportunity-class-field")?,
            opportunity_location_field: field_name(s, "opportunity-location-field")?,
            terms_map: pairs(s, "terms-map")?,
            sales_rep_field_id: get(s, "sales-rep-field-id"),
            sales_rep_format,
            custom_fields,
        })
    }

    /// The Opportunity fields to read besides the standard ones.
    pub fn opportunity_fields(&self, currency: bool) -> Vec<String> {
        let mut fields: Vec<String> =
            [ACCOUNT_EMAIL, ACCOUNT_TERMS, ACCOUNT_TAX_EXEMPT, OWNER_NAME]
                .iter()
                .map(|f| f.to_string())
                .collect();
        if currency {
            fields.push("CurrencyIsoCode".into());
        }
        fields.extend(
            self.account_email_cc_field
                .iter()
                .map(|f| format!("Account.{f}")),
        );
        fields.extend(self.opportunity_class_field.iter().cloned());
        fields.extend(self.opportunity_location_field.iter().cloned());
        fields.extend(self.custom_fields.iter().map(|(_, f)| f.clone()));
        dedup(fields)
    }

    /// The line item fields to read besides the standard ones.
    pub fn line_fields(&self, currency: bool) -> Vec<String> {
        let mut fields = vec!["Product2.Family".to_string()];
        if currency {
            fields.push("CurrencyIsoCode".into());
        }
        for f in [
            &self.product_taxable_field,
            &self.product_tax_code_field,
            &self.product_class_field,
        ]
        .into_iter()
        .flatten()
        {
            fields.push(format!("Product2.{f}"));
        }
        dedup(fields)
    }

    /// The child relationships to read: the primary contact role.
    pub fn subqueries(&self) -> Vec<String> {
        vec![PRIMARY_CONTACT.to_string()]
    }
}

fn dedup(fields: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::BTreeSet::new();
    fields
        .into_iter()
        .filter(|f| seen.insert(f.to_ascii_lowercase()))
        .collect()
}

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

fn value_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_string()).filter(|s| !s.is_empty()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn path_text(row: &Value, path: &str) -> Option<String> {
    at_path(row, path).and_then(value_text)
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
    row: &Value,
) -> Result<Result<Details, Refusal>, Abort> {
    let ds = ctx.settings.invoice_details.clone();
    let mut settings = ctx.settings.invoice.clone();
    let exempt = at_path(row, ACCOUNT_TAX_EXEMPT)
        .and_then(Value::as_bool)
        .unwrap_or(false);

    // Terms: the Account's, by name (through `terms-map`); the tenant's only when it has none.
    if let Some(terms) = path_text(row, ACCOUNT_TERMS) {
        let wanted = ds.terms_map.get(&terms).cloned().unwrap_or(terms.clone());
        let found = find(lists.list(ctx, "Term")?, &wanted).cloned();
        let Some(term) = found else {
            return Ok(Err((
                ACCOUNT_TERMS.into(),
                format!("the Account's payment terms {terms:?} are not a QBO term (map them with the terms-map setting)"),
            )));
        };
        settings.terms = Some(term.reference());
        settings.terms_days = term.due_days;
    }

    // Class and location of the deal.
    if let Some(field) = &ds.opportunity_class_field {
        if let Some(name) = path_text(row, field) {
            match find(lists.list(ctx, "Class")?, &name) {
                Some(c) => settings.class = Some(c.reference()),
                None => return Ok(Err((field.clone(), format!("{name:?} is not a QBO class")))),
            }
        }
    }
    if let Some(field) = &ds.opportunity_location_field {
        if let Some(name) = path_text(row, field) {
            match find(lists.list(ctx, "Department")?, &name) {
                Some(d) => settings.department = Some(d.reference()),
                None => {
                    return Ok(Err((
                        field.clone(),
                        format!("{name:?} is not a QBO location (Department)"),
                    )))
                }
            }
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
            match find(lists.list(ctx, "Class")?, &name) {
                Some(c) => detail.class = Some(c.reference()),
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
