//! Service times of 第6表/実績: a service without a time display carries 9999 in both サービス開始時刻
//! and サービス終了時刻 (L4 L398-402). (That each value is a real HHMM, or 9999, is the field
//! format's rule; the 第3表 axis runs to 2400, D-TIME-2400.)

use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record, kind_in};

pub static FAMILY: Family = Family {
    id: "times",
    summary: "第6表 times: 9999 (no time display) in both start and end",
    rules: &[RuleId::TimNoTimeOneSide],
    hooks: &[Hook::Records {
        applies: |ctx| kind_in(ctx, &[FileKind::UpPlan, FileKind::UpJsk]),
        new: |ctx| Box::new(Times::new(ctx)),
    }],
    covers,
};

/// The value that means "no time display".
const NO_TIME: &str = "9999";

struct Times {
    start: Col,
    end: Col,
}

impl Times {
    fn new(ctx: &FileContext) -> Self {
        Self {
            start: ctx.col("サービス開始時刻"),
            end: ctx.col("サービス終了時刻"),
        }
    }
}

impl Check for Times {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let (start, end) = (rec.text(self.start), rec.text(self.end));
        if start.is_empty() || end.is_empty() || (start == NO_TIME) == (end == NO_TIME) {
            return;
        }
        let (col, value, other, other_value) = if start == NO_TIME {
            (self.start, start, self.end, end)
        } else {
            (self.end, end, self.start, start)
        };
        let other_name = rec.column_name(other);
        out.sink.push(
            rec.finding(RuleId::TimNoTimeOneSide, col)
                .value(value)
                .arg("other", other_name)
                .arg("other_value", other_value),
        );
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::*;
    super::cover(
        &[UpPlan, UpJsk],
        &["サービス開始時刻", "サービス終了時刻"],
        FAMILY.rules,
    )
}
