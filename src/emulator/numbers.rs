//! The account's numbers, as the Numbers API shows and changes them: listing with every filter and
//! `count` paging, and `POST /number/update` with replace semantics (a field not sent is cleared).
//!
//! Shared by the HTTP routes and by [`super::InProcess`].

use std::collections::HashMap;

use serde_json::Map;

use super::store::{Store, StoreError, StoredNumber};
use crate::api::numbers::{NumberPage, OwnedNumber};
use crate::model::{AppId, Msisdn};

/// The largest page, and the one served when none is asked for.
pub const MAX_SIZE: usize = 100;
pub const DEFAULT_SIZE: usize = 10;

/// The `index`-th number of `--seed-numbers` (from 0): `447700900001`, … , GB, mobile-lvn, linked to nothing.
pub fn seeded_number(index: usize) -> StoredNumber {
    StoredNumber {
        shown: OwnedNumber {
            country: "GB".into(),
            msisdn: Msisdn::new(format!("4477009{:05}", index + 1)),
            kind: Some("mobile-lvn".into()),
            features: vec!["VOICE".into(), "SMS".into(), "MMS".into()],
            ..Default::default()
        },
        ..Default::default()
    }
}

/// A listing's parameters, read as the API reads them.
#[derive(Debug, Default)]
pub struct ListQuery {
    pub application_id: Option<String>,
    pub has_application: Option<bool>,
    pub country: Option<String>,
    pub pattern: Option<String>,
    pub search_pattern: u8,
    pub size: usize,
    pub index: usize,
}

/// Why a request is refused: what the API answers, and why.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// HTTP 400: a parameter out of range.
    BadRequest(String),
    /// HTTP 420 "method failed": an unknown number or application, a number the account does not own.
    MethodFailed,
}

impl ListQuery {
    pub fn parse<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> Result<Self, Refusal> {
        let mut query = ListQuery { size: DEFAULT_SIZE, index: 1, ..Default::default() };
        for (name, value) in pairs {
            let bad = |what: &str| Refusal::BadRequest(format!("{name} {what}"));
            match name {
                "application_id" => query.application_id = Some(value.to_string()),
                "has_application" => {
                    query.has_application = Some(match value.to_ascii_lowercase().as_str() {
                        "true" => true,
                        "false" => false,
                        _ => return Err(bad("must be true or false")),
                    })
                }
                "country" => query.country = Some(value.to_ascii_uppercase()),
                "pattern" => query.pattern = Some(value.to_string()),
                "search_pattern" => {
                    query.search_pattern = match value.trim().parse() {
                        Ok(n @ 0..=2) => n,
                        _ => return Err(bad("must be 0, 1 or 2")),
                    }
                }
                "size" => {
                    query.size = match value.trim().parse() {
                        Ok(n) if (1..=MAX_SIZE).contains(&n) => n,
                        _ => return Err(bad("must be between 1 and 100")),
                    }
                }
                "index" => {
                    query.index = match value.trim().parse() {
                        Ok(n) if n >= 1 => n,
                        _ => return Err(bad("must be a whole number from 1")),
                    }
                }
                _ => {}
            }
        }
        Ok(query)
    }

    fn matches(&self, number: &OwnedNumber) -> bool {
        let pattern_matches = self.pattern.as_deref().is_none_or(|p| match self.search_pattern {
            1 => number.msisdn.as_str().contains(p),
            2 => number.msisdn.as_str().ends_with(p),
            _ => number.msisdn.as_str().starts_with(p),
        });
        pattern_matches
            && self.application_id.as_deref().is_none_or(|id| number.app_id.as_ref().is_some_and(|a| a == id))
            && self.has_application.is_none_or(|has| number.app_id.is_some() == has)
            && self.country.as_deref().is_none_or(|c| number.country == c)
    }
}

impl Store {
    /// One page of the numbers `query` selects, with the count of all it selects.
    pub fn list_numbers(&self, query: &ListQuery) -> NumberPage {
        let matching: Vec<OwnedNumber> =
            self.numbers().into_iter().map(|n| n.shown).filter(|n| query.matches(n)).collect();
        let start = (query.index - 1).saturating_mul(query.size);
        let page: Vec<OwnedNumber> = matching.iter().skip(start).take(query.size).cloned().collect();
        NumberPage { count: matching.len() as u64, numbers: (!page.is_empty()).then_some(page) }
    }

