//! Property tests of the spec core's parsers and round trips.
//!
//! * format → parse is the identity for every kind's file name, in every shape it has;
//! * the tokenizer gives back what was written, whatever the field bytes;
//! * the tokenizer and the validator never panic, on arbitrary bytes and on CSV-like noise;
//! * V3 → V4.1 → V3 is the identity on V3-representable data.

use careplan_spec::convert::{ConvertOptions, InputFile, convert};
use careplan_spec::filename::{FileName, MonthSegment, Party};
use careplan_spec::kind::{FileKind, MonthRule};
use careplan_spec::tokenizer::tokenize_all;
use careplan_spec::validate::{Options, validate_bytes};
use careplan_spec::{Month, OfficeNumber, Serial, ServiceTypeCode, SpecVersion, ms932};
use proptest::prelude::*;

fn office() -> impl Strategy<Value = OfficeNumber> {
    "[0-9]{10}".prop_map(|s| OfficeNumber::parse(&s).unwrap())
}

fn service_type() -> impl Strategy<Value = ServiceTypeCode> {
    "[0-9A-Z]{2}".prop_map(|s| ServiceTypeCode::parse(&s).unwrap())
}

fn month() -> impl Strategy<Value = Month> {
    (2019u16..2031, 1u8..=12).prop_map(|(y, m)| Month::new(y, m).unwrap())
}

fn name() -> impl Strategy<Value = FileName> {
    (
        prop::sample::select(FileKind::ALL.to_vec()),
        prop::sample::select(SpecVersion::ALL.to_vec()),
        month(),
        any::<bool>(),
        (
            office(),
            service_type(),
            "[0-9A-Z]",
            office(),
            service_type(),
            "[0-9A-Z]",
        ),
        "[0-9]{14}",
        "[0-9]{4}",
        any::<bool>(),
    )
        .prop_map(
            |(kind, shape, m, zero, (so, st, s3, ro, rt, r3), serial, branch, lower)| {
                // V4-only kinds have no V3 shape.
                let shape = if kind.exists_in(shape) {
                    shape
                } else {
                    SpecVersion::V41
                };
                let month = match kind.info().month {
                    MonthRule::None => None,
                    MonthRule::Required => Some(MonthSegment::Month(m)),
                    MonthRule::MonthOrZero if zero => Some(MonthSegment::Zero),
                    MonthRule::MonthOrZero => Some(MonthSegment::Month(m)),
                };
                let party = |o: OfficeNumber, t: ServiceTypeCode, third: String| match shape {
                    SpecVersion::V3 => Party {
                        office: o,
                        code: None,
                    },
                    SpecVersion::V40 => Party {
                        office: o,
                        code: Some(format!("{t}{third}")),
                    },
                    SpecVersion::V41 => Party::new(o, Some(t)),
                };
                let mut n = FileName::new(
                    kind,
                    shape,
                    month,
                    party(so, st, s3),
                    party(ro, rt, r3),
                    Serial::parse(&serial).unwrap(),
                    kind.is_image().then_some(branch),
                );
                if lower {
                    n.extension = n.extension.to_ascii_lowercase();
                }
                n
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn names_format_then_parse_to_themselves(n in name()) {
        let text = n.to_string();
        let parsed = FileName::parse(&text);
        prop_assert_eq!(parsed.as_ref(), Ok(&n), "{}", text);
    }

    #[test]
    fn tokenizer_reads_back_what_was_written(
        records in prop::collection::vec(prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 1..6), 1..6)
    ) {
        let mut bytes = Vec::new();
        for r in &records {
            for (i, f) in r.iter().enumerate() {
                if i > 0 { bytes.push(b','); }
                bytes.push(b'"');
                for &b in f {
                    if b == b'"' { bytes.push(b'"'); }
                    bytes.push(b);
                }
                bytes.push(b'"');
            }
            bytes.extend_from_slice(b"\r\n");
        }
        let (got, issues) = tokenize_all(&bytes);
        // A leading UTF-8 BOM in the first field is the one thing read differently.
        prop_assume!(!bytes.starts_with(&[0xEF, 0xBB, 0xBF]));
        prop_assert!(issues.is_empty(), "{:?}", issues);
        let got: Vec<Vec<Vec<u8>>> = got.into_iter().map(|r| r.into_iter().map(|(b, q)| { assert!(q); b }).collect()).collect();
        prop_assert_eq!(got, records);
    }

    #[test]
    fn validator_never_panics_on_arbitrary_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..3000),
        n in name(),
    ) {
        let _ = validate_bytes("p", &n.to_string(), &bytes, Options::default());
        let _ = validate_bytes("p", "random.csv", &bytes, Options::default());
    }

    #[test]
    fn validator_never_panics_on_csv_like_noise(
        parts in prop::collection::vec(prop::sample::select(vec![
            &b","[..], b"\"", b"\r\n", b"\n", b"\r", b"202407", b"202208", b"0", b"1234567890", b"\x82\xa0",
            b"\x87\x40", b"\xf0\x40", b"\xff", b"\x82", b"H12345678", b"9999", b"999999", b"11AAAA", b"171001",
            b"20250431", b"000000", b"00000000", b"\xef\xbb\xbf",
        ]), 0..400),
        n in name(),
    ) {
        let bytes: Vec<u8> = parts.concat();
        let report = validate_bytes("p", &n.to_string(), &bytes, Options::default());
        for f in &report.findings {
            prop_assert!(!f.message_en().contains('{'), "unfilled placeholder in {}: {}", f.rule.id(), f.message_en());
        }
    }
}

