//! Format checks of single field values against the layout's 書式 ([`Format`]).

use crate::codes;
use crate::domain::{Month, ServiceTypeCode, is_valid_date, is_valid_time};
use crate::filename::FileName;
use crate::kind::FileKind;
use crate::layout::Format;

/// The outcome of checking one non-empty value.
#[derive(Debug, PartialEq, Eq)]
pub enum FieldCheck {
    Ok,
    /// The value is not of the format; the string says what was expected.
    BadFormat(String),
    /// Not in the code table (the table's summary).
    NotInTable(String),
    /// A negative integer (accepted with a warning).
    Negative,
    /// Outside `min..=max`.
    OutOfRange(i64, i64),
    /// Should be empty.
    NotEmpty,
}

fn all_digits(v: &str) -> bool {
    !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit())
}

/// The summary-row suffixes of 第7表 サービスコード (L4 L590-600).
pub const SUMMARY_SUFFIXES: [&str; 3] = ["AAAA", "EEEE", "ZZZZ"];
/// The grand-total service code of 第7表.
pub const GRAND_TOTAL_CODE: &str = "999999";

/// True for a 7表 summary code: `<type>AAAA`, `<type>EEEE`, `<type>ZZZZ` or `999999`.
pub fn is_summary_code(code: &str) -> bool {
    code == GRAND_TOTAL_CODE
        || (code.len() == 6
            && ServiceTypeCode::of_service_code(code).is_some()
            && code.get(2..).is_some_and(|s| SUMMARY_SUFFIXES.contains(&s)))
}

