//! Strict MS932 (Windows-31J / CP932) decoding and encoding.
//!
//! `encoding_rs`'s `SHIFT_JIS` is the WHATWG decoder: it accepts NEC and IBM extensions and the
//! user-defined area (外字) silently, decodes 0x80 to U+0080, and on encoding turns unmappable
//! characters into `&#NNNN;` with only a flag set. The standard forbids 外字 and anything outside
//! MS932 (L4 L9-11, S4 L721-725), so this module classifies byte ranges itself and reports each
//! offending character with its byte offset; `encoding_rs` is used only for the mapping of valid
//! double-byte characters (read once into a table of the ordinary ones, so that text decodes by a
//! lookup per character; anything else goes through the strict slow path).
//!
//! Byte ranges (CP932): single bytes 0x00–0x7F (ASCII) and 0xA1–0xDF (half-width katakana); lead
//! bytes 0x81–0x9F and 0xE0–0xFC followed by a trail byte 0x40–0x7E or 0x80–0xFC. Within those:
//! lead 0x87 = NEC special characters (①, Ⅰ, ㍉ …), leads 0xED–0xEE = NEC-selected IBM extensions,
//! leads 0xFA–0xFC = IBM extensions, leads 0xF0–0xF9 = user-defined area (外字).

use std::sync::OnceLock;

use encoding_rs::SHIFT_JIS;
use serde::{Deserialize, Serialize};

/// True for a byte that starts a double-byte character.
pub fn is_lead(b: u8) -> bool {
    matches!(b, 0x81..=0x9F | 0xE0..=0xFC)
}

/// True for a byte that may follow a lead byte.
pub fn is_trail(b: u8) -> bool {
    matches!(b, 0x40..=0x7E | 0x80..=0xFC)
}

/// True when `bytes` ends with a lead byte whose trail byte is missing (read from the start, as a
/// decoder does).
pub fn ends_inside_char(bytes: &[u8]) -> bool {
    let mut i = 0;
    while i < bytes.len() {
        if is_lead(bytes[i]) {
            if i + 1 == bytes.len() {
                return true;
            }
            i += if is_trail(bytes[i + 1]) { 2 } else { 1 };
        } else {
            i += 1;
        }
    }
    false
}

/// What is wrong (or noteworthy) about one character of the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueKind {
    /// A byte that cannot start a character (0x80, 0xA0, 0xFD–0xFF) or a lead byte without a trail.
    InvalidByte,
    /// A well-formed pair that MS932 assigns no character to.
    Unassigned,
    /// 外字: a character of the user-defined area (leads 0xF0–0xF9).
    UserDefined,
    /// NEC special characters (row 13, lead 0x87).
    NecSpecial,
    /// NEC-selected IBM extensions (leads 0xED–0xEE) or IBM extensions (leads 0xFA–0xFC).
    IbmExtension,
}

/// One issue found while decoding; `offset` is relative to the decoded slice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeIssue {
    pub offset: usize,
    pub kind: IssueKind,
    /// The bytes of the offending character: `raw[..len]` (1 or 2 bytes; inline, so that a field
    /// of a million invalid bytes costs no million allocations).
    raw: [u8; 2],
    len: u8,
    /// The character it decodes to, where it decodes at all.
    pub ch: Option<char>,
}

impl DecodeIssue {
    fn new(offset: usize, kind: IssueKind, bytes: &[u8], ch: Option<char>) -> Self {
        let mut raw = [0; 2];
        let len = bytes.len().min(2);
        raw[..len].copy_from_slice(&bytes[..len]);
        Self {
            offset,
            kind,
            raw,
            len: len as u8,
            ch,
        }
    }

    /// The bytes of the offending character (1 or 2).
    pub fn bytes(&self) -> &[u8] {
        &self.raw[..usize::from(self.len)]
    }
}

fn classify_lead(lead: u8) -> Option<IssueKind> {
    match lead {
        0x87 => Some(IssueKind::NecSpecial),
        0xED | 0xEE | 0xFA..=0xFC => Some(IssueKind::IbmExtension),
        0xF0..=0xF9 => Some(IssueKind::UserDefined),
        _ => None,
    }
}

