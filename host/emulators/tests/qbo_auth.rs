//! The QBO emulator's OAuth endpoints, bearer checks and throttling.

mod qbo_support;

/// Named `qbo` so that `cargo test -p ledgerlink-emulators qbo` selects these tests.
mod qbo {
    use crate::qbo_support::{config, fixture_path, Qbo};
    use serde_json::{json, Value};

    fn token_request(qbo: &Qbo, form: &[(&str, &str)]) -> (u16, Value) {
        let c = qbo.emu.config();
        let resp = qbo
            .http
            .post(format!("{}/oauth2/v1/tokens/bearer", qbo.base()))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .header("Accept", "application/json")
            .form(form)
            .send()
            .unwrap();
        (resp.status().as_u16(), resp.json().unwrap())
    }

    #[test]
    fn missing_or_unknown_tokens_get_the_gateway_401_and_other_realms_403() {
        let qbo = Qbo::start();
        let resp = qbo.http.get(qbo.url("customer/1")).send().unwrap();
        assert_eq!(resp.status(), 401);
        let body: Value = resp.json().unwrap();
        assert_eq!(body["fault"]["error"][0]["code"], "3200");
        assert_eq!(body["fault"]["type"], "AUTHENTICATION");
        assert_eq!(
            body["fault"]["error"][0]["message"],
            "message=AuthenticationFailed; errorCode=003200; statusCode=401"
        );
        let resp = qbo
            .http
            .get(qbo.url("customer/1"))
            .bearer_auth("not-a-token")
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401);

