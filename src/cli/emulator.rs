//! `vapp emulator`: serve a local Vonage Application API until interrupted.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::failure::{Context as _, Result};
use clap::Args;

use super::{Context, Exit};
use crate::emulator::{Emulator, EmulatorConfig, Faults, SignedAccount, DEFAULT_API_KEY, DEFAULT_API_SECRET};

#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on; port 0 picks a free port
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// API key accepted in Basic auth
    #[arg(long, default_value = DEFAULT_API_KEY)]
    pub api_key: String,
    /// API secret accepted in Basic auth; VAPP_EMULATOR_API_SECRET gives it without showing it to `ps`
    #[arg(long, env = "VAPP_EMULATOR_API_SECRET", hide_env_values = true, default_value = DEFAULT_API_SECRET)]
    pub api_secret: crate::secret::Secret,
    /// An existing subaccount of the primary, KEY:SECRET[:SIGNATURE_SECRET] (repeatable), the last the
    /// secret that signs its numbers' simulated traffic; more are made through the Subaccounts API.
    /// Each account sees only its own applications and numbers
    #[arg(long = "account", value_name = "KEY:SECRET[:SIGNATURE_SECRET]", value_parser = crate::emulator::parse_account_arg)]
    pub accounts: Vec<crate::emulator::AccountArg>,
    /// Keep the applications in this JSON file across restarts (in memory otherwise)
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Start an empty account with N varied applications (0..=100000)
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub seed_apps: u32,
    /// The account owns N numbers (0..=100000): 447700900001, 447700900002, …, GB, mobile-lvn,
    /// features VOICE, SMS, MMS, linked to nothing
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u32).range(0..=100_000))]
    pub seed_numbers: u32,
    /// Delay every answer by N milliseconds (0..=60000)
    #[arg(long, default_value_t = 0, value_name = "N", value_parser = clap::value_parser!(u64).range(0..=60_000))]
    pub latency_ms: u64,
    /// Answer this share of requests (0..=1) with 500, 502 or 503, without carrying them out
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = super::args::probability)]
    pub fail_rate: f64,
    /// Allow this many requests per second (1..=1000000); answer the rest 429 with Retry-After
    #[arg(long, value_name = "RPS", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit: Option<u32>,
    /// Carry out this share of requests (0..=1), then close the connection without answering
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = super::args::probability)]
    pub drop_rate: f64,
    /// Seed for the fault dice, for reproducible drills
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// Sign the webhook requests of simulated traffic to the primary's numbers with this secret, as
    /// Vonage does with an account's signature secret; VAPP_EMULATOR_SIGNATURE_SECRET gives it without
    /// showing it to `ps`
    #[arg(long, env = "VAPP_EMULATOR_SIGNATURE_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub signature_secret: Option<crate::secret::Secret>,
}

pub async fn run(context: &Context, args: EmulatorArgs) -> Result<Exit> {
    let config = EmulatorConfig {
        api_key: args.api_key,
        api_secret: args.api_secret,
        subaccounts: args.accounts.iter().map(|a| (a.api_key.clone(), a.secret.clone())).collect(),
        signature_secrets: args
            .accounts
            .iter()
            .filter_map(|a| Some((SignedAccount::ApiKey(a.api_key.clone()), a.signature_secret.clone()?)))
            .collect(),
        data_file: args.data,
        seed_apps: args.seed_apps as usize,
        seed_numbers: args.seed_numbers as usize,
        faults: Faults {
            latency: Duration::from_millis(args.latency_ms),
            fail_rate: args.fail_rate,
            rate_limit: args.rate_limit,
            drop_rate: args.drop_rate,
            seed: args.fault_seed,
        },
        gate: None,
        signature_secret: args.signature_secret,
    };
    let emulator = Emulator::new(config).await?;
    let mut interrupts = super::interrupt::Interrupts::listen()?;
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    context.printer.data(&format!("listening on http://{addr}\n"));
    context.printer.detail(&format!(
        "{} applications in the primary account, {} accounts",
        emulator.application_count(),
        emulator.account_count()
    ));
    emulator.serve(listener, async move { interrupts.next().await }).await;
    Ok(Exit::Success)
}
