//! `cpkit anonymize`: a copy of a support case's files without personal data that still joins and
//! still fails the same way, so that it can go to the other vendor.
//!
//! Which columns are personal, and of which class, is the data table
//! `harness/data/personal_columns.toml` (over the layouts of `spec/data/layouts/`). Each value is
//! replaced by a keyed pseudonym: HMAC-SHA-256 under a local secret (`ring::hmac`) of the class and
//! the value drives the replacement, so the same person (被保険者番号, name, address …) becomes the
//! same pseudonym in every file and unit and cross-file keys still join; no pseudonym equals an
//! original value of its class in the input. Names, addresses, numbers and free text are replaced
//! character by character within the character's class (kanji, hiragana, katakana, half-width
//! katakana, digits, letters; full-width stays full-width) and never by the same character, while
//! spaces, punctuation, quotes and line breaks stay; 被保険者番号 keeps the H of a 生保単独 number;
//! birth dates move by a number of days fixed per person. Files are rewritten in place byte for
//! byte (see [`super::raw`]): lengths in characters and bytes, quoting, embedded CR/LF, BOM and line
//! endings are those of the input, so the copy triggers the same rules at the same line and column.
//! Offending characters (invalid MS932, 外字, NEC and IBM characters) are replaced too unless
//! [`Options::keep_offending`] asks to keep them. The family image of 利用者基本情報 is replaced by
//! a blank JPEG (a file that is not a JPEG keeps only its first bytes, enough for FILE004).
//!
//! The secret lives in a key file on the engineer's machine (created with mode 0600 if absent); it
//! is never written into the output, and the report names it only by a derived key id.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use careplan_spec::layout::{self, Format, LayoutView};
use careplan_spec::ms932::{self, IssueKind, is_lead, is_trail};
use careplan_spec::rules::RuleId;
use careplan_spec::validate::FileReport;
use ring::hmac;
use serde::{Deserialize, Serialize};

use super::inputs::{Input, validate_files};
use super::raw;

/// The class of a personal column (`personal_columns.toml`); also the HMAC domain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Insured,
    Name,
    Kana,
    BirthDate,
    Address,
    Postal,
    Phone,
    Identifier,
    Text,
}

impl Class {
    fn domain(self) -> &'static str {
        match self {
            Self::Insured => "insured",
            Self::Name => "name",
            Self::Kana => "kana",
            Self::BirthDate => "birth_date",
            Self::Address => "address",
            Self::Postal => "postal",
            Self::Phone => "phone",
            Self::Identifier => "identifier",
            Self::Text => "text",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalColumns {
    /// Layout name → column name → class.
    pub columns: BTreeMap<String, BTreeMap<String, Class>>,
    /// Layout name → free-text, phone, postal or insured columns that are not personal.
    pub keep: BTreeMap<String, Vec<String>>,
}

/// The table, parsed once (a data error is a build error: the tests load it).
pub fn personal_columns() -> &'static PersonalColumns {
    static T: OnceLock<PersonalColumns> = OnceLock::new();
    T.get_or_init(|| {
        toml::from_str(include_str!("../../data/personal_columns.toml"))
            .unwrap_or_else(|e| panic!("harness/data/personal_columns.toml is invalid: {e}"))
    })
}

/// The personal columns of a layout view: column index → class.
fn classes_of(view: &LayoutView) -> BTreeMap<usize, Class> {
    let Some(cols) = personal_columns().columns.get(&view.layout.name) else {
        return BTreeMap::new();
    };
    view.columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| cols.get(c.name()).map(|class| (i, *class)))
        .collect()
}

/// Why anonymisation could not be done.
#[derive(Debug, thiserror::Error)]
pub enum AnonymizeError {
    #[error("failed to read the key {path}: {source}")]
    KeyRead {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("failed to create the key {path}: {source}")]
    KeyWrite {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a key written by cpkit anonymize (64 hexadecimal digits)")]
    KeyFormat { path: PathBuf },
}

/// The local secret.
pub struct Key {
    key: hmac::Key,
    /// A short id derived from the secret (not the secret): two copies made with the same key
    /// carry the same id and join.
    pub id: String,
}

impl Key {
    pub fn from_secret(secret: &[u8]) -> Self {
        let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
        let tag = hmac::sign(&key, b"cpkit-anonymize key id");
        let id = tag.as_ref()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self { key, id }
    }