fn is_service_code(v: &str) -> bool {
    v.len() == 6
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// Checks a non-empty `value` against `format`.
pub fn check(format: &Format, value: &str, min: Option<i64>, max: Option<i64>) -> FieldCheck {
    use FieldCheck::*;
    let bad = |what: &str| BadFormat(what.to_owned());
    match format {
        Format::CsvVersion => {
            if value.len() == 6 && all_digits(value) {
                Ok
            } else {
                bad("YYYYMM")
            }
        }
        Format::Yyyymm => {
            if Month::parse(value).is_some() {
                Ok
            } else {
                bad("YYYYMM")
            }
        }
        Format::YyyymmOrZero => {
            if value == "000000" || Month::parse(value).is_some() {
                Ok
            } else {
                bad("YYYYMM or 000000")
            }
        }
        Format::Yyyymmdd => {
            if is_valid_date(value) {
                Ok
            } else {
                bad("YYYYMMDD (a real date)")
            }
        }
        Format::YyyymmddOrZero => {
            if value == "00000000" || is_valid_date(value) {
                Ok
            } else {
                bad("YYYYMMDD or 00000000")
            }
        }
        Format::Hhmm => {
            if is_valid_time(value) {
                Ok
            } else {
                bad("HHMM")
            }
        }
        Format::HhmmOr9999 => {
            if value == "9999" || is_valid_time(value) {
                Ok
            } else {
                bad("HHMM or 9999")
            }
        }
        Format::Integer => {
            let (negative, digits) = match value.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, value),
            };
            if !all_digits(digits) {
                return bad("an integer");
            }
            if let (Some(lo), Some(hi)) = (min, max) {
                match value.parse::<i64>() {
                    Result::Ok(n) if n < lo || n > hi => return OutOfRange(lo, hi),
                    Result::Ok(_) => {}
                    Err(_) => return OutOfRange(lo, hi),
                }
            }
            if negative { Negative } else { Ok }
        }
        Format::Decimal => {
            let mut parts = value.splitn(2, '.');
            let whole = parts.next().unwrap_or("");
            let ok = all_digits(whole) && parts.next().is_none_or(all_digits);
            if ok {
                Ok
            } else {
                bad("a decimal such as 11.40")
            }
        }
        Format::Insurer => {
            if value.len() == 6 && all_digits(value) {
                Ok
            } else {
                bad("6 digits")
            }
        }
        Format::Insured => {
            let ok = (value.len() == 10 && all_digits(value))
                || (value.len() == 10 && value.starts_with('H') && all_digits(&value[1..]));
            if ok {
                Ok
            } else {
                bad("10 digits, or H + 9 digits (生保単独)")
            }
        }
        Format::Office => {
            if value.len() == 10 && all_digits(value) {
                Ok
            } else {
                bad("a 10-digit office number")
            }
        }
        Format::ServiceType => {
            if ServiceTypeCode::parse(value).is_some() {
                Ok
            } else {
                bad("2 characters [0-9A-Z]")
            }
        }
        Format::ServiceCode => {
            if is_service_code(value) {
                Ok
            } else {
                bad("6 characters: service type (2) + item (4)")
            }
        }
        Format::ServiceCodeOrTotal => {
            if is_service_code(value) || is_summary_code(value) {
                Ok
            } else {
                bad("a service code, <type>AAAA/EEEE/ZZZZ or 999999")
            }
        }
        Format::Code(table) => match codes::table(table) {
            Some(t) if t.contains(value) => Ok,
            Some(t) => NotInTable(t.summary()),
            None => NotInTable(format!("unknown table {table}")),
        },
        Format::DayMask => {
            if value.len() == 31 && value.bytes().all(|b| b == b'0' || b == b'1') {
                Ok
            } else {
                bad("31 characters of 0 and 1")
            }
        }
        Format::EquipmentCode => {
            // D-TAIS: ASCII letters, digits and hyphens; the layout's example uses a full-width minus
            // (erratum 12), real TAIS codes an ASCII hyphen.
            if value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            {
                Ok
            } else {
                bad("ASCII letters, digits and '-' (e.g. 00001-000010)")
            }
        }
        Format::Postal => {
            let b = value.as_bytes();
            let ok =
                b.len() == 8 && b[3] == b'-' && all_digits(&value[..3]) && all_digits(&value[4..]);
            if ok { Ok } else { bad("XXX-XXXX") }
        }
        Format::ImageName => match FileName::parse(value) {
            Result::Ok(n) if n.kind == FileKind::UpKihonImage => Ok,
            _ => bad(
                "UPKIHON_IMAGE_<sender 10>_<type 2>_<receiver 10>_<type 2>_<serial 14>_<NNNN>.jpg",
            ),
        },
        Format::Unused => NotEmpty,
        Format::Text | Format::Phone | Format::Any => Ok,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        assert_eq!(
            check(&Format::Yyyymmdd, "20250431", None, None),
            FieldCheck::BadFormat("YYYYMMDD (a real date)".into())
        );
        assert_eq!(
            check(&Format::YyyymmddOrZero, "00000000", None, None),
            FieldCheck::Ok
        );
        assert_eq!(
            check(&Format::HhmmOr9999, "9999", None, None),
            FieldCheck::Ok
        );
        assert!(matches!(
            check(&Format::Hhmm, "9999", None, None),
            FieldCheck::BadFormat(_)
        ));
        assert_eq!(
            check(&Format::Integer, "-50", None, None),
            FieldCheck::Negative
        );
        assert_eq!(
            check(&Format::Integer, "0", Some(1), Some(99)),
            FieldCheck::OutOfRange(1, 99)
        );
        assert!(matches!(
            check(&Format::Integer, "1.5", None, None),
            FieldCheck::BadFormat(_)
        ));
        assert_eq!(check(&Format::Decimal, "11.40", None, None), FieldCheck::Ok);
        assert_eq!(
            check(&Format::Insured, "H123456789", None, None),
            FieldCheck::Ok
        );
        assert!(matches!(
            check(&Format::Insured, "h123456789", None, None),
            FieldCheck::BadFormat(_)
        ));
        assert_eq!(
            check(&Format::ServiceCodeOrTotal, "11AAAA", None, None),
            FieldCheck::Ok
        );
        assert_eq!(
            check(&Format::ServiceCodeOrTotal, "999999", None, None),
            FieldCheck::Ok
        );
        assert_eq!(
            check(&Format::Postal, "123-4567", None, None),
            FieldCheck::Ok
        );
        assert!(matches!(
            check(&Format::EquipmentCode, "00001－000010", None, None),
            FieldCheck::BadFormat(_)
        ));
        assert!(matches!(
            check(&Format::Code("plan_category".into()), "13", None, None),
            FieldCheck::NotInTable(_)
        ));
        assert_eq!(
            check(&Format::Unused, "1", None, None),
            FieldCheck::NotEmpty
        );
    }

    #[test]
    fn summary_codes() {
        assert!(is_summary_code("11AAAA"));
        assert!(is_summary_code("2AZZZZ"));
        assert!(is_summary_code("999999"));
        assert!(!is_summary_code("111111"));
        assert!(!is_summary_code("11AAAB"));
    }
}
