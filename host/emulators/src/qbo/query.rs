//! The QBO query language subset (api-facts A5):
//!
//! ```text
//! SELECT * | *, Field | count(*) FROM Entity
//!   [WHERE cond AND cond ...]            cond: Field (= < > <= >= LIKE) literal | Field IN (literal, ...)
//!   [ORDERBY | ORDER BY Field [ASC|DESC], ...]
//!   [STARTPOSITION n] [MAXRESULTS n]
//! ```
//!
//! Keywords and entity names are case-insensitive; string literals take `\'` for an apostrophe;
//! `OR` is refused (4001); `LIKE` knows only `%`; a dotted field reaches into objects
//! (`MetaData.LastUpdatedTime`) and a reference compares by its `value` (`CustomerRef = '3'`).
//! Name-list entities list only active objects unless the WHERE clause mentions `Active`.
//! STARTPOSITION is 1-based (0 → 4001); MAXRESULTS defaults to 100 and is capped at 1000.

use super::errors::QboError;
use super::money;
use super::timefmt;
use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::cell::OnceCell;
use std::cmp::Ordering;
use std::collections::HashMap;

/// Comparison operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Lt,
    Gt,
    Le,
    Ge,
    Like,
    In,
}

/// One `Field op value` condition.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Condition {
    pub field: String,
    pub op: Op,
    pub values: Vec<String>,
}

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Query {
    pub entity: String,
    pub count: bool,
    pub conditions: Vec<Condition>,
    pub order: Vec<(String, bool)>,
    pub start_position: Option<i64>,
    pub max_results: Option<i64>,
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Word(String),
    Str(String),
    Num(String),
    Star,
    Comma,
    Open,
    Close,
    Cmp(Op),
}

fn tokenize(sql: &str) -> Result<Vec<Token>, QboError> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() || c == ';' => i += 1,
            '*' => {
                tokens.push(Token::Star);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            '=' => {
                tokens.push(Token::Cmp(Op::Eq));
                i += 1;
            }
            '<' | '>' => {
                let eq = chars.get(i + 1) == Some(&'=');
                if chars.get(i + 1) == Some(&'>') {
                    return Err(QboError::query_parse(format!(
                        "Encountered \"<>\" at column {}: the operator is not supported",
                        i + 1
                    )));
                }
                tokens.push(Token::Cmp(match (c, eq) {
                    ('<', true) => Op::Le,
                    ('<', false) => Op::Lt,
                    ('>', true) => Op::Ge,
                    _ => Op::Gt,
                }));
                i += if eq { 2 } else { 1 };
            }
            '\'' | '"' => {
                let quote = c;
                let mut text = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(QboError::query_parse(
                                "Lexical error: unterminated string literal",
                            ))
                        }
                        Some('\\') => {
                            if let Some(next) = chars.get(i + 1) {
                                text.push(*next);
                            }
                            i += 2;
                        }
                        Some(ch) if *ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(ch) => {
                            text.push(*ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Str(text));
            }
            c if c.is_ascii_digit() || c == '-' || c == '+' => {
                let start = i;
                i += 1;
                while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                    i += 1;
                }
                tokens.push(Token::Num(chars[start..i].iter().collect()));
            }
            c if c.is_alphanumeric() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '.')
                {
                    i += 1;
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
            other => {
                return Err(QboError::query_parse(format!(
                    "Lexical error at column {}. Encountered: \"{other}\"",
                    i + 1
                )))
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn keyword(&mut self, kw: &str) -> Result<(), QboError> {
        if self.is_keyword(kw) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }

    fn unexpected(&self, expected: &str) -> QboError {
        match self.peek() {
            Some(t) => QboError::query_parse(format!(
                "Encountered \"{}\" at token {}. Was expecting: {expected}",
                describe(t),
                self.pos + 1
            )),
            None => {
                QboError::query_parse(format!("Encountered \"<EOF>\". Was expecting: {expected}"))
            }
        }
    }

    fn word(&mut self, expected: &str) -> Result<String, QboError> {
        match self.peek() {
            Some(Token::Word(w)) => {
                let w = w.clone();
                self.pos += 1;
                Ok(w)
            }
            _ => Err(self.unexpected(expected)),
        }
    }

    fn integer(&mut self, clause: &str) -> Result<i64, QboError> {
        match self.next() {
            Some(Token::Num(n)) => n
                .parse()
                .map_err(|_| QboError::query_parse(format!("{clause} needs an integer, got {n}"))),
            Some(Token::Str(s)) => s.trim().parse().map_err(|_| {
                QboError::query_parse(format!("{clause} needs an integer, got '{s}'"))
            }),
            _ => Err(QboError::query_parse(format!("{clause} needs an integer"))),
        }
    }

    fn literal(&mut self) -> Result<String, QboError> {
        match self.next() {
            Some(Token::Str(s)) | Some(Token::Num(s)) => Ok(s),
            Some(Token::Word(w))
                if w.eq_ignore_ascii_case("true") || w.eq_ignore_ascii_case("false") =>
            {
                Ok(w.to_ascii_lowercase())
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected("a literal"))
            }
        }
    }
}

