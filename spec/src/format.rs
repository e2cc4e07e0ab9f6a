//! Format checks of single field values against the layout's 書式 ([`Format`]): pure functions of
//! one value, used by the validator's field rules and by identification from content.

use crate::codes::{self, is_summary_code};
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

fn is_service_code(v: &str) -> bool {
    v.len() == 6
        && v.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
}

/// True when `value` has the shape of `picture`: `9` stands for one ASCII digit, every other
/// character for itself (`99.99` → `11.40`).
pub fn fits_picture(picture: &str, value: &str) -> bool {
    value.len() == picture.len()
        && picture.bytes().zip(value.bytes()).all(|(p, v)| {
            if p == b'9' {
                v.is_ascii_digit()
            } else {
                p == v
            }
        })
}

/// True when [`check`] passes every value of `len` ASCII digits, whichever the digits, for
/// `format` with `min` and `max`: a field of digits then needs no format check (the field rules'
/// fast path; a test holds it to [`check`]).
pub fn passes_any_digits(format: &Format, len: usize, min: Option<i64>, max: Option<i64>) -> bool {
    len > 0
        && match format {
            Format::CsvVersion | Format::Insurer | Format::ServiceCode => len == 6,
            Format::ServiceCodeOrTotal => len == 6,
            Format::Insured | Format::Office => len == 10,
            Format::ServiceType => len == 2,
            // A range is checked only where both bounds are given.
            Format::Integer => min.is_none() || max.is_none(),
            Format::Picture(picture) => picture.len() == len && picture.bytes().all(|b| b == b'9'),
            Format::EquipmentCode | Format::Text | Format::Phone | Format::Any => true,
            Format::Yyyymm
            | Format::YyyymmOrZero
            | Format::Yyyymmdd
            | Format::YyyymmddOrZero
            | Format::Hhmm
            | Format::HhmmOr9999
            | Format::HhmmOr2400
            | Format::Code(_)
            | Format::DayMask
            | Format::Postal
            | Format::Unused
            | Format::ImageName => false,
        }
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
        Format::HhmmOr2400 => {
            if value == "2400" || is_valid_time(value) {
                Ok
            } else {
                bad("HHMM (0000-2400)")
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
        Format::Picture(picture) => {
            if fits_picture(picture, value) {
                Ok
            } else {
                bad(&format!(
                    "{picture} ({} digits where 9 stands)",
                    picture.matches('9').count()
                ))
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
            // D-TAIS: ASCII letters, digits and hyphens, or the full-width minus of the layout's
            // own example `00001－000010` (L4 L428).
            if value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '－')
            {
                Ok
            } else {
                bad("letters, digits and '-' (e.g. 00001-000010 or 00001－000010)")
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
    fn formats_that_pass_any_digits_pass_every_digit_string() {
        let formats = [
            Format::CsvVersion,
            Format::Yyyymm,
            Format::YyyymmOrZero,
            Format::Yyyymmdd,
            Format::YyyymmddOrZero,
            Format::Hhmm,
            Format::HhmmOr9999,
            Format::HhmmOr2400,
            Format::Integer,
            Format::Picture("99.99".into()),
            Format::Picture("9999".into()),
            Format::Insurer,
            Format::Insured,
            Format::Office,
            Format::ServiceType,
            Format::ServiceCode,
            Format::ServiceCodeOrTotal,
            Format::Code("over_30_days".into()),
            Format::Text,
            Format::DayMask,
            Format::EquipmentCode,
            Format::Postal,
            Format::Phone,
            Format::Unused,
            Format::ImageName,
            Format::Any,
        ];
        let bounds = [
            (None, None),
            (Some(0), None),
            (None, Some(9)),
            (Some(1), Some(99)),
        ];
        for format in &formats {
            for (min, max) in bounds {
                for len in 0..40 {
                    if !passes_any_digits(format, len, min, max) {
                        continue;
                    }
                    for seed in 0..200u64 {
                        let value: String = (0..len)
                            .map(|i| {
                                let x = (seed * 40 + i as u64)
                                    .wrapping_mul(6364136223846793005)
                                    .wrapping_add(1442695040888963407);
                                char::from(b'0' + ((x >> 33) % 10) as u8)
                            })
                            .collect();
                        for v in [value, "0".repeat(len), "9".repeat(len)] {
                            assert_eq!(
                                check(format, &v, min, max),
                                FieldCheck::Ok,
                                "{format:?} {v}"
                            );
                        }
                    }
                }
            }
        }
    }

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
        let price = Format::Picture("99.99".into());
        assert_eq!(check(&price, "11.40", None, None), FieldCheck::Ok);
        assert_eq!(check(&price, "10.00", None, None), FieldCheck::Ok);
        for bad in ["11.4", "11", "1140", "011.40", "11,40", "１１.４０"] {
            assert!(
                matches!(check(&price, bad, None, None), FieldCheck::BadFormat(_)),
                "{bad}"
            );
        }
        let day = Format::HhmmOr2400;
        assert_eq!(check(&day, "2400", None, None), FieldCheck::Ok);
        assert!(matches!(
            check(&day, "2401", None, None),
            FieldCheck::BadFormat(_)
        ));
        assert!(matches!(
            check(&Format::Hhmm, "2400", None, None),
            FieldCheck::BadFormat(_)
        ));
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
        // The layout's own example (L4 L428) is accepted; other full-width text is not.
        assert_eq!(
            check(&Format::EquipmentCode, "00001－000010", None, None),
            FieldCheck::Ok
        );
        assert!(matches!(
            check(&Format::EquipmentCode, "００００１－０００", None, None),
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
}
