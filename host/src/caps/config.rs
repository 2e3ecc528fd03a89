//! `wasi:config/store@0.2.0-rc.1`: the tenant's settings (realm id, stage names, GL accounts,
//! field rules), read-only to the guest. Secrets are never settings: they stay in the host.

use std::collections::BTreeMap;
use std::sync::Arc;
use wasmtime::component::{HasData, Linker};

#[allow(missing_docs)]
mod generated {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "wasi:config/imports",
        imports: { default: trappable },
    });
}

/// The generated `wasi:config/store` interface; the runtime's world bindings reuse it (`with`).
pub use self::generated::wasi::config::store as bindings;

/// A tenant's settings, shared by every call of the tenant.
pub type Settings = Arc<BTreeMap<String, String>>;

/// What a guest call sees of the settings.
pub struct ConfigView<'a> {
    settings: &'a BTreeMap<String, String>,
}

impl<'a> ConfigView<'a> {
    /// A view of `settings`.
    pub fn new(settings: &'a BTreeMap<String, String>) -> Self {
        Self { settings }
    }
}

impl bindings::Host for ConfigView<'_> {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, bindings::Error>> {
        Ok(Ok(self.settings.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, bindings::Error>> {
        Ok(Ok(self
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))
    }
}

/// Adds `wasi:config/store` to `linker`; `get` gives the calling store's view.
pub fn add_to_linker<T: 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> ConfigView<'_>,
) -> wasmtime::Result<()> {
    bindings::add_to_linker::<T, HasConfig>(linker, get)
}

struct HasConfig;

impl HasData for HasConfig {
    type Data<'a> = ConfigView<'a>;
}
