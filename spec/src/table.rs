//! A standard CSV file as a table: its parsed name, its layout in the name's version, and its records
//! as decoded text — read strictly, and written back in any version's layout by column name.
//!
//! This is what software built on the spec core (the converter, the harness's simulated vendor
//! products) reads and writes. Reading refuses what cannot be carried over faithfully (bad MS932,
//! broken quoting, wrong column counts) with the file, line and column; validation proper stays
//! with [`crate::validate`]. Writing maps columns **by layout name**, so a V3 record written in a
//! V4.1 layout gets empty new columns, and [`losses`] lists what a V4 record would lose in V3.

use crate::filename::{FileName, NameError};
use crate::layout::{self, LayoutView};
use crate::ms932;
use crate::tokenizer::{RawRecord, TokenIssue, Tokenizer};

/// A decoded standard CSV file.
#[derive(Debug, Clone)]
pub struct Table {
    /// The file name as given.
    pub file: String,
    pub name: FileName,
    pub view: &'static LayoutView,
    /// One entry per record, one value per column of `view`.
    pub records: Vec<Vec<String>>,
}

/// Why a file could not be read as a table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    #[error("{0}")]
    Name(#[from] NameError),
    #[error("{file}: line {line}, column {column}: {reason}")]
    At {
        file: String,
        line: u32,
        column: u32,
        reason: String,
    },
    #[error("{file}: {reason}")]
    File { file: String, reason: String },
}

impl TableError {
    fn at(file: &str, line: u32, column: u32, reason: impl Into<String>) -> Self {
        Self::At {
            file: file.to_owned(),
            line,
            column,
            reason: reason.into(),
        }
    }
}

/// How free-text fields are quoted when writing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quoting {
    /// Every non-empty free-text field in `""` (L4 L128-129), as the standard asks.
    #[default]
    FreeText,
    /// Only fields containing a comma, a quote or a line break (a common non-conformant writer).
    WhenNeeded,
}

/// Options for [`write`].
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub quoting: Quoting,
    /// The CSVバージョン written in column No.1; default: the target layout's version value.
    pub csv_version: Option<String>,
}

impl Table {
    /// Reads a file of the standard (not the 利用者基本情報 JPEG) in the layout its name announces.
    pub fn read(file: &str, bytes: &[u8]) -> Result<Table, TableError> {
        let name = FileName::parse(file)?;
        if name.kind.is_image() {
            return Err(TableError::File {
                file: file.to_owned(),
                reason: "an image file has no records".to_owned(),
            });
        }
        let view = layout::view(name.kind, name.shape).ok_or_else(|| {
            TableError::at(
                file,
                1,
                1,
                format!(
                    "{} does not exist in the {} shape of its name",
                    name.kind, name.shape
                ),
            )
        })?;
        let mut tokenizer = Tokenizer::new(bytes);
        let mut rec = RawRecord::default();
        let mut records = Vec::new();
        loop {
            let more = tokenizer
                .next_record(&mut rec)
                .map_err(|e| TableError::at(file, 0, 0, e.to_string()))?;
            if let Some(issue) = tokenizer.take_issues().into_iter().find_map(structural) {
                let (at, what) = issue;
                return Err(TableError::at(file, at.line, at.column, what));
            }
            if !more {
                break;
            }
            if rec.fields().len() != view.len() {
                return Err(TableError::at(
                    file,
                    rec.start.line,
                    1,
                    format!(
                        "{} columns, the {} layout of {} has {}",
                        rec.fields().len(),
                        view.version,
                        name.kind,
                        view.len()
                    ),
                ));
            }
            let mut values = Vec::with_capacity(view.len());
            for f in rec.fields() {
                let (text, issues) = ms932::decode(f.bytes);
                if !issues.is_empty() {
                    return Err(TableError::at(
                        file,
                        f.start.line,
                        f.start.column,
                        "the field is not valid MS932 (cpkit validate shows the character)",
                    ));
                }
                values.push(text);
            }
            records.push(values);
        }
        Ok(Table {
            file: file.to_owned(),
            name,
            view,
            records,
        })
    }

    /// The value of a column (by layout name) in one of this table's records.
    pub fn value<'a>(&self, record: &'a [String], column: &str) -> Option<&'a str> {
        value(self.view, record, column)
    }
}

