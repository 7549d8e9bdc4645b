//! The command line: argument parsing and dispatch. One module per command; each returns the exit
//! status the README's "Commands and exit codes" promises (0 ok, 1 error, 2 changes with `--detailed-exitcode`, 3 locked, 4 stale plan, 5 denied by a policy).

mod account;
mod apply;
mod args;
mod check;
mod completions;
mod context;
mod definitions;
mod emulator;
mod export;
mod failure;
mod import;
mod interrupt;
mod key;
mod plan;
mod policy;
mod printer;
mod settings;
mod simulate;
mod state;
mod state_mv;
mod token;
mod validate;

use std::process::ExitCode;

use clap::FromArgMatches;

pub use context::Context;
pub use definitions::{command, documented_command, Cli, Command, GlobalArgs, SchemaArgs};
pub use printer::Printer;
pub use settings::{Settings, DEFAULT_SANDBOX_STATE, DEFAULT_STATE};

/// How a command ended, as the process exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    Success = 0,
    Failure = 1,
    Changes = 2,
    Locked = 3,
    StalePlan = 4,
    /// A policy denies the plan: nothing was changed.
    PolicyDenied = 5,
    Interrupted = 130,
}

pub use failure::{hinted, Diagnose, Failure, Hinted, StalePlanError};

