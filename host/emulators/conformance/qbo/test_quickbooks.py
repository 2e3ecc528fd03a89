"""Conformance of the QBO emulator with the real python-quickbooks and intuitlib clients: if a
client chokes on an answer, the emulator is wrong."""

import json
import time
from datetime import datetime, timedelta

import pytest
from intuitlib.exceptions import AuthClientError
from quickbooks.batch import batch_create
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import (
    AuthorizationException,
    ObjectNotFoundException,
    QuickbooksException,
    ValidationException,
)
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.company_info import CompanyInfo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.item import Item
from quickbooks.objects.journalentry import JournalEntry, JournalEntryLine, JournalEntryLineDetail
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.preferences import Preferences
from quickbooks.objects.taxcode import TaxCode
from quickbooks.objects.term import Term
from quickbooks.objects.vendor import Vendor


def unique(name):
    return f"{name} {time.time_ns()}"


def new_customer(qb, name=None):
    customer = Customer()
    customer.DisplayName = name or unique("Customer")
    customer.CompanyName = "Conformance Inc"
    return customer.save(qb=qb)


def new_invoice(qb, customer, amount=100):
    line = SalesItemLine()
    line.Amount = amount
    line.Description = "Consulting"
    line.SalesItemLineDetail = SalesItemLineDetail()
    item_ref = Ref()
    item_ref.value = "1"
    line.SalesItemLineDetail.ItemRef = item_ref
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(line)
    return invoice.save(qb=qb)


def test_customer_create_read_full_and_sparse_update(qb):
    created = new_customer(qb)
    assert int(created.Id) > 0
    assert created.SyncToken == "0"
    assert created.MetaData["CreateTime"].endswith("-08:00")

    fetched = Customer.get(created.Id, qb=qb)
    assert fetched.DisplayName == created.DisplayName
    assert fetched.CompanyName == "Conformance Inc"

    # Full update through the library (it sends every field it holds).
    fetched.Notes = "updated by python-quickbooks"
    updated = fetched.save(qb=qb)
    assert updated.SyncToken == "1"
    assert updated.Notes == "updated by python-quickbooks"

    # Sparse update: only the field sent changes.
    body = json.dumps({"Id": updated.Id, "SyncToken": updated.SyncToken, "sparse": True, "Title": "Dr"})
    result = qb.update_object("Customer", body)
    assert result["Customer"]["Title"] == "Dr"
    assert result["Customer"]["Notes"] == "updated by python-quickbooks"
    assert result["Customer"]["SyncToken"] == "2"


def test_stale_sync_token_raises_5010(qb):
    created = new_customer(qb)
    first = Customer.get(created.Id, qb=qb)
    second = Customer.get(created.Id, qb=qb)
    first.Notes = "first"
    first.save(qb=qb)
    second.Notes = "second"
    with pytest.raises(QuickbooksException) as err:
        second.save(qb=qb)
    assert err.value.error_code == 5010


def test_duplicate_display_name_with_a_vendor_is_6240(qb):
    name = unique("Shared Name")
    vendor = Vendor()
    vendor.DisplayName = name
    vendor.save(qb=qb)
    customer = Customer()
    customer.DisplayName = name
    with pytest.raises(QuickbooksException) as err:
        customer.save(qb=qb)
    assert err.value.error_code == 6240
    assert err.value.message == "Duplicate Name Exists Error"


