//! The support engineer's commands through the real `cpkit` binary: `diagnose` on the field cases
//! of docs/support.md (and on encoding, version, attachment, order and trace cases), `diff`,
//! `anonymize` and `shrink`. Cases are golden folders, or files a test builds from golden files.
//! Assertions name the rules and causes the tools rely on, never whole finding lists (the
//! validator grows new rules).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};

fn cpkit(args: &[&str]) -> Output {
    cpkit_in(None, args)
}

fn cpkit_in(dir: Option<&Path>, args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cpkit"));
    c.args(args);
    if let Some(d) = dir {
        c.current_dir(d);
    }
    c.output().expect("failed to run cpkit")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn golden(case: &str) -> String {
    workspace().join("golden").join(case).display().to_string()
}

struct TempDir(PathBuf);

impl TempDir {
    fn new() -> Self {
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "cpkit-support-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    fn join(&self, p: &str) -> PathBuf {
        self.0.join(p)
    }
    fn s(&self, p: &str) -> String {
        self.join(p).display().to_string()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies the files of golden folders into `dir`.
fn copy(dir: &Path, cases: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    for c in cases {
        for e in std::fs::read_dir(golden(c)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x != "toml") {
                std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
            }
        }
    }
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}\n{}", stdout(o), stderr(o)))
}

fn cause_ids(v: &serde_json::Value) -> Vec<String> {
    v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

fn cause<'a>(v: &'a serde_json::Value, id: &str) -> &'a serde_json::Value {
    v["causes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no cause {id}: {:?}", cause_ids(v)))
}

fn diagnose(args: &[&str]) -> (Output, serde_json::Value) {
    let mut a = vec!["diagnose", "--format", "json"];
    a.extend_from_slice(args);
    let o = cpkit(&a);
    let v = json(&o);
    (o, v)
}

// --------------------------------------------------------------------------------- diagnose

