//! Throughput and memory of validation over generated 第6表 records.
//!
//! Run: `cargo bench -p careplan-spec --bench validate` (optionally `-- MEGABYTES`, default 64).
//!
//! One month of records is generated once in memory and streamed repeatedly through a `Read`
//! implementation (no disk), so every figure comes from one process and one run, and the timings
//! measure the validator, not the generator:
//! * bare pass: the strict tokenizer plus MS932 decoding of every field — the floor any validator
//!   pays;
//! * full validation: `validate_reader`, every rule of the spec core;
//! * memory: peak resident set (VmHWM) after validating 1/8 of the corpus and after all of it, with
//!   the peak reset in between (`/proc/self/clear_refs`), to show that memory does not grow with
//!   the size of the input.
//!
//! Targets (issue #2): full validation at ≥ 50 % of the bare pass; flat memory.

use std::io::Read;
use std::time::Instant;

use careplan_spec::ms932;
use careplan_spec::tokenizer::{RawRecord, Tokenizer};
use careplan_spec::validate::{Options, validate_reader};

/// Generates V4.1 UPPLAN records: `users` users, 30 service rows each (two services, free text
/// with a comma and full-width characters).
fn month_of_records(users: u64) -> Vec<u8> {
    let mut text = String::new();
    for row in 0..users * 30 {
        let user = row / 30;
        let day = row % 30 + 1;
        let (code, office, name) = if row % 3 == 0 {
            ("151111", "0320000202", "デイサービス「ひだまり」、本館")
        } else {
            ("111211", "0320000201", "ヘルパーステーション東")
        };
        text.push_str(&format!(
            "202407,131016,{insured:010},20250420,202505,0310000100,\"山田　花子\",{units},,202505{day:02},,0900,1000,1,{code},,,,,{office},\"{name}\",,0,0310000100,\r\n",
            insured = 1_000_000_000 + user,
            units = 200 + row % 400,
        ));
    }
    let (bytes, issues) = ms932::encode(&text, false);
    assert!(issues.is_empty());
    bytes
}

/// Streams `chunk` again and again until `limit` bytes (whole chunks) have been read: the corpus
/// costs a memcpy, so the timings measure the validator, not the generator.
struct Repeat<'a> {
    chunk: &'a [u8],
    limit: u64,
    produced: u64,
    at: usize,
}

impl<'a> Repeat<'a> {
    fn new(chunk: &'a [u8], limit: u64) -> Self {
        let chunks = limit.div_ceil(chunk.len() as u64).max(1);
        Self {
            chunk,
            limit: chunks * chunk.len() as u64,
            produced: 0,
            at: 0,
        }
    }
}

impl Read for Repeat<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.produced >= self.limit {
            return Ok(0);
        }
        if self.at == self.chunk.len() {
            self.at = 0;
        }
        let take = (self.chunk.len() - self.at).min(buf.len());
        buf[..take].copy_from_slice(&self.chunk[self.at..self.at + take]);
        self.at += take;
        self.produced += take as u64;
        Ok(take)
    }
}

const NAME: &str = "UPPLAN_202505_0310000100_43_0320000201_11_20250425120000.CSV";

fn bare_pass(chunk: &[u8], limit: u64) -> (u64, u64) {
    let mut t = Tokenizer::new(Repeat::new(chunk, limit));
    let mut rec = RawRecord::default();
    let mut text = String::new();
    let mut issues = Vec::new();
    let mut chars = 0u64;
    while t.next_record(&mut rec).expect("generated input") {
        for f in rec.fields() {
            text.clear();
            ms932::decode_into(&f.bytes, &mut text, &mut issues);
            chars += text.len() as u64;
        }
    }
    (t.position().offset, chars)
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn reset_peak() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn main() {
    let mb: u64 = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(64);
    let limit = mb * 1_000_000;
    let users = 2_000;

    // One month of 2,000 users × 30 rows, generated once (~9.5 MB) and streamed repeatedly.
    let chunk = month_of_records(users);
    // Sanity: the generated records are conformant, so the common path is what is measured.
    let probe = validate_reader("probe", NAME, &chunk[..], Options::default());
    assert!(
        probe.findings.is_empty(),
        "generated records must be conformant: {:?}",
        probe.findings.first().map(|f| f.message_en())
    );

    let start = Instant::now();
    let (bytes, chars) = bare_pass(&chunk, limit);
    let bare = start.elapsed().as_secs_f64();

    let small = limit / 8;
    let reset_ok = reset_peak();
    let report = validate_reader(
        "bench",
        NAME,
        Repeat::new(&chunk, small),
        Options::default(),
    );
    assert!(report.findings.is_empty());
    let peak_small = peak_rss_kib();

    reset_peak();
    let start = Instant::now();
    let report = validate_reader(
        "bench",
        NAME,
        Repeat::new(&chunk, limit),
        Options::default(),
    );
    let full = start.elapsed().as_secs_f64();
    let peak_full = peak_rss_kib();
    assert!(
        report.findings.is_empty(),
        "{:?}",
        report.findings.first().map(|f| f.message_en())
    );
    assert_eq!(report.bytes, bytes);

    let mbs = |secs: f64| bytes as f64 / 1e6 / secs;
    println!(
        "corpus: {:.1} MB of V4.1 第6表 records ({} records; a {:.1} MB month of {users} users streamed repeatedly; {chars} decoded bytes)",
        bytes as f64 / 1e6,
        report.records,
        chunk.len() as f64 / 1e6
    );
    println!(
        "bare decode + tokenize: {:>8.1} MB/s ({bare:.2} s)",
        mbs(bare)
    );
    println!(
        "full validation:        {:>8.1} MB/s ({full:.2} s)",
        mbs(full)
    );
    println!(
        "ratio full / bare:      {:>8.2}  (target >= 0.50)",
        bare / full
    );
    match (peak_small, peak_full, reset_ok) {
        (Some(a), Some(b), true) => println!(
            "peak RSS: {a} KiB after {:.1} MB, {b} KiB after {:.1} MB: ratio {:.2} (target ~1.0, flat)",
            small as f64 / 1e6,
            bytes as f64 / 1e6,
            b as f64 / a as f64
        ),
        (_, Some(b), _) => {
            println!("peak RSS: {b} KiB (the peak could not be reset on this system)")
        }
        _ => println!("peak RSS: not available on this system"),
    }
}
