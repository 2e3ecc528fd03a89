//! `build-journal-entry`: Salesforce Order -> balanced QBO JournalEntry (or its reversal).
//!
//! The accounting rules, each a named function below:
//!
//! - **Item amount** (`item_amount`): an item's `total-price` when Salesforce gave one, else
//!   `quantity x unit-price` rounded half up to the cent. A `total-price` more than 0.01 away
//!   from that product, or with sub-cent digits, is bad data and refused. Negative quantities
//!   and prices are refused; zero-amount items post nothing and need no rule.
//! - **Rule matching** (`matching_rule`): the first rule whose `product-code` equals the item's
//!   (trimmed, exact: codes are identifiers); else the first rule *without* a product code
//!   whose `product-family` equals the item's, ignoring case; else the first fallback rule
//!   (neither set). No match is a `rule-violation` naming `items[i]`, every such item reported.
//! - **Splits** (`split_amounts`): a rule's splits must each be above 0 and at most 100 percent
//!   and add up to exactly 100. Each split gets `amount x percent / 100` rounded half up to the
//!   cent; the rounding residue (amount minus the rounded splits) goes to the split with the
//!   largest percent, the first on ties. (When a tiny amount is split many ways the residue
//!   can be negative and larger than that split's share; it is then taken from the splits in
//!   the same order, never making a split negative.) A split's account, department and class
//!   default to the rule's. Every rule is validated, matched or not: a broken rule is a
//!   configuration error to fix at once.
//! - **Credits**: one credit line per (account, department, class), by id, summed across items,
//!   in order of first appearance; targets that sum to zero get no line.
//! - **Debit**: one line to `receivable-account` for the order total, carrying the `customer`
//!   (QBO needs the entity on Accounts Receivable lines; when the flow posts to an unbilled
//!   revenue account it may leave the customer out), described `Order {number or id}`.
//! - **Order total**: an order with no items or whose items total 0 is refused
//!   (`invalid-input`); `total-amount`, when given, must equal the items' total exactly
//!   (`rule-violation`).
//! - **Balance** (`check_balanced`): debits must equal credits exactly, checked before
//!   returning; a failure would be a bug and is refused rather than posted.
//! - **Reversal** (a cancelled order): the same lines in the same order with debit and credit
//!   swapped, dated `reversal-date` (default: the effective date), `DocNumber` = the original's
//!   + `-R`, and ` (reversal)` appended to the private note.
//! - **Header**: `DocNumber` = the order number cut to QBO's 21 characters (19 before the `-R`
//!   of a reversal, so it still fits), none without an order number; `PrivateNote` =
//!   `Salesforce Order {id}`.
//!
//! Amounts are in the home currency and posted in cents. Malformed input is reported first
//! (`invalid-input`, every problem at once), rule violations after. Amounts beyond 10^15 are
//! refused so that exact arithmetic can never overflow.

use super::text::{clean, format_amount, truncate_chars};
use crate::model::money::round_half_up;
use crate::model::money::{out_of_range, MAX_AMOUNT};
use crate::model::{
    ErrorKind, FieldError, JournalLine, MappingError, PostingType, QboJournalEntry, Reference,
    SfOrder, SfOrderItem,
};
use chrono::NaiveDate;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// A share of an allocation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AllocationSplit {
    pub percent: Decimal,
    pub account: Option<Reference>,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
}

/// Where an order item's revenue goes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct AllocationRule {
    pub product_code: Option<String>,
    pub product_family: Option<String>,
    pub account: Reference,
    pub department: Option<Reference>,
    pub class: Option<Reference>,
    pub splits: Vec<AllocationSplit>,
}

/// Input of `build-journal-entry`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[allow(missing_docs)]
pub struct JournalInput {
    pub order: SfOrder,
    pub rules: Vec<AllocationRule>,
    pub receivable_account: Reference,
    pub customer: Option<Reference>,
    pub reversal: bool,
    pub reversal_date: Option<NaiveDate>,
}

/// Journal amounts are posted in cents.
const CENTS: u32 = 2;
/// The most a `TotalPrice` may differ from `quantity x unit price` before it is refused.
const TOTAL_PRICE_TOLERANCE: Decimal = Decimal::from_parts(1, 0, 0, false, 2);
/// QBO's limit on `DocNumber`.
const DOC_NUMBER_MAX: usize = 21;
/// Appended to the reversing entry's `DocNumber`.
const REVERSAL_SUFFIX: &str = "-R";

