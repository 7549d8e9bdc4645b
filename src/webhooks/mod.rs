//! What Vonage calls: an application's webhooks, rung the way Vonage rings them. One caller serves
//! both `vapp check` (every webhook of the manifests, judged) and the emulator (simulated calls and
//! messages, carried out by the documented rules).
//!
//! - [`rules`]: Vonage's rules for calling webhooks — methods, signing, the payload hash, retries, the
//!   fallback, content types, body shapes — in one place (pure);
//! - [`hooks`]: which webhooks an application has and how each is called (pure);
//! - [`events`]: the request each kind gets (pure);
//! - [`sign`]: signed requests, HS256 as Vonage signs them (pure);
//! - [`ncco`]: reading an answer as an NCCO against the official schema (pure, bounded);
//! - [`call`]: the HTTP exchange, bounded in time and size, redirects never followed;
//! - [`ring`]: one webhook rung and its answer judged;
//! - [`check`] and [`report`]: `vapp check`'s run and its words;
//! - [`simulate`]: a simulated call or message carried out on a simulated clock, and its transcript;
//! - [`scenario`]: scenario files, their expectations judged against transcripts, and their reports.

pub mod call;
pub mod check;
pub mod events;
pub mod hooks;
pub mod ncco;
pub mod report;
pub mod ring;
pub mod rules;
pub mod scenario;
pub mod sign;
pub mod simulate;
