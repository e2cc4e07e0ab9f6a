//! File names of the standard: parsing and formatting in the three shapes.
//!
//! * V3:   `PREFIX[_YYYYMM]_s10_r10_ts14.CSV`
//! * V4.0: `PREFIX[_YYYYMM]_s10_ccc_r10_ccc_ts14.CSV` (a 3-character code after each office number;
//!   the exact 4.0 rule was not available, SUMMARY §10 — see docs/decisions.md D-NAME-40)
//! * V4.1: `PREFIX[_YYYYMM]_s10_st2_r10_rt2_ts14.CSV`
//!
//! `UPKIHON_IMAGE` adds `_NNNN` (枝番) and ends in `.jpg`. Parsing is exact about structure and keeps
//! what it read (extension case, an erratum month segment) so that `format(parse(name)) == name`;
//! matters of degree (lower-case `.csv`, a 連番 that is not a real moment, sender = receiver) are left
//! to the validator, which reports them as findings.

use std::fmt;

use serde::Serialize;

use crate::domain::{Month, OfficeNumber, Serial, ServiceTypeCode};
use crate::kind::{FileKind, MonthRule};
use crate::version::SpecVersion;

/// The shape of a name is the layout family it announces.
pub type NameShape = SpecVersion;

/// The `_YYYYMM` segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum MonthSegment {
    Month(Month),
    /// `000000`: a 利用者補足情報 that belongs to 1表/2表/3表.
    Zero,
}

impl fmt::Display for MonthSegment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Month(m) => m.fmt(f),
            Self::Zero => f.write_str("000000"),
        }
    }
}

/// One end of a transfer: an office number and, in V4 names, the code written after it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Party {
    pub office: OfficeNumber,
    /// V4.1: the 2-character service type; V4.0: the 3-character code; V3: absent.
    pub code: Option<String>,
}

impl Party {
    pub fn new(office: OfficeNumber, service_type: Option<ServiceTypeCode>) -> Self {
        Self {
            office,
            code: service_type.map(|t| t.as_str().to_owned()),
        }
    }

    /// The service type the name announces. For a V4.0 3-character code this is its first two
    /// characters (decision D-NAME-40).
    pub fn service_type(&self) -> Option<ServiceTypeCode> {
        self.code
            .as_deref()
            .and_then(|c| ServiceTypeCode::parse(c.get(..2)?))
    }
}

/// A parsed file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FileName {
    pub kind: FileKind,
    pub shape: NameShape,
    pub month: Option<MonthSegment>,
    pub sender: Party,
    pub receiver: Party,
    pub serial: Serial,
    /// 枝番 of an image file (4 digits).
    pub branch: Option<String>,
    /// The extension as written, without the dot.
    pub extension: String,
}

/// The part of a name that is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    Whole,
    Prefix,
    Month,
    SenderOffice,
    SenderType,
    ReceiverOffice,
    ReceiverType,
    Serial,
    Branch,
    Extension,
}

impl Segment {
    pub fn label_ja(self) -> &'static str {
        match self {
            Self::Whole => "ファイル名全体",
            Self::Prefix => "ファイル種別（接頭辞）",
            Self::Month => "対象年月",
            Self::SenderOffice => "送信元の事業所番号",
            Self::SenderType => "送信元のサービス種類コード",
            Self::ReceiverOffice => "送信先の事業所番号",
            Self::ReceiverType => "送信先のサービス種類コード",
            Self::Serial => "ファイル連番（YYYYMMDDHHMMSS）",
            Self::Branch => "枝番",
            Self::Extension => "拡張子",
        }
    }

    pub fn label_en(self) -> &'static str {
        match self {
            Self::Whole => "whole name",
            Self::Prefix => "file kind prefix",
            Self::Month => "month",
            Self::SenderOffice => "sender office number",
            Self::SenderType => "sender service type",
            Self::ReceiverOffice => "receiver office number",
            Self::ReceiverType => "receiver service type",
            Self::Serial => "serial (YYYYMMDDHHMMSS)",
            Self::Branch => "branch number",
            Self::Extension => "extension",
        }
    }
}

