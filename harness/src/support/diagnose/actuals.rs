//! 実績 without a received 予定 (the ほのぼの rule, seed 000 §3): 実績 user-months for which the folder
//! holds no 6表 from the care manager to the provider, and the products that could not have written
//! such 実績 (the matrix's `write` follow-up).

use std::collections::BTreeSet;

use careplan_spec::{FileKind, FileName, layout, units};

use super::matrix::{Product, Verdict};
use super::{Context, Hit, records};

const ID: &str = "actuals-without-plan";

/// The first three key values (保険者番号, 被保険者番号, month) of a file's records, with lines.
fn keys(ctx: &Context<'_>, file: usize, kind: FileKind) -> Vec<(Vec<String>, u32)> {
    let input = &ctx.inputs[file];
    let Ok(name) = FileName::parse(&input.name) else {
        return Vec::new();
    };
    let Some(view) = layout::view(kind, name.shape) else {
        return Vec::new();
    };
    let cols: Vec<usize> = units::key_columns(kind.prefix())
        .iter()
        .take(3)
        .filter_map(|c| view.col(c))
        .collect();
    records(input)
        .into_iter()
        .filter(|r| r.values.len() == view.len())
        .map(|r| (cols.iter().map(|&c| r.values[c].clone()).collect(), r.line))
        .collect()
}

fn files_of(ctx: &Context<'_>, idx: &[usize], kind: FileKind) -> Vec<usize> {
    idx.iter()
        .copied()
        .filter(|&i| FileName::parse(&ctx.inputs[i].name).is_ok_and(|n| n.kind == kind))
        .collect()
}

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    // A folder of 実績 without their plans is ordinary (a care manager's inbox): it is evidence only
    // when the named product at the provider refuses to write them or a text points here.
    let named_refuses = ctx
        .products
        .iter()
        .zip(&ctx.matrix.rows)
        .any(|((p, chosen), r)| {
            *chosen
                && match p {
                    Product::Persona(p) => p.actuals_need_csv_plan,
                    Product::Sut(_) => true,
                }
                && r.cells.iter().any(|c| {
                    c.follow
                        .iter()
                        .any(|f| f.what == "write" && f.outcome.verdict == Verdict::Refused)
                })
        });
    let speculative = !(named_refuses || ctx.text_points_to(ID));
    for (i, u, _) in ctx.units() {
        if u.unit.as_deref() != Some("actuals") {
            continue;
        }
        let planned: BTreeSet<Vec<String>> = ctx
            .matrix
            .units
            .iter()
            .filter(|p| {
                p.unit.as_deref() == Some("kyotaku-riyohyo")
                    && p.sender == u.receiver
                    && p.receiver == u.sender
            })
            .flat_map(|p| files_of(ctx, &p.inputs, FileKind::UpPlan))
            .flat_map(|f| keys(ctx, f, FileKind::UpPlan))
            .map(|(k, _)| k)
            .collect();
        for f in files_of(ctx, &u.inputs, FileKind::UpJsk) {
            let mut seen = BTreeSet::new();
            for (key, line) in keys(ctx, f, FileKind::UpJsk) {
                if planned.contains(&key) || !seen.insert(key.clone()) {
                    continue;
                }
                out.push(
                    Hit::new(
                        ID,
                        Some(format!("{}:{line}:1", ctx.inputs[f].path)),
                        None,
                        format!(
                            "実績 for user {} month {} — the files hold no 予定 (6表 from {} to {}) for it",
                            key.get(..2).map(|k| k.join("/")).unwrap_or_default(),
                            key.get(2).cloned().unwrap_or_default(),
                            u.receiver,
                            u.sender
                        ),
                    )
                    .strength(5)
                    .speculative(speculative),
                );
            }
        }
        // Products that make 実績 CSV only from plans imported by CSV (and a SUT): their refusal to
        // write these 実績 is this cause; other refusals (a V3 writer losing V4 columns) are not.
        for ((product, _), r) in ctx.products.iter().zip(&ctx.matrix.rows) {
            let plan_bound = match product {
                Product::Persona(p) => p.actuals_need_csv_plan,
                Product::Sut(_) => true,
            };
            if !plan_bound {
                continue;
            }
            if let Some(w) = r.cells[i]
                .follow
                .iter()
                .find(|f| f.what == "write" && f.outcome.verdict == Verdict::Refused)
            {
                out.push(
                    Hit::new(
                        ID,
                        Some(format!("unit {}", u.serial)),
                        None,
                        format!("{} at the provider {}", r.software, w.outcome.text),
                    )
                    // Only the named product's refusal weighs: others are what-ifs.
                    .strength(if r.chosen { 15 } else { 0 })
                    .speculative(!r.chosen && speculative)
                    .confirmed(r.chosen),
                );
            }
        }
    }
    out
}
