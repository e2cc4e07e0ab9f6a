//! The checks of an `assert` step, each judged into its own case: what a persona holds
//! (`holds`), import conformance by round trip (`round_trip`: the records imported come back in
//! the next export, compared cell by cell), conformance of exported or received files under the
//! spec core (`valid`, `rules`), and byte-for-byte delivery (`unchanged`).

use std::collections::BTreeMap;

use careplan_spec::validate::Options;
use careplan_spec::{FileKind, Severity};

use super::judge::{case, with};
use super::office::{OfficeRun, index_of};
use crate::outcome::{CaseOutcome, CellDiff, CsvDiff, Verdict};
use crate::scenario::Step;
use crate::software::StoredFile;
use crate::software::rules::{round_trip_for, rules};
use crate::software::state::{DocQuery, records_of_type};

/// The checks of an `assert` step, one case each: holds, round trip, conformance, byte-for-byte
/// delivery.
pub(super) fn assert(offices: &[OfficeRun], office: usize, st: &Step) -> Vec<CaseOutcome> {
    let o = &offices[office];
    let mut cases = Vec::new();
    if let Some(h) = &st.holds {
        let mut c = match o.software.state() {
            None => case(
                Verdict::NotApplicable,
                "the software's internal state is not visible to the kit (a SUT); judged by round trip instead",
            ),
            Some(state) => {
                let query = DocQuery {
                    kind: Some(h.kind),
                    user: h.user.clone(),
                    month: h.month.as_deref().map(|m| m.replace('-', "")),
                    partner: h
                        .partner
                        .as_deref()
                        .and_then(|p| index_of(offices, p))
                        .map(|i| offices[i].number.as_str().to_owned()),
                };
                let docs = state.find(&query);
                let records = records_of_type(&docs, h.service_type.as_deref())
                    .into_iter()
                    .filter(|r| {
                        h.matching
                            .iter()
                            .all(|(k, v)| r.get(k).map(String::as_str).unwrap_or("") == v)
                    })
                    .count();
                let (n, want, unit) = match (h.records, h.documents) {
                    (Some(want), _) => (records, want, "records"),
                    (None, want) => {
                        // Documents of the type and with a matching record (image documents
                        // have no records: only the kind and partner select them).
                        let n = docs
                            .iter()
                            .filter(|d| {
                                let rs = records_of_type(
                                    std::slice::from_ref(d),
                                    h.service_type.as_deref(),
                                );
                                (d.records.is_empty()
                                    && h.service_type.is_none()
                                    && h.matching.is_empty())
                                    || rs.iter().any(|r| {
                                        h.matching.iter().all(|(k, v)| {
                                            r.get(k).map(String::as_str).unwrap_or("") == v
                                        })
                                    })
                            })
                            .count();
                        (n, want.unwrap_or(0), "documents")
                    }
                };
                let what = format!(
                    "{want} {unit} of {}{}{}{}{}",
                    h.kind,
                    h.user
                        .as_ref()
                        .map(|u| format!(" for {u}"))
                        .unwrap_or_default(),
                    h.month
                        .as_ref()
                        .map(|m| format!(" in {m}"))
                        .unwrap_or_default(),
                    h.service_type
                        .as_ref()
                        .map(|t| format!(" of type {t}"))
                        .unwrap_or_default(),
                    if h.matching.is_empty() {
                        String::new()
                    } else {
                        format!(" where {:?}", h.matching)
                    }
                );
                let mut c = if n == want {
                    case(Verdict::Pass, format!("holds {what}"))
                } else {
                    with(
                        case(Verdict::Fail, format!("holds {n}, expected {what}")),
                        Some(what),
                        Some(format!("{n} {unit}")),
                    )
                };
                c.log = docs.iter().map(|d| d.summary()).collect();
                c
            }
        };
        c.name = "holds".to_owned();
        cases.push(c);
    }
    if st.round_trip == Some(true) {
        let mut c = round_trip(o);
        c.name = "round trip".to_owned();
        cases.push(c);
    }
    if st.valid.is_some() || st.rules.is_some() {
        let files = if st.of.as_deref() == Some("received") {
            &o.last_received
        } else {
            &o.last_export
        };
        let mut c = validity(files, st.valid, st.rules.as_deref().unwrap_or(&[]));
        c.name = "conformance".to_owned();
        cases.push(c);
    }
    if st.unchanged == Some(true) {
        let mut diffs = Vec::new();
        for f in &o.last_received {
            match o.sent_to_me.get(&f.name) {
                Some(b) if *b == f.bytes => {}
                Some(_) => diffs.push(format!("{}: bytes differ", f.name)),
                None => diffs.push(format!("{}: never sent to this office", f.name)),
            }
        }
        let mut c = if o.last_received.is_empty() {
            case(Verdict::Fail, "nothing was fetched")
        } else if diffs.is_empty() {
            case(
                Verdict::Pass,
                format!("{} files delivered byte for byte", o.last_received.len()),
            )
        } else {
            with(
                case(Verdict::Fail, diffs[0].clone()),
                Some("the bytes sent".to_owned()),
                Some(diffs.join("; ")),
            )
        };
        c.name = "byte-for-byte delivery".to_owned();
        cases.push(c);
    }
    cases
}

