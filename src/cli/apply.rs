//! `vapp apply` and `vapp destroy`: plan, show, confirm, execute, report. Destroying is applying an
//! empty manifest: the same planner, so protection and targets work the same.

use std::sync::Arc;
use std::time::Duration;

use super::failure::{Context as _, Result};
use clap::Args;

use super::context::{Inputs, Keys, Manifests};
use super::{Context, Exit, StalePlanError};
use crate::api::numbers::Paced;
use crate::api::RetryPolicy;
use crate::apply::{Cancel, Executor, KeysAhead, Outcome, Progress, StepResult};
use crate::humanise::chain;
use crate::model::{Address, AppId};
use crate::plan::render::render_human;
use crate::plan::saved::{self, SavedPlanError};
use crate::plan::{self, Action, Change, NumberChange, Route, SavedPlan};

/// What `apply` and `destroy` share.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many actions run at once (1..=256)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR", value_parser = super::args::address)]
    pub targets: Vec<Address>,
    /// Only this account's applications and changes: `default` or a declared name (repeatable)
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// Fail before changing anything when the plan would delete more than N applications
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<usize>,
    /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h); fail at once by default
    #[arg(long, value_parser = super::args::duration_at_most(super::args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: Duration,
    /// The pause between two number updates, at most 60s [default: 1s, the Numbers API's documented
    /// rate; none against --sandbox]
    #[arg(long, value_parser = super::args::duration_at_most(super::args::MAX_NUMBERS_PACE), value_name = "DURATION")]
    pub numbers_pace: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `vapp plan -o FILE`: apply exactly its actions (no confirmation), or exit 4 if
    /// the state or the account changed since it was made
    #[arg(value_name = "PLANFILE", conflicts_with = "targets")]
    pub plan_file: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
}

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
    let saved = match SavedPlan::from_slice(&text) {
        Ok(saved) => saved,
        Err(e @ SavedPlanError::OtherVersion { .. }) => return Err(StalePlanError::OtherVersion(e).into()),
        Err(e) => return Err(super::failure::Failure::from(e).context(format!("cannot apply {}", path.display()))),
    };
    // A saved plan was reviewed when it was made: it is applied without asking.
    let change = ChangeArgs { auto_approve: true, ..args.change };
    execute(context, Verb::Apply, Source::Saved(Box::new(saved)), &change).await
}

