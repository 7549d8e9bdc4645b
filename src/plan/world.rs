//! What the planner sees of each account: one [`World`] per account a run reads, `default` among them
//! and not special.
//!
//! A world is built at the edge (`crate::accounts` reads them) and handed to the pure planner. Its
//! [`Seen`] says how much the run could see: a listing; nothing, for a subaccount vapp has not made
//! yet (it holds nothing); or nothing, for a suspended subaccount, which is never signed in to (its
//! credentials answer 401), and which the planner then sees as vapp last left it.

use crate::model::{AccountName, ApiKey, Listed, Number, Whole};
use crate::state::State;

/// One account as this run read it.
#[derive(Clone, Debug)]
pub struct World {
    pub account: AccountName,
    /// Its API key, as plans show it (`Account staging (1a2b3c4d)`); none for a subaccount not made yet.
    pub api_key: Option<ApiKey>,
    pub seen: Seen,
}

/// How much of an account a run could see.
#[derive(Clone, Debug)]
pub enum Seen {
    /// Its applications (whole where the state names them, a glimpse elsewhere) and its numbers.
    Listed { live: Vec<Listed>, numbers: Vec<Number> },
    /// A subaccount vapp makes that does not exist yet (or whose create's outcome is unknown: the
    /// account step looks for it first). It holds nothing.
    NotMade,
    /// A subaccount the primary's listing shows suspended: not read. The planner sees in it what the
    /// state says vapp last applied there (see [`as_last_applied`]).
    Suspended,
}

/// A subaccount as the primary's Subaccounts API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subaccount {
    pub api_key: ApiKey,
    pub name: String,
    pub use_primary_account_balance: bool,
    pub suspended: bool,
}

impl World {
    /// A world read in full.
    pub fn listed(account: AccountName, api_key: Option<ApiKey>, live: Vec<Listed>, numbers: Vec<Number>) -> Self {
        World { account, api_key, seen: Seen::Listed { live, numbers } }
    }

    /// The applications listed in it (none unless it was read).
    pub fn live(&self) -> &[Listed] {
        match &self.seen {
            Seen::Listed { live, .. } => live,
            Seen::NotMade | Seen::Suspended => &[],
        }
    }

    /// The numbers it owns (none unless it was read).
    pub fn numbers(&self) -> &[Number] {
        match &self.seen {
            Seen::Listed { numbers, .. } => numbers,
            Seen::NotMade | Seen::Suspended => &[],
        }
    }

    pub fn is_suspended(&self) -> bool {
        matches!(self.seen, Seen::Suspended)
    }
}

/// A suspended account as vapp last left it: each application the state holds there as last applied
/// (its key the one the state holds), and the numbers last seen routing to them. Their countries are
/// not known (an empty string): a transfer of one asks the account for it once it is resumed.
///
/// Planning from this is planning against what vapp itself wrote; what changed in the account outside
/// vapp before it was suspended shows in the first plan after it is resumed.
pub fn as_last_applied(state: &State, account: &AccountName) -> (Vec<Listed>, Vec<Number>) {
    let mut live = Vec::new();
    let mut numbers = Vec::new();
    for entry in state.applications.values().filter(|e| &e.account_name() == account) {
        let (Some(id), Some(applied)) = (&entry.id, &entry.applied) else { continue };
        let Ok(mut app) = serde_json::from_value::<crate::model::Application>(applied.clone()) else { continue };
        app.id = Some(id.clone());
        let fingerprint = entry.key.fingerprint().cloned();
        live.push(Listed::Whole(Box::new(Whole { app, fingerprint })));
        numbers.extend(entry.numbers.iter().map(|msisdn| Number {
            msisdn: msisdn.clone(),
            country: String::new(),
            app_id: Some(id.clone()),
        }));
    }
    // And the numbers vapp put in it that no application holds.
    let custody = state.accounts.get(account).and_then(|a| a.subaccount.as_ref()).map(|s| &s.numbers);
    for (msisdn, country) in custody.into_iter().flatten() {
        match numbers.iter_mut().find(|n| &n.msisdn == msisdn) {
            Some(number) => number.country.clone_from(country),
            None => numbers.push(Number { msisdn: msisdn.clone(), country: country.clone(), app_id: None }),
        }
    }
    (live, numbers)
}
