//! Service codes of 6表/実績/7表 rows: the service type must exist and be in the exchange's scope
//! (S4 §1.3/§1.4, `data/service_types.toml`), and 福祉用具貸与 rows carry a TAIS or 届出 code that
//! other rows leave empty (L4 L428-440, L604-618).

use crate::codes;
use crate::domain::ServiceTypeCode;
use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record, kind_in};

pub static FAMILY: Family = Family {
    id: "services",
    summary: "service types of service codes: known, in scope; TAIS/届出 codes on 福祉用具貸与 rows only",
    rules: &[
        RuleId::FldUnknownServiceType,
        RuleId::FldServiceNotLinked,
        RuleId::EqpCodeMissing,
        RuleId::EqpCodeOnOtherService,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| kind_in(ctx, &[FileKind::UpPlan, FileKind::UpJsk, FileKind::UpSikyu]),
        new: |ctx| Box::new(Services::new(ctx)),
    }],
    covers,
};

struct Services {
    /// 第7表: summary rows carry no service.
    sikyu: bool,
    code: Col,
    tais: Col,
    notified: Col,
}

impl Services {
    fn new(ctx: &FileContext) -> Self {
        Self {
            sikyu: ctx.kind == FileKind::UpSikyu,
            code: ctx.col("サービスコード"),
            tais: ctx.col("TAISコード"),
            notified: ctx.col("福祉用具届出コード"),
        }
    }
}

impl Check for Services {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let code = rec.text(self.code);
        if self.sikyu && codes::is_summary_code(code) {
            return;
        }
        let Some(stype) = ServiceTypeCode::of_service_code(code) else {
            return;
        };
        match codes::service_type(stype.as_str()) {
            None => out.sink.push(
                rec.finding(RuleId::FldUnknownServiceType, self.code)
                    .value(code)
                    .arg("code", stype),
            ),
            Some(t) if !t.linked => out.sink.push(
                rec.finding(RuleId::FldServiceNotLinked, self.code)
                    .value(code)
                    .arg("code", stype)
                    .arg("name", &t.name),
            ),
            Some(_) => {}
        }
        // V3 layouts have no equipment columns.
        let (Some(tais), Some(notified)) = (rec.get(self.tais), rec.get(self.notified)) else {
            return;
        };
        if codes::is_equipment_rental(stype.as_str()) {
            if tais.is_empty() && notified.is_empty() {
                out.sink.push(
                    rec.finding(RuleId::EqpCodeMissing, self.tais)
                        .arg("code", stype),
                );
            }
        } else {
            for (value, col) in [(tais, self.tais), (notified, self.notified)] {
                if !value.is_empty() {
                    out.sink.push(
                        rec.finding(RuleId::EqpCodeOnOtherService, col)
                            .arg("code", stype),
                    );
                }
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::*;
    let mut out = super::cover(
        &[UpPlan, UpJsk, UpSikyu],
        &["サービスコード"],
        &[
            RuleId::FldUnknownServiceType,
            RuleId::FldServiceNotLinked,
            RuleId::EqpCodeMissing,
        ],
    );
    out.extend(super::cover(
        &[UpPlan, UpJsk, UpSikyu],
        &["TAISコード", "福祉用具届出コード"],
        &[RuleId::EqpCodeMissing, RuleId::EqpCodeOnOtherService],
    ));
    out
}
