//! `vapp key show` and `vapp key rotate`.

use super::definitions::{KeyCommand, KeyFormat};
use std::path::PathBuf;

use super::failure::{bail, Context as _, Result};
use serde_json::json;

use super::{Context, Exit};
use crate::model::Address;
use crate::state;

pub async fn run(context: &Context, command: KeyCommand) -> Result<Exit> {
    match command {
        KeyCommand::Show { address, out, format, name } => {
            let secret_name = match (format, name) {
                (KeyFormat::K8sSecret, name) => Some(secret_name(&address, name)?),
                (_, Some(_)) => bail!("--name names a Kubernetes Secret: use it with --format k8s-secret"),
                (_, None) => None,
            };
            show(context, &address, out, format, secret_name).await
        }
        KeyCommand::Rotate { address, lock_timeout } => {
            context.with_state_lock("key rotate", lock_timeout, rotate(context, &address)).await
        }
    }
}

/// The Secret's name: `name`, or the address made a DNS-1123 name; checked as Kubernetes checks it.
fn secret_name(address: &Address, name: Option<String>) -> Result<String> {
    let name = name.unwrap_or_else(|| address.as_str().replace('_', "-"));
    let alphanumeric = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = name.len() <= 253
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && alphanumeric(name.chars().next())
        && alphanumeric(name.chars().last());
    if !valid {
        bail!("{name:?} is not a Kubernetes name: lower-case letters, digits, `-` and `.`, starting and ending with a letter or digit, at most 253");
    }
    Ok(name)
}

/// A value in double quotes for a dotenv file: one line, newlines as `\n`.
fn dotenv_quoted(value: &str) -> String {
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => {}
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

async fn show(
    context: &Context,
    address: &Address,
    out: Option<PathBuf>,
    format: KeyFormat,
    secret_name: Option<String>,
) -> Result<Exit> {
    let state = context.require_state_with_keys().await?.state;
    let Some(entry) = state.applications.get(address) else { bail!("{address} is not in the state") };
    let Some(private_key) = entry.key.private_key() else {
        match entry.key {
            state::KeyRecord::External { .. } => bail!(
                "{address} uses your own key (keys.public_key_file): vapp never holds its private key"
            ),
            _ => return Err(super::failure::hinted(
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
        KeyFormat::Env | KeyFormat::K8sSecret => {
            let Some(id) = entry.id.as_ref().map(|id| id.as_str()) else {
                bail!("{address} has no application id yet (its create has not completed): run `vapp apply` first")
            };
            match secret_name {
                None => format!(
                    "VONAGE_APPLICATION_ID={}\nVONAGE_PRIVATE_KEY={}\n",
                    dotenv_quoted(id),
                    dotenv_quoted(private_key.expose())
                ),
                Some(name) => {
                    let pem: String = private_key.expose().lines().map(|line| format!("    {line}\n")).collect();
                    format!(
                        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  labels:\n    app.kubernetes.io/managed-by: vapp\ntype: Opaque\nstringData:\n  VONAGE_APPLICATION_ID: {}\n  VONAGE_PRIVATE_KEY: |\n{pem}",
                        serde_json::Value::String(id.to_string())
                    )
                }
            }
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

async fn rotate(context: &Context, address: &Address) -> Result<Exit> {
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
