//! Host-side bindings of the `plugin-core` world. HTTP and the WASI basics are linked from
//! wasmtime-wasi and wasmtime-wasi-http; the key-value, config and schedule imports are the
//! capabilities' own bindings (`with`), so only the shared types and the exports are generated
//! here.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "ledgerlink:sync/plugin-core",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:keyvalue/store": crate::caps::storage::bindings,
        "wasi:config/store": crate::caps::config::bindings,
        "ledgerlink:sync/schedule": crate::caps::schedule::bindings,
    },
});
