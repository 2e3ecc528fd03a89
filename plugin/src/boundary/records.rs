//! The shared records of `model`: addresses and references, the Salesforce and QBO records, the
//! field rules. Each converts in the direction(s) the contract uses it; records that hold money or
//! dates come in through [`FromWit`](super::FromWit), the others through `From`. Every conversion
//! destructures its source, so a field added to one side and not the other fails to compile (the
//! macros of [`super::convert`] list every field).

use super::convert::{convert_enum, convert_record, parse_record};
use super::parse::record_id;
use crate::bindings::ledgerlink::sync::types as wit;
use crate::model::{
    FieldConflict, FieldOwner, FieldRule, GlobalTaxCalculation, ItemType, JournalLine, PartyField,
    PartySnapshot, PaymentLine, PaymentState, PaymentStatus, PostalAddress, PostingType,
    QboCustomField, QboCustomer, QboInvoice, QboInvoiceLine, QboItem, QboJournalEntry, QboPayment,
    Reference, SfAccount, SfField, SfOpportunity, SfOpportunityLine, SfOrder, SfOrderItem,
    SfPricebookEntry, SfProduct, SfValue,
};

// ------------------------------------------------------------------------ address, reference

convert_record! {
    wit::PostalAddress <=> PostalAddress { lines, city, region, postal_code, country }
}

convert_record! {
    wit::Reference <=> Reference { value, name }
}

// ------------------------------------------------------------------------ enums

convert_enum! {
    wit::ItemType <=> ItemType { Service, NonInventory }
}

convert_enum! {
    wit::PaymentState => PaymentState { Active, Voided, Deleted }
}

convert_enum! {
    PaymentStatus => wit::PaymentStatus { Unpaid, PartiallyPaid, Paid, Overpaid }
}

convert_enum! {
    PostingType => wit::PostingType { Debit, Credit }
}

// ------------------------------------------------------------------------ field rules

convert_enum! {
    wit::PartyField <=> PartyField {
        DisplayName,
        CompanyName,
        BillingAddress,
        ShippingAddress,
        Email,
        Phone,
        Website,
        Notes,
    }
}

convert_enum! {
    wit::FieldOwner => FieldOwner { Salesforce, Quickbooks, Both }
}

convert_record! {
    wit::FieldRule => FieldRule { field: into, owner: into }
}

convert_record! {
    wit::PartySnapshot <=> PartySnapshot {
        display_name,
        company_name,
        billing_address: opt_into,
        shipping_address: opt_into,
        email,
        phone,
        website,
        notes,
    }
}

convert_record! {
    FieldConflict => wit::FieldConflict {
        field: into,
        salesforce_value,
        quickbooks_value,
        resolution,
    }
}

// ------------------------------------------------------------------------ Salesforce records

convert_record! {
    wit::SfAccount => SfAccount {
        id,
        name,
        billing_address: opt_into,
        shipping_address: opt_into,
        email,
        phone,
        website,
        description,
        qbo_customer_id,
        payment_terms,
        tax_exempt,
        department,
        class,
        system_modstamp,
    }
}

parse_record! {
    /// A line belongs to its Opportunity (the path names the line by index).
    wit::SfOpportunityLine => SfOpportunityLine {
        id,
        product_id,
        product_code,
        name,
        description,
        quantity: money "quantity",
        unit_price: money "unit-price",
        total_price: opt_money "total-price",
        discount_percent: opt_money "discount-percent",
        service_date: opt_date "service-date",
        sort_order,
    }
}

parse_record! {
    wit::SfOpportunity => SfOpportunity {
        id,
        name,
        account_id,
        stage_name,
        close_date: date "close-date",
        amount: opt_money "amount",
        is_won,
        is_closed,
        currency_code,
        description,
        qbo_invoice_id,
        system_modstamp,
        line_items: parse_all "line-items",
    }
    in record_id("Opportunity", &id)
}

convert_record! {
    wit::SfProduct => SfProduct { id, name, product_code, description, family, is_active }
}

parse_record! {
    /// A price-book entry belongs to its product.
    wit::SfPricebookEntry => SfPricebookEntry {
        id,
        unit_price: money "unit-price",
        is_active,
        currency_code,
    }
}

