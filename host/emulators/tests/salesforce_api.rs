//! Salesforce emulator: OAuth, sObject CRUD and upsert, derived fields, errors and limits.

mod salesforce_support;

use ledgerlink_emulators::salesforce::SalesforceConfig;
use reqwest::blocking::Client;
use salesforce_support::{fixture, keys, Sf, V};
use serde_json::{json, Value};

/// Named `salesforce::...` so that `cargo test -p ledgerlink-emulators salesforce` selects them.
mod salesforce {
    use super::*;

    fn token_request(sf: &Sf, form: &[(&str, &str)]) -> (u16, Value) {
        let r = Client::new()
            .post(sf.url("/services/oauth2/token"))
            .form(form)
            .send()
            .unwrap();
        (r.status().as_u16(), r.json().unwrap())
    }

    #[test]
    fn client_credentials_token_has_the_fixture_shape_and_expires_after_idle_time() {
        let sf = Sf::start();
        let cfg = SalesforceConfig::default();
        let (status, body) = token_request(
            &sf,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cfg.client_id),
                ("client_secret", &cfg.client_secret),
            ],
        );
        assert_eq!(status, 200, "{body}");
        let mut expected = keys(&fixture("oauth_token_response_signed.json"));
        expected.extend(["scope".to_string(), "token_type".to_string()]);
        assert_eq!(keys(&body), expected);
        assert!(body.get("refresh_token").is_none());
        assert_eq!(body["instance_url"], sf.server.url());
        assert_eq!(body["token_type"], "Bearer");
        assert!(body["issued_at"].as_str().unwrap().parse::<i64>().is_ok());
        let token = body["access_token"].as_str().unwrap();

        let get = |t: &str| {
            Client::new()
                .get(sf.url("limits"))
                .bearer_auth(t)
                .send()
                .unwrap()
        };
        assert_eq!(get(token).status(), 200);
        sf.emu.clock().advance(chrono::Duration::seconds(7199));
        assert_eq!(get(token).status(), 200, "use refreshes the session");
        sf.emu.clock().advance(chrono::Duration::seconds(7201));
        let r = get(token);
        assert_eq!(r.status(), 401);
        let body: Value = r.json().unwrap();
        assert_eq!(body, fixture("error_invalid_session_id.json"));
    }

    #[test]
    fn basic_auth_wrong_secret_unknown_grant_and_jwt() {
        let sf = Sf::start();
        let cfg = SalesforceConfig::default();
        let r = Client::new()
            .post(sf.url("/services/oauth2/token"))
            .basic_auth(&cfg.client_id, Some(&cfg.client_secret))
            .form(&[("grant_type", "client_credentials")])
            .send()
            .unwrap();
        assert_eq!(r.status(), 200);
        let (status, body) = token_request(
            &sf,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &cfg.client_id),
                ("client_secret", "nope"),
            ],
        );
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_client"))
        );
        assert_eq!(
            keys(&body),
            keys(&fixture("oauth_token_error_invalid_grant.json"))
        );
        let (status, body) = token_request(&sf, &[("grant_type", "password")]);
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("unsupported_grant_type"))
        );

        use base64::Engine;
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let exp = chrono::Utc::now().timestamp() + 180;
        let jwt = format!(
            "{}.{}.sig",
            b64(json!({"alg": "RS256"})),
            b64(
                json!({"iss": cfg.client_id, "sub": "u@x.com", "aud": "https://login.salesforce.com", "exp": exp})
            )
        );
        let (status, body) = token_request(
            &sf,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &jwt),
            ],
        );
        assert_eq!(status, 200, "{body}");
        let expired = format!(
            "{}.{}.sig",
            b64(json!({"alg": "RS256"})),
            b64(json!({"iss": cfg.client_id, "sub": "u", "exp": 1000}))
        );
        let (status, _) = token_request(
            &sf,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", &expired),
            ],
        );
        assert_eq!(status, 400);
    }

    #[test]
    fn create_with_and_without_trailing_slash_then_read_update_delete() {
        let sf = Sf::start();
        let a = sf.post(
            "sobjects/Account/",
            &json!({"Name": "Acme", "BillingCity": "Austin", "Tax_Exempt__c": true}),
        );
        assert_eq!(a.status, 201);
        assert_eq!(a.body["success"], true);
        assert_eq!(a.body["errors"], json!([]));
        let id = a.body["id"].as_str().unwrap().to_string();
        assert!(id.starts_with("001") && id.len() == 18);
        let b = sf.post("sobjects/Account", &json!({"Name": "Beta"}));
        assert_eq!(b.status, 201);

        let r = sf.get(&format!("sobjects/Account/{id}"));
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body["attributes"],
            json!({"type": "Account", "url": format!("{V}/sobjects/Account/{id}")})
        );
        assert_eq!(r.body["Name"], "Acme");
        assert_eq!(r.body["IsDeleted"], false);
        let created = r.body["CreatedDate"].as_str().unwrap();
        assert_eq!(created.len(), "2013-05-20T20:49:32.000+0000".len());
        assert!(created.ends_with("+0000"));
        // 15-character ids work too.
        assert_eq!(
            sf.get(&format!("sobjects/account/{}", &id[..15])).status,
            200
        );

        let r = sf.get(&format!("sobjects/Account/{id}?fields=Name,BillingCity"));
        assert_eq!(
            keys(&r.body),
            ["attributes", "Name", "BillingCity", "Id"]
                .iter()
                .map(|s| s.to_string())
                .collect()
        );

        let before = sf.emu.get("Account", &id).unwrap()["SystemModstamp"].clone();
        sf.emu.clock().advance(chrono::Duration::seconds(5));
        let u = sf.patch(
            &format!("sobjects/Account/{id}"),
            &json!({"Name": "Acme 2"}),
        );
        assert_eq!((u.status, u.body.clone()), (204, Value::Null));
        let after = sf.emu.get("Account", &id).unwrap();
        assert_eq!(after["Name"], "Acme 2");
        assert_ne!(after["SystemModstamp"], before);

        let d = sf.delete(&format!("sobjects/Account/{id}"));
        assert_eq!(d.status, 204);
        assert_eq!(sf.get(&format!("sobjects/Account/{id}")).status, 404);
        let all = sf.get(&format!(
            "queryAll?q=SELECT+Id,IsDeleted+FROM+Account+WHERE+Id='{id}'"
        ));
        assert_eq!(all.body["records"][0]["IsDeleted"], true);
        let live = sf.query(&format!("SELECT Id FROM Account WHERE Id = '{id}'"));
        assert_eq!(live.body["totalSize"], 0);
    }

    #[test]
    fn upsert_by_external_id_created_updated_multiple_and_unknown_field() {
        let sf = Sf::start();
        let r = sf.patch(
            "sobjects/Account/External_Id__c/EXT+1",
            &json!({"Name": "Ext One"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        assert_eq!(r.body["created"], true);
        let id = r.body["id"].as_str().unwrap().to_string();
        assert_eq!(
            sf.emu.get("Account", &id).unwrap()["External_Id__c"],
            "EXT 1",
            "+ decodes to a space"
        );

        let r = sf.patch(
            "sobjects/Account/External_Id__c/EXT%201",
            &json!({"Name": "Ext One Renamed"}),
        );
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            json!({"id": id, "success": true, "errors": [], "created": false})
        );
        let r = sf.get("sobjects/Account/External_Id__c/EXT+1");
        assert_eq!(
            (r.status, r.body["Name"].as_str()),
            (200, Some("Ext One Renamed"))
        );

        sf.create("Account", json!({"Name": "Dup A", "External_Id__c": "DUP"}));
        sf.create("Account", json!({"Name": "Dup B", "External_Id__c": "DUP"}));
        let r = sf.patch("sobjects/Account/External_Id__c/DUP", &json!({"Name": "x"}));
        assert_eq!(r.status, 300);
        assert_eq!(r.body.as_array().unwrap().len(), 2);

        let r = sf.patch("sobjects/Account/Namez/x", &json!({"Name": "x"}));
        assert_eq!(r.status, 404);
        assert_eq!(r.body, fixture("error_not_found_external_id.json"));
        let r = sf.patch("sobjects/Account/Name/x", &json!({"Name": "x"}));
        assert_eq!(
            (r.status, r.error_code()),
            (404, "NOT_FOUND".to_string()),
            "Name is not an external id"
        );

        let r = sf.patch(
            "sobjects/Account/External_Id__c/NEW?updateOnly=true",
            &json!({"Name": "x"}),
        );
        assert_eq!(r.status, 404);

        let sf204 = Sf::with(SalesforceConfig {
            upsert_update_status: 204,
            ..Default::default()
        });
        assert_eq!(
            sf204
                .patch("sobjects/Account/External_Id__c/A", &json!({"Name": "a"}))
                .status,
            201
        );
        assert_eq!(
            sf204
                .patch("sobjects/Account/External_Id__c/A", &json!({"Name": "b"}))
                .status,
            204
        );
    }

    #[test]
    fn bad_input_gets_salesforce_error_arrays() {
        let sf = Sf::with(SalesforceConfig {
            max_body_bytes: 1024,
            ..Default::default()
        });
        let raw = |body: &str| {
            let r = Client::new()
                .post(sf.url("sobjects/Account/"))
                .bearer_auth(&sf.token)
                .header("Content-Type", "application/json")
                .body(body.to_string())
                .send()
                .unwrap();
            (r.status().as_u16(), r.json::<Value>().unwrap())
        };
        let (status, body) = raw("{\"Name\": ");
        assert_eq!(
            (status, body[0]["errorCode"].as_str()),
            (400, Some("JSON_PARSER_ERROR"))
        );

        let r = sf.post("sobjects/Bar/", &json!({"foo": 1}));
        assert_eq!((r.status, r.error_code()), (404, "NOT_FOUND".into()));

        let r = sf.post("sobjects/Account/", &json!({"Name": "x", "foo": 1}));
        assert_eq!(r.status, 400);
        assert_eq!(
            r.body,
            json!([{"message": "No such column 'foo' on sobject of type Account", "errorCode": "INVALID_FIELD"}])
        );
        assert_eq!(
            keys(&r.body[0]),
            keys(&fixture("error_invalid_field.json")[0])
        );

        let r = sf.post("sobjects/Opportunity/", &json!({"Name": "x"}));
        assert_eq!(
            (r.status, r.error_code()),
            (400, "REQUIRED_FIELD_MISSING".into())
        );
        assert_eq!(r.body[0]["fields"], json!(["StageName", "CloseDate"]));

        let r = sf.post(
            "sobjects/Account/",
            &json!({"Name": "x", "Tax_Exempt__c": 5}),
        );
        assert_eq!(
            (r.status, r.error_code()),
            (400, "JSON_PARSER_ERROR".into())
        );
        let r = sf.post(
            "sobjects/Account/",
            &json!({"Name": "x", "AnnualRevenue": "lots"}),
        );
        assert_eq!(
            (r.status, r.error_code()),
            (400, "JSON_PARSER_ERROR".into())
        );
        let r = sf.post(
            "sobjects/Opportunity/",
            &json!({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-13-45"}),
        );
        assert_eq!(
            (r.status, r.error_code()),
            (400, "JSON_PARSER_ERROR".into())
        );
        let r = sf.post(
            "sobjects/Opportunity/",
            &json!({"Name": "x", "StageName": "Closed Won", "CloseDate": "2024-01-01", "IsWon": true}),
        );
        assert_eq!(
            (r.status, r.error_code()),
            (400, "INVALID_FIELD_FOR_INSERT_UPDATE".into())
        );
        let r = sf.post("sobjects/Opportunity/", &json!({"Name": "x", "StageName": "Prospecting", "CloseDate": "2024-01-01", "AccountId": "nope"}));
        assert_eq!((r.status, r.error_code()), (400, "MALFORMED_ID".into()));
        let r = sf.post("sobjects/Account/", &json!({"Name": "x".repeat(300)}));
        assert_eq!((r.status, r.error_code()), (400, "STRING_TOO_LONG".into()));

        let (status, body) = raw(&format!("{{\"Name\": \"{}\"}}", "y".repeat(2000)));
        assert_eq!(
            (status, body[0]["errorCode"].as_str()),
            (413, Some("REQUEST_ENTITY_TOO_LARGE"))
        );

        let r = Client::new().get(sf.url("limits")).send().unwrap();
        assert_eq!(r.status(), 401);
        let r = sf.get("sobjects/Account/001000000000000AAA");
        assert_eq!(r.status, 404);
        let r = sf.get("nonsense");
        assert_eq!(r.status, 404);
        assert!(r.body.is_array());
    }

    #[test]
    fn opportunity_stage_derives_is_won_and_line_items_derive_amount() {
        let sf = Sf::start();
        let account = sf.create("Account", json!({"Name": "Acme"}));
        let opp = sf.create("Opportunity", json!({"Name": "Deal", "AccountId": account, "StageName": "Prospecting", "CloseDate": "2024-06-30"}));
        let o = sf.emu.get("Opportunity", &opp).unwrap();
        assert_eq!(
            (o["IsWon"].clone(), o["IsClosed"].clone()),
            (json!(false), json!(false))
        );

        let (_, pbe) = sf.product("Widget", 12.5);
        let line = sf.create(
            "OpportunityLineItem",
            json!({"OpportunityId": opp, "PricebookEntryId": pbe, "Quantity": 3, "UnitPrice": 10.10}),
        );
        let l = sf.emu.get("OpportunityLineItem", &line).unwrap();
        assert_eq!(l["TotalPrice"], json!(30.3));
        assert_eq!(l["ListPrice"], json!(12.5));
        assert_eq!(l["ProductCode"], "Widget-code");
        assert_eq!(l["Name"], "Deal Widget");
        let line2 = sf.create(
            "OpportunityLineItem",
            json!({"OpportunityId": opp, "PricebookEntryId": pbe, "Quantity": 2, "TotalPrice": 25}),
        );
        assert_eq!(
            sf.emu.get("OpportunityLineItem", &line2).unwrap()["UnitPrice"],
            json!(12.5)
        );
        let r = sf.post("sobjects/OpportunityLineItem/", &json!({"OpportunityId": opp, "PricebookEntryId": pbe, "Quantity": 1, "UnitPrice": 1, "TotalPrice": 1}));
        assert_eq!(
            (r.status, r.error_code()),
            (400, "FIELD_INTEGRITY_EXCEPTION".into())
        );
        let o = sf.emu.get("Opportunity", &opp).unwrap();
        assert_eq!(o["Amount"], json!(55.3));
        assert_eq!(o["HasOpportunityLineItem"], true);

        assert_eq!(
            sf.patch(
                &format!("sobjects/Opportunity/{opp}"),
                &json!({"StageName": "Closed Won"})
            )
            .status,
            204
        );
        let o = sf.emu.get("Opportunity", &opp).unwrap();
        assert_eq!(
            (
                o["IsWon"].clone(),
                o["IsClosed"].clone(),
                o["Probability"].clone()
            ),
            (json!(true), json!(true), json!(100.0))
        );
        sf.emu
            .update("Opportunity", &opp, json!({"StageName": "Closed Lost"}))
            .unwrap();
        let o = sf.emu.get("Opportunity", &opp).unwrap();
        assert_eq!(
            (o["IsWon"].clone(), o["IsClosed"].clone()),
            (json!(false), json!(true))
        );

        assert_eq!(
            sf.delete(&format!("sobjects/OpportunityLineItem/{line2}"))
                .status,
            204
        );
        assert_eq!(
            sf.emu.get("Opportunity", &opp).unwrap()["Amount"],
            json!(30.3)
        );
    }

    #[test]
    fn orders_start_as_draft_total_their_items_and_activate_with_items() {
        let sf = Sf::start();
        let account = sf.create("Account", json!({"Name": "Acme"}));
        let (_, pbe) = sf.product("Gadget", 99.99);
        let order = sf.create("Order", json!({"AccountId": account, "EffectiveDate": "2024-05-01", "Pricebook2Id": sf.emu.standard_pricebook_id()}));
        let o = sf.emu.get("Order", &order).unwrap();
        assert_eq!(o["Status"], "Draft");
        assert_eq!(o["OrderNumber"], "00000100");
        let r = sf.patch(
            &format!("sobjects/Order/{order}"),
            &json!({"Status": "Activated"}),
        );
        assert_eq!(r.status, 400, "no items yet");
        sf.create(
            "OrderItem",
            json!({"OrderId": order, "PricebookEntryId": pbe, "Quantity": 2, "UnitPrice": 99.99}),
        );
        assert_eq!(
            sf.emu.get("Order", &order).unwrap()["TotalAmount"],
            json!(199.98)
        );
        assert_eq!(
            sf.patch(
                &format!("sobjects/Order/{order}"),
                &json!({"Status": "Activated"})
            )
            .status,
            204
        );
        let o = sf.emu.get("Order", &order).unwrap();
        assert_eq!(o["StatusCode"], "Activated");
        assert!(o["ActivatedDate"].is_string());
        let r = sf.post(
            "sobjects/Order/",
            &json!({"AccountId": account, "EffectiveDate": "2024-05-01", "Status": "Activated"}),
        );
        assert_eq!(r.status, 400);
    }

    #[test]
    fn limit_header_on_every_api_response_and_403_past_the_daily_limit() {
        let sf = Sf::with(SalesforceConfig {
            daily_api_limit: 3,
            ..Default::default()
        });
        let r = sf.get("limits");
        assert_eq!(
            r.header("Sforce-Limit-Info").as_deref(),
            Some("api-usage=1/3")
        );
        assert_eq!(keys(&r.body), keys(&fixture("limits_response.json")));
        assert_eq!(
            r.body["DailyApiRequests"],
            json!({"Max": 3, "Remaining": 2})
        );
        let versions = Client::new().get(sf.url("/services/data/")).send().unwrap();
        assert_eq!(versions.status(), 200);
        assert!(versions.headers().get("Sforce-Limit-Info").is_none());
        assert_eq!(sf.get("sobjects").status, 200);
        assert_eq!(
            sf.get("sobjects/Account/describe")
                .header("Sforce-Limit-Info")
                .as_deref(),
            Some("api-usage=3/3")
        );
        let r = sf.get("limits");
        assert_eq!(r.status, 403);
        assert_eq!(
            r.body,
            json!([{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}])
        );
        // The next UTC day of the emulator clock starts afresh.
        sf.emu.clock().advance(chrono::Duration::hours(24));
        let fresh = Sf {
            token: sf.emu.issue_token(),
            emu: sf.emu.clone(),
            server: sf.server,
            client: sf.client,
        };
        let r = fresh.get("limits");
        assert_eq!(r.status, 200);
        assert_eq!(
            r.header("Sforce-Limit-Info").as_deref(),
            Some("api-usage=1/3")
        );
    }

    #[test]
    fn faults_render_salesforce_errors() {
        use ledgerlink_emulators::{FaultKind, FaultRule};
        let sf = Sf::start();
        sf.emu.faults().push(FaultRule {
            method: None,
            path_contains: Some("/limits".into()),
            fault: FaultKind::Status { status: 503 },
            probability: 1.0,
            times: Some(1),
        });
        sf.emu.faults().push(FaultRule {
            method: None,
            path_contains: Some("/sobjects".into()),
            fault: FaultKind::ExpiredToken,
            probability: 1.0,
            times: Some(1),
        });
        let r = sf.get("limits");
        assert_eq!(
            (r.status, r.error_code()),
            (503, "SERVER_UNAVAILABLE".into())
        );
        let r = sf.get("sobjects");
        assert_eq!(
            (r.status, r.error_code()),
            (401, "INVALID_SESSION_ID".into())
        );
        assert_eq!(sf.get("limits").status, 200);
        assert!(sf.emu.log().count(|r| r.path.ends_with("/limits")) >= 2);
    }

    #[test]
    fn schema_file_adds_custom_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("schema.json");
        std::fs::write(&path, r#"{"objects":{"Account":{"fields":[{"name":"Region__c","type":"picklist"},{"name":"ERP_Id__c","type":"string","externalId":true,"unique":true}]}}}"#).unwrap();
        let sf = Sf::with(SalesforceConfig {
            schema: Some(path),
            ..Default::default()
        });
        let id = sf.create(
            "Account",
            json!({"Name": "A", "Region__c": "EMEA", "ERP_Id__c": "E1"}),
        );
        assert_eq!(sf.emu.get("Account", &id).unwrap()["Region__c"], "EMEA");
        let r = sf.post(
            "sobjects/Account/",
            &json!({"Name": "B", "ERP_Id__c": "e1"}),
        );
        assert_eq!((r.status, r.error_code()), (400, "DUPLICATE_VALUE".into()));
        let described = sf.get("sobjects/Account/describe");
        assert!(described.body["fields"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["name"] == "ERP_Id__c" && f["externalId"] == true));
    }
}
