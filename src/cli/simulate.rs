//! `vapp simulate call|message`: ask an emulator to place inbound traffic on one of its numbers, and
//! show what the web application did with it. Refused against Vonage's own hosts, where traffic comes
//! from real phones and this door does not exist.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::failure::{Context as _, Result};
use super::{Context, Exit};
use crate::webhooks::scenario;
use crate::webhooks::simulate::render_human;
use crate::webhooks::simulate::{Act, TrafficKind};

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

/// Which `--press` and `--say` came first, in command-line order.
pub fn order_of(matches: &clap::ArgMatches) -> Vec<Act> {
    let mut acts: Vec<(usize, Act)> = Vec::new();
    for (id, act) in [("press", Act::Press), ("say", Act::Say)] {
        if let Some(indices) = matches.indices_of(id) {
            acts.extend(indices.map(|i| (i, act)));
        }
    }
    acts.sort_by_key(|(i, _)| *i);
    acts.into_iter().map(|(_, act)| act).collect()
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
        files: Vec<std::path::PathBuf>,
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

pub async fn run(context: &Context, command: SimulateCommand) -> Result<Exit> {
    let (what, traffic, text, acts) = match command {
        SimulateCommand::Call { traffic, acts } => (TrafficKind::Call, traffic, None, Some(acts)),
        SimulateCommand::Message { traffic, text } => (TrafficKind::Message, traffic, Some(text), None),
        SimulateCommand::Run { files, format } => return run_scenarios(context, &files, format).await,
    };
    refuse_vonage(context)?;
    let mut body = json!({"to": traffic.to});
    if let Some(from) = &traffic.from {
        body["from"] = json!(from);
    }
    if let Some(text) = &text {
        body["text"] = json!(text);
    }
    if let Some(acts) = &acts {
        body["press"] = json!(acts.press);
        body["say"] = json!(acts.say);
        body["no_answer"] = json!(acts.no_answer);
        if !acts.order.is_empty() {
            body["order"] = json!(acts.order);
        }
    }
    let connection = context.connect().await?;
    let transcript = connection.client.simulate(what, &body).await?;
    let text = match traffic.format {
        TranscriptFormat::Human => render_human(&transcript),
        TranscriptFormat::Json => format!("{}\n", serde_json::to_string_pretty(&transcript)?),
    };
    context.printer.data(&text);
    Ok(if transcript.ok { Exit::Success } else { Exit::Failure })
}

/// `vapp simulate` talks to an emulator, never to Vonage, where traffic comes from real phones.
fn refuse_vonage(context: &Context) -> Result<()> {
    let api_url = &context.settings.api_url;
    if !context.settings.sandbox && api_url.is_vonage() {
        return Err(super::failure::hinted(
            format!("vapp simulate places traffic on an emulator's numbers, and {api_url} is Vonage's own API: there, calls and messages come from real phones"),
            "point --api-url (or VAPP_API_URL) at `vapp emulator`, or use --sandbox",
        ));
    }
    Ok(())
}

/// The request body of one scenario's traffic.
fn traffic_body(traffic: &scenario::Traffic) -> (TrafficKind, serde_json::Value) {
    match traffic {
        scenario::Traffic::Call { to, from, acts } => {
            let mut body = json!({"to": to, "press": acts.press, "say": acts.say, "no_answer": acts.no_answer});
            if !acts.order.is_empty() {
                body["order"] = json!(acts.order);
            }
            if let Some(from) = from {
                body["from"] = json!(from);
            }
            (TrafficKind::Call, body)
        }
        scenario::Traffic::Message { to, from, text } => {
            let mut body = json!({"to": to, "text": text});
            if let Some(from) = from {
                body["from"] = json!(from);
            }
            (TrafficKind::Message, body)
        }
    }
}

/// Plays every scenario of `files` in order, and reports.
async fn run_scenarios(context: &Context, files: &[std::path::PathBuf], format: RunFormat) -> Result<Exit> {
    let mut scenarios = Vec::new();
    let mut problems = Vec::new();
    for path in files {
        let bytes = crate::fsutil::read_bounded(path, scenario::MAX_SCENARIO_BYTES, "a scenario file")
            .with_context(|| format!("cannot read the scenario file {}", path.display()))?;
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(super::failure::Failure::msg(format!("{} is not UTF-8 text", path.display())));
        };
        match scenario::read(path, &text) {
            Ok(read) => scenarios.extend(read),
            Err(found) => problems.extend(found),
        }
    }
    if !problems.is_empty() {
        return Err(crate::manifest::ManifestErrors(problems).into());
    }
    refuse_vonage(context)?;
    let connection = context.connect().await?;
    let mut played = Vec::new();
    for loaded in scenarios {
        let started = std::time::Instant::now();
        let (what, body) = traffic_body(&loaded.traffic);
        let (transcript, error) = match connection.client.simulate(what, &body).await {
            Ok(transcript) => (Some(transcript), None),
            Err(e) => (None, Some(crate::humanise::chain(&e))),
        };
        let mismatches = transcript.as_ref().map(|t| scenario::judge(&loaded.expect, t)).unwrap_or_default();
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        played.push(scenario::Played {
            ok: error.is_none() && mismatches.is_empty(),
            name: loaded.name,
            file: loaded.file,
            mismatches,
            error,
            ms,
            transcript,
        });
    }
    let report = scenario::RunReport::new(played);
    let text = match format {
        RunFormat::Human => scenario::render_human(&report),
        RunFormat::Json => scenario::render_json(&report),
        RunFormat::Junit => scenario::render_junit(&report),
    };
    context.printer.data(&text);
    Ok(if report.ok() { Exit::Success } else { Exit::Failure })
}
