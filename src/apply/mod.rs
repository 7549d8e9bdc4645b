//! The executor: carries out a plan, step by step, recording each outcome in the state.
//!
//! It decides nothing the plan did not decide: each [`Step`] says what to send and which key to use,
//! and whether a create must first look again for an earlier one whose answer was lost. Independent
//! steps run concurrently (bounded by `parallelism`); one failure does not stop the others; every
//! completed step is durable in the state before it counts as done. A create writes its private key
//! into the state before the POST leaves.

pub mod accounts;
mod keys_ahead;
mod realize;

pub use keys_ahead::KeysAhead;
pub use realize::{realize, Realize, Stage};

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::api::numbers::{NumberUpdate, NumbersApi};
use crate::api::retry::{create_certainly_failed, is_transient};
use crate::api::{ApiError, ApplicationApi, RetryPolicy};
use crate::keys::{self, KeyError, KeyPair};
use crate::model::{Address, AppId, Application, Fingerprint, Keys, Msisdn};
use crate::plan::diff::comparable;
use crate::plan::{
    Action, Adopt, AdoptThen, Change, Create, IfFound, KeyChange, KnownKey, Lookup, LostCreate, NewKey, NumberChange,
    Plan, RotateKey, Route, Step, Unmanaged, Update,
};
use crate::state::{Intent, KeyRecord, PendingNumber, StateEntry, StateError, StateStore};

/// Where key pairs come from: RSA in production, a test may hand out prepared ones.
pub trait KeySource: Send + Sync + 'static {
    fn generate(&self) -> Result<KeyPair, KeyError>;
}

/// Fresh RSA-2048 pairs.
pub struct RsaKeys;

impl KeySource for RsaKeys {
    fn generate(&self) -> Result<KeyPair, KeyError> {
        keys::generate()
    }
}

/// How a step ended: the application it made, found or changed (its id), or why it failed.
pub type StepResult = Result<Option<AppId>, ActionError>;

/// Hears about each step as it starts and ends (progress lines, a progress bar).
pub trait Progress: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, change: &Change, outcome: &StepResult, elapsed: Duration);
    /// A number of `change` is about to be routed.
    fn number_started(&self, _change: &Change, _number: &NumberChange) {}
    fn number_finished(&self, _change: &Change, _number: &NumberChange, _outcome: &Result<(), ActionError>) {}
    /// An account's own change ended.
    fn account_finished(&self, _change: &crate::plan::AccountChange, _outcome: &accounts::AccountResult) {}
    /// A number's transfer between accounts ended.
    fn transfer_finished(&self, _transfer: &crate::plan::Transfer, _outcome: &Result<(), accounts::AccountError>) {}
}

/// What can make one step fail.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Api(#[from] ApiError),
    /// The state still holds the address in another account: a move's old half has not finished, and
    /// its record (with its key) is not replaced.
    #[error("the state still holds {address} in account {account}: the application there must leave first (run the same command again)")]
    HeldElsewhere { address: Address, account: crate::model::AccountName },
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The plan names a key pair the state does not hold (the state was changed behind the lock).
    #[error("the state no longer holds the key pair {fingerprint} that the plan uses")]
    KeyNotHeld { fingerprint: Fingerprint },
    /// A lost create has more than one candidate in the account: vapp touches nothing rather than guess.
    #[error("an earlier create's answer was lost and {count} unmanaged applications have its key and name; vapp cannot tell which is its own")]
    AmbiguousCreate { count: usize },
    /// The API answered a create or an update without saying which application it is.
    #[error("the API answered without an application id")]
    MissingId,
    #[error("key generation stopped")]
    KeyTask(#[source] tokio::task::JoinError),
    /// The API's answer cannot be recorded as applied.
    #[error("cannot record the API's answer")]
    Record(#[source] serde_json::Error),
    /// Not carried out: an interrupt asked that no new call start.
    #[error("not started: interrupted")]
    Interrupted,
    /// Not carried out: an earlier write of the state failed, and nothing new starts without one.
    #[error("not started: the state could not be written")]
    NotStarted,
    /// A number's application was not created or updated: the number is left as it is.
    #[error("not started: the application's own step did not succeed")]
    StepFailed,
    /// Not carried out: its account could not be signed in to.
    #[error("not started: {0}")]
    SignIn(String),
    #[error("cannot route number {msisdn}")]
    Number {
        msisdn: Msisdn,
        #[source]
        source: ApiError,
    },
    /// The account no longer owns a number the plan routes.
    #[error("the account no longer owns number {msisdn}")]
    NumberGone { msisdn: Msisdn },
}

/// Set by an interrupt: steps not yet started are skipped; calls in flight finish and are recorded.
#[derive(Debug, Default)]
pub struct Cancel(AtomicBool);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }

    fn check(&self) -> Result<(), ActionError> {
        if self.is_cancelled() {
            Err(ActionError::Interrupted)
        } else {
            Ok(())
        }
    }
}