/// What a byte is where a character starts, for [`decode_ordinary`]: 0 a whole character (ASCII,
/// half-width katakana), 1 the lead of an ordinary double-byte character, 2 anything else (an
/// invalid byte, or the lead of a 外字, NEC or IBM character).
static START_CLASS: [u8; 256] = {
    let mut t = [2u8; 256];
    let mut b = 0;
    while b < 256 {
        let byte = b as u8;
        t[b] = if byte < 0x80 || (byte >= 0xA1 && byte <= 0xDF) {
            0
        } else if matches!(byte, 0x81..=0x9F | 0xE0..=0xFC)
            && !matches!(byte, 0x87 | 0xED | 0xEE | 0xF0..=0xFC)
        {
            1
        } else {
            2
        };
        b += 1;
    }
    t
};

/// Lead bytes of ordinary double-byte characters (class 1 of [`START_CLASS`]) in order, and the
/// row of each in [`ordinary_chars`] (`NO_ROW` for any other byte).
const NO_ROW: u8 = u8::MAX;
static LEAD_ROW: [u8; 256] = {
    let mut t = [NO_ROW; 256];
    let mut b = 0;
    let mut row = 0;
    while b < 256 {
        if START_CLASS[b] == 1 {
            t[b] = row;
            row += 1;
        }
        b += 1;
    }
    t
};
const LEAD_ROWS: usize = {
    let mut n = 0;
    let mut b = 0;
    while b < 256 {
        if START_CLASS[b] == 1 {
            n += 1;
        }
        b += 1;
    }
    n
};

/// The character of every ordinary double-byte character, `row * 256 + trail`, as `encoding_rs`
/// decodes the pair; 0 where the pair does not decode (not a trail byte, or unassigned). Built
/// once, from `encoding_rs` itself, so that decoding a field costs a lookup per character.
fn ordinary_chars() -> &'static [u16] {
    static TABLE: OnceLock<Box<[u16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = vec![0u16; LEAD_ROWS * 256];
        for lead in 0..=255u8 {
            let row = LEAD_ROW[usize::from(lead)];
            if row == NO_ROW {
                continue;
            }
            for trail in (0..=255u8).filter(|&t| is_trail(t)) {
                let pair = [lead, trail];
                let Some(text) =
                    SHIFT_JIS.decode_without_bom_handling_and_without_replacement(&pair)
                else {
                    continue;
                };
                let mut chars = text.chars();
                if let (Some(c), None) = (chars.next(), chars.next())
                    && let Ok(unit) = u16::try_from(u32::from(c))
                    && unit != 0
                {
                    t[usize::from(row) * 256 + usize::from(trail)] = unit;
                }
            }
        }
        t.into_boxed_slice()
    })
}

/// Decodes `bytes` when they hold only ASCII, half-width katakana and ordinary double-byte
/// characters that decode, appending to `out`; otherwise returns false with `out` as it was.
fn decode_ordinary(bytes: &[u8], out: &mut String) -> bool {
    let table = ordinary_chars();
    let before = out.len();
    out.reserve(bytes.len() + bytes.len() / 2);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            out.push(char::from(b));
            i += 1;
            continue;
        }
        if (0xA1..=0xDF).contains(&b) {
            // Half-width katakana, U+FF61 onwards (as encoding_rs and `decode_slow` read them).
            if let Some(c) = char::from_u32(0xFF61 + u32::from(b - 0xA1)) {
                out.push(c);
                i += 1;
                continue;
            }
        }
        let row = LEAD_ROW[usize::from(b)];
        if row != NO_ROW
            && let Some(&trail) = bytes.get(i + 1)
            && let unit = table[usize::from(row) * 256 + usize::from(trail)]
            && unit != 0
            && let Some(c) = char::from_u32(u32::from(unit))
        {
            out.push(c);
            i += 2;
            continue;
        }
        out.truncate(before);
        return false;
    }
    true
}

/// Decodes `bytes` strictly, appending to `out`. Invalid characters become U+FFFD; every invalid,
/// unassigned, 外字, NEC or IBM character is reported in `issues` (which is appended to).
pub fn decode_into(bytes: &[u8], out: &mut String, issues: &mut Vec<DecodeIssue>) {
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are valid UTF-8 (checked just above).
        out.push_str(unsafe { std::str::from_utf8_unchecked(bytes) });
        return;
    }
    if decode_ordinary(bytes, out) {
        return;
    }
    decode_slow(bytes, out, issues);
}

