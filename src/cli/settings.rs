//! The global options and the environment, resolved once into the values a run uses (as uv's
//! `GlobalSettings::resolve`): defaults that depend on other options applied, URLs and the state's
//! location parsed, credentials read. Nothing after this reads the environment for these again.

use std::path::PathBuf;

use super::GlobalArgs;
use crate::api::{BaseUrl, Credentials};
use crate::model::ApiKey;
use crate::secret::Secret;
use crate::state::StateLocation;

/// The state a run uses when neither `--state` nor `VAPP_STATE` names one.
pub const DEFAULT_STATE: &str = "vapp.state.json";
/// ... and with `--sandbox`: the sandbox keeps its own, so that trying vapp on the sandbox and then
/// using it against an account never mix.
pub const DEFAULT_SANDBOX_STATE: &str = ".vapp/sandbox.state.json";
/// The manifest read when no `-f` is given.
pub const DEFAULT_MANIFEST: &str = "vapp.yaml";

/// What a run works with.
#[derive(Debug)]
pub struct Settings {
    /// The manifest files and directories (`vapp.yaml` when none is named).
    pub files: Vec<PathBuf>,
    pub state: StateLocation,
    pub api_url: BaseUrl,
    /// `--numbers-url`; else the API URL when only that was changed (one emulator serves both); else
    /// the Numbers API's own host.
    pub numbers_url: BaseUrl,
    pub sandbox: bool,
    pub allow_other_account: bool,
    pub passphrase_file: Option<PathBuf>,
    /// `VAPP_STATE_PASSPHRASE`, when set and not empty.
    pub passphrase_env: Option<zeroize::Zeroizing<String>>,
    /// `VONAGE_API_KEY` and `VONAGE_API_SECRET`, as far as they are set.
    pub credentials: EnvCredentials,
    /// What the state's engine reads from the environment (`AWS_*`, `PGPASSWORD`).
    pub engine_env: crate::state::backend::EngineEnv,
    /// Every variable, for those the manifests name (other accounts' secrets, signature secrets).
    pub environment: crate::accounts::Environment,
}

/// The default account's credentials as the environment gives them.
pub struct EnvCredentials {
    key: Option<ApiKey>,
    secret: Option<Secret>,
}

impl std::fmt::Debug for EnvCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EnvCredentials")
            .field("key", &self.key)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

pub use crate::accounts::MissingCredentials;

impl EnvCredentials {
    /// Reads `key_var` and `secret_var` through `env`; an empty value counts as unset.
    pub fn read(env: &dyn Fn(&str) -> Option<String>, key_var: &str, secret_var: &str) -> Self {
        let read = |name: &str| env(name).filter(|v| !v.trim().is_empty());
        EnvCredentials { key: read(key_var).map(ApiKey::new), secret: read(secret_var).map(Secret::new) }
    }

    /// The API key, when it is set (the state records it; it is not a secret).
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.key.as_ref()
    }

    /// Both, or what is missing, for reaching `url`.
    pub fn require(&self, url: &BaseUrl) -> Result<Credentials, MissingCredentials> {
        match (&self.key, &self.secret) {
            (Some(key), Some(secret)) => Ok(Credentials::with_secret(key.clone(), secret.clone())),
            (key, secret) => {
                let mut missing = Vec::new();
                if key.is_none() {
                    missing.push("VONAGE_API_KEY");
                }
                if secret.is_none() {
                    missing.push("VONAGE_API_SECRET");
                }
                Err(MissingCredentials { missing, url: url.clone() })
            }
        }
    }
}

impl Settings {
    /// The options given, with the process environment.
    pub fn resolve(args: GlobalArgs) -> Self {
        Settings::resolve_with(args, std::env::vars().collect())
    }

    /// The options given, with `vars` as the environment.
    pub fn resolve_with(args: GlobalArgs, vars: Vec<(String, String)>) -> Self {
        let lookup = |name: &str| vars.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let env: &dyn Fn(&str) -> Option<String> = &lookup;
        let state = match (args.state, args.sandbox) {
            (Some(given), _) => given,
            (None, true) => StateLocation::File(DEFAULT_SANDBOX_STATE.into()),
            (None, false) => StateLocation::File(DEFAULT_STATE.into()),
        };
        let numbers_url = match args.numbers_url {
            Some(url) => url,
            None if args.api_url != default_api_url() => args.api_url.clone(),
            None => default_numbers_url(),
        };
        let files = match args.files.is_empty() {
            true => vec![PathBuf::from(DEFAULT_MANIFEST)],
            false => args.files,
        };
        Settings {
            files,
            state,
            api_url: args.api_url,
            numbers_url,
            sandbox: args.sandbox,
            allow_other_account: args.allow_other_account,
            passphrase_file: args.passphrase_file,
            passphrase_env: env("VAPP_STATE_PASSPHRASE").filter(|p| !p.is_empty()).map(zeroize::Zeroizing::new),
            credentials: EnvCredentials::read(env, "VONAGE_API_KEY", "VONAGE_API_SECRET"),
            engine_env: crate::state::backend::EngineEnv::from_pairs(vars.iter().cloned()),
            environment: crate::accounts::Environment::new(vars),
        }
    }
}

fn default_api_url() -> BaseUrl {
    BaseUrl::parse(crate::api::DEFAULT_API_URL).unwrap_or_else(|_| unreachable!("the default API URL parses"))
}

fn default_numbers_url() -> BaseUrl {
    BaseUrl::parse(crate::api::numbers::DEFAULT_NUMBERS_URL)
        .unwrap_or_else(|_| unreachable!("the default Numbers URL parses"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, FromArgMatches};

    fn settings(args: &[&str], env: &[(&str, &str)]) -> Settings {
        let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let matches = super::super::Cli::command().try_get_matches_from(args).unwrap();
        let cli = super::super::Cli::from_arg_matches(&matches).unwrap();
        Settings::resolve_with(cli.global, env)
    }

    #[test]
    fn missing_credentials_are_named() {
        let s = settings(&["vapp", "plan"], &[("VONAGE_API_KEY", "k1")]);
        let error = s.credentials.require(&s.api_url).unwrap_err();
        assert_eq!(
            error.to_string(),
            "VONAGE_API_SECRET is not set: vapp needs the account's API key and secret to reach https://api.nexmo.com"
        );
        let s = settings(&["vapp", "plan"], &[("VONAGE_API_KEY", " "), ("VONAGE_API_SECRET", "")]);
        assert_eq!(s.credentials.require(&s.api_url).unwrap_err().missing, ["VONAGE_API_KEY", "VONAGE_API_SECRET"]);
        let s = settings(&["vapp", "plan"], &[("VONAGE_API_KEY", "k"), ("VONAGE_API_SECRET", "hunter2")]);
        assert!(s.credentials.require(&s.api_url).is_ok());
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn the_numbers_api_follows_a_changed_api_url() {
        let s = settings(&["vapp", "--api-url", "http://127.0.0.1:9/", "plan"], &[]);
        assert_eq!(s.numbers_url.as_str(), "http://127.0.0.1:9");
        let s = settings(&["vapp", "plan"], &[]);
        assert_eq!(s.numbers_url.as_str(), "https://rest.nexmo.com");
    }
}
