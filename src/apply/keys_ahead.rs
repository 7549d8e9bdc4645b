//! Key pairs made ahead of the plan: a first apply is dominated by making RSA pairs, so their making
//! starts as soon as the manifests and the state say how many are likely needed, while the account is
//! still being listed and the plan made.
//!
//! Invariants: at most `count` pairs are made ahead, on at most `workers` threads; a pair is handed
//! out at most once; when the pairs made ahead run out (or their threads could not start), pairs are
//! made on demand, so a wrong guess costs time or wasted work, never a missing key. Pairs nobody took
//! are dropped with the source (their private halves are zeroed on drop) and never reach the state.
//! The threads are detached: a process that ends does not wait for a pair nobody will use.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};

use super::KeySource;
use crate::keys::{KeyError, KeyPair};

type Make = fn() -> Result<KeyPair, KeyError>;

/// A [`KeySource`] that hands out pairs made ahead, then makes more on demand.
pub struct KeysAhead {
    made: Mutex<Receiver<Result<KeyPair, KeyError>>>,
    /// Pairs made (or being made) ahead that nobody has taken yet.
    unclaimed: AtomicUsize,
    make: Make,
}

impl KeysAhead {
    /// Starts making `count` RSA pairs now, one thread per core.
    pub fn start(count: usize) -> Self {
        Self::start_with(count, super::keygen_workers(), crate::keys::generate)
    }

    fn start_with(count: usize, workers: usize, make: Make) -> Self {
        let (sender, made) = channel();
        let tickets = Arc::new(AtomicUsize::new(count));
        for _ in 0..workers.min(count) {
            let (sender, tickets) = (sender.clone(), tickets.clone());
            // A thread that cannot start makes nothing: its share is made on demand instead.
            let _ = std::thread::Builder::new().name("vapp-keys-ahead".into()).spawn(move || {
                while take_one(&tickets) {
                    if sender.send(make()).is_err() {
                        break;
                    }
                }
            });
        }
        KeysAhead { made: Mutex::new(made), unclaimed: AtomicUsize::new(count), make }
    }
}

impl KeySource for KeysAhead {
    fn generate(&self) -> Result<KeyPair, KeyError> {
        if take_one(&self.unclaimed) {
            let made = match self.made.lock() {
                Ok(made) => made.recv().ok(),
                Err(_) => None,
            };
            // `None`: every thread ahead has stopped (or never started) without this pair.
            if let Some(pair) = made {
                return pair;
            }
        }
        (self.make)()
    }
}

/// Takes one from `counter` unless it is zero.
fn take_one(counter: &AtomicUsize) -> bool {
    counter.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::PrivateKeyPem;
    use std::collections::BTreeSet;

    static MADE: AtomicUsize = AtomicUsize::new(0);

    /// A distinct stand-in pair per call (tests here are about who makes what, not RSA).
    fn fake() -> Result<KeyPair, KeyError> {
        let n = MADE.fetch_add(1, Ordering::SeqCst);
        Ok(KeyPair {
            private_key: PrivateKeyPem::new(format!("private {n}")),
            public_key: format!("public {n}"),
            fingerprint: crate::model::Fingerprint::new(format!("sha256:{n}")),
        })
    }

    #[test]
    fn every_pair_is_handed_out_once_and_more_are_made_on_demand() {
        let source = KeysAhead::start_with(5, 2, fake);
        let taken: Vec<crate::model::Fingerprint> =
            (0..8).map(|_| source.generate().map(|p| p.fingerprint)).collect::<Result<_, _>>().unwrap();
        let distinct: BTreeSet<&crate::model::Fingerprint> = taken.iter().collect();
        assert_eq!(distinct.len(), 8, "{taken:?}");
    }

    #[test]
    fn nothing_is_made_ahead_when_nothing_is_expected() {
        let source = KeysAhead::start_with(0, 4, fake);
        assert!(source.generate().is_ok());
        assert_eq!(source.unclaimed.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn concurrent_takers_each_get_their_own_pair() {
        let source = Arc::new(KeysAhead::start_with(16, 3, fake));
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let source = source.clone();
                std::thread::spawn(move || (0..5).map(|_| source.generate().unwrap().fingerprint).collect::<Vec<_>>())
            })
            .collect();
        let all: Vec<crate::model::Fingerprint> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
        assert_eq!(all.iter().collect::<BTreeSet<_>>().len(), 20);
    }

    #[test]
    fn a_failed_pair_made_ahead_is_reported_to_whoever_takes_it() {
        fn failing() -> Result<KeyPair, KeyError> {
            Err(KeyError::Generate("no entropy".into()))
        }
        let source = KeysAhead::start_with(1, 1, failing);
        assert!(source.generate().is_err());
    }
}
