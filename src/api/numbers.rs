//! The Numbers API: the account's phone numbers and the application each routes to.
//!
//! `GET /account/numbers` pages by `size` (1..100) and `index` (from 1), and says only `count`, the
//! total: the pages are computed here. `POST /number/update` is form-encoded and has replace
//! semantics: a field not sent is cleared, so a link sends back the settings the number has. Success
//! is judged by the body's `error-code` (a string, `"200"`), not by the status alone; an unknown
//! number, one the account does not own, or an unknown `app_id` is HTTP 420.
//!
//! The types here are the wire's; the emulator serves them and the client reads them, so the two
//! cannot disagree.

use std::future::Future;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::ApiError;
use crate::model::{AppId, Msisdn, Number};

/// A number the account owns, as `GET /account/numbers` shows it (fields absent when unset).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct OwnedNumber {
    pub country: String,
    pub msisdn: Msisdn,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(default)]
    pub features: Vec<String>,
    /// The application the number routes to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
    #[serde(rename = "voiceCallbackType", default, skip_serializing_if = "Option::is_none")]
    pub voice_callback_type: Option<String>,
    #[serde(rename = "voiceCallbackValue", default, skip_serializing_if = "Option::is_none")]
    pub voice_callback_value: Option<String>,
    #[serde(rename = "messagesCallbackType", default, skip_serializing_if = "Option::is_none")]
    pub messages_callback_type: Option<String>,
    #[serde(rename = "messagesCallbackValue", default, skip_serializing_if = "Option::is_none")]
    pub messages_callback_value: Option<String>,
    #[serde(rename = "moHttpUrl", default, skip_serializing_if = "Option::is_none")]
    pub mo_http_url: Option<String>,
    /// Fields this version does not know, kept as the API sent them.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl OwnedNumber {
    /// What planning needs of it.
    pub fn summary(&self) -> Number {
        Number { msisdn: self.msisdn.clone(), country: self.country.clone(), app_id: self.app_id.clone() }
    }
}

/// One page of `GET /account/numbers`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct NumberPage {
    #[serde(default)]
    pub count: u64,
    /// Absent when nothing matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numbers: Option<Vec<OwnedNumber>>,
}

/// The answer of `POST /number/update` (and of errors): codes are strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberAnswer {
    #[serde(rename = "error-code")]
    pub error_code: String,
    #[serde(rename = "error-code-label")]
    pub error_code_label: String,
}

/// The whole of a number's routing, as `POST /number/update` takes it (form fields; what is `None`
/// is not sent, and so cleared).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberUpdate {
    pub country: String,
    pub msisdn: Msisdn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<AppId>,
    #[serde(rename = "moHttpUrl", default, skip_serializing_if = "Option::is_none")]
    pub mo_http_url: Option<String>,
    #[serde(rename = "moSmppSysType", default, skip_serializing_if = "Option::is_none")]
    pub mo_smpp_sys_type: Option<String>,
    #[serde(rename = "voiceCallbackType", default, skip_serializing_if = "Option::is_none")]
    pub voice_callback_type: Option<String>,
    #[serde(rename = "voiceCallbackValue", default, skip_serializing_if = "Option::is_none")]
    pub voice_callback_value: Option<String>,
    #[serde(rename = "voiceStatusCallback", default, skip_serializing_if = "Option::is_none")]
    pub voice_status_callback: Option<String>,
}

impl NumberUpdate {
    /// `number` routed to `app_id` (nowhere with `None`), every other setting it shows kept. A voice
    /// callback of type `app` is the application link itself and goes with it; a `sip` or `tel` one
    /// is the number's own and is kept. (`voiceStatusCallback` cannot be read back, so it cannot be
    /// kept: the Numbers API clears it on any update.)
    pub fn route(number: &OwnedNumber, app_id: Option<&AppId>) -> Self {
        let own_voice = number.voice_callback_type.as_deref().is_some_and(|t| t != "app");
        NumberUpdate {
            country: number.country.clone(),
            msisdn: number.msisdn.clone(),
            app_id: app_id.cloned(),
            mo_http_url: number.mo_http_url.clone(),
            mo_smpp_sys_type: None,
            voice_callback_type: own_voice.then(|| number.voice_callback_type.clone()).flatten(),
            voice_callback_value: own_voice.then(|| number.voice_callback_value.clone()).flatten(),
            voice_status_callback: None,
        }
    }
}

