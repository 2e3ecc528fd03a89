//! Each mapping input, WIT -> `mapping`: fallible, through [`Parse`]. The fields of an input that
//! lie outside every record belong to the input's main record (see the module docs of
//! `boundary`).

use super::convert::convert_all;
use super::parse::{record_id, FromWit, Parse};
use crate::bindings::ledgerlink::sync::types as wit;
use crate::mapping::{
    AccountInput, AgingInput, AgingState, AllocationRule, AllocationSplit, AppliedPayment,
    CustomerInput, DocNumberRule, DocumentKind, InvoiceInput, InvoiceLedger, InvoiceSettings,
    ItemSettings, JournalInput, LedgerDocument, LineResolution, OpenInvoice, PaymentInput,
    ProductInput, QboOwnedFields, ReconcileInput, WonOpportunity,
};

// ------------------------------------------------------------------------ map-account

impl FromWit<wit::AccountInput> for AccountInput {
    fn from_wit(w: wit::AccountInput, p: &mut Parse) -> Self {
        let wit::AccountInput {
            account,
            existing,
            last_synced,
            rules,
        } = w;
        let record = record_id("Account", &account.id);
        p.record(record, |p| Self {
            account: account.into(),
            existing: p.option("existing", existing),
            last_synced: last_synced.map(Into::into),
            rules: convert_all(rules),
        })
    }
}

// ------------------------------------------------------------------------ map-customer

impl From<wit::QboOwnedFields> for QboOwnedFields {
    fn from(w: wit::QboOwnedFields) -> Self {
        let wit::QboOwnedFields {
            payment_terms,
            tax_exempt,
            department,
            class,
        } = w;
        Self {
            payment_terms,
            tax_exempt,
            department,
            class,
        }
    }
}

impl FromWit<wit::CustomerInput> for CustomerInput {
    fn from_wit(w: wit::CustomerInput, p: &mut Parse) -> Self {
        let wit::CustomerInput {
            customer,
            existing,
            last_synced,
            rules,
            targets,
            department_name,
            class_name,
            email_field,
        } = w;
        let record = customer
            .id
            .as_deref()
            .and_then(|id| record_id("Customer", id));
        p.record(record, |p| Self {
            customer: p.field("customer", customer),
            existing: existing.map(Into::into),
            last_synced: last_synced.map(Into::into),
            rules: convert_all(rules),
            targets: targets.into(),
            department_name,
            class_name,
            email_field,
        })
    }
}

// ------------------------------------------------------------------------ map-product

impl From<wit::ItemSettings> for ItemSettings {
    fn from(w: wit::ItemSettings) -> Self {
        let wit::ItemSettings {
            income_account,
            default_type,
            non_inventory_families,
        } = w;
        Self {
            income_account: income_account.into(),
            default_type: default_type.into(),
            non_inventory_families,
        }
    }
}

impl FromWit<wit::ProductInput> for ProductInput {
    fn from_wit(w: wit::ProductInput, p: &mut Parse) -> Self {
        let wit::ProductInput {
            product,
            price,
            existing,
            settings,
        } = w;
        let record = record_id("Product", &product.id);
        p.record(record, |p| Self {
            product: product.into(),
            price: p.option("price", price),
            existing: p.option("existing", existing),
            settings: settings.into(),
        })
    }
}

// ------------------------------------------------------------------------ build-invoice

impl From<wit::DocNumberRule> for DocNumberRule {
    fn from(w: wit::DocNumberRule) -> Self {
        match w {
            wit::DocNumberRule::QboAssigns => Self::QboAssigns,
            wit::DocNumberRule::Prefix(prefix) => Self::Prefix(prefix),
        }
    }
}

