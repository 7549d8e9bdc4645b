//! Plan renderers: human (terminal), JSON (scripts) and Markdown (pull-request comments).
//! Pure functions from a plan to text; none of them ever sees key material, because a plan holds none.

mod human;
mod json;
mod markdown;
mod words;

pub use human::{render_human, HumanStyle};
pub use json::{render_json, render_json_value};
pub use markdown::render_markdown;

use serde_json::Value;

use super::{Action, FieldDiff, NumberChange, Route};

pub(crate) fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The number a diff entry routes (`numbers.<msisdn>`), if it is one.
pub(crate) fn number_of(field: &FieldDiff) -> Option<&str> {
    field.path.strip_prefix("numbers.")
}

/// A number update as one diff line, without indentation: its sign and its words.
pub(crate) fn number_line(number: &NumberChange) -> (&'static str, String) {
    match (&number.route, number.from.describe()) {
        (Route::Nowhere, _) => ("-", format!("number {}", number.msisdn)),
        (_, Some(origin)) => ("+", format!("number {} (moves from {origin})", number.msisdn)),
        (_, None) => ("+", format!("number {}", number.msisdn)),
    }
}

/// A number linked or unlinked by hand (a drift entry of `id`'s application) as one diff line.
pub(crate) fn number_drift_line(msisdn: &str, field: &FieldDiff) -> (&'static str, String) {
    match (&field.before, &field.after) {
        (Value::Null, _) => ("+", format!("number {msisdn} (linked outside vapp)")),
        (_, Value::Null) => ("-", format!("number {msisdn} (unlinked outside vapp)")),
        (_, now) => ("-", format!("number {msisdn} (moved outside vapp to {})", show_value(now))),
    }
}

/// How a value reads in a diff line: JSON, with absence spelt out.
pub(crate) fn show_value(value: &Value) -> String {
    match value {
        Value::Null => "(none)".to_string(),
        other => other.to_string(),
    }
}

/// An account change as one line, without indentation: its sign and its words.
pub(crate) fn account_line(change: &super::AccountChange) -> (&'static str, String) {
    let account = &change.account;
    match &change.step {
        super::AccountStep::Create { parent, again, .. } => {
            let again = if *again { "; an earlier create's answer was lost: looked for first" } else { "" };
            ("+", format!("account {account} (subaccount of {parent}{again})"))
        }
        super::AccountStep::Update { api_key, name, use_primary_account_balance, resume } => {
            let mut parts = Vec::new();
            if let Some(name) = name {
                parts.push(format!("name {:?} → {:?}", name.before, name.after));
            }
            if let Some(shared) = use_primary_account_balance {
                parts.push(format!("use_primary_account_balance {} → {}", shared.before, shared.after));
            }
            if let Some(resume) = resume {
                parts.push(format!(
                    "suspended → resumed ({})",
                    match resume {
                        super::Resume::DeclaredAgain => "declared again",
                        super::Resume::SuspendedOutsideVapp => "it was suspended outside vapp",
                        super::Resume::ToEmptyIt => "to take out what vapp keeps there; suspended again at the end",
                    }
                ));
            }
            ("~", format!("account {account} ({api_key}): {}", parts.join(", ")))
        }
        super::AccountStep::Suspend { api_key } => (
            "-",
            format!(
                "account {account} ({api_key}) suspended (it left the manifests; Vonage cannot delete a subaccount)"
            ),
        ),
    }
}

/// A number transfer as one line, without indentation: its sign and its words.
pub(crate) fn transfer_line(transfer: &super::Transfer) -> (&'static str, String) {
    match transfer.reason {
        super::TransferReason::Listed => (
            "+",
            format!(
                "number {} (transferred from account {} to account {})",
                transfer.number, transfer.from, transfer.to
            ),
        ),
        super::TransferReason::Returned => (
            "-",
            format!(
                "number {} (returned from account {} to account {}: {} is being suspended)",
                transfer.number, transfer.from, transfer.to, transfer.from
            ),
        ),
    }
}

