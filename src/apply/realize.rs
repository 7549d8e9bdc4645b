//! The one owner of an apply's order: [`realize`] carries out a whole plan, over every account, in
//! the named stages of an apply (docs/ARCHITECTURE.md), as omicron's `realize_blueprint` does. It decides nothing the plan
//! did not: which account is made, resumed or suspended, which number moves where and which
//! application changes are the planner's. What it adds is only the order, and the guards that keep a
//! failure from stranding anything:
//!
//! 1. [`Stage::Accounts`]: subaccounts made, changed or resumed (the first failure stops the run:
//!    nothing inside an account is touched before the account is as the plan needs it);
//! 2. [`Stage::NumbersIn`]: numbers transferred to the account that now lists them (likewise);
//! 3. [`Stage::OldHalves`]: the old half of each move between accounts (the state holds one record
//!    per address: it must leave before the new application takes it);
//! 4. [`Stage::Applications`]: creates, imports, moves, updates and key rotations, with their number
//!    links;
//! 5. [`Stage::Removals`]: unlinks, then deletes and forgets;
//! 6. [`Stage::NumbersReturned`]: numbers still owned by a subaccount being suspended, back to its
//!    primary — only once everything of that account in stages 3 to 5 succeeded;
//! 7. [`Stage::Suspensions`]: last, and only for an account whose every change and return succeeded
//!    and where the state holds nothing any more.
//!
//! Every step is recorded in the state as it completes, so a run killed or failed at any stage is
//! finished by running the same command again (a crash point, `VAPP_CRASH_AT=realize:<stage>`, ends
//! the process after each stage for the tests that prove it). Accounts are changed side by side
//! within a stage, their calls bounded together by `parallelism`; so are the accounts made.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;

use super::accounts::{self, AccountError, AccountOutcome, Side, TransferOutcome};
use super::{record_observed, ActionError, Cancel, Executor, KeySource, Outcome, Progress, Report, Routes};
use crate::accounts::Directory;
use crate::api::numbers::Paced;
use crate::api::{Client, RetryPolicy};
use crate::model::AccountName;
use crate::plan::{AccountStep, Change, Plan, TransferReason};
use crate::state::StateStore;

/// A stage of an apply, in the order they run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Accounts,
    NumbersIn,
    OldHalves,
    Applications,
    Removals,
    NumbersReturned,
    Suspensions,
}

impl Stage {
    pub const ALL: [Stage; 7] = [
        Stage::Accounts,
        Stage::NumbersIn,
        Stage::OldHalves,
        Stage::Applications,
        Stage::Removals,
        Stage::NumbersReturned,
        Stage::Suspensions,
    ];

    /// As crash points and messages name it.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Accounts => "accounts",
            Stage::NumbersIn => "numbers-in",
            Stage::OldHalves => "old-halves",
            Stage::Applications => "applications",
            Stage::Removals => "removals",
            Stage::NumbersReturned => "numbers-returned",
            Stage::Suspensions => "suspensions",
        }
    }
}

/// Everything carrying out a plan needs.
pub struct Realize<'a> {
    pub plan: &'a Plan,
    /// How to sign in to each account (a subaccount made in stage 1 is signed in to with the secret the
    /// state then holds).
    pub directory: &'a Directory,
    pub store: &'a StateStore,
    pub keys: Arc<dyn KeySource>,
    /// Calls in flight at once, across every account.
    pub parallelism: usize,
    /// The pause between two number updates of one account.
    pub pace: Duration,
    pub progress: &'a dyn Progress,
    pub cancel: &'a Cancel,
    pub retry: RetryPolicy,
    pub settle: Duration,
    /// Existing accounts to bind to their API keys before anything changes (as `default` is bound).
    pub bindings: Vec<(AccountName, crate::model::ApiKey)>,
}

