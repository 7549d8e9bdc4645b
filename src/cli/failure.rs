//! How an error reaches a person, as just's `Error::code()` and `suggestion()` do it: every error type
//! says itself which exit code it means and what to do about it ([`Diagnose`]); a [`Failure`] carries
//! that from the `?` that raised it to the command edge, through whatever context is added on the way;
//! the edge only prints. One diagnostic per problem, on stderr, each starting with `error:`, its causes
//! after it (`: `), and what to do on `= help:` lines.

use std::fmt;

use super::{Exit, Printer};

/// What an error says about itself at the command edge.
pub trait Diagnose: std::error::Error + Send + Sync + 'static {
    /// What to do about it.
    fn help(&self) -> Option<String> {
        None
    }

    /// The exit code it means (the README's "Exit codes": 1 error, 3 locked, 4 stale plan), when the
    /// error knows it itself. Otherwise [`Failure`] looks through its causes ([`exit_of`]).
    fn exit(&self) -> Exit {
        Exit::Failure
    }

    /// Problems printed one diagnostic each (a manifest's), rather than as one message.
    fn diagnostics(&self) -> Option<Vec<String>> {
        None
    }
}

/// An error on its way to the command edge, with what its type said about itself.
pub struct Failure {
    error: anyhow::Error,
    help: Option<String>,
    exit: Exit,
    diagnostics: Option<Vec<String>>,
}

pub type Result<T, E = Failure> = std::result::Result<T, E>;

impl<E: Diagnose> From<E> for Failure {
    fn from(error: E) -> Self {
        let (help, diagnostics) = (error.help(), error.diagnostics());
        let exit = match error.exit() {
            Exit::Failure => exit_of(&error),
            exit => exit,
        };
        Failure { error: anyhow::Error::new(error), help, exit, diagnostics }
    }
}

/// The exit code an error means, found by walking its causes (as just's `Error::code()` looks
/// through nested errors): a lock another writer holds or took (3) wherever it sits in the chain,
/// however many wrappers (an account's step, an action, a command) were put around it.
pub fn exit_of(error: &(dyn std::error::Error + 'static)) -> Exit {
    use crate::state::{BackendError, LockError};
    let mut cause = Some(error);
    while let Some(error) = cause {
        let locked = matches!(error.downcast_ref::<LockError>(), Some(LockError::Held { .. }))
            || matches!(error.downcast_ref::<BackendError>(), Some(BackendError::LockLost { .. }));
        if locked {
            return Exit::Locked;
        }
        if error.downcast_ref::<StalePlanError>().is_some() {
            return Exit::StalePlan;
        }
        cause = error.source();
    }
    Exit::Failure
}

impl Failure {
    /// A failure that is only its message.
    pub fn msg(message: impl fmt::Display + fmt::Debug + Send + Sync + 'static) -> Self {
        Failure { error: anyhow::Error::msg(message), help: None, exit: Exit::Failure, diagnostics: None }
    }

    /// The same failure, said to have happened while doing `context`.
    pub fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Self {
        Failure { error: self.error.context(context), ..self }
    }

    pub fn exit(&self) -> Exit {
        self.exit
    }

    /// Prints the failure as diagnostics on stderr.
    pub fn report(&self, printer: &Printer) {
        if let Some(diagnostics) = &self.diagnostics {
            for diagnostic in diagnostics.iter().take(MAX_SHOWN) {
                printer.error(diagnostic);
            }
            if diagnostics.len() >= MAX_SHOWN {
                printer.status(&format!("(only the first {MAX_SHOWN} problems are shown; fix them and run again)"));
            }
            return;
        }
        let mut text = crate::humanise::chain(self.error.as_ref());
        if let Some(help) = &self.help {
            text.push_str("\n  = help: ");
            text.push_str(help);
        }
        printer.error(&text);
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", crate::humanise::chain(self.error.as_ref()))
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (exit {:?}, help {:?})", self.error, self.exit, self.help)
    }
}

/// The most manifest problems printed at once.
const MAX_SHOWN: usize = crate::manifest::MAX_FOUND;

/// Adds what was being done to an error, keeping what its type says about itself (as anyhow's
/// `Context`, for [`Failure`]).
pub trait Context<T> {
    fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Result<T>;
    fn with_context<C: fmt::Display + Send + Sync + 'static>(self, context: impl FnOnce() -> C) -> Result<T>;
}

impl<T, E: Into<Failure>> Context<T> for std::result::Result<T, E> {
    fn context(self, context: impl fmt::Display + Send + Sync + 'static) -> Result<T> {
        self.map_err(|e| e.into().context(context))
    }

    fn with_context<C: fmt::Display + Send + Sync + 'static>(self, context: impl FnOnce() -> C) -> Result<T> {
        self.map_err(|e| e.into().context(context()))
    }
}

/// Returns early with a failure made of a formatted message.
macro_rules! bail {
    ($($arg:tt)*) => {
        return Err($crate::cli::failure::Failure::msg(format!($($arg)*)))
    };
}
pub(crate) use bail;

/// A failure with a hint for the person who reads it.
pub fn hinted(message: impl Into<String>, help: impl Into<String>) -> Failure {
    Failure::from(Hinted { message: message.into(), help: help.into() })
}

/// An error raised at the command edge, with what to do about it.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Hinted {
    pub message: String,
    pub help: String,
}

impl Diagnose for Hinted {
    fn help(&self) -> Option<String> {
        Some(self.help.clone())
    }
}

