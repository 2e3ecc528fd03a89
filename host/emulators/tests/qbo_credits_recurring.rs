//! The QBO emulator's CreditMemo, RefundReceipt, credit-applying payments and RecurringTransaction
//! (Invoice templates generated on the emulator's clock), over HTTP.

mod qbo_support;

/// Named `qbo` so that `cargo test -p ledgerlink-emulators qbo` selects these tests.
mod qbo {
    use crate::qbo_support::Qbo;
    use chrono::{Duration, Months, NaiveDate};
    use serde_json::{json, Value};

    fn fault_code(body: &Value) -> &str {
        body["Fault"]["Error"][0]["code"]
            .as_str()
            .unwrap_or_default()
    }

    /// An amount as a number (the emulator writes 99 or 99.0 alike).
    fn amt(v: &Value) -> f64 {
        v.as_f64().unwrap_or(f64::NAN)
    }

    fn line(amount: f64) -> Value {
        json!({"Amount": amount, "DetailType": "SalesItemLineDetail",
               "SalesItemLineDetail": {"ItemRef": {"value": "1"}}})
    }

    fn credit_memo(qbo: &Qbo, customer: &Value, amount: f64) -> Value {
        qbo.create(
            "CreditMemo",
            json!({"CustomerRef": {"value": customer["Id"]}, "Line": [line(amount)],
                   "PrivateNote": "returned goods",
                   "LinkedTxn": [{"TxnId": "99", "TxnType": "ReimburseCharge"}]}),
        )
    }

    fn read(qbo: &Qbo, entity: &str, id: &Value) -> Value {
        let (status, body) = qbo.get(&format!(
            "{}/{}",
            entity.to_ascii_lowercase(),
            id.as_str().unwrap()
        ));
        assert_eq!(status, 200, "{body}");
        body[entity].clone()
    }

    fn today(qbo: &Qbo) -> NaiveDate {
        let (_, info) = qbo.get("companyinfo/x");
        let time = info["time"].as_str().unwrap();
        chrono::DateTime::parse_from_rfc3339(time)
            .unwrap()
            .date_naive()
    }

    #[test]
    fn credit_memo_create_read_query_update_delete() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Credit Co");
        let (status, missing) = qbo.post("creditmemo", &json!({"Line": [line(5.0)]}));
        assert_eq!((status, fault_code(&missing)), (400, "2020"), "{missing}");
        let (status, unknown) = qbo.post(
            "creditmemo",
            &json!({"CustomerRef": {"value": "999"}, "Line": [line(5.0)]}),
        );
        assert_eq!((status, fault_code(&unknown)), (400, "2500"), "{unknown}");

        let cm = credit_memo(&qbo, &customer, 120.5);
        assert_eq!(amt(&cm["TotalAmt"]), 120.5);
        assert_eq!(amt(&cm["Balance"]), 120.5);
        assert_eq!(amt(&cm["RemainingCredit"]), 120.5);
        assert_eq!(cm["PrivateNote"], "returned goods");
        assert_eq!(cm["LinkedTxn"][0]["TxnId"], "99");
        assert_eq!(cm["TxnDate"].as_str().unwrap(), today(&qbo).to_string());
        assert!(cm["DocNumber"].is_string());
        let id = cm["Id"].clone();
        assert_eq!(amt(&read(&qbo, "CreditMemo", &id)["TotalAmt"]), 120.5);

        let (status, found) = qbo.query(&format!(
            "select * from CreditMemo where Id = '{}'",
            id.as_str().unwrap()
        ));
        assert_eq!(status, 200);
        assert_eq!(found["QueryResponse"]["CreditMemo"][0]["Id"], id);

        let (status, sparse) = qbo.post(
            "creditmemo",
            &json!({"Id": id, "SyncToken": "0", "sparse": true, "PrivateNote": "changed"}),
        );
        assert_eq!(status, 200, "{sparse}");
        assert_eq!(sparse["CreditMemo"]["PrivateNote"], "changed");
        assert_eq!(amt(&sparse["CreditMemo"]["TotalAmt"]), 120.5);
        let (status, full) = qbo.post(
            "creditmemo",
            &json!({"Id": id, "SyncToken": "1", "CustomerRef": {"value": customer["Id"]},
                    "Line": [line(100.0), line(1.25)]}),
        );
        assert_eq!(status, 200, "{full}");
        assert_eq!(amt(&full["CreditMemo"]["RemainingCredit"]), 101.25);
        assert!(full["CreditMemo"].get("PrivateNote").is_none());

