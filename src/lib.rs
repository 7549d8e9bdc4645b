//! vapp: Vonage API applications as code.
//!
//! The library holds everything; `main.rs` only calls [`cli::main`]. The functional core (manifest
//! loading, the model, planning and rendering) does no I/O; the shell (API client, state file, apply,
//! emulator, command line) does.

pub mod accounts;
pub mod api;
pub mod apply;
pub mod cli;
pub mod crash;
pub mod emulator;
pub mod excerpt;
pub mod fsutil;
pub mod humanise;
pub mod keys;
pub mod manifest;
pub mod model;
pub mod plan;
pub mod policy;
pub mod secret;
pub mod state;
pub mod webhooks;

/// A cause of any kind, kept as an error's source.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
