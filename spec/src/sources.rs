//! Public coordinates of the standard: turns the kit's internal line keys (`L4 L384-386` = lines of
//! the layout annex's text, `S4 L447-463` = lines of the main text, see `data/sources.toml`) into
//! references a vendor can look up in the MHLW PDFs — document, edition, page, table or section,
//! item No. and name. Decisions (`D-…`) and the kit's notes are named as such.
//!
//! The layout annex's tables are the layout files' `source` ranges and their rows' `src` lines
//! (`data/layouts/`); pages and the main text's sections come from `data/sources.toml`.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::layout::{self, Column, Layout};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    line: u32,
    #[serde(default)]
    number: String,
    title: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    document: String,
    #[expect(dead_code, reason = "read by people and by the data test")]
    document_en: String,
    edition: String,
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the data test checks sections against it")
    )]
    lines: u32,
    page_starts: Vec<u32>,
    sections: Vec<Section>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SourceFile {
    layout: Document,
    main: Document,
}

fn data() -> &'static SourceFile {
    static DATA: OnceLock<SourceFile> = OnceLock::new();
    DATA.get_or_init(|| {
        toml::from_str(include_str!("../data/sources.toml")).unwrap_or_else(|e| {
            panic!("spec/data/sources.toml is invalid (a build-time data error): {e}")
        })
    })
}

impl Document {
    /// The PDF page of a line (1-based).
    fn page(&self, line: u32) -> usize {
        self.page_starts
            .iter()
            .filter(|&&s| s <= line)
            .count()
            .max(1)
    }

    fn section(&self, line: u32) -> Option<&Section> {
        self.sections.iter().rev().find(|s| s.line <= line)
    }

    fn head(&self, line: u32) -> String {
        format!("{} {} p.{}", self.document, self.edition, self.page(line))
    }
}

/// A line range `Lnnn` or `Lnnn-mmm`.
fn range(token: &str) -> Option<(u32, u32)> {
    let t = token.trim().strip_prefix('L')?;
    let (a, b) = match t.split_once('-') {
        Some((a, b)) => (a, b),
        None => (t, t),
    };
    let digits = |s: &str| {
        let d: String = s.chars().take_while(char::is_ascii_digit).collect();
        d.parse::<u32>().ok()
    };
    Some((digits(a)?, digits(b)?))
}

/// The `source` range of a layout file (`L4 L335-487`).
fn layout_range(l: &Layout) -> Option<(u32, u32)> {
    range(l.source.strip_prefix("L4 ")?)
}

fn column_line(c: &Column) -> Option<u32> {
    range(c.src.strip_prefix("L4 ")?).map(|(a, _)| a)
}

/// Where lines `a..=b` of the layout annex stand.
fn layout_place(a: u32, b: u32) -> String {
    let doc = &data().layout;
    let head = doc.head(a);
    for l in layout::all_layouts() {
        let Some((from, to)) = layout_range(l) else {
            continue;
        };
        if a < from || a > to {
            continue;
        }
        let rows: Vec<(&Column, u32)> = l
            .columns
            .iter()
            .filter_map(|c| column_line(c).map(|n| (c, n)))
            .collect();
        let first = rows.iter().map(|r| r.1).min().unwrap_or(from);
        let last = rows.iter().map(|r| r.1).max().unwrap_or(to);
        let hits: Vec<&Column> = rows
            .iter()
            .filter(|(_, n)| (a..=b).contains(n))
            .map(|(c, _)| *c)
            .collect();
        let what = if hits.len() == rows.len() && hits.len() > 1 {
            // The whole table.
            String::new()
        } else if let [c, ..] = hits.as_slice() {
            let mut s = format!("No.{} {}", c.no, c.name);
            if hits.len() > 1 {
                let lastc = hits[hits.len() - 1];
                s.push_str(&format!("〜No.{} {}", lastc.no, lastc.name));
            }
            s
        } else if a < first {
            "ファイル名規約・ファイル作成単位".to_owned()
        } else if a > last {
            "表の注記".to_owned()
        } else {
            let c = rows
                .iter()
                .filter(|(_, n)| *n <= a)
                .max_by_key(|(_, n)| *n)
                .map(|(c, _)| *c);
            match c {
                Some(c) => format!("No.{} {}", c.no, c.name),
                None => "表".to_owned(),
            }
        };
        return format!("{head}「{}」{what}", l.title);
    }
    match doc.section(a) {
        Some(s) => format!("{head}【{}】", s.title),
        None => head,
    }
}

