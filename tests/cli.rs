//! End-to-end tests of the `cpkit` binary: exit codes, output formats, errors for bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

fn cpkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpkit"))
        .args(args)
        .output()
        .expect("failed to run cpkit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A fresh folder under the system temp dir, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cpkit-cli-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let p = self.0.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }
    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

const DLTPLAN: &str = "DLTPLAN_202505_0310000100_43_0320000201_11_20250501090000.CSV";

#[test]
fn a_conformant_deletion_unit_exits_zero() {
    let dir = TempDir::new();
    dir.write(DLTPLAN, b"202407,030001,1234567890,202505\r\n");
    let o = cpkit(&["validate", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("— conformant"), "{}", stdout(&o));
}

#[test]
fn violations_exit_one_and_name_file_line_column_and_rule() {
    let dir = TempDir::new();
    let file = dir.write(DLTPLAN, b"202407,030001,1234567890,202513\r\n");
    let o = cpkit(&["validate", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let expected = format!("{}:1:26: error[FLD003] No.4 削除対象年月:", file.display());
    assert!(text.contains(&expected), "{text}");
    assert!(text.contains("value: «202513»"), "{text}");
}

#[test]
fn json_output_follows_the_schema() {
    let dir = TempDir::new();
    dir.write(DLTPLAN, b"202410,030001,1234567890,202505\n");
    let o = cpkit(&["validate", "--format", "json", dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("valid JSON");
    assert_eq!(v["schema"], "cpkit-validate/1");
    assert_eq!(v["summary"]["conformant"], false);
    assert_eq!(v["files"][0]["kind"], "DLTPLAN");
    assert_eq!(v["units"][0]["unit"], "riyohyo-delete");
    let rules: Vec<&str> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["rule"].as_str().unwrap())
        .collect();
    assert!(rules.contains(&"VER002"), "{rules:?}");
    assert!(rules.contains(&"CSV004"), "{rules:?}");
    let ver = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["rule"] == "VER002")
        .unwrap();
    assert_eq!(ver["line"], 1);
    assert_eq!(ver["field"]["name"], "CSVバージョン");
    assert!(ver["message"]["ja"].as_str().unwrap().contains("202410"));
}

#[test]
fn junit_output_has_a_suite_per_file_and_unit() {
    let dir = TempDir::new();
    dir.write(DLTPLAN, b"202407,030001,1234567890,202513\r\n");
    let o = cpkit(&[
        "validate",
        "--format",
        "junit",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let xml = stdout(&o);
    assert_eq!(xml.matches("<testsuite ").count(), 2, "{xml}");
    assert!(xml.contains("<testcase name=\"field\""), "{xml}");
    assert!(xml.contains("<failure"), "{xml}");
    // Classnames by kind and unit, never the file extension (readers split at the last dot).
    let stem = DLTPLAN.trim_end_matches(".CSV");
    assert!(
        xml.contains(&format!("classname=\"file.DLTPLAN.{stem}\"")),
        "{xml}"
    );
    assert!(xml.contains("classname=\"unit."), "{xml}");
    for c in xml.split("classname=\"").skip(1) {
        let c = &c[..c.find('"').unwrap()];
        assert!(
            (c.starts_with("file.") || c.starts_with("unit.")) && !c.ends_with("CSV"),
            "{c}"
        );
    }
    assert!(
        xml.contains(&format!("file=\"{}", dir.path().display())),
        "{xml}"
    );
}

#[test]
fn missing_paths_unknown_profiles_and_rules_exit_two() {
    let o = cpkit(&["validate", "/definitely/not/here"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("/definitely/not/here"));
    let dir = TempDir::new();
    dir.write(DLTPLAN, b"202407,030001,1234567890,202505\r\n");
    let o = cpkit(&[
        "validate",
        "--profile",
        "nope",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(cpkit(&["explain", "XYZ999"]).status.code(), Some(2));
    assert_eq!(cpkit(&["validate"]).status.code(), Some(2));
}

#[test]
fn rules_and_explain_document_every_rule() {
    let o = cpkit(&["rules"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    for id in [
        "ENC001", "CSV001", "NAME001", "FLD005", "VER002", "TOT001", "XRF001", "UNIT001",
    ] {
        assert!(text.contains(id), "{id} missing from cpkit rules");
    }
    let o = cpkit(&["explain", "fld005"]);
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains("FLD005")
            && text.contains("example of a violation")
            && text.contains("L4 L128-129"),
        "{text}"
    );
}

#[test]
fn a_renamed_file_is_identified_from_content() {
    let dir = TempDir::new();
    dir.write("plan.csv", b"202407,030001,1234567890,202505\r\n");
    let o = cpkit(&["validate", "--format", "json", dir.path().to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["files"][0]["kind"], "DLTPLAN");
    assert_eq!(v["files"][0]["identified_from_content"], true);
    // The name breaks the name rule (an error, issue #10), the identification is a note.
    assert_eq!(v["findings"][0]["rule"], "NAME011");
    assert_eq!(v["findings"][0]["severity"], "error");
    assert_eq!(v["findings"][1]["rule"], "NAME009");
    assert_eq!(v["findings"][1]["severity"], "info");
    assert_eq!(
        o.status.code(),
        Some(1),
        "a name outside the rules is a violation"
    );
}

#[test]
fn strict_profile_turns_warnings_into_errors() {
    let dir = TempDir::new();
    dir.write(
        &DLTPLAN.replace(".CSV", ".csv"),
        b"202407,030001,1234567890,202505\r\n",
    );
    assert_eq!(
        cpkit(&["validate", dir.path().to_str().unwrap()])
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        cpkit(&[
            "validate",
            "--profile",
            "strict",
            dir.path().to_str().unwrap()
        ])
        .status
        .code(),
        Some(1)
    );
}

#[test]
fn docs_coverage_md_is_current() {
    let o = cpkit(&["rules", "--coverage", "--markdown"]);
    assert_eq!(o.status.code(), Some(0));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/coverage.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == stdout(&o),
        "docs/coverage.md is stale: run `cargo run --bin cpkit -- rules --coverage --markdown > docs/coverage.md`"
    );
    // Every row of every layout is on the map.
    let o = cpkit(&["rules", "--coverage", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["rows"].as_array().map(Vec::len), Some(373));
}

#[test]
fn docs_rules_md_is_current() {
    let o = cpkit(&["rules", "--markdown"]);
    assert_eq!(o.status.code(), Some(0));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/rules.md");
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == stdout(&o),
        "docs/rules.md is stale: run `cargo run --bin cpkit -- rules --markdown > docs/rules.md`"
    );
}

fn convert(to: &str, lossy: bool, src: &Path, out: &Path) -> Output {
    let mut args = vec![
        "convert",
        "--to",
        to,
        src.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    if lossy {
        args.push("--lossy");
    }
    cpkit(&args)
}

fn golden(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden")
        .join(path)
}

#[test]
fn convert_v41_to_v3_and_back_reproduces_the_golden_bytes() {
    for case in [
        "valid/v4.1/jisseki-minimal",
        "valid/v4.1/riyohyo-minimal",
        "valid/v4.1/dltjsk-minimal",
    ] {
        let (v3, v4) = (TempDir::new(), TempDir::new());
        let o = convert("v3", false, &golden(case), v3.path());
        assert_eq!(
            o.status.code(),
            Some(0),
            "{case}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let o = convert("v4.1", false, v3.path(), v4.path());
        assert_eq!(
            o.status.code(),
            Some(0),
            "{case}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let mut originals: Vec<_> = std::fs::read_dir(golden(case))
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        originals.retain(|p| p.extension().is_some_and(|e| e == "CSV"));
        assert!(!originals.is_empty());
        for original in originals {
            let back = v4.path().join(original.file_name().unwrap());
            assert_eq!(
                std::fs::read(&back).ok(),
                Some(std::fs::read(&original).unwrap()),
                "{case}: {}",
                back.display()
            );
        }
        assert_eq!(
            cpkit(&["validate", v4.path().to_str().unwrap()])
                .status
                .code(),
            Some(0),
            "{case}"
        );
    }
}

#[test]
fn convert_splits_a_same_number_multi_service_unit() {
    let out = TempDir::new();
    let o = convert("v4.1", false, &golden("valid/v3/riyohyo-rich"), out.path());
    assert_eq!(o.status.code(), Some(0));
    let text = stdout(&o);
    assert!(
        text.contains("split into one V4.1 unit per type: 11 (3 users), 15 (1 users)"),
        "{text}"
    );
    assert!(
        text.contains("福祉用具貸与 rows have no TAISコード"),
        "{text}"
    );
    let names: Vec<String> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.contains(&"UPPLAN_202412_0310000100_43_0320000201_11_20241126100000.CSV".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"UPPLAN_202412_0310000100_43_0320000201_15_20241126100001.CSV".to_owned()),
        "{names:?}"
    );
}

fn contents(dir: &Path) -> Vec<Vec<u8>> {
    let mut paths: Vec<_> = std::fs::read_dir(dir)
        .map(|d| d.map(|e| e.unwrap().path()).collect())
        .unwrap_or_default();
    paths.sort();
    paths.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

#[test]
fn convert_refuses_loss_and_never_overwrites() {
    let out = TempDir::new();
    let src = golden("valid/v4.1/riyohyo-rich");
    let o = convert("v3", false, &src, out.path());
    assert_eq!(o.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("TAISコード"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        contents(out.path()).is_empty(),
        "nothing written on refusal"
    );

    let o = convert("v3", true, &src, out.path());
    assert_eq!(o.status.code(), Some(0));
    assert!(stdout(&o).contains("dropped"), "{}", stdout(&o));
    let before = contents(out.path());
    let o = convert("v3", true, &src, out.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("already exists"));
    assert_eq!(before, contents(out.path()));
}

/// The whole valid corpus at once must be conformant (CI's validation smoke). Files in different
/// folders must never be grouped into one send unit, even with equal serials and offices.
#[test]
fn validate_accepts_the_whole_valid_corpus() {
    let o = cpkit(&["validate", golden("valid").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

#[test]
fn validate_reports_the_same_whatever_the_number_of_jobs() {
    // Valid and invalid files, many folders (units), so that threads finish out of order.
    let dirs = [golden("valid"), golden("invalid")];
    let dirs: Vec<&str> = dirs.iter().map(|d| d.to_str().unwrap()).collect();
    let run = |jobs: &str| {
        let mut args = vec!["validate", "--format", "json", "--jobs", jobs];
        args.extend(&dirs);
        let out = cpkit(&args);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout(&out)
    };
    let one = run("1");
    assert!(one.contains("\"findings\""), "{one}");
    for jobs in ["2", "7"] {
        assert_eq!(run(jobs), one, "--jobs {jobs}");
    }
    let zero = cpkit(&["validate", "--jobs", "0", dirs[0]]);
    assert_eq!(zero.status.code(), Some(2));
}
