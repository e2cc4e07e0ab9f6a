//! Rendering a validation [`Run`] for people and machines.
//!
//! * human: `file:line:col: severity[RULE] field: message` with the English message and the
//!   offending value (invisible characters made visible) on the following lines;
//! * JSON: the versioned document `cpkit-validate/1`, described in `docs/validate-json.md`; its
//!   shape is the [`JsonReport`] type, so a change to it is a change to this file and to that page;
//! * JUnit: one `<testsuite>` per file and per send unit, one `<testcase>` per rule family, failing
//!   when the family has an error; warnings go to the test case's `system-out`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use careplan_spec::finding::{Finding, Severity};
use careplan_spec::rules::{Family, RULES};
use careplan_spec::{FileKind, UnitReport};
use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::{Deserialize, Serialize};

use crate::check::Run;

/// The schema identifier written into every JSON report.
pub const JSON_SCHEMA: &str = "cpkit-validate/1";

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonReport {
    pub schema: String,
    pub tool: JsonTool,
    pub profile: String,
    pub summary: JsonSummary,
    pub files: Vec<JsonFile>,
    pub units: Vec<JsonUnit>,
    pub findings: Vec<JsonFinding>,
    /// Files in the given folders that were not validated (not .csv / .jpg).
    #[serde(default)]
    pub skipped: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonTool {
    pub name: String,
    pub version: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonSummary {
    pub files: usize,
    pub units: usize,
    pub errors: usize,
    pub warnings: usize,
    pub infos: usize,
    pub conformant: bool,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonFile {
    pub path: String,
    pub kind: Option<String>,
    pub version: Option<String>,
    pub identified_from_content: bool,
    pub records: u32,
    pub bytes: u64,
    pub csv_version: Option<String>,
    pub months: Vec<String>,
    /// Index into `units`.
    pub unit: Option<usize>,
    pub errors: usize,
    pub warnings: usize,
    /// Findings left out past the per-rule cap, by rule ID.
    pub suppressed: BTreeMap<String, u32>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonUnit {
    pub serial: String,
    pub sender: String,
    pub receiver: String,
    /// The send-unit definition matched (`kyotaku-riyohyo`, …), or null.
    pub unit: Option<String>,
    pub unit_no: Option<String>,
    /// Position in the receiver's import order (1-based).
    pub import_order: usize,
    pub files: Vec<String>,
}

pub use careplan_spec::finding::{JsonField, JsonFinding, JsonMessage};

fn json_finding(f: &Finding, unit: Option<&str>) -> JsonFinding {
    f.to_json(unit)
}

/// Builds the JSON document of a run.
pub fn to_json(run: &Run) -> JsonReport {
    let files = run
        .files
        .iter()
        .enumerate()
        .map(|(i, f)| JsonFile {
            path: f.path.clone(),
            kind: f.kind.map(|k| k.prefix().to_owned()),
            version: f.version.map(|v| v.label().to_owned()),
            identified_from_content: f.identified_from_content,
            records: f.records,
            bytes: f.bytes,
            csv_version: f.csv_version.clone(),
            months: f.months.iter().map(|m| m.to_string()).collect(),
            unit: run.unit_of(i),
            errors: f
                .findings
                .iter()
                .filter(|x| x.severity == Severity::Error)
                .count(),
            warnings: f
                .findings
                .iter()
                .filter(|x| x.severity == Severity::Warning)
                .count(),
            suppressed: f
                .suppressed
                .iter()
                .map(|(r, n)| (r.id().to_owned(), *n))
                .collect(),
        })
        .collect();
    let units = run
        .units
        .iter()
        .map(|u| JsonUnit {
            serial: u.serial.to_string(),
            sender: u.sender.to_string(),
            receiver: u.receiver.to_string(),
            unit: u.unit.map(str::to_owned),
            unit_no: u.unit_no.map(str::to_owned),
            import_order: u.import_order,
            files: u.files.iter().map(|&i| run.files[i].path.clone()).collect(),
        })
        .collect();
    let mut findings: Vec<JsonFinding> = run
        .files
        .iter()
        .flat_map(|f| f.findings.iter().map(|x| json_finding(x, None)))
        .collect();
    for u in &run.units {
        findings.extend(
            u.findings
                .iter()
                .map(|x| json_finding(x, Some(u.serial.as_str()))),
        );
    }
    JsonReport {
        schema: JSON_SCHEMA.to_owned(),
        tool: JsonTool {
            name: "cpkit".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        profile: run.profile.to_owned(),
        summary: JsonSummary {
            files: run.files.len(),
            units: run.units.len(),
            errors: run.count(Severity::Error),
            warnings: run.count(Severity::Warning),
            infos: run.count(Severity::Info),
            conformant: run.conformant(),
        },
        files,
        units,
        findings,
        skipped: run
            .skipped
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
    }
}

fn where_(f: &Finding, unit: Option<&str>) -> String {
    let mut out = match (&f.file, unit) {
        (Some(file), _) => file.clone(),
        (None, Some(serial)) => format!("unit {serial}"),
        (None, None) => "-".to_owned(),
    };
    if let Some(l) = f.location {
        let _ = write!(out, ":{}:{}", l.line, l.column);
    }
    out
}

fn human_finding(out: &mut String, f: &Finding, unit: Option<&str>) {
    let field = f
        .field
        .as_ref()
        .map(|x| format!(" No.{} {}:", x.no, x.name))
        .unwrap_or_default();
    let _ = writeln!(
        out,
        "{}: {}[{}]{} {}",
        where_(f, unit),
        f.severity,
        f.rule.id(),
        field,
        f.message_ja()
    );
    let _ = writeln!(out, "    {}", f.message_en());
    if let Some(v) = &f.value {
        let _ = writeln!(out, "    value: «{v}»");
    }
    let _ = writeln!(out, "    ref: {}", f.public_reference());
    let _ = writeln!(out, "    kit: {}", f.rule_info().reference);
}

/// Human-readable text.
pub fn to_human(run: &Run) -> String {
    let mut out = String::new();
    for file in &run.files {
        for f in &file.findings {
            human_finding(&mut out, f, None);
        }
        for (rule, n) in &file.suppressed {
            let _ = writeln!(
                out,
                "{}: note: {n} more {} findings not shown",
                file.path,
                rule.id()
            );
        }
    }
    for u in &run.units {
        for f in &u.findings {
            human_finding(&mut out, f, Some(u.serial.as_str()));
        }
    }
    if !run.units.is_empty() {
        let _ = writeln!(out, "\nsend units (import order per receiver):");
        for u in &run.units {
            let what = u
                .unit_no
                .map(|n| format!("{n} {}", u.unit.unwrap_or("")))
                .unwrap_or_else(|| "not a valid unit".to_owned());
            let _ = writeln!(
                out,
                "  to {} #{}: serial {} from {}: {} ({} files)",
                u.receiver,
                u.import_order,
                u.serial,
                u.sender,
                what,
                u.files.len()
            );
        }
    }
    if !run.skipped.is_empty() {
        let list: Vec<String> = run
            .skipped
            .iter()
            .take(5)
            .map(|p| p.display().to_string())
            .collect();
        let more = if run.skipped.len() > 5 { ", …" } else { "" };
        let _ = writeln!(
            out,
            "\nnote: skipped {} files that are not .csv or .jpg: {}{more}",
            run.skipped.len(),
            list.join(", ")
        );
    }
    let (e, w, i) = (
        run.count(Severity::Error),
        run.count(Severity::Warning),
        run.count(Severity::Info),
    );
    let verdict = if run.conformant() {
        "conformant"
    } else {
        "NOT conformant"
    };
    let _ = writeln!(
        out,
        "\n{} files, {} send units: {e} errors, {w} warnings, {i} notes — {verdict}",
        run.files.len(),
        run.units.len()
    );
    out
}

/// The rule families a file suite (or, with `unit`, a send-unit suite) reports on.
fn families(unit: bool) -> Vec<Family> {
    let mut v: Vec<Family> = RULES
        .iter()
        .map(|r| r.family)
        .filter(|f| matches!(f, Family::Unit | Family::CrossFile) == unit)
        .collect();
    v.sort();
    v.dedup();
    v
}

/// The JUnit classname of a file's cases: `file.<kind>.<name without extension>`
/// (`file.UPPLAN.UPPLAN_202505_…_20250425120000`), so readers that split a classname at its last
/// dot group files by kind and never take the extension (`CSV`) for a class.
fn file_classname(path: &str, kind: Option<FileKind>) -> String {
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path);
    let stem = name.rsplit_once('.').map_or(name, |(stem, _)| stem);
    format!(
        "file.{}.{}",
        kind.map_or("unknown", FileKind::prefix),
        stem.replace('.', "_")
    )
}

/// The JUnit classname of a send unit's cases: `unit.<unit id>.<serial>_<sender>_<receiver>`.
fn unit_classname(u: &UnitReport) -> String {
    format!(
        "unit.{}.{}_{}_{}",
        u.unit.unwrap_or("unknown"),
        u.serial,
        u.sender,
        u.receiver
    )
}

fn suite_for(
    name: &str,
    classname: &str,
    file: Option<&str>,
    findings: &[&Finding],
    unit: Option<&str>,
) -> TestSuite {
    let mut suite = TestSuite::new(name);
    let families = families(unit.is_some());
    for family in families {
        let in_family: Vec<&&Finding> = findings
            .iter()
            .filter(|f| f.rule_info().family == family)
            .collect();
        let errors: Vec<&&&Finding> = in_family
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .collect();
        let status = if errors.is_empty() {
            TestCaseStatus::success()
        } else {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            let first = errors[0];
            s.set_message(format!(
                "{} error(s); first: {} {}",
                errors.len(),
                first.rule.id(),
                first.message_en()
            ));
            s.set_type(first.rule.id());
            let mut text = String::new();
            for f in &errors {
                human_finding(&mut text, f, unit);
            }
            s.set_description(text);
            s
        };
        let mut case = TestCase::new(family.label(), status);
        case.set_classname(classname);
        if let Some(file) = file {
            case.extra.insert("file".into(), file.into());
        }
        let others: Vec<&&&Finding> = in_family
            .iter()
            .filter(|f| f.severity != Severity::Error)
            .collect();
        if !others.is_empty() {
            let mut text = String::new();
            for f in others {
                human_finding(&mut text, f, unit);
            }
            case.set_system_out(text);
        }
        suite.add_test_case(case);
    }
    suite
}

/// JUnit XML.
pub fn to_junit(run: &Run) -> String {
    let mut report = Report::new("cpkit validate");
    for file in &run.files {
        let findings: Vec<&Finding> = file.findings.iter().collect();
        let classname = file_classname(&file.path, file.kind);
        let mut suite = suite_for(&file.path, &classname, Some(&file.path), &findings, None);
        if let Some(k) = file.kind {
            suite.add_property(Property::new("kind", k.prefix()));
        }
        if let Some(v) = file.version {
            suite.add_property(Property::new("version", v.label()));
        }
        suite.add_property(Property::new("profile", run.profile));
        report.add_test_suite(suite);
    }
    for u in &run.units {
        let findings: Vec<&Finding> = u.findings.iter().collect();
        let name = format!("unit {} {}→{}", u.serial, u.sender, u.receiver);
        let mut suite = suite_for(
            &name,
            &unit_classname(u),
            None,
            &findings,
            Some(u.serial.as_str()),
        );
        if let Some(id) = u.unit {
            suite.add_property(Property::new("unit", id));
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- failed to write JUnit: {e} -->"))
}

/// The rule catalogue as Markdown (`docs/rules.md`).
pub fn rules_markdown() -> String {
    let mut out = String::from(
        "# Rule catalogue\n\nGenerated by `cpkit rules --markdown` from `spec/src/rules.rs`; a test fails when this file is \
         stale. Severity is the default (profile `standard`); `cpkit rules --profiles` shows what `strict` and \
         `lenient` change. Sources: `L4`/`S4`/`V3` keys of `../shared/spec/SUMMARY.md` §0, `D-…` entries of \
         `docs/decisions.md`.\n",
    );
    let mut family = None;
    for r in RULES {
        if family != Some(r.family) {
            family = Some(r.family);
            let _ = write!(
                out,
                "\n## {}\n\n| ID | severity | rule | where in the standard (MHLW) | kit keys |\n| --- | --- | --- | --- | --- |\n",
                r.family.label()
            );
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} / {} | {} | {} |",
            r.id,
            r.severity,
            r.title_ja,
            r.title_en,
            careplan_spec::sources::public(r.reference)
                .join("<br>")
                .replace('|', "\\|"),
            r.reference.replace('|', "\\|")
        );
    }
    out.push_str("\n## Examples and fixes\n\n");
    for r in RULES {
        let _ = write!(
            out,
            "### {} — {}\n\n- message: {} / {}\n- violation: {}\n- fix: {}\n\n",
            r.id, r.title_en, r.message_ja, r.message_en, r.example, r.fix
        );
    }
    out
}

/// The coverage map of the spec core (`cpkit rules --coverage`): JSON, Markdown (docs/coverage.md)
/// or a terminal listing.
pub fn coverage(json: bool, markdown: bool) -> Result<String, serde_json::Error> {
    use careplan_spec::coverage;
    if markdown {
        return Ok(coverage::markdown());
    }
    if json {
        let value = serde_json::json!({
            "rows": coverage::rows(),
            "clauses": coverage::clauses(),
        });
        return Ok(serde_json::to_string_pretty(&value)? + "\n");
    }
    let mut out = String::new();
    for c in coverage::clauses() {
        let _ = writeln!(out, "{}\n    {}", c.public_reference, c.what);
        if !c.rules.is_empty() {
            let _ = writeln!(out, "    rules: {}", c.rules.join(", "));
        }
        if let Some(why) = &c.unchecked {
            let _ = writeln!(out, "    not checked: {why}");
        }
    }
    let rows = coverage::rows();
    for r in &rows {
        let _ = writeln!(
            out,
            "{} No.{:<3} {:<28} {}",
            r.layout,
            r.no,
            r.name,
            r.rules.join(" ")
        );
        for u in &r.unchecked {
            let _ = writeln!(out, "    not checked: {u}");
        }
    }
    let _ = writeln!(
        out,
        "\n{} rows of {} layouts; `--markdown` writes docs/coverage.md, `--json` the map as data.",
        rows.len(),
        careplan_spec::layout::all_layouts().len()
    );
    Ok(out)
}
