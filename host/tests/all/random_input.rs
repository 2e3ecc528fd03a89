//! Random input (issue 13): the host's parsers of outside input under generated input, seeded
//! from real bodies and then corrupted: QBO webhook bodies in both formats (the fixtures of
//! `../shared/fixtures/webhooks` and a CloudEvents delivery), the config file (the example
//! `ledgerlink init` writes, with lines dropped, doubled or changed) and Salesforce change
//! events in Avro (a valid payload with bytes changed, and arbitrary bytes). None may panic,
//! none may hang, and a refusal says why. The budget is fixed (`PROPTEST_CASES`, 256 cases a
//! property by default) and seeded.

use apache_avro::types::{Record, Value as Avro};
use apache_avro::Schema;
use ledgerlink::config::{HostConfig, EXAMPLE};
use ledgerlink::pubsub::decode::event_json;
use ledgerlink::webhooks::payload;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;
use std::time::{Duration, Instant};

fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(256);
    TestRunner::new_with_rng(
        Config {
            cases,
            failure_persistence: None,
            ..Config::default()
        },
        TestRng::from_seed(RngAlgorithm::ChaCha, &[11; 32]),
    )
}

/// `seed` with bytes replaced, cut short, or a slice repeated.
fn corrupted(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (
        prop::sample::select(seeds),
        prop::collection::vec((any::<usize>(), any::<u8>(), 0..4u8), 0..6),
    )
        .prop_map(|(mut bytes, edits)| {
            for (at, byte, how) in edits {
                let at = at % (bytes.len() + 1);
                match how {
                    0 if at < bytes.len() => bytes[at] = byte,
                    1 => bytes.truncate(at),
                    2 => {
                        let tail = bytes[at..].to_vec();
                        bytes.extend(tail.iter().take(64));
                    }
                    _ => bytes.insert(at.min(bytes.len()), byte),
                }
            }
            bytes
        })
}

fn webhook_bodies() -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/webhooks");
    let mut bodies: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".body.json"))
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    assert!(
        !bodies.is_empty(),
        "no webhook fixtures in {}",
        dir.display()
    );
    bodies.push(
        br#"[{"specversion":"1.0","id":"a","source":"intuit.x","type":"qbo.invoice.updated.v1","datacontenttype":"application/json","time":"2025-09-10T21:31:25.179851517Z","intuitentityid":"1234","intuitaccountid":"310687","data":{}},{"specversion":"1.0","id":"b","source":"intuit.x","type":"qbo.customer.merged.v1","time":"2025-09-10T21:31:26Z","intuitentityid":"5","intuitaccountid":"777","data":{"deletedid":"27"}}]"#
            .to_vec(),
    );
    bodies
}

#[test]
fn webhook_bodies_are_parsed_or_refused_with_a_reason() {
    runner()
        .run(&corrupted(webhook_bodies()), |body| {
            if let Err(e) = payload::parse(&body) {
                prop_assert!(!e.to_string().trim().is_empty());
            }
            Ok(())
        })
        .unwrap();
}

#[test]
fn config_files_are_loaded_or_refused_with_a_reason() {
    let lines: Vec<String> = EXAMPLE
        .replace("# [tenant.salesforce-events]", "[tenant.salesforce-events]")
        .lines()
        .map(String::from)
        .collect();
    let edits = prop::collection::vec((any::<usize>(), 0..3u8, "\\PC{0,12}"), 0..5);
    runner()
        .run(&edits, |edits| {
            let mut text = lines.clone();
            for (at, how, junk) in edits {
                let at = at % text.len().max(1);
                match how {
                    0 => {
                        text.remove(at);
                    }
                    1 => text.insert(at, text[at].clone()),
                    _ => {
                        let half: String = text[at]
                            .chars()
                            .take(text[at].chars().count() / 2)
                            .collect();
                        text[at] = format!("{half}{junk}");
                    }
                }
                if text.is_empty() {
                    break;
                }
            }
            let parsed =
                HostConfig::parse(&text.join("\n"), Path::new("/nonexistent/ledgerlink.toml"));
            if let Err(e) = parsed {
                let reason = format!("{e:#}");
                prop_assert!(!reason.trim().is_empty());
            }
            Ok(())
        })
        .unwrap();
}

const SCHEMA: &str = r#"{"type": "record", "name": "OpportunityChangeEvent", "namespace": "com.sforce.eventbus",
  "fields": [
    {"name": "ChangeEventHeader", "type": {"type": "record", "name": "ChangeEventHeader", "fields": [
      {"name": "entityName", "type": "string"},
      {"name": "recordIds", "type": {"type": "array", "items": "string"}},
      {"name": "changeType", "type": {"type": "enum", "name": "ChangeType", "symbols": ["CREATE", "UPDATE", "DELETE"]}},
      {"name": "commitUser", "type": "string"},
      {"name": "changedFields", "type": {"type": "array", "items": "string"}}]}},
    {"name": "Name", "type": ["null", "string"], "default": null},
    {"name": "Amount", "type": ["null", "double"], "default": null},
    {"name": "ShippingAddress", "type": ["null", {"type": "record", "name": "Address", "fields": [
      {"name": "City", "type": ["null", "string"], "default": null}]}], "default": null}
  ]}"#;

fn avro_event(schema: &Schema) -> Vec<u8> {
    let Schema::Record(record) = schema else {
        panic!("not a record")
    };
    let mut header = Record::new(&record.fields[0].schema).unwrap();
    header.put("entityName", "Opportunity");
    header.put("recordIds", Avro::Array(vec![Avro::String("006A".into())]));
    header.put("changeType", Avro::Enum(1, "UPDATE".into()));
    header.put("commitUser", "005X");
    header.put(
        "changedFields",
        Avro::Array(vec![
            Avro::String("0x06".into()),
            Avro::String("3-0x01".into()),
        ]),
    );
    let mut event = Record::new(schema).unwrap();
    event.put("ChangeEventHeader", header);
    event.put(
        "Name",
        Avro::Union(1, Box::new(Avro::String("Deal".into()))),
    );
    event.put("Amount", Avro::Union(1, Box::new(Avro::Double(1200.5))));
    event.put("ShippingAddress", Avro::Union(0, Box::new(Avro::Null)));
    apache_avro::writer::datum::GenericDatumWriter::builder(schema)
        .build()
        .unwrap()
        .write_value_to_vec(event)
        .unwrap()
}

#[test]
fn avro_change_events_are_decoded_or_refused_quickly() {
    let schema = Schema::parse_str(SCHEMA).unwrap();
    let valid = avro_event(&schema);
    assert!(event_json(&schema, &valid).is_ok());
    let inputs = prop_oneof![
        3 => corrupted(vec![valid]),
        1 => prop::collection::vec(any::<u8>(), 0..64),
    ];
    runner()
        .run(&inputs, |bytes| {
            let started = Instant::now();
            if let Err(e) = event_json(&schema, &bytes) {
                let reason = format!("{e:#}");
                prop_assert!(!reason.trim().is_empty());
            }
            // A length prefix in the bytes must not make the decoder allocate or loop at length.
            prop_assert!(
                started.elapsed() < Duration::from_secs(1),
                "{:?} for {} bytes",
                started.elapsed(),
                bytes.len()
            );
            Ok(())
        })
        .unwrap();
}
