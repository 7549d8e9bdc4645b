//! `vapp import ADDR APP_ID`: take an existing application under management.

use anyhow::{bail, Context as _, Result};
use clap::Args;

use super::{Context, Exit};
use crate::api::ApplicationApi;
use crate::manifest;
use crate::plan::diff::comparable;
use crate::state::{self, KeyRecord, StateEntry};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The address it will have, as declared in the manifests
    pub address: String,
    /// The application's id in the account
    pub app_id: String,
    /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h)
    #[arg(long, value_parser = super::args::duration_at_most(super::args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,
}

pub async fn run(context: &Context, args: ImportArgs) -> Result<Exit> {
    let address = &args.address;
    if !manifest::valid_address(address) {
        bail!("`{address}` is not a valid address: lower-case letters, digits, `_` and `-`, starting with a letter or digit");
    }
    let desired = context.manifests()?;
    let Some(declared) = desired.apps.get(address) else {
        return Err(super::hinted(
            format!("{address} is not declared in the manifests, so the next plan would delete the application"),
            "declare it first; `vapp export -o DIR` writes manifests for the live applications",
        ));
    };
    let _lock = context.lock_state("import", args.lock_timeout)?;
    let mut state = match context.load_state()? {
        Some(state) => state,
        None => context.new_state()?,
    };
    context.check_account(Some(&state))?;
    state.account = Some(context.account());
    if let Some(entry) = state.applications.get(address) {
        bail!("{address} already manages application {}", entry.id.as_deref().unwrap_or("(create pending)"));
    }
    if let Some(other) = state.address_of(&args.app_id) {
        bail!("application {} is already managed as {other}", args.app_id);
    }
    let connection = context.connect().await?;
    let live = connection.client.get(&args.app_id).await.with_context(|| format!("cannot import {}", args.app_id))?;
    let fingerprint = live.public_key().and_then(|pem| crate::keys::fingerprint(pem).ok());
    state.applications.insert(
        address.clone(),
        StateEntry {
            id: Some(args.app_id.clone()),
            key: KeyRecord::Unknown { fingerprint },
            protect: declared.protect,
            applied: Some(comparable(&live)?),
            ..Default::default()
        },
    );
    state::save(context.state_path(), &mut state)?;
    context.printer.status(&format!(
        "Imported {} ({:?}) as {address}. vapp does not hold its private key; `vapp key show {address}` says how to take custody.",
        args.app_id, live.name
    ));
    Ok(Exit::Success)
}
