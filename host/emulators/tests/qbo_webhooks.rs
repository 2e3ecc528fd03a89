//! Webhook signing and delivery, and injected faults, on the QBO emulator.

mod qbo_support;

/// Named `qbo` so that `cargo test -p ledgerlink-emulators qbo` selects these tests.
mod qbo {
    use crate::qbo_support::{config, fixture, fixture_path, Qbo};
    use axum::{body::Bytes, http::HeaderMap, routing::post, Router};
    use ledgerlink_emulators::qbo::{sign, webhooks::verify, WebhookFormat};
    use ledgerlink_emulators::{FaultKind, FaultRule, RunningServer};
    use serde_json::{json, Value};
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    #[test]
    fn sign_matches_both_published_vectors() {
        for name in ["legacy_dotnet_sdk", "python_quickbooks_minimal"] {
            let vector = fixture(&format!("webhooks/{name}.vector.json"));
            let body = std::fs::read(fixture_path(&format!("webhooks/{name}.body.json"))).unwrap();
            assert_eq!(
                body.len() as u64,
                vector["body_length_bytes"].as_u64().unwrap()
            );
            let token = vector["verifier_token"].as_str().unwrap();
            assert_eq!(
                sign(token, &body),
                vector["intuit_signature"].as_str().unwrap(),
                "{name}"
            );
            assert!(verify(
                token,
                &body,
                vector["intuit_signature"].as_str().unwrap()
            ));
            for case in vector["must_reject"].as_array().unwrap() {
                let bad_body = case["body"].as_str().unwrap().as_bytes();
                assert!(
                    !verify(token, bad_body, case["intuit_signature"].as_str().unwrap()),
                    "{}",
                    case["case"]
                );
                assert_ne!(
                    sign(token, bad_body),
                    case["intuit_signature"].as_str().unwrap()
                );
            }
        }
    }

    type Received = Arc<Mutex<Vec<(String, Option<String>)>>>;

    fn receiver() -> (RunningServer, Received) {
        let received: Received = Arc::default();
        let sink = received.clone();
        let router = Router::new().route(
            "/hook",
            post(move |headers: HeaderMap, body: Bytes| {
                let sink = sink.clone();
                async move {
                    let signature = headers
                        .get("intuit-signature")
                        .and_then(|h| h.to_str().ok())
                        .map(str::to_string);
                    sink.lock()
                        .unwrap()
                        .push((String::from_utf8_lossy(&body).to_string(), signature));
                    "ok"
                }
            }),
        );
        (RunningServer::start(router, 0).unwrap(), received)
    }

    fn wait_for(received: &Received, count: usize) -> Vec<(String, Option<String>)> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = received.lock().unwrap().clone();
            if got.len() >= count || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn changes_are_posted_signed_in_the_legacy_format() {
        let (hook, received) = receiver();
        let mut c = config();
        c.webhook_url = Some(format!("{}/hook", hook.url()));
        let qbo = Qbo::start_with(c);
        let customer = qbo.customer("Hooked Co");
        let invoice = qbo.invoice(&customer, &["10"]);
        let (status, _) = qbo.post(
            "invoice?operation=void",
            &json!({"Id": invoice["Id"], "SyncToken": "0"}),
        );
        assert_eq!(status, 200);
        // Events queued while a POST is in flight travel together, so count entities, not POSTs.
        let entity_count = |got: &[(String, Option<String>)]| {
            got.iter()
                .map(|(b, _)| {
                    serde_json::from_str::<Value>(b).unwrap()["eventNotifications"][0]
                        ["dataChangeEvent"]["entities"]
                        .as_array()
                        .unwrap()
                        .len()
                })
                .sum::<usize>()
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while entity_count(&received.lock().unwrap()) < 3 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        let got = received.lock().unwrap().clone();
        assert_eq!(entity_count(&got), 3, "{got:?}");
        let token = &qbo.emu.config().verifier_token;
        let mut ops = Vec::new();
        for (body, signature) in &got {
            assert!(
                verify(token, body.as_bytes(), signature.as_deref().unwrap()),
                "signature of {body}"
            );
            let v: Value = serde_json::from_str(body).unwrap();
            let n = &v["eventNotifications"][0];
            assert_eq!(n["realmId"], qbo.realm.as_str());
            for e in n["dataChangeEvent"]["entities"].as_array().unwrap() {
                ops.push((
                    e["name"].as_str().unwrap().to_string(),
                    e["operation"].as_str().unwrap().to_string(),
                ));
                assert!(e["lastUpdated"].is_string() && e["id"].is_string());
            }
        }
        assert_eq!(
            ops,
            [
                ("Customer".into(), "Create".into()),
                ("Invoice".into(), "Create".into()),
                ("Invoice".to_string(), "Void".to_string())
            ]
        );
        let deadline = Instant::now() + Duration::from_secs(5);
        while qbo.emu.webhook_deliveries().len() < got.len() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            qbo.emu.webhook_deliveries().len(),
            got.len(),
            "the emulator records what it delivered"
        );
    }

