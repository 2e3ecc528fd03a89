//! The QBO emulator's company API over HTTP: CRUD, business rules, query, requestid, batch, CDC.

mod qbo_support;

/// Named `qbo` so that `cargo test -p ledgerlink-emulators qbo` selects these tests.
mod qbo {
    use crate::qbo_support::{assert_same_shape, fixture, keys, Qbo};
    use serde_json::{json, Value};

    fn fault_code(body: &Value) -> &str {
        body["Fault"]["Error"][0]["code"]
            .as_str()
            .unwrap_or_default()
    }

    #[test]
    fn customer_create_read_full_and_sparse_update() {
        let qbo = Qbo::start();
        let created = qbo.create("Customer", json!({"DisplayName": "Thrifty Meats", "CompanyName": "Thrifty Meats", "GivenName": "John",
                                                 "PrimaryEmailAddr": {"Address": "info@thriftymeats.com"}}));
        assert_eq!(created["SyncToken"], "0");
        assert!(created["Id"].is_string());
        let create_time = created["MetaData"]["CreateTime"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(create_time).is_ok()
                && create_time.ends_with("-08:00"),
            "{create_time}"
        );
        assert_same_shape(
            &json!({"Customer": created.clone()}),
            &fixture("qbo/customer.json"),
            &[
                "Customer.domain",
                "Customer.sparse",
                "Customer.Id",
                "Customer.SyncToken",
                "Customer.MetaData.CreateTime",
                "Customer.MetaData.LastUpdatedTime",
                "Customer.DisplayName",
                "Customer.FullyQualifiedName",
                "Customer.Active",
                "Customer.Balance",
                "Customer.BalanceWithJobs",
                "Customer.Job",
                "Customer.PrimaryEmailAddr.Address",
                "Customer.CurrencyRef.value",
            ],
        );

        let id = created["Id"].as_str().unwrap();
        let (status, read) = qbo.get(&format!("customer/{id}?minorversion=75"));
        assert_eq!(status, 200);
        assert_eq!(read["Customer"]["DisplayName"], "Thrifty Meats");
        assert!(read["time"].is_string());

        let (status, sparse) = qbo.post(
            "customer",
            &json!({"Id": id, "SyncToken": "0", "sparse": true, "Notes": "VIP"}),
        );
        assert_eq!(status, 200, "{sparse}");
        assert_eq!(sparse["Customer"]["SyncToken"], "1");
        assert_eq!(sparse["Customer"]["Notes"], "VIP");
        assert_eq!(
            sparse["Customer"]["CompanyName"], "Thrifty Meats",
            "sparse keeps the fields not sent"
        );

        let (status, full) = qbo.post(
            "customer",
            &json!({"Id": id, "SyncToken": "1", "DisplayName": "Thrifty Meats"}),
        );
        assert_eq!(status, 200, "{full}");
        assert_eq!(full["Customer"]["SyncToken"], "2");
        assert!(
            full["Customer"].get("CompanyName").is_none(),
            "a full update drops omitted writable fields"
        );
        assert!(full["Customer"].get("Notes").is_none());
        assert_eq!(
            full["Customer"]["MetaData"]["CreateTime"],
            created["MetaData"]["CreateTime"]
        );
    }

    #[test]
    fn stale_sync_token_is_5010() {
        let qbo = Qbo::start();
        let c = qbo.customer("Stale Co");
        let id = c["Id"].as_str().unwrap();
        let (status, _) = qbo.post(
            "customer",
            &json!({"Id": id, "SyncToken": "0", "sparse": true, "Notes": "first"}),
        );
        assert_eq!(status, 200);
        let (status, body) = qbo.post(
            "customer",
            &json!({"Id": id, "SyncToken": "0", "sparse": true, "Notes": "second"}),
        );
        assert_eq!(status, 400);
        assert_eq!(fault_code(&body), "5010");
        assert_eq!(body["Fault"]["type"], "ValidationFault");
        assert_eq!(body["Fault"]["Error"][0]["Message"], "Stale Object Error");
        assert_eq!(keys(&body), ["Fault", "time"]);
    }

