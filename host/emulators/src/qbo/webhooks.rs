//! Outgoing webhook notifications (api-facts A8): every change is POSTed to the configured URL,
//! signed with `intuit-signature` = base64(HMAC-SHA256(key = verifier token, message = body)),
//! in the legacy `eventNotifications` form or as a CloudEvents array. Delivery runs on a
//! background task (never delaying the API answer), batches the events of one aggregation window
//! into one POST, retries a failed POST twice, and only ever calls loopback addresses.

use super::WebhookFormat;
use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::Sha256;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};

/// `base64(HMAC-SHA256(key = UTF-8 verifier_token, message = body))`, the `intuit-signature` value.
pub fn sign(verifier_token: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(verifier_token.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks an `intuit-signature` in constant time.
pub fn verify(verifier_token: &str, body: &[u8], signature: &str) -> bool {
    let Ok(expected) = base64::engine::general_purpose::STANDARD.decode(signature.trim()) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(verifier_token.as_bytes())
        .expect("HMAC accepts any key length");
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// What happened to an entity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Operation {
    /// Created.
    Create,
    /// Updated (including made inactive).
    Update,
    /// Deleted.
    Delete,
    /// Voided.
    Void,
    /// Sent by email.
    Emailed,
    /// Merged into another.
    Merge,
}

impl Operation {
    fn legacy(self) -> &'static str {
        match self {
            Operation::Create => "Create",
            Operation::Update => "Update",
            Operation::Delete => "Delete",
            Operation::Void => "Void",
            Operation::Emailed => "Emailed",
            Operation::Merge => "Merge",
        }
    }

    fn cloud_event_verb(self) -> &'static str {
        match self {
            Operation::Create => "created",
            Operation::Update | Operation::Emailed => "updated",
            Operation::Delete => "deleted",
            Operation::Void => "voided",
            Operation::Merge => "merged",
        }
    }
}

/// One change to notify.
#[derive(Clone, Debug)]
pub struct ChangeEvent {
    /// Realm (company) id.
    pub realm: String,
    /// Entity name, e.g. "Invoice".
    pub entity: &'static str,
    /// Entity Id.
    pub id: String,
    /// What happened.
    pub operation: Operation,
    /// When.
    pub at: DateTime<Utc>,
    /// For merges: the Id that was merged away.
    pub deleted_id: Option<String>,
}

/// The legacy body: one `eventNotifications` entry per realm.
pub(crate) fn legacy_body(events: &[ChangeEvent]) -> Value {
    let mut realms: Vec<&str> = Vec::new();
    for e in events {
        if !realms.contains(&e.realm.as_str()) {
            realms.push(&e.realm);
        }
    }
    let notifications: Vec<Value> = realms
        .iter()
        .map(|realm| {
            let entities: Vec<Value> = events
                .iter()
                .filter(|e| e.realm == *realm)
                .map(|e| {
                    let mut entity = json!({"name": e.entity, "id": e.id, "operation": e.operation.legacy(),
                                            "lastUpdated": e.at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()});
                    if let Some(deleted) = &e.deleted_id {
                        entity["deletedId"] = json!(deleted);
                    }
                    entity
                })
                .collect();
            json!({"realmId": realm, "dataChangeEvent": {"entities": entities}})
        })
        .collect();
    json!({"eventNotifications": notifications})
}

/// The CloudEvents body: an array, one event per change.
pub(crate) fn cloud_events_body(events: &[ChangeEvent]) -> Value {
    Value::Array(
        events
            .iter()
            .map(|e| {
                let data = match &e.deleted_id {
                    Some(deleted) => json!({"deletedid": deleted}),
                    None => json!({}),
                };
                json!({
                    "specversion": "1.0",
                    "id": uuid::Uuid::new_v4().to_string(),
                    "source": "intuit.ledgerlink-emulator",
                    "type": format!("qbo.{}.{}.v1", e.entity.to_ascii_lowercase(), e.operation.cloud_event_verb()),
                    "datacontenttype": "application/json",
                    "time": e.at.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
                    "intuitentityid": e.id,
                    "intuitaccountid": e.realm,
                    "data": data
                })
            })
            .collect(),
    )
}

/// One POST the emulator made (or tried to make).
#[derive(Clone, Debug, Serialize)]
pub struct Delivery {
    /// The exact body sent.
    pub body: String,
    /// The `intuit-signature` header.
    pub signature: String,
    /// The receiver's status, or None when it could not be reached.
    pub status: Option<u16>,
    /// How many events the body holds.
    pub events: usize,
}

