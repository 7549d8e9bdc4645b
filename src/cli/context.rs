//! What every command needs: the resolved settings, the printer, and the ways to reach the manifests,
//! the state and the API (the real one, or the sandbox emulator inside this process).
//!
//! [`Context::gather`] is the one way `plan`, `apply` and `destroy` read what a plan is made from: the
//! manifests and the state (disk and CPU, on other threads) while the account is listed (the network).

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::failure::{bail, Context as _, Result};

use super::{Printer, Settings};
use crate::accounts::{read_world, Directory, DirectorySettings, SignsInWith};
use crate::api::{BaseUrl, Client, ClientConfig, Credentials};
use crate::emulator::{Emulator, EmulatorConfig, RunningEmulator};
use crate::manifest::{self, Desired};
use crate::model::AccountName;
use crate::plan::{Subaccount, World};
use crate::state::backend::{self, Backend, Held};
use crate::state::{self, Account, Loaded, State, StateStore};

/// How many numbers a new sandbox account owns.
pub const SANDBOX_NUMBERS: usize = 10;

pub struct Context {
    pub settings: Settings,
    pub printer: Printer,
    /// Opened on first use (a database or bucket is reached only by commands that need the state).
    backend: tokio::sync::OnceCell<Arc<dyn Backend>>,
}

/// Clients of the Application and Numbers APIs, and the sandbox they talk to when `--sandbox` is on
/// (kept alive as long as the clients).
pub struct Connection {
    pub client: Client,
    pub numbers: Client,
    _sandbox: Option<RunningEmulator>,
}

/// Which manifests a plan is made from.
pub enum Manifests {
    /// Those `-f` names.
    Read,
    /// These (destroy plans against none).
    Given(Box<Desired>),
    /// A saved plan's: its accounts' declarations, and what else it needs read (see [`SavedNeeds`]).
    Saved(Box<Desired>, SavedNeeds),
}

/// What a saved plan needs read besides what the state names.
pub struct SavedNeeds {
    /// The accounts it changes.
    pub accounts: Vec<AccountName>,
    /// The applications it imports, by account: read whole for the digests that tell a stale plan.
    pub imports: Vec<(AccountName, crate::model::AppId)>,
}

/// Whether the state's private keys must be readable (apply signs nothing, but makes keys and
/// completes rotations with them).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    Sealed,
    Readable,
}

/// Everything a plan is made from, and where the time went while reading it.
pub struct Inputs {
    pub desired: Desired,
    pub loaded: Option<Loaded>,
    /// Every account read, `default` first when it was (see [`crate::accounts::in_play`]).
    pub worlds: Vec<World>,
    /// The primary's subaccounts, read when the worlds include subaccounts vapp makes.
    pub subaccounts: Vec<Subaccount>,
    /// How to sign in to each account, for the apply that follows.
    pub directory: Directory,
    /// `--account`, checked against the manifests and the state.
    pub only: Vec<AccountName>,
    pub connection: Connection,
    /// How long the manifests and the state took (read while the account was listed).
    pub manifests_took: Duration,
    pub state_took: Duration,
}

/// What a plan is for, and which accounts it covers.
pub struct Scope<'a> {
    pub goal: crate::plan::Goal,
    /// `--account`, as given (empty for every account).
    pub only: &'a [String],
}

impl Context {
    pub fn new(settings: Settings, printer: Printer) -> Self {
        Context { settings, printer, backend: tokio::sync::OnceCell::new() }
    }

    /// The sandbox's data file: `.vapp/sandbox.json` beside the state file (in the working directory
    /// when the state lives elsewhere).
    pub fn sandbox_data_path(&self) -> PathBuf {
        match self.settings.state.file() {
            Some(path) => backend::vapp_dir_beside(path).join("sandbox.json"),
            None => PathBuf::from(".vapp").join("sandbox.json"),
        }
    }

