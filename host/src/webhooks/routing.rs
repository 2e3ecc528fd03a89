//! Which tenant a webhook body belongs to, and whether to believe it.
//!
//! Intuit signs a delivery with the verifier token of the developer app, and one delivery may
//! name several realms (companies). The receiver knows, per realm, the tenant and that tenant's
//! verifier token ([`WebhookTenants`]). The order of trust is:
//!
//! 1. Read **only** the realm ids from the body ([`payload::realms`]) to pick candidate tokens.
//!    Nothing else in the body is used before step 2.
//! 2. Verify the signature against the raw bytes with the token of **every** tenant the body
//!    names. A body naming realms of two tenants with different tokens is refused unless it
//!    verifies for each (which, with honest tokens, it cannot); tenants of the same app share
//!    the token and pass together.
//! 3. Only then parse the events ([`payload::parse_value`]); a verified body that is not a valid
//!    payload is [`RouteError::Malformed`].
//! 4. Split the body per realm: a body naming one realm is kept byte for byte; otherwise each
//!    tenant gets the sub-body of its own realm ([`payload::body_for_realm`]), so no tenant sees
//!    another's events.
//!
//! When no realm id can be read (not JSON, an unknown shape, no events), the signature is
//! checked against each distinct configured token (at most [`MAX_FALLBACK_TOKENS`]): if one
//! verifies, the answer is `Malformed` (400) or, for a valid body without events, an empty
//! route; otherwise `BadSignature` (401). Realms no tenant serves are dropped and reported in
//! [`Routed::unrouted_realms`]; a body naming only such realms cannot be verified and is refused.

use super::payload::{self, Parsed, PayloadError, WebhookEvent};
use super::signature::{self, SignatureError};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

/// Most distinct tokens tried for a body whose realm cannot be read.
pub const MAX_FALLBACK_TOKENS: usize = 64;

/// Where a realm's webhooks go.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantRoute {
    /// The tenant id.
    pub tenant: String,
    /// The verifier token of the tenant's Intuit app.
    pub verifier_token: String,
}

impl std::fmt::Debug for TenantRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantRoute")
            .field("tenant", &self.tenant)
            .field("verifier_token", &"<redacted>")
            .finish()
    }
}

/// realm id → (tenant, verifier token), supplied by the daemon. Cloning shares the map, so the
/// daemon can add or remove a tenant while the receiver runs.
#[derive(Clone, Default, Debug)]
pub struct WebhookTenants {
    by_realm: Arc<RwLock<HashMap<String, TenantRoute>>>,
}

impl WebhookTenants {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Routes `realm` to `tenant`, whose webhooks are signed with `verifier_token`.
    pub fn insert(&self, realm: &str, tenant: &str, verifier_token: &str) {
        self.write().insert(
            realm.to_string(),
            TenantRoute {
                tenant: tenant.to_string(),
                verifier_token: verifier_token.to_string(),
            },
        );
    }

    /// Builder form of [`insert`](Self::insert).
    pub fn with(self, realm: &str, tenant: &str, verifier_token: &str) -> Self {
        self.insert(realm, tenant, verifier_token);
        self
    }

    /// Stops routing `realm`.
    pub fn remove(&self, realm: &str) -> Option<TenantRoute> {
        self.write().remove(realm)
    }

    /// The route of `realm`.
    pub fn get(&self, realm: &str) -> Option<TenantRoute> {
        self.read().get(realm).cloned()
    }

    /// How many realms are routed.
    pub fn len(&self) -> usize {
        self.read().len()
    }