/// Runs vapp with the process's arguments and environment.
pub fn main() -> ExitCode {
    let parsed = command().try_get_matches().and_then(|matches| {
        let mut cli = Cli::from_arg_matches(&matches)?;
        // The order of `simulate call`'s --press and --say is the caller's: clap keeps it in the matches.
        if let (Command::Simulate(definitions::SimulateCommand::Call { acts, .. }), Some(call)) =
            (&mut cli.command, matches.subcommand_matches("simulate").and_then(|m| m.subcommand_matches("call")))
        {
            acts.order = simulate::order_of(call);
        }
        Ok(cli)
    });
    let cli = match parsed {
        Ok(cli) => cli,
        // Help and version are what was asked for; any other usage error is an error (exit 1: the README's
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
    let context = Context::new(Settings::resolve(cli.global), printer);
    let exit = match runtime.block_on(run(cli.command, &context)) {
        Ok(exit) => exit,
        Err(failure) => {
            failure.report(&printer);
            failure.exit()
        }
    };
    ExitCode::from(exit as u8)
}

async fn run(command: Command, context: &Context) -> failure::Result<Exit> {
    match command {
        Command::Validate => validate::run(context),
        Command::Plan(args) => plan::run(context, args).await,
        Command::Apply(args) => apply::run_apply(context, args).await,
        Command::Destroy(args) => apply::run_destroy(context, args).await,
        Command::Import(args) => import::run(context, args).await,
        Command::Export(args) => export::run(context, args).await,
        Command::State(command) => state::run(context, command).await,
        Command::Key(command) => key::run(context, command).await,
        Command::Account(command) => account::run(context, command).await,
        Command::Token(args) => token::run(context, args).await,
        Command::Check(args) => check::run(context, args).await,
        Command::Simulate(command) => simulate::run(context, command).await,
        Command::Emulator(args) => emulator::run(context, args).await,
        Command::Schema(args) => {
            match args.scenarios {
                true => context.printer.data(&crate::webhooks::scenario::scenario_schema_text()),
                false => context.printer.data(&crate::manifest::manifest_schema_text()),
            }
            Ok(Exit::Success)
        }
        Command::Completions(args) => completions::run_completions(context, args),
        Command::Man(args) => completions::run_man(context, args),
        Command::Policy(command) => policy::run(context, command),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every command and subcommand, with its path (`state list`).
    fn every_command() -> Vec<(String, clap::Command)> {
        fn walk(prefix: &str, command: &clap::Command, out: &mut Vec<(String, clap::Command)>) {
            for sub in command.get_subcommands().filter(|s| s.get_name() != "help") {
                let path = format!("{prefix} {}", sub.get_name()).trim().to_string();
                out.push((path.clone(), sub.clone()));
                walk(&path, sub, out);
            }
        }
        let mut built = command();
        built.build();
        let mut out = Vec::new();
        walk("", &built, &mut out);
        out
    }

    #[test]
    fn the_command_line_is_consistent() {
        command().debug_assert();
        documented_command().debug_assert();
    }

    /// A completion script offers each command only the options it takes, as its `--help` does.
    #[test]
    fn completions_offer_each_command_only_its_options() {
        let mut script = Vec::new();
        clap_complete::generate(clap_complete::Shell::Bash, &mut documented_command(), "vapp", &mut script);
        let script = String::from_utf8(script).unwrap();
        let options_of = |command: &str| -> String {
            let at = script.find(&format!("vapp__subcmd__{command})")).unwrap();
            script[at..].lines().nth(1).unwrap().to_string()
        };
        let token = options_of("token");
        assert!(token.contains("--state") && token.contains("--ttl"), "{token}");
        assert!(!token.contains("--numbers-url") && !token.contains("--api-url"), "{token}");
        let plan = options_of("plan");
        assert!(plan.contains("--numbers-url") && plan.contains("--detailed-exitcode"), "{plan}");
    }

    #[test]
    fn every_positional_argument_is_described() {
        for (path, command) in every_command() {
            for arg in command.get_positionals() {
                assert!(arg.get_help().is_some(), "`vapp {path}`: <{}> has no description", arg.get_id());
            }
        }
    }

    #[test]
    fn each_command_offers_only_the_global_options_it_uses() {
        let offered = |path: &str| -> Vec<String> {
            let (_, command) = every_command().into_iter().find(|(p, _)| p == path).unwrap();
            command
                .get_arguments()
                .filter(|a| a.is_global_set() && !a.is_hide_set())
                .map(|a| a.get_id().to_string())
                .collect()
        };
        let output = ["no_color", "quiet", "verbose"];
        for path in ["emulator", "schema", "completions", "man"] {
            assert_eq!(offered(path), output, "`vapp {path}`");
        }
        assert_eq!(offered("validate"), ["files", "no_color", "quiet", "verbose"]);
        for path in ["state list", "key show", "token"] {
            let offered = offered(path);
            assert!(offered.contains(&"state".to_string()) && !offered.contains(&"files".to_string()), "{path}");
        }
        let apply = offered("apply");
        assert!(["files", "state", "api_url", "numbers_url", "sandbox"]
            .iter()
            .all(|id| apply.contains(&id.to_string())));
        // Every global option goes under its own heading.
        for (path, command) in every_command() {
            for arg in command.get_arguments().filter(|a| a.is_global_set()) {
                assert_eq!(arg.get_help_heading(), Some("Global options"), "`vapp {path}` --{}", arg.get_id());
            }
        }
    }

    #[test]
    fn the_parsed_command_line_never_shows_a_password() {
        let args = ["vapp", "--state", "postgres://vapp:hunter2@db/vapp?password=swordfish", "plan"];
        let cli = Cli::from_arg_matches(&command().try_get_matches_from(args).unwrap()).unwrap();
        let shown = format!("{cli:?} {:?}", Settings::resolve(cli.global.clone()));
        assert!(!shown.contains("hunter2") && !shown.contains("swordfish"), "{shown}");
        assert!(shown.contains("vapp:***@db"), "{shown}");
    }

    #[test]
    fn the_sandbox_keeps_its_own_state_unless_told() {
        let parse = |args: &[&str]| {
            let matches = command().try_get_matches_from(args).unwrap();
            Settings::resolve(Cli::from_arg_matches(&matches).unwrap().global).state.to_string()
        };
        // VAPP_STATE may be set where the tests run; clap reads it for --state.
        if std::env::var_os("VAPP_STATE").is_none() {
            assert_eq!(parse(&["vapp", "plan"]), DEFAULT_STATE);
            assert_eq!(parse(&["vapp", "--sandbox", "plan"]), DEFAULT_SANDBOX_STATE);
            assert_eq!(parse(&["vapp", "plan", "--sandbox"]), DEFAULT_SANDBOX_STATE);
        }
        assert_eq!(parse(&["vapp", "--sandbox", "--state", "x.json", "plan"]), "x.json");
        assert_eq!(parse(&["vapp", "plan", "--sandbox", "--state", "y.json"]), "y.json");
        // Hidden where unused, but still accepted (scripts may have them before or after the command).
        assert_eq!(parse(&["vapp", "-f", "apps", "destroy", "--state", "z.json"]), "z.json");
    }
}
