//! Calling an export by name with JSON (see [`super::dynamic`] for the JSON mapping).

use super::dynamic::{from_val, to_val, unwrap_input};
use super::Runtime;
use crate::tenant::TenantCaps;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use wasmtime::component::Val;

/// The interfaces whose functions `ledgerlink call` may invoke.
pub const MAPPING_INTERFACE: &str = "ledgerlink:sync/mapping@0.1.0";

/// The names of the mapping functions, as the WIT declares them.
pub const MAPPING_FUNCTIONS: [&str; 8] = [
    "map-account",
    "map-customer",
    "map-product",
    "build-invoice",
    "apply-payment",
    "build-journal-entry",
    "age-invoices",
    "reconcile",
];

impl Runtime {
    /// Calls `function` of the mapping interface with `input` and returns its result as JSON
    /// (`{"ok": ..}` or `{"err": ..}`). Unknown functions and ill-typed input are errors.
    pub async fn call_json(
        &self,
        tenant: &TenantCaps,
        function: &str,
        input: &Value,
    ) -> Result<Value> {
        if !MAPPING_FUNCTIONS.contains(&function) {
            bail!(
                "unknown function {function:?}; the mapping functions are: {}",
                MAPPING_FUNCTIONS.join(", ")
            );
        }
        let mut store =
            wasmtime::Store::new(self.engine(), super::HostState::new(tenant, self.limits()));
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(self.limits().deadline_ticks());
        store.epoch_deadline_trap();
        let instance = self.instance_pre().instantiate_async(&mut store).await?;
        let iface = instance
            .get_export_index(&mut store, None, MAPPING_INTERFACE)
            .ok_or_else(|| anyhow!("the component does not export {MAPPING_INTERFACE}"))?;
        let idx = instance
            .get_export_index(&mut store, Some(&iface), function)
            .ok_or_else(|| anyhow!("the component does not export {function}"))?;
        let func = instance
            .get_func(&mut store, idx)
            .ok_or_else(|| anyhow!("{function} is not a function"))?;
        let signature = func.ty(&store);
        let params: Vec<(String, wasmtime::component::types::Type)> = signature
            .params()
            .map(|(name, ty)| (name.to_string(), ty))
            .collect();
        let [(name, ty)] = &params[..] else {
            bail!("{function} takes {} parameters; expected one", params.len());
        };
        let arg = to_val(unwrap_input(input, name), ty, "")
            .with_context(|| format!("input of {function}"))?;
        let mut results = vec![Val::Bool(false); signature.results().len()];
        self.with_timeout(function, async {
            func.call_async(&mut store, &[arg], &mut results).await?;
            Ok(())
        })
        .await?;
        results
            .first()
            .map(from_val)
            .ok_or_else(|| anyhow!("{function} returned nothing"))
    }
}
