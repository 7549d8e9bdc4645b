//! What Vonage calls: the webhook caller shared by `vapp check` and the emulator.
//!
//! So far only the reader of what an `answer_url` answers ([`ncco`]); the caller itself comes with
//! `vapp check`.

pub mod ncco;
