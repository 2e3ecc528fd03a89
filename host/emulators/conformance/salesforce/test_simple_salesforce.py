"""simple-salesforce (the real client library) against the Ledgerlink Salesforce emulator.

The client decides what is correct: every call here goes through simple-salesforce's own URL
building, encoding, response parsing and exception mapping.
"""

import datetime
import uuid

import pytest
import requests
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceMoreThanOneRecord,
    SalesforceResourceNotFound,
)


def unique(prefix):
    return f"{prefix} {uuid.uuid4().hex[:8]}"


def logged_paths(emulator):
    return [r["path"] for r in requests.get(f"{emulator.url}/_emulator/log", timeout=10).json()["requests"]]


def test_create_posts_with_a_trailing_slash_and_get_reads_back(emulator, sf):
    name = unique("Acme")
    result = sf.Account.create({"Name": name, "BillingCity": "Austin", "Tax_Exempt__c": True})
    assert result["success"] is True and result["errors"] == []
    assert result["id"].startswith("001") and len(result["id"]) == 18
    assert "/services/data/v61.0/sobjects/Account/" in logged_paths(emulator)

    record = sf.Account.get(result["id"])
    assert record["Name"] == name
    assert record["attributes"]["type"] == "Account"
    assert record["Tax_Exempt__c"] is True
    assert record["CreatedDate"].endswith("+0000")


def test_get_by_custom_id_decodes_quote_plus(sf):
    ext = f"QBO {uuid.uuid4().hex[:6]} A&B/1"
    created = sf.Account.create({"Name": unique("Ext"), "QBO_Customer_Id__c": ext})
    record = sf.Account.get_by_custom_id("QBO_Customer_Id__c", ext)
    assert record["Id"] == created["id"]
    assert record["QBO_Customer_Id__c"] == ext


def test_update_upsert_and_delete_return_the_documented_status_codes(sf):
    created = sf.Account.create({"Name": unique("Up")})
    assert sf.Account.update(created["id"], {"Phone": "555-0100"}) == 204
    assert sf.Account.get(created["id"])["Phone"] == "555-0100"

    ext = uuid.uuid4().hex[:10]
    assert sf.Account.upsert(f"External_Id__c/{ext}", {"Name": unique("Upserted")}) == 201
    response = sf.Account.upsert(f"External_Id__c/{ext}", {"Name": "Renamed"}, raw_response=True)
    assert response.status_code == 200
    assert response.json()["created"] is False
    assert sf.Account.get_by_custom_id("External_Id__c", ext)["Name"] == "Renamed"

    assert sf.Account.delete(created["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get(created["id"])


def test_query_and_query_all_follow_next_records_url(sf):
    tag = uuid.uuid4().hex[:8]
    for i in range(12):
        sf.Account.create({"Name": f"Paged {tag} {i:02d}"})
    first = sf.query(f"SELECT Id, Name FROM Account WHERE Name LIKE 'Paged {tag}%' ORDER BY Name")
    assert first["totalSize"] == 12
    assert first["done"] is False
    assert first["nextRecordsUrl"].startswith("/services/data/v61.0/query/")
    assert len(first["records"]) == 5

    everything = sf.query_all(f"SELECT Id, Name FROM Account WHERE Name LIKE 'Paged {tag}%' ORDER BY Name")
    assert everything["totalSize"] == 12
    assert [r["Name"] for r in everything["records"]] == [f"Paged {tag} {i:02d}" for i in range(12)]

    deleted_id = everything["records"][0]["Id"]
    sf.Account.delete(deleted_id)
    with_deleted = sf.query_all(f"SELECT Id, IsDeleted FROM Account WHERE Id = '{deleted_id}'", include_deleted=True)
    assert with_deleted["records"][0]["IsDeleted"] is True


def test_relationship_query_and_subquery(sf):
    account = sf.Account.create({"Name": unique("Parent")})["id"]
    opp = sf.Opportunity.create({"Name": unique("Deal"), "AccountId": account, "StageName": "Closed Won", "CloseDate": "2025-03-31"})["id"]
    result = sf.query(f"SELECT Name, IsWon, Account.Name, (SELECT Id FROM OpportunityLineItems) FROM Opportunity WHERE Id = '{opp}'")
    record = result["records"][0]
    assert record["IsWon"] is True
    assert record["Account"]["attributes"]["type"] == "Account"
    assert record["OpportunityLineItems"] is None


def test_composite_sobjects_through_restful(sf):
    body = {
        "allOrNone": False,
        "records": [
            {"attributes": {"type": "Account"}, "Name": unique("Collection")},
            {"attributes": {"type": "Account"}},
        ],
    }
    results = sf.restful("composite/sobjects", method="POST", json=body)
    assert results[0]["success"] is True
    assert results[1]["success"] is False
    assert results[1]["errors"][0]["statusCode"] == "REQUIRED_FIELD_MISSING"

    composite = sf.restful(
        "composite",
        method="POST",
        json={
            "allOrNone": True,
            "compositeRequest": [
                {"method": "POST", "url": "/services/data/v61.0/sobjects/Account", "referenceId": "acct", "body": {"Name": unique("Composite")}},
                {
                    "method": "POST",
                    "url": "/services/data/v61.0/sobjects/Contact",
                    "referenceId": "contact",
                    "body": {"LastName": "Smith", "AccountId": "@{acct.id}"},
                },
            ],
        },
    )
    assert [r["httpStatusCode"] for r in composite["compositeResponse"]] == [201, 201]


def test_updated_and_deleted(emulator, sf):
    start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)
    kept = sf.Account.create({"Name": unique("Replicated")})["id"]
    gone = sf.Account.create({"Name": unique("Removed")})["id"]
    sf.Account.delete(gone)
    emulator.advance_clock(120)
    end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=2)

    updated = sf.Account.updated(start, end)
    assert kept in updated["ids"]
    assert gone not in updated["ids"]
    assert updated["latestDateCovered"].endswith(":00.000+0000")

    deleted = sf.Account.deleted(start, end)
    assert gone in [d["id"] for d in deleted["deletedRecords"]]
    assert set(deleted) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}


