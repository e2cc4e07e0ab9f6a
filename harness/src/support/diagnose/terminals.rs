//! An item taken by another terminal (first-lister-wins, seed 000 §e 注意点; D-HUB-RECEIVE), from a
//! `cpkit trace export` bundle: the first terminal whose inbox listing returned a send took it;
//! another terminal of the same office that listed afterwards and did not get it is the symptom.
//! Sends the exchange refused in the trace are evidence of the cause their code names.

use std::collections::BTreeSet;

use super::causes::cause_of_code;
use super::trace::{listed, refused_send};
use super::{Context, Hit};

fn sha256_hex(bytes: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, bytes)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    let Some(t) = ctx.trace else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // The sends these files travelled in (all sends when no file is given).
    let hashes: BTreeSet<String> = ctx.inputs.iter().map(|f| sha256_hex(&f.bytes)).collect();
    let names: BTreeSet<&str> = ctx.inputs.iter().map(|f| f.name.as_str()).collect();
    let relevant: Vec<&careplan_mock_server::store::SendEntry> = t
        .sends
        .iter()
        .filter(|s| {
            ctx.inputs.is_empty()
                || s.files
                    .iter()
                    .any(|f| hashes.contains(&f.sha256) || names.contains(f.name.as_str()))
        })
        .collect();
    for s in relevant {
        let Some((claim_line, claim)) = t.audit.iter().find(|(_, r)| {
            r.office.as_deref() == Some(s.to_office.as_str())
                && listed(r).is_some_and(|items| items.contains(&s.id))
        }) else {
            continue;
        };
        let taker = claim.terminal.clone().unwrap_or_default();
        let mut missed = BTreeSet::new();
        for (line, r) in &t.audit {
            if r.at_ms < claim.at_ms
                || r.office.as_deref() != Some(s.to_office.as_str())
                || r.terminal.as_deref() == Some(taker.as_str())
            {
                continue;
            }
            let Some(items) = listed(r) else { continue };
            let other = r.terminal.clone().unwrap_or_default();
            if !items.contains(&s.id) && missed.insert(other.clone()) {
                out.push(
                    Hit::new(
                        "item-taken-by-terminal",
                        Some(t.at(*line)),
                        Some("first-lister-wins".to_owned()),
                        format!(
                            "terminal {other} of office {} listed its inbox and did not get send {} ({}): terminal {taker} had listed it first ({})",
                            s.to_office,
                            s.id,
                            s.files.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", "),
                            t.at(*claim_line)
                        ),
                    )
                    .strength(40),
                );
            }
        }
    }
    for (line, r) in &t.audit {
        let Some((code, en)) = refused_send(r) else {
            continue;
        };
        let cause = if code == "FILE_NAME_FORMAT" {
            Some(if en.contains("predates V4.1") {
                "v41-names-old-client"
            } else {
                "unit-combination"
            })
        } else {
            cause_of_code(&code).map(|c| c.id.as_str())
        };
        if let Some(c) = cause {
            out.push(
                Hit::new(
                    c,
                    Some(t.at(*line)),
                    Some(code.clone()),
                    format!(
                        "office {} terminal {}: {} refused: {en}",
                        r.office.as_deref().unwrap_or("?"),
                        r.terminal.as_deref().unwrap_or("?"),
                        r.action
                    ),
                )
                .strength(30),
            );
        }
    }
    out
}
