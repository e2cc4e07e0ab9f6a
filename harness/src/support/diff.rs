//! `cpkit diff A B`: what differs between two files, folders or send units of the standard — what
//! was sent against what the receiver re-exported, or a file before and after a product touched it.
//!
//! Files are paired by kind, month, sender and receiver (the ファイル連番 and name shape may differ);
//! two files given directly are paired whatever their names. Records are paired by the fields that
//! identify them in the data tables — the round-trip `pair_by` of `harness/data/import_rules.toml`
//! where the kind has one, else the kind's key columns of `spec/data/send_units.toml` — and, among
//! records sharing those, by a longest-common-subsequence alignment of their values. Cells are
//! compared by layout column name, so a V3 file and a V4.1 file compare on the columns they share.
//! Values are shown with invisible characters made visible (full-width space, CR/LF, tabs) and the
//! confusable characters of the MS932 substitution table (the wave-dash family 〜／～ …) marked with
//! their code points; encoding, BOM, line endings, CSVバージョン and name shape are compared per file.

use std::collections::BTreeMap;

use careplan_spec::filename::MonthSegment;
use careplan_spec::layout::{self, LayoutView};
use careplan_spec::ms932;
use careplan_spec::table;
use careplan_spec::tokenizer::{LineEnd, RawRecord, Tokenizer};
use careplan_spec::units;
use careplan_spec::validate::{Options, validate_bytes};
use careplan_spec::{FileKind, FileName};
use serde::Serialize;

use super::inputs::Input;
use crate::run_report::escape;
use crate::software::rules::rules;

/// Facts about one file that are compared as a whole.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct FileFacts {
    pub path: String,
    pub kind: Option<String>,
    /// The layout family the file was read with (from its name, or identified from content).
    pub version: Option<String>,
    pub encoding: String,
    pub bom: bool,
    pub line_endings: String,
    /// CSVバージョン values, in order of first appearance.
    pub csv_version: Option<String>,
    pub records: usize,
    pub bytes: usize,
}

/// One file-level difference.
#[derive(Debug, Clone, Serialize)]
pub struct FactDiff {
    pub what: &'static str,
    pub a: String,
    pub b: String,
}

/// A record present on one side only.
#[derive(Debug, Clone, Serialize)]
pub struct OneSided {
    /// The record's pairing fields, as text.
    pub key: String,
    pub line: u32,
}

/// One cell that differs.
#[derive(Debug, Clone, Serialize)]
pub struct CellChange {
    pub key: String,
    pub line_a: u32,
    pub line_b: u32,
    /// `LINE:COLUMN` of the field in A and in B.
    pub at_a: String,
    pub at_b: String,
    /// The column's No. in A's and B's layouts (they differ between V3 and V4).
    pub no_a: u16,
    pub no_b: u16,
    pub name: String,
    /// `value`, `bytes` (same characters, different MS932 bytes) or `quoting`.
    pub kind: &'static str,
    pub a: String,
    pub b: String,
}

/// Two paired files.
#[derive(Debug, Clone, Serialize)]
pub struct FileDiff {
    pub a: FileFacts,
    pub b: FileFacts,
    pub facts: Vec<FactDiff>,
    pub only_a: Vec<OneSided>,
    pub only_b: Vec<OneSided>,
    pub cells: Vec<CellChange>,
    /// What the comparison could not do (a file that is no table of the standard …).
    pub notes: Vec<String>,
}

impl FileDiff {
    pub fn same(&self) -> bool {
        self.facts.is_empty()
            && self.only_a.is_empty()
            && self.only_b.is_empty()
            && self.cells.is_empty()
            && self.notes.iter().all(|n| !n.starts_with("different"))
    }
}

/// The whole comparison (`cpkit-diff/1`).
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub schema: &'static str,
    pub a: String,
    pub b: String,
    pub files: Vec<FileDiff>,
    pub only_in_a: Vec<String>,
    pub only_in_b: Vec<String>,
    pub same: bool,
}

