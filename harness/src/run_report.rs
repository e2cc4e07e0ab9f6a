//! Rendering a scenario run ([`RunOutcome`]) for CI servers, machines and people.
//!
//! * JUnit: one `<testsuite>` per scenario, one `<testcase>` per step or assertion; pass and warn
//!   are successes (a warning carries `verdict` and `warning` properties and its text in
//!   `system-out`, and the suite counts its warnings), unless the run fails on warnings
//!   (`--fail-on warn`: a warning is then a `<failure type="warn">`); n/a and blocked are skipped,
//!   fail is a `<failure>`, error an `<error>`;
//! * JSON: the versioned document `cpkit-run/1`, described in `docs/run-reports.md`; its shape is
//!   the private `Json…` types below, so a change to it is a change to this file and to that page;
//! * HTML: one self-contained page (inline CSS, no script) for people;
//! * text: [`diff_text`] for a record diff and [`summary_line`] for the run, shared by the JUnit
//!   report and the runner's terminal output.
//!
//! Everything here reads the model of `outcome` only; the runner never formats a report itself.

use std::fmt::Write as _;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use crate::outcome::{
    CaseOutcome, CellDiff, CsvDiff, RunOutcome, ScenarioOutcome, Tally, Verdict, located,
};

/// The schema identifier written into every JSON run report.
pub const JSON_SCHEMA: &str = "cpkit-run/1";

/// The name of the JUnit report (`<testsuites name=…>`).
pub const JUNIT_REPORT_NAME: &str = "cpkit run";

// ---------------------------------------------------------------------------------------------
// Text

/// The plain-text rendering of a record diff: the subject, then one line per missing record, per
/// unexpected record and per differing cell. Every line ends with a newline.
pub fn diff_text(diff: &CsvDiff) -> String {
    let mut out = format!("{}\n", diff.subject);
    for record in &diff.missing {
        let _ = writeln!(out, "  missing:    {record}");
    }
    for record in &diff.unexpected {
        let _ = writeln!(out, "  unexpected: {record}");
    }
    for cell in &diff.cells {
        let _ = writeln!(
            out,
            "  {}, No.{} {}: expected «{}», actual «{}»",
            record_label(cell),
            cell.column,
            cell.field,
            cell.expected,
            cell.actual
        );
    }
    if diff.is_empty() {
        out.push_str("  (no differences)\n");
    }
    out
}

/// The record of a cell by its key and CSV line: `131016/1234500001 20250602 151325
/// (UPJSK_….CSV line 2)`; `record 4` when it has no key, `missing record` when it is not in the
/// compared file.
fn record_label(cell: &CellDiff) -> String {
    if cell.record == 0 {
        "missing record".to_owned()
    } else if cell.key.is_empty() {
        format!("record {}", cell.record)
    } else {
        located(&cell.key, &cell.file, cell.line)
    }
}

