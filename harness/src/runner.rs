//! Runs scenarios: for each scenario a fresh mock exchange (real mutual TLS on 127.0.0.1:0, its own
//! test PKI and SQLite store in a work folder), one software per office (a persona, or the system
//! under test through its adapter), then the steps in order, each judged into a [`CaseOutcome`].
//!
//! Nothing here knows the standard: file names, layouts and findings come from the spec core,
//! exchange behaviour from the hub, import behaviour from the software.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use careplan_mock_server::client::{Client, ClientError, Identity};
use careplan_mock_server::config::{
    Config, DEMO_PASSWORD, Licence, OfficeConfig, PasswordState, UserConfig, demo_user_id,
};
use careplan_mock_server::hub::Destination;
use careplan_mock_server::pki::{CertKind, Pki, Variant};
use careplan_mock_server::server::RunningServer;
use careplan_spec::validate::Options;
use careplan_spec::{FileKind, FileName, OfficeNumber, Serial, ServiceTypeCode, Severity};
use serde::Deserialize;

use crate::outcome::{CaseOutcome, CellDiff, CsvDiff, RunOutcome, ScenarioOutcome, Verdict};
use crate::scenario::{Action, OfficeSpec, Scenario, Step, parse_day, parse_month};
use crate::software::command::{CommandConfig, CommandSut};
use crate::software::operator::{
    Channel, ExchangeAccess, ExchangeLink, OperatorConfig, OperatorSut,
};
use crate::software::persona::{self, Persona};
use crate::software::rules::{round_trip_for, rules};
use crate::software::state::{DocQuery, Edit, records_of_type};
use crate::software::{ExportRequest, PersonaSoftware, Software, SoftwareError, StoredFile};

/// The system under test: `cpkit run --sut FILE`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SutConfig {
    /// The product's name in reports.
    pub name: String,
    /// `command`, `folder` or `exchange` (docs/scenarios.md).
    pub adapter: String,
    #[serde(default)]
    pub command: Option<CommandConfig>,
    #[serde(default)]
    pub folder: Option<OperatorConfig>,
    #[serde(default)]
    pub exchange: Option<OperatorConfig>,
}

/// Why a SUT configuration cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum SutConfigError {
    #[error("failed to read {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl SutConfig {
    pub fn load(path: &Path) -> Result<Self, SutConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| SutConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let config: SutConfig = toml::from_str(&text).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((0, 0), |s| crate::scenario::line_col(&text, s.start));
            SutConfigError::Parse {
                path: path.to_path_buf(),
                line,
                column,
                message: e.message().to_owned(),
            }
        })?;
        let table = match config.adapter.as_str() {
            "command" => config.command.is_some(),
            // The operator adapters work on their defaults.
            "folder" | "exchange" => true,
            other => {
                return Err(SutConfigError::Invalid {
                    path: path.to_path_buf(),
                    message: format!("adapter {other:?}: expected command, folder or exchange"),
                });
            }
        };
        if !table {
            return Err(SutConfigError::Invalid {
                path: path.to_path_buf(),
                message: "adapter = \"command\" needs a [command] table".to_owned(),
            });
        }
        Ok(config)
    }
}

/// How to run.
pub struct RunOptions {
    pub sut: Option<SutConfig>,
    /// Where each scenario's exchange, PKI and SUT folders go (a folder per scenario).
    pub work_dir: PathBuf,
    /// Keep the work folders (default: removed after a scenario passes).
    pub keep: bool,
}

/// Progress callbacks, for a terminal.
pub trait Progress {
    fn scenario_started(&mut self, _index: usize, _total: usize, _name: &str) {}
    fn scenario_finished(&mut self, _index: usize, _total: usize, _outcome: &ScenarioOutcome) {}
}

/// No progress output.
pub struct Quiet;
impl Progress for Quiet {}

/// Runs scenarios in order and collects their outcomes.
pub fn run(
    scenarios: &[Scenario],
    options: &RunOptions,
    progress: &mut dyn Progress,
) -> RunOutcome {
    careplan_mock_server::tls::install_provider();
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let clock = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build();
    let mut outcomes = Vec::new();
    for (i, s) in scenarios.iter().enumerate() {
        progress.scenario_started(i, scenarios.len(), &s.file.scenario.name);
        let outcome = match &runtime {
            Ok(rt) => rt.block_on(run_scenario(s, i, options)),
            Err(e) => kit_failure(s, format!("failed to start the async runtime: {e}")),
        };
        progress.scenario_finished(i, scenarios.len(), &outcome);
        outcomes.push(outcome);
    }
    RunOutcome {
        tool_version: env!("CARGO_PKG_VERSION").to_owned(),
        started,
        scenarios: outcomes,
        duration: clock.elapsed(),
    }
}

fn header(s: &Scenario) -> ScenarioOutcome {
    ScenarioOutcome {
        name: s.file.scenario.name.clone(),
        file: s.path.display().to_string(),
        description: s.file.scenario.description.trim().to_owned(),
        tags: s.file.scenario.tags.clone(),
        refs: s.file.scenario.refs.clone(),
        software: Vec::new(),
        cases: Vec::new(),
        duration: Duration::ZERO,
    }
}

fn kit_failure(s: &Scenario, message: String) -> ScenarioOutcome {
    let mut out = header(s);
    out.cases.push(CaseOutcome {
        name: "set-up".to_owned(),
        step: 0,
        line: None,
        action: "set-up".to_owned(),
        verdict: Verdict::Error,
        message,
        expected: None,
        actual: None,
        diff: None,
        refs: Vec::new(),
        log: Vec::new(),
        duration: Duration::ZERO,
    });
    out
}

/// One office during a scenario.
struct OfficeRun {
    spec: OfficeSpec,
    number: OfficeNumber,
    software: Box<dyn Software>,
    /// The exchange's answer to a product that sends by itself (judged by the next `send`).
    self_sent: Option<Result<String, String>>,
    identity: Identity,
    clients: BTreeMap<String, Client>,
    /// Exported and not yet sent.
    pending: Vec<StoredFile>,
    last_export: Vec<StoredFile>,
    /// Fetched and not yet imported.
    unimported: Vec<StoredFile>,
    last_received: Vec<StoredFile>,
    last_imported: Vec<StoredFile>,
    /// Every file sent to this office, by name (for `unchanged`).
    sent_to_me: BTreeMap<String, Vec<u8>>,
    /// Inbox items already fetched, per terminal: `list` and `fetch` report (and `fetch`
    /// downloads) the others. A `list` does not mark them, so `list` then `fetch` downloads what
    /// was listed.
    seen: BTreeMap<String, std::collections::BTreeSet<i64>>,
}

impl OfficeRun {
    fn first_type(&self) -> Option<ServiceTypeCode> {
        self.spec
            .service_types
            .first()
            .and_then(|t| ServiceTypeCode::parse(t))
    }