fn describe(t: &Token) -> String {
    match t {
        Token::Word(w) => w.clone(),
        Token::Str(s) => format!("'{s}'"),
        Token::Num(n) => n.clone(),
        Token::Star => "*".into(),
        Token::Comma => ",".into(),
        Token::Open => "(".into(),
        Token::Close => ")".into(),
        Token::Cmp(op) => format!("{op:?}"),
    }
}

/// Parses one query.
pub(crate) fn parse(sql: &str) -> Result<Query, QboError> {
    let mut p = Parser {
        tokens: tokenize(sql)?,
        pos: 0,
    };
    p.keyword("SELECT")?;
    let mut count = false;
    if p.is_keyword("count") && p.tokens.get(p.pos + 1) == Some(&Token::Open) {
        p.pos += 2;
        if p.next() != Some(Token::Star) || p.next() != Some(Token::Close) {
            return Err(QboError::query_parse(
                "count(*) is the only aggregate supported",
            ));
        }
        count = true;
    } else {
        // Projections are not supported: `*`, `*, Sku` and field lists all select everything.
        loop {
            match p.next() {
                Some(Token::Star) | Some(Token::Word(_)) => {}
                _ => {
                    p.pos -= 1;
                    return Err(p.unexpected("* or a field name"));
                }
            }
            if p.peek() == Some(&Token::Comma) {
                p.pos += 1;
            } else {
                break;
            }
        }
    }
    p.keyword("FROM")?;
    let entity = p.word("an entity name")?;
    let mut query = Query {
        entity,
        count,
        conditions: Vec::new(),
        order: Vec::new(),
        start_position: None,
        max_results: None,
    };
    if p.is_keyword("WHERE") {
        p.pos += 1;
        loop {
            query.conditions.push(condition(&mut p)?);
            if p.is_keyword("AND") {
                p.pos += 1;
            } else if p.is_keyword("OR") {
                return Err(QboError::invalid_query(
                    "OR operator in WHERE clause is not supported",
                ));
            } else {
                break;
            }
        }
    }
    while p.peek().is_some() {
        if p.is_keyword("ORDERBY") || p.is_keyword("ORDER") {
            let two_words = p.is_keyword("ORDER");
            p.pos += 1;
            if two_words {
                p.keyword("BY")?;
            }
            loop {
                let field = p.word("a field name")?;
                let mut descending = false;
                if p.is_keyword("DESC") {
                    descending = true;
                    p.pos += 1;
                } else if p.is_keyword("ASC") {
                    p.pos += 1;
                }
                query.order.push((field, descending));
                if p.peek() == Some(&Token::Comma) {
                    p.pos += 1;
                } else {
                    break;
                }
            }
        } else if p.is_keyword("STARTPOSITION") {
            p.pos += 1;
            query.start_position = Some(p.integer("STARTPOSITION")?);
        } else if p.is_keyword("MAXRESULTS") {
            p.pos += 1;
            query.max_results = Some(p.integer("MAXRESULTS")?);
        } else if p.is_keyword("OR") {
            return Err(QboError::invalid_query(
                "OR operator in WHERE clause is not supported",
            ));
        } else {
            return Err(p.unexpected("ORDERBY, STARTPOSITION, MAXRESULTS or the end of the query"));
        }
    }
    Ok(query)
}