/// One side's file, read leniently (any bytes): decoded records with positions.
struct Read {
    facts: FileFacts,
    name: Option<FileName>,
    view: Option<&'static LayoutView>,
    records: Vec<Rec>,
    utf8: bool,
}

struct Rec {
    line: u32,
    /// Per field: decoded text, raw bytes, quoted, line, column.
    fields: Vec<Cell>,
}

struct Cell {
    text: String,
    bytes: Vec<u8>,
    quoted: bool,
    line: u32,
    column: u32,
}

fn read(input: &Input) -> Read {
    let report = validate_bytes(&input.path, &input.name, &input.bytes, Options::default());
    let name = FileName::parse(&input.name).ok();
    let kind = report.kind;
    let version = report.version;
    let bom = input.bytes.starts_with(&[0xEF, 0xBB, 0xBF]);
    let body = if bom {
        &input.bytes[3..]
    } else {
        &input.bytes[..]
    };
    let utf8 = !body.is_ascii() && std::str::from_utf8(body).is_ok() && {
        let (_, issues) = ms932::decode(body);
        !issues.is_empty()
    };
    let encoding = if body.is_ascii() {
        "ASCII"
    } else if utf8 {
        "UTF-8"
    } else {
        "MS932"
    };
    let image = kind.is_some_and(FileKind::is_image);
    let mut records = Vec::new();
    let mut ends: Vec<LineEnd> = Vec::new();
    let mut versions: Vec<String> = Vec::new();
    if !image {
        let mut t = Tokenizer::new(&input.bytes[..]);
        let mut rec = RawRecord::default();
        while t.next_record(&mut rec).unwrap_or(false) {
            t.take_issues();
            if let Some(e) = rec.end
                && !ends.contains(&e)
            {
                ends.push(e);
            }
            let fields: Vec<Cell> = rec
                .fields()
                .iter()
                .map(|f| Cell {
                    text: decode(&f.bytes, utf8),
                    bytes: f.bytes.to_vec(),
                    quoted: f.quoted,
                    line: f.start.line,
                    column: f.start.column,
                })
                .collect();
            if let Some(v) = fields.first()
                && !versions.contains(&v.text)
            {
                versions.push(v.text.clone());
            }
            records.push(Rec {
                line: rec.start.line,
                fields,
            });
        }
    }
    let facts = FileFacts {
        path: input.path.clone(),
        kind: kind.map(|k| k.prefix().to_owned()),
        version: version.map(|v| v.label().to_owned()),
        encoding: if image { "JPEG" } else { encoding }.to_owned(),
        bom,
        line_endings: if ends.is_empty() {
            "none".to_owned()
        } else {
            ends.iter().map(|e| e.label()).collect::<Vec<_>>().join("+")
        },
        csv_version: (!versions.is_empty()).then(|| versions.join(", ")),
        records: if image { 1 } else { records.len() },
        bytes: input.bytes.len(),
    };
    Read {
        facts,
        view: match (kind, version) {
            (Some(k), Some(v)) if !image => layout::view(k, v),
            _ => None,
        },
        name,
        records,
        utf8,
    }
}

fn decode(bytes: &[u8], utf8: bool) -> String {
    if utf8 && let Ok(s) = std::str::from_utf8(bytes) {
        return s.to_owned();
    }
    ms932::decode(bytes).0
}

/// Shows a value with invisible characters visible and confusable characters (those of the MS932
/// substitution table, the wave-dash family among them) followed by their code point.
pub fn show(text: &str) -> String {
    let confusable = |c: char| {
        ms932::substitutions()
            .iter()
            .any(|s| s.from.chars().eq(std::iter::once(c)) || s.to.chars().eq(std::iter::once(c)))
    };
    let mut out = String::new();
    for c in text.chars() {
        let shown = careplan_spec::validate::visible(&c.to_string());
        out.push_str(&shown);
        if confusable(c) {
            out.push_str(&format!("⟨U+{:04X}⟩", c as u32));
        }
    }
    format!("«{out}»")
}