    fn terminal(&self, step: &Step) -> String {
        step.terminal
            .clone()
            .or_else(|| self.spec.terminals.first().cloned())
            .unwrap_or_else(|| "pc1".to_owned())
    }

    /// The logged-in client of a terminal (connects and logs in on first use).
    async fn client(&mut self, url: &str, terminal: &str) -> Result<&mut Client, ClientError> {
        if !self.clients.contains_key(terminal) {
            let mut client = Client::new(url, &self.identity)?;
            client
                .login(
                    &demo_user_id(&self.number),
                    DEMO_PASSWORD,
                    terminal,
                    &self.software.client_version(),
                )
                .await?;
            self.clients.insert(terminal.to_owned(), client);
        }
        Ok(self.clients.get_mut(terminal).expect("inserted above"))
    }
}

/// What a `list` or `fetch` saw: the items new on the terminal, their files and messages.
#[derive(Default)]
struct Inbox {
    items: usize,
    files: Vec<StoredFile>,
    messages: Vec<String>,
}

/// The scenario's clock for file contents and serials.
struct Clock {
    today: time::Date,
    seconds: u32,
    hub_offset: i64,
}

impl Clock {
    fn today_text(&self) -> String {
        format!(
            "{:04}{:02}{:02}",
            self.today.year(),
            u8::from(self.today.month()),
            self.today.day()
        )
    }

    /// A fresh ファイル連番: today 10:00:00 plus a counter, so that units are ordered as exported.
    fn next_serial(&mut self) -> Serial {
        let base = Serial::parse(&format!("{}100000", self.today_text())).expect("a valid serial");
        // Leave room for a persona that splits one export into several units (one per month: a
        // second apart).
        let s = careplan_spec::convert::serial_plus_seconds(&base, self.seconds);
        self.seconds += 60;
        s
    }
}

fn resolve_until(text: &str, today: time::Date) -> Option<String> {
    // `+30d` / `-1d`: relative to the scenario's first day (the hub's clock starts there).
    if let Some(days) = text
        .strip_suffix('d')
        .and_then(|d| d.parse::<i64>().ok())
        .filter(|_| text.starts_with(['+', '-']))
    {
        let d = today + time::Duration::days(days);
        return Some(format!(
            "{:04}-{:02}-{:02}",
            d.year(),
            u8::from(d.month()),
            d.day()
        ));
    }
    parse_day(text).map(|_| text.to_owned())
}

/// What the `exchange` adapter needs to give a SUT office its own access.
struct HubAccess<'a> {
    server: &'a RunningServer,
    pki: &'a Pki,
}

fn software_for(
    spec: &OfficeSpec,
    number: &OfficeNumber,
    sut: Option<&SutConfig>,
    work: &Path,
    hub: &HubAccess<'_>,
) -> Result<Box<dyn Software>, String> {
    let own_type = spec
        .service_types
        .first()
        .and_then(|t| ServiceTypeCode::parse(t))
        .ok_or_else(|| format!("office {}: no service type", spec.id))?;
    let persona_named = |name: &str| -> Result<Persona, String> {
        let mut p = persona::persona(name)
            .cloned()
            .ok_or_else(|| format!("office {}: unknown persona {name:?}", spec.id))?;
        if let Some(w) = &spec.writes {
            p.writes = careplan_spec::SpecVersion::parse(w)
                .ok_or_else(|| format!("office {}: writes {w:?} is not a version", spec.id))?;
        }
        Ok(p)
    };
    if spec.software == "sut" {
        if let Some(sut) = sut {
            let dir = work.join(format!("sut-{}", spec.id));
            let operator = |c: &Option<OperatorConfig>| {
                let mut c = c.clone().unwrap_or(OperatorConfig {
                    dir: None,
                    timeout_seconds: 900,
                    client_version: "1.2.0".to_owned(),
                });
                // A folder given in the configuration holds one folder per scenario and office.
                c.dir = c.dir.map(|d| {
                    d.join(work.file_name().unwrap_or_default())
                        .join(format!("sut-{}", spec.id))
                });
                c
            };
            let software: Box<dyn Software> = match sut.adapter.as_str() {
                "folder" => Box::new(
                    OperatorSut::new(
                        &sut.name,
                        operator(&sut.folder),
                        number.as_str(),
                        own_type.as_str(),
                        dir,
                        Channel::Folder,
                    )
                    .map_err(|e| e.to_string())?,
                ),
                "exchange" => {
                    let access = exchange_access(spec, number, &dir, hub)?;
                    let link = ExchangeLink::new(hub.server.hub.clone(), access);
                    Box::new(
                        OperatorSut::new(
                            &sut.name,
                            operator(&sut.exchange),
                            number.as_str(),
                            own_type.as_str(),
                            dir,
                            Channel::Exchange(Box::new(link)),
                        )
                        .map_err(|e| e.to_string())?,
                    )
                }
                _ => {
                    let command = sut
                        .command
                        .clone()
                        .ok_or_else(|| "the SUT configuration has no [command] table".to_owned())?;
                    Box::new(
                        CommandSut::new(
                            &sut.name,
                            command,
                            number.as_str(),
                            own_type.as_str(),
                            dir,
                        )
                        .map_err(|e| e.to_string())?,
                    )
                }
            };
            return Ok(software);
        }
        let p = persona_named(spec.stand_in.as_deref().unwrap_or("reference-v4"))?;
        return Ok(Box::new(PersonaSoftware::new(p, number, &own_type)));
    }
    let p = persona_named(&spec.software)?;
    Ok(Box::new(PersonaSoftware::new(p, number, &own_type)))
}

/// Gives a SUT office its own PKI folder (the CA and its certificate, as `cpkit send --certs`
/// reads them), its URL and its KJ ID.
fn exchange_access(
    spec: &OfficeSpec,
    number: &OfficeNumber,
    dir: &Path,
    hub: &HubAccess<'_>,
) -> Result<ExchangeAccess, String> {
    let certs = dir.join("certs");
    let office_dir = certs.join("offices").join(number.as_str());
    std::fs::create_dir_all(certs.join("ca"))
        .map_err(|e| format!("failed to create {}: {e}", certs.display()))?;
    std::fs::create_dir_all(&office_dir)
        .map_err(|e| format!("failed to create {}: {e}", office_dir.display()))?;
    let copy = |from: &Path, to: &Path| {
        std::fs::copy(from, to)
            .map(drop)
            .map_err(|e| format!("failed to copy {}: {e}", from.display()))
    };
    copy(&hub.pki.ca_cert(), &certs.join("ca/ca.pem"))?;
    let issued = hub.pki.office(number, &spec.id);
    if issued.cert.exists() {
        copy(&issued.cert, &office_dir.join("client.pem"))?;
        copy(&issued.key, &office_dir.join("client.key"))?;
    }
    Ok(ExchangeAccess {
        url: hub.server.url(),
        user_id: demo_user_id(number),
        password: DEMO_PASSWORD.to_owned(),
        certs,
    })
}

