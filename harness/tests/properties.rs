//! Property tests of the harness's parsers and round trips.
//!
//! * the scenario parser and lint never panic, on arbitrary text and on scenario-like noise, and
//!   every error they give points inside the file;
//! * a care manager's plan with any subset of its 通所介護 days travels from a reference persona to a
//!   provider persona of a two-service office (V4.1 → V4.1, and V3 → V4.1 answering in V3): the
//!   provider holds exactly its own records of the addressed type, and its 実績 carry all of them.

use std::path::Path;

use careplan_harness::scenario::{Scenario, lint};
use careplan_harness::software::persona::persona;
use careplan_harness::software::state::{CareState, DocQuery, Edit, records_of_type};
use careplan_harness::software::{ExportRequest, StoredFile};
use careplan_spec::{FileKind, FileName, OfficeNumber, Serial, ServiceTypeCode, SpecVersion};
use proptest::prelude::*;

fn golden(case: &str) -> Vec<StoredFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../golden/valid")
        .join(case);
    let mut out: Vec<StoredFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| FileName::parse(&p.file_name().unwrap().to_string_lossy()).is_ok())
        .map(|p| StoredFile {
            name: p.file_name().unwrap().to_string_lossy().into_owned(),
            bytes: std::fs::read(&p).unwrap(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

const SCENARIO_WORDS: &[&str] = &[
    "[scenario]",
    "[[office]]",
    "[[step]]",
    "[exchange]",
    "name = \"x\"",
    "id = \"cm\"",
    "number = \"0310000100\"",
    "number = 310000100",
    "service_types = [\"43\"]",
    "software = \"sut\"",
    "software = \"reference-v4\"",
    "action = \"export\"",
    "action = \"send\"",
    "action = \"assert\"",
    "office = \"cm\"",
    "to = \"cm\"",
    "unit = \"kyotaku-riyohyo\"",
    "month = \"2025-13\"",
    "holds = { kind = \"UPPLAN\", records = 1 }",
    "expect.error = \"x\"",
    "days = -5",
    "=",
    "\"",
    "[",
    "]",
    "{",
    "}",
    "\n",
    "# c",
    "fixture = \"../nowhere\"",
    "licence_until = \"+xd\"",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_scenario_parser_never_panics_on_text(text in ".{0,400}") {
        check_scenario_text(&text)?;
    }

    #[test]
    fn the_scenario_parser_never_panics_on_scenario_noise(
        words in prop::collection::vec(prop::sample::select(SCENARIO_WORDS), 0..60)
    ) {
        check_scenario_text(&words.join("\n"))?;
    }
}

fn check_scenario_text(text: &str) -> Result<(), TestCaseError> {
    let lines = text.lines().count().max(1);
    match Scenario::parse(Path::new("p.toml"), text.to_owned()) {
        Ok(s) => {
            for e in lint(&s) {
                prop_assert!(e.line >= 1 && e.line <= lines + 1, "{e}");
            }
        }
        Err(e) => prop_assert!(e.line <= lines + 1, "{e}"),
    }
    Ok(())
}

fn office(n: &str) -> OfficeNumber {
    OfficeNumber::parse(n).unwrap()
}

/// The plan travels from a care manager persona to a provider persona; returns (records the
/// provider holds of its type, records of that type sent, round-trip records in its 実績).
fn travel(
    case: &str,
    cm_persona: &str,
    provider_persona: &str,
    provider_writes: SpecVersion,
    drop: &[bool],
) -> (usize, usize, usize) {
    let cm_p = persona(cm_persona).unwrap().clone();
    let mut pr_p = persona(provider_persona).unwrap().clone();
    pr_p.writes = provider_writes;
    let mut cm = CareState::new(
        &office("0310000100"),
        &ServiceTypeCode::parse("43").unwrap(),
    );
    cm.load(&golden(case), &cm_p).unwrap();
    // Drop a subset of the provider's 通所介護 rows: every day of the plan, one flag each.
    let user = "131016/1234500001";
    let days: Vec<String> = cm
        .find(&DocQuery {
            kind: Some(FileKind::UpPlan),
            user: Some(user.to_owned()),
            ..DocQuery::default()
        })
        .iter()
        .flat_map(|d| &d.records)
        .filter(|r| r.get("サービスコード").is_some_and(|c| c == "151325"))
        .filter_map(|r| r.get("サービス利用日").cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for (day, gone) in days.iter().zip(drop) {
        if *gone {
            let edit = Edit {
                kind: FileKind::UpPlan,
                user: Some(user.to_owned()),
                matching: [
                    ("サービスコード".to_owned(), "151325".to_owned()),
                    ("サービス利用日".to_owned(), day.clone()),
                ]
                .into(),
                set: Default::default(),
                remove: true,
            };
            cm.edit(&edit).unwrap();
        }
    }
    let request = ExportRequest {
        unit: "kyotaku-riyohyo".to_owned(),
        to: office("0320000201"),
        to_type: ServiceTypeCode::parse("15"),
        as_type: ServiceTypeCode::parse("43"),
        month: None,
        serial: Serial::parse("20250426090000").unwrap(),
        today: "20250426".to_owned(),
    };
    let files = cm.export(&request, &cm_p).unwrap();
    let sent_rows = files
        .iter()
        .filter(|f| f.name.starts_with("UPPLAN"))
        .map(|f| {
            let t = careplan_spec::table::Table::read(&f.name, &f.bytes).unwrap();
            t.records
                .iter()
                .filter(|r| {
                    t.value(r, "サービス事業者コード") == Some("0320000201")
                        && t.value(r, "サービスコード")
                            .is_some_and(|c| c.starts_with("15"))
                })
                .count()
        })
        .sum::<usize>();
    let mut provider = CareState::new(
        &office("0320000201"),
        &ServiceTypeCode::parse("15").unwrap(),
    );
    let report = provider.import(&files, &pr_p);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    let docs = provider.find(&DocQuery {
        kind: Some(FileKind::UpPlan),
        ..DocQuery::default()
    });
    let held = records_of_type(&docs, Some("15")).len();
    provider.record_actuals(None, &pr_p).unwrap();
    let actuals = provider
        .export(
            &ExportRequest {
                unit: "actuals".to_owned(),
                to: office("0310000100"),
                to_type: ServiceTypeCode::parse("43"),
                as_type: ServiceTypeCode::parse("15"),
                month: None,
                serial: Serial::parse("20250601090000").unwrap(),
                today: "20250601".to_owned(),
            },
            &pr_p,
        )
        .unwrap();
    let carried = actuals
        .iter()
        .map(|f| {
            let t = careplan_spec::table::Table::read(&f.name, &f.bytes).unwrap();
            t.records
                .iter()
                .filter(|r| {
                    t.value(r, "サービスコード")
                        .is_some_and(|c| c.starts_with("15"))
                })
                .count()
        })
        .sum::<usize>();
    (held, sent_rows, carried)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn any_plan_travels_v41_to_v41(drop in prop::collection::vec(any::<bool>(), 12)) {
        let (held, sent, carried) = travel("v4.1/riyohyo-rich", "reference-v4", "reference-v4", SpecVersion::V41, &drop);
        prop_assert_eq!(held, sent);
        prop_assert_eq!(carried, sent);
        prop_assert!(sent > 0 || drop.iter().all(|d| *d));
    }

    #[test]
    fn any_plan_travels_v3_to_v41(drop in prop::collection::vec(any::<bool>(), 12)) {
        let (held, sent, carried) = travel("v3/riyohyo-rich", "reference-v3", "reference-v4", SpecVersion::V3, &drop);
        prop_assert_eq!(held, sent);
        prop_assert_eq!(carried, sent);
    }
}