/// Builds the journal entry for an activated (or cancelled) order.
pub fn build_journal_entry(input: &JournalInput) -> Result<QboJournalEntry, MappingError> {
    let order = &input.order;
    let record = format!("Order {}", order.id);

    // Malformed input first, every problem at once.
    let mut problems = Vec::new();
    if order.id.trim().is_empty() {
        problems.push(FieldError::new(&record, "id", "the order id is empty"));
    }
    if input.receivable_account.value.trim().is_empty() {
        problems.push(FieldError::new(
            &record,
            "receivable-account",
            "names no account; the debit side needs one",
        ));
    }
    if order.items.is_empty() {
        problems.push(FieldError::new(
            &record,
            "items",
            "the order has no items; there is nothing to post",
        ));
    }
    let mut amounts = Vec::with_capacity(order.items.len());
    for (i, item) in order.items.iter().enumerate() {
        match item_amount(item) {
            Ok(amount) => amounts.push(amount),
            Err(item_problems) => {
                problems.extend(item_problems.into_iter().map(|(field, reason)| {
                    FieldError::new(
                        &record,
                        format!("items[{i}].{field}"),
                        format!("OrderItem {}: {reason}", item.id),
                    )
                }))
            }
        }
    }
    if let Some(total) = order.total_amount {
        if total.abs() > MAX_AMOUNT {
            problems.push(out_of_range(&record, "total-amount", total));
        } else if total < Decimal::ZERO {
            problems.push(FieldError::new(
                &record,
                "total-amount",
                format!("is {total}; an order total cannot be negative"),
            ));
        }
    }
    for (r, rule) in input.rules.iter().enumerate() {
        problems.extend(malformed_rule(rule, r, &record));
    }
    let items_total: Decimal = amounts.iter().copied().sum();
    if problems.is_empty() && items_total.is_zero() {
        problems.push(FieldError::new(
            &record,
            "items",
            "the items total 0.00; there is nothing to post",
        ));
    }
    if !problems.is_empty() {
        return Err(MappingError::new(ErrorKind::InvalidInput, problems));
    }

    // Then the accounting rules.
    let mut violations = Vec::new();
    for (r, rule) in input.rules.iter().enumerate() {
        if let Some(reason) = splits_do_not_add_up(rule) {
            violations.push(FieldError::new(
                &record,
                format!("rules[{r}].splits"),
                reason,
            ));
        }
    }
    let mut matched = Vec::with_capacity(order.items.len());
    for (i, (item, amount)) in order.items.iter().zip(&amounts).enumerate() {
        if amount.is_zero() {
            continue;
        }
        match matching_rule(item, &input.rules) {
            Some(rule) => matched.push((rule, *amount)),
            None => violations.push(FieldError::new(
                &record,
                format!("items[{i}]"),
                format!(
                    "OrderItem {} ({}) matches no allocation rule by product code or family, and \
                     there is no fallback rule (one with neither set)",
                    item.id,
                    describe_product(item)
                ),
            )),
        }
    }
    if let Some(total) = order.total_amount {
        if total != items_total {
            violations.push(FieldError::new(
                &record,
                "total-amount",
                format!(
                    "is {} but the items add up to {}; the order total must equal its items",
                    format_amount(total),
                    format_amount(items_total)
                ),
            ));
        }
    }
    if !violations.is_empty() {
        return Err(MappingError::new(ErrorKind::RuleViolation, violations));
    }

    let description = format!(
        "Order {}",
        clean(order.order_number.as_deref()).unwrap_or_else(|| order.id.clone())
    );
    let mut lines = vec![JournalLine {
        description: Some(description.clone()),
        amount: round_half_up(items_total, CENTS),
        posting_type: PostingType::Debit,
        account: input.receivable_account.clone(),
        department: None,
        class: None,
        customer: input.customer.clone(),
    }];
    lines.extend(credit_lines(&matched, &description));

    let total = check_balanced(&lines)
        .map_err(|reason| MappingError::one(ErrorKind::RuleViolation, &record, "lines", reason))?;

    let number = clean(order.order_number.as_deref());
    let entry = if input.reversal {
        QboJournalEntry {
            doc_number: number.map(|n| {
                let kept = DOC_NUMBER_MAX - REVERSAL_SUFFIX.len();
                format!("{}{REVERSAL_SUFFIX}", truncate_chars(&n, kept))
            }),
            txn_date: input.reversal_date.unwrap_or(order.effective_date),
            private_note: Some(format!("Salesforce Order {} (reversal)", order.id)),
            lines: reverse_lines(lines),
            total,
        }
    } else {
        QboJournalEntry {
            doc_number: number.map(|n| truncate_chars(&n, DOC_NUMBER_MAX)),
            txn_date: order.effective_date,
            private_note: Some(format!("Salesforce Order {}", order.id)),
            lines,
            total,
        }
    };
    Ok(entry)
}