/// Where lines `a..=b` of the main text stand.
fn main_place(a: u32) -> String {
    let doc = &data().main;
    let head = doc.head(a);
    match doc.section(a) {
        Some(s) if s.number.is_empty() => format!("{head} {}", s.title),
        Some(s) => format!("{head} {} {}", s.number, s.title),
        None => head,
    }
}

/// The public reference of one row of a layout, by the layout file's name and the row's V4.1 No.
pub fn layout_row(layout_name: &str, no: u16) -> Option<String> {
    let l = layout::all_layouts()
        .iter()
        .find(|l| l.name == layout_name)?;
    let c = l.columns.iter().find(|c| c.no == no)?;
    let line = column_line(c)?;
    Some(format!(
        "{}「{}」No.{} {}",
        data().layout.head(line),
        l.title,
        c.no,
        c.name
    ))
}

/// The public references of a rule's or a scenario's reference text: each `L4 …`/`S4 …` key
/// becomes the document, edition, page and table/section it points at; decisions and the kit's
/// notes are named as such; anything else is kept as written.
pub fn public(reference: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in reference.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let (doc, rest) = match part.split_once(' ') {
            Some((d @ ("L4" | "S4"), rest)) => (d, rest),
            _ => {
                out.push(other(part));
                continue;
            }
        };
        // Scenario references name sections and rows the way people cite them.
        if let Some(place) = named_place(doc, rest) {
            if !out.contains(&place) {
                out.push(place);
            }
            continue;
        }
        let mut any = false;
        for token in rest.split([',', ' ']) {
            let Some((a, b)) = range(token) else { continue };
            any = true;
            let place = if doc == "L4" {
                layout_place(a, b)
            } else {
                main_place(a)
            };
            if !out.contains(&place) {
                out.push(place);
            }
        }
        if !any {
            out.push(other(part));
        }
    }
    out
}

/// `S4 §2.3 …` (a numbered section of the main text), `S4 history …` (its 更新履歴), or
/// `L4 UPPLAN No.12 …` (a row by kind or layout and No.), with the rest of the text kept as a note.
fn named_place(doc: &str, rest: &str) -> Option<String> {
    let (head, note) = match rest.split_once([' ', ':']) {
        Some((h, n)) => (h, n.trim()),
        None => (rest, ""),
    };
    let note = note
        .strip_prefix('(')
        .and_then(|n| n.strip_suffix(')'))
        .unwrap_or(note);
    let with_note = |place: String| {
        if note.is_empty() {
            place
        } else {
            format!("{place}（{note}）")
        }
    };
    if doc == "S4" {
        let main = &data().main;
        if let Some(number) = head.strip_prefix('§') {
            let s = main
                .sections
                .iter()
                .find(|s| s.number.trim_end_matches('.') == number.trim_end_matches('.'))?;
            return Some(with_note(main_place(s.line)));
        }
        if head == "history" || head == "errata" {
            let s = main.sections.first()?;
            return Some(with_note(main_place(s.line)));
        }
        return None;
    }
    // L4 <KIND or LAYOUT> No.<n>
    let mut words = rest.split_whitespace();
    let table = words.next()?;
    let no: u16 = words.next()?.strip_prefix("No.")?.parse().ok()?;
    let layout_name = crate::kind::FileKind::ALL
        .iter()
        .find(|k| k.prefix() == table)
        .and_then(|k| k.info().layout)
        .unwrap_or(table);
    let place = layout_row(layout_name, no)?;
    let note = words.collect::<Vec<&str>>().join(" ");
    let note = note
        .strip_prefix('(')
        .and_then(|n| n.strip_suffix(')'))
        .unwrap_or(&note);
    Some(if note.is_empty() {
        place
    } else {
        format!("{place}（{note}）")
    })
}