/// Sets up the exchange and offices of a scenario, or says why not.
async fn set_up(
    s: &Scenario,
    work: &Path,
    options: &RunOptions,
    today: time::Date,
) -> Result<(RunningServer, Vec<OfficeRun>, i64), String> {
    let pki = Pki::new(work.join("pki"));
    pki.init(true)
        .map_err(|e| format!("failed to create the test PKI: {e}"))?;
    let mut config = Config {
        listen: "127.0.0.1:0".parse().expect("a socket address"),
        data: work.join("exchange"),
        certs: work.join("pki"),
        ..Config::default()
    };
    config.limits.password_iterations = 1_000;
    if let Some(mode) = s.file.exchange.receive_mode {
        config.switches.receive_mode = mode;
    }
    let mut offices = Vec::new();
    let mut pending = Vec::new();
    for o in &s.file.offices {
        let spec = o.get_ref().clone();
        let number = OfficeNumber::parse(&spec.number)
            .ok_or_else(|| format!("office {}: bad number {}", spec.id, spec.number))?;
        if spec.licence != "unregistered" {
            let licence = Licence::from_tag(&spec.licence)
                .ok_or_else(|| format!("office {}: bad licence {}", spec.id, spec.licence))?;
            let until = match &spec.licence_until {
                Some(t) => Some(
                    resolve_until(t, today)
                        .ok_or_else(|| format!("office {}: bad licence_until {t}", spec.id))?,
                ),
                None if licence == Licence::Expired => resolve_until("-1d", today),
                None => Some("2099-12-31".to_owned()),
            };
            config.offices.push(OfficeConfig {
                number: number.clone(),
                name: spec.name.clone(),
                service_types: spec.service_types.clone(),
                licence,
                licence_until: until,
            });
            config.users.push(UserConfig {
                id: demo_user_id(&number),
                office: number.clone(),
                password: DEMO_PASSWORD.to_owned(),
                state: spec
                    .password
                    .as_deref()
                    .and_then(PasswordState::from_tag)
                    .unwrap_or_default(),
                agent: false,
            });
        }
        let identity = if spec.certificate == "none" {
            Identity::without_certificate(pki.ca_cert())
        } else {
            let variant: Variant = spec.certificate.parse().map_err(|e| format!("{e}"))?;
            let kind: CertKind = spec.certificate_kind.parse().map_err(|e| format!("{e}"))?;
            let files = pki
                .issue(&number, kind, variant, Some(&spec.id))
                .map_err(|e| format!("failed to issue the certificate of {}: {e}", spec.id))?;
            Identity::new(pki.ca_cert(), files.cert, files.key)
        };
        pending.push((spec, number, identity));
    }
    let server = careplan_mock_server::start(config)
        .await
        .map_err(|e| format!("failed to start the mock exchange: {e}"))?;
    let access = HubAccess {
        server: &server,
        pki: &pki,
    };
    for (spec, number, identity) in pending {
        let software = software_for(&spec, &number, options.sut.as_ref(), work, &access)?;
        offices.push(OfficeRun {
            spec,
            number,
            software,
            self_sent: None,
            identity,
            clients: BTreeMap::new(),
            pending: Vec::new(),
            last_export: Vec::new(),
            unimported: Vec::new(),
            last_received: Vec::new(),
            last_imported: Vec::new(),
            sent_to_me: BTreeMap::new(),
            seen: BTreeMap::new(),
        });
    }
    // The hub's clock starts on the scenario's first day (licences, passwords and sessions are
    // judged on it); certificates keep the real clock, which TLS checks.
    let start = today
        .with_hms(10, 0, 0)
        .expect("a valid time")
        .assume_utc()
        .unix_timestamp();
    let offset = start - time::OffsetDateTime::now_utc().unix_timestamp();
    server
        .hub
        .set_clock_offset(offset)
        .map_err(|e| format!("failed to set the exchange's clock: {e}"))?;
    Ok((server, offices, offset))
}

fn slug(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-")
}

async fn run_scenario(s: &Scenario, index: usize, options: &RunOptions) -> ScenarioOutcome {
    let clock = Instant::now();
    let stem = s
        .path
        .file_stem()
        .map(|f| f.to_string_lossy().into_owned())
        .unwrap_or_else(|| slug(&s.file.scenario.name));
    let work = options
        .work_dir
        .join(format!("{:03}-{}", index + 1, slug(&stem)));
    let _ = std::fs::remove_dir_all(&work);
    if let Err(e) = std::fs::create_dir_all(&work) {
        return kit_failure(s, format!("failed to create {}: {e}", work.display()));
    }
    let today = s
        .file
        .scenario
        .today
        .as_deref()
        .and_then(parse_day)
        .unwrap_or(time::macros::date!(2025 - 05 - 26));
    let (server, mut offices, hub_offset) = match set_up(s, &work, options, today).await {
        Ok(v) => v,
        Err(e) => return kit_failure(s, e),
    };
    let mut out = header(s);
    out.software = offices
        .iter()
        .map(|o| (o.spec.id.clone(), o.software.label()))
        .collect();
    let mut ctx = Ctx {
        scenario: s,
        url: server.url(),
        server: &server,
        clock: Clock {
            today,
            seconds: 0,
            hub_offset,
        },
    };
    for (i, step) in s.file.steps.iter().enumerate() {
        let started = Instant::now();
        let line = s.line_of(step);
        let st = step.get_ref();
        let mut cases = ctx.step(&mut offices, st).await;
        for c in &mut cases {
            c.step = i + 1;
            c.line = Some(line);
            c.action = st.action.label().to_owned();
            c.duration = started.elapsed();
            let name = st.name.clone().unwrap_or_else(|| default_name(st));
            c.name = if c.name.is_empty() {
                format!("{:02} {name}", i + 1)
            } else {
                format!("{:02} {name}: {}", i + 1, c.name)
            };
            c.refs.extend(st.refs.iter().cloned());
            if st.severity.as_deref() == Some("should") && c.verdict == Verdict::Fail {
                c.verdict = Verdict::Warn;
            }
        }
        out.cases.extend(cases);
    }
    let _ = server.stop().await;
    out.duration = clock.elapsed();
    let clean = matches!(
        out.verdict(),
        Verdict::Pass | Verdict::Warn | Verdict::NotApplicable
    );
    if clean && !options.keep {
        let _ = std::fs::remove_dir_all(&work);
    }
    out
}

fn default_name(st: &Step) -> String {
    let mut n = st.action.label().to_owned();
    if let Some(o) = &st.office {
        n.push(' ');
        n.push_str(o);
    }
    if let Some(t) = &st.to {
        n.push_str(" → ");
        n.push_str(t);
    }
    if let Some(u) = &st.unit {
        n.push_str(&format!(" ({u})"));
    }
    if let Some(t) = &st.terminal {
        n.push_str(&format!(" on {t}"));
    }
    n
}