impl FromWit<wit::InvoiceSettings> for InvoiceSettings {
    fn from_wit(w: wit::InvoiceSettings, p: &mut Parse) -> Self {
        let wit::InvoiceSettings {
            us_company,
            home_currency,
            multicurrency,
            terms,
            terms_days,
            doc_number,
            default_tax_code,
            department,
            class,
            amount_tolerance,
            opportunity_field_id,
            global_tax_calculation,
        } = w;
        Self {
            us_company,
            home_currency,
            multicurrency,
            terms: terms.map(Into::into),
            terms_days,
            doc_number: doc_number.into(),
            default_tax_code: default_tax_code.map(Into::into),
            department: department.map(Into::into),
            class: class.map(Into::into),
            amount_tolerance: p.money("amount-tolerance", &amount_tolerance),
            opportunity_field_id,
            global_tax_calculation: global_tax_calculation.map(Into::into),
        }
    }
}

impl From<wit::LineResolution> for LineResolution {
    fn from(w: wit::LineResolution) -> Self {
        let wit::LineResolution {
            line_id,
            item,
            taxable,
            tax_code,
            class,
        } = w;
        Self {
            line_id,
            item: item.into(),
            taxable,
            tax_code: tax_code.map(Into::into),
            class: class.map(Into::into),
        }
    }
}

impl FromWit<wit::InvoiceInput> for InvoiceInput {
    fn from_wit(w: wit::InvoiceInput, p: &mut Parse) -> Self {
        let wit::InvoiceInput {
            opportunity,
            customer,
            customer_email,
            customer_email_cc,
            lines,
            settings,
            exchange_rate,
            custom_fields,
        } = w;
        let record = record_id("Opportunity", &opportunity.id);
        p.record(record, |p| Self {
            opportunity: p.field("opportunity", opportunity),
            customer: customer.map(Into::into),
            customer_email,
            customer_email_cc,
            lines: convert_all(lines),
            settings: p.field("settings", settings),
            exchange_rate: exchange_rate.map(|r| p.money("exchange-rate", &r)),
            custom_fields: custom_fields.map(convert_all).unwrap_or_default(),
        })
    }
}

// ------------------------------------------------------------------------ apply-payment

/// An applied payment belongs to its invoice ledger.
impl FromWit<wit::AppliedPayment> for AppliedPayment {
    fn from_wit(w: wit::AppliedPayment, p: &mut Parse) -> Self {
        let wit::AppliedPayment {
            payment_id,
            amount,
            txn_date,
        } = w;
        Self {
            payment_id,
            amount: p.money("amount", &amount),
            txn_date: p.date("txn-date", &txn_date),
        }
    }
}

impl FromWit<wit::InvoiceLedger> for InvoiceLedger {
    fn from_wit(w: wit::InvoiceLedger, p: &mut Parse) -> Self {
        let wit::InvoiceLedger {
            invoice_id,
            opportunity_id,
            total_amt,
            applied,
        } = w;
        p.record(record_id("Invoice", &invoice_id), |p| Self {
            total_amt: p.money("total-amt", &total_amt),
            applied: p.list("applied", applied),
            invoice_id,
            opportunity_id,
        })
    }
}

impl FromWit<wit::PaymentInput> for PaymentInput {
    fn from_wit(w: wit::PaymentInput, p: &mut Parse) -> Self {
        let wit::PaymentInput { payment, invoices } = w;
        let record = record_id("Payment", &payment.id);
        p.record(record, |p| Self {
            payment: p.field("payment", payment),
            invoices: p.list("invoices", invoices),
        })
    }
}

// ------------------------------------------------------------------------ build-journal-entry

/// A split belongs to the input's Order.
impl FromWit<wit::AllocationSplit> for AllocationSplit {
    fn from_wit(w: wit::AllocationSplit, p: &mut Parse) -> Self {
        let wit::AllocationSplit {
            percent,
            account,
            department,
            class,
        } = w;
        Self {
            percent: p.money("percent", &percent),
            account: account.map(Into::into),
            department: department.map(Into::into),
            class: class.map(Into::into),
        }
    }
}

impl FromWit<wit::AllocationRule> for AllocationRule {
    fn from_wit(w: wit::AllocationRule, p: &mut Parse) -> Self {
        let wit::AllocationRule {
            product_code,
            product_family,
            account,
            department,
            class,
            splits,
        } = w;
        Self {
            product_code,
            product_family,
            account: account.into(),
            department: department.map(Into::into),
            class: class.map(Into::into),
            splits: p.list("splits", splits),
        }
    }
}