    #[test]
    fn display_name_is_unique_across_customers_vendors_and_employees() {
        let qbo = Qbo::start();
        let vendor = qbo.create("Vendor", json!({"DisplayName": "Acme Supplies"}));
        let (status, body) = qbo.post("customer", &json!({"DisplayName": "acme supplies"}));
        assert_eq!(status, 400);
        let expected = fixture("qbo/customer_duplicate_name_error_6240.json");
        assert_eq!(
            body["Fault"]["Error"][0]["code"],
            expected["Fault"]["Error"][0]["code"]
        );
        assert_eq!(
            body["Fault"]["Error"][0]["Message"],
            expected["Fault"]["Error"][0]["Message"]
        );
        assert_eq!(body["Fault"]["Error"][0]["element"], "");
        assert!(body["Fault"]["Error"][0]["Detail"]
            .as_str()
            .unwrap()
            .starts_with("The name supplied already exists. : Another vendor"));

        // Inactive names still count.
        let (status, _) = qbo.post(
            "vendor",
            &json!({"Id": vendor["Id"], "SyncToken": "0", "sparse": true, "Active": false}),
        );
        assert_eq!(status, 200);
        let (status, body) = qbo.post("employee", &json!({"DisplayName": "Acme Supplies"}));
        assert_eq!((status, fault_code(&body)), (400, "6240"));

        let (status, body) = qbo.post("customer", &json!({"DisplayName": "Parent:Child"}));
        assert_eq!(status, 400, "{body}");
        assert_eq!(fault_code(&body), "6000");
    }

    #[test]
    fn deactivating_a_customer_renames_it_like_qbo() {
        let qbo = Qbo::start();
        let c = qbo.customer("Neo Pets");
        let (_, body) = qbo.post(
            "customer",
            &json!({"Id": c["Id"], "SyncToken": "0", "sparse": true, "Active": false}),
        );
        let expected = fixture("qbo/customer_deleted.json");
        assert_eq!(body["Customer"]["Active"], expected["Customer"]["Active"]);
        assert_eq!(body["Customer"]["DisplayName"], "Neo Pets (deleted)");
        let (status, body) = qbo.post(
            "customer?operation=delete",
            &json!({"Id": c["Id"], "SyncToken": "1"}),
        );
        assert_eq!(
            (status, fault_code(&body)),
            (400, "500"),
            "name-list entities cannot be deleted"
        );
    }

    #[test]
    fn invoice_totals_lines_and_doc_numbers() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Sunset Bakery");
        let invoice = qbo.create(
        "Invoice",
        json!({"CustomerRef": {"value": customer["Id"]}, "Line": [
            {"Amount": 50.00, "DetailType": "SalesItemLineDetail", "Description": "Plush Baby Doll",
             "SalesItemLineDetail": {"ItemRef": {"value": "1"}, "UnitPrice": 50, "Qty": 1, "TaxCodeRef": {"value": "NON"}}},
            {"DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "2"}, "UnitPrice": "12.345", "Qty": 2}}
        ], "TxnTaxDetail": {"TotalTax": 1.10}}),
    );
        assert_eq!(
            invoice["TotalAmt"].to_string(),
            "75.79",
            "50.00 + round(24.69) + 1.10"
        );
        assert_eq!(invoice["Balance"], invoice["TotalAmt"]);
        assert_eq!(invoice["DocNumber"], "1001");
        assert_eq!(invoice["CustomerRef"]["name"], "Sunset Bakery");
        let lines = invoice["Line"].as_array().unwrap();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[2]["DetailType"], "SubTotalLineDetail");
        assert_eq!(lines[2]["Amount"].to_string(), "74.69");
        assert_eq!(lines[1]["Amount"].to_string(), "24.69");
        assert_eq!(lines[0]["Id"], "1");
        assert_eq!(lines[0]["LineNum"], 1);
        assert_same_shape(
            &json!({"Invoice": invoice.clone()}),
            &fixture("qbo/invoice.json"),
            &[
                "Invoice.Id",
                "Invoice.SyncToken",
                "Invoice.DocNumber",
                "Invoice.TxnDate",
                "Invoice.Line.0.Id",
                "Invoice.Line.0.LineNum",
                "Invoice.Line.0.Amount",
                "Invoice.Line.0.SalesItemLineDetail.ItemRef.value",
                "Invoice.Line.0.SalesItemLineDetail.UnitPrice",
                "Invoice.Line.0.SalesItemLineDetail.Qty",
                "Invoice.Line.1.Amount",
                "Invoice.TxnTaxDetail.TotalTax",
                "Invoice.CustomerRef.name",
                "Invoice.DueDate",
                "Invoice.TotalAmt",
                "Invoice.Balance",
                "Invoice.EmailStatus",
                "Invoice.PrintStatus",
                "Invoice.Deposit",
            ],
        );

