//! `cpkit` as a user installs and uses it.
//!
//! * Installed with `cargo install --locked --path harness --root <tmp>`, then run in an empty
//!   folder outside any checkout: the built-in suite, its golden fixtures and the SUT examples are
//!   embedded in the binary, so the whole suite runs there and the reports name every scenario by
//!   its stable relative path (`scenarios/x.toml`), never by an absolute one; `--list`; the suite
//!   exported byte for byte and run from where it was written.
//! * Every `cpkit` command of README.md, pasted in order, works as written.
//!
//! The install here is `--debug --offline` into the test's own target folder, so it reuses what
//! `cargo test` just built (CI also installs the release build, `.ci/run`).

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("cpkit-install-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a scratch folder");
    dir
}

fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Installs cpkit into `root` and returns the installed binary.
fn install(root: &Path) -> PathBuf {
    // target/debug/cpkit → target
    let target = Path::new(env!("CARGO_BIN_EXE_cpkit"))
        .parent()
        .and_then(Path::parent)
        .expect("the target folder");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    // What `cargo test` sets for this test would reach the build scripts of the dependencies and
    // make Cargo rebuild them (ring reads CARGO_PKG_*): install as from a shell.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        if [
            "CARGO_PKG_",
            "CARGO_MANIFEST_",
            "CARGO_BIN_",
            "CARGO_CRATE_",
            "CARGO_TARGET_TMPDIR",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || key == "OUT_DIR"
            || key == "LD_LIBRARY_PATH"
        {
            command.env_remove(key.as_ref());
        }
    }
    let out = command
        .args(["install", "--locked", "--offline", "--debug", "--path"])
        .arg(repo().join("harness"))
        .arg("--root")
        .arg(root)
        .arg("--target-dir")
        .arg(target)
        .output()
        .expect("cargo runs");
    assert!(out.status.success(), "cargo install failed\n{}", text(&out));
    let bin = root
        .join("bin")
        .join(format!("cpkit{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} missing\n{}", bin.display(), text(&out));
    bin
}

fn attribute_values<'a>(xml: &'a str, attribute: &str) -> Vec<&'a str> {
    let needle = format!(" {attribute}=\"");
    xml.match_indices(&needle)
        .map(|(i, _)| {
            let rest = &xml[i + needle.len()..];
            &rest[..rest.find('"').unwrap_or(rest.len())]
        })
        .collect()
}

