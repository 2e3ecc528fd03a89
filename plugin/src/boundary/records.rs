//! The shared records of `model`: addresses and references, the Salesforce and QBO records, the
//! field rules. Each converts in the direction(s) the contract uses it; records that hold money or
//! dates come in through [`FromWit`], the others through `From`. Every conversion destructures
//! its source, so a field added to one side and not the other fails to compile.

use super::parse::{record_id, FromWit, Parse};
use super::text::{date_text, money_text};
use crate::bindings::ledgerlink::sync::types as wit;
use crate::model::{
    FieldConflict, FieldOwner, FieldRule, GlobalTaxCalculation, ItemType, JournalLine, PartyField,
    PartySnapshot, PaymentLine, PaymentState, PaymentStatus, PostalAddress, PostingType,
    QboCustomField, QboCustomer, QboInvoice, QboInvoiceLine, QboItem, QboJournalEntry, QboPayment,
    Reference, SfAccount, SfField, SfOpportunity, SfOpportunityLine, SfOrder, SfOrderItem,
    SfPricebookEntry, SfProduct, SfValue,
};

/// Converts each element with `Into` (lists of records without money or dates).
pub(crate) fn convert_all<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

// ------------------------------------------------------------------------ address, reference

impl From<wit::PostalAddress> for PostalAddress {
    fn from(w: wit::PostalAddress) -> Self {
        let wit::PostalAddress {
            lines,
            city,
            region,
            postal_code,
            country,
        } = w;
        Self {
            lines,
            city,
            region,
            postal_code,
            country,
        }
    }
}

impl From<PostalAddress> for wit::PostalAddress {
    fn from(m: PostalAddress) -> Self {
        let PostalAddress {
            lines,
            city,
            region,
            postal_code,
            country,
        } = m;
        Self {
            lines,
            city,
            region,
            postal_code,
            country,
        }
    }
}

impl From<wit::Reference> for Reference {
    fn from(w: wit::Reference) -> Self {
        let wit::Reference { value, name } = w;
        Self { value, name }
    }
}

impl From<Reference> for wit::Reference {
    fn from(m: Reference) -> Self {
        let Reference { value, name } = m;
        Self { value, name }
    }
}

// ------------------------------------------------------------------------ enums

impl From<wit::ItemType> for ItemType {
    fn from(w: wit::ItemType) -> Self {
        match w {
            wit::ItemType::Service => Self::Service,
            wit::ItemType::NonInventory => Self::NonInventory,
        }
    }
}

impl From<ItemType> for wit::ItemType {
    fn from(m: ItemType) -> Self {
        match m {
            ItemType::Service => Self::Service,
            ItemType::NonInventory => Self::NonInventory,
        }
    }
}

impl From<wit::PaymentState> for PaymentState {
    fn from(w: wit::PaymentState) -> Self {
        match w {
            wit::PaymentState::Active => Self::Active,
            wit::PaymentState::Voided => Self::Voided,
            wit::PaymentState::Deleted => Self::Deleted,
        }
    }
}

impl From<PaymentStatus> for wit::PaymentStatus {
    fn from(m: PaymentStatus) -> Self {
        match m {
            PaymentStatus::Unpaid => Self::Unpaid,
            PaymentStatus::PartiallyPaid => Self::PartiallyPaid,
            PaymentStatus::Paid => Self::Paid,
            PaymentStatus::Overpaid => Self::Overpaid,
        }
    }
}

impl From<PostingType> for wit::PostingType {
    fn from(m: PostingType) -> Self {
        match m {
            PostingType::Debit => Self::Debit,
            PostingType::Credit => Self::Credit,
        }
    }
}

// ------------------------------------------------------------------------ field rules

