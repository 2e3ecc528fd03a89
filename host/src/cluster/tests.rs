//! The ownership conformance tests, on both backends.

use super::*;
use crate::db::testing::each_backend;
use chrono::Duration as Span;

fn tenants(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("t{i:02}")).collect()
}

fn host(db: &Database, id: &str, n: usize) -> Ownership {
    Ownership::new(db, id, tenants(n), Duration::from_secs(15))
}

#[test]
fn hosts_share_the_tenants_and_a_dead_hosts_tenants_are_taken_over_after_the_lease() {
    each_backend("ownership_share", |db| {
        let (a, b) = (host(&db, "a:1", 10), host(&db, "b:1", 10));
        let t0 = Utc::now();
        // Alone, a takes every tenant.
        assert_eq!(a.round(t0).unwrap().claimed.len(), 10);
        // b joins: it counts two hosts, finds nothing free, and a lets half go next round.
        let r = b.round(t0).unwrap();
        assert_eq!((r.hosts, r.claimed.len()), (2, 0));
        let r = a.round(t0 + Span::seconds(5)).unwrap();
        assert_eq!((r.hosts, r.released.len()), (2, 5));
        b.round(t0 + Span::seconds(5)).unwrap();
        assert_eq!((a.owned().len(), b.owned().len()), (5, 5));
        assert!(a.owned().iter().all(|t| !b.owns(t)), "a tenant held twice");
        // b's releases gave the moved tenants fence 2: each claim moves the fence on.
        for t in b.owned() {
            assert_eq!(b.fence(&t), Some(2), "{t}");
        }
        // b dies (no more rounds). Before its lease runs out a cannot take its tenants...
        let r = a.round(t0 + Span::seconds(15)).unwrap();
        assert!(r.claimed.is_empty(), "{r:?}");
        // ...after it, a counts one host and takes them all, under new fences.
        let r = a.round(t0 + Span::seconds(21)).unwrap();
        assert_eq!((r.hosts, r.claimed.len()), (1, 5));
        assert!(r.claimed.iter().all(|(_, fence)| *fence == 3), "{r:?}");
        assert_eq!(a.owned().len(), 10);
        // b comes back: its old fences no longer hold, and its next round notices the loss.
        let lost: Vec<String> = b.owned();
        for t in &lost {
            assert!(!b
                .store
                .holds(t, "b:1", 2, (t0 + Span::seconds(22)).timestamp_millis())
                .unwrap());
        }
        let r = b.round(t0 + Span::seconds(22)).unwrap();
        assert_eq!(r.lost.len(), 5);
        assert_eq!(r.claimed.len(), 0, "a still holds everything");
    });
}

#[test]
fn a_host_restarted_under_its_id_claims_its_own_tenants_back_at_once() {
    each_backend("ownership_restart", |db| {
        let t0 = Utc::now();
        let before = host(&db, "a:1", 4);
        before.round(t0).unwrap();
        let fences: Vec<i64> = before
            .owned()
            .iter()
            .filter_map(|t| before.fence(t))
            .collect();
        assert_eq!(fences, vec![1; 4]);
        // kill -9: no leave. The new process under the same id takes them back, fences moved on.
        let after = host(&db, "a:1", 4);
        after.round(t0 + Span::seconds(1)).unwrap();
        assert_eq!(after.owned().len(), 4);
        assert!(after.owned().iter().all(|t| after.fence(t) == Some(2)));
    });
}

#[test]
fn a_clean_stop_hands_the_tenants_over_without_waiting_for_the_lease() {
    each_backend("ownership_leave", |db| {
        let t0 = Utc::now();
        let (a, b) = (host(&db, "a:1", 6), host(&db, "b:1", 6));
        a.round(t0).unwrap();
        b.round(t0).unwrap();
        a.leave().unwrap();
        assert!(a.owned().is_empty());
        let r = b.round(t0 + Span::seconds(1)).unwrap();
        assert_eq!((r.hosts, r.claimed.len()), (1, 6));
        assert_eq!(
            owners(&db)
                .unwrap()
                .iter()
                .filter(|o| o.holder == "b:1")
                .count(),
            6
        );
    });
}

