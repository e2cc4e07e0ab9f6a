//! Dates tied to the service month and to each other: 第6表/実績 サービス利用日 lies inside the
//! file's 対象年月 (L4 L384-386, one month per file L4 L352-354); 日割対象日 marks only days the
//! month has, and at least one (L4 L388-394); the periods of `[[order]]` in
//! `data/conditions.toml` do not end before they start.

use crate::domain::{Month, is_valid_date};
use crate::kind::FileKind;
use crate::rules::RuleId;

use super::conditions;
use super::{Check, Col, Family, FileContext, Hook, Out, Record};

pub static FAMILY: Family = Family {
    id: "dates",
    summary: "サービス利用日 inside the service month, 日割対象日 within it, periods in order",
    rules: &[
        RuleId::DatOutsideMonth,
        RuleId::DatMaskDayMissing,
        RuleId::DatMaskEmpty,
        RuleId::DatOrder,
    ],
    hooks: &[Hook::Records {
        applies: |_| true,
        new: |ctx| Box::new(Dates::new(ctx)),
    }],
    covers,
};

struct Dates {
    day: Col,
    mask: Col,
    order: Vec<(Col, Col)>,
}

impl Dates {
    fn new(ctx: &FileContext) -> Self {
        let monthly = matches!(ctx.kind, FileKind::UpPlan | FileKind::UpJsk);
        Self {
            day: if monthly {
                ctx.col("サービス利用日")
            } else {
                Col(None)
            },
            mask: if monthly {
                ctx.col("日割対象日")
            } else {
                Col(None)
            },
            order: conditions::data()
                .order
                .iter()
                .filter(|o| o.kinds.contains(&ctx.kind))
                .map(|o| (ctx.col(&o.from), ctx.col(&o.to)))
                .collect(),
        }
    }
}

impl Check for Dates {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        if let Some(month) = rec.month {
            let day = rec.text(self.day);
            // A day that is no date at all is FLD003's finding.
            if is_valid_date(day) && day.get(..6).and_then(Month::parse) != Some(month) {
                out.sink.push(
                    rec.finding(RuleId::DatOutsideMonth, self.day)
                        .value(day)
                        .arg("month", month),
                );
            }
            let mask = rec.text(self.mask);
            if mask.len() == 31 && mask.bytes().all(|b| b == b'0' || b == b'1') {
                let days = usize::from(month.days());
                if let Some(extra) = mask.bytes().skip(days).position(|b| b == b'1') {
                    out.sink.push(
                        rec.finding(RuleId::DatMaskDayMissing, self.mask)
                            .arg("day", days + extra + 1)
                            .arg("days", days)
                            .arg("month", month),
                    );
                } else if !mask.contains('1') {
                    out.sink.push(rec.finding(RuleId::DatMaskEmpty, self.mask));
                }
            }
        }
        for &(from, to) in &self.order {
            let (a, b) = (rec.text(from), rec.text(to));
            // YYYYMMDD compares as text.
            if is_valid_date(a) && is_valid_date(b) && a > b {
                out.sink.push(
                    rec.finding(RuleId::DatOrder, from)
                        .value(a)
                        .arg("other", rec.column_name(to))
                        .arg("other_value", b),
                );
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::*;
    let mut out = super::cover(
        &[UpPlan, UpJsk],
        &["サービス利用日"],
        &[RuleId::DatOutsideMonth],
    );
    out.extend(super::cover(
        &[UpPlan, UpJsk],
        &["日割対象日"],
        &[RuleId::DatMaskDayMissing, RuleId::DatMaskEmpty],
    ));
    for o in &conditions::data().order {
        out.extend(super::cover(
            &o.kinds,
            &[&o.from, &o.to],
            &[RuleId::DatOrder],
        ));
    }
    out
}
