//! Reading the accounts a run spans: which they are, how to sign in to each, and what each holds.
//!
//! Below the command line and above the API client: a command names the accounts it needs (every
//! account in play, or those `--account` names) and gets one [`World`] per account, `default` first,
//! or an error that names that account and the variable that signs in to it. `default` is read the
//! same way as any other account.
//!
//! Invariants:
//! - a suspended subaccount is never signed in to (its credentials answer 401): the primary's
//!   Subaccounts API says which are suspended, and such a world is [`Seen::Suspended`];
//! - an existing account is bound in the state to the API key it was first used with: another key for
//!   the name is refused (unless `--allow-other-account`);
//! - only the accounts a command needs are signed in to: an account's secret is asked for only when
//!   that account is read.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use indexmap::IndexMap;

use crate::api::{ApiError, BaseUrl, Client, Credentials, NumberFilter, NumbersApi as _, SubaccountsApi as _};
use crate::manifest::accounts::{AccountKind, DeclaredAccount};
use crate::model::{AccountName, ApiKey, AppId, Keep, Listed};
use crate::plan::{Goal, Seen, Subaccount, World};
use crate::secret::Secret;
use crate::state::{HeldSecret, State};

/// How many accounts are read at once (each is two listings, themselves paged concurrently): as many
/// as the pages of one listing, so that a repository of a few dozen accounts is read in one round.
pub const ACCOUNTS_AT_ONCE: usize = 32;

/// The environment variables a run was started with, read once (secrets among them: every value
/// redacts itself).
#[derive(Clone, Default)]
pub struct Environment(Arc<BTreeMap<String, Secret>>);

impl Environment {
    pub fn new(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        Environment(Arc::new(vars.into_iter().map(|(k, v)| (k, Secret::new(v))).collect()))
    }

    /// The variable's value, when it is set and not blank.
    pub fn get(&self, name: &str) -> Option<&Secret> {
        self.0.get(name).filter(|v| !v.expose().trim().is_empty())
    }

    /// The variable's value as set, blank or not: what a manifest's `${VAR}` expands to.
    pub fn value(&self, name: &str) -> Option<String> {
        self.0.get(name).map(|v| v.expose().to_string())
    }
}

impl std::fmt::Debug for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Environment({} variables)", self.0.len())
    }
}

/// The default account's credentials a command needs and the environment does not give.
#[derive(Clone, Debug, thiserror::Error)]
#[error("{} not set: vapp needs the account's API key and secret to reach {url}", missing.join(" and ") + if missing.len() == 1 { " is" } else { " are" })]
pub struct MissingCredentials {
    pub missing: Vec<&'static str>,
    pub url: BaseUrl,
}

impl MissingCredentials {
    pub fn help(&self) -> String {
        "export VONAGE_API_KEY and VONAGE_API_SECRET (never in manifests); to try vapp without an account, add --sandbox"
            .into()
    }
}

/// How vapp signs in to an account, as an error about it names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignsInWith {
    /// `VONAGE_API_KEY` and `VONAGE_API_SECRET`.
    Default,
    /// The account's `api_secret_env` variable.
    Variable(String),
    /// The secret vapp made and keeps in the state.
    Custody,
    /// The sandbox's one secret.
    Sandbox,
}

/// Why an account cannot be signed in to or read.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    #[error(transparent)]
    MissingDefault(Box<MissingCredentials>),
    /// A subaccount vapp makes is read through the primary (its Subaccounts API), whose credentials
    /// are missing.
    #[error("account {account} is a subaccount vapp makes, so vapp needs the primary account's credentials too")]
    NeedsPrimary {
        account: AccountName,
        #[source]
        source: Box<MissingCredentials>,
    },
    #[error("account {account} needs its API secret in {variable}, which is not set")]
    MissingSecret { account: AccountName, variable: String },
    #[error("the state binds account {account} to API key {recorded}, but the manifests give it {given}")]
    OtherKey { account: AccountName, recorded: ApiKey, given: ApiKey },
    #[error("the state has applications in account {account}, which the manifests no longer declare")]
    Undeclared { account: AccountName },
    #[error("the state holds account {account}'s secret sealed, and this run has no passphrase")]
    Sealed { account: AccountName },
    #[error("cannot list the subaccounts of the primary account at {url}")]
    Subaccounts {
        url: BaseUrl,
        #[source]
        source: Box<ApiError>,
    },
    #[error("cannot {what} of account {account} (API key {api_key}) at {url}")]
    Read {
        account: AccountName,
        api_key: ApiKey,
        url: String,
        what: &'static str,
        signs_in_with: SignsInWith,
        #[source]
        source: Box<ApiError>,
    },
}