/// How one step ended.
#[derive(Debug)]
pub struct Outcome {
    pub address: Address,
    pub action: Action,
    /// The number routed, for a number's outcome.
    pub number: Option<NumberChange>,
    pub result: StepResult,
}

/// Every step's outcome, in plan order.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
    /// The accounts' own changes, and the transfers of numbers between them.
    pub accounts: Vec<accounts::AccountOutcome>,
    pub transfers: Vec<accounts::TransferOutcome>,
    /// Recording what the plan observed (no-ops, the numbers routing to each application) failed.
    pub recording: Option<StateError>,
}

impl Report {
    /// Steps that were tried and failed (not those that never started).
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(
            |o| matches!(o.result, Err(ref e) if !matches!(e, ActionError::Interrupted | ActionError::NotStarted)),
        )
    }

    /// Steps not started because the state could not be written.
    pub fn not_started(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o.result, Err(ActionError::NotStarted))).count()
    }

    pub fn interrupted(&self) -> usize {
        self.outcomes.iter().filter(|o| matches!(o.result, Err(ActionError::Interrupted))).count()
    }

    /// Applications whose `action` succeeded.
    pub fn succeeded(&self, action: Action) -> usize {
        self.outcomes.iter().filter(|o| o.number.is_none() && o.action == action && o.result.is_ok()).count()
    }

    /// Numbers routed as the plan says: linked or moved (`unlinked` false), or unlinked.
    pub fn numbers_routed(&self, unlinked: bool) -> usize {
        self.outcomes
            .iter()
            .filter(|o| o.result.is_ok())
            .filter_map(|o| o.number.as_ref())
            .filter(|n| (n.route == Route::Nowhere) == unlinked)
            .count()
    }
}

pub struct Executor<'a, A: ApplicationApi, N: NumbersApi> {
    pub api: &'a A,
    /// The Numbers API (pace its updates: see [`crate::api::numbers::Paced`]).
    pub numbers: &'a N,
    pub store: &'a StateStore,
    pub keys: Arc<dyn KeySource>,
    pub parallelism: usize,
    pub progress: &'a dyn Progress,
    pub cancel: &'a Cancel,
    /// How a create whose outcome is unknown is resolved and sent again.
    pub retry: RetryPolicy,
    /// How long a list may lag behind a create, at the least, before vapp concludes it did not happen
    /// ([`SETTLE`] against a real API).
    pub settle: Duration,
    /// Calls in flight across the accounts a run changes at once (see [`realize`]); none for a run
    /// of one account, which `parallelism` bounds.
    pub slots: Option<&'a tokio::sync::Semaphore>,
}

/// Which of a change's number updates a phase carries out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Routes {
    /// Links and moves (with the applications' own steps).
    Links,
    /// Unlinks (before the removals).
    Unlinks,
    All,
}

impl Routes {
    fn selects(self, number: &NumberChange) -> bool {
        match self {
            Routes::Links => number.route != Route::Nowhere,
            Routes::Unlinks => number.route == Route::Nowhere,
            Routes::All => true,
        }
    }
}

