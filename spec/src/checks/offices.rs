//! Columns that carry a particular office's number (`data/office_columns.toml`): 更新業者コード is
//! the sending care manager's number in 補足/1表/2表/7表/6表 予定 and the service office's in 実績
//! (OFC001); プラン担当業者コード, 介護支援事業者コード, 同意書受付業者, 入力者コード and the 実績's
//! サービス事業者コード name the office the row implies (OFC002); where the 書式 says
//! 「居宅支援事業者番号」, a provider office of the file name is OFC003. Needs the parsed file name.

use std::sync::OnceLock;

use serde::Deserialize;

use crate::codes::{self, Benefit};
use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "offices",
    summary: "office-number columns carry the office the layout names (sender, receiver or the row's provider)",
    rules: &[
        RuleId::OfcUpdater,
        RuleId::OfcOther,
        RuleId::OfcProviderNumber,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| ctx.name.is_some() && data().iter().any(|c| c.kinds.contains(&ctx.kind)),
        new: |ctx| Box::new(Offices::new(ctx)),
    }],
    covers,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OfficeColumn {
    pub kinds: Vec<FileKind>,
    pub column: String,
    pub is: String,
    pub rule: String,
    #[serde(default)]
    pub unless_sender_care_manager: bool,
    #[serde(default)]
    pub care_manager_number: bool,
    pub whom: String,
    pub whom_ja: String,
    pub src: String,
}

#[derive(Deserialize)]
struct OfficeFile {
    column: Vec<OfficeColumn>,
}

/// The rows of `data/office_columns.toml`.
pub fn data() -> &'static [OfficeColumn] {
    static DATA: OnceLock<Vec<OfficeColumn>> = OnceLock::new();
    DATA.get_or_init(|| {
        let file: OfficeFile = toml::from_str(include_str!("../../data/office_columns.toml"))
            .unwrap_or_else(|e| {
                panic!("spec/data/office_columns.toml is invalid (a build-time data error): {e}")
            });
        file.column
    })
}

/// What a column must equal.
enum Expected {
    Office(String),
    Column(Col),
}

struct Rule {
    row: &'static OfficeColumn,
    rule: RuleId,
    col: Col,
    expected: Expected,
}

struct Offices {
    rules: Vec<Rule>,
    /// The offices of the file name whose service type is not care management (providers).
    providers: Vec<String>,
}

impl Offices {
    fn new(ctx: &FileContext) -> Self {
        let Some(name) = ctx.name else {
            return Self {
                rules: Vec::new(),
                providers: Vec::new(),
            };
        };
        let is_care_manager = |party: &crate::filename::Party| {
            party
                .service_type()
                .and_then(|t| codes::service_type(t.as_str()))
                .is_some_and(|t| t.benefit == Benefit::CareManagement)
        };
        let sender_is_care_manager = is_care_manager(&name.sender);
        let providers = [&name.sender, &name.receiver]
            .into_iter()
            .filter(|p| p.service_type().is_some() && !is_care_manager(p))
            .map(|p| p.office.to_string())
            .collect();
        let rules = data()
            .iter()
            .filter(|c| c.kinds.contains(&ctx.kind))
            .filter(|c| !(c.unless_sender_care_manager && sender_is_care_manager))
            .filter_map(|row| {
                let expected = match row.is.as_str() {
                    "sender" => Expected::Office(name.sender.office.to_string()),
                    "receiver" => Expected::Office(name.receiver.office.to_string()),
                    other => Expected::Column(ctx.col(other.strip_prefix("column:")?)),
                };
                Some(Rule {
                    row,
                    rule: RuleId::from_id(&row.rule)?,
                    col: ctx.col(&row.column),
                    expected,
                })
            })
            .filter(|r| r.col.is_present())
            .collect();
        Self { rules, providers }
    }
}

impl Check for Offices {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        for r in &self.rules {
            let value = rec.text(r.col);
            let expected = match &r.expected {
                Expected::Office(o) => o.as_str(),
                Expected::Column(c) => rec.text(*c),
            };
            // Empty values are the required rules' concern.
            if value.is_empty() || expected.is_empty() || super::same(value, expected) {
                continue;
            }
            // A provider of this very exchange where the 書式 asks for a 居宅支援事業者番号.
            let rule = if r.row.care_manager_number && self.providers.iter().any(|p| p == value) {
                RuleId::OfcProviderNumber
            } else {
                r.rule
            };
            out.sink.push(
                rec.finding(rule, r.col)
                    .value(value)
                    .arg("expected", expected)
                    .arg("whom", &r.row.whom)
                    .arg("whom_ja", &r.row.whom_ja),
            );
        }
    }
}

fn covers() -> Vec<super::Cover> {
    data()
        .iter()
        .filter_map(|row| {
            let rule = RuleId::from_id(&row.rule)?;
            let mut rules = vec![rule];
            if row.care_manager_number {
                rules.push(RuleId::OfcProviderNumber);
            }
            Some(super::cover(&row.kinds, &[&row.column], &rules))
        })
        .flatten()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout;
    use crate::version::SpecVersion;

    #[test]
    fn every_row_names_a_column_and_a_rule() {
        for row in data() {
            assert!(
                matches!(row.rule.as_str(), "OFC001" | "OFC002"),
                "{}",
                row.rule
            );
            for &kind in &row.kinds {
                let view = layout::view(kind, SpecVersion::V41).unwrap();
                assert!(view.col(&row.column).is_some(), "{kind} {}", row.column);
                if let Some(c) = row.is.strip_prefix("column:") {
                    assert!(view.col(c).is_some(), "{kind} {c}");
                } else {
                    assert!(
                        matches!(row.is.as_str(), "sender" | "receiver"),
                        "{}",
                        row.is
                    );
                }
            }
        }
    }
}