fn condition(p: &mut Parser) -> Result<Condition, QboError> {
    let field = p.word("a field name")?;
    let op = match p.next() {
        Some(Token::Cmp(op)) => op,
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("LIKE") => Op::Like,
        Some(Token::Word(w)) if w.eq_ignore_ascii_case("IN") => Op::In,
        _ => {
            p.pos -= 1;
            return Err(p.unexpected("=, <, >, <=, >=, IN or LIKE"));
        }
    };
    let values = if op == Op::In {
        if p.next() != Some(Token::Open) {
            p.pos -= 1;
            return Err(p.unexpected("("));
        }
        let mut values = vec![p.literal()?];
        loop {
            match p.next() {
                Some(Token::Comma) => values.push(p.literal()?),
                Some(Token::Close) => break,
                _ => {
                    p.pos -= 1;
                    return Err(p.unexpected(", or )"));
                }
            }
        }
        values
    } else {
        vec![p.literal()?]
    };
    Ok(Condition { field, op, values })
}

/// The value of a dotted field; a reference yields its `value`.
fn field<'v>(obj: &'v Map<String, Value>, path: &str) -> Option<&'v Value> {
    let mut map = obj;
    let mut parts = path.split('.').peekable();
    let value = loop {
        let part = parts.next()?;
        let value = map.get(part).or_else(|| {
            map.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(part))
                .map(|(_, v)| v)
        })?;
        if parts.peek().is_none() {
            break value;
        }
        map = value.as_object()?;
    };
    match value {
        Value::Object(r) if r.contains_key("value") => r.get("value"),
        other => Some(other),
    }
}

/// What [`compare`] reads from a text: a boolean, a number, a date-time (only tried for texts of
/// ten bytes or more) and the lowercase text. Literals are read once per query, not once per row.
struct Readings {
    len: usize,
    boolean: Option<bool>,
    money: Option<Decimal>,
    time: Option<DateTime<Utc>>,
    lower: String,
}

impl Readings {
    fn of(text: &str, tz: FixedOffset) -> Self {
        Self {
            len: text.len(),
            boolean: text.parse().ok(),
            money: money::parse_text(text),
            time: if text.len() >= 10 {
                timefmt::parse_datetime(text, tz)
            } else {
                None
            },
            lower: text.to_lowercase(),
        }
    }

    /// True when a text value can equal this literal only by being the same text, ignoring case:
    /// it reads neither as a number nor as a date-time.
    fn is_plain_text(&self) -> bool {
        self.money.is_none() && self.time.is_none()
    }
}

/// The readings of the value on the left of [`compare`].
trait Own {
    fn money(&self) -> Option<Decimal>;
    fn time(&self) -> Option<DateTime<Utc>>;
    fn lower(&self) -> &str;
}

impl Own for Readings {
    fn money(&self) -> Option<Decimal> {
        self.money
    }
    fn time(&self) -> Option<DateTime<Utc>> {
        self.time
    }
    fn lower(&self) -> &str {
        &self.lower
    }
}

/// A stored value, read on first use (an IN list compares one value with many literals).
struct Subject<'v> {
    value: &'v Value,
    tz: FixedOffset,
    money: OnceCell<Option<Decimal>>,
    time: OnceCell<Option<DateTime<Utc>>>,
    lower: OnceCell<String>,
}

impl<'v> Subject<'v> {
    fn new(value: &'v Value, tz: FixedOffset) -> Self {
        Self {
            value,
            tz,
            money: OnceCell::new(),
            time: OnceCell::new(),
            lower: OnceCell::new(),
        }
    }

    fn text(&self) -> &str {
        self.value.as_str().unwrap_or_default()
    }
}

impl Own for Subject<'_> {
    fn money(&self) -> Option<Decimal> {
        *self.money.get_or_init(|| money::parse(self.value))
    }
    fn time(&self) -> Option<DateTime<Utc>> {
        *self
            .time
            .get_or_init(|| timefmt::parse_datetime(self.text(), self.tz))
    }
    fn lower(&self) -> &str {
        self.lower.get_or_init(|| self.text().to_lowercase())
    }
}

