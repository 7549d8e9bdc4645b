//! `vapp simulate call|message`: ask an emulator to place inbound traffic on one of its numbers, and
//! show what the web application did with it. Refused against Vonage's own hosts, where traffic comes
//! from real phones and this door does not exist.

use clap::{Args, Subcommand, ValueEnum};
use serde_json::json;

use super::failure::Result;
use super::{Context, Exit};
use crate::webhooks::simulate::render_human;

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
}

pub async fn run(context: &Context, command: SimulateCommand) -> Result<Exit> {
    let (what, traffic, text, acts) = match command {
        SimulateCommand::Call { traffic, acts } => ("call", traffic, None, Some(acts)),
        SimulateCommand::Message { traffic, text } => ("message", traffic, Some(text), None),
    };
    let api_url = &context.settings.api_url;
    if !context.settings.sandbox && api_url.is_vonage() {
        return Err(super::failure::hinted(
            format!("vapp simulate places traffic on an emulator's numbers, and {api_url} is Vonage's own API: there, calls and messages come from real phones"),
            "point --api-url (or VAPP_API_URL) at `vapp emulator`, or use --sandbox",
        ));
    }
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