/// Why a name could not be parsed: the segment, what was found there, and the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[error("file name {name:?}: {} is wrong (found {found:?}): {reason}; expected {expected}", .segment.label_en())]
pub struct NameError {
    pub name: String,
    pub segment: Segment,
    pub found: String,
    pub reason: String,
    /// The expected shape, e.g. `UPPLAN_YYYYMM_<sender office 10>_<sender type 2>_…​.CSV`.
    pub expected: String,
}

/// Longest names seen in the standard are ~70 characters; anything far longer is hostile.
pub const MAX_NAME_LEN: usize = 120;

impl FileName {
    /// Parses a bare file name (no directories).
    pub fn parse(name: &str) -> Result<Self, NameError> {
        let err = |segment, found: &str, reason: &str, expected: String| NameError {
            name: name.to_owned(),
            segment,
            found: found.to_owned(),
            reason: reason.to_owned(),
            expected,
        };
        let generic = "PREFIX[_YYYYMM]_<sender office 10>[_<type 2>]_<receiver office 10>[_<type 2>]_<YYYYMMDDHHMMSS>.CSV";
        if name.len() > MAX_NAME_LEN {
            let head: String = name.chars().take(40).collect();
            return Err(err(
                Segment::Whole,
                &head,
                "name is too long",
                generic.into(),
            ));
        }
        if let Some(c) = name.chars().find(|c| !c.is_ascii_graphic()) {
            let reason = match c {
                '/' | '\\' => "contains a path separator".to_owned(),
                c if c.is_control() => format!("contains the control character U+{:04X}", c as u32),
                c => format!(
                    "contains the non-ASCII character {c:?} (U+{:04X})",
                    c as u32
                ),
            };
            return Err(err(Segment::Whole, name, &reason, generic.into()));
        }
        if name.contains(['/', '\\']) {
            return Err(err(
                Segment::Whole,
                name,
                "contains a path separator",
                generic.into(),
            ));
        }
        let Some((stem, extension)) = name.rsplit_once('.') else {
            return Err(err(Segment::Extension, "", "no extension", generic.into()));
        };
        let kind = KIND_BY_PREFIX_LENGTH
            .iter()
            .copied()
            .find(|k| {
                stem.strip_prefix(k.prefix())
                    .is_some_and(|rest| rest.starts_with('_'))
            })
            .ok_or_else(|| {
                let found = stem.split('_').next().unwrap_or(stem);
                err(
                    Segment::Prefix,
                    found,
                    "not a file kind of the standard",
                    generic.into(),
                )
            })?;
        let expected = |shape| template(kind, shape);
        let mut segments: Vec<&str> = stem[kind.prefix().len() + 1..].split('_').collect();

        // The month segment.
        let month = match kind.info().month {
            MonthRule::None => {
                // Erratum 3 (SUMMARY §8): the 本文 example writes `UPKIHON_000000_…`. Keep the segment
                // so the validator can warn; only `000000` is tolerated, and only when a V4 shape follows.
                if segments.len() == 6 && segments[0] == "000000" && !kind.is_image() {
                    segments.remove(0);
                    Some(MonthSegment::Zero)
                } else {
                    None
                }
            }
            rule => {
                if segments.is_empty() {
                    return Err(err(
                        Segment::Month,
                        "",
                        "missing",
                        expected(SpecVersion::V41),
                    ));
                }
                let text = segments.remove(0);
                if text == "000000" && rule == MonthRule::MonthOrZero {
                    Some(MonthSegment::Zero)
                } else if let Some(m) = Month::parse(text) {
                    Some(MonthSegment::Month(m))
                } else {
                    let reason = if rule == MonthRule::MonthOrZero {
                        "must be a month YYYYMM or 000000"
                    } else {
                        "must be a month YYYYMM"
                    };
                    return Err(err(
                        Segment::Month,
                        text,
                        reason,
                        expected(SpecVersion::V41),
                    ));
                }
            }
        };

        // Image files carry a trailing 4-digit branch number.
        let branch = if kind.is_image() {
            let Some(b) = segments.pop() else {
                return Err(err(
                    Segment::Branch,
                    "",
                    "missing",
                    expected(SpecVersion::V41),
                ));
            };
            if b.len() != 4 || !b.bytes().all(|c| c.is_ascii_digit()) {
                return Err(err(
                    Segment::Branch,
                    b,
                    "must be 4 digits",
                    expected(SpecVersion::V41),
                ));
            }
            Some(b.to_owned())
        } else {
            None
        };

        let (shape, sender_office, sender_code, receiver_office, receiver_code, serial) =
            match segments[..] {
                [s, r, ts] => (SpecVersion::V3, s, None, r, None, ts),
                [s, st, r, rt, ts] => {
                    let shape = match (st.len(), rt.len()) {
                        (2, 2) => SpecVersion::V41,
                        (3, 3) => SpecVersion::V40,
                        (2 | 3, _) => {
                            return Err(err(
                                Segment::ReceiverType,
                                rt,
                                "must be 2 characters (V4.1) like the sender's",
                                expected(SpecVersion::V41),
                            ));
                        }
                        _ => {
                            return Err(err(
                                Segment::SenderType,
                                st,
                                "must be 2 characters [0-9A-Z] (V4.1)",
                                expected(SpecVersion::V41),
                            ));
                        }
                    };
                    (shape, s, Some(st), r, Some(rt), ts)
                }
                _ => {
                    let reason = format!(
                        "has {} segments after the prefix{}; V3 names have 3, V4 names 5",
                        segments.len(),
                        if month.is_some() { " and month" } else { "" }
                    );
                    return Err(err(
                        Segment::Whole,
                        name,
                        &reason,
                        format!(
                            "{} (V4.1) or {} (V3)",
                            expected(SpecVersion::V41),
                            expected(SpecVersion::V3)
                        ),
                    ));
                }
            };
        let exp = expected(shape);
        let office = |seg, text: &str| {
            OfficeNumber::parse(text)
                .ok_or_else(|| err(seg, text, "must be a 10-digit office number", exp.clone()))
        };
        let code = |seg, text: Option<&str>| -> Result<Option<String>, NameError> {
            match text {
                None => Ok(None),
                Some(t)
                    if t.bytes()
                        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) =>
                {
                    Ok(Some(t.to_owned()))
                }
                Some(t) => Err(err(
                    seg,
                    t,
                    "must be digits or upper-case letters [0-9A-Z]",
                    exp.clone(),
                )),
            }
        };
        let sender = Party {
            office: office(Segment::SenderOffice, sender_office)?,
            code: code(Segment::SenderType, sender_code)?,
        };
        let receiver = Party {
            office: office(Segment::ReceiverOffice, receiver_office)?,
            code: code(Segment::ReceiverType, receiver_code)?,
        };
        let serial = Serial::parse(serial).ok_or_else(|| {
            err(
                Segment::Serial,
                serial,
                "must be 14 digits YYYYMMDDHHMMSS",
                exp.clone(),
            )
        })?;

