//! The words of notes and warnings: the one place where the planner's typed reasons become text.

use std::fmt;

use crate::model::Msisdn;
use crate::plan::{Note, Warning};

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Note::LostCreateFound => {
                f.write_str("an earlier create reached the account but its answer was lost; found by its key")
            }
            Note::GoneFromAccount { id } => write!(f, "application {id} is gone from the account; it is created again"),
            Note::CreateSentAgain => {
                f.write_str("an earlier create did not reach the account; it is sent again with the same key")
            }
            Note::AlreadyGone => f.write_str("already gone from the account; only the state entry is removed"),
            Note::CreateAbandoned => f.write_str(
                "an earlier create's answer was lost and it is no longer wanted; if it reached the account after all, it is deleted",
            ),
            Note::Interrupted { action } => {
                write!(f, "an earlier {} was interrupted; planned again from what the account holds", action.as_str())
            }
            Note::KeyFileRecorded { path } => {
                write!(f, "records the key of {} as the application's key", path.display())
            }
            Note::KeyFileReplacesLive { path } => {
                write!(f, "the live key is not the one in {}; it is replaced by it", path.display())
            }
            Note::RotationCompletes => f.write_str("an earlier rotation reached the account; it is completed"),
            Note::LiveKeyReplaced => {
                f.write_str("the live key was changed outside vapp; a new pair that vapp holds takes custody back")
            }
            Note::KeyFileDropped => {
                f.write_str("the manifest no longer names a public key file; vapp makes a pair and keeps it")
            }
            Note::RotationRequested => f.write_str("a new key pair was asked for with `vapp key rotate`"),
            Note::RotationRaised { from, to } => write!(f, "keys.rotation went from {from} to {to}"),
            Note::Imported => f.write_str("an `import:` entry takes it under management; vapp does not hold its private key"),
        }
    }
}

impl fmt::Display for Warning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Warning::TargetMatchesNothing { target } => {
                write!(f, "--target {target} matches no address in the manifests or the state")
            }
            Warning::AmbiguousLostCreate { address, count } => write!(
                f,
                "{address}: an earlier create's answer was lost and {count} unmanaged applications have its key and name; vapp cannot tell which is its own and leaves {address} alone (adopt the right one with `vapp state rm {address}` and `vapp import {address} ID`)"
            ),
            Warning::SameNameUnmanaged { address, name, id } => write!(
                f,
                "{address} will be created, but the account already has an unmanaged application named {name:?} ({id}); to manage that one instead, run `vapp import {address} {id}`"
            ),
            Warning::LiveKeyChanged { address } => write!(
                f,
                "the live key of {address} is not the one vapp holds (someone changed it outside vapp); this plan gives it a new pair (rotate-key) to take custody back"
            ),
            Warning::Protected { address } => write!(
                f,
                "{address} is protected and is not deleted; apply `protect: false` for it first to allow deletion"
            ),
            Warning::NumberTakenOver { msisdn, address, from_id, from_name, managed_as } => match managed_as {
                Some(other) => write!(
                    f,
                    "number {msisdn} is taken from {from_name:?} ({from_id}), which {other} manages outside the manifests, and linked to {address}"
                ),
                None => write!(
                    f,
                    "number {msisdn} is taken from {from_name:?} ({from_id}), which vapp does not manage, and linked to {address}"
                ),
            },
            Warning::NumberStatusCallbacksCleared { msisdns } => {
                let numbers: Vec<&str> = msisdns.iter().map(Msisdn::as_str).collect();
                write!(
                    f,
                    "updating number{} {} clears any voiceStatusCallback set on {}: the Numbers API does not show it, so vapp cannot keep it",
                    if numbers.len() == 1 { "" } else { "s" },
                    numbers.join(", "),
                    if numbers.len() == 1 { "it" } else { "them" }
                )
            }
            Warning::KeyLeavesState { address } => write!(
                f,
                "{address} is forgotten: the application stays in the account, but its private key leaves the state with it; to keep a copy, run `vapp key show {address} --out {address}.pem` before applying"
            ),
            Warning::LooksLikeRename { from, to } => write!(
                f,
                "{from} is deleted and {to} created with the settings {from} last had: if {to} is {from} under a new name, keep the application (its id, key and numbers) by adding\n    moved:\n      - {{ from: {from}, to: {to} }}"
            ),
            Warning::StateRenamedAhead { from, to } => write!(
                f,
                "the state calls {from} {to} since `vapp state mv {from} {to}`, but the manifests still declare {from}: rename {from} to {to} in the manifests, or run `vapp state mv {to} {from}` to undo the move"
            ),
            Warning::Leaving { address, to } => write!(
                f,
                "{address} is being handed to {to} and is left alone here; run the `vapp state mv {address} --to-state …` that started it again to finish"
            ),
            Warning::MovesBetweenAccounts { address, from, to } => write!(
                f,
                "{address} moves from account {from} to account {to}: Vonage cannot move an application between accounts, so it is created in {to} with a new id and a new key pair, and deleted from {from}; whatever uses its id or key must be given the new ones"
            ),
            Warning::SubaccountKept { account, keeps } => {
                let keeps: Vec<&str> = keeps.iter().map(|a| a.as_str()).collect();
                write!(
                    f,
                    "account {account} still holds applications vapp keeps ({}): it is not suspended until they leave it (a protected one needs `protect: false` applied first)",
                    keeps.join(", ")
                )
            }
        }
    }
}
