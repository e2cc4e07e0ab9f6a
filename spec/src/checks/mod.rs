//! The rule families of the validator, and the one list that registers them ([`FAMILIES`]).
//!
//! A family is a small module that owns a group of rules and declares them beside its code. It
//! takes part in validation through up to three hooks:
//!
//! * [`Hook::Name`] judges a file's name alone, before any record is read;
//! * [`Hook::Records`] builds a [`Check`] for each file whose layout is known: it sees every
//!   record ([`Check::record`]) and the end of the file ([`Check::finish`]), and may leave values in
//!   the [`FileReport`] (keys, tallies) for the unit hook;
//! * [`Hook::Unit`] judges a matched send unit from its files' reports.
//!
//! The drivers are [`crate::validate`] (names and records) and [`crate::units`] (units). A new
//! family is a new file here plus one line in [`FAMILIES`]; the drivers do not change.

use crate::domain::Month;
use crate::filename::FileName;
use crate::finding::Finding;
use crate::kind::FileKind;
use crate::layout::LayoutView;
use crate::report::FileReport;
use crate::rules::RuleId;
use crate::sink::Sink;
use crate::tokenizer::RawRecord;
use crate::unitdef::UnitDef;

pub mod billing;
pub mod conditions;
pub mod dates;
pub mod detail_code;
pub mod fields;
pub mod frames;
pub mod keys;
pub mod month;
pub mod names;
pub mod numbering;
pub mod offices;
pub mod relevance;
pub mod roles;
pub mod services;
pub mod tables67;
pub mod times;
pub mod totals;
pub mod version;

/// One rule family: what it checks, the rules it may emit and how it takes part.
pub struct Family {
    /// Short name, e.g. `fields` (the module's name).
    pub id: &'static str,
    /// One line: what the family checks.
    pub summary: &'static str,
    /// Every rule the family may emit (checked by a test against what it does emit).
    pub rules: &'static [RuleId],
    pub hooks: &'static [Hook],
    /// The layout columns the family reads and the rules it judges them by (the coverage map,
    /// `cpkit rules --coverage`). Families that judge names or units only return nothing.
    pub covers: fn() -> Vec<Cover>,
}

/// One line of the coverage map: `rules` judge `column` of the layouts of `kinds`.
#[derive(Debug, Clone)]
pub struct Cover {
    pub kinds: Vec<FileKind>,
    pub column: String,
    pub rules: Vec<RuleId>,
}

/// A [`Cover`] for each of `columns` (names as in the layouts; `name#2` for a repeated name).
pub fn cover(kinds: &[FileKind], columns: &[&str], rules: &[RuleId]) -> Vec<Cover> {
    columns
        .iter()
        .map(|c| Cover {
            kinds: kinds.to_vec(),
            column: (*c).to_owned(),
            rules: rules.to_vec(),
        })
        .collect()
}

/// No columns: a family that judges names or units.
pub fn no_columns() -> Vec<Cover> {
    Vec::new()
}

/// How a family takes part in validation.
pub enum Hook {
    /// Judges a parsed file name.
    Name(fn(&FileName, &mut Sink)),
    /// Reads the records of files whose layout is known; `applies` chooses the files.
    Records {
        applies: fn(&FileContext) -> bool,
        new: fn(&FileContext) -> Box<dyn Check>,
    },
    /// Judges a send unit whose files matched a unit definition.
    Unit(fn(&UnitFiles, &mut Sink)),
}

/// Every family, in the order their findings are produced within a record.
pub static FAMILIES: &[&Family] = &[
    &fields::FAMILY,
    &month::FAMILY,
    &version::FAMILY,
    &keys::FAMILY,
    &names::FAMILY,
    &services::FAMILY,
    &detail_code::FAMILY,
    &dates::FAMILY,
    &times::FAMILY,
    &totals::FAMILY,
    &billing::FAMILY,
    &numbering::FAMILY,
    &frames::FAMILY,
    &offices::FAMILY,
    &conditions::FAMILY,
    &roles::FAMILY,
    &relevance::FAMILY,
    &tables67::FAMILY,
];

/// What a check knows of the file it reads.
pub struct FileContext<'a> {
    pub name: Option<&'a FileName>,
    pub kind: FileKind,
    pub view: &'static LayoutView,
}