fn case(verdict: Verdict, message: impl Into<String>) -> CaseOutcome {
    CaseOutcome {
        name: String::new(),
        step: 0,
        line: None,
        action: String::new(),
        verdict,
        message: message.into(),
        expected: None,
        actual: None,
        diff: None,
        refs: Vec::new(),
        log: Vec::new(),
        duration: Duration::ZERO,
    }
}

fn with(mut c: CaseOutcome, expected: Option<String>, actual: Option<String>) -> CaseOutcome {
    c.expected = expected;
    c.actual = actual;
    c
}

/// The text of an exchange error that `expect.error` is matched against.
fn error_text(e: &ClientError) -> String {
    match e.refusal() {
        Some(h) => format!("{} {} {}", h.code.as_str(), h.message_ja, h.message_en),
        None => e.to_string(),
    }
}

/// Whether a client error is the kit's own trouble (no connection, unreadable credentials, an
/// answer the client does not understand) rather than the exchange refusing.
fn kit_side(e: &ClientError) -> bool {
    matches!(
        e,
        ClientError::Url(_)
            | ClientError::Credentials { .. }
            | ClientError::Connect { .. }
            | ClientError::Protocol { .. }
    )
}

/// An unexpected failure that was the kit's own becomes `error`, not `fail`.
fn blame_kit(mut c: CaseOutcome, kit: bool, st: &Step) -> CaseOutcome {
    let expected = st.expect.as_ref().is_some_and(|e| e.error.is_some());
    if kit && !expected && c.verdict == Verdict::Fail {
        c.verdict = Verdict::Error;
    }
    c
}

/// Judges an outcome against `expect.error`: an expected error that happened passes, one that did
/// not fails, an unexpected error fails.
fn judge_error(step: &Step, result: Result<String, String>) -> Option<CaseOutcome> {
    let want = step.expect.as_ref().and_then(|e| e.error.clone());
    match (want, result) {
        (Some(w), Err(text)) if text.contains(&w) => Some(with(
            case(
                Verdict::Pass,
                format!("refused as expected: {}", first_line(&text)),
            ),
            Some(format!("an error containing «{w}»")),
            Some(text),
        )),
        (Some(w), Err(text)) => Some(with(
            case(
                Verdict::Fail,
                format!("refused, but not as expected: {}", first_line(&text)),
            ),
            Some(format!("an error containing «{w}»")),
            Some(text),
        )),
        (Some(w), Ok(detail)) => Some(with(
            case(Verdict::Fail, "succeeded, but an error was expected"),
            Some(format!("an error containing «{w}»")),
            Some(detail),
        )),
        (None, Err(text)) => Some(with(
            case(Verdict::Fail, first_line(&text).to_owned()),
            Some("success".to_owned()),
            Some(text),
        )),
        (None, Ok(_)) => None,
    }
}

/// A count against `expect`: the case unchanged when it matches, a failure saying both otherwise.
fn expect_count(c: CaseOutcome, want: usize, got: usize, what: &str) -> CaseOutcome {
    if want == got {
        return c;
    }
    let mut failed = with(
        case(Verdict::Fail, format!("{got} {what}, {want} expected")),
        Some(format!("{want} {what}")),
        Some(format!("{got} {what}")),
    );
    failed.log = c.log;
    failed
}

fn first_line(text: &str) -> &str {
    text.lines().find(|l| !l.trim().is_empty()).unwrap_or(text)
}

fn software_result<T>(r: Result<T, SoftwareError>) -> Result<Result<T, String>, String> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(SoftwareError::Refused(m)) => Ok(Err(m)),
        Err(SoftwareError::Failed(m)) => Err(m),
    }
}

fn read_fixture(path: &Path) -> Result<Vec<StoredFile>, String> {
    let mut paths = Vec::new();
    if path.is_dir() {
        let entries = std::fs::read_dir(path)
            .map_err(|e| format!("failed to read {}: {e}", path.display()))?;
        for e in entries {
            let e = e.map_err(|e| format!("failed to read {}: {e}", path.display()))?;
            paths.push(e.path());
        }
    } else {
        paths.push(path.to_path_buf());
    }
    paths.sort();
    let mut out = Vec::new();
    for p in paths {
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Only files of the standard (a fixture folder may hold expect.toml and notes).
        if FileName::parse(&name).is_err() && path.is_dir() {
            continue;
        }
        let bytes =
            std::fs::read(&p).map_err(|e| format!("failed to read {}: {e}", p.display()))?;
        out.push(StoredFile { name, bytes });
    }
    Ok(out)
}

struct Ctx<'a> {
    scenario: &'a Scenario,
    url: String,
    server: &'a RunningServer,
    clock: Clock,
}

fn index_of(offices: &[OfficeRun], id: &str) -> Option<usize> {
    offices.iter().position(|o| o.spec.id == id)
}

