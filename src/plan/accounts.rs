//! The accounts' own part of a plan: the subaccounts vapp makes, renames, and suspends.
//!
//! Pure, like the rest of the planner: the manifests' declarations, the state's records and the
//! primary's listing of its subaccounts in, the changes out. They are carried out before any
//! application's change (an application needs its account to exist). Vonage has no delete for a
//! subaccount: one that leaves the manifests is suspended, and one that comes back is resumed.

use serde::{Deserialize, Serialize};

use crate::api::SubaccountInfo;
use crate::manifest::accounts::AccountKind;
use crate::manifest::Desired;
use crate::model::AccountName;
use crate::state::State;

/// One account's change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountChange {
    pub account: AccountName,
    pub step: AccountStep,
}

/// What happens to the account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum AccountStep {
    /// `POST /accounts/{parent}/subaccounts` with a secret vapp makes and keeps. `again` when an
    /// earlier create's outcome is unknown: it is looked for first (by name, and by its secret working),
    /// and sent again with the same secret only when it is not there.
    Create {
        parent: AccountName,
        name: String,
        use_primary_account_balance: bool,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        again: bool,
    },
    /// `PATCH` of what changed (`name`, `use_primary_account_balance`, `suspended: false`).
    Update {
        api_key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Changed<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        use_primary_account_balance: Option<Changed<bool>>,
        /// It was suspended and is wanted again.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        resume: bool,
    },
    /// `PATCH suspended: true`: it left the manifests (Vonage cannot delete a subaccount).
    Suspend { api_key: String },
}

/// A number moved from one account to another (`transfer-number`) before it is linked there.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub number: crate::model::Msisdn,
    pub country: String,
    pub from: AccountName,
    pub to: AccountName,
}

/// A value before and after.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Changed<T> {
    pub before: T,
    pub after: T,
}

impl AccountStep {
    /// The word plans and the JSON use.
    pub fn action(&self) -> &'static str {
        match self {
            AccountStep::Create { .. } => "create",
            AccountStep::Update { .. } => "update",
            AccountStep::Suspend { .. } => "suspend",
        }
    }
}

/// The account changes that make the primary's subaccounts match the manifests.
pub fn plan_accounts(desired: &Desired, state: Option<&State>, live: &[SubaccountInfo]) -> Vec<AccountChange> {
    let mut changes = Vec::new();
    let record_of = |name: &AccountName| state.and_then(|s| s.accounts.get(name));
    for declared in desired.accounts.values() {
        let AccountKind::Subaccount { parent, name, use_primary_account_balance } = &declared.kind else { continue };
        let account = declared.name.clone();
        let record = record_of(&account);
        let made = record.and_then(|r| Some((r.api_key.as_ref()?, r.subaccount.as_ref()?)));
        let Some((api_key, made)) = made else {
            let again = record.and_then(|r| r.subaccount.as_ref()).is_some_and(|s| s.creating);
            let step = AccountStep::Create {
                parent: parent.clone(),
                name: name.clone(),
                use_primary_account_balance: *use_primary_account_balance,
                again,
            };
            changes.push(AccountChange { account, step });
            continue;
        };
        // What Vonage shows now, where the listing has it; what vapp last applied otherwise.
        let shown = live.iter().find(|s| &s.api_key == api_key);
        let (name_now, balance_now, suspended_now) = match shown {
            Some(s) => (s.name.clone(), s.use_primary_account_balance, s.suspended),
            None => (made.name.clone(), made.use_primary_account_balance, made.suspended),
        };
        let name_change = (&name_now != name).then(|| Changed { before: name_now, after: name.clone() });
        let balance_change = (balance_now != *use_primary_account_balance)
            .then_some(Changed { before: balance_now, after: *use_primary_account_balance });
        if name_change.is_some() || balance_change.is_some() || suspended_now {
            let step = AccountStep::Update {
                api_key: api_key.clone(),
                name: name_change,
                use_primary_account_balance: balance_change,
                resume: suspended_now,
            };
            changes.push(AccountChange { account, step });
        }
    }
    for (account, record) in state.map(|s| &s.accounts).into_iter().flatten() {
        let (Some(api_key), Some(made)) = (&record.api_key, &record.subaccount) else { continue };
        if desired.accounts.contains_key(account) {
            continue;
        }
        let suspended_now = live.iter().find(|s| &s.api_key == api_key).map_or(made.suspended, |s| s.suspended);
        if !suspended_now {
            changes.push(AccountChange {
                account: account.clone(),
                step: AccountStep::Suspend { api_key: api_key.clone() },
            });
        }
    }
    changes
}

