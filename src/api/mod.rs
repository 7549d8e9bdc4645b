//! Talking to the Vonage Application API v2.
//!
//! [`ApplicationApi`] is the seam between vapp's logic and the network: the reconciler, import and export
//! are written against it, and [`Client`] implements it over HTTP. Tests point a real [`Client`] at the
//! emulator on 127.0.0.1, so the production code path is the tested one.

mod client;
pub mod numbers;
pub mod page;
mod problem;
pub mod retry;
pub mod subaccounts;
mod url;

use std::future::Future;

pub use client::{
    Client, ClientConfig, Credentials, DEFAULT_API_URL, LIST_PAGE_SIZE, MAX_ANSWER_BYTES, MAX_LIST_PAGES,
};
pub use numbers::{NumberFilter, NumberUpdate, NumbersApi, OwnedNumber};
pub use page::ListPage;
pub use problem::{ApiError, ListError, Problem};
pub use retry::{RetryNotice, RetryObserver, RetryPolicy};
pub use subaccounts::{NewSubaccount, NumberTransfer, SubaccountChange, SubaccountInfo, SubaccountsApi};
pub use url::{BadUrl, BaseUrl};

use crate::model::{AppId, Application};

/// The five calls of the Application API.
pub trait ApplicationApi: Send + Sync {
    /// Every application in the account, in the API's order.
    fn list_all(&self) -> impl Future<Output = Result<Vec<Application>, ApiError>> + Send;
    fn get(&self, id: &AppId) -> impl Future<Output = Result<Application, ApiError>> + Send;
    /// POST; the answer carries the new id (and a private key only when no public key was sent).
    fn create(&self, app: &Application) -> impl Future<Output = Result<Application, ApiError>> + Send;
    /// PUT: full replacement of the application `id`.
    fn update(&self, id: &AppId, app: &Application) -> impl Future<Output = Result<Application, ApiError>> + Send;
    fn delete(&self, id: &AppId) -> impl Future<Output = Result<(), ApiError>> + Send;
}
