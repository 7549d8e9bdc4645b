//! `vapp state list | show | rm | encrypt | decrypt | unlock | history | migrate`: inspect, repair
//! and move the state.

use super::definitions::StateCommand;
use super::failure::{bail, Result};
use serde_json::json;

use super::{Context, Exit};
use crate::model::{AccountName, Address};
use std::time::Duration;

use crate::state::{self, backend, Backend, KeyRecord, StateLocation};

pub async fn run(context: &Context, command: StateCommand) -> Result<Exit> {
    match command {
        StateCommand::List => list(context).await,
        StateCommand::Show { address } => show(context, &address).await,
        StateCommand::Unlock { force } => unlock(context, force).await,
        StateCommand::History => history(context).await,
        StateCommand::Migrate { to, lock_timeout } => {
            context.with_state_lock("state migrate", lock_timeout, migrate(context, &to, lock_timeout)).await
        }
        StateCommand::Rm { address, forget_key, lock_timeout } => {
            context.with_state_lock("state rm", lock_timeout, rm(context, &address, forget_key)).await
        }
        StateCommand::Mv(args) => super::state_mv::run(context, args).await,
        StateCommand::Encrypt => context.with_state_lock("state encrypt", Duration::ZERO, encrypt_keys(context)).await,
        StateCommand::Decrypt => context.with_state_lock("state decrypt", Duration::ZERO, decrypt_keys(context)).await,
    }
}

/// One line per address: tab-separated `ADDRESS\tID` for scripts (and `\tACCOUNT` when the state spans
/// accounts besides `default`); on a terminal, aligned
/// columns with the key's custody, numbers and protection too, under a heading per account when the
/// state spans several.
async fn list(context: &Context) -> Result<Exit> {
    let location = &context.settings.state;
    let Some(loaded) = context.load_state().await? else {
        context.printer.status(&format!("No state at {location}: nothing is managed yet."));
        return Ok(Exit::Success);
    };
    let state = loaded.state;
    if state.applications.is_empty() {
        context.printer.status(&format!("The state at {location} manages no application."));
        return Ok(Exit::Success);
    }
    let id =
        |entry: &crate::state::StateEntry| entry.id.as_ref().map_or("(create pending)", |id| id.as_str()).to_string();
    let mut accounts: Vec<AccountName> = state.applications.values().map(|e| e.account_name()).collect();
    accounts.sort_by_key(|a| (!a.is_default(), a.clone()));
    accounts.dedup();
    let several = accounts.len() > 1 || accounts.iter().any(|a| !a.is_default());
    if !context.printer.stdout_terminal {
        // A state of `default` alone keeps the two columns scripts have always read.
        let account = |entry: &crate::state::StateEntry| match several {
            true => format!("\t{}", entry.account_name()),
            false => String::new(),
        };
        let lines: String = state
            .applications
            .iter()
            .map(|(address, entry)| format!("{address}\t{}{}\n", id(entry), account(entry)))
            .collect();
        context.printer.data(&lines);
        return Ok(Exit::Success);
    }
    let mut out = String::new();
    for account in &accounts {
        let rows: Vec<[String; 5]> = state
            .applications
            .iter()
            .filter(|(_, entry)| &entry.account_name() == account)
            .map(|(address, entry)| {
                let key = match &entry.key {
                    KeyRecord::Managed { .. } => "managed",
                    KeyRecord::External { .. } => "your own",
                    KeyRecord::Unknown { .. } => "not held",
                };
                let numbers = entry.numbers.len().to_string();
                let protect = if entry.protect { "protected" } else { "" };
                [address.to_string(), id(entry), key.to_string(), numbers, protect.to_string()]
            })
            .collect();
        if several {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(&format!("{}\n", account_heading(&state, account)));
        }
        out.push_str(&aligned(&rows));
    }
    context.printer.data(&out);
    Ok(Exit::Success)
}

/// An account's heading as the state knows it: its name and API key.
fn account_heading(state: &crate::state::State, account: &AccountName) -> String {
    let api_key = match account.is_default() {
        true => match &state.account {
            Some(crate::state::Account::Vonage { api_key, .. }) => Some(api_key.to_string()),
            Some(crate::state::Account::Sandbox { .. }) => Some("the sandbox".to_string()),
            None => None,
        },
        false => state.accounts.get(account).and_then(|r| r.api_key.as_ref()).map(ToString::to_string),
    };
    match api_key {
        Some(key) => format!("Account {account} ({key})"),
        None => format!("Account {account}"),
    }
}

