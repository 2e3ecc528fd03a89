//! Salesforce emulator: collections and composite, replication windows, change events and the
//! seed generator — the resources a sync engine lives on.

mod salesforce_support;

use chrono::Duration;
use ledgerlink_emulators::salesforce::SalesforceConfig;
use ledgerlink_emulators::seed::{generate, SeedSpec};
use salesforce_support::{fixture, keys, Sf};
use serde_json::{json, Value};

/// Named `salesforce::...` so that `cargo test -p ledgerlink-emulators salesforce` selects them.
mod salesforce {
    use super::*;

    #[test]
    fn collection_create_keeps_order_and_all_or_none_rolls_back() {
        let sf = Sf::start();
        let body = json!({"allOrNone": false, "records": [
            {"attributes": {"type": "Account"}, "Name": "One"},
            {"attributes": {"type": "Account"}},
            {"attributes": {"type": "Contact"}, "LastName": "Three"},
        ]});
        let r = sf.post("composite/sobjects", &body);
        assert_eq!(r.status, 200);
        let results = r.body.as_array().unwrap();
        assert_eq!(results[0]["success"], true);
        assert!(results[0]["id"].as_str().unwrap().starts_with("001"));
        assert_eq!(results[1]["success"], false);
        assert_eq!(
            results[1]["errors"][0]["statusCode"],
            "REQUIRED_FIELD_MISSING"
        );
        assert_eq!(results[1]["errors"][0]["fields"], json!(["Name"]));
        assert!(results[2]["id"].as_str().unwrap().starts_with("003"));
        assert_eq!(sf.emu.records("Account").len(), 1);

        let events_before = sf.emu.change_events().len();
        let body = json!({"allOrNone": true, "records": [
            {"attributes": {"type": "Account"}, "Name": "Two"},
            {"attributes": {"type": "Account"}, "Name": "Three", "foo": 1},
        ]});
        let r = sf.post("composite/sobjects", &body);
        assert_eq!(r.status, 200);
        assert_eq!(r.body[0]["success"], false);
        assert_eq!(
            r.body[0]["errors"][0]["statusCode"],
            "ALL_OR_NONE_OPERATION_ROLLED_BACK"
        );
        assert_eq!(r.body[1]["errors"][0]["statusCode"], "INVALID_FIELD");
        assert_eq!(sf.emu.records("Account").len(), 1, "nothing was kept");
        assert_eq!(
            sf.emu.change_events().len(),
            events_before,
            "no events for rolled-back records"
        );

        let too_many: Vec<Value> = (0..201)
            .map(|i| json!({"attributes": {"type": "Account"}, "Name": format!("A{i}")}))
            .collect();
        assert_eq!(
            sf.post("composite/sobjects", &json!({"records": too_many}))
                .status,
            400
        );
    }