/// Rule "item amount": `total-price` when given, else `quantity x unit-price` rounded half up
/// to the cent. Returns every problem as (field, reason).
fn item_amount(item: &SfOrderItem) -> Result<Decimal, Vec<(&'static str, String)>> {
    let mut problems = Vec::new();
    for (field, value) in [("quantity", item.quantity), ("unit-price", item.unit_price)] {
        if value.abs() > MAX_AMOUNT {
            problems.push((field, format!("{value} is out of range")));
        } else if value < Decimal::ZERO {
            problems.push((field, format!("is {value}; it cannot be negative")));
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let product = match item.quantity.checked_mul(item.unit_price) {
        Some(product) if product <= MAX_AMOUNT => round_half_up(product, CENTS),
        _ => {
            return Err(vec![(
                "quantity",
                format!(
                    "quantity {} x unit price {} is out of range",
                    item.quantity, item.unit_price
                ),
            )])
        }
    };
    let Some(total_price) = item.total_price else {
        return Ok(product);
    };
    if total_price.abs() > MAX_AMOUNT {
        problems.push(("total-price", format!("{total_price} is out of range")));
    } else if total_price < Decimal::ZERO {
        problems.push((
            "total-price",
            format!("is {total_price}; it cannot be negative"),
        ));
    } else if total_price.normalize().scale() > CENTS {
        problems.push((
            "total-price",
            format!("is {total_price}; an amount to post cannot have sub-cent digits"),
        ));
    } else if (total_price - product).abs() > TOTAL_PRICE_TOLERANCE {
        problems.push((
            "total-price",
            format!(
                "is {} but quantity {} x unit price {} is {}; the item's figures disagree",
                format_amount(total_price),
                item.quantity,
                item.unit_price,
                format_amount(product)
            ),
        ));
    }
    if problems.is_empty() {
        Ok(round_half_up(total_price, CENTS))
    } else {
        Err(problems)
    }
}

/// Rule "matching": product code first, then family (ignoring case) among rules without a code,
/// then the first fallback rule (neither set).
fn matching_rule<'r>(
    item: &SfOrderItem,
    rules: &'r [AllocationRule],
) -> Option<&'r AllocationRule> {
    let code = clean(item.product_code.as_deref());
    let family = clean(item.product_family.as_deref()).map(|f| f.to_lowercase());
    let rule_code = |rule: &AllocationRule| clean(rule.product_code.as_deref());
    let rule_family =
        |rule: &AllocationRule| clean(rule.product_family.as_deref()).map(|f| f.to_lowercase());
    let by_code = code.as_ref().and_then(|code| {
        rules
            .iter()
            .find(|rule| rule_code(rule).as_ref() == Some(code))
    });
    let by_family = || {
        family.as_ref().and_then(|family| {
            rules.iter().find(|rule| {
                rule_code(rule).is_none() && rule_family(rule).as_ref() == Some(family)
            })
        })
    };
    let fallback = || {
        rules
            .iter()
            .find(|rule| rule_code(rule).is_none() && rule_family(rule).is_none())
    };
    by_code.or_else(by_family).or_else(fallback)
}

/// Rule "split residue": each split gets `amount x percent / 100` rounded half up to the cent;
/// the residue goes to the split with the largest percent (the first on ties). A negative
/// residue larger than that split's share is taken from the next largest, and so on, so no
/// split goes negative. The result always adds up to `amount` exactly.
fn split_amounts(amount: Decimal, percents: &[Decimal]) -> Vec<Decimal> {
    let hundred = Decimal::ONE_HUNDRED;
    let mut shares: Vec<Decimal> = percents
        .iter()
        .map(|percent| round_half_up(amount * percent / hundred, CENTS))
        .collect();
    let residue = amount - shares.iter().copied().sum::<Decimal>();
    // Largest percent first; a stable sort keeps the first of equal percents first.
    let mut order: Vec<usize> = (0..percents.len()).collect();
    order.sort_by(|&a, &b| percents.get(b).cmp(&percents.get(a)));
    if residue >= Decimal::ZERO {
        if let Some(share) = order.first().and_then(|&i| shares.get_mut(i)) {
            *share += residue;
        }
    } else {
        let mut owed = -residue;
        for i in order {
            if let Some(share) = shares.get_mut(i) {
                let taken = owed.min(*share);
                *share -= taken;
                owed -= taken;
            }
        }
    }
    shares
}

/// Where an amount matched to `rule` goes: (percent, account, department, class) per target.
fn targets(rule: &AllocationRule) -> Vec<(Decimal, Target)> {
    if rule.splits.is_empty() {
        return vec![(
            Decimal::ONE_HUNDRED,
            Target {
                account: rule.account.clone(),
                department: rule.department.clone(),
                class: rule.class.clone(),
            },
        )];
    }
    rule.splits
        .iter()
        .map(|split| {
            (
                split.percent,
                Target {
                    account: split
                        .account
                        .clone()
                        .unwrap_or_else(|| rule.account.clone()),
                    department: split.department.clone().or_else(|| rule.department.clone()),
                    class: split.class.clone().or_else(|| rule.class.clone()),
                },
            )
        })
        .collect()
}

/// An allocation target: one credit line.
struct Target {
    account: Reference,
    department: Option<Reference>,
    class: Option<Reference>,
}

