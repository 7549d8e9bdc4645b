//! The command line's definitions: every command, its options and their help, and the two views of
//! them, [`command`] (what is parsed) and [`documented_command`] (what completions and man pages
//! describe). Only clap and the value parsers of [`super::args`] are used here, because the build
//! script includes this file as it is (`build.rs`) to make the man pages and completions the package
//! installs: the same definitions, so they can never disagree with `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand, ValueEnum};
use clap_complete::Shell;

use super::args::{self, Act, Address, AppId, StateLocation, DEFAULT_API_KEY, DEFAULT_API_SECRET};

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum AccountFormat {
    /// VONAGE_API_KEY and VONAGE_API_SECRET as dotenv (.env) lines
    Env,
    /// {"account": …, "kind": …, "api_key": …, and "api_secret" (a subaccount vapp made) or
    /// "api_secret_env" (the variable that holds another account's secret)}
    Json,
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Print an account's API key: a subaccount vapp made with its secret (vapp keeps it in the
    /// state); another account with the variable that holds its secret (vapp holds none)
    Show {
        /// The account's name in the manifests (or `default`)
        name: String,
        /// How to write it
        #[arg(long, value_enum, default_value_t = AccountFormat::Env)]
        format: AccountFormat,
    },
}

/// What `apply` and `destroy` share.
#[derive(Debug, Args)]
pub struct ChangeArgs {
    /// Do not ask for confirmation
    #[arg(long)]
    pub auto_approve: bool,
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// How many actions run at once (1..=256)
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..=256))]
    pub parallelism: u16,
    /// Only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR", value_parser = args::address)]
    pub targets: Vec<Address>,
    /// Only this account's applications and changes: `default` or a declared name (repeatable)
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// Fail before changing anything when the plan would delete more than N applications
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<usize>,
    /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h); fail at once by default
    #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: Duration,
    /// The pause between two number updates, at most 60s [default: 1s, the Numbers API's documented
    /// rate; none against --sandbox]
    #[arg(long, value_parser = args::duration_at_most(args::MAX_NUMBERS_PACE), value_name = "DURATION")]
    pub numbers_pace: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `vapp plan -o FILE`: apply exactly its actions (no confirmation), or exit 4 if
    /// the state or the account changed since it was made
    #[arg(value_name = "PLANFILE", conflicts_with = "targets")]
    pub plan_file: Option<PathBuf>,
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    pub change: ChangeArgs,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Check only this address's webhooks (repeatable)
    #[arg(long = "target", value_name = "ADDR", value_parser = args::address)]
    pub targets: Vec<Address>,
    /// Check only this account's applications: `default` or a declared name (repeatable)
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// How long a webhook without a timeout setting of its own (all but voice) may take to answer, at
    /// most 60s
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = args::duration_at_most(args::MAX_CHECK_TIMEOUT))]
    pub timeout: Duration,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write vapp.1 and one page per command (vapp-plan.1, vapp-state-list.1, …) into this directory
    /// instead of printing vapp.1
    #[arg(long, value_name = "DIR")]
    pub out_dir: Option<PathBuf>,
}

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
    pub api_secret: args::Secret,
    /// An existing subaccount of the primary, KEY:SECRET[:SIGNATURE_SECRET] (repeatable), the last the
    /// secret that signs its numbers' simulated traffic; more are made through the Subaccounts API.
    /// Each account sees only its own applications and numbers
    #[arg(long = "account", value_name = "KEY:SECRET[:SIGNATURE_SECRET]", value_parser = args::parse_account_arg)]
    pub accounts: Vec<args::AccountArg>,
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
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = args::probability)]
    pub fail_rate: f64,
    /// Allow this many requests per second (1..=1000000); answer the rest 429 with Retry-After
    #[arg(long, value_name = "RPS", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit: Option<u32>,
    /// Carry out this share of requests (0..=1), then close the connection without answering
    #[arg(long, default_value_t = 0.0, value_name = "P", value_parser = args::probability)]
    pub drop_rate: f64,
    /// Seed for the fault dice, for reproducible drills
    #[arg(long, value_name = "N")]
    pub fault_seed: Option<u64>,
    /// Sign the webhook requests of simulated traffic to the primary's numbers with this secret, as
    /// Vonage does with an account's signature secret; VAPP_EMULATOR_SIGNATURE_SECRET gives it without
    /// showing it to `ps`
    #[arg(long, env = "VAPP_EMULATOR_SIGNATURE_SECRET", hide_env_values = true, value_name = "SECRET")]
    pub signature_secret: Option<args::Secret>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write one manifest per application into this directory (instead of one manifest on stdout)
    #[arg(short = 'o', long = "out", value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Overwrite manifests that already exist in DIR (their comments are lost)
    #[arg(long, requires = "out")]
    pub force: bool,
    /// Export this account's applications: `default` or one the manifests declare (repeatable; more
    /// than one needs --out) [default: default]
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The address it will have, as declared in the manifests
    #[arg(value_parser = args::address)]
    pub address: Address,
    /// The application's id in the account
    #[arg(value_parser = args::app_id)]
    pub app_id: AppId,
    /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h)
    #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: std::time::Duration,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum KeyFormat {
    /// The PKCS#8 PEM
    Pem,
    /// {"application_id": …, "private_key": …}, for an application server's configuration
    Json,
    /// VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY, quoted for a dotenv (.env) file
    Env,
    /// A Kubernetes Secret manifest holding VONAGE_APPLICATION_ID and VONAGE_PRIVATE_KEY (see --name)
    K8sSecret,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the application's private key (or write it to a file, mode 0600)
    Show {
        /// The application's address in the manifests
        #[arg(value_parser = args::address)]
        address: Address,
        /// Write to this file (mode 0600) instead of stdout
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// How to write it
        #[arg(long, value_enum, default_value_t = KeyFormat::Pem)]
        format: KeyFormat,
        /// The Secret's name, with --format k8s-secret [default: the address, `_` written `-`]
        #[arg(long, value_name = "NAME")]
        name: Option<String>,
    },
    /// Ask for a new key pair at the next apply (the plan shows rotate-key)
    Rotate {
        /// The application's address in the manifests
        #[arg(value_parser = args::address)]
        address: Address,
        /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h)
        #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
        lock_timeout: std::time::Duration,
    },
}

