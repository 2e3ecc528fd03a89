//! The cost of `synchronous=FULL` on the writes that must survive power loss: storing a webhook
//! body in the inbox (before its 200) and storing rotated tokens in the vault, each against the
//! same write at the store's default `synchronous=NORMAL`, on a store file in a temporary
//! directory. Results and their reading are in BENCHMARKS.md.

use chrono::Utc;
use criterion::{criterion_group, criterion_main, Criterion};
use ledgerlink::auth::vault::{StoredTokens, Vault, VaultKey};
use ledgerlink::auth::Secret;
use ledgerlink::db::Database;
use ledgerlink::webhooks::inbox::Inbox;
use std::sync::atomic::{AtomicU64, Ordering};

fn tokens(n: u64) -> StoredTokens {
    StoredTokens {
        access_token: Secret::new(format!("access-{n}")),
        issued_at: Utc::now(),
        access_expires_at: None,
        refresh_token: Some(Secret::new(format!("refresh-{n}"))),
        refresh_expires_at: None,
        instance_url: None,
        realm: Some("9130355377151526".into()),
    }
}

fn durable_writes(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = Database::open(&dir.path().join("ledgerlink.db")).unwrap();
    let inbox = Inbox::new(db.clone()).unwrap();
    let vault = Vault::open(db.clone(), &VaultKey::generate()).unwrap();
    let n = AtomicU64::new(0);
    let next = || n.fetch_add(1, Ordering::Relaxed);
    let mut group = c.benchmark_group("durable_writes");
    group.bench_function("inbox persist (FULL)", |b| {
        b.iter(|| {
            let body = format!(r#"{{"n":{}}}"#, next());
            inbox
                .persist("acme", "quickbooks", "r1", body.as_bytes())
                .unwrap()
        })
    });
    group.bench_function("the same statements at NORMAL", |b| {
        b.iter(|| {
            let body = format!(r#"{{"n":{}}}"#, next());
            let conn = db.sqlite().expect("a SQLite store").lock();
            conn.execute(
                "INSERT INTO webhook_inbox (tenant, source, realm, body, body_hash, received)
                 VALUES ('acme', 'quickbooks', 'r1', ?1, ?2, '2026-01-01T00:00:00Z')
                 ON CONFLICT (tenant, source, body_hash) DO NOTHING",
                rusqlite::params![body.as_bytes(), body],
            )
            .unwrap();
            conn.query_row(
                "SELECT id FROM webhook_inbox WHERE tenant = 'acme' AND source = 'quickbooks' AND body_hash = ?1",
                rusqlite::params![body],
                |r| r.get::<_, i64>(0),
            )
            .unwrap()
        })
    });
    group.bench_function("vault store (FULL)", |b| {
        b.iter(|| {
            vault
                .store("acme", "quickbooks", &tokens(next()), Utc::now())
                .unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, durable_writes);
criterion_main!(benches);
