//! Test support: every mapping function's JSON fixtures (`tests/fixtures/mapping/<function>/*.json`,
//! `{"input": ..., "expect": "ok"|"error"}`) must deserialize and give the declared outcome.
//! The component tests in `host/tests/all/component.rs` run the same files through wasmtime.

use crate::model::MappingError;
use serde::de::DeserializeOwned;
use std::fmt::Debug;
use std::path::Path;

/// Runs `function`'s fixtures through `f` and checks each outcome; at least four must exist.
pub(crate) fn assert_declared_outcomes<I: DeserializeOwned, O: Debug>(
    function: &str,
    f: impl Fn(&I) -> Result<O, MappingError>,
) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures/mapping")
        .join(function);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "json"))
        .collect();
    paths.sort();
    assert!(
        paths.len() >= 4,
        "only {} fixtures in {}",
        paths.len(),
        dir.display()
    );
    for path in paths {
        let name = path.display();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{name}: {e}"));
        let fixture: serde_json::Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let input: I = serde_json::from_value(fixture["input"].clone())
            .unwrap_or_else(|e| panic!("{name} does not deserialize: {e}"));
        let outcome = f(&input);
        match fixture["expect"].as_str() {
            Some("ok") => assert!(outcome.is_ok(), "{name}: {outcome:?}"),
            Some("error") => assert!(outcome.is_err(), "{name}: {outcome:?}"),
            other => panic!("{name}: expect is {other:?}; it must be \"ok\" or \"error\""),
        }
    }
}
