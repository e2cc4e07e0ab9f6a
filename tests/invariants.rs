//! The invariant of issue #9 through the real binary: whatever the input, `cpkit validate` exits
//! 0, 1 or 2 — never a panic or a signal — within bounded memory and CPU time per byte of input,
//! and its report stays bounded. The bounds are enforced with `prlimit` (util-linux): an address
//! space of 512 MiB plus 16 bytes per input byte and 20 CPU seconds plus 2 per MiB. A process that
//! needs more is killed, and the exit status says so; nothing here measures speed.

use std::path::{Path, PathBuf};
use std::process::Command;

struct Dir(PathBuf);

impl Dir {
    fn new(tag: &str) -> Self {
        let p = std::env::temp_dir().join(format!("cpkit-invariants-{}-{tag}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).unwrap();
        Self(p)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `cpkit validate --format json` on `dir` under the limits; returns (exit code, report size).
fn validate(dir: &Path, input_bytes: u64) -> (Option<i32>, usize) {
    let mib = input_bytes / (1 << 20);
    let address_space = (512 << 20) + 16 * input_bytes;
    let cpu = 20 + 2 * mib;
    let out = Command::new("prlimit")
        .arg(format!("--as={address_space}"))
        .arg(format!("--cpu={cpu}"))
        .arg(env!("CARGO_BIN_EXE_cpkit"))
        .args(["validate", "--format", "json"])
        .arg(dir)
        .output()
        .expect("prlimit (util-linux) runs cpkit");
    (out.status.code(), out.stdout.len())
}

fn sjis(text: &str) -> Vec<u8> {
    encoding_rs::SHIFT_JIS.encode(text).0.into_owned()
}

/// Golden cases, one per kind of unit.
fn cases() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/valid/v4.1");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    assert!(out.len() >= 10);
    out
}

/// The line `rec` of `data` with field `col` (split naively on commas of the first record, which
/// is enough to reach every column) replaced.
fn mutate(data: &[u8], col: usize, value: &[u8]) -> Vec<u8> {
    let end = data
        .windows(2)
        .position(|w| w == b"\r\n")
        .unwrap_or(data.len());
    let first = &data[..end];
    let mut fields: Vec<&[u8]> = first.split(|&b| b == b',').collect();
    let col = col % fields.len();
    fields[col] = value;
    let mut out = fields.join(&b","[..]);
    out.extend_from_slice(&data[end..]);
    out
}

#[test]
fn hostile_fields_in_every_kind_exit_0_1_or_2_within_the_limits() {
    let values: Vec<Vec<u8>> = vec![
        sjis("１２３４５６"),
        sjis("アイウ"),
        b"\x82".to_vec(),
        vec![0xFF; 300],
        b"1\"2".to_vec(),
        b"\"1\r\n2".to_vec(),
        vec![b'9'; 70_000],
    ];
    let mut runs = 0;
    for case in cases() {
        let files: Vec<PathBuf> = std::fs::read_dir(&case)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "CSV"))
            .collect();
        for (fi, file) in files.iter().enumerate() {
            let data = std::fs::read(file).unwrap();
            for (vi, v) in values.iter().enumerate() {
                // A different column for each file and value: over the cases, every column.
                let col = fi * 7 + vi * 5 + runs;
                let dir = Dir::new(&format!("h{runs}"));
                for other in &files {
                    std::fs::copy(other, dir.0.join(other.file_name().unwrap())).unwrap();
                }
                let mutated = mutate(&data, col, v);
                std::fs::write(dir.0.join(file.file_name().unwrap()), &mutated).unwrap();
                let (code, _) = validate(&dir.0, mutated.len() as u64);
                assert!(
                    matches!(code, Some(0..=2)),
                    "{} column {col} <- {:?}: exit {code:?}",
                    file.display(),
                    &v[..v.len().min(12)]
                );
                runs += 1;
            }
        }
    }
    assert!(runs > 100, "only {runs} runs");
}

#[test]
fn huge_hostile_files_exit_0_1_or_2_with_a_bounded_report() {
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    let record = b"202407,131016,1234500004,20250524,202506,0310000100,\"x\",,,20250602,,0930,1645,1,151215,,,,,0320000202,,,0,,\r\n";
    let inputs: Vec<(&str, Vec<u8>)> = vec![
        // 8 MiB of invalid bytes in quoted free text, in fields of 1 MiB.
        ("invalid-bytes", {
            let mut d = Vec::new();
            for _ in 0..8 {
                d.extend_from_slice(&record[..52]);
                d.push(b'"');
                d.extend(std::iter::repeat_n(0xFF, 1 << 20));
                d.extend_from_slice(b"\"\r\n");
            }
            d
        }),
        // An unterminated quote followed by 8 MiB.
        ("open-quote", {
            let mut d = b"202407,\"".to_vec();
            d.extend(std::iter::repeat_n(b'a', 8 << 20));
            d
        }),
        // 200,000 records, each with a different 20-character key: the key sets may grow, the
        // report may not.
        ("many-users", {
            let mut d = Vec::new();
            for i in 0..200_000u32 {
                d.extend_from_slice(
                    format!("202407,131016,{:010},20250524,202506,0310000100,\"x\",,,20250702,,0930,1645,1,151215,,,,,0320000299,,,0,,\r\n", i)
                        .as_bytes(),
                );
            }
            d
        }),
        // 4 MiB of commas: 4 million empty fields in one record.
        ("commas", vec![b','; 4 << 20]),
        // 2 million blank lines.
        ("blank-lines", b"\r\n".repeat(2_000_000)),
    ];
    for (tag, data) in inputs {
        let dir = Dir::new(tag);
        std::fs::write(dir.0.join(name), &data).unwrap();
        let (code, report) = validate(&dir.0, data.len() as u64);
        assert!(matches!(code, Some(0..=2)), "{tag}: exit {code:?}");
        // At most 50 findings a rule, each quoting at most 120 characters of a value.
        assert!(
            report < 4 << 20,
            "{tag}: a {report}-byte report for {} input bytes",
            data.len()
        );
    }
}

/// A run of blank lines is read in one tokenizer call; it must not cost memory per line (a fresh
/// probe found 20 MiB of LF peaking at 500 MB). Here the address space is 512 MiB whatever the
/// input size.
#[test]
fn a_run_of_blank_lines_needs_no_memory_per_line() {
    let dir = Dir::new("blank-run");
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    std::fs::write(dir.0.join(name), vec![b'\n'; 24 << 20]).unwrap();
    let out = Command::new("prlimit")
        .arg(format!("--as={}", 512u64 << 20))
        .arg("--cpu=60")
        .arg(env!("CARGO_BIN_EXE_cpkit"))
        .args(["validate", "--format", "json"])
        .arg(&dir.0)
        .output()
        .expect("prlimit (util-linux) runs cpkit");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report = String::from_utf8_lossy(&out.stdout);
    // Every blank line is counted: 50 listed, the rest suppressed.
    assert!(report.contains("CSV006"), "{report}");
    assert!(
        report.contains(&format!("{}", (24u64 << 20) - 50)),
        "{report}"
    );
}
