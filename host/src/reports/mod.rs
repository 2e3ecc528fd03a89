//! Rendering the reports the component stored, as its `report` export returns them
//! ([`crate::flow_calls::report`]): the reconciliation and the aging report, each as CSV, JSON
//! and a self-contained HTML page (no external scripts or fonts, readable on a phone). The
//! component computes; the host, which has a filesystem, writes the files ([`files`]).

pub mod after_runs;
pub mod aging;
pub mod chart;
pub mod files;
pub mod reconcile;

use rust_decimal::Decimal;
use std::str::FromStr;

/// The tenant's home currency (its `home-currency` setting, as the flows read it; USD when
/// unset), printed beside every amount.
pub fn currency_of(caps: &crate::tenant::TenantCaps) -> String {
    caps.settings
        .get("home-currency")
        .map(|c| c.trim().to_uppercase())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "USD".into())
}

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Quotes a CSV field when it needs it.
pub fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// An amount the component wrote (WIT `money`, decimal text); zero if it is not one.
pub fn amount(text: &str) -> Decimal {
    Decimal::from_str(text.trim()).unwrap_or_default()
}

/// An amount for people: the currency code, thousands separators, at least two decimals and
/// every digit the component gave (never rounded: a report shows the cents it compared), e.g.
/// `USD 1,199,974.44`. Text that is not an amount is shown as it is.
pub fn display_money(text: &str, currency: &str) -> String {
    let Ok(d) = Decimal::from_str(text.trim()) else {
        return text.to_string();
    };
    let plain = if d.scale() < 2 {
        format!("{:.2}", d)
    } else {
        d.to_string()
    };
    let (sign, digits) = match plain.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", plain.as_str()),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(c);
    }
    let number = if fraction.is_empty() {
        grouped
    } else {
        format!("{grouped}.{fraction}")
    };
    format!("{currency} {sign}{number}")
        .trim_start()
        .to_string()
}

/// A whole page: the title, the style every report shares, and `body`. Self-contained (no
/// script, no font, no image from elsewhere) and laid out for a phone as well as a desk.
pub fn page(title: &str, body: &str) -> String {
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body{{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;padding:1rem;max-width:60rem;color:#1d1d1f;line-height:1.4}}
h1{{font-size:1.4rem;margin:.2rem 0 .6rem}}h2{{font-size:1.1rem;margin-top:1.6rem}}
.cards{{display:flex;flex-wrap:wrap;gap:.6rem}}.card{{flex:1 1 10rem;border:1px solid #d0d0d5;border-radius:.5rem;padding:.6rem .8rem}}
.card b{{display:block;font-size:1.15rem;font-variant-numeric:tabular-nums}}
.scroll{{overflow-x:auto}}table{{border-collapse:collapse;width:100%;font-size:.92rem}}
td,th{{border-bottom:1px solid #e2e2e6;padding:.35rem .5rem;text-align:left;vertical-align:top}}
th{{background:#f4f4f6}}.n{{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}}
.ok{{color:#11702b}}.bad{{color:#a4161a}}svg{{width:100%;height:auto;max-width:40rem}}
svg text{{font-size:20px;fill:#1d1d1f}}.muted{{color:#6b6b70}}
@media (max-width:32rem){{body{{padding:.6rem}}table{{font-size:.8rem}}td,th{{padding:.3rem .3rem}}}}
</style></head>
<body>
{body}
</body></html>
"##,
        title = escape(title),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_and_html_escape_what_they_must() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(escape("<b>&"), "&lt;b&gt;&amp;");
    }

    #[test]
    fn money_shows_the_currency_separators_and_every_cent() {
        assert_eq!(display_money("1199974.44", "USD"), "USD 1,199,974.44");
        assert_eq!(display_money("-1000", "EUR"), "EUR -1,000.00");
        assert_eq!(display_money("999.5", "USD"), "USD 999.50");
        assert_eq!(display_money("0.125", "USD"), "USD 0.125");
        assert_eq!(display_money("12", ""), "12.00");
        assert_eq!(display_money("n/a", "USD"), "n/a");
    }

    #[test]
    fn a_page_is_self_contained_and_sized_for_a_phone() {
        let p = page("A & B", "<p>x</p>");
        assert!(p.contains("<title>A &amp; B</title>"));
        assert!(p.contains("width=device-width"));
        for outside in ["<script", "src=", "@import", "url(", "<link"] {
            assert!(!p.contains(outside), "{outside}");
        }
    }
}
