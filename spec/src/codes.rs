//! Code tables (SUMMARY §5, `data/codes.toml`) and the service types in scope of the exchange
//! (SUMMARY §5.7, `data/service_types.toml`).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

/// One code and its label.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Code {
    pub code: String,
    pub label: String,
}

/// A named code table.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CodeTable {
    pub name: String,
    pub src: String,
    pub codes: Vec<Code>,
    pub doubt: Option<String>,
}

impl CodeTable {
    pub fn contains(&self, value: &str) -> bool {
        self.codes.iter().any(|c| c.code == value)
    }

    /// `11:初回, 12:紹介, …` for messages.
    pub fn summary(&self) -> String {
        self.codes
            .iter()
            .map(|c| format!("{}:{}", c.code, c.label))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[derive(Debug, Deserialize)]
struct CodeFile {
    tables: BTreeMap<String, CodeTable>,
    sikyu_summary: SikyuSummary,
}

/// The summary rows of 第7表 (`[sikyu_summary]` in `data/codes.toml`).
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SikyuSummary {
    pub src: String,
    /// サービスコード of the 全合計 row.
    pub grand_total_code: String,
    /// サービス事業所コード of the 全合計 row.
    pub grand_total_office: String,
    pub subtotals: Vec<Subtotal>,
}

/// One kind of 種類別小計: サービス種類 + `suffix`.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Subtotal {
    pub suffix: String,
    pub name: String,
    /// Required when the type has more than one code row.
    #[serde(default)]
    pub required_when_several_rows: bool,
    /// The subtotal of services outside the 区分支給限度 (its 給付管理単位数 stays empty).
    #[serde(default)]
    pub outside_limit: bool,
}

impl SikyuSummary {
    /// True for the 全合計 サービスコード.
    pub fn is_grand_total(&self, code: &str) -> bool {
        code == self.grand_total_code
    }

    /// The subtotal a サービスコード names (`<type><suffix>`), with its service type.
    pub fn subtotal(&self, code: &str) -> Option<(crate::domain::ServiceTypeCode, &Subtotal)> {
        let stype = crate::domain::ServiceTypeCode::of_service_code(code)?;
        let suffix = code.get(2..)?;
        self.subtotals
            .iter()
            .find(|s| s.suffix == suffix)
            .map(|s| (stype, s))
    }

    /// True for a summary row's サービスコード: a subtotal or the 全合計.
    pub fn is_summary(&self, code: &str) -> bool {
        self.is_grand_total(code) || self.subtotal(code).is_some()
    }
}

/// Which benefit a service type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Benefit {
    Kaigo,
    Yobo,
    Sogo,
    CareManagement,
}

/// One service type of the national code table, and whether the exchange covers it.
#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceType {
    pub code: String,
    pub name: String,
    pub benefit: Benefit,
    pub linked: bool,
    /// 福祉用具貸与: rows need a TAIS or 届出 code (L4 L428-440).
    #[serde(default)]
    pub equipment_rental: bool,
    /// A service with care managers of its own (小規模多機能型居宅介護 and the like, S4 L170): it
    /// writes plans as well as 実績.
    #[serde(default)]
    pub care_managers: bool,
    /// Outside the 区分支給限度基準額: 第7表 給付管理単位数 stays empty (L4 L646-652).
    #[serde(default)]
    pub outside_limit: bool,
    pub src: String,
    pub doubt: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ServiceTypeFile {
    types: Vec<ServiceType>,
}

fn code_file() -> &'static CodeFile {
    static FILE: OnceLock<CodeFile> = OnceLock::new();
    FILE.get_or_init(|| {
        toml::from_str(include_str!("../data/codes.toml")).unwrap_or_else(|e| {
            panic!("spec/data/codes.toml is invalid (a build-time data error): {e}")
        })
    })
}

fn code_tables() -> &'static BTreeMap<String, CodeTable> {
    &code_file().tables
}

/// The summary rows of 第7表.
pub fn sikyu_summary() -> &'static SikyuSummary {
    &code_file().sikyu_summary
}

/// True for a 第7表 summary サービスコード: `<type>AAAA`, `<type>EEEE`, `<type>ZZZZ` or `999999`.
pub fn is_summary_code(code: &str) -> bool {
    sikyu_summary().is_summary(code)
}

fn service_types() -> &'static [ServiceType] {
    static TYPES: OnceLock<Vec<ServiceType>> = OnceLock::new();
    TYPES.get_or_init(|| {
        let file: ServiceTypeFile = toml::from_str(include_str!("../data/service_types.toml"))
            .unwrap_or_else(|e| {
                panic!("spec/data/service_types.toml is invalid (a build-time data error): {e}")
            });
        file.types
    })
}

