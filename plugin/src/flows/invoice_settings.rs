//! The tenant settings that say where each invoice detail comes from (tax, email, terms, class,
//! location, sales rep, custom fields, exchange rates): read once with the other settings, used
//! by `invoice_details.rs` and `invoice_currency.rs`.

use crate::platform::Settings;
use std::collections::BTreeMap;

/// The Account fields of Ledgerlink's setup that shape an invoice.
pub(crate) use crate::clients::salesforce_fields::{
    ACCOUNT_EMAIL, ACCOUNT_PAYMENT_TERMS as ACCOUNT_TERMS, ACCOUNT_TAX_EXEMPT,
};
/// The opportunity owner, the sales rep.
pub(crate) const OWNER_NAME: &str = "Owner.Name";
/// The primary contact's email (the bill-to address when the Account has none).
pub(crate) const PRIMARY_CONTACT: &str =
    "SELECT Contact.Email FROM OpportunityContactRoles WHERE IsPrimary = true";

/// Where the exchange rate of a foreign-currency invoice comes from (`exchange-rate-source`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RateSource {
    /// QBO's own rate for the invoice date (`/exchangerate`), the default.
    #[default]
    Quickbooks,
    /// Salesforce's dated conversion rates (advanced currency management), else its
    /// `CurrencyType` rates.
    Salesforce,
}

impl RateSource {
    /// Reads the setting's value.
    pub fn parse(v: &str) -> Option<Self> {
        match v.trim() {
            "quickbooks" => Some(Self::Quickbooks),
            "salesforce" => Some(Self::Salesforce),
            _ => None,
        }
    }
}

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
    /// Pricebook2 checkbox saying its prices include tax (`pricebook-tax-inclusive-field`):
    /// non-US invoices from that price book are `TaxInclusive`, others `TaxExcluded`.
    pub pricebook_tax_inclusive_field: Option<String>,
    /// Salesforce payment terms -> QBO Term name, where they differ (`terms-map`).
    pub terms_map: BTreeMap<String, String>,
    /// Custom field definition that receives the sales rep (`sales-rep-field-id`).
    pub sales_rep_field_id: Option<String>,
    /// `sales-rep-format`: `name` (default) or `initials`.
    pub sales_rep_format: Option<SalesRepFormat>,
    /// Up to three `(definition id, Opportunity field path)` (`custom-fields`).
    pub custom_fields: Vec<(String, String)>,
}

/// `a=b, c=d` -> `{a: b, c: d}`; an entry without `=` is an error naming the key.
fn pairs(s: &dyn Settings, key: &str) -> Result<BTreeMap<String, String>, String> {
    let mut map = BTreeMap::new();
    for entry in s.value(key).unwrap_or_default().split(',') {
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

/// A Salesforce field API name, or a dotted path of them (`Account.Industry`): each part a
/// letter, then letters, digits and underscores. Only such text is put into SOQL.
fn is_field_path(text: &str) -> bool {
    text.split('.').all(|part| {
        part.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// The setting `key` when it is a field path ([`is_field_path`]); an error naming it when not.
fn field_name(s: &dyn Settings, key: &str) -> Result<Option<String>, String> {
    match s.value(key) {
        Some(v) if !is_field_path(&v) => Err(format!(
            "setting {key}: {v:?} is not a Salesforce field name"
        )),
        v => Ok(v),
    }
}

impl DetailSettings {
    /// Reads the settings; a malformed one is an error naming its key.
    pub fn load(s: &dyn Settings) -> Result<Self, String> {
        let custom_fields: Vec<(String, String)> = pairs(s, "custom-fields")?
            .into_iter()
            .map(|(id, field)| {
                if is_field_path(&field) {
                    Ok((id, field))
                } else {
                    Err(format!(
                        "setting custom-fields: {field:?} is not a Salesforce field name"
                    ))
                }
            })
            .collect::<Result<_, _>>()?;
        if custom_fields.len() > crate::mapping::invoice::CUSTOM_FIELDS_MAX {
            return Err(format!(
                "setting custom-fields: {} fields, but QBO keeps {} custom fields on an invoice",
                custom_fields.len(),
                crate::mapping::invoice::CUSTOM_FIELDS_MAX
            ));
        }
        let sales_rep_format = match s.value("sales-rep-format").as_deref() {
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
            taxable_families: s
                .value("taxable-families")
                .map(|v| {
                    v.split(',')
                        .map(|f| f.trim().to_string())
                        .filter(|f| !f.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
            product_tax_code_field: field_name(s, "product-tax-code-field")?,
            family_tax_codes: pairs(s, "family-tax-codes")?,
            exempt_tax_code: s.value("exempt-tax-code"),
            product_class_field: field_name(s, "product-class-field")?,
            family_classes: pairs(s, "family-classes")?,
            opportunity_class_field: field_name(s, "opportunity-class-field")?,
            opportunity_location_field: field_name(s, "opportunity-location-field")?,
            pricebook_tax_inclusive_field: field_name(s, "pricebook-tax-inclusive-field")?,
            terms_map: pairs(s, "terms-map")?,
            sales_rep_field_id: s.value("sales-rep-field-id"),
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
        fields.extend(
            self.pricebook_tax_inclusive_field
                .iter()
                .map(|f| format!("Pricebook2.{f}")),
        );
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::memory::MemorySettings;

    fn load(pairs: &[(&str, &str)]) -> Result<DetailSettings, String> {
        DetailSettings::load(&MemorySettings(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    #[test]
    fn nothing_set_reads_only_the_setup_fields() {
        let d = load(&[]).unwrap();
        assert_eq!(
            d.opportunity_fields(false),
            [ACCOUNT_EMAIL, ACCOUNT_TERMS, ACCOUNT_TAX_EXEMPT, OWNER_NAME]
        );
        assert_eq!(d.line_fields(false), ["Product2.Family"]);
    }

    #[test]
    fn configured_fields_are_read_once_each() {
        let d = load(&[
            ("product-taxable-field", "Taxable__c"),
            ("product-class-field", "QBO_Class__c"),
            ("opportunity-class-field", "QBO_Class__c"),
            (
                "custom-fields",
                "2=NextStep, 3=Account.Industry, 1=NextStep",
            ),
            ("pricebook-tax-inclusive-field", "Prices_Include_Tax__c"),
        ])
        .unwrap();
        let fields = d.opportunity_fields(true);
        assert_eq!(fields.iter().filter(|f| *f == "NextStep").count(), 1);
        assert!(fields.contains(&"Account.Industry".to_string()));
        assert!(fields.contains(&"Pricebook2.Prices_Include_Tax__c".to_string()));
        assert!(fields.contains(&"CurrencyIsoCode".to_string()));
        assert_eq!(
            d.line_fields(false),
            [
                "Product2.Family",
                "Product2.Taxable__c",
                "Product2.QBO_Class__c"
            ]
        );
    }

    #[test]
    fn malformed_settings_are_errors_naming_the_key() {
        for (pairs, key) in [
            (vec![("terms-map", "Net 60")], "terms-map"),
            (vec![("family-tax-codes", "Books")], "family-tax-codes"),
            (
                vec![("product-taxable-field", "Taxable__c; DELETE")],
                "product-taxable-field",
            ),
            (vec![("custom-fields", "2=Next Step")], "custom-fields"),
            (
                vec![("custom-fields", "1=A, 2=B, 3=C, 4=D")],
                "custom-fields",
            ),
            (vec![("sales-rep-format", "nickname")], "sales-rep-format"),
        ] {
            let err = load(&pairs).unwrap_err();
            assert!(err.starts_with(&format!("setting {key}")), "{err}");
        }
    }
}