/// One line for the end of a run, e.g.
/// `12 scenarios: 10 pass, 1 warn, 1 fail, 0 error (84 cases) in 12.3 s`.
///
/// The n/a count is shown only when some scenario is n/a, the cases not run only when some are
/// blocked (`(84 cases, 6 blocked)`), and `failing on warnings` with `--fail-on warn`.
pub fn summary_line(run: &RunOutcome) -> String {
    let scenarios = run.scenario_tally();
    let not_applicable = if scenarios.not_applicable > 0 {
        format!(", {} n/a", scenarios.not_applicable)
    } else {
        String::new()
    };
    let cases = run.case_tally();
    let blocked = if cases.blocked > 0 {
        format!(", {} blocked", cases.blocked)
    } else {
        String::new()
    };
    let strict = if run.fail_on <= Verdict::Warn {
        ", failing on warnings"
    } else {
        ""
    };
    format!(
        "{}: {} pass, {} warn{not_applicable}, {} fail, {} error ({}{blocked}) in {}{strict}",
        counted(run.scenarios.len(), "scenario", "scenarios"),
        scenarios.pass,
        scenarios.warn,
        scenarios.fail,
        scenarios.error,
        counted(tally_total(&cases), "case", "cases"),
        seconds(run.duration)
    )
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn tally_total(t: &Tally) -> usize {
    t.pass + t.warn + t.not_applicable + t.blocked + t.fail + t.error
}

/// `12.3 s`.
fn seconds(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

/// The full text of a case for a CI server: message, expected, actual, diff, log, refs.
fn case_detail(case: &CaseOutcome) -> String {
    let mut out = format!("{}\n", case.message);
    if let Some(expected) = &case.expected {
        let _ = writeln!(out, "expected: {expected}");
    }
    if let Some(actual) = &case.actual {
        let _ = writeln!(out, "actual: {actual}");
    }
    if let Some(diff) = &case.diff {
        out.push('\n');
        out.push_str(&diff_text(diff));
    }
    if !case.log.is_empty() {
        out.push_str("\nlog:\n");
        for line in &case.log {
            let _ = writeln!(out, "  {line}");
        }
    }
    if !case.refs.is_empty() {
        let _ = writeln!(out, "\nrefs: {}", case.refs.join("; "));
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JUnit

/// The JUnit classname of a scenario file: `scenarios/kyotaku/plan.toml` → `scenarios.kyotaku.plan`.
fn junit_classname(file: &str) -> String {
    let file = file.trim_start_matches("./");
    let file = file.strip_suffix(".toml").unwrap_or(file);
    file.replace(['/', '\\'], ".")
}

fn junit_status(case: &CaseOutcome, fail_on: Verdict) -> TestCaseStatus {
    match case.verdict {
        Verdict::Pass => TestCaseStatus::success(),
        Verdict::Warn if fail_on > Verdict::Warn => TestCaseStatus::success(),
        Verdict::NotApplicable | Verdict::Blocked => {
            let mut status = TestCaseStatus::skipped();
            status.set_message(case.message.as_str());
            status
        }
        Verdict::Warn | Verdict::Fail | Verdict::Error => {
            let (kind, ty) = match case.verdict {
                Verdict::Error => (NonSuccessKind::Error, "error"),
                Verdict::Warn => (NonSuccessKind::Failure, "warn"),
                _ => (NonSuccessKind::Failure, "fail"),
            };
            let mut status = TestCaseStatus::non_success(kind);
            status.set_type(ty);
            status.set_message(case.message.as_str());
            status.set_description(case_detail(case));
            status
        }
    }
}

fn junit_case(scenario: &ScenarioOutcome, case: &CaseOutcome, fail_on: Verdict) -> TestCase {
    let mut test_case = TestCase::new(case.name.as_str(), junit_status(case, fail_on));
    test_case.set_classname(junit_classname(&scenario.file));
    test_case.set_time(case.duration);
    // GitLab links `file`; the GitHub annotation actions place a failure at `file:line`; other
    // readers ignore both.
    test_case
        .extra
        .insert("file".into(), scenario.file.as_str().into());
    if let Some(line) = case.line {
        test_case
            .extra
            .insert("line".into(), line.to_string().into());
    }
    if case.verdict == Verdict::Warn {
        // For readers that show properties (and filter on them) rather than the output.
        test_case.add_property(Property::new("verdict", "warn"));
        test_case.add_property(Property::new("warning", case.message.as_str()));
    }
    for r in &case.refs {
        test_case.add_property(Property::new("ref", r.as_str()));
    }
    match case.verdict {
        Verdict::Warn => {
            test_case.set_system_out(format!("WARN: {}", case_detail(case)));
        }
        // What was checked, then the detail.
        Verdict::Pass | Verdict::NotApplicable | Verdict::Blocked => {
            let mut out = case.message.clone() + "\n";
            for l in &case.log {
                out.push_str(l);
                out.push('\n');
            }
            test_case.set_system_out(out);
        }
        // Failures and errors carry their text in the failure element; the output points at
        // the scenario's replay bundle.
        _ => {
            if let Some(bundle) = &scenario.bundle {
                test_case.set_system_out(replay_line(bundle));
            }
        }
    }
    test_case
}

/// `replay bundle: PATH (cpkit replay PATH)`.
fn replay_line(bundle: &str) -> String {
    format!("replay bundle: {bundle} (cpkit replay {bundle})")
}

fn junit_suite(scenario: &ScenarioOutcome, fail_on: Verdict) -> TestSuite {
    let mut suite = TestSuite::new(scenario.name.as_str());
    suite.set_time(scenario.duration);
    let mut tally = Tally::default();
    for c in &scenario.cases {
        tally.add(c.verdict);
    }
    // No JUnit schema counts warnings: an extra attribute (read by those that keep unknown
    // attributes) and a property (read by all).
    suite
        .extra
        .insert("warnings".into(), tally.warn.to_string().into());
    suite.add_property(Property::new("file", scenario.file.as_str()));
    suite.add_property(Property::new("verdict", scenario.verdict().label()));
    suite.add_property(Property::new("warnings", tally.warn.to_string()));
    if tally.blocked > 0 {
        suite.add_property(Property::new("blocked", tally.blocked.to_string()));
    }
    if let Some(bundle) = &scenario.bundle {
        suite.add_property(Property::new("bundle", bundle.as_str()));
        suite.set_system_out(replay_line(bundle));
    }
    if !scenario.tags.is_empty() {
        suite.add_property(Property::new("tags", scenario.tags.join(",")));
    }
    for r in &scenario.refs {
        suite.add_property(Property::new("ref", r.as_str()));
    }
    for (office, software) in &scenario.software {
        suite.add_property(Property::new(
            format!("software.{office}"),
            software.as_str(),
        ));
    }
    for case in &scenario.cases {
        suite.add_test_case(junit_case(scenario, case, fail_on));
    }
    suite
}

/// JUnit XML, readable by the GitLab, Jenkins and GitHub test reporters.
pub fn to_junit(run: &RunOutcome) -> String {
    let mut report = Report::new(JUNIT_REPORT_NAME);
    report.set_time(run.duration);
    for scenario in &run.scenarios {
        report.add_test_suite(junit_suite(scenario, run.fail_on));
    }
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- failed to write JUnit: {e} -->"))
}

// ---------------------------------------------------------------------------------------------
// JSON `cpkit-run/1`

#[derive(Serialize)]
struct JsonRun<'a> {
    schema: &'static str,
    tool: JsonTool<'a>,
    started: &'a str,
    duration_ms: u64,
    verdict: &'static str,
    /// `fail`, or `warn` with `--fail-on warn`.
    fail_on: &'static str,
    summary: JsonSummary,
    scenarios: Vec<JsonScenario<'a>>,
}

#[derive(Serialize)]
struct JsonTool<'a> {
    name: &'static str,
    version: &'a str,
}

#[derive(Serialize)]
struct JsonSummary {
    scenarios: JsonTally,
    cases: JsonTally,
}

#[derive(Serialize)]
struct JsonTally {
    total: usize,
    pass: usize,
    warn: usize,
    not_applicable: usize,
    blocked: usize,
    fail: usize,
    error: usize,
}

#[derive(Serialize)]
struct JsonScenario<'a> {
    name: &'a str,
    file: &'a str,
    verdict: &'static str,
    description: &'a str,
    tags: &'a [String],
    refs: &'a [String],
    software: Vec<JsonSoftware<'a>>,
    duration_ms: u64,
    /// The replay bundle of a failing scenario, relative to the report's folder.
    #[serde(skip_serializing_if = "Option::is_none")]
    bundle: Option<&'a str>,
    cases: Vec<JsonCase<'a>>,
}

#[derive(Serialize)]
struct JsonSoftware<'a> {
    office: &'a str,
    software: &'a str,
}

