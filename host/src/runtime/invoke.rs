//! Calling an export by name with JSON (see [`super::dynamic`] for the JSON mapping).

use super::dynamic::{from_val, to_val, unwrap_input};
use super::Runtime;
use crate::tenant::TenantCaps;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;
use wasmtime::component::Val;

/// The interfaces whose functions `ledgerlink call` may invoke.
pub const MAPPING_INTERFACE: &str = "ledgerlink:sync/mapping@0.1.0";

impl Runtime {
    /// The functions of the mapping interface, read from the loaded component's type (the WIT
    /// is the one list of them; the host keeps no copy), in the component's order.
    pub fn mapping_functions(&self) -> Vec<String> {
        use wasmtime::component::types::ComponentItem;
        let engine = self.engine();
        let component = self.instance_pre().component().component_type();
        let Some(ComponentItem::ComponentInstance(mapping)) = component
            .exports(engine)
            .find(|(name, _)| *name == MAPPING_INTERFACE)
            .map(|(_, export)| export.ty)
        else {
            return Vec::new();
        };
        mapping
            .exports(engine)
            .filter(|(_, export)| matches!(export.ty, ComponentItem::ComponentFunc(_)))
            .map(|(name, _)| name.to_string())
            .collect()
    }

    /// Calls `function` of the mapping interface with `input` and returns its result as JSON
    /// (`{"ok": ..}` or `{"err": ..}`). Unknown functions and ill-typed input are errors.
    pub async fn call_json(
        &self,
        tenant: &TenantCaps,
        function: &str,
        input: &Value,
    ) -> Result<Value> {
        let functions = self.mapping_functions();
        if !functions.iter().any(|f| f == function) {
            bail!(
                "unknown function {function:?}; the mapping functions are: {}",
                functions.join(", ")
            );
        }
        let state = super::HostState::new(tenant, self.limits())
            .with_instance(self.instance_permit().await?);
        let mut store = wasmtime::Store::new(self.engine(), state);
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
