//! What every command needs: the global options, the printer, and the ways to reach the manifests,
//! the state and the API (the real one, or the sandbox emulator inside this process).

use std::io::{BufRead, IsTerminal, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context as _, Result};

use super::{GlobalArgs, Printer};
use crate::api::{ApplicationApi, Client, ClientConfig, Credentials, NumberFilter, NumbersApi};
use crate::emulator::{Emulator, EmulatorConfig, RunningEmulator};
use crate::manifest::{self, Desired};
use crate::model::{Application, Number};
use std::sync::Arc;

use crate::state::backend::{self, Backend, Held};
use crate::state::{self, Account, Loaded, State, StateStore};

/// How many numbers a new sandbox account owns.
pub const SANDBOX_NUMBERS: usize = 10;

pub struct Context {
    pub global: GlobalArgs,
    pub printer: Printer,
    /// Opened on first use (a database or bucket is reached only by commands that need the state).
    backend: tokio::sync::OnceCell<Arc<dyn Backend>>,
}

/// What [`Context::alongside_listing`] read: the local part, and the account.
pub struct Listed<T> {
    pub local: T,
    pub live: Vec<Application>,
    pub numbers: Vec<Number>,
}

/// Clients of the Application and Numbers APIs, and the sandbox they talk to when `--sandbox` is on
/// (kept alive as long as the clients).
pub struct Connection {
    pub client: Client,
    pub numbers: Client,
    _sandbox: Option<RunningEmulator>,
}

impl Context {
    pub fn new(global: GlobalArgs, printer: Printer) -> Self {
        Context { global, printer, backend: tokio::sync::OnceCell::new() }
    }

    /// The sandbox's data file: `.vapp/sandbox.json` beside the state file (in the working directory
    /// when the state lives elsewhere).
    pub fn sandbox_data_path(&self) -> PathBuf {
        match backend::is_url(&self.global.state) {
            true => Path::new(".vapp").join("sandbox.json"),
            false => backend::vapp_dir_beside(Path::new(&self.global.state)).join("sandbox.json"),
        }
    }

    /// Where the state lives, as `--state` names it.
    pub async fn backend(&self) -> Result<Arc<dyn Backend>> {
        let backend = self
            .backend
            .get_or_try_init(|| async { backend::open(&self.global.state).await })
            .await
            .context("cannot open the state")?;
        Ok(backend.clone())
    }

    pub fn manifests(&self) -> Result<Desired> {
        Ok(manifest::load(&self.manifest_files())?)
    }

    /// `-f`, or `vapp.yaml` when none is given.
    fn manifest_files(&self) -> Vec<PathBuf> {
        if self.global.files.is_empty() {
            vec![PathBuf::from("vapp.yaml")]
        } else {
            self.global.files.clone()
        }
    }

