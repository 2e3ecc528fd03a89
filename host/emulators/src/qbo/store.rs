//! In-memory storage of one company (realm): a table per entity, deletion tombstones for CDC, and
//! per-entity Id counters. Objects are stored as the JSON QBO returns for them; a few derived
//! fields (Customer.Balance) are added when rendering.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};

/// One stored object.
#[derive(Clone, Debug)]
pub(crate) struct Record {
    /// The object as returned by the API.
    pub value: Map<String, Value>,
    /// When it last changed (drives CDC and `MetaData.LastUpdatedTime`).
    pub updated_at: DateTime<Utc>,
    /// Voided transactions stay readable but count for nothing.
    pub voided: bool,
}

impl Record {
    /// The object's SyncToken as a number (0 when missing or not numeric).
    pub fn sync_token(&self) -> u64 {
        self.value
            .get("SyncToken")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// A string field.
    pub fn str(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }

    /// `Active` (true when absent).
    pub fn active(&self) -> bool {
        self.value
            .get("Active")
            .and_then(Value::as_bool)
            .unwrap_or(true)
    }
}

/// A hard-deleted transaction, kept so that CDC can report it.
#[derive(Clone, Debug)]
pub(crate) struct Tombstone {
    /// Canonical entity name.
    pub entity: &'static str,
    /// Its Id.
    pub id: String,
    /// When it was deleted.
    pub at: DateTime<Utc>,
}

/// All objects of one entity type.
#[derive(Default, Debug)]
pub(crate) struct Table {
    records: BTreeMap<String, Record>,
    next_id: u64,
}

/// Orders Ids the way QBO lists them: numbers numerically, then other Ids (TAX, NON) by text.
pub(crate) fn id_order(id: &str) -> (u8, u64, String) {
    match id.parse::<u64>() {
        Ok(n) => (0, n, String::new()),
        Err(_) => (1, 0, id.to_string()),
    }
}

impl Table {
    /// The next free Id.
    pub fn allocate_id(&mut self) -> String {
        self.next_id = self.next_id.max(self.max_numeric_id()).saturating_add(1);
        self.next_id.to_string()
    }

    fn max_numeric_id(&self) -> u64 {
        self.records
            .keys()
            .filter_map(|k| k.parse::<u64>().ok())
            .max()
            .unwrap_or(0)
    }

    /// One record.
    pub fn get(&self, id: &str) -> Option<&Record> {
        self.records.get(id)
    }

    /// One record, mutable.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut Record> {
        self.records.get_mut(id)
    }

    /// Stores (or replaces) a record under its Id.
    pub fn put(&mut self, id: String, record: Record) {
        self.records.insert(id, record);
    }

    /// Removes a record.
    pub fn remove(&mut self, id: &str) -> Option<Record> {
        self.records.remove(id)
    }

    /// Every record, in Id order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Record)> {
        let mut all: Vec<_> = self.records.iter().collect();
        all.sort_by_key(|(id, _)| id_order(id));
        all.into_iter()
    }
}

/// One QBO company.
#[derive(Default, Debug)]
pub(crate) struct Company {
    tables: HashMap<&'static str, Table>,
    /// Deleted transactions, for CDC.
    pub tombstones: Vec<Tombstone>,
}

impl Company {
    /// The table of `entity` (created empty on first use).
    pub fn table(&mut self, entity: &'static str) -> &mut Table {
        self.tables.entry(entity).or_default()
    }

    /// One record of `entity`, if it exists.
    pub fn get(&self, entity: &str, id: &str) -> Option<&Record> {
        self.tables.get(entity).and_then(|t| t.get(id))
    }

    /// Every record of `entity`, in Id order.
    pub fn list(&self, entity: &str) -> Vec<(&String, &Record)> {
        self.tables
            .get(entity)
            .map(|t| t.iter().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_allocated_after_the_largest_numeric_id() {
        let mut table = Table::default();
        assert_eq!(table.allocate_id(), "1");
        table.put(
            "7".into(),
            Record {
                value: Map::new(),
                updated_at: Utc::now(),
                voided: false,
            },
        );
        assert_eq!(table.allocate_id(), "8");
        assert_eq!(table.allocate_id(), "9");
    }

    #[test]
    fn listing_orders_numeric_ids_numerically() {
        let mut table = Table::default();
        for id in ["10", "9", "TAX", "1"] {
            table.put(
                id.into(),
                Record {
                    value: Map::new(),
                    updated_at: Utc::now(),
                    voided: false,
                },
            );
        }
        let ids: Vec<_> = table.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["1", "9", "10", "TAX"]);
    }
}
