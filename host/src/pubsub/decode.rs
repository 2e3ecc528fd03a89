//! A change event from the Pub/Sub API, Avro binary, to the JSON the component reads: the record
//! as an object (unions unwrapped, compound fields nested), and the header's `changedFields`,
//! `nulledFields` and `diffFields` bitmaps turned back into field names against the schema, as
//! Salesforce's own decoder does (developerforce/pub-sub-api
//! `python/util/ChangeEventHeaderUtility.py`):
//!
//! - `"0x…"`: the hex digits are one number, most significant first; bit *i* (from the least
//!   significant) names top-level field *i* of the schema;
//! - `"<parentPos>-0x…"`: the same over the fields of the compound record at top-level position
//!   `parentPos`, named `Parent.Child` (`BillingAddress.City`).

use anyhow::{bail, Context, Result};
use apache_avro::schema::{RecordField, Schema};
use apache_avro::types::Value as Avro;
use serde_json::{Map, Value};

/// The header fields that hold bitmaps.
const BITMAP_FIELDS: [&str; 3] = ["changedFields", "nulledFields", "diffFields"];

/// Decodes one event payload with the writer's `schema`.
pub fn event_json(schema: &Schema, payload: &[u8]) -> Result<Value> {
    let mut reader = payload;
    let datum = apache_avro::reader::datum::GenericDatumReader::builder(schema)
        .build()
        .and_then(|r| r.read_value(&mut reader))
        .context("the event payload does not match its Avro schema")?;
    let mut json = to_json(datum);
    let fields = record_fields(schema).context("the event schema is not a record")?;
    if let Some(header) = json
        .get_mut("ChangeEventHeader")
        .and_then(Value::as_object_mut)
    {
        for name in BITMAP_FIELDS {
            if let Some(Value::Array(list)) = header.get(name) {
                let bitmaps: Vec<String> = list
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect();
                let names = field_names(&bitmaps, fields)
                    .with_context(|| format!("ChangeEventHeader.{name}"))?;
                header.insert(name.into(), Value::from(names));
            }
        }
    }
    Ok(json)
}

/// An Avro value as JSON: records become objects, unions their value, enums their symbol.
fn to_json(v: Avro) -> Value {
    match v {
        Avro::Null => Value::Null,
        Avro::Boolean(b) => Value::Bool(b),
        Avro::Int(i) | Avro::Date(i) | Avro::TimeMillis(i) => Value::from(i),
        Avro::Long(i)
        | Avro::TimeMicros(i)
        | Avro::TimestampMillis(i)
        | Avro::TimestampMicros(i)
        | Avro::LocalTimestampMillis(i)
        | Avro::LocalTimestampMicros(i) => Value::from(i),
        Avro::Float(f) => {
            serde_json::Number::from_f64(f64::from(f)).map_or(Value::Null, Value::Number)
        }
        Avro::Double(f) => serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number),
        Avro::String(s) | Avro::Enum(_, s) => Value::String(s),
        Avro::Uuid(u) => Value::String(u.to_string()),
        Avro::Union(_, inner) => to_json(*inner),
        Avro::Array(items) => Value::Array(items.into_iter().map(to_json).collect()),
        Avro::Map(map) => Value::Object(map.into_iter().map(|(k, v)| (k, to_json(v))).collect()),
        Avro::Record(fields) => Value::Object(
            fields
                .into_iter()
                .map(|(k, v)| (k, to_json(v)))
                .collect::<Map<_, _>>(),
        ),
        Avro::Bytes(b) | Avro::Fixed(_, b) => Value::String(String::from_utf8_lossy(&b).into()),
        other => Value::String(format!("{other:?}")),
    }
}

fn record_fields(schema: &Schema) -> Option<&[RecordField]> {
    match schema {
        Schema::Record(r) => Some(&r.fields),
        Schema::Union(u) => u.variants().iter().find_map(record_fields),
        _ => None,
    }
}

/// The field names a header bitmap list stands for, in list order.
pub fn field_names(bitmaps: &[String], fields: &[RecordField]) -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in bitmaps {
        match entry.split_once('-') {
            None => {
                for i in set_bits(entry)? {
                    let field = fields
                        .get(i)
                        .with_context(|| format!("{entry}: bit {i} is past the schema's fields"))?;
                    names.push(field.name.clone());
                }
            }
            Some((parent, bitmap)) => {
                let parent: usize = parent
                    .parse()
                    .with_context(|| format!("{entry}: {parent:?} is not a field position"))?;
                let compound = fields
                    .get(parent)
                    .with_context(|| format!("{entry}: no field at position {parent}"))?;
                let Some(children) = record_fields(&compound.schema) else {
                    bail!("{entry}: field {} is not a compound field", compound.name);
                };
                for i in set_bits(bitmap)? {
                    let child = children.get(i).with_context(|| {
                        format!("{entry}: bit {i} is past {}'s fields", compound.name)
                    })?;
                    names.push(format!("{}.{}", compound.name, child.name));
                }
            }
        }
    }
    Ok(names)
}

