//! `vapp apply` and `vapp destroy`: plan, show, confirm, execute, report.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, Result};
use clap::Args;

use super::{Context, Exit, StalePlanError};
use crate::api::numbers::Paced;
use crate::api::RetryPolicy;
use crate::apply::{ActionError, Cancel, Executor, KeysAhead, Outcome, Progress};
use crate::humanise::chain;
use crate::manifest::Desired;
use crate::plan::render::render_human;
use crate::plan::saved::{self, SavedPlanError};
use crate::plan::{self, Action, Change, NumberChange, PlanInput, Route, SavedPlan};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `vapp plan -o FILE`: apply exactly its actions (no confirmation), or exit 4 if
    /// the state or the account changed since it was made
    #[arg(value_name = "PLANFILE")]
    pub plan_file: Option<std::path::PathBuf>,
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many actions run at once (1..=256)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Apply only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR", conflicts_with = "plan_file", value_parser = super::args::address)]
    pub targets: Vec<crate::model::Address>,
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
pub struct DestroyArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many deletes run at once (1..=256)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Destroy only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR", value_parser = super::args::address)]
    pub targets: Vec<crate::model::Address>,
    /// Fail before changing anything when more than N applications would be deleted
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

/// The pause between two number updates by default: the Numbers API's documented rate.
pub const NUMBERS_PACE: Duration = Duration::from_secs(1);

/// Where the actions come from.
enum Source<'a> {
    /// Plan now from these manifests, for these targets (all when empty).
    Manifests { desired: &'a Desired, targets: &'a [crate::model::Address] },
    /// A plan saved earlier; applied only if nothing it depends on moved.
    Saved(SavedPlan),
}

/// What apply and destroy share.
struct Run<'a> {
    source: Source<'a>,
    max_deletes: Option<usize>,
    auto_approve: bool,
    parallelism: u16,
    lock_timeout: Duration,
    numbers_pace: Option<Duration>,
    verb: &'static str,
}

pub async fn run_apply(context: &Context, args: ApplyArgs) -> Result<Exit> {
    if let Some(path) = &args.plan_file {
        let text = crate::fsutil::read_bounded(path, saved::MAX_PLAN_BYTES, "a saved plan")
            .with_context(|| format!("cannot read the plan {}", path.display()))?;
        let saved = match SavedPlan::from_slice(&text) {
            Ok(saved) => saved,
            Err(e @ SavedPlanError::OtherVersion { .. }) => return Err(StalePlanError::OtherVersion(e).into()),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot apply {}", path.display()))),
        };
        let run = Run {
            source: Source::Saved(saved),
            max_deletes: args.max_deletes,
            auto_approve: true,
            parallelism: args.parallelism,
            lock_timeout: args.lock_timeout,
            numbers_pace: args.numbers_pace,
            verb: "apply",
        };
        return execute(context, run).await;
    }
    let desired = context.manifests()?;
    let run = Run {
        source: Source::Manifests { desired: &desired, targets: &args.targets },
        max_deletes: args.max_deletes,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        lock_timeout: args.lock_timeout,
        numbers_pace: args.numbers_pace,
        verb: "apply",
    };
    execute(context, run).await
}

pub async fn run_destroy(context: &Context, args: DestroyArgs) -> Result<Exit> {
    // Destroying is applying an empty manifest: protected applications stay, unmanaged ones are never seen.
    let run = Run {
        source: Source::Manifests { desired: &Desired::default(), targets: &args.targets },
        max_deletes: args.max_deletes,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        lock_timeout: args.lock_timeout,
        numbers_pace: args.numbers_pace,
        verb: "destroy",
    };
    execute(context, run).await
}

async fn execute(context: &Context, run: Run<'_>) -> Result<Exit> {
    // The lock covers reading the state too: a plan made from a state another writer is changing is stale.
    let lock = context.lock_state(run.verb, run.lock_timeout).await?;
    let result = execute_locked(context, run).await;
    lock.release().await;
    result
}

