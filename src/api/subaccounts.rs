//! The Subaccounts API: a primary account's subaccounts, and number transfers between them.
//!
//! Called with the primary's credentials at `/accounts/{primary}/…` on the API host. There is no
//! delete: a subaccount leaves by being suspended. The types here are the wire's; the emulator serves
//! them and the client reads them.

use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ApiError;
use crate::model::ApiKey;
use crate::model::Msisdn;
use crate::secret::Secret;

/// The most subaccounts a listing may hold (the API does not page): an answer with more is refused.
pub const MAX_SUBACCOUNTS: usize = 10_000;

/// A subaccount as the API shows it (never its secret).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SubaccountInfo {
    pub api_key: ApiKey,
    pub name: String,
    #[serde(default)]
    pub primary_account_api_key: ApiKey,
    #[serde(default = "yes")]
    pub use_primary_account_balance: bool,
    #[serde(default)]
    pub suspended: bool,
    #[serde(default)]
    pub created_at: Option<String>,
}

fn yes() -> bool {
    true
}

/// `POST /accounts/{primary}/subaccounts`: the secret is made by vapp, so it is known before the
/// call leaves.
#[derive(Clone, Debug)]
pub struct NewSubaccount {
    pub name: String,
    pub secret: Secret,
    pub use_primary_account_balance: bool,
}

/// The body of a create, as sent (the one place a subaccount secret leaves vapp).
#[derive(Serialize)]
pub(crate) struct NewSubaccountBody<'a> {
    pub name: &'a str,
    pub secret: &'a str,
    pub use_primary_account_balance: bool,
}

impl NewSubaccount {
    pub(crate) fn body(&self) -> NewSubaccountBody<'_> {
        NewSubaccountBody {
            name: &self.name,
            secret: self.secret.expose(),
            use_primary_account_balance: self.use_primary_account_balance,
        }
    }
}

/// `PATCH /accounts/{primary}/subaccounts/{key}`: what is `None` is left as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SubaccountChange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_primary_account_balance: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub suspended: Option<bool>,
}

/// `POST /accounts/{primary}/transfer-number`, and its echo.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NumberTransfer {
    pub from: String,
    pub to: String,
    pub number: Msisdn,
    pub country: String,
}

/// `GET /accounts/{primary}/subaccounts`.
#[derive(Debug, Deserialize)]
pub(crate) struct SubaccountList {
    #[serde(rename = "_embedded")]
    pub embedded: SubaccountsEmbedded,
}

#[derive(Debug, Deserialize)]
pub(crate) struct SubaccountsEmbedded {
    #[serde(default)]
    pub subaccounts: Vec<SubaccountInfo>,
}

/// The calls of the Subaccounts API, made as the primary account.
pub trait SubaccountsApi: Send + Sync {
    /// Every subaccount of the primary.
    fn list_subaccounts(&self) -> impl Future<Output = Result<Vec<SubaccountInfo>, ApiError>> + Send;
    fn get_subaccount(&self, api_key: &ApiKey) -> impl Future<Output = Result<SubaccountInfo, ApiError>> + Send;
    /// Not idempotent: never retried (a lost answer is resolved by listing).
    fn create_subaccount(&self, new: &NewSubaccount) -> impl Future<Output = Result<SubaccountInfo, ApiError>> + Send;
    fn modify_subaccount(
        &self,
        api_key: &ApiKey,
        change: &SubaccountChange,
    ) -> impl Future<Output = Result<SubaccountInfo, ApiError>> + Send;
    fn transfer_number(&self, transfer: &NumberTransfer) -> impl Future<Output = Result<(), ApiError>> + Send;
    /// Whether `secret` signs in as the account `api_key` (a 401 says no).
    fn secret_opens(&self, api_key: &ApiKey, secret: &Secret) -> impl Future<Output = Result<bool, ApiError>> + Send;
}
