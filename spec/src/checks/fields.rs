//! Field rules: every column of every record against its layout row — required (and inferred
//! required), length in characters, format and code table, quoting of free text, control
//! characters, unused columns, fixed values. Everything here is driven by the row's data in
//! `spec/data/layouts/`; no column is named in code.

use crate::codes::{self, CodeTable};
use crate::finding::Finding;
use crate::format::{self, FieldCheck};
use crate::layout::Format;
use crate::rules::RuleId;
use crate::sink::Sink;
use crate::validate::visible;

use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "fields",
    summary: "each field against its layout row: required, length, format, code table, quoting, control characters, unused and fixed values",
    rules: &[
        RuleId::FldRequired,
        RuleId::FldRequiredInferred,
        RuleId::FldTooLong,
        RuleId::FldFormat,
        RuleId::FldCode,
        RuleId::FldTextUnquoted,
        RuleId::FldQuotedNonText,
        RuleId::FldUnusedNotEmpty,
        RuleId::FldNegative,
        RuleId::FldRange,
        RuleId::FldFixedValue,
        RuleId::EncControl,
    ],
    hooks: &[Hook::Records {
        applies: |_| true,
        new: |ctx| Box::new(Fields::new(ctx)),
    }],
    // The generic field rules apply to every row by its attributes; the coverage map adds them.
    covers: super::no_columns,
};

/// One column's row attributes, gathered once per file so that the loop over a record's fields
/// reads one small entry per field instead of the layout row.
struct Plan {
    req: bool,
    req_inferred: bool,
    /// Free text: quoted, and CR/LF are not control characters.
    text: bool,
    max_len: Option<u16>,
    fixed: Option<&'static str>,
    /// The column's code table, looked up once per file (by name it costs a lookup per field).
    table: Option<&'static CodeTable>,
    format: &'static Format,
    min: Option<i64>,
    max: Option<i64>,
    /// Bit `n` set: a value of `n` ASCII digits passes the format whichever they are
    /// ([`format::passes_any_digits`]).
    digits_pass: u64,
}

struct Fields {
    plan: Vec<Plan>,
}

impl Fields {
    fn new(ctx: &FileContext) -> Self {
        Self {
            plan: ctx
                .view
                .columns
                .iter()
                .map(|col| {
                    let c = col.column;
                    Plan {
                        req: c.req,
                        req_inferred: c.req_inferred,
                        text: c.format.is_free_text(),
                        max_len: col.len,
                        fixed: c.fixed.as_deref(),
                        table: match &c.format {
                            Format::Code(name) => codes::table(name),
                            _ => None,
                        },
                        format: &c.format,
                        min: c.min,
                        max: c.max,
                        digits_pass: (0..64)
                            .filter(|&n| format::passes_any_digits(&c.format, n, c.min, c.max))
                            .fold(0, |bits, n| bits | 1 << n),
                    }
                })
                .collect(),
        }
    }
}

/// One pass over a value's bytes: whether they are all ASCII, and whether one may belong to a
/// control character (`char::is_control`: U+0000–U+001F, U+007F, and U+0080–U+009F, whose UTF-8
/// starts with 0xC2 — a byte that only ever starts a character). Without either, the value holds
/// no control character and its characters are its bytes.
#[inline]
fn scan(bytes: &[u8]) -> (bool, bool) {
    let mut high = 0u8;
    let mut suspect = false;
    for &b in bytes {
        high |= b;
        suspect |= b < 0x20 || b == 0x7F || b == 0xC2;
    }
    (high < 0x80, suspect)
}

/// FLD002 (longer than the column's 桁数; `chars` is the value's length in characters) and FLD013
/// (not the value the column fixes) of a non-empty value.
#[inline]
fn length_and_fixed(
    c: &Plan,
    value: &str,
    chars: usize,
    with_rule: &impl Fn(RuleId) -> Finding,
    sink: &mut Sink,
) {
    if let Some(max) = c.max_len
        && chars > usize::from(max)
    {
        sink.push(
            with_rule(RuleId::FldTooLong)
                .value(visible(value))
                .arg("max", max)
                .arg("actual", chars),
        );
    }
    if let Some(fixed) = c.fixed
        && value != fixed
    {
        sink.push(
            with_rule(RuleId::FldFixedValue)
                .arg("fixed", fixed)
                .value(visible(value)),
        );
    }
}

