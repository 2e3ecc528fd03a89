//! In-memory storage of one company (realm): a table per entity, deletion tombstones for CDC, and
//! per-entity Id counters. Objects are stored as the JSON QBO returns for them; a few derived
//! fields (Customer.Balance) are added when rendering. Tables are kept in Id order, with the
//! look-ups (`By`) that the write rules and common queries need, so that no write scans a table.

use super::fields::ref_id;
use super::transactions::{linked_credit_memos, linked_invoices};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

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

/// Orders Ids the way QBO lists them: numbers numerically, then other Ids (TAX, NON) by text.
/// Two spellings of one number ("07", "7") follow each other by text. A table is kept in this
/// order, so that listing it needs no sort.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct IdKey {
    /// 0 for numeric Ids, 1 for the others.
    rank: u8,
    number: u64,
    text: String,
}

impl IdKey {
    pub fn new(id: &str) -> Self {
        match id.parse::<u64>() {
            Ok(number) => Self {
                rank: 0,
                number,
                text: id.to_string(),
            },
            Err(_) => Self {
                rank: 1,
                number: 0,
                text: id.to_string(),
            },
        }
    }

    /// The smallest non-numeric Id: every numeric Id sorts before it.
    fn first_text() -> Self {
        Self {
            rank: 1,
            number: 0,
            text: String::new(),
        }
    }

    /// The Id as written.
    pub fn text(&self) -> &String {
        &self.text
    }

    /// A number written the way the emulator allocates them (not "07", "+7" or "TAX").
    fn is_plain_number(&self) -> bool {
        self.rank == 0 && self.number.to_string() == self.text
    }
}

/// The look-ups a table keeps up to date, so that the rules and queries that need them do not
/// scan the whole table on every write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum By {
    /// `Name`, trimmed and ASCII-lowercased (how the uniqueness rule compares names).
    Name,
    /// `DisplayName`, likewise.
    DisplayName,
    /// A string `DocNumber`, lowercased (how a query compares text).
    DocNumber,
    /// A `DocNumber` that is a number, zero-padded so that the key order is the numeric order.
    NumericDocNumber,
    /// The `CustomerRef` Id.
    Customer,
    /// The Ids of the invoices a payment's lines apply to.
    PaidInvoice,
    /// The Ids of the credit memos whose credit a payment's lines use.
    UsedCredit,
}

impl By {
    /// The keys of one object.
    fn keys(self, value: &Map<String, Value>) -> Vec<String> {
        let text = |key: &str| value.get(key).and_then(Value::as_str);
        let key = match self {
            By::Name => text("Name").map(|n| n.trim().to_ascii_lowercase()),
            By::DisplayName => text("DisplayName").map(|n| n.trim().to_ascii_lowercase()),
            By::DocNumber => text("DocNumber").map(str::to_lowercase),
            By::NumericDocNumber => text("DocNumber")
                .and_then(|d| d.parse::<u64>().ok())
                .map(|n| format!("{n:020}")),
            By::Customer => ref_id(value, "CustomerRef"),
            By::PaidInvoice => {
                return linked_invoices(value)
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect()
            }
            By::UsedCredit => {
                return linked_credit_memos(value)
                    .into_iter()
                    .map(|(id, _)| id)
                    .collect()
            }
        };
        key.into_iter().collect()
    }

    /// The look-ups kept for `entity`: what its uniqueness rules, DocNumber numbering, customer
    /// balances and payment arithmetic ask for.
    fn kept_for(entity: &str) -> &'static [By] {
        match entity {
            "Customer" | "Vendor" | "Employee" => &[By::DisplayName],
            "Item" | "Account" | "Department" | "Class" | "Term" => &[By::Name],
            "Invoice" | "CreditMemo" | "RefundReceipt" => {
                &[By::DocNumber, By::NumericDocNumber, By::Customer]
            }
            "Payment" => &[By::PaidInvoice, By::UsedCredit],
            _ => &[],
        }
    }
}

/// Record Ids by one key, in Id order.
#[derive(Debug)]
struct Index {
    by: By,
    ids: BTreeMap<String, BTreeSet<IdKey>>,
    /// How many records have no key.
    unkeyed: usize,
}

impl Index {
    fn insert(&mut self, id: &IdKey, value: &Map<String, Value>) {
        let keys = self.by.keys(value);
        if keys.is_empty() {
            self.unkeyed += 1;
        }
        for key in keys {
            self.ids.entry(key).or_default().insert(id.clone());
        }
    }

    fn remove(&mut self, id: &IdKey, value: &Map<String, Value>) {
        let keys = self.by.keys(value);
        if keys.is_empty() {
            self.unkeyed -= 1;
        }
        for key in keys {
            if let Some(ids) = self.ids.get_mut(&key) {
                ids.remove(id);
                if ids.is_empty() {
                    self.ids.remove(&key);
                }
            }
        }
    }
}

