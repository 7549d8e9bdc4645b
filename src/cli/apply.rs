//! `vapp apply` and `vapp destroy`: plan, show, confirm, execute, report. Destroying is applying an
//! empty manifest: the same planner, so protection and targets work the same.

use super::definitions::{ApplyArgs, ChangeArgs, DestroyArgs};
use std::sync::Arc;
use std::time::Duration;

use super::failure::{Context as _, Result};

use super::context::{Inputs, Keys, Manifests, Scope};
use super::{Context, Exit, StalePlanError};
use crate::api::RetryPolicy;
use crate::apply::{Cancel, KeysAhead, Outcome, Progress, Realize, StepResult};
use crate::humanise::chain;
use crate::model::{Address, AppId};
use crate::plan::render::render_human;
use crate::plan::saved::{self, SavedPlanError};
use crate::plan::{self, Action, Change, Goal, NumberChange, PlanningInput, Route, SavedPlan};

/// The pause between two number updates by default: the Numbers API's documented rate.
pub const NUMBERS_PACE: Duration = Duration::from_secs(1);

/// Which command runs: the words it uses, and what it plans from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Verb {
    Apply,
    Destroy,
}

impl Verb {
    /// As the lock, the question and the progress bar name it.
    fn name(self) -> &'static str {
        match self {
            Verb::Apply => "apply",
            Verb::Destroy => "destroy",
        }
    }

    /// The first word of the closing line.
    fn title(self) -> &'static str {
        match self {
            Verb::Apply => "Apply",
            Verb::Destroy => "Destroy",
        }
    }
}

/// Where the actions come from.
enum Source {
    /// Plan now from the manifests (none, for destroy), for these targets (all when empty).
    Manifests { manifests: Manifests, targets: Vec<Address> },
    /// A plan saved earlier; applied only if nothing it depends on moved.
    Saved(Box<SavedPlan>),
}

pub async fn run_apply(context: &Context, args: ApplyArgs) -> Result<Exit> {
    let Some(path) = &args.plan_file else {
        let source = Source::Manifests { manifests: Manifests::Read, targets: args.change.targets.clone() };
        return execute(context, Verb::Apply, source, &args.change).await;
    };
    let text = crate::fsutil::read_bounded(path, saved::MAX_PLAN_BYTES, "a saved plan")
        .with_context(|| format!("cannot read the plan {}", path.display()))?;
    let passphrase = context.passphrase()?;
    let saved = match SavedPlan::open(&text, passphrase.as_ref().map(|p| p.as_str())) {
        Ok(saved) => saved,
        Err(e @ SavedPlanError::OtherVersion { .. }) => return Err(StalePlanError::OtherVersion(e).into()),
        Err(e) => return Err(super::failure::Failure::from(e).context(format!("cannot apply {}", path.display()))),
    };
    // A saved plan was reviewed when it was made: it is applied without asking.
    let change = ChangeArgs { auto_approve: true, ..args.change };
    execute(context, Verb::Apply, Source::Saved(Box::new(saved)), &change).await
}

pub async fn run_destroy(context: &Context, args: DestroyArgs) -> Result<Exit> {
    // Destroy plans against no application. It signs in to each account as the manifests declare it
    // when there are manifests to read, and from the state alone otherwise (subaccounts in custody,
    // the sandbox).
    let accounts = context.manifests().map(|desired| desired.accounts).unwrap_or_default();
    let nothing = crate::manifest::Desired { accounts, ..Default::default() };
    let source =
        Source::Manifests { manifests: Manifests::Given(Box::new(nothing)), targets: args.change.targets.clone() };
    execute(context, Verb::Destroy, source, &args.change).await
}

async fn execute(context: &Context, verb: Verb, source: Source, args: &ChangeArgs) -> Result<Exit> {
    // The lock covers reading the state too: a plan made from a state another writer is changing is stale.
    context.with_state_lock(verb.name(), args.lock_timeout, execute_locked(context, verb, source, args)).await
}

