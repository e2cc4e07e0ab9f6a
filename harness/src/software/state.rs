//! The in-memory care-software state a simulated product imports into and exports from, so that
//! "what was kept, replaced or lost" is observable by the scenario's assertions.
//!
//! A state is a set of [`Doc`]s: the records of one kind for one user key (the send-unit key
//! columns of `spec/data/send_units.toml`), one partner office and — when the product keys that
//! finely — one service type of the service office. The policy (which versions a product reads
//! and writes, how it keys, how it quotes …) is the [`Persona`]'s; this module does the mechanics.

use std::collections::{BTreeMap, BTreeSet};

use careplan_spec::filename::{MonthSegment, Party};
use careplan_spec::kind::Sender;
use careplan_spec::table::{self, Table, WriteOptions};
use careplan_spec::units::{self, HosokuRule};
use careplan_spec::validate::Options;
use careplan_spec::version::SpecVersion;
use careplan_spec::{FileKind, FileName, Month, OfficeNumber, Serial, ServiceTypeCode, Severity};
use serde::{Deserialize, Serialize};

use super::persona::{Defect, Keying, Persona};
use super::rules::rules;
use super::{ExportRequest, ImportReport, Refusal, SoftwareError, StoredFile};

/// One record: column name → value (empty values left out).
pub type Record = BTreeMap<String, String>;

/// Where a document came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "how")]
pub enum Source {
    /// The office's own data, entered in the product (a `load` step).
    Entered,
    /// Imported from a received file.
    Csv { file: String, serial: String },
    /// Actuals recorded from an imported plan (`record-actuals`).
    Recorded,
}

/// The identity of a document in a product.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DocKey {
    pub kind: FileKind,
    /// Values of the kind's key columns.
    pub key: Vec<String>,
    /// The other office of the exchange (the destination of one's own files, the sender of
    /// received ones).
    pub partner: String,
    /// The service office's service type, when the product keys by it.
    pub service_type: Option<String>,
}

/// One document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub id: DocKey,
    pub records: Vec<Record>,
    /// The 利用者基本情報 family JPEG (its 枝番 and bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<(String, Vec<u8>)>,
    pub source: Source,
    /// When the product first held it: files are written in this order, as a product lists its
    /// users (set by [`CareState::insert`]).
    #[serde(default)]
    pub order: u64,
}

/// A product's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CareState {
    /// The product's own office number.
    pub office: String,
    /// Its own service type (43 居宅介護支援, 15 通所介護 …) as written in V4 names.
    pub service_type: String,
    /// Kept as a list in JSON (`cpkit persona --state`), whose keys must be strings.
    #[serde(with = "docs_as_list")]
    pub docs: BTreeMap<DocKey, Doc>,
    /// What happened, in order (imports, replacements, refusals), for the report.
    pub journal: Vec<String>,
}

mod docs_as_list {
    use super::{Doc, DocKey};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub fn serialize<S: Serializer>(docs: &BTreeMap<DocKey, Doc>, s: S) -> Result<S::Ok, S::Error> {
        docs.values().collect::<Vec<_>>().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<DocKey, Doc>, D::Error> {
        Ok(Vec::<Doc>::deserialize(d)?
            .into_iter()
            .map(|doc| (doc.id.clone(), doc))
            .collect())
    }
}

/// The key-column set name of a kind in `send_units.toml`.
fn key_set(kind: FileKind, month: Option<MonthSegment>) -> String {
    match (kind, month) {
        (FileKind::UpHosoku, Some(MonthSegment::Zero)) => "UPHOSOKU_PLAN".to_owned(),
        (FileKind::UpHosoku, _) => "UPHOSOKU_MONTH".to_owned(),
        (k, _) => k.prefix().to_owned(),
    }
}

fn key_of(kind: FileKind, month: Option<MonthSegment>, record: &Record) -> Vec<String> {
    units::key_columns(&key_set(kind, month))
        .iter()
        .map(|c| record.get(c).cloned().unwrap_or_default())
        .collect()
}

/// The service office and type of one record, where its kind names them.
/// A planned record as the service office records it in its 実績: the columns that carry another
/// column's office in a 実績 (更新業者コード = the record's サービス事業者コード, L4 L482) take that
/// value; the spec core's `data/office_columns.toml` says which.
fn as_actual(plan: &Record) -> Record {
    let mut actual = plan.clone();
    for row in careplan_spec::checks::offices::data() {
        if !row.kinds.contains(&FileKind::UpJsk) {
            continue;
        }
        if let Some(source) = row.is.strip_prefix("column:")
            && let Some(value) = plan.get(source)
            && actual.contains_key(&row.column)
        {
            actual.insert(row.column.clone(), value.clone());
        }
    }
    actual
}

fn record_provider(kind: FileKind, record: &Record) -> Option<(String, Option<String>)> {
    let cols = rules().provider.get(&kind)?;
    let office = record.get(&cols.office).cloned().unwrap_or_default();
    let stype = match (&cols.service_code, &cols.service_type) {
        (Some(c), _) => record
            .get(c)
            .and_then(|code| code.get(..2))
            .map(str::to_owned),
        (_, Some(t)) => record.get(t).cloned(),
        _ => None,
    };
    Some((office, stype))
}

/// The column of 利用者基本情報 that names its family-composition image (format `image_name`).
fn image_column() -> Option<&'static str> {
    careplan_spec::layout::view(FileKind::UpKihon, SpecVersion::V41)?
        .columns
        .iter()
        .find(|c| *c.format() == careplan_spec::layout::Format::ImageName)
        .map(|c| c.name())
}

/// The image file names a document's records name.
fn images_named(d: &Doc) -> BTreeSet<String> {
    let Some(col) = image_column() else {
        return BTreeSet::new();
    };
    d.records
        .iter()
        .filter_map(|r| r.get(col).cloned())
        .collect()
}