    /// Reads the key at `path`, or creates it (32 random bytes as hex, mode 0600) when absent.
    /// Returns whether it was created.
    pub fn load_or_create(path: &Path) -> Result<(Self, bool), AnonymizeError> {
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let hex = text.trim();
                let bytes: Option<Vec<u8>> = (hex.len() == 64)
                    .then(|| {
                        (0..32)
                            .map(|i| u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok())
                            .collect()
                    })
                    .flatten();
                let bytes = bytes.ok_or_else(|| AnonymizeError::KeyFormat {
                    path: path.to_owned(),
                })?;
                Ok((Self::from_secret(&bytes), false))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let werr = |source| AnonymizeError::KeyWrite {
                    path: path.to_owned(),
                    source,
                };
                let mut secret = [0u8; 32];
                ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret)
                    .map_err(|_| werr(std::io::Error::other("no system randomness")))?;
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(werr)?;
                }
                let mut options = std::fs::OpenOptions::new();
                options.write(true).create_new(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
                let mut file = options.open(path).map_err(werr)?;
                let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
                file.write_all(format!("{hex}\n").as_bytes())
                    .map_err(werr)?;
                Ok((Self::from_secret(&secret), true))
            }
            Err(source) => Err(AnonymizeError::KeyRead {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// A keystream for one value: HMAC(domain ‖ 0 ‖ value ‖ 0 ‖ attempt ‖ block).
    fn stream(&self, domain: &str, value: &[u8], attempt: u32) -> Stream<'_> {
        Stream {
            key: self,
            seed: [domain.as_bytes(), &[0], value, &[0], &attempt.to_be_bytes()].concat(),
            block: 0,
            buf: Vec::new(),
        }
    }
}

struct Stream<'a> {
    key: &'a Key,
    seed: Vec<u8>,
    block: u32,
    buf: Vec<u8>,
}

impl Stream<'_> {
    fn next_u16(&mut self) -> usize {
        if self.buf.len() < 2 {
            let mut input = self.seed.clone();
            input.extend_from_slice(&self.block.to_be_bytes());
            self.block += 1;
            self.buf = hmac::sign(&self.key.key, &input).as_ref().to_vec();
        }
        let v = usize::from(u16::from_be_bytes([self.buf[0], self.buf[1]]));
        self.buf.drain(..2);
        v
    }
}

/// What a character is, for the replacement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum CharClass {
    Digit,
    Upper,
    Lower,
    HalfKana,
    FwDigit,
    FwUpper,
    FwLower,
    Hiragana,
    Katakana,
    Kanji,
    /// A single byte that is no MS932 character.
    Bad1,
    /// A double-byte code that is 外字, NEC, IBM or unassigned.
    Bad2,
    /// Kept as it is: spaces, punctuation, symbols, quotes, line breaks, controls.
    Keep,
}

/// Pools of replacement characters with their MS932 bytes.
struct Pools(HashMap<CharClass, Vec<(char, Vec<u8>)>>);

fn pools() -> &'static Pools {
    static P: OnceLock<Pools> = OnceLock::new();
    P.get_or_init(|| {
        let mut p: HashMap<CharClass, Vec<(char, Vec<u8>)>> = HashMap::new();
        let single = |range: std::ops::RangeInclusive<u8>| -> Vec<(char, Vec<u8>)> {
            range
                .filter_map(|b| {
                    let (t, issues) = ms932::decode(&[b]);
                    (issues.is_empty()).then(|| (t.chars().next().unwrap_or('?'), vec![b]))
                })
                .collect()
        };
        let double = |from: u16, to: u16, class: CharClass| -> Vec<(char, Vec<u8>)> {
            (from..=to)
                .filter_map(|code| {
                    let bytes = code.to_be_bytes();
                    if !is_trail(bytes[1]) || ms932_class(&bytes) != class {
                        return None;
                    }
                    let (t, issues) = ms932::decode(&bytes);
                    (issues.is_empty()).then(|| (t.chars().next().unwrap_or('?'), bytes.to_vec()))
                })
                .collect()
        };
        p.insert(CharClass::Digit, single(b'0'..=b'9'));
        p.insert(CharClass::Upper, single(b'A'..=b'Z'));
        p.insert(CharClass::Lower, single(b'a'..=b'z'));
        p.insert(CharClass::HalfKana, single(0xB1..=0xDD));
        for (from, to, class) in [
            (0x824F, 0x8258, CharClass::FwDigit),
            (0x8260, 0x8279, CharClass::FwUpper),
            (0x8281, 0x829A, CharClass::FwLower),
            (0x829F, 0x82F1, CharClass::Hiragana),
            (0x8340, 0x8396, CharClass::Katakana),
        ] {
            p.insert(class, double(from, to, class));
        }
        // JIS level-1 kanji: ordinary, in every receiver's font.
        p.insert(CharClass::Kanji, double(0x889F, 0x9872, CharClass::Kanji));
        Pools(p)
    })
}

