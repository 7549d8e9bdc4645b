//! One plan over every account: each account's applications, the accounts themselves (the
//! subaccounts vapp makes, resumes and suspends), and the numbers that cross between them.
//!
//! Pure, like the rest of the planner: the manifests, the state, one [`World`] per account read
//! (`default` among them, first, and not special) and the primary's listing of its subaccounts in;
//! a complete [`Plan`] out, which the executor (`apply::realize`) carries out in the order the README
//! fixes and the plan lists:
//!
//! 1. accounts made or resumed;
//! 2. numbers transferred in to the account that now lists them;
//! 3. applications (the old half of each move between accounts first), with their number links;
//! 4. deletes and unlinks;
//! 5. numbers still owned by a subaccount being suspended, returned to its primary;
//! 6. suspensions, last, once nothing is left in them.
//!
//! Invariants kept here, not by the executor: a subaccount is suspended only when nothing vapp keeps
//! is left in it after the plan (a protected application keeps it in use, with a warning), and every
//! number it still owns is returned first; a suspended subaccount that holds what the plan must touch
//! is resumed first; a move between accounts is planned whole or refused.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::world::{as_last_applied, Seen, Subaccount, World};
use super::{Action, Change, Plan, PlanError, Warning};
use crate::manifest::accounts::AccountKind;
use crate::manifest::Desired;
use crate::model::{AccountName, Address, ApiKey, Listed, Msisdn, Number};
use crate::state::State;

/// What a plan over every account is made from.
pub struct PlanningInput<'a> {
    pub desired: &'a Desired,
    /// `None` before the first apply.
    pub state: Option<&'a State>,
    /// Every account this run read: `default` first when it was read.
    pub worlds: &'a [World],
    /// The primary's subaccounts (empty unless the run spans subaccounts vapp makes).
    pub subaccounts: &'a [Subaccount],
    /// Only these addresses are considered; all when empty.
    pub targets: &'a [Address],
    /// `--account`: only these accounts' changes; all when empty.
    pub only: &'a [AccountName],
    pub goal: Goal,
}

/// What the plan is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Goal {
    /// Make the accounts match the manifests.
    Apply,
    /// Delete every managed application (the manifests only say how to sign in); without targets,
    /// the subaccounts vapp made are then suspended.
    Destroy,
}

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
        api_key: ApiKey,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        name: Option<Changed<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        use_primary_account_balance: Option<Changed<bool>>,
        /// It is suspended, and is resumed: why.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<Resume>,
    },
    /// `PATCH suspended: true`: it left the manifests (Vonage cannot delete a subaccount).
    Suspend { api_key: ApiKey },
}

/// Why a suspended subaccount is resumed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Resume {
    /// vapp suspended it when it left the manifests; they declare it again.
    DeclaredAgain,
    /// It is declared, and someone suspended it outside vapp (drift).
    SuspendedOutsideVapp,
    /// It leaves the manifests, but still holds applications or numbers vapp must take out of it
    /// first; it is suspended again at the end.
    ToEmptyIt,
}

/// A number moved from one account to another (`transfer-number`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub number: Msisdn,
    /// Empty when the plan could not read it (the number is in a suspended account): the transfer
    /// asks the account once it is resumed.
    pub country: String,
    pub from: AccountName,
    pub to: AccountName,
    #[serde(default, skip_serializing_if = "TransferReason::is_listed")]
    pub reason: TransferReason,
}

/// Why a number is transferred.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferReason {
    /// The manifests list it under an application of the account it goes to: before the
    /// applications' changes.
    #[default]
    Listed,
    /// Its subaccount is being suspended: returned to the primary after the deletes, so that nothing
    /// stays rented in an account nobody can use.
    Returned,
}

