//! Validation of files, send units and the keys between them.
//!
//! [`validate_reader`] streams one file through the tokenizer record by record: memory holds one
//! record, the per-file key sets (a few strings per user) and the findings, never the file. It
//! returns a [`FileReport`]; [`crate::units::check_units`] then groups reports into send units and
//! checks combinations and cross-file keys.
//!
//! The checks per record, in order: tokenizer deviations → MS932 decoding of every field →
//! column count → per-field rules (required, length, format, code table, quoting) → per-record rules
//! (CSVバージョン, service month, 補足 linkage, 福祉用具 codes, service types) → accumulation for
//! file-level rules (7表 totals, 2表 numbering) and cross-file keys.

pub mod field;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;

use crate::codes;
use crate::domain::{Month, ServiceTypeCode};
use crate::filename::{FileName, MonthSegment};
use crate::finding::{Finding, Location, Severity};
use crate::identify;
use crate::kind::FileKind;
use crate::layout::{self, Format, LayoutView};
use crate::ms932::{self, IssueKind};
use crate::profile::Profile;
use crate::rules::RuleId;
use crate::tokenizer::{MAX_FIELD_BYTES, MAX_FIELDS, RawField, RawRecord, TokenIssue, Tokenizer};
use crate::units;
use crate::version::{CsvVersion, SpecVersion, VersionStatus};
use field::{FieldCheck, GRAND_TOTAL_CODE, is_summary_code};

/// Longest value kept as part of a key (the longest key values of the standard are 10 characters).
const MAX_KEY_PART_BYTES: usize = 32;
/// Most distinct CSVバージョン values remembered per file.
const MAX_SEEN_VERSIONS: usize = 16;

/// How validation is run.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub profile: &'static Profile,
    /// Findings kept per rule and file; the rest are counted in [`FileReport::suppressed`].
    pub max_findings_per_rule: u32,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            profile: Profile::standard(),
            max_findings_per_rule: 50,
        }
    }
}

/// Key values of a file, for the cross-file rules: key text → line of its first record.
#[derive(Debug, Default, Clone)]
pub struct FileKeys {
    /// The kind's own key (SUMMARY §6.1).
    pub main: BTreeMap<String, u32>,
    /// 補足 records tied to 1表 (No.63 = 000000): 保険者番号/被保険者番号/No.4.
    pub hosoku_plan: BTreeMap<String, u32>,
    /// 補足 records tied to 6表 (No.4 = 00000000): 保険者番号/被保険者番号/No.63.
    pub hosoku_month: BTreeMap<String, u32>,
    /// Image file names named by UPKIHON No.62.
    pub images: BTreeMap<String, u32>,
}

/// Everything validation learned about one file.
#[derive(Debug)]
pub struct FileReport {
    /// The path as given by the caller.
    pub path: String,
    pub name: Option<FileName>,
    pub kind: Option<FileKind>,
    /// The layout family the file was read with.
    pub version: Option<SpecVersion>,
    pub identified_from_content: bool,
    pub records: u32,
    pub bytes: u64,
    /// The CSVバージョン of the first record.
    pub csv_version: Option<String>,
    /// Service months found in the records (monthly kinds).
    pub months: BTreeSet<Month>,
    pub findings: Vec<Finding>,
    /// Findings past the per-rule cap, by rule.
    pub suppressed: BTreeMap<RuleId, u32>,
    pub keys: FileKeys,
    /// An I/O error that stopped reading.
    pub io_error: Option<String>,
}

impl FileReport {
    /// A report that knows only a file's name: enough for [`crate::check_units`] to judge a set of
    /// names as a send unit without reading contents (what the exchange checks, exchange.md §1.6).
    pub fn from_name(path: &str, name: FileName) -> Self {
        Self {
            path: path.to_owned(),
            kind: Some(name.kind),
            version: Some(name.shape),
            name: Some(name),
            identified_from_content: false,
            records: 0,
            bytes: 0,
            csv_version: None,
            months: BTreeSet::new(),
            findings: Vec::new(),
            suppressed: BTreeMap::new(),
            keys: FileKeys::default(),
            io_error: None,
        }
    }

    pub fn worst(&self) -> Option<Severity> {
        self.findings.iter().map(|f| f.severity).max()
    }

    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }
}

/// Collects findings: applies the profile, attaches the file and caps each rule.
pub(crate) struct Sink {
    path: String,
    options: Options,
    counts: HashMap<RuleId, u32>,
    pub(crate) findings: Vec<Finding>,
    pub(crate) suppressed: BTreeMap<RuleId, u32>,
}

impl Sink {
    pub(crate) fn new(path: &str, options: Options) -> Self {
        Self {
            path: path.to_owned(),
            options,
            counts: HashMap::new(),
            findings: Vec::new(),
            suppressed: BTreeMap::new(),
        }
    }

    /// Counts one finding of `rule`; true when it is still under the per-rule cap and should be
    /// built and [`Sink::store`]d. Hot paths ask before building a finding.
    pub(crate) fn admit(&mut self, rule: RuleId) -> bool {
        let n = self.counts.entry(rule).or_insert(0);
        *n += 1;
        if *n > self.options.max_findings_per_rule {
            *self.suppressed.entry(rule).or_insert(0) += 1;
            return false;
        }
        true
    }

