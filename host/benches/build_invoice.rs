//! `build-invoice` with 1, 20 and 200 lines: natively, in the component on a warm instance, and
//! in the component with a fresh instance per call (from the `InstancePre`). Results and their
//! reading are in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use ledgerlink::runtime::dynamic::to_val;
use ledgerlink::runtime::ledgerlink::sync::types as wit;
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

/// The typed form an embedder using generated bindings passes (no JSON, no `Val`).
fn typed_input(input: &InvoiceInput) -> wit::InvoiceInput {
    let r = |r: &ledgerlink_plugin::model::Reference| wit::Reference {
        value: r.value.clone(),
        name: r.name.clone(),
    };
    let o = &input.opportunity;
    let s = &input.settings;
    wit::InvoiceInput {
        opportunity: wit::SfOpportunity {
            id: o.id.clone(),
            name: o.name.clone(),
            account_id: o.account_id.clone(),
            stage_name: o.stage_name.clone(),
            close_date: o.close_date.to_string(),
            amount: o.amount.map(|a| a.to_string()),
            is_won: o.is_won,
            is_closed: o.is_closed,
            currency_code: o.currency_code.clone(),
            description: o.description.clone(),
            qbo_invoice_id: o.qbo_invoice_id.clone(),
            system_modstamp: o.system_modstamp.clone(),
            line_items: o
                .line_items
                .iter()
                .map(|l| wit::SfOpportunityLine {
                    id: l.id.clone(),
                    product_id: l.product_id.clone(),
                    product_code: l.product_code.clone(),
                    name: l.name.clone(),
                    description: l.description.clone(),
                    quantity: l.quantity.to_string(),
                    unit_price: l.unit_price.to_string(),
                    total_price: l.total_price.map(|d| d.to_string()),
                    discount_percent: l.discount_percent.map(|d| d.to_string()),
                    service_date: l.service_date.map(|d| d.to_string()),
                    sort_order: l.sort_order,
                })
                .collect(),
        },
        customer: input.customer.as_ref().map(r),
        customer_email: input.customer_email.clone(),
        customer_email_cc: input.customer_email_cc.clone(),
        exchange_rate: input.exchange_rate.map(|r| r.to_string()),
        custom_fields: None,
        lines: input
            .lines
            .iter()
            .map(|l| wit::LineResolution {
                line_id: l.line_id.clone(),
                item: r(&l.item),
                taxable: l.taxable,
                tax_code: l.tax_code.as_ref().map(r),
                class: l.class.as_ref().map(r),
            })
            .collect(),
        settings: wit::InvoiceSettings {
            us_company: s.us_company,
            home_currency: s.home_currency.clone(),
            multicurrency: s.multicurrency,
            terms: s.terms.as_ref().map(r),
            terms_days: s.terms_days,
            doc_number: match &s.doc_number {
                ledgerlink_plugin::mapping::DocNumberRule::QboAssigns => {
                    wit::DocNumberRule::QboAssigns
                }
                ledgerlink_plugin::mapping::DocNumberRule::Prefix(p) => {
                    wit::DocNumberRule::Prefix(p.clone())
                }
            },
            default_tax_code: s.default_tax_code.as_ref().map(r),
            department: s.department.as_ref().map(r),
            class: s.class.as_ref().map(r),
            amount_tolerance: s.amount_tolerance.to_string(),
            global_tax_calculation: None,
            opportunity_field_id: s.opportunity_field_id.clone(),
        },
    }
}

fn bench(c: &mut Criterion) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `LEDGERLINK_BENCH_KEEP_RESIDENT=<bytes>` compares settings of the pool's reset.
    let mut limits = Limits::default();
    if let Some(bytes) = std::env::var("LEDGERLINK_BENCH_KEEP_RESIDENT")
        .ok()
        .and_then(|v| v.parse().ok())
    {
        limits.keep_resident_bytes = bytes;
    }
    let rt = Runtime::embedded(limits).unwrap();
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
        let wit_input = typed_input(&typed);
        let (mut typed_store, plugin) = tokio.block_on(rt.instantiate(&tenant)).unwrap();
        group.bench_with_input(
            BenchmarkId::new("wasm-warm-typed", lines),
            &wit_input,
            |b, input| {
                b.iter(|| {
                    tokio
                        .block_on(
                            plugin
                                .ledgerlink_sync_mapping()
                                .call_build_invoice(&mut typed_store, input),
                        )
                        .unwrap()
                        .expect("build-invoice succeeds")
                })
            },
        );
        group.bench_with_input(
            BenchmarkId::new("wasm-fresh-instance-typed", lines),
            &wit_input,
            |b, input| {
                b.iter(|| {
                    tokio.block_on(async {
                        let (mut store, plugin) = rt.instantiate(&tenant).await.unwrap();
                        plugin
                            .ledgerlink_sync_mapping()
                            .call_build_invoice(&mut store, input)
                            .await
                            .unwrap()
                            .expect("ok")
                    })
                })
            },
        );
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