/// The class of one MS932 character (1 or 2 bytes).
fn ms932_class(bytes: &[u8]) -> CharClass {
    match *bytes {
        [b] => match b {
            b'0'..=b'9' => CharClass::Digit,
            b'A'..=b'Z' => CharClass::Upper,
            b'a'..=b'z' => CharClass::Lower,
            0x00..=0x7F => CharClass::Keep,
            0xB1..=0xDD => CharClass::HalfKana,
            0xA1..=0xDF => CharClass::Keep,
            _ => CharClass::Bad1,
        },
        [lead, trail] => {
            let (_, issues) = ms932::decode(bytes);
            if !issues.is_empty() {
                return CharClass::Bad2;
            }
            let code = u16::from_be_bytes([lead, trail]);
            match code {
                0x824F..=0x8258 => CharClass::FwDigit,
                0x8260..=0x8279 => CharClass::FwUpper,
                0x8281..=0x829A => CharClass::FwLower,
                0x829F..=0x82F1 => CharClass::Hiragana,
                0x8340..=0x8396 => CharClass::Katakana,
                0x889F..=0x9FFC | 0xE040..=0xEAA4 => CharClass::Kanji,
                _ => CharClass::Keep,
            }
        }
        _ => CharClass::Keep,
    }
}

fn utf8_class(c: char) -> CharClass {
    match c {
        '0'..='9' => CharClass::Digit,
        'A'..='Z' => CharClass::Upper,
        'a'..='z' => CharClass::Lower,
        '\u{FF10}'..='\u{FF19}' => CharClass::FwDigit,
        '\u{FF21}'..='\u{FF3A}' => CharClass::FwUpper,
        '\u{FF41}'..='\u{FF5A}' => CharClass::FwLower,
        '\u{3041}'..='\u{3093}' => CharClass::Hiragana,
        '\u{30A1}'..='\u{30F6}' => CharClass::Katakana,
        '\u{FF71}'..='\u{FF9D}' => CharClass::HalfKana,
        '\u{4E00}'..='\u{9FFF}' => CharClass::Kanji,
        _ => CharClass::Keep,
    }
}

/// One character of a field: its byte range in the content and its class.
fn characters(content: &[u8], utf8: bool) -> Vec<(std::ops::Range<usize>, CharClass)> {
    let mut out = Vec::new();
    if utf8 && let Ok(text) = std::str::from_utf8(content) {
        for (i, c) in text.char_indices() {
            out.push((i..i + c.len_utf8(), utf8_class(c)));
        }
        return out;
    }
    let mut i = 0;
    while i < content.len() {
        let b = content[i];
        let n = if is_lead(b) && content.get(i + 1).is_some_and(|&t| is_trail(t)) {
            2
        } else {
            1
        };
        out.push((i..i + n, ms932_class(&content[i..i + n])));
        i += n;
    }
    out
}

/// How to run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// Keep the characters the spec core reports (invalid MS932, 外字, NEC, IBM) and birth dates
    /// that are not dates, so that encoding findings stay too.
    pub keep_offending: bool,
}

/// What was replaced in one column.
#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct ColumnReport {
    pub layout: String,
    pub no: u16,
    pub name: String,
    pub class: String,
    pub replaced: usize,
    pub empty: usize,
    /// Values in which offending characters were kept (`keep_offending`).
    pub offending_kept: usize,
    /// Birth dates that are not dates (replaced digit by digit, or kept with `keep_offending`).
    pub not_a_date: usize,
}

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct FileOut {
    pub input: String,
    /// Path under the output folder.
    pub output: PathBuf,
    pub records: usize,
    /// Records whose column count does not fit the layout: every field but the CSVバージョン was
    /// treated as free text.
    pub misaligned_records: usize,
    pub image_replaced: bool,
}

/// The report (`cpkit-anonymize/1`): what was replaced, never an original value.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub key_id: String,
    pub keep_offending: bool,
    pub files: Vec<FileOut>,
    pub columns: Vec<ColumnReport>,
    /// Values replaced per class, over all columns.
    pub per_class: BTreeMap<String, usize>,
    /// Files that are not files of the standard (attachments), not copied.
    pub not_copied: Vec<String>,
}

/// The anonymised files and the report.
pub struct Anonymized {
    /// (path under the output folder, bytes).
    pub files: Vec<(PathBuf, Vec<u8>)>,
    pub report: Report,
}

