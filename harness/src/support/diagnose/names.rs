//! Name shape against what the other side can take: V4.0/V4.1 names given to software that reads
//! V3 only (the receiver refuses them without a rule of the standard), and V4.1 names sent by an
//! exchange client older than the version that knows them (the exchange refuses them with
//! 「添付ファイル名の形式に誤りがあります…」, seed 000 §g). V4 names are normal: these are causes only
//! when the named receiver shows it, or a pasted error text points to them.

use careplan_spec::FileName;

use super::matrix::{Product, Verdict};
use super::{Context, Hit};

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    let mut out = Vec::new();
    let v4_units: Vec<(usize, String)> = ctx
        .units()
        .filter_map(|(i, u, n)| {
            n.filter(|n| n.shape.is_v4())
                .map(|n| (i, format!("unit {} ({} names)", u.serial, n.shape)))
        })
        .collect();
    if v4_units.is_empty() {
        return out;
    }

    // V3 readers.
    let wanted = ctx.text_points_to("v41-names-v3-reader");
    for ((product, chosen), row) in ctx.products.iter().zip(&ctx.matrix.rows) {
        let v3_only = match product {
            Product::Persona(p) => !p.reads.iter().any(|v| v.is_v4()),
            // A SUT that refuses V4 units without naming a rule of the standard.
            Product::Sut(_) => v4_units.iter().any(|(i, _)| {
                let c = &row.cells[*i].import;
                c.verdict == Verdict::Refused && c.rules.is_empty()
            }),
        };
        if !v3_only || !(*chosen || wanted) {
            continue;
        }
        for (i, files) in &v4_units {
            let cell = &row.cells[*i].import;
            if cell.verdict != Verdict::Refused {
                continue;
            }
            out.push(
                Hit::new(
                    "v41-names-v3-reader",
                    Some(files.clone()),
                    None,
                    format!("{} refuses them: {}", row.software, cell.text),
                )
                // The named receiver's refusal weighs; other V3 products are what-ifs.
                .strength(if *chosen { 20 } else { 5 })
                .confirmed(*chosen),
            );
        }
    }

    // Old clients: the exchange refuses the send from an old client and accepts it from a
    // current one. The named receiver does not send these files, so only a pasted text or the
    // trace points here.
    let wanted = ctx.text_points_to("v41-names-old-client")
        || ctx.trace.is_some_and(|t| {
            t.audit.iter().any(|(_, r)| {
                super::trace::refused_send(r).is_some_and(|(_, en)| en.contains("predates V4.1"))
            })
        });
    if wanted {
        for (i, _) in &v4_units {
            let u = &ctx.matrix.units[*i];
            let is_v41 = FileName::parse(&u.files[0])
                .is_ok_and(|n| n.shape == careplan_spec::SpecVersion::V41);
            let mut accepted: Vec<&str> = Vec::new();
            let mut refused: Vec<String> = Vec::new();
            let mut answer = None;
            for r in &ctx.matrix.rows {
                let send = &r.cells[*i].send;
                match send.verdict {
                    Verdict::Ok if !accepted.contains(&r.client.as_str()) => {
                        accepted.push(r.client.as_str())
                    }
                    Verdict::Refused => {
                        refused.push(format!("{} (client {})", r.software, r.client));
                        answer.get_or_insert_with(|| {
                            (send.rules.first().cloned(), send.text.clone())
                        });
                    }
                    _ => {}
                }
            }
            if let (true, false, Some((code, text))) = (is_v41, accepted.is_empty(), answer) {
                out.push(
                    Hit::new(
                        "v41-names-old-client",
                        Some(format!("unit {} (V4.1 names)", u.serial)),
                        code,
                        format!(
                            "the exchange refuses the send from {}: {text}; from clients {} it accepts it",
                            refused.join(", "),
                            accepted.join(", ")
                        ),
                    )
                    .strength(30),
                );
            }
        }
    }
    out
}