impl<A: ApplicationApi, N: NumbersApi> Executor<'_, A, N> {
    /// Carries out `plan` (one account's) in three phases: every step but removals (concurrently),
    /// then the numbers (one at a time: their API is paced), then the removals (concurrently). A
    /// number is thus linked once its application exists, and unlinked before it is deleted. Then what
    /// the no-ops observed is recorded. A plan over several accounts is carried out by [`realize`],
    /// which runs these phases account by account in an apply's order (docs/ARCHITECTURE.md).
    pub async fn execute(&self, plan: &Plan) -> Report {
        let changes: Vec<&Change> = plan.changes.iter().collect();
        let mut report = Report { outcomes: self.apply_steps(&changes).await, ..Report::default() };
        let routed = self.route(&changes, Routes::All, &report.outcomes).await;
        report.outcomes.extend(routed);
        report.outcomes.extend(self.remove(&changes).await);
        if self.store.has_failed() {
            return report;
        }
        report.recording = record_observed(self.store, &changes).await.err();
        report
    }

    /// Every step of `changes` but removals and no-ops, concurrently; their outcomes in order.
    pub async fn apply_steps(&self, changes: &[&Change]) -> Vec<Outcome> {
        // A no-op whose numbers change has no step of its own: only its numbers are carried out.
        let steps: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| c.action() != Action::NoOp && !matches!(c.step, Step::NoOp { .. }) && !c.step.removes())
            .collect();
        self.run_all(&steps).await
    }

    /// The removals of `changes` (deletes, forgets), concurrently.
    pub async fn remove(&self, changes: &[&Change]) -> Vec<Outcome> {
        let removals: Vec<&Change> = changes.iter().copied().filter(|c| c.step.removes()).collect();
        self.run_all(&removals).await
    }

    /// The number updates of `changes` that `routes` selects, one at a time. A number whose
    /// application's own step failed (in `earlier`) is left as it is.
    pub async fn route(&self, changes: &[&Change], routes: Routes, earlier: &[Outcome]) -> Vec<Outcome> {
        let mut outcomes = Vec::new();
        for change in changes.iter().filter(|c| !c.numbers.is_empty()) {
            let step_failed = earlier.iter().any(|o| o.address == change.address && o.result.is_err());
            for number in change.numbers.iter().filter(|n| routes.selects(n)) {
                let result = match (self.cancel.is_cancelled(), self.store.has_failed(), step_failed) {
                    (true, ..) => Err(ActionError::Interrupted),
                    (_, true, _) => Err(ActionError::NotStarted),
                    (.., true) => Err(ActionError::StepFailed),
                    _ => {
                        let _slot = self.slot().await;
                        self.progress.number_started(change, number);
                        let result = self.route_number(change, number).await;
                        self.progress.number_finished(change, number, &result);
                        result
                    }
                };
                let result = result.map(|()| None);
                let number = Some(number.clone());
                outcomes.push(Outcome { address: change.address.clone(), action: change.action(), number, result });
            }
        }
        outcomes
    }

    /// One of the run's slots for a call, when a run spreads its calls over several accounts at once.
    async fn slot(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        match self.slots {
            Some(slots) => slots.acquire().await.ok(),
            None => None,
        }
    }

    /// Runs `changes`' steps concurrently (bounded by `parallelism`); their outcomes in that order.
    async fn run_all(&self, changes: &[&Change]) -> Vec<Outcome> {
        let mut outcomes: Vec<(usize, Outcome)> = futures::stream::iter(changes.iter().enumerate())
            .map(|(i, change)| async move {
                let outcome =
                    |result| Outcome { address: change.address.clone(), action: change.action(), number: None, result };
                let _slot = self.slot().await;
                if self.cancel.is_cancelled() {
                    return (i, outcome(Err(ActionError::Interrupted)));
                }
                if self.store.has_failed() {
                    return (i, outcome(Err(ActionError::NotStarted)));
                }
                self.progress.started(change);
                let started = Instant::now();
                let result = self.run(change).await;
                self.progress.finished(change, &result, started.elapsed());
                (i, outcome(result))
            })
            .buffer_unordered(self.parallelism.max(1))
            .collect()
            .await;
        outcomes.sort_by_key(|(i, _)| *i);
        outcomes.into_iter().map(|(_, o)| o).collect()
    }

    /// Routes one number as the plan says, keeping the number's other settings as the account shows
    /// them now; recorded in the state as under way before the call, and as done after it. An update
    /// whose answer was lost is resolved by reading the number.
    async fn route_number(&self, change: &Change, number: &NumberChange) -> Result<(), ActionError> {
        let number_error = |source: ApiError| ActionError::Number { msisdn: number.msisdn.clone(), source };
        let (to_address, to_id) = match &number.route {
            Route::Nowhere => (None, None),
            Route::Application { id } => (Some(change.address.clone()), Some(id.clone())),
            Route::Created { address } => {
                let id = self.store.read(|s| s.applications.get(address).and_then(|e| e.id.clone()));
                (Some(address.clone()), Some(id.ok_or(ActionError::StepFailed)?))
            }
        };
        let Some(current) = self.numbers.find_number(&number.msisdn).await.map_err(number_error)? else {
            return Err(ActionError::NumberGone { msisdn: number.msisdn.clone() });
        };
        let pending = PendingNumber { to: to_address.clone() };
        self.store.commit(|s| drop(s.numbers_pending.insert(number.msisdn.clone(), pending))).await?;
        let update = NumberUpdate::route(&current, to_id.as_ref());
        let done = match self.numbers.update_number(&update).await {
            Ok(()) => true,
            Err(e) if create_certainly_failed(&e) => {
                self.store.commit(|s| drop(s.numbers_pending.remove(&number.msisdn))).await?;
                return Err(number_error(e));
            }
            // The answer was lost: the number says whether the update happened.
            Err(e) => match self.numbers.find_number(&number.msisdn).await {
                Ok(Some(now)) if now.app_id == to_id => true,
                _ => return Err(number_error(e)),
            },
        };
        if done {
            let msisdn = number.msisdn.clone();
            self.store
                .commit(|s| {
                    for entry in s.applications.values_mut() {
                        entry.numbers.remove(&msisdn);
                    }
                    if let Some(entry) = to_address.as_ref().and_then(|a| s.applications.get_mut(a)) {
                        entry.numbers.insert(msisdn.clone());
                    }
                    s.numbers_pending.remove(&msisdn);
                })
                .await?;
        }
        Ok(())
    }

    async fn run(&self, change: &Change) -> StepResult {
        if let Some(from) = &change.moved_from {
            self.rename(from, &change.address).await?;
        }
        match &change.step {
            Step::Create(create) | Step::Recreate { create, .. } => self.create(change, create).await.map(Some),
            Step::Update(Update { id, body }) => self.update(change, id, body).await.map(Some),
            Step::Adopt(adopt) => self.adopt(change, adopt).await.map(Some),
            Step::RotateKey(rotate) => self.rotate(change, rotate).await.map(|()| Some(rotate.id.clone())),
            Step::Delete { id } => self.delete(change, id).await.map(|()| None),
            Step::Vanished { .. } => {
                self.store.commit(|s| drop(s.applications.remove(&change.address))).await?;
                Ok(None)
            }
            Step::Abandon { lost, if_found } => self.abandon(change, lost, *if_found).await,
            Step::Move { id, observed } => {
                self.record_as_applied(change, id, observed).await?;
                Ok(Some(id.clone()))
            }
            Step::Import(import) => self.import(change, import).await.map(Some),
            Step::Forget { .. } => {
                self.store.commit(|s| drop(s.applications.remove(&change.address))).await?;
                Ok(None)
            }
            Step::NoOp { .. } => Ok(None),
        }
    }

    /// Moves the state's record of `from` to `to` (a `moved:` entry), unless an earlier run did: the
    /// record, its key and its numbers go as one write, before anything else of the change.
    async fn rename(&self, from: &Address, to: &Address) -> Result<(), ActionError> {
        let needed = self.store.read(|s| s.applications.contains_key(from) && !s.applications.contains_key(to));
        if !needed {
            return Ok(());
        }
        self.store.commit(|s| s.rename(from, to)).await?;
        Ok(())
    }

    /// Records what a step saw, with nothing sent: the live application as applied, and the protect flag.
    async fn record_as_applied(
        &self,
        change: &Change,
        id: &AppId,
        observed: &serde_json::Value,
    ) -> Result<(), ActionError> {
        let (id, observed) = (id.clone(), observed.clone());
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.mark_applied(id, observed, change.protect);
                }
            })
            .await?;
        Ok(())
    }

    /// Refuses to put a new record at an address the state holds in another account: the record there
    /// (and its key) belongs to an application that has not left that account yet.
    fn refuse_held_elsewhere(&self, change: &Change) -> Result<(), ActionError> {
        let elsewhere = self.store.read(|s| {
            s.applications.get(&change.address).map(|e| e.account_name()).filter(|held| held != &change.account)
        });
        match elsewhere {
            Some(account) => Err(ActionError::HeldElsewhere { address: change.address.clone(), account }),
            None => Ok(()),
        }
    }

    /// Records an imported application (its key is not vapp's), then brings it to the manifest as an
    /// adopted one is.
    async fn import(&self, change: &Change, import: &crate::plan::Import) -> Result<AppId, ActionError> {
        self.refuse_held_elsewhere(change)?;
        let entry = StateEntry {
            account: (!change.account.is_default()).then(|| change.account.clone()),
            id: Some(import.id.clone()),
            key: KeyRecord::Unknown { fingerprint: import.fingerprint.clone() },
            protect: change.protect,
            applied: Some(import.observed.clone()),
            ..Default::default()
        };
        self.store.commit(|s| drop(s.applications.insert(change.address.clone(), entry))).await?;
        self.converge_after_recording(change, &import.id, import.then.as_ref()).await?;
        Ok(import.id.clone())
    }

    /// The pair a create or rotation sends, as the state records it, and its public PEM.
    async fn obtain_key(&self, address: &Address, key: &NewKey) -> Result<(KeyRecord, String), ActionError> {
        let pair = match key {
            NewKey::External { fingerprint, public_key } => {
                return Ok((KeyRecord::External { fingerprint: fingerprint.clone() }, public_key.clone()));
            }
            NewKey::Held { fingerprint } => self.stored_pair(address, fingerprint)?,
            NewKey::Generate => {
                // One key at a time per core: keys then finish steadily, so each create's request goes
                // out while the next keys are being made, instead of all requests waiting for the last key.
                let _core = keygen_slots().acquire().await;
                let source = self.keys.clone();
                tokio::task::spawn_blocking(move || source.generate()).await.map_err(ActionError::KeyTask)??
            }
        };
        let record = KeyRecord::managed(pair.fingerprint, pair.private_key);
        Ok((record, pair.public_key))
    }

    async fn create(&self, change: &Change, create: &Create) -> Result<AppId, ActionError> {
        if let Some(lost) = &create.look_first {
            // An earlier create's process died with its request in flight: the request may land after
            // the plan listed the account. Give it a moment, then look again before sending anything.
            tokio::time::sleep(self.settle).await;
            if let Some(found) = self.find_lost(lost).await? {
                return self.record(change, &found).await;
            }
        }
        self.refuse_held_elsewhere(change)?;
        let (record, public_key) = self.obtain_key(&change.address, &create.key).await?;
        let fingerprint = record.fingerprint().cloned().unwrap_or_default();
        let mut body = create.body.clone();
        // The key is on disk before the request leaves: whatever happens next, it is not lost.
        let intent = Intent::Create { fingerprint: Some(fingerprint.clone()), name: Some(body.name.clone()) };
        let entry = StateEntry {
            account: (!change.account.is_default()).then(|| change.account.clone()),
            key: record,
            protect: change.protect,
            rotation: create.rotation,
            intent: Some(intent),
            ..Default::default()
        };
        self.store.commit(|s| drop(s.applications.insert(change.address.clone(), entry))).await?;
        body.keys = Some(Keys { public_key: Some(public_key), ..Default::default() });
        let lost = LostCreate { fingerprint, name: Some(body.name.clone()) };
        let created = self.create_exactly_once(&body, &lost).await?;
        self.record(change, &created).await
    }

    /// Looks once more for an unwanted create whose answer was lost; if it landed after all, deletes
    /// or keeps it as the plan says, else forgets the address.
    async fn abandon(&self, change: &Change, lost: &LostCreate, if_found: IfFound) -> StepResult {
        tokio::time::sleep(self.settle).await;
        if let Some(found) = self.find_lost(lost).await? {
            return match if_found {
                IfFound::Delete => {
                    self.delete(change, found.id.as_ref().ok_or(ActionError::MissingId)?).await.map(|()| None)
                }
                IfFound::Keep => self.record(change, &found).await.map(Some),
            };
        }
        self.store.commit(|s| drop(s.applications.remove(&change.address))).await?;
        Ok(None)
    }

    /// Records the adopted application, then updates it when the plan says it differs.
    async fn adopt(&self, change: &Change, adopt: &Adopt) -> Result<AppId, ActionError> {
        self.record_as_applied(change, &adopt.id, &adopt.observed).await?;
        self.converge_after_recording(change, &adopt.id, adopt.then.as_ref()).await?;
        Ok(adopt.id.clone())
    }

    /// What an adopted or imported application needs once it is recorded.
    async fn converge_after_recording(
        &self,
        change: &Change,
        id: &AppId,
        then: Option<&AdoptThen>,
    ) -> Result<(), ActionError> {
        match then {
            None => {}
            Some(AdoptThen::Update { body }) => drop(self.update(change, id, body).await?),
            Some(AdoptThen::RotateKey { change: key_change, rotation }) => {
                let rotate = RotateKey { id: id.clone(), change: key_change.clone(), rotation: *rotation };
                self.rotate(change, &rotate).await?
            }
        }
        Ok(())
    }

    /// Gives the application a new key: recorded as pending, sent, then made the key. At every moment
    /// the state holds a private key that matches what the API has.
    async fn rotate(&self, change: &Change, rotate: &RotateKey) -> Result<(), ActionError> {
        let (record, applied) = match &rotate.change {
            KeyChange::Record { key } => {
                let record = match key {
                    KnownKey::External { fingerprint } => KeyRecord::External { fingerprint: fingerprint.clone() },
                    KnownKey::Held { fingerprint } => {
                        let pair = self.stored_pair(&change.address, fingerprint)?;
                        KeyRecord::managed(pair.fingerprint, pair.private_key)
                    }
                };
                (record, None)
            }
            KeyChange::Send { key, body } => {
                let (record, public_key) = self.obtain_key(&change.address, key).await?;
                let mut body = Application::clone(body);
                body.keys = Some(Keys { public_key: Some(public_key), ..Default::default() });
                let pending = record.clone();
                self.store
                    .commit(|s| {
                        if let Some(entry) = s.applications.get_mut(&change.address) {
                            let fingerprint = pending.fingerprint().cloned();
                            entry.intent = Some(Intent::RotateKey { fingerprint });
                            entry.pending_key = Some(pending);
                        }
                    })
                    .await?;
                let updated = self.call_or_abandon(change, self.api.update(&rotate.id, &body)).await?;
                (record, Some(comparable(&updated).map_err(decode_error)?))
            }
        };
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.key = record;
                    entry.pending_key = None;
                    entry.rotation = rotate.rotation;
                    entry.rotate_requested = false;
                    match applied.clone() {
                        Some(applied) => entry.mark_applied(rotate.id.clone(), applied, change.protect),
                        // The account had the key already: nothing was sent, nothing new observed.
                        None => {
                            entry.protect = change.protect;
                            entry.intent = None;
                        }
                    }
                }
            })
            .await?;
        Ok(())
    }

    /// POSTs `body`, never leaving a duplicate: when a failed POST may have reached the API, the account
    /// is searched for what it made before anything is sent again.
    async fn create_exactly_once(&self, body: &Application, lost: &LostCreate) -> Result<Application, ActionError> {
        let started = Instant::now();
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.cancel.check()?;
            let error = match self.api.create(body).await {
                Ok(created) => return Ok(created),
                Err(error) => error,
            };
            let delay = self.retry.delay(attempt, &error, started.elapsed()).filter(|_| is_transient(&error));
            if !create_certainly_failed(&error) {
                if let Some(found) = self.find_lost(lost).await? {
                    return Ok(found);
                }
                // Not listed yet. A list may lag behind a create, so look once more after a pause before
                // anything is sent again; if it is still missing, the create did not happen.
                let Some(delay) = delay else { return Err(error.into()) };
                tokio::time::sleep(delay.max(self.settle)).await;
                if let Some(found) = self.find_lost(lost).await? {
                    return Ok(found);
                }
                continue;
            }
            match delay {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error.into()),
            }
        }
    }

    /// The application `lost` made, if the account holds it (by the planner's own rule).
    async fn find_lost(&self, lost: &LostCreate) -> Result<Option<Application>, ActionError> {
        let live = match self.api.list_all().await {
            // Other steps of this apply change the account while it is listed: a count that no longer
            // adds up is read again, once.
            Err(ApiError::List { .. }) => self.api.list_all().await?,
            listed => listed?,
        };
        match self.store.read(|state| lost.find(&Unmanaged::new(&live, state))) {
            Lookup::Found(app) => Ok(Some(app.clone())),
            Lookup::Missing => Ok(None),
            Lookup::Ambiguous(count) => Err(ActionError::AmbiguousCreate { count }),
        }
    }

    /// The pair with `fingerprint` that the state holds for `address` (its key, or a pending one).
    fn stored_pair(&self, address: &Address, fingerprint: &Fingerprint) -> Result<KeyPair, ActionError> {
        let private_key = self
            .store
            .read(|state| {
                let entry = state.applications.get(address)?;
                entry
                    .key
                    .private_key_for(fingerprint)
                    .or_else(|| entry.pending_key.as_ref().and_then(|k| k.private_key_for(fingerprint)))
                    .cloned()
            })
            .ok_or_else(|| ActionError::KeyNotHeld { fingerprint: fingerprint.clone() })?;
        let public_key = private_key.public_key_pem()?;
        Ok(KeyPair { private_key, public_key, fingerprint: fingerprint.clone() })
    }

    async fn update(&self, change: &Change, id: &AppId, body: &Application) -> Result<AppId, ActionError> {
        self.write_intent(change, |fingerprint| Intent::Update { fingerprint }).await?;
        let updated = self.call_or_abandon(change, self.api.update(id, body)).await?;
        self.record(change, &updated).await
    }

    /// Makes a call whose intent is written; when it certainly did not happen (interrupted before it
    /// left, or refused by the API), the intent is cleared again so that no run mistakes it for one
    /// whose outcome is unknown.
    async fn call_or_abandon<T>(
        &self,
        change: &Change,
        call: impl std::future::Future<Output = Result<T, ApiError>>,
    ) -> Result<T, ActionError> {
        let error = match self.cancel.check() {
            Err(interrupted) => interrupted,
            Ok(()) => match call.await {
                Ok(value) => return Ok(value),
                Err(e) if e.is_not_found() || !create_certainly_failed(&e) => return Err(e.into()),
                Err(e) => e.into(),
            },
        };
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.intent = None;
                }
            })
            .await?;
        Err(error)
    }

    /// Records that a call is about to be made, with the fingerprint of the key the entry holds.
    async fn write_intent(
        &self,
        change: &Change,
        intent: fn(Option<Fingerprint>) -> Intent,
    ) -> Result<(), ActionError> {
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.intent = Some(intent(entry.key.fingerprint().cloned()));
                }
            })
            .await?;
        Ok(())
    }

    /// Records a created or updated application as applied; its id.
    async fn record(&self, change: &Change, live: &Application) -> Result<AppId, ActionError> {
        let id = live.id.clone().ok_or(ActionError::MissingId)?;
        let applied = comparable(live).map_err(decode_error)?;
        self.record_as_applied(change, &id, &applied).await?;
        Ok(id)
    }

    async fn delete(&self, change: &Change, id: &AppId) -> Result<(), ActionError> {
        self.write_intent(change, |fingerprint| Intent::Delete { fingerprint }).await?;
        match self.call_or_abandon(change, self.api.delete(id)).await {
            Ok(()) => {}
            // Gone already (deleted by an earlier, interrupted run): the goal is reached.
            Err(ActionError::Api(e)) if e.is_not_found() => {}
            Err(e) => return Err(e),
        }
        self.store.commit(|s| drop(s.applications.remove(&change.address))).await?;
        Ok(())
    }
}

