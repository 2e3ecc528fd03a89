//! Salesforce emulator: SOQL queries and paging.

mod salesforce_support;

use ledgerlink_emulators::salesforce::SalesforceConfig;
use salesforce_support::{fixture, keys, Sf};
use serde_json::{json, Value};

/// Named `salesforce::...` so that `cargo test -p ledgerlink-emulators salesforce` selects them.
mod salesforce {
    use super::*;

    /// Three accounts, four opportunities (one with two lines), dated around today.
    fn org(page_size: usize) -> (Sf, Vec<String>, Vec<String>) {
        let sf = Sf::with(SalesforceConfig {
            page_size,
            ..Default::default()
        });
        let today = sf.emu.clock().now().date_naive();
        let accounts: Vec<String> = ["Acme Corp", "Beta LLC", "acme labs"]
            .iter()
            .map(|n| sf.create("Account", json!({"Name": n, "BillingState": "CA"})))
            .collect();
        let (_, pbe) = sf.product("Widget", 10.0);
        let day = |d: i64| {
            (today - chrono::Duration::days(d))
                .format("%Y-%m-%d")
                .to_string()
        };
        let opps: Vec<String> = [
            ("Deal A", 0, "Closed Won", 0),
            ("Deal B", 0, "Prospecting", 40),
            ("Deal C", 1, "Closed Lost", 1),
            ("Deal D", 2, "Negotiation/Review", 5),
        ]
        .iter()
        .map(|(name, acc, stage, ago)| {
            sf.create("Opportunity", json!({"Name": name, "AccountId": accounts[*acc], "StageName": stage, "CloseDate": day(*ago), "Amount": 100}))
        })
        .collect();
        sf.create(
            "OpportunityLineItem",
            json!({"OpportunityId": opps[0], "PricebookEntryId": pbe, "Quantity": 1, "UnitPrice": 10}),
        );
        sf.create(
            "OpportunityLineItem",
            json!({"OpportunityId": opps[0], "PricebookEntryId": pbe, "Quantity": 2, "UnitPrice": 20}),
        );
        (sf, accounts, opps)
    }