impl Check for Fields {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let values = &rec.values[..self.plan.len()];
        for (i, c) in self.plan.iter().enumerate() {
            let quoted = rec.raw.quoted(i);
            let value = values[i];
            let at = Col(Some(i));
            let with_rule = |rule: RuleId| rec.finding(rule, at);
            let is_text = c.text;
            if value.is_empty() {
                if c.req {
                    out.sink.push(with_rule(RuleId::FldRequired));
                } else if c.req_inferred {
                    out.sink.push(with_rule(RuleId::FldRequiredInferred));
                }
                if quoted && !is_text {
                    out.sink.push(with_rule(RuleId::FldQuotedNonText));
                }
                // 「…を固定でセット」: an empty value does not set it.
                if let Some(fixed) = c.fixed {
                    out.sink.push(
                        with_rule(RuleId::FldFixedValue)
                            .arg("fixed", fixed)
                            .value("empty / 空"),
                    );
                }
                continue;
            }
            if is_text && !quoted {
                out.sink
                    .push(with_rule(RuleId::FldTextUnquoted).value(visible(value)));
            }
            if !is_text && quoted {
                out.sink
                    .push(with_rule(RuleId::FldQuotedNonText).value(visible(value)));
            }
            let bytes = value.as_bytes();
            if bytes.len() < 64
                && c.digits_pass >> bytes.len() & 1 == 1
                && c.table.is_none()
                && bytes.iter().all(u8::is_ascii_digit)
            {
                // Digits: no control character, a length in bytes, and the format passes.
                length_and_fixed(c, value, bytes.len(), &with_rule, out.sink);
                continue;
            }
            let (ascii, may_hold_control) = scan(bytes);
            if may_hold_control
                && let Some(bad) = value
                    .chars()
                    .find(|&ch| ch.is_control() && !(is_text && (ch == '\r' || ch == '\n')))
            {
                out.sink.push(
                    with_rule(RuleId::EncControl).arg("char", format!("U+{:04X}", bad as u32)),
                );
            }
            // Lengths count characters (D-LEN-CHARS); an ASCII value's length is its bytes.
            let chars = if ascii || c.max_len.is_none() {
                value.len()
            } else {
                value.chars().count()
            };
            length_and_fixed(c, value, chars, &with_rule, out.sink);
            // CodeTable::contains, comparing without memcmp calls.
            if c.table
                .is_some_and(|t| t.codes.iter().any(|code| super::same(&code.code, value)))
            {
                continue;
            }
            match format::check(c.format, value, c.min, c.max) {
                FieldCheck::Ok => {}
                FieldCheck::BadFormat(expected) => {
                    out.sink.push(
                        with_rule(RuleId::FldFormat)
                            .value(visible(value))
                            .arg("expected", expected),
                    );
                }
                FieldCheck::NotInTable(codes) => {
                    out.sink.push(
                        with_rule(RuleId::FldCode)
                            .value(visible(value))
                            .arg("codes", codes),
                    );
                }
                FieldCheck::Negative => out.sink.push(with_rule(RuleId::FldNegative).value(value)),
                FieldCheck::OutOfRange(lo, hi) => {
                    out.sink.push(
                        with_rule(RuleId::FldRange)
                            .value(value)
                            .arg("min", lo)
                            .arg("max", hi),
                    );
                }
                FieldCheck::NotEmpty => out
                    .sink
                    .push(with_rule(RuleId::FldUnusedNotEmpty).value(visible(value))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::scan;

    #[test]
    fn the_scan_finds_every_control_character_and_tells_ascii() {
        for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
            let text = format!("a{c}b");
            let (ascii, suspect) = scan(text.as_bytes());
            assert_eq!(ascii, text.is_ascii(), "{c:?}");
            if c.is_control() {
                assert!(suspect, "{c:?}");
            }
        }
        assert_eq!(scan("山田　花子".as_bytes()), (false, false));
        assert_eq!(scan(b"0900"), (true, false));
    }
}
