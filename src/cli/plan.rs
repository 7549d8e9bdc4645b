//! `vapp plan`: show what apply would do, as text, JSON or Markdown.

use super::definitions::{Format, PlanArgs};
use super::failure::{Context as _, Result};

use super::context::{Inputs, Keys, Manifests, Scope};
use super::{Context, Exit};
use crate::plan::render::{render_human, render_json, render_json_value, render_markdown};
use crate::plan::{self, Goal, PlanningInput, SavedPlan};

pub async fn run(context: &Context, args: PlanArgs) -> Result<Exit> {
    // A policy that does not read fails before anything is read from the account.
    let policies = super::policy::load(&args.policy)?;
    let mut clock = Stopwatch::default();
    let scope = Scope { goal: Goal::Apply, only: &args.accounts };
    let Inputs { desired, loaded, worlds, subaccounts, only, manifests_took, state_took, .. } =
        context.gather(Manifests::Read, Keys::Sealed, scope, |_, _| {}).await?;
    // The manifests and state were read while the account was listed: say how long each took.
    clock.lap("reading");
    clock.during("manifests", manifests_took);
    clock.during("state", state_took);
    let state = loaded.as_ref().map(|l| &l.state);
    let input = PlanningInput {
        desired: &desired,
        state,
        worlds: &worlds,
        subaccounts: &subaccounts,
        targets: &args.targets,
        only: &only,
        goal: Goal::Apply,
    };
    let plan = plan::plan_all(&input)?;
    clock.lap("planning");
    // The manifests as policies see them: for the policies now, or for a saved plan's apply later.
    let manifests = (policies.is_some() || args.out.is_some()).then(|| super::policy::manifests_of(&desired));
    let verdict = match (&policies, &manifests) {
        (Some(policies), Some(manifests)) => {
            Some(super::policy::verdict(policies, &plan, manifests.clone(), desired.accounts.values())?)
        }
        _ => None,
    };
    clock.lap("policies");
    let text = match (args.format, &verdict) {
        (Format::Human, verdict) => {
            let section = verdict.as_ref().map(crate::policy::render_human).unwrap_or_default();
            render_human(&plan, context.printer.human_style()) + &section
        }
        (Format::Json, None) => render_json(&plan),
        (Format::Json, Some(verdict)) => {
            let mut value = render_json_value(&plan);
            value["policy"] = serde_json::to_value(verdict)?;
            format!("{}\n", serde_json::to_string_pretty(&value)?)
        }
        (Format::Markdown, verdict) => {
            render_markdown(&plan) + &verdict.as_ref().map(crate::policy::render_markdown).unwrap_or_default()
        }
    };
    context.printer.data(&text);
    clock.lap("output");
    context.printer.detail(&format!("time: {clock}"));
    context.printer.plan_warnings(&plan);
    plan.check_max_deletes(args.max_deletes)?;
    if let Some(verdict) = &verdict {
        // A denied plan is not saved: no apply may carry it out.
        super::policy::enforce(verdict, false)?;
    }
    let has_changes = plan.has_changes();
    if let Some(path) = &args.out {
        // Every account's applications, for the digests that tell a stale plan; and how to sign in to
        // each account, for the apply that reads them again.
        let everywhere: Vec<crate::model::Listed> = worlds.iter().flat_map(|w| w.live().iter().cloned()).collect();
        let mut saved = SavedPlan::new(plan, &everywhere);
        saved.accounts = desired.accounts.values().map(plan::SavedAccount::from_declared).collect();
        saved.manifests = manifests.unwrap_or_default();
        let passphrase = context.passphrase()?;
        let bytes = saved.to_bytes(passphrase.as_ref().map(|p| p.as_str()))?;
        crate::fsutil::write_atomically(path, &bytes, crate::fsutil::Mode::Shared)
            .with_context(|| format!("cannot write the plan to {}", path.display()))?;
        context.printer.status(&format!(
            "Saved the plan to {}; apply exactly it with `vapp apply {}`",
            path.display(),
            path.display()
        ));
    }
    Ok(if args.detailed_exitcode && has_changes { Exit::Changes } else { Exit::Success })
}

/// The accounts `--account` names, each checked against the manifests and the state.
pub(super) fn accounts_named(
    names: &[String],
    desired: &crate::manifest::Desired,
    state: Option<&crate::state::State>,
) -> Result<Vec<crate::model::AccountName>> {
    let mut unique: Vec<&String> = Vec::new();
    for name in names {
        if !unique.contains(&name) {
            unique.push(name);
        }
    }
    unique
        .into_iter()
        .map(|name| {
            let known = name == crate::model::AccountName::DEFAULT
                || desired.accounts.contains_key(name.as_str())
                || state.is_some_and(|s| s.accounts.contains_key(name.as_str()));
            match (crate::model::AccountName::parse(name), known) {
                (Ok(account), true) => Ok(account),
                _ => Err(super::failure::hinted(
                    format!("--account {name}: no such account"),
                    "name `default` or an account declared under `accounts:` in the manifests",
                )),
            }
        })
        .collect()
}

/// Where a run's time went, phase by phase (shown with `-v`).
struct Stopwatch {
    last: std::time::Instant,
    laps: Vec<(&'static str, std::time::Duration)>,
    overlapped: Vec<(&'static str, std::time::Duration)>,
}

impl Default for Stopwatch {
    fn default() -> Self {
        Stopwatch { last: std::time::Instant::now(), laps: Vec::new(), overlapped: Vec::new() }
    }
}

impl Stopwatch {
    fn lap(&mut self, phase: &'static str) {
        let now = std::time::Instant::now();
        self.laps.push((phase, now - self.last));
        self.last = now;
    }

    /// A phase that ran during the last lap rather than after it.
    fn during(&mut self, phase: &'static str, took: std::time::Duration) {
        self.overlapped.push((phase, took));
    }
}

impl std::fmt::Display for Stopwatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let shown = |phases: &[(&str, std::time::Duration)]| {
            phases.iter().map(|(phase, d)| format!("{phase} {:.3}s", d.as_secs_f64())).collect::<Vec<_>>().join(", ")
        };
        let total: std::time::Duration = self.laps.iter().map(|(_, d)| *d).sum();
        write!(f, "{}, total {:.3}s", shown(&self.laps), total.as_secs_f64())?;
        if !self.overlapped.is_empty() {
            write!(f, ", while listing: {}", shown(&self.overlapped))?;
        }
        Ok(())
    }
}
