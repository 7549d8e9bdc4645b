//! The HTTP client of the Application API: reqwest over rustls, Basic auth, problem+json errors.

use std::fmt;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use reqwest::header::{HeaderMap, HeaderValue, ACCEPT, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{Method, RequestBuilder};
use serde::de::DeserializeOwned;

use bytes::Bytes;

use super::numbers::{
    NumberAnswer, NumberFilter, NumberPage, NumberUpdate, OwnedNumber, MAX_NUMBERS, NUMBERS_PAGE_SIZE,
};
use super::page::ListPage;
use super::url::BaseUrl;
use super::{ApiError, ApplicationApi, ListError, Problem, RetryNotice, RetryObserver, RetryPolicy};
use std::sync::Arc;

use serde_json::value::RawValue;

use super::subaccounts::{NewSubaccount, NumberTransfer, SubaccountChange, SubaccountInfo};
use crate::model::{ApiKey, AppId, Application, Keep, Listed};
use crate::secret::Secret;

pub const DEFAULT_API_URL: &str = "https://api.nexmo.com";
/// The largest page the API serves; fewer pages means fewer round trips.
pub const LIST_PAGE_SIZE: u64 = 100;
/// The most pages a listing reads: a million applications, far beyond any real account, so that an
/// answer claiming endless pages fails instead of running for ever.
pub const MAX_LIST_PAGES: u64 = 10_000;
const LIST_PATH: &str = "/v2/applications";

/// The account's API key and secret. The secret never prints.
#[derive(Clone)]
pub struct Credentials {
    pub api_key: ApiKey,
    api_secret: Secret,
}

impl Credentials {
    pub fn new(api_key: impl Into<String>, api_secret: impl Into<String>) -> Self {
        Credentials { api_key: ApiKey::new(api_key), api_secret: Secret::new(api_secret) }
    }

    /// With a secret already held as one.
    pub fn with_secret(api_key: ApiKey, api_secret: Secret) -> Self {
        Credentials { api_key, api_secret }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("api_key", &self.api_key).field("api_secret", &"<redacted>").finish()
    }
}

#[derive(Clone)]
pub struct ClientConfig {
    pub base_url: BaseUrl,
    pub credentials: Credentials,
    /// Pages fetched at once when listing, after the first.
    pub list_concurrency: usize,
    pub request_timeout: Duration,
    /// How idempotent calls are retried; POST never is.
    pub retry: RetryPolicy,
    /// Hears of each retry.
    pub on_retry: Option<RetryObserver>,
}

impl fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("credentials", &self.credentials)
            .finish()
    }
}

impl ClientConfig {
    pub fn new(base_url: BaseUrl, credentials: Credentials) -> Self {
        ClientConfig {
            base_url,
            credentials,
            list_concurrency: 32,
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            on_retry: None,
        }
    }
}

/// How long `vapp simulate` waits for the emulator's transcript.
const SIMULATE_TIMEOUT: Duration = Duration::from_secs(180);

