//! The checks of an `assert` step, each judged into its own case: what a persona holds
//! (`holds`), import conformance by round trip (`round_trip`: the records imported come back in
//! the next export, compared cell by cell), conformance of exported or received files under the
//! spec core (`valid`, `rules`), and byte-for-byte delivery (`unchanged`).

use std::collections::BTreeMap;

#[cfg(test)]
use careplan_spec::FileKind;
use careplan_spec::Severity;
use careplan_spec::validate::Options;

use super::judge::{case, with};
use super::office::{OfficeRun, index_of};
use crate::outcome::{CaseOutcome, CellDiff, CsvDiff, Verdict, located};
use crate::plural::plural;
use crate::scenario::Step;
use crate::software::StoredFile;
use crate::software::rules::{RoundTrip, round_trip_for, rules};
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
                format!(
                    "{} delivered byte for byte",
                    plural(o.last_received.len(), "file", "files")
                ),
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
                "{}, {}{}",
                plural(files.len(), "file", "files"),
                plural(errors, "error", "errors"),
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

/// One record compared by the round trip: where it is, and its values of the rule's fields.
#[derive(Debug, Clone)]
struct Compared {
    file: String,
    /// The record's first line in its file (0: not known).
    line: usize,
    values: BTreeMap<String, String>,
}

/// The first line of each record of a file, in record order (as `Table::read` reads them).
fn record_lines(bytes: &[u8]) -> Vec<usize> {
    let mut tokenizer = careplan_spec::tokenizer::Tokenizer::new(bytes);
    let mut rec = careplan_spec::tokenizer::RawRecord::default();
    let mut lines = Vec::new();
    while let Ok(true) = tokenizer.next_record(&mut rec) {
        lines.push(rec.start.line as usize);
    }
    lines
}

/// Import conformance by round trip: the records an office imported of a kind with a round-trip
/// rule (its own records) must come back in its last export, field by field.
fn round_trip(o: &OfficeRun) -> CaseOutcome {
    let own = o.number.as_str();
    let mut imported: Vec<Compared> = Vec::new();
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
        let lines = record_lines(&f.bytes);
        for (i, rec) in t.records.iter().enumerate() {
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
            imported.push(Compared {
                file: f.name.clone(),
                line: lines.get(i).copied().unwrap_or(0),
                values: r.fields.iter().map(|c| (c.clone(), get(c))).collect(),
            });
        }
    }
    let Some(rule) = rule else {
        return case(
            Verdict::Fail,
            "the office imported nothing a round trip can be judged on (a 6表 予定)",
        );
    };
    let mut exported: Vec<Compared> = Vec::new();
    for f in &o.last_export {
        let Ok(t) = careplan_spec::table::Table::read(&f.name, &f.bytes) else {
            continue;
        };
        if t.name.kind != rule.exported {
            continue;
        }
        let lines = record_lines(&f.bytes);
        for (i, rec) in t.records.iter().enumerate() {
            exported.push(Compared {
                file: f.name.clone(),
                line: lines.get(i).copied().unwrap_or(0),
                values: rule
                    .fields
                    .iter()
                    .map(|c| (c.clone(), t.value(rec, c).unwrap_or("").to_owned()))
                    .collect(),
            });
        }
    }
    if exported.is_empty() {
        return case(
            Verdict::Fail,
            format!("the office's last export holds no {}", rule.exported),
        );
    }
    let diff = compare(&imported, &exported, rule);
    let subject = format!(
        "{} → {} ({own})",
        imported.first().map(|i| i.file.as_str()).unwrap_or(""),
        exported.first().map(|e| e.file.as_str()).unwrap_or("")
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
        with(
            case(
                Verdict::Fail,
                format!(
                    "the export does not carry what was imported: {}",
                    diff.summary()
                ),
            ),
            Some(counted(
                imported.len(),
                "record as imported",
                "records as imported",
            )),
            Some(counted(
                exported.len(),
                "record exported",
                "records exported",
            )),
        )
    };
    if !diff.is_empty() {
        c.diff = Some(CsvDiff { subject, ..diff });
    }
    c.refs
        .extend(super::public_refs(std::slice::from_ref(&rule.src)));
    c
}

