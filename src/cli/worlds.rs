//! The accounts besides `default` that one run plans: which they are, how to sign in to each, and
//! what each holds, read side by side.
//!
//! `default` is read by [`Context::gather`] as it always was; the others are read here, each with its
//! own credentials: an existing account's from the variable its declaration names, a subaccount vapp
//! made from the state's custody. A subaccount not made yet holds nothing.

use std::collections::BTreeSet;

use super::failure::{Context as _, Result};
use crate::api::{Client, Credentials, NumberFilter, NumbersApi as _};
use crate::manifest::accounts::AccountKind;
use crate::manifest::Desired;
use crate::model::{AccountName, Listed, Number};
use crate::state::{HeldSecret, State};

/// One account besides `default`, read (empty for a subaccount not made yet: the same apply makes it
/// before its applications).
pub struct World {
    pub account: AccountName,
    pub live: Vec<Listed>,
    pub numbers: Vec<Number>,
}

/// Whether the run spans accounts besides `default` (the manifests put applications there, or the
/// state has some there).
pub fn spans_accounts(desired: &Desired, state: Option<&State>) -> bool {
    desired.apps.values().any(|app| !app.account.is_default())
        || state.is_some_and(|s| s.applications.values().any(|e| e.account.as_ref().is_some_and(|a| !a.is_default())))
}

/// The accounts besides `default` with applications in the manifests or the state, by name.
fn accounts_in_play(desired: &Desired, state: Option<&State>) -> BTreeSet<AccountName> {
    let mut names: BTreeSet<AccountName> = desired.apps.values().map(|app| app.account.clone()).collect();
    if let Some(state) = state {
        names.extend(state.applications.values().map(|e| e.account_name()));
    }
    names.retain(|name| !name.is_default());
    names
}

/// How to sign in to `account`: `None` for a subaccount not made yet.
///
/// An existing account is bound in the state to the API key it was first used with, as `default` is:
/// a different key for the name is refused unless `allow_other_account`.
pub fn credentials(
    desired: &Desired,
    state: Option<&State>,
    account: &AccountName,
    settings: &super::Settings,
) -> Result<Option<Credentials>> {
    let allow_other_account = settings.allow_other_account;
    let record = state.and_then(|s| s.accounts.get(account));
    match desired.accounts.get(account).map(|d| &d.kind) {
        Some(AccountKind::Existing { api_key, .. })
            if !allow_other_account
                && record.is_some_and(|r| r.subaccount.is_none() && r.api_key.as_ref().is_some_and(|k| k != api_key)) =>
        {
            let recorded = record.and_then(|r| r.api_key.clone()).unwrap_or_default();
            Err(super::failure::hinted(
                format!("the state binds account {account} to API key {recorded}, but the manifests give it {api_key}"),
                "its application ids mean nothing in another account: fix `api_key`, or pass --allow-other-account if the account really is the same",
            ))
        }
        // The sandbox knows every declared account by one sandbox secret: a real one never reaches it.
        Some(AccountKind::Existing { api_key, .. }) if settings.sandbox => {
            Ok(Some(Credentials::new(api_key.clone(), crate::emulator::SANDBOX_ACCOUNT_SECRET)))
        }
        Some(AccountKind::Existing { api_key, api_secret_env }) => match std::env::var(api_secret_env) {
            Ok(secret) if !secret.is_empty() => Ok(Some(Credentials::new(api_key.clone(), secret))),
            _ => Err(super::failure::hinted(
                format!("account {account} needs its API secret in {api_secret_env}, which is not set"),
                format!("set {api_secret_env} where vapp runs (the manifests name it as account {account}'s `api_secret_env`)"),
            )),
        },
        _ => {
            let Some(made) = record.and_then(|r| r.subaccount.as_ref()) else {
                if desired.accounts.contains_key(account) {
                    return Ok(None);
                }
                return Err(super::failure::hinted(
                    format!("the state has applications in account {account}, which the manifests no longer declare"),
                    format!("declare account {account} again (to delete its applications, remove them first), or `vapp state rm` them"),
                ));
            };
            let Some(api_key) = &record.and_then(|r| r.api_key.clone()) else { return Ok(None) };
            match &made.secret {
                HeldSecret::Open { secret } => Ok(Some(Credentials::new(api_key.clone(), secret.expose()))),
                HeldSecret::Sealed { .. } => Err(super::failure::Failure::msg(format!(
                    "the state holds account {account}'s secret sealed: give the state passphrase"
                ))),
            }
        }
    }
}

