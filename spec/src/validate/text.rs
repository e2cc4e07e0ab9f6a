//! Text helpers of the validator: showing invisible characters in quoted values, byte lists, and
//! locating byte offsets inside a field as line and column in one pass.

use crate::finding::Location;
use crate::ms932;
use crate::tokenizer::RawField;

/// Shows invisible characters: CR, LF, TAB, full-width space and other controls.
pub fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\r' => out.push('␍'),
            '\n' => out.push('␊'),
            '\t' => out.push('␉'),
            '\u{3000}' => out.push('□'),
            ' ' => out.push('·'),
            c if c.is_control() => out.push_str(&format!("<U+{:04X}>", c as u32)),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("0x{b:02X}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Locations of byte offsets inside one field, found in one pass: offsets must be asked in
/// increasing order, so locating every character of a field costs time linear in its length.
pub(crate) struct Locator<'a> {
    field: RawField<'a>,
    i: usize,
    line: u32,
    column: u32,
}

impl<'a> Locator<'a> {
    pub(crate) fn new(field: RawField<'a>) -> Self {
        Self {
            field,
            i: 0,
            line: field.start.line,
            column: field.start.column + u32::from(field.quoted),
        }
    }

    /// Location of byte `offset` (counting line breaks and double-byte characters).
    pub(crate) fn at(&mut self, offset: usize) -> Location {
        let bytes = self.field.bytes;
        while self.i < offset.min(bytes.len()) {
            let i = self.i;
            match bytes[i] {
                b'\n' => {
                    self.line += 1;
                    self.column = 1;
                    self.i += 1;
                }
                b'\r' if bytes.get(i + 1) != Some(&b'\n') => {
                    self.line += 1;
                    self.column = 1;
                    self.i += 1;
                }
                b'\r' => self.i += 1,
                b if ms932::is_lead(b) && bytes.get(i + 1).is_some_and(|&t| ms932::is_trail(t)) => {
                    self.column += 1;
                    self.i += 2;
                }
                _ => {
                    self.column += 1;
                    self.i += 1;
                }
            }
        }
        // The offset in the file is approximate for quoted fields with doubled quotes; line and
        // column are exact.
        Location {
            line: self.line,
            column: self.column,
            offset: self.field.start.offset + u64::from(self.field.quoted) + offset as u64,
        }
    }
}
