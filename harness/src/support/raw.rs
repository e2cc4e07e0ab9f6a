//! Byte spans of a standard CSV file's records and fields, for the support tools that rewrite a
//! file in place (`anonymize` replaces field contents with text of the same byte length, `shrink`
//! removes records and empties fields) and must leave every other byte — BOM, quotes, separators,
//! line endings, offending bytes — exactly as it was, so that the spec core reports what it
//! reported before at the same line and column.
//!
//! The splitter follows the spec core's tokenizer state by state (structure is found on raw bytes:
//! in MS932 a trail byte is never `"`, `,`, CR or LF); a test checks that both agree on every field
//! of the golden corpus and on arbitrary bytes. Unlike the tokenizer it keeps where each content
//! byte came from, and it does not cap field sizes (support inputs are read whole).

use std::ops::Range;

/// One field: where its content bytes are in the file — runs of raw bytes, in order (a doubled
/// `""` inside quotes gives one content byte, its first quote) — and the raw span of the whole
/// field, quotes included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpan {
    pub quoted: bool,
    /// The raw runs holding the content, in order; none for an empty field.
    pub content: Vec<Range<usize>>,
    /// The field's raw bytes, from its first byte up to (not including) the separator or line end.
    pub span: Range<usize>,
}

impl FieldSpan {
    /// The content bytes (quotes unescaped), read from the file's bytes.
    pub fn bytes(&self, file: &[u8]) -> Vec<u8> {
        self.content
            .iter()
            .flat_map(|r| file[r.clone()].iter().copied())
            .collect()
    }

    /// Writes `content` (as long as the field's content) back into `file` in place.
    pub fn write(&self, file: &mut [u8], content: &[u8]) {
        let mut from = 0;
        for r in &self.content {
            let n = r.len().min(content.len().saturating_sub(from));
            file[r.start..r.start + n].copy_from_slice(&content[from..from + n]);
            from += n;
        }
    }

    fn push(&mut self, at: usize) {
        match self.content.last_mut() {
            Some(r) if r.end == at => r.end = at + 1,
            _ => self.content.push(at..at + 1),
        }
    }
}

/// One record: its raw span (up to the next record, so a blank line after it belongs to it) and
/// its fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordSpan {
    /// 1-based record number, as the spec core counts (blank lines are not records).
    pub number: u32,
    pub span: Range<usize>,
    pub fields: Vec<FieldSpan>,
}

/// A file's records; `prefix` is what comes before the first record (a BOM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFile {
    pub prefix: Range<usize>,
    pub records: Vec<RecordSpan>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    FieldStart,
    Unquoted,
    Quoted,
    QuoteSeen,
}

/// Splits a whole file into records and fields.
pub fn split(bytes: &[u8]) -> RawFile {
    let start = if bytes.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    let mut records: Vec<RecordSpan> = Vec::new();
    let mut i = start;
    let mut number = 0;
    while i < bytes.len() {
        let record_start = i;
        let mut fields = vec![FieldSpan {
            quoted: false,
            content: Vec::new(),
            span: i..i,
        }];
        let mut state = State::FieldStart;
        let mut ended = false;
        while i < bytes.len() {
            let b = bytes[i];
            let field = fields.last_mut().expect("a record has a field");
            match (state, b) {
                (State::Quoted, b'"') => state = State::QuoteSeen,
                (State::Quoted, _) => field.push(i),
                (State::QuoteSeen, b'"') => {
                    field.push(i - 1);
                    state = State::Quoted;
                }
                (_, b',') => {
                    field.span.end = i;
                    fields.push(FieldSpan {
                        quoted: false,
                        content: Vec::new(),
                        span: i + 1..i + 1,
                    });
                    state = State::FieldStart;
                }
                (_, b'\r' | b'\n') => {
                    field.span.end = i;
                    i += if b == b'\r' && bytes.get(i + 1) == Some(&b'\n') {
                        2
                    } else {
                        1
                    };
                    ended = true;
                    break;
                }
                (State::FieldStart, b'"') => {
                    field.quoted = true;
                    state = State::Quoted;
                }
                (State::QuoteSeen | State::FieldStart | State::Unquoted, _) => {
                    field.push(i);
                    state = State::Unquoted;
                }
            }
            i += 1;
        }
        if !ended && let Some(f) = fields.last_mut() {
            f.span.end = bytes.len();
        }
        let blank = fields.len() == 1 && !fields[0].quoted && fields[0].content.is_empty();
        if blank {
            // A blank line is not a record: it belongs to the record before it.
            if let Some(last) = records.last_mut() {
                last.span.end = i;
            }
            continue;
        }
        number += 1;
        records.push(RecordSpan {
            number,
            span: record_start..i,
            fields,
        });
    }
    let prefix = 0..records.first().map_or(start, |r| r.span.start);
    RawFile { prefix, records }
}