/// The lines of a plan's account steps that come before the applications' changes (accounts made or
/// resumed, numbers transferred in) or after them (numbers returned, suspensions), in apply order.
pub(crate) fn account_steps(plan: &super::Plan, before: bool) -> Vec<(&super::AccountName, (&'static str, String))> {
    let suspends = |c: &&super::AccountChange| matches!(c.step, super::AccountStep::Suspend { .. });
    let returned = |t: &&super::Transfer| t.reason == super::TransferReason::Returned;
    match before {
        true => plan
            .accounts
            .iter()
            .filter(|c| !suspends(c))
            .map(|c| (&c.account, account_line(c)))
            .chain(plan.transfers.iter().filter(|t| !returned(t)).map(|t| (&t.to, transfer_line(t))))
            .collect(),
        false => plan
            .transfers
            .iter()
            .filter(returned)
            .map(|t| (&t.from, transfer_line(t)))
            .chain(plan.accounts.iter().filter(suspends).map(|c| (&c.account, account_line(c))))
            .collect(),
    }
}

/// An account's heading: its name and API key (`Account staging (1a2b3c4d)`), or that it is made by
/// this plan.
pub(crate) fn account_heading(plan: &super::Plan, account: &super::AccountName) -> String {
    match plan.api_keys.get(account) {
        Some(api_key) => format!("Account {account} ({api_key})"),
        None => format!("Account {account} (made by this apply)"),
    }
}

/// Whether the plan's applications are shown by account (it spans more than `default`).
pub(crate) fn by_account(plan: &super::Plan) -> bool {
    plan.changes.iter().any(|c| !c.account.is_default()) || plan.api_keys.keys().any(|a| !a.is_default())
}

/// Accounts suspended outside vapp, as the drift section shows them.
pub(crate) fn account_drift(plan: &super::Plan) -> Vec<String> {
    plan.accounts
        .iter()
        .filter_map(|change| match &change.step {
            super::AccountStep::Update { api_key, resume: Some(super::Resume::SuspendedOutsideVapp), .. } => {
                Some(format!("account {} ({api_key}) was suspended", change.account))
            }
            _ => None,
        })
        .collect()
}

/// The one-line summary: `Plan: N to create, N to update, N to delete.`, and the moves, imports and
/// forgets a plan has.
pub fn summary_line(plan: &super::Plan) -> String {
    let s = plan.summary();
    let mut line = format!("Plan: {} to create, {} to update, {} to delete", s.create, s.update, s.delete);
    for (count, what) in [(s.moves, "move"), (s.import, "import"), (s.forget, "forget")] {
        if count > 0 {
            line.push_str(&format!(", {count} to {what}"));
        }
    }
    if !plan.accounts.is_empty() {
        let n = plan.accounts.len();
        line.push_str(&format!(", {n} account change{}", plural(n)));
    }
    if !plan.transfers.is_empty() {
        let n = plan.transfers.len();
        line.push_str(&format!(", {n} number{} to transfer", plural(n)));
    }
    line.push('.');
    line
}

/// A change's heading, without its address's mark: `call-forwarding has moved to call-forward`, or
/// `support (id) will be updated in place`.
pub(crate) fn heading(change: &super::Change) -> String {
    if let (super::Step::Move { .. }, Some(from)) = (&change.step, &change.moved_from) {
        return format!("{from} has moved to {}", change.address);
    }
    let id = change.id().map(|id| format!(" ({id})")).unwrap_or_default();
    let moved = change.moved_from.as_ref().map(|from| format!(", moved from {from}")).unwrap_or_default();
    format!("{}{id} {}{moved}", change.address, change_phrase(change))
}

/// What happens to the change's application, in the words of a plan's heading line.
pub(crate) fn change_phrase(change: &super::Change) -> &'static str {
    match &change.step {
        super::Step::RotateKey(super::RotateKey { change: super::KeyChange::Record { .. }, .. }) => {
            "will have its key recorded in the state (the account already has it)"
        }
        _ => change.action().words().phrase,
    }
}

pub(crate) fn symbol(action: Action) -> &'static str {
    action.words().symbol
}
