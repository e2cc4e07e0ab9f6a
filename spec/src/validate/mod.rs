//! The validator of one file: the driver that reads a file record by record and hands each
//! record to the rule families of [`crate::checks`].
//!
//! [`validate_reader`] streams one file through the tokenizer: memory holds one record, the
//! families' per-file state (a few strings per user) and the findings, never the file. Per record
//! the driver reports the tokenizer's deviations, decodes every field strictly as MS932, skips a
//! header row, identifies a renamed file from its first record and checks the column count; the
//! families do the rest. It returns a [`FileReport`]; [`crate::units::check_units`] then groups
//! reports into send units.

mod text;

use std::io::Read;

use crate::checks::{self, Check, FileContext, Hook, Out, Record};
use crate::domain::Month;
use crate::filename::FileName;
use crate::finding::Finding;
use crate::identify;
use crate::kind::FileKind;
use crate::layout::{self, LayoutView};
use crate::ms932::{self, IssueKind};
use crate::profile::Profile;
use crate::rules::RuleId;
use crate::sink::Sink;
use crate::tokenizer::{MAX_FIELD_BYTES, MAX_FIELDS, RawRecord, TokenIssue, Tokenizer};

pub use crate::report::{FileKeys, FileReport, ServiceTally};
pub use text::visible;
use text::{Locator, hex};

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

/// The rules the driver itself raises (the families declare theirs in [`crate::checks`]).
pub static DRIVER_RULES: &[RuleId] = &[
    RuleId::EncInvalidByte,
    RuleId::EncUnassigned,
    RuleId::EncUserDefined,
    RuleId::EncNecSpecial,
    RuleId::EncIbmExtension,
    RuleId::EncBom,
    RuleId::EncLooksUtf8,
    RuleId::CsvUnterminatedQuote,
    RuleId::CsvStrayQuote,
    RuleId::CsvTextAfterQuote,
    RuleId::CsvLineEnding,
    RuleId::CsvMixedLineEndings,
    RuleId::CsvBlankLine,
    RuleId::CsvNoFinalNewline,
    RuleId::CsvEmptyFile,
    RuleId::CsvOversize,
    RuleId::NameMalformed,
    RuleId::NameIdentifiedFromContent,
    RuleId::NameUnidentified,
    RuleId::NameNoRule,
    RuleId::RecColumnCount,
    RuleId::RecHeaderRow,
    RuleId::FileNotJpeg,
];

/// The decoded text of one record: every field's text in order in one string (between two, maybe
/// their separator and quotes), and where each is. Reused between records.
#[derive(Debug, Default)]
struct Values {
    text: String,
    /// Where each field's text is in `text`: `begin..end`.
    spans: Vec<(u32, u32)>,
}

impl Values {
    /// Number of fields.
    fn len(&self) -> usize {
        self.spans.len()
    }

    /// The text of field `i`; panics when `i >= len()`, as indexing a slice does.
    #[inline]
    fn get(&self, i: usize) -> &str {
        let (begin, end) = self.spans[i];
        &self.text[begin as usize..end as usize]
    }

    /// Every field's text, in order.
    fn iter(&self) -> impl Iterator<Item = &str> {
        (0..self.len()).map(|i| self.get(i))
    }
}

/// An empty vector of any lifetime, keeping the allocation of `v`: the slices of one record are
/// collected into the vector the previous record left. (Collecting a mapped `IntoIter` of a
/// same-sized type reuses its buffer; nothing is mapped, `v` is empty.)
fn recycle<'b>(mut v: Vec<&str>) -> Vec<&'b str> {
    v.clear();
    v.into_iter().map(|_| "").collect()
}

/// The streaming validator of one file.
pub struct FileValidator {
    sink: Sink,
    report: FileReport,
    view: Option<&'static LayoutView>,
    /// Set when the name did not identify the file: the first record decides.
    identify_pending: bool,
    values: Values,
    /// The slices of `values`' text handed to the checks; empty between records (its buffer kept).
    strs: Vec<&'static str>,
    decode_issues: Vec<ms932::DecodeIssue>,
    utf8_reported: bool,
    header_checked: bool,
    /// The families' checks, built at the first record read with a known layout.
    checks: Option<Vec<Box<dyn Check>>>,
    /// Column of the record's service month, where the layout has one.
    month_column: Option<usize>,
    /// The parsed name (also in the report, which the checks write to).
    name: Option<FileName>,
    /// The bare file name as given, for a name that follows no rule (NAME011).
    file_name: String,
}