        let (status, deleted) = qbo.post(
            "creditmemo?operation=delete",
            &json!({"Id": id, "SyncToken": "2"}),
        );
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(deleted["CreditMemo"]["status"], "Deleted");
        let (status, gone) = qbo.get(&format!("creditmemo/{}", id.as_str().unwrap()));
        assert_eq!((status, fault_code(&gone)), (400, "610"));
    }

    #[test]
    fn a_payment_applies_a_credit_memo_to_an_invoice() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Applied Ltd");
        let other = qbo.customer("Other Ltd");
        let invoice = qbo.invoice(&customer, &["500.10"]);
        let cm = credit_memo(&qbo, &customer, 300.07);
        let (inv_id, cm_id) = (invoice["Id"].clone(), cm["Id"].clone());
        let payment = |total: f64, inv: f64, credit: f64| {
            json!({"CustomerRef": {"value": customer["Id"]}, "TotalAmt": total, "Line": [
                {"Amount": inv, "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]},
                {"Amount": credit, "LinkedTxn": [{"TxnId": cm_id, "TxnType": "CreditMemo"}]}]})
        };

        // More credit than the memo holds, a memo of another customer, invoice lines beyond
        // TotalAmt + credit: all refused, nothing changed.
        let (status, over) = qbo.post("payment", &payment(0.0, 300.08, 300.08));
        assert_eq!((status, fault_code(&over)), (400, "6000"), "{over}");
        let foreign = credit_memo(&qbo, &other, 10.0);
        let (status, wrong) = qbo.post(
            "payment",
            &json!({"CustomerRef": {"value": customer["Id"]}, "TotalAmt": 0, "Line": [
                {"Amount": 10, "LinkedTxn": [{"TxnId": inv_id, "TxnType": "Invoice"}]},
                {"Amount": 10, "LinkedTxn": [{"TxnId": foreign["Id"], "TxnType": "CreditMemo"}]}]}),
        );
        assert_eq!((status, fault_code(&wrong)), (400, "6000"), "{wrong}");
        let (status, short) = qbo.post("payment", &payment(0.0, 300.0, 200.0));
        assert_eq!((status, fault_code(&short)), (400, "6000"), "{short}");
        assert_eq!(
            amt(&read(&qbo, "CreditMemo", &cm_id)["RemainingCredit"]),
            300.07
        );

        // The credit alone pays 300.00 of the invoice.
        let (status, applied) = qbo.post("payment", &payment(0.0, 300.0, 300.0));
        assert_eq!(status, 200, "{applied}");
        let pay = applied["Payment"].clone();
        assert_eq!(amt(&pay["UnappliedAmt"]), 0.0);
        assert_eq!(amt(&read(&qbo, "Invoice", &inv_id)["Balance"]), 200.1);
        let memo = read(&qbo, "CreditMemo", &cm_id);
        assert_eq!(amt(&memo["RemainingCredit"]), 0.07);
        assert_eq!(amt(&memo["Balance"]), 0.07);

        // The last 0.07 of credit plus 5.00 of money, 5.07 to the invoice; then more than remains.
        let (status, second) = qbo.post("payment", &payment(5.0, 5.07, 0.07));
        assert_eq!(status, 200, "{second}");
        assert_eq!(amt(&read(&qbo, "Invoice", &inv_id)["Balance"]), 195.03);
        assert_eq!(
            amt(&read(&qbo, "CreditMemo", &cm_id)["RemainingCredit"]),
            0.0
        );
        let (status, none_left) = qbo.post("payment", &payment(0.0, 0.01, 0.01));
        assert_eq!((status, fault_code(&none_left)), (400, "6000"));

        // A used credit memo cannot be deleted.
        let memo = read(&qbo, "CreditMemo", &cm_id);
        let (status, refused) = qbo.post(
            "creditmemo?operation=delete",
            &json!({"Id": cm_id, "SyncToken": memo["SyncToken"]}),
        );
        assert_eq!((status, fault_code(&refused)), (400, "6000"), "{refused}");

        // Voiding the first payment gives its 300.00 back; deleting the second its 0.07.
        let (status, voided) = qbo.post(
            "payment?operation=update&include=void",
            &json!({"Id": pay["Id"], "SyncToken": pay["SyncToken"], "sparse": true}),
        );
        assert_eq!(status, 200, "{voided}");
        assert_eq!(
            amt(&read(&qbo, "CreditMemo", &cm_id)["RemainingCredit"]),
            300.0
        );
        assert_eq!(amt(&read(&qbo, "Invoice", &inv_id)["Balance"]), 495.03);
        let second = &second["Payment"];
        let (status, deleted) = qbo.post(
            "payment?operation=delete",
            &json!({"Id": second["Id"], "SyncToken": second["SyncToken"]}),
        );
        assert_eq!(status, 200, "{deleted}");
        let memo = read(&qbo, "CreditMemo", &cm_id);
        assert_eq!(amt(&memo["RemainingCredit"]), 300.07);
        assert_eq!(amt(&read(&qbo, "Invoice", &inv_id)["Balance"]), 500.1);
        let (status, _) = qbo.post(
            "creditmemo?operation=delete",
            &json!({"Id": cm_id, "SyncToken": memo["SyncToken"]}),
        );
        assert_eq!(status, 200);
    }

    #[test]
    fn refund_receipts_pay_out_of_a_bank_account() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Refunded Inc");
        let (status, income) = qbo.post(
            "refundreceipt",
            &json!({"DepositToAccountRef": {"value": "1"}, "Line": [line(20.0)]}),
        );
        assert_eq!((status, fault_code(&income)), (400, "6000"), "{income}");
        let (status, missing) = qbo.post("refundreceipt", &json!({"Line": [line(20.0)]}));
        assert_eq!((status, fault_code(&missing)), (400, "2020"));
        let (status, unknown) = qbo.post(
            "refundreceipt",
            &json!({"DepositToAccountRef": {"value": "5"}, "CustomerRef": {"value": "999"}, "Line": [line(20.0)]}),
        );
        assert_eq!((status, fault_code(&unknown)), (400, "2500"));
        let rr = qbo.create(
            "RefundReceipt",
            json!({"DepositToAccountRef": {"value": "5"}, "CustomerRef": {"value": customer["Id"]},
                   "PaymentMethodRef": {"value": "2"}, "PaymentRefNum": "CHK-7",
                   "Line": [line(20.0), line(2.5)]}),
        );
        assert_eq!(amt(&rr["TotalAmt"]), 22.5);
        assert_eq!(amt(&rr["Balance"]), 0.0);
        assert_eq!(rr["PaymentRefNum"], "CHK-7");
        assert_eq!(rr["PaymentMethodRef"]["value"], "2");
        let (_, found) = qbo.query("select * from RefundReceipt");
        assert_eq!(found["QueryResponse"]["RefundReceipt"][0]["Id"], rr["Id"]);
        let (status, _) = qbo.post(
            "refundreceipt?operation=delete",
            &json!({"Id": rr["Id"], "SyncToken": rr["SyncToken"]}),
        );
        assert_eq!(status, 200);
        let (_, cdc) = qbo.get(&format!(
            "cdc?entities=CreditMemo,RefundReceipt&changedSince={}",
            (today(&qbo) - Duration::days(1)).format("%Y-%m-%dT00:00:00")
        ));
        let stubs = &cdc["CDCResponse"][0]["QueryResponse"][0]["RefundReceipt"];
        assert_eq!(stubs[0]["status"], "Deleted", "{cdc}");
    }

    fn template(customer: &Value, name: &str, start: NaiveDate, amount: f64) -> Value {
        json!({"Invoice": {"CustomerRef": {"value": customer["Id"]}, "SalesTermRef": {"value": "3"},
            "Line": [line(amount)],
            "RecurringInfo": {"Name": name, "RecurType": "Automated", "Active": true,
                "ScheduleInfo": {"IntervalType": "Monthly", "NumInterval": 1,
                    "StartDate": start.to_string(), "MaxOccurrences": 12}}}})
    }

    /// Moves the emulator's clock and takes a fresh token (the old one expires within the hour).
    fn advance(qbo: &mut Qbo, by: Duration) {
        qbo.emu.clock().advance(by);
        qbo.token = qbo.emu.issue_tokens(&qbo.realm).access_token;
    }

    fn generated(qbo: &Qbo, template_id: &Value) -> Vec<Value> {
        let mut found: Vec<Value> = qbo
            .emu
            .entities(&qbo.realm, "Invoice")
            .into_iter()
            .filter(|i| i["RecurDataRef"]["value"] == *template_id)
            .collect();
        found.sort_by_key(|i| i["TxnDate"].as_str().unwrap_or_default().to_string());
        found
    }

    #[test]
    fn a_monthly_template_generates_invoices_on_the_clock() {
        let mut qbo = Qbo::start();
        let customer = qbo.customer("Subscriber");
        let start = today(&qbo);
        let (status, created) = qbo.post(
            "recurringtransaction",
            &template(&customer, "Monthly plan", start, 99.0),
        );
        assert_eq!(status, 200, "{created}");
        let rt = &created["RecurringTransaction"]["Invoice"];
        let id = rt["Id"].clone();
        // StartDate is today: occurrence 0 is generated with the template's creation.
        assert_eq!(
            rt["RecurringInfo"]["ScheduleInfo"]["PreviousDate"],
            start.to_string()
        );
        let month = |k: u32| start.checked_add_months(Months::new(k)).unwrap();
        assert_eq!(
            rt["RecurringInfo"]["ScheduleInfo"]["NextDate"],
            month(1).to_string()
        );
        assert_eq!(amt(&rt["TotalAmt"]), 99.0);
        assert_eq!(generated(&qbo, &id).len(), 1);

        // The same name again is 6240; Automated without a schedule is 2020.
        let (status, dup) = qbo.post(
            "recurringtransaction",
            &template(&customer, "monthly PLAN", start, 1.0),
        );
        assert_eq!((status, fault_code(&dup)), (400, "6240"), "{dup}");
        let mut no_schedule = template(&customer, "x", start, 1.0);
        no_schedule["Invoice"]["RecurringInfo"]
            .as_object_mut()
            .unwrap()
            .remove("ScheduleInfo");
        let (status, bad) = qbo.post("recurringtransaction", &no_schedule);
        assert_eq!((status, fault_code(&bad)), (400, "2020"), "{bad}");

        // Three months on: occurrences 1, 2 and 3, each once, dated by the schedule.
        let days = (month(3) - start).num_days();
        advance(&mut qbo, Duration::days(days));
        let invoices = generated(&qbo, &id);
        let dates: Vec<&str> = invoices
            .iter()
            .map(|i| i["TxnDate"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = (0..4).map(|k| month(k).to_string()).collect();
        assert_eq!(dates, expected);
        for invoice in &invoices {
            assert_eq!(invoice["CustomerRef"]["value"], customer["Id"]);
            assert_eq!(amt(&invoice["TotalAmt"]), 99.0);
            assert_eq!(amt(&invoice["Balance"]), 99.0);
            assert!(invoice["DocNumber"].is_string());
            let due = NaiveDate::parse_from_str(invoice["DueDate"].as_str().unwrap(), "%Y-%m-%d");
            let txn = NaiveDate::parse_from_str(invoice["TxnDate"].as_str().unwrap(), "%Y-%m-%d");
            assert_eq!(due.unwrap() - txn.unwrap(), Duration::days(30), "Net 30");
        }
        // Nothing more for a zero advance, a read, a repeated query.
        advance(&mut qbo, Duration::zero());
        let (_, read) = qbo.get(&format!("recurringtransaction/{}", id.as_str().unwrap()));
        let (_, _) = qbo.query("select * from Invoice");
        assert_eq!(generated(&qbo, &id).len(), 4);
        let info = &read["RecurringTransaction"]["Invoice"]["RecurringInfo"]["ScheduleInfo"];
        assert_eq!(info["PreviousDate"], month(3).to_string());
        assert_eq!(info["NextDate"], month(4).to_string());
        // Generated invoices are queryable and in CDC like any other.
        let (_, q) = qbo.query(&format!(
            "select * from Invoice where Id = '{}'",
            invoices[3]["Id"].as_str().unwrap()
        ));
        assert_eq!(
            q["QueryResponse"]["Invoice"][0]["RecurDataRef"]["value"],
            id
        );

        // A line amendment changes only the later invoices.
        let rt = &read["RecurringTransaction"]["Invoice"];
        let mut amended = template(&customer, "Monthly plan", start, 150.0);
        amended["Invoice"]["Id"] = rt["Id"].clone();
        amended["Invoice"]["SyncToken"] = rt["SyncToken"].clone();
        let (status, updated) = qbo.post("recurringtransaction", &amended);
        assert_eq!(status, 200, "{updated}");
        advance(&mut qbo, Duration::days((month(4) - month(3)).num_days()));
        let invoices = generated(&qbo, &id);
        let totals: Vec<f64> = invoices.iter().map(|i| amt(&i["TotalAmt"])).collect();
        assert_eq!(totals, [99.0, 99.0, 99.0, 99.0, 150.0]);

        // Deactivation (sparse) stops it.
        let rt = &updated["RecurringTransaction"]["Invoice"];
        let (status, off) = qbo.post(
            "recurringtransaction",
            &json!({"Invoice": {"Id": rt["Id"], "SyncToken": rt["SyncToken"], "sparse": true,
                                "RecurringInfo": {"Active": false}}}),
        );
        assert_eq!(status, 200, "{off}");
        let off = &off["RecurringTransaction"]["Invoice"];
        assert_eq!(off["RecurringInfo"]["Active"], false);
        assert_eq!(off["RecurringInfo"]["Name"], "Monthly plan");
        assert!(off["RecurringInfo"]["ScheduleInfo"]
            .get("NextDate")
            .is_none());
        advance(&mut qbo, Duration::days(70));
        assert_eq!(generated(&qbo, &id).len(), 5);

        // Query and delete.
        let (_, listed) = qbo.query("select * from RecurringTransaction");
        assert_eq!(
            listed["QueryResponse"]["RecurringTransaction"][0]["Invoice"]["Id"],
            id
        );
        let (_, by_id) = qbo.query(&format!(
            "select * from RecurringTransaction where Id = '{}'",
            id.as_str().unwrap()
        ));
        assert_eq!(
            by_id["QueryResponse"]["RecurringTransaction"]
                .as_array()
                .map(Vec::len),
            Some(1)
        );
        let (status, deleted) = qbo.post(
            "recurringtransaction?operation=delete",
            &json!({"Invoice": off}),
        );
        assert_eq!(status, 200, "{deleted}");
        assert_eq!(
            deleted["RecurringTransaction"]["Invoice"]["status"],
            "Deleted"
        );
        let (_, none) = qbo.query("select * from RecurringTransaction");
        assert_eq!(none["QueryResponse"], json!({}));
    }

    #[test]
    fn a_template_starting_later_waits_for_its_date_and_days_before() {
        let mut qbo = Qbo::start();
        let customer = qbo.customer("Later");
        let start = today(&qbo) + Duration::days(10);
        let mut body = template(&customer, "Later plan", start, 10.0);
        body["Invoice"]["RecurringInfo"]["ScheduleInfo"]["DaysBefore"] = json!(3);
        body["Invoice"]["RecurringInfo"]["ScheduleInfo"]["MaxOccurrences"] = json!(2);
        let (status, created) = qbo.post("recurringtransaction", &body);
        assert_eq!(status, 200, "{created}");
        let id = created["RecurringTransaction"]["Invoice"]["Id"].clone();
        assert!(generated(&qbo, &id).is_empty());
        advance(&mut qbo, Duration::days(6));
        assert!(generated(&qbo, &id).is_empty(), "10 - 3 days not reached");
        advance(&mut qbo, Duration::days(1));
        let invoices = generated(&qbo, &id);
        assert_eq!(invoices.len(), 1);
        assert_eq!(invoices[0]["TxnDate"], start.to_string());
        // Two years on: MaxOccurrences 2.
        advance(&mut qbo, Duration::days(730));
        assert_eq!(generated(&qbo, &id).len(), 2);
    }

    #[test]
    fn webhooks_report_credit_memos_refunds_and_generated_invoices() {
        use axum::{body::Bytes, routing::post, Router};
        use std::sync::{Arc, Mutex};
        let received: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = received.clone();
        let router = Router::new().route(
            "/hook",
            post(move |body: Bytes| {
                let sink = sink.clone();
                async move {
                    sink.lock()
                        .unwrap()
                        .push(String::from_utf8_lossy(&body).to_string());
                    "ok"
                }
            }),
        );
        let hook = ledgerlink_emulators::RunningServer::start(router, 0).unwrap();
        let mut config = crate::qbo_support::config();
        config.webhook_url = Some(format!("{}/hook", hook.url()));
        let mut qbo = Qbo::start_with(config);
        let customer = qbo.customer("Hooked credits");
        let cm = credit_memo(&qbo, &customer, 5.0);
        let rr = qbo.create(
            "RefundReceipt",
            json!({"DepositToAccountRef": {"value": "5"}, "Line": [line(3.0)]}),
        );
        let (status, _) = qbo.post(
            "refundreceipt?operation=delete",
            &json!({"Id": rr["Id"], "SyncToken": "0"}),
        );
        assert_eq!(status, 200);
        let start = today(&qbo) + Duration::days(1);
        let (status, _) = qbo.post(
            "recurringtransaction",
            &template(&customer, "Hooked plan", start, 7.0),
        );
        assert_eq!(status, 200);
        advance(&mut qbo, Duration::days(1));
        let generated_id = generated(&qbo, &json!("1"))[0]["Id"].clone();
        let expected = [
            ("CreditMemo", cm["Id"].clone(), "Create"),
            ("RefundReceipt", rr["Id"].clone(), "Create"),
            ("RefundReceipt", rr["Id"].clone(), "Delete"),
            ("Invoice", generated_id, "Create"),
        ];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let events: Vec<(String, Value, String)> = received
                .lock()
                .unwrap()
                .iter()
                .flat_map(|b| {
                    let v: Value = serde_json::from_str(b).unwrap();
                    v["eventNotifications"][0]["dataChangeEvent"]["entities"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default()
                })
                .map(|e| {
                    (
                        e["name"].as_str().unwrap().to_string(),
                        e["id"].clone(),
                        e["operation"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            let all = expected.iter().all(|(n, id, op)| {
                events
                    .iter()
                    .any(|(en, eid, eop)| en == n && eid == id && eop == op)
            });
            if all {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "missing events in {events:?}"
            );
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    #[test]
    fn the_new_entities_can_be_seeded() {
        let qbo = Qbo::start();
        let customer = qbo.customer("Seeded");
        let start = today(&qbo) + Duration::days(40);
        qbo.emu
            .load_seed(
                &qbo.realm,
                &json!({
                    "RecurringTransaction": [template(&customer, "Seeded plan", start, 4.0)],
                    "RefundReceipt": [{"DepositToAccountRef": {"value": "5"}, "Line": [line(2.0)]}],
                    "CreditMemo": [{"Id": "77", "CustomerRef": {"value": customer["Id"]}, "Line": [line(9.0)]}]
                }),
            )
            .unwrap();
        assert_eq!(qbo.emu.entities(&qbo.realm, "CreditMemo")[0]["Id"], "77");
        assert_eq!(qbo.emu.entities(&qbo.realm, "RefundReceipt").len(), 1);
        let templates = qbo.emu.entities(&qbo.realm, "RecurringTransaction");
        assert_eq!(
            templates[0]["Invoice"]["RecurringInfo"]["Name"],
            "Seeded plan"
        );
    }
}