        let ext_ok = if kind.is_image() {
            extension.eq_ignore_ascii_case("jpg")
        } else {
            extension.eq_ignore_ascii_case("csv")
        };
        if !ext_ok {
            let want = if kind.is_image() {
                "must be .jpg"
            } else {
                "must be .CSV"
            };
            return Err(err(Segment::Extension, extension, want, exp));
        }
        if month == Some(MonthSegment::Zero)
            && kind.info().month == MonthRule::None
            && shape == SpecVersion::V3
        {
            return Err(err(
                Segment::Month,
                "000000",
                "this kind has no month segment",
                exp,
            ));
        }
        Ok(Self {
            kind,
            shape,
            month,
            sender,
            receiver,
            serial,
            branch,
            extension: extension.to_owned(),
        })
    }

    /// The month of the name, if it is a real month.
    pub fn service_month(&self) -> Option<Month> {
        match self.month {
            Some(MonthSegment::Month(m)) => Some(m),
            _ => None,
        }
    }

    /// Builds a conformant name (upper-case `.CSV`, `.jpg` for images).
    pub fn new(
        kind: FileKind,
        shape: NameShape,
        month: Option<MonthSegment>,
        sender: Party,
        receiver: Party,
        serial: Serial,
        branch: Option<String>,
    ) -> Self {
        let extension = if kind.is_image() { "jpg" } else { "CSV" }.to_owned();
        Self {
            kind,
            shape,
            month,
            sender,
            receiver,
            serial,
            branch,
            extension,
        }
    }

    /// The same name in another shape (service types are taken from the parties; a V3 → V4 change
    /// needs them set by the caller).
    pub fn with_shape(&self, shape: NameShape) -> Self {
        let mut out = self.clone();
        out.shape = shape;
        if shape == SpecVersion::V3 {
            out.sender.code = None;
            out.receiver.code = None;
        }
        out
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind.prefix())?;
        if let Some(m) = self.month {
            write!(f, "_{m}")?;
        }
        let party = |f: &mut fmt::Formatter<'_>, p: &Party| {
            write!(f, "_{}", p.office)?;
            match (&p.code, self.shape) {
                (Some(c), SpecVersion::V40 | SpecVersion::V41) => write!(f, "_{c}"),
                _ => Ok(()),
            }
        };
        party(f, &self.sender)?;
        party(f, &self.receiver)?;
        write!(f, "_{}", self.serial)?;
        if let Some(b) = &self.branch {
            write!(f, "_{b}")?;
        }
        write!(f, ".{}", self.extension)
    }
}

