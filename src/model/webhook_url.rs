//! A webhook's address, which may carry a secret in its user info (`https://bot:PASSWORD@host/`, or a
//! token as the user name: `https://TOKEN@host/`). The one type for it everywhere, after uv's
//! `DisplaySafeUrl`.
//!
//! Invariants:
//! - `Display` and `Debug` replace the secret with `***`: a message, log line, plan or panic that
//!   prints a webhook shows no secret. [`WebhookUrl::expose`] gives the text whole, for the two places
//!   that need it: the body sent to Vonage and the request `check` sends.
//! - `Serialize` writes the text whole: it is the wire form of an application. What vapp keeps or shows
//!   goes through [`WebhookUrl::comparable`] (the state, the plan's values) or [`redact_text`] first.
//! - Every form keeps the text as written apart from the secret: no normalising, so comparing two
//!   forms of the same address never finds a difference that is not there.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

/// What a secret shows as.
pub const REDACTED: &str = "***";

/// What stands for a secret in the comparable form: this prefix, then 64 hex digits.
pub const DIGEST_PREFIX: &str = "sha256-";

/// What stands for a digest in an encrypted state: this prefix, then the digest sealed with the state's
/// passphrase (URL-safe base64). Read without the passphrase, it stays as it is and compares as unknown.
pub const SEALED_PREFIX: &str = "sealed-";

/// Mixed into every digest, so that a digest of a webhook password is of no use anywhere else.
const DIGEST_CONTEXT: &[u8] = b"vapp webhook url secret\0";

#[derive(Clone, Default, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl WebhookUrl {
    pub fn new(url: impl Into<String>) -> Self {
        WebhookUrl(url.into())
    }

    /// The URL as written, secret included: only for sending it to Vonage or calling it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether the URL carries a secret in its user info (one already shown as `***` is none).
    pub fn has_secret(&self) -> bool {
        secret_span(&self.0).is_some_and(|span| &self.0[span] != REDACTED)
    }

    /// The form the planner compares and the state keeps: the secret replaced by its SHA-256 digest,
    /// so a changed password shows as a change and the password itself is kept nowhere.
    /// A comparable form (an application read back from the state) is its own comparable form.
    pub fn comparable(&self) -> String {
        match secret_span(&self.0) {
            Some(span)
                if is_digest(&self.0[span.clone()])
                    || is_sealed(&self.0[span.clone()])
                    || &self.0[span.clone()] == REDACTED =>
            {
                self.0.clone()
            }
            Some(span) => {
                let digest = Sha256::new().chain_update(DIGEST_CONTEXT).chain_update(&self.0[span.clone()]).finalize();
                replace(&self.0, span, &format!("{DIGEST_PREFIX}{digest:x}"))
            }
            None => self.0.clone(),
        }
    }

    /// The URL with its secret replaced by `with`: how a manifest written by `export` refers to a
    /// password it must not hold (`${VARIABLE}`).
    pub fn with_secret_replaced(&self, with: &str) -> String {
        match secret_span(&self.0) {
            Some(span) => replace(&self.0, span, with),
            None => self.0.clone(),
        }
    }
}

impl From<&str> for WebhookUrl {
    fn from(text: &str) -> Self {
        WebhookUrl::new(text)
    }
}

impl fmt::Display for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redact_text(&self.0))
    }
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WebhookUrl({self})")
    }
}

impl Serialize for WebhookUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(WebhookUrl)
    }
}

/// Serialises a URL as it displays, secret hidden: for reports (`check --format json`).
pub fn serialize_redacted<S: Serializer>(url: &WebhookUrl, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(url)
}

/// `text` with the secret of the URL it holds replaced by `***`, whether the secret is the password
/// itself or its digest (the comparable form). Text that is not a URL with user info comes back as it is.
pub fn redact_text(text: &str) -> Cow<'_, str> {
    match secret_span(text) {
        Some(span) => Cow::Owned(replace(text, span, REDACTED)),
        None => Cow::Borrowed(text),
    }
}

/// Whether two comparable forms of a URL differ in their secret alone: the plan says "password
/// changed" and shows the same redacted text on both sides.
pub fn only_secret_differs(before: &str, after: &str) -> bool {
    before != after
        && secret_span(before).is_some()
        && secret_span(after).is_some()
        && redact_text(before) == redact_text(after)
}

/// Whether a URL's secret is a digest sealed in a state read without its passphrase: compared with
/// another form of the same URL, what its secret is cannot be told, so a difference there is no change.
pub fn has_sealed_secret(text: &str) -> bool {
    secret_span(text).is_some_and(|span| is_sealed(&text[span]))
}

/// `text` with the secret of the URL it holds replaced by what `with` makes of it; `None` when there is
/// no secret, or `with` leaves it as it is. `with` may fail, and its error is returned.
pub fn map_secret<E>(text: &str, with: impl FnOnce(&str) -> Result<Option<String>, E>) -> Result<Option<String>, E> {
    let Some(span) = secret_span(text) else { return Ok(None) };
    Ok(with(&text[span.clone()])?.map(|secret| replace(text, span, &secret)))
}

/// What [`each_string`] calls with a string's path and the string.
pub type StringVisitor<'a, E> = dyn FnMut(&[String], &mut String) -> Result<(), E> + 'a;