/// All objects of one entity type.
#[derive(Default, Debug)]
pub(crate) struct Table {
    records: BTreeMap<IdKey, Record>,
    next_id: u64,
    indexes: Vec<Index>,
    /// Ids that are not plain numbers ("TAX", "07"): an `Id` query cannot find them by number.
    odd_ids: BTreeSet<IdKey>,
}

impl Table {
    /// An empty table keeping the look-ups `kept`.
    fn keeping(kept: &[By]) -> Self {
        Self {
            indexes: kept
                .iter()
                .map(|&by| Index {
                    by,
                    ids: BTreeMap::new(),
                    unkeyed: 0,
                })
                .collect(),
            ..Self::default()
        }
    }

    /// The next free Id.
    pub fn allocate_id(&mut self) -> String {
        self.next_id = self.next_id.max(self.max_numeric_id()).saturating_add(1);
        self.next_id.to_string()
    }

    fn max_numeric_id(&self) -> u64 {
        // Numeric Ids come first, in numeric order: the largest is the last of them.
        self.records
            .range(..IdKey::first_text())
            .next_back()
            .map_or(0, |(k, _)| k.number)
    }

    /// One record.
    pub fn get(&self, id: &str) -> Option<&Record> {
        self.records.get(&IdKey::new(id))
    }

    /// One record, with its key.
    pub fn get_keyed(&self, id: &str) -> Option<(&IdKey, &Record)> {
        self.records.get_key_value(&IdKey::new(id))
    }

    /// Stores (or replaces) a record under its Id.
    pub fn put(&mut self, id: String, record: Record) {
        let key = IdKey::new(&id);
        let old = self.records.remove(&key);
        for index in &mut self.indexes {
            if let Some(old) = &old {
                index.remove(&key, &old.value);
            }
            index.insert(&key, &record.value);
        }
        if !key.is_plain_number() {
            self.odd_ids.insert(key.clone());
        }
        self.records.insert(key, record);
    }

    /// Removes a record.
    pub fn remove(&mut self, id: &str) -> Option<Record> {
        let key = IdKey::new(id);
        let record = self.records.remove(&key)?;
        for index in &mut self.indexes {
            index.remove(&key, &record.value);
        }
        self.odd_ids.remove(&key);
        Some(record)
    }

    /// Every record, in Id order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &Record)> {
        self.records.iter().map(|(k, r)| (&k.text, r))
    }

    fn index(&self, by: By) -> Option<&Index> {
        self.indexes.iter().find(|i| i.by == by)
    }

    /// The records whose `by` key is `key`, in Id order.
    pub fn find<'t>(&'t self, by: By, key: &str) -> impl Iterator<Item = (&'t String, &'t Record)> {
        self.find_keyed(by, key).map(|(k, r)| (&k.text, r))
    }

    /// Like [`Table::find`], with the keys.
    pub fn find_keyed<'t>(
        &'t self,
        by: By,
        key: &str,
    ) -> Box<dyn Iterator<Item = (&'t IdKey, &'t Record)> + 't> {
        match self.index(by) {
            Some(index) => Box::new(
                index
                    .ids
                    .get(key)
                    .into_iter()
                    .flatten()
                    .filter_map(|k| self.records.get_key_value(k)),
            ),
            // Not kept for this entity: the same answer, the slow way.
            None => {
                let key = key.to_string();
                Box::new(
                    self.records
                        .iter()
                        .filter(move |(_, r)| by.keys(&r.value).contains(&key)),
                )
            }
        }
    }

    /// The largest `by` key held by a record other than `except`.
    pub fn largest_key(&self, by: By, except: &str) -> Option<String> {
        let others = |ids: &BTreeSet<IdKey>| ids.iter().any(|k| k.text != except);
        match self.index(by) {
            Some(index) => index
                .ids
                .iter()
                .rev()
                .find(|(_, ids)| others(ids))
                .map(|(key, _)| key.clone()),
            None => self
                .iter()
                .filter(|(id, _)| id.as_str() != except)
                .flat_map(|(_, r)| by.keys(&r.value))
                .max(),
        }
    }

    /// How many records have no `by` key (None when the look-up is not kept).
    pub fn unkeyed(&self, by: By) -> Option<usize> {
        self.index(by).map(|i| i.unkeyed)
    }

    /// The records whose Ids are not plain numbers ("TAX", "07"), in Id order.
    pub fn odd_ids(&self) -> impl Iterator<Item = (&IdKey, &Record)> {
        self.odd_ids
            .iter()
            .filter_map(|k| self.records.get_key_value(k))
    }
}

/// One QBO company.
#[derive(Default, Debug)]
pub(crate) struct Company {
    tables: HashMap<&'static str, Table>,
    /// Deleted transactions, for CDC.
    pub tombstones: Vec<Tombstone>,
    /// The company's country, currency and tax set-up.
    pub profile: std::sync::Arc<super::profile::CompanyProfile>,
    /// How many occurrences each RecurringTransaction (by Id) has generated so far.
    pub recurring_runs: HashMap<String, u32>,
}