def test_queries_filter_count_order_and_paging(qb):
    tag = str(time.time_ns())
    names = [f"O'Brien {tag}", f"Alpha {tag}", f"Beta {tag}"]
    for name in names:
        new_customer(qb, name)
    found = Customer.filter(DisplayName=f"O'Brien {tag}", qb=qb)
    assert [c.DisplayName for c in found] == [f"O'Brien {tag}"]
    ordered = Customer.where(f"DisplayName LIKE '%{tag}'", order_by="DisplayName DESC", qb=qb)
    assert [c.DisplayName for c in ordered] == sorted(names, reverse=True)
    assert Customer.count(f"DisplayName LIKE '%{tag}'", qb=qb) == 3
    assert Customer.count(qb=qb) >= 3
    chosen = Customer.choose([c.Id for c in ordered[:2]], field="Id", qb=qb)
    assert len(chosen) == 2
    page = Customer.where(f"DisplayName LIKE '%{tag}'", order_by="DisplayName", start_position=2, max_results=1, qb=qb)
    assert [c.DisplayName for c in page] == [sorted(names)[1]]
    assert Customer.filter(DisplayName="nobody at all", qb=qb) == []
    items = Item.all(qb=qb)  # sends "SELECT *, Sku FROM Item ... MAXRESULTS 100"
    assert {i.Name for i in items} >= {"Services", "Hours"}
    assert {t.Name for t in TaxCode.all(qb=qb)} >= {"TAX", "NON"}
    assert "Net 30" in {t.Name for t in Term.all(qb=qb)}
    with pytest.raises(ValidationException) as err:
        Customer.where("", start_position=0, qb=qb)
    assert err.value.error_code == 4001