fn decode_slow(bytes: &[u8], out: &mut String, issues: &mut Vec<DecodeIssue>) {
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            out.push(b as char);
            i += 1;
        } else if (0xA1..=0xDF).contains(&b) {
            out.push(char::from_u32(0xFF61 + u32::from(b - 0xA1)).unwrap_or('\u{FFFD}'));
            i += 1;
        } else if is_lead(b) && bytes.get(i + 1).is_some_and(|&t| is_trail(t)) {
            let pair = &bytes[i..i + 2];
            match SHIFT_JIS.decode_without_bom_handling_and_without_replacement(pair) {
                Some(text) => {
                    let ch = text.chars().next();
                    if let Some(kind) = classify_lead(b) {
                        issues.push(DecodeIssue::new(i, kind, pair, ch));
                    }
                    out.push_str(&text);
                }
                None => {
                    issues.push(DecodeIssue::new(i, IssueKind::Unassigned, pair, None));
                    out.push('\u{FFFD}');
                }
            }
            i += 2;
        } else {
            issues.push(DecodeIssue::new(i, IssueKind::InvalidByte, &[b], None));
            out.push('\u{FFFD}');
            i += 1;
        }
    }
}

/// Decodes a whole buffer; convenience over [`decode_into`].
pub fn decode(bytes: &[u8]) -> (String, Vec<DecodeIssue>) {
    let mut out = String::with_capacity(bytes.len());
    let mut issues = Vec::new();
    decode_into(bytes, &mut out, &mut issues);
    (out, issues)
}

/// Why a character cannot be written as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EncodeIssueKind {
    /// MS932 has no such character (encoding_rs would write `&#NNNN;`).
    Unmappable,
    /// It is written, but reads back as another character (− → －, ¥ → \).
    Lossy,
    /// It would be written into the user-defined area (外字): forbidden.
    UserDefined,
    /// It exists only as an NEC special character.
    NecSpecial,
    /// It exists only as an IBM extension character.
    IbmExtension,
}

/// One character that cannot be written faithfully.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EncodeIssue {
    /// Index of the character (in chars, 0-based) in the input.
    pub char_index: usize,
    pub ch: char,
    pub kind: EncodeIssueKind,
    /// What it reads back as, for [`EncodeIssueKind::Lossy`].
    pub reads_back_as: Option<char>,
    /// The MS932 character to use instead, when the table in `data/ms932_substitutions.toml` has one.
    pub suggestion: Option<Substitution>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Substitution {
    pub from: String,
    pub to: String,
    pub why: String,
}

#[derive(Deserialize)]
struct SubstitutionFile {
    subs: Vec<Substitution>,
}

/// The suggestion table of `data/ms932_substitutions.toml`.
pub fn substitutions() -> &'static [Substitution] {
    static SUBS: OnceLock<Vec<Substitution>> = OnceLock::new();
    SUBS.get_or_init(|| {
        let file: SubstitutionFile =
            toml::from_str(include_str!("../data/ms932_substitutions.toml")).unwrap_or_else(|e| {
                panic!(
                    "spec/data/ms932_substitutions.toml is invalid (a build-time data error): {e}"
                )
            });
        file.subs
    })
}

/// The suggested replacement for `ch`, if any.
pub fn suggestion_for(ch: char) -> Option<&'static Substitution> {
    substitutions()
        .iter()
        .find(|s| s.from.chars().eq(std::iter::once(ch)))
}

