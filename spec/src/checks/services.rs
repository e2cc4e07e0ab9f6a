//! Service codes of 6表/実績/7表 rows: the service type must exist and be in the exchange's scope
//! (S4 §1.3/§1.4, `data/service_types.toml`), and 福祉用具貸与 rows carry a TAIS or 届出 code that
//! other rows leave empty (L4 L428-440, L604-618). Columns that hold a サービス種類コード itself
//! (補足 限度額 枠, 実績削除) name a type of the national table, and one of the exchange where the
//! layout row says `linked`.

use crate::codes;
use crate::domain::ServiceTypeCode;
use crate::kind::FileKind;
use crate::layout::Format;
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
    hooks: &[
        Hook::Records {
            applies: |ctx| kind_in(ctx, &[FileKind::UpPlan, FileKind::UpJsk, FileKind::UpSikyu]),
            new: |ctx| Box::new(Services::new(ctx)),
        },
        Hook::Records {
            applies: |ctx| !type_columns(ctx).is_empty(),
            new: |ctx| {
                Box::new(TypeColumns {
                    columns: type_columns(ctx),
                })
            },
        },
    ],
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
        judge_type(rec, self.code, code, stype, true, out);
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

/// The layout's サービス種類コード columns, each with whether it must name a linked type.
fn type_columns(ctx: &FileContext) -> Vec<(Col, bool)> {
    ctx.view
        .columns
        .iter()
        .enumerate()
        .filter(|(_, c)| c.column.format == Format::ServiceType)
        .map(|(i, c)| (Col(Some(i)), c.column.linked))
        .collect()
}

/// Columns holding a service type of their own: a type of the national table (FLD011), and one of
/// the exchange where the row says `linked` (FLD009). The form (two characters) is FLD003's.
struct TypeColumns {
    columns: Vec<(Col, bool)>,
}

impl Check for TypeColumns {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        for &(col, linked) in &self.columns {
            let value = rec.text(col);
            if let Some(stype) = ServiceTypeCode::parse(value) {
                judge_type(rec, col, value, stype, linked, out);
            }
        }
    }
}

/// The service type `stype` of `value` in `col`: in the national table (FLD011) and, where
/// `linked` is required, of the exchange (FLD009).
fn judge_type(
    rec: &Record,
    col: Col,
    value: &str,
    stype: ServiceTypeCode,
    linked: bool,
    out: &mut Out,
) {
    match codes::service_type(stype.as_str()) {
        None => out.sink.push(
            rec.finding(RuleId::FldUnknownServiceType, col)
                .value(value)
                .arg("code", stype),
        ),
        Some(t) if linked && !t.linked => out.sink.push(
            rec.finding(RuleId::FldServiceNotLinked, col)
                .value(value)
                .arg("code", stype)
                .arg("name", &t.name),
        ),
        Some(_) => {}
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