fn counted(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Pairs records by the rule's identity fields and compares the rest cell by cell; records are
/// named by the rule's record name and located by file and line.
fn compare(imported: &[Compared], exported: &[Compared], rule: &'static RoundTrip) -> CsvDiff {
    let identity = |r: &BTreeMap<String, String>| -> Vec<String> {
        rule.pair_by
            .iter()
            .map(|c| r.get(c).cloned().unwrap_or_default())
            .collect()
    };
    let name = |r: &Compared| located(&rule.record_name(&r.values), &r.file, r.line);
    let view = careplan_spec::layout::view(rule.exported, careplan_spec::version::SpecVersion::V41);
    let mut used = vec![false; exported.len()];
    let mut diff = CsvDiff {
        subject: String::new(),
        missing: Vec::new(),
        unexpected: Vec::new(),
        cells: Vec::new(),
    };
    for want in imported {
        let id = identity(&want.values);
        let exact = exported
            .iter()
            .enumerate()
            .position(|(i, r)| !used[i] && r.values == want.values);
        let same_id = || {
            exported
                .iter()
                .enumerate()
                .position(|(i, r)| !used[i] && identity(&r.values) == id)
        };
        match exact.or_else(same_id) {
            Some(i) => {
                used[i] = true;
                let got = &exported[i];
                for (field, v) in &want.values {
                    let actual = got.values.get(field).cloned().unwrap_or_default();
                    if &actual != v {
                        diff.cells.push(CellDiff {
                            record: i + 1,
                            key: rule.record_name(&got.values),
                            file: got.file.clone(),
                            line: got.line,
                            column: view
                                .and_then(|v| v.col(field))
                                .map(|c| c as u16 + 1)
                                .unwrap_or(0),
                            field: field.clone(),
                            expected: v.clone(),
                            actual,
                        });
                    }
                }
            }
            None => diff.missing.push(name(want)),
        }
    }
    for (i, r) in exported.iter().enumerate() {
        if !used[i] {
            diff.unexpected.push(name(r));
        }
    }
    diff
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(line: usize, pairs: &[(&str, &str)]) -> Compared {
        Compared {
            file: "UPJSK_x.CSV".to_owned(),
            line,
            values: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        }
    }

    #[test]
    fn compare_pairs_by_identity_and_reports_cells_by_key_and_line() {
        let rule = round_trip_for(FileKind::UpPlan).expect("the 6表 → 実績 rule");
        let user = [("保険者番号", "131016"), ("被保険者番号", "1234500001")];
        let with_user = |extra: &[(&'static str, &'static str)]| {
            let mut v = user.to_vec();
            v.extend_from_slice(extra);
            v
        };
        let a = rec(
            3,
            &with_user(&[
                ("サービス利用日", "20250501"),
                ("サービスコード", "151325"),
                ("サービス開始時刻", "0930"),
            ]),
        );
        let b = rec(
            2,
            &with_user(&[
                ("サービス利用日", "20250501"),
                ("サービスコード", "151325"),
                ("サービス開始時刻", "1030"),
            ]),
        );
        let c = rec(4, &with_user(&[("サービス利用日", "20250502")]));
        let d = compare(&[a.clone(), c.clone()], &[b], rule);
        assert_eq!(d.cells.len(), 1, "{d:?}");
        let cell = &d.cells[0];
        assert_eq!(cell.field, "サービス開始時刻");
        assert_eq!(cell.column, 12);
        assert_eq!(
            (cell.expected.as_str(), cell.actual.as_str()),
            ("0930", "1030")
        );
        assert_eq!(cell.key, "131016/1234500001 20250501 151325");
        assert_eq!((cell.file.as_str(), cell.line), ("UPJSK_x.CSV", 2));
        assert_eq!(
            d.missing,
            vec!["131016/1234500001 20250502  (UPJSK_x.CSV line 4)".to_owned()]
        );
        assert!(
            d.summary()
                .starts_with("No.12 サービス開始時刻: 0930 → 1030 at 131016/1234500001 20250501 151325 (UPJSK_x.CSV line 2); 1 more"),
            "{}",
            d.summary()
        );
        assert!(compare(std::slice::from_ref(&a), std::slice::from_ref(&a), rule).is_empty());
    }

    #[test]
    fn record_lines_follow_quoted_line_breaks() {
        let bytes = b"1,\"a\"\r\n2,\"b\r\nc\"\r\n3,\"d\"\r\n";
        assert_eq!(record_lines(bytes), vec![1, 2, 4]);
    }
}
