//! `cpkit`: the conformance kit's one binary. Parses arguments, calls the libraries, reports
//! errors with context and maps outcomes to exit codes:
//!
//! * 0 — conformant (warnings allowed), or the command succeeded;
//! * 1 — violations found (an error-severity finding);
//! * 2 — usage or I/O error;
//! * `send` / `inbox` / `fetch`: 1 — the exchange refused, 3 — the exchange could not be reached
//!   or TLS failed (`exchange::exit_code`).

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use careplan_harness::{check, report};
use careplan_spec::ServiceTypeCode;
use careplan_spec::convert::{ConvertOptions, InputFile};
use careplan_spec::finding::Severity;
use careplan_spec::parallel;
use careplan_spec::profile::Profile;
use careplan_spec::rules::{RULES, RuleId};
use careplan_spec::validate::Options;
use careplan_spec::version::SpecVersion;
use clap::{Parser, Subcommand, ValueEnum};

mod exchange;
mod scenarios;
mod support;

#[derive(Parser)]
#[command(
    name = "cpkit",
    version,
    about = "Conformance kit for the ケアプランデータ連携標準仕様 (V3, V4.0, V4.1)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Human,
    Json,
    Junit,
}

#[derive(Subcommand)]
enum Command {
    /// Validate files or folders of standard CSV files and their send units.
    Validate {
        /// Files or folders (walked recursively).
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
        /// Validation profile: standard, strict or lenient (see `cpkit rules --profiles`).
        #[arg(long, default_value = "standard")]
        profile: String,
        /// Write the report to FILE instead of standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
        /// Findings shown per rule and file before the rest are only counted.
        #[arg(long, default_value_t = 50)]
        max_per_rule: u32,
        /// Files validated at once (default: one per core); the report is the same for any number.
        #[arg(long, short = 'j', value_parser = clap::value_parser!(u16).range(1..))]
        jobs: Option<u16>,
    },
    /// List every rule with its ID, severity and title.
    Rules {
        /// List the validation profiles and their severity changes instead.
        #[arg(long)]
        profiles: bool,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Print the Markdown catalogue (docs/rules.md is this output; with --coverage,
        /// docs/coverage.md).
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
        /// Print the coverage map instead: the rules that check each layout row and each clause of
        /// the standard, and what cannot be checked and why.
        #[arg(long, conflicts_with = "profiles")]
        coverage: bool,
    },
    /// Convert send units between V3 (202208) and V4.1 (202407).
    Convert {
        /// Target version: v4.1 or v3.
        #[arg(long)]
        to: String,
        /// Files or folders holding the units to convert.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Folder for the converted files (created if missing; existing files are never overwritten).
        #[arg(long)]
        out: PathBuf,
        /// Convert even when information is lost (V4 → V3), listing what was dropped.
        #[arg(long)]
        lossy: bool,
        /// Service type of the care-manager side in V4 names (43 居宅介護支援, 46 介護予防支援, AF).
        #[arg(long, default_value = "43")]
        care_manager_type: String,
        /// Service type of the service office where the records do not say (plan units, DLTPLAN).
        #[arg(long)]
        receiver_type: Option<String>,
    },
    /// Explain one rule: its messages, source, an example of a violation and its fix.
    Explain {
        /// Rule ID, e.g. FLD005.
        id: String,
    },
    /// The mock exchange's test PKI: CA, server and office certificates (and broken variants).
    #[command(subcommand)]
    Certs(exchange::CertsCommand),
    /// Run the mock exchange (mutual TLS). With no arguments: a dev PKI and the demo registry.
    Serve(exchange::ServeArgs),
    /// Send files (one send unit per destination, plus attachments) through the exchange.
    Send(exchange::SendArgs),
    /// List received items (first-lister-wins: listing takes them for this terminal).
    Inbox(exchange::InboxArgs),
    /// Download received items into a folder, in import order.
    Fetch(exchange::FetchArgs),
    /// The exchange's audit trail.
    #[command(subcommand)]
    Trace(exchange::TraceCommand),
    /// Run scenarios (default: the built-in suite against built-in personas) and write JUnit, JSON
    /// and HTML reports. Exit 0 = pass/warn, 1 = a requirement failed, 2 = invalid scenario or
    /// usage, 3 = the kit itself failed.
    Run(scenarios::RunArgs),
    /// Scenario files: `cpkit scenarios lint`, `cpkit scenarios export DIR`.
    #[command(subcommand, visible_alias = "scenario")]
    Scenarios(scenarios::ScenarioCommand),
    /// Play a persona as a command-line product (load / import / export / record-actuals), e.g.
    /// to build a `command` SUT from one.
    Persona(scenarios::PersonaArgs),
    /// Compare two files, folders or send units cell by cell (exit 0 same, 1 different).
    Diff(support::DiffArgs),
    /// Copy files with every personal value replaced by a keyed pseudonym (same person, same
    /// pseudonym; the copy fails the same rules at the same places).
    Anonymize(support::AnonymizeArgs),
    /// Explain why an exchange of these files broke and whose side must change: ranked causes
    /// with evidence and fixes, and what every simulated product would do with the files.
    Diagnose(support::DiagnoseArgs),
    /// Cut a failing folder down to the files, users, records and values the failure needs, and
    /// write a scenario that reproduces it.
    Shrink(support::ShrinkArgs),
    /// Rerun a replay bundle (of a failing `cpkit run` scenario, or a `cpkit trace export`) against
    /// a fresh exchange and report every answer that differs from the recorded one (exit 0 same,
    /// 1 different, 2 usage).
    Replay(support::ReplayArgs),
}

/// For the commands that print listings (`certs show`, `inbox`, `fetch`, `trace`): output piped
/// into a reader that stops early (`| head`) ends the process quietly, as with any Unix tool,
/// instead of a panic at the next `println!` (Rust ignores SIGPIPE). Only for these: they talk to
/// the hub over sockets, which never raise SIGPIPE (sends use MSG_NOSIGNAL), and start no child
/// processes whose pipes could close.
fn quiet_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restores the default disposition of one signal before the command starts any
    // thread; no handler is installed.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("cpkit: error: {e:#}");
            ExitCode::from(exchange::exit_code(&e))
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Validate {
            paths,
            format,
            profile,
            output,
            max_per_rule,
            jobs,
        } => {
            let Some(profile) = Profile::named(&profile) else {
                let names: Vec<_> = Profile::all().iter().map(|p| p.name.as_str()).collect();
                bail!(
                    "unknown profile {profile:?}; known profiles: {}",
                    names.join(", ")
                );
            };
            let options = Options {
                profile,
                max_findings_per_rule: max_per_rule.max(1),
            };
            let jobs = jobs.map_or_else(parallel::default_jobs, usize::from);
            let run = check::run_with_jobs(&paths, options, jobs)?;
            let text = match format {
                Format::Human => report::to_human(&run),
                Format::Json => serde_json::to_string_pretty(&report::to_json(&run))? + "\n",
                Format::Junit => report::to_junit(&run),
            };
            emit(&text, output.as_ref())?;
            Ok(if run.conformant() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            })
        }
        Command::Rules {
            profiles,
            json,
            markdown,
            coverage,
        } => {
            let mut out = String::new();
            if coverage {
                out = report::coverage(json, markdown)?;
            } else if profiles {
                for p in Profile::all() {
                    out.push_str(&format!("{}: {}\n", p.name, p.description));
                    for r in RULES {
                        let s = p.severity(r.rule);
                        if s != r.severity {
                            out.push_str(&format!("    {} {} → {}\n", r.id, r.severity, s));
                        }
                    }
                }
            } else if markdown {
                out = report::rules_markdown();
            } else if json {
                let list: Vec<_> = RULES
                    .iter()
                    .map(|r| {
                        serde_json::json!({
                            "id": r.id, "severity": r.severity, "family": r.family.label(),
                            "title": { "ja": r.title_ja, "en": r.title_en },
                            "message": { "ja": r.message_ja, "en": r.message_en },
                            "reference": r.reference,
                            "public_reference": careplan_spec::sources::public(r.reference),
                            "example": r.example, "fix": r.fix,
                        })
                    })
                    .collect();
                out = serde_json::to_string_pretty(&list)? + "\n";
            } else {
                for r in RULES {
                    out.push_str(&format!(
                        "{:<8} {:<8} {:<11} {} / {}\n",
                        r.id,
                        r.severity.label(),
                        r.family.label(),
                        r.title_ja,
                        r.title_en
                    ));
                }
                out.push_str(&format!(
                    "\n{} rules. `cpkit explain ID` shows one in full.\n",
                    RULES.len()
                ));
            }
            emit(&out, None)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Convert {
            to,
            paths,
            out,
            lossy,
            care_manager_type,
            receiver_type,
        } => convert(
            &to,
            &paths,
            &out,
            lossy,
            &care_manager_type,
            receiver_type.as_deref(),
        ),
        Command::Explain { id } => {
            let Some(rule) = RuleId::from_id(&id) else {
                bail!("unknown rule {id:?}; `cpkit rules` lists them");
            };
            let r = rule.rule();
            let strict = Profile::named("strict")
                .map(|p| p.severity(rule))
                .unwrap_or(r.severity);
            let mut out = format!("{} — {} / {}\n\n", r.id, r.title_ja, r.title_en);
            out.push_str(&format!(
                "severity:  {} (profile strict: {})\n",
                r.severity, strict
            ));
            out.push_str(&format!("family:    {}\n", r.family.label()));
            out.push_str("where in the standard:\n");
            for place in careplan_spec::sources::public(r.reference) {
                out.push_str(&format!("    {place}\n"));
            }
            out.push_str(&format!("kit keys:  {}\n\n", r.reference));
            out.push_str(&format!(
                "message (ja): {}\nmessage (en): {}\n\n",
                r.message_ja, r.message_en
            ));
            out.push_str(&format!(
                "example of a violation:\n    {}\nfix:\n    {}\n",
                r.example, r.fix
            ));
            if r.severity == Severity::Info {
                out.push_str(
                    "\nThis rule is informational and never makes a file non-conformant.\n",
                );
            }
            emit(&out, None)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Certs(c) => {
            quiet_on_closed_pipe();
            exchange::certs(c).map(|()| ExitCode::SUCCESS)
        }
        Command::Serve(a) => exchange::serve(a).map(|()| ExitCode::SUCCESS),
        Command::Send(a) => exchange::send(a).map(|()| ExitCode::SUCCESS),
        Command::Inbox(a) => {
            quiet_on_closed_pipe();
            exchange::inbox(a).map(|()| ExitCode::SUCCESS)
        }
        Command::Fetch(a) => {
            quiet_on_closed_pipe();
            exchange::fetch(a).map(|()| ExitCode::SUCCESS)
        }
        Command::Trace(c) => {
            quiet_on_closed_pipe();
            exchange::trace(c).map(|()| ExitCode::SUCCESS)
        }
        Command::Run(a) => scenarios::run(a),
        Command::Scenarios(c) => scenarios::scenarios_command(c),
        Command::Persona(a) => scenarios::persona_command(a),
        Command::Diff(a) => support::diff(a),
        Command::Anonymize(a) => support::anonymize(a),
        Command::Diagnose(a) => support::diagnose(a),
        Command::Shrink(a) => support::shrink(a),
        Command::Replay(a) => support::replay(a),
    }
}