async fn execute_locked(context: &Context, run: Run<'_>) -> Result<Exit> {
    let printer = &context.printer;
    let verb = run.verb;
    let mut loaded = context.load_state_with_keys().await?;
    let state = loaded.as_ref().map(|l| &l.state);
    context.check_account(state)?;
    // Key pairs take most of a first apply: start making the likely ones while the account is read.
    let expected = match &run.source {
        Source::Manifests { desired, targets } => plan::keys_expected(desired, state, targets),
        Source::Saved(saved) => saved.plan.keys_to_generate(),
    };
    let keys = Arc::new(KeysAhead::start(expected));
    let connection = context.connect().await?;
    let (live, numbers) = context.list_account(&connection).await?;
    let plan = match run.source {
        Source::Manifests { desired, targets } => {
            plan::plan(&PlanInput { desired, state, live: &live, targets, numbers: &numbers })?
        }
        Source::Saved(saved) => {
            if let Some(reason) = saved.staleness(state, &live, &numbers) {
                return Err(StalePlanError::Moved(reason).into());
            }
            saved.plan
        }
    };
    plan.check_max_deletes(run.max_deletes)?;
    printer.data(&render_human(&plan, printer.human_style()));
    printer.plan_warnings(&plan);
    if plan.has_changes() && !run.auto_approve {
        context.confirm(&format!("\nDo you want to {verb}? vapp will perform the actions above."))?;
    }
    // Recorded with the first change written: states of earlier versions, and a move that
    // --allow-other-account allowed.
    if let Some(loaded) = loaded.as_mut() {
        loaded.state.account = Some(context.account());
    }
    let store = context.store(loaded).await?;
    if crate::state::backend::is_url(&context.global.state)
        && store.snapshot().encryption.is_none()
        && plan.has_changes()
    {
        printer.warn(&format!(
            "the private keys are kept in plain text in {}; set VAPP_STATE_PASSPHRASE (or --passphrase-file) to encrypt them there",
            store.location()
        ));
    }
    let steps = plan.actions().filter(|c| !matches!(c.step, plan::Step::NoOp { .. })).count();
    let number_updates: usize = plan.changes.iter().map(|c| c.numbers.len()).sum();
    let bar = printer.bar((steps + number_updates) as u64, verb);
    let progress = LineProgress { context, bar: bar.as_ref(), store: &store };
    let cancel = Arc::new(Cancel::default());
    let interrupts = tokio::spawn(watch_interrupts(super::emulator::Interrupts::listen()?, cancel.clone(), *printer));
    // The sandbox is this machine's emulator, which sets no rate.
    let pace = run.numbers_pace.unwrap_or(if context.global.sandbox { Duration::ZERO } else { NUMBERS_PACE });
    let numbers = Paced::new(&connection.numbers, pace);
    let executor = Executor {
        api: &connection.client,
        numbers: &numbers,
        store: &store,
        keys,
        parallelism: usize::from(run.parallelism),
        progress: &progress,
        cancel: &cancel,
        retry: RetryPolicy::default(),
        settle: crate::apply::SETTLE,
    };
    let report = executor.execute(&plan).await;
    interrupts.abort();
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    if cancel.is_cancelled() {
        printer.error(&format!(
            "interrupted: {} action{} not started; everything that completed is in the state. Run the same command again to finish.",
            report.interrupted(),
            if report.interrupted() == 1 { "" } else { "s" }
        ));
        for failure in report.failures() {
            print_failure(printer, failure);
        }
        return Ok(Exit::Interrupted);
    }
    let failures: Vec<_> = report.failures().collect();
    if report.not_started() > 0 {
        printer.error(&format!(
            "the state could not be written, so {} action{} did not start; everything that completed is in the state",
            report.not_started(),
            if report.not_started() == 1 { "" } else { "s" }
        ));
    }
    if !plan.has_changes() {
        return Ok(if failures.is_empty() { Exit::Success } else { Exit::Failure });
    }
    let created = report.succeeded(Action::Create) + report.succeeded(Action::Recreate);
    let updated =
        report.succeeded(Action::Update) + report.succeeded(Action::Adopt) + report.succeeded(Action::RotateKey);
    let deleted = report.succeeded(Action::Delete);
    let (linked, unlinked) = (report.numbers_routed(false), report.numbers_routed(true));
    let counts = if verb == "destroy" {
        // Destroy only deletes and unlinks: say that, not "0 created, 0 updated".
        let mut words = format!("{deleted} application{} deleted", plural(deleted));
        if number_updates > 0 {
            words.push_str(&format!(", {unlinked} number{} unlinked", plural(unlinked)));
        }
        words
    } else {
        let mut words = format!("{created} created, {updated} updated, {deleted} deleted");
        if number_updates > 0 {
            words.push_str(&format!("; numbers: {linked} linked, {unlinked} unlinked"));
        }
        words
    };
    let word = if verb == "destroy" { "Destroy" } else { "Apply" };
    let mut text = if failures.is_empty() {
        format!("\n{word} complete: {counts}.\n")
    } else {
        format!("\n{word} incomplete: {counts}; {} failed.\n", failures.len())
    };
    text.push_str(&created_ids(&plan, &report, &store.snapshot()));
    printer.data(&text);
    if failures.is_empty() {
        return Ok(Exit::Success);
    }
    for failure in &failures {
        print_failure(printer, failure);
    }
    printer.status("The state records everything that completed; run the same command again to finish.");
    Ok(Exit::Failure)
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The applications this apply created, with their ids, in aligned columns.
fn created_ids(plan: &plan::Plan, report: &crate::apply::Report, state: &crate::state::State) -> String {
    let created: Vec<(&str, &str)> = report
        .outcomes
        .iter()
        .filter(|o| o.number.is_none() && o.result.is_ok() && matches!(o.action, Action::Create | Action::Recreate))
        .filter_map(|o| {
            let id = state.applications.get(&o.address)?.id.as_ref()?.as_str();
            Some((o.address.as_str(), id))
        })
        .collect();
    if created.is_empty() || plan.changes.is_empty() {
        return String::new();
    }
    let width = created.iter().map(|(address, _)| address.chars().count()).max().unwrap_or(0);
    let mut out = String::from("\nCreated:\n");
    for (address, id) in created {
        out.push_str(&format!("  {address:<width$}  {id}\n"));
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

/// The first Ctrl-C (or SIGTERM) stops new calls from starting; a second one exits at once (the state
/// is consistent at every moment, so nothing is lost either way).
async fn watch_interrupts(mut interrupts: super::emulator::Interrupts, cancel: Arc<Cancel>, printer: super::Printer) {
    interrupts.next().await;
    cancel.cancel();
    printer.warn("interrupted: no new calls start; waiting for the calls in flight (interrupt again to stop at once)");
    interrupts.next().await;
    std::process::exit(Exit::Interrupted as i32);
}

/// One stderr line as each action starts and ends; on a terminal, a bar with a line per finished action.
struct LineProgress<'a> {
    context: &'a Context,
    bar: Option<&'a indicatif::ProgressBar>,
    /// Where a created application's id is found, to name it.
    store: &'a crate::state::StateStore,
}

fn doing(action: Action) -> &'static str {
    match action {
        Action::Create => "creating",
        Action::Recreate => "creating again",
        Action::Update => "updating",
        Action::Delete => "deleting",
        Action::Adopt => "adopting",
        Action::RotateKey => "rotating key",
        Action::NoOp => "checking",
    }
}

fn done(action: Action) -> &'static str {
    match action {
        Action::Create | Action::Recreate => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::Adopt => "adopted",
        Action::RotateKey => "rotated",
        Action::NoOp => "unchanged",
    }
}

