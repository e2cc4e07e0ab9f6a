//! Arbitrary bytes as a file of every kind: the validator and the unit checks never panic, and
//! every finding points inside the input.
#![no_main]

use careplan_spec::check_units;
use careplan_spec::validate::{Options, validate_bytes};
use libfuzzer_sys::fuzz_target;

/// One name per shape and kind family, and names that follow no rule.
const NAMES: &[&str] = &[
    "UPPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV",
    "UPJSK_202505_0320000201_11_0310000100_43_20250603120000.CSV",
    "UPSIKYU_202506_0310000100_43_0320000202_15_20250527090000.CSV",
    "UPHOSOKU_202506_0310000100_43_0320000202_15_20250527090000.CSV",
    "UPHOSOKU_000000_0310000100_43_0320000202_15_20250527090000.CSV",
    "UP1KYO_0310000100_43_0320000201_11_20250425120000.CSV",
    "UP2KYO_0310000100_43_0320000201_11_20250425120000.CSV",
    "UP3KYO_0310000100_43_0320000201_11_20250425120000.CSV",
    "UPKIHON_0330000400_46_0320000201_A1_20250425120000.CSV",
    "UPKIHON_SUB1_0330000400_46_0320000201_A1_20250425120000.CSV",
    "UPKIHON_SUB2_0330000400_46_0320000201_A1_20250425120000.CSV",
    "UPKIHON_IMAGE_0330000400_46_0320000201_A1_20250425120000_0001.jpg",
    "UPYOBO_0330000400_46_0320000201_A1_20250425120000.CSV",
    "UPYOBO_SUB_0330000400_46_0320000201_A1_20250425120000.CSV",
    "DLTPLAN_202506_0310000100_43_0320000202_15_20250527090000.CSV",
    "DLTJSK_202505_0320000201_11_0310000100_43_20250603120000.CSV",
    "UPPLAN_202412_0310000100_0320000201_20241126100100.CSV",
    "UPPLAN_202506_0310000100_430_0320000202_150_20250527100000.CSV",
    "plan.csv",
    "UPPLAN_2025",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, content)) = data.split_first() else {
        return;
    };
    let name = NAMES[usize::from(pick) % NAMES.len()];
    let report = validate_bytes(name, name, content, Options::default());
    let lines = content
        .iter()
        .filter(|&&b| b == b'\n' || b == b'\r')
        .count() as u64
        + 2;
    for f in &report.findings {
        if let Some(l) = f.location {
            assert!(
                u64::from(l.line) <= lines,
                "{} at line {}",
                f.rule.id(),
                l.line
            );
            assert!(
                l.offset <= content.len() as u64,
                "{} at offset {}",
                f.rule.id(),
                l.offset
            );
        }
        assert!(f.value.as_ref().is_none_or(|v| v.len() <= 1024));
        let _ = (f.message_ja(), f.message_en(), f.public_reference());
    }
    let _ = check_units(&[report], Options::default());
});