impl Ctx<'_> {
    async fn step(&mut self, offices: &mut [OfficeRun], st: &Step) -> Vec<CaseOutcome> {
        let office = st.office.as_deref().and_then(|id| index_of(offices, id));
        let to = st.to.as_deref().and_then(|id| index_of(offices, id));
        let needs_office = st.action != Action::Advance;
        if needs_office && office.is_none() {
            return vec![case(
                Verdict::Error,
                "the step names no declared office (run cpkit scenario lint)",
            )];
        }
        match st.action {
            Action::Advance => {
                // Sessions do not outlive a jump in time: every terminal logs in again.
                for o in offices.iter_mut() {
                    o.clients.clear();
                }
                vec![self.advance(st)]
            }
            Action::Load => vec![self.load(&mut offices[office.expect("checked")], st)],
            Action::Export => match to {
                Some(t) => vec![self.export(offices, office.expect("checked"), t, st)],
                None => vec![case(Verdict::Error, "export: no destination office")],
            },
            Action::Send => match to {
                Some(t) => vec![self.send(offices, office.expect("checked"), t, st).await],
                None => vec![case(Verdict::Error, "send: no destination office")],
            },
            Action::List | Action::Fetch => {
                vec![
                    self.receive(&mut offices[office.expect("checked")], st)
                        .await,
                ]
            }
            Action::Import => vec![self.import(&mut offices[office.expect("checked")], st)],
            Action::RecordActuals => vec![self.record(&mut offices[office.expect("checked")], st)],
            Action::Assert => self.assert(offices, office.expect("checked"), st),
            Action::Edit => vec![self.edit(&mut offices[office.expect("checked")], st)],
        }
    }

    fn advance(&mut self, st: &Step) -> CaseOutcome {
        let days = st.days.unwrap_or(0);
        self.clock.today += time::Duration::days(days);
        self.clock.hub_offset += days * 86_400;
        match self.server.hub.set_clock_offset(self.clock.hub_offset) {
            Ok(()) => case(
                Verdict::Pass,
                format!(
                    "the exchange's clock moved {days} days; scenario date {}",
                    self.clock.today
                ),
            ),
            Err(e) => case(
                Verdict::Error,
                format!("failed to move the exchange's clock: {e}"),
            ),
        }
    }

    fn load(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let Some(fixture) = &st.fixture else {
            return case(Verdict::Error, "load: no fixture");
        };
        let files = match read_fixture(&self.scenario.resolve(fixture)) {
            Ok(f) => f,
            Err(e) => return case(Verdict::Error, e),
        };
        let result = tokio::task::block_in_place(|| o.software.load(&files));
        match software_result(result) {
            Err(kit) => case(Verdict::Error, kit),
            Ok(r) => judge_error(st, r.clone()).unwrap_or_else(|| {
                let mut c = case(Verdict::Pass, r.unwrap_or_default());
                c.log = files.iter().map(|f| f.name.clone()).collect();
                c
            }),
        }
    }

    fn export(
        &mut self,
        offices: &mut [OfficeRun],
        from: usize,
        to: usize,
        st: &Step,
    ) -> CaseOutcome {
        let dest_number = offices[to].number.clone();
        let to_type = st
            .to_type
            .as_deref()
            .and_then(ServiceTypeCode::parse)
            .or_else(|| offices[to].first_type());
        let o = &mut offices[from];
        let as_type = st
            .as_type
            .as_deref()
            .and_then(ServiceTypeCode::parse)
            .or_else(|| o.first_type());
        let request = ExportRequest {
            unit: st.unit.clone().unwrap_or_default(),
            to: dest_number,
            to_type,
            as_type,
            month: st.month.as_deref().and_then(parse_month),
            serial: self.clock.next_serial(),
            today: self.clock.today_text(),
        };
        let result = tokio::task::block_in_place(|| o.software.export(&request));
        let r = match software_result(result) {
            Err(kit) => return case(Verdict::Error, kit),
            Ok(r) => r,
        };
        if o.software.sends_itself() {
            // The product's export is its own send: the exchange's answer is the next send step's.
            let names: Vec<String> = r
                .as_ref()
                .map(|f| f.iter().map(|f| f.name.clone()).collect())
                .unwrap_or_default();
            o.self_sent = Some(r.as_ref().map(|_| names.join(", ")).map_err(Clone::clone));
            o.pending.clear();
            let Ok(files) = r else {
                return case(
                    Verdict::Pass,
                    "the product's export or send was refused: the next send step judges it",
                );
            };
            let mut c = case(
                Verdict::Pass,
                format!("the product exported and sent {} files itself", files.len()),
            );
            c.log = names;
            if let Some(want) = st.expect.as_ref().and_then(|e| e.files) {
                c = expect_count(c, want, files.len(), "files exported");
            }
            o.last_export = files;
            return c;
        }
        let names = r
            .as_ref()
            .map(|files| files.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
            .map_err(Clone::clone);
        if let Some(c) = judge_error(st, names.clone().map(|n| n.join(", "))) {
            return c;
        }
        let files = r.unwrap_or_default();
        let count = files.len();
        o.pending.extend(files.iter().cloned());
        o.last_export = files;
        let mut c = case(Verdict::Pass, format!("{count} files written"));
        c.log = names.unwrap_or_default();
        if let Some(want) = st.expect.as_ref().and_then(|e| e.files)
            && want != count
        {
            c = with(
                case(
                    Verdict::Fail,
                    format!("{count} files written, {want} expected"),
                ),
                Some(want.to_string()),
                Some(count.to_string()),
            );
        }
        c
    }

    async fn send(
        &mut self,
        offices: &mut [OfficeRun],
        from: usize,
        to: usize,
        st: &Step,
    ) -> CaseOutcome {
        if offices[from].software.sends_itself() {
            let Some(result) = offices[from].self_sent.take() else {
                return case(
                    Verdict::Error,
                    "the product sends by itself, and no export step before this one finished",
                );
            };
            if result.is_ok() {
                let files = offices[from].last_export.clone();
                for f in files {
                    offices[to].sent_to_me.insert(f.name, f.bytes);
                }
            }
            return judge_error(st, result.clone()).unwrap_or_else(|| {
                case(
                    Verdict::Pass,
                    format!(
                        "the product's send was accepted: {}",
                        result.unwrap_or_default()
                    ),
                )
            });
        }
        let destination = Destination {
            office: offices[to].number.as_str().to_owned(),
            service_type: st
                .to_type
                .clone()
                .or_else(|| offices[to].spec.service_types.first().cloned()),
        };
        // One send per send unit, as an operator attaches them; attachments and the message go
        // with the first. After a refusal the operator clears the form: what was not sent is
        // dropped (export again to send it again).
        let mut groups: BTreeMap<String, Vec<(String, Vec<u8>)>> = BTreeMap::new();
        for f in &offices[from].pending {
            let key = FileName::parse(&f.name)
                .map(|n| format!("{} {} {}", n.serial, n.sender.office, n.receiver.office))
                .unwrap_or_default();
            groups
                .entry(key)
                .or_default()
                .push((f.name.clone(), f.bytes.clone()));
        }
        let mut extra = Vec::new();
        for a in &st.attach {
            match read_fixture(&self.scenario.resolve(a)) {
                Ok(files) => extra.extend(files.into_iter().map(|f| (f.name, f.bytes))),
                Err(e) => return case(Verdict::Error, e),
            }
        }
        let mut units: Vec<Vec<(String, Vec<u8>)>> = groups.into_values().collect();
        match units.first_mut() {
            Some(first) => first.extend(extra),
            None => units.push(extra),
        }
        offices[from].pending.clear();
        let message = st.message.clone().unwrap_or_default();
        let terminal = offices[from].terminal(st);
        let url = self.url.clone();
        let mut log = Vec::new();
        let mut sent = 0;
        let mut outcome: Result<String, String> = Ok(String::new());
        let mut kit = false;
        for (i, files) in units.iter().enumerate() {
            let text = if i == 0 { message.as_str() } else { "" };
            let result = match offices[from].client(&url, &terminal).await {
                Ok(client) => {
                    client
                        .send(std::slice::from_ref(&destination), text, files, false)
                        .await
                }
                Err(e) => Err(e),
            };
            log.extend(files.iter().map(|f| f.0.clone()));
            match result {
                Ok(receipt) => {
                    sent += files.len();
                    for d in &receipt.deliveries {
                        log.push(format!(
                            "send {} → {}: {}",
                            d.id,
                            d.to_office,
                            d.files.join(", ")
                        ));
                    }
                    for (name, bytes) in files {
                        offices[to].sent_to_me.insert(name.clone(), bytes.clone());
                    }
                }
                Err(e) => {
                    kit = kit_side(&e);
                    outcome = Err(error_text(&e));
                    break;
                }
            }
        }
        let outcome = outcome.map(|_| format!("{sent} files in {} sends", units.len()));
        let c = judge_error(st, outcome.clone()).unwrap_or_else(|| {
            case(
                Verdict::Pass,
                match units.len() {
                    1 => format!("{sent} files accepted by the exchange"),
                    n => format!(
                        "{sent} files accepted by the exchange in {n} sends (one per send unit)"
                    ),
                },
            )
        });
        let mut c = blame_kit(c, kit, st);
        c.log = log;
        c
    }

    async fn receive(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let fetch = st.action == Action::Fetch;
        let terminal = o.terminal(st);
        // The new items, or the refusal's text and whether the kit is to blame.
        let got: Result<Inbox, (String, bool)> = if o.software.sends_itself() {
            if !fetch {
                return case(
                    Verdict::NotApplicable,
                    "the product lists its inbox itself; the kit sees its downloads only",
                );
            }
            match tokio::task::block_in_place(|| o.software.receive()) {
                None => Ok(Inbox::default()),
                Some(Ok(r)) => Ok(Inbox {
                    items: r.messages.len(),
                    files: r.files,
                    messages: r.messages,
                }),
                Some(Err(SoftwareError::Refused(m))) => Err((m, false)),
                Some(Err(SoftwareError::Failed(m))) => return case(Verdict::Error, m),
            }
        } else {
            let url = self.url.clone();
            let mut seen = o.seen.get(&terminal).cloned().unwrap_or_default();
            let result: Result<Inbox, ClientError> = async {
                let client = o.client(&url, &terminal).await?;
                let mut items = client.inbox().await?;
                // The inbox keeps its history; a step is about the items new on this terminal.
                items.retain(|i| seen.insert(i.id));
                let messages = items.iter().map(|i| i.message.clone()).collect();
                let mut files = Vec::new();
                if fetch {
                    for item in &items {
                        for f in &item.files {
                            let bytes = client.download(item.id, f.id).await?;
                            files.push(StoredFile {
                                name: f.name.clone(),
                                bytes,
                            });
                        }
                    }
                }
                Ok(Inbox {
                    items: items.len(),
                    files,
                    messages,
                })
            }
            .await;
            if result.is_ok() && fetch {
                o.seen.insert(terminal.clone(), seen);
            }
            result.map_err(|e| (error_text(&e), kit_side(&e)))
        };
        let kit = got.as_ref().err().is_some_and(|(_, kit)| *kit);
        let judged = got
            .as_ref()
            .map(|i| format!("{} items", i.items))
            .map_err(|(text, _)| text.clone());
        if let Some(c) = judge_error(st, judged) {
            return blame_kit(c, kit, st);
        }
        let Inbox {
            items,
            files,
            messages,
        } = got.unwrap_or_default();
        let messages: Vec<String> = messages.into_iter().filter(|m| !m.is_empty()).collect();
        let mut c = case(
            Verdict::Pass,
            if fetch {
                format!(
                    "{items} new items, {} files fetched on {terminal}",
                    files.len()
                )
            } else {
                format!("{items} new items listed on {terminal}")
            },
        );
        c.log = files.iter().map(|f| f.name.clone()).collect();
        let expect = st.expect.clone().unwrap_or_default();
        if let Some(want) = expect.items {
            c = expect_count(c, want, items, "new items");
        }
        if c.verdict == Verdict::Pass
            && let Some(want) = expect.files
        {
            c = expect_count(c, want, files.len(), "files fetched");
        }
        if let Some(want) = &expect.message
            && !messages.iter().any(|m| m.contains(want.as_str()))
        {
            c = with(
                case(
                    Verdict::Fail,
                    format!("no item carries a message with «{want}»"),
                ),
                Some(format!("a message containing «{want}»")),
                Some(format!("{messages:?}")),
            );
        }
        c.log
            .extend(messages.iter().map(|m| format!("message: {m}")));
        if fetch {
            o.unimported.extend(files.iter().cloned());
            o.last_received = files;
        }
        c
    }

    fn import(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let files: Vec<StoredFile> = o.unimported.drain(..).collect();
        if files.is_empty() {
            return case(Verdict::Fail, "nothing was fetched to import");
        }
        let result = tokio::task::block_in_place(|| o.software.import(&files));
        let report = match software_result(result) {
            Err(kit) => return case(Verdict::Error, kit),
            Ok(Err(refused)) => {
                return judge_error(st, Err(refused))
                    .unwrap_or_else(|| case(Verdict::Fail, "refused"));
            }
            Ok(Ok(r)) => r,
        };
        o.last_imported = files
            .iter()
            .filter(|f| report.imported.contains(&f.name))
            .cloned()
            .collect();
        let mut log = report.journal.clone();
        log.extend(report.warnings.iter().map(|w| format!("warning: {w}")));
        let refused_text: Vec<String> = report
            .refused
            .iter()
            .map(|r| format!("refused {}: {}", r.files.join(", "), r.reason))
            .collect();
        for r in &refused_text {
            if !log.contains(r) {
                log.push(r.clone());
            }
        }
        let expect = st.expect.clone().unwrap_or_default();
        let mut c = match (&expect.refused, report.refused.is_empty()) {
            (Some(want), false) => {
                let named: Vec<&String> = report.refused.iter().flat_map(|r| &r.rules).collect();
                let missing: Vec<&String> = want.iter().filter(|w| !named.contains(w)).collect();
                // A product under test reports refusals in its own words, without the kit's rule IDs.
                let sut = o.software.state().is_none();
                if missing.is_empty() || (sut && named.is_empty()) {
                    case(
                        Verdict::Pass,
                        format!("refused as expected: {}", refused_text.join("; ")),
                    )
                } else {
                    with(
                        case(Verdict::Fail, format!("refused, but without {missing:?}")),
                        Some(format!("refusal naming {want:?}")),
                        Some(refused_text.join("; ")),
                    )
                }
            }
            (Some(want), true) => with(
                case(Verdict::Fail, "imported, but a refusal was expected"),
                Some(format!("refusal naming {want:?}")),
                Some(format!("{} files imported", report.imported.len())),
            ),
            (None, false) => match &expect.error {
                Some(w) if refused_text.iter().any(|r| r.contains(w.as_str())) => case(
                    Verdict::Pass,
                    format!("refused as expected: {}", refused_text.join("; ")),
                ),
                _ => with(
                    case(
                        Verdict::Fail,
                        refused_text.first().cloned().unwrap_or_default(),
                    ),
                    Some("every unit imported".to_owned()),
                    Some(refused_text.join("; ")),
                ),
            },
            (None, true) if expect.error.is_some() => with(
                case(Verdict::Fail, "imported, but an error was expected"),
                expect
                    .error
                    .as_ref()
                    .map(|w| format!("a refusal containing «{w}»")),
                Some(format!("{} files imported", report.imported.len())),
            ),
            (None, true) if !report.warnings.is_empty() => case(
                Verdict::Warn,
                format!(
                    "{} files imported with {} warnings: {}",
                    report.imported.len(),
                    report.warnings.len(),
                    report.warnings[0]
                ),
            ),
            (None, true) => case(
                Verdict::Pass,
                format!("{} files imported", report.imported.len()),
            ),
        };
        c.log = log;
        c
    }

    fn edit(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let Some(kind) = st.kind else {
            return case(Verdict::Error, "edit: no kind");
        };
        let edit = Edit {
            kind,
            user: st.user.clone(),
            matching: st.matching.clone(),
            set: st.set.clone(),
            remove: st.remove,
        };
        match o.software.edit(&edit) {
            None => case(
                Verdict::NotApplicable,
                "the kit cannot change this product's data through command lines: give it the changed data with a load step, or drive it with the folder adapter",
            ),
            Some(r) => match software_result(r) {
                Err(kit) => case(Verdict::Error, kit),
                Ok(r) => judge_error(st, r.clone())
                    .unwrap_or_else(|| case(Verdict::Pass, r.unwrap_or_default())),
            },
        }
    }

    fn record(&mut self, o: &mut OfficeRun, st: &Step) -> CaseOutcome {
        let month = st.month.as_deref().and_then(parse_month);
        let result = tokio::task::block_in_place(|| o.software.record_actuals(month));
        match software_result(result) {
            Err(kit) => case(Verdict::Error, kit),
            Ok(r) => judge_error(st, r.clone())
                .unwrap_or_else(|| case(Verdict::Pass, r.unwrap_or_default())),
        }
    }

    fn assert(&mut self, offices: &[OfficeRun], office: usize, st: &Step) -> Vec<CaseOutcome> {
        let o = &offices[office];
        let mut cases = Vec::new();
        if let Some(h) = &st.holds {
            let mut c = match o.software.state() {
                None => case(
                    Verdict::NotApplicable,
                    "the software's internal state is not visible to the kit (a SUT); judged by round trip instead",
                ),
                Some(state) => {
                    let query = DocQuery {
                        kind: Some(h.kind),
                        user: h.user.clone(),
                        month: h.month.as_deref().map(|m| m.replace('-', "")),
                        partner: h
                            .partner
                            .as_deref()
                            .and_then(|p| index_of(offices, p))
                            .map(|i| offices[i].number.as_str().to_owned()),
                    };
                    let docs = state.find(&query);
                    let records = records_of_type(&docs, h.service_type.as_deref())
                        .into_iter()
                        .filter(|r| {
                            h.matching
                                .iter()
                                .all(|(k, v)| r.get(k).map(String::as_str).unwrap_or("") == v)
                        })
                        .count();
                    let (n, want, unit) = match (h.records, h.documents) {
                        (Some(want), _) => (records, want, "records"),
                        (None, want) => {
                            // Documents of the type and with a matching record (image documents
                            // have no records: only the kind and partner select them).
                            let n = docs
                                .iter()
                                .filter(|d| {
                                    let rs = records_of_type(
                                        std::slice::from_ref(d),
                                        h.service_type.as_deref(),
                                    );
                                    (d.records.is_empty()
                                        && h.service_type.is_none()
                                        && h.matching.is_empty())
                                        || rs.iter().any(|r| {
                                            h.matching.iter().all(|(k, v)| {
                                                r.get(k).map(String::as_str).unwrap_or("") == v
                                            })
                                        })
                                })
                                .count();
                            (n, want.unwrap_or(0), "documents")
                        }
                    };
                    let what = format!(
                        "{want} {unit} of {}{}{}{}{}",
                        h.kind,
                        h.user
                            .as_ref()
                            .map(|u| format!(" for {u}"))
                            .unwrap_or_default(),
                        h.month
                            .as_ref()
                            .map(|m| format!(" in {m}"))
                            .unwrap_or_default(),
                        h.service_type
                            .as_ref()
                            .map(|t| format!(" of type {t}"))
                            .unwrap_or_default(),
                        if h.matching.is_empty() {
                            String::new()
                        } else {
                            format!(" where {:?}", h.matching)
                        }
                    );
                    let mut c = if n == want {
                        case(Verdict::Pass, format!("holds {what}"))
                    } else {
                        with(
                            case(Verdict::Fail, format!("holds {n}, expected {what}")),
                            Some(what),
                            Some(format!("{n} {unit}")),
                        )
                    };
                    c.log = docs.iter().map(|d| d.summary()).collect();
                    c
                }
            };
            c.name = "holds".to_owned();
            cases.push(c);
        }
        if st.round_trip == Some(true) {
            let mut c = round_trip(o);
            c.name = "round trip".to_owned();
            cases.push(c);
        }
        if st.valid.is_some() || st.rules.is_some() {
            let files = if st.of.as_deref() == Some("received") {
                &o.last_received
            } else {
                &o.last_export
            };
            let mut c = validity(files, st.valid, st.rules.as_deref().unwrap_or(&[]));
            c.name = "conformance".to_owned();
            cases.push(c);
        }
        if st.unchanged == Some(true) {
            let mut diffs = Vec::new();
            for f in &o.last_received {
                match o.sent_to_me.get(&f.name) {
                    Some(b) if *b == f.bytes => {}
                    Some(_) => diffs.push(format!("{}: bytes differ", f.name)),
                    None => diffs.push(format!("{}: never sent to this office", f.name)),
                }
            }
            let mut c = if o.last_received.is_empty() {
                case(Verdict::Fail, "nothing was fetched")
            } else if diffs.is_empty() {
                case(
                    Verdict::Pass,
                    format!("{} files delivered byte for byte", o.last_received.len()),
                )
            } else {
                with(
                    case(Verdict::Fail, diffs[0].clone()),
                    Some("the bytes sent".to_owned()),
                    Some(diffs.join("; ")),
                )
            };
            c.name = "byte-for-byte delivery".to_owned();
            cases.push(c);
        }
        cases
    }
}

