//! The `intuit-signature` header (api-facts A8):
//! `base64(HMAC-SHA256(key = verifier token as UTF-8, message = raw request body bytes))`.
//!
//! Verification recomputes the MAC over the exact bytes received and compares the decoded header
//! with it in constant time ([`subtle::ConstantTimeEq`]). It never looks at the parsed body, so it
//! runs before anything in the body is trusted. The scheme is the same for the legacy
//! `eventNotifications` and the CloudEvents payloads.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The header that carries the signature.
pub const HEADER: &str = "intuit-signature";

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// No `intuit-signature` header.
    #[error("the intuit-signature header is missing")]
    Missing,
    /// The header is not valid base64 (or not ASCII).
    #[error("the intuit-signature header is not base64")]
    NotBase64,
    /// The header decodes, but is not the HMAC of this body under this verifier token.
    #[error("the intuit-signature does not match the body")]
    Mismatch,
    /// The verifier token configured for the tenant is empty; nothing can verify against it.
    #[error("the verifier token is empty")]
    EmptyToken,
}

fn mac(verifier_token: &str, body: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length (long keys are hashed first), so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(verifier_token.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC-SHA256 accepts any key length"));
    mac.update(body);
    mac.finalize().into_bytes().into()
}

/// The `intuit-signature` value for `body` under `verifier_token`.
pub fn sign(verifier_token: &str, body: &[u8]) -> String {
    STANDARD.encode(mac(verifier_token, body))
}

/// Decodes a header value (surrounding whitespace is ignored).
pub fn decode(signature: &str) -> Result<Vec<u8>, SignatureError> {
    STANDARD
        .decode(signature.trim())
        .map_err(|_| SignatureError::NotBase64)
}

/// Checks a decoded signature against `body` in constant time.
pub fn verify_decoded(
    verifier_token: &str,
    body: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    if verifier_token.is_empty() {
        return Err(SignatureError::EmptyToken);
    }
    let expected = mac(verifier_token, body);
    // `ct_eq` on slices of different lengths is false; the length itself is not secret.
    if bool::from(expected.as_slice().ct_eq(signature)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// Checks an `intuit-signature` header value against `body`.
pub fn verify(verifier_token: &str, body: &[u8], signature: &str) -> Result<(), SignatureError> {
    verify_decoded(verifier_token, body, &decode(signature)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOTNET_TOKEN: &str = "00faeec4-08d0-4996-bb37-698ae19f0149";
    const DOTNET_BODY: &str = r#"{"eventNotifications":[{"realmId":"1269959970","dataChangeEvent":{"entities":[{"name":"Vendor","id":"40","operation":"Update","lastUpdated":"2016-10-05T03:09:04.000Z"},{"name":"Customer","id":"43","operation":"Create","lastUpdated":"2016-10-05T03:07:04.000Z"}]}}]}"#;
    const DOTNET_SIGNATURE: &str = "6q+xGyMirJupwKTh2/WBl2NcdxzxqdIbk3sneKTxLWM=";
    const PYTHON_SIGNATURE: &str = "nfPLN16u3vMvv08ghDs+dOkLuirEVDy5wAeG/lmM2OA=";

    #[test]
    fn the_dotnet_sdk_vector_verifies() {
        assert_eq!(sign(DOTNET_TOKEN, DOTNET_BODY.as_bytes()), DOTNET_SIGNATURE);
        assert_eq!(
            verify(DOTNET_TOKEN, DOTNET_BODY.as_bytes(), DOTNET_SIGNATURE),
            Ok(())
        );
    }

    #[test]
    fn the_python_quickbooks_vector_verifies() {
        assert_eq!(sign("verify_me", br#"{"stuff":"5"}"#), PYTHON_SIGNATURE);
        assert_eq!(
            verify("verify_me", br#"{"stuff":"5"}"#, PYTHON_SIGNATURE),
            Ok(())
        );
    }

    #[test]
    fn an_empty_body_with_another_bodys_signature_is_refused() {
        assert_eq!(
            verify("verify_me", b"", PYTHON_SIGNATURE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn a_signature_under_another_token_is_refused() {
        assert_eq!(
            verify("not_me", br#"{"stuff":"5"}"#, PYTHON_SIGNATURE),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn garbage_truncated_and_empty_headers_are_refused() {
        let body = br#"{"stuff":"5"}"#;
        assert_eq!(
            verify("verify_me", body, "not base64!"),
            Err(SignatureError::NotBase64)
        );
        assert_eq!(verify("verify_me", body, ""), Err(SignatureError::Mismatch));
        assert_eq!(
            verify("verify_me", body, &PYTHON_SIGNATURE[..21]),
            Err(SignatureError::NotBase64)
        );
        let short = STANDARD.encode(&decode(PYTHON_SIGNATURE).unwrap()[..16]);
        assert_eq!(
            verify("verify_me", body, &short),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn surrounding_whitespace_in_the_header_is_ignored() {
        let padded = format!("  {PYTHON_SIGNATURE}\t");
        assert_eq!(verify("verify_me", br#"{"stuff":"5"}"#, &padded), Ok(()));
    }

    #[test]
    fn an_empty_verifier_token_never_verifies() {
        let sig = sign("", b"x");
        assert_eq!(verify("", b"x", &sig), Err(SignatureError::EmptyToken));
    }
}
