//! Throughput and memory of validation over generated 第6表 records, against an honest floor.
//!
//! Run: `cargo bench -p careplan-spec --bench validate` (optionally `-- MEGABYTES`, default 64).
//!
//! One month of records is generated once in memory and streamed repeatedly through a `Read`
//! implementation (no disk), so every figure comes from one process and one run, and the timings
//! measure the readers, not the generator. Each pass reads the same bytes through the same
//! 64 KiB-buffered stream:
//! * (a) line scan: `memchr` for LF over every buffer — memory bandwidth, no CSV at all;
//! * (b) `csv` tokenize: the `csv` crate's `ByteRecord` reader (lenient: it cannot tell quoted
//!   fields, keeps no positions; engineering.md);
//! * (c) floor: (b) plus an `encoding_rs` Shift_JIS decode of every field — what any Rust program
//!   pays to read these bytes as text;
//! * (d) kit read: the kit's strict tokenizer plus its strict MS932 decode of every field;
//! * (e) full validation: `validate_reader`, every rule of the spec core;
//! * memory: peak resident set (VmHWM) after validating 1/8 of the corpus and after all of it, with
//!   the peak reset in between (`/proc/self/clear_refs`), to show that memory does not grow with
//!   the size of the input;
//! * every core: 8 equal files validated through [`careplan_spec::parallel`] (what `cpkit validate`
//!   of a folder uses) with one thread and with one per core.
//!
//! `CPKIT_BENCH_ONLY=full` runs full validation alone, for a profiler (`perf record`).
//!
//! Targets (issue #12): e/c ≥ 0.50 on one core; flat memory; 8 files ≥ 1.7× faster on 2 threads.

use std::io::Read;
use std::time::Instant;

use careplan_spec::ms932;
use careplan_spec::parallel;

#[path = "corpus.rs"]
mod corpus;
use careplan_spec::tokenizer::{RawRecord, Tokenizer};
use careplan_spec::validate::{Options, validate_reader};
use corpus::{NAME, Repeat, month_of_records};

/// (a) Counts line feeds with `memchr` over every buffer read.
fn line_scan(chunk: &[u8], limit: u64) -> (u64, u64) {
    let mut input = Repeat::new(chunk, limit);
    let mut buf = vec![0u8; 64 * 1024];
    let (mut bytes, mut lines) = (0u64, 0u64);
    loop {
        let n = input.read(&mut buf).expect("in memory");
        if n == 0 {
            break;
        }
        bytes += n as u64;
        lines += memchr::memchr_iter(b'\n', &buf[..n]).count() as u64;
    }
    (bytes, lines)
}

/// (b) and (c): the `csv` crate's `ByteRecord` reader, with (`decode`) or without an
/// `encoding_rs` Shift_JIS decode of every field.
fn csv_pass(chunk: &[u8], limit: u64, decode: bool) -> (u64, u64) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .buffer_capacity(64 * 1024)
        .from_reader(Repeat::new(chunk, limit));
    let mut rec = csv::ByteRecord::new();
    let mut out = 0u64;
    while reader.read_byte_record(&mut rec).expect("generated input") {
        for f in rec.iter() {
            out += if decode {
                encoding_rs::SHIFT_JIS
                    .decode_without_bom_handling(f)
                    .0
                    .len() as u64
            } else {
                f.len() as u64
            };
        }
    }
    (reader.position().byte(), out)
}