def test_invoice_send_payment_void_and_delete(qb):
    customer = new_customer(qb)
    invoice = new_invoice(qb, customer, 100)
    assert float(invoice.TotalAmt) == 100.0
    assert float(invoice.Balance) == 100.0
    assert invoice.Line[-1].DetailType == "SubTotalLineDetail"

    sent = invoice.send(qb=qb, send_to="billing@example.com")
    assert sent["Invoice"]["EmailStatus"] == "EmailSent"
    assert sent["Invoice"]["BillEmail"]["Address"] == "billing@example.com"

    linked = Invoice.get(invoice.Id, qb=qb, params={"include": "invoiceLink"})
    assert linked.InvoiceLink.startswith("https://")
    pdf = linked.download_pdf(qb=qb)
    assert pdf.startswith(b"%PDF")

    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = 60
    line = PaymentLine()
    line.Amount = 60
    txn = LinkedTxn()
    txn.TxnId = invoice.Id
    txn.TxnType = "Invoice"
    line.LinkedTxn.append(txn)
    payment.Line.append(line)
    payment = payment.save(qb=qb)
    assert float(payment.UnappliedAmt) == 0.0
    after = Invoice.get(invoice.Id, qb=qb)
    assert float(after.Balance) == 40.0
    assert after.LinkedTxn[0].TxnType == "Payment"

    payment.void(qb=qb)
    restored = Invoice.get(invoice.Id, qb=qb)
    assert float(restored.Balance) == 100.0

    restored.void(qb=qb)
    voided = Invoice.get(invoice.Id, qb=qb)
    assert voided.PrivateNote == "Voided"
    assert float(voided.TotalAmt) == 0.0

    other = new_invoice(qb, customer, 5)
    deleted = other.delete(qb=qb)
    assert deleted["Invoice"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        Invoice.get(other.Id, qb=qb)


def test_duplicate_doc_number_is_rejected(qb):
    customer = new_customer(qb)
    first = new_invoice(qb, customer, 10)
    line = SalesItemLine()
    line.Amount = 10
    line.SalesItemLineDetail = SalesItemLineDetail()
    dup = Invoice()
    dup.CustomerRef = customer.to_ref()
    dup.DocNumber = first.DocNumber
    dup.Line.append(line)
    with pytest.raises(QuickbooksException) as err:
        dup.save(qb=qb)
    assert err.value.error_code == 6140
    assert f"DocNumber={first.DocNumber}" in err.value.detail


def test_journal_entry_must_balance(qb):
    def line(amount, side, account):
        entry = JournalEntryLine()
        entry.Amount = amount
        entry.JournalEntryLineDetail = JournalEntryLineDetail()
        entry.JournalEntryLineDetail.PostingType = side
        ref = Ref()
        ref.value = account
        entry.JournalEntryLineDetail.AccountRef = ref
        return entry

    je = JournalEntry()
    je.Line = [line(25, "Debit", "12"), line(25, "Credit", "5")]
    saved = je.save(qb=qb)
    assert float(saved.TotalAmt) == 25.0

    bad = JournalEntry()
    bad.Line = [line(25, "Debit", "12"), line(20, "Credit", "5")]
    with pytest.raises(QuickbooksException) as err:
        bad.save(qb=qb)
    assert err.value.error_code == 6000
    assert "not equal" in err.value.detail


def test_batch_create_reports_successes_and_faults(qb):
    name = unique("Batch")
    existing = Customer()
    existing.DisplayName = name
    existing.save(qb=qb)
    fresh = Customer()
    fresh.DisplayName = unique("Batch fresh")
    clash = Customer()
    clash.DisplayName = name
    result = batch_create([fresh, clash], qb=qb)
    assert [s.DisplayName for s in result.successes] == [fresh.DisplayName]
    assert len(result.faults) == 1
    assert result.faults[0].Error[0].code == "6240"


def test_change_data_capture(qb):
    since = datetime.now() - timedelta(minutes=5)  # naive local time, as python-quickbooks sends it
    customer = new_customer(qb)
    gone = new_invoice(qb, customer, 7)
    gone.delete(qb=qb)
    # The emulator's company clock runs at UTC-8; send an explicit offset so the window is exact.
    stamp = (datetime.utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    cdc = change_data_capture([Customer, Invoice], stamp, qb=qb)
    assert customer.Id in {c.Id for c in cdc.Customer}
    stubs = [i for i in cdc.Invoice if getattr(i, "status", None) == "Deleted"]
    assert gone.Id in {i.Id for i in stubs}
    # The offset-less form python-quickbooks produces from a datetime is accepted too.
    change_data_capture([Customer], since, qb=qb)


def test_company_info_and_preferences(qb, emulator):
    info = CompanyInfo.get(emulator.realm_id, qb=qb)
    assert info.CompanyName
    prefs = Preferences.get(qb=qb)
    assert prefs.CurrencyPrefs.HomeCurrency.value == "USD"


def test_token_refresh_rotation_and_revoke(emulator, auth_client):
    old_refresh = auth_client.refresh_token
    auth_client.refresh()
    assert auth_client.refresh_token != old_refresh
    assert auth_client.expires_in == 3600
    qb = emulator.quickbooks(auth_client)
    assert Customer.count(qb=qb) is not None
    with pytest.raises(AuthClientError) as err:
        auth_client.refresh(refresh_token=old_refresh)
    assert err.value.status_code == 400
    assert b"invalid_grant" in err.value.content
    assert auth_client.revoke()
    with pytest.raises(AuthorizationException):
        Customer.count(qb=qb)


def test_client_built_from_a_refresh_token_only(emulator, auth_client):
    client = emulator.auth_client(refresh_token=auth_client.refresh_token)
    qb = emulator.quickbooks(client)  # QuickBooks() refreshes when it has no access token
    assert client.access_token
    assert Customer.count(qb=qb) is not None


def test_webhook_signature_accepted_by_python_quickbooks(webhook_emulator):
    emulator, sink = webhook_emulator
    tokens = emulator.post_control("/_emulator/qbo/tokens", {"realm": emulator.realm_id})
    qb = emulator.quickbooks(emulator.auth_client(tokens["access_token"], tokens["refresh_token"]))
    customer = new_customer(qb)
    assert sink.event.wait(10), "no webhook arrived"
    body, signature = sink.received[0]
    assert qb.validate_webhook_signature(body, signature, emulator.info["verifier_token"])
    assert not qb.validate_webhook_signature(body + " ", signature, emulator.info["verifier_token"])
    event = json.loads(body)["eventNotifications"][0]
    assert event["realmId"] == emulator.realm_id
    assert event["dataChangeEvent"]["entities"][0] == {
        "name": "Customer", "id": customer.Id, "operation": "Create",
        "lastUpdated": event["dataChangeEvent"]["entities"][0]["lastUpdated"],
    }