    /// Applies `POST /number/update` with `params` (the form and the query): the number's routing is
    /// replaced by what is sent.
    pub async fn update_number(&self, params: &HashMap<String, String>) -> Result<Result<(), Refusal>, StoreError> {
        let get = |name: &str| params.get(name).map(String::as_str).filter(|v| !v.is_empty());
        let (Some(msisdn), Some(country)) = (get("msisdn"), get("country")) else {
            return Ok(Err(Refusal::MethodFailed));
        };
        let Some(mut number) = self.number(&Msisdn::new(msisdn)) else { return Ok(Err(Refusal::MethodFailed)) };
        if !number.shown.country.eq_ignore_ascii_case(country) {
            return Ok(Err(Refusal::MethodFailed));
        }
        let app_id = get("app_id");
        if app_id.is_some_and(|id| self.get(&AppId::new(id)).is_none()) {
            return Ok(Err(Refusal::MethodFailed));
        }
        let voice = match (get("voiceCallbackType"), get("voiceCallbackValue")) {
            (Some(kind @ ("sip" | "tel" | "app")), Some(value)) => Some((kind.to_string(), value.to_string())),
            (None, None) => app_id.map(|id| ("app".to_string(), id.to_string())),
            _ => return Ok(Err(Refusal::MethodFailed)),
        };
        let shown = &mut number.shown;
        shown.app_id = app_id.map(AppId::new);
        shown.mo_http_url = get("moHttpUrl").map(str::to_string);
        (shown.voice_callback_type, shown.voice_callback_value) = voice.unzip();
        (shown.messages_callback_type, shown.messages_callback_value) =
            app_id.map(|id| ("app".to_string(), id.to_string())).unzip();
        shown.extra = Map::new();
        number.voice_status_callback = get("voiceStatusCallback").map(str::to_string);
        number.mo_smpp_sys_type = get("moSmppSysType").map(str::to_string);
        self.put_numbers(vec![number]).await?;
        Ok(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[tokio::test]
    async fn updates_replace_the_routing_and_refuse_what_the_account_does_not_have() {
        let store = Store::in_memory();
        store.put_numbers((0..3).map(seeded_number).collect()).await.unwrap();
        let app = crate::emulator::seeded_application(0);
        let id = app.id.clone().unwrap();
        store.upsert(app).await.unwrap();
        let link = params(&[
            ("country", "GB"),
            ("msisdn", "447700900001"),
            ("app_id", id.as_str()),
            ("moHttpUrl", "https://m/"),
        ]);
        store.update_number(&link).await.unwrap().unwrap();
        let linked = store.number(&Msisdn::new("447700900001")).unwrap().shown;
        assert_eq!(linked.app_id.as_ref(), Some(&id));
        assert_eq!(linked.voice_callback_type.as_deref(), Some("app"));
        // Replace semantics: what is not sent is cleared.
        store.update_number(&params(&[("country", "GB"), ("msisdn", "447700900001")])).await.unwrap().unwrap();
        let cleared = store.number(&Msisdn::new("447700900001")).unwrap().shown;
        assert_eq!((cleared.app_id, cleared.mo_http_url, cleared.voice_callback_type), (None, None, None));
        for refused in [
            params(&[("country", "GB"), ("msisdn", "447700999999")]),
            params(&[("country", "US"), ("msisdn", "447700900001")]),
            params(&[("country", "GB"), ("msisdn", "447700900001"), ("app_id", "no-such-app")]),
            params(&[("msisdn", "447700900001")]),
            params(&[
                ("country", "GB"),
                ("msisdn", "447700900001"),
                ("voiceCallbackType", "fax"),
                ("voiceCallbackValue", "x"),
            ]),
        ] {
            assert_eq!(store.update_number(&refused).await.unwrap(), Err(Refusal::MethodFailed), "{refused:?}");
        }
    }

    #[tokio::test]
    async fn listings_filter_and_page_by_count() {
        let store = Store::in_memory();
        store.put_numbers((0..25).map(seeded_number).collect()).await.unwrap();
        let query = |q: &str| {
            ListQuery::parse(
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect::<Vec<_>>()
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
            )
        };
        let page = store.list_numbers(&query("").unwrap());
        assert_eq!((page.count, page.numbers.as_ref().unwrap().len()), (25, 10));
        let last = store.list_numbers(&query("size=10&index=3").unwrap());
        assert_eq!(last.numbers.unwrap().len(), 5);
        let exact = store.list_numbers(&query("pattern=447700900001&search_pattern=0").unwrap());
        assert_eq!(exact.count, 1, "a prefix that is a whole number finds it; a shorter one finds more");
        assert_eq!(store.list_numbers(&query("pattern=44770090000&search_pattern=0").unwrap()).count, 9);
        assert_eq!(store.list_numbers(&query("pattern=25&search_pattern=2").unwrap()).count, 1);
        assert_eq!(store.list_numbers(&query("has_application=True").unwrap()).count, 0);
        assert_eq!(store.list_numbers(&query("has_application=false&country=gb").unwrap()).count, 25);
        let none = store.list_numbers(&query("application_id=x").unwrap());
        assert_eq!((none.count, none.numbers), (0, None));
        assert!(query("size=101").is_err() && query("index=0").is_err() && query("search_pattern=3").is_err());
    }
}
