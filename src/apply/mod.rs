//! The executor: carries out a plan, action by action, recording each outcome in the state.
//!
//! It decides nothing the plan did not decide. Independent actions run concurrently (bounded by
//! `parallelism`); one failure does not stop the others; every completed action is on disk in the state
//! before it counts as done. A create writes its private key into the state before the POST leaves.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

use crate::api::retry::{create_certainly_failed, is_transient};
use crate::api::{ApiError, ApplicationApi, RetryPolicy};
use crate::keys::{self, KeyError, KeyPair};
use crate::model::{Application, Keys};
use crate::plan::diff::comparable;
use crate::plan::{Action, Change, KeyPlan, Plan};
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

/// Hears about each action as it starts and ends (progress lines, a progress bar).
pub trait Progress: Send + Sync {
    fn started(&self, change: &Change);
    fn finished(&self, change: &Change, outcome: &Result<(), ActionError>, elapsed: Duration);
}

/// What can make one action fail.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    State(#[from] StateError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error("{0}")]
    Plan(String),
    /// Not carried out: an interrupt asked that no new call start.
    #[error("not started: interrupted")]
    Interrupted,
}

/// Set by an interrupt: actions not yet started are skipped; calls in flight finish and are recorded.
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

/// How one action ended.
#[derive(Debug)]
pub struct Outcome {
    pub address: String,
    pub action: Action,
    pub result: Result<(), ActionError>,
}

/// Every action's outcome, in plan order.
#[derive(Debug, Default)]
pub struct Report {
    pub outcomes: Vec<Outcome>,
}

impl Report {
    /// Actions that were tried and failed (not those skipped because of an interrupt).
    pub fn failures(&self) -> impl Iterator<Item = &Outcome> {
        self.outcomes.iter().filter(|o| matches!(o.result, Err(ref e) if !matches!(e, ActionError::Interrupted)))
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
}

impl<A: ApplicationApi> Executor<'_, A> {
    /// Carries out every action of `plan`, then records what the no-ops observed.
    pub async fn execute(&self, plan: &Plan) -> Report {
        let actions: Vec<&Change> = plan.actions().collect();
        let mut outcomes: Vec<(usize, Outcome)> = futures::stream::iter(actions.into_iter().enumerate())
            .map(|(i, change)| async move {
                if self.cancel.is_cancelled() {
                    let outcome = Outcome {
                        address: change.address.clone(),
                        action: change.action,
                        result: Err(ActionError::Interrupted),
                    };
                    return (i, outcome);
                }
                self.progress.started(change);
                let started = Instant::now();
                let result = self.run(change).await;
                self.progress.finished(change, &result, started.elapsed());
                (i, Outcome { address: change.address.clone(), action: change.action, result })
            })
            .buffer_unordered(self.parallelism.max(1))
            .collect()
            .await;
        outcomes.sort_by_key(|(i, _)| *i);
        let mut report = Report { outcomes: outcomes.into_iter().map(|(_, o)| o).collect() };
        if let Err(e) = self.record_no_ops(plan).await {
            report.outcomes.push(Outcome { address: "(state)".into(), action: Action::NoOp, result: Err(e.into()) });
        }
        report
    }

    async fn run(&self, change: &Change) -> Result<(), ActionError> {
        match change.action {
            Action::Create | Action::Recreate => self.create(change).await,
            Action::Update => self.update(change, required_id(change)?).await,
            Action::Adopt => {
                let id = required_id(change)?.to_string();
                self.store
                    .commit(|s| {
                        if let Some(entry) = s.applications.get_mut(&change.address) {
                            entry.id = Some(id.clone());
                        }
                    })
                    .await?;
                if change.body.is_some() {
                    self.update(change, &id).await?;
                }
                Ok(())
            }
            Action::Delete => self.delete(change).await,
            Action::RotateKey => self.rotate(change).await,
            Action::NoOp => Ok(()),
        }
    }

