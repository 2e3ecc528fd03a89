//! Prints, as one JSON object, what the native (non-Wasm) mapping code answers for every fixture
//! in `tests/fixtures/mapping/<function>/*.json`, keyed `<function>/<file>`.
//!
//! The hosts no one here wrote (the wasmtime CLI, Node through jco) are tested against this: the
//! component must give exactly the native JSON in them too, as it must in our own host
//! (`host/tests/all/component.rs`).
//!
//! ```sh
//! cargo run -q -p ledgerlink-tests --example mapping_fixture_results > results.json
//! ```

use serde_json::{Map, Value};
use std::path::Path;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/mapping");
    let mut results = Map::new();
    let mut functions: Vec<_> = std::fs::read_dir(&root)
        .expect("tests/fixtures/mapping")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .collect();
    functions.sort();
    for dir in functions {
        let function = dir.file_name().unwrap().to_string_lossy().into_owned();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            let fixture: Value =
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let result = ledgerlink_plugin::native::call_json(&function, &fixture["input"])
                .unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let name = file.file_name().unwrap().to_string_lossy();
            results.insert(format!("{function}/{name}"), result);
        }
    }
    println!("{}", Value::Object(results));
}