    /// The state passphrase: `--passphrase-file`, else `VAPP_STATE_PASSPHRASE`.
    pub fn passphrase(&self) -> Result<Option<zeroize::Zeroizing<String>>> {
        if let Some(path) = &self.global.passphrase_file {
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
        Ok(std::env::var("VAPP_STATE_PASSPHRASE").ok().filter(|p| !p.is_empty()).map(zeroize::Zeroizing::new))
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
            let location = self.backend().await?.location().to_string();
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

    /// The account this run talks to: the sandbox, or the API key from the environment.
    pub fn account(&self) -> Account {
        match self.global.sandbox {
            true => Account::Sandbox { sandbox: true },
            false => Account::Vonage {
                api_key: std::env::var("VONAGE_API_KEY").unwrap_or_default(),
                api_url: self.global.api_url.clone(),
            },
        }
    }

    /// Refuses a state that belongs to another account than this run's, unless told otherwise.
    pub fn check_account(&self, state: Option<&State>) -> Result<()> {
        let here = self.account();
        match state.and_then(|s| s.account.as_ref()) {
            Some(recorded) if !recorded.same_as(&here) => {
                if self.global.allow_other_account {
                    self.printer.warn(&format!(
                        "the state {} belongs to {recorded}; using it with {here} as --allow-other-account says",
                        backend::redact(&self.global.state)
                    ));
                    return Ok(());
                }
                Err(super::hinted(
                    format!(
                        "the state {} belongs to {recorded}, but this run uses {here}",
                        backend::redact(&self.global.state)
                    ),
                    "its application ids mean nothing in another account: point --state at that account's state, or pass --allow-other-account if the account really is the same",
                ))
            }
            _ => Ok(()),
        }
    }

    /// A new state; encrypted from the start when a passphrase is given.
    pub fn new_state(&self) -> Result<State> {
        let mut state = State::new(uuid::Uuid::new_v4().to_string());
        state.account = Some(self.account());
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

    fn no_state(&self) -> anyhow::Error {
        anyhow::anyhow!("no state at {}: nothing is managed yet", backend::redact(&self.global.state))
    }

    /// A client for the real API (credentials from the environment) or for the in-process sandbox.
    pub async fn connect(&self) -> Result<Connection> {
        if self.global.sandbox {
            // A new sandbox account owns ten numbers, linked to nothing, as a new Vonage account might.
            let config = EmulatorConfig {
                data_file: Some(self.sandbox_data_path()),
                seed_numbers: SANDBOX_NUMBERS,
                ..EmulatorConfig::default()
            };
            let credentials = Credentials::new(config.api_key.clone(), config.api_secret.clone());
            let emulator = Emulator::new(config).await.context("cannot start the sandbox")?;
            let running = emulator.start(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
            self.printer.detail(&format!(
                "sandbox: serving {} from {}",
                running.url(),
                self.sandbox_data_path().display()
            ));
            let client = Client::new(self.client_config(running.url(), credentials))?;
            let numbers = client.clone();
            return Ok(Connection { client, numbers, _sandbox: Some(running) });
        }
        crate::api::check_base_url(&self.global.api_url)?;
        let key = std::env::var("VONAGE_API_KEY").unwrap_or_default();
        let secret = std::env::var("VONAGE_API_SECRET").unwrap_or_default();
        if key.is_empty() || secret.is_empty() {
            return Err(super::hinted(
                format!("VONAGE_API_KEY and VONAGE_API_SECRET must be set to reach {}", self.global.api_url),
                "to try vapp without an account, add --sandbox",
            ));
        }
        let credentials = Credentials::new(key, secret);
        let client = Client::new(self.client_config(self.global.api_url.clone(), credentials))?;
        let numbers = client.for_base_url(&self.numbers_url())?;
        Ok(Connection { client, numbers, _sandbox: None })
    }

    /// `--numbers-url`; else the API URL when only that was changed (one emulator serves both); else
    /// the Numbers API's own host.
    fn numbers_url(&self) -> String {
        match &self.global.numbers_url {
            Some(url) => url.clone(),
            None if self.global.api_url.trim_end_matches('/') != crate::api::DEFAULT_API_URL => {
                self.global.api_url.clone()
            }
            None => crate::api::numbers::DEFAULT_NUMBERS_URL.to_string(),
        }
    }

    /// A client's settings, with retries told to the person waiting: the first one always (once per
    /// run), every one with `-v`.
    fn client_config(&self, url: String, credentials: Credentials) -> ClientConfig {
        let printer = self.printer;
        let told = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let on_retry = move |notice: &crate::api::RetryNotice| {
            let wait = format!("{:.1}s", notice.delay.as_secs_f64());
            if printer.verbose {
                printer.detail(&format!("attempt {} failed: {}; retrying in {wait}", notice.attempt, notice.cause));
            } else if !told.swap(true, std::sync::atomic::Ordering::SeqCst) {
                printer.warn(&format!(
                    "{}; retrying in {wait}, for up to {}s in all (-v shows every retry)",
                    notice.cause,
                    notice.budget.as_secs()
                ));
            }
        };
        let mut config = ClientConfig::new(url, credentials);
        config.on_retry = Some(std::sync::Arc::new(on_retry));
        config
    }

    /// Runs `local` (reading manifests and state: disk and CPU) while the account is listed (the
    /// network), so a plan waits for the slower of the two rather than both. Errors keep the order a
    /// person fixes them in: `local`'s first (the listing is then dropped unfinished), then the
    /// connection's and the listing's.
    pub async fn alongside_listing<T>(&self, local: impl std::future::Future<Output = Result<T>>) -> Result<Listed<T>> {
        let listing = async {
            let connection = self.connect().await?;
            self.list_account(&connection).await
        };
        let (local, listed) = tokio::try_join!(local, async { Ok(listing.await) })?;
        let (live, numbers) = listed?;
        Ok(Listed { local, live, numbers })
    }

    /// The manifests, read on a blocking thread so that they can be read while something else waits.
    pub async fn manifests_in_background(&self) -> Result<Desired> {
        let files = self.manifest_files();
        Ok(tokio::task::spawn_blocking(move || manifest::load(&files)).await??)
    }

    /// Every live application and every number of the account, read at once, with a status line
    /// about how long it took.
    pub async fn list_account(&self, connection: &Connection) -> Result<(Vec<Application>, Vec<Number>)> {
        let started = Instant::now();
        let spinner = self.printer.spinner("reading the applications and numbers of the account…");
        let everything = NumberFilter::default();
        let (live, numbers) = tokio::join!(connection.client.list_all(), connection.numbers.list_numbers(&everything));
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

    /// Takes the state lock for `operation`; exit 3 (through [`super::LockedError`]) when another
    /// writer holds it past `timeout`. Release it with [`Held::release`] when done.
    pub async fn lock_state(&self, operation: &str, timeout: std::time::Duration) -> Result<Box<dyn Held>> {
        let printer = self.printer;
        let on_broken = move |holder: &state::LockInfo| {
            printer.warn(&format!("removed a stale state lock: {holder}, whose holder is gone"));
        };
        let backend = self.backend().await?;
        backend.lock(state::LockInfo::mine(operation), timeout, &on_broken).await.map_err(|e| match e {
            state::LockError::Held { .. } => anyhow::Error::new(super::LockedError(e)),
            other => other.into(),
        })
    }

    /// Asks a person to type `yes`; refuses outright when nobody is at a terminal.
    pub fn confirm(&self, question: &str) -> Result<()> {
        if !std::io::stdin().is_terminal() {
            bail!("refusing to go on without --auto-approve: standard input is not a terminal");
        }
        eprint!("{question}\n  Only 'yes' will be accepted: ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if answer.trim() != "yes" {
            bail!("cancelled: nothing was changed");
        }
        Ok(())
    }
}