/// The spec core's verdict on a set of files against what the step expects.
fn validity(files: &[StoredFile], valid: Option<bool>, rules: &[String]) -> CaseOutcome {
    if files.is_empty() {
        return case(Verdict::Fail, "no files to check");
    }
    let checked = crate::check::in_memory(
        files.iter().map(|f| (f.name.as_str(), f.bytes.as_slice())),
        Options::default(),
    );
    let located = checked.located();
    let findings: Vec<String> = located
        .iter()
        .map(|(at, f)| {
            format!(
                "{at} {}[{}] {}",
                f.severity.label(),
                f.rule.id(),
                f.message_en()
            )
        })
        .collect();
    let errors = checked.count(Severity::Error);
    let found: Vec<String> = located
        .iter()
        .map(|(_, f)| f.rule.id().to_owned())
        .collect();
    let missing: Vec<&String> = rules.iter().filter(|r| !found.contains(r)).collect();
    let mut c = if let Some(v) = valid
        && v != (errors == 0)
    {
        with(
            case(
                Verdict::Fail,
                if v {
                    format!("{errors} errors under the spec core")
                } else {
                    "conformant, but errors were expected".to_owned()
                },
            ),
            Some(if v { "no errors" } else { "errors" }.to_owned()),
            Some(format!("{errors} errors")),
        )
    } else if !missing.is_empty() {
        with(
            case(Verdict::Fail, format!("rules not reported: {missing:?}")),
            Some(format!("{rules:?}")),
            Some(format!("{found:?}")),
        )
    } else {
        case(
            Verdict::Pass,
            format!(
                "{} files, {errors} errors{}",
                files.len(),
                if rules.is_empty() {
                    String::new()
                } else {
                    format!(", reported {rules:?}")
                }
            ),
        )
    };
    c.log = findings;
    c
}

