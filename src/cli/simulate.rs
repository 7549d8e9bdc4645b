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

#[derive(Debug, Subcommand)]
pub enum SimulateCommand {
    /// Ring a number: its application's answer_url (then fallback_answer_url), event_url and NCCO notify
    Call {
        #[command(flatten)]
        traffic: Traffic,
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
    let (what, traffic, text) = match command {
        SimulateCommand::Call { traffic } => ("call", traffic, None),
        SimulateCommand::Message { traffic, text } => ("message", traffic, Some(text)),
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
    let connection = context.connect().await?;
    let transcript = connection.client.simulate(what, &body).await?;
    let text = match traffic.format {
        TranscriptFormat::Human => render_human(&transcript),
        TranscriptFormat::Json => format!("{}\n", serde_json::to_string_pretty(&transcript)?),
    };
    context.printer.data(&text);
    Ok(if transcript.ok { Exit::Success } else { Exit::Failure })
}