/// The fields that pair records of a kind: the round-trip `pair_by` where the kind has one, else
/// its send-unit key columns.
fn pair_fields(kind: FileKind, month: Option<MonthSegment>) -> Vec<String> {
    if let Some(rt) = rules()
        .round_trip
        .iter()
        .find(|r| r.imported == kind || r.exported == kind)
    {
        return rt.pair_by.clone();
    }
    let set = match (kind, month) {
        (FileKind::UpHosoku, Some(MonthSegment::Zero)) => "UPHOSOKU_PLAN".to_owned(),
        (FileKind::UpHosoku, _) => "UPHOSOKU_MONTH".to_owned(),
        (k, _) => k.prefix().to_owned(),
    };
    units::key_columns(&set).to_vec()
}

/// Column key → position for a side (empty when the file has no layout).
fn columns(view: Option<&LayoutView>) -> Vec<(String, usize)> {
    view.map(|v| {
        table::column_keys(v)
            .into_iter()
            .enumerate()
            .map(|(i, k)| (k, i))
            .collect()
    })
    .unwrap_or_default()
}

fn value_of<'a>(r: &'a Rec, cols: &[(String, usize)], key: &str) -> &'a str {
    cols.iter()
        .find(|(k, _)| k == key)
        .and_then(|(_, i)| r.fields.get(*i))
        .map_or("", |c| c.text.as_str())
}

