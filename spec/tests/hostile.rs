//! Hostile input against the validator: every column of every golden file replaced by values that
//! reach a field's own code path (full-width digits, kana, a lone lead byte, runs of invalid bytes,
//! quotes, line breaks, huge values), plus the regressions of issue #9 (panics on non-ASCII service
//! codes, quadratic decoding of invalid bytes, unbounded findings, a false ENC001 at the field cap).
//!
//! The invariant: validation never panics, every finding points inside the file, and what a report
//! holds is bounded whatever the input.

use std::path::{Path, PathBuf};

use careplan_spec::tokenizer::{MAX_FIELD_BYTES, tokenize_all, write_all};
use careplan_spec::validate::{Options, validate_bytes};
use careplan_spec::{FileReport, RuleId};

/// Every `.CSV` of `golden/valid`, as (bare name, bytes).
fn golden_files() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../golden/valid");
    let mut out = Vec::new();
    let mut stack: Vec<PathBuf> = vec![root];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        for p in entries {
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv")) {
                let name = p.file_name().unwrap().to_string_lossy().into_owned();
                out.push((name, std::fs::read(&p).unwrap()));
            }
        }
    }
    assert!(out.len() > 40, "golden corpus not found");
    out
}

/// The values a fuzzer should put in every field (as raw bytes, written unquoted and quoted).
fn hostile_values() -> Vec<Vec<u8>> {
    let sjis = |s: &str| encoding_rs::SHIFT_JIS.encode(s).0.into_owned();
    vec![
        sjis("１２３４５６"),
        sjis("あ"),
        sjis("あい"),
        sjis("ア１"),
        b"\x82".to_vec(),
        b"1\x82".to_vec(),
        vec![0xFF; 300],
        b"1\"2".to_vec(),
        b"1\r2".to_vec(),
        b"1\n2".to_vec(),
        vec![b'9'; 70_000],
        b"-".to_vec(),
        b"".to_vec(),
        sjis("〜"),
        b"\xEF\xBB\xBF".to_vec(),
    ]
}

fn check_invariants(name: &str, bytes: &[u8], report: &FileReport) {
    let lines = bytes.iter().filter(|&&b| b == b'\n').count() as u32 + 2;
    for f in &report.findings {
        if let Some(l) = f.location {
            assert!(
                l.line >= 1 && l.line <= lines,
                "{name}: {} points at line {} of {lines}",
                f.rule.id(),
                l.line
            );
            assert!(
                l.offset <= bytes.len() as u64,
                "{name}: {} offset {} past the end",
                f.rule.id(),
                l.offset
            );
        }
        // What a finding quotes is capped (issue #9.3).
        for (_, v) in &f.args {
            assert!(
                v.len() <= 4096,
                "{name}: {} quotes {} bytes",
                f.rule.id(),
                v.len()
            );
        }
        let _ = (f.message_ja(), f.message_en());
    }
}

#[test]
fn every_column_of_every_golden_file_survives_every_hostile_value() {
    let values = hostile_values();
    let mut tried = 0;
    for (name, bytes) in golden_files() {
        let (records, _) = tokenize_all(&bytes);
        let Some(first) = records.first() else {
            continue;
        };
        for col in 0..first.len() {
            for v in &values {
                for quoted in [false, true] {
                    let mut recs = records.clone();
                    recs[0][col] = (v.clone(), quoted);
                    let mutated = write_all(&recs);
                    let report = validate_bytes(&name, &name, &mutated, Options::default());
                    check_invariants(&name, &mutated, &report);
                    tried += 1;
                }
            }
        }
    }
    assert!(tried > 10_000, "only {tried} mutations");
}

fn upplan_with_service_code(code: &[u8]) -> Vec<u8> {
    let mut out = b"202407,131016,1234500004,20250524,202506,0310000100,\"\x8d\xb2\x93\xa1\",,,20250602,,0930,1645,1,".to_vec();
    out.extend_from_slice(code);
    out.extend_from_slice(b",,,,,0320000202,,,0,,\r\n");
    out
}

#[test]
fn a_non_ascii_service_code_is_a_format_finding_not_a_panic() {
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    // １５ (full-width), カナ, a lone lead byte: each is six bytes or fewer, so byte slicing at 2
    // fell inside a character.
    for code in [
        "１５１２".as_bytes().to_vec(),
        encoding_rs::SHIFT_JIS.encode("１５１２").0.into_owned(),
        encoding_rs::SHIFT_JIS.encode("アイウ").0.into_owned(),
        b"\x82\x4f1215".to_vec(),
        b"\x821215".to_vec(),
    ] {
        let bytes = upplan_with_service_code(&code);
        let report = validate_bytes(name, name, &bytes, Options::default());
        assert!(report.has_errors(), "{code:?}");
    }
    let sikyu = "UPSIKYU_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    let rec = |code: &str| {
        let mut r = b"202407,131016,1234500004,20250524,202506,,0320000202,,".to_vec();
        r.extend_from_slice(&encoding_rs::SHIFT_JIS.encode(code).0);
        r.extend_from_slice(b",,,,658,,,1,,,,,,,,,,,,,,,,,0,,,,\r\n");
        r
    };
    for code in ["１５ＡＡ", "ＡＡＡＡ", "あいう", "15ＡＡ"] {
        let report = validate_bytes(sikyu, sikyu, &rec(code), Options::default());
        assert!(report.has_errors(), "{code}");
    }
}