/// A saved plan cannot be applied as it is: exit 4.
#[derive(Debug, thiserror::Error)]
pub enum StalePlanError {
    #[error("the saved plan is stale")]
    Moved(#[source] crate::plan::saved::Staleness),
    #[error("the saved plan was made by another version of vapp")]
    OtherVersion(#[source] crate::plan::saved::SavedPlanError),
}

impl Diagnose for StalePlanError {
    fn help(&self) -> Option<String> {
        Some("make a new plan with `vapp plan -o FILE` and review it".into())
    }

    fn exit(&self) -> Exit {
        Exit::StalePlan
    }
}

/// A policy denies the plan: exit 5, and nothing was changed.
#[derive(Debug, thiserror::Error)]
#[error("{denials} polic{} the plan{}", if *.denials == 1 { "y rule denies" } else { "y rules deny" }, if *.applying { "; nothing was changed" } else { "" })]
pub struct PolicyDenied {
    pub denials: usize,
    /// Raised by apply or destroy (rather than plan).
    pub applying: bool,
}

impl Diagnose for PolicyDenied {
    fn help(&self) -> Option<String> {
        Some("the plan's \"Policy\" section says why; change the manifests, or the policies in review".into())
    }

    fn exit(&self) -> Exit {
        Exit::PolicyDenied
    }
}

/// What the library's errors say about themselves: their own `help()`, and the exit code of a lock
/// another writer holds.
mod library {
    use super::Diagnose;
    use crate::manifest::{LoadError, ManifestErrors};
    use crate::state::{LockError, StateError};

    impl Diagnose for StateError {
        fn help(&self) -> Option<String> {
            StateError::help(self)
        }
    }

    impl Diagnose for LockError {
        fn help(&self) -> Option<String> {
            LockError::help(self)
        }
    }

    impl Diagnose for LoadError {
        fn help(&self) -> Option<String> {
            LoadError::help(self)
        }

        fn diagnostics(&self) -> Option<Vec<String>> {
            match self {
                LoadError::Invalid(errors) => errors.diagnostics(),
                _ => None,
            }
        }
    }

    impl Diagnose for ManifestErrors {
        fn diagnostics(&self) -> Option<Vec<String>> {
            Some(self.0.iter().map(ToString::to_string).collect())
        }
    }

    impl Diagnose for crate::api::ApiError {
        fn help(&self) -> Option<String> {
            crate::api::ApiError::help(self)
        }
    }

    impl Diagnose for crate::plan::PlanError {
        fn help(&self) -> Option<String> {
            crate::plan::PlanError::help(self)
        }
    }

    impl Diagnose for crate::plan::saved::SaveError {
        fn help(&self) -> Option<String> {
            crate::plan::saved::SaveError::help(self).map(str::to_string)
        }
    }

    impl Diagnose for crate::plan::saved::SavedPlanError {
        fn help(&self) -> Option<String> {
            use crate::plan::saved::SavedPlanError;
            match self {
                SavedPlanError::NeedsPassphrase | SavedPlanError::Sealed(_) => Some(
                    "give the passphrase the plan was saved with (--passphrase-file, or VAPP_STATE_PASSPHRASE)".into(),
                ),
                _ => None,
            }
        }
    }

    impl Diagnose for crate::policy::PolicyError {
        fn help(&self) -> Option<String> {
            crate::policy::PolicyError::help(self)
        }
    }

    impl Diagnose for crate::api::BadUrl {
        fn help(&self) -> Option<String> {
            Some(crate::api::BadUrl::help(self))
        }
    }

    impl Diagnose for crate::state::LocationError {
        fn help(&self) -> Option<String> {
            crate::state::LocationError::help(self)
        }
    }

    impl Diagnose for crate::accounts::AccountsError {
        fn help(&self) -> Option<String> {
            crate::accounts::AccountsError::help(self)
        }
    }

    impl Diagnose for super::super::settings::MissingCredentials {
        fn help(&self) -> Option<String> {
            Some(super::super::settings::MissingCredentials::help(self))
        }
    }

    /// Errors whose message says it all.
    macro_rules! plain {
        ($($type:ty),* $(,)?) => { $(impl Diagnose for $type {})* };
    }

    plain!(
        crate::plan::TooManyDeletes,
        crate::state::BackendError,
        crate::state::crypto::CryptoError,
        crate::state::EncodeError,
        crate::keys::KeyError,
        crate::keys::jwt::TokenError,
        humantime::TimestampError,
        crate::emulator::EmulatorError,
        crate::apply::accounts::AccountError,
        crate::fsutil::ReadError,
        std::io::Error,
        serde_json::Error,
        tokio::task::JoinError,
        std::str::Utf8Error,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{BackendError, LockInfo, StateError, StateLocation};

    /// A lock lost inside an account's step, inside an action's context, still exits 3.
    #[test]
    fn the_exit_code_is_found_through_any_wrapper() {
        let lost = StateError::Write {
            location: StateLocation::File("vapp.state.json".into()),
            source: BackendError::LockLost { holder: Box::new(LockInfo::mine("apply")) },
        };
        let wrapped = crate::apply::accounts::AccountError::State { account: "acme".into(), source: Box::new(lost) };
        let failure = Failure::from(wrapped).context("cannot apply");
        assert_eq!(failure.exit(), Exit::Locked);
        let plain = Failure::from(std::io::Error::other("disk full"));
        assert_eq!(plain.exit(), Exit::Failure);
    }
}
