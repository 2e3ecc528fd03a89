//! `wasi:keyvalue/store@0.2.0-draft` for the guest, namespaced per tenant: the guest chooses a
//! bucket name, the host prefixes it with the tenant id, so no tenant can name another's keys.
//! Backends are swappable: the durable ones over the host's store, [`sqlite::SqliteBackend`]
//! and [`postgres::PostgresBackend`] ([`backend_for`] picks the store's), and
//! [`memory::MemoryBackend`].

pub mod fenced;
pub mod memory;
pub mod postgres;
pub mod sqlite;

use crate::db::{Backend, Database};
use anyhow::Result;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker, Resource, ResourceTable};

#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        inline: "
            package ledgerlink:host-storage;
            world storage {
                import wasi:keyvalue/store@0.2.0-draft;
            }
        ",
        imports: { default: trappable },
        with: {
            "wasi:keyvalue/store.bucket": crate::caps::storage::BucketHandle,
        },
    });
}

/// The generated `wasi:keyvalue/store` interface; the runtime's world bindings reuse it (`with`).
pub use self::generated::wasi::keyvalue::store as bindings;
use bindings as kv;

/// Maximum key length and value size the guest may store.
pub const MAX_KEY_BYTES: usize = 1024;
/// Maximum value size.
pub const MAX_VALUE_BYTES: usize = 4 << 20;
/// Keys returned per `list-keys` page.
pub const LIST_PAGE: usize = 1000;

/// A backend storing bytes under (tenant, bucket, key).
pub trait KeyValueBackend: Send + Sync {
    /// The value, if present.
    fn get(&self, tenant: &str, bucket: &str, key: &str) -> Result<Option<Vec<u8>>>;
    /// Stores a value (durably, for durable backends, before returning).
    fn set(&self, tenant: &str, bucket: &str, key: &str, value: &[u8]) -> Result<()>;
    /// Removes a key; absent keys are fine.
    fn delete(&self, tenant: &str, bucket: &str, key: &str) -> Result<()>;
    /// Whether the key exists.
    fn exists(&self, tenant: &str, bucket: &str, key: &str) -> Result<bool> {
        Ok(self.get(tenant, bucket, key)?.is_some())
    }
    /// One page of keys in key order from `cursor` (an offset), and the next cursor.
    fn list_keys(
        &self,
        tenant: &str,
        bucket: &str,
        cursor: u64,
    ) -> Result<(Vec<String>, Option<u64>)>;
    /// Stores a value only while `fence` is the tenant's current hold, checked in the same
    /// statement as the write; false (nothing written) when another host holds the tenant now.
    fn set_fenced(
        &self,
        tenant: &str,
        bucket: &str,
        key: &str,
        value: &[u8],
        fence: &Fence,
    ) -> Result<bool> {
        let _ = (tenant, bucket, key, value, fence);
        anyhow::bail!("this key-value backend cannot check a fencing token")
    }
    /// Removes a key only while `fence` is the tenant's current hold; false (nothing removed)
    /// when another host holds the tenant now.
    fn delete_fenced(&self, tenant: &str, bucket: &str, key: &str, fence: &Fence) -> Result<bool> {
        let _ = (tenant, bucket, key, fence);
        anyhow::bail!("this key-value backend cannot check a fencing token")
    }
}

/// A host's hold on a tenant, as a write that must not outlive it carries it
/// ([`crate::cluster`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The host's id.
    pub host: String,
    /// The fencing token of its hold.
    pub token: i64,
}

/// The durable backend over `db`: the tenants' buckets in the store's `kv` table.
pub fn backend_for(db: &Database) -> Arc<dyn KeyValueBackend> {
    match db.backend() {
        Backend::Sqlite(_) => Arc::new(sqlite::SqliteBackend::new(db.clone())),
        Backend::Postgres(pg) => Arc::new(postgres::PostgresBackend::new(pg.clone())),
    }
}

