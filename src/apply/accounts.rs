//! Carrying out the accounts' part of a plan: making, changing, resuming and suspending subaccounts,
//! with their secrets in the state's custody, and transferring numbers between accounts.
//!
//! As with private keys, a subaccount's secret is made here and written into the state (sealed when
//! the state is encrypted) before the create that sends it leaves, so a lost answer never loses it.
//! A create whose outcome is unknown (`again`) is first looked for among the primary's subaccounts by
//! name, and by its secret signing in: a subaccount is never made twice.

use rand::Rng;

use crate::api::{ApiError, NewSubaccount, NumberTransfer, NumbersApi, SubaccountChange, SubaccountsApi};
use crate::model::{AccountName, ApiKey, Msisdn};
use crate::plan::{AccountChange, AccountStep, Transfer};
use crate::secret::Secret;
use crate::state::{AccountRecord, HeldSecret, StateError, StateStore, SubaccountRecord};

/// Why an account change failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("cannot {action} account {account}")]
    Api {
        action: &'static str,
        account: String,
        #[source]
        source: Box<ApiError>,
    },
    #[error("cannot record account {account} in the state")]
    State {
        account: String,
        #[source]
        source: Box<StateError>,
    },
    #[error("account {account}: the state holds its secret sealed, and this run has no passphrase")]
    Sealed { account: String },
    #[error("cannot sign in to account {account}")]
    SignIn {
        account: String,
        #[source]
        source: Box<crate::accounts::AccountsError>,
    },
    #[error("account {account} is not made yet")]
    NotMade { account: String },
    #[error("cannot transfer number {number} from account {from} to account {to}")]
    Transfer {
        number: Msisdn,
        from: AccountName,
        to: AccountName,
        #[source]
        source: Box<ApiError>,
    },
    #[error("neither account {from} nor account {to} owns number {number} any more")]
    NumberNowhere { number: Msisdn, from: AccountName, to: AccountName },
    #[error("cannot record the transfer of number {number} in the state")]
    TransferState {
        number: Msisdn,
        #[source]
        source: Box<StateError>,
    },
    /// Not carried out: an earlier stage of the apply did not complete for this account.
    #[error("not started: {why}")]
    NotStarted { why: &'static str },
}

/// How an account's change ended.
pub type AccountResult = Result<AccountDone, AccountError>;

/// An account change and how it ended.
#[derive(Debug)]
pub struct AccountOutcome {
    pub change: AccountChange,
    pub result: AccountResult,
}

/// A transfer and how it ended.
#[derive(Debug)]
pub struct TransferOutcome {
    pub transfer: Transfer,
    pub result: Result<(), AccountError>,
}

/// What one change did, for the person watching.
#[derive(Debug, PartialEq, Eq)]
pub enum AccountDone {
    Created {
        api_key: ApiKey,
    },
    /// An earlier create had landed: found by name and secret, not made again.
    Found {
        api_key: ApiKey,
    },
    Updated,
    Resumed,
    Suspended,
}

/// A new subaccount secret by Vonage's rules: 20 characters from a CSPRNG, with a lower-case
/// letter, an upper-case letter and a digit.
pub fn new_secret() -> Secret {
    let mut rng = rand::rngs::OsRng;
    let mut chars: Vec<char> = (0..17).map(|_| char::from(rng.sample(rand::distributions::Alphanumeric))).collect();
    for class in [b'a'..=b'z', b'A'..=b'Z', b'0'..=b'9'] {
        let c = char::from(rng.gen_range(class));
        let at = rng.gen_range(0..=chars.len());
        chars.insert(at, c);
    }
    Secret::new(chars.into_iter().collect::<String>())
}

