//! Calling any export with JSON in and JSON out, driven by the component's own types: this is
//! how `ledgerlink call` (and an n8n-style host) runs one function on one item.
//!
//! | WIT | JSON |
//! |---|---|
//! | record | object with the WIT (kebab-case) field names; missing `option` fields are `null` |
//! | enum | the case name as a string |
//! | variant | `"case"` without payload, `{"case": payload}` with one |
//! | option | `null` or the value |
//! | result | `{"ok": value}` or `{"err": value}` |
//! | list, tuple | array |
//! | string, bool, integers | themselves (money is a string in the contract) |

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Number, Value};
use wasmtime::component::{types::Type, Val};

/// Converts JSON to a component value of type `ty`; `path` names the position in errors.
pub fn to_val(json: &Value, ty: &Type, path: &str) -> Result<Val> {
    let wrong = |expected: &str| anyhow!("{path}: expected {expected}, found {}", describe(json));
    Ok(match ty {
        Type::Bool => Val::Bool(json.as_bool().ok_or_else(|| wrong("a boolean"))?),
        Type::String => Val::String(json.as_str().ok_or_else(|| wrong("a string"))?.to_string()),
        Type::Char => {
            let s = json
                .as_str()
                .ok_or_else(|| wrong("a one-character string"))?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Val::Char(c),
                _ => return Err(wrong("a one-character string")),
            }
        }
        Type::U8 => Val::U8(int(json, path)?),
        Type::U16 => Val::U16(int(json, path)?),
        Type::U32 => Val::U32(int(json, path)?),
        Type::U64 => Val::U64(int(json, path)?),
        Type::S8 => Val::S8(int(json, path)?),
        Type::S16 => Val::S16(int(json, path)?),
        Type::S32 => Val::S32(int(json, path)?),
        Type::S64 => Val::S64(int(json, path)?),
        Type::Float32 | Type::Float64 => {
            bail!("{path}: floats are not part of the Ledgerlink contract")
        }
        Type::List(list) => {
            let items = json.as_array().ok_or_else(|| wrong("an array"))?;
            let elem = list.ty();
            Val::List(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| to_val(item, &elem, &format!("{path}[{i}]")))
                    .collect::<Result<_>>()?,
            )
        }
        Type::Record(record) => {
            let obj = json.as_object().ok_or_else(|| wrong("an object"))?;
            let mut fields = Vec::new();
            for field in record.fields() {
                let sub = join(path, field.name);
                let value = match obj.get(field.name) {
                    Some(v) => to_val(v, &field.ty, &sub)?,
                    None if matches!(field.ty, Type::Option(_)) => Val::Option(None),
                    None => bail!("{sub}: missing required field"),
                };
                fields.push((field.name.to_string(), value));
            }
            let known: Vec<&str> = record.fields().map(|f| f.name).collect();
            if let Some(extra) = obj.keys().find(|k| !known.contains(&k.as_str())) {
                bail!(
                    "{}: unknown field (expected one of: {})",
                    join(path, extra),
                    known.join(", ")
                );
            }
            Val::Record(fields)
        }
        Type::Tuple(tuple) => {
            let items = json.as_array().ok_or_else(|| wrong("an array"))?;
            let types: Vec<Type> = tuple.types().collect();
            if items.len() != types.len() {
                return Err(wrong(&format!("an array of {} elements", types.len())));
            }
            Val::Tuple(
                items
                    .iter()
                    .zip(&types)
                    .enumerate()
                    .map(|(i, (item, ty))| to_val(item, ty, &format!("{path}[{i}]")))
                    .collect::<Result<_>>()?,
            )
        }
        Type::Enum(en) => {
            let name = json.as_str().ok_or_else(|| wrong("a string"))?;
            let names: Vec<&str> = en.names().collect();
            if !names.contains(&name) {
                bail!("{path}: {name:?} is not one of: {}", names.join(", "));
            }
            Val::Enum(name.to_string())
        }
        Type::Variant(variant) => {
            let cases: Vec<_> = variant.cases().collect();
            let names = || cases.iter().map(|c| c.name).collect::<Vec<_>>().join(", ");
            let (name, payload) = match json {
                Value::String(s) => (s.as_str(), None),
                Value::Object(o) if o.len() == 1 => {
                    let (k, v) = o.iter().next().expect("one entry");
                    (k.as_str(), Some(v))
                }
                _ => {
                    return Err(wrong(&format!(
                        "a case name or a one-key object ({})",
                        names()
                    )))
                }
            };
            let case = cases
                .iter()
                .find(|c| c.name == name)
                .ok_or_else(|| anyhow!("{path}: {name:?} is not one of: {}", names()))?;
            let value = match (&case.ty, payload) {
                (None, None) | (None, Some(Value::Null)) => None,
                (Some(ty), Some(v)) => Some(Box::new(to_val(v, ty, &join(path, name))?)),
                (Some(_), None) => bail!("{path}: case {name:?} needs a payload"),
                (None, Some(_)) => bail!("{path}: case {name:?} takes no payload"),
            };
            Val::Variant(name.to_string(), value)
        }
        Type::Option(option) => match json {
            Value::Null => Val::Option(None),
            v => Val::Option(Some(Box::new(to_val(v, &option.ty(), path)?))),
        },
        Type::Result(result) => {
            let obj = json
                .as_object()
                .filter(|o| o.len() == 1)
                .ok_or_else(|| wrong("{\"ok\": ..} or {\"err\": ..}"))?;
            let (k, v) = obj.iter().next().expect("one entry");
            let payload = |ty: Option<Type>| -> Result<Option<Box<Val>>> {
                Ok(match ty {
                    Some(ty) => Some(Box::new(to_val(v, &ty, &join(path, k))?)),
                    None => None,
                })
            };
            match k.as_str() {
                "ok" => Val::Result(Ok(payload(result.ok())?)),
                "err" => Val::Result(Err(payload(result.err())?)),
                _ => return Err(wrong("{\"ok\": ..} or {\"err\": ..}")),
            }
        }
        Type::Flags(flags) => {
            let items = json
                .as_array()
                .ok_or_else(|| wrong("an array of flag names"))?;
            let names: Vec<&str> = flags.names().collect();
            let mut set = Vec::new();
            for item in items {
                let name = item
                    .as_str()
                    .filter(|n| names.contains(n))
                    .ok_or_else(|| wrong("flag names"))?;
                set.push(name.to_string());
            }
            Val::Flags(set)
        }
        other => bail!("{path}: values of type {other:?} cannot be given as JSON"),
    })
}

