//! 第7表 summary rows (L4 L580-640, `[sikyu_summary]` in `data/codes.toml`): every user has a
//! 全合計 row with office 9999999999; a type with several code rows has its 区分支給限度対象
//! subtotal; a subtotal has rows of its type; the columns the layout fixes on summary rows
//! (`on_summary` in the layout) hold 0 or nothing.

use std::collections::BTreeMap;

use crate::codes::{self, SikyuSummary};
use crate::domain::ServiceTypeCode;
use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::layout::SummaryValue;
use crate::rules::RuleId;
use crate::unitdef::key_columns;

use super::{Check, Col, Family, FileContext, Hook, Out, Record, key_cols, key_of, kind_in};

pub static FAMILY: Family = Family {
    id: "totals",
    summary: "第7表 summary rows: 全合計 and 種類別小計 present where required, their fixed columns",
    rules: &[
        RuleId::TotMissingGrandTotal,
        RuleId::TotGrandTotalOffice,
        RuleId::TotSummaryUnits,
        RuleId::TotMissingSubtotal,
        RuleId::TotOrphanSubtotal,
        RuleId::TotSummaryNotNull,
        RuleId::TotLimitOutsideSubtotal,
        RuleId::TotLimitOutsideType,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| kind_in(ctx, &[FileKind::UpSikyu]),
        new: |ctx| Box::new(Totals::new(ctx)),
    }],
    covers,
};

/// Per-user state of a 第7表 file.
#[derive(Default)]
struct User {
    first_line: u32,
    /// Code rows per service type.
    code_rows: BTreeMap<ServiceTypeCode, u32>,
    /// Subtotal code → its line.
    subtotals: BTreeMap<String, u32>,
    has_grand_total: bool,
}

struct Totals {
    summary: &'static SikyuSummary,
    user: Vec<Col>,
    code: Col,
    office: Col,
    /// 給付管理単位数: empty for services outside the 区分支給限度 (L4 L646-652).
    managed: Col,
    /// Columns fixed on summary rows, with what they hold there.
    fixed: Vec<(Col, SummaryValue)>,
    users: BTreeMap<String, User>,
}

impl Totals {
    fn new(ctx: &FileContext) -> Self {
        Self {
            summary: codes::sikyu_summary(),
            user: key_cols(ctx, key_columns(ctx.kind.prefix())),
            code: ctx.col("サービスコード"),
            office: ctx.col("サービス事業所コード"),
            managed: ctx.col("給付管理単位数"),
            fixed: ctx
                .view
                .columns
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.column.on_summary.map(|v| (Col(Some(i)), v)))
                .collect(),
            users: BTreeMap::new(),
        }
    }

    fn summary_columns(&self, rec: &Record, code: &str, out: &mut Out) {
        for &(col, want) in &self.fixed {
            let value = rec.text(col);
            match want {
                SummaryValue::Zero if !value.is_empty() && value != "0" => out.sink.push(
                    rec.finding(RuleId::TotSummaryUnits, col)
                        .arg("value", code)
                        .arg("units", value),
                ),
                SummaryValue::Null if !value.is_empty() => out.sink.push(
                    rec.finding(RuleId::TotSummaryNotNull, col)
                        .arg("code", code)
                        .value(value),
                ),
                _ => {}
            }
        }
    }
}

impl Totals {
    /// 給付管理単位数 on a 区分支給限度対象外 subtotal (TOT007) or on a type outside the limit (TOT008).
    fn outside_limit(&self, rec: &Record, code: &str, out: &mut Out) {
        let managed = rec.text(self.managed);
        if managed.is_empty() {
            return;
        }
        if let Some((_, sub)) = self.summary.subtotal(code) {
            if sub.outside_limit {
                out.sink.push(
                    rec.finding(RuleId::TotLimitOutsideSubtotal, self.managed)
                        .arg("code", code)
                        .value(managed),
                );
            }
            return;
        }
        if let Some(stype) = ServiceTypeCode::of_service_code(code)
            && let Some(t) = codes::service_type(stype.as_str())
            && t.outside_limit
        {
            out.sink.push(
                rec.finding(RuleId::TotLimitOutsideType, self.managed)
                    .arg("code", stype)
                    .arg("name", &t.name)
                    .value(managed),
            );
        }
    }
}

impl Check for Totals {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let Some(user) = key_of(rec, &self.user) else {
            return;
        };
        let code = rec.text(self.code);
        let line = rec.line();
        let summary = self.summary;
        let is_summary = summary.is_summary(code);
        if is_summary {
            self.summary_columns(rec, code, out);
            let office = rec.text(self.office);
            if summary.is_grand_total(code) && office != summary.grand_total_office {
                out.sink.push(
                    rec.finding(RuleId::TotGrandTotalOffice, self.office)
                        .value(office),
                );
            }
        }
        self.outside_limit(rec, code, out);
        let entry = self.users.entry(user).or_insert_with(|| User {
            first_line: line,
            ..Default::default()
        });
        if summary.is_grand_total(code) {
            entry.has_grand_total = true;
        } else if is_summary {
            entry.subtotals.insert(code.to_owned(), line);
        } else if code.len() == 6
            && let Some(stype) = ServiceTypeCode::of_service_code(code)
        {
            *entry.code_rows.entry(stype).or_insert(0) += 1;
        }
    }

    fn finish(&mut self, _file: &FileContext, out: &mut Out) {
        let at = |line: u32| Location {
            line,
            column: 1,
            offset: 0,
        };
        let required: Vec<&str> = self
            .summary
            .subtotals
            .iter()
            .filter(|s| s.required_when_several_rows)
            .map(|s| s.suffix.as_str())
            .collect();
        for (user, u) in std::mem::take(&mut self.users) {
            if !u.has_grand_total {
                out.sink.push(
                    Finding::new(RuleId::TotMissingGrandTotal)
                        .at(at(u.first_line))
                        .arg("user", &user),
                );
            }
            for (stype, rows) in &u.code_rows {
                for suffix in &required {
                    if *rows > 1 && !u.subtotals.contains_key(&format!("{stype}{suffix}")) {
                        out.sink.push(
                            Finding::new(RuleId::TotMissingSubtotal)
                                .at(at(u.first_line))
                                .arg("code", stype)
                                .arg("user", &user),
                        );
                    }
                }
            }
            for (code, line) in &u.subtotals {
                let stype = ServiceTypeCode::of_service_code(code);
                if !stype.is_some_and(|t| u.code_rows.contains_key(&t)) {
                    out.sink.push(
                        Finding::new(RuleId::TotOrphanSubtotal)
                            .at(at(*line))
                            .value(code)
                            .arg("user", &user),
                    );
                }
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::UpSikyu;
    let mut out = super::cover(
        &[UpSikyu],
        &["サービスコード"],
        &[
            RuleId::TotMissingGrandTotal,
            RuleId::TotMissingSubtotal,
            RuleId::TotOrphanSubtotal,
        ],
    );
    out.extend(super::cover(
        &[UpSikyu],
        &["サービス事業所コード"],
        &[RuleId::TotGrandTotalOffice],
    ));
    out.extend(super::cover(
        &[UpSikyu],
        &["単位数"],
        &[RuleId::TotSummaryUnits],
    ));
    out.extend(super::cover(
        &[UpSikyu],
        &["割引後率", "割引後単位数"],
        &[RuleId::TotSummaryNotNull],
    ));
    out.extend(super::cover(
        &[UpSikyu],
        &["給付管理単位数"],
        &[RuleId::TotLimitOutsideSubtotal, RuleId::TotLimitOutsideType],
    ));
    out
}
