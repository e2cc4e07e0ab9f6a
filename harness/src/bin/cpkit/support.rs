//! The glue of the support engineer's commands: `diagnose`, `diff`, `anonymize`, `shrink`
//! (docs/support.md). The work is in `careplan_harness::support`; this file parses arguments,
//! reads and writes files, and maps outcomes to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use careplan_harness::support::diff;
use careplan_harness::support::inputs::Inputs;
use clap::{Args, ValueEnum};

/// Output format of `diff`.
#[derive(Clone, Copy, ValueEnum)]
pub enum DiffFormat {
    Human,
    Json,
    Html,
}

#[derive(Args)]
pub struct DiffArgs {
    /// A file, a folder or a send unit (what was sent).
    pub a: PathBuf,
    /// The file, folder or unit to compare with (what came back).
    pub b: PathBuf,
    #[arg(long, value_enum, default_value = "human")]
    pub format: DiffFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `cpkit diff A B`: exit 0 same, 1 different, 2 usage or I/O error.
pub fn diff(args: DiffArgs) -> Result<ExitCode> {
    let a = Inputs::read(std::slice::from_ref(&args.a))?;
    let b = Inputs::read(std::slice::from_ref(&args.b))?;
    let report = diff::diff(
        &args.a.display().to_string(),
        &a.files,
        &args.b.display().to_string(),
        &b.files,
    );
    let text = match args.format {
        DiffFormat::Human => diff::to_human(&report),
        DiffFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
        DiffFormat::Html => diff::to_html(&report),
    };
    super::emit(&text, args.output.as_ref())?;
    Ok(if report.same {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
