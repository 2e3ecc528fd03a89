//! The storage conformance suite's two stores: a test written once runs on SQLite and on
//! PostgreSQL ([`each_backend`]), so both backends are held to the same behaviour.

use super::Database;

/// A fresh, empty store of each backend: an in-memory SQLite store, and a new database on the
/// process's throwaway PostgreSQL server ([`super::throwaway::Cluster`]).
pub fn backends(test: &str) -> Vec<Database> {
    let url = super::throwaway::Cluster::shared().fresh_database(test);
    vec![
        Database::in_memory().expect("an in-memory SQLite store"),
        Database::connect(&url, None).expect("a PostgreSQL store"),
    ]
}

/// Runs `test` on a fresh store of each backend; a failure names the backend.
pub fn each_backend(name: &str, test: impl Fn(Database)) {
    for db in backends(name) {
        let kind = db.kind();
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(db)));
        if let Err(panic) = outcome {
            eprintln!("{name}: failed on the {kind} backend");
            std::panic::resume_unwind(panic);
        }
    }
}
