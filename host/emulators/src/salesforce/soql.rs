//! SOQL text → syntax tree. Supported:
//!
//! ```text
//! SELECT item, ... FROM Object
//!   [WHERE condition] [ORDER BY path [ASC|DESC] [NULLS FIRST|LAST], ...] [LIMIT n] [OFFSET n]
//!   [FOR VIEW | FOR REFERENCE | FOR UPDATE]
//! item       := field path (Name, Account.Name, Opportunity.Account.Name)
//!             | COUNT() | COUNT(path) [alias]
//!             | (SELECT ... FROM ChildRelationship [WHERE ...] [ORDER BY ...] [LIMIT n])
//! condition  := term {AND term} | term {OR term}      (mixing AND and OR needs parentheses)
//! term       := NOT term | '(' condition ')'
//!             | path op value | path [NOT] IN (value, ...) | path [NOT] IN (SELECT one field ...)
//!             | path LIKE 'pattern'
//! op         := = != <> < <= > >=
//! value      := 'string' | number | TRUE | FALSE | NULL | 2024-01-31 | 2024-01-31T10:00:00Z
//!             | TODAY | YESTERDAY | TOMORROW | THIS_WEEK | LAST_WEEK | THIS_MONTH | LAST_MONTH
//!             | NEXT_MONTH | THIS_YEAR | LAST_YEAR | LAST_N_DAYS:n | NEXT_N_DAYS:n
//! ```
//!
//! Keywords are case-insensitive. Anything else is `MALFORMED_QUERY`.

use super::errors::SfError;
use super::values::parse_datetime;
use chrono::{DateTime, NaiveDate, Utc};
use rust_decimal::Decimal;
use std::str::FromStr;

/// A parsed query.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    /// Selected items, in order.
    pub select: Vec<SelectItem>,
    /// Object (or child relationship, in a subquery).
    pub from: String,
    /// WHERE.
    pub filter: Option<Cond>,
    /// ORDER BY.
    pub order: Vec<OrderItem>,
    /// LIMIT.
    pub limit: Option<usize>,
    /// OFFSET.
    pub offset: Option<usize>,
}

/// One item of the SELECT list.
#[derive(Clone, Debug, PartialEq)]
pub enum SelectItem {
    /// A field path, split on dots.
    Field(Vec<String>),
    /// `COUNT()` (no field) or `COUNT(path) [alias]`.
    Count {
        /// Counted field.
        field: Option<Vec<String>>,
        /// Alias.
        alias: Option<String>,
    },
    /// A child-relationship subquery.
    Sub(Box<Query>),
}

/// ORDER BY item.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderItem {
    /// Field path.
    pub path: Vec<String>,
    /// DESC.
    pub desc: bool,
    /// NULLS LAST (default: first for ASC, last for DESC).
    pub nulls_last: bool,
}

/// Comparison operator.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `=`
    Eq,
    /// `!=` or `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A literal.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// 'text'
    Str(String),
    /// 12.5
    Num(Decimal),
    /// TRUE / FALSE
    Bool(bool),
    /// NULL
    Null,
    /// 2024-01-31
    Date(NaiveDate),
    /// 2024-01-31T10:00:00Z
    DateTime(DateTime<Utc>),
    /// TODAY, LAST_N_DAYS:n, ...
    Relative(String, Option<i64>),
}

/// Right side of IN.
#[derive(Clone, Debug, PartialEq)]
pub enum InList {
    /// Literal values.
    Values(Vec<Lit>),
    /// Semi-join subquery selecting one field.
    Sub(Box<Query>),
}

/// WHERE condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Cond {
    /// All must hold.
    And(Vec<Cond>),
    /// One must hold.
    Or(Vec<Cond>),
    /// Negation.
    Not(Box<Cond>),
    /// `path op value`.
    Cmp(Vec<String>, Op, Lit),
    /// `path [NOT] IN (...)`.
    In(Vec<String>, InList, bool),
    /// `path LIKE 'pattern'`.
    Like(Vec<String>, String),
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Num(String),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
    LParen,
    RParen,
    Comma,
    Colon,
    Op(Op),
}

