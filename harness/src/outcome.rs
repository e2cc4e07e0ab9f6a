//! What a scenario run found: one [`RunOutcome`] holds a [`ScenarioOutcome`] per scenario file, and
//! each of those a [`CaseOutcome`] per step or assertion, with its [`Verdict`].
//!
//! This is the one model every report of `cpkit run` is rendered from (`run_report`: JUnit, JSON
//! `cpkit-run/1`, HTML); the runner only fills it in.

use std::time::Duration;

use serde::Serialize;

/// The verdict of one step or assertion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The step does not apply to this office's software (e.g. an assertion on the internal state
    /// of a system under test, which the kit cannot see).
    NotApplicable,
    /// The requirement holds.
    Pass,
    /// A SHOULD of the standard (or of the field) is not met.
    Warn,
    /// Not run: an earlier step it depends on (one of the same offices) failed in the kit, so
    /// nothing is known about it.
    Blocked,
    /// A MUST is not met.
    Fail,
    /// The kit itself failed (a fixture missing, the exchange did not start, a SUT command could not
    /// be run): nothing is known about the requirement.
    Error,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Self::Pass => "pass",
            Self::Warn => "warn",
            Self::NotApplicable => "n/a",
            Self::Blocked => "blocked",
            Self::Fail => "fail",
            Self::Error => "error",
        }
    }

    /// The worse of two verdicts, for a summary: error > fail > blocked > warn > pass > n/a. A
    /// case that does not apply says nothing about the rest, so a scenario is n/a only when all of
    /// it is. (A blocked case always follows an error in its scenario.)
    pub fn worst(self, other: Verdict) -> Verdict {
        // The declaration order is the ranking.
        self.max(other)
    }
}

/// One cell that differs between what was expected and what a product wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CellDiff {
    /// The record's position among the compared records (1-based), or 0 when it is missing.
    pub record: usize,
    /// The record's name from its key columns (`131016/1234500001 20250602 151325`).
    pub key: String,
    /// The file the differing record is in, and its line there (0: not known).
    pub file: String,
    pub line: usize,
    /// The layout's No. of the column.
    pub column: u16,
    /// The column's layout name (保険者番号, サービスコード, …).
    pub field: String,
    pub expected: String,
    pub actual: String,
}

/// A field-by-field comparison of records, as a failing assertion shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CsvDiff {
    /// What is compared, e.g. `UPPLAN_… → UPJSK_… (0320000201, 11)`.
    pub subject: String,
    /// Records expected but not found: their name and where they came from
    /// (`131016/1234500001 20250602 151325 (UPPLAN_….CSV line 3)`).
    pub missing: Vec<String>,
    /// Records found but not expected, named the same way.
    pub unexpected: Vec<String>,
    /// Records present on both sides whose fields differ.
    pub cells: Vec<CellDiff>,
}

impl CsvDiff {
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.cells.is_empty()
    }

    pub fn len(&self) -> usize {
        self.missing.len() + self.unexpected.len() + self.cells.len()
    }

    /// What differs first, in one line: `No.12 サービス開始時刻: 0930 → 1030 at 131016/1234500001
    /// 20250602 151325 (UPJSK_….CSV line 1)`, then how many more differences there are.
    pub fn summary(&self) -> String {
        let first = if let Some(c) = self.cells.first() {
            format!(
                "No.{} {}: {} → {} at {}",
                c.column,
                c.field,
                shown(&c.expected),
                shown(&c.actual),
                located(&c.key, &c.file, c.line)
            )
        } else if let Some(m) = self.missing.first() {
            format!("record not exported: {m}")
        } else if let Some(u) = self.unexpected.first() {
            format!("record exported but not imported: {u}")
        } else {
            return "no differences".to_owned();
        };
        match self.len() - 1 {
            0 => first,
            1 => format!("{first}; 1 more difference"),
            n => format!("{first}; {n} more differences"),
        }
    }
}

/// An empty value as `(empty)`, others as they are.
fn shown(v: &str) -> &str {
    if v.is_empty() { "(empty)" } else { v }
}