    #[test]
    fn collection_update_upsert_retrieve_and_delete() {
        let sf = Sf::start();
        let a = sf.create("Account", json!({"Name": "A", "External_Id__c": "X1"}));
        let b = sf.create("Account", json!({"Name": "B"}));
        let r = sf.patch(
            "composite/sobjects",
            &json!({"records": [
                {"attributes": {"type": "Account"}, "id": a, "Name": "A2"},
                {"attributes": {"type": "Account"}, "id": b, "Nope": 1},
            ]}),
        );
        assert_eq!(r.body[0], json!({"id": a, "success": true, "errors": []}));
        assert_eq!(r.body[1]["success"], false);

        let r = sf.patch(
            "composite/sobjects/Account/External_Id__c",
            &json!({"records": [
                {"attributes": {"type": "Account"}, "External_Id__c": "X1", "Name": "A3"},
                {"attributes": {"type": "Account"}, "External_Id__c": "X2", "Name": "New"},
            ]}),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(
            (r.body[0]["created"].clone(), r.body[1]["created"].clone()),
            (json!(false), json!(true))
        );

        let r = sf.get(&format!(
            "composite/sobjects/Account?ids={a},{b},001000000000001AAA&fields=Name"
        ));
        assert_eq!(r.body[0]["Name"], "A3");
        assert_eq!(r.body[1]["Name"], "B");
        assert_eq!(r.body[2], Value::Null);

        let r = sf.delete(&format!("composite/sobjects?ids={a},{b}&allOrNone=false"));
        assert_eq!(
            r.body
                .as_array()
                .unwrap()
                .iter()
                .filter(|x| x["success"] == true)
                .count(),
            2
        );
        assert_eq!(sf.emu.records("Account").len(), 1);
    }

    #[test]
    fn composite_resolves_references_and_rolls_back_all_or_none() {
        let sf = Sf::start();
        let body = json!({"allOrNone": true, "compositeRequest": [
            {"method": "POST", "url": "/services/data/v61.0/sobjects/Account", "referenceId": "refAccount", "body": {"Name": "Composite Co"}},
            {"method": "POST", "url": "/services/data/v61.0/sobjects/Opportunity", "referenceId": "refOpp",
             "body": {"Name": "Composite deal", "AccountId": "@{refAccount.id}", "StageName": "Prospecting", "CloseDate": "2024-01-31"}},
            {"method": "GET", "url": "/services/data/v61.0/query/?q=SELECT+Id,Name+FROM+Account", "referenceId": "refQuery"},
            {"method": "PATCH", "url": "/services/data/v61.0/sobjects/Account/@{refQuery.records[0].Id}", "referenceId": "refUpdate", "body": {"Phone": "555"}},
            {"method": "GET", "url": "/services/data/v61.0/sobjects/Opportunity/@{refOpp.id}?fields=AccountId", "referenceId": "refRead"},
        ]});
        let before = sf.emu.api_usage();
        let r = sf.post("composite", &body);
        assert_eq!(r.status, 200);
        assert_eq!(
            sf.emu.api_usage(),
            before + 1,
            "a composite call counts once"
        );
        let res = r.body["compositeResponse"].as_array().unwrap();
        assert_eq!(
            res.iter()
                .map(|x| x["httpStatusCode"].as_u64().unwrap())
                .collect::<Vec<_>>(),
            vec![201, 201, 200, 204, 200]
        );
        assert_eq!(res[0]["referenceId"], "refAccount");
        assert!(res[0]["httpHeaders"]["Location"]
            .as_str()
            .unwrap()
            .contains("/sobjects/Account/"));
        assert_eq!(res[4]["body"]["AccountId"], res[0]["body"]["id"]);
        assert_eq!(sf.emu.records("Account")[0]["Phone"], "555");

        let failing = json!({"allOrNone": true, "compositeRequest": [
            {"method": "POST", "url": "/services/data/v61.0/sobjects/Account", "referenceId": "a", "body": {"Name": "Kept?"}},
            {"method": "POST", "url": "/services/data/v61.0/sobjects/Opportunity", "referenceId": "b", "body": {"Name": "no stage", "AccountId": "@{a.id}"}},
            {"method": "GET", "url": "/services/data/v61.0/limits", "referenceId": "c"},
        ]});
        let r = sf.post("composite", &failing);
        assert_eq!(r.status, 200);
        let res = r.body["compositeResponse"].as_array().unwrap();
        assert_eq!(res[0]["httpStatusCode"], 400);
        assert_eq!(res[0]["body"][0]["errorCode"], "PROCESSING_HALTED");
        assert_eq!(res[1]["body"][0]["errorCode"], "REQUIRED_FIELD_MISSING");
        assert_eq!(res[2]["body"][0]["errorCode"], "PROCESSING_HALTED");
        assert_eq!(
            sf.emu.records("Account").len(),
            1,
            "the account of the failed call was rolled back"
        );

        let bad_ref = json!({"compositeRequest": [
            {"method": "GET", "url": "/services/data/v61.0/sobjects/Account/@{nope.id}", "referenceId": "x"},
        ]});
        let r = sf.post("composite", &bad_ref);
        assert_eq!(r.body["compositeResponse"][0]["httpStatusCode"], 400);

        let batch = json!({"batchRequests": [
            {"method": "POST", "url": "v61.0/sobjects/Account", "richInput": {"Name": "Batch 1"}},
            {"method": "POST", "url": "v61.0/sobjects/Account", "richInput": {}},
            {"method": "GET", "url": "v61.0/limits"},
        ]});
        let r = sf.post("composite/batch", &batch);
        assert_eq!(r.body["hasErrors"], true);
        let codes: Vec<u64> = r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["statusCode"].as_u64().unwrap())
            .collect();
        assert_eq!(codes, vec![201, 400, 200]);
    }