/// The code table named `name` in `data/codes.toml`.
pub fn table(name: &str) -> Option<&'static CodeTable> {
    code_tables().get(name)
}

/// Every code table, by name.
pub fn all_tables() -> impl Iterator<Item = (&'static str, &'static CodeTable)> {
    code_tables().iter().map(|(k, v)| (k.as_str(), v))
}

/// The service type `code`, if the national table has it.
pub fn service_type(code: &str) -> Option<&'static ServiceType> {
    // Looked up for nearly every record: indexed once by code, two characters of [0-9A-Z].
    fn digit(b: u8) -> Option<usize> {
        match b {
            b'0'..=b'9' => Some(usize::from(b - b'0')),
            b'A'..=b'Z' => Some(usize::from(b - b'A') + 10),
            _ => None,
        }
    }
    fn slot(code: &str) -> Option<usize> {
        match code.as_bytes() {
            &[a, b] => Some(digit(a)? * 36 + digit(b)?),
            _ => None,
        }
    }
    static BY_CODE: OnceLock<Vec<Option<&'static ServiceType>>> = OnceLock::new();
    let index = BY_CODE.get_or_init(|| {
        let mut index = vec![None; 36 * 36];
        for t in service_types() {
            // The first row of a code wins, as a search from the top would find it.
            if let Some(i) = slot(&t.code)
                && index[i].is_none()
            {
                index[i] = Some(t);
            }
        }
        index
    });
    match slot(code) {
        Some(i) => index[i],
        // Not of the code's shape: only a search can tell (none is found in the national table).
        None => service_types().iter().find(|t| t.code == code),
    }
}

/// Every service type known to the kit.
pub fn all_service_types() -> &'static [ServiceType] {
    service_types()
}

/// True for 福祉用具貸与 types (17, 67 in `service_types.toml`): rows need a TAIS or 届出 code.
pub fn is_equipment_rental(service_type: &str) -> bool {
    self::service_type(service_type).is_some_and(|t| t.equipment_rental)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layout::{Format, all_layouts};

    #[test]
    fn every_code_format_names_a_table() {
        for layout in all_layouts() {
            for c in &layout.columns {
                if let Format::Code(t) = &c.format {
                    assert!(
                        table(t).is_some(),
                        "{} No.{} names unknown table {t}",
                        layout.name,
                        c.no
                    );
                }
            }
        }
    }

    #[test]
    fn known_tables_hold_the_summary_codes() {
        let plan = table("plan_category").unwrap();
        for c in ["11", "12", "21", "51", "52", "53", "54"] {
            assert!(plan.contains(c), "{c}");
        }
        assert!(!plan.contains("13"));
        let level = table("care_level").unwrap();
        assert!(level.contains("06") && level.contains("25") && !level.contains("01"));
    }

    #[test]
    fn summary_codes() {
        assert!(is_summary_code("11AAAA"));
        assert!(is_summary_code("2AZZZZ"));
        assert!(is_summary_code("999999"));
        assert!(!is_summary_code("111111"));
        assert!(!is_summary_code("11AAAB"));
        assert!(!is_summary_code("あいAAAA"));
    }

    #[test]
    fn the_service_type_index_finds_what_a_search_finds() {
        let chars: Vec<char> = ('0'..='9').chain('A'..='Z').chain(['a', '-']).collect();
        for a in &chars {
            for b in &chars {
                let code = format!("{a}{b}");
                let searched = service_types().iter().find(|t| t.code == code);
                assert_eq!(
                    service_type(&code).map(|t| &t.code),
                    searched.map(|t| &t.code),
                    "{code}"
                );
            }
        }
        for t in service_types() {
            assert!(service_type(&t.code).is_some(), "{}", t.code);
        }
    }

    #[test]
    fn service_types_in_scope() {
        for linked in ["11", "13", "15", "17", "2A", "67", "A1", "A8", "43"] {
            assert!(service_type(linked).is_some_and(|t| t.linked), "{linked}");
        }
        for not_linked in ["33", "41", "42", "51", "59", "81"] {
            assert!(
                service_type(not_linked).is_some_and(|t| !t.linked),
                "{not_linked}"
            );
        }
        assert!(service_type("ZZ").is_none());
        assert!(
            is_equipment_rental("17") && is_equipment_rental("67") && !is_equipment_rental("11")
        );
    }
}
