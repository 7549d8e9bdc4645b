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
            if *resume {
                parts.push("suspended → resumed".to_string());
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
    ("+", format!("number {} (transferred from account {} to account {})", transfer.number, transfer.from, transfer.to))
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