/// Compares `value` (read as `own`) with a literal. Booleans compare as booleans, numbers as
/// numbers; text compares as numbers when both sides read as numbers, else as instants when both
/// read as date-times, else case-insensitively.
fn compare(value: &Value, own: &impl Own, literal: &Readings) -> Option<Ordering> {
    match value {
        Value::Bool(b) => literal.boolean.map(|l| b.cmp(&l)),
        Value::Number(_) => Some(own.money()?.cmp(&literal.money?)),
        Value::String(s) => {
            if let Some(b) = literal.money {
                if let Some(a) = own.money() {
                    return Some(a.cmp(&b));
                }
            }
            if s.len() >= 10 && literal.len >= 10 {
                if let Some(b) = literal.time {
                    if let Some(a) = own.time() {
                        return Some(a.cmp(&b));
                    }
                }
            }
            Some(own.lower().cmp(&literal.lower))
        }
        _ => None,
    }
}

fn like(text: &str, pattern: &str) -> bool {
    let text = text.to_lowercase();
    let pattern = pattern.to_lowercase();
    let parts: Vec<&str> = pattern.split('%').collect();
    if parts.len() == 1 {
        return text == pattern;
    }
    let mut rest = text.as_str();
    for (i, part) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else if let Some(pos) = rest.find(part) {
            rest = &rest[pos + part.len()..];
        } else {
            return false;
        }
    }
    true
}

/// One condition with its literals read.
struct Test<'q> {
    condition: &'q Condition,
    /// The first value (what every operator but IN compares with).
    first: Readings,
    /// Every value, for IN.
    all: Vec<Readings>,
}

impl Test<'_> {
    fn holds(&self, obj: &Map<String, Value>, tz: FixedOffset) -> bool {
        let Some(value) = field(obj, &self.condition.field) else {
            return false;
        };
        let own = Subject::new(value, tz);
        let cmp = || compare(value, &own, &self.first);
        match self.condition.op {
            Op::Eq => cmp() == Some(Ordering::Equal),
            Op::Lt => cmp() == Some(Ordering::Less),
            Op::Gt => cmp() == Some(Ordering::Greater),
            Op::Le => matches!(cmp(), Some(Ordering::Less | Ordering::Equal)),
            Op::Ge => matches!(cmp(), Some(Ordering::Greater | Ordering::Equal)),
            Op::In => self
                .all
                .iter()
                .any(|l| compare(value, &own, l) == Some(Ordering::Equal)),
            Op::Like => {
                let pattern = self.condition.values.first().map(String::as_str);
                let pattern = pattern.unwrap_or_default();
                match value {
                    Value::String(s) => like(s, pattern),
                    other => like(&other.to_string(), pattern),
                }
            }
        }
    }

    /// For `=` and `IN`: the values a match must equal.
    fn equalities(&self) -> Option<(&[String], &[Readings])> {
        match self.condition.op {
            _ if self.condition.values.is_empty() => None,
            Op::Eq => Some((
                &self.condition.values[..1],
                std::slice::from_ref(&self.first),
            )),
            Op::In => Some((&self.condition.values, &self.all)),
            _ => None,
        }
    }
}

/// The WHERE clause of a query, plus the name-list "active only" default.
pub(crate) struct Filter<'q> {
    tests: Vec<Test<'q>>,
    active_only: bool,
    tz: FixedOffset,
}

impl<'q> Filter<'q> {
    /// `active_filter` applies the name-list default (unless the WHERE clause mentions `Active`).
    pub fn new(query: &'q Query, active_filter: bool, tz: FixedOffset) -> Self {
        let mentions_active = query
            .conditions
            .iter()
            .any(|c| c.field.eq_ignore_ascii_case("Active"));
        let tests = query
            .conditions
            .iter()
            .map(|condition| Test {
                condition,
                first: Readings::of(
                    condition
                        .values
                        .first()
                        .map(String::as_str)
                        .unwrap_or_default(),
                    tz,
                ),
                all: match condition.op {
                    Op::In => condition
                        .values
                        .iter()
                        .map(|v| Readings::of(v, tz))
                        .collect(),
                    _ => Vec::new(),
                },
            })
            .collect();
        Self {
            tests,
            active_only: active_filter && !mentions_active,
            tz,
        }
    }

