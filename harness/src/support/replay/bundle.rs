//! The run bundle `cpkit-replay/1`: what `cpkit run` writes for a failing scenario so that it can
//! be replayed anywhere, without the checkout or the files it was run from (docs/support.md).
//!
//! ```text
//! BUNDLE/
//!   bundle.json       the manifest (below)
//!   scenario.toml     the scenario as run, its fixture/attach paths pointing into inputs/
//!   inputs/NN/NAME    each fixture or attachment as the run read it: a file under its name, a
//!                     folder as a folder of its files of the standard
//!   sut.toml          the --sut configuration as given (absent without --sut)
//!   transcript.jsonl  every call of the kit's exchange client, in order (`ExchangeCall`)
//! ```
//!
//! `bundle.json` holds the schema, the tool, when the run started, the scenario (name, report
//! name, verdict), every input (path in the scenario, path in the bundle, files with size and
//! SHA-256), the SUT (name, adapter, path given), the clock, each office's certificate (variant,
//! kind, SHA-256 fingerprint, serial), the software per office and every case with its verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{ReplayError, sha256_hex};
use crate::outcome::{CertificateUse, ExchangeCall, RunClock, ScenarioOutcome};
use crate::scenario::{Scenario, lint};
use crate::suite::{Origin, Source};

pub const MANIFEST: &str = "bundle.json";
pub const SCHEMA: &str = "cpkit-replay/1";
pub const SCENARIO: &str = "scenario.toml";
pub const SUT: &str = "sut.toml";
pub const TRANSCRIPT: &str = "transcript.jsonl";

/// `bundle.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    pub schema: String,
    /// `run`.
    pub kind: String,
    pub tool: Tool,
    /// When the run started (RFC 3339, UTC).
    pub recorded: String,
    pub scenario: ScenarioRecord,
    pub inputs: Vec<InputRecord>,
    pub sut: Option<SutRecord>,
    pub clock: Option<RunClock>,
    pub certificates: Vec<CertificateUse>,
    pub software: Vec<SoftwareRecord>,
    pub cases: Vec<CaseRecord>,
    /// The command that replays the bundle.
    pub replay: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Tool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ScenarioRecord {
    pub name: String,
    /// The report name of the scenario file (`scenarios/x.toml`).
    pub file: String,
    pub verdict: String,
}

