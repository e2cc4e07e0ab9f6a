//! Property tests of the rules on what fields mean (issue #10): for any value, the rule fires
//! exactly when the standard's condition is broken.

use careplan_spec::layout;
use careplan_spec::tokenizer::{tokenize_all, write_all};
use careplan_spec::validate::{Options, validate_bytes};
use careplan_spec::{FileKind, RuleId, SpecVersion};
use proptest::prelude::*;

const PLAN: &str = "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV";
/// The golden riyohyo-minimal 6表 record (service month 202506, a 30-day month).
const PLAN_RECORD: &[u8] = b"202407,131016,1234500004,20250524,202506,0310000100,\"\x8d\xb2\x93\xa1\x81\x40\x89\xd4\x8e\x71\",,,20250602,,0930,1645,1,151215,,,,,0320000202,,,0,,\r\n";

const SIKYU: &str = "UPSIKYU_202506_0310000100_43_0320000202_15_20250527090000.CSV";
const SIKYU_RECORDS: &[u8] = b"202407,131016,1234500004,20250524,202506,,0320000202,,151215,,,,658,,,1,,,,,,,,,,,,,,,,,0,,,,\r\n202407,131016,1234500004,20250524,202506,,9999999999,,999999,,,,0,,,0,,,,,,,,,,,,,,,,,0,,,,\r\n";

/// `bytes` with field `name` of record `rec` replaced by `value` (written bare).
fn with_field(kind: FileKind, bytes: &[u8], rec: usize, name: &str, value: &str) -> Vec<u8> {
    let view = layout::view(kind, SpecVersion::V41).unwrap();
    let col = view.col(name).unwrap();
    let (mut records, _) = tokenize_all(bytes);
    records[rec][col] = (value.as_bytes().to_vec(), false);
    write_all(&records)
}

fn rules_of(name: &str, bytes: &[u8]) -> Vec<RuleId> {
    validate_bytes(name, name, bytes, Options::default())
        .findings
        .iter()
        .map(|f| f.rule)
        .collect()
}

fn date() -> impl Strategy<Value = (u16, u8, u8)> {
    (2019u16..2031, 1u8..=12, 1u8..=28)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn a_service_day_outside_the_month_is_dat001_and_only_then(
        (y, m, d) in date()
    ) {
        let value = format!("{y:04}{m:02}{d:02}");
        let bytes = with_field(FileKind::UpPlan, PLAN_RECORD, 0, "サービス利用日", &value);
        let rules = rules_of(PLAN, &bytes);
        let inside = y == 2025 && m == 6;
        prop_assert_eq!(rules.contains(&RuleId::DatOutsideMonth), !inside, "{} {:?}", value, rules);
    }

    #[test]
    fn a_mask_day_past_the_month_is_dat002_and_an_empty_mask_dat003(
        mask in prop::collection::vec(prop::bool::ANY, 31)
    ) {
        let text: String = mask.iter().map(|&b| if b { '1' } else { '0' }).collect();
        let bytes = with_field(FileKind::UpPlan, PLAN_RECORD, 0, "日割対象日", &text);
        let rules = rules_of(PLAN, &bytes);
        // June has 30 days: the 31st character is a day June lacks.
        prop_assert_eq!(rules.contains(&RuleId::DatMaskDayMissing), mask[30], "{}", text);
        prop_assert_eq!(
            rules.contains(&RuleId::DatMaskEmpty),
            !mask.contains(&true),
            "{}", text
        );
    }

    #[test]
    fn a_row_amount_is_units_times_count(units in 0u32..5000, times in 1u32..40, off in -3i64..3) {
        let bytes = with_field(FileKind::UpSikyu, SIKYU_RECORDS, 0, "単位数", &units.to_string());
        let bytes = with_field(FileKind::UpSikyu, &bytes, 0, "回数／日数", &times.to_string());
        let amount = i64::from(units) * i64::from(times) + off;
        prop_assume!(amount >= 0);
        let bytes = with_field(FileKind::UpSikyu, &bytes, 0, "サービス単位金額", &amount.to_string());
        let rules = rules_of(SIKYU, &bytes);
        prop_assert_eq!(rules.contains(&RuleId::TotRowAmount), off != 0, "{:?}", rules);
    }

    #[test]
    fn billing_follows_round_down(within in 1u32..20000, price in 1000u32..1200, rate in 70u32..=100) {
        // 費用総額 = ⌊units × price⌋, 請求額 = ⌊費用総額 × rate / 100⌋, 負担 = the rest.
        let cost = u64::from(within) * u64::from(price) / 100;
        let claim = cost * u64::from(rate) / 100;
        let mut bytes = SIKYU_RECORDS.to_vec();
        for (name, value) in [
            ("区分支給限度基準内単位数", within.to_string()),
            ("単位数単価", format!("{}.{:02}", price / 100, price % 100)),
            ("費用総額保険／事業対象分", cost.to_string()),
            ("給付率", rate.to_string()),
            ("保険／事業費請求額", claim.to_string()),
            ("利用者負担保険／事業対象分", (cost - claim).to_string()),
        ] {
            bytes = with_field(FileKind::UpSikyu, &bytes, 0, name, &value);
        }
        let rules = rules_of(SIKYU, &bytes);
        prop_assert!(!rules.contains(&RuleId::TotBilling), "{:?}", rules);
        // One yen more claimed is found.
        let off = with_field(FileKind::UpSikyu, &bytes, 0, "保険／事業費請求額", &(claim + 1).to_string());
        prop_assert!(rules_of(SIKYU, &off).contains(&RuleId::TotBilling));
    }
}
