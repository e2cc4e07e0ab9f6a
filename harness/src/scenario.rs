//! Scenario files (TOML, `scenarios/*.toml`): offices with their software, and steps — load,
//! export, send, list, fetch, import, record-actuals, advance, assert — each optionally expecting
//! an error. Parsing keeps every step's line; [`lint`] checks what serde cannot (ids that exist,
//! the fields each action needs, fixtures on disk) and points at the line. The format is
//! documented in `docs/scenarios.md`.

use std::collections::BTreeMap;
use std::path::Path;

use careplan_mock_server::config::{Licence, PasswordState, ReceiveMode};
use careplan_mock_server::pki::{CertKind, Variant};
use careplan_spec::{FileKind, Month, OfficeNumber, ServiceTypeCode};
use serde::Deserialize;
use toml::Spanned;

use crate::software::persona;
use crate::suite::{Origin, Source};

/// A scenario file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenario: Header,
    #[serde(default)]
    pub exchange: ExchangeSettings,
    #[serde(rename = "office", default)]
    pub offices: Vec<Spanned<OfficeSpec>>,
    #[serde(rename = "step", default)]
    pub steps: Vec<Spanned<Step>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub tags: Vec<String>,
    /// Spec clauses, layout rows, rule IDs or field reports the scenario checks.
    #[serde(default)]
    pub refs: Vec<String>,
    /// The scenario's first day (YYYY-MM-DD): 作成年月日 of new records and the date in ファイル連番.
    #[serde(default)]
    pub today: Option<String>,
}

/// Switches of the mock exchange for this scenario (`docs/exchange.md`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExchangeSettings {
    #[serde(default)]
    pub receive_mode: Option<ReceiveMode>,
}

/// One office.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeSpec {
    /// The name steps use for this office.
    pub id: String,
    /// 事業所番号: 10 digits, a string.
    pub number: String,
    #[serde(default)]
    pub name: String,
    /// サービス種類コード: 43 居宅介護支援, 46 介護予防支援, 11 訪問介護, 15 通所介護 …
    pub service_types: Vec<String>,
    /// A persona name, or `sut` (the product under test, given with `cpkit run --sut`).
    pub software: String,
    /// The persona that plays a `sut` office when no `--sut` is given (default reference-v4).
    #[serde(default)]
    pub stand_in: Option<String>,
    /// valid, expired, not-yet-valid, other-ca, revoked, wrong-key-usage, or none.
    #[serde(default = "default_certificate")]
    pub certificate: String,
    /// kaigo-hoken (default), careplan-dx, dairinin, shogai.
    #[serde(default = "default_cert_kind")]
    pub certificate_kind: String,
    /// active (default), applied, expired, none, or unregistered (not in the hub's registry).
    #[serde(default = "default_licence")]
    pub licence: String,
    #[serde(default)]
    pub licence_until: Option<String>,
    /// active (default), temporary, expired.
    #[serde(default)]
    pub password: Option<String>,
    /// The office's terminals (PCs); default one, `pc1`.
    #[serde(default)]
    pub terminals: Vec<String>,
    /// The version the persona writes instead of its own (v3, v4.0, v4.1): a V4 product set to
    /// write V3 for a V3 partner.
    #[serde(default)]
    pub writes: Option<String>,
}

fn default_certificate() -> String {
    "valid".to_owned()
}

fn default_cert_kind() -> String {
    "kaigo-hoken".to_owned()
}

fn default_licence() -> String {
    "active".to_owned()
}

/// What a step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// The office's software is given its own data (fixture files it "entered").
    Load,
    /// The software writes a send unit for a destination.
    Export,
    /// The office sends what it exported (not yet sent) through the exchange.
    Send,
    /// A terminal lists the inbox (first-lister-wins takes the items for it).
    List,
    /// A terminal lists the inbox and downloads every file.
    Fetch,
    /// The software imports what was fetched and not yet imported.
    Import,
    /// The software records the month's actuals as planned.
    RecordActuals,
    /// The exchange's clock (and the scenario's date) move on.
    Advance,
    /// The office changes its own data (a persona's state): records removed or fields set.
    Edit,
    /// Checks on files or on the software's state.
    Assert,
}

impl Action {
    pub fn label(self) -> &'static str {
        match self {
            Self::Load => "load",
            Self::Export => "export",
            Self::Send => "send",
            Self::List => "list",
            Self::Fetch => "fetch",
            Self::Import => "import",
            Self::RecordActuals => "record-actuals",
            Self::Advance => "advance",
            Self::Edit => "edit",
            Self::Assert => "assert",
        }
    }
}

