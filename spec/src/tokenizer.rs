//! A strict, streaming CSV tokenizer over MS932 bytes.
//!
//! Unlike the `csv` crate it keeps whether each field was quoted, reports every deviation from the
//! standard's CSV (L4 L128-129: free text in `""`, embedded `"` doubled, CR/LF and commas inside
//! quotes kept) with a position, and never gives up: a stray quote, text after a closing quote or an
//! unterminated quote is reported and tokenizing goes on as a lenient reader would, so later findings
//! still come. It reads through a fixed buffer from any [`Read`], so memory does not grow with the
//! file; single fields and records are capped ([`MAX_FIELD_BYTES`], [`MAX_FIELDS`]).
//!
//! Structure is found on raw bytes: in MS932 a trail byte is always ≥ 0x40, so `"` (0x22), `,`
//! (0x2C), CR and LF never occur inside a double-byte character. Lead bytes are tracked only to count
//! columns in characters.

use std::io::{self, Read};

use serde::Serialize;

use crate::ms932::{is_lead, is_trail};

/// Where something is: byte offset (0-based), line and column (1-based, column in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Position {
    pub offset: u64,
    pub line: u32,
    pub column: u32,
}

/// How a record ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LineEnd {
    CrLf,
    Lf,
    Cr,
}

impl LineEnd {
    pub fn label(self) -> &'static str {
        match self {
            Self::CrLf => "CRLF",
            Self::Lf => "LF",
            Self::Cr => "CR",
        }
    }
}

/// One field as read: its bytes with `""` unescaped, whether it was quoted, and where it started.
#[derive(Debug, Clone, Default)]
pub struct RawField {
    pub bytes: Vec<u8>,
    pub quoted: bool,
    pub start: Position,
    /// The field was longer than [`MAX_FIELD_BYTES`]: `bytes` holds its first part, cut at a
    /// character boundary (never inside a double-byte character).
    pub truncated: bool,
}

/// One record. Buffers are reused between records: read fields through [`RawRecord::fields`].
#[derive(Debug, Default)]
pub struct RawRecord {
    fields: Vec<RawField>,
    used: usize,
    /// 1-based record number in the file (blank lines are not records).
    pub number: u32,
    pub start: Position,
    pub end: Option<LineEnd>,
}

impl RawRecord {
    pub fn fields(&self) -> &[RawField] {
        &self.fields[..self.used]
    }

    fn clear(&mut self) {
        self.used = 0;
        self.end = None;
    }

    fn begin_field(&mut self, start: Position) {
        if self.used == self.fields.len() {
            self.fields.push(RawField::default());
        }
        let f = &mut self.fields[self.used];
        f.bytes.clear();
        f.quoted = false;
        f.truncated = false;
        f.start = start;
        self.used += 1;
    }

    fn current(&mut self) -> &mut RawField {
        &mut self.fields[self.used - 1]
    }
}

/// A deviation found by the tokenizer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum TokenIssue {
    /// The file starts with a UTF-8 byte order mark.
    Bom { at: Position },
    /// A quoted field is never closed; `at` is the opening quote.
    UnterminatedQuote { at: Position },
    /// A `"` inside a field that did not start with one.
    StrayQuote { at: Position },
    /// Characters between a closing quote and the next separator.
    TextAfterQuote { at: Position },
    /// A record ended with LF or CR alone (reported once per file).
    LineEnding { at: Position, found: LineEnd },
    /// Records end in different ways (reported once per file).
    MixedLineEndings {
        at: Position,
        first: LineEnd,
        found: LineEnd,
    },
    /// An empty line between records.
    BlankLine { at: Position },
    /// The last record has no line break.
    NoFinalNewline { at: Position },
    /// A field longer than [`MAX_FIELD_BYTES`]; the rest was skipped.
    FieldTooLarge { at: Position },
    /// A record with more than [`MAX_FIELDS`] fields; the rest were skipped.
    TooManyFields { at: Position },
}

/// Largest field kept, in bytes. The longest real free-text fields are a few kilobytes.
pub const MAX_FIELD_BYTES: usize = 1 << 20;
/// Most fields kept per record (the widest layout has 71).
pub const MAX_FIELDS: usize = 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteSeen,
}

/// The tokenizer. Call [`Tokenizer::next_record`] until it returns `false`, draining
/// [`Tokenizer::take_issues`] after each call.
pub struct Tokenizer<R> {
    reader: R,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    here: Position,
    pending_trail: bool,
    started: bool,
    records: u32,
    first_end: Option<LineEnd>,
    reported_ending: bool,
    reported_mixed: bool,
    issues: Vec<TokenIssue>,
}