pub async fn run_destroy(context: &Context, args: DestroyArgs) -> Result<Exit> {
    // Destroy plans against no application, but signs in to each account as the manifests declare it
    // (when there are manifests to read).
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

async fn execute_locked(context: &Context, verb: Verb, source: Source, args: &ChangeArgs) -> Result<Exit> {
    let printer = &context.printer;
    // Key pairs take most of a first apply: start making the likely ones while the account is read.
    let mut keys = None;
    let (manifests, saved) = match source {
        Source::Manifests { manifests, targets } => (manifests, Err(targets)),
        Source::Saved(saved) => {
            // A plan over several accounts signs in to each as the manifests declared it then.
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
            (Manifests::Saved(Box::new(desired), needs), Ok(saved))
        }
    };
    let Inputs { desired, mut loaded, live, numbers, others, subaccounts, connection, .. } = context
        .gather(manifests, Keys::Readable, |desired, state| {
            let expected = match &saved {
                Err(targets) => plan::keys_expected(desired, state, targets),
                Ok(saved) => saved.plan.keys_to_generate(),
            };
            keys = Some(KeysAhead::start(expected));
        })
        .await?;
    let state = loaded.as_ref().map(|l| &l.state);
    let spans = super::worlds::spans_accounts(&desired, state)
        || saved.as_ref().is_ok_and(|s| !s.accounts_in_play().is_empty());
    let saved_accounts = saved.as_ref().map(|s| s.accounts_in_play()).unwrap_or_default();
    let plan = match saved {
        Err(targets) => {
            let mut plan = super::plan::plan_accounts_or_one(&desired, state, &live, &numbers, &others, &targets)?;
            match verb {
                Verb::Apply => plan.accounts = plan::plan_accounts(&desired, state, &subaccounts),
                // Destroying everything suspends the subaccounts vapp made (Vonage cannot delete
                // one), after their applications are gone.
                Verb::Destroy if targets.is_empty() => {
                    plan.accounts = plan::plan_accounts(&crate::manifest::Desired::default(), state, &subaccounts)
                }
                Verb::Destroy => {}
            }
            super::plan::limit_to_accounts(&mut plan, &super::plan::accounts_named(&args.accounts, &desired, state)?)?;
            plan
        }
        Ok(saved) => {
            let stale = match spans {
                false => saved.staleness(state, &live, &numbers),
                true => {
                    // Every account as the plan saw it: applications by id, numbers by msisdn.
                    let everywhere = super::plan::listed_everywhere(&live, &others);
                    let worlds = super::plan::account_worlds(&live, &numbers, &others);
                    let numbers = plan::numbers_everywhere(&worlds, &saved.plan.transfers);
                    saved.staleness(state, &everywhere, &numbers)
                }
            };
            if let Some(reason) = stale {
                return Err(StalePlanError::Moved(reason).into());
            }
            saved.plan
        }
    };
    plan.check_max_deletes(args.max_deletes)?;
    printer.data(&render_human(&plan, printer.human_style()));
    printer.plan_warnings(&plan);
    if plan.has_changes() && !args.auto_approve {
        context.confirm(&format!("\nDo you want to {}? vapp will perform the actions above.", verb.name()))?;
    }
    // Recorded with the first change written: states of earlier versions, and a move that
    // --allow-other-account allowed.
    if let Some(loaded) = loaded.as_mut() {
        loaded.state.account = Some(context.account()?);
    }
    let store = context.store(loaded).await?;
    if context.settings.state.is_remote() && store.read(|s| s.encryption.is_none()) && plan.has_changes() {
        printer.warn(&format!(
            "the private keys are kept in plain text in {}; set VAPP_STATE_PASSPHRASE (or --passphrase-file) to encrypt them there",
            store.location()
        ));
    }
    let steps = plan.actions().filter(|c| !matches!(c.step, plan::Step::NoOp { .. })).count();
    let number_updates: usize = plan.changes.iter().map(|c| c.numbers.len()).sum();
    let bar = printer.bar((steps + number_updates) as u64, verb.name());
    let progress = LineProgress { printer: *printer, bar: bar.as_ref() };
    let cancel = Arc::new(Cancel::default());
    let interrupts = super::interrupt::Interrupts::listen()?;
    let watching = tokio::spawn(super::interrupt::cancel_on_interrupt(interrupts, cancel.clone(), *printer));
    // The sandbox is this machine's emulator, which sets no rate.
    let pace = args.numbers_pace.unwrap_or(if context.settings.sandbox { Duration::ZERO } else { NUMBERS_PACE });
    let keys = Arc::new(keys.unwrap_or_else(|| KeysAhead::start(0)));
    // Each existing account is bound to its API key with the first change, as `default` is.
    let unbound = store.read(|state| super::worlds::unbound(&desired, state, &saved_accounts));
    if !unbound.is_empty() && plan.has_changes() {
        let bound = store
            .commit(|state| {
                for (account, api_key) in unbound {
                    let record = state
                        .accounts
                        .entry(account)
                        .or_insert(crate::state::AccountRecord { api_key: None, subaccount: None });
                    record.api_key = Some(api_key);
                }
            })
            .await;
        if let Err(e) = bound {
            watching.abort();
            return Err(e.into());
        }
    }
    // The accounts first: an application needs its account to exist.
    let told = |change: &plan::AccountChange, done: &crate::apply::accounts::AccountDone| {
        let what = match done {
            crate::apply::accounts::AccountDone::Created { api_key } => format!("created ({api_key})"),
            crate::apply::accounts::AccountDone::Found { api_key } => {
                format!("found ({api_key}): an earlier create had landed, so it was not made again")
            }
            crate::apply::accounts::AccountDone::Updated => "updated".to_string(),
            crate::apply::accounts::AccountDone::Suspended => "suspended".to_string(),
        };
        printer.status(&format!("account {}: {what}", change.account));
    };
    let (accounts_first, accounts_last) = match verb {
        Verb::Destroy => (&[][..], &plan.accounts[..]),
        Verb::Apply => (&plan.accounts[..], &[][..]),
    };
    if let Err(e) = crate::apply::accounts::execute_accounts(&connection.client, &store, accounts_first, told).await {
        watching.abort();
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        return Err(
            super::failure::Failure::from(e).context("no application was changed; run the same command again to go on")
        );
    }
    if let Err(e) = transfer_numbers(context, &connection, &desired, &store, &plan.transfers).await {
        watching.abort();
        if let Some(bar) = &bar {
            bar.finish_and_clear();
        }
        return Err(e.context("no application was changed; run the same command again to go on"));
    }
    // Each account's changes with its own clients, one account after another (the default first,
    // the old halves of moves between accounts before everything); the numbers pace is per account,
    // as each account's Numbers API limit is.
    let rounds: Vec<(plan::AccountName, Option<plan::Plan>)> = match spans {
        false => vec![(plan::AccountName::default_account(), None)],
        true => plan::apply_rounds(&plan).into_iter().map(|(account, part)| (account, Some(part))).collect(),
    };
    let mut report = crate::apply::Report { outcomes: Vec::new(), recording: None };
    for (account, part) in rounds {
        let (api, numbers_api) = match account.is_default() {
            true => (connection.client.clone(), connection.numbers.clone()),
            false => {
                let credentials = store
                    .read(|state| super::worlds::credentials(&desired, Some(state), &account, &context.settings))?
                    .ok_or_else(|| super::failure::Failure::msg(format!("account {account} is not made yet")))?;
                super::worlds::clients(&connection.client, &connection.numbers, &credentials)
            }
        };
        let numbers = Paced::new(&numbers_api, pace);
        let executor = Executor {
            api: &api,
            numbers: &numbers,
            store: &store,
            keys: keys.clone(),
            parallelism: usize::from(args.parallelism),
            progress: &progress,
            cancel: &cancel,
            retry: RetryPolicy::default(),
            settle: crate::apply::SETTLE,
        };
        let done = executor.execute(part.as_ref().unwrap_or(&plan)).await;
        report.outcomes.extend(done.outcomes);
        report.recording = report.recording.or(done.recording);
        if cancel.is_cancelled() || store.has_failed() {
            break;
        }
    }
    watching.abort();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
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
    // Subaccounts are suspended once everything in them is deleted.
    if !accounts_last.is_empty() && report.failures().next().is_none() && report.not_started() == 0 {
        // A subaccount that still holds an application vapp keeps (a protected one) stays in use.
        let (emptied, kept): (Vec<plan::AccountChange>, Vec<plan::AccountChange>) = accounts_last
            .iter()
            .cloned()
            .partition(|change| store.read(|s| !s.applications.values().any(|e| e.account_name() == change.account)));
        for change in &kept {
            printer.warn(&format!(
                "account {} still holds applications vapp keeps (protected ones): it is not suspended",
                change.account
            ));
        }
        if let Err(e) = crate::apply::accounts::execute_accounts(&connection.client, &store, &emptied, told).await {
            return Err(super::failure::Failure::from(e)
                .context("the applications are deleted; run the same command again to suspend the subaccounts"));
        }
    }
    let failures: Vec<_> = report.failures().collect();
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
    let failed = !failures.is_empty() || report.recording.is_some();
    if !plan.has_changes() {
        return Ok(if failed { state_failure_exit(printer, &report) } else { Exit::Success });
    }
    let mut text = format!(
        "\n{} {}: {}",
        verb.title(),
        if failures.is_empty() { "complete" } else { "incomplete" },
        counts(verb, &report, number_updates > 0)
    );
    if !failures.is_empty() {
        text.push_str(&format!("; {} failed", failures.len()));
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
    printer.status("The state records everything that completed; run the same command again to finish.");
    Ok(state_failure_exit(printer, &report))
}

/// Moves numbers between accounts as the plan says, each recorded as an intent before its call and
/// cleared once answered. A transfer whose answer was lost stays recorded; the next plan starts from
/// which account owns the number then (the accounts' listings), so nothing is transferred twice.
async fn transfer_numbers(
    context: &Context,
    connection: &super::context::Connection,
    desired: &crate::manifest::Desired,
    store: &crate::state::StateStore,
    transfers: &[plan::Transfer],
) -> Result<()> {
    use crate::api::SubaccountsApi as _;
    // Intents of earlier runs are settled: the plan was made from the accounts as they are now.
    if store.read(|s| !s.transfers_pending.is_empty()) {
        store.commit(|s| s.transfers_pending.clear()).await?;
    }
    for transfer in transfers {
        let key_of = |account: &plan::AccountName| -> Result<String> {
            if account.is_default() {
                return Ok(connection.client.api_key().to_string());
            }
            let credentials =
                store.read(|state| super::worlds::credentials(desired, Some(state), account, &context.settings))?;
            credentials
                .map(|c| c.api_key)
                .ok_or_else(|| super::failure::Failure::msg(format!("account {account} is not made yet")))
        };
        let call = crate::api::NumberTransfer {
            from: key_of(&transfer.from)?,
            to: key_of(&transfer.to)?,
            number: transfer.number.clone(),
            country: transfer.country.clone(),
        };
        let pending = crate::state::PendingTransfer { from: transfer.from.clone(), to: transfer.to.clone() };
        store.commit(|s| drop(s.transfers_pending.insert(transfer.number.clone(), pending))).await?;
        crate::crash::point("transfer:intended");
        connection.client.transfer_number(&call).await.with_context(|| {
            format!(
                "cannot transfer number {} from account {} to account {}",
                transfer.number, transfer.from, transfer.to
            )
        })?;
        crate::crash::point("transfer:answered");
        store.commit(|s| drop(s.transfers_pending.remove(&transfer.number))).await?;
        context.printer.status(&format!(
            "number {}: transferred from account {} to account {}",
            transfer.number, transfer.from, transfer.to
        ));
    }
    Ok(())
}

/// How a run whose state writes failed ends: a lock lost to another holder midway exits 3, as a lock
/// held from the start does, with the state error's help said once.
fn state_failure_exit(printer: &super::Printer, report: &crate::apply::Report) -> Exit {
    use super::failure::Diagnose;
    let state_errors = report
        .failures()
        .filter_map(|o| match &o.result {
            Err(crate::apply::ActionError::State(e)) => Some(e),
            _ => None,
        })
        .chain(report.recording.iter());
    let mut exit = Exit::Failure;
    let mut helped = false;
    for error in state_errors {
        if let (Some(help), false) = (Diagnose::help(error), helped) {
            printer.status(&format!("  = help: {help}"));
            helped = true;
        }
        if error.exit() == Exit::Locked {
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
fn counts(verb: Verb, report: &crate::apply::Report, numbers: bool) -> String {
    let created = report.succeeded(Action::Create) + report.succeeded(Action::Recreate);
    let updated =
        report.succeeded(Action::Update) + report.succeeded(Action::Adopt) + report.succeeded(Action::RotateKey);
    let deleted = report.succeeded(Action::Delete);
    let (linked, unlinked) = (report.numbers_routed(false), report.numbers_routed(true));
    match verb {
        Verb::Destroy => {
            let mut words = format!("{deleted} application{} deleted", plural(deleted));
            if numbers {
                words.push_str(&format!(", {unlinked} number{} unlinked", plural(unlinked)));
            }
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
            words
        }
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