/// The largest answer vapp reads: a page of a hundred applications is about 100 KB.
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// The Application API over HTTP.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base_url: BaseUrl,
    credentials: Credentials,
    list_concurrency: usize,
    retry: RetryPolicy,
    on_retry: Option<RetryObserver>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client").field("base_url", &self.base_url).field("credentials", &self.credentials).finish()
    }
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
                url: config.base_url.to_string(),
                maybe_sent: false,
                source: e.into(),
            })?;
        Ok(Client {
            http,
            base_url: config.base_url,
            credentials: config.credentials,
            list_concurrency: config.list_concurrency.max(1),
            retry: config.retry,
            on_retry: config.on_retry,
        })
    }

    pub fn base_url(&self) -> &BaseUrl {
        &self.base_url
    }

    /// The same client for another API host (the Numbers API's): one connection pool and one
    /// reading of the system's root certificates serve both.
    pub fn for_base_url(&self, base_url: BaseUrl) -> Client {
        Client { base_url, ..self.clone() }
    }

    /// The same client signed in as another account (a subaccount): one connection pool serves all.
    pub fn for_credentials(&self, credentials: Credentials) -> Client {
        Client { credentials, ..self.clone() }
    }

    /// The API key this client signs in with.
    pub fn api_key(&self) -> &ApiKey {
        &self.credentials.api_key
    }

    /// Asks an emulator to place simulated inbound traffic (`what`: `call` or `message`) and reads
    /// the transcript. Not part of Vonage's API: `vapp simulate` refuses Vonage's hosts before this.
    pub async fn simulate(
        &self,
        kind: crate::webhooks::simulate::TrafficKind,
        body: &serde_json::Value,
    ) -> Result<crate::webhooks::simulate::Transcript, ApiError> {
        let path = format!("/_vapp/simulate/{}", kind.as_str());
        let url = self.url(&path);
        let bytes = serde_json::to_vec(body).map_err(ApiError::Encode)?;
        let response = self
            .request(&Method::POST, &path)
            .header(CONTENT_TYPE, "application/json")
            .body(bytes)
            // The webhooks' own timeouts bound a simulation: an answer URL, two fallbacks and the
            // events of a call, at most.
            .timeout(SIMULATE_TIMEOUT)
            .send()
            .await
            .map_err(|e| transport_error(&url, e, true))?;
        if !response.status().is_success() {
            return Err(status_error(&url, response).await);
        }
        let bytes = read_bounded(&url, response).await?;
        serde_json::from_slice(&bytes).map_err(|source| ApiError::Decode { url, source })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.as_str(), path)
    }

    fn request(&self, method: &Method, path: &str) -> RequestBuilder {
        self.http
            .request(method.clone(), self.url(path))
            .basic_auth(self.credentials.api_key.as_str(), Some(self.credentials.api_secret.expose()))
    }

    /// Sends one call and reads its whole answer; idempotent calls are retried as [`RetryPolicy`] says.
    async fn call(&self, method: Method, path: &str, body: Option<Bytes>) -> Result<Bytes, ApiError> {
        // Only a create is not idempotent: the executor first finds out whether it happened.
        let idempotent = method != Method::POST;
        let body = body.map(|bytes| Body { content_type: "application/json", bytes });
        self.send(method, path, body, idempotent).await
    }

    /// Sends one request and reads its whole answer; `idempotent` ones are retried as
    /// [`RetryPolicy`] says.
    async fn send(&self, method: Method, path: &str, body: Option<Body>, idempotent: bool) -> Result<Bytes, ApiError> {
        let url = self.url(path);
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let mut request = self.request(&method, path);
            if let Some(body) = &body {
                request = request.header(CONTENT_TYPE, body.content_type).body(body.bytes.clone());
            }
            let error = match request.send().await {
                Ok(response) if response.status().is_success() => match read_bounded(&url, response).await {
                    Ok(bytes) => return Ok(bytes),
                    Err(e) => e,
                },
                Ok(response) => status_error(&url, response).await,
                Err(e) => {
                    let maybe_sent = !e.is_connect();
                    transport_error(&url, e, maybe_sent)
                }
            };
            match self.retry.delay(attempt, &error, started.elapsed()) {
                Some(delay) if idempotent => {
                    if let Some(observer) = &self.on_retry {
                        let cause = crate::humanise::chain(&error);
                        observer(&RetryNotice {
                            url: url.clone(),
                            attempt,
                            delay,
                            budget: self.retry.worst_case(),
                            cause,
                        });
                    }
                    tokio::time::sleep(delay).await
                }
                _ => return Err(error),
            }
        }
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> Result<T, ApiError> {
        let bytes = self.call(method, path, body).await?;
        serde_json::from_slice(&bytes).map_err(|source| ApiError::Decode { url: self.url(path), source })
    }

    /// Page `page` of the list, read off the task that drives the other requests (so that pages are
    /// read on every core while the next ones arrive), each application turned into what `convert`
    /// makes of its JSON there: a page is never held whole longer than it takes to read it.
    async fn page<T: Send + 'static>(&self, page: u64, convert: Convert<T>) -> Result<Page<T>, ApiError> {
        let path = format!("{LIST_PATH}?page_size={LIST_PAGE_SIZE}&page={page}");
        let bytes = self.call(Method::GET, &path, None).await?;
        let url = self.url(&path);
        let parsed = tokio::task::spawn_blocking(move || {
            Page::read(&bytes, &*convert).map_err(|source| ApiError::Decode { url, source })
        })
        .await;
        parsed.unwrap_or_else(|stopped| {
            Err(ApiError::Transport { url: self.url(&path), maybe_sent: false, source: stopped.into() })
        })
    }

    /// Follows `_links.next` from `first`, one page after another: for answers without `total_pages`.
    async fn follow_next<T: Send + 'static>(&self, first: Page<T>, convert: Convert<T>) -> Result<Vec<T>, ApiError> {
        let list_error = |source| ApiError::List { url: self.url(LIST_PATH), source };
        let mut items = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let mut page = first;
        for number in 1..=MAX_LIST_PAGES {
            let next = page.next.take();
            if page.items.is_empty() && next.is_some() {
                return Err(list_error(ListError::EmptyPageWithNext { page: number }));
            }
            items.append(&mut page.items);
            let Some(next) = next else { return Ok(items) };
            let path = self
                .next_path(&next.href)
                .map_err(|reason| list_error(ListError::BadNext { href: next.href.clone(), reason }))?;
            if !seen.insert(path.clone()) {
                return Err(list_error(ListError::BadNext { href: next.href, reason: "it was already read" }));
            }
            let bytes = self.call(Method::GET, &path, None).await?;
            page = Page::read(&bytes, &*convert).map_err(|source| ApiError::Decode { url: self.url(&path), source })?;
        }
        Err(list_error(ListError::TooManyPages {
            pages: MAX_LIST_PAGES + 1,
            page_size: LIST_PAGE_SIZE,
            max: MAX_LIST_PAGES,
        }))
    }

    /// Every application in the account, each turned into what `convert` makes of its JSON once
    /// `convert` is known (the first page is fetched meanwhile).
    async fn list<T: Identified + Send + 'static>(
        &self,
        convert: impl std::future::Future<Output = Convert<T>>,
    ) -> Result<Vec<T>, ApiError> {
        let list_error = |source| ApiError::List { url: self.url(LIST_PATH), source };
        let raw: Convert<Box<RawValue>> = Arc::new(|json| Ok(json.to_owned()));
        let first = self.page(1, raw).await?;
        let convert = convert.await;
        let first = first.convert(&*convert).map_err(|source| ApiError::Decode { url: self.url(LIST_PATH), source })?;
        let total_items = first.total_items;
        let items = match first.total_pages {
            // The Node and Python SDKs' fixtures show pages without `total_pages`: follow the links.
            None => self.follow_next(first, convert).await?,
            Some(total_pages) => {
                let page_size = first.page_size.unwrap_or(LIST_PAGE_SIZE).max(1);
                check_page_count(total_pages, page_size, total_items).map_err(list_error)?;
                // `total_pages` decides how many pages to fetch, so an empty account or a missing `next`
                // link cannot make this loop; pages after the first are fetched concurrently, in order.
                let mut items = first.items;
                let rest: Vec<Page<T>> = futures::stream::iter(2..=total_pages)
                    .map(|page| self.page(page, convert.clone()))
                    .buffered(self.list_concurrency)
                    .try_collect()
                    .await?;
                for (number, page) in (2..).zip(rest) {
                    if page.items.is_empty() && number < total_pages {
                        return Err(list_error(ListError::EmptyPageWithNext { page: number }));
                    }
                    items.extend(page.items);
                }
                items
            }
        };
        // An application created while the pages are read shifts the later pages, so one may be read
        // twice; one deleted meanwhile makes another be missed, which the count shows.
        let mut seen = std::collections::HashSet::new();
        let items: Vec<T> =
            items.into_iter().filter(|item| item.listed_id().is_none_or(|id| seen.insert(id.clone()))).collect();
        let read = items.len() as u64;
        match total_items {
            Some(total_items) if read < total_items => Err(list_error(ListError::Partial { read, total_items })),
            _ => Ok(items),
        }
    }

    /// Every application in the account as a plan holds them: whole where `keep` (known once the
    /// state is read, while the first page is on its way) says, a glimpse elsewhere.
    pub async fn list_for_plan(&self, keep: impl std::future::Future<Output = Keep>) -> Result<Vec<Listed>, ApiError> {
        self.list(async {
            let keep = keep.await;
            let convert: Convert<Listed> = Arc::new(move |json| keep.read(json.get()));
            convert
        })
        .await
    }

    /// The request for a next-page link: its query, on this client's own list endpoint. The link's host
    /// and path are not followed (fixtures show `https://api.nexmo.com//v2/applications?page=2`), so
    /// the credentials never go anywhere else.
    fn next_path(&self, href: &str) -> Result<String, &'static str> {
        let base = url::Url::parse("https://api.invalid/").map_err(|_| "no base")?;
        let next = base.join(href).map_err(|_| "it is not a URL")?;
        match next.query() {
            Some(query) if !query.is_empty() => Ok(format!("{LIST_PATH}?{query}")),
            _ => Err("it names no page"),
        }
    }
}

