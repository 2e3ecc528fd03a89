//! Text rules shared by several mappings.

/// Trims and collapses an empty string to `None`.
pub fn clean(value: Option<&str>) -> Option<String> {
    value
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// Truncates to at most `max` characters (not bytes), never splitting a character.
pub fn truncate_chars(value: &str, max: usize) -> String {
    value.chars().take(max).collect()
}

/// Formats an amount for people: at least two decimals (more when the amount has sub-cent
/// digits, so nothing exact is hidden), a comma every three digits, a leading minus when negative:
/// `1234.5` -> `"1,234.50"`, `-0.125` -> `"-0.125"`.
pub fn format_amount(amount: rust_decimal::Decimal) -> String {
    let mut exact = amount.normalize();
    if exact.scale() < 2 {
        exact.rescale(2);
    }
    let text = exact.abs().to_string();
    let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
    let mut grouped = String::with_capacity(whole.len() + whole.len() / 3);
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    let sign = if exact.is_sign_negative() && !exact.is_zero() {
        "-"
    } else {
        ""
    };
    if fraction.is_empty() {
        format!("{sign}{grouped}")
    } else {
        format!("{sign}{grouped}.{fraction}")
    }
}

// ----------------------------------------------------------------- names, limits, emails
// (map-account, map-customer, map-product, build-invoice)

/// Trims and collapses every run of whitespace (spaces, tabs, newlines) to one space.
pub fn collapse_whitespace(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// True for a character that belongs to the character before it on screen: a combining mark,
/// a zero-width joiner, a variation selector, an emoji skin-tone modifier or an emoji tag.
fn extends_previous(c: char) -> bool {
    matches!(c,
        '\u{0300}'..='\u{036F}'     // combining diacritical marks
        | '\u{0483}'..='\u{0489}'   // Cyrillic combining marks
        | '\u{0591}'..='\u{05BD}'   // Hebrew points
        | '\u{064B}'..='\u{065F}'   // Arabic harakat
        | '\u{0900}'..='\u{0903}'   // Devanagari signs
        | '\u{093A}'..='\u{094F}'
        | '\u{1AB0}'..='\u{1AFF}'   // combining diacritical marks extended
        | '\u{1DC0}'..='\u{1DFF}'   // combining diacritical marks supplement
        | '\u{200C}'..='\u{200D}'   // zero-width non-joiner and joiner
        | '\u{20D0}'..='\u{20FF}'   // combining marks for symbols (keycaps)
        | '\u{3099}'..='\u{309A}'   // kana voicing marks
        | '\u{FE00}'..='\u{FE0F}'   // variation selectors (emoji presentation)
        | '\u{FE20}'..='\u{FE2F}'   // combining half marks
        | '\u{1F3FB}'..='\u{1F3FF}' // emoji skin-tone modifiers
        | '\u{E0020}'..='\u{E007F}' // emoji tag sequences (subdivision flags)
        | '\u{E0100}'..='\u{E01EF}' // variation selectors supplement
    )
}

fn is_regional_indicator(c: char) -> bool {
    ('\u{1F1E6}'..='\u{1F1FF}').contains(&c)
}

/// Truncates to at most `max` characters (Unicode scalar values, the unit QBO and Salesforce
/// count), never splitting a character and never cutting what reads as one character: a letter
/// keeps its combining accents, an emoji its skin tone or ZWJ family members, a flag both of
/// its regional indicators. When the cut would fall inside such a sequence the whole sequence is
/// dropped, so the result may be a little shorter than `max`. Trailing whitespace left by the
/// cut is trimmed.
pub fn truncate_for_display(value: &str, max: usize) -> String {
    // Most text fits: no character is more than one byte, so counting bytes settles it without
    // collecting the characters.
    if value.len() <= max {
        return value.to_string();
    }
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= max {
        return value.to_string();
    }
    let mut cut = max;
    while cut > 0 {
        let next = chars.get(cut).copied();
        let prev = chars.get(cut - 1).copied();
        let inside_sequence = next.is_some_and(extends_previous) || prev == Some('\u{200D}') || {
            // A flag is a pair of regional indicators: never keep an odd one at the end.
            let run = chars
                .get(..cut)
                .unwrap_or_default()
                .iter()
                .rev()
                .take_while(|c| is_regional_indicator(**c))
                .count();
            next.is_some_and(is_regional_indicator) && run % 2 == 1
        };
        if !inside_sequence {
            break;
        }
        cut -= 1;
    }
    let kept: String = chars.get(..cut).unwrap_or_default().iter().collect();
    kept.trim_end().to_string()
}

/// A QBO list name (`DisplayName`, Item `Name`): trimmed, whitespace runs collapsed to one
/// space, every `:` replaced by `-` (QBO uses `:` to separate parent and child names and refuses
/// it in a name), at most `max` characters. Idempotent.
pub fn qbo_name(value: &str, max: usize) -> String {
    let cleaned = collapse_whitespace(&value.replace(':', "-"));
    truncate_for_display(&cleaned, max)
}

/// A free-text value held by a system with a length limit: trimmed, `None` when empty, at most
/// `max` characters. Idempotent.
pub fn limited(value: Option<&str>, max: usize) -> Option<String> {
    clean(value)
        .map(|v| truncate_for_display(&v, max))
        .filter(|v| !v.is_empty())
}

/// The basic shape of an email address both systems accept: exactly one `@`, something before
/// it, a domain with a dot that neither starts nor ends it, and no whitespace. Deliberately
/// loose: the mail server has the last word.
pub fn is_valid_email(value: &str) -> bool {
    let v = value.trim();
    if v.chars().any(char::is_whitespace) {
        return false;
    }
    let mut parts = v.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
}