parse_record! {
    /// An item belongs to its Order.
    wit::SfOrderItem => SfOrderItem {
        id,
        product_id,
        product_code,
        product_family,
        description,
        quantity: money "quantity",
        unit_price: money "unit-price",
        total_price: opt_money "total-price",
    }
}

parse_record! {
    wit::SfOrder => SfOrder {
        id,
        order_number,
        account_id,
        effective_date: date "effective-date",
        status,
        total_amount: opt_money "total-amount",
        items: parse_all "items",
    }
    in record_id("Order", &id)
}

convert_enum! {
    SfValue => wit::SfValue {
        Null,
        Text(text),
        Boolean(value),
        Number(value: money),
        Date(value: date),
    }
}

convert_record! {
    SfField => wit::SfField { name, value: into }
}

// ------------------------------------------------------------------------ QBO records

parse_record! {
    wit::QboCustomer => QboCustomer {
        id,
        sync_token,
        display_name,
        company_name,
        bill_addr: opt_into,
        ship_addr: opt_into,
        email,
        phone,
        website,
        notes,
        active,
        sales_term: opt_into,
        taxable,
        default_tax_code: opt_into,
        resale_num,
        balance: opt_money "balance",
        salesforce_id,
    }
    in id.as_deref().and_then(|id| record_id("Customer", id))
}

convert_record! {
    QboCustomer => wit::QboCustomer {
        id,
        sync_token,
        display_name,
        company_name,
        bill_addr: opt_into,
        ship_addr: opt_into,
        email,
        phone,
        website,
        notes,
        active,
        sales_term: opt_into,
        taxable,
        default_tax_code: opt_into,
        resale_num,
        balance: opt_money,
        salesforce_id,
    }
}

parse_record! {
    /// An existing item belongs to the product it is mapped from.
    wit::QboItem => QboItem {
        id,
        sync_token,
        name,
        sku,
        description,
        unit_price: opt_money "unit-price",
        item_type: opt_into,
        income_account: opt_into,
        active,
    }
}

convert_record! {
    QboItem => wit::QboItem {
        id,
        sync_token,
        name,
        sku,
        description,
        unit_price: opt_money,
        item_type: opt_into,
        income_account: opt_into,
        active,
    }
}

convert_record! {
    QboInvoiceLine => wit::QboInvoiceLine {
        line_num,
        description,
        amount: money,
        item: into,
        qty: money,
        unit_price: money,
        tax_code: opt_into,
        class: opt_into,
        service_date: opt_date,
    }
}

convert_record! {
    wit::QboCustomField <=> QboCustomField { definition_id, name, value }
}

convert_enum! {
    wit::GlobalTaxCalculation <=> GlobalTaxCalculation { TaxExcluded, TaxInclusive, NotApplicable }
}

convert_record! {
    QboInvoice => wit::QboInvoice {
        id,
        sync_token,
        doc_number,
        txn_date: date,
        due_date: opt_date,
        customer: into,
        lines: all_into,
        currency: opt_into,
        department: opt_into,
        class: opt_into,
        sales_term: opt_into,
        bill_email,
        bill_email_cc,
        private_note,
        custom_fields: all_into,
        exchange_rate: opt_money,
        global_tax_calculation: opt_into,
        txn_tax_code: opt_into,
        total_amt: money,
        balance: opt_money,
    }
}

parse_record! {
    /// A payment line belongs to its Payment.
    wit::PaymentLine => PaymentLine { invoice_id, amount: money "amount" }
}

parse_record! {
    wit::QboPayment => QboPayment {
        id,
        txn_date: date "txn-date",
        customer: opt_into,
        total_amt: money "total-amt",
        lines: parse_all "lines",
        state: into,
    }
    in record_id("Payment", &id)
}

convert_record! {
    JournalLine => wit::JournalLine {
        description,
        amount: money,
        posting_type: into,
        account: into,
        department: opt_into,
        class: opt_into,
        customer: opt_into,
    }
}

convert_record! {
    QboJournalEntry => wit::QboJournalEntry {
        doc_number,
        txn_date: date,
        private_note,
        lines: all_into,
        total: money,
    }
}