/// One step. Which fields apply depends on `action` (checked by [`lint`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub action: Action,
    /// A name for the report (default: made from the action and offices).
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub office: Option<String>,
    /// Destination office id (export, send).
    #[serde(default)]
    pub to: Option<String>,
    /// Send-unit id (export): kyotaku-plan, kyotaku-riyohyo, kyotaku-plan-delete, riyohyo-delete,
    /// actuals, actuals-delete, yobo-kihon, yobo-plan-kihon, yobo-plan, yobo-kihon-delete,
    /// yobo-plan-delete.
    #[serde(default)]
    pub unit: Option<String>,
    /// The destination's service type (default: its first).
    #[serde(default)]
    pub to_type: Option<String>,
    /// The sender's own service type (default: its first).
    #[serde(default)]
    pub as_type: Option<String>,
    /// YYYY-MM (export, record-actuals, assert).
    #[serde(default)]
    pub month: Option<String>,
    /// Fixture folder or file, relative to the scenario file (load).
    #[serde(default)]
    pub fixture: Option<String>,
    /// Extra files sent as attachments, relative to the scenario file.
    #[serde(default)]
    pub attach: Vec<String>,
    #[serde(default)]
    pub terminal: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    /// advance: days.
    #[serde(default)]
    pub days: Option<i64>,
    /// edit: the kind of the documents changed (UPPLAN, UPHOSOKU …).
    #[serde(default)]
    pub kind: Option<FileKind>,
    /// edit: `保険者番号/被保険者番号` of the documents changed.
    #[serde(default)]
    pub user: Option<String>,
    /// edit: only records whose columns have these values (column name → value).
    #[serde(default, rename = "where")]
    pub matching: BTreeMap<String, String>,
    /// edit: set these columns (column name → value) in the matching records.
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    /// edit: remove the matching records.
    #[serde(default)]
    pub remove: bool,
    #[serde(default)]
    pub expect: Option<Expect>,
    /// assert: a document count in the software's state.
    #[serde(default)]
    pub holds: Option<Holds>,
    /// assert: the office's last export carries what it imported (import conformance by round trip).
    #[serde(default)]
    pub round_trip: Option<bool>,
    /// assert: the files the office last exported (or, with `of = "received"`, last fetched) are
    /// conformant (true) or not (false) under the spec core.
    #[serde(default)]
    pub valid: Option<bool>,
    /// assert: rules the spec core must report on those files.
    #[serde(default)]
    pub rules: Option<Vec<String>>,
    /// assert `valid`/`rules` on `exported` (default) or `received` files.
    #[serde(default)]
    pub of: Option<String>,
    /// assert: the files the office fetched are byte-for-byte those that were sent to it.
    #[serde(default)]
    pub unchanged: Option<bool>,
    /// must (default: a failure is `fail`) or should (a failure is `warn`).
    #[serde(default)]
    pub severity: Option<String>,
    /// Spec references of this step's requirement.
    #[serde(default)]
    pub refs: Vec<String>,
}

/// What a step expects to go wrong.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The step fails with a message (Japanese or English) or code containing this text.
    #[serde(default)]
    pub error: Option<String>,
    /// import: the software refuses a unit; the rule IDs it must name (empty = any refusal).
    #[serde(default)]
    pub refused: Option<Vec<String>>,
    /// list/fetch: how many items are new on the terminal (the inbox keeps its history).
    #[serde(default)]
    pub items: Option<usize>,
    /// fetch/export: how many files.
    #[serde(default)]
    pub files: Option<usize>,
    /// list/fetch: a message of the items seen contains this text.
    #[serde(default)]
    pub message: Option<String>,
}

/// `holds`: the software holds documents of a kind for a user-month.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Holds {
    /// UPPLAN, UPJSK, UP1KYO …
    pub kind: FileKind,
    /// `保険者番号/被保険者番号`.
    #[serde(default)]
    pub user: Option<String>,
    /// YYYY-MM.
    #[serde(default)]
    pub month: Option<String>,
    /// Partner office id.
    #[serde(default)]
    pub partner: Option<String>,
    /// Only records of this service type.
    #[serde(default)]
    pub service_type: Option<String>,
    /// Only records whose columns have these values (column name → value).
    #[serde(default, rename = "where")]
    pub matching: BTreeMap<String, String>,
    /// How many records (summary rows not counted).
    #[serde(default)]
    pub records: Option<usize>,
    /// How many documents (for kinds without records, such as UPKIHON_IMAGE).
    #[serde(default)]
    pub documents: Option<usize>,
}

