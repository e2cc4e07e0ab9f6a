//! The import facts simulated products rely on (`harness/data/import_rules.toml`): which column
//! names a record's service office and type, what a deletion removes, and which fields a product
//! must carry from an import into its next export.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use careplan_spec::FileKind;
use serde::Deserialize;

/// Where a kind's records name their service office and type.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderColumns {
    pub office: String,
    /// A サービスコード column whose first two characters are the service type.
    #[serde(default)]
    pub service_code: Option<String>,
    /// A サービス種類コード column.
    #[serde(default)]
    pub service_type: Option<String>,
    pub src: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeleteRule {
    pub removes: Vec<FileKind>,
    pub src: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoundTrip {
    pub imported: FileKind,
    pub exported: FileKind,
    pub fields: Vec<String>,
    /// The fields that pair an imported record with an exported one (a subset of `fields`).
    pub pair_by: Vec<String>,
    pub src: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRules {
    pub provider: BTreeMap<FileKind, ProviderColumns>,
    pub deletes: BTreeMap<FileKind, DeleteRule>,
    pub round_trip: Vec<RoundTrip>,
}

/// The rules, parsed once (a data error is a build error: the tests load the file).
pub fn rules() -> &'static ImportRules {
    static RULES: OnceLock<ImportRules> = OnceLock::new();
    RULES.get_or_init(|| {
        toml::from_str(include_str!("../../data/import_rules.toml"))
            .unwrap_or_else(|e| panic!("harness/data/import_rules.toml is invalid: {e}"))
    })
}

/// The round-trip rule for an imported kind, if any.
pub fn round_trip_for(imported: FileKind) -> Option<&'static RoundTrip> {
    rules().round_trip.iter().find(|r| r.imported == imported)
}

#[cfg(test)]
mod tests {
    use super::*;
    use careplan_spec::layout;
    use careplan_spec::version::SpecVersion;

    #[test]
    fn every_column_named_exists_in_its_layouts() {
        let r = rules();
        for (kind, p) in &r.provider {
            let view = layout::view(*kind, SpecVersion::V41).expect("a layout");
            for c in [
                Some(&p.office),
                p.service_code.as_ref(),
                p.service_type.as_ref(),
            ]
            .into_iter()
            .flatten()
            {
                assert!(view.col(c).is_some(), "{kind}: {c}");
            }
            assert!(
                p.service_code.is_some() != p.service_type.is_some(),
                "{kind}"
            );
        }
        for t in &r.round_trip {
            for kind in [t.imported, t.exported] {
                let view = layout::view(kind, SpecVersion::V3).expect("a layout");
                for f in &t.fields {
                    assert!(view.col(f).is_some(), "{kind}: {f}");
                }
                for f in &t.pair_by {
                    assert!(t.fields.contains(f), "{kind}: pair_by {f} is not compared");
                }
                assert!(
                    rules().provider.contains_key(&t.imported),
                    "{kind}: no provider columns"
                );
            }
        }
        for (kind, d) in &r.deletes {
            assert!(kind.is_deletion(), "{kind}");
            assert!(!d.removes.is_empty());
        }
    }
}