/// `vapp schema`'s options.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The JSON Schema of scenario files (`vapp simulate run`) instead of manifests'
    #[arg(long)]
    pub scenarios: bool,
}

#[derive(Debug, Parser)]
#[command(name = "vapp", version = args::VERSION, about = "Vonage API applications as code: plan and apply YAML manifests", long_about = None)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options that go before or after the command's name. Each command's help shows only those it uses
/// (see [`command`]), under their own heading.
#[derive(Clone, Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Manifest file, or directory whose *.yaml/*.yml files are all read (repeatable) [default: vapp.yaml]
    #[arg(short = 'f', long = "file", global = true, value_name = "PATH")]
    pub files: Vec<PathBuf>,
    /// Where the state lives: a file, postgres://… or s3://BUCKET/KEY [default: vapp.state.json;
    /// .vapp/sandbox.state.json with --sandbox]
    #[arg(long = "state", id = "state", global = true, env = "VAPP_STATE", hide_env_values = true, value_name = "PATH|URL", value_parser = args::Quiet(args::state_location))]
    pub state: Option<args::StateLocation>,
    /// Base URL of the Application API
    #[arg(long, global = true, env = "VAPP_API_URL", hide_env_values = true, default_value = args::DEFAULT_API_URL, value_name = "URL", value_parser = args::Quiet(args::base_url))]
    pub api_url: args::BaseUrl,
    /// Read the state passphrase from this file (else VAPP_STATE_PASSPHRASE); with one, private keys are
    /// encrypted in the state
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Base URL of the Numbers API [default: https://rest.nexmo.com, or the API URL when only that is set]
    #[arg(long, global = true, env = "VAPP_NUMBERS_URL", hide_env_values = true, value_name = "URL", value_parser = args::Quiet(args::base_url))]
    pub numbers_url: Option<args::BaseUrl>,
    /// Use the embedded sandbox (a local emulator whose account is kept in .vapp/ beside the state)
    /// instead of Vonage; its state is .vapp/sandbox.state.json unless --state says otherwise
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
    Plan(PlanArgs),
    /// Make the account match the manifests
    Apply(ApplyArgs),
    /// Delete every managed application (protected ones excepted)
    Destroy(DestroyArgs),
    /// Take an existing application under management as ADDR
    Import(ImportArgs),
    /// Write manifests for the live applications
    Export(ExportArgs),
    /// Inspect and repair the state
    #[command(subcommand)]
    State(StateCommand),
    /// Application keys
    #[command(subcommand)]
    Key(KeyCommand),
    /// Show what vapp keeps of an account: a subaccount's API key and secret
    #[command(subcommand)]
    Account(AccountCommand),
    /// Print a JWT signed with the application's private key
    Token(TokenArgs),
    /// Call every webhook of the manifests' applications as Vonage would; exit 1 when one fails
    Check(CheckArgs),
    /// Place inbound traffic on an emulator's number and show what the web application did
    #[command(subcommand)]
    Simulate(SimulateCommand),
    /// Serve a local Vonage Application and Numbers API
    Emulator(EmulatorArgs),
    /// Print the manifest JSON Schema (or, with --scenarios, the scenario files')
    Schema(SchemaArgs),
    /// Print a shell completion script (e.g. `vapp completions bash > ~/.local/share/bash-completion/completions/vapp`)
    Completions(CompletionsArgs),
    /// Print the man page (or write one per command into a directory)
    Man(ManArgs),
    /// Policies as code: test the Rego policies that plans are checked against
    #[command(subcommand)]
    Policy(PolicyCommand),
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum Format {
    #[default]
    Human,
    Json,
    Markdown,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    /// Exit 2 when the plan has changes (0 when it has none, 1 on error)
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Output format
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Plan only this address (repeatable)
    #[arg(long = "target", value_name = "ADDR", value_parser = args::address)]
    pub targets: Vec<args::Address>,
    /// Plan only this account's applications and changes: `default` or a declared name (repeatable)
    #[arg(long = "account", value_name = "NAME")]
    pub accounts: Vec<String>,
    /// Save the complete plan (no secret in clear) for `vapp apply PLANFILE`
    #[arg(short = 'o', long = "out", value_name = "PLANFILE")]
    pub out: Option<PathBuf>,
    /// Fail when the plan would delete more than N applications
    #[arg(long, value_name = "N")]
    pub max_deletes: Option<usize>,
    #[command(flatten)]
    pub policy: PolicyArgs,
}

/// The policies a plan is checked against.
#[derive(Clone, Debug, Default, Args)]
pub struct PolicyArgs {
    /// Check the plan against the Rego policies in this .rego file or directory (repeatable; env
    /// VAPP_POLICY, `:`-separated); any deny exits 5 and changes nothing
    // Empty paths are kept here and skipped when the policies are read: an empty `VAPP_POLICY` (a CI
    // variable left unset) means no policy, as an empty variable does for Terraform's.
    #[arg(
        long = "policy",
        value_name = "PATH",
        env = "VAPP_POLICY",
        value_delimiter = ':',
        value_parser = clap::builder::TypedValueParser::map(clap::builder::OsStringValueParser::new(), PathBuf::from)
    )]
    pub paths: Vec<PathBuf>,
    /// The package whose `deny` and `warn` rules count
    #[arg(long, value_name = "NS", default_value = "main")]
    pub policy_namespace: String,
}

