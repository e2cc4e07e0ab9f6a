//! Embeds the built-in scenario suite into `cpkit`: `scenarios/*.toml`, `scenarios/sut/*.toml`,
//! everything under `scenarios/fixtures/`, and exactly the golden files the scenarios name as
//! `fixture` or `attach` (a folder: its files). Writes `$OUT_DIR/builtin.rs`, a sorted table of
//! (`/`-separated path relative to the repository, `include_bytes!`), so the bytes are the
//! checkout's, MS932 included, and tells Cargo to build again when any of them changes.
//!
//! No dependency: the scenario files are scanned for the values of `fixture = "…"` and
//! `attach = ["…", …]` only. The unit test `builtin_suite_lints_clean` (harness/src/suite.rs) lints
//! the embedded suite against the embedded tree, so a fixture this scan missed fails the tests.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

#[path = "src/relpath.rs"]
mod relpath;
use relpath::normalize;

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("set by Cargo"));
    let root = manifest
        .parent()
        .expect("harness/ lives in the repository")
        .to_path_buf();
    let scenarios = root.join("scenarios");
    // A folder here is watched with everything in it.
    println!("cargo:rerun-if-changed={}", scenarios.display());

    let mut files: BTreeSet<String> = BTreeSet::new();
    for toml in files_in(&scenarios, "toml") {
        let rel = format!("scenarios/{}", file_name(&toml));
        let text = std::fs::read_to_string(&toml)
            .unwrap_or_else(|e| panic!("failed to read {}: {e}", toml.display()));
        for value in fixture_values(&text) {
            let Some(target) = normalize(&format!("scenarios/{value}")) else {
                println!(
                    "cargo:warning={rel}: fixture {value:?} leaves the repository; not embedded"
                );
                continue;
            };
            let path = root.join(&target);
            println!("cargo:rerun-if-changed={}", path.display());
            if path.is_dir() {
                for f in files_in(&path, "") {
                    files.insert(format!("{target}/{}", file_name(&f)));
                }
            } else if path.is_file() {
                files.insert(target);
            } else {
                // `cpkit scenario lint` reports it; the build goes on.
                println!("cargo:warning={rel}: fixture {value:?} does not exist");
            }
        }
        files.insert(rel);
    }
    for f in files_in(&scenarios.join("sut"), "toml") {
        files.insert(format!("scenarios/sut/{}", file_name(&f)));
    }
    let mut stack = vec![scenarios.join("fixtures")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(&root) {
                files.insert(slashes(rel));
            }
        }
    }

    let mut out = String::from(
        "/// Every embedded file: its path relative to the repository (`/`-separated) and its bytes,\n\
         /// sorted by path. Written by harness/build.rs.\n\
         static BUILTIN: &[(&str, &[u8])] = &[\n",
    );
    for rel in &files {
        let abs = root.join(rel);
        let _ = writeln!(
            out,
            "    ({rel:?}, include_bytes!({:?})),",
            abs.to_str().expect("a UTF-8 path")
        );
    }
    out.push_str("];\n");
    let dest = PathBuf::from(std::env::var_os("OUT_DIR").expect("set by Cargo")).join("builtin.rs");
    std::fs::write(&dest, out)
        .unwrap_or_else(|e| panic!("failed to write {}: {e}", dest.display()));
}

/// The files directly in a folder (with the extension, when one is given), sorted.
fn files_in(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| ext.is_empty() || p.extension().is_some_and(|x| x == ext))
        .collect();
    v.sort();
    v
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn slashes(p: &Path) -> String {
    p.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// The string values of `fixture = "…"` and `attach = ["…", …]` keys (an array may span lines).
fn fixture_values(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    let mut in_array = false;
    for line in text.lines() {
        let t = line.trim_start();
        let rest = if in_array {
            t
        } else {
            let Some(after) = ["fixture", "attach"].iter().find_map(|k| {
                t.strip_prefix(k)
                    .map(str::trim_start)
                    .and_then(|r| r.strip_prefix('='))
            }) else {
                continue;
            };
            let after = after.trim_start();
            in_array = after.starts_with('[');
            after
        };
        // Quoted values up to a comment.
        let mut chars = rest.chars();
        let mut current: Option<String> = None;
        while let Some(c) = chars.next() {
            match (&mut current, c) {
                (None, '"') => current = Some(String::new()),
                (None, '#') => break,
                (None, ']') => in_array = false,
                (Some(v), '"') => {
                    values.push(std::mem::take(v));
                    current = None;
                }
                (Some(v), '\\') => {
                    if let Some(n) = chars.next() {
                        v.push(n);
                    }
                }
                (Some(v), c) => v.push(c),
                _ => {}
            }
        }
    }
    values
}
