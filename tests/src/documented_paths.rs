//! The paths the real APIs have, per connection: every request the component makes in an
//! end-to-end test is checked against them when the test's company is dropped, so the plugin
//! cannot come to depend on a resource only the emulators serve (as it once did on a change
//! event stand-in). Patterns are `METHOD /segment/...`, where `{}` is any one segment and
//! `{version}` is `vNN.N`.

use ledgerlink_emulators::RequestRecord;

/// Salesforce REST (api-facts B): resources under `/services/data/vNN.N` and OAuth.
const SALESFORCE: &[&str] = &[
    "POST /services/oauth2/token",
    "GET /services/oauth2/userinfo",
    "GET /services/data",
    "GET /services/data/{version}",
    "GET /services/data/{version}/limits",
    "GET /services/data/{version}/query",
    "GET /services/data/{version}/query/{}",
    "GET /services/data/{version}/queryAll",
    "GET /services/data/{version}/sobjects",
    "GET /services/data/{version}/sobjects/{}/describe",
    "POST /services/data/{version}/sobjects/{}",
    "GET /services/data/{version}/sobjects/{}/updated",
    "GET /services/data/{version}/sobjects/{}/deleted",
    "GET /services/data/{version}/sobjects/{}/{}",
    "PATCH /services/data/{version}/sobjects/{}/{}",
    "DELETE /services/data/{version}/sobjects/{}/{}",
    "GET /services/data/{version}/sobjects/{}/{}/{}",
    "PATCH /services/data/{version}/sobjects/{}/{}/{}",
    "POST /services/data/{version}/composite",
    "POST /services/data/{version}/composite/batch",
    "POST /services/data/{version}/composite/sobjects",
    "PATCH /services/data/{version}/composite/sobjects",
    "DELETE /services/data/{version}/composite/sobjects",
    "POST /services/data/{version}/composite/sobjects/{}",
    "PATCH /services/data/{version}/composite/sobjects/{}/{}",
];

/// QBO Accounting API (api-facts A): `/v3/company/{realm}/...` over its documented entities,
/// and Intuit's OAuth and OpenID endpoints.
const QUICKBOOKS: &[&str] = &[
    "POST /oauth2/v1/tokens/bearer",
    "POST /oauth2/v1/tokens/revoke",
    "GET /.well-known/openid_configuration",
    "GET /v1/openid_connect/userinfo",
    "GET /v3/company/{}/query",
    "POST /v3/company/{}/query",
    "GET /v3/company/{}/cdc",
    "POST /v3/company/{}/batch",
    "GET /v3/company/{}/preferences",
    "GET /v3/company/{}/exchangerate",
    "POST /v3/company/{}/{entity}",
    "GET /v3/company/{}/{entity}/{}",
    "POST /v3/company/{}/invoice/{}/send",
    "GET /v3/company/{}/invoice/{}/pdf",
    "GET /v3/company/{}/reports/{}",
];

/// The QBO entities whose resource is `/v3/company/{realm}/<entity>` (lower case).
const QBO_ENTITIES: &[&str] = &[
    "account",
    "bill",
    "class",
    "companyinfo",
    "creditmemo",
    "customer",
    "department",
    "deposit",
    "employee",
    "estimate",
    "invoice",
    "item",
    "journalentry",
    "payment",
    "paymentmethod",
    "purchase",
    "recurringtransaction",
    "refundreceipt",
    "salesreceipt",
    "taxcode",
    "taxrate",
    "term",
    "vendor",
];

fn segment_matches(pattern: &str, segment: &str) -> bool {
    match pattern {
        "{}" => !segment.is_empty(),
        "{version}" => segment
            .strip_prefix('v')
            .and_then(|v| v.split_once('.'))
            .is_some_and(|(major, minor)| {
                !major.is_empty()
                    && major.bytes().all(|b| b.is_ascii_digit())
                    && minor.bytes().all(|b| b.is_ascii_digit())
            }),
        "{entity}" => QBO_ENTITIES.contains(&segment),
        literal => literal == segment,
    }
}

/// True when `method path` is one of `patterns` (a trailing slash is ignored).
pub fn documented(patterns: &[&str], method: &str, path: &str) -> bool {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    patterns.iter().any(|p| {
        let Some((m, shape)) = p.split_once(' ') else {
            return false;
        };
        let parts: Vec<&str> = shape.split('/').skip(1).collect();
        m == method
            && parts.len() == segments.len()
            && parts
                .iter()
                .zip(&segments)
                .all(|(p, s)| segment_matches(p, s))
    })
}

/// The requests among `salesforce` and `quickbooks` that no real API has, as `METHOD path`.
pub fn undocumented(salesforce: &[RequestRecord], quickbooks: &[RequestRecord]) -> Vec<String> {
    let check = |patterns: &[&str], log: &[RequestRecord], name: &str| -> Vec<String> {
        log.iter()
            .filter(|r| !documented(patterns, &r.method, &r.path))
            .map(|r| format!("{name}: {} {}", r.method, r.path))
            .collect()
    };
    let mut out = check(SALESFORCE, salesforce, "salesforce");
    out.extend(check(QUICKBOOKS, quickbooks, "quickbooks"));
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_paths_pass_and_invented_ones_do_not() {
        for (method, path) in [
            ("GET", "/services/data/v61.0/query"),
            ("GET", "/services/data/v61.0/query/01gD0000002HU6KIAW-2000"),
            ("GET", "/services/data/v61.0/sobjects/Account/updated/"),
            (
                "PATCH",
                "/services/data/v61.0/composite/sobjects/Opportunity/Ext__c",
            ),
            ("GET", "/services/oauth2/userinfo"),
        ] {
            assert!(documented(SALESFORCE, method, path), "{method} {path}");
        }
        for (method, path) in [
            ("GET", "/services/data/v61.0/ledgerlink/change-events"),
            ("GET", "/services/data/latest/query"),
            ("POST", "/services/data/v61.0/query"),
        ] {
            assert!(!documented(SALESFORCE, method, path), "{method} {path}");
        }
        assert!(documented(
            QUICKBOOKS,
            "POST",
            "/v3/company/1/invoice/42/send"
        ));
        assert!(documented(QUICKBOOKS, "GET", "/v3/company/1/payment/7"));
        assert!(!documented(QUICKBOOKS, "POST", "/v3/company/1/widget"));
        assert!(!documented(
            QUICKBOOKS,
            "GET",
            "/v3/company/1/_ledgerlink/changes"
        ));
    }
}