    /// Where the state lives, as `--state` names it.
    pub async fn backend(&self) -> Result<Arc<dyn Backend>> {
        let backend = self
            .backend
            .get_or_try_init(|| async {
                backend::open(&self.settings.state, &self.settings.engine_env, Some(self.state_observer())).await
            })
            .await
            .context("cannot open the state")?;
        Ok(backend.clone())
    }

    pub fn manifests(&self) -> Result<Desired> {
        let environment = &self.settings.environment;
        Ok(manifest::load(&self.settings.files, &|name| environment.value(name))?)
    }

    /// Refuses what this build cannot plan yet: subaccounts of anything but `default`.
    pub fn refuse_what_is_not_built(desired: &Desired) -> Result<()> {
        let nested = desired.accounts.values().find(|account| {
            matches!(&account.kind, manifest::accounts::AccountKind::Subaccount { parent, .. } if !parent.is_default())
        });
        let Some(account) = nested else { return Ok(()) };
        Err(super::failure::hinted(
            format!("{}: `{}` is a subaccount of an account besides `default`", account.location, account.name),
            "this vapp makes subaccounts of `default` only (see the README, \"Several accounts\")",
        ))
    }

    /// The state passphrase: `--passphrase-file`, else `VAPP_STATE_PASSPHRASE`.
    pub fn passphrase(&self) -> Result<Option<zeroize::Zeroizing<String>>> {
        if let Some(path) = &self.settings.passphrase_file {
            let bytes = zeroize::Zeroizing::new(
                crate::fsutil::read_bounded(path, 64 * 1024, "a passphrase file")
                    .with_context(|| format!("cannot read the passphrase file {}", path.display()))?,
            );
            let text = std::str::from_utf8(&bytes)
                .with_context(|| format!("the passphrase file {} is not UTF-8 text", path.display()))?;
            let text = text.trim_end_matches(['\r', '\n']).to_string();
            if text.is_empty() {
                bail!("the passphrase file {} is empty", path.display());
            }
            return Ok(Some(zeroize::Zeroizing::new(text)));
        }
        Ok(self.settings.passphrase_env.clone())
    }

    /// The state, if there is one. An encrypted state's private keys stay sealed without the
    /// passphrase: enough for every command that neither signs nor makes a key.
    pub async fn load_state(&self) -> Result<Option<Loaded>> {
        let passphrase = self.passphrase()?;
        let backend = self.backend().await?;
        Ok(state::load(backend.as_ref(), passphrase.as_ref().map(|p| p.as_str())).await?)
    }

    /// The state with its private keys readable: an encrypted state needs the passphrase.
    pub async fn load_state_with_keys(&self) -> Result<Option<Loaded>> {
        let loaded = self.load_state().await?;
        if loaded.as_ref().is_some_and(|l| l.state.encryption.is_some() && l.state.sealer.is_none()) {
            let location = self.settings.state.clone();
            return Err(state::StateError::NeedsPassphrase { location }.into());
        }
        Ok(loaded)
    }

    /// A store that writes `loaded` (or a new state, when there is none) back where it came from.
    pub async fn store(&self, loaded: Option<Loaded>) -> Result<StateStore> {
        let backend = self.backend().await?;
        Ok(match loaded {
            Some(Loaded { state, token }) => StateStore::new(backend, state, Some(token)),
            None => StateStore::new(backend, self.new_state()?, None),
        })
    }

    /// The account this run talks to: the sandbox, or the API key from the environment (missing
    /// credentials are an error here, before any comparison with the state's).
    pub fn account(&self) -> Result<Account> {
        if self.settings.sandbox {
            return Ok(Account::Sandbox { sandbox: true });
        }
        let credentials = self.credentials()?;
        Ok(Account::Vonage { api_key: credentials.api_key, api_url: self.settings.api_url.to_string() })
    }

    /// The credentials of the account, or which of them are missing.
    pub fn credentials(&self) -> Result<Credentials> {
        self.settings.credentials.require(&self.settings.api_url).map_err(|missing| {
            let help = missing.help();
            super::failure::hinted(missing.to_string(), help)
        })
    }