impl ApplicationApi for Client {
    async fn list_all(&self) -> Result<Vec<Application>, ApiError> {
        let whole: Convert<Application> = Arc::new(|json| serde_json::from_str(json.get()));
        self.list(async { whole }).await
    }

    async fn get(&self, id: &AppId) -> Result<Application, ApiError> {
        self.call_json(Method::GET, &format!("/v2/applications/{}", encode_segment(id)), None).await
    }

    async fn create(&self, app: &Application) -> Result<Application, ApiError> {
        self.call_json(Method::POST, LIST_PATH, Some(encode(app)?)).await
    }

    async fn update(&self, id: &AppId, app: &Application) -> Result<Application, ApiError> {
        let path = format!("/v2/applications/{}", encode_segment(id));
        self.call_json(Method::PUT, &path, Some(encode(app)?)).await
    }

    async fn delete(&self, id: &AppId) -> Result<(), ApiError> {
        self.call(Method::DELETE, &format!("/v2/applications/{}", encode_segment(id)), None).await.map(drop)
    }
}

/// What a listing makes of each application's JSON, on the thread that reads its page.
type Convert<T> = Arc<dyn Fn(&RawValue) -> Result<T, serde_json::Error> + Send + Sync>;

/// A listed item's application id, by which a page read twice is told.
trait Identified {
    fn listed_id(&self) -> Option<&AppId>;
}

