//! The interop matrix: the files played into every simulated product (the personas of
//! `harness/src/software/persona.rs`) and, when given, the system under test — one row per product,
//! one cell per send unit, each cell saying what the product would do with the unit:
//!
//! * **send** — the exchange's answer when an office running the product sends the unit (its
//!   client version against the mock exchange's rules, [`super::super::hub_check`]);
//! * **import** — the product as the unit's receiver: imported, imported with warnings, or refused
//!   and why (all units for one receiver are imported together, in 連番 order, as products do);
//! * follow-ups: for a 6表/7表 unit, whether the provider can **answer** with 実績 after importing
//!   it; for a 実績 unit, whether the provider's product could have **written** it from the plans in
//!   the folder (the ほのぼの rule); for a 6表 unit to an office with two services in its records, a
//!   **collision** probe — a 差し替え of one service imported after the other service's 実績 were
//!   recorded — showing whether those 実績 survive (personas only: it reads their state).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use careplan_spec::convert::serial_plus_seconds;
use careplan_spec::filename::MonthSegment;
use careplan_spec::table::{self, Table, WriteOptions};
use careplan_spec::units;
use careplan_spec::{FileKind, FileName, Month, OfficeNumber, Serial, ServiceTypeCode};
use serde::Serialize;

use super::super::hub_check::{HubCheck, destination};
use super::super::inputs::{Input, Validated};
use crate::runner::SutConfig;
use crate::software::command::CommandSut;
use crate::software::operator::{Channel, OperatorConfig, OperatorSut};
use crate::software::persona::Persona;
use crate::software::rules::rules;
use crate::software::state::{DocQuery, records_of_type};
use crate::software::{ExportRequest, PersonaSoftware, Software, StoredFile};

/// What a product does with a unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Ok,
    Warn,
    Refused,
    /// Data held before is gone (the collision probe).
    Lost,
    NotApplicable,
    /// The product (or its adapter) failed.
    Failed,
}

