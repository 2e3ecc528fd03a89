//! `build-invoice` with 1, 20 and 200 lines: natively, in the component on a warm instance, and
//! in the component with a fresh instance per call (from the `InstancePre`). Results and their
//! reading are in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ledgerlink::runtime::dynamic::to_val;
use ledgerlink::runtime::{HostState, Limits, Runtime, MAPPING_INTERFACE};
use ledgerlink::tenant::TenantCaps;
use ledgerlink_plugin::mapping::{build_invoice, InvoiceInput};
use serde_json::Value;
use std::path::Path;
use wasmtime::component::{Func, Val};
use wasmtime::Store;

fn fixture(lines: usize) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!(
        "../tests/fixtures/mapping/build-invoice/lines-{lines}.json"
    ));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    fixture["input"].clone()
}

async fn instance(rt: &Runtime, tenant: &TenantCaps) -> (Store<HostState>, Func) {
    let mut store = Store::new(rt.engine(), HostState::new(tenant, rt.limits()));
    store.set_epoch_deadline(u64::MAX / 2);
    let instance = rt
        .instance_pre()
        .instantiate_async(&mut store)
        .await
        .unwrap();
    let iface = instance
        .get_export_index(&mut store, None, MAPPING_INTERFACE)
        .unwrap();
    let idx = instance
        .get_export_index(&mut store, Some(&iface), "build-invoice")
        .unwrap();
    let func = instance.get_func(&mut store, idx).unwrap();
    (store, func)
}

async fn call(store: &mut Store<HostState>, func: Func, arg: &Val) -> Val {
    let mut results = [Val::Bool(false)];
    func.call_async(&mut *store, std::slice::from_ref(arg), &mut results)
        .await
        .unwrap();
    let [result] = results;
    assert!(
        matches!(result, Val::Result(Ok(_))),
        "build-invoice failed: {result:?}"
    );
    result
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let rt = Runtime::embedded(Limits::default()).unwrap();
    let tenant = TenantCaps::ephemeral("bench").unwrap();
    let param_ty = tokio.block_on(async {
        let (store, func) = instance(&rt, &tenant).await;
        func.ty(&store).params().next().expect("one parameter").1
    });

    let mut group = c.benchmark_group("build-invoice");
    for lines in [1usize, 20, 200] {
        let json = fixture(lines);
        let typed: InvoiceInput = serde_json::from_value(json.clone()).unwrap();
        let arg = to_val(&json, &param_ty, "").unwrap();

        group.bench_with_input(BenchmarkId::new("native", lines), &typed, |b, input| {
            b.iter(|| build_invoice(std::hint::black_box(input)).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("native-json", lines), &json, |b, json| {
            b.iter(|| {
                ledgerlink_plugin::native::call_json("build-invoice", std::hint::black_box(json))
                    .unwrap()
            })
        });

        let (mut store, func) = tokio.block_on(instance(&rt, &tenant));
        group.bench_with_input(BenchmarkId::new("wasm-warm", lines), &arg, |b, arg| {
            b.iter(|| tokio.block_on(call(&mut store, func, arg)))
        });
        group.bench_with_input(
            BenchmarkId::new("wasm-fresh-instance", lines),
            &arg,
            |b, arg| {
                b.iter(|| {
                    tokio.block_on(async {
                        let (mut store, func) = instance(&rt, &tenant).await;
                        call(&mut store, func, arg).await
                    })
                })
            },
        );
    }
    group.bench_function("instantiate-only", |b| {
        b.iter(|| tokio.block_on(instance(&rt, &tenant)))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
