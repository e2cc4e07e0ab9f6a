//! Keys between the files of a send unit (S4 §2.3, §3.3): each file's records leave their keys
//! (`data/send_units.toml`) in the report, and the unit hook checks that dependent files find their
//! parent — 1表 ↔ 2表/3表/補足, 6表 ↔ 7表/補足, 利用者基本情報 ↔ 別表/画像, 計画書 ↔ 別表.

use std::collections::{BTreeMap, BTreeSet};

use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::report::FileReport;
use crate::rules::RuleId;
use crate::sink::Sink;
use crate::unitdef::key_columns;

use super::{
    Check, Col, Family, FileContext, Hook, KeyBuf, Out, Record, UnitFiles, key_cols, upsert,
};

pub static FAMILY: Family = Family {
    id: "keys",
    summary: "cross-file keys of a send unit: every dependent record finds its parent",
    rules: &[
        RuleId::XrfPlanWithoutTable1,
        RuleId::XrfTable1WithoutHosoku,
        RuleId::XrfSikyuWithoutPlan,
        RuleId::XrfPlanWithoutHosoku,
        RuleId::XrfPlanWithoutSikyu,
        RuleId::XrfSubWithoutParent,
        RuleId::XrfImageMissing,
        RuleId::XrfOrphanHosoku,
    ],
    hooks: &[
        Hook::Records {
            applies: |_| true,
            new: |ctx| Box::new(Keys::new(ctx)),
        },
        Hook::Unit(check_unit),
    ],
    covers,
};

/// Collects a file's keys into its report.
struct Keys {
    hosoku: bool,
    month: Col,
    main: Vec<Col>,
    hosoku_plan: Vec<Col>,
    hosoku_month: Vec<Col>,
    image: Col,
    /// The main key (with the previous record's, see [`KeyBuf::repeats`]).
    key: KeyBuf,
    hosoku_key: KeyBuf,
}

impl Keys {
    fn new(ctx: &FileContext) -> Self {
        Self {
            hosoku: ctx.kind == FileKind::UpHosoku,
            month: ctx.col("対象年月"),
            main: key_cols(ctx, key_columns(ctx.kind.prefix())),
            hosoku_plan: key_cols(ctx, key_columns("UPHOSOKU_PLAN")),
            hosoku_month: key_cols(ctx, key_columns("UPHOSOKU_MONTH")),
            image: if ctx.kind == FileKind::UpKihon {
                ctx.col("家族構成 画像ファイル名")
            } else {
                Col(None)
            },
            key: KeyBuf::default(),
            hosoku_key: KeyBuf::default(),
        }
    }
}

impl Check for Keys {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let line = rec.line();
        let keys = &mut out.report.keys;
        if self.hosoku {
            let plan = rec.get(self.month) == Some("000000");
            let (cols, map) = if plan {
                (&self.hosoku_plan, &mut keys.hosoku_plan)
            } else {
                (&self.hosoku_month, &mut keys.hosoku_month)
            };
            if let Some(key) = self.hosoku_key.of(rec, cols) {
                upsert(map, key, || line, |_| {});
            }
            return;
        }
        // The first line of each key is kept: a key repeating the previous record's is known.
        if !self.main.is_empty() && self.key.of(rec, &self.main).is_some() && !self.key.repeats() {
            upsert(&mut keys.main, self.key.get(), || line, |_| {});
        }
        if let Some(image) = rec.get(self.image)
            && !image.is_empty()
            && image.len() <= 255
        {
            upsert(&mut keys.images, image, || line, |_| {});
        }
    }
}

fn at(line: u32) -> Location {
    Location {
        line,
        column: 1,
        offset: 0,
    }
}

/// Every key of `child` that `parent` lacks is a finding of `rule`.
fn missing(
    sink: &mut Sink,
    rule: RuleId,
    child: &FileReport,
    keys: &BTreeMap<String, u32>,
    parent: &BTreeMap<String, u32>,
    extra: &[(&'static str, &str)],
) {
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
}

fn check_unit(unit: &UnitFiles, sink: &mut Sink) {
    let empty = BTreeMap::new();
    let hosoku = unit.one(FileKind::UpHosoku);
    if let Some(t1) = unit.one(FileKind::Up1Kyo) {
        for k in [FileKind::Up2Kyo, FileKind::Up3Kyo] {
            if let Some(r) = unit.one(k) {
                missing(
                    sink,
                    RuleId::XrfPlanWithoutTable1,
                    r,
                    &r.keys.main,
                    &t1.keys.main,
                    &[("kind", k.prefix())],
                );
            }
        }
        let plan_keys = hosoku.map(|h| &h.keys.hosoku_plan).unwrap_or(&empty);
        missing(
            sink,
            RuleId::XrfTable1WithoutHosoku,
            t1,
            &t1.keys.main,
            plan_keys,
            &[],
        );
        if let Some(h) = hosoku {
            missing(
                sink,
                RuleId::XrfOrphanHosoku,
                h,
                &h.keys.hosoku_plan,
                &t1.keys.main,
                &[("parent", "第1表 / table 1")],
            );
        }
    }
    if let Some(t6) = unit.one(FileKind::UpPlan) {
        if let Some(t7) = unit.one(FileKind::UpSikyu) {
            missing(
                sink,
                RuleId::XrfSikyuWithoutPlan,
                t7,
                &t7.keys.main,
                &t6.keys.main,
                &[],
            );
            missing(
                sink,
                RuleId::XrfPlanWithoutSikyu,
                t6,
                &t6.keys.main,
                &t7.keys.main,
                &[],
            );
        }
        let month_keys = hosoku.map(|h| &h.keys.hosoku_month).unwrap_or(&empty);
        missing(
            sink,
            RuleId::XrfPlanWithoutHosoku,
            t6,
            &t6.keys.main,
            month_keys,
            &[],
        );
        if let Some(h) = hosoku {
            missing(
                sink,
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
        if let Some(c) = unit.one(child) {
            let p = unit.one(parent).map(|p| &p.keys.main).unwrap_or(&empty);
            missing(
                sink,
                RuleId::XrfSubWithoutParent,
                c,
                &c.keys.main,
                p,
                &[("kind", child.prefix()), ("parent", parent.prefix())],
            );
        }
    }
    if let Some(kihon) = unit.one(FileKind::UpKihon) {
        let sent: BTreeSet<String> = unit
            .all(FileKind::UpKihonImage)
            .filter_map(|r| r.name.as_ref().map(|n| n.to_string()))
            .collect();
        for (image, line) in &kihon.keys.images {
            if !sent.iter().any(|s| s.eq_ignore_ascii_case(image)) {
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

fn covers() -> Vec<super::Cover> {
    let mut out = Vec::new();
    for kind in FileKind::ALL {
        let names: Vec<&str> = key_columns(kind.prefix())
            .iter()
            .map(String::as_str)
            .collect();
        out.extend(super::cover(&[kind], &names, FAMILY.rules));
    }
    let hosoku: Vec<&str> = key_columns("UPHOSOKU_PLAN")
        .iter()
        .chain(key_columns("UPHOSOKU_MONTH"))
        .map(String::as_str)
        .collect();
    out.extend(super::cover(&[FileKind::UpHosoku], &hosoku, FAMILY.rules));
    out.extend(super::cover(
        &[FileKind::UpKihon],
        &["家族構成 画像ファイル名"],
        &[RuleId::XrfImageMissing],
    ));
    out
}
