//! Pub/Sub API errors as Salesforce returns them: a gRPC status whose message ends with
//! `rpcId: <id>`, and the custom error code in the `error-code` trailer (Pub/Sub API guide,
//! "Handle Errors"). Unknown topics carry no error code: the public list names none for them.

use tonic::{Code, Status};

/// The trailer code of a refused session.
pub const AUTH_ERROR: &str = "sfdc.platform.eventbus.grpc.service.auth.error";
/// The trailer code of a replay id the server does not retain (or never issued).
pub const REPLAY_ID_CORRUPTED: &str =
    "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted";

/// A status with `message`, the rpc id and, when given, the error code trailer.
pub fn status(code: Code, message: &str, error_code: Option<&str>) -> Status {
    let rpc_id = uuid::Uuid::new_v4();
    let mut status = Status::new(code, format!("{message} rpcId: {rpc_id}"));
    if let Ok(v) = rpc_id.to_string().parse() {
        status.metadata_mut().insert("rpc-id", v);
    }
    if let Some(Ok(v)) = error_code.map(str::parse) {
        status.metadata_mut().insert("error-code", v);
    }
    status
}

/// The session metadata is missing or names no live session.
pub fn unauthenticated() -> Status {
    status(
        Code::Unauthenticated,
        "An authentication exception occurred. Provide valid authentication via metadata headers.",
        Some(AUTH_ERROR),
    )
}

/// A replay id outside the retention window, or one this org never issued.
pub fn replay_id_invalid() -> Status {
    status(
        Code::InvalidArgument,
        "The Replay ID validation failed. Ensure that the replay_id field value in FetchRequest is valid.",
        Some(REPLAY_ID_CORRUPTED),
    )
}

/// A topic the org does not have.
pub fn topic_not_found(topic: &str) -> Status {
    status(Code::NotFound, &format!("Topic not found: {topic}."), None)
}
