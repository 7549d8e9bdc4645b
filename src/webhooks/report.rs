//! `vapp check`'s report in words: human lines for a terminal, markdown for a pull request's comment,
//! JSON (`format_version: 1`) for scripts. Pure: a report in, text out.

use std::fmt::Write;

use super::check::{CheckResult, Report};

/// Where the result stands: `acme/web` outside `default`, `web` in it.
fn application(result: &CheckResult) -> String {
    match result.account.is_default() {
        true => result.address.to_string(),
        false => format!("{}/{}", result.account, result.address),
    }
}

fn answer(result: &CheckResult) -> String {
    match result.status {
        Some(status) => format!("{status} in {} ms", result.ms),
        None => "no answer".to_string(),
    }
}

pub fn render_human(report: &Report) -> String {
    let mut out = String::new();
    if report.results.is_empty() {
        out.push_str("No webhooks to check: the manifests' applications hold none.\n");
        return out;
    }
    for r in &report.results {
        let mark = if r.ok { "✓" } else { "✗" };
        let _ = write!(out, "{mark} {} {} {} {} {}", application(r), r.capability, r.webhook, r.method.as_str(), r.url);
        // Every line after the first of a multi-line problem (several NCCO problems) or note sits
        // under its webhook.
        match &r.problem {
            None => {
                let _ = writeln!(out, ": {}", answer(r));
            }
            Some(problem) => {
                let _ = writeln!(out, ": {}", problem.lines().collect::<Vec<_>>().join("\n    "));
            }
        }
        for note in r.fallback_note.iter().chain(&r.note) {
            for line in note.lines() {
                let _ = writeln!(out, "    {line}");
            }
        }
    }
    let _ = writeln!(
        out,
        "\nChecked {} webhook{}: {} passed, {} failed.",
        report.results.len(),
        if report.results.len() == 1 { "" } else { "s" },
        report.summary.passed,
        report.summary.failed
    );
    out
}

pub fn render_json(report: &Report) -> String {
    // A report of strings, numbers and booleans always serialises.
    serde_json::to_string_pretty(report)
        .map(|mut s| {
            s.push('\n');
            s
        })
        .unwrap_or_default()
}

/// Markdown for a pull request's comment: a heading that says the outcome, then a table.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let total = report.results.len();
    let _ = match report.summary.failed {
        0 => writeln!(out, "### vapp check: {total} webhook{} passed\n", if total == 1 { "" } else { "s" }),
        failed => {
            writeln!(out, "### vapp check: {failed} of {total} webhook{} failed\n", if total == 1 { "" } else { "s" })
        }
    };
    if total == 0 {
        out.push_str("The manifests' applications hold no webhooks.\n");
        return out;
    }
    out.push_str("| | application | webhook | request | answer | problem |\n|---|---|---|---|---|---|\n");
    for r in &report.results {
        let mark = if r.ok { "✅" } else { "❌" };
        let mut problem = r.problem.clone().unwrap_or_default();
        for note in r.fallback_note.iter().chain(&r.note) {
            if !problem.is_empty() {
                problem.push_str("<br>");
            }
            problem.push_str(note);
        }
        let _ = writeln!(
            out,
            "| {mark} | `{}` | {} `{}` | {} {} | {} | {} |",
            application(r),
            r.capability,
            r.webhook,
            r.method.as_str(),
            cell(&r.url.to_string()),
            answer(r),
            cell(&problem)
        );
    }
    out
}

/// Text safe inside a table cell: no pipe or line break ends the cell early (a line break is shown
/// as one, `<br>`).
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\r', "").replace('\n', "<br>")
}