/// A blank 1×1 baseline JPEG (the same bytes as golden/generate.py's TINY_JPEG).
pub fn blank_jpeg() -> Vec<u8> {
    let mut j = vec![0xFF, 0xD8];
    j.extend([
        0xFF, 0xE0, 0x00, 0x10, 0x4A, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x01, 0x00, 0x00,
    ]);
    j.extend([0xFF, 0xDB, 0x00, 0x43, 0x00]);
    j.extend([1u8; 64]);
    j.extend([
        0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x01, 0x00, 0x01, 0x01, 0x01, 0x11, 0x00,
    ]);
    for table in [0x00u8, 0x10] {
        j.extend([0xFF, 0xC4, 0x00, 0x14, table, 1]);
        j.extend([0u8; 15]);
        j.push(0);
    }
    j.extend([0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00]);
    j.push(0x3F);
    j.extend([0xFF, 0xD9]);
    j
}

/// The pseudonymiser of one run: the key, every original value per class (so that no pseudonym
/// equals one of them), and the pseudonyms given so far (so that two values never share one).
struct Mapper<'a> {
    key: &'a Key,
    options: Options,
    originals: HashMap<Class, BTreeSet<Vec<u8>>>,
    given: HashMap<(Class, Vec<u8>), Vec<u8>>,
    taken: HashMap<Class, BTreeSet<Vec<u8>>>,
}

impl Mapper<'_> {
    /// The pseudonym of `value` (content bytes) of `class`; `person` drives birth-date shifts.
    /// Returns the bytes (same length) and whether offending characters were kept.
    fn map(&mut self, class: Class, value: &[u8], utf8: bool, person: &[u8]) -> (Vec<u8>, bool) {
        if class == Class::BirthDate
            && let Some(shifted) = self.shift_date(value, person)
        {
            return (shifted, false);
        }
        if let Some(done) = self.given.get(&(class, value.to_vec())) {
            return (done.clone(), self.kept_offending(value, utf8));
        }
        let mut attempt = 0;
        let out = loop {
            let candidate = self.replace(class, value, utf8, attempt);
            let clash = candidate != value
                && (self
                    .originals
                    .get(&class)
                    .is_some_and(|o| o.contains(&candidate))
                    || self
                        .taken
                        .get(&class)
                        .is_some_and(|t| t.contains(&candidate)));
            // A value made only of kept characters cannot change: it is its own pseudonym.
            if !clash || attempt >= 64 {
                break candidate;
            }
            attempt += 1;
        };
        self.taken.entry(class).or_default().insert(out.clone());
        self.given.insert((class, value.to_vec()), out.clone());
        (out, self.kept_offending(value, utf8))
    }

    fn kept_offending(&self, value: &[u8], utf8: bool) -> bool {
        self.options.keep_offending
            && characters(value, utf8)
                .iter()
                .any(|(_, c)| matches!(c, CharClass::Bad1 | CharClass::Bad2))
    }

    fn replace(&self, class: Class, value: &[u8], utf8: bool, attempt: u32) -> Vec<u8> {
        let mut stream = self.key.stream(class.domain(), value, attempt);
        let mut out = value.to_vec();
        for (n, (range, cc)) in characters(value, utf8).into_iter().enumerate() {
            // The H of a 生保単独 被保険者番号 stays.
            if class == Class::Insured && n == 0 && value.first() == Some(&b'H') {
                continue;
            }
            let pool_class = match cc {
                CharClass::Keep => continue,
                CharClass::Bad1 | CharClass::Bad2 if self.options.keep_offending => continue,
                CharClass::Bad1 => CharClass::Upper,
                CharClass::Bad2 => CharClass::Kanji,
                c => c,
            };
            let pool = &pools().0[&pool_class];
            let original = &value[range.clone()];
            let mut i = stream.next_u16() % pool.len();
            let bytes = |i: usize| -> Vec<u8> {
                if utf8 {
                    pool[i].0.to_string().into_bytes()
                } else {
                    pool[i].1.clone()
                }
            };
            if bytes(i) == original {
                i = (i + 1) % pool.len();
            }
            let new = bytes(i);
            if new.len() == range.len() {
                out[range].copy_from_slice(&new);
            }
        }
        out
    }

    /// A valid YYYYMMDD birth date moved by the person's fixed number of days (±1–365).
    fn shift_date(&self, value: &[u8], person: &[u8]) -> Option<Vec<u8>> {
        let text = std::str::from_utf8(value).ok()?;
        if !careplan_spec::domain::is_valid_date(text) {
            return None;
        }
        let mut stream = self.key.stream("birth_shift", person, 0);
        let n = (stream.next_u16() % 365 + 1) as i64;
        let days = if stream.next_u16().is_multiple_of(2) {
            n
        } else {
            -n
        };
        let month = time::Month::try_from(text[4..6].parse::<u8>().ok()?).ok()?;
        let date =
            time::Date::from_calendar_date(text[..4].parse().ok()?, month, text[6..].parse().ok()?)
                .ok()?;
        let moved = date.checked_add(time::Duration::days(days))?;
        let out = format!(
            "{:04}{:02}{:02}",
            moved.year(),
            u8::from(moved.month()),
            moved.day()
        );
        (out.len() == 8).then(|| out.into_bytes())
    }
}

