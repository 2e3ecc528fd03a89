//! Change events as the Pub/Sub API carries them: an Avro schema per object, and each stored
//! event encoded with it.
//!
//! The schema has the shape Salesforce documents for `<Object>ChangeEvent`: the
//! `ChangeEventHeader` record first, then every field of the object except `Id`, `IsDeleted` and
//! `SystemModstamp`, each a union with `null` (unchanged fields of an update are null), with
//! `Billing…`/`Shipping…`/`Mailing…` address parts nested in one `Address` record. In the header,
//! `changedFields`, `nulledFields` and `diffFields` are bitmap strings: `0x…` is one number whose
//! bit *i* names top-level field *i*; `<pos>-0x…` does the same over the fields of the compound
//! field at top-level position `pos`.
//!
//! Value types: text of every kind is `string`, checkboxes `boolean`, numbers and money `double`,
//! whole numbers `int`, dates `int` (days since 1970-01-01), datetimes `long` (epoch
//! milliseconds). The schema id is derived from the schema text, so it changes when the object's
//! fields do, as a real org's does.

use super::super::change_events::{address_part, in_events};
use super::super::schema::{FieldType, SObjectDef};
use anyhow::{bail, Context, Result};
use apache_avro::types::Value as Avro;
use apache_avro::Schema;
use base64::Engine;
use chrono::NaiveDate;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

/// The change types, in the enum's symbol order.
const CHANGE_TYPES: [&str; 9] = [
    "CREATE",
    "UPDATE",
    "DELETE",
    "UNDELETE",
    "GAP_CREATE",
    "GAP_UPDATE",
    "GAP_DELETE",
    "GAP_UNDELETE",
    "GAP_OVERFLOW",
];

/// Header fields that hold field lists, sent as bitmaps.
const BITMAP_FIELDS: [&str; 3] = ["nulledFields", "diffFields", "changedFields"];

/// One top-level body field.
#[derive(Debug)]
enum Field {
    /// A field with its own value.
    Plain { name: String, ty: FieldType },
    /// A compound address: `BillingAddress` with its parts.
    Address { name: String, parts: Vec<String> },
}

impl Field {
    fn name(&self) -> &str {
        match self {
            Field::Plain { name, .. } | Field::Address { name, .. } => name,
        }
    }
}

/// An object's change event schema.
#[derive(Debug)]
pub struct EventSchema {
    /// `GetSchema`'s id.
    pub id: String,
    /// The schema as JSON text (`SchemaInfo.schema_json`).
    pub json: String,
    schema: Schema,
    /// Body fields; top-level position = index + 1 (the header is position 0).
    fields: Vec<Field>,
}

/// The event object's name: `AccountChangeEvent`, `Invoice__ChangeEvent` for `Invoice__c`.
pub fn event_name(sobject: &str) -> String {
    match sobject.strip_suffix("__c") {
        Some(base) => format!("{base}__ChangeEvent"),
        None => format!("{sobject}ChangeEvent"),
    }
}

