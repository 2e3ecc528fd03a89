"""Conformance of the QBO emulator's CreditMemo, RefundReceipt, credit-applying Payment and
RecurringTransaction with the real python-quickbooks objects."""

import time
from datetime import date, datetime, timedelta

import pytest
from quickbooks.cdc import change_data_capture
from quickbooks.exceptions import ObjectNotFoundException, QuickbooksException
from quickbooks.objects.base import LinkedTxn, Ref
from quickbooks.objects.creditmemo import CreditMemo
from quickbooks.objects.customer import Customer
from quickbooks.objects.detailline import SalesItemLine, SalesItemLineDetail
from quickbooks.objects.invoice import Invoice
from quickbooks.objects.payment import Payment, PaymentLine
from quickbooks.objects.recurringtransaction import (
    RecurringInfo,
    RecurringInvoice,
    RecurringTransaction,
    ScheduleInfo,
)
from quickbooks.objects.refundreceipt import RefundReceipt

from conftest import Emulator


def unique(name):
    return f"{name} {time.time_ns()}"


def new_customer(qb):
    customer = Customer()
    customer.DisplayName = unique("Credit customer")
    return customer.save(qb=qb)


def sales_line(amount):
    line = SalesItemLine()
    line.Amount = amount
    line.SalesItemLineDetail = SalesItemLineDetail()
    item = Ref()
    item.value = "1"
    line.SalesItemLineDetail.ItemRef = item
    return line


def account_ref(account_id):
    ref = Ref()
    ref.value = account_id
    return ref


def new_credit_memo(qb, customer, amount):
    memo = CreditMemo()
    memo.CustomerRef = customer.to_ref()
    memo.PrivateNote = "returned"
    memo.Line.append(sales_line(amount))
    return memo.save(qb=qb)


def new_invoice(qb, customer, amount):
    invoice = Invoice()
    invoice.CustomerRef = customer.to_ref()
    invoice.Line.append(sales_line(amount))
    return invoice.save(qb=qb)


def link(txn_id, txn_type):
    txn = LinkedTxn()
    txn.TxnId = txn_id
    txn.TxnType = txn_type
    return txn


def test_credit_memo_save_get_filter_delete(qb):
    customer = new_customer(qb)
    memo = new_credit_memo(qb, customer, 75.25)
    assert float(memo.TotalAmt) == 75.25
    assert float(memo.RemainingCredit) == 75.25
    assert float(memo.Balance) == 75.25
    assert memo.PrivateNote == "returned"
    fetched = CreditMemo.get(memo.Id, qb=qb)
    assert fetched.CustomerRef.value == customer.Id
    found = CreditMemo.filter(Id=memo.Id, qb=qb)
    assert [m.Id for m in found] == [memo.Id]
    fetched.PrivateNote = "updated"
    saved = fetched.save(qb=qb)
    assert saved.SyncToken == "1"
    assert saved.PrivateNote == "updated"
    deleted = saved.delete(qb=qb)
    assert deleted["CreditMemo"]["status"] == "Deleted"
    with pytest.raises(ObjectNotFoundException):
        CreditMemo.get(memo.Id, qb=qb)


def test_payment_applies_a_credit_memo(qb):
    customer = new_customer(qb)
    invoice = new_invoice(qb, customer, 500)
    memo = new_credit_memo(qb, customer, 300)

    payment = Payment()
    payment.CustomerRef = customer.to_ref()
    payment.TotalAmt = 0
    for txn_id, txn_type in ((invoice.Id, "Invoice"), (memo.Id, "CreditMemo")):
        line = PaymentLine()
        line.Amount = 300
        line.LinkedTxn.append(link(txn_id, txn_type))
        payment.Line.append(line)
    payment = payment.save(qb=qb)
    assert float(payment.TotalAmt) == 0.0
    assert float(payment.UnappliedAmt) == 0.0
    assert float(Invoice.get(invoice.Id, qb=qb).Balance) == 200.0
    assert float(CreditMemo.get(memo.Id, qb=qb).RemainingCredit) == 0.0

    # No credit left: a second use is refused.
    again = Payment()
    again.CustomerRef = customer.to_ref()
    again.TotalAmt = 0
    for txn_id, txn_type in ((invoice.Id, "Invoice"), (memo.Id, "CreditMemo")):
        line = PaymentLine()
        line.Amount = 1
        line.LinkedTxn.append(link(txn_id, txn_type))
        again.Line.append(line)
    with pytest.raises(QuickbooksException) as refused:
        again.save(qb=qb)
    assert refused.value.error_code == 6000

    payment.delete(qb=qb)
    assert float(CreditMemo.get(memo.Id, qb=qb).RemainingCredit) == 300.0
    assert float(Invoice.get(invoice.Id, qb=qb).Balance) == 500.0