/// Compares two files.
pub fn diff_files(a: &Input, b: &Input) -> FileDiff {
    let ra = read(a);
    let rb = read(b);
    let mut out = FileDiff {
        a: ra.facts.clone(),
        b: rb.facts.clone(),
        facts: Vec::new(),
        only_a: Vec::new(),
        only_b: Vec::new(),
        cells: Vec::new(),
        notes: Vec::new(),
    };
    let mut fact = |what: &'static str, x: String, y: String| {
        if x != y {
            out.facts.push(FactDiff { what, a: x, b: y });
        }
    };
    let opt = |o: &Option<String>| o.clone().unwrap_or_else(|| "-".to_owned());
    fact("kind", opt(&ra.facts.kind), opt(&rb.facts.kind));
    fact("version", opt(&ra.facts.version), opt(&rb.facts.version));
    fact(
        "encoding",
        ra.facts.encoding.clone(),
        rb.facts.encoding.clone(),
    );
    fact("BOM", ra.facts.bom.to_string(), rb.facts.bom.to_string());
    fact(
        "line endings",
        ra.facts.line_endings.clone(),
        rb.facts.line_endings.clone(),
    );
    fact(
        "CSVバージョン",
        opt(&ra.facts.csv_version),
        opt(&rb.facts.csv_version),
    );
    if ra.facts.encoding == "JPEG" || rb.facts.encoding == "JPEG" {
        if a.bytes != b.bytes {
            out.notes.push(format!(
                "different bytes: {} bytes vs {} bytes",
                a.bytes.len(),
                b.bytes.len()
            ));
        }
        return out;
    }
    if ra.utf8 != rb.utf8 {
        out.notes.push(
            "the sides are in different encodings: values are compared as decoded text".to_owned(),
        );
    }
    let (Some(va), Some(vb)) = (ra.view, rb.view) else {
        // Without a layout: compare line by line.
        if a.bytes != b.bytes {
            out.notes.push(
                "different bytes (no layout of the standard to compare by column)".to_owned(),
            );
        }
        return out;
    };
    let ca = columns(Some(va));
    let cb = columns(Some(vb));
    let kind = va.layout.kinds[0];
    let month = ra.name.as_ref().and_then(|n| n.month);
    let pair_by = pair_fields(
        ra.facts
            .kind
            .as_deref()
            .and_then(FileKind::from_prefix)
            .unwrap_or(kind),
        month,
    );
    let key_of = |r: &Rec, cols: &[(String, usize)]| -> String {
        pair_by
            .iter()
            .map(|k| value_of(r, cols, k))
            .collect::<Vec<_>>()
            .join("/")
    };
    // Compared columns: those both layouts have, except the CSVバージョン (a file fact).
    let common: Vec<(String, usize, usize)> = ca
        .iter()
        .skip(1)
        .filter_map(|(k, i)| {
            cb.iter()
                .find(|(kb, _)| kb == k)
                .map(|(_, j)| (k.clone(), *i, *j))
        })
        .collect();
    for (side, cols, other, read) in [("A", &ca, &cb, &ra), ("B", &cb, &ca, &rb)] {
        for (k, _) in cols.iter().skip(1) {
            if other.iter().any(|(ko, _)| ko == k) {
                continue;
            }
            let filled = read
                .records
                .iter()
                .filter(|r| !value_of(r, cols, k).is_empty())
                .count();
            if filled > 0 {
                out.notes.push(format!(
                    "{k}: only {side}'s layout has this column ({filled} records have a value)"
                ));
            }
        }
    }
    let text_of = |r: &Rec, left: bool| -> Vec<String> {
        common
            .iter()
            .map(|(_, i, j)| {
                let idx = if left { *i } else { *j };
                r.fields.get(idx).map_or(String::new(), |c| c.text.clone())
            })
            .collect()
    };
    // Group records by key, keeping first-appearance order of keys.
    let mut keys: Vec<String> = Vec::new();
    let mut ga: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
    let mut gb: BTreeMap<String, Vec<&Rec>> = BTreeMap::new();
    for r in &ra.records {
        let k = key_of(r, &ca);
        if !ga.contains_key(&k) && !keys.contains(&k) {
            keys.push(k.clone());
        }
        ga.entry(k).or_default().push(r);
    }
    for r in &rb.records {
        let k = key_of(r, &cb);
        if !ga.contains_key(&k) && !gb.contains_key(&k) {
            keys.push(k.clone());
        }
        gb.entry(k).or_default().push(r);
    }
    for k in keys {
        let xs = ga.get(&k).cloned().unwrap_or_default();
        let ys = gb.get(&k).cloned().unwrap_or_default();
        let tx: Vec<Vec<String>> = xs.iter().map(|r| text_of(r, true)).collect();
        let ty: Vec<Vec<String>> = ys.iter().map(|r| text_of(r, false)).collect();
        for op in similar::capture_diff_slices(similar::Algorithm::Myers, &tx, &ty) {
            use similar::DiffOp;
            let (ra_range, rb_range) = match op {
                DiffOp::Equal {
                    old_index,
                    new_index,
                    len,
                } => (old_index..old_index + len, new_index..new_index + len),
                DiffOp::Delete {
                    old_index,
                    old_len,
                    new_index,
                } => (old_index..old_index + old_len, new_index..new_index),
                DiffOp::Insert {
                    old_index,
                    new_index,
                    new_len,
                } => (old_index..old_index, new_index..new_index + new_len),
                DiffOp::Replace {
                    old_index,
                    old_len,
                    new_index,
                    new_len,
                } => (
                    old_index..old_index + old_len,
                    new_index..new_index + new_len,
                ),
            };
            let pairs = ra_range.len().min(rb_range.len());
            for n in 0..pairs {
                let x = xs[ra_range.start + n];
                let y = ys[rb_range.start + n];
                compare_records(&k, x, y, &common, va, vb, &mut out.cells);
            }
            for x in ra_range.skip(pairs) {
                out.only_a.push(OneSided {
                    key: k.clone(),
                    line: xs[x].line,
                });
            }
            for y in rb_range.skip(pairs) {
                out.only_b.push(OneSided {
                    key: k.clone(),
                    line: ys[y].line,
                });
            }
        }
    }
    out
}

