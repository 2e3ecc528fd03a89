//! A payment recorded through QBO's REST API, as a bookkeeper's entry would be: what the
//! webhook benchmarks make and then time until it reaches Salesforce, and what the multi-host
//! test pays with.

use serde_json::{json, Value};

/// Pays `invoice` (a QBO Invoice as QBO returns it) in full with one `POST /payment` to `url`
/// (`<base>/v3/company/<realm>/payment`).
pub fn pay_in_full(
    http: &reqwest::blocking::Client,
    url: &str,
    token: &str,
    invoice: &Value,
) -> anyhow::Result<()> {
    let answer = http
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json")
        .json(&json!({
            "CustomerRef": invoice["CustomerRef"],
            "TotalAmt": invoice["TotalAmt"],
            "Line": [{"Amount": invoice["TotalAmt"],
                      "LinkedTxn": [{"TxnId": invoice["Id"], "TxnType": "Invoice"}]}],
        }))
        .send()?;
    anyhow::ensure!(answer.status().is_success(), "payment: {}", answer.status());
    Ok(())
}