impl<R: Read> Tokenizer<R> {
    pub fn new(reader: R) -> Self {
        Self::with_capacity(reader, 64 * 1024)
    }

    pub fn with_capacity(reader: R, capacity: usize) -> Self {
        Self {
            reader,
            buf: vec![0; capacity.max(4)].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            here: Position {
                offset: 0,
                line: 1,
                column: 1,
            },
            pending_trail: false,
            started: false,
            records: 0,
            first_end: None,
            reported_ending: false,
            reported_mixed: false,
            issues: Vec::new(),
        }
    }

    /// Issues found since the last call.
    pub fn take_issues(&mut self) -> Vec<TokenIssue> {
        std::mem::take(&mut self.issues)
    }

    /// Where the reader is now (after the last record).
    pub fn position(&self) -> Position {
        self.here
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        if self.eof {
            return Ok(false);
        }
        loop {
            match self.reader.read(&mut self.buf) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.pos = 0;
                    self.len = n;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(if self.fill()? {
            Some(self.buf[self.pos])
        } else {
            None
        })
    }

    /// Consumes one byte, advancing the position.
    fn bump(&mut self, b: u8) {
        self.pos += 1;
        self.here.offset += 1;
        match b {
            b'\n' => {
                self.here.line += 1;
                self.here.column = 1;
                self.pending_trail = false;
            }
            // A CR's line break is counted in `after_cr`, once it is known whether an LF follows.
            b'\r' => self.pending_trail = false,
            _ => {
                if self.pending_trail && is_trail(b) {
                    self.pending_trail = false;
                } else {
                    self.here.column += 1;
                    self.pending_trail = is_lead(b);
                }
            }
        }
    }

    /// After a CR was consumed: consume an LF if one follows, else count the CR as a line break.
    fn after_cr(&mut self) -> io::Result<LineEnd> {
        if self.peek()? == Some(b'\n') {
            self.bump(b'\n');
            Ok(LineEnd::CrLf)
        } else {
            self.here.line += 1;
            self.here.column = 1;
            Ok(LineEnd::Cr)
        }
    }

    fn skip_bom(&mut self) -> io::Result<()> {
        self.started = true;
        // Read until three bytes are buffered or the input ends.
        if !self.fill()? {
            return Ok(());
        }
        while self.len < 3 && !self.eof {
            let n = self.reader.read(&mut self.buf[self.len..])?;
            if n == 0 {
                self.eof = true;
            }
            self.len += n;
        }
        if self.len >= 3 && self.buf[..3] == [0xEF, 0xBB, 0xBF] {
            self.issues.push(TokenIssue::Bom { at: self.here });
            self.pos = 3;
            self.here.offset = 3;
        }
        Ok(())
    }

    fn push_byte(&mut self, rec: &mut RawRecord, b: u8) {
        let at = self.here;
        let field = rec.current();
        if field.bytes.len() < MAX_FIELD_BYTES && !field.truncated {
            field.bytes.push(b);
        } else if !field.truncated {
            field.truncated = true;
            // Keep whole characters only: a lead byte whose trail was cut is not an invalid byte.
            if crate::ms932::ends_inside_char(&field.bytes) {
                field.bytes.pop();
            }
            self.issues.push(TokenIssue::FieldTooLarge { at });
        }
    }

    fn new_field(&mut self, rec: &mut RawRecord) -> bool {
        if rec.used >= MAX_FIELDS {
            if rec.used == MAX_FIELDS {
                self.issues
                    .push(TokenIssue::TooManyFields { at: self.here });
                rec.begin_field(self.here);
            }
            // Fields past the cap share the one overflow slot.
            rec.current().bytes.clear();
            return false;
        }
        rec.begin_field(self.here);
        true
    }

    fn note_line_end(&mut self, end: LineEnd, at: Position) {
        match self.first_end {
            None => self.first_end = Some(end),
            Some(first) if first != end && !self.reported_mixed => {
                self.reported_mixed = true;
                self.issues.push(TokenIssue::MixedLineEndings {
                    at,
                    first,
                    found: end,
                });
            }
            Some(_) => {}
        }
        if end != LineEnd::CrLf && !self.reported_ending {
            self.reported_ending = true;
            self.issues.push(TokenIssue::LineEnding { at, found: end });
        }
    }

    /// Reads the next record into `rec`. Returns `false` at the end of the input.
    pub fn next_record(&mut self, rec: &mut RawRecord) -> io::Result<bool> {
        if !self.started {
            self.skip_bom()?;
        }
        loop {
            rec.clear();
            rec.start = self.here;
            let mut state = State::FieldStart;
            let mut any_byte = false;
            let mut reported_stray = false;
            self.new_field(rec);
            loop {
                let Some(b) = self.peek()? else {
                    // End of input.
                    if !any_byte {
                        return Ok(false);
                    }
                    if state == State::Quoted {
                        let at = rec.current().start;
                        self.issues.push(TokenIssue::UnterminatedQuote { at });
                    }
                    self.issues
                        .push(TokenIssue::NoFinalNewline { at: self.here });
                    self.records += 1;
                    rec.number = self.records;
                    return Ok(true);
                };
                let at = self.here;
                any_byte = true;
                self.bump(b);
                match (state, b) {
                    (State::Quoted, b'"') => state = State::QuoteSeen,
                    (State::Quoted, _) => self.push_byte(rec, b),
                    (State::QuoteSeen, b'"') => {
                        self.push_byte(rec, b'"');
                        state = State::Quoted;
                    }
                    (_, b',') => {
                        self.new_field(rec);
                        state = State::FieldStart;
                        reported_stray = false;
                    }
                    (_, b'\r' | b'\n') => {
                        let end = if b == b'\r' {
                            self.after_cr()?
                        } else {
                            LineEnd::Lf
                        };
                        self.note_line_end(end, at);
                        rec.end = Some(end);
                        let blank = rec.used == 1
                            && !rec.fields[0].quoted
                            && rec.fields[0].bytes.is_empty();
                        if blank {
                            self.issues.push(TokenIssue::BlankLine { at: rec.start });
                            break; // read the next record instead
                        }
                        self.records += 1;
                        rec.number = self.records;
                        return Ok(true);
                    }
                    (State::FieldStart, b'"') => {
                        rec.current().quoted = true;
                        state = State::Quoted;
                    }
                    (State::QuoteSeen, _) => {
                        self.issues.push(TokenIssue::TextAfterQuote { at });
                        self.push_byte(rec, b);
                        state = State::Unquoted;
                    }
                    (State::FieldStart | State::Unquoted, _) => {
                        if b == b'"' && !rec.current().quoted && !reported_stray {
                            reported_stray = true;
                            self.issues.push(TokenIssue::StrayQuote { at });
                        }
                        self.push_byte(rec, b);
                        state = State::Unquoted;
                    }
                }
            }
        }
    }
}

/// A record as plain data: each field's bytes and whether it was quoted.
pub type PlainRecord = Vec<(Vec<u8>, bool)>;

/// Writes one field as the standard's CSV does: quoted fields in `""` with inner `"` doubled, other
/// fields as they are.
pub fn write_field(out: &mut Vec<u8>, bytes: &[u8], quoted: bool) {
    if !quoted {
        out.extend_from_slice(bytes);
        return;
    }
    out.push(b'"');
    for &b in bytes {
        if b == b'"' {
            out.push(b'"');
        }
        out.push(b);
    }
    out.push(b'"');
}

/// Writes records back as CSV with CRLF line ends; the inverse of [`tokenize_all`] for what it
/// reads without issues. For tests, fuzzing and tools that rewrite single fields.
pub fn write_all(records: &[PlainRecord]) -> Vec<u8> {
    let mut out = Vec::new();
    for rec in records {
        for (i, (bytes, quoted)) in rec.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_field(&mut out, bytes, *quoted);
        }
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Tokenizes a whole buffer; for tests and small inputs.
pub fn tokenize_all(bytes: &[u8]) -> (Vec<PlainRecord>, Vec<TokenIssue>) {
    let mut t = Tokenizer::new(bytes);
    let mut rec = RawRecord::default();
    let mut out = Vec::new();
    let mut issues = Vec::new();
    while t.next_record(&mut rec).unwrap_or(false) {
        out.push(
            rec.fields()
                .iter()
                .map(|f| (f.bytes.clone(), f.quoted))
                .collect(),
        );
        issues.extend(t.take_issues());
    }
    issues.extend(t.take_issues());
    (out, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Vec<Vec<String>> {
        tokenize_all(bytes)
            .0
            .into_iter()
            .map(|r| {
                r.into_iter()
                    .map(|(b, q)| {
                        format!(
                            "{}{}",
                            if q { "Q:" } else { "" },
                            String::from_utf8_lossy(&b)
                        )
                    })
                    .collect()
            })
            .collect()
    }

    fn issues(bytes: &[u8]) -> Vec<TokenIssue> {
        tokenize_all(bytes).1
    }

    #[test]
    fn reads_quoted_text_with_commas_quotes_and_line_breaks() {
        let input = b"202407,\"a,b\",\"say \"\"hi\"\"\",\"line1\r\nline2\",,x\r\n2,3\r\n";
        assert_eq!(
            fields(input),
            vec![
                vec![
                    "202407",
                    "Q:a,b",
                    "Q:say \"hi\"",
                    "Q:line1\r\nline2",
                    "",
                    "x"
                ],
                vec!["2", "3"]
            ]
        );
        assert!(issues(input).is_empty());
    }

    #[test]
    fn positions_count_lines_and_characters() {
        // "あ" is two bytes in MS932 but one column.
        let input = b"a,\x82\xa0,\"x\r\ny\",z\r\nb\r\n";
        let mut t = Tokenizer::new(&input[..]);
        let mut rec = RawRecord::default();
        assert!(t.next_record(&mut rec).unwrap());
        let starts: Vec<_> = rec
            .fields()
            .iter()
            .map(|f| (f.start.line, f.start.column))
            .collect();
        assert_eq!(starts, vec![(1, 1), (1, 3), (1, 5), (2, 4)]);
        assert!(t.next_record(&mut rec).unwrap());
        assert_eq!((rec.start.line, rec.number), (3, 2));
    }

    #[test]
    fn reports_quote_errors_and_keeps_going() {
        let got = issues(b"ab\"c,\"x\"y,\"ok\"\r\n1,2\r\n");
        assert_eq!(
            got,
            vec![
                TokenIssue::StrayQuote {
                    at: Position {
                        offset: 2,
                        line: 1,
                        column: 3
                    }
                },
                TokenIssue::TextAfterQuote {
                    at: Position {
                        offset: 8,
                        line: 1,
                        column: 9
                    }
                },
            ]
        );
        assert_eq!(fields(b"ab\"c,\"x\"y\r\n")[0], vec!["ab\"c", "Q:xy"]);
    }

    #[test]
    fn reports_an_unterminated_quote_at_its_start() {
        let got = issues(b"1,\"open\r\n2,3\r\n");
        assert!(
            got.contains(&TokenIssue::UnterminatedQuote {
                at: Position {
                    offset: 2,
                    line: 1,
                    column: 3
                }
            }),
            "{got:?}"
        );
    }

    #[test]
    fn reports_line_endings_blank_lines_bom_and_final_newline() {
        let got = issues(b"\xEF\xBB\xBF1\n2\r\n\r\n3");
        assert_eq!(
            got,
            vec![
                TokenIssue::Bom {
                    at: Position {
                        offset: 0,
                        line: 1,
                        column: 1
                    }
                },
                TokenIssue::LineEnding {
                    at: Position {
                        offset: 4,
                        line: 1,
                        column: 2
                    },
                    found: LineEnd::Lf
                },
                TokenIssue::MixedLineEndings {
                    at: Position {
                        offset: 6,
                        line: 2,
                        column: 2
                    },
                    first: LineEnd::Lf,
                    found: LineEnd::CrLf
                },
                TokenIssue::BlankLine {
                    at: Position {
                        offset: 8,
                        line: 3,
                        column: 1
                    }
                },
                TokenIssue::NoFinalNewline {
                    at: Position {
                        offset: 11,
                        line: 4,
                        column: 2
                    }
                },
            ]
        );
        assert_eq!(fields(b"1\r2\r"), vec![vec!["1"], vec!["2"]]);
    }

    #[test]
    fn a_crlf_split_across_buffer_refills_is_one_line_end() {
        let input = b"aaa\r\nbbb\r\nccc\r\n";
        for cap in 4..8 {
            let mut t = Tokenizer::with_capacity(&input[..], cap);
            let mut rec = RawRecord::default();
            let mut n = 0;
            while t.next_record(&mut rec).unwrap() {
                n += 1;
                assert_eq!(rec.end, Some(LineEnd::CrLf));
            }
            assert_eq!(n, 3, "capacity {cap}");
            assert!(t.take_issues().is_empty(), "capacity {cap}");
        }
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(fields(b"").is_empty());
        assert!(issues(b"").is_empty());
    }
}
