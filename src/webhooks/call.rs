//! The HTTP side of calling a webhook, as Vonage would: within the webhook's connect and socket
//! timeouts, reading at most [`MAX_ANSWER_BYTES`] of the answer, never following a redirect (a 3xx is
//! handed back with its `Location` for the caller to judge).
//!
//! Invariants: every call ends within `socket_timeout` (connection included), whatever the server
//! does (never answers, drips an endless body, redirects in a loop); nothing here retries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::hooks::{Method, WebhookUrl};

/// The most of an answer that is read: an NCCO is small, and Vonage reads no more.
pub const MAX_ANSWER_BYTES: usize = 1024 * 1024;

/// One request to a webhook.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub method: Method,
    pub url: WebhookUrl,
    /// Added to the URL's query (a GET's answer fields).
    pub query: Vec<(String, String)>,
    /// A JSON body (a POST's).
    pub body: Option<Vec<u8>>,
    /// `Authorization: Bearer` (a signed request).
    pub bearer: Option<String>,
    pub connect_timeout: Duration,
    /// How long the whole answer may take, connection included.
    pub socket_timeout: Duration,
    /// The answer is read whole (an NCCO): more than [`MAX_ANSWER_BYTES`] is a failure. Otherwise the
    /// status is what counts, and reading stops there.
    pub whole_answer: bool,
}

/// What came back.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    /// The `Content-Type` it was served as.
    pub content_type: Option<String>,
    /// The `Location` of a redirect.
    pub location: Option<String>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// Why no answer came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CallFailure {
    #[error("not a URL that can be called: {0}")]
    BadUrl(String),
    #[error("connection refused")]
    Refused,
    #[error("no connection within the {ms} ms connect_timeout")]
    ConnectTimeout { ms: u128 },
    #[error("timed out after {ms} ms")]
    TimedOut { ms: u128 },
    #[error("the connection was closed before an answer came")]
    Closed,
    #[error("the answer is larger than {limit} bytes (1 MiB)")]
    TooLarge { limit: usize },
    #[error("cannot reach it: {0}")]
    Unreachable(String),
}

impl CallFailure {
    /// "Offline", in the words of the fallback rules: no answer at all.
    pub fn is_offline(&self) -> bool {
        !matches!(self, CallFailure::TooLarge { .. })
    }
}

/// Calls webhooks. Clients are kept per connect timeout (reqwest sets it per client), so connections
/// to one server are reused across calls.
#[derive(Default)]
pub struct Caller {
    clients: Mutex<HashMap<Duration, reqwest::Client>>,
}

impl Caller {
    pub fn new() -> Self {
        Self::default()
    }

    fn client(&self, connect_timeout: Duration) -> Result<reqwest::Client, CallFailure> {
        let mut clients = self.clients.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(client) = clients.get(&connect_timeout) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(connect_timeout)
            // A proxy from the environment would be another server between vapp and the webhook,
            // and Vonage calls it directly.
            .no_proxy()
            .user_agent(concat!("vapp/", env!("CARGO_PKG_VERSION"), " (webhook check)"))
            .build()
            .map_err(|e| CallFailure::Unreachable(e.to_string()))?;
        clients.insert(connect_timeout, client.clone());
        Ok(client)
    }

    /// Sends `outgoing` and reads its answer, within its timeouts.
    pub async fn call(&self, outgoing: &Outgoing) -> Result<Answer, CallFailure> {
        let mut url = url::Url::parse(outgoing.url.expose()).map_err(|e| CallFailure::BadUrl(e.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(CallFailure::BadUrl(format!("the scheme {} is not http or https", url.scheme())));
        }
        // A signed request carries its token in `Authorization`: a user and password in the URL would
        // make a second `Authorization` header (Basic), which the token must not share.
        if outgoing.bearer.is_some() && (!url.username().is_empty() || url.password().is_some()) {
            let _ = url.set_username("");
            let _ = url.set_password(None);
        }
        if !outgoing.query.is_empty() {
            url.query_pairs_mut().extend_pairs(outgoing.query.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        }
        let client = self.client(outgoing.connect_timeout)?;
        let mut request = match outgoing.method {
            Method::Get => client.get(url),
            Method::Post => client.post(url),
        };
        if let Some(body) = &outgoing.body {
            request = request.header(reqwest::header::CONTENT_TYPE, "application/json").body(body.clone());
        }
        if let Some(token) = &outgoing.bearer {
            request = request.bearer_auth(token);
        }
        let started = Instant::now();
        let limit = outgoing.socket_timeout;
        let exchange = async {
            let mut response = request.send().await.map_err(|e| failure(&e, outgoing.connect_timeout))?;
            let status = response.status().as_u16();
            let header = |name| {
                response
                    .headers()
                    .get(name)
                    .map(|v: &reqwest::header::HeaderValue| String::from_utf8_lossy(v.as_bytes()).into_owned())
            };
            let location = header(reqwest::header::LOCATION);
            let content_type = header(reqwest::header::CONTENT_TYPE);
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(|e| failure(&e, outgoing.connect_timeout))? {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    if !outgoing.whole_answer {
                        break;
                    }
                    return Err(CallFailure::TooLarge { limit: MAX_ANSWER_BYTES });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Answer { status, content_type, location, body, elapsed: started.elapsed() })
        };
        match tokio::time::timeout(limit, exchange).await {
            Ok(answer) => answer,
            Err(_) => Err(CallFailure::TimedOut { ms: limit.as_millis() }),
        }
    }
}

fn failure(error: &reqwest::Error, connect_timeout: Duration) -> CallFailure {
    if error.is_connect() {
        if error.is_timeout() {
            return CallFailure::ConnectTimeout { ms: connect_timeout.as_millis() };
        }
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                if io.kind() == std::io::ErrorKind::ConnectionRefused {
                    return CallFailure::Refused;
                }
            }
            source = cause.source();
        }
    }
    // Closed or reset before the answer: what Vonage tries again.
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(cause) = source {
        if let Some(hyper) = cause.downcast_ref::<hyper::Error>() {
            if hyper.is_incomplete_message() || hyper.is_closed() {
                return CallFailure::Closed;
            }
        }
        if let Some(io) = cause.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::{BrokenPipe, ConnectionAborted, ConnectionReset, UnexpectedEof};
            if matches!(io.kind(), ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof) {
                return CallFailure::Closed;
            }
        }
        source = cause.source();
    }
    // The innermost cause says most (reqwest's own words are "error sending request").
    let mut innermost: &(dyn std::error::Error + 'static) = error;
    while let Some(cause) = innermost.source() {
        innermost = cause;
    }
    CallFailure::Unreachable(innermost.to_string())
}