/// Converts a component value to JSON.
pub fn from_val(val: &Val) -> Value {
    match val {
        Val::Bool(b) => Value::Bool(*b),
        Val::S8(n) => Value::from(*n),
        Val::S16(n) => Value::from(*n),
        Val::S32(n) => Value::from(*n),
        Val::S64(n) => Value::from(*n),
        Val::U8(n) => Value::from(*n),
        Val::U16(n) => Value::from(*n),
        Val::U32(n) => Value::from(*n),
        Val::U64(n) => Value::from(*n),
        Val::Float32(n) => Number::from_f64(f64::from(*n))
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Val::Float64(n) => Number::from_f64(*n)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Val::Char(c) => Value::String(c.to_string()),
        Val::String(s) => Value::String(s.clone()),
        Val::List(items) | Val::Tuple(items) => Value::Array(items.iter().map(from_val).collect()),
        Val::Record(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), from_val(v)))
                .collect::<Map<_, _>>(),
        ),
        Val::Enum(name) => Value::String(name.clone()),
        Val::Variant(name, None) => Value::String(name.clone()),
        Val::Variant(name, Some(payload)) => single(name, from_val(payload)),
        Val::Option(None) => Value::Null,
        Val::Option(Some(v)) => from_val(v),
        Val::Result(Ok(v)) => single("ok", v.as_deref().map(from_val).unwrap_or(Value::Null)),
        Val::Result(Err(v)) => single("err", v.as_deref().map(from_val).unwrap_or(Value::Null)),
        Val::Flags(names) => Value::Array(names.iter().cloned().map(Value::String).collect()),
        other => Value::String(format!("<{other:?}>")),
    }
}

fn single(key: &str, value: Value) -> Value {
    let mut map = Map::new();
    map.insert(key.to_string(), value);
    Value::Object(map)
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

fn int<T: TryFrom<i64> + TryFrom<u64>>(json: &Value, path: &str) -> Result<T> {
    let out_of_range = || anyhow!("{path}: {json} is out of range");
    match (json.as_i64(), json.as_u64()) {
        (_, Some(u)) => T::try_from(u).map_err(|_| out_of_range()),
        (Some(i), _) => T::try_from(i).map_err(|_| out_of_range()),
        _ => Err(anyhow!(
            "{path}: expected an integer, found {}",
            describe(json)
        )),
    }
}

fn describe(json: &Value) -> &'static str {
    match json {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Takes the function's single parameter from `json`: either the value itself or, as in the
/// fixture files, `{"input": value, ...}`.
pub fn unwrap_input<'a>(json: &'a Value, param: &str) -> &'a Value {
    match json.as_object() {
        Some(obj)
            if obj.contains_key(param)
                && obj.len() <= 3
                && (obj.contains_key("expect") || obj.len() == 1) =>
        {
            &obj[param]
        }
        _ => json,
    }
}

/// Reads a JSON document, naming the source in the error.
pub fn parse_json(text: &str, source: &str) -> Result<Value> {
    serde_json::from_str(text).with_context(|| format!("{source} is not valid JSON"))
}