/// Whether the spec core found the field's bytes to be UTF-8 (ENC007 is reported once per file;
/// the field is UTF-8 when it does not decode as MS932 and is valid UTF-8, as the validator reads).
fn field_is_utf8(bytes: &[u8]) -> bool {
    !bytes.is_ascii()
        && std::str::from_utf8(bytes).is_ok()
        && ms932::decode(bytes)
            .1
            .iter()
            .any(|d| matches!(d.kind, IssueKind::InvalidByte | IssueKind::Unassigned))
}

/// How one file's fields are to be treated.
struct Plan<'a> {
    view: Option<&'static LayoutView>,
    classes: BTreeMap<usize, Class>,
    insurer: Option<usize>,
    insured: Option<usize>,
    header: bool,
    report: &'a FileReport,
}

fn plan_for(report: &FileReport) -> Plan<'_> {
    let view = match (report.kind, report.version) {
        (Some(k), Some(v)) if !k.is_image() => layout::view(k, v),
        _ => None,
    };
    let find = |f: Format| view.and_then(|v| v.columns.iter().position(|c| *c.format() == f));
    Plan {
        view,
        classes: view.map(classes_of).unwrap_or_default(),
        insurer: find(Format::Insurer),
        insured: find(Format::Insured),
        header: report
            .findings
            .iter()
            .any(|f| f.rule == RuleId::RecHeaderRow && f.record == Some(1)),
        report,
    }
}

/// Anonymises files (already read; attachments are listed as not copied).
pub fn anonymize(
    files: &[Input],
    attachments: &[Input],
    key: &Key,
    options: Options,
) -> Anonymized {
    let validated = validate_files(files, careplan_spec::Options::default());
    let plans: Vec<Plan<'_>> = validated.reports.iter().map(plan_for).collect();
    let splits: Vec<raw::RawFile> = files.iter().map(|f| raw::split(&f.bytes)).collect();

    // First pass: every original value per class.
    let mut mapper = Mapper {
        key,
        options,
        originals: HashMap::new(),
        given: HashMap::new(),
        taken: HashMap::new(),
    };
    for ((f, plan), split) in files.iter().zip(&plans).zip(&splits) {
        for_each_cell(f, plan, split, |class, content, _, _| {
            mapper
                .originals
                .entry(class)
                .or_default()
                .insert(content.to_vec());
        });
    }

    // Second pass: replace.
    let mut columns: BTreeMap<(String, u16, String), ColumnReport> = BTreeMap::new();
    let mut per_class: BTreeMap<String, usize> = BTreeMap::new();
    let mut out_files = Vec::new();
    let mut outs = Vec::new();
    for ((f, plan), split) in files.iter().zip(&plans).zip(&splits) {
        let is_image = plan.report.kind.is_some_and(|k| k.is_image());
        let mut bytes = f.bytes.clone();
        let mut misaligned = 0;
        if is_image {
            bytes = if f.bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
                blank_jpeg()
            } else {
                f.bytes[..f.bytes.len().min(8)].to_vec()
            };
        } else {
            let mut edits: Vec<((usize, usize), Vec<u8>)> = Vec::new();
            for_each_cell(f, plan, split, |class, content, field, col| {
                let person = person_of(f, plan, split, field.0);
                let utf8 = field_is_utf8(content);
                let (new, kept) = mapper.map(class, content, utf8, &person);
                let entry = match col {
                    Some((layout, no, name)) => columns
                        .entry((layout.clone(), no, name.clone()))
                        .or_insert_with(|| ColumnReport {
                            layout,
                            no,
                            name,
                            class: class.domain().to_owned(),
                            ..ColumnReport::default()
                        }),
                    None => columns
                        .entry(("(misaligned)".to_owned(), 0, String::new()))
                        .or_insert_with(|| ColumnReport {
                            layout: "(misaligned records)".to_owned(),
                            class: class.domain().to_owned(),
                            ..ColumnReport::default()
                        }),
                };
                if content.is_empty() {
                    entry.empty += 1;
                    return;
                }
                entry.replaced += 1;
                if kept {
                    entry.offending_kept += 1;
                }
                if class == Class::BirthDate
                    && !std::str::from_utf8(content).is_ok_and(careplan_spec::domain::is_valid_date)
                {
                    entry.not_a_date += 1;
                }
                *per_class.entry(class.domain().to_owned()).or_default() += 1;
                edits.push((field, new));
            });
            for ((r, fi), new) in edits {
                split.records[r].fields[fi].write(&mut bytes, &new);
            }
            misaligned = split
                .records
                .iter()
                .filter(|r| plan.view.is_none_or(|v| r.fields.len() != v.len()))
                .count();
        }
        outs.push(FileOut {
            input: f.path.clone(),
            output: f.relative.clone(),
            records: split.records.len(),
            misaligned_records: if is_image { 0 } else { misaligned },
            image_replaced: is_image,
        });
        out_files.push((f.relative.clone(), bytes));
    }
    Anonymized {
        files: out_files,
        report: Report {
            schema: "cpkit-anonymize/1",
            key_id: key.id.clone(),
            keep_offending: options.keep_offending,
            files: outs,
            columns: columns.into_values().collect(),
            per_class,
            not_copied: attachments.iter().map(|a| a.path.clone()).collect(),
        },
    }
}