impl Company {
    /// An empty company with `profile`.
    pub fn with_profile(profile: super::profile::CompanyProfile) -> Self {
        Self {
            profile: std::sync::Arc::new(profile),
            ..Self::default()
        }
    }

    /// The table of `entity` (created empty on first use).
    pub fn table(&mut self, entity: &'static str) -> &mut Table {
        self.tables
            .entry(entity)
            .or_insert_with(|| Table::keeping(By::kept_for(entity)))
    }

    /// The table of `entity`, if it has one.
    pub fn get_table(&self, entity: &str) -> Option<&Table> {
        self.tables.get(entity)
    }

    /// One record of `entity`, if it exists.
    pub fn get(&self, entity: &str, id: &str) -> Option<&Record> {
        self.tables.get(entity).and_then(|t| t.get(id))
    }

    /// Every record of `entity`, in Id order.
    pub fn list(&self, entity: &str) -> impl Iterator<Item = (&String, &Record)> {
        self.tables.get(entity).into_iter().flat_map(Table::iter)
    }

    /// The records of `entity` whose `by` key is `key`, in Id order.
    pub fn find<'c>(
        &'c self,
        entity: &str,
        by: By,
        key: &str,
    ) -> impl Iterator<Item = (&'c String, &'c Record)> + 'c {
        self.tables
            .get(entity)
            .map(|t| t.find(by, key))
            .into_iter()
            .flatten()
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

    fn record(value: serde_json::Value) -> Record {
        Record {
            value: value.as_object().cloned().unwrap_or_default(),
            updated_at: Utc::now(),
            voided: false,
        }
    }

    #[test]
    fn spellings_of_one_number_are_listed_by_text() {
        let mut table = Table::default();
        for id in ["7", "+7", "07", "10", "NON"] {
            table.put(id.into(), record(serde_json::json!({})));
        }
        let ids: Vec<_> = table.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(ids, ["+7", "07", "7", "10", "NON"]);
        let odd: Vec<_> = table.odd_ids().map(|(k, _)| k.text().as_str()).collect();
        assert_eq!(odd, ["+7", "07", "NON"]);
    }

    #[test]
    fn allocation_follows_the_ids_stored_now() {
        // As a scan of the keys would: a removed Id that was never allocated is not counted.
        let mut table = Table::default();
        table.put("7".into(), record(serde_json::json!({})));
        table.remove("7");
        assert_eq!(table.allocate_id(), "1");
        table.put("TAX".into(), record(serde_json::json!({})));
        assert_eq!(table.allocate_id(), "2");
    }

    #[test]
    fn look_ups_follow_replacements_and_removals() {
        let mut company = Company::default();
        let invoices = company.table("Invoice");
        let invoice = |doc: &str, customer: &str| {
            record(serde_json::json!({"DocNumber": doc, "CustomerRef": {"value": customer}}))
        };
        invoices.put("2".into(), invoice("SF-1", "5"));
        invoices.put("10".into(), invoice("sf-1", "5"));
        invoices.put("3".into(), invoice("1005", "6"));
        let found = |c: &Company, by: By, key: &str| -> Vec<String> {
            c.find("Invoice", by, key)
                .map(|(id, _)| id.clone())
                .collect()
        };
        assert_eq!(found(&company, By::DocNumber, "sf-1"), ["2", "10"]);
        assert_eq!(found(&company, By::Customer, "5"), ["2", "10"]);
        let largest = |c: &Company, except: &str| {
            c.get_table("Invoice")
                .and_then(|t| t.largest_key(By::NumericDocNumber, except))
        };
        assert_eq!(
            largest(&company, "2").as_deref(),
            Some("00000000000000001005")
        );
        assert_eq!(largest(&company, "3"), None);

        let invoices = company.table("Invoice");
        invoices.put("2".into(), invoice("77", "6"));
        invoices.remove("3");
        assert_eq!(found(&company, By::DocNumber, "sf-1"), ["10"]);
        assert_eq!(found(&company, By::Customer, "6"), ["2"]);
        assert_eq!(
            largest(&company, "10").as_deref(),
            Some("00000000000000000077")
        );
        let table = company.get_table("Invoice").unwrap();
        assert_eq!(table.unkeyed(By::DocNumber), Some(0));
        assert_eq!(table.unkeyed(By::PaidInvoice), None);
    }

    #[test]
    fn a_look_up_not_kept_gives_the_same_answer() {
        let mut table = Table::default();
        table.put("4".into(), record(serde_json::json!({"Name": " Hours "})));
        table.put("3".into(), record(serde_json::json!({"Name": "HOURS"})));
        let ids: Vec<_> = table
            .find(By::Name, "hours")
            .map(|(id, _)| id.clone())
            .collect();
        assert_eq!(ids, ["3", "4"]);
    }
}
