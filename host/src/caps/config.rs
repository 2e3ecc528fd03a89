//! `wasi:config/store@0.2.0-rc.1`: the tenant's settings (realm id, stage names, GL accounts,
//! field rules), read-only to the guest. Secrets are never settings: they stay in the host.

use crate::runtime::wasi_config_store as config;
use crate::runtime::HostState;

impl config::Host for HostState {
    fn get(&mut self, key: String) -> wasmtime::Result<Result<Option<String>, config::Error>> {
        Ok(Ok(self.tenant.settings.get(&key).cloned()))
    }

    fn get_all(&mut self) -> wasmtime::Result<Result<Vec<(String, String)>, config::Error>> {
        Ok(Ok(self
            .tenant
            .settings
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()))
    }
}
