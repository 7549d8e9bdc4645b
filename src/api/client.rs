//! The HTTP client of the Application API: reqwest over rustls, Basic auth, problem+json errors.

use std::fmt;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::Value;

use bytes::Bytes;

use super::{ApiError, ApplicationApi, Problem, RetryPolicy};
use crate::model::Application;

pub const DEFAULT_API_URL: &str = "https://api.nexmo.com";
/// The largest page the API serves; fewer pages means fewer round trips.
pub const LIST_PAGE_SIZE: u32 = 100;

/// The account's API key and secret. The secret never prints.
#[derive(Clone)]
pub struct Credentials {
    pub api_key: String,
    api_secret: String,
}

impl Credentials {
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Credentials { api_key: api_key.into(), api_secret: api_secret.into() }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("api_key", &self.api_key).field("api_secret", &"<redacted>").finish()
    }
}

#[derive(Clone, Debug)]
pub struct ClientConfig {
    pub base_url: String,
    pub credentials: Credentials,
    /// Pages fetched at once when listing, after the first.
    pub list_concurrency: usize,
    pub request_timeout: Duration,
    /// How idempotent calls are retried; POST never is.
    pub retry: RetryPolicy,
}

impl ClientConfig {
    pub fn new(base_url: impl Into<String>, credentials: Credentials) -> Self {
        ClientConfig {
            base_url: base_url.into(),
            credentials,
            list_concurrency: 16,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
        }
    }
}

/// The Application API over HTTP.
#[derive(Clone, Debug)]
pub struct Client {
    http: reqwest::Client,
    base_url: String,
    credentials: Credentials,
    list_concurrency: usize,
    retry: RetryPolicy,
}

#[derive(Deserialize)]
struct ListPage {
    #[serde(default)]
    total_pages: Option<u32>,
    #[serde(rename = "_embedded", default)]
    embedded: Option<Embedded>,
}

#[derive(Deserialize)]
struct Embedded {
    #[serde(default)]
    applications: Vec<Application>,
}

impl Client {
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(ACCEPT, HeaderValue::from_static("application/json"));
        let http = reqwest::Client::builder()
            .user_agent(concat!("vapp/", env!("CARGO_PKG_VERSION")))
            .default_headers(headers)
            .timeout(config.request_timeout)
            .connect_timeout(Duration::from_secs(10))
            .pool_max_idle_per_host(config.list_concurrency.max(16))
            .build()
            .map_err(|e| ApiError::Transport {
                url: config.base_url.clone(),
                message: e.to_string(),
                maybe_sent: false,
            })?;
        Ok(Client {
            http,
            base_url: config.base_url.trim_end_matches('/').to_string(),
            credentials: config.credentials,
            list_concurrency: config.list_concurrency.max(1),
            retry: config.retry,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    fn request(&self, method: &Method, path: &str) -> RequestBuilder {
        self.http
            .request(method.clone(), self.url(path))
            .basic_auth(&self.credentials.api_key, Some(&self.credentials.api_secret))
    }

    /// Sends one call and reads its whole answer; idempotent calls are retried as [`RetryPolicy`] says.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Bytes, ApiError> {
        let url = self.url(path);
        let idempotent = method != Method::POST;
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.request(&method, path);
            if let Some(body) = body {
                request = request.json(body);
            }
            let error = match request.send().await {
                Ok(response) if response.status().is_success() => match response.bytes().await {
                    Ok(bytes) => return Ok(bytes),
                    // The answer was lost on the way: the call may well have happened.
                    Err(e) => transport_error(&url, &e, true),
                },
                Ok(response) => status_error(response).await,
                Err(e) => transport_error(&url, &e, !e.is_connect()),
            };
            match self.retry.delay(attempt, &error, started.elapsed()) {
                Some(delay) if idempotent => tokio::time::sleep(delay).await,
                _ => return Err(error),
            }
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, ApiError> {
        let bytes = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| ApiError::Decode { url: self.url(path), message: e.to_string() })
    }

    async fn page(&self, page: u32) -> Result<ListPage, ApiError> {
        self.call_json(Method::GET, &format!("/v2/applications?page_size={LIST_PAGE_SIZE}&page={page}"), None).await
    }
}

impl ApplicationApi for Client {
    async fn list_all(&self) -> Result<Vec<Application>, ApiError> {
        let first = self.page(1).await?;
        // `total_pages` decides how many pages to fetch, so an empty account or a missing `next` link
        // cannot make this loop; pages after the first are fetched concurrently, in order.
        let total_pages = first.total_pages.unwrap_or(1).max(1);
        let mut apps = first.embedded.map(|e| e.applications).unwrap_or_default();
        let rest: Vec<ListPage> = futures::stream::iter(2..=total_pages)
            .map(|page| self.page(page))
            .buffered(self.list_concurrency)
            .try_collect()
            .await?;
        for page in rest {
            apps.extend(page.embedded.map(|e| e.applications).unwrap_or_default());
        }
        Ok(apps)
    }

    async fn get(&self, id: &str) -> Result<Application, ApiError> {
        self.call_json(Method::GET, &format!("/v2/applications/{}", encode_segment(id)), None).await
    }

    async fn create(&self, app: &Application) -> Result<Application, ApiError> {
        self.call_json(Method::POST, "/v2/applications", Some(&app.to_request_body())).await
    }

    async fn update(&self, id: &str, app: &Application) -> Result<Application, ApiError> {
        let path = format!("/v2/applications/{}", encode_segment(id));
        self.call_json(Method::PUT, &path, Some(&app.to_request_body())).await
    }

    async fn delete(&self, id: &str) -> Result<(), ApiError> {
        self.call(Method::DELETE, &format!("/v2/applications/{}", encode_segment(id)), None).await.map(drop)
    }
}

/// Ids come from the API, but are still escaped so that a strange one cannot change the path.
fn encode_segment(id: &str) -> String {
    url::form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>().replace('+', "%20")
}

fn transport_error(url: &str, error: &reqwest::Error, maybe_sent: bool) -> ApiError {
    let mut message = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        message.push_str(": ");
        message.push_str(&cause.to_string());
        source = cause.source();
    }
    ApiError::Transport { url: url.to_string(), message, maybe_sent }
}

async fn status_error(response: reqwest::Response) -> ApiError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = response.bytes().await.unwrap_or_default();
    let problem = serde_json::from_slice::<Problem>(&body).unwrap_or_else(|_| Problem {
        title: status.canonical_reason().unwrap_or("error").to_string(),
        detail: Some(String::from_utf8_lossy(&body).chars().take(200).collect()),
        ..Default::default()
    });
    ApiError::Status { status: status.as_u16(), problem: Box::new(problem), retry_after }
}
