//! Ledgerlink's sync logic, built as a WASI component (`wasm32-wasip2`) and as an rlib for
//! native tests.
//!
//! - `model`: the records in exact types (money is `Decimal`).
//! - `mapping`: the pure per-flow functions.
//! - `boundary`: the translation between the WIT bindings and `model` (parsing money and dates,
//!   naming the record and field of every bad value).
//!
//! The generated bindings live in this file and are used only here and in `boundary`.

pub mod boundary;
pub mod mapping;
pub mod model;

#[allow(warnings)]
#[rustfmt::skip]
mod bindings {
    wit_bindgen::generate!({ path: "../wit", world: "ledgerlink:sync/plugin", generate_all });
}
