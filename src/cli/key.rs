//! `vapp key show` and `vapp key rotate`.

use std::path::PathBuf;

use anyhow::{bail, Context as _, Result};
use clap::{Subcommand, ValueEnum};
use serde_json::json;

use super::{Context, Exit};
use crate::state;

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeyFormat {
    /// The PKCS#8 PEM
    Pem,
    /// {"application_id": …, "private_key": …}, for an application server's configuration
    Json,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the application's private key (or write it to a file, mode 0600)
    Show {
        address: String,
        /// Write to this file (mode 0600) instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = KeyFormat::Pem)]
        format: KeyFormat,
    },
    /// Ask for a new key pair at the next apply (the plan shows rotate-key)
    Rotate {
        address: String,
        /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h)
        #[arg(long, value_parser = super::args::duration_at_most(super::args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
        lock_timeout: std::time::Duration,
    },
}

pub async fn run(context: &Context, command: KeyCommand) -> Result<Exit> {
    match command {
        KeyCommand::Show { address, out, format } => show(context, &address, out, format).await,
        KeyCommand::Rotate { address, lock_timeout } => {
            let lock = context.lock_state("key rotate", lock_timeout).await?;
            let result = rotate(context, &address).await;
            lock.release().await;
            result
        }
    }
}

async fn show(context: &Context, address: &str, out: Option<PathBuf>, format: KeyFormat) -> Result<Exit> {
    let state = context.require_state_with_keys().await?.state;
    let Some(entry) = state.applications.get(address) else { bail!("{address} is not in the state") };
    let Some(private_key) = entry.key.private_key() else {
        match entry.key {
            state::KeyRecord::External { .. } => bail!(
                "{address} uses your own key (keys.public_key_file): vapp never holds its private key"
            ),
            _ => return Err(super::hinted(
                format!("vapp does not hold the private key of {address}: the application was made outside vapp and imported"),
                format!("to take custody, give it a new key pair made by vapp: `vapp key rotate {address}`, then `vapp apply` (tokens signed with the old key stop working)"),
            )),
        }
    };
    let text = match format {
        KeyFormat::Pem => private_key.expose().to_string(),
        KeyFormat::Json => {
            let mut text = serde_json::to_string_pretty(
                &json!({"application_id": entry.id, "private_key": private_key.expose()}),
            )?;
            text.push('\n');
            text
        }
    };
    match out {
        None => context.printer.data(&text),
        Some(path) => {
            crate::fsutil::write_atomically(&path, text.as_bytes(), crate::fsutil::Mode::Private)
                .with_context(|| format!("cannot write {}", path.display()))?;
            context.printer.status(&format!("Wrote the private key of {address} to {} (mode 0600).", path.display()));
        }
    }
    Ok(Exit::Success)
}

async fn rotate(context: &Context, address: &str) -> Result<Exit> {
    let store = context.store(Some(context.require_state().await?)).await?;
    let Some(entry) = store.snapshot().applications.get(address).cloned() else {
        bail!("{address} is not in the state")
    };
    if matches!(entry.key, state::KeyRecord::External { .. }) {
        bail!("{address} uses your own key (keys.public_key_file): put the new public key in that file instead");
    }
    store
        .commit(|s| {
            if let Some(entry) = s.applications.get_mut(address) {
                entry.rotate_requested = true;
            }
        })
        .await?;
    context.printer.status(&format!(
        "{address} gets a new key pair at the next apply; `vapp plan` shows it as rotate-key. Tokens signed with the old key stop working then."
    ));
    Ok(Exit::Success)
}
