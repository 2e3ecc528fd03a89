//! Writes: create, update, delete and upsert with the validation the API applies (unknown
//! fields, read-only fields, types, lengths, references, required fields), the object rules of
//! `rules.rs`, and a change event for every change.
//!
//! The REST handlers, the collection and composite resources, and the Rust helpers
//! (`SalesforceEmulator::insert` / `update`) all come through here.

use super::errors::SfError;
use super::ids;
use super::org::Org;
use super::rules;
use super::schema::{FieldDef, SObjectDef, Schema};
use super::store::Record;
use super::values::{coerce, plain_text, Val};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Where a write came from: `changeOrigin` of its change event (empty for UI-like edits).
#[derive(Clone, Debug, Default)]
pub(crate) struct Origin {
    pub change_origin: String,
}

/// The outcome of an upsert.
#[derive(Debug)]
pub(crate) enum Upserted {
    /// No record matched: one was created.
    Created(String),
    /// One record matched and was updated.
    Updated(String),
    /// Several records matched: nothing was written (HTTP 300). The ids that matched.
    Multiple(Vec<String>),
}

impl Org {
    /// Who makes a change: the integration user through the API, the UI user otherwise.
    pub(crate) fn acting_user(&self, origin: &Origin) -> &str {
        if origin.change_origin.is_empty() {
            &self.ui_user_id
        } else {
            &self.user_id
        }
    }

