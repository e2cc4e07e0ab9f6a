//! The scenario commands: `cpkit run` (the built-in suite or given scenarios, against personas or a
//! SUT, with JUnit / JSON / HTML reports; `--list`), `cpkit scenarios lint` and `export`, and
//! `cpkit persona` (a persona as a command-line product, so that a `command` SUT can be built from
//! one). Glue only: the logic lives in `careplan_harness::{suite, scenario, runner, software,
//! run_report}`.

use std::io::{IsTerminal as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use careplan_harness::outcome::{ScenarioOutcome, Verdict};
use careplan_harness::run_report;
use careplan_harness::runner::{self, Progress, RunOptions, SutConfig};
use careplan_harness::scenario::{self, Scenario};
use careplan_harness::software::persona::{self, Defect};
use careplan_harness::software::state::CareState;
use careplan_harness::software::{ExportRequest, PersonaSoftware, Software, StoredFile};
use careplan_harness::suite::{self, Origin, Source};
use careplan_harness::support::replay::bundle::{self, SutSource};
use careplan_spec::{Month, OfficeNumber, Serial, ServiceTypeCode};
use clap::{Args, Subcommand, ValueEnum};

#[derive(Args)]
pub struct RunArgs {
    /// Scenario files or folders (default: the built-in suite, embedded in cpkit). A relative
    /// path that does not exist here but names a built-in file or folder (scenarios/…) is that one.
    pub scenarios: Vec<PathBuf>,
    /// The system under test (TOML; see docs/scenarios.md). Without it, `sut` offices are played
    /// by their stand-in persona.
    #[arg(long)]
    pub sut: Option<PathBuf>,
    /// Write JUnit XML here.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// Write the JSON report (cpkit-run/1) here.
    #[arg(long)]
    pub json: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long)]
    pub html: Option<PathBuf>,
    /// Where reports go when none of --junit/--json/--html is given.
    #[arg(long, default_value = "cpkit-report")]
    pub report_dir: PathBuf,
    /// Only scenarios with this tag (repeatable).
    #[arg(long)]
    pub tag: Vec<String>,
    /// Folder for each scenario's exchange, PKI and SUT files.
    #[arg(long)]
    pub work: Option<PathBuf>,
    /// Keep the work folders of passing scenarios too (failing ones are always kept).
    #[arg(long)]
    pub keep: bool,
    /// List the scenarios (file, name, tags) and the tags in use, and run nothing.
    #[arg(long)]
    pub list: bool,
    /// The least verdict that fails the run: `fail` (default), or `warn` for strict pipelines
    /// (warnings become JUnit failures and exit code 1).
    #[arg(long, value_enum, default_value = "fail")]
    pub fail_on: FailOn,
}

/// `--fail-on`.
#[derive(Clone, Copy, ValueEnum)]
pub enum FailOn {
    Warn,
    Fail,
}

#[derive(Subcommand)]
pub enum ScenarioCommand {
    /// Check scenario files: syntax, offices, fields per action, fixtures; errors point at the line.
    Lint {
        /// Files or folders (default: the built-in suite).
        paths: Vec<PathBuf>,
    },
    /// Write the built-in suite, the golden files it uses and the SUT examples into DIR
    /// (DIR/scenarios/…, DIR/golden/…), for editing; never overwrites a file.
    Export {
        /// The folder to write into (created when missing).
        dir: PathBuf,
    },
}

#[derive(Args)]
pub struct PersonaArgs {
    /// List the personas and what they do.
    #[arg(long, exclusive = true)]
    pub list: bool,
    /// The persona to play.
    #[arg(long, required_unless_present = "list")]
    pub persona: Option<String>,
    /// Folder holding the product's state (state.json), kept between calls.
    #[arg(long, required_unless_present = "list")]
    pub state: Option<PathBuf>,
    /// The office's number.
    #[arg(long, required_unless_present = "list")]
    pub office: Option<String>,
    /// The office's own service type (43, 15 …).
    #[arg(long, required_unless_present = "list")]
    pub service_type: Option<String>,
    /// A deliberate defect (shift-start-time, drop-last-record), to play a broken product.
    #[arg(long)]
    pub defect: Option<String>,
    #[command(subcommand)]
    pub action: Option<PersonaAction>,
}

