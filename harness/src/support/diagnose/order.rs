//! Import order by ファイル連番 (S4 §2.5) and deletions that arrive before their upload: units to one
//! receiver that touch the same user key (保険者番号, 被保険者番号, month or plan date — the first three
//! key columns of `send_units.toml`) within one deletion family (`[deletes]` of
//! `import_rules.toml`: a deletion and the kinds it removes).

use std::collections::BTreeMap;

use careplan_spec::{FileKind, FileName, layout, units};

use super::{Context, Hit, records};
use crate::software::rules::rules;

/// The deletion kind whose family a kind belongs to.
fn family(kind: FileKind) -> Option<FileKind> {
    if rules().deletes.contains_key(&kind) {
        return Some(kind);
    }
    rules()
        .deletes
        .iter()
        .find(|(_, d)| d.removes.contains(&kind))
        .map(|(k, _)| *k)
}

struct Touch {
    unit: usize,
    serial: String,
    kind: FileKind,
    file: String,
    name: String,
    line: u32,
}

pub fn detect(ctx: &Context<'_>) -> Vec<Hit> {
    // (receiver, sender, the service types of the names, family, key) → the units touching it.
    type Group = (String, String, String, FileKind, Vec<String>);
    let mut groups: BTreeMap<Group, Vec<Touch>> = BTreeMap::new();
    for (ui, u, _) in ctx.units() {
        for &f in &u.inputs {
            let input = &ctx.inputs[f];
            let Ok(name) = FileName::parse(&input.name) else {
                continue;
            };
            let Some(fam) = family(name.kind) else {
                continue;
            };
            let Some(view) = layout::view(name.kind, name.shape) else {
                continue;
            };
            let cols: Vec<usize> = units::key_columns(name.kind.prefix())
                .iter()
                .take(3)
                .filter_map(|c| view.col(c))
                .collect();
            if cols.len() < 3 {
                continue;
            }
            let mut seen = std::collections::BTreeSet::new();
            for row in records(input) {
                let (line, v) = (row.line, row.values);
                if v.len() != view.len() {
                    continue;
                }
                let key: Vec<String> = cols.iter().map(|&c| v[c].clone()).collect();
                if !seen.insert(key.clone()) {
                    continue;
                }
                let types = format!(
                    "{}>{}",
                    u.sender_type.clone().unwrap_or_default(),
                    u.receiver_type.clone().unwrap_or_default()
                );
                groups
                    .entry((u.receiver.clone(), u.sender.clone(), types, fam, key))
                    .or_default()
                    .push(Touch {
                        unit: ui,
                        serial: u.serial.clone(),
                        kind: name.kind,
                        file: input.path.clone(),
                        name: input.name.clone(),
                        line,
                    });
            }
        }
    }
    let mut out = Vec::new();
    for ((receiver, _, _, _, key), mut touches) in groups {
        touches.sort_by(|a, b| a.serial.cmp(&b.serial).then(a.name.cmp(&b.name)));
        let mut unit_ids: Vec<usize> = touches.iter().map(|t| t.unit).collect();
        unit_ids.dedup();
        // Order matters when an upload is involved (two deletions of one key end the same way).
        if unit_ids.len() < 2 || touches.iter().all(|t| t.kind.is_deletion()) {
            continue;
        }
        let user = key.get(..2).map(|k| k.join("/")).unwrap_or_default();
        let when = key.get(2).cloned().unwrap_or_default();
        // A deletion with no earlier upload of what it removes, but a later one.
        for d in touches.iter().filter(|t| t.kind.is_deletion()) {
            let removes = &rules().deletes[&d.kind].removes;
            let earlier = touches
                .iter()
                .any(|t| removes.contains(&t.kind) && t.serial < d.serial);
            let later = touches
                .iter()
                .find(|t| removes.contains(&t.kind) && t.serial > d.serial);
            if let (false, Some(l)) = (earlier, later) {
                out.push(
                    Hit::new(
                        "delete-before-upload",
                        Some(format!("{}:{}:1", d.file, d.line)),
                        None,
                        format!(
                            "{} (連番 {}) deletes user {user} {when} for {receiver}, but the {} it would delete comes later (連番 {}, {}): processed in 連番 order the deletion finds nothing and the upload stays",
                            d.kind, d.serial, l.kind, l.serial, l.file
                        ),
                    )
                    .strength(25),
                );
            }
        }
        // Name order against 連番 order.
        let mut by_name: Vec<&Touch> = touches.iter().collect();
        by_name.sort_by(|a, b| a.name.cmp(&b.name));
        let serial_order: Vec<usize> = {
            let mut v: Vec<usize> = touches.iter().map(|t| t.unit).collect();
            v.dedup();
            v
        };
        let name_order: Vec<usize> = {
            let mut v: Vec<usize> = Vec::new();
            for t in by_name {
                if !v.contains(&t.unit) {
                    v.push(t.unit);
                }
            }
            v
        };
        if serial_order != name_order || ctx.text_points_to("import-order") {
            let list = serial_order
                .iter()
                .map(|&u| {
                    let t = touches
                        .iter()
                        .find(|t| t.unit == u)
                        .expect("a touch per unit");
                    format!("{} (連番 {})", t.name, t.serial)
                })
                .collect::<Vec<_>>()
                .join(" then ");
            out.push(
                Hit::new(
                    "import-order",
                    Some(format!("{}:{}:1", touches[0].file, touches[0].line)),
                    None,
                    format!(
                        "user {user} {when} for {receiver} is carried by several units, to be imported {list}{}",
                        if serial_order != name_order {
                            "; in file-name order they would be imported the other way round"
                        } else {
                            ""
                        }
                    ),
                )
                .strength(if serial_order != name_order { 20 } else { 5 }),
            );
        }
    }
    out
}
