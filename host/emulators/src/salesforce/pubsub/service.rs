//! The RPCs. Change events cannot be published (`Publish` and `PublishStream` are for platform
//! events) and managed subscriptions are not emulated: those answer UNIMPLEMENTED.

use super::avro::EventSchema;
use super::proto::pub_sub_server::PubSub;
use super::proto::{
    FetchRequest, FetchResponse, ManagedFetchRequest, ManagedFetchResponse, PublishRequest,
    PublishResponse, SchemaInfo, SchemaRequest, TopicInfo, TopicRequest,
};
use super::{auth, errors, subscription, PubSubConfig};
use crate::salesforce::change_events::channel_entity;
use crate::salesforce::SalesforceEmulator;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::Stream;
use tonic::{Request, Response, Status, Streaming};

/// A channel resolved against the org.
pub struct Topic {
    /// As the client named it.
    pub name: String,
    /// The object whose changes it carries; `None` for `/data/ChangeEvents` (all of them).
    pub entity: Option<String>,
    /// Its schema (none for `/data/ChangeEvents`: each event names its own).
    pub schema: Option<Arc<EventSchema>>,
}

/// The schemas handed out so far, by object and by id.
#[derive(Default)]
struct Schemas {
    by_entity: HashMap<String, Arc<EventSchema>>,
    by_id: HashMap<String, Arc<EventSchema>>,
}

/// The service: the emulator, its settings and the schema registry.
#[derive(Clone)]
pub struct Service {
    pub(super) emu: SalesforceEmulator,
    pub(super) config: PubSubConfig,
    schemas: Arc<Mutex<Schemas>>,
}

impl Service {
    pub fn new(emu: SalesforceEmulator, config: PubSubConfig) -> Self {
        Self {
            emu,
            config,
            schemas: Arc::default(),
        }
    }

    /// The schema of `entity`'s change events.
    pub fn schema_of(&self, entity: &str) -> Result<Arc<EventSchema>, Status> {
        let mut schemas = self.schemas.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = schemas.by_entity.get(entity) {
            return Ok(s.clone());
        }
        let def = self
            .emu
            .with_org(|org| org.schema.object(entity).cloned())
            .ok_or_else(|| Status::internal(format!("no object {entity}")))?;
        let schema =
            Arc::new(EventSchema::of(&def).map_err(|e| Status::internal(format!("{e:#}")))?);
        schemas.by_entity.insert(entity.to_string(), schema.clone());
        schemas.by_id.insert(schema.id.clone(), schema.clone());
        Ok(schema)
    }

    /// The channel `name` names.
    pub fn topic(&self, name: &str) -> Result<Topic, Status> {
        if !name.starts_with("/data/") {
            return Err(errors::topic_not_found(name));
        }
        let entity = self
            .emu
            .with_org(|org| channel_entity(org, name))
            .map_err(|_| errors::topic_not_found(name))?;
        let schema = entity.as_deref().map(|e| self.schema_of(e)).transpose()?;
        Ok(Topic {
            name: name.to_string(),
            entity,
            schema,
        })
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

fn rpc_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

#[tonic::async_trait]
impl PubSub for Service {
    type SubscribeStream = ReceiverStream<Result<FetchResponse, Status>>;
    type PublishStreamStream = BoxStream<PublishResponse>;
    type ManagedSubscribeStream = BoxStream<ManagedFetchResponse>;

    async fn get_topic(
        &self,
        request: Request<TopicRequest>,
    ) -> Result<Response<TopicInfo>, Status> {
        auth::check(&self.emu, request.metadata())?;
        let name = request.into_inner().topic_name;
        let topic = self.topic(&name)?;
        Ok(Response::new(TopicInfo {
            topic_name: topic.name,
            tenant_guid: self.emu.org_id(),
            can_publish: false,
            can_subscribe: true,
            schema_id: topic.schema.map(|s| s.id.clone()).unwrap_or_default(),
            rpc_id: rpc_id(),
        }))
    }

    async fn get_schema(
        &self,
        request: Request<SchemaRequest>,
    ) -> Result<Response<SchemaInfo>, Status> {
        auth::check(&self.emu, request.metadata())?;
        let id = request.into_inner().schema_id;
        let schema = self
            .schemas
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .by_id
            .get(&id)
            .cloned()
            .ok_or_else(|| {
                errors::status(
                    tonic::Code::NotFound,
                    &format!("Schema not found: {id}."),
                    None,
                )
            })?;
        Ok(Response::new(SchemaInfo {
            schema_json: schema.json.clone(),
            schema_id: schema.id.clone(),
            rpc_id: rpc_id(),
        }))
    }

    async fn subscribe(
        &self,
        request: Request<Streaming<FetchRequest>>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        auth::check(&self.emu, request.metadata())?;
        let inbound = request.into_inner();
        let (out, responses) = mpsc::channel(4);
        tokio::spawn(subscription::run(self.clone(), inbound, out));
        Ok(Response::new(ReceiverStream::new(responses)))
    }

    async fn publish(
        &self,
        _: Request<PublishRequest>,
    ) -> Result<Response<PublishResponse>, Status> {
        Err(Status::unimplemented(
            "the emulator serves change events, which cannot be published",
        ))
    }

    async fn publish_stream(
        &self,
        _: Request<Streaming<PublishRequest>>,
    ) -> Result<Response<Self::PublishStreamStream>, Status> {
        Err(Status::unimplemented(
            "the emulator serves change events, which cannot be published",
        ))
    }

    async fn managed_subscribe(
        &self,
        _: Request<Streaming<ManagedFetchRequest>>,
    ) -> Result<Response<Self::ManagedSubscribeStream>, Status> {
        Err(Status::unimplemented(
            "managed subscriptions are not emulated; use Subscribe",
        ))
    }
}
