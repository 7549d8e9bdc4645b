//! `vapp export [-o DIR]`: manifests for the live applications, managed or not.

use super::definitions::ExportArgs;
use std::collections::BTreeSet;
use std::path::PathBuf;

use super::failure::{Context as _, Result};

use super::{Context, Exit};
use crate::api::{ApplicationApi, NumberFilter, NumbersApi};
use crate::manifest::emit::{self, Exported};
use crate::model::{AccountName, Address, Application};

/// An address for an unmanaged application: its name in address form, made unique.
fn address_for(app: &Application, taken: &mut BTreeSet<Address>) -> Address {
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
        app.id.as_ref().map_or("", |id| id.as_str()).chars().filter(|c| c.is_ascii_alphanumeric()).take(8).collect();
    let mut candidate = Address::new(base.clone());
    if taken.contains(&candidate) {
        candidate = Address::new(format!("{base}-{}", short_id.to_lowercase()));
    }
    let mut n = 2;
    while taken.contains(&candidate) {
        candidate = Address::new(format!("{base}-{n}"));
        n += 1;
    }
    taken.insert(candidate.clone());
    candidate
}

/// Replaces each webhook password of `app` with a `${VARIABLE}` reference a manifest expands (a
/// manifest is reviewed and committed: it holds no password). Returns where each was, and its variable.
fn refer_to_passwords(address: &Address, app: &mut Application) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let Some(capabilities) = app.capabilities.as_deref_mut() else { return found };
    for (slot, mut hook) in capabilities.webhooks_mut() {
        let url = hook.address_mut();
        if url.has_secret() {
            let variable = format!("{address}_{}_{}_PASSWORD", slot.capability, slot.field)
                .to_ascii_uppercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "_");
            *url = crate::model::WebhookUrl::new(url.with_secret_replaced(&format!("${{{variable}}}")));
            found.push((format!("{address} {}", slot.path()), variable));
        }
    }
    found
}

/// Refuses to write into `dir` what would overwrite a manifest (unless `force`) or leave the directory
/// unloadable (an address another file there declares too).
fn check_directory(dir: &std::path::Path, exported: &[Exported], force: bool) -> Result<()> {
    let targets: BTreeSet<PathBuf> = exported.iter().map(|e| dir.join(format!("{}.yaml", e.address))).collect();
    let existing: Vec<&PathBuf> = targets.iter().filter(|path| path.exists()).collect();
    if !existing.is_empty() && !force {
        let names: Vec<String> = existing.iter().map(|p| p.display().to_string()).collect();
        return Err(super::failure::hinted(
            format!(
                "export would overwrite {} manifest{}: {}",
                names.len(),
                if names.len() == 1 { "" } else { "s" },
                names.join(", ")
            ),
            "pass --force to overwrite them (their comments are lost), or export into an empty directory",
        ));
    }
    let wanted: BTreeSet<&str> = exported.iter().map(|e| e.address.as_str()).collect();
    let others = crate::manifest::read_sources(&[dir.to_path_buf()]).unwrap_or_default();
    for source in others.iter().filter(|s| !targets.contains(&s.path)) {
        let Ok(document) = crate::manifest::yaml_document(&source.text) else { continue };
        let declared = document.get("applications").and_then(|a| a.as_object());
        if let Some(address) = declared.into_iter().flatten().map(|(a, _)| a.as_str()).find(|a| wanted.contains(a)) {
            return Err(super::failure::hinted(
                format!(
                    "{} already declares `{address}`, which export writes to {address}.yaml: the directory would not load",
                    source.path.display()
                ),
                "export into an empty directory, or remove the application from that file first",
            ));
        }
    }
    Ok(())
}

