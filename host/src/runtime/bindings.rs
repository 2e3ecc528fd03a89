//! Host-side bindings of the `plugin-core` world. HTTP and the WASI basics are linked from
//! wasmtime-wasi and wasmtime-wasi-http, so only Ledgerlink's own interfaces and the
//! key-value/config imports are generated here.

#![allow(missing_docs)]

wasmtime::component::bindgen!({
    path: "../wit",
    world: "ledgerlink:sync/plugin-core",
    imports: { default: trappable },
    exports: { default: async },
    with: {
        "wasi:keyvalue/store.bucket": crate::caps::storage::BucketHandle,
    },
});
