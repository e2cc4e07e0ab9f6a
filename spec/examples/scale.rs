//! Scale figures for `cpkit validate` on files on disk (issue #12): writes the benchmark corpus as
//! files, and reads files with the floor of the benchmark — the `csv` crate's `ByteRecord` reader
//! plus an `encoding_rs` Shift_JIS decode of every field — so that `cpkit validate` can be timed
//! against it on the same bytes, as whole processes (e.g. with `/usr/bin/time -v`).
//!
//! ```sh
//! cargo run --release -p careplan-spec --example scale -- write /tmp/one 1000 1     # 1 GB, 1 file
//! cargo run --release -p careplan-spec --example scale -- write /tmp/many 1000 1000 # 1,000 × 1 MB
//! cargo run --release -p careplan-spec --example scale -- floor /tmp/one            # the floor
//! cpkit validate --format json -o /dev/null /tmp/one                                # the kit
//! ```

use std::fs::File;
use std::io::{BufReader, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

#[path = "../benches/corpus.rs"]
#[expect(
    dead_code,
    reason = "the streaming reader is the benchmark's; files are written here"
)]
mod corpus;

fn fail(path: &Path, e: &dyn std::fmt::Display) -> ! {
    eprintln!("scale: {}: {e}", path.display());
    std::process::exit(2);
}

fn usage() -> ! {
    eprintln!("usage: scale write DIR MEGABYTES FILES | scale floor PATH...");
    std::process::exit(2);
}

/// Writes `files` files of `total_mb / files` MB each (whole records) into `dir`, each its own
/// send unit (its own ファイル連番).
fn write(dir: &Path, total_mb: u64, files: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)?;
    let month = corpus::month_of_records(2_000);
    let per_file = total_mb * 1_000_000 / files.max(1);
    let (mut written, mut names) = (0u64, 0u64);
    for n in 0..files {
        // Whole records: the month's lines, cut after the last line that fits.
        let serial = format!("20250425{:02}{:02}{:02}", n / 3600, n / 60 % 60, n % 60);
        let name = corpus::NAME.replace("20250425120000", &serial);
        let mut out = std::io::BufWriter::new(File::create(dir.join(name))?);
        let mut left = per_file;
        while left > 0 {
            let take = if left as usize >= month.len() {
                month.len()
            } else {
                month[..left as usize]
                    .windows(2)
                    .rposition(|w| w == b"\r\n")
                    .map_or(0, |i| i + 2)
            };
            if take == 0 {
                break;
            }
            out.write_all(&month[..take])?;
            written += take as u64;
            left -= take as u64;
            if take < month.len() {
                break;
            }
        }
        out.flush()?;
        names += 1;
    }
    println!(
        "wrote {names} files, {:.1} MB, into {}",
        written as f64 / 1e6,
        dir.display()
    );
    Ok(())
}

fn files(paths: &[PathBuf]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let read = std::fs::read_dir(p).unwrap_or_else(|e| fail(p, &e));
            let mut entries: Vec<PathBuf> = read
                .map(|e| e.unwrap_or_else(|e| fail(p, &e)).path())
                .collect();
            entries.sort();
            out.extend(files(&entries));
        } else {
            out.push(p.clone());
        }
    }
    out
}

/// The floor: every field of every file tokenized by `csv` and decoded by `encoding_rs`.
fn floor(paths: &[PathBuf]) {
    let start = Instant::now();
    let (mut bytes, mut chars) = (0u64, 0u64);
    for path in files(paths) {
        let file = File::open(&path).unwrap_or_else(|e| fail(&path, &e));
        let file = BufReader::with_capacity(64 * 1024, file);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .buffer_capacity(64 * 1024)
            .from_reader(file);
        let mut rec = csv::ByteRecord::new();
        while reader
            .read_byte_record(&mut rec)
            .unwrap_or_else(|e| fail(&path, &e))
        {
            for f in rec.iter() {
                chars += encoding_rs::SHIFT_JIS
                    .decode_without_bom_handling(f)
                    .0
                    .len() as u64;
            }
        }
        bytes += reader.position().byte();
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "floor: {:.1} MB in {secs:.2} s = {:.1} MB/s ({chars} decoded bytes)",
        bytes as f64 / 1e6,
        bytes as f64 / 1e6 / secs
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("write") if args.len() == 4 => {
            let (Ok(mb), Ok(n)) = (args[2].parse(), args[3].parse()) else {
                usage()
            };
            let dir = Path::new(&args[1]);
            write(dir, mb, n).unwrap_or_else(|e| fail(dir, &e));
        }
        Some("floor") if args.len() > 1 => {
            floor(&args[1..].iter().map(PathBuf::from).collect::<Vec<_>>())
        }
        _ => usage(),
    }
}
