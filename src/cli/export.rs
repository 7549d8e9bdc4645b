//! `vapp export [-o DIR]`: manifests for the live applications, managed or not.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::Args;

use super::{Context, Exit};
use crate::manifest::emit;
use crate::model::Application;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write one manifest per application into this directory (instead of one manifest on stdout)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
}

/// An address for an unmanaged application: its name in address form, made unique.
fn address_for(app: &Application, taken: &mut BTreeSet<String>) -> String {
    let mut base: String = app
        .name
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect::<String>()
        .split('-')
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    if base.is_empty() {
        base = "app".into();
    }
    let short_id: String =
        app.id.as_deref().unwrap_or_default().chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect();
    let mut candidate = base.clone();
    if taken.contains(&candidate) {
        candidate = format!("{base}-{}", short_id.to_lowercase());
    }
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

pub async fn run(context: &Context, args: ExportArgs) -> Result<Exit> {
    let state = context.load_state().await?.map(|loaded| loaded.state);
    context.check_account(state.as_ref())?;
    let connection = context.connect().await?;
    let live = context.list_live(&connection).await?;
    let mut taken: BTreeSet<String> = state.iter().flat_map(|s| s.applications.keys().cloned()).collect();
    let mut exported = Vec::new();
    let mut to_import = Vec::new();
    for app in &live {
        let id = app.id.clone().unwrap_or_default();
        let managed = state.as_ref().and_then(|s| s.address_of(&id)).map(str::to_string);
        let address = match &managed {
            Some(address) => address.clone(),
            None => {
                let address = address_for(app, &mut taken);
                to_import.push(format!("vapp import {address} {id}"));
                address
            }
        };
        exported.push((
            address,
            app.clone(),
            format!("application {id}{}", if managed.is_some() { "" } else { " (not managed yet)" }),
        ));
    }
    match &args.out {
        None => context.printer.data(&emit::manifest(&exported)),
        Some(dir) => {
            fs_err::create_dir_all(dir)?;
            for entry in &exported {
                let path = dir.join(format!("{}.yaml", entry.0));
                let text = emit::manifest(std::slice::from_ref(entry));
                crate::fsutil::write_atomically(&path, text.as_bytes(), crate::fsutil::Mode::Shared)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            context.printer.status(&format!("Wrote {} manifests to {}.", exported.len(), dir.display()));
        }
    }
    if !to_import.is_empty() {
        context.printer.status(&format!("{} of them are not managed yet; to manage them:", to_import.len()));
        for line in &to_import {
            context.printer.status(&format!("  {line}"));
        }
    }
    Ok(Exit::Success)
}