impl FromWit<wit::JournalInput> for JournalInput {
    fn from_wit(w: wit::JournalInput, p: &mut Parse) -> Self {
        let wit::JournalInput {
            order,
            rules,
            receivable_account,
            customer,
            reversal,
            reversal_date,
        } = w;
        let record = record_id("Order", &order.id);
        p.record(record, |p| Self {
            order: p.field("order", order),
            rules: p.list("rules", rules),
            receivable_account: receivable_account.into(),
            customer: customer.map(Into::into),
            reversal,
            reversal_date: p.opt_date("reversal-date", reversal_date.as_deref()),
        })
    }
}

// ------------------------------------------------------------------------ age-invoices

impl FromWit<wit::OpenInvoice> for OpenInvoice {
    fn from_wit(w: wit::OpenInvoice, p: &mut Parse) -> Self {
        let wit::OpenInvoice {
            invoice_id,
            doc_number,
            opportunity_id,
            customer_name,
            txn_date,
            due_date,
            balance,
        } = w;
        p.record(record_id("Invoice", &invoice_id), |p| Self {
            txn_date: p.date("txn-date", &txn_date),
            due_date: p.date("due-date", &due_date),
            balance: p.money("balance", &balance),
            invoice_id,
            doc_number,
            opportunity_id,
            customer_name,
        })
    }
}

impl From<wit::AgingState> for AgingState {
    fn from(w: wit::AgingState) -> Self {
        let wit::AgingState {
            invoice_id,
            threshold,
        } = w;
        Self {
            invoice_id,
            threshold,
        }
    }
}

impl FromWit<wit::AgingInput> for AgingInput {
    fn from_wit(w: wit::AgingInput, p: &mut Parse) -> Self {
        let wit::AgingInput {
            invoices,
            as_of,
            previous,
            thresholds,
        } = w;
        Self {
            invoices: p.list("invoices", invoices),
            as_of: p.date("as-of", &as_of),
            previous: convert_all(previous),
            thresholds,
        }
    }
}

// ------------------------------------------------------------------------ reconcile

impl FromWit<wit::WonOpportunity> for WonOpportunity {
    fn from_wit(w: wit::WonOpportunity, p: &mut Parse) -> Self {
        let wit::WonOpportunity {
            id,
            name,
            account_id,
            close_date,
            amount,
            invoice_id,
        } = w;
        p.record(record_id("Opportunity", &id), |p| Self {
            close_date: p.date("close-date", &close_date),
            amount: p.money("amount", &amount),
            id,
            name,
            account_id,
            invoice_id,
        })
    }
}

impl From<wit::DocumentKind> for DocumentKind {
    fn from(w: wit::DocumentKind) -> Self {
        match w {
            wit::DocumentKind::Invoice => Self::Invoice,
            wit::DocumentKind::CreditMemo => Self::CreditMemo,
        }
    }
}

impl FromWit<wit::LedgerDocument> for LedgerDocument {
    fn from_wit(w: wit::LedgerDocument, p: &mut Parse) -> Self {
        let wit::LedgerDocument {
            id,
            doc_number,
            kind,
            txn_date,
            total_amt,
            opportunity_id,
            voided,
        } = w;
        let kind = DocumentKind::from(kind);
        let entity = match kind {
            DocumentKind::Invoice => "Invoice",
            DocumentKind::CreditMemo => "CreditMemo",
        };
        p.record(record_id(entity, &id), |p| Self {
            txn_date: p.date("txn-date", &txn_date),
            total_amt: p.money("total-amt", &total_amt),
            id,
            doc_number,
            kind,
            opportunity_id,
            voided,
        })
    }
}

impl FromWit<wit::ReconcileInput> for ReconcileInput {
    fn from_wit(w: wit::ReconcileInput, p: &mut Parse) -> Self {
        let wit::ReconcileInput {
            period_start,
            period_end,
            opportunities,
            documents,
        } = w;
        Self {
            period_start: p.date("period-start", &period_start),
            period_end: p.date("period-end", &period_end),
            opportunities: p.list("opportunities", opportunities),
            documents: p.list("documents", documents),
        }
    }
}

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
