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
    assert_eq!(v["findings"][0]["rule"], "NAME009");
    assert_eq!(o.status.code(), Some(0), "identification is informational");
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