/// Whether a 7表 subtotal or total row (…AAAA / EEEE / ZZZZ, 999999: the spec core's codes).
fn is_summary(kind: FileKind, record: &Record) -> bool {
    rules()
        .provider
        .get(&kind)
        .and_then(|c| c.service_code.as_ref())
        .and_then(|c| record.get(c))
        .is_some_and(|code| careplan_spec::codes::is_summary_code(code))
}

fn to_records(t: &Table) -> Vec<Record> {
    let keys = table::column_keys(t.view);
    t.records
        .iter()
        .map(|values| {
            keys.iter()
                .zip(values)
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

/// Which side of a name is the service office (the other is the care manager).
fn service_side(name: &FileName) -> &Party {
    match name.kind.info().sender {
        Sender::ServiceOffice => &name.sender,
        _ => &name.receiver,
    }
}

fn other_side<'a>(name: &'a FileName, own: &str) -> &'a Party {
    if name.sender.office.as_str() == own {
        &name.receiver
    } else {
        &name.sender
    }
}

/// A parsed received or loaded file.
enum Parsed {
    Table(Table),
    Image(FileName, Vec<u8>),
}

fn parse(file: &StoredFile) -> Result<Parsed, String> {
    let name = FileName::parse(&file.name).map_err(|e| e.to_string())?;
    if name.kind.is_image() {
        return Ok(Parsed::Image(name, file.bytes.clone()));
    }
    Table::read(&file.name, &file.bytes)
        .map(Parsed::Table)
        .map_err(|e| e.to_string())
}

impl CareState {
    pub fn new(office: &OfficeNumber, service_type: &ServiceTypeCode) -> Self {
        Self {
            office: office.as_str().to_owned(),
            service_type: service_type.as_str().to_owned(),
            ..Self::default()
        }
    }

    /// Stores a document, keeping the position of one it replaces.
    fn insert(&mut self, mut doc: Doc) {
        doc.order = match self.docs.get(&doc.id) {
            Some(old) => old.order,
            None => self.docs.values().map(|d| d.order + 1).max().unwrap_or(0),
        };
        self.docs.insert(doc.id.clone(), doc);
    }

    /// Whether this office is on the service-office side of a name.
    fn is_service_side(&self, name: &FileName) -> bool {
        service_side(name).office.as_str() == self.office
    }

    /// Splits a table's records into documents as `persona` keys them, from this office's point of
    /// view. A service office keeps only its own records of kinds that name a provider.
    fn docs_of(&self, t: &Table, persona: &Persona, source: &Source, own_data: bool) -> Vec<Doc> {
        let partner = other_side(&t.name, &self.office).office.as_str().to_owned();
        let name_type = service_side(&t.name)
            .service_type()
            .map(|s| s.as_str().to_owned());
        // Own data is kept whole (a care manager holds every service of the user); received data
        // at a service office is filtered to the office's own records.
        let own_side = !own_data && self.is_service_side(&t.name);
        let mut grouped: BTreeMap<(Vec<String>, Option<String>), Vec<Record>> = BTreeMap::new();
        let mut order: Vec<(Vec<String>, Option<String>)> = Vec::new();
        for record in to_records(t) {
            let provider = record_provider(t.name.kind, &record);
            // The service type this record belongs to, as the product sees it.
            let stype = match persona.keying {
                Keying::OfficeOnly => None,
                Keying::OfficeAndServiceType if own_data => name_type.clone(),
                Keying::OfficeAndServiceType => name_type.clone().or_else(|| {
                    // V3 names carry no type: take it from the records (own ones, or the sender's).
                    provider.as_ref().and_then(|(_, t)| t.clone())
                }),
            };
            if own_side && let Some((office, rtype)) = &provider {
                // Keep the records of this office (and of the type the name addresses).
                if office != &self.office {
                    continue;
                }
                if persona.keying == Keying::OfficeAndServiceType
                    && let (Some(want), Some(have)) = (&name_type, rtype)
                    && t.name.kind != FileKind::DltJsk
                    && want != have
                {
                    continue;
                }
            }
            let k = (key_of(t.name.kind, t.name.month, &record), stype);
            if !grouped.contains_key(&k) {
                order.push(k.clone());
            }
            grouped.entry(k).or_default().push(record);
        }
        order
            .into_iter()
            .map(|k| {
                let records = grouped.remove(&k).unwrap_or_default();
                Doc {
                    id: DocKey {
                        kind: t.name.kind,
                        key: k.0,
                        partner: partner.clone(),
                        service_type: k.1,
                    },
                    records,
                    image: None,
                    source: source.clone(),
                    order: 0,
                }
            })
            .collect()
    }

    fn image_doc(&self, name: &FileName, bytes: Vec<u8>, persona: &Persona, source: Source) -> Doc {
        let stype = match persona.keying {
            Keying::OfficeOnly => None,
            Keying::OfficeAndServiceType => service_side(name)
                .service_type()
                .map(|s| s.as_str().to_owned()),
        };
        Doc {
            id: DocKey {
                kind: name.kind,
                // The 利用者基本情報 that names the image (No.62) names it by its file name.
                key: vec![name.to_string()],
                partner: other_side(name, &self.office).office.as_str().to_owned(),
                service_type: stype,
            },
            records: Vec::new(),
            image: Some((name.branch.clone().unwrap_or_default(), bytes)),
            source,
            order: 0,
        }
    }

    /// The office's own data, as if entered in the product: every file becomes documents.
    pub fn load(
        &mut self,
        files: &[StoredFile],
        persona: &Persona,
    ) -> Result<usize, SoftwareError> {
        let mut n = 0;
        for f in files {
            let parsed = parse(f).map_err(|e| SoftwareError::Failed(format!("fixture {e}")))?;
            let docs = match parsed {
                Parsed::Table(t) => {
                    if t.name.sender.office.as_str() != self.office
                        && t.name.receiver.office.as_str() != self.office
                    {
                        return Err(SoftwareError::Failed(format!(
                            "fixture {}: neither its sender nor its receiver is office {}",
                            f.name, self.office
                        )));
                    }
                    self.docs_of(&t, persona, &Source::Entered, true)
                }
                Parsed::Image(name, bytes) => {
                    vec![self.image_doc(&name, bytes, persona, Source::Entered)]
                }
            };
            for d in docs {
                n += 1;
                self.insert(d);
            }
        }
        self.journal
            .push(format!("loaded {} files as {n} documents", files.len()));
        Ok(n)
    }

    /// Imports received files, one send unit at a time in 連番 order (S4 §2.5). A unit the product
    /// cannot read, or with errors under the spec core, is refused whole and changes nothing.
    pub fn import(&mut self, files: &[StoredFile], persona: &Persona) -> ImportReport {
        let mut report = ImportReport::default();
        let mut by_unit: BTreeMap<(String, String, String), Vec<&StoredFile>> = BTreeMap::new();
        for f in files {
            match FileName::parse(&f.name) {
                Ok(n) => by_unit
                    .entry((
                        n.serial.as_str().to_owned(),
                        n.sender.office.as_str().to_owned(),
                        n.receiver.office.as_str().to_owned(),
                    ))
                    .or_default()
                    .push(f),
                // Attachments (PDF, images, text) are kept as files, not imported (seed 000:
                // 「基本的には介護ソフトへの取り込みはできません」).
                Err(_) => self.journal.push(format!(
                    "{}: an attachment, kept as a file (not imported)",
                    f.name
                )),
            }
        }
        for ((serial, _, _), unit) in by_unit {
            match self.import_unit(&unit, &serial, persona) {
                Ok(warnings) => {
                    report.imported.extend(unit.iter().map(|f| f.name.clone()));
                    report.warnings.extend(warnings);
                }
                Err(r) => {
                    self.journal
                        .push(format!("refused {}: {}", r.files.join(", "), r.reason));
                    report.refused.push(r);
                }
            }
        }
        report.journal = self.journal.clone();
        report
    }

    fn import_unit(
        &mut self,
        unit: &[&StoredFile],
        serial: &str,
        persona: &Persona,
    ) -> Result<Vec<String>, Refusal> {
        let names: Vec<String> = unit.iter().map(|f| f.name.clone()).collect();
        let refuse = |reason: String, rules: Vec<String>| Refusal {
            files: names.clone(),
            reason,
            rules,
        };
        // What the product can read at all.
        for f in unit {
            let name = FileName::parse(&f.name).map_err(|e| refuse(e.to_string(), vec![]))?;
            if !persona.reads.contains(&name.shape) {
                return Err(refuse(
                    format!(
                        "{}: this software reads {} names only, not the {} shape",
                        f.name,
                        persona
                            .reads
                            .iter()
                            .map(|v| v.label())
                            .collect::<Vec<_>>()
                            .join("/"),
                        name.shape
                    ),
                    vec![],
                ));
            }
        }
        // The spec core's verdict on the unit: errors refuse it, warnings are reported.
        let checked = crate::check::in_memory(
            unit.iter().map(|f| (f.name.as_str(), f.bytes.as_slice())),
            Options::default(),
        );
        let findings = checked.located();
        let errors: Vec<_> = findings
            .iter()
            .filter(|(_, f)| f.severity == Severity::Error)
            .collect();
        if let Some((file, first)) = errors.first() {
            let rules: BTreeSet<String> =
                errors.iter().map(|(_, f)| f.rule.id().to_owned()).collect();
            return Err(refuse(
                format!(
                    "{file}: {} {}{}",
                    first.rule.id(),
                    first.message_en(),
                    match errors.len() - 1 {
                        0 => String::new(),
                        n => format!(" (and {n} more errors)"),
                    }
                ),
                rules.into_iter().collect(),
            ));
        }
        // Read only what the spec core accepted, so that a refusal names its rules.
        let mut parsed = Vec::new();
        for f in unit {
            parsed.push(parse(f).map_err(|e| refuse(e, vec![]))?);
        }
        let warnings = findings
            .iter()
            .filter(|(_, f)| f.severity == Severity::Warning)
            .map(|(file, f)| format!("{file}: {} {}", f.rule.id(), f.message_en()))
            .collect();
        for p in parsed {
            match p {
                Parsed::Table(t) => {
                    let source = Source::Csv {
                        file: t.file.clone(),
                        serial: serial.to_owned(),
                    };
                    if t.name.kind.is_deletion() {
                        self.apply_delete(&t, persona);
                        continue;
                    }
                    for d in self.docs_of(&t, persona, &source, false) {
                        self.put(d, persona);
                    }
                }
                Parsed::Image(name, bytes) => {
                    let source = Source::Csv {
                        file: name.to_string(),
                        serial: serial.to_owned(),
                    };
                    let d = self.image_doc(&name, bytes, persona, source);
                    self.put(d, persona);
                }
            }
        }
        Ok(warnings)
    }

    /// Stores a received document. A changed plan replaces the old one (差し替え, S4 §5.1.1) and the
    /// actuals recorded against it are discarded; an identical one keeps them.
    fn put(&mut self, doc: Doc, persona: &Persona) {
        let id = doc.id.clone();
        if let Some(old) = self.docs.get(&id) {
            if old.records == doc.records {
                self.journal.push(format!(
                    "{}: unchanged {}",
                    source_file(&doc),
                    describe(&id)
                ));
                self.docs.insert(id, doc);
                return;
            }
            self.journal
                .push(format!("{}: replaced {}", source_file(&doc), describe(&id)));
            let stale: Vec<String> = images_named(old)
                .difference(&images_named(&doc))
                .cloned()
                .collect();
            self.remove_images(&id.partner, &stale, &source_file(&doc));
            if id.kind == FileKind::UpPlan {
                let actual = DocKey {
                    kind: FileKind::UpJsk,
                    ..id.clone()
                };
                if self.docs.remove(&actual).is_some() {
                    self.journal.push(format!(
                        "{}: discarded the actuals recorded for {} ({})",
                        source_file(&doc),
                        describe(&id),
                        persona.name
                    ));
                }
            }
        } else {
            self.journal
                .push(format!("{}: new {}", source_file(&doc), describe(&id)));
        }
        self.insert(doc);
    }

    fn apply_delete(&mut self, t: &Table, persona: &Persona) {
        let Some(rule) = rules().deletes.get(&t.name.kind) else {
            return;
        };
        let partner = other_side(&t.name, &self.office).office.as_str().to_owned();
        for record in to_records(t) {
            let key = key_of(t.name.kind, t.name.month, &record);
            let provider = record_provider(t.name.kind, &record);
            let doomed: Vec<DocKey> = self
                .docs
                .keys()
                .filter(|d| {
                    rule.removes.contains(&d.kind)
                        && d.partner == partner
                        && d.key.len() >= 3
                        && key.len() >= 3
                        && d.key[..3] == key[..3]
                        && match (&provider, persona.keying, &d.service_type) {
                            (Some((_, Some(t))), Keying::OfficeAndServiceType, Some(dt)) => t == dt,
                            _ => true,
                        }
                })
                .cloned()
                .collect();
            for d in doomed {
                self.journal
                    .push(format!("{}: deleted {}", t.file, describe(&d)));
                if let Some(gone) = self.docs.remove(&d)
                    && rule.removes.contains(&FileKind::UpKihonImage)
                {
                    let images: Vec<String> = images_named(&gone).into_iter().collect();
                    self.remove_images(&partner, &images, &t.file);
                }
            }
        }
    }

    /// Removes the image documents of the given file names.
    fn remove_images(&mut self, partner: &str, names: &[String], because: &str) {
        for n in names {
            let id = DocKey {
                kind: FileKind::UpKihonImage,
                key: vec![n.clone()],
                partner: partner.to_owned(),
                service_type: None,
            };
            let typed: Vec<DocKey> = self
                .docs
                .keys()
                .filter(|k| k.kind == id.kind && k.key == id.key && k.partner == id.partner)
                .cloned()
                .collect();
            for k in typed {
                self.journal
                    .push(format!("{because}: deleted {}", describe(&k)));
                self.docs.remove(&k);
            }
        }
    }

    /// Records actuals as planned for every imported plan of `month` (or every month): a 実績 doc
    /// per plan doc holding the plan's records unchanged (the month went as planned). A persona that builds actuals
    /// only from plans received by CSV refuses the others.
    pub fn record_actuals(
        &mut self,
        month: Option<Month>,
        persona: &Persona,
    ) -> Result<usize, SoftwareError> {
        let month_text = month.map(|m| format!("{:04}{:02}", m.year(), m.month()));
        let plans: Vec<Doc> = self
            .docs
            .values()
            .filter(|d| d.id.kind == FileKind::UpPlan)
            .filter(|d| {
                month_text
                    .as_ref()
                    .is_none_or(|m| d.id.key.get(2) == Some(m))
            })
            .filter(|d| !persona.actuals_need_csv_plan || matches!(d.source, Source::Csv { .. }))
            .cloned()
            .collect();
        let mut n = 0;
        for plan in plans {
            let actual = DocKey {
                kind: FileKind::UpJsk,
                ..plan.id.clone()
            };
            let records = plan.records.iter().map(as_actual).collect();
            self.insert(Doc {
                id: actual,
                records,
                image: None,
                source: Source::Recorded,
                order: 0,
            });
            n += 1;
        }
        self.journal.push(format!("recorded actuals for {n} plans"));
        if n == 0 && persona.actuals_need_csv_plan {
            return Err(SoftwareError::Refused(
                "予定をCSVで取り込んでいない利用者の実績は作成できません（予定を居宅介護支援事業所から受け取ってください） / actuals can only be made for user-months whose plan arrived by CSV".to_owned(),
            ));
        }
        Ok(n)
    }

    /// Writes one send unit (or one per month) for a destination in the persona's shape.
    pub fn export(
        &mut self,
        req: &ExportRequest,
        persona: &Persona,
    ) -> Result<Vec<StoredFile>, SoftwareError> {
        let version = persona.writes;
        let def = units::definitions()
            .iter()
            .find(|d| d.id == req.unit && d.applies_to(version))
            .ok_or_else(|| {
                SoftwareError::Refused(format!(
                    "this software cannot write a {} unit in {version}",
                    req.unit
                ))
            })?;
        let kinds: Vec<FileKind> = def.required.iter().chain(&def.optional).copied().collect();
        // Kinds the same unit has in another version but not in this one (第3表 in V3): held data
        // of those kinds for this destination would be lost.
        let missing: BTreeSet<FileKind> = units::definitions()
            .iter()
            .filter(|d| d.id == req.unit)
            .flat_map(|d| d.required.iter().chain(&d.optional))
            .filter(|k| !kinds.contains(k))
            .copied()
            .collect();
        if let Some(lost) = self
            .docs
            .values()
            .find(|d| missing.contains(&d.id.kind) && d.id.partner == req.to.as_str())
        {
            return Err(SoftwareError::Refused(format!(
                "{version} has no {} ({}): writing the {} unit would lose it",
                lost.id.kind,
                lost.id.kind.info().title_ja,
                req.unit
            )));
        }
        let month_text = req
            .month
            .map(|m| format!("{:04}{:02}", m.year(), m.month()));
        // The service office's type selects the documents: the destination's for a care
        // manager's units, one's own for a service office's (実績).
        let service_sends = kinds
            .first()
            .is_some_and(|k| k.info().sender == Sender::ServiceOffice);
        // V3 names carry no service type: a V3 unit holds everything for the office.
        let want_type = if persona.writes == SpecVersion::V3 {
            None
        } else if service_sends {
            req.as_type
        } else {
            req.to_type
        }
        .map(|t| t.as_str().to_owned());
        let in_month = |d: &Doc| {
            let monthly = d.id.kind.is_monthly()
                || (d.id.kind == FileKind::UpHosoku && def.hosoku == Some(HosokuRule::Month));
            !monthly
                || month_text
                    .as_ref()
                    .is_none_or(|m| d.id.key.get(2) == Some(m))
        };
        let hosoku_fits = |d: &Doc| {
            // 補足 of 6表 units has a month key, of 1表 units a plan-date key.
            d.id.kind != FileKind::UpHosoku
                || def.hosoku.is_none_or(|rule| {
                    d.id.key.get(2).is_some_and(|k| k.len() == 6) == (rule == HosokuRule::Month)
                })
        };
        let candidates: Vec<&Doc> = self
            .docs
            .values()
            .filter(|d| kinds.contains(&d.id.kind) && d.id.partner == req.to.as_str())
            .filter(|d| in_month(d) && hosoku_fits(d))
            .collect();
        // Documents of kinds that name a provider: by type, or — for documents kept without a
        // type (V3 data) — by a record of that office and type.
        let mut chosen: Vec<Doc> = Vec::new();
        let mut users: BTreeSet<Vec<String>> = BTreeSet::new();
        for d in &candidates {
            let names_provider = rules().provider.contains_key(&d.id.kind);
            let fits = match (&want_type, &d.id.service_type) {
                (Some(want), Some(have)) => want == have,
                (Some(want), None) if names_provider && !service_sends => {
                    d.records.iter().any(|r| {
                        record_provider(d.id.kind, r).is_some_and(|(o, t)| {
                            o == req.to.as_str() && t.as_deref() == Some(want.as_str())
                        })
                    })
                }
                _ => true,
            };
            if fits && (names_provider || d.id.service_type.is_some() || want_type.is_none()) {
                users.insert(d.id.key.iter().take(3).cloned().collect());
                chosen.push((*d).clone());
            }
        }
        // Untyped documents of kinds without a provider (補足 of V3 data) follow their users.
        for d in &candidates {
            let names_provider = rules().provider.contains_key(&d.id.kind);
            if !names_provider && d.id.service_type.is_none() && want_type.is_some() {
                let user: Vec<String> = d.id.key.iter().take(2).cloned().collect();
                if users.iter().any(|u| u.starts_with(&user)) {
                    chosen.push((*d).clone());
                }
            }
        }
        for d in &chosen {
            if d.id.kind == FileKind::UpJsk
                && d.source != Source::Recorded
                && persona.actuals_need_csv_plan
            {
                return Err(SoftwareError::Refused(format!(
                    "予定をCSVで受け取っていない利用者（{}）の実績はCSVで作成できません / no CSV plan for user {}: this software makes 実績 CSV only from plans it imported",
                    d.id.key.join("/"),
                    d.id.key.join("/")
                )));
            }
        }
        let to_type = want_type;
        chosen.sort_by_key(|d| d.order);
        if chosen.is_empty() {
            return Err(SoftwareError::Refused(format!(
                "nothing to send: no {} data for office {}{}{}",
                req.unit,
                req.to,
                to_type.map(|t| format!(" ({t})")).unwrap_or_default(),
                month_text.map(|m| format!(" in {m}")).unwrap_or_default()
            )));
        }
        // One unit per month for monthly units (a name carries one month).
        let mut months: BTreeSet<Option<String>> = BTreeSet::new();
        for d in &chosen {
            if d.id.kind.is_monthly()
                || (d.id.kind == FileKind::UpHosoku && def.hosoku == Some(HosokuRule::Month))
            {
                months.insert(d.id.key.get(2).cloned());
            }
        }
        if months.is_empty() {
            months.insert(None);
        }
        let mut out = Vec::new();
        for (i, month) in months.iter().enumerate() {
            let serial = careplan_spec::convert::serial_plus_seconds(&req.serial, i as u32);
            for kind in &kinds {
                let docs: Vec<&Doc> = chosen
                    .iter()
                    .filter(|d| d.id.kind == *kind)
                    .filter(|d| {
                        month.is_none()
                            || !(d.id.kind.is_monthly() || d.id.kind == FileKind::UpHosoku)
                            || d.id.key.get(2) == month.as_ref()
                    })
                    .collect();
                if docs.is_empty() {
                    continue;
                }
                out.extend(self.write_kind(
                    *kind,
                    &docs,
                    month.as_deref(),
                    def.hosoku,
                    &serial,
                    req,
                    persona,
                )?);
            }
        }
        self.journal.push(format!(
            "exported {} for {}: {}",
            req.unit,
            req.to,
            out.iter()
                .map(|f| f.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
        Ok(out)
    }

    #[expect(
        clippy::too_many_arguments,
        reason = "the parts of one file name and its records"
    )]
    fn write_kind(
        &self,
        kind: FileKind,
        docs: &[&Doc],
        month: Option<&str>,
        hosoku: Option<HosokuRule>,
        serial: &Serial,
        req: &ExportRequest,
        persona: &Persona,
    ) -> Result<Vec<StoredFile>, SoftwareError> {
        let version = persona.writes;
        let me = OfficeNumber::parse(&self.office)
            .ok_or_else(|| SoftwareError::Failed(format!("bad own office {}", self.office)))?;
        let own_type = req
            .as_type
            .or_else(|| ServiceTypeCode::parse(&self.service_type));
        let month_segment = if kind.is_monthly() {
            month.and_then(Month::parse).map(MonthSegment::Month)
        } else if kind == FileKind::UpHosoku {
            match hosoku {
                Some(HosokuRule::Month) => month.and_then(Month::parse).map(MonthSegment::Month),
                _ => Some(MonthSegment::Zero),
            }
        } else {
            None
        };
        let party = |office: OfficeNumber, t: Option<ServiceTypeCode>| {
            let mut p = Party::new(office, t);
            if version == SpecVersion::V40 {
                p.code = t.map(|t| format!("{}0", t.as_str()));
            }
            p
        };
        let sender = party(me, own_type);
        let receiver = party(req.to.clone(), req.to_type);
        if kind.is_image() {
            return Ok(docs
                .iter()
                .filter_map(|d| d.image.as_ref())
                .map(|(branch, bytes)| {
                    let name = FileName::new(
                        kind,
                        version,
                        None,
                        sender.clone(),
                        receiver.clone(),
                        serial.clone(),
                        Some(if branch.is_empty() {
                            "0001".to_owned()
                        } else {
                            branch.clone()
                        }),
                    );
                    StoredFile {
                        name: name.to_string(),
                        bytes: bytes.clone(),
                    }
                })
                .collect());
        }
        let view = careplan_spec::layout::view(kind, version)
            .ok_or_else(|| SoftwareError::Refused(format!("{kind} does not exist in {version}")))?;
        let keys = table::column_keys(view);
        // A value the target layout has no column for would be lost (V4 data written as V3).
        let lost: BTreeSet<&String> = docs
            .iter()
            .flat_map(|d| &d.records)
            .flat_map(|r| r.keys())
            .filter(|k| !keys.contains(k))
            .collect();
        if !lost.is_empty() {
            return Err(SoftwareError::Refused(format!(
                "{kind} cannot be written in {version} without losing {}",
                lost.into_iter()
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        let mut records: Vec<Vec<String>> = Vec::new();
        for d in docs {
            for r in &d.records {
                records.push(
                    keys.iter()
                        .map(|k| r.get(k).cloned().unwrap_or_default())
                        .collect(),
                );
            }
        }
        // A column naming the image of this unit (UPKIHON No.62) follows the unit's new name.
        for (i, col) in view.columns.iter().enumerate() {
            if *col.format() != careplan_spec::layout::Format::ImageName {
                continue;
            }
            for r in &mut records {
                let Some(branch) = r[i]
                    .strip_suffix(".jpg")
                    .and_then(|stem| stem.rsplit_once('_'))
                    .map(|(_, b)| b.to_owned())
                else {
                    continue;
                };
                r[i] = FileName::new(
                    FileKind::UpKihonImage,
                    version,
                    None,
                    sender.clone(),
                    receiver.clone(),
                    serial.clone(),
                    Some(branch),
                )
                .to_string();
            }
        }
        if kind == FileKind::UpJsk {
            for r in &mut records {
                if let Some(i) = view.col("作成年月日") {
                    r[i] = req.today.clone();
                }
            }
        }
        apply_defect(persona.defect, kind, view, &mut records);
        let name = FileName::new(
            kind,
            version,
            month_segment,
            sender,
            receiver,
            serial.clone(),
            None,
        )
        .to_string();
        let options = WriteOptions {
            quoting: persona.quoting,
            csv_version: persona.csv_version.map(str::to_owned),
        };
        let bytes = table::write(&name, view, view, &records, &options)
            .map_err(|e| SoftwareError::Failed(e.to_string()))?;
        Ok(vec![StoredFile { name, bytes }])
    }

    /// Changes the office's own data: in documents of `kind` (for `user`, any partner), the
    /// records whose columns match `matching` are removed or get the values of `set`.
    pub fn edit(&mut self, edit: &Edit) -> Result<usize, SoftwareError> {
        if let Some(view) = careplan_spec::layout::view(edit.kind, SpecVersion::V41) {
            let keys = table::column_keys(view);
            if let Some(bad) = edit
                .matching
                .keys()
                .chain(edit.set.keys())
                .find(|k| !keys.contains(k))
            {
                return Err(SoftwareError::Failed(format!(
                    "edit: {} has no column {bad:?} (names as in the layout; a repeated name takes #2)",
                    edit.kind
                )));
            }
        }
        let mut changed = 0;
        for d in self.docs.values_mut() {
            if d.id.kind != edit.kind
                || edit.user.as_ref().is_some_and(|u| {
                    d.id.key.len() < 2 || &format!("{}/{}", d.id.key[0], d.id.key[1]) != u
                })
            {
                continue;
            }
            let matches = |r: &Record| {
                edit.matching
                    .iter()
                    .all(|(k, v)| r.get(k).map(String::as_str).unwrap_or("") == v)
            };
            let before = d.records.len();
            if edit.remove {
                d.records.retain(|r| !matches(r));
                changed += before - d.records.len();
            } else {
                for r in d.records.iter_mut().filter(|r| matches(r)) {
                    for (k, v) in &edit.set {
                        if v.is_empty() {
                            r.remove(k);
                        } else {
                            r.insert(k.clone(), v.clone());
                        }
                    }
                    changed += 1;
                }
            }
        }
        if changed == 0 {
            return Err(SoftwareError::Failed(format!(
                "edit: no {} record matches {:?}",
                edit.kind, edit.matching
            )));
        }
        self.journal.push(format!(
            "edited {changed} {} records ({})",
            edit.kind,
            if edit.remove { "removed" } else { "changed" }
        ));
        Ok(changed)
    }

    /// Documents matching a query (for assertions).
    pub fn find(&self, q: &DocQuery) -> Vec<&Doc> {
        self.docs
            .values()
            .filter(|d| q.kind.is_none_or(|k| d.id.kind == k))
            .filter(|d| {
                q.user.as_ref().is_none_or(|u| {
                    d.id.key.len() >= 2 && &format!("{}/{}", d.id.key[0], d.id.key[1]) == u
                })
            })
            .filter(|d| q.month.as_ref().is_none_or(|m| d.id.key.get(2) == Some(m)))
            .filter(|d| q.partner.as_ref().is_none_or(|p| &d.id.partner == p))
            .collect()
    }
}

/// A change to an office's own data (the scenario step `edit`).
#[derive(Debug, Clone)]
pub struct Edit {
    pub kind: FileKind,
    pub user: Option<String>,
    pub matching: BTreeMap<String, String>,
    pub set: BTreeMap<String, String>,
    pub remove: bool,
}

/// What an assertion looks for in a state.
#[derive(Debug, Clone, Default)]
pub struct DocQuery {
    pub kind: Option<FileKind>,
    /// `保険者番号/被保険者番号`.
    pub user: Option<String>,
    /// `YYYYMM`.
    pub month: Option<String>,
    pub partner: Option<String>,
}

/// Records of a set of documents belonging to one service type (by their service code or type).
pub fn records_of_type<'a>(docs: &[&'a Doc], service_type: Option<&str>) -> Vec<&'a Record> {
    docs.iter()
        .flat_map(|d| d.records.iter().map(move |r| (d, r)))
        .filter(|(d, r)| {
            !is_summary(d.id.kind, r)
                && service_type.is_none_or(|want| match record_provider(d.id.kind, r) {
                    Some((_, Some(t))) => t == want,
                    _ => d.id.service_type.as_deref() == Some(want),
                })
        })
        .map(|(_, r)| r)
        .collect()
}

impl Doc {
    /// One line for a report: what it is, how many records, where it came from.
    pub fn summary(&self) -> String {
        format!(
            "{}: {} records, {}",
            describe(&self.id),
            self.records.len(),
            match &self.source {
                Source::Csv { file, .. } => format!("imported from {file}"),
                Source::Entered => "entered in the product".to_owned(),
                Source::Recorded => "recorded from the plan".to_owned(),
            }
        )
    }
}

fn source_file(d: &Doc) -> String {
    match &d.source {
        Source::Csv { file, .. } => file.clone(),
        Source::Entered => "entered".to_owned(),
        Source::Recorded => "recorded".to_owned(),
    }
}

fn describe(id: &DocKey) -> String {
    format!(
        "{} {} with {}{}",
        id.kind,
        id.key.join("/"),
        id.partner,
        id.service_type
            .as_ref()
            .map(|t| format!(" ({t})"))
            .unwrap_or_default()
    )
}

/// A deliberate defect of a broken product, for testing the kit's own diff.
fn apply_defect(
    defect: Option<Defect>,
    kind: FileKind,
    view: &careplan_spec::layout::LayoutView,
    records: &mut Vec<Vec<String>>,
) {
    match defect {
        Some(Defect::ShiftStartTime) if kind == FileKind::UpJsk => {
            if let (Some(i), Some(r)) = (view.col("サービス開始時刻"), records.first_mut())
                && r[i] != "9999"
                && let Ok(t) = r[i].parse::<u32>()
            {
                r[i] = format!("{:04}", (t + 100) % 2400);
            }
        }
        Some(Defect::DropLastRecord) if kind == FileKind::UpJsk => {
            records.pop();
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::software::persona::persona;

    fn golden(case: &str) -> Vec<StoredFile> {
        let dir = format!("{}/../golden/valid/{case}", env!("CARGO_MANIFEST_DIR"));
        let mut out: Vec<StoredFile> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{dir}: {e}"))
            .map(|e| e.unwrap().path())
            .filter(|p| FileName::parse(&p.file_name().unwrap().to_string_lossy()).is_ok())
            .map(|p| StoredFile {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                bytes: std::fs::read(&p).unwrap(),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    fn office(n: &str) -> OfficeNumber {
        OfficeNumber::parse(n).unwrap()
    }

    fn request(unit: &str, to: &str, to_type: Option<&str>, serial: &str) -> ExportRequest {
        ExportRequest {
            unit: unit.to_owned(),
            to: office(to),
            to_type: to_type.and_then(ServiceTypeCode::parse),
            as_type: ServiceTypeCode::parse("43"),
            month: None,
            serial: Serial::parse(serial).unwrap(),
            today: "20250425".to_owned(),
        }
    }

    /// A care manager that "entered" the golden units writes them again byte for byte: the
    /// persona's writer and the independent Python generator agree.
    #[test]
    fn reference_personas_rewrite_the_golden_units_byte_for_byte() {
        for (case, persona_name) in [
            ("v4.1/riyohyo-rich", "reference-v4"),
            ("v4.1/kyotaku-plan-rich", "reference-v4"),
            ("v3/riyohyo-rich", "reference-v3"),
            ("v3/kyotaku-plan-rich", "reference-v3"),
        ] {
            let p = persona(persona_name).unwrap();
            let files = golden(case);
            let mut cm = CareState::new(
                &office("0310000100"),
                &ServiceTypeCode::parse("43").unwrap(),
            );
            cm.load(&files, p).unwrap();
            let mut units: BTreeMap<String, Vec<&StoredFile>> = BTreeMap::new();
            for f in &files {
                let n = FileName::parse(&f.name).unwrap();
                units.entry(n.serial.to_string()).or_default().push(f);
            }
            for (serial, unit) in units {
                let n = FileName::parse(&unit[0].name).unwrap();
                let id = if n.kind == FileKind::Up1Kyo
                    || unit.iter().any(|f| f.name.starts_with("UP1KYO"))
                {
                    "kyotaku-plan"
                } else {
                    "kyotaku-riyohyo"
                };
                let t = n.receiver.service_type().map(|t| t.as_str().to_owned());
                let out = cm
                    .export(
                        &request(id, n.receiver.office.as_str(), t.as_deref(), &serial),
                        p,
                    )
                    .unwrap_or_else(|e| panic!("{case} {serial}: {e}"));
                let mut got: Vec<(String, Vec<u8>)> =
                    out.into_iter().map(|f| (f.name, f.bytes)).collect();
                got.sort();
                let mut want: Vec<(String, Vec<u8>)> = unit
                    .iter()
                    .map(|f| (f.name.clone(), f.bytes.clone()))
                    .collect();
                want.sort();
                assert_eq!(
                    got.iter().map(|g| &g.0).collect::<Vec<_>>(),
                    want.iter().map(|w| &w.0).collect::<Vec<_>>(),
                    "{case} {serial}"
                );
                for (g, w) in got.iter().zip(&want) {
                    assert!(g.1 == w.1, "{case}: {} differs from the golden bytes", g.0);
                }
            }
        }
    }

    /// V3 data held by a V4.1 product and sent to one type of a two-service office carries the
    /// same records the spec core's converter puts in that type's V4.1 unit.
    #[test]
    fn v3_data_exported_as_v41_matches_the_converter() {
        let p = persona("reference-v4").unwrap();
        let files = golden("v3/riyohyo-rich");
        let mut cm = CareState::new(
            &office("0310000100"),
            &ServiceTypeCode::parse("43").unwrap(),
        );
        cm.load(&files, p).unwrap();
        let unit: Vec<careplan_spec::convert::InputFile> = files
            .iter()
            .filter(|f| f.name.contains("_0320000201_"))
            .map(|f| careplan_spec::convert::InputFile {
                name: f.name.clone(),
                bytes: f.bytes.clone(),
            })
            .collect();
        let options = careplan_spec::convert::ConvertOptions {
            to: SpecVersion::V41,
            lossy: false,
            care_manager_type: ServiceTypeCode::parse("43").unwrap(),
            receiver_type: None,
        };
        let converted = careplan_spec::convert::convert(&unit, &options).unwrap();
        for t in ["11", "15"] {
            let want: Vec<_> = converted
                .files
                .iter()
                .filter(|f| f.name.contains(&format!("_0320000201_{t}_")))
                .collect();
            assert_eq!(want.len(), 3, "{t}");
            let serial = FileName::parse(&want[0].name).unwrap().serial.to_string();
            let got = cm
                .export(
                    &request("kyotaku-riyohyo", "0320000201", Some(t), &serial),
                    p,
                )
                .unwrap();
            for w in want {
                let g = got
                    .iter()
                    .find(|g| g.name == w.name)
                    .unwrap_or_else(|| panic!("{} not exported", w.name));
                assert!(
                    g.bytes == w.bytes,
                    "{} differs from the converter's",
                    w.name
                );
            }
        }
    }

    /// The デイ/ヘルプ case (seed 000 §e): a changed 15 plan for an office that also serves 11.
    #[test]
    fn a_number_keyed_importer_loses_the_other_services_actuals() {
        let files = golden("v4.1/riyohyo-rich");
        let to_office: Vec<StoredFile> = files
            .iter()
            .filter(|f| f.name.contains("_0320000201_"))
            .cloned()
            .collect();
        let mut held = BTreeMap::new();
        for name in ["reference-v4", "number-keyed-v3"] {
            let mut p = persona(name).unwrap().clone();
            p.reads = &[SpecVersion::V3, SpecVersion::V40, SpecVersion::V41];
            let mut day = CareState::new(
                &office("0320000201"),
                &ServiceTypeCode::parse("11").unwrap(),
            );
            let r = day.import(&to_office, &p);
            assert!(r.refused.is_empty(), "{name}: {:?}", r.refused);
            day.record_actuals(None, &p).unwrap();
            // The 15 plan changes (one record fewer) and arrives again.
            let mut changed: Vec<StoredFile> = to_office
                .iter()
                .filter(|f| f.name.contains("_15_"))
                .cloned()
                .collect();
            for f in &mut changed {
                f.name = f.name.replace("20250425111500", "20250426090000");
                if f.name.starts_with("UPPLAN") {
                    // Drop the first 通所介護 (151325) record.
                    let at = f.bytes.windows(6).position(|w| w == b"151325").unwrap();
                    let start = f.bytes[..at]
                        .windows(2)
                        .rposition(|w| w == b"\r\n")
                        .unwrap()
                        + 2;
                    let end = at + f.bytes[at..].windows(2).position(|w| w == b"\r\n").unwrap() + 2;
                    f.bytes.drain(start..end);
                }
            }
            let r = day.import(&changed, &p);
            assert!(r.refused.is_empty(), "{name}: {:?}", r.refused);
            let docs = day.find(&DocQuery {
                kind: Some(FileKind::UpJsk),
                user: Some("131016/1234500001".to_owned()),
                ..DocQuery::default()
            });
            held.insert(name, records_of_type(&docs, Some("11")).len());
        }
        assert!(held["reference-v4"] > 0, "{held:?}");
        assert_eq!(held["number-keyed-v3"], 0, "{held:?}");
    }
}
