//! `vapp apply` and `vapp destroy`: plan, show, confirm, execute, report.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::{Context, Exit};
use crate::apply::{ActionError, Executor, Progress, RsaKeys};
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
}

pub async fn run_apply(context: &Context, args: ApplyArgs) -> Result<Exit> {
    let desired = context.manifests()?;
    execute(context, &desired, &args.targets, args.auto_approve, args.parallelism, "apply").await
}

pub async fn run_destroy(context: &Context, args: DestroyArgs) -> Result<Exit> {
    // Destroying is applying an empty manifest: protected applications stay, unmanaged ones are never seen.
    execute(context, &Desired::default(), &args.targets, args.auto_approve, args.parallelism, "destroy").await
}

async fn execute(
    context: &Context,
    desired: &Desired,
    targets: &[String],
    auto_approve: bool,
    parallelism: u16,
    verb: &str,
) -> Result<Exit> {
    let printer = &context.printer;
    let state = context.load_state()?;
    let connection = context.connect().await?;
    let live = context.list_live(&connection).await?;
    let plan = plan::plan(&PlanInput { desired, state: state.as_ref(), live: &live, targets });
    printer.data(&render_human(&plan, printer.stdout_color));
    if plan.has_changes() && !auto_approve {
        context.confirm(&format!("\nDo you want to {verb}? vapp will perform the actions above."))?;
    }
    let state = state.unwrap_or_else(|| State::new(uuid::Uuid::new_v4().to_string()));
    let store = StateStore::new(context.state_path().to_path_buf(), state);
    let progress = LineProgress { context };
    let executor = Executor {
        api: &connection.client,
        store: &store,
        keys: Arc::new(RsaKeys),
        parallelism: usize::from(parallelism),
        progress: &progress,
    };
    let report = executor.execute(&plan).await;
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
