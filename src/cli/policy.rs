//! Policies at the command edge: `--policy` read before anything else runs (a broken policy fails
//! fast, naming its file, line and column), the verdict on a plan with its section in each format, and
//! `vapp policy test`.

use std::path::PathBuf;

use serde_json::Value;

use super::definitions::{PolicyArgs, PolicyCommand};
use super::failure::{PolicyDenied, Result};
use super::{Context, Exit};
use crate::manifest::accounts::DeclaredAccount;
use crate::manifest::Desired;
use crate::plan::Plan;
use crate::policy::{self, Policies, Verdict};

/// The policies `--policy` names, read and parsed; `None` when it names none.
pub fn load(args: &PolicyArgs) -> Result<Option<Policies>> {
    let paths: Vec<PathBuf> = args.paths.iter().filter(|p| !p.as_os_str().is_empty()).cloned().collect();
    if paths.is_empty() {
        return Ok(None);
    }
    let sources = policy::read_sources(&paths, false)?;
    let policies = Policies::new(&sources, &args.policy_namespace)?;
    policies.require_namespace()?;
    Ok(Some(policies))
}

/// The manifests as the policies see them.
pub fn manifests_of(desired: &Desired) -> Vec<Value> {
    desired.apps.values().map(policy::manifest_entry).collect()
}

/// What `policies` say of `plan`.
pub fn verdict<'a>(
    policies: &Policies,
    plan: &Plan,
    manifests: Vec<Value>,
    declared: impl IntoIterator<Item = &'a DeclaredAccount>,
) -> Result<Verdict> {
    let default = crate::model::AccountName::default_account();
    // Each account borrowed for this call only, as `default` is.
    let declared = declared.into_iter().map(|account| account as &DeclaredAccount);
    let accounts = policy::accounts_of(declared, plan, &default);
    Ok(policies.evaluate(&policy::input(plan, manifests, &accounts))?)
}

/// Fails with exit 5 when any policy denies (the plan's "Policy" section, on stdout, says which).
pub fn enforce(verdict: &Verdict, applying: bool) -> Result<()> {
    match verdict.denies() {
        true => Err(PolicyDenied { denials: verdict.deny.len(), applying }.into()),
        false => Ok(()),
    }
}

pub fn run(context: &Context, command: PolicyCommand) -> Result<Exit> {
    let PolicyCommand::Test { paths } = command;
    let sources = policy::read_sources(&paths, true)?;
    let policies = Policies::new(&sources, policy::DEFAULT_NAMESPACE)?;
    let results = policies.test();
    if results.is_empty() {
        return Err(super::failure::hinted(
            "the policies have no test (a rule whose name starts with test_)",
            "write tests beside the policies, e.g. in https_test.rego: `test_http_is_denied if { count(deny) == 1 with input as {…} }`",
        ));
    }
    let mut failed = 0;
    for result in &results {
        let line = match &result.failure {
            None => format!("PASS {} ({})", result.rule, result.file.display()),
            Some(why) => {
                failed += 1;
                format!("FAIL {} ({}): {why}", result.rule, result.file.display())
            }
        };
        context.printer.data(&format!("{line}\n"));
    }
    let passed = results.len() - failed;
    context.printer.data(&format!("{passed} passed, {failed} failed\n"));
    Ok(if failed == 0 { Exit::Success } else { Exit::Failure })
}