/// Plan (or take the saved plan), show, confirm, [`realize`](crate::apply::realize), report.
async fn execute_locked(context: &Context, verb: Verb, source: Source, args: &ChangeArgs) -> Result<Exit> {
    let printer = &context.printer;
    // A policy that does not read fails before anything is read from the account.
    let policies = super::policy::load(&args.policy)?;
    let goal = match verb {
        Verb::Apply => Goal::Apply,
        Verb::Destroy => Goal::Destroy,
    };
    // Key pairs take most of a first apply: start making the likely ones while the accounts are read.
    let mut keys = None;
    let (manifests, saved) = match source {
        Source::Manifests { manifests, targets } => (manifests, Err(targets)),
        Source::Saved(saved) => (saved_inputs(&saved)?, Ok(saved)),
    };
    let scope = Scope { goal, only: &args.accounts };
    let Inputs { desired, mut loaded, worlds, subaccounts, directory, only, connection: _connection, .. } = context
        .gather(manifests, Keys::Readable, scope, |desired, state| {
            let expected = match &saved {
                Err(targets) => plan::keys_expected(desired, state, targets),
                Ok(saved) => saved.plan.keys_to_generate(),
            };
            keys = Some(KeysAhead::start(expected));
        })
        .await?;
    let state = loaded.as_ref().map(|l| &l.state);
    let mut saved_manifests = None;
    let plan = match saved {
        Err(targets) => {
            let input = PlanningInput {
                desired: &desired,
                state,
                worlds: &worlds,
                subaccounts: &subaccounts,
                targets: &targets,
                only: &only,
                goal,
            };
            plan::plan_all(&input)?
        }
        Ok(mut saved) => {
            saved_manifests = Some(std::mem::take(&mut saved.manifests));
            // Every account as the plan saw it: applications by id, numbers by msisdn.
            let everywhere: Vec<crate::model::Listed> = worlds.iter().flat_map(|w| w.live().iter().cloned()).collect();
            let numbers = plan::numbers_everywhere(&worlds, &saved.plan.transfers);
            if let Some(reason) = saved.staleness(state, &everywhere, &numbers) {
                return Err(StalePlanError::Moved(reason).into());
            }
            saved.plan
        }
    };
    plan.check_max_deletes(args.max_deletes)?;
    // The policies see the manifests as they were when the plan was made: a saved plan keeps them.
    let verdict = match &policies {
        Some(policies) => {
            let manifests = saved_manifests.unwrap_or_else(|| super::policy::manifests_of(&desired));
            Some(super::policy::verdict(policies, &plan, manifests, desired.accounts.values())?)
        }
        None => None,
    };
    let mut shown = render_human(&plan, printer.human_style());
    if let Some(verdict) = &verdict {
        shown.push_str(&crate::policy::render_human(verdict));
    }
    printer.data(&shown);
    printer.plan_warnings(&plan);
    if let Some(verdict) = &verdict {
        super::policy::enforce(verdict, true)?;
    }
    if plan.has_changes() && !args.auto_approve {
        context.confirm(&format!("\nDo you want to {}? vapp will perform the actions above.", verb.name()))?;
    }
    // Recorded with the first change written: states of earlier versions, and a move that
    // --allow-other-account allowed. Only a run that signed in to `default` knows it.
    if worlds.first().is_some_and(|w| w.account.is_default()) {
        if let (Some(loaded), Ok(account)) = (loaded.as_mut(), context.account()) {
            loaded.state.account = Some(account);
        }
    }
    let store = context.store(loaded).await?;
    if context.settings.state.is_remote() && store.read(|s| s.encryption.is_none()) && plan.has_changes() {
        printer.warn(&format!(
            "the private keys and subaccount secrets are kept in plain text in {}; set VAPP_STATE_PASSPHRASE (or --passphrase-file) to encrypt them there",
            store.location()
        ));
    }
    let steps = plan.actions().filter(|c| !matches!(c.step, plan::Step::NoOp { .. })).count();
    let number_updates: usize = plan.changes.iter().map(|c| c.numbers.len()).sum();
    let account_steps = plan.accounts.len() + plan.transfers.len();
    // Both are let go however the run ends: the bar cleared, the interrupt watcher stopped.
    let bar = BarGuard(printer.bar((steps + number_updates + account_steps) as u64, verb.name()));
    let progress = LineProgress { printer: *printer, bar: bar.0.as_ref() };
    let cancel = Arc::new(Cancel::default());
    let _watching = InterruptGuard(tokio::spawn(super::interrupt::cancel_on_interrupt(
        super::interrupt::Interrupts::listen()?,
        cancel.clone(),
        *printer,
    )));
    let in_play: Vec<plan::AccountName> = worlds.iter().map(|w| w.account.clone()).collect();
    let realize = Realize {
        plan: &plan,
        directory: &directory,
        store: &store,
        keys: Arc::new(keys.unwrap_or_else(|| KeysAhead::start(0))),
        parallelism: usize::from(args.parallelism),
        // The sandbox is this machine's emulator, which sets no rate.
        pace: args.numbers_pace.unwrap_or(if context.settings.sandbox { Duration::ZERO } else { NUMBERS_PACE }),
        progress: &progress,
        cancel: &cancel,
        retry: RetryPolicy::default(),
        settle: crate::apply::SETTLE,
        // Each existing account is bound to its API key with the first change, as `default` is.
        bindings: store.read(|state| directory.unbound(state, &in_play)),
    };
    let realized = crate::apply::realize(&realize).await;
    drop(bar);
    let report = match realized {
        Ok(report) => report,
        Err((stopped, report)) => {
            for failure in account_failures(&report) {
                printer.error(&failure);
            }
            let error = super::failure::Failure::msg(stopped.to_string());
            return Err(error.context("no application was changed; run the same command again to go on"));
        }
    };
    if cancel.is_cancelled() {
        printer.error(&format!(
            "interrupted: {} action{} not started; everything that completed is in the state. Run the same command again to finish.",
            report.interrupted(),
            plural(report.interrupted())
        ));
        for failure in report.failures() {
            print_failure(printer, failure);
        }
        return Ok(Exit::Interrupted);
    }
    let failures: Vec<_> = report.failures().collect();
    let account_failures = account_failures(&report);
    if report.not_started() > 0 {
        printer.error(&format!(
            "the state could not be written, so {} action{} did not start; everything that completed is in the state",
            report.not_started(),
            plural(report.not_started())
        ));
    }
    if let Some(error) = &report.recording {
        printer.error(&format!("cannot record what the plan observed: {}", chain(error)));
    }
    let failed = !failures.is_empty() || !account_failures.is_empty() || report.recording.is_some();
    if !plan.has_changes() {
        return Ok(if failed { state_failure_exit(printer, &report) } else { Exit::Success });
    }
    let mut text = format!(
        "\n{} {}: {}",
        verb.title(),
        if failed { "incomplete" } else { "complete" },
        counts(verb, &report, &plan, number_updates > 0)
    );
    if !failures.is_empty() || !account_failures.is_empty() {
        text.push_str(&format!("; {} failed", failures.len() + account_failures.len()));
    }
    text.push_str(".\n");
    text.push_str(&created_ids(&report));
    printer.data(&text);
    if !failed {
        return Ok(Exit::Success);
    }
    for failure in &failures {
        print_failure(printer, failure);
    }
    for failure in &account_failures {
        printer.error(failure);
    }
    printer.status("The state records everything that completed; run the same command again to finish.");
    Ok(state_failure_exit(printer, &report))
}

