//! Send units (送信単位) and the keys between files (`data/send_units.toml`).
//!
//! Files are grouped by (ファイル連番, sender office, receiver office, folder); each group must match one
//! unit definition of its version, its files must agree on shape, month and service types, and the
//! keys of dependent files must find their parent (1表 ↔ 2表/3表/補足, 6表 ↔ 7表/補足, 利用者基本情報 ↔
//! 別表/画像, 計画書 ↔ 別表). Units are returned in import order: per receiver, by ascending 連番
//! (S4 L435-446, L664-679).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::domain::{OfficeNumber, Serial, ServiceTypeCode};
use crate::filename::MonthSegment;
use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::rules::RuleId;
use crate::validate::{FileReport, Options, Sink};
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

/// One send unit found among the files.
#[derive(Debug)]
pub struct UnitReport {
    pub serial: Serial,
    pub sender: OfficeNumber,
    pub receiver: OfficeNumber,
    /// Indices into the reports given to [`check_units`].
    pub files: Vec<usize>,
    /// The unit definition the files match, if any.
    pub unit: Option<&'static str>,
    pub unit_no: Option<&'static str>,
    /// 1-based position in the receiver's import order.
    pub import_order: usize,
    pub findings: Vec<Finding>,
}

/// Groups parsed files into send units and checks them. Files whose names did not parse are not
/// part of any unit.
pub fn check_units(reports: &[FileReport], options: Options) -> Vec<UnitReport> {
    // A send unit is one transfer: files in different folders never form one unit, even with equal
    // serials and offices (decision D-UNIT-FOLDER).
    type Key = (OfficeNumber, Serial, OfficeNumber, String);
    let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        if let Some(n) = &r.name {
            let folder = std::path::Path::new(&r.path)
                .parent()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            groups
                .entry((
                    n.receiver.office.clone(),
                    n.serial.clone(),
                    n.sender.office.clone(),
                    folder,
                ))
                .or_default()
                .push(i);
        }
    }
    let mut out = Vec::new();
    let mut order: BTreeMap<OfficeNumber, usize> = BTreeMap::new();
    for ((receiver, serial, sender, _folder), files) in groups {
        let mut sink = Sink::new("", options);
        let unit = check_group(reports, &files, &serial, &mut sink);
        let position = order.entry(receiver.clone()).or_insert(0);
        *position += 1;
        out.push(UnitReport {
            serial,
            sender,
            receiver,
            files,
            unit: unit.map(|u| u.id.as_str()),
            unit_no: unit.map(|u| u.no.as_str()),
            import_order: *position,
            findings: sink.findings,
        });
    }
    out
}

