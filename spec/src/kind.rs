//! The 18 file kinds of the standard (SUMMARY §3.2) and what each one's name and role look like.
//!
//! The kinds are an enum because logic branches on them (send units, keys, 7表 totals); their
//! descriptive facts sit in one table, [`KIND_TABLE`], so that a reader sees them all at once.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::version::SpecVersion;

/// One file kind, named by its file-name prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum FileKind {
    #[serde(rename = "UPHOSOKU")]
    UpHosoku,
    #[serde(rename = "UP1KYO")]
    Up1Kyo,
    #[serde(rename = "DLT1KYO")]
    Dlt1Kyo,
    #[serde(rename = "UP2KYO")]
    Up2Kyo,
    #[serde(rename = "UP3KYO")]
    Up3Kyo,
    #[serde(rename = "UPPLAN")]
    UpPlan,
    #[serde(rename = "UPJSK")]
    UpJsk,
    #[serde(rename = "DLTPLAN")]
    DltPlan,
    #[serde(rename = "DLTJSK")]
    DltJsk,
    #[serde(rename = "UPSIKYU")]
    UpSikyu,
    #[serde(rename = "UPKIHON")]
    UpKihon,
    #[serde(rename = "UPKIHON_SUB1")]
    UpKihonSub1,
    #[serde(rename = "UPKIHON_SUB2")]
    UpKihonSub2,
    #[serde(rename = "UPKIHON_IMAGE")]
    UpKihonImage,
    #[serde(rename = "DLTKIHON")]
    DltKihon,
    #[serde(rename = "UPYOBO")]
    UpYobo,
    #[serde(rename = "UPYOBO_SUB")]
    UpYoboSub,
    #[serde(rename = "DLTYOBO")]
    DltYobo,
}

/// Whether a kind's name carries a `_YYYYMM` segment after the prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MonthRule {
    /// No month segment.
    None,
    /// A real month `YYYYMM` (対象年月 / 提供年月).
    Required,
    /// A month, or `000000` when the file belongs to 1表/2表/3表 (利用者補足情報 only).
    MonthOrZero,
}

/// Who sends the kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sender {
    /// 居宅介護支援事業所 or 地域包括支援センター等 (the care-manager side).
    CareManager,
    /// The service office (居宅サービス事業所 / 介護予防・総合事業サービス事業所).
    ServiceOffice,
}

/// Descriptive facts about one kind.
#[derive(Debug)]
pub struct KindInfo {
    pub kind: FileKind,
    pub prefix: &'static str,
    pub title_ja: &'static str,
    pub title_en: &'static str,
    pub month: MonthRule,
    /// First version whose standard defines the kind.
    pub since: SpecVersion,
    pub sender: Sender,
    /// The layout file in `spec/data/layouts/` (`None` for the JPEG image kind).
    pub layout: Option<&'static str>,
    /// Where the name rule stands in the layout annex.
    pub name_source: &'static str,
}

use FileKind::*;
use MonthRule as M;
use Sender::{CareManager as CM, ServiceOffice as SO};
use SpecVersion::{V3, V40};

