//! The `command` SUT adapter: the vendor gives command lines (argument arrays with placeholders)
//! for load, import, export and record-actuals; the kit runs them with a timeout, hands files
//! through folders and captures the output.
//!
//! Placeholders, replaced inside each argument: `{office}`, `{service_type}`, `{work}` (a folder
//! kept for the office through the scenario), `{in}` (a fresh folder holding the files to load or
//! import), `{out}` (a fresh, empty folder for exported files), `{unit}`, `{to}`, `{to_type}`,
//! `{as_type}`, `{month}` (YYYYMM or empty), `{serial}`, `{today}`, and `{cpkit}` (this kit's own
//! executable, so that a SUT can be built from `cpkit persona`). No shell is involved.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use careplan_spec::Month;
use serde::Deserialize;

use super::state::CareState;
use super::{ExportRequest, ImportReport, Refusal, Software, SoftwareError, StoredFile};

/// The `[command]` table of a SUT configuration.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandConfig {
    /// Gives the product the office's own data (`{in}` holds the files). Optional.
    #[serde(default)]
    pub load: Option<Vec<String>>,
    pub import: Vec<String>,
    pub export: Vec<String>,
    /// Records actuals as planned. Optional.
    #[serde(default)]
    pub record_actuals: Option<Vec<String>>,
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// The exchange client version the product's office runs.
    #[serde(default = "default_client")]
    pub client_version: String,
}

fn default_timeout() -> u64 {
    60
}

fn default_client() -> String {
    "1.2.0".to_owned()
}

/// A system under test driven by command lines.
pub struct CommandSut {
    name: String,
    config: CommandConfig,
    office: String,
    service_type: String,
    work: PathBuf,
    runs: usize,
}

/// The outcome of one command.
struct Ran {
    ok: bool,
    /// The command line and everything the product printed.
    output: String,
    /// What the product printed (its own words, for matching an expected error).
    said: String,
}

/// Replaces `{name}` placeholders in one pass (a value containing braces is left alone).
fn substitute(arg: &str, vars: &[(&str, String)]) -> String {
    let mut out = String::new();
    let mut rest = arg;
    while let Some(i) = rest.find('{') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match after.find('}').and_then(|j| {
            let name = &after[..j];
            vars.iter().find(|(k, _)| *k == name).map(|(_, v)| (j, v))
        }) {
            Some((j, v)) => {
                out.push_str(v);
                rest = &after[j + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The rule IDs of the catalogue a product's output names (a persona run as a SUT names them;
/// a vendor's product usually does not).
pub(crate) fn rules_named(text: &str) -> Vec<String> {
    let mut out: Vec<String> = text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| careplan_spec::RuleId::from_id(w).is_some())
        .map(str::to_owned)
        .collect();
    out.sort();
    out.dedup();
    out
}

impl CommandSut {
    pub fn new(
        name: &str,
        config: CommandConfig,
        office: &str,
        service_type: &str,
        work: PathBuf,
    ) -> Result<Self, SoftwareError> {
        std::fs::create_dir_all(&work).map_err(|e| {
            SoftwareError::Failed(format!("failed to create {}: {e}", work.display()))
        })?;
        Ok(Self {
            name: name.to_owned(),
            config,
            office: office.to_owned(),
            service_type: service_type.to_owned(),
            work,
            runs: 0,
        })
    }

    fn fresh_dir(&mut self, what: &str) -> Result<PathBuf, SoftwareError> {
        self.runs += 1;
        let dir = self.work.join(format!("{what}-{:03}", self.runs));
        std::fs::create_dir_all(&dir).map_err(|e| {
            SoftwareError::Failed(format!("failed to create {}: {e}", dir.display()))
        })?;
        Ok(dir)
    }

    fn run(&self, template: &[String], vars: &[(&str, String)]) -> Result<Ran, SoftwareError> {
        let argv: Vec<String> = template.iter().map(|arg| substitute(arg, vars)).collect();
        let (program, args) = argv
            .split_first()
            .ok_or_else(|| SoftwareError::Failed("an empty command line".to_owned()))?;
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| SoftwareError::Failed(format!("failed to start {program}: {e}")))?;
        let mut pipes = Vec::new();
        if let Some(mut out) = child.stdout.take() {
            pipes.push(std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = out.read_to_end(&mut s);
                s
            }));
        }
        if let Some(mut err) = child.stderr.take() {
            pipes.push(std::thread::spawn(move || {
                let mut s = Vec::new();
                let _ = err.read_to_end(&mut s);
                s
            }));
        }
        let deadline = Instant::now() + Duration::from_secs(self.config.timeout_seconds);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(SoftwareError::Failed(format!(
                        "{} did not finish within {} s and was stopped: {}",
                        program,
                        self.config.timeout_seconds,
                        argv.join(" ")
                    )));
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
                Err(e) => {
                    return Err(SoftwareError::Failed(format!(
                        "failed to wait for {program}: {e}"
                    )));
                }
            }
        };
        let mut said = String::new();
        for p in pipes {
            let bytes = p.join().unwrap_or_default();
            said.push_str(&String::from_utf8_lossy(&bytes));
        }
        let mut output = format!("$ {}\n{said}", argv.join(" "));
        if !status.success() {
            output.push_str(&format!("({status})\n"));
        }
        Ok(Ran {
            ok: status.success(),
            output,
            said,
        })
    }

    fn base_vars(&self) -> Vec<(&'static str, String)> {
        let cpkit = std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|_| "cpkit".to_owned());
        vec![
            ("cpkit", cpkit),
            ("office", self.office.clone()),
            ("service_type", self.service_type.clone()),
            ("work", self.work.display().to_string()),
        ]
    }
}