/// `vapp policy`'s subcommands.
#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Run the `test_` rules of the policies (and their `_test.rego` files), as `opa test` does; exit 1
    /// when one fails
    Test {
        /// Policy files or directories
        #[arg(id = "policy_paths", required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum TranscriptFormat {
    /// What happened, step by step
    #[default]
    Human,
    /// The transcript as JSON (format_version 1)
    Json,
}

#[derive(Debug, Args)]
pub struct Traffic {
    /// The emulator's number the traffic is to
    #[arg(long, value_name = "MSISDN")]
    pub to: String,
    /// The number it comes from
    #[arg(long, value_name = "MSISDN")]
    pub from: Option<String>,
    /// Output format
    #[arg(long, value_enum, default_value_t = TranscriptFormat::Human)]
    pub format: TranscriptFormat,
}

/// What the simulated caller does.
#[derive(Debug, Args)]
pub struct Acts {
    /// Keys the caller presses, in order, one `--press` per input action that takes DTMF (e.g. 1, 42#)
    #[arg(long, value_name = "DIGITS")]
    pub press: Vec<String>,
    /// Words the caller says, in order, one `--say` per input action that takes speech
    #[arg(long, value_name = "TEXT")]
    pub say: Vec<String>,
    /// The parties a `connect` rings do not answer (their leg times out, and the NCCO goes on)
    #[arg(long)]
    pub no_answer: bool,
    /// The order of --press and --say on the command line (see [`order_of`]).
    #[arg(skip)]
    pub order: Vec<Act>,
}

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Ring a number: its application's answer_url (then fallback_answer_url), its events, and its
    /// NCCO carried out action by action (what the caller hears, inputs answered by --press/--say,
    /// recordings, connects, notifies)
    Call {
        #[command(flatten)]
        traffic: Traffic,
        #[command(flatten)]
        acts: Acts,
    },
    /// Send an SMS to a number: its application's messages inbound_url
    Message {
        #[command(flatten)]
        traffic: Traffic,
        /// The message's text
        #[arg(long)]
        text: String,
    },
    /// Play scenario files (calls with key presses and speech, messages) and check what they expect;
    /// exit 1 when one fails
    Run {
        /// Scenario files (YAML; `vapp schema --scenarios` prints their JSON Schema)
        #[arg(id = "scenario_files", required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Output format
        #[arg(long, value_enum, default_value_t = RunFormat::Human)]
        format: RunFormat,
    },
}