impl Verdict {
    pub fn label(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Warn => "warn",
            Self::Refused => "REFUSED",
            Self::Lost => "LOST",
            Self::NotApplicable => "-",
            Self::Failed => "FAILED",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    pub verdict: Verdict,
    pub text: String,
    /// Rule IDs (import refusals) or the exchange's code (send).
    pub rules: Vec<String>,
}

impl Outcome {
    fn ok(text: impl Into<String>) -> Self {
        Self {
            verdict: Verdict::Ok,
            text: text.into(),
            rules: Vec::new(),
        }
    }
    fn of(verdict: Verdict, text: impl Into<String>, rules: Vec<String>) -> Self {
        Self {
            verdict,
            text: text.into(),
            rules,
        }
    }
    fn na(text: impl Into<String>) -> Self {
        Self::of(Verdict::NotApplicable, text, Vec::new())
    }
}

/// One send unit of the files.
#[derive(Debug, Clone, Serialize)]
pub struct UnitColumn {
    pub serial: String,
    pub sender: String,
    pub sender_type: Option<String>,
    pub receiver: String,
    pub receiver_type: Option<String>,
    /// The unit definition matched (`kyotaku-riyohyo` …), if any.
    pub unit: Option<String>,
    pub unit_no: Option<String>,
    pub month: Option<String>,
    pub files: Vec<String>,
    /// Indices of the files in the inputs.
    #[serde(skip)]
    pub inputs: Vec<usize>,
}

impl UnitColumn {
    pub fn label(&self) -> String {
        let party = |o: &str, t: &Option<String>| match t {
            Some(t) => format!("{o}({t})"),
            None => o.to_owned(),
        };
        format!(
            "{} {} → {} 連番 {}{}",
            self.unit_no.as_deref().unwrap_or("(no unit)"),
            party(&self.sender, &self.sender_type),
            party(&self.receiver, &self.receiver_type),
            self.serial,
            self.month
                .as_deref()
                .map(|m| format!(" {m}"))
                .unwrap_or_default()
        )
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Follow {
    /// `answer`, `write` or `collision`.
    pub what: &'static str,
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub send: Outcome,
    pub import: Outcome,
    pub follow: Vec<Follow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// `persona NAME` or `sut NAME`.
    pub software: String,
    /// The receiver the engineer named (`--receiver`, `--sut`).
    pub chosen: bool,
    pub reads: String,
    pub client: String,
    pub cells: Vec<Cell>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Matrix {
    pub units: Vec<UnitColumn>,
    pub rows: Vec<Row>,
}

impl Matrix {
    /// The row of the chosen receiver, if one was named.
    pub fn chosen(&self) -> Option<&Row> {
        self.rows.iter().find(|r| r.chosen)
    }
}

/// A product to play.
#[derive(Clone)]
pub enum Product {
    Persona(Persona),
    Sut(Box<SutConfig>),
}

/// The send units of the files, in the spec core's order (per receiver, by 連番).
pub fn columns(inputs: &[Input], validated: &Validated) -> Vec<UnitColumn> {
    validated
        .units
        .iter()
        .filter(|u| !u.files.is_empty())
        .map(|u| {
            let names: Vec<FileName> = u
                .files
                .iter()
                .filter_map(|&i| FileName::parse(&inputs[i].name).ok())
                .collect();
            let first = names.first();
            UnitColumn {
                serial: u.serial.to_string(),
                sender: u.sender.to_string(),
                sender_type: first
                    .and_then(|n| n.sender.service_type())
                    .map(|t| t.to_string()),
                receiver: u.receiver.to_string(),
                receiver_type: first
                    .and_then(|n| n.receiver.service_type())
                    .map(|t| t.to_string()),
                unit: u.unit.map(str::to_owned),
                unit_no: u.unit_no.map(str::to_owned),
                month: names.iter().find_map(|n| match n.month {
                    Some(MonthSegment::Month(m)) => Some(m.to_string()),
                    _ => None,
                }),
                files: u.files.iter().map(|&i| inputs[i].name.clone()).collect(),
                inputs: u.files.clone(),
            }
        })
        .collect()
}

fn stored(inputs: &[Input], idx: &[usize]) -> Vec<StoredFile> {
    idx.iter()
        .map(|&i| StoredFile {
            name: inputs[i].name.clone(),
            bytes: inputs[i].bytes.clone(),
        })
        .collect()
}

/// The service type an office's software runs as: from V4 names, else from the records that name
/// it as provider, else 43 for a care manager.
pub fn own_type(office: &str, cols: &[UnitColumn], inputs: &[Input]) -> ServiceTypeCode {
    let named = cols.iter().find_map(|c| {
        if c.sender == office {
            c.sender_type.clone()
        } else if c.receiver == office {
            c.receiver_type.clone()
        } else {
            None
        }
    });
    let from_records = || {
        let p = rules().provider.get(&FileKind::UpPlan)?;
        let code_col = p.service_code.as_ref()?;
        inputs.iter().find_map(|f| {
            let t = Table::read(&f.name, &f.bytes).ok()?;
            if t.name.kind != FileKind::UpPlan {
                return None;
            }
            t.records.iter().find_map(|r| {
                (t.value(r, &p.office) == Some(office))
                    .then(|| {
                        t.value(r, code_col)
                            .and_then(|c| c.get(..2))
                            .map(str::to_owned)
                    })
                    .flatten()
            })
        })
    };
    named
        .or_else(from_records)
        .and_then(|t| ServiceTypeCode::parse(&t))
        .or_else(|| ServiceTypeCode::parse("43"))
        .expect("43 is a service type")
}

/// Makes a fresh instance of a product at an office.
fn instance(
    product: &Product,
    office: &str,
    own: &ServiceTypeCode,
    work: &Path,
    n: &mut usize,
) -> Result<Box<dyn Software>, String> {
    let number =
        OfficeNumber::parse(office).ok_or_else(|| format!("{office} is no office number"))?;
    match product {
        Product::Persona(p) => Ok(Box::new(PersonaSoftware::new(p.clone(), &number, own))),
        Product::Sut(sut) => {
            *n += 1;
            let dir = work.join(format!("sut-{office}-{n:03}"));
            match sut.adapter.as_str() {
                "command" => {
                    let command = sut
                        .command
                        .clone()
                        .ok_or("the SUT configuration has no [command] table")?;
                    CommandSut::new(&sut.name, command, office, own.as_str(), dir)
                        .map(|s| Box::new(s) as Box<dyn Software>)
                        .map_err(|e| e.to_string())
                }
                "folder" => {
                    let config = sut.folder.clone().unwrap_or(OperatorConfig {
                        dir: None,
                        timeout_seconds: 900,
                        client_version: "1.2.0".to_owned(),
                    });
                    OperatorSut::new(
                        &sut.name,
                        config,
                        office,
                        own.as_str(),
                        dir,
                        Channel::Folder,
                    )
                    .map(|s| Box::new(s) as Box<dyn Software>)
                    .map_err(|e| e.to_string())
                }
                other => Err(format!(
                    "cpkit diagnose plays command and folder SUTs, not {other:?} (use cpkit run for the exchange adapter)"
                )),
            }
        }
    }
}

fn label(product: &Product) -> (String, String, String) {
    match product {
        Product::Persona(p) => (
            format!("persona {}", p.name),
            p.reads
                .iter()
                .map(|v| v.label())
                .collect::<Vec<_>>()
                .join(","),
            p.client_version.to_owned(),
        ),
        Product::Sut(s) => (
            format!("sut {}", s.name),
            "?".to_owned(),
            s.command
                .as_ref()
                .map(|c| c.client_version.clone())
                .or_else(|| s.folder.as_ref().map(|f| f.client_version.clone()))
                .unwrap_or_else(|| "1.2.0".to_owned()),
        ),
    }
}

fn export_request(
    unit: &str,
    to: &str,
    to_type: &Option<String>,
    as_type: &Option<String>,
    month: &Option<String>,
    serial: &str,
) -> Option<ExportRequest> {
    let serial = Serial::parse(serial)?;
    Some(ExportRequest {
        unit: unit.to_owned(),
        to: OfficeNumber::parse(to)?,
        to_type: to_type.as_deref().and_then(ServiceTypeCode::parse),
        as_type: as_type.as_deref().and_then(ServiceTypeCode::parse),
        month: month.as_deref().and_then(Month::parse),
        serial: serial_plus_seconds(&serial, 3600),
        today: serial.as_str()[..8].to_owned(),
    })
}

/// Plays the files into every product.
pub fn build(
    inputs: &[Input],
    cols: Vec<UnitColumn>,
    products: &[(Product, bool)],
    hub: Option<&HubCheck>,
    work: &Path,
) -> Matrix {
    let mut rows = Vec::new();
    let mut n = 0;
    for (product, chosen) in products {
        let (software, reads, client) = label(product);
        let mut cells: Vec<Cell> = cols
            .iter()
            .map(|c| Cell {
                send: match hub {
                    Some(h) => send_outcome(h, c, inputs, &client),
                    None => Outcome::na("no exchange check"),
                },
                import: Outcome::na("not imported"),
                follow: Vec::new(),
            })
            .collect();
        let receivers: BTreeSet<&str> = cols.iter().map(|c| c.receiver.as_str()).collect();
        for r in receivers {
            let own = own_type(r, &cols, inputs);
            let mut sw = match instance(product, r, &own, work, &mut n) {
                Ok(s) => s,
                Err(e) => {
                    for (c, cell) in cols.iter().zip(&mut cells) {
                        if c.receiver == r {
                            cell.import = Outcome::of(Verdict::Failed, e.clone(), Vec::new());
                        }
                    }
                    continue;
                }
            };
            let mine: Vec<usize> = (0..cols.len()).filter(|&i| cols[i].receiver == r).collect();
            let idx: Vec<usize> = mine.iter().flat_map(|&i| cols[i].inputs.clone()).collect();
            let files = stored(inputs, &idx);
            match sw.import(&files) {
                Err(e) => {
                    for &i in &mine {
                        cells[i].import = Outcome::of(Verdict::Failed, e.to_string(), Vec::new());
                    }
                }
                Ok(report) => {
                    for &i in &mine {
                        let c = &cols[i];
                        let refusal = report
                            .refused
                            .iter()
                            .find(|f| f.files.iter().any(|x| c.files.contains(x)));
                        cells[i].import = if let Some(f) = refusal {
                            Outcome::of(Verdict::Refused, f.reason.clone(), f.rules.clone())
                        } else if c.files.iter().all(|x| report.imported.contains(x)) {
                            let warned: Vec<&String> = report
                                .warnings
                                .iter()
                                .filter(|w| c.files.iter().any(|x| w.contains(x.as_str())))
                                .collect();
                            if warned.is_empty() {
                                Outcome::ok("imported")
                            } else {
                                let rules: BTreeSet<String> =
                                    warned.iter().filter_map(|w| rule_in(w)).collect();
                                Outcome::of(
                                    Verdict::Warn,
                                    format!("imported with {} warnings", warned.len()),
                                    rules.into_iter().collect(),
                                )
                            }
                        } else {
                            Outcome::na("not imported")
                        };
                    }
                    // The provider answers each 6表 unit it imported with 実績.
                    for &i in &mine {
                        let c = &cols[i];
                        if c.unit.as_deref() != Some("kyotaku-riyohyo")
                            || !matches!(cells[i].import.verdict, Verdict::Ok | Verdict::Warn)
                        {
                            continue;
                        }
                        let outcome = answer(sw.as_mut(), c);
                        cells[i].follow.push(Follow {
                            what: "answer",
                            outcome,
                        });
                    }
                }
            }
        }
        for (i, c) in cols.iter().enumerate() {
            if c.unit.as_deref() == Some("actuals") {
                let outcome = write_actuals(product, c, &cols, inputs, work, &mut n);
                cells[i].follow.push(Follow {
                    what: "write",
                    outcome,
                });
            }
            if let Product::Persona(p) = product
                && let Some(outcome) = collision_probe(p, c, inputs)
            {
                cells[i].follow.push(Follow {
                    what: "collision",
                    outcome,
                });
            }
        }
        rows.push(Row {
            software,
            chosen: *chosen,
            reads,
            client,
            cells,
        });
    }
    Matrix { units: cols, rows }
}

/// The first rule ID in a `FILE:LINE:COLUMN: RULE message` line.
fn rule_in(line: &str) -> Option<String> {
    line.split_whitespace()
        .find(|w| careplan_spec::RuleId::from_id(w).is_some())
        .map(str::to_owned)
}

fn send_outcome(hub: &HubCheck, c: &UnitColumn, inputs: &[Input], client: &str) -> Outcome {
    let Some(name) = c.files.first().and_then(|n| FileName::parse(n).ok()) else {
        return Outcome::na("no file of the standard");
    };
    let files: Vec<(&str, &[u8])> = c
        .inputs
        .iter()
        .map(|&i| (inputs[i].name.as_str(), inputs[i].bytes.as_slice()))
        .collect();
    match hub.check(&c.sender, destination(&name), client, &files) {
        Ok(()) => Outcome::ok("accepted"),
        Err(e) => Outcome::of(
            Verdict::Refused,
            format!("{}: {} / {}", e.code.as_str(), e.message_ja, e.message_en),
            vec![e.code.as_str().to_owned()],
        ),
    }
}

/// Exports the 実績 unit of a unit's month for `to` (the files' names, or the product's refusal).
fn export_actuals(
    sw: &mut dyn Software,
    c: &UnitColumn,
    to: (&str, &Option<String>),
    as_type: &Option<String>,
) -> Option<Result<Vec<String>, String>> {
    let req = export_request("actuals", to.0, to.1, as_type, &c.month, &c.serial)?;
    Some(
        sw.export(&req)
            .map(|files| files.into_iter().map(|f| f.name).collect())
            .map_err(|e| e.to_string()),
    )
}

fn answer(sw: &mut dyn Software, c: &UnitColumn) -> Outcome {
    let month = c.month.as_deref().and_then(Month::parse);
    if let Err(e) = sw.record_actuals(month) {
        return Outcome::of(Verdict::Refused, e.to_string(), Vec::new());
    }
    match export_actuals(sw, c, (&c.sender, &c.sender_type), &c.receiver_type) {
        None => Outcome::na("no export request for this unit"),
        Some(Ok(files)) => Outcome::ok(format!(
            "answers with {} 実績 file(s): {}",
            files.len(),
            files.join(", ")
        )),
        Some(Err(e)) => Outcome::of(Verdict::Refused, e, Vec::new()),
    }
}

/// Could the product at the 実績's sender have written them from what it received in the folder?
fn write_actuals(
    product: &Product,
    c: &UnitColumn,
    cols: &[UnitColumn],
    inputs: &[Input],
    work: &Path,
    n: &mut usize,
) -> Outcome {
    let own = own_type(&c.sender, cols, inputs);
    let mut sw = match instance(product, &c.sender, &own, work, n) {
        Ok(s) => s,
        Err(e) => return Outcome::of(Verdict::Failed, e, Vec::new()),
    };
    // The plans this provider received from this care manager, imported as received.
    let plans: Vec<usize> = cols
        .iter()
        .filter(|p| {
            p.unit.as_deref() == Some("kyotaku-riyohyo")
                && p.receiver == c.sender
                && p.sender == c.receiver
        })
        .flat_map(|p| p.inputs.clone())
        .collect();
    let received = if plans.is_empty() {
        "no 予定 received by CSV in these files".to_owned()
    } else {
        match sw.import(&stored(inputs, &plans)) {
            Ok(r) if r.refused.is_empty() => format!("{} 予定 files imported", r.imported.len()),
            Ok(r) => format!("予定 refused: {}", r.refused[0].reason),
            Err(e) => format!("予定 not imported: {e}"),
        }
    };
    // The 実績 as the provider entered them, then recorded from the plans where it can.
    if let Err(e) = sw.load(&stored(inputs, &c.inputs)) {
        return Outcome::of(
            Verdict::Failed,
            format!("loading the 実績 failed: {e}"),
            Vec::new(),
        );
    }
    let recorded = match sw.record_actuals(c.month.as_deref().and_then(Month::parse)) {
        Ok(m) => m,
        Err(e) => e.to_string(),
    };
    match export_actuals(
        sw.as_mut(),
        c,
        (&c.receiver, &c.receiver_type),
        &c.sender_type,
    ) {
        None => Outcome::na("no export request for this unit"),
        Some(Ok(files)) => Outcome::ok(format!(
            "can write them ({received}; {} file(s))",
            files.len()
        )),
        Some(Err(e)) => Outcome::of(
            Verdict::Refused,
            format!("cannot write them: {e} ({received}; {recorded})"),
            Vec::new(),
        ),
    }
}

/// For a 6表 unit to an office with two services for one user: after the 実績 of service B are
/// recorded, a 差し替え that drops one record of service A arrives — are B's 実績 still there?
fn collision_probe(persona: &Persona, c: &UnitColumn, inputs: &[Input]) -> Option<Outcome> {
    if c.unit.as_deref() != Some("kyotaku-riyohyo") {
        return None;
    }
    let p = rules().provider.get(&FileKind::UpPlan)?;
    let code_col = p.service_code.as_ref()?;
    let plan_idx = *c
        .inputs
        .iter()
        .find(|&&i| FileName::parse(&inputs[i].name).is_ok_and(|n| n.kind == FileKind::UpPlan))?;
    let plan = Table::read(&inputs[plan_idx].name, &inputs[plan_idx].bytes).ok()?;
    let key_cols = units::key_columns(FileKind::UpPlan.prefix());
    let user_of = |r: &[String]| -> Option<String> {
        Some(format!(
            "{}/{}",
            plan.value(r, key_cols.first()?)?,
            plan.value(r, key_cols.get(1)?)?
        ))
    };
    // Per user: the service types of this office's records, and their record positions.
    let mut by_user: std::collections::BTreeMap<
        String,
        std::collections::BTreeMap<String, Vec<usize>>,
    > = Default::default();
    for (i, r) in plan.records.iter().enumerate() {
        if plan.value(r, &p.office) != Some(c.receiver.as_str()) {
            continue;
        }
        let Some(t) = plan.value(r, code_col).and_then(|x| x.get(..2)) else {
            continue;
        };
        let Some(u) = user_of(r) else { continue };
        by_user
            .entry(u)
            .or_default()
            .entry(t.to_owned())
            .or_default()
            .push(i);
    }
    let (user, types) = by_user
        .into_iter()
        .find(|(_, t)| t.len() >= 2 && t.values().any(|v| v.len() >= 2))?;
    let (changed, rows) = types.iter().rev().find(|(_, v)| v.len() >= 2)?;
    let kept = types.keys().find(|t| *t != changed)?.clone();
    let month = c.month.clone()?;

    let number = OfficeNumber::parse(&c.receiver)?;
    let own = ServiceTypeCode::parse(&kept)?;
    let mut sw = PersonaSoftware::new(persona.clone(), &number, &own);
    let first = sw.import(&stored(inputs, &c.inputs)).ok()?;
    if !first.refused.is_empty() {
        return Some(Outcome::na("the plan itself is refused"));
    }
    sw.record_actuals(Month::parse(&month)).ok()?;
    let count = |sw: &PersonaSoftware| {
        let q = DocQuery {
            kind: Some(FileKind::UpJsk),
            user: Some(user.clone()),
            month: Some(month.clone()),
            partner: None,
        };
        let docs = sw.state.find(&q);
        records_of_type(&docs, Some(&kept)).len()
    };
    let before = count(&sw);
    // The 差し替え: the same unit one minute later, without the last record of the changed service.
    let drop = *rows.last()?;
    let mut records = plan.records.clone();
    records.remove(drop);
    let mut changed_files = Vec::new();
    for &i in &c.inputs {
        let mut name = FileName::parse(&inputs[i].name).ok()?;
        name.serial = serial_plus_seconds(&name.serial, 60);
        let bytes = if i == plan_idx {
            table::write(
                &inputs[i].name,
                plan.view,
                plan.view,
                &records,
                &WriteOptions {
                    csv_version: plan.records.first().map(|r| r[0].clone()),
                    ..WriteOptions::default()
                },
            )
            .ok()?
        } else {
            inputs[i].bytes.clone()
        };
        changed_files.push(StoredFile {
            name: name.to_string(),
            bytes,
        });
    }
    let second = sw.import(&changed_files).ok()?;
    if let Some(r) = second.refused.first() {
        return Some(Outcome::na(format!(
            "the 差し替え is refused: {}",
            r.reason
        )));
    }
    let after = count(&sw);
    Some(if after < before {
        Outcome::of(
            Verdict::Lost,
            format!(
                "a 差し替え of service {changed} for user {user} discards the {before} 実績 of service {kept} recorded before ({after} left)"
            ),
            Vec::new(),
        )
    } else {
        Outcome::ok(format!(
            "a 差し替え of service {changed} for user {user} keeps the {before} 実績 of service {kept}"
        ))
    })
}

/// A fresh work folder for SUT adapters, removed when dropped.
pub struct WorkDir(pub PathBuf);

impl WorkDir {
    pub fn new() -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cpkit-diagnose-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