impl Identified for Application {
    fn listed_id(&self) -> Option<&AppId> {
        self.id.as_ref()
    }
}

impl Identified for Listed {
    fn listed_id(&self) -> Option<&AppId> {
        self.id()
    }
}

/// One page of the list, its applications converted.
struct Page<T> {
    items: Vec<T>,
    page_size: Option<u64>,
    total_items: Option<u64>,
    total_pages: Option<u64>,
    next: Option<super::page::Link>,
}

impl<T> Page<T> {
    /// Reads a page: its counts and links, and each application's JSON as `convert` makes it.
    fn read(
        bytes: &[u8],
        convert: &(dyn Fn(&RawValue) -> Result<T, serde_json::Error> + Send + Sync),
    ) -> Result<Page<T>, serde_json::Error> {
        let read: ListPage<Box<RawValue>> = serde_json::from_slice(bytes)?;
        Ok(Page {
            items: read.embedded.applications.iter().map(|json| convert(json)).collect::<Result<_, _>>()?,
            page_size: read.page_size,
            total_items: read.total_items,
            total_pages: read.total_pages,
            next: read.links.next,
        })
    }
}

impl Page<Box<RawValue>> {
    fn convert<T>(
        self,
        convert: &(dyn Fn(&RawValue) -> Result<T, serde_json::Error> + Send + Sync),
    ) -> Result<Page<T>, serde_json::Error> {
        Ok(Page {
            items: self.items.iter().map(|json| convert(json)).collect::<Result<_, _>>()?,
            page_size: self.page_size,
            total_items: self.total_items,
            total_pages: self.total_pages,
            next: self.next,
        })
    }
}

/// Ids come from the API, but are still escaped so that a strange one cannot change the path.
fn encode_segment(id: &AppId) -> String {
    url::form_urlencoded::byte_serialize(id.as_str().as_bytes()).collect::<String>().replace('+', "%20")
}

/// A request body and its media type.
struct Body {
    content_type: &'static str,
    bytes: Bytes,
}

/// The JSON body of a POST or PUT of `app`.
fn encode(app: &Application) -> Result<Bytes, ApiError> {
    serde_json::to_vec(&app.request_body()).map(Bytes::from).map_err(ApiError::Encode)
}

/// A request that got no usable answer. Some such failures are permanent: the other end answered, but
/// not in HTTP (a parse error) or not in TLS (garbled records), or the request could not be built;
/// trying again would fail the same way.
fn transport_error(url: &str, error: reqwest::Error, maybe_sent: bool) -> ApiError {
    let permanent = error.is_builder() || error.is_redirect() || {
        let mut cause = std::error::Error::source(&error);
        let mut found = false;
        while let Some(e) = cause {
            found |= is_tls(e) || e.downcast_ref::<hyper::Error>().is_some_and(speaks_another_protocol);
            cause = e.source();
        }
        found
    };
    match permanent {
        true => ApiError::Protocol { url: url.to_string(), source: error.into() },
        false => ApiError::Transport { url: url.to_string(), maybe_sent, source: error.into() },
    }
}

/// Whether `error` is a TLS failure. They come wrapped in io::Errors (nested), whose `source` skips
/// what they wrap: look inside.
fn is_tls(error: &(dyn std::error::Error + 'static)) -> bool {
    if error.downcast_ref::<rustls::Error>().is_some() {
        return true;
    }
    match error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        Some(inner) => is_tls(inner),
        None => false,
    }
}