/// An open bucket, as the guest holds it.
pub struct BucketHandle {
    name: String,
}

fn valid_bucket(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

fn other(e: impl std::fmt::Display) -> kv::Error {
    kv::Error::Other(e.to_string())
}

/// What a guest call sees of storage: the open buckets (in the store's resource table) and the
/// tenant's backend, under the tenant's id.
pub struct StorageView<'a> {
    table: &'a mut ResourceTable,
    backend: &'a dyn KeyValueBackend,
    tenant: &'a str,
}

impl<'a> StorageView<'a> {
    /// A view of `backend` for `tenant`, its buckets kept in `table`.
    pub fn new(
        table: &'a mut ResourceTable,
        backend: &'a dyn KeyValueBackend,
        tenant: &'a str,
    ) -> Self {
        Self {
            table,
            backend,
            tenant,
        }
    }
}

impl kv::Host for StorageView<'_> {
    fn open(
        &mut self,
        identifier: String,
    ) -> wasmtime::Result<Result<Resource<BucketHandle>, kv::Error>> {
        if !valid_bucket(&identifier) {
            return Ok(Err(kv::Error::Other(format!(
                "bucket name {identifier:?} must be 1-128 characters of letters, digits, '-', '_' or '.'"
            ))));
        }
        Ok(Ok(self.table.push(BucketHandle { name: identifier })?))
    }
}

impl kv::HostBucket for StorageView<'_> {
    fn get(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<Option<Vec<u8>>, kv::Error>> {
        let name = self.table.get(&bucket)?.name.clone();
        Ok(self.backend.get(self.tenant, &name, &key).map_err(other))
    }

    fn set(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
        value: Vec<u8>,
    ) -> wasmtime::Result<Result<(), kv::Error>> {
        if key.len() > MAX_KEY_BYTES {
            return Ok(Err(kv::Error::Other(format!(
                "key is {} bytes; the limit is {MAX_KEY_BYTES}",
                key.len()
            ))));
        }
        if value.len() > MAX_VALUE_BYTES {
            return Ok(Err(kv::Error::Other(format!(
                "value of {key:?} is {} bytes; the limit is {MAX_VALUE_BYTES}",
                value.len()
            ))));
        }
        let name = self.table.get(&bucket)?.name.clone();
        Ok(self
            .backend
            .set(self.tenant, &name, &key, &value)
            .map_err(other))
    }

    fn delete(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<(), kv::Error>> {
        let name = self.table.get(&bucket)?.name.clone();
        Ok(self.backend.delete(self.tenant, &name, &key).map_err(other))
    }

    fn exists(
        &mut self,
        bucket: Resource<BucketHandle>,
        key: String,
    ) -> wasmtime::Result<Result<bool, kv::Error>> {
        let name = self.table.get(&bucket)?.name.clone();
        Ok(self.backend.exists(self.tenant, &name, &key).map_err(other))
    }

    fn list_keys(
        &mut self,
        bucket: Resource<BucketHandle>,
        cursor: Option<u64>,
    ) -> wasmtime::Result<Result<kv::KeyResponse, kv::Error>> {
        let name = self.table.get(&bucket)?.name.clone();
        Ok(self
            .backend
            .list_keys(self.tenant, &name, cursor.unwrap_or(0))
            .map(|(keys, cursor)| kv::KeyResponse { keys, cursor })
            .map_err(other))
    }

    fn drop(&mut self, bucket: Resource<BucketHandle>) -> wasmtime::Result<()> {
        self.table.delete(bucket)?;
        Ok(())
    }
}

/// Adds `wasi:keyvalue/store` to `linker`; `get` gives the calling store's view.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> StorageView<'_>,
) -> wasmtime::Result<()> {
    kv::add_to_linker::<T, HasStorage>(linker, get)
}

struct HasStorage;

impl HasData for HasStorage {
    type Data<'a> = StorageView<'a>;
}