/// The positions of the set bits of `0x…`, least significant first.
fn set_bits(bitmap: &str) -> Result<Vec<usize>> {
    let digits = bitmap
        .strip_prefix("0x")
        .or_else(|| bitmap.strip_prefix("0X"))
        .with_context(|| format!("{bitmap:?} is not a 0x bitmap"))?;
    let mut bits = Vec::new();
    for (n, c) in digits.chars().rev().enumerate() {
        let nibble = c
            .to_digit(16)
            .with_context(|| format!("{bitmap:?}: {c:?} is not a hex digit"))?;
        for b in 0..4 {
            if nibble & (1 << b) != 0 {
                bits.push(n * 4 + b);
            }
        }
    }
    Ok(bits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Record;

    const SCHEMA: &str = r#"{"type": "record", "name": "AccountChangeEvent", "namespace": "com.sforce.eventbus",
      "fields": [
        {"name": "ChangeEventHeader", "type": {"type": "record", "name": "ChangeEventHeader", "fields": [
          {"name": "entityName", "type": "string"},
          {"name": "recordIds", "type": {"type": "array", "items": "string"}},
          {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": ["CREATE", "UPDATE", "DELETE", "UNDELETE", "GAP_CREATE", "GAP_UPDATE", "GAP_DELETE", "GAP_UNDELETE", "GAP_OVERFLOW"]}},
          {"name": "commitUser", "type": "string"},
          {"name": "nulledFields", "type": {"type": "array", "items": "string"}},
          {"name": "diffFields", "type": {"type": "array", "items": "string"}},
          {"name": "changedFields", "type": {"type": "array", "items": "string"}}]}},
        {"name": "Name", "type": ["null", "string"], "default": null},
        {"name": "BillingAddress", "type": ["null", {"type": "record", "name": "Address", "fields": [
          {"name": "Street", "type": ["null", "string"], "default": null},
          {"name": "City", "type": ["null", "string"], "default": null},
          {"name": "State", "type": ["null", "string"], "default": null}]}], "default": null},
        {"name": "LastModifiedDate", "type": ["null", "long"], "default": null}
      ]}"#;

    #[test]
    fn an_avro_event_decodes_with_its_bitmaps_as_field_names() {
        let schema = Schema::parse_str(SCHEMA).unwrap();
        let fields = record_fields(&schema).unwrap();
        let header_schema = &fields[0].schema;
        let mut header = Record::new(header_schema).unwrap();
        header.put("entityName", "Account");
        header.put("recordIds", Avro::Array(vec![Avro::String("001A".into())]));
        header.put("changeType", Avro::Enum(1, "UPDATE".into()));
        header.put("commitUser", "005X");
        header.put("nulledFields", Avro::Array(vec![]));
        header.put("diffFields", Avro::Array(vec![]));
        // Name (1) and LastModifiedDate (3) at the top; BillingAddress (2) .City (1).
        header.put(
            "changedFields",
            Avro::Array(vec![
                Avro::String("0x0A".into()),
                Avro::String("2-0x02".into()),
            ]),
        );
        let address = match &fields[2].schema {
            Schema::Union(u) => u.variants()[1].clone(),
            _ => unreachable!(),
        };
        let mut billing = Record::new(&address).unwrap();
        billing.put("Street", Avro::Union(0, Box::new(Avro::Null)));
        billing.put(
            "City",
            Avro::Union(1, Box::new(Avro::String("Austin".into()))),
        );
        billing.put("State", Avro::Union(0, Box::new(Avro::Null)));
        let mut event = Record::new(&schema).unwrap();
        event.put("ChangeEventHeader", header);
        event.put(
            "Name",
            Avro::Union(1, Box::new(Avro::String("Acme".into()))),
        );
        event.put("BillingAddress", Avro::Union(1, Box::new(billing.into())));
        event.put(
            "LastModifiedDate",
            Avro::Union(1, Box::new(Avro::Long(1_700_000_000_000))),
        );
        let bytes = apache_avro::writer::datum::GenericDatumWriter::builder(&schema)
            .build()
            .unwrap()
            .write_value_to_vec(event)
            .unwrap();

        let json = event_json(&schema, &bytes).unwrap();
        assert_eq!(json["ChangeEventHeader"]["changeType"], "UPDATE");
        assert_eq!(json["ChangeEventHeader"]["recordIds"][0], "001A");
        assert_eq!(
            json["ChangeEventHeader"]["changedFields"],
            serde_json::json!(["Name", "LastModifiedDate", "BillingAddress.City"])
        );
        assert_eq!(json["Name"], "Acme");
        assert_eq!(json["BillingAddress"]["City"], "Austin");
        assert_eq!(json["BillingAddress"]["Street"], Value::Null);
        assert_eq!(json["LastModifiedDate"], 1_700_000_000_000_i64);

        // Bad bitmaps are errors naming the entry, never a panic.
        for (bad, says) in [
            ("0xZZ", "not a hex digit"),
            ("12", "not a 0x bitmap"),
            ("0x100", "past the schema's fields"),
            ("1-0x01", "Name is not a compound field"),
            ("x-0x01", "not a field position"),
        ] {
            let err = format!("{:#}", field_names(&[bad.to_string()], fields).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
        assert!(event_json(&schema, &[0xff, 0xff]).is_err());
    }
}
