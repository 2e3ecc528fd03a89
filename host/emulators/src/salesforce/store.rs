//! The org's records: one table per sObject, keyed by 18-character id (ids increase, so a table
//! iterates in creation order). Deleted records stay in their table, marked, until the recycle
//! bin is emptied (15 days), so that `queryAll` and Get Deleted see them.

use super::ids::IdGen;
use super::schema::{FieldType, SObjectDef};
use super::values::Val;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// All records of the org, with an index of children by parent id and the recycle bin.
#[derive(Clone, Debug)]
pub struct Store {
    tables: BTreeMap<String, BTreeMap<String, Record>>,
    /// Reference fields per sObject (indexed for child look-ups).
    reference_fields: BTreeMap<String, Vec<String>>,
    /// (child sObject, reference field, parent id) → child ids.
    children: HashMap<(String, String, String), BTreeSet<String>>,
    /// (deleted at, sObject, id) of records in the recycle bin.
    recycle_bin: BTreeSet<(DateTime<Utc>, String, String)>,
    /// Id generator.
    pub ids: IdGen,
    /// Next auto-number per `sObject.Field`.
    pub autonumbers: BTreeMap<String, u64>,
}

impl Store {
    /// An empty store; `reference_fields` names the fields to index per sObject.
    pub fn new(seed: u64, reference_fields: BTreeMap<String, Vec<String>>) -> Self {
        Self {
            tables: BTreeMap::new(),
            reference_fields,
            children: HashMap::new(),
            recycle_bin: BTreeSet::new(),
            ids: IdGen::new(seed),
            autonumbers: BTreeMap::new(),
        }
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

    /// A live (not deleted) record.
    pub fn live(&self, sobject: &str, id: &str) -> Option<&Record> {
        self.get(sobject, id).filter(|r| r.deleted_at.is_none())
    }

    fn index(&mut self, record: &Record, add: bool) {
        let Some(fields) = self.reference_fields.get(&record.sobject) else {
            return;
        };
        for f in fields {
            if let Some(Val::Text(parent)) = record.fields.get(f) {
                let key = (record.sobject.clone(), f.clone(), parent.clone());
                if add {
                    self.children
                        .entry(key)
                        .or_default()
                        .insert(record.id.clone());
                } else if let Some(set) = self.children.get_mut(&key) {
                    set.remove(&record.id);
                    if set.is_empty() {
                        self.children.remove(&key);
                    }
                }
            }
        }
    }

    /// Inserts or replaces a record.
    pub fn put(&mut self, record: Record) {
        if let Some(old) = self.get(&record.sobject, &record.id).cloned() {
            self.index(&old, false);
        }
        self.index(&record, true);
        self.tables
            .entry(record.sobject.clone())
            .or_default()
            .insert(record.id.clone(), record);
    }

    /// Moves a record to the recycle bin.
    pub fn mark_deleted(&mut self, sobject: &str, id: &str, at: DateTime<Utc>) {
        if let Some(r) = self.tables.get_mut(sobject).and_then(|t| t.get_mut(id)) {
            r.deleted_at = Some(at);
            r.modstamp = at;
            self.recycle_bin
                .insert((at, sobject.to_string(), id.to_string()));
        }
    }

    /// Every record of `sobject`, deleted ones included, in creation order.
    pub fn all(&self, sobject: &str) -> impl DoubleEndedIterator<Item = &Record> {
        self.tables
            .get(sobject)
            .into_iter()
            .flat_map(|t| t.values())
    }

    /// Live records of `sobject` whose reference `field` holds `parent_id`, in creation order.
    pub fn children_of<'a>(
        &'a self,
        sobject: &str,
        field: &str,
        parent_id: &str,
    ) -> impl Iterator<Item = &'a Record> + 'a {
        let key = (
            sobject.to_string(),
            field.to_string(),
            parent_id.to_string(),
        );
        let table = self.tables.get(sobject);
        let ids: Vec<&'a String> = self
            .children
            .get(&key)
            .map(|s| s.iter().collect())
            .unwrap_or_default();
        ids.into_iter()
            .filter_map(move |id| table.and_then(|t| t.get(id)))
            .filter(|r| r.deleted_at.is_none())
    }

    /// Empties the recycle bin of records deleted before `before`.
    pub fn purge_deleted_before(&mut self, before: DateTime<Utc>) {
        while let Some(first) = self.recycle_bin.first().cloned() {
            if first.0 >= before {
                break;
            }
            self.recycle_bin.remove(&first);
            let (_, sobject, id) = first;
            let removed = self.tables.get_mut(&sobject).and_then(|t| t.remove(&id));
            if let Some(r) = removed {
                self.index(&r, false);
            }
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
