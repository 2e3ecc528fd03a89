//! One subscription: a tenant's topic, followed until the host stops.
//!
//! - Starts from the stored replay id (`CUSTOM`), or `LATEST` when there is none.
//! - Asks for `batch` events at a time (`num_requested`) and asks again once they are handled,
//!   so events never pile up in memory.
//! - Hands the events, decoded to JSON, to the [`Handler`] (the component's `on-webhook`, source
//!   `salesforce`), everything that arrived while the last run was busy in one run, then stores
//!   the replay id of the last event handled; the `latest_replay_id` of an empty keepalive is
//!   stored too, so the position stays inside the retention window on a quiet topic.
//! - A replay id Salesforce no longer retains is forgotten: the handler's gap pass
//!   (`poll-salesforce`, public REST) covers what was missed and the subscription starts again
//!   from `LATEST`.
//! - A refused session renews the token; other failures reconnect after a backoff (1 s doubling
//!   to a minute).

use super::client::{PubSub, Session};
use super::decode::event_json;
use super::proto::{FetchRequest, FetchResponse, ReplayPreset};
use super::replays::Replays;
use crate::caps::http::Connection;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tonic::Code;
use url::Url;

/// What the subscriber does with events: the component's `on-webhook` in the host.
pub trait Handler: Send + Sync {
    /// Handles decoded change events (a JSON array); an error leaves them to be delivered again.
    fn events<'a>(
        &'a self,
        tenant: &'a str,
        body: String,
    ) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;

    /// Covers changes the stream can no longer deliver (an expired replay id).
    fn gap<'a>(&'a self, tenant: &'a str) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>;
}

/// One tenant's subscription to one topic.
#[derive(Clone)]
pub struct Subscriber {
    /// Tenant id.
    pub tenant: String,
    /// `/data/OpportunityChangeEvent`, `/data/ChangeEvents`, ...
    pub topic: String,
    /// The Pub/Sub API endpoint.
    pub endpoint: Url,
    /// Events asked for at a time (Salesforce allows at most 100).
    pub batch: i32,
    /// The tenant's Salesforce connection: its instance URL and credential.
    pub salesforce: Connection,
    /// Where replay ids are kept.
    pub replays: Replays,
    /// What handles the events.
    pub handler: Arc<dyn Handler>,
}

/// How one session ended without an error.
enum Ended {
    Stopped,
    ReplayExpired,
}

const MAX_BACKOFF: Duration = Duration::from_secs(60);