#[test]
fn of_hosts_racing_for_the_same_free_tenants_each_tenant_goes_to_exactly_one() {
    let url = crate::db::throwaway::Cluster::shared().fresh_database("ownership_race");
    let dir = tempfile::tempdir().unwrap();
    for db in [
        Database::open(&dir.path().join("race.db")).unwrap(),
        Database::connect(&url, None).unwrap(),
    ] {
        let kind = db.kind();
        let now = Utc::now().timestamp_millis();
        let claims: Vec<Vec<String>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|h| {
                    let db = db.clone();
                    s.spawn(move || {
                        let store = store_for(&db);
                        (0..40)
                            .filter_map(|t| {
                                let tenant = format!("t{t}");
                                store
                                    .claim(&tenant, &format!("h{h}"), now, now + 15_000)
                                    .unwrap()
                                    .map(|_| tenant)
                            })
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<String> = claims.concat();
        all.sort();
        let before = all.len();
        all.dedup();
        assert_eq!(before, all.len(), "{kind}: a tenant claimed twice");
        assert_eq!(all.len(), 40, "{kind}: every tenant claimed");
    }
}

#[tokio::test]
async fn a_tenants_task_runs_only_while_the_host_serves_it() {
    let db = Database::in_memory().unwrap();
    let (a, b) = (host(&db, "a:1", 1), host(&db, "b:1", 1));
    let (stop_tx, stop) = watch::channel(false);
    let sessions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let running = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let task = {
        let (sessions, running) = (sessions.clone(), running.clone());
        tokio::spawn(while_owned(
            a.clone(),
            "t00".into(),
            stop,
            move |mut session| {
                let (sessions, running) = (sessions.clone(), running.clone());
                async move {
                    sessions.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    running.store(true, std::sync::atomic::Ordering::SeqCst);
                    let _ = session.wait_for(|s| *s).await;
                    running.store(false, std::sync::atomic::Ordering::SeqCst);
                }
            },
        ))
    };
    let settle = || tokio::time::sleep(Duration::from_millis(50));
    settle().await;
    assert!(
        !running.load(std::sync::atomic::Ordering::SeqCst),
        "not owned yet"
    );
    let t0 = Utc::now();
    a.round(t0).unwrap();
    settle().await;
    assert!(
        running.load(std::sync::atomic::Ordering::SeqCst),
        "owned: running"
    );
    // a lets it go; b takes it: a's task stops.
    a.leave().unwrap();
    b.round(t0).unwrap();
    settle().await;
    assert!(
        !running.load(std::sync::atomic::Ordering::SeqCst),
        "lost: stopped"
    );
    // b leaves, a takes it back: a second session.
    b.leave().unwrap();
    a.round(t0 + chrono::Duration::seconds(1)).unwrap();
    settle().await;
    assert!(running.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(sessions.load(std::sync::atomic::Ordering::SeqCst), 2);
    stop_tx.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(5), task)
        .await
        .unwrap()
        .unwrap();
    assert!(!running.load(std::sync::atomic::Ordering::SeqCst));
}

/// Records what the hooks heard, and whether a gained tenant already showed as owned then.
#[derive(Default)]
struct Heard {
    gained: Mutex<Vec<(String, bool)>>,
    held: Mutex<Vec<usize>>,
    ownership: std::sync::OnceLock<Ownership>,
}

impl OwnershipHooks for Heard {
    fn gained(&self, tenant: &str) {
        let owned_already = self.ownership.get().is_some_and(|o| o.owns(tenant));
        self.gained
            .lock()
            .unwrap()
            .push((tenant.to_string(), owned_already));
    }

    fn held(&self, tenants: &[String]) {
        self.held.lock().unwrap().push(tenants.len());
    }
}

use std::sync::Mutex;

#[test]
fn a_gained_tenant_is_handed_over_before_it_shows_as_owned_and_holds_are_saved_each_round() {
    let db = Database::in_memory().unwrap();
    let heard = Arc::new(Heard::default());
    let a = host(&db, "a:1", 3).with_hooks(heard.clone());
    let _ = heard.ownership.set(a.clone());
    let t0 = Utc::now();
    a.round(t0).unwrap();
    a.round(t0 + chrono::Duration::seconds(5)).unwrap();
    let gained = heard.gained.lock().unwrap().clone();
    assert_eq!(gained.len(), 3, "{gained:?}");
    assert!(gained.iter().all(|(_, owned)| !owned), "{gained:?}");
    // Every round saves what is held; leaving saves once more before letting go.
    a.leave().unwrap();
    assert_eq!(*heard.held.lock().unwrap(), vec![3, 3, 3]);
}