    /// The key a create or rotation sends: a new pair, a pair the state holds, or the user's own key
    /// (already in the body). Returns the record for the state and the public PEM to send, if any.
    async fn obtain_key(&self, change: &Change) -> Result<(KeyRecord, Option<String>), ActionError> {
        let pair = match &change.key {
            Some(KeyPlan::External { fingerprint }) => {
                return Ok((KeyRecord::External { fingerprint: fingerprint.clone() }, None));
            }
            Some(KeyPlan::Reuse { fingerprint }) => self.stored_pair(&change.address, fingerprint)?,
            Some(KeyPlan::Generate) | None => {
                // One key at a time per core: keys then finish steadily, so each create's request goes
                // out while the next keys are being made, instead of all requests waiting for the last key.
                let _core = keygen_slots().acquire().await.map_err(|e| ActionError::Plan(e.to_string()))?;
                let source = self.keys.clone();
                tokio::task::spawn_blocking(move || source.generate())
                    .await
                    .map_err(|e| ActionError::Plan(format!("key generation stopped: {e}")))??
            }
        };
        let record = KeyRecord::Managed { fingerprint: pair.fingerprint, private_key: pair.private_key };
        Ok((record, Some(pair.public_key)))
    }

    async fn create(&self, change: &Change) -> Result<(), ActionError> {
        let body = change
            .body
            .as_ref()
            .ok_or_else(|| ActionError::Plan(format!("{}: create without a body", change.address)))?;
        // An earlier create with this key whose outcome is unknown (its process died with the request in
        // flight) may still land after the plan listed the account: give it a moment, then look again.
        let unresolved = self.store.snapshot().applications.get(&change.address).and_then(|e| {
            let intent = e.intent.as_ref().filter(|i| e.id.is_none() && i.action == "create")?;
            Some(intent.name.clone().unwrap_or_else(|| body.name.clone()))
        });
        let reused = match &change.key {
            Some(KeyPlan::Reuse { fingerprint } | KeyPlan::External { fingerprint }) => Some(fingerprint.clone()),
            _ => None,
        };
        if let (Some(sent_name), Some(fingerprint)) = (unresolved, reused) {
            tokio::time::sleep(SETTLE).await;
            if let Some(found) = self.find_created(&change.address, &sent_name, &fingerprint).await? {
                let id = found.id.clone().ok_or_else(|| ActionError::Plan("an application without an id".into()))?;
                return self.record(change, id, &found).await;
            }
        }
        let (record, public_key) = self.obtain_key(change).await?;
        let fingerprint = record.fingerprint().unwrap_or_default().to_string();
        // The key is on disk before the request leaves: whatever happens next, it is not lost.
        let intent =
            Intent { action: "create".into(), fingerprint: Some(fingerprint.clone()), name: Some(body.name.clone()) };
        let entry = StateEntry {
            key: record,
            protect: change.protect,
            rotation: change.rotation,
            intent: Some(intent),
            ..Default::default()
        };
        self.store.commit(|s| drop(s.applications.insert(change.address.clone(), entry))).await?;
        let mut body = body.clone();
        if let Some(public_key) = public_key {
            body.keys = Some(Keys { public_key: Some(public_key), ..Default::default() });
        }
        let created = self.create_exactly_once(&change.address, &body, &fingerprint).await?;
        let id =
            created.id.clone().ok_or_else(|| ActionError::Plan("the API answered a create without an id".into()))?;
        self.record(change, id, &created).await
    }

