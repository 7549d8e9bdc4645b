//! `vapp apply` and `vapp destroy`: plan, show, confirm, execute, report.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::{Context, Exit};
use crate::api::RetryPolicy;
use crate::apply::{ActionError, Cancel, Executor, Progress, RsaKeys};
use crate::manifest::Desired;
use crate::plan::render::render_human;
use crate::plan::{self, Action, Change, PlanInput};
use crate::state::{State, StateStore};

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many actions run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// Apply only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Wait this long for another vapp holding the state lock (e.g. 30s); fail at once by default
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    /// How many deletes run at once
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
    /// Destroy only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Wait this long for another vapp holding the state lock (e.g. 30s); fail at once by default
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: Duration,
}

/// What apply and destroy share.
struct Run<'a> {
    desired: &'a Desired,
    targets: &'a [String],
    auto_approve: bool,
    parallelism: u16,
    lock_timeout: Duration,
    verb: &'static str,
}

pub async fn run_apply(context: &Context, args: ApplyArgs) -> Result<Exit> {
    let desired = context.manifests()?;
    let run = Run {
        desired: &desired,
        targets: &args.targets,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        lock_timeout: args.lock_timeout,
        verb: "apply",
    };
    execute(context, run).await
}

pub async fn run_destroy(context: &Context, args: DestroyArgs) -> Result<Exit> {
    // Destroying is applying an empty manifest: protected applications stay, unmanaged ones are never seen.
    let run = Run {
        desired: &Desired::default(),
        targets: &args.targets,
        auto_approve: args.auto_approve,
        parallelism: args.parallelism,
        lock_timeout: args.lock_timeout,
        verb: "destroy",
    };
    execute(context, run).await
}

async fn execute(context: &Context, run: Run<'_>) -> Result<Exit> {
    let printer = &context.printer;
    let verb = run.verb;
    // The lock covers reading the state too: a plan made from a state another writer is changing is stale.
    let _lock = context.lock_state(verb, run.lock_timeout)?;
    let state = context.load_state()?;
    let connection = context.connect().await?;
    let live = context.list_live(&connection).await?;
    let plan =
        plan::plan(&PlanInput { desired: run.desired, state: state.as_ref(), live: &live, targets: run.targets });
    printer.data(&render_human(&plan, printer.stdout_color));
    if plan.has_changes() && !run.auto_approve {
        context.confirm(&format!("\nDo you want to {verb}? vapp will perform the actions above."))?;
    }
    let state = state.unwrap_or_else(|| State::new(uuid::Uuid::new_v4().to_string()));
    let store = StateStore::new(context.state_path().to_path_buf(), state);
    let progress = LineProgress { context };
    let cancel = Arc::new(Cancel::default());
    let interrupts = tokio::spawn(watch_interrupts(cancel.clone(), *printer));
    let executor = Executor {
        api: &connection.client,
        store: &store,
        keys: Arc::new(RsaKeys),
        parallelism: usize::from(run.parallelism),
        progress: &progress,
        cancel: &cancel,
        retry: RetryPolicy::default(),
    };
    let report = executor.execute(&plan).await;
    interrupts.abort();
    if cancel.is_cancelled() {
        printer.error(&format!(
            "interrupted: {} action{} not started; everything that completed is in the state. Run the same command again to finish.",
            report.interrupted(),
            if report.interrupted() == 1 { "" } else { "s" }
        ));
        for failure in report.failures() {
            if let Err(e) = &failure.result {
                printer.error(&format!("{} ({}): {e}", failure.address, failure.action.as_str()));
            }
        }
        return Ok(Exit::Interrupted);
    }
    let failures: Vec<_> = report.failures().collect();
    if !plan.has_changes() {
        return Ok(if failures.is_empty() { Exit::Success } else { Exit::Failure });
    }
    let created = report.succeeded(Action::Create) + report.succeeded(Action::Recreate);
    let updated =
        report.succeeded(Action::Update) + report.succeeded(Action::Adopt) + report.succeeded(Action::RotateKey);
    let deleted = report.succeeded(Action::Delete);
    let word = if verb == "destroy" { "Destroy" } else { "Apply" };
    if failures.is_empty() {
        printer.data(&format!("\n{word} complete: {created} created, {updated} updated, {deleted} deleted.\n"));
        return Ok(Exit::Success);
    }
    printer.data(&format!(
        "\n{word} incomplete: {created} created, {updated} updated, {deleted} deleted, {} failed.\n",
        failures.len()
    ));
    for failure in &failures {
        if let Err(e) = &failure.result {
            printer.error(&format!("{} ({}): {e}", failure.address, failure.action.as_str()));
        }
    }
    printer.status("The state records everything that completed; run the same command again to finish.");
    Ok(Exit::Failure)
}

/// The first Ctrl-C (or SIGTERM) stops new calls from starting; a second one exits at once (the state
/// is consistent at every moment, so nothing is lost either way).
async fn watch_interrupts(cancel: Arc<Cancel>, printer: super::Printer) {
    super::emulator::shutdown_signal().await;
    cancel.cancel();
    printer.warn("interrupted: no new calls start; waiting for the calls in flight (interrupt again to stop at once)");
    super::emulator::shutdown_signal().await;
    std::process::exit(Exit::Interrupted as i32);
}

/// One stderr line as each action starts and ends.
struct LineProgress<'a> {
    context: &'a Context,
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
        self.context.printer.status(&format!("{}: {}…", change.address, doing(change.action)));
    }

    fn finished(&self, change: &Change, outcome: &Result<(), ActionError>, elapsed: Duration) {
        let secs = elapsed.as_secs_f64();
        let line = match outcome {
            Ok(()) => format!("{}: {} [{secs:.1}s]", change.address, done(change.action)),
            Err(e) => {
                let first_line = e.to_string().lines().next().unwrap_or_default().to_string();
                format!("{}: {} failed after {secs:.1}s: {first_line}", change.address, change.action.as_str())
            }
        };
        self.context.printer.status(&line);
    }
}