#[derive(Subcommand)]
pub enum PersonaAction {
    /// Take the office's own data from the files in a folder.
    Load {
        /// The folder holding the office's own standard files.
        dir: PathBuf,
    },
    /// Import the received files in a folder.
    Import {
        /// The folder holding the received files.
        dir: PathBuf,
    },
    /// Write a send unit into a folder.
    Export {
        /// The send unit, e.g. kyotaku-riyohyo (`cpkit rules` lists the units' rules).
        #[arg(long)]
        unit: String,
        /// The receiving office number.
        #[arg(long)]
        to: String,
        /// The receiver's service type in V4 names (empty: from the records).
        #[arg(long, default_value = "")]
        to_type: String,
        /// The sender's own service type in V4 names (empty: the office's first).
        #[arg(long, default_value = "")]
        as_type: String,
        /// YYYYMM, or empty for every month held.
        #[arg(long, default_value = "")]
        month: String,
        /// The ファイル連番 of the unit (14 digits).
        #[arg(long)]
        serial: String,
        /// YYYYMMDD.
        #[arg(long)]
        today: String,
        /// The folder the unit's files are written into.
        #[arg(long)]
        out: PathBuf,
    },
    /// Record actuals as planned.
    RecordActuals {
        /// YYYYMM, or empty for every month held.
        #[arg(long, default_value = "")]
        month: String,
    },
}

/// Scenario files of the given paths (none: the built-in suite).
fn scenario_files(paths: &[PathBuf]) -> Result<Vec<Source>> {
    let sources = suite::scenario_sources(paths)?;
    for given in paths {
        if let Some(Origin::Builtin(name)) = suite::locate(given) {
            eprintln!(
                "cpkit: {} is not here; using the built-in {name}",
                given.display()
            );
        }
    }
    Ok(sources)
}