/// Records, in one write, what the plan observed and this apply did not change: each no-op's live
/// form and protect flag (an interrupted call whose goal the account shows reached is no longer
/// pending), and the numbers that route to each application. A number this plan routed keeps what
/// its update recorded; an update left under way by an earlier run is resolved by the observation.
pub async fn record_observed(store: &StateStore, changes: &[&Change]) -> Result<(), StateError> {
    let routed: BTreeSet<&Msisdn> = changes.iter().flat_map(|c| c.numbers.iter().map(|n| &n.msisdn)).collect();
    let addresses: BTreeSet<&Address> = changes.iter().map(|c| &c.address).collect();
    // What differs from what the state holds, found under the store's lock; written in one commit.
    let (no_ops, numbers, resolved) = store.read(|state| {
        let mut no_ops: Vec<(&Address, &AppId, &serde_json::Value, bool)> = Vec::new();
        let mut numbers: Vec<(&Address, BTreeSet<Msisdn>)> = Vec::new();
        for change in changes {
            let Some(entry) = state.applications.get(&change.address) else { continue };
            if let Step::NoOp { id, observed } = &change.step {
                let recorded = entry.applied.as_ref() == Some(observed)
                    && entry.protect == change.protect
                    && entry.intent.is_none()
                    && entry.renamed_from.is_none();
                if !recorded {
                    no_ops.push((&change.address, id, observed, change.protect));
                }
            }
            if observes_numbers(&change.step) {
                let now: BTreeSet<Msisdn> = change
                    .numbers_now
                    .iter()
                    .filter(|n| !routed.contains(n))
                    .chain(entry.numbers.iter().filter(|n| routed.contains(n)))
                    .cloned()
                    .collect();
                if now != entry.numbers {
                    numbers.push((&change.address, now));
                }
            }
        }
        let resolved: Vec<Msisdn> = state
            .numbers_pending
            .iter()
            .filter(|(msisdn, pending)| {
                !routed.contains(msisdn) && pending.to.as_ref().is_none_or(|to| addresses.contains(to))
            })
            .map(|(msisdn, _)| msisdn.clone())
            .collect();
        (no_ops, numbers, resolved)
    });
    if no_ops.is_empty() && numbers.is_empty() && resolved.is_empty() {
        return Ok(());
    }
    store
        .commit(|s| {
            for (address, id, observed, protect) in no_ops {
                if let Some(entry) = s.applications.get_mut(address) {
                    entry.mark_applied(id.clone(), observed.clone(), protect);
                }
            }
            for (address, now) in numbers {
                if let Some(entry) = s.applications.get_mut(address) {
                    entry.numbers = now;
                }
            }
            for msisdn in &resolved {
                s.numbers_pending.remove(msisdn);
            }
        })
        .await
}

/// Whether the plan observed which numbers route to the step's application (it exists, and stays).
fn observes_numbers(step: &Step) -> bool {
    matches!(
        step,
        Step::Update(_) | Step::RotateKey(_) | Step::Adopt(_) | Step::Move { .. } | Step::Import(_) | Step::NoOp { .. }
    )
}

/// An application the API answered that cannot be put into comparable form.
fn decode_error(source: serde_json::Error) -> ActionError {
    ActionError::Record(source)
}

/// How long a list may lag behind a create, at the least, before vapp concludes it did not happen.
pub const SETTLE: Duration = Duration::from_secs(1);

/// How many key pairs are made at once: one per core.
fn keygen_workers() -> usize {
    std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
}

/// As many key generations at once as there are cores.
fn keygen_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(keygen_workers()))
}
