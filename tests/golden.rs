//! The golden corpus as tests, through the real `cpkit` binary: one test per folder.
//!
//! * `golden/valid/<version>/<case>/` — `cpkit validate` must exit 0 (no error-severity finding).
//! * `golden/invalid/<case>/` — exit 1 unless only warnings are expected, every rule listed in the
//!   folder's `expect.toml` must be found, and the full list of findings is an insta snapshot
//!   (`tests/snapshots/`), so any change in what the validator says is reviewed.
//!
//! A new folder in `golden/` is a new test; nothing here lists the cases.

use std::path::{Path, PathBuf};
use std::process::Command;

use libtest_mimic::{Arguments, Failed, Trial};
use serde::Deserialize;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn folders(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(Result::ok)
                .map(|e| e.path())
                .filter(|p| p.is_dir())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[derive(Deserialize)]
struct Expect {
    rules: Vec<String>,
    #[expect(dead_code, reason = "documentation for people reading the corpus")]
    why: Option<String>,
    /// Extra arguments, e.g. `["--profile", "strict"]`.
    #[serde(default)]
    args: Vec<String>,
}

#[derive(Deserialize)]
struct JsonReport {
    findings: Vec<JsonFinding>,
}

#[derive(Deserialize)]
struct JsonFinding {
    rule: String,
    severity: String,
    file: Option<String>,
    line: Option<u32>,
    column: Option<u32>,
    message: Message,
}

#[derive(Deserialize)]
struct Message {
    en: String,
}

fn validate(dir: &Path, extra: &[String]) -> Result<(i32, JsonReport), Failed> {
    let out = Command::new(env!("CARGO_BIN_EXE_cpkit"))
        .arg("validate")
        .arg("--format")
        .arg("json")
        .args(extra)
        .arg(dir)
        .output()
        .map_err(|e| format!("failed to run cpkit: {e}"))?;
    let code = out.status.code().unwrap_or(-1);
    if code == 2 {
        return Err(format!("cpkit exited 2: {}", String::from_utf8_lossy(&out.stderr)).into());
    }
    let report: JsonReport =
        serde_json::from_slice(&out.stdout).map_err(|e| format!("bad JSON from cpkit: {e}"))?;
    Ok((code, report))
}

fn summary(report: &JsonReport, dir: &Path) -> String {
    let prefix = format!("{}/", dir.display());
    report
        .findings
        .iter()
        .map(|f| {
            let file = f
                .file
                .as_deref()
                .map(|p| p.strip_prefix(&prefix).unwrap_or(p))
                .unwrap_or("(unit)");
            let pos = match (f.line, f.column) {
                (Some(l), Some(c)) => format!(":{l}:{c}"),
                _ => String::new(),
            };
            format!("{file}{pos} {} {} {}", f.severity, f.rule, f.message.en)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn valid_case(dir: PathBuf) -> Result<(), Failed> {
    let (code, report) = validate(&dir, &[])?;
    let errors: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.severity == "error")
        .collect();
    if code != 0 || !errors.is_empty() {
        return Err(format!(
            "expected a conformant folder, got exit {code}:\n{}",
            summary(&report, &dir)
        )
        .into());
    }
    Ok(())
}

fn invalid_case(dir: PathBuf, name: String) -> Result<(), Failed> {
    let expect_path = dir.join("expect.toml");
    let text = std::fs::read_to_string(&expect_path)
        .map_err(|e| format!("{}: {e}", expect_path.display()))?;
    let expect: Expect =
        toml::from_str(&text).map_err(|e| format!("{}: {e}", expect_path.display()))?;
    let (code, report) = validate(&dir, &expect.args)?;
    let found: Vec<&str> = report.findings.iter().map(|f| f.rule.as_str()).collect();
    let missing: Vec<&String> = expect
        .rules
        .iter()
        .filter(|r| !found.contains(&r.as_str()))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "expected rules {missing:?} not found; findings:\n{}",
            summary(&report, &dir)
        )
        .into());
    }
    let any_error = report.findings.iter().any(|f| f.severity == "error");
    if any_error != (code == 1) {
        return Err(format!("exit code {code} does not match the findings").into());
    }
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path(root().join("tests/snapshots"));
    settings.set_prepend_module_to_snapshot(false);
    settings.set_description(format!("cpkit validate golden/invalid/{name}"));
    let body = summary(&report, &dir);
    // A differing snapshot panics; libtest-mimic reports the panic as this case's failure.
    settings.bind(|| insta::assert_snapshot!(format!("golden-invalid-{name}"), body));
    Ok(())
}

fn main() {
    let args = Arguments::from_args();
    let golden = root().join("golden");
    let mut trials = Vec::new();
    for version in folders(&golden.join("valid")) {
        for case in folders(&version) {
            let name = format!(
                "valid::{}::{}",
                version.file_name().unwrap_or_default().to_string_lossy(),
                case.file_name().unwrap_or_default().to_string_lossy()
            );
            trials.push(Trial::test(name, move || valid_case(case)));
        }
    }
    for case in folders(&golden.join("invalid")) {
        let short = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        trials.push(Trial::test(format!("invalid::{short}"), move || {
            invalid_case(case, short)
        }));
    }
    assert!(
        !trials.is_empty(),
        "the golden corpus is empty: {}",
        golden.display()
    );
    libtest_mimic::run(&args, trials).exit();
}