def test_refund_receipt_save_get_filter_delete(qb):
    customer = new_customer(qb)
    refund = RefundReceipt()
    refund.CustomerRef = customer.to_ref()
    refund.DepositToAccountRef = account_ref("1")  # an Income account: refused
    refund.Line.append(sales_line(40))
    with pytest.raises(QuickbooksException):
        refund.save(qb=qb)
    refund.DepositToAccountRef = account_ref("5")  # Checking
    refund.PaymentRefNum = "CHK-12"
    refund = refund.save(qb=qb)
    assert float(refund.TotalAmt) == 40.0
    assert float(refund.Balance) == 0.0
    assert refund.PaymentRefNum == "CHK-12"
    fetched = RefundReceipt.get(refund.Id, qb=qb)
    assert fetched.DepositToAccountRef.value == "5"
    assert [r.Id for r in RefundReceipt.filter(Id=refund.Id, qb=qb)] == [refund.Id]
    stamp = (datetime.utcnow() - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S") + "+00:00"
    fetched.delete(qb=qb)
    cdc = change_data_capture([RefundReceipt, CreditMemo], stamp, qb=qb)
    stubs = [r for r in cdc.RefundReceipt if getattr(r, "status", None) == "Deleted"]
    assert refund.Id in {r.Id for r in stubs}


def fresh_qb(emu):
    tokens = emu.post_control("/_emulator/qbo/tokens", {"realm": emu.realm_id})
    return emu.quickbooks(emu.auth_client(tokens["access_token"], tokens["refresh_token"]))


def emulator_today(emu):
    now = emu.post_control("/_emulator/clock/advance", {"seconds": 0})["now"]
    # The company is at UTC-8.
    return (datetime.fromisoformat(now) - timedelta(hours=8)).date()


def test_recurring_transaction_round_trip_and_schedule():
    # Its own emulator: the clock moves by months.
    emu = Emulator("--no-rate-limits")
    try:
        qb = fresh_qb(emu)
        customer = new_customer(qb)
        start = emulator_today(emu) + timedelta(days=1)

        template = RecurringInvoice()
        template.CustomerRef = customer.to_ref()
        template.Line.append(sales_line(45))
        template.RecurringInfo = RecurringInfo()
        template.RecurringInfo.Name = unique("Monthly")
        template.RecurringInfo.RecurType = "Automated"
        template.RecurringInfo.Active = True
        template.RecurringInfo.ScheduleInfo = ScheduleInfo()
        template.RecurringInfo.ScheduleInfo.IntervalType = "Monthly"
        template.RecurringInfo.ScheduleInfo.NumInterval = 1
        template.RecurringInfo.ScheduleInfo.StartDate = start.isoformat()
        template.RecurringInfo.ScheduleInfo.MaxOccurrences = 12
        rt = RecurringTransaction()
        rt.Invoice = template
        rt = rt.save(qb=qb)
        assert isinstance(rt.Invoice, RecurringInvoice)
        rt_id = rt.Invoice.Id
        assert rt.Invoice.RecurringInfo.ScheduleInfo.NextDate == start.isoformat()
        assert float(rt.Invoice.TotalAmt) == 45.0

        fetched = RecurringTransaction.get(rt_id, qb=qb)
        assert fetched.Invoice.RecurringInfo.Name == template.RecurringInfo.Name
        listed = RecurringTransaction.all(qb=qb)
        assert rt_id in {r.Invoice.Id for r in listed}
        assert [r.Invoice.Id for r in RecurringTransaction.filter(Id=rt_id, qb=qb)] == [rt_id]

        # One day on: the first invoice, pointing back at its template.
        emu.post_control("/_emulator/clock/advance", {"seconds": 86400})
        qb = fresh_qb(emu)
        generated = Invoice.filter(CustomerRef=customer.Id, qb=qb)
        assert len(generated) == 1
        assert generated[0].TxnDate == start.isoformat()
        assert generated[0].RecurDataRef.value == rt_id

        # Deactivated through a full update of the object read back: nothing more.
        fetched = RecurringTransaction.get(rt_id, qb=qb)
        fetched.Invoice.RecurringInfo.Active = False
        saved = fetched.save(qb=qb)
        assert saved.Invoice.RecurringInfo.Active is False
        emu.post_control("/_emulator/clock/advance", {"seconds": 86400 * 70})
        qb = fresh_qb(emu)
        assert len(Invoice.filter(CustomerRef=customer.Id, qb=qb)) == 1

        answer = saved.delete(qb=qb)
        assert answer["RecurringTransaction"]["Invoice"]["status"] == "Deleted"
        with pytest.raises(ObjectNotFoundException):
            RecurringTransaction.get(rt_id, qb=qb)
    finally:
        emu.stop()
