//! `vapp account show`: an account's API key for the servers that use it, with the secret of a
//! subaccount vapp made (it keeps it in the state), or the variable that holds another's.

use super::definitions::{AccountCommand, AccountFormat};
use serde_json::json;

use super::failure::{bail, Result};
use super::{Context, Exit};
use crate::manifest::accounts::AccountKind;
use crate::model::AccountName;
use crate::model::ApiKey;
use crate::state::HeldSecret;

/// What vapp can say of an account's credentials.
enum Shown {
    /// A subaccount vapp made: its key and the secret in the state's custody.
    Made { api_key: ApiKey, secret: crate::secret::Secret, suspended: bool },
    /// Any other account: its key, and the variable whose value is its secret (vapp holds none).
    Elsewhere { api_key: Option<ApiKey>, variable: String },
}

pub async fn run(context: &Context, command: AccountCommand) -> Result<Exit> {
    let AccountCommand::Show { name, format } = command;
    let Ok(account) = AccountName::parse(&name) else { bail!("`{name}` is not an account name") };
    // The manifests say what the account is; without them, the state alone (a subaccount in custody).
    let declared = context.manifests().map(|d| d.accounts).unwrap_or_default();
    let loaded = match account.is_default()
        || matches!(declared.get(&account).map(|d| &d.kind), Some(AccountKind::Existing { .. }))
    {
        true => context.load_state().await?,
        false => context.load_state_with_keys().await?,
    };
    let state = loaded.as_ref().map(|l| &l.state);
    let record = state.and_then(|s| s.accounts.get(&account));
    let shown = match (account.is_default(), declared.get(&account).map(|d| &d.kind), record) {
        (true, ..) => Shown::Elsewhere {
            api_key: context.settings.credentials.api_key().cloned().or_else(|| {
                match state.and_then(|s| s.account.as_ref()) {
                    Some(crate::state::Account::Vonage { api_key, .. }) => Some(api_key.clone()),
                    _ => None,
                }
            }),
            variable: "VONAGE_API_SECRET".into(),
        },
        (false, Some(AccountKind::Existing { api_key, api_secret_env }), _) => {
            Shown::Elsewhere { api_key: Some(api_key.clone()), variable: api_secret_env.clone() }
        }
        (false, _, Some(record)) if record.subaccount.is_some() => {
            let (Some(api_key), Some(made)) = (&record.api_key, &record.subaccount) else {
                bail!("account {account} is not made yet (its create's outcome is unknown): run `vapp apply` to finish it");
            };
            let HeldSecret::Open { secret } = &made.secret else {
                bail!("the secret of account {account} is sealed; give the state passphrase");
            };
            Shown::Made { api_key: api_key.clone(), secret: secret.clone(), suspended: made.suspended }
        }
        (false, Some(AccountKind::Subaccount { .. }), None) => {
            return Err(super::failure::hinted(
                format!("account {account} is not made yet"),
                "`vapp apply` makes it; then its key and secret are here",
            ));
        }
        _ => {
            return Err(super::failure::hinted(
                format!(
                    "no account {account}: the manifests do not declare it and the state {} holds none",
                    context.settings.state
                ),
                "name `default` or an account declared under `accounts:` (give the manifests with -f)",
            ));
        }
    };
    let text = match (&shown, format) {
        (Shown::Made { api_key, secret, .. }, AccountFormat::Env) => {
            format!("VONAGE_API_KEY={api_key}\nVONAGE_API_SECRET={}\n", secret.expose())
        }
        (Shown::Made { api_key, secret, .. }, AccountFormat::Json) => {
            let value =
                json!({"account": account, "kind": "subaccount", "api_key": api_key, "api_secret": secret.expose()});
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        (Shown::Elsewhere { api_key, variable }, AccountFormat::Env) => {
            let key = api_key.as_ref().map_or("", |k| k.as_str());
            format!("VONAGE_API_KEY={key}\n# VONAGE_API_SECRET: vapp holds no secret for account {account}; it is the value of {variable}\n")
        }
        (Shown::Elsewhere { api_key, variable }, AccountFormat::Json) => {
            let kind = if account.is_default() { "primary" } else { "existing" };
            let value = json!({"account": account, "kind": kind, "api_key": api_key, "api_secret_env": variable});
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    };
    if let Shown::Made { suspended: true, .. } = shown {
        context.printer.warn(&format!("account {account} is suspended: its credentials sign in to nothing"));
    }
    context.printer.data(&text);
    Ok(Exit::Success)
}