impl EventSchema {
    /// The schema of `def`'s change events.
    pub fn of(def: &SObjectDef) -> Result<Self> {
        let mut fields: Vec<Field> = Vec::new();
        for f in def.fields.iter().filter(|f| in_events(&f.name)) {
            match address_part(&f.name) {
                Some((compound, part)) => match fields.iter_mut().find(|x| x.name() == compound) {
                    Some(Field::Address { parts, .. }) => parts.push(part.to_string()),
                    _ => fields.push(Field::Address {
                        name: compound,
                        parts: vec![part.to_string()],
                    }),
                },
                None => fields.push(Field::Plain {
                    name: f.name.clone(),
                    ty: f.field_type,
                }),
            }
        }
        let mut address_defined = false;
        let mut body = vec![header_schema()];
        for field in &fields {
            let ty = match field {
                Field::Plain { ty, .. } => json!(["null", avro_type(*ty)]),
                // One named `Address` record, referred to by name after its first use.
                Field::Address { parts, .. } if !address_defined => {
                    address_defined = true;
                    let parts: Vec<Value> = parts
                        .iter()
                        .map(|p| json!({"name": p, "type": ["null", "string"], "default": null}))
                        .collect();
                    json!(["null", {"type": "record", "name": "Address", "fields": parts}])
                }
                Field::Address { .. } => json!(["null", "Address"]),
            };
            body.push(json!({"name": field.name(), "type": ty, "default": null}));
        }
        let schema_json = json!({
            "type": "record",
            "name": event_name(&def.name),
            "namespace": "com.sforce.eventbus",
            "fields": body,
        })
        .to_string();
        let schema = Schema::parse_str(&schema_json)
            .with_context(|| format!("the {} change event schema", def.name))?;
        let digest = Sha256::digest(schema_json.as_bytes());
        let id = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16]);
        Ok(Self {
            id,
            json: schema_json,
            schema,
            fields,
        })
    }

    /// `payload` (a stored event: header and body as JSON) in Avro binary.
    pub fn encode(&self, payload: &Value) -> Result<Vec<u8>> {
        let header = payload
            .get("ChangeEventHeader")
            .and_then(Value::as_object)
            .context("the event has no ChangeEventHeader")?;
        let mut record = vec![("ChangeEventHeader".to_string(), self.header(header)?)];
        for field in &self.fields {
            let value = payload.get(field.name()).unwrap_or(&Value::Null);
            let avro = match (field, value) {
                (_, Value::Null) => Avro::Union(0, Box::new(Avro::Null)),
                (Field::Plain { name, ty }, v) => Avro::Union(
                    1,
                    Box::new(plain(*ty, v).with_context(|| format!("field {name}"))?),
                ),
                (Field::Address { parts, .. }, v) => {
                    let parts = parts
                        .iter()
                        .map(|p| {
                            let part = match v.get(p).and_then(Value::as_str) {
                                Some(s) => Avro::Union(1, Box::new(Avro::String(s.into()))),
                                None => Avro::Union(0, Box::new(Avro::Null)),
                            };
                            (p.clone(), part)
                        })
                        .collect();
                    Avro::Union(1, Box::new(Avro::Record(parts)))
                }
            };
            record.push((field.name().to_string(), avro));
        }
        apache_avro::writer::datum::GenericDatumWriter::builder(&self.schema)
            .build()
            .and_then(|w| w.write_value_to_vec(Avro::Record(record)))
            .context("the event does not match its schema")
    }

    fn header(&self, header: &Map<String, Value>) -> Result<Avro> {
        let text = |name: &str| {
            Avro::String(
                header
                    .get(name)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string(),
            )
        };
        let number = |name: &str| header.get(name).and_then(Value::as_i64).unwrap_or_default();
        let change_type = header
            .get("changeType")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let symbol = CHANGE_TYPES
            .iter()
            .position(|t| *t == change_type)
            .with_context(|| format!("changeType {change_type:?}"))?;
        let strings = |list: Vec<String>| Avro::Array(list.into_iter().map(Avro::String).collect());
        let names = |name: &str| -> Vec<String> {
            header
                .get(name)
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let mut fields = vec![
            ("entityName".to_string(), text("entityName")),
            ("recordIds".to_string(), strings(names("recordIds"))),
            (
                "changeType".to_string(),
                Avro::Enum(symbol as u32, change_type.to_string()),
            ),
            ("changeOrigin".to_string(), text("changeOrigin")),
            ("transactionKey".to_string(), text("transactionKey")),
            (
                "sequenceNumber".to_string(),
                Avro::Int(number("sequenceNumber") as i32),
            ),
            (
                "commitTimestamp".to_string(),
                Avro::Long(number("commitTimestamp")),
            ),
            (
                "commitNumber".to_string(),
                Avro::Long(number("commitNumber")),
            ),
            ("commitUser".to_string(), text("commitUser")),
        ];
        for name in BITMAP_FIELDS {
            fields.push((name.to_string(), strings(self.bitmaps(&names(name))?)));
        }
        Ok(Avro::Record(fields))
    }

    /// Field names as bitmap strings: one `0x…` for top-level fields (if any), then one
    /// `<pos>-0x…` per compound field with changed parts.
    fn bitmaps(&self, names: &[String]) -> Result<Vec<String>> {
        let mut top = Vec::new();
        let mut nested: Vec<(usize, Vec<usize>)> = Vec::new();
        for name in names {
            let (parent, child) = match name.split_once('.') {
                Some((p, c)) => (p, Some(c)),
                None => (name.as_str(), None),
            };
            let index = self
                .fields
                .iter()
                .position(|f| f.name() == parent)
                .with_context(|| format!("field {name} is not in the schema"))?;
            let position = index + 1;
            match (child, &self.fields[index]) {
                (None, _) => top.push(position),
                (Some(c), Field::Address { parts, .. }) => {
                    let bit = parts
                        .iter()
                        .position(|p| p == c)
                        .with_context(|| format!("field {name} is not in the schema"))?;
                    match nested.iter_mut().find(|(p, _)| *p == position) {
                        Some((_, bits)) => bits.push(bit),
                        None => nested.push((position, vec![bit])),
                    }
                }
                (Some(_), Field::Plain { .. }) => bail!("field {parent} is not compound"),
            }
        }
        let mut out = Vec::new();
        if !top.is_empty() {
            out.push(bitmap(&top));
        }
        for (position, bits) in nested {
            out.push(format!("{position}-{}", bitmap(&bits)));
        }
        Ok(out)
    }
}

/// `0x…`: the set `bits` as one hexadecimal number, most significant digit first.
fn bitmap(bits: &[usize]) -> String {
    let digits = bits.iter().max().map_or(1, |m| m / 4 + 1);
    let mut nibbles = vec![0u8; digits];
    for &b in bits {
        nibbles[b / 4] |= 1 << (b % 4);
    }
    let hex: String = nibbles
        .iter()
        .rev()
        .map(|n| char::from_digit(u32::from(*n), 16).unwrap_or('0'))
        .collect();
    format!("0x{}", hex.to_uppercase())
}