/// Whether hyper saw the other end break HTTP itself (an answer it cannot parse, a message nobody asked
/// for), rather than go away (closed, cut short, timed out), which a retry may get past.
fn speaks_another_protocol(error: &hyper::Error) -> bool {
    !(error.is_closed()
        || error.is_incomplete_message()
        || error.is_canceled()
        || error.is_timeout()
        || error.is_body_write_aborted()
        || error.is_shutdown()
        || error.is_user())
}

/// Reads a whole answer, refusing one larger than [`MAX_ANSWER_BYTES`]. An answer lost on the way
/// means the call may well have happened.
async fn read_bounded(url: &str, mut response: reqwest::Response) -> Result<Bytes, ApiError> {
    let mut body = bytes::BytesMut::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                    return Err(ApiError::TooLarge { url: url.to_string(), limit: MAX_ANSWER_BYTES });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) => return Err(transport_error(url, e, true)),
        }
    }
}

/// Whether `total_pages` is what `total_items` at `page_size` makes (an empty account is one page),
/// and within what vapp reads.
fn check_page_count(total_pages: u64, page_size: u64, total_items: Option<u64>) -> Result<(), ListError> {
    if let Some(total_items) = total_items {
        let expected = total_items.div_ceil(page_size);
        // An empty account is one empty page, or none.
        if total_pages != expected.max(1) && !(total_items == 0 && total_pages == 0) {
            return Err(ListError::Inconsistent { total_pages, page_size, total_items });
        }
    }
    if total_pages > MAX_LIST_PAGES {
        return Err(ListError::TooManyPages { pages: total_pages, page_size, max: MAX_LIST_PAGES });
    }
    Ok(())
}

async fn status_error(url: &str, response: reqwest::Response) -> ApiError {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    // An error body is read for its problem+json; one that cannot be read is no worse than none.
    let body = read_bounded(url, response).await.unwrap_or_default();
    // The Numbers API answers errors as {"error-code": …, "error-code-label": …}, not problem+json.
    let number_answer = serde_json::from_slice::<super::numbers::NumberAnswer>(&body).ok();
    let problem = serde_json::from_slice::<Problem>(&body)
        .ok()
        .filter(|p| !p.title.is_empty() || number_answer.is_none())
        .or_else(|| number_answer.map(|a| Problem { title: a.error_code_label, ..Default::default() }))
        .unwrap_or_else(|| Problem {
            title: status.canonical_reason().unwrap_or("error").to_string(),
            // Not the API's problem+json (a proxy's page, say): a printable glimpse of it, on one line.
            detail: (!body.is_empty()).then(|| {
                let glimpse = crate::excerpt::Excerpt::of(&body, NOT_JSON_EXCERPT);
                format!("an answer that is not the API's JSON ({} bytes): {glimpse}", body.len())
            }),
            ..Default::default()
        });
    ApiError::Status { status: status.as_u16(), problem: Box::new(problem), retry_after }
}

impl super::numbers::NumbersApi for Client {
    async fn list_numbers(&self, filter: &NumberFilter) -> Result<Vec<OwnedNumber>, ApiError> {
        let base: Vec<(&str, String)> = filter.query();
        let path = |index: u64| {
            let mut query = url::form_urlencoded::Serializer::new(String::new());
            for (key, value) in &base {
                query.append_pair(key, value);
            }
            query.append_pair("size", &NUMBERS_PAGE_SIZE.to_string()).append_pair("index", &index.to_string());
            format!("{NUMBERS_PATH}?{}", query.finish())
        };
        let list_error = |source| ApiError::List { url: self.url(NUMBERS_PATH), source };
        let first: NumberPage = self.call_json(Method::GET, &path(1), None).await?;
        if first.count > MAX_NUMBERS {
            let pages = first.count.div_ceil(NUMBERS_PAGE_SIZE);
            let max = MAX_NUMBERS / NUMBERS_PAGE_SIZE;
            return Err(list_error(ListError::TooManyPages { pages, page_size: NUMBERS_PAGE_SIZE, max }));
        }
        let pages = first.count.div_ceil(NUMBERS_PAGE_SIZE);
        let mut numbers = first.numbers.unwrap_or_default();
        let rest: Vec<NumberPage> = futures::stream::iter(2..=pages)
            .map(|index| {
                let path = path(index);
                async move { self.call_json::<NumberPage>(Method::GET, &path, None).await }
            })
            .buffered(self.list_concurrency)
            .try_collect()
            .await?;
        numbers.extend(rest.into_iter().flat_map(|page| page.numbers.unwrap_or_default()));
        let mut seen = std::collections::HashSet::new();
        numbers.retain(|n| seen.insert(n.msisdn.clone()));
        let read = numbers.len() as u64;
        if read < first.count {
            return Err(list_error(ListError::Partial { read, total_items: first.count }));
        }
        Ok(numbers)
    }

