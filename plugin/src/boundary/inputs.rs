//! Each mapping input, WIT -> `mapping`: fallible, through [`Parse`](super::Parse). The fields of
//! an input that lie outside every record belong to the input's main record (see the module docs
//! of `boundary`).

use super::convert::{convert_all, convert_enum, convert_record, parse_record};
use super::parse::record_id;
use crate::bindings::ledgerlink::sync::types as wit;
use crate::mapping::{
    AccountInput, AgingInput, AgingState, AllocationRule, AllocationSplit, AppliedPayment,
    CustomerInput, DocNumberRule, DocumentKind, InvoiceInput, InvoiceLedger, InvoiceSettings,
    ItemSettings, JournalInput, LedgerDocument, LineResolution, OpenInvoice, PaymentInput,
    ProductInput, QboOwnedFields, ReconcileInput, WonOpportunity,
};

// ------------------------------------------------------------------------ map-account

parse_record! {
    wit::AccountInput => AccountInput {
        account: into,
        existing: opt_parse "existing",
        last_synced: opt_into,
        rules: all_into,
    }
    in record_id("Account", &account.id)
}

// ------------------------------------------------------------------------ map-customer

convert_record! {
    wit::QboOwnedFields => QboOwnedFields { payment_terms, tax_exempt, department, class }
}

parse_record! {
    wit::CustomerInput => CustomerInput {
        customer: parse "customer",
        existing: opt_into,
        last_synced: opt_into,
        rules: all_into,
        targets: into,
        department_name,
        class_name,
        email_field,
    }
    in customer.id.as_deref().and_then(|id| record_id("Customer", id))
}

// ------------------------------------------------------------------------ map-product

convert_record! {
    wit::ItemSettings => ItemSettings {
        income_account: into,
        default_type: into,
        non_inventory_families,
    }
}

parse_record! {
    wit::ProductInput => ProductInput {
        product: into,
        price: opt_parse "price",
        existing: opt_parse "existing",
        settings: into,
    }
    in record_id("Product", &product.id)
}

// ------------------------------------------------------------------------ build-invoice

convert_enum! {
    wit::DocNumberRule => DocNumberRule { QboAssigns, Prefix(prefix) }
}

parse_record! {
    wit::InvoiceSettings => InvoiceSettings {
        us_company,
        home_currency,
        multicurrency,
        terms: opt_into,
        terms_days,
        doc_number: into,
        default_tax_code: opt_into,
        department: opt_into,
        class: opt_into,
        amount_tolerance: money "amount-tolerance",
        opportunity_field_id,
        global_tax_calculation: opt_into,
    }
}

convert_record! {
    wit::LineResolution => LineResolution {
        line_id,
        item: into,
        taxable,
        tax_code: opt_into,
        class: opt_into,
    }
}

parse_record! {
    wit::InvoiceInput => InvoiceInput {
        opportunity: parse "opportunity",
        customer: opt_into,
        customer_email,
        customer_email_cc,
        lines: all_into,
        settings: parse "settings",
        exchange_rate: opt_money "exchange-rate",
        // Optional in WIT; the mapping reads an absent list as an empty one.
        custom_fields: (custom_fields.map(convert_all).unwrap_or_default()),
    }
    in record_id("Opportunity", &opportunity.id)
}

// ------------------------------------------------------------------------ apply-payment

parse_record! {
    /// An applied payment belongs to its invoice ledger.
    wit::AppliedPayment => AppliedPayment {
        payment_id,
        amount: money "amount",
        txn_date: date "txn-date",
    }
}

parse_record! {
    wit::InvoiceLedger => InvoiceLedger {
        invoice_id,
        opportunity_id,
        total_amt: money "total-amt",
        applied: parse_all "applied",
    }
    in record_id("Invoice", &invoice_id)
}

parse_record! {
    wit::PaymentInput => PaymentInput {
        payment: parse "payment",
        invoices: parse_all "invoices",
    }
    in record_id("Payment", &payment.id)
}

// ------------------------------------------------------------------------ build-journal-entry

parse_record! {
    /// A split belongs to the input's Order.
    wit::AllocationSplit => AllocationSplit {
        percent: money "percent",
        account: opt_into,
        department: opt_into,
        class: opt_into,
    }
}

parse_record! {
    wit::AllocationRule => AllocationRule {
        product_code,
        product_family,
        account: into,
        department: opt_into,
        class: opt_into,
        splits: parse_all "splits",
    }
}

parse_record! {
    wit::JournalInput => JournalInput {
        order: parse "order",
        rules: parse_all "rules",
        receivable_account: into,
        customer: opt_into,
        reversal,
        reversal_date: opt_date "reversal-date",
    }
    in record_id("Order", &order.id)
}

// ------------------------------------------------------------------------ age-invoices