impl AccountsError {
    /// What to do about it: the variables of the account concerned, never another's.
    pub fn help(&self) -> Option<String> {
        match self {
            AccountsError::MissingDefault(missing) | AccountsError::NeedsPrimary { source: missing, .. } => {
                Some(missing.help())
            }
            AccountsError::MissingSecret { account, variable } => Some(format!(
                "set {variable} where vapp runs (the manifests name it as account {account}'s `api_secret_env`)"
            )),
            AccountsError::OtherKey { .. } => Some(
                "its application ids mean nothing in another account: fix `api_key`, or pass --allow-other-account if the account really is the same".into(),
            ),
            AccountsError::Undeclared { account } => Some(format!(
                "declare account {account} again (to delete its applications, remove them first), or `vapp state rm` them"
            )),
            AccountsError::Sealed { .. } => Some("set VAPP_STATE_PASSPHRASE or pass --passphrase-file FILE".into()),
            AccountsError::Subaccounts { source, .. } => source.help(),
            AccountsError::Read { account, api_key, signs_in_with, source, .. } if source.status() == Some(401) => {
                Some(match signs_in_with {
                    SignsInWith::Default => "check VONAGE_API_KEY and VONAGE_API_SECRET".to_string(),
                    SignsInWith::Variable(variable) => format!(
                        "check {variable}: it must hold the secret of API key {api_key} (account {account}'s `api_secret_env`)"
                    ),
                    SignsInWith::Custody => format!(
                        "the secret vapp keeps for subaccount {account} was refused: was it changed outside vapp? (`vapp account show {account}` prints the one vapp holds)"
                    ),
                    SignsInWith::Sandbox => "the sandbox refused its own secret: remove .vapp/ to start a new sandbox".to_string(),
                })
            }
            AccountsError::Read { source, .. } => source.help(),
        }
    }
}

/// How a run may reach an account.
#[derive(Clone, Debug)]
pub enum Access {
    SignIn {
        credentials: Credentials,
        with: SignsInWith,
    },
    /// A subaccount vapp makes that does not exist yet, or whose create's outcome is unknown.
    NotMade,
    /// Suspended: never signed in to.
    Suspended {
        api_key: ApiKey,
    },
}

/// Every account a run may sign in to, and the clients that reach them (one connection pool).
pub struct Directory {
    declared: IndexMap<AccountName, DeclaredAccount>,
    default: Result<Credentials, MissingCredentials>,
    sandbox: bool,
    allow_other_account: bool,
    environment: Environment,
    /// The Application (and Subaccounts) API, and the Numbers API: signed in as each account in turn.
    apps: Client,
    numbers: Client,
}

/// What [`Directory::read`] found: every world asked for (`default` first), and the primary's
/// subaccounts when the worlds include subaccounts vapp makes.
pub struct Read {
    pub worlds: Vec<World>,
    pub subaccounts: Vec<Subaccount>,
}

/// The settings a directory needs: how the default account signs in, and what the run allows.
pub struct DirectorySettings {
    pub default: Result<Credentials, MissingCredentials>,
    pub sandbox: bool,
    pub allow_other_account: bool,
    pub environment: Environment,
}