impl Target {
    /// Targets are the same line when their ids are the same (names are only labels).
    fn key(&self) -> (String, Option<String>, Option<String>) {
        (
            self.account.value.clone(),
            self.department.as_ref().map(|d| d.value.clone()),
            self.class.as_ref().map(|c| c.value.clone()),
        )
    }
}

/// Rule "credits": one line per target, summed across items in order of first appearance.
fn credit_lines(matched: &[(&AllocationRule, Decimal)], description: &str) -> Vec<JournalLine> {
    let mut lines: Vec<JournalLine> = Vec::new();
    let mut keys: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    for (rule, amount) in matched {
        let targets = targets(rule);
        let percents: Vec<Decimal> = targets.iter().map(|(percent, _)| *percent).collect();
        for ((_, target), share) in targets.into_iter().zip(split_amounts(*amount, &percents)) {
            let key = target.key();
            match keys
                .iter()
                .position(|k| *k == key)
                .and_then(|p| lines.get_mut(p))
            {
                Some(line) => line.amount += share,
                None => {
                    keys.push(key);
                    lines.push(JournalLine {
                        description: Some(description.to_string()),
                        amount: share,
                        posting_type: PostingType::Credit,
                        account: target.account,
                        department: target.department,
                        class: target.class,
                        customer: None,
                    });
                }
            }
        }
    }
    lines.retain(|line| !line.amount.is_zero());
    lines
}

/// Rule "balance": at least one debit and one credit, and debits equal credits exactly.
/// Returns the total.
fn check_balanced(lines: &[JournalLine]) -> Result<Decimal, String> {
    let side = |posting: PostingType| -> Decimal {
        lines
            .iter()
            .filter(|line| line.posting_type == posting)
            .map(|line| line.amount)
            .sum()
    };
    let (debits, credits) = (side(PostingType::Debit), side(PostingType::Credit));
    let has = |posting: PostingType| lines.iter().any(|line| line.posting_type == posting);
    if !has(PostingType::Debit) || !has(PostingType::Credit) {
        return Err("a journal entry needs at least one debit and one credit line".into());
    }
    if let Some(line) = lines.iter().find(|line| line.amount <= Decimal::ZERO) {
        return Err(format!(
            "a line to account {} has amount {}; journal amounts must be positive",
            line.account.value, line.amount
        ));
    }
    if debits != credits {
        return Err(format!(
            "debits {} do not equal credits {}; the entry would not balance",
            format_amount(debits),
            format_amount(credits)
        ));
    }
    Ok(debits)
}

/// Rule "reversal": the same lines, in the same order, debit and credit swapped.
fn reverse_lines(lines: Vec<JournalLine>) -> Vec<JournalLine> {
    lines
        .into_iter()
        .map(|line| JournalLine {
            posting_type: match line.posting_type {
                PostingType::Debit => PostingType::Credit,
                PostingType::Credit => PostingType::Debit,
            },
            ..line
        })
        .collect()
}

/// The malformed fields of one rule (`invalid-input`).
fn malformed_rule(rule: &AllocationRule, r: usize, record: &str) -> Vec<FieldError> {
    let mut problems = Vec::new();
    if rule.account.value.trim().is_empty() {
        problems.push(FieldError::new(
            record,
            format!("rules[{r}].account"),
            "names no account",
        ));
    }
    for (s, split) in rule.splits.iter().enumerate() {
        if split.percent <= Decimal::ZERO || split.percent > Decimal::ONE_HUNDRED {
            problems.push(FieldError::new(
                record,
                format!("rules[{r}].splits[{s}].percent"),
                format!(
                    "is {}; a split must be above 0 and at most 100 percent",
                    split.percent
                ),
            ));
        }
        if split
            .account
            .as_ref()
            .is_some_and(|a| a.value.trim().is_empty())
        {
            problems.push(FieldError::new(
                record,
                format!("rules[{r}].splits[{s}].account"),
                "names no account",
            ));
        }
    }
    problems
}

/// Rule "splits add up to 100": the reason when a rule's splits do not.
fn splits_do_not_add_up(rule: &AllocationRule) -> Option<String> {
    if rule.splits.is_empty() {
        return None;
    }
    let sum: Decimal = rule.splits.iter().map(|split| split.percent).sum();
    (sum != Decimal::ONE_HUNDRED).then(|| {
        format!(
            "the splits of the rule for {} add up to {}%; they must add up to exactly 100%",
            describe_rule(rule),
            sum.normalize()
        )
    })
}

fn describe_rule(rule: &AllocationRule) -> String {
    match (
        clean(rule.product_code.as_deref()),
        clean(rule.product_family.as_deref()),
    ) {
        (Some(code), _) => format!("product code {code}"),
        (None, Some(family)) => format!("product family {family}"),
        (None, None) => "everything else (the fallback rule)".into(),
    }
}

