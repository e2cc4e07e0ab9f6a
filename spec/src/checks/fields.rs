//! Field rules: every column of every record against its layout row — required (and inferred
//! required), length in characters, format and code table, quoting of free text, control
//! characters, unused columns, fixed values. Everything here is driven by the row's data in
//! `spec/data/layouts/`; no column is named in code.

use crate::codes::{self, CodeTable};
use crate::format::{self, FieldCheck};
use crate::layout::Format;
use crate::rules::RuleId;
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

struct Fields {
    /// Each column's code table, looked up once per file (by name it costs a lookup per field).
    tables: Vec<Option<&'static CodeTable>>,
}

impl Fields {
    fn new(ctx: &FileContext) -> Self {
        Self {
            tables: ctx
                .view
                .columns
                .iter()
                .map(|c| match &c.column.format {
                    Format::Code(name) => codes::table(name),
                    _ => None,
                })
                .collect(),
        }
    }
}

impl Check for Fields {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        for (i, col) in rec.file.view.columns.iter().enumerate() {
            let raw = &rec.raw.fields()[i];
            let value = rec.values[i].as_str();
            let c = col.column;
            let at = Col(Some(i));
            let with_rule = |rule: RuleId| rec.finding(rule, at);
            let is_text = c.format.is_free_text();
            if value.is_empty() {
                if c.req {
                    out.sink.push(with_rule(RuleId::FldRequired));
                } else if c.req_inferred {
                    out.sink.push(with_rule(RuleId::FldRequiredInferred));
                }
                if raw.quoted && !is_text {
                    out.sink.push(with_rule(RuleId::FldQuotedNonText));
                }
                // 「…を固定でセット」: an empty value does not set it.
                if let Some(fixed) = &c.fixed {
                    out.sink.push(
                        with_rule(RuleId::FldFixedValue)
                            .arg("fixed", fixed)
                            .value("empty / 空"),
                    );
                }
                continue;
            }
            if is_text && !raw.quoted {
                out.sink
                    .push(with_rule(RuleId::FldTextUnquoted).value(visible(value)));
            }
            if !is_text && raw.quoted {
                out.sink
                    .push(with_rule(RuleId::FldQuotedNonText).value(visible(value)));
            }
            // Printable ASCII (nearly every value) holds no control character.
            let printable = value.bytes().all(|b| (0x20..0x7F).contains(&b));
            let ascii = printable || value.is_ascii();
            let may_hold_control = !printable;
            if may_hold_control
                && let Some(bad) = value
                    .chars()
                    .find(|&ch| ch.is_control() && !(is_text && (ch == '\r' || ch == '\n')))
            {
                out.sink.push(
                    with_rule(RuleId::EncControl).arg("char", format!("U+{:04X}", bad as u32)),
                );
            }
            if let Some(max) = col.len {
                // Lengths count characters (D-LEN-CHARS); an ASCII value's length is its bytes.
                let actual = if ascii {
                    value.len()
                } else {
                    value.chars().count()
                };
                if actual > usize::from(max) {
                    out.sink.push(
                        with_rule(RuleId::FldTooLong)
                            .value(visible(value))
                            .arg("max", max)
                            .arg("actual", actual),
                    );
                }
            }
            if let Some(fixed) = &c.fixed
                && value != fixed
            {
                out.sink.push(
                    with_rule(RuleId::FldFixedValue)
                        .arg("fixed", fixed)
                        .value(visible(value)),
                );
            }
            if self.tables[i].is_some_and(|t| t.contains(value)) {
                continue;
            }
            match format::check(&c.format, value, c.min, c.max) {
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