/// What stopped a run before any application was changed.
#[derive(Debug, thiserror::Error)]
pub enum Stopped {
    #[error("cannot bind the accounts to their API keys in the state")]
    Binding(#[source] crate::state::StateError),
    #[error("an account could not be made or resumed")]
    Accounts,
    #[error("a number could not be transferred")]
    NumbersIn,
}

/// One account's clients for a run: the Application API, and the Numbers API paced as that account's
/// limit asks.
struct Signed {
    account: AccountName,
    clients: Result<(Client, Paced<Client>), AccountError>,
}

/// Carries out `r.plan` stage by stage (see the module's doc). `Err` only when a stage before any
/// application's stopped the run; every other failure is an outcome in the report.
pub async fn realize(r: &Realize<'_>) -> Result<Report, (Stopped, Report)> {
    let mut report = Report::default();
    let plan = r.plan;
    if !r.bindings.is_empty() && plan.has_changes() {
        let bound = r
            .store
            .commit(|state| {
                for (account, api_key) in &r.bindings {
                    let record = state
                        .accounts
                        .entry(account.clone())
                        .or_insert(crate::state::AccountRecord { api_key: None, subaccount: None });
                    record.api_key = Some(api_key.clone());
                }
            })
            .await;
        if let Err(e) = bound {
            return Err((Stopped::Binding(e), report));
        }
    }

    // 1. Accounts made, changed or resumed.
    let made = plan.accounts.iter().filter(|c| !matches!(c.step, AccountStep::Suspend { .. }));
    report.accounts.extend(r.accounts(made).await);
    crate::crash::point("realize:accounts");
    if report.accounts.iter().any(|o| o.result.is_err()) {
        return Err((Stopped::Accounts, report));
    }

    // 2. Numbers transferred in. Intents of earlier runs are settled: the plan was made from the
    // accounts as they are now.
    if r.store.read(|s| !s.transfers_pending.is_empty()) && plan.has_changes() {
        if let Err(e) = r.store.commit(|s| s.transfers_pending.clear()).await {
            return Err((Stopped::Binding(e), report));
        }
    }
    let listed = plan.transfers.iter().filter(|t| t.reason == TransferReason::Listed);
    report.transfers.extend(r.transfers(listed).await);
    crate::crash::point("realize:numbers-in");
    if report.transfers.iter().any(|o| o.result.is_err()) {
        return Err((Stopped::NumbersIn, report));
    }

    // Each account signed in once for the application stages (after stage 1 made or resumed them).
    let mut accounts: Vec<&AccountName> = Vec::new();
    for change in &plan.changes {
        if !accounts.contains(&&change.account) {
            accounts.push(&change.account);
        }
    }
    let signed: Vec<Signed> = accounts.iter().map(|account| r.sign_in(account)).collect();
    let slots = tokio::sync::Semaphore::new(r.parallelism.max(1));
    let moving_out = |c: &Change| crate::plan::moving_out(plan, c);

    // 3. The old halves of moves between accounts, whole (unlinks, then the delete or forget).
    let old = r.each_account(&signed, &slots, &report.outcomes, |c| moving_out(c), Phase::Whole).await;
    report.outcomes.extend(old);
    crate::crash::point("realize:old-halves");
    // 4. Everything else but removals, with the number links.
    let applied = r.each_account(&signed, &slots, &report.outcomes, |c| !moving_out(c), Phase::Applications).await;
    report.outcomes.extend(applied);
    crate::crash::point("realize:applications");
    // 5. Unlinks, then removals.
    let removed = r.each_account(&signed, &slots, &report.outcomes, |c| !moving_out(c), Phase::Removals).await;
    report.outcomes.extend(removed);
    crate::crash::point("realize:removals");

    // 6. and 7.: only for an account whose every change succeeded.
    let clean = |account: &AccountName| {
        let addresses: Vec<&crate::model::Address> =
            plan.changes.iter().filter(|c| &c.account == account).map(|c| &c.address).collect();
        !report.outcomes.iter().any(|o| addresses.contains(&&o.address) && o.result.is_err())
            && !r.cancel.is_cancelled()
            && !r.store.has_failed()
    };
    let mut returns = Vec::new();
    for transfer in plan.transfers.iter().filter(|t| t.reason == TransferReason::Returned) {
        match clean(&transfer.from) {
            true => returns.extend(r.transfers(std::iter::once(transfer)).await),
            false => returns.push(not_started(transfer, "the account's applications are not all taken out of it")),
        }
    }
    crate::crash::point("realize:numbers-returned");
    let returned_all = |account: &AccountName| {
        !returns.iter().any(|o: &TransferOutcome| &o.transfer.from == account && o.result.is_err())
    };
    let mut suspensions = Vec::new();
    for change in plan.accounts.iter().filter(|c| matches!(c.step, AccountStep::Suspend { .. })) {
        let account = &change.account;
        // A guard, not a decision: the plan suspends an account it empties, and the state says
        // whether it was emptied.
        let holds = r.store.read(|s| s.applications.values().any(|e| &e.account_name() == account));
        let result = match (clean(account) && returned_all(account), holds) {
            (true, false) => None,
            (false, _) => Some(AccountError::NotStarted { why: "the account is not empty yet" }),
            (true, true) => Some(AccountError::NotStarted { why: "the state still holds applications in it" }),
        };
        match result {
            None => suspensions.extend(r.accounts(std::iter::once(change)).await),
            Some(error) => {
                let outcome = AccountOutcome { change: change.clone(), result: Err(error) };
                r.progress.account_finished(change, &outcome.result);
                suspensions.push(outcome);
            }
        }
    }
    crate::crash::point("realize:suspensions");
    report.transfers.extend(returns);
    report.accounts.extend(suspensions);

    if !r.store.has_failed() {
        let changes: Vec<&Change> = plan.changes.iter().collect();
        report.recording = record_observed(r.store, &changes).await.err();
    }
    Ok(report)
}

/// Which part of an account's changes a stage carries out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Steps, every number, removals.
    Whole,
    /// Steps and links.
    Applications,
    /// Unlinks and removals.
    Removals,
}