impl Tok {
    fn text(&self) -> String {
        match self {
            Tok::Ident(s) | Tok::Num(s) => s.clone(),
            Tok::Str(s) => format!("'{s}'"),
            Tok::Date(d) => d.to_string(),
            Tok::DateTime(t) => t.to_rfc3339(),
            Tok::LParen => "(".into(),
            Tok::RParen => ")".into(),
            Tok::Comma => ",".into(),
            Tok::Colon => ":".into(),
            Tok::Op(op) => format!("{op:?}"),
        }
    }
}

fn lex(q: &str) -> Result<Vec<Tok>, SfError> {
    let chars: Vec<char> = q.chars().collect();
    let mut i = 0;
    let mut out = Vec::new();
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::LParen);
                i += 1;
            }
            ')' => {
                out.push(Tok::RParen);
                i += 1;
            }
            ',' => {
                out.push(Tok::Comma);
                i += 1;
            }
            ':' => {
                out.push(Tok::Colon);
                i += 1;
            }
            '=' => {
                out.push(Tok::Op(Op::Eq));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                out.push(Tok::Op(Op::Ne));
                i += 2;
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    out.push(Tok::Op(Op::Le));
                    i += 2;
                }
                Some('>') => {
                    out.push(Tok::Op(Op::Ne));
                    i += 2;
                }
                _ => {
                    out.push(Tok::Op(Op::Lt));
                    i += 1;
                }
            },
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    out.push(Tok::Op(Op::Ge));
                    i += 2;
                } else {
                    out.push(Tok::Op(Op::Gt));
                    i += 1;
                }
            }
            '\'' => {
                let mut s = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => {
                            return Err(SfError::malformed_query(
                                "unexpected token: end of query (unterminated string)",
                            ))
                        }
                        Some('\'') => {
                            i += 1;
                            break;
                        }
                        Some('\\') => {
                            let n = chars.get(i + 1).copied().unwrap_or('\\');
                            match n {
                                'n' => s.push('\n'),
                                't' => s.push('\t'),
                                'r' => s.push('\r'),
                                'b' => s.push('\u{8}'),
                                'f' => s.push('\u{c}'),
                                // LIKE wildcards stay escaped for the pattern matcher.
                                '_' | '%' => {
                                    s.push('\\');
                                    s.push(n);
                                }
                                '\'' | '"' | '\\' => s.push(n),
                                other => {
                                    return Err(SfError::malformed_query(format!(
                                        "Invalid string literal: illegal escape sequence \\{other}"
                                    )))
                                }
                            }
                            i += 2;
                        }
                        Some(&ch) => {
                            s.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(s));
            }
            c if c.is_ascii_digit()
                || ((c == '-' || c == '+')
                    && chars.get(i + 1).is_some_and(|n| n.is_ascii_digit())) =>
            {
                let start = i;
                i += 1;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric()
                        || matches!(chars[i], '.' | ':' | '-' | '+'))
                {
                    // A datetime may carry `+hh:mm`; a number never has `+`/`-` after its start.
                    i += 1;
                }
                let text: String = chars[start..i].iter().collect();
                if text.len() >= 10
                    && text.as_bytes().get(4) == Some(&b'-')
                    && text.as_bytes().get(7) == Some(&b'-')
                {
                    if text.len() == 10 {
                        let d = NaiveDate::parse_from_str(&text, "%Y-%m-%d").map_err(|_| {
                            SfError::malformed_query(format!(
                                "line 1:{start} no viable alternative at character '{text}'"
                            ))
                        })?;
                        out.push(Tok::Date(d));
                    } else {
                        let t = parse_datetime(&text).ok_or_else(|| {
                            SfError::malformed_query(format!(
                                "line 1:{start} no viable alternative at character '{text}'"
                            ))
                        })?;
                        out.push(Tok::DateTime(t));
                    }
                } else {
                    // Plain number: stop at the first character a number cannot have.
                    let n: String = text
                        .chars()
                        .take_while(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+'))
                        .collect();
                    if n.len() != text.len() || Decimal::from_str(&n).is_err() {
                        return Err(SfError::malformed_query(format!(
                            "unexpected token: '{text}'"
                        )));
                    }
                    out.push(Tok::Num(n));
                }
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_alphanumeric() || matches!(chars[i], '_' | '.'))
                {
                    i += 1;
                }
                out.push(Tok::Ident(chars[start..i].iter().collect()));
            }
            other => {
                return Err(SfError::malformed_query(format!(
                    "line 1:{i} no viable alternative at character '{other}'"
                )))
            }
        }
    }
    Ok(out)
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