/// One account's part of what a plan is made from.
pub struct AccountWorld<'a> {
    pub account: AccountName,
    /// Its applications (whole where the state names them) and numbers; empty for a subaccount not
    /// made yet.
    pub live: &'a [crate::model::Listed],
    pub numbers: &'a [crate::model::Number],
}

/// An address whose application the manifests put in another account than the state's: Vonage
/// cannot move an application between accounts, so it is created in `to` and deleted from `from`.
#[derive(Debug, PartialEq, Eq)]
pub struct MovedBetweenAccounts {
    pub address: crate::model::Address,
    pub from: AccountName,
    pub to: AccountName,
}

/// Every address the manifests put in another account than the state's.
pub fn moved_between_accounts(desired: &Desired, state: Option<&State>) -> Vec<MovedBetweenAccounts> {
    let Some(state) = state else { return Vec::new() };
    desired
        .apps
        .values()
        .filter_map(|app| {
            let entry = state.applications.get(&app.address)?;
            let from = entry.account_name();
            (from != app.account).then(|| MovedBetweenAccounts {
                address: app.address.clone(),
                from,
                to: app.account.clone(),
            })
        })
        .collect()
}

/// The manifests' part in `account`: its applications, and the reorganisation entries about them.
pub fn desired_in(desired: &Desired, account: &AccountName, state: Option<&State>) -> Desired {
    let in_state = |address: &crate::model::Address| {
        state.and_then(|s| s.applications.get(address)).is_some_and(|e| &e.account_name() == account)
    };
    let apps: indexmap::IndexMap<_, _> = desired
        .apps
        .iter()
        .filter(|(_, app)| &app.account == account)
        .map(|(a, app)| (a.clone(), app.clone()))
        .collect();
    let mut refactoring = desired.refactoring.clone();
    refactoring.moved.retain(|m| apps.contains_key(&m.to) || in_state(&m.from));
    refactoring.removed.retain(|r| in_state(&r.address));
    refactoring.imports.retain(|i| apps.contains_key(&i.address));
    Desired { apps, refactoring, accounts: desired.accounts.clone() }
}

/// The state's part in `account`: its applications and the number updates under way to them.
pub fn state_in(state: &State, account: &AccountName) -> State {
    let mut part = state.clone();
    part.applications.retain(|_, entry| &entry.account_name() == account);
    let default = account.is_default();
    part.numbers_pending
        .retain(|_, pending| pending.to.as_ref().map_or(default, |to| part.applications.contains_key(to)));
    part
}

