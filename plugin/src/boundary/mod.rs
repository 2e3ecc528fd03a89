//! Translation between the WIT bindings and `model`.
//!
//! The WIT contract carries money as decimal text and dates as `YYYY-MM-DD` text; `model` and
//! `mapping` use `Decimal` and `NaiveDate`. This module is the only place that crosses between
//! the two:
//!
//! - [`parse`]: the [`Parse`] context. It parses every money and date field of an input, and for
//!   each bad value records a [`FieldError`](crate::model::FieldError) naming the record and the
//!   field path (`opportunity.line-items[3].unit-price`, WIT kebab-case names, indices from 0).
//!   It does not stop at the first bad value: an input with several bad fields is refused once,
//!   with `invalid-input` and every reason.
//! - [`records`]: the shared records (`model`): addresses, references, the Salesforce and QBO
//!   records, the field rules; each in the direction(s) the contract uses it.
//! - [`inputs`]: each mapping input, WIT -> `mapping` (fallible, through [`Parse`]).
//! - [`outputs`]: each mapping output and `mapping-error`, `mapping` -> WIT (infallible).
//! - [`text`]: money and dates as the contract writes them (money with `Decimal::to_string`,
//!   which keeps its scale, dates as `%Y-%m-%d`).
//! - [`convert`]: the macros that write the field-by-field conversions from a list of every field
//!   (or variant), so that only money, dates and the irregular cases are written out by hand.
//!
//! ## Which record an error names
//!
//! The nearest enclosing record that has an id: `Opportunity <id>`, `Account <id>`,
//! `Customer <id>`, `Payment <id>`, `Order <id>`, `Invoice <id>` (also an invoice ledger or an
//! open invoice), `CreditMemo <id>`, `Product <id>`. Lines and items belong to their parent
//! (`Opportunity <id>`, `Order <id>`); a price-book entry and an existing QBO item belong to the
//! product. The fields of an input outside every record (settings, `reversal-date`) belong to the
//! input's main record (the Opportunity of `build-invoice`, the Order of
//! `build-journal-entry`, ...); when there is none (`age-invoices`, `reconcile`) or its id is
//! blank, the record is the function name. The field path always starts at the input's root.

pub mod convert;
pub mod inputs;
pub mod outputs;
pub mod parse;
pub mod records;
pub mod text;

pub use parse::{record_id, FromWit, Parse};

use crate::bindings::ledgerlink::sync::types as wit;
use crate::model::MappingError;

/// Runs one mapping function across the boundary: parses the WIT input (refusing it with every
/// bad field), calls `function` on the model input and converts its answer back to WIT.
///
/// `name` is the WIT function name (`build-invoice`); errors outside any record name it.
pub(crate) fn call<W, I, O, T>(
    name: &str,
    input: W,
    function: impl FnOnce(&I) -> Result<O, MappingError>,
) -> Result<T, wit::MappingError>
where
    I: FromWit<W>,
    T: From<O>,
{
    let input = Parse::input::<W, I>(name, input).map_err(wit::MappingError::from)?;
    function(&input)
        .map(T::from)
        .map_err(wit::MappingError::from)
}