/// A filter of `GET /account/numbers`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NumberFilter {
    pub application_id: Option<AppId>,
    pub has_application: Option<bool>,
    pub country: Option<String>,
    pub pattern: Option<String>,
    /// 0 starts with (the default), 1 contains, 2 ends with.
    pub search_pattern: Option<u8>,
}

impl NumberFilter {
    /// The query parameters, without paging.
    pub fn query(&self) -> Vec<(&'static str, String)> {
        let mut query = Vec::new();
        if let Some(id) = &self.application_id {
            query.push(("application_id", id.to_string()));
        }
        if let Some(has) = self.has_application {
            query.push(("has_application", has.to_string()));
        }
        if let Some(country) = &self.country {
            query.push(("country", country.clone()));
        }
        if let Some(pattern) = &self.pattern {
            query.push(("pattern", pattern.clone()));
        }
        if let Some(search) = self.search_pattern {
            query.push(("search_pattern", search.to_string()));
        }
        query
    }
}

/// The calls of the Numbers API vapp makes.
pub trait NumbersApi: Send + Sync {
    /// Every owned number matching `filter`, every page read.
    fn list_numbers(&self, filter: &NumberFilter) -> impl Future<Output = Result<Vec<OwnedNumber>, ApiError>> + Send;

    /// Routes a number as `update` says; replaces what it does not say.
    fn update_number(&self, update: &NumberUpdate) -> impl Future<Output = Result<(), ApiError>> + Send;

    /// The owned number `msisdn`, looked up exactly (a pattern is a prefix: never the first hit).
    fn find_number(&self, msisdn: &Msisdn) -> impl Future<Output = Result<Option<OwnedNumber>, ApiError>> + Send {
        let filter =
            NumberFilter { pattern: Some(msisdn.as_str().to_string()), search_pattern: Some(0), ..Default::default() };
        async move { Ok(self.list_numbers(&filter).await?.into_iter().find(|n| n.msisdn == *msisdn)) }
    }
}

/// The most numbers a listing reads: far beyond any real account, so an answer claiming endless
/// pages fails instead of running for ever.
pub const MAX_NUMBERS: u64 = 1_000_000;
/// The largest page the API serves.
pub const NUMBERS_PAGE_SIZE: u64 = 100;

impl<N: NumbersApi> NumbersApi for &N {
    async fn list_numbers(&self, filter: &NumberFilter) -> Result<Vec<OwnedNumber>, ApiError> {
        (**self).list_numbers(filter).await
    }

    async fn update_number(&self, update: &NumberUpdate) -> Result<(), ApiError> {
        (**self).update_number(update).await
    }
}

/// The Numbers API's host.
pub const DEFAULT_NUMBERS_URL: &str = "https://rest.nexmo.com";

/// Number updates at most one per `pace`: the Numbers API is documented at about one update per
/// second, and answers 429 past it.
pub struct Paced<N> {
    inner: N,
    pace: std::time::Duration,
    next: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl<N> Paced<N> {
    pub fn new(inner: N, pace: std::time::Duration) -> Self {
        Paced { inner, pace, next: tokio::sync::Mutex::new(None) }
    }
}

impl<N: NumbersApi> NumbersApi for Paced<N> {
    async fn list_numbers(&self, filter: &NumberFilter) -> Result<Vec<OwnedNumber>, ApiError> {
        self.inner.list_numbers(filter).await
    }

    async fn update_number(&self, update: &NumberUpdate) -> Result<(), ApiError> {
        // Held while waiting: updates go out one at a time, `pace` apart.
        let mut next = self.next.lock().await;
        if let Some(at) = *next {
            tokio::time::sleep_until(at).await;
        }
        let result = self.inner.update_number(update).await;
        *next = Some(tokio::time::Instant::now() + self.pace);
        result
    }
}
