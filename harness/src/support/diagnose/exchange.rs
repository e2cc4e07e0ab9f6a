//! What the exchange refuses whatever the client: a unit whose names do not form a send unit, a
//! malformed name, one's own office, and the attachments found beside the files (zip, Word, Excel
//! …, sizes) — checked with the mock exchange's rules and default limits. The exchange's code names
//! the cause (`hub_codes` in `support_causes.toml`); its file-name error belongs to the name or unit
//! causes, depending on what the spec core found.

use careplan_mock_server::hub::Destination;

use super::causes::cause_of_code;
use super::{Context, Hit};

/// Offices the attachments are checked between when no unit names any.
pub const PLACEHOLDERS: [&str; 2] = ["0000000001", "0000000002"];

fn cause_for(code: &str, names_bad: bool) -> Option<&'static str> {
    if code == "FILE_NAME_FORMAT" {
        return Some(if names_bad {
            "name-malformed"
        } else {
            "unit-combination"
        });
    }
    cause_of_code(code).map(|c| c.id.as_str())
}

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    let Some(hub) = ctx.hub else {
        return Vec::new();
    };
    let current = hub.config().switches.v41_names_min_client.clone();
    let mut out = Vec::new();
    for (_, u, name) in ctx.units() {
        let Some(name) = name else { continue };
        let files: Vec<(&str, &[u8])> = u
            .inputs
            .iter()
            .map(|&i| (ctx.inputs[i].name.as_str(), ctx.inputs[i].bytes.as_slice()))
            .collect();
        if let Err(e) = hub.check(
            &u.sender,
            super::super::hub_check::destination(&name),
            &current,
            &files,
        ) {
            let names_bad = u.inputs.iter().any(|&i| {
                ctx.validated.reports[i]
                    .findings
                    .iter()
                    .any(|f| f.rule.id().starts_with("NAME"))
            });
            if let Some(c) = cause_for(e.code.as_str(), names_bad) {
                out.push(
                    Hit::new(
                        c,
                        Some(e.file.clone().unwrap_or_else(|| format!("unit {}", u.serial))),
                        Some(e.code.as_str().to_owned()),
                        format!(
                            "the exchange refuses this send even from a current client ({current}): {} / {}",
                            e.message_ja, e.message_en
                        ),
                    )
                    .strength(25),
                );
            }
        }
    }
    // Files named like the standard's (.csv, .jpg) outside any unit: their names do not parse.
    let in_units: std::collections::BTreeSet<usize> = ctx
        .matrix
        .units
        .iter()
        .flat_map(|u| u.inputs.clone())
        .collect();
    let loose: Vec<&super::super::inputs::Input> = ctx
        .inputs
        .iter()
        .enumerate()
        .filter(|(i, _)| !in_units.contains(i))
        .map(|(_, f)| f)
        .collect();
    // Attachments, each on its own (so that each refusal names its file), from the first unit's
    // sender to its receiver.
    let (from, to) = ctx
        .matrix
        .units
        .first()
        .map(|u| {
            (
                u.sender.clone(),
                Destination {
                    office: u.receiver.clone(),
                    service_type: u.receiver_type.clone(),
                },
            )
        })
        .unwrap_or_else(|| {
            (
                PLACEHOLDERS[0].to_owned(),
                Destination {
                    office: PLACEHOLDERS[1].to_owned(),
                    service_type: None,
                },
            )
        });
    for a in ctx.attachments.iter().chain(loose) {
        if let Err(e) = hub.check(&from, to.clone(), &current, &[(&a.name, &a.bytes)])
            && let Some(c) = cause_for(e.code.as_str(), true)
        {
            out.push(
                Hit::new(
                    c,
                    Some(a.path.clone()),
                    Some(e.code.as_str().to_owned()),
                    format!(
                        "the exchange refuses this file: {} / {}",
                        e.message_ja, e.message_en
                    ),
                )
                .strength(30),
            );
        }
    }
    out
}