impl Directory {
    /// A directory of the accounts `declared` names (and `default`), reached through `apps` and
    /// `numbers` (clients whose credentials are replaced for each account).
    pub fn new(
        declared: IndexMap<AccountName, DeclaredAccount>,
        settings: DirectorySettings,
        apps: Client,
        numbers: Client,
    ) -> Self {
        let DirectorySettings { default, sandbox, allow_other_account, environment } = settings;
        Directory { declared, default, sandbox, allow_other_account, environment, apps, numbers }
    }

    /// The default account's credentials, or which are missing.
    pub fn default_credentials(&self) -> Result<&Credentials, &MissingCredentials> {
        self.default.as_ref()
    }

    /// The declarations this directory knows.
    pub fn declared(&self) -> &IndexMap<AccountName, DeclaredAccount> {
        &self.declared
    }

    /// Whether `account` is a subaccount vapp makes (declared as one, or held in the state's custody).
    pub fn is_made(&self, account: &AccountName, state: Option<&State>) -> bool {
        matches!(self.declared.get(account).map(|d| &d.kind), Some(AccountKind::Subaccount { .. }))
            || state.and_then(|s| s.accounts.get(account)).is_some_and(|r| r.subaccount.is_some())
    }

    /// How to sign in to `account` as the declarations and the state say, whether or not it is
    /// suspended; `None` for a subaccount not made yet.
    pub fn credentials(
        &self,
        account: &AccountName,
        state: Option<&State>,
    ) -> Result<Option<(Credentials, SignsInWith)>, AccountsError> {
        if account.is_default() {
            let credentials =
                self.default.clone().map_err(|missing| AccountsError::MissingDefault(Box::new(missing)))?;
            let with = if self.sandbox { SignsInWith::Sandbox } else { SignsInWith::Default };
            return Ok(Some((credentials, with)));
        }
        let record = state.and_then(|s| s.accounts.get(account));
        if let Some(AccountKind::Existing { api_key, api_secret_env }) = self.declared.get(account).map(|d| &d.kind) {
            let recorded = record.filter(|r| r.subaccount.is_none()).and_then(|r| r.api_key.as_ref());
            if let Some(recorded) = recorded.filter(|k| *k != api_key && !self.allow_other_account) {
                return Err(AccountsError::OtherKey {
                    account: account.clone(),
                    recorded: recorded.clone(),
                    given: api_key.clone(),
                });
            }
            // The sandbox knows every declared account by one sandbox secret: a real one never reaches it.
            if self.sandbox {
                let credentials = Credentials::new(api_key.clone(), crate::emulator::SANDBOX_ACCOUNT_SECRET);
                return Ok(Some((credentials, SignsInWith::Sandbox)));
            }
            let Some(secret) = self.environment.get(api_secret_env) else {
                return Err(AccountsError::MissingSecret {
                    account: account.clone(),
                    variable: api_secret_env.clone(),
                });
            };
            let credentials = Credentials::new(api_key.clone(), secret.expose());
            return Ok(Some((credentials, SignsInWith::Variable(api_secret_env.clone()))));
        }
        match (record, record.and_then(|r| r.subaccount.as_ref())) {
            (Some(record), Some(made)) => {
                let Some(api_key) = &record.api_key else { return Ok(None) };
                match &made.secret {
                    HeldSecret::Open { secret } => {
                        Ok(Some((Credentials::new(api_key.clone(), secret.expose()), SignsInWith::Custody)))
                    }
                    HeldSecret::Sealed { .. } => Err(AccountsError::Sealed { account: account.clone() }),
                }
            }
            // An existing account the manifests no longer declare: the sandbox still knows it.
            (Some(record), None) if self.sandbox && record.api_key.is_some() => {
                let api_key = record.api_key.clone().unwrap_or_default();
                let credentials = Credentials::new(api_key, crate::emulator::SANDBOX_ACCOUNT_SECRET);
                Ok(Some((credentials, SignsInWith::Sandbox)))
            }
            _ if self.declared.contains_key(account) => Ok(None),
            _ => Err(AccountsError::Undeclared { account: account.clone() }),
        }
    }

