//! The send units (送信単位) of the standard and the key columns that join files
//! (`data/send_units.toml`): which combinations of file kinds one ファイル連番 may carry, in which
//! versions, and which columns identify a record of each kind. Data only; the checks that use it
//! live in [`crate::units`] (combinations, cross-file keys) and [`crate::validate`] (keys collected
//! per file).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::kind::FileKind;
use crate::version::SpecVersion;

/// Which 補足 a unit carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HosokuRule {
    /// `UPHOSOKU_000000_…`, tied to 1表.
    Zero,
    /// `UPHOSOKU_YYYYMM_…`, tied to 6表.
    Month,
}

/// One allowed combination of files.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct UnitDef {
    pub id: String,
    pub no: String,
    pub name_ja: String,
    pub name_en: String,
    pub required: Vec<FileKind>,
    pub optional: Vec<FileKind>,
    pub hosoku: Option<HosokuRule>,
    pub since: Option<SpecVersion>,
    pub until: Option<SpecVersion>,
    pub src: String,
}

impl UnitDef {
    pub fn applies_to(&self, version: SpecVersion) -> bool {
        self.since.is_none_or(|s| version >= s) && self.until.is_none_or(|u| version <= u)
    }
}

#[derive(Deserialize)]
struct UnitFile {
    units: Vec<UnitDef>,
    keys: BTreeMap<String, Vec<String>>,
}

fn data() -> &'static UnitFile {
    static DATA: OnceLock<UnitFile> = OnceLock::new();
    DATA.get_or_init(|| {
        toml::from_str(include_str!("../data/send_units.toml")).unwrap_or_else(|e| {
            panic!("spec/data/send_units.toml is invalid (a build-time data error): {e}")
        })
    })
}

/// Every unit definition.
pub fn definitions() -> &'static [UnitDef] {
    &data().units
}

/// The key columns of a kind (or of `UPHOSOKU_PLAN` / `UPHOSOKU_MONTH`); empty when it has none.
pub fn key_columns(name: &str) -> &'static [String] {
    data().keys.get(name).map(Vec::as_slice).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definitions_load_and_cover_every_kind() {
        for kind in FileKind::ALL {
            assert!(
                definitions()
                    .iter()
                    .any(|d| d.required.contains(&kind) || d.optional.contains(&kind)),
                "{kind} is in no send unit"
            );
        }
        let v3_plan = definitions()
            .iter()
            .find(|d| d.id == "kyotaku-plan" && d.applies_to(SpecVersion::V3))
            .unwrap();
        assert!(!v3_plan.required.contains(&FileKind::Up3Kyo));
        let v4_plan = definitions()
            .iter()
            .find(|d| d.id == "kyotaku-plan" && d.applies_to(SpecVersion::V41))
            .unwrap();
        assert!(v4_plan.required.contains(&FileKind::Up3Kyo));
    }

    #[test]
    fn key_columns_exist_in_the_layouts() {
        for kind in FileKind::ALL {
            let cols = key_columns(kind.prefix());
            for version in SpecVersion::ALL {
                let Some(view) = crate::layout::view(kind, version) else {
                    continue;
                };
                for c in cols {
                    assert!(view.col(c).is_some(), "{kind} {version}: key column {c}");
                }
            }
        }
        let h = crate::layout::view(FileKind::UpHosoku, SpecVersion::V41).unwrap();
        for c in key_columns("UPHOSOKU_PLAN")
            .iter()
            .chain(key_columns("UPHOSOKU_MONTH"))
        {
            assert!(h.col(c).is_some(), "{c}");
        }
    }
}
