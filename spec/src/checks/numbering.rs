//! Numbered hierarchies of plan rows (`data/numbering.toml`): 第2表's 課題／援助目標／援助内容 and the
//! 介護予防 別表's 課題／支援計画／利用サービス. A later row may leave an upper number empty (it is
//! carried forward, as the 配置例 prints it); a full set of numbers stands once per plan.

use std::collections::HashMap;
use std::sync::OnceLock;

use serde::Deserialize;

use crate::kind::FileKind;
use crate::rules::RuleId;
use crate::unitdef::key_columns;

use super::{Check, Col, Family, FileContext, Hook, Out, Record, key_cols, key_of};

pub static FAMILY: Family = Family {
    id: "numbering",
    summary: "numbered plan rows (2表, 予防 別表): each full set of numbers once per plan",
    rules: &[RuleId::PlnDuplicateNumber, RuleId::PlnDuplicateYoboNumber],
    hooks: &[Hook::Records {
        applies: |ctx| hierarchy(ctx.kind).is_some(),
        new: |ctx| Box::new(Numbering::new(ctx)),
    }],
    covers,
};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Hierarchy {
    kind: FileKind,
    levels: [String; 3],
    rule: String,
    #[expect(
        dead_code,
        reason = "cited in the data file, read by tests and readers"
    )]
    src: String,
}

#[derive(Deserialize)]
struct NumberingFile {
    numbering: Vec<Hierarchy>,
}

fn hierarchies() -> &'static [(Hierarchy, RuleId)] {
    static DATA: OnceLock<Vec<(Hierarchy, RuleId)>> = OnceLock::new();
    DATA.get_or_init(|| {
        let file: NumberingFile = toml::from_str(include_str!("../../data/numbering.toml"))
            .unwrap_or_else(|e| {
                panic!("spec/data/numbering.toml is invalid (a build-time data error): {e}")
            });
        file.numbering
            .into_iter()
            .map(|h| {
                let rule = RuleId::from_id(&h.rule)
                    .unwrap_or_else(|| panic!("spec/data/numbering.toml: unknown rule {}", h.rule));
                (h, rule)
            })
            .collect()
    })
}

fn hierarchy(kind: FileKind) -> Option<&'static (Hierarchy, RuleId)> {
    hierarchies().iter().find(|(h, _)| h.kind == kind)
}

/// The numbers seen in one plan: (upper, middle, item) → first line, and the upper numbers
/// carried forward to rows that leave them empty (`None`: a value too long to be a number).
struct Plan {
    seen: HashMap<(String, String, String), u32>,
    upper: Option<String>,
    middle: Option<String>,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            seen: HashMap::new(),
            upper: Some(String::new()),
            middle: Some(String::new()),
        }
    }
}

struct Numbering {
    rule: RuleId,
    plan: Vec<Col>,
    levels: [Col; 3],
    plans: HashMap<String, Plan>,
}

/// Longest number kept (the numbers have 2 digits; longer values are format findings already).
const MAX_NUMBER_BYTES: usize = 32;

impl Numbering {
    fn new(ctx: &FileContext) -> Self {
        let (h, rule) = hierarchy(ctx.kind).expect("applies only to kinds with a hierarchy");
        Self {
            rule: *rule,
            plan: key_cols(ctx, key_columns(ctx.kind.prefix())),
            levels: [
                ctx.col(&h.levels[0]),
                ctx.col(&h.levels[1]),
                ctx.col(&h.levels[2]),
            ],
            plans: HashMap::new(),
        }
    }
}

impl Check for Numbering {
    fn record(&mut self, rec: &Record, out: &mut Out) {
        let Some(plan) = key_of(rec, &self.plan) else {
            return;
        };
        let [upper, middle, item] = self.levels.map(|c| rec.text(c));
        let entry = self.plans.entry(plan.clone()).or_default();
        // Later rows of one upper level may leave its number empty (L4 L1438-1443): carry it
        // forward. A value too long to be a number is kept as "no number".
        let keep = |v: &str| (v.len() <= MAX_NUMBER_BYTES).then(|| v.to_owned());
        if !upper.is_empty() {
            entry.upper = keep(upper);
        }
        if !middle.is_empty() {
            entry.middle = keep(middle);
        }
        let (Some(u), Some(m)) = (&entry.upper, &entry.middle) else {
            return;
        };
        if item.is_empty() || item.len() > MAX_NUMBER_BYTES {
            return;
        }
        let triple = (u.clone(), m.clone(), item.to_owned());
        if let Some(&first) = entry.seen.get(&triple) {
            out.sink.push(
                rec.finding(self.rule, self.levels[2])
                    .arg("plan", &plan)
                    .arg("issue", &triple.0)
                    .arg("goal", &triple.1)
                    .arg("item", &triple.2)
                    .arg("first_line", first),
            );
        } else {
            entry.seen.insert(triple, rec.line());
        }
    }
}

fn covers() -> Vec<super::Cover> {
    hierarchies()
        .iter()
        .flat_map(|(h, rule)| {
            let levels: Vec<&str> = h.levels.iter().map(String::as_str).collect();
            super::cover(&[h.kind], &levels, &[*rule])
        })
        .collect()
}