/// Kinds ordered so that a longer prefix is tried before a shorter one it starts with
/// (`UPKIHON_SUB1` before `UPKIHON`).
const KIND_BY_PREFIX_LENGTH: [FileKind; 18] = {
    use FileKind::*;
    [
        UpKihonImage,
        UpKihonSub1,
        UpKihonSub2,
        UpYoboSub,
        UpHosoku,
        UpSikyu,
        DltKihon,
        DltYobo,
        DltPlan,
        UpKihon,
        Up1Kyo,
        Dlt1Kyo,
        Up2Kyo,
        Up3Kyo,
        UpPlan,
        DltJsk,
        UpYobo,
        UpJsk,
    ]
};

/// The expected name shape of a kind, for error messages and documentation.
pub fn template(kind: FileKind, shape: NameShape) -> String {
    let mut out = kind.prefix().to_owned();
    match kind.info().month {
        MonthRule::None => {}
        MonthRule::Required => out.push_str("_YYYYMM"),
        MonthRule::MonthOrZero => out.push_str("_YYYYMM(or 000000)"),
    }
    let code = match shape {
        SpecVersion::V3 => "",
        SpecVersion::V40 => "_<code 3>",
        SpecVersion::V41 => "_<type 2>",
    };
    out.push_str(&format!(
        "_<sender office 10>{code}_<receiver office 10>{code}_<YYYYMMDDHHMMSS>"
    ));
    out.push_str(if kind.is_image() {
        "_<NNNN>.jpg"
    } else {
        ".CSV"
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_layout_examples() {
        let n = FileName::parse("UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.CSV")
            .unwrap();
        assert_eq!(n.kind, FileKind::UpPlan);
        assert_eq!(n.shape, SpecVersion::V41);
        assert_eq!(n.service_month().unwrap().to_string(), "201912");
        assert_eq!(n.sender.office.as_str(), "0300000100");
        assert_eq!(n.sender.service_type().unwrap().as_str(), "43");
        assert_eq!(n.receiver.service_type().unwrap().as_str(), "11");

        let v3 = FileName::parse("UPPLAN_201912_0300000100_0300000005_20191025200201.CSV").unwrap();
        assert_eq!(v3.shape, SpecVersion::V3);
        assert_eq!(v3.sender.code, None);

        let h = FileName::parse("UPHOSOKU_000000_0300000100_43_0300000005_11_20191025200201.CSV")
            .unwrap();
        assert_eq!(h.month, Some(MonthSegment::Zero));

        let img =
            FileName::parse("UPKIHON_IMAGE_0300000100_43_0300000005_11_20191025200201_0001.JPG")
                .unwrap();
        assert_eq!(img.kind, FileKind::UpKihonImage);
        assert_eq!(img.branch.as_deref(), Some("0001"));

        let sub =
            FileName::parse("UPKIHON_SUB1_0300000100_43_0300000005_11_20191025200201.CSV").unwrap();
        assert_eq!(sub.kind, FileKind::UpKihonSub1);

        let v40 =
            FileName::parse("UP1KYO_0300000100_430_0300000005_110_20191025200201.CSV").unwrap();
        assert_eq!(v40.shape, SpecVersion::V40);
        assert_eq!(v40.receiver.service_type().unwrap().as_str(), "11");
    }

    #[test]
    fn errors_name_the_segment_and_show_the_shape() {
        let e = FileName::parse("UPPLAN_201913_0300000100_43_0300000005_11_20191025200201.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::Month);
        assert!(e.expected.starts_with("UPPLAN_YYYYMM_"), "{}", e.expected);

        let e = FileName::parse("UPPLAN_201912_300000100_43_0300000005_11_20191025200201.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::SenderOffice);

        let e = FileName::parse("UPPLAN_201912_0300000100_4_0300000005_11_20191025200201.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::SenderType);

        let e = FileName::parse("UPPLAN_201912_0300000100_43_0300000005_111_20191025200201.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::ReceiverType);

        let e = FileName::parse("UPPLAN_201912_0300000100_43_0300000005_11_2019102520020.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::Serial);

        let e = FileName::parse("UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.TXT")
            .unwrap_err();
        assert_eq!(e.segment, Segment::Extension);

        let e = FileName::parse("UPPLANX_201912_0300000100_43_0300000005_11_20191025200201.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::Prefix);

        let e = FileName::parse("UPPLAN_201912_0300000100_0300000005_43_11_20191025200201.CSV")
            .unwrap_err();
        assert_eq!(e.segment, Segment::SenderType);

        let e = FileName::parse("../../etc/passwd").unwrap_err();
        assert_eq!(e.segment, Segment::Whole);
        let e = FileName::parse("UPPLAN\u{7}.CSV").unwrap_err();
        assert!(e.reason.contains("control"), "{}", e.reason);
        let e = FileName::parse(&"A".repeat(500)).unwrap_err();
        assert!(e.reason.contains("too long"));
    }

    #[test]
    fn kihon_month_erratum_is_kept() {
        let n = FileName::parse("UPKIHON_000000_0300000100_43_0300000005_11_20191025200201.CSV")
            .unwrap();
        assert_eq!(n.month, Some(MonthSegment::Zero));
        assert_eq!(
            n.to_string(),
            "UPKIHON_000000_0300000100_43_0300000005_11_20191025200201.CSV"
        );
    }

    #[test]
    fn formats_back_to_the_same_name() {
        for name in [
            "UPPLAN_201912_0300000100_43_0300000005_11_20191025200201.CSV",
            "UPJSK_201912_0300000005_11_0300000100_43_20191025200201.csv",
            "UP1KYO_0300000100_0300000005_20191025200201.CSV",
            "UPKIHON_IMAGE_0300000100_46_0300000005_A1_20191025200201_0001.jpg",
            "DLTJSK_202501_0300000005_2A_0300000100_43_20250201120000.CSV",
        ] {
            assert_eq!(FileName::parse(name).unwrap().to_string(), name);
        }
    }
}