/// Field case 1 (seed 000 §e): デイ and ヘルプ under one office number, V3 files, a product that keys
/// by office number.
#[test]
fn diagnose_the_day_help_collision() {
    let (o, v) = diagnose(&[
        &golden("valid/v3/riyohyo-rich"),
        "--receiver",
        "number-keyed-v3",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        cause_ids(&v)[0],
        "same-office-multi-service",
        "{:?}",
        cause_ids(&v)
    );
    let c = cause(&v, "same-office-multi-service");
    assert_eq!(c["side"], "receiver");
    assert_eq!(c["confirmed"], true);
    let evidence = c["evidence"].to_string();
    assert!(
        evidence.contains("UPPLAN_202412_0310000100_0320000201_20241126100000.CSV"),
        "{evidence}"
    );
    assert!(evidence.contains("number-keyed-v3"), "{evidence}");
    // The matrix: only the number-keyed product loses the other service's 実績.
    let rows = v["matrix"]["rows"].as_array().unwrap();
    let lost: Vec<&str> = rows
        .iter()
        .filter(|r| {
            r["cells"][0]["follow"]
                .as_array()
                .unwrap()
                .iter()
                .any(|f| f["what"] == "collision" && f["outcome"]["verdict"] == "lost")
        })
        .map(|r| r["software"].as_str().unwrap())
        .collect();
    assert_eq!(lost, vec!["persona number-keyed-v3"]);
    // The human report says the same.
    let o = cpkit(&[
        "diagnose",
        &golden("valid/v3/riyohyo-rich"),
        "--receiver",
        "number-keyed-v3",
    ]);
    let text = stdout(&o);
    assert!(text.contains("1. 同一事業所番号で複数サービス"), "{text}");
    assert!(text.contains("collision LOST"), "{text}");
}

/// Field case 2 (seed 000 §g): V4.1 files, a V3 reader, and the exchange's file-name error text.
#[test]
fn diagnose_v41_names_given_to_a_v3_reader_with_the_file_name_error() {
    let text = "添付ファイル名の形式に誤りがあります。標準仕様の送信単位に従ったファイルを添付してください。";
    let (o, v) = diagnose(&[
        &golden("valid/v4.1/riyohyo-minimal"),
        "--receiver",
        "reference-v3",
        "--error-text",
        text,
    ]);
    assert_eq!(o.status.code(), Some(1));
    let ids = cause_ids(&v);
    assert_eq!(ids[0], "v41-names-v3-reader", "{ids:?}");
    assert_eq!(ids[1], "v41-names-old-client", "{ids:?}");
    let c = cause(&v, "v41-names-v3-reader");
    assert_eq!(c["side"], "receiver");
    assert!(
        c["text_match"]
            .as_str()
            .unwrap()
            .contains("添付ファイル名の形式")
    );
    let old = cause(&v, "v41-names-old-client");
    assert_eq!(old["side"], "setup");
    assert!(old["evidence"].to_string().contains("FILE_NAME_FORMAT"));
    // Without a receiver the text alone points first to the old client (the field report).
    let (_, v) = diagnose(&[&golden("valid/v4.1/riyohyo-minimal"), "--error-text", text]);
    assert_eq!(cause_ids(&v)[0], "v41-names-old-client");
    // Without text or receiver, V4.1 files are no problem at all.
    let o = cpkit(&["diagnose", &golden("valid/v4.1/riyohyo-minimal")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(stdout(&o).contains("no known cause found"));
}

/// Field case 3 (seed 000 §3): 実績 for a month whose 予定 did not come by CSV, ほのぼの at the provider.
#[test]
fn diagnose_actuals_without_a_received_plan() {
    let (o, v) = diagnose(&[
        &golden("valid/v4.1/jisseki-minimal"),
        &golden("valid/v4.1/riyohyo-minimal"),
        "--receiver",
        "honobono",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(cause_ids(&v)[0], "actuals-without-plan");
    let c = cause(&v, "actuals-without-plan");
    let evidence = c["evidence"].to_string();
    assert!(
        evidence.contains("UPJSK_202505_0320000202_15_0310000100_43_20250602090000.CSV:1"),
        "{evidence}"
    );
    assert!(
        evidence.contains("予定をCSVで受け取っていない"),
        "{evidence}"
    );
    // With the plan of that month in the folder (riyohyo-rich has May for 0320000202), the same
    // provider could have written its 実績.
    let (_, v) = diagnose(&[
        &golden("valid/v4.1/jisseki-minimal"),
        &golden("valid/v4.1/riyohyo-rich"),
        "--receiver",
        "honobono",
    ]);
    assert!(
        !cause_ids(&v).contains(&"actuals-without-plan".to_owned()),
        "{:?}",
        cause_ids(&v)
    );
}

#[test]
fn diagnose_names_encoding_and_version_causes_with_file_line_column_and_rule() {
    for (case, id, rule) in [
        ("invalid/ENC007-utf8-file", "encoding-utf8", "ENC007"),
        ("invalid/ENC006-utf8-bom", "encoding-bom", "ENC006"),
        (
            "invalid/ENC003-gaiji-f040-in-name",
            "encoding-gaiji",
            "ENC003",
        ),
        ("invalid/VER002-wrong-202410", "csv-version", "VER002"),
        ("invalid/FLD005-unquoted-text", "quoting", "FLD005"),
        (
            "invalid/UNIT001-plan-without-hosoku",
            "unit-combination",
            "UNIT001",
        ),
    ] {
        let (_, v) = diagnose(&[&golden(case)]);
        assert_eq!(cause_ids(&v)[0], id, "{case}: {:?}", cause_ids(&v));
        let c = cause(&v, id);
        assert_eq!(c["side"], "sender", "{case}");
        let e = c["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["rule"] == rule)
            .unwrap_or_else(|| panic!("{case}: no {rule} evidence: {}", c["evidence"]));
        let at = e["at"].as_str().unwrap();
        assert!(
            at.contains(".CSV") || at.starts_with("unit "),
            "{case}: {at}"
        );
    }
}

/// Rules of the grown spec core name their causes: a renamed file (NAME011, an error now) is a
/// name to give back, and 実績 whose 更新業者コード is the care manager's (OFC001) are the provider
/// product's office column to correct.
#[test]
fn diagnose_a_renamed_file_and_actuals_with_the_care_managers_update_code() {
    let (o, v) = diagnose(&[&golden("invalid/NAME009-renamed-plan-csv")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(cause_ids(&v)[0], "name-malformed", "{:?}", cause_ids(&v));
    let c = cause(&v, "name-malformed");
    assert!(
        c["evidence"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["rule"] == "NAME011" && e["at"].as_str().unwrap().ends_with("plan.csv")),
        "{}",
        c["evidence"]
    );
    assert!(
        !cause_ids(&v).contains(&"other-errors".to_owned()),
        "{:?}",
        cause_ids(&v)
    );

    // jisseki-minimal leaves 更新業者コード (No.24) empty; write the care manager's number there.
    let dir = TempDir::new();
    copy(&dir.join("case"), &["valid/v4.1/jisseki-minimal"]);
    let name = "UPJSK_202505_0320000202_15_0310000100_43_20250602090000.CSV";
    let file = dir.join("case").join(name);
    let bytes = std::fs::read(&file).unwrap();
    let at = bytes.windows(6).position(|w| w == b",0,,\r\n").unwrap();
    let mut changed = bytes[..at + 3].to_vec();
    changed.extend_from_slice(b"0310000100,");
    changed.extend_from_slice(&bytes[at + 4..]);
    std::fs::write(&file, &changed).unwrap();
    let (o, v) = diagnose(&[&dir.s("case")]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(cause_ids(&v)[0], "office-columns", "{:?}", cause_ids(&v));
    let c = cause(&v, "office-columns");
    assert_eq!(c["side"], "sender");
    let e = c["evidence"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["rule"] == "OFC001")
        .unwrap_or_else(|| panic!("no OFC001: {}", c["evidence"]));
    assert!(
        e["at"].as_str().unwrap().contains(&format!("{name}:1:")),
        "{e}"
    );
    assert!(e["text"].as_str().unwrap().contains("0310000100"), "{e}");
}

#[test]
fn diagnose_matches_a_pasted_text_alone_and_refuses_an_empty_call() {
    let (o, v) = diagnose(&[
        "--error-text",
        "入力された番号はケアプランデータ連携システムに対応していません",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(cause_ids(&v), vec!["destination-not-registered"]);
    assert_eq!(cause(&v, "destination-not-registered")["side"], "setup");
    let o = cpkit(&["diagnose"]);
    assert_eq!(o.status.code(), Some(2));
    // A file too large to be a support case is refused by name, without being read.
    let dir = TempDir::new();
    let big = std::fs::File::create(
        dir.join("UPPLAN_202505_0310000100_43_0320000201_11_20250425110000.CSV"),
    )
    .unwrap();
    big.set_len(65 * 1024 * 1024).unwrap();
    let o = cpkit(&["diagnose", &dir.s("")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("is larger than"), "{}", stderr(&o));
    let o = cpkit(&[
        "diagnose",
        &golden("valid/v4.1/riyohyo-minimal"),
        "--receiver",
        "nobody",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("unknown persona"), "{}", stderr(&o));
}

#[test]
fn diagnose_finds_attachments_the_exchange_refuses() {
    let dir = TempDir::new();
    copy(&dir.join("case"), &["valid/v4.1/riyohyo-minimal"]);
    std::fs::write(dir.join("case/plans.zip"), b"PK\x03\x04").unwrap();
    std::fs::write(dir.join("case/memo.docx"), b"PK\x03\x04").unwrap();
    std::fs::write(dir.join("case/report.pdf"), b"%PDF-1.4\n").unwrap();
    let (_, v) = diagnose(&[&dir.s("case")]);
    assert_eq!(cause_ids(&v)[0], "attachment-type");
    let e = cause(&v, "attachment-type")["evidence"].to_string();
    assert!(
        e.contains("plans.zip") && e.contains("ATTACHMENT_ZIP"),
        "{e}"
    );
    assert!(
        e.contains("memo.docx") && e.contains("ATTACHMENT_OFFICE"),
        "{e}"
    );
    assert!(!e.contains("report.pdf"), "{e}");
}

/// A deletion of the May plan of user 131016/1234500001 to 0320000201 (11), written by the test.
fn dltplan(serial: &str) -> (String, &'static [u8]) {
    (
        format!("DLTPLAN_202505_0310000100_43_0320000201_11_{serial}.CSV"),
        b"202407,131016,1234500001,202505\r\n",
    )
}

fn plan_unit_11(dir: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for e in std::fs::read_dir(golden("valid/v4.1/riyohyo-rich")).unwrap() {
        let p = e.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .contains("_0320000201_11_")
        {
            std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn diagnose_a_deletion_before_its_upload_and_the_import_order() {
    let dir = TempDir::new();
    // The deletion's 連番 (04-20) is before the upload's (04-25).
    plan_unit_11(&dir.join("early"));
    let (name, bytes) = dltplan("20250420090000");
    std::fs::write(dir.join("early").join(name), bytes).unwrap();
    let (_, v) = diagnose(&[&dir.s("early")]);
    assert_eq!(
        cause_ids(&v)[0],
        "delete-before-upload",
        "{:?}",
        cause_ids(&v)
    );
    assert_eq!(cause(&v, "delete-before-upload")["side"], "sender");
    // After the upload: in 連番 order it deletes the plan, in file-name order (DLT… sorts first) it
    // would not.
    plan_unit_11(&dir.join("late"));
    let (name, bytes) = dltplan("20250430090000");
    std::fs::write(dir.join("late").join(name), bytes).unwrap();
    let (_, v) = diagnose(&[&dir.s("late")]);
    let ids = cause_ids(&v);
    assert!(!ids.contains(&"delete-before-upload".to_owned()), "{ids:?}");
    assert_eq!(ids[0], "import-order", "{ids:?}");
    assert!(
        cause(&v, "import-order")["evidence"]
            .to_string()
            .contains("file-name order")
    );
}

/// A product under test through its `command` adapter: `cpkit persona` playing a V3-only product.
#[test]
fn diagnose_plays_a_command_sut_as_the_receiver() {
    let dir = TempDir::new();
    let persona = |action: &str| {
        format!(
            "[\"{{cpkit}}\", \"persona\", \"--persona\", \"reference-v3\", \"--state\", \"{{work}}\", \"--office\", \"{{office}}\", \"--service-type\", \"{{service_type}}\", {action}]"
        )
    };
    std::fs::write(
        dir.join("sut.toml"),
        format!(
            "name = \"a V3 product\"\nadapter = \"command\"\n\n[command]\nload = {}\nimport = {}\nexport = {}\nrecord_actuals = {}\n",
            persona("\"load\", \"{in}\""),
            persona("\"import\", \"{in}\""),
            persona("\"export\", \"--unit\", \"{unit}\", \"--to\", \"{to}\", \"--to-type\", \"{to_type}\", \"--as-type\", \"{as_type}\", \"--month\", \"{month}\", \"--serial\", \"{serial}\", \"--today\", \"{today}\", \"--out\", \"{out}\""),
            persona("\"record-actuals\", \"--month\", \"{month}\""),
        ),
    )
    .unwrap();
    let (o, v) = diagnose(&[
        &golden("valid/v4.1/riyohyo-minimal"),
        "--sut",
        &dir.s("sut.toml"),
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert_eq!(v["receiver"], "sut a V3 product");
    assert_eq!(cause_ids(&v)[0], "v41-names-v3-reader");
    assert_eq!(cause(&v, "v41-names-v3-reader")["confirmed"], true);
    let row = v["matrix"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["chosen"] == true)
        .unwrap();
    assert_eq!(row["cells"][0]["import"]["verdict"], "refused");
    assert!(
        row["cells"][0]["import"]["text"]
            .as_str()
            .unwrap()
            .contains("reads v3 names only")
    );
}

/// `cpkit serve` in its own process, killed when dropped.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &TempDir) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_cpkit"))
            .args([
                "serve",
                "--data",
                &dir.s("data"),
                "--certs",
                &dir.s("certs"),
                "--listen",
                "127.0.0.1:0",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = loop {
            let line = lines.next().expect("cpkit serve printed its URL").unwrap();
            if let Some(url) = line.strip_prefix("mock exchange listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || for _ in lines {});
        Self { child, url }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "cpkit failed: {}\n{}",
        stderr(&o),
        stdout(&o)
    );
    stdout(&o)
}

/// A real `cpkit serve` exchange recorded by `cpkit trace export` into `dir/bundle`: a send of
/// riyohyo-minimal from 0310000100 to 0320000202, the same send refused from an old client
/// (1.1.2, terminal old-pc), 0320000202 listing on pc-a (which takes the item: first lister wins)
/// then on pc-b (nothing), and pc-a fetching the item.
fn record_first_lister_trace(dir: &TempDir) {
    let server = Server::start(dir);
    for office in ["0310000100", "0320000202"] {
        ok(cpkit(&[
            "certs",
            "issue",
            "--certs",
            &dir.s("certs"),
            "--office",
            office,
        ]));
    }
    let certs = dir.s("certs");
    let client = |args: &[&str]| {
        let mut a = vec![
            args[0],
            "--url",
            server.url.as_str(),
            "--certs",
            certs.as_str(),
        ];
        a.extend_from_slice(&args[1..]);
        cpkit(&a)
    };
    let unit = golden("valid/v4.1/riyohyo-minimal");
    ok(client(&[
        "send",
        "--office",
        "0310000100",
        "--to",
        "0320000202",
        &unit,
    ]));
    let refused = client(&[
        "send",
        "--office",
        "0310000100",
        "--to",
        "0320000202",
        "--client-version",
        "1.1.2",
        "--terminal",
        "old-pc",
        &unit,
    ]);
    assert_eq!(refused.status.code(), Some(1), "{}", stderr(&refused));
    ok(client(&[
        "inbox",
        "--office",
        "0320000202",
        "--terminal",
        "pc-a",
    ]));
    let other = ok(client(&[
        "inbox",
        "--office",
        "0320000202",
        "--terminal",
        "pc-b",
    ]));
    assert!(other.contains(": 0 items"), "{other}");
    ok(client(&[
        "fetch",
        "--office",
        "0320000202",
        "--terminal",
        "pc-a",
        "--out",
        &dir.s("received"),
    ]));
    ok(cpkit(&[
        "trace",
        "export",
        "--data",
        &dir.s("data"),
        "--out",
        &dir.s("bundle"),
    ]));
}

/// First-lister-wins from a real exchange's trace: terminal pc-a lists first and takes the item,
/// pc-b sees nothing; and a send from an old client is refused with the file-name error.
#[test]
fn diagnose_an_item_taken_by_another_terminal_from_a_trace_bundle() {
    let dir = TempDir::new();
    record_first_lister_trace(&dir);
    let unit = golden("valid/v4.1/riyohyo-minimal");
    let (o, v) = diagnose(&[&unit, "--trace", &dir.s("bundle")]);
    assert_eq!(o.status.code(), Some(1));
    let c = cause(&v, "item-taken-by-terminal");
    assert_eq!(c["side"], "setup");
    let e = &c["evidence"][0];
    assert!(e["at"].as_str().unwrap().contains("trace.jsonl:"), "{e}");
    assert_eq!(e["rule"], "first-lister-wins");
    assert!(e["text"].as_str().unwrap().contains("terminal pc-b"), "{e}");
    assert!(
        e["text"]
            .as_str()
            .unwrap()
            .contains("terminal pc-a had listed it first"),
        "{e}"
    );
    // The refused send of the old client is in the trace too.
    let old = cause(&v, "v41-names-old-client");
    assert!(old["evidence"].to_string().contains("FILE_NAME_FORMAT"));
    // A bundle that is not one is a usage error.
    let o = cpkit(&["diagnose", &unit, "--trace", &dir.s("certs")]);
    assert_eq!(o.status.code(), Some(2));
}

// ------------------------------------------------------------------------------------- diff

#[test]
fn diff_same_and_changed_files_human_json_html() {
    let dir = TempDir::new();
    let a = golden("valid/v4.1/riyohyo-minimal");
    let o = cpkit(&["diff", &a, &a]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // B: the same unit with the start time changed and a full-width tilde in the name, built
    // from the golden bytes.
    copy(&dir.join("b"), &["valid/v4.1/riyohyo-minimal"]);
    let plan = dir.join("b/UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV");
    let bytes = std::fs::read(&plan).unwrap();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    assert!(text.contains(",0930,"));
    let mut changed = bytes.clone();
    let at = bytes.windows(6).position(|w| w == b",0930,").unwrap();
    changed[at + 1..at + 5].copy_from_slice(b"1030");
    std::fs::write(&plan, &changed).unwrap();
    let o = cpkit(&["diff", &a, &dir.s("b")]);
    assert_eq!(o.status.code(), Some(1));
    let t = stdout(&o);
    assert!(
        t.contains("record 131016/1234500004/202506/20250602/151215 — A 1:"),
        "{t}"
    );
    assert!(t.contains("No.12 サービス開始時刻"), "{t}");
    assert!(t.contains("A «0930»") && t.contains("B «1030»"), "{t}");
    let o = cpkit(&["diff", "--format", "json", &a, &dir.s("b")]);
    let v = json(&o);
    assert_eq!(v["schema"], "cpkit-diff/1");
    assert_eq!(v["same"], false);
    let cell = v["files"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|f| f["cells"].as_array().unwrap().clone())
        .next()
        .unwrap();
    assert_eq!(cell["no_a"], 12);
    assert_eq!(cell["name"], "サービス開始時刻");
    let out = dir.s("diff.html");
    let o = cpkit(&["diff", "--format", "html", "-o", &out, &a, &dir.s("b")]);
    assert_eq!(o.status.code(), Some(1));
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.contains("サービス開始時刻"));
    assert!(html.contains("«1030»"));
    let o = cpkit(&["diff", &a, &dir.s("missing")]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn diff_names_encoding_bom_and_line_endings_and_pairs_v3_with_its_conversion() {
    let dir = TempDir::new();
    let plan = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    let a = workspace()
        .join("golden/valid/v4.1/riyohyo-minimal")
        .join(plan);
    let bytes = std::fs::read(&a).unwrap();
    let mut b = vec![0xEF, 0xBB, 0xBF];
    b.extend(bytes.iter().copied().filter(|&x| x != b'\r'));
    std::fs::write(dir.join(plan), &b).unwrap();
    let v = json(&cpkit(&[
        "diff",
        "--format",
        "json",
        a.to_str().unwrap(),
        &dir.s(plan),
    ]));
    let facts: Vec<String> = v["files"][0]["facts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["what"].as_str().unwrap().to_owned())
        .collect();
    assert!(facts.contains(&"BOM".to_owned()), "{facts:?}");
    assert!(facts.contains(&"line endings".to_owned()), "{facts:?}");
    // A V3 folder and its V4.1 conversion pair file by file; the values are the same.
    ok(cpkit(&[
        "convert",
        "--to",
        "v4.1",
        &golden("valid/v3/riyohyo-minimal"),
        "--out",
        &dir.s("v41"),
    ]));
    let v = json(&cpkit(&[
        "diff",
        "--format",
        "json",
        &golden("valid/v3/riyohyo-minimal"),
        &dir.s("v41"),
    ]));
    assert_eq!(v["only_in_a"].as_array().unwrap().len(), 0, "{v}");
    for f in v["files"].as_array().unwrap() {
        let whats: Vec<&str> = f["facts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| x["what"].as_str().unwrap())
            .collect();
        assert!(
            whats.contains(&"version") && whats.contains(&"CSVバージョン"),
            "{whats:?}"
        );
        assert!(f["cells"].as_array().unwrap().is_empty(), "{f}");
    }
}

// -------------------------------------------------------------------------------- anonymize

fn findings(path: &str) -> Vec<(String, u64, u64, String)> {
    let o = cpkit(&["validate", "--format", "json", path]);
    let v = json(&o);
    let mut out: Vec<(String, u64, u64, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["rule"].as_str().unwrap().to_owned(),
                f["line"].as_u64().unwrap_or(0),
                f["column"].as_u64().unwrap_or(0),
                Path::new(f["file"].as_str().unwrap_or(""))
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
            )
        })
        .collect();
    out.sort();
    out
}

#[test]
fn anonymize_keeps_the_findings_and_drops_the_personal_values() {
    let dir = TempDir::new();
    let key = dir.s("secret/anonymize.key");
    // A case with a 外字 in a name: with --keep-offending the copy fails exactly like the input.
    let case = golden("invalid/ENC003-gaiji-f040-in-name");
    let o = cpkit(&[
        "anonymize",
        &case,
        "--out",
        &dir.s("out1"),
        "--key",
        &key,
        "--keep-offending",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("created the key"), "{}", stdout(&o));
    assert_eq!(findings(&case), findings(&dir.s("out1")));
    assert!(findings(&dir.s("out1")).iter().any(|f| f.0 == "ENC003"));
    // Without it the 外字 is replaced too, and nothing else changes.
    ok(cpkit(&[
        "anonymize",
        &case,
        "--out",
        &dir.s("out2"),
        "--key",
        &key,
    ]));
    let without: Vec<_> = findings(&case)
        .into_iter()
        .filter(|f| f.0 != "ENC003")
        .collect();
    assert_eq!(without, findings(&dir.s("out2")));
    // The key is the engineer's: created 0600, never in the copy.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let secret = std::fs::read_to_string(&key).unwrap();
    for e in walk(&dir.join("out2")) {
        let bytes = std::fs::read(&e).unwrap();
        assert!(!String::from_utf8_lossy(&bytes).contains(secret.trim()));
    }
    let o = cpkit(&[
        "anonymize",
        &case,
        "--out",
        &dir.s("out3"),
        "--key",
        &dir.s("out3/k"),
    ]);
    assert_eq!(o.status.code(), Some(2));
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn anonymize_joins_across_files_is_deterministic_per_key_and_leaves_no_original() {
    let dir = TempDir::new();
    let key = dir.s("k1");
    let cases = [
        golden("valid/v4.1/riyohyo-rich"),
        golden("valid/v4.1/jisseki-rich"),
        golden("valid/v4.1/kihon-minimal"),
    ];
    let args = |out: &str, key: &str| -> Vec<String> {
        let mut a = vec!["anonymize".to_owned()];
        a.extend(cases.iter().cloned());
        a.extend([
            "--out".to_owned(),
            out.to_owned(),
            "--key".to_owned(),
            key.to_owned(),
        ]);
        a
    };
    let run = |out: &str, key: &str| {
        let a = args(out, key);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        ok(cpkit(&a))
    };
    let report = run(&dir.s("a"), &key);
    assert!(report.contains("被保険者番号 (insured)"), "{report}");
    run(&dir.s("b"), &key);
    run(&dir.s("c"), &dir.s("k2"));
    // The copy validates as the input did: conformant, the same units.
    let o = cpkit(&["validate", &dir.s("a")]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    // Same key, same bytes; another key, other pseudonyms.
    let file = "UPHOSOKU_202505_0310000100_43_0320000201_11_20250425110000.CSV";
    let a = std::fs::read(dir.join("a").join(file)).unwrap();
    let b = std::fs::read(dir.join("b").join(file)).unwrap();
    let c = std::fs::read(dir.join("c").join(file)).unwrap();
    assert_eq!(a, b);
    assert_ne!(a, c);
    // No 被保険者番号, name or address of the golden users survives anywhere in the copy; the
    // H of the 生保単独 number does.
    let all: String = walk(&dir.join("a"))
        .iter()
        .map(|p| {
            let bytes = std::fs::read(p).unwrap();
            careplan_spec::ms932::decode(&bytes).0
        })
        .collect();
    for original in [
        "1234500001",
        "H123456789",
        "9876500003",
        "介護　太郎",
        "生保　花子",
        "カイゴ　タロウ",
        "東京都千代田区千代田一丁目1番1号",
        "03-1234-5678",
        "19400315",
    ] {
        assert!(!all.contains(original), "{original} survived");
    }
    assert!(all.contains(",H"), "the 生保単独 H form is kept");
    // The same person joins across files: the pseudonym of 1234500001 in the 補足 is the one in
    // the 6表 and the 実績.
    let v = json(&cpkit(&["diagnose", "--format", "json", &dir.s("a")]));
    assert!(
        !cause_ids(&v).contains(&"unit-combination".to_owned()),
        "{:?}",
        cause_ids(&v)
    );
    let report: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("a/anonymize-report.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(report["schema"], "cpkit-anonymize/1");
    assert!(!report.to_string().contains("1234500001"));
}

// ----------------------------------------------------------------------------------- shrink

/// TOT003 in one unit among the 15 files of riyohyo-rich.
fn tot003_case(dir: &Path) {
    copy(
        dir,
        &[
            "valid/v4.1/riyohyo-rich",
            "invalid/TOT003-units-on-subtotal",
        ],
    );
}

#[test]
fn shrink_to_a_rule_writes_minimal_files_and_a_scenario_that_runs() {
    let dir = TempDir::new();
    tot003_case(&dir.join("case"));
    let o = cpkit(&[
        "shrink",
        &dir.s("case"),
        "--rule",
        "TOT003",
        "--out",
        &dir.s("out"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let t = stdout(&o);
    assert!(t.contains("files 18 → 3"), "{t}");
    // Records are cut although each cut breaks a 7表 sum or a 6表 ↔ 7表 count (tolerated warnings).
    let records: usize = t
        .split("records 337 → ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{t}"));
    assert!(records <= 10, "{t}");
    assert!(stderr(&o).contains("shrink: units:"), "progress is shown");
    let files: Vec<PathBuf> = walk(&dir.join("out/files"));
    assert_eq!(files.len(), 3, "{files:?}");
    let f = findings(&dir.s("out/files"));
    assert!(f.iter().any(|x| x.0 == "TOT003"), "{f:?}");
    // Each file is cut from its input byte for byte: every line of the copy is a line of the input.
    for p in &files {
        let original = std::fs::read(dir.join("case").join(p.file_name().unwrap())).unwrap();
        let shrunk = std::fs::read(p).unwrap();
        assert!(shrunk.len() < original.len() || shrunk == original);
    }
    // The scenario lints and passes with the stand-in receiver (which refuses with TOT003).
    let lint = cpkit(&["scenario", "lint", &dir.s("out/scenario.toml")]);
    assert_eq!(lint.status.code(), Some(0), "{}", stderr(&lint));
    let run = cpkit_in(
        Some(&dir.join("out")),
        &["run", "scenario.toml", "--report-dir", "report"],
    );
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&run),
        stderr(&run)
    );
    // Deterministic: the same input gives the same output.
    ok(cpkit(&[
        "shrink",
        &dir.s("case"),
        "--rule",
        "TOT003",
        "--out",
        &dir.s("again"),
    ]));
    for p in &files {
        let twin = dir.join("again/files").join(p.file_name().unwrap());
        assert_eq!(std::fs::read(p).unwrap(), std::fs::read(twin).unwrap());
    }
    assert_eq!(
        std::fs::read(dir.join("out/scenario.toml")).unwrap(),
        std::fs::read(dir.join("again/scenario.toml")).unwrap()
    );
    // A rule the files do not show: exit 1; no goal: usage error.
    let o = cpkit(&[
        "shrink",
        &dir.s("case"),
        "--rule",
        "ENC003",
        "--out",
        &dir.s("none"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let o = cpkit(&["shrink", &dir.s("case"), "--out", &dir.s("none2")]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn shrink_to_a_sut_failure_keeps_the_failure_and_writes_the_scenario() {
    let dir = TempDir::new();
    let sut = workspace().join("scenarios/sut/broken-shift-start-time.toml");
    let scenario = workspace().join("scenarios/plan-before-actual-accepted.toml");
    let o = cpkit(&[
        "shrink",
        &golden("valid/v4.1/riyohyo-rich"),
        "--sut",
        sut.to_str().unwrap(),
        "--scenario",
        scenario.to_str().unwrap(),
        "--out",
        &dir.s("out"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let files = walk(&dir.join("out/files"));
    assert_eq!(files.len(), 3, "{files:?}");
    assert!(
        files
            .iter()
            .all(|f| f.to_str().unwrap().contains("0320000202_15")),
        "{files:?}"
    );
    let text = std::fs::read_to_string(dir.join("out/scenario.toml")).unwrap();
    assert!(text.contains("fixture = \"files\""), "{text}");
    // The written scenario fails with the SUT as the original did, and passes with the stand-in.
    let failing = cpkit_in(
        Some(&dir.join("out")),
        &[
            "run",
            "scenario.toml",
            "--sut",
            sut.to_str().unwrap(),
            "--report-dir",
            "r1",
        ],
    );
    assert_eq!(failing.status.code(), Some(1), "{}", stdout(&failing));
    assert!(
        stdout(&failing).contains("round trip"),
        "{}",
        stdout(&failing)
    );
    let passing = cpkit_in(
        Some(&dir.join("out")),
        &["run", "scenario.toml", "--report-dir", "r2"],
    );
    assert_eq!(passing.status.code(), Some(0), "{}", stdout(&passing));
}

// ----------------------------------------------------------------------------------- replay

/// The bundle folder a failing `cpkit run` wrote (one bundle per failing scenario).
fn only_bundle(report: &Path) -> PathBuf {
    let bundles: Vec<PathBuf> = std::fs::read_dir(report.join("bundles"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(bundles.len(), 1, "{bundles:?}");
    bundles[0].clone()
}

/// A failing scenario (the broken SUT: 実績 an hour late) writes a self-contained bundle linked from
/// the three reports; its replay, from a copy elsewhere, reproduces every recorded answer; the
/// bundle edited to expect another answer reports that difference; a passing run writes none.
#[test]
fn replay_a_failing_runs_bundle_and_an_edited_one() {
    let dir = TempDir::new();
    let o = cpkit_in(
        Some(&dir.0),
        &[
            "run",
            "scenarios/roundtrip-v41-riyohyo.toml",
            "--sut",
            "scenarios/sut/broken-shift-start-time.toml",
            "--report-dir",
            "report",
            "--work",
            &dir.s("work"),
        ],
    );
    assert_eq!(o.status.code(), Some(1), "{}\n{}", stdout(&o), stderr(&o));
    assert!(
        stdout(&o).contains(
            "replay bundles of the failing scenarios: report/bundles/001-roundtrip-v41-riyohyo"
        ),
        "{}",
        stdout(&o)
    );
    let bundle = only_bundle(&dir.join("report"));
    for part in [
        "bundle.json",
        "scenario.toml",
        "sut.toml",
        "transcript.jsonl",
    ] {
        assert!(bundle.join(part).is_file(), "{part}");
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bundle.join("bundle.json")).unwrap()).unwrap();
    assert_eq!(manifest["schema"], "cpkit-replay/1");
    assert_eq!(manifest["scenario"]["verdict"], "fail");
    assert_eq!(manifest["clock"]["exchange_start"], "2025-05-27T10:00:00Z");
    assert_eq!(
        manifest["certificates"][0]["sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(manifest["sut"]["adapter"], "command");
    // The inputs are in the bundle, and the scenario points at them.
    let scenario = std::fs::read_to_string(bundle.join("scenario.toml")).unwrap();
    assert!(
        scenario.contains("fixture = \"inputs/01/riyohyo-minimal\""),
        "{scenario}"
    );
    assert_eq!(
        std::fs::read_dir(bundle.join("inputs/01/riyohyo-minimal"))
            .unwrap()
            .count(),
        3
    );
    let transcript = std::fs::read_to_string(bundle.join("transcript.jsonl")).unwrap();
    assert!(
        transcript
            .lines()
            .any(|l| l.contains("\"call\":\"download\"") && l.contains("sha256"))
    );
    // Linked from the three reports, relative to their folder.
    let link = "bundles/001-roundtrip-v41-riyohyo";
    let junit = std::fs::read_to_string(dir.join("report/junit.xml")).unwrap();
    assert!(
        junit.contains(&format!("<property name=\"bundle\" value=\"{link}\"/>")),
        "{junit}"
    );
    assert!(junit.contains(&format!("replay bundle: {link} (cpkit replay {link})")));
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("report/report.json")).unwrap()).unwrap();
    assert_eq!(report["scenarios"][0]["bundle"], link);
    let html = std::fs::read_to_string(dir.join("report/report.html")).unwrap();
    assert!(html.contains(&format!("href=\"{link}/\"")));

    // Self-contained: replayed from a copy in another folder, from yet another working folder.
    let moved = dir.join("elsewhere/bundle");
    copy_tree(&bundle, &moved);
    let o = cpkit_in(
        Some(&workspace().join("spec")),
        &["replay", moved.to_str().unwrap()],
    );
    assert_eq!(o.status.code(), Some(0), "{}\n{}", stdout(&o), stderr(&o));
    let t = stdout(&o);
    assert!(t.contains("same — "), "{t}");
    assert!(t.contains("verdict: recorded fail, replayed fail"), "{t}");

    // Edited to expect another answer of the exchange: that call is named, exit 1.
    let path = moved.join("transcript.jsonl");
    let edited = std::fs::read_to_string(&path).unwrap().replacen(
        "\"answer\":\"items 1\"",
        "\"answer\":\"items 2\"",
        1,
    );
    std::fs::write(&path, edited).unwrap();
    let o = cpkit(&["replay", "--format", "json", moved.to_str().unwrap()]);
    let v = json(&o);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert_eq!(v["same"], false);
    let d = &v["differences"][0];
    assert_eq!(d["what"], "answer", "{v}");
    assert!(d["at"].as_str().unwrap().contains(": inbox)"), "{d}");
    assert_eq!(
        (d["recorded"].as_str(), d["replayed"].as_str()),
        (Some("items 2"), Some("items 1"))
    );
    assert_eq!(v["differences"].as_array().unwrap().len(), 1, "{v}");

    // The product fixed (the SUT's defect removed from the bundle's sut.toml): the round trip now
    // passes, and the replay says which recorded answers changed.
    let fixed = dir.join("fixed");
    copy_tree(&bundle, &fixed);
    let sut = std::fs::read_to_string(fixed.join("sut.toml")).unwrap();
    assert!(sut.contains("\"--defect\", \"shift-start-time\", "));
    std::fs::write(
        fixed.join("sut.toml"),
        sut.replace("\"--defect\", \"shift-start-time\", ", ""),
    )
    .unwrap();
    let o = cpkit(&["replay", "--format", "json", fixed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    let verdicts: Vec<&serde_json::Value> = v["differences"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["what"] == "verdict")
        .collect();
    assert_eq!(verdicts.len(), 1, "{v}");
    assert!(
        verdicts[0]["at"].as_str().unwrap().ends_with("round trip"),
        "{v}"
    );
    assert!(
        verdicts[0]["recorded"]
            .as_str()
            .unwrap()
            .starts_with("fail: ")
    );
    assert!(
        verdicts[0]["replayed"]
            .as_str()
            .unwrap()
            .starts_with("pass: ")
    );

    // Not a bundle: a usage error.
    let o = cpkit(&["replay", &dir.s("report")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        stderr(&o).contains("is not a replay bundle"),
        "{}",
        stderr(&o)
    );

    // A passing run writes no bundle and links none.
    let o = cpkit_in(
        Some(&dir.0),
        &[
            "run",
            "scenarios/roundtrip-v41-riyohyo.toml",
            "--report-dir",
            "passing",
            "--work",
            &dir.s("work2"),
        ],
    );
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    assert!(!dir.join("passing/bundles").exists());
    assert!(
        !std::fs::read_to_string(dir.join("passing/junit.xml"))
            .unwrap()
            .contains("bundle")
    );
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            std::fs::copy(&p, &target).unwrap();
        }
    }
}

/// A `cpkit serve` trace — a send, an old client's refused send, two terminals listing (first
/// lister wins), a fetch — replays against a fresh hub with the same answers; the refused send is
/// said not to be replayed; an edited listing is reported.
#[test]
fn replay_a_trace_export_of_cpkit_serve() {
    let dir = TempDir::new();
    record_first_lister_trace(&dir);
    let o = cpkit(&["replay", &dir.s("bundle")]);
    let t = stdout(&o);
    assert_eq!(o.status.code(), Some(0), "{t}\n{}", stderr(&o));
    assert!(t.contains("trace bundle"), "{t}");
    assert!(t.contains("same — "), "{t}");
    assert!(
        t.contains("(POST /v1/sends): a refused send"),
        "the refused send is named as not replayed: {t}"
    );
    let v = json(&cpkit(&["replay", "--format", "json", &dir.s("bundle")]));
    // Logins, the send, both listings, the fetch's listing and three downloads.
    assert!(v["compared"].as_u64().unwrap() >= 9, "{v}");

    // pc-b's listing edited to have taken the item: the replay's hub gives it to pc-a, as before.
    let path = dir.join("bundle/trace.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let at = lines
        .iter()
        .position(|l| l.contains("\"terminal\":\"pc-b\"") && l.contains("GET /v1/inbox"))
        .expect("pc-b's listing");
    lines[at] = lines[at].replace("\"items\":[]", "\"items\":[1]");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let o = cpkit(&["replay", "--format", "json", &dir.s("bundle")]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v = json(&o);
    let d = &v["differences"][0];
    assert_eq!(
        d["at"],
        format!("trace.jsonl:{} (GET /v1/inbox)", at + 1),
        "{v}"
    );
    assert_eq!(d["what"], "detail");
    assert_eq!(d["replayed"], "{\"items\":[]}");

    // A trace without exchange.json (an older export) is refused with the way out.
    std::fs::remove_file(dir.join("bundle/exchange.json")).unwrap();
    let o = cpkit(&["replay", &dir.s("bundle")]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("export it again"), "{}", stderr(&o));
}
