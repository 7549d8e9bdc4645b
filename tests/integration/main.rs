//! Integration tests: the real client and the real binary against the emulator on 127.0.0.1.
//! One test binary (faster to link); each module covers one area.

mod account_lives;
mod accounts;
mod cli;
mod client;
mod converge;
#[cfg(unix)]
mod cutting_proxy;
mod emulator;
#[cfg(unix)]
mod engine_faults;
#[cfg(unix)]
mod engines;
mod faults;
mod gitops;
mod harness;
mod hostile;
mod keys;
mod manifests;
mod numbers;
mod openapi;
mod policies;
mod reconcile;
mod reorganise;
mod rough_edges;
mod secrets;
#[cfg(unix)]
mod shared_state;
mod subaccounts;
mod transcripts;
mod webapp;
mod webhooks;