fn header_schema() -> Value {
    let list = json!({"type": "array", "items": "string"});
    json!({
        "name": "ChangeEventHeader",
        "type": {
            "type": "record",
            "name": "ChangeEventHeader",
            "fields": [
                {"name": "entityName", "type": "string"},
                {"name": "recordIds", "type": list},
                {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": CHANGE_TYPES}},
                {"name": "changeOrigin", "type": "string"},
                {"name": "transactionKey", "type": "string"},
                {"name": "sequenceNumber", "type": "int"},
                {"name": "commitTimestamp", "type": "long"},
                {"name": "commitNumber", "type": "long"},
                {"name": "commitUser", "type": "string"},
                {"name": "nulledFields", "type": list},
                {"name": "diffFields", "type": list},
                {"name": "changedFields", "type": list},
            ],
        },
    })
}

fn avro_type(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Boolean => "boolean",
        FieldType::Currency | FieldType::Double | FieldType::Percent => "double",
        FieldType::Int | FieldType::Date => "int",
        FieldType::Datetime => "long",
        _ => "string",
    }
}

/// A non-null JSON value of a field of type `ty` as Avro.
fn plain(ty: FieldType, v: &Value) -> Result<Avro> {
    Ok(match avro_type(ty) {
        "boolean" => Avro::Boolean(v.as_bool().context("not a boolean")?),
        // The wire type of Salesforce's number fields is a double.
        "double" => Avro::Double(number(v)?),
        "long" => Avro::Long(v.as_i64().context("not epoch milliseconds")?),
        "int" if ty == FieldType::Date => {
            let day = v
                .as_str()
                .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
                .context("not a YYYY-MM-DD date")?;
            let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
            Avro::Int((day - epoch).num_days() as i32)
        }
        "int" => Avro::Int(number(v)? as i32),
        _ => Avro::String(match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        }),
    })
}

fn number(v: &Value) -> Result<f64> {
    match v {
        Value::Number(n) => n.as_f64().context("not a number"),
        Value::String(s) => s.parse().context("not a number"),
        _ => bail!("not a number"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::salesforce::schema::Schema as SfSchema;

    #[test]
    fn bitmaps_name_top_level_and_nested_fields() {
        assert_eq!(bitmap(&[1, 3]), "0xA");
        assert_eq!(bitmap(&[0, 9]), "0x201");
        assert_eq!(bitmap(&[4]), "0x10");
        let sf = SfSchema::standard();
        let account = EventSchema::of(sf.object("Account").unwrap()).unwrap();
        let bits = account
            .bitmaps(&["Name".into(), "BillingAddress.City".into()])
            .unwrap();
        let name = account
            .fields
            .iter()
            .position(|f| f.name() == "Name")
            .unwrap()
            + 1;
        assert_eq!(bits[0], bitmap(&[name]));
        assert!(bits[1].ends_with("-0x2"), "{bits:?}");
        assert!(account.bitmaps(&["Nope".into()]).is_err());
        assert!(account.bitmaps(&["Name.City".into()]).is_err());
    }

    #[test]
    fn an_event_encodes_with_its_schema_and_decodes_back() {
        let sf = SfSchema::standard();
        let schema = EventSchema::of(sf.object("Opportunity").unwrap()).unwrap();
        assert!(schema.json.contains("\"OpportunityChangeEvent\""));
        assert_eq!(event_name("Invoice__c"), "Invoice__ChangeEvent");
        let payload = json!({
            "ChangeEventHeader": {"entityName": "Opportunity", "recordIds": ["006A"],
                "changeType": "UPDATE", "changeOrigin": "", "transactionKey": "t", "sequenceNumber": 1,
                "commitTimestamp": 1_700_000_000_000_i64, "commitNumber": 7, "commitUser": "005U",
                "nulledFields": [], "diffFields": [], "changedFields": ["StageName", "LastModifiedDate"]},
            "StageName": "Closed Won", "Amount": 1200.5, "CloseDate": "2026-01-02",
            "LastModifiedDate": 1_700_000_000_000_i64,
        });
        let bytes = schema.encode(&payload).unwrap();
        let mut reader = bytes.as_slice();
        let decoded = apache_avro::reader::datum::GenericDatumReader::builder(&schema.schema)
            .build()
            .unwrap()
            .read_value(&mut reader)
            .unwrap();
        let Avro::Record(fields) = decoded else {
            panic!("not a record")
        };
        let get = |n: &str| fields.iter().find(|(k, _)| k == n).unwrap().1.clone();
        assert_eq!(
            get("StageName"),
            Avro::Union(1, Box::new(Avro::String("Closed Won".into())))
        );
        assert_eq!(get("CloseDate"), Avro::Union(1, Box::new(Avro::Int(20455))));
        assert_eq!(get("Name"), Avro::Union(0, Box::new(Avro::Null)));
        let bad = json!({"ChangeEventHeader": {"changeType": "MERGE"}});
        assert!(schema.encode(&bad).is_err());
    }
}
