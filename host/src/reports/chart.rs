//! A horizontal bar chart as inline SVG: a label column, bars scaled to the largest value, and
//! each value written after its bar inside the drawing (the view box leaves room for it, so a
//! figure is never cut off at the page edge). Lengths are whole pixels computed with decimal
//! arithmetic, never through floats.

use super::escape;
use rust_decimal::Decimal;

/// One bar.
pub struct Bar {
    /// What it is, left of the bar.
    pub label: String,
    /// Its length, against the largest value of the chart.
    pub value: Decimal,
    /// What is written after it (the amount as people read it).
    pub shown: String,
    /// Its fill colour.
    pub color: &'static str,
}

// Sized for text of 20 units, which stays readable when a phone scales the drawing down to
// its width (about 0.6).
const LABEL_WIDTH: u32 = 150;
const BAR_WIDTH: u32 = 250;
const ROW: u32 = 40;
/// Room after the longest bar for its figure.
const FIGURE_WIDTH: u32 = 240;

/// Width in pixels of a bar for `value` against `max` over `full` pixels.
pub fn bar_length(value: Decimal, max: Decimal, full: u32) -> u32 {
    if max <= Decimal::ZERO || value <= Decimal::ZERO {
        return 0;
    }
    let px = (value * Decimal::from(full) / max).round();
    u32::try_from(px.mantissa() / 10i128.pow(px.scale())).unwrap_or(full)
}

/// The chart, titled `title` for screen readers.
pub fn bars(title: &str, bars: &[Bar]) -> String {
    let max = bars.iter().map(|b| b.value).max().unwrap_or_default();
    let width = LABEL_WIDTH + BAR_WIDTH + FIGURE_WIDTH;
    let height = ROW * bars.len().max(1) as u32 + 6;
    let mut out = format!(
        r#"<svg viewBox="0 0 {width} {height}" role="img" aria-label="{}">"#,
        escape(title)
    );
    for (i, b) in bars.iter().enumerate() {
        let y = ROW * i as u32 + 6;
        let len = bar_length(b.value, max, BAR_WIDTH);
        out.push_str(&format!(
            r#"<text x="0" y="{ty}">{label}</text><rect x="{LABEL_WIDTH}" y="{y}" width="{len}" height="28" fill="{color}"/><text class="figure" x="{fx}" y="{ty}">{shown}</text>"#,
            ty = y + 21,
            label = escape(&b.label),
            color = b.color,
            fx = LABEL_WIDTH + len + 6,
            shown = escape(&b.shown),
        ));
    }
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_scale_to_the_largest_and_figures_stay_inside_the_drawing() {
        assert_eq!(
            bar_length(Decimal::new(20000, 2), Decimal::new(30000, 2), 330),
            220
        );
        assert_eq!(bar_length(Decimal::new(1, 0), Decimal::new(3, 0), 250), 83);
        assert_eq!(bar_length(Decimal::ZERO, Decimal::ONE, 330), 0);
        let svg = bars(
            "Totals",
            &[
                Bar {
                    label: "Salesforce".into(),
                    value: Decimal::new(119997444, 2),
                    shown: "USD 1,199,974.44".into(),
                    color: "#1f77b4",
                },
                Bar {
                    label: "QuickBooks".into(),
                    value: Decimal::new(59998722, 2),
                    shown: "USD 599,987.22".into(),
                    color: "#2ca02c",
                },
            ],
        );
        assert!(svg.contains(r#"viewBox="0 0 640 86""#), "{svg}");
        assert!(svg.contains(r##"width="250" height="28" fill="#1f77b4""##));
        assert!(svg.contains(r##"width="125" height="28" fill="#2ca02c""##));
        // The longest bar's figure starts 6 units after it and has the rest of the view box.
        assert!(svg.contains(r#"x="406" y="27">USD 1,199,974.44<"#), "{svg}");
    }
}