/// A scenario file that did not parse or lint: file, line, column and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// A parsed scenario with where it came from.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The file as reports and lint name it: a relative, `/`-separated path (`scenarios/x.toml`;
    /// [`crate::suite::report_name`]).
    pub name: String,
    /// Where the file and its fixtures are read from (disk or the embedded suite).
    pub origin: Origin,
    pub text: String,
    pub file: ScenarioFile,
}

/// The 1-based line and column of a byte offset.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

impl Scenario {
    /// Reads and parses a scenario file on disk, named as given (no lint).
    pub fn read(path: &Path) -> Result<Self, ScenarioError> {
        Self::load(&Source {
            origin: Origin::Disk(path.to_path_buf()),
            name: path.display().to_string(),
        })
    }

    /// Reads and parses a scenario file on disk or built in (no lint).
    pub fn load(source: &Source) -> Result<Self, ScenarioError> {
        let text = source.origin.read_text().map_err(|e| ScenarioError {
            file: source.name.clone(),
            line: 0,
            column: 0,
            message: format!("failed to read: {e}"),
        })?;
        Self::parse_as(source.clone(), text)
    }

    /// Parses the text of a scenario file on disk at `path`.
    pub fn parse(path: &Path, text: String) -> Result<Self, ScenarioError> {
        Self::parse_as(
            Source {
                origin: Origin::Disk(path.to_path_buf()),
                name: path.display().to_string(),
            },
            text,
        )
    }

    fn parse_as(source: Source, text: String) -> Result<Self, ScenarioError> {
        let file = source.name.clone();
        match toml::from_str::<ScenarioFile>(&text) {
            Ok(parsed) => Ok(Self {
                name: source.name,
                origin: source.origin,
                text,
                file: parsed,
            }),
            Err(e) => {
                let (line, column) = e.span().map_or((0, 0), |s| line_col(&text, s.start));
                Err(ScenarioError {
                    file,
                    line,
                    column,
                    message: e.message().to_owned(),
                })
            }
        }
    }

    /// The line of a span.
    pub fn line_of<T>(&self, s: &Spanned<T>) -> usize {
        line_col(&self.text, s.span().start).0
    }

    /// A fixture path resolved against the scenario file's folder.
    pub fn resolve(&self, relative: &str) -> Origin {
        self.origin.sibling(relative)
    }

    pub fn office(&self, id: &str) -> Option<&OfficeSpec> {
        self.file
            .offices
            .iter()
            .map(|o| o.get_ref())
            .find(|o| o.id == id)
    }
}

/// The send-unit ids a scenario may export.
pub fn unit_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = careplan_spec::units::definitions()
        .iter()
        .map(|d| d.id.as_str())
        .collect();
    ids.dedup();
    ids
}

/// Whether a date is given relative to the scenario's first day: `+30d`, `-1d`.
pub fn relative_days(text: &str) -> bool {
    text.len() > 2
        && text.starts_with(['+', '-'])
        && text.ends_with('d')
        && text[1..text.len() - 1].bytes().all(|b| b.is_ascii_digit())
}

