//! `vapp emulator`: serve a local Vonage Application API until interrupted.

use super::definitions::EmulatorArgs;
use std::time::Duration;

use super::failure::{Context as _, Result};

use super::{Context, Exit};
use crate::emulator::{Emulator, EmulatorConfig, Faults, SignedAccount};

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
