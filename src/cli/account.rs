//! `vapp account show`: a vapp-made subaccount's API key and secret, for the servers that use it.

use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::failure::{bail, Result};
use super::{Context, Exit};
use crate::model::AccountName;
use crate::state::HeldSecret;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AccountFormat {
    /// VONAGE_API_KEY and VONAGE_API_SECRET as dotenv (.env) lines
    Env,
    /// {"account": …, "api_key": …, "api_secret": …}
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Print a subaccount's API key and secret (vapp made the secret and keeps it in the state)
    Show {
        /// The account's name in the manifests
        name: String,
        /// How to write it
        #[arg(long, value_enum, default_value_t = AccountFormat::Env)]
        format: AccountFormat,
    },
}

pub async fn run(context: &Context, command: AccountCommand) -> Result<Exit> {
    let AccountCommand::Show { name, format } = command;
    let Ok(account) = AccountName::parse(&name) else { bail!("`{name}` is not an account name") };
    let loaded = context.require_state_with_keys().await?;
    let Some(record) = loaded.state.accounts.get(&account) else {
        return Err(super::failure::hinted(
            format!("the state {} holds no account {account}", context.settings.state),
            "`account show` prints subaccounts vapp made; declare one under `accounts:` with `subaccount_of` and apply",
        ));
    };
    let (Some(api_key), Some(made)) = (&record.api_key, &record.subaccount) else {
        bail!("account {account} is not made yet (its create's outcome is unknown): run `vapp apply` to finish it");
    };
    let HeldSecret::Open { secret } = &made.secret else {
        bail!("the secret of account {account} is sealed; give the state passphrase");
    };
    let text = match format {
        AccountFormat::Env => format!("VONAGE_API_KEY={api_key}\nVONAGE_API_SECRET={}\n", secret.expose()),
        AccountFormat::Json => {
            let value = json!({"account": account, "api_key": api_key, "api_secret": secret.expose()});
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
    };
    if made.suspended {
        context.printer.warn(&format!("account {account} is suspended: its credentials sign in to nothing"));
    }
    context.printer.data(&text);
    Ok(Exit::Success)
}