/// One plan over every account: each planned on its own part of the manifests and the state, its
/// changes and drift marked with its name, in the order the worlds come (the `default` first).
pub fn plan_everywhere(
    desired: &Desired,
    state: Option<&State>,
    worlds: &[AccountWorld<'_>],
    targets: &[crate::model::Address],
) -> Result<super::Plan, super::PlanError> {
    // A number the manifests list under an application of one account while another account owns it
    // is transferred first: each account is then planned as if the transfer were done (the number
    // owned, linked to nothing, where it goes; gone where it was).
    if let Some(state) = state {
        for moved in &desired.refactoring.moved {
            let (Some(held), Some(wanted)) = (state.applications.get(&moved.from), desired.apps.get(&moved.to)) else {
                continue;
            };
            if held.account_name() != wanted.account {
                return Err(super::PlanError::MovedAcrossAccounts {
                    moved: Box::new(moved.clone()),
                    from_account: held.account_name(),
                    to_account: wanted.account.clone(),
                });
            }
        }
    }
    let transfers = transfers(desired, worlds);
    let mut numbers: Vec<Vec<crate::model::Number>> = worlds.iter().map(|w| w.numbers.to_vec()).collect();
    for transfer in &transfers {
        let from = worlds.iter().position(|w| w.account == transfer.from);
        let to = worlds.iter().position(|w| w.account == transfer.to);
        if let (Some(from), Some(to)) = (from, to) {
            numbers[from].retain(|n| n.msisdn != transfer.number);
            numbers[to].push(crate::model::Number {
                msisdn: transfer.number.clone(),
                country: transfer.country.clone(),
                app_id: None,
            });
        }
    }
    let mut merged: Option<super::Plan> = None;
    for (world, numbers) in worlds.iter().zip(&numbers) {
        let part_desired = desired_in(desired, &world.account, state);
        let part_state = state.map(|s| state_in(s, &world.account));
        let input =
            super::PlanInput { desired: &part_desired, state: part_state.as_ref(), live: world.live, targets, numbers };
        let mut plan = super::plan(&input)?;
        for change in &mut plan.changes {
            change.account = world.account.clone();
        }
        for drift in &mut plan.drift {
            drift.account = world.account.clone();
        }
        match merged.as_mut() {
            None => merged = Some(plan),
            Some(all) => {
                all.changes.extend(plan.changes);
                all.drift.extend(plan.drift);
                all.warnings.extend(plan.warnings);
            }
        }
    }
    let empty = super::PlanInput { desired, state, live: &[], targets, numbers: &[] };
    let mut plan = match merged {
        Some(plan) => plan,
        None => super::plan(&empty)?,
    };
    plan.transfers = transfers;
    // Each account's own planning made the two halves of a move (a create where the manifests put
    // it, its removal where the state has it); only here are both in sight.
    for moved in moved_between_accounts(desired, state) {
        let action_in = |account: &AccountName| {
            plan.changes.iter().find(|c| c.address == moved.address && &c.account == account).map(super::Change::action)
        };
        let new_half = matches!(action_in(&moved.to), Some(super::Action::Create | super::Action::Import));
        match action_in(&moved.from) {
            Some(super::Action::Delete) if new_half => plan.warnings.push(super::Warning::MovesBetweenAccounts {
                address: moved.address,
                from: moved.from,
                to: moved.to,
            }),
            // Taken out of the state without a delete (`removed:`, gone already): nothing to warn of.
            Some(super::Action::Forget) => {}
            None if !new_half => {}
            other => {
                let why = match other {
                    Some(super::Action::NoOp) | None => "it is protected, being handed to another state, or an earlier create's outcome is unknown; remove `protect` or settle it first, or give the new application another address",
                    _ => "its old application is still being changed",
                };
                return Err(super::PlanError::MoveBlocked {
                    address: moved.address,
                    from: moved.from,
                    to: moved.to,
                    why: why.to_string(),
                });
            }
        }
    }
    Ok(plan)
}

/// The numbers listed under an application of one account and owned by another (the primary and
/// one of its accounts: Vonage transfers within a family only, and refuses otherwise).
fn transfers(desired: &Desired, worlds: &[AccountWorld<'_>]) -> Vec<Transfer> {
    let mut found = Vec::new();
    for app in desired.apps.values() {
        let Some(here) = worlds.iter().find(|w| w.account == app.account) else { continue };
        for wanted in &app.numbers {
            if here.numbers.iter().any(|n| n.msisdn == wanted.msisdn) {
                continue;
            }
            let owner = worlds.iter().find(|w| {
                w.account != app.account
                    && (w.account.is_default() || app.account.is_default())
                    && w.numbers.iter().any(|n| n.msisdn == wanted.msisdn)
            });
            if let Some(owner) = owner {
                let country = owner.numbers.iter().find(|n| n.msisdn == wanted.msisdn).map(|n| n.country.clone());
                found.push(Transfer {
                    number: wanted.msisdn.clone(),
                    country: country.unwrap_or_default(),
                    from: owner.account.clone(),
                    to: app.account.clone(),
                });
            }
        }
    }
    found
}

/// `--account` names one account of a move and not the other: carrying out half of it would either
/// leave the old application behind or take the address from it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{address}` moves from account {from} to account {to}, and --account names only one of them")]
pub struct HalfAMove {
    pub address: crate::model::Address,
    pub from: AccountName,
    pub to: AccountName,
}

/// Every account's numbers in one list, as a plan over them saw them: a number being transferred
/// routes nowhere (it arrives unlinked), which is what the plan's changes start from.
pub fn numbers_everywhere(worlds: &[AccountWorld<'_>], transfers: &[Transfer]) -> Vec<crate::model::Number> {
    let mut all: Vec<crate::model::Number> = worlds.iter().flat_map(|w| w.numbers.iter().cloned()).collect();
    for number in &mut all {
        if transfers.iter().any(|t| t.number == number.msisdn) {
            number.app_id = None;
        }
    }
    all
}

/// Keeps only what `accounts` are concerned by (`--account`): their changes, drift and account
/// changes. Empty `accounts` keeps everything. A move between accounts is kept whole or refused.
pub fn limit_to_accounts(plan: &mut super::Plan, accounts: &[AccountName]) -> Result<(), HalfAMove> {
    if accounts.is_empty() {
        return Ok(());
    }
    for warning in &plan.warnings {
        if let super::Warning::MovesBetweenAccounts { address, from, to } = warning {
            if accounts.contains(from) != accounts.contains(to) {
                return Err(HalfAMove { address: address.clone(), from: from.clone(), to: to.clone() });
            }
        }
    }
    plan.changes.retain(|c| accounts.contains(&c.account));
    plan.drift.retain(|d| accounts.contains(&d.account));
    plan.accounts.retain(|a| accounts.contains(&a.account));
    plan.transfers.retain(|t| accounts.contains(&t.to));
    plan.warnings.retain(|w| match w {
        super::Warning::MovesBetweenAccounts { to, .. } => accounts.contains(to),
        _ => true,
    });
    Ok(())
}

/// How apply carries out a plan over several accounts, each round with one account's clients: first
/// the deletes of applications that move to another account (the state holds one record per address,
/// so the old application must leave it before the new one is made there), then every account's
/// other changes, one account after another in the plan's order.
pub fn apply_rounds(plan: &super::Plan) -> Vec<(AccountName, super::Plan)> {
    // A delete, or whatever else takes the old record out of the state (a protected one is forgotten).
    let moving_out = |change: &super::Change| {
        !matches!(change.action(), super::Action::Create | super::Action::Import | super::Action::NoOp)
            && plan.changes.iter().any(|other| {
                other.address == change.address
                    && other.account != change.account
                    && matches!(other.action(), super::Action::Create | super::Action::Import)
            })
    };
    let mut rounds: Vec<(AccountName, bool)> = Vec::new();
    for first in [true, false] {
        for change in &plan.changes {
            let round = (change.account.clone(), first);
            if moving_out(change) == first && !rounds.contains(&round) {
                rounds.push(round);
            }
        }
    }
    rounds
        .into_iter()
        .map(|(account, first)| {
            let mut part = plan.clone();
            part.changes.retain(|c| c.account == account && moving_out(c) == first);
            if first {
                // The account's drift is recorded with its other changes.
                part.drift.clear();
            } else {
                part.drift.retain(|d| d.account == account);
            }
            part.accounts.clear();
            part.transfers.clear();
            (account, part)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{load_sources, Source};
    use crate::state::{AccountRecord, HeldSecret, SubaccountRecord};

    fn desired(text: &str) -> Desired {
        load_sources(&[Source { path: "a.yaml".into(), text: text.into() }], &|_| None).unwrap()
    }

    const ACME: &str = "version: 1\naccounts:\n  acme:\n    subaccount_of: default\n    name: ACME Corp\n";

    fn made(name: &str, suspended: bool, creating: bool) -> State {
        let mut state = State::new("lin".into());
        let record = AccountRecord {
            api_key: (!creating).then(|| "k1".to_string()),
            subaccount: Some(SubaccountRecord {
                parent: AccountName::default_account(),
                name: name.into(),
                use_primary_account_balance: true,
                suspended,
                creating,
                secret: HeldSecret::Open { secret: crate::secret::Secret::new("Abcdefg1") },
            }),
        };
        state.accounts.insert(AccountName::new("acme"), record);
        state
    }

    fn live(name: &str, suspended: bool) -> SubaccountInfo {
        SubaccountInfo {
            api_key: "k1".into(),
            name: name.into(),
            primary_account_api_key: "sandbox".into(),
            use_primary_account_balance: true,
            suspended,
            created_at: None,
        }
    }

    #[test]
    fn a_new_subaccount_is_created_and_then_left_alone() {
        let changes = plan_accounts(&desired(ACME), None, &[]);
        assert_eq!(changes.len(), 1);
        assert!(matches!(&changes[0].step, AccountStep::Create { name, again: false, .. } if name == "ACME Corp"));
        let state = made("ACME Corp", false, false);
        assert!(plan_accounts(&desired(ACME), Some(&state), &[live("ACME Corp", false)]).is_empty());
    }

    #[test]
    fn a_create_whose_answer_was_lost_is_planned_again_to_be_found() {
        let state = made("ACME Corp", false, true);
        let changes = plan_accounts(&desired(ACME), Some(&state), &[]);
        assert!(matches!(&changes[0].step, AccountStep::Create { again: true, .. }));
    }

    #[test]
    fn renames_and_resumes_are_updates_and_leaving_suspends() {
        let state = made("ACME Corp", false, false);
        let changes = plan_accounts(&desired(ACME), Some(&state), &[live("Renamed by hand", true)]);
        let AccountStep::Update { name: Some(name), resume: true, use_primary_account_balance: None, .. } =
            &changes[0].step
        else {
            panic!("{changes:?}")
        };
        assert_eq!((name.before.as_str(), name.after.as_str()), ("Renamed by hand", "ACME Corp"));
        let gone = plan_accounts(&desired("version: 1\n"), Some(&state), &[live("ACME Corp", false)]);
        assert_eq!(gone[0].step, AccountStep::Suspend { api_key: "k1".into() });
        assert!(plan_accounts(&desired("version: 1\n"), Some(&state), &[live("ACME Corp", true)]).is_empty());
    }
}
