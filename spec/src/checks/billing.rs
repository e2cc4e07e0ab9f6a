//! The arithmetic of 第7表's amount columns (D-BILLING): a row's サービス単位金額 is its units times
//! its count; 費用総額 is 区分支給限度基準内単位数 × 単位数単価 rounded down to the yen; 保険／事業費請求額 is
//! 費用総額 × 給付率 / 100 rounded down; 利用者負担 is the difference; the 全合計 row sums the subtotal
//! rows (or the code rows of types without a subtotal). The form implies these; the standard does not
//! print them, so every finding is a warning, and a check runs only where its values are present.

use std::collections::BTreeMap;

use crate::codes::{self, SikyuSummary};
use crate::domain::ServiceTypeCode;
use crate::finding::{Finding, Location};
use crate::kind::FileKind;
use crate::rules::RuleId;

use super::{Check, Col, Family, FileContext, Hook, Out, Record, key_of};

pub static FAMILY: Family = Family {
    id: "billing",
    summary: "第7表 amounts: units × count, cost, claim and co-payment arithmetic, grand total sums",
    rules: &[
        RuleId::TotRowAmount,
        RuleId::TotGrandTotalSum,
        RuleId::TotBilling,
        RuleId::TotSubtotalSum,
    ],
    hooks: &[Hook::Records {
        applies: |ctx| ctx.kind == FileKind::UpSikyu,
        new: |ctx| Box::new(Billing::new(ctx)),
    }],
    covers,
};

/// The columns the 全合計 row sums.
const SUMMED: [&str; 6] = [
    "サービス単位金額",
    "給付管理単位数",
    "区分支給限度基準内単位数",
    "費用総額保険／事業対象分",
    "保険／事業費請求額",
    "利用者負担保険／事業対象分",
];

/// The columns a lone 区分支給限度対象 subtotal sums over its type's code rows.
const SUBTOTALLED: [usize; 2] = [0, 1];

/// Sums of one service type of one user: over its subtotal rows and over its code rows.
#[derive(Default)]
struct TypeSums {
    subtotals: [Option<i64>; SUMMED.len()],
    rows: [Option<i64>; SUMMED.len()],
    /// The subtotal rows seen: code and where its values stand.
    subtotal_rows: Vec<(String, [Option<Location>; SUMMED.len()], u32)>,
}

struct Billing {
    summary: &'static SikyuSummary,
    user: [Col; 2],
    code: Col,
    units: Col,
    discounted: Col,
    times: Col,
    amount: Col,
    within: Col,
    price: Col,
    cost: Col,
    rate: Col,
    claim: Col,
    copay: Col,
    summed: [Col; SUMMED.len()],
    /// user → service type → sums.
    users: BTreeMap<String, BTreeMap<ServiceTypeCode, TypeSums>>,
}

impl Billing {
    fn new(ctx: &FileContext) -> Self {
        Self {
            summary: codes::sikyu_summary(),
            user: [ctx.col("保険者番号"), ctx.col("被保険者番号")],
            code: ctx.col("サービスコード"),
            units: ctx.col("単位数"),
            discounted: ctx.col("割引後単位数"),
            times: ctx.col("回数／日数"),
            amount: ctx.col("サービス単位金額"),
            within: ctx.col("区分支給限度基準内単位数"),
            price: ctx.col("単位数単価"),
            cost: ctx.col("費用総額保険／事業対象分"),
            rate: ctx.col("給付率"),
            claim: ctx.col("保険／事業費請求額"),
            copay: ctx.col("利用者負担保険／事業対象分"),
            summed: SUMMED.map(|c| ctx.col(c)),
            users: BTreeMap::new(),
        }
    }
}

