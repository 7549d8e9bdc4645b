//! `--format json`: the stable shape the README documents ("Commands and exit codes") and
//! `schemas/plan.schema.json` describes. Fields are only ever added.

use serde_json::{json, Value};

use crate::plan::Plan;

/// The plan as scripts read it: only actions that do something appear under `changes`.
pub fn render_json_value(plan: &Plan) -> Value {
    let changes: Vec<Value> = plan
        .actions()
        .map(|c| {
            let mut change = json!({"account": c.account, "address": c.address, "action": c.action().as_str(), "id": c.id(), "diff": c.diff});
            if let Some(from) = &c.moved_from {
                change["moved_from"] = json!(from);
            }
            if !c.notes.is_empty() {
                change["notes"] = json!(c.notes.iter().map(ToString::to_string).collect::<Vec<_>>());
            }
            change
        })
        .collect();
    let drift: Vec<Value> = plan
        .drift
        .iter()
        .map(|d| {
            let mut entry = json!({"account": d.account, "address": d.address, "id": d.id, "diff": d.diff});
            if d.deleted {
                entry["deleted"] = json!(true);
            }
            entry
        })
        .collect();
    let s = plan.summary();
    let mut rendered = json!({
        "format_version": plan.format_version,
        "state": {"lineage": plan.state.lineage, "serial": plan.state.serial},
        "changes": changes,
        "drift": drift,
        "warnings": plan.warnings.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "summary": {"create": s.create, "update": s.update, "delete": s.delete, "move": s.moves,
                    "import": s.import, "forget": s.forget, "no_op": s.no_op},
    });
    // Only plans that change accounts carry the list: a plan of one account reads as it always has.
    if !plan.accounts.is_empty() {
        let accounts: Vec<Value> = plan
            .accounts
            .iter()
            .map(|change| {
                let mut entry = serde_json::to_value(&change.step).unwrap_or_default();
                if let Some(object) = entry.as_object_mut() {
                    object.insert("account".into(), json!(change.account));
                }
                entry
            })
            .collect();
        rendered["accounts"] = json!(accounts);
    }
    if !plan.transfers.is_empty() {
        rendered["transfers"] = json!(plan.transfers);
    }
    rendered
}

pub fn render_json(plan: &Plan) -> String {
    let mut text = serde_json::to_string_pretty(&render_json_value(plan)).unwrap_or_default();
    text.push('\n');
    text
}