// The tests below reach these through `super::*`; the macros name them by full path.
#[cfg(test)]
use super::{parse::Parse, text::date_text};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ErrorKind;

    fn wit_order(items: Vec<(&str, &str)>) -> wit::SfOrder {
        wit::SfOrder {
            id: "801A".into(),
            order_number: Some("00000100".into()),
            account_id: None,
            effective_date: "2024-03-01".into(),
            status: "Activated".into(),
            total_amount: Some("300.00".into()),
            items: items
                .into_iter()
                .enumerate()
                .map(|(i, (quantity, unit_price))| wit::SfOrderItem {
                    id: format!("802{i}"),
                    product_id: None,
                    product_code: Some("SKU".into()),
                    product_family: None,
                    description: None,
                    quantity: quantity.into(),
                    unit_price: unit_price.into(),
                    total_price: None,
                })
                .collect(),
        }
    }

    #[test]
    fn order_item_money_is_named_by_index_under_the_order() {
        let order = wit_order(vec![("1", "100.00"), ("2", "1e3")]);
        let refused = Parse::input::<_, SfOrder>("build-journal-entry", order).err();
        let refused = refused.map(|e| (e.kind, e.errors));
        let Some((kind, errors)) = refused else {
            panic!("a bad unit price must be refused");
        };
        assert_eq!(kind, ErrorKind::InvalidInput);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].record_id, "Order 801A");
        assert_eq!(errors[0].field, "items[1].unit-price");
        assert!(errors[0].reason.contains("1e3"), "{}", errors[0].reason);
    }

    #[test]
    fn good_order_keeps_exact_values() {
        let order = wit_order(vec![("1.5", "100.10")]);
        let parsed = Parse::input::<_, SfOrder>("build-journal-entry", order);
        let Ok(order) = parsed else {
            panic!("a good order must parse: {parsed:?}");
        };
        assert_eq!(order.items[0].quantity.to_string(), "1.5");
        assert_eq!(order.items[0].unit_price.to_string(), "100.10");
        assert_eq!(
            order.total_amount.map(|d| d.to_string()),
            Some("300.00".into())
        );
        assert_eq!(date_text(order.effective_date), "2024-03-01");
    }

    #[test]
    fn customer_round_trip_keeps_balance_scale_and_fields() {
        let customer = QboCustomer {
            id: Some("58".into()),
            sync_token: Some("3".into()),
            display_name: Some("Acme".into()),
            bill_addr: Some(PostalAddress {
                lines: vec!["1 Main St".into(), "Suite 2".into()],
                city: Some("Springfield".into()),
                region: Some("IL".into()),
                postal_code: Some("62701".into()),
                country: Some("US".into()),
            }),
            sales_term: Some(Reference::named("3", "Net 30")),
            balance: Some(rust_decimal_macros::dec!(1234.50)),
            ..QboCustomer::default()
        };
        let back = Parse::input::<_, QboCustomer>(
            "map-customer",
            wit::QboCustomer::from(customer.clone()),
        );
        assert_eq!(back.as_ref().ok(), Some(&customer));
        let text = back.ok().and_then(|c| c.balance).map(|b| b.to_string());
        assert_eq!(text.as_deref(), Some("1234.50"));
    }

    #[test]
    fn customer_balance_error_names_the_customer() {
        let customer = wit::QboCustomer::from(QboCustomer {
            id: Some("58".into()),
            ..QboCustomer::default()
        });
        let customer = wit::QboCustomer {
            balance: Some("12,50".into()),
            ..customer
        };
        let errors = Parse::input::<_, QboCustomer>("map-customer", customer)
            .err()
            .map(|e| e.errors)
            .unwrap_or_default();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].record_id, "Customer 58");
        assert_eq!(errors[0].field, "balance");
    }

    #[test]
    fn sf_values_write_money_and_dates_as_text() {
        let field = wit::SfField::from(SfField::new(
            "Amount_Paid__c",
            SfValue::Number(rust_decimal_macros::dec!(10.50)),
        ));
        assert!(matches!(field.value, wit::SfValue::Number(ref n) if n == "10.50"));
        let date = chrono::NaiveDate::from_ymd_opt(2024, 1, 5).map(SfValue::Date);
        let value = date.map(wit::SfValue::from);
        assert!(matches!(value, Some(wit::SfValue::Date(ref d)) if d == "2024-01-05"));
    }
}