    /// Refuses a state that belongs to another account than this run's, unless told otherwise.
    pub fn check_account(&self, state: Option<&State>) -> Result<()> {
        let here = self.account()?;
        let location = &self.settings.state;
        match state.and_then(|s| s.account.as_ref()) {
            Some(recorded) if !recorded.same_as(&here) => {
                if self.settings.allow_other_account {
                    self.printer.warn(&format!(
                        "the state {location} belongs to {recorded}; using it with {here} as --allow-other-account says"
                    ));
                    return Ok(());
                }
                Err(super::failure::hinted(
                    format!("the state {location} belongs to {recorded}, but this run uses {here}"),
                    "its application ids mean nothing in another account: point --state at that account's state, or pass --allow-other-account if the account really is the same",
                ))
            }
            _ => Ok(()),
        }
    }

    /// A new state; encrypted from the start when a passphrase is given. It records the default
    /// account when this run knows it (a run limited to other accounts records it later).
    pub fn new_state(&self) -> Result<State> {
        let mut state = State::new(uuid::Uuid::new_v4().to_string());
        state.account = self.account().ok();
        if let Some(passphrase) = self.passphrase()? {
            let (settings, sealer) = state::Sealer::create(&passphrase)?;
            state.encryption = Some(settings);
            state.sealer = Some(sealer);
        }
        Ok(state)
    }

    pub async fn require_state(&self) -> Result<Loaded> {
        self.load_state().await?.ok_or_else(|| self.no_state())
    }

    /// The state with its private keys readable (see [`Self::load_state_with_keys`]).
    pub async fn require_state_with_keys(&self) -> Result<Loaded> {
        self.load_state_with_keys().await?.ok_or_else(|| self.no_state())
    }

    fn no_state(&self) -> super::failure::Failure {
        super::failure::Failure::msg(format!("no state at {}: nothing is managed yet", self.settings.state))
    }

    /// A client for the real API (credentials from the environment) or for the in-process sandbox.
    pub async fn connect(&self) -> Result<Connection> {
        self.account()?;
        self.connect_to_any().await
    }

    /// As [`Self::connect`], without requiring the default account's credentials: a run limited to
    /// other accounts (`--account staging`) signs in to each with its own.
    async fn connect_to_any(&self) -> Result<Connection> {
        if self.settings.sandbox {
            // A new sandbox account owns ten numbers, linked to nothing, as a new Vonage account might.
            // The existing accounts the manifests declare exist in the sandbox too, as subaccounts of
            // its primary, each with the one sandbox secret (never the real one from its variable).
            let declared = self.manifests().map(|desired| desired.accounts).unwrap_or_default();
            let existing: Vec<(crate::model::ApiKey, crate::secret::Secret)> = declared
                .values()
                .filter_map(|account| match &account.kind {
                    manifest::accounts::AccountKind::Existing { api_key, .. }
                        if api_key != crate::emulator::DEFAULT_API_KEY =>
                    {
                        Some((api_key.clone(), crate::secret::Secret::new(crate::emulator::SANDBOX_ACCOUNT_SECRET)))
                    }
                    _ => None,
                })
                .collect();
            // Each account's simulated traffic is signed with the secret its variable holds.
            let signature_secrets = declared
                .values()
                .filter_map(|account| {
                    let secret = self.settings.environment.get(account.signature_secret_env.as_deref()?)?.clone();
                    let which = match &account.kind {
                        manifest::accounts::AccountKind::Existing { api_key, .. } => {
                            crate::emulator::SignedAccount::ApiKey(api_key.to_string())
                        }
                        manifest::accounts::AccountKind::Subaccount { name, .. } => {
                            crate::emulator::SignedAccount::Name(name.clone())
                        }
                    };
                    Some((which, secret))
                })
                .collect();
            let config = EmulatorConfig {
                data_file: Some(self.sandbox_data_path()),
                seed_numbers: SANDBOX_NUMBERS,
                subaccounts: existing.into_iter().map(|(key, secret)| (key.into_string(), secret)).collect(),
                // Simulated traffic is signed as Vonage signs it, when the account's secret is given.
                signature_secret: self.settings.environment.get(super::check::SIGNATURE_SECRET_VAR).cloned(),
                signature_secrets,
                ..EmulatorConfig::default()
            };
            let credentials = Credentials::new(config.api_key.clone(), config.api_secret.expose());
            let emulator = Emulator::new(config).await.context("cannot start the sandbox")?;
            let running = emulator.start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
            self.printer.detail(&format!(
                "sandbox: serving {} from {}",
                running.url(),
                self.sandbox_data_path().display()
            ));
            let url = BaseUrl::parse(&running.url())?;
            let client = Client::new(self.client_config(url, credentials))?;
            let numbers = client.clone();
            return Ok(Connection { client, numbers, _sandbox: Some(running) });
        }
        // Without them, every account is signed in to with its own (see `crate::accounts`).
        let credentials = self.credentials().unwrap_or_else(|_| Credentials::new("", ""));
        let client = Client::new(self.client_config(self.settings.api_url.clone(), credentials))?;
        let numbers = client.for_base_url(self.settings.numbers_url.clone());
        Ok(Connection { client, numbers, _sandbox: None })
    }