    /// True when no realm is routed.
    pub fn is_empty(&self) -> bool {
        self.read().is_empty()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, TenantRoute>> {
        self.by_realm.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, HashMap<String, TenantRoute>> {
        self.by_realm.write().unwrap_or_else(|p| p.into_inner())
    }

    /// The distinct tenant ids, sorted.
    pub fn tenants(&self) -> Vec<String> {
        let mut t: Vec<String> = self.read().values().map(|r| r.tenant.clone()).collect();
        t.sort();
        t.dedup();
        t
    }

    /// Distinct tokens, for a body whose realm cannot be read.
    fn fallback_tokens(&self) -> Vec<TenantRoute> {
        let mut seen: Vec<TenantRoute> = Vec::new();
        let mut routes: Vec<TenantRoute> = self.read().values().cloned().collect();
        routes.sort_by(|a, b| a.tenant.cmp(&b.tenant));
        for r in routes {
            if !seen.iter().any(|s| s.verifier_token == r.verifier_token) {
                seen.push(r);
            }
        }
        seen
    }
}

/// The part of a delivery that goes to one tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoutedBody {
    /// The tenant.
    pub tenant: String,
    /// The realm.
    pub realm: String,
    /// What to store: the raw body, or the realm's sub-body when the delivery named several.
    pub body: Vec<u8>,
    /// The events in it.
    pub events: Vec<WebhookEvent>,
}

/// A verified, parsed, routed delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Routed {
    /// One entry per routed realm.
    pub bodies: Vec<RoutedBody>,
    /// Realms in the body that no tenant serves (their events are dropped).
    pub unrouted_realms: Vec<String>,
}

/// Why a delivery was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// No `intuit-signature` header.
    #[error("the intuit-signature header is missing")]
    MissingSignature,
    /// The signature does not verify for (every) tenant the body names.
    #[error("the signature does not verify for tenant {tenant}: {reason}")]
    BadSignature {
        /// The tenant it failed for (`unknown` when the realm could not be read).
        tenant: String,
        /// Why.
        reason: SignatureError,
    },
    /// The body names only realms no tenant serves.
    #[error("no tenant serves realm(s) {}", .0.join(", "))]
    UnknownRealm(Vec<String>),
    /// The signature verified but the body is not a valid payload.
    #[error("malformed webhook body for tenant {tenant}: {error}")]
    Malformed {
        /// The tenant whose token verified it.
        tenant: String,
        /// What is wrong, naming the field.
        error: PayloadError,
    },
}

impl RouteError {
    /// A short label for metrics and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            RouteError::MissingSignature => "missing_signature",
            RouteError::BadSignature { .. } => "bad_signature",
            RouteError::UnknownRealm(_) => "unknown_realm",
            RouteError::Malformed { .. } => "malformed",
        }
    }

    /// The tenant the error is attributed to, if any.
    pub fn tenant(&self) -> Option<&str> {
        match self {
            RouteError::BadSignature { tenant, .. } | RouteError::Malformed { tenant, .. }
                if tenant != UNKNOWN_TENANT =>
            {
                Some(tenant)
            }
            _ => None,
        }
    }
}

/// The tenant label used before a body is routed.
pub const UNKNOWN_TENANT: &str = "unknown";