/// What a saved plan needs read: its accounts' declarations (it signs in to each as the manifests
/// declared it then), the accounts it changes, and the applications it imports.
fn saved_inputs(saved: &SavedPlan) -> Result<Manifests> {
    let mut accounts = indexmap::IndexMap::new();
    for account in &saved.accounts {
        let Some(declared) = account.declared(std::path::Path::new("the saved plan")) else {
            return Err(super::failure::Failure::msg(format!(
                "the saved plan's declaration of account {} is damaged: make the plan again",
                account.name
            )));
        };
        accounts.insert(account.name.clone(), declared);
    }
    let desired = crate::manifest::Desired { accounts, ..Default::default() };
    let imports = saved
        .plan
        .changes
        .iter()
        .filter_map(|c| match &c.step {
            plan::Step::Import(import) => Some((c.account.clone(), import.id.clone())),
            _ => None,
        })
        .collect();
    let needs = super::context::SavedNeeds { accounts: saved.accounts_in_play(), imports };
    Ok(Manifests::Saved(Box::new(desired), needs))
}

/// The accounts' and transfers' failures, a line each (those not started because an earlier stage
/// did not complete are said once by the closing line).
fn account_failures(report: &crate::apply::Report) -> Vec<String> {
    let accounts = report.accounts.iter().filter_map(|o| {
        let e = o.result.as_ref().err()?;
        Some(format!("account {} ({}): {}", o.change.account, o.change.step.action(), chain(e)))
    });
    let transfers = report.transfers.iter().filter_map(|o| {
        let e = o.result.as_ref().err()?;
        Some(format!("number {}: {}", o.transfer.number, chain(e)))
    });
    accounts.chain(transfers).collect()
}

