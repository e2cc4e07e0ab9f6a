//! The glue of the support engineer's commands: `diagnose`, `diff`, `anonymize`, `shrink`,
//! `replay` (docs/support.md). The work is in `careplan_harness::support`; this file parses arguments,
//! reads and writes files, and maps outcomes to exit codes.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use careplan_harness::runner::SutConfig;
use careplan_harness::software::persona;
use careplan_harness::support::diagnose::matrix::{Product, WorkDir};
use careplan_harness::support::diagnose::{self, trace::TraceBundle};
use careplan_harness::support::inputs::Inputs;
use careplan_harness::support::{anonymize, diff, shrink};
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
    /// human (the terminal), json (one document) or html (a self-contained page).
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

#[derive(Args)]
pub struct AnonymizeArgs {
    /// Files or folders (folders are copied with their structure).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// The folder for the anonymised copy (created; must be empty).
    #[arg(long)]
    pub out: PathBuf,
    /// The secret key (created with mode 0600 when absent; default ~/.config/cpkit/anonymize.key).
    /// Keep it on this machine: the same key gives the same pseudonyms.
    #[arg(long)]
    pub key: Option<PathBuf>,
    /// Keep the characters the spec core reports (invalid MS932, 外字, NEC, IBM) and broken birth
    /// dates, so that encoding findings stay too.
    #[arg(long)]
    pub keep_offending: bool,
}

fn default_key() -> Result<PathBuf> {
    let home = std::env::var_os("HOME").context("no --key given and HOME is not set")?;
    Ok(PathBuf::from(home).join(".config/cpkit/anonymize.key"))
}

/// `cpkit anonymize`: exit 0 written, 2 usage or I/O error.
pub fn anonymize(args: AnonymizeArgs) -> Result<ExitCode> {
    let key_path = match &args.key {
        Some(k) => k.clone(),
        None => default_key()?,
    };
    let out = &args.out;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty; nothing was written (choose a new --out folder)",
            out.display()
        );
    }
    // The key never goes into the copy.
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
    if absolute(&key_path).starts_with(absolute(out)) {
        bail!(
            "the key {} must not be inside --out {}",
            key_path.display(),
            out.display()
        );
    }
    let inputs = Inputs::read(&args.paths)?;
    let (key, created) = anonymize::Key::load_or_create(&key_path)?;
    let result = anonymize::anonymize(
        &inputs.files,
        &inputs.attachments,
        &key,
        anonymize::Options {
            keep_offending: args.keep_offending,
        },
    );
    let mut seen = std::collections::BTreeSet::new();
    for (rel, _) in &result.files {
        if !seen.insert(rel.clone()) {
            bail!(
                "two inputs would both be written as {}; nothing was written",
                rel.display()
            );
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("failed to create {}", out.display()))?;
    for (rel, bytes) in &result.files {
        let target = out.join(rel);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        std::fs::write(&target, bytes)
            .with_context(|| format!("failed to write {}", target.display()))?;
    }
    let report_path = out.join("anonymize-report.json");
    std::fs::write(
        &report_path,
        serde_json::to_string_pretty(&result.report)? + "\n",
    )
    .with_context(|| format!("failed to write {}", report_path.display()))?;
    let mut text = anonymize::to_human(&result.report, out);
    if created {
        text.push_str(&format!(
            "created the key {} (mode 0600)\n",
            key_path.display()
        ));
    }
    text.push_str(&format!(
        "report: {}; check the copy with `cpkit validate {}`\n",
        report_path.display(),
        out.display()
    ));
    super::emit(&text, None)?;
    Ok(ExitCode::SUCCESS)
}

/// Output format of `diagnose`.
#[derive(Clone, Copy, ValueEnum)]
pub enum DiagnoseFormat {
    Human,
    Json,
}

