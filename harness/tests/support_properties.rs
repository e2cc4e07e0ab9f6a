//! Property tests of `cpkit anonymize` (through the library): golden send units whose personal
//! cells are filled with arbitrary text — kanji, kana, digits, letters, full-width spaces, quotes,
//! commas, line breaks, 外字 and NEC characters — are anonymised, and
//!
//! * the copy validates like the input: the same rules at the same file, line, column and field
//!   (all rules with `keep_offending`; all but the encoding rules without);
//! * no original personal value survives: every personal cell changed, and no original value of
//!   six kanji or kana or more appears anywhere in the copy.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use careplan_harness::support::anonymize::{self, Key, Options, personal_columns};
use careplan_harness::support::inputs::{Input, validate_files};
use careplan_harness::support::raw;
use careplan_spec::layout;
use careplan_spec::ms932;
use proptest::prelude::*;

const CASES: &[&str] = &[
    "v4.1/riyohyo-rich",
    "v4.1/kyotaku-plan-rich",
    "v4.1/kihon-minimal",
    "v4.1/yobo-rich",
    "v3/riyohyo-rich",
];

fn golden(case: &str) -> Vec<Input> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/valid")
        .join(case);
    let mut names: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e != "toml"))
        .collect();
    names.sort();
    names
        .into_iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            Input {
                path: format!("case/{name}"),
                relative: PathBuf::from(&name),
                name,
                root: 0,
                bytes: std::fs::read(&p).unwrap(),
            }
        })
        .collect()
}

/// Pieces of personal text, as MS932 bytes.
fn piece() -> impl Strategy<Value = Vec<u8>> {
    fn enc(s: &str) -> Vec<u8> {
        ms932::encode(s, false).0
    }
    prop_oneof![
        4 => proptest::sample::select(vec!["山", "田", "花", "子", "佐", "藤", "鈴", "髙"]).prop_map(enc),
        2 => proptest::sample::select(vec!["さ", "く", "ら", "ア", "イ", "ｶ", "ﾀ", "ﾛ"]).prop_map(enc),
        2 => proptest::sample::select(vec!["1", "9", "A", "z", "３", "Ｂ"]).prop_map(enc),
        1 => proptest::sample::select(vec!["\u{3000}", " ", "、", "。", "-", "～", "（"]).prop_map(enc),
        1 => proptest::sample::select(vec!["\"", ",", "\r\n"]).prop_map(|s| s.as_bytes().to_vec()),
        1 => proptest::sample::select(vec![vec![0xF0u8, 0x40], vec![0x87, 0x40], vec![0xFA, 0x40]]),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(piece(), 1..8).prop_map(|v| v.concat())
}

/// The personal text cells (name, kana, address, text) of a file laid out as its name says.
fn text_cells(f: &Input) -> Vec<(usize, usize)> {
    let Ok(name) = careplan_spec::FileName::parse(&f.name) else {
        return Vec::new();
    };
    let Some(view) = layout::view(name.kind, name.shape) else {
        return Vec::new();
    };
    let Some(classes) = personal_columns().columns.get(&view.layout.name) else {
        return Vec::new();
    };
    let cols: Vec<usize> = view
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| {
            classes.get(c.name()).is_some_and(|class| {
                let c = format!("{class:?}");
                matches!(c.as_str(), "Name" | "Kana" | "Address" | "Text")
            })
        })
        .map(|(i, _)| i)
        .collect();
    let split = raw::split(&f.bytes);
    split
        .records
        .iter()
        .enumerate()
        .filter(|(_, r)| r.fields.len() == view.len())
        .flat_map(|(ri, _)| cols.iter().map(move |&c| (ri, c)))
        .collect()
}

/// Rewrites the given cells with new values, quoted (quotes doubled) as free text must be.
fn fill(f: &Input, values: &BTreeMap<(usize, usize), Vec<u8>>) -> Vec<u8> {
    let split = raw::split(&f.bytes);
    let mut out = f.bytes[split.prefix.clone()].to_vec();
    for (ri, r) in split.records.iter().enumerate() {
        let mut at = r.span.start;
        for (fi, field) in r.fields.iter().enumerate() {
            out.extend_from_slice(&f.bytes[at..field.span.start]);
            match values.get(&(ri, fi)) {
                Some(v) => careplan_spec::tokenizer::write_field(&mut out, v, true),
                None => out.extend_from_slice(&f.bytes[field.span.clone()]),
            }
            at = field.span.end;
        }
        out.extend_from_slice(&f.bytes[at..r.span.end]);
    }
    out
}