impl TransferReason {
    pub fn is_listed(&self) -> bool {
        *self == TransferReason::Listed
    }
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

/// `--account` names one account of a move and not the other: carrying out half of it would either
/// leave the old application behind or take the address from it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{address}` moves from account {from} to account {to}, and --account names only one of them")]
pub struct HalfAMove {
    pub address: Address,
    pub from: AccountName,
    pub to: AccountName,
}

/// An address whose application the manifests put in another account than the state's: Vonage
/// cannot move an application between accounts, so it is created in `to` and deleted from `from`.
#[derive(Debug, PartialEq, Eq)]
pub struct MovedBetweenAccounts {
    pub address: Address,
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
    let in_state = |address: &Address| {
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
    // The account planner reads no declaration: leaving them out keeps a thousand parts cheap.
    Desired { apps, refactoring, accounts: indexmap::IndexMap::new() }
}

/// The state's part in `account`: its applications and the number updates under way to them. Only
/// those are copied (a run over a thousand accounts makes a thousand parts).
pub fn state_in(state: &State, account: &AccountName) -> State {
    let mut part = State::new(state.lineage.clone());
    part.serial = state.serial;
    part.account = state.account.clone();
    part.encryption = state.encryption.clone();
    part.applications = state
        .applications
        .iter()
        .filter(|(_, entry)| &entry.account_name() == account)
        .map(|(address, entry)| (address.clone(), entry.clone()))
        .collect();
    let default = account.is_default();
    part.numbers_pending = state
        .numbers_pending
        .iter()
        .filter(|(_, pending)| pending.to.as_ref().map_or(default, |to| part.applications.contains_key(to)))
        .map(|(msisdn, pending)| (msisdn.clone(), pending.clone()))
        .collect();
    part
}

/// What the planner sees in one world: its listing, nothing, or (suspended) what vapp last applied.
struct Sight<'w> {
    world: &'w World,
    live: std::borrow::Cow<'w, [Listed]>,
    numbers: std::borrow::Cow<'w, [Number]>,
}

/// One plan over every world, in an apply's order (see the module's doc).
pub fn plan_all(input: &PlanningInput<'_>) -> Result<Plan, PlanError> {
    let (desired, state) = (input.desired, input.state);
    refuse_moves_that_cannot_be(input)?;
    let sights: Vec<Sight> = input
        .worlds
        .iter()
        .map(|world| match (&world.seen, state) {
            (Seen::Suspended, Some(state)) => {
                let (live, numbers) = as_last_applied(state, &world.account);
                Sight { world, live: live.into(), numbers: numbers.into() }
            }
            _ => Sight { world, live: world.live().into(), numbers: world.numbers().into() },
        })
        .collect();
    let transfers_in = transfers_in(desired, &sights);
    let mut plan = Plan::empty(super::StateRef {
        lineage: state.map(|s| s.lineage.clone()),
        serial: state.map_or(0, |s| s.serial),
    });
    let mut unmatched_targets: Option<BTreeSet<Address>> = None;
    for sight in &sights {
        let account = &sight.world.account;
        let scope = super::planner::Scope {
            account: account.clone(),
            arriving: transfers_in
                .iter()
                .filter(|t| &t.to == account)
                .map(|t| Number { msisdn: t.number.clone(), country: t.country.clone(), app_id: None })
                .collect(),
            leaving: transfers_in.iter().filter(|t| &t.from == account).map(|t| t.number.clone()).collect(),
        };
        let part_desired = desired_in(desired, account, state);
        let part_state = state.map(|s| state_in(s, account));
        let part_input = super::PlanInput {
            desired: &part_desired,
            state: part_state.as_ref(),
            live: &sight.live,
            targets: input.targets,
            numbers: &sight.numbers,
        };
        let part = super::planner::plan_in(&part_input, &scope)?;
        // A target matches nothing only if it matches nothing in any account.
        let mut unmatched = BTreeSet::new();
        for warning in part.warnings {
            match warning {
                Warning::TargetMatchesNothing { target } => drop(unmatched.insert(target)),
                other => plan.warnings.push(other),
            }
        }
        unmatched_targets = Some(match unmatched_targets {
            None => unmatched,
            Some(before) => before.intersection(&unmatched).cloned().collect(),
        });
        plan.changes.extend(part.changes);
        plan.drift.extend(part.drift);
        if let Some(api_key) = &sight.world.api_key {
            plan.api_keys.insert(account.clone(), api_key.clone());
        }
    }
    let unmatched = unmatched_targets.unwrap_or_else(|| input.targets.iter().cloned().collect());
    plan.warnings.extend(unmatched.into_iter().map(|target| Warning::TargetMatchesNothing { target }));
    warn_of_moves(input, &mut plan)?;
    let (first, last, returned, warnings) = account_changes(input, &sights, &transfers_in, &plan.changes);
    plan.accounts = first.into_iter().chain(last).collect();
    plan.transfers = transfers_in.into_iter().chain(returned).collect();
    plan.warnings.extend(warnings);
    limit_to_accounts(&mut plan, input.only);
    Ok(plan)
}

/// The errors a move between accounts can be, found before anything is planned: a `moved:` entry that
/// crosses accounts, and `--account` naming one account of a move and not the other.
fn refuse_moves_that_cannot_be(input: &PlanningInput<'_>) -> Result<(), PlanError> {
    let (desired, state) = (input.desired, input.state);
    let Some(state) = state else { return Ok(()) };
    for moved in &desired.refactoring.moved {
        let (Some(held), Some(wanted)) = (state.applications.get(&moved.from), desired.apps.get(&moved.to)) else {
            continue;
        };
        if held.account_name() != wanted.account {
            return Err(PlanError::MovedAcrossAccounts {
                moved: Box::new(moved.clone()),
                from_account: held.account_name(),
                to_account: wanted.account.clone(),
            });
        }
    }
    if input.only.is_empty() {
        return Ok(());
    }
    for moved in moved_between_accounts(desired, Some(state)) {
        if input.only.contains(&moved.from) != input.only.contains(&moved.to) {
            return Err(PlanError::HalfAMove(HalfAMove { address: moved.address, from: moved.from, to: moved.to }));
        }
    }
    Ok(())
}

/// Each account's own planning made the two halves of a move (a create where the manifests put it,
/// its removal where the state has it); only here are both in sight. A move is warned of, or refused
/// when vapp cannot take the old application out in this plan.
fn warn_of_moves(input: &PlanningInput<'_>, plan: &mut Plan) -> Result<(), PlanError> {
    let read = |account: &AccountName| input.worlds.iter().any(|w| &w.account == account);
    for moved in moved_between_accounts(input.desired, input.state) {
        if !read(&moved.from) || !read(&moved.to) {
            continue;
        }
        let action_in = |account: &AccountName| {
            plan.changes.iter().find(|c| c.address == moved.address && &c.account == account).map(Change::action)
        };
        let new_half = matches!(action_in(&moved.to), Some(Action::Create | Action::Import));
        match action_in(&moved.from) {
            Some(Action::Delete) if new_half => plan.warnings.push(Warning::MovesBetweenAccounts {
                address: moved.address,
                from: moved.from,
                to: moved.to,
            }),
            // Taken out of the state without a delete (`removed:`, gone already): nothing to warn of.
            Some(Action::Forget) => {}
            None if !new_half => {}
            other => {
                let why = match other {
                    Some(Action::NoOp) | None => super::MoveBlocked::Kept,
                    _ => super::MoveBlocked::StillChanging,
                };
                return Err(PlanError::MoveBlocked { address: moved.address, from: moved.from, to: moved.to, why });
            }
        }
    }
    Ok(())
}

/// Whether `change` is the old half of a move between accounts: it takes the address's record out of
/// the state (a delete, or a forget of a protected one) while another account's change creates or
/// imports it. The state holds one record per address, so the executor runs these first.
pub fn moving_out(plan: &Plan, change: &Change) -> bool {
    !matches!(change.action(), Action::Create | Action::Import | Action::NoOp)
        && plan.changes.iter().any(|other| {
            other.address == change.address
                && other.account != change.account
                && matches!(other.action(), Action::Create | Action::Import)
        })
}

/// The numbers listed under an application of one account and owned by another (the primary and
/// one of its accounts: Vonage transfers within a family only, and refuses otherwise).
fn transfers_in(desired: &Desired, sights: &[Sight<'_>]) -> Vec<Transfer> {
    let mut found = Vec::new();
    for app in desired.apps.values() {
        let Some(here) = sights.iter().find(|s| s.world.account == app.account) else { continue };
        for wanted in &app.numbers {
            if here.numbers.iter().any(|n| n.msisdn == wanted.msisdn) {
                continue;
            }
            let owner = sights.iter().find(|s| {
                s.world.account != app.account
                    && (s.world.account.is_default() || app.account.is_default())
                    && s.numbers.iter().any(|n| n.msisdn == wanted.msisdn)
            });
            if let Some(owner) = owner {
                let country = owner.numbers.iter().find(|n| n.msisdn == wanted.msisdn).map(|n| n.country.clone());
                found.push(Transfer {
                    number: wanted.msisdn.clone(),
                    country: country.unwrap_or_default(),
                    from: owner.world.account.clone(),
                    to: app.account.clone(),
                    reason: TransferReason::Listed,
                });
            }
        }
    }
    found
}

/// The accounts' own changes: those carried out first (made, changed, resumed), those carried out
/// last (suspensions), the numbers returned before a suspension, and warnings.
fn account_changes(
    input: &PlanningInput<'_>,
    sights: &[Sight<'_>],
    transfers_in: &[Transfer],
    changes: &[Change],
) -> (Vec<AccountChange>, Vec<AccountChange>, Vec<Transfer>, Vec<Warning>) {
    let (mut first, mut last, mut returned, mut warnings) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let state = input.state;
    let record_of = |name: &AccountName| state.and_then(|s| s.accounts.get(name));
    let shown = |api_key: &ApiKey| input.subaccounts.iter().find(|s| &s.api_key == api_key);
    let declared_here = |account: &AccountName| {
        input.goal == Goal::Apply
            && input.desired.accounts.get(account).is_some_and(|d| matches!(d.kind, AccountKind::Subaccount { .. }))
    };
    if input.goal == Goal::Apply {
        for declared in input.desired.accounts.values() {
            let AccountKind::Subaccount { parent, name, use_primary_account_balance } = &declared.kind else {
                continue;
            };
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
                first.push(AccountChange { account, step });
                continue;
            };
            // What Vonage shows now, where the listing has it; what vapp last applied otherwise.
            let (name_now, balance_now, suspended_now) = match shown(api_key) {
                Some(s) => (s.name.clone(), s.use_primary_account_balance, s.suspended),
                None => (made.name.clone(), made.use_primary_account_balance, made.suspended),
            };
            let name_change = (&name_now != name).then(|| Changed { before: name_now, after: name.clone() });
            let balance_change = (balance_now != *use_primary_account_balance)
                .then_some(Changed { before: balance_now, after: *use_primary_account_balance });
            let resume = suspended_now.then_some(match made.suspended {
                true => Resume::DeclaredAgain,
                false => Resume::SuspendedOutsideVapp,
            });
            if name_change.is_some() || balance_change.is_some() || resume.is_some() {
                let step = AccountStep::Update {
                    api_key: api_key.clone(),
                    name: name_change,
                    use_primary_account_balance: balance_change,
                    resume,
                };
                first.push(AccountChange { account, step });
            }
        }
    }
    // Subaccounts vapp made that leave: suspended once nothing vapp keeps is left in them. A destroy
    // with targets leaves every account as it is.
    if input.goal == Goal::Destroy && !input.targets.is_empty() {
        return (first, last, returned, warnings);
    }
    for (account, record) in state.map(|s| &s.accounts).into_iter().flatten() {
        let (Some(api_key), Some(made)) = (&record.api_key, &record.subaccount) else { continue };
        if declared_here(account) {
            continue;
        }
        let suspended_now = shown(api_key).map_or(made.suspended, |s| s.suspended);
        // What the state still holds there once this plan is carried out: everything but what its
        // changes take out (deleted, forgotten, moved out).
        let removed: BTreeSet<&Address> =
            changes.iter().filter(|c| &c.account == account && c.step.removes()).map(|c| &c.address).collect();
        let kept: Vec<Address> = state
            .into_iter()
            .flat_map(|s| s.applications.iter())
            .filter(|(address, entry)| &entry.account_name() == account && !removed.contains(address))
            .map(|(address, _)| address.clone())
            .collect();
        if !kept.is_empty() {
            if !suspended_now {
                warnings.push(Warning::SubaccountKept { account: account.clone(), keeps: kept });
            }
            continue;
        }
        // Every number it still owns goes back to the primary (those moving to another account by
        // the manifests go there instead).
        let sight = sights.iter().find(|s| &s.world.account == account);
        let mut owned: Vec<Number> = sight.map(|s| s.numbers.to_vec()).unwrap_or_default();
        owned.retain(|n| !transfers_in.iter().any(|t| t.number == n.msisdn && &t.from == account));
        let inside = changes.iter().any(|c| &c.account == account && c.action() != Action::NoOp)
            || transfers_in.iter().any(|t| &t.from == account);
        if suspended_now && !inside && owned.is_empty() {
            continue;
        }
        if suspended_now {
            let step = AccountStep::Update {
                api_key: api_key.clone(),
                name: None,
                use_primary_account_balance: None,
                resume: Some(Resume::ToEmptyIt),
            };
            first.push(AccountChange { account: account.clone(), step });
        }
        returned.extend(owned.into_iter().map(|n| Transfer {
            number: n.msisdn,
            country: n.country,
            from: account.clone(),
            to: made.parent.clone(),
            reason: TransferReason::Returned,
        }));
        last.push(AccountChange { account: account.clone(), step: AccountStep::Suspend { api_key: api_key.clone() } });
    }
    (first, last, returned, warnings)
}

/// Every account's numbers in one list, as a plan over them saw them: a number being transferred
/// routes nowhere (it arrives unlinked), which is what the plan's changes start from.
pub fn numbers_everywhere(worlds: &[World], transfers: &[Transfer]) -> Vec<Number> {
    let mut all: Vec<Number> = worlds.iter().flat_map(|w| w.numbers().iter().cloned()).collect();
    for number in &mut all {
        if transfers.iter().any(|t| t.number == number.msisdn) {
            number.app_id = None;
        }
    }
    all
}

/// Keeps only what `accounts` are concerned by (`--account`): their changes, drift and account
/// changes. Empty `accounts` keeps everything.
fn limit_to_accounts(plan: &mut Plan, accounts: &[AccountName]) {
    if accounts.is_empty() {
        return;
    }
    plan.changes.retain(|c| accounts.contains(&c.account));
    plan.drift.retain(|d| accounts.contains(&d.account));
    plan.accounts.retain(|a| accounts.contains(&a.account));
    plan.transfers.retain(|t| accounts.contains(&t.to) || accounts.contains(&t.from));
    plan.warnings.retain(|w| match w {
        Warning::MovesBetweenAccounts { to, .. } => accounts.contains(to),
        Warning::SubaccountKept { account, .. } => accounts.contains(account),
        _ => true,
    });
}