parse_record! {
    wit::OpenInvoice => OpenInvoice {
        invoice_id,
        doc_number,
        opportunity_id,
        customer_name,
        txn_date: date "txn-date",
        due_date: date "due-date",
        balance: money "balance",
    }
    in record_id("Invoice", &invoice_id)
}

convert_record! {
    wit::AgingState => AgingState { invoice_id, threshold }
}

parse_record! {
    wit::AgingInput => AgingInput {
        invoices: parse_all "invoices",
        as_of: date "as-of",
        previous: all_into,
        thresholds,
    }
}

// ------------------------------------------------------------------------ reconcile

parse_record! {
    wit::WonOpportunity => WonOpportunity {
        id,
        name,
        account_id,
        close_date: date "close-date",
        amount: money "amount",
        invoice_id,
    }
    in record_id("Opportunity", &id)
}

convert_enum! {
    wit::DocumentKind => DocumentKind { Invoice, CreditMemo, RefundReceipt }
}

parse_record! {
    wit::LedgerDocument => LedgerDocument {
        id,
        doc_number,
        kind: into,
        txn_date: date "txn-date",
        total_amt: money "total-amt",
        opportunity_id,
        voided,
    }
    in record_id(document_entity(kind), &id)
}

/// The record kind a ledger document's failures name: an invoice or a credit memo.
fn document_entity(kind: wit::DocumentKind) -> &'static str {
    match DocumentKind::from(kind) {
        DocumentKind::Invoice => "Invoice",
        DocumentKind::CreditMemo => "CreditMemo",
        DocumentKind::RefundReceipt => "RefundReceipt",
    }
}

parse_record! {
    wit::ReconcileInput => ReconcileInput {
        period_start: date "period-start",
        period_end: date "period-end",
        opportunities: parse_all "opportunities",
        documents: parse_all "documents",
    }
}