    /// Keeps an admitted finding: applies the profile's severity and attaches the file.
    pub(crate) fn store(&mut self, mut f: Finding) {
        f.severity = self.options.profile.severity(f.rule);
        if f.file.is_none() && !self.path.is_empty() {
            f.file = Some(self.path.clone());
        }
        self.findings.push(f);
    }

    pub(crate) fn push(&mut self, f: Finding) {
        if self.admit(f.rule) {
            self.store(f);
        }
    }
}

/// Shows invisible characters: CR, LF, TAB, full-width space and other controls.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' => out.push('␍'),
            '\n' => out.push('␊'),
            '\t' => out.push('␉'),
            '\u{3000}' => out.push('□'),
            ' ' => out.push('·'),
            c if c.is_control() => out.push_str(&format!("<U+{:04X}>", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("0x{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Locations of byte offsets inside one field, found in one pass: offsets must be asked in
/// increasing order, so locating every character of a field costs time linear in its length.
struct Locator<'a> {
    field: &'a RawField,
    i: usize,
    line: u32,
    column: u32,
}

impl<'a> Locator<'a> {
    fn new(field: &'a RawField) -> Self {
        Self {
            field,
            i: 0,
            line: field.start.line,
            column: field.start.column + u32::from(field.quoted),
        }
    }

    /// Location of byte `offset` (counting line breaks and double-byte characters).
    fn at(&mut self, offset: usize) -> Location {
        let bytes = &self.field.bytes;
        while self.i < offset.min(bytes.len()) {
            let i = self.i;
            match bytes[i] {
                b'\n' => {
                    self.line += 1;
                    self.column = 1;
                    self.i += 1;
                }
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                    self.line += 1;
                    self.column = 1;
                    self.i += 1;
                }
                b'\r' => self.i += 1,
                b if ms932::is_lead(b) && bytes.get(i + 1).is_some_and(|&t| ms932::is_trail(t)) => {
                    self.column += 1;
                    self.i += 2;
                }
                _ => {
                    self.column += 1;
                    self.i += 1;
                }
            }
        }
        // The offset in the file is approximate for quoted fields with doubled quotes; line and
        // column are exact.
        Location {
            line: self.line,
            column: self.column,
            offset: self.field.start.offset + u64::from(self.field.quoted) + offset as u64,
        }
    }
}

/// Per-user state of a 第7表 file for the total rules.
#[derive(Default)]
struct SikyuUser {
    first_line: u32,
    code_rows: BTreeMap<String, u32>,
    subtotals: BTreeMap<String, (String, u32)>,
    has_grand_total: bool,
}

/// The 2表 numbers seen in one plan: (課題ＮＯ, 援助目標ＮＯ, 援助内容ＮＯ) → first line, and the 課題/目標
/// numbers carried forward to lines that leave them empty.
#[derive(Default)]
struct PlanNumbering {
    seen: HashMap<(String, String, String), u32>,
    issue: String,
    goal: String,
}

/// The streaming validator of one file.
pub struct FileValidator {
    sink: Sink,
    report: FileReport,
    view: Option<&'static LayoutView>,
    /// Set when the name did not identify the file: the first record decides.
    identify_pending: bool,
    values: Vec<String>,
    decode_issues: Vec<ms932::DecodeIssue>,
    seen_versions: BTreeSet<String>,
    version_month_checked: bool,
    utf8_reported: bool,
    reported_months: BTreeSet<String>,
    header_checked: bool,
    sikyu_users: BTreeMap<String, SikyuUser>,
    /// 2表 numbering per plan key.
    plan_numbers: HashMap<String, PlanNumbering>,
}

impl FileValidator {
    /// Starts validating the file `path` whose bare name is `file_name`.
    pub fn new(path: &str, file_name: &str, options: Options) -> Self {
        let mut sink = Sink::new(path, options);
        let mut report = FileReport {
            path: path.to_owned(),
            name: None,
            kind: None,
            version: None,
            identified_from_content: false,
            records: 0,
            bytes: 0,
            csv_version: None,
            months: BTreeSet::new(),
            findings: Vec::new(),
            suppressed: BTreeMap::new(),
            keys: FileKeys::default(),
            io_error: None,
        };
        let mut identify_pending = false;
        match FileName::parse(file_name) {
            Ok(name) => {
                check_name(&name, &mut sink);
                report.kind = Some(name.kind);
                report.version = Some(name.shape);
                report.name = Some(name);
            }
            Err(e) => {
                // A known prefix with a broken rest is a naming error; anything else is a file that
                // arrived renamed, identified from its content (NAME009/NAME010).
                if e.segment != crate::filename::Segment::Prefix
                    && e.segment != crate::filename::Segment::Whole
                    || FileKind::ALL
                        .iter()
                        .any(|k| file_name.starts_with(&format!("{}_", k.prefix())))
                {
                    sink.push(
                        Finding::new(RuleId::NameMalformed)
                            .arg("segment", e.segment.label_en())
                            .arg("segment_ja", e.segment.label_ja())
                            .arg("found", &e.found)
                            .arg("reason", &e.reason)
                            .arg("expected", &e.expected),
                    );
                    report.kind = FileKind::ALL
                        .iter()
                        .copied()
                        .filter(|k| file_name.starts_with(&format!("{}_", k.prefix())))
                        .max_by_key(|k| k.prefix().len());
                }
                identify_pending = true;
            }
        }
        let view = match (report.kind, report.version) {
            (Some(k), Some(v)) => layout::view(k, v),
            _ => None,
        };
        Self {
            sink,
            report,
            view,
            identify_pending,
            values: Vec::new(),
            decode_issues: Vec::new(),
            seen_versions: BTreeSet::new(),
            version_month_checked: false,
            utf8_reported: false,
            reported_months: BTreeSet::new(),
            header_checked: false,
            sikyu_users: BTreeMap::new(),
            plan_numbers: HashMap::new(),
        }
    }

    /// The kind, once known.
    pub fn kind(&self) -> Option<FileKind> {
        self.report.kind
    }

    /// Reports the tokenizer's issues.
    pub fn token_issues(&mut self, issues: Vec<TokenIssue>) {
        for issue in issues {
            let f = match issue {
                TokenIssue::Bom { at } => Finding::new(RuleId::EncBom).at(at),
                TokenIssue::UnterminatedQuote { at } => {
                    Finding::new(RuleId::CsvUnterminatedQuote).at(at)
                }
                TokenIssue::StrayQuote { at } => Finding::new(RuleId::CsvStrayQuote).at(at),
                TokenIssue::TextAfterQuote { at } => Finding::new(RuleId::CsvTextAfterQuote).at(at),
                TokenIssue::LineEnding { at, found } => Finding::new(RuleId::CsvLineEnding)
                    .at(at)
                    .arg("found", found.label()),
                TokenIssue::MixedLineEndings { at, first, found } => {
                    Finding::new(RuleId::CsvMixedLineEndings)
                        .at(at)
                        .arg("first", first.label())
                        .arg("found", found.label())
                }
                TokenIssue::BlankLine { at } => Finding::new(RuleId::CsvBlankLine).at(at),
                TokenIssue::NoFinalNewline { at } => Finding::new(RuleId::CsvNoFinalNewline).at(at),
                TokenIssue::FieldTooLarge { at } => Finding::new(RuleId::CsvOversize)
                    .at(at)
                    .arg("what", "field / 項目")
                    .arg("limit", format!("{MAX_FIELD_BYTES} bytes")),
                TokenIssue::TooManyFields { at } => Finding::new(RuleId::CsvOversize)
                    .at(at)
                    .arg("what", "record / レコード")
                    .arg("limit", format!("{MAX_FIELDS} fields")),
            };
            self.sink.push(f);
        }
    }

    /// Decodes every field of `rec` into `self.values`, reporting encoding issues.
    fn decode(&mut self, rec: &RawRecord) {
        let fields = rec.fields();
        if self.values.len() < fields.len() {
            self.values.resize_with(fields.len(), String::new);
        }
        for (i, f) in fields.iter().enumerate() {
            let out = &mut self.values[i];
            out.clear();
            self.decode_issues.clear();
            ms932::decode_into(&f.bytes, out, &mut self.decode_issues);
            if self.decode_issues.is_empty() {
                continue;
            }
            let utf8 = self
                .decode_issues
                .iter()
                .any(|d| matches!(d.kind, IssueKind::InvalidByte | IssueKind::Unassigned))
                && std::str::from_utf8(&f.bytes).is_ok_and(|s| !s.is_ascii());
            if utf8 {
                if !self.utf8_reported {
                    self.utf8_reported = true;
                    self.sink.push(
                        Finding::new(RuleId::EncLooksUtf8)
                            .at(Locator::new(f).at(self.decode_issues[0].offset))
                            .record(rec.number),
                    );
                }
                // Replace the U+FFFD soup by the UTF-8 reading so later messages stay readable.
                out.clear();
                out.push_str(std::str::from_utf8(&f.bytes).unwrap_or_default());
                continue;
            }
            let mut locator = Locator::new(f);
            for d in &self.decode_issues {
                let rule = match d.kind {
                    IssueKind::InvalidByte => RuleId::EncInvalidByte,
                    IssueKind::Unassigned => RuleId::EncUnassigned,
                    IssueKind::UserDefined => RuleId::EncUserDefined,
                    IssueKind::NecSpecial => RuleId::EncNecSpecial,
                    IssueKind::IbmExtension => RuleId::EncIbmExtension,
                };
                if !self.sink.admit(rule) {
                    continue;
                }
                let mut finding = Finding::new(rule)
                    .at(locator.at(d.offset))
                    .record(rec.number)
                    .arg("bytes", hex(d.bytes()));
                if let Some(c) = d.ch {
                    finding = finding.arg("char", c);
                }
                self.sink.store(finding);
            }
        }
    }

    /// Validates one record.
    pub fn record(&mut self, rec: &RawRecord) {
        self.decode(rec);
        let n = rec.fields().len();

        if !self.header_checked {
            self.header_checked = true;
            let first = self.values[0].as_str();
            let looks_like_header = !first.is_empty()
                && !first.bytes().all(|b| b.is_ascii_digit())
                && (!first.is_ascii() || first.contains("CSV"));
            if looks_like_header {
                self.sink.push(
                    Finding::new(RuleId::RecHeaderRow)
                        .at(rec.start)
                        .record(rec.number)
                        .value(visible(first)),
                );
                return;
            }
        }
        if self.identify_pending {
            self.identify_pending = false;
            self.identify(rec, n);
        }
        self.report.records += 1;
        let Some(view) = self.view else { return };

        if n != view.len() {
            let hint = identify::column_count_hint(view, n);
            self.sink.push(
                Finding::new(RuleId::RecColumnCount)
                    .at(rec.start)
                    .record(rec.number)
                    .arg("found", n)
                    .arg("expected", view.len())
                    .arg(
                        "kind",
                        view.layout
                            .kinds
                            .iter()
                            .map(|k| k.prefix())
                            .collect::<Vec<_>>()
                            .join("/"),
                    )
                    .arg("version", view.version)
                    .arg("hint", hint),
            );
            // Field checks would be misaligned: this record gets no other finding.
            return;
        }
        self.check_fields(rec, view);
        let month = self.check_month(rec, view);
        self.check_version(rec, view, month);
        self.collect_keys(rec, view);
        match self.report.kind {
            Some(FileKind::UpPlan | FileKind::UpJsk) => self.check_services(rec, view, false),
            Some(FileKind::UpSikyu) => {
                self.check_services(rec, view, true);
                self.track_totals(rec, view);
            }
            Some(FileKind::Up2Kyo) => self.track_numbering(rec, view),
            _ => {}
        }
    }

    fn identify(&mut self, rec: &RawRecord, n: usize) {
        let guess = identify::identify(self.report.kind, &self.values[..n]);
        match guess {
            Ok(g) => {
                let known_from_prefix = self.report.kind.is_some();
                self.report.kind = Some(g.kind);
                self.report.version = Some(g.version);
                self.report.identified_from_content = !known_from_prefix;
                self.view = layout::view(g.kind, g.version);
                if !known_from_prefix {
                    let mut kind = g.kind.prefix().to_owned();
                    if !g.alternatives.is_empty() {
                        kind.push_str(&format!(
                            " (or {})",
                            g.alternatives
                                .iter()
                                .map(|k| k.prefix())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ));
                    }
                    self.sink.push(
                        Finding::new(RuleId::NameIdentifiedFromContent)
                            .at(rec.start)
                            .arg("kind", kind)
                            .arg("version", g.version),
                    );
                }
            }
            Err(reason) => {
                self.sink.push(
                    Finding::new(RuleId::NameUnidentified)
                        .at(rec.start)
                        .arg("reason", reason),
                );
            }
        }
    }

    fn check_fields(&mut self, rec: &RawRecord, view: &'static LayoutView) {
        for (i, col) in view.columns.iter().enumerate() {
            let raw = &rec.fields()[i];
            let value = self.values[i].as_str();
            let c = col.column;
            let with_rule = |rule: RuleId| {
                Finding::new(rule)
                    .at(raw.start)
                    .record(rec.number)
                    .field(col.no, &c.name)
            };
            let is_text = c.format == Format::Text;
            if value.is_empty() {
                if c.req {
                    self.sink.push(with_rule(RuleId::FldRequired));
                }
                if raw.quoted && !is_text {
                    self.sink.push(with_rule(RuleId::FldQuotedNonText));
                }
                continue;
            }
            if is_text && !raw.quoted {
                self.sink
                    .push(with_rule(RuleId::FldTextUnquoted).value(visible(value)));
            }
            if !is_text && raw.quoted {
                self.sink
                    .push(with_rule(RuleId::FldQuotedNonText).value(visible(value)));
            }
            if let Some(bad) = value
                .chars()
                .find(|&ch| ch.is_control() && !(is_text && (ch == '\r' || ch == '\n')))
            {
                self.sink.push(
                    with_rule(RuleId::EncControl).arg("char", format!("U+{:04X}", bad as u32)),
                );
            }
            if let Some(max) = col.len {
                let actual = value.chars().count();
                if actual > usize::from(max) {
                    self.sink.push(
                        with_rule(RuleId::FldTooLong)
                            .value(visible(value))
                            .arg("max", max)
                            .arg("actual", actual),
                    );
                }
            }
            match field::check(&c.format, value, c.min, c.max) {
                FieldCheck::Ok => {}
                FieldCheck::BadFormat(expected) => {
                    self.sink.push(
                        with_rule(RuleId::FldFormat)
                            .value(visible(value))
                            .arg("expected", expected),
                    );
                }
                FieldCheck::NotInTable(codes) => {
                    self.sink.push(
                        with_rule(RuleId::FldCode)
                            .value(visible(value))
                            .arg("codes", codes),
                    );
                }
                FieldCheck::Negative => self.sink.push(with_rule(RuleId::FldNegative).value(value)),
                FieldCheck::OutOfRange(lo, hi) => {
                    self.sink.push(
                        with_rule(RuleId::FldRange)
                            .value(value)
                            .arg("min", lo)
                            .arg("max", hi),
                    );
                }
                FieldCheck::NotEmpty => self
                    .sink
                    .push(with_rule(RuleId::FldUnusedNotEmpty).value(visible(value))),
            }
        }
    }

    fn value(&self, view: &LayoutView, name: &str) -> Option<&str> {
        view.col(name).map(|i| self.values[i].as_str())
    }

    fn field_finding(
        &self,
        rule: RuleId,
        rec: &RawRecord,
        view: &LayoutView,
        name: &str,
    ) -> Finding {
        let mut f = Finding::new(rule).record(rec.number);
        match view.col(name) {
            Some(i) => {
                f = f.at(rec.fields()[i].start).field(view.columns[i].no, name);
            }
            None => f = f.at(rec.start),
        }
        f
    }

    /// The record's service month (monthly kinds and 補足), with FILE001/FILE002/FILE003.
    fn check_month(&mut self, rec: &RawRecord, view: &LayoutView) -> Option<Month> {
        let kind = self.report.kind?;
        let name_month = self.report.name.as_ref().and_then(|n| n.month);
        let column = match kind {
            FileKind::DltPlan | FileKind::DltJsk => "削除対象年月",
            FileKind::UpPlan | FileKind::UpJsk | FileKind::UpSikyu | FileKind::UpHosoku => {
                "対象年月"
            }
            _ => return None,
        };
        let value = self.value(view, column)?.to_owned();
        if kind == FileKind::UpHosoku {
            return self.check_hosoku_link(rec, view, &value, name_month);
        }
        let month = Month::parse(&value)?;
        self.note_month(rec, view, column, month, &value);
        if let Some(MonthSegment::Month(m)) = name_month
            && m != month
            && self.reported_months.insert(value.clone())
        {
            self.sink.push(
                self.field_finding(RuleId::FileMonthMismatch, rec, view, column)
                    .value(&value)
                    .arg("month", m),
            );
        }
        Some(month)
    }

    /// Records a service month of the file; a second distinct month is FILE001.
    fn note_month(
        &mut self,
        rec: &RawRecord,
        view: &LayoutView,
        column: &str,
        month: Month,
        value: &str,
    ) {
        if self.report.months.insert(month) && self.report.months.len() > 1 {
            let first = self
                .report
                .months
                .iter()
                .next()
                .map(|m| m.to_string())
                .unwrap_or_default();
            let f = self
                .field_finding(RuleId::FileSeveralMonths, rec, view, column)
                .value(value)
                .arg("first", first);
            self.sink.push(f);
        }
    }

    fn check_hosoku_link(
        &mut self,
        rec: &RawRecord,
        view: &LayoutView,
        no63: &str,
        name_month: Option<MonthSegment>,
    ) -> Option<Month> {
        let no4 = self
            .value(view, "居宅サービス計画作成（変更）日")
            .unwrap_or("")
            .to_owned();
        let month = Month::parse(no63);
        let detail = match name_month {
            Some(MonthSegment::Zero) if no63 != "000000" => Some((
                format!(
                    "ファイル名の年月が000000（1表・2表に紐づく）ですが、対象年月が {no63} です"
                ),
                format!("the name month is 000000 (tied to tables 1-2) but 対象年月 is {no63}"),
            )),
            Some(MonthSegment::Zero) if no4 == "00000000" => Some((
                "1表・2表に紐づく利用者補足情報の居宅サービス計画作成（変更）日が00000000です"
                    .to_owned(),
                "a 補足 tied to tables 1-2 has 計画作成（変更）日 00000000".to_owned(),
            )),
            Some(MonthSegment::Month(m)) if no63 == "000000" => Some((
                format!("ファイル名の年月が {m}（6表・7表に紐づく）ですが、対象年月が000000です"),
                format!("the name month is {m} (tied to tables 6-7) but 対象年月 is 000000"),
            )),
            Some(MonthSegment::Month(_)) if !no4.is_empty() && no4 != "00000000" => Some((
                format!(
                    "6表・7表に紐づく利用者補足情報の居宅サービス計画作成（変更）日は00000000です（{no4}）"
                ),
                format!("a 補足 tied to tables 6-7 must have 計画作成（変更）日 00000000 ({no4})"),
            )),
            _ => None,
        };
        if let Some((ja, en)) = detail {
            self.sink.push(
                self.field_finding(RuleId::FileHosokuLink, rec, view, "対象年月")
                    .arg("detail_ja", ja)
                    .arg("detail_en", en),
            );
        } else if let (Some(MonthSegment::Month(m)), Some(rm)) = (name_month, month)
            && m != rm
            && self.reported_months.insert(no63.to_owned())
        {
            self.sink.push(
                self.field_finding(RuleId::FileMonthMismatch, rec, view, "対象年月")
                    .value(no63)
                    .arg("month", m),
            );
        }
        if let Some(m) = month {
            self.note_month(rec, view, "対象年月", m, no63);
        }
        month
    }

    fn check_version(&mut self, rec: &RawRecord, view: &LayoutView, month: Option<Month>) {
        let Some(value) = self.values.first().cloned() else {
            return;
        };
        if value.is_empty() {
            return;
        }
        let at = rec.fields()[0].start;
        let finding = |rule: RuleId| {
            Finding::new(rule)
                .at(at)
                .record(rec.number)
                .field(1, "CSVバージョン")
                .value(&value)
        };
        match &self.report.csv_version {
            None => self.report.csv_version = Some(value.clone()),
            Some(first) if *first != value && !self.seen_versions.contains(&value) => {
                let f = finding(RuleId::VerMixed).arg("first", first);
                self.sink.push(f);
            }
            Some(_) => {}
        }
        let shape = self
            .report
            .name
            .as_ref()
            .map(|n| n.shape)
            .unwrap_or(view.version);
        let first_sight = !self.seen_versions.contains(&value);
        if first_sight && self.seen_versions.len() < MAX_SEEN_VERSIONS {
            self.seen_versions.insert(value.clone());
        }
        if first_sight {
            if let Some(wrong) = CsvVersion::known_wrong(&value) {
                self.sink.push(
                    finding(RuleId::VerKnownWrong)
                        .arg("why_ja", &wrong.why_ja)
                        .arg("why_en", &wrong.why_en),
                );
            } else {
                match CsvVersion::lookup(&value) {
                    None => self.sink.push(finding(RuleId::VerUnknown)),
                    Some(v) if v.status == VersionStatus::Historical => {
                        self.sink.push(finding(RuleId::VerUnknown))
                    }
                    Some(v) => {
                        if v.status == VersionStatus::Withdrawn && shape != SpecVersion::V40 {
                            self.sink.push(finding(RuleId::VerLegacy));
                        }
                        if !v.accepted_by(shape) {
                            self.sink
                                .push(finding(RuleId::VerNameMismatch).arg("shape", shape));
                        }
                    }
                }
            }
        }
        if let Some(month) = month
            && !self.version_month_checked
        {
            self.version_month_checked = true;
            let Some(v) = CsvVersion::lookup(&value) else {
                return;
            };
            if v.applies_from > month {
                self.sink.push(
                    finding(RuleId::VerNotYetApplicable)
                        .arg("from", v.applies_from)
                        .arg("month", month),
                );
            } else if let Some(current) = CsvVersion::in_force(month)
                && v.status == VersionStatus::Current
                && current.applies_from > v.applies_from
            {
                self.sink.push(
                    finding(RuleId::VerSuperseded)
                        .arg("current", &current.value)
                        .arg("month", month),
                );
            }
        }
    }

    /// The key of a record from its key columns; `None` when a column is missing or a value is
    /// longer than any key value of the standard (such a value is a finding already, and keeping
    /// it would let memory grow with the input).
    fn key_of(&self, view: &LayoutView, columns: &[String]) -> Option<String> {
        let mut parts = Vec::with_capacity(columns.len());
        for c in columns {
            let v = self.value(view, c)?;
            if v.len() > MAX_KEY_PART_BYTES {
                return None;
            }
            parts.push(v);
        }
        Some(parts.join("/"))
    }

    fn collect_keys(&mut self, rec: &RawRecord, view: &LayoutView) {
        let Some(kind) = self.report.kind else { return };
        let line = rec.start.line;
        if kind == FileKind::UpHosoku {
            let plan = self.value(view, "対象年月") == Some("000000");
            let cols = units::key_columns(if plan {
                "UPHOSOKU_PLAN"
            } else {
                "UPHOSOKU_MONTH"
            });
            if let Some(key) = self.key_of(view, cols) {
                let map = if plan {
                    &mut self.report.keys.hosoku_plan
                } else {
                    &mut self.report.keys.hosoku_month
                };
                map.entry(key).or_insert(line);
            }
            return;
        }
        if let Some(key) = self.key_of(view, units::key_columns(kind.prefix())) {
            self.report.keys.main.entry(key).or_insert(line);
        }
        if kind == FileKind::UpKihon
            && let Some(image) = self.value(view, "家族構成 画像ファイル名")
            && !image.is_empty()
        {
            self.report
                .keys
                .images
                .entry(image.to_owned())
                .or_insert(line);
        }
    }

    /// 福祉用具 codes and service types of 6表/7表 rows.
    fn check_services(&mut self, rec: &RawRecord, view: &LayoutView, sikyu: bool) {
        let Some(code) = self.value(view, "サービスコード").map(str::to_owned) else {
            return;
        };
        if code.len() < 2 || (sikyu && is_summary_code(&code)) {
            return;
        }
        let Some(stype) = ServiceTypeCode::of_service_code(&code) else {
            return;
        };
        match codes::service_type(stype.as_str()) {
            None => {
                let f = self
                    .field_finding(RuleId::FldUnknownServiceType, rec, view, "サービスコード")
                    .value(&code)
                    .arg("code", stype);
                self.sink.push(f);
            }
            Some(t) if !t.linked => {
                let f = self
                    .field_finding(RuleId::FldServiceNotLinked, rec, view, "サービスコード")
                    .value(&code)
                    .arg("code", stype)
                    .arg("name", &t.name);
                self.sink.push(f);
            }
            Some(_) => {}
        }
        let (Some(tais), Some(notified)) = (
            self.value(view, "TAISコード"),
            self.value(view, "福祉用具届出コード"),
        ) else {
            return; // V3 layouts have no equipment columns
        };
        let (tais_empty, notified_empty) = (tais.is_empty(), notified.is_empty());
        if codes::is_equipment_rental(stype.as_str()) {
            if tais_empty && notified_empty {
                let f = self
                    .field_finding(RuleId::EqpCodeMissing, rec, view, "TAISコード")
                    .arg("code", stype);
                self.sink.push(f);
            }
        } else {
            for (empty, name) in [
                (tais_empty, "TAISコード"),
                (notified_empty, "福祉用具届出コード"),
            ] {
                if !empty {
                    let f = self
                        .field_finding(RuleId::EqpCodeOnOtherService, rec, view, name)
                        .arg("code", stype);
                    self.sink.push(f);
                }
            }
        }
    }

    fn track_totals(&mut self, rec: &RawRecord, view: &LayoutView) {
        let Some(user) = self.key_of(view, units::key_columns("UPSIKYU")) else {
            return;
        };
        let code = self.value(view, "サービスコード").unwrap_or("").to_owned();
        let units_value = self.value(view, "単位数").unwrap_or("").to_owned();
        let office = self
            .value(view, "サービス事業所コード")
            .unwrap_or("")
            .to_owned();
        let line = rec.start.line;
        if is_summary_code(&code) {
            if units_value != "0" && !units_value.is_empty() {
                let f = self
                    .field_finding(RuleId::TotSummaryUnits, rec, view, "単位数")
                    .arg("value", &code)
                    .arg("units", &units_value);
                self.sink.push(f);
            }
            if code == GRAND_TOTAL_CODE && office != "9999999999" {
                let f = self
                    .field_finding(
                        RuleId::TotGrandTotalOffice,
                        rec,
                        view,
                        "サービス事業所コード",
                    )
                    .value(&office);
                self.sink.push(f);
            }
        }
        let entry = self.sikyu_users.entry(user).or_insert_with(|| SikyuUser {
            first_line: line,
            ..Default::default()
        });
        if code == GRAND_TOTAL_CODE {
            entry.has_grand_total = true;
        } else if is_summary_code(&code) {
            entry.subtotals.insert(code.clone(), (code.clone(), line));
        } else if let Some(stype) = ServiceTypeCode::of_service_code(&code)
            && code.len() == 6
        {
            *entry
                .code_rows
                .entry(stype.as_str().to_owned())
                .or_insert(0) += 1;
        }
    }

    fn track_numbering(&mut self, rec: &RawRecord, view: &LayoutView) {
        let Some(plan) = self.key_of(view, units::key_columns("UP2KYO")) else {
            return;
        };
        let issue = self.value(view, "課題ＮＯ").unwrap_or("").to_owned();
        let goal = self.value(view, "援助目標ＮＯ").unwrap_or("").to_owned();
        let item = self.value(view, "援助内容ＮＯ").unwrap_or("").to_owned();
        let entry = self.plan_numbers.entry(plan.clone()).or_default();
        // Later lines of one 課題/目標 may leave those numbers empty (L4 L1438-1443): carry them forward.
        if !issue.is_empty() {
            entry.issue = issue;
        }
        if !goal.is_empty() {
            entry.goal = goal;
        }
        if item.is_empty()
            || [&entry.issue, &entry.goal, &item]
                .iter()
                .any(|v| v.len() > MAX_KEY_PART_BYTES)
        {
            return;
        }
        let triple = (entry.issue.clone(), entry.goal.clone(), item);
        let line = rec.start.line;
        if let Some(&first) = entry.seen.get(&triple) {
            let f = self
                .field_finding(RuleId::PlnDuplicateNumber, rec, view, "援助内容ＮＯ")
                .arg("plan", &plan)
                .arg("issue", &triple.0)
                .arg("goal", &triple.1)
                .arg("item", &triple.2)
                .arg("first_line", first);
            self.sink.push(f);
        } else {
            entry.seen.insert(triple, line);
        }
    }

    /// Ends the file: file-level rules, then the report.
    pub fn finish(mut self, end: crate::tokenizer::Position) -> FileReport {
        if self.report.records == 0 && self.report.io_error.is_none() {
            self.sink.push(Finding::new(RuleId::CsvEmptyFile).at(end));
        }
        for (user, u) in std::mem::take(&mut self.sikyu_users) {
            let at = Location {
                line: u.first_line,
                column: 1,
                offset: 0,
            };
            if !u.has_grand_total {
                self.sink.push(
                    Finding::new(RuleId::TotMissingGrandTotal)
                        .at(at)
                        .arg("user", &user),
                );
            }
            for (stype, rows) in &u.code_rows {
                if *rows > 1 && !u.subtotals.contains_key(&format!("{stype}AAAA")) {
                    self.sink.push(
                        Finding::new(RuleId::TotMissingSubtotal)
                            .at(at)
                            .arg("code", stype)
                            .arg("user", &user),
                    );
                }
            }
            for (code, line) in u.subtotals.values() {
                if !u.code_rows.contains_key(code.get(..2).unwrap_or(code)) {
                    let at = Location {
                        line: *line,
                        column: 1,
                        offset: 0,
                    };
                    self.sink.push(
                        Finding::new(RuleId::TotOrphanSubtotal)
                            .at(at)
                            .value(code)
                            .arg("user", &user),
                    );
                }
            }
        }
        self.report.bytes = end.offset;
        // Name-level findings first, then by position.
        self.sink
            .findings
            .sort_by_key(|f| f.location.map(|l| (l.line, l.column)));
        self.report.findings = self.sink.findings;
        self.report.suppressed = self.sink.suppressed;
        self.report
    }
}

/// Name-level findings of a parsed name.
fn check_name(name: &FileName, sink: &mut Sink) {
    if !name.kind.is_image() && name.extension != "CSV" {
        sink.push(Finding::new(RuleId::NameLowercaseExtension).arg("found", &name.extension));
    }
    if name.sender.office == name.receiver.office {
        sink.push(Finding::new(RuleId::NameSameOffice).arg("office", &name.sender.office));
    }
    if !name.serial.is_valid_datetime() {
        sink.push(Finding::new(RuleId::NameSerialNotDateTime).arg("serial", &name.serial));
    }
    if name.shape == SpecVersion::V40 {
        sink.push(Finding::new(RuleId::NameV40Shape));
    }
    if name.kind == FileKind::UpKihon && name.month.is_some() {
        sink.push(Finding::new(RuleId::NameKihonMonth));
    }
    for (party, party_ja, p) in [
        ("sender", "送信元の", &name.sender),
        ("receiver", "送信先の", &name.receiver),
    ] {
        let Some(stype) = p.service_type() else {
            continue;
        };
        match codes::service_type(stype.as_str()) {
            None => sink.push(
                Finding::new(RuleId::NameUnknownServiceType)
                    .arg("party", party)
                    .arg("party_ja", party_ja)
                    .arg("code", stype),
            ),
            Some(t) if !t.linked => sink.push(
                Finding::new(RuleId::NameServiceTypeNotLinked)
                    .arg("code", stype)
                    .arg("name", &t.name),
            ),
            Some(_) => {}
        }
    }
    if !name.kind.exists_in(name.shape) {
        sink.push(
            Finding::new(RuleId::NameMalformed)
                .arg("segment", "file kind prefix")
                .arg("segment_ja", "ファイル種別（接頭辞）")
                .arg("found", name.kind.prefix())
                .arg(
                    "reason",
                    format!(
                        "{} exists only from V4 on, but the name has the V3 shape",
                        name.kind.prefix()
                    ),
                )
                .arg(
                    "expected",
                    crate::filename::template(name.kind, SpecVersion::V41),
                ),
        );
    }
}

/// Validates one file read from `reader`. `path` is shown in findings; `file_name` is its bare name.
pub fn validate_reader<R: Read>(
    path: &str,
    file_name: &str,
    reader: R,
    options: Options,
) -> FileReport {
    let mut validator = FileValidator::new(path, file_name, options);
    if validator.kind() == Some(FileKind::UpKihonImage) {
        return validate_image(validator, reader);
    }
    let mut tokenizer = Tokenizer::new(reader);
    let mut rec = RawRecord::default();
    loop {
        match tokenizer.next_record(&mut rec) {
            Ok(true) => {
                let issues = tokenizer.take_issues();
                validator.token_issues(issues);
                validator.record(&rec);
            }
            Ok(false) => break,
            Err(e) => {
                validator.report.io_error = Some(e.to_string());
                break;
            }
        }
    }
    let issues = tokenizer.take_issues();
    validator.token_issues(issues);
    let end = tokenizer.position();
    validator.finish(end)
}

/// Validates a whole file held in memory.
pub fn validate_bytes(path: &str, file_name: &str, bytes: &[u8], options: Options) -> FileReport {
    validate_reader(path, file_name, bytes, options)
}

fn validate_image<R: Read>(mut validator: FileValidator, mut reader: R) -> FileReport {
    let mut head = [0u8; 3];
    let mut got = 0;
    while got < 3 {
        match reader.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) => {
                validator.report.io_error = Some(e.to_string());
                break;
            }
        }
    }
    let mut total = got as u64;
    let mut sink = [0u8; 8192];
    while let Ok(n) = reader.read(&mut sink) {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    if head[..got] != [0xFF, 0xD8, 0xFF] {
        validator.sink.push(Finding::new(RuleId::FileNotJpeg));
    }
    validator.report.records = 1;
    let end = crate::tokenizer::Position {
        offset: total,
        line: 1,
        column: 1,
    };
    validator.finish(end)
}
