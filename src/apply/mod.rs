//! The executor: carries out a plan, step by step, recording each outcome in the state.
//!
//! It decides nothing the plan did not decide: each [`Step`] says what to send and which key to use,
//! and whether a create must first look again for an earlier one whose answer was lost. Independent
//! steps run concurrently (bounded by `parallelism`); one failure does not stop the others; every
//! completed step is durable in the state before it counts as done. A create writes its private key
//! into the state before the POST leaves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::api::retry::{create_certainly_failed, is_transient};
use crate::api::{ApiError, ApplicationApi, RetryPolicy};
use crate::keys::{self, KeyError, KeyPair};
use crate::model::{Application, Keys};
use crate::plan::diff::comparable;
use crate::plan::{
    Action, Adopt, AdoptThen, Change, Create, IfFound, KeyChange, KnownKey, Lookup, LostCreate, NewKey, Plan,
    RotateKey, Step, Unmanaged, Update,
};
use crate::state::{Intent, KeyRecord, StateEntry, StateError, StateStore};

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

/// Hears about each step as it starts and ends (progress lines, a progress bar).
pub trait Progress: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, change: &Change, outcome: &Result<(), ActionError>, elapsed: Duration);
}

/// What can make one step fail.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The plan names a key pair the state does not hold (the state was changed behind the lock).
    #[error("the state no longer holds the key pair {fingerprint} that the plan uses")]
    KeyNotHeld { fingerprint: String },
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
    pub address: String,
    pub action: Action,
    pub result: Result<(), ActionError>,
}

/// Every step's outcome, in plan order.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
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

    pub fn succeeded(&self, action: Action) -> usize {
        self.outcomes.iter().filter(|o| o.action == action && o.result.is_ok()).count()
    }
}

pub struct Executor<'a, A: ApplicationApi> {
    pub api: &'a A,
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
}