    #[test]
    fn cloud_events_are_aggregated_within_the_delay() {
        let (hook, received) = receiver();
        let mut c = config();
        c.webhook_url = Some(format!("{}/hook", hook.url()));
        c.webhook_format = WebhookFormat::CloudEvents;
        c.webhook_delay_ms = 400;
        let qbo = Qbo::start_with(c);
        let a = qbo.customer("Cloud A");
        qbo.customer("Cloud B");
        let got = wait_for(&received, 1);
        std::thread::sleep(Duration::from_millis(200));
        let got = if got.len() == 1 {
            received.lock().unwrap().clone()
        } else {
            got
        };
        assert_eq!(got.len(), 1, "both events in one POST: {got:?}");
        let events: Value = serde_json::from_str(&got[0].0).unwrap();
        let events = events.as_array().unwrap();
        assert_eq!(events.len(), 2);
        assert_eq!(events[0]["type"], "qbo.customer.created.v1");
        assert_eq!(events[0]["intuitentityid"], a["Id"]);
        assert_eq!(events[0]["intuitaccountid"], qbo.realm.as_str());
        assert_eq!(events[0]["specversion"], "1.0");
        assert!(verify(
            &qbo.emu.config().verifier_token,
            got[0].0.as_bytes(),
            got[0].1.as_deref().unwrap()
        ));
    }

    fn statuses(seed: u64) -> Vec<u16> {
        let qbo = Qbo::start();
        qbo.emu.faults().set(
            vec![FaultRule {
                method: None,
                path_contains: Some("/customer".into()),
                fault: FaultKind::Status { status: 503 },
                probability: 0.5,
                times: None,
            }],
            seed,
        );
        (0..20).map(|_| qbo.get("customer/1").0).collect()
    }

    #[test]
    fn injected_faults_are_deterministic_and_qbo_shaped() {
        let first = statuses(7);
        assert_eq!(first, statuses(7));
        assert!(first.contains(&503) && first.contains(&400), "{first:?}");

        let qbo = Qbo::start();
        qbo.emu.faults().push(FaultRule {
            method: Some("GET".into()),
            path_contains: Some("/preferences".into()),
            fault: FaultKind::Status { status: 503 },
            probability: 1.0,
            times: Some(1),
        });
        let (status, body) = qbo.get("preferences");
        assert_eq!(status, 503);
        let expected = fixture("qbo/system_fault_10000.json");
        assert_eq!(body["Fault"]["type"], expected["Fault"]["type"]);
        assert_eq!(
            body["Fault"]["Error"][0]["code"],
            expected["Fault"]["Error"][0]["code"]
        );
        assert_eq!(
            body["Fault"]["Error"][0]["Message"],
            expected["Fault"]["Error"][0]["Message"]
        );
        assert_eq!(qbo.get("preferences").0, 200, "times: 1");

        qbo.emu.faults().push(FaultRule {
            method: None,
            path_contains: Some("/preferences".into()),
            fault: FaultKind::ExpiredToken,
            probability: 1.0,
            times: Some(1),
        });
        let (status, body) = qbo.get("preferences");
        assert_eq!(status, 401);
        assert_eq!(body["fault"]["error"][0]["code"], "3200");
        assert_eq!(qbo.emu.log().count(|r| r.path.ends_with("/preferences")), 3);
    }
}