#[derive(Clone, Copy, Debug, Default, ValueEnum)]
pub enum RunFormat {
    /// A line per scenario, and what was expected beside what happened for a failed one
    #[default]
    Human,
    /// Every scenario's result and transcript (format_version 1)
    Json,
    /// JUnit XML, as CI systems show test results
    Junit,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the managed addresses with their application ids and accounts
    List,
    /// Show what the state holds for an address: its account, id, key, numbers (never the private key)
    Show {
        /// The address, as the manifests name it
        #[arg(value_parser = args::address)]
        address: Address,
    },
    /// Stop managing an address; the application stays in the account
    Rm {
        /// The address to forget
        #[arg(value_parser = args::address)]
        address: Address,
        /// Also drop the private key the state holds for it (its only copy: `vapp key show ADDR --out
        /// FILE` keeps one)
        #[arg(long)]
        forget_key: bool,
        /// Wait this long for another vapp holding the state lock (e.g. 30s, at most 24h)
        #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
        lock_timeout: std::time::Duration,
    },
    /// Encrypt the private keys in the state with the passphrase (VAPP_STATE_PASSPHRASE or --passphrase-file)
    Encrypt,
    /// Store the private keys in the state as plain PEM again (needs the passphrase)
    Decrypt,
    /// Remove the state lock of a vapp that is gone (with --force: any lock)
    Unlock {
        /// Remove the lock even if its holder may still be running
        #[arg(long)]
        force: bool,
    },
    /// Rename an address in the state, or hand it to another state of the same account
    #[command(override_usage = "vapp state mv FROM TO\n       vapp state mv ADDR --to-state PATH|URL [--as NEW]")]
    Mv(MvArgs),
    /// List the earlier versions of the state that are kept
    History,
    /// Copy the state to another place (lineage and serial kept); --state names where it is now
    Migrate {
        /// Where the state goes: a file, postgres://… or s3://BUCKET/KEY
        #[arg(long, value_name = "PATH|URL", value_parser = args::Quiet(args::state_location))]
        to: StateLocation,
        /// Wait this long for another vapp holding either lock (e.g. 30s, at most 24h)
        #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
        lock_timeout: std::time::Duration,
    },
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("destination").required(true).args(["to", "to_state"]))]
pub struct MvArgs {
    /// The address as the state knows it
    #[arg(value_parser = args::address)]
    pub from: Address,
    /// Its new address in this state
    #[arg(value_parser = args::address)]
    pub to: Option<Address>,
    /// Hand the address to another state of the same account: a file, postgres://… or s3://BUCKET/KEY
    #[arg(long, value_name = "PATH|URL", value_parser = args::Quiet(args::state_location))]
    pub to_state: Option<StateLocation>,
    /// Its address in the other state [default: the same]
    #[arg(long = "as", value_name = "NEW", requires = "to_state", value_parser = args::address)]
    pub as_address: Option<Address>,
    /// Wait this long for another vapp holding either lock (e.g. 30s, at most 24h)
    #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "0s", value_name = "DURATION")]
    pub lock_timeout: Duration,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The application's address in the manifests
    #[arg(value_parser = args::address)]
    pub address: Address,
    /// How long the token is valid (at most 24h)
    #[arg(long, value_parser = args::duration_at_most(args::MAX_WAIT), default_value = "15m", value_name = "DURATION")]
    pub ttl: Duration,
    /// The `sub` claim: the Client SDK user the token is for
    #[arg(long, value_name = "NAME")]
    pub sub: Option<String>,
    /// The `acl` claim as JSON, e.g. '{"paths": {"/*/users/**": {}}}'
    #[arg(long, value_name = "JSON")]
    pub acl: Option<String>,
    /// Not valid before TIME: RFC 3339 (2026-01-31T12:00:00Z) or Unix seconds
    #[arg(long, value_name = "TIME")]
    pub nbf: Option<String>,
}

