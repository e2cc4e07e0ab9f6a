//! Small value types of the domain: service months, office numbers, service-type codes and the
//! ファイル連番. Each is a newtype that can only hold a well-formed value ("parse, don't validate").
//! Office numbers are strings everywhere: they have leading zeros (prefectures 01–09).

use std::fmt;

use serde::{Deserialize, Serialize};

/// A service month `YYYYMM` (サービス提供年月 / 対象年月).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Month {
    year: u16,
    month: u8,
}

impl Month {
    /// Builds a month; `None` unless `1 <= month <= 12` and the year has four digits.
    pub fn new(year: u16, month: u8) -> Option<Self> {
        ((1000..=9999).contains(&year) && (1..=12).contains(&month)).then_some(Self { year, month })
    }

    /// Parses exactly six ASCII digits `YYYYMM`.
    #[inline]
    pub fn parse(text: &str) -> Option<Self> {
        let b: &[u8; 6] = text.as_bytes().try_into().ok()?;
        if !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        Self::new(digits(&b[..4]) as u16, digits(&b[4..]) as u8)
    }

    pub fn year(self) -> u16 {
        self.year
    }

    pub fn month(self) -> u8 {
        self.month
    }

    /// Number of days in this month (Gregorian calendar).
    pub fn days(self) -> u8 {
        match self.month {
            4 | 6 | 9 | 11 => 30,
            2 if is_leap_year(self.year) => 29,
            2 => 28,
            _ => 31,
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}{:02}", self.year, self.month)
    }
}

impl TryFrom<String> for Month {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("not a month YYYYMM: {value:?}"))
    }
}

impl From<Month> for String {
    fn from(value: Month) -> Self {
        value.to_string()
    }
}

pub(crate) fn is_leap_year(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

/// True when `text` is a real calendar date `YYYYMMDD`.
pub fn is_valid_date(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 8
        && b.iter().all(u8::is_ascii_digit)
        && Month::new(digits(&b[..4]) as u16, digits(&b[4..6]) as u8).is_some_and(|m| {
            let day = digits(&b[6..]) as u8;
            (1..=m.days()).contains(&day)
        })
}

/// The number written by `b`, ASCII digits only (at most 9, so it fits).
#[inline]
fn digits(b: &[u8]) -> u32 {
    b.iter().fold(0, |n, &d| n * 10 + u32::from(d - b'0'))
}

/// True when `text` is a time of day `HHMM` (0000–2359).
pub fn is_valid_time(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 4 && b.iter().all(u8::is_ascii_digit) && digits(&b[..2]) < 24 && digits(&b[2..]) < 60
}

/// A 10-digit office number (事業所番号). Kept as text.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct OfficeNumber(String);

impl OfficeNumber {
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 10 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfficeNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for OfficeNumber {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("not a 10-digit office number: {value:?}"))
    }
}

impl From<OfficeNumber> for String {
    fn from(value: OfficeNumber) -> Self {
        value.0
    }
}

/// A 2-character サービス種類コード such as `11`, `2A` or `A1` (`[0-9A-Z]{2}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceTypeCode([u8; 2]);

impl ServiceTypeCode {
    pub fn parse(text: &str) -> Option<Self> {
        let b = text.as_bytes();
        let ok = |c: u8| c.is_ascii_digit() || c.is_ascii_uppercase();
        (b.len() == 2 && ok(b[0]) && ok(b[1])).then(|| Self([b[0], b[1]]))
    }

    /// The service type of a サービスコード: its first two characters, when they are `[0-9A-Z]{2}`.
    /// Safe on any text (it never slices inside a character).
    pub fn of_service_code(code: &str) -> Option<Self> {
        code.get(..2).and_then(Self::parse)
    }

    pub fn as_str(&self) -> &str {
        // Both bytes are ASCII by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for ServiceTypeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for ServiceTypeCode {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ServiceTypeCode {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text)
            .ok_or_else(|| serde::de::Error::custom(format!("not a service type code: {text:?}")))
    }
}

/// The ファイル連番 `YYYYMMDDHHMMSS` shared by every file of one send unit. Ordering is chronological.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Serial(String);

impl Serial {
    /// Accepts any 14 ASCII digits; [`Serial::is_valid_datetime`] tells whether it is a real moment.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 14 && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True when the 14 digits form a valid local date and time.
    pub fn is_valid_datetime(&self) -> bool {
        let t = &self.0;
        is_valid_date(&t[..8])
            && is_valid_time(&t[8..12])
            && t[12..].parse::<u8>().is_ok_and(|s| s < 60)
    }
}

impl fmt::Display for Serial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Serial {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value).ok_or_else(|| format!("not a 14-digit serial: {value:?}"))
    }
}

impl From<Serial> for String {
    fn from(value: Serial) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_parse_and_count_days() {
        assert_eq!(Month::parse("202502").unwrap().days(), 28);
        assert_eq!(Month::parse("202402").unwrap().days(), 29);
        assert_eq!(Month::parse("190002").unwrap().days(), 28);
        assert_eq!(Month::parse("200002").unwrap().days(), 29);
        assert!(Month::parse("202513").is_none());
        assert!(Month::parse("202500").is_none());
        assert!(Month::parse("20251").is_none());
        assert!(Month::parse("２０２５０１").is_none());
        assert_eq!(Month::parse("202501").unwrap().to_string(), "202501");
    }

    #[test]
    fn dates_and_times() {
        assert!(is_valid_date("20240229"));
        assert!(!is_valid_date("20250229"));
        assert!(!is_valid_date("20250431"));
        assert!(!is_valid_date("00000000"));
        assert!(is_valid_time("0000"));
        assert!(is_valid_time("2359"));
        assert!(!is_valid_time("2400"));
        assert!(!is_valid_time("9999"));
    }

    #[test]
    fn office_numbers_keep_leading_zeros() {
        let n = OfficeNumber::parse("0300000100").unwrap();
        assert_eq!(n.as_str(), "0300000100");
        assert!(OfficeNumber::parse("300000100").is_none());
        assert!(OfficeNumber::parse("03000001O0").is_none());
    }

    #[test]
    fn service_types_are_two_alphanumerics() {
        assert!(ServiceTypeCode::parse("2A").is_some());
        assert!(ServiceTypeCode::parse("A1").is_some());
        assert!(ServiceTypeCode::parse("a1").is_none());
        assert!(ServiceTypeCode::parse("111").is_none());
    }

    #[test]
    fn serials_order_and_validate() {
        let a = Serial::parse("20191025200201").unwrap();
        let b = Serial::parse("20191110102233").unwrap();
        assert!(a < b);
        assert!(a.is_valid_datetime());
        assert!(!Serial::parse("20191325200201").unwrap().is_valid_datetime());
        assert!(Serial::parse("201911110102233").is_none());
    }
}
