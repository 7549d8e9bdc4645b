//! The terminal rendering: Terraform's `+ ~ -` with before → after per field.

use std::fmt::Write;

use serde_json::Value;

use super::{
    account_drift, account_heading, account_steps, by_account, heading, number_drift_line, number_line, number_of,
    plural, show_value, summary_line, symbol,
};
use crate::plan::{Action, FieldDiff, Plan};

const RESET: &str = "\x1b[0m";
const BOLD: &str = "\x1b[1m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const DIM: &str = "\x1b[2m";

struct Paint(bool);

impl Paint {
    fn on(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("{code}{text}{RESET}")
        } else {
            text.to_string()
        }
    }

    fn for_action(&self, action: Action, text: &str) -> String {
        let code = match action {
            Action::Create | Action::Recreate => GREEN,
            Action::Delete => RED,
            Action::NoOp => DIM,
            _ => YELLOW,
        };
        self.on(code, text)
    }
}

/// How a person wants the plan shown.
#[derive(Clone, Copy, Debug, Default)]
pub struct HumanStyle {
    /// ANSI colours.
    pub color: bool,
    /// A create's fields that the API's defaults fill in (the manifest does not say them).
    pub defaults: bool,
}

/// Renders `plan` for a person at a terminal. Warnings are not part of it: they go to stderr, as every
/// warning does.
pub fn render_human(plan: &Plan, style: HumanStyle) -> String {
    let paint = Paint(style.color);
    let mut out = String::new();
    let accounts_drifted = account_drift(plan);
    if !plan.drift.is_empty() || !accounts_drifted.is_empty() {
        let _ = writeln!(out, "{}", paint.on(BOLD, "Changed outside vapp since the last apply:"));
        out.push('\n');
        for line in &accounts_drifted {
            let _ = writeln!(out, "  {} {}", paint.on(YELLOW, "~"), paint.on(BOLD, line));
        }
        for d in &plan.drift {
            let id = d.id.as_ref().map(|i| i.as_str()).unwrap_or("");
            if d.deleted {
                let _ =
                    writeln!(out, "  {} {} ({id}) was deleted", paint.on(RED, "!"), paint.on(BOLD, d.address.as_str()));
            } else {
                let _ = writeln!(out, "  {} {} ({id})", paint.on(YELLOW, "~"), paint.on(BOLD, d.address.as_str()));
                for f in &d.diff {
                    match number_of(f) {
                        Some(msisdn) => sign_line(&mut out, &paint, number_drift_line(msisdn, f)),
                        None => field_line(&mut out, &paint, Action::Update, f),
                    }
                }
            }
        }
        out.push('\n');
    }
    if !plan.has_changes() {
        let _ = writeln!(out, "{}", paint.on(BOLD, "No changes. The account matches the manifests."));
    } else {
        let _ = writeln!(out, "vapp will perform these actions:");
        let sign_action = |sign: &str| match sign {
            "+" => Action::Create,
            "-" => Action::Delete,
            _ => Action::Update,
        };
        let steps_line = |out: &mut String, (sign, words): &(&str, String)| {
            let _ = writeln!(out, "  {} {}", paint.for_action(sign_action(sign), sign), paint.on(BOLD, words));
        };
        let before = account_steps(plan, true);
        if !before.is_empty() {
            out.push('\n');
            for (_, line) in &before {
                steps_line(&mut out, line);
            }
        }
        let several = by_account(plan);
        let mut section: Option<&crate::model::AccountName> = None;
        for change in plan.actions() {
            if several && section != Some(&change.account) {
                section = Some(&change.account);
                let _ = write!(out, "\n{}\n", paint.on(BOLD, &account_heading(plan, &change.account)));
            }
            out.push('\n');
            let action = change.action();
            let _ = writeln!(out, "  {}", paint.on(DIM, &format!("# {}", heading(change))));
            for note in &change.notes {
                let _ = writeln!(out, "  {}", paint.on(DIM, &format!("# ({note})")));
            }
            let _ = writeln!(
                out,
                "  {} {}",
                paint.for_action(action, symbol(action)),
                paint.on(BOLD, change.address.as_str())
            );
            let hidden = change.diff.iter().filter(|f| f.default && !style.defaults).count();
            for f in change.diff.iter().filter(|f| number_of(f).is_none() && (style.defaults || !f.default)) {
                field_line(&mut out, &paint, action, f);
            }
            if hidden > 0 {
                let line =
                    format!("      (and {hidden} field{} set to the API's defaults; -v shows them)", plural(hidden));
                let _ = writeln!(out, "{}", paint.on(DIM, &line));
            }
            for number in &change.numbers {
                sign_line(&mut out, &paint, number_line(number));
            }
        }
        let after = account_steps(plan, false);
        if !after.is_empty() {
            out.push('\n');
            for (_, line) in &after {
                steps_line(&mut out, line);
            }
        }
        out.push('\n');
    }
    let _ = writeln!(out, "{}", paint.on(BOLD, &summary_line(plan)));
    out
}

/// A line marked `+` or `-` in its colour.
fn sign_line(out: &mut String, paint: &Paint, (sign, words): (&str, String)) {
    let kind = if sign == "-" { Action::Delete } else { Action::Create };
    let _ = writeln!(out, "      {} {words}", paint.for_action(kind, sign));
}

fn field_line(out: &mut String, paint: &Paint, action: Action, f: &FieldDiff) {
    let (mark, kind) = match (&f.before, &f.after) {
        (Value::Null, _) => ("+", Action::Create),
        (_, Value::Null) => ("-", Action::Delete),
        _ => ("~", Action::Update),
    };
    let kind = if action == Action::Delete { Action::Delete } else { kind };
    let mark = paint.for_action(kind, mark);
    if let (Some(before), Some(after)) = (f.before.as_str(), f.after.as_str()) {
        if before.contains('\n') || after.contains('\n') {
            let _ = writeln!(out, "      {mark} {}:", f.path);
            let text_diff = similar::TextDiff::from_lines(before, after);
            for change in text_diff.iter_all_changes() {
                let (sign, code) = match change.tag() {
                    similar::ChangeTag::Delete => ("-", RED),
                    similar::ChangeTag::Insert => ("+", GREEN),
                    similar::ChangeTag::Equal => (" ", DIM),
                };
                let line = format!("{sign} {}", change.value().trim_end_matches('\n'));
                let _ = writeln!(out, "          {}", paint.on(code, &line));
            }
            return;
        }
    }
    match (&f.before, &f.after) {
        (Value::Null, after) => {
            let _ = writeln!(out, "      {mark} {}: {}", f.path, show_value(after));
        }
        (before, Value::Null) => {
            let _ = writeln!(out, "      {mark} {}: {}", f.path, show_value(before));
        }
        (before, after) => {
            let _ = writeln!(
                out,
                "      {mark} {}: {} → {}{}",
                f.path,
                show_value(before),
                show_value(after),
                secret_note(f)
            );
        }
    }
}

/// What a line says when only a URL's password changed: both sides show it as `***`.
fn secret_note(f: &FieldDiff) -> &'static str {
    if f.secret_changed {
        " (password changed)"
    } else {
        ""
    }
}