/// A UPPLAN record whose サービス事業所名 (No.21, free text) holds `field`.
fn upplan_with_office_name(field: &[u8], quoted: bool) -> Vec<u8> {
    let mut out = b"202407,131016,1234500004,20250524,202506,0310000100,\"x\",,,20250602,,0930,1645,1,151215,,,,,0320000202,".to_vec();
    if quoted {
        out.push(b'"');
    }
    out.extend_from_slice(field);
    if quoted {
        out.push(b'"');
    }
    out.extend_from_slice(b",,0,,\r\n");
    out
}

#[test]
fn a_mebibyte_of_invalid_bytes_is_reported_within_the_caps() {
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    // Quadratic before the fix: every invalid byte located from the start of its field.
    let bytes = upplan_with_office_name(&vec![0xFF; MAX_FIELD_BYTES - 16], true);
    let report = validate_bytes(name, name, &bytes, Options::default());
    let enc: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.rule == RuleId::EncInvalidByte)
        .collect();
    assert_eq!(enc.len(), 50, "capped at the per-rule limit");
    assert_eq!(
        report.suppressed.get(&RuleId::EncInvalidByte).copied(),
        Some((MAX_FIELD_BYTES - 16 - 50) as u32),
        "the rest are counted"
    );
    // Columns advance one per byte.
    assert_eq!(
        enc[1].location.unwrap().column,
        enc[0].location.unwrap().column + 1
    );
}

#[test]
fn findings_quote_a_capped_value_with_its_length_and_a_hash() {
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    let long = vec![b'a'; 200_000];
    // Unquoted free text: FLD005 quotes the value.
    let report = validate_bytes(
        name,
        name,
        &upplan_with_office_name(&long, false),
        Options::default(),
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.rule == RuleId::FldTextUnquoted)
        .expect("FLD005");
    let value = f.value.as_deref().unwrap();
    assert!(
        value.len() < 400,
        "value quoted in full ({} bytes)",
        value.len()
    );
    assert!(value.contains("200000"), "length missing: {value}");
    assert!(f.message_ja().len() < 1000 && f.message_en().len() < 1000);
    // The same long value gives the same hash; another value a different one.
    let mut other = long.clone();
    other[150_000] = b'b';
    let report2 = validate_bytes(
        name,
        name,
        &upplan_with_office_name(&other, false),
        Options::default(),
    );
    let g = report2
        .findings
        .iter()
        .find(|f| f.rule == RuleId::FldTextUnquoted)
        .unwrap();
    assert_ne!(f.value, g.value, "the hash tells values apart");
    let report3 = validate_bytes(
        name,
        name,
        &upplan_with_office_name(&long, false),
        Options::default(),
    );
    assert_eq!(
        report3
            .findings
            .iter()
            .find(|f| f.rule == RuleId::FldTextUnquoted)
            .unwrap()
            .value,
        f.value
    );
}

#[test]
fn a_field_cut_at_the_cap_inside_a_double_byte_character_is_not_an_invalid_byte() {
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    // "あ" = 0x82 0xA0; an odd prefix byte puts a lead byte exactly at the cap.
    for prefix in [0usize, 1] {
        let mut field = vec![b'a'; prefix];
        while field.len() < MAX_FIELD_BYTES + 10 {
            field.extend_from_slice(b"\x82\xa0");
        }
        let report = validate_bytes(
            name,
            name,
            &upplan_with_office_name(&field, true),
            Options::default(),
        );
        let rules: Vec<_> = report.findings.iter().map(|f| f.rule.id()).collect();
        assert!(rules.contains(&"CSV009"), "{rules:?}");
        assert!(
            !rules.contains(&"ENC001"),
            "false ENC001 (prefix {prefix}): {rules:?}"
        );
    }
}

#[test]
fn many_records_with_huge_distinct_values_keep_the_report_bounded() {
    // Every record carries a different 60 kB CSVバージョン and key: nothing may keep them all.
    let name = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
    let mut bytes = Vec::new();
    for i in 0..200u32 {
        let big = format!("{i:06}{}", "7".repeat(60_000));
        bytes.extend_from_slice(
            format!("{big},131016,{big},20250524,202506,0310000100,\"x\",,,20250602,,0930,1645,1,151215,,,,,0320000202,,,0,,\r\n")
                .as_bytes(),
        );
    }
    let report = validate_bytes(name, name, &bytes, Options::default());
    let held: usize = report.keys.main.keys().map(String::len).sum::<usize>()
        + report
            .findings
            .iter()
            .map(|f| {
                f.args.iter().map(|(_, v)| v.len()).sum::<usize>()
                    + f.value.as_ref().map_or(0, String::len)
            })
            .sum::<usize>();
    assert!(
        held < 2_000_000,
        "the report holds {held} bytes of a {} byte file",
        bytes.len()
    );
}
