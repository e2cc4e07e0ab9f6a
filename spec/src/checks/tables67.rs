//! 第6表 ↔ 第7表 of one send unit (S4 L389-393; the 7表 is the 6表's 別表, both "as shown to the
//! user", S4 L447-463): every 7表 service row has 6表 rows of the same user, office and service code,
//! its 回数／日数 is what the 6表 plans, and every 6表 service has its 7表 row. Implied by what the
//! two tables are, not stated: warnings (D-TABLES-6-7).
//!
//! The 6表 count of a service is the sum of サービス回数 over its rows with units: a service billed
//! monthly (月額包括) carries its units on the first day only and counts once (L4 L371-378).

use std::collections::{BTreeMap, HashMap};

use crate::codes;
use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::report::{FileReport, ServiceTally};
use crate::rules::RuleId;
use crate::sink::Sink;

use super::{Check, Col, Family, FileContext, Hook, KeyBuf, Out, Record, UnitFiles, kind_in};

pub static FAMILY: Family = Family {
    id: "tables67",
    summary: "第6表 and 第7表 of one unit agree service by service (user, office, code, count)",
    rules: &[
        RuleId::XrfSikyuServiceWithoutPlan,
        RuleId::XrfSikyuTimes,
        RuleId::XrfPlanServiceWithoutSikyu,
    ],
    hooks: &[
        Hook::Records {
            applies: |ctx| kind_in(ctx, &[FileKind::UpPlan, FileKind::UpSikyu]),
            new: |ctx| Box::new(Tally::new(ctx)),
        },
        Hook::Unit(check_unit),
    ],
    covers,
};

/// Longest part of a service key kept.
const MAX_PART_BYTES: usize = 32;

struct Tally {
    sikyu: bool,
    user: [Col; 2],
    office: Col,
    code: Col,
    units: Col,
    times: Col,
    key: KeyBuf,
    /// The tallies, found through `index` (a hash map: one lookup per record at most, whatever
    /// the number of users) and handed to the report, ordered, at the end of the file.
    tallies: Vec<ServiceTally>,
    index: HashMap<String, usize>,
    /// The last keys looked up and their tallies: a user's rows go back and forth between a few
    /// services, so most records find theirs here without hashing their key.
    recent: [(String, usize); RECENT],
    next_recent: usize,
}

/// Keys remembered in [`Tally::recent`].
const RECENT: usize = 4;

impl Tally {
    fn new(ctx: &FileContext) -> Self {
        let sikyu = ctx.kind == FileKind::UpSikyu;
        Self {
            sikyu,
            user: [ctx.col("保険者番号"), ctx.col("被保険者番号")],
            office: ctx.col(if sikyu {
                "サービス事業所コード"
            } else {
                "サービス事業者コード"
            }),
            code: ctx.col("サービスコード"),
            units: ctx.col("単位数"),
            times: ctx.col(if sikyu {
                "回数／日数"
            } else {
                "サービス回数"
            }),
            key: KeyBuf::default(),
            tallies: Vec::new(),
            index: HashMap::new(),
            recent: Default::default(),
            next_recent: 0,
        }
    }
}

impl Check for Tally {
    fn record(&mut self, rec: &Record, _out: &mut Out) {
        let code = rec.text(self.code);
        let office = rec.text(self.office);
        if code.is_empty()
            || (self.sikyu && codes::is_summary_code(code))
            || code.len() > MAX_PART_BYTES
            || office.len() > MAX_PART_BYTES
        {
            return;
        }
        if self.key.of(rec, &self.user).is_none() {
            return;
        }
        let key = self.key.extend('|', &[office, code]);
        let times: u64 = rec.text(self.times).parse().unwrap_or(0);
        let counts = self.sikyu || rec.text(self.units) != "0";
        // A key is never empty: the empty keys `recent` starts with match nothing.
        let slot = match self.recent.iter().find(|(k, _)| super::same(k, key)) {
            Some(&(_, slot)) => slot,
            None => {
                let slot = match self.index.get(key) {
                    Some(&slot) => slot,
                    None => {
                        self.tallies.push(ServiceTally {
                            times: 0,
                            line: rec.line(),
                        });
                        self.index.insert(key.to_owned(), self.tallies.len() - 1);
                        self.tallies.len() - 1
                    }
                };
                let (k, s) = &mut self.recent[self.next_recent];
                k.clear();
                k.push_str(key);
                *s = slot;
                self.next_recent = (self.next_recent + 1) % RECENT;
                slot
            }
        };
        if counts && let Some(tally) = self.tallies.get_mut(slot) {
            tally.times = tally.times.saturating_add(times);
        }
    }

    fn finish(&mut self, _file: &FileContext, out: &mut Out) {
        let tallies = std::mem::take(&mut self.tallies);
        out.report.keys.services.extend(
            self.index
                .drain()
                .filter_map(|(key, slot)| Some((key, *tallies.get(slot)?))),
        );
    }
}

fn at(line: u32) -> Location {
    Location {
        line,
        column: 1,
        offset: 0,
    }
}

fn finding(rule: RuleId, file: &FileReport, key: &str, line: u32) -> Finding {
    let mut parts = key.splitn(3, '|');
    let (user, office, service) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    Finding::new(rule)
        .file(&file.path)
        .at(at(line))
        .arg("user", user)
        .arg("office", office)
        .arg("service", service)
}

fn check_unit(unit: &UnitFiles, sink: &mut Sink) {
    let (Some(plan), Some(sikyu)) = (unit.one(FileKind::UpPlan), unit.one(FileKind::UpSikyu))
    else {
        return;
    };
    let planned: &BTreeMap<String, ServiceTally> = &plan.keys.services;
    for (key, t7) in &sikyu.keys.services {
        match planned.get(key) {
            None => sink.push(finding(
                RuleId::XrfSikyuServiceWithoutPlan,
                sikyu,
                key,
                t7.line,
            )),
            Some(t6) if t6.times != t7.times => sink.push(
                finding(RuleId::XrfSikyuTimes, sikyu, key, t7.line)
                    .arg("sikyu", t7.times)
                    .arg("plan", t6.times),
            ),
            Some(_) => {}
        }
    }
    for (key, t6) in planned {
        if !sikyu.keys.services.contains_key(key) {
            sink.push(finding(
                RuleId::XrfPlanServiceWithoutSikyu,
                plan,
                key,
                t6.line,
            ));
        }
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::*;
    let mut out = super::cover(
        &[UpPlan],
        &[
            "サービスコード",
            "サービス回数",
            "単位数",
            "サービス事業者コード",
        ],
        FAMILY.rules,
    );
    out.extend(super::cover(
        &[UpSikyu],
        &["サービスコード", "回数／日数", "サービス事業所コード"],
        FAMILY.rules,
    ));
    out
}