/// Parses `YYYY-MM`.
pub fn parse_month(text: &str) -> Option<Month> {
    let (y, m) = text.split_once('-')?;
    Month::new(y.parse().ok()?, m.parse().ok()?)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(text: &str) -> Option<time::Date> {
    careplan_mock_server::config::parse_date(text)
}

/// Checks a parsed scenario; every problem with its line.
pub fn lint(s: &Scenario) -> Vec<ScenarioError> {
    let mut out = Vec::new();
    let file = s.name.clone();
    let mut err = |offset: usize, message: String| {
        let (line, column) = line_col(&s.text, offset);
        out.push(ScenarioError {
            file: file.clone(),
            line,
            column,
            message,
        });
    };
    if let Some(t) = &s.file.scenario.today
        && parse_day(t).is_none()
    {
        err(0, format!("scenario.today {t:?} is not YYYY-MM-DD"));
    }
    let mut ids = std::collections::BTreeSet::new();
    for o in &s.file.offices {
        let at = o.span().start;
        let o = o.get_ref();
        if !ids.insert(o.id.clone()) {
            err(at, format!("office id {:?} is used twice", o.id));
        }
        if OfficeNumber::parse(&o.number).is_none() {
            err(
                at,
                format!("office {}: number {:?} is not 10 digits", o.id, o.number),
            );
        }
        if o.service_types.is_empty() {
            err(at, format!("office {}: service_types is empty", o.id));
        }
        for t in &o.service_types {
            if ServiceTypeCode::parse(t).is_none() {
                err(
                    at,
                    format!(
                        "office {}: {t:?} is not a 2-character サービス種類コード",
                        o.id
                    ),
                );
            }
        }
        if o.software != "sut" && persona::persona(&o.software).is_none() {
            err(
                at,
                format!(
                    "office {}: software {:?} is neither `sut` nor a persona ({})",
                    o.id,
                    o.software,
                    persona::names()
                ),
            );
        }
        if let Some(p) = &o.stand_in
            && persona::persona(p).is_none()
        {
            err(
                at,
                format!(
                    "office {}: stand_in {p:?} is not a persona ({})",
                    o.id,
                    persona::names()
                ),
            );
        }
        if o.certificate != "none" && o.certificate.parse::<Variant>().is_err() {
            err(
                at,
                format!(
                    "office {}: certificate {:?}: expected none, valid, expired, not-yet-valid, other-ca, revoked or wrong-key-usage",
                    o.id, o.certificate
                ),
            );
        }
        if o.certificate_kind.parse::<CertKind>().is_err() {
            err(
                at,
                format!(
                    "office {}: certificate_kind {:?}: expected kaigo-hoken, careplan-dx, dairinin or shogai",
                    o.id, o.certificate_kind
                ),
            );
        }
        if o.licence != "unregistered" && Licence::from_tag(&o.licence).is_none() {
            err(
                at,
                format!(
                    "office {}: licence {:?}: expected active, applied, expired, none or unregistered",
                    o.id, o.licence
                ),
            );
        }
        if let Some(p) = &o.password
            && PasswordState::from_tag(p).is_none()
        {
            err(
                at,
                format!(
                    "office {}: password {p:?}: expected active, temporary or expired",
                    o.id
                ),
            );
        }
        if let Some(d) = &o.licence_until
            && parse_day(d).is_none()
            && !relative_days(d)
        {
            err(
                at,
                format!(
                    "office {}: licence_until {d:?} is not YYYY-MM-DD or ±Nd",
                    o.id
                ),
            );
        }
        if let Some(w) = &o.writes
            && careplan_spec::SpecVersion::parse(w).is_none()
        {
            err(
                at,
                format!("office {}: writes {w:?}: expected v3, v4.0 or v4.1", o.id),
            );
        }
    }
    let units = unit_ids();
    for step in &s.file.steps {
        let at = step.span().start;
        let st = step.get_ref();
        let a = st.action.label();
        let needs_office = !matches!(st.action, Action::Advance);
        match &st.office {
            Some(id) if !ids.contains(id) => err(at, format!("{a}: office {id:?} is not declared")),
            None if needs_office => err(at, format!("{a}: needs `office`")),
            _ => {}
        }
        if let Some(id) = &st.to
            && !ids.contains(id)
        {
            err(at, format!("{a}: to {id:?} is not declared"));
        }
        if let Some(id) = st.holds.as_ref().and_then(|h| h.partner.as_ref())
            && !ids.contains(id)
        {
            err(at, format!("{a}: holds.partner {id:?} is not declared"));
        }
        match st.action {
            Action::Export => {
                if st.to.is_none() {
                    err(at, "export: needs `to`".to_owned());
                }
                match &st.unit {
                    None => err(at, format!("export: needs `unit` ({})", units.join(", "))),
                    Some(u) if !units.contains(&u.as_str()) => err(
                        at,
                        format!("export: unit {u:?} is not one of {}", units.join(", ")),
                    ),
                    _ => {}
                }
            }
            Action::Send if st.to.is_none() => err(at, "send: needs `to`".to_owned()),
            Action::Load if st.fixture.is_none() => err(at, "load: needs `fixture`".to_owned()),
            Action::Advance if st.days.is_none() => err(at, "advance: needs `days`".to_owned()),
            Action::Edit => {
                if st.kind.is_none() {
                    err(at, "edit: needs `kind`".to_owned());
                }
                if st.remove != st.set.is_empty() {
                    err(at, "edit: needs either `remove = true` or `set`".to_owned());
                }
            }
            Action::Assert => {
                let checks = [
                    st.holds.is_some(),
                    st.round_trip.is_some(),
                    st.valid.is_some() || st.rules.is_some(),
                    st.unchanged.is_some(),
                ];
                if st.round_trip == Some(false) || st.unchanged == Some(false) {
                    err(
                        at,
                        "assert: round_trip and unchanged take only `true`".to_owned(),
                    );
                }
                if !checks.iter().any(|c| *c) {
                    err(
                        at,
                        "assert: needs one of holds, round_trip, valid/rules, unchanged".to_owned(),
                    );
                }
                if let Some(of) = &st.of
                    && of != "exported"
                    && of != "received"
                {
                    err(
                        at,
                        format!("assert: of {of:?}: expected exported or received"),
                    );
                }
                if let Some(h) = &st.holds
                    && let Some(m) = &h.month
                    && parse_month(m).is_none()
                {
                    err(at, format!("assert: holds.month {m:?} is not YYYY-MM"));
                }
                if let Some(h) = &st.holds
                    && h.records.is_some() == h.documents.is_some()
                {
                    err(
                        at,
                        "assert: holds needs either `records` or `documents`".to_owned(),
                    );
                }
            }
            _ => {}
        }
        if let Some(m) = &st.month
            && parse_month(m).is_none()
        {
            err(at, format!("{a}: month {m:?} is not YYYY-MM"));
        }
        for t in [&st.to_type, &st.as_type].into_iter().flatten() {
            if ServiceTypeCode::parse(t).is_none() {
                err(
                    at,
                    format!("{a}: {t:?} is not a 2-character サービス種類コード"),
                );
            }
        }
        if let Some(sev) = &st.severity
            && sev != "must"
            && sev != "should"
        {
            err(
                at,
                format!("{a}: severity {sev:?}: expected must or should"),
            );
        }
        for f in st.fixture.iter().chain(&st.attach) {
            if !s.resolve(f).exists() {
                err(
                    at,
                    format!("{a}: fixture {f:?} does not exist (relative to the scenario file)"),
                );
            }
        }
        if let (Some(office), Some(terminal)) = (&st.office, &st.terminal)
            && let Some(o) = s.office(office)
            && !o.terminals.is_empty()
            && !o.terminals.contains(terminal)
        {
            err(
                at,
                format!(
                    "{a}: office {office} has no terminal {terminal:?} (terminals = {:?})",
                    o.terminals
                ),
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::parse(Path::new("t.toml"), text.to_owned())
    }

    const OK: &str = r#"
[scenario]
name = "t"

[[office]]
id = "cm"
number = "0310000100"
service_types = ["43"]
software = "reference-v4"

[[office]]
id = "day"
number = "0320000202"
service_types = ["15"]
software = "sut"

[[step]]
action = "advance"
days = 1
"#;

    #[test]
    fn a_good_file_lints_clean() {
        let s = parse(OK).expect("parses");
        assert_eq!(lint(&s), vec![]);
        assert_eq!(
            s.line_of(&s.file.steps[0]),
            17,
            "the line of its [[step]] header"
        );
    }

    #[test]
    fn syntax_errors_point_at_the_line() {
        let e = parse("[scenario]\nname = \"t\"\n[[step]]\naction = \"jump\"\n").unwrap_err();
        assert_eq!(e.line, 4, "{e}");
        assert!(e.message.contains("jump"), "{e}");
    }

    #[test]
    fn lint_names_the_line_of_each_bad_step() {
        let text = format!(
            "{OK}\n[[step]]\naction = \"export\"\noffice = \"cm\"\nto = \"nobody\"\nunit = \"riyohyo\"\n"
        );
        let s = parse(&text).unwrap();
        let errors = lint(&s);
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(errors.iter().all(|e| e.line == 21), "{errors:?}");
        assert!(errors[0].message.contains("nobody"), "{errors:?}");
        assert!(errors[1].message.contains("kyotaku-riyohyo"), "{errors:?}");
    }

    #[test]
    fn office_numbers_must_be_ten_digit_strings() {
        let s = parse(&OK.replace("\"0310000100\"", "\"310000100\"")).unwrap();
        assert!(lint(&s)[0].message.contains("not 10 digits"));
        assert!(parse(&OK.replace("\"0310000100\"", "310000100")).is_err());
    }
}