fn other(part: &str) -> String {
    let layout = &data().layout;
    if let Some(column) = part.strip_prefix("layout column ") {
        // A rule of every row: the finding names the table and the item.
        return format!(
            "{} {} 各表の「{column}」欄（指摘ごとに表と項目No.を示します / each finding names the table and item）",
            layout.document, layout.edition
        );
    }
    if part == "each layout table" {
        return format!(
            "{} {} 各表の項目（No.）の数 / the number of items of each table",
            layout.document, layout.edition
        );
    }
    if part.starts_with("D-") {
        let id = part.split_whitespace().next().unwrap_or(part);
        format!("cpkit docs/decisions.md {id}（キットの判断 / the kit's reading）")
    } else if part.starts_with("SUMMARY") {
        format!("cpkit notes {part}（キットの要約 / the kit's digest）")
    } else {
        part.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::RULES;

    #[test]
    fn pages_and_sections_are_ordered_and_inside_the_texts() {
        for doc in [&data().layout, &data().main] {
            assert!(doc.page_starts.windows(2).all(|w| w[0] < w[1]));
            assert!(doc.sections.windows(2).all(|w| w[0].line < w[1].line));
            assert!(doc.sections.iter().all(|s| s.line <= doc.lines));
        }
    }

    #[test]
    fn a_layout_row_is_named_with_its_page_table_and_item() {
        let r = public("L4 L384-386");
        assert_eq!(r.len(), 1);
        assert!(r[0].contains("p.7"), "{r:?}");
        assert!(r[0].contains("No.10 サービス利用日"), "{r:?}");
        assert!(r[0].contains("第4.1版"), "{r:?}");
        let note = public("L4 L128-129");
        assert!(
            note[0].contains("表の注記") && note[0].contains("利用者補足情報"),
            "{note:?}"
        );
        let name_rule = public("L4 L13-17");
        assert!(name_rule[0].contains("ファイル名規約"), "{name_rule:?}");
        let main = public("S4 L447-463");
        assert!(
            main[0].contains("2.6 インターフェースファイルの出力単位について"),
            "{main:?}"
        );
        assert!(main[0].contains("p.12"), "{main:?}");
        let codes = public("L4 L1844-1860");
        assert!(codes[0].contains("コード表"), "{codes:?}");
        assert_eq!(
            layout_row("UPPLAN", 12).unwrap(),
            "別紙「CSVファイルレイアウト定義書」 第4.1版（令和6年10月） p.7「第6表（サービス利用票）、実績情報」No.12 サービス開始時刻"
        );
    }

    #[test]
    fn scenario_references_by_section_and_row_are_resolved() {
        let r = public("S4 §2.4 居宅② / 事業所①");
        assert!(
            r[0].contains("2.4 インターフェースファイルの送信単位について"),
            "{r:?}"
        );
        assert!(r[0].ends_with("（居宅② / 事業所①）"), "{r:?}");
        let r = public("L4 UPJSK No.12");
        assert!(r[0].contains("No.12 サービス開始時刻"), "{r:?}");
        let r = public("S4 history 4.0/4.1");
        assert!(r[0].contains("更新履歴"), "{r:?}");
        let r = public("seed 000 §e 1");
        assert_eq!(r, vec!["seed 000 §e 1".to_owned()]);
    }

    #[test]
    fn every_rule_has_a_public_reference() {
        let missing: Vec<String> = RULES
            .iter()
            .filter(|r| {
                !public(r.reference)
                    .iter()
                    .any(|p| p.contains("第4.1版") || p.contains("decisions.md"))
            })
            .map(|r| format!("{}: {}", r.id, r.reference))
            .collect();
        assert!(
            missing.is_empty(),
            "rules without a public clause or decision: {missing:#?}"
        );
    }
}
