//! What the account does with each call, as the real service shows it to its clients: new ids, the
//! documented defaults filled in, a key pair made when a create sends none, full-replacement PUT that
//! keeps the key when none is sent, and the rules the API rejects bodies by.
//!
//! Shared by the HTTP routes and by [`InProcess`], the emulator without HTTP that tests run the real
//! executor against: both see one behaviour.

use crate::api::{ApiError, ApplicationApi, Problem};
use crate::keys::{self, PrivateKeyPem};
use crate::model::rules::{self, InvalidParameter};
use crate::model::{defaults, AppId, Application, Keys};

use super::store::{Store, StoreError};

/// Everything the API would reject in a create or update body.
pub fn invalid_parameters(app: &Application) -> Vec<InvalidParameter> {
    let mut invalid = rules::validate(app);
    if let Some(pem) = app.public_key() {
        if keys::parse_public_key(pem).is_err() {
            invalid.push(InvalidParameter {
                name: "keys.public_key".into(),
                reason: "must be a PEM RSA public key".into(),
            });
        }
    }
    invalid
}

/// A new application, and the private key made for it when the create sent no public key (the only
/// answer that ever carries one).
pub struct Created {
    pub app: Application,
    pub private_key: Option<PrivateKeyPem>,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot make a key pair")]
    Key(#[from] keys::KeyError),
    #[error("key generation stopped")]
    KeyTask(#[from] tokio::task::JoinError),
}

impl Store {
    /// Creates `app` (already valid): a new id, defaults, and a key pair when it sends no public key.
    pub async fn create(&self, mut app: Application) -> Result<Created, CallError> {
        app.id = Some(AppId::new(uuid::Uuid::new_v4().to_string()));
        let (public_key, private_key) = match app.public_key() {
            Some(pem) => (pem.to_string(), None),
            None => {
                let pair = tokio::task::spawn_blocking(keys::generate).await??;
                (pair.public_key, Some(pair.private_key))
            }
        };
        app.keys = Some(Keys { public_key: Some(public_key), ..Default::default() });
        defaults::fill_in_place(&mut app);
        answer_only_fields(&mut app);
        self.upsert(app.clone()).await?;
        Ok(Created { app, private_key })
    }

    /// Replaces application `id` with `app` (already valid), keeping its key when `app` sends none;
    /// `None` when there is no such application.
    pub async fn update(&self, id: &AppId, mut app: Application) -> Result<Option<Application>, CallError> {
        let Some(current) = self.get(id) else { return Ok(None) };
        app.id = Some(id.clone());
        let public_key = app.public_key().map(str::to_string).or_else(|| current.public_key().map(str::to_string));
        app.keys = Some(Keys { public_key, ..Default::default() });
        defaults::fill_in_place(&mut app);
        answer_only_fields(&mut app);
        Ok(self.replace(app.clone()).await?.then_some(app))
    }
}

/// The fields the API answers but no client sets, as the official SDKs' recorded answers show them
/// (the Java SDK's `ApplicationClientTest`, the Vonage CLI's video fixtures): voice `payment_enabled`
/// and `payments.gateways`, video `environment_enabled` and `environment_id`. A client that sends them
/// back (as vapp does with every field it does not model) keeps what it sent.
pub fn answer_only_fields(app: &mut Application) {
    let Some(capabilities) = app.capabilities.as_mut() else { return };
    if let Some(voice) = capabilities.voice.as_mut() {
        voice.extra.entry("payment_enabled").or_insert(serde_json::Value::Bool(false));
        voice.extra.entry("payments").or_insert_with(|| serde_json::json!({"gateways": []}));
    }
    if let Some(video) = capabilities.video.as_mut() {
        video.extra.entry("environment_enabled").or_insert(serde_json::Value::Bool(false));
        video.extra.entry("environment_id").or_insert(serde_json::json!(1));
    }
}

/// The emulator's account behind the [`ApplicationApi`] trait, in this process and without HTTP: for
/// tests that run the real executor many times over (a property test), where HTTP would only add time.
pub struct InProcess {
    store: Store,
}

impl Default for InProcess {
    fn default() -> Self {
        InProcess { store: Store::in_memory() }
    }
}

impl InProcess {
    /// Puts applications into the account as they are (ids and keys included), as a dashboard would.
    pub async fn insert(&self, apps: Vec<Application>) -> Result<(), StoreError> {
        self.store.insert_many(apps).await
    }

    /// Every application, in creation order.
    pub fn applications(&self) -> Vec<Application> {
        self.store.all()
    }
}

fn status(status: u16, title: &str, invalid_parameters: Vec<InvalidParameter>) -> ApiError {
    let problem = Problem { title: title.to_string(), invalid_parameters, ..Default::default() };
    ApiError::Status { status, problem: Box::new(problem), retry_after: None }
}

fn failed(error: CallError) -> ApiError {
    ApiError::Transport { url: "in-process".into(), maybe_sent: false, source: error.into() }
}

/// What the account receives for `app`: its request body, through JSON, as over HTTP.
fn received(app: &Application) -> Result<Application, ApiError> {
    let body = serde_json::to_vec(&app.request_body()).map_err(ApiError::Encode)?;
    serde_json::from_slice(&body).map_err(|source| ApiError::Decode { url: "in-process".into(), source })
}

impl ApplicationApi for InProcess {
    async fn list_all(&self) -> Result<Vec<Application>, ApiError> {
        Ok(self.store.all())
    }

    async fn get(&self, id: &AppId) -> Result<Application, ApiError> {
        self.store.get(id).ok_or_else(|| status(404, "Not Found", vec![]))
    }

    async fn create(&self, app: &Application) -> Result<Application, ApiError> {
        let app = received(app)?;
        let invalid = invalid_parameters(&app);
        if !invalid.is_empty() {
            return Err(status(400, "Bad Request", invalid));
        }
        Ok(self.store.create(app).await.map_err(failed)?.app)
    }

    async fn update(&self, id: &AppId, app: &Application) -> Result<Application, ApiError> {
        let app = received(app)?;
        if self.store.get(id).is_none() {
            return Err(status(404, "Not Found", vec![]));
        }
        let invalid = invalid_parameters(&app);
        if !invalid.is_empty() {
            return Err(status(400, "Bad Request", invalid));
        }
        self.store.update(id, app).await.map_err(failed)?.ok_or_else(|| status(404, "Not Found", vec![]))
    }

    async fn delete(&self, id: &AppId) -> Result<(), ApiError> {
        match self.store.remove(id).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(status(404, "Not Found", vec![])),
            Err(e) => Err(failed(e.into())),
        }
    }
}

impl crate::api::NumbersApi for InProcess {
    async fn list_numbers(&self, filter: &crate::api::NumberFilter) -> Result<Vec<crate::api::OwnedNumber>, ApiError> {
        let pairs = filter.query();
        let mut query = super::numbers::ListQuery::parse(pairs.iter().map(|(k, v)| (*k, v.as_str())))
            .map_err(|_| status(400, "Bad Request", vec![]))?;
        query.size = super::numbers::MAX_SIZE;
        let mut numbers = Vec::new();
        loop {
            let page = self.store.list_numbers(&query);
            let got = page.numbers.unwrap_or_default();
            let done = got.len() < query.size;
            numbers.extend(got);
            if done {
                return Ok(numbers);
            }
            query.index += 1;
        }
    }

    async fn update_number(&self, update: &crate::api::NumberUpdate) -> Result<(), ApiError> {
        let form = serde_urlencoded::to_string(update).map_err(|e| ApiError::Encode(serde::ser::Error::custom(e)))?;
        let params = url::form_urlencoded::parse(form.as_bytes()).into_owned().collect();
        match self.store.update_number(&params).await.map_err(|e| failed(e.into()))? {
            Ok(()) => Ok(()),
            Err(super::numbers::Refusal::MethodFailed) => Err(status(420, "method failed", vec![])),
            Err(super::numbers::Refusal::BadRequest(why)) => Err(status(400, &why, vec![])),
        }
    }
}

impl InProcess {
    /// Gives the account numbers, as buying them would.
    pub async fn own_numbers(&self, numbers: Vec<crate::api::OwnedNumber>) -> Result<(), StoreError> {
        let stored =
            numbers.into_iter().map(|shown| super::store::StoredNumber { shown, ..Default::default() }).collect();
        self.store.put_numbers(stored).await
    }
}
