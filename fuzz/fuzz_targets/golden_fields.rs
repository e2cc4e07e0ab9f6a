//! Structure-aware: a golden file with one field of one record replaced (by the fuzzer's bytes,
//! quoted or bare) — the mutations that reach a field's own rule. The validator and the unit checks
//! of the whole case folder never panic.
#![no_main]

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use arbitrary::Arbitrary;
use careplan_spec::check_units;
use careplan_spec::tokenizer::{tokenize_all, write_all};
use careplan_spec::validate::{Options, validate_bytes};
use libfuzzer_sys::fuzz_target;

/// The valid golden cases: (folder, [(file name, bytes)]).
type Case = Vec<(String, Vec<u8>)>;

fn corpus() -> &'static [Case] {
    static CASES: OnceLock<Vec<Case>> = OnceLock::new();
    CASES.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/valid");
        let mut folders: Vec<PathBuf> = Vec::new();
        let mut stack = vec![root];
        while let Some(dir) = stack.pop() {
            let Ok(rd) = std::fs::read_dir(&dir) else {
                continue;
            };
            let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
            entries.sort();
            if entries.iter().any(|p| p.is_file()) {
                folders.push(dir.clone());
            }
            stack.extend(entries.into_iter().filter(|p| p.is_dir()));
        }
        folders
            .into_iter()
            .map(|f| {
                let mut files: Case = std::fs::read_dir(&f)
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|p| p.is_file())
                    .filter_map(|p| {
                        Some((
                            p.file_name()?.to_string_lossy().into_owned(),
                            std::fs::read(&p).ok()?,
                        ))
                    })
                    .collect();
                files.sort();
                files
            })
            .filter(|c| !c.is_empty())
            .collect()
    })
}

#[derive(Debug, Arbitrary)]
struct Mutation {
    case: u16,
    file: u8,
    record: u16,
    column: u8,
    quoted: bool,
    value: Vec<u8>,
}

fuzz_target!(|m: Mutation| {
    let cases = corpus();
    assert!(!cases.is_empty(), "golden/valid not found");
    let case = &cases[usize::from(m.case) % cases.len()];
    let target = usize::from(m.file) % case.len();
    let mut reports = Vec::new();
    for (i, (name, bytes)) in case.iter().enumerate() {
        let bytes = if i == target && name.to_ascii_uppercase().ends_with(".CSV") {
            let (mut records, _) = tokenize_all(bytes);
            if !records.is_empty() {
                let r = usize::from(m.record) % records.len();
                let c = usize::from(m.column) % records[r].len().max(1);
                if let Some(field) = records[r].get_mut(c) {
                    *field = (m.value.clone(), m.quoted);
                }
            }
            write_all(&records)
        } else {
            bytes.clone()
        };
        reports.push(validate_bytes(name, name, &bytes, Options::default()));
    }
    let _ = check_units(&reports, Options::default());
});