fn service_type(text: &str, what: &str) -> Result<ServiceTypeCode> {
    ServiceTypeCode::parse(text).with_context(|| {
        format!("{what} {text:?} is not a 2-character service type such as 43 or 11")
    })
}

fn convert(
    to: &str,
    paths: &[PathBuf],
    out: &PathBuf,
    lossy: bool,
    cm_type: &str,
    receiver_type: Option<&str>,
) -> Result<ExitCode> {
    let to = match SpecVersion::parse(to) {
        Some(v @ (SpecVersion::V3 | SpecVersion::V41)) => v,
        _ => bail!("--to must be v4.1 or v3, not {to:?}"),
    };
    let options = ConvertOptions {
        to,
        lossy,
        care_manager_type: service_type(cm_type, "--care-manager-type")?,
        receiver_type: receiver_type
            .map(|t| service_type(t, "--receiver-type"))
            .transpose()?,
    };
    let (files, skipped) = check::expand(paths)?;
    let mut inputs = Vec::with_capacity(files.len());
    for path in &files {
        let bytes =
            std::fs::read(path).with_context(|| format!("failed to read {}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        inputs.push(InputFile { name, bytes });
    }
    let outcome = match careplan_spec::convert::convert(&inputs, &options) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("cpkit: conversion refused: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    // Check every target first, so that nothing is written when anything would be overwritten.
    for f in &outcome.files {
        let target = out.join(&f.name);
        if target.exists() {
            bail!(
                "{} already exists; nothing was written (choose an empty --out folder)",
                target.display()
            );
        }
    }
    let mut text = String::new();
    for f in &outcome.files {
        let target = out.join(&f.name);
        std::fs::write(&target, &f.bytes)
            .with_context(|| format!("failed to write {}", target.display()))?;
        text.push_str(&format!("{} → {}\n", f.from, target.display()));
    }
    for note in &outcome.notes {
        text.push_str(&format!("note: {note}\n"));
    }
    if !skipped.is_empty() {
        text.push_str(&format!(
            "note: skipped {} that {} not .csv or .jpg\n",
            exchange::plural(skipped.len(), "file", "files"),
            if skipped.len() == 1 { "is" } else { "are" }
        ));
    }
    text.push_str(&format!(
        "{} written to {}; check them with `cpkit validate {}`\n",
        exchange::plural(outcome.files.len(), "file", "files"),
        out.display(),
        out.display()
    ));
    emit(&text, None)?;
    Ok(ExitCode::SUCCESS)
}

fn emit(text: &str, output: Option<&PathBuf>) -> Result<()> {
    match output {
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .with_context(|| format!("failed to create {}", dir.display()))?;
            }
            std::fs::write(path, text)
                .with_context(|| format!("failed to write {}", path.display()))
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            match stdout.write_all(text.as_bytes()) {
                // A closed pipe (`cpkit rules | head`) is not an error worth reporting.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.context("failed to write to standard output"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    /// Every option and argument of every command says what it is for (`cpkit X --help`).
    #[test]
    fn every_option_has_a_description() {
        fn walk(cmd: &clap::Command, path: &str, missing: &mut Vec<String>) {
            for arg in cmd.get_arguments() {
                let id = arg.get_id().as_str();
                if matches!(id, "help" | "version") {
                    continue;
                }
                if arg.get_help().is_none() && arg.get_long_help().is_none() {
                    missing.push(format!("{path} --{id}"));
                }
            }
            for sub in cmd.get_subcommands() {
                if sub.get_about().is_none() && sub.get_long_about().is_none() {
                    missing.push(format!("{path} {} (no about)", sub.get_name()));
                }
                walk(sub, &format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "cpkit", &mut missing);
        assert!(
            missing.is_empty(),
            "options without a description: {missing:#?}"
        );
    }
}