#[test]
fn an_installed_cpkit_runs_the_whole_suite_in_an_empty_folder() {
    let dir = scratch("suite");
    let cpkit = install(&dir.join("root"));
    let empty = dir.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    // Outside any checkout: no Cargo.toml and no scenarios/ in the folder or above it.
    for a in empty.ancestors() {
        assert!(
            !a.join("Cargo.toml").exists() && !a.join("scenarios").exists(),
            "{} is inside a checkout",
            a.display()
        );
    }
    let run = |args: &[&str]| {
        Command::new(&cpkit)
            .args(args)
            .current_dir(&empty)
            .env_remove("CARGO_MANIFEST_DIR")
            .output()
            .expect("the installed cpkit runs")
    };

    let out = run(&["run", "--work", dir.join("work").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let builtin: Vec<String> = std::fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains(&format!("{} scenarios:", builtin.len())),
        "{}",
        text(&out)
    );

    let reports = empty.join("cpkit-report");
    let xml = std::fs::read_to_string(reports.join("junit.xml")).expect("junit.xml");
    let files = attribute_values(&xml, "file");
    assert!(files.len() > builtin.len(), "{xml}");
    for f in &files {
        assert!(
            f.starts_with("scenarios/") && f.ends_with(".toml") && !f.contains(".."),
            "file={f:?} is not a stable relative name"
        );
        assert!(builtin.iter().any(|b| f.ends_with(b.as_str())), "{f}");
    }
    for c in attribute_values(&xml, "classname") {
        assert!(
            c.starts_with("scenarios.") && !c.contains('/') && !c.contains(".toml"),
            "classname={c:?}"
        );
    }
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(reports.join("report.json")).unwrap()).unwrap();
    let names: Vec<&str> = json["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["file"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), builtin.len());
    assert!(
        names.iter().all(|n| n.starts_with("scenarios/")),
        "{names:?}"
    );
    let html = std::fs::read_to_string(reports.join("report.html")).unwrap();
    assert!(
        !html.contains(&repo().display().to_string()),
        "the HTML names the checkout"
    );
    assert!(
        !xml.contains(&repo().display().to_string()),
        "the JUnit names the checkout"
    );

    // The list, a built-in scenario by its relative name with a built-in SUT example.
    let out = run(&["run", "--list"]);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success()
            && listed.contains("scenarios/roundtrip-v41-riyohyo.toml")
            && listed.contains("tags: ")
            && listed.contains("collision (3)"),
        "{}",
        text(&out)
    );
    let out = run(&[
        "run",
        "scenarios/roundtrip-v41-riyohyo.toml",
        "--sut",
        "scenarios/sut/persona-reference-v4.toml",
        "--json",
        "one.json",
        "--work",
        dir.join("work1").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // Exported for editing: byte for byte the checkout's files, and runnable from where they are.
    let out = run(&["scenarios", "export", "suite"]);
    assert!(out.status.success(), "{}", text(&out));
    let mut compared = 0;
    let mut stack = vec![empty.join("suite")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let rel = p.strip_prefix(empty.join("suite")).unwrap();
            assert_eq!(
                std::fs::read(&p).unwrap(),
                std::fs::read(repo().join(rel)).unwrap(),
                "{} differs from the checkout",
                rel.display()
            );
            compared += 1;
        }
    }
    assert!(compared > builtin.len() + 10, "{compared} files exported");
    let out = run(&["scenarios", "lint", "suite/scenarios"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = run(&[
        "run",
        "suite/scenarios/collision-v3-number-keyed.toml",
        "--junit",
        "edited.xml",
        "--work",
        dir.join("work2").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let xml = std::fs::read_to_string(empty.join("edited.xml")).unwrap();
    assert!(
        attribute_values(&xml, "file")
            .iter()
            .all(|f| *f == "suite/scenarios/collision-v3-number-keyed.toml"),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The `cpkit …` lines of README.md's shell blocks, in order, with their comments removed; the
/// mock exchange's block (a server in one terminal, clients in another, on the fixed demo port)
/// is left to tests/exchange_cli.rs.
fn readme_commands() -> Vec<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).expect("README.md");
    let mut out = Vec::new();
    let mut in_block = false;
    let mut block: Vec<String> = Vec::new();
    for line in readme.lines() {
        if line.starts_with("```") {
            if in_block && !block.iter().any(|l| l.starts_with("cpkit serve")) {
                out.append(&mut block);
            }
            block.clear();
            in_block = !in_block && line.trim() == "```sh";
            continue;
        }
        let command = line.split("  #").next().unwrap_or("").trim();
        if in_block && command.starts_with("cpkit ") {
            block.push(command.to_owned());
        }
    }
    out
}

#[test]
fn every_readme_command_works_as_written() {
    let dir = scratch("readme");
    // The README's paths are the repository's: golden/ is there; scenarios/… are the built-in
    // ones (this folder has no scenarios/ of its own).
    #[cfg(unix)]
    std::os::unix::fs::symlink(repo().join("golden"), dir.join("golden")).unwrap();
    #[cfg(not(unix))]
    return;
    let commands = readme_commands();
    assert!(commands.len() >= 15, "{commands:#?}");
    for c in &commands {
        let args: Vec<&str> = c.split_whitespace().skip(1).collect();
        let out = Command::new(env!("CARGO_BIN_EXE_cpkit"))
            .args(&args)
            .current_dir(&dir)
            .env("TMPDIR", dir.join("tmp"))
            .output()
            .expect("cpkit runs");
        // 0 or 1 (a verdict: violations, a failed or strict run); never a usage error (2) or a
        // failure of the kit (3).
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "`{c}` does not work as written\n{}",
            text(&out)
        );
    }
    for written in [
        "cpkit-report/junit.xml",
        "reports/junit.xml",
        "reports/collision.html",
        "reports/validate.xml",
        "reports/v4.1",
        "reports/v3",
        "my-suite/scenarios/roundtrip-v41-riyohyo.toml",
    ] {
        assert!(dir.join(written).exists(), "{written} was not written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