        let other = qbo
            .http
            .get(format!("{}/v3/company/123/customer/1", qbo.base()))
            .bearer_auth(&qbo.token)
            .send()
            .unwrap();
        assert_eq!(other.status(), 403);
        let body: Value = other.json().unwrap();
        assert_eq!(body["fault"]["error"][0]["code"], "3100");
    }

    #[test]
    fn access_token_expires_after_an_hour_and_refresh_gives_a_new_one() {
        let qbo = Qbo::start();
        assert_eq!(qbo.get("preferences").0, 200);
        qbo.emu.clock().advance(chrono::Duration::seconds(3601));
        let resp = qbo
            .http
            .get(qbo.url("preferences"))
            .bearer_auth(&qbo.token)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401);

        let (status, body) = token_request(
            &qbo,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &qbo.refresh_token),
            ],
        );
        assert_eq!(status, 200, "{body}");
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(fixture_path("oauth/token_response.json")).unwrap(),
        )
        .unwrap();
        for key in [
            "token_type",
            "expires_in",
            "refresh_token",
            "x_refresh_token_expires_in",
            "access_token",
        ] {
            assert!(body.get(key).is_some(), "{key} in {body}");
            assert_eq!(
                std::mem::discriminant(&body[key]),
                std::mem::discriminant(&expected[key]),
                "{key}"
            );
        }
        assert!(
            body.get("id_token").is_none(),
            "no id_token: intuitlib would try to validate it"
        );
        assert_eq!(body["expires_in"], 3600);
        let fresh = body["access_token"].as_str().unwrap();
        let resp = qbo
            .http
            .get(qbo.url("preferences"))
            .bearer_auth(fresh)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
    }

    #[test]
    fn refresh_tokens_rotate_and_the_old_one_is_invalid_grant() {
        let qbo = Qbo::start();
        let (status, first) = token_request(
            &qbo,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &qbo.refresh_token),
            ],
        );
        assert_eq!(status, 200);
        assert_ne!(first["refresh_token"], qbo.refresh_token.as_str());
        let (status, body) = token_request(
            &qbo,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &qbo.refresh_token),
            ],
        );
        assert_eq!(status, 400);
        assert_eq!(body["error"], "invalid_grant");
        assert!(body["error_description"].is_string());
        let (status, _) = token_request(
            &qbo,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ],
        );
        assert_eq!(status, 200);

        // Wrong client credentials.
        let resp = qbo
            .http
            .post(format!("{}/oauth2/v1/tokens/bearer", qbo.base()))
            .basic_auth("x", Some("y"))
            .form(&[("grant_type", "refresh_token"), ("refresh_token", "z")])
            .send()
            .unwrap();
        assert_eq!(resp.status(), 401);
    }

    #[test]
    fn authorization_code_flow_discovery_userinfo_and_revoke() {
        let qbo = Qbo::start();
        let resp = qbo
            .http
            .get(format!("{}/.well-known/openid_configuration", qbo.base()))
            .send()
            .unwrap();
        let discovery: Value = resp.json().unwrap();
        assert_eq!(
            discovery["token_endpoint"],
            format!("{}/oauth2/v1/tokens/bearer", qbo.base())
        );
        assert_eq!(
            discovery["revocation_endpoint"],
            format!("{}/v2/oauth2/tokens/revoke", qbo.base())
        );

        let c = qbo.emu.config().clone();
        let resp = qbo
            .http
            .get(discovery["authorization_endpoint"].as_str().unwrap())
            .query(&[
                ("client_id", c.client_id.as_str()),
                ("response_type", "code"),
                ("scope", "com.intuit.quickbooks.accounting"),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
                ("state", "xyz"),
            ])
            .send()
            .unwrap();
        assert_eq!(resp.status(), 302);
        let location = url::Url::parse(resp.headers()["location"].to_str().unwrap()).unwrap();
        let params: std::collections::HashMap<_, _> = location.query_pairs().into_owned().collect();
        assert_eq!(params["state"], "xyz");
        assert_eq!(params["realmId"], qbo.realm);
        let (status, tokens) = token_request(
            &qbo,
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
            ],
        );
        assert_eq!(status, 200, "{tokens}");
        let (status, _) = token_request(
            &qbo,
            &[
                ("grant_type", "authorization_code"),
                ("code", &params["code"]),
                ("redirect_uri", "http://127.0.0.1:1/callback"),
            ],
        );
        assert_eq!(status, 400, "a code is used once");

        let access = tokens["access_token"].as_str().unwrap();
        let resp = qbo
            .http
            .get(format!("{}/v1/openid_connect/userinfo", qbo.base()))
            .bearer_auth(access)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);

        let resp = qbo
            .http
            .post(format!("{}/v2/oauth2/tokens/revoke", qbo.base()))
            .basic_auth(&c.client_id, Some(&c.client_secret))
            .json(&json!({"token": tokens["refresh_token"]}))
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let resp = qbo
            .http
            .get(qbo.url("preferences"))
            .bearer_auth(access)
            .send()
            .unwrap();
        assert_eq!(
            resp.status(),
            401,
            "revoking the refresh token ends the grant"
        );
        let (status, body) = token_request(
            &qbo,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_grant"))
        );
    }

    #[test]
    fn throttles_after_ten_requests_a_second_with_the_xml_fault() {
        let mut c = config();
        c.rate_limits.enabled = true;
        let qbo = Qbo::start_with(c);
        let fixture = std::fs::read_to_string(fixture_path("qbo/throttle_error_429.xml")).unwrap();
        // Hold the emulated second still: the clock only moves when told to, plus real time; advance
        // once to a fresh window, then fire quickly.
        for i in 0..10 {
            let resp = qbo
                .http
                .get(qbo.url("preferences"))
                .bearer_auth(&qbo.token)
                .send()
                .unwrap();
            if resp.status() == 429 {
                panic!("throttled at request {i}");
            }
        }
        let resp = qbo
            .http
            .get(qbo.url("preferences"))
            .bearer_auth(&qbo.token)
            .header("Accept", "application/json")
            .send()
            .unwrap();
        assert_eq!(resp.status(), 429);
        let body = resp.text().unwrap();
        let strip_time = |s: &str| {
            let start = s.find("time=\"").unwrap();
            let end = s[start + 6..].find('"').unwrap() + start + 6;
            format!("{}{}", &s[..start], &s[end + 1..])
                .trim()
                .to_string()
        };
        assert_eq!(strip_time(&body), strip_time(&fixture));

        qbo.emu.clock().advance(chrono::Duration::seconds(2));
        let resp = qbo
            .http
            .get(qbo.url("preferences"))
            .bearer_auth(&qbo.token)
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200, "a new second, a new allowance");
    }

    #[test]
    fn batches_are_throttled_at_forty_a_minute() {
        let mut c = config();
        c.rate_limits = ledgerlink_emulators::qbo::RateLimits {
            per_second: 1000,
            ..Default::default()
        };
        let qbo = Qbo::start_with(c);
        let batch = json!({"BatchItemRequest": [{"bId": "1", "Query": "select * from Term"}]});
        for _ in 0..40 {
            assert_eq!(qbo.post("batch", &batch).0, 200);
        }
        assert_eq!(qbo.post("batch", &batch).0, 429);
        assert_eq!(qbo.get("preferences").0, 200, "plain requests still pass");
        qbo.emu.clock().advance(chrono::Duration::seconds(61));
        assert_eq!(qbo.post("batch", &batch).0, 200);
    }
}
