//! `vapp import ADDR APP_ID`: take an existing application under management.

use super::definitions::ImportArgs;
use super::failure::{bail, Context as _, Result};

use super::{Context, Exit};
use crate::api::numbers::{NumberFilter, NumbersApi};
use crate::api::ApplicationApi;
use crate::model::{AccountName, AppId};
use crate::plan::diff::comparable;
use crate::state::{KeyRecord, StateEntry};

pub async fn run(context: &Context, args: ImportArgs) -> Result<Exit> {
    let address = &args.address;
    let desired = context.manifests()?;
    Context::refuse_what_is_not_built(&desired)?;
    let Some(declared) = desired.apps.get(address) else {
        return Err(super::failure::hinted(
            format!("{address} is not declared in the manifests, so the next plan would delete the application"),
            "declare it first; `vapp export -o DIR` writes manifests for the live applications",
        ));
    };
    let protect = declared.protect;
    let account = declared.account.clone();
    context.with_state_lock("import", args.lock_timeout, import(context, &args, &desired, &account, protect)).await
}

async fn import(
    context: &Context,
    args: &ImportArgs,
    desired: &crate::manifest::Desired,
    account: &AccountName,
    protect: bool,
) -> Result<Exit> {
    let address = &args.address;
    let loaded = context.load_state().await?;
    context.check_account(loaded.as_ref().map(|l| &l.state))?;
    let store = context.store(loaded).await?;
    let state = store.snapshot();
    if let Some(entry) = state.applications.get(address) {
        let id = entry.id.as_ref().map_or("(create pending)", AppId::as_str);
        bail!("{address} already manages application {id}");
    }
    if let Some(other) = state.address_of(&args.app_id) {
        bail!("application {} is already managed as {other}", args.app_id);
    }
    let connection = context.connect().await?;
    let directory = context.directory(desired.accounts.clone(), &connection);
    // The application is read in the account the manifests put it in, with that account's credentials.
    let (credentials, _) = directory.credentials(account, Some(&state))?.ok_or_else(|| {
        super::failure::Failure::msg(format!("account {account} is not made yet: apply first, then import into it"))
    })?;
    let (apps, numbers_api) = directory.clients(&credentials);
    let live = apps
        .get(&args.app_id)
        .await
        .with_context(|| format!("cannot import {} from account {account}", args.app_id))?;
    let routed = NumberFilter { application_id: Some(args.app_id.clone()), ..Default::default() };
    let numbers = numbers_api
        .list_numbers(&routed)
        .await
        .with_context(|| format!("cannot list the numbers of account {account} at {}", numbers_api.base_url()))?;
    let fingerprint = live.public_key().and_then(|pem| crate::keys::fingerprint(pem).ok());
    let entry = StateEntry {
        id: Some(args.app_id.clone()),
        key: KeyRecord::Unknown { fingerprint },
        protect,
        applied: Some(comparable(&live)?),
        // The filter is the API's; the ids are checked here all the same.
        numbers: numbers.iter().filter(|n| n.app_id.as_ref() == Some(&args.app_id)).map(|n| n.msisdn.clone()).collect(),
        account: (!account.is_default()).then(|| account.clone()),
        ..Default::default()
    };
    let linked = match entry.numbers.len() {
        0 => String::new(),
        1 => " with its number".to_string(),
        n => format!(" with its {n} numbers"),
    };
    let here = context.account()?;
    // An existing account is bound to its API key with its first import, as with its first apply.
    let binding = directory.unbound(&state, std::slice::from_ref(account)).into_iter().next();
    store
        .commit(|s| {
            s.account = Some(here);
            s.applications.insert(address.clone(), entry);
            if let Some((name, api_key)) = binding {
                s.accounts
                    .entry(name)
                    .or_insert(crate::state::AccountRecord { api_key: None, subaccount: None })
                    .api_key = Some(api_key);
            }
        })
        .await?;
    context.printer.status(&format!(
        "Imported {} ({:?}){linked} as {address}. vapp does not hold its private key; `vapp key show {address}` says how to take custody.",
        args.app_id, live.name
    ));
    Ok(Exit::Success)
}
