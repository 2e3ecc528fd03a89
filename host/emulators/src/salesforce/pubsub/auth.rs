//! Every Pub/Sub call carries the session in gRPC metadata: `accesstoken` (a live REST API
//! session of the org), `instanceurl` and `tenantid` (the org id, or `core/<MyDomain>/<OrgId>`).

use super::super::SalesforceEmulator;
use super::errors;
use tonic::metadata::MetadataMap;
use tonic::Status;

/// Checks the session metadata of a call: the token is live (which also keeps it alive, as an
/// API call does) and the tenant is this org.
pub fn check(emu: &SalesforceEmulator, metadata: &MetadataMap) -> Result<(), Status> {
    let get = |key: &str| {
        metadata
            .get(key)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let (Some(token), Some(instance), Some(tenant)) =
        (get("accesstoken"), get("instanceurl"), get("tenantid"))
    else {
        return Err(errors::unauthenticated());
    };
    if url::Url::parse(instance).is_err() {
        return Err(errors::unauthenticated());
    }
    let now = emu.clock().now();
    emu.with_org(|org| {
        let ttl = org.config.session_ttl_secs;
        org.sessions
            .check(token, now, ttl)
            .map_err(|_| errors::unauthenticated())?;
        let org_id = tenant.rsplit('/').next().unwrap_or_default();
        let same_org = org_id == org.org_id || org.org_id.get(..15) == Some(org_id);
        if same_org {
            Ok(())
        } else {
            Err(errors::unauthenticated())
        }
    })
}