    #[test]
    fn get_updated_and_get_deleted_windows() {
        let sf = Sf::start();
        let clock = sf.emu.clock();
        let start = clock.now() - Duration::minutes(1);
        let a = sf.create("Account", json!({"Name": "A"}));
        let b = sf.create("Account", json!({"Name": "B"}));
        clock.advance(Duration::minutes(2));
        sf.delete(&format!("sobjects/Account/{b}"));
        clock.advance(Duration::minutes(2));
        let iso = |t: chrono::DateTime<chrono::Utc>| {
            url::form_urlencoded::byte_serialize(t.to_rfc3339().as_bytes()).collect::<String>()
        };
        let now = clock.now();

        let r = sf.get(&format!(
            "sobjects/Account/updated/?start={}&end={}",
            iso(start),
            iso(now)
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(keys(&r.body), keys(&fixture("get_updated_response.json")));
        assert_eq!(r.body["ids"], json!([a]));
        let covered = r.body["latestDateCovered"].as_str().unwrap();
        assert!(
            covered.ends_with(":00.000+0000"),
            "truncated to the minute: {covered}"
        );

        let r = sf.get(&format!(
            "sobjects/Account/deleted/?start={}&end={}",
            iso(start),
            iso(now)
        ));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(keys(&r.body), keys(&fixture("get_deleted_response.json")));
        assert_eq!(r.body["deletedRecords"][0]["id"], b);
        assert_eq!(
            keys(&r.body["deletedRecords"][0]),
            keys(&fixture("get_deleted_response.json")["deletedRecords"][0])
        );

        let old = now - Duration::days(31);
        let r = sf.get(&format!(
            "sobjects/Account/updated/?start={}&end={}",
            iso(old),
            iso(now)
        ));
        assert_eq!(
            (r.status, r.error_code()),
            (400, "INVALID_REPLICATION_DATE".into())
        );
        let r = sf.get(&format!(
            "sobjects/Account/deleted/?start={}&end={}",
            iso(now - Duration::days(16)),
            iso(now)
        ));
        assert_eq!(
            (r.status, r.error_code()),
            (400, "INVALID_REPLICATION_DATE".into())
        );
        let r = sf.get(&format!(
            "sobjects/Account/updated/?start={}&end={}",
            iso(now),
            iso(start)
        ));
        assert_eq!(r.status, 400);
    }

    #[test]
    fn change_events_record_who_changed_what_and_there_is_no_rest_stream() {
        let sf = Sf::start();
        let a = sf.create("Account", json!({"Name": "A", "BillingCity": "Austin"}));
        sf.patch(
            &format!("sobjects/Account/{a}"),
            &json!({"BillingState": "TX", "Phone": null}),
        );
        sf.emu
            .update("Account", &a, json!({"Name": "A (edited in the UI)"}))
            .unwrap();

        let events: Vec<Value> = sf
            .emu
            .change_events()
            .into_iter()
            .filter(|e| e["payload"]["ChangeEventHeader"]["entityName"] == "Account")
            .collect();
        assert_eq!(events.len(), 3);
        let h0 = &events[0]["payload"]["ChangeEventHeader"];
        assert_eq!(h0["changeType"], "CREATE");
        assert_eq!(h0["recordIds"], json!([a]));
        assert!(h0["changeOrigin"]
            .as_str()
            .unwrap()
            .starts_with("com/salesforce/api/rest/61.0;client="));
        assert!(h0["commitTimestamp"].as_i64().unwrap() > 0);
        assert_eq!(events[0]["payload"]["BillingAddress"]["City"], "Austin");
        let h1 = &events[1]["payload"]["ChangeEventHeader"];
        assert_eq!(h1["changeType"], "UPDATE");
        assert_eq!(
            h1["changedFields"],
            json!(["BillingAddress.State", "LastModifiedDate"])
        );
        assert_eq!(
            events[1]["payload"]["Name"],
            Value::Null,
            "unchanged fields are null"
        );
        assert_eq!(events[1]["payload"]["BillingAddress"]["State"], "TX");
        let h2 = &events[2]["payload"]["ChangeEventHeader"];
        assert_eq!(h2["changeOrigin"], "", "UI edits have no origin");

        // API changes are the integration user's (the session's user); UI edits a person's.
        let me = sf.get("/services/oauth2/userinfo");
        assert_eq!(me.status, 200, "{}", me.body);
        let integration = me.body["user_id"].as_str().unwrap();
        assert_eq!(me.body["organization_id"].as_str().unwrap().len(), 18);
        assert_eq!(h0["commitUser"], integration);
        assert_eq!(h1["commitUser"], integration);
        assert_ne!(h2["commitUser"], integration);
        let person = h2["commitUser"].as_str().unwrap();
        assert!(person.starts_with("005"), "{person}");
        assert_eq!(
            sf.emu.get("Account", &a).unwrap()["LastModifiedById"],
            person
        );

        // Real orgs deliver change events only over the Pub/Sub API: no REST resource.
        let r = sf.get("ledgerlink/change-events?replayId=-2");
        assert_eq!(r.status, 404, "{}", r.body);
        let bad = Sf {
            token: "00Dbogus!token".into(),
            emu: sf.emu.clone(),
            server: sf.server,
            client: sf.client,
        };
        assert_eq!(bad.get("/services/oauth2/userinfo").status, 403);
    }

    #[test]
    fn seed_generator_is_deterministic_and_loads() {
        let spec = SeedSpec {
            accounts: 6,
            products: 5,
            opportunities: 12,
            closed_won_fraction: 0.5,
            lines_per_opportunity: 2,
            orders: 4,
            seed: 7,
        };
        assert_eq!(generate(&spec), generate(&spec));
        let data = generate(&spec);
        let sf = Sf::with(SalesforceConfig::default());
        let ids = data.load_into(&sf.emu).unwrap();
        assert_eq!(sf.emu.records("Account").len(), 6);
        assert_eq!(sf.emu.records("OpportunityLineItem").len(), 24);
        let won = sf.query("SELECT COUNT() FROM Opportunity WHERE IsWon = true");
        assert_eq!(won.body["totalSize"], 6);
        let opp = sf.emu.get("Opportunity", &ids["Opportunity-1"]).unwrap();
        let lines = sf.query(&format!(
            "SELECT TotalPrice FROM OpportunityLineItem WHERE OpportunityId = '{}'",
            ids["Opportunity-1"]
        ));
        let sum: rust_decimal::Decimal = lines.body["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                l["TotalPrice"]
                    .to_string()
                    .parse::<rust_decimal::Decimal>()
                    .unwrap()
            })
            .sum();
        assert_eq!(
            opp["Amount"]
                .to_string()
                .parse::<rust_decimal::Decimal>()
                .unwrap(),
            sum
        );
        let accounts = sf.emu.records("Account");
        assert!(accounts.iter().all(|a| a["BillingCity"].is_string()
            && a["Email__c"].is_string()
            && a["Phone"].is_string()));
        assert_eq!(sf.emu.records("Order").len(), 4);
        assert!(sf.emu.records("OrderItem").len() >= 4);

        // A second emulator loaded from the same spec holds the same business data.
        let other = Sf::with(SalesforceConfig::default());
        generate(&spec).load_into(&other.emu).unwrap();
        let strip = |v: Vec<Value>| {
            v.iter()
                .map(|a| (a["Name"].clone(), a["BillingStreet"].clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            strip(sf.emu.records("Account")),
            strip(other.emu.records("Account"))
        );
    }
}