/// Sends events to the webhook URL from a background task.
pub(crate) struct Dispatcher {
    url: Option<String>,
    verifier_token: String,
    format: WebhookFormat,
    delay: Duration,
    sender: Mutex<Option<UnboundedSender<ChangeEvent>>>,
    /// Every delivery made, for tests.
    pub deliveries: Arc<Mutex<Vec<Delivery>>>,
}

/// True for `http://127.0.0.1…`, `http://localhost…`, `http://[::1]…`: the only places the
/// emulator may call.
pub(crate) fn is_loopback(url: &str) -> bool {
    url::Url::parse(url)
        .ok()
        .and_then(|u| u.host_str().map(str::to_string))
        .is_some_and(|h| {
            h == "localhost"
                || h == "[::1]"
                || h == "::1"
                || h.parse::<std::net::Ipv4Addr>()
                    .is_ok_and(|ip| ip.is_loopback())
        })
}

impl Dispatcher {
    pub fn new(
        url: Option<String>,
        verifier_token: String,
        format: WebhookFormat,
        delay_ms: u64,
    ) -> Self {
        if let Some(u) = &url {
            if !is_loopback(u) {
                tracing::warn!(url = %u, "webhook URL is not a loopback address; webhooks are disabled");
            }
        }
        Self {
            url: url.filter(|u| is_loopback(u)),
            verifier_token,
            format,
            delay: Duration::from_millis(delay_ms),
            sender: Mutex::new(None),
            deliveries: Arc::new(Mutex::new(Vec::new())),
        }
    }

    /// Queues events; starts the delivery task on first use (needs a tokio runtime; without one
    /// the events wait in the queue until a later call from inside a runtime).
    pub fn send(&self, events: Vec<ChangeEvent>) {
        let Some(url) = self.url.clone() else { return };
        if events.is_empty() {
            return;
        }
        let mut guard = self.sender.lock().expect("webhook lock");
        if guard.is_none() {
            let Ok(handle) = tokio::runtime::Handle::try_current() else {
                return;
            };
            let (tx, rx) = unbounded_channel();
            handle.spawn(deliver_loop(
                rx,
                url,
                self.verifier_token.clone(),
                self.format,
                self.delay,
                self.deliveries.clone(),
            ));
            *guard = Some(tx);
        }
        if let Some(tx) = guard.as_ref() {
            for e in events {
                let _ = tx.send(e);
            }
        }
    }
}

async fn deliver_loop(
    mut rx: UnboundedReceiver<ChangeEvent>,
    url: String,
    verifier_token: String,
    format: WebhookFormat,
    delay: Duration,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
) {
    let client = match reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "webhook client");
            return;
        }
    };
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        let body = match format {
            WebhookFormat::Legacy => legacy_body(&batch),
            WebhookFormat::CloudEvents => cloud_events_body(&batch),
        }
        .to_string();
        let signature = sign(&verifier_token, body.as_bytes());
        let mut status = None;
        for attempt in 0..3u32 {
            if attempt > 0 {
                tokio::time::sleep(Duration::from_millis(500 * u64::from(attempt))).await;
            }
            let result = client
                .post(&url)
                .header("content-type", "application/json")
                .header("intuit-signature", &signature)
                .body(body.clone())
                .send()
                .await;
            match result {
                Ok(resp) => {
                    status = Some(resp.status().as_u16());
                    if resp.status().is_success() {
                        break;
                    }
                }
                Err(e) => tracing::debug!(error = %e, "webhook delivery failed"),
            }
        }
        deliveries.lock().expect("deliveries lock").push(Delivery {
            body,
            signature,
            status,
            events: batch.len(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_the_python_quickbooks_vector() {
        assert_eq!(
            sign("verify_me", br#"{"stuff":"5"}"#),
            "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="
        );
        assert!(!verify(
            "verify_me",
            b"",
            "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA="
        ));
    }

    #[test]
    fn only_loopback_urls_are_called() {
        assert!(is_loopback("http://127.0.0.1:9000/hook"));
        assert!(is_loopback("http://localhost/hook"));
        assert!(!is_loopback("https://example.com/hook"));
        assert!(!is_loopback("not a url"));
    }

    #[test]
    fn legacy_body_groups_by_realm() {
        let at = Utc::now();
        let e = |realm: &str, id: &str| ChangeEvent {
            realm: realm.into(),
            entity: "Customer",
            id: id.into(),
            operation: Operation::Create,
            at,
            deleted_id: None,
        };
        let body = legacy_body(&[e("1", "a"), e("2", "b"), e("1", "c")]);
        assert_eq!(body["eventNotifications"].as_array().unwrap().len(), 2);
        assert_eq!(
            body["eventNotifications"][0]["dataChangeEvent"]["entities"][1]["id"],
            "c"
        );
    }
}