type Place = (String, String, u32, u32, Option<u16>);

fn findings(files: &[Input], skip_encoding: bool) -> Vec<Place> {
    let v = validate_files(files, careplan_spec::Options::default());
    let mut out: Vec<Place> = v
        .located()
        .into_iter()
        .filter(|(_, f)| !(skip_encoding && f.rule.id().starts_with("ENC")))
        .map(|(_, f)| {
            (
                f.rule.id().to_owned(),
                f.file.clone().unwrap_or_default(),
                f.location.map_or(0, |l| l.line),
                f.location.map_or(0, |l| l.column),
                f.field.as_ref().map(|x| x.no),
            )
        })
        .collect();
    out.sort();
    out
}

fn prepared(case: &str, fills: &[Vec<u8>]) -> (Vec<Input>, Vec<Vec<u8>>) {
    let mut files = golden(case);
    let mut n = 0;
    let mut placed = Vec::new();
    for f in &mut files {
        let cells = text_cells(f);
        let mut values = BTreeMap::new();
        for c in cells {
            if let Some(v) = fills.get(n % fills.len().max(1)) {
                values.insert(c, v.clone());
                placed.push(v.clone());
            }
            n += 1;
        }
        f.bytes = fill(f, &values);
    }
    (files, placed)
}

fn run(files: &[Input], keep: bool) -> Vec<Input> {
    let key = Key::from_secret(b"property test key");
    let out = anonymize::anonymize(
        files,
        &[],
        &key,
        Options {
            keep_offending: keep,
        },
    );
    files
        .iter()
        .zip(out.files)
        .map(|(f, (_, bytes))| Input { bytes, ..f.clone() })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn the_copy_validates_like_the_input(
        case in proptest::sample::select(CASES),
        fills in proptest::collection::vec(value(), 1..6),
        keep in any::<bool>(),
    ) {
        let (input, _) = prepared(case, &fills);
        let output = run(&input, keep);
        for (a, b) in input.iter().zip(&output) {
            prop_assert_eq!(a.bytes.len(), b.bytes.len(), "{}", a.name);
        }
        prop_assert_eq!(findings(&input, !keep), findings(&output, !keep));
    }

    #[test]
    fn no_original_personal_value_survives(
        case in proptest::sample::select(CASES),
        fills in proptest::collection::vec(value(), 1..6),
    ) {
        let (input, placed) = prepared(case, &fills);
        let output = run(&input, false);
        // Every personal value of the input: the golden ones and the ones placed.
        let mut originals: Vec<String> = placed.iter().map(|v| ms932::decode(v).0).collect();
        for f in &input {
            for (ri, fi) in text_cells(f) {
                let split = raw::split(&f.bytes);
                originals.push(ms932::decode(&split.records[ri].fields[fi].bytes(&f.bytes)).0);
            }
        }
        let kept = |c: char| !(c.is_alphanumeric()) || c == '\u{3000}';
        for (a, b) in input.iter().zip(&output) {
            let sa = raw::split(&a.bytes);
            let sb = raw::split(&b.bytes);
            for (ri, fi) in text_cells(a) {
                let va = ms932::decode(&sa.records[ri].fields[fi].bytes(&a.bytes)).0;
                let vb = ms932::decode(&sb.records[ri].fields[fi].bytes(&b.bytes)).0;
                if va.chars().any(|c| !kept(c)) {
                    prop_assert_ne!(&va, &vb, "{} record {} field {}", a.name, ri + 1, fi + 1);
                }
            }
        }
        // Long enough that a pseudonym cannot contain it by chance (pools of 45 or more).
        let all: String = output.iter().map(|f| ms932::decode(&f.bytes).0).collect();
        for o in originals {
            if o.chars().filter(|&c| !kept(c) && !c.is_ascii()).count() >= 6 {
                prop_assert!(!all.contains(&o), "{o:?} survived");
            }
        }
    }
}