        let second = qbo.invoice(&customer, &["10"]);
        assert_eq!(second["DocNumber"], "1002");
        let (status, body) = qbo.post("invoice", &json!({"CustomerRef": {"value": customer["Id"]}, "DocNumber": "1001",
        "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}));
        assert_eq!((status, fault_code(&body)), (400, "6140"));
        let detail = body["Fault"]["Error"][0]["Detail"].as_str().unwrap();
        assert_eq!(detail, format!("Duplicate Document Number Error : You must specify a different number. This number has already been used. DocNumber=1001 is assigned to TxnType=Invoice with TxnId={}", invoice["Id"].as_str().unwrap()));
        let (status, _) = qbo.post("invoice?include=allowduplicatedocnum", &json!({"CustomerRef": {"value": customer["Id"]}, "DocNumber": "1001",
        "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "1"}}}]}));
        assert_eq!(status, 200);

        let (status, body) = qbo.post(
            "invoice",
            &json!({"Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail"}]}),
        );
        assert_eq!((status, fault_code(&body)), (400, "2020"));
        let (status, body) = qbo.post(
            "invoice",
            &json!({"CustomerRef": {"value": customer["Id"]}, "Line": []}),
        );
        assert_eq!((status, fault_code(&body)), (400, "2020"));
        let (status, body) = qbo.post("invoice", &json!({"CustomerRef": {"value": "999"}, "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail"}]}));
        assert_eq!((status, fault_code(&body)), (400, "2500"));
        let (status, body) = qbo.post("invoice", &json!({"CustomerRef": {"value": customer["Id"]},
        "Line": [{"Amount": 5, "DetailType": "SalesItemLineDetail", "SalesItemLineDetail": {"ItemRef": {"value": "77"}}}]}));
        assert_eq!((status, fault_code(&body)), (400, "2500"));
    }

    #[test]
    fn payment_lowers_invoice_balance_and_void_or_delete_restores_it() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Amy's Bird Sanctuary");
        let invoice = qbo.invoice(&customer, &["100.00"]);
        let inv_id = invoice["Id"].as_str().unwrap().to_string();

        let payment = qbo.create(
            "Payment",
            json!({"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 70.00,
        "Line": [{"Amount": 60.00, "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]}]}),
        );
        assert_eq!(payment["UnappliedAmt"].to_string(), "10.0");
        assert_same_shape(
            &json!({"Payment": payment.clone()}),
            &fixture("qbo/payment.json"),
            &[
                "Payment.Id",
                "Payment.SyncToken",
                "Payment.TxnDate",
                "Payment.CustomerRef.value",
                "Payment.DepositToAccountRef.value",
                "Payment.TotalAmt",
                "Payment.UnappliedAmt",
                "Payment.ProcessPayment",
            ],
        );

        let (_, read) = qbo.get(&format!("invoice/{inv_id}"));
        assert_eq!(read["Invoice"]["Balance"].to_string(), "40.0");
        assert_eq!(
            read["Invoice"]["LinkedTxn"],
            json!([{"TxnId": payment["Id"], "TxnType": "Payment"}])
        );
        assert_eq!(
            read["Invoice"]["SyncToken"], "1",
            "applying a payment changes the invoice"
        );
        let (_, cust) = qbo.get(&format!("customer/{}", customer["Id"].as_str().unwrap()));
        assert_eq!(cust["Customer"]["Balance"].to_string(), "40.0");

        // Over-applying is refused.
        let (status, body) = qbo.post(
            "payment",
            &json!({"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 50,
        "Line": [{"Amount": 50, "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]}]}),
        );
        assert_eq!((status, fault_code(&body)), (400, "6000"));

        // Void (python-quickbooks form) restores the balance.
        let (status, voided) = qbo.post(
            "payment?operation=update&include=void",
            &json!({"Id": payment["Id"], "SyncToken": payment["SyncToken"], "sparse": true}),
        );
        assert_eq!(status, 200, "{voided}");
        let expected = fixture("qbo/payment_void_response.json");
        assert_eq!(
            voided["Payment"]["PrivateNote"],
            expected["Payment"]["PrivateNote"]
        );
        assert_eq!(voided["Payment"]["TotalAmt"], 0);
        assert_eq!(voided["Payment"]["UnappliedAmt"], 0);
        assert_eq!(voided["Payment"]["sparse"], true);
        let (_, read) = qbo.get(&format!("invoice/{inv_id}"));
        assert_eq!(read["Invoice"]["Balance"].to_string(), "100.0");
        assert!(read["Invoice"].get("LinkedTxn").is_none());

        // A second payment, then deleting it, also restores the balance.
        let second = qbo.create(
            "Payment",
            json!({"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 100,
        "Line": [{"Amount": 100, "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]}]}),
        );
        let (_, read) = qbo.get(&format!("invoice/{inv_id}"));
        assert_eq!(read["Invoice"]["Balance"].as_f64(), Some(0.0));
        let (status, body) = qbo.post(
            "invoice?operation=delete",
            &json!({"Id": inv_id, "SyncToken": read["Invoice"]["SyncToken"]}),
        );
        assert_eq!(
            (status, fault_code(&body)),
            (400, "6000"),
            "an invoice with payments cannot be deleted"
        );
        let (status, _) = qbo.post(
            "payment?operation=delete",
            &json!({"Id": second["Id"], "SyncToken": second["SyncToken"]}),
        );
        assert_eq!(status, 200);
        let (_, read) = qbo.get(&format!("invoice/{inv_id}"));
        assert_eq!(read["Invoice"]["Balance"].to_string(), "100.0");
    }

    #[test]
    fn invoice_void_delete_send_and_link() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Void Co");
        let invoice = qbo.invoice(&customer, &["50.00"]);
        let id = invoice["Id"].as_str().unwrap();

        let (status, sent) = qbo.post_raw(
            &format!("invoice/{id}/send?sendTo=test%40intuit.com"),
            "application/octet-stream",
            "",
        );
        assert_eq!(status, 200, "{sent}");
        let expected = fixture("qbo/invoice_send_response.json");
        assert_eq!(
            sent["Invoice"]["EmailStatus"],
            expected["Invoice"]["EmailStatus"]
        );
        assert_eq!(
            sent["Invoice"]["BillEmail"],
            expected["Invoice"]["BillEmail"]
        );
        assert_same_shape(
            &sent,
            &expected,
            &[
                "Invoice.DeliveryInfo.DeliveryType",
                "Invoice.DeliveryInfo.DeliveryTime",
                "time",
            ],
        );
        let (_, linked) = qbo.get(&format!("invoice/{id}?include=invoiceLink&minorversion=75"));
        assert!(linked["Invoice"]["InvoiceLink"]
            .as_str()
            .unwrap()
            .starts_with("https://"));

        let token = sent["Invoice"]["SyncToken"].clone();
        let (status, voided) = qbo.post(
            "invoice?operation=void",
            &json!({"Id": id, "SyncToken": token}),
        );
        assert_eq!(status, 200, "{voided}");
        assert_eq!(voided["Invoice"]["PrivateNote"], "Voided");
        assert_eq!(voided["Invoice"]["TotalAmt"], 0);
        assert_eq!(voided["Invoice"]["Balance"], 0);

        let other = qbo.invoice(&customer, &["5"]);
        let (status, deleted) = qbo.post(
            "invoice?operation=delete",
            &json!({"Id": other["Id"], "SyncToken": "0"}),
        );
        assert_eq!(status, 200);
        let expected = fixture("qbo/invoice_delete_response.json");
        assert_eq!(keys(&deleted), keys(&expected));
        assert_eq!(keys(&deleted["Invoice"]), keys(&expected["Invoice"]));
        assert_eq!(deleted["Invoice"]["status"], "Deleted");
        let (status, body) = qbo.get(&format!("invoice/{}", other["Id"].as_str().unwrap()));
        assert_eq!((status, fault_code(&body)), (400, "610"));
    }

    #[test]
    fn journal_entry_must_balance() {
        let qbo = Qbo::start();
        let line = |amount: f64, side: &str, account: &str| {
            json!({"Amount": amount, "DetailType": "JournalEntryLineDetail",
               "JournalEntryLineDetail": {"PostingType": side, "AccountRef": {"value": account}}})
        };
        let (status, body) = qbo.post(
            "journalentry",
            &json!({"Line": [line(20.0, "Debit", "12"), line(19.99, "Credit", "5")]}),
        );
        assert_eq!((status, fault_code(&body)), (400, "6000"));
        let detail = body["Fault"]["Error"][0]["Detail"].as_str().unwrap();
        assert!(
            detail.contains("20.00") && detail.contains("19.99") && detail.contains("0.01"),
            "{detail}"
        );

        let je = qbo.create("JournalEntry", json!({"DocNumber": "49", "Line": [line(20.0, "Debit", "12"), line(6.0, "Debit", "12"), line(26.0, "Credit", "5")]}));
        assert_eq!(je["TotalAmt"].to_string(), "26.0");
        assert_eq!(
            je["Line"][0]["Id"], "0",
            "journal lines are numbered from 0 like the fixture"
        );
        assert_eq!(
            je["Line"][2]["JournalEntryLineDetail"]["AccountRef"]["name"],
            "Checking"
        );
        assert_same_shape(
            &json!({"JournalEntry": je}),
            &fixture("qbo/journal_entry.json"),
            &[
                "JournalEntry.Id",
                "JournalEntry.DocNumber",
                "JournalEntry.TxnDate",
                "JournalEntry.Line.0.Id",
                "JournalEntry.Line.0.Amount",
                "JournalEntry.Line.0.JournalEntryLineDetail.PostingType",
                "JournalEntry.Line.0.JournalEntryLineDetail.AccountRef.value",
                "JournalEntry.Adjustment",
            ],
        );
        let (status, body) = qbo.post(
            "journalentry",
            &json!({"Line": [line(5.0, "Debit", "404"), line(5.0, "Credit", "5")]}),
        );
        assert_eq!((status, fault_code(&body)), (400, "2500"));
    }

    #[test]
    fn query_edge_cases() {
        let qbo = Qbo::start();
        for name in ["O'Brien Plumbing", "Acme Enterprises", "Acme Tools", "Zeta"] {
            qbo.customer(name);
        }
        let (status, body) = qbo.query("SELECT * FROM Customer STARTPOSITION 0");
        assert_eq!(status, 400);
        let expected = fixture("qbo/query_validation_error_4001.json");
        assert_eq!(
            body["Fault"], expected["Fault"],
            "4001 exactly as the fixture"
        );

        let (_, body) =
            qbo.query("select * from Customer where DisplayName = 'O\\'Brien Plumbing'");
        assert_eq!(
            body["QueryResponse"]["Customer"][0]["DisplayName"],
            "O'Brien Plumbing"
        );
        assert_eq!(body["QueryResponse"]["startPosition"], 1);
        assert_eq!(body["QueryResponse"]["maxResults"], 1);
        assert_same_shape(
            &body,
            &fixture("qbo/customer_query_response.json"),
            &[
                "QueryResponse.startPosition",
                "QueryResponse.maxResults",
                "QueryResponse.Customer.0.Id",
                "QueryResponse.Customer.0.DisplayName",
                "time",
            ],
        );

        let (_, body) = qbo.query(
            "SELECT * FROM customer WHERE DisplayName LIKE 'Acme%' ORDERBY DisplayName DESC",
        );
        let names: Vec<&str> = body["QueryResponse"]["Customer"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["DisplayName"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Acme Tools", "Acme Enterprises"]);

        let (_, body) = qbo.query("select * from Customer where DisplayName in ('Zeta', 'Acme Tools') order by DisplayName asc");
        assert_eq!(
            body["QueryResponse"]["Customer"].as_array().unwrap().len(),
            2
        );

        let (_, body) = qbo.query("SELECT COUNT(*) FROM Customer");
        assert_eq!(body["QueryResponse"], json!({"totalCount": 4}));

        let (_, body) = qbo.query("select * from Customer where DisplayName = 'nobody'");
        assert_eq!(body["QueryResponse"], json!({}));

        let (status, body) =
            qbo.query("select * from Customer where DisplayName = 'Zeta' OR DisplayName = 'x'");
        assert_eq!((status, fault_code(&body)), (400, "4001"));

        let (_, body) = qbo.query("select * from Customer startposition 2 maxresults 2");
        assert_eq!(body["QueryResponse"]["startPosition"], 2);
        assert_eq!(
            body["QueryResponse"]["Customer"].as_array().unwrap().len(),
            2
        );

        // POST with application/text, as python-quickbooks does; `*, Sku` is tolerated.
        let (status, body) = qbo.post_raw(
            "query?minorversion=75",
            "application/text",
            "SELECT *, Sku FROM Item MAXRESULTS 1000",
        );
        assert_eq!(status, 200, "{body}");
        assert!(body["QueryResponse"]["Item"].as_array().unwrap().len() >= 2);

        let (_, body) = qbo.query("select * from TaxCode");
        assert_same_shape(
            &body,
            &fixture("qbo/tax_code_query_response.json"),
            &[
                "QueryResponse.TaxCode.0.Id",
                "QueryResponse.TaxCode.0.Name",
                "QueryResponse.TaxCode.0.Taxable",
                "QueryResponse.TaxCode.0.MetaData.CreateTime",
            ],
        );
        let (_, body) = qbo.query("select * from Account where AccountType = 'Bank'");
        assert_same_shape(
            &body,
            &fixture("qbo/account_query_response.json"),
            &[
                "QueryResponse.Account.0.Name",
                "QueryResponse.Account.0.Classification",
                "QueryResponse.Account.0.CurrentBalance",
                "QueryResponse.Account.0.SubAccount",
            ],
        );

        let since = (chrono::Utc::now() - chrono::Duration::minutes(5))
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let (_, body) = qbo.query(&format!(
            "select count(*) from Customer where MetaData.LastUpdatedTime >= '{since}'"
        ));
        assert_eq!(body["QueryResponse"]["totalCount"], 4);
        let (status, body) = qbo.query("select * from Widget");
        assert_eq!((status, fault_code(&body)), (400, "4001"));
    }

    #[test]
    fn requestid_replays_the_first_answer() {
        let mut config = crate::qbo_support::config();
        config.requestid_ttl_secs = 600;
        let qbo = Qbo::start_with(config);
        let (s1, first) = qbo.post(
            "customer?requestid=abc-123",
            &json!({"DisplayName": "Once Only"}),
        );
        let (s2, second) = qbo.post(
            "customer?requestid=abc-123",
            &json!({"DisplayName": "Once Only"}),
        );
        assert_eq!((s1, s2), (200, 200));
        assert_eq!(
            first, second,
            "the replay is byte-for-byte the first answer"
        );
        let (_, count) = qbo.query("select count(*) from Customer where DisplayName = 'Once Only'");
        assert_eq!(count["QueryResponse"]["totalCount"], 1);

        // Failures are replayed too, even after the cause went away.
        let (s1, f1) = qbo.post("invoice?requestid=bad-1", &json!({"CustomerRef": {"value": "999"}, "Line": [{"Amount": 1, "DetailType": "SalesItemLineDetail"}]}));
        let (s2, f2) = qbo.post("invoice?requestid=bad-1", &json!({"CustomerRef": {"value": first["Customer"]["Id"]}, "Line": [{"Amount": 1, "DetailType": "SalesItemLineDetail"}]}));
        assert_eq!((s1, s2), (400, 400));
        assert_eq!(f1, f2);

        let long = "x".repeat(51);
        let (status, body) = qbo.post(
            &format!("customer?requestid={long}"),
            &json!({"DisplayName": "Too Long"}),
        );
        assert_eq!((status, fault_code(&body)), (400, "2050"));

        // After the TTL the id is free again.
        qbo.emu.clock().advance(chrono::Duration::seconds(601));
        let (_, third) = qbo.post(
            "customer?requestid=abc-123",
            &json!({"DisplayName": "Once Only"}),
        );
        assert_eq!(fault_code(&third), "6240");
    }

    #[test]
    fn batch_reports_each_item() {
        let qbo = Qbo::start();
        let existing = qbo.customer("Batch Existing");
        let body = json!({"BatchItemRequest": [
            {"bId": "1", "operation": "create", "Customer": {"DisplayName": "Batch Existing"}},
            {"bId": "2", "operation": "create", "Customer": {"DisplayName": "Batch New"}},
            {"bId": "3", "Query": "select * from Customer where DisplayName = 'Batch Existing'"},
            {"bId": "4", "operation": "update", "Customer": {"Id": existing["Id"], "SyncToken": "0", "sparse": true, "Notes": "from batch"}},
            {"bId": "5", "CDCQuery": {"Entities": "Customer", "ChangedSince": (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339()}}
        ]});
        let (status, resp) = qbo.post("batch", &body);
        assert_eq!(status, 200, "{resp}");
        let items = resp["BatchItemResponse"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        let fixture = fixture("qbo/batch_response.json");
        assert_eq!(items[0]["bId"], "1");
        assert_eq!(
            items[0]["Fault"]["Error"][0]["code"],
            fixture["BatchItemResponse"][1]["Fault"]["Error"][0]["code"]
        );
        assert_eq!(
            keys(&items[0]["Fault"]),
            keys(&fixture["BatchItemResponse"][1]["Fault"])
        );
        assert_eq!(
            keys(&items[0]["Fault"]["Error"][0]),
            keys(&fixture["BatchItemResponse"][1]["Fault"]["Error"][0])
        );
        assert_eq!(items[1]["Customer"]["DisplayName"], "Batch New");
        assert_eq!(keys(&items[1]), keys(&fixture["BatchItemResponse"][0]));
        assert_eq!(
            items[2]["QueryResponse"]["Customer"][0]["Id"],
            existing["Id"]
        );
        assert_eq!(items[3]["Customer"]["Notes"], "from batch");
        assert!(items[4]["CDCResponse"]["QueryResponse"].is_array());
        assert!(resp["time"].is_string());

        let too_many: Vec<Value> = (0..31)
            .map(|i| json!({"bId": i.to_string(), "Query": "select * from Term"}))
            .collect();
        let (status, body) = qbo.post("batch", &json!({"BatchItemRequest": too_many}));
        assert_eq!(
            (status, body["Fault"]["type"].as_str()),
            (400, Some("ValidationFault"))
        );

        let (status, body) = qbo.post(
            "batch?requestid=b1",
            &json!({"BatchItemRequest": [{"bId": "01234567890", "Query": "select * from Term"}]}),
        );
        assert_eq!(status, 200);
        assert_eq!(
            body["BatchItemResponse"][0]["Fault"]["Error"][0]["code"], "2050",
            "bIds are at most 10 characters with a requestid"
        );
    }

    #[test]
    fn cdc_lists_changes_and_deleted_stubs() {
        let qbo = Qbo::start();
        // Without an offset, changedSince is read in the company's time zone (UTC-8 by default).
        let company = chrono::FixedOffset::west_opt(8 * 3600).unwrap();
        let since = (chrono::Utc::now() - chrono::Duration::seconds(5))
            .with_timezone(&company)
            .format("%Y-%m-%dT%H:%M:%S")
            .to_string();
        let customer = qbo.customer("CDC Customer");
        let keep = qbo.invoice(&customer, &["10"]);
        let gone = qbo.invoice(&customer, &["20"]);
        let (status, _) = qbo.post(
            "invoice?operation=delete",
            &json!({"Id": gone["Id"], "SyncToken": "0"}),
        );
        assert_eq!(status, 200);

        let resp = qbo
            .http
            .get(qbo.url("cdc"))
            .bearer_auth(&qbo.token)
            .query(&[
                ("entities", "Customer,Invoice"),
                ("changedSince", since.as_str()),
                ("minorversion", "75"),
            ])
            .send()
            .unwrap();
        assert_eq!(resp.status(), 200);
        let body: Value = resp.json().unwrap();
        let fixture = fixture("qbo/cdc_response.json");
        assert_same_shape(
            &body,
            &fixture,
            &[
                "CDCResponse.0.QueryResponse.0.Customer.0.DisplayName",
                "CDCResponse.0.QueryResponse.0.startPosition",
                "CDCResponse.0.QueryResponse.0.maxResults",
                "CDCResponse.0.QueryResponse.1.Invoice.0.DocNumber",
                "time",
            ],
        );
        let invoices = body["CDCResponse"][0]["QueryResponse"][1]["Invoice"]
            .as_array()
            .unwrap();
        assert_eq!(invoices.len(), 2);
        assert_eq!(invoices[0]["Id"], keep["Id"]);
        let stub = &invoices[1];
        assert_eq!(keys(stub), ["Id", "MetaData", "domain", "status"]);
        assert_eq!(
            (
                stub["Id"].clone(),
                stub["status"].clone(),
                stub["domain"].clone()
            ),
            (gone["Id"].clone(), json!("Deleted"), json!("QBO"))
        );
        assert!(stub["MetaData"]["LastUpdatedTime"].is_string());

        qbo.emu.clock().advance(chrono::Duration::seconds(10));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(8)).to_rfc3339();
        let resp = qbo
            .http
            .get(qbo.url("cdc"))
            .bearer_auth(&qbo.token)
            .query(&[("entities", "Customer"), ("changedSince", later.as_str())])
            .send()
            .unwrap();
        let body: Value = resp.json().unwrap();
        assert_eq!(body["CDCResponse"], fixture_empty()["CDCResponse"]);

        let old = (chrono::Utc::now() - chrono::Duration::days(31)).to_rfc3339();
        let resp = qbo
            .http
            .get(qbo.url("cdc"))
            .bearer_auth(&qbo.token)
            .query(&[("entities", "Customer"), ("changedSince", old.as_str())])
            .send()
            .unwrap();
        assert_eq!(resp.status(), 400);
    }

    fn fixture_empty() -> Value {
        fixture("qbo/cdc_response_empty.json")
    }

    #[test]
    fn malformed_requests_get_faults_not_panics() {
        let qbo = Qbo::start();
        let (status, body) = qbo.post_raw("customer", "application/json", "{\"DisplayName\": ");
        assert_eq!((status, fault_code(&body)), (400, "2010"));
        let (status, body) = qbo.post_raw("customer", "application/json", vec![0xff, 0xfe, 0x00]);
        assert_eq!((status, fault_code(&body)), (400, "500"));
        let (status, body) = qbo.post("widget", &json!({}));
        assert_eq!((status, fault_code(&body)), (400, "500"));
        assert_eq!(
            body["Fault"]["Error"][0]["Message"],
            "Unsupported Operation"
        );
        let (status, body) = qbo.get("customer/424242");
        assert_eq!((status, fault_code(&body)), (400, "610"));
        let (status, body) = qbo.post("customer", &json!([1, 2]));
        assert_eq!((status, fault_code(&body)), (400, "2010"));
        let (status, body) = qbo.post("invoice", &json!({"CustomerRef": "1", "Line": [{"Amount": "lots", "DetailType": "SalesItemLineDetail"}]}));
        assert_eq!(status, 400, "{body}");
        let (status, body) = qbo.post("taxcode", &json!({"Name": "X"}));
        assert_eq!((status, fault_code(&body)), (400, "500"));
        let (status, body) = qbo.get("companyinfo/1");
        assert_eq!(status, 200, "{body}");
        assert!(body["CompanyInfo"]["CompanyName"].is_string());
        let (status, body) = qbo.get("preferences");
        assert_eq!(status, 200);
        assert_eq!(
            body["Preferences"]["CurrencyPrefs"]["HomeCurrency"]["value"],
            "USD"
        );
        // Last: the server answers 413 without reading the body and closes that connection, so
        // a request reusing it afterwards could fail on the client side.
        let big = format!("{{\"DisplayName\": \"{}\"}}", "a".repeat(11 * 1024 * 1024));
        let (status, body) = qbo.post_raw("customer", "application/json", big);
        assert_eq!(status, 413, "{body}");
    }

    #[test]
    fn direct_api_inserts_and_seeds_with_validation() {
        let qbo = Qbo::start();
        qbo.emu
        .load_seed(&qbo.realm, &json!({
            "Customer": [{"Id": "58", "DisplayName": "Seeded Co"}],
            "Invoice": [{"CustomerRef": {"value": "58"}, "Line": [{"Amount": 12.5, "DetailType": "SalesItemLineDetail"}]}]
        }))
        .unwrap();
        let invoices = qbo.emu.entities(&qbo.realm, "Invoice");
        assert_eq!(invoices.len(), 1);
        assert_eq!(invoices[0]["TotalAmt"].to_string(), "12.5");
        assert!(qbo
            .emu
            .insert(&qbo.realm, "Vendor", json!({"DisplayName": "Seeded Co"}))
            .is_err());
        let (_, read) = qbo.get("customer/58");
        assert_eq!(read["Customer"]["Balance"].to_string(), "12.5");
    }
}
