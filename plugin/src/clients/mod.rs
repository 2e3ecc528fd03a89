//! Thin clients of the two APIs and the notification hook, over [`crate::platform::Http`]: they
//! speak each API's JSON and turn every answer into a value or an [`ApiError`].

pub mod error;
pub mod json;
pub mod notify;
pub mod quickbooks;
pub mod quickbooks_json;
pub mod salesforce;
pub mod salesforce_fields;
pub mod salesforce_json;
pub mod transport;

pub use error::ApiError;
pub use quickbooks::{BatchOp, Quickbooks};
pub use salesforce::Salesforce;
