//! CSVバージョン (No.1 of every layout): a known value, not mixed within a file, fitting the name's
//! shape, and in force for the file's service month (`data/versions.toml`).

use std::collections::BTreeSet;

use crate::finding::Finding;
use crate::rules::RuleId;
use crate::version::{CsvVersion, SpecVersion, VersionStatus};

use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "version",
    summary: "CSVバージョン: known, one per file, fitting the name shape, in force for the month",
    rules: &[
        RuleId::VerUnknown,
        RuleId::VerKnownWrong,
        RuleId::VerLegacy,
        RuleId::VerLegacyV40,
        RuleId::VerMixed,
        RuleId::VerNameMismatch,
        RuleId::VerNotYetApplicable,
        RuleId::VerSuperseded,
    ],
    hooks: &[Hook::Records {
        applies: |_| true,
        new: |ctx| Box::new(Versions::new(ctx)),
    }],
    covers,
};

/// Most distinct CSVバージョン values remembered per file.
const MAX_SEEN_VERSIONS: usize = 16;

struct Versions {
    shape: SpecVersion,
    seen: BTreeSet<String>,
    month_checked: bool,
}

impl Versions {
    fn new(ctx: &FileContext) -> Self {
        Self {
            shape: ctx.name.map(|n| n.shape).unwrap_or(ctx.view.version),
            seen: BTreeSet::new(),
            month_checked: false,
        }
    }
}

impl Check for Versions {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let value = rec.text(Col(Some(0)));
        if value.is_empty() {
            return;
        }
        let finding = |rule: RuleId| -> Finding { rec.finding(rule, Col(Some(0))).value(value) };
        match &out.report.csv_version {
            None => out.report.csv_version = Some(value.to_owned()),
            Some(first) if first != value && !self.seen.contains(value) => {
                let f = finding(RuleId::VerMixed).arg("first", first);
                out.sink.push(f);
            }
            Some(_) => {}
        }
        let first_sight = !self.seen.contains(value);
        if first_sight && self.seen.len() < MAX_SEEN_VERSIONS {
            self.seen.insert(value.to_owned());
        }
        if first_sight {
            if let Some(wrong) = CsvVersion::known_wrong(value) {
                out.sink.push(
                    finding(RuleId::VerKnownWrong)
                        .arg("why_ja", &wrong.why_ja)
                        .arg("why_en", &wrong.why_en),
                );
            } else {
                match CsvVersion::lookup(value) {
                    None => out.sink.push(finding(RuleId::VerUnknown)),
                    Some(v) if v.status == VersionStatus::Historical => {
                        out.sink.push(finding(RuleId::VerUnknown))
                    }
                    Some(v) => {
                        if v.status == VersionStatus::Withdrawn {
                            // D-VER-202504: an error under V4.1 (or V3) names, a warning in the
                            // withdrawn V4.0 name shape that the value belonged to.
                            out.sink.push(finding(if self.shape == SpecVersion::V40 {
                                RuleId::VerLegacyV40
                            } else {
                                RuleId::VerLegacy
                            }));
                        }
                        if !v.accepted_by(self.shape) {
                            out.sink
                                .push(finding(RuleId::VerNameMismatch).arg("shape", self.shape));
                        }
                    }
                }
            }
        }
        if let Some(month) = rec.month
            && !self.month_checked
        {
            self.month_checked = true;
            let Some(v) = CsvVersion::lookup(value) else {
                return;
            };
            if v.applies_from > month {
                out.sink.push(
                    finding(RuleId::VerNotYetApplicable)
                        .arg("from", v.applies_from)
                        .arg("month", month),
                );
            } else if let Some(current) = CsvVersion::in_force(month)
                && v.status == VersionStatus::Current
                && current.applies_from > v.applies_from
            {
                out.sink.push(
                    finding(RuleId::VerSuperseded)
                        .arg("current", &current.value)
                        .arg("month", month),
                );
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    super::cover(
        &crate::kind::FileKind::ALL,
        &["CSVバージョン"],
        FAMILY.rules,
    )
}
