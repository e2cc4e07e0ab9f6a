//! Column layouts of every file kind × version, loaded from `spec/data/layouts/*.toml`.
//!
//! Each TOML file holds the V4.1 table of one layout; the V3 view is derived by dropping the
//! columns marked `since = "v4.0"` and applying `len_v3` (SUMMARY §7). Rules find the columns they
//! need by their Japanese name ([`LayoutView::col`]), never by a hard-coded number, so that a column
//! inserted by a revision is a data edit.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{Deserialize, Deserializer};

use crate::kind::FileKind;
use crate::version::SpecVersion;

/// How a field's value must look (the layout's 「書式、選択肢など」).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    CsvVersion,
    Yyyymm,
    YyyymmOrZero,
    Yyyymmdd,
    YyyymmddOrZero,
    Hhmm,
    HhmmOr9999,
    /// `HHMM` from 0000 up to 2400 (the end of the 3表 time axis, D-TIME-2400).
    HhmmOr2400,
    Integer,
    /// A fixed picture such as `99.99` (`9` = one digit, other characters literal).
    Picture(String),
    Insurer,
    Insured,
    Office,
    ServiceType,
    ServiceCode,
    ServiceCodeOrTotal,
    Code(String),
    Text,
    DayMask,
    EquipmentCode,
    Postal,
    Phone,
    Unused,
    ImageName,
    Any,
}

impl Format {
    /// Written as フリーテキスト, so quoted in `""` (L4 L128-129): free text, and the UPKIHON image
    /// name whose 書式 reads フリーテキスト (L4 L819, D-KIHON-IMAGE).
    pub fn is_free_text(&self) -> bool {
        matches!(self, Self::Text | Self::ImageName)
    }

    pub fn parse(word: &str) -> Option<Self> {
        Some(match word {
            "csv_version" => Self::CsvVersion,
            "yyyymm" => Self::Yyyymm,
            "yyyymm_or_zero" => Self::YyyymmOrZero,
            "yyyymmdd" => Self::Yyyymmdd,
            "yyyymmdd_or_zero" => Self::YyyymmddOrZero,
            "hhmm" => Self::Hhmm,
            "hhmm_or_9999" => Self::HhmmOr9999,
            "hhmm_or_2400" => Self::HhmmOr2400,
            "integer" => Self::Integer,
            "insurer" => Self::Insurer,
            "insured" => Self::Insured,
            "office" => Self::Office,
            "service_type" => Self::ServiceType,
            "service_code" => Self::ServiceCode,
            "service_code_or_total" => Self::ServiceCodeOrTotal,
            "text" => Self::Text,
            "day_mask" => Self::DayMask,
            "equipment_code" => Self::EquipmentCode,
            "postal" => Self::Postal,
            "phone" => Self::Phone,
            "unused" => Self::Unused,
            "image_name" => Self::ImageName,
            "any" => Self::Any,
            other => match other.split_once(':') {
                Some(("code", table)) => Self::Code(table.to_owned()),
                Some(("picture", picture)) if !picture.is_empty() => {
                    Self::Picture(picture.to_owned())
                }
                _ => return None,
            },
        })
    }

    /// A short description for messages and docs.
    pub fn describe(&self) -> String {
        match self {
            Self::CsvVersion => "CSVバージョン YYYYMM".into(),
            Self::Yyyymm => "YYYYMM".into(),
            Self::YyyymmOrZero => "YYYYMM or 000000".into(),
            Self::Yyyymmdd => "YYYYMMDD".into(),
            Self::YyyymmddOrZero => "YYYYMMDD or 00000000".into(),
            Self::Hhmm => "HHMM".into(),
            Self::HhmmOr9999 => "HHMM or 9999".into(),
            Self::HhmmOr2400 => "HHMM (up to 2400)".into(),
            Self::Integer => "integer".into(),
            Self::Picture(p) => format!("{p} 形式"),
            Self::Insurer => "保険者番号: 6 digits".into(),
            Self::Insured => "被保険者番号: 10 digits, or H + 9 digits (生保単独)".into(),
            Self::Office => "office number: 10 digits".into(),
            Self::ServiceType => "サービス種類コード: 2 characters [0-9A-Z]".into(),
            Self::ServiceCode => "サービスコード: 6 characters (type 2 + item 4)".into(),
            Self::ServiceCodeOrTotal => "サービスコード, <type>AAAA/EEEE/ZZZZ or 999999".into(),
            Self::Code(t) => format!("code table {t}"),
            Self::Text => "free text (quoted)".into(),
            Self::DayMask => "31 characters of 0/1".into(),
            Self::EquipmentCode => "TAIS / 届出 code".into(),
            Self::Postal => "XXX-XXXX".into(),
            Self::Phone => "telephone number".into(),
            Self::Unused => "unused (empty)".into(),
            Self::ImageName => "UPKIHON_IMAGE file name".into(),
            Self::Any => "no format given".into(),
        }
    }
}

