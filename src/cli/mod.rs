//! The command line: argument parsing and dispatch. One module per command; each returns the exit
//! status DESIGN.md fixes (0 ok, 1 error, 2 changes with `--detailed-exitcode`, 3 locked, 4 stale plan).

mod apply;
mod args;
mod context;
mod diagnostic;
mod emulator;
mod export;
mod import;
mod key;
mod plan;
mod printer;
mod state;
mod token;
mod validate;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

pub use context::Context;
pub use printer::Printer;

/// How a command ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Changes = 2,
    Locked = 3,
    StalePlan = 4,
    Interrupted = 130,
}

#[derive(Debug, Parser)]
#[command(name = "vapp", version, about = "Vonage API applications as code: plan and apply YAML manifests", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, before or after its name.
#[derive(Clone, Debug, Args)]
pub struct GlobalArgs {
    /// Manifest file, or directory whose *.yaml/*.yml files are all read (repeatable) [default: vapp.yaml]
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Where the state lives: a file, postgres://… or s3://BUCKET/KEY
    #[arg(long, global = true, env = "VAPP_STATE", default_value = "vapp.state.json", value_name = "PATH|URL")]
    pub state: String,
    /// Base URL of the Application API
    #[arg(long, global = true, env = "VAPP_API_URL", default_value = crate::api::DEFAULT_API_URL, value_name = "URL")]
    pub api_url: String,
    /// Read the state passphrase from this file (else VAPP_STATE_PASSPHRASE); with one, private keys are
    /// encrypted in the state
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Base URL of the Numbers API [default: https://rest.nexmo.com, or the API URL when only that is set]
    #[arg(long, global = true, env = "VAPP_NUMBERS_URL", value_name = "URL")]
    pub numbers_url: Option<String>,
    /// Use the embedded sandbox (a local emulator, data in .vapp/sandbox.json beside the state) instead of Vonage
    #[arg(long, global = true)]
    pub sandbox: bool,
    /// Use a state that belongs to another account (apply then records this one)
    #[arg(long, global = true)]
    pub allow_other_account: bool,
    /// Never colour the output (NO_COLOR works too)
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Print only data and errors
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Print more detail about what vapp does
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the manifests; no network
    Validate,
    /// Show what apply would do
    Plan(plan::PlanArgs),
    /// Make the account match the manifests
    Apply(apply::ApplyArgs),
    /// Delete every managed application (protected ones excepted)
    Destroy(apply::DestroyArgs),
    /// Take an existing application under management as ADDR
    Import(import::ImportArgs),
    /// Write manifests for the live applications
    Export(export::ExportArgs),
    /// Inspect and repair the state
    #[command(subcommand)]
    State(state::StateCommand),
    /// Application keys
    #[command(subcommand)]
    Key(key::KeyCommand),
    /// Print a JWT signed with the application's private key
    Token(token::TokenArgs),
    /// Serve a local Vonage Application API
    Emulator(emulator::EmulatorArgs),
    /// Print the manifest JSON Schema
    Schema,
}

pub use diagnostic::{hinted, Hinted, LockedError, StalePlanError};

/// Runs vapp with the process's arguments and environment.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // Help and version are what was asked for; any other usage error is an error (exit 1: DESIGN.md's
        // exit 2 means "the plan has changes" to a CI script).
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { Exit::Failure as u8 } else { Exit::Success as u8 });
        }
    };
    let printer = Printer::new(cli.global.quiet, cli.global.verbose, cli.global.no_color);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            printer.error(&format!("cannot start: {e}"));
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    let context = Context::new(cli.global, printer);
    let exit = match runtime.block_on(run(cli.command, &context)) {
        Ok(exit) => exit,
        Err(e) => {
            diagnostic::report(&printer, &e);
            diagnostic::exit_code(&e)
        }
    };
    ExitCode::from(exit as u8)
}

async fn run(command: Command, context: &Context) -> anyhow::Result<Exit> {
    match command {
        Command::Validate => validate::run(context),
        Command::Plan(args) => plan::run(context, args).await,
        Command::Apply(args) => apply::run_apply(context, args).await,
        Command::Destroy(args) => apply::run_destroy(context, args).await,
        Command::Import(args) => import::run(context, args).await,
        Command::Export(args) => export::run(context, args).await,
        Command::State(command) => state::run(context, command).await,
        Command::Key(command) => key::run(context, command).await,
        Command::Token(args) => token::run(context, args).await,
        Command::Emulator(args) => emulator::run(context, args).await,
        Command::Schema => {
            context.printer.data(&crate::manifest::manifest_schema_text());
            Ok(Exit::Success)
        }
    }
}