    /// Gives the application a new key: recorded as pending, sent, then made the key. At every moment
    /// the state holds a private key that matches what the API has.
    async fn rotate(&self, change: &Change) -> Result<(), ActionError> {
        let id = required_id(change)?.to_string();
        let (record, public_key) = self.obtain_key(change).await?;
        let mut updated = None;
        if change.api_call {
            let mut body = change
                .body
                .clone()
                .ok_or_else(|| ActionError::Plan(format!("{}: rotate-key without a body", change.address)))?;
            if let Some(public_key) = public_key {
                body.keys = Some(Keys { public_key: Some(public_key), ..Default::default() });
            }
            let pending = record.clone();
            self.store
                .commit(|s| {
                    if let Some(entry) = s.applications.get_mut(&change.address) {
                        entry.intent = Some(Intent {
                            action: "rotate-key".into(),
                            fingerprint: pending.fingerprint().map(str::to_string),
                            name: None,
                        });
                        entry.pending_key = Some(pending);
                    }
                })
                .await?;
            updated = Some(self.call_or_abandon(change, async { self.api.update(&id, &body).await }).await?);
        }
        let applied = updated.as_ref().map(comparable);
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.key = record;
                    entry.pending_key = None;
                    entry.rotation = change.rotation;
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
    /// is searched for the key before anything is sent again.
    async fn create_exactly_once(
        &self,
        address: &str,
        body: &Application,
        fingerprint: &str,
    ) -> Result<Application, ActionError> {
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
                if let Some(found) = self.find_created(address, &body.name, fingerprint).await? {
                    return Ok(found);
                }
                // Not listed yet. A list may lag behind a create, so look once more after a pause before
                // anything is sent again; if it is still missing, the create did not happen.
                let Some(delay) = delay else { return Err(error.into()) };
                tokio::time::sleep(delay.max(SETTLE)).await;
                if let Some(found) = self.find_created(address, &body.name, fingerprint).await? {
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

    /// The application a create for `address` made, if the account holds it: the same key and name,
    /// and not managed under another address.
    async fn find_created(
        &self,
        address: &str,
        name: &str,
        fingerprint: &str,
    ) -> Result<Option<Application>, ActionError> {
        let live = self.api.list_all().await?;
        let state = self.store.snapshot();
        Ok(live.into_iter().find(|app| {
            let managed_elsewhere = app.id.as_deref().and_then(|id| state.address_of(id)).is_some_and(|a| a != address);
            !managed_elsewhere
                && app.name == name
                && app.public_key().and_then(|pem| keys::fingerprint(pem).ok()).as_deref() == Some(fingerprint)
        }))
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
            .ok_or_else(|| ActionError::Plan(format!("{address}: the state no longer holds key {fingerprint}")))?;
        let public_key = private_key.public_key_pem()?;
        Ok(KeyPair { private_key, public_key, fingerprint: fingerprint.to_string() })
    }

    async fn update(&self, change: &Change, id: &str) -> Result<(), ActionError> {
        let body = change
            .body
            .as_ref()
            .ok_or_else(|| ActionError::Plan(format!("{}: update without a body", change.address)))?;
        self.write_intent(change, "update").await?;
        let updated = self.call_or_abandon(change, async { self.api.update(id, body).await }).await?;
        self.record(change, id.to_string(), &updated).await
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

    async fn write_intent(&self, change: &Change, action: &str) -> Result<(), ActionError> {
        let intent = Intent { action: action.to_string(), fingerprint: None, name: None };
        self.store
            .commit(|s| {
                if let Some(entry) = s.applications.get_mut(&change.address) {
                    entry.intent = Some(Intent { fingerprint: entry.key.fingerprint().map(str::to_string), ..intent });
                }
            })
            .await?;
        Ok(())
    }

    async fn record(&self, change: &Change, id: String, live: &Application) -> Result<(), ActionError> {
        let applied = comparable(live);
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

    async fn delete(&self, change: &Change) -> Result<(), ActionError> {
        if change.api_call {
            let id = required_id(change)?;
            self.write_intent(change, "delete").await?;
            match self.call_or_abandon(change, async { self.api.delete(id).await }).await {
                Ok(()) => {}
                // Gone already (deleted by an earlier, interrupted run): the goal is reached.
                Err(ActionError::Api(e)) if e.is_not_found() => {}
                Err(e) => return Err(e),
            }
        }
        self.store.commit(|s| drop(s.applications.remove(&change.address))).await?;
        Ok(())
    }

    /// Records the observed live form and the protect flag of every no-op whose entry differs, in one write.
    async fn record_no_ops(&self, plan: &Plan) -> Result<(), StateError> {
        let state = self.store.snapshot();
        let stale: Vec<&Change> = plan
            .changes
            .iter()
            .filter(|c| c.action == Action::NoOp)
            .filter(|c| {
                state.applications.get(&c.address).is_some_and(|e| e.applied != c.observed || e.protect != c.protect)
            })
            .collect();
        if stale.is_empty() {
            return Ok(());
        }
        self.store
            .commit(|s| {
                for change in stale {
                    if let Some(entry) = s.applications.get_mut(&change.address) {
                        if change.observed.is_some() {
                            entry.applied = change.observed.clone();
                        }
                        entry.protect = change.protect;
                    }
                }
            })
            .await
    }
}

/// How long a list may lag behind a create, at the least, before vapp concludes it did not happen.
const SETTLE: Duration = Duration::from_secs(1);

/// As many key generations at once as there are cores.
fn keygen_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS
        .get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)))
}

fn required_id(change: &Change) -> Result<&str, ActionError> {
    change.id.as_deref().ok_or_else(|| {
        ActionError::Plan(format!("{}: {} without an application id", change.address, change.action.as_str()))
    })
}