/// A quoting or size problem that would change the data if carried over; line-ending and
/// blank-line deviations do not.
fn structural(issue: TokenIssue) -> Option<(crate::tokenizer::Position, &'static str)> {
    match issue {
        TokenIssue::UnterminatedQuote { at } => Some((at, "a quoted field is never closed")),
        TokenIssue::StrayQuote { at } => Some((at, "a quote inside an unquoted field")),
        TokenIssue::TextAfterQuote { at } => Some((at, "text after a closing quote")),
        TokenIssue::FieldTooLarge { at } => Some((at, "a field larger than the tokenizer keeps")),
        TokenIssue::TooManyFields { at } => Some((at, "more fields than any layout has")),
        _ => None,
    }
}

/// The value of `column` (a layout name, or a [`column_keys`] key) in a record laid out as `view`.
pub fn value<'a>(view: &LayoutView, record: &'a [String], column: &str) -> Option<&'a str> {
    position(view, column)
        .and_then(|i| record.get(i))
        .map(String::as_str)
}

/// A unique key per column of a layout: its name, and `name#2`, `name#3` … for later columns of
/// the same name (第3表 has 開始時間 and 終了時間 twice: the service and the daily-life columns).
pub fn column_keys(view: &LayoutView) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    view.columns
        .iter()
        .map(|c| {
            let n = seen.entry(c.name()).or_insert(0);
            *n += 1;
            if *n == 1 {
                c.name().to_owned()
            } else {
                format!("{}#{n}", c.name())
            }
        })
        .collect()
}

/// The position of a column key (see [`column_keys`]) in a layout.
pub fn position(view: &LayoutView, key: &str) -> Option<usize> {
    let (name, nth) = match key.rsplit_once('#') {
        Some((name, n)) => (name, n.parse::<usize>().ok()?),
        None => (key, 1),
    };
    view.columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.name() == name)
        .nth(nth.checked_sub(1)?)
        .map(|(i, _)| i)
}

fn needs_quotes(v: &str) -> bool {
    v.contains([',', '"', '\r', '\n'])
}

/// Serializes records laid out as `from` in the layout `to`: columns matched by name (missing ones
/// empty), CRLF after every record, MS932. Fails on a character MS932 cannot hold.
pub fn write(
    file: &str,
    from: &LayoutView,
    to: &LayoutView,
    records: &[Vec<String>],
    options: &WriteOptions,
) -> Result<Vec<u8>, TableError> {
    let csv_version = options
        .csv_version
        .as_deref()
        .unwrap_or(to.version.csv_version());
    let keys = column_keys(to);
    let mut text = String::new();
    for record in records {
        for (i, col) in to.columns.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            let v = if i == 0 {
                csv_version
            } else {
                value(from, record, &keys[i]).unwrap_or("")
            };
            let quote = match options.quoting {
                Quoting::FreeText => col.format().is_free_text() && !v.is_empty(),
                Quoting::WhenNeeded => needs_quotes(v),
            };
            if quote {
                text.push('"');
                text.push_str(&v.replace('"', "\"\""));
                text.push('"');
            } else {
                text.push_str(v);
            }
        }
        text.push_str("\r\n");
    }
    let (bytes, issues) = ms932::encode(&text, false);
    if let Some(issue) = issues
        .iter()
        .find(|i| i.kind == ms932::EncodeIssueKind::Unmappable)
    {
        return Err(TableError::File {
            file: file.to_owned(),
            reason: format!("{:?} cannot be written in MS932", issue.ch),
        });
    }
    Ok(bytes)
}

