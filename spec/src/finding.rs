//! Findings: what validation reports. A finding names its rule, severity, file, position, field and
//! offending value, and carries the arguments its rule's message templates need, so that both the
//! Japanese and the English message can be rendered.

use serde::{Deserialize, Serialize};

use crate::rules::{self, Rule, RuleId};
pub use crate::severity::Severity;

/// A position in a file: 1-based line and column (characters), 0-based byte offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub line: u32,
    pub column: u32,
    pub offset: u64,
}

impl From<crate::tokenizer::Position> for Location {
    fn from(p: crate::tokenizer::Position) -> Self {
        Self {
            line: p.line,
            column: p.column,
            offset: p.offset,
        }
    }
}

/// The layout column a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldRef {
    /// Column number in the file's version (1-based).
    pub no: u16,
    pub name: String,
}

/// Most characters of the offending value a finding quotes; a longer value is cut (see [`quote`]).
pub const QUOTE_MAX_CHARS: usize = 120;
/// Most characters of any other message argument (code lists, keys, names).
pub const ARG_MAX_CHARS: usize = 512;

/// `text` as a finding quotes it: unchanged up to `max` characters; a longer text keeps its
/// first `max` − 40 characters, followed by its length and a hash of the part left out, so that a
/// report stays small whatever the input and two long values can still be told apart.
///
/// The hash is FNV-1a (64 bit): an identifier for comparing reports, not a security property.
pub fn quote(text: &str, max: usize) -> String {
    if text.len() <= max || text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let keep = text
        .char_indices()
        .nth(max.saturating_sub(40))
        .map_or(text.len(), |(i, _)| i);
    let total = text.chars().count();
    format!(
        "{}… [{total} chars; rest fnv1a:{:016x}]",
        &text[..keep],
        fnv1a(&text.as_bytes()[keep..])
    )
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: RuleId,
    pub severity: Severity,
    /// The file (as given to the validator); `None` for findings about a send unit as a whole.
    pub file: Option<String>,
    pub location: Option<Location>,
    /// 1-based record number.
    pub record: Option<u32>,
    pub field: Option<FieldRef>,
    /// The offending text as read.
    pub value: Option<String>,
    pub args: Vec<(&'static str, String)>,
    /// The layout row the finding is about, in the public V4.1 numbering: (layout file, No.), for
    /// [`Finding::public_reference`].
    pub row: Option<(&'static str, u16)>,
}

impl Finding {
    /// A finding of `rule` at its catalogue severity.
    pub fn new(rule: RuleId) -> Self {
        Self {
            rule,
            severity: rule.rule().severity,
            file: None,
            location: None,
            record: None,
            field: None,
            value: None,
            args: Vec::new(),
            row: None,
        }
    }

    /// Names the layout row (layout file name, V4.1 No.) the finding is about.
    pub fn row(mut self, layout: &'static str, no: u16) -> Self {
        self.row = Some((layout, no));
        self
    }

    /// Where a vendor finds the clause in the MHLW documents: the layout row the finding is about
    /// (document, edition, page, table, item No. and name), or else the rule's references.
    pub fn public_reference(&self) -> String {
        if let Some((layout, no)) = self.row
            && let Some(place) = crate::sources::layout_row(layout, no)
        {
            let mut refs = vec![place];
            for r in crate::sources::public(self.rule_info().reference) {
                if r.contains("decisions.md") && !refs.contains(&r) {
                    refs.push(r);
                }
            }
            return refs.join("; ");
        }
        crate::sources::public(self.rule_info().reference).join("; ")
    }

    pub fn at(mut self, location: impl Into<Location>) -> Self {
        self.location = Some(location.into());
        self
    }

    pub fn record(mut self, record: u32) -> Self {
        self.record = Some(record);
        self
    }

    pub fn field(mut self, no: u16, name: &str) -> Self {
        self.field = Some(FieldRef {
            no,
            name: name.to_owned(),
        });
        self.args.push(("field", name.to_owned()));
        self
    }

    /// The offending value, at most [`QUOTE_MAX_CHARS`] characters of it (see [`quote`]).
    pub fn value(mut self, value: impl AsRef<str>) -> Self {
        let value = quote(value.as_ref(), QUOTE_MAX_CHARS);
        self.args.push(("value", value.clone()));
        self.value = Some(value);
        self
    }

    /// A message argument, at most [`ARG_MAX_CHARS`] characters of it (see [`quote`]).
    pub fn arg(mut self, key: &'static str, value: impl ToString) -> Self {
        self.args
            .push((key, quote(&value.to_string(), ARG_MAX_CHARS)));
        self
    }

    pub fn file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    pub fn rule_info(&self) -> &'static Rule {
        self.rule.rule()
    }

    pub fn message_ja(&self) -> String {
        rules::render(self.rule.rule().message_ja, &self.args)
    }

    pub fn message_en(&self) -> String {
        rules::render(self.rule.rule().message_en, &self.args)
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonField {
    pub no: u16,
    pub name: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonMessage {
    pub ja: String,
    pub en: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct JsonFinding {
    pub rule: String,
    pub severity: Severity,
    pub family: String,
    pub file: Option<String>,
    /// Serial of the send unit, for unit-level findings.
    pub unit: Option<String>,
    pub line: Option<u32>,
    pub column: Option<u32>,
    pub offset: Option<u64>,
    pub record: Option<u32>,
    pub field: Option<JsonField>,
    pub value: Option<String>,
    pub message: JsonMessage,
    /// The kit's internal line keys (docs/decisions.md, SUMMARY keys).
    pub reference: String,
    /// Where a vendor finds the clause in the MHLW documents.
    #[serde(default)]
    pub public_reference: String,
}

impl Finding {
    /// The finding as the JSON object of `cpkit-validate/1` (docs/validate-json.md), also used by
    /// the mock exchange to annotate sends.
    pub fn to_json(&self, unit: Option<&str>) -> JsonFinding {
        let f = self;
        let rule = f.rule_info();
        JsonFinding {
            rule: rule.id.to_owned(),
            severity: f.severity,
            family: rule.family.label().to_owned(),
            file: f.file.clone(),
            unit: unit.map(str::to_owned),
            line: f.location.map(|l| l.line),
            column: f.location.map(|l| l.column),
            offset: f.location.map(|l| l.offset),
            record: f.record,
            field: f.field.as_ref().map(|x| JsonField {
                no: x.no,
                name: x.name.clone(),
            }),
            value: f.value.clone(),
            message: JsonMessage {
                ja: f.message_ja(),
                en: f.message_en(),
            },
            reference: rule.reference.to_owned(),
            public_reference: f.public_reference(),
        }
    }
}