#[derive(Serialize)]
struct JsonCase<'a> {
    name: &'a str,
    step: usize,
    line: Option<usize>,
    action: &'a str,
    verdict: &'static str,
    message: &'a str,
    expected: Option<&'a str>,
    actual: Option<&'a str>,
    diff: Option<JsonDiff<'a>>,
    refs: &'a [String],
    log: &'a [String],
    duration_ms: u64,
}

#[derive(Serialize)]
struct JsonDiff<'a> {
    subject: &'a str,
    missing: &'a [String],
    unexpected: &'a [String],
    cells: Vec<JsonCell<'a>>,
}

#[derive(Serialize)]
struct JsonCell<'a> {
    record: usize,
    key: &'a str,
    file: &'a str,
    line: usize,
    column: u16,
    field: &'a str,
    expected: &'a str,
    actual: &'a str,
}

/// The verdict as the JSON document spells it (kebab-case).
fn json_verdict(v: Verdict) -> &'static str {
    match v {
        Verdict::Pass => "pass",
        Verdict::Warn => "warn",
        Verdict::NotApplicable => "not-applicable",
        Verdict::Blocked => "blocked",
        Verdict::Fail => "fail",
        Verdict::Error => "error",
    }
}

fn json_tally(t: Tally) -> JsonTally {
    JsonTally {
        total: tally_total(&t),
        pass: t.pass,
        warn: t.warn,
        not_applicable: t.not_applicable,
        blocked: t.blocked,
        fail: t.fail,
        error: t.error,
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn json_diff(diff: &CsvDiff) -> JsonDiff<'_> {
    JsonDiff {
        subject: &diff.subject,
        missing: &diff.missing,
        unexpected: &diff.unexpected,
        cells: diff
            .cells
            .iter()
            .map(|c| JsonCell {
                record: c.record,
                key: &c.key,
                file: &c.file,
                line: c.line,
                column: c.column,
                field: &c.field,
                expected: &c.expected,
                actual: &c.actual,
            })
            .collect(),
    }
}

fn json_case(case: &CaseOutcome) -> JsonCase<'_> {
    JsonCase {
        name: &case.name,
        step: case.step,
        line: case.line,
        action: &case.action,
        verdict: json_verdict(case.verdict),
        message: &case.message,
        expected: case.expected.as_deref(),
        actual: case.actual.as_deref(),
        diff: case.diff.as_ref().map(json_diff),
        refs: &case.refs,
        log: &case.log,
        duration_ms: millis(case.duration),
    }
}

fn json_scenario(scenario: &ScenarioOutcome) -> JsonScenario<'_> {
    JsonScenario {
        name: &scenario.name,
        file: &scenario.file,
        verdict: json_verdict(scenario.verdict()),
        description: &scenario.description,
        tags: &scenario.tags,
        refs: &scenario.refs,
        software: scenario
            .software
            .iter()
            .map(|(office, software)| JsonSoftware { office, software })
            .collect(),
        duration_ms: millis(scenario.duration),
        bundle: scenario.bundle.as_deref(),
        cases: scenario.cases.iter().map(json_case).collect(),
    }
}

/// The JSON document `cpkit-run/1`, pretty-printed.
pub fn to_json(run: &RunOutcome) -> String {
    let document = JsonRun {
        schema: JSON_SCHEMA,
        tool: JsonTool {
            name: "cpkit",
            version: &run.tool_version,
        },
        started: &run.started,
        duration_ms: millis(run.duration),
        verdict: json_verdict(run.verdict()),
        fail_on: json_verdict(run.fail_on),
        summary: JsonSummary {
            scenarios: json_tally(run.scenario_tally()),
            cases: json_tally(run.case_tally()),
        },
        scenarios: run.scenarios.iter().map(json_scenario).collect(),
    };
    // Only strings, numbers and sequences: serialization cannot fail.
    serde_json::to_string_pretty(&document).unwrap_or_else(|e| {
        format!("{{\"schema\": \"{JSON_SCHEMA}\", \"error\": \"failed to write JSON: {e}\"}}")
    })
}

// ---------------------------------------------------------------------------------------------
// HTML