/// (d) The kit's strict tokenizer plus its strict MS932 decode of every field.
fn kit_read(chunk: &[u8], limit: u64) -> (u64, u64) {
    let mut t = Tokenizer::new(Repeat::new(chunk, limit));
    let mut rec = RawRecord::default();
    let mut text = String::new();
    let mut issues = Vec::new();
    let mut chars = 0u64;
    while t.next_record(&mut rec).expect("generated input") {
        for f in rec.fields() {
            text.clear();
            ms932::decode_into(f.bytes, &mut text, &mut issues);
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

/// (e) Full validation of `limit` bytes of the corpus.
fn full_validation(chunk: &[u8], limit: u64) -> careplan_spec::validate::FileReport {
    validate_reader("bench", NAME, Repeat::new(chunk, limit), Options::default())
}

/// Rounds of the five passes; each figure printed is the median of its rounds.
const ROUNDS: usize = 5;

fn median(mut secs: [f64; ROUNDS]) -> f64 {
    secs.sort_by(f64::total_cmp);
    secs[ROUNDS / 2]
}

/// Times `f`, returning its result and the seconds it took.
fn timed<T>(f: impl FnOnce() -> T) -> (T, f64) {
    let start = Instant::now();
    let out = f();
    (out, start.elapsed().as_secs_f64())
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

    // For a profiler (`perf record`): CPKIT_BENCH_ONLY=full runs full validation alone.
    if std::env::var("CPKIT_BENCH_ONLY").as_deref() == Ok("full") {
        let (report, secs) = timed(|| full_validation(&chunk, limit));
        println!(
            "(e) full validation: {:.1} MB/s ({secs:.2} s)",
            report.bytes as f64 / 1e6 / secs
        );
        return;
    }

    // The five passes run in turn, ROUNDS times; each figure is its median, so a slow moment of
    // the machine hits every pass alike instead of one.
    let mut times = [[0f64; ROUNDS]; 5];
    let mut bytes = 0;
    let mut lines = 0;
    #[expect(
        clippy::needless_range_loop,
        reason = "one round fills one column of five rows"
    )]
    for round in 0..ROUNDS {
        let ((b, l), t) = timed(|| line_scan(&chunk, limit));
        (bytes, lines, times[0][round]) = (b, l, t);
        let ((csv_bytes, _), t) = timed(|| csv_pass(&chunk, limit, false));
        times[1][round] = t;
        let ((floor_bytes, floor_chars), t) = timed(|| csv_pass(&chunk, limit, true));
        times[2][round] = t;
        let ((kit_bytes, kit_chars), t) = timed(|| kit_read(&chunk, limit));
        times[3][round] = t;
        let (report, t) = timed(|| full_validation(&chunk, limit));
        times[4][round] = t;
        assert_eq!(
            (csv_bytes, floor_bytes, kit_bytes, report.bytes),
            (b, b, b, b)
        );
        // The floor decoded the same text the kit did (the corpus is valid MS932).
        assert_eq!(floor_chars, kit_chars);
        assert!(
            report.findings.is_empty(),
            "{:?}",
            report.findings.first().map(|f| f.message_en())
        );
    }
    let [scan, tokenize, floor, kit, full] = times.map(median);

    let small = limit / 8;
    let reset_ok = reset_peak();
    let report = full_validation(&chunk, small);
    assert!(report.findings.is_empty());
    let peak_small = peak_rss_kib();

    reset_peak();
    let report = full_validation(&chunk, limit);
    let peak_full = peak_rss_kib();
    assert!(report.findings.is_empty());

    let mbs = |secs: f64| bytes as f64 / 1e6 / secs;
    println!(
        "corpus: {:.1} MB of V4.1 第6表 records ({} records, {lines} lines; a {:.1} MB month of {users} users streamed repeatedly); medians of {ROUNDS} rounds",
        bytes as f64 / 1e6,
        report.records,
        chunk.len() as f64 / 1e6
    );
    println!(
        "(a) memchr line scan:         {:>8.1} MB/s ({scan:.2} s)",
        mbs(scan)
    );
    println!(
        "(b) csv ByteRecord tokenize:  {:>8.1} MB/s ({tokenize:.2} s)",
        mbs(tokenize)
    );
    println!(
        "(c) floor: (b) + encoding_rs: {:>8.1} MB/s ({floor:.2} s)",
        mbs(floor)
    );
    println!(
        "(d) kit tokenize + decode:    {:>8.1} MB/s ({kit:.2} s)",
        mbs(kit)
    );
    println!(
        "(e) full validation:          {:>8.1} MB/s ({full:.2} s)",
        mbs(full)
    );
    println!("ratio e/c: {:.2}  (target >= 0.50)", floor / full);
    println!("ratio d/c: {:.2}", floor / kit);
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

    // Every core: 8 equal files, each an eighth of the corpus, one thread against all of them.
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let files: Vec<u64> = vec![limit / 8; 8];
    let run = |jobs: usize| parallel::map(&files, jobs, |&size| full_validation(&chunk, size));
    let (one, serial) = timed(|| run(1));
    let (all, pooled) = timed(|| run(cores));
    assert_eq!(one.len(), 8);
    assert!(
        one.iter()
            .zip(&all)
            .all(|(a, b)| a.bytes == b.bytes && b.findings.is_empty())
    );
    let total: u64 = one.iter().map(|r| r.bytes).sum();
    let rate = |secs: f64| total as f64 / 1e6 / secs;
    println!(
        "8 files of {:.1} MB: {:.1} MB/s on 1 thread ({serial:.2} s), {:.1} MB/s on {cores} ({pooled:.2} s): speedup {:.2}× (target >= 1.7 on 2 cores)",
        total as f64 / 8e6,
        rate(serial),
        rate(pooled),
        serial / pooled
    );
}