/// `rows` under a header, each column as wide as its widest cell, two spaces apart.
fn aligned(rows: &[[String; 5]]) -> String {
    let header = ["ADDRESS", "APPLICATION ID", "KEY", "NUMBERS", ""].map(String::from);
    let widths: Vec<usize> =
        (0..5).map(|i| rows.iter().chain([&header]).map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let line = |row: &[String; 5]| {
        let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
        format!("{}\n", cells.join("  ").trim_end())
    };
    [line(&header)].into_iter().chain(rows.iter().map(line)).collect()
}

async fn show(context: &Context, address: &Address) -> Result<Exit> {
    let state = context.require_state().await?.state;
    let Some(entry) = state.applications.get(address) else { bail!("{address} is not in the state") };
    let key = match &entry.key {
        KeyRecord::Managed { fingerprint, .. } => json!({"custody": "managed", "fingerprint": fingerprint}),
        KeyRecord::External { fingerprint } => json!({"custody": "external", "fingerprint": fingerprint}),
        KeyRecord::Unknown { fingerprint } => json!({"custody": "unknown", "fingerprint": fingerprint}),
    };
    let shown = json!({
        "address": address,
        "account": entry.account_name(),
        "id": entry.id,
        "protect": entry.protect,
        "key": key,
        "numbers": entry.numbers,
        "applied": entry.applied,
    });
    context.printer.data(&format!("{}\n", serde_json::to_string_pretty(&shown)?));
    Ok(Exit::Success)
}

async fn rm(context: &Context, address: &Address, forget_key: bool) -> Result<Exit> {
    let store = context.store(Some(context.require_state().await?)).await?;
    let Some(entry) = store.read(|s| s.applications.get(address).cloned()) else {
        bail!("{address} is not in the state")
    };
    let holds_key = entry.key.is_managed() || entry.pending_key.as_ref().is_some_and(KeyRecord::is_managed);
    if holds_key && !forget_key {
        return Err(super::failure::hinted(
            format!("the state holds the only copy of {address}'s private key; removing {address} would drop it"),
            format!(
                "keep a copy first with `vapp key show {address} --out {address}.pem`, then pass --forget-key; to rename an address instead, use `vapp state mv {address} NEW` (or a `moved:` entry)"
            ),
        ));
    }
    store.commit(|s| drop(s.applications.remove(address))).await?;
    context.printer.status(&format!(
        "{address} is no longer managed; application {} stays in the account{}",
        entry.id.as_ref().map_or("(none)", |id| id.as_str()),
        if entry.key.is_managed() { " and its private key is gone from the state" } else { "" }
    ));
    Ok(Exit::Success)
}

async fn encrypt_keys(context: &Context) -> Result<Exit> {
    let store = context.store(Some(context.require_state().await?)).await?;
    let location = store.location().to_string();
    if store.snapshot().encryption.is_some() {
        bail!("the private keys in {location} are already encrypted");
    }
    let Some(passphrase) = context.passphrase()? else {
        bail!("give the passphrase in VAPP_STATE_PASSPHRASE or with --passphrase-file FILE");
    };
    let (settings, sealer) = state::Sealer::create(&passphrase)?;
    store
        .commit(|s| {
            s.encryption = Some(settings);
            s.sealer = Some(sealer);
        })
        .await?;
    // Earlier versions hold the keys in plain text; the encrypted state holds every key they do.
    let removed = context.backend().await?.forget_history().await?;
    context.printer.status(&format!(
        "Encrypted the private keys in {location}; removed {removed} earlier version{} that held them in plain text. Keep the passphrase safe: without it the keys cannot be read.",
        if removed == 1 { "" } else { "s" }
    ));
    Ok(Exit::Success)
}

async fn decrypt_keys(context: &Context) -> Result<Exit> {
    let store = context.store(Some(context.require_state_with_keys().await?)).await?;
    let location = store.location().to_string();
    if store.snapshot().encryption.is_none() {
        bail!("the private keys in {location} are not encrypted");
    }
    store
        .commit(|s| {
            s.encryption = None;
            s.sealer = None;
        })
        .await?;
    context.printer.status(&format!("The private keys in {location} are stored as plain PEM again."));
    Ok(Exit::Success)
}

async fn unlock(context: &Context, force: bool) -> Result<Exit> {
    match context.backend().await?.unlock(force).await {
        Ok(Some(holder)) => context.printer.status(&format!("removed the state lock: {holder}")),
        Ok(None) => context.printer.status("the state is not locked"),
        Err(state::LockError::Held { holder, .. }) => {
            return Err(super::failure::hinted(
                format!("the state is locked by a process that may still be running: {holder}"),
                "if it is gone (another machine, a killed CI job), run `vapp state unlock --force`",
            ))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(Exit::Success)
}

async fn history(context: &Context) -> Result<Exit> {
    let backend = context.backend().await?;
    let current = context.require_state().await?.state;
    let mut rows = vec![["SERIAL".to_string(), "WRITTEN".to_string(), "BYTES".to_string(), "WHERE".to_string()]];
    rows.push([current.serial.to_string(), "(current)".into(), String::new(), backend.location().to_string()]);
    // (S3 keeps the current version in its history too; it is shown once.)
    for version in backend.history().await?.into_iter().filter(|v| v.serial != current.serial) {
        rows.push([
            version.serial.to_string(),
            version.written.unwrap_or_else(|| "-".into()),
            version.size.to_string(),
            version.location.to_string(),
        ]);
    }
    context.printer.data(&columns(&rows));
    Ok(Exit::Success)
}

/// Rows as aligned columns.
fn columns(rows: &[[String; 4]]) -> String {
    let widths: Vec<usize> = (0..4).map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

/// Copies the state, as stored (encrypted keys stay sealed), to `to`: never over a state of another
/// lineage, nor over a newer version of this one.
async fn migrate(context: &Context, to: &StateLocation, lock_timeout: Duration) -> Result<Exit> {
    let from = context.backend().await?;
    let Some(stored) = from.read().await? else { bail!("no state at {}: nothing to migrate", from.location()) };
    let source = state::codec::decode(&stored.bytes, None).map_err(|_| {
        super::failure::Failure::msg(format!(
            "the state at {} does not read; repair it before moving it",
            from.location()
        ))
    })?;
    let target = backend::open(to, &context.settings.engine_env, Some(context.state_observer())).await?;
    if target.location() == from.location() {
        bail!("the state is already at {}", target.location());
    }
    let lock = context.lock(target.as_ref(), "state migrate", lock_timeout).await?;
    let result = copy_to(target.as_ref(), &stored.bytes, &source).await;
    lock.release().await;
    result?;
    context.printer.status(&format!(
        "Copied the state (lineage {}, serial {}) from {} to {}. Use it with --state {} (or VAPP_STATE); the copy at {} is left as it was.",
        source.lineage,
        source.serial,
        from.location(),
        target.location(),
        target.location(),
        from.location()
    ));
    Ok(Exit::Success)
}

async fn copy_to(target: &dyn Backend, bytes: &[u8], source: &state::State) -> Result<()> {
    let existing = target.read().await?;
    let expected = match &existing {
        None => None,
        Some(stored) => {
            let there = state::codec::decode(&stored.bytes, None).map_err(|_| {
                super::failure::Failure::msg(format!(
                    "{} holds something that is not a readable state; not overwritten",
                    target.location()
                ))
            })?;
            if there.lineage != source.lineage {
                bail!(
                    "{} already holds another state (lineage {}, serial {}); it is not overwritten",
                    target.location(),
                    there.lineage,
                    there.serial
                );
            }
            if there.serial >= source.serial {
                bail!(
                    "{} already holds this state at serial {} (this one is at {}); nothing to copy",
                    target.location(),
                    there.serial,
                    source.serial
                );
            }
            Some(&stored.token)
        }
    };
    target.write(bytes, source.serial, expected).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_terminal_gets_aligned_columns() {
        let row = |cells: [&str; 5]| cells.map(String::from);
        let table = super::aligned(&[
            row(["call-forwarding", "4e1b", "managed", "1", ""]),
            row(["cc", "(create pending)", "your own", "0", "protected"]),
        ]);
        assert_eq!(
            table,
            "ADDRESS          APPLICATION ID    KEY       NUMBERS\n\
             call-forwarding  4e1b              managed   1\n\
             cc               (create pending)  your own  0        protected\n"
        );
    }
}
