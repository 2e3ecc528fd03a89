//! End-to-end tests of every flow, in one binary (one link of the host and wasmtime instead of
//! one per file): the real component in the real host against the emulators, a module per area,
//! and the source tree's house rules (`architecture`). Shared helpers are in `ledgerlink_tests`.

mod aging_and_reconciliation;
mod architecture;
mod credits_and_refunds;
mod documented_paths;
mod error_mirror;
mod invoice_changes;
mod invoice_fidelity;
mod invoice_records;
mod invoices;
mod orders;
mod payments;
mod quickbooks_to_salesforce;
mod resilience;
mod retries;
mod salesforce_changes;
mod salesforce_pubsub;
mod subscriptions;