/// The global options each command uses (by id); the others are left out of its help and its
/// completions. Output options (`--no-color`, `-q`, `-v`) go everywhere.
fn global_options_of(command: &str) -> &'static [&'static str] {
    const EVERYTHING: &[&str] =
        &["files", "state", "api_url", "passphrase_file", "numbers_url", "sandbox", "allow_other_account"];
    match command {
        "validate" => &["files"],
        "apply" | "import" => EVERYTHING,
        "plan" => &["files", "state", "api_url", "numbers_url", "sandbox", "allow_other_account"],
        "destroy" => &["state", "api_url", "passphrase_file", "numbers_url", "sandbox", "allow_other_account"],
        "export" => &["files", "state", "api_url", "numbers_url", "sandbox", "allow_other_account"],
        "state" | "key" | "token" => &["state", "passphrase_file", "sandbox"],
        "account" => &["files", "state", "passphrase_file", "sandbox"],
        "check" => &["files", "state", "passphrase_file", "sandbox"],
        "simulate" => &["api_url", "sandbox"],
        _ => &[],
    }
}

/// The command line as clap sees it: [`Cli`], with each command's help showing only the global options
/// it uses. Each command gets hidden copies of the others before clap copies the global options into
/// the commands (it copies none that a command has already), so they are still accepted (before or
/// after the command's name, as scripts may have them) but not offered.
pub fn command() -> clap::Command {
    let mut cli = Cli::command();
    let globals: Vec<clap::Arg> = cli.get_arguments().filter(|a| a.is_global_set()).cloned().collect();
    let names: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
    for name in names {
        let used = global_options_of(&name);
        let hidden: Vec<clap::Arg> = globals
            .iter()
            .filter(|a| !used.contains(&a.get_id().as_str()))
            .filter(|a| !["no_color", "quiet", "verbose"].contains(&a.get_id().as_str()))
            .map(|a| a.clone().hide(true))
            .collect();
        cli = cli.mut_subcommand(&name, |sub| with_hidden(sub, &hidden));
    }
    cli
}

/// The command line as completions and man pages describe it: each command with exactly the options it
/// takes, its global ones among them (not global: they are copied into the commands that use them, so
/// a completion script offers a command nothing else and its man page's synopsis shows them).
pub fn documented_command() -> clap::Command {
    let mut cli = Cli::command();
    let globals: Vec<clap::Arg> = cli.get_arguments().filter(|a| a.is_global_set()).cloned().collect();
    cli = cli.mut_args(|a| a.global(false));
    let names: Vec<String> = cli.get_subcommands().map(|c| c.get_name().to_string()).collect();
    for name in names {
        let used = global_options_of(&name);
        let copies: Vec<clap::Arg> = globals
            .iter()
            .filter(|a| {
                used.contains(&a.get_id().as_str()) || ["no_color", "quiet", "verbose"].contains(&a.get_id().as_str())
            })
            .map(|a| a.clone().global(false))
            .collect();
        cli = cli.mut_subcommand(&name, |sub| with_hidden(sub, &copies));
    }
    cli
}

/// `command` and each of its subcommands, with `hidden` added (hidden or not, as they come).
fn with_hidden(mut command: clap::Command, hidden: &[clap::Arg]) -> clap::Command {
    let children: Vec<String> = command.get_subcommands().map(|c| c.get_name().to_string()).collect();
    for child in children {
        command = command.mut_subcommand(&child, |c| with_hidden(c, hidden));
    }
    command.args(hidden.iter().cloned())
}
