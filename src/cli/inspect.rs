//! `wiretape inspect FILE`: what a cassette holds, one line per interaction
//! (or JSON for scripts), in any supported format.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use serde_json::{Value, json};

use super::convert::{FileFormat, read};
use super::fail;
use crate::cassette::Interaction;
use crate::cassette::format::BodyForm;

/// The arguments of `wiretape inspect`.
#[derive(Args, Debug, Clone)]
pub struct InspectArgs {
    /// The cassette: wiretape YAML, Ruby VCR, vcrpy or HAR.
    pub file: PathBuf,
    /// Its format (default: detected from its content).
    #[arg(long, value_enum)]
    pub from: Option<FileFormat>,
    /// One JSON array instead of lines.
    #[arg(long)]
    pub json: bool,
}

/// Runs `wiretape inspect`.
pub async fn run(args: InspectArgs) -> ExitCode {
    let tape = match read(&args.file, args.from) {
        Ok(tape) => tape,
        Err(err) => return fail(&err),
    };
    let rows: Vec<Value> = tape
        .interactions
        .iter()
        .enumerate()
        .map(|(i, it)| row(i, it))
        .collect();
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).unwrap_or_default()
        );
    } else {
        for row in &rows {
            println!("{}", line(row));
        }
    }
    ExitCode::SUCCESS
}

fn body_size(body: &Option<BodyForm>) -> usize {
    body.as_ref()
        .and_then(|b| b.to_bytes().ok())
        .map(|b| b.len())
        .unwrap_or(0)
}

/// One interaction's summary.
fn row(index: usize, interaction: &Interaction) -> Value {
    let response = interaction.response.as_ref();
    json!({
        "index": index,
        "method": interaction.request.method,
        "uri": interaction.request.uri,
        "status": response.map(|r| r.status),
        "error": interaction.error.as_ref().map(|e| e.kind.as_str()),
        "body_bytes": response.map(|r| body_size(&r.body)).unwrap_or(0),
        "chunks": response.and_then(|r| match &r.body {
            Some(BodyForm::Chunks(chunks)) => Some(chunks.len()),
            _ => None,
        }),
        "latency_ms": response.and_then(|r| r.latency_ms),
        "frames": interaction.websocket.as_ref().map(Vec::len).unwrap_or(0),
    })
}

fn line(row: &Value) -> String {
    let outcome = match (row["status"].as_u64(), row["error"].as_str()) {
        (Some(status), _) => status.to_string(),
        (None, Some(kind)) => format!("error {kind}"),
        _ => "-".to_owned(),
    };
    let latency = row["latency_ms"]
        .as_u64()
        .map(|ms| format!("{ms} ms"))
        .unwrap_or_else(|| "- ms".to_owned());
    let chunks = row["chunks"]
        .as_u64()
        .map(|n| format!(" in {n} chunk(s)"))
        .unwrap_or_default();
    format!(
        "#{:<3} {:<7} {} -> {}  {} B{chunks}  {latency}  {} frame(s)",
        row["index"],
        row["method"].as_str().unwrap_or(""),
        row["uri"].as_str().unwrap_or(""),
        outcome,
        row["body_bytes"],
        row["frames"],
    )
}