const RELATIVE: &[&str] = &[
    "TODAY",
    "YESTERDAY",
    "TOMORROW",
    "THIS_WEEK",
    "LAST_WEEK",
    "NEXT_WEEK",
    "THIS_MONTH",
    "LAST_MONTH",
    "NEXT_MONTH",
    "THIS_YEAR",
    "LAST_YEAR",
    "NEXT_YEAR",
    "LAST_N_DAYS",
    "NEXT_N_DAYS",
];

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn unexpected(&self) -> SfError {
        match self.peek() {
            Some(t) => SfError::malformed_query(format!("unexpected token: '{}'", t.text())),
            None => SfError::malformed_query("unexpected token: end of query"),
        }
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Tok::Ident(s)) if s.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<(), SfError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn expect(&mut self, tok: Tok) -> Result<(), SfError> {
        if self.peek() == Some(&tok) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    fn path(&mut self) -> Result<Vec<String>, SfError> {
        match self.next() {
            Some(Tok::Ident(s))
                if !s.starts_with('.') && !s.ends_with('.') && !s.contains("..") =>
            {
                Ok(s.split('.').map(str::to_string).collect())
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn usize_value(&mut self) -> Result<usize, SfError> {
        match self.next() {
            Some(Tok::Num(n)) => n
                .parse()
                .map_err(|_| SfError::malformed_query(format!("unexpected token: '{n}'"))),
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }

    fn query(&mut self) -> Result<Query, SfError> {
        self.expect_kw("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item()?);
            if self.peek() == Some(&Tok::Comma) {
                self.pos += 1;
            } else {
                break;
            }
        }
        self.expect_kw("FROM")?;
        let from = match self.next() {
            Some(Tok::Ident(s)) if !s.contains('.') => s,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        let mut q = Query {
            select,
            from,
            filter: None,
            order: Vec::new(),
            limit: None,
            offset: None,
        };
        if self.eat_kw("WHERE") {
            q.filter = Some(self.condition()?);
        }
        if self.is_kw("GROUP") || self.is_kw("WITH") || self.is_kw("HAVING") || self.is_kw("USING")
        {
            return Err(SfError::malformed_query(format!(
                "unexpected token: '{}' (not supported by the Ledgerlink emulator)",
                self.peek().map(Tok::text).unwrap_or_default()
            )));
        }
        if self.eat_kw("ORDER") {
            self.expect_kw("BY")?;
            loop {
                let path = self.path()?;
                let desc = if self.eat_kw("DESC") {
                    true
                } else {
                    self.eat_kw("ASC");
                    false
                };
                let mut nulls_last = desc;
                if self.eat_kw("NULLS") {
                    if self.eat_kw("LAST") {
                        nulls_last = true;
                    } else {
                        self.expect_kw("FIRST")?;
                        nulls_last = false;
                    }
                }
                q.order.push(OrderItem {
                    path,
                    desc,
                    nulls_last,
                });
                if self.peek() == Some(&Tok::Comma) {
                    self.pos += 1;
                } else {
                    break;
                }
            }
        }
        if self.eat_kw("LIMIT") {
            q.limit = Some(self.usize_value()?);
        }
        if self.eat_kw("OFFSET") {
            q.offset = Some(self.usize_value()?);
        }
        if self.eat_kw("FOR")
            && !(self.eat_kw("VIEW") || self.eat_kw("REFERENCE") || self.eat_kw("UPDATE"))
        {
            return Err(self.unexpected());
        }
        Ok(q)
    }

    fn select_item(&mut self) -> Result<SelectItem, SfError> {
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let sub = self.query()?;
            self.expect(Tok::RParen)?;
            return Ok(SelectItem::Sub(Box::new(sub)));
        }
        if self.is_kw("COUNT") && self.toks.get(self.pos + 1) == Some(&Tok::LParen) {
            self.pos += 2;
            let field = if self.peek() == Some(&Tok::RParen) {
                None
            } else {
                Some(self.path()?)
            };
            self.expect(Tok::RParen)?;
            let alias = match self.peek() {
                Some(Tok::Ident(s)) if field.is_some() && !s.eq_ignore_ascii_case("FROM") => {
                    let s = s.clone();
                    self.pos += 1;
                    Some(s)
                }
                _ => None,
            };
            return Ok(SelectItem::Count { field, alias });
        }
        Ok(SelectItem::Field(self.path()?))
    }

    fn condition(&mut self) -> Result<Cond, SfError> {
        let first = self.term()?;
        let mut terms = vec![first];
        let mut joiner: Option<bool> = None; // Some(true) = AND
        loop {
            let and = if self.is_kw("AND") {
                true
            } else if self.is_kw("OR") {
                false
            } else {
                break;
            };
            if joiner.is_some_and(|j| j != and) {
                return Err(self.unexpected());
            }
            joiner = Some(and);
            self.pos += 1;
            terms.push(self.term()?);
        }
        Ok(match (joiner, terms.len()) {
            (_, 1) => terms.pop().unwrap_or(Cond::And(Vec::new())),
            (Some(false), _) => Cond::Or(terms),
            _ => Cond::And(terms),
        })
    }

    fn term(&mut self) -> Result<Cond, SfError> {
        if self.eat_kw("NOT") {
            return Ok(Cond::Not(Box::new(self.term()?)));
        }
        if self.peek() == Some(&Tok::LParen) {
            self.pos += 1;
            let c = self.condition()?;
            self.expect(Tok::RParen)?;
            return Ok(c);
        }
        let path = self.path()?;
        if self.eat_kw("LIKE") {
            return match self.next() {
                Some(Tok::Str(s)) => Ok(Cond::Like(path, s)),
                _ => {
                    self.pos -= 1;
                    Err(self.unexpected())
                }
            };
        }
        let negated = self.eat_kw("NOT");
        if self.eat_kw("IN") {
            self.expect(Tok::LParen)?;
            if self.is_kw("SELECT") {
                let sub = self.query()?;
                self.expect(Tok::RParen)?;
                return Ok(Cond::In(path, InList::Sub(Box::new(sub)), negated));
            }
            let mut values = Vec::new();
            loop {
                values.push(self.value()?);
                match self.next() {
                    Some(Tok::Comma) => continue,
                    Some(Tok::RParen) => break,
                    _ => {
                        self.pos -= 1;
                        return Err(self.unexpected());
                    }
                }
            }
            return Ok(Cond::In(path, InList::Values(values), negated));
        }
        if negated {
            return Err(self.unexpected());
        }
        let op = match self.next() {
            Some(Tok::Op(op)) => op,
            _ => {
                self.pos -= 1;
                return Err(self.unexpected());
            }
        };
        Ok(Cond::Cmp(path, op, self.value()?))
    }

    fn value(&mut self) -> Result<Lit, SfError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(Lit::Str(s)),
            Some(Tok::Num(n)) => Decimal::from_str(&n)
                .map(Lit::Num)
                .map_err(|_| SfError::malformed_query(format!("unexpected token: '{n}'"))),
            Some(Tok::Date(d)) => Ok(Lit::Date(d)),
            Some(Tok::DateTime(t)) => Ok(Lit::DateTime(t)),
            Some(Tok::Ident(s)) => {
                let up = s.to_ascii_uppercase();
                match up.as_str() {
                    "TRUE" => Ok(Lit::Bool(true)),
                    "FALSE" => Ok(Lit::Bool(false)),
                    "NULL" => Ok(Lit::Null),
                    _ if RELATIVE.contains(&up.as_str()) => {
                        if up.contains("_N_") {
                            self.expect(Tok::Colon)?;
                            let n = self.usize_value()? as i64;
                            Ok(Lit::Relative(up, Some(n)))
                        } else {
                            Ok(Lit::Relative(up, None))
                        }
                    }
                    _ => {
                        self.pos -= 1;
                        Err(self.unexpected())
                    }
                }
            }
            _ => {
                self.pos -= 1;
                Err(self.unexpected())
            }
        }
    }
}

/// Parses one SOQL query.
pub fn parse(q: &str) -> Result<Query, SfError> {
    let toks = lex(q)?;
    if toks.is_empty() {
        return Err(SfError::malformed_query("unexpected token: end of query"));
    }
    let mut p = Parser { toks, pos: 0 };
    let query = p.query()?;
    if p.pos < p.toks.len() {
        return Err(p.unexpected());
    }
    Ok(query)
}

/// `LIKE` matching: `%` any run, `_` one character, `\%`/`\_` literal; case-insensitive.
pub fn like(pattern: &str, text: &str) -> bool {
    #[derive(Clone, Copy, PartialEq)]
    enum P {
        Any,
        One,
        Ch(char),
    }
    let mut pat = Vec::new();
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '%' => pat.push(P::Any),
            '_' => pat.push(P::One),
            '\\' => pat.push(P::Ch(chars.next().unwrap_or('\\'))),
            c => pat.push(P::Ch(c)),
        }
    }
    let text: Vec<char> = text.chars().collect();
    // Dynamic programming over (pattern position, text position).
    let mut dp = vec![false; text.len() + 1];
    dp[0] = true;
    for p in &pat {
        let mut next = vec![false; text.len() + 1];
        match p {
            P::Any => {
                let mut seen = false;
                for i in 0..=text.len() {
                    seen |= dp[i];
                    next[i] = seen;
                }
            }
            P::One => {
                if !text.is_empty() {
                    next[1..].copy_from_slice(&dp[..text.len()]);
                }
            }
            P::Ch(c) => {
                for i in 1..=text.len() {
                    next[i] = dp[i - 1] && text[i - 1].to_lowercase().eq(c.to_lowercase());
                }
            }
        }
        dp = next;
    }
    dp[text.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_grammar() {
        let q = parse(
            "SELECT Id, Account.Name, (SELECT Quantity FROM OpportunityLineItems) FROM Opportunity \
             WHERE (StageName = 'Closed Won' OR Amount >= 10.5) AND CloseDate = LAST_N_DAYS:30 \
             AND Name LIKE 'A\\_%' AND Id NOT IN ('006000000000001') ORDER BY Amount DESC NULLS LAST, Name LIMIT 10 OFFSET 5",
        )
        .unwrap();
        assert_eq!(q.from, "Opportunity");
        assert_eq!(q.select.len(), 3);
        assert_eq!(q.order.len(), 2);
        assert!(q.order[0].desc && q.order[0].nulls_last);
        assert_eq!((q.limit, q.offset), (Some(10), Some(5)));
        let Some(Cond::And(terms)) = q.filter else {
            panic!("and")
        };
        assert!(matches!(terms[0], Cond::Or(_)));
        assert_eq!(
            terms[1],
            Cond::Cmp(
                vec!["CloseDate".into()],
                Op::Eq,
                Lit::Relative("LAST_N_DAYS".into(), Some(30))
            )
        );
    }

    #[test]
    fn rejects_malformed_queries() {
        for q in [
            "",
            "SELECT FROM Account",
            "SELECT Id Account",
            "SELECT Id FROM Account WHERE",
            "SELECT Id FROM Account WHERE A = 1 AND B = 2 OR C = 3",
            "SELECT Id FROM Account WHERE Name = 'x",
            "SELECT Id FROM Account LIMIT x",
            "SELECT Id FROM Account extra",
        ] {
            assert_eq!(parse(q).unwrap_err().code, "MALFORMED_QUERY", "{q}");
        }
    }

    #[test]
    fn datetime_literals_and_count() {
        let q = parse("select count() from Account where CreatedDate > 2024-01-01T00:00:00Z and x = 2024-02-03").unwrap();
        assert_eq!(
            q.select,
            vec![SelectItem::Count {
                field: None,
                alias: None
            }]
        );
        assert!(parse(
            "SELECT Id FROM Account WHERE SystemModstamp >= 2024-01-01T00:00:00.000+0000"
        )
        .is_ok());
    }

    #[test]
    fn like_matches_wildcards_case_insensitively() {
        assert!(like("acme%", "ACME Corp"));
        assert!(like("%corp", "Acme Corp"));
        assert!(like("a_me", "acme"));
        assert!(!like("a\\_me", "acme"));
        assert!(like("a\\_me", "a_me"));
        assert!(!like("acme", "acme corp"));
    }
}
