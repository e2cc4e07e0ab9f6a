//! Versions of the standard: the three layout/name families the kit knows ([`SpecVersion`]) and the
//! CSVバージョン values written in column No.1 ([`CsvVersion`], loaded from `data/versions.toml`).

use std::fmt;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::Month;

/// A family of layouts and file-name shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum SpecVersion {
    /// 第3版 (3.0–3.2), CSVバージョン 202208: names without service types.
    #[serde(rename = "v3")]
    V3,
    /// 第4.0版 (202504, withdrawn): names with a 3-character code after each office number.
    #[serde(rename = "v4.0")]
    V40,
    /// 第4.1版 (202407): names with a 2-character service type after each office number.
    #[serde(rename = "v4.1")]
    V41,
}

impl SpecVersion {
    pub const ALL: [SpecVersion; 3] = [SpecVersion::V3, SpecVersion::V40, SpecVersion::V41];

    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "v3" | "3" | "202208" => Some(Self::V3),
            "v4.0" | "4.0" | "v40" | "202504" => Some(Self::V40),
            "v4.1" | "4.1" | "v41" | "v4" | "202407" => Some(Self::V41),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::V3 => "v3",
            Self::V40 => "v4.0",
            Self::V41 => "v4.1",
        }
    }

    /// True for the two V4 families, whose layouts are identical.
    pub fn is_v4(self) -> bool {
        self != Self::V3
    }

    /// The CSVバージョン value a conformant writer puts in files of this family.
    pub fn csv_version(self) -> &'static str {
        match self {
            Self::V3 => "202208",
            Self::V40 => "202504",
            Self::V41 => "202407",
        }
    }
}

impl fmt::Display for SpecVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// How a CSVバージョン value is treated today.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum VersionStatus {
    Current,
    Withdrawn,
    Historical,
}

/// One row of `data/versions.toml`.
#[derive(Debug, Deserialize)]
pub struct CsvVersion {
    pub value: String,
    pub edition: String,
    pub applies_from: Month,
    pub status: VersionStatus,
    pub spec: Option<SpecVersion>,
    pub src: String,
}

/// A value known to be written by mistake, with the explanation shown to users.
#[derive(Debug, Deserialize)]
pub struct KnownWrongVersion {
    pub value: String,
    pub why_ja: String,
    pub why_en: String,
    pub src: String,
}

#[derive(Debug, Deserialize)]
struct VersionTable {
    versions: Vec<CsvVersion>,
    known_wrong: Vec<KnownWrongVersion>,
}

fn table() -> &'static VersionTable {
    static TABLE: OnceLock<VersionTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        toml::from_str(include_str!("../data/versions.toml")).unwrap_or_else(|e| {
            panic!("spec/data/versions.toml is invalid (a build-time data error): {e}")
        })
    })
}

impl CsvVersion {
    pub fn all() -> &'static [CsvVersion] {
        &table().versions
    }

    pub fn lookup(value: &str) -> Option<&'static CsvVersion> {
        table().versions.iter().find(|v| v.value == value)
    }

    pub fn known_wrong(value: &str) -> Option<&'static KnownWrongVersion> {
        table().known_wrong.iter().find(|v| v.value == value)
    }

    /// The layout families whose files may carry this value.
    pub fn accepted_by(&self, family: SpecVersion) -> bool {
        match self.spec {
            Some(SpecVersion::V3) => family == SpecVersion::V3,
            Some(_) => family.is_v4(),
            None => false,
        }
    }

    /// The current value in force for a service month: the latest current value whose
    /// 適用開始年月 is not after `month`.
    pub fn in_force(month: Month) -> Option<&'static CsvVersion> {
        table()
            .versions
            .iter()
            .filter(|v| v.status == VersionStatus::Current && v.applies_from <= month)
            .max_by_key(|v| v.applies_from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_loads_and_knows_the_current_values() {
        assert_eq!(
            CsvVersion::lookup("202208").unwrap().spec,
            Some(SpecVersion::V3)
        );
        assert_eq!(
            CsvVersion::lookup("202407").unwrap().status,
            VersionStatus::Current
        );
        assert_eq!(
            CsvVersion::lookup("202504").unwrap().status,
            VersionStatus::Withdrawn
        );
        assert!(CsvVersion::lookup("202410").is_none());
        assert!(CsvVersion::known_wrong("202410").is_some());
        for family in SpecVersion::ALL {
            let v = CsvVersion::lookup(family.csv_version()).unwrap();
            assert!(v.accepted_by(family));
        }
    }

    #[test]
    fn version_in_force_follows_the_service_month() {
        let m = |s| Month::parse(s).unwrap();
        assert_eq!(CsvVersion::in_force(m("202503")).unwrap().value, "202208");
        assert_eq!(CsvVersion::in_force(m("202504")).unwrap().value, "202407");
        assert!(CsvVersion::in_force(m("202212")).is_none());
    }
}