    /// A client's settings, with retries told to the person waiting (see [`RetryTeller`]).
    fn client_config(&self, url: BaseUrl, credentials: Credentials) -> ClientConfig {
        let teller = RetryTeller::new(self.printer);
        let on_retry = move |notice: &crate::api::RetryNotice| {
            teller.tell(notice.attempt, notice.delay, &notice.cause, notice.budget)
        };
        let mut config = ClientConfig::new(url, credentials);
        config.on_retry = Some(std::sync::Arc::new(on_retry));
        config
    }

    /// Retries of the state's engine, told to the person waiting as the API client's are.
    pub fn state_observer(&self) -> backend::BackendObserver {
        let teller = RetryTeller::new(self.printer);
        std::sync::Arc::new(move |retry: &backend::BackendRetry| {
            teller.tell(retry.attempt, retry.delay, &retry.cause, retry.budget)
        })
    }

    /// Reads what a plan is made from: the manifests and the state (checked against this run's
    /// account) while `default` is listed, so a plan waits for the slower of the two rather than
    /// both; then every other account in play, at once (see [`crate::accounts`]). `on_local` runs as
    /// soon as the local part is read (apply starts making the key pairs it will need). Errors keep
    /// the order a person fixes them in: missing credentials first, then the manifests' and the
    /// state's (the listing is then dropped unfinished), then the listings'.
    pub async fn gather(
        &self,
        manifests: Manifests,
        keys: Keys,
        scope: Scope<'_>,
        on_local: impl FnOnce(&Desired, Option<&State>),
    ) -> Result<Inputs> {
        // `default` is listed from the start unless `--account` leaves it out (a subaccount vapp
        // makes brings it back in, which only the manifests tell: then it is read with the others).
        let default_first = scope.only.is_empty() || scope.only.iter().any(|n| n == AccountName::DEFAULT);
        if default_first {
            self.account()?;
        }
        let (also, saved_imports) = match &manifests {
            Manifests::Saved(_, needs) => (needs.accounts.clone(), Some(needs.imports.clone())),
            _ => (Vec::new(), None),
        };
        let (keeps, kept) = tokio::sync::oneshot::channel::<crate::model::Keep>();
        let (connected, connection_made) = tokio::sync::oneshot::channel::<(Client, Client)>();
        let local = async {
            let started = Instant::now();
            let reading = match manifests {
                Manifests::Read => {
                    let files = self.settings.files.clone();
                    let environment = self.settings.environment.clone();
                    Err(tokio::task::spawn_blocking(move || {
                        (manifest::load(&files, &|name| environment.value(name)), started.elapsed())
                    }))
                }
                Manifests::Given(desired) | Manifests::Saved(desired, _) => Ok(*desired),
            };
            let loaded = match keys {
                Keys::Sealed => self.load_state().await,
                Keys::Readable => self.load_state_with_keys().await,
            };
            let state_took = started.elapsed();
            // A manifest's mistakes are told before the state's.
            let (desired, manifests_took) = match reading {
                Ok(desired) => (desired, Duration::ZERO),
                Err(reading) => {
                    let (desired, took) = reading.await?;
                    let desired = desired?;
                    Self::refuse_what_is_not_built(&desired)?;
                    (desired, took)
                }
            };
            let loaded = loaded?;
            let state = loaded.as_ref().map(|l| &l.state);
            // The applications imported (by the manifests or a saved plan) are kept whole, in their
            // accounts: an import's plan compares all of an application.
            let imports: Vec<(AccountName, crate::model::AppId)> = saved_imports.unwrap_or_else(|| {
                let account_of = |address| desired.apps.get(address).map(|a: &manifest::DesiredApp| a.account.clone());
                desired
                    .refactoring
                    .imports
                    .iter()
                    .filter_map(|i| Some((account_of(&i.address)?, i.id.clone())))
                    .collect()
            });
            let default = AccountName::default_account();
            let in_default = imports.iter().filter(|(a, _)| a.is_default()).map(|(_, id)| id);
            let _ = keeps.send(crate::plan::listing_keeps_in(state, &default).and(in_default));
            on_local(&desired, state);
            Ok::<_, super::failure::Failure>((desired, loaded, imports, manifests_took, state_took))
        };
        let early = async {
            let connection = self.connect_to_any().await?;
            let _ = connected.send((connection.client.clone(), connection.numbers.clone()));
            let default = match default_first {
                false => None,
                true => {
                    let with = match self.settings.sandbox {
                        true => SignsInWith::Sandbox,
                        false => SignsInWith::Default,
                    };
                    // Without the state (its read failed: the plan is not made), everything is kept.
                    let keep = async { kept.await.unwrap_or(crate::model::Keep::Everything) };
                    let spinner = self.printer.spinner("reading the applications and numbers of the account…");
                    let account = AccountName::default_account();
                    let read = read_world(&connection.client, &connection.numbers, &account, with, keep).await;
                    if let Some(spinner) = spinner {
                        spinner.finish_and_clear();
                    }
                    Some(read)
                }
            };
            Ok::<_, super::failure::Failure>((connection, default))
        };
        let rest = async {
            let (desired, loaded, imports, manifests_took, state_took) = local.await?;
            let state = loaded.as_ref().map(|l| &l.state);
            let only = super::plan::accounts_named(scope.only, &desired, state)?;
            // The connection's own failure is told by `early`.
            let Ok((apps, numbers)) = connection_made.await else { return Ok(None) };
            let directory = Directory::new(desired.accounts.clone(), self.directory_settings(), apps, numbers);
            let accounts = crate::accounts::in_play(
                &desired.accounts,
                desired.apps.values().map(|a| a.account.clone()),
                state,
                scope.goal,
                &only,
                &also,
            );
            if accounts.first().is_some_and(AccountName::is_default) {
                self.check_account(state)?;
            }
            let others: Vec<AccountName> =
                accounts.iter().filter(|a| !(default_first && a.is_default())).cloned().collect();
            let keep = |account: &AccountName| crate::plan::listing_keeps_in(state, account);
            let started = Instant::now();
            let read = directory.read(&others, state, &keep, &imports).await;
            let took = started.elapsed();
            let gathered = (desired, loaded, only, directory, read, manifests_took, state_took, took);
            Ok::<_, super::failure::Failure>(Some(gathered))
        };
        let (early, rest) = tokio::join!(early, rest);
        let rest = rest?;
        let (connection, default) = early?;
        let Some((desired, loaded, only, directory, read, manifests_took, state_took, took)) = rest else {
            return Err(super::failure::Failure::msg("the connection to the API was not made"));
        };
        let mut worlds: Vec<World> = default.transpose()?.into_iter().collect();
        let read = read?;
        worlds.extend(read.worlds);
        let applications: usize = worlds.iter().map(|w| w.live().len()).sum();
        let numbers: usize = worlds.iter().map(|w| w.numbers().len()).sum();
        self.printer.detail(&format!(
            "read {applications} applications and {numbers} numbers in {} account{} ({:.2}s for those besides the first)",
            worlds.len(),
            if worlds.len() == 1 { "" } else { "s" },
            took.as_secs_f64()
        ));
        Ok(Inputs {
            desired,
            loaded,
            worlds,
            subaccounts: read.subaccounts,
            directory,
            only,
            connection,
            manifests_took,
            state_took,
        })
    }

