//! A new user before go-live, from the command line against the emulators: `ledgerlink audit`
//! lists duplicates and an ambiguous match and writes nothing; `ledgerlink review` shows the
//! queued account and records a person's decision; the next `sync-accounts` applies it.

use ledgerlink::emulated_company::LocalCompany;
use ledgerlink_emulators::seed::SeedSpec;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{unthrottled, BIN};

const QBO_TOKEN_ENV: &str = "LL_AUDIT_QBO_TOKEN";
const SF_TOKEN_ENV: &str = "LL_AUDIT_SF_TOKEN";

fn write_config(dir: &Path, c: &LocalCompany) -> PathBuf {
    let path = dir.join("ledgerlink.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\npath = \"ledgerlink.db\"\n\n[[tenant]]\nid = \"acme\"\n\n[tenant.settings]\nrealm-id = \"{}\"\n{}",
            c.realm,
            c.connections_toml(QBO_TOKEN_ENV, SF_TOKEN_ENV)
        ),
    )
    .unwrap();
    path
}

fn ledgerlink(c: &LocalCompany, config: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--config")
        .arg(config)
        .env(QBO_TOKEN_ENV, c.qbo.issue_tokens(&c.realm).access_token)
        .env(SF_TOKEN_ENV, c.sf.issue_token())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

fn findings(text: &str) -> Vec<Value> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"));
    v["records"].as_array().unwrap().clone()
}

#[test]
fn the_audit_finds_what_to_fix_and_a_reviewed_account_is_linked_as_decided() {
    let c = crate::support::company(unthrottled(SeedSpec {
        accounts: 3,
        products: 2,
        opportunities: 0,
        closed_won_fraction: 0.0,
        lines_per_opportunity: 1,
        orders: 0,
        seed: 5,
    }));
    // Two QBO customers a bookkeeper keyed by hand, both close to one Salesforce account.
    let account =
        c.sf.insert("Account", json!({"Name": "Northwind Traders"}))
            .unwrap();
    let mut customers = Vec::new();
    for name in ["Northwind Traders Inc", "Northwind Traders LLC"] {
        let made = c
            .qbo
            .insert(&c.realm, "Customer", json!({"DisplayName": name}))
            .unwrap();
        customers.push(made["Id"].as_str().unwrap().to_string());
    }
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &c);
    let qbo_before = c.qbo.entities(&c.realm, "Customer").len();
    let northwinds = || {
        c.qbo
            .entities(&c.realm, "Customer")
            .iter()
            .filter(|x| {
                x["DisplayName"]
                    .as_str()
                    .unwrap_or("")
                    .starts_with("Northwind")
            })
            .count()
    };

    let (code, text) = ledgerlink(&c, &config, &["audit", "--json"]);
    assert_eq!(code, Some(1), "a finding needs a person: {text}");
    let audit = findings(&text);
    let ambiguous = audit
        .iter()
        .find(|f| f["code"] == "ambiguous" && f["record-id"] == account.as_str())
        .unwrap_or_else(|| panic!("the account is ambiguous: {audit:#?}"));
    for id in &customers {
        assert!(ambiguous["detail"].as_str().unwrap().contains(id.as_str()));
    }
    assert!(
        audit.iter().any(|f| f["code"] == "duplicate-qbo-customer"),
        "{audit:#?}"
    );
    // Read only: nothing created, nothing linked.
    assert_eq!(c.qbo.entities(&c.realm, "Customer").len(), qbo_before);
    assert!(c.sf.get("Account", &account).unwrap()["QBO_Customer_Id__c"].is_null());
    let (_, grouped) = ledgerlink(&c, &config, &["audit"]);
    assert!(grouped.contains("ambiguous (needs a person)"), "{grouped}");

    // The sync queues the account instead of guessing.
    let (_, synced) = ledgerlink(&c, &config, &["job", "sync-accounts", "--json"]);
    let pending = findings(&synced)
        .into_iter()
        .find(|r| r["record-id"] == account.as_str())
        .unwrap();
    assert_eq!(pending["code"], "pending-review", "{pending:#}");
    assert_eq!(
        northwinds(),
        2,
        "no customer created for the queued account"
    );
    let (code, listed) = ledgerlink(&c, &config, &["review", "list"]);
    assert_eq!(code, Some(0), "{listed}");
    assert!(
        listed.contains(&account) && listed.contains(&customers[1]),
        "{listed}"
    );

    // A person decides; the next sync applies it.
    let (code, decided) = ledgerlink(&c, &config, &["review", "link", &account, &customers[1]]);
    assert_eq!(code, Some(0), "{decided}");
    let (code, unknown) = ledgerlink(&c, &config, &["review", "link", &account, "999999"]);
    assert_eq!(code, Some(2), "{unknown}");
    assert!(unknown.contains("999999"), "{unknown}");
    let (code, synced) = ledgerlink(&c, &config, &["job", "sync-accounts"]);
    assert_eq!(code, Some(0), "{synced}");
    assert_eq!(
        c.sf.get("Account", &account).unwrap()["QBO_Customer_Id__c"],
        customers[1].as_str()
    );
    assert_eq!(northwinds(), 2);
    let (_, listed) = ledgerlink(&c, &config, &["review", "list"]);
    assert!(!listed.contains("pending-review"), "{listed}");
}