/// All kinds, in the order of SUMMARY §3.2.
pub const KIND_TABLE: [KindInfo; 18] = [
    k(
        UpHosoku,
        "UPHOSOKU",
        "利用者補足情報",
        "user supplementary information",
        M::MonthOrZero,
        V3,
        CM,
        Some("UPHOSOKU"),
        "L4 L13-17",
    ),
    k(
        Up1Kyo,
        "UP1KYO",
        "居宅サービス計画1表",
        "care plan table 1",
        M::None,
        V3,
        CM,
        Some("UP1KYO"),
        "L4 L138-140",
    ),
    k(
        Dlt1Kyo,
        "DLT1KYO",
        "居宅サービス計画1表_削除",
        "care plan table 1 deletion",
        M::None,
        V3,
        CM,
        Some("DLT1KYO"),
        "L4 L221-223",
    ),
    k(
        Up2Kyo,
        "UP2KYO",
        "居宅サービス計画2表",
        "care plan table 2",
        M::None,
        V3,
        CM,
        Some("UP2KYO"),
        "L4 L252-254",
    ),
    k(
        Up3Kyo,
        "UP3KYO",
        "居宅サービス計画3表",
        "care plan table 3 (weekly schedule)",
        M::None,
        V40,
        CM,
        Some("UP3KYO"),
        "L4 L297-299",
    ),
    k(
        UpPlan,
        "UPPLAN",
        "第6表（サービス利用票）予定",
        "table 6 service plan (予定)",
        M::Required,
        V3,
        CM,
        Some("UPPLAN"),
        "L4 L343-346",
    ),
    k(
        UpJsk,
        "UPJSK",
        "実績情報",
        "actuals (実績)",
        M::Required,
        V3,
        SO,
        Some("UPPLAN"),
        "L4 L348-351",
    ),
    k(
        DltPlan,
        "DLTPLAN",
        "第6表（サービス利用票）予定_削除",
        "table 6 plan deletion",
        M::Required,
        V3,
        CM,
        Some("DLTPLAN"),
        "L4 L498-501",
    ),
    k(
        DltJsk,
        "DLTJSK",
        "実績情報_削除",
        "actuals deletion",
        M::Required,
        V3,
        SO,
        Some("DLTJSK"),
        "L4 L503-506",
    ),
    k(
        UpSikyu,
        "UPSIKYU",
        "第7表（サービス利用票別表）",
        "table 7 (service plan annex)",
        M::Required,
        V3,
        CM,
        Some("UPSIKYU"),
        "L4 L550-553",
    ),
    k(
        UpKihon,
        "UPKIHON",
        "利用者基本情報",
        "preventive care: user basic information",
        M::None,
        V40,
        CM,
        Some("UPKIHON"),
        "L4 L702-705",
    ),
    k(
        UpKihonSub1,
        "UPKIHON_SUB1",
        "利用者基本情報（別表1）",
        "user basic information annex 1 (daily schedule)",
        M::None,
        V40,
        CM,
        Some("UPKIHON_SUB1"),
        "L4 L893-898",
    ),
    k(
        UpKihonSub2,
        "UPKIHON_SUB2",
        "利用者基本情報（別表2）",
        "user basic information annex 2 (medical history)",
        M::None,
        V40,
        CM,
        Some("UPKIHON_SUB2"),
        "L4 L938-943",
    ),
    k(
        UpKihonImage,
        "UPKIHON_IMAGE",
        "家族構成 画像ファイル",
        "family composition image (JPEG)",
        M::None,
        V40,
        CM,
        None,
        "L4 L826-831",
    ),
    k(
        DltKihon,
        "DLTKIHON",
        "利用者基本情報_削除",
        "user basic information deletion",
        M::None,
        V40,
        CM,
        Some("DLTKIHON"),
        "L4 L858-861",
    ),
    k(
        UpYobo,
        "UPYOBO",
        "介護予防サービス・支援計画書",
        "preventive care service and support plan",
        M::None,
        V40,
        CM,
        Some("UPYOBO"),
        "L4 L984-987",
    ),
    k(
        UpYoboSub,
        "UPYOBO_SUB",
        "介護予防サービス・支援計画書（別表）",
        "preventive plan annex (support plan)",
        M::None,
        V40,
        CM,
        Some("UPYOBO_SUB"),
        "L4 L1209-1214",
    ),
    k(
        DltYobo,
        "DLTYOBO",
        "介護予防サービス・支援計画書_削除",
        "preventive plan deletion",
        M::None,
        V40,
        CM,
        Some("DLTYOBO"),
        "L4 L1173-1176",
    ),
];

#[expect(clippy::too_many_arguments, reason = "a table row constructor")]
const fn k(
    kind: FileKind,
    prefix: &'static str,
    title_ja: &'static str,
    title_en: &'static str,
    month: MonthRule,
    since: SpecVersion,
    sender: Sender,
    layout: Option<&'static str>,
    name_source: &'static str,
) -> KindInfo {
    KindInfo {
        kind,
        prefix,
        title_ja,
        title_en,
        month,
        since,
        sender,
        layout,
        name_source,
    }
}

impl FileKind {
    pub const ALL: [FileKind; 18] = [
        UpHosoku,
        Up1Kyo,
        Dlt1Kyo,
        Up2Kyo,
        Up3Kyo,
        UpPlan,
        UpJsk,
        DltPlan,
        DltJsk,
        UpSikyu,
        UpKihon,
        UpKihonSub1,
        UpKihonSub2,
        UpKihonImage,
        DltKihon,
        UpYobo,
        UpYoboSub,
        DltYobo,
    ];

    pub fn info(self) -> &'static KindInfo {
        // KIND_TABLE is in enum order; the unit test `table_is_in_enum_order` keeps it so.
        &KIND_TABLE[self as usize]
    }

    pub fn prefix(self) -> &'static str {
        self.info().prefix
    }

    pub fn from_prefix(prefix: &str) -> Option<Self> {
        KIND_TABLE
            .iter()
            .find(|i| i.prefix == prefix)
            .map(|i| i.kind)
    }

    /// True for the one kind that is not a CSV file.
    pub fn is_image(self) -> bool {
        self == UpKihonImage
    }

    /// True when the kind exists in files of `version`.
    pub fn exists_in(self, version: SpecVersion) -> bool {
        version >= self.info().since
    }

    /// Kinds whose records carry a service month and must hold exactly one (SUMMARY §3.3).
    pub fn is_monthly(self) -> bool {
        self.info().month == MonthRule::Required
    }

    /// Deletion files (optional on both sides, single-file send units).
    pub fn is_deletion(self) -> bool {
        matches!(self, Dlt1Kyo | DltPlan | DltJsk | DltKihon | DltYobo)
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_in_enum_order() {
        for (i, info) in KIND_TABLE.iter().enumerate() {
            assert_eq!(info.kind as usize, i, "{}", info.prefix);
            assert_eq!(FileKind::ALL[i], info.kind);
            assert_eq!(FileKind::from_prefix(info.prefix), Some(info.kind));
        }
    }

    #[test]
    fn v4_only_kinds() {
        assert!(!Up3Kyo.exists_in(SpecVersion::V3));
        assert!(Up3Kyo.exists_in(SpecVersion::V41));
        assert!(UpPlan.exists_in(SpecVersion::V3));
        assert!(!UpYobo.exists_in(SpecVersion::V3));
    }
}
