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
//!
//! Speed: an ordinary record that lies whole in the buffer (CRLF, commas, quotes with no `""` or
//! line break inside, after a first record ended by CRLF) is read in one piece: its line copied
//! into the record at once, its fields spans of it, columns counted field by field. Anything else
//! goes through the state machine, which reads run by run: the bytes between two structural
//! bytes (a run) are found with one scan — a byte-class table outside quotes, `memchr3` inside
//! them — copied into the field at once and counted into the position in one step (pure-ASCII runs
//! without looking at each byte again); only the structural bytes themselves go one at a time.
//! A record keeps the bytes of all its fields in one buffer ([`RawRecord`], [`RawField`] is a view).

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

/// The reader's place. Line and column are packed in one word, so that they are written and read
/// as one: reading a position back right after updating its column alone would make the CPU wait
/// for the store (a load spanning two smaller stores cannot be forwarded).
#[derive(Debug, Clone, Copy)]
struct Cursor {
    offset: u64,
    /// Line in the high half, column in the low half.
    line_column: u64,
}

impl Cursor {
    const START: Cursor = Cursor {
        offset: 0,
        line_column: (1 << 32) | 1,
    };

    #[inline]
    fn position(self) -> Position {
        Position {
            offset: self.offset,
            line: (self.line_column >> 32) as u32,
            column: self.line_column as u32,
        }
    }

    /// Moves `n` characters right (saturating: a line of over 4 billion characters stays there).
    #[inline]
    fn add_columns(&mut self, n: u32) {
        let column = (self.line_column as u32).saturating_add(n);
        self.line_column = (self.line_column & !0xFFFF_FFFF) | u64::from(column);
    }

    /// Goes to column 1 of the next line.
    #[inline]
    fn new_line(&mut self) {
        let line = ((self.line_column >> 32) as u32).saturating_add(1);
        self.line_column = (u64::from(line) << 32) | 1;
    }
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
/// A view into its [`RawRecord`], which keeps the bytes of all its fields in one buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawField<'a> {
    pub bytes: &'a [u8],
    pub quoted: bool,
    pub start: Position,
    /// The field was longer than [`MAX_FIELD_BYTES`]: `bytes` holds its first part, cut at a
    /// character boundary (never inside a double-byte character).
    pub truncated: bool,
    /// Every byte of the field is ASCII (so its text is its bytes).
    pub ascii: bool,
}

/// What a record keeps of one field besides its bytes. The start is kept as the reader's
/// [`Cursor`] (two words written as they are) and turned into a [`Position`] when read.
#[derive(Debug, Clone, Copy)]
struct FieldMeta {
    /// Where the field's bytes are in [`RawRecord::bytes`]: `begin..end`. Between two fields the
    /// buffer may hold their separator and quotes (a record read in one piece keeps its line).
    begin: u32,
    end: u32,
    quoted: bool,
    truncated: bool,
    non_ascii: bool,
    start: Cursor,
}

/// One record: the bytes of every field in order in one buffer (with, between two fields, nothing
/// or only their separator and quotes), and each field's place in it. Buffers are reused between records: read fields through [`RawRecord::fields`].
#[derive(Debug, Default)]
pub struct RawRecord {
    bytes: Vec<u8>,
    fields: Vec<FieldMeta>,
    /// 1-based record number in the file (blank lines are not records).
    pub number: u32,
    pub start: Position,
    pub end: Option<LineEnd>,
}

/// The fields of a [`RawRecord`], in order.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    rec: &'a RawRecord,
}

impl<'a> Fields<'a> {
    pub fn len(self) -> usize {
        self.rec.fields.len()
    }

    pub fn is_empty(self) -> bool {
        self.rec.fields.is_empty()
    }

    /// Field `i` (0-based); panics when `i >= len()`, as indexing a slice does.
    pub fn get(self, i: usize) -> RawField<'a> {
        self.rec.field(i)
    }

    pub fn iter(self) -> FieldIter<'a> {
        FieldIter {
            rec: self.rec,
            next: 0,
        }
    }
}