fn compare_records(
    key: &str,
    x: &Rec,
    y: &Rec,
    common: &[(String, usize, usize)],
    va: &LayoutView,
    vb: &LayoutView,
    cells: &mut Vec<CellChange>,
) {
    let empty = Cell {
        text: String::new(),
        bytes: Vec::new(),
        quoted: false,
        line: 0,
        column: 0,
    };
    for (name, i, j) in common {
        let cx = x.fields.get(*i).unwrap_or(&empty);
        let cy = y.fields.get(*j).unwrap_or(&empty);
        let kind = if cx.text != cy.text {
            "value"
        } else if cx.bytes != cy.bytes {
            "bytes"
        } else if cx.quoted != cy.quoted && !cx.text.is_empty() {
            "quoting"
        } else {
            continue;
        };
        let shown = |c: &Cell| match kind {
            "bytes" => format!(
                "{} [{}]",
                show(&c.text),
                c.bytes
                    .iter()
                    .map(|b| format!("{b:02X}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
            "quoting" => {
                if c.quoted {
                    format!("\"{}\" (quoted)", c.text)
                } else {
                    format!("{} (not quoted)", c.text)
                }
            }
            _ => show(&c.text),
        };
        cells.push(CellChange {
            key: key.to_owned(),
            line_a: x.line,
            line_b: y.line,
            at_a: format!("{}:{}", cx.line, cx.column),
            at_b: format!("{}:{}", cy.line, cy.column),
            no_a: va.columns.get(*i).map_or(0, |c| c.no),
            no_b: vb.columns.get(*j).map_or(0, |c| c.no),
            name: name.clone(),
            kind,
            a: shown(cx),
            b: shown(cy),
        });
    }
}

/// What pairs files of two folders: kind, month, sender and receiver (offices, and with `types`
/// their service types) — not the ファイル連番 or the name shape. Names that do not parse pair by
/// name.
fn file_key(f: &Input, types: bool) -> String {
    match FileName::parse(&f.name) {
        Ok(n) => {
            let t = |p: &careplan_spec::Party| {
                p.service_type()
                    .filter(|_| types)
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            };
            format!(
                "{}|{}|{}|{}|{}|{}|{}",
                n.kind.prefix(),
                n.month.map(|m| m.to_string()).unwrap_or_default(),
                n.sender.office,
                t(&n.sender),
                n.receiver.office,
                t(&n.receiver),
                n.branch.clone().unwrap_or_default()
            )
        }
        Err(_) => format!("name|{}", f.name),
    }
}

/// Compares two sets of files (`a_label`, `b_label`: the paths given). Two single files are paired
/// directly.
pub fn diff(a_label: &str, a: &[Input], b_label: &str, b: &[Input]) -> DiffReport {
    let mut files = Vec::new();
    let mut only_in_a = Vec::new();
    let mut only_in_b = Vec::new();
    if a.len() == 1 && b.len() == 1 {
        files.push(diff_files(&a[0], &b[0]));
    } else {
        // Pair by key with service types, then the rest without them (a V3 name has none);
        // several files of one key pair in serial (name) order.
        let mut left_a: Vec<&Input> = a.iter().collect();
        left_a.sort_by(|x, y| x.name.cmp(&y.name));
        let mut left_b: Vec<&Input> = b.iter().collect();
        left_b.sort_by(|x, y| x.name.cmp(&y.name));
        for types in [true, false] {
            let mut rest_a = Vec::new();
            for f in left_a {
                let k = file_key(f, types);
                match left_b.iter().position(|g| file_key(g, types) == k) {
                    Some(j) => {
                        let g = left_b.remove(j);
                        files.push(diff_files(f, g));
                    }
                    None => rest_a.push(f),
                }
            }
            left_a = rest_a;
        }
        only_in_a.extend(left_a.iter().map(|f| f.path.clone()));
        only_in_b.extend(left_b.iter().map(|f| f.path.clone()));
    }
    let same = only_in_a.is_empty() && only_in_b.is_empty() && files.iter().all(FileDiff::same);
    DiffReport {
        schema: "cpkit-diff/1",
        a: a_label.to_owned(),
        b: b_label.to_owned(),
        files,
        only_in_a,
        only_in_b,
        same,
    }
}

/// The human report.
pub fn to_human(r: &DiffReport) -> String {
    let mut out = format!("A: {}\nB: {}\n", r.a, r.b);
    for f in &r.files {
        out.push_str(&format!("\n{} ↔ {}\n", f.a.path, f.b.path));
        if f.same() {
            out.push_str("    same\n");
            continue;
        }
        for d in &f.facts {
            out.push_str(&format!("    {}: A {} ≠ B {}\n", d.what, d.a, d.b));
        }
        for n in &f.notes {
            out.push_str(&format!("    note: {n}\n"));
        }
        for c in &f.cells {
            let no = if c.no_a == c.no_b {
                format!("No.{}", c.no_a)
            } else {
                format!("No.{} (B No.{})", c.no_a, c.no_b)
            };
            out.push_str(&format!(
                "    record {} — A {}, B {}: {no} {}{}\n        A {}\n        B {}\n",
                c.key,
                c.at_a,
                c.at_b,
                c.name,
                match c.kind {
                    "bytes" => " (same characters, different bytes)",
                    "quoting" => " (quoting)",
                    _ => "",
                },
                c.a,
                c.b
            ));
        }
        for o in &f.only_a {
            out.push_str(&format!(
                "    only in A: record {} (line {})\n",
                o.key, o.line
            ));
        }
        for o in &f.only_b {
            out.push_str(&format!(
                "    only in B: record {} (line {})\n",
                o.key, o.line
            ));
        }
    }
    if !r.only_in_a.is_empty() || !r.only_in_b.is_empty() {
        out.push('\n');
    }
    for p in &r.only_in_a {
        out.push_str(&format!("only in A: {p}\n"));
    }
    for p in &r.only_in_b {
        out.push_str(&format!("only in B: {p}\n"));
    }
    let differing = r.files.iter().filter(|f| !f.same()).count();
    let cells: usize = r.files.iter().map(|f| f.cells.len()).sum();
    out.push_str(&format!(
        "\n{} — {} file pairs compared, {differing} differ, {cells} cells differ, {} + {} files unpaired\n",
        if r.same { "same" } else { "different" },
        r.files.len(),
        r.only_in_a.len(),
        r.only_in_b.len()
    ));
    out
}

/// A self-contained HTML page.
pub fn to_html(r: &DiffReport) -> String {
    let e = escape;
    let mut out = String::from(
        "<!DOCTYPE html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\"><title>cpkit diff</title>\
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:.5em 0 1.5em}\
td,th{border:1px solid #bbb;padding:.2em .5em;text-align:left;vertical-align:top}\
.a{background:#fdecea}.b{background:#e8f5e9}code{white-space:pre-wrap}</style></head><body>\n",
    );
    out.push_str(&format!(
        "<h1>cpkit diff — {}</h1>\n<p>A: <code>{}</code><br>B: <code>{}</code></p>\n",
        if r.same { "same" } else { "different" },
        e(&r.a),
        e(&r.b)
    ));
    for f in &r.files {
        out.push_str(&format!(
            "<h2><code>{}</code> ↔ <code>{}</code></h2>\n",
            e(&f.a.path),
            e(&f.b.path)
        ));
        if f.same() {
            out.push_str("<p>same</p>\n");
            continue;
        }
        if !f.facts.is_empty() {
            out.push_str("<table><tr><th>file</th><th>A</th><th>B</th></tr>\n");
            for d in &f.facts {
                out.push_str(&format!(
                    "<tr><td>{}</td><td class=\"a\">{}</td><td class=\"b\">{}</td></tr>\n",
                    e(d.what),
                    e(&d.a),
                    e(&d.b)
                ));
            }
            out.push_str("</table>\n");
        }
        for n in &f.notes {
            out.push_str(&format!("<p>note: {}</p>\n", e(n)));
        }
        if !f.cells.is_empty() {
            out.push_str("<table><tr><th>record</th><th>A at</th><th>B at</th><th>No.</th><th>項目</th><th>A</th><th>B</th></tr>\n");
            for c in &f.cells {
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"a\"><code>{}</code></td><td class=\"b\"><code>{}</code></td></tr>\n",
                    e(&c.key),
                    e(&c.at_a),
                    e(&c.at_b),
                    if c.no_a == c.no_b { c.no_a.to_string() } else { format!("{} / {}", c.no_a, c.no_b) },
                    e(&c.name),
                    e(&c.a),
                    e(&c.b)
                ));
            }
            out.push_str("</table>\n");
        }
        for (side, list) in [("A", &f.only_a), ("B", &f.only_b)] {
            for o in list {
                out.push_str(&format!(
                    "<p>only in {side}: record {} (line {})</p>\n",
                    e(&o.key),
                    o.line
                ));
            }
        }
    }
    for (side, list) in [("A", &r.only_in_a), ("B", &r.only_in_b)] {
        for p in list {
            out.push_str(&format!("<p>only in {side}: <code>{}</code></p>\n", e(p)));
        }
    }
    out.push_str("</body></html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn input(name: &str, bytes: &[u8]) -> Input {
        Input {
            path: format!("x/{name}"),
            name: name.to_owned(),
            relative: PathBuf::from(name),
            root: 0,
            bytes: bytes.to_vec(),
        }
    }

    const PLAN: &str = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";

    fn golden() -> Vec<u8> {
        std::fs::read(format!(
            "{}/../golden/valid/v4.1/riyohyo-minimal/{PLAN}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    #[test]
    fn identical_files_are_the_same() {
        let a = input(PLAN, &golden());
        let r = diff("a", std::slice::from_ref(&a), "b", std::slice::from_ref(&a));
        assert!(r.same, "{}", to_human(&r));
    }

    #[test]
    fn a_changed_cell_names_key_line_number_and_column() {
        let a = input(PLAN, &golden());
        let text = ms932::decode(&a.bytes).0.replace(",0930,", ",1030,");
        let b = input(PLAN, &ms932::encode(&text, false).0);
        let r = diff("a", &[a], "b", &[b]);
        assert!(!r.same);
        let c = &r.files[0].cells[0];
        assert_eq!((c.no_a, c.name.as_str()), (12, "サービス開始時刻"));
        assert_eq!(c.key, "131016/1234500004/202506/20250602/151215");
        assert_eq!((c.a.as_str(), c.b.as_str()), ("«0930»", "«1030»"));
        assert_eq!(c.line_a, 1);
    }

    #[test]
    fn invisible_and_confusable_characters_are_shown() {
        assert_eq!(show("a\u{3000}b\r\n"), "«a□b␍␊»");
        assert_eq!(show("1〜2"), "«1〜⟨U+301C⟩2»");
        assert_eq!(show("1～2"), "«1～⟨U+FF5E⟩2»");
    }

    #[test]
    fn line_endings_bom_and_quoting_are_named() {
        let a = input(PLAN, &golden());
        let text = ms932::decode(&a.bytes).0;
        let mut bytes = vec![0xEF, 0xBB, 0xBF];
        bytes.extend(
            ms932::encode(
                &text
                    .replace("\r\n", "\n")
                    .replace("\"佐藤　花子\"", "佐藤　花子"),
                false,
            )
            .0,
        );
        let b = input(PLAN, &bytes);
        let r = diff("a", &[a], "b", &[b]);
        let f = &r.files[0];
        let whats: Vec<&str> = f.facts.iter().map(|d| d.what).collect();
        assert!(
            whats.contains(&"BOM") && whats.contains(&"line endings"),
            "{whats:?}"
        );
        assert!(
            f.cells.iter().any(|c| c.kind == "quoting"),
            "{}",
            to_human(&r)
        );
    }

    #[test]
    fn an_inserted_record_is_one_sided_not_a_cascade_of_cell_changes() {
        let a = input(PLAN, &golden());
        let text = ms932::decode(&a.bytes).0;
        let line = text.lines().next().unwrap().to_owned();
        let extra = line.replace(",20250602,", ",20250609,");
        let b = input(PLAN, &ms932::encode(&format!("{text}{extra}\r\n"), false).0);
        let r = diff("a", &[a], "b", &[b]);
        let f = &r.files[0];
        assert!(f.cells.is_empty(), "{}", to_human(&r));
        assert_eq!(f.only_b.len(), 1);
        assert_eq!(f.only_b[0].line, 2);
    }
}