impl From<wit::PartyField> for PartyField {
    fn from(w: wit::PartyField) -> Self {
        match w {
            wit::PartyField::DisplayName => Self::DisplayName,
            wit::PartyField::CompanyName => Self::CompanyName,
            wit::PartyField::BillingAddress => Self::BillingAddress,
            wit::PartyField::ShippingAddress => Self::ShippingAddress,
            wit::PartyField::Email => Self::Email,
            wit::PartyField::Phone => Self::Phone,
            wit::PartyField::Website => Self::Website,
            wit::PartyField::Notes => Self::Notes,
        }
    }
}

impl From<PartyField> for wit::PartyField {
    fn from(m: PartyField) -> Self {
        match m {
            PartyField::DisplayName => Self::DisplayName,
            PartyField::CompanyName => Self::CompanyName,
            PartyField::BillingAddress => Self::BillingAddress,
            PartyField::ShippingAddress => Self::ShippingAddress,
            PartyField::Email => Self::Email,
            PartyField::Phone => Self::Phone,
            PartyField::Website => Self::Website,
            PartyField::Notes => Self::Notes,
        }
    }
}

impl From<wit::FieldOwner> for FieldOwner {
    fn from(w: wit::FieldOwner) -> Self {
        match w {
            wit::FieldOwner::Salesforce => Self::Salesforce,
            wit::FieldOwner::Quickbooks => Self::Quickbooks,
            wit::FieldOwner::Both => Self::Both,
        }
    }
}

impl From<wit::FieldRule> for FieldRule {
    fn from(w: wit::FieldRule) -> Self {
        let wit::FieldRule { field, owner } = w;
        Self {
            field: field.into(),
            owner: owner.into(),
        }
    }
}

impl From<wit::PartySnapshot> for PartySnapshot {
    fn from(w: wit::PartySnapshot) -> Self {
        let wit::PartySnapshot {
            display_name,
            company_name,
            billing_address,
            shipping_address,
            email,
            phone,
            website,
            notes,
        } = w;
        Self {
            display_name,
            company_name,
            billing_address: billing_address.map(Into::into),
            shipping_address: shipping_address.map(Into::into),
            email,
            phone,
            website,
            notes,
        }
    }
}

impl From<PartySnapshot> for wit::PartySnapshot {
    fn from(m: PartySnapshot) -> Self {
        let PartySnapshot {
            display_name,
            company_name,
            billing_address,
            shipping_address,
            email,
            phone,
            website,
            notes,
        } = m;
        Self {
            display_name,
            company_name,
            billing_address: billing_address.map(Into::into),
            shipping_address: shipping_address.map(Into::into),
            email,
            phone,
            website,
            notes,
        }
    }
}

impl From<FieldConflict> for wit::FieldConflict {
    fn from(m: FieldConflict) -> Self {
        let FieldConflict {
            field,
            salesforce_value,
            quickbooks_value,
            resolution,
        } = m;
        Self {
            field: field.into(),
            salesforce_value,
            quickbooks_value,
            resolution,
        }
    }
}

// ------------------------------------------------------------------------ Salesforce records