    /// The accounts `declared` names (and `default`), reached through `connection`.
    pub fn directory(
        &self,
        declared: indexmap::IndexMap<AccountName, manifest::accounts::DeclaredAccount>,
        connection: &Connection,
    ) -> Directory {
        Directory::new(declared, self.directory_settings(), connection.client.clone(), connection.numbers.clone())
    }

    /// How the accounts directory signs in: the default account's credentials (the sandbox's with
    /// `--sandbox`), and the variables the manifests name for the others.
    pub fn directory_settings(&self) -> DirectorySettings {
        let default = match self.settings.sandbox {
            true => Ok(sandbox_credentials()),
            false => self.settings.credentials.require(&self.settings.api_url),
        };
        DirectorySettings {
            default,
            sandbox: self.settings.sandbox,
            allow_other_account: self.settings.allow_other_account,
            environment: self.settings.environment.clone(),
        }
    }

    /// Runs `work` holding the state lock for `operation`, and lets the lock go however `work` ends;
    /// exit 3 (through [`super::LockedError`]) when another writer holds it past `timeout`.
    pub async fn with_state_lock<T>(
        &self,
        operation: &str,
        timeout: Duration,
        work: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let lock = self.lock(self.backend().await?.as_ref(), operation, timeout).await?;
        let result = work.await;
        lock.release().await;
        result
    }