/// Import conformance by round trip: the records an office imported of a kind with a round-trip
/// rule (its own records) must come back in its last export, field by field.
fn round_trip(o: &OfficeRun) -> CaseOutcome {
    let own = o.number.as_str();
    let mut imported: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut rule = None;
    for f in &o.last_imported {
        let Ok(t) = careplan_spec::table::Table::read(&f.name, &f.bytes) else {
            continue;
        };
        let (Some(r), Some(cols)) = (
            round_trip_for(t.name.kind),
            rules().provider.get(&t.name.kind),
        ) else {
            continue;
        };
        rule = Some(r);
        let want_type = t
            .name
            .receiver
            .service_type()
            .map(|s| s.as_str().to_owned());
        for rec in &t.records {
            let get = |c: &str| t.value(rec, c).unwrap_or("").to_owned();
            // The office's own records of the addressed type (the 6表 carries every service).
            if get(&cols.office) != own {
                continue;
            }
            if let (Some(w), Some(code)) = (&want_type, &cols.service_code)
                && !get(code).starts_with(w.as_str())
            {
                continue;
            }
            imported.push((
                f.name.clone(),
                r.fields.iter().map(|c| (c.clone(), get(c))).collect(),
            ));
        }
    }
    let Some(rule) = rule else {
        return case(
            Verdict::Fail,
            "the office imported nothing a round trip can be judged on (a 6表 予定)",
        );
    };
    let mut exported: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for f in &o.last_export {
        let Ok(t) = careplan_spec::table::Table::read(&f.name, &f.bytes) else {
            continue;
        };
        if t.name.kind != rule.exported {
            continue;
        }
        for rec in &t.records {
            exported.push((
                f.name.clone(),
                rule.fields
                    .iter()
                    .map(|c| (c.clone(), t.value(rec, c).unwrap_or("").to_owned()))
                    .collect(),
            ));
        }
    }
    if exported.is_empty() {
        return case(
            Verdict::Fail,
            format!("the office's last export holds no {}", rule.exported),
        );
    }
    let diff = compare(&imported, &exported, rule.exported, &rule.pair_by);
    let subject = format!(
        "{} → {} ({own})",
        imported.first().map(|i| i.0.as_str()).unwrap_or(""),
        exported.first().map(|e| e.0.as_str()).unwrap_or("")
    );
    let mut c = if diff.is_empty() {
        case(
            Verdict::Pass,
            format!(
                "{} records carried from {} into {} on {} fields",
                imported.len(),
                rule.imported,
                rule.exported,
                rule.fields.len()
            ),
        )
    } else {
        let n = diff.missing.len() + diff.unexpected.len() + diff.cells.len();
        with(
            case(
                Verdict::Fail,
                format!("the export does not carry what was imported: {n} differences"),
            ),
            Some(format!("{} records as imported", imported.len())),
            Some(format!("{} records exported", exported.len())),
        )
    };
    if !diff.is_empty() {
        c.diff = Some(CsvDiff { subject, ..diff });
    }
    c.refs.push(rule.src.clone());
    c
}

