//! The host's Pub/Sub API subscriber against the emulator's Pub/Sub server: an Opportunity won in
//! Salesforce is invoiced from its change event with no poll; a restarted subscriber resumes
//! from the stored replay id; a replay id past the retention window is covered by a
//! `poll-salesforce` gap pass and the subscription starts again from LATEST.

use ledgerlink::caps::http::Connection;
use ledgerlink::db::Database;
use ledgerlink::pubsub::replays::Replays;
use ledgerlink::pubsub::subscriber::Subscriber;
use ledgerlink::pubsub::Direct;
use ledgerlink_emulators::salesforce::pubsub::{PubSubConfig, PubSubServer};
use ledgerlink_tests::{company, report, runtime, small, Company};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

const TOPIC: &str = "/data/OpportunityChangeEvent";

/// A running subscriber and the means to stop it.
struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

fn subscribe(
    rt: &tokio::runtime::Runtime,
    c: &Company,
    pubsub: &PubSubServer,
    replays: &Replays,
    handler: &Arc<Direct>,
) -> Running {
    let salesforce: Connection = c.tenant.connections["salesforce"].clone();
    let subscriber = Subscriber {
        tenant: c.tenant.id.clone(),
        topic: TOPIC.into(),
        endpoint: pubsub.url().parse().unwrap(),
        batch: 10,
        salesforce,
        replays: replays.clone(),
        handler: handler.clone(),
    };
    let (stop, stopped) = watch::channel(false);
    let task = rt.spawn(subscriber.run(stopped));
    Running { stop, task }
}

fn stop(rt: &tokio::runtime::Runtime, running: Running) {
    running.stop.send(true).unwrap();
    rt.block_on(running.task).unwrap();
}

fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn open_opportunities(c: &Company) -> Vec<String> {
    c.sf.records("Opportunity")
        .into_iter()
        .filter(|o| o["IsClosed"] == json!(false))
        .map(|o| o["Id"].as_str().unwrap().to_string())
        .collect()
}

fn invoiced(c: &Company, id: &str) -> bool {
    c.sf.get("Opportunity", id).unwrap()["QBO_Invoice_Id__c"].is_string()
}

#[test]
fn change_events_over_pub_sub_invoice_wins_resume_after_a_restart_and_cover_an_expired_replay() {
    let (mut c, db) = company(small());
    report(&c, "backfill", json!({}));
    let open = open_opportunities(&c);
    assert!(open.len() >= 4, "the seed has too few open opportunities");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let pubsub =
        c.sf.start_pubsub(
            PubSubConfig {
                keepalive: Duration::from_millis(200),
                ..PubSubConfig::default()
            },
            0,
        )
        .unwrap();
    let replays = Replays::new(Database::clone(&db)).unwrap();
    let handler = Arc::new(Direct::new(runtime(), c.tenant.clone()));
    let tenant = c.tenant.id.clone();
    let updated_calls = |c: &Company| {
        c.sf.log().count(|r| {
            r.path
                .trim_end_matches('/')
                .ends_with("/sobjects/Opportunity/updated")
        })
    };

    // First start: no replay id stored, so LATEST; the first keepalive stores a position.
    let running = subscribe(&rt, &c, &pubsub, &replays, &handler);
    wait_for("the first keepalive", || {
        replays.get(&tenant, TOPIC).unwrap().is_some()
    });
    let invoices_before = c.qbo.entities(&c.realm, "Invoice").len();
    c.sf.update("Opportunity", &open[0], json!({"StageName": "Closed Won"}))
        .unwrap();
    wait_for("the won opportunity's invoice", || invoiced(&c, &open[0]));
    assert_eq!(
        c.qbo.entities(&c.realm, "Invoice").len(),
        invoices_before + 1
    );
    // No poll ran: the event alone did it.
    assert_eq!(updated_calls(&c), 0);
    // The write-back is the integration user's own change: its event is delivered and skipped,
    // and the stored position moves past it.
    let after_write_back = c.sf.change_events().len();
    wait_for("the write-back's event to be handled", || {
        let stored = replays.get(&tenant, TOPIC).unwrap().unwrap_or_default();
        stored.len() == 8
            && u64::from_be_bytes(stored.try_into().unwrap())
                >= c.sf.change_events().last().unwrap()["replayId"]
                    .as_str()
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
    });
    assert_eq!(c.sf.change_events().len(), after_write_back);
    assert_eq!(
        c.qbo.entities(&c.realm, "Invoice").len(),
        invoices_before + 1
    );
    stop(&rt, running);

    // Won while the subscriber was down: the restart resumes from the stored replay id.
    c.sf.update("Opportunity", &open[1], json!({"StageName": "Closed Won"}))
        .unwrap();
    let running = subscribe(&rt, &c, &pubsub, &replays, &handler);
    wait_for("the invoice of the win made while down", || {
        invoiced(&c, &open[1])
    });
    assert_eq!(handler.gaps(), 0);
    assert_eq!(updated_calls(&c), 0);
    stop(&rt, running);

    // Won, then the subscriber stays down past the 72-hour retention: the stored replay id is
    // refused, the gap pass (REST polling) invoices the win, and the subscription restarts
    // from LATEST.
    c.sf.update("Opportunity", &open[2], json!({"StageName": "Closed Won"}))
        .unwrap();
    c.sf.clock().advance(chrono::Duration::hours(73));
    c.qbo.clock().advance(chrono::Duration::hours(73));
    c.reissue_tokens();
    let handler = Arc::new(Direct::new(runtime(), c.tenant.clone()));
    let running = subscribe(&rt, &c, &pubsub, &replays, &handler);
    wait_for("the gap pass", || handler.gaps() == 1);
    wait_for("the invoice of the win the stream no longer had", || {
        invoiced(&c, &open[2])
    });
    assert!(updated_calls(&c) >= 1, "the gap pass polls Get Updated");
    assert_eq!(handler.batches(), 0);
    // Subscribed again from LATEST: a keepalive stores a fresh position, and new wins flow.
    wait_for("a fresh position", || {
        replays.get(&tenant, TOPIC).unwrap().is_some()
    });
    let more = open_opportunities(&c);
    c.sf.update("Opportunity", &more[0], json!({"StageName": "Closed Won"}))
        .unwrap();
    wait_for("the invoice of a win after the gap", || {
        invoiced(&c, &more[0])
    });
    assert_eq!(handler.gaps(), 1);
    stop(&rt, running);
    assert_eq!(
        c.qbo.entities(&c.realm, "Invoice").len(),
        invoices_before + 4,
        "each win invoiced exactly once"
    );
}