/// What reading one account besides `default` needs: its name, how to sign in (none for a
/// subaccount not made yet), and which applications its listing keeps whole.
pub struct ToRead {
    account: AccountName,
    credentials: Option<Credentials>,
    keep: crate::model::Keep,
}

/// The accounts besides `default` in play (and `also`, a saved plan's), ready to be read (errors
/// such as a missing secret variable come out here, before anything is read).
pub fn prepare(
    desired: &Desired,
    state: Option<&State>,
    also: &[AccountName],
    settings: &super::Settings,
) -> Result<Vec<ToRead>> {
    if !spans_accounts(desired, state) && also.is_empty() {
        return Ok(Vec::new());
    }
    let mut in_play = accounts_in_play(desired, state);
    in_play.extend(also.iter().filter(|a| !a.is_default()).cloned());
    in_play
        .into_iter()
        .map(|account| {
            let credentials = credentials(desired, state, &account, settings)?;
            let keep = crate::plan::listing_keeps(state.map(|s| crate::plan::accounts::state_in(s, &account)).as_ref());
            Ok(ToRead { account, credentials, keep })
        })
        .collect()
}

/// Reads every prepared account at once (each listing bounded as `default`'s is), with clients made
/// from `client` and `numbers` (the run's, for `default`).
pub async fn read(client: &Client, numbers: &Client, accounts: Vec<ToRead>) -> Result<Vec<World>> {
    let reads = accounts.into_iter().map(|ToRead { account, credentials, keep }| async move {
        let Some(credentials) = credentials else {
            return Ok(World { account, live: Vec::new(), numbers: Vec::new() });
        };
        let (apps, numbers) = clients(client, numbers, &credentials);
        let listing = apps.list_for_plan(async { keep });
        let everything = NumberFilter::default();
        let (live, owned) = tokio::join!(listing, numbers.list_numbers(&everything));
        let live = live.with_context(|| format!("cannot list the applications of account {account}"))?;
        let owned = owned.with_context(|| format!("cannot list the numbers of account {account}"))?;
        let numbers = owned.iter().map(crate::api::OwnedNumber::summary).collect();
        Ok::<_, super::failure::Failure>(World { account, live, numbers })
    });
    futures::future::try_join_all(reads).await
}

/// The existing accounts in play (and `also`, a saved plan's) that the state does not bind to their
/// API key yet, with the key.
pub fn unbound(desired: &Desired, state: &State, also: &[AccountName]) -> Vec<(AccountName, String)> {
    let mut in_play = accounts_in_play(desired, Some(state));
    in_play.extend(also.iter().cloned());
    in_play
        .into_iter()
        .filter_map(|account| match desired.accounts.get(&account).map(|d| &d.kind) {
            Some(AccountKind::Existing { api_key, .. })
                if state.accounts.get(&account).and_then(|r| r.api_key.as_ref()) != Some(api_key) =>
            {
                Some((account, api_key.clone()))
            }
            _ => None,
        })
        .collect()
}

/// The Application and Numbers API clients of an account, sharing the run's connection pool.
pub fn clients(client: &Client, numbers: &Client, credentials: &Credentials) -> (Client, Client) {
    (client.for_credentials(credentials.clone()), numbers.for_credentials(credentials.clone()))
}