/// Verifies, parses and routes one delivery (see the module docs for the order of trust).
pub fn route(
    tenants: &WebhookTenants,
    body: &[u8],
    signature_header: Option<&str>,
) -> Result<Routed, RouteError> {
    let header = signature_header.ok_or(RouteError::MissingSignature)?;
    let signature = signature::decode(header).map_err(|reason| RouteError::BadSignature {
        tenant: UNKNOWN_TENANT.into(),
        reason,
    })?;
    let json = payload::to_json(body);
    let realms = json
        .as_ref()
        .map_err(Clone::clone)
        .and_then(payload::realms);

    let (verified_by, unrouted) = match realms {
        Ok(realms) if !realms.is_empty() => {
            let mut routes: Vec<(String, TenantRoute)> = Vec::new();
            let mut unrouted = Vec::new();
            for realm in realms {
                match tenants.get(&realm) {
                    Some(r) => routes.push((realm, r)),
                    None => unrouted.push(realm),
                }
            }
            if routes.is_empty() {
                return Err(RouteError::UnknownRealm(unrouted));
            }
            // Every tenant named must verify; one check per distinct token.
            let mut checked: Vec<&str> = Vec::new();
            for (_, r) in &routes {
                if checked.contains(&r.verifier_token.as_str()) {
                    continue;
                }
                signature::verify_decoded(&r.verifier_token, body, &signature).map_err(
                    |reason| RouteError::BadSignature {
                        tenant: r.tenant.clone(),
                        reason,
                    },
                )?;
                checked.push(&r.verifier_token);
            }
            (routes, unrouted)
        }
        _ => {
            // No realm to pick a token by: find whose token (if any) signed it.
            let by = tenants
                .fallback_tokens()
                .into_iter()
                .take(MAX_FALLBACK_TOKENS)
                .find(|r| signature::verify_decoded(&r.verifier_token, body, &signature).is_ok())
                .ok_or_else(|| RouteError::BadSignature {
                    tenant: UNKNOWN_TENANT.into(),
                    reason: SignatureError::Mismatch,
                })?;
            let value = json.map_err(|error| RouteError::Malformed {
                tenant: by.tenant.clone(),
                error,
            })?;
            // A valid payload without events is accepted and routes nothing.
            return match payload::parse_value(&value) {
                Ok(parsed) if parsed.events.is_empty() => Ok(Routed {
                    bodies: Vec::new(),
                    unrouted_realms: Vec::new(),
                }),
                Ok(_) => Err(RouteError::Malformed {
                    tenant: by.tenant,
                    error: PayloadError::Shape {
                        field: "(body)".into(),
                        expected: "realm ids",
                    },
                }),
                Err(error) => Err(RouteError::Malformed {
                    tenant: by.tenant,
                    error,
                }),
            };
        }
    };

    // Verified: now the content may be read.
    let first_tenant = verified_by[0].1.tenant.clone();
    let malformed = |error| RouteError::Malformed {
        tenant: first_tenant.clone(),
        error,
    };
    let value = json.map_err(&malformed)?;
    let parsed: Parsed = payload::parse_value(&value).map_err(&malformed)?;
    let single_realm = verified_by.len() == 1 && unrouted.is_empty();
    let bodies = verified_by
        .into_iter()
        .map(|(realm, r)| {
            let events: Vec<WebhookEvent> = parsed
                .events
                .iter()
                .filter(|e| e.realm == realm)
                .cloned()
                .collect();
            let body = if single_realm {
                body.to_vec()
            } else {
                payload::body_for_realm(&value, &realm)
                    .to_string()
                    .into_bytes()
            };
            RoutedBody {
                tenant: r.tenant,
                realm,
                body,
                events,
            }
        })
        .collect();
    Ok(Routed {
        bodies,
        unrouted_realms: unrouted,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::signature::sign;

    fn legacy(realms: &[&str]) -> String {
        let ns: Vec<String> = realms
            .iter()
            .map(|r| {
                format!(
                    r#"{{"realmId":"{r}","dataChangeEvent":{{"entities":[{{"name":"Invoice","id":"1","operation":"Create","lastUpdated":"2024-01-01T00:00:00.000Z"}}]}}}}"#
                )
            })
            .collect();
        format!(r#"{{"eventNotifications":[{}]}}"#, ns.join(","))
    }

    fn tenants() -> WebhookTenants {
        WebhookTenants::new()
            .with("111", "acme", "token-a")
            .with("222", "globex", "token-b")
            .with("333", "acme-eu", "token-a")
    }

    #[test]
    fn a_body_signed_with_its_tenants_token_is_routed_byte_for_byte() {
        let body = legacy(&["111"]);
        let routed = route(
            &tenants(),
            body.as_bytes(),
            Some(&sign("token-a", body.as_bytes())),
        )
        .unwrap();
        assert_eq!(routed.bodies.len(), 1);
        assert_eq!(routed.bodies[0].tenant, "acme");
        assert_eq!(routed.bodies[0].body, body.as_bytes());
        assert_eq!(routed.bodies[0].events[0].entity, "Invoice");
    }

    #[test]
    fn a_body_signed_with_another_tenants_token_is_refused() {
        let body = legacy(&["111"]);
        let err = route(
            &tenants(),
            body.as_bytes(),
            Some(&sign("token-b", body.as_bytes())),
        )
        .unwrap_err();
        assert_eq!(
            err,
            RouteError::BadSignature {
                tenant: "acme".into(),
                reason: SignatureError::Mismatch
            }
        );
    }

    #[test]
    fn a_body_naming_two_tenants_with_different_tokens_is_refused() {
        let body = legacy(&["111", "222"]);
        for token in ["token-a", "token-b"] {
            let err = route(
                &tenants(),
                body.as_bytes(),
                Some(&sign(token, body.as_bytes())),
            )
            .unwrap_err();
            assert_eq!(err.reason(), "bad_signature");
        }
    }

    #[test]
    fn tenants_of_one_app_share_a_delivery_and_each_gets_only_its_realm() {
        let body = legacy(&["111", "333", "999"]);
        let routed = route(
            &tenants(),
            body.as_bytes(),
            Some(&sign("token-a", body.as_bytes())),
        )
        .unwrap();
        assert_eq!(routed.unrouted_realms, vec!["999"]);
        let got: Vec<(&str, Vec<String>)> = routed
            .bodies
            .iter()
            .map(|b| {
                let p = payload::parse(&b.body).unwrap();
                (
                    b.tenant.as_str(),
                    p.realms().iter().map(|s| s.to_string()).collect(),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("acme", vec!["111".to_string()]),
                ("acme-eu", vec!["333".to_string()])
            ]
        );
    }

    #[test]
    fn missing_header_unknown_realm_and_malformed_bodies() {
        let t = tenants();
        let body = legacy(&["111"]);
        assert_eq!(
            route(&t, body.as_bytes(), None),
            Err(RouteError::MissingSignature)
        );

        let stranger = legacy(&["999"]);
        assert_eq!(
            route(
                &t,
                stranger.as_bytes(),
                Some(&sign("token-a", stranger.as_bytes()))
            ),
            Err(RouteError::UnknownRealm(vec!["999".into()]))
        );

        // Not JSON, signed by a known token: 400; signed by nobody: 401.
        let junk = b"{not json";
        assert_eq!(
            route(&t, junk, Some(&sign("token-b", junk)))
                .unwrap_err()
                .reason(),
            "malformed"
        );
        assert_eq!(
            route(&t, junk, Some(&sign("forged", junk)))
                .unwrap_err()
                .reason(),
            "bad_signature"
        );

        // A readable realm but a broken entity: verified first, then 400 naming the field.
        let broken = r#"{"eventNotifications":[{"realmId":"111","dataChangeEvent":{"entities":[{"name":"Invoice","operation":"Create"}]}}]}"#;
        let err = route(
            &t,
            broken.as_bytes(),
            Some(&sign("token-a", broken.as_bytes())),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed webhook body for tenant acme: eventNotifications[0].dataChangeEvent.entities[0].id: expected a non-empty string id"
        );
        let err = route(
            &t,
            broken.as_bytes(),
            Some(&sign("token-b", broken.as_bytes())),
        )
        .unwrap_err();
        assert_eq!(err.reason(), "bad_signature");
    }

    #[test]
    fn an_empty_notification_list_is_accepted_and_routes_nothing() {
        let body = br#"{"eventNotifications":[]}"#;
        let routed = route(&tenants(), body, Some(&sign("token-b", body))).unwrap();
        assert!(routed.bodies.is_empty());
        assert_eq!(
            route(&tenants(), body, Some(&sign("nobody", body)))
                .unwrap_err()
                .reason(),
            "bad_signature"
        );
    }
}