fn describe_product(item: &SfOrderItem) -> String {
    let code = clean(item.product_code.as_deref()).unwrap_or_else(|| "none".into());
    let family = clean(item.product_family.as_deref()).unwrap_or_else(|| "none".into());
    format!("product code {code}, family {family}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;
    use std::collections::BTreeMap;

    fn date(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    fn item(
        id: &str,
        code: Option<&str>,
        family: Option<&str>,
        qty: Decimal,
        price: Decimal,
    ) -> SfOrderItem {
        SfOrderItem {
            id: id.into(),
            product_id: None,
            product_code: code.map(Into::into),
            product_family: family.map(Into::into),
            description: None,
            quantity: qty,
            unit_price: price,
            total_price: None,
        }
    }

    fn rule(code: Option<&str>, family: Option<&str>, account: &str) -> AllocationRule {
        AllocationRule {
            product_code: code.map(Into::into),
            product_family: family.map(Into::into),
            account: Reference::named(account, format!("Revenue {account}")),
            department: None,
            class: None,
            splits: vec![],
        }
    }

    fn split(percent: Decimal, department: &str) -> AllocationSplit {
        AllocationSplit {
            percent,
            account: None,
            department: Some(Reference::id(department)),
            class: None,
        }
    }

    fn input(items: Vec<SfOrderItem>, rules: Vec<AllocationRule>) -> JournalInput {
        JournalInput {
            order: SfOrder {
                id: "8015e00000XyZaBAAV".into(),
                order_number: Some("00000107".into()),
                account_id: None,
                effective_date: date("2024-03-15"),
                status: "Activated".into(),
                total_amount: None,
                items,
            },
            rules,
            receivable_account: Reference::named("4", "Accounts Receivable"),
            customer: Some(Reference::named("58", "Acme Corp")),
            reversal: false,
            reversal_date: None,
        }
    }

    fn credits(entry: &QboJournalEntry) -> Vec<(String, Option<String>, Decimal)> {
        entry
            .lines
            .iter()
            .filter(|l| l.posting_type == PostingType::Credit)
            .map(|l| {
                (
                    l.account.value.clone(),
                    l.department.as_ref().map(|d| d.value.clone()),
                    l.amount,
                )
            })
            .collect()
    }

    #[test]
    fn item_amount_is_quantity_times_unit_price_rounded_half_up() {
        let item = item("802A", None, None, dec!(3), dec!(3.335));
        assert_eq!(item_amount(&item).unwrap(), dec!(10.01)); // 10.005 -> 10.01
        assert_eq!(item_amount(&item).unwrap().to_string(), "10.01");
    }

    #[test]
    fn total_price_is_used_when_within_a_cent_of_the_product() {
        let mut item = item("802A", None, None, dec!(3), dec!(3.335));
        item.total_price = Some(dec!(10.00));
        assert_eq!(item_amount(&item).unwrap(), dec!(10.00));
    }

    #[test]
    fn total_price_far_from_the_product_is_refused_naming_the_item() {
        let mut bad = item("802B", Some("A"), None, dec!(2), dec!(10));
        bad.total_price = Some(dec!(25.00));
        let err = build_journal_entry(&input(vec![bad], vec![rule(None, None, "79")])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].record_id, "Order 8015e00000XyZaBAAV");
        assert_eq!(err.errors[0].field, "items[0].total-price");
        assert!(
            err.errors[0].reason.contains("802B"),
            "{}",
            err.errors[0].reason
        );
        assert!(
            err.errors[0].reason.contains("20.00"),
            "{}",
            err.errors[0].reason
        );
    }

    #[test]
    fn negative_quantities_and_prices_are_refused() {
        let items = vec![
            item("802A", None, None, dec!(-1), dec!(10)),
            item("802B", None, None, dec!(1), dec!(-10)),
        ];
        let err = build_journal_entry(&input(items, vec![rule(None, None, "79")])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["items[0].quantity", "items[1].unit-price"]);
    }

    #[test]
    fn product_code_beats_family_beats_fallback() {
        let rules = vec![
            rule(None, None, "fallback"),
            rule(None, Some("Hardware"), "family"),
            rule(Some("SKU-1"), None, "code"),
        ];
        let coded = item("1", Some("SKU-1"), Some("Hardware"), dec!(1), dec!(1));
        let family = item("2", Some("SKU-2"), Some("hardware"), dec!(1), dec!(1));
        let other = item("3", Some("SKU-3"), Some("Services"), dec!(1), dec!(1));
        let account = |i: &SfOrderItem| matching_rule(i, &rules).map(|r| r.account.value.clone());
        assert_eq!(account(&coded).as_deref(), Some("code"));
        assert_eq!(
            account(&family).as_deref(),
            Some("family"),
            "families match ignoring case"
        );
        assert_eq!(account(&other).as_deref(), Some("fallback"));
    }

    #[test]
    fn item_without_a_rule_is_a_rule_violation_naming_every_such_item() {
        let items = vec![
            item("802A", Some("SKU-9"), Some("Gadgets"), dec!(1), dec!(5)),
            item("802B", Some("SKU-1"), None, dec!(1), dec!(5)),
            item("802C", None, None, dec!(1), dec!(5)),
        ];
        let err =
            build_journal_entry(&input(items, vec![rule(Some("SKU-1"), None, "79")])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::RuleViolation);
        let fields: Vec<_> = err.errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["items[0]", "items[2]"]);
        assert!(err.errors[0].reason.contains("802A"));
        assert!(err.errors[0].reason.contains("SKU-9"));
        assert!(err.errors[0].reason.contains("Gadgets"));
    }

    #[test]
    fn residue_goes_to_largest_split() {
        let percents = [dec!(33.3333), dec!(33.3333), dec!(33.3334)];
        assert_eq!(
            split_amounts(dec!(100.00), &percents),
            [dec!(33.33), dec!(33.33), dec!(33.34)]
        );
        // Through the whole mapping: 100.00 split three ways balances exactly.
        let mut three_ways = rule(None, None, "79");
        three_ways.splits = percents
            .iter()
            .zip(["D1", "D2", "D3"])
            .map(|(p, d)| split(*p, d))
            .collect();
        let entry = build_journal_entry(&input(
            vec![item("1", None, None, dec!(1), dec!(100))],
            vec![three_ways],
        ))
        .unwrap();
        let amounts: Vec<_> = credits(&entry).into_iter().map(|(_, _, a)| a).collect();
        assert_eq!(amounts, [dec!(33.33), dec!(33.33), dec!(33.34)]);
        assert_eq!(entry.total, dec!(100.00));
    }

    #[test]
    fn residue_goes_to_the_first_of_equal_largest_splits() {
        // 0.05 half and half: 0.025 rounds up to 0.03 twice, 0.01 too much, taken from the first.
        assert_eq!(
            split_amounts(dec!(0.05), &[dec!(50), dec!(50)]),
            [dec!(0.02), dec!(0.03)]
        );
        // 10.00 in 3 ways 40/30/30: 4.00, 3.00, 3.00, no residue.
        assert_eq!(
            split_amounts(dec!(10.00), &[dec!(30), dec!(40), dec!(30)]),
            [dec!(3.00), dec!(4.00), dec!(3.00)]
        );
        // 0.10 in 3 ways 30/40/30: 0.03, 0.04, 0.03 exact; 0.11 leaves 0.01 for the 40 %.
        assert_eq!(
            split_amounts(dec!(0.11), &[dec!(30), dec!(40), dec!(30)]),
            [dec!(0.03), dec!(0.05), dec!(0.03)]
        );
    }

    #[test]
    fn residue_never_makes_a_split_negative() {
        let shares = split_amounts(dec!(0.05), &[dec!(10); 10]);
        assert!(shares.iter().all(|s| *s >= Decimal::ZERO), "{shares:?}");
        assert_eq!(shares.iter().copied().sum::<Decimal>(), dec!(0.05));
    }

    #[test]
    fn splits_must_add_up_to_exactly_100() {
        let mut bad = rule(Some("X"), None, "79");
        bad.splits = vec![split(dec!(50), "D1"), split(dec!(49.99), "D2")];
        let err = build_journal_entry(&input(
            vec![item("1", None, None, dec!(1), dec!(10))],
            vec![rule(None, None, "80"), bad],
        ))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::RuleViolation);
        assert_eq!(err.errors[0].field, "rules[1].splits");
        assert!(
            err.errors[0].reason.contains("99.99"),
            "{}",
            err.errors[0].reason
        );
    }

    #[test]
    fn split_percent_must_be_above_zero() {
        let mut bad = rule(None, None, "79");
        bad.splits = vec![split(dec!(100), "D1"), split(dec!(0), "D2")];
        let err = build_journal_entry(&input(
            vec![item("1", None, None, dec!(1), dec!(10))],
            vec![bad],
        ))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].field, "rules[0].splits[1].percent");
    }

    #[test]
    fn split_targets_default_to_the_rule() {
        let mut r = rule(None, None, "79");
        r.class = Some(Reference::id("C1"));
        r.department = Some(Reference::id("D0"));
        r.splits = vec![
            split(dec!(60), "D1"),
            AllocationSplit {
                percent: dec!(40),
                account: Some(Reference::id("81")),
                department: None,
                class: None,
            },
        ];
        let entry = build_journal_entry(&input(
            vec![item("1", None, None, dec!(1), dec!(10))],
            vec![r],
        ))
        .unwrap();
        let lines: Vec<_> = entry.lines.iter().skip(1).collect();
        assert_eq!(lines[0].account.value, "79");
        assert_eq!(lines[0].department, Some(Reference::id("D1")));
        assert_eq!(lines[0].class, Some(Reference::id("C1")));
        assert_eq!(lines[1].account.value, "81");
        assert_eq!(lines[1].department, Some(Reference::id("D0")));
        assert_eq!(lines[1].class, Some(Reference::id("C1")));
    }

    #[test]
    fn credits_are_aggregated_per_target_in_order_of_first_appearance() {
        let items = vec![
            item("1", None, Some("Services"), dec!(1), dec!(10)),
            item("2", None, Some("Hardware"), dec!(2), dec!(5)),
            item("3", None, Some("services"), dec!(1), dec!(7.50)),
        ];
        let rules = vec![
            rule(None, Some("Hardware"), "80"),
            rule(None, Some("Services"), "79"),
        ];
        let entry = build_journal_entry(&input(items, rules)).unwrap();
        assert_eq!(
            credits(&entry),
            [
                ("79".into(), None, dec!(17.50)),
                ("80".into(), None, dec!(10.00))
            ]
        );
    }

    #[test]
    fn debit_to_receivable_carries_the_customer_and_the_order_total() {
        let entry = build_journal_entry(&input(
            vec![item("1", None, None, dec!(2), dec!(12.50))],
            vec![rule(None, None, "79")],
        ))
        .unwrap();
        let debit = &entry.lines[0];
        assert_eq!(debit.posting_type, PostingType::Debit);
        assert_eq!(debit.account.value, "4");
        assert_eq!(debit.customer, Some(Reference::named("58", "Acme Corp")));
        assert_eq!(debit.amount, dec!(25.00));
        assert_eq!(debit.description.as_deref(), Some("Order 00000107"));
        assert_eq!(entry.total, dec!(25.00));
        assert_eq!(entry.doc_number.as_deref(), Some("00000107"));
        assert_eq!(
            entry.private_note.as_deref(),
            Some("Salesforce Order 8015e00000XyZaBAAV")
        );
        assert_eq!(entry.txn_date, date("2024-03-15"));
    }

    #[test]
    fn hundreds_of_items_balance_exactly() {
        let mut split_rule = rule(None, None, "79");
        split_rule.splits = vec![
            split(dec!(33.3333), "D1"),
            split(dec!(33.3333), "D2"),
            split(dec!(33.3334), "D3"),
        ];
        let mut coded = rule(Some("SKU-7"), None, "80");
        coded.splits = vec![split(dec!(12.5), "D1"), split(dec!(87.5), "D4")];
        let items: Vec<_> = (1..=400)
            .map(|n| {
                let code = if n % 7 == 0 { Some("SKU-7") } else { None };
                item(
                    &format!("802{n:04}"),
                    code,
                    None,
                    Decimal::from(n % 5 + 1),
                    Decimal::new(n * 137 + 1, 2),
                )
            })
            .collect();
        let expected: Decimal = items.iter().map(|i| item_amount(i).unwrap()).sum();
        let entry = build_journal_entry(&input(items, vec![split_rule, coded])).unwrap();
        let credit_total: Decimal = credits(&entry).iter().map(|(_, _, a)| *a).sum();
        assert_eq!(entry.total, expected);
        assert_eq!(credit_total, expected);
        assert_eq!(
            entry.lines.len(),
            1 + 5,
            "D1 is shared by both rules but on different accounts"
        );
    }

    #[test]
    fn zero_amount_items_are_skipped_and_need_no_rule() {
        let items = vec![
            item("1", Some("SKU-1"), None, dec!(1), dec!(10)),
            item("2", Some("FREE"), None, dec!(0), dec!(99)),
        ];
        let entry =
            build_journal_entry(&input(items, vec![rule(Some("SKU-1"), None, "79")])).unwrap();
        assert_eq!(entry.lines.len(), 2);
        assert_eq!(entry.total, dec!(10.00));
    }

    #[test]
    fn order_without_items_or_with_zero_total_is_refused() {
        let err = build_journal_entry(&input(vec![], vec![rule(None, None, "79")])).unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].field, "items");
        let err = build_journal_entry(&input(
            vec![item("1", None, None, dec!(0), dec!(10))],
            vec![rule(None, None, "79")],
        ))
        .unwrap_err();
        assert_eq!(err.kind, ErrorKind::InvalidInput);
        assert_eq!(err.errors[0].field, "items");
    }

    #[test]
    fn order_total_must_equal_its_items() {
        let mut order = input(
            vec![item("1", None, None, dec!(3), dec!(10))],
            vec![rule(None, None, "79")],
        );
        order.order.total_amount = Some(dec!(30.01));
        let err = build_journal_entry(&order).unwrap_err();
        assert_eq!(err.kind, ErrorKind::RuleViolation);
        assert_eq!(err.errors[0].field, "total-amount");
        assert!(err.errors[0].reason.contains("30.01") && err.errors[0].reason.contains("30.00"));
        order.order.total_amount = Some(dec!(30));
        assert!(build_journal_entry(&order).is_ok(), "30 equals 30.00");
    }

    #[test]
    fn reversal_swaps_debits_and_credits_in_the_same_order() {
        let mut r = rule(None, None, "79");
        r.splits = vec![split(dec!(50), "D1"), split(dec!(50), "D2")];
        let mut order = input(vec![item("1", None, None, dec!(1), dec!(100.01))], vec![r]);
        let original = build_journal_entry(&order).unwrap();
        order.reversal = true;
        order.reversal_date = Some(date("2024-04-02"));
        let reversal = build_journal_entry(&order).unwrap();
        assert_eq!(reversal.lines.len(), original.lines.len());
        for (o, r) in original.lines.iter().zip(&reversal.lines) {
            assert_eq!(
                (&o.account, &o.department, o.amount),
                (&r.account, &r.department, r.amount)
            );
            assert_ne!(o.posting_type, r.posting_type);
        }
        assert_eq!(reversal.lines[0].posting_type, PostingType::Credit);
        assert_eq!(reversal.total, original.total);
        assert_eq!(reversal.txn_date, date("2024-04-02"));
        assert_eq!(reversal.doc_number.as_deref(), Some("00000107-R"));
        assert_eq!(
            reversal.private_note.as_deref(),
            Some("Salesforce Order 8015e00000XyZaBAAV (reversal)")
        );
        order.reversal_date = None;
        assert_eq!(
            build_journal_entry(&order).unwrap().txn_date,
            date("2024-03-15")
        );
    }

    #[test]
    fn original_and_reversal_net_to_zero_per_account() {
        let mut r = rule(None, Some("Services"), "79");
        r.splits = vec![
            split(dec!(33.3333), "D1"),
            split(dec!(33.3333), "D2"),
            split(dec!(33.3334), "D3"),
        ];
        let items = vec![
            item("1", None, Some("Services"), dec!(3), dec!(33.33)),
            item("2", None, Some("Hardware"), dec!(7), dec!(0.99)),
        ];
        let mut order = input(items, vec![r, rule(None, None, "80")]);
        let original = build_journal_entry(&order).unwrap();
        order.reversal = true;
        let reversal = build_journal_entry(&order).unwrap();
        let mut net: BTreeMap<(String, Option<String>), Decimal> = BTreeMap::new();
        for line in original.lines.iter().chain(&reversal.lines) {
            let signed = match line.posting_type {
                PostingType::Debit => line.amount,
                PostingType::Credit => -line.amount,
            };
            *net.entry((
                line.account.value.clone(),
                line.department.as_ref().map(|d| d.value.clone()),
            ))
            .or_default() += signed;
        }
        assert!(net.values().all(|v| v.is_zero()), "{net:?}");
    }

    #[test]
    fn doc_number_is_cut_to_fit_qbo() {
        let mut order = input(
            vec![item("1", None, None, dec!(1), dec!(1))],
            vec![rule(None, None, "79")],
        );
        order.order.order_number = Some("ABCDEFGHIJKLMNOPQRSTUVWXYZ".into());
        assert_eq!(
            build_journal_entry(&order).unwrap().doc_number.as_deref(),
            Some("ABCDEFGHIJKLMNOPQRSTU")
        );
        order.reversal = true;
        assert_eq!(
            build_journal_entry(&order).unwrap().doc_number.as_deref(),
            Some("ABCDEFGHIJKLMNOPQRS-R")
        );
        order.order.order_number = None;
        let entry = build_journal_entry(&order).unwrap();
        assert_eq!(entry.doc_number, None);
        assert_eq!(
            entry.lines[0].description.as_deref(),
            Some("Order 8015e00000XyZaBAAV")
        );
    }

    #[test]
    fn unbalanced_entry_is_refused() {
        let line = |amount: Decimal, posting_type: PostingType| JournalLine {
            description: None,
            amount,
            posting_type,
            account: Reference::id("1"),
            department: None,
            class: None,
            customer: None,
        };
        assert_eq!(
            check_balanced(&[
                line(dec!(10), PostingType::Debit),
                line(dec!(10.00), PostingType::Credit)
            ]),
            Ok(dec!(10))
        );
        let err = check_balanced(&[
            line(dec!(10), PostingType::Debit),
            line(dec!(9.99), PostingType::Credit),
        ])
        .unwrap_err();
        assert!(err.contains("10.00") && err.contains("9.99"), "{err}");
        assert!(check_balanced(&[line(dec!(10), PostingType::Debit)]).is_err());
    }

    #[test]
    fn fixtures_give_the_declared_outcome() {
        crate::mapping::fixtures::assert_declared_outcomes::<JournalInput, _>(
            "build-journal-entry",
            build_journal_entry,
        );
    }
}
