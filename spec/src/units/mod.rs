//! Send units (送信単位): the driver that groups file reports into units and judges them.
//!
//! Files are grouped by (ファイル連番, sender office, receiver office, folder); each group must match one
//! unit definition of its version (`data/send_units.toml`) and its files must agree on shape, month
//! and service types (UNIT001-005, here). A matched unit is then handed to the families' unit hooks
//! ([`crate::checks::Hook::Unit`]): cross-file keys, 6表 ↔ 7表 agreement. Units are returned in
//! import order: per receiver, by ascending 連番 (S4 L435-446, L664-679).

use std::collections::{BTreeMap, BTreeSet};

use crate::checks::{self, Hook, UnitFiles};
use crate::domain::{OfficeNumber, Serial, ServiceTypeCode};
use crate::filename::MonthSegment;
use crate::finding::Finding;
use crate::kind::FileKind;
use crate::report::FileReport;
use crate::rules::RuleId;
use crate::sink::Sink;
use crate::validate::Options;
use crate::version::SpecVersion;

pub use crate::unitdef::{HosokuRule, UnitDef, definitions, key_columns};

/// The rules this driver raises itself (the unit hooks' rules belong to their families).
pub static DRIVER_RULES: &[RuleId] = &[
    RuleId::UnitCombination,
    RuleId::UnitDuplicateKind,
    RuleId::UnitMixedShapes,
    RuleId::UnitMonthMismatch,
    RuleId::UnitServiceTypeMismatch,
];

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
    let folder_of = |r: &FileReport| {
        std::path::Path::new(&r.path)
            .parent()
            .map(|p| p.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let mut groups: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        if let Some(n) = &r.name {
            groups
                .entry((
                    n.receiver.office.clone(),
                    n.serial.clone(),
                    n.sender.office.clone(),
                    folder_of(r),
                ))
                .or_default()
                .push(i);
        }
    }
    // A file whose name gives no 連番 (renamed, identified from its content) is judged with the unit
    // of its folder when that is the only one; otherwise every unit of the folder says it could not
    // be placed (UNIT006). D-IDENTIFY.
    let mut unplaced: BTreeMap<Key, Vec<usize>> = BTreeMap::new();
    for (i, r) in reports.iter().enumerate() {
        if r.name.is_some() || r.kind.is_none() {
            continue;
        }
        let folder = folder_of(r);
        let here: Vec<Key> = groups.keys().filter(|k| k.3 == folder).cloned().collect();
        match here.as_slice() {
            [only] => groups.get_mut(only).expect("a key of groups").push(i),
            keys => {
                for k in keys {
                    unplaced.entry(k.clone()).or_default().push(i);
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut order: BTreeMap<OfficeNumber, usize> = BTreeMap::new();
    for (key, files) in groups {
        let mut sink = Sink::new("", options);
        let unit = check_group(reports, &files, &key.1, &mut sink);
        for &i in unplaced.get(&key).into_iter().flatten() {
            let path = &reports[i].path;
            let bare = std::path::Path::new(path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone());
            sink.push(
                Finding::new(RuleId::UnitUnplaced)
                    .file(path)
                    .arg("file", bare)
                    .arg(
                        "hint",
                        " — このフォルダには複数の送信単位があります / the folder holds several send units",
                    ),
            );
        }
        let (receiver, serial, sender, _folder) = key;
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
        .map(|&i| reports[i].kind.map(|k| k.prefix()).unwrap_or("?"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn check_group(
    reports: &[FileReport],
    files: &[usize],
    serial: &Serial,
    sink: &mut Sink,
) -> Option<&'static UnitDef> {
    let unit_finding = |rule: RuleId| Finding::new(rule).arg("serial", serial);
    // Names carry shape, service types and month; a renamed file placed here has only its content.
    let named: Vec<&crate::filename::FileName> = files
        .iter()
        .filter_map(|&i| reports[i].name.as_ref())
        .collect();

    // Versions and shapes.
    let shapes: BTreeSet<SpecVersion> = named.iter().map(|n| n.shape).collect();
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
        if let Some(kind) = reports[i].kind {
            kinds.entry(kind).or_default().push(i);
        }
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
    let types: BTreeSet<(Option<ServiceTypeCode>, Option<ServiceTypeCode>)> = named
        .iter()
        .filter(|n| n.shape.is_v4())
        .map(|n| (n.sender.service_type(), n.receiver.service_type()))
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
    let mut months: BTreeSet<String> = named
        .iter()
        .filter_map(|n| match n.month {
            Some(MonthSegment::Month(m)) => Some(m.to_string()),
            _ => None,
        })
        .collect();
    for &i in files {
        if reports[i].name.is_none() {
            months.extend(reports[i].months.iter().map(|m| m.to_string()));
        }
    }
    if months.len() > 1 {
        sink.push(
            unit_finding(RuleId::UnitMonthMismatch)
                .arg("months", months.into_iter().collect::<Vec<_>>().join(", ")),
        );
    }

    // The combination.
    let present: BTreeSet<FileKind> = kinds.keys().copied().collect();
    let hosoku = kinds.get(&FileKind::UpHosoku).map(|l| {
        let r = &reports[l[0]];
        let zero = match r.name.as_ref() {
            Some(n) => n.month == Some(MonthSegment::Zero),
            // From content: a 補足 tied to 1表 holds no service month.
            None => r.months.is_empty() && !r.keys.hosoku_plan.is_empty(),
        };
        if zero {
            HosokuRule::Zero
        } else {
            HosokuRule::Month
        }
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
    let unit = UnitFiles {
        serial,
        def,
        reports,
        kinds: &kinds,
    };
    for family in checks::FAMILIES {
        for hook in family.hooks {
            if let Hook::Unit(check) = hook {
                check(&unit, sink);
            }
        }
    }
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