impl From<wit::SfAccount> for SfAccount {
    fn from(w: wit::SfAccount) -> Self {
        let wit::SfAccount {
            id,
            name,
            billing_address,
            shipping_address,
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
        } = w;
        Self {
            id,
            name,
            billing_address: billing_address.map(Into::into),
            shipping_address: shipping_address.map(Into::into),
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
}

/// A line belongs to its Opportunity (the path names the line by index).
impl FromWit<wit::SfOpportunityLine> for SfOpportunityLine {
    fn from_wit(w: wit::SfOpportunityLine, p: &mut Parse) -> Self {
        let wit::SfOpportunityLine {
            id,
            product_id,
            product_code,
            name,
            description,
            quantity,
            unit_price,
            total_price,
            discount_percent,
            service_date,
            sort_order,
        } = w;
        Self {
            id,
            product_id,
            product_code,
            name,
            description,
            quantity: p.money("quantity", &quantity),
            unit_price: p.money("unit-price", &unit_price),
            total_price: p.opt_money("total-price", total_price.as_deref()),
            discount_percent: p.opt_money("discount-percent", discount_percent.as_deref()),
            service_date: p.opt_date("service-date", service_date.as_deref()),
            sort_order,
        }
    }
}

impl FromWit<wit::SfOpportunity> for SfOpportunity {
    fn from_wit(w: wit::SfOpportunity, p: &mut Parse) -> Self {
        let wit::SfOpportunity {
            id,
            name,
            account_id,
            stage_name,
            close_date,
            amount,
            is_won,
            is_closed,
            currency_code,
            description,
            qbo_invoice_id,
            system_modstamp,
            line_items,
        } = w;
        p.record(record_id("Opportunity", &id), |p| Self {
            close_date: p.date("close-date", &close_date),
            amount: p.opt_money("amount", amount.as_deref()),
            line_items: p.list("line-items", line_items),
            id,
            name,
            account_id,
            stage_name,
            is_won,
            is_closed,
            currency_code,
            description,
            qbo_invoice_id,
            system_modstamp,
        })
    }
}

impl From<wit::SfProduct> for SfProduct {
    fn from(w: wit::SfProduct) -> Self {
        let wit::SfProduct {
            id,
            name,
            product_code,
            description,
            family,
            is_active,
        } = w;
        Self {
            id,
            name,
            product_code,
            description,
            family,
            is_active,
        }
    }
}

/// A price-book entry belongs to its product.
impl FromWit<wit::SfPricebookEntry> for SfPricebookEntry {
    fn from_wit(w: wit::SfPricebookEntry, p: &mut Parse) -> Self {
        let wit::SfPricebookEntry {
            id,
            unit_price,
            is_active,
            currency_code,
        } = w;
        Self {
            id,
            unit_price: p.money("unit-price", &unit_price),
            is_active,
            currency_code,
        }
    }
}

/// An item belongs to its Order.
impl FromWit<wit::SfOrderItem> for SfOrderItem {
    fn from_wit(w: wit::SfOrderItem, p: &mut Parse) -> Self {
        let wit::SfOrderItem {
            id,
            product_id,
            product_code,
            product_family,
            description,
            quantity,
            unit_price,
            total_price,
        } = w;
        Self {
            id,
            product_id,
            product_code,
            product_family,
            description,
            quantity: p.money("quantity", &quantity),
            unit_price: p.money("unit-price", &unit_price),
            total_price: p.opt_money("total-price", total_price.as_deref()),
        }
    }
}

impl FromWit<wit::SfOrder> for SfOrder {
    fn from_wit(w: wit::SfOrder, p: &mut Parse) -> Self {
        let wit::SfOrder {
            id,
            order_number,
            account_id,
            effective_date,
            status,
            total_amount,
            items,
        } = w;
        p.record(record_id("Order", &id), |p| Self {
            effective_date: p.date("effective-date", &effective_date),
            total_amount: p.opt_money("total-amount", total_amount.as_deref()),
            items: p.list("items", items),
            id,
            order_number,
            account_id,
            status,
        })
    }
}

impl From<SfValue> for wit::SfValue {
    fn from(m: SfValue) -> Self {
        match m {
            SfValue::Null => Self::Null,
            SfValue::Text(text) => Self::Text(text),
            SfValue::Boolean(value) => Self::Boolean(value),
            SfValue::Number(value) => Self::Number(money_text(value)),
            SfValue::Date(value) => Self::Date(date_text(value)),
        }
    }
}

impl From<SfField> for wit::SfField {
    fn from(m: SfField) -> Self {
        let SfField { name, value } = m;
        Self {
            name,
            value: value.into(),
        }
    }
}

// ------------------------------------------------------------------------ QBO records

impl FromWit<wit::QboCustomer> for QboCustomer {
    fn from_wit(w: wit::QboCustomer, p: &mut Parse) -> Self {
        let wit::QboCustomer {
            id,
            sync_token,
            display_name,
            company_name,
            bill_addr,
            ship_addr,
            email,
            phone,
            website,
            notes,
            active,
            sales_term,
            taxable,
            default_tax_code,
            resale_num,
            balance,
            salesforce_id,
        } = w;
        let record = id.as_deref().and_then(|id| record_id("Customer", id));
        p.record(record, |p| Self {
            balance: p.opt_money("balance", balance.as_deref()),
            id,
            sync_token,
            display_name,
            company_name,
            bill_addr: bill_addr.map(Into::into),
            ship_addr: ship_addr.map(Into::into),
            email,
            phone,
            website,
            notes,
            active,
            sales_term: sales_term.map(Into::into),
            taxable,
            default_tax_code: default_tax_code.map(Into::into),
            resale_num,
            salesforce_id,
        })
    }
}

impl From<QboCustomer> for wit::QboCustomer {
    fn from(m: QboCustomer) -> Self {
        let QboCustomer {
            id,
            sync_token,
            display_name,
            company_name,
            bill_addr,
            ship_addr,
            email,
            phone,
            website,
            notes,
            active,
            sales_term,
            taxable,
            default_tax_code,
            resale_num,
            balance,
            salesforce_id,
        } = m;
        Self {
            id,
            sync_token,
            display_name,
            company_name,
            bill_addr: bill_addr.map(Into::into),
            ship_addr: ship_addr.map(Into::into),
            email,
            phone,
            website,
            notes,
            active,
            sales_term: sales_term.map(Into::into),
            taxable,
            default_tax_code: default_tax_code.map(Into::into),
            resale_num,
            balance: balance.map(money_text),
            salesforce_id,
        }
    }
}

/// An existing item belongs to the product it is mapped from.
impl FromWit<wit::QboItem> for QboItem {
    fn from_wit(w: wit::QboItem, p: &mut Parse) -> Self {
        let wit::QboItem {
            id,
            sync_token,
            name,
            sku,
            description,
            unit_price,
            item_type,
            income_account,
            active,
        } = w;
        Self {
            id,
            sync_token,
            name,
            sku,
            description,
            unit_price: p.opt_money("unit-price", unit_price.as_deref()),
            item_type: item_type.map(Into::into),
            income_account: income_account.map(Into::into),
            active,
        }
    }
}

impl From<QboItem> for wit::QboItem {
    fn from(m: QboItem) -> Self {
        let QboItem {
            id,
            sync_token,
            name,
            sku,
            description,
            unit_price,
            item_type,
            income_account,
            active,
        } = m;
        Self {
            id,
            sync_token,
            name,
            sku,
            description,
            unit_price: unit_price.map(money_text),
            item_type: item_type.map(Into::into),
            income_account: income_account.map(Into::into),
            active,
        }
    }
}

impl From<QboInvoiceLine> for wit::QboInvoiceLine {
    fn from(m: QboInvoiceLine) -> Self {
        let QboInvoiceLine {
            line_num,
            description,
            amount,
            item,
            qty,
            unit_price,
            tax_code,
            class,
            service_date,
        } = m;
        Self {
            line_num,
            description,
            amount: money_text(amount),
            item: item.into(),
            qty: money_text(qty),
            unit_price: money_text(unit_price),
            tax_code: tax_code.map(Into::into),
            class: class.map(Into::into),
            service_date: service_date.map(date_text),
        }
    }
}

impl From<QboCustomField> for wit::QboCustomField {
    fn from(m: QboCustomField) -> Self {
        let QboCustomField {
            definition_id,
            name,
            value,
        } = m;
        Self {
            definition_id,
            name,
            value,
        }
    }
}

impl From<wit::QboCustomField> for QboCustomField {
    fn from(w: wit::QboCustomField) -> Self {
        let wit::QboCustomField {
            definition_id,
            name,
            value,
        } = w;
        Self {
            definition_id,
            name,
            value,
        }
    }
}

impl From<wit::GlobalTaxCalculation> for GlobalTaxCalculation {
    fn from(w: wit::GlobalTaxCalculation) -> Self {
        match w {
            wit::GlobalTaxCalculation::TaxExcluded => Self::TaxExcluded,
            wit::GlobalTaxCalculation::TaxInclusive => Self::TaxInclusive,
            wit::GlobalTaxCalculation::NotApplicable => Self::NotApplicable,
        }
    }
}

impl From<GlobalTaxCalculation> for wit::GlobalTaxCalculation {
    fn from(m: GlobalTaxCalculation) -> Self {
        match m {
            GlobalTaxCalculation::TaxExcluded => Self::TaxExcluded,
            GlobalTaxCalculation::TaxInclusive => Self::TaxInclusive,
            GlobalTaxCalculation::NotApplicable => Self::NotApplicable,
        }
    }
}

impl From<QboInvoice> for wit::QboInvoice {
    fn from(m: QboInvoice) -> Self {
        let QboInvoice {
            id,
            sync_token,
            doc_number,
            txn_date,
            due_date,
            customer,
            lines,
            currency,
            department,
            class,
            sales_term,
            bill_email,
            bill_email_cc,
            private_note,
            custom_fields,
            exchange_rate,
            global_tax_calculation,
            txn_tax_code,
            total_amt,
            balance,
        } = m;
        Self {
            id,
            sync_token,
            doc_number,
            txn_date: date_text(txn_date),
            due_date: due_date.map(date_text),
            customer: customer.into(),
            lines: convert_all(lines),
            currency: currency.map(Into::into),
            department: department.map(Into::into),
            class: class.map(Into::into),
            sales_term: sales_term.map(Into::into),
            bill_email,
            bill_email_cc,
            private_note,
            custom_fields: convert_all(custom_fields),
            exchange_rate: exchange_rate.map(money_text),
            global_tax_calculation: global_tax_calculation.map(Into::into),
            txn_tax_code: txn_tax_code.map(Into::into),
            total_amt: money_text(total_amt),
            balance: balance.map(money_text),
        }
    }
}

/// A payment line belongs to its Payment.
impl FromWit<wit::PaymentLine> for PaymentLine {
    fn from_wit(w: wit::PaymentLine, p: &mut Parse) -> Self {
        let wit::PaymentLine { invoice_id, amount } = w;
        Self {
            invoice_id,
            amount: p.money("amount", &amount),
        }
    }
}

impl FromWit<wit::QboPayment> for QboPayment {
    fn from_wit(w: wit::QboPayment, p: &mut Parse) -> Self {
        let wit::QboPayment {
            id,
            txn_date,
            customer,
            total_amt,
            lines,
            state,
        } = w;
        p.record(record_id("Payment", &id), |p| Self {
            txn_date: p.date("txn-date", &txn_date),
            total_amt: p.money("total-amt", &total_amt),
            lines: p.list("lines", lines),
            id,
            customer: customer.map(Into::into),
            state: state.into(),
        })
    }
}

impl From<JournalLine> for wit::JournalLine {
    fn from(m: JournalLine) -> Self {
        let JournalLine {
            description,
            amount,
            posting_type,
            account,
            department,
            class,
            customer,
        } = m;
        Self {
            description,
            amount: money_text(amount),
            posting_type: posting_type.into(),
            account: account.into(),
            department: department.map(Into::into),
            class: class.map(Into::into),
            customer: customer.map(Into::into),
        }
    }
}

impl From<QboJournalEntry> for wit::QboJournalEntry {
    fn from(m: QboJournalEntry) -> Self {
        let QboJournalEntry {
            doc_number,
            txn_date,
            private_note,
            lines,
            total,
        } = m;
        Self {
            doc_number,
            txn_date: date_text(txn_date),
            private_note,
            lines: convert_all(lines),
            total: money_text(total),
        }
    }
}

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