impl FileContext<'_> {
    /// The column named `name` in this file's layout (resolved once, when a check is built).
    pub fn col(&self, name: &str) -> Col {
        Col(self.view.col(name))
    }

    /// The column named `name`, or the `n`-th (1-based) of that name where a layout repeats it
    /// (第3表's 開始時間/終了時間).
    pub fn nth_col(&self, name: &str, n: usize) -> Col {
        Col(self
            .view
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| c.column.name == name)
            .nth(n.saturating_sub(1))
            .map(|(i, _)| i))
    }
}

/// A column of the file's layout, resolved once; absent when the layout (or its version) lacks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Col(pub Option<usize>);

impl Col {
    pub fn is_present(self) -> bool {
        self.0.is_some()
    }
}

/// One record as the checks see it: decoded values, raw fields with their positions, the file.
pub struct Record<'a> {
    pub raw: &'a RawRecord,
    /// The decoded text of each field.
    pub values: &'a [&'a str],
    pub file: &'a FileContext<'a>,
    /// The record's service month, where its kind has one and the value is a real month.
    pub month: Option<Month>,
}

impl Record<'_> {
    /// The value of `col`; `None` when the layout lacks it.
    #[inline]
    pub fn get(&self, col: Col) -> Option<&str> {
        col.0.map(|i| self.values[i])
    }

    /// The value of `col`, or `""` when the layout lacks it.
    #[inline]
    pub fn text(&self, col: Col) -> &str {
        self.get(col).unwrap_or("")
    }

    /// The layout name of `col` (empty when the layout lacks it).
    pub fn column_name(&self, col: Col) -> &'static str {
        col.0
            .map(|i| self.file.view.columns[i].name())
            .unwrap_or_default()
    }

    /// Line where the record starts.
    pub fn line(&self) -> u32 {
        self.raw.start.line
    }

    /// A finding of `rule` about `col` of this record: at the field, naming its No. and name (at
    /// the record's start when the layout lacks the column).
    pub fn finding(&self, rule: RuleId, col: Col) -> Finding {
        let f = Finding::new(rule).record(self.raw.number);
        match col.0 {
            Some(i) => {
                let c = &self.file.view.columns[i];
                f.at(self.raw.field_start(i))
                    .field(c.no, c.name())
                    .row(&self.file.view.layout.name, c.column.no)
            }
            None => f.at(self.raw.start),
        }
    }

    /// A finding of `rule` about the record as a whole.
    pub fn record_finding(&self, rule: RuleId) -> Finding {
        Finding::new(rule)
            .record(self.raw.number)
            .at(self.raw.start)
    }
}

/// What a check writes to: the file's findings and the report being built.
pub struct Out<'a> {
    pub sink: &'a mut Sink,
    pub report: &'a mut FileReport,
}

/// A family's reader of one file's records.
pub trait Check {
    /// Called for every record whose column count fits the layout.
    fn record(&mut self, rec: &Record, out: &mut Out);
    /// Called once after the last record.
    fn finish(&mut self, _file: &FileContext, _out: &mut Out) {}
}

/// The files of one send unit whose kinds matched a unit definition.
pub struct UnitFiles<'a> {
    pub serial: &'a crate::domain::Serial,
    pub def: &'static UnitDef,
    pub reports: &'a [FileReport],
    /// Indices into `reports`, by kind.
    pub kinds: &'a std::collections::BTreeMap<FileKind, Vec<usize>>,
}

impl UnitFiles<'_> {
    /// The (first) file of `kind` in the unit.
    pub fn one(&self, kind: FileKind) -> Option<&FileReport> {
        self.kinds
            .get(&kind)
            .and_then(|l| l.first())
            .map(|&i| &self.reports[i])
    }

    /// Every file of `kind` in the unit.
    pub fn all(&self, kind: FileKind) -> impl Iterator<Item = &FileReport> {
        self.kinds
            .get(&kind)
            .into_iter()
            .flatten()
            .map(|&i| &self.reports[i])
    }
}

/// The key of a record from `cols`, joined by `/`; `None` when a column is missing or a value is
/// longer than any key value of the standard (such a value is a finding already, and keeping it
/// would let memory grow with the input).
pub fn key_of(rec: &Record, cols: &[Col]) -> Option<String> {
    let mut key = KeyBuf::default();
    key.of(rec, cols)?;
    Some(key.key)
}

