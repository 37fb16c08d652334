//! `wiretape convert IN OUT`: between wiretape YAML, Ruby VCR, vcrpy and
//! HAR. The default redaction is applied on the way in, so that a Ruby VCR
//! tape still holding `authorization: Bearer …` is not copied as it is.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::{fail, warn};
use crate::cassette::import::{self, Format};
use crate::cassette::{Tape, write_atomic};
use crate::{Error, Result};

/// A cassette format, as the command line names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
#[value(rename_all = "kebab-case")]
pub enum FileFormat {
    /// wiretape's own YAML.
    Wiretape,
    /// Ruby VCR YAML (`http_interactions:`).
    RubyVcr,
    /// vcrpy YAML.
    Vcrpy,
    /// HAR 1.2 JSON.
    Har,
}

impl From<Format> for FileFormat {
    fn from(format: Format) -> FileFormat {
        match format {
            Format::Wiretape => FileFormat::Wiretape,
            Format::RubyVcr => FileFormat::RubyVcr,
            Format::Vcrpy => FileFormat::Vcrpy,
            Format::Har => FileFormat::Har,
        }
    }
}

/// The arguments of `wiretape convert`.
#[derive(Args, Debug, Clone)]
pub struct ConvertArgs {
    /// The file to read.
    pub input: PathBuf,
    /// The file to write (replaced atomically).
    pub output: PathBuf,
    /// The input's format (default: detected from its content).
    #[arg(long, value_enum)]
    pub from: Option<FileFormat>,
    /// The output's format (default: from its extension, .har for HAR,
    /// else wiretape YAML).
    #[arg(long, value_enum)]
    pub to: Option<FileFormat>,
    /// Copy credentials as they are instead of redacting them.
    #[arg(long)]
    pub no_redact: bool,
}

/// Runs `wiretape convert`.
pub async fn run(args: ConvertArgs) -> ExitCode {
    match convert(&args) {
        Ok((count, format)) => {
            println!(
                "wiretape: wrote {count} interaction(s) to {} as {format:?}",
                args.output.display()
            );
            ExitCode::SUCCESS
        }
        Err(err) => fail(&err),
    }
}

/// Reads `args.input`, converts it and writes `args.output`; returns how
/// many interactions were written and in which format.
pub fn convert(args: &ConvertArgs) -> Result<(usize, FileFormat)> {
    let mut tape = read(&args.input, args.from)?;
    if !args.no_redact {
        import::redact(&mut tape);
    }
    let to = args.to.unwrap_or_else(|| format_for_path(&args.output));
    let (text, written) = write(&tape, to)?;
    let left_out = tape.interactions.len() - written;
    if left_out > 0 {
        warn(&format!(
            "{left_out} interaction(s) without a response (recorded errors) cannot be \
             written as {to:?} and were left out"
        ));
    }
    write_atomic(&args.output, text.as_bytes())?;
    Ok((written, to))
}

/// Reads a cassette in `format`, or in whichever format it is.
pub(crate) fn read(path: &Path, format: Option<FileFormat>) -> Result<Tape> {
    let Some(format) = format else {
        return import::import_file(path);
    };
    let text = std::fs::read_to_string(path)
        .map_err(|err| Error::invalid(format!("cannot read {}: {err}", path.display())))?;
    match format {
        FileFormat::Wiretape => Tape::from_yaml(&text, path),
        FileFormat::RubyVcr => import::from_ruby_vcr(&text, path),
        FileFormat::Vcrpy => import::from_vcrpy(&text, path),
        FileFormat::Har => import::from_har(&text, path),
    }
}

fn format_for_path(path: &Path) -> FileFormat {
    match path.extension().and_then(|e| e.to_str()) {
        Some(ext) if ext.eq_ignore_ascii_case("har") || ext.eq_ignore_ascii_case("json") => {
            FileFormat::Har
        }
        _ => FileFormat::Wiretape,
    }
}

/// The text of `tape` in `format`, and how many interactions it holds.
fn write(tape: &Tape, format: FileFormat) -> Result<(String, usize)> {
    let with_response = tape
        .interactions
        .iter()
        .filter(|i| i.response.is_some())
        .count();
    Ok(match format {
        FileFormat::Wiretape => (tape.to_yaml()?, tape.interactions.len()),
        FileFormat::Har => (import::to_har(tape)?, tape.interactions.len()),
        FileFormat::RubyVcr => (import::to_ruby_vcr(tape)?, with_response),
        FileFormat::Vcrpy => (import::to_vcrpy(tape)?, with_response),
    })
}
