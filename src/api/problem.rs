//! The API's error body (RFC 7807 problem+json) and the typed error the client returns.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::excerpt::Excerpt;
use crate::model::rules::InvalidParameter;
use crate::BoxError;

/// An error body as the Application API sends it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub invalid_parameters: Vec<InvalidParameter>,
}

/// What can go wrong talking to the Application API.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The API answered with an error status.
    #[error("{}", describe_status(*status, problem))]
    Status { status: u16, problem: Box<Problem>, retry_after: Option<Duration> },
    /// No answer: the request failed before or while it was sent, or the answer was lost.
    /// (reqwest's error, the source, names the URL.)
    #[error("could not reach the API")]
    Transport {
        url: String,
        /// Whether the request may have reached the API (true unless the connection was never made).
        maybe_sent: bool,
        #[source]
        source: BoxError,
    },
    /// An answer that trying again cannot change: the other end does not speak HTTP (or TLS) as an
    /// API does, or the URL cannot be used at all.
    #[error("the answer is not the API's (it does not speak HTTP, or not TLS)")]
    Protocol {
        url: String,
        #[source]
        source: BoxError,
    },
    /// The API URL cannot be used.
    #[error(transparent)]
    BadUrl(#[from] super::url::BadUrl),
    /// An answer larger than any the API sends.
    #[error("the answer from {url} is larger than {limit} bytes, the most vapp reads")]
    TooLarge { url: String, limit: usize },
    /// An answer that is not what the API documents.
    #[error("unexpected answer from {url}")]
    Decode {
        url: String,
        #[source]
        source: serde_json::Error,
    },
    /// A request body that cannot be written as JSON.
    #[error("cannot write the request body")]
    Encode(#[source] serde_json::Error),
    /// The pages of the application list do not add up to a whole account.
    #[error("cannot read every application from {url}")]
    List {
        url: String,
        #[source]
        source: ListError,
    },
}

/// Why the pages of a list cannot be trusted to hold the whole account. Planning against a partial
/// account would make the applications it missed look deleted, so vapp stops instead.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("the answer says there are {pages} pages of {page_size}; vapp reads at most {max} pages")]
    TooManyPages { pages: u64, page_size: u64, max: u64 },
    #[error("the answers do not add up: {total_pages} pages of {page_size} for {total_items} applications")]
    Inconsistent { total_pages: u64, page_size: u64, total_items: u64 },
    #[error("read {read} applications where the API reports {total_items} (did the account change meanwhile?)")]
    Partial { read: u64, total_items: u64 },
    #[error("the answer lists {count} subaccounts; vapp reads at most {max}")]
    TooMany { count: usize, max: usize },
    #[error("page {page} is empty but links to a next page")]
    EmptyPageWithNext { page: u64 },
    #[error("the next-page link {href:?} does not lead on: {reason}")]
    BadNext { href: String, reason: &'static str },
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// What to do about it, for the command edge to print as `= help:`.
    pub fn help(&self) -> Option<String> {
        match self {
            ApiError::Status { status: 401, .. } => Some("check VONAGE_API_KEY and VONAGE_API_SECRET".into()),
            ApiError::Status { status: 420, .. } => Some(
                "check that the account still owns the number and that the application exists (`vapp plan` shows both)"
                    .into(),
            ),
            ApiError::Protocol { url, .. } if url.starts_with("https:") => {
                Some("is it an http:// address? (an emulator speaks plain HTTP)".into())
            }
            ApiError::Protocol { .. } => Some("check --api-url (or VAPP_API_URL): it must be the API's address".into()),
            ApiError::BadUrl(bad) => Some(bad.help()),
            _ => None,
        }
    }
}

fn describe_status(status: u16, problem: &Problem) -> String {
    // Every word here is the server's: quoted printable, on one line, bounded.
    let quote = |text: &str| Excerpt::of(text.as_bytes(), SERVER_TEXT).to_string();
    let title = quote(&problem.title);
    let detail = problem.detail.as_deref().map(quote).unwrap_or_default();
    let instance = problem.instance.as_deref().map(|i| format!(" (instance {})", quote(i))).unwrap_or_default();
    match status {
        401 => format!("the API refused the credentials (401 {title}){instance}"),
        400 if !problem.invalid_parameters.is_empty() => {
            let mut out = format!("the API rejected the request (400 {title}):");
            for p in &problem.invalid_parameters {
                out.push_str(&format!("\n  - {}: {}", quote(&p.name), quote(&p.reason)));
            }
            out
        }
        404 => format!("not found (404): {detail}{instance}"),
        // The Numbers API's answer to a change it will not make.
        420 => format!(
            "the Numbers API refused the change (420 {title}): the account does not own the number, or the application does not exist"
        ),
        429 => format!("rate limited by the API (429 {title}): {detail}{instance}"),
        _ if detail.is_empty() => format!("the API answered {status} {title}{instance}"),
        _ => format!("the API answered {status} {title}: {detail}{instance}"),
    }
}

/// The most characters of one server-given text (a title, a detail) that a message quotes.
const SERVER_TEXT: usize = 200;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_get_guidance_not_status_codes() {
        let e = ApiError::Status {
            status: 401,
            problem: Box::new(Problem { title: "Invalid credentials supplied".into(), ..Default::default() }),
            retry_after: None,
        };
        assert_eq!(e.to_string(), "the API refused the credentials (401 Invalid credentials supplied)");
        assert_eq!(e.help().as_deref(), Some("check VONAGE_API_KEY and VONAGE_API_SECRET"));
        let e = ApiError::Status {
            status: 400,
            problem: Box::new(Problem {
                title: "Bad Request".into(),
                invalid_parameters: vec![InvalidParameter {
                    name: "capabilities.voice.region".into(),
                    reason: "must be one of: eu-west".into(),
                }],
                ..Default::default()
            }),
            retry_after: None,
        };
        assert_eq!(
            e.to_string(),
            "the API rejected the request (400 Bad Request):\n  - capabilities.voice.region: must be one of: eu-west"
        );
    }
}
