//! Slack-style notifications over the `notify` connection: one JSON `{"text"}` per message, in
//! Slack's markup: `&`, `<` and `>` escaped in text, `<url|text>` links, mentions in a format
//! the tenant sets (`<@U024BE7LH>`).

use super::error::ApiError;
use crate::platform::{Http, HttpRequest, Method};
use serde_json::json;
use std::fmt;

/// Text in the chat tool's markup. Plain text only ever enters escaped ([`Markup::plain`], and
/// `From<String>`), so a name read from an API cannot inject a link or a mention; links and
/// mentions enter only through their constructors.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Markup(String);

/// `text` with Slack's control characters escaped: `&` -> `&amp;`, `<` -> `&lt;`, `>` -> `&gt;`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// `segment` (an id put into a URL) with everything but unreserved characters percent-encoded.
pub fn url_segment(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    for b in segment.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Markup {
    /// Plain text, escaped.
    pub fn plain(text: &str) -> Self {
        Self(escape(text))
    }

    /// A link to `url` shown as `text` (`<url|text>`); the URL's control characters are escaped
    /// and a `|` in it encoded, so that neither ends the link early.
    pub fn link(url: &str, text: &str) -> Self {
        let url = escape(url).replace('|', "%7C");
        if text.is_empty() {
            return Self(format!("<{url}>"));
        }
        Self(format!("<{url}|{}>", escape(text)))
    }

    /// A mention of chat user `user` in `format` (which holds `{user}`, e.g. `<@{user}>`). Both
    /// come from the tenant's settings, which refuse a user id with markup in it.
    pub fn mention(format: &str, user: &str) -> Self {
        Self(format.replace("{user}", user))
    }

    /// Appends `other`.
    pub fn push(&mut self, other: impl Into<Markup>) -> &mut Self {
        self.0.push_str(&other.into().0);
        self
    }

    /// Appends plain text, escaped.
    pub fn push_plain(&mut self, text: &str) -> &mut Self {
        self.0.push_str(&escape(text));
        self
    }

    /// `self` followed by `other`.
    pub fn then(mut self, other: impl Into<Markup>) -> Self {
        self.push(other);
        self
    }

    /// `parts` joined by plain `separator`.
    pub fn join(parts: &[Markup], separator: &str) -> Self {
        let mut out = Self::default();
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                out.push_plain(separator);
            }
            out.push(p.clone());
        }
        out
    }

    /// The marked-up text, as sent.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when there is no text.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Markup {
    fn from(text: &str) -> Self {
        Self::plain(text)
    }
}

impl From<String> for Markup {
    fn from(text: String) -> Self {
        Self::plain(&text)
    }
}

impl fmt::Display for Markup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Posts one message. A tenant without a `notify` connection gets a transport error, which the
/// flows record and otherwise ignore: a failed notification never fails a sync.
pub fn post(http: &dyn Http, text: &Markup) -> Result<(), ApiError> {
    let response = http
        .send(HttpRequest {
            method: Method::Post,
            url: "http://notify/".into(),
            headers: vec![("content-type", "application/json".into())],
            body: Some(json!({ "text": text.as_str() }).to_string().into_bytes()),
        })
        .map_err(ApiError::Transport)?;
    if (200..300).contains(&response.status) {
        Ok(())
    } else {
        Err(ApiError::Api {
            status: response.status,
            code: String::new(),
            message: String::from_utf8_lossy(&response.body).into_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_and_links_and_mentions_are_markup() {
        assert_eq!(
            Markup::plain("A<B> & <@U1> <https://x|y>").as_str(),
            "A&lt;B&gt; &amp; &lt;@U1&gt; &lt;https://x|y&gt;"
        );
        assert_eq!(
            Markup::link("https://q.example/i?a=1&b=2", "A<B|C>").as_str(),
            "<https://q.example/i?a=1&amp;b=2|A&lt;B|C&gt;>"
        );
        assert_eq!(
            Markup::link("https://x.example/a|b>", "").as_str(),
            "<https://x.example/a%7Cb&gt;>"
        );
        let mut line = Markup::plain("Owner ");
        line.push(Markup::mention("<@{user}>", "U024BE7LH"))
            .push_plain(" & ")
            .push("Bob<");
        assert_eq!(line.as_str(), "Owner <@U024BE7LH> &amp; Bob&lt;");
        assert_eq!(
            Markup::join(&["a&".into(), Markup::link("https://x", "b")], ", ").as_str(),
            "a&amp;, <https://x|b>"
        );
        assert_eq!(url_segment("006A0/ x|"), "006A0%2F%20x%7C");
    }
}