/// The progress bar, cleared however the run ends.
struct BarGuard(Option<indicatif::ProgressBar>);

impl Drop for BarGuard {
    fn drop(&mut self) {
        if let Some(bar) = &self.0 {
            bar.finish_and_clear();
        }
    }
}

/// The interrupt watcher, stopped however the run ends.
struct InterruptGuard(tokio::task::JoinHandle<()>);

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// How a run whose state writes failed ends: a lock lost to another holder midway exits 3, as a lock
/// held from the start does, with the state error's help said once. The exit code of a report's failures, found in each one's causes (a lock lost inside an account's
/// step is as much a lost lock as one inside an action's), and the help of the first state error.
fn state_failure_exit(printer: &super::Printer, report: &crate::apply::Report) -> Exit {
    type Cause<'a> = &'a (dyn std::error::Error + 'static);
    let actions = report.failures().filter_map(|o| o.result.as_ref().err()).map(|e| e as Cause<'_>);
    let accounts = report.accounts.iter().filter_map(|o| o.result.as_ref().err()).map(|e| e as Cause<'_>);
    let transfers = report.transfers.iter().filter_map(|o| o.result.as_ref().err()).map(|e| e as Cause<'_>);
    let recording = report.recording.iter().map(|e| e as Cause<'_>);
    let mut exit = Exit::Failure;
    let mut helped = false;
    for error in actions.chain(accounts).chain(transfers).chain(recording) {
        // An action's state error is transparent (its `source()` is the state error's own cause).
        let state_error = std::iter::successors(Some(error), |e| e.source()).find_map(|e| {
            match e.downcast_ref::<crate::apply::ActionError>() {
                Some(crate::apply::ActionError::State(state)) => Some(state),
                _ => e.downcast_ref::<crate::state::StateError>(),
            }
        });
        if let (Some(help), false) = (state_error.and_then(|e| e.help()), helped) {
            printer.status(&format!("  = help: {help}"));
            helped = true;
        }
        if super::failure::exit_of(error) == Exit::Locked {
            exit = Exit::Locked;
        }
    }
    exit
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// What the run did, in words: destroy only deletes and unlinks, so it says that, not "0 created".
fn counts(verb: Verb, report: &crate::apply::Report, plan: &plan::Plan, numbers: bool) -> String {
    let created = report.succeeded(Action::Create) + report.succeeded(Action::Recreate);
    // An import that also brought the application to its manifest (a rename, a new key) updated it too.
    let imported_and_updated = report
        .outcomes
        .iter()
        .filter(|o| o.number.is_none() && o.action == Action::Import && o.result.is_ok())
        .filter(|o| {
            plan.changes
                .iter()
                .any(|c| c.address == o.address && matches!(&c.step, plan::Step::Import(i) if i.then.is_some()))
        })
        .count();
    let updated = report.succeeded(Action::Update)
        + report.succeeded(Action::Adopt)
        + report.succeeded(Action::RotateKey)
        + imported_and_updated;
    let deleted = report.succeeded(Action::Delete);
    let (linked, unlinked) = (report.numbers_routed(false), report.numbers_routed(true));
    match verb {
        Verb::Destroy => {
            let mut words = format!("{deleted} application{} deleted", plural(deleted));
            if numbers {
                words.push_str(&format!(", {unlinked} number{} unlinked", plural(unlinked)));
            }
            words.push_str(&accounts_done(report));
            words
        }
        Verb::Apply => {
            let mut words = format!("{created} created, {updated} updated, {deleted} deleted");
            for (action, done) in [(Action::Move, "moved"), (Action::Import, "imported"), (Action::Forget, "forgotten")]
            {
                let count = report.succeeded(action);
                if count > 0 {
                    words.push_str(&format!(", {count} {done}"));
                }
            }
            if numbers {
                words.push_str(&format!("; numbers: {linked} linked, {unlinked} unlinked"));
            }
            words.push_str(&accounts_done(report));
            words
        }
    }
}

/// What the run did to accounts and with transfers, in words (nothing when it did none).
fn accounts_done(report: &crate::apply::Report) -> String {
    use crate::apply::accounts::AccountDone;
    let count =
        |done: fn(&AccountDone) -> bool| report.accounts.iter().filter(|o| o.result.as_ref().is_ok_and(done)).count();
    let moved = |reason: plan::TransferReason| {
        report.transfers.iter().filter(|o| o.result.is_ok() && o.transfer.reason == reason).count()
    };
    let parts: Vec<String> = [
        (count(|d| matches!(d, AccountDone::Created { .. } | AccountDone::Found { .. })), "account", "made"),
        (count(|d| matches!(d, AccountDone::Updated)), "account", "updated"),
        (count(|d| matches!(d, AccountDone::Resumed)), "account", "resumed"),
        (moved(plan::TransferReason::Listed), "number", "transferred"),
        (moved(plan::TransferReason::Returned), "number", "returned to the primary"),
        (count(|d| matches!(d, AccountDone::Suspended)), "account", "suspended"),
    ]
    .into_iter()
    .filter(|(n, ..)| *n > 0)
    .map(|(n, what, done)| format!("{n} {what}{} {done}", plural(n)))
    .collect();
    match parts.is_empty() {
        true => String::new(),
        false => format!("; {}", parts.join(", ")),
    }
}

/// The applications this run created, with their ids, in aligned columns.
fn created_ids(report: &crate::apply::Report) -> String {
    let created: Vec<(&Address, &AppId)> = report
        .outcomes
        .iter()
        .filter(|o| o.number.is_none() && matches!(o.action, Action::Create | Action::Recreate))
        .filter_map(|o| Some((&o.address, o.result.as_ref().ok()?.as_ref()?)))
        .collect();
    if created.is_empty() {
        return String::new();
    }
    let width = created.iter().map(|(address, _)| address.as_str().chars().count()).max().unwrap_or(0);
    let mut out = String::from("\nCreated:\n");
    for (address, id) in created {
        out.push_str(&format!("  {:<width$}  {id}\n", address.as_str()));
    }
    out
}

fn print_failure(printer: &super::Printer, failure: &Outcome) {
    if let Err(e) = &failure.result {
        let what = match &failure.number {
            Some(number) => format!("number {}", number.msisdn),
            None => failure.action.as_str().to_string(),
        };
        printer.error(&format!("{} ({what}): {}", failure.address, chain(e)));
    }
}

/// What a number update does, in words.
fn routing(number: &NumberChange) -> String {
    match (&number.route, number.from.id()) {
        (Route::Nowhere, _) => format!("number {} unlinked", number.msisdn),
        (_, Some(from)) => format!("number {} moved here from {from}", number.msisdn),
        (_, None) => format!("number {} linked", number.msisdn),
    }
}

/// One stderr line as each action starts and ends; on a terminal, a bar whose label says what runs now
/// and a line per finished action.
struct LineProgress<'a> {
    printer: super::Printer,
    bar: Option<&'a indicatif::ProgressBar>,
}

impl LineProgress<'_> {
    fn starting(&self, line: String) {
        match self.bar {
            Some(bar) => bar.set_message(line),
            None => self.printer.status(&line),
        }
    }

    fn finished_line(&self, line: String) {
        match self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
                // Nothing runs until the next step starts: a stale label would say otherwise.
                bar.set_message("");
            }
            None => self.printer.status(&line),
        }
    }
}

impl Progress for LineProgress<'_> {
    fn started(&self, change: &Change) {
        self.starting(format!("{}: {}…", change.address, change.action().words().doing));
    }

    fn finished(&self, change: &Change, outcome: &StepResult, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let action = change.action();
        let line = match outcome {
            Ok(id) => {
                let id = match (action, id) {
                    (Action::Create | Action::Recreate, Some(id)) => format!(" {id}"),
                    _ => String::new(),
                };
                format!("{}: {}{id} [{secs:.1}s]", change.address, action.words().done)
            }
            // Stopped before its call left: nothing failed, and the next run carries it out.
            Err(crate::apply::ActionError::Interrupted) => {
                format!("{}: {} not sent (interrupted)", change.address, action.as_str())
            }
            Err(e) => {
                let first_line = chain(e).lines().next().unwrap_or_default().to_string();
                format!("{}: {} failed after {secs:.1}s: {first_line}", change.address, action.as_str())
            }
        };
        self.finished_line(line);
    }

    fn number_started(&self, change: &Change, number: &NumberChange) {
        let doing = if number.route == Route::Nowhere { "unlinking" } else { "linking" };
        self.starting(format!("{}: {doing} number {}…", change.address, number.msisdn));
    }

    fn account_finished(&self, change: &plan::AccountChange, outcome: &crate::apply::accounts::AccountResult) {
        use crate::apply::accounts::AccountDone;
        let line = match outcome {
            Ok(AccountDone::Created { api_key }) => format!("account {}: created ({api_key})", change.account),
            Ok(AccountDone::Found { api_key }) => format!(
                "account {}: found ({api_key}): an earlier create had landed, so it was not made again",
                change.account
            ),
            Ok(AccountDone::Updated) => format!("account {}: updated", change.account),
            Ok(AccountDone::Resumed) => format!("account {}: resumed", change.account),
            Ok(AccountDone::Suspended) => format!("account {}: suspended", change.account),
            Err(e) => {
                let first_line = chain(e).lines().next().unwrap_or_default().to_string();
                format!("account {}: {} failed: {first_line}", change.account, change.step.action())
            }
        };
        self.finished_line(line);
    }

    fn transfer_finished(&self, transfer: &plan::Transfer, outcome: &Result<(), crate::apply::accounts::AccountError>) {
        let done = match transfer.reason {
            plan::TransferReason::Listed => "transferred",
            plan::TransferReason::Returned => "returned",
        };
        let line = match outcome {
            Ok(()) => {
                format!("number {}: {done} from account {} to account {}", transfer.number, transfer.from, transfer.to)
            }
            Err(e) => {
                let first_line = chain(e).lines().next().unwrap_or_default().to_string();
                format!("number {}: transfer failed: {first_line}", transfer.number)
            }
        };
        self.finished_line(line);
    }

    fn number_finished(&self, change: &Change, number: &NumberChange, outcome: &Result<(), crate::apply::ActionError>) {
        let line = match outcome {
            Ok(()) => format!("{}: {}", change.address, routing(number)),
            Err(e) => {
                let first_line = chain(e).lines().next().unwrap_or_default().to_string();
                format!("{}: number {} failed: {first_line}", change.address, number.msisdn)
            }
        };
        self.finished_line(line);
    }
}
