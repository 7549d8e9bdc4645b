//! `vapp check`: call every webhook of the manifests' applications the way Vonage would, and say
//! which would break calls and messages. It changes nothing: no account is called, the state is
//! only read (for the applications' ids, which signed requests carry), and only the manifests' URLs
//! receive requests.

use super::definitions::CheckArgs;

use super::definitions::Format;
use super::failure::Result;
use super::{Context, Exit};
use crate::model::AccountName;
use crate::webhooks::check::{check, Clock, SystemClock, Target, SAMPLE_CALLER};
use crate::webhooks::events::Traffic;
use crate::webhooks::hooks::hooks_of;
use crate::webhooks::report::{render_human, render_json, render_markdown};
use crate::webhooks::rules::MessagesVersion;
use crate::webhooks::sign::Signer;

/// The variable that holds `default`'s signature secret.
pub const SIGNATURE_SECRET_VAR: &str = "VONAGE_SIGNATURE_SECRET";

/// The number sample traffic is to when the application lists none.
const SAMPLE_NUMBER: &str = "447700900000";

pub async fn run(context: &Context, args: CheckArgs) -> Result<Exit> {
    let desired = context.manifests()?;
    // Only read, for the ids: no lock, and sealed keys stay sealed.
    let loaded = context.load_state().await?;
    let state = loaded.as_ref().map(|l| &l.state);
    let accounts = super::plan::accounts_named(&args.accounts, &desired, state)?;
    if let Some(unknown) = args.targets.iter().find(|t| !desired.apps.contains_key(*t)) {
        return Err(super::failure::hinted(
            format!("--target {unknown}: no application in the manifests has this address"),
            "name an address under `applications:` in the manifests",
        ));
    }
    let mut targets = Vec::new();
    let mut unapplied = Vec::new();
    let mut unsigned = Vec::new();
    let clock = SystemClock;
    for app in desired.apps.values() {
        if (!args.targets.is_empty() && !args.targets.contains(&app.address))
            || (!accounts.is_empty() && !accounts.contains(&app.account))
        {
            continue;
        }
        let application_id = state.and_then(|s| s.applications.get(&app.address)).and_then(|e| e.id.clone());
        let signer = match signer_of(context, &desired, state, &app.account) {
            Ok(signer) => signer,
            Err(account) => {
                unsigned.push(account);
                None
            }
        };
        if signer.is_some() && application_id.is_none() {
            unapplied.push(app.address.to_string());
        }
        // One sample call (or message) per application: its fallback request carries the fields of its
        // answer request, as Vonage's does.
        let traffic = Traffic {
            to: app.numbers.first().map_or_else(|| SAMPLE_NUMBER.to_string(), |n| n.msisdn.to_string()),
            from: SAMPLE_CALLER.to_string(),
            uuid: clock.uuid(),
            conversation_uuid: format!("CON-{}", clock.uuid()),
            timestamp: clock.timestamp(),
        };
        let messages_version = MessagesVersion::of(
            app.application
                .capabilities
                .as_deref()
                .and_then(|c| c.messages.as_deref())
                .and_then(|m| m.version.as_deref()),
        );
        for hook in hooks_of(&app.application, args.timeout) {
            targets.push(Target {
                address: app.address.clone(),
                account: app.account.clone(),
                application_id: application_id.clone(),
                hook,
                signer: signer.clone(),
                traffic: traffic.clone(),
                messages_version,
            });
        }
    }
    unsigned.dedup();
    for account in unsigned {
        context.printer.warn(&format!(
            "account {account} has a signature secret, but vapp does not know its API key (the token's api_key claim): its requests go unsigned; set VONAGE_API_KEY, or apply first"
        ));
    }
    if !unapplied.is_empty() {
        context.printer.warn(&format!(
            "the state has no id for {} (not applied yet): their signed requests carry an empty application_id",
            unapplied.join(", ")
        ));
    }
    let caller = crate::webhooks::call::Caller::new();
    let count = targets.len();
    let spinner = context.printer.spinner(&format!("calling {count} webhook{}", if count == 1 { "" } else { "s" }));
    let report = check(&caller, &targets, &clock).await;
    if let Some(spinner) = spinner {
        spinner.finish_and_clear();
    }
    let text = match args.format {
        Format::Human if report.results.is_empty() && (!args.targets.is_empty() || !accounts.is_empty()) => {
            "No webhooks to check: the applications chosen by --target and --account hold none.\n".to_string()
        }
        Format::Human => render_human(&report),
        Format::Json => render_json(&report),
        Format::Markdown => render_markdown(&report),
    };
    context.printer.data(&text);
    Ok(if report.ok() { Exit::Success } else { Exit::Failure })
}

/// Who signs `account`'s webhooks: its API key and signature secret, when the secret is set
/// (`VONAGE_SIGNATURE_SECRET` for `default`, the declared `signature_secret_env` for the others).
/// `Err(account)` when the secret is set but the account's API key is not known: a token must claim
/// the key of the account that owns the application, never an empty one.
fn signer_of(
    context: &Context,
    desired: &crate::manifest::Desired,
    state: Option<&crate::state::State>,
    account: &AccountName,
) -> Result<Option<Signer>, AccountName> {
    let variable = match account.is_default() {
        true => Some(SIGNATURE_SECRET_VAR.to_string()),
        false => desired.accounts.get(account).and_then(|d| d.signature_secret_env.clone()),
    };
    let Some(secret) = variable.and_then(|v| context.settings.environment.get(&v).cloned()) else { return Ok(None) };
    let api_key = api_key_of(context, desired, state, account).ok_or_else(|| account.clone())?;
    Ok(Some(Signer { api_key, secret }))
}

/// The API key of `account`: the sandbox's, `VONAGE_API_KEY` or the one the state records for
/// `default`; the declared one, or the one the state records, for the others.
pub fn api_key_of(
    context: &Context,
    desired: &crate::manifest::Desired,
    state: Option<&crate::state::State>,
    account: &AccountName,
) -> Option<crate::model::ApiKey> {
    if account.is_default() {
        if context.settings.sandbox {
            return Some(crate::model::ApiKey::new(crate::emulator::DEFAULT_API_KEY));
        }
        let recorded = match state.and_then(|s| s.account.as_ref()) {
            Some(crate::state::Account::Vonage { api_key, .. }) => Some(api_key.clone()),
            _ => None,
        };
        return context.settings.credentials.api_key().cloned().or(recorded);
    }
    match desired.accounts.get(account).map(|d| &d.kind) {
        Some(crate::manifest::accounts::AccountKind::Existing { api_key, .. }) => Some(api_key.clone()),
        _ => state.and_then(|s| s.accounts.get(account)).and_then(|r| r.api_key.clone()),
    }
}