impl Subscriber {
    /// Follows the topic until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut backoff = Duration::from_secs(1);
        let mut org_id: Option<String> = None;
        loop {
            if *stop.borrow() {
                return;
            }
            match self.session(&mut org_id, &mut stop).await {
                Ok(Ended::Stopped) => return,
                Ok(Ended::ReplayExpired) => {
                    tracing::warn!(tenant = %self.tenant, topic = %self.topic,
                        "the stored replay id is no longer retained: polling covers the gap, then the subscription restarts from LATEST");
                    if let Err(e) = self.replays.forget(&self.tenant, &self.topic) {
                        tracing::error!(error = %format!("{e:#}"), "forgetting the replay id");
                    }
                    if let Err(e) = self.handler.gap(&self.tenant).await {
                        tracing::warn!(tenant = %self.tenant, error = %format!("{e:#}"),
                            "the gap pass failed; the scheduled poll covers it");
                    }
                    backoff = Duration::from_secs(1);
                }
                Err(e) => {
                    tracing::warn!(tenant = %self.tenant, topic = %self.topic,
                        error = %format!("{e:#}"), retry_in = ?backoff, "Pub/Sub subscription interrupted");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.wait_for(|s| *s) => return,
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// The session to call with: a bearer from the credential, the org id from UserInfo.
    async fn credentials(&self, org_id: &mut Option<String>) -> Result<Session> {
        let credential = self
            .salesforce
            .credential
            .as_ref()
            .context("the salesforce connection has no credential")?;
        let token = credential
            .bearer()
            .await?
            .context("the salesforce connection has no token")?;
        let instance_url = self
            .salesforce
            .base_url
            .as_str()
            .trim_end_matches('/')
            .to_string();
        if org_id.is_none() {
            *org_id = Some(self.org_id(&instance_url, &token).await?);
        }
        Ok(Session {
            access_token: token,
            instance_url,
            org_id: org_id.clone().unwrap_or_default(),
        })
    }

    /// `GET /services/oauth2/userinfo`: the org the session belongs to.
    async fn org_id(&self, instance_url: &str, token: &str) -> Result<String> {
        let url = format!("{instance_url}/services/oauth2/userinfo");
        let answer: Value = reqwest::Client::new()
            .get(&url)
            .bearer_auth(token)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .with_context(|| format!("GET {url}"))?
            .error_for_status()
            .with_context(|| format!("GET {url}"))?
            .json()
            .await
            .context("UserInfo is not JSON")?;
        answer
            .get("organization_id")
            .and_then(Value::as_str)
            .map(str::to_string)
            .context("UserInfo has no organization_id")
    }

    async fn session(
        &self,
        org_id: &mut Option<String>,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Ended> {
        let session = self.credentials(org_id).await?;
        let mut pubsub = PubSub::connect(&self.endpoint).await?;
        let topic = match pubsub.topic(&session, &self.topic).await {
            Ok(t) => t,
            Err(status) => return Err(self.refused(&session, status)),
        };
        if !topic.can_subscribe {
            bail!("the integration user may not subscribe to {}", self.topic);
        }
        let stored = self.replays.get(&self.tenant, &self.topic)?;
        let first = FetchRequest {
            topic_name: self.topic.clone(),
            replay_preset: if stored.is_some() {
                ReplayPreset::Custom
            } else {
                ReplayPreset::Latest
            } as i32,
            replay_id: stored.unwrap_or_default(),
            num_requested: self.batch,
            auth_refresh: String::new(),
        };
        let (requests, outgoing) = mpsc::channel::<FetchRequest>(4);
        requests
            .send(first)
            .await
            .map_err(|_| anyhow!("request stream closed"))?;
        let mut responses = match pubsub
            .subscribe(
                &session,
                tokio_stream::wrappers::ReceiverStream::new(outgoing),
            )
            .await
        {
            Ok(s) => s,
            Err(status) => return Err(self.refused(&session, status)),
        };
        tracing::info!(tenant = %self.tenant, topic = %self.topic, "subscribed to the Pub/Sub API");
        let mut pending = self.batch;
        loop {
            let message = tokio::select! {
                m = responses.message() => m,
                _ = stop.wait_for(|s| *s) => return Ok(Ended::Stopped),
            };
            let response = match message {
                Ok(Some(r)) => r,
                Ok(None) => bail!("the server ended the subscription"),
                Err(status) if replay_expired(&status) => return Ok(Ended::ReplayExpired),
                Err(status) => return Err(self.refused(&session, status)),
            };
            // What arrived while the last batch was being handled goes to the component in one
            // run (one pass over the records, one QBO batch), up to `batch` events.
            let mut responses_now = vec![response];
            let mut held: usize = responses_now[0].events.len();
            while held < self.batch as usize {
                match tokio::time::timeout(Duration::ZERO, responses.message()).await {
                    Ok(Ok(Some(more))) => {
                        held += more.events.len();
                        responses_now.push(more);
                    }
                    // An end or an error comes up again on the next read, after these.
                    _ => break,
                }
            }
            let handled = self.handle(&mut pubsub, &session, &responses_now).await?;
            pending -= handled;
            if pending <= 0 {
                pending = self.batch;
                let more = FetchRequest {
                    topic_name: self.topic.clone(),
                    num_requested: self.batch,
                    ..FetchRequest::default()
                };
                requests
                    .send(more)
                    .await
                    .map_err(|_| anyhow!("request stream closed"))?;
            }
        }
    }

    /// Decodes, hands over and records responses that arrived together; returns how many
    /// events they held.
    async fn handle(
        &self,
        pubsub: &mut PubSub,
        session: &Session,
        responses: &[FetchResponse],
    ) -> Result<i32> {
        let mut events = Vec::new();
        for consumer in responses.iter().flat_map(|r| &r.events) {
            let event = consumer.event.as_ref().context("an event with no body")?;
            let schema = pubsub.schema(session, &event.schema_id).await?;
            let payload = event_json(schema, &event.payload)
                .with_context(|| format!("event {} on {}", event.id, self.topic))?;
            events.push(json!({"replayId": hex(&consumer.replay_id), "payload": payload}));
        }
        let count = events.len() as i32;
        if !events.is_empty() {
            self.handler
                .events(&self.tenant, Value::Array(events).to_string())
                .await?;
        }
        // The position after them: the last event's replay id, or the latest one a keepalive
        // carries (which keeps a quiet topic's position inside the retention window).
        let last = responses.iter().rev().find_map(|r| match r.events.last() {
            Some(e) => Some(&e.replay_id),
            None => (!r.latest_replay_id.is_empty()).then_some(&r.latest_replay_id),
        });
        if let Some(replay_id) = last {
            self.replays.put(&self.tenant, &self.topic, replay_id)?;
        }
        Ok(count)
    }

    /// A refused call as an error; a refused session also renews the token.
    fn refused(&self, session: &Session, status: tonic::Status) -> anyhow::Error {
        if status.code() == Code::Unauthenticated {
            if let Some(c) = &self.salesforce.credential {
                c.invalidate(&session.access_token);
            }
        }
        anyhow!(
            "Pub/Sub {} on {}: {:?} {}",
            self.tenant,
            self.topic,
            status.code(),
            status.message()
        )
    }
}

/// Salesforce's answer to a replay id outside the retention window.
fn replay_expired(status: &tonic::Status) -> bool {
    let code = status
        .metadata()
        .get("error-code")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    status.code() == Code::InvalidArgument
        && (code.contains("replayid") || status.message().contains("Replay ID validation failed"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expired_replay_id_is_told_from_other_refusals() {
        let mut expired = tonic::Status::invalid_argument(
            "The Replay ID validation failed. Ensure that the replay_id field value in FetchRequest is valid. rpcId: 1",
        );
        assert!(replay_expired(&expired));
        expired.metadata_mut().insert(
            "error-code",
            "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"
                .parse()
                .unwrap(),
        );
        assert!(replay_expired(&expired));
        assert!(!replay_expired(&tonic::Status::invalid_argument(
            "topic changed"
        )));
        assert!(!replay_expired(&tonic::Status::unauthenticated(
            "Replay ID validation failed"
        )));
        assert_eq!(hex(&[0, 0x1f, 0xab]), "001fab");
    }
}