/// The original 保険者番号/被保険者番号 of a record, which fixes its person's birth-date shift.
fn person_of(f: &Input, plan: &Plan<'_>, split: &raw::RawFile, record: usize) -> Vec<u8> {
    let r = &split.records[record];
    let get = |i: Option<usize>| {
        i.and_then(|i| r.fields.get(i))
            .map(|x| x.bytes(&f.bytes))
            .unwrap_or_default()
    };
    [get(plan.insurer), b"/".to_vec(), get(plan.insured)].concat()
}

/// Calls `each(class, content, (record, field), column)` for every personal cell of a file: the
/// classified columns of records that fit the layout, every field but the first of records that do
/// not (free text), nothing of a header row or an image.
fn for_each_cell(
    f: &Input,
    plan: &Plan<'_>,
    split: &raw::RawFile,
    mut each: impl FnMut(Class, &[u8], (usize, usize), Option<(String, u16, String)>),
) {
    if plan.report.kind.is_some_and(|k| k.is_image()) {
        return;
    }
    for (ri, r) in split.records.iter().enumerate() {
        if plan.header && ri == 0 {
            continue;
        }
        match plan.view {
            Some(v) if r.fields.len() == v.len() => {
                for (&i, &class) in &plan.classes {
                    let content = r.fields[i].bytes(&f.bytes);
                    let col = &v.columns[i];
                    each(
                        class,
                        &content,
                        (ri, i),
                        Some((v.layout.name.clone(), col.no, col.name().to_owned())),
                    );
                }
            }
            _ => {
                for i in 1..r.fields.len() {
                    let content = r.fields[i].bytes(&f.bytes);
                    each(Class::Text, &content, (ri, i), None);
                }
            }
        }
    }
}

