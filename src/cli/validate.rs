//! `vapp validate`: parse and check the manifests, without the network.

use super::failure::Result;

use super::{Context, Exit};

pub fn run(context: &Context) -> Result<Exit> {
    let desired = context.manifests()?;
    let count = desired.apps.len();
    context
        .printer
        .data(&format!("The manifests are valid: {count} application{}.\n", if count == 1 { "" } else { "s" }));
    Ok(Exit::Success)
}