fn not_started(transfer: &crate::plan::Transfer, why: &'static str) -> TransferOutcome {
    TransferOutcome { transfer: transfer.clone(), result: Err(AccountError::NotStarted { why }) }
}

impl Realize<'_> {
    /// The primary's client, for the Subaccounts API.
    fn primary(&self, account: &AccountName) -> Result<Client, AccountError> {
        self.directory
            .primary(account)
            .map_err(|source| AccountError::SignIn { account: account.to_string(), source: Box::new(source) })
    }

    /// `account`'s clients, signed in as the state says now.
    fn sign_in(&self, account: &AccountName) -> Signed {
        let clients = self
            .store
            .read(|state| self.directory.credentials(account, Some(state)))
            .map_err(|source| AccountError::SignIn { account: account.to_string(), source: Box::new(source) })
            .and_then(|found| found.ok_or_else(|| AccountError::NotMade { account: account.to_string() }))
            .map(|(credentials, _)| {
                let (apps, numbers) = self.directory.clients(&credentials);
                (apps, Paced::new(numbers, self.pace))
            });
        Signed { account: account.clone(), clients }
    }

    /// Carries out account changes side by side (each is a call to the primary), `parallelism` at
    /// once; none starts after one failed.
    async fn accounts<'c>(&self, changes: impl Iterator<Item = &'c crate::plan::AccountChange>) -> Vec<AccountOutcome> {
        let failed = std::sync::atomic::AtomicBool::new(false);
        let failed = &failed;
        futures::stream::iter(changes)
            .map(|change| async move {
                let result = match (self.cancel.is_cancelled(), failed.load(std::sync::atomic::Ordering::SeqCst)) {
                    (true, _) => Err(AccountError::NotStarted { why: "interrupted" }),
                    (_, true) => Err(AccountError::NotStarted { why: "another account's change failed" }),
                    _ => match self.primary(&change.account) {
                        Err(e) => Err(e),
                        Ok(primary) => accounts::execute_one(&primary, self.store, change).await,
                    },
                };
                if result.is_err() {
                    failed.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                self.progress.account_finished(change, &result);
                AccountOutcome { change: change.clone(), result }
            })
            .buffered(self.parallelism.max(1))
            .collect()
            .await
    }

    /// Carries out transfers one after another, each with the two accounts' Numbers APIs asked first.
    async fn transfers<'t>(&self, transfers: impl Iterator<Item = &'t crate::plan::Transfer>) -> Vec<TransferOutcome> {
        let mut outcomes = Vec::new();
        for transfer in transfers {
            let result = match self.cancel.is_cancelled() {
                true => Err(AccountError::NotStarted { why: "interrupted" }),
                false => self.transfer(transfer).await,
            };
            self.progress.transfer_finished(transfer, &result);
            let failed = result.is_err();
            outcomes.push(TransferOutcome { transfer: transfer.clone(), result });
            if failed {
                break;
            }
        }
        outcomes
    }

    async fn transfer(&self, transfer: &crate::plan::Transfer) -> Result<(), AccountError> {
        let primary = self.primary(&transfer.to)?;
        let from = self.sign_in(&transfer.from).clients?;
        let to = self.sign_in(&transfer.to).clients?;
        let from = Side { account: &transfer.from, api_key: from.0.api_key(), numbers: &from.0 };
        let to = Side { account: &transfer.to, api_key: to.0.api_key(), numbers: &to.0 };
        accounts::transfer(&primary, from, to, self.store, transfer).await
    }

    /// One stage's part of every account's changes (those `select` keeps), the accounts side by side.
    async fn each_account(
        &self,
        signed: &[Signed],
        slots: &tokio::sync::Semaphore,
        earlier: &[Outcome],
        select: impl Fn(&Change) -> bool,
        phase: Phase,
    ) -> Vec<Outcome> {
        let runs = signed.iter().map(|Signed { account, clients }| {
            let changes: Vec<&Change> =
                self.plan.changes.iter().filter(|c| &c.account == account && select(c)).collect();
            async move {
                if changes.is_empty() {
                    return Vec::new();
                }
                let (api, numbers) = match clients {
                    Ok(clients) => clients,
                    Err(e) => return changes.iter().map(|c| signed_out(c, e)).collect(),
                };
                let executor = Executor {
                    api,
                    numbers,
                    store: self.store,
                    keys: self.keys.clone(),
                    parallelism: self.parallelism,
                    progress: self.progress,
                    cancel: self.cancel,
                    retry: self.retry,
                    settle: self.settle,
                    slots: Some(slots),
                };
                match phase {
                    Phase::Whole => {
                        let mut outcomes = executor.apply_steps(&changes).await;
                        let routed = executor.route(&changes, Routes::All, &outcomes).await;
                        outcomes.extend(routed);
                        outcomes.extend(executor.remove(&changes).await);
                        outcomes
                    }
                    Phase::Applications => {
                        let mut outcomes = executor.apply_steps(&changes).await;
                        let routed = executor.route(&changes, Routes::Links, &outcomes).await;
                        outcomes.extend(routed);
                        outcomes
                    }
                    Phase::Removals => {
                        let mut outcomes = executor.route(&changes, Routes::Unlinks, earlier).await;
                        outcomes.extend(executor.remove(&changes).await);
                        outcomes
                    }
                }
            }
        });
        futures::stream::iter(runs).buffered(crate::accounts::ACCOUNTS_AT_ONCE).concat().await
    }
}

/// The outcome of a change in an account this run could not sign in to.
fn signed_out(change: &Change, error: &AccountError) -> Outcome {
    Outcome {
        address: change.address.clone(),
        action: change.action(),
        number: None,
        result: Err(ActionError::SignIn(crate::humanise::chain(error))),
    }
}