/// The human report.
pub fn to_human(r: &Report, out_dir: &Path) -> String {
    let mut out = String::new();
    for f in &r.files {
        out.push_str(&format!(
            "{} → {}{}{}\n",
            f.input,
            out_dir.join(&f.output).display(),
            if f.image_replaced {
                " (image replaced by a blank JPEG)"
            } else {
                ""
            },
            if f.misaligned_records > 0 {
                format!(
                    " ({} records with a wrong column count: every field replaced as free text)",
                    f.misaligned_records
                )
            } else {
                String::new()
            }
        ));
    }
    out.push_str("\nreplaced per column:\n");
    for c in &r.columns {
        if c.replaced == 0 {
            continue;
        }
        out.push_str(&format!(
            "    {} No.{} {} ({}): {} values{}{}\n",
            c.layout,
            c.no,
            c.name,
            c.class,
            c.replaced,
            if c.offending_kept > 0 {
                format!(", offending characters kept in {}", c.offending_kept)
            } else {
                String::new()
            },
            if c.not_a_date > 0 {
                format!(", {} not a date", c.not_a_date)
            } else {
                String::new()
            }
        ));
    }
    for p in &r.not_copied {
        out.push_str(&format!("not copied (not a file of the standard): {p}\n"));
    }
    let total: usize = r.per_class.values().sum();
    out.push_str(&format!(
        "\n{total} values replaced in {} files with key {}{}\n",
        r.files.len(),
        r.key_id,
        if r.keep_offending {
            "; offending characters kept"
        } else {
            ""
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use careplan_spec::layout::all_layouts;

    #[test]
    fn the_table_names_real_columns_and_decides_every_text_phone_postal_and_insured_column() {
        let t = personal_columns();
        let names: BTreeSet<&str> = all_layouts().iter().map(|l| l.name.as_str()).collect();
        for (layout, cols) in &t.columns {
            assert!(names.contains(layout.as_str()), "unknown layout {layout}");
            let l = all_layouts().iter().find(|x| &x.name == layout).unwrap();
            for c in cols.keys() {
                assert!(l.columns.iter().any(|x| &x.name == c), "{layout}: {c}");
            }
        }
        for (layout, cols) in &t.keep {
            let l = all_layouts().iter().find(|x| &x.name == layout).unwrap();
            for c in cols {
                assert!(l.columns.iter().any(|x| &x.name == c), "{layout}: keep {c}");
            }
        }
        for l in all_layouts() {
            for c in &l.columns {
                let decided = matches!(
                    c.format,
                    Format::Text | Format::Phone | Format::Postal | Format::Insured
                );
                if !decided {
                    continue;
                }
                let classified = t
                    .columns
                    .get(&l.name)
                    .is_some_and(|m| m.contains_key(&c.name));
                let kept = t.keep.get(&l.name).is_some_and(|k| k.contains(&c.name));
                assert!(
                    classified != kept,
                    "{} No.{} {}: classify it in personal_columns.toml or keep it (not both)",
                    l.name,
                    c.no,
                    c.name
                );
            }
        }
    }

    /// Every golden case, valid and invalid: the copy shows the same findings at the same places
    /// (all of them with `keep_offending`, all but the encoding ones without).
    #[test]
    fn every_golden_case_validates_like_its_copy() {
        let key = Key::from_secret(b"golden");
        let root = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../golden"));
        let mut cases = Vec::new();
        for group in ["invalid", "valid/v3", "valid/v4.0", "valid/v4.1"] {
            for e in std::fs::read_dir(root.join(group)).unwrap() {
                cases.push(e.unwrap().path());
            }
        }
        let places = |files: &[Input], skip_enc: bool| {
            let mut v: Vec<(String, String, u32, u32)> =
                validate_files(files, careplan_spec::Options::default())
                    .located()
                    .into_iter()
                    .filter(|(_, f)| !(skip_enc && f.rule.id().starts_with("ENC")))
                    .map(|(_, f)| {
                        (
                            f.rule.id().to_owned(),
                            f.file.clone().unwrap_or_default(),
                            f.location.map_or(0, |l| l.line),
                            f.location.map_or(0, |l| l.column),
                        )
                    })
                    .collect();
            v.sort();
            v
        };
        for case in &cases {
            let inputs = super::super::inputs::Inputs::read(std::slice::from_ref(case)).unwrap();
            for keep in [true, false] {
                let out = anonymize(
                    &inputs.files,
                    &[],
                    &key,
                    Options {
                        keep_offending: keep,
                    },
                );
                let copy: Vec<Input> = inputs
                    .files
                    .iter()
                    .zip(&out.files)
                    .map(|(f, (_, b))| Input {
                        bytes: b.clone(),
                        ..f.clone()
                    })
                    .collect();
                assert_eq!(
                    places(&inputs.files, !keep),
                    places(&copy, !keep),
                    "{} (keep_offending {keep})",
                    case.display()
                );
            }
        }
        assert!(cases.len() > 100);
    }

    #[test]
    fn pools_have_one_byte_length_and_class_each() {
        for (class, pool) in &pools().0 {
            assert!(pool.len() >= 10, "{class:?}");
            let (len, utf8_len) = (pool[0].1.len(), pool[0].0.len_utf8());
            for (c, b) in pool {
                assert_eq!(b.len(), len, "{class:?} {c}");
                assert_eq!(c.len_utf8(), utf8_len, "{class:?} {c}");
                assert_eq!(ms932_class(b), *class, "{c}");
                assert_eq!(utf8_class(*c), *class, "{c}");
            }
        }
    }

    #[test]
    fn blank_jpeg_matches_the_golden_generator() {
        let golden = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../golden/valid/v4.1/kihon-minimal/UPKIHON_IMAGE_0330000400_46_0320000202_A5_20250425130000_0001.jpg"
        ))
        .unwrap();
        assert_eq!(blank_jpeg(), golden);
    }

    fn mapper(key: &Key) -> Mapper<'_> {
        Mapper {
            key,
            options: Options::default(),
            originals: HashMap::new(),
            given: HashMap::new(),
            taken: HashMap::new(),
        }
    }

    #[test]
    fn pseudonyms_keep_class_length_and_the_h_of_seiho_numbers() {
        let key = Key::from_secret(b"test");
        let mut m = mapper(&key);
        let enc = |s: &str| ms932::encode(s, false).0;
        let dec = |b: &[u8]| ms932::decode(b).0;
        let (h, _) = m.map(Class::Insured, b"H123456789", false, b"");
        assert_eq!(h.len(), 10);
        assert_eq!(h[0], b'H');
        assert!(h[1..].iter().all(u8::is_ascii_digit));
        assert_ne!(&h, b"H123456789");
        let (name, _) = m.map(Class::Name, &enc("佐藤　花子"), false, b"");
        let name = dec(&name);
        assert_eq!(name.chars().count(), 5);
        assert_eq!(name.chars().nth(2), Some('\u{3000}'));
        assert!(
            name.chars()
                .zip("佐藤　花子".chars())
                .all(|(a, b)| a != b || b == '\u{3000}')
        );
        let (kana, _) = m.map(Class::Kana, &enc("ｻﾄｳ ﾊﾅｺ"), false, b"");
        assert!(
            dec(&kana)
                .chars()
                .all(|c| c == ' ' || utf8_class(c) == CharClass::HalfKana)
        );
        // The same value maps to the same pseudonym, in a new run with the same key too.
        let (again, _) = m.map(Class::Name, &enc("佐藤　花子"), false, b"");
        assert_eq!(dec(&again), name);
        let mut m2 = mapper(&key);
        assert_eq!(
            dec(&m2.map(Class::Name, &enc("佐藤　花子"), false, b"").0),
            name
        );
        // Another key, another pseudonym.
        let other = Key::from_secret(b"other");
        let mut m3 = mapper(&other);
        assert_ne!(
            dec(&m3.map(Class::Name, &enc("佐藤　花子"), false, b"").0),
            name
        );
    }

    #[test]
    fn birth_dates_move_by_the_same_days_for_one_person() {
        let key = Key::from_secret(b"test");
        let mut m = mapper(&key);
        let a = m.map(Class::BirthDate, b"19400101", false, b"131016/1").0;
        let b = m.map(Class::BirthDate, b"19400102", false, b"131016/1").0;
        let parse = |v: &[u8]| {
            let t = std::str::from_utf8(v).unwrap();
            time::Date::from_calendar_date(
                t[..4].parse().unwrap(),
                time::Month::try_from(t[4..6].parse::<u8>().unwrap()).unwrap(),
                t[6..].parse().unwrap(),
            )
            .unwrap()
        };
        assert_eq!(parse(&b) - parse(&a), time::Duration::days(1));
        assert_ne!(a, b"19400101");
        // Not a date: replaced digit by digit.
        let bad = m.map(Class::BirthDate, b"19401341", false, b"131016/1").0;
        assert_ne!(bad, b"19401341");
        assert!(bad.iter().all(u8::is_ascii_digit));
    }

    #[test]
    fn offending_characters_are_replaced_unless_kept() {
        let key = Key::from_secret(b"test");
        let value = [0x8E, 0x52, 0xF0, 0x40, 0x87, 0x40]; // 山, 外字, ①
        let mut m = mapper(&key);
        let (out, kept) = m.map(Class::Text, &value, false, b"");
        assert!(!kept);
        assert!(ms932::decode(&out).1.is_empty(), "{out:02X?}");
        let mut m = mapper(&key);
        m.options.keep_offending = true;
        let (out, kept) = m.map(Class::Text, &value, false, b"");
        assert!(kept);
        assert_eq!(&out[2..], &value[2..]);
        assert_ne!(&out[..2], &value[..2]);
    }

    #[test]
    fn no_pseudonym_is_an_original_value() {
        let key = Key::from_secret(b"test");
        let mut m = mapper(&key);
        let first = m.replace(Class::Insured, b"1234567890", false, 0);
        // Pretend the pseudonym of one number is another user's real number.
        m.originals
            .entry(Class::Insured)
            .or_default()
            .insert(first.clone());
        let (out, _) = m.map(Class::Insured, b"1234567890", false, b"");
        assert_ne!(out, first);
    }
}