/// `KEY (FILE line N)`, or `KEY (FILE)` when the line is not known.
pub fn located(key: &str, file: &str, line: usize) -> String {
    match (file.is_empty(), line) {
        (true, _) => key.to_owned(),
        (false, 0) => format!("{key} ({file})"),
        (false, n) => format!("{key} ({file} line {n})"),
    }
}

/// The result of one step or assertion.
#[derive(Debug, Clone, Serialize)]
pub struct CaseOutcome {
    /// Human name, e.g. `3 send cm → day`.
    pub name: String,
    /// 1-based step number in the scenario file.
    pub step: usize,
    /// The step's line in the scenario file.
    pub line: Option<usize>,
    /// The step's action (`send`, `import`, `assert`, …).
    pub action: String,
    pub verdict: Verdict,
    /// One line: why the verdict is what it is.
    pub message: String,
    pub expected: Option<String>,
    pub actual: Option<String>,
    pub diff: Option<CsvDiff>,
    /// Spec references of the requirement checked (clause, layout row, rule ID, field report).
    pub refs: Vec<String>,
    /// Further detail: files written, messages shown by the exchange, output of a SUT command.
    pub log: Vec<String>,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

/// One call the kit's own exchange client made for an office during a scenario: the scenario's
/// exchange transcript, in order. Not rendered in the reports; written into the replay bundle of a
/// failing scenario (`support::replay`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct ExchangeCall {
    /// 1-based step number.
    pub step: usize,
    /// The office id of the scenario.
    pub office: String,
    pub terminal: String,
    /// `login`, `send`, `inbox` or `download`.
    pub call: String,
    /// What was asked: destination and file names, item and file ids.
    pub request: String,
    /// Whether the exchange answered with success.
    pub ok: bool,
    /// The answer: delivery ids, item ids, byte counts, or the refusal's text.
    pub answer: String,
}

/// The certificate an office of a scenario presented to the exchange (for replay bundles).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct CertificateUse {
    /// The office id of the scenario.
    pub office: String,
    pub number: String,
    /// The scenario's `certificate` (valid, expired, other-ca …; `none` for no certificate).
    pub variant: String,
    /// The scenario's `certificate_kind`.
    pub kind: String,
    /// SHA-256 of the certificate's DER bytes, lower-case hex (empty for `none`).
    pub sha256: String,
    /// The certificate's serial number, hex (empty for `none`).
    pub serial: String,
}

/// The scenario's clock as the run set it (D-HARNESS-CLOCK).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct RunClock {
    /// The scenario's first day, `YYYY-MM-DD`.
    pub today: String,
    /// The exchange's clock at the start, RFC 3339 (the first day at 10:00:00 UTC).
    pub exchange_start: String,
    /// The first ファイル連番 the scenario hands out.
    pub first_serial: String,
}

/// The result of one scenario file.
#[derive(Debug, Clone, Serialize)]
pub struct ScenarioOutcome {
    /// The scenario's `name`.
    pub name: String,
    /// The scenario file, as given (relative to the working directory when it was).
    pub file: String,
    pub description: String,
    pub tags: Vec<String>,
    pub refs: Vec<String>,
    /// Which software each office ran (`office id = persona or sut:…`).
    pub software: Vec<(String, String)>,
    pub cases: Vec<CaseOutcome>,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
    /// Every call of the kit's exchange client, in order.
    pub transcript: Vec<ExchangeCall>,
    /// The certificate of each office (empty when the set-up failed before issuing them).
    pub certificates: Vec<CertificateUse>,
    /// The clock the scenario ran on (None when the set-up failed before setting it).
    pub clock: Option<RunClock>,
    /// The replay bundle written for this scenario, as the report being rendered links it
    /// (relative to the report's folder); None for scenarios without one (those that pass).
    pub bundle: Option<String>,
}

impl ScenarioOutcome {
    /// The scenario's verdict: the worst of its cases (n/a when none applies).
    pub fn verdict(&self) -> Verdict {
        self.cases
            .iter()
            .fold(Verdict::NotApplicable, |acc, c| acc.worst(c.verdict))
    }
}

