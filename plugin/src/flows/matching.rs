//! How alike an account and a customer (or two records of one system) are: names without case,
//! punctuation or company suffixes, their similarity, a shared email domain or phone; and what
//! the matching ladder reports of a match: the rung it was found on and each candidate with its
//! score.

use crate::clients::salesforce_fields::QBO_CUSTOMER_ID;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A name without case, punctuation or company suffixes.
pub fn normalized(name: &str) -> String {
    const SUFFIXES: [&str; 8] = [
        "inc",
        "llc",
        "ltd",
        "co",
        "corp",
        "corporation",
        "gmbh",
        "plc",
    ];
    name.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty() && !SUFFIXES.contains(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// How alike two names are, from 0 to 1: Jaro-Winkler over the normalized names (it weighs a
/// shared beginning, which is where company names agree: "Northwind Traders" and "Northwind
/// Trading" score 0.93, "Acme" and "Apex" 0.67).
pub fn similarity(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(&normalized(a), &normalized(b))
}

/// The lower-cased domain of an email address.
pub fn email_domain(email: Option<&str>) -> Option<String> {
    email
        .and_then(|e| e.rsplit_once('@'))
        .map(|(_, d)| d.trim().to_lowercase())
        .filter(|d| !d.is_empty())
}

/// The digits of a phone number, when there are enough of them to tell two numbers apart.
pub fn phone_digits(phone: Option<&str>) -> Option<String> {
    let digits: String = phone?.chars().filter(char::is_ascii_digit).collect();
    (digits.len() >= 7).then_some(digits)
}

/// True when both addresses have the same domain.
pub fn same_domain(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((email_domain(a), email_domain(b)), (Some(x), Some(y)) if x == y)
}

/// True when both numbers have the same digits (seven or more).
pub fn same_phone(a: Option<&str>, b: Option<&str>) -> bool {
    matches!((phone_digits(a), phone_digits(b)), (Some(x), Some(y)) if x == y)
}

/// Where the ladder found an account's customer, top-down.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rung {
    /// The link stored when the account was last synced.
    StoredLink,
    /// A person's `review link` decision.
    ReviewDecision,
    /// The Account's `QBO_Customer_Id__c`.
    CustomerIdField,
    /// The customer's notes name the Account's Salesforce Id.
    NotedSalesforceId,
    /// The customer's DisplayName is the Account's name (any case).
    ExactName,
    /// The normalized names agree and so do the email domains.
    NameAndEmailDomain,
    /// The normalized names agree and so do the phone numbers.
    NameAndPhone,
    /// Only the names are alike (or agree without a shared email domain or phone): never
    /// linked without a person's decision.
    SimilarName,
}

impl fmt::Display for Rung {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rung::StoredLink => "stored link",
            Rung::ReviewDecision => "review decision",
            Rung::CustomerIdField => QBO_CUSTOMER_ID,
            Rung::NotedSalesforceId => "noted Salesforce Id",
            Rung::ExactName => "exact name",
            Rung::NameAndEmailDomain => "normalized name and email domain",
            Rung::NameAndPhone => "normalized name and phone",
            Rung::SimilarName => "similar name",
        })
    }
}

/// A customer the ladder found for an account.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Candidate {
    /// The QBO Customer Id.
    pub customer_id: String,
    /// Its DisplayName.
    pub name: String,
    /// How alike the account's and the customer's names are ([`similarity`]).
    pub score: f64,
    /// Where it was found.
    pub rung: Rung,
}

impl fmt::Display for Candidate {
    /// `58 "Acme Inc" (score 0.87, similar name)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {:?} (score {:.2}, {})",
            self.customer_id, self.name, self.score, self.rung
        )
    }
}

/// Candidates as one line: each as [`Candidate`] shows it, separated by "; ".
pub fn list(candidates: &[Candidate]) -> String {
    candidates
        .iter()
        .map(Candidate::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_compare_without_case_punctuation_or_company_suffixes() {
        assert_eq!(normalized("Granite, Inc."), "granite");
        assert_eq!(similarity("Granite Co.", "GRANITE INC"), 1.0);
        assert!(similarity("Northwind Traders", "Northwind Trading") > 0.9);
        assert!(similarity("Acme", "Apex") < 0.7);
    }

    #[test]
    fn a_shared_phone_needs_seven_digits_and_a_domain_ignores_case() {
        assert!(same_phone(Some("(415) 555-0100"), Some("415.555.0100")));
        assert!(!same_phone(Some("555"), Some("555")));
        assert!(same_domain(
            Some("ap@Acme.example"),
            Some("bob@acme.EXAMPLE")
        ));
        assert!(!same_domain(Some("ap"), Some("ap")));
    }

    #[test]
    fn a_candidate_shows_its_id_name_score_and_rung() {
        let c = Candidate {
            customer_id: "58".into(),
            name: "Acme \"West\"".into(),
            score: 0.8666,
            rung: Rung::SimilarName,
        };
        assert_eq!(
            list(&[c.clone(), c]),
            r#"58 "Acme \"West\"" (score 0.87, similar name); 58 "Acme \"West\"" (score 0.87, similar name)"#
        );
    }
}
