//! The coverage map: which rules check each row of each layout and each checkable clause of the
//! standard's text, and why the rest cannot be checked (`cpkit rules --coverage`, docs/coverage.md).
//!
//! A row's rules are the generic field rules its attributes call for (required, length, format, code
//! table, quoting, unused, fixed, summary values), the rules every field gets (encoding, control
//! characters), and the families' declarations ([`crate::checks::Family::covers`]). Clauses come
//! from `data/clauses.toml`; notes on rows no rule can check from `data/coverage_notes.toml`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::checks::{self, Cover};
use crate::layout::{self, Column, Format, Layout};
use crate::rules::{RULES, RuleId};

/// One layout row and the rules that check it.
#[derive(Debug, Serialize)]
pub struct RowCoverage {
    pub layout: &'static str,
    pub title: &'static str,
    /// No. in V4.1 numbering.
    pub no: u16,
    pub name: &'static str,
    pub rules: Vec<&'static str>,
    /// What the row says that no rule checks, and why.
    pub unchecked: Vec<String>,
    pub public_reference: String,
}

/// One clause of the text outside the rows.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Clause {
    pub doc: String,
    pub lines: String,
    pub what: String,
    pub rules: Vec<String>,
    pub unchecked: Option<String>,
    #[serde(default)]
    pub public_reference: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Note {
    layout: String,
    no: u16,
    note: String,
    why: String,
}

#[derive(Deserialize)]
struct ClauseFile {
    clause: Vec<Clause>,
}

#[derive(Deserialize)]
struct NoteFile {
    note: Vec<Note>,
}

fn notes() -> &'static [Note] {
    static DATA: OnceLock<Vec<Note>> = OnceLock::new();
    DATA.get_or_init(|| {
        let f: NoteFile = toml::from_str(include_str!("../data/coverage_notes.toml"))
            .unwrap_or_else(|e| {
                panic!("spec/data/coverage_notes.toml is invalid (a build-time data error): {e}")
            });
        f.note
    })
}

/// The clauses of `data/clauses.toml`, with their public references.
pub fn clauses() -> Vec<Clause> {
    let f: ClauseFile = toml::from_str(include_str!("../data/clauses.toml")).unwrap_or_else(|e| {
        panic!("spec/data/clauses.toml is invalid (a build-time data error): {e}")
    });
    f.clause
        .into_iter()
        .map(|mut c| {
            c.public_reference =
                crate::sources::public(&format!("{} {}", c.doc, c.lines)).join("; ");
            c
        })
        .collect()
}

/// The rules a row's own attributes call for.
fn generic(c: &Column) -> Vec<RuleId> {
    use RuleId::*;
    let mut out = vec![EncInvalidByte, EncUnassigned, EncUserDefined, EncControl];
    if c.req {
        out.push(FldRequired);
    }
    if c.req_inferred {
        out.push(FldRequiredInferred);
    }
    if c.len.is_some() {
        out.push(FldTooLong);
    }
    match &c.format {
        Format::Text => out.extend([FldTextUnquoted, EncNecSpecial, EncIbmExtension]),
        Format::ImageName => out.extend([FldTextUnquoted, FldFormat]),
        Format::ServiceType => {
            out.extend([FldFormat, FldQuotedNonText, FldUnknownServiceType]);
            if c.linked {
                out.push(FldServiceNotLinked);
            }
        }
        Format::Code(_) => out.extend([FldCode, FldQuotedNonText]),
        Format::Unused => out.push(FldUnusedNotEmpty),
        Format::Integer => out.extend([FldFormat, FldNegative, FldQuotedNonText]),
        Format::Any | Format::Phone => out.push(FldQuotedNonText),
        _ => out.extend([FldFormat, FldQuotedNonText]),
    }
    if c.min.is_some() || c.max.is_some() {
        out.push(FldRange);
    }
    if c.fixed.is_some() {
        out.push(FldFixedValue);
    }
    out
}

fn matches(cover: &Cover, l: &Layout, c: &Column) -> bool {
    if !cover.kinds.iter().any(|k| l.kinds.contains(k)) {
        return false;
    }
    match cover.column.rsplit_once('#') {
        Some((base, n)) if n.parse::<usize>().is_ok() => {
            let nth = l
                .columns
                .iter()
                .filter(|x| x.name == base)
                .position(|x| x.no == c.no)
                .map(|i| i + 1);
            base == c.name && nth == n.parse().ok()
        }
        _ => cover.column == c.name,
    }
}