// The tests below reach these through `super::*`; the macros name them by full path.
#[cfg(test)]
use super::parse::{FromWit, Parse};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ErrorKind, FieldError, MappingError};

    fn reference(value: &str) -> wit::Reference {
        wit::Reference {
            value: value.into(),
            name: None,
        }
    }

    fn line(i: usize, quantity: &str, unit_price: &str) -> wit::SfOpportunityLine {
        wit::SfOpportunityLine {
            id: format!("00k{i}"),
            product_id: Some(format!("01t{i}")),
            product_code: Some(format!("SKU-{i}")),
            name: Some(format!("Line {i}")),
            description: None,
            quantity: quantity.into(),
            unit_price: unit_price.into(),
            total_price: None,
            discount_percent: None,
            service_date: None,
            sort_order: Some(i as u32),
        }
    }

    fn invoice_input(lines: Vec<wit::SfOpportunityLine>) -> wit::InvoiceInput {
        wit::InvoiceInput {
            opportunity: wit::SfOpportunity {
                id: "0065e00000AbCdEAAV".into(),
                name: "Acme renewal".into(),
                account_id: Some("0015e00000XyZaBAAV".into()),
                stage_name: "Closed Won".into(),
                close_date: "2024-01-31".into(),
                amount: Some("1234.50".into()),
                is_won: true,
                is_closed: true,
                currency_code: Some("USD".into()),
                description: None,
                qbo_invoice_id: None,
                system_modstamp: Some("2024-01-31T10:00:00Z".into()),
                line_items: lines,
            },
            customer: Some(reference("58")),
            customer_email: Some("ap@acme.test".into()),
            lines: vec![wit::LineResolution {
                line_id: "00k0".into(),
                item: reference("7"),
                taxable: true,
                tax_code: None,
                class: None,
            }],
            settings: wit::InvoiceSettings {
                us_company: true,
                home_currency: "USD".into(),
                multicurrency: false,
                terms: Some(reference("3")),
                terms_days: Some(30),
                doc_number: wit::DocNumberRule::Prefix("SF-".into()),
                default_tax_code: None,
                department: None,
                class: None,
                amount_tolerance: "0.01".into(),
                opportunity_field_id: Some("1".into()),
                global_tax_calculation: None,
            },
            customer_email_cc: None,
            exchange_rate: None,
            custom_fields: None,
        }
    }

    fn refused<W, T: FromWit<W> + std::fmt::Debug>(function: &str, w: W) -> Vec<FieldError> {
        match Parse::input::<W, T>(function, w) {
            Ok(value) => panic!("must be refused, got {value:?}"),
            Err(MappingError { kind, errors }) => {
                assert_eq!(kind, ErrorKind::InvalidInput);
                errors
            }
        }
    }

    fn paths(errors: &[FieldError]) -> Vec<(&str, &str)> {
        errors
            .iter()
            .map(|e| (e.record_id.as_str(), e.field.as_str()))
            .collect()
    }

    #[test]
    fn each_invalid_money_text_is_refused_at_its_line_position() {
        for bad in ["12,50", "abc", "1e3", ""] {
            let input = invoice_input(vec![line(0, "1", "10.00"), line(1, bad, "10.00")]);
            let errors = refused::<_, InvoiceInput>("build-invoice", input);
            assert_eq!(
                paths(&errors),
                [(
                    "Opportunity 0065e00000AbCdEAAV",
                    "opportunity.line-items[1].quantity"
                )],
                "for {bad:?}"
            );
            assert!(!errors[0].reason.is_empty());
        }
    }

    #[test]
    fn each_invalid_date_is_refused_at_its_line_position() {
        for bad in ["2024-13-01", "31/01/2024"] {
            let mut input = invoice_input(vec![line(0, "1", "10.00"), line(1, "2", "5.00")]);
            input.opportunity.line_items[1].service_date = Some(bad.into());
            let errors = refused::<_, InvoiceInput>("build-invoice", input);
            assert_eq!(
                paths(&errors),
                [(
                    "Opportunity 0065e00000AbCdEAAV",
                    "opportunity.line-items[1].service-date"
                )],
                "for {bad:?}"
            );
            assert!(errors[0].reason.contains(bad), "{}", errors[0].reason);
        }
    }

    #[test]
    fn every_bad_field_of_an_invoice_input_is_reported() {
        let mut input = invoice_input(vec![
            line(0, "1", "10.00"),
            line(1, "abc", "12,50"),
            line(2, "1", "10.00"),
            line(3, "2", "1e3"),
        ]);
        input.opportunity.close_date = "31/01/2024".into();
        input.opportunity.line_items[2].discount_percent = Some("".into());
        input.settings.amount_tolerance = "one cent".into();
        let errors = refused::<_, InvoiceInput>("build-invoice", input);
        let opp = "Opportunity 0065e00000AbCdEAAV";
        assert_eq!(
            paths(&errors),
            [
                (opp, "opportunity.close-date"),
                (opp, "opportunity.line-items[1].quantity"),
                (opp, "opportunity.line-items[1].unit-price"),
                (opp, "opportunity.line-items[2].discount-percent"),
                (opp, "opportunity.line-items[3].unit-price"),
                (opp, "settings.amount-tolerance"),
            ]
        );
    }

    #[test]
    fn a_good_invoice_input_keeps_exact_values() {
        let mut input = invoice_input(vec![line(0, "3", "411.50"), line(1, "1.25", "0.10")]);
        input.opportunity.line_items[1].service_date = Some("2024-02-29".into());
        let parsed = Parse::input::<_, InvoiceInput>("build-invoice", input);
        let Ok(input) = parsed else {
            panic!("a good input must parse: {parsed:?}");
        };
        let opp = &input.opportunity;
        assert_eq!(
            opp.amount.map(|a| a.to_string()).as_deref(),
            Some("1234.50")
        );
        assert_eq!(opp.line_items[0].unit_price.to_string(), "411.50");
        assert_eq!(opp.line_items[1].quantity.to_string(), "1.25");
        assert_eq!(
            opp.line_items[1].service_date,
            chrono::NaiveDate::from_ymd_opt(2024, 2, 29)
        );
        assert_eq!(input.settings.amount_tolerance.to_string(), "0.01");
        assert_eq!(
            input.settings.doc_number,
            DocNumberRule::Prefix("SF-".into())
        );
    }

    #[test]
    fn payment_errors_name_the_payment_and_each_invoice() {
        let input = wit::PaymentInput {
            payment: wit::QboPayment {
                id: "145".into(),
                txn_date: "2024-02-30".into(),
                customer: Some(reference("58")),
                total_amt: "100.00".into(),
                lines: vec![
                    wit::PaymentLine {
                        invoice_id: "130".into(),
                        amount: "60.00".into(),
                    },
                    wit::PaymentLine {
                        invoice_id: "131".into(),
                        amount: "4O.00".into(),
                    },
                ],
                state: wit::PaymentState::Active,
            },
            invoices: vec![wit::InvoiceLedger {
                invoice_id: "131".into(),
                opportunity_id: Some("006B".into()),
                total_amt: "40.00".into(),
                applied: vec![wit::AppliedPayment {
                    payment_id: "120".into(),
                    amount: "-".into(),
                    txn_date: "2024-01-15".into(),
                }],
            }],
        };
        let errors = refused::<_, PaymentInput>("apply-payment", input);
        assert_eq!(
            paths(&errors),
            [
                ("Payment 145", "payment.txn-date"),
                ("Payment 145", "payment.lines[1].amount"),
                ("Invoice 131", "invoices[0].applied[0].amount"),
            ]
        );
    }

    #[test]
    fn inputs_without_a_main_record_use_the_function_name() {
        let input = wit::AgingInput {
            invoices: vec![wit::OpenInvoice {
                invoice_id: "130".into(),
                doc_number: Some("1001".into()),
                opportunity_id: None,
                customer_name: Some("Acme".into()),
                txn_date: "2024-01-01".into(),
                due_date: "2024-01-31".into(),
                balance: "1,000.00".into(),
            }],
            as_of: "2024/03/01".into(),
            previous: vec![],
            thresholds: vec![30, 60, 90],
        };
        let errors = refused::<_, AgingInput>("age-invoices", input);
        assert_eq!(
            paths(&errors),
            [
                ("Invoice 130", "invoices[0].balance"),
                ("age-invoices", "as-of"),
            ]
        );
    }

    #[test]
    fn reconcile_documents_are_named_by_kind() {
        let document = |id: &str, kind, total: &str| wit::LedgerDocument {
            id: id.into(),
            doc_number: None,
            kind,
            txn_date: "2024-01-10".into(),
            total_amt: total.into(),
            opportunity_id: None,
            voided: false,
        };
        let input = wit::ReconcileInput {
            period_start: "2024-01-01".into(),
            period_end: "2024-01-32".into(),
            opportunities: vec![wit::WonOpportunity {
                id: "006A".into(),
                name: "Acme".into(),
                account_id: None,
                close_date: "2024-01-05".into(),
                amount: "NaN".into(),
                invoice_id: None,
            }],
            documents: vec![
                document("130", wit::DocumentKind::Invoice, "10.00"),
                document("9", wit::DocumentKind::CreditMemo, "x"),
            ],
        };
        let errors = refused::<_, ReconcileInput>("reconcile", input);
        assert_eq!(
            paths(&errors),
            [
                ("reconcile", "period-end"),
                ("Opportunity 006A", "opportunities[0].amount"),
                ("CreditMemo 9", "documents[1].total-amt"),
            ]
        );
    }

    #[test]
    fn journal_input_names_the_order_for_rules_and_reversal_date() {
        let input = wit::JournalInput {
            order: wit::SfOrder {
                id: "801A".into(),
                order_number: None,
                account_id: None,
                effective_date: "2024-03-01".into(),
                status: "Activated".into(),
                total_amount: None,
                items: vec![],
            },
            rules: vec![wit::AllocationRule {
                product_code: None,
                product_family: Some("Services".into()),
                account: reference("79"),
                department: None,
                class: None,
                splits: vec![wit::AllocationSplit {
                    percent: "50%".into(),
                    account: None,
                    department: Some(reference("1")),
                    class: None,
                }],
            }],
            receivable_account: reference("84"),
            customer: None,
            reversal: true,
            reversal_date: Some("2024-3-05".into()),
        };
        let errors = refused::<_, JournalInput>("build-journal-entry", input);
        assert_eq!(
            paths(&errors),
            [
                ("Order 801A", "rules[0].splits[0].percent"),
                ("Order 801A", "reversal-date"),
            ]
        );
    }

    #[test]
    fn product_price_and_existing_item_belong_to_the_product() {
        let input = wit::ProductInput {
            product: wit::SfProduct {
                id: "01tA".into(),
                name: "Consulting".into(),
                product_code: Some("CONS".into()),
                description: None,
                family: None,
                is_active: true,
            },
            price: Some(wit::SfPricebookEntry {
                id: "01uA".into(),
                unit_price: "150,00".into(),
                is_active: true,
                currency_code: None,
            }),
            existing: Some(wit::QboItem {
                id: Some("7".into()),
                sync_token: Some("0".into()),
                name: Some("Consulting".into()),
                sku: None,
                description: None,
                unit_price: Some("abc".into()),
                item_type: Some(wit::ItemType::Service),
                income_account: None,
                active: Some(true),
            }),
            settings: wit::ItemSettings {
                income_account: reference("79"),
                default_type: wit::ItemType::Service,
                non_inventory_families: vec![],
            },
        };
        let errors = refused::<_, ProductInput>("map-product", input);
        assert_eq!(
            paths(&errors),
            [
                ("Product 01tA", "price.unit-price"),
                ("Product 01tA", "existing.unit-price"),
            ]
        );
    }

    #[test]
    fn a_bad_input_is_refused_by_the_component_before_the_mapping_runs() {
        use crate::bindings::exports::ledgerlink::sync::mapping::Guest;
        let input = invoice_input(vec![line(0, "1", "ten")]);
        let answer = <crate::Component as Guest>::build_invoice(input);
        let Err(error) = answer else {
            panic!("a bad input must be refused");
        };
        assert_eq!(error.kind, wit::ErrorKind::InvalidInput);
        assert_eq!(error.errors.len(), 1);
        assert_eq!(error.errors[0].record_id, "Opportunity 0065e00000AbCdEAAV");
        assert_eq!(
            error.errors[0].field,
            "opportunity.line-items[0].unit-price"
        );
    }
}
