//! The macros that write the field-by-field conversions between the WIT bindings and `model`.
//!
//! Most of the boundary moves a record across unchanged, field by field; written by hand, those
//! hundreds of lines hid the few conversions that matter (money and dates). Each macro takes the
//! list of every field (or variant) once and writes the conversion from it:
//!
//! - `convert_enum!`: `From` between two enums with the same variants (`=>` one way, `<=>`
//!   both ways); a variant's payload converts like a record field.
//! - `convert_record!`: `From` between two records (`=>` or `<=>`).
//! - `parse_record!`: [`FromWit`](super::FromWit) for a WIT record holding money, dates or
//!   nested such records, optionally `in` a record (the `record_id` its failures name).
//!
//! The source is destructured with every listed field (no `..`), the target built with every
//! listed field and the `match` lists every variant: a field or variant added to one side and not
//! the other fails to compile. Fields are converted in the order listed, which is the order their
//! failures are reported.
//!
//! How a field converts (`field: how`):
//!
//! - nothing: moved unchanged;
//! - `into`, `opt_into`, `all_into`: through `From`: the value, the `Option`'s value, each element;
//! - `money`, `opt_money`, `date`, `opt_date` (`model` -> WIT): written as text ([`super::text`]);
//! - `money "name"`, `opt_money "name"`, `date "name"`, `opt_date "name"` (WIT -> `model`): parsed
//!   through [`Parse`](super::Parse), a bad value recorded as field `name` (WIT kebab-case);
//! - `parse "name"`, `opt_parse "name"`, `parse_all "name"`: a nested record (its `Option`, each
//!   element of its list) through `FromWit`, its fields' paths under `name`;
//! - `(expression)`: anything irregular, written out where it is used.

/// Converts each element with `Into` (lists of records without money or dates).
pub(crate) fn convert_all<A, B: From<A>>(items: Vec<A>) -> Vec<B> {
    items.into_iter().map(B::from).collect()
}

/// One field's value (bound to `$value`) converted as `how` says; `$p` is the [`Parse`] context,
/// used only by the parsing kinds (the `From` macros pass `no_parse`, which names nothing, so a
/// parsing kind there fails to compile).
///
/// [`Parse`]: super::Parse
macro_rules! field_value {
    ($p:ident; $value:ident) => {
        $value
    };
    ($p:ident; $value:ident into) => {
        $value.into()
    };
    ($p:ident; $value:ident opt_into) => {
        $value.map(::core::convert::Into::into)
    };
    ($p:ident; $value:ident all_into) => {
        $crate::boundary::convert::convert_all($value)
    };
    ($p:ident; $value:ident money) => {
        $crate::boundary::text::money_text($value)
    };
    ($p:ident; $value:ident opt_money) => {
        $value.map($crate::boundary::text::money_text)
    };
    ($p:ident; $value:ident date) => {
        $crate::boundary::text::date_text($value)
    };
    ($p:ident; $value:ident opt_date) => {
        $value.map($crate::boundary::text::date_text)
    };
    ($p:ident; $value:ident money $name:literal) => {
        $p.money($name, &$value)
    };
    ($p:ident; $value:ident opt_money $name:literal) => {
        $p.opt_money($name, $value.as_deref())
    };
    ($p:ident; $value:ident date $name:literal) => {
        $p.date($name, &$value)
    };
    ($p:ident; $value:ident opt_date $name:literal) => {
        $p.opt_date($name, $value.as_deref())
    };
    ($p:ident; $value:ident parse $name:literal) => {
        $p.field($name, $value)
    };
    ($p:ident; $value:ident opt_parse $name:literal) => {
        $p.option($name, $value)
    };
    ($p:ident; $value:ident parse_all $name:literal) => {
        $p.list($name, $value)
    };
    ($p:ident; $value:ident ($($irregular:tt)*)) => {
        $($irregular)*
    };
}

/// `From` between two enums with the same variants: `Source => Target { A, B(value: into) }`
/// (`<=>` for both ways, when every payload converts both ways).
macro_rules! convert_enum {
    (
        $(#[$doc:meta])*
        $($a:ident)::+ <=> $($b:ident)::+ { $($variants:tt)* }
    ) => {
        $crate::boundary::convert::convert_enum! {
            $(#[$doc])* $($a)::+ => $($b)::+ { $($variants)* }
        }
        $crate::boundary::convert::convert_enum! {
            $(#[$doc])* $($b)::+ => $($a)::+ { $($variants)* }
        }
    };
    (
        $(#[$doc:meta])*
        $($source:ident)::+ => $($target:ident)::+ {
            $($variant:ident $(($value:ident $(: $how:tt)?))?),+ $(,)?
        }
    ) => {
        $(#[$doc])*
        impl ::core::convert::From<$($source)::+> for $($target)::+ {
            fn from(source: $($source)::+) -> Self {
                // An alias, so that each variant's pattern can name the source type.
                type Source = $($source)::+;
                match source {
                    $(
                        Source::$variant $(($value))? => Self::$variant $((
                            $crate::boundary::convert::field_value!(no_parse; $value $($how)?)
                        ))?,
                    )+
                }
            }
        }
    };
}

/// `From` between two records: `Source => Target { a, b: into, c: money }` (`<=>` for both ways,
/// when every field converts both ways).
macro_rules! convert_record {
    (
        $(#[$doc:meta])*
        $($a:ident)::+ <=> $($b:ident)::+ { $($fields:tt)* }
    ) => {
        $crate::boundary::convert::convert_record! {
            $(#[$doc])* $($a)::+ => $($b)::+ { $($fields)* }
        }
        $crate::boundary::convert::convert_record! {
            $(#[$doc])* $($b)::+ => $($a)::+ { $($fields)* }
        }
    };
    (
        $(#[$doc:meta])*
        $($source:ident)::+ => $($target:ident)::+ {
            $($field:ident $(: $how:tt)?),* $(,)?
        }
    ) => {
        $(#[$doc])*
        impl ::core::convert::From<$($source)::+> for $($target)::+ {
            fn from(source: $($source)::+) -> Self {
                let $($source)::+ { $($field),* } = source;
                Self {
                    $($field: $crate::boundary::convert::field_value!(no_parse; $field $($how)?)),*
                }
            }
        }
    };
}

/// [`FromWit`](super::FromWit) for a WIT record:
/// `wit::Source => Target { a, b: money "b", c: parse_all "c" } in record_id("Kind", &a)`.
/// Without `in`, failures name the enclosing record.
macro_rules! parse_record {
    (@record) => {
        None
    };
    (@record $record:expr) => {
        $record
    };
    (
        $(#[$doc:meta])*
        $($source:ident)::+ => $target:ident {
            $($field:ident $(: $how:tt $($name:literal)?)?),* $(,)?
        }
        $(in $record:expr)?
    ) => {
        $(#[$doc])*
        impl $crate::boundary::parse::FromWit<$($source)::+> for $target {
            fn from_wit(
                source: $($source)::+,
                p: &mut $crate::boundary::parse::Parse,
            ) -> Self {
                let $($source)::+ { $($field),* } = source;
                let record = $crate::boundary::convert::parse_record!(@record $($record)?);
                p.record(record, |p| Self {
                    $($field: $crate::boundary::convert::field_value!(
                        p; $field $($how $($name)?)?
                    )),*
                })
            }
        }
    };
}

pub(crate) use {convert_enum, convert_record, field_value, parse_record};