#[derive(Args)]
pub struct DiagnoseArgs {
    /// Files or folders of the case (other files in the folders are checked as attachments).
    pub paths: Vec<PathBuf>,
    /// The error text a product or the exchange showed (Japanese or English), to match against the
    /// known causes.
    #[arg(long)]
    pub error_text: Option<String>,
    /// The receiving product, when known: a persona (`cpkit persona --list`).
    #[arg(long, conflicts_with = "sut")]
    pub receiver: Option<String>,
    /// The receiving product as a SUT configuration (command or folder adapter).
    #[arg(long)]
    pub sut: Option<PathBuf>,
    /// A `cpkit trace export` bundle of the exchange.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// human (the terminal) or json (one document, for tools).
    #[arg(long, value_enum, default_value = "human")]
    pub format: DiagnoseFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `cpkit diagnose`: exit 0 no likely cause, 1 causes found, 2 usage or I/O error.
pub fn diagnose(args: DiagnoseArgs) -> Result<ExitCode> {
    if args.paths.is_empty() && args.trace.is_none() && args.error_text.is_none() {
        bail!("give files or folders, --trace BUNDLE or --error-text TEXT");
    }
    let inputs = if args.paths.is_empty() {
        Inputs::default()
    } else {
        Inputs::read(&args.paths)?
    };
    let trace = args.trace.as_deref().map(TraceBundle::read).transpose()?;
    let mut products: Vec<(Product, bool)> = persona::PERSONAS
        .iter()
        .map(|p| {
            (
                Product::Persona(p.clone()),
                args.receiver.as_deref() == Some(p.name),
            )
        })
        .collect();
    if let Some(r) = &args.receiver
        && !products.iter().any(|(_, c)| *c)
    {
        bail!("unknown persona {r:?}; known: {}", persona::names());
    }
    if let Some(path) = &args.sut {
        let sut = SutConfig::load(path)?;
        if !matches!(sut.adapter.as_str(), "command" | "folder") {
            bail!(
                "{}: cpkit diagnose plays command and folder SUTs, not {:?}",
                path.display(),
                sut.adapter
            );
        }
        products.push((Product::Sut(Box::new(sut)), true));
    }
    let work = WorkDir::new().context("failed to create a work folder")?;
    let validated = inputs.validate(careplan_spec::Options::default());
    let report = diagnose::diagnose(
        diagnose::Request {
            inputs: &inputs.files,
            attachments: &inputs.attachments,
            error_text: args.error_text.as_deref(),
            products,
            trace: trace.as_ref(),
        },
        &validated,
        &work.0,
    );
    let text = match args.format {
        DiagnoseFormat::Human => diagnose::to_human(&report),
        DiagnoseFormat::Json => serde_json::to_string_pretty(&report)? + "\n",
    };
    super::emit(&text, args.output.as_ref())?;
    Ok(if report.causes.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

#[derive(Args)]
pub struct ShrinkArgs {
    /// Files or folders of the failing case.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Keep files on which the spec core reports this rule.
    #[arg(long, required_unless_present = "sut", conflicts_with = "sut")]
    pub rule: Option<String>,
    /// Keep files on which this SUT fails the scenario the same way.
    #[arg(long, requires = "scenario")]
    pub sut: Option<PathBuf>,
    /// The scenario whose fixtures or attachments are the PATHs (with --sut).
    #[arg(long, requires = "sut")]
    pub scenario: Option<PathBuf>,
    /// Where the minimal files (files/) and the scenario (scenario.toml) go; created, must be empty.
    #[arg(long)]
    pub out: PathBuf,
}

struct Stderr;

impl shrink::Progress for Stderr {
    fn phase(&mut self, name: &str, parts: usize) {
        eprintln!("shrink: {name}: {parts} parts");
    }
    fn test(&mut self, n: usize, records: usize, holds: bool) {
        eprintln!(
            "shrink:   test {n}: {records} records — {}",
            if holds {
                "still fails"
            } else {
                "no longer fails"
            }
        );
    }
}

/// `cpkit shrink`: exit 0 written, 1 the input does not fail as asked, 2 usage or I/O error.
pub fn shrink(args: ShrinkArgs) -> Result<ExitCode> {
    let out = &args.out;
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty; nothing was written (choose a new --out folder)",
            out.display()
        );
    }
    let inputs = Inputs::read(&args.paths)?;
    let roots: Vec<(PathBuf, bool)> = args
        .paths
        .iter()
        .map(|p| (p.clone(), p.is_file()))
        .collect();
    // Where each root's minimal files go.
    let files_dir = out.join("files");
    let stand_ins: Vec<PathBuf> = roots
        .iter()
        .enumerate()
        .map(|(k, (p, is_file))| {
            let base = if roots.len() == 1 {
                files_dir.clone()
            } else {
                files_dir.join(k.to_string())
            };
            if *is_file {
                base.join(p.file_name().unwrap_or_default())
            } else {
                base
            }
        })
        .collect();
    let work = WorkDir::new().context("failed to create a work folder")?;
    let loaded;
    let sut;
    let goal = match (&args.rule, &args.sut, &args.scenario) {
        (Some(r), _, _) => {
            let Some(rule) = careplan_spec::RuleId::from_id(r) else {
                bail!("unknown rule {r:?}; `cpkit rules` lists them");
            };
            shrink::Goal::Rule(rule)
        }
        (None, Some(s), Some(sc)) => {
            sut = SutConfig::load(s)?;
            loaded = careplan_harness::scenario::Scenario::read(sc).map_err(|e| {
                anyhow::anyhow!("{}:{}:{}: {}", e.file, e.line, e.column, e.message)
            })?;
            shrink::Goal::Sut {
                config: &sut,
                scenario: &loaded,
                paths: &args.paths,
                work: &work.0,
            }
        }
        _ => bail!("give --rule ID, or --sut CONFIG with --scenario FILE"),
    };
    let result = match shrink::shrink(&inputs.files, &roots, &goal, &mut Stderr) {
        Ok(r) => r,
        Err(e @ shrink::ShrinkError::NotFailing(_)) => {
            eprintln!("cpkit: {e}");
            return Ok(ExitCode::from(1));
        }
        Err(e) => return Err(e.into()),
    };
    let mut written = Vec::new();
    for (root, rel, bytes) in &result.files {
        let target = if roots[*root].1 {
            stand_ins[*root].clone()
        } else {
            stand_ins[*root].join(rel)
        };
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("failed to create {}", dir.display()))?;
        }
        std::fs::write(&target, bytes)
            .with_context(|| format!("failed to write {}", target.display()))?;
        written.push((target, bytes.clone()));
    }
    let scenario_path = out.join("scenario.toml");
    let text = match &goal {
        shrink::Goal::Rule(rule) => {
            let files: Vec<(PathBuf, Vec<u8>)> = written
                .iter()
                .map(|(p, b)| {
                    (
                        p.strip_prefix(&files_dir).unwrap_or(p).to_owned(),
                        b.clone(),
                    )
                })
                .collect();
            shrink::rule_scenario(*rule, &files, "files")
        }
        shrink::Goal::Sut { scenario, .. } => {
            std::fs::create_dir_all(&files_dir)?;
            for s in &stand_ins {
                if !s.exists() && s.extension().is_none() {
                    std::fs::create_dir_all(s)?;
                }
            }
            shrink::sut_scenario(scenario, &args.paths, &stand_ins, out)
        }
    };
    std::fs::create_dir_all(out)?;
    std::fs::write(&scenario_path, &text)
        .with_context(|| format!("failed to write {}", scenario_path.display()))?;
    // The scenario must be usable as it is.
    let written_scenario = careplan_harness::scenario::Scenario::read(&scenario_path)
        .map_err(|e| anyhow::anyhow!("{}:{}:{}: {}", e.file, e.line, e.column, e.message))?;
    let problems = careplan_harness::scenario::lint(&written_scenario);
    if let Some(p) = problems.first() {
        bail!(
            "the written scenario does not lint: {}:{}:{}: {}",
            p.file,
            p.line,
            p.column,
            p.message
        );
    }
    let mut report = String::new();
    for (p, _) in &written {
        report.push_str(&format!("wrote {}\n", p.display()));
    }
    report.push_str(&format!("wrote {}\n", scenario_path.display()));
    report.push_str(&format!(
        "shrunk in {} tests: files {} → {}, users {} → {}, records {} → {}, optional values {} → {}\n",
        result.tests,
        result.before.files,
        result.after.files,
        result.before.users,
        result.after.users,
        result.before.records,
        result.after.records,
        result.before.values,
        result.after.values
    ));
    if !result.rules.is_empty() {
        report.push_str(&format!(
            "other rules still reported: {}\n",
            result.rules.join(", ")
        ));
    }
    super::emit(&report, None)?;
    Ok(ExitCode::SUCCESS)
}

#[derive(Args)]
pub struct ReplayArgs {
    /// The bundle folder: `<report folder>/bundles/NNN-…` of `cpkit run`, or a `cpkit trace
    /// export` folder.
    pub bundle: PathBuf,
    /// human (the terminal) or json (cpkit-replay-result/1, for tools).
    #[arg(long, value_enum, default_value = "human")]
    pub format: DiagnoseFormat,
    /// Write the report to FILE instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// `cpkit replay BUNDLE`: exit 0 same, 1 different, 2 usage or I/O error.
pub fn replay(args: ReplayArgs) -> Result<ExitCode> {
    let result = careplan_harness::support::replay::replay(&args.bundle)?;
    let text = match args.format {
        DiagnoseFormat::Human => result.text(),
        DiagnoseFormat::Json => result.json() + "\n",
    };
    super::emit(&text, args.output.as_ref())?;
    Ok(if result.same() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