fn names(reports: &[FileReport], files: &[usize]) -> String {
    files
        .iter()
        .map(|&i| {
            reports[i]
                .name
                .as_ref()
                .map(|n| n.kind.prefix())
                .unwrap_or("?")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_group(
    reports: &[FileReport],
    files: &[usize],
    serial: &Serial,
    sink: &mut Sink,
) -> Option<&'static UnitDef> {
    let name = |i: usize| reports[i].name.as_ref().expect("grouped files have names");
    let unit_finding = |rule: RuleId| Finding::new(rule).arg("serial", serial);

    // Versions and shapes.
    let shapes: BTreeSet<SpecVersion> = files.iter().map(|&i| name(i).shape).collect();
    if shapes.len() > 1 {
        let list = shapes
            .iter()
            .map(|s| s.label())
            .collect::<Vec<_>>()
            .join(", ");
        sink.push(unit_finding(RuleId::UnitMixedShapes).arg("shapes", list));
    }
    let version = shapes.iter().copied().max().unwrap_or(SpecVersion::V41);

    // Duplicate kinds.
    let mut kinds: BTreeMap<FileKind, Vec<usize>> = BTreeMap::new();
    for &i in files {
        kinds.entry(name(i).kind).or_default().push(i);
    }
    for (kind, list) in &kinds {
        if list.len() > 1 && *kind != FileKind::UpKihonImage {
            sink.push(
                unit_finding(RuleId::UnitDuplicateKind)
                    .arg("kind", kind.prefix())
                    .file(&reports[list[1]].path),
            );
        }
    }

    // Service types named in the files (only names that carry them; V3 names have none, and a
    // V3/V4 mix is UNIT003's concern).
    let types: BTreeSet<(Option<ServiceTypeCode>, Option<ServiceTypeCode>)> = files
        .iter()
        .filter(|&&i| name(i).shape.is_v4())
        .map(|&i| {
            (
                name(i).sender.service_type(),
                name(i).receiver.service_type(),
            )
        })
        .collect();
    if types.len() > 1 {
        let show = |t: &Option<ServiceTypeCode>| {
            t.map(|c| c.to_string()).unwrap_or_else(|| "-".to_owned())
        };
        let list = types
            .iter()
            .map(|(s, r)| format!("{}→{}", show(s), show(r)))
            .collect::<Vec<_>>()
            .join(", ");
        sink.push(unit_finding(RuleId::UnitServiceTypeMismatch).arg("types", list));
    }

    // Months of the monthly files and of a month-tied 補足.
    let months: BTreeSet<String> = files
        .iter()
        .filter_map(|&i| match name(i).month {
            Some(MonthSegment::Month(m)) => Some(m.to_string()),
            _ => None,
        })
        .collect();
    if months.len() > 1 {
        sink.push(
            unit_finding(RuleId::UnitMonthMismatch)
                .arg("months", months.into_iter().collect::<Vec<_>>().join(", ")),
        );
    }

    // The combination.
    let present: BTreeSet<FileKind> = kinds.keys().copied().collect();
    let hosoku = kinds
        .get(&FileKind::UpHosoku)
        .map(|l| match name(l[0]).month {
            Some(MonthSegment::Zero) => HosokuRule::Zero,
            _ => HosokuRule::Month,
        });
    let matched = definitions().iter().find(|d| {
        d.applies_to(version)
            && d.required.iter().all(|k| present.contains(k))
            && present
                .iter()
                .all(|k| d.required.contains(k) || d.optional.contains(k))
            && (d.hosoku.is_none() || d.hosoku == hosoku)
    });
    let Some(def) = matched else {
        let hint = closest_hint(&present, hosoku, version);
        sink.push(
            unit_finding(RuleId::UnitCombination)
                .arg("kinds", names(reports, files))
                .arg("hint", hint),
        );
        return None;
    };
    check_keys(reports, &kinds, sink);
    Some(def)
}

/// What the nearest definition would need: the missing and the extra kinds.
fn closest_hint(
    present: &BTreeSet<FileKind>,
    hosoku: Option<HosokuRule>,
    version: SpecVersion,
) -> String {
    let best = definitions()
        .iter()
        .filter(|d| d.applies_to(version))
        .max_by_key(|d| {
            let allowed = |k: &FileKind| d.required.contains(k) || d.optional.contains(k);
            let overlap = present.iter().filter(|k| allowed(k)).count() as i64;
            let missing = d.required.iter().filter(|k| !present.contains(k)).count() as i64;
            let extra = present.iter().filter(|k| !allowed(k)).count() as i64;
            overlap * 4 - missing - extra
        });
    let Some(d) = best else { return String::new() };
    let missing: Vec<&str> = d
        .required
        .iter()
        .filter(|k| !present.contains(k))
        .map(|k| k.prefix())
        .collect();
    let extra: Vec<&str> = present
        .iter()
        .filter(|k| !d.required.contains(k) && !d.optional.contains(k))
        .map(|k| k.prefix())
        .collect();
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(format!("missing / 不足: {}", missing.join(", ")));
    }
    if !extra.is_empty() {
        parts.push(format!("not allowed / 不要: {}", extra.join(", ")));
    }
    if d.hosoku.is_some() && hosoku.is_some() && d.hosoku != hosoku {
        let want = if d.hosoku == Some(HosokuRule::Zero) {
            "UPHOSOKU_000000"
        } else {
            "UPHOSOKU_YYYYMM"
        };
        parts.push(format!("補足 should be {want}"));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!(" — nearest {} ({}): {}", d.no, d.name_en, parts.join("; "))
    }
}

/// Key agreement between the files of one matched unit.
fn check_keys(reports: &[FileReport], kinds: &BTreeMap<FileKind, Vec<usize>>, sink: &mut Sink) {
    let one = |k: FileKind| kinds.get(&k).and_then(|l| l.first()).map(|&i| &reports[i]);
    let at = |line: u32| Location {
        line,
        column: 1,
        offset: 0,
    };
    let mut missing = |rule: RuleId,
                       child: &FileReport,
                       keys: &BTreeMap<String, u32>,
                       parent: &BTreeMap<String, u32>,
                       extra: &[(&'static str, &str)]| {
        for (key, line) in keys {
            if !parent.contains_key(key) {
                let mut f = Finding::new(rule)
                    .file(&child.path)
                    .at(at(*line))
                    .arg("key", key);
                for (k, v) in extra {
                    f = f.arg(k, v);
                }
                sink.push(f);
            }
        }
    };
    let empty = BTreeMap::new();
    if let Some(t1) = one(FileKind::Up1Kyo) {
        for k in [FileKind::Up2Kyo, FileKind::Up3Kyo] {
            if let Some(r) = one(k) {
                missing(
                    RuleId::XrfPlanWithoutTable1,
                    r,
                    &r.keys.main,
                    &t1.keys.main,
                    &[("kind", k.prefix())],
                );
            }
        }
        let hosoku = one(FileKind::UpHosoku)
            .map(|h| &h.keys.hosoku_plan)
            .unwrap_or(&empty);
        missing(
            RuleId::XrfTable1WithoutHosoku,
            t1,
            &t1.keys.main,
            hosoku,
            &[],
        );
        if let Some(h) = one(FileKind::UpHosoku) {
            missing(
                RuleId::XrfOrphanHosoku,
                h,
                &h.keys.hosoku_plan,
                &t1.keys.main,
                &[("parent", "第1表 / table 1")],
            );
        }
    }
    if let Some(t6) = one(FileKind::UpPlan) {
        if let Some(t7) = one(FileKind::UpSikyu) {
            missing(
                RuleId::XrfSikyuWithoutPlan,
                t7,
                &t7.keys.main,
                &t6.keys.main,
                &[],
            );
            missing(
                RuleId::XrfPlanWithoutSikyu,
                t6,
                &t6.keys.main,
                &t7.keys.main,
                &[],
            );
        }
        let hosoku = one(FileKind::UpHosoku)
            .map(|h| &h.keys.hosoku_month)
            .unwrap_or(&empty);
        missing(RuleId::XrfPlanWithoutHosoku, t6, &t6.keys.main, hosoku, &[]);
        if let Some(h) = one(FileKind::UpHosoku) {
            missing(
                RuleId::XrfOrphanHosoku,
                h,
                &h.keys.hosoku_month,
                &t6.keys.main,
                &[("parent", "第6表 / table 6")],
            );
        }
    }
    let parents = [
        (FileKind::UpKihonSub1, FileKind::UpKihon),
        (FileKind::UpKihonSub2, FileKind::UpKihon),
        (FileKind::UpYoboSub, FileKind::UpYobo),
    ];
    for (child, parent) in parents {
        if let Some(c) = one(child) {
            let p = one(parent).map(|p| &p.keys.main).unwrap_or(&empty);
            missing(
                RuleId::XrfSubWithoutParent,
                c,
                &c.keys.main,
                p,
                &[("kind", child.prefix()), ("parent", parent.prefix())],
            );
        }
    }
    if let Some(kihon) = one(FileKind::UpKihon) {
        let sent: BTreeSet<String> = kinds
            .get(&FileKind::UpKihonImage)
            .into_iter()
            .flatten()
            .filter_map(|&i| reports[i].name.as_ref().map(|n| n.to_string()))
            .collect();
        for (image, line) in &kihon.keys.images {
            let found = sent.iter().any(|s| s.eq_ignore_ascii_case(image));
            if !found {
                sink.push(
                    Finding::new(RuleId::XrfImageMissing)
                        .file(&kihon.path)
                        .at(at(*line))
                        .value(image),
                );
            }
        }
    }
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