/// Encodes one non-ASCII character; returns its bytes and the issue, if any.
fn encode_char(ch: char, buf: &mut [u8; 4]) -> (Vec<u8>, Option<(EncodeIssueKind, Option<char>)>) {
    if ('\u{E000}'..='\u{E757}').contains(&ch) {
        // The private-use characters that CP932 maps to its user-defined area (外字).
        return (Vec::new(), Some((EncodeIssueKind::UserDefined, None)));
    }
    let s = ch.encode_utf8(buf);
    let (bytes, _, unmappable) = SHIFT_JIS.encode(s);
    if unmappable {
        return (Vec::new(), Some((EncodeIssueKind::Unmappable, None)));
    }
    let bytes = bytes.into_owned();
    // Classify with the strict decoder, so that encoding and decoding agree on what MS932 holds
    // (encoding_rs writes U+0080 as the byte 0x80, which MS932 does not define).
    let (back, decode_issues) = decode(&bytes);
    let issue = match decode_issues.first().map(|i| i.kind) {
        Some(IssueKind::InvalidByte | IssueKind::Unassigned) => {
            Some((EncodeIssueKind::Unmappable, None))
        }
        Some(IssueKind::UserDefined) => Some((EncodeIssueKind::UserDefined, None)),
        Some(IssueKind::NecSpecial) => Some((EncodeIssueKind::NecSpecial, None)),
        Some(IssueKind::IbmExtension) => Some((EncodeIssueKind::IbmExtension, None)),
        None => {
            let b = back.chars().next();
            if b == Some(ch) {
                None
            } else {
                Some((EncodeIssueKind::Lossy, b))
            }
        }
    };
    let bytes = if matches!(issue, Some((EncodeIssueKind::Unmappable, _))) {
        Vec::new()
    } else {
        bytes
    };
    (bytes, issue)
}