/// The fields of a [`RawRecord`] one after another.
#[derive(Debug, Clone)]
pub struct FieldIter<'a> {
    rec: &'a RawRecord,
    next: usize,
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = RawField<'a>;

    fn next(&mut self) -> Option<RawField<'a>> {
        if self.next == self.rec.fields.len() {
            return None;
        }
        self.next += 1;
        Some(self.rec.field(self.next - 1))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.rec.fields.len() - self.next;
        (n, Some(n))
    }
}

impl ExactSizeIterator for FieldIter<'_> {}

impl<'a> IntoIterator for Fields<'a> {
    type Item = RawField<'a>;
    type IntoIter = FieldIter<'a>;

    fn into_iter(self) -> FieldIter<'a> {
        self.iter()
    }
}

impl RawRecord {
    pub fn fields(&self) -> Fields<'_> {
        Fields { rec: self }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The byte range of field `i` in [`RawRecord::all_bytes`].
    #[inline]
    pub fn span(&self, i: usize) -> std::ops::Range<usize> {
        let f = &self.fields[i];
        f.begin as usize..f.end as usize
    }

    /// The bytes of every field in order (see [`RawRecord::span`]); bytes between two fields'
    /// spans are ASCII separators or quotes.
    pub fn all_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Field `i` (0-based); panics when `i >= len()`, as indexing a slice does.
    #[inline]
    pub fn field(&self, i: usize) -> RawField<'_> {
        let m = &self.fields[i];
        RawField {
            bytes: &self.bytes[self.span(i)],
            quoted: m.quoted,
            start: m.start.position(),
            truncated: m.truncated,
            ascii: !m.non_ascii,
        }
    }

    /// Where field `i` starts.
    #[inline]
    pub fn field_start(&self, i: usize) -> Position {
        self.fields[i].start.position()
    }

    /// True when every byte of field `i` is ASCII.
    #[inline]
    pub fn field_is_ascii(&self, i: usize) -> bool {
        !self.fields[i].non_ascii
    }

    /// Whether field `i` was quoted.
    #[inline]
    pub fn quoted(&self, i: usize) -> bool {
        self.fields[i].quoted
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.fields.clear();
        self.end = None;
    }

    #[inline]
    fn begin_field(&mut self, start: Cursor) {
        // At most MAX_FIELDS fields of at most MAX_FIELD_BYTES each: 2^30 bytes.
        let at = self.bytes.len() as u32;
        if let Some(last) = self.fields.last_mut() {
            last.end = at;
        }
        self.fields.push(FieldMeta {
            begin: at,
            end: at,
            quoted: false,
            truncated: false,
            non_ascii: false,
            start,
        });
    }

    /// The field being read.
    #[inline]
    fn current(&mut self) -> &mut FieldMeta {
        let last = self.fields.len() - 1;
        &mut self.fields[last]
    }

    /// Bytes of the field being read so far.
    #[inline]
    fn current_len(&self) -> usize {
        self.bytes.len() - self.fields.last().map_or(0, |f| f.begin as usize)
    }

    /// Ends the last field where the buffer ends (fields before it end where the next begins).
    #[inline]
    fn end_fields(&mut self) {
        let at = self.bytes.len() as u32;
        if let Some(last) = self.fields.last_mut() {
            last.end = at;
        }
    }

    /// Drops the bytes of the field being read (the overflow slot past [`MAX_FIELDS`]).
    fn clear_current(&mut self) {
        let begin = self.fields.last().map_or(0, |f| f.begin as usize);
        self.bytes.truncate(begin);
        if let Some(f) = self.fields.last_mut() {
            f.non_ascii = false;
        }
    }

    /// Drops the last byte of the field being read.
    fn pop_current(&mut self) {
        if self.current_len() > 0 {
            self.bytes.pop();
        }
    }

    fn current_bytes(&self) -> &[u8] {
        let begin = self.fields.last().map_or(0, |f| f.begin as usize);
        &self.bytes[begin..]
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
    here: Cursor,
    pending_trail: bool,
    started: bool,
    records: u32,
    first_end: Option<LineEnd>,
    reported_ending: bool,
    reported_mixed: bool,
    issues: Vec<TokenIssue>,
    /// Off only in tests, to compare the run-at-a-time reading with the byte-at-a-time one.
    runs: bool,
    /// BlankLine issues among `issues`, and blank lines past that bound (see `take_issues`).
    pending_blank_lines: u32,
    unlisted_blank_lines: u64,
}