/// Every row of every layout with the rules that check it.
pub fn rows() -> Vec<RowCoverage> {
    let covers: Vec<Cover> = checks::FAMILIES.iter().flat_map(|f| (f.covers)()).collect();
    let mut out = Vec::new();
    for l in layout::all_layouts() {
        for c in &l.columns {
            let mut rules: BTreeSet<RuleId> = generic(c).into_iter().collect();
            for cover in covers.iter().filter(|v| matches(v, l, c)) {
                rules.extend(cover.rules.iter().copied());
            }
            out.push(RowCoverage {
                layout: l.name.as_str(),
                title: l.title.as_str(),
                no: c.no,
                name: c.name.as_str(),
                rules: rules.iter().map(|r| r.id()).collect(),
                unchecked: notes()
                    .iter()
                    .filter(|n| n.layout == l.name && n.no == c.no)
                    .map(|n| format!("{} — {}", n.note, n.why))
                    .collect(),
                public_reference: crate::sources::layout_row(&l.name, c.no).unwrap_or_default(),
            });
        }
    }
    out
}

/// The map as Markdown (docs/coverage.md is this output).
pub fn markdown() -> String {
    let mut out = String::from(
        "# Coverage map\n\nGenerated by `cpkit rules --coverage --markdown`; a test keeps it current. \
         For every row of every layout of 別紙「CSVファイルレイアウト定義書」第4.1版 and every checkable \
         clause of the main text: the rules that check it, and what cannot be checked and why.\n\n\
         ## Clauses of the text\n\n| where (MHLW) | clause | rules | not checked |\n| --- | --- | --- | --- |\n",
    );
    for c in clauses() {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            c.public_reference,
            c.what,
            c.rules.join(", "),
            c.unchecked.as_deref().unwrap_or("")
        );
    }
    let mut current = "";
    for r in rows() {
        if r.layout != current {
            current = r.layout;
            let _ = write!(
                out,
                "\n## {} — {}\n\n| No. | item | rules | not checked |\n| --- | --- | --- | --- |\n",
                r.layout, r.title
            );
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            r.no,
            r.name,
            r.rules.join(", "),
            r.unchecked.join("; ")
        );
    }
    out
}

/// Rules that no row and no clause lists (a test keeps this empty).
pub fn orphan_rules() -> Vec<&'static str> {
    let mut listed: BTreeSet<&str> = rows().iter().flat_map(|r| r.rules.clone()).collect();
    for c in clauses() {
        listed.extend(
            c.rules
                .iter()
                .filter_map(|r| RuleId::from_id(r).map(RuleId::id)),
        );
    }
    RULES
        .iter()
        .map(|r| r.id)
        .filter(|id| !listed.contains(id))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_is_checked_by_some_rule() {
        let rows = rows();
        let total: usize = layout::all_layouts().iter().map(|l| l.columns.len()).sum();
        assert_eq!(rows.len(), total);
        for r in &rows {
            assert!(!r.rules.is_empty(), "{} No.{}", r.layout, r.no);
            assert!(!r.public_reference.is_empty(), "{} No.{}", r.layout, r.no);
        }
    }

    #[test]
    fn clause_rules_and_notes_exist() {
        for c in clauses() {
            for r in &c.rules {
                assert!(
                    RuleId::from_id(r).is_some(),
                    "{}: unknown rule {r}",
                    c.lines
                );
            }
            assert!(
                !c.rules.is_empty() || c.unchecked.is_some(),
                "{}: neither rules nor a reason",
                c.lines
            );
        }
        for n in notes() {
            assert!(
                layout::all_layouts()
                    .iter()
                    .any(|l| l.name == n.layout && l.columns.iter().any(|c| c.no == n.no)),
                "{} No.{}",
                n.layout,
                n.no
            );
        }
    }

    #[test]
    fn every_family_column_exists_in_a_layout_of_its_kinds() {
        for f in checks::FAMILIES {
            for cover in (f.covers)() {
                let found = layout::all_layouts()
                    .iter()
                    .any(|l| l.columns.iter().any(|c| matches(&cover, l, c)));
                assert!(found, "{}: {:?} {}", f.id, cover.kinds, cover.column);
            }
        }
    }

    #[test]
    fn every_rule_is_on_the_map() {
        assert_eq!(orphan_rules(), Vec::<&str>::new());
    }
}
