//! Service months of monthly files: one month per file, the month the name carries, and the
//! 利用者補足情報 linkage by its sentinels (`000000` / `00000000`) to 1表 or to 6表/7表.

use std::collections::BTreeSet;

use crate::domain::Month;
use crate::filename::MonthSegment;
use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "month",
    summary: "one service month per file, equal to the name's month; 補足 linkage sentinels",
    rules: &[
        RuleId::FileSeveralMonths,
        RuleId::FileMonthMismatch,
        RuleId::FileHosokuLink,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| ctx.view.layout.month_column.is_some(),
        new: |ctx| Box::new(Months::new(ctx)),
    }],
    covers,
};

struct Months {
    column: Col,
    name_month: Option<MonthSegment>,
    hosoku: bool,
    plan_date: Col,
    /// Month values already reported as differing from the name.
    reported: BTreeSet<Month>,
}

impl Months {
    fn new(ctx: &FileContext) -> Self {
        Self {
            column: ctx.col(ctx.view.layout.month_column.as_deref().unwrap_or("")),
            name_month: ctx.name.and_then(|n| n.month),
            hosoku: ctx.kind == FileKind::UpHosoku,
            plan_date: ctx.col("居宅サービス計画作成（変更）日"),
            reported: BTreeSet::new(),
        }
    }

    /// A second distinct month in the file is FILE001.
    fn note(&mut self, rec: &Record, month: Month, value: &str, out: &mut Out) {
        if out.report.months.insert(month) && out.report.months.len() > 1 {
            let first = out
                .report
                .months
                .iter()
                .next()
                .map(|m| m.to_string())
                .unwrap_or_default();
            out.sink.push(
                rec.finding(RuleId::FileSeveralMonths, self.column)
                    .value(value)
                    .arg("first", first),
            );
        }
    }

    fn mismatch(&mut self, rec: &Record, month: Month, value: &str, out: &mut Out) {
        if let Some(MonthSegment::Month(m)) = self.name_month
            && m != month
            && self.reported.insert(month)
        {
            out.sink.push(
                rec.finding(RuleId::FileMonthMismatch, self.column)
                    .value(value)
                    .arg("month", m),
            );
        }
    }

    fn hosoku_link(&mut self, rec: &Record, no63: &str, out: &mut Out) -> bool {
        let no4 = rec.text(self.plan_date);
        // Each case points at the column whose value is wrong: 対象年月 or 計画作成（変更）日.
        let (no63_col, no4_col) = (self.column, self.plan_date);
        let detail = match self.name_month {
            Some(MonthSegment::Zero) if no63 != "000000" => Some((
                no63_col,
                format!(
                    "ファイル名の年月が000000（1表・2表に紐づく）ですが、対象年月が {no63} です"
                ),
                format!("the name month is 000000 (tied to tables 1-2) but 対象年月 is {no63}"),
            )),
            Some(MonthSegment::Zero) if no4 == "00000000" => Some((
                no4_col,
                "1表・2表に紐づく利用者補足情報の居宅サービス計画作成（変更）日が00000000です"
                    .to_owned(),
                "a 補足 tied to tables 1-2 has 計画作成（変更）日 00000000".to_owned(),
            )),
            Some(MonthSegment::Month(m)) if no63 == "000000" => Some((
                no63_col,
                format!("ファイル名の年月が {m}（6表・7表に紐づく）ですが、対象年月が000000です"),
                format!("the name month is {m} (tied to tables 6-7) but 対象年月 is 000000"),
            )),
            Some(MonthSegment::Month(_)) if !no4.is_empty() && no4 != "00000000" => Some((
                no4_col,
                format!(
                    "6表・7表に紐づく利用者補足情報の居宅サービス計画作成（変更）日は00000000です（{no4}）"
                ),
                format!("a 補足 tied to tables 6-7 must have 計画作成（変更）日 00000000 ({no4})"),
            )),
            _ => None,
        };
        let Some((col, ja, en)) = detail else {
            return false;
        };
        out.sink.push(
            rec.finding(RuleId::FileHosokuLink, col)
                .arg("detail_ja", ja)
                .arg("detail_en", en),
        );
        true
    }
}

impl Check for Months {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let value = rec.text(self.column);
        if self.hosoku && self.hosoku_link(rec, value, out) {
            if let Some(m) = rec.month {
                self.note(rec, m, value, out);
            }
            return;
        }
        let Some(month) = rec.month else { return };
        if !self.hosoku {
            self.note(rec, month, value, out);
            self.mismatch(rec, month, value, out);
        } else {
            self.mismatch(rec, month, value, out);
            self.note(rec, month, value, out);
        }
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::*;
    let mut out = super::cover(
        &[UpPlan, UpJsk, UpSikyu, UpHosoku],
        &["対象年月"],
        &[RuleId::FileSeveralMonths, RuleId::FileMonthMismatch],
    );
    out.extend(super::cover(
        &[DltPlan, DltJsk],
        &["削除対象年月"],
        &[RuleId::FileSeveralMonths, RuleId::FileMonthMismatch],
    ));
    out.extend(super::cover(
        &[UpHosoku],
        &["対象年月", "居宅サービス計画作成（変更）日"],
        &[RuleId::FileHosokuLink],
    ));
    out
}