/// Pairs records by their identity fields and compares the rest cell by cell.
fn compare(
    imported: &[(String, BTreeMap<String, String>)],
    exported: &[(String, BTreeMap<String, String>)],
    kind: FileKind,
    pair_by: &[String],
) -> CsvDiff {
    let identity = |r: &BTreeMap<String, String>| -> String {
        pair_by
            .iter()
            .filter_map(|c| r.get(c).map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let view = careplan_spec::layout::view(kind, careplan_spec::version::SpecVersion::V41);
    let mut used = vec![false; exported.len()];
    let mut diff = CsvDiff {
        subject: String::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        cells: Vec::new(),
    };
    for (_, want) in imported {
        let id = identity(want);
        let exact = exported
            .iter()
            .enumerate()
            .position(|(i, (_, r))| !used[i] && r == want);
        let same_id = || {
            exported
                .iter()
                .enumerate()
                .position(|(i, (_, r))| !used[i] && identity(r) == id)
        };
        match exact.or_else(same_id) {
            Some(i) => {
                used[i] = true;
                for (field, v) in want {
                    let got = exported[i].1.get(field).cloned().unwrap_or_default();
                    if &got != v {
                        diff.cells.push(CellDiff {
                            record: i + 1,
                            column: view
                                .and_then(|v| v.col(field))
                                .map(|c| c as u16 + 1)
                                .unwrap_or(0),
                            field: field.clone(),
                            expected: v.clone(),
                            actual: got,
                        });
                    }
                }
            }
            None => diff.missing.push(id),
        }
    }
    for (i, (_, r)) in exported.iter().enumerate() {
        if !used[i] {
            diff.unexpected.push(identity(r));
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair_by() -> Vec<String> {
        [
            "保険者番号",
            "被保険者番号",
            "対象年月",
            "サービス利用日",
            "サービスコード",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn rec(pairs: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
        (
            "f".to_owned(),
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn compare_pairs_by_identity_and_reports_cells() {
        let a = rec(&[
            ("被保険者番号", "1"),
            ("サービス利用日", "20250501"),
            ("サービス開始時刻", "0930"),
        ]);
        let b = rec(&[
            ("被保険者番号", "1"),
            ("サービス利用日", "20250501"),
            ("サービス開始時刻", "1030"),
        ]);
        let c = rec(&[("被保険者番号", "2"), ("サービス利用日", "20250502")]);
        let d = compare(&[a.clone(), c.clone()], &[b], FileKind::UpJsk, &pair_by());
        assert_eq!(d.cells.len(), 1, "{d:?}");
        assert_eq!(d.cells[0].field, "サービス開始時刻");
        assert_eq!(d.cells[0].column, 12);
        assert_eq!(
            (d.cells[0].expected.as_str(), d.cells[0].actual.as_str()),
            ("0930", "1030")
        );
        assert_eq!(d.missing, vec!["2 20250502".to_owned()]);
        assert!(
            compare(
                std::slice::from_ref(&a),
                std::slice::from_ref(&a),
                FileKind::UpJsk,
                &pair_by()
            )
            .is_empty()
        );
    }

    #[test]
    fn relative_licence_dates_resolve_against_today() {
        let today = time::macros::date!(2025 - 05 - 27);
        assert_eq!(resolve_until("+30d", today).as_deref(), Some("2025-06-26"));
        assert_eq!(resolve_until("-1d", today).as_deref(), Some("2025-05-26"));
        assert_eq!(
            resolve_until("2027-03-31", today).as_deref(),
            Some("2027-03-31")
        );
        assert_eq!(resolve_until("soon", today), None);
    }
}
