//! One `Subscribe` stream. The first `FetchRequest` names the topic and where to start (`LATEST`:
//! only events committed from now; `EARLIEST`: every retained event; `CUSTOM`: the events after
//! a replay id). Events go out only as far as the client has asked (`num_requested`, at most
//! 100 per request, added up over requests); later requests may only ask for more. While
//! requested events are pending and nothing happens, an empty response carrying the latest
//! replay id goes out every keepalive interval.

use super::proto::{ConsumerEvent, FetchRequest, FetchResponse, ProducerEvent, ReplayPreset};
use super::service::{Service, Topic};
use super::{errors, replay_bytes, replay_position};
use crate::salesforce::change_events::{ChangeEvent, Replay};
use tokio::sync::mpsc;
use tonic::{Code, Status, Streaming};

/// The most events one FetchRequest may ask for.
const MAX_REQUESTED: i32 = 100;

type Out = mpsc::Sender<Result<FetchResponse, Status>>;

/// Serves the stream until the client goes away; a refusal ends it with that status.
pub async fn run(service: Service, mut inbound: Streaming<FetchRequest>, out: Out) {
    if let Err(status) = follow(&service, &mut inbound, &out).await {
        let _ = out.send(Err(status)).await;
    }
}

async fn follow(
    service: &Service,
    inbound: &mut Streaming<FetchRequest>,
    out: &Out,
) -> Result<(), Status> {
    let Ok(Some(first)) = inbound.message().await else {
        return Ok(());
    };
    let topic = service.topic(&first.topic_name)?;
    let mut position = start(service, &first)?;
    let mut pending = first.num_requested.clamp(0, MAX_REQUESTED);
    loop {
        // Registered before the log is read, so a change committed meanwhile still wakes us.
        let notified = service.emu.events_notify().notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if pending > 0 {
            let (events, next) = read(service, &topic, position, pending as usize)?;
            position = next;
            if !events.is_empty() {
                pending -= events.len() as i32;
                let response = FetchResponse {
                    events,
                    latest_replay_id: replay_bytes(position),
                    rpc_id: uuid::Uuid::new_v4().to_string(),
                    pending_num_requested: pending,
                };
                if out.send(Ok(response)).await.is_err() {
                    return Ok(());
                }
                continue;
            }
        }
        tokio::select! {
            _ = &mut notified => {}
            message = inbound.message() => match message {
                Ok(Some(more)) => {
                    if !more.topic_name.is_empty() && more.topic_name != first.topic_name {
                        return Err(errors::status(
                            Code::InvalidArgument,
                            "The topic name in a FetchRequest must be the one of the first FetchRequest of the stream.",
                            None,
                        ));
                    }
                    pending += more.num_requested.clamp(0, MAX_REQUESTED);
                }
                _ => return Ok(()),
            },
            _ = tokio::time::sleep(service.config.keepalive), if pending > 0 => {
                let keepalive = FetchResponse {
                    events: Vec::new(),
                    latest_replay_id: replay_bytes(position),
                    rpc_id: uuid::Uuid::new_v4().to_string(),
                    pending_num_requested: pending,
                };
                if out.send(Ok(keepalive)).await.is_err() {
                    return Ok(());
                }
            }
            _ = out.closed() => return Ok(()),
        }
    }
}

/// The log position the first request starts after.
fn start(service: &Service, first: &FetchRequest) -> Result<u64, Status> {
    let from = match ReplayPreset::try_from(first.replay_preset) {
        Ok(ReplayPreset::Latest) => Replay::Latest,
        Ok(ReplayPreset::Earliest) => Replay::Earliest,
        Ok(ReplayPreset::Custom) => {
            Replay::After(replay_position(&first.replay_id).ok_or_else(errors::replay_id_invalid)?)
        }
        Err(_) => {
            return Err(errors::status(
                Code::InvalidArgument,
                &format!("Unknown replay_preset {}.", first.replay_preset),
                None,
            ))
        }
    };
    service.emu.with_org(|org| {
        org.events.purge(org.now);
        // Reading nothing validates the position and says where it is.
        match org.events.read(None, from, 0) {
            Ok((_, position)) => Ok(match from {
                Replay::After(id) => id,
                _ => position,
            }),
            Err(_) => Err(errors::replay_id_invalid()),
        }
    })
}

/// Up to `limit` events of the topic after `position`, encoded, and the position after them.
fn read(
    service: &Service,
    topic: &Topic,
    position: u64,
    limit: usize,
) -> Result<(Vec<ConsumerEvent>, u64), Status> {
    let (events, next): (Vec<ChangeEvent>, u64) = service.emu.with_org(|org| {
        org.events.purge(org.now);
        org.events
            .read(topic.entity.as_deref(), Replay::After(position), limit)
            .map(|(events, next)| (events.into_iter().cloned().collect(), next))
            .map_err(|_| errors::replay_id_invalid())
    })?;
    let mut out = Vec::with_capacity(events.len());
    for e in events {
        let schema = match &topic.schema {
            Some(s) => s.clone(),
            None => service.schema_of(&e.entity)?,
        };
        let payload = schema
            .encode(&e.payload)
            .map_err(|err| Status::internal(format!("event {}: {err:#}", e.replay_id)))?;
        out.push(ConsumerEvent {
            event: Some(ProducerEvent {
                id: e.uuid,
                schema_id: schema.id.clone(),
                payload,
                headers: Vec::new(),
            }),
            replay_id: replay_bytes(e.replay_id),
        });
    }
    Ok((out, next))
}