/// What records laid out as `from` would lose in the layout `to`: values in columns `to` lacks and
/// values longer than `to` allows. One line per value, naming the record, the column and the value.
pub fn losses(from: &LayoutView, to: &LayoutView, records: &[Vec<String>]) -> Vec<String> {
    let keys = column_keys(from);
    let mut out = Vec::new();
    for (line, record) in records.iter().enumerate() {
        for (i, col) in from.columns.iter().enumerate() {
            let Some(v) = record.get(i) else { continue };
            if v.is_empty() || i == 0 {
                continue;
            }
            match position(to, &keys[i]) {
                None => out.push(format!(
                    "line {}: No.{} {} = {v:?}",
                    line + 1,
                    col.no,
                    col.name()
                )),
                Some(j) => {
                    if let Some(max) = to.columns[j].len
                        && v.chars().count() > usize::from(max)
                    {
                        out.push(format!(
                            "line {}: No.{} {} = {v:?} is longer than {max} in {}",
                            line + 1,
                            col.no,
                            col.name(),
                            to.version
                        ));
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::version::SpecVersion;

    const PLAN: &str = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";

    fn golden(case: &str, name: &str) -> Vec<u8> {
        let path = format!(
            "{}/../golden/valid/{case}/{name}",
            env!("CARGO_MANIFEST_DIR")
        );
        std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    #[test]
    fn a_golden_file_reads_and_writes_back_byte_for_byte() {
        let bytes = golden("v4.1/riyohyo-minimal", PLAN);
        let t = Table::read(PLAN, &bytes).expect("a golden file reads");
        assert_eq!(t.records.len(), 1);
        assert_eq!(t.value(&t.records[0], "サービスコード"), Some("151215"));
        let again = write(PLAN, t.view, t.view, &t.records, &WriteOptions::default()).unwrap();
        assert_eq!(again, bytes);
    }

    /// 第3表 names 開始時間 and 終了時間 twice; a rewrite must keep both pairs apart.
    #[test]
    fn a_layout_with_repeated_column_names_writes_back_byte_for_byte() {
        let name = "UP3KYO_0310000100_43_0320000201_11_20250425100000.CSV";
        let bytes = golden("v4.1/kyotaku-plan-rich", name);
        let t = Table::read(name, &bytes).unwrap();
        let keys = column_keys(t.view);
        assert!(keys.iter().any(|k| k == "開始時間#2"), "{keys:?}");
        assert_eq!(
            position(t.view, "開始時間#2").map(|i| keys[i].as_str()),
            Some("開始時間#2")
        );
        let again = write(name, t.view, t.view, &t.records, &WriteOptions::default()).unwrap();
        assert!(again == bytes, "the rewrite differs from the golden bytes");
    }

    #[test]
    fn writing_in_v3_drops_the_v4_columns_and_losses_name_them() {
        let bytes = golden(
            "v4.1/riyohyo-rich",
            "UPPLAN_202505_0310000100_43_0320000201_11_20250425110000.CSV",
        );
        let t = Table::read(
            "UPPLAN_202505_0310000100_43_0320000201_11_20250425110000.CSV",
            &bytes,
        )
        .unwrap();
        let v3 = layout::view(t.name.kind, SpecVersion::V3).unwrap();
        let lost = losses(t.view, v3, &t.records);
        assert!(lost.iter().any(|l| l.contains("TAISコード")), "{lost:?}");
        let out = write("x", t.view, v3, &t.records, &WriteOptions::default()).unwrap();
        let (text, _) = ms932::decode(&out);
        let first = text.lines().next().unwrap();
        assert!(first.starts_with("202208,131016,"), "{first}");
        assert_eq!(first.split(',').count(), v3.len());
    }

    #[test]
    fn when_needed_quoting_leaves_plain_free_text_bare() {
        let bytes = golden("v4.1/riyohyo-minimal", PLAN);
        let t = Table::read(PLAN, &bytes).unwrap();
        let options = WriteOptions {
            quoting: Quoting::WhenNeeded,
            csv_version: Some("202410".to_owned()),
        };
        let out = write(PLAN, t.view, t.view, &t.records, &options).unwrap();
        let (text, _) = ms932::decode(&out);
        assert!(text.starts_with("202410,"), "{text}");
        assert!(text.contains(",佐藤　花子,"), "{text}");
    }

    #[test]
    fn broken_files_are_refused_with_a_position() {
        let err = Table::read(PLAN, b"202407,\"unterminated\r\n").unwrap_err();
        assert!(matches!(err, TableError::At { line: 1, .. }), "{err}");
        let err = Table::read(PLAN, b"202407,131016\r\n").unwrap_err();
        assert!(err.to_string().contains("2 columns"), "{err}");
        let err = Table::read("plan.csv", b"").unwrap_err();
        assert!(matches!(err, TableError::Name(_)), "{err}");
    }
}