    /// How this run may reach `account`, given the primary's listing of its subaccounts.
    pub fn access(
        &self,
        account: &AccountName,
        state: Option<&State>,
        subaccounts: &[Subaccount],
    ) -> Result<Access, AccountsError> {
        let made = self.is_made(account, state);
        let record = state.and_then(|s| s.accounts.get(account));
        if made {
            if let Some(api_key) = record.and_then(|r| r.api_key.as_ref()) {
                let suspended = match subaccounts.iter().find(|s| &s.api_key == api_key) {
                    Some(shown) => shown.suspended,
                    None => record.and_then(|r| r.subaccount.as_ref()).is_some_and(|s| s.suspended),
                };
                if suspended {
                    return Ok(Access::Suspended { api_key: api_key.clone() });
                }
            }
        }
        Ok(match self.credentials(account, state)? {
            Some((credentials, with)) => Access::SignIn { credentials, with },
            None => Access::NotMade,
        })
    }

    /// The Application and Numbers API clients of an account, sharing the run's connection pool.
    pub fn clients(&self, credentials: &Credentials) -> (Client, Client) {
        (self.apps.for_credentials(credentials.clone()), self.numbers.for_credentials(credentials.clone()))
    }

    /// The primary account's client (the Subaccounts API is called as the primary).
    pub fn primary(&self, for_account: &AccountName) -> Result<Client, AccountsError> {
        match &self.default {
            Ok(credentials) => Ok(self.apps.for_credentials(credentials.clone())),
            Err(missing) => {
                Err(AccountsError::NeedsPrimary { account: for_account.clone(), source: Box::new(missing.clone()) })
            }
        }
    }

    /// The existing accounts among `accounts` that the state does not bind to their API key yet,
    /// with the key (bound with an apply's first change, as `default` is).
    pub fn unbound(&self, state: &State, accounts: &[AccountName]) -> Vec<(AccountName, ApiKey)> {
        accounts
            .iter()
            .filter_map(|account| match self.declared.get(account).map(|d| &d.kind) {
                Some(AccountKind::Existing { api_key, .. })
                    if state.accounts.get(account).and_then(|r| r.api_key.as_ref()) != Some(api_key) =>
                {
                    Some((account.clone(), api_key.clone()))
                }
                _ => None,
            })
            .collect()
    }

    /// Reads `accounts` (see [`in_play`]): the primary's subaccounts first when any of them is one
    /// vapp makes (a suspended one is not signed in to), then every account at once, each listing
    /// keeping whole what `keep` says and the applications `imports` names.
    pub async fn read(
        &self,
        accounts: &[AccountName],
        state: Option<&State>,
        keep: &(dyn Fn(&AccountName) -> Keep + Sync),
        imports: &[(AccountName, AppId)],
    ) -> Result<Read, AccountsError> {
        let made: Vec<&AccountName> = accounts.iter().filter(|a| self.is_made(a, state)).collect();
        // Every sign-in is resolved before anything is read: a missing variable is told at once.
        for account in accounts {
            self.credentials(account, state)?;
        }
        let subaccounts = match made.first() {
            None => Vec::new(),
            Some(first) => {
                let primary = self.primary(first)?;
                let listed = primary.list_subaccounts().await.map_err(|source| AccountsError::Subaccounts {
                    url: primary.base_url().clone(),
                    source: Box::new(source),
                })?;
                listed
                    .into_iter()
                    .map(|s| Subaccount {
                        api_key: s.api_key,
                        name: s.name,
                        use_primary_account_balance: s.use_primary_account_balance,
                        suspended: s.suspended,
                    })
                    .collect()
            }
        };
        let reads = accounts.iter().map(|account| {
            let access = self.access(account, state, &subaccounts);
            async move {
                match access? {
                    Access::NotMade => Ok(World { account: account.clone(), api_key: None, seen: Seen::NotMade }),
                    Access::Suspended { api_key } => {
                        Ok(World { account: account.clone(), api_key: Some(api_key), seen: Seen::Suspended })
                    }
                    Access::SignIn { credentials, with } => {
                        let ids: BTreeSet<&AppId> =
                            imports.iter().filter(|(a, _)| a == account).map(|(_, id)| id).collect();
                        self.read_one(account, &credentials, with, keep(account).and(ids.iter().copied())).await
                    }
                }
            }
        });
        let worlds: Vec<World> = futures::stream::iter(reads).buffered(ACCOUNTS_AT_ONCE).try_collect().await?;
        Ok(Read { worlds, subaccounts })
    }