impl Progress for LineProgress<'_> {
    fn started(&self, change: &Change) {
        let line = format!("{}: {}…", change.address, doing(change.action()));
        match self.bar {
            Some(bar) => bar.set_message(line),
            None => self.context.printer.status(&line),
        }
    }

    fn finished(&self, change: &Change, outcome: &Result<(), ActionError>, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let line = match outcome {
            Ok(()) => {
                let created = matches!(change.action(), Action::Create | Action::Recreate);
                let id = created
                    .then(|| self.store.snapshot().applications.get(&change.address).and_then(|e| e.id.clone()))
                    .flatten()
                    .map(|id| format!(" {id}"))
                    .unwrap_or_default();
                format!("{}: {}{id} [{secs:.1}s]", change.address, done(change.action()))
            }
            Err(e) => {
                let first_line = chain(e).lines().next().unwrap_or_default().to_string();
                format!("{}: {} failed after {secs:.1}s: {first_line}", change.address, change.action().as_str())
            }
        };
        match self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => self.context.printer.status(&line),
        }
    }

    fn number_finished(&self, change: &Change, number: &NumberChange, outcome: &Result<(), ActionError>) {
        let line = match outcome {
            Ok(()) => format!("{}: {}", change.address, routing(number)),
            Err(e) => {
                let first_line = chain(e).lines().next().unwrap_or_default().to_string();
                format!("{}: number {} failed: {first_line}", change.address, number.msisdn)
            }
        };
        match self.bar {
            Some(bar) => {
                bar.println(line);
                bar.inc(1);
            }
            None => self.context.printer.status(&line),
        }
    }
}