    fn names(v: &Value) -> Vec<String> {
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["Name"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    #[test]
    fn relationship_fields_come_back_as_nested_objects_with_attributes() {
        let (sf, _, _) = org(2000);
        let r = sf.query("SELECT Id, Name, Account.Name, Account.BillingState FROM Opportunity WHERE Name = 'Deal A'");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["totalSize"], 1);
        assert_eq!(r.body["done"], true);
        assert!(r.body.get("nextRecordsUrl").is_none());
        let rec = &r.body["records"][0];
        assert_eq!(rec["attributes"]["type"], "Opportunity");
        assert_eq!(rec["Account"]["attributes"]["type"], "Account");
        assert_eq!(rec["Account"]["Name"], "Acme Corp");
        assert_eq!(rec["Account"]["BillingState"], "CA");
        // Same keys as the fixture's relationship record: attributes + fields + the nested parent.
        let fixture_rec = &fixture("query_response_relationships.json")["records"][0];
        assert!(keys(&fixture_rec["ParentWhizbang__r"]).contains("attributes"));

        let line = sf.query(
            "SELECT Quantity, Opportunity.Account.Name FROM OpportunityLineItem ORDER BY Quantity",
        );
        assert_eq!(
            line.body["records"][0]["Opportunity"]["Account"]["Name"],
            "Acme Corp"
        );
        assert_eq!(line.body["records"][0]["Quantity"], json!(1.0));
    }

    #[test]
    fn child_subquery_returns_a_nested_query_result_or_null() {
        let (sf, _, _) = org(2000);
        let r = sf.query("SELECT Name, (SELECT Quantity, TotalPrice FROM OpportunityLineItems ORDER BY Quantity DESC) FROM Opportunity WHERE Name IN ('Deal A', 'Deal B') ORDER BY Name");
        assert_eq!(r.status, 200, "{}", r.body);
        let a = &r.body["records"][0];
        assert_eq!(a["OpportunityLineItems"]["totalSize"], 2);
        assert_eq!(a["OpportunityLineItems"]["done"], true);
        assert_eq!(
            a["OpportunityLineItems"]["records"][0]["TotalPrice"],
            json!(40.0)
        );
        assert_eq!(
            keys(&a["OpportunityLineItems"]),
            keys(&fixture("query_response_relationships.json")["records"][0]["Whizbangs__r"])
        );
        assert_eq!(r.body["records"][1]["OpportunityLineItems"], Value::Null);
        assert_eq!(
            a["Amount"],
            Value::Null,
            "only selected fields are returned"
        );
    }

    #[test]
    fn where_like_in_or_with_parentheses_and_date_literals() {
        let (sf, _, _) = org(2000);
        let like = sf.query("SELECT Name FROM Account WHERE Name LIKE 'acme%' ORDER BY Name");
        assert_eq!(names(&like.body), vec!["Acme Corp", "acme labs"]);
        let r#in = sf.query("SELECT Name FROM Opportunity WHERE StageName NOT IN ('Closed Won', 'Closed Lost') ORDER BY Name");
        assert_eq!(names(&r#in.body), vec!["Deal B", "Deal D"]);
        let or = sf.query("SELECT Name FROM Opportunity WHERE (StageName = 'Closed Won' OR StageName = 'Closed Lost') AND IsWon = false");
        assert_eq!(names(&or.body), vec!["Deal C"]);
        let not = sf.query("SELECT Name FROM Opportunity WHERE NOT (Name = 'Deal A' OR Name = 'Deal B') ORDER BY Name DESC");
        assert_eq!(names(&not.body), vec!["Deal D", "Deal C"]);
        let recent = sf.query(
            "SELECT Name FROM Opportunity WHERE CloseDate = LAST_N_DAYS:7 ORDER BY CloseDate",
        );
        assert_eq!(names(&recent.body), vec!["Deal D", "Deal C", "Deal A"]);
        let today = sf.query("SELECT Name FROM Opportunity WHERE CloseDate = TODAY");
        assert_eq!(names(&today.body), vec!["Deal A"]);
        let yesterday = sf.query("SELECT Name FROM Opportunity WHERE CloseDate = YESTERDAY");
        assert_eq!(names(&yesterday.body), vec!["Deal C"]);
        let created = sf.query("SELECT COUNT() FROM Account WHERE CreatedDate = TODAY AND CreatedDate > 2020-01-01T00:00:00Z");
        assert_eq!(created.body["totalSize"], 3);
        assert_eq!(created.body["records"], json!([]));
        let by_parent = sf.query("SELECT Name FROM Opportunity WHERE Account.Name = 'beta llc'");
        assert_eq!(names(&by_parent.body), vec!["Deal C"]);
        let nulls = sf.query("SELECT Name FROM Account WHERE BillingCity = null");
        assert_eq!(nulls.body["totalSize"], 3);
        let semi = sf.query("SELECT Name FROM Account WHERE Id IN (SELECT AccountId FROM Opportunity WHERE IsClosed = true) ORDER BY Name");
        assert_eq!(names(&semi.body), vec!["Acme Corp", "Beta LLC"]);
        let amount = sf.query(
            "SELECT Name FROM Opportunity WHERE Amount >= 50 AND Amount < 100.5 ORDER BY Name",
        );
        assert_eq!(
            names(&amount.body),
            vec!["Deal A", "Deal B", "Deal C", "Deal D"]
        );
    }

    #[test]
    fn order_by_limit_and_offset() {
        let (sf, _, _) = org(2000);
        let r = sf.query("SELECT Name FROM Opportunity ORDER BY StageName ASC NULLS LAST, Name DESC LIMIT 2 OFFSET 1");
        assert_eq!(names(&r.body), vec!["Deal A", "Deal D"]);
        assert_eq!(r.body["totalSize"], 2);
        let by_parent =
            sf.query("SELECT Name FROM Opportunity ORDER BY Account.Name DESC, Name LIMIT 1");
        assert_eq!(names(&by_parent.body), vec!["Deal C"]);
    }

    #[test]
    fn paging_across_pages_with_next_records_url() {
        let (sf, _, _) = org(3);
        let first = sf.query("SELECT Name FROM Opportunity ORDER BY Name");
        assert_eq!(first.body["totalSize"], 4);
        assert_eq!(first.body["done"], false);
        assert_eq!(names(&first.body), vec!["Deal A", "Deal B", "Deal C"]);
        let next = first.body["nextRecordsUrl"].as_str().unwrap().to_string();
        assert!(
            next.starts_with("/services/data/v61.0/query/01g") && next.ends_with("-3"),
            "{next}"
        );
        assert_eq!(
            keys(&first.body),
            keys(&fixture("query_response_page1.json"))
        );
        let second = sf.get(&next);
        assert_eq!(second.status, 200);
        assert_eq!(second.body["done"], true);
        assert_eq!(names(&second.body), vec!["Deal D"]);
        assert_eq!(
            keys(&second.body),
            keys(&fixture("query_response_page2.json"))
        );
        assert_eq!(sf.get("query/01gBOGUS-3").status, 400);
    }

    #[test]
    fn invalid_queries_are_400_arrays() {
        let (sf, _, _) = org(2000);
        let r = sf.query("SELEC Id FROM Account");
        assert_eq!((r.status, r.error_code()), (400, "MALFORMED_QUERY".into()));
        let r = sf.query("SELECT Id FROM Account WHERE Name = 'a' AND Name = 'b' OR Name = 'c'");
        assert_eq!((r.status, r.error_code()), (400, "MALFORMED_QUERY".into()));
        let r = sf.query("SELECT Foo FROM Account");
        assert_eq!((r.status, r.error_code()), (400, "INVALID_FIELD".into()));
        let r = sf.query("SELECT Id FROM Nope");
        assert_eq!((r.status, r.error_code()), (400, "INVALID_TYPE".into()));
        let r = sf.query("SELECT Id FROM Account WHERE Name = 5");
        assert_eq!(
            (r.status, r.error_code()),
            (400, "INVALID_QUERY_FILTER_OPERATOR".into())
        );
        let r = sf.get("query");
        assert_eq!(r.status, 400);
        // The trailing-slash form simple-salesforce uses.
        let r = sf.get("query/?q=SELECT+Id+FROM+Account");
        assert_eq!((r.status, r.body["totalSize"].clone()), (200, json!(3)));
    }

    #[test]
    fn hostile_input_never_breaks_the_server() {
        let (sf, accounts, _) = org(2000);
        let soql = [
            "SELECT",
            "SELECT Id FROM",
            "SELECT Id FROM Account WHERE CreatedDate = LAST_N_DAYS:99999999999999999999",
            "SELECT Id FROM Account WHERE CreatedDate > LAST_N_DAYS:-5",
            "SELECT Id FROM Account LIMIT 99999999999999999999999",
            "SELECT Id FROM Account OFFSET 5000",
            "SELECT Id FROM Account WHERE Name = '\\",
            "SELECT Id FROM Account WHERE Name IN ()",
            "SELECT Id FROM Account WHERE (((Name = 'a')",
            "SELECT Id FROM Account WHERE Name LIKE '%%%%_\\%'",
            "SELECT Account.Account.Name FROM Opportunity",
            "SELECT (SELECT (SELECT Id FROM OpportunityLineItems) FROM Opportunities) FROM Account",
            "SELECT COUNT(), Name FROM Account",
            "SELECT Id FROM Opportunity WHERE Amount > 1e999999",
            "SELECT Id FROM Opportunity WHERE CloseDate > 2024-02-30",
            "SELECT Id FROM Account WHERE Id = '001'",
            "SELECT Id FROM Account ORDER BY",
            "SELECT Id FROM Account WHERE NOT NOT NOT Name = 'x'",
            "\u{0}\u{1}ÿ SELECT ☃ FROM Account",
        ];
        for q in soql {
            let r = sf.query(q);
            assert!(
                r.status == 200 || r.status == 400,
                "{q}: {} {}",
                r.status,
                r.body
            );
            assert!(r.body.is_object() || r.body.is_array(), "{q}");
        }
        let bodies = [
            json!([1, 2]),
            json!("text"),
            json!({"Name": {"nested": true}}),
            json!({"Name": ["a"]}),
            json!({"Name": "x", "AnnualRevenue": 1e300}),
            json!({"Name": "x", "NumberOfEmployees": 1.5}),
            json!({"Name": "x", "ParentId": accounts[0].clone() + "x"}),
            json!({"Name": "x", "ParentId": "003000000000000AAA"}),
            json!({"Name": null}),
            json!({"attributes": {"type": "Contact"}, "Name": "ok"}),
        ];
        for b in &bodies {
            let r = sf.post("sobjects/Account/", b);
            assert!(
                r.status == 201 || r.status == 400,
                "{b}: {} {}",
                r.status,
                r.body
            );
        }
        let line = json!({"OpportunityId": "006000000000000AAA", "Quantity": 1e15, "UnitPrice": 9999999999999999.0, "Discount": 150});
        assert_eq!(sf.post("sobjects/OpportunityLineItem/", &line).status, 400);
        for path in [
            "sobjects/Account/%ZZ",
            "sobjects/Account/External_Id__c/%",
            "query/",
            "query/-",
            "query/x-99",
            "composite/sobjects/Nope?ids=1",
            "sobjects//describe",
        ] {
            let r = sf.get(path);
            assert!((400..500).contains(&r.status), "{path}: {}", r.status);
        }
        let composite = json!({"compositeRequest": [{"method": "GET", "url": "@{", "referenceId": "a"}, {"method": "GET", "url": "/services/data/v61.0/sobjects/Account/@{a.records[99999999999999999999].Id}", "referenceId": "b"}]});
        assert_eq!(sf.post("composite", &composite).status, 200);
        assert_eq!(
            sf.query("SELECT COUNT() FROM Account").status,
            200,
            "still serving"
        );
    }
}
