//! The scenario harness as tests, through the real `cpkit` binary.
//!
//! * One test per file of the built-in suite (`scenarios/*.toml`): `cpkit run FILE` must exit 0 and
//!   its JSON report must hold no `fail` or `error` case. A new file is a new test.
//! * A `command` SUT built from a persona passes; a deliberately broken one fails with a readable
//!   cell-level diff, in the terminal summary and in JUnit.
//! * The `folder` and `exchange` SUT adapters, with this test playing the operator: it answers
//!   each REQUEST.toml with `cpkit persona` (and `cpkit send` / `cpkit fetch` for `exchange`).
//! * `cpkit run` with no arguments writes JUnit, JSON and HTML; the JUnit of the whole suite is an
//!   insta snapshot (times removed), so any change in what the kit reports is reviewed.
//! * `cpkit scenario lint` points at the line of a broken step.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use libtest_mimic::{Arguments, Failed, Trial};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "cpkit-scenarios-test-{}-{name}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn cpkit(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cpkit"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("cpkit runs")
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn check(cond: bool, what: impl FnOnce() -> String) -> Result<(), Failed> {
    if cond { Ok(()) } else { Err(what().into()) }
}

fn run_scenario(file: &Path) -> Result<(), Failed> {
    let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
    let dir = scratch(&stem);
    let json = dir.join("report.json");
    let rel = file
        .strip_prefix(root())
        .unwrap_or(file)
        .display()
        .to_string();
    let out = cpkit(
        &[
            "run",
            &rel,
            "--json",
            json.to_str().unwrap(),
            "--work",
            dir.join("work").to_str().unwrap(),
        ],
        &root(),
    );
    check(out.status.code() == Some(0), || text(&out))?;
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json)?).map_err(|e| format!("report.json: {e}"))?;
    let bad: Vec<String> = report["scenarios"][0]["cases"]
        .as_array()
        .ok_or("no cases in the report")?
        .iter()
        .filter(|c| matches!(c["verdict"].as_str(), Some("fail" | "error")))
        .map(|c| format!("{} {}", c["name"], c["message"]))
        .collect();
    check(bad.is_empty(), || format!("{bad:#?}"))?;
    check(
        report["scenarios"][0]["cases"]
            .as_array()
            .is_some_and(|c| c.len() >= 3),
        || "a scenario checks something".to_owned(),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

const RIYOHYO: &str = "scenarios/roundtrip-v41-riyohyo.toml";

fn sut_from_persona_passes() -> Result<(), Failed> {
    let dir = scratch("sut-ok");
    let out = cpkit(
        &[
            "run",
            RIYOHYO,
            "--sut",
            "scenarios/sut/persona-reference-v4.toml",
            "--json",
            dir.join("r.json").to_str().unwrap(),
            "--work",
            dir.join("work").to_str().unwrap(),
        ],
        &root(),
    );
    check(out.status.code() == Some(0), || text(&out))?;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(dir.join("r.json"))?)?;
    let software = report["scenarios"][0]["software"].to_string();
    check(
        software.contains("sut command (cpkit persona reference-v4)"),
        || software.clone(),
    )?;
    // The SUT's internal state is not visible: `holds` is n/a, the round trip judges the import.
    let verdicts: Vec<(String, String)> = report["scenarios"][0]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["verdict"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    check(
        verdicts
            .iter()
            .any(|(n, v)| n.contains("holds") && v == "not-applicable")
            && verdicts
                .iter()
                .any(|(n, v)| n.contains("round trip") && v == "pass"),
        || format!("{verdicts:#?}"),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn broken_sut_fails_with_a_cell_diff() -> Result<(), Failed> {
    let dir = scratch("sut-broken");
    let junit = dir.join("junit.xml");
    let json = dir.join("report.json");
    let html = dir.join("report.html");
    let out = cpkit(
        &[
            "run",
            RIYOHYO,
            "--sut",
            "scenarios/sut/broken-shift-start-time.toml",
            "--junit",
            junit.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
            "--work",
            dir.join("work").to_str().unwrap(),
        ],
        &root(),
    );
    check(out.status.code() == Some(1), || text(&out))?;
    // The record by its key (保険者番号/被保険者番号, day, service code) and its CSV line, in every
    // report; the summary says what differs.
    let record = "131016/1234500004 20250602 151215";
    let file = "UPJSK_202506_0320000202_15_0310000100_43_20250527100100.CSV";
    let summary = format!("No.12 サービス開始時刻: 0930 → 1030 at {record} ({file} line 1)");
    let diff =
        format!("{record} ({file} line 1), No.12 サービス開始時刻: expected «0930», actual «1030»");
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(
        stdout.contains(&diff)
            && stdout.contains(&format!("roundtrip-v41-riyohyo.toml:82: fail [11 assert day: round trip] the export does not carry what was imported: {summary}")),
        || text(&out),
    )?;
    let xml = std::fs::read_to_string(&junit)?;
    check(
        xml.contains("<failure") && xml.contains(&diff) && xml.contains(&summary),
        || xml.clone(),
    )?;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let cell = report["scenarios"][0]["cases"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["verdict"] == "fail"))
        .map(|c| c["diff"]["cells"][0].clone())
        .unwrap_or_default();
    check(
        cell["key"] == record && cell["file"] == file && cell["line"] == 1 && cell["column"] == 12,
        || format!("{cell:#}"),
    )?;
    let page = std::fs::read_to_string(&html)?;
    check(
        page.contains(&format!("<code>{record}</code>"))
            && page.contains(&format!("<code>{file} line 1</code>")),
        || "the HTML diff names the record and its line".to_owned(),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Reads a JUnit file back with a JUnit parser (quick-junit's reader).
fn read_junit(path: &Path) -> Result<quick_junit::Report, Failed> {
    let xml = std::fs::read_to_string(path)?;
    quick_junit::Report::deserialize_from_str(&xml).map_err(|e| format!("{e}\n{xml}").into())
}

fn property(props: &[quick_junit::Property], name: &str) -> Option<String> {
    props
        .iter()
        .find(|p| p.name.as_str() == name)
        .map(|p| p.value.to_string())
}

fn warnings_reach_ci() -> Result<(), Failed> {
    let dir = scratch("warnings");
    let junit = dir.join("junit.xml");
    let file = "scenarios/writer-names-v40.toml";
    let work = dir.join("work");
    let run = |strict: bool| {
        let mut args = vec![
            "run",
            file,
            "--junit",
            junit.to_str().unwrap(),
            "--work",
            work.to_str().unwrap(),
        ];
        if strict {
            args.extend(["--fail-on", "warn"]);
        }
        cpkit(&args, &root())
    };
    let out = run(false);
    check(out.status.code() == Some(0), || text(&out))?;
    // The terminal gives the reason of each warning.
    let stdout = String::from_utf8_lossy(&out.stdout);
    check(
        stdout.contains(&format!("{file}:"))
            && stdout.contains(": warn [")
            && stdout.contains("NAME005"),
        || text(&out),
    )?;
    let report = read_junit(&junit)?;
    let suite = &report.test_suites[0];
    check(
        suite.extra.get("warnings").map(|v| v.as_str()) == Some("1")
            && property(&suite.properties, "warnings").as_deref() == Some("1"),
        || format!("{suite:#?}"),
    )?;
    let warned: Vec<&quick_junit::TestCase> = suite
        .test_cases
        .iter()
        .filter(|c| property(&c.properties, "verdict").as_deref() == Some("warn"))
        .collect();
    check(warned.len() == 1, || format!("{:#?}", suite.test_cases))?;
    let case = warned[0];
    check(
        matches!(case.status, quick_junit::TestCaseStatus::Success { .. })
            && property(&case.properties, "warning").is_some_and(|w| w.contains("NAME005"))
            && case
                .system_out
                .as_ref()
                .is_some_and(|o| o.as_str().starts_with("WARN: ")),
        || format!("{case:#?}"),
    )?;
    // Strict pipelines: the warning is a failure, and the run fails.
    let out = run(true);
    check(out.status.code() == Some(1), || text(&out))?;
    let report = read_junit(&junit)?;
    let case = report.test_suites[0]
        .test_cases
        .iter()
        .find(|c| c.name == warned[0].name)
        .ok_or("the warned case")?;
    check(
        matches!(
            &case.status,
            quick_junit::TestCaseStatus::NonSuccess { kind: quick_junit::NonSuccessKind::Failure, ty, .. }
                if ty.as_ref().map(|t| t.as_str()) == Some("warn")
        ),
        || format!("{case:#?}"),
    )?;
    check(
        String::from_utf8_lossy(&out.stdout).contains("failing on warnings"),
        || text(&out),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn kit_failures_block_the_steps_that_depend_on_them() -> Result<(), Failed> {
    let dir = scratch("blocked");
    // A product whose commands cannot be started: the kit fails its first step, not the product.
    let sut = dir.join("missing-program.toml");
    let missing = format!("{:?}", dir.join("no-such-program").display().to_string());
    std::fs::write(
        &sut,
        format!(
            "name = \"not installed\"\nadapter = \"command\"\n\n[command]\n\
             load = [{missing}, \"{{in}}\"]\nimport = [{missing}, \"{{in}}\"]\n\
             export = [{missing}, \"{{out}}\"]\nrecord_actuals = [{missing}]\ntimeout_seconds = 5\n"
        ),
    )?;
    let json = dir.join("r.json");
    let junit = dir.join("j.xml");
    let out = cpkit(
        &[
            "run",
            RIYOHYO,
            "--sut",
            sut.to_str().unwrap(),
            "--json",
            json.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--work",
            dir.join("work").to_str().unwrap(),
        ],
        &root(),
    );
    check(out.status.code() == Some(3), || text(&out))?;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let cases: Vec<(String, String, String)> = report["scenarios"][0]["cases"]
        .as_array()
        .ok_or("cases")?
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or("").to_owned(),
                c["verdict"].as_str().unwrap_or("").to_owned(),
                c["message"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let errors: Vec<&(String, String, String)> = cases.iter().filter(|c| c.1 == "error").collect();
    check(
        errors.len() == 1 && errors[0].0.starts_with("07 import day"),
        || format!("{cases:#?}"),
    )?;
    let at = cases.iter().position(|c| c.1 == "error").unwrap_or(0);
    check(
        cases[..at].iter().all(|c| c.1 == "pass")
            && cases.len() > at + 5
            && cases[at + 1..].iter().all(|c| {
                c.1 == "blocked" && c.2 == "not run: step 07 import day failed in the kit"
            }),
        || format!("{cases:#?}"),
    )?;
    check(!cases.iter().any(|c| c.1 == "fail"), || {
        format!("{cases:#?}")
    })?;
    let blocked = cases.len() - at - 1;
    check(report["summary"]["cases"]["blocked"] == blocked, || {
        format!("{:#}", report["summary"])
    })?;
    check(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{blocked} blocked")),
        || text(&out),
    )?;
    let junit = read_junit(&junit)?;
    let suite = &junit.test_suites[0];
    let skipped: Vec<&quick_junit::TestCase> = suite
        .test_cases
        .iter()
        .filter(|c| {
            matches!(&c.status, quick_junit::TestCaseStatus::Skipped { message, .. }
                if message.as_ref().is_some_and(|m| m.as_str().starts_with("not run: step 07")))
        })
        .collect();
    check(
        skipped.len() == blocked
            && suite.failures == 0
            && suite.errors == 1
            && property(&suite.properties, "blocked") == Some(blocked.to_string()),
        || format!("{suite:#?}"),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Replaces the value of every `time="…"` attribute (durations vary from run to run).
fn without_times(xml: &str) -> String {
    let mut out = String::with_capacity(xml.len());
    let mut rest = xml;
    while let Some(i) = rest.find(" time=\"") {
        out.push_str(&rest[..i + 7]);
        rest = &rest[i + 7..];
        let end = rest.find('"').unwrap_or(rest.len());
        out.push('…');
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn default_run_writes_every_report() -> Result<(), Failed> {
    // No arguments, from a folder that is not the repository: the built-in suite is found.
    let dir = scratch("default-run");
    let out = cpkit(&["run", "--work", dir.join("work").to_str().unwrap()], &dir);
    check(out.status.code() == Some(0), || text(&out))?;
    // Progress gives each scenario's time in milliseconds.
    let progress = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = progress
        .lines()
        .filter(|l| {
            let first = l.split_whitespace().next().unwrap_or("");
            ["PASS", "WARN", "N/A", "FAIL", "ERROR", "BLOCKED"].contains(&first)
        })
        .collect();
    check(
        !lines.is_empty() && lines.iter().all(|l| l.trim_end().ends_with(" ms)")),
        || text(&out),
    )?;
    for f in ["junit.xml", "report.json", "report.html"] {
        let p = dir.join("cpkit-report").join(f);
        check(p.is_file(), || {
            format!("{} missing\n{}", p.display(), text(&out))
        })?;
    }
    let html = std::fs::read_to_string(dir.join("cpkit-report/report.html"))?;
    check(
        html.contains("同一") || html.contains("Same office number"),
        || "the HTML names the scenarios".into(),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn junit_of_the_suite_is_a_snapshot() -> Result<(), Failed> {
    let dir = scratch("junit");
    let junit = dir.join("junit.xml");
    let out = cpkit(
        &[
            "run",
            "scenarios",
            "--junit",
            junit.to_str().unwrap(),
            "--work",
            dir.join("work").to_str().unwrap(),
        ],
        &root(),
    );
    check(out.status.code() == Some(0), || text(&out))?;
    let xml = without_times(&std::fs::read_to_string(&junit)?);
    insta::assert_snapshot!("builtin_suite_junit", xml);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn lint_points_at_the_line() -> Result<(), Failed> {
    let dir = scratch("lint");
    let file = dir.join("bad.toml");
    std::fs::write(
        &file,
        "[scenario]\nname = \"bad\"\n\n[[office]]\nid = \"cm\"\nnumber = \"0310000100\"\nservice_types = [\"43\"]\nsoftware = \"reference-v4\"\n\n[[step]]\naction = \"export\"\noffice = \"cm\"\nto = \"nobody\"\nunit = \"kyotaku-riyohyo\"\n",
    )?;
    let out = cpkit(&["scenario", "lint", file.to_str().unwrap()], &dir);
    let stderr = String::from_utf8_lossy(&out.stderr);
    check(out.status.code() == Some(1), || text(&out))?;
    check(
        stderr.contains("bad.toml:10:1: export: to \"nobody\" is not declared"),
        || text(&out),
    )?;
    // An invalid file stops a run before anything starts.
    let out = cpkit(
        &[
            "run",
            file.to_str().unwrap(),
            "--report-dir",
            dir.join("r").to_str().unwrap(),
        ],
        &dir,
    );
    check(
        out.status.code() == Some(2) && !dir.join("r").exists(),
        || text(&out),
    )?;
    let out = cpkit(&["scenario", "lint"], &root());
    check(out.status.code() == Some(0), || text(&out))?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Plays the operator of a `folder` or `exchange` SUT: answers every REQUEST.toml under `dir`
/// until `stop` is set.
fn operator(dir: PathBuf, stop: std::sync::Arc<std::sync::atomic::AtomicBool>) -> Vec<String> {
    use std::sync::atomic::Ordering;
    let mut done = std::collections::BTreeSet::new();
    let mut log = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let mut requests: Vec<PathBuf> = Vec::new();
        let mut stack = vec![dir.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.file_name().is_some_and(|n| n == "REQUEST.toml") {
                    requests.push(p);
                }
            }
        }
        requests.sort();
        for r in requests {
            let step = r.parent().unwrap().to_path_buf();
            if done.contains(&step) || step.join("DONE").exists() || step.join("REFUSED").exists() {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&r) else {
                continue;
            };
            let Ok(req) = text.parse::<toml::Table>() else {
                continue;
            };
            let get = |k: &str| req.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            // The product's state lives beside the step folders.
            let state = step.parent().unwrap().join("product-state");
            let persona = |args: &[&str]| {
                let mut all = vec![
                    "persona",
                    "--persona",
                    "reference-v4",
                    "--state",
                    state.to_str().unwrap(),
                    "--office",
                    &get("office"),
                    "--service-type",
                    &get("service_type"),
                ]
                .into_iter()
                .map(str::to_owned)
                .collect::<Vec<_>>();
                all.extend(args.iter().map(|a| (*a).to_owned()));
                Command::new(env!("CARGO_BIN_EXE_cpkit"))
                    .args(&all)
                    .output()
                    .expect("cpkit persona")
            };
            let exchange = req.get("exchange").and_then(|v| v.as_table()).cloned();
            let client = |args: &[&str]| {
                let x = exchange.as_ref().expect("an exchange request");
                let s = |k: &str| x.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
                let mut all: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
                all.extend([
                    "--url".into(),
                    s("url"),
                    "--certs".into(),
                    s("certs"),
                    "--terminal".into(),
                    "sut-pc".into(),
                ]);
                Command::new(env!("CARGO_BIN_EXE_cpkit"))
                    .args(&all)
                    .output()
                    .expect("cpkit client")
            };
            let input = step.join("in");
            let out_dir = step.join("out");
            let result = match get("action").as_str() {
                "load" => persona(&["load", input.to_str().unwrap()]),
                "import" => persona(&["import", input.to_str().unwrap()]),
                "record-actuals" => persona(&["record-actuals", "--month", &get("month")]),
                "export" => {
                    let o = persona(&[
                        "export",
                        "--unit",
                        &get("unit"),
                        "--to",
                        &get("to"),
                        "--to-type",
                        &get("to_type"),
                        "--as-type",
                        &get("as_type"),
                        "--month",
                        &get("month"),
                        "--serial",
                        &get("serial"),
                        "--today",
                        &get("today"),
                        "--out",
                        out_dir.to_str().unwrap(),
                    ]);
                    if o.status.success() && exchange.is_some() {
                        let mut args = vec![
                            "send".to_owned(),
                            "--office".into(),
                            get("office"),
                            "--to".into(),
                        ];
                        args.push(if get("to_type").is_empty() {
                            get("to")
                        } else {
                            format!("{}:{}", get("to"), get("to_type"))
                        });
                        args.push(out_dir.display().to_string());
                        client(&args.iter().map(String::as_str).collect::<Vec<_>>())
                    } else {
                        o
                    }
                }
                "fetch" => {
                    let fetched = step.join("fetched");
                    client(&[
                        "fetch",
                        "--office",
                        &get("office"),
                        "--out",
                        fetched.to_str().unwrap(),
                    ])
                }
                other => panic!("unknown action {other}"),
            };
            let words = format!(
                "{}{}",
                String::from_utf8_lossy(&result.stdout),
                String::from_utf8_lossy(&result.stderr)
            );
            log.push(format!(
                "{}: {}",
                step.display(),
                words.lines().last().unwrap_or("")
            ));
            let marker = if result.status.success() {
                "DONE"
            } else {
                "REFUSED"
            };
            std::fs::write(step.join(marker), words).expect("a marker");
            done.insert(step);
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    log
}

fn operator_adapter_passes(config: &str, name: &str) -> Result<(), Failed> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let dir = scratch(name);
    let work = dir.join("work");
    std::fs::create_dir_all(&work)?;
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let op = {
        let (work, stop) = (work.clone(), stop.clone());
        std::thread::spawn(move || operator(work, stop))
    };
    let json = dir.join("r.json");
    let out = cpkit(
        &[
            "run",
            RIYOHYO,
            "--sut",
            config,
            "--json",
            json.to_str().unwrap(),
            "--work",
            work.to_str().unwrap(),
        ],
        &root(),
    );
    stop.store(true, Ordering::Relaxed);
    let log = op.join().map_err(|_| "the operator thread panicked")?;
    check(out.status.code() == Some(0), || {
        format!("{}\noperator:\n{}", text(&out), log.join("\n"))
    })?;
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json)?)?;
    let cases = report["scenarios"][0]["cases"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let verdict = |part: &str| {
        cases
            .iter()
            .find(|c| c["name"].as_str().is_some_and(|n| n.contains(part)))
            .and_then(|c| c["verdict"].as_str())
            .unwrap_or("")
            .to_owned()
    };
    check(
        verdict("round trip") == "pass" && verdict("byte-for-byte") == "pass",
        || format!("{cases:#?}"),
    )?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

fn folder_adapter_passes() -> Result<(), Failed> {
    operator_adapter_passes("scenarios/sut/folder-operator.toml", "sut-folder")
}

fn exchange_adapter_passes() -> Result<(), Failed> {
    operator_adapter_passes("scenarios/sut/exchange-operator.toml", "sut-exchange")
}

/// One named check of this file.
type Check = fn() -> Result<(), Failed>;

fn main() {
    let args = Arguments::from_args();
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    let mut trials: Vec<Trial> = files
        .into_iter()
        .map(|f| {
            let name = format!("scenario::{}", f.file_stem().unwrap().to_string_lossy());
            Trial::test(name, move || run_scenario(&f))
        })
        .collect();
    let checks: [(&str, Check); 9] = [
        (
            "sut::command_from_a_persona_passes",
            sut_from_persona_passes,
        ),
        (
            "sut::broken_product_fails_with_a_cell_diff",
            broken_sut_fails_with_a_cell_diff,
        ),
        (
            "sut::folder_adapter_with_an_operator",
            folder_adapter_passes,
        ),
        (
            "sut::exchange_adapter_with_an_operator",
            exchange_adapter_passes,
        ),
        (
            "run::without_arguments_writes_every_report",
            default_run_writes_every_report,
        ),
        (
            "run::junit_of_the_builtin_suite",
            junit_of_the_suite_is_a_snapshot,
        ),
        ("lint::points_at_the_line", lint_points_at_the_line),
        ("report::warnings_reach_ci", warnings_reach_ci),
        (
            "report::kit_failures_block_the_steps_that_depend_on_them",
            kit_failures_block_the_steps_that_depend_on_them,
        ),
    ];
    trials.extend(checks.map(|(name, check)| Trial::test(name, check)));
    libtest_mimic::run(&args, trials).exit();
}
