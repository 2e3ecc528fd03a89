//! The org's records: one table per sObject, keyed by 18-character id (ids increase, so a table
//! iterates in creation order). Deleted records stay in their table, marked, until the recycle
//! bin is emptied (15 days), so that `queryAll` and Get Deleted see them.

use super::ids::IdGen;
use super::schema::{FieldType, SObjectDef};
use super::values::{format_datetime, Val};
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// One record.
#[derive(Clone, Debug)]
pub struct Record {
    /// 18-character id.
    pub id: String,
    /// sObject type (canonical name).
    pub sobject: String,
    /// Non-system field values by canonical name (absent means null).
    pub fields: BTreeMap<String, Val>,
    /// CreatedDate.
    pub created: DateTime<Utc>,
    /// LastModifiedDate.
    pub modified: DateTime<Utc>,
    /// SystemModstamp (also bumped by system changes such as roll-ups).
    pub modstamp: DateTime<Utc>,
    /// User who created / last modified the record.
    pub user: String,
    /// When the record was deleted, if it was.
    pub deleted_at: Option<DateTime<Utc>>,
}

impl Record {
    /// The value of `field` (canonical name), system fields included.
    pub fn get(&self, field: &str) -> Val {
        match field {
            "Id" => Val::Text(self.id.clone()),
            "IsDeleted" => Val::Bool(self.deleted_at.is_some()),
            "CreatedDate" => Val::DateTime(self.created),
            "LastModifiedDate" => Val::DateTime(self.modified),
            "SystemModstamp" => Val::DateTime(self.modstamp),
            "CreatedById" | "LastModifiedById" => Val::Text(self.user.clone()),
            _ => self.fields.get(field).cloned().unwrap_or(Val::Null),
        }
    }

    /// `{"type","url"}`.
    pub fn attributes(&self, base: &str) -> Value {
        json!({"type": self.sobject, "url": format!("{base}/sobjects/{}/{}", self.sobject, self.id)})
    }

    /// The REST representation: `attributes` then every field (or only `only`, in that order).
    pub fn to_json(&self, def: &SObjectDef, base: &str, only: Option<&[String]>) -> Value {
        let mut m = Map::new();
        m.insert("attributes".into(), self.attributes(base));
        match only {
            Some(names) => {
                for n in names {
                    if let Some(f) = def.field(n) {
                        m.insert(f.name.clone(), self.get(&f.name).to_json(f.field_type));
                    }
                }
            }
            None => {
                for f in &def.fields {
                    m.insert(f.name.clone(), self.get(&f.name).to_json(f.field_type));
                }
            }
        }
        Value::Object(m)
    }
}

/// All records of the org.
#[derive(Clone, Debug)]
pub struct Store {
    tables: BTreeMap<String, BTreeMap<String, Record>>,
    /// Id generator.
    pub ids: IdGen,
    /// Next auto-number per `sObject.Field`.
    pub autonumbers: BTreeMap<String, u64>,
}

impl Store {
    /// An empty store.
    pub fn new(seed: u64) -> Self {
        Self { tables: BTreeMap::new(), ids: IdGen::new(seed), autonumbers: BTreeMap::new() }
    }

    /// The next value of an auto-number field, zero-padded to `width`.
    pub fn autonumber(&mut self, key: &str, start: u64, width: usize) -> String {
        let n = self.autonumbers.entry(key.to_string()).or_insert(start);
        let v = *n;
        *n += 1;
        format!("{v:0width$}")
    }

    /// The record `id` of `sobject`, deleted or not.
    pub fn get(&self, sobject: &str, id: &str) -> Option<&Record> {
        self.tables.get(sobject)?.get(id)
    }

    /// Mutable access to a record.
    pub fn get_mut(&mut self, sobject: &str, id: &str) -> Option<&mut Record> {
        self.tables.get_mut(sobject)?.get_mut(id)
    }

    /// A live (not deleted) record.
    pub fn live(&self, sobject: &str, id: &str) -> Option<&Record> {
        self.get(sobject, id).filter(|r| r.deleted_at.is_none())
    }

    /// Inserts or replaces a record.
    pub fn put(&mut self, record: Record) {
        self.tables.entry(record.sobject.clone()).or_default().insert(record.id.clone(), record);
    }

    /// Removes a record for good.
    pub fn purge(&mut self, sobject: &str, id: &str) {
        if let Some(t) = self.tables.get_mut(sobject) {
            t.remove(id);
        }
    }

    /// Every record of `sobject`, deleted ones included, in creation order.
    pub fn all(&self, sobject: &str) -> impl Iterator<Item = &Record> {
        self.tables.get(sobject).into_iter().flat_map(|t| t.values())
    }

    /// Live records of `sobject` whose `field` equals `value` (text, case-sensitive as ids are).
    pub fn children_of<'a>(&'a self, sobject: &str, field: &'a str, parent_id: &'a str) -> impl Iterator<Item = &'a Record> + 'a {
        self.all(sobject)
            .filter(move |r| r.deleted_at.is_none() && r.fields.get(field).and_then(Val::as_text) == Some(parent_id))
    }

    /// Empties the recycle bin of records deleted before `before`.
    pub fn purge_deleted_before(&mut self, before: DateTime<Utc>) {
        for t in self.tables.values_mut() {
            t.retain(|_, r| r.deleted_at.is_none_or(|d| d >= before));
        }
    }
}

/// Writes a datetime field value for change events (epoch milliseconds) or REST (text).
pub fn event_value(v: &Val, ty: FieldType) -> Value {
    match v {
        Val::DateTime(t) => json!(t.timestamp_millis()),
        other => other.to_json(ty),
    }
}

/// The REST datetime text of `t` (re-exported for handlers).
pub fn datetime_text(t: DateTime<Utc>) -> String {
    format_datetime(t)
}
