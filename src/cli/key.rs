//! `vapp key show`: print an application's private key.

use anyhow::{bail, Result};
use clap::Subcommand;

use super::{Context, Exit};

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the application's private key (PKCS#8 PEM) to stdout
    Show { address: String },
}

pub fn run(context: &Context, command: KeyCommand) -> Result<Exit> {
    let state = context.require_state()?;
    match command {
        KeyCommand::Show { address } => {
            let Some(entry) = state.applications.get(&address) else { bail!("{address} is not in the state") };
            let Some(private_key) = entry.key.private_key() else {
                bail!(
                    "vapp does not hold the private key of {address}: the application was made outside vapp and imported\n  = help: to take custody, give it a new key pair made by vapp: `vapp key rotate {address}`, then `vapp apply` (tokens signed with the old key stop working)"
                );
            };
            context.printer.data(private_key.expose());
        }
    }
    Ok(Exit::Success)
}
