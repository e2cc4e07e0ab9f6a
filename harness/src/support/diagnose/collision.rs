//! The same-office-number multi-service collision (seed 000 §e, the デイ/ヘルプ case): a 6表 for an
//! office whose records name two or more of its service types. V3 names carry no service type, so
//! a receiver that keys by office number sees one user-month where there are two services, and a
//! 差し替え of one discards the other's 実績. Evidence: the records of each service, and the
//! matrix's collision probe (which products lose the other service's 実績).

use std::collections::BTreeMap;

use careplan_spec::{FileKind, FileName, layout};

use super::matrix::Verdict;
use super::{Context, Hit, records};
use crate::software::rules::rules;

const ID: &str = "same-office-multi-service";

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    let Some(p) = rules().provider.get(&FileKind::UpPlan) else {
        return out;
    };
    let Some(code_col) = p.service_code.as_ref() else {
        return out;
    };
    for (i, u, name) in ctx.units() {
        if u.unit.as_deref() != Some("kyotaku-riyohyo") {
            continue;
        }
        let Some(name) = name else { continue };
        let Some(&plan) = u.inputs.iter().find(|&&f| {
            FileName::parse(&ctx.inputs[f].name).is_ok_and(|n| n.kind == FileKind::UpPlan)
        }) else {
            continue;
        };
        let Some(view) = layout::view(FileKind::UpPlan, name.shape) else {
            continue;
        };
        let (Some(office), Some(code)) = (view.col(&p.office), view.col(code_col)) else {
            continue;
        };
        let input = &ctx.inputs[plan];
        // Per service type: where its first サービスコード is, and how many records it has.
        let mut types: BTreeMap<String, ((u32, u32), usize)> = BTreeMap::new();
        for row in records(input) {
            if row.values.len() != view.len() || row.values[office] != u.receiver {
                continue;
            }
            if let Some(t) = row.values[code].get(..2) {
                let e = types.entry(t.to_owned()).or_insert((row.at[code], 0));
                e.1 += 1;
            }
        }
        if types.len() < 2 {
            continue;
        }
        let lost: Vec<(&str, &str, bool)> = ctx
            .matrix
            .rows
            .iter()
            .filter_map(|r| {
                r.cells[i]
                    .follow
                    .iter()
                    .find(|f| f.what == "collision" && f.outcome.verdict == Verdict::Lost)
                    .map(|f| (r.software.as_str(), f.outcome.text.as_str(), r.chosen))
            })
            .collect();
        let chosen_lost = lost.iter().any(|(_, _, c)| *c);
        let v3 = !name.shape.is_v4();
        if !(v3 || chosen_lost || ctx.text_points_to(ID)) {
            continue;
        }
        let list = types
            .iter()
            .map(|(t, ((line, _), n))| format!("{t} ({n} records from line {line})"))
            .collect::<Vec<_>>()
            .join(", ");
        // Point at the first record of the second service.
        let ((line, column), _) = types.values().nth(1).copied().unwrap_or(((1, 1), 0));
        out.push(
            Hit::new(
                ID,
                Some(format!("{}:{line}:{column}", input.path)),
                None,
                format!(
                    "No.{} {code_col}: the 6表 for office {} holds services {list} under one office number{}",
                    view.columns[code].no,
                    u.receiver,
                    if v3 {
                        "; its V3 name carries no service type, so the receiver cannot tell them apart by name"
                    } else {
                        ""
                    }
                ),
            )
            .strength(if v3 { 30 } else { 10 }),
        );
        for (software, text, chosen) in lost {
            out.push(
                Hit::new(
                    ID,
                    Some(format!("unit {}", u.serial)),
                    None,
                    format!("{software}: {text}"),
                )
                .strength(10)
                .confirmed(chosen),
            );
        }
    }
    out
}