impl<'de> Deserialize<'de> for Format {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let word = String::deserialize(d)?;
        Self::parse(&word)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown format {word:?}")))
    }
}

/// What a 第7表 column holds on the summary rows (L4 L620-640).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SummaryValue {
    /// 「種類別小計及び全合計の場合はNull（空）固定」.
    Null,
    /// 「種類別小計及び全合計の場合は0固定」.
    Zero,
}

/// One row of a layout table (V4.1 numbering).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    pub no: u16,
    pub name: String,
    pub len: Option<u16>,
    pub len_v3: Option<u16>,
    #[serde(default)]
    pub req: bool,
    /// Required by a ○ that only the extraction's mark count assigns to this row (SUMMARY §4):
    /// a warning under the standard profile, an error under strict (D-REQ-INFERRED).
    #[serde(default)]
    pub req_inferred: bool,
    #[serde(default)]
    pub needed: bool,
    /// 第7表: the value fixed on summary rows (種類別小計 and 全合計).
    pub on_summary: Option<SummaryValue>,
    /// A value the layout fixes (「…を固定でセット」).
    pub fixed: Option<String>,
    /// A サービス種類コード column that can only name a service type of the exchange (連携対象).
    #[serde(default)]
    pub linked: bool,
    pub format: Format,
    pub min: Option<i64>,
    pub max: Option<i64>,
    pub since: Option<SpecVersion>,
    pub src: String,
    pub doubt: Option<String>,
    pub note: Option<String>,
}

/// One layout file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Layout {
    #[serde(skip)]
    pub name: String,
    pub kinds: Vec<FileKind>,
    pub title: String,
    pub source: String,
    pub since: SpecVersion,
    /// The column holding the record's service month (対象年月 / 削除対象年月), for monthly kinds.
    pub month_column: Option<String>,
    pub columns: Vec<Column>,
}

/// A column as it stands in one version: its number there and its length there.
#[derive(Debug)]
pub struct VersionedColumn {
    pub column: &'static Column,
    /// 1-based number in this version's layout.
    pub no: u16,
    pub len: Option<u16>,
}

impl VersionedColumn {
    pub fn name(&self) -> &'static str {
        &self.column.name
    }
    pub fn format(&self) -> &'static Format {
        &self.column.format
    }
}

/// A layout as it applies to one version.
#[derive(Debug)]
pub struct LayoutView {
    pub layout: &'static Layout,
    pub version: SpecVersion,
    pub columns: Vec<VersionedColumn>,
    by_name: HashMap<&'static str, usize>,
}

impl LayoutView {
    /// 0-based index of the first column named `name` in this version.
    pub fn col(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.columns.is_empty()
    }
}

struct Registry {
    layouts: Vec<&'static Layout>,
    views: HashMap<(FileKind, SpecVersion), LayoutView>,
}

/// The layout files compiled into the crate.
pub const LAYOUT_FILES: [(&str, &str); 16] = [
    ("UPHOSOKU", include_str!("../data/layouts/UPHOSOKU.toml")),
    ("UP1KYO", include_str!("../data/layouts/UP1KYO.toml")),
    ("DLT1KYO", include_str!("../data/layouts/DLT1KYO.toml")),
    ("UP2KYO", include_str!("../data/layouts/UP2KYO.toml")),
    ("UP3KYO", include_str!("../data/layouts/UP3KYO.toml")),
    ("UPPLAN", include_str!("../data/layouts/UPPLAN.toml")),
    ("DLTPLAN", include_str!("../data/layouts/DLTPLAN.toml")),
    ("DLTJSK", include_str!("../data/layouts/DLTJSK.toml")),
    ("UPSIKYU", include_str!("../data/layouts/UPSIKYU.toml")),
    ("UPKIHON", include_str!("../data/layouts/UPKIHON.toml")),
    ("DLTKIHON", include_str!("../data/layouts/DLTKIHON.toml")),
    (
        "UPKIHON_SUB1",
        include_str!("../data/layouts/UPKIHON_SUB1.toml"),
    ),
    (
        "UPKIHON_SUB2",
        include_str!("../data/layouts/UPKIHON_SUB2.toml"),
    ),
    ("UPYOBO", include_str!("../data/layouts/UPYOBO.toml")),
    ("DLTYOBO", include_str!("../data/layouts/DLTYOBO.toml")),
    (
        "UPYOBO_SUB",
        include_str!("../data/layouts/UPYOBO_SUB.toml"),
    ),
];

fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut layouts = Vec::new();
        let mut views = HashMap::new();
        for (name, text) in LAYOUT_FILES {
            let mut layout: Layout = toml::from_str(text).unwrap_or_else(|e| {
                panic!("spec/data/layouts/{name}.toml is invalid (a build-time data error): {e}")
            });
            layout.name = name.to_owned();
            let layout: &'static Layout = Box::leak(Box::new(layout));
            layouts.push(layout);
            for version in SpecVersion::ALL {
                if version < layout.since {
                    continue;
                }
                for &kind in &layout.kinds {
                    views.insert((kind, version), view_of(layout, version));
                }
            }
        }
        Registry { layouts, views }
    })
}