#[cfg(test)]
mod tests {
    use super::*;
    use careplan_spec::tokenizer::{MAX_FIELD_BYTES, tokenize_all};

    fn agree(bytes: &[u8]) {
        let (records, _) = tokenize_all(bytes);
        let raw = split(bytes);
        assert_eq!(
            raw.records.len(),
            records.len(),
            "records of {} bytes",
            bytes.len()
        );
        for (r, t) in raw.records.iter().zip(&records) {
            assert_eq!(r.fields.len(), t.len(), "record {}", r.number);
            for (f, (tb, tq)) in r.fields.iter().zip(t) {
                let mine = f.bytes(bytes);
                // The tokenizer keeps the first part of a field over its cap; the splitter keeps
                // everything.
                let same = mine == *tb || (tb.len() + 1 >= MAX_FIELD_BYTES && mine.starts_with(tb));
                assert!(same, "field at {:?} differs", f.span);
                assert_eq!(f.quoted, *tq, "field at {:?}", f.span);
            }
        }
        // Records and the prefix tile the file.
        let mut at = 0;
        assert_eq!(raw.prefix.start, 0);
        at = at.max(raw.prefix.end);
        for r in &raw.records {
            assert_eq!(r.span.start, at, "record {}", r.number);
            at = r.span.end;
        }
        if !raw.records.is_empty() {
            assert_eq!(at, bytes.len());
        }
    }

    #[test]
    fn the_splitter_agrees_with_the_tokenizer() {
        for case in [
            &b"a,b\r\nc,\"d\"\"e\"\r\n"[..],
            b"\xEF\xBB\xBFx,y\n\n\nz\n",
            b"\"unterminated,\r\nstill",
            b"a\"b,\"c\"d,e\r",
            b",,\r\n\r\n,",
            b"",
            b"\r\n\r\n",
            b"\"q\"\"\"\r\n",
        ] {
            agree(case);
        }
    }

    #[test]
    fn the_splitter_agrees_on_every_golden_file() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../golden");
        let mut stack = vec![std::path::PathBuf::from(root)];
        let mut n = 0;
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(&dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|x| x.eq_ignore_ascii_case("csv")) {
                    agree(&std::fs::read(&p).unwrap());
                    n += 1;
                }
            }
        }
        assert!(n > 100, "{n} golden files");
    }

    #[test]
    fn field_spans_cover_quotes_and_content_offsets_skip_doubled_quotes() {
        let bytes = b"1,\"a\"\"b\"\r\n";
        let raw = split(bytes);
        let f = &raw.records[0].fields[1];
        assert_eq!(&bytes[f.span.clone()], b"\"a\"\"b\"");
        assert_eq!(f.bytes(bytes), b"a\"b");
        assert_eq!(f.content, vec![3..5, 6..7]);
        let mut copy = bytes.to_vec();
        f.write(&mut copy, b"x\"y");
        assert_eq!(&copy, b"1,\"x\"\"y\"\r\n");
    }

    proptest::proptest! {
        #[test]
        fn the_splitter_agrees_on_arbitrary_bytes(bytes in proptest::collection::vec(
            proptest::sample::select(vec![b'a', b'"', b',', b'\r', b'\n', 0x82, 0xA0, 0xEF, 0xBB, 0xBF]),
            0..40,
        )) {
            agree(&bytes);
        }
    }
}