    /// Whether an object (as the API returns it) is selected.
    pub fn accepts(&self, obj: &Map<String, Value>) -> bool {
        self.accepts_without(obj, &[])
    }

    /// Like [`Filter::accepts`], leaving out conditions on the fields `derived` (added when
    /// rendering): false means that the rendered object is not selected either.
    pub fn accepts_without(&self, obj: &Map<String, Value>, derived: &[&str]) -> bool {
        let is_derived = |t: &&Test| {
            let first = t.condition.field.split('.').next().unwrap_or_default();
            derived.iter().any(|d| d.eq_ignore_ascii_case(first))
        };
        (!self.active_only || obj.get("Active").and_then(Value::as_bool).unwrap_or(true))
            && self
                .tests
                .iter()
                .filter(|t| !is_derived(t))
                .all(|t| t.holds(obj, self.tz))
    }

    /// The values of an `=` or `IN` condition on the field written exactly `name`, when each can
    /// equal a text only by being the same text ignoring case: then a look-up by lowercased text
    /// finds every object that can match.
    pub fn plain_text_values(&self, name: &str) -> Option<Vec<&str>> {
        self.tests
            .iter()
            .filter(|t| t.condition.field == name)
            .filter_map(Test::equalities)
            .find(|(_, readings)| readings.iter().all(Readings::is_plain_text))
            .map(|(values, _)| values.iter().map(String::as_str).collect())
    }

    /// For an `=` or `IN` condition on the field written exactly `name`: each value, and for a
    /// value that reads as a number its shortest spelling ("7.0" gives "7"). An Id written the way
    /// the emulator allocates them can only match by being one of these texts.
    pub fn number_values(&self, name: &str) -> Option<Vec<String>> {
        self.tests
            .iter()
            .filter(|t| t.condition.field == name)
            .find_map(Test::equalities)
            .map(|(values, readings)| {
                values
                    .iter()
                    .zip(readings)
                    .flat_map(|(value, r)| {
                        let number = r.money.map(|m| m.normalize().to_string());
                        number.into_iter().chain([value.clone()])
                    })
                    .collect()
            })
    }
}

/// The text an ORDERBY value is compared as, on the right of [`compare`].
fn sort_text(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(s) => Cow::Borrowed(s),
        other => Cow::Owned(other.to_string()),
    }
}

/// What an ORDERBY value sorts as. Within one kind this is the filters' comparison (numbers and
/// amounts by value, timestamps by instant, other text ignoring case); a column that mixes kinds
/// sorts booleans, then numbers, then timestamps, then text, so that the order is total (a sort
/// over a comparison that is not total may panic).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Bool(bool),
    Number(Decimal),
    Time(DateTime<Utc>),
    Text(String),
}

fn sort_key(value: &Value, tz: FixedOffset) -> SortKey {
    if let Value::Bool(b) = value {
        return SortKey::Bool(*b);
    }
    let text = sort_text(value);
    let r = Readings::of(&text, tz);
    match (r.money, r.time) {
        (Some(m), _) => SortKey::Number(m),
        (None, Some(t)) if r.len >= 10 => SortKey::Time(t),
        _ => SortKey::Text(r.lower),
    }
}

/// Sorts rows by the ORDERBY fields (stable: ties keep Id order). Each distinct value is read
/// once, not at every comparison.
fn sort(rows: &mut [Value], order: &[(String, bool)], tz: FixedOffset) {
    fn field_of<'v>(row: &'v Value, f: &str) -> Option<&'v Value> {
        row.as_object().and_then(|o| field(o, f))
    }
    let mut keys: HashMap<String, SortKey> = HashMap::new();
    for row in rows.iter() {
        for (f, _) in order {
            if let Some(value) = field_of(row, f) {
                keys.entry(value.to_string())
                    .or_insert_with(|| sort_key(value, tz));
            }
        }
    }
    rows.sort_by(|a, b| {
        for (f, descending) in order {
            let ord = match (field_of(a, f), field_of(b, f)) {
                (Some(x), Some(y)) => keys[&x.to_string()].cmp(&keys[&y.to_string()]),
                (Some(_), None) => Ordering::Less,
                (None, Some(_)) => Ordering::Greater,
                (None, None) => Ordering::Equal,
            };
            let ord = if *descending { ord.reverse() } else { ord };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    });
}