/// The spec core's verdict on a set of files against what the step expects.
fn validity(files: &[StoredFile], valid: Option<bool>, rules: &[String]) -> CaseOutcome {
    if files.is_empty() {
        return case(Verdict::Fail, "no files to check");
    }
    let checked = crate::check::in_memory(
        files.iter().map(|f| (f.name.as_str(), f.bytes.as_slice())),
        Options::default(),
    );
    let located = checked.located();
    let findings: Vec<String> = located
        .iter()
        .map(|(at, f)| {
            format!(
                "{at} {}[{}] {}",
                f.severity.label(),
                f.rule.id(),
                f.message_en()
            )
        })
        .collect();
    let errors = checked.count(Severity::Error);
    let found: Vec<String> = located
        .iter()
        .map(|(_, f)| f.rule.id().to_owned())
        .collect();
    let missing: Vec<&String> = rules.iter().filter(|r| !found.contains(r)).collect();
    let mut c = if let Some(v) = valid
        && v != (errors == 0)
    {
        with(
            case(
                Verdict::Fail,
                if v {
                    format!("{errors} errors under the spec core")
                } else {
                    "conformant, but errors were expected".to_owned()
                },
            ),
            Some(if v { "no errors" } else { "errors" }.to_owned()),
            Some(format!("{errors} errors")),
        )
    } else if !missing.is_empty() {
        with(
            case(Verdict::Fail, format!("rules not reported: {missing:?}")),
            Some(format!("{rules:?}")),
            Some(format!("{found:?}")),
        )
    } else {
        case(
            Verdict::Pass,
            format!(
                "{} files, {errors} errors{}",
                files.len(),
                if rules.is_empty() {
                    String::new()
                } else {
                    format!(", reported {rules:?}")
                }
            ),
        )
    };
    c.log = findings;
    c
}

/// Import conformance by round trip: the records an office imported of a kind with a round-trip
/// rule (its own records) must come back in its last export, field by field.
fn round_trip(o: &OfficeRun) -> CaseOutcome {
    let own = o.number.as_str();
    let mut imported: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    let mut rule = None;
    for f in &o.last_imported {
        let Ok(t) = careplan_spec::table::Table::read(&f.name, &f.bytes) else {
            continue;
        };
        let (Some(r), Some(cols)) = (
            round_trip_for(t.name.kind),
            rules().provider.get(&t.name.kind),
        ) else {
            continue;
        };
        rule = Some(r);
        let want_type = t
            .name
            .receiver
            .service_type()
            .map(|s| s.as_str().to_owned());
        for rec in &t.records {
            let get = |c: &str| t.value(rec, c).unwrap_or("").to_owned();
            // The office's own records of the addressed type (the 6表 carries every service).
            if get(&cols.office) != own {
                continue;
            }
            if let (Some(w), Some(code)) = (&want_type, &cols.service_code)
                && !get(code).starts_with(w.as_str())
            {
                continue;
            }
            imported.push((
                f.name.clone(),
                r.fields.iter().map(|c| (c.clone(), get(c))).collect(),
            ));
        }
    }
    let Some(rule) = rule else {
        return case(
            Verdict::Fail,
            "the office imported nothing a round trip can be judged on (a 6表 予定)",
        );
    };
    let mut exported: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for f in &o.last_export {
        let Ok(t) = careplan_spec::table::Table::read(&f.name, &f.bytes) else {
            continue;
        };
        if t.name.kind != rule.exported {
            continue;
        }
        for rec in &t.records {
            exported.push((
                f.name.clone(),
                rule.fields
                    .iter()
                    .map(|c| (c.clone(), t.value(rec, c).unwrap_or("").to_owned()))
                    .collect(),
            ));
        }
    }
    if exported.is_empty() {
        return case(
            Verdict::Fail,
            format!("the office's last export holds no {}", rule.exported),
        );
    }
    let diff = compare(&imported, &exported, rule.exported, &rule.pair_by);
    let subject = format!(
        "{} → {} ({own})",
        imported.first().map(|i| i.0.as_str()).unwrap_or(""),
        exported.first().map(|e| e.0.as_str()).unwrap_or("")
    );
    let mut c = if diff.is_empty() {
        case(
            Verdict::Pass,
            format!(
                "{} records carried from {} into {} on {} fields",
                imported.len(),
                rule.imported,
                rule.exported,
                rule.fields.len()
            ),
        )
    } else {
        let n = diff.missing.len() + diff.unexpected.len() + diff.cells.len();
        with(
            case(
                Verdict::Fail,
                format!("the export does not carry what was imported: {n} differences"),
            ),
            Some(format!("{} records as imported", imported.len())),
            Some(format!("{} records exported", exported.len())),
        )
    };
    if !diff.is_empty() {
        c.diff = Some(CsvDiff { subject, ..diff });
    }
    c.refs.push(rule.src.clone());
    c
}

