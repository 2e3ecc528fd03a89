//! Every end-to-end test's company checks, when dropped, that the component called only paths
//! the real APIs have (`ledgerlink_tests::documented_paths`); this proves the check is wired.

use ledgerlink_emulators::RequestRecord;
use ledgerlink_tests::{company, report, small};
use serde_json::json;

#[test]
fn a_company_whose_component_called_an_invented_path_fails_its_test() {
    let (c, _db) = company(small());
    report(&c, "backfill", json!({}));
    // What the plugin once read: a change-event stream only the emulator served.
    c.sf.log().push(RequestRecord {
        method: "GET".into(),
        path: "/services/data/v61.0/ledgerlink/change-events".into(),
        query: None,
        status: 200,
        latency_us: 0,
    });
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(c)));
    let message = dropped.expect_err("the drop check fails the test");
    let text = message
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(
        text.contains("salesforce: GET /services/data/v61.0/ledgerlink/change-events"),
        "{text}"
    );
    assert!(!text.contains("query"), "real paths pass: {text}");
}
