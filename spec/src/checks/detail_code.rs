//! 明細判別コード of 第6表/実績 (L4 L452-460): set only on 福祉用具貸与 rows; where one user has rows
//! of the same service code and the same 単位数 for different items (TAISコード, 福祉用具届出コード,
//! 用具名称), the items are numbered 1, 2, 3… in it; otherwise it stays empty. Rows are grouped per
//! providing office as well (D-DETAIL-CODE): two offices' items are told apart by the office.

use std::collections::{BTreeMap, BTreeSet};

use crate::codes;
use crate::domain::ServiceTypeCode;
use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::rules::RuleId;
use crate::unitdef::key_columns;

use super::{Check, Col, Family, FileContext, Hook, Out, Record, key_cols, key_of, kind_in};

pub static FAMILY: Family = Family {
    id: "detail_code",
    summary: "明細判別コード: only on 福祉用具貸与 rows, numbering different items of one code and unit price",
    rules: &[
        RuleId::EqpDetailOnOtherService,
        RuleId::EqpDetailNumbering,
        RuleId::EqpDetailSequence,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| kind_in(ctx, &[FileKind::UpPlan, FileKind::UpJsk]),
        new: |ctx| Box::new(DetailCode::new(ctx)),
    }],
    covers,
};

/// Longest item or code value kept (TAIS codes have 12 characters; longer values are findings of
/// their own and are not kept).
const MAX_ITEM_BYTES: usize = 256;

/// Rows of one user with one service code and one 単位数.
struct Group {
    user: String,
    service: String,
    units: String,
    first: Location,
    record: u32,
    /// Item (TAIS/届出/名称) → the detail codes its rows carry.
    items: BTreeMap<String, BTreeSet<String>>,
}

struct DetailCode {
    user: Vec<Col>,
    code: Col,
    office: Col,
    detail: Col,
    units: Col,
    item: [Col; 3],
    /// No equipment columns (V3): items cannot be told apart.
    has_items: bool,
    /// 明細判別コード's No. in this version, its layout and its V4.1 No. (for findings made at the
    /// end of the file).
    detail_no: Option<(u16, &'static str, u16)>,
    /// (user|office, service code, 単位数) → its rows.
    groups: BTreeMap<(String, String, String), Group>,
}

impl DetailCode {
    fn new(ctx: &FileContext) -> Self {
        let item = [
            ctx.col("TAISコード"),
            ctx.col("福祉用具届出コード"),
            ctx.col("用具名称（機種名）"),
        ];
        Self {
            user: key_cols(ctx, &key_columns(ctx.kind.prefix())[..2]),
            code: ctx.col("サービスコード"),
            office: ctx.col("サービス事業者コード"),
            detail: ctx.col("明細判別コード"),
            units: ctx.col("単位数"),
            has_items: item.iter().all(|c| c.is_present()),
            detail_no: None,
            item,
            groups: BTreeMap::new(),
        }
    }

    fn finding(&self, rule: RuleId, g: &Group) -> Finding {
        let mut f = Finding::new(rule)
            .at(g.first)
            .record(g.record)
            .arg("user", &g.user)
            .arg("service", &g.service)
            .arg("units", &g.units);
        if let Some((no, layout, v41)) = self.detail_no {
            f = f.field(no, "明細判別コード").row(layout, v41);
        }
        f
    }
}

impl Check for DetailCode {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let code = rec.text(self.code);
        let detail = rec.text(self.detail);
        let Some(stype) = ServiceTypeCode::of_service_code(code) else {
            return;
        };
        if !codes::is_equipment_rental(stype.as_str()) {
            if !detail.is_empty() {
                out.sink.push(
                    rec.finding(RuleId::EqpDetailOnOtherService, self.detail)
                        .value(detail)
                        .arg("code", stype),
                );
            }
            return;
        }
        if !self.has_items {
            return;
        }
        let Some(user) = key_of(rec, &self.user) else {
            return;
        };
        let units = rec.text(self.units);
        let item = self
            .item
            .iter()
            .map(|&c| rec.text(c))
            .collect::<Vec<_>>()
            .join("\u{1f}");
        if [code, units, detail, item.as_str()]
            .iter()
            .any(|v| v.len() > MAX_ITEM_BYTES)
        {
            return;
        }
        let at = self
            .detail
            .0
            .map(|i| rec.raw.field_start(i).into())
            .unwrap_or_else(|| rec.raw.start.into());
        let office = rec.text(self.office);
        if office.len() > MAX_ITEM_BYTES {
            return;
        }
        let key = (
            format!("{user}|{office}"),
            code.to_owned(),
            units.to_owned(),
        );
        let group = self.groups.entry(key).or_insert_with(|| Group {
            user,
            service: code.to_owned(),
            units: units.to_owned(),
            first: at,
            record: rec.raw.number,
            items: BTreeMap::new(),
        });
        group
            .items
            .entry(item)
            .or_default()
            .insert(detail.to_owned());
    }

    fn finish(&mut self, file: &FileContext, out: &mut Out) {
        self.detail_no = self.detail.0.map(|i| {
            let c = &file.view.columns[i];
            (c.no, file.view.layout.name.as_str(), c.column.no)
        });
        for g in std::mem::take(&mut self.groups).into_values() {
            if g.items.len() < 2 {
                continue;
            }
            // Each item carries one code, and no two items share one.
            let mut per_item: Vec<Option<&String>> = Vec::new();
            let mut ok = true;
            for codes in g.items.values() {
                let c = if codes.len() == 1 {
                    codes.first()
                } else {
                    None
                };
                if c.is_none_or(|c| c.is_empty()) {
                    ok = false;
                }
                per_item.push(c);
            }
            let distinct: BTreeSet<&String> = per_item.iter().flatten().copied().collect();
            if distinct.len() < per_item.len() {
                ok = false;
            }
            let shown = per_item
                .iter()
                .map(|c| c.map_or("?", |c| if c.is_empty() { "空" } else { c.as_str() }))
                .collect::<Vec<_>>()
                .join(", ");
            if !ok {
                out.sink.push(
                    self.finding(RuleId::EqpDetailNumbering, &g)
                        .arg("count", g.items.len())
                        .arg("detail", shown),
                );
                continue;
            }
            let mut numbers: Vec<u32> = distinct.iter().filter_map(|c| c.parse().ok()).collect();
            numbers.sort_unstable();
            let expected: Vec<u32> = (1..=per_item.len() as u32).collect();
            if numbers != expected {
                out.sink.push(
                    self.finding(RuleId::EqpDetailSequence, &g)
                        .arg("found", shown)
                        .arg(
                            "expected",
                            expected
                                .iter()
                                .map(u32::to_string)
                                .collect::<Vec<_>>()
                                .join(", "),
                        ),
                );
            }
        }
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::*;
    let mut out = super::cover(&[UpPlan, UpJsk], &["明細判別コード"], FAMILY.rules);
    out.extend(super::cover(
        &[UpPlan, UpJsk],
        &[
            "TAISコード",
            "福祉用具届出コード",
            "用具名称（機種名）",
            "単位数",
            "サービスコード",
        ],
        &[RuleId::EqpDetailNumbering],
    ));
    out
}