pub async fn run(context: &Context, args: ExportArgs) -> Result<Exit> {
    let state = context.load_state().await?.map(|loaded| loaded.state);
    context.check_account(state.as_ref())?;
    // Other accounts sign in as the manifests declare them; `default` needs no manifest.
    let desired = match args.accounts.iter().all(|a| a == AccountName::DEFAULT) {
        true => crate::manifest::Desired::default(),
        false => context.manifests()?,
    };
    let mut accounts = super::plan::accounts_named(&args.accounts, &desired, state.as_ref())?;
    if accounts.is_empty() {
        accounts.push(AccountName::default_account());
    }
    if accounts.len() > 1 && args.out.is_none() {
        return Err(super::failure::hinted(
            "exporting several accounts writes one manifest per application",
            "give a directory with --out DIR",
        ));
    }
    let connection = context.connect().await?;
    let directory = context.directory(desired.accounts.clone(), &connection);
    let mut taken: BTreeSet<Address> = state.iter().flat_map(|s| s.applications.keys().cloned()).collect();
    let mut exported: Vec<(AccountName, Exported)> = Vec::new();
    let mut to_import = Vec::new();
    let mut passwords = Vec::new();
    for account in &accounts {
        let (credentials, _) = directory
            .credentials(account, state.as_ref())?
            .ok_or_else(|| super::failure::Failure::msg(format!("account {account} is not made yet")))?;
        let (apps, numbers) = directory.clients(&credentials);
        let live = ApplicationApi::list_all(&apps)
            .await
            .with_context(|| format!("cannot list the applications of account {account}"))?;
        let owned = NumbersApi::list_numbers(&numbers, &NumberFilter::default())
            .await
            .with_context(|| format!("cannot list the numbers of account {account}"))?;
        let numbers: Vec<crate::model::Number> = owned.iter().map(crate::api::OwnedNumber::summary).collect();
        for app in &live {
            let id = app.id.clone().unwrap_or_default();
            let managed = state
                .as_ref()
                .and_then(|s| s.address_of(&id))
                .filter(|address| {
                    state
                        .as_ref()
                        .and_then(|s| s.applications.get(*address))
                        .is_some_and(|e| &e.account_name() == account)
                })
                .cloned();
            let address = match &managed {
                Some(address) => address.clone(),
                None => {
                    let address = address_for(app, &mut taken);
                    to_import.push(format!("vapp import {address} {id}"));
                    address
                }
            };
            let numbers = numbers.iter().filter(|n| n.app_id.as_ref() == Some(&id)).map(|n| n.msisdn.clone()).collect();
            let comment = format!("application {id}{}", if managed.is_some() { "" } else { " (not managed yet)" });
            let mut app = app.clone();
            passwords.extend(refer_to_passwords(&address, &mut app));
            exported.push((account.clone(), Exported { address, app, numbers, comment }));
        }
    }
    match &args.out {
        None => {
            let apps: Vec<Exported> = exported.into_iter().map(|(_, e)| e).collect();
            context.printer.data(&emit::manifest_in(&accounts[0], &apps))
        }
        Some(dir) => {
            fs_err::create_dir_all(dir)?;
            let entries: Vec<Exported> = exported.iter().map(|(_, e)| e.clone()).collect();
            check_directory(dir, &entries, args.force)?;
            for (account, entry) in &exported {
                let path = dir.join(format!("{}.yaml", entry.address));
                let text = emit::manifest_in(account, std::slice::from_ref(entry));
                crate::fsutil::write_atomically(&path, text.as_bytes(), crate::fsutil::Mode::Shared)
                    .with_context(|| format!("cannot write {}", path.display()))?;
            }
            context.printer.status(&format!("Wrote {} manifests to {}.", exported.len(), dir.display()));
        }
    }
    if !passwords.is_empty() {
        context.printer.status(
            "Webhook passwords are not written; the manifests refer to each by a variable to set before `vapp plan`:",
        );
        for (place, variable) in &passwords {
            context.printer.status(&format!("  {variable}: the password of {place}"));
        }
    }
    if !to_import.is_empty() {
        let (count, verb, pronoun) = match to_import.len() {
            1 => ("1 of them".to_string(), "is", "it"),
            n => (format!("{n} of them"), "are", "them"),
        };
        context.printer.status(&format!("{count} {verb} not managed yet; to manage {pronoun}:"));
        for line in &to_import {
            context.printer.status(&format!("  {line}"));
        }
    }
    Ok(Exit::Success)
}
