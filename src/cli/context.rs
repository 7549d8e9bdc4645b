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
use crate::api::{ApplicationApi, BaseUrl, Client, ClientConfig, Credentials, NumberFilter, NumbersApi};
use crate::emulator::{Emulator, EmulatorConfig, RunningEmulator};
use crate::manifest::{self, Desired};
use crate::model::{AccountName, Application, Listed, Number};
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
    /// Whole where the state names them (see [`crate::plan::listing_keeps`]), a glimpse elsewhere.
    pub live: Vec<Listed>,
    pub numbers: Vec<Number>,
    /// The accounts besides `default` that the manifests or the state put applications in, read
    /// while `default` was (empty when there are none).
    pub others: Vec<super::worlds::World>,
    /// The primary's subaccounts, read when the manifests or the state have any.
    pub subaccounts: Vec<crate::api::SubaccountInfo>,
    pub connection: Connection,
    /// How long the manifests and the state took (read while the account was listed).
    pub manifests_took: Duration,
    pub state_took: Duration,
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
        Ok(manifest::load(&self.settings.files)?)
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

    /// A new state; encrypted from the start when a passphrase is given.
    pub fn new_state(&self) -> Result<State> {
        let mut state = State::new(uuid::Uuid::new_v4().to_string());
        state.account = Some(self.account()?);
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
        if self.settings.sandbox {
            // A new sandbox account owns ten numbers, linked to nothing, as a new Vonage account might.
            // The existing accounts the manifests declare exist in the sandbox too, as subaccounts of
            // its primary, each with the one sandbox secret (never the real one from its variable).
            let existing: Vec<(String, crate::secret::Secret)> = self
                .manifests()
                .map(|desired| {
                    desired
                        .accounts
                        .values()
                        .filter_map(|account| match &account.kind {
                            manifest::accounts::AccountKind::Existing { api_key, .. }
                                if api_key != crate::emulator::DEFAULT_API_KEY =>
                            {
                                Some((
                                    api_key.clone(),
                                    crate::secret::Secret::new(crate::emulator::SANDBOX_ACCOUNT_SECRET),
                                ))
                            }
                            _ => None,
                        })
                        .collect()
                })
                .unwrap_or_default();
            let config = EmulatorConfig {
                data_file: Some(self.sandbox_data_path()),
                seed_numbers: SANDBOX_NUMBERS,
                subaccounts: existing,
                // Simulated traffic is signed as Vonage signs it, when the account's secret is given.
                signature_secret: std::env::var(super::check::SIGNATURE_SECRET_VAR)
                    .ok()
                    .filter(|s| !s.is_empty())
                    .map(crate::secret::Secret::new),
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
        let credentials = self.credentials()?;
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
    /// account) while the account is listed, so a plan waits for the slower of the two rather than
    /// both. `on_local` runs as soon as the local part is read (apply starts making the key pairs it
    /// will need). Errors keep the order a person fixes them in: missing credentials first, then the
    /// manifests' and the state's (the listing is then dropped unfinished), then the listing's.
    pub async fn gather(
        &self,
        manifests: Manifests,
        keys: Keys,
        on_local: impl FnOnce(&Desired, Option<&State>),
    ) -> Result<Inputs> {
        self.account()?;
        let saved_imports = match &manifests {
            Manifests::Saved(_, needs) => Some(needs.imports.clone()),
            _ => None,
        };
        // The state says which applications the listing keeps whole: it is read first (a file, a
        // row), while the manifests are read on another thread and the first page is on its way.
        let (keeps, kept) = tokio::sync::oneshot::channel();
        let (prepared, to_read) = tokio::sync::oneshot::channel::<Vec<super::worlds::ToRead>>();
        let (clients, connected) = tokio::sync::oneshot::channel::<(Client, Client)>();
        let local = async {
            let started = Instant::now();
            let (reading, also) = match manifests {
                Manifests::Read => {
                    let files = self.settings.files.clone();
                    (Err(tokio::task::spawn_blocking(move || (manifest::load(&files), started.elapsed()))), Vec::new())
                }
                Manifests::Given(desired) => (Ok(*desired), Vec::new()),
                Manifests::Saved(desired, needs) => (Ok(*desired), needs.accounts),
            };
            let loaded = match keys {
                Keys::Sealed => self.load_state().await,
                Keys::Readable => self.load_state_with_keys().await,
            };
            let state_took = started.elapsed();
            if let Ok(loaded) = &loaded {
                let _ = keeps.send(crate::plan::listing_keeps(loaded.as_ref().map(|l| &l.state)));
            }
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
            self.check_account(loaded.as_ref().map(|l| &l.state))?;
            // The other accounts are read as soon as it is known which they are, beside `default`.
            let state = loaded.as_ref().map(|l| &l.state);
            let _ = prepared.send(super::worlds::prepare(&desired, state, &also, &self.settings)?);
            on_local(&desired, loaded.as_ref().map(|l| &l.state));
            Ok::<_, super::failure::Failure>((desired, loaded, manifests_took, state_took))
        };
        let listing = async {
            let connection = self.connect().await?;
            let _ = clients.send((connection.client.clone(), connection.numbers.clone()));
            // Without the state (its read failed: the plan is not made), everything is kept.
            let keep = async { kept.await.unwrap_or(crate::model::Keep::Everything) };
            let applications = connection.client.list_for_plan(keep);
            let (live, numbers) = self.list_account_with(&connection, applications).await?;
            Ok::<_, super::failure::Failure>((connection, live, numbers))
        };
        let others = async {
            // Nothing to read when the local part failed or names no other account.
            let Ok(accounts) = to_read.await else { return Ok(Vec::new()) };
            if accounts.is_empty() {
                return Ok(Vec::new());
            }
            let Ok((client, numbers)) = connected.await else { return Ok(Vec::new()) };
            super::worlds::read(&client, &numbers, accounts).await
        };
        let ((desired, loaded, manifests_took, state_took), listed, others) =
            tokio::try_join!(local, async { Ok(listing.await) }, async { Ok(others.await) })?;
        let (connection, mut live, numbers) = listed?;
        let mut others = others?;
        // The applications imported (by the manifests or the saved plan) are read whole in their
        // accounts: the listing kept only what the state names whole.
        let imports = saved_imports.unwrap_or_else(|| {
            let account_of = |address| desired.apps.get(address).map(|a: &manifest::DesiredApp| a.account.clone());
            desired.refactoring.imports.iter().filter_map(|i| Some((account_of(&i.address)?, i.id.clone()))).collect()
        });
        let ids_in = |account: &AccountName| -> std::collections::HashSet<&crate::model::AppId> {
            imports.iter().filter(|(a, _)| a == account).map(|(_, id)| id).collect()
        };
        read_whole(&connection.client, &ids_in(&AccountName::default_account()), &mut live).await?;
        let state = loaded.as_ref().map(|l| &l.state);
        for world in &mut others {
            let ids = ids_in(&world.account);
            if ids.is_empty() {
                continue;
            }
            let Some(credentials) = super::worlds::credentials(&desired, state, &world.account, &self.settings)? else {
                continue;
            };
            let (client, _) = super::worlds::clients(&connection.client, &connection.numbers, &credentials);
            read_whole(&client, &ids, &mut world.live).await?;
        }
        // Existing accounts need no listing of the primary's subaccounts: only those vapp makes do.
        let has_subaccounts =
            desired.accounts.values().any(|a| matches!(a.kind, manifest::accounts::AccountKind::Subaccount { .. }))
                || loaded.as_ref().is_some_and(|l| l.state.accounts.values().any(|a| a.subaccount.is_some()));
        let subaccounts = match has_subaccounts {
            true => crate::api::SubaccountsApi::list_subaccounts(&connection.client)
                .await
                .with_context(|| format!("cannot list the subaccounts at {}", connection.client.base_url()))?,
            false => Vec::new(),
        };
        Ok(Inputs { desired, loaded, live, numbers, others, subaccounts, connection, manifests_took, state_took })
    }

    /// Every live application (whole) and every number of the account, read at once, with a status
    /// line about how long it took.
    pub async fn list_account(&self, connection: &Connection) -> Result<(Vec<Application>, Vec<Number>)> {
        self.list_account_with(connection, connection.client.list_all()).await
    }

    /// The applications `applications` lists, and every number of the account, read at once.
    async fn list_account_with<T>(
        &self,
        connection: &Connection,
        applications: impl std::future::Future<Output = Result<Vec<T>, crate::api::ApiError>>,
    ) -> Result<(Vec<T>, Vec<Number>)> {
        let started = Instant::now();
        let spinner = self.printer.spinner("reading the applications and numbers of the account…");
        let everything = NumberFilter::default();
        let (live, numbers) = tokio::join!(applications, connection.numbers.list_numbers(&everything));
        if let Some(spinner) = spinner {
            spinner.finish_and_clear();
        }
        let live = live.with_context(|| format!("cannot list the applications at {}", connection.client.base_url()))?;
        let numbers =
            numbers.with_context(|| format!("cannot list the numbers at {}", connection.numbers.base_url()))?;
        self.printer.detail(&format!(
            "read {} applications and {} numbers in {:.2}s",
            live.len(),
            numbers.len(),
            started.elapsed().as_secs_f64()
        ));
        Ok((live, numbers.iter().map(crate::api::OwnedNumber::summary).collect()))
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

/// Reads the applications `ids` names whole where `live` has only glimpses of them (an import's plan
/// compares all of an application, and a saved plan's digest covers all of it).
async fn read_whole(
    client: &Client,
    ids: &std::collections::HashSet<&crate::model::AppId>,
    live: &mut [Listed],
) -> Result<()> {
    for listed in live.iter_mut() {
        let Listed::Glimpse(glimpse) = listed else { continue };
        if !ids.contains(&glimpse.id) {
            continue;
        }
        let app = client
            .get(&glimpse.id)
            .await
            .with_context(|| format!("cannot read application {} to import it", glimpse.id))?;
        *listed = crate::model::Keep::Everything.listed(app);
    }
    Ok(())
}
