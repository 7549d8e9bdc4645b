//! `vapp state list | show | rm`: inspect and repair the state.

use anyhow::{bail, Result};
use clap::Subcommand;
use serde_json::json;

use super::{Context, Exit};
use crate::state::{self, KeyRecord};

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the managed addresses with their application ids
    List,
    /// Show what the state holds for an address (never the private key)
    Show { address: String },
    /// Stop managing an address; the application stays in the account
    Rm { address: String },
}

pub fn run(context: &Context, command: StateCommand) -> Result<Exit> {
    let mut state = context.require_state()?;
    match command {
        StateCommand::List => {
            let mut out = String::new();
            for (address, entry) in &state.applications {
                out.push_str(&format!("{address}\t{}\n", entry.id.as_deref().unwrap_or("(create pending)")));
            }
            context.printer.data(&out);
        }
        StateCommand::Show { address } => {
            let Some(entry) = state.applications.get(&address) else { bail!("{address} is not in the state") };
            let key = match &entry.key {
                KeyRecord::Managed { fingerprint, .. } => json!({"custody": "managed", "fingerprint": fingerprint}),
                KeyRecord::Unknown { fingerprint } => json!({"custody": "unknown", "fingerprint": fingerprint}),
            };
            let shown = json!({"address": address, "id": entry.id, "protect": entry.protect, "key": key, "applied": entry.applied});
            context.printer.data(&format!("{}\n", serde_json::to_string_pretty(&shown)?));
        }
        StateCommand::Rm { address } => {
            let Some(entry) = state.applications.remove(&address) else { bail!("{address} is not in the state") };
            state.serial += 1;
            state::save(context.state_path(), &state)?;
            context.printer.status(&format!(
                "{address} is no longer managed; application {} stays in the account{}",
                entry.id.as_deref().unwrap_or("(none)"),
                if entry.key.private_key().is_some() { " and its private key is gone from the state" } else { "" }
            ));
        }
    }
    Ok(Exit::Success)
}
