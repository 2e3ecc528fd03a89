//! Translation between the WIT bindings and `model`.
