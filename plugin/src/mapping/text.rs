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