/// Parses and lints; every problem is printed. None when any file is invalid.
fn load_all(files: &[Source]) -> Option<Vec<Scenario>> {
    let mut ok = true;
    let mut out = Vec::new();
    for f in files {
        match Scenario::load(f) {
            Ok(s) => {
                let errors = scenario::lint(&s);
                for e in &errors {
                    eprintln!("{e}");
                }
                ok &= errors.is_empty();
                out.push(s);
            }
            Err(e) => {
                eprintln!("{e}");
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

pub fn scenarios_command(command: ScenarioCommand) -> Result<ExitCode> {
    let paths = match command {
        ScenarioCommand::Lint { paths } => paths,
        ScenarioCommand::Export { dir } => {
            let written = suite::export(&dir)?;
            let count = |prefix: &str, ext: &str| {
                written
                    .iter()
                    .filter_map(|p| p.strip_prefix(&dir).ok())
                    .filter(|p| p.starts_with(prefix) && p.to_string_lossy().ends_with(ext))
                    .count()
            };
            let scenarios = suite::builtin_files()
                .iter()
                .filter(|(p, _)| p.starts_with("scenarios/") && p.matches('/').count() == 1)
                .count();
            println!(
                "wrote {} files into {}: {scenarios} scenarios in scenarios/, {} SUT examples in scenarios/sut/, {} golden files in golden/",
                written.len(),
                dir.display(),
                count("scenarios/sut", ".toml"),
                count("golden", ""),
            );
            println!(
                "next: edit them, then `cpkit scenarios lint {0}` and `cpkit run {0}`",
                dir.join("scenarios").display()
            );
            return Ok(ExitCode::SUCCESS);
        }
    };
    let files = scenario_files(&paths)?;
    Ok(match load_all(&files) {
        Some(s) => {
            println!("{} scenario files, no problems", s.len());
            ExitCode::SUCCESS
        }
        None => ExitCode::from(1),
    })
}

/// Progress on standard error: a bar on a terminal, a line per scenario otherwise.
struct TerminalProgress {
    tty: bool,
}

impl Progress for TerminalProgress {
    fn scenario_started(&mut self, index: usize, total: usize, name: &str) {
        if self.tty {
            let width = 30;
            let done = index * width / total.max(1);
            eprint!(
                "\r\x1b[2K[{}{}] {}/{} {}",
                "#".repeat(done),
                ".".repeat(width - done),
                index + 1,
                total,
                name.chars().take(60).collect::<String>()
            );
            let _ = std::io::stderr().flush();
        }
    }

    fn scenario_finished(&mut self, index: usize, total: usize, outcome: &ScenarioOutcome) {
        if self.tty {
            eprint!("\r\x1b[2K");
        }
        eprintln!(
            "{:>5} {:>2}/{} {} ({} ms)",
            outcome.verdict().label().to_uppercase(),
            index + 1,
            total,
            outcome.name,
            outcome.duration.as_millis()
        );
    }
}

fn write_report(path: &Path, text: &str) -> Result<()> {
    if let Some(dir) = path.parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("failed to create {}", dir.display()))?;
    }
    std::fs::write(path, text).with_context(|| format!("failed to write {}", path.display()))
}

/// `cpkit run --list`: a line per scenario, then the tags with their counts.
fn list(scenarios: &[Scenario]) -> String {
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut out = String::new();
    let mut tags: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for s in scenarios {
        let h = &s.file.scenario;
        out.push_str(&format!("{:<width$}  {}", s.name, h.name));
        if !h.tags.is_empty() {
            out.push_str(&format!("  [{}]", h.tags.join(", ")));
        }
        out.push('\n');
        for t in &h.tags {
            *tags.entry(t).or_default() += 1;
        }
    }
    let tags: Vec<String> = tags.iter().map(|(t, n)| format!("{t} ({n})")).collect();
    out.push_str(&format!(
        "\n{} scenarios; tags: {}\n",
        scenarios.len(),
        if tags.is_empty() {
            "none".to_owned()
        } else {
            tags.join(", ")
        }
    ));
    out
}

pub fn run(args: RunArgs) -> Result<ExitCode> {
    let files = scenario_files(&args.scenarios)?;
    let Some(mut scenarios) = load_all(&files) else {
        eprintln!("cpkit: invalid scenario files; nothing was run (see `cpkit scenarios lint`)");
        return Ok(ExitCode::from(2));
    };
    if !args.tag.is_empty() {
        scenarios.retain(|s| s.file.scenario.tags.iter().any(|t| args.tag.contains(t)));
        if scenarios.is_empty() {
            bail!("no scenario has the tags {:?}", args.tag);
        }
    }
    if args.list {
        print!("{}", list(&scenarios));
        return Ok(ExitCode::SUCCESS);
    }
    let sut = match &args.sut {
        Some(p) => {
            if let Some(Origin::Builtin(name)) = suite::locate(p) {
                eprintln!(
                    "cpkit: {} is not here; using the built-in {name}",
                    p.display()
                );
            }
            Some(SutConfig::load(p)?)
        }
        None => None,
    };
    let sut_source = match (&args.sut, &sut) {
        (Some(path), Some(config)) => Some(SutSource::read(path, &config.name, &config.adapter)?),
        _ => None,
    };
    let work = args
        .work
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("cpkit-run-{}", std::process::id())));
    let options = RunOptions {
        sut,
        work_dir: work.clone(),
        keep: args.keep,
    };
    let mut progress = TerminalProgress {
        tty: std::io::stderr().is_terminal(),
    };
    let mut outcome = runner::run(&scenarios, &options, &mut progress);
    outcome.fail_on = match args.fail_on {
        FailOn::Warn => Verdict::Warn,
        FailOn::Fail => Verdict::Fail,
    };
    let (junit, json, html) = if args.junit.is_none() && args.json.is_none() && args.html.is_none()
    {
        (
            Some(args.report_dir.join("junit.xml")),
            Some(args.report_dir.join("report.json")),
            Some(args.report_dir.join("report.html")),
        )
    } else {
        (args.junit, args.json, args.html)
    };
    // A replay bundle per failing scenario, in the folder of the reports (D-SUPPORT-REPLAY).
    let folder = [&junit, &json, &html]
        .into_iter()
        .flatten()
        .next()
        .and_then(|p| p.parent())
        .map(Path::to_path_buf)
        .unwrap_or_else(|| args.report_dir.clone());
    let bundles = write_bundles(&folder, &scenarios, &outcome, sut_source.as_ref());
    let mut written = Vec::new();
    type Render = fn(&careplan_harness::outcome::RunOutcome) -> String;
    let reports: [(&Option<PathBuf>, Render); 3] = [
        (&junit, run_report::to_junit),
        (&json, run_report::to_json),
        (&html, run_report::to_html),
    ];
    for (path, render) in reports {
        let Some(p) = path else { continue };
        link_bundles(&mut outcome, &bundles, p)?;
        write_report(p, &render(&outcome))?;
        written.push(p.display().to_string());
    }
    // What went wrong, readable on a terminal: failures and errors in full, each warning's
    // reason (in full when warnings fail the run); blocked cases are counted in the summary.
    let mut text = String::new();
    for s in &outcome.scenarios {
        for c in s
            .cases
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Warn | Verdict::Fail | Verdict::Error))
        {
            if c.verdict == Verdict::Warn && !outcome.fails(Verdict::Warn) {
                text.push_str(&format!(
                    "{}:{}: warn [{}] {}\n",
                    s.file,
                    c.line.unwrap_or(0),
                    c.name,
                    c.message
                ));
                continue;
            }
            text.push_str(&format!(
                "{}:{}: {} [{}] {}\n",
                s.file,
                c.line.unwrap_or(0),
                c.verdict.label(),
                c.name,
                c.message
            ));
            if let Some(e) = &c.expected {
                text.push_str(&format!("    expected: {e}\n"));
            }
            if let Some(a) = &c.actual {
                text.push_str(&format!("    actual:   {a}\n"));
            }
            if let Some(d) = &c.diff {
                for l in run_report::diff_text(d).lines() {
                    text.push_str(&format!("    {l}\n"));
                }
            }
        }
    }
    text.push_str(&run_report::summary_line(&outcome));
    text.push('\n');
    if !written.is_empty() {
        text.push_str(&format!("reports: {}\n", written.join(", ")));
    }
    let bundled: Vec<&PathBuf> = bundles.iter().flatten().collect();
    if let Some(first) = bundled.first() {
        text.push_str(&format!(
            "replay bundles of the failing scenarios: {} (`cpkit replay {}`)\n",
            bundled
                .iter()
                .map(|b| b.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
            first.display()
        ));
    }
    let verdict = outcome.verdict();
    if verdict >= Verdict::Blocked {
        text.push_str(&format!(
            "work folders of failing scenarios kept under {}\n",
            work.display()
        ));
    } else if !args.keep {
        let _ = std::fs::remove_dir(&work);
    }
    print!("{text}");
    Ok(match verdict {
        Verdict::Error | Verdict::Blocked => ExitCode::from(3),
        v if outcome.fails(v) => ExitCode::from(1),
        _ => ExitCode::SUCCESS,
    })
}