/// A V3 実績 record with free values drawn by proptest (22 columns).
fn v3_actual_record() -> impl Strategy<Value = Vec<String>> {
    (
        "[0-9]{6}",
        prop_oneof!["[0-9]{10}", "H[0-9]{9}"],
        1u32..29,
        "[ -!#-~あ-んア-ン山田花子太郎ｱ-ﾝ、・]{0,12}",
        0u32..100000,
        prop::option::of("[01]{31}"),
        "[0-9]{4}",
        "[0-9]{4}",
        "[0-9A-Z]{4}",
        "[ -~あ-んア-ン漢字、。「」\"\\r\\n]{0,20}",
    )
        .prop_map(
            |(
                insurer,
                insured,
                day,
                planner,
                units,
                mask,
                start,
                item_end,
                item,
                provider_name,
            )| {
                let q = |s: &str| {
                    if s.is_empty() {
                        String::new()
                    } else {
                        format!("\"{}\"", s.replace('"', "\"\""))
                    }
                };
                vec![
                    "202208".into(),
                    insurer,
                    insured,
                    "20241125".into(),
                    "202412".into(),
                    "0310000100".into(),
                    q(&planner),
                    units.to_string(),
                    String::new(),
                    format!("202412{day:02}"),
                    mask.unwrap_or_default(),
                    start,
                    item_end,
                    "1".into(),
                    format!("11{item}"),
                    String::new(),
                    "0320000201".into(),
                    q(&provider_name),
                    String::new(),
                    "0".into(),
                    "0320000201".into(),
                    String::new(),
                ]
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn v3_to_v41_to_v3_is_the_identity(records in prop::collection::vec(v3_actual_record(), 1..8)) {
        let text: String = records.iter().map(|r| r.join(",") + "\r\n").collect();
        let (bytes, issues) = ms932::encode(&text, false);
        prop_assume!(issues.is_empty());
        let name = "UPJSK_202412_0320000201_0310000100_20250103090000.CSV";
        let options = |to| ConvertOptions { to, lossy: false, care_manager_type: ServiceTypeCode::parse("43").unwrap(), receiver_type: None };
        let v4 = convert(&[InputFile { name: name.into(), bytes: bytes.clone() }], &options(SpecVersion::V41)).unwrap();
        prop_assert_eq!(v4.files.len(), 1);
        prop_assert_eq!(&v4.files[0].name, "UPJSK_202412_0320000201_11_0310000100_43_20250103090000.CSV");
        let back = convert(&[InputFile { name: v4.files[0].name.clone(), bytes: v4.files[0].bytes.clone() }], &options(SpecVersion::V3)).unwrap();
        prop_assert_eq!(&back.files[0].name, name);
        prop_assert_eq!(&back.files[0].bytes, &bytes);
    }
}