def test_limits_and_api_usage(sf):
    limits = sf.limits()
    assert limits["DailyApiRequests"]["Max"] == 15000
    usage = sf.api_usage["api-usage"]
    assert usage.total == 15000
    assert 0 < usage.used <= 15000
    assert limits["DailyApiRequests"]["Remaining"] == 15000 - usage.used


def test_exception_mapping(sf):
    with pytest.raises(SalesforceMalformedRequest) as bad_soql:
        sf.query("SELEC Id FROM Account")
    assert bad_soql.value.content[0]["errorCode"] == "MALFORMED_QUERY"

    with pytest.raises(SalesforceMalformedRequest) as missing:
        sf.Opportunity.create({"Name": "No stage"})
    assert missing.value.content[0]["errorCode"] == "REQUIRED_FIELD_MISSING"

    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get("001000000000000AAA")
    with pytest.raises(SalesforceResourceNotFound):
        sf.Account.get_by_custom_id("Namez", "x")

    dup = uuid.uuid4().hex[:8]
    sf.Account.create({"Name": "Dup 1", "External_Id__c": dup})
    sf.Account.create({"Name": "Dup 2", "External_Id__c": dup})
    with pytest.raises(SalesforceMoreThanOneRecord):
        sf.Account.get_by_custom_id("External_Id__c", dup)


def test_expired_session(fresh_emulator):
    sf = fresh_emulator.client()
    sf.Account.create({"Name": "Before expiry"})
    fresh_emulator.advance_clock(7201)
    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.query("SELECT Id FROM Account")
    assert expired.value.content == [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]


def test_invoice_objects_create_query_with_lines_and_update(sf):
    account = sf.Account.create({"Name": unique("Billed")})["id"]
    product = sf.Product2.create({"Name": unique("Widget")})["id"]
    created = sf.Invoice.create({"BillingAccountId": account, "InvoiceDate": "2026-03-02", "DueDate": "2026-04-01", "Status": "Posted", "TotalAmount": 1250.50})
    invoice = created["id"]
    assert invoice.startswith("3tt")
    sf.InvoiceLine.create({"InvoiceId": invoice, "Product2Id": product, "Quantity": 3, "UnitPrice": 100.10, "LineAmount": 300.30})
    sf.InvoiceLine.create({"InvoiceId": invoice, "Product2Id": product, "Quantity": 1, "UnitPrice": 950.20, "LineAmount": 950.20})
    result = sf.query(
        "SELECT Id, DocumentNumber, Status, BillingAccount.Name, "
        "(SELECT Id, Product2Id, Quantity, UnitPrice, LineAmount FROM InvoiceLines) "
        f"FROM Invoice WHERE Id = '{invoice}' AND Status = 'Posted'"
    )
    record = result["records"][0]
    assert record["DocumentNumber"].startswith("INV-")
    assert record["BillingAccount"]["attributes"]["type"] == "Account"
    lines = record["InvoiceLines"]["records"]
    assert sorted(line["LineAmount"] for line in lines) == [300.30, 950.20]
    assert sf.Invoice.update(invoice, {"QBO_Invoice_Id__c": "130", "Amount_Paid__c": 250.50, "Payment_Status__c": "Partially Paid"}) == 204
    assert sf.Invoice.get_by_custom_id("QBO_Invoice_Id__c", "130")["Amount_Paid__c"] == 250.50
    with pytest.raises(SalesforceMalformedRequest):
        sf.Invoice.create({"BillingAccountId": account, "Status": "Paid"})


def test_billing_invoice_objects_create_query_with_lines_and_update(sf):
    account = sf.Account.create({"Name": unique("Billed")})["id"]
    product = sf.Product2.create({"Name": unique("Gadget")})["id"]
    invoice = sf.blng__Invoice__c.create({"blng__Account__c": account, "blng__InvoiceDate__c": "2026-03-02", "blng__InvoiceStatus__c": "Posted"})["id"]
    sf.blng__InvoiceLine__c.create({"blng__Invoice__c": invoice, "blng__Product__c": product, "blng__Quantity__c": 2, "blng__UnitPrice__c": 10.25, "blng__Subtotal__c": 20.50, "blng__TotalAmount__c": 20.50})
    result = sf.query(
        "SELECT Id, Name, blng__Account__r.Name, "
        "(SELECT Id, blng__Product__c, blng__Quantity__c, blng__UnitPrice__c, blng__Subtotal__c FROM blng__InvoiceInvoiceLines__r) "
        f"FROM blng__Invoice__c WHERE blng__InvoiceStatus__c = 'Posted' AND Id = '{invoice}'"
    )
    record = result["records"][0]
    assert record["Name"].startswith("INV-")
    assert record["blng__InvoiceInvoiceLines__r"]["records"][0]["blng__Subtotal__c"] == 20.50
    assert sf.blng__Invoice__c.update(invoice, {"QBO_Invoice_Id__c": "131", "Open_Balance__c": 20.50}) == 204
    assert sf.blng__Invoice__c.get(invoice)["QBO_Invoice_Id__c"] == "131"