    fn read_body(
        &self,
        def: &SObjectDef,
        body: &Value,
        creating: bool,
        own_id: Option<&str>,
    ) -> Result<BTreeMap<String, Val>, SfError> {
        let obj = body.as_object().ok_or_else(|| {
            SfError::json_parser(format!(
                "Cannot deserialize instance of {} from {} value",
                def.name,
                kind_of(body)
            ))
        })?;
        let mut out = BTreeMap::new();
        let mut read_only = Vec::new();
        for (key, value) in obj {
            if key == "attributes" {
                continue;
            }
            let field = def.field(key).ok_or_else(|| {
                SfError::invalid_field(format!(
                    "No such column '{key}' on sobject of type {}",
                    def.name
                ))
            })?;
            if field.name == "Id" {
                if let (Some(own), Some(given)) = (own_id, plain_text(value).and_then(ids::to_18)) {
                    if own == given {
                        continue;
                    }
                }
            }
            if (creating && !field.createable) || (!creating && !field.updateable) {
                read_only.push(field.name.clone());
                continue;
            }
            let val = coerce(field, value)?;
            let val = self.check_reference(field, val)?;
            out.insert(field.name.clone(), val);
        }
        if !read_only.is_empty() {
            return Err(SfError::new(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    read_only.join(", ")
                ),
            )
            .with_fields(read_only));
        }
        Ok(out)
    }

    /// Normalises a reference value to 18 characters and checks that it points at a live record
    /// of an allowed type.
    fn check_reference(&self, field: &FieldDef, val: Val) -> Result<Val, SfError> {
        let Val::Text(raw) = &val else { return Ok(val) };
        if !field.is_id() {
            return Ok(val);
        }
        let incorrect = || {
            SfError::new(
                400,
                "MALFORMED_ID",
                format!("{}: id value of incorrect type: {raw}", field.label),
            )
            .with_fields(vec![field.name.clone()])
        };
        let id = ids::to_18(raw).ok_or_else(incorrect)?;
        let target = self
            .schema
            .by_prefix(ids::prefix(&id))
            .ok_or_else(incorrect)?;
        if !field.reference_to.iter().any(|t| t == &target.name) {
            return Err(SfError::integrity(
                format!("{}: id value of incorrect type: {raw}", field.label),
                vec![field.name.clone()],
            ));
        }
        match self.store.get(&target.name, &id) {
            None => Err(SfError::new(
                400,
                "INVALID_CROSS_REFERENCE_KEY",
                format!("invalid cross reference id: {raw}"),
            )
            .with_fields(vec![field.name.clone()])),
            Some(r) if r.deleted_at.is_some() => {
                Err(SfError::new(400, "ENTITY_IS_DELETED", "entity is deleted")
                    .with_fields(vec![field.name.clone()]))
            }
            Some(_) => Ok(Val::Text(id)),
        }
    }

    fn check_unique(
        &self,
        def: &SObjectDef,
        fields: &BTreeMap<String, Val>,
        own_id: Option<&str>,
    ) -> Result<(), SfError> {
        for f in def.fields.iter().filter(|f| f.unique) {
            let Some(Val::Text(v)) = fields.get(&f.name) else {
                continue;
            };
            let clash = self.store.all(&def.name).find(|r| {
                r.deleted_at.is_none()
                    && Some(r.id.as_str()) != own_id
                    && r.fields
                        .get(&f.name)
                        .and_then(Val::as_text)
                        .is_some_and(|o| o.eq_ignore_ascii_case(v))
            });
            if let Some(other) = clash {
                return Err(SfError::new(
                    400,
                    "DUPLICATE_VALUE",
                    format!(
                        "duplicate value found: {} duplicates value on record with id: {}",
                        f.name, other.id
                    ),
                )
                .with_fields(vec![f.name.clone()]));
            }
        }
        Ok(())
    }

    /// Creates a record from a JSON body; returns its id.
    pub fn create(
        &mut self,
        sobject: &str,
        body: &Value,
        origin: &Origin,
    ) -> Result<String, SfError> {
        let schema = self.schema.clone();
        let def = sobject_def(&schema, sobject)?;
        let mut fields = self.read_body(def, body, true, None)?;
        let given: BTreeSet<String> = fields.keys().cloned().collect();
        for f in def.data_fields() {
            if fields.get(&f.name).is_none_or(Val::is_null) {
                if let Some(default) = &f.default {
                    fields.insert(f.name.clone(), coerce(f, default)?);
                } else if f.name == "OwnerId" {
                    fields.insert(f.name.clone(), Val::Text(self.acting_user(origin).into()));
                }
            }
        }
        let missing: Vec<String> = def
            .data_fields()
            .filter(|f| f.required && f.createable && fields.get(&f.name).is_none_or(Val::is_null))
            .map(|f| f.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(SfError::required_missing(missing));
        }
        rules::before_save(self, def, &mut fields, None, &given)?;
        fields.retain(|_, v| !v.is_null());
        self.check_unique(def, &fields, None)?;
        let id = self.store.ids.next(&def.key_prefix);
        let now = self.now;
        let record = Record {
            id: id.clone(),
            sobject: def.name.clone(),
            fields,
            created: now,
            modified: now,
            modstamp: now,
            user: self.acting_user(origin).into(),
            deleted_at: None,
        };
        self.store.put(record.clone());
        self.emit_create(def, &record, origin);
        rules::after_write(self, def, &record, None, origin)?;
        Ok(id)
    }

    /// Updates a live record from a JSON body.
    pub fn update(
        &mut self,
        sobject: &str,
        id: &str,
        body: &Value,
        origin: &Origin,
    ) -> Result<(), SfError> {
        let schema = self.schema.clone();
        let def = sobject_def(&schema, sobject)?;
        let id = ids::to_18(id).ok_or_else(SfError::not_found)?;
        let old = self.live(def, &id)?.clone();
        let changes = self.read_body(def, body, false, Some(&id))?;
        let given: BTreeSet<String> = changes.keys().cloned().collect();
        let mut fields = old.fields.clone();
        for (k, v) in changes {
            fields.insert(k, v);
        }
        let missing: Vec<String> = def
            .data_fields()
            .filter(|f| {
                f.required
                    && given.contains(&f.name)
                    && fields.get(&f.name).is_none_or(Val::is_null)
            })
            .map(|f| f.name.clone())
            .collect();
        if !missing.is_empty() {
            return Err(SfError::required_missing(missing));
        }
        rules::before_save(self, def, &mut fields, Some(&old), &given)?;
        fields.retain(|_, v| !v.is_null());
        self.check_unique(def, &fields, Some(&id))?;
        let mut record = old.clone();
        record.fields = fields;
        record.modified = self.now;
        record.modstamp = self.now;
        record.user = self.acting_user(origin).into();
        self.store.put(record.clone());
        self.emit_update(def, &old, &record, origin);
        rules::after_write(self, def, &record, Some(&old), origin)?;
        Ok(())
    }

    /// A change made by the system (roll-ups): no validation, bumps the modstamps, emits an
    /// UPDATE event when something changed.
    pub fn system_update(
        &mut self,
        sobject: &str,
        id: &str,
        changes: BTreeMap<String, Val>,
        origin: &Origin,
    ) {
        let schema = self.schema.clone();
        let Ok(def) = sobject_def(&schema, sobject) else {
            return;
        };
        let Some(old) = self.store.live(&def.name, id).cloned() else {
            return;
        };
        let mut record = old.clone();
        for (k, v) in changes {
            if v.is_null() {
                record.fields.remove(&k);
            } else {
                record.fields.insert(k, v);
            }
        }
        if record.fields == old.fields {
            return;
        }
        record.modified = self.now;
        record.modstamp = self.now;
        self.store.put(record.clone());
        self.emit_update(def, &old, &record, origin);
    }

    fn live<'a>(&'a self, def: &SObjectDef, id: &str) -> Result<&'a Record, SfError> {
        match self.store.get(&def.name, id) {
            Some(r) if r.deleted_at.is_none() => Ok(r),
            Some(_) => Err(SfError::new(404, "ENTITY_IS_DELETED", "entity is deleted")),
            None => Err(SfError::not_found()),
        }
    }

    /// Deletes a live record (to the recycle bin), cascading to master-detail children.
    pub fn delete(&mut self, sobject: &str, id: &str, origin: &Origin) -> Result<(), SfError> {
        let schema = self.schema.clone();
        let def = sobject_def(&schema, sobject)?;
        let id = ids::to_18(id).ok_or_else(SfError::not_found)?;
        let old = self.live(def, &id)?.clone();
        rules::before_delete(self, def, &old)?;
        for rel in def.children.iter().filter(|c| c.cascade_delete) {
            let kids: Vec<String> = self
                .store
                .children_of(&rel.child, &rel.field, &id)
                .map(|r| r.id.clone())
                .collect();
            for kid in kids {
                self.mark_deleted(&rel.child, &kid, origin);
            }
        }
        self.mark_deleted(&def.name, &id, origin);
        rules::after_delete(self, def, &old, origin);
        Ok(())
    }

    fn mark_deleted(&mut self, sobject: &str, id: &str, origin: &Origin) {
        self.store.mark_deleted(sobject, id, self.now);
        self.emit_delete(sobject, id, origin);
    }

    /// Ids of live records whose external-id field `field` equals `value` (case-insensitive), or
    /// 404 NOT_FOUND when `field` is not an external id of `sobject`.
    pub fn find_by_external(
        &self,
        sobject: &str,
        field: &str,
        value: &str,
    ) -> Result<(String, Vec<String>), SfError> {
        let schema = self.schema.clone();
        let def = sobject_def(&schema, sobject)?;
        let f = def
            .field(field)
            .filter(|f| f.external_id || f.name == "Id")
            .ok_or_else(|| {
                SfError::new(
                    404,
                    "NOT_FOUND",
                    format!(
                        "Provided external ID field does not exist or is not accessible: {field}"
                    ),
                )
            })?;
        if f.name == "Id" {
            let hits = ids::to_18(value)
                .filter(|id| self.store.live(&def.name, id).is_some())
                .into_iter()
                .collect();
            return Ok((f.name.clone(), hits));
        }
        let hits = self
            .store
            .all(&def.name)
            .filter(|r| {
                r.deleted_at.is_none()
                    && r.fields
                        .get(&f.name)
                        .and_then(Val::as_text)
                        .is_some_and(|v| v.eq_ignore_ascii_case(value))
            })
            .map(|r| r.id.clone())
            .collect();
        Ok((f.name.clone(), hits))
    }

    /// Upsert by external id: create when nothing matches (unless `update_only`), update the one
    /// match, or report several matches.
    pub fn upsert(
        &mut self,
        sobject: &str,
        field: &str,
        value: &str,
        body: &Value,
        update_only: bool,
        origin: &Origin,
    ) -> Result<Upserted, SfError> {
        let (field, hits) = self.find_by_external(sobject, field, value)?;
        let mut body = body.clone();
        match hits.len() {
            0 if update_only => Err(SfError::not_found()),
            0 => {
                if let Some(obj) = body.as_object_mut() {
                    obj.retain(|k, _| !k.eq_ignore_ascii_case(&field));
                    if field != "Id" {
                        obj.insert(field.clone(), Value::String(value.to_string()));
                    }
                }
                self.create(sobject, &body, origin).map(Upserted::Created)
            }
            1 => {
                if let Some(obj) = body.as_object_mut() {
                    obj.retain(|k, v| {
                        !(k.eq_ignore_ascii_case(&field)
                            && plain_text(v).is_some_and(|s| s.eq_ignore_ascii_case(value)))
                    });
                }
                self.update(sobject, &hits[0], &body, origin)?;
                Ok(Upserted::Updated(hits[0].clone()))
            }
            _ => Ok(Upserted::Multiple(hits)),
        }
    }
}

/// The sObject called `name` (any case), or 404 NOT_FOUND.
pub(crate) fn sobject_def<'s>(schema: &'s Schema, name: &str) -> Result<&'s SObjectDef, SfError> {
    schema.object(name).ok_or_else(SfError::not_found)
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Array(_) => "START_ARRAY",
        Value::String(_) => "VALUE_STRING",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(_) => "VALUE_TRUE",
        Value::Null => "VALUE_NULL",
        Value::Object(_) => "START_OBJECT",
    }
}
