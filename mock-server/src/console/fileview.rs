//! A file of the standard as a table: one row per record, the layout's column names as headers
//! ([`careplan_spec::layout::view`] for the file's kind and version), each cell decoded from MS932
//! with invisible characters shown the way `cpkit validate` shows them
//! ([`careplan_spec::validate::visible`]), and the cells, records and file the spec core's findings
//! point at marked with their rule and message.
//!
//! A finding is placed by its record and column number; one without them (a tokenizer deviation)
//! by its byte offset; what has neither is a finding about the whole file.

use careplan_spec::layout;
use careplan_spec::ms932;
use careplan_spec::tokenizer::{RawRecord, Tokenizer};
use careplan_spec::validate::visible;
use serde::Serialize;

use super::checks::{self, FindingView};

/// Records shown at most (the rest are counted).
pub const MAX_ROWS: usize = 500;

/// A piece of a cell: plain text, or one invisible character shown as a sign.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Seg {
    pub text: String,
    /// `U+000D` for an invisible character; None for plain text.
    pub code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Cell {
    pub no: u16,
    pub segs: Vec<Seg>,
    pub quoted: bool,
    pub findings: Vec<FindingView>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub record: u32,
    pub line: u32,
    pub cells: Vec<Cell>,
    /// Findings about the record as a whole (column count, record rules).
    pub findings: Vec<FindingView>,
    pub marked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Column {
    pub no: u16,
    pub name: String,
}

/// A file as a table.
#[derive(Debug, Clone, Serialize)]
pub struct FileTable {
    pub name: String,
    pub size: usize,
    pub check: checks::FileCheck,
    /// False when the file is not a CSV of the standard (an attachment or the JPEG image).
    pub table: bool,
    pub columns: Vec<Column>,
    pub rows: Vec<Row>,
    /// Records beyond [`MAX_ROWS`].
    pub hidden_rows: u32,
    /// Findings placed neither on a cell nor on a record.
    pub file_findings: Vec<FindingView>,
}

/// Splits text into plain runs and invisible characters.
pub fn segments(text: &str) -> Vec<Seg> {
    if visible(text) == text {
        return vec![Seg {
            text: text.to_owned(),
            code: None,
        }];
    }
    let mut out: Vec<Seg> = Vec::new();
    let mut buf = [0u8; 4];
    for c in text.chars() {
        let one = c.encode_utf8(&mut buf);
        let shown = visible(one);
        if shown == *one {
            match out.last_mut() {
                Some(last) if last.code.is_none() => last.text.push(c),
                _ => out.push(Seg {
                    text: one.to_owned(),
                    code: None,
                }),
            }
        } else {
            out.push(Seg {
                text: shown,
                code: Some(format!("U+{:04X}", c as u32)),
            });
        }
    }
    out
}

/// Lays a file out as a table with its findings.
pub fn table(name: &str, bytes: &[u8]) -> FileTable {
    let check = checks::check(&[(name, bytes)])
        .files
        .pop()
        .expect("one file in, one file out");
    // The kind and version the validator read the file with (from its name, or its content).
    let kind = check
        .kind
        .as_deref()
        .and_then(careplan_spec::FileKind::from_prefix);
    let version = check
        .version
        .as_deref()
        .and_then(careplan_spec::SpecVersion::parse);
    let mut out = FileTable {
        name: name.to_owned(),
        size: bytes.len(),
        table: check.standard && !kind.is_some_and(|k| k.is_image()),
        columns: Vec::new(),
        rows: Vec::new(),
        hidden_rows: 0,
        file_findings: Vec::new(),
        check,
    };
    let mut pending: Vec<FindingView> = out.check.findings.clone();
    if out.table {
        if let Some(l) = kind.zip(version).and_then(|(k, v)| layout::view(k, v)) {
            out.columns = l
                .columns
                .iter()
                .map(|c| Column {
                    no: c.no,
                    name: c.name().to_owned(),
                })
                .collect();
        }
        fill_rows(&mut out, bytes, &mut pending);
    }
    out.file_findings = pending;
    out
}

/// Reads the records, places the findings, and widens the header to the widest record.
fn fill_rows(out: &mut FileTable, bytes: &[u8], pending: &mut Vec<FindingView>) {
    let mut tokenizer = Tokenizer::new(bytes);
    let mut rec = RawRecord::default();
    // (record number, start offset, field start offsets) of every record, for offset placement.
    let mut starts: Vec<(u32, u64, Vec<u64>)> = Vec::new();
    while tokenizer.next_record(&mut rec).unwrap_or(false) {
        let _ = tokenizer.take_issues();
        starts.push((
            rec.number,
            rec.start.offset,
            rec.fields().iter().map(|f| f.start.offset).collect(),
        ));
        if out.rows.len() >= MAX_ROWS {
            out.hidden_rows += 1;
            continue;
        }
        let cells = rec
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let (text, _) = ms932::decode(&f.bytes);
                Cell {
                    no: (i + 1) as u16,
                    segs: segments(&text),
                    quoted: f.quoted,
                    findings: Vec::new(),
                }
            })
            .collect();
        out.rows.push(Row {
            record: rec.number,
            line: rec.start.line,
            cells,
            findings: Vec::new(),
            marked: false,
        });
    }
    let widest = out.rows.iter().map(|r| r.cells.len()).max().unwrap_or(0);
    for no in out.columns.len() + 1..=widest {
        out.columns.push(Column {
            no: no as u16,
            name: String::new(),
        });
    }
    let mut left = Vec::new();
    for f in pending.drain(..) {
        let place = match (f.record, f.field_no) {
            (Some(r), Some(n)) => Some((r, Some(n))),
            (Some(r), None) => Some((r, None)),
            _ => f.offset.and_then(|off| {
                let (r, _, fields) = starts.iter().rev().find(|(_, s, _)| *s <= off)?;
                let n = fields
                    .iter()
                    .rposition(|s| *s <= off)
                    .map(|i| (i + 1) as u16);
                Some((*r, n))
            }),
        };
        let row = place.and_then(|(r, n)| {
            let row = out.rows.iter_mut().find(|row| row.record == r)?;
            Some((row, n))
        });
        match row {
            Some((row, Some(n))) if (n as usize) <= row.cells.len() && n > 0 => {
                row.marked = true;
                row.cells[n as usize - 1].findings.push(f);
            }
            Some((row, _)) => {
                row.marked = true;
                row.findings.push(f);
            }
            None => left.push(f),
        }
    }
    *pending = left;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn golden_file(dir: &str) -> (String, Vec<u8>) {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../golden")
            .join(dir);
        let path = std::fs::read_dir(&root)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| p.extension().is_some_and(|e| e == "CSV"))
            .unwrap();
        (
            path.file_name().unwrap().to_str().unwrap().to_owned(),
            std::fs::read(&path).unwrap(),
        )
    }

    #[test]
    fn invisible_characters_become_signs_with_their_code_point() {
        assert_eq!(
            segments("ab"),
            [Seg {
                text: "ab".into(),
                code: None
            }]
        );
        let s = segments("a\tb\u{3000}");
        assert_eq!(s.len(), 4);
        assert_eq!(s[1].text, "␉");
        assert_eq!(s[1].code.as_deref(), Some("U+0009"));
        assert_eq!(s[2].text, "b");
        assert_eq!(s[3].code.as_deref(), Some("U+3000"));
    }

    #[test]
    fn a_valid_file_has_the_layouts_column_names_and_no_marks() {
        let (name, bytes) = golden_file("valid/v4.1/riyohyo-minimal");
        let t = table(&name, &bytes);
        assert!(t.table);
        assert!(
            t.columns.iter().any(|c| c.name == "保険者番号"),
            "{:?}",
            t.columns
        );
        assert!(!t.rows.is_empty());
        assert!(t.rows.iter().all(|r| !r.marked));
        assert!(t.file_findings.is_empty());
    }

    #[test]
    fn the_offending_cell_carries_its_rule() {
        let (name, bytes) = golden_file("invalid/FLD005-unquoted-text");
        let t = table(&name, &bytes);
        let marked: Vec<(&Row, &Cell)> = t
            .rows
            .iter()
            .flat_map(|r| r.cells.iter().map(move |c| (r, c)))
            .filter(|(_, c)| c.findings.iter().any(|f| f.rule == "FLD005"))
            .collect();
        assert_eq!(marked.len(), 1, "one cell is marked");
        let (row, cell) = marked[0];
        assert!(row.marked && !cell.quoted);
        let header = &t.columns[cell.no as usize - 1];
        assert_eq!(header.name, "サービス事業所名");
    }

    #[test]
    fn a_tab_inside_text_is_shown_and_marked() {
        let (name, bytes) = golden_file("invalid/ENC008-tab-in-text");
        let t = table(&name, &bytes);
        let cell = t
            .rows
            .iter()
            .flat_map(|r| &r.cells)
            .find(|c| !c.findings.is_empty())
            .expect("a marked cell");
        assert!(
            cell.segs
                .iter()
                .any(|s| s.code.as_deref() == Some("U+0009")),
            "{:?}",
            cell.segs
        );
    }

    #[test]
    fn attachments_have_no_table() {
        let t = table("memo.txt", b"hello");
        assert!(!t.table && t.rows.is_empty() && !t.check.standard);
    }
}