/// Pairs records by their identity fields and compares the rest cell by cell.
fn compare(
    imported: &[(String, BTreeMap<String, String>)],
    exported: &[(String, BTreeMap<String, String>)],
    kind: FileKind,
    pair_by: &[String],
) -> CsvDiff {
    let identity = |r: &BTreeMap<String, String>| -> String {
        pair_by
            .iter()
            .filter_map(|c| r.get(c).map(String::as_str))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let view = careplan_spec::layout::view(kind, careplan_spec::version::SpecVersion::V41);
    let mut used = vec![false; exported.len()];
    let mut diff = CsvDiff {
        subject: String::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        cells: Vec::new(),
    };
    for (_, want) in imported {
        let id = identity(want);
        let exact = exported
            .iter()
            .enumerate()
            .position(|(i, (_, r))| !used[i] && r == want);
        let same_id = || {
            exported
                .iter()
                .enumerate()
                .position(|(i, (_, r))| !used[i] && identity(r) == id)
        };
        match exact.or_else(same_id) {
            Some(i) => {
                used[i] = true;
                for (field, v) in want {
                    let got = exported[i].1.get(field).cloned().unwrap_or_default();
                    if &got != v {
                        diff.cells.push(CellDiff {
                            record: i + 1,
                            column: view
                                .and_then(|v| v.col(field))
                                .map(|c| c as u16 + 1)
                                .unwrap_or(0),
                            field: field.clone(),
                            expected: v.clone(),
                            actual: got,
                        });
                    }
                }
            }
            None => diff.missing.push(id),
        }
    }
    for (i, (_, r)) in exported.iter().enumerate() {
        if !used[i] {
            diff.unexpected.push(identity(r));
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair_by() -> Vec<String> {
        [
            "保険者番号",
            "被保険者番号",
            "対象年月",
            "サービス利用日",
            "サービスコード",
        ]
        .map(str::to_owned)
        .to_vec()
    }

    fn rec(pairs: &[(&str, &str)]) -> (String, BTreeMap<String, String>) {
        (
            "f".to_owned(),
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    #[test]
    fn compare_pairs_by_identity_and_reports_cells() {
        let a = rec(&[
            ("被保険者番号", "1"),
            ("サービス利用日", "20250501"),
            ("サービス開始時刻", "0930"),
        ]);
        let b = rec(&[
            ("被保険者番号", "1"),
            ("サービス利用日", "20250501"),
            ("サービス開始時刻", "1030"),
        ]);
        let c = rec(&[("被保険者番号", "2"), ("サービス利用日", "20250502")]);
        let d = compare(&[a.clone(), c.clone()], &[b], FileKind::UpJsk, &pair_by());
        assert_eq!(d.cells.len(), 1, "{d:?}");
        assert_eq!(d.cells[0].field, "サービス開始時刻");
        assert_eq!(d.cells[0].column, 12);
        assert_eq!(
            (d.cells[0].expected.as_str(), d.cells[0].actual.as_str()),
            ("0930", "1030")
        );
        assert_eq!(d.missing, vec!["2 20250502".to_owned()]);
        assert!(
            compare(
                std::slice::from_ref(&a),
                std::slice::from_ref(&a),
                FileKind::UpJsk,
                &pair_by()
            )
            .is_empty()
        );
    }
}
