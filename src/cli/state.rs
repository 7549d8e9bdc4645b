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
    Rm {
        address: String,
        /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h)
        #[arg(long, value_parser = super::args::duration_at_most(super::args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
        lock_timeout: std::time::Duration,
    },
    /// Encrypt the private keys in the state with the passphrase (VAPP_STATE_PASSPHRASE or --passphrase-file)
    Encrypt,
    /// Store the private keys in the state as plain PEM again (needs the passphrase)
    Decrypt,
    /// Remove the state lock of a vapp that is gone (with --force: any lock)
    Unlock {
        /// Remove the lock even if its holder may still be running
        #[arg(long)]
        force: bool,
    },
}

pub fn run(context: &Context, command: StateCommand) -> Result<Exit> {
    if let StateCommand::Unlock { force } = command {
        return unlock(context, force);
    }
    let _lock = match &command {
        StateCommand::Rm { lock_timeout, .. } => Some(context.lock_state("state rm", *lock_timeout)?),
        StateCommand::Encrypt => Some(context.lock_state("state encrypt", std::time::Duration::ZERO)?),
        StateCommand::Decrypt => Some(context.lock_state("state decrypt", std::time::Duration::ZERO)?),
        _ => None,
    };
    let mut state = match command {
        StateCommand::Decrypt => context.require_state_with_keys()?,
        _ => context.require_state()?,
    };
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
                KeyRecord::External { fingerprint } => json!({"custody": "external", "fingerprint": fingerprint}),
                KeyRecord::Unknown { fingerprint } => json!({"custody": "unknown", "fingerprint": fingerprint}),
            };
            let shown = json!({"address": address, "id": entry.id, "protect": entry.protect, "key": key, "applied": entry.applied});
            context.printer.data(&format!("{}\n", serde_json::to_string_pretty(&shown)?));
        }
        StateCommand::Unlock { .. } => {}
        StateCommand::Encrypt => {
            if state.encryption.is_some() {
                bail!("the private keys in {} are already encrypted", context.state_path().display());
            }
            let Some(passphrase) = context.passphrase()? else {
                bail!("give the passphrase in VAPP_STATE_PASSPHRASE or with --passphrase-file FILE");
            };
            let (settings, sealer) = state::Sealer::create(&passphrase)?;
            state.encryption = Some(settings);
            state.sealer = Some(sealer);
            state::save(context.state_path(), &mut state)?;
            // Earlier versions hold the keys in plain text; the encrypted state holds every key they do.
            let removed = state::remove_backups(context.state_path());
            context.printer.status(&format!(
                "Encrypted the private keys in {}; removed {removed} backup{} that held them in plain text. Keep the passphrase safe: without it the keys cannot be read.",
                context.state_path().display(),
                if removed == 1 { "" } else { "s" }
            ));
        }
        StateCommand::Decrypt => {
            if state.encryption.is_none() {
                bail!("the private keys in {} are not encrypted", context.state_path().display());
            }
            state.encryption = None;
            state.sealer = None;
            state::save(context.state_path(), &mut state)?;
            context.printer.status(&format!(
                "The private keys in {} are stored as plain PEM again.",
                context.state_path().display()
            ));
        }
        StateCommand::Rm { address, .. } => {
            let Some(entry) = state.applications.remove(&address) else { bail!("{address} is not in the state") };
            state::save(context.state_path(), &mut state)?;
            context.printer.status(&format!(
                "{address} is no longer managed; application {} stays in the account{}",
                entry.id.as_deref().unwrap_or("(none)"),
                if entry.key.private_key().is_some() { " and its private key is gone from the state" } else { "" }
            ));
        }
    }
    Ok(Exit::Success)
}

fn unlock(context: &Context, force: bool) -> Result<Exit> {
    match state::unlock(context.state_path(), force) {
        Ok(Some(holder)) => context.printer.status(&format!("removed the state lock: {holder}")),
        Ok(None) => context.printer.status("the state is not locked"),
        Err(state::LockError::Held { holder, .. }) => {
            return Err(super::hinted(
                format!("the state is locked by a process that may still be running: {holder}"),
                "if it is gone (another machine, a killed CI job), run `vapp state unlock --force`",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Exit::Success)
}
