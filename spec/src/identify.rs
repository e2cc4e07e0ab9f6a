//! Identifying a file from its content when its name does not say what it is (a file that arrived
//! renamed, or a name with a broken shape): the first record's column count and CSVバージョン pick
//! the candidate layouts, and the number of fields that fit each candidate's formats decides.
//! Decision D-IDENTIFY in docs/decisions.md.

use crate::format::{self as field, FieldCheck};
use crate::kind::FileKind;
use crate::layout::{self, LayoutView};
use crate::version::{CsvVersion, SpecVersion};

/// The best reading of a record.
#[derive(Debug, PartialEq, Eq)]
pub struct Guess {
    pub kind: FileKind,
    pub version: SpecVersion,
    /// Other kinds that fit equally well (deletion files share one shape).
    pub alternatives: Vec<FileKind>,
}

fn score(view: &LayoutView, values: &[String]) -> usize {
    view.columns
        .iter()
        .zip(values)
        .map(|(c, v)| {
            if v.is_empty() {
                usize::from(!c.column.req)
            } else {
                usize::from(matches!(
                    field::check(c.format(), v, c.column.min, c.column.max),
                    FieldCheck::Ok | FieldCheck::Negative
                )) * 2
            }
        })
        .sum()
}

/// Identifies the kind and layout family of a file from the decoded fields of its first record.
/// `hint` restricts the kind when the name's prefix was readable.
pub fn identify(hint: Option<FileKind>, values: &[String]) -> Result<Guess, String> {
    let family = values
        .first()
        .and_then(|v| CsvVersion::lookup(v))
        .and_then(|v| v.spec)
        .map(|s| {
            if s.is_v4() {
                SpecVersion::V41
            } else {
                SpecVersion::V3
            }
        })
        .unwrap_or(SpecVersion::V41);
    let kinds: Vec<FileKind> = match hint {
        Some(k) => vec![k],
        None => FileKind::ALL
            .iter()
            .copied()
            .filter(|k| !k.is_image())
            .collect(),
    };
    let mut best: Vec<(usize, FileKind, SpecVersion)> = Vec::new();
    for version in [family, SpecVersion::V41, SpecVersion::V3] {
        for &kind in &kinds {
            let Some(view) = layout::view(kind, version) else {
                continue;
            };
            if view.len() != values.len() {
                continue;
            }
            let s = score(view, values);
            if best.first().is_none_or(|b| s > b.0) {
                best = vec![(s, kind, version)];
            } else if best.first().is_some_and(|b| s == b.0) && !best.iter().any(|b| b.1 == kind) {
                best.push((s, kind, version));
            }
        }
        if !best.is_empty() {
            break;
        }
    }
    let Some(&(_, mut kind, version)) = best.first() else {
        return Err(format!("no layout has {} columns", values.len()));
    };
    let mut alternatives: Vec<FileKind> = best.iter().skip(1).map(|b| b.1).collect();
    // 予定 and 実績 share one layout: a 実績 record's 更新業者コード is the service office
    // (サービス事業者コード), a 予定 record's the care manager (プラン担当業者コード) (L4 L482-484).
    if kind == FileKind::UpPlan || kind == FileKind::UpJsk {
        let view = layout::view(FileKind::UpPlan, version).expect("6表 layout");
        let get = |name: &str| {
            view.col(name)
                .and_then(|i| values.get(i))
                .map(String::as_str)
        };
        kind = if get("更新業者コード").is_some()
            && get("更新業者コード") == get("サービス事業者コード")
            && get("更新業者コード") != get("プラン担当業者コード")
        {
            FileKind::UpJsk
        } else {
            FileKind::UpPlan
        };
        alternatives.retain(|k| *k != FileKind::UpPlan && *k != FileKind::UpJsk);
    }
    Ok(Guess {
        kind,
        version,
        alternatives,
    })
}

/// A hint for a wrong column count: the count another version of the same layout has.
pub fn column_count_hint(view: &LayoutView, found: usize) -> String {
    for version in SpecVersion::ALL {
        if version == view.version || (version.is_v4() && view.version.is_v4()) {
            continue;
        }
        for kind in &view.layout.kinds {
            if layout::view(*kind, version).is_some_and(|v| v.len() == found) {
                return format!(
                    " — {found} columns is the {version} layout / {found} 項目は {version} のレイアウト"
                );
            }
        }
    }
    String::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(kind: FileKind, version: SpecVersion, fill: &[(&str, &str)]) -> Vec<String> {
        let view = layout::view(kind, version).unwrap();
        let mut out = vec![String::new(); view.len()];
        for (name, v) in fill {
            out[view.col(name).unwrap()] = (*v).to_owned();
        }
        out
    }

    #[test]
    fn tells_plan_from_actuals_by_the_updating_office() {
        let base = [
            ("CSVバージョン", "202407"),
            ("保険者番号", "030001"),
            ("被保険者番号", "1234567890"),
            ("作成年月日", "20250401"),
            ("対象年月", "202505"),
            ("プラン担当業者コード", "0310000100"),
            ("サービス利用日", "20250501"),
            ("サービス開始時刻", "0900"),
            ("サービス終了時刻", "1000"),
            ("サービス回数", "1"),
            ("サービスコード", "111111"),
            ("サービス事業者コード", "0320000201"),
            ("３０日超区分", "0"),
        ];
        let mut plan = base.to_vec();
        plan.push(("更新業者コード", "0310000100"));
        let g = identify(None, &record(FileKind::UpPlan, SpecVersion::V41, &plan)).unwrap();
        assert_eq!((g.kind, g.version), (FileKind::UpPlan, SpecVersion::V41));
        let mut actual = base.to_vec();
        actual.push(("更新業者コード", "0320000201"));
        let g = identify(None, &record(FileKind::UpPlan, SpecVersion::V41, &actual)).unwrap();
        assert_eq!(g.kind, FileKind::UpJsk);
    }

    #[test]
    fn deletion_files_are_ambiguous_and_say_so() {
        let values: Vec<String> = ["202407", "030001", "1234567890", "20250401"]
            .map(String::from)
            .to_vec();
        let g = identify(None, &values).unwrap();
        assert!(!g.alternatives.is_empty(), "{g:?}");
        let values: Vec<String> = ["202407", "030001", "1234567890", "202505"]
            .map(String::from)
            .to_vec();
        assert_eq!(identify(None, &values).unwrap().kind, FileKind::DltPlan);
    }

    #[test]
    fn unknown_width_is_an_error() {
        assert!(identify(None, &vec![String::new(); 5]).is_err());
    }
}
