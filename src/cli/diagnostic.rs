//! How an error reaches a person: one diagnostic per problem, on stderr, each starting with `error:`,
//! its causes after it (`: `), and what to do about it on `= help:` lines. This is the one place that
//! knows which errors carry help and which exit codes they mean.

use super::{Exit, Printer};
use crate::api::ApiError;
use crate::manifest::{LoadError, ManifestErrors};
use crate::plan::saved::{SavedPlanError, Staleness};
use crate::state::{LockError, StateError};

/// An error raised at the command edge, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub help: String,
}

/// An error with a hint for the person who reads it.
pub fn hinted(message: impl Into<String>, help: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Hinted { message: message.into(), help: help.into() })
}

/// The state lock is held by another writer: exit 3.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct LockedError(pub LockError);

/// A saved plan cannot be applied as it is: exit 4.
#[derive(Debug, thiserror::Error)]
pub enum StalePlanError {
    #[error("the saved plan is stale")]
    Moved(#[source] Staleness),
    #[error("the saved plan was made by another version of vapp")]
    OtherVersion(#[source] SavedPlanError),
}

/// The exit code an error means.
pub fn exit_code(error: &anyhow::Error) -> Exit {
    if error.downcast_ref::<LockedError>().is_some() {
        Exit::Locked
    } else if error.downcast_ref::<StalePlanError>().is_some() {
        Exit::StalePlan
    } else {
        Exit::Failure
    }
}

/// The most manifest problems printed at once.
const MAX_SHOWN: usize = crate::manifest::MAX_FOUND;

/// Prints `error` as diagnostics on stderr.
pub fn report(printer: &Printer, error: &anyhow::Error) {
    if let Some(manifest) = manifest_errors(error) {
        for diagnostic in manifest.0.iter().take(MAX_SHOWN) {
            printer.error(&diagnostic.to_string());
        }
        if manifest.0.len() >= MAX_SHOWN {
            printer.status(&format!("(only the first {MAX_SHOWN} problems are shown; fix them and run again)"));
        }
        return;
    }
    let mut text = crate::humanise::chain(error.as_ref());
    for help in help_of(error) {
        text.push_str("\n  = help: ");
        text.push_str(&help);
    }
    printer.error(&text);
}

fn manifest_errors(error: &anyhow::Error) -> Option<&ManifestErrors> {
    error.chain().find_map(|cause| {
        cause.downcast_ref::<ManifestErrors>().or_else(|| match cause.downcast_ref::<LoadError>() {
            Some(LoadError::Invalid(errors)) => Some(errors),
            _ => None,
        })
    })
}

/// Every hint the error and its causes carry.
fn help_of(error: &anyhow::Error) -> Vec<String> {
    let mut help = Vec::new();
    for cause in error.chain() {
        let found = if let Some(e) = cause.downcast_ref::<Hinted>() {
            Some(e.help.clone())
        } else if let Some(e) = cause.downcast_ref::<StateError>() {
            e.help()
        } else if let Some(e) = cause.downcast_ref::<LockError>() {
            e.help()
        } else if let Some(e) = cause.downcast_ref::<LoadError>() {
            e.help()
        } else if let Some(e) = cause.downcast_ref::<ApiError>() {
            e.help()
        } else if cause.downcast_ref::<StalePlanError>().is_some() {
            Some("make a new plan with `vapp plan -o FILE` and review it".into())
        } else {
            None
        };
        help.extend(found);
    }
    help
}