impl<A: ApplicationApi> Executor<'_, A> {
    /// Carries out every step of `plan`, then records what the no-ops observed.
    pub async fn execute(&self, plan: &Plan) -> Report {
        let steps: Vec<&Change> = plan.actions().collect();
        let mut outcomes: Vec<(usize, Outcome)> = futures::stream::iter(steps.into_iter().enumerate())
            .map(|(i, change)| async move {
                let outcome = |result| Outcome { address: change.address.clone(), action: change.action(), result };
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
        let mut report = Report { outcomes: outcomes.into_iter().map(|(_, o)| o).collect() };
        if self.store.has_failed() {
            return report;
        }
        if let Err(e) = self.record_no_ops(plan).await {
            report.outcomes.push(Outcome { address: "(state)".into(), action: Action::NoOp, result: Err(e.into()) });
        }
        report
    }

    async fn run(&self, change: &Change) -> Result<(), ActionError> {
        match &change.step {
            Step::Create(create) | Step::Recreate { create, .. } => self.create(change, create).await,
            Step::Update(Update { id, body }) => self.update(change, id, body).await,
            Step::Adopt(adopt) => self.adopt(change, adopt).await,
            Step::RotateKey(rotate) => self.rotate(change, rotate).await,
            Step::Delete { id } => self.delete(change, id).await,
            Step::Forget { .. } => Ok(self.store.commit(|s| drop(s.applications.remove(&change.address))).await?),
            Step::Abandon { lost, if_found } => self.abandon(change, lost, *if_found).await,
            Step::NoOp { .. } => Ok(()),
        }
    }

    /// The pair a create or rotation sends, as the state records it, and its public PEM.
    async fn obtain_key(&self, address: &str, key: &NewKey) -> Result<(KeyRecord, String), ActionError> {
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

    async fn create(&self, change: &Change, create: &Create) -> Result<(), ActionError> {
        if let Some(lost) = &create.look_first {
            // An earlier create's process died with its request in flight: the request may land after
            // the plan listed the account. Give it a moment, then look again before sending anything.
            tokio::time::sleep(self.settle).await;
            if let Some(found) = self.find_lost(lost).await? {
                return self.record(change, &found).await;
            }
        }
        let (record, public_key) = self.obtain_key(&change.address, &create.key).await?;
        let fingerprint = record.fingerprint().unwrap_or_default().to_string();
        let mut body = create.body.clone();
        // The key is on disk before the request leaves: whatever happens next, it is not lost.
        let intent = Intent::Create { fingerprint: Some(fingerprint.clone()), name: Some(body.name.clone()) };
        let entry = StateEntry {
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
    async fn abandon(&self, change: &Change, lost: &LostCreate, if_found: IfFound) -> Result<(), ActionError> {
        tokio::time::sleep(self.settle).await;
        if let Some(found) = self.find_lost(lost).await? {
            return match if_found {
                IfFound::Delete => self.delete(change, found.id.as_deref().ok_or(ActionError::MissingId)?).await,
                IfFound::Keep => self.record(change, &found).await,
            };
        }
        self.store.commit(|s| drop(s.applications.remove(&change.address))).await?;
        Ok(())
    }

    /// Records the adopted application, then updates it when the plan says it differs.
    async fn adopt(&self, change: &Change, adopt: &Adopt) -> Result<(), ActionError> {
        let (id, observed) = (adopt.id.clone(), adopt.observed.clone());
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.id = Some(id);
                    entry.applied = Some(observed);
                    entry.protect = change.protect;
                    entry.intent = None;
                }
            })
            .await?;
        match &adopt.then {
            None => Ok(()),
            Some(AdoptThen::Update { body }) => self.update(change, &adopt.id, body).await,
            Some(AdoptThen::RotateKey { change: key_change, rotation }) => {
                let rotate = RotateKey { id: adopt.id.clone(), change: key_change.clone(), rotation: *rotation };
                self.rotate(change, &rotate).await
            }
        }
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
                            let fingerprint = pending.fingerprint().map(str::to_string);
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
                    entry.protect = change.protect;
                    entry.intent = None;
                    if applied.is_some() {
                        entry.applied = applied;
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
        let state = self.store.snapshot();
        match lost.find(&Unmanaged::new(&live, &state)) {
            Lookup::Found(app) => Ok(Some(app.clone())),
            Lookup::Missing => Ok(None),
            Lookup::Ambiguous(count) => Err(ActionError::AmbiguousCreate { count }),
        }
    }

    /// The pair with `fingerprint` that the state holds for `address` (its key, or a pending one).
    fn stored_pair(&self, address: &str, fingerprint: &str) -> Result<KeyPair, ActionError> {
        let state = self.store.snapshot();
        let entry = state.applications.get(address);
        let private_key = entry
            .and_then(|e| {
                e.key
                    .private_key_for(fingerprint)
                    .or_else(|| e.pending_key.as_ref().and_then(|k| k.private_key_for(fingerprint)))
            })
            .cloned()
            .ok_or_else(|| ActionError::KeyNotHeld { fingerprint: fingerprint.to_string() })?;
        let public_key = private_key.public_key_pem()?;
        Ok(KeyPair { private_key, public_key, fingerprint: fingerprint.to_string() })
    }

    async fn update(&self, change: &Change, id: &str, body: &Application) -> Result<(), ActionError> {
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
    async fn write_intent(&self, change: &Change, intent: fn(Option<String>) -> Intent) -> Result<(), ActionError> {
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.intent = Some(intent(entry.key.fingerprint().map(str::to_string)));
                }
            })
            .await?;
        Ok(())
    }

    /// Records a created or updated application as applied.
    async fn record(&self, change: &Change, live: &Application) -> Result<(), ActionError> {
        let id = live.id.clone().ok_or(ActionError::MissingId)?;
        let applied = comparable(live).map_err(decode_error)?;
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.id = Some(id);
                    entry.applied = Some(applied);
                    entry.protect = change.protect;
                    entry.intent = None;
                }
            })
            .await?;
        Ok(())
    }

    async fn delete(&self, change: &Change, id: &str) -> Result<(), ActionError> {
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

    /// Records the observed live form and the protect flag of every no-op whose entry differs, in one
    /// write; an interrupted call whose goal the account shows reached is no longer pending.
    async fn record_no_ops(&self, plan: &Plan) -> Result<(), StateError> {
        let state = self.store.snapshot();
        let stale: Vec<(&str, &serde_json::Value, bool)> = plan
            .changes
            .iter()
            .filter_map(|c| match &c.step {
                Step::NoOp { observed, .. } => Some((c.address.as_str(), observed, c.protect)),
                _ => None,
            })
            .filter(|(address, observed, protect)| {
                state.applications.get(*address).is_some_and(|e| {
                    e.applied.as_ref() != Some(*observed) || e.protect != *protect || e.intent.is_some()
                })
            })
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        self.store
            .commit(|s| {
                for (address, observed, protect) in stale {
                    if let Some(entry) = s.applications.get_mut(address) {
                        entry.applied = Some(observed.clone());
                        entry.protect = protect;
                        entry.intent = None;
                    }
                }
            })
            .await
    }
}

/// An application the API answered that cannot be put into comparable form.
fn decode_error(source: serde_json::Error) -> ActionError {
    ActionError::Record(source)
}

/// How long a list may lag behind a create, at the least, before vapp concludes it did not happen.
pub const SETTLE: Duration = Duration::from_secs(1);

/// As many key generations at once as there are cores.
fn keygen_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS
        .get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)))
}