/// The `QueryResponse` object for the selected rows (in Id order, as the API returns them): their
/// count, or one page of them in the query's order.
pub(crate) fn respond(
    query: &Query,
    entity: &str,
    selected: Vec<Cow<'_, Map<String, Value>>>,
    tz: FixedOffset,
) -> Result<Value, QboError> {
    let start = query.start_position.unwrap_or(1);
    if start < 1 {
        return Err(QboError::invalid_query(format!(
            "value {start} is too small. Min allowed value is 1"
        )));
    }
    let max = query.max_results.unwrap_or(100);
    if max < 1 {
        return Err(QboError::invalid_query(format!(
            "value {max} is too small. Min allowed value is 1"
        )));
    }
    let max = max.min(1000) as usize;
    if query.count {
        return Ok(json!({"totalCount": selected.len()}));
    }
    let skip = (start - 1) as usize;
    let page: Vec<Value> = if query.order.is_empty() {
        // Only the page is copied.
        selected
            .into_iter()
            .skip(skip)
            .take(max)
            .map(|row| Value::Object(row.into_owned()))
            .collect()
    } else {
        let mut rows: Vec<Value> = selected
            .into_iter()
            .map(|row| Value::Object(row.into_owned()))
            .collect();
        sort(&mut rows, &query.order, tz);
        rows.into_iter().skip(skip).take(max).collect()
    };
    if page.is_empty() {
        return Ok(json!({}));
    }
    let mut response = Map::new();
    response.insert("startPosition".into(), json!(start));
    response.insert("maxResults".into(), json!(page.len()));
    response.insert(entity.to_string(), Value::Array(page));
    Ok(Value::Object(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tz() -> FixedOffset {
        timefmt::offset(-480)
    }

    /// Filters rendered rows and answers, as `api::run_query` does.
    fn run(
        query: &Query,
        entity: &str,
        rows: Vec<Value>,
        active_filter: bool,
        tz: FixedOffset,
    ) -> Result<Value, QboError> {
        let filter = Filter::new(query, active_filter, tz);
        let selected = rows
            .iter()
            .filter_map(Value::as_object)
            .filter(|row| filter.accepts(row))
            .map(Cow::Borrowed)
            .collect();
        respond(query, entity, selected, tz)
    }

    #[test]
    fn parses_python_quickbooks_forms() {
        let q = parse("SELECT *, Sku FROM Item ORDER BY Name DESC STARTPOSITION 2 MAXRESULTS 5")
            .unwrap();
        assert_eq!(q.entity, "Item");
        assert_eq!(q.order, vec![("Name".to_string(), true)]);
        assert_eq!((q.start_position, q.max_results), (Some(2), Some(5)));
        let q = parse("SELECT * FROM Customer WHERE DisplayName = 'O\\'Brien' AND Id in ('1', '2') ORDERBY Id").unwrap();
        assert_eq!(q.conditions[0].values, vec!["O'Brien"]);
        assert_eq!(q.conditions[1].op, Op::In);
        assert!(parse("select count(*) from invoice").unwrap().count);
    }

    #[test]
    fn refuses_or_and_garbage() {
        assert_eq!(
            parse("SELECT * FROM Customer WHERE Id = '1' OR Id = '2'")
                .unwrap_err()
                .errors[0]
                .code,
            "4001"
        );
        assert_eq!(
            parse("SELEC * FROM Customer").unwrap_err().errors[0].code,
            "4000"
        );
        assert_eq!(
            parse("SELECT * FROM Customer WHERE Name = 'x")
                .unwrap_err()
                .errors[0]
                .code,
            "4000"
        );
    }

    #[test]
    fn filters_compare_by_type() {
        let rows = vec![
            json!({"Id": "2", "DisplayName": "Amy's", "Balance": 10.5, "Active": true, "CustomerRef": {"value": "7"}, "MetaData": {"LastUpdatedTime": "2024-06-02T10:00:00-07:00"}}),
            json!({"Id": "10", "DisplayName": "Bob", "Balance": 3, "Active": false, "CustomerRef": {"value": "8"}, "MetaData": {"LastUpdatedTime": "2024-05-01T10:00:00-07:00"}}),
        ];
        let run_q =
            |sql: &str| run(&parse(sql).unwrap(), "Customer", rows.clone(), true, tz()).unwrap();
        assert_eq!(run_q("select count(*) from Customer")["totalCount"], 1);
        assert_eq!(
            run_q("select count(*) from Customer where Active in (true, false)")["totalCount"],
            2
        );
        assert_eq!(
            run_q("select count(*) from Customer where Id > '9' and Active = false")["totalCount"],
            1
        );
        assert_eq!(
            run_q("select count(*) from Customer where DisplayName like 'amy%'")["totalCount"],
            1
        );
        assert_eq!(
            run_q("select count(*) from Customer where CustomerRef = '7'")["totalCount"],
            1
        );
        assert_eq!(run_q("select count(*) from Customer where MetaData.LastUpdatedTime >= '2024-06-01T00:00:00'")["totalCount"], 1);
        assert_eq!(
            run_q("select * from Customer where DisplayName = 'nobody'"),
            json!({})
        );
        let page = run_q(
            "select * from Customer where Active in (true,false) orderby Balance asc maxresults 1",
        );
        assert_eq!(page["Customer"][0]["Id"], "10");
        assert_eq!(page["maxResults"], 1);
    }

    #[test]
    fn orderby_a_column_mixing_numbers_and_text_is_a_total_order() {
        // Mixed DocNumbers once made the sort comparison inconsistent (a panic under the lock).
        let docs = ["9", "10", "1a", "B", "a", "100", "2.5", "x9", "07"];
        let rows: Vec<Value> = (0..300)
            .map(|i| json!({"Id": (i + 1).to_string(), "DocNumber": docs[i % docs.len()]}))
            .collect();
        let page = run(
            &parse("select * from Invoice orderby DocNumber maxresults 1000").unwrap(),
            "Invoice",
            rows,
            false,
            tz(),
        )
        .unwrap();
        let order: Vec<&str> = page["Invoice"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["DocNumber"].as_str().unwrap())
            .collect();
        let mut distinct = order.clone();
        distinct.dedup();
        assert_eq!(
            distinct,
            ["2.5", "07", "9", "10", "100", "1a", "a", "B", "x9"]
        );
    }

    #[test]
    fn start_position_zero_is_4001_with_the_fixture_detail() {
        let err = run(
            &parse("select * from Customer startposition 0").unwrap(),
            "Customer",
            vec![],
            false,
            tz(),
        )
        .unwrap_err();
        assert_eq!(err.errors[0].code, "4001");
        assert_eq!(
            err.errors[0].detail,
            "QueryValidationError: value 0 is too small. Min allowed value is 1"
        );
    }

    #[test]
    fn equalities_that_look_ups_can_answer() {
        let q = parse(
            "select * from Invoice where DocNumber in ('SF-1', 'sf-2') and Id in ('7.0', 'TAX')",
        )
        .unwrap();
        let filter = Filter::new(&q, false, tz());
        assert_eq!(
            filter.plain_text_values("DocNumber"),
            Some(vec!["SF-1", "sf-2"])
        );
        assert_eq!(
            filter.number_values("Id"),
            Some(vec!["7".to_string(), "7.0".into(), "TAX".into()])
        );
        // A number or a date-time also equals other texts ("1001.0", "2024-05-01T00:00:00").
        for doc in ["1001", "2024-05-01"] {
            let q = parse(&format!("select * from Invoice where DocNumber = '{doc}'")).unwrap();
            let filter = Filter::new(&q, false, tz());
            assert_eq!(filter.plain_text_values("DocNumber"), None);
        }
        let q = parse("select * from Invoice where DocNumber > 'A'").unwrap();
        assert_eq!(
            Filter::new(&q, false, tz()).plain_text_values("DocNumber"),
            None
        );
    }

    #[test]
    fn like_supports_percent_anywhere() {
        assert!(like("Acme Enterprises", "%enter%"));
        assert!(like("Acme", "acme"));
        assert!(!like("Acme", "%x%"));
        assert!(like("Acme Enterprises", "A%s"));
    }
}