/// Calls `visit` with the path and a mutable reference of every string in a JSON document, stopping
/// at its first error: how URLs with a secret are found in a saved plan and in a state's records.
pub fn each_string<E>(
    value: &mut serde_json::Value,
    path: &mut Vec<String>,
    visit: &mut StringVisitor<'_, E>,
) -> Result<(), E> {
    match value {
        serde_json::Value::String(text) => visit(path, text),
        serde_json::Value::Array(items) => items.iter_mut().enumerate().try_for_each(|(i, item)| {
            path.push(i.to_string());
            let visited = each_string(item, path, visit);
            path.pop();
            visited
        }),
        serde_json::Value::Object(map) => map.iter_mut().try_for_each(|(key, item)| {
            path.push(key.clone());
            let visited = each_string(item, path, visit);
            path.pop();
            visited
        }),
        _ => Ok(()),
    }
}

/// Where the secret is: the password when there is one, else a user name standing alone (often a
/// token). Found by the URL's shape, not by parsing it whole, so the text around it is left as written.
fn secret_span(text: &str) -> Option<Range<usize>> {
    let start = text.find("://")? + 3;
    let scheme = &text[..start - 3];
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return None;
    }
    let authority_end = text[start..].find(['/', '?', '#']).map_or(text.len(), |i| start + i);
    let at = start + text[start..authority_end].rfind('@')?;
    let user_info = start..at;
    match text[user_info.clone()].find(':') {
        Some(colon) if start + colon + 1 < at => Some(start + colon + 1..at),
        Some(colon) if colon > 0 => Some(start..start + colon),
        Some(_) => None,
        None if at > start => Some(user_info),
        None => None,
    }
}

/// Whether a secret is a digest sealed in an encrypted state.
fn is_sealed(secret: &str) -> bool {
    secret
        .strip_prefix(SEALED_PREFIX)
        .is_some_and(|b64| !b64.is_empty() && b64.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'))
}

/// Whether a secret is a digest that [`WebhookUrl::comparable`] wrote.
pub fn is_digest(secret: &str) -> bool {
    secret.strip_prefix(DIGEST_PREFIX).is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn replace(text: &str, span: Range<usize>, with: &str) -> String {
    let mut out = String::with_capacity(text.len() + with.len());
    out.push_str(&text[..span.start]);
    out.push_str(with);
    out.push_str(&text[span.end..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_prints() {
        let url = WebhookUrl::new("https://bot:hunter2@a.example/answer");
        assert_eq!(
            format!("{url} {url:?}"),
            "https://bot:***@a.example/answer WebhookUrl(https://bot:***@a.example/answer)"
        );
        assert_eq!(url.expose(), "https://bot:hunter2@a.example/answer");
        assert_eq!(WebhookUrl::new("https://tok3n@a.example/").to_string(), "https://***@a.example/");
        assert_eq!(WebhookUrl::new("https://user:@a.example/").to_string(), "https://***:@a.example/");
    }

    #[test]
    fn text_without_a_secret_is_left_as_written() {
        for text in ["https://A.example", "http://a.example:8080/x?y=a@b", "not a url", "mailto:a@b", "https://a/#x@y"]
        {
            assert_eq!(redact_text(text), text);
            assert_eq!(WebhookUrl::new(text).comparable(), text);
            assert!(!WebhookUrl::new(text).has_secret());
        }
    }

    #[test]
    fn the_comparable_form_holds_a_digest_that_follows_the_password() {
        let one = WebhookUrl::new("https://bot:hunter2@a.example/answer").comparable();
        let same = WebhookUrl::new("https://bot:hunter2@a.example/answer").comparable();
        let other = WebhookUrl::new("https://bot:hunter3@a.example/answer").comparable();
        assert!(!one.contains("hunter2"), "{one}");
        assert!(one.starts_with("https://bot:sha256-") && one.ends_with("@a.example/answer"), "{one}");
        assert_eq!(one, same);
        assert_ne!(one, other);
        assert_eq!(WebhookUrl::new(one.as_str()).comparable(), one, "the comparable form is its own");
        assert!(only_secret_differs(&one, &other));
        assert_eq!(redact_text(&one), "https://bot:***@a.example/answer");
        assert!(!only_secret_differs(&one, "https://bot:x@b.example/answer"));
    }

    #[test]
    fn the_wire_form_is_whole_and_a_report_shows_it_redacted() {
        #[derive(Serialize)]
        struct Report {
            #[serde(serialize_with = "serialize_redacted")]
            url: WebhookUrl,
        }
        let url = WebhookUrl::new("https://bot:hunter2@a.example/");
        assert_eq!(serde_json::to_string(&url).unwrap(), "\"https://bot:hunter2@a.example/\"");
        assert_eq!(serde_json::to_string(&Report { url }).unwrap(), r#"{"url":"https://bot:***@a.example/"}"#);
    }

    #[test]
    fn export_refers_to_the_password() {
        let url = WebhookUrl::new("https://bot:hunter2@a.example/");
        assert_eq!(url.with_secret_replaced("${PASSWORD}"), "https://bot:${PASSWORD}@a.example/");
    }
}