/// Writes the replay bundle of every scenario that fails the run into `<folder>/bundles/`; the
/// bundle of each scenario, or None (passing, or not writable: said on standard error).
fn write_bundles(
    folder: &Path,
    scenarios: &[Scenario],
    outcome: &careplan_harness::outcome::RunOutcome,
    sut: Option<&SutSource>,
) -> Vec<Option<PathBuf>> {
    scenarios
        .iter()
        .zip(&outcome.scenarios)
        .enumerate()
        .map(|(i, (s, o))| {
            if !outcome.fails(o.verdict()) {
                return None;
            }
            let dir = folder.join("bundles").join(bundle::folder_name(i, &o.file));
            match bundle::write_bundle(&dir, s, o, sut, &outcome.started) {
                Ok(()) => Some(dir),
                Err(e) => {
                    eprintln!("cpkit: no replay bundle for {}: {e}", o.file);
                    None
                }
            }
        })
        .collect()
}

/// Points each scenario's `bundle` at its bundle as seen from the folder of `report`.
fn link_bundles(
    outcome: &mut careplan_harness::outcome::RunOutcome,
    bundles: &[Option<PathBuf>],
    report: &Path,
) -> Result<()> {
    let from = report
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(from)
        .with_context(|| format!("failed to create {}", from.display()))?;
    for (s, b) in outcome.scenarios.iter_mut().zip(bundles) {
        s.bundle = b.as_ref().map(|dir| {
            careplan_harness::support::shrink::relative(from, dir)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        });
    }
    Ok(())
}

fn opt_type(text: &str, what: &str) -> Result<Option<ServiceTypeCode>> {
    if text.is_empty() {
        return Ok(None);
    }
    ServiceTypeCode::parse(text)
        .map(Some)
        .with_context(|| format!("{what} {text:?} is not a 2-character service type"))
}

fn opt_month(text: &str) -> Result<Option<Month>> {
    if text.is_empty() {
        return Ok(None);
    }
    Month::parse(text)
        .map(Some)
        .with_context(|| format!("--month {text:?} is not YYYYMM"))
}