    /// Takes the lock of `backend` (this run's state, or another: `state migrate`'s target).
    pub async fn lock(&self, backend: &dyn Backend, operation: &str, timeout: Duration) -> Result<Box<dyn Held>> {
        let printer = self.printer;
        let on_broken = move |holder: &state::LockInfo| {
            printer.warn(&format!("removed a stale state lock: {holder}, whose holder is gone"));
        };
        backend.lock(state::LockInfo::mine(operation), timeout, &on_broken).await.map_err(|e| match e {
            state::LockError::Held { .. } => super::failure::Failure::from(e),
            other => other.into(),
        })
    }

    /// Asks a person to type `yes`; refuses outright when nobody is at a terminal.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if !self.printer.stdin_terminal() {
            bail!("refusing to go on without --auto-approve: standard input is not a terminal");
        }
        if self.printer.ask(&format!("{question}\n  Only 'yes' will be accepted: "))?.trim() != "yes" {
            bail!("cancelled: nothing was changed");
        }
        Ok(())
    }
}

/// The sandbox primary's credentials (the emulator's defaults).
fn sandbox_credentials() -> Credentials {
    let config = EmulatorConfig::default();
    Credentials::new(config.api_key.clone(), config.api_secret.expose())
}

/// Tells a person about retries: the first one always (once per run and source), every one with `-v`.
struct RetryTeller {
    printer: Printer,
    told: std::sync::atomic::AtomicBool,
}

impl RetryTeller {
    fn new(printer: Printer) -> Self {
        RetryTeller { printer, told: std::sync::atomic::AtomicBool::new(false) }
    }

    fn tell(&self, attempt: u32, delay: Duration, cause: &str, budget: Duration) {
        let wait = format!("{:.1}s", delay.as_secs_f64());
        if self.printer.verbose {
            self.printer.detail(&format!("attempt {attempt} failed: {cause}; retrying in {wait}"));
        } else if !self.told.swap(true, std::sync::atomic::Ordering::SeqCst) {
            self.printer.warn(&format!(
                "{cause}; retrying in {wait}, for up to {}s in all (-v shows every retry)",
                budget.as_secs()
            ));
        }
    }
}
