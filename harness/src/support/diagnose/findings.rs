//! Causes shown by the spec core's findings: every rule a cause lists in
//! `support_causes.toml` is evidence of that cause (wrong CSVバージョン, encoding, quoting, units,
//! names, own office, sizes); other errors and warnings are evidence of `other-errors`. A finding whose rule the
//! named receiver cites in its refusal is confirmed.

use careplan_spec::Severity;

use super::causes::{cause, cause_of_rule};
use super::{Context, Hit};

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    let refused_for: Vec<String> = ctx
        .matrix
        .chosen()
        .map(|r| {
            r.cells
                .iter()
                .flat_map(|c| c.import.rules.iter().cloned())
                .collect()
        })
        .unwrap_or_default();
    let mut out = Vec::new();
    for (at, f) in ctx.validated.located() {
        if f.severity < Severity::Warning {
            continue;
        }
        let id = f.rule.id();
        let Some(owner) = cause_of_rule(id).or_else(|| cause("other-errors")) else {
            continue;
        };
        let mut text = format!("{} / {}", f.message_ja(), f.message_en());
        if let Some(v) = &f.value {
            text.push_str(&format!(" — value {}", super::super::diff::show(v)));
        }
        out.push(
            Hit::new(
                // The table's ids live as long as the program.
                owner.id.as_str(),
                Some(at),
                Some(id.to_owned()),
                text,
            )
            .strength(if f.severity == Severity::Error { 20 } else { 5 })
            .confirmed(refused_for.iter().any(|r| r == id)),
        );
    }
    out
}
