//! The emulated org: everything behind the API, guarded by one lock. Each request takes the
//! lock, stamps [`Org::now`] from the emulator clock, and works on a consistent view.

use super::change_events::EventLog;
use super::limits::Usage;
use super::oauth::Sessions;
use super::query::Cursors;
use super::schema::{FieldType, Schema};
use super::store::{Record, Store};
use super::values::Val;
use super::SalesforceConfig;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::Arc;

/// State of the emulated org.
pub(crate) struct Org {
    pub config: SalesforceConfig,
    pub schema: Arc<Schema>,
    pub store: Store,
    pub sessions: Sessions,
    pub usage: Usage,
    pub events: EventLog,
    pub cursors: Cursors,
    /// 18-character organization id (`00D...`).
    pub org_id: String,
    /// The integration user every API session runs as (`005...`): the connected app's
    /// "Run As" user of the client-credentials flow.
    pub user_id: String,
    /// The person who edits records in the org's UI (and through the emulator's in-process API):
    /// the commit user of every change that did not come through the API.
    pub ui_user_id: String,
    /// The standard price book (`01s...`).
    pub standard_pricebook: String,
    /// "Now" for the current request, from the emulator clock.
    pub now: DateTime<Utc>,
    /// When the org started (bounds the replication windows).
    pub started: DateTime<Utc>,
}

/// What an all-or-none operation rolls back to.
pub(crate) struct Snapshot {
    store: Store,
    events: usize,
}

impl Org {
    pub fn new(config: SalesforceConfig, mut schema: Schema, now: DateTime<Utc>) -> Self {
        if let Some(c) = &config.currencies {
            schema.add_currencies(&c.active_codes(), &c.corporate, c.advanced);
        }
        let reference_fields = schema
            .objects()
            .map(|o| {
                (
                    o.name.clone(),
                    o.fields
                        .iter()
                        .filter(|f| f.field_type == FieldType::Reference)
                        .map(|f| f.name.clone())
                        .collect(),
                )
            })
            .collect();
        let mut store = Store::new(config.seed, reference_fields);
        let org_id = store.ids.next("00D");
        let user_id = store.ids.next("005");
        let pricebook = store.ids.next("01s");
        let mut user_fields = BTreeMap::new();
        for (k, v) in [
            ("Username", "integration@ledgerlink.example"),
            ("FirstName", "Integration"),
            ("LastName", "User"),
            ("Name", "Integration User"),
            ("Alias", "integ"),
            ("Email", "integration@ledgerlink.example"),
        ] {
            user_fields.insert(k.to_string(), Val::Text(v.to_string()));
        }
        user_fields.insert("IsActive".into(), Val::Bool(true));
        let mut pb_fields = BTreeMap::new();
        pb_fields.insert("Name".to_string(), Val::Text("Standard Price Book".into()));
        pb_fields.insert("IsActive".to_string(), Val::Bool(true));
        pb_fields.insert("IsStandard".to_string(), Val::Bool(true));
        for (sobject, id, fields) in [
            ("User", &user_id, user_fields),
            ("Pricebook2", &pricebook, pb_fields),
        ] {
            store.put(Record {
                id: id.clone(),
                sobject: sobject.into(),
                fields,
                created: now,
                modified: now,
                modstamp: now,
                user: user_id.clone(),
                deleted_at: None,
            });
        }
        // From a generator of its own, so that adding this user shifts no other id.
        let ui_user_id = super::ids::IdGen::new(config.seed.wrapping_add(1)).next("005");
        let mut ui_fields = BTreeMap::new();
        for (k, v) in [
            ("Username", "sales@ledgerlink.example"),
            ("FirstName", "Sales"),
            ("LastName", "Rep"),
            ("Name", "Sales Rep"),
            ("Alias", "srep"),
            ("Email", "sales@ledgerlink.example"),
        ] {
            ui_fields.insert(k.to_string(), Val::Text(v.to_string()));
        }
        ui_fields.insert("IsActive".into(), Val::Bool(true));
        store.put(Record {
            id: ui_user_id.clone(),
            sobject: "User".into(),
            fields: ui_fields,
            created: now,
            modified: now,
            modstamp: now,
            user: user_id.clone(),
            deleted_at: None,
        });
        if let Some(c) = &config.currencies {
            c.seed(&mut store, config.seed, &user_id, now);
            // The records made here have the corporate currency, as new records do.
            let code = Val::Text(c.corporate.clone());
            for (sobject, id) in [
                ("User", &user_id),
                ("User", &ui_user_id),
                ("Pricebook2", &pricebook),
            ] {
                if let Some(mut r) = store.get(sobject, id).cloned() {
                    r.fields.insert("CurrencyIsoCode".into(), code.clone());
                    store.put(r);
                }
            }
        }
        let sessions = Sessions::new(config.seed);
        Self {
            events: EventLog::new(),
            usage: Usage::default(),
            cursors: Cursors::default(),
            schema: Arc::new(schema),
            store,
            sessions,
            org_id,
            user_id,
            ui_user_id,
            standard_pricebook: pricebook,
            now,
            started: now,
            config,
        }
    }

    /// Saves the records and events, for an all-or-none rollback.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            store: self.store.clone(),
            events: self.events.count(),
        }
    }

    /// Rolls back to `snap`. Ids handed out meanwhile are not reused.
    pub fn restore(&mut self, snap: Snapshot) {
        let ids = self.store.ids.clone();
        let autonumbers = self.store.autonumbers.clone();
        self.store = snap.store;
        self.store.ids = ids;
        self.store.autonumbers = autonumbers;
        self.events.truncate(snap.events);
    }
}