/// A record's key built in a buffer kept between records, so that looking a key up costs no
/// allocation; only a new key is copied into its map ([`upsert`]). It also remembers the key built
/// before: consecutive records of one user share their keys, and a key equal to the previous one
/// ([`KeyBuf::repeats`]) needs no lookup at all where the map only keeps the first occurrence.
#[derive(Debug, Default)]
pub struct KeyBuf {
    key: String,
    last: String,
}

impl KeyBuf {
    /// The key of `rec` from `cols`, as [`key_of`] builds it.
    pub fn of(&mut self, rec: &Record, cols: &[Col]) -> Option<&str> {
        const MAX_KEY_PART_BYTES: usize = 32;
        self.key.clear();
        for (i, &c) in cols.iter().enumerate() {
            let v = rec.get(c)?;
            if v.len() > MAX_KEY_PART_BYTES {
                return None;
            }
            if i > 0 {
                self.key.push('/');
            }
            self.key.push_str(v);
        }
        Some(&self.key)
    }

    /// The key built last, with `parts` appended, each after `separator`.
    pub fn extend(&mut self, separator: char, parts: &[&str]) -> &str {
        for part in parts {
            self.key.push(separator);
            self.key.push_str(part);
        }
        &self.key
    }

    /// The key built last.
    pub fn get(&self) -> &str {
        &self.key
    }

    /// True when the key built last equals the one built before it; either way it becomes the
    /// one to compare the next key with.
    pub fn repeats(&mut self) -> bool {
        if same(&self.key, &self.last) {
            return true;
        }
        self.last.clone_from(&self.key);
        false
    }
}

/// Updates the entry of `key` in `map` with `update`, inserting `new()` first when absent; the key
/// is copied only then, and a present key costs one lookup.
pub fn upsert<V>(
    map: &mut std::collections::BTreeMap<String, V>,
    key: &str,
    new: impl FnOnce() -> V,
    update: impl FnOnce(&mut V),
) {
    match map.get_mut(key) {
        Some(v) => update(v),
        None => {
            let mut v = new();
            update(&mut v);
            map.insert(key.to_owned(), v);
        }
    }
}

/// `a == b`, for the short values and keys of records: up to 64 bytes are compared as words (the
/// last one read back from the end), without the call to `memcmp` that `==` makes (and that costs
/// more than the comparison of a ten-digit number).
#[inline]
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().unwrap_or([0; 8]));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().unwrap_or([0; 4]));
    match n {
        0 => true,
        1..4 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=8 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        9..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        17..=64 => {
            (0..n / 8).all(|w| word(a, w * 8) == word(b, w * 8)) && word(a, n - 8) == word(b, n - 8)
        }
        _ => a == b,
    }
}

/// Resolves key column names once.
pub fn key_cols(ctx: &FileContext, names: &[String]) -> Vec<Col> {
    names.iter().map(|n| ctx.col(n)).collect()
}

/// A check that is built only for files whose kind is in `kinds`.
pub fn kind_in(ctx: &FileContext, kinds: &[FileKind]) -> bool {
    kinds.contains(&ctx.kind)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_rule_belongs_to_one_family_at_most() {
        let mut seen = HashSet::new();
        for f in FAMILIES {
            for r in f.rules {
                assert!(seen.insert(*r), "{} is declared by two families", r.id());
            }
        }
    }

    #[test]
    fn same_is_equality() {
        let text =
            "0123456789abcdefghijklmnopqrstuvwxyz/0123456789|ABCDEFGHIJKLMNOPQRSTUVWXYZあいう";
        for n in 0..text.len() {
            let Some(a) = text.get(..n) else { continue };
            assert!(same(a, a));
            let copy = a.to_owned();
            assert!(same(a, &copy));
            for i in 0..n {
                let mut other = copy.clone().into_bytes();
                other[i] ^= 0x01;
                if let Ok(other) = String::from_utf8(other) {
                    assert!(!same(a, &other), "{a:?} {other:?}");
                }
            }
            if let Some(shorter) = text.get(..n.saturating_sub(1))
                && n > 0
            {
                assert!(!same(a, shorter));
            }
        }
    }

    #[test]
    fn family_ids_are_unique() {
        let mut seen = HashSet::new();
        for f in FAMILIES {
            assert!(seen.insert(f.id), "{}", f.id);
            assert!(!f.hooks.is_empty(), "{} has no hook", f.id);
        }
    }
}