/// Encodes `text` to MS932, reporting every character that cannot be written faithfully.
///
/// Returns the bytes written so far and the issues. Unmappable characters are left out of the
/// bytes (never `&#NNNN;`); a caller that wants output must check `issues` first. With
/// `substitute`, characters that have a suggestion are written as the suggestion instead (and still
/// reported, so that the caller can list what was changed).
pub fn encode(text: &str, substitute: bool) -> (Vec<u8>, Vec<EncodeIssue>) {
    let mut out = Vec::with_capacity(text.len());
    let mut issues = Vec::new();
    let mut buf = [0u8; 4];
    for (char_index, ch) in text.chars().enumerate() {
        if ch.is_ascii() {
            out.push(ch as u8);
            continue;
        }
        let (bytes, issue) = encode_char(ch, &mut buf);
        match issue {
            None => out.extend_from_slice(&bytes),
            Some((kind, reads_back_as)) => {
                let suggestion = suggestion_for(ch).cloned();
                match (&suggestion, substitute) {
                    (Some(s), true) => {
                        let (sub, _) = encode(&s.to, false);
                        out.extend_from_slice(&sub);
                    }
                    _ if !bytes.is_empty() => out.extend_from_slice(&bytes),
                    _ => {}
                }
                issues.push(EncodeIssue {
                    char_index,
                    ch,
                    kind,
                    reads_back_as,
                    suggestion,
                });
            }
        }
    }
    (out, issues)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sjis(text: &str) -> Vec<u8> {
        SHIFT_JIS.encode(text).0.into_owned()
    }

    #[test]
    fn the_start_class_table_agrees_with_the_byte_rules() {
        for b in 0..=255u8 {
            let whole = b < 0x80 || (0xA1..=0xDF).contains(&b);
            let ordinary_lead = is_lead(b) && classify_lead(b).is_none();
            let expected = if whole {
                0
            } else if ordinary_lead {
                1
            } else {
                2
            };
            assert_eq!(START_CLASS[usize::from(b)], expected, "byte {b:#04X}");
        }
    }

    /// The lookup table reads every byte and pair of bytes as the slow path does: the same text
    /// where the slow path finds nothing to report, and nothing (leaving it to the slow path)
    /// where it does.
    #[test]
    fn ordinary_pairs_decode_as_encoding_rs_and_the_slow_path_do() {
        assert_eq!(
            (0..=255).filter(|&b| START_CLASS[b] == 1).count(),
            LEAD_ROWS
        );
        let same = |bytes: &[u8]| {
            let mut fast = String::from("x");
            let ok = decode_ordinary(bytes, &mut fast);
            let mut slow = String::from("x");
            let mut issues = Vec::new();
            decode_slow(bytes, &mut slow, &mut issues);
            assert_eq!(ok, issues.is_empty(), "{bytes:02X?}");
            if ok {
                assert_eq!(fast, slow, "{bytes:02X?}");
            } else {
                assert_eq!(fast, "x", "{bytes:02X?}");
            }
        };
        for lead in 0..=255u8 {
            same(&[lead]);
            for trail in 0..=255u8 {
                same(&[lead, trail]);
            }
        }
    }

    #[test]
    fn plain_text_round_trips() {
        let text = "利用者 ﾌﾘｶﾞﾅ、サービス～（１）髪";
        let (bytes, issues) = encode(text, false);
        assert!(issues.is_empty(), "{issues:?}");
        let (back, issues) = decode(&bytes);
        assert!(issues.is_empty());
        assert_eq!(back, text);
    }

    #[test]
    fn reports_invalid_bytes_with_offsets() {
        let mut bytes = sjis("あい");
        bytes.insert(2, 0xFF);
        bytes.push(0x82); // lead byte at the end, no trail
        let (text, issues) = decode(&bytes);
        assert_eq!(text, "あ\u{FFFD}い\u{FFFD}");
        assert_eq!(issues.len(), 2);
        assert_eq!(
            (issues[0].offset, issues[0].kind),
            (2, IssueKind::InvalidByte)
        );
        assert_eq!(
            (issues[1].offset, issues[1].kind),
            (5, IssueKind::InvalidByte)
        );
    }

    #[test]
    fn lead_byte_before_a_quote_does_not_swallow_it() {
        let (text, issues) = decode(&[0x82, b'"', b'a']);
        assert_eq!(text, "\u{FFFD}\"a");
        assert_eq!(issues[0].kind, IssueKind::InvalidByte);
    }

    #[test]
    fn classifies_gaiji_nec_and_ibm() {
        // 0xF040: first user-defined character; 0x8740 = ①; 0xFBFC = 髙 (IBM); 0xED40 = NEC-selected IBM 纊.
        let (text, issues) = decode(&[0xF0, 0x40, 0x87, 0x40, 0xFB, 0xFC, 0xED, 0x40, 0x80]);
        let kinds: Vec<_> = issues.iter().map(|i| (i.offset, i.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                (0, IssueKind::UserDefined),
                (2, IssueKind::NecSpecial),
                (4, IssueKind::IbmExtension),
                (6, IssueKind::IbmExtension),
                (8, IssueKind::InvalidByte),
            ]
        );
        assert!(text.starts_with('\u{E000}'));
        assert_eq!(issues[1].ch, Some('①'));
    }

    #[test]
    fn unassigned_pairs_are_reported() {
        // Row 9-12 (lead 0x85) is unassigned in CP932.
        let (_, issues) = decode(&[0x85, 0x40]);
        assert_eq!(issues[0].kind, IssueKind::Unassigned);
    }

    #[test]
    fn encoder_reports_wave_dash_family_with_suggestions() {
        let (bytes, issues) = encode("10〜12時−‖", false);
        let got: Vec<_> = issues
            .iter()
            .map(|i| (i.char_index, i.ch, i.kind))
            .collect();
        assert_eq!(
            got,
            vec![
                (2, '〜', EncodeIssueKind::Unmappable),
                (6, '−', EncodeIssueKind::Lossy),
                (7, '‖', EncodeIssueKind::Unmappable),
            ]
        );
        assert_eq!(issues[0].suggestion.as_ref().unwrap().to, "～");
        assert_eq!(issues[1].reads_back_as, Some('－'));
        assert!(
            !bytes.windows(2).any(|w| w == b"&#"),
            "never writes numeric references"
        );

        let (bytes, _) = encode("10〜12時", true);
        assert_eq!(decode(&bytes).0, "10～12時");
    }

    #[test]
    fn encoder_and_decoder_agree_on_u0080() {
        let (bytes, issues) = encode("a\u{80}b", false);
        assert_eq!(bytes, b"ab");
        assert_eq!(issues[0].kind, EncodeIssueKind::Unmappable);
    }

    #[test]
    fn encoder_flags_characters_outside_the_safe_set() {
        let (_, issues) = encode("①\u{E000}髙", false);
        let kinds: Vec<_> = issues.iter().map(|i| i.kind).collect();
        assert_eq!(
            kinds,
            vec![
                EncodeIssueKind::NecSpecial,
                EncodeIssueKind::UserDefined,
                EncodeIssueKind::IbmExtension
            ]
        );
    }
}