    /// One account's applications and numbers, read at once.
    async fn read_one(
        &self,
        account: &AccountName,
        credentials: &Credentials,
        with: SignsInWith,
        keep: Keep,
    ) -> Result<World, AccountsError> {
        let (apps, numbers) = self.clients(credentials);
        read_world(&apps, &numbers, account, with, async { keep }).await
    }
}

/// One account's applications and numbers, read at once with `apps` and `numbers` (signed in as
/// it); the listing keeps whole what `keep` says, which may come later (the state is still being
/// read when a run starts listing `default`).
pub async fn read_world(
    apps: &Client,
    numbers: &Client,
    account: &AccountName,
    with: SignsInWith,
    keep: impl std::future::Future<Output = Keep>,
) -> Result<World, AccountsError> {
    let everything = NumberFilter::default();
    let (live, owned) = tokio::join!(apps.list_for_plan(keep), numbers.list_numbers(&everything));
    let failed = |what: &'static str, url: &BaseUrl| {
        let (with, url) = (with.clone(), url.to_string());
        move |source| AccountsError::Read {
            account: account.clone(),
            api_key: apps.api_key().clone(),
            url,
            what,
            signs_in_with: with,
            source: Box::new(source),
        }
    };
    let live: Vec<Listed> = live.map_err(failed("list the applications", apps.base_url()))?;
    let owned = owned.map_err(failed("list the numbers", numbers.base_url()))?;
    let numbers = owned.iter().map(crate::api::OwnedNumber::summary).collect();
    Ok(World::listed(account.clone(), Some(apps.api_key().clone()), live, numbers))
}

/// The accounts a run reads, `default` first: every account the manifests or the state put
/// applications in, the subaccounts vapp makes (declared, or kept in the state to be suspended), and
/// `also` (a saved plan's). With `only` (`--account`), those, and `default` when one of them is a
/// subaccount vapp makes (the primary makes, resumes and suspends it, and numbers move through it).
pub fn in_play(
    declared: &IndexMap<AccountName, DeclaredAccount>,
    desired_accounts: impl IntoIterator<Item = AccountName>,
    state: Option<&State>,
    goal: Goal,
    only: &[AccountName],
    also: &[AccountName],
) -> Vec<AccountName> {
    let mut named: BTreeSet<AccountName> = desired_accounts.into_iter().collect();
    if let Some(state) = state {
        named.extend(state.applications.values().map(|e| e.account_name()));
        named.extend(state.accounts.iter().filter(|(_, r)| r.subaccount.is_some()).map(|(a, _)| a.clone()));
    }
    if goal == Goal::Apply {
        named.extend(
            declared.values().filter(|d| matches!(d.kind, AccountKind::Subaccount { .. })).map(|d| d.name.clone()),
        );
    }
    named.extend(also.iter().cloned());
    named.remove(&AccountName::default_account());
    let made = |account: &AccountName| {
        matches!(declared.get(account).map(|d| &d.kind), Some(AccountKind::Subaccount { .. }))
            || state.and_then(|s| s.accounts.get(account)).is_some_and(|r| r.subaccount.is_some())
    };
    let wanted_default = only.is_empty() || only.iter().any(|a| a.is_default() || made(a));
    let mut accounts = Vec::new();
    if wanted_default {
        accounts.push(AccountName::default_account());
    }
    accounts.extend(named.into_iter().filter(|a| only.is_empty() || only.contains(a)));
    accounts
}