/// A non-negative whole number of at most 12 digits (larger values are findings of their own).
fn number(rec: &Record, col: Col) -> Option<i64> {
    let v = rec.get(col)?;
    if v.is_empty() || v.len() > 12 || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// 単位数単価 `99.99` in hundredths of a yen.
fn price_cents(rec: &Record, col: Col) -> Option<i64> {
    let v = rec.get(col)?;
    let (yen, cents) = v.split_once('.')?;
    if yen.is_empty()
        || cents.len() != 2
        || !yen.bytes().chain(cents.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    Some(yen.parse::<i64>().ok()? * 100 + cents.parse::<i64>().ok()?)
}

fn mismatch(rec: &Record, col: Col, value: i64, formula: String, expected: i64) -> Finding {
    rec.finding(RuleId::TotBilling, col)
        .value(value.to_string())
        .arg("formula", formula)
        .arg("expected", expected)
}

impl Billing {
    /// A type with one subtotal row (its 区分支給限度対象 subtotal): the subtotal's サービス単位金額 and
    /// 給付管理単位数 are the sums of the type's code rows (TOT012). With several subtotals (対象外,
    /// 30日超過) the split of the rows is not in the file, so nothing is judged.
    fn check_subtotals(&self, file: &FileContext, out: &mut Out) {
        for (user, types) in &self.users {
            for (stype, sums) in types {
                let [(code, at, record)] = sums.subtotal_rows.as_slice() else {
                    continue;
                };
                for i in SUBTOTALLED {
                    let (Some(value), Some(rows)) = (sums.subtotals[i], sums.rows[i]) else {
                        continue;
                    };
                    if value != rows {
                        let mut f = Finding::new(RuleId::TotSubtotalSum)
                            .record(*record)
                            .arg("code", code)
                            .arg("stype", stype)
                            .arg("user", user)
                            .arg("expected", rows);
                        if let Some(col) = self.summed[i].0 {
                            let c = &file.view.columns[col];
                            f = f
                                .field(c.no, c.name())
                                .row(&file.view.layout.name, c.column.no);
                        }
                        if let Some(at) = at[i] {
                            f = f.at(at);
                        }
                        out.sink.push(f.value(value.to_string()));
                    }
                }
            }
        }
    }
}

impl Check for Billing {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let code = rec.text(self.code);
        let grand = self.summary.is_grand_total(code);
        let subtotal = self.summary.subtotal(code);
        // A code row: サービス単位金額 = units × count.
        if !grand
            && subtotal.is_none()
            && let (Some(amount), Some(times)) = (number(rec, self.amount), number(rec, self.times))
        {
            let (units, which) = match number(rec, self.discounted) {
                Some(d) => (Some(d), "割引後単位数"),
                None => (number(rec, self.units), "単位数"),
            };
            if let Some(units) = units
                && units.saturating_mul(times) != amount
            {
                out.sink.push(
                    rec.finding(RuleId::TotRowAmount, self.amount)
                        .value(amount.to_string())
                        .arg("units", format!("{units} ({which})"))
                        .arg("times", times)
                        .arg("expected", units.saturating_mul(times)),
                );
            }
        }
        // Cost, claim and co-payment, on any row that carries them.
        let cost = number(rec, self.cost);
        if let (Some(cost), Some(within), Some(cents)) =
            (cost, number(rec, self.within), price_cents(rec, self.price))
        {
            let expected = within.saturating_mul(cents) / 100;
            if cost != expected {
                out.sink.push(mismatch(
                    rec,
                    self.cost,
                    cost,
                    format!("⌊{within} × {}⌋", rec.text(self.price)),
                    expected,
                ));
            }
        }
        let claim = number(rec, self.claim);
        if let (Some(cost), Some(claim), Some(rate)) = (cost, claim, number(rec, self.rate)) {
            let expected = cost.saturating_mul(rate) / 100;
            if claim != expected {
                out.sink.push(mismatch(
                    rec,
                    self.claim,
                    claim,
                    format!("⌊{cost} × {rate} / 100⌋"),
                    expected,
                ));
            }
        }
        if let (Some(cost), Some(claim), Some(copay)) = (cost, claim, number(rec, self.copay))
            && copay != cost - claim
        {
            out.sink.push(mismatch(
                rec,
                self.copay,
                copay,
                format!("{cost} − {claim}"),
                cost - claim,
            ));
        }
        // Sums for the 全合計.
        let Some(user) = key_of(rec, &self.user) else {
            return;
        };
        let values = self.summed.map(|c| number(rec, c));
        if grand {
            let empty: BTreeMap<ServiceTypeCode, TypeSums> = BTreeMap::new();
            let types = self.users.get(&user).unwrap_or(&empty);
            for (i, value) in values.iter().enumerate() {
                let Some(value) = *value else { continue };
                let mut sum = 0i64;
                let mut any = false;
                for t in types.values() {
                    let parts = if t.subtotals.iter().any(Option::is_some) {
                        &t.subtotals
                    } else {
                        &t.rows
                    };
                    if let Some(v) = parts[i] {
                        sum = sum.saturating_add(v);
                        any = true;
                    }
                }
                if any && sum != value {
                    out.sink.push(
                        rec.finding(RuleId::TotGrandTotalSum, self.summed[i])
                            .value(value.to_string())
                            .arg("expected", sum)
                            .arg("user", &user),
                    );
                }
            }
            return;
        }
        let Some(stype) = ServiceTypeCode::of_service_code(code) else {
            return;
        };
        let sums = self
            .users
            .entry(user)
            .or_default()
            .entry(stype)
            .or_default();
        if subtotal.is_some() {
            let at = self
                .summed
                .map(|c| c.0.map(|i| Location::from(rec.raw.field_start(i))));
            sums.subtotal_rows
                .push((code.to_owned(), at, rec.raw.number));
        }
        let target = if subtotal.is_some() {
            &mut sums.subtotals
        } else {
            &mut sums.rows
        };
        for (slot, v) in target.iter_mut().zip(values) {
            if let Some(v) = v {
                *slot = Some(slot.unwrap_or(0).saturating_add(v));
            }
        }
    }

    fn finish(&mut self, file: &FileContext, out: &mut Out) {
        self.check_subtotals(file, out);
        self.users.clear();
    }
}

fn covers() -> Vec<super::Cover> {
    use FileKind::UpSikyu;
    let mut out = super::cover(
        &[UpSikyu],
        &["単位数", "割引後単位数", "回数／日数", "サービス単位金額"],
        &[RuleId::TotRowAmount],
    );
    out.extend(super::cover(
        &[UpSikyu],
        &[
            "区分支給限度基準内単位数",
            "単位数単価",
            "費用総額保険／事業対象分",
            "給付率",
            "保険／事業費請求額",
            "利用者負担保険／事業対象分",
        ],
        &[RuleId::TotBilling],
    ));
    out.extend(super::cover(
        &[UpSikyu],
        &SUMMED,
        &[RuleId::TotGrandTotalSum],
    ));
    out.extend(super::cover(
        &[UpSikyu],
        &[SUMMED[0], SUMMED[1]],
        &[RuleId::TotSubtotalSum],
    ));
    out
}
