//! `vapp simulate call|message`: ask an emulator to place inbound traffic on one of its numbers, and
//! show what the web application did with it. Refused against Vonage's own hosts, where traffic comes
//! from real phones and this door does not exist.

use super::definitions::{RunFormat, SimulateCommand, TranscriptFormat};
use serde_json::json;

use super::failure::{Context as _, Result};
use super::{Context, Exit};
use crate::webhooks::scenario;
use crate::webhooks::simulate::render_human;
use crate::webhooks::simulate::{Act, TrafficKind};

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