fn read_dir_files(dir: &Path) -> Result<Vec<StoredFile>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).with_context(|| format!("failed to read {}", dir.display()))? {
        let e = e?;
        if e.file_type()?.is_file() {
            out.push(StoredFile {
                name: e.file_name().to_string_lossy().into_owned(),
                bytes: std::fs::read(e.path())?,
            });
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

pub fn persona_command(args: PersonaArgs) -> Result<ExitCode> {
    if args.list {
        for p in persona::PERSONAS {
            println!(
                "{:<18} {}\n{:<18} source: {}",
                p.name, p.summary, "", p.source
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(name), Some(state_dir), Some(office), Some(stype), Some(action)) = (
        args.persona,
        args.state,
        args.office,
        args.service_type,
        args.action,
    ) else {
        bail!(
            "give --persona, --state, --office, --service-type and an action (load, import, export, record-actuals)"
        );
    };
    let mut p = persona::persona(&name)
        .cloned()
        .with_context(|| format!("unknown persona {name:?}; known: {}", persona::names()))?;
    if let Some(d) = &args.defect {
        p.defect = Some(Defect::parse(d).with_context(|| {
            format!("unknown defect {d:?}; known: shift-start-time, drop-last-record")
        })?);
    }
    let office = OfficeNumber::parse(&office)
        .with_context(|| format!("--office {office:?} is not 10 digits"))?;
    let stype = ServiceTypeCode::parse(&stype)
        .with_context(|| format!("--service-type {stype:?} is not a service type"))?;
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("failed to create {}", state_dir.display()))?;
    let state_file = state_dir.join("state.json");
    let state = if state_file.exists() {
        let text = std::fs::read_to_string(&state_file)
            .with_context(|| format!("failed to read {}", state_file.display()))?;
        serde_json::from_str::<CareState>(&text)
            .with_context(|| format!("{} is not a persona state", state_file.display()))?
    } else {
        CareState::new(&office, &stype)
    };
    let mut software = PersonaSoftware { persona: p, state };
    let before = software.state.journal.len();
    let mut refused_units = 0;
    let result = match action {
        PersonaAction::Load { dir } => software.load(&read_dir_files(&dir)?).map(|m| vec![m]),
        // The journal (printed below) already holds each refusal.
        PersonaAction::Import { dir } => software.import(&read_dir_files(&dir)?).map(|r| {
            refused_units = r.refused.len();
            let mut lines: Vec<String> =
                r.warnings.iter().map(|w| format!("warning: {w}")).collect();
            if refused_units > 0 {
                lines.push(format!("{refused_units} units refused"));
            }
            lines
        }),
        PersonaAction::Export {
            unit,
            to,
            to_type,
            as_type,
            month,
            serial,
            today,
            out,
        } => {
            let request = ExportRequest {
                unit,
                to: OfficeNumber::parse(&to)
                    .with_context(|| format!("--to {to:?} is not 10 digits"))?,
                to_type: opt_type(&to_type, "--to-type")?,
                as_type: opt_type(&as_type, "--as-type")?,
                month: opt_month(&month)?,
                serial: Serial::parse(&serial)
                    .with_context(|| format!("--serial {serial:?} is not 14 digits"))?,
                today,
            };
            software.export(&request).and_then(|files| {
                std::fs::create_dir_all(&out).map_err(|e| {
                    careplan_harness::software::SoftwareError::Failed(format!(
                        "failed to create {}: {e}",
                        out.display()
                    ))
                })?;
                let mut lines = Vec::new();
                for f in files {
                    let path = out.join(&f.name);
                    std::fs::write(&path, &f.bytes).map_err(|e| {
                        careplan_harness::software::SoftwareError::Failed(format!(
                            "failed to write {}: {e}",
                            path.display()
                        ))
                    })?;
                    lines.push(format!("wrote {}", path.display()));
                }
                Ok(lines)
            })
        }
        PersonaAction::RecordActuals { month } => {
            software.record_actuals(opt_month(&month)?).map(|m| vec![m])
        }
    };
    for line in &software.state.journal[before..] {
        println!("{line}");
    }
    let text = serde_json::to_string(&software.state)?;
    std::fs::write(&state_file, text)
        .with_context(|| format!("failed to write {}", state_file.display()))?;
    match result {
        Ok(lines) => {
            for l in &lines {
                println!("{l}");
            }
            // A refused unit is a failed import, as a product would report it.
            Ok(if refused_units > 0 {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            })
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}