impl FileValidator {
    /// Starts validating the file `path` whose bare name is `file_name`.
    pub fn new(path: &str, file_name: &str, options: Options) -> Self {
        let mut sink = Sink::new(path, options);
        let mut report = FileReport::new(path);
        let mut identify_pending = false;
        match FileName::parse(file_name) {
            Ok(name) => {
                for family in checks::FAMILIES {
                    for hook in family.hooks {
                        if let Hook::Name(check) = hook {
                            check(&name, &mut sink);
                        }
                    }
                }
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
        let name = report.name.clone();
        Self {
            name,
            file_name: file_name.to_owned(),
            sink,
            report,
            view,
            identify_pending,
            values: Values::default(),
            strs: Vec::new(),
            decode_issues: Vec::new(),
            utf8_reported: false,
            header_checked: false,
            checks: None,
            month_column: None,
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

    /// Decodes every field of `rec` into `self.values`, reporting encoding issues. An ASCII
    /// field's text is its bytes: the record's bytes between two fields that are not ASCII
    /// (ASCII fields, separators, quotes) are copied as one block.
    fn decode(&mut self, rec: &RawRecord) {
        let text = &mut self.values.text;
        let spans = &mut self.values.spans;
        text.clear();
        spans.clear();
        let raw = rec.all_bytes();
        // Bytes of `raw` before `copied` are in `text` (copied or decoded); the ASCII bytes from
        // `copied` on will be copied at `text.len()`.
        let mut copied = 0;
        for i in 0..rec.len() {
            let span = rec.span(i);
            if rec.field_is_ascii(i) {
                let begin = text.len() + span.start - copied;
                spans.push((begin as u32, (begin + span.len()) as u32));
                continue;
            }
            push_ascii(text, &raw[copied..span.start]);
            copied = span.end;
            let begin = text.len();
            let f = rec.field(i);
            self.decode_issues.clear();
            ms932::decode_into(f.bytes, text, &mut self.decode_issues);
            if self.decode_issues.is_empty() {
                spans.push((begin as u32, text.len() as u32));
                continue;
            }
            let utf8 = self
                .decode_issues
                .iter()
                .any(|d| matches!(d.kind, IssueKind::InvalidByte | IssueKind::Unassigned))
                && std::str::from_utf8(f.bytes).is_ok_and(|s| !s.is_ascii());
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
                text.truncate(begin);
                text.push_str(std::str::from_utf8(f.bytes).unwrap_or_default());
                spans.push((begin as u32, text.len() as u32));
                continue;
            }
            spans.push((begin as u32, text.len() as u32));
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
        push_ascii(text, &raw[copied..]);
    }

    /// Validates one record.
    pub fn record(&mut self, rec: &RawRecord) {
        self.decode(rec);
        let n = rec.fields().len();

        if !self.header_checked {
            self.header_checked = true;
            let first = self.values.get(0);
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
        let Some(kind) = self.report.kind else { return };
        let ctx = FileContext {
            name: self.name.as_ref(),
            kind,
            view,
        };
        let checks = self.checks.get_or_insert_with(|| {
            checks::FAMILIES
                .iter()
                .flat_map(|f| f.hooks)
                .filter_map(|hook| match hook {
                    Hook::Records { applies, new } if applies(&ctx) => Some(new(&ctx)),
                    _ => None,
                })
                .collect()
        });
        if self.month_column.is_none() {
            self.month_column = view
                .layout
                .month_column
                .as_deref()
                .and_then(|c| view.col(c));
        }
        let mut strs = recycle(std::mem::take(&mut self.strs));
        strs.extend(self.values.iter());
        let record = Record {
            raw: rec,
            values: &strs,
            file: &ctx,
            month: self.month_column.and_then(|i| Month::parse(strs[i])),
        };
        let mut out = Out {
            sink: &mut self.sink,
            report: &mut self.report,
        };
        for check in checks.iter_mut() {
            check.record(&record, &mut out);
        }
        self.strs = recycle(strs);
    }

    fn identify(&mut self, rec: &RawRecord, n: usize) {
        let values: Vec<String> = self.values.iter().take(n).map(str::to_owned).collect();
        let guess = identify::identify(self.report.kind, &values);
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
                    // The identification is a note; the name still breaks the name rule (D-IDENTIFY).
                    self.sink.push(
                        Finding::new(RuleId::NameNoRule)
                            .arg("found", &self.file_name)
                            .arg("kind", &kind)
                            .arg("expected", crate::filename::template(g.kind, g.version)),
                    );
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

    /// Ends the file: the families' file-level rules, then the report.
    pub fn finish(mut self, end: crate::tokenizer::Position) -> FileReport {
        if self.report.records == 0 && self.report.io_error.is_none() {
            self.sink.push(Finding::new(RuleId::CsvEmptyFile).at(end));
        }
        if let (Some(mut checks), Some(kind), Some(view)) =
            (self.checks.take(), self.report.kind, self.view)
        {
            let ctx = FileContext {
                name: self.name.as_ref(),
                kind,
                view,
            };
            let mut out = Out {
                sink: &mut self.sink,
                report: &mut self.report,
            };
            for check in checks.iter_mut() {
                check.finish(&ctx, &mut out);
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

/// Appends `bytes`, all ASCII (checked by the tokenizer), to `text`.
fn push_ascii(text: &mut String, bytes: &[u8]) {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8 (checked just above, as `ms932::decode_into` does).
        text.push_str(unsafe { std::str::from_utf8_unchecked(bytes) });
    } else {
        // Not reached: the tokenizer flags every field with a byte outside ASCII.
        debug_assert!(false, "a field marked ASCII holds {bytes:02X?}");
        text.push_str(&String::from_utf8_lossy(bytes));
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
                let unlisted = tokenizer.take_unlisted_blank_lines();
                validator
                    .sink
                    .count_unlisted(RuleId::CsvBlankLine, unlisted);
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
    let unlisted = tokenizer.take_unlisted_blank_lines();
    validator
        .sink
        .count_unlisted(RuleId::CsvBlankLine, unlisted);
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
