//! `--format markdown`: a plan made for a pull-request comment. A verdict line first, a warning when
//! anything is deleted, one table row per application, drift in its own section, and each
//! application's fields folded under `<details>`.

use std::fmt::Write;

use super::{
    account_drift, account_heading, account_steps, by_account, number_drift_line, number_line, number_of, plural,
    show_value, summary_line,
};
use crate::plan::{Action, FieldDiff, NumberChange, Plan, Route};

fn badge(action: Action) -> &'static str {
    action.words().badge
}

/// A diff block of `fields` (a number's entry as a number line; the API's defaults of a create left
/// out, and counted after the block), then `numbers`.
fn diff_block(out: &mut String, fields: &[FieldDiff], numbers: &[NumberChange]) {
    let defaults = fields.iter().filter(|f| f.default).count();
    let fields: Vec<&FieldDiff> = fields.iter().filter(|f| !f.default).collect();
    out.push_str("```diff\n");
    let number_lines = numbers.iter().map(|n| {
        let (sign, words) = number_line(n);
        format!("{sign} {words}")
    });
    let field_lines = fields.iter().filter_map(|f| {
        let f = *f;
        if let Some(msisdn) = number_of(f) {
            // A change's own number entries are said by its number lines; drift has only entries.
            return numbers.is_empty().then(|| {
                let (sign, words) = number_drift_line(msisdn, f);
                format!("{sign} {words}")
            });
        }
        // Lines GitHub colours: a change is its old value removed and its new one added.
        Some(match (f.before.is_null(), f.after.is_null()) {
            (true, _) => format!("+ {}: {}", f.path, show_value(&f.after)),
            (_, true) => format!("- {}: {}", f.path, show_value(&f.before)),
            _ if f.secret_changed => format!("! {}: {} (password changed)", f.path, show_value(&f.after)),
            _ => format!("- {}: {}\n+ {}: {}", f.path, show_value(&f.before), f.path, show_value(&f.after)),
        })
    });
    for line in field_lines.collect::<Vec<_>>().into_iter().chain(number_lines) {
        // A backtick fence inside a value must not end the block early.
        let _ = writeln!(out, "{}", line.replace("```", "`\u{200b}``"));
    }
    out.push_str("```\n");
    if defaults > 0 {
        let _ = writeln!(out, "\n_and {defaults} field{} set to the API's defaults._", plural(defaults));
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// Renders `plan` as GitHub-flavoured Markdown.
pub fn render_markdown(plan: &Plan) -> String {
    let mut out = String::new();
    let summary = plan.summary();
    if plan.has_changes() {
        let _ =
            writeln!(out, "### vapp plan: {}", summary_line(plan).trim_start_matches("Plan: ").trim_end_matches('.'));
    } else {
        let _ = writeln!(out, "### vapp plan: no changes ✅");
        out.push_str("\nThe account matches the manifests.\n");
    }
    if summary.delete > 0 {
        let deleted: Vec<String> =
            plan.actions().filter(|c| c.action() == Action::Delete).map(|c| format!("`{}`", c.address)).collect();
        let _ = write!(
            out,
            "\n> [!WARNING]\n> This plan **deletes {} application{}**: {}. Deleting cannot be undone.\n",
            summary.delete,
            if summary.delete == 1 { "" } else { "s" },
            deleted.join(", ")
        );
    }
    // The accounts' own steps in apply order: those before the applications' changes, then those after.
    let (before, after) = (account_steps(plan, true), account_steps(plan, false));
    if !before.is_empty() || !after.is_empty() {
        out.push_str("\n| Account | Change |\n|---|---|\n");
        for (account, (sign, words)) in &before {
            let _ = writeln!(out, "| `{}` | {sign} {} |", cell(account.as_str()), cell(words));
        }
        if !after.is_empty() && plan.actions().next().is_some() {
            out.push_str("| | _the applications' changes below_ |\n");
        }
        for (account, (sign, words)) in &after {
            let _ = writeln!(out, "| `{}` | {sign} {} |", cell(account.as_str()), cell(words));
        }
    }
    if plan.actions().next().is_some() {
        out.push_str("\n| Application | Action | Fields |\n|---|---|---|\n");
        for c in plan.actions() {
            let own: Vec<&FieldDiff> = c.diff.iter().filter(|f| number_of(f).is_none() && !f.default).collect();
            let mut parts = Vec::new();
            if let Some(from) = &c.moved_from {
                parts.push(format!("moved from `{}`", cell(from.as_str())));
            }
            match own.len() {
                0 => {}
                1 => parts.push(format!("`{}`", cell(&own[0].path))),
                n => parts.push(format!("{n} fields")),
            }
            match c.numbers.len() {
                0 => {}
                1..=3 => parts.extend(c.numbers.iter().map(|n| {
                    let sign = if n.route == Route::Nowhere { "−" } else { "+" };
                    format!("{sign}`{}`", n.msisdn)
                })),
                n => parts.push(format!("{n} numbers")),
            }
            let fields = if parts.is_empty() { "—".to_string() } else { parts.join(", ") };
            let account =
                if c.account.is_default() { String::new() } else { format!(" ({})", cell(c.account.as_str())) };
            let _ = writeln!(out, "| `{}`{account} | {} | {} |", cell(c.address.as_str()), badge(c.action()), fields);
        }
        out.push('\n');
        let several = by_account(plan);
        let mut section: Option<&crate::model::AccountName> = None;
        for c in plan.actions() {
            if several && section != Some(&c.account) {
                section = Some(&c.account);
                let heading = account_heading(plan, &c.account).replacen(
                    &format!("Account {}", c.account),
                    &format!("Account `{}`", cell(c.account.as_str())),
                    1,
                );
                let _ = writeln!(out, "#### {heading}\n");
            }
            let id = c.id().map(|id| format!(" ({id})")).unwrap_or_default();
            let moved =
                c.moved_from.as_ref().map(|from| format!(", moved from <code>{from}</code>")).unwrap_or_default();
            let _ = writeln!(
                out,
                "<details><summary><code>{}</code>{id}: {}{moved}</summary>\n",
                c.address,
                c.action().as_str()
            );
            for note in &c.notes {
                let _ = writeln!(out, "_{note}_\n");
            }
            if c.diff.is_empty() && c.numbers.is_empty() {
                out.push_str("No field changes.\n");
            } else {
                diff_block(&mut out, &c.diff, &c.numbers);
            }
            out.push_str("\n</details>\n\n");
        }
    }
    let accounts_drifted = account_drift(plan);
    if !plan.drift.is_empty() || !accounts_drifted.is_empty() {
        out.push_str("\n#### Changed outside vapp since the last apply\n\n");
        for line in &accounts_drifted {
            let _ = writeln!(out, "- {line}\n");
        }
        for d in &plan.drift {
            let id = d.id.as_ref().map(|i| i.as_str()).unwrap_or("");
            if d.deleted {
                let _ = writeln!(out, "- `{}` ({id}) was deleted\n", d.address);
            } else {
                let _ = writeln!(
                    out,
                    "<details><summary><code>{}</code> ({id}): {} field{}</summary>\n",
                    d.address,
                    d.diff.len(),
                    if d.diff.len() == 1 { "" } else { "s" }
                );
                diff_block(&mut out, &d.diff, &[]);
                out.push_str("\n</details>\n\n");
            }
        }
    }
    if !plan.warnings.is_empty() {
        out.push_str("\n#### Warnings\n\n");
        for w in &plan.warnings {
            let _ = writeln!(out, "- {w}");
        }
    }
    let _ = writeln!(out, "\n<sub>{} · {} unchanged</sub>", summary_line(plan), summary.no_op);
    out
}