fn write_files(dir: &Path, files: &[StoredFile]) -> Result<(), SoftwareError> {
    for f in files {
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.bytes).map_err(|e| {
            SoftwareError::Failed(format!("failed to write {}: {e}", path.display()))
        })?;
    }
    Ok(())
}

fn read_files(dir: &Path) -> Result<Vec<StoredFile>, SoftwareError> {
    let fail =
        |e: std::io::Error| SoftwareError::Failed(format!("failed to read {}: {e}", dir.display()));
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(fail)? {
        let entry = entry.map_err(fail)?;
        if !entry.file_type().map_err(fail)?.is_file() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push(StoredFile {
            bytes: std::fs::read(entry.path()).map_err(fail)?,
            name,
        });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

impl Software for CommandSut {
    fn label(&self) -> String {
        format!("sut command ({})", self.name)
    }

    fn client_version(&self) -> String {
        self.config.client_version.clone()
    }

    fn load(&mut self, files: &[StoredFile]) -> Result<String, SoftwareError> {
        let Some(template) = self.config.load.clone() else {
            return Err(SoftwareError::Failed(
                "the SUT configuration has no [command] load line; the scenario gives this office data to load".to_owned(),
            ));
        };
        let dir = self.fresh_dir("load")?;
        write_files(&dir, files)?;
        let mut vars = self.base_vars();
        vars.push(("in", dir.display().to_string()));
        let ran = self.run(&template, &vars)?;
        if ran.ok {
            Ok(ran.output)
        } else {
            Err(SoftwareError::Refused(ran.said))
        }
    }

    fn import(&mut self, files: &[StoredFile]) -> Result<ImportReport, SoftwareError> {
        let dir = self.fresh_dir("import")?;
        write_files(&dir, files)?;
        let mut vars = self.base_vars();
        vars.push(("in", dir.display().to_string()));
        let template = self.config.import.clone();
        let ran = self.run(&template, &vars)?;
        let names: Vec<String> = files.iter().map(|f| f.name.clone()).collect();
        let mut report = ImportReport {
            journal: ran.output.lines().map(str::to_owned).collect(),
            ..ImportReport::default()
        };
        if ran.ok {
            report.imported = names;
        } else {
            let refusals: Vec<&str> = ran
                .said
                .lines()
                .filter(|l| l.starts_with("refused "))
                .collect();
            let reason = if refusals.is_empty() {
                ran.said
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("the import command failed")
                    .to_owned()
            } else {
                refusals.join("; ")
            };
            report.refused.push(Refusal {
                files: names,
                reason,
                rules: rules_named(&ran.said),
            });
        }
        Ok(report)
    }

    fn export(&mut self, request: &ExportRequest) -> Result<Vec<StoredFile>, SoftwareError> {
        let dir = self.fresh_dir("export")?;
        let mut vars = self.base_vars();
        let opt = |t: Option<careplan_spec::ServiceTypeCode>| {
            t.map(|t| t.as_str().to_owned()).unwrap_or_default()
        };
        vars.extend([
            ("out", dir.display().to_string()),
            ("unit", request.unit.clone()),
            ("to", request.to.as_str().to_owned()),
            ("to_type", opt(request.to_type)),
            ("as_type", opt(request.as_type)),
            (
                "month",
                request
                    .month
                    .map(|m| format!("{:04}{:02}", m.year(), m.month()))
                    .unwrap_or_default(),
            ),
            ("serial", request.serial.as_str().to_owned()),
            ("today", request.today.clone()),
        ]);
        let template = self.config.export.clone();
        let ran = self.run(&template, &vars)?;
        if !ran.ok {
            return Err(SoftwareError::Refused(ran.said));
        }
        read_files(&dir)
    }

    fn record_actuals(&mut self, month: Option<Month>) -> Result<String, SoftwareError> {
        let Some(template) = self.config.record_actuals.clone() else {
            return Ok(
                "the SUT records actuals itself (no [command] record_actuals line)".to_owned(),
            );
        };
        let mut vars = self.base_vars();
        vars.push((
            "month",
            month
                .map(|m| format!("{:04}{:02}", m.year(), m.month()))
                .unwrap_or_default(),
        ));
        let ran = self.run(&template, &vars)?;
        if ran.ok {
            Ok(ran.output)
        } else {
            Err(SoftwareError::Refused(ran.said))
        }
    }

    fn edit(&mut self, _edit: &super::state::Edit) -> Option<Result<String, SoftwareError>> {
        None
    }

    fn state(&self) -> Option<&CareState> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_replaced_once_and_unknown_ones_kept() {
        let vars = [("in", "/tmp/{out}".to_owned()), ("out", "/o".to_owned())];
        assert_eq!(substitute("--from={in}", &vars), "--from=/tmp/{out}");
        assert_eq!(substitute("{out}/{nope}/{", &vars), "/o/{nope}/{");
    }

    #[test]
    fn rule_ids_are_picked_from_a_products_words() {
        assert_eq!(
            rules_named("refused X.CSV: X.CSV:1:3: FLD005 free text; VER002"),
            vec!["FLD005", "VER002"]
        );
        assert!(rules_named("error 404 FLD9999").is_empty());
    }
}