    async fn update_number(&self, update: &NumberUpdate) -> Result<(), ApiError> {
        let form = serde_urlencoded::to_string(update).map_err(|e| ApiError::Encode(serde::ser::Error::custom(e)))?;
        let body = Body { content_type: "application/x-www-form-urlencoded", bytes: Bytes::from(form) };
        // A number update replaces the whole routing: sending it twice is the same as once.
        let bytes = self.send(Method::POST, NUMBER_UPDATE_PATH, Some(body), true).await?;
        let url = self.url(NUMBER_UPDATE_PATH);
        let answer: NumberAnswer = serde_json::from_slice(&bytes).map_err(|source| ApiError::Decode { url, source })?;
        if answer.error_code != "200" {
            let problem = Problem { title: answer.error_code_label, ..Default::default() };
            let status = answer.error_code.parse().unwrap_or(500);
            return Err(ApiError::Status { status, problem: Box::new(problem), retry_after: None });
        }
        Ok(())
    }
}

impl super::subaccounts::SubaccountsApi for Client {
    async fn list_subaccounts(&self) -> Result<Vec<SubaccountInfo>, ApiError> {
        let path = format!("/accounts/{}/subaccounts", segment(self.api_key().as_str()));
        let list: super::subaccounts::SubaccountList = self.call_json(Method::GET, &path, None).await?;
        let found = list.embedded.subaccounts;
        if found.len() > super::subaccounts::MAX_SUBACCOUNTS {
            let source = ListError::TooMany { count: found.len(), max: super::subaccounts::MAX_SUBACCOUNTS };
            return Err(ApiError::List { url: self.url(&path), source });
        }
        Ok(found)
    }

    async fn get_subaccount(&self, api_key: &ApiKey) -> Result<SubaccountInfo, ApiError> {
        let path = format!("/accounts/{}/subaccounts/{}", segment(self.api_key().as_str()), segment(api_key.as_str()));
        self.call_json(Method::GET, &path, None).await
    }

    async fn create_subaccount(&self, new: &NewSubaccount) -> Result<SubaccountInfo, ApiError> {
        let path = format!("/accounts/{}/subaccounts", segment(self.api_key().as_str()));
        let body = serde_json::to_vec(&new.body()).map_err(ApiError::Encode)?;
        self.call_json(Method::POST, &path, Some(Bytes::from(body))).await
    }

    async fn modify_subaccount(&self, api_key: &ApiKey, change: &SubaccountChange) -> Result<SubaccountInfo, ApiError> {
        let path = format!("/accounts/{}/subaccounts/{}", segment(self.api_key().as_str()), segment(api_key.as_str()));
        let body = serde_json::to_vec(change).map_err(ApiError::Encode)?;
        self.call_json(Method::PATCH, &path, Some(Bytes::from(body))).await
    }

    async fn transfer_number(&self, transfer: &NumberTransfer) -> Result<(), ApiError> {
        let path = format!("/accounts/{}/transfer-number", segment(self.api_key().as_str()));
        let body = serde_json::to_vec(transfer).map_err(ApiError::Encode)?;
        // A POST, so never retried here: a transfer whose answer is lost is resolved by asking which
        // account owns the number.
        self.call(Method::POST, &path, Some(Bytes::from(body))).await.map(|_| ())
    }

    async fn secret_opens(&self, api_key: &ApiKey, secret: &crate::secret::Secret) -> Result<bool, ApiError> {
        let account = self.for_credentials(Credentials::with_secret(api_key.clone(), secret.clone()));
        match account.call(Method::GET, &format!("{LIST_PATH}?page_size=1"), None).await {
            Ok(_) => Ok(true),
            Err(ApiError::Status { status: 401, .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }
}

/// `text` as one path segment.
fn segment(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

const NUMBERS_PATH: &str = "/account/numbers";
const NUMBER_UPDATE_PATH: &str = "/number/update";
/// How much of an answer that is not the API's JSON an error quotes.
const NOT_JSON_EXCERPT: usize = 80;
