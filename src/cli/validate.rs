//! `vapp validate`: parse and check the manifests, without the network.

use super::failure::Result;

use super::{Context, Exit};

pub fn run(context: &Context) -> Result<Exit> {
    let desired = context.manifests()?;
    let count = desired.apps.len();
    let accounts = match desired.accounts.len() {
        0 => String::new(),
        n => format!(" in {} accounts", n + 1),
    };
    context.printer.data(&format!(
        "The manifests are valid: {count} application{}{accounts}.\n",
        if count == 1 { "" } else { "s" }
    ));
    Ok(Exit::Success)
}
