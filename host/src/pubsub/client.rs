//! A Pub/Sub API connection: the gRPC channel (TLS with the web PKI roots for `https`, plaintext
//! only to loopback, as the config enforces), the session metadata Salesforce requires on every
//! call (`accesstoken`, `instanceurl`, `tenantid`), and the event schemas, fetched once per
//! schema id.

use super::proto::pub_sub_client::PubSubClient;
use super::proto::{FetchRequest, FetchResponse, SchemaRequest, TopicInfo, TopicRequest};
use anyhow::{Context, Result};
use apache_avro::Schema;
use std::collections::HashMap;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status, Streaming};
use url::Url;

/// Who the calls are made as: the tenant's Salesforce session.
#[derive(Clone)]
pub struct Session {
    /// The bearer token (never logged).
    pub access_token: String,
    /// The org's instance URL.
    pub instance_url: String,
    /// The org id (`tenantid`).
    pub org_id: String,
}

impl Session {
    fn request<T>(&self, message: T) -> Result<Request<T>, Status> {
        let mut request = Request::new(message);
        let metadata = request.metadata_mut();
        for (key, value) in [
            ("accesstoken", &self.access_token),
            ("instanceurl", &self.instance_url),
            ("tenantid", &self.org_id),
        ] {
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| Status::invalid_argument(format!("{key} is not a header value")))?;
            metadata.insert(key, value);
        }
        Ok(request)
    }
}

/// One channel to the Pub/Sub endpoint and the schemas seen on it.
pub struct PubSub {
    client: PubSubClient<Channel>,
    schemas: HashMap<String, Schema>,
}

impl PubSub {
    /// Connects to `endpoint` (`https://api.pubsub.salesforce.com:7443`, or an emulator).
    pub async fn connect(endpoint: &Url) -> Result<Self> {
        let mut builder = Endpoint::from_shared(endpoint.to_string())
            .with_context(|| format!("Pub/Sub endpoint {endpoint}"))?
            .connect_timeout(std::time::Duration::from_secs(10))
            .http2_keep_alive_interval(std::time::Duration::from_secs(30))
            .keep_alive_while_idle(true);
        if endpoint.scheme() == "https" {
            builder = builder
                .tls_config(ClientTlsConfig::new().with_webpki_roots())
                .context("TLS for the Pub/Sub endpoint")?;
        }
        let channel = builder
            .connect()
            .await
            .with_context(|| format!("connecting to the Pub/Sub API at {endpoint}"))?;
        Ok(Self {
            client: PubSubClient::new(channel),
            schemas: HashMap::new(),
        })
    }

    /// `GetTopic`.
    pub async fn topic(&mut self, session: &Session, name: &str) -> Result<TopicInfo, Status> {
        let request = session.request(TopicRequest {
            topic_name: name.to_string(),
        })?;
        Ok(self.client.get_topic(request).await?.into_inner())
    }

    /// The Avro schema `id` names (`GetSchema` the first time).
    pub async fn schema(&mut self, session: &Session, id: &str) -> Result<&Schema> {
        if !self.schemas.contains_key(id) {
            let request = session.request(SchemaRequest {
                schema_id: id.to_string(),
            })?;
            let info = self
                .client
                .get_schema(request)
                .await
                .with_context(|| format!("GetSchema {id}"))?
                .into_inner();
            let schema = Schema::parse_str(&info.schema_json)
                .with_context(|| format!("schema {id} is not an Avro schema"))?;
            self.schemas.insert(id.to_string(), schema);
        }
        self.schemas
            .get(id)
            .with_context(|| format!("schema {id} was not kept"))
    }

    /// `Subscribe`: the fetch requests go out as `requests` yields them.
    pub async fn subscribe(
        &mut self,
        session: &Session,
        requests: impl tokio_stream::Stream<Item = FetchRequest> + Send + 'static,
    ) -> Result<Streaming<FetchResponse>, Status> {
        let request = session.request(requests)?;
        Ok(self.client.subscribe(request).await?.into_inner())
    }
}