/// A fixture or attachment of the scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputRecord {
    /// The path as the scenario names it.
    pub given: String,
    /// Its copy in the bundle.
    pub bundled: String,
    /// Whether the run could read it (a missing fixture is part of what the run found).
    pub found: bool,
    pub files: Vec<FileRecord>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileRecord {
    /// The path in the bundle.
    pub path: String,
    pub bytes: usize,
    pub sha256: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SutRecord {
    pub name: String,
    pub adapter: String,
    /// The `--sut` path as given.
    pub given: String,
    /// Its copy in the bundle (`sut.toml`).
    pub file: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SoftwareRecord {
    pub office: String,
    pub software: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CaseRecord {
    pub step: usize,
    pub name: String,
    pub verdict: String,
    pub message: String,
}

/// The SUT configuration a run used: the path given and its text.
pub struct SutSource {
    pub given: String,
    pub text: String,
    pub name: String,
    pub adapter: String,
}

impl SutSource {
    /// Reads the text of a `--sut` path (on disk, or a built-in example of that name).
    pub fn read(path: &Path, name: &str, adapter: &str) -> Result<Self, ReplayError> {
        let text = crate::suite::locate(path)
            .ok_or_else(|| ReplayError::invalid(path, "no such file (nor a built-in one)"))?
            .read_text()
            .map_err(|e| ReplayError::invalid(path, e))?;
        Ok(Self {
            given: path.display().to_string(),
            text,
            name: name.to_owned(),
            adapter: adapter.to_owned(),
        })
    }
}

/// The folder name of a scenario's bundle: `003-roundtrip-v41-riyohyo` (its number in the run and
/// the stem of its file).
pub fn folder_name(index: usize, scenario_file: &str) -> String {
    let stem = scenario_file
        .rsplit('/')
        .next()
        .map(|f| f.strip_suffix(".toml").unwrap_or(f))
        .unwrap_or_default();
    let slug: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let slug = slug.trim_matches('-');
    format!(
        "{:03}-{}",
        index + 1,
        if slug.is_empty() { "scenario" } else { slug }
    )
}

/// A file name that stays inside its folder.
fn safe_name(name: &str) -> String {
    let last = name
        .trim_end_matches(['/', '\\'])
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default();
    if last.is_empty() || last == "." || last == ".." {
        "input".to_owned()
    } else {
        last.to_owned()
    }
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ReplayError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| ReplayError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| ReplayError::Write {
        path: path.to_path_buf(),
        source,
    })
}

/// Writes the bundle of a scenario's run into `dir` (replacing an earlier bundle there; a folder
/// that holds something else is refused). `started` is the run's start time.
pub fn write_bundle(
    dir: &Path,
    scenario: &Scenario,
    outcome: &ScenarioOutcome,
    sut: Option<&SutSource>,
    started: &str,
) -> Result<(), ReplayError> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(ReplayError::read(dir))?
            .next()
            .is_none();
        if !empty && !dir.join(MANIFEST).is_file() {
            return Err(ReplayError::invalid(
                dir,
                "exists and is not a replay bundle; nothing was written",
            ));
        }
        std::fs::remove_dir_all(dir).map_err(|source| ReplayError::Write {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // Inputs: each path the steps name, once, in the order of the steps.
    let mut bundled: BTreeMap<String, String> = BTreeMap::new();
    let mut inputs = Vec::new();
    for step in &scenario.file.steps {
        for given in super::super::scenario_text::step_paths(step.get_ref()) {
            if bundled.contains_key(given.as_str()) {
                continue;
            }
            let origin = scenario.resolve(given);
            let at = format!("inputs/{:02}/{}", inputs.len() + 1, safe_name(given));
            let is_file = match &origin {
                Origin::Disk(p) => p.is_file(),
                Origin::Builtin(p) => crate::suite::builtin(p).is_some(),
            };
            let mut record = InputRecord {
                given: given.clone(),
                bundled: at.clone(),
                found: false,
                files: Vec::new(),
            };
            if let Ok(files) = origin.read_fixture() {
                record.found = true;
                for f in files {
                    let path = if is_file {
                        at.clone()
                    } else {
                        format!("{at}/{}", safe_name(&f.name))
                    };
                    write(&dir.join(&path), &f.bytes)?;
                    record.files.push(FileRecord {
                        path,
                        bytes: f.bytes.len(),
                        sha256: sha256_hex(&f.bytes),
                    });
                }
                if !is_file && record.files.is_empty() {
                    // An empty folder stays a folder.
                    std::fs::create_dir_all(dir.join(&at)).map_err(|source| {
                        ReplayError::Write {
                            path: dir.join(&at),
                            source,
                        }
                    })?;
                }
            }
            bundled.insert(given.clone(), at);
            inputs.push(record);
        }
    }
    let text = super::super::scenario_text::rewrite_paths(scenario, |p| {
        bundled.get(p).cloned().unwrap_or_else(|| p.to_owned())
    });
    write(&dir.join(SCENARIO), text.as_bytes())?;
    if let Some(s) = sut {
        write(&dir.join(SUT), s.text.as_bytes())?;
    }
    let mut transcript = String::new();
    for call in &outcome.transcript {
        transcript.push_str(&serde_json::to_string(call).expect("a call serialises"));
        transcript.push('\n');
    }
    write(&dir.join(TRANSCRIPT), transcript.as_bytes())?;
    let manifest = Manifest {
        schema: SCHEMA.to_owned(),
        kind: "run".to_owned(),
        tool: Tool {
            name: "cpkit".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        recorded: started.to_owned(),
        scenario: ScenarioRecord {
            name: outcome.name.clone(),
            file: outcome.file.clone(),
            verdict: outcome.verdict().label().to_owned(),
        },
        inputs,
        sut: sut.map(|s| SutRecord {
            name: s.name.clone(),
            adapter: s.adapter.clone(),
            given: s.given.clone(),
            file: SUT.to_owned(),
        }),
        clock: outcome.clock.clone(),
        certificates: outcome.certificates.clone(),
        software: outcome
            .software
            .iter()
            .map(|(office, software)| SoftwareRecord {
                office: office.clone(),
                software: software.clone(),
            })
            .collect(),
        cases: cases_of(outcome),
        replay: format!("cpkit replay {}", dir.display()),
    };
    write(
        &dir.join(MANIFEST),
        serde_json::to_string_pretty(&manifest)
            .expect("a manifest serialises")
            .as_bytes(),
    )
}

/// The cases of an outcome as the manifest records them.
pub fn cases_of(outcome: &ScenarioOutcome) -> Vec<CaseRecord> {
    outcome
        .cases
        .iter()
        .map(|c| CaseRecord {
            step: c.step,
            name: c.name.clone(),
            verdict: c.verdict.label().to_owned(),
            message: c.message.clone(),
        })
        .collect()
}

/// A run bundle as read back.
pub struct RunBundle {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub scenario: Scenario,
    pub transcript: Vec<ExchangeCall>,
}

impl RunBundle {
    pub fn read(dir: &Path) -> Result<Self, ReplayError> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).map_err(ReplayError::read(&path))?;
        let manifest: Manifest = serde_json::from_str(&text)
            .map_err(|e| ReplayError::invalid(&path, format!("line {}: {e}", e.line())))?;
        if manifest.schema != SCHEMA || manifest.kind != "run" {
            return Err(ReplayError::invalid(
                &path,
                format!(
                    "schema {:?} kind {:?}: this cpkit replays {SCHEMA} run bundles",
                    manifest.schema, manifest.kind
                ),
            ));
        }
        let scenario = Scenario::load(&Source {
            origin: Origin::Disk(dir.join(SCENARIO)),
            name: manifest.scenario.file.clone(),
        })
        .map_err(|e| ReplayError::invalid(&dir.join(SCENARIO), e.to_string()))?;
        // A missing fixture is what the run found, and lint would refuse it; other problems are
        // the bundle's.
        let missing: Vec<&str> = manifest
            .inputs
            .iter()
            .filter(|i| !i.found)
            .map(|i| i.bundled.as_str())
            .collect();
        if let Some(e) = lint(&scenario)
            .into_iter()
            .find(|e| !missing.iter().any(|m| e.message.contains(m)))
        {
            return Err(ReplayError::invalid(
                &dir.join(SCENARIO),
                format!("{}:{}: {}", e.line, e.column, e.message),
            ));
        }
        let path = dir.join(TRANSCRIPT);
        let text = std::fs::read_to_string(&path).map_err(ReplayError::read(&path))?;
        let mut transcript = Vec::new();
        for (i, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            transcript.push(
                serde_json::from_str(line)
                    .map_err(|e| ReplayError::invalid(&path, format!("line {}: {e}", i + 1)))?,
            );
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            manifest,
            scenario,
            transcript,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_names_are_numbered_slugs() {
        assert_eq!(
            folder_name(2, "scenarios/roundtrip-v41-riyohyo.toml"),
            "003-roundtrip-v41-riyohyo"
        );
        assert_eq!(folder_name(0, "suite/予定 と 実績.toml"), "001-scenario");
        assert_eq!(folder_name(9, "a b.toml"), "010-a-b");
    }

    #[test]
    fn input_names_stay_in_their_folder() {
        assert_eq!(
            safe_name("../golden/valid/v4.1/riyohyo-minimal"),
            "riyohyo-minimal"
        );
        assert_eq!(safe_name("fixtures/note.pdf"), "note.pdf");
        assert_eq!(safe_name(".."), "input");
        assert_eq!(safe_name("a/"), "a");
    }
}