/// Carries out one account change with the primary's Subaccounts API.
pub async fn execute_one<S: SubaccountsApi>(
    api: &S,
    store: &StateStore,
    change: &AccountChange,
) -> Result<AccountDone, AccountError> {
    let account = change.account.clone();
    let name_of = || account.to_string();
    let failed =
        |action: &'static str| move |source| AccountError::Api { action, account: name_of(), source: Box::new(source) };
    let record = |source| AccountError::State { account: account.to_string(), source: Box::new(source) };
    match &change.step {
        AccountStep::Create { parent, name, use_primary_account_balance, again } => {
            let kept = store.read(|s| s.accounts.get(&account).and_then(|r| r.subaccount.clone()));
            let secret = match kept.as_ref().map(|k| &k.secret) {
                Some(HeldSecret::Open { secret }) => secret.clone(),
                Some(HeldSecret::Sealed { .. }) => return Err(AccountError::Sealed { account: account.to_string() }),
                None => new_secret(),
            };
            if *again || kept.as_ref().is_some_and(|k| k.creating) {
                let listed = api.list_subaccounts().await.map_err(failed("look for"))?;
                // By the name it was sent with (the manifests may have renamed it since) or the name
                // wanted now, and by its secret signing in.
                let sent_as = kept.as_ref().map(|k| &k.name);
                for candidate in listed.iter().filter(|s| &s.name == name || Some(&s.name) == sent_as) {
                    if api.secret_opens(&candidate.api_key, &secret).await.map_err(failed("look for"))? {
                        let api_key = candidate.api_key.clone();
                        record_made(store, &account, &api_key).await.map_err(record)?;
                        return Ok(AccountDone::Found { api_key });
                    }
                }
            }
            let made = SubaccountRecord {
                parent: parent.clone(),
                name: name.clone(),
                use_primary_account_balance: *use_primary_account_balance,
                suspended: false,
                creating: true,
                numbers: Default::default(),
                secret: HeldSecret::Open { secret: secret.clone() },
            };
            // The secret is in the state before the create that sends it leaves.
            store
                .commit(|s| {
                    s.accounts.insert(account.clone(), AccountRecord { api_key: None, subaccount: Some(made) });
                })
                .await
                .map_err(record)?;
            let new =
                NewSubaccount { name: name.clone(), secret, use_primary_account_balance: *use_primary_account_balance };
            let created = api.create_subaccount(&new).await.map_err(failed("create"))?;
            let api_key = created.api_key.clone();
            record_made(store, &account, &api_key).await.map_err(record)?;
            Ok(AccountDone::Created { api_key })
        }
        AccountStep::Update { api_key, name, use_primary_account_balance, resume } => {
            let patch = SubaccountChange {
                name: name.as_ref().map(|n| n.after.clone()),
                use_primary_account_balance: use_primary_account_balance.as_ref().map(|b| b.after),
                suspended: resume.is_some().then_some(false),
            };
            let shown = api.modify_subaccount(api_key, &patch).await.map_err(failed("update"))?;
            store
                .commit(|s| {
                    if let Some(sub) = s.accounts.get_mut(&account).and_then(|r| r.subaccount.as_mut()) {
                        sub.name = shown.name.clone();
                        sub.use_primary_account_balance = shown.use_primary_account_balance;
                        sub.suspended = shown.suspended;
                    }
                })
                .await
                .map_err(record)?;
            Ok(if resume.is_some() { AccountDone::Resumed } else { AccountDone::Updated })
        }
        AccountStep::Suspend { api_key } => {
            let patch = SubaccountChange { suspended: Some(true), ..Default::default() };
            api.modify_subaccount(api_key, &patch).await.map_err(failed("suspend"))?;
            store
                .commit(|s| {
                    if let Some(sub) = s.accounts.get_mut(&account).and_then(|r| r.subaccount.as_mut()) {
                        sub.suspended = true;
                    }
                })
                .await
                .map_err(record)?;
            Ok(AccountDone::Suspended)
        }
    }
}

/// One side of a transfer: the account, its API key, and its Numbers API.
pub struct Side<'a, N> {
    pub account: &'a AccountName,
    pub api_key: &'a ApiKey,
    pub numbers: &'a N,
}

/// Transfers a number between two accounts of one family with the primary's Subaccounts API: recorded
/// as an intent before the call and cleared once answered. The accounts are asked first who owns the
/// number, so a transfer an earlier run carried out (its answer lost) is not sent again, and a number
/// whose country the plan could not read (a suspended account's) gets it here.
pub async fn transfer<S: SubaccountsApi, N: NumbersApi>(
    primary: &S,
    from: Side<'_, N>,
    to: Side<'_, N>,
    store: &StateStore,
    transfer: &Transfer,
) -> Result<(), AccountError> {
    let number = &transfer.number;
    let call_failed = |source| AccountError::Transfer {
        number: number.clone(),
        from: from.account.clone(),
        to: to.account.clone(),
        source: Box::new(source),
    };
    let recorded = |source| AccountError::TransferState { number: number.clone(), source: Box::new(source) };
    let country = match from.numbers.find_number(number).await.map_err(call_failed)? {
        Some(owned) => owned.country,
        None => {
            if let Some(there) = to.numbers.find_number(number).await.map_err(call_failed)? {
                // Done by an earlier run whose answer was lost.
                return store
                    .commit(|s| s.record_transfer(number, &there.country, from.account, to.account))
                    .await
                    .map_err(recorded);
            }
            return Err(AccountError::NumberNowhere {
                number: number.clone(),
                from: from.account.clone(),
                to: to.account.clone(),
            });
        }
    };
    let country = if transfer.country.is_empty() { country } else { transfer.country.clone() };
    let call = NumberTransfer {
        from: from.api_key.to_string(),
        to: to.api_key.to_string(),
        number: number.clone(),
        country: country.clone(),
    };
    let pending = crate::state::PendingTransfer { from: transfer.from.clone(), to: transfer.to.clone() };
    store.commit(|s| drop(s.transfers_pending.insert(number.clone(), pending))).await.map_err(recorded)?;
    crate::crash::point("transfer:intended");
    primary.transfer_number(&call).await.map_err(call_failed)?;
    crate::crash::point("transfer:answered");
    store.commit(|s| s.record_transfer(number, &country, from.account, to.account)).await.map_err(recorded)
}

/// Records that the subaccount `account` exists as `api_key`: its create's outcome is known.
async fn record_made(store: &StateStore, account: &AccountName, api_key: &ApiKey) -> Result<(), StateError> {
    store
        .commit(|s| {
            if let Some(r) = s.accounts.get_mut(account) {
                r.api_key = Some(api_key.clone());
                if let Some(sub) = r.subaccount.as_mut() {
                    sub.creating = false;
                }
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn new_secrets_follow_vonages_rules_and_differ() {
        let a = super::new_secret();
        let b = super::new_secret();
        assert!(crate::emulator::is_valid_secret(a.expose()), "{}", a.expose().len());
        assert_eq!(a.expose().chars().count(), 20);
        assert_ne!(a.expose(), b.expose());
    }
}