/// Blank lines of one run listed one by one; the rest of the run is counted
/// ([`Tokenizer::take_unlisted_blank_lines`]).
pub const MAX_PENDING_BLANK_LINES: u32 = 4096;

/// Bytes that end a run outside quotes: `,`, `"`, CR, LF.
static ENDS_UNQUOTED: [bool; 256] = {
    let mut t = [false; 256];
    t[b',' as usize] = true;
    t[b'"' as usize] = true;
    t[b'\r' as usize] = true;
    t[b'\n' as usize] = true;
    t
};

/// [`advance_run`] over `bytes` known to be ASCII: every byte is a character, except a first one
/// that completes a double-byte character begun before.
#[inline]
fn advance_ascii_run(here: &mut Cursor, pending_trail: &mut bool, bytes: &[u8]) {
    here.offset += bytes.len() as u64;
    let mut n = bytes.len();
    if *pending_trail && bytes.first().is_some_and(|&b| is_trail(b)) {
        n -= 1;
    }
    *pending_trail = false;
    here.add_columns(u32::try_from(n).unwrap_or(u32::MAX));
}

/// Length of the run of `line` (a line without LF) before its first `,`, `"` or CR. Eight bytes
/// at a time: fields are short, too short for `memchr3` to pay its start.
#[inline]
fn unquoted_run(line: &[u8]) -> usize {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // High bit of each byte of `x` that is zero; the lowest one set is the first zero byte.
    let zeros = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut chunks = line.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let x = u64::from_le_bytes(word);
        let hits = zeros(x ^ (ONES * u64::from(b',')))
            | zeros(x ^ (ONES * u64::from(b'"')))
            | zeros(x ^ (ONES * u64::from(b'\r')));
        if hits != 0 {
            return at + (hits.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let rest = chunks.remainder();
    at + rest
        .iter()
        .position(|&b| matches!(b, b',' | b'"' | b'\r'))
        .unwrap_or(rest.len())
}

/// Characters in `bytes`, which hold no CR or LF and follow no lead byte: a lead byte and the
/// trail byte after it are one, any other byte is one (as [`advance_run`] counts them).
fn count_chars(bytes: &[u8]) -> u32 {
    let mut chars = 0u32;
    let mut pending_trail = false;
    for &b in bytes {
        if pending_trail && is_trail(b) {
            pending_trail = false;
        } else {
            chars = chars.saturating_add(1);
            pending_trail = is_lead(b);
        }
    }
    chars
}

/// Advances `here` over `bytes`, which hold no CR or LF, counting columns in characters.
#[inline]
fn advance_run(here: &mut Cursor, pending_trail: &mut bool, bytes: &[u8]) {
    here.offset += bytes.len() as u64;
    let mut rest = bytes;
    if *pending_trail && let Some((&first, tail)) = rest.split_first() {
        // The trail of a lead byte that ended the previous run.
        if is_trail(first) {
            *pending_trail = false;
            rest = tail;
        }
    }
    if rest.is_ascii() {
        here.add_columns(u32::try_from(rest.len()).unwrap_or(u32::MAX));
        *pending_trail = false;
        return;
    }
    let mut chars = 0u32;
    for &b in rest {
        if *pending_trail && is_trail(b) {
            *pending_trail = false;
        } else {
            chars = chars.saturating_add(1);
            *pending_trail = is_lead(b);
        }
    }
    here.add_columns(chars);
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
            here: Cursor::START,
            pending_trail: false,
            started: false,
            records: 0,
            first_end: None,
            reported_ending: false,
            reported_mixed: false,
            issues: Vec::new(),
            runs: true,
            pending_blank_lines: 0,
            unlisted_blank_lines: 0,
        }
    }

    /// Issues found since the last call.
    pub fn take_issues(&mut self) -> Vec<TokenIssue> {
        self.pending_blank_lines = 0;
        std::mem::take(&mut self.issues)
    }

    /// Blank lines found since the last call beyond the [`MAX_PENDING_BLANK_LINES`] listed as
    /// [`TokenIssue::BlankLine`]: counted only.
    pub fn take_unlisted_blank_lines(&mut self) -> u64 {
        std::mem::take(&mut self.unlisted_blank_lines)
    }

    /// Where the reader is now (after the last record).
    pub fn position(&self) -> Position {
        self.here.position()
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

    #[inline]
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
                self.here.new_line();
                self.pending_trail = false;
            }
            // A CR's line break is counted in `after_cr`, once it is known whether an LF follows.
            b'\r' => self.pending_trail = false,
            _ => {
                if self.pending_trail && is_trail(b) {
                    self.pending_trail = false;
                } else {
                    self.here.add_columns(1);
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
            self.here.new_line();
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
            self.issues.push(TokenIssue::Bom {
                at: self.here.position(),
            });
            self.pos = 3;
            self.here.offset = 3;
        }
        Ok(())
    }

    fn push_byte(&mut self, rec: &mut RawRecord, b: u8) {
        let at = self.here.position();
        let truncated = rec.current().truncated;
        if rec.current_len() < MAX_FIELD_BYTES && !truncated {
            rec.bytes.push(b);
            rec.current().non_ascii |= !b.is_ascii();
        } else if !truncated {
            rec.current().truncated = true;
            // Keep whole characters only: a lead byte whose trail was cut is not an invalid byte.
            if crate::ms932::ends_inside_char(rec.current_bytes()) {
                rec.pop_current();
            }
            rec.current().non_ascii = !rec.current_bytes().is_ascii();
            self.issues.push(TokenIssue::FieldTooLarge { at });
        }
    }

    /// Consumes the next `n` buffered bytes, none of them structural, as part of the current field.
    #[inline]
    fn take_run(&mut self, rec: &mut RawRecord, n: usize) {
        let run = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        if rec.current().truncated {
            advance_run(&mut self.here, &mut self.pending_trail, run);
            return;
        }
        let room = MAX_FIELD_BYTES - rec.current_len();
        if n <= room {
            rec.bytes.extend_from_slice(run);
            if !run.is_ascii() {
                rec.current().non_ascii = true;
                advance_run(&mut self.here, &mut self.pending_trail, run);
            } else {
                advance_ascii_run(&mut self.here, &mut self.pending_trail, run);
            }
            return;
        }
        // The byte after `room` is the first one that does not fit: reported where it ends, as
        // `push_byte` does.
        rec.bytes.extend_from_slice(&run[..room]);
        advance_run(&mut self.here, &mut self.pending_trail, &run[..=room]);
        rec.current().truncated = true;
        if crate::ms932::ends_inside_char(rec.current_bytes()) {
            rec.pop_current();
        }
        rec.current().non_ascii = !rec.current_bytes().is_ascii();
        self.issues.push(TokenIssue::FieldTooLarge {
            at: self.here.position(),
        });
        advance_run(&mut self.here, &mut self.pending_trail, &run[room + 1..]);
    }

    /// The length of the run of ordinary bytes that starts the buffered input in `state`.
    #[inline]
    fn run_length(&self, state: State) -> usize {
        let avail = &self.buf[self.pos..self.len];
        match state {
            State::Quoted => memchr::memchr3(b'"', b'\r', b'\n', avail).unwrap_or(avail.len()),
            State::FieldStart | State::Unquoted => avail
                .iter()
                .position(|&b| ENDS_UNQUOTED[usize::from(b)])
                .unwrap_or(avail.len()),
            State::QuoteSeen => 0,
        }
    }

    /// Starts a field where the reader is.
    #[inline]
    fn new_field(&mut self, rec: &mut RawRecord) {
        if rec.fields.len() >= MAX_FIELDS {
            self.too_many_fields(rec);
            return;
        }
        rec.begin_field(self.here);
    }

    #[cold]
    fn too_many_fields(&mut self, rec: &mut RawRecord) {
        if rec.fields.len() == MAX_FIELDS {
            self.issues.push(TokenIssue::TooManyFields {
                at: self.here.position(),
            });
            rec.begin_field(self.here);
        }
        // Fields past the cap share the one overflow slot.
        rec.clear_current();
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

    /// Reads an ordinary record whole from the buffered bytes, where it lies in them: fields
    /// unquoted (no `"` or CR) or quoted (no `"` or CR inside), separated by commas, the record
    /// ended by CRLF, in a file whose first record ended by CRLF. The record's line is copied into
    /// `rec` at once and the fields are its spans. Anything else — a blank line, a doubled or stray
    /// quote, a line break inside quotes, a record that goes on past the buffered bytes — returns
    /// false with the reader where it was, and the state machine reads the record. What it reads
    /// is what the state machine would (held to it by `runs_read_as_bytes_do`).
    fn whole_record(&mut self, rec: &mut RawRecord) -> bool {
        if self.first_end != Some(LineEnd::CrLf) || self.pending_trail {
            return false;
        }
        let avail = &self.buf[self.pos..self.len];
        let Some(lf) = memchr::memchr(b'\n', avail) else {
            return false;
        };
        if lf < 2 || avail[lf - 1] != b'\r' {
            return false;
        }
        let line = &avail[..lf - 1];
        let start = self.here;
        let line_bits = start.line_column & !0xFFFF_FFFF;
        let mut column = start.line_column as u32;
        rec.clear();
        rec.bytes.extend_from_slice(line);
        let mut i = 0;
        loop {
            if rec.fields.len() >= MAX_FIELDS {
                return false;
            }
            let field_start = Cursor {
                offset: start.offset + i as u64,
                line_column: line_bits | u64::from(column),
            };
            let quoted = line.get(i) == Some(&b'"');
            let (begin, end) = if quoted {
                let Some(close) = memchr::memchr2(b'"', b'\r', &line[i + 1..]) else {
                    return false;
                };
                (i + 1, i + 1 + close)
            } else {
                (i, i + unquoted_run(&line[i..]))
            };
            // After the field (and its closing quote): a comma or the end of the line.
            let next = end + usize::from(quoted);
            if quoted && line[end] != b'"' {
                return false;
            }
            let bytes = &line[begin..end];
            if bytes.len() > MAX_FIELD_BYTES || !matches!(line.get(next), None | Some(b',')) {
                return false;
            }
            let ascii = bytes.is_ascii();
            let chars = if ascii {
                bytes.len() as u32
            } else {
                count_chars(bytes)
            };
            column = column.saturating_add(chars + 2 * u32::from(quoted));
            rec.fields.push(FieldMeta {
                begin: begin as u32,
                end: end as u32,
                quoted,
                truncated: false,
                non_ascii: !ascii,
                start: field_start,
            });
            if next == line.len() {
                break;
            }
            // The comma.
            column = column.saturating_add(1);
            i = next + 1;
        }
        rec.start = start.position();
        rec.end = Some(LineEnd::CrLf);
        self.pos += lf + 1;
        self.here.offset += (lf + 1) as u64;
        self.here.new_line();
        self.records += 1;
        rec.number = self.records;
        true
    }

    /// Reads the next record into `rec`. Returns `false` at the end of the input.
    pub fn next_record(&mut self, rec: &mut RawRecord) -> io::Result<bool> {
        if !self.started {
            self.skip_bom()?;
        }
        if self.runs && self.fill()? && self.whole_record(rec) {
            return Ok(true);
        }
        loop {
            rec.clear();
            rec.start = self.here.position();
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
                        let at = rec.current().start.position();
                        self.issues.push(TokenIssue::UnterminatedQuote { at });
                    }
                    self.issues.push(TokenIssue::NoFinalNewline {
                        at: self.here.position(),
                    });
                    self.records += 1;
                    rec.number = self.records;
                    rec.end_fields();
                    return Ok(true);
                };
                any_byte = true;
                if self.runs && state != State::QuoteSeen {
                    let run = self.run_length(state);
                    if run > 0 {
                        // A byte that is not `"` starts an unquoted field.
                        if state == State::FieldStart {
                            state = State::Unquoted;
                        }
                        self.take_run(rec, run);
                    }
                    // The separator that most often ends a run, taken here as `bump` would.
                    if state != State::Quoted
                        && self.buf.get(self.pos) == Some(&b',')
                        && self.pos < self.len
                    {
                        self.pos += 1;
                        self.here.offset += 1;
                        self.here.add_columns(1);
                        self.pending_trail = false;
                        self.new_field(rec);
                        state = State::FieldStart;
                        reported_stray = false;
                        continue;
                    }
                    if run > 0 {
                        continue;
                    }
                }
                let at = self.here.position();
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
                        let blank =
                            rec.fields.len() == 1 && !rec.fields[0].quoted && rec.bytes.is_empty();
                        if blank {
                            // A run of blank lines is read in one call: past a bound, they are
                            // only counted, so that memory does not grow with the run.
                            if self.pending_blank_lines < MAX_PENDING_BLANK_LINES {
                                self.pending_blank_lines += 1;
                                self.issues.push(TokenIssue::BlankLine { at: rec.start });
                            } else {
                                self.unlisted_blank_lines += 1;
                            }
                            break; // read the next record instead
                        }
                        self.records += 1;
                        rec.number = self.records;
                        rec.end_fields();
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
                .map(|f| (f.bytes.to_vec(), f.quoted))
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

    /// Everything the tokenizer tells: fields with positions, record ends, issues.
    fn trace(bytes: &[u8], capacity: usize, runs: bool) -> Vec<String> {
        let mut t = Tokenizer::with_capacity(bytes, capacity);
        t.runs = runs;
        let mut rec = RawRecord::default();
        let mut out = Vec::new();
        while t.next_record(&mut rec).unwrap() {
            out.push(format!(
                "record {} at {:?} end {:?}",
                rec.number, rec.start, rec.end
            ));
            for f in rec.fields() {
                out.push(format!(
                    "{:?} {} {:?} {} {}",
                    f.bytes, f.quoted, f.start, f.truncated, f.ascii
                ));
                assert_eq!(f.ascii, f.bytes.is_ascii());
            }
            out.extend(t.take_issues().iter().map(|i| format!("{i:?}")));
        }
        out.extend(t.take_issues().iter().map(|i| format!("{i:?}")));
        out.push(format!("end {:?}", t.position()));
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(2000))]
        /// Reading run by run tells exactly what reading byte by byte does, whatever the bytes and
        /// wherever the buffer refills fall.
        #[test]
        fn runs_read_as_bytes_do(
            parts in proptest::collection::vec(proptest::sample::select(vec![
                &b"a"[..], b"12", b",", b"\"", b"\"\"", b"\r", b"\n", b"\r\n", b"\x82\xa0",
                b"\x82", b"\x40", b"\xa1", b"\xef\xbb\xbf", b"\xff", b"\xe0\x22", b"\x81,",
            ]), 0..40),
            capacity in 4usize..24,
        ) {
            let bytes: Vec<u8> = parts.concat();
            let expected = trace(&bytes, 64 * 1024, false);
            proptest::prop_assert_eq!(&trace(&bytes, 64 * 1024, true), &expected);
            proptest::prop_assert_eq!(&trace(&bytes, capacity, true), &expected);
        }
    }

    /// Every golden file (valid and invalid) reads the same run by run, with whole records, and
    /// byte by byte.
    #[test]
    fn golden_files_read_as_bytes_do() {
        fn walk(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    walk(&path, out);
                } else if path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("csv"))
                {
                    out.push(path);
                }
            }
        }
        let mut files = Vec::new();
        walk(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden"),
            &mut files,
        );
        assert!(files.len() > 400, "{} golden files", files.len());
        for path in files {
            let bytes = std::fs::read(&path).unwrap();
            let expected = trace(&bytes, 64 * 1024, false);
            assert_eq!(trace(&bytes, 64 * 1024, true), expected, "{path:?}");
            assert_eq!(trace(&bytes, 100, true), expected, "{path:?}");
        }
    }

    #[test]
    fn unquoted_runs_end_at_the_first_comma_quote_or_cr() {
        let plain: Vec<u8> = (0..=255u8)
            .filter(|b| !matches!(b, b',' | b'"' | b'\r'))
            .collect();
        for len in 0..40 {
            for at in 0..=len {
                for stop in [b',', b'"', b'\r'] {
                    let mut line: Vec<u8> = plain
                        .iter()
                        .cycle()
                        .skip(len * 7)
                        .take(len)
                        .copied()
                        .collect();
                    if at < len {
                        line[at] = stop;
                        // A second structural byte later does not move the first.
                        if at + 1 < len {
                            line[len - 1] = b',';
                        }
                    }
                    let expected = line
                        .iter()
                        .position(|&b| matches!(b, b',' | b'"' | b'\r'))
                        .unwrap_or(len);
                    assert_eq!(unquoted_run(&line), expected, "{line:02X?}");
                }
            }
        }
    }

    #[test]
    fn runs_cut_an_oversized_field_where_bytes_do() {
        for quoted in [false, true] {
            let mut input = Vec::new();
            if quoted {
                input.push(b'"');
            }
            input.extend(std::iter::repeat_n(b'a', MAX_FIELD_BYTES - 1));
            input.extend_from_slice(b"\x82\xa0\x82\xa0bc");
            if quoted {
                input.push(b'"');
            }
            input.extend_from_slice(b",x\r\n");
            assert_eq!(
                trace(&input, 64 * 1024, true),
                trace(&input, 64 * 1024, false)
            );
            assert_eq!(trace(&input, 1000, true), trace(&input, 64 * 1024, false));
        }
    }

    #[test]
    fn a_long_run_of_blank_lines_is_listed_up_to_a_bound_and_counted_after() {
        let blanks = MAX_PENDING_BLANK_LINES as usize + 1000;
        let mut input = b"1,2\r\n".to_vec();
        input.extend(b"\r\n".repeat(blanks));
        input.extend_from_slice(b"3,4\r\n");
        let mut t = Tokenizer::new(&input[..]);
        let mut rec = RawRecord::default();
        assert!(t.next_record(&mut rec).unwrap());
        assert!(t.take_issues().is_empty());
        assert!(t.next_record(&mut rec).unwrap());
        assert_eq!(rec.number, 2);
        let listed = t.take_issues();
        assert_eq!(listed.len(), MAX_PENDING_BLANK_LINES as usize);
        assert!(
            listed
                .iter()
                .all(|i| matches!(i, TokenIssue::BlankLine { .. }))
        );
        assert_eq!(t.take_unlisted_blank_lines(), 1000);
        assert_eq!(t.take_unlisted_blank_lines(), 0);
    }

    #[test]
    fn empty_input_has_no_records() {
        assert!(fields(b"").is_empty());
        assert!(issues(b"").is_empty());
    }
}
