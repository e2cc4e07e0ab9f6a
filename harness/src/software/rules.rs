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
    /// How reports name a record: text with `{column}` placeholders (columns of `fields`).
    pub record: String,
    pub src: String,
}

impl RoundTrip {
    /// A record's name in reports: [`RoundTrip::record`] with its values filled in.
    pub fn record_name(&'static self, values: &BTreeMap<String, String>) -> String {
        let args: Vec<(&'static str, String)> = self
            .record_columns()
            .into_iter()
            .map(|c| (c, values.get(c).cloned().unwrap_or_default()))
            .collect();
        careplan_spec::rules::render(&self.record, &args)
    }

    /// The columns `record` names.
    pub fn record_columns(&'static self) -> Vec<&'static str> {
        careplan_spec::rules::placeholders(&self.record)
    }
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
                let named = t.record_columns();
                assert!(!named.is_empty(), "{kind}: record names no column");
                for c in named {
                    assert!(t.fields.iter().any(|f| f == c), "{kind}: record names {c}");
                }
                assert!(
                    rules().provider.contains_key(&t.imported),
                    "{kind}: no provider columns"
                );
            }
        }
        let t = &r.round_trip[0];
        let values: BTreeMap<String, String> = [
            ("保険者番号", "131016"),
            ("被保険者番号", "1234500001"),
            ("サービス利用日", "20250602"),
            ("サービスコード", "151325"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(t.record_name(&values), "131016/1234500001 20250602 151325");
        for (kind, d) in &r.deletes {
            assert!(kind.is_deletion(), "{kind}");
            assert!(!d.removes.is_empty());
        }
    }
}