fn view_of(layout: &'static Layout, version: SpecVersion) -> LayoutView {
    let mut columns = Vec::new();
    for column in &layout.columns {
        if column.since.is_some_and(|since| version < since) {
            continue;
        }
        let len = if version == SpecVersion::V3 {
            column.len_v3.or(column.len)
        } else {
            column.len
        };
        columns.push(VersionedColumn {
            column,
            no: columns.len() as u16 + 1,
            len,
        });
    }
    let mut by_name = HashMap::new();
    for (i, c) in columns.iter().enumerate() {
        by_name.entry(c.column.name.as_str()).or_insert(i);
    }
    LayoutView {
        layout,
        version,
        columns,
        by_name,
    }
}

/// The layout of `kind` in `version`; `None` for the image kind and for kinds the version lacks.
pub fn view(kind: FileKind, version: SpecVersion) -> Option<&'static LayoutView> {
    registry().views.get(&(kind, version))
}

/// Every layout file, in the order of [`LAYOUT_FILES`].
pub fn all_layouts() -> &'static [&'static Layout] {
    &registry().layouts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn column_counts_match_summary() {
        let expect = [
            (FileKind::UpHosoku, 63, 63),
            (FileKind::Up1Kyo, 28, 28),
            (FileKind::Dlt1Kyo, 4, 4),
            (FileKind::Up2Kyo, 22, 22),
            (FileKind::UpPlan, 25, 22),
            (FileKind::UpJsk, 25, 22),
            (FileKind::DltPlan, 4, 4),
            (FileKind::DltJsk, 6, 6),
            (FileKind::UpSikyu, 37, 34),
        ];
        for (kind, v4, v3) in expect {
            assert_eq!(
                view(kind, SpecVersion::V41).unwrap().len(),
                v4,
                "{kind} v4.1"
            );
            assert_eq!(
                view(kind, SpecVersion::V40).unwrap().len(),
                v4,
                "{kind} v4.0"
            );
            assert_eq!(view(kind, SpecVersion::V3).unwrap().len(), v3, "{kind} v3");
        }
        let v4_only = [
            (FileKind::Up3Kyo, 13),
            (FileKind::UpKihon, 71),
            (FileKind::DltKihon, 4),
            (FileKind::UpKihonSub1, 7),
            (FileKind::UpKihonSub2, 11),
            (FileKind::UpYobo, 57),
            (FileKind::DltYobo, 4),
            (FileKind::UpYoboSub, 17),
        ];
        for (kind, n) in v4_only {
            assert_eq!(view(kind, SpecVersion::V41).unwrap().len(), n, "{kind}");
            assert!(
                view(kind, SpecVersion::V3).is_none(),
                "{kind} has no V3 layout"
            );
        }
        assert!(view(FileKind::UpKihonImage, SpecVersion::V41).is_none());
    }

    #[test]
    fn every_kind_with_a_layout_file_is_covered() {
        for kind in FileKind::ALL {
            let has = view(kind, SpecVersion::V41).is_some();
            assert_eq!(has, kind.info().layout.is_some(), "{kind}");
            if let Some(file) = kind.info().layout {
                assert!(
                    all_layouts()
                        .iter()
                        .any(|l| l.name == file && l.kinds.contains(&kind)),
                    "{kind} in {file}"
                );
            }
        }
    }

    #[test]
    fn rows_are_numbered_and_cited() {
        for layout in all_layouts() {
            for (i, c) in layout.columns.iter().enumerate() {
                assert_eq!(usize::from(c.no), i + 1, "{} row {}", layout.name, c.name);
                assert!(
                    c.src.starts_with("L4 L") || c.src.starts_with("V3 p"),
                    "{} No.{} cites {:?}",
                    layout.name,
                    c.no,
                    c.src
                );
            }
            assert_eq!(
                layout.columns[0].format,
                Format::CsvVersion,
                "{}",
                layout.name
            );
        }
    }

    #[test]
    fn v3_renumbers_after_the_inserted_columns() {
        let v3 = view(FileKind::UpPlan, SpecVersion::V3).unwrap();
        let v4 = view(FileKind::UpPlan, SpecVersion::V41).unwrap();
        let name = "サービス事業者コード";
        assert_eq!(v3.columns[v3.col(name).unwrap()].no, 17);
        assert_eq!(v4.columns[v4.col(name).unwrap()].no, 20);
        assert!(v3.col("TAISコード").is_none());
        let sikyu3 = view(FileKind::UpSikyu, SpecVersion::V3).unwrap();
        let count = sikyu3.col("回数／日数").unwrap();
        assert_eq!(sikyu3.columns[count].len, Some(2));
        let sikyu4 = view(FileKind::UpSikyu, SpecVersion::V41).unwrap();
        assert_eq!(
            sikyu4.columns[sikyu4.col("回数／日数").unwrap()].len,
            Some(3)
        );
    }
}