/// The result of one `cpkit run`.
#[derive(Debug, Clone, Serialize)]
pub struct RunOutcome {
    /// The least verdict that fails the run (`fail`, or `warn` with `--fail-on warn`): reports
    /// show such cases as failures, and the exit code is not 0.
    pub fail_on: Verdict,
    pub tool_version: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub scenarios: Vec<ScenarioOutcome>,
    #[serde(serialize_with = "millis")]
    pub duration: Duration,
}

/// Counts per verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub pass: usize,
    pub warn: usize,
    pub not_applicable: usize,
    pub blocked: usize,
    pub fail: usize,
    pub error: usize,
}

impl Tally {
    pub fn add(&mut self, v: Verdict) {
        match v {
            Verdict::Pass => self.pass += 1,
            Verdict::Warn => self.warn += 1,
            Verdict::NotApplicable => self.not_applicable += 1,
            Verdict::Blocked => self.blocked += 1,
            Verdict::Fail => self.fail += 1,
            Verdict::Error => self.error += 1,
        }
    }
}

impl RunOutcome {
    /// Whether a case or scenario with this verdict fails the run (see `fail_on`).
    pub fn fails(&self, v: Verdict) -> bool {
        v >= self.fail_on
    }

    /// The verdict of the whole run.
    pub fn verdict(&self) -> Verdict {
        self.scenarios
            .iter()
            .fold(Verdict::NotApplicable, |acc, s| acc.worst(s.verdict()))
    }

    /// Cases per verdict over all scenarios.
    pub fn case_tally(&self) -> Tally {
        let mut t = Tally::default();
        for c in self.scenarios.iter().flat_map(|s| &s.cases) {
            t.add(c.verdict);
        }
        t
    }

    /// Scenarios per verdict.
    pub fn scenario_tally(&self) -> Tally {
        let mut t = Tally::default();
        for s in &self.scenarios {
            t.add(s.verdict());
        }
        t
    }
}

fn millis<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_worst_verdict_wins() {
        assert_eq!(Verdict::Pass.worst(Verdict::Warn), Verdict::Warn);
        assert_eq!(Verdict::Fail.worst(Verdict::Warn), Verdict::Fail);
        assert_eq!(Verdict::Fail.worst(Verdict::Error), Verdict::Error);
        assert_eq!(Verdict::Blocked.worst(Verdict::Error), Verdict::Error);
        assert_eq!(Verdict::Warn.worst(Verdict::Blocked), Verdict::Blocked);
        assert_eq!(Verdict::NotApplicable.worst(Verdict::Pass), Verdict::Pass);
        assert_eq!(
            Verdict::NotApplicable.worst(Verdict::NotApplicable),
            Verdict::NotApplicable
        );
    }

    fn cell(expected: &str, actual: &str) -> CellDiff {
        CellDiff {
            record: 1,
            key: "131016/1234500001 20250602 151325".to_owned(),
            file: "UPJSK_x.CSV".to_owned(),
            line: 1,
            column: 12,
            field: "サービス開始時刻".to_owned(),
            expected: expected.to_owned(),
            actual: actual.to_owned(),
        }
    }

    #[test]
    fn a_diff_says_what_differs_first() {
        let mut d = CsvDiff {
            subject: String::new(),
            missing: Vec::new(),
            unexpected: Vec::new(),
            cells: vec![cell("0930", "1030")],
        };
        assert_eq!(
            d.summary(),
            "No.12 サービス開始時刻: 0930 → 1030 at 131016/1234500001 20250602 151325 (UPJSK_x.CSV line 1)"
        );
        d.cells.push(cell("1030", ""));
        d.missing
            .push("131016/1234500001 20250603 151325 (UPPLAN_x.CSV line 2)".to_owned());
        assert!(
            d.summary()
                .ends_with("(UPJSK_x.CSV line 1); 2 more differences"),
            "{}",
            d.summary()
        );
        d.cells.clear();
        assert_eq!(
            d.summary(),
            "record not exported: 131016/1234500001 20250603 151325 (UPPLAN_x.CSV line 2)"
        );
        assert_eq!(located("k", "", 3), "k");
        assert_eq!(located("k", "f", 0), "k (f)");
    }
}