/// Escapes text for HTML element content and for quoted attribute values.
pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const HTML_STYLE: &str = "\
body{font-family:system-ui,\"Hiragino Sans\",\"Noto Sans JP\",\"Yu Gothic\",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b;line-height:1.5}
h1,h2{line-height:1.25}
table{border-collapse:collapse;margin:.5rem 0}
th,td{border:1px solid #c8c8c8;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f0f0f0}
td.num{text-align:right}
pre{background:#f6f6f6;border:1px solid #ddd;padding:.5rem;overflow-x:auto;white-space:pre-wrap}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
section.scenario{border-top:2px solid #ccc;margin-top:2rem}
details.case{border:1px solid #ddd;border-radius:4px;margin:.5rem 0;padding:.25rem .75rem}
details.case>summary{cursor:pointer}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:.1rem 1rem}
dl.meta dt{font-weight:bold}
dl.meta dd{margin:0}
.badge{display:inline-block;min-width:3.5em;padding:0 .4em;border-radius:3px;font-weight:bold;font-size:.85em;text-align:center;border:1px solid}
.v-pass{background:#dcf5dc;color:#0b5d0b;border-color:#0b5d0b}
.v-warn{background:#fff1c2;color:#6b4c00;border-color:#6b4c00}
.v-not-applicable{background:#e8e8e8;color:#404040;border-color:#404040}
.v-blocked{background:#e8e8e8;color:#5a3a00;border-color:#5a3a00;border-style:dashed}
.v-fail{background:#fddcdc;color:#8b0000;border-color:#8b0000}
.v-error{background:#eadcf5;color:#4b0082;border-color:#4b0082}
.expected{color:#0b5d0b}
.actual{color:#8b0000}
";

/// A verdict as a badge: colour and text.
fn badge(v: Verdict) -> String {
    format!(
        "<span class=\"badge v-{}\">{}</span>",
        json_verdict(v),
        v.label().to_uppercase()
    )
}

fn html_tally_row(out: &mut String, what: &str, t: Tally) {
    let _ = writeln!(
        out,
        "<tr><th>{what}</th><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td>\
         <td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
        tally_total(&t),
        t.pass,
        t.warn,
        t.not_applicable,
        t.blocked,
        t.fail,
        t.error
    );
}

fn html_list(out: &mut String, items: &[String]) {
    out.push_str("<ul>");
    for item in items {
        let _ = write!(out, "<li>{}</li>", escape(item));
    }
    out.push_str("</ul>\n");
}

fn html_diff(out: &mut String, diff: &CsvDiff) {
    let _ = writeln!(out, "<h4>差分 / diff: {}</h4>", escape(&diff.subject));
    if diff.is_empty() {
        out.push_str("<p>no differences</p>\n");
    }
    if !diff.cells.is_empty() {
        out.push_str(
            "<table class=\"diff\"><thead><tr><th>record</th><th>key</th><th>file, line</th>\
             <th>No.</th><th>field</th><th>expected</th><th>actual</th></tr></thead><tbody>\n",
        );
        for cell in &diff.cells {
            let record = if cell.record == 0 {
                "missing".to_owned()
            } else {
                cell.record.to_string()
            };
            let at = match cell.line {
                0 => cell.file.clone(),
                n => format!("{} line {n}", cell.file),
            };
            let _ = writeln!(
                out,
                "<tr><td class=\"num\">{record}</td><td><code>{}</code></td><td><code>{}</code></td>\
                 <td class=\"num\">{}</td><td>{}</td>\
                 <td class=\"expected\"><code>{}</code></td><td class=\"actual\"><code>{}</code></td></tr>",
                escape(&cell.key),
                escape(&at),
                cell.column,
                escape(&cell.field),
                escape(&cell.expected),
                escape(&cell.actual)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    if !diff.missing.is_empty() {
        out.push_str("<p>missing records (expected, not found):</p>");
        html_list(out, &diff.missing);
    }
    if !diff.unexpected.is_empty() {
        out.push_str("<p>unexpected records (found, not expected):</p>");
        html_list(out, &diff.unexpected);
    }
}

fn html_case(out: &mut String, anchor: &str, case: &CaseOutcome) {
    let open = if matches!(case.verdict, Verdict::Fail | Verdict::Error) {
        " open"
    } else {
        ""
    };
    let _ = writeln!(
        out,
        "<details class=\"case\" id=\"{anchor}\"{open}><summary>{} <strong>{}</strong> — {}</summary>",
        badge(case.verdict),
        escape(&case.name),
        escape(&case.message)
    );
    out.push_str("<dl class=\"meta\">");
    let line = case
        .line
        .map(|l| format!(" (line {l})"))
        .unwrap_or_default();
    let _ = write!(
        out,
        "<dt>step</dt><dd>{}{line}: <code>{}</code></dd><dt>time</dt><dd>{} ms</dd>",
        case.step,
        escape(&case.action),
        millis(case.duration)
    );
    if let Some(expected) = &case.expected {
        let _ = write!(
            out,
            "<dt>expected</dt><dd class=\"expected\"><code>{}</code></dd>",
            escape(expected)
        );
    }
    if let Some(actual) = &case.actual {
        let _ = write!(
            out,
            "<dt>actual</dt><dd class=\"actual\"><code>{}</code></dd>",
            escape(actual)
        );
    }
    if !case.refs.is_empty() {
        let refs: Vec<String> = case.refs.iter().map(|r| escape(r)).collect();
        let _ = write!(out, "<dt>refs</dt><dd>{}</dd>", refs.join("<br>"));
    }
    out.push_str("</dl>\n");
    if let Some(diff) = &case.diff {
        html_diff(out, diff);
    }
    if !case.log.is_empty() {
        let _ = writeln!(
            out,
            "<h4>log</h4><pre>{}</pre>",
            escape(&case.log.join("\n"))
        );
    }
    out.push_str("</details>\n");
}

fn html_scenario(out: &mut String, index: usize, scenario: &ScenarioOutcome) {
    let _ = writeln!(
        out,
        "<section class=\"scenario\" id=\"scenario-{index}\">\n<h2>{} {}</h2>",
        badge(scenario.verdict()),
        escape(&scenario.name)
    );
    if !scenario.description.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", escape(&scenario.description));
    }
    out.push_str("<dl class=\"meta\">");
    let _ = write!(
        out,
        "<dt>file</dt><dd><code>{}</code></dd><dt>time</dt><dd>{} ms</dd>",
        escape(&scenario.file),
        millis(scenario.duration)
    );
    if !scenario.tags.is_empty() {
        let tags: Vec<String> = scenario.tags.iter().map(|t| escape(t)).collect();
        let _ = write!(out, "<dt>tags</dt><dd>{}</dd>", tags.join(", "));
    }
    if !scenario.refs.is_empty() {
        let refs: Vec<String> = scenario.refs.iter().map(|r| escape(r)).collect();
        let _ = write!(out, "<dt>refs</dt><dd>{}</dd>", refs.join("<br>"));
    }
    for (office, software) in &scenario.software {
        let _ = write!(
            out,
            "<dt>software <code>{}</code></dt><dd>{}</dd>",
            escape(office),
            escape(software)
        );
    }
    if let Some(bundle) = &scenario.bundle {
        let _ = write!(
            out,
            "<dt>replay bundle</dt><dd><a class=\"bundle\" href=\"{0}/\">{0}</a> — <code>cpkit replay {0}</code></dd>",
            escape(bundle)
        );
    }
    out.push_str("</dl>\n");
    for (case_index, case) in scenario.cases.iter().enumerate() {
        html_case(
            out,
            &format!("scenario-{index}-case-{}", case_index + 1),
            case,
        );
    }
    out.push_str("</section>\n");
}

/// One self-contained HTML5 page (inline CSS, no script, no external resources).
pub fn to_html(run: &RunOutcome) -> String {
    let verdict = run.verdict();
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>cpkit run — {}</title>\n<style>\n{HTML_STYLE}</style>\n</head>\n<body>\n",
        verdict.label()
    );
    let _ = writeln!(
        out,
        "<header>\n<h1>cpkit run {}</h1>\n<p>{}</p>\n<p>started {} · cpkit {}</p>",
        badge(verdict),
        escape(&summary_line(run)),
        escape(&run.started),
        escape(&run.tool_version)
    );
    out.push_str(
        "<table class=\"tally\"><thead><tr><th></th><th>total</th><th>pass</th><th>warn</th>\
         <th>n/a</th><th>blocked</th><th>fail</th><th>error</th></tr></thead><tbody>\n",
    );
    html_tally_row(&mut out, "scenarios", run.scenario_tally());
    html_tally_row(&mut out, "cases", run.case_tally());
    out.push_str("</tbody></table>\n</header>\n<main>\n");

    out.push_str(
        "<h2>シナリオ / scenarios</h2>\n<table class=\"scenarios\"><thead><tr><th>verdict</th>\
         <th>scenario</th><th>file</th><th>cases</th><th>time (ms)</th></tr></thead><tbody>\n",
    );
    for (i, scenario) in run.scenarios.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><a href=\"#scenario-{}\">{}</a></td><td><code>{}</code></td>\
             <td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            badge(scenario.verdict()),
            i + 1,
            escape(&scenario.name),
            escape(&scenario.file),
            scenario.cases.len(),
            millis(scenario.duration)
        );
    }
    out.push_str("</tbody></table>\n");

    for (i, scenario) in run.scenarios.iter().enumerate() {
        html_scenario(&mut out, i + 1, scenario);
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str = "<script>alert(\"x & 'y'\")</script>";

    fn case(name: &str, step: usize, verdict: Verdict, message: &str) -> CaseOutcome {
        CaseOutcome {
            name: name.to_owned(),
            step,
            line: Some(10 + step),
            action: "assert".to_owned(),
            verdict,
            message: message.to_owned(),
            expected: None,
            actual: None,
            diff: None,
            refs: Vec::new(),
            log: Vec::new(),
            duration: Duration::from_millis(5 * step as u64),
        }
    }

    fn sample_diff() -> CsvDiff {
        CsvDiff {
            subject: "UPPLAN_202505_0310000100_43_0320000201_11 → UPJSK_202505_0320000201_11_0310000100_43 (0320000201, 11)".to_owned(),
            missing: vec!["131016/1234500001 2025-05-03 151325".to_owned()],
            unexpected: vec!["131016/1234500001 2025-05-04 151325".to_owned()],
            cells: vec![
                CellDiff {
                    record: 4,
                    key: "131016/1234500001 20250502 151325".to_owned(),
                    file: "UPJSK_202505_0320000201_11_0310000100_43_20250603100000.CSV".to_owned(),
                    line: 4,
                    column: 12,
                    field: "サービス開始時刻".to_owned(),
                    expected: "0930".to_owned(),
                    actual: "1000".to_owned(),
                },
                CellDiff {
                    record: 0,
                    key: String::new(),
                    file: String::new(),
                    line: 0,
                    column: 3,
                    field: "保険者番号".to_owned(),
                    expected: "131016".to_owned(),
                    actual: String::new(),
                },
            ],
        }
    }

    /// Two scenarios covering every verdict, a diff, refs, logs and hostile text.
    fn sample_run() -> RunOutcome {
        let mut send = case(
            "1 send cm → day",
            1,
            Verdict::Pass,
            "accepted by the exchange",
        );
        send.action = "send".to_owned();
        send.log =
            vec!["sent UPPLAN_202505_0310000100_43_0320000201_11_20250501090000.CSV".to_owned()];

        let mut warn = case(
            "2 assert 連番",
            2,
            Verdict::Warn,
            "ファイル連番 is not ascending within the day",
        );
        warn.refs = vec!["S4 §3.2".to_owned()];

        let mut fail = case(
            "3 assert actual = plan",
            3,
            Verdict::Fail,
            "UPJSK differs from the plan in 1 cell, 1 missing and 1 unexpected record",
        );
        fail.expected = Some("3 records".to_owned());
        fail.actual = Some("3 records, 1 differing".to_owned());
        fail.diff = Some(sample_diff());
        fail.refs = vec!["L4 UPJSK No.12".to_owned(), "FLD005".to_owned()];
        fail.log = vec![
            "imported by day (persona)".to_owned(),
            "exported UPJSK_202505_0320000201_11_0310000100_43_20250601090000.CSV".to_owned(),
        ];

        let first = ScenarioOutcome {
            name: "居宅 → 通所 予定と実績".to_owned(),
            file: "scenarios/kyotaku/plan-actual.toml".to_owned(),
            description: "The plan sent by the care manager comes back as actuals.".to_owned(),
            tags: vec!["v4.1".to_owned(), "smoke".to_owned()],
            refs: vec!["S4 §2.1".to_owned(), "L4 UPPLAN".to_owned()],
            software: vec![
                ("cm".to_owned(), "persona:kyotaku".to_owned()),
                ("day".to_owned(), "persona:tsusho".to_owned()),
            ],
            cases: vec![send, warn, fail],
            duration: Duration::from_millis(1234),
            transcript: Vec::new(),
            certificates: Vec::new(),
            clock: None,
            bundle: None,
        };

        let mut not_applicable = case(
            "1 assert internal state",
            1,
            Verdict::NotApplicable,
            "the SUT's internal state cannot be seen",
        );
        not_applicable.action = "assert-state".to_owned();

        let mut error = case("2 import", 2, Verdict::Error, HOSTILE);
        error.action = "import".to_owned();
        error.line = None;
        error.log = vec![
            "sut:./import.sh exited with 127".to_owned(),
            HOSTILE.to_owned(),
        ];

        let second = ScenarioOutcome {
            name: "SUT import & <edge> \"cases\"".to_owned(),
            file: "./scenarios/sut/import.toml".to_owned(),
            description: HOSTILE.to_owned(),
            tags: Vec::new(),
            refs: vec!["D-017".to_owned()],
            software: vec![("day".to_owned(), "sut:./import.sh".to_owned())],
            cases: vec![not_applicable, error],
            duration: Duration::from_millis(250),
            transcript: Vec::new(),
            certificates: Vec::new(),
            clock: None,
            bundle: None,
        };

        RunOutcome {
            fail_on: Verdict::Fail,
            tool_version: "0.1.0".to_owned(),
            started: "2026-04-01T09:00:00Z".to_owned(),
            scenarios: vec![first, second],
            duration: Duration::from_millis(1500),
        }
    }

    #[test]
    fn junit_snapshot() {
        insta::assert_snapshot!(to_junit(&sample_run()));
    }

    #[test]
    fn junit_maps_verdicts_to_junit_statuses() {
        let xml = to_junit(&sample_run());
        assert!(xml.contains(r#"name="cpkit run""#), "{xml}");
        assert!(
            xml.contains(r#"classname="scenarios.kyotaku.plan-actual""#),
            "{xml}"
        );
        assert!(xml.contains(r#"classname="scenarios.sut.import""#), "{xml}");
        assert!(xml.contains(r#"<failure message="UPJSK differs"#), "{xml}");
        assert!(xml.contains(r#"type="fail">"#), "{xml}");
        assert!(xml.contains(r#"type="error">"#), "{xml}");
        assert!(xml.contains("<error"), "{xml}");
        assert!(xml.contains("<skipped"), "{xml}");
        assert!(xml.contains("WARN: ファイル連番"), "{xml}");
        assert!(
            xml.contains(r#"name="software.cm" value="persona:kyotaku""#),
            "{xml}"
        );
        assert!(
            xml.contains(r#"name="ref" value="L4 UPJSK No.12""#),
            "{xml}"
        );
        assert!(!xml.contains("<script>"), "{xml}");
    }

    #[test]
    fn json_is_the_versioned_document() {
        let run = sample_run();
        let v: serde_json::Value = serde_json::from_str(&to_json(&run)).expect("valid JSON");
        assert_eq!(v["schema"], "cpkit-run/1");
        assert_eq!(v["tool"]["name"], "cpkit");
        assert_eq!(v["tool"]["version"], "0.1.0");
        assert_eq!(v["started"], "2026-04-01T09:00:00Z");
        assert_eq!(v["duration_ms"], 1500);
        assert_eq!(v["verdict"], "error");

        let scenarios = &v["summary"]["scenarios"];
        assert_eq!(scenarios["total"], 2);
        assert_eq!(scenarios["fail"], 1);
        assert_eq!(scenarios["error"], 1);
        assert_eq!(scenarios["pass"], 0);
        let cases = &v["summary"]["cases"];
        assert_eq!(
            (
                &cases["total"],
                &cases["pass"],
                &cases["warn"],
                &cases["not_applicable"],
                &cases["fail"],
                &cases["error"]
            ),
            (
                &5.into(),
                &1.into(),
                &1.into(),
                &1.into(),
                &1.into(),
                &1.into()
            )
        );

        let first = &v["scenarios"][0];
        assert_eq!(first["verdict"], "fail");
        assert_eq!(first["name"], "居宅 → 通所 予定と実績");
        assert_eq!(first["file"], "scenarios/kyotaku/plan-actual.toml");
        assert_eq!(first["tags"][1], "smoke");
        assert_eq!(first["refs"][0], "S4 §2.1");
        assert_eq!(first["software"][1]["office"], "day");
        assert_eq!(first["software"][1]["software"], "persona:tsusho");
        assert_eq!(first["duration_ms"], 1234);
        let verdicts: Vec<&str> = v["scenarios"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|s| s["cases"].as_array().unwrap())
            .map(|c| c["verdict"].as_str().unwrap())
            .collect();
        assert_eq!(
            verdicts,
            ["pass", "warn", "fail", "not-applicable", "error"]
        );

        let fail = &first["cases"][2];
        assert_eq!(fail["step"], 3);
        assert_eq!(fail["line"], 13);
        assert_eq!(fail["expected"], "3 records");
        assert_eq!(fail["diff"]["cells"][0]["field"], "サービス開始時刻");
        assert_eq!(fail["diff"]["cells"][0]["column"], 12);
        assert_eq!(
            fail["diff"]["missing"][0],
            "131016/1234500001 2025-05-03 151325"
        );
        assert_eq!(fail["refs"][1], "FLD005");
        assert_eq!(fail["log"].as_array().unwrap().len(), 2);
        let error = &v["scenarios"][1]["cases"][1];
        assert!(error["line"].is_null());
        assert!(error["diff"].is_null());
        assert_eq!(error["message"], HOSTILE);
    }

    #[test]
    fn escape_neutralises_markup() {
        assert_eq!(
            escape(HOSTILE),
            "&lt;script&gt;alert(&quot;x &amp; &#39;y&#39;&quot;)&lt;/script&gt;"
        );
        assert_eq!(escape("保険者番号 0930"), "保険者番号 0930");
    }

    #[test]
    fn html_is_escaped_and_complete() {
        let run = sample_run();
        let html = to_html(&run);
        assert!(html.starts_with("<!DOCTYPE html>\n<html lang=\"ja\">"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(
            !html.contains("<script"),
            "hostile text reached the page unescaped"
        );
        assert!(!html.contains("<edge>"));
        assert!(html.contains(&escape(HOSTILE)));
        assert!(
            !html.contains("src=") && !html.contains("<link"),
            "external resource"
        );
        for scenario in &run.scenarios {
            assert!(html.contains(&escape(&scenario.name)), "{}", scenario.name);
            for case in &scenario.cases {
                assert!(html.contains(&escape(&case.message)), "{}", case.message);
            }
        }
        // A badge carries its verdict as text, not only as colour.
        assert!(html.contains("<span class=\"badge v-not-applicable\">N/A</span>"));
        assert!(html.contains("<span class=\"badge v-fail\">FAIL</span>"));
        // The diff table and the record lists.
        assert!(html.contains(
            "<td class=\"num\">4</td><td><code>131016/1234500001 20250502 151325</code></td>\
             <td><code>UPJSK_202505_0320000201_11_0310000100_43_20250603100000.CSV line 4</code></td>\
             <td class=\"num\">12</td><td>サービス開始時刻</td>\
             <td class=\"expected\"><code>0930</code></td><td class=\"actual\"><code>1000</code></td>"
        ));
        assert!(html.contains("<li>131016/1234500001 2025-05-04 151325</li>"));
        assert!(html.contains("<pre>imported by day (persona)\nexported UPJSK_"));
        assert!(html.contains("2 scenarios: 0 pass, 0 warn, 1 fail, 1 error (5 cases) in 1.5 s"));
    }

    #[test]
    fn diff_text_lists_records_and_cells() {
        assert_eq!(
            diff_text(&sample_diff()),
            "UPPLAN_202505_0310000100_43_0320000201_11 → UPJSK_202505_0320000201_11_0310000100_43 (0320000201, 11)\n\
             \x20 missing:    131016/1234500001 2025-05-03 151325\n\
             \x20 unexpected: 131016/1234500001 2025-05-04 151325\n\
             \x20 131016/1234500001 20250502 151325 (UPJSK_202505_0320000201_11_0310000100_43_20250603100000.CSV line 4), No.12 サービス開始時刻: expected «0930», actual «1000»\n\
             \x20 missing record, No.3 保険者番号: expected «131016», actual «»\n"
        );
        let empty = CsvDiff {
            subject: "UPPLAN → UPJSK".to_owned(),
            missing: Vec::new(),
            unexpected: Vec::new(),
            cells: Vec::new(),
        };
        assert_eq!(diff_text(&empty), "UPPLAN → UPJSK\n  (no differences)\n");
    }

    #[test]
    fn summary_line_counts_scenarios_and_cases() {
        let mut run = sample_run();
        assert_eq!(
            summary_line(&run),
            "2 scenarios: 0 pass, 0 warn, 1 fail, 1 error (5 cases) in 1.5 s"
        );
        run.scenarios.truncate(1);
        run.scenarios[0].cases.truncate(1);
        assert_eq!(
            summary_line(&run),
            "1 scenario: 1 pass, 0 warn, 0 fail, 0 error (1 case) in 1.5 s"
        );
        run.scenarios[0].cases[0].verdict = Verdict::NotApplicable;
        assert_eq!(
            summary_line(&run),
            "1 scenario: 0 pass, 0 warn, 1 n/a, 0 fail, 0 error (1 case) in 1.5 s"
        );
    }

    /// Reads a JUnit document back with a JUnit parser (quick-junit's reader, which keeps unknown
    /// attributes as `extra`).
    fn read_back(xml: &str) -> Report {
        Report::deserialize_from_str(xml).expect("JUnit that a JUnit reader accepts")
    }

    #[test]
    fn warnings_are_visible_to_junit_readers() {
        let report = read_back(&to_junit(&sample_run()));
        let suite = &report.test_suites[0];
        assert_eq!(
            suite.extra.get("warnings").map(|v| v.as_str()),
            Some("1"),
            "the suite counts its warnings"
        );
        let property = |props: &[Property], name: &str| {
            props
                .iter()
                .find(|p| p.name.as_str() == name)
                .map(|p| p.value.to_string())
        };
        assert_eq!(
            property(&suite.properties, "warnings").as_deref(),
            Some("1")
        );
        assert_eq!(
            report.test_suites[1]
                .extra
                .get("warnings")
                .map(|v| v.as_str()),
            Some("0")
        );
        let warn = &suite.test_cases[1];
        assert!(matches!(warn.status, TestCaseStatus::Success { .. }));
        assert_eq!(
            property(&warn.properties, "verdict").as_deref(),
            Some("warn")
        );
        assert_eq!(
            property(&warn.properties, "warning").as_deref(),
            Some("ファイル連番 is not ascending within the day")
        );
        assert!(
            warn.system_out
                .as_ref()
                .is_some_and(|o| o.as_str().starts_with("WARN: ファイル連番")),
            "{:?}",
            warn.system_out
        );
    }

    #[test]
    fn fail_on_warn_makes_warnings_failures() {
        let mut run = sample_run();
        run.fail_on = Verdict::Warn;
        let report = read_back(&to_junit(&run));
        let warn = &report.test_suites[0].test_cases[1];
        match &warn.status {
            TestCaseStatus::NonSuccess { kind, ty, .. } => {
                assert_eq!(*kind, NonSuccessKind::Failure);
                assert_eq!(ty.as_ref().map(|t| t.as_str()), Some("warn"));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            report.test_suites[0].failures, 2,
            "the warning and the failure"
        );
        let v: serde_json::Value = serde_json::from_str(&to_json(&run)).unwrap();
        assert_eq!(v["fail_on"], "warn");
        assert!(summary_line(&run).ends_with("failing on warnings"));
        assert!(run.fails(Verdict::Warn) && !sample_run().fails(Verdict::Warn));
    }

    #[test]
    fn blocked_cases_are_skipped_and_counted() {
        let mut run = sample_run();
        let mut blocked = case(
            "3 fetch day",
            3,
            Verdict::Blocked,
            "not run: step 02 import failed in the kit",
        );
        blocked.action = "fetch".to_owned();
        run.scenarios[1].cases.push(blocked);
        let report = read_back(&to_junit(&run));
        let suite = &report.test_suites[1];
        let case = &suite.test_cases[2];
        match &case.status {
            TestCaseStatus::Skipped { message, .. } => assert_eq!(
                message.as_ref().map(|m| m.as_str()),
                Some("not run: step 02 import failed in the kit")
            ),
            other => panic!("{other:?}"),
        }
        assert_eq!(suite.skipped, 2);
        let v: serde_json::Value = serde_json::from_str(&to_json(&run)).unwrap();
        assert_eq!(v["summary"]["cases"]["blocked"], 1);
        assert_eq!(v["scenarios"][1]["cases"][2]["verdict"], "blocked");
        assert_eq!(
            v["scenarios"][1]["verdict"], "error",
            "the error that blocked it wins"
        );
        assert!(
            summary_line(&run).contains("(6 cases, 1 blocked)"),
            "{}",
            summary_line(&run)
        );
        assert!(to_html(&run).contains("<span class=\"badge v-blocked\">BLOCKED</span>"));
    }

    #[test]
    fn a_replay_bundle_is_linked_from_all_three_reports() {
        let plain = to_junit(&sample_run());
        assert!(!plain.contains("bundle"), "no bundle, no link: {plain}");
        let mut run = sample_run();
        run.scenarios[0].bundle = Some("bundles/001-plan-actual".to_owned());
        let xml = to_junit(&run);
        let report = read_back(&xml);
        let suite = &report.test_suites[0];
        assert!(
            suite
                .properties
                .iter()
                .any(|p| p.name.as_str() == "bundle"
                    && p.value.as_str() == "bundles/001-plan-actual"),
            "{xml}"
        );
        let failed = suite
            .test_cases
            .iter()
            .find(|c| c.name.as_str() == "3 assert actual = plan")
            .unwrap();
        assert_eq!(
            failed.system_out.as_ref().map(|o| o.as_str()),
            Some("replay bundle: bundles/001-plan-actual (cpkit replay bundles/001-plan-actual)")
        );
        assert!(
            report.test_suites[1]
                .properties
                .iter()
                .all(|p| p.name.as_str() != "bundle")
        );
        let v: serde_json::Value = serde_json::from_str(&to_json(&run)).unwrap();
        assert_eq!(v["scenarios"][0]["bundle"], "bundles/001-plan-actual");
        assert!(v["scenarios"][1].get("bundle").is_none());
        let html = to_html(&run);
        assert!(
            html.contains("<a class=\"bundle\" href=\"bundles/001-plan-actual/\">"),
            "{html}"
        );
    }

    #[test]
    fn classnames_follow_the_scenario_path() {
        assert_eq!(junit_classname("scenarios/a/b.toml"), "scenarios.a.b");
        assert_eq!(junit_classname("./x.toml"), "x");
        assert_eq!(junit_classname("plain"), "plain");
    }
}
